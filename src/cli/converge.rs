//! Options shared by `play apply` and `play diff`.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::common::{ColorChoice, ConnectOpts, InventoryOpts};
use crate::engine::{Mode, RunOptions, RunReport};
use crate::inventory;

#[derive(Debug, Clone, Args)]
pub struct ConvergeArgs {
    /// The playbook (a YAML list of plays).
    pub playbook: PathBuf,
    #[command(flatten)]
    pub inv: InventoryOpts,
    #[command(flatten)]
    pub conn: ConnectOpts,
    /// Only hosts matching this pattern.
    #[arg(short = 'l', long)]
    pub limit: Option<String>,
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,
    /// Also list hosts without changes.
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

/// Runs the playbook in `mode` and prints the human report.
pub fn run(args: &ConvergeArgs, mode: Mode) -> anyhow::Result<RunReport> {
    args.color.apply();
    let extra = inventory::parse_extra_vars(&args.inv.extra_vars)?;
    let inv = args.inv.load()?;
    let opts = RunOptions {
        mode,
        limit: args.limit.clone(),
        forks: args.conn.forks,
        overrides: args.conn.overrides(),
        want_diffs: true,
    };
    let report = crate::ops::converge::converge(&args.playbook, &inv, &extra, &opts)?;
    let mut out = anstream::stdout();
    write!(out, "{}", crate::report::plan::text(&report, args.verbose))?;
    Ok(report)
}
