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

/// `play check playbooks/site.yml` in `d` fails saying every one of `expected`; what it said.
fn check_says(d: &Path, expected: &[&str]) -> String {
    let run = play_offline(d, &["check", "playbooks/site.yml"]).code(1);
    let out = format!("{}{}", run.stdout, run.stderr);
    contains_all(&out, expected);
    out
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
      loop_control: {loop_var: x}
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
    let out = check_says(
        d,
        &[
            "playbooks/b.yml:3:12: include cycle: playbooks/a.yml → playbooks/b.yml → playbooks/a.yml",
            "playbooks/site.yml:4:16: included file `nope.yml` not found",
            "playbooks/site.yml:6:7: unknown key `loop_control`",
            "`loop_control.loop_var` is `loop_var:` here",
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
    - {role: app, tags: [app], whn: x}
    - [app]
  state:
    - file: /etc/x
      content: x
      tags: \"{{ t }}\"
",
    );
    check_says(
        d,
        &[
            "site.yml:2:10: tags: expected a tag, `a, b` or a list of tags",
            "site.yml:4:32: unknown key `whn`, did you mean `when`?",
            "keys of a role: role, tags, when, vars, name",
            "site.yml:5:7: a role is its name, or a mapping `{role: NAME, tags: [...]}`",
            "site.yml:9:13: tags: `{{ t }}` is a template",
        ],
    );
}

/// A role entry's `when:` applies to each of its resources (with their own), its `vars:` are
/// Ansible's role params (above the role's defaults and the play's vars, below `-e`); a role
/// listed twice with other params gives its resources twice; `name:` is accepted.
#[test]
fn role_entries_take_when_vars_and_name() {
    let dir = with_playbook(
        "- hosts: all
  vars: {port: 80, level: info}
  roles:
    - role: app
      name: the app, on debug hosts
      when: debug
      vars: {port: 7000, site: shop}
    - {role: app, vars: {site: blog}}
",
    );
    let d = dir.path();
    write(d, "roles/app/defaults.yml", "port: 1\nsite: none\n");
    write(
        d,
        "roles/app/state.yml",
        "- file: \"/etc/{{ site }}.conf\"
  content: \"port={{ port }} level={{ level }}\\n\"
- file: \"/etc/{{ site }}.h1\"
  content: h1
  when: inventory_hostname == 'h1'
",
    );
    let run = play_offline(d, &["check", "playbooks/site.yml", "--show"]).code(0);
    let all = shown(&run);
    // h1: debug is false, the first entry's resources are left out, the second's own `when`
    // holds; h2: the first entry's `when` holds, each resource's own `when` too.
    assert_eq!(
        all["h1"],
        [
            "file /etc/blog.conf | port=80 level=info",
            "file /etc/blog.h1 | h1"
        ],
        "{}",
        run.stdout
    );
    assert_eq!(
        all["h2"],
        [
            "file /etc/shop.conf | port=7000 level=info",
            "file /etc/blog.conf | port=80 level=info"
        ],
        "{}",
        run.stdout
    );
    let run = play_offline(
        d,
        &[
            "check",
            "playbooks/site.yml",
            "--show",
            "-e",
            "port=9",
            "-e",
            "debug=true",
        ],
    )
    .code(0);
    assert!(
        shown(&run)["h1"].contains(&"file /etc/shop.conf | port=9 level=info".to_string()),
        "-e is above role params: {}",
        run.stdout
    );

    // Bad role entries: located, with hints, every one said.
    write(
        d,
        "playbooks/site.yml",
        "- hosts: all
  roles:
    - {role: app, loop: [a, b], vars: [x]}
    - role: app
      become: yes
",
    );
    check_says(
        d,
        &[
            "site.yml:3:19: unknown key `loop` (a role is not looped: list it once per item with \
             its `vars:`, or `include:` a file of its state with `loop:`)",
            "site.yml:3:39: role: vars: invalid type: sequence, expected a mapping",
            "site.yml:5:7: unknown key `become` (privilege is the inventory's: `become: true`",
        ],
    );
}

/// `include:` with `loop:` (and `loop_var:`, as a resource takes them): the included entries
/// are taken once per item, the item in its var; the loop may be templated, the include's
/// `when` is evaluated per item, a loop of an included resource sees the include's item.
/// Two items declaring one path are a duplicate; bad loops are located.
#[test]
fn includes_loop_over_items() {
    let dir = with_playbook(
        "- hosts: all
  vars: {apps: [shop, blog]}
  state:
    - include: app.yml
      loop: \"{{ apps }}\"
      loop_var: app
      vars: {port: 80}
      when: app != 'blog' or debug
    - include: one.yml
      loop: [x, y]
",
    );
    let d = dir.path();
    write(
        d,
        "playbooks/app.yml",
        "- directory: \"/srv/{{ app }}\"
- file: \"/srv/{{ app }}/{{ item }}.conf\"
  content: \"{{ app }} {{ item }} {{ port }}\\n\"
  loop: \"{{ [app ~ '-a', app ~ '-b'] }}\"
",
    );
    write(
        d,
        "playbooks/one.yml",
        "- file: \"/etc/{{ item }}\"\n  content: \"{{ item }}\"\n",
    );
    let run = play_offline(d, &["check", "playbooks/site.yml", "--show"]).code(0);
    let all = shown(&run);
    assert_eq!(
        all["h1"],
        [
            "directory /srv/shop",
            "file /srv/shop/shop-a.conf | shop shop-a 80",
            "file /srv/shop/shop-b.conf | shop shop-b 80",
            "file /etc/x | x",
            "file /etc/y | y"
        ],
        "{}",
        run.stdout
    );
    assert_eq!(all["h2"].len(), 3 + 3 + 2, "{}", run.stdout);
    assert!(
        all["h2"].contains(&"file /srv/blog/blog-b.conf | blog blog-b 80".to_string()),
        "{}",
        run.stdout
    );
    // Included resources are located in their file.
    assert!(
        run.stdout.contains("file /etc/y  # playbooks/one.yml:1:3"),
        "{}",
        run.stdout
    );

    // One path declared by two items: a duplicate; a loop that is not a list, at the loop.
    let resolve_bad = "- hosts: all
  state:
    - include: same.yml
      loop: [1, 2]
    - include: one.yml
      loop: 3
";
    write(d, "playbooks/site.yml", resolve_bad);
    write(
        d,
        "playbooks/same.yml",
        "- file: /etc/same\n  content: \"{{ item }}\"\n",
    );
    check_says(
        d,
        &[
            "duplicate resource `/etc/same`",
            "(first declared at playbooks/same.yml:1:3)",
            "site.yml:6:13: loop: expected a list, found number",
        ],
    );
    // Bad `loop_var`s are problems of the loading, at the key.
    let load_bad = "    - include: one.yml
      loop_var: x
    - include: one.yml
      loop: [a]
      loop_var: \"a b\"
";
    write(d, "playbooks/site.yml", &format!("{resolve_bad}{load_bad}"));
    check_says(
        d,
        &[
            "site.yml:8:17: `loop_var` without `loop`",
            "site.yml:11:17: loop_var: expected a variable name, found a b",
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

/// `play ARGS` succeeds with `changed` changes on h1.
fn assert_changes(p: &Project, args: &[&str], changed: usize) {
    let run = p.play(args).code(0);
    assert_eq!(run.recap("h1").1, changed, "{args:?}: {}", run.stdout);
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
    assert_changes(&p, &["apply", "--plan", "plan.json"], 1);
    assert_eq!(cat(&lab, "/etc/tagged/debug"), "debug\n");
}

/// Role entries with `when:` and `vars:` and an `include:` with `loop:`, applied on a lab
/// host; a second apply changes nothing.
#[test]
fn role_params_and_include_loops_on_a_lab() {
    let lab = Lab::start("roles-entry-params", 1);
    let p = Project::new(&lab)
        .host_var(0, "debug", "no")
        .file(
            "site.yml",
            "- hosts: lab
  vars: {port: 80}
  roles:
    - {role: app, vars: {site: shop, port: 8001}}
    - {role: app, vars: {site: blog}, when: debug}
    - {role: app, vars: {site: wiki}, when: not debug}
  state:
    - include: conf.yml
      loop: [a, b]
      loop_var: part
",
        )
        .file("roles/app/defaults.yml", "port: 1\nsite: none\n")
        .file(
            "roles/app/state.yml",
            "- file: \"/etc/rp-{{ site }}.conf\"\n  content: \"port={{ port }}\\n\"\n",
        )
        .file(
            "conf.yml",
            "- file: \"/etc/rp-part-{{ part }}\"\n  content: \"{{ part }}\\n\"\n",
        );
    assert_changes(&p, &["apply", "site.yml"], 4);
    assert_eq!(cat(&lab, "/etc/rp-shop.conf"), "port=8001\n");
    assert_eq!(cat(&lab, "/etc/rp-wiki.conf"), "port=80\n");
    assert_eq!(cat(&lab, "/etc/rp-blog.conf"), "ABSENT\n");
    assert_eq!(cat(&lab, "/etc/rp-part-a"), "a\n");
    assert_eq!(cat(&lab, "/etc/rp-part-b"), "b\n");
    assert_changes(&p, &["apply", "site.yml"], 0);
    // -e is above role params.
    assert_changes(&p, &["apply", "site.yml", "-e", "port=9"], 2);
    assert_eq!(cat(&lab, "/etc/rp-shop.conf"), "port=9\n");
}

/// `hosts: "web:&{{ env }}"` with `-e env=…` selects its hosts for `diff` and `apply` as for
/// `check`; without `env` both refuse, naming the pattern.
#[test]
fn a_templated_hosts_pattern_drives_diff_and_apply_on_a_lab() {
    let lab = Lab::start("roles-templated-hosts", 2);
    let p = Project::new(&lab)
        .group("web", &[0, 1])
        .group("development", &[0])
        .group("production", &[1])
        .file(
            "site.yml",
            "- hosts: \"web:&{{ env }}\"
  state:
    - file: /etc/rp-env
      content: \"{{ env }}\\n\"
",
        );
    p.play(&["diff", "site.yml", "-e", "env=production"])
        .code(0)
        .shows("h2:\n  + create file /etc/rp-env")
        .shows("      +production\n")
        .hides("h1");
    let run = p
        .play(&["apply", "site.yml", "-e", "env=development"])
        .code(0);
    assert_eq!(run.recap("h1").1, 1, "{}", run.stdout);
    assert_eq!(lab.sh("h1", "cat /etc/rp-env"), "development\n");
    assert_eq!(
        lab.sh("h2", "cat /etc/rp-env 2>/dev/null || echo ABSENT"),
        "ABSENT\n"
    );
    for sub in ["diff", "apply"] {
        p.play(&[sub, "site.yml"])
            .code(1)
            .shows("site.yml:1:3: hosts pattern `web:&{{ env }}`: undefined variable `env`");
    }
}
