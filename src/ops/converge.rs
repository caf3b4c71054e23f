//! `play apply` and `play diff`: load, run the engine with a progress line, report.

use std::collections::BTreeMap;
use std::path::Path;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::planfile::{self, ChangePrint};
use crate::engine::{self, HostStatus, Mode, RunError, RunOptions, RunReport};
use crate::inventory::{self, Inventory, Vars};
use crate::plan_file::sources::{self, Sources};
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
    #[error(transparent)]
    Sources(#[from] crate::plan_file::sources::SourcesError),
    #[error(
        "plan {plan}: the project's sources changed since it was made ({}); refused, no host \
         contacted (--allow-source-change applies it anyway: each host still must plan exactly \
         the saved changes)",
        changed.join(", ")
    )]
    SourcesChanged { plan: String, changed: Vec<String> },
}

/// The project's sources: digest them (for a plan file), and check them against a plan's.
#[derive(Debug, Clone, Copy)]
pub struct SourcesCheck<'a> {
    /// The inventory file or folder.
    pub inventory: &'a Path,
    /// The saved plan's id and sources (`apply --plan`).
    pub plan: Option<(&'a str, &'a Sources)>,
    /// `--allow-source-change`.
    pub allow_change: bool,
}

/// A finished run: its report, redacted, and each planned host's changes as a plan file holds
/// them (redacted, sensitive contents as salted digests: [`planfile::normalize`]).
#[derive(Debug, Clone)]
pub struct Converged {
    pub report: RunReport,
    /// By host, for hosts that were planned (not failed or unreachable).
    pub prints: BTreeMap<String, Vec<ChangePrint>>,
    /// The project's sources, when asked for.
    pub sources: Option<Sources>,
}

/// Loads the playbook and runs it on its hosts (a progress line on stderr when it is a tty).
///
/// The report comes back redacted ([`Redactor::report`]): changes whose content holds a secret
/// value are sensitive, sensitive contents are dropped, secret values are masked everywhere.
/// `salt` salts the digests of sensitive contents in the prints. With `check`, the project's
/// sources are digested before any host is contacted, and a plan's sources that differ stop
/// the run (unless allowed).
pub fn converge(
    playbook: &Path,
    inv: &Inventory,
    extra_vars: &Vars,
    opts: &RunOptions,
    salt: &str,
    check: Option<SourcesCheck<'_>>,
) -> Result<Converged, ConvergeError> {
    let mut pb = playbook::load(playbook)?;
    if let Some(e) = crate::resolve::template_patterns(&mut pb, extra_vars)
        .into_iter()
        .next()
    {
        return Err(RunError::from(e).into());
    }
    let known = pb.tags();
    for t in opts.tags.unknown(&known) {
        // As Ansible: a tag nothing has selects nothing; said, since it is most often a typo.
        let names: Vec<&str> = known.iter().map(String::as_str).collect();
        let hint = crate::yaml::suggest(t, &names)
            .map(|s| format!(", did you mean `{s}`?"))
            .unwrap_or_default();
        eprintln!("warning: no resource, include, role or play has the tag `{t}`{hint}");
    }
    let sources = match check {
        None => None,
        Some(c) => {
            let now = sources::collect(&pb, c.inventory)?;
            if let Some((plan, then)) = c.plan {
                if then.digest != now.digest && !c.allow_change {
                    let mut changed = crate::plan_file::source_changes(then, &now);
                    if changed.is_empty() {
                        changed.push("digest differs".into());
                    }
                    return Err(ConvergeError::SourcesChanged {
                        plan: plan.to_string(),
                        changed,
                    });
                }
            }
            Some(now)
        }
    };
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
    let report = report?;
    let red = Redactor::current();
    let prints = report
        .hosts
        .iter()
        .filter(|h| h.status == HostStatus::Ok)
        .map(|h| {
            (
                red.string(&h.host),
                planfile::normalize(&h.prints, &red, salt),
            )
        })
        .collect();
    Ok(Converged {
        report: red.report(&report),
        prints,
        sources,
    })
}
