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
use crate::playbook::gather::Form;
use crate::playbook::{Gather, Play};
use crate::probe::gather::{
    find_command, parse_entries, stat_command, Entry, FileType, FindSpec, GatherCmd, GatherOutput,
    Shape,
};
use crate::resources::Origin;

/// One gather rendered for one host.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub name: String,
    pub origin: Origin,
    /// Declared with `loop:` (its value has `results`).
    pub looped: bool,
    /// Its value offline (`play check`): see [`stand_in`].
    pub stand_in: JValue,
    /// Read on the controller (`local: true`): not run in the probe, its value bound with the
    /// vars.
    pub local: bool,
    pub loop_var: String,
    /// One per loop item (one without a loop): the item, and the command to run (`None`:
    /// its `when` is false).
    pub runs: Vec<(JValue, Option<GatherCmd>)>,
}

/// Every gather of the play: its roles' (in order), then its own.
/// The gathers of `play` (its roles' then its own), each with the role it belongs to.
pub fn of_play_by_role(
    play: &Play,
) -> impl Iterator<Item = (&Gather, Option<&crate::playbook::Role>)> {
    (play.roles.iter())
        .flat_map(|r| r.gathers.iter().map(move |g| (g, Some(r))))
        .chain(play.gathers.iter().map(|g| (g, None)))
}

pub fn of_play(play: &Play) -> impl Iterator<Item = &Gather> {
    play.roles
        .iter()
        .flat_map(|r| r.gathers.iter())
        .chain(play.gathers.iter())
}

/// The names of the gathers of `pb` whose values `play facts --save` records: `find:` and
/// `stat:` on the host (files' names and attributes; a command's output may hold a secret, a
/// `local: true` one is read again wherever play resolves).
pub fn recorded_names(pb: &crate::playbook::Playbook) -> std::collections::BTreeSet<&str> {
    (pb.plays.iter().flat_map(of_play))
        .filter(|g| !g.local && matches!(g.form, Form::Find(_) | Form::Stat(_)))
        .map(|g| g.name.as_str())
        .collect()
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

/// The value of one run of `cmd` by its shape: a command's, a `find`'s or a `stat`'s.
pub fn value_of(cmd: &GatherCmd, o: &GatherOutput) -> JValue {
    match &cmd.shape {
        Shape::Command => result(&cmd.command, o),
        Shape::Find(spec) => find_value(spec, &parse_entries(&o.stdout), o.truncated),
        Shape::Stat(_) => stat_value(&parse_entries(&o.stdout)),
    }
}

/// Ansible's mapping of one file system entry (`find`'s `files`, `stat`'s `stat`).
fn entry_value(e: &Entry) -> JValue {
    json!({
        "exists": true,
        "path": e.path,
        "mode": format!("{:04o}", e.mode),
        "isdir": e.kind == 'd',
        "isreg": e.kind == 'f',
        "islnk": e.kind == 'l',
        "size": e.size,
        "uid": e.uid,
        "gid": e.gid,
        "pw_name": e.user,
        "gr_name": e.group,
        "mtime": e.mtime,
    })
}

/// The last part of a path (what find's patterns match).
fn base_name(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

/// Matches a last part of a path against find's patterns: globs (Python's fnmatch), or
/// Python regexes matched at its start (`use_regex`, lookarounds included).
pub struct Matcher {
    globs: Option<globset::GlobSet>,
    regexes: Vec<fancy_regex::Regex>,
}

impl Matcher {
    /// The matcher of `patterns` (none: nothing to match); a bad pattern is an error naming it.
    pub fn new(patterns: &[String], use_regex: bool) -> Result<Option<Matcher>, String> {
        if patterns.is_empty() {
            return Ok(None);
        }
        if use_regex {
            let regexes = (patterns.iter())
                .map(|p| {
                    fancy_regex::Regex::new(&format!("^(?:{p})"))
                        .map_err(|e| format!("bad regex `{p}`: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Some(Matcher {
                globs: None,
                regexes,
            }));
        }
        let mut b = globset::GlobSetBuilder::new();
        for p in patterns {
            let g = globset::GlobBuilder::new(p)
                .literal_separator(false)
                .backslash_escape(false)
                .build()
                .map_err(|e| format!("bad pattern `{p}`: {e}"))?;
            b.add(g);
        }
        let set = b.build().map_err(|e| e.to_string())?;
        Ok(Some(Matcher {
            globs: Some(set),
            regexes: Vec::new(),
        }))
    }

    pub fn is_match(&self, name: &str) -> bool {
        match &self.globs {
            Some(g) => g.is_match(name),
            None => (self.regexes.iter()).any(|r| r.is_match(name).unwrap_or(false)),
        }
    }
}

/// Ansible find's result of the entries listed under `spec.paths`: those of its
/// `file_type`, not hidden (unless `hidden`), matching a pattern (any, without) and no
/// exclude. `examined` counts every entry listed.
pub fn find_value(spec: &FindSpec, entries: &[Entry], truncated: bool) -> JValue {
    let patterns = Matcher::new(&spec.patterns, spec.use_regex).ok().flatten();
    let excludes = Matcher::new(&spec.excludes, spec.use_regex).ok().flatten();
    let files: Vec<JValue> = (entries.iter())
        .filter(|e| match spec.file_type {
            FileType::File => e.kind == 'f',
            FileType::Directory => e.kind == 'd',
            FileType::Link => e.kind == 'l',
            FileType::Any => true,
        })
        .filter(|e| {
            let name = base_name(&e.path);
            (spec.hidden || !name.starts_with('.'))
                && patterns.as_ref().is_none_or(|m| m.is_match(name))
                && !excludes.as_ref().is_some_and(|m| m.is_match(name))
        })
        .map(|e| {
            let mut v = entry_value(e);
            if let Some(m) = v.as_object_mut() {
                m.remove("exists");
            }
            v
        })
        .collect();
    json!({
        "matched": files.len(),
        "examined": entries.len(),
        "files": files,
        "skipped_paths": {},
        "msg": "All paths examined",
        "changed": false,
        "failed": false,
        "skipped": false,
        "truncated": truncated,
    })
}

/// Ansible stat's result: `stat.exists` false without an entry.
pub fn stat_value(entries: &[Entry]) -> JValue {
    let stat = match entries.first() {
        Some(e) => entry_value(e),
        None => json!({"exists": false}),
    };
    json!({"stat": stat, "changed": false, "failed": false, "skipped": false})
}

/// Strings of a rendered find option: a list of strings, or one string split at commas (as
/// Ansible's `list` options are).
fn strings(key: &str, v: &JValue) -> Result<Vec<String>, String> {
    match v {
        JValue::Null => Ok(Vec::new()),
        JValue::String(s) => Ok((s.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()),
        JValue::Array(a) => (a.iter())
            .map(|x| match x {
                JValue::String(s) => Ok(s.clone()),
                other => Err(format!("{key}: expected strings, found {other}")),
            })
            .collect(),
        other => Err(format!("{key}: expected a string or a list, found {other}")),
    }
}

/// A rendered boolean option (`yes`/`true`/…).
fn flag(key: &str, v: Option<&JValue>) -> Result<bool, String> {
    match v {
        None | Some(JValue::Null) => Ok(false),
        Some(JValue::Bool(b)) => Ok(*b),
        Some(JValue::String(s)) => match s.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" | "1" => Ok(true),
            "no" | "false" | "off" | "0" | "" => Ok(false),
            _ => Err(format!("{key}: expected true or false, found `{s}`")),
        },
        Some(other) => Err(format!("{key}: expected true or false, found {other}")),
    }
}

/// The find spec of a rendered `find:` mapping (Ansible's aliases: `path`/`name`, `pattern`,
/// `exclude`); paths must be absolute on a host.
pub fn find_spec(v: &JValue, local: bool) -> Result<FindSpec, String> {
    let get = |keys: &[&str]| keys.iter().find_map(|k| v.get(*k)).cloned();
    let paths = strings(
        "paths",
        &get(&["paths", "path", "name"]).unwrap_or(JValue::Null),
    )?;
    if paths.is_empty() {
        return Err("paths: no path".into());
    }
    if let Some(p) = paths.iter().find(|p| !local && !p.starts_with('/')) {
        return Err(format!(
            "paths: expected absolute paths on the host, found `{p}`"
        ));
    }
    let file_type = match get(&["file_type"]) {
        None | Some(JValue::Null) => FileType::File,
        Some(JValue::String(s)) => match s.as_str() {
            "file" => FileType::File,
            "directory" => FileType::Directory,
            "link" => FileType::Link,
            "any" => FileType::Any,
            o => {
                return Err(format!(
                    "file_type: expected file, directory, link or any, found `{o}`"
                ))
            }
        },
        Some(o) => return Err(format!("file_type: expected a string, found {o}")),
    };
    let spec = FindSpec {
        paths,
        patterns: strings(
            "patterns",
            &get(&["patterns", "pattern"]).unwrap_or(JValue::Null),
        )?,
        excludes: strings(
            "excludes",
            &get(&["excludes", "exclude"]).unwrap_or(JValue::Null),
        )?,
        use_regex: flag("use_regex", get(&["use_regex"]).as_ref())?,
        recurse: flag("recurse", get(&["recurse"]).as_ref())?,
        hidden: flag("hidden", get(&["hidden"]).as_ref())?,
        file_type,
    };
    Matcher::new(&spec.patterns, spec.use_regex).map_err(|e| format!("patterns: {e}"))?;
    Matcher::new(&spec.excludes, spec.use_regex).map_err(|e| format!("excludes: {e}"))?;
    Ok(spec)
}

/// The value of a gather read on the controller (`local: true`): its runs evaluated here.
pub fn local_value(r: &Rendered) -> JValue {
    let mut outputs = BTreeMap::new();
    let mut r = r.clone();
    r.local = false;
    for (i, (_, c)) in r.runs.iter_mut().enumerate() {
        if let Some(c) = c {
            c.id = format!("l{i}");
            let mut stdout = crate::probe::gather::local_output(&c.shape);
            let truncated = stdout.len() > crate::probe::gather::MAX_OUTPUT;
            stdout.truncate(crate::probe::gather::MAX_OUTPUT);
            outputs.insert(
                c.id.clone(),
                GatherOutput {
                    rc: 0,
                    stdout,
                    stderr: Vec::new(),
                    truncated,
                },
            );
        }
    }
    let name = r.name.clone();
    values(&[r], &outputs)
        .ok()
        .and_then(|mut v| v.remove(&name))
        .unwrap_or(JValue::Null)
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
    } else if matches!(g.form, Form::Find(_)) {
        find_value(&FindSpec::default(), &[], false)
    } else if matches!(g.form, Form::Stat(_)) {
        stat_value(&[])
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
    (rendered.iter().filter(|r| !r.local))
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
        if r.local {
            continue; // read on the controller, bound with the vars
        }
        let mut results = Vec::new();
        for (item, cmd) in &r.runs {
            let v = match cmd {
                None => skipped(),
                Some(c) => {
                    let o = outputs.get(&c.id).ok_or_else(|| {
                        format!("the probe did not report gather `{}` ({})", r.name, c.id)
                    })?;
                    value_of(c, o)
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
            for (g, role) in of_play_by_role(play) {
                let vars = self.with_role_path(&vars, role);
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

    /// The values of `play`'s gathers read on the controller (`local: true`), each rendered
    /// with `vars` and the ones before it; one that cannot be rendered is its stand-in (the
    /// problem is reported by [`Resolver::gathers_all`]).
    pub(super) fn bind_local(
        &self,
        play: &Play,
        host: &Host,
        mut vars: std::sync::Arc<super::template::LazyVars>,
    ) -> std::sync::Arc<super::template::LazyVars> {
        for (g, role) in of_play_by_role(play).filter(|(g, _)| g.local) {
            if self.extra_vars.contains_key(&g.name) {
                continue;
            }
            let v = match self.render_gather(g, &self.with_role_path(&vars, role), host, &[]) {
                Ok(r) => local_value(&r),
                Err(_) => stand_in(g),
            };
            vars = vars.with_bindings(&BTreeMap::from([(
                g.name.clone(),
                MValue::from_serialize(v),
            )]));
        }
        vars
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
            let located = |message: String| ResolveError {
                origin: g.origin.clone(),
                message: format!("gather `{}`: {message}", g.name),
                host: host.name.clone(),
            };
            let (command, shape) = match &g.form {
                Form::Command => (
                    r.string("command", &g.command)
                        .map_err(|e| fail("command", &g.command, e))?,
                    Shape::Command,
                ),
                Form::Find(spec) => {
                    let shown = crate::yaml::to_string(spec);
                    let v = r.value(spec).map_err(|e| fail("find", &shown, e))?;
                    let v = serde_json::to_value(&v).unwrap_or(JValue::Null);
                    let spec = find_spec(&v, g.local).map_err(|m| located(format!("find: {m}")))?;
                    (find_command(&spec), Shape::Find(spec))
                }
                Form::Stat(path) => {
                    let path = r.string("stat", path).map_err(|e| fail("stat", path, e))?;
                    if !g.local && !path.starts_with('/') {
                        return Err(located(format!(
                            "stat: expected an absolute path on the host, found `{path}`"
                        )));
                    }
                    (stat_command(&path), Shape::Stat(path))
                }
            };
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
                    shape,
                }),
            ));
        }
        Ok(Rendered {
            name: g.name.clone(),
            origin: g.origin.clone(),
            looped: g.loop_.is_some(),
            stand_in: stand_in(g),
            local: g.local,
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
    for g in of_play(play).filter(|g| !g.local) {
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
            shape: Shape::Command,
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
                stand_in: JValue::Null,
                local: false,
                loop_var: "item".into(),
                runs: vec![(JValue::Null, cmd("g0"))],
            },
            Rendered {
                name: "many".into(),
                origin: Origin::default(),
                looped: true,
                stand_in: JValue::Null,
                local: false,
                loop_var: "pkg".into(),
                runs: vec![(json!("a"), cmd("g1")), (json!("b"), None)],
            },
            Rendered {
                name: "off".into(),
                origin: Origin::default(),
                looped: false,
                stand_in: JValue::Null,
                local: false,
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

    fn entry(kind: char, path: &str) -> Entry {
        Entry {
            kind,
            mode: 0o644,
            size: 3,
            uid: 0,
            gid: 0,
            user: "root".into(),
            group: "root".into(),
            mtime: 1.5,
            path: path.into(),
        }
    }

    fn spec(y: &str) -> FindSpec {
        let v: JValue = serde_yaml::from_str(y).expect("yaml");
        find_spec(&v, false).expect("spec")
    }

    #[test]
    fn find_keeps_what_ansible_keeps() {
        let listed = [
            entry('f', "/etc/apt/a.list"),
            entry('f', "/etc/apt/a.list.save"),
            entry('f', "/etc/apt/.hidden.list"),
            entry('d', "/etc/apt/d.list"),
            entry('l', "/etc/apt/l.list"),
            entry('f', "/etc/apt/keep.conf"),
        ];
        let v = find_value(
            &spec("{paths: /etc/apt, patterns: ['*.list', '*.list.save']}"),
            &listed,
            false,
        );
        let paths: Vec<&str> = (v["files"].as_array().expect("files").iter())
            .map(|f| f["path"].as_str().expect("path"))
            .collect();
        assert_eq!(paths, ["/etc/apt/a.list", "/etc/apt/a.list.save"]);
        assert_eq!(
            (v["matched"].clone(), v["examined"].clone()),
            (json!(2), json!(6))
        );
        assert_eq!(v["files"][0]["mode"], "0644");
        assert_eq!(v["files"][0]["isreg"], json!(true));
        assert_eq!(v["files"][0]["pw_name"], "root");
        let v = find_value(
            &spec(
                "{paths: /etc/apt, pattern: '*.list', hidden: yes, file_type: any, excludes: 'l*'}",
            ),
            &listed,
            false,
        );
        assert_eq!(v["matched"], json!(3), "{v}");
        // Python regexes, matched at the start of the last part, lookaheads included
        let v = find_value(
            &spec(
                "{paths: /etc/init.d, patterns: '^php((?!8.3)(\\d\\.\\d))-fpm$', use_regex: true}",
            ),
            &[
                entry('f', "/etc/init.d/php7.4-fpm"),
                entry('f', "/etc/init.d/php8.3-fpm"),
                entry('f', "/etc/init.d/xphp7.4-fpm"),
            ],
            false,
        );
        assert_eq!(v["files"].as_array().map(Vec::len), Some(1), "{v}");
        assert_eq!(v["files"][0]["path"], "/etc/init.d/php7.4-fpm");
    }

    #[test]
    fn bad_find_specs_say_what() {
        let bad = |y: &str| {
            let v: JValue = serde_yaml::from_str(y).expect("yaml");
            find_spec(&v, false).expect_err(y)
        };
        assert!(bad("{paths: etc}").contains("absolute"));
        assert!(bad("{paths: /x, file_type: socket}").contains("file_type"));
        assert!(bad("{paths: /x, patterns: '(', use_regex: true}").contains("bad regex"));
        assert!(bad("{paths: /x, recurse: maybe}").contains("recurse"));
        let v: JValue = serde_yaml::from_str("{paths: templates}").expect("yaml");
        assert!(find_spec(&v, true).is_ok(), "relative on the controller");
    }

    #[test]
    fn stat_shapes_and_stand_ins() {
        let v = stat_value(&[entry('d', "/srv")]);
        assert_eq!(v["stat"]["exists"], json!(true));
        assert_eq!(v["stat"]["isdir"], json!(true));
        assert_eq!(stat_value(&[])["stat"], json!({"exists": false}));
        let g = |form: Form, looped: bool| Gather {
            name: "x".into(),
            command: String::new(),
            form,
            local: false,
            chdir: None,
            user: None,
            loop_: looped.then(|| crate::yaml::Value::Null),
            loop_var: "item".into(),
            when: None,
            origin: Origin::default(),
        };
        let f = stand_in(&g(Form::Find(crate::yaml::Value::Null), false));
        assert_eq!(
            (f["files"].clone(), f["matched"].clone()),
            (json!([]), json!(0))
        );
        let s = stand_in(&g(Form::Stat("/x".into()), false));
        assert_eq!(s["stat"]["exists"], json!(false));
        assert_eq!(
            stand_in(&g(Form::Stat("/x".into()), true))["results"],
            json!([])
        );
    }

    #[test]
    fn local_finds_read_this_machine() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::create_dir_all(d.join("all/sub")).expect("mkdir");
        std::fs::write(d.join("all/a.conf.j2"), "a").expect("write");
        std::fs::write(d.join("all/sub/b.conf.j2"), "b").expect("write");
        std::fs::write(d.join("all/c.txt"), "c").expect("write");
        let mut sp = spec("{paths: /x, patterns: '*.conf.j2', recurse: true}");
        sp.paths = vec![d.join("all").to_string_lossy().into_owned()];
        let cmd = GatherCmd {
            id: String::new(),
            command: String::new(),
            chdir: None,
            user: None,
            shape: Shape::Find(sp.clone()),
        };
        let r = Rendered {
            name: "found".into(),
            origin: Origin::default(),
            looped: false,
            stand_in: JValue::Null,
            local: false,
            loop_var: "item".into(),
            runs: vec![(JValue::Null, Some(cmd.clone()))],
        };
        let v = local_value(&r);
        let mut paths: Vec<String> = (v["files"].as_array().expect("files").iter())
            .map(|f| f["path"].as_str().unwrap_or("").to_string())
            .collect();
        paths.sort();
        let base = d.join("all").to_string_lossy().into_owned();
        assert_eq!(
            paths,
            [format!("{base}/a.conf.j2"), format!("{base}/sub/b.conf.j2")]
        );
        assert_eq!(v["examined"], json!(4), "{v}");
        let mut flat = r.clone();
        sp.recurse = false;
        flat.runs[0].1 = Some(GatherCmd {
            shape: Shape::Find(sp),
            ..cmd.clone()
        });
        assert_eq!(local_value(&flat)["matched"], json!(1));
        let mut st = r;
        st.runs[0].1 = Some(GatherCmd {
            shape: Shape::Stat(format!("{base}/sub")),
            ..cmd
        });
        assert_eq!(local_value(&st)["stat"]["isdir"], json!(true));
    }
}
