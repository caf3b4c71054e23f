//! `play diff PLAYBOOK [--exit-code] [--out FILE]`: what apply would do, touching nothing;
//! `--out` saves the plan for `play apply --plan FILE`.

use std::path::PathBuf;

use clap::Args;

use super::converge::{ConvergeArgs, Extras};
use crate::engine::Mode;

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub common: ConvergeArgs,
    /// Exit 0 when nothing would change, 2 when changes are pending, 1 on errors.
    #[arg(long)]
    pub exit_code: bool,
    /// Save the plan to FILE (mode 0600) for `play apply --plan FILE` (see docs/plan-file.md).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(args: DiffArgs) -> anyhow::Result<i32> {
    let extras = Extras {
        command: "diff",
        out: args.out,
        pending_exit_code: args.exit_code,
        ..Extras::default()
    };
    let report = super::converge::run(&args.common, Mode::Diff, &extras)?;
    Ok(super::converge::exit_code(super::converge::outcome(
        &report,
        args.exit_code,
    )))
}
