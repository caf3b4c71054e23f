//! Run history: every `play apply`, `play rollback` and `play diff --out` appends a record
//! (one JSON file, `RUN-ID.json`) under `.play/runs/` of the project (the working folder), or
//! `--record DIR`. `play log` lists them, `play show RUN` prints one.
//!
//! Records are built from redacted reports ([`crate::report::redact::Redactor::report`]) and
//! pass through the redactor once more as text: they never hold a secret value, a sensitive
//! content, or any content at all (changes are listed by kind, key, action and details).

pub mod render;

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::{HostReport, HostStatus, Mode, RunReport};
use crate::report::redact::Redactor;

/// Version of the record format.
pub const RECORD_VERSION: u32 = 1;

/// Where records go by default, relative to the project (the working folder).
pub const DEFAULT_DIR: &str = ".play/runs";

/// One run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub record_version: u32,
    /// `run-YYYYMMDDTHHMMSSmmmZ-HEX`.
    pub id: String,
    /// `apply`, `rollback` or `diff`.
    pub command: String,
    /// When the run started (RFC 3339, UTC).
    pub started: String,
    /// `USER@HOSTNAME` of who ran it.
    pub who: String,
    /// The project's git commit (`git rev-parse HEAD`), when it is a git checkout.
    #[serde(default)]
    pub git_commit: Option<String>,
    pub playbook: String,
    pub inventory: String,
    /// The plan applied (`apply --plan`) or written (`diff --out`).
    #[serde(default)]
    pub plan_id: Option<String>,
    /// The plan file written by `diff --out`.
    #[serde(default)]
    pub plan_file: Option<String>,
    /// True when every host ended ok.
    pub success: bool,
    pub exit_code: i32,
    pub seconds: f64,
    /// Why the run stopped before contacting any host (a broken playbook, changed sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub hosts: Vec<HostRecord>,
}

/// One host of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostRecord {
    pub host: String,
    /// `ok`, `changed`, `failed`, `unreachable`, `not-run`.
    pub status: String,
    #[serde(default)]
    pub error: Option<String>,
    pub seconds: f64,
    pub unchanged: usize,
    pub changes: Vec<ChangeRecord>,
}

/// One change: planned (diff) or attempted (apply, rollback).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRecord {
    pub kind: String,
    pub key: String,
    pub action: String,
    #[serde(default)]
    pub details: Vec<String>,
    /// Apply: confirmed applied. Diff: false.
    pub applied: bool,
}

/// Why history could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cannot write the run record in {dir}: {source}")]
    Write {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read run records in {dir}: {source}")]
    Read {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a run record: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("no run {0} in {1} (see `play log`)")]
    NotFound(String, PathBuf),
    #[error("run {0} is ambiguous in {1}: {2}")]
    Ambiguous(String, PathBuf, String),
}

/// What a run was, besides its report.
#[derive(Debug, Clone)]
pub struct RunContext<'a> {
    pub command: &'a str,
    pub started: String,
    pub playbook: &'a str,
    pub inventory: &'a str,
    pub plan_id: Option<String>,
    pub plan_file: Option<String>,
    pub exit_code: i32,
}

fn status_name(h: &HostReport) -> &'static str {
    match &h.status {
        HostStatus::Ok if h.changes.is_empty() => "ok",
        HostStatus::Ok => "changed",
        HostStatus::Failed(_) => "failed",
        HostStatus::Unreachable(_) => "unreachable",
        HostStatus::NotRun(_) => "not-run",
    }
}

/// The record of a run that stopped before contacting any host.
pub fn stopped(ctx: &RunContext<'_>, error: &str, mode: Mode) -> RunRecord {
    let report = RunReport {
        mode,
        hosts: Vec::new(),
        seconds: 0.0,
        plan_id: None,
    };
    let mut rec = record(&report, ctx);
    rec.success = false;
    rec.error = Some(Redactor::current().string(error));
    rec
}

/// The record of a run, from its report (redacted again here, strings and all); the git
/// commit is the working folder's (the project's).
pub fn record(report: &RunReport, ctx: &RunContext<'_>) -> RunRecord {
    let red = Redactor::current();
    let report = red.report(report);
    let hosts = report
        .hosts
        .iter()
        .map(|h| HostRecord {
            host: h.host.clone(),
            status: status_name(h).to_string(),
            error: match &h.status {
                HostStatus::Ok => None,
                HostStatus::Failed(m) | HostStatus::Unreachable(m) | HostStatus::NotRun(m) => {
                    Some(m.clone())
                }
            },
            seconds: h.seconds,
            unchanged: h.unchanged,
            changes: h
                .changes
                .iter()
                .map(|c| ChangeRecord {
                    kind: c.kind.as_str().to_string(),
                    key: c.key.clone(),
                    action: c.action.verb().to_string(),
                    details: c.details.clone(),
                    applied: report.mode == Mode::Apply && h.applied.contains(&c.index),
                })
                .collect(),
        })
        .collect();
    RunRecord {
        record_version: RECORD_VERSION,
        id: crate::plan_file::new_id("run"),
        command: ctx.command.to_string(),
        started: ctx.started.clone(),
        who: who(),
        git_commit: git_commit(Path::new(".")),
        playbook: red.string(ctx.playbook),
        inventory: red.string(ctx.inventory),
        plan_id: ctx.plan_id.clone(),
        plan_file: ctx.plan_file.clone(),
        success: report.all_ok(),
        exit_code: ctx.exit_code,
        seconds: report.seconds,
        error: None,
        hosts,
    }
}

/// Who ran it: `USER@HOSTNAME`, and in CI the person behind the job (see [`ci_user`]).
pub fn who() -> String {
    let local = local_user();
    match ci_user(|k| std::env::var(k).ok()) {
        Some(person) => format!("{person} via {local}"),
        None => local,
    }
}

/// The person who started a CI job: GitLab's `GITLAB_USER_LOGIN`, GitHub's `GITHUB_ACTOR`,
/// Jenkins' `BUILD_USER_ID` (build-user-vars plugin), as `NAME (VARIABLE)`.
pub fn ci_user(env: impl Fn(&str) -> Option<String>) -> Option<String> {
    ["GITLAB_USER_LOGIN", "GITHUB_ACTOR", "BUILD_USER_ID"]
        .iter()
        .find_map(|k| {
            env(k)
                .filter(|v| !v.trim().is_empty())
                .map(|v| format!("{} ({k})", v.trim()))
        })
}

/// `USER@HOSTNAME`: `$USER` (or `$LOGNAME`), else the name of the process's uid in
/// `/etc/passwd`, else `uid N`.
fn local_user() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            let uid = own_uid();
            std::fs::read_to_string("/etc/passwd")
                .ok()
                .and_then(|text| user_of(&text, uid))
                .unwrap_or_else(|| format!("uid {uid}"))
        });
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    if host.is_empty() {
        user
    } else {
        format!("{user}@{host}")
    }
}

/// The name of `uid` in passwd text.
fn user_of(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let id: u32 = f.nth(1)?.parse().ok()?;
        (id == uid).then(|| name.to_string())
    })
}

fn own_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(0)
}

/// `git rev-parse HEAD` in `project`, when it is a git checkout.
pub fn git_commit(project: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(project)
        .args(["rev-parse", "--verify", "-q", "HEAD"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !s.is_empty()).then_some(s)
}

impl RunRecord {
    /// The record as JSON text (redacted once more as text).
    pub fn to_json(&self) -> String {
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        Redactor::current().string(&text) + "\n"
    }
}

/// Appends `rec` to `dir` (created, mode 0700; the record 0600). Returns its path.
pub fn append(dir: &Path, rec: &RunRecord) -> Result<PathBuf, HistoryError> {
    let err = |source| HistoryError::Write {
        dir: dir.to_path_buf(),
        source,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(err)?;
    let path = dir.join(format!("{}.json", rec.id));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(err)?;
    f.write_all(rec.to_json().as_bytes()).map_err(err)?;
    Ok(path)
}

/// Every record of `dir`, oldest first (an absent folder has none).
pub fn list(dir: &Path) -> Result<Vec<RunRecord>, HistoryError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(HistoryError::Read {
                dir: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut paths: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths.iter().map(|p| load(p)).collect()
}

fn load(path: &Path) -> Result<RunRecord, HistoryError> {
    let text = std::fs::read_to_string(path).map_err(|source| HistoryError::Read {
        dir: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| HistoryError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

/// The run `id` (a full id, a unique part of one, or `last`).
pub fn find(dir: &Path, id: &str) -> Result<RunRecord, HistoryError> {
    let all = list(dir)?;
    if id == "last" {
        return all
            .into_iter()
            .last()
            .ok_or_else(|| HistoryError::NotFound(id.into(), dir.to_path_buf()));
    }
    if let Some(r) = all.iter().find(|r| r.id == id) {
        return Ok(r.clone());
    }
    let hits: Vec<&RunRecord> = all.iter().filter(|r| r.id.contains(id)).collect();
    match hits.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(HistoryError::NotFound(id.into(), dir.to_path_buf())),
        many => Err(HistoryError::Ambiguous(
            id.into(),
            dir.to_path_buf(),
            many.iter()
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{Action, Change, ContentChange};

    fn report() -> RunReport {
        let secret_content = b"password=vault-s3cret\n".to_vec();
        let mut h = HostReport {
            host: "web1".into(),
            status: HostStatus::Failed("cannot open vault-s3cret".into()),
            checks: Vec::new(),
            changes: vec![Change {
                kind: crate::resources::example::kind("file").expect("a kind"),
                key: "/etc/app/vault-s3cret.ini".into(),
                action: Action::Create,
                details: vec![],
                content: Some(ContentChange {
                    path: "/etc/app/x.ini".into(),
                    old: None,
                    old_sha256: None,
                    old_size: None,
                    old_unread: None,
                    new_sha256: crate::engine::planfile::sha256_hex(&secret_content),
                    new: secret_content,
                }),
                sensitive: false,
                index: 0,
                after: None,
                expect: None,
                files: Default::default(),
                attrs: false,
                restarts: Default::default(),
            }],
            applied: vec![0],
            unchanged: 2,
            facts: None,
            round_trips: 1,
            seconds: 0.5,
            notes: vec![],
            prints: vec![],
            names: Default::default(),
            plays: Default::default(),
        };
        h.notes.push("note".into());
        RunReport {
            mode: Mode::Apply,
            hosts: vec![h],
            seconds: 1.0,
            plan_id: None,
        }
    }

    #[test]
    fn who_names_the_ci_user_behind_a_job() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            ci_user(env(&[("GITLAB_USER_LOGIN", "alice")])).as_deref(),
            Some("alice (GITLAB_USER_LOGIN)")
        );
        assert_eq!(
            ci_user(env(&[("GITLAB_USER_LOGIN", " "), ("BUILD_USER_ID", "bob")])).as_deref(),
            Some("bob (BUILD_USER_ID)")
        );
        assert_eq!(ci_user(env(&[])), None);
    }

    #[test]
    fn who_names_the_uid_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\ndeploy:x:1000:1000::/home/deploy:/bin/sh\n";
        assert_eq!(user_of(passwd, 1000).as_deref(), Some("deploy"));
        assert_eq!(user_of(passwd, 0).as_deref(), Some("root"));
        assert_eq!(user_of(passwd, 7), None);
    }

    #[test]
    fn records_round_trip_and_hold_no_secret() {
        crate::vault::register_strings(["vault-s3cret".to_string()]);
        let dir = tempfile::tempdir().expect("tempdir");
        let ctx = RunContext {
            command: "apply",
            started: crate::plan_file::now_rfc3339(),
            playbook: "site.yml",
            inventory: "inventory/",
            plan_id: Some("plan-x".into()),
            plan_file: None,
            exit_code: 1,
        };
        let rec = record(&report(), &ctx);
        let path = append(&dir.path().join("runs"), &rec).expect("append");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains("vault-s3cret"), "{text}");
        assert!(text.contains("[redacted]"));
        let all = list(&dir.path().join("runs")).expect("list");
        assert_eq!(all.len(), 1);
        assert!(all[0].hosts[0].changes[0].applied);
        assert_eq!(all[0].hosts[0].status, "failed");
        let found = find(&dir.path().join("runs"), &rec.id[4..]).expect("find");
        assert_eq!(found.id, rec.id);
        assert!(matches!(
            find(&dir.path().join("runs"), "nope"),
            Err(HistoryError::NotFound(..))
        ));
        assert_eq!(
            find(&dir.path().join("runs"), "last").expect("last").id,
            rec.id
        );
        assert!(list(&dir.path().join("none")).expect("absent").is_empty());
    }
}
