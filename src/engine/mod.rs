//! The engine: per host, connect → probe → resolve → plan → (apply → verify), hosts in parallel.
//!
//! Input errors are found before anything connects: every host's resources are rendered with
//! placeholder facts first. A host that fails stops only that host.

use std::collections::BTreeSet;
use std::time::Instant;

use rayon::prelude::*;

use crate::apply;
use crate::inventory::{
    connection_for, ConnectionOverrides, Host, Inventory, InventoryError, Vars,
};
use crate::playbook::Playbook;
use crate::probe::{self, ProbeRequest};
use crate::resolve::{stub_facts, ResolveError, Resolver};
use crate::resources::{self, Change, Desired, Facts, Observed, PathKind, Resource};
use crate::transport::{self, Transport, TransportError};

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
}

/// One host's result.
#[derive(Debug, Clone)]
pub struct HostReport {
    pub host: String,
    pub status: HostStatus,
    /// Changes planned (diff) or attempted (apply), in order.
    pub changes: Vec<Change>,
    /// Indexes (Change::index) of changes that were applied.
    pub applied: Vec<usize>,
    /// Resources already in their desired state.
    pub unchanged: usize,
    pub facts: Option<Facts>,
    /// Round trips (exec calls) made on the host.
    pub round_trips: usize,
    pub seconds: f64,
}

impl HostReport {
    fn new(host: &str) -> Self {
        HostReport {
            host: host.to_string(),
            status: HostStatus::Ok,
            changes: Vec::new(),
            applied: Vec::new(),
            unchanged: 0,
            facts: None,
            round_trips: 0,
            seconds: 0.0,
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
            resolver
                .resources(h, &stub)
                .and_then(|_| resolver.probe_targets(h))
                .err()
        })
        .collect();
    match errors.into_iter().next() {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
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
    let resolver = Resolver::new(pb, inv, extra_vars);
    let hosts = target_hosts(pb, inv, opts.limit.as_deref())?;
    validate(&resolver, &hosts)?;
    let conns = hosts
        .iter()
        .map(|h| connection_for(h, &opts.overrides))
        .collect::<Result<Vec<_>, _>>()?;
    let reports: Vec<HostReport> = crate::ops::run::pool(opts.forks).install(|| {
        hosts
            .par_iter()
            .zip(conns.par_iter())
            .map(|(h, c)| {
                let t0 = Instant::now();
                let mut report = HostReport::new(&h.name);
                match transport::connect(c) {
                    Err(e) => report.status = HostStatus::Unreachable(e.to_string()),
                    Ok(mut t) => {
                        if let Err(status) =
                            host_pipeline(&resolver, h, t.as_mut(), opts, &mut report)
                        {
                            report.status = status;
                        }
                        t.close();
                    }
                }
                report.seconds = t0.elapsed().as_secs_f64();
                progress(&report);
                report
            })
            .collect()
    });
    Ok(RunReport {
        mode: opts.mode,
        hosts: reports,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// A transport error after connecting means the session is gone (host died, connection cut,
/// host frozen): the host is unreachable. Only sudo refusing is a failure of the host itself.
fn transport_status(e: TransportError) -> HostStatus {
    match e {
        TransportError::SudoPassword { .. } => HostStatus::Failed(e.to_string()),
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

/// Probes `paths` (plus facts) in one round trip.
fn probe_paths(
    t: &mut dyn Transport,
    r: &mut HostReport,
    resources: &[(resources::Kind, String, bool)],
) -> Result<Observed, HostStatus> {
    let req = ProbeRequest {
        paths: resources.iter().map(|(_, p, _)| p.clone()).collect(),
        emptiness: resources
            .iter()
            .filter(|(_, _, e)| *e)
            .map(|(_, p, _)| p.clone())
            .collect(),
    };
    let (cmd, stdin) = probe::command(&req);
    let out = exec(t, r, &cmd, &stdin)?;
    if !out.success() && out.stdout.is_empty() {
        return Err(HostStatus::Failed(format!(
            "probe failed (exit {}): {}",
            out.status,
            out.stderr_str().trim()
        )));
    }
    probe::parse(&out.stdout).map_err(|e| HostStatus::Failed(format!("probe output: {e}")))
}

fn probe_list(resources: &[Resource]) -> Vec<(resources::Kind, String, bool)> {
    resources
        .iter()
        .map(|r| {
            let emptiness = matches!(&r.desired, Desired::Directory(_));
            (r.desired.kind(), r.desired.key().to_string(), emptiness)
        })
        .collect()
}

/// Plans every resource; a resource the host's state forbids fails the host.
fn plan_all(
    resources: &[Resource],
    observed: &Observed,
) -> Result<(Vec<Change>, usize), HostStatus> {
    let mut changes = Vec::new();
    let mut unchanged = 0;
    for (i, res) in resources.iter().enumerate() {
        match resources::plan(i, res, observed) {
            Ok(Some(c)) => changes.push(c),
            Ok(None) => unchanged += 1,
            Err(e) => {
                return Err(HostStatus::Failed(format!(
                    "{e} (declared at {})",
                    res.origin
                )))
            }
        }
    }
    Ok((changes, unchanged))
}

fn is_text(b: &[u8]) -> bool {
    !b.contains(&0) && std::str::from_utf8(b).is_ok()
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
            let have = observed.paths.get(&c.key)?;
            match have.kind {
                PathKind::File { size, .. } if size <= MAX && is_text(&cc.new) => {
                    Some(c.key.clone())
                }
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
    for c in changes.iter_mut() {
        if let (Some(cc), Some(old)) = (c.content.as_mut(), got.remove(&c.key)) {
            cc.old = Some(old);
        }
    }
    Ok(())
}

fn host_pipeline(
    resolver: &Resolver,
    host: &Host,
    t: &mut dyn Transport,
    opts: &RunOptions,
    r: &mut HostReport,
) -> Result<(), HostStatus> {
    let fail = |e: ResolveError| HostStatus::Failed(e.to_string());
    // 1. One probe: facts plus every path known before facts.
    let targets = resolver.probe_targets(host).map_err(fail)?;
    let first: Vec<(resources::Kind, String, bool)> = targets
        .paths
        .iter()
        .map(|(k, p)| (*k, p.clone(), *k == resources::Kind::Directory))
        .collect();
    let mut observed = probe_paths(t, r, &first)?;
    r.facts = Some(observed.facts.clone());
    // 2. Render with the real facts.
    let resources = resolver.resources(host, &observed.facts).map_err(fail)?;
    // 3. Paths that need a second look: fact-dependent ones, and folders whose emptiness matters.
    let wanted = probe_list(&resources);
    let missing: Vec<(resources::Kind, String, bool)> = wanted
        .iter()
        .filter(|(_, p, _)| !first.iter().any(|(_, q, _)| q == p))
        .cloned()
        .collect();
    if !missing.is_empty() {
        let more = probe_paths(t, r, &missing)?;
        observed.paths.extend(more.paths);
    }
    // 4. Plan.
    let (mut changes, unchanged) = plan_all(&resources, &observed)?;
    r.unchanged = unchanged;
    if opts.want_diffs && !changes.is_empty() {
        fetch_old(t, r, &mut changes, &observed)?;
    }
    r.changes = changes;
    if opts.mode == Mode::Diff || r.changes.is_empty() {
        return Ok(());
    }
    // 5. Apply in one round trip, in declared order.
    let steps: Vec<(&Change, &Resource)> =
        r.changes.iter().map(|c| (c, &resources[c.index])).collect();
    let (script, stdin) = apply::script(&steps);
    let out = exec(t, r, &script, &stdin)?;
    let outcome = apply::parse(&out.stdout, &out.stderr, out.status);
    r.applied = outcome.done.clone();
    if let Some((idx, msg)) = outcome.failed {
        let what = r
            .changes
            .iter()
            .find(|c| c.index == idx)
            .map(|c| format!("{} {}", c.kind, c.key))
            .unwrap_or_else(|| "apply".into());
        return Err(HostStatus::Failed(format!("{what}: {}", msg.trim())));
    }
    // 6. Verify: re-probe and re-plan; the report must be the truth.
    let after = probe_paths(t, r, &probe_list(&resources))?;
    let (left, _) = plan_all(&resources, &after)?;
    if let Some(c) = left.first() {
        return Err(HostStatus::Failed(format!(
            "{} {} did not converge after apply ({} change(s) still pending)",
            c.kind,
            c.key,
            left.len()
        )));
    }
    Ok(())
}
