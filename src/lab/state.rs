//! The lab's state folder: state file, lock, client key, inventory and known_hosts.
//!
//! Layout of DIR:
//! - `state.json`: every started host (name, address, mode, PID 1 and spawner with start times,
//!   cgroup);
//! - `inventory.yml`, `known_hosts`, `id_ed25519` + `id_ed25519.pub` (client key, made once);
//! - `init.sh`: the in-namespace init (rewritten by each `up`);
//! - `hosts/hI/`: `ssh_host_ed25519_key(.pub)` (kept across restarts), `console.log`, and `mnt/`
//!   where the host's tmpfs is mounted, inside the host's mount namespace only;
//! - `.lock`: taken by `up` and `down`.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::net::Ipv4Addr;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::procfs::ProcId;
use super::{LabError, Mode};

pub const STATE_FILE: &str = "state.json";
pub const INVENTORY_FILE: &str = "inventory.yml";
pub const KNOWN_HOSTS_FILE: &str = "known_hosts";
pub const KEY_FILE: &str = "id_ed25519";
pub const INIT_FILE: &str = "init.sh";

/// One host the lab started.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostRecord {
    pub name: String,
    pub index: usize,
    pub addr: Ipv4Addr,
    pub mode: Mode,
    /// PID 1 of the host's PID namespace, as seen from the machine.
    pub pid1: ProcId,
    /// The `unshare` process whose child is PID 1.
    pub spawner: ProcId,
    /// The host's cgroup2 folder (systemd mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<PathBuf>,
}

/// Contents of `state.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub hosts: Vec<HostRecord>,
}

/// An absolute, checked state folder.
#[derive(Debug, Clone)]
pub struct LabDir {
    pub path: PathBuf,
}

impl LabDir {
    /// Makes `dir` absolute (without creating it) and refuses paths the overlay mount options or
    /// the machine could not take.
    pub fn new(dir: &Path) -> Result<LabDir, LabError> {
        let bad = |reason: &str| LabError::BadDir {
            path: dir.to_path_buf(),
            reason: reason.to_string(),
        };
        if dir.as_os_str().is_empty() {
            return Err(bad("empty path"));
        }
        let abs = if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|e| LabError::io("current folder", ".", e))?
                .join(dir)
        };
        // Resolve symlinks of the longest part that exists, so the path seen through the host's
        // overlay is the real one.
        let mut existing = abs.as_path();
        let mut rest: Vec<&std::ffi::OsStr> = Vec::new();
        let resolved = loop {
            if let Ok(p) = fs::canonicalize(existing) {
                break p;
            }
            match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name);
                    existing = parent;
                }
                // `..` or the root: give up resolving.
                _ => break abs.clone(),
            }
        };
        if abs
            .components()
            .any(|c| c == std::path::Component::ParentDir)
            && !rest.is_empty()
        {
            return Err(bad("must not contain `..` in parts that do not exist yet"));
        }
        let abs = rest.iter().rev().fold(resolved, |p, name| p.join(name));
        let Some(text) = abs.to_str() else {
            return Err(bad("must be valid UTF-8"));
        };
        if text
            .chars()
            .any(|c| c.is_control() || matches!(c, ',' | ':' | '\\' | '"' | '\''))
        {
            return Err(bad(
                "must not contain commas, colons, quotes, backslashes or control characters \
                 (they break overlay mount options)",
            ));
        }
        if abs.parent().is_none() {
            return Err(bad("must not be /"));
        }
        for sys in ["/proc", "/sys", "/dev", "/run"] {
            if abs.starts_with(sys) {
                return Err(bad("must not be under /proc, /sys, /dev or /run"));
            }
        }
        Ok(LabDir { path: abs })
    }

    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }

    pub fn state_path(&self) -> PathBuf {
        self.join(STATE_FILE)
    }

    pub fn host_dir(&self, name: &str) -> PathBuf {
        self.join("hosts").join(name)
    }

    pub fn console_log(&self, name: &str) -> PathBuf {
        self.host_dir(name).join("console.log")
    }

    pub fn key(&self) -> PathBuf {
        self.join(KEY_FILE)
    }

    pub fn init_script(&self) -> PathBuf {
        self.join(INIT_FILE)
    }

    /// Creates the folder (mode 0700: it holds a private key).
    pub fn create(&self) -> Result<(), LabError> {
        use std::os::unix::fs::DirBuilderExt;
        if let Some(parent) = self.path.parent() {
            fs::create_dir_all(parent).map_err(|e| LabError::io("creating", parent, e))?;
        }
        match fs::DirBuilder::new().mode(0o700).create(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && self.path.is_dir() => Ok(()),
            Err(e) => Err(LabError::io("creating lab folder", &self.path, e)),
        }
    }

    /// Takes the folder's lock (blocks while another `up`/`down` works on it).
    pub fn lock(&self) -> Result<LabLock, LabError> {
        let path = self.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| LabError::io("opening lock", &path, e))?;
        // SAFETY: flock on an fd we own.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if r != 0 {
            return Err(LabError::io(
                "locking",
                &path,
                std::io::Error::last_os_error(),
            ));
        }
        Ok(LabLock { _file: file })
    }

    /// Reads `state.json`; a missing file is an empty state.
    pub fn load(&self) -> Result<State, LabError> {
        let path = self.state_path();
        match fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| LabError::State { path, source })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(LabError::io("reading", &path, e)),
        }
    }

    /// Writes `state.json` atomically.
    pub fn save(&self, state: &State) -> Result<(), LabError> {
        let text = serde_json::to_string_pretty(state).map_err(|source| LabError::State {
            path: self.state_path(),
            source,
        })?;
        write_atomic(&self.state_path(), text.as_bytes(), 0o644)
    }
}

/// Held while working on a lab folder.
pub struct LabLock {
    _file: File,
}

/// Writes a file through a temporary name and a rename, so readers (and a running `sh` reading
/// its script) never see a half-written file.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), LabError> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| LabError::io("writing", &tmp, e))?;
    f.write_all(data)
        .and_then(|_| f.sync_all())
        .map_err(|e| LabError::io("writing", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| LabError::io("renaming into", path, e))
}

/// Generates an ed25519 key pair at `path` (and `path.pub`) unless both exist. Returns true if a
/// new key was made.
pub fn ensure_keypair(path: &Path, comment: &str) -> Result<bool, LabError> {
    let public = pub_path(path);
    if path.is_file() && public.is_file() {
        return Ok(false);
    }
    let _ = fs::remove_file(path);
    let _ = fs::remove_file(&public);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| LabError::Tool {
            tool: "ssh-keygen".into(),
            detail: format!("cannot run it ({e}); is openssh-client installed?"),
        })?;
    if !out.status.success() {
        return Err(LabError::Tool {
            tool: "ssh-keygen".into(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(true)
}

/// `KEY.pub` for `KEY`.
pub fn pub_path(key: &Path) -> PathBuf {
    let mut s = key.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}

/// `type base64` of an OpenSSH public key file (the comment dropped).
pub fn read_public_key(path: &Path) -> Result<String, LabError> {
    let text = fs::read_to_string(path).map_err(|e| LabError::io("reading", path, e))?;
    let mut parts = text.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(kind), Some(blob)) => Ok(format!("{kind} {blob}")),
        _ => Err(LabError::Tool {
            tool: "ssh-keygen".into(),
            detail: format!("{} is not an OpenSSH public key", path.display()),
        }),
    }
}

/// A YAML/JSON double-quoted string.
fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The inventory, Ansible YAML layout: group `lab` with every host.
pub fn inventory_yaml(hosts: &[(String, Ipv4Addr)], key: &Path, known_hosts: &Path) -> String {
    let mut y = String::from("# Written by `play lab up`; rewritten on every up.\nall:\n  children:\n    lab:\n      hosts:\n");
    if hosts.is_empty() {
        y.truncate(y.len() - 1);
        y.push_str(" {}\n");
    }
    for (name, addr) in hosts {
        y.push_str(&format!("        {name}:\n          ssh_host: {addr}\n"));
    }
    y.push_str("      vars:\n");
    y.push_str("        ssh_user: root\n        ssh_port: 22\n");
    y.push_str(&format!(
        "        ssh_private_key: {}\n",
        quoted(&key.to_string_lossy())
    ));
    y.push_str(&format!(
        "        ssh_known_hosts: {}\n",
        quoted(&known_hosts.to_string_lossy())
    ));
    y
}

/// known_hosts lines: `h3,127.0.0.13 ssh-ed25519 AAAA...`.
pub fn known_hosts_text(hosts: &[(String, Ipv4Addr, String)]) -> String {
    hosts
        .iter()
        .map(|(name, addr, key)| format!("{name},{addr} {key}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_dirs() {
        assert!(LabDir::new(Path::new("/tmp/a,b")).is_err());
        assert!(LabDir::new(Path::new("/tmp/a:b")).is_err());
        assert!(LabDir::new(Path::new("/")).is_err());
        assert!(LabDir::new(Path::new("/proc/x")).is_err());
        assert!(LabDir::new(Path::new("")).is_err());
        let d = LabDir::new(Path::new("relative/lab")).unwrap();
        assert!(d.path.is_absolute());
    }

    #[test]
    fn inventory_layout() {
        let y = inventory_yaml(
            &[
                ("h1".into(), Ipv4Addr::new(127, 0, 0, 11)),
                ("h2".into(), Ipv4Addr::new(127, 0, 0, 12)),
            ],
            Path::new("/tmp/l/id_ed25519"),
            Path::new("/tmp/l/known_hosts"),
        );
        let v: serde_yaml::Value = serde_yaml::from_str(&y).unwrap();
        let lab = &v["all"]["children"]["lab"];
        assert_eq!(lab["hosts"]["h2"]["ssh_host"].as_str(), Some("127.0.0.12"));
        assert_eq!(lab["vars"]["ssh_user"].as_str(), Some("root"));
        assert_eq!(lab["vars"]["ssh_port"].as_u64(), Some(22));
        assert_eq!(
            lab["vars"]["ssh_private_key"].as_str(),
            Some("/tmp/l/id_ed25519")
        );
        let empty: serde_yaml::Value =
            serde_yaml::from_str(&inventory_yaml(&[], Path::new("/k"), Path::new("/kh"))).unwrap();
        assert!(empty["all"]["children"]["lab"]["hosts"].is_mapping());
    }

    #[test]
    fn known_hosts_lines() {
        let t = known_hosts_text(&[(
            "h3".into(),
            Ipv4Addr::new(127, 0, 0, 13),
            "ssh-ed25519 AAAA".into(),
        )]);
        assert_eq!(t, "h3,127.0.0.13 ssh-ed25519 AAAA\n");
    }
}
