//! `play apply PLAYBOOK`: converge; exit 0 when every host converged, 1 otherwise.
//! `play apply --plan FILE [PLAYBOOK]`: apply exactly a plan saved by `play diff --out`; a host
//! whose fresh plan differs is refused as stale (exit 1), the others are applied.

use std::path::PathBuf;

use clap::Args;

use super::converge::{ConvergeArgs, Extras};
use crate::engine::Mode;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub common: ConvergeArgs,
    /// Apply exactly this plan (written by `play diff --out`); PLAYBOOK may then be left out.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// With --plan: apply even though the project's sources changed since the plan was made
    /// (every host still must plan exactly the saved changes).
    #[arg(long, requires = "plan")]
    pub allow_source_change: bool,
}

pub fn run(args: ApplyArgs) -> anyhow::Result<i32> {
    let extras = Extras {
        command: "apply",
        plan: args.plan,
        allow_source_change: args.allow_source_change,
        ..Extras::default()
    };
    let report = super::converge::run(&args.common, Mode::Apply, &extras)?;
    Ok(super::converge::exit_code(super::converge::outcome(
        &report, false,
    )))
}
