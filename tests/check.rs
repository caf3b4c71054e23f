//! `play check`: every problem in one run, offline; recorded facts from `play facts --save`.

mod support;

use std::path::Path;

use support::lab::Lab;
// `play_in(dir, args)`: `play ARGS` in `dir` with no lab (`play check` contacts no host).
use support::project::{play_offline as play_in, Project, Run};

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
        // the undefined var, in one host's template only, saying which hosts set it
        "playbooks/templates/app.ini.j2:3:11: undefined variable `app_port` (template of file /etc/app/app.ini, declared at playbooks/site.yml:7:7) (`app_port` is set only in inventory/ (for hosts `web1`, `web3` only)) [host: web2]",
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
        // The lab hosts see this machine's files: a container marker or SELinux shows there.
        let virt = saved["hosts"][h]["virtualization"].as_str().unwrap_or("");
        if std::path::Path::new("/.dockerenv").exists() {
            assert_eq!(virt, "docker", "{saved:#}");
        } else {
            assert!(!virt.is_empty(), "{saved:#}");
        }
        // The lab hosts share this machine's network: its default route, as iproute2 says.
        let route = std::process::Command::new("ip")
            .args(["-4", "route", "show", "default"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let words: Vec<&str> = route.split_whitespace().collect();
        if let ["default", "via", gw, "dev", dev, ..] = words.as_slice() {
            let v4 = &saved["hosts"][h]["default_ipv4"];
            assert_eq!(v4["gateway"], *gw, "{saved:#}");
            assert_eq!(v4["interface"], *dev, "{saved:#}");
            assert!(
                v4["address"].as_str().is_some_and(|a| !a.is_empty()),
                "{saved:#}"
            );
        }
        let selinux = saved["hosts"][h]["selinux"].as_str().unwrap_or("");
        if std::path::Path::new("/sys/fs/selinux/enforce").exists() {
            assert!(["enforcing", "permissive"].contains(&selinux), "{saved:#}");
        } else {
            assert_eq!(selinux, "disabled", "{saved:#}");
        }
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

/// Two roles declaring the same things (beehve's `django` and `celery` roles both write the
/// app user's `.bash_profile` from their own, identical, templates): one resource each, no
/// problem; once one template differs, a duplicate naming both places.
#[test]
fn check_takes_the_same_declaration_twice_as_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "inventory/hosts.yml", INVENTORY);
    for role in ["web", "worker"] {
        write(
            d,
            &format!("roles/{role}/state.yml"),
            "- package: [python3, git]\n- user: app\n- file: /home/app/.bash_profile\n  template: profile.j2\n  owner: app\n",
        );
        write(
            d,
            &format!("roles/{role}/templates/profile.j2"),
            "export APP={{ inventory_hostname }}\n",
        );
    }
    write(
        d,
        "playbooks/site.yml",
        "- hosts: web\n  roles: [web, worker]\n",
    );
    play_in(d, &["check"]).code(0).shows("0 problem(s)");
    write(
        d,
        "roles/worker/templates/profile.j2",
        "export APP={{ inventory_hostname }}-worker\n",
    );
    play_in(d, &["check"])
        .code(1)
        .shows("roles/worker/state.yml:3:3: duplicate resource `/home/app/.bash_profile`")
        .shows("(first declared at roles/web/state.yml:3:3)");
}

/// A var whose value is broken (an unknown filter) used by three resources is one problem,
/// said where the var is written, with its uses; a broken var used once stays at its use.
#[test]
fn check_says_a_broken_var_once_where_it_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "inventory/hosts.yml", INVENTORY);
    write(
        d,
        "inventory/group_vars/web.yml",
        "app: demo\nsites: \"{{ app | select_sites('x') }}\"\nonce: \"{{ app | underscore }}\"\n",
    );
    write(
        d,
        "playbooks/site.yml",
        "- hosts: web
  state:
    - file: /etc/a.conf
      content: \"{{ sites }}\"
    - file: /etc/b.conf
      content: \"{{ sites }}\"
    - directory: /srv/x
      when: sites | length > 0
    - file: /etc/c.conf
      content: \"{{ once }}\"
",
    );
    let run = play_in(d, &["check", "--color", "never"]).code(1);
    let run = run
        .shows("inventory/group_vars/web.yml:2:8: in var `sites`: filter select_sites is unknown")
        .shows("(the same at its 3 uses: playbooks/site.yml:4:16, playbooks/site.yml:6:16, playbooks/site.yml:8:13) [3 hosts: web1, web2, web3]")
        .shows("playbooks/site.yml:10:16: content: in var `once`: filter underscore is unknown")
        .shows("2 problem(s)");
    let all = format!("{}{}", run.stdout, run.stderr);
    assert_eq!(all.matches("select_sites").count(), 1, "{all}");
}

/// A template named with its folders from the project's folder (`roles/web/templates/x.j2`,
/// as an imported project's vars keep Ansible's playbook-relative paths) is found; a missing
/// one names that folder too.
#[test]
fn check_finds_templates_named_from_the_project_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "inventory/hosts.yml", INVENTORY);
    write(
        d,
        "roles/web/templates/env.j2",
        "APP={{ inventory_hostname }}\n",
    );
    write(
        d,
        "roles/web/state.yml",
        "- file: \"/etc/{{ item.dest }}\"\n  template: \"{{ item.src }}\"\n  loop: \"{{ project_templates }}\"\n",
    );
    write(
        d,
        "roles/web/defaults.yml",
        "project_templates:\n  - {src: roles/web/templates/env.j2, dest: app.env}\n",
    );
    write(d, "playbooks/site.yml", "- hosts: web\n  roles: [web]\n");
    play_in(d, &["check"]).code(0).shows("0 problem(s)");
    write(
        d,
        "roles/web/defaults.yml",
        "project_templates:\n  - {src: other/templates/gone.j2, dest: app.env}\n",
    );
    play_in(d, &["check"]).code(1).shows(
        "template `other/templates/gone.j2` not found (looked in roles/web/templates, \
         playbooks/templates, other/templates)",
    );
}

/// `line:`, `block:` and `cron:`: bad input is found offline, each problem at its key; several
/// edits of one file are fine, a `file:` of that path is a second owner.
#[test]
fn check_finds_bad_edits_and_cron_jobs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "inventory/hosts.yml", INVENTORY);
    write(
        d,
        "playbooks/site.yml",
        "- hosts: web1
  state:
    - line: etc/ssh/sshd_config
      text: PasswordAuthentication no
    - line: /etc/ssh/sshd_config
      regexp: '^(PermitRootLogin'
      text: PermitRootLogin no
    - line: /etc/ssh/sshd_config
      text: PermitRootLogin no
      validate: /usr/sbin/sshd -t
    - block: /etc/hosts
      text: \"10.0.0.5 db\\n\"
      marker: '# play db'
    - cron: cleanup.daily
      schedule: '@daily'
      command: /bin/true
    - cron: rotate
      schedule: '0 3 * *'
      command: /bin/true
    - cron: purge
      schedule: '61 3 * * *'
      command: /bin/true
- hosts: web2
  state:
    - line: /etc/ssh/sshd_config
      regexp: '^#?PasswordAuthentication\\s'
      text: PasswordAuthentication no
      validate: /usr/sbin/sshd -t -f %s
    - block: /etc/ssh/sshd_config
      text: \"Match User backup\\n  ForceCommand /bin/false\\n\"
    - cron: cleanup
      schedule: '0 3 * * mon-fri'
      user: www-data
      command: /usr/bin/find /tmp -mtime +7 -delete
      environment: {PATH: /usr/bin:/bin}
    - restart_on_target_is_cron: ignored
",
    );
    // The last entry is an unknown key, a problem of its own.
    let run = play_in(d, &["check"]).code(1);
    let out = &run.stdout;
    for e in [
        "playbooks/site.yml:3:13: path `etc/ssh/sshd_config` must be absolute",
        "playbooks/site.yml:6:15: regexp `^(PermitRootLogin` does not compile: unclosed group [host: web1]",
        "playbooks/site.yml:10:17: validate `/usr/sbin/sshd -t` has no `%s`",
        "playbooks/site.yml:13:15: marker `# play db` has no `{mark}`",
        "playbooks/site.yml:14:13: cron name `cleanup.daily` has a dot",
        "playbooks/site.yml:18:17: schedule `0 3 * *`: five fields",
        "playbooks/site.yml:21:17: schedule `61 3 * * *`: bad minute `61`",
        "unknown key `restart_on_target_is_cron`",
    ] {
        assert!(out.contains(e), "expected {e:?} in:\n{out}");
    }
    // The entry without a kind: its unknown key, and the kind it lacks.
    assert!(out.contains("9 problem(s)"), "{out}");
    assert_eq!(out.lines().count(), 10, "one line per problem:\n{out}");
    // web2's entries are all fine: fixing web1's play leaves no problem.
    let site = std::fs::read_to_string(d.join("playbooks/site.yml")).expect("read");
    let web2 = &site[site.find("- hosts: web2").expect("web2")..];
    let web2 = web2.replace("    - restart_on_target_is_cron: ignored\n", "");
    write(d, "playbooks/site.yml", &web2);
    play_in(d, &["check"]).code(0).shows("0 problem(s)");
    // A `file:` of an edited path is a second owner.
    write(
        d,
        "playbooks/site.yml",
        &format!("{web2}    - file: /etc/ssh/sshd_config\n      content: x\n"),
    );
    play_in(d, &["check"])
        .code(1)
        .shows("duplicate resource `/etc/ssh/sshd_config`");
}

/// `play check site.yml` of a project of one host whose playbook is `site` (the fetch kinds'
/// bad input).
fn check_one_host(site: &str) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(
        d,
        "inventory/hosts.yml",
        "all:\n  vars: {ssh_port: 1}\n  hosts:\n    h1: {ssh_host: 127.0.0.1}\n",
    );
    write(d, "site.yml", site);
    play_in(d, &["check", "site.yml"])
}

/// `npm:` and `composer:`: a relative folder (read as a package name), a version range, a
/// flag that is no boolean, each located; `node_modules` is the npm project's, while its folder
/// may be another resource's (a checkout's).
#[test]
fn check_locates_bad_npm_and_composer() {
    check_one_host("- hosts: all\n  state:\n    - npm: srv/app\n    - npm: [\"pm2@^5\"]\n    - composer: /srv/site\n      no_dev: maybe\n    - directory: /srv/app\n    - npm: /srv/app\n    - composer: /srv/app\n    - directory: /srv/app/node_modules\n")
        .code(1)
        .shows("site.yml:3")
        .shows("`srv/app`: a folder (an absolute path), or a package NAME or NAME@VERSION")
        .shows("site.yml:4")
        .shows("`pm2@^5`")
        .shows("site.yml:6")
        .shows("no_dev must be true or false")
        .shows("site.yml:10")
        .shows("/srv/app/node_modules")
        .shows("4 problem(s)");
    // a program may restart on a project's install and on a global package
    check_one_host("- hosts: all\n  state:\n    - git: /srv/app\n      repo: https://example.org/app.git\n    - npm: /srv/app\n    - composer: /srv/app\n    - npm: [pm2]\n    - program: web\n      command: /usr/bin/node /srv/app/server.js\n      restart_on: [/srv/app, pm2]\n")
        .code(0)
        .shows("0 problem(s)");
}

/// `download:` (fetch kinds): a relative path, a bad sha256, a url play cannot fetch, an
/// unknown `from`, each located.
#[test]
fn check_locates_bad_downloads() {
    let good = "ab".repeat(32);
    check_one_host(&format!(
            "- hosts: all\n  state:\n    - download: relative/tool\n      url: http://x/t\n      sha256: {good}\n    - download: /opt/a\n      url: http://x/a\n      sha256: abc123\n    - download: /opt/b\n      url: ftp://x/b\n      sha256: {good}\n    - download: /opt/c\n      url: http://x/c\n      sha256: {good}\n      from: elsewhere\n"
        ))
        .code(1)
        .shows("site.yml:3")
        .shows("must be absolute")
        .shows("site.yml:8")
        .shows("sha256 `abc123`: 64 hexadecimal digits")
        .shows("site.yml:10")
        .shows("only http://, https:// and file:// URLs")
        .shows("site.yml:15")
        .shows("not `elsewhere`");
}

/// `download:`'s `sha256` rendered from a template (Ansible's `ternary(omit, 'sha256: ' +
/// x)`): to nothing it is no checksum, with the `sha256:` prefix it is the hex, to anything
/// else it is an error located at the key; `unarchive:`: a relative folder, no `src`, a
/// format play cannot tell, a relative `creates`, `state: absent`, each located.
#[test]
fn check_locates_bad_templated_sums_and_unarchives() {
    let good = "ab".repeat(32);
    check_one_host(&format!(
            "- hosts: all\n  vars:\n    on: false\n    sum: \"{good}\"\n  state:\n    - download: /opt/a\n      url: http://x/a\n      sha256: \"{{{{ on | ternary('sha256: ' + sum, omit) }}}}\"\n    - download: /opt/b\n      url: http://x/b\n      sha256: \"{{{{ 'sha256: ' ~ sum }}}}\"\n    - download: /opt/c\n      url: http://x/c\n      sha256: \"{{{{ 'sha256: 0' if not on else sum }}}}\"\n    - unarchive: srv/app\n      src: /srv/app.tgz\n    - unarchive: /srv/b\n      owner: root\n    - unarchive: /srv/c\n      src: /srv/c.rar\n    - unarchive: /srv/d\n      src: /srv/d.zip\n      creates: d/bundle\n    - unarchive: /srv/e\n      src: /srv/e.tar\n      state: absent\n"
        ))
        .code(1)
        .shows("site.yml:14")
        .shows("sha256 `0`: 64 hexadecimal digits")
        .hides("site.yml:8")
        .hides("site.yml:11")
        .shows("site.yml:15")
        .shows("must be absolute")
        .shows("site.yml:17")
        .shows("an unarchive needs `src:`")
        .shows("site.yml:20")
        .shows("src `/srv/c.rar`: the archive's name must end in .tar")
        .shows("site.yml:23")
        .shows("creates: path `d/bundle` must be absolute")
        .shows("site.yml:26")
        .shows("an unarchive has no `state: absent`");
}

/// `apt_source:` (fetch kinds): a name apt would ignore, a URI it cannot fetch, components on
/// a flat repository, a missing key file, each located.
#[test]
fn check_locates_bad_apt_sources() {
    check_one_host("- hosts: all\n  state:\n    - apt_source: bad name\n      uris: http://x\n      suites: [a]\n      components: [main]\n    - apt_source: b\n      uris: [ftp://x]\n      suites: [a]\n      components: [main]\n    - apt_source: c\n      uris: file:/srv/repo\n      suites: [./]\n      components: [main]\n    - apt_source: d\n      uris: file:/srv/repo\n      suites: [./]\n      key: nope.asc\n")
        .code(1)
        .shows("site.yml:3")
        .shows("apt_source name `bad name`")
        .shows("site.yml:8")
        .shows("`ftp://x` is not an http://, https:// or file: URI")
        .shows("site.yml:14")
        .shows("a flat repository (a suite ending in `/`) has none")
        .shows("site.yml:18")
        .shows("nope.asc");
}

/// `apt_source:` keys from a URL: a URL play cannot fetch, a bad `key_sha256`, `key` and
/// `key_url` together, `key_sha256` without `key_url`, each located.
#[test]
fn check_locates_bad_apt_source_keys() {
    let good = "ab".repeat(32);
    check_one_host(&format!("- hosts: all\n  state:\n    - apt_source: a\n      uris: http://x\n      suites: [s]\n      components: [main]\n      key_url: ftp://x/k.asc\n    - apt_source: b\n      uris: http://x\n      suites: [s]\n      components: [main]\n      key_url: http://x/k.asc\n      key_sha256: abc\n    - apt_source: c\n      uris: http://x\n      suites: [s]\n      components: [main]\n      key: k.asc\n      key_url: http://x/k.asc\n    - apt_source: d\n      uris: http://x\n      suites: [s]\n      components: [main]\n      key_sha256: {good}\n"))
        .code(1)
        .shows("site.yml:7")
        .shows("url `ftp://x/k.asc`: only http://, https:// and file:// URLs")
        .shows("site.yml:13")
        .shows("sha256 `abc`: 64 hexadecimal digits")
        .shows("site.yml:14")
        .shows("one of `key` (a file of files/) and `key_url`, not both")
        .shows("site.yml:20")
        .shows("`key_sha256` checks the key fetched from `key_url`");
}

/// `file:` with `copy_of`: a relative source, a folder, the file itself, and `copy_of` with
/// `content`, each located.
#[test]
fn check_locates_bad_copies() {
    check_one_host("- hosts: all\n  state:\n    - file: /etc/a\n      copy_of: srv/a\n    - file: /etc/b\n      copy_of: /srv/b/\n    - file: /etc/c\n      copy_of: /etc/c\n    - file: /etc/d\n      copy_of: /srv/d\n      content: x\n")
        .code(1)
        .shows("site.yml:4")
        .shows("copy_of: path `srv/a` must be absolute")
        .shows("site.yml:6")
        .shows("`/srv/b/` names a folder; copy_of copies one file")
        .shows("site.yml:8")
        .shows("copy_of: /etc/c is the file itself")
        .shows("site.yml:9")
        .shows("a file takes one of `content`, `src`, `template`, `copy_of`, not several");
}

/// `venv:` (fetch kinds): a relative path, a specifier play cannot compare, a relative
/// requirements file, each located.
#[test]
fn check_locates_bad_venvs() {
    check_one_host("- hosts: all\n  state:\n    - venv: srv/venv\n    - venv: /srv/a\n      packages: [\"flask>=3\"]\n    - venv: /srv/b\n      requirements: req.txt\n")
        .code(1)
        .shows("site.yml:3")
        .shows("must be absolute")
        .shows("site.yml:5")
        .shows("`flask>=3`: NAME or NAME==VERSION")
        .shows("site.yml:7")
        .shows("requirements: path `req.txt` must be absolute");
}

/// `apt_upgrade:`: a mode that is neither `safe` nor `full` (Ansible's `dist` named with the
/// word to write), a `cache_valid_time` that is no whole number of seconds, one with
/// `update_cache: false`, a non-boolean `update_cache` and a `state`, each located at its key,
/// all in one run; the good forms check clean.
#[test]
fn check_locates_bad_apt_upgrades() {
    check_one_host("- hosts: all\n  state:\n    - apt_upgrade: dist\n    - apt_upgrade: safe\n      cache_valid_time: 1h\n    - apt_upgrade: full\n      update_cache: false\n      cache_valid_time: 60\n- hosts: all\n  state:\n    - apt_upgrade: everything\n    - apt_upgrade: safe\n      update_cache: maybe\n    - apt_upgrade: full\n      state: absent\n      cache_valid_time: -5\n")
        .code(1)
        .shows("site.yml:3:20: apt_upgrade `dist`: write `full`")
        .shows("site.yml:5:25: cache_valid_time must be a whole number")
        .shows("site.yml:8:25: cache_valid_time says when to refresh the apt lists: it needs `update_cache: true`")
        .shows("site.yml:11:20: apt_upgrade `everything`: `safe` (apt-get upgrade --with-new-pkgs) or `full` (apt-get dist-upgrade)")
        .shows("site.yml:13:21: update_cache must be true or false")
        .shows("site.yml:15:14: an apt_upgrade has no `state`")
        .shows("6 problem(s)");
    check_one_host("- hosts: all\n  state:\n    - apt_upgrade: safe\n      cache_valid_time: 3600\n    - apt_upgrade: full\n      update_cache: true\n")
        .code(0)
        .shows("0 problem(s)");
}

/// `pip:`: a range, Ansible's `state: latest`, `--user` in `pip_args`, a pinned removal and a
/// non-boolean `break_system_packages`, each located at its key, all in one run.
#[test]
fn check_locates_bad_pip_entries() {
    check_one_host("- hosts: all\n  state:\n    - pip: [flask, \"uv>=0.9\"]\n    - pip: awscli\n      state: latest\n    - pip: httpie\n      pip_args: [--user]\n    - pip: \"uv==0.9.9\"\n      state: absent\n    - pip: black\n      break_system_packages: maybe\n")
        .code(1)
        .shows("site.yml:3:12: pip: `uv>=0.9`: NAME or NAME==VERSION")
        .shows("site.yml:5:14: `latest` is not a state play can verify")
        .shows("site.yml:7:17: pip_args: `--user`: a user install is `user: NAME`")
        .shows("site.yml:8:12: pip `uv==0.9.9`: a pinned version needs `state: present`")
        .shows("site.yml:11:30: break_system_packages must be true or false");
}

/// Gathered values offline: stand-ins let every use render (no "undefined"), `--show` lists
/// each gather as a stand-in with its rendered command; bad gathers are located (an unknown
/// key, a gather naming a fact or another gathered value, a name gathered twice with two
/// commands), in the play and in a role's `gather.yml`.
#[test]
fn check_uses_stand_ins_for_gathered_values_and_locates_bad_gathers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "inventory/hosts.yml", INVENTORY);
    write(
        d,
        "playbooks/site.yml",
        "- hosts: web
  vars: {app_dir: /srv/app}
  roles: [ruby]
  gather:
    head:
      command: git rev-parse HEAD
      chdir: \"{{ app_dir }}\"
    tools:
      command: \"command -v {{ item }}\"
      loop: [node, npm]
  state:
    - file: /etc/app/head
      content: \"{{ head.stdout }} {{ ruby_version.stdout }}\\n\"
      when: head.rc == 0
    - command: \"echo {{ item.item }}\"
      loop: \"{{ tools.results }}\"
",
    );
    write(
        d,
        "roles/ruby/gather.yml",
        "ruby_version: cat /srv/app/.ruby-version\n",
    );
    write(d, "roles/ruby/state.yml", "[]\n");
    let ok = play_in(d, &["check", "--show", "--color", "never"]).code(0);
    assert!(ok.stdout.contains("0 problem(s)"), "{}", ok.stdout);
    assert!(
        ok.stdout.contains(
            "  gather head  # playbooks/site.yml:5:5 (a stand-in offline: stdout: \"\", rc: 0; the host's value on diff and apply)\n    git rev-parse HEAD  (chdir /srv/app)\n"
        ),
        "{}",
        ok.stdout
    );
    assert!(
        ok.stdout
            .contains("  gather tools  # playbooks/site.yml:8:5 (a stand-in offline: results: []"),
        "{}",
        ok.stdout
    );
    assert!(
        ok.stdout.contains("    [\"npm\"] command -v npm\n"),
        "{}",
        ok.stdout
    );
    assert!(
        ok.stdout
            .contains("gather ruby_version  # playbooks/../roles/ruby/gather.yml:1:1")
            || ok
                .stdout
                .contains("gather ruby_version  # roles/ruby/gather.yml:1:1"),
        "{}",
        ok.stdout
    );
    // the file rendered with the stand-ins
    assert!(ok.stdout.contains("file /etc/app/head"), "{}", ok.stdout);

    write(
        d,
        "playbooks/site.yml",
        "- hosts: web
  roles: [ruby]
  gather:
    head:
      command: git rev-parse HEAD
      become_user: app
    os: \"cat /etc/{{ facts.os_id }}\"
    again: \"cat {{ ok.stdout }}\"
    ok: id -u
    ruby_version: cat /other
  state: []
",
    );
    write(
        d,
        "roles/ruby/gather.yml",
        "ruby_version: cat /srv/app/.ruby-version\nbad:\n  command: x\n  shell: y\n",
    );
    let bad = play_in(d, &["check", "--color", "never"]).code(1);
    for want in [
        "playbooks/site.yml:6:7: unknown key `become_user`",
        "a gather runs as another user with `user: NAME`",
        "playbooks/site.yml:7:5: gather `os`: command: `facts` is not known yet",
        "playbooks/site.yml:8:5: gather `again`: command: `ok` is not known yet",
        "playbooks/site.yml:10:5: gather `ruby_version` is declared again with another command for this host (first at ",
        "gather.yml:4:3: unknown key `shell`",
    ] {
        assert!(bad.stdout.contains(want), "no {want:?} in\n{}", bad.stdout);
    }
}

/// `find:` and `stat:` gathers offline: stand-ins of Ansible's shapes (`files: []`,
/// `matched: 0`, `stat.exists: false`), a `local: true` find read for real; bad ones located:
/// an Ansible find option play does not have, a relative path on the host, a bad regex, a
/// `stat` that is not a path, `find` with `command`, `local` on a command.
#[test]
fn check_locates_bad_finds_and_stats_and_stands_in_for_good_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "inventory/hosts.yml", INVENTORY);
    write(d, "files/filters/a.conf.j2", "a\n");
    write(
        d,
        "playbooks/site.yml",
        "- hosts: web
  gather:
    sources:
      find: {paths: /etc/apt/sources.list.d, patterns: '*.list'}
    folder:
      stat: /srv/app
    mine:
      find: {paths: files/filters, patterns: '*.conf.j2'}
      local: true
  state:
    - file: /etc/app/summary
      content: \"{{ sources.matched }} {{ folder.stat.exists }} {{ mine.files | map(attribute='path') | join(',') }}\\n\"
    - file: \"/etc/app/{{ item.path | basename }}\"
      content: x
      loop: \"{{ sources.files }}\"
    - file: \"/etc/app/{{ item }}\"
      content: x
      loop: \"{{ only_when_found.files }}\"
      when: folder.stat.exists
",
    );
    let ok = play_in(d, &["check", "--show", "--color", "never"]).code(0);
    for want in [
        "gather sources  # playbooks/site.yml:3:5 (a stand-in offline: files: [], matched: 0;",
        "gather folder  # playbooks/site.yml:5:5 (a stand-in offline: stat.exists: false;",
        "gather mine  # playbooks/site.yml:7:5 (read on the controller",
        "| 0 False files/filters/a.conf.j2",
    ] {
        assert!(ok.stdout.contains(want), "no {want:?} in\n{}", ok.stdout);
    }

    write(
        d,
        "playbooks/site.yml",
        "- hosts: web
  gather:
    aged:
      find: {paths: /var/log, age: 2d}
    rel:
      find: {paths: var/log}
    re:
      find: {paths: /x, patterns: '(', use_regex: true}
    st:
      stat: {path: /x}
    both:
      command: ls
      stat: /x
    cmd:
      command: ls
      local: true
    nopaths:
      find: {patterns: '*.x'}
  state: []
",
    );
    let bad = play_in(d, &["check", "--color", "never"]).code(1);
    for want in [
        "playbooks/site.yml:4:31: gather `aged`: find: `age` is not supported",
        "playbooks/site.yml:5:5: gather `rel`: find: paths: expected absolute paths on the host, found `var/log`",
        "playbooks/site.yml:7:5: gather `re`: find: patterns: bad regex `(`",
        "playbooks/site.yml:10:14: gather `st`: stat: expected a path",
        "playbooks/site.yml:13:7: gather `both`: `command` and `stat` together",
        "playbooks/site.yml:16:7: gather `cmd`: `local: true` is for `find:` and `stat:`",
        "gather `nopaths`: find: `paths:` is missing",
    ] {
        assert!(bad.stdout.contains(want), "no {want:?} in\n{}", bad.stdout);
    }
}

/// Resources under a `when` on a gathered value are checked although the value's offline
/// stand-in turns them off (a host's value may turn them on at `diff`/`apply`): their own
/// problems are said, marked so; what comes from the stand-in itself is not.
#[test]
fn check_looks_under_whens_that_gathered_values_decide() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "inventory/hosts.yml", INVENTORY);
    write(
        d,
        "playbooks/site.yml",
        "- hosts: web
  gather:
    bundle:
      stat: /srv/app/bundle
  state:
    - command: \"mv /srv/app/bundle {{ backup_root }}/bundle\"
      when: bundle.stat.exists
    - file: /srv/app/size
      content: \"{{ bundle.stat.size }}\"
      when: bundle.stat.exists
    - file: /srv/app/fresh
      content: \"{{ no_such_var }}\"
      when: not bundle.stat.exists
",
    );
    let out = play_in(d, &["check", "--color", "never"]).code(1);
    assert!(
        out.stdout.contains(
            "playbooks/site.yml:6:16: command: undefined variable `backup_root`"
        ) && out.stdout.contains(
            "(under a `when` on the gathered `bundle`, checked although its stand-in turns it off"
        ),
        "{}",
        out.stdout
    );
    // its `when` holds with the stand-in: said once, as any resource's problem
    assert_eq!(
        out.stdout
            .lines()
            .filter(|l| l.contains("no_such_var"))
            .count(),
        1,
        "{}",
        out.stdout
    );
    // `bundle.stat.size`: the stand-in has no size; the host's value decides
    assert!(!out.stdout.contains("site.yml:9"), "{}", out.stdout);
    assert!(out.stdout.contains("2 problem(s)"), "{}", out.stdout);
}

/// Ansible's `role_path`: what a role declares (its state, its gathers) sees the role's folder,
/// absolute; a `local: true` `stat:` under it reads the role's own files.
#[test]
fn a_role_sees_its_role_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "inventory/hosts.yml", INVENTORY);
    write(d, "roles/web/files/static/app.css", "body {}\n");
    write(
        d,
        "roles/web/gather.yml",
        "static_dir:\n  stat: \"{{ role_path }}/files/static\"\n  local: true\n",
    );
    write(
        d,
        "roles/web/state.yml",
        "- file: /etc/app/where\n  content: \"{{ role_path }} {{ static_dir.stat.isdir }}\\n\"\n",
    );
    write(
        d,
        "playbooks/site.yml",
        "- hosts: web1\n  roles: [web]\n  state:\n    - file: /etc/app/outside\n      content: \"{{ role_path | default('none') }}\\n\"\n",
    );
    let role = std::fs::canonicalize(d.join("roles/web")).expect("role dir");
    let out = play_in(d, &["check", "--show", "--color", "never"]).code(0);
    for want in [format!("| {} True", role.display()), "| none".to_string()] {
        assert!(out.stdout.contains(&want), "no {want:?} in\n{}", out.stdout);
    }
}
