//! `play apply PLAYBOOK`: converge; exit 0 when every host converged, 1 otherwise.

use clap::Args;

use super::converge::ConvergeArgs;
use crate::engine::Mode;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub common: ConvergeArgs,
}

pub fn run(args: ApplyArgs) -> anyhow::Result<i32> {
    let report = super::converge::run(&args.common, Mode::Apply)?;
    Ok(super::converge::exit_code(if report.all_ok() {
        crate::exit::SUCCESS
    } else {
        crate::exit::FAILURE
    }))
}
