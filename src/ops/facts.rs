//! `play facts PATTERN [--save FILE]`: the facts the probe gathers, per host; the saved file is
//! what `play check --facts-from FILE` renders templates with.
//!
//! The file is JSON: `{"version": 1, "hosts": {"web1": {"hostname": ..., "cpus": 4, ...}}}`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;

use crate::inventory::{connection_for, ConnectionOverrides, Inventory, InventoryError};
use crate::probe::{self, ProbeRequest};
use crate::resources::Facts;
use crate::transport;

/// Version of the facts file format.
pub const FACTS_FILE_VERSION: u32 = 1;

/// What `play facts` should do.
#[derive(Debug, Clone)]
pub struct FactsRequest {
    pub pattern: String,
    pub forks: usize,
    pub overrides: ConnectionOverrides,
}

/// How gathering went on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FactsOutcome {
    Gathered(Box<Facts>),
    /// Could not connect or log in (or the session died).
    Unreachable(String),
    /// Connected, but the probe failed.
    Failed(String),
}

/// One host's facts.
#[derive(Debug, Clone)]
pub struct HostFacts {
    pub host: String,
    pub outcome: FactsOutcome,
    pub seconds: f64,
}

/// The saved facts file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FactsFile {
    pub version: u32,
    pub hosts: BTreeMap<String, Facts>,
}

/// A facts file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    #[error("{}: cannot read facts: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("{}: cannot write facts: {message}", path.display())]
    Write { path: PathBuf, message: String },
}

fn gather_one(o: &crate::transport::ConnectOptions) -> FactsOutcome {
    let mut t = match transport::connect(o) {
        Ok(t) => t,
        Err(e) => return FactsOutcome::Unreachable(e.to_string()),
    };
    let all = probe::ProcessProbe {
        net: true,
        ..Default::default()
    };
    let (cmd, stdin) = probe::command_with(&ProbeRequest::default(), &all);
    let outcome = match t.exec(&cmd, &stdin) {
        Err(e) if e.is_unreachable() => FactsOutcome::Unreachable(e.to_string()),
        Err(e) => FactsOutcome::Failed(e.to_string()),
        Ok(out) => match probe::parse(&out.stdout) {
            Ok(observed) => FactsOutcome::Gathered(Box::new(observed.facts)),
            Err(e) => FactsOutcome::Failed(format!(
                "probe failed (exit {}): {e} {}",
                out.status,
                out.stderr_str().trim()
            )),
        },
    };
    t.close();
    outcome
}

/// Gathers the facts of every host matching the pattern, in parallel; inventory order.
pub fn gather(inv: &Inventory, req: &FactsRequest) -> Result<Vec<HostFacts>, InventoryError> {
    let hosts = inv.select(&req.pattern)?;
    if hosts.is_empty() {
        return Err(InventoryError::Pattern {
            pattern: req.pattern.clone(),
            message: "matches no host".into(),
        });
    }
    let opts = hosts
        .iter()
        .map(|h| connection_for(h, &req.overrides))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(super::run::pool(req.forks).install(|| {
        opts.par_iter()
            .map(|o| {
                let start = Instant::now();
                let outcome = gather_one(o);
                HostFacts {
                    host: o.name.clone(),
                    outcome,
                    seconds: start.elapsed().as_secs_f64(),
                }
            })
            .collect()
    }))
}

/// The facts file of the hosts whose facts were gathered.
pub fn to_file(results: &[HostFacts]) -> FactsFile {
    FactsFile {
        version: FACTS_FILE_VERSION,
        hosts: results
            .iter()
            .filter_map(|r| match &r.outcome {
                FactsOutcome::Gathered(f) => Some((r.host.clone(), (**f).clone())),
                _ => None,
            })
            .collect(),
    }
}

/// Writes a facts file (pretty JSON).
pub fn save(path: &Path, file: &FactsFile) -> Result<(), FactsError> {
    let mut text = serde_json::to_string_pretty(file).map_err(|e| FactsError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    text.push('\n');
    std::fs::write(path, text).map_err(|e| FactsError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Reads a facts file written by [`save`].
pub fn load(path: &Path) -> Result<FactsFile, FactsError> {
    let err = |message: String| FactsError::Read {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let file: FactsFile = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
    if file.version != FACTS_FILE_VERSION {
        return Err(err(format!(
            "version {} not supported (this play reads version {FACTS_FILE_VERSION})",
            file.version
        )));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_round_trip_and_version() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("facts.json");
        let results = vec![
            HostFacts {
                host: "web1".into(),
                outcome: FactsOutcome::Gathered(Box::new(Facts {
                    hostname: "web1".into(),
                    os_id: "debian".into(),
                    os_version: "12".into(),
                    os_codename: "bookworm".into(),
                    arch: "aarch64".into(),
                    cpus: 8,
                    memory_mb: 16000,
                    virtualization: "kvm".into(),
                    selinux: "enforcing".into(),
                    default_ipv4: [("address".to_string(), "10.1.2.3".to_string())].into(),
                    default_ipv6: Default::default(),
                    gathered: Default::default(),
                })),
                seconds: 0.1,
            },
            HostFacts {
                host: "web2".into(),
                outcome: FactsOutcome::Unreachable("down".into()),
                seconds: 0.1,
            },
        ];
        save(&p, &to_file(&results)).expect("save");
        let back = load(&p).expect("load");
        assert_eq!(back.hosts.len(), 1);
        assert_eq!(back.hosts["web1"].cpus, 8);
        std::fs::write(&p, "{\"version\": 9, \"hosts\": {}}").expect("write");
        assert!(load(&p).unwrap_err().to_string().contains("version 9"));
    }
}
