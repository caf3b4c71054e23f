//! Why a lab operation failed.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// A lab operation that could not be done.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("play lab needs Linux (mount, PID and UTS namespaces)")]
    NotLinux,
    #[error("play lab must run as root (it mounts file systems and creates namespaces)")]
    NotRoot,
    #[error("--base {base}: {reason}")]
    BadBase { base: String, reason: String },
    #[error("host count {count}: {reason}")]
    BadCount { count: usize, reason: String },
    #[error("lab folder {path}: {reason}")]
    BadDir { path: PathBuf, reason: String },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{tool} failed: {detail}")]
    Tool { tool: String, detail: String },
    #[error("state file {path} is damaged: {source}")]
    State {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("no lab in {dir} (run `play lab up N --dir {dir}` first)")]
    NoLab { dir: PathBuf },
    #[error("no host `{host}` in the lab (hosts: {})", known.join(", "))]
    UnknownHost { host: String, known: Vec<String> },
    #[error("host {host} is not running (run `play lab up` again)")]
    HostDown { host: String },
    #[error("cgroup: {reason}")]
    Cgroup { reason: String },
    #[error("{}", HostFailures(.0))]
    Hosts(Vec<HostFailure>),
}

/// One host that did not come up.
#[derive(Debug)]
pub struct HostFailure {
    pub host: String,
    pub addr: Ipv4Addr,
    pub reason: String,
    /// The end of the host's console (its sshd log in plain mode) and, for systemd hosts, the
    /// journal of ssh and supervisor.
    pub log: String,
}

struct HostFailures<'a>(&'a [HostFailure]);

impl fmt::Display for HostFailures<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} host(s) did not come up", self.0.len())?;
        for h in self.0 {
            write!(f, "\n--- {} ({}): {}", h.host, h.addr, h.reason)?;
            let log = h.log.trim_end();
            if log.is_empty() {
                write!(f, "\n    (no log)")?;
            } else {
                for line in log.lines() {
                    write!(f, "\n    {line}")?;
                }
            }
        }
        Ok(())
    }
}

impl LabError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LabError::Io {
            what,
            path: path.into(),
            source,
        }
    }
}
