//! A readable builder for integration tests: a throwaway project folder (playbook, roles,
//! templates, inventory over a lab's hosts) and `play` runs against it.
//!
//! ```ignore
//! let p = Project::new(&lab)
//!     .group("web", &[0, 1, 2])
//!     .file("site.yml", "- hosts: web\n  state: []\n");
//! p.play(&["apply", "site.yml"]).code(0);
//! ```

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::lab::Lab;

pub struct Project {
    pub dir: tempfile::TempDir,
    hosts: Vec<(String, String)>,
    groups: Vec<(String, Vec<usize>)>,
    vars: Vec<(String, String)>,
    host_vars: Vec<(usize, String, String)>,
    lab_key: PathBuf,
    lab_known_hosts: PathBuf,
}

impl Project {
    /// A project whose inventory holds the lab's hosts (group `lab` = all of them).
    pub fn new(lab: &Lab) -> Project {
        Project {
            dir: tempfile::tempdir().expect("tempdir"),
            hosts: lab
                .hosts
                .iter()
                .map(|h| (h.name.clone(), h.addr.clone()))
                .collect(),
            groups: Vec::new(),
            vars: Vec::new(),
            host_vars: Vec::new(),
            lab_key: lab.key.clone(),
            lab_known_hosts: lab.known_hosts.clone(),
        }
    }

    /// Writes `size` bytes of incompressible-ish data to `rel` (a big file to interrupt).
    pub fn blob(&self, rel: &str, size: usize) {
        let bytes: Vec<u8> = (0..size as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        self.write(rel, &bytes);
    }

    /// `play ARGS` started in the background (stdout and stderr piped), to interrupt.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_play"))
            .args(args)
            .args(["--color", "never", "-i"])
            .arg(self.inventory())
            .env("PLAY_LOOPBACK_ONLY", "1")
            .current_dir(self.root())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn play")
    }

    /// Adds a group holding the lab hosts at these indexes.
    pub fn group(mut self, name: &str, hosts: &[usize]) -> Self {
        self.groups.push((name.to_string(), hosts.to_vec()));
        self
    }

    /// Sets a var (YAML text) on `all`.
    pub fn var(mut self, name: &str, yaml: &str) -> Self {
        self.vars.push((name.to_string(), yaml.to_string()));
        self
    }

    /// Sets a var (YAML text) on one host.
    pub fn host_var(mut self, host: usize, name: &str, yaml: &str) -> Self {
        self.host_vars
            .push((host, name.to_string(), yaml.to_string()));
        self
    }

    /// Writes a file of the project (folders created).
    pub fn file(self, rel: &str, text: &str) -> Self {
        self.write(rel, text.as_bytes());
        self
    }

    pub fn write(&self, rel: &str, bytes: &[u8]) {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, bytes).expect("write");
    }

    /// Copies the files below `from` into the project's folder `rel` (`""`: its root),
    /// folders created, as they are.
    pub fn copy_tree(&self, from: &Path, rel: &str) {
        fn walk(from: &Path, to: &Path) {
            std::fs::create_dir_all(to).expect("mkdir");
            for e in std::fs::read_dir(from).expect("read_dir") {
                let e = e.expect("entry");
                let dst = to.join(e.file_name());
                if e.file_type().expect("type").is_dir() {
                    walk(&e.path(), &dst);
                } else {
                    std::fs::copy(e.path(), &dst).expect("copy");
                }
            }
        }
        walk(from, &self.dir.path().join(rel));
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The inventory file, written from the builder's groups and vars.
    pub fn inventory(&self) -> PathBuf {
        let mut y = String::from("all:\n  vars:\n");
        y += &format!(
            "    ssh_user: root\n    ssh_private_key: {}\n    ssh_known_hosts: {}\n",
            self.lab_key.display(),
            self.lab_known_hosts.display()
        );
        for (k, v) in &self.vars {
            y += &format!("    {k}: {v}\n");
        }
        y += "  hosts:\n";
        for (i, (name, addr)) in self.hosts.iter().enumerate() {
            y += &format!("    {name}:\n      ssh_host: {addr}\n");
            for (h, k, v) in &self.host_vars {
                if *h == i {
                    y += &format!("      {k}: {v}\n");
                }
            }
        }
        y += "  children:\n    lab:\n      hosts:\n";
        for (name, _) in &self.hosts {
            y += &format!("        {name}:\n");
        }
        for (g, idx) in &self.groups {
            y += &format!("    {g}:\n      hosts:\n");
            for i in idx {
                y += &format!("        {}:\n", self.hosts[*i].0);
            }
        }
        let p = self.dir.path().join("inventory.yml");
        std::fs::write(&p, y).expect("write inventory");
        p
    }

    /// Runs `play ARGS... -i INVENTORY` in the project folder.
    pub fn play(&self, args: &[&str]) -> Run {
        self.play_env(args, &[])
    }

    /// [`Project::play`] with the project's vault passphrase file (`pass`).
    pub fn play_vault(&self, args: &[&str]) -> Run {
        let pass = self.path("pass");
        self.play_env(args, &[("PLAY_VAULT_PASSWORD_FILE", pass.as_path())])
    }

    /// Runs `play ARGS... -i INVENTORY` in the project folder with these environment variables
    /// (e.g. `PLAY_VAULT_PASSWORD_FILE`).
    pub fn play_env(&self, args: &[&str], env: &[(&str, &Path)]) -> Run {
        let inv = self.inventory();
        // Options go right after the subcommand, before any `-- COMMAND`.
        let (sub, rest) = args.split_first().expect("a subcommand");
        let out = Command::new(env!("CARGO_BIN_EXE_play"))
            .arg(sub)
            .arg("-i")
            .arg(&inv)
            .arg("--color")
            .arg("never")
            .args(rest)
            .env("PLAY_LOOPBACK_ONLY", "1")
            .envs(env.iter().copied())
            .current_dir(self.dir.path())
            .output()
            .expect("run play");
        Run::from(args, out)
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `play vault encrypt REL` with the project's passphrase file `pass` (must succeed).
    pub fn vault_encrypt(&self, rel: &str) {
        let out = Command::new(env!("CARGO_BIN_EXE_play"))
            .args(["vault", "encrypt", rel])
            .env("PLAY_VAULT_PASSWORD_FILE", self.path("pass"))
            .current_dir(self.root())
            .output()
            .expect("run play vault");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The outcome of one `play` run, with assertions that print everything on failure.
pub struct Run {
    pub args: Vec<String>,
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Writes `text` to `dir/rel`, making its folders.
pub fn write_under(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

/// `play check site.yml` of a throwaway project holding `site` as site.yml and one host
/// `h1` (no lab: what check says of the entries).
pub fn check_site(site: &str) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    write_under(
        dir.path(),
        "hosts.yml",
        "all:\n  hosts:\n    h1: {ssh_host: 127.0.0.1}\n",
    );
    write_under(dir.path(), "site.yml", site);
    play_offline(dir.path(), &["check", "site.yml", "-i", "hosts.yml"])
}

/// Runs `play ARGS...` in `dir` with no lab (check, diff against unreachable hosts).
pub fn play_offline(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(super::lab::play_bin())
        .args(args)
        .env("PLAY_LOOPBACK_ONLY", "1")
        .env_remove("PLAY_VAULT_PASSWORD_FILE")
        .current_dir(dir)
        .output()
        .expect("run play");
    Run::from(args, out)
}

impl Run {
    /// The outcome of `play ARGS` that ended with `out`.
    pub fn from(args: &[&str], out: Output) -> Run {
        Run {
            args: args.iter().map(|s| s.to_string()).collect(),
            status: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts the exit code.
    pub fn code(self, code: i32) -> Self {
        assert_eq!(
            self.status,
            Some(code),
            "play {:?} exited {:?}, expected {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.args,
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts stdout or stderr contains `text`.
    pub fn shows(self, text: &str) -> Self {
        assert!(
            self.stdout.contains(text) || self.stderr.contains(text),
            "play {:?}: expected output to contain {text:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.args,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts neither stdout nor stderr contains `text`.
    pub fn hides(self, text: &str) -> Self {
        assert!(
            !self.stdout.contains(text) && !self.stderr.contains(text),
            "play {:?}: output must not contain {text:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.args,
            self.stdout,
            self.stderr
        );
        self
    }

    /// The recap row of a host: (ok, changed, failed, unreachable).
    pub fn recap(&self, host: &str) -> (usize, usize, usize, usize) {
        let line = self
            .stdout
            .lines()
            .find(|l| {
                l.split_whitespace().next() == Some(host) && l.split_whitespace().count() == 6
            })
            .unwrap_or_else(|| panic!("no recap row for {host} in:\n{}", self.stdout));
        let n: Vec<usize> = line
            .split_whitespace()
            .skip(1)
            .take(4)
            .map(|x| x.parse().expect("number"))
            .collect();
        (n[0], n[1], n[2], n[3])
    }
}
