//! Playbooks: YAML into typed structs (unknown keys rejected), roles located and read.
//!
//! ```yaml
//! - name: web tier
//!   hosts: web
//!   vars: {app_port: 8000}
//!   vars_files: [../vars/web.yml]
//!   roles: [common, app]
//!   state:
//!     - file: /etc/motd
//!       content: "managed by play\n"
//! ```
//! See `docs/playbooks.md` for every key. Nothing is templated here: that is `resolve`'s job.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::resources::Origin;
use crate::yaml::{self, Value, YamlError};

/// Why a playbook could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PlaybookError {
    #[error(transparent)]
    Yaml(#[from] YamlError),
    #[error("{origin}: {message}")]
    Invalid { origin: Origin, message: String },
}

/// The keys a resource entry may have. Which kind it is comes from the key naming it
/// (`file:`, `directory:`, `link:`); [`RawResource::check`] rejects keys foreign to that kind.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawResource {
    // kinds
    pub file: Option<String>,
    pub directory: Option<String>,
    pub link: Option<String>,
    // file
    pub content: Option<String>,
    pub src: Option<String>,
    pub template: Option<String>,
    // link
    pub target: Option<String>,
    // common
    pub owner: Option<String>,
    pub group: Option<String>,
    pub mode: Option<Value>,
    pub state: Option<String>,
    pub force: Option<Value>,
    pub sensitive: Option<bool>,
    #[serde(rename = "loop")]
    pub loop_: Option<Value>,
    pub loop_var: Option<String>,
    pub when: Option<Value>,
}

/// The resource kinds and the keys each accepts (besides the common ones).
const KINDS: &[(&str, &[&str])] = &[
    ("file", &["content", "src", "template"]),
    ("directory", &[]),
    ("link", &["target"]),
];

impl RawResource {
    /// (kind, key expression) of the entry.
    pub fn kind(&self) -> Option<(&'static str, &str)> {
        [
            ("file", &self.file),
            ("directory", &self.directory),
            ("link", &self.link),
        ]
        .into_iter()
        .find_map(|(k, v)| v.as_deref().map(|v| (k, v)))
    }

    /// Keys present in the entry that belong to a specific kind.
    fn specific_keys(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.content.is_some() {
            v.push("content");
        }
        if self.src.is_some() {
            v.push("src");
        }
        if self.template.is_some() {
            v.push("template");
        }
        if self.target.is_some() {
            v.push("target");
        }
        v
    }

    /// Checks the entry's shape: exactly one kind, only keys of that kind, no conflicting keys.
    pub fn check(&self) -> Result<(), String> {
        let kinds: Vec<&str> = [
            ("file", self.file.is_some()),
            ("directory", self.directory.is_some()),
            ("link", self.link.is_some()),
        ]
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(k, _)| k)
        .collect();
        let kind = match kinds.as_slice() {
            [k] => *k,
            [] => {
                return Err(format!(
                    "a resource needs one of the keys {}",
                    KINDS
                        .iter()
                        .map(|(k, _)| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
            many => {
                return Err(format!(
                    "a resource has exactly one kind, found {}",
                    many.iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ))
            }
        };
        let allowed = KINDS
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, a)| *a)
            .unwrap_or(&[]);
        for key in self.specific_keys() {
            if !allowed.contains(&key) {
                return Err(format!("key `{key}` does not apply to a {kind}"));
            }
        }
        if kind == "file" {
            let sources = [&self.content, &self.src, &self.template]
                .iter()
                .filter(|s| s.is_some())
                .count();
            if sources > 1 {
                return Err("a file takes one of `content`, `src`, `template`, not several".into());
            }
        }
        if kind == "link" && self.target.is_none() && self.state.as_deref() != Some("absent") {
            return Err("a link needs `target`".into());
        }
        if self.loop_var.is_some() && self.loop_.is_none() {
            return Err("`loop_var` without `loop`".into());
        }
        Ok(())
    }
}

/// One resource entry with where it came from.
#[derive(Debug, Clone)]
pub struct Entry {
    pub raw: RawResource,
    pub origin: Origin,
    /// Role the entry belongs to (`None`: the play's own `state`).
    pub role: Option<String>,
    /// Positions of the entry's keys (`mode`, `when`, ...), for errors found later.
    pub key_positions: HashMap<String, (usize, usize)>,
}

impl Entry {
    /// The origin of one key of the entry (falls back to the entry itself).
    pub fn origin_of(&self, key: &str) -> Origin {
        match self.key_positions.get(key) {
            Some((line, column)) => Origin {
                file: self.origin.file.clone(),
                line: *line,
                column: *column,
            },
            None => self.origin.clone(),
        }
    }
}

/// A role: `roles/NAME/` with `state.yml`, `defaults.yml`, `templates/`, `files/`.
#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    pub dir: PathBuf,
    /// Lowest-precedence vars, in file order.
    pub defaults: Vec<(String, Value)>,
    pub state: Vec<Entry>,
}

/// One play.
#[derive(Debug, Clone)]
pub struct Play {
    pub name: String,
    pub hosts: String,
    pub vars: Vec<(String, Value)>,
    /// Files of vars, in order, already read (path, vars).
    pub vars_files: Vec<(PathBuf, Vec<(String, Value)>)>,
    pub roles: Vec<Role>,
    pub state: Vec<Entry>,
    pub origin: Origin,
}

/// A loaded playbook.
#[derive(Debug, Clone)]
pub struct Playbook {
    pub path: PathBuf,
    /// Folder of the playbook (templates/ and files/ are looked up there).
    pub dir: PathBuf,
    pub plays: Vec<Play>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlay {
    name: Option<String>,
    hosts: String,
    #[serde(default)]
    vars: Option<crate::inventory::OrderedVars>,
    #[serde(default)]
    vars_files: Vec<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    state: Vec<RawResource>,
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

fn entries(
    file: &Path,
    text: &str,
    raw: Vec<RawResource>,
    prefix: &str,
    role: Option<&str>,
) -> Result<Vec<Entry>, PlaybookError> {
    let positions = yaml::node_positions(text);
    let mut out = Vec::new();
    for (i, r) in raw.into_iter().enumerate() {
        let path = if prefix.is_empty() {
            i.to_string()
        } else {
            format!("{prefix}.{i}")
        };
        let (line, column) = positions.get(&path).copied().unwrap_or((0, 0));
        let origin = Origin {
            file: display(file),
            line,
            column,
        };
        let key_prefix = format!("{path}.");
        let key_positions: HashMap<String, (usize, usize)> = positions
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(&key_prefix)
                    .filter(|rest| !rest.contains('.'))
                    .map(|rest| (rest.to_string(), *v))
            })
            .collect();
        r.check().map_err(|message| PlaybookError::Invalid {
            origin: origin.clone(),
            message,
        })?;
        out.push(Entry {
            raw: r,
            origin,
            role: role.map(str::to_string),
            key_positions,
        });
    }
    Ok(out)
}

fn read(file: &Path) -> Result<String, PlaybookError> {
    std::fs::read_to_string(file)
        .map_err(|e| YamlError::new(file, None, format!("cannot read: {e}")).into())
}

/// Where roles are looked up: `roles/` next to the playbook, then `roles/` beside its folder.
pub fn role_search_path(playbook_dir: &Path) -> Vec<PathBuf> {
    let mut v = vec![playbook_dir.join("roles")];
    if let Some(parent) = playbook_dir.parent() {
        v.push(parent.join("roles"));
    }
    v
}

fn load_role(name: &str, playbook_dir: &Path, origin: &Origin) -> Result<Role, PlaybookError> {
    let search = role_search_path(playbook_dir);
    let dir = search
        .iter()
        .map(|d| d.join(name))
        .find(|d| d.is_dir())
        .ok_or_else(|| PlaybookError::Invalid {
            origin: origin.clone(),
            message: format!(
                "role `{name}` not found (looked in {})",
                search
                    .iter()
                    .map(|d| display(d))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
    let defaults_file = ["defaults.yml", "defaults.yaml"]
        .iter()
        .map(|f| dir.join(f))
        .find(|f| f.is_file());
    let defaults = match defaults_file {
        Some(f) => {
            let v: crate::inventory::OrderedVars = yaml::from_str(&f, &read(&f)?)?;
            v.0
        }
        None => Vec::new(),
    };
    let state_file = ["state.yml", "state.yaml"]
        .iter()
        .map(|f| dir.join(f))
        .find(|f| f.is_file());
    let state = match state_file {
        Some(f) => {
            let text = read(&f)?;
            let raw: Option<Vec<RawResource>> = yaml::from_str(&f, &text)?;
            entries(&f, &text, raw.unwrap_or_default(), "", Some(name))?
        }
        None => Vec::new(),
    };
    Ok(Role {
        name: name.to_string(),
        dir,
        defaults,
        state,
    })
}

/// Loads a playbook with its roles and vars files.
pub fn load(path: &Path) -> Result<Playbook, PlaybookError> {
    let text = read(path)?;
    let raw: Vec<RawPlay> = yaml::from_str(path, &text)?;
    let positions = yaml::node_positions(&text);
    let dir = path
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let mut plays = Vec::new();
    for (i, rp) in raw.into_iter().enumerate() {
        let pos = |k: &str| {
            let (line, column) = positions
                .get(&format!("{i}{}{k}", if k.is_empty() { "" } else { "." }))
                .copied()
                .unwrap_or((0, 0));
            Origin {
                file: display(path),
                line,
                column,
            }
        };
        let origin = pos("");
        let mut vars_files = Vec::new();
        for (j, f) in rp.vars_files.iter().enumerate() {
            let fp = dir.join(f);
            if !fp.is_file() {
                return Err(PlaybookError::Invalid {
                    origin: pos(&format!("vars_files.{j}")),
                    message: format!("vars file `{f}` not found (looked for {})", display(&fp)),
                });
            }
            let v: crate::inventory::OrderedVars = yaml::from_str(&fp, &read(&fp)?)?;
            vars_files.push((fp, v.0));
        }
        let mut roles = Vec::new();
        for (j, r) in rp.roles.iter().enumerate() {
            roles.push(load_role(r, &dir, &pos(&format!("roles.{j}")))?);
        }
        let state = entries(path, &text, rp.state, &format!("{i}.state"), None)?;
        plays.push(Play {
            name: rp.name.unwrap_or_else(|| rp.hosts.clone()),
            hosts: rp.hosts,
            vars: rp.vars.map(|v| v.0).unwrap_or_default(),
            vars_files,
            roles,
            state,
            origin,
        });
    }
    Ok(Playbook {
        path: path.to_path_buf(),
        dir,
        plays,
    })
}
