//! Resolve: from a loaded playbook and inventory to the desired resources of one host.
//!
//! Vars precedence inside a play, low to high: role defaults < inventory vars (see
//! [`crate::inventory`]) < play `vars` < `vars_files` (in order) < extra vars (`-e`).
//! Templates see every var plus `inventory_hostname`, `groups`, `group_names` and `facts`.

pub mod template;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::value::Value as MValue;
use minijinja::Environment;

use crate::inventory::{Host, Inventory, Vars};
use crate::playbook::{Entry, Play, Playbook};
use crate::resources::{
    parse_mode, Attrs, Content, Desired, DirectorySpec, Facts, FileSpec, Kind, LinkSpec, Origin,
    Presence, Resource,
};
use crate::yaml::Value as YValue;
use template::{LazyVars, RenderError, Renderer, Scope};

/// A problem in the input, located.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ResolveError {
    pub origin: Origin,
    pub message: String,
    /// The host the error happened for.
    pub host: String,
}

/// Placeholder facts for rendering before a host was probed (documented in docs/playbooks.md).
pub fn stub_facts() -> Facts {
    Facts {
        hostname: "stub-hostname".into(),
        os_id: "debian".into(),
        os_version: "12".into(),
        arch: "x86_64".into(),
        cpus: 2,
        memory_mb: 2048,
    }
}

/// What [`probe_targets`] found: what to ask the host about before facts are known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    /// (kind, path) of every resource whose key is known without facts.
    pub paths: Vec<(Kind, String)>,
    /// Resources that need facts to know their key (a second probe round trip may follow).
    pub deferred: usize,
}

/// The shared, per-run part of resolution: the template engine.
pub struct Resolver<'a> {
    pub playbook: &'a Playbook,
    pub inventory: &'a Inventory,
    pub extra_vars: &'a Vars,
    env: Arc<Environment<'static>>,
    groups: MValue,
}

fn template_dirs(pb: &Playbook) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for play in &pb.plays {
        for r in &play.roles {
            dirs.push(r.dir.join("templates"));
        }
    }
    dirs.push(pb.dir.join("templates"));
    dirs.dedup();
    dirs
}

fn truthy(v: &MValue) -> bool {
    v.is_true()
}

impl<'a> Resolver<'a> {
    pub fn new(playbook: &'a Playbook, inventory: &'a Inventory, extra_vars: &'a Vars) -> Self {
        let env = Arc::new(template::environment(template_dirs(playbook)));
        let groups = MValue::from_serialize(inventory.groups_map());
        Resolver {
            playbook,
            inventory,
            extra_vars,
            env,
            groups,
        }
    }

    /// Plays that target `host`, in order.
    pub fn plays_for(&self, host: &Host) -> Result<Vec<&'a Play>, ResolveError> {
        let mut out = Vec::new();
        for play in &self.playbook.plays {
            let hosts = self
                .inventory
                .select_lenient(&play.hosts)
                .map_err(|e| ResolveError {
                    origin: play.origin.clone(),
                    message: e.to_string(),
                    host: host.name.clone(),
                })?;
            if hosts.iter().any(|h| h.name == host.name) {
                out.push(play);
            }
        }
        Ok(out)
    }

    fn vars_for(&self, play: &Play, host: &Host, facts: Option<&Facts>) -> Arc<LazyVars> {
        let mut raw: BTreeMap<String, YValue> = BTreeMap::new();
        for r in &play.roles {
            raw.extend(r.defaults.iter().cloned());
        }
        raw.extend(host.vars.clone());
        raw.extend(play.vars.iter().cloned());
        for (_, vf) in &play.vars_files {
            raw.extend(vf.iter().cloned());
        }
        raw.extend(self.extra_vars.clone());
        let mut fixed = BTreeMap::new();
        fixed.insert(
            "inventory_hostname".into(),
            MValue::from(host.name.as_str()),
        );
        fixed.insert("groups".into(), self.groups.clone());
        fixed.insert("group_names".into(), MValue::from_serialize(&host.groups));
        if let Some(f) = facts {
            fixed.insert("facts".into(), MValue::from_serialize(f));
        }
        LazyVars::new(self.env.clone(), raw, fixed)
    }

    /// Every (entry, loop item) of the play's roles then its own state, with `when` applied;
    /// one result per entry, so that one entry needing facts does not hide the others.
    #[allow(clippy::type_complexity)]
    fn expand<'p>(
        &self,
        play: &'p Play,
        host: &Host,
        vars: &Arc<LazyVars>,
    ) -> Vec<Result<Vec<(&'p Entry, Arc<Scope>)>, ResolveError>> {
        play.roles
            .iter()
            .flat_map(|r| r.state.iter())
            .chain(play.state.iter())
            .map(|entry| self.expand_entry(entry, host, vars))
            .collect()
    }

    #[allow(clippy::type_complexity)]
    fn expand_entry<'p>(
        &self,
        entry: &'p Entry,
        host: &Host,
        vars: &Arc<LazyVars>,
    ) -> Result<Vec<(&'p Entry, Arc<Scope>)>, ResolveError> {
        let err = |origin: Origin, e: RenderError, what: &str| ResolveError {
            origin,
            message: format!("{what}: {}", e.message),
            host: host.name.clone(),
        };
        let base = Renderer {
            env: &self.env,
            scope: Scope::new(vars.clone(), BTreeMap::new()),
        };
        let items: Vec<Option<MValue>> = match &entry.raw.loop_ {
            None => vec![None],
            Some(l) => {
                let v = base
                    .value(l)
                    .map_err(|e| err(entry.origin_of("loop"), e, "loop"))?;
                let iter = v.try_iter().map_err(|_| ResolveError {
                    origin: entry.origin_of("loop"),
                    message: format!("loop: expected a list, found {}", v.kind()),
                    host: host.name.clone(),
                })?;
                iter.map(Some).collect()
            }
        };
        let loop_var = entry.raw.loop_var.clone().unwrap_or_else(|| "item".into());
        let mut out = Vec::new();
        for item in items {
            let mut extra = BTreeMap::new();
            if let Some(i) = item {
                extra.insert(loop_var.clone(), i);
            }
            let scope = Scope::new(vars.clone(), extra);
            let r = Renderer {
                env: &self.env,
                scope: scope.clone(),
            };
            if self.when(entry, &r, host)? {
                out.push((entry, scope));
            }
        }
        Ok(out)
    }

    fn when(&self, entry: &Entry, r: &Renderer, host: &Host) -> Result<bool, ResolveError> {
        let conds: Vec<&YValue> = match &entry.raw.when {
            None => return Ok(true),
            Some(YValue::Sequence(items)) => items.iter().collect(),
            Some(v) => vec![v],
        };
        for c in conds {
            let ok = match c {
                YValue::Bool(b) => *b,
                YValue::String(s) => {
                    let expr = s
                        .trim()
                        .strip_prefix("{{")
                        .and_then(|x| x.strip_suffix("}}"))
                        .unwrap_or(s);
                    truthy(&r.expr(expr).map_err(|e| ResolveError {
                        origin: entry.origin_of("when"),
                        message: format!("when: {}", e.message),
                        host: host.name.clone(),
                    })?)
                }
                other => {
                    return Err(ResolveError {
                        origin: entry.origin_of("when"),
                        message: format!(
                            "when: expected an expression or true/false, found {}",
                            crate::yaml::to_string(other).trim()
                        ),
                        host: host.name.clone(),
                    })
                }
            };
            if !ok {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// What to probe on `host` before its facts are known. Resources whose key needs facts are
    /// counted in `deferred`. Errors are real input errors (they also fail with stub facts).
    pub fn probe_targets(&self, host: &Host) -> Result<Targets, ResolveError> {
        let mut t = Targets::default();
        let stub = stub_facts();
        for play in self.plays_for(host)? {
            let vars = self.vars_for(play, host, None);
            let stub_vars = self.vars_for(play, host, Some(&stub));
            for (i, expanded) in self.expand(play, host, &vars).into_iter().enumerate() {
                let list = match expanded {
                    Ok(list) => list,
                    Err(_) => {
                        // `loop`/`when` need facts: a real error if they fail with stub facts too.
                        let entry = play
                            .roles
                            .iter()
                            .flat_map(|r| r.state.iter())
                            .chain(play.state.iter())
                            .nth(i);
                        if let Some(entry) = entry {
                            self.expand_entry(entry, host, &stub_vars)?;
                        }
                        t.deferred += 1;
                        continue;
                    }
                };
                for (entry, scope) in list {
                    let r = Renderer {
                        env: &self.env,
                        scope,
                    };
                    match self.key(entry, &r, host) {
                        Ok((kind, key)) => t.paths.push((kind, key)),
                        Err(_) => t.deferred += 1,
                    }
                }
            }
        }
        Ok(t)
    }

    fn key(
        &self,
        entry: &Entry,
        r: &Renderer,
        host: &Host,
    ) -> Result<(Kind, String), ResolveError> {
        let (kind, raw_key) = entry.raw.kind().ok_or_else(|| ResolveError {
            origin: entry.origin.clone(),
            message: "resource without a kind".into(),
            host: host.name.clone(),
        })?;
        let kind = match kind {
            "file" => Kind::File,
            "directory" => Kind::Directory,
            _ => Kind::Link,
        };
        let key = r
            .string(&entry.origin_of(kind.as_str()).to_string(), raw_key)
            .map_err(|e| ResolveError {
                origin: entry.origin_of(kind.as_str()),
                message: format!("{kind}: {}", e.message),
                host: host.name.clone(),
            })?;
        check_path(&key).map_err(|m| ResolveError {
            origin: entry.origin_of(kind.as_str()),
            message: m,
            host: host.name.clone(),
        })?;
        Ok((kind, key))
    }

    /// The host's desired resources, fully rendered with `facts`, in apply order.
    pub fn resources(&self, host: &Host, facts: &Facts) -> Result<Vec<Resource>, ResolveError> {
        let mut out = Vec::new();
        for play in self.plays_for(host)? {
            let vars = self.vars_for(play, host, Some(facts));
            let mut seen: HashMap<String, Origin> = HashMap::new();
            let mut list = Vec::new();
            for expanded in self.expand(play, host, &vars) {
                list.extend(expanded?);
            }
            for (entry, scope) in list {
                let r = Renderer {
                    env: &self.env,
                    scope,
                };
                let res = self.resource(entry, &r, host)?;
                let key = res.desired.key().to_string();
                if let Some(first) = seen.get(&key) {
                    return Err(ResolveError {
                        origin: res.origin.clone(),
                        message: format!(
                            "duplicate resource `{key}` in play `{}` for host {} (first declared at {first})",
                            play.name, host.name
                        ),
                        host: host.name.clone(),
                    });
                }
                seen.insert(key, res.origin.clone());
                out.push(res);
            }
        }
        Ok(out)
    }

    fn resource(&self, entry: &Entry, r: &Renderer, host: &Host) -> Result<Resource, ResolveError> {
        let raw = &entry.raw;
        let (kind, path) = self.key(entry, r, host)?;
        let fail = |key: &str, message: String| ResolveError {
            origin: entry.origin_of(key),
            message,
            host: host.name.clone(),
        };
        let s = |key: &str, v: &Option<String>| -> Result<Option<String>, ResolveError> {
            match v {
                None => Ok(None),
                Some(t) => r
                    .string(&entry.origin_of(key).to_string(), t)
                    .map(Some)
                    .map_err(|e| fail(key, format!("{key}: {}", e.message))),
            }
        };
        let mode = match &raw.mode {
            None => None,
            Some(YValue::Number(n)) => {
                Some(parse_mode(&n.to_string()).map_err(|m| fail("mode", m))?)
            }
            Some(YValue::String(m)) => {
                let m = s("mode", &Some(m.clone()))?.unwrap_or_default();
                Some(parse_mode(&m).map_err(|m| fail("mode", m))?)
            }
            Some(_) => {
                return Err(fail(
                    "mode",
                    "mode must be an octal string like \"0644\"".into(),
                ))
            }
        };
        let attrs = Attrs {
            owner: s("owner", &raw.owner)?,
            group: s("group", &raw.group)?,
            mode,
        };
        let presence = match s("state", &raw.state)?.as_deref() {
            None | Some("present") => Presence::Present,
            Some("absent") => Presence::Absent,
            Some(other) => {
                return Err(fail(
                    "state",
                    format!("state must be `present` or `absent`, found `{other}`"),
                ))
            }
        };
        let force = match &raw.force {
            None => false,
            Some(YValue::Bool(b)) => *b,
            Some(YValue::String(t)) => match s("force", &Some(t.clone()))?.as_deref() {
                Some("true") | Some("True") | Some("yes") => true,
                Some("false") | Some("False") | Some("no") | Some("") => false,
                Some(o) => {
                    return Err(fail(
                        "force",
                        format!("force must be true or false, found `{o}`"),
                    ))
                }
                None => false,
            },
            Some(_) => return Err(fail("force", "force must be true or false".into())),
        };
        let role_dir = entry.role.as_ref().and_then(|name| {
            self.playbook
                .plays
                .iter()
                .flat_map(|p| p.roles.iter())
                .find(|ro| &ro.name == name)
                .map(|ro| ro.dir.clone())
        });
        let desired = match kind {
            Kind::File => {
                let content = if let Some(c) = s("content", &raw.content)? {
                    Some(Content {
                        bytes: c.into_bytes(),
                        source: "content".into(),
                    })
                } else if let Some(src) = s("src", &raw.src)? {
                    let p =
                        find(&role_dir, &self.playbook.dir, "files", &src).ok_or_else(|| {
                            fail(
                                "src",
                                missing_msg("file", "files", &src, &role_dir, &self.playbook.dir),
                            )
                        })?;
                    let bytes = std::fs::read(&p)
                        .map_err(|e| fail("src", format!("cannot read {}: {e}", p.display())))?;
                    Some(Content {
                        bytes,
                        source: format!("src: {}", p.display()),
                    })
                } else if let Some(t) = s("template", &raw.template)? {
                    let p =
                        find(&role_dir, &self.playbook.dir, "templates", &t).ok_or_else(|| {
                            fail(
                                "template",
                                missing_msg(
                                    "template",
                                    "templates",
                                    &t,
                                    &role_dir,
                                    &self.playbook.dir,
                                ),
                            )
                        })?;
                    let source = std::fs::read_to_string(&p).map_err(|e| {
                        fail("template", format!("cannot read {}: {e}", p.display()))
                    })?;
                    let name = p.display().to_string();
                    let text = r.string(&name, &source).map_err(|e| ResolveError {
                        origin: Origin {
                            file: name.clone(),
                            line: e.line.unwrap_or(0),
                            column: 0,
                        },
                        message: format!(
                            "{} (template of {kind} {path}, declared at {})",
                            e.message, entry.origin
                        ),
                        host: host.name.clone(),
                    })?;
                    Some(Content {
                        bytes: text.into_bytes(),
                        source: format!("template: {}", p.display()),
                    })
                } else {
                    None
                };
                Desired::File(FileSpec {
                    path,
                    presence,
                    content,
                    attrs,
                })
            }
            Kind::Directory => Desired::Directory(DirectorySpec {
                path,
                presence,
                attrs,
                force,
            }),
            Kind::Link => Desired::Link(LinkSpec {
                path,
                presence,
                target: s("target", &raw.target)?.unwrap_or_default(),
                attrs,
                force,
            }),
        };
        Ok(Resource {
            desired,
            origin: entry.origin.clone(),
            sensitive: raw.sensitive.unwrap_or(false),
        })
    }
}

fn find(role_dir: &Option<PathBuf>, pb_dir: &Path, sub: &str, name: &str) -> Option<PathBuf> {
    if name.starts_with('/') {
        let p = PathBuf::from(name);
        return p.is_file().then_some(p);
    }
    role_dir
        .iter()
        .map(|d| d.join(sub).join(name))
        .chain(std::iter::once(pb_dir.join(sub).join(name)))
        .find(|p| p.is_file())
}

fn missing_msg(
    what: &str,
    sub: &str,
    name: &str,
    role_dir: &Option<PathBuf>,
    pb_dir: &Path,
) -> String {
    let mut looked: Vec<String> = role_dir
        .iter()
        .map(|d| d.join(sub).display().to_string())
        .collect();
    looked.push(pb_dir.join(sub).display().to_string());
    format!(
        "{what} `{name}` not found (looked in {})",
        looked.join(", ")
    )
}

/// A managed path must be absolute, normalized and free of `..`.
pub fn check_path(p: &str) -> Result<(), String> {
    if !p.starts_with('/') {
        return Err(format!("path `{p}` must be absolute"));
    }
    if p.split('/').any(|c| c == ".." || c == ".") {
        return Err(format!(
            "path `{p}` must not contain `.` or `..` components"
        ));
    }
    if p.contains('\0') {
        return Err("path contains a NUL byte".into());
    }
    if p == "/" {
        return Err("path `/` cannot be managed".into());
    }
    Ok(())
}
