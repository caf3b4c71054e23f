//! The core, against a real lab: first apply, idempotence, loop/when, diffs, bad input, failures.

mod support;

use support::lab::Lab;
use support::project::Project;

const SITE: &str = r#"
- name: web tier
  hosts: web
  vars:
    release: "1"
  roles: [common]
  state:
    - directory: /srv/app
      owner: deploy
      group: deploy
      mode: "0755"
    - directory: /srv/app/releases
    - directory: "/srv/app/releases/{{ release }}"
    - file: /etc/app/app.ini
      template: app.ini.j2
      owner: deploy
      mode: "0640"
    - file: /etc/app/logo.png
      src: logo.png
    - file: /etc/app/old.ini
      state: absent
    - link: /srv/app/current
      target: "/srv/app/releases/{{ release }}"
    - directory: /srv/app/shared
    - file: "/srv/app/shared/conf_{{ item }}.ini"
      template: conf.ini.j2
      loop: "{{ range(1, conf_count + 1) }}"
    - file: /etc/app/debug.ini
      content: "debug = true\n"
      when: "app_env == 'staging' and facts.cpus > 0"
    - file: /etc/app/only-on-h2
      content: "by fact\n"
      when: "facts.hostname == 'h2'"
    - file: /etc/app/canary
      content: "by group\n"
      when: "'canary' in group_names"
- name: db tier
  hosts: db
  vars:
    base: /var/lib
    db_root: "{{ base }}/db"
    db_conf: "{{ db_root }}/db.conf"
  state:
    - directory: "{{ db_root }}"
    - file: "{{ db_conf }}"
      content: "data_dir = {{ db_root }}\n"
"#;

fn project(lab: &Lab) -> Project {
    Project::new(lab)
        .group("web", &[0, 1, 2])
        .group("db", &[3, 4])
        .group("canary", &[2])
        .var("conf_count", "20")
        .var("app_env", "production")
        .var("app_port", "8000")
        .host_var(0, "app_env", "staging")
        .file("playbooks/site.yml", SITE)
        .file("roles/common/defaults.yml", "motd_text: managed by play\n")
        .file(
            "roles/common/state.yml",
            "- file: /etc/motd\n  template: motd.j2\n  mode: \"0644\"\n- directory: /etc/app\n  mode: \"0755\"\n",
        )
        .file(
            "roles/common/templates/motd.j2",
            "{{ motd_text }} on {{ inventory_hostname }} ({{ facts.os_id }})\n",
        )
        .file(
            "playbooks/templates/app.ini.j2",
            "[app]\nhost = {{ inventory_hostname }}\nport = {{ app_port }}\nenv = {{ app_env }}\n",
        )
        .file("playbooks/templates/conf.ini.j2", "[conf]\nindex = {{ item }}\nhost = {{ inventory_hostname }}\n")
}

const LOGO: &[u8] = &[0x89, b'P', b'N', b'G', 0, 1, 2, 3, 0xff, 0xfe, b'\n', 0];

fn sh(lab: &Lab, host: &str, cmd: &str) -> String {
    let out = lab.exec(host, cmd);
    assert!(
        out.status.success(),
        "{host}: `{cmd}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Inode and mtime (ns) of every managed path, to prove a no-op run writes nothing.
fn fingerprint(lab: &Lab, host: &str) -> String {
    sh(lab, host, "find /etc/motd /etc/app /srv/app /var/lib/db -printf '%p %i %T@ %m %u\\n' 2>/dev/null | sort")
}

#[test]
fn core_story_on_five_hosts() {
    let lab = Lab::start("converge-core", 5);
    let p = project(&lab);
    p.write("playbooks/files/logo.png", LOGO);
    // A file to be deleted, present on h1 only.
    sh(
        &lab,
        "h1",
        "mkdir -p /etc/app && echo old > /etc/app/old.ini",
    );

    // --- first apply creates exactly the declared state
    let run = p.play(&["apply", "playbooks/site.yml"]).code(0);
    for h in ["h1", "h2", "h3"] {
        let (_, changed, failed, unreachable) = run.recap(h);
        // common role: motd + /etc/app; play: 3 dirs, app.ini, logo, link, shared, 20 confs;
        // h1 also deletes old.ini and gets debug.ini, h2 gets only-on-h2, h3 (canary) gets canary.
        let expected = match h {
            "h1" => 30, // /etc/app existed already (it held old.ini)
            _ => 30,    // h2: only-on-h2; h3: canary
        };
        assert_eq!(changed, expected, "{h}:\n{}", run.stdout);
        assert_eq!((failed, unreachable), (0, 0));
        assert_eq!(
            sh(&lab, h, "cat /etc/motd"),
            format!("managed by play on {h} (debian)\n")
        );
        assert_eq!(
            sh(
                &lab,
                h,
                "stat -c '%a %U %G' /srv/app /etc/app/app.ini /etc/motd"
            ),
            "755 deploy deploy\n640 deploy root\n644 root root\n"
        );
        assert_eq!(
            sh(&lab, h, "cat /etc/app/app.ini"),
            format!(
                "[app]\nhost = {h}\nport = 8000\nenv = {}\n",
                if h == "h1" { "staging" } else { "production" }
            )
        );
        assert_eq!(lab.exec(h, "cat /etc/app/logo.png").stdout, LOGO);
        assert_eq!(
            sh(&lab, h, "readlink /srv/app/current"),
            "/srv/app/releases/1\n"
        );
        assert_eq!(sh(&lab, h, "ls /srv/app/shared | wc -l").trim(), "20");
        assert_eq!(
            sh(&lab, h, "cat /srv/app/shared/conf_17.ini"),
            format!("[conf]\nindex = 17\nhost = {h}\n")
        );
        assert_eq!(
            sh(&lab, h, "test -e /etc/app/old.ini && echo yes || echo no"),
            "no\n"
        );
        // when: by var (h1 is staging) and by fact (hostname h2)
        assert_eq!(
            sh(&lab, h, "test -e /etc/app/debug.ini && echo yes || echo no"),
            if h == "h1" { "yes\n" } else { "no\n" }
        );
        assert_eq!(
            sh(
                &lab,
                h,
                "test -e /etc/app/only-on-h2 && echo yes || echo no"
            ),
            if h == "h2" { "yes\n" } else { "no\n" }
        );
        assert_eq!(
            sh(&lab, h, "test -e /var/lib/db && echo yes || echo no"),
            "no\n"
        );
    }
    for h in ["h4", "h5"] {
        assert_eq!(
            sh(&lab, h, "cat /var/lib/db/db.conf"),
            "data_dir = /var/lib/db\n",
            "vars referencing vars"
        );
        assert_eq!(
            sh(&lab, h, "test -e /etc/app && echo yes || echo no"),
            "no\n"
        );
    }

    // --- second apply: 0 changes, nothing written
    let before: Vec<String> = lab
        .hosts
        .iter()
        .map(|h| fingerprint(&lab, &h.name))
        .collect();
    let run = p.play(&["apply", "playbooks/site.yml"]).code(0);
    for h in &lab.hosts {
        assert_eq!(
            run.recap(&h.name).1,
            0,
            "{}: second apply changed something:\n{}",
            h.name,
            run.stdout
        );
    }
    let after: Vec<String> = lab
        .hosts
        .iter()
        .map(|h| fingerprint(&lab, &h.name))
        .collect();
    assert_eq!(
        before, after,
        "a no-op apply must not touch inodes or mtimes"
    );
    p.play(&["diff", "--exit-code", "playbooks/site.yml"])
        .code(0);

    // --- a var changed for one host: diff shows exactly that file there, apply converges
    let p = p.host_var(1, "app_port", "9000");
    let diff = p
        .play(&["diff", "--exit-code", "playbooks/site.yml"])
        .code(2)
        .shows("h2:")
        .shows("~ update file /etc/app/app.ini")
        .shows("-port = 8000")
        .shows("+port = 9000")
        .hides("h1:")
        .hides("h3:");
    assert_eq!(diff.recap("h2").1, 1);
    assert_eq!(
        diff.stdout.matches("update file").count(),
        1,
        "{}",
        diff.stdout
    );
    assert_eq!(
        sh(&lab, "h2", "grep port /etc/app/app.ini"),
        "port = 8000\n",
        "diff touches nothing"
    );
    p.play(&["apply", "playbooks/site.yml"]).code(0);
    assert_eq!(
        sh(&lab, "h2", "grep port /etc/app/app.ini"),
        "port = 9000\n"
    );
    p.play(&["diff", "--exit-code", "playbooks/site.yml"])
        .code(0);

    // --- drift: a mode changed by hand is an attribute-only update
    sh(&lab, "h3", "chmod 0600 /etc/motd");
    p.play(&["diff", "--exit-code", "playbooks/site.yml"])
        .code(2)
        .shows("mode 0600 → 0644");

    // --- bad input: clear message, exit 1, nothing touched on any host
    let before: Vec<String> = lab
        .hosts
        .iter()
        .map(|h| fingerprint(&lab, &h.name))
        .collect();
    let bad: &[(&str, &str, &str)] = &[
        (
            "playbooks/site.yml",
            "- hosts: web\n  state: [\n",
            "playbooks/site.yml:3:1",
        ),
        (
            "playbooks/site.yml",
            "- hosts: web\n  state:\n    - file: /etc/x\n      ownr: root\n",
            "site.yml:4:7: unknown key `ownr`, did you mean `owner`?",
        ),
        (
            "playbooks/site.yml",
            "- hosts: web\n  state:\n    - file: /etc/x\n      content: \"{{ nope }}\"\n",
            "undefined variable `nope`",
        ),
        (
            "playbooks/site.yml",
            "- hosts: web\n  state:\n    - file: /etc/x\n      template: missing.j2\n",
            "template `missing.j2` not found",
        ),
        (
            "playbooks/site.yml",
            "- hosts: web\n  state:\n    - file: /etc/motd\n    - file: /etc/motd\n      content: x\n",
            "duplicate resource `/etc/motd`",
        ),
        (
            "playbooks/site.yml",
            "- hosts: web\n  state:\n    - file: /etc/x\n      mode: \"rw-r--r--\"\n",
            "site.yml:4:13: invalid mode `rw-r--r--`",
        ),
    ];
    for (file, text, expected) in bad {
        let p = project(&lab).file(file, text);
        p.play(&["apply", "playbooks/site.yml"])
            .code(1)
            .shows(expected);
    }
    let after: Vec<String> = lab
        .hosts
        .iter()
        .map(|h| fingerprint(&lab, &h.name))
        .collect();
    assert_eq!(before, after, "bad input must not touch any host");
}

#[test]
fn failures_stop_only_their_host() {
    let lab = Lab::start("converge-faults", 4);
    let p = Project::new(&lab)
        .file(
            "site.yml",
            "- hosts: lab\n  state:\n    - directory: /srv/ro\n    - file: /srv/ro/app.ini\n      content: \"x\\n\"\n    - file: /etc/after\n      content: \"y\\n\"\n",
        );
    // h2 unreachable (its sshd stopped), h3's target folder read-only.
    sh(&lab, "h2", "pkill -x sshd; true");
    sh(
        &lab,
        "h3",
        "mkdir -p /srv/ro && mount -t tmpfs -o ro tmpfs /srv/ro",
    );
    let run = p
        .play(&["apply", "site.yml"])
        .code(1)
        .shows("UNREACHABLE")
        .shows("FAILED");
    assert_eq!(run.recap("h2").3, 1, "h2 unreachable");
    assert_eq!(run.recap("h3").2, 1, "h3 failed");
    assert!(
        run.stdout.contains("/srv/ro/app.ini"),
        "the failed file is named:\n{}",
        run.stdout
    );
    for h in ["h1", "h4"] {
        assert_eq!(run.recap(h).2 + run.recap(h).3, 0);
        assert_eq!(sh(&lab, h, "cat /srv/ro/app.ini /etc/after"), "x\ny\n");
    }
    // h3 stopped at the failed step: the later file was not written, and no temp file is left.
    assert_eq!(
        sh(&lab, "h3", "test -e /etc/after && echo yes || echo no"),
        "no\n"
    );
    assert_eq!(sh(&lab, "h3", "ls -A /srv/ro | wc -l").trim(), "0");
}
