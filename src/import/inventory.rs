//! Ansible inventories: INI (`[group]`, `[group:vars]`, `[group:children]`, host ranges) or
//! YAML, read into groups with hosts and vars, written as play's YAML inventory.

use std::collections::BTreeMap;
use std::path::Path;

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::node::{self, plain_scalar};
use super::project::{self, Layout};
use super::template::Notes;
use super::{convert_vars_file, io, yaml_stem, ImportError};
use crate::yaml::{Mapping, Value};

/// A group: its hosts (with their vars), its vars and its child groups, in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    pub hosts: Vec<(String, Vec<(String, Value)>)>,
    pub vars: Vec<(String, Value)>,
    pub children: Vec<String>,
}

/// An inventory: groups by name (`all` and `ungrouped` included when used).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    pub groups: BTreeMap<String, Group>,
    /// Group names in the order first seen.
    pub order: Vec<String>,
}

impl Inventory {
    fn group(&mut self, name: &str) -> &mut Group {
        if !self.groups.contains_key(name) {
            self.order.push(name.to_string());
        }
        self.groups.entry(name.to_string()).or_default()
    }

    /// Every host name, once, in order.
    pub fn hosts(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for g in &self.order {
            for (h, _) in &self.groups[g].hosts {
                if !out.contains(h) {
                    out.push(h.clone());
                }
            }
        }
        out
    }
}

/// Expands `web[01:03].example.com` (numeric or alphabetic ranges, with an optional stride).
pub fn expand_host(pattern: &str) -> Vec<String> {
    let (Some(open), Some(close)) = (pattern.find('['), pattern.find(']')) else {
        return vec![pattern.to_string()];
    };
    if close < open {
        return vec![pattern.to_string()];
    }
    let (head, inner, tail) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    let mut parts = inner.split(':');
    let (Some(a), Some(b)) = (parts.next(), parts.next()) else {
        return vec![pattern.to_string()];
    };
    let stride: usize = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1);
    let mut out = Vec::new();
    if let (Ok(x), Ok(y)) = (a.parse::<u64>(), b.parse::<u64>()) {
        let width = if a.starts_with('0') { a.len() } else { 0 };
        for i in (x..=y).step_by(stride) {
            for rest in expand_host(tail) {
                out.push(format!("{head}{i:0width$}{rest}"));
            }
        }
    } else if let (Some(x), Some(y)) = (single_char(a), single_char(b)) {
        for c in (x..=y).step_by(stride) {
            for rest in expand_host(tail) {
                out.push(format!("{head}{c}{rest}"));
            }
        }
    } else {
        return vec![pattern.to_string()];
    }
    out
}

fn single_char(s: &str) -> Option<char> {
    let mut it = s.chars();
    match (it.next(), it.next()) {
        (Some(c), None) if c.is_ascii_alphabetic() => Some(c),
        _ => None,
    }
}

/// Splits `a=1 b="two words" c` into words, keeping quoted parts together (quotes removed).
pub fn split_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut started = false;
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                started = true;
            }
            None if c.is_whitespace() => {
                if started {
                    out.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            None => {
                cur.push(c);
                started = true;
            }
        }
    }
    if started {
        out.push(cur);
    }
    out
}

/// An INI value: typed like a YAML plain scalar (`true`, `22`), quoted values stay strings.
fn ini_value(raw: &str, quoted: bool) -> Value {
    if quoted {
        Value::String(raw.to_string())
    } else {
        plain_scalar(raw)
    }
}

fn key_value(word: &str, original: &str) -> Option<(String, Value)> {
    let (k, v) = word.split_once('=')?;
    let quoted = original.contains(&format!("{k}=\"")) || original.contains(&format!("{k}='"));
    Some((k.trim().to_string(), ini_value(v, quoted)))
}

/// Parses an INI inventory. Errors name the file and line.
pub fn parse_ini(file: &Path, text: &str) -> Result<Inventory, ImportError> {
    let mut inv = Inventory::default();
    enum Section {
        Hosts(String),
        Vars(String),
        Children(String),
    }
    let mut section = Section::Hosts("ungrouped".into());
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some(name) = rest.split(']').next().filter(|_| rest.contains(']')) else {
                return Err(ImportError::Syntax {
                    file: file.to_path_buf(),
                    line: i + 1,
                    column: 1,
                    message: format!("section header without `]`: {line}"),
                });
            };
            section = match name.split_once(':') {
                Some((g, "vars")) => Section::Vars(g.to_string()),
                Some((g, "children")) => Section::Children(g.to_string()),
                Some((_, other)) => {
                    return Err(ImportError::Syntax {
                        file: file.to_path_buf(),
                        line: i + 1,
                        column: 2 + name.find(':').unwrap_or(0),
                        message: format!(
                            "unknown section suffix `:{other}` (expected `:vars` or `:children`)"
                        ),
                    })
                }
                None => Section::Hosts(name.to_string()),
            };
            match &section {
                Section::Hosts(g) | Section::Vars(g) | Section::Children(g) => {
                    inv.group(g);
                }
            }
            continue;
        }
        match &section {
            Section::Hosts(g) => {
                let words = split_words(line);
                let Some(first) = words.first() else { continue };
                let vars: Vec<(String, Value)> = words[1..]
                    .iter()
                    .filter_map(|w| key_value(w, line))
                    .collect();
                let g = g.clone();
                for h in expand_host(first) {
                    inv.group(&g).hosts.push((h, vars.clone()));
                }
            }
            Section::Vars(g) => {
                let Some((k, v)) = line.split_once('=') else {
                    return Err(ImportError::Syntax {
                        file: file.to_path_buf(),
                        line: i + 1,
                        column: 1,
                        message: format!("expected `key=value` in [{g}:vars], found `{line}`"),
                    });
                };
                let v = v.trim();
                let quoted = v.len() >= 2
                    && ((v.starts_with('"') && v.ends_with('"'))
                        || (v.starts_with('\'') && v.ends_with('\'')));
                let v = if quoted { &v[1..v.len() - 1] } else { v };
                let g = g.clone();
                inv.group(&g)
                    .vars
                    .push((k.trim().to_string(), ini_value(v, quoted)));
            }
            Section::Children(g) => {
                let child = line.split_whitespace().next().unwrap_or(line).to_string();
                let g = g.clone();
                inv.group(&child);
                inv.group(&g).children.push(child);
            }
        }
    }
    if inv
        .groups
        .get("ungrouped")
        .is_some_and(|g| g.hosts.is_empty())
    {
        inv.groups.remove("ungrouped");
        inv.order.retain(|g| g != "ungrouped");
    }
    Ok(inv)
}

/// Parses a YAML inventory (`all: {hosts, vars, children}`).
pub fn parse_yaml(file: &Path, text: &str) -> Result<Inventory, ImportError> {
    let root = node::parse(file, text)?;
    let mut inv = Inventory::default();
    fn walk(inv: &mut Inventory, name: &str, n: &node::Node) {
        inv.group(name);
        if let Some(hosts) = n.get("hosts") {
            for (h, hv) in hosts.entries() {
                let vars = hv
                    .entries()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect();
                inv.group(name).hosts.push((h.clone(), vars));
            }
        }
        if let Some(vars) = n.get("vars") {
            let v: Vec<(String, Value)> = vars
                .entries()
                .iter()
                .map(|(k, v)| (k.clone(), v.to_value()))
                .collect();
            inv.group(name).vars.extend(v);
        }
        if let Some(children) = n.get("children") {
            for (c, cn) in children.entries() {
                inv.group(name).children.push(c.clone());
                walk(inv, c, cn);
            }
        }
    }
    for (g, n) in root.entries() {
        walk(&mut inv, g, n);
    }
    Ok(inv)
}

/// Reads an inventory file, INI or YAML by its content.
pub fn read(file: &Path) -> Result<Inventory, ImportError> {
    let text = std::fs::read_to_string(file).map_err(|e| ImportError::Io {
        path: file.to_path_buf(),
        message: e.to_string(),
    })?;
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .unwrap_or("");
    let yaml_like = first == "---" || (first.ends_with(':') && !first.starts_with('['));
    if yaml_like {
        parse_yaml(file, &text)
    } else {
        parse_ini(file, &text)
    }
}

fn vars_mapping(vars: &[(String, Value)]) -> Mapping {
    let mut m = Mapping::new();
    for (k, v) in vars {
        m.insert(Value::String(k.clone()), v.clone());
    }
    m
}

/// The inventory as play's YAML: `all` with every top-level group as a child.
pub fn to_yaml(inv: &Inventory) -> Value {
    let mut is_child = std::collections::BTreeSet::new();
    for g in inv.groups.values() {
        is_child.extend(g.children.iter().cloned());
    }
    fn group_value(inv: &Inventory, name: &str, depth: usize) -> Value {
        let mut m = Mapping::new();
        let Some(g) = inv.groups.get(name) else {
            return Value::Mapping(m);
        };
        if !g.hosts.is_empty() {
            let mut hosts = Mapping::new();
            for (h, vars) in &g.hosts {
                let v = if vars.is_empty() {
                    Value::Null
                } else {
                    Value::Mapping(vars_mapping(vars))
                };
                hosts.insert(Value::String(h.clone()), v);
            }
            m.insert("hosts".into(), Value::Mapping(hosts));
        }
        if !g.vars.is_empty() {
            m.insert("vars".into(), Value::Mapping(vars_mapping(&g.vars)));
        }
        if !g.children.is_empty() && depth < 32 {
            let mut c = Mapping::new();
            for child in &g.children {
                c.insert(
                    Value::String(child.clone()),
                    group_value(inv, child, depth + 1),
                );
            }
            m.insert("children".into(), Value::Mapping(c));
        }
        Value::Mapping(m)
    }
    let mut all = match group_value(inv, "all", 0) {
        Value::Mapping(m) => m,
        _ => Mapping::new(),
    };
    let mut children = match all.remove("children") {
        Some(Value::Mapping(m)) => m,
        _ => Mapping::new(),
    };
    for name in &inv.order {
        if name == "all" || is_child.contains(name) {
            continue;
        }
        children.insert(Value::String(name.clone()), group_value(inv, name, 0));
    }
    if !children.is_empty() {
        all.insert("children".into(), Value::Mapping(children));
    }
    let mut root = Mapping::new();
    root.insert("all".into(), Value::Mapping(all));
    Value::Mapping(root)
}

/// What [`import`] needs.
pub struct Import<'a> {
    pub out: &'a Path,
    pub root: &'a Path,
    /// `--inventory`, relative to the root.
    pub choice: Option<&'a Path>,
    pub layout: &'a Layout,
    /// The plays' host patterns (a stub inventory gets their groups).
    pub play_hosts: &'a [String],
    /// A play uses `become: yes`.
    pub any_become: bool,
    pub playbook_files: &'a [PathBuf],
}

/// What importing the inventory found.
#[derive(Debug, Default)]
pub struct Imported {
    /// The inventory file imported (relative to the root).
    pub used: Option<PathBuf>,
    pub notes: Vec<String>,
    pub template_notes: Notes,
}

/// The default of a host pattern that is one templated var with a literal default
/// (`{{ host_name | default('web') }}` → `web`).
fn pattern_default(pattern: &str) -> Option<String> {
    let inner = pattern.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let (_, filter) = inner.split_once('|')?;
    let arg = filter
        .trim()
        .strip_prefix("default(")
        .or_else(|| filter.trim().strip_prefix("d("))?
        .strip_suffix(')')?
        .trim();
    let q = arg.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let text = arg.strip_prefix(q)?.strip_suffix(q)?;
    (!text.contains(q)).then(|| text.to_string())
}

/// Chooses the inventory (`--inventory`, ansible.cfg's, else the first without vault files
/// beside it), writes it as `inventory/hosts.yml` (a stub when it has no host) with the
/// `group_vars/` and `host_vars/` beside it and beside the playbooks.
pub fn import(o: &Import, vaults: &mut Vec<PathBuf>) -> Result<Imported, ImportError> {
    let mut notes: Vec<String> = Vec::new();
    let out_inv = o.out.join("inventory");
    std::fs::create_dir_all(&out_inv).map_err(io(&out_inv))?;
    let mut inv_notes = Notes::default();
    let chosen: Vec<PathBuf> = match (o.choice, &o.layout.cfg_inventory) {
        (Some(i), _) => {
            let p = if i.is_absolute() {
                i.to_path_buf()
            } else {
                o.root.join(i)
            };
            if p.is_dir() {
                project::files_under(&p)
            } else {
                vec![p]
            }
        }
        (None, Some(p)) if p.is_dir() => project::files_under(p),
        (None, Some(p)) if p.is_file() => vec![p.clone()],
        _ => {
            let mut cands = o.layout.inventories.clone();
            // prefer an inventory without vault files beside it
            cands.sort_by_key(|p| {
                let dir = p.parent().unwrap_or(o.root);
                let has_vault = project::files_under(dir).iter().any(|f| {
                    std::fs::read_to_string(f)
                        .map(|t| project::is_vault(&t))
                        .unwrap_or(false)
                });
                (has_vault, p.components().count(), p.clone())
            });
            cands.into_iter().take(1).collect()
        }
    };
    let mut inv = Inventory::default();
    let mut inv_used = None;
    for f in &chosen {
        let i = read(f).map_err(|e| match e {
            ImportError::Syntax {
                line,
                column,
                message,
                ..
            } => ImportError::Syntax {
                file: f.strip_prefix(o.root).unwrap_or(f).to_path_buf(),
                line,
                column,
                message,
            },
            other => other,
        })?;
        for name in i.order.clone() {
            let g = i.groups[&name].clone();
            if !inv.groups.contains_key(&name) {
                inv.order.push(name.clone());
            }
            let e = inv.groups.entry(name).or_default();
            e.hosts.extend(g.hosts);
            e.vars.extend(g.vars);
            for c in g.children {
                if !e.children.contains(&c) {
                    e.children.push(c);
                }
            }
        }
        inv_used = Some(f.strip_prefix(o.root).unwrap_or(f).to_path_buf());
    }
    let others: Vec<String> = o
        .layout
        .inventories
        .iter()
        .filter(|p| !chosen.contains(p))
        .map(|p| format!("`{}`", p.strip_prefix(o.root).unwrap_or(p).display()))
        .collect();
    if !others.is_empty() {
        notes.push(format!(
            "other inventories not imported: {} (`--inventory PATH` picks one)",
            others.join(", ")
        ));
    }
    if inv.hosts().is_empty() {
        notes.push("no inventory with hosts: `inventory/hosts.yml` has one stub host `localhost` (127.0.0.1) in every group the plays name".into());
        let mut groups: BTreeSet<String> = BTreeSet::new();
        for h in o.play_hosts {
            // `{{ host_name | default('chat_servers') }}`: the default's groups.
            let h = pattern_default(h).unwrap_or_else(|| h.clone());
            for part in h.split([':', ',']) {
                let g = part.trim().trim_start_matches(['&', '!']);
                if !g.is_empty()
                    && g != "all"
                    && !g.contains('*')
                    && !g.contains("{{")
                    && !g.starts_with('~')
                {
                    groups.insert(g.to_string());
                }
            }
        }
        let stub = vec![("ssh_host".to_string(), Value::String("127.0.0.1".into()))];
        if groups.is_empty() {
            groups.insert("ungrouped".into());
        }
        for g in groups {
            inv.order.push(g.clone());
            inv.groups.insert(
                g,
                Group {
                    hosts: vec![("localhost".into(), stub.clone())],
                    ..Default::default()
                },
            );
        }
    }
    let mut host_notes = Vec::new();
    for g in inv.groups.values_mut() {
        for (h, vars) in g.hosts.iter_mut() {
            translate_host_vars(vars, &mut host_notes, h);
        }
    }
    host_notes.sort();
    host_notes.dedup();
    notes.extend(host_notes);
    if o.any_become {
        let all = inv.groups.entry("all".into()).or_default();
        if !all
            .vars
            .iter()
            .any(|(k, _)| k == "become" || k == "ansible_become")
        {
            all.vars.push(("become".into(), Value::Bool(true)));
            notes.push(
                "plays use `become: yes`: `inventory/hosts.yml` sets `become: true` for all hosts"
                    .into(),
            );
        }
        if !inv.order.contains(&"all".to_string()) {
            inv.order.insert(0, "all".into());
        }
    }
    let mut seen = BTreeSet::new();
    let mut var_dirs: Vec<PathBuf> = chosen
        .iter()
        .filter_map(|f| f.parent().map(Path::to_path_buf))
        .collect();
    for f in &chosen {
        // an inventory folder's group_vars sit beside the folder (hosts/ → ./group_vars)
        if let Some(p) = f.parent().and_then(Path::parent) {
            if o.layout.cfg_inventory.as_ref().is_some_and(|c| c.is_dir()) {
                var_dirs.push(p.to_path_buf());
            }
        }
    }
    for pb in o.playbook_files {
        if let Some(d) = pb.parent() {
            var_dirs.push(d.to_path_buf());
        }
    }
    var_dirs.push(o.root.to_path_buf());
    for d in var_dirs {
        vars_dirs(&d, &out_inv, o.root, vaults, &mut inv_notes, &mut seen)?;
    }
    // host_vars of hosts the inventory does not have
    if let Ok(rd) = std::fs::read_dir(out_inv.join("host_vars")) {
        let known = inv.hosts();
        let mut stray: Vec<String> = rd
            .filter_map(|e| e.ok())
            .map(|e| yaml_stem(&e.file_name().to_string_lossy()))
            .filter(|h| !known.contains(h))
            .collect();
        stray.sort();
        for h in stray {
            notes.push(format!(
                "`host_vars/{h}`: no host `{h}` in the imported inventory, so its vars apply to no host"
            ));
        }
    }
    let inv_text = format!(
        "# imported by `play import ansible`{}\n{}",
        inv_used
            .as_ref()
            .map(|p| format!(" from {}", p.display()))
            .unwrap_or_default(),
        crate::yaml::to_string(&to_yaml(&inv))
    );
    let inv_file = out_inv.join("hosts.yml");
    std::fs::write(&inv_file, inv_text).map_err(io(&inv_file))?;
    Ok(Imported {
        used: inv_used,
        notes,
        template_notes: inv_notes,
    })
}

/// Connection vars Ansible spells differently (or has and play does not).
fn translate_host_vars(vars: &mut Vec<(String, Value)>, notes: &mut Vec<String>, host: &str) {
    let mut out = Vec::new();
    for (k, v) in vars.drain(..) {
        match k.as_str() {
            "ansible_ssh_host" => out.push(("ssh_host".into(), v)),
            "ansible_ssh_port" => out.push(("ssh_port".into(), v)),
            "ansible_ssh_user" => out.push(("ssh_user".into(), v)),
            "ansible_connection" if v.as_str() == Some("local") => {
                notes.push(format!(
                    "`{host}`: `ansible_connection=local` became `ssh_host: 127.0.0.1` (play always connects over SSH)"
                ));
                out.push(("ssh_host".into(), Value::String("127.0.0.1".into())));
            }
            _ => out.push((k, v)),
        }
    }
    *vars = out;
}

/// Copies `group_vars/` and `host_vars/` of `dir` into the output inventory.
fn vars_dirs(
    dir: &Path,
    out_inv: &Path,
    root: &Path,
    vaults: &mut Vec<PathBuf>,
    notes: &mut Notes,
    seen: &mut BTreeSet<PathBuf>,
) -> Result<(), ImportError> {
    for kind in ["group_vars", "host_vars"] {
        let d = dir.join(kind);
        let Ok(canon) = d.canonicalize() else {
            continue;
        };
        if !seen.insert(canon) {
            continue;
        }
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for e in entries {
            let name = e
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            if e.is_dir() {
                for f in project::files_under(&e) {
                    let fname = f
                        .file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_default();
                    let to = out_inv
                        .join(kind)
                        .join(&name)
                        .join(format!("{}.yml", yaml_stem(&fname)));
                    convert_vars_file(&f, &to, root, vaults, notes)?;
                }
            } else {
                let to = out_inv.join(kind).join(format!("{}.yml", yaml_stem(&name)));
                convert_vars_file(&e, &to, root, vaults, notes)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_templated_pattern_with_a_literal_default_names_its_group() {
        let d = |p: &str| pattern_default(p);
        assert_eq!(
            d("{{ host_name | default('chat_servers') }}").as_deref(),
            Some("chat_servers")
        );
        assert_eq!(
            d("{{ h|default(\"web:&db\") }}").as_deref(),
            Some("web:&db")
        );
        assert_eq!(d("{{ h | d('web') }}").as_deref(), Some("web"));
        assert_eq!(d("{{ h | default(other) }}"), None);
        assert_eq!(d("web:&{{ env }}"), None);
        assert_eq!(d("web"), None);
    }

    #[test]
    fn ini_groups_vars_children_and_ranges() {
        let text = "\
# comment
lone.example.com
[web]
web[01:03].example.com ansible_user=deploy port=2222
[db]
db1 ansible_host=10.0.0.5 note=\"two words\"
[prod:children]
web
db
[prod:vars]
env=production
debug=no
";
        let inv = parse_ini(Path::new("hosts"), text).unwrap();
        assert_eq!(inv.order, ["ungrouped", "web", "db", "prod"]);
        let web = &inv.groups["web"];
        assert_eq!(
            web.hosts
                .iter()
                .map(|(h, _)| h.as_str())
                .collect::<Vec<_>>(),
            [
                "web01.example.com",
                "web02.example.com",
                "web03.example.com"
            ]
        );
        assert_eq!(
            web.hosts[0].1[1],
            ("port".into(), Value::Number(2222.into()))
        );
        assert_eq!(
            inv.groups["db"].hosts[0].1[1],
            ("note".into(), Value::String("two words".into()))
        );
        assert_eq!(inv.groups["prod"].children, ["web", "db"]);
        assert_eq!(
            inv.groups["prod"].vars[1],
            ("debug".into(), Value::Bool(false))
        );
        assert_eq!(inv.groups["ungrouped"].hosts[0].0, "lone.example.com");
        let y = crate::yaml::to_string(&to_yaml(&inv));
        assert!(y.contains("prod:"), "{y}");
        assert!(
            !y.contains("\n    web:\n      hosts"),
            "web is nested under prod: {y}"
        );
    }

    #[test]
    fn ini_errors_are_located() {
        let e = parse_ini(Path::new("hosts"), "[web\nhost1\n").unwrap_err();
        assert_eq!(e.to_string(), "hosts:1:1: section header without `]`: [web");
        let e = parse_ini(Path::new("hosts"), "[web:vars]\nnovalue\n").unwrap_err();
        assert!(
            e.to_string().starts_with("hosts:2:1: expected `key=value`"),
            "{e}"
        );
        let e = parse_ini(Path::new("hosts"), "[web:kids]\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("hosts:1:5: unknown section suffix"),
            "{e}"
        );
    }

    #[test]
    fn host_ranges() {
        assert_eq!(expand_host("a[1:3]"), ["a1", "a2", "a3"]);
        assert_eq!(expand_host("db-[a:c]"), ["db-a", "db-b", "db-c"]);
        assert_eq!(expand_host("n[0:4:2]x"), ["n0x", "n2x", "n4x"]);
        assert_eq!(expand_host("plain"), ["plain"]);
    }

    #[test]
    fn yaml_inventory() {
        let inv = parse_yaml(
            Path::new("i.yml"),
            "all:\n  vars: {a: 1}\n  children:\n    web:\n      hosts:\n        w1: {ansible_host: 1.2.3.4}\n",
        )
        .unwrap();
        assert_eq!(inv.groups["all"].children, ["web"]);
        assert_eq!(inv.groups["web"].hosts[0].0, "w1");
    }
}
