//! Hostile values against a real lab: shell metacharacters in vars, paths, contents and link
//! targets are data, never code; a host's odd file names and symlinks don't confuse the probe.

mod support;

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

/// Files an injected `touch pwned-*` would have made (in any working folder). `find` exits 1
/// when a file vanishes under it (the lab's `/` is an overlay over the live machine, where other tests and
/// builds create and delete files): what it prints is the answer, not its status.
const PWNED: &str = "find / /tmp /root -xdev -name 'pwned*' 2>/dev/null; true";

const PLAYBOOK: &str = r#"
- hosts: lab
  vars:
    evil: "$(touch pwned-var)"
    semi: "x; touch pwned-semi; rm -rf ..; cd ..; rm -rf keep"
  state:
    - directory: "/srv/{{ evil }}"
    - file: "/srv/{{ evil }}/{{ semi }}.txt"
      content: "{{ evil }} `touch pwned-backtick` {{ semi }} 'quoted' \"double\"\n"
    - link: "/srv/l; touch pwned-link"
      target: "/srv/$(touch pwned-target)"
    - file: "/srv/new\nline ünïcode"
      content: "ok\n"
"#;

#[test]
fn shell_metacharacters_are_data() {
    let lab = Lab::start("hostile-shell", 2);
    for h in ["h1", "h2"] {
        sh(&lab, h, "mkdir -p /srv/keep && echo keep > /srv/keep/file");
    }
    let p = Project::new(&lab).file("site.yml", PLAYBOOK);
    p.play(&["apply", "site.yml"]).code(0);
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);
    for h in ["h1", "h2"] {
        assert_eq!(sh(&lab, h, PWNED).trim(), "", "{h}: something ran");
        assert_eq!(sh(&lab, h, "cat /srv/keep/file"), "keep\n");
        assert_eq!(
            sh(&lab, h, "cat '/srv/$(touch pwned-var)/x; touch pwned-semi; rm -rf ..; cd ..; rm -rf keep.txt'"),
            "$(touch pwned-var) `touch pwned-backtick` x; touch pwned-semi; rm -rf ..; cd ..; rm -rf keep 'quoted' \"double\"\n"
        );
        assert_eq!(
            sh(&lab, h, "readlink '/srv/l; touch pwned-link'"),
            "/srv/$(touch pwned-target)\n"
        );
        assert_eq!(sh(&lab, h, "cat \"/srv/new\nline ünïcode\""), "ok\n");
    }

    // An owner value that tries to inject: the run fails cleanly, nothing runs.
    let p = Project::new(&lab).file(
        "bad.yml",
        "- hosts: lab\n  state:\n    - file: /srv/owned\n      content: x\n      owner: \"root; touch pwned-owner\"\n",
    );
    p.play(&["apply", "bad.yml"]).code(1).shows("FAILED");
    for h in ["h1", "h2"] {
        assert_eq!(sh(&lab, h, PWNED).trim(), "");
        assert_eq!(
            sh(&lab, h, "test -e /srv/owned && echo yes || echo no"),
            "no\n",
            "no half-applied file"
        );
    }
}

#[test]
fn odd_host_state_does_not_confuse_the_probe() {
    let lab = Lab::start("hostile-probe", 1);
    // The target is a symlink pointing outside: a file resource refuses to write through it;
    // names with newlines and NUL-like text stand next to declared paths.
    sh(&lab, "h1", "mkdir -p /srv/odd && ln -s /etc/passwd /srv/odd/app.conf && touch \"/srv/odd/app.conf\nstat\" '/srv/odd/-rf'");
    let p = Project::new(&lab).file(
        "site.yml",
        "- hosts: lab\n  state:\n    - file: /srv/odd/app.conf\n      content: \"x\\n\"\n    - file: /srv/odd/-rf\n      content: \"y\\n\"\n",
    );
    let before = sh(&lab, "h1", "sha256sum /etc/passwd");
    p.play(&["apply", "site.yml"])
        .code(1)
        .shows("/srv/odd/app.conf");
    assert_eq!(
        sh(&lab, "h1", "sha256sum /etc/passwd"),
        before,
        "never write through a symlink"
    );
    assert_eq!(
        sh(&lab, "h1", "readlink /srv/odd/app.conf"),
        "/etc/passwd\n"
    );
}

#[test]
fn a_frozen_host_times_out_alone() {
    let lab = Lab::start("hostile-slow", 3);
    let p = Project::new(&lab).file(
        "site.yml",
        "- hosts: lab\n  state:\n    - file: /etc/probe-me\n      content: x\n",
    );
    // Freeze every process of h2 (its sshd included): TCP still connects, nothing answers.
    let _ = lab.exec("h2", "kill -STOP -1");
    let run = p
        .play(&["apply", "site.yml", "--timeout", "2"])
        .code(1)
        .shows("timed out");
    assert_eq!(run.recap("h2").3, 1, "h2 unreachable:\n{}", run.stdout);
    for h in ["h1", "h3"] {
        assert_eq!(run.recap(h).1, 1, "{h} converged:\n{}", run.stdout);
    }
    let _ = lab.exec("h2", "kill -CONT -1");
    let run = p
        .play(&[
            "run",
            "lab",
            "--timeout",
            "2",
            "--",
            "sleep 3; echo quiet but alive",
        ])
        .code(0);
    assert_eq!(
        run.stdout.matches("quiet but alive").count(),
        3,
        "a long quiet command is not a hang:\n{}",
        run.stdout
    );
    // A live host whose probe hangs (its sha256sum stuck, as on a hung disk): sshd answers the
    // keepalives, but the probe is bounded by 3 × --timeout; that host fails alone.
    let _ = lab.exec(
        "h2",
        "echo old > /etc/probe-me && mv /usr/bin/sha256sum /usr/bin/sha256sum.real && \
         printf '#!/bin/sh\\nexec sleep 1000\\n' > /usr/bin/sha256sum && chmod 755 /usr/bin/sha256sum",
    );
    let run = p.play(&["apply", "site.yml", "--timeout", "2"]).code(1);
    // Bounded either way: the probe's own deadline (3 × --timeout), or, on a loaded machine,
    // the session's silence timeout when the host's keepalive answers come late.
    assert!(
        run.stdout.contains("the probe did not finish within")
            || run.stdout.contains("(no answer from the host) timed out"),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.recap("h2").2 + run.recap("h2").3,
        1,
        "h2 failed alone:\n{}",
        run.stdout
    );
    for h in ["h1", "h3"] {
        assert_eq!(
            run.recap(h).2 + run.recap(h).3,
            0,
            "{h} fine:\n{}",
            run.stdout
        );
    }
    let _ = lab.exec(
        "h2",
        "mv /usr/bin/sha256sum.real /usr/bin/sha256sum; pkill -x sleep",
    );
    p.play(&["apply", "site.yml", "--timeout", "2"]).code(0);
}
