//! Inventory: hosts, groups and their variables, in Ansible's YAML layout.
//!
//! `-i PATH` is a YAML file, or a folder holding `hosts.yml` (or `hosts.yaml`) plus `group_vars/`
//! and `host_vars/` (files `NAME.yml`/`NAME.yaml`, or folders `NAME/*.yml`). For a file, the
//! `group_vars/` and `host_vars/` folders beside it are read.
//!
//! Variable precedence, low to high (later wins, top-level keys replace):
//! 1. vars of `all` in the inventory file,
//! 2. vars of groups in the inventory file, parents before children (by depth, then name),
//! 3. `group_vars/` files in the same order (`all` first),
//! 4. the host's own vars in the inventory file,
//! 5. `host_vars/` files,
//! 6. extra vars from the command line (`-e key=value`, `-e @file.yml`).

pub mod connection;
pub mod load;
pub mod pattern;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::yaml::{Value, YamlError};

pub use connection::{connection_for, ConnectionOverrides};
pub use load::{load, parse_extra_vars};

/// A YAML mapping of vars that keeps its order (name, value).
pub type OrderedVars = load::OrderedMap<Value>;

/// Resolved variables, by name.
pub type Vars = BTreeMap<String, Value>;

/// Why an inventory could not be loaded or a pattern not matched.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error(transparent)]
    Yaml(#[from] YamlError),
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("host pattern `{pattern}`: {message}")]
    Pattern { pattern: String, message: String },
    #[error("extra vars `{arg}`: {message}")]
    ExtraVars { arg: String, message: String },
    #[error("host `{host}`: {message}")]
    Connection { host: String, message: String },
}

/// A group of hosts.
#[derive(Debug, Clone, Default)]
pub struct Group {
    pub name: String,
    /// Hosts listed directly in this group, in inventory order.
    pub hosts: Vec<String>,
    /// Child groups, in inventory order.
    pub children: Vec<String>,
    /// Parent groups (`all` is the parent of every top-level group).
    pub parents: Vec<String>,
    /// Vars set on the group in the inventory file.
    pub vars: Vars,
    /// Longest distance from `all` (0 for `all`).
    pub depth: usize,
}

/// A host with its resolved variables.
#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    /// Every group the host belongs to, directly or through children, sorted; without `all`.
    pub groups: Vec<String>,
    /// Variables after precedence is applied (extra vars included).
    pub vars: Vars,
}

/// A loaded inventory.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// The file or folder it was loaded from.
    pub source: PathBuf,
    /// Hosts in inventory order (first appearance).
    pub hosts: Vec<Host>,
    /// Groups by name; always holds `all` and `ungrouped`.
    pub groups: BTreeMap<String, Group>,
}

impl Inventory {
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// All hosts of a group, through its children, in inventory order.
    pub fn group_hosts(&self, group: &str) -> Vec<&Host> {
        let mut names = BTreeSet::new();
        self.collect_group_hosts(group, &mut names, &mut BTreeSet::new());
        self.hosts
            .iter()
            .filter(|h| names.contains(h.name.as_str()))
            .collect()
    }

    fn collect_group_hosts<'a>(
        &'a self,
        group: &str,
        out: &mut BTreeSet<&'a str>,
        seen: &mut BTreeSet<String>,
    ) {
        if !seen.insert(group.to_string()) {
            return;
        }
        if let Some(g) = self.groups.get(group) {
            out.extend(g.hosts.iter().map(String::as_str));
            for c in &g.children {
                self.collect_group_hosts(c, out, seen);
            }
        }
    }

    /// Hosts matching an Ansible host pattern, in inventory order.
    pub fn select(&self, pattern: &str) -> Result<Vec<&Host>, InventoryError> {
        pattern::select(self, pattern)
    }

    /// Hosts matching a play's pattern: unknown names match nothing.
    pub fn select_lenient(&self, pattern: &str) -> Result<Vec<&Host>, InventoryError> {
        pattern::select_lenient(self, pattern)
    }

    /// Group name → host names (all of them, through children), as templates see `groups`.
    pub fn groups_map(&self) -> BTreeMap<String, Vec<String>> {
        self.groups
            .keys()
            .map(|g| {
                (
                    g.clone(),
                    self.group_hosts(g).iter().map(|h| h.name.clone()).collect(),
                )
            })
            .collect()
    }
}

/// Where inventory-relative paths are resolved from: the folder, or a file's parent.
pub fn base_dir(source: &Path) -> PathBuf {
    if source.is_dir() {
        source.to_path_buf()
    } else {
        source
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }
}
