//! `play inventory [--graph | --list | --host NAME] [--format text|json]`.

use clap::Args;

use super::common::{Format, InventoryOpts};
use crate::ops::inventory::{show, Show};

#[derive(Debug, Args)]
pub struct InventoryArgs {
    #[command(flatten)]
    pub inv: InventoryOpts,
    /// Groups as a tree (the default).
    #[arg(long, group = "what")]
    pub graph: bool,
    /// Every host with its groups and vars.
    #[arg(long, group = "what")]
    pub list: bool,
    /// One host's resolved vars.
    #[arg(long, group = "what", value_name = "NAME")]
    pub host: Option<String>,
    /// Only hosts matching this pattern.
    #[arg(short = 'l', long)]
    pub limit: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    #[arg(long, value_enum, default_value = "auto")]
    pub color: super::common::ColorChoice,
}

pub fn run(args: InventoryArgs) -> anyhow::Result<i32> {
    args.color.apply();
    let inv = args.inv.load()?;
    let what = match (&args.host, args.list) {
        (Some(h), _) => Show::Host(h.clone()),
        (None, true) => Show::List,
        _ => Show::Graph,
    };
    let text = show(
        &inv,
        &what,
        args.limit.as_deref(),
        args.format == Format::Json,
    )?;
    // Vault values never reach the terminal.
    print!("{}", crate::report::redact::Redactor::current().text(&text));
    Ok(crate::exit::SUCCESS)
}
