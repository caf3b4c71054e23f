//! `play run PATTERN -- COMMAND`: an ad-hoc command on every matching host, in parallel.

use std::time::Instant;

use rayon::prelude::*;

use crate::inventory::{connection_for, ConnectionOverrides, Inventory, InventoryError};
use crate::transport::{self, ExecOutput};

/// What `play run` should do.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub pattern: String,
    pub command: String,
    pub forks: usize,
    pub overrides: ConnectionOverrides,
}

/// How the command went on one host.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// It ran; the exit status tells whether it succeeded.
    Ran(ExecOutput),
    /// Could not connect or log in.
    Unreachable(String),
    /// Connected, but running failed (sudo wants a password, session died, ...).
    Error(String),
}

/// One host's result.
#[derive(Debug, Clone)]
pub struct HostRun {
    pub host: String,
    pub outcome: Outcome,
    pub seconds: f64,
}

impl HostRun {
    pub fn ok(&self) -> bool {
        matches!(&self.outcome, Outcome::Ran(o) if o.success())
    }
}

/// Builds a thread pool of `forks` threads (at least 1).
pub fn pool(forks: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(forks.max(1))
        .thread_name(|i| format!("play-fork-{i}"))
        .build()
        .unwrap_or_else(|_| {
            // Building a pool only fails when threads cannot be spawned at all; fall back to one.
            rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .expect("cannot start even one worker thread")
        })
}

/// Runs the command on every matching host; results come back in inventory order.
pub fn run(inv: &Inventory, req: &RunRequest) -> Result<Vec<HostRun>, InventoryError> {
    let hosts = inv.select(&req.pattern)?;
    if hosts.is_empty() {
        return Err(InventoryError::Pattern {
            pattern: req.pattern.clone(),
            message: "matches no host".into(),
        });
    }
    let opts = hosts
        .iter()
        .map(|h| connection_for(h, &req.overrides))
        .collect::<Result<Vec<_>, _>>()?;
    let results = pool(req.forks).install(|| {
        opts.par_iter()
            .map(|o| {
                let start = Instant::now();
                let outcome = match transport::connect(o) {
                    Err(e) => Outcome::Unreachable(e.to_string()),
                    Ok(mut t) => {
                        let r = match t.exec(&req.command, b"") {
                            Ok(out) => Outcome::Ran(out),
                            Err(e) if e.is_unreachable() => Outcome::Unreachable(e.to_string()),
                            Err(e) => Outcome::Error(e.to_string()),
                        };
                        t.close();
                        r
                    }
                };
                HostRun {
                    host: o.name.clone(),
                    outcome,
                    seconds: start.elapsed().as_secs_f64(),
                }
            })
            .collect()
    });
    Ok(results)
}
