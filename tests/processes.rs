//! Programs (supervisord) and services (systemd) against real labs: first apply, idempotence
//! (same PIDs), restarts of exactly what watches a changed file, conf changes, crashes with
//! their log tails, stopped/absent, owed restarts that survive a failed run, the supervisorctl
//! fallback, and systemd units with templates, reloads and failures.

mod support;

use std::collections::BTreeMap;

use support::lab::Lab;
use support::project::Project;

fn sh(lab: &Lab, host: &str, cmd: &str) -> String {
    let out = lab.exec(host, cmd);
    assert!(
        out.status.success(),
        "{host}: `{cmd}` failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every process supervisord runs on `host`: name → (state, pid), read with supervisorctl
/// (the test's own eyes, independent of play's XML-RPC client).
fn programs(lab: &Lab, host: &str) -> BTreeMap<String, (String, u32)> {
    let out = lab.exec(
        host,
        "supervisorctl -c /etc/supervisor/supervisord.conf status",
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let pid = if w.get(2) == Some(&"pid") {
                w[3].trim_end_matches(',').parse().unwrap_or(0)
            } else {
                0
            };
            (w[0].to_string(), (w[1].to_string(), pid))
        })
        .collect()
}

fn state_of(lab: &Lab, host: &str, name: &str) -> (String, u32) {
    programs(lab, host)
        .get(name)
        .cloned()
        .unwrap_or_else(|| ("ABSENT".into(), 0))
}

fn exists(lab: &Lab, host: &str, path: &str) -> bool {
    sh(lab, host, &format!("test -e {path} && echo yes || echo no")) == "yes\n"
}

const PROGRAMS: &str = r#"
- name: app
  hosts: lab
  state:
    - directory: /etc/app
    - file: /etc/app/app.ini
      content: "greeting = {{ greeting }}\n"
    - file: /etc/app/worker.ini
      content: "jobs = 4\n"
    - program: app_web
      command: "/bin/sleep {{ web_secs }}"
      directory: /etc/app
      environment: {APP_ENV: production, GREETING: "{{ greeting }}"}
      stopsignal: TERM
      autorestart: true
      options: {startsecs: 1, stopwaitsecs: 3}
      restart_on: [/etc/app/app.ini]
    - program: app_worker
      command: /bin/sleep 100001
      numprocs: 2
      state: "{{ worker_state }}"
      options: {startsecs: 1}
      restart_on: [/etc/app/worker.ini]
    - program: crashy
      command: /bin/sh -c "echo crashy-says-goodbye >&2 && exit 3"
      options: {startsecs: 1, startretries: 0}
      when: "crash | default(false)"
"#;

fn programs_project(lab: &Lab) -> Project {
    Project::new(lab)
        .var("greeting", "hello")
        .var("web_secs", "100000")
        .var("worker_state", "running")
        .file("site.yml", PROGRAMS)
}

#[test]
fn supervisor_programs_converge_restart_and_fail_visibly() {
    let lab = Lab::start("proc-super", 3);
    let hosts = ["h1", "h2", "h3"];
    let p = programs_project(&lab);

    // --- first apply: confs written, programs RUNNING
    let run = p.play(&["apply", "site.yml"]).code(0);
    for h in hosts {
        // directory, 2 files, 2 programs
        assert_eq!(run.recap(h).1, 5, "{h}:\n{}", run.stdout);
        let ps = programs(&lab, h);
        assert_eq!(ps["app_web"].0, "RUNNING", "{h}: {ps:?}");
        assert_eq!(ps["app_worker:app_worker_00"].0, "RUNNING", "{h}: {ps:?}");
        assert_eq!(ps["app_worker:app_worker_01"].0, "RUNNING", "{h}: {ps:?}");
        assert_eq!(
            sh(&lab, h, "cat /etc/supervisor/conf.d/app_web.conf"),
            "; Managed by play: changes made here are overwritten.\n\
             [program:app_web]\n\
             command=/bin/sleep 100000\n\
             directory=/etc/app\n\
             environment=APP_ENV=\"production\",GREETING=\"hello\"\n\
             autostart=true\n\
             autorestart=true\n\
             stopsignal=TERM\n\
             startsecs=1\n\
             stopwaitsecs=3\n"
        );
        // The environment reached the process.
        let pid = ps["app_web"].1;
        assert!(
            sh(&lab, h, &format!("tr '\\0' '\\n' < /proc/{pid}/environ"))
                .contains("APP_ENV=production\n"),
            "{h}: environment not passed"
        );
    }
    assert!(
        run.stdout
            .contains("+ create program app_web (ABSENT → RUNNING)"),
        "{}",
        run.stdout
    );

    // --- second apply: nothing changes, nothing restarts
    let before: Vec<_> = hosts.iter().map(|h| programs(&lab, h)).collect();
    let run = p.play(&["apply", "site.yml"]).code(0);
    for h in hosts {
        assert_eq!(run.recap(h).1, 0, "{h}:\n{}", run.stdout);
    }
    let after: Vec<_> = hosts.iter().map(|h| programs(&lab, h)).collect();
    assert_eq!(before, after, "a no-op apply must not restart anything");
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);

    // --- a conf change on h2 only: diff shows the conf diff; apply restarts that program only
    let p = p.host_var(1, "web_secs", "100002");
    p.play(&["diff", "--exit-code", "site.yml"])
        .code(2)
        .shows("h2:")
        .shows("~ update program app_web (restart: conf changed)")
        .shows("--- /etc/supervisor/conf.d/app_web.conf")
        .shows("-command=/bin/sleep 100000")
        .shows("+command=/bin/sleep 100002")
        .hides("h1:")
        .hides("h3:");
    let before: Vec<_> = hosts.iter().map(|h| programs(&lab, h)).collect();
    let run = p.play(&["apply", "site.yml"]).code(0);
    assert_eq!(run.recap("h2").1, 1, "{}", run.stdout);
    let after: Vec<_> = hosts.iter().map(|h| programs(&lab, h)).collect();
    assert_eq!(after[1]["app_web"].0, "RUNNING");
    assert_ne!(
        after[1]["app_web"].1, before[1]["app_web"].1,
        "h2's app_web restarted"
    );
    assert_eq!(
        sh(
            &lab,
            "h2",
            &format!("cat /proc/{}/cmdline | tr '\\0' ' '", after[1]["app_web"].1)
        ),
        "/bin/sleep 100002 "
    );
    assert_eq!(
        after[1]["app_worker:app_worker_00"],
        before[1]["app_worker:app_worker_00"]
    );
    assert_eq!(after[0], before[0], "h1 untouched");
    assert_eq!(after[2], before[2], "h3 untouched");

    // --- restart_on: the watched file changes on h3 only: h3's app_web restarts, nothing else
    let p = p.host_var(2, "greeting", "bonjour");
    let diff = p
        .play(&["diff", "--exit-code", "site.yml"])
        .code(2)
        .shows("~ update file /etc/app/app.ini")
        .shows("restart: /etc/app/app.ini changed")
        .hides("h1:")
        .hides("h2:");
    assert_eq!(diff.recap("h3").1, 2, "{}", diff.stdout);
    let before: Vec<_> = hosts.iter().map(|h| programs(&lab, h)).collect();
    p.play(&["apply", "site.yml"]).code(0);
    let after: Vec<_> = hosts.iter().map(|h| programs(&lab, h)).collect();
    assert_ne!(
        after[2]["app_web"].1, before[2]["app_web"].1,
        "h3's app_web restarted"
    );
    assert_eq!(after[2]["app_web"].0, "RUNNING");
    assert!(
        sh(
            &lab,
            "h3",
            &format!("tr '\\0' '\\n' < /proc/{}/environ", after[2]["app_web"].1)
        )
        .contains("GREETING=bonjour\n"),
        "the restarted process has the new environment"
    );
    for w in ["app_worker:app_worker_00", "app_worker:app_worker_01"] {
        assert_eq!(after[2][w], before[2][w], "h3's {w} untouched");
    }
    assert_eq!(after[0], before[0]);
    assert_eq!(after[1], before[1]);
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);

    // --- a program that exits at once ends FATAL: its host fails with the stderr tail shown
    let p = p.host_var(0, "crash", "true");
    let run = p
        .play(&["apply", "site.yml"])
        .code(1)
        .shows("FAILED")
        .shows("program crashy: crashy:crashy is FATAL")
        .shows("crashy-says-goodbye");
    assert_eq!(run.recap("h1").2, 1, "h1 failed:\n{}", run.stdout);
    for h in ["h2", "h3"] {
        assert_eq!(run.recap(h).1 + run.recap(h).2, 0, "{h}:\n{}", run.stdout);
    }
    assert_eq!(state_of(&lab, "h1", "crashy").0, "FATAL");
    assert_eq!(
        state_of(&lab, "h1", "app_web").0,
        "RUNNING",
        "the others keep running"
    );
    // The next run tries again (and fails the same way): FATAL is never "converged".
    p.play(&["diff", "--exit-code", "site.yml"])
        .code(2)
        .shows("~ update program crashy (FATAL → RUNNING)");

    // --- state: absent removes the conf and the process
    let p = p.file(
        "site.yml",
        &PROGRAMS.replace("when: \"crash | default(false)\"", "state: absent"),
    );
    let run = p.play(&["apply", "site.yml"]).code(0);
    assert!(
        run.stdout
            .contains("- delete program crashy (FATAL → ABSENT)"),
        "{}",
        run.stdout
    );
    assert!(!exists(&lab, "h1", "/etc/supervisor/conf.d/crashy.conf"));
    assert_eq!(state_of(&lab, "h1", "crashy").0, "ABSENT");
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);

    // --- state: stopped (worker on h2): stopped, conf kept; then absent
    let p = p.host_var(1, "worker_state", "stopped");
    let run = p.play(&["apply", "site.yml"]).code(0);
    assert!(run.stdout.contains("RUNNING → STOPPED"), "{}", run.stdout);
    let ps = programs(&lab, "h2");
    assert_eq!(ps["app_worker:app_worker_00"].0, "STOPPED", "{ps:?}");
    assert_eq!(ps["app_worker:app_worker_01"].0, "STOPPED", "{ps:?}");
    assert_eq!(ps["app_web"].0, "RUNNING");
    assert!(
        sh(&lab, "h2", "cat /etc/supervisor/conf.d/app_worker.conf").contains("autostart=false\n")
    );
    assert_eq!(
        programs(&lab, "h1")["app_worker:app_worker_00"].0,
        "RUNNING"
    );
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);
    let p = p.host_var(1, "worker_state", "absent");
    p.play(&["apply", "site.yml"]).code(0);
    assert!(!exists(
        &lab,
        "h2",
        "/etc/supervisor/conf.d/app_worker.conf"
    ));
    assert!(programs(&lab, "h2")
        .keys()
        .all(|k| !k.starts_with("app_worker")));
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);

    // --- the fallback: a login user that may not open supervisord's socket (deploy, with
    // sudo) is served by supervisorctl, and -v says so.
    let p = p.host_var(1, "worker_state", "running");
    let run = p
        .play(&[
            "apply", "-v", "-u", "deploy", "--become", "--limit", "h2", "site.yml",
        ])
        .code(0)
        .shows("using supervisorctl instead");
    assert_eq!(run.recap("h2").1, 1, "{}", run.stdout);
    assert_eq!(
        programs(&lab, "h2")["app_worker:app_worker_01"].0,
        "RUNNING"
    );
    p.play(&[
        "diff",
        "--exit-code",
        "-u",
        "deploy",
        "--become",
        "site.yml",
    ])
    .code(0);
    // As root the socket is used directly: no such note.
    p.play(&["diff", "-v", "site.yml"])
        .code(0)
        .hides("supervisorctl");
}

const OWED: &str = r#"
- name: owed
  hosts: lab
  state:
    - file: /etc/app.ini
      content: "v = {{ v }}\n"
    - program: web
      command: /bin/sleep 100000
      options: {startsecs: 0}
      restart_on: [/etc/app.ini]
    - command: "echo a later step that fails >&2; exit 3"
      when: "fail_later | default(false)"
"#;

#[test]
fn an_owed_restart_survives_a_failed_run() {
    let lab = Lab::start("proc-owed", 2);
    let p = Project::new(&lab).var("v", "1").file("site.yml", OWED);
    p.play(&["apply", "site.yml"]).code(0);
    let pid = |h: &str| {
        let (state, pid) = state_of(&lab, h, "web");
        assert_eq!(state, "RUNNING", "{h}");
        pid
    };
    let (p1, p2) = (pid("h1"), pid("h2"));

    // The watched file changes everywhere, and a later step fails on h1: h1 fails before its
    // restart, having recorded it; h2 restarts and records nothing.
    let p = p.var("v", "2").host_var(0, "fail_later", "true");
    p.play(&["apply", "site.yml"])
        .code(1)
        .shows("a later step that fails");
    assert_eq!(pid("h1"), p1, "h1 did not get to its restart");
    assert_ne!(pid("h2"), p2, "h2 restarted");
    assert_eq!(sh(&lab, "h1", "cat /etc/app.ini"), "v = 2\n");
    let record = sh(&lab, "h1", "cat /var/lib/play/restarts.json");
    assert!(
        record.contains("\"name\": \"web\"") && record.contains("/etc/app.ini changed"),
        "{record}"
    );
    assert_eq!(
        sh(&lab, "h1", "stat -c %a /var/lib/play/restarts.json"),
        "600\n"
    );
    assert!(!exists(&lab, "h2", "/var/lib/play/restarts.json"));

    // Nothing else to change on h1 now (the failing step is gone): diff shows the owed restart.
    let p = Project::new(&lab).var("v", "2").file("site.yml", OWED);
    let diff = p
        .play(&["diff", "--exit-code", "site.yml"])
        .code(2)
        .shows("~ update program web (restart owed by an earlier run: /etc/app.ini changed)")
        .hides("h2:");
    assert_eq!(diff.recap("h1").1, 1, "{}", diff.stdout);
    assert_eq!(pid("h1"), p1, "diff restarts nothing");

    // The next apply performs it, clears it, and then all is clean.
    let run = p.play(&["apply", "site.yml"]).code(0);
    assert_eq!(run.recap("h1").1, 1, "{}", run.stdout);
    assert_ne!(pid("h1"), p1, "the owed restart happened");
    assert!(!exists(&lab, "h1", "/var/lib/play/restarts.json"));
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);
    let before = (pid("h1"), pid("h2"));
    p.play(&["apply", "site.yml"]).code(0);
    assert_eq!((pid("h1"), pid("h2")), before, "owed once, restarted once");

    // Entries for programs this playbook does not manage are kept as they are.
    sh(
        &lab,
        "h2",
        "mkdir -p /var/lib/play && printf '%s\\n' '{\"version\":1,\"owed\":[{\"kind\":\"program\",\"name\":\"other\",\"action\":\"restart\",\"reasons\":[\"x changed\"]}]}' > /var/lib/play/restarts.json",
    );
    p.play(&["apply", "site.yml"]).code(0);
    assert!(sh(&lab, "h2", "cat /var/lib/play/restarts.json").contains("\"other\""));

    // restart_on naming no resource of the play is an input error, found before connecting.
    let bad = Project::new(&lab).var("v", "3").file(
        "site.yml",
        &OWED.replace(
            "restart_on: [/etc/app.ini]",
            "restart_on: [/etc/app.ini, /etc/app.inii]",
        ),
    );
    bad.play(&["apply", "site.yml"])
        .code(1)
        .shows("site.yml:10:34: restart_on: no resource of play `owed` has the key `/etc/app.inii` (did you mean `/etc/app.ini`?)");
    assert_eq!(
        sh(&lab, "h1", "cat /etc/app.ini"),
        "v = 2\n",
        "nothing was touched"
    );
    let bad = Project::new(&lab).var("v", "3").file(
        "site.yml",
        &OWED.replace("restart_on: [/etc/app.ini]", "restart_on: web"),
    );
    bad.play(&["diff", "site.yml"])
        .code(1)
        .shows("restart_on: `web` is a program; programs and services cannot be watched");
}

const SERVICES: &str = r#"
- name: services
  hosts: lab
  state:
    - directory: /etc/app
    - file: /etc/app/worker.conf
      content: "n = {{ n }}\n"
    - file: /etc/app/reload.conf
      content: "r = {{ r }}\n"
    - service: app-worker
      unit: app-worker.service.j2
      enabled: "{{ worker_enabled }}"
      state: "{{ worker_state }}"
      restart_on: [/etc/app/worker.conf]
      reload_on: [/etc/app/reload.conf]
    - service: app-idle
      unit: app-idle.service.j2
      enabled: false
      state: running
    - program: sidekick
      command: /bin/sleep 100003
      options: {startsecs: 0}
      restart_on: [/etc/app/worker.conf]
    - service: app-broken
      unit: app-broken.service.j2
      state: running
      when: "broken | default(false)"
    - command: "echo a later step that fails >&2; exit 3"
      when: "fail_later | default(false)"
"#;

fn main_pid(lab: &Lab, host: &str, unit: &str) -> u32 {
    let out = sh(
        lab,
        host,
        &format!("systemctl show -p MainPID --value {unit}"),
    );
    out.trim().parse().expect("MainPID")
}

fn systemctl(lab: &Lab, host: &str, what: &str, unit: &str) -> String {
    // is-active / is-enabled exit non-zero for "inactive" / "disabled": read the word.
    let out = lab.exec(host, &format!("systemctl {what} {unit}"));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn services_project(lab: &Lab) -> Project {
    Project::new(lab)
        .var("n", "1")
        .var("r", "1")
        .var("worker_enabled", "true")
        .var("worker_state", "running")
        .file("site.yml", SERVICES)
        .file(
            "templates/app-worker.service.j2",
            "[Unit]\nDescription=app worker on {{ inventory_hostname }}\n[Service]\nExecStart=/bin/sleep 100000\nExecReload=/bin/sh -c 'echo reloaded >> /run/app-worker.reloads'\n[Install]\nWantedBy=multi-user.target\n",
        )
        .file(
            "templates/app-idle.service.j2",
            "[Service]\nExecStart=/bin/sleep 100001\n[Install]\nWantedBy=multi-user.target\n",
        )
        .file(
            "templates/app-broken.service.j2",
            "[Service]\nExecStart=/bin/sh -c 'echo broken-unit-says-bye >&2; exit 3'\n",
        )
}

#[test]
fn systemd_services_start_restart_reload_and_fail_visibly() {
    let lab = Lab::start_systemd("proc-systemd", 2);
    let hosts = ["h1", "h2"];
    let p = services_project(&lab);

    // --- first apply: unit written, daemon reloaded, enabled, started
    let run = p.play(&["apply", "site.yml"]).code(0);
    for h in hosts {
        assert_eq!(run.recap(h).2, 0, "{}", run.stdout);
        assert_eq!(systemctl(&lab, h, "is-active", "app-worker"), "active");
        assert_eq!(systemctl(&lab, h, "is-enabled", "app-worker"), "enabled");
        assert_eq!(systemctl(&lab, h, "is-active", "app-idle"), "active");
        assert_eq!(systemctl(&lab, h, "is-enabled", "app-idle"), "disabled");
        assert_eq!(
            sh(
                &lab,
                h,
                "cat /etc/systemd/system/app-worker.service | head -2"
            ),
            format!("[Unit]\nDescription=app worker on {h}\n")
        );
        assert_eq!(state_of(&lab, h, "sidekick").0, "RUNNING");
    }
    assert!(
        run.stdout.contains(
            "+ create service app-worker.service (not-found → enabled, ABSENT → RUNNING)"
        ),
        "{}",
        run.stdout
    );

    // --- second apply: nothing changes, nothing restarts
    let pids = |h: &str| {
        (
            main_pid(&lab, h, "app-worker"),
            main_pid(&lab, h, "app-idle"),
            state_of(&lab, h, "sidekick").1,
        )
    };
    let before: Vec<_> = hosts.iter().map(|h| pids(h)).collect();
    let run = p.play(&["apply", "site.yml"]).code(0);
    for h in hosts {
        assert_eq!(run.recap(h).1, 0, "{h}:\n{}", run.stdout);
    }
    assert_eq!(hosts.iter().map(|h| pids(h)).collect::<Vec<_>>(), before);

    // --- the watched file changes on h2: its worker service and program restart, nothing else
    let p = p.host_var(1, "n", "2");
    p.play(&["diff", "--exit-code", "site.yml"])
        .code(2)
        .shows("~ update service app-worker.service (restart: /etc/app/worker.conf changed)")
        .shows("~ update program sidekick (restart: /etc/app/worker.conf changed)")
        .hides("h1:")
        .hides("app-idle");
    p.play(&["apply", "site.yml"]).code(0);
    let after: Vec<_> = hosts.iter().map(|h| pids(h)).collect();
    assert_eq!(after[0], before[0], "h1 untouched");
    assert_ne!(after[1].0, before[1].0, "h2's worker restarted");
    assert_eq!(after[1].1, before[1].1, "h2's idle service untouched");
    assert_ne!(after[1].2, before[1].2, "h2's sidekick restarted");

    // --- reload_on: the reloaded file changes on h1: reloaded, not restarted
    let p = p.host_var(0, "r", "2");
    p.play(&["diff", "site.yml"])
        .code(0)
        .shows("~ update service app-worker.service (reload: /etc/app/reload.conf changed)");
    p.play(&["apply", "site.yml"]).code(0);
    assert_eq!(sh(&lab, "h1", "cat /run/app-worker.reloads"), "reloaded\n");
    assert_eq!(pids("h1"), after[0], "a reload keeps the process");
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);

    // --- a unit that fails to start fails its host, with its journal
    let p = p.host_var(0, "broken", "true");
    let run = p
        .play(&["apply", "site.yml"])
        .code(1)
        .shows("service app-broken.service is not running (failed) after start")
        .shows("broken-unit-says-bye");
    assert_eq!(run.recap("h1").2, 1, "{}", run.stdout);
    assert_eq!(run.recap("h2").2, 0, "{}", run.stdout);

    // --- an owed service restart survives a failed run
    let p = services_project(&lab)
        .var("n", "3")
        .var("r", "2")
        .host_var(0, "fail_later", "true");
    let before = pids("h1");
    p.play(&["apply", "site.yml"])
        .code(1)
        .shows("a later step that fails");
    assert_eq!(pids("h1").0, before.0, "not restarted yet");
    let p = services_project(&lab).var("n", "3").var("r", "2");
    p.play(&["diff", "--exit-code", "site.yml"])
        .code(2)
        .shows("~ update service app-worker.service (restart owed by an earlier run: /etc/app/worker.conf changed)");
    p.play(&["apply", "site.yml"]).code(0);
    assert_ne!(pids("h1").0, before.0, "the owed restart happened");
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);

    // --- stopped and disabled
    let p = p
        .var("worker_state", "stopped")
        .var("worker_enabled", "false");
    let run = p.play(&["apply", "site.yml"]).code(0);
    assert!(
        run.stdout
            .contains("~ update service app-worker.service (enabled → disabled, ACTIVE → STOPPED)"),
        "{}",
        run.stdout
    );
    for h in hosts {
        assert_eq!(systemctl(&lab, h, "is-active", "app-worker"), "inactive");
        assert_eq!(systemctl(&lab, h, "is-enabled", "app-worker"), "disabled");
        assert_eq!(systemctl(&lab, h, "is-active", "app-idle"), "active");
    }
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);
}

/// Input errors of programs and services: exit 1 with file:line:col, before any connection
/// (the inventory's only host does not exist).
#[test]
fn program_and_service_input_errors_are_located() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("inventory.yml"),
        "all:\n  hosts:\n    h1: {ssh_host: 127.0.0.1, ssh_port: 1}\n",
    )
    .expect("inventory");
    let run = |playbook: &str| {
        std::fs::write(dir.path().join("site.yml"), playbook).expect("playbook");
        let out = std::process::Command::new(support::lab::play_bin())
            .args([
                "diff",
                "-i",
                "inventory.yml",
                "--color",
                "never",
                "site.yml",
            ])
            .env("PLAY_LOOPBACK_ONLY", "1")
            .current_dir(dir.path())
            .output()
            .expect("run play");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    let head = "- hosts: all\n  state:\n";
    let cases: &[(&str, &str)] = &[
        (
            "    - program: web\n      command: sleep 1\n      force: true\n",
            "site.yml:3:7: key `force` does not apply to a program",
        ),
        (
            "    - program: web\n      directory: /srv\n",
            "site.yml:3:7: a program needs `command`",
        ),
        (
            "    - program: a/b\n      command: sleep 1\n",
            "site.yml:3:16: program name `a/b`",
        ),
        (
            "    - service: w\n      command: sleep 1\n",
            "a resource has exactly one kind, found `service` and `command`",
        ),
        (
            "    - program: web\n      command: sleep 1\n      state: started\n",
            "site.yml:5:14: a program's state is `running`, `stopped` or `absent`, not `started`",
        ),
        (
            "    - program: web\n      command: sh -c 'a ; b'\n",
            "site.yml:4:16: program web: `command`: supervisor reads ` ;` as the start of a comment",
        ),
        (
            "    - program: web\n      command: sleep 1\n      options: {command: x}\n",
            "site.yml:5:17: program web: options: `command` has its own key",
        ),
        (
            "    - program: web\n      command: sleep 1\n      environment: [A]\n",
            "site.yml:5:20: environment must be a mapping",
        ),
        (
            "    - program: web\n      command: sleep 1\n    - program: web\n      command: sleep 2\n",
            "site.yml:5:7: duplicate resource `program web`",
        ),
        (
            "    - file: /etc/supervisor/conf.d/web.conf\n    - program: web\n      command: sleep 1\n",
            "duplicate resource `/etc/supervisor/conf.d/web.conf`",
        ),
        (
            "    - service: w\n      unit: nope.service.j2\n",
            "site.yml:4:13: template `nope.service.j2` not found",
        ),
        (
            "    - service: w\n      state: restarted\n",
            "a service's state is `running`, `stopped` or `absent`, not `restarted`",
        ),
        (
            "    - program: web\n      command: sleep 1\n      restart_onn: [/x]\n",
            "unknown key `restart_onn`, did you mean `restart_on`?",
        ),
        (
            "    - service: w\n      reload_on: [/etc/a]\n",
            "site.yml:4:19: reload_on: no resource of play `all` has the key `/etc/a`",
        ),
    ];
    for (state, expected) in cases {
        let (code, text) = run(&format!("{head}{state}"));
        assert_eq!(code, Some(1), "{state}\n{text}");
        assert!(
            text.contains(expected),
            "{state}\nexpected {expected:?} in:\n{text}"
        );
        assert!(
            !text.contains("UNREACHABLE"),
            "input errors come first:\n{text}"
        );
    }
    // A watched resource that `when` leaves out on this host still exists: not an input error
    // (the run then goes on, and fails only because the host does not exist).
    let (code, text) = run(&format!(
        "{head}    - file: /etc/a\n      when: false\n    - program: web\n      command: sleep 1\n      restart_on: [/etc/a]\n"
    ));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("UNREACHABLE"), "{text}");
    assert!(!text.contains("restart_on"), "{text}");
}
