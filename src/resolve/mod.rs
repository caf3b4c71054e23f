//! Resolve: from a loaded playbook and inventory to the desired resources of one host.
//!
//! Vars precedence inside a play, low to high: role defaults < inventory vars (see
//! [`crate::inventory`]) < play `vars` < `vars_files` (in order) < extra vars (`-e`).
//! Templates see every var plus `inventory_hostname`, `groups`, `group_names`, `facts` and
//! `play_run_time` (the run's start, [`run_time`]).

pub mod ansible;
pub mod deploy;
pub mod gather;
pub mod limits;
pub mod template;

pub use deploy::{Base, Keys, RELEASE_PIN_VAR};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::value::Value as MValue;
use minijinja::Environment;

use crate::inventory::{Host, Inventory, Vars};
use crate::playbook::{Entry, Play, Playbook, TagSelection, WaitFor};
use crate::resources::registry::{PerNameFn, PerNameKeys, Plug, Render};
use crate::resources::tree;
pub use crate::resources::tree::check_path;
use crate::resources::{parse_mode, Attrs, Content, Facts, Kind, Origin, Resource};
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
        os_codename: "bookworm".into(),
        arch: "x86_64".into(),
        cpus: 2,
        memory_mb: 2048,
        virtualization: "NA".into(),
        selinux: "disabled".into(),
        // documentation addresses (RFC 5737, RFC 3849): never a real host
        default_ipv4: [
            ("address", "198.51.100.10"),
            ("gateway", "198.51.100.1"),
            ("interface", "eth0"),
            ("netmask", "255.255.255.0"),
            ("network", "198.51.100.0"),
            ("prefix", "24"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        default_ipv6: [
            ("address", "2001:db8::10"),
            ("gateway", "2001:db8::1"),
            ("interface", "eth0"),
            ("prefix", "64"),
            ("scope", "global"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        env: stub_env(),
        gathered: Default::default(),
    }
}

/// The stand-in of `facts.env` (`ansible_env`) before a host was probed, and with facts
/// recorded by `play facts --save` (which never records the environment): the root session sudo
/// gives a `deploy` login on Debian (documented in docs/playbooks.md). A key it lacks is an
/// undefined value for `play check`, as on a host without it.
pub fn stub_env() -> BTreeMap<String, String> {
    [
        ("HOME", "/root"),
        ("LOGNAME", "root"),
        ("MAIL", "/var/mail/root"),
        (
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ),
        ("SHELL", "/bin/bash"),
        ("SUDO_COMMAND", "/bin/sh"),
        ("SUDO_GID", "1000"),
        ("SUDO_UID", "1000"),
        ("SUDO_USER", "stub-sudo-user"),
        ("TERM", "unknown"),
        ("USER", "root"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The `facts` var: the facts with `env` beside them (which [`Facts`] never serializes).
#[derive(serde::Serialize)]
struct FactsVar<'a> {
    #[serde(flatten)]
    facts: &'a Facts,
    env: &'a BTreeMap<String, String>,
}

/// What [`probe_targets`] found: what to ask the host about before facts are known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    /// (kind, path) of every resource whose key is known without facts.
    pub paths: Vec<(Kind, String)>,
    /// Resources that need facts to know their key (a second probe round trip may follow).
    pub deferred: usize,
    /// Resources of the kinds of `resources::deploy` fully rendered without facts: what the
    /// probe must ask for them (checkouts, trees, packages...) is known before the first probe.
    pub rendered: Vec<Resource>,
}

/// Source trees read during a run, by (folder, exclude patterns).
type TreeCache = std::sync::Mutex<
    HashMap<(PathBuf, Vec<String>), Arc<crate::resources::source::files::LocalTree>>,
>;

/// The shared, per-run part of resolution: the template engine.
pub struct Resolver<'a> {
    pub playbook: &'a Playbook,
    pub inventory: &'a Inventory,
    pub extra_vars: &'a Vars,
    env: Arc<Environment<'static>>,
    /// Bounds of every rendering (output cap, fuel).
    limits: template::Limits,
    groups: MValue,
    /// `sync:` and `release:` sources, read once per run.
    trees: TreeCache,
    /// `--tags` / `--skip-tags`: entries not selected are left out.
    tags: TagSelection,
    /// Which of the facts gathered only when named the project names.
    named_facts: std::sync::OnceLock<NamedFacts>,
    /// `play_run_time`: the run's start ([`run_time`]), the same for every host of the run.
    run_time: MValue,
    /// Ansible's `ansible_date_time` of the same instant ([`date_time`]).
    date_time: MValue,
    /// Each role's folder, absolute (Ansible's `role_path`), by its folder as loaded.
    role_paths: HashMap<PathBuf, MValue>,
}

/// The name of the built-in var holding the run's start time.
pub const RUN_TIME_VAR: &str = "play_run_time";

/// Seconds since the epoch, now.
pub fn now_epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `epoch` (seconds) in UTC as RFC 3339: `2026-12-02T15:04:20Z`.
fn rfc3339(epoch: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(epoch);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// The value of `play_run_time` for a run started at `epoch` (seconds, UTC): `iso8601`
/// (`2026-12-02T15:04:20Z`), `stamp` (`20261202150420`, strftime's `%Y%m%d%H%M%S`: Ansible's
/// `deploy_helper` release name) and `epoch` (seconds).
pub fn run_time(epoch: u64) -> BTreeMap<&'static str, MValue> {
    let iso = rfc3339(epoch);
    let stamp: String = iso.chars().filter(char::is_ascii_digit).collect();
    BTreeMap::from([
        ("iso8601", MValue::from(iso)),
        ("stamp", MValue::from(stamp)),
        ("epoch", MValue::from(epoch)),
    ])
}

/// Ansible's `ansible_date_time` fact for the run's start `epoch`, in UTC (Ansible's is the
/// host's clock in its zone when facts are gathered): its keys, text values as Ansible's.
pub fn date_time(epoch: u64) -> BTreeMap<&'static str, MValue> {
    let iso = rfc3339(epoch); // 2026-12-02T15:04:20Z
    let part = |a: usize, b: usize| MValue::from(iso.get(a..b).unwrap_or_default());
    const DAYS: [&str; 7] = [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    ];
    let wd = ((epoch / 86_400 + 4) % 7) as usize; // 1970-01-01 was a Thursday
    let digits: String = iso.chars().filter(char::is_ascii_digit).collect();
    BTreeMap::from([
        ("date", part(0, 10)),
        ("time", part(11, 19)),
        ("year", part(0, 4)),
        ("month", part(5, 7)),
        ("day", part(8, 10)),
        ("hour", part(11, 13)),
        ("minute", part(14, 16)),
        ("second", part(17, 19)),
        ("epoch", MValue::from(epoch.to_string())),
        ("epoch_int", MValue::from(epoch.to_string())),
        ("iso8601", MValue::from(iso.clone())),
        (
            "iso8601_basic_short",
            MValue::from(format!(
                "{}T{}",
                &digits[..8.min(digits.len())],
                digits.get(8..).unwrap_or_default()
            )),
        ),
        ("tz", MValue::from("UTC")),
        ("tz_offset", MValue::from("+0000")),
        ("weekday", MValue::from(DAYS[wd])),
        ("weekday_number", MValue::from(wd.to_string())),
    ])
}

/// The facts the probe gathers only when the project names them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NamedFacts {
    /// `default_ipv4`/`default_ipv6`.
    pub net: bool,
    /// `ansible_env`, `facts.env` (`ansible_facts.env`, `ansible_facts['env']`).
    pub env: bool,
}

impl NamedFacts {
    fn all(self) -> bool {
        self.net && self.env
    }

    fn or(self, other: NamedFacts) -> NamedFacts {
        NamedFacts {
            net: self.net || other.net,
            env: self.env || other.env,
        }
    }
}

/// The facts of [`NamedFacts`] that `text` names.
fn names_facts(text: &str) -> NamedFacts {
    NamedFacts {
        net: text.contains("default_ipv4") || text.contains("default_ipv6"),
        env: ["ansible_env", "facts.env", "facts['env']", "facts[\"env\"]"]
            .iter()
            .any(|n| text.contains(n)),
    }
}

/// The facts of [`NamedFacts`] a file, or the files of a folder (8 levels down at most, files
/// of 4 MiB at most), name (unreadable files name none).
fn tree_names_facts(path: &Path, depth: usize) -> NamedFacts {
    let Ok(meta) = std::fs::metadata(path) else {
        return NamedFacts::default();
    };
    if meta.is_file() {
        if meta.len() > 4 << 20 {
            return NamedFacts::default();
        }
        return std::fs::read(path)
            .map(|b| names_facts(&String::from_utf8_lossy(&b)))
            .unwrap_or_default();
    }
    if !meta.is_dir() || depth > 8 {
        return NamedFacts::default();
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return NamedFacts::default();
    };
    let mut named = NamedFacts::default();
    for e in entries.flatten() {
        named = named.or(tree_names_facts(&e.path(), depth + 1));
        if named.all() {
            break;
        }
    }
    named
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

/// The template engine of a playbook, with Ansible's filters, methods and lookups.
fn environment(pb: &Playbook, limits: template::Limits) -> Environment<'static> {
    let mut env = template::environment(template_dirs(pb), limits);
    ansible::register(&mut env, &pb.dir);
    env
}

/// Renders the plays' `hosts:` patterns that are templates (`web:&{{ env }}`, as Ansible does)
/// with the play's vars, its vars files and the extra vars (no host is known yet, so no host
/// vars or facts). A play whose pattern does not render is removed from the playbook and its
/// error returned, located at the play.
pub fn template_patterns(pb: &mut Playbook, extra_vars: &Vars) -> Vec<ResolveError> {
    let limits = template::Limits::default();
    let env = Arc::new(environment(pb, limits));
    let mut errors = Vec::new();
    pb.plays.retain_mut(|play| {
        if !(play.hosts.contains("{{") || play.hosts.contains("{%")) {
            return true;
        }
        let mut raw: BTreeMap<String, YValue> = play.vars.iter().cloned().collect();
        for (_, vf) in &play.vars_files {
            raw.extend(vf.iter().cloned());
        }
        raw.extend(extra_vars.clone());
        let vars = LazyVars::new(env.clone(), raw, BTreeMap::new(), limits);
        let renderer = Renderer {
            env: &env,
            scope: Scope::new(vars, BTreeMap::new()),
        };
        match renderer.string("hosts", &play.hosts) {
            Ok(pattern) => {
                play.hosts = pattern.trim().to_string();
                true
            }
            Err(e) => {
                errors.push(ResolveError {
                    origin: play.origin.clone(),
                    message: format!(
                        "hosts pattern `{}`: {} (a pattern sees the play's vars, its vars files \
                         and -e; not host vars)",
                        play.hosts, e.message
                    ),
                    host: String::new(),
                });
                false
            }
        }
    });
    errors
}

fn truthy(v: &MValue) -> bool {
    v.is_true()
}

impl<'a> Resolver<'a> {
    pub fn new(playbook: &'a Playbook, inventory: &'a Inventory, extra_vars: &'a Vars) -> Self {
        let limits = template::Limits::default();
        let env = Arc::new(environment(playbook, limits));
        let groups = MValue::from_serialize(inventory.groups_map());
        let epoch = now_epoch();
        let role_paths = (playbook.plays.iter().flat_map(|p| p.roles.iter()))
            .map(|r| {
                let dir = std::fs::canonicalize(&r.dir).unwrap_or_else(|_| r.dir.clone());
                (
                    r.dir.clone(),
                    MValue::from(dir.to_string_lossy().into_owned()),
                )
            })
            .collect();
        Resolver {
            playbook,
            inventory,
            extra_vars,
            env,
            limits,
            groups,
            trees: TreeCache::default(),
            tags: TagSelection::default(),
            named_facts: std::sync::OnceLock::new(),
            run_time: MValue::from_serialize(run_time(epoch)),
            date_time: MValue::from_serialize(date_time(epoch)),
            role_paths,
        }
    }

    /// The same resolver for a run started at `epoch` (seconds since the epoch, UTC): the value
    /// of `play_run_time` (a saved plan's, for `apply --plan`).
    pub fn with_run_time(mut self, epoch: u64) -> Self {
        self.run_time = MValue::from_serialize(run_time(epoch));
        self.date_time = MValue::from_serialize(date_time(epoch));
        self
    }

    /// The facts of [`NamedFacts`] the playbook, its includes, vars files, roles, templates,
    /// the inventory or the extra vars name (`default_ipv4`/`default_ipv6`: `facts.default_ipv4`,
    /// `ansible_default_ipv4`…; the environment: `ansible_env`, `facts.env`): the probe gathers
    /// those facts only then (reading the kernel's tables costs; the environment may hold
    /// secrets). Read once per run.
    pub fn named_facts(&self) -> NamedFacts {
        *self.named_facts.get_or_init(|| {
            let pb = self.playbook;
            let mut paths: Vec<PathBuf> = vec![pb.path.clone(), pb.dir.join("templates")];
            paths.extend(pb.included.iter().cloned());
            for play in &pb.plays {
                paths.extend(play.vars_files.iter().map(|(p, _)| p.clone()));
                // a role's texts, not its `files/` (sync and release sources, copied as they are)
                for r in &play.roles {
                    let Ok(entries) = std::fs::read_dir(&r.dir) else {
                        continue;
                    };
                    let texts = entries.flatten().map(|e| e.path());
                    paths.extend(texts.filter(|p| !p.ends_with("files")));
                }
            }
            paths.push(self.inventory.source.clone());
            let extra = serde_json::to_string(self.extra_vars).unwrap_or_default();
            let mut named = names_facts(&extra);
            for p in &paths {
                if named.all() {
                    break;
                }
                named = named.or(tree_names_facts(p, 0));
            }
            named
        })
    }

    /// The same resolver keeping only the entries `tags` selects.
    pub fn with_tags(mut self, tags: TagSelection) -> Self {
        self.tags = tags;
        self
    }

    /// `vars` seeing Ansible's `role_path`, the folder of `role` (absolute), for what a role
    /// declares (its state, its gathers: `{{ role_path }}/files/static`); `vars` itself outside
    /// a role.
    pub(crate) fn with_role_path(
        &self,
        vars: &Arc<LazyVars>,
        role: Option<&crate::playbook::Role>,
    ) -> Arc<LazyVars> {
        match role.and_then(|r| self.role_paths.get(&r.dir)) {
            Some(dir) => {
                vars.with_bindings(&BTreeMap::from([("role_path".to_string(), dir.clone())]))
            }
            None => vars.clone(),
        }
    }

    /// The vars an entry sees: the play's, with its includes' `vars` over them (below `-e`).
    fn entry_vars(&self, entry: &Entry, vars: &Arc<LazyVars>) -> Arc<LazyVars> {
        if entry.includes.iter().all(|i| i.vars.is_empty()) {
            return vars.clone();
        }
        let more: Vec<(String, YValue)> = entry
            .includes
            .iter()
            .flat_map(|i| i.vars.iter().cloned())
            .collect();
        vars.layered(&more, |k| self.extra_vars.contains_key(k))
    }

    /// The same resolver with other bounds on every template rendering.
    pub fn with_limits(mut self, limits: template::Limits) -> Self {
        self.env = Arc::new(environment(self.playbook, limits));
        self.limits = limits;
        self
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
        fixed.insert(RUN_TIME_VAR.into(), self.run_time.clone());
        if !raw.contains_key("ansible_date_time") {
            fixed.insert("ansible_date_time".into(), self.date_time.clone());
        }
        if let Some(f) = facts {
            fixed.insert(
                "facts".into(),
                MValue::from_serialize(FactsVar {
                    facts: f,
                    env: &f.env,
                }),
            );
            // Ansible's names of the same facts, unless the inventory or playbook sets them.
            for (name, v) in ansible::fact_aliases(f) {
                if !raw.contains_key(name) {
                    fixed.insert(name.into(), v);
                }
            }
            // Read in the same probe: known (or stood in for) exactly when facts are.
            fixed.extend(gather::vars_of(play, &f.gathered, self.extra_vars));
        }
        let vars = LazyVars::new(self.env.clone(), raw, fixed, self.limits);
        if gather::of_play(play).any(|g| g.local) {
            return self.bind_local(play, host, vars);
        }
        vars
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
        self.entries_with_vars(play, host, vars)
            .into_iter()
            .map(|(entry, vars)| self.expand_entry(entry, host, &vars))
            .collect()
    }

    /// Every entry of the play's roles then its own, with the vars it sees: a role's entries
    /// see its own `defaults.yml` over those of the play's other roles (as a task of an Ansible
    /// role sees its role's defaults), still below inventory, play vars, vars files and `-e`.
    fn entries_with_vars<'p>(
        &self,
        play: &'p Play,
        host: &Host,
        vars: &Arc<LazyVars>,
    ) -> Vec<(&'p Entry, Arc<LazyVars>)> {
        let mut out = Vec::new();
        // Each default name: the last role setting it, and its value there.
        let mut last: HashMap<&str, (usize, &YValue)> = HashMap::new();
        for (i, r) in play.roles.iter().enumerate() {
            for (k, v) in &r.defaults {
                last.insert(k.as_str(), (i, v));
            }
        }
        for (i, r) in play.roles.iter().enumerate() {
            // Its defaults that a role listed after it sets to another value (else the play's
            // vars are its own).
            let shadowed: Vec<(String, YValue)> = (r.defaults.iter())
                .filter(|(k, v)| {
                    last.get(k.as_str())
                        .is_some_and(|(j, lv)| *j > i && *lv != v)
                })
                .cloned()
                .collect();
            let role_vars = if shadowed.is_empty() {
                vars.clone()
            } else {
                let higher = |k: &str| {
                    host.vars.contains_key(k)
                        || play.vars.iter().any(|(pk, _)| pk == k)
                        || play
                            .vars_files
                            .iter()
                            .any(|(_, vf)| vf.iter().any(|(fk, _)| fk == k))
                        || self.extra_vars.contains_key(k)
                };
                vars.layered(&shadowed, higher)
            };
            let role_vars = self.with_role_path(&role_vars, Some(r));
            out.extend(r.state.iter().map(|e| (e, role_vars.clone())));
        }
        out.extend(play.state.iter().map(|e| (e, vars.clone())));
        out
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
        if !self.tags.selects(&entry.tags) {
            return Ok(Vec::new());
        }
        let vars = &self.entry_vars(entry, vars);
        let mut out = Vec::new();
        let items = match self.loop_items(entry, vars) {
            Ok(items) => items,
            Err((origin, e)) => {
                // As Ansible: a loop that cannot be rendered is an error unless the entry's
                // `when`, without the loop's item, says it is skipped (a loop over a value
                // set only under that same condition).
                let r = Renderer {
                    env: &self.env,
                    scope: Scope::new(vars.clone(), BTreeMap::new()),
                };
                let guarded =
                    entry.raw.when.is_some() || entry.includes.iter().any(|i| i.when.is_some());
                if guarded && matches!(self.when(entry, &r, host), Ok(false)) {
                    return Ok(Vec::new());
                }
                return Err(match e {
                    Ok(e) => err(origin, e, "loop"),
                    Err(message) => ResolveError {
                        origin,
                        message,
                        host: host.name.clone(),
                    },
                });
            }
        };
        for extra in items {
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

    /// The loop vars of each time the entry is taken: one per item of its includes' `loop`s
    /// (outermost first) and of its own, each loop rendered with the items of the outer ones.
    /// A bad loop is an error at it: a render error, or a message (not a list).
    #[allow(clippy::type_complexity)]
    fn loop_items(
        &self,
        entry: &Entry,
        vars: &Arc<LazyVars>,
    ) -> Result<Vec<BTreeMap<String, MValue>>, (Origin, Result<RenderError, String>)> {
        let own = (entry.raw.loop_.as_ref()).map(|l| {
            let var = entry.raw.loop_var.clone();
            (
                l,
                entry.origin_of("loop"),
                var.unwrap_or_else(|| "item".into()),
            )
        });
        let loops = (entry.includes.iter())
            .filter_map(|i| (i.loop_.as_ref()).map(|(l, o)| (l, o.clone(), i.loop_var.clone())))
            .chain(own);
        let mut all = vec![BTreeMap::new()];
        for (l, origin, var) in loops {
            let mut next = Vec::new();
            for extra in all {
                let r = Renderer {
                    env: &self.env,
                    scope: Scope::new(vars.clone(), extra.clone()),
                };
                let v = r.value(l).map_err(|e| (origin.clone(), Ok(e)))?;
                let iter = v.try_iter().map_err(|_| {
                    let m = format!("loop: expected a list, found {}", v.kind());
                    (origin.clone(), Err(m))
                })?;
                for item in iter {
                    let mut e = extra.clone();
                    e.insert(var.clone(), item);
                    next.push(e);
                }
            }
            all = next;
        }
        Ok(all)
    }

    /// The `when` of the entry's includes, then its own: all must hold.
    fn when(&self, entry: &Entry, r: &Renderer, host: &Host) -> Result<bool, ResolveError> {
        let own = entry
            .raw
            .when
            .as_ref()
            .map(|w| (w, entry.origin_of("when")));
        let all = (entry.includes.iter())
            .filter_map(|i| i.when.as_ref().map(|(w, o)| (w, o.clone())))
            .chain(own);
        for (when, origin) in all {
            if !self.holds(when, &origin, r, host)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether a `when:` value holds: an expression, true/false, or a list of them (all).
    fn holds(
        &self,
        when: &YValue,
        origin: &Origin,
        r: &Renderer,
        host: &Host,
    ) -> Result<bool, ResolveError> {
        let conds: Vec<&YValue> = match when {
            YValue::Sequence(items) => items.iter().collect(),
            v => vec![v],
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
                        origin: origin.clone(),
                        message: format!("when: {}", e.message),
                        host: host.name.clone(),
                    })?)
                }
                other => {
                    return Err(ResolveError {
                        origin: origin.clone(),
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
                            if let Err(e) = self.expand_entry(entry, host, &stub_vars) {
                                // Failing on a gathered value's stand-in only: the host's
                                // value decides.
                                let names: Vec<&str> =
                                    gather::of_play(play).map(|g| g.name.as_str()).collect();
                                if !gather::names_any(&e.message, &names) {
                                    return Err(e);
                                }
                            }
                            // Only its `when` needs facts (or gathered values): its key is
                            // probed now all the same (for nothing if the `when` is false), so
                            // that no second round trip is needed for it.
                            let looped = entry.raw.loop_.is_some()
                                || entry.includes.iter().any(|i| i.loop_.is_some());
                            if !looped {
                                let r = Renderer {
                                    env: &self.env,
                                    scope: Scope::new(
                                        self.entry_vars(entry, &vars),
                                        BTreeMap::new(),
                                    ),
                                };
                                let path_kind = entry
                                    .raw
                                    .kind()
                                    .is_some_and(|(k, _)| k.def().plug != Plug::Deploy);
                                if let (true, Ok(keys)) = (path_kind, self.keys(entry, &r, host)) {
                                    t.paths.extend(keys);
                                }
                            }
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
                    match self.keys(entry, &r, host) {
                        Ok(keys) => {
                            let deploy_kind = keys
                                .first()
                                .is_some_and(|(k, _)| k.def().plug == Plug::Deploy);
                            t.paths.extend(keys);
                            if deploy_kind {
                                match self.resources_of(entry, &r, host) {
                                    Ok(rs) => t.rendered.extend(rs),
                                    Err(_) => t.deferred += 1,
                                }
                            }
                        }
                        Err(_) => t.deferred += 1,
                    }
                }
            }
        }
        Ok(t)
    }

    /// The keys of an entry: one, or one per package of a `package:` list.
    fn keys(
        &self,
        entry: &Entry,
        r: &Renderer,
        host: &Host,
    ) -> Result<Vec<(Kind, String)>, ResolveError> {
        if let Some((kind, keys, _)) = per_name(entry) {
            let k = Keys {
                entry,
                r,
                host,
                resolver: self,
                mode_rule: std::cell::Cell::new(None),
            };
            return Ok(keys(&k)?.into_iter().map(|name| (kind, name)).collect());
        }
        Ok(vec![self.key(entry, r, host)?])
    }

    /// The resources of an entry: one, or one per package of a `package:` list.
    fn resources_of(
        &self,
        entry: &Entry,
        r: &Renderer,
        host: &Host,
    ) -> Result<Vec<Resource>, ResolveError> {
        if let Some((_, _, render)) = per_name(entry) {
            let k = Keys {
                entry,
                r,
                host,
                resolver: self,
                mode_rule: std::cell::Cell::new(None),
            };
            let sensitive = entry.raw.sensitive.unwrap_or(false);
            return Ok((render(&k)?.into_iter())
                .map(|desired| Resource {
                    desired,
                    origin: entry.origin.clone(),
                    sensitive,
                })
                .collect());
        }
        Ok(vec![self.resource(entry, r, host)?])
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
        let key = r
            .string(&entry.origin_of(kind.as_str()).to_string(), raw_key)
            .map_err(|e| ResolveError {
                origin: entry.origin_of(kind.as_str()),
                message: format!("{kind}: {}", e.message),
                host: host.name.clone(),
            })?;
        let checked = (kind.def().check_key)(&key);
        let key = checked.map_err(|m| ResolveError {
            origin: entry.origin_of(kind.as_str()),
            message: m,
            host: host.name.clone(),
        })?;
        Ok((kind, key))
    }

    /// Keys of every resource of the play for `host`, whatever their `when` says (a key that
    /// fails to render is left out).
    fn all_keys(&self, play: &Play, host: &Host, vars: &Arc<LazyVars>) -> BTreeSet<String> {
        let mut keys = BTreeSet::new();
        for (entry, vars) in self.entries_with_vars(play, host, vars) {
            let vars = &self.entry_vars(entry, &vars);
            let Ok(items) = self.loop_items(entry, vars) else {
                continue;
            };
            for extra in items {
                let r = Renderer {
                    env: &self.env,
                    scope: Scope::new(vars.clone(), extra),
                };
                if let Ok(found) = self.keys(entry, &r, host) {
                    keys.extend(found.into_iter().map(|(_, k)| k));
                }
            }
        }
        keys
    }

    /// `restart_on` / `reload_on` / `on_change` must name resources of the same play (not
    /// programs or services); a command's `on_change` must name resources declared before it.
    /// `play_resources`: the play's resources for the host, with their entries. Every bad key
    /// of every watch list is a problem of its own.
    fn check_watches(
        &self,
        play: &Play,
        host: &Host,
        vars: &Arc<LazyVars>,
        play_resources: &[(&Entry, &Resource)],
    ) -> Vec<ResolveError> {
        let mut problems = Vec::new();
        let present: BTreeMap<&str, Kind> = play_resources
            .iter()
            .map(|(_, r)| (r.desired.key(), r.desired.kind()))
            .collect();
        let mut all: Option<BTreeSet<String>> = None;
        for (pos, (entry, res)) in play_resources.iter().enumerate() {
            let is_command = res.desired.runs_on_change();
            for (field, keys) in res.desired.watches() {
                let raw = entry.raw.get(field);
                for (i, key) in keys.iter().enumerate() {
                    let origin = match raw {
                        Some(YValue::Sequence(items)) if items.len() == keys.len() => {
                            entry.origin_of(&format!("{field}.{i}"))
                        }
                        _ => entry.origin_of(field),
                    };
                    let err = |message: String| ResolveError {
                        origin: origin.clone(),
                        message,
                        host: host.name.clone(),
                    };
                    match present.get(key.as_str()) {
                        Some(k) if k.watchable() => {
                            let later = play_resources[pos..]
                                .iter()
                                .any(|(_, r)| r.desired.key() == key.as_str());
                            if is_command && later {
                                problems.push(err(format!(
                                    "{field}: `{key}` is declared after this command; commands run in declared order, so move the command below it"
                                )));
                            }
                            continue;
                        }
                        Some(k) => {
                            problems.push(err(format!(
                                "{field}: `{key}` is a {k}; programs and services cannot be watched"
                            )));
                            continue;
                        }
                        None => {}
                    }
                    // A resource excluded by `when` on this host still counts.
                    let all = all.get_or_insert_with(|| self.all_keys(play, host, vars));
                    if all.contains(key) {
                        continue;
                    }
                    let candidates: Vec<&str> = all.iter().map(String::as_str).collect();
                    let hint = crate::yaml::suggest(key, &candidates)
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                    problems.push(err(format!(
                        "{field}: no resource of play `{}` has the key `{key}`{hint}",
                        play.name
                    )));
                }
            }
        }
        problems
    }

    /// The `wait_for` of every play targeting `host` that has one, in play order, with its
    /// `http`/`command` template rendered for the host (the play's vars, strict undefined).
    /// One result per play, so that one bad template hides none of the others.
    #[allow(clippy::type_complexity)]
    pub fn wait_for(
        &self,
        host: &Host,
        facts: &Facts,
    ) -> Vec<Result<(&'a WaitFor, String), ResolveError>> {
        let plays = match self.plays_for(host) {
            Ok(p) => p,
            Err(e) => return vec![Err(e)],
        };
        plays
            .into_iter()
            .filter_map(|play| play.wait_for.as_ref().map(|w| (play, w)))
            .map(|(play, w)| {
                let r = Renderer {
                    env: &self.env,
                    scope: Scope::new(self.vars_for(play, host, Some(facts)), BTreeMap::new()),
                };
                r.string(&w.origin.to_string(), w.check.template())
                    .map(|text| (w, text))
                    .map_err(|e| ResolveError {
                        origin: w.origin.clone(),
                        message: format!("wait_for: {}: {}", w.check.key(), e.message),
                        host: host.name.clone(),
                    })
            })
            .collect()
    }

    /// The host's desired resources, fully rendered with `facts`, in apply order. The first
    /// problem is returned; [`Resolver::resources_all`] has them all (checks belong there).
    pub fn resources(&self, host: &Host, facts: &Facts) -> Result<Vec<Resource>, ResolveError> {
        let (out, problems) = self.resources_all(host, facts);
        match problems.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// The host's desired resources and every problem found rendering them: each entry is
    /// resolved on its own, so one bad resource hides none of the others (`play check`). The
    /// resources returned are those without problems.
    pub fn resources_all(&self, host: &Host, facts: &Facts) -> (Vec<Resource>, Vec<ResolveError>) {
        let mut out = Vec::new();
        let mut problems = Vec::new();
        let plays = match self.plays_for(host) {
            Ok(p) => p,
            Err(e) => return (out, vec![e]),
        };
        // Paths and process names have one owner per host, across plays; commands may repeat in
        // other plays.
        // (where first declared, index in `out` then the play's resources).
        let mut owners: HashMap<String, (Origin, usize)> = HashMap::new();
        // Paths owned by kinds that share their file (`Spec::shares_file`: the edits).
        let mut edits: std::collections::HashSet<String> = Default::default();
        for play in plays {
            let vars = self.vars_for(play, host, Some(facts));
            let mut seen: HashMap<String, (Origin, usize)> = HashMap::new();
            let mut list = Vec::new();
            for expanded in self.expand(play, host, &vars) {
                match expanded {
                    Ok(l) => list.extend(l),
                    Err(e) => problems.push(e),
                }
            }
            let mut play_resources: Vec<(&Entry, Resource)> = Vec::new();
            for (entry, scope) in list {
                let r = Renderer {
                    env: &self.env,
                    scope,
                };
                let rendered = match self.resources_of(entry, &r, host) {
                    Ok(rs) => rs,
                    Err(e) => {
                        problems.push(e);
                        continue;
                    }
                };
                'resources: for res in rendered {
                    if res.desired.has_nul() {
                        problems.push(ResolveError {
                            origin: res.origin.clone(),
                            message: format!(
                                "{} {}: a NUL byte in a path, target, name, owner, group or \
                                 command (a shell script cannot carry it)",
                                res.desired.kind(),
                                res.desired.key().replace('\0', "\\0")
                            ),
                            host: host.name.clone(),
                        });
                        continue 'resources;
                    }
                    // Paths share one namespace (a program's conf and a service's unit file are
                    // paths too); program and service names have their own.
                    let mut names = vec![match res.desired.kind() {
                        k if k.is_path() => tree::normalize(res.desired.key()),
                        k => format!("{k} {}", res.desired.key()),
                    }];
                    names.extend(res.desired.owned_paths());
                    // Several edits (`Spec::shares_file`) may edit one file (no other kind may own it).
                    let edit = res.desired.shares_file();
                    if edit && names.iter().all(|k| edits.contains(k)) {
                        play_resources.push((entry, res));
                        continue 'resources;
                    }
                    let per_host = res.desired.owned_per_host();
                    for key in &names {
                        let first = if per_host {
                            owners.get(key)
                        } else {
                            seen.get(key)
                        };
                        if let Some((first, at)) = first {
                            let earlier = match at.checked_sub(out.len()) {
                                Some(i) => &play_resources[i].1,
                                None => &out[*at],
                            };
                            // The same declaration twice (two roles that both need a
                            // package, a folder, a user) is one resource: only a differing
                            // one is a second owner.
                            if earlier.desired == res.desired {
                                continue 'resources;
                            }
                            problems.push(ResolveError {
                                origin: res.origin.clone(),
                                message: format!(
                                "duplicate resource `{key}` in play `{}`: one owner per path and \
                                 name on a host (first declared at {first})",
                                play.name
                            ),
                                host: host.name.clone(),
                            });
                            continue 'resources;
                        }
                    }
                    let at = out.len() + play_resources.len();
                    for key in names {
                        if edit {
                            edits.insert(key.clone());
                        }
                        if per_host {
                            owners.insert(key, (res.origin.clone(), at));
                        } else {
                            seen.insert(key, (res.origin.clone(), at));
                        }
                    }
                    play_resources.push((entry, res));
                }
            }
            let pairs: Vec<(&Entry, &Resource)> =
                play_resources.iter().map(|(e, r)| (*e, r)).collect();
            problems.extend(self.check_watches(play, host, &vars, &pairs));
            out.extend(play_resources.into_iter().map(|(_, r)| r));
        }
        problems.extend(
            tree::overlaps(&out)
                .into_iter()
                .map(|(origin, message)| ResolveError {
                    origin,
                    message,
                    host: host.name.clone(),
                }),
        );
        (out, problems)
    }

    /// `play check`'s look under the conditions it cannot decide offline: an entry whose `when`
    /// reads a gathered value that `facts` does not hold (its stand-in decided it false) is
    /// rendered all the same, its `when` aside, so that its problems are said before a host's
    /// value turns it on at `diff`/`apply`. Problems that come from the stand-in itself are
    /// not said (the host's value decides). Nothing here is a resource of the host.
    pub fn under_unknown_whens(&self, host: &Host, facts: &Facts) -> Vec<ResolveError> {
        let mut problems = Vec::new();
        let Ok(plays) = self.plays_for(host) else {
            return problems;
        };
        for play in plays {
            let unknown: Vec<&str> = gather::of_play(play)
                .filter(|g| !g.local && !facts.gathered.contains_key(&g.name))
                .map(|g| g.name.as_str())
                .collect();
            if unknown.is_empty() {
                continue;
            }
            let vars = self.vars_for(play, host, Some(facts));
            for (entry, vars) in self.entries_with_vars(play, host, &vars) {
                if !self.tags.selects(&entry.tags) {
                    continue;
                }
                let whens = (entry.raw.when.iter()).chain(
                    entry
                        .includes
                        .iter()
                        .filter_map(|i| i.when.as_ref().map(|(w, _)| w)),
                );
                let reads: Vec<&str> = whens
                    .flat_map(|w| {
                        let text = crate::yaml::to_string(w);
                        (unknown.iter())
                            .filter(|n| gather::names_any(&text, &[n]))
                            .copied()
                            .collect::<Vec<_>>()
                    })
                    .collect();
                let Some(first) = reads.first() else {
                    continue;
                };
                let vars = self.entry_vars(entry, &vars);
                let Ok(items) = self.loop_items(entry, &vars) else {
                    continue;
                };
                for extra in items {
                    let r = Renderer {
                        env: &self.env,
                        scope: Scope::new(vars.clone(), extra),
                    };
                    // Rendered by `resources_all` when its `when` holds with the stand-ins.
                    if matches!(self.when(entry, &r, host), Ok(true)) {
                        continue;
                    }
                    if let Err(mut e) = self.resources_of(entry, &r, host) {
                        if gather::names_any(&e.message, &unknown) {
                            continue;
                        }
                        e.message = format!(
                            "{} (under a `when` on the gathered `{first}`, checked although \
                             its stand-in turns it off: the host's value may turn it on)",
                            e.message
                        );
                        problems.push(e);
                    }
                }
            }
        }
        problems
    }

    fn resource(&self, entry: &Entry, r: &Renderer, host: &Host) -> Result<Resource, ResolveError> {
        let raw = &entry.raw;
        let (kind, path) = self.key(entry, r, host)?;
        let fail = |key: &str, message: String| ResolveError {
            origin: entry.origin_of(key),
            message,
            host: host.name.clone(),
        };
        let s = |key: &str, v: Option<&str>| -> Result<Option<String>, ResolveError> {
            match v {
                None => Ok(None),
                Some(t) => r
                    .string(&entry.origin_of(key).to_string(), t)
                    // `{{ x | default(omit) }}`: the key as if not given.
                    .map(|t| (t != ansible::OMIT).then_some(t))
                    .map_err(|e| fail(key, format!("{key}: {}", e.message))),
            }
        };
        // A symbolic mode with `X` goes to the kinds that take it (see `Keys::take_mode_rule`).
        let mut mode_rule = None;
        let mut rule_refused = None;
        let mode = match raw.get("mode") {
            None => None,
            Some(YValue::Number(n)) => {
                Some(parse_mode(&n.to_string()).map_err(|m| fail("mode", m))?)
            }
            Some(YValue::String(m)) => match s("mode", Some(m))? {
                Some(m) => match parse_mode(&m) {
                    Ok(v) => Some(v),
                    Err(e) => match crate::resources::ModeRule::parse(&m) {
                        Ok(rule) => {
                            mode_rule = Some(rule);
                            rule_refused = Some(e);
                            None
                        }
                        Err(_) => return Err(fail("mode", e)),
                    },
                },
                None => None,
            },
            Some(_) => {
                return Err(fail(
                    "mode",
                    "mode must be an octal string like \"0644\"".into(),
                ))
            }
        };
        let attrs = Attrs {
            owner: s("owner", raw.text("owner"))?,
            group: s("group", raw.text("group"))?,
            mode,
        };
        let state = s("state", raw.text("state"))?;
        let render = match kind.def().render {
            Render::Fn(f) => f,
            Render::PerName { .. } => {
                return Err(fail(
                    kind.as_str(),
                    format!("internal error: {kind} resolved as one resource"),
                ))
            }
        };
        let k = Keys {
            entry,
            r,
            host,
            resolver: self,
            mode_rule: std::cell::Cell::new(mode_rule),
        };
        let base = Base {
            key: path,
            attrs,
            state,
        };
        let desired = render(&k, base)?;
        if let (Some(_), Some(e)) = (k.mode_rule.take(), rule_refused) {
            return Err(fail("mode", e));
        }
        Ok(Resource {
            desired,
            origin: entry.origin.clone(),
            sensitive: raw.sensitive.unwrap_or(false),
        })
    }
}

/// `force:` of a path kind (`true`, `false`, or a template giving `true`/`yes`/`false`/`no`;
/// not given: `false`).
pub fn path_force(k: &Keys) -> Result<bool, ResolveError> {
    Ok(path_force_given(k)?.unwrap_or(false))
}

/// `force:` of a path kind as given (`None`: not given, or a template rendering to nothing).
pub fn path_force_given(k: &Keys) -> Result<Option<bool>, ResolveError> {
    Ok(match k.raw().get("force") {
        None => None,
        Some(YValue::Bool(b)) => Some(*b),
        Some(YValue::String(t)) => match k.string_of("force", Some(t))?.as_deref() {
            Some("true") | Some("True") | Some("yes") => Some(true),
            Some("false") | Some("False") | Some("no") => Some(false),
            Some(o) if !o.is_empty() => {
                return Err(k.fail("force", format!("force must be true or false, found `{o}`")))
            }
            _ => None,
        },
        Some(_) => return Err(k.fail("force", "force must be true or false".into())),
    })
}

/// The text of template `p` (its `source`), rendered; an error is located in the template
/// and says what it is the template of (`of`) and where that was declared.
fn render_template(
    r: &Renderer,
    p: &Path,
    source: &str,
    of: &str,
    entry: &Entry,
    host: &Host,
) -> Result<String, ResolveError> {
    let name = p.display().to_string();
    r.string(&name, source).map_err(|e| ResolveError {
        origin: Origin {
            file: name.clone(),
            line: e.line.unwrap_or(0),
            column: e.column.unwrap_or(0),
        },
        message: format!("{} ({of}, declared at {})", e.message, entry.origin),
        host: host.name.clone(),
    })
}

/// The kind of an entry that is one resource per name it lists (its registry line's
/// [`Render::PerName`]: `package:`).
fn per_name(entry: &Entry) -> Option<(Kind, PerNameKeys, PerNameFn)> {
    let kind = entry.raw.kind_name()?;
    match kind.def().render {
        Render::PerName { keys, render } => Some((kind, keys, render)),
        Render::Fn(_) => None,
    }
}

/// The folder of the role an entry belongs to.
impl Keys<'_> {
    /// A list of keys of resources (`restart_on`, `reload_on`), rendered; one key alone is
    /// a list of one.
    pub fn watch_list(&self, key: &str) -> Result<Vec<String>, ResolveError> {
        let Some(v) = self.raw().get(key) else {
            return Ok(Vec::new());
        };
        let rendered = self.value(key, v)?;
        let items: Vec<MValue> = match rendered.kind() {
            minijinja::value::ValueKind::Seq => rendered
                .try_iter()
                .map(|i| i.collect())
                .map_err(|_| self.fail(key, format!("{key} must be a list of keys")))?,
            _ => vec![rendered],
        };
        items
            .iter()
            .map(|i| {
                scalar_text(i).ok_or_else(|| {
                    self.fail(
                        key,
                        format!("{key} must be a list of keys (paths of resources)"),
                    )
                })
            })
            .collect()
    }

    /// The template `name` (of the role's or playbook's `templates/`) named by `key`,
    /// rendered; its errors located in the template, saying `what` it is (`unit template of
    /// service web`).
    pub fn render_template(
        &self,
        key: &str,
        name: &str,
        what: &str,
    ) -> Result<Content, ResolveError> {
        let role_dir = role_dir_of(self.resolver.playbook, self.entry);
        let pb_dir = &self.resolver.playbook.dir;
        let p = find(&role_dir, pb_dir, "templates", name).ok_or_else(|| {
            self.fail(
                key,
                missing_msg("template", "templates", name, &role_dir, pb_dir),
            )
        })?;
        let source = std::fs::read_to_string(&p)
            .map_err(|e| self.fail(key, format!("cannot read {}: {e}", p.display())))?;
        let text = render_template(self.r, &p, &source, what, self.entry, self.host)?;
        Ok(Content {
            bytes: text.into_bytes(),
            source: format!("template: {}", p.display()),
        })
    }

    /// A value that is a boolean (as `true`/`false`) or else a scalar's text
    /// (`autorestart: unexpected`).
    pub fn bool_or_text(&self, key: &str) -> Result<Option<String>, ResolveError> {
        let Some(v) = self.raw().get(key) else {
            return Ok(None);
        };
        let m = self.value(key, v)?;
        Ok(Some(match truth(&m) {
            Some(b) => b.to_string(),
            None => scalar_text(&m).unwrap_or_default(),
        }))
    }

    /// The `sensitive:` of the entry (as written).
    pub fn sensitive(&self) -> bool {
        self.entry.raw.sensitive.unwrap_or(false)
    }
}

fn role_dir_of(pb: &Playbook, entry: &Entry) -> Option<PathBuf> {
    entry.role.as_ref().and_then(|name| {
        pb.plays
            .iter()
            .flat_map(|p| p.roles.iter())
            .find(|ro| &ro.name == name)
            .map(|ro| ro.dir.clone())
    })
}

/// A rendered template value as text (strings, numbers, booleans).
fn scalar_text(v: &MValue) -> Option<String> {
    use minijinja::value::ValueKind;
    match v.kind() {
        ValueKind::String => v.as_str().map(str::to_string),
        ValueKind::Number | ValueKind::Bool => Some(v.to_string()),
        _ => None,
    }
}

/// `true`/`false` (and the YAML 1.1 spellings) from a rendered value.
fn truth(v: &MValue) -> Option<bool> {
    use minijinja::value::ValueKind;
    match v.kind() {
        ValueKind::Bool => Some(v.is_true()),
        ValueKind::String => match v.as_str()? {
            "true" | "True" | "yes" | "on" => Some(true),
            "false" | "False" | "no" | "off" | "" => Some(false),
            _ => None,
        },
        _ => None,
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
        .chain(from_project(pb_dir, name))
        .find(|p| p.is_file())
}

/// A name with folders (`roles/deploy/templates/env.j2`) is also looked up from the project's
/// folder (the playbooks' parent), as Ansible looks one up from the playbook's folder: an
/// imported project's vars keep the source's paths.
fn from_project(pb_dir: &Path, name: &str) -> Option<PathBuf> {
    if !name.contains('/') {
        return None;
    }
    let base = match pb_dir.file_name() {
        Some(n) if n == "playbooks" => pb_dir.parent()?,
        _ => pb_dir,
    };
    Some(base.join(name))
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
    if let Some(p) = from_project(pb_dir, name).and_then(|p| p.parent().map(Path::to_path_buf)) {
        let p = p.display().to_string();
        if !looked.contains(&p) {
            looked.push(p);
        }
    }
    format!(
        "{what} `{name}` not found (looked in {})",
        looked.join(", ")
    )
}

#[cfg(test)]
mod net_facts_tests {
    use super::*;

    #[test]
    fn ansible_date_time_is_the_runs_start_in_ansibles_shape() {
        let d = date_time(1_796_223_860); // 2026-12-02T15:04:20Z, a Wednesday
        let get = |k: &str| d.get(k).map(|v| v.to_string()).unwrap_or_default();
        assert_eq!(get("date"), "2026-12-02");
        assert_eq!(get("time"), "15:04:20");
        assert_eq!(
            (get("year"), get("month"), get("day")),
            ("2026".into(), "12".into(), "02".into())
        );
        assert_eq!(get("epoch"), "1796223860");
        assert_eq!(get("iso8601"), "2026-12-02T15:04:20Z");
        assert_eq!(get("iso8601_basic_short"), "20261202T150420");
        assert_eq!(
            (get("weekday"), get("weekday_number")),
            ("Wednesday".into(), "3".into())
        );
    }

    /// Whether a project of `files` (beside `site.yml`, `hosts.yml`) names the default-route
    /// facts for the probe.
    fn names(site: &str, files: &[(&str, &str)], extra: &[(&str, &str)]) -> bool {
        named(site, files, extra).net
    }

    /// The facts gathered only when named that such a project names.
    fn named(site: &str, files: &[(&str, &str)], extra: &[(&str, &str)]) -> NamedFacts {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::write(d.join("site.yml"), site).expect("write");
        std::fs::write(d.join("hosts.yml"), "all:\n  hosts:\n    h1: {}\n").expect("write");
        for (rel, text) in files {
            let p = d.join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        }
        let mut vars = crate::inventory::Vars::new();
        for (k, v) in extra {
            vars.insert(k.to_string(), YValue::String(v.to_string()));
        }
        let inventory = crate::inventory::load(&d.join("hosts.yml"), &vars).expect("inventory");
        let playbook = crate::playbook::load(&d.join("site.yml")).expect("playbook");
        Resolver::new(&playbook, &inventory, &vars).named_facts()
    }

    #[test]
    fn the_probe_reads_the_environment_only_for_projects_naming_it() {
        let plain =
            "- hosts: all\n  roles: [app]\n  state:\n    - file: /etc/a\n      content: x\n";
        let role = [
            ("roles/app/state.yml", "- file: /etc/b\n  template: b.j2\n"),
            (
                "roles/app/templates/b.j2",
                "{{ facts.hostname }} {{ environment }}\n",
            ),
            // a role's files/ are copied as they are: not read
            ("roles/app/files/notes.txt", "{{ ansible_env.HOME }}\n"),
        ];
        assert_eq!(named(plain, &role, &[]), NamedFacts::default());
        for text in [
            "{{ ansible_env.HOME }}",
            "{{ facts.env.SUDO_USER | default('none') }}",
            "{{ ansible_facts.env.PATH }}",
            "{{ ansible_facts['env']['PATH'] }}",
        ] {
            let mut t = role;
            t[1].1 = text;
            assert_eq!(
                named(plain, &t, &[]),
                NamedFacts {
                    net: false,
                    env: true
                },
                "{text}"
            );
        }
        let both = "- hosts: all\n  state:\n    - file: /etc/a\n      content: \"{{ ansible_env.USER }} {{ ansible_default_ipv4.address }}\"\n";
        assert_eq!(
            named(both, &[], &[]),
            NamedFacts {
                net: true,
                env: true
            }
        );
        assert!(named(plain, &role, &[("who", "{{ ansible_env.SUDO_USER }}")]).env);
    }

    #[test]
    fn the_probe_reads_routes_only_for_projects_naming_them() {
        let plain =
            "- hosts: all\n  roles: [app]\n  state:\n    - file: /etc/a\n      content: x\n";
        let role = [
            ("roles/app/state.yml", "- file: /etc/b\n  template: b.j2\n"),
            ("roles/app/templates/b.j2", "{{ facts.hostname }}\n"),
            // a role's files/ are copied as they are: not read
            ("roles/app/files/notes.txt", "ansible_default_ipv4\n"),
        ];
        assert!(!names(plain, &role, &[]));
        let mut t = role;
        t[1].1 = "listen {{ ansible_default_ipv4.address }}\n";
        assert!(names(plain, &t, &[]));
        let defaults = [
            (
                "roles/app/state.yml",
                "- file: /etc/b\n  content: \"{{ ip }}\"\n",
            ),
            (
                "roles/app/defaults.yml",
                "ip: \"{{ facts.default_ipv6.address }}\"\n",
            ),
        ];
        assert!(names(plain, &defaults, &[]));
        assert!(names(
            plain,
            &role,
            &[("bind", "{{ facts.default_ipv4.address }}")]
        ));
        let inline = "- hosts: all\n  state:\n    - file: /etc/a\n      content: \"{{ ansible_default_ipv4.address }}\"\n";
        assert!(names(inline, &[], &[]));
    }
}
