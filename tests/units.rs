//! Conf and unit files on real lab hosts: their mode follows the secrets they hold (issue 13),
//! `service: state: absent` (issue 12 §7), and program confs placed where supervisord.conf's
//! `[include] files=` says (issue 12 §7).

mod support;

use std::process::Command;

use support::lab::Lab;
use support::project::{Project, Run};

const TOKEN: &str = "tok-units-9f3e7c1a";

/// `play SUB -i INVENTORY --color never ARGS...` with the vault passphrase file.
fn play(p: &Project, args: &[&str]) -> Run {
    let inv = p.inventory();
    let (sub, rest) = args.split_first().expect("a subcommand");
    let out = Command::new(support::lab::play_bin())
        .arg(sub)
        .arg("-i")
        .arg(&inv)
        .args(["--color", "never"])
        .args(rest)
        .env("PLAY_LOOPBACK_ONLY", "1")
        .env("PLAY_VAULT_PASSWORD_FILE", p.path("pass"))
        .current_dir(p.root())
        .output()
        .expect("run play");
    let run = Run {
        args: args.iter().map(|s| s.to_string()).collect(),
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN),
        "the secret leaked:\n{}{}",
        run.stdout,
        run.stderr
    );
    run
}

fn encrypt(p: &Project, rel: &str) {
    p.vault_encrypt(rel);
    let text = std::fs::read_to_string(p.path(rel)).expect("read vault file");
    assert!(!text.contains(TOKEN), "encrypted");
}

/// `MODE OWNER:GROUP` of a path on a host.
fn stat(lab: &Lab, host: &str, path: &str) -> String {
    lab.sh(host, &format!("stat -c '%a %U:%G' {path}"))
        .trim()
        .to_string()
}

fn supervisor_pid(lab: &Lab, host: &str, name: &str) -> String {
    lab.sh(
        host,
        &format!("supervisorctl -c /etc/supervisor/supervisord.conf pid {name}"),
    )
    .trim()
    .to_string()
}

const PROGRAMS: &str = r#"
- hosts: lab
  vars_files: [vars/app.vault.yml]
  state:
    - program: secret_env
      command: /bin/sleep 100000
      environment: {API_TOKEN: "{{ api_token }}"}
      options: {startsecs: 0}
    - program: plain_env
      command: /bin/sleep 100001
      environment: {APP_ENV: production}
      mode: "{{ plain_mode }}"
      options: {startsecs: 0}
    - program: marked
      command: /bin/sleep 100002
      sensitive: true
      owner: root
      group: "{{ marked_group }}"
      options: {startsecs: 0}
"#;

fn programs_project(lab: &Lab) -> Project {
    let p = Project::new(lab)
        .var("plain_mode", "\"0644\"")
        .var("marked_group", "root")
        .file("site.yml", PROGRAMS)
        .file("vars/app.vault.yml", &format!("api_token: {TOKEN}\n"))
        .file("pass", "units passphrase\n");
    encrypt(&p, "vars/app.vault.yml");
    p
}

/// A vaulted value in `environment:` makes the conf 0600; `sensitive` too; `mode:`, `owner:`
/// and `group:` are honoured, and changing only them is an attrs change (no restart).
#[test]
fn program_confs_with_secrets_are_private_and_modes_are_attrs_changes() {
    let lab = Lab::start("units-modes", 1);
    let p = programs_project(&lab);
    play(&p, &["apply", "site.yml"]).code(0);
    let conf = |n: &str| format!("/etc/supervisor/conf.d/{n}.conf");
    assert_eq!(stat(&lab, "h1", &conf("secret_env")), "600 root:root");
    assert_eq!(stat(&lab, "h1", &conf("plain_env")), "644 root:root");
    assert_eq!(stat(&lab, "h1", &conf("marked")), "600 root:root");
    // The secret is on the host, where it belongs, readable by root only.
    assert!(lab
        .sh("h1", &format!("cat {}", conf("secret_env")))
        .contains(TOKEN));
    let denied = lab.exec(
        "h1",
        &format!("su -s /bin/sh deploy -c 'cat {}'", conf("secret_env")),
    );
    assert!(!denied.status.success(), "deploy can read the secret conf");
    play(&p, &["diff", "--exit-code", "site.yml"]).code(0);

    // An operator loosened the secret conf: the plan puts the mode back, nothing restarts.
    lab.sh("h1", &format!("chmod 644 {}", conf("secret_env")));
    let before = supervisor_pid(&lab, "h1", "secret_env");
    let run = play(&p, &["diff", "--exit-code", "site.yml"])
        .code(2)
        .shows("~ update program secret_env (mode 0644 → 0600)");
    assert!(!run.stdout.contains("restart"), "{}", run.stdout);
    play(&p, &["apply", "site.yml"]).code(0);
    assert_eq!(stat(&lab, "h1", &conf("secret_env")), "600 root:root");
    assert_eq!(supervisor_pid(&lab, "h1", "secret_env"), before);

    // `mode:` and `group:` in the playbook: attrs changes only.
    let p = p
        .var("plain_mode", "\"0640\"")
        .var("marked_group", "deploy");
    let before = (
        supervisor_pid(&lab, "h1", "plain_env"),
        supervisor_pid(&lab, "h1", "marked"),
    );
    play(&p, &["diff", "site.yml"])
        .code(0)
        .shows("~ update program plain_env (mode 0644 → 0640)")
        .shows("~ update program marked (group root → deploy)");
    play(&p, &["apply", "site.yml"]).code(0);
    assert_eq!(stat(&lab, "h1", &conf("plain_env")), "640 root:root");
    assert_eq!(stat(&lab, "h1", &conf("marked")), "600 root:deploy");
    assert_eq!(
        (
            supervisor_pid(&lab, "h1", "plain_env"),
            supervisor_pid(&lab, "h1", "marked"),
        ),
        before,
        "an attrs change restarts nothing"
    );
    play(&p, &["diff", "--exit-code", "site.yml"]).code(0);
}

/// Keys are checked offline, with their location.
#[test]
fn conf_mode_keys_are_validated_offline() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("inventory.yml"),
        "all:\n  hosts:\n    h1: {ssh_host: 127.0.0.1, ssh_port: 1}\n",
    )
    .expect("inventory");
    std::fs::create_dir(dir.path().join("templates")).expect("templates");
    std::fs::write(
        dir.path().join("templates/w.service.j2"),
        "[Service]\nExecStart=/bin/true\n",
    )
    .expect("template");
    let check = |state: &str| {
        std::fs::write(
            dir.path().join("site.yml"),
            format!("- hosts: all\n  state:\n{state}"),
        )
        .expect("playbook");
        let out = Command::new(support::lab::play_bin())
            .args([
                "check",
                "-i",
                "inventory.yml",
                "--color",
                "never",
                "site.yml",
            ])
            .current_dir(dir.path())
            .output()
            .expect("run play");
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (code, text) = check("    - program: web\n      command: sleep 1\n      mode: \"0640\"\n      owner: root\n      group: adm\n    - service: w\n      unit: w.service.j2\n      mode: \"0600\"\n");
    assert_eq!(code, Some(0), "{text}");
    for (state, expected) in [
        (
            "    - program: web\n      command: sleep 1\n      mode: \"0948\"\n",
            "site.yml:5:13: invalid mode `0948`",
        ),
        (
            "    - service: w\n      mode: rw\n",
            "site.yml:4:13: invalid mode `rw`",
        ),
        (
            "    - service: w\n      mode: \"0600\"\n",
            "site.yml:4:13: `mode` is the mode of the unit file `unit:` writes: give `unit:` too",
        ),
        (
            "    - service: w\n      modes: \"0600\"\n",
            "unknown key `modes`, did you mean `mode`?",
        ),
        (
            "    - service: w\n      state: gone\n",
            "site.yml:4:14: a service's state is `running`, `stopped` or `absent`, not `gone`",
        ),
    ] {
        let (code, text) = check(state);
        assert_eq!(code, Some(1), "{state}\n{text}");
        assert!(
            text.contains(expected),
            "{state}\nexpected {expected:?} in:\n{text}"
        );
    }
}

const SERVICES: &str = r#"
- hosts: lab
  vars_files: [vars/app.vault.yml]
  state:
    - service: app-gone
      unit: app-gone.service.j2
      enabled: "{{ gone_state != 'absent' }}"
      state: "{{ gone_state }}"
    - service: app-keep
      unit: app-keep.service.j2
      enabled: true
      state: running
"#;

fn services_project(lab: &Lab, gone_state: &str) -> Project {
    let p = Project::new(lab)
        .var("gone_state", gone_state)
        .file("site.yml", SERVICES)
        .file(
            "templates/app-gone.service.j2",
            "[Service]\nExecStart=/bin/sleep 100000\n[Install]\nWantedBy=multi-user.target\n",
        )
        .file(
            "templates/app-keep.service.j2",
            "[Service]\nEnvironment=TOKEN={{ api_token }}\nExecStart=/bin/sleep 100001\n[Install]\nWantedBy=multi-user.target\n",
        )
        .file("vars/app.vault.yml", &format!("api_token: {TOKEN}\n"))
        .file("pass", "units passphrase\n");
    encrypt(&p, "vars/app.vault.yml");
    p
}

fn systemctl(lab: &Lab, host: &str, what: &str, unit: &str) -> String {
    let out = lab.exec(host, &format!("systemctl {what} {unit}"));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `state: absent` stops, disables and removes the unit file, one daemon-reload; a second
/// diff has nothing to do. A unit holding a vaulted value is written 0600.
#[test]
fn service_absent_stops_disables_and_removes_its_unit() {
    let lab = Lab::start_systemd("units-svc", 1);
    let p = services_project(&lab, "running");
    play(&p, &["apply", "site.yml"]).code(0);
    assert_eq!(systemctl(&lab, "h1", "is-active", "app-gone"), "active");
    assert_eq!(systemctl(&lab, "h1", "is-enabled", "app-gone"), "enabled");
    assert_eq!(
        stat(&lab, "h1", "/etc/systemd/system/app-keep.service"),
        "600 root:root"
    );
    assert_eq!(
        stat(&lab, "h1", "/etc/systemd/system/app-gone.service"),
        "644 root:root"
    );
    let keep_pid = systemctl(&lab, "h1", "show -p MainPID --value", "app-keep");

    let p = services_project(&lab, "absent");
    play(&p, &["diff", "--exit-code", "site.yml"]).code(2).shows(
        "- delete service app-gone.service (enabled → disabled, ACTIVE → ABSENT, remove /etc/systemd/system/app-gone.service)",
    );
    let run = play(&p, &["apply", "site.yml"]).code(0);
    assert_eq!(run.recap("h1").1, 1, "{}", run.stdout);
    assert_eq!(systemctl(&lab, "h1", "is-active", "app-gone"), "inactive");
    assert_eq!(
        lab.sh(
            "h1",
            "test -e /etc/systemd/system/app-gone.service && echo yes || echo no"
        ),
        "no\n"
    );
    assert_eq!(
        lab.sh(
            "h1",
            "ls /etc/systemd/system/multi-user.target.wants/ | grep -c app-gone || true"
        )
        .trim(),
        "0",
        "disabled"
    );
    // Reloaded: systemd no longer knows the unit, and does not ask for a reload.
    assert_eq!(
        systemctl(&lab, "h1", "show -p LoadState --value", "app-gone"),
        "not-found"
    );
    assert_eq!(
        systemctl(&lab, "h1", "show -p NeedDaemonReload --value", "app-keep"),
        "no"
    );
    // The other service was left running.
    assert_eq!(
        systemctl(&lab, "h1", "show -p MainPID --value", "app-keep"),
        keep_pid
    );
    play(&p, &["diff", "--exit-code", "site.yml"]).code(0);
    play(&p, &["apply", "site.yml"]).code(0);
}

/// A host whose supervisord.conf includes `/etc/supervisord.d/*.ini` (RHEL's layout): the
/// conf goes there, the program runs, the next diff is clean, and `absent` removes it.
#[test]
fn program_conf_goes_where_supervisord_includes() {
    let lab = Lab::start("units-include", 1);
    lab.sh("h1",
        "mkdir -p /etc/supervisord.d && sed -i 's#^files = .*#files = /etc/supervisord.d/*.ini ; RHEL#' /etc/supervisor/supervisord.conf && supervisorctl -c /etc/supervisor/supervisord.conf reload",
    );
    // supervisord restarts: wait for its socket to answer.
    let mut up = false;
    for _ in 0..100 {
        if lab
            .exec(
                "h1",
                "supervisorctl -c /etc/supervisor/supervisord.conf pid",
            )
            .status
            .success()
        {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(up, "supervisord did not come back");
    let p = Project::new(&lab).var("st", "running").file(
        "site.yml",
        "- hosts: lab\n  state:\n    - program: web\n      command: /bin/sleep 100000\n      options: {startsecs: 0}\n      state: \"{{ st }}\"\n",
    );
    p.play(&["diff", "site.yml"])
        .code(0)
        .shows("+ create program web")
        .shows("+++ /etc/supervisord.d/web.ini");
    p.play(&["apply", "site.yml"]).code(0);
    assert_eq!(
        stat(&lab, "h1", "/etc/supervisord.d/web.ini"),
        "644 root:root"
    );
    assert_eq!(
        lab.sh(
            "h1",
            "test -e /etc/supervisor/conf.d/web.conf && echo yes || echo no"
        ),
        "no\n"
    );
    let status = lab.sh(
        "h1",
        "supervisorctl -c /etc/supervisor/supervisord.conf status web",
    );
    assert!(status.contains("RUNNING"), "{status}");
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);
    let p = p.var("st", "absent");
    p.play(&["apply", "site.yml"]).code(0);
    assert_eq!(
        lab.sh(
            "h1",
            "test -e /etc/supervisord.d/web.ini && echo yes || echo no"
        ),
        "no\n"
    );
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);

    // A file resource at the conf's path, and a missing include folder: clear errors.
    let twice = Project::new(&lab).file(
        "site.yml",
        "- hosts: lab\n  state:\n    - file: /etc/supervisord.d/web.ini\n    - program: web\n      command: /bin/sleep 100000\n",
    );
    twice
        .play(&["diff", "site.yml"])
        .code(1)
        .shows("program web: its conf file /etc/supervisord.d/web.ini is also declared at");
    lab.sh("h1", "rmdir /etc/supervisord.d");
    let p = p.var("st", "running");
    p.play(&["diff", "site.yml"]).code(1).shows(
        "the folder /etc/supervisord.d that supervisord includes conf files from does not exist",
    );
    // ... unless the run makes it.
    let made = Project::new(&lab).file(
        "site.yml",
        "- hosts: lab\n  state:\n    - directory: /etc/supervisord.d\n    - program: web\n      command: /bin/sleep 100000\n      options: {startsecs: 0}\n",
    );
    made.play(&["apply", "site.yml"]).code(0);
    assert_eq!(
        stat(&lab, "h1", "/etc/supervisord.d/web.ini"),
        "644 root:root"
    );
    made.play(&["diff", "--exit-code", "site.yml"]).code(0);

    // No [include] at all: a clear error, before anything is written.
    lab.sh(
        "h1",
        "sed -i 's#^files = .*##' /etc/supervisor/supervisord.conf",
    );
    p.play(&["diff", "site.yml"])
        .code(1)
        .shows("has no `[include] files=`");
}

const ARGV_SECRET: &str = "sk-live-units-5b7e21";
const UNLESS_SECRET: &str = "sk-unless-units-77c3";
const RUN_SECRET: &str = "sk-run-units-0d9a";

const COMMANDS: &str = r#"
- hosts: lab
  state:
    - command: "T=sk-live-units-5b7e21; sleep 2; printf '%s' \"$T\" > /tmp/as-root"
      unless: "K=sk-unless-units-77c3; sleep 2; test -n \"$K\" && test -e /tmp/as-root"
    - command: "T=sk-live-units-5b7e21; sleep 2; printf '%s' \"$T\" > /tmp/as-deploy"
      user: deploy
      creates: /tmp/as-deploy
"#;

/// Runs `during` while polling `ps -eo args` on `host`; returns every listing seen.
fn ps_during(lab: &Lab, host: &str, during: impl FnOnce()) -> Vec<String> {
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let poller = s.spawn(|| {
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                seen.push(lab.sh(host, "ps -eo args"));
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            seen
        });
        during();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        poller.join().expect("poller")
    })
}

fn assert_hidden(seen: &[String], secrets: &[&str], proof: &str) {
    assert!(
        seen.iter().any(|l| l.contains(proof)),
        "the polling never overlapped the command (no `{proof}` in {} listings)",
        seen.len()
    );
    for listing in seen {
        for s in secrets {
            assert!(!listing.contains(s), "`{s}` in a host argv:\n{listing}");
        }
        assert!(
            !listing.contains("play-probe") && !listing.contains("play-apply"),
            "a script in a host argv:\n{listing}"
        );
    }
}

/// No script, command, check or value is in any host process's argv while play works:
/// `ps` on the host, polled during a probe whose `unless` check sleeps, during an apply whose
/// commands (as root and as another user) sleep, and during `play run`.
#[test]
fn no_script_or_value_is_in_any_host_argv() {
    let lab = Lab::start("units-argv", 1);
    let p = Project::new(&lab).file("site.yml", COMMANDS);
    // Control: the polling does see a value passed the old way (`sh -c SCRIPT`).
    let seen = ps_during(&lab, "h1", || {
        lab.sh("h1", "sh -c 'C=sk-control-units; sleep 1; : $C'");
    });
    assert!(
        seen.iter().any(|l| l.contains("sk-control-units")),
        "the poller misses argv values"
    );
    let seen = ps_during(&lab, "h1", || {
        p.play(&["diff", "site.yml"]).code(0);
    });
    assert_hidden(&seen, &[UNLESS_SECRET, ARGV_SECRET], "sleep 2");
    let seen = ps_during(&lab, "h1", || {
        p.play(&["apply", "site.yml"]).code(0);
    });
    assert_hidden(&seen, &[UNLESS_SECRET, ARGV_SECRET], "sleep 2");
    // The commands did run, with their values.
    assert_eq!(lab.sh("h1", "cat /tmp/as-root"), ARGV_SECRET);
    assert_eq!(lab.sh("h1", "cat /tmp/as-deploy"), ARGV_SECRET);
    assert_eq!(
        stat(&lab, "h1", "/tmp/as-deploy").split(' ').nth(1),
        Some("deploy:deploy")
    );
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);
    // `play run`: the ad-hoc command travels on stdin too.
    let seen = ps_during(&lab, "h1", || {
        p.play(&[
            "run",
            "lab",
            "--",
            &format!("R={RUN_SECRET}; sleep 2; echo ${{#R}}"),
        ])
        .code(0)
        .shows(&RUN_SECRET.len().to_string());
    });
    assert_hidden(&seen, &[RUN_SECRET], "sleep 2");
}
