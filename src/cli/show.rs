//! `play show RUN [--format text|json|markdown]`: one recorded run.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::history;

/// Format of `play show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ShowFormat {
    #[default]
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The run: its id, a unique part of it, or `last`.
    pub run: String,
    /// Folder of the run history (default `.play/runs` in the working folder).
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: ShowFormat,
}

pub fn run(args: ShowArgs) -> anyhow::Result<i32> {
    let dir = args
        .record
        .unwrap_or_else(|| PathBuf::from(history::DEFAULT_DIR));
    let rec = history::find(&dir, &args.run)?;
    let text = match args.format {
        ShowFormat::Text => history::render::text(&rec),
        ShowFormat::Json => rec.to_json(),
        ShowFormat::Markdown => history::render::markdown(&rec),
    };
    write!(std::io::stdout(), "{text}")?;
    Ok(crate::exit::SUCCESS)
}
