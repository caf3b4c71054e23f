//! Gathered values (`gather:`): each declared command rendered for a host with vars only (it
//! runs in the first probe, beside the facts gathering), and the value bound to its name once
//! the probe answered, in Ansible's registered shape:
//!
//! - a command: `{stdout, stdout_lines, stderr, stderr_lines, rc, failed, changed: false,
//!   skipped: false, truncated, cmd}` (`stdout`/`stderr` without their last newline, bytes that
//!   are not UTF-8 shown as U+FFFD; `failed` is `rc != 0`; `truncated` when an output passed
//!   64 KiB and was cut there);
//! - `when:` false: `{skipped: true, changed: false, failed: false, skip_reason}`;
//! - with `loop:`: `{results: [ {item, ansible_loop_var, …one of the above}, … ], changed:
//!   false, failed: any item failed, skipped: every item skipped}`.
//!
//! Offline (`play check`, and any rendering before a host answered) every gathered name has a
//! stand-in ([`stand_in`]): `stdout: ""`, `rc: 0`, or `results: []` with a loop.

use std::collections::BTreeMap;

use minijinja::value::Value as MValue;
use serde_json::{json, Value as JValue};

use super::template::{RenderError, Renderer, Scope};
use super::{ResolveError, Resolver};
use crate::inventory::Host;
use crate::playbook::{Gather, Play};
use crate::probe::gather::{GatherCmd, GatherOutput};
use crate::resources::Origin;

/// One gather rendered for one host.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub name: String,
    pub origin: Origin,
    /// Declared with `loop:` (its value has `results`).
    pub looped: bool,
    pub loop_var: String,
    /// One per loop item (one without a loop): the item, and the command to run (`None`:
    /// its `when` is false).
    pub runs: Vec<(JValue, Option<GatherCmd>)>,
}

/// Every gather of the play: its roles' (in order), then its own.
pub fn of_play(play: &Play) -> impl Iterator<Item = &Gather> {
    play.roles
        .iter()
        .flat_map(|r| r.gathers.iter())
        .chain(play.gathers.iter())
}

/// Text before a newline at the end (Ansible strips one from `stdout` and `stderr`).
fn text(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let s = s.strip_suffix('\n').unwrap_or(&s);
    s.strip_suffix('\r').unwrap_or(s).to_string()
}

/// The value of one command's run.
pub fn result(cmd: &str, o: &GatherOutput) -> JValue {
    let stdout = text(&o.stdout);
    let stderr = text(&o.stderr);
    json!({
        "stdout_lines": stdout.lines().collect::<Vec<_>>(),
        "stderr_lines": stderr.lines().collect::<Vec<_>>(),
        "stdout": stdout,
        "stderr": stderr,
        "rc": o.rc,
        "failed": o.rc != 0,
        "changed": false,
        "skipped": false,
        "truncated": o.truncated,
        "cmd": cmd,
    })
}

/// The value of a run whose `when` was false.
pub fn skipped() -> JValue {
    json!({
        "skipped": true,
        "changed": false,
        "failed": false,
        "skip_reason": "Conditional result was False",
    })
}

/// The stand-in value of a gather before any host answered: an empty output and status 0,
/// or no results with a loop.
pub fn stand_in(g: &Gather) -> JValue {
    if g.loop_.is_some() {
        json!({"results": [], "changed": false, "failed": false, "skipped": false})
    } else {
        let none = GatherOutput {
            rc: 0,
            stdout: Vec::new(),
            stderr: Vec::new(),
            truncated: false,
        };
        result(&g.command, &none)
    }
}

/// The commands of `rendered` to put in the probe, in order.
pub fn commands(rendered: &[Rendered]) -> Vec<GatherCmd> {
    (rendered.iter())
        .flat_map(|r| r.runs.iter().filter_map(|(_, c)| c.clone()))
        .collect()
}

/// The value of every rendered gather from the probe's outputs (by command id). A command the
/// probe did not report is an error (the probe was cut short).
pub fn values(
    rendered: &[Rendered],
    outputs: &BTreeMap<String, GatherOutput>,
) -> Result<BTreeMap<String, JValue>, String> {
    let mut out = BTreeMap::new();
    for r in rendered {
        let mut results = Vec::new();
        for (item, cmd) in &r.runs {
            let v = match cmd {
                None => skipped(),
                Some(c) => {
                    let o = outputs.get(&c.id).ok_or_else(|| {
                        format!("the probe did not report gather `{}` ({})", r.name, c.id)
                    })?;
                    result(&c.command, o)
                }
            };
            results.push((item, v));
        }
        let value = if r.looped {
            let failed = results.iter().any(|(_, v)| v["failed"] == json!(true));
            let all_skipped = results.iter().all(|(_, v)| v["skipped"] == json!(true));
            let list: Vec<JValue> = (results.into_iter())
                .map(|(item, mut v)| {
                    v["item"] = item.clone();
                    v["ansible_loop_var"] = json!(r.loop_var);
                    v
                })
                .collect();
            json!({"results": list, "changed": false, "failed": failed, "skipped": all_skipped && !list.is_empty()})
        } else {
            results
                .into_iter()
                .next()
                .map(|(_, v)| v)
                .unwrap_or_else(skipped)
        };
        out.insert(r.name.clone(), value);
    }
    Ok(out)
}

/// Whether `message` names one of `names` (a whole word): an error met while rendering with
/// stand-ins (`X.stdout_lines[1]` of an empty stand-in) that the host's value may not have.
pub fn names_any(message: &str, names: &[&str]) -> bool {
    message
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|w| names.contains(&w))
}

/// The names a gather's texts cannot use: facts (`facts`, Ansible's `ansible_*`) and the
/// gathered values (`names`); the first one `text` names.
fn names_later(text: &str, names: &[&str]) -> Option<String> {
    let words = text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
    for w in words {
        if w == "facts" || w.starts_with("ansible_") || names.contains(&w) {
            return Some(w.to_string());
        }
    }
    None
}

impl Resolver<'_> {
    /// Every gather of `host`'s plays, rendered with vars only (in declared order: each play's
    /// roles', then its own). A name gathered twice must be the same command (a role listed
    /// by two plays); else the second is an error.
    pub fn gathers(&self, host: &Host) -> Result<Vec<Rendered>, ResolveError> {
        let (out, mut errors) = self.gathers_all(host);
        match errors.is_empty() {
            true => Ok(out),
            false => Err(errors.remove(0)),
        }
    }

    /// [`Resolver::gathers`] with every problem (a gather with one is left out).
    pub fn gathers_all(&self, host: &Host) -> (Vec<Rendered>, Vec<ResolveError>) {
        let mut out: Vec<Rendered> = Vec::new();
        let mut errors = Vec::new();
        let plays = match self.plays_for(host) {
            Ok(p) => p,
            Err(e) => return (out, vec![e]),
        };
        let names: Vec<&str> = (plays.iter())
            .flat_map(|p| of_play(p).map(|g| g.name.as_str()))
            .collect();
        let mut n = 0usize;
        for play in plays {
            if of_play(play).next().is_none() {
                continue; // nothing to render (the no-op run of a project without gathers)
            }
            let vars = self.vars_for(play, host, None);
            for g in of_play(play) {
                let mut r = match self.render_gather(g, &vars, host, &names) {
                    Ok(r) => r,
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                };
                for (_, c) in r.runs.iter_mut() {
                    if let Some(c) = c {
                        c.id = format!("g{n}");
                        n += 1;
                    }
                }
                match out.iter().find(|o| o.name == g.name) {
                    None => out.push(r),
                    Some(first) => {
                        let same = |a: &Rendered, b: &Rendered| {
                            a.looped == b.looped
                                && a.runs.len() == b.runs.len()
                                && a.runs.iter().zip(&b.runs).all(|((ia, ca), (ib, cb))| {
                                    ia == ib
                                        && ca.as_ref().map(|c| (&c.command, &c.chdir, &c.user))
                                            == cb.as_ref().map(|c| (&c.command, &c.chdir, &c.user))
                                })
                        };
                        if !same(first, &r) {
                            errors.push(ResolveError {
                                origin: g.origin.clone(),
                                message: format!(
                                    "gather `{}` is declared again with another command for this \
                                     host (first at {}): a gathered name is one value per host",
                                    g.name, first.origin
                                ),
                                host: host.name.clone(),
                            });
                        }
                    }
                }
            }
        }
        (out, errors)
    }

    fn render_gather(
        &self,
        g: &Gather,
        vars: &std::sync::Arc<super::template::LazyVars>,
        host: &Host,
        names: &[&str],
    ) -> Result<Rendered, ResolveError> {
        let fail = |key: &str, text: &str, e: RenderError| {
            let message = match names_later(text, names) {
                Some(w) => format!(
                    "gather `{}`: {key}: `{w}` is not known yet: gathered commands run in the \
                     probe that gathers the facts, so their command, chdir, user, loop and when \
                     see vars only (not facts nor other gathered values) ({})",
                    g.name, e.message
                ),
                None => format!("gather `{}`: {key}: {}", g.name, e.message),
            };
            ResolveError {
                origin: g.origin.clone(),
                message,
                host: host.name.clone(),
            }
        };
        let items: Vec<BTreeMap<String, MValue>> = match &g.loop_ {
            None => vec![BTreeMap::new()],
            Some(l) => {
                let r = Renderer {
                    env: &self.env,
                    scope: Scope::new(vars.clone(), BTreeMap::new()),
                };
                let shown = crate::yaml::to_string(l);
                let v = r.value(l).map_err(|e| fail("loop", &shown, e))?;
                let iter = v.try_iter().map_err(|_| ResolveError {
                    origin: g.origin.clone(),
                    message: format!(
                        "gather `{}`: loop: expected a list, found {}",
                        g.name,
                        v.kind()
                    ),
                    host: host.name.clone(),
                })?;
                iter.map(|item| BTreeMap::from([(g.loop_var.clone(), item)]))
                    .collect()
            }
        };
        let mut runs = Vec::new();
        for extra in items {
            let item = (extra.get(&g.loop_var))
                .map(|v| serde_json::to_value(v).unwrap_or(JValue::Null))
                .unwrap_or(JValue::Null);
            let r = Renderer {
                env: &self.env,
                scope: Scope::new(vars.clone(), extra),
            };
            if let Some(w) = &g.when {
                let shown = crate::yaml::to_string(w);
                let holds = self.holds(w, &g.origin, &r, host).map_err(|e| {
                    let err = RenderError {
                        line: None,
                        column: None,
                        message: e.message.trim_start_matches("when: ").to_string(),
                    };
                    fail("when", &shown, err)
                })?;
                if !holds {
                    runs.push((item, None));
                    continue;
                }
            }
            let command = r
                .string("command", &g.command)
                .map_err(|e| fail("command", &g.command, e))?;
            let opt = |key: &str, v: &Option<String>| -> Result<Option<String>, ResolveError> {
                v.as_ref()
                    .map(|t| r.string(key, t).map_err(|e| fail(key, t, e)))
                    .transpose()
            };
            let chdir = opt("chdir", &g.chdir)?;
            let user = opt("user", &g.user)?;
            if let Some(u) = &user {
                crate::resources::accounts::check_name("user", u).map_err(|m| ResolveError {
                    origin: g.origin.clone(),
                    message: format!("gather `{}`: {m}", g.name),
                    host: host.name.clone(),
                })?;
            }
            if let Some(d) = &chdir {
                if !d.starts_with('/') {
                    return Err(ResolveError {
                        origin: g.origin.clone(),
                        message: format!(
                            "gather `{}`: chdir: expected an absolute path, found `{d}`",
                            g.name
                        ),
                        host: host.name.clone(),
                    });
                }
            }
            if command.contains('\0') || chdir.iter().chain(&user).any(|s| s.contains('\0')) {
                return Err(ResolveError {
                    origin: g.origin.clone(),
                    message: format!("gather `{}`: a NUL byte in the command", g.name),
                    host: host.name.clone(),
                });
            }
            runs.push((
                item,
                Some(GatherCmd {
                    id: String::new(),
                    command,
                    chdir,
                    user,
                }),
            ));
        }
        Ok(Rendered {
            name: g.name.clone(),
            origin: g.origin.clone(),
            looped: g.loop_.is_some(),
            loop_var: g.loop_var.clone(),
            runs,
        })
    }
}

/// The gathered vars a play's templates see with `facts`: the host's values, and a stand-in
/// for each gather of the play the facts do not hold (rendering before the probe, `play
/// check`, recorded facts). A `-e` var of the same name wins.
pub(super) fn vars_of(
    play: &Play,
    gathered: &BTreeMap<String, JValue>,
    extra: &crate::inventory::Vars,
) -> Vec<(String, MValue)> {
    let mut out: Vec<(String, MValue)> = (gathered.iter())
        .filter(|(k, _)| !extra.contains_key(*k))
        .map(|(k, v)| (k.clone(), MValue::from_serialize(v)))
        .collect();
    for g in of_play(play) {
        if !gathered.contains_key(&g.name)
            && !extra.contains_key(&g.name)
            && !out.iter().any(|(k, _)| *k == g.name)
        {
            out.push((g.name.clone(), MValue::from_serialize(stand_in(g))));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(rc: i32, stdout: &[u8]) -> GatherOutput {
        GatherOutput {
            rc,
            stdout: stdout.to_vec(),
            stderr: b"warn\n".to_vec(),
            truncated: false,
        }
    }

    fn cmd(id: &str) -> Option<GatherCmd> {
        Some(GatherCmd {
            id: id.into(),
            command: format!("cmd-{id}"),
            chdir: None,
            user: None,
        })
    }

    #[test]
    fn the_registered_shape() {
        let v = result("lsb_release -cs", &out(0, b"bookworm\n"));
        assert_eq!(v["stdout"], "bookworm");
        assert_eq!(v["stdout_lines"], json!(["bookworm"]));
        assert_eq!(v["stderr_lines"], json!(["warn"]));
        assert_eq!(
            (v["rc"].clone(), v["failed"].clone()),
            (json!(0), json!(false))
        );
        assert_eq!(
            (v["changed"].clone(), v["skipped"].clone()),
            (json!(false), json!(false))
        );
        let bad = result("x", &out(3, b"a\nb\n\xff"));
        assert_eq!(bad["failed"], json!(true));
        assert_eq!(bad["stdout_lines"], json!(["a", "b", "\u{fffd}"]));
        assert_eq!(skipped()["skipped"], json!(true));
    }

    #[test]
    fn loops_when_and_missing_records() {
        let rendered = vec![
            Rendered {
                name: "one".into(),
                origin: Origin::default(),
                looped: false,
                loop_var: "item".into(),
                runs: vec![(JValue::Null, cmd("g0"))],
            },
            Rendered {
                name: "many".into(),
                origin: Origin::default(),
                looped: true,
                loop_var: "pkg".into(),
                runs: vec![(json!("a"), cmd("g1")), (json!("b"), None)],
            },
            Rendered {
                name: "off".into(),
                origin: Origin::default(),
                looped: false,
                loop_var: "item".into(),
                runs: vec![(JValue::Null, None)],
            },
        ];
        assert_eq!(
            commands(&rendered)
                .iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>(),
            ["g0", "g1"]
        );
        let outputs = BTreeMap::from([
            ("g0".to_string(), out(0, b"x\n")),
            ("g1".to_string(), out(1, b"")),
        ]);
        let v = values(&rendered, &outputs).expect("values");
        assert_eq!(v["one"]["stdout"], "x");
        let many = &v["many"];
        assert_eq!(many["failed"], json!(true));
        assert_eq!(many["skipped"], json!(false));
        assert_eq!(many["results"][0]["item"], "a");
        assert_eq!(many["results"][0]["rc"], 1);
        assert_eq!(many["results"][0]["ansible_loop_var"], "pkg");
        assert_eq!(many["results"][1]["skipped"], json!(true));
        assert_eq!(many["results"][1]["item"], "b");
        assert_eq!(v["off"]["skipped"], json!(true));
        let err = values(&rendered, &BTreeMap::new()).expect_err("cut short");
        assert!(err.contains("gather `one`"), "{err}");
    }

    #[test]
    fn names_that_come_later_are_found() {
        assert_eq!(
            names_later("cat {{ facts.os_id }}", &[]),
            Some("facts".into())
        );
        assert_eq!(
            names_later("x {{ ansible_distribution }}", &[]),
            Some("ansible_distribution".into())
        );
        assert_eq!(
            names_later("ls {{ other.stdout }}", &["other"]),
            Some("other".into())
        );
        assert_eq!(names_later("ls {{ factsy }}", &["other"]), None);
    }
}
