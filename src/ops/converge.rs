//! `play apply` and `play diff`: load, run the engine with a progress line, report.

use std::path::Path;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::{self, Mode, RunError, RunOptions, RunReport};
use crate::inventory::{self, Inventory, Vars};
use crate::playbook::{self, PlaybookError};
use crate::report::redact::Redactor;

/// Why a converge run could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConvergeError {
    #[error(transparent)]
    Playbook(#[from] PlaybookError),
    #[error(transparent)]
    Inventory(#[from] inventory::InventoryError),
    #[error(transparent)]
    Run(#[from] RunError),
}

/// Loads the playbook and runs it on its hosts (a progress line on stderr when it is a tty).
///
/// The report comes back redacted ([`Redactor::report`]): changes whose content holds a secret
/// value are sensitive, sensitive contents are dropped, secret values are masked everywhere.
pub fn converge(
    playbook: &Path,
    inv: &Inventory,
    extra_vars: &Vars,
    opts: &RunOptions,
) -> Result<RunReport, ConvergeError> {
    let pb = playbook::load(playbook)?;
    let n = engine::target_hosts(&pb, inv, opts.limit.as_deref())?.len();
    let bar = ProgressBar::with_draw_target(Some(n as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{pos}/{len} hosts] {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(match opts.mode {
        Mode::Diff => "planning",
        Mode::Apply => "applying",
    });
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let report = engine::run(&pb, inv, extra_vars, opts, &|h| {
        bar.set_message(format!("{} done", h.host));
        bar.inc(1);
    });
    bar.finish_and_clear();
    Ok(Redactor::current().report(&report?))
}
