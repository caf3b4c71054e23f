//! The per-host apply lock and interrupted sessions, on a real lab: two applies at once, a
//! controller killed mid-apply, a stale lock, a connection cut mid-write, leftover temp files,
//! a second controller in another PID namespace, root and a login without root at once. Each
//! test checks the hosts afterwards.

mod support;

use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use support::lab::{play_bin, Lab};
use support::project::{Project, Run};

/// Waits until `cmd` on `host` prints something containing `want`.
fn wait_until(lab: &Lab, host: &str, cmd: &str, want: &str) {
    let start = Instant::now();
    loop {
        let out = lab.exec(host, cmd);
        if String::from_utf8_lossy(&out.stdout).contains(want) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{host}: `{cmd}` never showed {want:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn finish(child: Child) -> (Option<i32>, String) {
    let out = child.wait_with_output().expect("wait");
    (out.status.code(), text(&out))
}

/// `play ARGS --lock-timeout 0` fails at once, naming the holder's controller pid.
fn refused_by(p: &Project, args: &[&str], holder: u32) {
    let mut all = args.to_vec();
    all.extend(["--lock-timeout", "0"]);
    p.play(&all)
        .code(1)
        .shows("locked by another `play apply`")
        .shows(&format!("(pid {holder}), since "))
        .shows("gave up after 0s (--lock-timeout)");
}

/// `play ARGS --lock-timeout 60 -v` waits for the holder, then succeeds.
fn waits(p: &Project, args: &[&str]) -> Run {
    let mut all = args.to_vec();
    all.extend(["--lock-timeout", "60", "-v"]);
    p.play(&all).code(0).shows("waiting up to 60s")
}

const SLOW: &str = r#"
- hosts: lab
  state:
    - file: /etc/locked-a
      content: "{{ v }}\n"
    - command: sleep 4 && touch /etc/slow-{{ v }}
      creates: /etc/slow-{{ v }}
"#;

#[test]
fn concurrent_applies_wait_for_the_host_lock() {
    let lab = Lab::start("faults-lock", 1);
    let p = Project::new(&lab).file("site.yml", SLOW);

    // A applies (and sleeps in its command); B fails at once, naming A.
    let a = p.spawn(&["apply", "site.yml", "-e", "v=1"]);
    let a_pid = a.id();
    wait_until(&lab, "h1", "cat /etc/locked-a 2>/dev/null", "1");
    refused_by(&p, &["apply", "site.yml", "-e", "v=2"], a_pid);
    assert_eq!(
        lab.sh("h1", "cat /etc/locked-a"),
        "1\n",
        "B changed nothing"
    );
    // B waits for A, then probes again under the lock and converges.
    let b = waits(&p, &["apply", "site.yml", "-e", "v=2"]).shows("probed again under the lock");
    let (code, out) = finish(a);
    assert_eq!(code, Some(0), "A converged:\n{out}");
    drop(b);
    assert_eq!(lab.sh("h1", "cat /etc/locked-a"), "2\n");
    lab.sh("h1", "test -e /etc/slow-1 && test -e /etc/slow-2");

    // A controller killed mid-apply: its lock goes with its session, but the next apply
    // starts only once the script it left running on the host has ended.
    let a = p.spawn(&["apply", "site.yml", "-e", "v=3"]);
    wait_until(&lab, "h1", "cat /etc/locked-a 2>/dev/null", "3");
    wait_until(&lab, "h1", "ps -eo args", "sleep 4");
    let mut a = a;
    a.kill().expect("kill -9 the controller");
    let _ = a.wait();
    p.play(&["apply", "site.yml", "-e", "v=4", "--lock-timeout", "60"])
        .code(0);
    assert_eq!(lab.sh("h1", "cat /etc/locked-a"), "4\n");
    let left = lab.sh("h1", "ps -eo args | grep -c '^sleep 4' || true");
    assert_eq!(left.trim(), "0", "the killed run's script had ended");
    // Nothing to do: no lock taken, one probe.
    p.play(&["diff", "--exit-code", "site.yml", "-e", "v=4"])
        .code(0);
}

#[test]
fn a_stale_lock_is_broken_and_a_live_one_named() {
    let lab = Lab::start("faults-stale", 1);
    let here = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("hostname")
        .trim()
        .to_string();
    // Where this controller runs: a holder is judged stale only in this boot and PID namespace.
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .expect("boot id")
        .trim()
        .to_string();
    let ns = std::fs::read_link("/proc/self/ns/pid").expect("pid namespace");
    let ns = ns.to_string_lossy();
    let pidns = ns
        .trim_start_matches("pid:[")
        .trim_end_matches(']')
        .to_string();
    let plant = |by: &str| {
        lab.sh(
            "h1",
            &format!(
                "mkdir -p /var/lib/play && setsid sh -c 'exec 9>>/var/lib/play/lock; flock 9; \
                 printf \"gen=5 state=held rpid=%s by={by} pid=4194000 start=1 since=1795000000 boot={boot} pidns={pidns}\\n\" $$ \
                 > /var/lib/play/lock; exec sleep 1000' </dev/null >/dev/null 2>&1 &"
            ),
        );
        wait_until(&lab, "h1", "cat /var/lib/play/lock", "gen=5 state=held");
    };
    let p = Project::new(&lab).file(
        "site.yml",
        "- hosts: lab\n  state:\n    - file: /etc/after-lock\n      content: \"ok\\n\"\n",
    );
    // Held by a run on another machine: waited for, then refused with the owner.
    plant("ci@elsewhere");
    p.play(&["apply", "site.yml", "--lock-timeout", "1"])
        .code(1)
        .shows("ci@elsewhere (pid 4194000), since 2026-")
        .shows("gave up after 1s");
    lab.sh("h1", "test ! -e /etc/after-lock");
    lab.sh("h1", "pkill -x sleep; sleep 0.2");
    // Held by a run of this machine that is gone: broken.
    plant(&format!("ci@{here}"));
    p.play(&["apply", "site.yml", "-v"])
        .code(0)
        .shows("broke a stale apply lock")
        .shows("no longer running on this machine");
    assert_eq!(lab.sh("h1", "cat /etc/after-lock"), "ok\n");
    let left = lab.sh("h1", "ps -eo args | grep -c '^sleep 1000' || true");
    assert_eq!(left.trim(), "0", "the stale holder was stopped");
    assert!(lab
        .sh("h1", "cat /var/lib/play/lock")
        .starts_with("gen=6 state=free "));
}

#[test]
fn connection_cut_mid_apply_leaves_whole_files_and_the_next_run_cleans_up() {
    let lab = Lab::start("faults-cut", 2);
    for h in ["h1", "h2"] {
        lab.sh(
            h,
            "mkdir -p /srv/cut && echo old-a > /srv/cut/a && echo old > /srv/cut/blob && echo old-z > /srv/cut/z",
        );
    }
    let size: usize = 128 << 20;
    let p = Project::new(&lab).file(
        "site.yml",
        "- hosts: lab\n  state:\n    - file: /srv/cut/a\n      content: \"new-a\\n\"\n    - file: /srv/cut/blob\n      src: blob\n    - file: /srv/cut/z\n      content: \"new-z\\n\"\n",
    );
    p.blob("files/blob", size);
    let child = p.spawn(&["apply", "site.yml"]);
    // As root, the temp file is written in root's private folder on the same filesystem.
    wait_until(&lab, "h1", "ls -A /var/lib/play/tmp", "play.");
    // Cut h1's connection: kill its sshd session processes (not the listener).
    lab.sh("h1", "pkill -9 -f '^sshd: [a-z]+(@| \\[priv\\])'");
    let (code, out) = finish(child);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("h1:") && out.contains("UNREACHABLE"), "{out}");
    // The report says how many steps the host confirmed before the cut (the record of the
    // first one may still have been in flight: 0 or 1), and never claims more than landed.
    let confirmed = ["0", "1"]
        .into_iter()
        .find(|n| {
            out.contains(&format!(
                "the session broke during apply: {n} of 3 change(s) confirmed applied"
            ))
        })
        .unwrap_or_else(|| panic!("the report says what landed:\n{out}"));
    assert_eq!(
        out.contains("update file /srv/cut/a [not applied]"),
        confirmed == "0",
        "{out}"
    );
    assert!(
        out.contains("update file /srv/cut/z [not applied]"),
        "{out}"
    );
    // Whole old or whole new, never partial; the first file was written before the cut.
    assert_eq!(lab.sh("h1", "cat /srv/cut/a"), "new-a\n");
    let blob = lab.sh("h1", "wc -c < /srv/cut/blob");
    assert!(
        blob.trim() == "4" || blob.trim() == size.to_string(),
        "blob whole: {blob}"
    );
    assert_eq!(lab.sh("h1", "cat /srv/cut/z"), "old-z\n");
    assert_eq!(
        lab.sh("h2", "wc -c < /srv/cut/blob").trim(),
        size.to_string()
    );

    // Leftovers of an interrupted write (as a host killed mid-write leaves them) beside a
    // declared file, and a look-alike that is not ours.
    lab.sh(
        "h1",
        "echo half > /srv/cut/.z.play-tmp.Qx81Zt && echo keep > /srv/cut/.z.play-tmp.not-ours \
         && echo half > /var/lib/play/tmp/play.Zt81Qx",
    );
    p.play(&["diff", "site.yml"]).code(0);
    lab.sh("h1", "test -e /srv/cut/.z.play-tmp.Qx81Zt");
    p.play(&["apply", "site.yml", "-v"]).code(0).shows(
        "removed 1 leftover temp file(s) of an interrupted run: /srv/cut/.z.play-tmp.Qx81Zt",
    );
    assert_eq!(
        lab.sh("h1", "LC_ALL=C ls -A /srv/cut /var/lib/play/tmp"),
        "/srv/cut:\n.z.play-tmp.not-ours\na\nblob\nz\n\n/var/lib/play/tmp:\n"
    );
    assert_eq!(
        lab.sh("h1", "wc -c < /srv/cut/blob").trim(),
        size.to_string()
    );
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);
}

// --- Privilege and namespace boundaries (issue 13): a second controller in another PID
// namespace must not judge a live holder stale (it broke the lock and killed the first
// apply's script), and root and a login without root (`deploy`, no become) take one lock.

/// deploy's playbook: [`SLOW`] in its home (no become).
fn slow_deploy() -> String {
    SLOW.replace("/etc/locked-a", "/home/deploy/locked-b")
        .replace("/etc/slow-", "/home/deploy/slow-")
}

#[test]
fn a_controller_in_another_pid_namespace_waits_for_a_live_holder() {
    let lab = Lab::start("gitlock-pidns", 1);
    let p = Project::new(&lab).file("site.yml", SLOW);
    // A applies (and sleeps in its command), holding the lock.
    let a = p.spawn(&["apply", "site.yml", "-e", "v=1"]);
    let a_pid = a.id();
    wait_until(&lab, "h1", "cat /etc/locked-a 2>/dev/null", "1");
    // B: same user@hostname, but its own PID namespace (as in a CI container), where A's pid
    // does not exist.
    let b = |timeout: &str| {
        Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", "--"])
            .arg(play_bin())
            .args(["apply", "-i"])
            .arg(p.inventory())
            .args([
                "--color",
                "never",
                "site.yml",
                "-e",
                "v=2",
                "--lock-timeout",
            ])
            .arg(timeout)
            .env("PLAY_LOOPBACK_ONLY", "1")
            .current_dir(p.root())
            .output()
            .expect("run play under unshare")
    };
    let out = b("0");
    let says = text(&out);
    assert_eq!(out.status.code(), Some(1), "B is refused:\n{says}");
    assert!(
        says.contains("locked by another `play apply`")
            && says.contains(&format!("(pid {a_pid}), since ")),
        "B names A:\n{says}"
    );
    assert!(!says.contains("broke a stale apply lock"), "{says}");
    assert_eq!(
        lab.sh("h1", "cat /etc/locked-a"),
        "1\n",
        "B changed nothing"
    );
    // B again, waiting: it gets the lock once A is done, and A was not disturbed.
    let out = b("60");
    let (code, a_says) = finish(a);
    assert_eq!(code, Some(0), "A completed:\n{a_says}");
    assert_eq!(out.status.code(), Some(0), "B waited:\n{}", text(&out));
    lab.sh("h1", "test -e /etc/slow-1 && test -e /etc/slow-2");
    assert_eq!(lab.sh("h1", "cat /etc/locked-a"), "2\n");
}

#[test]
fn root_and_a_login_without_root_take_the_same_lock() {
    let lab = Lab::start("gitlock-mixed", 1);
    // Whatever the machine's own root shows through, the host starts without any lock.
    lab.sh("h1", "rm -rf /var/lib/play /home/deploy/.play");
    let p = Project::new(&lab)
        .file("site.yml", SLOW)
        .file("deploy.yml", &slow_deploy());

    // deploy first, on a host no root apply has locked yet (no lock; then a lock as older
    // versions made it, 0600 in a 0700 folder): no lock of its own, a clear error.
    for before in [
        "true",
        "mkdir -m 0700 /var/lib/play && install -m 0600 /dev/null /var/lib/play/lock",
    ] {
        lab.sh("h1", before);
        p.play(&["apply", "deploy.yml", "-u", "deploy", "-e", "v=0"])
            .code(1)
            .shows(
                "no shared apply lock on this host: /var/lib/play/lock is missing or out of reach",
            )
            .shows("install -m 0666 /dev/null /var/lib/play/lock");
        lab.sh("h1", "test ! -e /home/deploy/locked-b");
    }

    // A root apply makes the lock (or fixes an older one): root's, 0666, in a folder others
    // reach but cannot change.
    p.play(&["apply", "site.yml", "-e", "v=0"]).code(0);
    assert_eq!(
        lab.sh(
            "h1",
            "stat -c '%a %U' /var/lib/play /var/lib/play/lock /var/lib/play/lock.run"
        ),
        "711 root\n666 root\n666 root\n"
    );
    for attack in [
        "rm -f /var/lib/play/lock",
        "mv /var/lib/play/lock /var/lib/play/x",
        "ln -sf /etc/shadow /var/lib/play/lock.run",
    ] {
        let out = lab.exec("h1", &format!("runuser -u deploy -- {attack}"));
        assert!(!out.status.success(), "deploy could `{attack}`");
    }
    lab.sh(
        "h1",
        "for f in /var/lib/play/lock /var/lib/play/lock.run; do test -f $f && ! test -L $f || exit 1; done",
    );
    assert_eq!(
        lab.sh("h1", "stat -c %U /var/lib/play/lock /var/lib/play/lock.run"),
        "root\nroot\n",
        "the lock files are still root's"
    );

    // Root holds the lock: deploy (no become) is refused, naming root's run.
    let a = p.spawn(&["apply", "site.yml", "-e", "v=1"]);
    let a_pid = a.id();
    wait_until(&lab, "h1", "cat /etc/locked-a 2>/dev/null", "1");
    refused_by(
        &p,
        &["apply", "deploy.yml", "-u", "deploy", "-e", "v=1"],
        a_pid,
    );
    lab.sh("h1", "test ! -e /home/deploy/locked-b");
    let (code, out) = finish(a);
    assert_eq!(code, Some(0), "root's apply completed:\n{out}");

    // deploy holds the lock: root is refused, naming deploy's run.
    let b = p.spawn(&["apply", "deploy.yml", "-u", "deploy", "-e", "v=2"]);
    let b_pid = b.id();
    wait_until(&lab, "h1", "cat /home/deploy/locked-b 2>/dev/null", "2");
    refused_by(&p, &["apply", "site.yml", "-e", "v=2"], b_pid);
    assert_eq!(
        lab.sh("h1", "cat /etc/locked-a"),
        "1\n",
        "root changed nothing"
    );
    // Root waits for deploy, then applies.
    waits(&p, &["apply", "site.yml", "-e", "v=2"]);
    let (code, out) = finish(b);
    assert_eq!(code, Some(0), "deploy's apply completed:\n{out}");
    lab.sh("h1", "test -e /home/deploy/slow-2 && test -e /etc/slow-2");
}

#[test]
fn a_session_cut_during_the_supervisor_step_is_a_lost_connection() {
    let lab = Lab::start("faults-super-cut", 1);
    let p = Project::new(&lab).file(
        "site.yml",
        "- hosts: lab\n  state:\n    - program: slow\n      command: /bin/sleep 100000\n      options: {startsecs: 20}\n",
    );
    let child = p.spawn(&["apply", "site.yml"]);
    // The conf is written by the apply script; then play polls supervisord while `slow` starts.
    wait_until(&lab, "h1", "supervisorctl status slow 2>&1", "STARTING");
    lab.sh("h1", "pkill -9 -f '^sshd: [a-z]+(@| \\[priv\\])'");
    let (code, out) = finish(child);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("connection lost while talking to supervisord") && out.contains("UNREACHABLE"),
        "{out}"
    );
}
