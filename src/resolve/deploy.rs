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
use crate::resources::apt_source::{self, AptSourceSpec};
use crate::resources::command::CommandSpec;
use crate::resources::download::{self, DownloadSpec, FetchFrom};
use crate::resources::git::{self, GitSpec};
use crate::resources::group::GroupSpec;
use crate::resources::package::{self, PackageSpec, PackageState};
use crate::resources::release::{self, Pin, ReleaseSource, ReleaseSpec};
use crate::resources::sync::{Excludes, Layout, LocalTree, SyncSpec};
use crate::resources::user::{self, UserSpec};
use crate::resources::venv::{self, VenvSpec};
use crate::resources::{block, cron, edit, line};
use crate::resources::{Attrs, Desired, Kind, Presence, Resource};
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

/// Renders the pieces of one entry, with errors located at their keys.
struct Keys<'x> {
    entry: &'x Entry,
    r: &'x Renderer<'x>,
    host: &'x Host,
}

impl Keys<'_> {
    fn fail(&self, key: &str, message: String) -> ResolveError {
        ResolveError {
            origin: self.entry.origin_of(key),
            message,
            host: self.host.name.clone(),
        }
    }

    fn string(&self, key: &str, v: &Option<String>) -> Result<Option<String>, ResolveError> {
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

    fn value(&self, key: &str, v: &YValue) -> Result<MValue, ResolveError> {
        self.r
            .value(v)
            .map_err(|e| self.fail(key, format!("{key}: {}", e.message)))
    }

    fn boolean(&self, key: &str, v: &Option<YValue>) -> Result<Option<bool>, ResolveError> {
        match v {
            None => Ok(None),
            Some(v) => truth(&self.value(key, v)?)
                .map(Some)
                .ok_or_else(|| self.fail(key, format!("{key} must be true or false"))),
        }
    }

    fn number(&self, key: &str, v: &Option<YValue>) -> Result<Option<u64>, ResolveError> {
        match v {
            None => Ok(None),
            Some(v) => scalar_text(&self.value(key, v)?)
                .and_then(|t| t.trim().parse::<u64>().ok())
                .map(Some)
                .ok_or_else(|| self.fail(key, format!("{key} must be a whole number"))),
        }
    }

    fn id(&self, key: &str, v: &Option<YValue>) -> Result<Option<u32>, ResolveError> {
        match self.number(key, v)? {
            None => Ok(None),
            Some(n) => u32::try_from(n)
                .map(Some)
                .map_err(|_| self.fail(key, format!("{key} {n} is too large"))),
        }
    }

    /// A list of strings (or one string), rendered.
    fn list(&self, key: &str, v: &Option<YValue>) -> Result<Option<Vec<String>>, ResolveError> {
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
    fn mapping(
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

    fn presence(&self, state: &Option<String>) -> Result<Presence, ResolveError> {
        match state.as_deref() {
            None | Some("present") => Ok(Presence::Present),
            Some("absent") => Ok(Presence::Absent),
            Some(other) => Err(self.fail(
                "state",
                format!("state must be `present` or `absent`, found `{other}`"),
            )),
        }
    }

    fn no_state(&self, kind: &str, state: &Option<String>) -> Result<(), ResolveError> {
        match state {
            None => Ok(()),
            Some(_) => Err(self.fail("state", format!("a {kind} has no `state`"))),
        }
    }

    fn path(&self, key: &str, v: Option<String>) -> Result<Option<String>, ResolveError> {
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

    /// The names of a `package:` entry (a name, a list, or a template giving either).
    pub(super) fn package_names(
        &self,
        entry: &Entry,
        r: &Renderer,
        host: &Host,
    ) -> Result<Vec<(String, Option<String>)>, ResolveError> {
        let k = Keys { entry, r, host };
        let names = k.list("package", &entry.raw.package)?.unwrap_or_default();
        if names.is_empty() {
            return Err(k.fail("package", "package: no package named".into()));
        }
        names
            .iter()
            .map(|n| package::parse_name(n).map_err(|m| k.fail("package", m)))
            .collect()
    }

    /// The resources of a `package:` entry: one per name.
    pub(super) fn packages(
        &self,
        entry: &Entry,
        r: &Renderer,
        host: &Host,
    ) -> Result<Vec<Resource>, ResolveError> {
        let k = Keys { entry, r, host };
        let raw = &entry.raw;
        let state = match k.string("state", &raw.state)?.as_deref() {
            None => PackageState::Present,
            Some(s) => PackageState::parse(s).ok_or_else(|| {
                k.fail(
                    "state",
                    format!("a package's state is `present`, `absent` or `latest`, not `{s}`"),
                )
            })?,
        };
        let update_cache = k
            .boolean("update_cache", &raw.update_cache)?
            .unwrap_or(false);
        self.package_names(entry, r, host)?
            .into_iter()
            .map(|(name, version)| {
                if version.is_some() && state != PackageState::Present {
                    return Err(k.fail(
                        "package",
                        format!("package `{name}`: a pinned version needs `state: present`"),
                    ));
                }
                Ok(Resource {
                    desired: Desired::Package(PackageSpec {
                        name,
                        version,
                        state,
                        update_cache,
                    }),
                    origin: entry.origin.clone(),
                    sensitive: raw.sensitive.unwrap_or(false),
                })
            })
            .collect()
    }

    /// A `git:`, `sync:`, `release:`, `user:`, `group:` or `command:` resource; `key` is
    /// rendered and checked, `attrs` and `state` too.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn deploy_resource(
        &self,
        kind: Kind,
        key: String,
        attrs: Attrs,
        state: Option<String>,
        entry: &Entry,
        r: &Renderer,
        host: &Host,
    ) -> Result<Resource, ResolveError> {
        let k = Keys { entry, r, host };
        let raw = &entry.raw;
        let desired = match kind {
            Kind::Git => {
                let presence = k.presence(&state)?;
                let repo = k.string("repo", &raw.repo)?.unwrap_or_default();
                if presence == Presence::Present {
                    git::check_repo(&repo).map_err(|m| k.fail("repo", m))?;
                }
                let version = k
                    .string("version", &raw.version)?
                    .unwrap_or_else(|| "HEAD".into());
                git::check_version(&version).map_err(|m| k.fail("version", m))?;
                let depth = match k.id("depth", &raw.depth)? {
                    Some(0) => return Err(k.fail("depth", "depth must be at least 1".into())),
                    d => d,
                };
                let ssh = self.git_ssh(
                    &k,
                    ("key", k.string("key", &raw.key)?),
                    ("known_hosts", k.string("known_hosts", &raw.known_hosts)?),
                )?;
                Desired::Git(GitSpec {
                    ssh,
                    dest: key,
                    presence,
                    repo,
                    version,
                    depth,
                    owner: attrs.owner,
                    group: attrs.group,
                    force: k.boolean("force", &raw.force)?.unwrap_or(false),
                })
            }
            Kind::Sync => {
                k.no_state("sync", &state)?;
                let src = k.string("src", &raw.src)?.unwrap_or_default();
                let exclude = k.list("exclude", &raw.exclude)?.unwrap_or_default();
                let (src, tree) = self.source(&k, "src", &src, &exclude)?;
                Desired::Sync(SyncSpec {
                    dest: key,
                    src,
                    tree,
                    layout: Layout {
                        owner: attrs.owner,
                        group: attrs.group,
                        mode: attrs.mode,
                    },
                    delete: k.boolean("delete", &raw.delete)?.unwrap_or(false),
                    exclude,
                })
            }
            Kind::Release => {
                k.no_state("release", &state)?;
                let source = self.release_source(&k)?;
                let keep = match k.number("keep", &raw.keep)? {
                    None => release::DEFAULT_KEEP,
                    Some(0) => return Err(k.fail("keep", "keep must be at least 1".into())),
                    Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
                };
                let pin = match self.extra_vars.get(RELEASE_PIN_VAR) {
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
                Desired::Release(ReleaseSpec {
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
                })
            }
            Kind::User => {
                user::check_name("user", &key).map_err(|m| k.fail("user", m))?;
                if let Some(g) = &attrs.group {
                    user::check_name("group", g).map_err(|m| k.fail("group", m))?;
                }
                let groups = k.list("groups", &raw.groups)?;
                for g in groups.iter().flatten() {
                    user::check_name("group", g).map_err(|m| k.fail("groups", m))?;
                }
                let shell = k.string("shell", &raw.shell)?;
                if let Some(s) = &shell {
                    if !s.starts_with('/') || s.contains([':', '\n']) {
                        return Err(
                            k.fail("shell", format!("shell `{s}` must be an absolute path"))
                        );
                    }
                }
                let home = k.path("home", k.string("home", &raw.home)?)?;
                if home.as_deref().is_some_and(|h| h.contains(':')) {
                    return Err(k.fail("home", "home must not contain `:`".into()));
                }
                Desired::User(UserSpec {
                    name: key,
                    presence: k.presence(&state)?,
                    uid: k.id("uid", &raw.uid)?,
                    group: attrs.group,
                    groups,
                    append: k.boolean("append", &raw.append)?.unwrap_or(false),
                    shell,
                    home,
                    system: k.boolean("system", &raw.system)?.unwrap_or(false),
                    create_home: k.boolean("create_home", &raw.create_home)?,
                })
            }
            Kind::Group => {
                user::check_name("group", &key).map_err(|m| k.fail("group", m))?;
                Desired::Group(GroupSpec {
                    name: key,
                    presence: k.presence(&state)?,
                    gid: k.id("gid", &raw.gid)?,
                    system: k.boolean("system", &raw.system)?.unwrap_or(false),
                })
            }
            Kind::Command => {
                k.no_state("command", &state)?;
                let user = k.string("user", &raw.user)?;
                if let Some(u) = &user {
                    user::check_name("user", u).map_err(|m| k.fail("user", m))?;
                }
                let unless = k.string("unless", &raw.unless)?;
                if unless.as_deref().is_some_and(|u| u.trim().is_empty()) {
                    return Err(k.fail("unless", "unless: an empty command".into()));
                }
                Desired::Command(CommandSpec {
                    command: key,
                    creates: k.path("creates", k.string("creates", &raw.creates)?)?,
                    unless,
                    on_change: k.list("on_change", &raw.on_change)?.unwrap_or_default(),
                    chdir: k.path("chdir", k.string("chdir", &raw.chdir)?)?,
                    user,
                    environment: {
                        let env = k.mapping("environment", &raw.environment)?;
                        cron::check_environment(&env).map_err(|m| k.fail("environment", m))?;
                        env
                    },
                })
            }
            Kind::Line => {
                let regexp = k.string("regexp", &raw.regexp)?;
                if let Some(re) = &regexp {
                    line::check_regexp(re).map_err(|m| k.fail("regexp", m))?;
                }
                let presence = k.presence(&state)?;
                let text = k.string("text", &raw.text)?;
                if presence == Presence::Present && text.is_none() {
                    return Err(k.fail("line", "a line needs `text`".into()));
                }
                if presence == Presence::Absent && text.is_none() && regexp.is_none() {
                    return Err(k.fail("line", "an absent line needs `regexp` or `text`".into()));
                }
                let text = text.unwrap_or_default();
                line::check_text(&text).map_err(|m| k.fail("text", m))?;
                let validate = k.string("validate", &raw.validate)?;
                if let Some(v) = &validate {
                    edit::check_validate(v).map_err(|m| k.fail("validate", m))?;
                }
                Desired::Line(line::LineSpec {
                    path: key,
                    presence,
                    regexp,
                    text,
                    validate,
                })
            }
            Kind::Block => {
                let presence = k.presence(&state)?;
                let text = k.string("text", &raw.text)?;
                if presence == Presence::Present && text.is_none() {
                    return Err(k.fail("block", "a block needs `text`".into()));
                }
                let marker = k
                    .string("marker", &raw.marker)?
                    .unwrap_or_else(|| block::DEFAULT_MARKER.to_string());
                block::check_marker(&marker).map_err(|m| k.fail("marker", m))?;
                Desired::Block(block::BlockSpec {
                    path: key,
                    presence,
                    text: text.unwrap_or_default(),
                    marker,
                })
            }
            Kind::Cron => {
                let presence = k.presence(&state)?;
                let schedule = k.string("schedule", &raw.schedule)?.unwrap_or_default();
                let command = k.string("command", &raw.command)?.unwrap_or_default();
                if presence == Presence::Present {
                    cron::check_schedule(&schedule).map_err(|m| k.fail("schedule", m))?;
                    if command.trim().is_empty() || command.contains('\n') {
                        return Err(
                            k.fail("command", "a cron job needs `command`, one line".into())
                        );
                    }
                }
                let user = k
                    .string("user", &raw.user)?
                    .unwrap_or_else(|| "root".into());
                user::check_name("user", &user).map_err(|m| k.fail("user", m))?;
                let environment = k.mapping("environment", &raw.environment)?;
                cron::check_environment(&environment).map_err(|m| k.fail("environment", m))?;
                Desired::Cron(cron::CronSpec {
                    name: key,
                    presence,
                    schedule,
                    user,
                    command,
                    environment,
                })
            }
            // fetch kinds
            Kind::Download => {
                let presence = k.presence(&state)?;
                let url = k.string("url", &raw.url)?.unwrap_or_default();
                let sha256 = k.string("sha256", &raw.sha256)?.unwrap_or_default();
                let sha256 = if presence == Presence::Present {
                    download::check_url(&url).map_err(|m| k.fail("url", m))?;
                    download::check_sha256(&sha256).map_err(|m| k.fail("sha256", m))?
                } else {
                    sha256
                };
                let from = match &raw.from {
                    None => None,
                    Some(v) => Some(scalar_text(&k.value("from", v)?).unwrap_or_default()),
                };
                let from = match from.as_deref() {
                    None | Some("host") => FetchFrom::Host,
                    Some("controller") => FetchFrom::Controller,
                    Some(other) => {
                        return Err(k.fail(
                            "from",
                            format!(
                                "from: `host` or `controller` (who fetches the url), not `{other}`"
                            ),
                        ))
                    }
                };
                Desired::Download(DownloadSpec {
                    path: key,
                    presence,
                    url,
                    sha256,
                    from,
                    attrs,
                })
            }
            Kind::AptSource => {
                let presence = k.presence(&state)?;
                let uris = k.list("uris", &raw.uris)?.unwrap_or_default();
                let suites = k.list("suites", &raw.suites)?.unwrap_or_default();
                let components = k.list("components", &raw.components)?.unwrap_or_default();
                if presence == Presence::Present {
                    apt_source::check_lists(&uris, &suites, &components)
                        .map_err(|(key, m)| k.fail(key, m))?;
                }
                let key_bytes = match k.string("key", &raw.key)? {
                    None => None,
                    Some(name) => {
                        let role_dir = role_dir_of(self.playbook, entry);
                        let pb = &self.playbook.dir;
                        let p = find(&role_dir, pb, "files", &name).ok_or_else(|| {
                            k.fail("key", missing_msg("file", "files", &name, &role_dir, pb))
                        })?;
                        let bytes = std::fs::read(&p)
                            .map_err(|e| k.fail("key", format!("key: {}: {e}", p.display())))?;
                        Some(bytes)
                    }
                };
                Desired::AptSource(AptSourceSpec {
                    name: key,
                    presence,
                    uris,
                    suites,
                    components,
                    key: key_bytes,
                    trusted: k.boolean("trusted", &raw.trusted)?.unwrap_or(false),
                })
            }
            Kind::Venv => {
                let user = k.string("user", &raw.user)?;
                if let Some(u) = &user {
                    user::check_name("user", u).map_err(|m| k.fail("user", m))?;
                }
                let python = k
                    .string("python", &raw.python)?
                    .unwrap_or_else(|| "python3".into());
                if python.trim().is_empty() {
                    return Err(k.fail("python", "python: an empty interpreter".into()));
                }
                let packages = k
                    .list("packages", &raw.packages)?
                    .unwrap_or_default()
                    .iter()
                    .map(|p| venv::parse_requirement(p).map_err(|m| k.fail("packages", m)))
                    .collect::<Result<Vec<_>, _>>()?;
                Desired::Venv(VenvSpec {
                    path: key,
                    presence: k.presence(&state)?,
                    python,
                    packages,
                    requirements: k
                        .path("requirements", k.string("requirements", &raw.requirements)?)?,
                    pip_args: k.list("pip_args", &raw.pip_args)?.unwrap_or_default(),
                    user,
                })
            }
            other @ (Kind::File
            | Kind::Directory
            | Kind::Link
            | Kind::Program
            | Kind::Service
            | Kind::Package) => {
                return Err(k.fail(
                    other.as_str(),
                    format!("internal error: {other} is not rendered here"),
                ))
            }
        };
        Ok(Resource {
            desired,
            origin: entry.origin.clone(),
            sensitive: raw.sensitive.unwrap_or(false),
        })
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
    ) -> Result<git::GitSsh, ResolveError> {
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
                let key = git::DeployKey::new(&shown, &bytes)
                    .map_err(|m| k.fail(key_at, format!("key: {shown} {m}")))?;
                crate::vault::register_strings(key.lines().map(str::to_string));
                Some(key)
            }
        };
        let known_hosts = match known_hosts {
            None => None,
            Some(t) if t.contains(char::is_whitespace) => {
                git::check_known_hosts(&t)
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
                git::check_known_hosts(&t)
                    .map_err(|m| k.fail(kh_at, format!("known_hosts: {} {m}", path.display())))?;
                Some(t)
            }
        };
        Ok(git::GitSsh { key, known_hosts })
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
                git::check_repo(&repo).map_err(|m| k.fail("from", format!("from: {m}")))?;
                let version = text("version")?.unwrap_or_else(|| "HEAD".into());
                git::check_version(&version).map_err(|m| k.fail("from", format!("from: {m}")))?;
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
