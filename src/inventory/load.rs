//! Reading inventory files, `group_vars/`, `host_vars/` and extra vars.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use super::{Group, Host, Inventory, InventoryError, Vars};
use crate::yaml::{self, Value, YamlError};

/// A YAML mapping that keeps its order and whose keys are strings.
#[derive(Debug, Clone)]
pub struct OrderedMap<V>(pub Vec<(String, V)>);

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        OrderedMap(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V2<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for V2<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(OrderedMap(Vec::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<KeyString, V>()? {
                    out.push((k.0, v));
                }
                Ok(OrderedMap(out))
            }
        }
        d.deserialize_any(V2(PhantomData))
    }
}

/// A mapping key: strings, and numbers or booleans written as keys (`10.0.0.1`, `01`).
struct KeyString(String);

impl<'de> Deserialize<'de> for KeyString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(KeyString(s)),
            Value::Number(n) => Ok(KeyString(n.to_string())),
            Value::Bool(b) => Ok(KeyString(b.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "expected a name as key, found {}",
                describe(&other)
            ))),
        }
    }
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// One group in the inventory file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    #[serde(default)]
    hosts: Option<OrderedMap<Option<OrderedMap<Value>>>>,
    #[serde(default)]
    vars: Option<OrderedMap<Value>>,
    #[serde(default)]
    children: Option<OrderedMap<Option<RawGroup>>>,
}

/// Loads an inventory from a file or folder, applying `extra_vars` last.
pub fn load(path: &Path, extra_vars: &Vars) -> Result<Inventory, InventoryError> {
    let (file, base) = if path.is_dir() {
        let file = ["hosts.yml", "hosts.yaml"]
            .iter()
            .map(|n| path.join(n))
            .find(|p| p.is_file())
            .ok_or_else(|| InventoryError::Invalid {
                path: path.to_path_buf(),
                message: "inventory folder has no hosts.yml".into(),
            })?;
        (file, path.to_path_buf())
    } else if path.is_file() {
        (path.to_path_buf(), super::base_dir(path))
    } else {
        return Err(InventoryError::Invalid {
            path: path.to_path_buf(),
            message: "no such inventory file or folder (give one with -i PATH)".into(),
        });
    };
    let top: OrderedMap<Option<RawGroup>> = yaml::from_file(&file)?;
    let mut b = Builder::default();
    b.group_mut("all");
    for (name, raw) in top.0 {
        if name != "all" {
            b.link("all", &name);
        }
        b.add_group(&name, raw.unwrap_or_default(), &file)?;
    }
    let mut inv = b.finish(&file)?;
    inv.source = path.to_path_buf();
    resolve_vars(&mut inv, &base, extra_vars)?;
    Ok(inv)
}

#[derive(Default)]
struct Builder {
    groups: BTreeMap<String, Group>,
    group_order: Vec<String>,
    host_order: Vec<String>,
    host_vars: BTreeMap<String, Vars>,
}

impl Builder {
    fn group_mut(&mut self, name: &str) -> &mut Group {
        if !self.groups.contains_key(name) {
            self.group_order.push(name.to_string());
        }
        self.groups
            .entry(name.to_string())
            .or_insert_with(|| Group {
                name: name.to_string(),
                ..Group::default()
            })
    }

    fn link(&mut self, parent: &str, child: &str) {
        let p = self.group_mut(parent);
        if !p.children.iter().any(|c| c == child) {
            p.children.push(child.to_string());
        }
        let c = self.group_mut(child);
        if !c.parents.iter().any(|x| x == parent) {
            c.parents.push(parent.to_string());
        }
    }

    fn add_group(&mut self, name: &str, raw: RawGroup, file: &Path) -> Result<(), InventoryError> {
        check_name(name, "group", file)?;
        self.group_mut(name);
        if let Some(vars) = raw.vars {
            let g = self.group_mut(name);
            for (k, v) in vars.0 {
                g.vars.insert(k, v);
            }
        }
        if let Some(hosts) = raw.hosts {
            for (host, vars) in hosts.0 {
                check_name(&host, "host", file)?;
                if !self.host_order.contains(&host) {
                    self.host_order.push(host.clone());
                }
                let g = self.group_mut(name);
                if !g.hosts.contains(&host) {
                    g.hosts.push(host.clone());
                }
                let hv = self.host_vars.entry(host).or_default();
                for (k, v) in vars.unwrap_or_default().0 {
                    hv.insert(k, v);
                }
            }
        }
        if let Some(children) = raw.children {
            for (child, raw_child) in children.0 {
                self.link(name, &child);
                self.add_group(&child, raw_child.unwrap_or_default(), file)?;
            }
        }
        Ok(())
    }

    fn finish(mut self, file: &Path) -> Result<Inventory, InventoryError> {
        // Hosts that are in no group but `all` go to `ungrouped`.
        self.group_mut("ungrouped");
        if !self.groups["all"].children.iter().any(|c| c == "ungrouped") {
            self.link("all", "ungrouped");
        }
        let in_group: BTreeSet<String> = self
            .groups
            .values()
            .filter(|g| g.name != "all")
            .flat_map(|g| g.hosts.iter().cloned())
            .collect();
        let loose: Vec<String> = self.groups["all"]
            .hosts
            .iter()
            .filter(|h| !in_group.contains(*h))
            .cloned()
            .collect();
        self.group_mut("ungrouped").hosts.extend(loose);

        // Depth = longest path from `all`; a cycle is an error.
        let names: Vec<String> = self.group_order.clone();
        for name in &names {
            let d = depth(&self.groups, name, &mut Vec::new()).map_err(|cycle| {
                InventoryError::Invalid {
                    path: file.to_path_buf(),
                    message: format!("group cycle: {}", cycle.join(" -> ")),
                }
            })?;
            self.group_mut(name).depth = d;
        }

        let mut inv = Inventory {
            source: file.to_path_buf(),
            hosts: Vec::new(),
            groups: self.groups,
        };
        for name in &self.host_order {
            let mut groups: Vec<String> = inv
                .groups
                .keys()
                .filter(|g| *g != "all")
                .filter(|g| member_of(&inv.groups, g, name, &mut BTreeSet::new()))
                .cloned()
                .collect();
            groups.sort();
            groups.dedup();
            inv.hosts.push(Host {
                name: name.clone(),
                groups,
                vars: self.host_vars.remove(name).unwrap_or_default(),
            });
        }
        Ok(inv)
    }
}

fn member_of(
    groups: &BTreeMap<String, Group>,
    group: &str,
    host: &str,
    seen: &mut BTreeSet<String>,
) -> bool {
    if !seen.insert(group.to_string()) {
        return false;
    }
    match groups.get(group) {
        Some(g) => {
            g.hosts.iter().any(|h| h == host)
                || g.children.iter().any(|c| member_of(groups, c, host, seen))
        }
        None => false,
    }
}

fn depth(
    groups: &BTreeMap<String, Group>,
    name: &str,
    stack: &mut Vec<String>,
) -> Result<usize, Vec<String>> {
    if stack.iter().any(|s| s == name) {
        let mut cycle = stack.clone();
        cycle.push(name.to_string());
        return Err(cycle);
    }
    let Some(g) = groups.get(name) else {
        return Ok(0);
    };
    if g.parents.is_empty() {
        return Ok(0);
    }
    stack.push(name.to_string());
    let mut best = 0;
    for p in &g.parents {
        best = best.max(depth(groups, p, stack)? + 1);
    }
    stack.pop();
    Ok(best)
}

fn check_name(name: &str, what: &str, file: &Path) -> Result<(), InventoryError> {
    let ok = !name.is_empty()
        && !name.starts_with(['!', '&', '~'])
        && !name.contains([':', ',', ' ', '/', '\n']);
    if ok {
        Ok(())
    } else {
        Err(InventoryError::Invalid {
            path: file.to_path_buf(),
            message: format!(
                "invalid {what} name `{name}` (names must not be empty, start with !, & or ~, or contain : , / or spaces)"
            ),
        })
    }
}

/// Reads `DIR/NAME.yml`, `DIR/NAME.yaml`, `DIR/NAME.vault.yml` and `DIR/NAME/*.yml` (sorted),
/// merged in that order. `*.vault.yml` files are encrypted ([`crate::vault`]).
fn read_vars_dir(dir: &Path, name: &str) -> Result<Vars, InventoryError> {
    let mut files: Vec<PathBuf> = ["yml", "yaml", "vault.yml", "vault.yaml"]
        .iter()
        .map(|ext| dir.join(format!("{name}.{ext}")))
        .filter(|p| p.is_file())
        .collect();
    let sub = dir.join(name);
    if sub.is_dir() {
        let mut inner: Vec<PathBuf> = std::fs::read_dir(&sub)
            .map_err(|e| InventoryError::Invalid {
                path: sub.clone(),
                message: format!("cannot read folder: {e}"),
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && matches!(
                        p.extension().and_then(|e| e.to_str()),
                        Some("yml") | Some("yaml")
                    )
            })
            .collect();
        inner.sort();
        files.extend(inner);
    }
    let mut vars = Vars::new();
    for f in files {
        if crate::vault::is_vault_file(&f) {
            vars.extend(crate::vault::load_vars(&f).map_err(YamlError::from)?);
            continue;
        }
        let map: OrderedMap<Value> = yaml::from_file(&f)?;
        vars.extend(map.0);
    }
    Ok(vars)
}

fn resolve_vars(inv: &mut Inventory, base: &Path, extra: &Vars) -> Result<(), InventoryError> {
    // Groups in precedence order: by depth, then by name (`all` is depth 0).
    let mut order: Vec<&Group> = inv.groups.values().collect();
    order.sort_by(|a, b| a.depth.cmp(&b.depth).then(a.name.cmp(&b.name)));
    let order: Vec<String> = order.iter().map(|g| g.name.clone()).collect();
    let mut group_files = BTreeMap::new();
    for g in &order {
        group_files.insert(g.clone(), read_vars_dir(&base.join("group_vars"), g)?);
    }
    let groups = inv.groups.clone();
    for host in &mut inv.hosts {
        let member = |g: &String| g == "all" || host.groups.contains(g);
        let mut vars = Vars::new();
        for g in order.iter().filter(|g| member(g)) {
            vars.extend(groups[g].vars.clone());
        }
        for g in order.iter().filter(|g| member(g)) {
            vars.extend(group_files[g].clone());
        }
        vars.extend(std::mem::take(&mut host.vars));
        vars.extend(read_vars_dir(&base.join("host_vars"), &host.name)?);
        vars.extend(extra.clone());
        host.vars = vars;
    }
    Ok(())
}

/// Parses `-e` arguments: `key=value` (value as a string, or a boolean when spelled as one), `@file.yml`, or an inline YAML/JSON
/// mapping (`{"a": 1}`). Later arguments win.
pub fn parse_extra_vars(args: &[String]) -> Result<Vars, InventoryError> {
    let mut vars = Vars::new();
    for arg in args {
        if let Some(path) = arg.strip_prefix('@') {
            let path = Path::new(path);
            // A vault file (`*.vault.yml`, or any file that is encrypted, as Ansible's
            // `-e @secrets.yml` of a vaulted file): decrypted in memory, its values secrets.
            let encrypted = std::fs::read(path).is_ok_and(|b| crate::vault::is_encrypted(&b));
            if crate::vault::is_vault_file(path) || encrypted {
                vars.extend(crate::vault::load_vars(path).map_err(YamlError::from)?);
                continue;
            }
            let map: OrderedMap<Value> = yaml::from_file(path)?;
            vars.extend(map.0);
        } else if arg.trim_start().starts_with('{') {
            let map: OrderedMap<Value> =
                yaml::from_str(Path::new("<-e>"), arg).map_err(|e: YamlError| {
                    InventoryError::ExtraVars {
                        arg: arg.clone(),
                        message: e.message,
                    }
                })?;
            vars.extend(map.0);
        } else {
            let mut any = false;
            for part in split_kv(arg) {
                let Some((k, v)) = part.split_once('=') else {
                    return Err(InventoryError::ExtraVars {
                        arg: arg.clone(),
                        message: "expected key=value, @file.yml or a {mapping}".into(),
                    });
                };
                if k.is_empty() {
                    return Err(InventoryError::ExtraVars {
                        arg: arg.clone(),
                        message: "empty variable name".into(),
                    });
                }
                // `flag=false`, `debug=yes`: a boolean, as in a vars file.
                let v = match yaml::yaml11_bool(v) {
                    Some(b) => Value::Bool(b),
                    None => Value::String(v.to_string()),
                };
                vars.insert(k.to_string(), v);
                any = true;
            }
            if !any {
                return Err(InventoryError::ExtraVars {
                    arg: arg.clone(),
                    message: "expected key=value".into(),
                });
            }
        }
    }
    Ok(vars)
}

/// `a=1 b=2` → [`a=1`, `b=2`]; a value without spaces only (as Ansible's k=v form).
fn split_kv(arg: &str) -> Vec<&str> {
    if arg.contains('=') && arg.split_whitespace().all(|p| p.contains('=')) {
        arg.split_whitespace().collect()
    } else {
        vec![arg]
    }
}
