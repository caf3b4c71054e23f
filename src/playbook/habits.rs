//! Unknown keys of resources and plays, every one of them, each answered with the keys valid
//! where it stands and, for Ansible's keywords, with play's form of them.

use std::collections::BTreeSet;

use crate::resources::{registry, Kind};
use crate::yaml::{self, Mapping, Value};

/// The keys of a play (the fields of `RawPlay`; a test checks they agree).
pub const PLAY_KEYS: &[&str] = &[
    "name",
    "hosts",
    "serial",
    "max_fail_percentage",
    "wait_for",
    "vars",
    "vars_files",
    "roles",
    "tags",
    "state",
    "gather",
];

/// Every key a resource entry may have: kind names, their keys and the common keys.
pub fn resource_keys() -> BTreeSet<&'static str> {
    let mut keys: BTreeSet<&'static str> = registry::COMMON_KEYS.iter().copied().collect();
    for k in registry::ALL {
        keys.insert(k.def().name);
        keys.extend(k.def().keys.iter().map(|k| k.name()));
    }
    keys
}

/// The keys an entry of `kind` may have: its name, its keys and the common keys.
fn kind_keys(kind: Kind) -> Vec<&'static str> {
    let def = kind.def();
    let mut keys = vec![def.name];
    keys.extend(def.keys.iter().map(|k| k.name()));
    keys.extend(registry::COMMON_KEYS.iter().copied());
    keys
}

/// Play's form of an Ansible keyword or module name written as a resource key.
fn ansible_resource_hint(key: &str) -> Option<&'static str> {
    Some(match key {
        "notify" | "listen" => {
            "Ansible's `notify` is written on the side that reacts here: `restart_on: [KEY]` \
             (or `reload_on:`) on the program or service, `on_change: [KEY]` on a command"
        }
        "with_items" | "with_list" | "with_flattened" => "Ansible's `with_items` is `loop:` here",
        "with_dict" => {
            "Ansible's `with_dict` is `loop: \"{{ X | dictsort }}\"` here, with `item[0]` and \
             `item[1]` for the key and the value"
        }
        "loop_control" => "`loop_control.loop_var` is `loop_var:` here",
        "become" => {
            "privilege is the inventory's: `become: true` on the host or group (or `-b`), not a \
             resource key"
        }
        "become_user" => {
            "a command runs as another user with `user: NAME`; files, folders and checkouts take \
             `owner: NAME`"
        }
        "include_tasks" | "import_tasks" => {
            "Ansible's `include_tasks`/`import_tasks` is `include: FILE` here (with `when:`, \
             `vars:` and `tags:`)"
        }
        "include_role" | "import_role" => "roles are listed in the play's `roles:`",
        "register" => {
            "a read-only command's output is a gathered value: `gather: {NAME: COMMAND}` on the \
             play (or `roles/R/gather.yml`); a command is guarded with `creates:` or `unless:`, \
             and reacts to a change with `on_change: [KEY]`"
        }
        "changed_when" => {
            "a command counts as a change when it runs: guard it with `creates:` or `unless:` \
             so that it runs only when needed, or make a read-only check of it with \
             `changed: false` (runs on every apply, never a change)"
        }
        "failed_when" => {
            "a command fails the host when it exits non-zero: put the condition in the command \
             (`grep -q … || exit 1`)"
        }
        "no_log" => "Ansible's `no_log: true` is `sensitive: true` here",
        "dest" | "path" => {
            "the path is the value of the kind's key here: `file: PATH`, \
                            `directory: PATH`, `link: PATH`"
        }
        "copy" => "Ansible's `copy` is `file: DEST` with `src:` (from files/) or `content:`",
        "shell" => "Ansible's `shell` is `command:` (run by `sh`)",
        "apt" | "yum" | "dnf" | "pip" => "packages are `package: NAME` (or a list of names)",
        "systemd" => "Ansible's `systemd` is `service: NAME`",
        "supervisorctl" => "supervisor programs are `program: NAME` with `command:`",
        _ => return None,
    })
}

/// Play's form of an Ansible keyword written as a play key.
fn ansible_play_hint(key: &str) -> Option<&'static str> {
    Some(match key {
        "tasks" | "pre_tasks" | "post_tasks" => "a play's resources are its `state:` list",
        "handlers" => {
            "play has no handlers: the program or service that restarts says so with \
             `restart_on: [KEY]`, a command with `on_change: [KEY]`"
        }
        "become" | "become_user" | "become_method" => {
            "privilege is the inventory's: `become: true` on the host or group (or `-b`)"
        }
        "remote_user" => "the login user is the inventory's `ssh_user` (or `-u`)",
        "gather_facts" => "facts are gathered in every host's one probe (`facts.*`)",
        "import_playbook" | "include" => "a playbook is run on its own: `play apply OTHER.yml`",
        _ => return None,
    })
}

/// The message of an unknown `key` among `valid` keys: a typo suggestion, the Ansible hint,
/// and the keys valid there.
pub(crate) fn message(key: &str, hint: Option<&str>, valid: &[&str], where_: &str) -> String {
    let mut m = format!("unknown key `{key}`");
    if let Some(s) = yaml::suggest(key, valid) {
        m += &format!(", did you mean `{s}`?");
    }
    if let Some(h) = hint {
        m += &format!(" ({h})");
    }
    m + &format!("; keys of {where_}: {}", valid.join(", "))
}

/// The message for keys of other kinds on an entry of `kind` (`foreign`: quoted keys).
pub fn foreign_keys(kind: Kind, foreign: &[String]) -> String {
    let (noun, verb) = if foreign.len() == 1 {
        ("key", "does")
    } else {
        ("keys", "do")
    };
    format!(
        "{noun} {} {verb} not apply to a {kind}; keys of a {kind}: {}",
        foreign.join(", "),
        kind_keys(kind).join(", ")
    )
}

/// The unknown keys of a resource mapping, removed from it, each with its message; the
/// mapping left is what play can read. `template: {src, dest}` (Ansible's module) is answered
/// too. The messages list the keys of the kind the rest of the entry names (all the kind
/// names when it names none or several).
pub fn take_unknown_resource_keys(m: &mut Mapping) -> Vec<(String, String)> {
    let known = resource_keys();
    let mut out = Vec::new();
    let mut unknown = Vec::new();
    for k in m.keys() {
        match k {
            Value::String(s) if !known.contains(s.as_str()) => unknown.push(s.clone()),
            _ => {}
        }
    }
    let mut template_module = false;
    if matches!(m.get("template"), Some(Value::Mapping(_))) {
        m.remove("template");
        template_module = true;
    }
    for k in &unknown {
        m.remove(k.as_str());
    }
    let kind =
        yaml::from_value::<super::RawResource>(std::path::Path::new(""), Value::Mapping(m.clone()))
            .ok()
            .and_then(|r| r.kind_name());
    let (valid, where_) = match kind {
        Some(k) => (kind_keys(k), format!("a {k}")),
        None => (
            registry::ALL.iter().map(|k| k.def().name).collect(),
            "a resource (one of them names its kind)".to_string(),
        ),
    };
    if template_module {
        out.push((
            "template".to_string(),
            "`template: {src, dest}` is Ansible's module: in play write `file: DEST` with \
             `template: SRC` (SRC from templates/)"
                .to_string(),
        ));
    }
    for k in unknown {
        let text = message(&k, ansible_resource_hint(&k), &valid, &where_);
        out.push((k, text));
    }
    out
}

/// The unknown keys of a play mapping, removed from it, each with its message.
pub fn take_unknown_play_keys(m: &mut Mapping) -> Vec<(String, String)> {
    let unknown: Vec<String> = m
        .keys()
        .filter_map(|k| match k {
            Value::String(s) if !PLAY_KEYS.contains(&s.as_str()) => Some(s.clone()),
            _ => None,
        })
        .collect();
    unknown
        .into_iter()
        .map(|k| {
            m.remove(k.as_str());
            let text = message(&k, ansible_play_hint(&k), PLAY_KEYS, "a play");
            (k, text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(y: &str) -> Mapping {
        match serde_yaml::from_str(y) {
            Ok(Value::Mapping(m)) => m,
            other => panic!("not a mapping: {other:?}"),
        }
    }

    #[test]
    fn every_unknown_key_is_answered_with_the_kinds_keys_and_ansible_hints() {
        let mut m = mapping(
            "{file: /a, content: x, notify: r, import_tasks: t.yml, with_items: [1], become_user: u, ownr: x}",
        );
        let found = take_unknown_resource_keys(&mut m);
        let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "notify",
                "import_tasks",
                "with_items",
                "become_user",
                "ownr"
            ]
        );
        let all: Vec<&str> = found.iter().map(|(_, m)| m.as_str()).collect();
        assert!(
            all[0].contains("restart_on: [KEY]") && all[0].contains("on_change"),
            "{}",
            all[0]
        );
        assert!(all[2].contains("`loop:`"), "{}", all[2]);
        assert!(all[3].contains("`user: NAME`"), "{}", all[3]);
        assert!(
            all[4].starts_with("unknown key `ownr`, did you mean `owner`?"),
            "{}",
            all[4]
        );
        // Only the keys of a file are listed.
        assert!(all[4].contains("keys of a file: file, "), "{}", all[4]);
        assert!(!all[4].contains("autorestart"), "{}", all[4]);
        assert_eq!(m.len(), 2, "what play reads is left");
    }

    #[test]
    fn ansibles_template_module_is_answered_and_play_keys_too() {
        let mut m = mapping("{template: {src: a.j2, dest: /etc/a}, mode: '0644'}");
        let found = take_unknown_resource_keys(&mut m);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].1.contains("`file: DEST` with `template: SRC`"),
            "{}",
            found[0].1
        );
        let mut p = mapping("{hosts: web, tasks: [], handlers: [], become: yes}");
        let found = take_unknown_play_keys(&mut p);
        let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["tasks", "handlers", "become"]);
        assert!(found[0].1.contains("`state:`"), "{}", found[0].1);
        assert!(
            found[1].1.contains("keys of a play: name, hosts"),
            "{}",
            found[1].1
        );
    }

    /// PLAY_KEYS are the fields of `RawPlay` (serde's list of expected fields).
    #[test]
    fn play_keys_are_the_raw_play_fields() {
        let err = serde_yaml::from_str::<super::super::RawPlay>("{hosts: x, zz_not_a_key: 1}")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        let listed = err.split_once("expected one of").map_or("", |(_, l)| l);
        let fields: BTreeSet<&str> = listed.split('`').skip(1).step_by(2).collect();
        assert_eq!(fields, PLAY_KEYS.iter().copied().collect::<BTreeSet<_>>());
    }
}
