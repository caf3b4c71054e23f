//! Structure Ansible users need (issue 15 point 4): `include:` of state files (with `when`,
//! `vars`, `tags`), `tags:` on resources, includes, roles and plays selected with `--tags` /
//! `--skip-tags`; every problem of a file said by `play diff` too. Offline `play check` tests
//! (hosts on loopback addresses where nothing listens), then one lab apply.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use support::lab::Lab;
use support::project::{play_offline, write_under as write, Project, Run};

/// Two hosts on a port where nothing listens (a check that connected would fail).
const INVENTORY: &str = "all:
  vars:
    ssh_port: 1
  hosts:
    h1: {ssh_host: 127.0.0.1, debug: no}
    h2: {ssh_host: 127.0.0.1, debug: yes}
";

/// A project: a play with tags, a role given with tags, includes nested in the role and in
/// the play's state, with `when` and `vars`.
fn project(d: &Path) {
    write(d, "inventory/hosts.yml", INVENTORY);
    write(
        d,
        "playbooks/site.yml",
        "- name: web tier
  hosts: all
  tags: site
  vars: {port: 80, level: info}
  roles:
    - common
    - {role: app, tags: [app]}
  state:
    - file: /etc/motd
      content: motd
      tags: [motd]
    - include: extra/play-include.yml
      tags: extra
",
    );
    write(
        d,
        "playbooks/extra/play-include.yml",
        "- file: /etc/extra.conf\n  content: \"level={{ level }}\\n\"\n",
    );
    write(d, "roles/common/state.yml", "- directory: /etc/common\n");
    write(d, "roles/app/defaults.yml", "port: 1\nname_of_app: shop\n");
    write(
        d,
        "roles/app/state.yml",
        "- directory: /etc/app
- include: config.yml
  vars: {port: 8001, level: warn}
  tags: [config]
- program: app
  command: /usr/bin/app
  restart_on: [/etc/app/app.ini]
  tags: [program]
- file: /etc/app/debug.ini
  content: debug
  tags: [never, debug]
- file: /etc/app/always.ini
  content: always
  tags: always
",
    );
    write(
        d,
        "roles/app/config.yml",
        "- file: /etc/app/app.ini
  content: \"port={{ port }} level={{ level }} app={{ name_of_app }}\\n\"
- include: tasks/debug.yml
  when: debug
  vars: {level: debug}
",
    );
    write(
        d,
        "roles/app/tasks/debug.yml",
        "- file: /etc/app/trace.ini\n  content: \"level={{ level }}\\n\"\n  when: inventory_hostname != 'h3'\n- include: partials/more.yml\n",
    );
    // Inside a role, an include's path is relative to the role's folder, wherever the
    // including file is.
    write(
        d,
        "roles/app/partials/more.yml",
        "- file: /etc/app/more.ini\n  content: more\n",
    );
}

/// `play check playbooks/site.yml --show ARGS` of [`project`], which must exit `code`.
fn show(d: &Path, args: &[&str], code: i32) -> Run {
    let mut all = vec!["check", "playbooks/site.yml", "--show"];
    all.extend_from_slice(args);
    play_offline(d, &all).code(code)
}

/// Each host's shown resources: host → ["file /etc/motd", ...] (with their content lines).
fn shown(run: &Run) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut host = String::new();
    for line in run.stdout.lines() {
        if let Some(h) = line.strip_suffix(" (playbooks/site.yml):") {
            host = h.to_string();
            out.entry(host.clone()).or_default();
        } else if let Some(r) = line.strip_prefix("  ") {
            if !host.is_empty() && !r.starts_with(' ') {
                let r = r.split("  #").next().unwrap_or(r).to_string();
                out.entry(host.clone()).or_default().push(r);
            } else if let Some(content) = r.trim_start().strip_prefix("| ") {
                if let Some(last) = out.get_mut(&host).and_then(|v| v.last_mut()) {
                    last.push_str(&format!(" | {content}"));
                }
            }
        }
    }
    out
}

/// A project of [`INVENTORY`] and `playbooks/site.yml`.
fn with_playbook(site: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "inventory/hosts.yml", INVENTORY);
    write(dir.path(), "playbooks/site.yml", site);
    dir
}

/// Asserts `out` contains every one of `expected`.
fn contains_all(out: &str, expected: &[&str]) {
    for e in expected {
        assert!(out.contains(e), "expected {e:?} in:\n{out}");
    }
}

fn keys(list: &[String]) -> Vec<&str> {
    list.iter()
        .map(|r| r.split(" | ").next().unwrap_or(r))
        .collect()
}

#[test]
fn includes_are_read_in_place_with_their_when_and_vars() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    project(d);
    let run = show(d, &[], 0);
    let all = shown(&run);
    let h1 = &all["h1"];
    let h2 = &all["h2"];
    assert_eq!(
        keys(h1),
        [
            "directory /etc/common",
            "directory /etc/app",
            "file /etc/app/app.ini",
            "program app",
            "file /etc/app/always.ini",
            "file /etc/motd",
            "file /etc/extra.conf"
        ],
        "{}",
        run.stdout
    );
    // The include's `when` (debug) holds on h2 only; the nested include's vars win over the
    // outer include's, which win over the play's and the role defaults.
    assert!(
        keys(h2).contains(&"file /etc/app/trace.ini")
            && keys(h2).contains(&"file /etc/app/more.ini"),
        "{}",
        run.stdout
    );
    let find = |list: &[String], key: &str| {
        list.iter()
            .find(|r| r.starts_with(key))
            .cloned()
            .unwrap_or_default()
    };
    assert!(
        find(h2, "file /etc/app/trace.ini").ends_with("| level=debug"),
        "{h2:?}"
    );
    assert!(
        find(h1, "file /etc/app/app.ini").ends_with("| port=8001 level=warn app=shop"),
        "{h1:?}"
    );
    // Outside the include, the play's vars.
    assert!(
        find(h1, "file /etc/extra.conf").ends_with("| level=info"),
        "{h1:?}"
    );
    // Included resources are located in their own file.
    assert!(
        run.stdout
            .contains("file /etc/app/trace.ini  # roles/app/tasks/debug.yml:1:3")
            || run.stdout.contains("tasks/debug.yml:1:3"),
        "{}",
        run.stdout
    );
    // -e is above an include's vars.
    let run = show(d, &["-e", "port=9"], 0);
    assert!(
        find(&shown(&run)["h1"], "file /etc/app/app.ini").ends_with("| port=9 level=warn app=shop"),
        "{}",
        run.stdout
    );
}

#[test]
fn include_problems_are_located_cycles_named_and_paths_owned_once() {
    let dir = with_playbook(
        "- hosts: all
  state:
    - include: a.yml
    - include: nope.yml
    - include: bad.yml
      loop: [1]
    - file: /etc/shared.conf
      content: play
",
    );
    let d = dir.path();
    write(d, "playbooks/a.yml", "- include: b.yml\n");
    write(
        d,
        "playbooks/b.yml",
        "- file: /etc/b\n  content: b\n- include: a.yml\n",
    );
    write(
        d,
        "playbooks/bad.yml",
        "- file: /etc/shared.conf\n  content: included\n- file: /etc/x\n  ownr: root\n",
    );
    let run = play_offline(d, &["check", "playbooks/site.yml"]).code(1);
    let out = format!("{}{}", run.stdout, run.stderr);
    contains_all(
        &out,
        &[
            "playbooks/b.yml:3:12: include cycle: playbooks/a.yml → playbooks/b.yml → playbooks/a.yml",
            "playbooks/site.yml:4:16: included file `nope.yml` not found",
            "playbooks/site.yml:6:7: unknown key `loop`",
            "an include is read once",
            "playbooks/bad.yml:4:3: unknown key `ownr`, did you mean `owner`?",
            "duplicate resource `/etc/shared.conf` in play `all`",
            "(first declared at playbooks/bad.yml:1:3)",
        ],
    );
    // The included /etc/b still checked (a cycle stops only the include that closes it).
    assert!(!out.contains("/etc/b:"), "{out}");
}

#[test]
fn tags_select_resources_inheriting_from_play_role_and_include() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    project(d);
    let h1 = |args: &[&str]| -> Vec<String> {
        let run = show(d, args, 0);
        keys(&shown(&run)["h1"])
            .into_iter()
            .map(str::to_string)
            .collect()
    };
    let (app_ini, always) = ("file /etc/app/app.ini", "file /etc/app/always.ini");
    let (debug, motd) = ("file /etc/app/debug.ini", "file /etc/motd");
    let cases: &[(&[&str], &[&str])] = &[
        // Without --tags: all but `never`.
        (
            &[],
            &[
                "directory /etc/common",
                "directory /etc/app",
                app_ini,
                "program app",
                always,
                motd,
                "file /etc/extra.conf",
            ],
        ),
        // `config` is the include's: its resources (not the role's others), and `always`.
        (&["--tags", "config"], &[app_ini, always]),
        // `app` is the role's, inherited by each of its resources: as in Ansible, `never` is
        // then asked for through the inherited tag.
        (
            &["--tags", "app"],
            &["directory /etc/app", app_ini, "program app", debug, always],
        ),
        (&["--tags", "debug,motd"], &[debug, always, motd]),
        // The include of the play's state gives its tag.
        (&["--tags", "extra"], &[always, "file /etc/extra.conf"]),
        // --skip-tags removes, `always` too when it has the tag.
        (
            &["--skip-tags", "app"],
            &["directory /etc/common", motd, "file /etc/extra.conf"],
        ),
        (
            &[
                "--tags",
                "app",
                "--skip-tags",
                "config,program,always,never",
            ],
            &["directory /etc/app"],
        ),
        (&["--skip-tags", "all"], &[always]),
        // The play's tag is every resource's: none is untagged.
        (&["--tags", "untagged"], &[always]),
    ];
    for (args, expected) in cases {
        assert_eq!(h1(args), *expected, "{args:?}");
    }
    // `site` is the play's: every resource of it (`never` too, through the inherited tag).
    assert_eq!(h1(&["--tags", "site"]).len(), 8);
}

#[test]
fn an_unknown_tag_and_bad_tags_are_check_problems() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    project(d);
    let run = show(d, &["--tags", "confg", "--skip-tags", "zzz"], 1);
    assert!(
        run.stdout.contains(
            "no resource, include, role or play has the tag `confg`, did you mean `config`?"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("the tag `zzz` (tags: "),
        "{}",
        run.stdout
    );
    // diff and apply only warn (as Ansible, nothing is selected), before contacting hosts.
    let run = play_offline(d, &["diff", "playbooks/site.yml", "--tags", "confg"]).code(1);
    assert!(
        run.stderr.contains(
            "warning: no resource, include, role or play has the tag `confg`, did you mean `config`?"
        ),
        "{}",
        run.stderr
    );
    // Special tags are never unknown.
    show(
        d,
        &[
            "--tags",
            "always,never,tagged",
            "--skip-tags",
            "all,untagged",
        ],
        0,
    );

    write(
        d,
        "playbooks/site.yml",
        "- hosts: all
  tags: {a: 1}
  roles:
    - {role: app, tags: [app], when: x}
    - [app]
  state:
    - file: /etc/x
      content: x
      tags: \"{{ t }}\"
",
    );
    let run = play_offline(d, &["check", "playbooks/site.yml"]).code(1);
    let out = format!("{}{}", run.stdout, run.stderr);
    contains_all(
        &out,
        &[
            "site.yml:2:10: tags: expected a tag, `a, b` or a list of tags",
            "site.yml:4:32: unknown key `when`",
            "keys of a role: role, tags",
            "site.yml:5:7: a role is its name, or a mapping `{role: NAME, tags: [...]}`",
            "site.yml:9:13: tags: `{{ t }}` is a template",
        ],
    );
}

/// `play diff` says every problem of a file, as `play check` does (before any host is
/// contacted: the hosts here do not listen).
#[test]
fn diff_and_apply_list_every_problem_of_a_file() {
    let dir = with_playbook(
        "- hosts: all
  become: yes
  state:
    - file: /etc/a
      ownr: root
      notify: x
    - include: missing.yml
",
    );
    let d = dir.path();
    for sub in ["diff", "apply"] {
        let run = play_offline(d, &[sub, "playbooks/site.yml"]).code(1);
        let out = format!("{}{}", run.stdout, run.stderr);
        contains_all(
            &out,
            &[
                "site.yml:2:3: unknown key `become`",
                "site.yml:5:7: unknown key `ownr`",
                "site.yml:6:7: unknown key `notify`",
                "site.yml:7:16: included file `missing.yml` not found",
            ],
        );
    }
}

// ---------------------------------------------------------------------------------------------
// On a lab

/// name → (state, pid) of the supervisor programs of `host`, read with supervisorctl.
fn programs(lab: &Lab, host: &str) -> BTreeMap<String, (String, u32)> {
    let out = lab.exec(
        host,
        "supervisorctl -c /etc/supervisor/supervisord.conf status",
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let pid = match w.get(2) {
                Some(&"pid") => w[3].trim_end_matches(',').parse().unwrap_or(0),
                _ => 0,
            };
            (w[0].to_string(), (w[1].to_string(), pid))
        })
        .collect()
}

fn cat(lab: &Lab, path: &str) -> String {
    lab.sh("h1", &format!("cat {path} 2>/dev/null || echo ABSENT"))
}

#[test]
fn tags_and_includes_on_a_lab_with_restarts_and_a_plan() {
    let lab = Lab::start("tags-apply", 1);
    let p = Project::new(&lab)
        .file(
            "site.yml",
            "- name: tagged site
  hosts: lab
  roles:
    - {role: app, tags: [app]}
  state:
    - file: /etc/tagged-motd
      content: \"motd\\n\"
      tags: motd
",
        )
        .file(
            "roles/app/state.yml",
            "- directory: /etc/tagged
- include: config.yml
  vars: {port: 8001}
  tags: config
- program: tagweb
  command: /bin/sleep 100123
  options: {startsecs: 0}
  restart_on: [/etc/tagged/app.ini]
  tags: [program]
- file: /etc/tagged/debug
  content: \"debug\\n\"
  tags: [never, debug]
",
        )
        .file(
            "roles/app/config.yml",
            "- file: /etc/tagged/app.ini\n  content: \"port = {{ port }}\\n\"\n",
        );
    let pid = || {
        let ps = programs(&lab, "h1");
        let (state, pid) = ps.get("tagweb").cloned().unwrap_or_default();
        assert_eq!(state, "RUNNING", "{ps:?}");
        pid
    };

    // Everything but `never`; the included file with the include's vars.
    p.play(&["apply", "site.yml"]).code(0);
    assert_eq!(cat(&lab, "/etc/tagged/app.ini"), "port = 8001\n");
    assert_eq!(cat(&lab, "/etc/tagged-motd"), "motd\n");
    assert_eq!(cat(&lab, "/etc/tagged/debug"), "ABSENT\n");
    let first = pid();

    // The program selected, its watched file not: the file is not changed (-e would change it),
    // nothing restarts.
    let run = p
        .play(&["apply", "site.yml", "--tags", "program", "-e", "port=9000"])
        .code(0);
    assert_eq!(run.recap("h1").1, 0, "{}", run.stdout);
    assert_eq!(cat(&lab, "/etc/tagged/app.ini"), "port = 8001\n");
    assert_eq!(pid(), first);

    // The watched file selected, the program not: the file changes, the program is not
    // restarted (documented).
    let run = p
        .play(&["apply", "site.yml", "--tags", "config", "-e", "port=9000"])
        .code(0);
    assert_eq!(run.recap("h1").1, 1, "{}", run.stdout);
    assert_eq!(cat(&lab, "/etc/tagged/app.ini"), "port = 9000\n");
    assert_eq!(pid(), first, "a program not selected is not restarted");

    // Both selected: the file changes back and the program restarts.
    p.play(&["apply", "site.yml", "--tags", "config", "--tags", "program"])
        .code(0)
        .shows("restart: /etc/tagged/app.ini changed");
    assert_eq!(cat(&lab, "/etc/tagged/app.ini"), "port = 8001\n");
    assert_ne!(pid(), first, "restarted");

    // A plan records its tag selection and is applied with it.
    p.play(&["diff", "site.yml", "--tags", "debug", "--out", "plan.json"])
        .code(0)
        .shows("  play: tagged site\n  + create file /etc/tagged/debug")
        .hides("tagged-motd");
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.path("plan.json")).expect("plan"))
            .expect("plan json");
    support::check::assert_schema_valid("plan.schema.json", &plan);
    assert_eq!(plan["tags"], serde_json::json!({"tags": ["debug"]}));
    p.play(&["apply", "--plan", "plan.json", "--tags", "motd"])
        .code(1)
        .shows("was made with --tags debug, not --tags motd");
    let run = p.play(&["apply", "--plan", "plan.json"]).code(0);
    assert_eq!(run.recap("h1").1, 1, "{}", run.stdout);
    assert_eq!(cat(&lab, "/etc/tagged/debug"), "debug\n");
}
