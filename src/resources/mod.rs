//! Resources: one module per kind. Each kind says what to probe (a fragment of the one probe
//! script per host), computes its change from desired + observed state as a **pure function**,
//! and says how to apply it (a fragment of the one apply script per host).
//!
//! The shared vocabulary lives here: [`Resource`] (desired, after templating), [`Observed`]
//! (what the probe found), [`Change`] (what apply will do).

pub mod accounts;
pub mod archive;
pub mod command;
pub mod deploy;
pub mod directory;
pub mod example;
pub mod file;
pub mod git;
pub mod group;
pub mod link;
pub mod package;
pub mod program;
pub mod registry;
pub mod release;
pub mod service;
pub mod source;
pub mod sync;
pub mod tree;
pub mod user;
pub mod whole_file;
// line, block, cron (and what they share)
pub mod block;
pub mod cron;
pub mod edit;
pub mod line;
pub mod replace;
// fetch kinds
pub mod apt_source;
pub mod apt_upgrade;
pub mod download;
pub mod fetch;
pub mod pip;
pub mod python;
pub mod venv;
// a project's dependencies
pub mod bundle;
pub mod composer;
pub mod gem;
pub mod npm;
pub mod project_deps;
pub mod ruby;
pub mod rvm;
// system settings
pub mod hostname;
pub mod timezone;
pub mod ufw;

pub mod certbot;
pub mod certificate;
pub mod csr;
pub mod dhparam;
pub mod private_key;
pub mod tls;
// an archive extracted on the host
pub mod unarchive;

use std::collections::BTreeMap;
use std::fmt;

/// Where a resource was declared (for error messages).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// Playbook or role state file.
    pub file: String,
    /// 1-based line and column of the resource's mapping, when known.
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 && self.column > 0 {
            write!(f, "{}:{}:{}", self.file, self.line, self.column)
        } else if self.line > 0 {
            // A line without a column (e.g. a template's text failing to write).
            write!(f, "{}:{}", self.file, self.line)
        } else {
            write!(f, "{}", self.file)
        }
    }
}

/// `state: present | absent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Presence {
    #[default]
    Present,
    Absent,
}

/// The content a file must have. Two contents are equal when their bytes are (where they came
/// from is for messages): two roles templating the same bytes into one file declare one file.
#[derive(Debug, Clone, Eq)]
pub struct Content {
    pub bytes: Vec<u8>,
    /// Where it came from, for messages: `content`, `src: files/logo.png`, `template: app.ini.j2`.
    pub source: String,
}

impl PartialEq for Content {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Content {
    /// Lowercase hex sha256 of the bytes.
    pub fn sha256(&self) -> String {
        sha256_hex(&self.bytes)
    }
}

/// The mode of a conf or unit file when the playbook gives none: 0600 when it holds a secret
/// (a vaulted value, or the resource is `sensitive`), else 0644.
pub fn default_file_mode(secret: bool) -> u32 {
    if secret {
        0o600
    } else {
        0o644
    }
}

/// Lowercase hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Owner, group and permission bits to enforce; `None` leaves that attribute alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attrs {
    pub owner: Option<String>,
    pub group: Option<String>,
    /// Permission bits, e.g. `0o644`.
    pub mode: Option<u32>,
}

/// A release id (`play rollback --to ID`): the name of a folder of a release's `releases/`.
pub use release::is_id as is_release_id;

/// `Kind`, `Desired` and `Work` from the list of `registry::kinds!`.
macro_rules! kind_types {
    (() $($kind:ident => $module:ident, $spec:ty;)*) => {
        /// Kind of a resource, as written in playbooks.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kind {
            $($kind,)*
        }

        /// The desired state of one resource, fully rendered for one host.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Desired {
            $($kind($spec),)*
        }

        /// The work apply does for a planned change of a resource: its kind's
        /// [`Spec::Work`] (`()` for the kinds with none of their own).
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Work {
            $($kind(<$spec as Spec>::Work),)*
        }

        impl Desired {
            /// See [`Spec::plan_work`].
            pub fn plan_work(
                &self,
                observed: &Observed,
                changed: &[&str],
            ) -> Result<Option<deploy::Planned<Work>>, deploy::Refused> {
                match self {
                    $(Desired::$kind(s) => {
                        Ok(s.plan_work(observed, changed)?.map(|p| p.map(Work::$kind)))
                    })*
                }
            }

            /// See [`Spec::content`]; `None` for the work of another kind.
            pub fn content(&self, work: &Work, observed: &Observed) -> Option<ContentChange> {
                match (self, work) {
                    $((Desired::$kind(s), Work::$kind(w)) => s.content(w, observed),)*
                    _ => None,
                }
            }

            /// See [`Spec::file_list`].
            pub fn file_list(&self, work: &Work) -> FileList {
                match (self, work) {
                    $((Desired::$kind(s), Work::$kind(w)) => s.file_list(w),)*
                    _ => FileList::default(),
                }
            }

            /// See [`Spec::edited_file`].
            pub fn edited_file<'w>(&self, work: &'w Work) -> Option<(&'w str, &'w [u8])> {
                match (self, work) {
                    $((Desired::$kind(s), Work::$kind(w)) => s.edited_file(w),)*
                    _ => None,
                }
            }

            /// See [`Spec::settle`].
            pub fn settle(&mut self, work: &Work) {
                match (self, work) {
                    $((Desired::$kind(s), Work::$kind(w)) => s.settle(w),)*
                    _ => {}
                }
            }

            /// See [`Spec::apply_fragment`]: `work` of another kind is none.
            pub fn apply_fragment(
                &self,
                index: usize,
                work: Option<&Work>,
                last: bool,
            ) -> Option<Result<(String, Vec<u8>), String>> {
                match self {
                    $(Desired::$kind(s) => {
                        let w = match work {
                            Some(Work::$kind(w)) => Some(w),
                            _ => None,
                        };
                        s.apply_fragment(index, w, last)
                    })*
                }
            }
        }
    };
}
registry::kinds!(kind_types!());

impl Kind {
    /// Its registry line ([`registry::def`]).
    pub const fn def(self) -> &'static registry::KindDef {
        registry::def(self)
    }

    /// As written in playbooks.
    pub fn as_str(self) -> &'static str {
        self.def().name
    }

    /// Kinds whose key is a path on the host (the others are names, or a command line).
    pub fn is_path(self) -> bool {
        self.def().is_path
    }

    /// Kinds whose change `restart_on`, `reload_on` and `on_change` may name (all but the
    /// processes themselves).
    pub fn watchable(self) -> bool {
        self.def().watchable
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What every kind's spec answers, implemented in the kind's own file: with its registry line,
/// the contract every kind implements (see docs/adding-a-kind.md). `Desired`'s methods of the
/// same names dispatch to it through one macro.
pub trait Spec {
    /// Its registry line (the kind file's `DEF`).
    const DEF: &'static registry::KindDef;
    /// The work apply does for a planned change of it ([`Spec::plan_work`]): `()` for the
    /// kinds planned otherwise, or whose step needs no more than the spec. [`Work`] holds
    /// one of each kind's.
    type Work: fmt::Debug + Clone + PartialEq + Eq;
    fn def(&self) -> &'static registry::KindDef {
        Self::DEF
    }
    /// The resource's key: what `restart_on` and duplicate checks refer to (a path for files,
    /// the name of a program, the unit name of a service).
    fn key(&self) -> &str;
    /// Paths the probe must report on (by default: its key, when that is a path).
    fn probe_paths(&self) -> Vec<String> {
        if self.def().is_path {
            vec![self.key().to_string()]
        } else {
            Vec::new()
        }
    }
    /// Its watch lists: keys of resources whose change restarts or reloads this one (a
    /// program's `restart_on`, a service's `restart_on` and `reload_on`), or that it runs on (a
    /// command's `on_change`), each with the key of its entry that lists them (its errors are
    /// located at their items).
    fn watches(&self) -> Vec<(&'static str, &[String])> {
        Vec::new()
    }
    /// True when a string the resource would pass to the host (a path, a target, an owner,
    /// a name, a command, a file name of a tree) has a NUL byte: a shell script cannot carry
    /// it.
    fn has_nul(&self) -> bool;
    /// The path a present resource writes, whose parents must exist before its step.
    fn written(&self) -> Option<&str> {
        None
    }
    /// The folder a present resource of it makes (a `directory:`): what lies below needs no
    /// missing parent of its own ([`tree::with_parents`]).
    fn made_folder(&self) -> Option<&str> {
        None
    }
    /// The path it was added as the missing parent of ([`tree::with_parents`]): no one
    /// declared it.
    fn parent_of(&self) -> Option<&str> {
        None
    }
    /// It sets what lies below its folder (a `directory:` with `recurse`): declared after
    /// resources inside it, it stays after them (their folder is made first as a missing
    /// parent), so its step also covers what they write ([`tree::with_parents`]).
    fn sets_below(&self) -> bool {
        false
    }
    /// The owner, group and mode it gives everything below its folder (a `directory:` with
    /// `recurse`): a resource below it declaring others is a problem of `play check`
    /// ([`tree::overlaps`]).
    fn below(&self) -> Option<(&Attrs, Option<ModeRule>)> {
        None
    }
    /// The owner, group and mode it gives its own path, and what stands there: `Some(true)` a
    /// folder, `Some(false)` a file, `None` a link (no mode of its own). `None` for the kinds
    /// that give none.
    fn path_attrs(&self) -> Option<(&Attrs, Option<bool>)> {
        None
    }
    /// What `play check --show` prints below its line (a file's attributes and text
    /// content; `sensitive`: its content withheld).
    fn shown(&self, _sensitive: bool) -> Vec<String> {
        Vec::new()
    }
    /// The file `apply::Builder` writes for it ([`BuilderSpec`]); `None` for the kinds that
    /// write their own fragments.
    fn builder_spec(&self) -> Option<BuilderSpec<'_>> {
        None
    }
    /// The root of a tree its step fills with content play does not list (a checkout, a
    /// synced tree, releases): resources below it are known only after that step.
    fn tree_root(&self) -> Option<&str> {
        None
    }
    /// A path whose existence decides whether its step runs, and which that step makes (a
    /// command's `creates`): resources below it are known only after that step, and its own
    /// outcome only after an earlier step changing that path or a tree holding it.
    fn creates(&self) -> Option<&str> {
        None
    }
    /// A path of the host its step reads (a file's `copy_of`): when an earlier change of this
    /// run writes that path, or a tree holding it, its outcome is known only after that step
    /// ([`tree::mark_after`]).
    fn reads(&self) -> Option<&str> {
        None
    }
    /// Trees it owns whole, each with why (a synced tree it deletes in, a release's
    /// `current/`): a resource of a path inside one would never converge (`play check`).
    fn owned_trees(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// After planning, what the plan chose for it becomes what it wants (a rollback's
    /// `previous`: the release the plan chose), so that the verify step after apply sees that
    /// as desired.
    fn settle(&mut self, _work: &Self::Work) {}
    /// Its watch list is `on_change`: it runs, in declared order, when a resource declared
    /// before it changes in this run, so it is planned once the host's other changes are
    /// known (a command).
    fn runs_on_change(&self) -> bool {
        false
    }
    /// Its planned change is a check, reported apart from the changes (a command with
    /// `changed: false`).
    fn is_check(&self) -> bool {
        false
    }
    /// The verify step after apply expects its change gone (false: it ran or was not due,
    /// and is not planned again, as a command).
    fn verified_after_apply(&self) -> bool {
        true
    }
    /// Paths it writes besides its key (a program's conf file, a service's unit file, a cron
    /// job's file): like its key, each has one owner on a host (`play check`).
    fn owned_paths(&self) -> Vec<String> {
        Vec::new()
    }
    /// Several resources that say so may edit one file (`line:`, `block:`); no other may own
    /// it.
    fn shares_file(&self) -> bool {
        false
    }
    /// Its key has one owner on a host (false: only within one play, as a command line that
    /// two plays may both run).
    fn owned_per_host(&self) -> bool {
        true
    }
    /// The accounts (users, groups) a present resource of it creates (a user, its primary
    /// group, a group): the accounts check counts them as existing.
    fn declares(&self) -> Vec<(accounts::Account, String)> {
        Vec::new()
    }
    /// The accounts (users, groups) that must exist when its step runs (`owner:`, `group:`,
    /// the user a command or a cron job runs as), checked before apply (`accounts`).
    fn accounts(&self) -> Vec<(accounts::Account, &str)> {
        Vec::new()
    }
    /// Paths beside [`Spec::probe_paths`] whose state a plan file's fingerprint holds (a
    /// program's conf file).
    fn print_paths(&self) -> Vec<String> {
        Vec::new()
    }
    /// What else its plan depends on in `observed` (its checkout, tree, package, unit…), as
    /// entries of a plan file's fingerprint (`engine::planfile`).
    fn depends(&self, _observed: &Observed, _out: &mut Prints) {}
    /// What it asks of the probe beyond its paths: the records of its own (a checkout, a
    /// package, a file read whole), see [`deploy::DeployProbe`].
    fn add_probe(&self, _p: &mut deploy::DeployProbe) {}
    /// The kinds of `resources::deploy`: its planned change and work, a pure function of what
    /// the probe saw; `changed`: keys of the host's resources changing in this run (for
    /// `on_change`). The path and process kinds plan elsewhere (`None`).
    fn plan_work(
        &self,
        _observed: &Observed,
        _changed: &[&str],
    ) -> Result<Option<deploy::Planned<Self::Work>>, deploy::Refused> {
        Ok(None)
    }
    /// The content change a report shows for its planned `work` (an edit's file, a source).
    fn content(&self, _work: &Self::Work, _observed: &Observed) -> Option<ContentChange> {
        None
    }
    /// The files of a tree its planned `work` changes, as the report lists them (a sync, a
    /// release).
    fn file_list(&self, _work: &Self::Work) -> FileList {
        FileList::default()
    }
    /// The file its planned `work` writes whole, and the bytes it writes (an edit): a later
    /// edit of the same file on the host plans from them.
    fn edited_file<'w>(&self, _work: &'w Self::Work) -> Option<(&'w str, &'w [u8])> {
        None
    }
    /// Its apply fragment (script text and stdin) for its planned `work`; `last`: it is the
    /// host's last step of a kind that says [`Spec::updates_apt_cache`] (that step runs
    /// `apt-get update` once for all). `None`: not a kind with a fragment of its own, or no
    /// work of its kind (an internal error).
    fn apply_fragment(
        &self,
        _index: usize,
        _work: Option<&Self::Work>,
        _last: bool,
    ) -> Option<Result<(String, Vec<u8>), String>> {
        None
    }
    /// Its change, for a kind planned from the probe's state of its path (plug-in path
    /// `Path`): a pure function of what the probe saw (`Change::index` and `sensitive` are
    /// filled by the caller). `changed`: keys of the changes planned before it in this run
    /// (a recursive folder's paths below are known only after an earlier step writing there).
    /// `None`: a kind planned otherwise.
    fn plan_path(
        &self,
        _observed: &Observed,
        _changed: &[&str],
    ) -> Option<Result<Option<Change>, PlanError>> {
        None
    }
    /// Its step of the apply script for its planned `change`, written with the builder's
    /// primitives (`apply::symlink`, `apply::removal`, …): the lines between the step's marker
    /// and its `play_ok`, and their stdin; `expect`: what the file it replaces must still be
    /// (a sha256, `missing`, or `-`). `None`: a kind whose step `apply::Builder` writes itself
    /// or that has a fragment of its own ([`Spec::apply_fragment`]).
    fn change_step(&self, _change: &Change, _expect: &str) -> Option<(String, Vec<u8>)> {
        None
    }
    /// Its step changes what apt knows (a source): the host's last such step runs
    /// `apt-get update`, and packages then need no update of their own.
    fn updates_apt_cache(&self) -> bool {
        false
    }
    /// A kind that runs processes: what the engine's restarts and process phases know of it
    /// (its backend and name, its wanted state, what it restarts and reloads on).
    fn process(&self) -> Option<Process<'_>> {
        None
    }
    /// A kind that runs processes: its own change (its conf or unit file, its state) and the
    /// work its backend does after the host's files are written. `unit_files_changing`:
    /// another resource of the host writes under a systemd unit folder this run. Restarts
    /// caused by other resources are planned by the engine (`engine::restarts`).
    fn plan_process(
        &self,
        _observed: &Observed,
        _unit_files_changing: bool,
    ) -> Option<Result<ProcessPlan, PlanError>> {
        None
    }
    /// A file whose place is known only once the host is probed (a program's conf, where
    /// supervisord.conf's `[include]` puts it): its path on this host, and whether its
    /// folder must already exist there (or be made by a `directory:` of the run); `Err`:
    /// why it cannot be placed. `None`: it has no such file.
    fn place_file(&self, _observed: &Observed) -> Option<Result<(String, bool), String>> {
        None
    }
    /// Sets the path [`Spec::place_file`] found.
    fn set_file_place(&mut self, _path: String) {}
    /// The path of its placed file ([`Spec::place_file`]).
    fn placed_file(&self) -> Option<&str> {
        None
    }
    /// All of the host's changes of its kind are one step, at the place of the first (one
    /// `apt-get` for every package), written by [`Spec::apply_batch`].
    fn batched(&self) -> bool {
        false
    }
    /// The one step of a batched kind, called on the first of `members` (index, spec,
    /// planned work of each of the host's changes of its kind, in order); `apt_updated`: an
    /// earlier step ran `apt-get update`. `Err`: the index of the change that cannot be
    /// applied, and why.
    fn apply_batch(
        &self,
        members: &[(usize, &Desired, Option<&Work>)],
        _apt_updated: bool,
    ) -> Result<(String, Vec<u8>), (usize, String)> {
        let first = members.first().map_or(0, |m| m.0);
        Err((first, "internal error: not a batched kind".into()))
    }
}

/// What the engine knows of a resource of a kind that runs processes ([`Spec::process`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Process<'a> {
    /// Its backend (supervisord or systemd), as owed restarts name it.
    pub owed: OwedKind,
    pub name: &'a str,
    /// `None`: not managed (left as it is; restarted only when running).
    pub state: Option<ProcessState>,
    pub restart_on: &'a [String],
    pub reload_on: &'a [String],
}

/// The state a process must end in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessState {
    Running,
    Stopped,
    Absent,
}

/// The work a backend does for a process resource after the host's files are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessOp {
    Supervisor(crate::supervisor::SupervisorOp),
    Systemd(crate::systemd::UnitOp),
}

/// A process resource's plan ([`Spec::plan_process`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessPlan {
    pub change: Option<Change>,
    pub op: ProcessOp,
}

/// Entries of a plan file's fingerprint: what a change depends on, by name.
pub type Prints = BTreeMap<String, String>;

/// A short digest of a structured observation (its debug form), `sha256:HEX` (16 digits).
pub fn digest_of(v: &impl fmt::Debug) -> String {
    let full = sha256_hex(format!("{v:?}").as_bytes());
    format!("sha256:{}", &full[..16])
}

/// A user or group as the probe saw it: its entry, `absent`, or `unknown` (not probed).
pub fn account_print<T: fmt::Debug>(seen: Option<Option<&T>>) -> String {
    match seen {
        Some(Some(entry)) => format!("{entry:?}"),
        Some(None) => "absent".into(),
        None => "unknown".into(),
    }
}

/// True when one of `v` has a NUL byte.
pub fn any_nul(v: &[Option<&str>]) -> bool {
    v.iter().flatten().any(|s| s.contains('\0'))
}

impl Attrs {
    /// The owner or group has a NUL byte.
    pub fn has_nul(&self) -> bool {
        any_nul(&[self.owner.as_deref(), self.group.as_deref()])
    }
}

/// The match of `each_spec!` from the list of `registry::kinds!`.
macro_rules! each_spec_match {
    (($d:expr, $s:ident => $body:expr) $($kind:ident => $module:ident, $spec:ty;)*) => {
        match $d {
            $(Desired::$kind($s) => $body,)*
        }
    };
}

/// `$body` with `$s` bound to the spec of `$d`, whatever its kind: the one match over every
/// kind that `Desired`'s methods share.
macro_rules! each_spec {
    ($d:expr, $s:ident => $body:expr) => {
        registry::kinds!(each_spec_match!($d, $s => $body))
    };
}

/// The specs of the kinds whose steps `apply::Builder` writes itself (plug-in paths `Path` and
/// `Process`); the deploy kinds write their own fragments.
#[derive(Debug, Clone)]
pub enum BuilderSpec<'a> {
    /// The file a process kind writes (a conf or unit file), and its attributes: written
    /// when its content changes, else its attributes set; `None`: it writes none. With
    /// `Delete` it is removed when `remove` (else by the kind's process work).
    ProcessFile {
        file: Option<(String, &'a Attrs)>,
        remove: bool,
    },
}

impl Desired {
    /// See [`BuilderSpec`]; `None` for the deploy kinds.
    pub fn builder_spec(&self) -> Option<BuilderSpec<'_>> {
        each_spec!(self, s => s.builder_spec())
    }

    pub fn kind(&self) -> Kind {
        each_spec!(self, s => s.def().kind)
    }

    /// See [`Spec::key`].
    pub fn key(&self) -> &str {
        each_spec!(self, s => s.key())
    }

    /// See [`Spec::probe_paths`].
    pub fn probe_paths(&self) -> Vec<String> {
        each_spec!(self, s => s.probe_paths())
    }

    /// See [`Spec::watches`].
    pub fn watches(&self) -> Vec<(&'static str, &[String])> {
        each_spec!(self, s => s.watches())
    }

    /// See [`Spec::has_nul`]. `play check` reports it (resolve), apply refuses the step.
    pub fn has_nul(&self) -> bool {
        each_spec!(self, s => s.has_nul())
    }

    /// See [`Spec::written`].
    pub fn written(&self) -> Option<&str> {
        each_spec!(self, s => s.written())
    }

    /// See [`Spec::shown`].
    pub fn shown(&self, sensitive: bool) -> Vec<String> {
        each_spec!(self, s => s.shown(sensitive))
    }

    /// See [`Spec::made_folder`].
    pub fn made_folder(&self) -> Option<&str> {
        each_spec!(self, s => s.made_folder())
    }

    /// See [`Spec::parent_of`].
    pub fn parent_of(&self) -> Option<&str> {
        each_spec!(self, s => s.parent_of())
    }

    /// See [`Spec::sets_below`].
    pub fn sets_below(&self) -> bool {
        each_spec!(self, s => s.sets_below())
    }

    /// See [`Spec::below`].
    pub fn below(&self) -> Option<(&Attrs, Option<ModeRule>)> {
        each_spec!(self, s => s.below())
    }

    /// See [`Spec::path_attrs`].
    pub fn path_attrs(&self) -> Option<(&Attrs, Option<bool>)> {
        each_spec!(self, s => s.path_attrs())
    }

    /// See [`Spec::tree_root`].
    pub fn tree_root(&self) -> Option<&str> {
        each_spec!(self, s => s.tree_root())
    }

    /// See [`Spec::creates`].
    pub fn creates(&self) -> Option<&str> {
        each_spec!(self, s => s.creates())
    }

    /// See [`Spec::reads`].
    pub fn reads(&self) -> Option<&str> {
        each_spec!(self, s => s.reads())
    }

    /// See [`Spec::owned_trees`].
    pub fn owned_trees(&self) -> Vec<(String, String)> {
        each_spec!(self, s => s.owned_trees())
    }

    /// See [`Spec::runs_on_change`].
    pub fn runs_on_change(&self) -> bool {
        each_spec!(self, s => s.runs_on_change())
    }

    /// See [`Spec::is_check`].
    pub fn is_check(&self) -> bool {
        each_spec!(self, s => s.is_check())
    }

    /// See [`Spec::verified_after_apply`].
    pub fn verified_after_apply(&self) -> bool {
        each_spec!(self, s => s.verified_after_apply())
    }

    /// See [`Spec::print_paths`].
    pub fn print_paths(&self) -> Vec<String> {
        each_spec!(self, s => s.print_paths())
    }

    /// See [`Spec::depends`].
    pub fn depends(&self, observed: &Observed, out: &mut Prints) {
        each_spec!(self, s => s.depends(observed, out))
    }

    /// See [`Spec::add_probe`].
    pub fn add_probe(&self, p: &mut deploy::DeployProbe) {
        each_spec!(self, s => s.add_probe(p))
    }

    /// See [`Spec::plan_path`].
    pub fn plan_path(
        &self,
        observed: &Observed,
        changed: &[&str],
    ) -> Option<Result<Option<Change>, PlanError>> {
        each_spec!(self, s => s.plan_path(observed, changed))
    }

    /// See [`Spec::change_step`].
    pub fn change_step(&self, change: &Change, expect: &str) -> Option<(String, Vec<u8>)> {
        each_spec!(self, s => s.change_step(change, expect))
    }

    /// See [`Spec::updates_apt_cache`].
    pub fn updates_apt_cache(&self) -> bool {
        each_spec!(self, s => s.updates_apt_cache())
    }

    /// See [`Spec::process`].
    pub fn process(&self) -> Option<Process<'_>> {
        each_spec!(self, s => s.process())
    }

    /// See [`Spec::plan_process`].
    pub fn plan_process(
        &self,
        observed: &Observed,
        unit_files_changing: bool,
    ) -> Option<Result<ProcessPlan, PlanError>> {
        each_spec!(self, s => s.plan_process(observed, unit_files_changing))
    }

    /// See [`Spec::place_file`].
    pub fn place_file(&self, observed: &Observed) -> Option<Result<(String, bool), String>> {
        each_spec!(self, s => s.place_file(observed))
    }

    /// See [`Spec::set_file_place`].
    pub fn set_file_place(&mut self, path: String) {
        each_spec!(self, s => s.set_file_place(path))
    }

    /// See [`Spec::placed_file`].
    pub fn placed_file(&self) -> Option<&str> {
        each_spec!(self, s => s.placed_file())
    }

    /// See [`Spec::batched`].
    pub fn batched(&self) -> bool {
        each_spec!(self, s => s.batched())
    }

    /// See [`Spec::apply_batch`].
    pub fn apply_batch(
        &self,
        members: &[(usize, &Desired, Option<&Work>)],
        apt_updated: bool,
    ) -> Result<(String, Vec<u8>), (usize, String)> {
        each_spec!(self, s => s.apply_batch(members, apt_updated))
    }

    /// See [`Spec::owned_paths`].
    pub fn owned_paths(&self) -> Vec<String> {
        each_spec!(self, s => s.owned_paths())
    }

    /// See [`Spec::shares_file`].
    pub fn shares_file(&self) -> bool {
        each_spec!(self, s => s.shares_file())
    }

    /// See [`Spec::owned_per_host`].
    pub fn owned_per_host(&self) -> bool {
        each_spec!(self, s => s.owned_per_host())
    }

    /// See [`Spec::declares`].
    pub fn declares(&self) -> Vec<(accounts::Account, String)> {
        each_spec!(self, s => s.declares())
    }

    /// See [`Spec::accounts`].
    pub fn accounts(&self) -> Vec<(accounts::Account, &str)> {
        each_spec!(self, s => s.accounts())
    }
}

/// One resource of a host's plan: desired state plus where it was declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub desired: Desired,
    pub origin: Origin,
    /// Never show content (diffs say "sensitive content changed").
    pub sensitive: bool,
}

/// The type of what stands at a path on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathKind {
    Missing,
    File {
        size: u64,
        sha256: Option<String>,
    },
    Directory {
        empty: Option<bool>,
    },
    Link {
        target: String,
    },
    /// Socket, fifo, device...
    Other(String),
}

/// What the probe found at one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathState {
    pub kind: PathKind,
    pub mode: u32,
    pub owner: String,
    pub group: String,
}

impl PathState {
    pub fn missing() -> Self {
        PathState {
            kind: PathKind::Missing,
            mode: 0,
            owner: String::new(),
            group: String::new(),
        }
    }
}

/// Facts gathered by the probe.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Facts {
    pub hostname: String,
    pub os_id: String,
    pub os_version: String,
    /// `VERSION_CODENAME` of os-release (`bookworm`); empty when the host has none.
    #[serde(default)]
    pub os_codename: String,
    pub arch: String,
    pub cpus: u64,
    pub memory_mb: u64,
    /// What the host runs in, by Ansible's names: `docker`, `lxc`, `podman`… (a container),
    /// `kvm`, `VMware`, `VirtualBox`, `xen` (a virtual machine), `NA` (neither found).
    #[serde(default)]
    pub virtualization: String,
    /// SELinux: `disabled`, `enforcing` or `permissive`.
    #[serde(default)]
    pub selinux: String,
    /// The IPv4 default route (Ansible's `default_ipv4`): `address`, `gateway`, `interface`,
    /// `netmask`, `network`, `prefix`; empty without one.
    #[serde(default)]
    pub default_ipv4: std::collections::BTreeMap<String, String>,
    /// The IPv6 default route (Ansible's `default_ipv6`): `address`, `gateway`, `interface`,
    /// `prefix`, `scope`; empty without one.
    #[serde(default)]
    pub default_ipv6: std::collections::BTreeMap<String, String>,
    /// The environment of the session resources are applied in (Ansible's `ansible_env`):
    /// with `become`, the root session sudo gives (`SUDO_USER`…). Read by the probe only when
    /// the project names it (`probe::env`). Never serialized: it may hold secrets, so neither
    /// `play facts --save` files nor plan files record it (the vars see it as `facts.env`).
    #[serde(skip)]
    pub env: std::collections::BTreeMap<String, String>,
    /// The values of the `gather:` commands, by name, in Ansible's registered shape (see
    /// `resolve::gather`): vars of their own, not under `facts` (`play facts --save` records
    /// the `find:`/`stat:` ones beside the facts: `ops::facts::FactsFile::gathered`).
    #[serde(skip)]
    pub gathered: std::collections::BTreeMap<String, serde_json::Value>,
}

/// Everything the probe observed on one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    pub facts: Facts,
    /// By path; a path asked for but not reported is missing.
    pub paths: BTreeMap<String, PathState>,
    /// supervisord's config file, when the probe looked for it and found it.
    pub supervisor_conf: Option<String>,
    /// supervisord's unix socket (`[unix_http_server] file=` of that config).
    pub supervisor_socket: Option<String>,
    /// The value of that config's `[include] files=` (`None`: no such key).
    pub supervisor_include: Option<String>,
    /// Every process supervisord runs; `None` when not asked (no `program:` on the host).
    pub processes: Option<Vec<crate::supervisor::ProcessStatus>>,
    /// systemd runs on the host (known when units were asked about).
    pub systemd: bool,
    /// `systemctl show` of the units asked about, by unit name.
    pub units: BTreeMap<String, crate::systemd::UnitState>,
    /// Restarts owed by earlier runs (the host's state file); `None` when not read.
    pub owed: Option<Vec<OwedRestart>>,
    /// Checkouts, trees, releases, packages, users, groups and command checks.
    pub deploy: deploy::DeployObserved,
    /// The first line of the host's apply lock file (`None`: no lock file), see
    /// `engine::lock`. Untrusted: only compared with what the lock command reports.
    pub lock: Option<String>,
    /// Leftover temp files (`.NAME.play-tmp.*`) beside probed paths, as the host reported them
    /// (untrusted: checked against the declared paths before anything is removed).
    pub temps: Vec<String>,
    /// What each `gather:` command gave, by its id (`probe::gather`).
    pub gathered: BTreeMap<String, crate::probe::gather::GatherOutput>,
}

/// What is restarted or reloaded.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum OwedKind {
    /// A supervisord program (written `program` in the owed-restarts file).
    #[serde(rename = "program")]
    Supervisor,
    /// A systemd unit (written `service`).
    #[serde(rename = "service")]
    Systemd,
}

/// A restart, or (services with `reload_on`) a reload.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum OwedAction {
    Restart,
    Reload,
}

/// A restart that a run promised and has not done yet, kept on the host (see
/// [`OWED_STATE_FILE`]) so that a failed run cannot lose it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OwedRestart {
    pub kind: OwedKind,
    pub name: String,
    pub action: OwedAction,
    /// Why, for people: `/etc/app/app.ini changed`.
    pub reasons: Vec<String>,
}

/// Where owed restarts are kept on a host (JSON, written atomically).
pub const OWED_STATE_FILE: &str = "/var/lib/play/restarts.json";

#[derive(serde::Serialize, serde::Deserialize)]
struct OwedFile {
    version: u32,
    owed: Vec<OwedRestart>,
}

/// The state file's text for `owed`.
pub fn encode_owed(owed: &[OwedRestart]) -> Vec<u8> {
    let mut v = serde_json::to_vec_pretty(&OwedFile {
        version: 1,
        owed: owed.to_vec(),
    })
    .unwrap_or_default();
    v.push(b'\n');
    v
}

/// Reads the state file's text.
pub fn decode_owed(text: &[u8]) -> Result<Vec<OwedRestart>, String> {
    if text.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let f: OwedFile = serde_json::from_slice(text).map_err(|e| e.to_string())?;
    if f.version != 1 {
        return Err(format!("unsupported version {}", f.version));
    }
    Ok(f.owed)
}

impl Observed {
    pub fn path(&self, p: &str) -> PathState {
        self.paths
            .get(p)
            .cloned()
            .unwrap_or_else(PathState::missing)
    }
}

/// What a change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
    /// Only owner, group or mode change.
    Attrs,
}

impl Action {
    /// The sign in text output: `+`, `~`, `-`.
    pub fn sign(self) -> char {
        match self {
            Action::Create => '+',
            Action::Update | Action::Attrs => '~',
            Action::Delete => '-',
        }
    }
    pub fn verb(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Attrs => "update",
        }
    }
}

/// Old and new content of a file, for diffs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentChange {
    /// The file: the resource's path, a program's conf file where its host's supervisord
    /// includes it, a service's unit file.
    pub path: String,
    /// `None` when the file does not exist yet or its old bytes were not fetched.
    pub old: Option<Vec<u8>>,
    pub old_sha256: Option<String>,
    pub old_size: Option<u64>,
    /// Why the old bytes were not fetched though the file exists (one line: a link another
    /// user could swap on its path, permission denied, …): reports say so and show none of it.
    pub old_unread: Option<String>,
    pub new: Vec<u8>,
    pub new_sha256: String,
}

/// One planned change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: Kind,
    pub key: String,
    pub action: Action,
    /// Human summaries of what changes: `mode 0644 → 0640`, `owner root → deploy`,
    /// `target /a → /b`, `replace file with link`.
    pub details: Vec<String>,
    pub content: Option<ContentChange>,
    pub sensitive: bool,
    /// Index of the resource in the host's resource list.
    pub index: usize,
    /// Files of a sync or release that change (listed one per line under the change; not in
    /// `details`).
    pub files: FileList,
    /// The owner, group or mode of the resource's file (a program's conf, a service's unit
    /// file) changes; `details` says how.
    pub attrs: bool,
    /// The restarts and reloads of this program or service, for people (`restart: /etc/app.ini
    /// changed`, `reload owed by an earlier run: …`); not in `details`.
    pub restarts: Vec<String>,
    /// Known only after an earlier step of this run (`git /srv/app`): that step changes the
    /// tree this resource lies in, so the step re-examines the path when it runs (Terraform's
    /// "known after apply").
    pub after: Option<String>,
    /// What its path must still be when its step runs, where `content` does not say it: a
    /// copy's destination (`copy_of`), the sha256 the probe saw there. `None`: what the
    /// content and action say (`apply`'s `expectation`).
    pub expect: Option<String>,
}

impl Change {
    /// `details`, then `restarts`, then the lines of `files`: the text the JSON, Markdown and
    /// JUnit reports carry (as before `restarts` and `files` were typed).
    pub fn all_details(&self) -> Vec<String> {
        let mut d = self.details.clone();
        d.extend(self.restarts.iter().cloned());
        d.extend(self.files.lines());
        d
    }
}

/// How a listed file changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    Added,
    Changed,
    Removed,
}

impl Sign {
    /// `+`, `~`, `-`.
    pub fn char(self) -> char {
        match self {
            Sign::Added => '+',
            Sign::Changed => '~',
            Sign::Removed => '-',
        }
    }
}

/// The files a sync or release changes, as the report lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileList {
    /// At most [`source::files::MAX_LISTED`], sorted by path: (sign, `PATH` or `PATH (why)`).
    pub files: Vec<(Sign, String)>,
    /// How many more change and are not listed.
    pub more: usize,
}

impl FileList {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.more == 0
    }

    /// `+ PATH`, …, then `… and N more`.
    pub fn lines(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .files
            .iter()
            .map(|(sign, text)| format!("{} {text}", sign.char()))
            .collect();
        if self.more > 0 {
            v.push(format!("… and {} more", self.more));
        }
        v
    }
}

/// A plan cannot be made for a resource (the host's state forbids it without `force`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {key}: {message}")]
pub struct PlanError {
    pub kind: Kind,
    pub key: String,
    pub message: String,
}

/// Checks `environment:` variable names and values (one line each): a command's, a cron
/// job's.
pub fn check_environment(env: &[(String, String)]) -> Result<(), String> {
    for (k, v) in env {
        let ok = k
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(format!("environment: `{k}` is not a variable name"));
        }
        if v.contains('\n') || v.contains('\r') {
            return Err(format!("environment: `{k}` has a newline"));
        }
    }
    Ok(())
}

/// The `export NAME='VALUE'` lines of an `environment:` (checked by [`check_environment`]),
/// each ending in a newline: they travel in the script on stdin, never in an argv.
pub fn exports(env: &[(String, String)]) -> String {
    env.iter()
        .map(|(k, v)| format!("export {k}={}\n", crate::transport::shell_quote(v)))
        .collect()
}

/// An `environment:` holding a NUL byte (which a script cannot carry).
pub fn env_has_nul(env: &[(String, String)]) -> bool {
    env.iter()
        .any(|(k, v)| k.contains('\0') || v.contains('\0'))
}

/// Formats permission bits as `0644`.
pub fn mode_str(mode: u32) -> String {
    format!("{:04o}", mode & 0o7777)
}

/// Parses a mode: an octal string `"0644"`, `"644"`, `"0o644"`, an integer whose decimal
/// digits are octal digits (YAML `0644` without quotes reads as 644), or a symbolic mode
/// setting every class with `=` and no `X` (`u=rw,g=r,o=r`: see [`ModeRule`]).
pub fn parse_mode(s: &str) -> Result<u32, String> {
    let t = s.trim();
    if t.contains(['=', '+', '-']) || t.starts_with(['u', 'g', 'o', 'a']) {
        // Symbolic: taken when it gives one mode whatever the path (no `X`).
        let rule = ModeRule::parse(t)?;
        return rule.as_uniform().ok_or_else(|| {
            format!(
                "invalid mode `{s}`: `X` gives folders and files different modes; only a \
                 `directory:` takes it (with `recurse: true` for what is below)"
            )
        });
    }
    let digits = t.strip_prefix("0o").unwrap_or(t);
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return Err(format!(
            "invalid mode `{s}`: expected an octal string like \"0644\" (3 or 4 digits 0-7)"
        ));
    }
    u32::from_str_radix(digits, 8).map_err(|e| format!("invalid mode `{s}`: {e}"))
}

/// A mode given in Ansible's symbolic form (`u=rwX,g=rX,o=rX`), as it comes out for each path:
/// `X` is execute for a folder, and for another path only when it already has an execute
/// bit. Only forms that set every class with `=` are taken (each path's mode then depends on
/// its type and old execute bits alone, so play can check and apply it exactly); `+`, `-`,
/// `s`, `t` and a missing class are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModeRule {
    /// The mode of a folder.
    pub folder: u32,
    /// The mode of another path, by its old execute bits (`u`: 4, `g`: 2, `o`: 1).
    pub by_x: [u32; 8],
}

impl ModeRule {
    /// The same mode for every path (an octal mode).
    pub fn uniform(mode: u32) -> ModeRule {
        ModeRule {
            folder: mode,
            by_x: [mode; 8],
        }
    }

    /// The same mode for every path, if it is one.
    pub fn as_uniform(&self) -> Option<u32> {
        self.by_x
            .iter()
            .all(|m| *m == self.folder)
            .then_some(self.folder)
    }

    /// The index into `by_x` of a path with mode `mode`.
    pub fn x_index(mode: u32) -> usize {
        (((mode >> 4) & 4) | ((mode >> 2) & 2) | (mode & 1)) as usize
    }

    /// The mode a path of mode `old` gets (`folder`: it is one).
    pub fn apply(&self, folder: bool, old: u32) -> u32 {
        if folder {
            self.folder
        } else {
            self.by_x[Self::x_index(old)]
        }
    }

    /// Parses `u=rwX,g=rX,o=rX`, `a=rX`, `u=rwx,go=rx` (Ansible's file module: clause by clause,
    /// class by class, `X` looking at the mode as set so far).
    pub fn parse(s: &str) -> Result<ModeRule, String> {
        let bad = |why: &str| {
            Err(format!(
                "invalid mode `{s}`: {why}; give an octal mode (\"0755\") or set every class \
                 with `=` (`u=rwX,g=rX,o=rX`)"
            ))
        };
        let mut set = [false; 3];
        let mut clauses = Vec::new();
        for clause in s.trim().split(',') {
            let Some((who, perms)) = clause.split_once('=') else {
                return bad(&format!("`{clause}` does not set its classes with `=`"));
            };
            if who.is_empty() || !who.bytes().all(|b| b"ugoa".contains(&b)) {
                return bad(&format!(
                    "`{clause}` names no class (u, g, o or a) before `=`"
                ));
            }
            if !perms.bytes().all(|b| b"rwxX".contains(&b)) {
                return bad(&format!(
                    "`{clause}`: only r, w, x and X are taken after `=`"
                ));
            }
            let classes: Vec<usize> = if who.contains('a') {
                vec![0, 1, 2]
            } else {
                who.bytes()
                    .map(|b| match b {
                        b'u' => 0,
                        b'g' => 1,
                        _ => 2,
                    })
                    .collect()
            };
            for &c in &classes {
                set[c] = true;
            }
            clauses.push((classes, perms));
        }
        if set.contains(&false) {
            return bad("it leaves a class (u, g or o) as it was");
        }
        let run = |folder: bool, old: u32| -> u32 {
            let mut m = old;
            for (classes, perms) in &clauses {
                for &c in classes {
                    let shift = 6 - 3 * c as u32;
                    let special = [0o4000, 0o2000, 0o1000][c];
                    let x = folder || m & 0o111 != 0;
                    let mut bits = 0;
                    for p in perms.bytes() {
                        bits |= match p {
                            b'r' => 4,
                            b'w' => 2,
                            b'x' => 1,
                            _ if x => 1,
                            _ => 0,
                        };
                    }
                    m = (m & !((7 << shift) | special)) | (bits << shift);
                }
            }
            m
        };
        let mut by_x = [0; 8];
        for (i, slot) in by_x.iter_mut().enumerate() {
            let i = i as u32;
            *slot = run(false, ((i & 4) << 4) | ((i & 2) << 2) | (i & 1));
        }
        Ok(ModeRule {
            folder: run(true, 0),
            by_x,
        })
    }
}

/// Attribute differences between desired and observed (only the managed ones).
pub fn attr_details(want: &Attrs, have: &PathState) -> Vec<String> {
    let mut d = Vec::new();
    if let Some(o) = &want.owner {
        if o != &have.owner {
            d.push(format!("owner {} → {}", have.owner, o));
        }
    }
    if let Some(g) = &want.group {
        if g != &have.group {
            d.push(format!("group {} → {}", have.group, g));
        }
    }
    if let Some(m) = want.mode {
        if m != have.mode & 0o7777 {
            d.push(format!("mode {} → {}", mode_str(have.mode), mode_str(m)));
        }
    }
    d
}

/// Plans one resource: a pure function of desired and observed state. For programs and
/// services this is their own change only (conf or unit file, state); restarts caused by other
/// resources are planned for the whole host (`engine::restarts`).
pub fn plan(index: usize, r: &Resource, observed: &Observed) -> Result<Option<Change>, PlanError> {
    plan_after(index, r, observed, &[])
}

/// [`plan`], `changed` holding the keys of the changes planned before it in this run (see
/// [`Spec::plan_path`]).
pub fn plan_after(
    index: usize,
    r: &Resource,
    observed: &Observed,
    changed: &[&str],
) -> Result<Option<Change>, PlanError> {
    // The path and process kinds plan from the core probe; the deploy kinds from their records.
    if let Some(p) = r.desired.plan_process(observed, false) {
        let mut change = p?.change;
        if let Some(c) = change.as_mut() {
            c.index = index;
            c.sensitive = r.sensitive;
        }
        return Ok(change);
    }
    let by_path = r.desired.plan_path(observed, changed);
    let mut change = match by_path {
        Some(planned) => planned?,
        None => deploy::plan(index, r, observed, changed)?.map(|(c, _)| c),
    };
    if let Some(c) = change.as_mut() {
        c.index = index;
        c.sensitive = r.sensitive;
    }
    Ok(change)
}

#[cfg(test)]
mod tests {
    #[test]
    fn origins_show_what_is_known_of_the_position() {
        let at = |line, column| {
            super::Origin {
                file: "t.j2".into(),
                line,
                column,
            }
            .to_string()
        };
        assert_eq!(at(3, 7), "t.j2:3:7");
        assert_eq!(at(3, 0), "t.j2:3");
        assert_eq!(at(0, 0), "t.j2");
    }

    use super::*;

    #[test]
    fn modes() {
        assert_eq!(parse_mode("0644"), Ok(0o644));
        assert_eq!(parse_mode("755"), Ok(0o755));
        assert_eq!(parse_mode("0o2775"), Ok(0o2775));
        assert!(parse_mode("0844").is_err());
        assert!(parse_mode("rwx").is_err());
        assert!(parse_mode("07777x").is_err());
        assert_eq!(mode_str(0o100644), "0644");
        assert_eq!(parse_mode("u=rwx,g=rx,o=rx"), Ok(0o755));
        assert_eq!(parse_mode("a=r,u=rw"), Ok(0o644));
        assert!(parse_mode("u=rwX,g=rX,o=rX").unwrap_err().contains("`X`"));
        assert!(parse_mode("u=rwx").unwrap_err().contains("leaves a class"));
    }

    #[test]
    fn symbolic_modes_with_x_depend_on_type_and_old_execute_bits() {
        let r = ModeRule::parse("u=rwX,g=rX,o=rX").unwrap();
        assert_eq!(r.folder, 0o755);
        assert_eq!(r.apply(false, 0o644), 0o644);
        assert_eq!(r.apply(false, 0o700), 0o755);
        // Set-ID and sticky bits are cleared: every class is set with `=`.
        assert_eq!(r.apply(false, 0o4710), 0o755);
        assert_eq!(r.apply(true, 0o2700), 0o755);
        assert_eq!(r.as_uniform(), None);
        // `X` sees the mode as set so far: `u=rwx` gives `g` an execute bit to see.
        let r = ModeRule::parse("u=rwx,g=rX,o=").unwrap();
        assert_eq!(r.apply(false, 0o644), 0o750);
        let r = ModeRule::parse("o=,g=rX,u=rw").unwrap();
        assert_eq!(r.apply(false, 0o001), 0o640);
        assert_eq!(r.apply(false, 0o010), 0o650);
        assert_eq!(ModeRule::parse("a=rX").unwrap().apply(false, 0o100), 0o555);
        // (the example of docs/playbooks.md)
        let r = ModeRule::parse("u=rw,g=rX,o=rX").unwrap();
        assert_eq!(r.apply(false, 0o700), 0o644);
        for bad in [
            "u+x,g=r,o=r",
            "u=rws,g=r,o=r",
            "=r",
            "u=r,g=r",
            "u=rwX;g=r",
            "",
        ] {
            let e = ModeRule::parse(bad).unwrap_err();
            assert!(e.starts_with(&format!("invalid mode `{bad}`")), "{e}");
        }
    }
}
