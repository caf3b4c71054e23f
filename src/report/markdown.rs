//! The Markdown report (`--format markdown`), ready to paste as a merge-request comment: a
//! summary table (hosts × created/updated/deleted/restarts), then one collapsible `<details>`
//! per host with changes or problems, its diffs in ```` ```diff ```` blocks.
//!
//! Give it a report that went through [`super::redact::Redactor::report`].

use std::fmt::Write;

use super::json::{action_name, error_of, status_name, Counts};
use super::shown::{content_shown, Shown};
use crate::engine::{HostReport, Mode, RunReport};
use crate::resources::Change;

/// Escapes text for a table cell or inline text (pipes, HTML, Markdown emphasis).
fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '*' | '_' | '`' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(ch);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A code fence longer than any run of backticks inside `body`.
fn fence(body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for ch in body.chars() {
        if ch == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat(longest.max(2) + 1)
}

fn code_block(out: &mut String, lang: &str, body: &str) {
    let f = fence(body);
    let _ = writeln!(out, "{f}{lang}");
    out.push_str(body);
    if !body.ends_with('\n') {
        out.push('\n');
    }
    let _ = writeln!(out, "{f}");
}

fn status_cell(h: &HostReport, mode: Mode) -> &'static str {
    match status_name(h, mode) {
        "ok" => "ok",
        "changed" => match mode {
            Mode::Diff => "changes pending",
            Mode::Apply => "changed",
        },
        "failed" => "**FAILED**",
        _ => "**UNREACHABLE**",
    }
}

fn change_line(c: &Change, h: &HostReport, mode: Mode) -> String {
    let mut line = format!(
        "- `{}` {} {} `{}`",
        c.action.sign(),
        action_name(c.action),
        c.kind,
        c.key.replace('`', "'")
    );
    let details = c.all_details();
    if !details.is_empty() {
        let _ = write!(line, " ({})", cell(&details.join(", ")));
    }
    if mode == Mode::Apply && !h.applied.contains(&c.index) {
        line.push_str(" — **not applied**");
    }
    if c.sensitive && c.content.is_some() {
        line.push_str(" — (sensitive content changed)");
    }
    if let Some(name) = h.names.get(&c.index) {
        let _ = write!(line, " — *{}*", cell(name));
    }
    line
}

fn host_details(out: &mut String, h: &HostReport, mode: Mode) {
    let n = h.changes.len();
    let summary = match error_of(h) {
        Some(_) => format!("{} ({n} change(s))", status_cell(h, mode).trim_matches('*')),
        None => format!("{n} change(s)"),
    };
    let _ = writeln!(
        out,
        "<details><summary><code>{}</code>: {}</summary>\n",
        cell(&h.host),
        cell(&summary)
    );
    if let Some(e) = error_of(h) {
        code_block(out, "text", e);
        out.push('\n');
    }
    let mut play = None;
    for c in &h.changes {
        if let Some(p) = super::play_heading(h, c, &mut play) {
            let _ = writeln!(out, "**play: {}**\n", cell(p));
        }
        let _ = writeln!(out, "{}", change_line(c, h, mode));
        match content_shown(c, &c.key) {
            Some(Shown::Diff(d)) => {
                out.push('\n');
                code_block(out, "diff", &d);
                out.push('\n');
            }
            Some(Shown::Summary(s)) => {
                let _ = writeln!(out, "  {s}");
            }
            None => {}
        }
    }
    let _ = writeln!(out, "\n</details>\n");
}

/// The Markdown text of a (redacted) report.
pub fn render(report: &RunReport, playbook: &str) -> String {
    let mode = report.mode;
    let mut out = String::new();
    let verb = match mode {
        Mode::Diff => "diff",
        Mode::Apply => "apply",
    };
    let _ = writeln!(out, "### play {verb}: `{}`\n", playbook.replace('`', "'"));
    if let Some(id) = &report.plan_id {
        let _ = writeln!(out, "applied from plan `{}`\n", id.replace('`', "'"));
    }
    let _ = writeln!(
        out,
        "| host | status | created | updated | deleted | restarts |"
    );
    let _ = writeln!(out, "|---|---|--:|--:|--:|--:|");
    let mut total = Counts::default();
    for h in &report.hosts {
        let c = Counts::of(h, mode);
        total.created += c.created;
        total.updated += c.updated;
        total.deleted += c.deleted;
        total.restarts += c.restarts;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            cell(&h.host),
            status_cell(h, mode),
            c.created,
            c.updated,
            c.deleted,
            c.restarts
        );
    }
    let failed = report.hosts.iter().filter(|h| h.failed()).count();
    let unreachable = report.hosts.iter().filter(|h| h.unreachable()).count();
    let _ = writeln!(
        out,
        "| **total: {} host(s)** | {} failed, {} unreachable | {} | {} | {} | {} |\n",
        report.hosts.len(),
        failed,
        unreachable,
        total.created,
        total.updated,
        total.deleted,
        total.restarts
    );
    let with_news: Vec<&HostReport> = report
        .hosts
        .iter()
        .filter(|h| !h.changes.is_empty() || error_of(h).is_some())
        .collect();
    if with_news.is_empty() {
        let _ = writeln!(out, "No changes: every host is in its desired state.\n");
    }
    for h in with_news {
        host_details(&mut out, h, mode);
    }
    out
}
