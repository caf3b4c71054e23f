//! After a host's files are written: supervisor programs, then systemd services.
//!
//! Supervisor, for all programs of the host at once (never one request per program):
//! 1. one `reloadConfig` (supervisord re-reads its conf files; nothing changes yet);
//! 2. stop (without waiting) the groups that must stop: removed, changed, `state: stopped`,
//!    restarted; then wait for them;
//! 3. `removeProcessGroup` for the removed and changed groups, `addProcessGroup` for the changed
//!    and new ones (a changed group is thereby restarted with its new config);
//! 4. start (without waiting) every program that must run;
//! 5. poll `getAllProcessInfo` until none of them is STARTING/BACKOFF/STOPPING; a program that
//!    is not RUNNING then fails the host with the last lines of its stderr log.
//!
//! Services: one script ([`apply::services_script`]): `daemon-reload` when needed, enable,
//! disable, stop, start, restarts and reloads (one `systemctl` per verb), then a check of the
//! units that must run, with journal tails for those that do not.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::apply;
use crate::supervisor::{
    last_lines, Client, ProcState, ProcessStatus, SupervisorError, SupervisorOp,
};
use crate::systemd::{SvcAction, UnitOp};
use crate::transport::Transport;

/// How long programs may take to settle (start, or stop) before the host fails.
const SETTLE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(200);
/// Lines of a log or journal shown for a process that failed.
pub const TAIL_LINES: usize = 12;

/// What the supervisor phase did.
#[derive(Debug, Default)]
pub struct SupervisorOutcome {
    /// Programs whose work succeeded.
    pub ok: BTreeSet<String>,
    /// Why the others failed (one message per program).
    pub failed: Vec<String>,
}

fn procs_of<'a>(
    procs: &'a [ProcessStatus],
    group: &'a str,
) -> impl Iterator<Item = &'a ProcessStatus> {
    procs.iter().filter(move |p| p.group == group)
}

/// Waits until no process of `groups` is in a transient state (or the deadline passes).
fn settle(
    client: &mut Client,
    groups: &BTreeSet<String>,
    still: impl Fn(&ProcessStatus) -> bool,
) -> Result<Vec<ProcessStatus>, SupervisorError> {
    let start = Instant::now();
    loop {
        let procs = client.processes()?;
        let busy = procs.iter().any(|p| groups.contains(&p.group) && still(p));
        if !busy || start.elapsed() >= SETTLE {
            return Ok(procs);
        }
        std::thread::sleep(POLL);
    }
}

/// Runs the programs' work (`ops` by program name). `before`: the process list of the probe.
pub fn supervisor(
    client: &mut Client,
    ops: &BTreeMap<String, SupervisorOp>,
    before: &[ProcessStatus],
) -> Result<SupervisorOutcome, SupervisorError> {
    let mut out = SupervisorOutcome::default();
    // Programs without work are left alone, even when their config changed on the host.
    let ops: BTreeMap<String, SupervisorOp> = ops
        .iter()
        .filter(|(_, op)| **op != SupervisorOp::None)
        .map(|(n, op)| (n.clone(), *op))
        .collect();
    if ops.is_empty() {
        return Ok(out);
    }
    let ours = |names: Vec<String>| -> BTreeSet<String> {
        names.into_iter().filter(|n| ops.contains_key(n)).collect()
    };
    let diff = client.reload()?;
    let (added, changed, removed) = (ours(diff.added), ours(diff.changed), ours(diff.removed));
    let loaded: BTreeSet<String> = before.iter().map(|p| p.group.clone()).collect();
    let up =
        |g: &str| procs_of(before, g).any(|p| p.state.is_up() || p.state == ProcState::Stopping);

    // 1. Stops.
    let mut stop: BTreeSet<String> = BTreeSet::new();
    for (name, op) in &ops {
        let wanted = match op {
            SupervisorOp::Remove | SupervisorOp::Stop { .. } => true,
            SupervisorOp::Run { restart, .. } => {
                changed.contains(name) || removed.contains(name) || *restart
            }
            SupervisorOp::None => false,
        };
        if (wanted || changed.contains(name) || removed.contains(name)) && up(name) {
            stop.insert(name.clone());
        }
    }
    if !stop.is_empty() {
        client.stop(&stop.iter().cloned().collect::<Vec<_>>())?;
        settle(client, &stop, |p| {
            p.state.is_up() || p.state == ProcState::Stopping
        })?;
    }

    // 2. Unload and load groups.
    let remove: Vec<String> = ops
        .iter()
        .filter(|(n, _)| loaded.contains(*n) && (changed.contains(*n) || removed.contains(*n)))
        .map(|(n, _)| n.clone())
        .collect();
    client.remove(&remove)?;
    let add: Vec<String> = ops
        .iter()
        .filter(|(n, op)| {
            matches!(op, SupervisorOp::Run { .. } | SupervisorOp::Stop { .. })
                && (changed.contains(*n) || added.contains(*n))
        })
        .map(|(n, _)| n.clone())
        .collect();
    client.add(&add)?;

    // 3. Starts (and stops of freshly added programs that autostart against `state: stopped`).
    let run: BTreeSet<String> = ops
        .iter()
        .filter(|(_, op)| matches!(op, SupervisorOp::Run { .. }))
        .map(|(n, _)| n.clone())
        .collect();
    client.start(&run.iter().cloned().collect::<Vec<_>>())?;
    let stop_again: Vec<String> = ops
        .iter()
        .filter(|(n, op)| matches!(op, SupervisorOp::Stop { .. }) && add.contains(n))
        .map(|(n, _)| n.clone())
        .collect();
    client.stop(&stop_again)?;

    // 4. Wait, then judge.
    let watched: BTreeSet<String> = ops
        .iter()
        .filter(|(_, op)| **op != SupervisorOp::None)
        .map(|(n, _)| n.clone())
        .collect();
    let after = settle(client, &watched, |p| p.state.is_transient())?;
    for (name, op) in &ops {
        let procs: Vec<&ProcessStatus> = procs_of(&after, name).collect();
        let problem = match op {
            SupervisorOp::None => continue,
            SupervisorOp::Run { .. } if procs.is_empty() => {
                Some("not loaded by supervisord after the update".to_string())
            }
            SupervisorOp::Run { .. } => procs
                .iter()
                .find(|p| p.state != ProcState::Running)
                .map(|p| describe(p)),
            SupervisorOp::Stop { .. } => procs
                .iter()
                .find(|p| p.state.is_up() || p.state == ProcState::Stopping)
                .map(|p| format!("{} did not stop ({})", p.namespec(), p.state)),
            SupervisorOp::Remove => {
                (!procs.is_empty()).then(|| "still loaded after removal".into())
            }
        };
        match problem {
            None => {
                out.ok.insert(name.clone());
            }
            Some(msg) => {
                let mut text = format!("program {name}: {msg}");
                // The stderr log of the first process that is not running.
                if let Some(p) = procs.iter().find(|p| p.state != ProcState::Running) {
                    if matches!(op, SupervisorOp::Run { .. }) {
                        match client.stderr_tail(&p.namespec(), 4096) {
                            Ok(log) => {
                                let lines = last_lines(&log, TAIL_LINES);
                                if lines.is_empty() {
                                    text.push_str("\n  (its stderr log is empty)");
                                } else {
                                    text.push_str("\n  last lines of its stderr log:");
                                    for l in lines {
                                        text.push_str("\n  | ");
                                        text.push_str(&l);
                                    }
                                }
                            }
                            Err(e) => text.push_str(&format!("\n  (stderr log unavailable: {e})")),
                        }
                    }
                }
                out.failed.push(text);
            }
        }
    }
    Ok(out)
}

fn describe(p: &ProcessStatus) -> String {
    let mut s = format!("{} is {}", p.namespec(), p.state);
    if p.state.is_transient() {
        s.push_str(&format!(" after {}s", SETTLE.as_secs()));
    }
    if !p.description.is_empty() {
        s.push_str(&format!(" ({})", p.description));
    }
    s
}

/// What the services phase did.
#[derive(Debug, Default)]
pub struct ServicesResult {
    /// Units whose work succeeded.
    pub ok: BTreeSet<String>,
    pub failed: Vec<String>,
    /// Requests made.
    pub calls: usize,
}

/// Runs the services' work in one script.
pub fn services(
    t: &mut dyn Transport,
    ops: &[(String, UnitOp)],
    daemon_reload: bool,
) -> Result<ServicesResult, crate::transport::TransportError> {
    let mut res = ServicesResult {
        // Units with nothing to do are done; the others once their work succeeded.
        ok: ops
            .iter()
            .filter(|(_, o)| o.enable.is_none() && o.action == SvcAction::None && !o.remove)
            .map(|(n, _)| n.clone())
            .collect(),
        ..Default::default()
    };
    let busy: Vec<(&str, UnitOp)> = ops
        .iter()
        .filter(|(_, o)| o.enable.is_some() || o.action != SvcAction::None || o.remove)
        .map(|(n, o)| (n.as_str(), *o))
        .collect();
    if busy.is_empty() && !daemon_reload {
        return Ok(res);
    }
    let script = apply::services_script(&busy, daemon_reload);
    res.calls += 1;
    let out = t.exec(&script, b"")?;
    let o = apply::parse_services(&out.stdout, &out.stderr, out.status);
    let mut bad: BTreeSet<String> = BTreeSet::new();
    for (verb, text) in &o.failed_calls {
        let units: Vec<&str> = busy
            .iter()
            .filter(|(_, op)| {
                (verb == "enable" && op.enable == Some(true))
                    || (verb == "disable" && op.enable == Some(false))
                    || op.action.verb() == Some(verb.as_str())
                    || (verb == "remove" && op.remove)
                    || verb == "daemon-reload"
            })
            .map(|(n, _)| *n)
            .collect();
        bad.extend(units.iter().map(|u| u.to_string()));
        let lines = last_lines(text, TAIL_LINES);
        res.failed.push(format!(
            "systemctl {verb} {} failed{}{}",
            units.join(" "),
            if lines.is_empty() { "" } else { ":\n  | " },
            lines.join("\n  | ")
        ));
    }
    for (unit, state) in o.not_running() {
        bad.insert(unit.clone());
        let journal = o
            .journals
            .iter()
            .find(|(u, _)| u == unit)
            .map(|(_, j)| last_lines(j, TAIL_LINES))
            .unwrap_or_default();
        let mut msg = format!("service {unit} is not running ({state}) after start");
        if journal.is_empty() {
            msg.push_str("\n  (no journal lines)");
        } else {
            msg.push_str("\n  last lines of its journal:");
            for l in journal {
                msg.push_str("\n  | ");
                msg.push_str(&l);
            }
        }
        res.failed.push(msg);
    }
    if let Some(why) = &o.incomplete {
        res.failed.push(why.clone());
        bad.extend(busy.iter().map(|(n, _)| n.to_string()));
    }
    if o.incomplete.is_none() && o.failed_calls.iter().any(|(v, _)| v == "daemon-reload") {
        bad.extend(ops.iter().map(|(n, _)| n.clone()));
    }
    res.ok.extend(
        busy.iter()
            .map(|(n, _)| n.to_string())
            .filter(|n| !bad.contains(n)),
    );
    res.ok.retain(|n| !bad.contains(n));
    Ok(res)
}
