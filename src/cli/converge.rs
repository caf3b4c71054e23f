//! Options shared by `play apply` and `play diff`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::common::{ColorChoice, ConnectOpts, InventoryOpts, TagOpts, TemplateOpts};
use crate::engine::{Mode, RunOptions, RunReport};
use crate::history::{self, RunContext};
use crate::inventory;
use crate::ops::converge::SourcesCheck;
use crate::plan_file::{NewPlan, PlanFile};
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
    /// The playbook (a YAML list of plays). With `apply --plan` it may be left out (the
    /// plan's is used); given, it must be the plan's.
    pub playbook: Option<PathBuf>,
    #[command(flatten)]
    pub inv: InventoryOpts,
    #[command(flatten)]
    pub conn: ConnectOpts,
    #[command(flatten)]
    pub templates: TemplateOpts,
    #[command(flatten)]
    pub tags: TagOpts,
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
    /// Folder of the run history (default `.play/runs` in the working folder).
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
}

/// What a run does besides converging: write a plan, apply a saved one, record itself.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// `apply`, `diff` or `rollback` (the run record's command).
    pub command: &'static str,
    /// `diff --out FILE`.
    pub out: Option<PathBuf>,
    /// `apply --plan FILE`.
    pub plan: Option<PathBuf>,
    /// `apply --allow-source-change`.
    pub allow_source_change: bool,
    /// `diff --exit-code`: pending changes exit 2.
    pub pending_exit_code: bool,
}

/// The report in `format` (no colors), from a redacted report.
pub fn render(
    report: &RunReport,
    args: &ConvergeArgs,
    playbook: &str,
    format: ReportFormat,
) -> String {
    let playbook = playbook.to_string();
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

/// The playbook to run: the one given, or a plan's (both: they must be the same file).
fn playbook_of(args: &ConvergeArgs, plan: Option<&(PathBuf, PlanFile)>) -> anyhow::Result<PathBuf> {
    match (&args.playbook, plan) {
        (Some(p), None) => Ok(p.clone()),
        (None, Some((_, plan))) => Ok(PathBuf::from(&plan.playbook)),
        (None, None) => anyhow::bail!("the playbook is missing (PLAYBOOK, or apply --plan FILE)"),
        (Some(p), Some((file, plan))) => {
            let same = match (p.canonicalize(), Path::new(&plan.playbook).canonicalize()) {
                (Ok(a), Ok(b)) => a == b,
                _ => *p == Path::new(&plan.playbook),
            };
            if !same {
                anyhow::bail!(
                    "{} was made for playbook {}, not {} (leave PLAYBOOK out to use the plan's)",
                    file.display(),
                    plan.playbook,
                    p.display()
                );
            }
            Ok(p.clone())
        }
    }
}

/// The tag selection: the one given, or a plan's (both: they must be the same, so that a plan
/// applies exactly what was reviewed).
fn tags_of(
    args: &ConvergeArgs,
    plan: Option<&(PathBuf, PlanFile)>,
) -> anyhow::Result<crate::playbook::TagSelection> {
    let given = args.tags.selection();
    match plan {
        None => Ok(given),
        Some((_, p)) if given.is_default() || given == p.tags => Ok(p.tags.clone()),
        Some((file, p)) => {
            let said = |s: &crate::playbook::TagSelection| match s.describe() {
                d if d.is_empty() => "no tag selection".to_string(),
                d => d,
            };
            anyhow::bail!(
                "{} was made with {}, not {} (leave --tags/--skip-tags out to use the plan's)",
                file.display(),
                said(&p.tags),
                said(&given)
            )
        }
    }
}

/// Runs the playbook in `mode` and prints the reports (every output redacted); writes the
/// plan (`diff --out`) and the run record.
pub fn run(args: &ConvergeArgs, mode: Mode, extras: &Extras) -> anyhow::Result<RunReport> {
    args.color.apply();
    on_ctrl_c();
    let started = crate::plan_file::now_rfc3339();
    let plan = match &extras.plan {
        Some(file) => Some((file.clone(), PlanFile::read(file)?)),
        None => None,
    };
    let playbook = playbook_of(args, plan.as_ref())?;
    let playbook_str = playbook.display().to_string();
    let tags = tags_of(args, plan.as_ref())?;
    let extra = inventory::parse_extra_vars(&args.inv.extra_vars)?;
    let inv = args.inv.load()?;
    let opts = RunOptions {
        mode,
        limit: args.conn.limit(
            &inv,
            args.limit
                .clone()
                .or_else(|| plan.as_ref().and_then(|(_, p)| p.limit.clone())),
        )?,
        forks: args.conn.forks,
        overrides: args.conn.overrides()?,
        want_diffs: true,
        lock_timeout: args.lock_timeout,
        template_limits: args.templates.limits(),
        expected: plan.as_ref().map(|(_, p)| Arc::new(p.expected())),
        tags: tags.clone(),
        // A saved plan is applied as of the time it was made (`play_run_time`).
        run_time: plan
            .as_ref()
            .and_then(|(_, p)| p.run_time)
            .unwrap_or_else(crate::resolve::now_epoch),
    };
    let salt = match &plan {
        Some((_, p)) => p.salt.clone(),
        None => crate::plan_file::random_hex(16),
    };
    let check = (extras.out.is_some() || plan.is_some()).then(|| SourcesCheck {
        inventory: &args.inv.inventory,
        plan: plan.as_ref().map(|(_, p)| (p.id.as_str(), &p.sources)),
        allow_change: extras.allow_source_change,
    });
    // The report comes back redacted (see ops::converge).
    let converged =
        match crate::ops::converge::converge(&playbook, &inv, &extra, &opts, &salt, check) {
            Ok(c) => c,
            Err(e) => {
                // Stopped before any host was contacted (a broken playbook, changed sources).
                if mode == Mode::Apply || extras.out.is_some() {
                    let ctx = RunContext {
                        command: extras.command,
                        started,
                        playbook: &playbook_str,
                        inventory: &args.inv.inventory.display().to_string(),
                        plan_id: plan.as_ref().map(|(_, p)| p.id.clone()),
                        plan_file: extras.plan.as_ref().map(|f| f.display().to_string()),
                        exit_code: crate::exit::FAILURE,
                    };
                    append_record(args, &history::stopped(&ctx, &e.to_string(), mode));
                }
                return Err(e.into());
            }
        };
    let report = converged.report;
    let redactor = Redactor::current();
    let mut human = redactor.string(&crate::report::plan::text(&report, args.verbose));
    if let Some((file, p)) = &plan {
        human = format!("applying plan {} ({})\n{human}", p.id, file.display());
    }
    // diff --out: the plan file.
    let mut written: Option<(String, PathBuf)> = None;
    if let (Some(out), Some(sources)) = (&extras.out, converged.sources) {
        let hosts = crate::plan_file::hosts_of(&report, &converged.prints);
        let new = NewPlan {
            playbook: &playbook_str,
            inventory: &args.inv.inventory.display().to_string(),
            limit: args.limit.as_deref(),
            tags: tags.clone(),
            salt,
            run_time: opts.run_time,
            sources,
            hosts,
        }
        .build();
        new.write(out)?;
        human.push_str(&format!(
            "plan {} written to {} ({} change(s); apply it with `play apply --plan {}`)\n",
            new.id,
            out.display(),
            new.change_count(),
            out.display()
        ));
        written = Some((new.id.clone(), out.clone()));
    }
    match (&args.output, args.format) {
        (Some(file), format) => {
            let body = redactor.string(&render(&report, args, &playbook_str, format));
            std::fs::write(file, body)
                .with_context(|| format!("cannot write the report to {}", file.display()))?;
            write!(anstream::stdout(), "{human}")?;
        }
        (None, ReportFormat::Text) => write!(anstream::stdout(), "{human}")?,
        (None, format) => {
            write!(anstream::stderr(), "{human}")?;
            let body = redactor.string(&render(&report, args, &playbook_str, format));
            let mut out = std::io::stdout().lock();
            out.write_all(body.as_bytes())?;
            out.flush()?;
        }
    }
    // The run record: every apply and rollback, and diff when it wrote a plan.
    if mode == Mode::Apply || written.is_some() {
        let code = outcome(&report, extras.pending_exit_code);
        let ctx = RunContext {
            command: extras.command,
            started,
            playbook: &playbook_str,
            inventory: &args.inv.inventory.display().to_string(),
            plan_id: written
                .as_ref()
                .map(|(id, _)| id.clone())
                .or_else(|| report.plan_id.clone()),
            plan_file: written
                .as_ref()
                .map(|(_, f)| f.display().to_string())
                .or_else(|| extras.plan.as_ref().map(|f| f.display().to_string())),
            exit_code: exit_code(code),
        };
        append_record(args, &history::record(&report, &ctx));
    }
    Ok(report)
}

/// Appends a run record to the history (`--record DIR` or `.play/runs`); a warning when it
/// cannot be written (the run's outcome stands).
fn append_record(args: &ConvergeArgs, rec: &history::RunRecord) {
    let dir = args
        .record
        .clone()
        .unwrap_or_else(|| PathBuf::from(history::DEFAULT_DIR));
    if let Err(e) = history::append(&dir, rec) {
        eprintln!("warning: {e}");
    }
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

/// The exit code of a finished run before Ctrl-C is considered: 1 unless every host ended
/// well; for a diff with `pending_exit_code`, 2 when changes are pending; else 0.
pub fn outcome(report: &RunReport, pending_exit_code: bool) -> i32 {
    if !report.all_ok() {
        crate::exit::FAILURE
    } else if report.mode == Mode::Diff && pending_exit_code && report.pending_changes() > 0 {
        crate::exit::CHANGES_PENDING
    } else {
        crate::exit::SUCCESS
    }
}

/// The exit code of a finished run: 130 after Ctrl-C, else `code`.
pub fn exit_code(code: i32) -> i32 {
    if crate::engine::interrupted() {
        crate::exit::INTERRUPTED
    } else {
        code
    }
}
