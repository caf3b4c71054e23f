//! Where an undefined variable is set, if anywhere: `play check` says it beside each "undefined
//! variable" problem, so that a var set only for another host, another group or another play's
//! role, or set nowhere in the project (an extra var the project's scripts pass with `-e`, a
//! secret kept outside it), reads as such instead of as a typo.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::inventory::Inventory;
use crate::yaml::Value;

/// Where a var is set, as a place of the project.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Place {
    /// `host_vars/HOST…` (the file).
    Host(String, String),
    /// `group_vars/GROUP…` (the file).
    Group(String, String),
    /// A role's `defaults.yml` (the role, the file).
    Role(String, String),
    /// A playbook's play `vars`, or a vars file (the file).
    File(String),
}

/// Every var name of the project's vars files, with the places that set it.
#[derive(Debug, Default)]
pub struct Index {
    names: BTreeMap<String, Vec<Place>>,
    /// While reading the inventory's own host vars.
    inline: BTreeMap<String, Vec<Place>>,
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            out.extend(yaml_files(&p));
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("yml" | "yaml") | None
        ) {
            out.push(p);
        }
    }
    out
}

/// The top-level keys of a YAML mapping file (none if it is not one, or unreadable: a vault).
fn keys(file: &Path) -> Vec<String> {
    match crate::yaml::from_file::<Value>(file) {
        Ok(Value::Mapping(m)) => m
            .keys()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// The name a `host_vars/`/`group_vars/` entry is for: its first component under the folder,
/// without a YAML extension.
fn owner(base: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(base).unwrap_or(file);
    let first = rel
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    first
        .strip_suffix(".yml")
        .or_else(|| first.strip_suffix(".yaml"))
        .unwrap_or(&first)
        .to_string()
}

impl Index {
    /// Reads the vars of the project: `host_vars/` and `group_vars/` beside the inventory,
    /// and, from each playbook's folder, `vars/`, its plays' `vars`, and `roles/*/defaults.yml`
    /// (beside it and one level up).
    pub fn of_project(inv: Option<&Inventory>, inventory: &Path, playbooks: &[PathBuf]) -> Index {
        let mut ix = Index::default();
        let inv_dir = if inventory.is_dir() {
            inventory.to_path_buf()
        } else {
            inventory.parent().unwrap_or(Path::new(".")).to_path_buf()
        };
        for (sub, host) in [("host_vars", true), ("group_vars", false)] {
            let base = inv_dir.join(sub);
            for f in yaml_files(&base) {
                let (who, file) = (owner(&base, &f), f.display().to_string());
                let place = if host {
                    Place::Host(who, file)
                } else {
                    Place::Group(who, file)
                };
                ix.add(keys(&f), &place);
            }
        }
        let mut dirs: Vec<PathBuf> = playbooks
            .iter()
            .map(|p| p.parent().unwrap_or(Path::new(".")).to_path_buf())
            .collect();
        dirs.sort();
        dirs.dedup();
        for d in &dirs {
            for f in yaml_files(&d.join("vars")) {
                ix.add(keys(&f), &Place::File(f.display().to_string()));
            }
            let up = d.parent().map(|p| p.join("roles"));
            for roles in std::iter::once(d.join("roles")).chain(up) {
                for f in yaml_files(&roles) {
                    if f.file_name().is_some_and(|n| n == "defaults.yml") {
                        let role = owner(&roles, &f);
                        let file = f.display().to_string();
                        ix.add(keys(&f), &Place::Role(role, file));
                    }
                }
            }
        }
        for p in playbooks {
            if let Ok(Value::Sequence(plays)) = crate::yaml::from_file::<Value>(p) {
                for play in plays {
                    if let Some(Value::Mapping(vars)) = play.get("vars") {
                        let names = vars.keys().filter_map(|k| k.as_str().map(str::to_string));
                        ix.add(names.collect(), &Place::File(p.display().to_string()));
                    }
                }
            }
        }
        // Vars of hosts set in the inventory itself (not by a file read above).
        for h in inv.map(|i| i.hosts.as_slice()).unwrap_or_default() {
            let names: Vec<String> = (h.vars.keys())
                .filter(|k| !ix.names.contains_key(k.as_str()))
                .cloned()
                .collect();
            let file = inv
                .map(|i| i.source.display().to_string())
                .unwrap_or_default();
            for n in names {
                let place = Place::Host(h.name.clone(), file.clone());
                ix.inline.entry(n).or_default().push(place);
            }
        }
        for (n, places) in std::mem::take(&mut ix.inline) {
            ix.names.entry(n).or_default().extend(places);
        }
        ix
    }

    fn add(&mut self, names: Vec<String>, place: &Place) {
        for n in names {
            let places = self.names.entry(n).or_default();
            if !places.contains(place) {
                places.push(place.clone());
            }
        }
    }

    /// Where `name` is set, in words ("only in FILE (for …)", "nowhere in the project…"),
    /// when the project says more than "undefined".
    fn set_where(&self, name: &str, inv: Option<&Inventory>) -> Option<String> {
        if name.starts_with("ansible_") || name == "item" {
            return None; // the facts play has are said already; `item` below
        }
        let Some(places) = self.names.get(name) else {
            return Some(
                "set nowhere in the project (inventory, group_vars, host_vars, role defaults, \
                 play vars, vars files): an extra var to pass (`-e NAME=…`, `-e @FILE`), or a \
                 value the source project made at run time (a registered result, a fact)"
                    .to_string(),
            );
        };
        let mut said: Vec<String> = Vec::new();
        // Hosts of one file said together: `inventory/hosts.yml (for hosts `a`, `b` only)`.
        let mut hosts_of: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for p in places {
            match p {
                Place::Host(h, f) if inv.is_some_and(|i| i.host(h).is_some()) => {
                    hosts_of.entry(f).or_default().push(h)
                }
                Place::Host(h, f) => {
                    said.push(format!("{f} (for `{h}`, a host not in the inventory)"))
                }
                Place::Group(g, f) => said.push(format!("{f} (for group `{g}` only)")),
                Place::Role(r, f) => {
                    said.push(format!("{f} (role `{r}`, not a role of this play)"))
                }
                Place::File(f) => said.push(format!("{f} (not read by this play)")),
            }
        }
        for (f, hs) in hosts_of {
            const SHOWN: usize = 5;
            let mut names: Vec<String> = hs.iter().take(SHOWN).map(|h| format!("`{h}`")).collect();
            if hs.len() > SHOWN {
                names.push(format!("{} more", hs.len() - SHOWN));
            }
            let what = if hs.len() == 1 { "host" } else { "hosts" };
            said.insert(0, format!("{f} (for {what} {} only)", names.join(", ")));
        }
        Some(format!("set only in {}", said.join(", ")))
    }

    /// Where `name` is written, when exactly one place of the project sets it: the file and
    /// the position of its value (a vars file's top-level key, or a play's `vars` entry).
    pub fn defined_at(&self, name: &str) -> Option<(String, usize, usize)> {
        let [place] = self.names.get(name)?.as_slice() else {
            return None;
        };
        let (Place::Host(_, file)
        | Place::Group(_, file)
        | Place::Role(_, file)
        | Place::File(file)) = place;
        let text = std::fs::read_to_string(file).ok()?;
        let positions = crate::yaml::node_positions(&text);
        let in_play = format!(".vars.{name}");
        let (line, column) = match positions.get(name) {
            Some(p) => *p,
            None => {
                let mut plays: Vec<(usize, usize)> = (positions.iter())
                    .filter(|(k, _)| k.ends_with(&in_play) && k.matches('.').count() == 2)
                    .map(|(_, p)| *p)
                    .collect();
                plays.sort();
                match plays.as_slice() {
                    [one] => *one,
                    _ => return None,
                }
            }
        };
        Some((file.clone(), line, column))
    }

    /// `message` with, for its undefined variables, where each is set (or that it is set
    /// nowhere), when it says "undefined variable(s) `X`…"; names with the same answer are
    /// said together.
    pub fn explain(&self, message: &str, inv: Option<&Inventory>) -> String {
        let Some(names) = undefined_names(message) else {
            return message.to_string();
        };
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for n in &names {
            let Some(w) = self.set_where(n, inv) else {
                continue;
            };
            match groups.iter_mut().find(|(g, _)| *g == w) {
                Some((_, ns)) => ns.push(format!("`{n}`")),
                None => groups.push((w, vec![format!("`{n}`")])),
            }
        }
        let mut hints: Vec<String> = groups
            .into_iter()
            .map(|(w, ns)| match ns.as_slice() {
                [one] => format!("{one} is {w}"),
                many => format!("{} are {w}", many.join(", ")),
            })
            .collect();
        if names.iter().any(|n| n == "item") {
            hints.push("`item` is a loop's item: used here outside a loop".into());
        }
        if hints.is_empty() {
            return message.to_string();
        }
        format!("{message} ({})", hints.join("; "))
    }
}

/// The names of "undefined variable `a`" / "undefined variables `a`, `b`" in a message.
fn undefined_names(message: &str) -> Option<Vec<String>> {
    let at = message.find("undefined variable")?;
    let rest = &message[at..];
    let rest = rest
        .strip_prefix("undefined variables ")
        .or_else(|| rest.strip_prefix("undefined variable "))?;
    let mut names = Vec::new();
    let mut s = rest;
    while let Some(after) = s.strip_prefix('`') {
        let end = after.find('`')?;
        names.push(after[..end].to_string());
        s = &after[end + 1..];
        match s.strip_prefix(", ") {
            Some(more) => s = more,
            None => break,
        }
    }
    (!names.is_empty()).then_some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undefined_names_are_read_from_messages() {
        assert_eq!(
            undefined_names("directory: undefined variables `a`, `b_c` (template of x)"),
            Some(vec!["a".to_string(), "b_c".to_string()])
        );
        assert_eq!(
            undefined_names("in var `v`: undefined variable `item`"),
            Some(vec!["item".to_string()])
        );
        assert_eq!(undefined_names("undefined value"), None);
    }

    #[test]
    fn an_undefined_var_says_where_it_is_set_or_that_it_is_set_nowhere() {
        let d = tempfile::tempdir().expect("tempdir");
        let root = d.path();
        let write = |root: &Path, rel: &str, text: &str| {
            let p = root.join(rel);
            (p.parent().map(std::fs::create_dir_all).unwrap_or(Ok(())))
                .and_then(|()| std::fs::write(&p, text))
                .expect("write");
        };
        write(
            root,
            "inventory/hosts.yml",
            "all:\n  hosts: {web1: , web2: {port: 1}, web3: {port: 2}}\n",
        );
        write(root, "inventory/host_vars/example.org.yml", "app_name: x\n");
        write(root, "inventory/group_vars/db/main.yml", "db_port: 1\n");
        write(root, "roles/other/defaults.yml", "other_port: 2\n");
        write(root, "playbooks/site.yml", "- hosts: all\n  vars: {v: 1}\n");
        let inv = crate::inventory::load(
            &root.join("inventory/hosts.yml"),
            &crate::inventory::Vars::new(),
        )
        .ok();
        let playbooks = [root.join("playbooks/site.yml")];
        let ix = Index::of_project(inv.as_ref(), &root.join("inventory"), &playbooks);
        let m = ix.explain("file: undefined variable `app_name`", inv.as_ref());
        assert!(
            m.contains(
                "host_vars/example.org.yml (for `example.org`, a host not in the inventory)"
            ),
            "{m}"
        );
        let m = ix.explain("undefined variables `db_port`, `other_port`", inv.as_ref());
        assert!(
            m.contains("group_vars/db/main.yml (for group `db` only)"),
            "{m}"
        );
        assert!(m.contains("roles/other/defaults.yml (role `other`"), "{m}");
        assert!(!m.contains(".."), "{m}");
        let m = ix.explain("undefined variables `secret`, `token`", inv.as_ref());
        assert!(
            m.contains("`secret`, `token` are set nowhere in the project"),
            "{m}"
        );
        let m = ix.explain("undefined variable `secret`", inv.as_ref());
        assert!(m.contains("`secret` is set nowhere in the project"), "{m}");
        assert!(m.contains("-e NAME=…"), "{m}");
        let m = ix.explain("undefined variables `secret`, `app_name`", inv.as_ref());
        assert!(
            m.contains("`secret` is set nowhere") && m.contains("`app_name` is set only"),
            "{m}"
        );
        let m = ix.explain("in var `x`: undefined variable `item`", inv.as_ref());
        assert!(
            m.ends_with("(`item` is a loop's item: used here outside a loop)"),
            "{m}"
        );
        assert_eq!(
            ix.explain("undefined value", inv.as_ref()),
            "undefined value"
        );
        assert_eq!(
            ix.explain("undefined variable `ansible_lsb`", inv.as_ref()),
            "undefined variable `ansible_lsb`"
        );
    }
}
