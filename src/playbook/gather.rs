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
pub const GATHER_KEYS: &[&str] = &["command", "chdir", "user", "loop", "loop_var", "when"];

/// One gathered value as declared.
#[derive(Debug, Clone, PartialEq)]
pub struct Gather {
    /// The var it binds.
    pub name: String,
    /// The command line (a template).
    pub command: String,
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
                        if command.is_none() {
                            problems.push((
                                origin.clone(),
                                format!("gather `{name}`: `command:` is missing"),
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
            if g.command.trim().is_empty() {
                problems.push((g.origin, format!("gather `{name}`: an empty command")));
            } else {
                out.push(g);
            }
        }
    }
    (out, problems)
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
