//! `play run PATTERN -- COMMAND...`: the Fabric replacement for ad-hoc work.

use std::io::Write;

use clap::Args;

use super::common::{ColorChoice, ConnectOpts, InventoryOpts};
use crate::ops::run::{run as run_op, RunRequest};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Host pattern: group, host, glob, a:b, a:&b, a:!b.
    pub pattern: String,
    /// The command (run by `sh` on each host, sent on stdin: in no argv there).
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
    #[command(flatten)]
    pub inv: InventoryOpts,
    #[command(flatten)]
    pub conn: ConnectOpts,
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,
}

pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    args.color.apply();
    let inv = args.inv.load()?;
    let req = RunRequest {
        pattern: args.pattern.clone(),
        command: args.command.join(" "),
        forks: args.conn.forks,
        overrides: args.conn.overrides()?,
    };
    let results = run_op(&inv, &req)?;
    let mut out = anstream::stdout();
    write!(out, "{}", crate::report::run::text(&results))?;
    Ok(if results.iter().all(|r| r.ok()) {
        crate::exit::SUCCESS
    } else {
        crate::exit::FAILURE
    })
}
