//! The per-host apply lock and interrupted sessions, on a real lab: two applies at once, a
//! controller killed mid-apply, a stale lock, a connection cut mid-write, leftover temp files.
//! Each test checks the hosts afterwards.

mod support;

use std::process::Child;
use std::time::{Duration, Instant};

use support::lab::Lab;
use support::project::Project;

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

fn finish(child: Child) -> (Option<i32>, String) {
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code(),
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
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
    p.play(&["apply", "site.yml", "-e", "v=2", "--lock-timeout", "0"])
        .code(1)
        .shows("locked by another `play apply`")
        .shows(&format!("(pid {a_pid}), since "))
        .shows("gave up after 0s (--lock-timeout)");
    assert_eq!(
        lab.sh("h1", "cat /etc/locked-a"),
        "1\n",
        "B changed nothing"
    );
    // B waits for A, then probes again under the lock and converges.
    let b = p
        .play(&[
            "apply",
            "site.yml",
            "-e",
            "v=2",
            "--lock-timeout",
            "60",
            "-v",
        ])
        .code(0)
        .shows("waiting up to 60s")
        .shows("probed again under the lock");
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
    let plant = |by: &str| {
        lab.sh(
            "h1",
            &format!(
                "mkdir -p /var/lib/play && setsid sh -c 'exec 9>>/var/lib/play/lock; flock 9; \
                 printf \"gen=5 state=held rpid=%s by={by} pid=4194000 start=1 since=1795000000\\n\" $$ \
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
        "echo half > /srv/cut/.z.play-tmp.Qx81Zt && echo keep > /srv/cut/.z.play-tmp.not-ours",
    );
    p.play(&["diff", "site.yml"]).code(0);
    lab.sh("h1", "test -e /srv/cut/.z.play-tmp.Qx81Zt");
    p.play(&["apply", "site.yml", "-v"]).code(0).shows(
        "removed 1 leftover temp file(s) of an interrupted run: /srv/cut/.z.play-tmp.Qx81Zt",
    );
    assert_eq!(
        lab.sh("h1", "LC_ALL=C ls -A /srv/cut"),
        ".z.play-tmp.not-ours\na\nblob\nz\n"
    );
    assert_eq!(
        lab.sh("h1", "wc -c < /srv/cut/blob").trim(),
        size.to_string()
    );
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);
}
