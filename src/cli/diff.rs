//! `play diff PLAYBOOK [--exit-code]`: what apply would do, touching nothing.

use clap::Args;

use super::converge::ConvergeArgs;
use crate::engine::Mode;

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub common: ConvergeArgs,
    /// Exit 0 when nothing would change, 2 when changes are pending, 1 on errors.
    #[arg(long)]
    pub exit_code: bool,
}

pub fn run(args: DiffArgs) -> anyhow::Result<i32> {
    let report = super::converge::run(&args.common, Mode::Diff)?;
    Ok(super::converge::exit_code(if !report.all_ok() {
        crate::exit::FAILURE
    } else if args.exit_code && report.pending_changes() > 0 {
        crate::exit::CHANGES_PENDING
    } else {
        crate::exit::SUCCESS
    }))
}
