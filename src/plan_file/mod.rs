//! Plan files: what `play diff --out FILE` saves and `play apply --plan FILE` applies exactly.
//!
//! A JSON document, versioned ([`FORMAT_VERSION`]), described in `docs/plan-file.md` and by
//! `docs/plan.schema.json`. It holds the project's source digest ([`sources`]), and per host the
//! planned changes with what each depends on in the observed state (its fingerprint) and its
//! rendered content — sensitive and vaulted contents only as a salted digest (see
//! [`crate::engine::planfile`]). Written with mode 0600.

pub mod sources;

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::planfile::{ChangePrint, Expected, HostExpectation};
use crate::engine::{HostStatus, RunReport};

/// Version of the plan file format. A reader refuses other versions.
pub const FORMAT_VERSION: u32 = 1;

/// A saved plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanFile {
    pub format_version: u32,
    /// Unique id of the plan (`plan-YYYYMMDDTHHMMSSmmmZ-HEX`).
    pub id: String,
    /// When it was made (RFC 3339, UTC).
    pub created: String,
    /// Version of `play` that made it.
    pub play_version: String,
    /// The playbook, as given on the command line.
    pub playbook: String,
    /// The inventory, as given on the command line.
    pub inventory: String,
    /// `--limit`, when one was given.
    #[serde(default)]
    pub limit: Option<String>,
    /// `--tags` / `--skip-tags`, when given: `apply --plan` runs with the same selection.
    #[serde(
        default,
        skip_serializing_if = "crate::playbook::TagSelection::is_default"
    )]
    pub tags: crate::playbook::TagSelection,
    /// Salt of the digests of sensitive contents (random, per plan).
    pub salt: String,
    /// When the `diff` run started (seconds since the epoch, UTC): the value of the built-in
    /// var `play_run_time`, which `apply --plan` renders with again (a release named after the
    /// run's time is the one reviewed). Absent from plans of earlier versions: the apply's own
    /// time is used then (a plan naming `play_run_time` is then refused as stale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_time: Option<u64>,
    /// The project's sources when the plan was made.
    pub sources: sources::Sources,
    /// Every targeted host, in inventory order.
    pub hosts: Vec<PlanHost>,
}

/// One host of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanHost {
    pub host: String,
    /// Why the host has no plan (it failed or was unreachable at `diff --out`): `apply --plan`
    /// refuses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The changes, in apply order, each with its fingerprint.
    #[serde(default)]
    pub changes: Vec<ChangePrint>,
}

/// Why a plan file cannot be written or read, or does not fit the run.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("cannot write plan file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read plan file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a plan file: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: plan file format {found}, this play reads format {FORMAT_VERSION}")]
    Version { path: PathBuf, found: u32 },
    #[error(transparent)]
    Sources(#[from] sources::SourcesError),
    #[error("{path}: host {host}, {kind} {key}: the content does not match its digest (the plan file was edited)")]
    Tampered {
        path: PathBuf,
        host: String,
        kind: String,
        key: String,
    },
}

impl PlanFile {
    /// What `apply --plan` expects of each host.
    pub fn expected(&self) -> Expected {
        Expected {
            plan_id: self.id.clone(),
            salt: self.salt.clone(),
            hosts: self
                .hosts
                .iter()
                .map(|h| {
                    let e = match &h.error {
                        Some(why) => HostExpectation::NotPlanned(why.clone()),
                        None => HostExpectation::Changes(h.changes.clone()),
                    };
                    (h.host.clone(), e)
                })
                .collect(),
        }
    }

    /// Changes over all hosts.
    pub fn change_count(&self) -> usize {
        self.hosts.iter().map(|h| h.changes.len()).sum()
    }

    /// The plan as JSON text.
    pub fn to_json(&self) -> String {
        // A tree of strings, numbers and maps with string keys: serializing cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Writes the plan to `path`, mode 0600 (replacing the file whole).
    pub fn write(&self, path: &Path) -> Result<(), PlanFileError> {
        let err = |source| PlanFileError::Write {
            path: path.to_path_buf(),
            source,
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "plan".into());
        let tmp = dir.join(format!(".{name}.play-tmp.{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(self.to_json().as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            err(e)
        })
    }

    /// Reads a plan file (format checked).
    pub fn read(path: &Path) -> Result<PlanFile, PlanFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| PlanFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        PlanFile::parse(path, &text)
    }

    /// Parses plan file text (`path` names it in errors).
    pub fn parse(path: &Path, text: &str) -> Result<PlanFile, PlanFileError> {
        #[derive(Deserialize)]
        struct Head {
            format_version: u32,
        }
        let head: Head = serde_json::from_str(text).map_err(|source| PlanFileError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        if head.format_version != FORMAT_VERSION {
            return Err(PlanFileError::Version {
                path: path.to_path_buf(),
                found: head.format_version,
            });
        }
        let plan: PlanFile = serde_json::from_str(text).map_err(|source| PlanFileError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        plan.check_contents(path)?;
        Ok(plan)
    }

    /// Every clear content matches its digest: what reviewers read is what the digest (the
    /// thing compared at apply) stands for.
    fn check_contents(&self, path: &Path) -> Result<(), PlanFileError> {
        use base64::Engine as _;
        for h in &self.hosts {
            for c in &h.changes {
                let Some(cc) = &c.content else { continue };
                let bytes = match (&cc.text, &cc.base64) {
                    (Some(t), None) => Some(t.as_bytes().to_vec()),
                    (None, Some(b)) => base64::engine::general_purpose::STANDARD.decode(b).ok(),
                    (None, None) if cc.digest.starts_with("salted-sha256:") => continue,
                    _ => None,
                };
                let ok = bytes.is_some_and(|b| {
                    cc.digest == format!("sha256:{}", crate::engine::planfile::sha256_hex(&b))
                });
                if !ok {
                    return Err(PlanFileError::Tampered {
                        path: path.to_path_buf(),
                        host: h.host.clone(),
                        kind: c.kind.clone(),
                        key: c.key.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// `PREFIX-YYYYMMDDTHHMMSSmmmZ-HEX8` (UTC, milliseconds): sortable by time, unique by its
/// random part.
pub fn new_id(prefix: &str) -> String {
    let now = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    let stamp: String = now
        .chars()
        .filter(|c| !matches!(c, '-' | ':' | '.'))
        .collect();
    format!("{prefix}-{stamp}-{}", &random_hex(4))
}

/// `n` random bytes as hex (from the kernel; falls back on time and pid).
pub fn random_hex(n: usize) -> String {
    use std::io::Read;
    let mut buf = vec![0u8; n];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .is_ok();
    if !ok {
        let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
        let h = crate::engine::planfile::sha256_hex(seed.as_bytes());
        return h[..(2 * n).min(h.len())].to_string();
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// The current time, RFC 3339 (UTC, seconds).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Builds a plan from a `diff` run's hosts (`planned`: the prints of hosts that were planned;
/// `failed`: why the others were not).
pub struct NewPlan<'a> {
    pub playbook: &'a str,
    pub inventory: &'a str,
    pub limit: Option<&'a str>,
    pub tags: crate::playbook::TagSelection,
    pub salt: String,
    /// When the run started (seconds since the epoch): `play_run_time`.
    pub run_time: u64,
    pub sources: sources::Sources,
    /// Hosts in order: Ok(changes) or Err(why it has no plan).
    pub hosts: Vec<(String, Result<Vec<ChangePrint>, String>)>,
}

impl NewPlan<'_> {
    pub fn build(self) -> PlanFile {
        PlanFile {
            format_version: FORMAT_VERSION,
            id: new_id("plan"),
            created: now_rfc3339(),
            play_version: env!("CARGO_PKG_VERSION").to_string(),
            playbook: self.playbook.to_string(),
            inventory: self.inventory.to_string(),
            limit: self.limit.map(str::to_string),
            tags: self.tags,
            salt: self.salt,
            run_time: Some(self.run_time),
            sources: self.sources,
            hosts: self
                .hosts
                .into_iter()
                .map(|(host, r)| match r {
                    Ok(changes) => PlanHost {
                        host,
                        error: None,
                        changes,
                    },
                    Err(why) => PlanHost {
                        host,
                        error: Some(why),
                        changes: Vec::new(),
                    },
                })
                .collect(),
        }
    }
}

/// The hosts of a `diff` run as a plan holds them, in order: a planned host's changes (its
/// prints), or why the host has no plan.
pub fn hosts_of(
    report: &RunReport,
    prints: &BTreeMap<String, Vec<ChangePrint>>,
) -> Vec<(String, Result<Vec<ChangePrint>, String>)> {
    report
        .hosts
        .iter()
        .map(|h| {
            let r = match (&h.status, prints.get(&h.host)) {
                (HostStatus::Ok, Some(c)) => Ok(c.clone()),
                (HostStatus::Ok, None) => Err("not planned".to_string()),
                (HostStatus::Failed(m), _) => Err(format!("failed: {m}")),
                (HostStatus::Unreachable(m), _) => Err(format!("unreachable: {m}")),
                (HostStatus::NotRun(m), _) => Err(format!("not run: {m}")),
            };
            (h.host.clone(), r)
        })
        .collect()
}

/// The sources' differences, for the refusal message.
pub fn source_changes(then: &sources::Sources, now: &sources::Sources) -> Vec<String> {
    let a: BTreeMap<&str, &str> = then
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.sha256.as_str()))
        .collect();
    let b: BTreeMap<&str, &str> = now
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.sha256.as_str()))
        .collect();
    let mut out = Vec::new();
    for (p, h) in &a {
        match b.get(p) {
            None => out.push(format!("{p}: removed")),
            Some(g) if g != h => out.push(format!("{p}: changed")),
            Some(_) => {}
        }
    }
    for p in b.keys().filter(|p| !a.contains_key(*p)) {
        out.push(format!("{p}: added"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::planfile::PlannedContent;

    fn sample() -> PlanFile {
        NewPlan {
            playbook: "site.yml",
            inventory: "inventory/",
            limit: Some("web"),
            tags: crate::playbook::TagSelection::new(&["web".into()], &[]),
            salt: random_hex(16),
            run_time: 1_796_223_860,
            sources: sources::Sources {
                digest: "sha256:00".into(),
                files: vec![sources::SourceFile {
                    path: "site.yml".into(),
                    sha256: "ab".into(),
                }],
            },
            hosts: vec![
                (
                    "web1".into(),
                    Ok(vec![ChangePrint {
                        kind: "file".into(),
                        key: "/etc/motd".into(),
                        action: "update".into(),
                        details: vec!["content".into()],
                        sensitive: false,
                        content: Some(PlannedContent {
                            path: "/etc/motd".into(),
                            digest: format!(
                                "sha256:{}",
                                crate::engine::planfile::sha256_hex(b"hello\n")
                            ),
                            text: Some("hello\n".into()),
                            base64: None,
                        }),
                        depends: [("path /etc/motd".to_string(), "missing".to_string())]
                            .into_iter()
                            .collect(),
                    }]),
                ),
                ("web2".into(), Err("unreachable: refused".into())),
            ],
        }
        .build()
    }

    #[test]
    fn a_plan_file_round_trips_with_mode_0600() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("plan.json");
        let plan = sample();
        plan.write(&path).expect("write");
        let mode = std::fs::metadata(&path).expect("stat").permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        let back = PlanFile::read(&path).expect("read");
        assert_eq!(back, plan);
        assert_eq!(back.run_time, Some(1_796_223_860));
        assert_eq!(back.change_count(), 1);
        let e = back.expected();
        assert_eq!(e.plan_id, plan.id);
        assert!(matches!(
            e.hosts.get("web2"),
            Some(HostExpectation::NotPlanned(_))
        ));
        assert!(matches!(
            e.hosts.get("web1"),
            Some(HostExpectation::Changes(c)) if c.len() == 1
        ));
    }

    #[test]
    fn a_plan_of_an_earlier_version_has_no_run_time() {
        let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).expect("json");
        assert_eq!(v["run_time"], serde_json::json!(1_796_223_860));
        v.as_object_mut().expect("plan").remove("run_time");
        let back = PlanFile::parse(Path::new("x.plan"), &v.to_string()).expect("parse");
        assert_eq!(back.run_time, None);
    }

    #[test]
    fn other_format_versions_and_garbage_are_refused() {
        let p = Path::new("x.plan");
        let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).expect("json");
        v["format_version"] = serde_json::json!(2);
        assert!(matches!(
            PlanFile::parse(p, &v.to_string()),
            Err(PlanFileError::Version { found: 2, .. })
        ));
        assert!(matches!(
            PlanFile::parse(p, "not json"),
            Err(PlanFileError::Parse { .. })
        ));
    }

    #[test]
    fn an_edited_content_is_refused() {
        let p = Path::new("x.plan");
        let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).expect("json");
        v["hosts"][0]["changes"][0]["content"]["text"] = serde_json::json!("evil\n");
        assert!(matches!(
            PlanFile::parse(p, &v.to_string()),
            Err(PlanFileError::Tampered { ref key, .. }) if key == "/etc/motd"
        ));
        // Neither text nor base64, and not a sensitive digest: refused too.
        let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).expect("json");
        v["hosts"][0]["changes"][0]["content"]
            .as_object_mut()
            .expect("content")
            .remove("text");
        assert!(matches!(
            PlanFile::parse(p, &v.to_string()),
            Err(PlanFileError::Tampered { .. })
        ));
    }

    #[test]
    fn source_changes_name_files() {
        let f = |p: &str, h: &str| sources::SourceFile {
            path: p.into(),
            sha256: h.into(),
        };
        let a = sources::Sources {
            digest: String::new(),
            files: vec![f("a", "1"), f("b", "2")],
        };
        let b = sources::Sources {
            digest: String::new(),
            files: vec![f("a", "9"), f("c", "3")],
        };
        assert_eq!(
            source_changes(&a, &b),
            vec!["a: changed", "b: removed", "c: added"]
        );
    }
}
