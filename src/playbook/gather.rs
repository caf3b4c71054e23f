//! `gather:` — values read on the host by read-only commands, in the first probe (Ansible's
//! `register:` of a command that changes nothing).
//!
//! ```yaml
//! - hosts: web
//!   gather:
//!     ruby_version: cat /srv/app/.ruby-version          # a command
//!     app_head:                                         # or a mapping
//!       command: git rev-parse HEAD
//!       chdir: /srv/app
//!       user: app
//!       when: deploy_app
//!     tools:
//!       command: "command -v {{ item }}"
//!       loop: [node, npm]
//! ```
//!
//! A role declares its own in `roles/NAME/gather.yml` (the same mapping). Nothing is
//! templated here: [`crate::resolve::gather`] renders them with vars only (they run in the
//! same probe as the facts gathering) and binds Ansible's registered shape to each name.

use super::collect::is_identifier;
use crate::resources::Origin;
use crate::yaml::{self, Value};

/// The keys of a gather given as a mapping.
pub const GATHER_KEYS: &[&str] = &[
    "command", "find", "stat", "local", "chdir", "user", "loop", "loop_var", "when",
];

/// The keys of a `find:` gather (Ansible find's, aliases included).
pub const FIND_KEYS: &[&str] = &[
    "paths",
    "path",
    "name",
    "patterns",
    "pattern",
    "use_regex",
    "recurse",
    "file_type",
    "hidden",
    "excludes",
    "exclude",
];

/// What a gather reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Form {
    /// A read-only command line (`command:`).
    Command,
    /// Ansible's `find` (the mapping of [`FIND_KEYS`], templates rendered with vars).
    Find(Value),
    /// Ansible's `stat` of one path (a template).
    Stat(String),
}

/// One gathered value as declared.
#[derive(Debug, Clone, PartialEq)]
pub struct Gather {
    /// The var it binds.
    pub name: String,
    /// The command line (a template; empty for `find:` and `stat:`).
    pub command: String,
    /// What it reads: a command's output, a `find` or a `stat`.
    pub form: Form,
    /// Read by play on the controller when it resolves (`local: true`, Ansible's
    /// `delegate_to: localhost`), not on the host.
    pub local: bool,
    pub chdir: Option<String>,
    pub user: Option<String>,
    pub loop_: Option<Value>,
    /// The loop's var (`item` by default).
    pub loop_var: String,
    pub when: Option<Value>,
    /// Where it is declared (its name's position).
    pub origin: Origin,
}

/// A problem of a `gather:` mapping: where, and what.
pub type Problem = (Origin, String);

/// Play's form of an Ansible keyword written in a gather.
fn hint(key: &str) -> Option<&'static str> {
    Some(match key {
        "cmd" | "shell" => "the command line is `command:`",
        "become_user" => "a gather runs as another user with `user: NAME`",
        "with_items" | "with_list" => "Ansible's `with_items` is `loop:` here",
        "register" => "the gather's name (its key under `gather:`) is the var it binds",
        "changed_when" | "failed_when" | "ignore_errors" => {
            "a gather never changes anything and never fails the run: its `rc` says how the \
             command ended"
        }
        "args" => "`chdir:` is a key of the gather itself",
        _ => return None,
    })
}

/// Reads a `gather:` mapping at node path `path` of a file (`at(path)` places a node,
/// `at_key(path, key)` a key of the node at `path`). Every problem is returned, each gather
/// with one is left out.
pub fn parse(
    v: &Value,
    path: &str,
    at: &dyn Fn(&str) -> Origin,
    at_key: &dyn Fn(&str, &str) -> Origin,
) -> (Vec<Gather>, Vec<Problem>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let join = |a: &str, b: &str| {
        if a.is_empty() {
            b.to_string()
        } else {
            format!("{a}.{b}")
        }
    };
    let m = match v {
        Value::Null => return (out, problems),
        Value::Mapping(m) => m,
        other => {
            problems.push((
                at(path),
                format!(
                    "gather: expected a mapping of names to commands, found {}",
                    yaml::to_string(other).trim()
                ),
            ));
            return (out, problems);
        }
    };
    for (k, spec) in m {
        let Some(name) = k.as_str() else {
            problems.push((at(path), "gather: a name is a string".into()));
            continue;
        };
        let origin = at_key(path, name);
        if !is_identifier(name) {
            problems.push((
                origin,
                format!("gather: `{name}` is not a variable name (letters, digits and `_`)"),
            ));
            continue;
        }
        let here = join(path, name);
        let text = |key: &str, v: Option<&Value>, problems: &mut Vec<Problem>| match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) if key != "command" => Ok(Some(n.to_string())),
            Some(other) => {
                problems.push((
                    at(&join(&here, key)),
                    format!(
                        "gather `{name}`: {key}: expected a string, found {}",
                        yaml::to_string(other).trim()
                    ),
                ));
                Err(())
            }
        };
        let g = match spec {
            Value::String(c) => Some(Gather {
                name: name.to_string(),
                command: c.clone(),
                form: Form::Command,
                local: false,
                chdir: None,
                user: None,
                loop_: None,
                loop_var: "item".into(),
                when: None,
                origin: origin.clone(),
            }),
            Value::Mapping(sm) => {
                let mut bad = false;
                for key in sm.keys() {
                    let key = key.as_str().unwrap_or("?");
                    if !GATHER_KEYS.contains(&key) {
                        let msg = super::habits::message(key, hint(key), GATHER_KEYS, "a gather");
                        problems.push((at_key(&here, key), msg));
                        bad = true;
                    }
                }
                // The gather's own keys (a `command:` entry's `chdir`/`user` are another thing).
                let field = |k: &str| sm.get(k).filter(|v| !v.is_null());
                let command = text("command", field("command"), &mut problems);
                let chdir = text("chdir", field("chdir"), &mut problems);
                let user = text("user", field("user"), &mut problems);
                let loop_var = text("loop_var", field("loop_var"), &mut problems);
                match (command, chdir, user, loop_var) {
                    (Ok(command), Ok(chdir), Ok(user), Ok(loop_var)) if !bad => {
                        let loop_ = field("loop").cloned();
                        let mut ok = true;
                        let form = form_of(name, &here, sm, at, at_key, &mut problems);
                        ok &= form.is_ok();
                        let form = form.unwrap_or(Form::Command);
                        let local = match field("local") {
                            None => false,
                            Some(Value::Bool(b)) => *b,
                            Some(other) => {
                                problems.push((
                                    at(&join(&here, "local")),
                                    format!(
                                        "gather `{name}`: local: expected true or false, found {}",
                                        yaml::to_string(other).trim()
                                    ),
                                ));
                                ok = false;
                                false
                            }
                        };
                        if local && matches!(form, Form::Command) && command.is_some() {
                            problems.push((
                                at_key(&here, "local"),
                                format!(
                                    "gather `{name}`: `local: true` is for `find:` and `stat:` \
                                     (play runs no command on the controller)"
                                ),
                            ));
                            ok = false;
                        }
                        if command.is_none() && matches!(form, Form::Command) && ok {
                            problems.push((
                                origin.clone(),
                                format!(
                                    "gather `{name}`: `command:` is missing (or `find:`, `stat:`)"
                                ),
                            ));
                            ok = false;
                        }
                        if let Some(lv) = &loop_var {
                            if !is_identifier(lv) {
                                problems.push((
                                    at(&join(&here, "loop_var")),
                                    format!(
                                        "gather `{name}`: loop_var: `{lv}` is not a variable name"
                                    ),
                                ));
                                ok = false;
                            } else if loop_.is_none() {
                                problems.push((
                                    at_key(&here, "loop_var"),
                                    format!("gather `{name}`: `loop_var` without `loop`"),
                                ));
                                ok = false;
                            }
                        }
                        ok.then(|| Gather {
                            name: name.to_string(),
                            command: command.unwrap_or_default(),
                            form,
                            local,
                            chdir,
                            user,
                            loop_,
                            loop_var: loop_var.unwrap_or_else(|| "item".into()),
                            when: field("when").cloned(),
                            origin: origin.clone(),
                        })
                    }
                    _ => None,
                }
            }
            other => {
                problems.push((
                    at(&here),
                    format!(
                        "gather `{name}`: expected a command or a mapping with `command:`, found {}",
                        yaml::to_string(other).trim()
                    ),
                ));
                None
            }
        };
        if let Some(g) = g {
            if g.command.trim().is_empty() && matches!(g.form, Form::Command) {
                problems.push((g.origin, format!("gather `{name}`: an empty command")));
            } else {
                out.push(g);
            }
        }
    }
    (out, problems)
}

/// The form of a gather given as a mapping: at most one of `command:`, `find:` (a mapping of
/// [`FIND_KEYS`]) and `stat:` (a path); an Ansible find option play does not have is a located
/// error saying so.
fn form_of(
    name: &str,
    here: &str,
    sm: &yaml::Mapping,
    at: &dyn Fn(&str) -> Origin,
    at_key: &dyn Fn(&str, &str) -> Origin,
    problems: &mut Vec<Problem>,
) -> Result<Form, ()> {
    let field = |k: &str| sm.get(k).filter(|v| !v.is_null());
    let given: Vec<&str> = ["command", "find", "stat"]
        .into_iter()
        .filter(|k| field(k).is_some())
        .collect();
    if given.len() > 1 {
        problems.push((
            at_key(here, given[1]),
            format!(
                "gather `{name}`: `{}` and `{}` together: a gather reads one thing",
                given[0], given[1]
            ),
        ));
        return Err(());
    }
    let sub = format!("{here}.find");
    match (field("find"), field("stat")) {
        (Some(Value::Mapping(f)), _) => {
            let mut ok = true;
            for k in f.keys() {
                let k = k.as_str().unwrap_or("?");
                if !FIND_KEYS.contains(&k) {
                    problems.push((
                        at_key(&sub, k),
                        format!(
                            "gather `{name}`: find: `{k}` is not supported (play's find has {})",
                            FIND_KEYS.join(", ")
                        ),
                    ));
                    ok = false;
                }
            }
            if !["paths", "path", "name"].iter().any(|k| f.contains_key(*k)) {
                problems.push((
                    at_key(here, "find"),
                    format!("gather `{name}`: find: `paths:` is missing"),
                ));
                ok = false;
            }
            ok.then(|| Form::Find(Value::Mapping(f.clone()))).ok_or(())
        }
        (Some(other), _) => {
            problems.push((
                at(&sub),
                format!(
                    "gather `{name}`: find: expected a mapping (paths, patterns…), found {}",
                    yaml::to_string(other).trim()
                ),
            ));
            Err(())
        }
        (None, Some(Value::String(p))) => Ok(Form::Stat(p.clone())),
        (None, Some(other)) => {
            problems.push((
                at(&format!("{here}.stat")),
                format!(
                    "gather `{name}`: stat: expected a path, found {}",
                    yaml::to_string(other).trim()
                ),
            ));
            Err(())
        }
        (None, None) => Ok(Form::Command),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(p: &str) -> Origin {
        Origin {
            file: format!("node:{p}"),
            line: 1,
            column: 1,
        }
    }
    fn at_key(p: &str, k: &str) -> Origin {
        Origin {
            file: format!("key:{p}.{k}"),
            line: 1,
            column: 1,
        }
    }
    fn parsed(y: &str) -> (Vec<Gather>, Vec<String>) {
        let v: Value = serde_yaml::from_str(y).expect("yaml");
        let (g, p) = parse(&v, "0.gather", &at, &at_key);
        (
            g,
            p.into_iter()
                .map(|(o, m)| format!("{} {m}", o.file))
                .collect(),
        )
    }

    #[test]
    fn forms_of_a_gather() {
        let (g, p) = parsed(
            "a: cat /x\nb: {command: 'ls {{ item }}', loop: [1, 2], loop_var: n, chdir: /srv, user: app, when: x}\n",
        );
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(g.len(), 2);
        assert_eq!((g[0].name.as_str(), g[0].command.as_str()), ("a", "cat /x"));
        assert_eq!(g[0].loop_var, "item");
        assert_eq!(g[1].chdir.as_deref(), Some("/srv"));
        assert_eq!(g[1].user.as_deref(), Some("app"));
        assert_eq!(g[1].loop_var, "n");
        assert!(g[1].loop_.is_some() && g[1].when.is_some());
        assert_eq!(g[1].origin.file, "key:0.gather.b");
    }

    #[test]
    fn bad_gathers_are_located_and_left_out() {
        let (g, p) = parsed(
            "ok: id -u\nbad-name: x\nk: {command: x, become_user: app}\nnocmd: {chdir: /x}\nempty: ' '\nlist: [a]\nlv: {command: x, loop_var: n}\n",
        );
        assert_eq!(
            g.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
            ["ok"]
        );
        let all = p.join("\n");
        assert!(
            all.contains("key:0.gather.bad-name gather: `bad-name` is not a variable name"),
            "{all}"
        );
        assert!(
            all.contains("key:0.gather.k.become_user unknown key `become_user`"),
            "{all}"
        );
        assert!(all.contains("`user: NAME`"), "{all}");
        assert!(
            all.contains("gather `nocmd`: `command:` is missing"),
            "{all}"
        );
        assert!(all.contains("gather `empty`: an empty command"), "{all}");
        assert!(
            all.contains("node:0.gather.list gather `list`: expected a command"),
            "{all}"
        );
        assert!(all.contains("`loop_var` without `loop`"), "{all}");
        assert_eq!(p.len(), 6, "{all}");
        let (_, p) = parsed("[a, b]\n");
        assert!(
            p[0].contains("expected a mapping of names to commands"),
            "{p:?}"
        );
    }
}
