//! `play log [--record DIR]`: the recorded runs, one line each, oldest first.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::history;

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Folder of the run history (default `.play/runs` in the working folder).
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
    /// Only the last N runs.
    #[arg(short = 'n', long, value_name = "N")]
    pub last: Option<usize>,
}

pub fn run(args: LogArgs) -> anyhow::Result<i32> {
    let dir = args
        .record
        .unwrap_or_else(|| PathBuf::from(history::DEFAULT_DIR));
    let mut all = history::list(&dir)?;
    if let Some(n) = args.last {
        let skip = all.len().saturating_sub(n);
        all.drain(..skip);
    }
    write!(std::io::stdout(), "{}", history::render::log(&all))?;
    Ok(crate::exit::SUCCESS)
}
