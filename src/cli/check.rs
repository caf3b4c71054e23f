//! `play check [PLAYBOOK...]`: validate everything offline; exit 0 clean, 1 problems.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::common::{ColorChoice, InventoryOpts, TagOpts, TemplateOpts};
use crate::ops::check::{check, text, CheckOptions};
use crate::report::redact::Redactor;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Playbooks to check (default: every *.yml of playbooks/).
    pub playbooks: Vec<PathBuf>,
    #[command(flatten)]
    pub inv: InventoryOpts,
    #[command(flatten)]
    pub templates: TemplateOpts,
    #[command(flatten)]
    pub tags: TagOpts,
    /// Render with facts recorded by `play facts --save FILE` (default: placeholder facts).
    #[arg(long, value_name = "FILE")]
    pub facts_from: Option<PathBuf>,
    /// Only hosts matching this pattern.
    #[arg(short = 'l', long)]
    pub limit: Option<String>,
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,
    /// Print each host's rendered resources (after vars, loops and `when`).
    #[arg(long)]
    pub show: bool,
}

pub fn run(args: CheckArgs) -> anyhow::Result<i32> {
    args.color.apply();
    let report = check(&CheckOptions {
        playbooks: args.playbooks,
        inventory: args.inv.inventory,
        extra_vars: args.inv.extra_vars,
        facts_from: args.facts_from,
        limit: args.limit,
        template_limits: args.templates.limits(),
        show: args.show,
        tags: args.tags.selection(),
    })?;
    let out = Redactor::current().string(&text(&report));
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;
    Ok(if report.ok() {
        crate::exit::SUCCESS
    } else {
        crate::exit::FAILURE
    })
}
