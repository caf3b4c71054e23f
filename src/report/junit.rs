//! The JUnit XML report (`--format junit`), read by Jenkins (`junit` step) and GitLab
//! (`artifacts:reports:junit`).
//!
//! - One `<testcase>` per host (`classname="play.MODE"`, `name=HOST`): a `<failure>` when the
//!   host failed or was unreachable; its changes and diffs in `<system-out>`.
//! - One more `<testcase>` per failed resource (apply: the first change of a failed host that
//!   was not applied), `classname="play.MODE.HOST"`, `name="KIND KEY"`, with a `<failure>`.
//! - With `changes_fail` (`--changes-fail`), a host with changes (pending for diff, applied for
//!   apply) fails too (`type="changes"`): for "no drift" jobs.
//!
//! Give it a report that went through [`super::redact::Redactor::report`].

use std::io;

use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;

use super::json::{action_name, counted, error_of, status_name, unified_diff};
use crate::engine::{HostReport, Mode, RunReport};
use crate::resources::Change;

/// Options of the JUnit report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JunitOptions {
    /// A host with changes is a failure.
    pub changes_fail: bool,
}

/// Characters XML 1.0 cannot carry are replaced by U+FFFD.
fn xml_safe(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => '\u{fffd}',
            c => c,
        })
        .collect()
}

struct Failure {
    kind: &'static str,
    message: String,
    body: String,
}

struct Case {
    classname: String,
    name: String,
    seconds: f64,
    failure: Option<Failure>,
    out: String,
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

fn change_text(c: &Change, h: &HostReport, mode: Mode) -> String {
    let mut s = format!(
        "{} {} {} {}",
        c.action.sign(),
        action_name(c.action),
        c.kind,
        c.key
    );
    let details = c.all_details();
    if !details.is_empty() {
        s.push_str(&format!(" ({})", details.join(", ")));
    }
    if mode == Mode::Apply && !h.applied.contains(&c.index) {
        s.push_str(" [not applied]");
    }
    if let Some(name) = h.names.get(&c.index) {
        s.push_str(&format!("  # {name}"));
    }
    s.push('\n');
    if c.sensitive && c.content.is_some() {
        s.push_str("    (sensitive content changed)\n");
    } else if let Some(d) = unified_diff(c) {
        for l in d.lines() {
            s.push_str("    ");
            s.push_str(l);
            s.push('\n');
        }
    }
    s
}

fn cases(report: &RunReport, opts: JunitOptions) -> Vec<Case> {
    let mode = report.mode;
    let class = match mode {
        Mode::Diff => "play.diff",
        Mode::Apply => "play.apply",
    };
    let mut out = Vec::new();
    for h in &report.hosts {
        let mut play = None;
        let changes: String = (h.changes.iter())
            .map(|c| match super::play_heading(h, c, &mut play) {
                Some(p) => format!("play: {p}\n{}", change_text(c, h, mode)),
                None => change_text(c, h, mode),
            })
            .collect();
        let n_counted = counted(h, mode).count();
        let failure = match (error_of(h), status_name(h, mode)) {
            (Some(e), status) => Some(Failure {
                kind: if status == "unreachable" {
                    "unreachable"
                } else {
                    "failed"
                },
                message: format!("{status}: {}", first_line(e)),
                body: format!("{e}\n{changes}"),
            }),
            (None, _) if opts.changes_fail && n_counted > 0 => Some(Failure {
                kind: "changes",
                message: match mode {
                    Mode::Diff => format!("{n_counted} change(s) pending"),
                    Mode::Apply => format!("{n_counted} change(s) applied"),
                },
                body: changes.clone(),
            }),
            _ => None,
        };
        out.push(Case {
            classname: class.to_string(),
            name: h.host.clone(),
            seconds: h.seconds,
            failure,
            out: changes,
        });
        if mode == Mode::Apply && h.failed() {
            if let Some(c) = h.changes.iter().find(|c| !h.applied.contains(&c.index)) {
                let e = error_of(h).unwrap_or("failed");
                out.push(Case {
                    classname: format!("{class}.{}", h.host),
                    name: format!("{} {}", c.kind, c.key),
                    seconds: 0.0,
                    failure: Some(Failure {
                        kind: "failed",
                        message: first_line(e),
                        body: format!("{e}\n{}", change_text(c, h, mode)),
                    }),
                    out: String::new(),
                });
            }
        }
    }
    out
}

fn write_case(w: &mut Writer<Vec<u8>>, c: &Case) -> io::Result<()> {
    let time = format!("{:.3}", c.seconds);
    let el = w.create_element("testcase").with_attributes([
        ("classname", xml_safe(&c.classname).as_str()),
        ("name", xml_safe(&c.name).as_str()),
        ("time", time.as_str()),
    ]);
    if c.failure.is_none() && c.out.is_empty() {
        el.write_empty()?;
        return Ok(());
    }
    el.write_inner_content(|w| {
        if let Some(f) = &c.failure {
            w.create_element("failure")
                .with_attributes([("type", f.kind), ("message", xml_safe(&f.message).as_str())])
                .write_text_content(BytesText::new(&xml_safe(&f.body)))?;
        }
        // A failure's text already lists the changes.
        if c.failure.is_none() && !c.out.is_empty() {
            w.create_element("system-out")
                .write_text_content(BytesText::new(&xml_safe(&c.out)))?;
        }
        Ok(())
    })?;
    Ok(())
}

fn write(report: &RunReport, playbook: &str, opts: JunitOptions) -> io::Result<Vec<u8>> {
    let cases = cases(report, opts);
    let tests = cases.len().to_string();
    let failures = cases
        .iter()
        .filter(|c| c.failure.is_some())
        .count()
        .to_string();
    let time = format!("{:.3}", report.seconds);
    let mode = match report.mode {
        Mode::Diff => "diff",
        Mode::Apply => "apply",
    };
    let suite = xml_safe(&format!("play {mode} {playbook}"));
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.create_element("testsuites")
        .with_attributes([
            ("name", suite.as_str()),
            ("tests", tests.as_str()),
            ("failures", failures.as_str()),
            ("errors", "0"),
            ("time", time.as_str()),
        ])
        .write_inner_content(|w| {
            w.create_element("testsuite")
                .with_attributes([
                    ("name", suite.as_str()),
                    ("tests", tests.as_str()),
                    ("failures", failures.as_str()),
                    ("errors", "0"),
                    ("skipped", "0"),
                    ("time", time.as_str()),
                ])
                .write_inner_content(|w| {
                    for c in &cases {
                        write_case(w, c)?;
                    }
                    Ok(())
                })?;
            Ok(())
        })?;
    let mut bytes = w.into_inner();
    bytes.push(b'\n');
    Ok(bytes)
}

/// The JUnit XML text of a (redacted) report.
pub fn render(report: &RunReport, playbook: &str, opts: JunitOptions) -> String {
    match write(report, playbook, opts) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        // Writing into memory does not fail; keep a valid document if it ever does.
        Err(e) => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"play\" tests=\"1\" failures=\"1\"><testsuite name=\"play\" tests=\"1\" failures=\"1\"><testcase classname=\"play\" name=\"report\"><failure message=\"cannot write the report: {}\"/></testcase></testsuite></testsuites>\n",
            xml_safe(&e.to_string()).replace(['"', '<', '>', '&'], "_")
        ),
    }
}
