//! `play run` against a real 10-host lab: success, and each kind of failure confined to its host.

mod support;

use std::process::Command;

use support::lab::Lab;
use support::project::Project;

fn sh(lab: &Lab, host: &str, cmd: &str) -> String {
    let out = lab.exec(host, cmd);
    assert!(
        out.status.success(),
        "{host}: `{cmd}`: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The host's ed25519 key as `ssh-keygen -lf` prints its fingerprint (`SHA256:...`).
fn fingerprint(lab: &Lab, host: &str) -> String {
    let line = sh(
        lab,
        host,
        "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub",
    );
    line.split_whitespace()
        .nth(1)
        .expect("fingerprint")
        .to_string()
}

#[test]
fn run_on_ten_hosts_and_failures_stay_on_their_host() {
    let lab = Lab::start("run-ten", 10);

    // --- all good: every host runs it, blocks in inventory order, exit 0
    let p = Project::new(&lab);
    let run = p
        .play(&["run", "lab", "--", "echo", "hello from $(hostname)"])
        .code(0);
    let mut last = 0;
    for h in &lab.hosts {
        let block = format!("{} | ok | rc=0", h.name);
        let at = run
            .stdout
            .find(&block)
            .unwrap_or_else(|| panic!("no block for {}:\n{}", h.name, run.stdout));
        assert!(at >= last, "blocks out of inventory order:\n{}", run.stdout);
        last = at;
        assert!(run.stdout.contains(&format!("  hello from {}\n", h.name)));
    }
    assert!(run.stdout.contains("10 hosts: 10 ok"), "{}", run.stdout);

    // A command failing on one host only: exit 1, that host listed as failed.
    p.play(&["run", "lab", "--", "test $(hostname) != h5"])
        .code(1)
        .shows("h5 | FAILED | rc=1")
        .shows("1 failed (h5)");

    // --- one broken thing per host, all in one run
    let kh = p.path("known_hosts");
    let lines: Vec<String> = std::fs::read_to_string(&lab.known_hosts)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let key_of = |h: &str| -> String {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("{h},")))
            .unwrap()
            .split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut broken = Vec::new();
    for l in &lines {
        let name = l.split(',').next().unwrap();
        match name {
            "h3" => continue, // unknown key
            "h4" => broken.push(format!("h4,{} {}", lab.host("h4").addr, key_of("h5"))), // another host's key
            _ => broken.push(l.clone()),
        }
    }
    std::fs::write(&kh, broken.join("\n") + "\n").unwrap();
    // h6: sshd stopped; h7: logs in with a key that is not authorized.
    sh(&lab, "h6", "pkill -x sshd; true");
    let wrong_key = p.path("wrong_key");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&wrong_key)
        .status()
        .unwrap();
    assert!(st.success());
    let p = p.host_var(6, "ssh_private_key", &wrong_key.display().to_string());
    let run = p
        .play(&[
            "run",
            "lab",
            "--known-hosts",
            kh.to_str().unwrap(),
            "--",
            "uname",
            "-n",
        ])
        .code(1);
    let out = format!("{}{}", run.stdout, run.stderr);
    let block = |h: &str| -> String {
        let start = out
            .find(&format!("{h} | "))
            .unwrap_or_else(|| panic!("no block for {h}:\n{out}"));
        let rest = &out[start..];
        let end = rest[1..].find("\nh").map(|e| e + 1).unwrap_or(rest.len());
        rest[..end].to_string()
    };
    for h in ["h1", "h2", "h5", "h8", "h9", "h10"] {
        assert!(
            block(h).starts_with(&format!("{h} | ok | rc=0")),
            "{h} should run:\n{out}"
        );
    }
    let h3 = block("h3");
    assert!(
        h3.contains("UNREACHABLE") && h3.contains("h3") && h3.contains("ssh-ed25519"),
        "{h3}"
    );
    assert!(
        h3.contains(&fingerprint(&lab, "h3")),
        "unknown key message names the fingerprint:\n{h3}"
    );
    let h4 = block("h4");
    assert!(
        h4.contains("UNREACHABLE") && h4.to_uppercase().contains("CHANGED"),
        "{h4}"
    );
    assert!(
        h4.contains(&fingerprint(&lab, "h4")),
        "changed key message names the fingerprint:\n{h4}"
    );
    let h6 = block("h6");
    assert!(h6.contains("UNREACHABLE") && h6.contains("connect"), "{h6}");
    let h7 = block("h7");
    assert!(
        h7.contains("UNREACHABLE") && h7.contains("authentication failed"),
        "{h7}"
    );
    assert!(
        out.contains("6 ok") && out.contains("4 unreachable (h3, h4, h6, h7)"),
        "{out}"
    );

    // --- accept-new records the unknown key of h3 (once), a changed key is still refused
    let p = Project::new(&lab);
    let before = std::fs::read_to_string(&kh).unwrap();
    let run = p
        .play(&[
            "run",
            "h1:h2:h3:h4",
            "--known-hosts",
            kh.to_str().unwrap(),
            "--host-key-policy",
            "accept-new",
            "--",
            "true",
        ])
        .code(1);
    assert!(run.stdout.contains("h3 | ok"), "{}", run.stdout);
    assert!(
        run.stdout.contains("h4 | UNREACHABLE"),
        "a changed key is never accepted:\n{}",
        run.stdout
    );
    let after = std::fs::read_to_string(&kh).unwrap();
    assert_eq!(
        after.lines().count(),
        before.lines().count() + 1,
        "one line appended:\n{after}"
    );
    assert!(after.contains(&key_of("h3")));
    p.play(&[
        "run",
        "h3",
        "--known-hosts",
        kh.to_str().unwrap(),
        "--",
        "true",
    ])
    .code(0);
}

#[test]
fn become_with_sudo() {
    let lab = Lab::start("run-sudo", 2);
    let p = Project::new(&lab);
    // deploy has passwordless sudo: `id -u` is 0 with --become, not without.
    let run = p
        .play(&["run", "lab", "-u", "deploy", "--become", "--", "id", "-u"])
        .code(0);
    assert_eq!(run.stdout.matches("\n  0\n").count(), 2, "{}", run.stdout);
    let run = p
        .play(&["run", "lab", "-u", "deploy", "--", "id", "-un"])
        .code(0);
    assert_eq!(
        run.stdout.matches("\n  deploy\n").count(),
        2,
        "{}",
        run.stdout
    );
    // `become: true` from the inventory (Ansible alias) works the same.
    let p2 = Project::new(&lab)
        .var("ansible_become", "true")
        .var("ansible_user", "deploy");
    p2.play(&["run", "h1", "-u", "deploy", "--", "id", "-u"])
        .code(0)
        .shows("\n  0\n");
    // nopass needs a password for sudo: a clear error, not a hang.
    p.play(&["run", "lab", "-u", "nopass", "--become", "--", "id", "-u"])
        .code(1)
        .shows("sudo needs a password");
}
