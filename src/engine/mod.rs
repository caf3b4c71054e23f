//! The engine: per host, connect → probe → resolve → plan → (apply → verify), hosts in parallel.
//!
//! Input errors are found before anything connects: every host's resources are rendered with
//! placeholder facts first. A host that fails stops only that host.
//!
//! Within a host, apply goes: the owed-restarts record and every file, folder, link, program
//! conf and unit file in declared order (one script), then supervisord (one re-read and update
//! for all programs, starts and stops: [`processes::supervisor`]), then systemd (one script:
//! daemon-reload, enable/disable, start/stop, restarts and reloads: [`processes::services`]),
//! then the owed restarts that succeeded are cleared, then the host is probed again. In apply
//! mode, a host that ended well then passes its plays' `wait_for` health gates ([`gate`]).

pub mod gate;
pub mod lock;
pub mod planfile;
pub mod processes;
pub mod restarts;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use rayon::prelude::*;

use crate::apply;
use crate::inventory::{
    connection_for, ConnectionOverrides, Host, Inventory, InventoryError, Vars,
};
use crate::playbook::Playbook;
use crate::probe::{self, Wants};
use crate::resolve::{stub_facts, ResolveError, Resolver};
use crate::resources::deploy::{self, Work};
use crate::resources::{
    self, encode_owed, Change, Desired, Facts, Kind, Observed, OwedKind, PathKind, ProcessOp,
    Resource,
};
use crate::resources::{accounts, tree};
use crate::supervisor::{Backend, Client, SupervisorError, SupervisorOp};
use crate::systemd::{SvcAction, UnitOp};
use crate::transport::{self, Transport, TransportError};

/// The note of a host with changes whose resources were rendered with gathered values (shown
/// without `-v` too).
pub const GATHERED_NOTE: &str = "gathered values were read before this run's changes";

/// Diff only shows; apply converges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Diff,
    Apply,
}

/// Options of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub mode: Mode,
    pub limit: Option<String>,
    pub forks: usize,
    pub overrides: ConnectionOverrides,
    /// Fetch old contents of changed text files to show unified diffs.
    pub want_diffs: bool,
    /// Apply: seconds to wait for a host's lock held by another apply (see [`lock`]).
    pub lock_timeout: u64,
    /// Bounds of every template rendering.
    pub template_limits: crate::resolve::template::Limits,
    /// Apply from a saved plan (`play apply --plan`): a host whose fresh plan is not exactly
    /// the saved one is refused as stale, nothing applied on it (see [`planfile`]).
    pub expected: Option<std::sync::Arc<planfile::Expected>>,
    /// `--tags` / `--skip-tags`: only the resources selected are planned and applied.
    pub tags: crate::playbook::TagSelection,
    /// When the run started (seconds since the epoch, UTC): `play_run_time`. `apply --plan`
    /// gives the plan's, so that what was reviewed is what is applied.
    pub run_time: u64,
}

/// Why a run could not start (nothing was contacted).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error("{0}")]
    NoHosts(String),
}

/// How a host ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostStatus {
    /// Nothing to change (diff) or converged (apply).
    Ok,
    /// Could not connect or log in.
    Unreachable(String),
    /// Something failed after connecting.
    Failed(String),
    /// Not touched: an earlier `serial` batch failed beyond `max_fail_percentage`.
    NotRun(String),
}

/// One host's result.
#[derive(Debug, Clone)]
pub struct HostReport {
    pub host: String,
    pub status: HostStatus,
    /// Changes planned (diff) or attempted (apply), in order.
    pub changes: Vec<Change>,
    /// Checks (`command:` with `changed: false`) due on apply: listed (diff) or run (apply),
    /// never counted as changes.
    pub checks: Vec<Change>,
    /// Indexes (Change::index) of changes that were applied.
    pub applied: Vec<usize>,
    /// Resources already in their desired state.
    pub unchanged: usize,
    pub facts: Option<Facts>,
    /// Round trips (exec calls and supervisord requests) made on the host.
    pub round_trips: usize,
    pub seconds: f64,
    /// Remarks for `-v` output (e.g. supervisord reached through supervisorctl).
    pub notes: Vec<String>,
    /// The changes planned before applying, each with what it depends on in the observed
    /// state (for plan files: [`planfile`]); made by diff and by apply from a plan. Raw:
    /// redact before writing.
    pub prints: Vec<planfile::RawPrint>,
    /// The `name:` of each resource that has one, by resource index (Change::index).
    pub names: std::collections::BTreeMap<usize, String>,
    /// The `name:` of the play of each resource whose play has one, by resource index.
    pub plays: std::collections::BTreeMap<usize, String>,
}

impl HostReport {
    pub(crate) fn new(host: &str) -> Self {
        HostReport {
            host: host.to_string(),
            status: HostStatus::Ok,
            changes: Vec::new(),
            checks: Vec::new(),
            applied: Vec::new(),
            unchanged: 0,
            facts: None,
            round_trips: 0,
            seconds: 0.0,
            notes: Vec::new(),
            prints: Vec::new(),
            names: Default::default(),
            plays: Default::default(),
        }
    }
    pub fn failed(&self) -> bool {
        matches!(self.status, HostStatus::Failed(_))
    }
    pub fn unreachable(&self) -> bool {
        matches!(self.status, HostStatus::Unreachable(_))
    }
}

/// The result of a run over all hosts, in inventory order.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub mode: Mode,
    pub hosts: Vec<HostReport>,
    pub seconds: f64,
    /// The saved plan this run applied (`play apply --plan`).
    pub plan_id: Option<String>,
}

impl RunReport {
    pub fn all_ok(&self) -> bool {
        self.hosts.iter().all(|h| h.status == HostStatus::Ok)
    }
    pub fn pending_changes(&self) -> usize {
        self.hosts.iter().map(|h| h.changes.len()).sum()
    }
}

/// Hosts targeted by the playbook, limited by `--limit`, in inventory order.
pub fn target_hosts<'a>(
    pb: &Playbook,
    inv: &'a Inventory,
    limit: Option<&str>,
) -> Result<Vec<&'a Host>, RunError> {
    let mut names = BTreeSet::new();
    for play in &pb.plays {
        for h in inv.select_lenient(&play.hosts).map_err(|e| ResolveError {
            origin: play.origin.clone(),
            message: e.to_string(),
            host: String::new(),
        })? {
            names.insert(h.name.clone());
        }
    }
    if let Some(l) = limit {
        let allowed: BTreeSet<String> = inv.select(l)?.iter().map(|h| h.name.clone()).collect();
        names.retain(|n| allowed.contains(n));
    }
    let hosts: Vec<&Host> = inv
        .hosts
        .iter()
        .filter(|h| names.contains(&h.name))
        .collect();
    if hosts.is_empty() {
        return Err(RunError::NoHosts(
            "no host matches the playbook's plays (and --limit)".into(),
        ));
    }
    Ok(hosts)
}

/// Checks every host's resources offline (placeholder facts). The first error is returned.
pub fn validate(resolver: &Resolver, hosts: &[&Host]) -> Result<(), RunError> {
    let stub = stub_facts();
    let errors: Vec<ResolveError> = hosts
        .par_iter()
        .filter_map(|h| {
            let gathers = match resolver.gathers(h) {
                Ok(g) => g,
                Err(e) => return Some(e),
            };
            // Rendered with stand-ins for gathered values: what fails on them alone is left
            // to the render with the host's values (after its probe).
            let names: Vec<&str> = gathers.iter().map(|g| g.name.as_str()).collect();
            let stand_in = |e: &ResolveError| crate::resolve::gather::names_any(&e.message, &names);
            resolver
                .resources(h, &stub)
                .map(|_| ())
                .or_else(|e| if stand_in(&e) { Ok(()) } else { Err(e) })
                .and_then(|_| resolver.probe_targets(h))
                .and_then(|_| {
                    gate::gates(resolver, h, &stub).map(|_| ()).or_else(|e| {
                        if stand_in(&e) {
                            Ok(())
                        } else {
                            Err(e)
                        }
                    })
                })
                .err()
        })
        .collect();
    match errors.into_iter().next() {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Asks the engine to stop: hosts not started yet are not touched, hosts that have not begun
/// applying skip it, and applies in flight finish (each file is atomic; restarts they owe are
/// recorded on the host first).
pub fn interrupt() {
    INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// True once [`interrupt`] was called.
pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Runs the playbook on its hosts. `progress` is called once per finished host.
pub fn run(
    pb: &Playbook,
    inv: &Inventory,
    extra_vars: &Vars,
    opts: &RunOptions,
    progress: &(dyn Fn(&HostReport) + Sync),
) -> Result<RunReport, RunError> {
    let start = Instant::now();
    let resolver = Resolver::new(pb, inv, extra_vars)
        .with_limits(opts.template_limits)
        .with_tags(opts.tags.clone())
        .with_run_time(opts.run_time);
    let hosts = target_hosts(pb, inv, opts.limit.as_deref())?;
    validate(&resolver, &hosts)?;
    let conns = hosts
        .iter()
        .map(|h| connection_for(h, &opts.overrides))
        .collect::<Result<Vec<_>, _>>()?;
    // Rolling batches: the first play with `serial` sets them (all plays of a host run together).
    let serial = pb
        .plays
        .iter()
        .find(|p| !p.serial.is_empty())
        .map(|p| p.serial.clone())
        .unwrap_or_default();
    let max_fail = pb.plays.iter().find_map(|p| p.max_fail_percentage);
    let pool = crate::ops::run::pool(opts.forks);
    let mut reports: Vec<HostReport> = Vec::with_capacity(hosts.len());
    let mut stopped: Option<String> = None;
    for (b, range) in crate::playbook::batches(hosts.len(), &serial)
        .into_iter()
        .enumerate()
    {
        if let Some(why) = &stopped {
            for h in &hosts[range] {
                let mut r = HostReport::new(&h.name);
                r.status = HostStatus::NotRun(why.clone());
                reports.push(r);
            }
            continue;
        }
        let batch: Vec<HostReport> = pool.install(|| {
            hosts[range.clone()]
                .par_iter()
                .zip(conns[range.clone()].par_iter())
                .map(|(h, c)| {
                    let t0 = Instant::now();
                    let mut report = HostReport::new(&h.name);
                    if interrupted() {
                        report.status = HostStatus::NotRun(
                            "interrupted (Ctrl-C) before this host started".into(),
                        );
                        progress(&report);
                        return report;
                    }
                    match transport::connect(c) {
                        Err(e) => report.status = HostStatus::Unreachable(e.to_string()),
                        Ok(mut t) => {
                            if let Err(status) =
                                host_pipeline(&resolver, h, t.as_mut(), opts, &mut report)
                            {
                                report.status = status;
                            }
                            gate::after_pipeline(&resolver, h, t.as_mut(), opts, &mut report);
                            t.close();
                        }
                    }
                    report.seconds = t0.elapsed().as_secs_f64();
                    progress(&report);
                    report
                })
                .collect()
        });
        let bad = batch
            .iter()
            .filter(|r| r.failed() || r.unreachable())
            .count();
        let share = 100.0 * bad as f64 / batch.len().max(1) as f64;
        let stop = match max_fail {
            Some(p) => share > p,
            // As Ansible: without max_fail_percentage, a batch where every host failed stops the run.
            None => !serial.is_empty() && bad == batch.len() && bad > 0,
        };
        if stop {
            stopped = Some(format!(
                "not touched: batch {} failed on {bad} of {} hosts ({share:.0}%{})",
                b + 1,
                batch.len(),
                max_fail
                    .map(|p| format!(" > max_fail_percentage {p}"))
                    .unwrap_or_default()
            ));
        }
        reports.extend(batch);
    }
    Ok(RunReport {
        mode: opts.mode,
        hosts: reports,
        seconds: start.elapsed().as_secs_f64(),
        plan_id: opts.expected.as_ref().map(|e| e.plan_id.clone()),
    })
}

/// A transport error after connecting means the session is gone (host died, connection cut,
/// host frozen): the host is unreachable. Only sudo refusing is a failure of the host itself.
fn transport_status(e: TransportError) -> HostStatus {
    match e {
        TransportError::SudoPassword { .. } | TransportError::Deadline { .. } => {
            HostStatus::Failed(e.to_string())
        }
        _ => HostStatus::Unreachable(e.to_string()),
    }
}

fn exec(
    t: &mut dyn Transport,
    r: &mut HostReport,
    script: &str,
    stdin: &[u8],
) -> Result<crate::transport::ExecOutput, HostStatus> {
    r.round_trips += 1;
    t.exec(script, stdin).map_err(transport_status)
}

/// Adds a later probe's findings to `into`.
fn merge_observed(into: &mut Observed, more: Observed) {
    into.paths.extend(more.paths);
    if more.supervisor_conf.is_some() {
        into.supervisor_conf = more.supervisor_conf;
        into.supervisor_socket = more.supervisor_socket;
        into.supervisor_include = more.supervisor_include;
    }
    if more.processes.is_some() {
        into.processes = more.processes;
    }
    if !more.units.is_empty() {
        into.systemd = more.systemd;
        into.units.extend(more.units);
    }
    into.deploy.merge(more.deploy);
    if more.owed.is_some() {
        into.owed = more.owed;
    }
    if more.lock != into.lock {
        // The lock changed between the two probes: another apply ran meanwhile.
        into.lock = Some("(changed between probes)".into());
    }
    for t in more.temps {
        if !into.temps.contains(&t) {
            into.temps.push(t);
        }
    }
}

/// Probes what `w` asks for (plus facts) in one round trip, then supervisord's processes (one
/// XML-RPC request) when programs are involved.
fn probe(
    t: &mut dyn Transport,
    r: &mut HostReport,
    w: &Wants,
    backend: &mut Option<Backend>,
) -> Result<Observed, HostStatus> {
    let (cmd, stdin) = w.command();
    // A probe must not hang the run: bounded by 3 × --timeout, plus what its slow parts
    // may take (each `unless` check has its own limit; remotes and trees take longer).
    let deploy = &w.extra.deploy;
    let allowance = std::time::Duration::from_secs(
        w.extra.slow_secs() + 120 * deploy.remotes.len() as u64 + 60 * deploy.trees.len() as u64,
    );
    r.round_trips += 1;
    let out = t
        .exec_bounded(&cmd, &stdin, allowance)
        .map_err(|e| match e {
            TransportError::Deadline { host, secs, .. } => HostStatus::Failed(format!(
                "{host}: the probe did not finish within {secs}s (the host answers, a command \
                 on it hangs: a hung disk or mount?); raise --timeout if it is only slow"
            )),
            e => transport_status(e),
        })?;
    if !out.success() && out.stdout.is_empty() {
        return Err(HostStatus::Failed(format!(
            "probe failed (exit {}): {}",
            out.status,
            out.stderr_str().trim()
        )));
    }
    let mut observed =
        probe::parse(&out.stdout).map_err(|e| HostStatus::Failed(format!("probe output: {e}")))?;
    if w.extra.supervisor {
        fetch_processes(t, r, &mut observed, backend)?;
    }
    Ok(observed)
}

/// supervisord's process list, through its socket (XML-RPC over the SSH connection), or with
/// one `supervisorctl status` where the socket cannot be used (said in `notes`).
fn fetch_processes(
    t: &mut dyn Transport,
    r: &mut HostReport,
    observed: &mut Observed,
    backend: &mut Option<Backend>,
) -> Result<(), HostStatus> {
    let Some(conf) = observed.supervisor_conf.clone() else {
        return Ok(()); // not installed: the plan says so
    };
    if backend.is_none() {
        match observed.supervisor_socket.clone() {
            Some(socket) => {
                let mut c = Client::new(
                    t,
                    Backend::XmlRpc {
                        socket: socket.clone(),
                    },
                );
                let res = c.processes();
                r.round_trips += c.calls;
                match res {
                    Ok(procs) => {
                        *backend = Some(c.backend);
                        observed.processes = Some(procs);
                        return Ok(());
                    }
                    Err(e) => r.notes.push(format!(
                        "supervisord's socket {socket} cannot be used through SSH ({e}); using supervisorctl instead (slower)"
                    )),
                }
            }
            None => r.notes.push(format!(
                "{conf} has no [unix_http_server] socket; using supervisorctl (slower)"
            )),
        }
        *backend = Some(Backend::Ctl { conf });
    }
    let Some(b) = backend.clone() else {
        return Ok(());
    };
    let mut c = Client::new(t, b);
    let res = c.processes();
    r.round_trips += c.calls;
    observed.processes = Some(res.map_err(|e| HostStatus::Failed(e.to_string()))?);
    Ok(())
}

/// A host's plan: the changes to show, and the work on its processes.
#[derive(Debug, Clone, Default)]
struct HostPlan {
    changes: Vec<Change>,
    unchanged: usize,
    /// By resource index.
    programs: BTreeMap<usize, SupervisorOp>,
    services: BTreeMap<usize, UnitOp>,
    restarts: restarts::RestartPlan,
    daemon_reload: bool,
    /// The owed-restarts list to record before applying, when it differs from the host's.
    record: Option<Vec<resources::OwedRestart>>,
    /// The work of the changes of the kinds of `resources::deploy`, by resource index.
    work: BTreeMap<usize, Work>,
    /// Checks (`command:` with `changed: false`): run on apply, never changes.
    checks: Vec<Change>,
}

/// Folders systemd loads unit files from: a file written there calls for a daemon-reload.
const UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system/",
    "/lib/systemd/system/",
    "/usr/lib/systemd/system/",
];

/// Plans every resource (a resource the host's state forbids fails the host), then the
/// restarts and reloads.
fn plan_host(resources: &[Resource], observed: &Observed) -> Result<HostPlan, HostStatus> {
    let fail = |e: resources::PlanError, res: &Resource| {
        HostStatus::Failed(format!("{e} (declared at {})", res.origin))
    };
    let mut p = HostPlan::default();
    let mut edited: Option<Observed> = None;
    for (i, res) in resources.iter().enumerate() {
        if res.desired.runs_on_change() {
            continue; // once the others' changes are known
        }
        match res.desired.kind() {
            kind if kind.def().plug == resources::registry::Plug::Path => {
                let before: Vec<&str> = p.changes.iter().map(|c| c.key.as_str()).collect();
                if let Some(c) =
                    resources::plan_after(i, res, observed, &before).map_err(|e| fail(e, res))?
                {
                    p.changes.push(c);
                }
            }
            // Processes below.
            _ if res.desired.process().is_some() => {}
            _ => {
                // Edits of one file (`Spec::shares_file`) chain: each plans from the content
                // the earlier ones leave.
                let seen = edited.as_ref().unwrap_or(observed);
                // fetch kinds: a venv's requirements file in a tree changed before it
                let before: Vec<String> = p.changes.iter().map(|c| c.key.clone()).collect();
                let before: Vec<&str> = before.iter().map(String::as_str).collect();
                if let Some((c, w)) =
                    deploy::plan(i, res, seen, &before).map_err(|e| fail(e, res))?
                {
                    if let Some((path, new)) = res.desired.edited_file(&w) {
                        edited
                            .get_or_insert_with(|| observed.clone())
                            .deploy
                            .files
                            .insert(
                                path.to_string(),
                                resources::edit::FileSeen::File(new.to_vec()),
                            );
                    }
                    p.changes.push(c);
                    p.work.insert(i, w);
                }
            }
        }
    }
    let unit_files_changing = p
        .changes
        .iter()
        .any(|c| UNIT_DIRS.iter().any(|d| c.key.starts_with(d)));
    for (i, res) in resources.iter().enumerate() {
        let Some(planned) = res.desired.plan_process(observed, unit_files_changing) else {
            continue;
        };
        let planned = planned.map_err(|e| fail(e, res))?;
        match planned.op {
            ProcessOp::Supervisor(op) => {
                if op != SupervisorOp::None {
                    p.programs.insert(i, op);
                }
            }
            ProcessOp::Systemd(op) => {
                if op.daemon_reload
                    || op.enable.is_some()
                    || op.action != SvcAction::None
                    || op.remove
                {
                    p.services.insert(i, op);
                }
            }
        }
        if let Some(mut c) = planned.change {
            c.index = i;
            c.sensitive = res.sensitive;
            p.changes.push(c);
        }
    }
    // Commands, in order: `on_change` sees the changes planned so far (their own included).
    for (i, res) in resources.iter().enumerate() {
        if !res.desired.runs_on_change() {
            continue;
        }
        let changed: Vec<&str> = p
            .changes
            .iter()
            .filter(|c| c.kind.watchable())
            .map(|c| c.key.as_str())
            .collect();
        if let Some((c, w)) = deploy::plan(i, res, observed, &changed).map_err(|e| fail(e, res))? {
            if res.desired.is_check() {
                p.checks.push(c);
            } else {
                p.changes.push(c);
            }
            p.work.insert(i, w);
        }
    }
    tree::mark_after(resources, &mut p.changes);
    p.restarts = restarts::plan(
        resources,
        &mut p.changes,
        &mut p.programs,
        &mut p.services,
        observed,
    );
    let has_services = (resources.iter()).any(|r| {
        r.desired
            .process()
            .is_some_and(|p| p.owed == OwedKind::Systemd)
    });
    p.daemon_reload = p.services.values().any(|o| o.daemon_reload)
        || (unit_files_changing && has_services && observed.systemd);
    // Parents no one declared count only when they change.
    let implied = resources.iter().filter(|r| tree::is_implied(r)).count();
    let implied_changes = p
        .changes
        .iter()
        .filter(|c| tree::is_implied(&resources[c.index]))
        .count();
    p.unchanged = (resources.len() - implied).saturating_sub(p.changes.len() - implied_changes);
    let old = observed.owed.clone().unwrap_or_default();
    let record = restarts::merge(&old, &p.restarts, &BTreeSet::new());
    if record != old {
        p.record = Some(record);
    }
    Ok(p)
}

fn is_text(b: &[u8]) -> bool {
    !b.contains(&0) && std::str::from_utf8(b).is_ok()
}

/// Sets where each program's conf file goes on this host (its supervisord.conf's
/// `[include]`, see `Spec::place_file`). The host fails when that cannot be known, when
/// the folder does not exist (and no `directory:` of the run makes it), or when another
/// resource declares that path.
/// The `name:` of each resource declared with one, by index; a folder planned as a missing
/// parent has none (it carries the origin of the resource below it).
fn resource_names(pb: &Playbook, resources: &[Resource]) -> BTreeMap<usize, String> {
    let named: BTreeMap<String, &str> = pb
        .plays
        .iter()
        .flat_map(|p| p.state.iter().chain(p.roles.iter().flat_map(|r| &r.state)))
        .filter_map(|e| Some((e.origin.to_string(), e.raw.name.as_deref()?)))
        .collect();
    resources
        .iter()
        .enumerate()
        .filter(|(_, r)| !tree::is_implied(r))
        .filter_map(|(i, r)| Some((i, named.get(&r.origin.to_string())?.to_string())))
        .collect()
}

/// The `name:` of the play of each resource whose play has one, by index (a folder planned as
/// a missing parent too: it carries the origin of the resource below it).
fn resource_plays(pb: &Playbook, resources: &[Resource]) -> BTreeMap<usize, String> {
    let named: BTreeMap<String, &str> = (pb.plays.iter().filter(|p| p.named))
        .flat_map(|p| {
            (p.state.iter().chain(p.roles.iter().flat_map(|r| &r.state)))
                .map(move |e| (e.origin.to_string(), p.name.as_str()))
        })
        .collect();
    (resources.iter().enumerate())
        .filter_map(|(i, r)| Some((i, named.get(&r.origin.to_string())?.to_string())))
        .collect()
}

fn locate_confs(resources: &mut [Resource], observed: &Observed) -> Result<(), HostStatus> {
    let declared: Vec<(Kind, String, resources::Origin)> = resources
        .iter()
        .filter(|r| r.desired.kind().is_path())
        .map(|r| {
            (
                r.desired.kind(),
                r.desired.key().to_string(),
                r.origin.clone(),
            )
        })
        .collect();
    // Folders that a present `directory:` of the run makes.
    let folders: Vec<String> = (resources.iter())
        .filter_map(|r| r.desired.made_folder().map(str::to_string))
        .collect();
    for res in resources.iter_mut() {
        let Some(placed) = res.desired.place_file(observed) else {
            continue;
        };
        let fail = |e: String| {
            HostStatus::Failed(format!(
                "{} {}: {e} (declared at {})",
                res.desired.kind(),
                res.desired.key(),
                res.origin
            ))
        };
        let (path, needs_folder) = placed.map_err(fail)?;
        if let Some((_, _, at)) = declared.iter().find(|(_, k, _)| *k == path) {
            return Err(fail(format!(
                "its conf file {path} is also declared at {at}"
            )));
        }
        let dir = deploy::split_path(&path).0;
        let dir_made = folders.contains(&dir);
        if needs_folder
            && matches!(observed.path(&path).kind, PathKind::Missing)
            && !matches!(observed.path(&dir).kind, PathKind::Directory { .. })
            && !dir_made
        {
            return Err(fail(format!(
                "the folder {dir} that supervisord includes conf files from does not exist \
                 (declare it with `directory: {dir}`)"
            )));
        }
        res.desired.set_file_place(path);
    }
    Ok(())
}

/// Fetches old contents of changed text files (one round trip) so diffs can be shown.
fn fetch_old(
    t: &mut dyn Transport,
    r: &mut HostReport,
    changes: &mut [Change],
    observed: &Observed,
) -> Result<(), HostStatus> {
    const MAX: u64 = 1 << 20;
    let wanted: Vec<String> = changes
        .iter()
        .filter(|c| !c.sensitive)
        .filter_map(|c| {
            let cc = c.content.as_ref()?;
            let path = cc.path.clone();
            let have = observed.paths.get(&path)?;
            match have.kind {
                PathKind::File { size, .. } if size <= MAX && is_text(&cc.new) => Some(path),
                _ => None,
            }
        })
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let (cmd, stdin) = probe::fetch_command(&wanted);
    let out = exec(t, r, &cmd, &stdin)?;
    let mut got = probe::parse_fetch(&out.stdout)
        .map_err(|e| HostStatus::Failed(format!("fetching old contents: {e}")))?;
    for cc in changes.iter_mut().filter_map(|c| c.content.as_mut()) {
        match got.remove(&cc.path) {
            Some(Ok(old)) => cc.old = Some(old),
            Some(Err(why)) => cc.old_unread = Some(why),
            None => {}
        }
    }
    Ok(())
}

/// Fails the host when a change names a user or group that the host lacks and the run does
/// not create (a plan error, before anything is applied). One round trip, only when a change
/// names an account no probed path is owned by.
fn check_accounts(
    t: &mut dyn Transport,
    r: &mut HostReport,
    resources: &[Resource],
    observed: &Observed,
) -> Result<(), HostStatus> {
    let unknown = accounts::unknown(resources, &r.changes, observed);
    if unknown.is_empty() {
        return Ok(());
    }
    let out = exec(t, r, &accounts::script(&unknown), b"")?;
    let missing = accounts::parse(&out.stdout).ok_or_else(|| {
        HostStatus::Failed(format!(
            "checking users and groups: unexpected output (exit {}): {}",
            out.status,
            out.stderr_str().trim()
        ))
    })?;
    let problems: Vec<String> = r
        .changes
        .iter()
        .filter_map(|c| accounts::problem(resources.get(c.index)?, &missing))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(HostStatus::Failed(problems.join("\n")))
    }
}

/// Indexes of the changes an apply script confirmed (its owed-restarts record step aside).
fn confirmed(outcome: &apply::ApplyOutcome) -> Vec<usize> {
    outcome
        .done
        .iter()
        .copied()
        .filter(|i| *i != apply::RECORD_STEP)
        .collect()
}

/// The owed-restart identity of a program or service resource.
fn process_id(d: &Desired) -> Option<restarts::ProcessId> {
    d.process().map(|p| (p.owed, p.name.to_string()))
}

/// `apply --plan`: refuses the host (nothing applied) unless its fresh plan, with what each
/// change depends on, is exactly the saved one.
fn check_expected(host: &Host, opts: &RunOptions, r: &HostReport) -> Result<(), HostStatus> {
    let Some(expected) = &opts.expected else {
        return Ok(());
    };
    if opts.mode != Mode::Apply {
        return Ok(());
    }
    let red = crate::report::redact::Redactor::current();
    let saved = match expected.hosts.get(&host.name) {
        Some(planfile::HostExpectation::Changes(c)) => c,
        Some(planfile::HostExpectation::NotPlanned(why)) => {
            return Err(HostStatus::Failed(format!(
                "refused: plan {} has no changes for this host ({why}); nothing was changed",
                expected.plan_id
            )))
        }
        None => {
            return Err(HostStatus::Failed(format!(
                "refused: host not in plan {}; nothing was changed",
                expected.plan_id
            )))
        }
    };
    let fresh = planfile::normalize(&r.prints, &red, &expected.salt);
    let why = planfile::compare(saved, &fresh);
    if why.is_empty() {
        return Ok(());
    }
    Err(HostStatus::Failed(format!(
        "stale: the host changed since plan {} was made; refused, nothing was changed. \
         Resources that differ:\n  {}",
        expected.plan_id,
        why.join("\n  ")
    )))
}

fn host_pipeline(
    resolver: &Resolver,
    host: &Host,
    t: &mut dyn Transport,
    opts: &RunOptions,
    r: &mut HostReport,
) -> Result<(), HostStatus> {
    let fail = |e: ResolveError| HostStatus::Failed(e.to_string());
    let mut backend: Option<Backend> = None;
    // 1. One probe: facts plus every path, program and unit known before facts.
    let targets = resolver.probe_targets(host).map_err(fail)?;
    let mut first = Wants::of(targets.paths.iter().map(|(k, p)| (*k, p.as_str())));
    let named = resolver.named_facts();
    first.extra.net = named.net;
    first.extra.env = named.env;
    for res in &targets.rendered {
        first.add_rendered(&res.desired);
    }
    // The gathered commands run in this same probe (rendered with vars only).
    let gathers = resolver.gathers(host).map_err(fail)?;
    first.extra.gathers = crate::resolve::gather::commands(&gathers);
    // The folders above every path: missing parents are planned from this same probe.
    first.add_parents(
        targets
            .paths
            .iter()
            .filter(|(k, _)| k.is_path())
            .map(|(_, p)| p.as_str())
            .chain(tree::written_paths(&targets.rendered)),
    );
    let mut observed = probe(t, r, &first, &mut backend)?;
    observed.facts.gathered = crate::resolve::gather::values(&gathers, &observed.gathered)
        .map_err(|e| HostStatus::Failed(format!("probe output: {e}")))?;
    r.facts = Some(observed.facts.clone());
    // 2. Render with the real facts.
    let resources = tree::with_parents(resolver.resources(host, &observed.facts).map_err(fail)?);
    // 3. What needs a second look: fact-dependent resources.
    let wanted = Wants::for_resources(&resources);
    let missing = wanted.minus(&first);
    if !missing.is_empty() {
        let more = probe(t, r, &missing, &mut backend)?;
        merge_observed(&mut observed, more);
    }
    // 4. Plan.
    let mut resources = resources;
    r.names = resource_names(resolver.playbook, &resources);
    r.plays = resource_plays(resolver.playbook, &resources);
    locate_confs(&mut resources, &observed)?;
    let mut plan = plan_host(&resources, &observed)?;
    let mut changes = plan.changes.clone();
    r.unchanged = plan.unchanged;
    if opts.want_diffs && !changes.is_empty() {
        fetch_old(t, r, &mut changes, &observed)?;
    }
    r.changes = changes;
    r.checks = plan.checks.clone();
    if gathers.iter().any(|g| !g.local) && !r.changes.is_empty() {
        let names: Vec<&str> = (gathers.iter().filter(|g| !g.local))
            .map(|g| g.name.as_str())
            .collect();
        r.notes.push(format!(
            "{GATHERED_NOTE} ({}): what this run changes, they show on the next run",
            names.join(", ")
        ));
    }
    check_accounts(t, r, &resources, &observed)?;
    if opts.mode == Mode::Diff || opts.expected.is_some() {
        r.prints = planfile::prints(&resources, &plan.changes, &observed);
        check_expected(host, opts, r)?;
    }
    let temps = lock::leftover_temps(
        &observed.temps,
        first
            .paths
            .iter()
            .chain(wanted.paths.iter())
            .map(|(p, _)| p.as_str())
            .chain(resources.iter().filter_map(|r| r.desired.placed_file())),
    );
    if opts.mode == Mode::Diff || (r.changes.is_empty() && r.checks.is_empty() && temps.is_empty())
    {
        return Ok(());
    }
    if interrupted() {
        return Err(HostStatus::NotRun(
            "interrupted (Ctrl-C) before applying: nothing was changed on this host".into(),
        ));
    }
    // 5. The host's apply lock (held until this function returns). If another apply may have
    // run since the probe, probe and plan again under the lock.
    let held = lock::acquire(
        t,
        &lock::Owner::current(),
        opts.lock_timeout,
        &temps,
        &mut r.notes,
    )?;
    if !held.unchanged_since(observed.lock.as_deref()) {
        r.notes
            .push("another apply ran since the probe: probed again under the lock".into());
        observed = probe(t, r, &wanted, &mut backend)?;
        locate_confs(&mut resources, &observed)?;
        plan = plan_host(&resources, &observed)?;
        let mut changes = plan.changes.clone();
        r.unchanged = plan.unchanged;
        if opts.want_diffs && !changes.is_empty() {
            fetch_old(t, r, &mut changes, &observed)?;
        }
        r.changes = changes;
        r.checks = plan.checks.clone();
        if opts.expected.is_some() {
            r.prints = planfile::prints(&resources, &plan.changes, &observed);
            check_expected(host, opts, r)?;
        }
    }
    if r.changes.is_empty() && r.checks.is_empty() {
        return Ok(());
    }
    // The report holds the changes and checks from here on: free the plan's copies (with
    // their contents) before the apply round trip, where every host of the run waits at once.
    plan.changes = Vec::new();
    plan.checks = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    // 6. The owed-restarts record, then files in declared order, in one round trip.
    let old_owed = observed.owed.clone().unwrap_or_default();
    // Checks run among the changes, in declared order.
    let mut steps: Vec<(&Change, &Resource)> = r
        .changes
        .iter()
        .filter(|c| apply::writes_files(c))
        .chain(&r.checks)
        .map(|c| (c, &resources[c.index]))
        .collect();
    steps.sort_by_key(|(c, _)| c.index);
    let check_steps: BTreeSet<usize> = r.checks.iter().map(|c| c.index).collect();
    let record = plan.record.as_ref().map(|o| {
        if o.is_empty() {
            Vec::new()
        } else {
            encode_owed(o)
        }
    });
    if !steps.is_empty() || record.is_some() {
        let (body, stdin) = apply::script_full(record.as_deref(), &steps, &plan.work);
        // Under the lock no other apply runs on this host: temp files left in root's private
        // folder by a killed script go. (One copy of the script is kept while it runs.)
        let mut script = lock::register_inflight();
        script.reserve_exact(apply::CLEAN_PRIVATE_TEMPS.len() + body.len());
        script.push_str(apply::CLEAN_PRIVATE_TEMPS);
        script.push_str(&body);
        drop(body);
        r.round_trips += 1;
        let out = match t.exec(&script, &stdin) {
            Ok(out) => out,
            Err(TransportError::Lost { source, stdout }) => {
                // Say which steps the host confirmed before the session broke.
                r.applied = confirmed(&apply::parse(&stdout, &[], -1));
                r.applied.retain(|i| !check_steps.contains(i));
                return Err(HostStatus::Unreachable(format!(
                    "{source}\nthe session broke during apply: {} of {} change(s) confirmed \
                     applied; the others did not land or were not confirmed (every file is \
                     whole old or whole new; the next run converges)",
                    r.applied.len(),
                    steps.len() - check_steps.len()
                )));
            }
            Err(e) => return Err(transport_status(e)),
        };
        let outcome = apply::parse(&out.stdout, &out.stderr, out.status);
        r.applied = confirmed(&outcome);
        r.applied.retain(|i| !check_steps.contains(i));
        let what = |idx: usize| {
            if idx == apply::RECORD_STEP {
                format!("recording owed restarts in {}", resources::OWED_STATE_FILE)
            } else {
                r.changes
                    .iter()
                    .chain(&r.checks)
                    .find(|c| c.index == idx)
                    .map(|c| format!("{} {}", c.kind, c.key))
                    .unwrap_or_else(|| "apply".into())
            }
        };
        if let Some((idx, msg)) = &outcome.failed {
            return Err(HostStatus::Failed(format!(
                "{}: {}",
                what(*idx),
                msg.trim()
            )));
        }
        // Steps whose target changed since the plan were skipped; the host fails once the
        // rest is done.
        failures.extend(
            outcome
                .stale
                .iter()
                .map(|(idx, msg)| format!("{}: {}", what(*idx), msg.trim())),
        );
    }
    let on_host = plan.record.clone().unwrap_or_else(|| old_owed.clone());
    // 7. Processes: supervisord, then systemd.
    let mut done: BTreeSet<restarts::ProcessId> = BTreeSet::new();
    if !plan.programs.is_empty() {
        let ops: BTreeMap<String, SupervisorOp> = plan
            .programs
            .iter()
            .map(|(i, op)| (resources[*i].desired.key().to_string(), *op))
            .collect();
        match backend.clone() {
            None => failures.push("supervisord: not reachable (internal error)".into()),
            Some(b) => {
                let mut c = Client::new(t, b);
                let res = processes::supervisor(
                    &mut c,
                    &ops,
                    observed.processes.as_deref().unwrap_or(&[]),
                );
                r.round_trips += c.calls;
                match res {
                    Ok(o) => {
                        done.extend(o.ok.into_iter().map(|n| (OwedKind::Supervisor, n)));
                        failures.extend(o.failed);
                    }
                    Err(SupervisorError::Transport(e @ TransportError::Lost { .. })) => {
                        return Err(HostStatus::Unreachable(format!(
                            "{e}\nthe session broke during the supervisor step: the files were \
                             applied; restarts still owed are recorded on the host"
                        )));
                    }
                    Err(e) => failures.push(e.to_string()),
                }
            }
        }
    }
    if !plan.services.is_empty() || plan.daemon_reload {
        let ops: Vec<(String, UnitOp)> = plan
            .services
            .iter()
            .map(|(i, op)| (resources[*i].desired.key().to_string(), *op))
            .collect();
        let res = processes::services(t, &ops, plan.daemon_reload).map_err(transport_status)?;
        r.round_trips += res.calls;
        done.extend(res.ok.into_iter().map(|n| (OwedKind::Systemd, n)));
        failures.extend(res.failed);
    }
    for c in &r.changes {
        if apply::writes_files(c) {
            continue;
        }
        if process_id(&resources[c.index].desired).is_some_and(|id| done.contains(&id)) {
            r.applied.push(c.index);
        }
    }
    r.applied.sort_unstable();
    r.applied.dedup();
    // 8. Clear the owed restarts that were done.
    let left = restarts::merge(&old_owed, &plan.restarts, &done);
    if left != on_host {
        let bytes = if left.is_empty() {
            Vec::new()
        } else {
            encode_owed(&left)
        };
        let (script, stdin) = apply::record_script(&bytes);
        let out = exec(t, r, &script, &stdin)?;
        if let Some((_, msg)) = apply::parse(&out.stdout, &out.stderr, out.status).failed {
            failures.push(format!(
                "clearing done restarts from {}: {}",
                resources::OWED_STATE_FILE,
                msg.trim()
            ));
        }
    }
    if !failures.is_empty() {
        return Err(HostStatus::Failed(failures.join("\n")));
    }
    if r.changes.is_empty() {
        // Only checks ran: nothing to verify.
        return Ok(());
    }
    // 9. Verify: re-probe and re-plan; the report must be the truth. A rollback's release is
    // now the one it chose; commands are not re-checked (they ran, or were not due).
    deploy::settle_pins(&mut resources, &plan.work);
    let after = probe(t, r, &Wants::for_resources(&resources), &mut backend)?;
    let left: Vec<Change> = plan_host(&resources, &after)?
        .changes
        .into_iter()
        .filter(|c| (resources.get(c.index)).is_none_or(|r| r.desired.verified_after_apply()))
        .collect();
    if let Some(c) = left.first() {
        let why = if c.details.is_empty() {
            String::new()
        } else {
            format!(": {}", c.details.join(", "))
        };
        return Err(HostStatus::Failed(format!(
            "{} {} did not converge after apply{why} ({} change(s) still pending)",
            c.kind,
            c.key,
            left.len()
        )));
    }
    Ok(())
}
