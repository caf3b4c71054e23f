//! Privilege boundaries of `git:` and `release: from: {git}` (issue 13), on real labs: the
//! checkout's owner (`app`) plants code in what it controls — a hook, `core.fsmonitor`, a
//! release cache whose config rewrites the URL to `ext::sh -c …` — and the next root apply must
//! not run it as root. Every planted program writes `id -u` to a marker file.

mod support;

use support::lab::Lab;
use support::project::Project;

fn sh(lab: &Lab, host: &str, cmd: &str) -> String {
    lab.sh(host, cmd)
}

/// Runs `cmd` on h1 as user `app` (a clean login shell of its own).
fn as_app(lab: &Lab, cmd: &str) -> String {
    sh(
        lab,
        "h1",
        &format!(
            "cd / && runuser -u app -- env -i HOME=/home/app PATH=/usr/bin:/bin sh -c {}",
            shell_quote(cmd)
        ),
    )
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A bare repository `/srv/repo.git` (root's) with one commit on `main`, and a work tree
/// `/root/w` to push more commits from.
fn repo(lab: &Lab) {
    sh(
        lab,
        "h1",
        "set -e; export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.invalid GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.invalid
         git init -q --bare -b main /srv/repo.git
         git init -q -b main /root/w && cd /root/w
         echo v1 > app.txt && git add . && git commit -qm one
         git push -q /srv/repo.git main",
    );
}

/// A new commit on `main` (`app.txt` = `text`).
fn push(lab: &Lab, text: &str) {
    sh(
        lab,
        "h1",
        &format!(
            "set -e; export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.invalid GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.invalid
             cd /root/w && echo {text} > app.txt && git commit -qam {text} && git push -q /srv/repo.git main"
        ),
    );
}

/// What the planted programs recorded: one uid a line, or nothing.
fn marker(lab: &Lab, path: &str) -> String {
    sh(lab, "h1", &format!("cat {path} 2>/dev/null || true"))
}

fn assert_never_root(lab: &Lab, path: &str) {
    let m = marker(lab, path);
    assert!(
        !m.lines().any(|l| l.trim() == "0"),
        "the planted program ran as root ({path}: {m:?})"
    );
}

const CHECKOUT: &str = r#"- hosts: lab
  state:
    - user: app
    - git: /srv/src
      repo: /srv/repo.git
      version: main
      owner: app
"#;

#[test]
fn a_hook_planted_by_the_checkouts_owner_never_runs_as_root() {
    let lab = Lab::start("gitlock-hook", 1);
    repo(&lab);
    let p = Project::new(&lab).file("site.yml", CHECKOUT);
    p.play(&["apply", "site.yml"])
        .code(0)
        .shows("+ create git /srv/src");
    assert_eq!(
        sh(
            &lab,
            "h1",
            "stat -c %U /srv/src /srv/src/.git /srv/src/app.txt"
        ),
        "app\napp\napp\n"
    );
    // As app: a post-checkout hook (git runs it after every checkout).
    as_app(
        &lab,
        "printf '#!/bin/sh\\nid -u >> /tmp/hook-uid\\n' > /srv/src/.git/hooks/post-checkout && chmod 755 /srv/src/.git/hooks/post-checkout",
    );
    push(&lab, "v2");
    p.play(&["apply", "site.yml"]).code(0).shows("→");
    assert_eq!(sh(&lab, "h1", "cat /srv/src/app.txt"), "v2\n", "moved");
    assert_never_root(&lab, "/tmp/hook-uid");
    assert_eq!(
        sh(&lab, "h1", "stat -c %U /srv/src/app.txt /srv/src/.git/HEAD"),
        "app\napp\n",
        "git ran as app"
    );
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);

    // Hosts without runuser (setpriv), then without setpriv either (su): the same.
    for (tool, text) in [("runuser", "v3"), ("setpriv", "v4")] {
        sh(
            &lab,
            "h1",
            &format!("mv \"$(command -v {tool})\" /root/{tool}.off"),
        );
        push(&lab, text);
        p.play(&["apply", "site.yml"]).code(0);
        assert_eq!(
            sh(&lab, "h1", "cat /srv/src/app.txt"),
            format!("{text}\n"),
            "moved without {tool}"
        );
        assert_eq!(sh(&lab, "h1", "stat -c %U /srv/src/.git/HEAD"), "app\n");
        assert_never_root(&lab, "/tmp/hook-uid");
    }
    // None of them: a clear error, and the checkout stays where it was.
    sh(&lab, "h1", "mv \"$(command -v su)\" /root/su.off");
    push(&lab, "v5");
    p.play(&["apply", "site.yml"])
        .code(1)
        .shows("cannot run git as app: the host has none of runuser, setpriv, su");
    assert_eq!(sh(&lab, "h1", "cat /srv/src/app.txt"), "v4\n");
    assert_never_root(&lab, "/tmp/hook-uid");
}

#[test]
fn fsmonitor_planted_by_the_checkouts_owner_never_runs_as_root() {
    let lab = Lab::start("gitlock-fsmon", 1);
    repo(&lab);
    let p = Project::new(&lab).file("site.yml", CHECKOUT);
    p.play(&["apply", "site.yml"]).code(0);
    as_app(
        &lab,
        "printf '#!/bin/sh\\nid -u >> /tmp/fsmonitor-uid\\n' > /home/app/fsm && chmod 755 /home/app/fsm \
         && git -C /srv/src config core.fsmonitor /home/app/fsm \
         && git -C /srv/src config core.sshCommand 'sh -c \"id -u >> /tmp/fsmonitor-uid\"'",
    );
    push(&lab, "v2");
    // The probe (rev-parse, config) and the apply (fetch, checkout) both touch the checkout.
    p.play(&["diff", "site.yml"]).code(0).shows("→");
    p.play(&["apply", "site.yml"]).code(0);
    assert_eq!(sh(&lab, "h1", "cat /srv/src/app.txt"), "v2\n", "moved");
    assert_never_root(&lab, "/tmp/fsmonitor-uid");
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);
}

#[test]
fn a_release_cache_planted_by_the_owner_never_runs_as_root() {
    let lab = Lab::start("gitlock-relcache", 1);
    repo(&lab);
    let p = Project::new(&lab).file(
        "site.yml",
        r#"- hosts: lab
  state:
    - user: app
    - release: /srv/hello
      from: {git: /srv/repo.git, version: main}
      owner: app
"#,
    );
    p.play(&["apply", "site.yml"]).code(0);
    assert_eq!(sh(&lab, "h1", "cat /srv/hello/current/app.txt"), "v1\n");
    assert_eq!(
        sh(
            &lab,
            "h1",
            "stat -c %U /srv/hello /srv/hello/current/app.txt"
        ),
        "app\napp\n"
    );
    // As app, who owns DEST: a repository of its own wherever a cache could be under DEST
    // (`repo/` was the cache's place), whose config sends every fetch of /srv/repo.git to
    // `ext::sh -c …`; and the cache, if app can reach it at all.
    let plant = |dir: &str| {
        format!(
            "mv {dir} {dir}.old 2>/dev/null; git init -q --bare {dir} \
             && git -C {dir} config protocol.ext.allow always \
             && git -C {dir} config url.'ext::sh -c id% -u% >>/tmp/ext-uid% #'.insteadOf /srv/repo.git"
        )
    };
    as_app(&lab, &plant("/srv/hello/repo"));
    let caches = sh(
        &lab,
        "h1",
        "find /srv /var/lib /home /opt /tmp /root -name FETCH_HEAD 2>/dev/null; true",
    );
    for head in caches.lines() {
        let dir = head.trim_end_matches("/FETCH_HEAD");
        let out = lab.exec(
            "h1",
            &format!(
                "cd / && runuser -u app -- sh -c {}",
                shell_quote(&plant(dir))
            ),
        );
        assert!(
            !out.status.success(),
            "app can replace the release cache {dir}"
        );
    }
    push(&lab, "v2");
    p.play(&["apply", "site.yml"]).code(0);
    assert_never_root(&lab, "/tmp/ext-uid");
    assert_eq!(sh(&lab, "h1", "cat /srv/hello/current/app.txt"), "v2\n");
    assert_eq!(
        sh(&lab, "h1", "stat -c %U /srv/hello/current/app.txt"),
        "app\n",
        "the owner gets the release's files"
    );
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);
}

#[test]
fn a_login_without_root_checks_out_as_itself_and_cannot_switch_user() {
    let lab = Lab::start("gitlock-nonroot", 1);
    repo(&lab);
    // A root apply makes `app` (and the host's apply lock).
    Project::new(&lab)
        .file("root.yml", "- hosts: lab\n  state:\n    - user: app\n")
        .play(&["apply", "root.yml"])
        .code(0);
    // deploy (no become): its own checkout, from root's local repository (trusted by its path).
    let p = Project::new(&lab).file(
        "site.yml",
        "- hosts: lab\n  state:\n    - git: /home/deploy/src\n      repo: /srv/repo.git\n      version: main\n",
    );
    p.play(&["apply", "site.yml", "-u", "deploy"]).code(0);
    assert_eq!(
        sh(
            &lab,
            "h1",
            "stat -c %U /home/deploy/src/.git/HEAD; cat /home/deploy/src/app.txt"
        ),
        "deploy\nv1\n"
    );
    push(&lab, "v2");
    p.play(&["apply", "site.yml", "-u", "deploy"]).code(0);
    assert_eq!(sh(&lab, "h1", "cat /home/deploy/src/app.txt"), "v2\n");
    p.play(&["diff", "--exit-code", "site.yml", "-u", "deploy"])
        .code(0);
    // A checkout for app, by deploy without root: refused, nothing left behind.
    let p = Project::new(&lab).file(
        "app.yml",
        "- hosts: lab\n  state:\n    - git: /home/deploy/for-app\n      repo: /srv/repo.git\n      owner: app\n",
    );
    p.play(&["apply", "app.yml", "-u", "deploy"])
        .code(1)
        .shows("cannot run git as app: this script runs as deploy, not root (become)");
    assert_eq!(
        sh(&lab, "h1", "ls -A /home/deploy | grep -c for-app || true").trim(),
        "0"
    );
}
