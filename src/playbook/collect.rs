//! Loading that reports every problem instead of the first.
//!
//! A YAML syntax error stops only its own file; an unknown key or a bad value stops only its
//! own resource (each resource is read on its own); a missing role, vars file or included file
//! stops only that role or file. What loaded is returned with the problems, so that resolving
//! can go on with it. `include:` entries are read here: the entries of the included file take
//! their place, each knowing the includes it was read through.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{
    display, entry, key_position, play_wait_for, read, read_vars_file, role_search_path,
    tags::parse_tags, Entry, Include, Play, Playbook, PlaybookError, RawPlay, RawResource, Role,
};
use crate::resources::Origin;
use crate::yaml::{self, Mapping, Value, YamlError};

type Positions = HashMap<String, (usize, usize)>;

/// The keys of an `include:` entry.
pub const INCLUDE_KEYS: &[&str] = &[
    "include", "when", "vars", "tags", "name", "loop", "loop_var",
];

/// The keys of a role given as a mapping in a play's `roles:`.
pub const ROLE_KEYS: &[&str] = &["role", "tags", "when", "vars", "name"];

fn join(prefix: &str, key: &str) -> String {
    match (prefix.is_empty(), key.is_empty()) {
        (true, _) => key.to_string(),
        (_, true) => prefix.to_string(),
        _ => format!("{prefix}.{key}"),
    }
}

fn origin_at(file: &Path, positions: &Positions, path: &str) -> Origin {
    let (line, column) = positions.get(path).copied().unwrap_or((0, 0));
    Origin {
        file: display(file),
        line,
        column,
    }
}

/// A deserialization error of the node at `path` (no position from serde): placed at the
/// unknown key it names, else at the node.
fn located(
    file: &Path,
    text: &str,
    positions: &Positions,
    path: &str,
    e: YamlError,
) -> PlaybookError {
    let key = e
        .message
        .split("unknown key `")
        .nth(1)
        .and_then(|rest| rest.split('`').next());
    let at = match key.and_then(|k| positions.get(&join(path, k)).map(|p| (k, *p))) {
        Some((k, value_pos)) => Some(key_position(text, k, value_pos)),
        None => positions.get(path).copied(),
    };
    YamlError::new(file, at, e.message).into()
}

fn invalid(origin: Origin, message: impl Into<String>) -> PlaybookError {
    PlaybookError::Invalid {
        origin,
        message: message.into(),
    }
}

/// One file being read: its text and the positions of its nodes.
struct Source<'a> {
    file: &'a Path,
    text: &'a str,
    positions: &'a Positions,
}

impl Source<'_> {
    fn at(&self, path: &str) -> Origin {
        origin_at(self.file, self.positions, path)
    }

    /// A problem of `key` of the node at `path`, placed at the key itself.
    fn at_key(&self, path: &str, key: &str, message: &str) -> PlaybookError {
        at_key(self.file, self.text, self.positions, path, key, message)
    }
}

/// Where entries are read: their role, and the includes they are read through.
#[derive(Debug, Clone, Default)]
struct Ctx<'a> {
    role: Option<&'a str>,
    /// Inside a role, `include:` paths are relative to the role's folder.
    role_dir: Option<&'a Path>,
    /// The files being read, outermost first (canonical path, as shown): cycles are refused.
    chain: Vec<(PathBuf, String)>,
    includes: Vec<Arc<Include>>,
    /// Tags of the includes read through.
    tags: BTreeSet<String>,
}

impl<'a> Ctx<'a> {
    /// The context of the top file `file` of a play's state or a role's.
    fn top(file: &Path, role: Option<(&'a str, &'a Path)>) -> Self {
        Ctx {
            role: role.map(|(n, _)| n),
            role_dir: role.map(|(_, d)| d),
            chain: vec![(canonical(file), display(file))],
            ..Ctx::default()
        }
    }
}

fn canonical(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

/// What reading found besides entries.
#[derive(Debug, Default)]
struct Found {
    problems: Vec<PlaybookError>,
    /// Every file read through `include:` (sources of a plan).
    included: Vec<PathBuf>,
}

/// Entries of a list of resources read one by one; problems collected. `include:` entries are
/// replaced by the entries of the file they include.
fn entries_all(
    src: &Source<'_>,
    items: Vec<Value>,
    prefix: &str,
    ctx: &Ctx<'_>,
    found: &mut Found,
) -> Vec<Entry> {
    let mut out = Vec::new();
    for (i, mut item) in items.into_iter().enumerate() {
        let path = join(prefix, &i.to_string());
        if let Value::Mapping(m) = &item {
            if m.contains_key("include") {
                out.extend(include(src, m, &path, ctx, found));
                continue;
            }
        }
        // Every unknown key is a problem of its own; the rest of the entry is still checked.
        let unknown = match &mut item {
            Value::Mapping(m) => super::habits::take_unknown_resource_keys(m),
            _ => Vec::new(),
        };
        for (key, message) in &unknown {
            found.problems.push(src.at_key(&path, key, message));
        }
        match yaml::from_value::<RawResource>(src.file, item) {
            Err(e) => found
                .problems
                .push(located(src.file, src.text, src.positions, &path, e)),
            Ok(raw) => match entry(src.file, src.positions, raw, &path, ctx.role) {
                Ok(mut e) if unknown.is_empty() => {
                    e.includes = ctx.includes.clone();
                    e.tags.extend(ctx.tags.iter().cloned());
                    out.push(e);
                }
                Ok(_) => {}
                Err(e) => found.problems.push(e),
            },
        }
    }
    out
}

/// The entries of an `include:` entry at `path`: those of the file it names, read with its
/// `when`, `vars` and `tags`.
fn include(
    src: &Source<'_>,
    m: &Mapping,
    path: &str,
    ctx: &Ctx<'_>,
    found: &mut Found,
) -> Vec<Entry> {
    let hint = |key: &str| match key {
        "with_items" | "with_list" => Some("Ansible's `with_items` is `loop:` here"),
        "loop_control" => Some("`loop_control.loop_var` is `loop_var:` here"),
        _ => None,
    };
    unknown_keys(src, path, m, (INCLUDE_KEYS, "an include"), hint, found);
    let at = |key: &str| src.at(&join(path, key));
    let name = match m.get("include") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        other => {
            found.problems.push(invalid(
                at("include"),
                format!(
                    "include: expected the path of a state file, found {}",
                    yaml::to_string(other.unwrap_or(&Value::Null)).trim()
                ),
            ));
            return Vec::new();
        }
    };
    if name.contains("{{") || name.contains("{%") {
        found.problems.push(invalid(
            at("include"),
            format!("include: `{name}` is a template; included files are read before any var is known, name the file as it is"),
        ));
        return Vec::new();
    }
    let base = match ctx.role_dir {
        Some(d) => d.to_path_buf(),
        None => match src.file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        },
    };
    let file = base.join(&name);
    if !file.is_file() {
        let relative = if ctx.role_dir.is_some() {
            "the role's folder"
        } else {
            "the including file"
        };
        found.problems.push(invalid(
            at("include"),
            format!(
                "included file `{name}` not found (looked for {}, relative to {relative})",
                display(&file)
            ),
        ));
        return Vec::new();
    }
    let real = canonical(&file);
    if let Some(first) = ctx.chain.iter().position(|(p, _)| *p == real) {
        let mut names: Vec<&str> = ctx.chain[first..].iter().map(|(_, s)| s.as_str()).collect();
        let shown = display(&file);
        names.push(&shown);
        found.problems.push(invalid(
            at("include"),
            format!("include cycle: {}", names.join(" → ")),
        ));
        return Vec::new();
    }
    let when = m.get("when").map(|w| (w.clone(), at("when")));
    let vars = vars_at(src, m.get("vars"), at("vars"), "include", found);
    let Some((loop_, loop_var)) = loop_at(m, &at, found) else {
        return Vec::new();
    };
    let tags = tags_at(m.get("tags"), || at("tags"), found).unwrap_or_default();
    found.included.push(file.clone());
    let parsed = read(&file).and_then(|t| {
        yaml::from_str::<Value>(&file, &t)
            .map(|v| (t, v))
            .map_err(PlaybookError::from)
    });
    let (text, value) = match parsed {
        Ok(p) => p,
        Err(e) => {
            found.problems.push(e);
            return Vec::new();
        }
    };
    let positions = yaml::node_positions(&text);
    let inner = Source {
        file: &file,
        text: &text,
        positions: &positions,
    };
    let mut sub = ctx.clone();
    sub.chain.push((real, display(&file)));
    sub.includes.push(Arc::new(Include {
        file: file.clone(),
        origin: src.at(path),
        when,
        vars,
        loop_,
        loop_var,
    }));
    sub.tags.extend(tags);
    let items = list_items(&inner, "", value, &mut found.problems);
    entries_all(&inner, items, "", &sub, found)
}

/// Reads and parses `f`, then gives `use_` its source (text and node positions) and value;
/// `None` (the problem said) when it cannot be read or parsed.
fn with_source<T>(
    f: &Path,
    found: &mut Found,
    use_: impl FnOnce(&Source<'_>, Value, &mut Found) -> T,
) -> Option<T> {
    let parsed = read(f).and_then(|t| {
        yaml::from_str::<Value>(f, &t)
            .map(|v| (t, v))
            .map_err(PlaybookError::from)
    });
    match parsed {
        Err(e) => {
            found.problems.push(e);
            None
        }
        Ok((text, v)) => {
            let positions = yaml::node_positions(&text);
            let src = Source {
                file: f,
                text: &text,
                positions: &positions,
            };
            Some(use_(&src, v, found))
        }
    }
}

/// The gathers of a `gather:` mapping at `path` (a play's, or a role's `gather.yml`).
fn gathers_at(src: &Source<'_>, path: &str, v: &Value, found: &mut Found) -> Vec<super::Gather> {
    // A name's value is often a block mapping starting on the next line: then the key is on
    // the line above (comments and blank lines skipped).
    let at_key = |p: &str, k: &str| match src.positions.get(&join(p, k)) {
        Some(&(vline, vcol)) => {
            let same = super::key_position(src.text, k, (vline, vcol));
            let above = || {
                let lines: Vec<&str> = src.text.lines().collect();
                let n = (1..vline.min(lines.len() + 1)).rev().find(|n| {
                    let t = lines[n - 1].trim_start();
                    !t.is_empty() && !t.starts_with('#')
                })?;
                let l = lines[n - 1];
                let t = l.trim_start();
                let keys = [format!("{k}:"), format!("'{k}':"), format!("\"{k}\":")];
                keys.iter()
                    .any(|q| t.starts_with(q.as_str()))
                    .then(|| (n, l.len() - t.len() + 1))
            };
            let (line, column) = if same != (vline, vcol) {
                same
            } else {
                above().unwrap_or(same)
            };
            Origin {
                file: display(src.file),
                line,
                column,
            }
        }
        None => src.at(p),
    };
    let (gathers, problems) = super::gather::parse(v, path, &|p| src.at(p), &at_key);
    found
        .problems
        .extend(problems.into_iter().map(|(o, m)| invalid(o, m)));
    gathers
}

/// The `vars:` of an include or a role entry (`what`), a problem at `origin` when bad.
fn vars_at(
    src: &Source<'_>,
    v: Option<&Value>,
    origin: Origin,
    what: &str,
    found: &mut Found,
) -> Vec<(String, Value)> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => match yaml::from_value::<crate::inventory::OrderedVars>(src.file, v.clone()) {
            Ok(v) => v.0,
            Err(e) => {
                found
                    .problems
                    .push(invalid(origin, format!("{what}: vars: {}", e.message)));
                Vec::new()
            }
        },
    }
}

/// The `loop:` (with its origin) and `loop_var` of an include, as a resource takes them;
/// `None` when they are bad (a problem said).
#[allow(clippy::type_complexity)]
fn loop_at(
    m: &Mapping,
    at: &dyn Fn(&str) -> Origin,
    found: &mut Found,
) -> Option<(Option<(Value, Origin)>, String)> {
    let loop_ = m.get("loop").map(|l| (l.clone(), at("loop")));
    let loop_var = match m.get("loop_var") {
        None => "item".to_string(),
        Some(Value::String(v)) if is_identifier(v) => v.clone(),
        Some(other) => {
            found.problems.push(invalid(
                at("loop_var"),
                format!(
                    "loop_var: expected a variable name, found {}",
                    yaml::to_string(other).trim()
                ),
            ));
            return None;
        }
    };
    if loop_.is_none() && m.contains_key("loop_var") {
        found
            .problems
            .push(invalid(at("loop_var"), "`loop_var` without `loop`"));
        return None;
    }
    Some((loop_, loop_var))
}

/// A name a template can use as a variable.
pub(super) fn is_identifier(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// The keys of mapping `m` at `path` that are not `valid.0`: a problem each, at the key,
/// listing the keys of `valid.1` with `hint`'s word for some. Whether there were any.
fn unknown_keys(
    src: &Source<'_>,
    path: &str,
    m: &Mapping,
    valid: (&[&str], &str),
    hint: impl Fn(&str) -> Option<&'static str>,
    found: &mut Found,
) -> bool {
    let mut any = false;
    for k in m.keys() {
        let key = match k {
            Value::String(s) => s.as_str(),
            _ => "?",
        };
        if !valid.0.contains(&key) {
            let msg = super::habits::message(key, hint(key), valid.0, valid.1);
            found.problems.push(src.at_key(path, key, &msg));
            any = true;
        }
    }
    any
}

/// The tags of a `tags:` value (none: empty); `None` when it is bad (a problem at `origin`).
fn tags_at(
    v: Option<&Value>,
    origin: impl FnOnce() -> Origin,
    found: &mut Found,
) -> Option<BTreeSet<String>> {
    match v.map(parse_tags) {
        None => Some(BTreeSet::new()),
        Some(Ok(t)) => Some(t),
        Some(Err(message)) => {
            found.problems.push(invalid(origin(), message));
            None
        }
    }
}

/// A problem of `key` of the node at `path`, placed at the key itself.
fn at_key(
    file: &Path,
    text: &str,
    positions: &Positions,
    path: &str,
    key: &str,
    message: &str,
) -> PlaybookError {
    let at = match positions.get(&join(path, key)) {
        Some(value_pos) => Some(key_position(text, key, *value_pos)),
        None => positions.get(path).copied(),
    };
    YamlError::new(file, at, message).into()
}

/// The items of a resource list value (`null` is empty).
fn list_items(
    src: &Source<'_>,
    path: &str,
    v: Value,
    problems: &mut Vec<PlaybookError>,
) -> Vec<Value> {
    match v {
        Value::Sequence(items) => items,
        Value::Null => Vec::new(),
        _ => {
            problems.push(invalid(src.at(path), "expected a list of resources"));
            Vec::new()
        }
    }
}

/// What a play's `roles:` entry gives every resource of its role.
#[derive(Debug, Default)]
struct RoleParams {
    tags: BTreeSet<String>,
    /// `when:` with where it stands.
    when: Option<(Value, Origin)>,
    /// `vars:` (Ansible's role params).
    vars: Vec<(String, Value)>,
}

/// A role with every problem of its files; `params` are given to each of its entries (its
/// `when` and `vars` as those of an include the entries were read through, outermost).
fn role_all(
    name: &str,
    playbook_dir: &Path,
    origin: &Origin,
    params: RoleParams,
    found: &mut Found,
) -> Option<Role> {
    let search = role_search_path(playbook_dir);
    let Some(dir) = search.iter().map(|d| d.join(name)).find(|d| d.is_dir()) else {
        found.problems.push(invalid(
            origin.clone(),
            format!(
                "role `{name}` not found (looked in {})",
                search
                    .iter()
                    .map(|d| display(d))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
        return None;
    };
    let mut defaults = Vec::new();
    if let Some(f) = ["defaults.yml", "defaults.yaml"]
        .iter()
        .map(|f| dir.join(f))
        .find(|f| f.is_file())
    {
        match read(&f).and_then(|t| {
            yaml::from_str::<crate::inventory::OrderedVars>(&f, &t).map_err(PlaybookError::from)
        }) {
            Ok(v) => defaults = v.0,
            Err(e) => found.problems.push(e),
        }
    }
    let mut state = Vec::new();
    let state_file = ["state.yml", "state.yaml"]
        .iter()
        .map(|f| dir.join(f))
        .find(|f| f.is_file());
    if let Some(f) = &state_file {
        let f = f.as_path();
        state = with_source(f, found, |src, v, found| {
            let items = list_items(src, "", v, &mut found.problems);
            let ctx = Ctx::top(f, Some((name, &dir)));
            entries_all(src, items, "", &ctx, found)
        })
        .unwrap_or_default();
    } else if let Some(e) = super::ansible_layout(name, &dir, origin) {
        found.problems.push(e);
    }
    let as_include = (params.when.is_some() || !params.vars.is_empty()).then(|| {
        Arc::new(Include {
            file: state_file.clone().unwrap_or_else(|| dir.clone()),
            origin: origin.clone(),
            when: params.when,
            vars: params.vars,
            loop_: None,
            loop_var: "item".into(),
        })
    });
    for e in &mut state {
        e.tags.extend(params.tags.iter().cloned());
        if let Some(i) = &as_include {
            e.includes.insert(0, i.clone());
        }
    }
    let gathers = ["gather.yml", "gather.yaml"]
        .iter()
        .map(|f| dir.join(f))
        .find(|f| f.is_file())
        .and_then(|f| with_source(&f, found, |src, v, found| gathers_at(src, "", &v, found)))
        .unwrap_or_default();
    Some(Role {
        name: name.to_string(),
        dir,
        defaults,
        state,
        gathers,
    })
}

/// The roles of a play's `roles:`: names, or `{role: NAME, tags: [...]}`.
fn play_roles(
    src: &Source<'_>,
    play: &str,
    refs: &[Value],
    dir: &Path,
    found: &mut Found,
) -> Vec<Role> {
    let mut roles = Vec::new();
    for (j, r) in refs.iter().enumerate() {
        let path = format!("{play}.roles.{j}");
        let origin = src.at(&path);
        let (name, params) = match r {
            Value::String(name) => (name.clone(), RoleParams::default()),
            Value::Mapping(m) => {
                let hint = |key: &str| match key {
                    "loop" | "with_items" => Some(
                        "a role is not looped: list it once per item with its `vars:`, or \
                         `include:` a file of its state with `loop:`",
                    ),
                    "become" | "become_user" => Some(
                        "privilege is the inventory's: `become: true` on the host or group; a \
                         command runs as another user with `user: NAME`",
                    ),
                    _ => None,
                };
                let bad = unknown_keys(src, &path, m, (ROLE_KEYS, "a role"), hint, found);
                let name = match m.get("role") {
                    Some(Value::String(n)) => n.clone(),
                    _ => {
                        found.problems.push(invalid(
                            origin,
                            "a role is its name, or a mapping `{role: NAME, tags: [...]}`",
                        ));
                        continue;
                    }
                };
                let at = |key: &str| src.at(&join(&path, key));
                let vars = vars_at(src, m.get("vars"), at("vars"), "role", found);
                let when = m.get("when").map(|w| (w.clone(), at("when")));
                match tags_at(m.get("tags"), || at("tags"), found) {
                    Some(tags) if !bad => (name, RoleParams { tags, when, vars }),
                    _ => continue,
                }
            }
            other => {
                found.problems.push(invalid(
                    origin,
                    format!(
                        "a role is its name, or a mapping `{{role: NAME, tags: [...]}}`, found {}",
                        yaml::to_string(other).trim()
                    ),
                ));
                continue;
            }
        };
        if let Some(role) = role_all(&name, dir, &origin, params, found) {
            roles.push(role);
        }
    }
    roles
}

/// Loads a playbook with its roles and vars files, collecting every problem. The playbook is
/// `None` only when its own file cannot be read or parsed; otherwise it holds what loaded
/// (plays with a bad header are left out, resources with problems too).
pub fn load_all(path: &Path) -> (Option<Playbook>, Vec<PlaybookError>) {
    let mut found = Found::default();
    let text = match read(path) {
        Ok(t) => t,
        Err(e) => return (None, vec![e]),
    };
    let value: Value = match yaml::from_str(path, &text) {
        Ok(v) => v,
        Err(e) => return (None, vec![e.into()]),
    };
    let positions = yaml::node_positions(&text);
    let src = Source {
        file: path,
        text: &text,
        positions: &positions,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => Path::new(".").to_path_buf(),
    };
    let items = match value {
        Value::Sequence(items) => items,
        Value::Null => Vec::new(),
        _ => {
            found
                .problems
                .push(invalid(src.at(""), "a playbook is a list of plays"));
            return (None, found.problems);
        }
    };
    let mut plays = Vec::new();
    for (i, mut item) in items.into_iter().enumerate() {
        let prefix = i.to_string();
        let pos = |k: &str| src.at(&join(&prefix, k));
        // The state is read resource by resource, apart from the play's other keys.
        let state_value = match &mut item {
            Value::Mapping(m) => m.remove("state"),
            _ => None,
        };
        let gather_value = match &mut item {
            Value::Mapping(m) => m.remove("gather"),
            _ => None,
        };
        let gathers = gather_value
            .map(|v| gathers_at(&src, &join(&prefix, "gather"), &v, &mut found))
            .unwrap_or_default();
        // Every unknown key of the play is a problem of its own.
        let mut unknown = false;
        if let Value::Mapping(m) = &mut item {
            for (key, message) in super::habits::take_unknown_play_keys(m) {
                found.problems.push(src.at_key(&prefix, &key, &message));
                unknown = true;
            }
        }
        let state_items = state_value
            .map(|v| list_items(&src, &join(&prefix, "state"), v, &mut found.problems))
            .unwrap_or_default();
        let mut state = entries_all(
            &src,
            state_items,
            &join(&prefix, "state"),
            &Ctx::top(path, None),
            &mut found,
        );
        let rp: RawPlay = match yaml::from_value(path, item) {
            Ok(rp) => rp,
            // `hsts:` already said, `hosts` is missing.
            Err(e) if unknown && e.message.starts_with("missing field") => continue,
            Err(e) => {
                found
                    .problems
                    .push(located(path, &text, &positions, &prefix, e));
                continue;
            }
        };
        let mut vars_files = Vec::new();
        for (j, f) in rp.vars_files.iter().enumerate() {
            let fp = dir.join(f);
            if !fp.is_file() {
                found.problems.push(invalid(
                    pos(&format!("vars_files.{j}")),
                    format!("vars file `{f}` not found (looked for {})", display(&fp)),
                ));
                continue;
            }
            match read_vars_file(&fp) {
                Ok(v) => vars_files.push((fp, v)),
                Err(e) => found.problems.push(e),
            }
        }
        let mut roles = play_roles(&src, &prefix, &rp.roles, &dir, &mut found);
        let play_tags = tags_at(rp.tags.as_ref(), || pos("tags"), &mut found).unwrap_or_default();
        for e in roles
            .iter_mut()
            .flat_map(|r| r.state.iter_mut())
            .chain(state.iter_mut())
        {
            e.tags.extend(play_tags.iter().cloned());
        }
        let (serial, max_fail_percentage) = match rp.batching() {
            Ok(b) => b,
            Err(message) => {
                found.problems.push(invalid(pos("serial"), message));
                (Vec::new(), None)
            }
        };
        let wait_for = play_wait_for(path, &text, &positions, &prefix, rp.wait_for.as_ref())
            .unwrap_or_else(|e| {
                found.problems.push(e);
                None
            });
        plays.push(Play {
            named: rp.name.is_some(),
            name: rp.name.unwrap_or_else(|| rp.hosts.clone()),
            hosts: rp.hosts,
            serial,
            max_fail_percentage,
            wait_for,
            vars: rp.vars.map(|v| v.0).unwrap_or_default(),
            vars_files,
            roles,
            state,
            gathers,
            origin: pos(""),
        });
    }
    let mut included = found.included;
    included.sort();
    included.dedup();
    (
        Some(Playbook {
            path: path.to_path_buf(),
            dir,
            plays,
            included,
        }),
        found.problems,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    /// Writes `files` (path, text) into a new folder and loads its `site.yml`, which must
    /// have no problem.
    fn loaded(files: &[(&str, &str)]) -> Playbook {
        let dir = tempfile::tempdir().expect("tempdir");
        for (rel, text) in files {
            write(dir.path(), rel, text);
        }
        let (pb, problems) = load_all(&dir.path().join("site.yml"));
        assert!(problems.is_empty(), "{problems:?}");
        pb.expect("loaded")
    }

    #[test]
    fn every_problem_of_a_playbook_and_its_roles() {
        let dir = tempfile::tempdir().expect("tempdir");
        let w = |rel: &str, text: &str| write(dir.path(), rel, text);
        w(
            "site.yml",
            "- hosts: all\n  roles: [good, broken, missing]\n  vars_files: [nope.yml]\n  state:\n    - file: /a\n      ownr: root\n    - file: /b\n      content: x\n    - directory: /c\n      target: /d\n- hsts: x\n",
        );
        w("roles/good/state.yml", "- file: /g\n  content: ok\n");
        w("roles/broken/state.yml", "- file: /x\n  mode: [\n");
        let (pb, problems) = load_all(&dir.path().join("site.yml"));
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        let all = text.join("\n");
        assert_eq!(problems.len(), 6, "{all}");
        assert!(
            all.contains("site.yml:6:7: unknown key `ownr`, did you mean `owner`?"),
            "{all}"
        );
        assert!(all.contains("broken/state.yml:"), "{all}");
        assert!(all.contains("role `missing` not found"), "{all}");
        assert!(all.contains("vars file `nope.yml` not found"), "{all}");
        assert!(
            all.contains("site.yml:9:7: key `target` does not apply to a directory"),
            "{all}"
        );
        assert!(
            all.contains("site.yml:11:3: unknown key `hsts`, did you mean `hosts`?"),
            "{all}"
        );
        let pb = pb.expect("the playbook loaded");
        assert_eq!(pb.plays.len(), 1);
        assert_eq!(pb.plays[0].state.len(), 1, "only /b is good");
        let roles: Vec<&str> = pb.plays[0].roles.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(roles, ["good", "broken"]);
        assert_eq!(pb.plays[0].roles[0].state.len(), 1);
    }

    /// Included entries take the include's place, each with its includes (outermost first)
    /// and its inherited tags; the included files are listed once.
    #[test]
    fn includes_are_read_in_place_with_what_they_carry() {
        let pb = loaded(&[
            (
                "site.yml",
                "- hosts: all\n  tags: p\n  roles: [{role: r, tags: [role]}]\n  state:\n    - file: /a\n    - include: inc/one.yml\n      vars: {x: 1}\n      tags: [one]\n      when: y\n    - file: /z\n",
            ),
            (
                "inc/one.yml",
                "- file: /b\n  tags: own\n- include: two.yml\n  vars: {x: 2}\n",
            ),
            ("inc/two.yml", "- file: /c\n"),
            ("roles/r/state.yml", "- include: more.yml\n"),
            ("roles/r/more.yml", "- file: /r\n"),
        ]);
        let play = &pb.plays[0];
        let keys: Vec<&str> = play
            .state
            .iter()
            .filter_map(|e| e.raw.text("file"))
            .collect();
        assert_eq!(keys, ["/a", "/b", "/c", "/z"]);
        let tags = |e: &Entry| e.tags.iter().cloned().collect::<Vec<String>>();
        assert_eq!(tags(&play.state[0]), ["p"]);
        assert_eq!(tags(&play.state[1]), ["one", "own", "p"]);
        assert_eq!(tags(&play.state[2]), ["one", "p"]);
        assert_eq!(tags(&play.roles[0].state[0]), ["p", "role"]);
        let c = &play.state[2];
        assert_eq!(c.includes.len(), 2);
        assert_eq!(c.includes[0].vars[0].0, "x");
        assert!(c.includes[0].when.is_some() && c.includes[1].when.is_none());
        assert!(c.origin.file.ends_with("inc/two.yml"), "{}", c.origin);
        assert!(c.includes[1].origin.file.ends_with("inc/one.yml"));
        assert_eq!(
            (c.includes[1].origin.line, c.includes[1].origin.column),
            (3, 3)
        );
        assert_eq!(pb.included.len(), 3, "{:?}", pb.included);
        assert_eq!(pb.tags().len(), 4);
    }

    /// A role entry's `when` and `vars` are those of an outermost include of each of its
    /// entries; an include's `loop` and `loop_var` are kept for resolving.
    #[test]
    fn role_params_and_include_loops_are_carried() {
        let pb = loaded(&[
            (
                "site.yml",
                "- hosts: all\n  roles:\n    - {role: r, when: a, vars: {x: 1}, name: R}\n    - r\n",
            ),
            (
                "roles/r/state.yml",
                "- include: more.yml\n  loop: [1, 2]\n  loop_var: n\n  when: b\n",
            ),
            ("roles/r/more.yml", "- file: /r\n"),
        ]);
        let play = &pb.plays[0];
        let e = &play.roles[0].state[0];
        assert_eq!(e.includes.len(), 2);
        let (role, inc) = (&e.includes[0], &e.includes[1]);
        assert_eq!(role.vars[0].0, "x");
        assert_eq!(role.when.as_ref().map(|w| w.0.clone()), Some("a".into()));
        assert_eq!((role.origin.line, role.origin.column), (3, 8));
        assert!(role.loop_.is_none());
        assert_eq!(inc.loop_var, "n");
        assert_eq!(
            inc.loop_.as_ref().map(|l| (l.1.line, l.1.column)),
            Some((2, 9))
        );
        // Listed without params: its entries read only through their own include.
        assert_eq!(play.roles[1].state[0].includes.len(), 1);
    }

    #[test]
    fn a_clean_playbook_loads_as_with_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("site.yml");
        std::fs::write(
            &p,
            "- hosts: web\n  vars: {a: 1}\n  state:\n    - file: /etc/motd\n      content: hi\n",
        )
        .expect("write");
        let (pb, problems) = load_all(&p);
        assert!(problems.is_empty(), "{problems:?}");
        let pb = pb.expect("loaded");
        let plain = super::super::load(&p).expect("load");
        assert_eq!(pb.plays.len(), plain.plays.len());
        assert_eq!(pb.plays[0].state[0].origin, plain.plays[0].state[0].origin);
        assert_eq!(
            pb.plays[0].state[0].key_positions,
            plain.plays[0].state[0].key_positions
        );
    }
}
