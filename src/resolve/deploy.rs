//! Rendering the kinds of [`crate::resources::deploy`]: `git:`, `sync:`, `release:`,
//! `package:`, `user:`, `group:`, `command:` (see docs/playbooks.md for their keys).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::value::{Value as MValue, ValueKind};

use super::template::Renderer;
use super::{
    check_path, find, missing_msg, role_dir_of, scalar_text, truth, ResolveError, Resolver,
};
use crate::inventory::Host;
use crate::playbook::Entry;
use crate::resources::release::{self, Pin, ReleaseSource, ReleaseSpec};
use crate::resources::source::files::{Excludes, Layout, LocalTree};
use crate::resources::source::repo::{self, GitSsh};
use crate::resources::{Attrs, Desired, Presence};
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
}

/// What every kind's render function gets besides the entry: its rendered and checked key,
/// its `owner`, `group` and `mode`, and its rendered `state`.
pub struct Base {
    pub key: String,
    pub attrs: Attrs,
    pub state: Option<String>,
}

impl Keys<'_> {
    /// The entry as the playbook has it (nothing rendered).
    pub fn raw(&self) -> &crate::playbook::RawResource {
        &self.entry.raw
    }

    /// The bytes of file `name` of the role's or playbook's `files/` (or an absolute path),
    /// named by `key`.
    pub fn read_file(&self, key: &str, name: &str) -> Result<Vec<u8>, ResolveError> {
        let role_dir = role_dir_of(self.resolver.playbook, self.entry);
        let pb = &self.resolver.playbook.dir;
        let p = find(&role_dir, pb, "files", name)
            .ok_or_else(|| self.fail(key, missing_msg("file", "files", name, &role_dir, pb)))?;
        std::fs::read(&p).map_err(|e| self.fail(key, format!("{key}: {}: {e}", p.display())))
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

    pub fn string(&self, key: &str, v: &Option<String>) -> Result<Option<String>, ResolveError> {
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

    pub fn boolean(&self, key: &str, v: &Option<YValue>) -> Result<Option<bool>, ResolveError> {
        match v {
            None => Ok(None),
            Some(v) => truth(&self.value(key, v)?)
                .map(Some)
                .ok_or_else(|| self.fail(key, format!("{key} must be true or false"))),
        }
    }

    pub fn number(&self, key: &str, v: &Option<YValue>) -> Result<Option<u64>, ResolveError> {
        match v {
            None => Ok(None),
            Some(v) => scalar_text(&self.value(key, v)?)
                .and_then(|t| t.trim().parse::<u64>().ok())
                .map(Some)
                .ok_or_else(|| self.fail(key, format!("{key} must be a whole number"))),
        }
    }

    pub fn id(&self, key: &str, v: &Option<YValue>) -> Result<Option<u32>, ResolveError> {
        match self.number(key, v)? {
            None => Ok(None),
            Some(n) => u32::try_from(n)
                .map(Some)
                .map_err(|_| self.fail(key, format!("{key} {n} is too large"))),
        }
    }

    /// A list of strings (or one string), rendered.
    pub fn list(&self, key: &str, v: &Option<YValue>) -> Result<Option<Vec<String>>, ResolveError> {
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

    /// A mapping of strings (`environment`), rendered, in the playbook's order.
    pub fn mapping(
        &self,
        key: &str,
        v: &Option<YValue>,
    ) -> Result<Vec<(String, String)>, ResolveError> {
        let Some(v) = v else { return Ok(Vec::new()) };
        let YValue::Mapping(m) = v else {
            return Err(self.fail(key, format!("{key} must be a mapping")));
        };
        let mut out = Vec::new();
        for (name, v) in m {
            let name = match name {
                YValue::String(n) => n.clone(),
                other => crate::yaml::to_string(other).trim().to_string(),
            };
            let text = scalar_text(&self.value(key, v)?).ok_or_else(|| {
                self.fail(
                    key,
                    format!("{key}: `{name}` must be a string, number or boolean"),
                )
            })?;
            out.push((name, text));
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
    /// its path, with its tree (read once per run, with `exclude` applied).
    pub fn source_tree(
        &self,
        key: &str,
        src: &str,
        exclude: &[String],
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

    pub fn path(&self, key: &str, v: Option<String>) -> Result<Option<String>, ResolveError> {
        match v {
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
        exclude: &[String],
    ) -> Result<(String, Arc<LocalTree>), ResolveError> {
        let role_dir = role_dir_of(self.playbook, k.entry);
        let dir = find_dir(&role_dir, &self.playbook.dir, src).ok_or_else(|| {
            k.fail(
                key,
                missing_msg("folder", "files", src, &role_dir, &self.playbook.dir),
            )
        })?;
        Excludes::new(exclude).map_err(|e| k.fail("exclude", e.to_string()))?;
        let tree = self
            .tree(&dir, exclude)
            .map_err(|m| k.fail(key, format!("{key}: {m}")))?;
        Ok((dir.display().to_string(), tree))
    }

    /// `from: {sync: FOLDER, exclude: [...]}` or `from: {git: REPO, version: V, depth: N}`.
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

    fn release_source(&self, k: &Keys) -> Result<ReleaseSource, ResolveError> {
        let bad = || {
            k.fail(
                "from",
                "from: expected `{sync: FOLDER, exclude: [...]}` or `{git: REPO, version: V, depth: N}`"
                    .into(),
            )
        };
        let Some(YValue::Mapping(m)) = &k.entry.raw.from else {
            return Err(bad());
        };
        let get = |name: &str| {
            m.iter()
                .find(|(key, _)| matches!(key, YValue::String(s) if s == name))
                .map(|(_, v)| v.clone())
        };
        for (key, _) in m {
            let known = matches!(key, YValue::String(s) if ["sync", "exclude", "git", "version", "depth", "key", "known_hosts"].contains(&s.as_str()));
            if !known {
                return Err(k.fail(
                    "from",
                    format!(
                        "from: unknown key `{}` (sync, exclude, git, version, depth, key, known_hosts)",
                        crate::yaml::to_string(key).trim()
                    ),
                ));
            }
        }
        let text = |name: &str| -> Result<Option<String>, ResolveError> {
            match get(name) {
                None => Ok(None),
                Some(v) => scalar_text(&k.value("from", &v)?)
                    .map(Some)
                    .ok_or_else(|| k.fail("from", format!("from: `{name}` must be a string"))),
            }
        };
        match (text("sync")?, text("git")?) {
            (Some(src), None) => {
                if ["version", "depth", "key", "known_hosts"]
                    .iter()
                    .any(|n| get(n).is_some())
                {
                    return Err(k.fail(
                        "from",
                        "from: `version`, `depth`, `key` and `known_hosts` go with `git`".into(),
                    ));
                }
                let exclude = k.list("from", &get("exclude"))?.unwrap_or_default();
                let (src, tree) = self.source(k, "from", &src, &exclude)?;
                Ok(ReleaseSource::Sync { src, tree, exclude })
            }
            (None, Some(repo)) => {
                if get("exclude").is_some() {
                    return Err(k.fail("from", "from: `exclude` goes with `sync`".into()));
                }
                repo::check_repo(&repo).map_err(|m| k.fail("from", format!("from: {m}")))?;
                let version = text("version")?.unwrap_or_else(|| "HEAD".into());
                repo::check_version(&version).map_err(|m| k.fail("from", format!("from: {m}")))?;
                let depth = match k.id("from", &get("depth"))? {
                    Some(0) => return Err(k.fail("from", "from: depth must be at least 1".into())),
                    d => d,
                };
                let ssh =
                    self.git_ssh(k, ("from", text("key")?), ("from", text("known_hosts")?))?;
                Ok(ReleaseSource::Git {
                    repo,
                    version,
                    depth,
                    ssh,
                })
            }
            _ => Err(bad()),
        }
    }
}

/// `release:` from its entry (its registry line's `render`).
pub fn release(k: &Keys, b: Base) -> Result<Desired, ResolveError> {
    let Base { key, attrs, state } = b;
    let raw = k.raw();
    k.no_state("release", &state)?;
    let source = k.resolver.release_source(k)?;
    let keep = match k.number("keep", &raw.keep)? {
        None => release::DEFAULT_KEEP,
        Some(0) => return Err(k.fail("keep", "keep must be at least 1".into())),
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
    };
    let pin = match k.resolver.extra_vars.get(RELEASE_PIN_VAR) {
        None => None,
        Some(v) => {
            let text = match v {
                YValue::String(s) => s.trim().to_string(),
                other => crate::yaml::to_string(other).trim().to_string(),
            };
            match text.as_str() {
                "" => None,
                "previous" => Some(Pin::Previous),
                id if release::is_id(id) => Some(Pin::Id(id.to_string())),
                other => {
                    return Err(k.fail(
                        "release",
                        format!(
                            "-e {RELEASE_PIN_VAR}={other}: expected `previous` or a release id (12 hex digits)"
                        ),
                    ))
                }
            }
        }
    };
    Ok(Desired::Release(ReleaseSpec {
        dest: key,
        source,
        layout: Layout {
            owner: attrs.owner,
            group: attrs.group,
            mode: attrs.mode,
        },
        keep,
        pin,
        cache_root: crate::resources::release::CACHE_ROOT.into(),
        steps: {
            let shared = k.list("shared", &raw.shared)?.unwrap_or_default();
            release::check_shared_list(&shared).map_err(|m| k.fail("shared", m))?;
            let build = k.list("build", &raw.build)?.unwrap_or_default();
            if build.iter().any(|c| c.trim().is_empty()) {
                return Err(k.fail("build", "build: an empty command".into()));
            }
            let environment = k.mapping("environment", &raw.environment)?;
            crate::resources::check_environment(&environment)
                .map_err(|m| k.fail("environment", m))?;
            release::Steps {
                shared,
                build,
                environment,
            }
        },
    }))
}
