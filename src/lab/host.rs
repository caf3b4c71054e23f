//! One host: start (namespaces + init script), readiness, health, logs, stop.

use std::ffi::CString;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::procfs::{self, ProcId};
use super::state::{HostRecord, LabDir};
use super::{cgroup, LabError, Mode};

/// PATH for everything started inside a host.
pub const HOST_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What to start.
pub struct HostSpec {
    pub name: String,
    pub index: usize,
    pub addr: Ipv4Addr,
    pub mode: Mode,
}

/// A host start that went wrong: the reason, and the record if the host got as far as a PID 1
/// (so the caller can stop it).
pub struct StartError {
    pub reason: String,
    pub record: Option<HostRecord>,
}

impl StartError {
    fn new(reason: impl Into<String>, record: Option<HostRecord>) -> Self {
        StartError {
            reason: reason.into(),
            record,
        }
    }
}

fn ssh_addr(addr: Ipv4Addr) -> SocketAddr {
    SocketAddr::from((addr, 22))
}

/// Reads the SSH identification line ("SSH-2.0-...") from ADDR:22.
pub fn banner(addr: Ipv4Addr, timeout: Duration) -> Option<String> {
    let stream = TcpStream::connect_timeout(&ssh_addr(addr), timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    let mut line = String::new();
    BufReader::new(stream.take(256)).read_line(&mut line).ok()?;
    line.starts_with("SSH-")
        .then(|| line.trim_end().to_string())
}

/// True if something accepts connections on ADDR:22.
fn port_taken(addr: Ipv4Addr) -> bool {
    TcpStream::connect_timeout(&ssh_addr(addr), Duration::from_millis(300)).is_ok()
}

/// A path inside the running host, seen from the machine.
fn in_host(pid1: &ProcId, path: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{}/root{path}", pid1.pid))
}

/// sshd has written its pid file (after binding) and supervisord has made its socket.
fn services_ready(pid1: &ProcId) -> bool {
    in_host(pid1, "/run/sshd.pid").exists() && in_host(pid1, "/run/supervisor.sock").exists()
}

/// A running host is healthy: PID 1 alive, sshd and supervisord up, the banner answers.
pub fn healthy(rec: &HostRecord, timeout: Duration) -> bool {
    rec.pid1.alive() && services_ready(&rec.pid1) && banner(rec.addr, timeout).is_some()
}

/// Starts a host and waits until it is ready (or `deadline`).
pub fn start(
    dir: &LabDir,
    spec: &HostSpec,
    deadline: Instant,
    on_spawned: &dyn Fn(&HostRecord),
) -> Result<HostRecord, StartError> {
    let t_start = Instant::now();
    let fail = |reason: String| StartError::new(reason, None);
    let hdir = dir.host_dir(&spec.name);
    // An old console log would mislead a failure report.
    let _ = fs::remove_file(dir.console_log(&spec.name));
    let mnt = hdir.join("mnt");
    fs::create_dir_all(&mnt).map_err(|e| fail(format!("creating {}: {e}", mnt.display())))?;
    super::state::ensure_keypair(&hdir.join("ssh_host_ed25519_key"), &spec.name)
        .map_err(|e| fail(e.to_string()))?;
    if port_taken(spec.addr) {
        return Err(fail(format!(
            "{}:22 is already in use (another lab with the same addresses? pick another \
             --base)",
            spec.addr
        )));
    }

    let log_path = dir.console_log(&spec.name);
    let log = File::create(&log_path)
        .map_err(|e| fail(format!("creating {}: {e}", log_path.display())))?;
    let log2 = log
        .try_clone()
        .map_err(|e| fail(format!("{}: {e}", log_path.display())))?;

    let cgroup = match spec.mode {
        Mode::Systemd => {
            Some(cgroup::create_host(&dir.path, &spec.name).map_err(|e| fail(e.to_string()))?)
        }
        Mode::Plain => None,
    };
    let procs = match &cgroup {
        Some(cg) => Some(
            CString::new(cg.join("cgroup.procs").as_os_str().as_encoded_bytes())
                .map_err(|_| fail("cgroup path holds a NUL byte".into()))?,
        ),
        None => None,
    };

    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--uts",
        "--ipc",
        "--pid",
        "--fork",
        "--propagation",
        "private",
        "--kill-child=SIGKILL",
    ]);
    if cgroup.is_some() {
        cmd.arg("--cgroup");
    }
    cmd.arg("/bin/sh")
        .arg(dir.init_script())
        .arg(&spec.name)
        .arg(spec.addr.to_string())
        .arg(&hdir)
        .arg(&dir.path)
        .arg(spec.mode.as_str())
        .env_clear()
        .env("PATH", HOST_PATH)
        .env("HOME", "/root")
        .env("LANG", "C.UTF-8")
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    // SAFETY: only async-signal-safe calls (setsid, open, write, close) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some(p) = &procs {
                let fd = libc::open(p.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // "0" moves the writing process.
                let n = libc::write(fd, b"0".as_ptr().cast(), 1);
                let err = std::io::Error::last_os_error();
                libc::close(fd);
                if n != 1 {
                    return Err(err);
                }
            }
            Ok(())
        });
    }
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            if let Some(cg) = &cgroup {
                let _ = cgroup::remove_tree(cg);
            }
            return Err(fail(format!("cannot start unshare: {e}")));
        }
    };
    // The Child is dropped without wait: the host outlives `play lab up`.
    let spawner_pid = child.id() as i32;
    let spawner = match ProcId::of(spawner_pid) {
        Some(p) => p,
        None => {
            return Err(fail(format!(
                "unshare exited at once:\n{}",
                console_tail(&log_path, 30)
            )))
        }
    };

    // PID 1 is unshare's only child.
    let pid1 = loop {
        if let Some(p) = procfs::children(spawner_pid)
            .first()
            .and_then(|&p| ProcId::of(p))
        {
            break p;
        }
        if !spawner.alive() || Instant::now() >= deadline {
            spawner.kill();
            if let Some(cg) = &cgroup {
                let _ = cgroup::remove_tree(cg);
            }
            return Err(fail("unshare did not start PID 1".into()));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let rec = HostRecord {
        name: spec.name.clone(),
        index: spec.index,
        addr: spec.addr,
        mode: spec.mode,
        pid1,
        spawner,
        cgroup,
    };
    on_spawned(&rec);

    // Ready: sshd's pid file (written after it listens), supervisord's socket, then a banner.
    let mut delay = Duration::from_millis(5);
    loop {
        if !rec.pid1.alive() {
            return Err(StartError::new("PID 1 exited", Some(rec)));
        }
        if services_ready(&rec.pid1) && banner(rec.addr, Duration::from_secs(2)).is_some() {
            return Ok(rec);
        }
        if Instant::now() >= deadline {
            let what = match (
                in_host(&rec.pid1, "/run/sshd.pid").exists(),
                in_host(&rec.pid1, "/run/supervisor.sock").exists(),
            ) {
                (false, _) => "sshd did not start",
                (true, false) => "supervisord did not make /run/supervisor.sock",
                (true, true) => "sshd did not answer with an SSH banner",
            };
            return Err(StartError::new(
                format!(
                    "timed out after {:.0}s waiting for the host: {what}",
                    t_start.elapsed().as_secs_f64()
                ),
                Some(rec),
            ));
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(50));
    }
}

/// Kills a host (only processes that are still ours) and waits until they are gone; removes its
/// cgroup. Nothing is mounted outside the host's mount namespace, so nothing else is left.
pub fn stop(rec: &HostRecord) -> Result<(), LabError> {
    // SIGKILL to PID 1 kills every process of its PID namespace; the mount namespace (and every
    // mount in it) goes with the last of them.
    rec.pid1.kill();
    rec.spawner.kill();
    let ok = rec.pid1.wait_dead(Duration::from_secs(10))
        & rec.spawner.wait_dead(Duration::from_secs(10));
    if let Some(cg) = &rec.cgroup {
        cgroup::remove_tree(cg)?;
    }
    if !ok {
        return Err(LabError::Tool {
            tool: "kill".into(),
            detail: format!(
                "host {} (pid {}) still runs 10 s after SIGKILL",
                rec.name, rec.pid1.pid
            ),
        });
    }
    Ok(())
}

/// The last `lines` lines of a file.
pub fn console_tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// What to show when a host failed: its console (sshd logs there in plain mode) and, for a
/// systemd host still running, the journal of ssh and supervisor.
pub fn failure_log(dir: &LabDir, rec: Option<&HostRecord>, name: &str) -> String {
    let console = dir.console_log(name);
    let mut log = if console.exists() {
        format!(
            "console ({}):\n{}",
            console.display(),
            console_tail(&console, 40)
        )
    } else {
        String::new()
    };
    if let Some(rec) = rec {
        if rec.mode == Mode::Systemd && rec.pid1.alive() {
            let journal = run_in_host(
                rec,
                &[
                    "journalctl",
                    "--no-pager",
                    "-n",
                    "40",
                    "-u",
                    "ssh",
                    "-u",
                    "supervisor",
                ],
                Duration::from_secs(5),
            );
            log.push_str("\njournal (ssh, supervisor):\n");
            log.push_str(&journal);
        }
    }
    log
}

/// `nsenter` arguments that enter a host (mount, UTS, IPC, PID, and for systemd the cgroup
/// namespace), with its root and working folder.
pub fn nsenter_args(rec: &HostRecord) -> Vec<String> {
    let mut v = vec![
        "-t".to_string(),
        rec.pid1.pid.to_string(),
        "-m".into(),
        "-u".into(),
        "-i".into(),
        "-p".into(),
    ];
    if rec.mode == Mode::Systemd {
        v.push("-C".into());
    }
    v.push("-r".into());
    v.push("-w".into());
    v
}

/// Runs a command in a host and returns its output (stdout + stderr), killing it at the timeout.
fn run_in_host(rec: &HostRecord, argv: &[&str], timeout: Duration) -> String {
    let child = Command::new("nsenter")
        .args(nsenter_args(rec))
        .args(argv)
        .env_clear()
        .env("PATH", HOST_PATH)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return format!("(cannot run nsenter: {e})"),
    };
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                break;
            }
        }
    }
    match child.wait_with_output() {
        Ok(o) => {
            let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
            s.push_str(&String::from_utf8_lossy(&o.stderr));
            s
        }
        Err(e) => format!("({e})"),
    }
}
