//! `play lab ...` (filled in by the lab work).
use clap::Args;

#[derive(Debug, Args)]
pub struct LabArgs {}

pub fn run(_args: LabArgs) -> anyhow::Result<i32> {
    anyhow::bail!("play lab: not built yet")
}
