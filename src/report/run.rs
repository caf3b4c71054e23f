//! Text report of `play run`: one block per host in inventory order, then a summary line.

use std::fmt::Write;

use owo_colors::OwoColorize;

use crate::ops::run::{HostRun, Outcome};

/// Renders the results (ANSI colors included; print through anstream to strip them off a tty).
pub fn text(results: &[HostRun]) -> String {
    let mut out = String::new();
    for r in results {
        let head = match &r.outcome {
            Outcome::Ran(o) if o.success() => format!("{} | ok | rc=0 | {:.2}s", r.host, r.seconds)
                .green()
                .to_string(),
            Outcome::Ran(o) => format!("{} | FAILED | rc={} | {:.2}s", r.host, o.status, r.seconds)
                .red()
                .to_string(),
            Outcome::Unreachable(_) => format!("{} | UNREACHABLE", r.host).red().to_string(),
            Outcome::Error(_) => format!("{} | ERROR", r.host).red().to_string(),
        };
        let _ = writeln!(out, "{head}");
        match &r.outcome {
            Outcome::Ran(o) => {
                for line in String::from_utf8_lossy(&o.stdout).lines() {
                    let _ = writeln!(out, "  {line}");
                }
                for line in String::from_utf8_lossy(&o.stderr).lines() {
                    let _ = writeln!(out, "  {}", line.yellow());
                }
            }
            Outcome::Unreachable(m) | Outcome::Error(m) => {
                let _ = writeln!(out, "  {m}");
            }
        }
    }
    let ok = results.iter().filter(|r| r.ok()).count();
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| {
            matches!(&r.outcome, Outcome::Ran(o) if !o.success())
                || matches!(r.outcome, Outcome::Error(_))
        })
        .map(|r| r.host.as_str())
        .collect();
    let unreachable: Vec<&str> = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Unreachable(_)))
        .map(|r| r.host.as_str())
        .collect();
    let mut summary = format!("{} hosts: {} ok", results.len(), ok);
    if !failed.is_empty() {
        let _ = write!(summary, ", {} failed ({})", failed.len(), failed.join(", "));
    }
    if !unreachable.is_empty() {
        let _ = write!(
            summary,
            ", {} unreachable ({})",
            unreachable.len(),
            unreachable.join(", ")
        );
    }
    let _ = writeln!(out, "{summary}");
    out
}
