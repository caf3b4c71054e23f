//! `play check`: every problem in one run, offline; recorded facts from `play facts --save`.

mod support;

use std::path::Path;

use support::lab::Lab;
// `play_in(dir, args)`: `play ARGS` in `dir` with no lab (`play check` contacts no host).
use support::project::{play_offline as play_in, Project};

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

/// Hosts on addresses where nothing listens: a check that tried to connect would fail.
const INVENTORY: &str = "all:
  vars:
    ssh_port: 1
  hosts:
    web1: {ssh_host: 127.0.0.1, app_port: 8001}
    web2: {ssh_host: 127.0.0.1}
    web3: {ssh_host: 127.0.0.1, app_port: 8003}
  children:
    web:
      hosts: {web1: , web2: , web3: }
";

#[test]
fn check_finds_every_problem_in_one_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "inventory/hosts.yml", INVENTORY);
    write(
        d,
        "playbooks/site.yml",
        "- hosts: web
  roles: [common, broken]
  state:
    - file: /etc/app/a.conf
      content: x
      ownr: root
    - file: /etc/app/app.ini
      template: app.ini.j2
    - file: /etc/app/logo.png
      src: logo.png
    - program: web
      command: /usr/bin/app --port 8000
      restart_on: [/etc/app/nope.ini]
    - directory: /srv/ok
",
    );
    write(
        d,
        "playbooks/templates/app.ini.j2",
        "[app]\nname = web\nport = {{ app_port }}\n",
    );
    write(d, "roles/common/state.yml", "- directory: /etc/app\n");
    write(
        d,
        "roles/broken/state.yml",
        "- file: /etc/x\n  content: [\n",
    );
    let run = play_in(d, &["check"]).code(1);
    let out = &run.stdout;
    let expected = [
        // the YAML error, in a role's file
        "roles/broken/state.yml:3:1: ",
        // the unknown key, with a suggestion
        "playbooks/site.yml:6:7: unknown key `ownr`, did you mean `owner`?",
        // the undefined var, in one host's template only
        "playbooks/templates/app.ini.j2:3:11: undefined variable `app_port` (template of file /etc/app/app.ini, declared at playbooks/site.yml:7:7) [host: web2]",
        // the missing src file, for every host
        "playbooks/site.yml:10:12: file `logo.png` not found (looked in playbooks/files) [3 hosts: web1, web2, web3]",
        // the dangling restart_on, at the reference itself
        "playbooks/site.yml:13:20: restart_on: no resource of play `web` has the key `/etc/app/nope.ini`",
    ];
    for e in expected {
        assert!(out.contains(e), "expected {e:?} in:\n{out}");
    }
    assert!(
        out.contains("5 problem(s); checked 1 playbook(s), 3 host(s)"),
        "{out}"
    );
    assert_eq!(
        out.lines().count(),
        6,
        "five problems and the summary:\n{out}"
    );

    // Fixed one by one, the count goes down to a clean exit 0.
    write(
        d,
        "roles/broken/state.yml",
        "- file: /etc/x\n  content: \"[\"\n",
    );
    play_in(d, &["check"]).code(1).shows("4 problem(s)");
    write(d, "inventory/group_vars/web.yml", "app_port: 8000\n");
    write(d, "playbooks/files/logo.png", "PNG");
    play_in(d, &["check"]).code(1).shows("2 problem(s)");
    write(
        d,
        "playbooks/site.yml",
        "- hosts: web
  roles: [common, broken]
  state:
    - file: /etc/app/a.conf
      content: x
      owner: root
    - file: /etc/app/app.ini
      template: app.ini.j2
    - file: /etc/app/logo.png
      src: logo.png
    - program: web
      command: /usr/bin/app --port 8000
      restart_on: [/etc/app/app.ini]
",
    );
    let run = play_in(d, &["check", "playbooks/site.yml"]).code(0);
    assert!(
        run.stdout
            .contains("0 problem(s); checked 1 playbook(s), 3 host(s), 18 resource(s)"),
        "{}",
        run.stdout
    );
    // Problems of the inventory and of -e are found too, beside the playbooks'.
    write(d, "inventory/host_vars/web1.yml", "a: [\n");
    play_in(d, &["check", "-e", "novalue"])
        .code(1)
        .shows("inventory/host_vars/web1.yml:2:1: ")
        .shows("extra vars `novalue`")
        .shows("2 problem(s)");
    // No playbook to check is an error, not a clean result.
    let empty = tempfile::tempdir().expect("tempdir");
    play_in(empty.path(), &["check"])
        .code(1)
        .shows("no playbook given and none found in playbooks");
}

#[test]
fn check_renders_fifty_hosts_by_two_hundred_resources() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let mut inv = String::from("all:\n  children:\n    app:\n      hosts:\n");
    for i in 1..=50 {
        inv += &format!("        app{i:02}: {{ssh_host: 127.0.0.1, shard: {i}}}\n");
    }
    write(d, "inventory/hosts.yml", &inv);
    let mut state = String::new();
    for i in 0..50 {
        state += &format!(
            "    - file: /etc/app/conf{i}.ini\n      template: app.ini.j2\n      mode: \"0640\"\n"
        );
        state += &format!("    - directory: /srv/app/dir{i}\n      owner: \"{{{{ user }}}}\"\n");
        state += &format!(
            "    - link: /srv/app/link{i}\n      target: \"/srv/app/releases/{{{{ shard }}}}/{i}\"\n"
        );
    }
    state += "    - file: \"/etc/app/items/{{ item }}.conf\"\n      content: \"{{ item }} on {{ inventory_hostname }}\\n\"\n      loop: \"{{ range(50) }}\"\n";
    write(
        d,
        "playbooks/site.yml",
        &format!("- hosts: app\n  vars:\n    user: deploy\n  state:\n    - directory: /etc/app\n    - directory: /etc/app/items\n    - directory: /srv/app\n{state}"),
    );
    write(
        d,
        "playbooks/templates/app.ini.j2",
        "[app]\nhost = {{ inventory_hostname }}\nshard = {{ shard }}\ncpus = {{ facts.cpus }}\n{% for i in range(10) %}line{{ i }} = {{ user }}\n{% endfor %}",
    );
    let start = std::time::Instant::now();
    let run = play_in(d, &["check"]).code(0);
    // 3 folders + 150 + 50 loop items = 203 resources per host.
    assert!(
        run.stdout
            .contains("0 problem(s); checked 1 playbook(s), 50 host(s), 10150 resource(s)"),
        "{}",
        run.stdout
    );
    // A sanity figure for people reading the log, not an assertion (machines differ).
    eprintln!(
        "play check: 50 hosts x 203 resources in {:.2}s (debug build, wall clock with process start)",
        start.elapsed().as_secs_f64()
    );
}

#[test]
fn check_with_recorded_facts() {
    let lab = Lab::start("check-facts", 2);
    let p = Project::new(&lab)
        .var("per_host", "{h1: first, h2: second}")
        .file(
            "playbooks/site.yml",
            "- hosts: lab\n  state:\n    - file: /etc/role\n      content: \"{{ per_host[facts.hostname] }} ({{ facts.cpus }} cpus)\\n\"\n",
        );
    // Placeholder facts: hostname `stub-hostname` is not a key of per_host.
    p.play(&["check"])
        .code(1)
        .shows("undefined value")
        .shows("[2 hosts: h1, h2]");
    // Recorded facts: `play facts --save`, then `check --facts-from`.
    let run = p
        .play(&["facts", "lab", "--save", "facts.json"])
        .code(0)
        .shows("facts of 2 host(s) saved to facts.json");
    let printed: serde_json::Value = serde_json::from_str(&run.stdout).expect("facts as JSON");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.path("facts.json")).expect("read"))
            .expect("JSON");
    assert_eq!(printed, saved);
    assert_eq!(saved["version"], 1);
    for h in ["h1", "h2"] {
        assert_eq!(saved["hosts"][h]["hostname"], h, "{saved:#}");
        assert!(saved["hosts"][h]["cpus"].as_u64().is_some_and(|c| c >= 1));
    }
    p.play(&["check", "--facts-from", "facts.json"])
        .code(0)
        .shows("0 problem(s)")
        .shows("2 with recorded facts, 0 with placeholders");
    // A host missing from the file gets the placeholders again.
    let mut one = saved.clone();
    one["hosts"].as_object_mut().expect("hosts").remove("h2");
    std::fs::write(p.path("h1-only.json"), one.to_string()).expect("write");
    p.play(&["check", "--facts-from", "h1-only.json"])
        .code(1)
        .shows("[host: h2]");
    // An unreachable host: facts of the others are still saved; exit 1.
    let out = lab.exec("h2", "pkill -x sshd; true");
    assert!(out.status.success());
    p.play(&["facts", "all", "--save", "partial.json"])
        .code(1)
        .shows("h2 | UNREACHABLE");
    let partial: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.path("partial.json")).expect("read"))
            .expect("JSON");
    assert_eq!(
        partial["hosts"].as_object().expect("hosts").len(),
        1,
        "{partial:#}"
    );
}

#[test]
fn check_finds_paths_with_two_owners() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "inventory/hosts.yml", INVENTORY);
    write(d, "playbooks/files/site/index.html", "hi\n");
    write(
        d,
        "playbooks/site.yml",
        "- hosts: web
  state:
    - file: /tmp/x
      content: a
    - sync: /srv/www
      src: site
      delete: true
    - file: /srv/www/extra.txt
      content: b
    - release: /srv/app
      from: {sync: site}
    - directory: /srv/app/current/uploads
- hosts: web
  state:
    - file: /tmp//x/
      content: b
",
    );
    let run = play_in(d, &["check"]).code(1);
    let out = &run.stdout;
    for e in [
        // the same path spelled otherwise, in another play
        "playbooks/site.yml:15:7: duplicate resource `/tmp/x`",
        "(first declared at playbooks/site.yml:3:7) [3 hosts: web1, web2, web3]",
        // a file inside a sync that deletes
        "playbooks/site.yml:8:7: file /srv/www/extra.txt lies inside a tree another resource owns: sync /srv/www with delete: true",
        "(declared at playbooks/site.yml:5:7)",
        // a folder inside a release's current/
        "playbooks/site.yml:12:7: directory /srv/app/current/uploads lies inside a tree another resource owns: release /srv/app replaces /srv/app/current on every switch",
    ] {
        assert!(out.contains(e), "expected {e:?} in:\n{out}");
    }
}
