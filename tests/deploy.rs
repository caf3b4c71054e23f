//! Deploying code, against real labs: the repo's own example deploy (release, config, user,
//! supervisor program) with a change, pruning and a rollback; git checkouts moving with their
//! version; packages from a local apt repository on the host; users and groups; guarded
//! commands; whole-system upgrades (`apt_upgrade:`).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use support::apt;
use support::lab::Lab;
use support::project::Project;

fn sh(lab: &Lab, host: &str, cmd: &str) -> String {
    let out = lab.exec(host, cmd);
    assert!(
        out.status.success(),
        "{host}: `{cmd}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `GET path` on `addr:port` (HTTP/1.0): the body, retried for up to 15 s while the app starts.
fn http_get(addr: &str, port: u16, path: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last = String::new();
    while Instant::now() < deadline {
        match TcpStream::connect((addr, port)) {
            Ok(mut s) => {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let req = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
                if s.write_all(req.as_bytes()).is_ok() {
                    let mut buf = Vec::new();
                    if s.read_to_end(&mut buf).is_ok() {
                        let text = String::from_utf8_lossy(&buf).into_owned();
                        if let Some((head, body)) = text.split_once("\r\n\r\n") {
                            if head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200")
                            {
                                return body.to_string();
                            }
                        }
                        last = text;
                    }
                }
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("GET http://{addr}:{port}{path}: no answer in 15 s (last: {last})");
}

/// The app's JSON answer to `GET /`.
fn served(addr: &str) -> serde_json::Value {
    let body = http_get(addr, 8000, "/");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{body}: {e}"))
}

/// The `release` field of the app's JSON answer.
fn served_release(addr: &str) -> String {
    served(addr)["release"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The repo's example (playbooks/web.yml, roles/) in a project over the lab, with the vars of
/// inventory/lab.yml and inventory/group_vars/web.yml.
fn example(lab: &Lab) -> Project {
    let p = Project::new(lab)
        .group("web", &(0..lab.hosts.len()).collect::<Vec<_>>())
        .var("app_env", "staging")
        .var("has_systemd", "false")
        .var("app_name", "hello")
        .var("app_port", "8000")
        .var("app_workers", "2");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    p.copy_tree(&repo.join("playbooks"), "playbooks");
    p.copy_tree(&repo.join("roles"), "roles");
    p
}

fn live_release(lab: &Lab, host: &str) -> String {
    let target = sh(lab, host, "readlink /srv/hello/current");
    target
        .trim()
        .strip_prefix("/srv/hello/releases/")
        .unwrap_or_else(|| panic!("{host}: current → {target}"))
        .to_string()
}

fn app_pid(lab: &Lab, host: &str) -> String {
    lab.pid(host, "app")
}

#[test]
fn example_deploy_change_prune_and_rollback() {
    let lab = Lab::start("deploy-example", 3);
    let p = example(&lab);

    // --- from scratch: diff shows the plan, apply converges, the app answers everywhere
    p.play(&["diff", "playbooks/web.yml"])
        .code(0)
        .shows("+ create release /srv/hello")
        .shows("+ create user app")
        .shows("+ create program app");
    let run = p.play(&["apply", "playbooks/web.yml"]).code(0);
    let mut first = String::new();
    for h in &lab.hosts {
        assert_eq!(run.recap(&h.name).2, 0, "{}", run.stdout);
        let id = live_release(&lab, &h.name);
        assert_eq!(
            served_release(&h.addr),
            id,
            "{}: the app runs the live release",
            h.name
        );
        assert_eq!(http_get(&h.addr, 8000, "/health"), "ok\n");
        // The venv's package (from the shipped wheels), the build's byte code, the shared data.
        let answer = served(&h.addr);
        assert_eq!(
            (&answer["greeting"], &answer["greeting_version"]),
            (&"hello".into(), &"1.0".into()),
            "{answer}"
        );
        assert_eq!(
            sh(
                &lab,
                &h.name,
                "readlink /srv/hello/current/data; stat -c '%U %F' /srv/hello/shared/data /srv/hello/current/__pycache__"
            ),
            "/srv/hello/shared/data\napp directory\napp directory\n"
        );
        assert_eq!(
            sh(
                &lab,
                &h.name,
                "stat -c '%U %G %a' /srv/hello/current/ /var/log/hello /etc/hello/app.ini"
            ),
            "app app 755\napp app 750\nroot app 640\n"
        );
        assert_eq!(
            sh(&lab, &h.name, "getent passwd app | cut -d: -f6,7"),
            "/srv/hello:/usr/sbin/nologin\n"
        );
        assert_eq!(
            sh(&lab, &h.name, "ps -o user= -p \"$(supervisorctl pid app)\"").trim(),
            "app"
        );
        if first.is_empty() {
            first = id;
        } else {
            assert_eq!(
                id, first,
                "the same code has the same release id on every host"
            );
        }
    }

    // --- again: 0 changes
    let run = p.play(&["apply", "playbooks/web.yml"]).code(0);
    for h in &lab.hosts {
        assert_eq!(
            run.recap(&h.name).1,
            0,
            "{}: second apply changed something:\n{}",
            h.name,
            run.stdout
        );
    }

    // --- one file of the app changes: diff lists exactly it; apply makes a new release,
    // switches current and restarts app everywhere
    let pids: Vec<String> = lab.hosts.iter().map(|h| app_pid(&lab, &h.name)).collect();
    let hello = p.path("roles/app/files/app/hello.py");
    let mut text = std::fs::read_to_string(&hello).expect("hello.py");
    text.push_str("\n# change 1\n");
    std::fs::write(&hello, &text).expect("write");
    let diff = p
        .play(&["diff", "--exit-code", "playbooks/web.yml"])
        .code(2)
        .shows("~ update release /srv/hello")
        .shows("~ hello.py")
        .shows("restart");
    assert_eq!(
        diff.stdout.matches("~ hello.py").count(),
        3,
        "{}",
        diff.stdout
    );
    assert!(
        !diff.stdout.contains("VERSION"),
        "only the changed file is listed:\n{}",
        diff.stdout
    );
    let hits = served(&lab.hosts[0].addr)["hits"].as_u64().expect("hits");
    p.play(&["apply", "playbooks/web.yml"]).code(0);
    for (h, old_pid) in lab.hosts.iter().zip(&pids) {
        let second = live_release(&lab, &h.name);
        assert_ne!(second, first);
        assert_eq!(
            served_release(&h.addr),
            second,
            "{}: restarted on the new release",
            h.name
        );
        assert_ne!(
            &app_pid(&lab, &h.name),
            old_pid,
            "{}: app restarted",
            h.name
        );
    }

    // The visit counter lives in the shared folder: the new release counts on.
    assert_eq!(
        served(&lab.hosts[0].addr)["hits"].as_u64(),
        Some(hits + 2),
        "one visit above, this one"
    );

    // --- more releases than `keep: 3`: the oldest goes
    for n in 2..=3 {
        text.push_str(&format!("# change {n}\n"));
        std::fs::write(&hello, &text).expect("write");
        p.play(&["apply", "playbooks/web.yml"]).code(0);
    }
    let third = live_release(&lab, "h1");
    for h in &lab.hosts {
        let listed = sh(&lab, &h.name, "ls /srv/hello/releases");
        assert_eq!(listed.lines().count(), 3, "{}: {listed}", h.name);
        assert!(
            !listed.contains(&first),
            "{}: the oldest release is pruned: {listed}",
            h.name
        );
    }

    // --- going back one release is one command, and restarts the app
    let before = third.clone();
    let pid = app_pid(&lab, "h2");
    let run = p
        .play(&["rollback", "playbooks/web.yml"])
        .code(0)
        .shows("rollback");
    let previous = live_release(&lab, "h1");
    assert_ne!(previous, before, "{}", run.stdout);
    for h in &lab.hosts {
        assert_eq!(live_release(&lab, &h.name), previous);
        assert_eq!(served_release(&h.addr), previous);
    }
    assert_ne!(app_pid(&lab, "h2"), pid, "rollback restarts app");
    // --- the run history holds it (docs/plan-file.md#run-history)
    let mut runs: Vec<std::path::PathBuf> = std::fs::read_dir(p.path(".play/runs"))
        .expect("run history")
        .map(|e| e.expect("entry").path())
        .collect();
    runs.sort();
    let last: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(runs.last().expect("a run record")).expect("read"),
    )
    .expect("a JSON record");
    assert_eq!(
        (&last["command"], &last["success"]),
        (&"rollback".into(), &true.into())
    );
    // --- the next apply deploys the source again (a switch, nothing rebuilt)
    p.play(&["apply", "playbooks/web.yml"])
        .code(0)
        .shows("is on the host already");
    assert_eq!(live_release(&lab, "h3"), before);

    // --- the venv's pinned package changes: the venv is the one change, and the program
    // that watches it restarts; the release and everything else stay
    let pids: Vec<String> = lab.hosts.iter().map(|h| app_pid(&lab, &h.name)).collect();
    let run = p
        .play(&[
            "apply",
            "playbooks/web.yml",
            "-e",
            "app_greeting_version=1.1",
        ])
        .code(0)
        .shows("~ update venv /opt/hello/venv")
        .shows("~ update program app");
    let changed: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| ["  + ", "  ~ ", "  - "].iter().any(|s| l.starts_with(s)))
        .collect();
    assert!(
        changed
            .iter()
            .all(|l| l.contains("venv /opt/hello/venv") || l.contains("program app")),
        "{}",
        run.stdout
    );
    for (h, old_pid) in lab.hosts.iter().zip(&pids) {
        assert_eq!(run.recap(&h.name).1, 2, "{}", run.stdout);
        assert_eq!(live_release(&lab, &h.name), before, "{}", h.name);
        assert_ne!(
            &app_pid(&lab, &h.name),
            old_pid,
            "{}: app restarted",
            h.name
        );
        assert_eq!(served(&h.addr)["greeting_version"], "1.1");
    }
    p.play(&[
        "diff",
        "--exit-code",
        "playbooks/web.yml",
        "-e",
        "app_greeting_version=1.1",
    ])
    .code(0);
}

#[test]
fn git_checkouts_follow_their_version() {
    let lab = Lab::start("deploy-gitco", 1);
    // A bare repository on the host at two commits: main (v2) and tag v1.
    sh(
        &lab,
        "h1",
        "set -e; export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.invalid GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.invalid
         git init -q --bare -b main /srv/repo.git
         git init -q -b main /tmp/w && cd /tmp/w
         echo v1 > app.txt && git add . && git commit -qm one && git tag v1
         echo v2 > app.txt && git commit -qam two
         git push -q /srv/repo.git main --tags",
    );
    let p = Project::new(&lab).var("ver", "v1").file(
        "site.yml",
        r#"- hosts: lab
  state:
    - git: /srv/src
      repo: /srv/repo.git
      version: "{{ ver }}"
    - command: "echo moved >> /srv/moves.log"
      on_change: [/srv/src]
    - program: watcher
      command: /bin/sleep 100000
      restart_on: [/srv/src]
"#,
    );
    p.play(&["apply", "site.yml"])
        .code(0)
        .shows("+ create git /srv/src");
    assert_eq!(sh(&lab, "h1", "cat /srv/src/app.txt"), "v1\n");
    assert_eq!(sh(&lab, "h1", "cat /srv/moves.log"), "moved\n");
    p.play(&["apply", "site.yml"]).code(0);
    assert_eq!(
        sh(&lab, "h1", "cat /srv/moves.log"),
        "moved\n",
        "no change: the command does not run"
    );
    let pid = sh(&lab, "h1", "supervisorctl pid watcher");

    // Moving the version moves the checkout, runs the on_change command, restarts the program.
    let p = p.var("ver", "main");
    p.play(&["diff", "site.yml"]).code(0).shows("→");
    p.play(&["apply", "site.yml"]).code(0);
    assert_eq!(sh(&lab, "h1", "cat /srv/src/app.txt"), "v2\n");
    assert_eq!(sh(&lab, "h1", "cat /srv/moves.log"), "moved\nmoved\n");
    assert_ne!(
        sh(&lab, "h1", "supervisorctl pid watcher"),
        pid,
        "restarted"
    );

    // An unknown version is a clear error, and changes nothing.
    let p = p.var("ver", "no-such-branch");
    p.play(&["apply", "site.yml"])
        .code(1)
        .shows("version `no-such-branch` not found in /srv/repo.git");
    assert_eq!(sh(&lab, "h1", "cat /srv/src/app.txt"), "v2\n");
}

#[test]
fn packages_users_groups_and_guards() {
    let lab = Lab::start("deploy-host", 1);
    apt::publish(&lab, "h1", &[("hello-play", "1.0")]);

    // --- packages from the host's local repository: installed once, then no change
    let pkg = |state: &str| {
        format!("- hosts: lab\n  state:\n    - package: [hello-play]\n      state: {state}\n      update_cache: true\n")
    };
    let p = Project::new(&lab).file("pkg.yml", &pkg("present"));
    p.play(&["apply", "pkg.yml"])
        .code(0)
        .shows("+ create package hello-play");
    assert_eq!(
        apt::installed(&lab, "h1", "hello-play"),
        Some(("ii".into(), "1.0".into()))
    );
    // under the apply script's umask 077, what maintainer scripts make is still readable by
    // the services that use it (dpkg runs them with umask 022)
    assert_eq!(
        sh(
            &lab,
            "h1",
            "stat -c %a /var/lib/hello-play /var/lib/hello-play/state"
        ),
        "755\n644\n"
    );
    let run = p.play(&["apply", "pkg.yml"]).code(0);
    assert_eq!(run.recap("h1").1, 0, "{}", run.stdout);
    // latest follows the candidate of the host's apt lists (refreshed here as the host's own
    // daily apt timer would: `update_cache` refreshes them only before an install)
    apt::publish(&lab, "h1", &[("hello-play", "1.1")]);
    p.play(&["diff", "--exit-code", "pkg.yml"]).code(0);
    sh(&lab, "h1", "apt-get update -q >/dev/null 2>&1");
    let p = p.file("pkg.yml", &pkg("latest"));
    p.play(&["apply", "pkg.yml"]).code(0).shows("1.0 → 1.1");
    assert_eq!(
        apt::installed(&lab, "h1", "hello-play").map(|i| i.1),
        Some("1.1".into())
    );
    // absent removes it
    let p = p.file("pkg.yml", &pkg("absent"));
    p.play(&["apply", "pkg.yml"])
        .code(0)
        .shows("- delete package hello-play");
    assert!(apt::installed(&lab, "h1", "hello-play").is_none_or(|(s, _)| !s.starts_with("ii")));
    // an unknown package is a clear error
    let p = p.file(
        "bad.yml",
        "- hosts: lab\n  state:\n    - package: no-such-package\n",
    );
    p.play(&["apply", "bad.yml"])
        .code(1)
        .shows("no installable version of `no-such-package`");

    // --- users and groups: created once; a changed shell is updated
    let users = |shell: &str| {
        format!(
            "- hosts: lab\n  state:\n    - group: svc\n      system: true\n    - user: svc\n      group: svc\n      system: true\n      shell: {shell}\n      home: /srv/svc\n"
        )
    };
    let p = p.file("users.yml", &users("/bin/sh"));
    p.play(&["apply", "users.yml"])
        .code(0)
        .shows("+ create group svc")
        .shows("+ create user svc");
    assert_eq!(
        sh(&lab, "h1", "getent passwd svc | cut -d: -f6,7"),
        "/srv/svc:/bin/sh\n"
    );
    let run = p.play(&["apply", "users.yml"]).code(0);
    assert_eq!(run.recap("h1").1, 0, "{}", run.stdout);
    let p = p.file("users.yml", &users("/usr/sbin/nologin"));
    p.play(&["apply", "users.yml"])
        .code(0)
        .shows("shell /bin/sh → /usr/sbin/nologin");
    assert_eq!(
        sh(&lab, "h1", "getent passwd svc | cut -d: -f7"),
        "/usr/sbin/nologin\n"
    );

    // --- guards, each proven to run and not to run
    let p = p.file(
        "guards.yml",
        r#"- hosts: lab
  state:
    - command: "echo ran >> /srv/creates.log; touch /srv/made"
      creates: /srv/made
    - command: "echo ran >> /srv/unless.log"
      unless: test -f /srv/skip
    - file: /srv/watched
      content: "{{ watched }}\n"
    - command: "echo ran >> /srv/on_change.log"
      on_change: [/srv/watched]
    - command: "echo ran >> /srv/as_user.log; id -un >> /srv/as_user.log"
      chdir: /srv
      user: svc
      creates: /srv/as_user.log
"#,
    );
    sh(&lab, "h1", "chmod 0777 /srv");
    let p = p.var("watched", "one");
    p.play(&["apply", "guards.yml"]).code(0);
    let logs = "cat /srv/creates.log /srv/unless.log /srv/on_change.log /srv/as_user.log";
    assert_eq!(sh(&lab, "h1", logs), "ran\nran\nran\nran\nsvc\n");
    // Second run: creates exists, unless still fails (runs again), on_change sees no change.
    p.play(&["diff", "guards.yml"])
        .code(0)
        .shows("unless `test -f /srv/skip` exited 1")
        .hides("on_change.log");
    p.play(&["apply", "guards.yml"]).code(0);
    assert_eq!(sh(&lab, "h1", "wc -l < /srv/creates.log").trim(), "1");
    assert_eq!(sh(&lab, "h1", "wc -l < /srv/unless.log").trim(), "2");
    assert_eq!(sh(&lab, "h1", "wc -l < /srv/on_change.log").trim(), "1");
    // unless passes: no run; the watched file changes: on_change runs.
    sh(&lab, "h1", "touch /srv/skip");
    let p = p.var("watched", "two");
    p.play(&["apply", "guards.yml"]).code(0);
    assert_eq!(sh(&lab, "h1", "wc -l < /srv/unless.log").trim(), "2");
    assert_eq!(sh(&lab, "h1", "wc -l < /srv/on_change.log").trim(), "2");
    let run = p.play(&["apply", "guards.yml"]).code(0);
    assert_eq!(
        run.recap("h1").1,
        0,
        "all guarded, nothing to do:\n{}",
        run.stdout
    );

    // An unguarded command is a change on every run, and diff says so plainly.
    let p = p.file(
        "always.yml",
        "- hosts: lab\n  state:\n    - command: \"true\"\n",
    );
    for _ in 0..2 {
        p.play(&["diff", "--exit-code", "always.yml"])
            .code(2)
            .shows("runs on every apply: it has no guard");
    }
}

/// `apt_upgrade:` on a real host, from a local apt repository (no network): a package at
/// version 1.0 installed, 2.0 in the repository. `diff` lists `1.0 → 2.0` and exits 2, a
/// login without root is refused, `apply` upgrades (dpkg says 2.0), then `diff --exit-code`
/// is 0. `cache_valid_time`: lists fresh enough are not refreshed (a 3.0 they do not know
/// stays unplanned), stale ones are refreshed first (the plan says so and that more may come)
/// and the upgrade then takes 3.0; `update_cache` without it refreshes at every apply; a safe
/// upgrade then a full one both apply.
#[test]
fn apt_upgrade_from_a_local_repository() {
    let lab = Lab::start("apt-upgrade", 1);
    apt::publish(&lab, "h1", &[("hello-play", "1.0")]);
    sh(
        &lab,
        "h1",
        "rm -f /var/lib/apt/periodic/update-success-stamp && apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q hello-play >/dev/null 2>&1",
    );
    assert_eq!(
        apt::installed(&lab, "h1", "hello-play"),
        Some(("ii".into(), "1.0".into()))
    );
    apt::publish(&lab, "h1", &[("hello-play", "2.0")]);
    sh(&lab, "h1", "apt-get update -q >/dev/null 2>&1");

    let upgrade = |extra: &str| format!("- hosts: lab\n  state:\n    - apt_upgrade: {extra}\n");
    let p = Project::new(&lab).file("up.yml", &upgrade("safe\n      cache_valid_time: 3600"));
    p.play(&["diff", "--exit-code", "up.yml"])
        .code(2)
        .shows("~ update apt_upgrade safe (1 to upgrade)")
        .shows("~ hello-play 1.0 → 2.0")
        .hides("apt-get update first");
    p.play(&["diff", "-u", "deploy", "up.yml"])
        .code(1)
        .shows("needs root (the login's uid is");
    p.play(&["apply", "up.yml"])
        .code(0)
        .shows("hello-play 1.0 → 2.0");
    assert_eq!(
        apt::installed(&lab, "h1", "hello-play"),
        Some(("ii".into(), "2.0".into()))
    );
    p.play(&["diff", "--exit-code", "up.yml"]).code(0);

    // fresh lists are not refreshed: 3.0, which they do not know, is not planned
    apt::publish(&lab, "h1", &[("hello-play", "3.0")]);
    p.play(&["diff", "--exit-code", "up.yml"]).code(0);
    // lists older than cache_valid_time: refreshed first, then upgraded to what they bring
    sh(&lab, "h1", "touch -d '2 hours ago' /var/lib/apt/lists");
    p.play(&["diff", "--exit-code", "up.yml"])
        .code(2)
        .shows("apt-get update first: lists 2 h old > cache_valid_time 3600 s")
        .shows("nothing upgradable with the current lists; what the refreshed ones bring is known after apt-get update");
    p.play(&["apply", "up.yml"]).code(0);
    assert_eq!(
        apt::installed(&lab, "h1", "hello-play").map(|i| i.1),
        Some("3.0".into())
    );
    p.play(&["diff", "--exit-code", "up.yml"]).code(0);

    // update_cache without cache_valid_time: a refresh at every apply (diff always exits 2);
    // the check after apply does not plan it again
    apt::publish(&lab, "h1", &[("hello-play", "4.0")]);
    let p = p.file("every.yml", &upgrade("full\n      update_cache: true"));
    p.play(&["diff", "--exit-code", "every.yml"])
        .code(2)
        .shows("apt-get update first, at every apply (no cache_valid_time)");
    p.play(&["apply", "every.yml"]).code(0);
    assert_eq!(
        apt::installed(&lab, "h1", "hello-play").map(|i| i.1),
        Some("4.0".into())
    );
    p.play(&["diff", "--exit-code", "every.yml"])
        .code(2)
        .hides("hello-play");

    // a safe upgrade then a full one (tournesol's role): both list what apt would do now, the
    // second says the first comes before it; both apply, the second finds nothing left
    apt::publish(&lab, "h1", &[("hello-play", "5.0")]);
    sh(&lab, "h1", "apt-get update -q >/dev/null 2>&1");
    let p = p.file(
        "both.yml",
        "- hosts: lab\n  state:\n    - apt_upgrade: safe\n      cache_valid_time: 3600\n    - apt_upgrade: full\n      cache_valid_time: 3600\n",
    );
    p.play(&["diff", "--exit-code", "both.yml"])
        .code(2)
        .shows("~ update apt_upgrade safe (1 to upgrade)")
        .shows("~ update apt_upgrade full (1 to upgrade, apt_upgrade safe comes first in this run: what it leaves of these is known after it)")
        .shows("~ hello-play 4.0 → 5.0");
    p.play(&["apply", "both.yml"]).code(0);
    assert_eq!(
        apt::installed(&lab, "h1", "hello-play").map(|i| i.1),
        Some("5.0".into())
    );
    p.play(&["diff", "--exit-code", "both.yml"]).code(0);
}
