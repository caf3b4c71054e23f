//! `play log` and `play show`: run records as text, Markdown or JSON.

use std::fmt::Write as _;

use super::RunRecord;

/// One line per run, oldest first: id, time, command, who, result, hosts, changes.
pub fn log(records: &[RunRecord]) -> String {
    if records.is_empty() {
        return "no runs recorded\n".into();
    }
    let mut s = String::new();
    for r in records {
        let changes: usize = r.hosts.iter().map(|h| h.changes.len()).sum();
        let bad = r
            .hosts
            .iter()
            .filter(|h| h.status == "failed" || h.status == "unreachable")
            .count();
        let result = if r.success { "ok" } else { "FAILED" };
        let _ = write!(
            s,
            "{}  {}  {:<8} {:<6} {} host(s), {changes} change(s){}  {}  by {}",
            r.id,
            r.started,
            r.command,
            result,
            r.hosts.len(),
            if bad > 0 {
                format!(", {bad} failed")
            } else {
                String::new()
            },
            r.playbook,
            r.who
        );
        if let Some(p) = &r.plan_id {
            let _ = write!(s, "  plan {p}");
        }
        s.push('\n');
    }
    s
}

fn header(r: &RunRecord) -> Vec<(&'static str, String)> {
    let mut v = vec![
        ("command", r.command.clone()),
        ("started", r.started.clone()),
        ("who", r.who.clone()),
        (
            "git commit",
            r.git_commit.clone().unwrap_or_else(|| "(none)".into()),
        ),
        ("playbook", r.playbook.clone()),
        ("inventory", r.inventory.clone()),
    ];
    if let Some(p) = &r.plan_id {
        let verb = if r.command == "diff" {
            "plan written"
        } else {
            "applied from plan"
        };
        v.push((verb, p.clone()));
    }
    if let Some(f) = &r.plan_file {
        v.push(("plan file", f.clone()));
    }
    v.push((
        "result",
        format!(
            "{} (exit {}) in {:.2}s",
            if r.success { "ok" } else { "failed" },
            r.exit_code,
            r.seconds
        ),
    ));
    v
}

/// One run for people.
pub fn text(r: &RunRecord) -> String {
    let mut s = format!("run {}\n", r.id);
    for (k, v) in header(r) {
        let _ = writeln!(s, "  {k:<18} {v}");
    }
    if let Some(e) = &r.error {
        let _ = writeln!(s, "\nstopped before contacting any host: {e}");
    }
    for h in &r.hosts {
        let _ = writeln!(
            s,
            "\n{}: {} ({} change(s), {} unchanged, {:.2}s)",
            h.host,
            h.status,
            h.changes.len(),
            h.unchanged,
            h.seconds
        );
        if let Some(e) = &h.error {
            for line in e.lines() {
                let _ = writeln!(s, "  ! {line}");
            }
        }
        for c in &h.changes {
            let mark = if r.command == "diff" {
                "planned"
            } else if c.applied {
                "applied"
            } else {
                "not applied"
            };
            let details = if c.details.is_empty() {
                String::new()
            } else {
                format!(" ({})", c.details.join(", "))
            };
            let _ = writeln!(s, "  {} {} {}{details}: {mark}", c.action, c.kind, c.key);
        }
    }
    s
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// One run as Markdown.
pub fn markdown(r: &RunRecord) -> String {
    let mut s = format!("## play run `{}`\n\n| | |\n|---|---|\n", r.id);
    for (k, v) in header(r) {
        let _ = writeln!(s, "| {k} | {} |", md_cell(&v));
    }
    if let Some(e) = &r.error {
        let _ = writeln!(s, "\nstopped before contacting any host:\n```\n{e}\n```");
    }
    s.push_str("\n| host | status | changes | unchanged | seconds |\n|---|---|---:|---:|---:|\n");
    for h in &r.hosts {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.2} |",
            md_cell(&h.host),
            h.status,
            h.changes.len(),
            h.unchanged,
            h.seconds
        );
    }
    for h in r
        .hosts
        .iter()
        .filter(|h| !h.changes.is_empty() || h.error.is_some())
    {
        let _ = writeln!(s, "\n<details><summary>{}</summary>\n", md_cell(&h.host));
        if let Some(e) = &h.error {
            let _ = writeln!(s, "```\n{e}\n```\n");
        }
        for c in &h.changes {
            let _ = writeln!(
                s,
                "- {} {} `{}`{}{}",
                c.action,
                c.kind,
                md_cell(&c.key),
                if c.details.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", md_cell(&c.details.join(", ")))
                },
                if r.command != "diff" && !c.applied {
                    " — not applied"
                } else {
                    ""
                }
            );
        }
        s.push_str("\n</details>\n");
    }
    s
}
