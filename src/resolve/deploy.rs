//! What the kinds' render functions (`registry::Render`, in each kind's file) build their specs
//! with: [`Keys`], the entry's keys rendered with errors located at them, and the sources they
//! read on the controller (a `files/` folder as a tree, a git fetch's deploy key and
//! known_hosts).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::value::{Value as MValue, ValueKind};

use super::template::Renderer;
use super::{
    check_path, find, missing_msg, role_dir_of, scalar_text, truth, ResolveError, Resolver,
};
use crate::inventory::Host;
use crate::playbook::Entry;
use crate::resources::source::files::{Excludes, LocalTree};
use crate::resources::source::repo::{self, GitSsh};
use crate::resources::{Attrs, Content, Presence};
use crate::yaml::Value as YValue;

/// The extra var that pins every `release:` of a run (`play rollback`): `previous` or an id.
pub const RELEASE_PIN_VAR: &str = "play_release";

/// A folder of `files/` (the role's, then the playbook's), or an absolute path.
fn find_dir(role_dir: &Option<PathBuf>, pb_dir: &Path, name: &str) -> Option<PathBuf> {
    if name.starts_with('/') {
        let p = PathBuf::from(name);
        return p.is_dir().then_some(p);
    }
    role_dir
        .iter()
        .map(|d| d.join("files").join(name))
        .chain(std::iter::once(pb_dir.join("files").join(name)))
        .find(|p| p.is_dir())
}

/// Renders the pieces of one entry, with errors located at their keys: what a kind's render
/// function (`registry::Render`) builds its spec with.
pub struct Keys<'x> {
    pub(super) entry: &'x Entry,
    pub(super) r: &'x Renderer<'x>,
    pub(super) host: &'x Host,
    pub(super) resolver: &'x Resolver<'x>,
    /// A symbolic `mode` with `X` (`u=rwX,g=rX,o=rX`), which `Base::attrs` cannot hold: a kind
    /// that takes it calls [`Keys::take_mode_rule`]; left untaken, the entry's `mode` is an
    /// error.
    pub(super) mode_rule: std::cell::Cell<Option<crate::resources::ModeRule>>,
}

/// What every kind's render function gets besides the entry: its rendered and checked key,
/// its `owner`, `group` and `mode`, and its rendered `state`.
pub struct Base {
    pub key: String,
    pub attrs: Attrs,
    pub state: Option<String>,
}

impl Keys<'_> {
    /// The entry's symbolic `mode` with `X`, if it has one (see [`crate::resources::ModeRule`]).
    pub fn take_mode_rule(&self) -> Option<crate::resources::ModeRule> {
        self.mode_rule.take()
    }

    /// The entry as the playbook has it (nothing rendered).
    pub fn raw(&self) -> &crate::playbook::RawResource {
        &self.entry.raw
    }

    /// File `name` of the role's or playbook's `files/` (or an absolute path), named by `key`.
    fn find_file(&self, key: &str, name: &str) -> Result<PathBuf, ResolveError> {
        let role_dir = role_dir_of(self.resolver.playbook, self.entry);
        let pb = &self.resolver.playbook.dir;
        find(&role_dir, pb, "files", name)
            .ok_or_else(|| self.fail(key, missing_msg("file", "files", name, &role_dir, pb)))
    }

    /// The bytes of file `name` of the role's or playbook's `files/` (or an absolute path),
    /// named by `key`.
    pub fn read_file(&self, key: &str, name: &str) -> Result<Vec<u8>, ResolveError> {
        let p = self.find_file(key, name)?;
        std::fs::read(&p).map_err(|e| self.fail(key, format!("{key}: {}: {e}", p.display())))
    }

    /// File `name` of `files/` (or an absolute path), named by `key`, as a file's content
    /// (its source: `KEY: PATH`).
    pub fn file_content(&self, key: &str, name: &str) -> Result<Content, ResolveError> {
        let p = self.find_file(key, name)?;
        let bytes = std::fs::read(&p)
            .map_err(|e| self.fail(key, format!("cannot read {}: {e}", p.display())))?;
        Ok(Content {
            bytes,
            source: format!("{key}: {}", p.display()),
        })
    }

    /// A scalar value of `key` as text (empty when it renders to none).
    pub fn scalar(&self, key: &str, v: &YValue) -> Result<String, ResolveError> {
        Ok(scalar_text(&self.value(key, v)?).unwrap_or_default())
    }

    pub fn fail(&self, key: &str, message: String) -> ResolveError {
        ResolveError {
            origin: self.entry.origin_of(key),
            message,
            host: self.host.name.clone(),
        }
    }

    /// `key`'s text, rendered (`None`: not given, or `{{ x | default(omit) }}`).
    pub fn string(&self, key: &str) -> Result<Option<String>, ResolveError> {
        self.string_of(key, self.raw().text(key))
    }

    /// Text `v` rendered, its errors located at `key`.
    pub fn string_of(&self, key: &str, v: Option<&str>) -> Result<Option<String>, ResolveError> {
        match v {
            None => Ok(None),
            Some(t) => self
                .r
                .string(&self.entry.origin_of(key).to_string(), t)
                // `{{ x | default(omit) }}`: the key as if not given.
                .map(|t| (t != super::ansible::OMIT).then_some(t))
                .map_err(|e| self.fail(key, format!("{key}: {}", e.message))),
        }
    }

    pub fn value(&self, key: &str, v: &YValue) -> Result<MValue, ResolveError> {
        self.r
            .value(v)
            .map_err(|e| self.fail(key, format!("{key}: {}", e.message)))
    }

    /// `key`'s value, rendered: `true` or `false`.
    pub fn boolean(&self, key: &str) -> Result<Option<bool>, ResolveError> {
        match self.raw().get(key) {
            None => Ok(None),
            Some(v) => truth(&self.value(key, v)?)
                .map(Some)
                .ok_or_else(|| self.fail(key, format!("{key} must be true or false"))),
        }
    }

    /// `key`'s value, rendered: a whole number.
    pub fn number(&self, key: &str) -> Result<Option<u64>, ResolveError> {
        self.number_of(key, self.raw().get(key))
    }

    /// Value `v` rendered, a whole number, its errors located at `key`.
    pub fn number_of(&self, key: &str, v: Option<&YValue>) -> Result<Option<u64>, ResolveError> {
        match v {
            None => Ok(None),
            Some(v) => scalar_text(&self.value(key, v)?)
                .and_then(|t| t.trim().parse::<u64>().ok())
                .map(Some)
                .ok_or_else(|| self.fail(key, format!("{key} must be a whole number"))),
        }
    }

    /// `key`'s value, rendered: a user or group id.
    pub fn id(&self, key: &str) -> Result<Option<u32>, ResolveError> {
        self.id_of(key, self.raw().get(key))
    }

    /// Value `v` rendered, a user or group id, its errors located at `key`.
    pub fn id_of(&self, key: &str, v: Option<&YValue>) -> Result<Option<u32>, ResolveError> {
        match self.number_of(key, v)? {
            None => Ok(None),
            Some(n) => u32::try_from(n)
                .map(Some)
                .map_err(|_| self.fail(key, format!("{key} {n} is too large"))),
        }
    }

    /// `key`'s list of strings (or one string), rendered.
    pub fn list(&self, key: &str) -> Result<Option<Vec<String>>, ResolveError> {
        self.list_of(key, self.raw().get(key))
    }

    /// The names of an entry whose kind key takes a name or a list of them (or a template giving
    /// either: `package:`, `pip:`), each parsed by `parse`; none at all is `none`, located at
    /// `key` as the parse errors are.
    pub fn names<T>(
        &self,
        key: &str,
        none: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Vec<T>, ResolveError> {
        let names = self.list(key)?.unwrap_or_default();
        if names.is_empty() {
            return Err(self.fail(key, none.to_string()));
        }
        (names.iter())
            .map(|n| parse(n).map_err(|m| self.fail(key, m)))
            .collect()
    }

    /// Value `v`, a list of strings (or one string), rendered, its errors located at `key`.
    pub fn list_of(
        &self,
        key: &str,
        v: Option<&YValue>,
    ) -> Result<Option<Vec<String>>, ResolveError> {
        let Some(v) = v else { return Ok(None) };
        let rendered = self.value(key, v)?;
        let items: Vec<MValue> = match rendered.kind() {
            ValueKind::Seq => rendered
                .try_iter()
                .map(|i| i.collect())
                .map_err(|_| self.fail(key, format!("{key} must be a list")))?,
            ValueKind::None | ValueKind::Undefined => Vec::new(),
            _ => vec![rendered],
        };
        items
            .iter()
            .map(|i| {
                scalar_text(i)
                    .ok_or_else(|| self.fail(key, format!("{key} must be a list of strings")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// `key`'s mapping of strings (`environment`), rendered, in the playbook's order.
    pub fn mapping(&self, key: &str) -> Result<Vec<(String, String)>, ResolveError> {
        let Some(v) = self.raw().get(key) else {
            return Ok(Vec::new());
        };
        let m = match v {
            YValue::Mapping(m) => m,
            // a template giving a mapping (`environment: "{{ app_env }}"`)
            YValue::String(_) => return self.rendered_mapping(key, v),
            _ => return Err(self.fail(key, format!("{key} must be a mapping"))),
        };
        let mut out = Vec::new();
        for (name, v) in m {
            let name = match name {
                YValue::String(n) => n.clone(),
                other => crate::yaml::to_string(other).trim().to_string(),
            };
            let text = self.entry_text(key, &name, &self.value(key, v)?)?;
            out.push((name, text));
        }
        Ok(out)
    }

    /// The text of entry `name` of mapping `key`: a scalar.
    fn entry_text(&self, key: &str, name: &str, v: &MValue) -> Result<String, ResolveError> {
        scalar_text(v).ok_or_else(|| {
            self.fail(
                key,
                format!("{key}: `{name}` must be a string, number or boolean"),
            )
        })
    }

    /// `key`'s template `v` rendered, a mapping of strings, in its own order.
    fn rendered_mapping(
        &self,
        key: &str,
        v: &YValue,
    ) -> Result<Vec<(String, String)>, ResolveError> {
        let rendered = self.value(key, v)?;
        let not_one = || {
            self.fail(
                key,
                format!("{key} must be a mapping (or a template giving one)"),
            )
        };
        match rendered.kind() {
            ValueKind::Map => {}
            ValueKind::None | ValueKind::Undefined => return Ok(Vec::new()),
            _ => return Err(not_one()),
        }
        let names: Vec<MValue> = rendered.try_iter().map_err(|_| not_one())?.collect();
        let mut out = Vec::new();
        for n in names {
            let name = scalar_text(&n).ok_or_else(not_one)?;
            let item = rendered.get_item(&n).map_err(|_| not_one())?;
            out.push((name.clone(), self.entry_text(key, &name, &item)?));
        }
        Ok(out)
    }

    pub fn presence(&self, state: &Option<String>) -> Result<Presence, ResolveError> {
        match state.as_deref() {
            None | Some("present") => Ok(Presence::Present),
            Some("absent") => Ok(Presence::Absent),
            Some(other) => Err(self.fail(
                "state",
                format!("state must be `present` or `absent`, found `{other}`"),
            )),
        }
    }

    pub fn no_state(&self, kind: &str, state: &Option<String>) -> Result<(), ResolveError> {
        match state {
            None => Ok(()),
            Some(_) => Err(self.fail("state", format!("a {kind} has no `state`"))),
        }
    }

    /// The source folder `src` (of `files/`, or an absolute path) named by `key`, shown as
    /// its path, with its tree (read once per run, with `exclude` applied: its patterns' errors
    /// are located at the key `exclude.0`).
    pub fn source_tree(
        &self,
        key: &str,
        src: &str,
        exclude: (&str, &[String]),
    ) -> Result<(String, Arc<LocalTree>), ResolveError> {
        self.resolver.source(self, key, src, exclude)
    }

    /// The `key:` and `known_hosts:` of a git fetch, each with the key its errors point at
    /// (see `Resolver::git_ssh`).
    pub fn git_ssh(
        &self,
        key: (&str, Option<String>),
        known_hosts: (&str, Option<String>),
    ) -> Result<GitSsh, ResolveError> {
        self.resolver.git_ssh(self, key, known_hosts)
    }

    /// A scalar value of `key` as text (`None` when it renders to none, or is not a scalar).
    pub fn scalar_of(&self, key: &str, v: &YValue) -> Result<Option<String>, ResolveError> {
        Ok(scalar_text(&self.value(key, v)?))
    }

    /// The `-e` value of `name`, if given.
    pub fn extra_var(&self, name: &str) -> Option<&YValue> {
        self.resolver.extra_vars.get(name)
    }

    /// `key`'s text, rendered: an absolute path on the host.
    pub fn path(&self, key: &str) -> Result<Option<String>, ResolveError> {
        match self.string(key)? {
            None => Ok(None),
            Some(p) => check_path(&p)
                .map(|_| Some(p))
                .map_err(|m| self.fail(key, format!("{key}: {m}"))),
        }
    }
}

impl Resolver<'_> {
    /// A source tree, read once per run and shared by every host.
    fn tree(&self, dir: &Path, exclude: &[String]) -> Result<Arc<LocalTree>, String> {
        let key = (dir.to_path_buf(), exclude.to_vec());
        if let Ok(cache) = self.trees.lock() {
            if let Some(t) = cache.get(&key) {
                return Ok(t.clone());
            }
        }
        let ex = Excludes::new(exclude).map_err(|e| e.to_string())?;
        let tree = Arc::new(LocalTree::read(dir, &ex).map_err(|e| e.to_string())?);
        if let Ok(mut cache) = self.trees.lock() {
            cache.insert(key, tree.clone());
        }
        Ok(tree)
    }

    /// The source folder `src` of a sync or release, with its tree.
    fn source(
        &self,
        k: &Keys,
        key: &str,
        src: &str,
        (exclude_at, exclude): (&str, &[String]),
    ) -> Result<(String, Arc<LocalTree>), ResolveError> {
        let role_dir = role_dir_of(self.playbook, k.entry);
        let dir = find_dir(&role_dir, &self.playbook.dir, src).ok_or_else(|| {
            k.fail(
                key,
                missing_msg("folder", "files", src, &role_dir, &self.playbook.dir),
            )
        })?;
        Excludes::new(exclude).map_err(|e| k.fail(exclude_at, e.to_string()))?;
        let tree = self
            .tree(&dir, exclude)
            .map_err(|m| k.fail(key, format!("{key}: {m}")))?;
        Ok((dir.display().to_string(), tree))
    }

    /// The `key:` and `known_hosts:` of a git fetch (each with the key its errors point at):
    /// the key a controller file (found like other file sources: the role's `files/`, the
    /// playbook's, or an absolute path), decrypted when it is an age file (`play vault
    /// encrypt`), its lines registered as secrets; known_hosts inline text (a value with a
    /// space or a line break) or such a file. Both checked here, so `play check` sees them.
    fn git_ssh(
        &self,
        k: &Keys,
        (key_at, key): (&str, Option<String>),
        (kh_at, known_hosts): (&str, Option<String>),
    ) -> Result<GitSsh, ResolveError> {
        let role_dir = role_dir_of(self.playbook, k.entry);
        let read = |at: &str, what: &str, name: &str| -> Result<(PathBuf, Vec<u8>), ResolveError> {
            let path = find(&role_dir, &self.playbook.dir, "files", name).ok_or_else(|| {
                k.fail(
                    at,
                    format!(
                        "{what}: {}",
                        missing_msg("file", "files", name, &role_dir, &self.playbook.dir)
                    ),
                )
            })?;
            let bytes = std::fs::read(&path)
                .map_err(|e| k.fail(at, format!("{what}: cannot read {}: {e}", path.display())))?;
            let bytes = if crate::vault::is_encrypted(&bytes) {
                crate::vault::decrypt_file(&path).map_err(|e| k.fail(at, format!("{what}: {e}")))?
            } else {
                bytes
            };
            Ok((path, bytes))
        };
        let key = match key {
            None => None,
            Some(name) => {
                let (path, bytes) = read(key_at, "key", &name)?;
                let shown = path.display().to_string();
                let key = repo::DeployKey::new(&shown, &bytes)
                    .map_err(|m| k.fail(key_at, format!("key: {shown} {m}")))?;
                crate::vault::register_strings(key.lines().map(str::to_string));
                Some(key)
            }
        };
        let known_hosts = match known_hosts {
            None => None,
            Some(t) if t.contains(char::is_whitespace) => {
                repo::check_known_hosts(&t)
                    .map_err(|m| k.fail(kh_at, format!("known_hosts: {m}")))?;
                Some(t)
            }
            Some(name) => {
                let (path, bytes) = read(kh_at, "known_hosts", &name)?;
                let t = String::from_utf8(bytes).map_err(|_| {
                    k.fail(
                        kh_at,
                        format!("known_hosts: {} is not text", path.display()),
                    )
                })?;
                repo::check_known_hosts(&t)
                    .map_err(|m| k.fail(kh_at, format!("known_hosts: {} {m}", path.display())))?;
                Some(t)
            }
        };
        Ok(GitSsh { key, known_hosts })
    }
}
