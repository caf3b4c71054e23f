//! `play facts PATTERN [PLAYBOOK...] [--save FILE]`: gather and print facts, and the values of
//! the playbooks' `find:`/`stat:` gathers (what `check --facts-from` reads).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::common::{ColorChoice, ConnectOpts, InventoryOpts};
use crate::ops::facts::{gather, playbooks, save, to_file, FactsOutcome, FactsRequest};
use crate::report::redact::Redactor;

#[derive(Debug, Args)]
pub struct FactsArgs {
    /// Host pattern: group, host, glob, a:b, a:&b, a:!b.
    pub pattern: String,
    /// Playbooks whose `find:`/`stat:` gathers are read and recorded too (default: every
    /// playbook of playbooks/, when there is one).
    pub playbooks: Vec<PathBuf>,
    #[command(flatten)]
    pub inv: InventoryOpts,
    #[command(flatten)]
    pub conn: ConnectOpts,
    /// Also write the facts of the reachable hosts to FILE (JSON).
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,
}

pub fn run(args: FactsArgs) -> anyhow::Result<i32> {
    args.color.apply();
    let inv = args.inv.load()?;
    let extra_vars = crate::inventory::parse_extra_vars(&args.inv.extra_vars)?;
    let (playbooks, warnings) = playbooks(&args.playbooks, &extra_vars)?;
    let red = Redactor::current();
    for w in &warnings {
        eprintln!("warning: {}", red.text(w));
    }
    let results = gather(
        &inv,
        &FactsRequest {
            pattern: args.pattern.clone(),
            forks: args.conn.forks,
            overrides: args.conn.overrides()?,
            playbooks,
            extra_vars,
        },
    )?;
    let file = to_file(&results);
    print!(
        "{}",
        red.text(&serde_json::to_string_pretty(&file).unwrap_or_default())
    );
    println!();
    let mut all_ok = true;
    for r in &results {
        for p in &r.problems {
            eprintln!("warning: {} (not read)", red.text(p));
        }
        match &r.outcome {
            FactsOutcome::Gathered(_) => {}
            FactsOutcome::Unreachable(m) => {
                all_ok = false;
                eprintln!("{} | UNREACHABLE | {}", r.host, red.text(m));
            }
            FactsOutcome::Failed(m) => {
                all_ok = false;
                eprintln!("{} | FAILED | {}", r.host, red.text(m));
            }
        }
    }
    if let Some(path) = &args.save {
        save(path, &file).with_context(|| format!("play facts --save {}", path.display()))?;
        eprintln!(
            "facts of {} host(s) saved to {}",
            file.hosts.len(),
            path.display()
        );
    }
    Ok(if all_ok {
        crate::exit::SUCCESS
    } else {
        crate::exit::FAILURE
    })
}
