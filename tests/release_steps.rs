//! Issue 14 on real lab hosts: `command:` with `changed: false` (a check: runs on every apply,
//! never a change, fails the host on a non-zero exit) and `release:` with `shared:` and
//! `build:` (linked and built before `current` switches, as the release's owner; a failing
//! build leaves the live release untouched; rollback still works).

mod support;

use support::lab::Lab;
use support::project::Project;

const CHECKS: &str = r#"- hosts: lab
  state:
    - file: /srv/checks/app.ini
      content: "port = {{ port }}\n"
    - command: "grep -q '^port = ' /srv/checks/app.ini && echo checked >> /srv/checks/ran"
      changed: false
    - program: checks_watcher
      command: /bin/sleep 100000
      options: {startsecs: 1}
      restart_on: [/srv/checks/app.ini, "grep -q '^port = ' /srv/checks/app.ini && echo checked >> /srv/checks/ran"]
"#;

#[test]
fn a_check_runs_on_every_apply_and_is_never_a_change() {
    let lab = Lab::start("release-checks", 1);
    let p = Project::new(&lab)
        .file("site.yml", CHECKS)
        .var("port", "8000");
    // diff: the check is listed apart, never counted, and not run.
    let run = p
        .play(&["diff", "--exit-code", "site.yml"])
        .code(2)
        .shows("= check command grep -q '^port = ' /srv/checks/app.ini")
        .shows("(runs on every apply, never a change)");
    assert_eq!(
        run.recap("h1").1,
        3,
        "its folder, the file and the program: {}",
        run.stdout
    );
    lab.sh("h1", "test ! -e /srv/checks/ran");
    p.play(&["apply", "site.yml"]).code(0);
    assert_eq!(lab.sh("h1", "cat /srv/checks/ran"), "checked\n");
    // Converged: the check is no change, so diff --exit-code is 0 ...
    let run = p.play(&["diff", "--exit-code", "site.yml"]).code(0);
    assert_eq!(run.recap("h1").1, 0, "{}", run.stdout);
    // ... and the JSON report lists it apart from the changes.
    let run = p
        .play(&["diff", "--exit-code", "--format", "json", "site.yml"])
        .code(0);
    let doc = support::check::json(&run.stdout);
    support::check::assert_schema_valid("report.schema.json", &doc);
    let h = support::check::host(&doc, "h1");
    assert_eq!(h["changes"], serde_json::json!([]), "{doc:#}");
    assert_eq!(
        h["checks"][0]["details"],
        serde_json::json!(["runs on every apply, never a change"]),
        "{doc:#}"
    );
    // ... and apply runs it again, changes nothing, restarts nothing.
    let before = lab.pid("h1", "checks_watcher");
    let run = p.play(&["apply", "site.yml"]).code(0);
    assert_eq!(run.recap("h1").1, 0, "{}", run.stdout);
    assert_eq!(lab.sh("h1", "cat /srv/checks/ran"), "checked\nchecked\n");
    assert_eq!(
        lab.pid("h1", "checks_watcher"),
        before,
        "a check restarts nothing"
    );
    // A failing check fails the host (after the change before it was applied).
    lab.sh("h1", "rm -f /srv/checks/ran && mkdir /srv/checks/ran");
    let run = p.play(&["apply", "site.yml"]).code(1);
    assert!(run.stdout.contains("FAILED"), "{}", run.stdout);
    assert!(
        run.stdout.contains("command exited with status"),
        "{}",
        run.stdout
    );
}

const RELEASE: &str = r#"- hosts: lab
  state:
    - user: relapp
      system: true
      create_home: false
    - release: /srv/relapp
      from: {sync: app}
      owner: relapp
      shared: [data, config/.env]
      build:
        - python3 -m compileall -q .
        - "printf '%s %s %s\n' \"$APP_MODE\" \"$(id -un)\" \"$PWD\" > VERSION"
        - "{{ extra_step }}"
      environment: {APP_MODE: "{{ mode }}"}
    - program: relapp
      command: /bin/sleep 100000
      directory: /srv/relapp/current
      user: relapp
      options: {startsecs: 1}
      restart_on: [/srv/relapp]
"#;

#[test]
fn a_release_links_shared_paths_and_builds_before_the_switch() {
    let lab = Lab::start("release-build", 1);
    let project = |hello: &str, mode: &str, step: &str| {
        let p = Project::new(&lab)
            .file("site.yml", RELEASE)
            .var("mode", mode)
            .var("extra_step", &format!("'{step}'"));
        p.write("files/app/hello.py", hello.as_bytes());
        p
    };
    let p = project("print('v1')\n", "prod", "true");
    p.play(&["diff", "--exit-code", "site.yml"])
        .code(2)
        .shows("link shared data, config/.env (from /srv/relapp/shared)")
        .shows("build as relapp: `python3 -m compileall -q .`");
    p.play(&["apply", "site.yml"]).code(0);
    let first = lab.sh("h1", "readlink /srv/relapp/current");
    let dir = first.trim().to_string();
    // The build ran in the new release, as its owner, with the environment.
    assert_eq!(
        lab.sh("h1", "cat /srv/relapp/current/VERSION"),
        format!("prod relapp {dir}\n")
    );
    assert_eq!(
        lab.sh(
            "h1",
            "stat -c %U /srv/relapp/current/VERSION /srv/relapp/current/__pycache__"
        ),
        "relapp\nrelapp\n"
    );
    // Shared paths: links into DEST/shared, missing ones made empty folders owned by the owner.
    assert_eq!(
        lab.sh(
            "h1",
            "readlink /srv/relapp/current/data /srv/relapp/current/config/.env"
        ),
        "/srv/relapp/shared/data\n/srv/relapp/shared/config/.env\n"
    );
    assert_eq!(
        lab.sh(
            "h1",
            "stat -c '%F %U' /srv/relapp/shared/data /srv/relapp/shared/config/.env"
        ),
        "directory relapp\ndirectory relapp\n"
    );
    lab.sh("h1", "echo kept > /srv/relapp/shared/data/db.txt");
    // Converged.
    let run = p.play(&["diff", "--exit-code", "site.yml"]).code(0);
    assert_eq!(run.recap("h1").1, 0, "{}", run.stdout);

    // A build cut short (its marker `releases/.building-ID` left behind): the release does not
    // count, the next apply removes it and builds it again.
    let id = dir.rsplit('/').next().unwrap_or_default().to_string();
    lab.sh(
        "h1",
        &format!("mkdir /srv/relapp/releases/.building-{id} && rm /srv/relapp/current/VERSION"),
    );
    p.play(&["diff", "--exit-code", "site.yml"])
        .code(2)
        .shows(&format!(
            "release {id} was left unfinished by an interrupted run: built again"
        ));
    p.play(&["apply", "site.yml"]).code(0);
    assert_eq!(
        lab.sh(
            "h1",
            "cat /srv/relapp/current/VERSION; ls -A /srv/relapp/releases"
        ),
        format!("prod relapp {dir}\n{id}\n")
    );
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);

    // A changed build step is a new release.
    let before = lab.pid("h1", "relapp");
    let p = project("print('v1')\n", "staging", "true");
    p.play(&["apply", "site.yml"])
        .code(0)
        .shows("~ update release /srv/relapp");
    let second = lab.sh("h1", "readlink /srv/relapp/current");
    assert_ne!(second, first);
    assert!(lab
        .sh("h1", "cat /srv/relapp/current/VERSION")
        .starts_with("staging "));
    assert_eq!(
        lab.sh("h1", "cat /srv/relapp/current/data/db.txt"),
        "kept\n"
    );
    assert_ne!(
        lab.pid("h1", "relapp"),
        before,
        "the program watching the release restarted"
    );
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);

    // A failing build: the half-built release is removed, current is untouched, the host
    // fails with the build's output.
    let before = lab.pid("h1", "relapp");
    let p = project("print('v2')\n", "staging", "echo the-build-output; exit 3");
    // The diff lists the source files that change against the live release; the shared links
    // are not listed as removed (what the build made is: the new release is built afresh).
    p.play(&["diff", "site.yml"])
        .code(0)
        .shows("~ hello.py")
        .shows("- VERSION")
        .hides("- data")
        .hides("- config");
    let run = p.play(&["apply", "site.yml"]).code(1);
    assert!(run.stdout.contains("the-build-output"), "{}", run.stdout);
    assert!(
        run.stdout.contains("build step failed (exit status 3)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("the live release is untouched"),
        "{}",
        run.stdout
    );
    assert_eq!(lab.sh("h1", "readlink /srv/relapp/current"), second);
    assert_eq!(
        lab.sh("h1", "ls -A /srv/relapp/releases | wc -l").trim(),
        "2",
        "no half-built release left: {}",
        lab.sh("h1", "ls -A /srv/relapp/releases")
    );
    assert_eq!(lab.pid("h1", "relapp"), before, "nothing restarted");

    // Rollback goes back to the first release (built before), and restarts the program.
    let p = project("print('v1')\n", "staging", "true");
    p.play(&["rollback", "site.yml"]).code(0);
    assert_eq!(lab.sh("h1", "readlink /srv/relapp/current"), first);
    assert!(lab
        .sh("h1", "cat /srv/relapp/current/VERSION")
        .starts_with("prod "));

    // A shared path that the source has too is refused by the plan.
    let p = Project::new(&lab).file(
        "site.yml",
        "- hosts: lab\n  state:\n    - release: /srv/relapp2\n      from: {sync: app}\n      shared: [data]\n",
    );
    p.write("files/app/data/x", b"x\n");
    p.play(&["diff", "site.yml"])
        .code(1)
        .shows("shared `data` is also in the release source");
}
