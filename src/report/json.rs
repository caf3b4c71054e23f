//! The JSON report of `play diff` / `play apply` (`--format json`): a stable, versioned schema,
//! documented in `docs/report-schema.md` and described by `docs/report.schema.json`.
//!
//! Give it a report that went through [`super::redact::Redactor::report`]: sensitive changes
//! carry no content, sizes or hashes.
//!
//! The helpers here ([`Counts`], [`unified_diff`], [`action_name`]) are shared by the Markdown
//! and JUnit printers.

use serde::{Deserialize, Serialize};

use super::shown::{content_shown, Shown};
use crate::engine::{HostReport, HostStatus, Mode, RunReport};
use crate::resources::{Action, Change};

/// Version of the JSON schema. Bumped only for incompatible changes (a field removed, renamed
/// or retyped); new optional fields keep the version.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonReport {
    pub schema_version: u32,
    /// Version of `play` that wrote the report.
    pub play_version: String,
    /// `diff` or `apply`.
    pub command: String,
    /// The playbook, as given on the command line.
    pub playbook: String,
    /// True when every host ended `ok` or `changed`.
    pub success: bool,
    pub seconds: f64,
    /// `play apply --plan`: the id of the saved plan applied (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_from_plan: Option<String>,
    pub totals: Totals,
    pub hosts: Vec<JsonHost>,
}

/// Counts over all hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub hosts: usize,
    /// Hosts by status.
    pub ok: usize,
    pub changed: usize,
    pub failed: usize,
    pub unreachable: usize,
    /// Changes (planned by diff, applied by apply) by kind of action.
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    pub restarts: usize,
    /// All changes listed in the report (for apply: attempted, applied or not).
    pub changes: usize,
}

/// One host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonHost {
    pub host: String,
    /// `ok` (nothing to change), `changed` (changes planned or applied), `failed`, `unreachable`.
    pub status: String,
    /// Why the host failed or was unreachable.
    pub error: Option<String>,
    /// Resources already in their desired state.
    pub unchanged: usize,
    pub seconds: f64,
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    pub restarts: usize,
    pub changes: Vec<JsonChange>,
    /// Checks (`command:` with `changed: false`): listed (diff) or run (apply), never changes
    /// and never counted. Absent when the host has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<JsonCheck>,
}

/// One check of a host (`command:` with `changed: false`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonCheck {
    pub kind: String,
    /// The command line.
    pub key: String,
    /// Why it runs (`runs on every apply, never a change`, or its guard).
    pub details: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One change of a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonChange {
    /// Resource kind: `file`, `directory`, `link`, ...
    pub kind: String,
    /// The resource's key (a path for files).
    pub key: String,
    /// `create`, `update`, `delete`, `attrs` (owner/group/mode only), ...
    pub action: String,
    /// apply: whether it was applied; diff: null.
    pub applied: Option<bool>,
    /// Human summaries: `mode 0600 → 0644`, `target /a → /b`.
    pub details: Vec<String>,
    /// The earlier change of this run whose outcome this one depends on (`git /srv/app`):
    /// what it does is known only when it runs. Absent or null otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_after: Option<String>,
    /// The resource's `name:` in the playbook. Absent when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The `name:` of the resource's play. Absent when the play has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub play: Option<String>,
    /// Content withheld (`sensitive: true`, or it holds a secret).
    pub sensitive: bool,
    /// The change restarts or reloads a program or service (see `details`).
    pub restart: bool,
    /// null when the resource does not exist yet (create).
    pub before: Option<Side>,
    /// null when the resource is deleted.
    pub after: Option<Side>,
    /// Unified diff of a text file's content; null when not a content change, binary, too
    /// large to fetch, or sensitive.
    pub diff: Option<String>,
}

/// One side of a change: size and sha256 of a file's content, when known and not sensitive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Side {
    pub size: Option<u64>,
    pub sha256: Option<String>,
}

/// The action's name as in the JSON report (`create`, `update`, `delete`, `attrs`, ...).
pub fn action_name(a: Action) -> String {
    match serde_json::to_value(a) {
        Ok(serde_json::Value::String(s)) => s,
        _ => a.verb().to_string(),
    }
}

/// Changes of a host by kind of action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    pub restarts: usize,
}

impl Counts {
    /// Counts the changes that count for this mode (apply: the applied ones). A change that
    /// restarts or reloads counts in `restarts`; one that does nothing else counts only there.
    pub fn of(h: &HostReport, mode: Mode) -> Counts {
        let mut c = Counts::default();
        for ch in counted(h, mode) {
            if restarts(ch) {
                c.restarts += 1;
                if ch.content.is_none() && ch.details.is_empty() && ch.files.is_empty() {
                    continue;
                }
            }
            match action_name(ch.action).as_str() {
                "create" => c.created += 1,
                "delete" => c.deleted += 1,
                "restart" | "reload" => c.restarts += 1,
                _ => c.updated += 1,
            }
        }
        c
    }
    pub fn total(&self) -> usize {
        self.created + self.updated + self.deleted + self.restarts
    }
}

/// True when the change restarts or reloads something.
pub fn restarts(c: &Change) -> bool {
    !c.restarts.is_empty()
}

/// Changes that count: all for diff, applied ones for apply.
pub fn counted(h: &HostReport, mode: Mode) -> impl Iterator<Item = &Change> {
    h.changes
        .iter()
        .filter(move |c| mode == Mode::Diff || h.applied.contains(&c.index))
}

/// `ok`, `changed`, `failed`, `unreachable` or `not_run` (an earlier batch stopped the run).
pub fn status_name(h: &HostReport, mode: Mode) -> &'static str {
    match &h.status {
        HostStatus::Failed(_) => "failed",
        HostStatus::Unreachable(_) => "unreachable",
        HostStatus::NotRun(_) => "not_run",
        HostStatus::Ok if counted(h, mode).next().is_some() => "changed",
        HostStatus::Ok => "ok",
    }
}

/// The error message of a failed or unreachable host.
pub fn error_of(h: &HostReport) -> Option<&str> {
    match &h.status {
        HostStatus::Ok => None,
        HostStatus::Failed(m) | HostStatus::Unreachable(m) | HostStatus::NotRun(m) => Some(m),
    }
}

/// The unified diff of a text file's content change (no colors), capped per change (see
/// [`super::shown`]); `None` when there is none to show (not a content change, sensitive,
/// binary, the old content was not fetched, or large content of very long lines).
pub fn unified_diff(c: &Change) -> Option<String> {
    match content_shown(c, &c.key)? {
        Shown::Diff(d) => Some(d),
        Shown::Summary(_) => None,
    }
}

fn change(c: &Change, h: &HostReport, mode: Mode) -> JsonChange {
    let content = c.content.as_ref().filter(|_| !c.sensitive);
    let before = match c.action {
        Action::Create => None,
        _ => Some(Side {
            size: content.and_then(|cc| cc.old_size),
            sha256: content.and_then(|cc| cc.old_sha256.clone()),
        }),
    };
    let after = match c.action {
        Action::Delete => None,
        _ => Some(Side {
            size: content.map(|cc| cc.new.len() as u64),
            sha256: content.map(|cc| cc.new_sha256.clone()),
        }),
    };
    JsonChange {
        kind: c.kind.to_string(),
        key: c.key.clone(),
        action: action_name(c.action),
        applied: match mode {
            Mode::Diff => None,
            Mode::Apply => Some(h.applied.contains(&c.index)),
        },
        details: c.all_details(),
        known_after: c.after.clone(),
        name: h.names.get(&c.index).cloned(),
        play: h.plays.get(&c.index).cloned(),
        sensitive: c.sensitive,
        restart: restarts(c),
        before,
        after,
        diff: unified_diff(c),
    }
}

/// Builds the JSON document of a (redacted) report.
pub fn build(report: &RunReport, playbook: &str) -> JsonReport {
    let mode = report.mode;
    let mut totals = Totals {
        hosts: report.hosts.len(),
        ..Totals::default()
    };
    let hosts = report
        .hosts
        .iter()
        .map(|h| {
            let counts = Counts::of(h, mode);
            let status = status_name(h, mode);
            match status {
                "ok" => totals.ok += 1,
                "changed" => totals.changed += 1,
                "failed" => totals.failed += 1,
                _ => totals.unreachable += 1,
            }
            totals.created += counts.created;
            totals.updated += counts.updated;
            totals.deleted += counts.deleted;
            totals.restarts += counts.restarts;
            totals.changes += h.changes.len();
            JsonHost {
                host: h.host.clone(),
                status: status.to_string(),
                error: error_of(h).map(str::to_string),
                unchanged: h.unchanged,
                seconds: h.seconds,
                created: counts.created,
                updated: counts.updated,
                deleted: counts.deleted,
                restarts: counts.restarts,
                changes: h.changes.iter().map(|c| change(c, h, mode)).collect(),
                checks: h
                    .checks
                    .iter()
                    .map(|c| JsonCheck {
                        kind: c.kind.to_string(),
                        key: c.key.clone(),
                        details: c.details.clone(),
                        name: h.names.get(&c.index).cloned(),
                    })
                    .collect(),
            }
        })
        .collect();
    JsonReport {
        schema_version: SCHEMA_VERSION,
        play_version: env!("CARGO_PKG_VERSION").to_string(),
        command: match mode {
            Mode::Diff => "diff",
            Mode::Apply => "apply",
        }
        .to_string(),
        playbook: playbook.to_string(),
        success: report.all_ok(),
        seconds: report.seconds,
        applied_from_plan: report.plan_id.clone(),
        totals,
        hosts,
    }
}

/// The JSON text (pretty, with a final newline).
pub fn render(report: &RunReport, playbook: &str) -> String {
    let doc = build(report, playbook);
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_else(|e| {
        format!("{{\"schema_version\": {SCHEMA_VERSION}, \"error\": \"{e}\"}}")
    });
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::HostStatus;
    use crate::resources::Action;

    fn program(index: usize, details: &[&str], restarts: &[&str]) -> Change {
        Change {
            kind: crate::resources::example::kind("program").expect("a kind"),
            key: format!("p{index}"),
            action: Action::Update,
            details: details.iter().map(|d| d.to_string()).collect(),
            content: None,
            sensitive: false,
            index,
            after: None,
            expect: None,
            files: Default::default(),
            restarts: restarts.iter().map(|d| d.to_string()).collect(),
            attrs: false,
        }
    }

    /// A change that only restarts counts as a restart; one that also changes state counts
    /// twice; a detail that merely reads like a restart is not one (typed, not parsed).
    #[test]
    fn restarts_are_counted_from_the_typed_list() {
        let h = HostReport {
            host: "h1".into(),
            status: HostStatus::Ok,
            checks: Vec::new(),
            changes: vec![
                program(0, &[], &["restart: /etc/a changed"]),
                program(1, &["STOPPED → RUNNING"], &["restart: conf changed"]),
                program(2, &["restarts: 3 (a detail, not a restart)"], &[]),
            ],
            applied: Vec::new(),
            unchanged: 0,
            facts: None,
            round_trips: 1,
            seconds: 0.0,
            notes: Vec::new(),
            prints: Vec::new(),
            names: Default::default(),
            plays: Default::default(),
        };
        let c = Counts::of(&h, Mode::Diff);
        assert_eq!((c.restarts, c.updated, c.created, c.deleted), (2, 2, 0, 0));
        assert!(!restarts(&h.changes[2]));
    }

    /// A resource's `name:` is the change's `name` field; a change without one has none.
    #[test]
    fn a_named_resource_carries_its_name() {
        let mut h = HostReport::new("h1");
        h.changes = vec![
            program(0, &[], &[]),
            program(1, &["STOPPED → RUNNING"], &[]),
        ];
        h.names.insert(1, "start the app".into());
        let unnamed = change(&h.changes[0], &h, Mode::Diff);
        let named = change(&h.changes[1], &h, Mode::Diff);
        assert_eq!(unnamed.name, None);
        assert_eq!(named.name.as_deref(), Some("start the app"));
        let text = serde_json::to_string(&unnamed).unwrap_or_default();
        assert!(
            text.starts_with('{') && !text.contains("\"name\""),
            "{text}"
        );
    }

    /// Names of resources and of plays in every format: the play's as a heading where the
    /// play changes, the resource's on its line.
    #[test]
    fn names_of_plays_and_resources_are_in_every_format() {
        let mut h = HostReport::new("h1");
        h.changes = vec![
            program(0, &[], &[]),
            program(1, &[], &[]),
            program(2, &[], &[]),
        ];
        h.names.insert(1, "start the app".into());
        h.plays.insert(0, "web tier".into());
        h.plays.insert(1, "web tier".into());
        h.plays.insert(2, "workers".into());
        let report = RunReport {
            mode: Mode::Diff,
            hosts: vec![h],
            seconds: 0.0,
            plan_id: None,
        };
        let json = build(&report, "site.yml");
        let doc = serde_json::to_value(&json).unwrap_or_default();
        let changes = &doc["hosts"][0]["changes"];
        assert_eq!(changes[1]["name"], "start the app");
        assert_eq!(changes[1]["play"], "web tier");
        assert_eq!(changes[2]["play"], "workers");

        let text = crate::report::plan::text(&report, false);
        let text = String::from_utf8(strip_ansi_escapes(&text)).unwrap_or_default();
        assert!(
            text.contains("h1:\n  play: web tier\n  ~ update program p0\n  ~ update program p1  # start the app\n  play: workers\n  ~ update program p2\n"),
            "{text}"
        );
        let md = crate::report::markdown::render(&report, "site.yml");
        assert!(
            md.contains("**play: web tier**\n\n- `~` update program `p0`"),
            "{md}"
        );
        assert!(md.contains("`p1` — *start the app*"), "{md}");
        assert_eq!(md.matches("**play: ").count(), 2, "{md}");
        let xml = crate::report::junit::render(&report, "site.yml", Default::default());
        assert!(
            xml.contains("play: web tier\n~ update program p0\n~ update program p1  # start the app\nplay: workers\n"),
            "{xml}"
        );
    }

    fn strip_ansi_escapes(s: &str) -> Vec<u8> {
        anstream::adapter::strip_str(s).to_string().into_bytes()
    }
}
