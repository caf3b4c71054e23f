//! Throwaway local test hosts: `play lab up|down|status|exec`.
//!
//! Each host `hI` is a process tree in its own mount, UTS, IPC and PID namespaces (sharing the
//! machine's network namespace), with an overlay root over the live `/` (tmpfs upper layer), its
//! own hostname, machine-id and ed25519 host key, sshd listening only on `127.0.0.X:22`, and
//! supervisord. Users `root` and `deploy` (passwordless sudo) and `nopass` (sudo asks for a
//! password) are authorized for one client key per state folder. With systemd mode, real
//! systemd is PID 1 and starts ssh and supervisor.
//!
//! Everything is mounted inside the host's mount namespace only: killing a host's PID 1 makes the
//! kernel kill its processes and drop its mounts. The state folder records PID 1 with its start
//! time, so `down` only ever kills processes the lab started.
//!
//! Linux and root only. Addresses are always in 127.0.0.0/8.

pub mod addr;
pub mod cgroup;
mod error;
pub mod host;
pub mod procfs;
pub mod state;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use error::{HostFailure, LabError};
use host::HostSpec;
use procfs::ProcId;
use state::{HostRecord, LabDir, State};

/// The in-namespace init (PID 1 of every host), written to `DIR/init.sh` by `up`.
pub const INIT_SCRIPT: &str = include_str!("init.sh");

/// Default state folder when neither `--dir` nor `PLAY_LAB_DIR` is given.
pub const DEFAULT_DIR: &str = "/tmp/play-lab";

/// The state folder: `explicit`, else env `PLAY_LAB_DIR`, else [`DEFAULT_DIR`].
pub fn default_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(d) = explicit {
        return d.to_path_buf();
    }
    match std::env::var_os("PLAY_LAB_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(DEFAULT_DIR),
    }
}

/// What PID 1 of a host is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A shell that starts sshd and supervisord and reaps orphans.
    #[default]
    Plain,
    /// Real systemd, which starts ssh.service and supervisor.service.
    Systemd,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::Systemd => "systemd",
        }
    }
}

/// Options of `up`.
#[derive(Debug, Clone)]
pub struct UpOptions {
    pub count: usize,
    /// Host i listens on base + i (checked with [`addr::check_base`]).
    pub base: Ipv4Addr,
    pub mode: Mode,
    /// How long to wait for all hosts to answer.
    pub timeout: Duration,
}

/// One host as `up` and `status` report it.
#[derive(Debug, Clone)]
pub struct HostStatus {
    pub name: String,
    pub addr: Ipv4Addr,
    pub pid: i32,
    pub mode: Mode,
    pub up: bool,
}

/// What `up` did.
#[derive(Debug)]
pub struct UpReport {
    pub dir: PathBuf,
    pub inventory: PathBuf,
    pub known_hosts: PathBuf,
    pub key: PathBuf,
    pub hosts: Vec<HostStatus>,
    /// Names of hosts started by this call.
    pub started: Vec<String>,
    /// Names of hosts that were running and healthy and were kept.
    pub kept: Vec<String>,
    /// Names of hosts stopped (beyond N, changed address or mode, or unhealthy and restarted).
    pub stopped: Vec<String>,
    pub elapsed: Duration,
}

/// What `down` did.
#[derive(Debug)]
pub struct DownReport {
    pub stopped: Vec<String>,
    pub purged: bool,
    pub elapsed: Duration,
}

/// Linux and root, or a clear error.
pub fn check_platform() -> Result<(), LabError> {
    if !cfg!(target_os = "linux") {
        return Err(LabError::NotLinux);
    }
    // SAFETY: plain syscall.
    if unsafe { libc::geteuid() } != 0 {
        return Err(LabError::NotRoot);
    }
    Ok(())
}

/// Raises fs.inotify.max_user_instances (128 by default; each systemd host uses a few).
fn raise_inotify_instances(hosts: usize) {
    let path = "/proc/sys/fs/inotify/max_user_instances";
    let want = 1024 + 16 * hosts as u64;
    let now: u64 = std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    if now < want {
        let _ = std::fs::write(path, want.to_string());
    }
}

/// Unmounts anything left mounted inside the state folder (only a crashed or foreign tool can
/// leave such mounts: the lab mounts inside host namespaces only).
fn clear_stray_mounts(dir: &LabDir) -> Result<(), LabError> {
    for point in procfs::mounts_under(&dir.path) {
        procfs::umount_detach(&point).map_err(|e| LabError::io("unmounting", &point, e))?;
    }
    Ok(())
}

/// Kills processes that run this lab's init script but are not recorded (a lab that crashed
/// between starting a host and saving the state file).
fn kill_unrecorded(dir: &LabDir, recorded: &[HostRecord]) {
    let known: Vec<i32> = recorded
        .iter()
        .flat_map(|r| [r.pid1.pid, r.spawner.pid])
        .collect();
    for pid in procfs::pids_running_script(&dir.init_script()) {
        if known.contains(&pid) {
            continue;
        }
        if let Some(p) = ProcId::of(pid) {
            p.kill();
            p.wait_dead(Duration::from_secs(5));
        }
    }
}

fn status_of(rec: &HostRecord, probe: Duration) -> HostStatus {
    HostStatus {
        name: rec.name.clone(),
        addr: rec.addr,
        pid: rec.pid1.pid,
        mode: rec.mode,
        up: host::healthy(rec, probe),
    }
}

/// Hosts started at once by [`up`].
const START_WORKERS: usize = 64;

/// Starts N hosts (keeping healthy ones, adding missing ones, stopping extra or broken ones) and
/// writes inventory, known_hosts and the client key. Waits until every sshd answers.
pub fn up(dir: &Path, opts: &UpOptions) -> Result<UpReport, LabError> {
    let t0 = Instant::now();
    check_platform()?;
    addr::check_base(opts.base, opts.count)?;
    let dir = LabDir::new(dir)?;
    dir.create()?;
    let _lock = dir.lock()?;

    clear_stray_mounts(&dir)?;
    let new_key = state::ensure_keypair(&dir.key(), "play-lab")?;
    state::write_atomic(&dir.init_script(), INIT_SCRIPT.as_bytes(), 0o755)?;
    if opts.mode == Mode::Systemd {
        raise_inotify_instances(opts.count);
    }

    let old = match dir.load() {
        Ok(s) => s,
        Err(LabError::State { path, .. }) => {
            // A damaged state file: keep it aside and recover from what runs.
            let _ = std::fs::rename(&path, path.with_extension("json.damaged"));
            State::default()
        }
        Err(e) => return Err(e),
    };
    kill_unrecorded(&dir, &old.hosts);

    // Decide per recorded host: keep, or stop (and restart if still wanted).
    let mut kept: Vec<HostRecord> = Vec::new();
    let mut stopped = Vec::new();
    let mut errors = Vec::new();
    for rec in old.hosts {
        let wanted = rec.index >= 1
            && rec.index <= opts.count
            && rec.name == addr::host_name(rec.index)
            && rec.addr == addr::host_addr(opts.base, rec.index)
            && rec.mode == opts.mode;
        if wanted && !new_key && host::healthy(&rec, Duration::from_secs(2)) {
            kept.push(rec);
        } else {
            if rec.pid1.alive() || rec.spawner.alive() {
                stopped.push(rec.name.clone());
            }
            if let Err(e) = host::stop(&rec) {
                errors.push(e);
            }
        }
    }
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    if opts.mode == Mode::Systemd || kept.iter().any(|r| r.cgroup.is_some()) {
        let keep: Vec<PathBuf> = kept.iter().filter_map(|r| r.cgroup.clone()).collect();
        cgroup::sweep(&dir.path, &keep)?;
    }

    let specs: Vec<HostSpec> = (1..=opts.count)
        .filter(|i| !kept.iter().any(|r| r.index == *i))
        .map(|index| HostSpec {
            name: addr::host_name(index),
            index,
            addr: addr::host_addr(opts.base, index),
            mode: opts.mode,
        })
        .collect();

    // The state file lists every host as soon as its PID 1 exists, so a crash of `up` leaves
    // nothing unrecorded.
    let records = Mutex::new(kept.clone());
    let save = |records: &[HostRecord]| {
        let mut hosts = records.to_vec();
        hosts.sort_by_key(|r| r.index);
        dir.save(&State { version: 1, hosts })
    };
    save(&kept)?;
    let deadline = Instant::now() + opts.timeout;
    // At most START_WORKERS hosts start at once (hundreds of simultaneous starts on a small
    // machine only slow each other down); each worker takes the next host to start.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Result<HostRecord, host::StartError>>>> =
        specs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..specs.len().min(START_WORKERS) {
            let (dir, records, save, next, slots, specs) =
                (&dir, &records, &save, &next, &slots, &specs);
            s.spawn(move || loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(spec) = specs.get(i) else { break };
                let on_spawned = |rec: &HostRecord| {
                    if let Ok(mut r) = records.lock() {
                        r.push(rec.clone());
                        let _ = save(&r);
                    }
                };
                let r = host::start(dir, spec, deadline, &on_spawned);
                if let Ok(mut slot) = slots[i].lock() {
                    *slot = Some(r);
                }
            });
        }
    });
    let results: Vec<(String, Ipv4Addr, Result<HostRecord, host::StartError>)> = specs
        .iter()
        .zip(slots)
        .map(|(spec, slot)| {
            let r = slot.into_inner().ok().flatten().unwrap_or_else(|| {
                Err(host::StartError {
                    reason: "start thread panicked".into(),
                    record: None,
                })
            });
            (spec.name.clone(), spec.addr, r)
        })
        .collect();

    let mut live: Vec<HostRecord> = kept.clone();
    let mut started = Vec::new();
    let mut failures = Vec::new();
    for (name, addr, result) in results {
        match result {
            Ok(rec) => {
                started.push(rec.name.clone());
                live.push(rec);
            }
            Err(err) => {
                let log = host::failure_log(&dir, err.record.as_ref(), &name);
                if let Some(rec) = &err.record {
                    let _ = host::stop(rec);
                }
                failures.push(HostFailure {
                    host: name,
                    addr,
                    reason: err.reason,
                    log,
                });
            }
        }
    }
    live.sort_by_key(|r| r.index);
    save(&live)?;
    if live.iter().all(|r| r.cgroup.is_none()) {
        let _ = cgroup::sweep(&dir.path, &[]);
    }

    // known_hosts and inventory for the hosts that run.
    let key = dir.key();
    let known_hosts = dir.join(state::KNOWN_HOSTS_FILE);
    let inventory = dir.join(state::INVENTORY_FILE);
    let mut kh = Vec::new();
    for r in &live {
        let pubkey = state::read_public_key(&state::pub_path(
            &dir.host_dir(&r.name).join("ssh_host_ed25519_key"),
        ))?;
        kh.push((r.name.clone(), r.addr, pubkey));
    }
    state::write_atomic(&known_hosts, state::known_hosts_text(&kh).as_bytes(), 0o644)?;
    let pairs: Vec<(String, Ipv4Addr)> = live.iter().map(|r| (r.name.clone(), r.addr)).collect();
    state::write_atomic(
        &inventory,
        state::inventory_yaml(&pairs, &key, &known_hosts).as_bytes(),
        0o644,
    )?;

    if !failures.is_empty() {
        failures.sort_by_key(|f| addr::host_index(&f.host));
        return Err(LabError::Hosts(failures));
    }
    Ok(UpReport {
        dir: dir.path.clone(),
        inventory,
        known_hosts,
        key,
        hosts: live
            .iter()
            .map(|r| HostStatus {
                name: r.name.clone(),
                addr: r.addr,
                pid: r.pid1.pid,
                mode: r.mode,
                up: true,
            })
            .collect(),
        started,
        kept: kept.iter().map(|r| r.name.clone()).collect(),
        stopped,
        elapsed: t0.elapsed(),
    })
}

/// Stops every host of the lab (only processes it started), removes its cgroups and checks no
/// mount is left in the state folder. With `purge`, removes the state folder too.
pub fn down(dir: &Path, purge: bool) -> Result<DownReport, LabError> {
    let t0 = Instant::now();
    check_platform()?;
    let dir = LabDir::new(dir)?;
    if !dir.path.exists() {
        return Ok(DownReport {
            stopped: Vec::new(),
            purged: false,
            elapsed: t0.elapsed(),
        });
    }
    let lock = dir.lock()?;
    let state = match dir.load() {
        Ok(s) => s,
        Err(LabError::State { .. }) => State::default(),
        Err(e) => return Err(e),
    };
    kill_unrecorded(&dir, &state.hosts);

    let mut stopped = Vec::new();
    // SIGKILL everything first, then wait: all hosts die at the same time.
    for rec in &state.hosts {
        if rec.pid1.alive() || rec.spawner.alive() {
            stopped.push(rec.name.clone());
        }
        rec.pid1.kill();
        rec.spawner.kill();
    }
    let mut first_err = None;
    for rec in &state.hosts {
        if let Err(e) = host::stop(rec) {
            first_err.get_or_insert(e);
        }
    }
    if let Err(e) = cgroup::sweep(&dir.path, &[]) {
        first_err.get_or_insert(e);
    }
    if let Err(e) = clear_stray_mounts(&dir) {
        first_err.get_or_insert(e);
    }
    // Keep the records of hosts that could not be stopped, so a later `down` tries again.
    let left: Vec<HostRecord> = state
        .hosts
        .into_iter()
        .filter(|r| r.pid1.alive() || r.spawner.alive())
        .collect();
    let none_left = left.is_empty();
    dir.save(&State {
        version: 1,
        hosts: left,
    })?;
    if let Some(e) = first_err {
        return Err(e);
    }
    let mut purged = false;
    if purge && none_left {
        if let Some(point) = procfs::mounts_under(&dir.path).first() {
            return Err(LabError::BadDir {
                path: dir.path.clone(),
                reason: format!("not removed: {} is still mounted", point.display()),
            });
        }
        drop(lock);
        std::fs::remove_dir_all(&dir.path)
            .map_err(|e| LabError::io("removing lab folder", &dir.path, e))?;
        purged = true;
    }
    Ok(DownReport {
        stopped,
        purged,
        elapsed: t0.elapsed(),
    })
}

/// Every recorded host with its address, PID 1 and whether it runs and answers SSH.
pub fn status(dir: &Path) -> Result<Vec<HostStatus>, LabError> {
    check_platform()?;
    let dir = LabDir::new(dir)?;
    if !dir.state_path().exists() {
        return Err(LabError::NoLab { dir: dir.path });
    }
    let state = dir.load()?;
    Ok(state
        .hosts
        .iter()
        .map(|r| status_of(r, Duration::from_secs(1)))
        .collect())
}

/// Runs `argv` inside a host (its namespaces and root, as root, no ssh) with the terminal's
/// stdin/stdout/stderr; returns the command's exit status (128 + signal if killed).
pub fn exec(dir: &Path, host_name: &str, argv: &[OsString]) -> Result<i32, LabError> {
    check_platform()?;
    let dir = LabDir::new(dir)?;
    if !dir.state_path().exists() {
        return Err(LabError::NoLab { dir: dir.path });
    }
    let state = dir.load()?;
    let rec = state
        .hosts
        .iter()
        .find(|r| r.name == host_name || r.addr.to_string() == host_name)
        .ok_or_else(|| LabError::UnknownHost {
            host: host_name.to_string(),
            known: state.hosts.iter().map(|r| r.name.clone()).collect(),
        })?;
    if !rec.pid1.alive() {
        return Err(LabError::HostDown {
            host: rec.name.clone(),
        });
    }
    if argv.is_empty() {
        return Err(LabError::Tool {
            tool: "play lab exec".into(),
            detail: "no command given (usage: play lab exec HOST -- CMD...)".into(),
        });
    }
    let mut env: BTreeMap<&str, OsString> = BTreeMap::new();
    env.insert("PATH", host::HOST_PATH.into());
    env.insert("HOME", "/root".into());
    env.insert("USER", "root".into());
    env.insert("LOGNAME", "root".into());
    for keep in ["TERM", "LANG", "LC_ALL"] {
        if let Some(v) = std::env::var_os(keep) {
            env.insert(keep, v);
        }
    }
    let status = Command::new("nsenter")
        .args(host::nsenter_args(rec))
        .arg("--")
        .args(argv)
        .env_clear()
        .envs(env)
        .status()
        .map_err(|e| LabError::Tool {
            tool: "nsenter".into(),
            detail: format!("cannot run it: {e}"),
        })?;
    use std::os::unix::process::ExitStatusExt;
    Ok(match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 1,
    })
}
