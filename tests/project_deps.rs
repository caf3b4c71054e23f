//! `npm:` and `composer:` applied for real, on this machine (`play apply --local`) and on a lab
//! host over SSH: play's probe, apply script and state files, with fake `npm` and `composer`
//! executables (sh scripts that log their arguments and fill `node_modules`/`vendor` as the
//! real tools do) since neither tool is installed here and there is no registry to install
//! from offline.

mod support;

use std::path::Path;
use std::process::Command;

use support::lab::Lab;
use support::project::{write_under as write, Project, Run};

/// `play ARGS` in `dir`, with `bin` first on PATH (where the fake `composer` is found).
fn play(dir: &Path, bin: &Path, args: &[&str]) -> Run {
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(support::lab::play_bin())
        .args(args)
        .env("PLAY_LOOPBACK_ONLY", "1")
        .env("PATH", path)
        .current_dir(dir)
        .output()
        .expect("run play");
    Run::from(args, out)
}

fn executable(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
    std::process::Command::new("chmod")
        .args(["0755", &path.display().to_string()])
        .status()
        .expect("chmod");
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

fn sha256(p: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(p)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// A project's dependencies are installed once (npm writes the lock it was missing; the
/// recorded sha256 is the lock's after the install), then the probe, which runs neither tool,
/// finds them converged; a changed composer.lock installs that project again, alone. A global
/// package is installed where `prefix` says and its version read back from its package.json.
/// The npm project is `nobody`'s: npm runs and its lock is read as that user.
#[test]
fn projects_install_once_and_again_when_their_lock_changes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    let bin = d.join("bin");
    let log = d.join("tools.log");
    executable(
        &bin.join("npm"),
        &format!(
            r#"#!/bin/sh
printf 'npm %s %s: %s\n' "$(id -un)" "$PWD" "$*" >> {log}
if [ "$2" = -g ]; then
  p=$4 n=${{7%@*}} v=${{7##*@}}
  mkdir -p "$p/lib/node_modules/$n"
  printf '{{\n  "name": "%s",\n  "version": "%s"\n}}\n' "$n" "$v" > "$p/lib/node_modules/$n/package.json"
  exit 0
fi
mkdir -p node_modules/left-pad && echo 'module.exports = 1' > node_modules/left-pad/index.js
[ -f package-lock.json ] || printf '{{"lockfileVersion": 3}}\n' > package-lock.json
"#,
            log = log.display()
        ),
    );
    executable(
        &bin.join("composer"),
        &format!(
            "#!/bin/sh\nprintf 'composer %s: %s\\n' \"$PWD\" \"$*\" >> {}\nmkdir -p vendor && echo '<?php' > vendor/autoload.php\n",
            log.display()
        ),
    );
    write(d, "app/package.json", "{\"name\": \"app\"}\n");
    // the project is `nobody`'s, and npm runs as it (as root: through runuser)
    for (p, mode) in [(d, "0755"), (&d.join("app"), "0755")] {
        Command::new("chmod")
            .args([mode, &p.display().to_string()])
            .status()
            .expect("chmod");
    }
    Command::new("chown")
        .args(["-R", "nobody", &d.join("app").display().to_string()])
        .status()
        .expect("chown");
    write(d, "site/composer.json", "{}\n");
    std::fs::write(&log, "").expect("log");
    Command::new("chmod")
        .args(["0666", &log.display().to_string()])
        .status()
        .expect("chmod");
    write(d, "site/composer.lock", "{\"packages\": []}\n");
    write(
        d,
        "inventory/hosts.yml",
        "all:\n  hosts:\n    me: {ssh_host: 127.0.0.1}\n",
    );
    write(
        d,
        "site.yml",
        &format!(
            "- hosts: all\n  state:\n    - npm: {d}/app\n      production: true\n      user: nobody\n      executable: {d}/bin/npm\n    - composer: {d}/site\n      no_scripts: true\n    - npm: [\"left-pad@1.3.0\"]\n      prefix: {d}/prefix\n      executable: {d}/bin/npm\n",
            d = d.display()
        ),
    );
    let apply = [
        "apply", "site.yml", "--local", "-l", "me", "--color", "never",
    ];
    let diff = [
        "diff",
        "site.yml",
        "--local",
        "-l",
        "me",
        "--exit-code",
        "--color",
        "never",
    ];
    let first = play(d, &bin, &apply).code(0);
    assert!(
        first
            .stdout
            .contains(&format!("+ create npm {}/app", d.display())),
        "{}",
        first.stdout
    );
    let app = d.join("app");
    let site = d.join("site");
    let want_log = format!(
        "npm nobody {app}: install --no-audit --no-fund --omit=dev\ncomposer {site}: install --no-interaction --no-progress --no-dev --no-scripts --optimize-autoloader\nnpm root /: install -g --prefix {d}/prefix --no-audit --no-fund left-pad@1.3.0\n",
        app = app.display(),
        site = site.display(),
        d = d.display()
    );
    assert_eq!(read(&log), want_log);
    // the sha256 recorded is the lock's the install left
    assert_eq!(
        read(&app.join("node_modules/.play-npm")),
        format!(
            "sha256 {}\nargs --omit=dev\n",
            sha256(&app.join("package-lock.json"))
        )
    );
    assert_eq!(
        read(&site.join("vendor/.play-composer")),
        format!(
            "sha256 {}\nargs --no-dev --no-scripts --optimize-autoloader\n",
            sha256(&site.join("composer.lock"))
        )
    );
    // converged: the probe runs neither tool
    play(d, &bin, &diff).code(0);
    assert_eq!(read(&log), want_log);
    // a new composer.lock: that project alone, again
    write(d, "site/composer.lock", "{\"packages\": [1]}\n");
    let again = play(d, &bin, &diff).code(2);
    assert!(
        again
            .stdout
            .contains("composer.lock changed since the last install"),
        "{}",
        again.stdout
    );
    play(d, &bin, &apply).code(0);
    let log_now = read(&log);
    assert_eq!(
        log_now.strip_prefix(&want_log),
        Some(
            format!(
                "composer {}: install --no-interaction --no-progress --no-dev --no-scripts --optimize-autoloader\n",
                site.display()
            )
            .as_str()
        ),
        "{log_now}"
    );
    play(d, &bin, &diff).code(0);
}

/// The playbook of the lab test: a fake npm (written by the playbook itself), the lock written
/// earlier in the same run, the project installed as `deploy`, a program watching it and one
/// that does not.
fn lab_yml(lock: &str) -> String {
    format!(
        r#"- hosts: lab
  state:
    - file: /usr/local/bin/npm
      mode: "0755"
      content: |
        #!/bin/sh
        printf '%s %s: %s\n' "$(id -un)" "$PWD" "$*" >> /srv/npm.log
        mkdir -p node_modules/dep
    - file: /srv/app/package-lock.json
      owner: deploy
      content: "{lock}\n"
    - npm: /srv/app
      production: true
      user: deploy
    - program: nodeapp
      command: /bin/sleep 100000
      restart_on: [/srv/app]
    - program: bystander
      command: /bin/sleep 100000
"#
    )
}

/// Over SSH with become: the project is installed as its user with `npm ci` (the lock the same
/// run wrote), its watcher restarts; converged, the probe runs no npm; a new lock written in the
/// same run is "known after" it and installs again, restarting the watcher alone.
#[test]
fn an_npm_project_installs_as_its_user_and_restarts_its_watcher() {
    let lab = Lab::start("pkgs-npm", 1);
    lab.sh(
        "h1",
        "mkdir -p /srv/app && chown deploy /srv/app && : > /srv/npm.log && chmod 0666 /srv/npm.log && printf '{}' > /srv/app/package.json",
    );
    let log = || lab.sh("h1", "cat /srv/npm.log");
    let line = "deploy /srv/app: ci --no-audit --no-fund --omit=dev\n";
    let p = Project::new(&lab).file("n.yml", &lab_yml("v1"));
    p.play(&["apply", "n.yml"])
        .code(0)
        .shows("+ create npm /srv/app");
    assert_eq!(log(), line);
    assert_eq!(
        lab.sh("h1", "stat -c %U /srv/app/node_modules; cat /srv/app/node_modules/.play-npm; sha256sum < /srv/app/package-lock.json"),
        format!("deploy\nsha256 {h}\nargs --omit=dev\n{h}  -\n", h = lab.sh("h1", "sha256sum < /srv/app/package-lock.json").split_whitespace().next().unwrap_or_default())
    );
    p.play(&["diff", "--exit-code", "n.yml"]).code(0);
    assert_eq!(log(), line, "the probe runs no npm");

    let (watcher, other) = (lab.pid("h1", "nodeapp"), lab.pid("h1", "bystander"));
    let p = p.file("n.yml", &lab_yml("v2"));
    p.play(&["apply", "n.yml"])
        .code(0)
        .shows("known after /srv/app/package-lock.json");
    assert_eq!(log(), format!("{line}{line}"));
    assert_ne!(lab.pid("h1", "nodeapp"), watcher, "the watcher restarts");
    assert_eq!(
        lab.pid("h1", "bystander"),
        other,
        "the other program does not"
    );
    p.play(&["diff", "--exit-code", "n.yml"]).code(0);
}
