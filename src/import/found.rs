//! Ansible's `find`, registered `stat` and `set_fact` in play's terms: a `find` (or a `stat`
//! whose result later tasks read) is a gathered value of `find:`/`stat:` form (`local: true`
//! when it runs on the controller); a `set_fact` is a var, a conditional one a template of
//! `if`/`else` over the conditions of every `set_fact` of that var.

use std::collections::BTreeSet;

use super::project::Entry;
use super::task::Task;
use super::when::mentions;
use crate::yaml::{Mapping, Value};

/// Where a task runs: `Some(false)` on the host, `Some(true)` on the controller
/// (`delegate_to: localhost`, `local_action`, `connection: local`), `None` elsewhere.
pub fn on_controller(delegate: Option<&str>) -> Option<bool> {
    let Some(d) = delegate.map(str::trim) else {
        return Some(false);
    };
    let bare = d.trim_start_matches("{{").trim_end_matches("}}").trim();
    if bare == "inventory_hostname" {
        return Some(false);
    }
    [
        "localhost",
        "127.0.0.1",
        "::1",
        "local_action",
        "connection: local",
    ]
    .contains(&d)
    .then_some(true)
}

/// Where a `find`/`stat` task reads: as [`on_controller`], except that one on the host whose
/// path starts at a controller folder (`{{ role_path }}/files/x`, `{{ playbook_dir }}/…`:
/// folders of the project, which Ansible users mean on the controller) reads the controller.
pub fn reads_on_controller(t: &Task) -> Option<bool> {
    let on = on_controller(t.delegate.as_deref());
    if on != Some(false) || !matches!(t.module.as_str(), "find" | "stat") {
        return on;
    }
    let controller = |v: &Value| {
        let text = match v {
            Value::Sequence(items) => items.first().map(crate::yaml::to_string),
            other => Some(crate::yaml::to_string(other)),
        }
        .unwrap_or_default();
        let bare: String = text
            .trim()
            .trim_matches(['\'', '"'])
            .split_whitespace()
            .collect();
        ["{{role_path}}", "{{playbook_dir}}", "{{inventory_dir}}"]
            .iter()
            .any(|p| bare.starts_with(p))
    };
    let path = (t.args.iter()).find(|(k, _)| matches!(k.as_str(), "path" | "paths"));
    Some(path.is_some_and(|(_, v)| controller(v)))
}

/// The text of a task's values (arguments, free form, loop) and of its conditions.
fn texts(t: &Task) -> (String, String) {
    let mut values = String::new();
    for (_, v) in &t.args {
        values.push_str(&crate::yaml::to_string(v));
        values.push(' ');
    }
    values.push_str(t.free.as_deref().unwrap_or(""));
    if let Some(l) = &t.loop_ {
        values.push(' ');
        values.push_str(&crate::yaml::to_string(l));
    }
    (values, t.when.join(" "))
}

/// The Jinja expressions of a text (`{{ … }}` and `{% … %}`): where a value reads a var (a
/// register named `venv` is not read by the path `/srv/venv`).
fn expressions(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['{']) {
        let open = &rest[i..];
        let close = if open.starts_with("{{") {
            "}}"
        } else if open.starts_with("{%") {
            "%}"
        } else {
            rest = &rest[i + 1..];
            continue;
        };
        match open[2..].find(close) {
            Some(end) => {
                out.push(&open[2..2 + end]);
                rest = &open[2 + end + 2..];
            }
            None => break,
        }
    }
    out
}

/// Registered `find`/`stat` results later tasks read: in their values (`loop`, arguments, a
/// `set_fact`), or anywhere (a `when` too).
#[derive(Debug, Default)]
pub struct Uses {
    pub in_values: BTreeSet<String>,
    pub anywhere: BTreeSet<String>,
    /// Read by the `when` of a task that does not become a `command:` (whose `creates:` /
    /// `unless:` a guard becomes): the condition must stay, on a gathered value.
    pub in_other_whens: BTreeSet<String>,
}

/// Modules that become a `command:`, where a registered `stat` in `when` is a guard
/// (`creates:`/`unless:`).
const GUARDED: &[&str] = &["command", "shell", "script", "raw"];

impl Uses {
    /// The registers of `find`/`stat` tasks of `entries` and where other tasks read them.
    pub fn of(entries: &[Entry]) -> Uses {
        let tasks: Vec<&Task> = (entries.iter())
            .filter_map(|e| match e {
                Entry::Task(t) => Some(&**t),
                Entry::Note(_) => None,
            })
            .collect();
        let texts: Vec<(String, String)> = tasks.iter().map(|t| texts(t)).collect();
        let mut u = Uses::default();
        for (i, t) in tasks.iter().enumerate() {
            let Some(reg) = t.register.as_deref() else {
                continue;
            };
            if !matches!(t.module.as_str(), "find" | "stat") {
                continue;
            }
            for (j, (values, when)) in texts.iter().enumerate() {
                if i == j {
                    continue;
                }
                if expressions(values).iter().any(|e| mentions(e, reg)) {
                    u.in_values.insert(reg.to_string());
                    u.anywhere.insert(reg.to_string());
                } else if mentions(when, reg) {
                    u.anywhere.insert(reg.to_string());
                }
                if mentions(when, reg) && !GUARDED.contains(&tasks[j].module.as_str()) {
                    u.in_other_whens.insert(reg.to_string());
                }
            }
        }
        u
    }

    /// Whether `t` becomes a gathered value: a `find` whose result is read, a `stat` whose
    /// result is read in values or by the `when` of a task that is not a command (a `stat`
    /// read only by commands' `when`s stays their guard: `creates:`), or one on the
    /// controller read anywhere (a guard would look on the host).
    pub fn gathers(&self, t: &Task) -> bool {
        let Some(reg) = t.register.as_deref() else {
            return false;
        };
        let Some(local) = reads_on_controller(t) else {
            return false;
        };
        match t.module.as_str() {
            "find" => self.anywhere.contains(reg),
            "stat" => {
                self.in_values.contains(reg)
                    || self.in_other_whens.contains(reg)
                    || (local && self.anywhere.contains(reg))
            }
            _ => false,
        }
    }
}

/// Keys of Ansible's `stat` that change nothing of play's result (checksums, mime types and
/// attributes play does not read).
const STAT_IGNORED: &[&str] = &[
    "get_checksum",
    "get_md5",
    "get_mime",
    "get_attributes",
    "checksum_algorithm",
];

/// The `find:` mapping or the `stat:` path of a gather for `t` (`find`/`stat`); an option
/// play's forms do not have is the reason it is left out.
pub fn form_of(t: &Task) -> Result<(&'static str, Value), String> {
    match t.module.as_str() {
        "find" => {
            let mut m = Mapping::new();
            for (k, v) in &t.args {
                if k == "follow" && matches!(v, Value::Bool(false)) {
                    continue;
                }
                if !crate::playbook::gather::FIND_KEYS.contains(&k.as_str()) {
                    return Err(format!(
                        "`find` option `{k}` has no play form (a gather's `find:` has {})",
                        crate::playbook::gather::FIND_KEYS.join(", ")
                    ));
                }
                m.insert(Value::String(k.clone()), v.clone());
            }
            Ok(("find", Value::Mapping(m)))
        }
        _ => {
            let mut path = None;
            for (k, v) in &t.args {
                match k.as_str() {
                    "path" | "name" | "dest" => path = v.as_str().map(str::to_string),
                    "follow" if matches!(v, Value::Bool(false)) => {}
                    k if STAT_IGNORED.contains(&k) => {}
                    k => return Err(format!("`stat` option `{k}` has no play form")),
                }
            }
            let path = path.ok_or("`stat` without a path")?;
            Ok(("stat", Value::String(path)))
        }
    }
}

/// A Jinja expression giving `v` (a template string its expression, a text with templates a
/// concatenation, a mapping or list one of Jinja's); `None` for `{% %}` blocks.
pub fn expr_of(v: &Value) -> Option<String> {
    Some(match v {
        Value::Null => "none".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string_expr(s)?,
        Value::Sequence(items) => format!(
            "[{}]",
            items
                .iter()
                .map(expr_of)
                .collect::<Option<Vec<_>>>()?
                .join(", ")
        ),
        Value::Mapping(m) => {
            let mut parts = Vec::new();
            for (k, v) in m {
                let k = serde_json::to_string(k.as_str()?).ok()?;
                parts.push(format!("{k}: {}", expr_of(v)?));
            }
            format!("{{{}}}", parts.join(", "))
        }
        Value::Tagged(_) => return None,
    })
}

/// The expression of a string: `(e)` for `{{ e }}` alone, else its parts joined by `~`.
fn string_expr(s: &str) -> Option<String> {
    if s.contains("{%") || s.contains("{#") {
        return None;
    }
    let mut parts = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("{{") {
        if i > 0 {
            parts.push(serde_json::to_string(&rest[..i]).ok()?);
        }
        let end = rest[i..].find("}}")? + i;
        parts.push(format!("({})", rest[i + 2..end].trim()));
        rest = &rest[end + 2..];
    }
    if !rest.is_empty() || parts.is_empty() {
        parts.push(serde_json::to_string(rest).ok()?);
    }
    Some(match parts.as_slice() {
        [one] => one.clone(),
        many => format!("({})", many.join(" ~ ")),
    })
}

/// One var's value from every conditional `set_fact` of it, in order (conditions, value
/// expression), over `base` (its value otherwise, if any): the last one whose conditions
/// hold, as Ansible's last `set_fact` run wins. Without a base, the var is undefined when
/// none holds.
pub fn chain(branches: &[(Vec<String>, String)], base: Option<&str>) -> String {
    let mut expr = base.map(str::to_string);
    for (conds, value) in branches {
        let cond = (conds.iter())
            .map(|c| format!("({})", c.trim()))
            .collect::<Vec<_>>()
            .join(" and ");
        expr = Some(match expr {
            None => format!("{value} if {cond}"),
            Some(e) => format!("{value} if {cond} else ({e})"),
        });
    }
    format!("{{{{ {} }}}}", expr.unwrap_or_else(|| "none".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(module: &str, args: &str, delegate: Option<&str>) -> Task {
        let mut t = Task {
            module: module.into(),
            ..Default::default()
        };
        let m: Mapping = serde_yaml::from_str(args).expect("yaml");
        t.args = (m.into_iter())
            .map(|(k, v)| (k.as_str().unwrap_or("").to_string(), v))
            .collect();
        t.delegate = delegate.map(str::to_string);
        t
    }

    #[test]
    fn only_expressions_read_a_register() {
        assert_eq!(
            expressions("/srv/venv {{ venv.stat }} x {% if a %}"),
            [" venv.stat ", " if a "]
        );
        let mut st = task("stat", "{path: /srv/venv}", None);
        st.register = Some("venv".into());
        let user = task("command", "{creates: '{{ root }}/venv/bin/python'}", None);
        let entries: Vec<Entry> = [st.clone(), user]
            .into_iter()
            .map(|t| Entry::Task(Box::new(t)))
            .collect();
        assert!(!Uses::of(&entries).gathers(&st));
    }

    #[test]
    fn controller_and_host() {
        assert_eq!(on_controller(None), Some(false));
        assert_eq!(on_controller(Some("localhost")), Some(true));
        assert_eq!(on_controller(Some("connection: local")), Some(true));
        assert_eq!(on_controller(Some("{{ inventory_hostname }}")), Some(false));
        assert_eq!(on_controller(Some("db1")), None);
        let st = |path: &str| task("stat", &format!("{{path: '{path}'}}"), None);
        assert_eq!(
            reads_on_controller(&st("{{ role_path }}/files/ow2_static")),
            Some(true)
        );
        assert_eq!(
            reads_on_controller(&st("{{playbook_dir}}/nginx-includes")),
            Some(true)
        );
        assert_eq!(
            reads_on_controller(&st("/srv/{{ role_path }}")),
            Some(false)
        );
        assert_eq!(
            reads_on_controller(&task("stat", "{path: /etc}", Some("db1"))),
            None
        );
        let cmd = task("command", "{cmd: 'ls {{ role_path }}'}", None);
        assert_eq!(reads_on_controller(&cmd), Some(false));
    }

    #[test]
    fn find_and_stat_forms() {
        let t = task(
            "find",
            "{paths: /etc/apt/sources.list.d, patterns: ['*.list'], use_regex: false}",
            None,
        );
        let (k, v) = form_of(&t).expect("find");
        assert_eq!(k, "find");
        assert_eq!(v["paths"], Value::String("/etc/apt/sources.list.d".into()));
        let bad = task("find", "{paths: /x, age: 2d}", None);
        let why = form_of(&bad).expect_err("age");
        assert!(why.contains("`age` has no play form"), "{why}");
        let s = task(
            "stat",
            "{path: '/srv/{{ item }}', get_checksum: false}",
            None,
        );
        assert_eq!(
            form_of(&s).expect("stat"),
            ("stat", Value::String("/srv/{{ item }}".into()))
        );
        assert!(form_of(&task("stat", "{path: /x, follow: true}", None)).is_err());
    }

    #[test]
    fn expressions_of_values() {
        let v: Value = serde_yaml::from_str(
            "{files: \"{{ r.results | map(attribute='files') | flatten }}\", n: 2, s: \"a '{{ x }}'.b\", l: [true, null]}",
        )
        .expect("yaml");
        assert_eq!(
            expr_of(&v).expect("expr"),
            "{\"files\": (r.results | map(attribute='files') | flatten), \"n\": 2, \"s\": (\"a '\" ~ (x) ~ \"'.b\"), \"l\": [true, none]}"
        );
        assert_eq!(
            expr_of(&Value::String("plain".into())).expect("s"),
            "\"plain\""
        );
        assert!(expr_of(&Value::String("{% if a %}b{% endif %}".into())).is_none());
    }

    #[test]
    fn conditional_set_facts_chain() {
        let one = chain(&[(vec!["not multi".into()], "(single)".into())], None);
        assert_eq!(one, "{{ (single) if (not multi) }}");
        let both = chain(
            &[
                (vec!["not multi".into()], "(single)".into()),
                (vec!["multi".into(), "x".into()], "(many)".into()),
            ],
            Some("\"none\""),
        );
        assert_eq!(
            both,
            "{{ (many) if (multi) and (x) else ((single) if (not multi) else (\"none\")) }}"
        );
    }

    #[test]
    fn what_later_tasks_read() {
        let mut find = task("find", "{paths: /x}", None);
        find.register = Some("found".into());
        let mut st = task("stat", "{path: /y}", None);
        st.register = Some("st".into());
        let mut guard = task("stat", "{path: /z}", None);
        guard.register = Some("g".into());
        let mut user = task("file", "{path: '{{ item.path }}', state: absent}", None);
        user.loop_ = Some(Value::String("{{ found.files + st.results }}".into()));
        let mut cmd = task("command", "{cmd: make}", None);
        cmd.when = vec!["g.stat.exists".into()];
        let mut entries: Vec<Entry> = [find.clone(), st.clone(), guard.clone(), user, cmd]
            .into_iter()
            .map(|t| Entry::Task(Box::new(t)))
            .collect();
        let u = Uses::of(&entries);
        assert!(u.gathers(&find) && u.gathers(&st));
        assert!(!u.gathers(&guard), "a command's guard stays a guard");
        // read by the `when` of a link: no `creates:` there, the condition is kept
        let mut link = task("file", "{src: /a, dest: /b, state: link}", None);
        link.when = vec!["g.stat.exists == False".into()];
        entries.push(Entry::Task(Box::new(link)));
        assert!(Uses::of(&entries).gathers(&guard));
        guard.delegate = Some("localhost".into());
        assert!(u.gathers(&guard), "a guard on the controller is read there");
        guard.delegate = Some("db1".into());
        assert!(!u.gathers(&guard));
    }
}
