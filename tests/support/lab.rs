//! Real test hosts for integration tests, through `play lab` (needs Linux and root; CI is root).
//!
//! ```ignore
//! mod support;
//! use support::lab::Lab;
//!
//! let lab = Lab::start("apply-files", 3); // h1..h3, plain mode
//! let out = lab.exec("h2", "cat /etc/hostname");
//! let status = lab.play().args(["run", "-i"]).arg(&lab.inventory).args(["all", "true"]).status();
//! // dropping `lab` runs `play lab down`, also when the test panics
//! ```
//!
//! **Lab names must be unique across all tests** (every test binary runs in parallel with the
//! others): the name picks the state folder (`$TMPDIR/play-test-labs/NAME`) and the address block
//! `127.0.K.10` (host i on `127.0.K.(10+i)`), with K in 1..=250 from a hash of the name. Two names
//! whose hashes land on the same K fail with "address already in use" when they run at the same
//! time: rename one of them (see [`Lab::base_for`]).
//!
//! On success the state folder is removed; after a panic it is kept (console logs in
//! `hosts/hI/console.log`) and the hosts are stopped.
#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The built `play` binary.
pub fn play_bin() -> &'static str {
    env!("CARGO_BIN_EXE_play")
}

/// A copy of the built `play` binary that lab hosts can run (for tests that run `play` inside a
/// host): a host sees the machine's `/` through its overlay, but not `/tmp` (its own tmpfs) nor
/// `/root` (hidden), where a checkout may live. Call it before the lab starts (the overlay's
/// lower layer must not change under running hosts). The copy is per test process.
pub fn play_bin_for_hosts() -> PathBuf {
    let dir = Path::new("/var/tmp/play-test-bin");
    std::fs::create_dir_all(dir).expect("mkdir /var/tmp/play-test-bin");
    let dst = dir.join(format!("play-{}", std::process::id()));
    if !dst.exists() {
        let tmp = dir.join(format!(".play-{}.tmp", std::process::id()));
        std::fs::copy(play_bin(), &tmp).expect("copy play");
        std::fs::rename(&tmp, &dst).expect("rename play");
    }
    dst
}

/// One host of a lab.
#[derive(Debug, Clone)]
pub struct LabHost {
    /// `h1`, `h2`...
    pub name: String,
    /// Dotted IPv4 address, e.g. `127.0.42.11` (sshd listens on port 22).
    pub addr: String,
}

impl LabHost {
    /// The address, typed.
    pub fn ip(&self) -> Ipv4Addr {
        self.addr.parse().expect("lab host address")
    }
}

/// A running lab; `Drop` stops it.
#[derive(Debug)]
pub struct Lab {
    /// Lab name (unique per test).
    pub name: String,
    /// State folder.
    pub dir: PathBuf,
    /// `inventory.yml`: group `lab` with h1..hN, ssh_user root.
    pub inventory: PathBuf,
    /// `known_hosts` with every host's key (`hI,127.0.K.X ssh-ed25519 ...`).
    pub known_hosts: PathBuf,
    /// Client private key, authorized for root, deploy and nopass.
    pub key: PathBuf,
    pub hosts: Vec<LabHost>,
    pub systemd: bool,
}

fn fnv1a(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Lab {
    /// `n` hosts with a plain init (sshd + supervisord).
    pub fn start(name: &str, n: usize) -> Lab {
        Lab::up(name, n, false)
    }

    /// `n` hosts with systemd as PID 1 (ssh and supervisor are systemd units).
    pub fn start_systemd(name: &str, n: usize) -> Lab {
        Lab::up(name, n, true)
    }

    /// The address block of a lab name: `127.0.K.10`, K in 1..=250.
    pub fn base_for(name: &str) -> Ipv4Addr {
        let k = 1 + (fnv1a(name) % 250) as u8;
        Ipv4Addr::new(127, 0, k, 10)
    }

    /// The state folder of a lab name.
    pub fn dir_for(name: &str) -> PathBuf {
        std::env::temp_dir().join("play-test-labs").join(name)
    }

    fn up(name: &str, n: usize, systemd: bool) -> Lab {
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "lab name {name:?}: use letters, digits, - and _"
        );
        assert!((1..=244).contains(&n), "a lab has 1 to 244 hosts, not {n}");
        let dir = Lab::dir_for(name);
        let base = Lab::base_for(name);
        let o = base.octets();
        let lab = Lab {
            name: name.to_string(),
            inventory: dir.join("inventory.yml"),
            known_hosts: dir.join("known_hosts"),
            key: dir.join("id_ed25519"),
            hosts: (1..=n)
                .map(|i| LabHost {
                    name: format!("h{i}"),
                    addr: Ipv4Addr::new(o[0], o[1], o[2], o[3] + i as u8).to_string(),
                })
                .collect(),
            dir,
            systemd,
        };
        // Start from fresh hosts: a lab left by a crashed earlier run would carry its state.
        let _ = lab.down();
        // `lab` exists before `up` runs, so its Drop cleans up if `up` fails half way.
        let out = lab.up_again(n);
        assert!(
            out.status.success(),
            "play lab up {n} for lab {name} failed:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        lab
    }

    /// Runs `play lab up N` again for this lab (same mode and addresses) and returns its output.
    pub fn up_again(&self, n: usize) -> Output {
        let mut cmd = self.play();
        cmd.args(["lab", "up", &n.to_string(), "--dir"])
            .arg(&self.dir)
            .args(["--base", &Lab::base_for(&self.name).to_string()]);
        if self.systemd {
            cmd.arg("--systemd");
        }
        cmd.output().expect("run play lab up")
    }

    /// `play lab down` for this lab (Drop does it too).
    pub fn down(&self) -> Output {
        self.play()
            .args(["lab", "down", "--dir"])
            .arg(&self.dir)
            .output()
            .expect("run play lab down")
    }

    /// A `play` command (the binary built for these tests).
    pub fn play(&self) -> Command {
        Command::new(play_bin())
    }

    /// The host named `name` (panics if the lab has none).
    pub fn host(&self, name: &str) -> &LabHost {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("lab {} has no host {name}", self.name))
    }

    /// Runs a shell command line (`sh -c CMD`) as root inside `host`, through `play lab exec`.
    pub fn exec(&self, host: &str, cmd: &str) -> Output {
        self.exec_argv(host, &["sh", "-c", cmd])
    }

    /// [`Lab::exec`] that must succeed; its stdout.
    pub fn sh(&self, host: &str, cmd: &str) -> String {
        let out = self.exec(host, cmd);
        assert!(
            out.status.success(),
            "{host}: `{cmd}`: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The pid supervisord gives program `name` on `host` (which must be RUNNING).
    pub fn pid(&self, host: &str, name: &str) -> String {
        let out = self.sh(host, &format!("supervisorctl status {name}"));
        assert!(out.contains("RUNNING"), "{host}: {out}");
        out.split("pid ")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .unwrap_or_else(|| panic!("{host}: no pid in {out}"))
            .to_string()
    }

    /// Runs a command (no shell) as root inside `host`, through `play lab exec`.
    pub fn exec_argv(&self, host: &str, argv: &[&str]) -> Output {
        self.play()
            .args(["lab", "exec", host, "--dir"])
            .arg(&self.dir)
            .arg("--")
            .args(argv)
            .output()
            .expect("run play lab exec")
    }

    /// OpenSSH client options for this lab: its key, its known_hosts, strict host key checking,
    /// no user ssh config, fast key exchange.
    pub fn ssh_options(&self) -> Vec<String> {
        vec![
            "-F".into(),
            "/dev/null".into(),
            "-i".into(),
            self.key.display().to_string(),
            "-o".into(),
            format!("UserKnownHostsFile={}", self.known_hosts.display()),
            "-o".into(),
            "StrictHostKeyChecking=yes".into(),
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            "IdentitiesOnly=yes".into(),
            "-o".into(),
            "GSSAPIAuthentication=no".into(),
            "-o".into(),
            "KexAlgorithms=curve25519-sha256".into(),
            "-o".into(),
            "ConnectTimeout=10".into(),
            "-o".into(),
            "LogLevel=ERROR".into(),
        ]
    }

    /// Runs `cmd` on `host` as `user` with the OpenSSH client.
    pub fn ssh(&self, user: &str, host: &str, cmd: &str) -> Output {
        let addr = &self.host(host).addr;
        Command::new("ssh")
            .args(self.ssh_options())
            .arg(format!("{user}@{addr}"))
            .arg(cmd)
            .output()
            .expect("run ssh")
    }

    /// Library connection options for `host` as root with the lab's key and known_hosts
    /// (strict host keys, no agent, 10 s timeout, direct).
    pub fn connect_options(&self, host: &str) -> play::transport::ConnectOptions {
        play::transport::ConnectOptions {
            name: host.to_string(),
            address: self.host(host).addr.clone(),
            port: 22,
            user: "root".into(),
            private_keys: vec![self.key.clone()],
            known_hosts: self.known_hosts.clone(),
            host_key_policy: play::transport::HostKeyPolicy::Strict,
            become_root: false,
            timeout: std::time::Duration::from_secs(10),
            use_agent: false,
            jump: None,
            keepalive: None,
            become_password: None,
        }
    }

    /// The parsed `state.json` (for tests of the lab itself).
    pub fn state(&self) -> serde_json::Value {
        let path = self.dir.join("state.json");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let panicking = std::thread::panicking();
        let mut cmd = Command::new(play_bin());
        cmd.args(["lab", "down", "--dir"]).arg(&self.dir);
        if !panicking {
            cmd.arg("--purge");
        }
        match cmd.output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                let msg = format!(
                    "play lab down for lab {} failed:\n{}{}",
                    self.name,
                    text(&o.stdout),
                    text(&o.stderr)
                );
                if panicking {
                    eprintln!("{msg}");
                } else {
                    panic!("{msg}");
                }
            }
            Err(e) => eprintln!("cannot run play lab down for lab {}: {e}", self.name),
        }
        if panicking {
            eprintln!(
                "lab {}: hosts stopped; logs kept in {}",
                self.name,
                Path::new(&self.dir).join("hosts").display()
            );
        }
    }
}
