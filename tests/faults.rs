//! Faults on a real lab: disk full, permission denied, a host killed mid-apply. Each test checks
//! the hosts afterwards: every file is whole-old or whole-new, and a later run converges.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

#[test]
fn disk_full_and_permission_denied_leave_old_files_intact() {
    let lab = Lab::start("faults-disk", 2);
    sh(&lab, "h1", "mkdir -p /srv/small && mount -t tmpfs -o size=64k tmpfs /srv/small && echo old > /srv/small/app.bin");
    sh(
        &lab,
        "h2",
        "mkdir -p /srv/small && echo old > /srv/small/app.bin",
    );
    let big = vec![b'x'; 1 << 20];
    let p = Project::new(&lab).file(
        "site.yml",
        "- hosts: lab\n  state:\n    - file: /srv/small/app.bin\n      src: big.bin\n",
    );
    p.write("files/big.bin", &big);
    let run = p
        .play(&["apply", "site.yml"])
        .code(1)
        .shows("/srv/small/app.bin")
        .shows("No space left on device");
    assert_eq!(run.recap("h1").2, 1, "h1 failed");
    assert_eq!(run.recap("h2").1, 1, "h2 converged");
    assert_eq!(
        sh(&lab, "h1", "cat /srv/small/app.bin"),
        "old\n",
        "old file intact"
    );
    // /srv/small is its own filesystem: root's private temp folder is at its root.
    assert_eq!(
        sh(
            &lab,
            "h1",
            "ls -A /srv/small; stat -c '%U %a' /srv/small/.play-tmp; ls -A /srv/small/.play-tmp"
        ),
        ".play-tmp\napp.bin\nroot 700\n",
        "no temp file left behind"
    );
    assert_eq!(
        sh(&lab, "h2", "wc -c < /srv/small/app.bin").trim(),
        (1 << 20).to_string()
    );

    // Non-root without become writing to /etc: a clear error, nothing partial.
    let p = Project::new(&lab).file(
        "etc.yml",
        "- hosts: lab\n  state:\n    - file: /etc/play-denied.conf\n      content: \"x\\n\"\n",
    );
    p.play(&["apply", "etc.yml", "-u", "deploy"])
        .code(1)
        .shows("Permission denied")
        .shows("/etc/play-denied.conf");
    for h in ["h1", "h2"] {
        assert_eq!(
            sh(&lab, h, "ls -A /etc | grep -c play || true").trim(),
            "0",
            "{h}: nothing written to /etc"
        );
    }
    // With become it works.
    p.play(&["apply", "etc.yml", "-u", "deploy", "--become"])
        .code(0);
    assert_eq!(sh(&lab, "h2", "cat /etc/play-denied.conf"), "x\n");
}

fn pid1(lab: &Lab, host: &str) -> i64 {
    let state = lab.state();
    state["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .find(|h| h["name"] == host)
        .and_then(|h| h["pid1"]["pid"].as_i64())
        .expect("pid1")
}

#[test]
fn host_killed_mid_apply() {
    let lab = Lab::start("faults-kill", 3);
    for h in ["h1", "h2", "h3"] {
        sh(&lab, h, "mkdir -p /srv/big && echo old > /srv/big/blob");
    }
    // Big enough that the write takes a moment: 256 MiB of incompressible-ish bytes.
    let p = Project::new(&lab).file(
        "site.yml",
        "- hosts: lab\n  state:\n    - directory: /srv/big\n    - file: /srv/big/blob\n      src: blob\n",
    );
    p.blob("files/blob", 256 << 20);
    let inv = p.inventory();
    let child = Command::new(env!("CARGO_BIN_EXE_play"))
        .args(["apply", "site.yml", "--color", "never", "-i"])
        .arg(&inv)
        .env("PLAY_LOOPBACK_ONLY", "1")
        .current_dir(p.root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until h2 is writing its temp file, then kill the whole host.
    let start = Instant::now();
    loop {
        // As root, the temp file is written in root's private folder on the same filesystem.
        let out = lab.exec("h2", "ls -A /var/lib/play/tmp");
        if String::from_utf8_lossy(&out.stdout).contains("play.") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "h2 never started writing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = pid1(&lab, "h2");
    let st = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("h2:") && stdout.contains("UNREACHABLE"),
        "{stdout}"
    );
    for h in ["h1", "h3"] {
        assert_eq!(
            sh(&lab, h, "wc -c < /srv/big/blob").trim(),
            (256u64 << 20).to_string(),
            "{h} converged"
        );
    }
    // h2 comes back fresh (its upper layer was in memory): a new run converges it.
    let up = lab.up_again(3);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    p.play(&["apply", "site.yml", "--limit", "h2"]).code(0);
    assert_eq!(
        sh(&lab, "h2", "wc -c < /srv/big/blob").trim(),
        (256u64 << 20).to_string()
    );
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);
}

/// Starts `play apply` in the background and waits until h1 is writing its temp file.
#[allow(clippy::zombie_processes)] // the caller waits for the child it gets back
fn apply_until_h1_writes(lab: &Lab, p: &Project) -> std::process::Child {
    let inv = p.inventory();
    let mut child = Command::new(env!("CARGO_BIN_EXE_play"))
        .args([
            "apply", "site.yml", "--forks", "1", "--color", "never", "-i",
        ])
        .arg(&inv)
        .env("PLAY_LOOPBACK_ONLY", "1")
        .current_dir(p.root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        let out = lab.exec("h1", "ls -A /var/lib/play/tmp");
        if String::from_utf8_lossy(&out.stdout).contains("play.") {
            return child;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("h1 never started writing");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn sigint(child: &std::process::Child) {
    // SAFETY: kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(rc, 0);
}

#[test]
fn ctrl_c_finishes_in_flight_and_starts_nothing() {
    let lab = Lab::start("faults-sigint", 3);
    let size: usize = 192 << 20;
    let p = Project::new(&lab).file(
        "site.yml",
        "- hosts: lab\n  state:\n    - directory: /srv/big\n    - file: /srv/big/blob\n      src: blob\n",
    );
    p.blob("files/blob", size);
    for h in ["h1", "h2", "h3"] {
        sh(&lab, h, "mkdir -p /srv/big && echo old > /srv/big/blob");
    }

    // One Ctrl-C: h1 (in flight, forks 1) finishes; h2 and h3 are not touched; exit 130.
    let child = apply_until_h1_writes(&lab, &p);
    sigint(&child);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(130),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        sh(&lab, "h1", "wc -c < /srv/big/blob").trim(),
        size.to_string(),
        "in-flight write finished"
    );
    for h in ["h2", "h3"] {
        assert_eq!(sh(&lab, h, "cat /srv/big/blob"), "old\n", "{h} not touched");
    }
    assert!(stdout.contains("NOT RUN: interrupted"), "{stdout}");

    // Two Ctrl-C: abort at once; whatever h2 holds is whole (old or new), never partial.
    for h in ["h1", "h2", "h3"] {
        sh(&lab, h, "echo old > /srv/big/blob");
    }
    let child = apply_until_h1_writes(&lab, &p);
    sigint(&child);
    std::thread::sleep(Duration::from_millis(50));
    sigint(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let h1 = sh(&lab, "h1", "wc -c < /srv/big/blob");
    assert!(
        h1.trim() == "4" || h1.trim() == size.to_string(),
        "h1 blob is whole: {h1}"
    );
    // The next run converges every host.
    p.play(&["apply", "site.yml"]).code(0);
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);
}
