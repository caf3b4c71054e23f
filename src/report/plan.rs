//! Human report of `play diff` / `play apply`: changes per host with unified diffs, then a recap.
//!
//! Programs and services show their state change and restarts as details
//! (`~ update program web (STOPPED → RUNNING, restart: /etc/app/app.ini changed)`) and the
//! unified diff of their conf or unit file. Diffs are capped per change (see [`super::shown`]).

use std::fmt::Write;

use owo_colors::OwoColorize;

use super::shown::{content_shown, Shown};
use crate::engine::{HostReport, HostStatus, Mode, RunReport};
use crate::resources::{Action, Change, Sign};

/// Text for one change: `+ create file /etc/motd`, details, the resource's `name:` after
/// `# `, and the unified diff.
pub fn change_text(c: &Change, applied: Option<bool>, name: Option<&str>) -> String {
    let mut out = String::new();
    let line = format!(
        "  {} {} {} {}",
        c.action.sign(),
        c.action.verb(),
        c.kind,
        c.key
    );
    let line = match c.action {
        Action::Create => line.green().to_string(),
        Action::Delete => line.red().to_string(),
        _ => line.yellow().to_string(),
    };
    let _ = write!(out, "{line}");
    let inline: Vec<&str> = c
        .details
        .iter()
        .chain(&c.restarts)
        .map(String::as_str)
        .collect();
    if !inline.is_empty() {
        let _ = write!(out, " ({})", inline.join(", "));
    }
    if let Some(after) = &c.after {
        let _ = write!(out, " (known after {after})");
    }
    if applied == Some(false) {
        let _ = write!(out, " {}", "[not applied]".red());
    }
    if let Some(name) = name {
        let _ = write!(out, "  {}", format!("# {name}").dimmed());
    }
    out.push('\n');
    // Files of a sync or release are listed one per line below the change.
    for (sign, text) in &c.files.files {
        let line = format!("      {} {text}", sign.char());
        let line = match sign {
            Sign::Added => line.green().to_string(),
            Sign::Removed => line.red().to_string(),
            Sign::Changed => line.yellow().to_string(),
        };
        let _ = writeln!(out, "{line}");
    }
    if c.files.more > 0 {
        let _ = writeln!(
            out,
            "{}",
            format!("      … and {} more", c.files.more).yellow()
        );
    }
    if c.sensitive && c.content.is_some() {
        let _ = writeln!(out, "      (sensitive content changed)");
    }
    let path = c
        .content
        .as_ref()
        .map_or_else(|| c.key.clone(), |cc| cc.path.clone());
    match content_shown(c, &path) {
        Some(Shown::Diff(text)) => {
            for l in text.lines() {
                let l = format!("      {l}");
                let l = if l.trim_start().starts_with("+++") || l.trim_start().starts_with("---") {
                    l.bold().to_string()
                } else if l.trim_start().starts_with('+') {
                    l.green().to_string()
                } else if l.trim_start().starts_with('-') {
                    l.red().to_string()
                } else if l.trim_start().starts_with("@@") {
                    l.cyan().to_string()
                } else {
                    l
                };
                let _ = writeln!(out, "{l}");
            }
        }
        Some(Shown::Summary(s)) => {
            let _ = writeln!(out, "      {s}");
        }
        None => {}
    }
    out
}

fn host_text(h: &HostReport, mode: Mode, verbose: bool) -> String {
    let mut out = String::new();
    if h.changes.is_empty() && h.status == HostStatus::Ok && !verbose {
        return out;
    }
    let _ = writeln!(out, "{}", format!("{}:", h.host).bold());
    let mut play = None;
    for c in &h.changes {
        if let Some(p) = super::play_heading(h, c, &mut play) {
            let _ = writeln!(out, "  {}", format!("play: {p}").bold());
        }
        let applied = match mode {
            Mode::Diff => None,
            Mode::Apply => Some(h.applied.contains(&c.index)),
        };
        out.push_str(&change_text(
            c,
            applied,
            h.names.get(&c.index).map(String::as_str),
        ));
    }
    // Checks (`command:` with `changed: false`): listed, never counted.
    for c in &h.checks {
        let line = format!("  = check {} {}", c.kind, c.key);
        let _ = write!(out, "{}", line.cyan());
        if !c.details.is_empty() {
            let _ = write!(out, " ({})", c.details.join(", "));
        }
        if let Some(name) = h.names.get(&c.index) {
            let _ = write!(out, "  {}", format!("# {name}").dimmed());
        }
        out.push('\n');
    }
    if verbose && h.changes.is_empty() && h.status == HostStatus::Ok {
        let _ = writeln!(out, "  {} resources in their desired state", h.unchanged);
    }
    if verbose {
        let _ = writeln!(
            out,
            "  {} round trip(s) to the host (probe, supervisord, fetch, apply, check)",
            h.round_trips
        );
        for n in &h.notes {
            let _ = writeln!(out, "  note: {n}");
        }
    } else {
        for n in (h.notes.iter()).filter(|n| n.starts_with(crate::engine::GATHERED_NOTE)) {
            let _ = writeln!(out, "  note: {n}");
        }
    }
    match &h.status {
        HostStatus::Ok => {}
        HostStatus::Failed(m) => {
            let _ = writeln!(out, "  {} {}", "FAILED:".red().bold(), indent(m));
        }
        HostStatus::Unreachable(m) => {
            let _ = writeln!(out, "  {} {}", "UNREACHABLE:".red().bold(), indent(m));
        }
        HostStatus::NotRun(m) => {
            let _ = writeln!(out, "  {} {}", "NOT RUN:".yellow().bold(), indent(m));
        }
    }
    out
}

/// Continuation lines of a message, indented under its first line.
fn indent(m: &str) -> String {
    m.lines().collect::<Vec<_>>().join("\n    ")
}

/// The whole human report: hosts with changes or problems, then the recap table.
pub fn text(report: &RunReport, verbose: bool) -> String {
    let mut out = String::new();
    for h in &report.hosts {
        out.push_str(&host_text(h, report.mode, verbose));
    }
    out.push_str(&recap(report));
    out
}

/// The recap table: host, ok, changed, failed, unreachable, seconds.
pub fn recap(report: &RunReport) -> String {
    let width = report
        .hosts
        .iter()
        .map(|h| h.host.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = String::new();
    let changed_label = match report.mode {
        Mode::Diff => "pending",
        Mode::Apply => "changed",
    };
    let _ = writeln!(
        out,
        "\n{:<width$}  {:>4}  {:>7}  {:>6}  {:>11}  {:>7}",
        "HOST", "ok", changed_label, "failed", "unreachable", "seconds"
    );
    for h in &report.hosts {
        let changed = match report.mode {
            Mode::Diff => h.changes.len(),
            Mode::Apply => h.applied.len(),
        };
        let row = format!(
            "{:<width$}  {:>4}  {:>7}  {:>6}  {:>11}  {:>7.2}",
            h.host,
            h.unchanged,
            changed,
            usize::from(h.failed()),
            usize::from(h.unreachable()),
            h.seconds
        );
        let row = if h.failed() || h.unreachable() {
            row.red().to_string()
        } else if changed > 0 {
            row.yellow().to_string()
        } else {
            row.green().to_string()
        };
        let _ = writeln!(out, "{row}");
    }
    let total_changes: usize = report
        .hosts
        .iter()
        .map(|h| match report.mode {
            Mode::Diff => h.changes.len(),
            Mode::Apply => h.applied.len(),
        })
        .sum();
    let failed = report.hosts.iter().filter(|h| h.failed()).count();
    let unreachable = report.hosts.iter().filter(|h| h.unreachable()).count();
    let verb = match report.mode {
        Mode::Diff => "pending",
        Mode::Apply => "applied",
    };
    let _ = writeln!(
        out,
        "{} hosts, {total_changes} changes {verb}, {failed} failed, {unreachable} unreachable in {:.2}s",
        report.hosts.len(),
        report.seconds
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::FileList;

    /// The files of a sync are listed one per line from `Change::files`, never parsed from
    /// `details`: a detail that looks like a file line stays inline.
    #[test]
    fn sync_files_come_from_the_typed_list() {
        let c = Change {
            kind: crate::resources::example::kind("sync").expect("a kind"),
            key: "/srv/s".into(),
            action: Action::Update,
            details: vec![
                "1 added, 1 changed, 0 removed".into(),
                "+ not a file".into(),
            ],
            files: FileList {
                files: vec![(Sign::Added, "a.py".into()), (Sign::Changed, "b.py".into())],
                more: 3,
            },
            restarts: Vec::new(),
            attrs: false,
            content: None,
            sensitive: false,
            index: 0,
            after: None,
            expect: None,
        };
        let text = change_text(&c, None, None);
        let plain = String::from_utf8(strip(text.as_bytes())).unwrap_or_default();
        assert_eq!(
            plain,
            "  ~ update sync /srv/s (1 added, 1 changed, 0 removed, + not a file)\n      + a.py\n      ~ b.py\n      … and 3 more\n"
        );
        // A resource's `name:` ends its line.
        let named = change_text(&c, None, Some("ship the code"));
        let plain = String::from_utf8(strip(named.as_bytes())).unwrap_or_default();
        assert!(
            plain.starts_with(
                "  ~ update sync /srv/s (1 added, 1 changed, 0 removed, + not a file)  # ship the code\n"
            ),
            "{plain}"
        );
    }

    /// Drops ANSI color sequences.
    fn strip(b: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == 0x1b {
                while i < b.len() && b[i] != b'm' {
                    i += 1;
                }
            } else {
                out.push(b[i]);
            }
            i += 1;
        }
        out
    }
}
