//! Options shared by `play apply` and `play diff`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::common::{ColorChoice, ConnectOpts, InventoryOpts, TemplateOpts};
use crate::engine::{Mode, RunOptions, RunReport};
use crate::inventory;
use crate::report::junit::JunitOptions;
use crate::report::redact::Redactor;

/// Format of the report of `play diff` / `play apply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ReportFormat {
    /// For people (the default on the terminal).
    #[default]
    Text,
    /// Versioned schema, see docs/report-schema.md.
    Json,
    /// Summary table and a <details> per host, for merge-request comments.
    Markdown,
    /// JUnit XML, for Jenkins and GitLab test reports.
    Junit,
}

#[derive(Debug, Clone, Args)]
pub struct ConvergeArgs {
    /// The playbook (a YAML list of plays).
    pub playbook: PathBuf,
    #[command(flatten)]
    pub inv: InventoryOpts,
    #[command(flatten)]
    pub conn: ConnectOpts,
    #[command(flatten)]
    pub templates: TemplateOpts,
    /// Only hosts matching this pattern.
    #[arg(short = 'l', long)]
    pub limit: Option<String>,
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,
    /// Also list hosts without changes.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Report format. Without --output, a format other than text goes to stdout and the human
    /// text to stderr.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    /// Write the --format report to FILE; the human text still goes to the terminal.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// JUnit: a host with changes (pending for diff, applied for apply) is a failure.
    #[arg(long)]
    pub changes_fail: bool,
    /// apply: how long to wait for a host locked by another `play apply` (seconds; 0 fails
    /// at once, naming the lock's owner).
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub lock_timeout: u64,
}

/// The report in `format` (no colors), from a redacted report.
pub fn render(report: &RunReport, args: &ConvergeArgs, format: ReportFormat) -> String {
    let playbook = args.playbook.display().to_string();
    match format {
        ReportFormat::Text => {
            let text = crate::report::plan::text(report, args.verbose);
            anstream::adapter::strip_str(&text).to_string()
        }
        ReportFormat::Json => crate::report::json::render(report, &playbook),
        ReportFormat::Markdown => crate::report::markdown::render(report, &playbook),
        ReportFormat::Junit => crate::report::junit::render(
            report,
            &playbook,
            JunitOptions {
                changes_fail: args.changes_fail,
            },
        ),
    }
}

/// Runs the playbook in `mode` and prints the reports (every output redacted).
pub fn run(args: &ConvergeArgs, mode: Mode) -> anyhow::Result<RunReport> {
    args.color.apply();
    on_ctrl_c();
    let extra = inventory::parse_extra_vars(&args.inv.extra_vars)?;
    let inv = args.inv.load()?;
    let opts = RunOptions {
        mode,
        limit: args.conn.limit(&inv, args.limit.clone())?,
        forks: args.conn.forks,
        overrides: args.conn.overrides()?,
        want_diffs: true,
        lock_timeout: args.lock_timeout,
        template_limits: args.templates.limits(),
    };
    // The report comes back redacted (see ops::converge).
    let report = crate::ops::converge::converge(&args.playbook, &inv, &extra, &opts)?;
    let redactor = Redactor::current();
    let human = redactor.string(&crate::report::plan::text(&report, args.verbose));
    match (&args.output, args.format) {
        (Some(file), format) => {
            let body = redactor.string(&render(&report, args, format));
            std::fs::write(file, body)
                .with_context(|| format!("cannot write the report to {}", file.display()))?;
            write!(anstream::stdout(), "{human}")?;
        }
        (None, ReportFormat::Text) => write!(anstream::stdout(), "{human}")?,
        (None, format) => {
            write!(anstream::stderr(), "{human}")?;
            let body = redactor.string(&render(&report, args, format));
            let mut out = std::io::stdout().lock();
            out.write_all(body.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(report)
}

/// First Ctrl-C: finish what is in flight, start nothing new (exit 130). Second: abort at once.
fn on_ctrl_c() {
    let _ = ctrlc::set_handler(|| {
        if crate::engine::interrupted() {
            eprintln!("\ninterrupted again: aborting now");
            std::process::exit(crate::exit::INTERRUPTED);
        }
        eprintln!(
            "\ninterrupted: finishing hosts already applying, starting none (Ctrl-C again aborts)"
        );
        crate::engine::interrupt();
    });
}

/// The exit code of a finished run: 130 after Ctrl-C, else `code`.
pub fn exit_code(code: i32) -> i32 {
    if crate::engine::interrupted() {
        crate::exit::INTERRUPTED
    } else {
        code
    }
}
