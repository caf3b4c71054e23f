//! Ansible habits answered (issue 15): `name:` on resources and plays, YAML 1.1 booleans
//! everywhere. Offline: `play check` against hosts on loopback addresses where nothing listens.

mod support;

use std::path::Path;

use support::project::{play_offline, write_under as write, Run};

/// Three hosts on a port where nothing listens (a check that connected would fail).
const INVENTORY: &str = "all:
  vars:
    ssh_port: 1
  hosts:
    h1: {ssh_host: 127.0.0.1, enable_debug: no}
    h2: {ssh_host: 127.0.0.1, enable_debug: \"no\"}
    h3: {ssh_host: 127.0.0.1, enable_debug: Yes}
";

/// `play check playbooks/site.yml` of `playbook` over [`INVENTORY`] (and `files`), which must
/// exit `code`: its stdout then stderr.
fn check_playbook(playbook: &str, files: &[(&str, &str)], code: i32) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "inventory/hosts.yml", INVENTORY);
    write(d, "playbooks/site.yml", playbook);
    for (rel, text) in files {
        write(d, rel, text);
    }
    let run = play_offline(d, &["check", "playbooks/site.yml"]).code(code);
    format!("{}{}", run.stdout, run.stderr)
}

/// `0 problem(s); … N resource(s)` of a successful check.
fn resources_checked(run: &Run) -> usize {
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("0 problem(s)"))
        .unwrap_or_else(|| panic!("no summary in:\n{}\n{}", run.stdout, run.stderr));
    line.split(" resource(s)")
        .next()
        .and_then(|r| r.rsplit(", ").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no resource count in {line:?}"))
}

fn boolean_project(d: &Path) {
    write(d, "inventory/hosts.yml", INVENTORY);
    write(d, "inventory/group_vars/all.yml", "from_group: off\n");
    write(d, "playbooks/vars/flags.yml", "from_file: on\n");
    let mut state = String::from(
        "    - name: debug config\n      file: /etc/debug.conf\n      content: x\n      when: enable_debug\n",
    );
    for var in ["from_group", "from_file", "from_play", "from_cli"] {
        state += &format!("    - file: /etc/{var}.conf\n      content: x\n      when: {var}\n");
    }
    state +=
        "    - file: /etc/always.conf\n      content: x\n      sensitive: yes\n      when: yes\n";
    write(
        d,
        "playbooks/site.yml",
        &format!(
            "- name: flags as Ansible writes them\n  hosts: all\n  vars:\n    from_play: NO\n  \
             vars_files: [vars/flags.yml]\n  state:\n{state}"
        ),
    );
}

/// `enable_debug: no` is false (h1), `\"no\"` quoted stays a string and is true (h2), `Yes` is
/// true (h3); `off`/`on`/`NO` in group_vars, a vars file and play vars; `-e from_cli=false`.
#[test]
fn yaml11_booleans_are_booleans_in_vars_when_keys_and_extra_vars() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    boolean_project(d);
    // debug: h2, h3; file: all three; always: all three; group, play, cli: none.
    let off = play_offline(d, &["check", "playbooks/site.yml", "-e", "from_cli=false"]).code(0);
    assert_eq!(resources_checked(&off), 2 + 3 + 3);
    let on = play_offline(d, &["check", "playbooks/site.yml", "-e", "from_cli=yes"]).code(0);
    assert_eq!(resources_checked(&on), 2 + 3 + 3 + 3);
    // `-e enable_debug=off` wins over the inventory for every host.
    let quiet = play_offline(
        d,
        &[
            "check",
            "playbooks/site.yml",
            "-e",
            "from_cli=no",
            "-e",
            "enable_debug=off",
        ],
    )
    .code(0);
    assert_eq!(resources_checked(&quiet), 3 + 3);
}

/// `name:` on a play and a resource is accepted; the resource's name ends its line of the text
/// report and is `name` in the JSON report (valid against docs/report.schema.json). `play diff
/// --local` probes this machine and touches nothing.
#[test]
fn a_resource_name_is_shown_in_the_text_and_json_reports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(
        d,
        "inventory/hosts.yml",
        "all:\n  hosts:\n    me: {ssh_host: 127.0.0.1}\n",
    );
    let target = d.join("out/motd");
    write(
        d,
        "site.yml",
        &format!(
            "- name: the local machine\n  hosts: all\n  state:\n    - name: write the motd\n      \
             file: {}\n      content: hi\n    - file: {}.plain\n      content: hi\n",
            target.display(),
            target.display()
        ),
    );
    let text = play_offline(
        d,
        &[
            "diff", "site.yml", "--local", "-l", "me", "--color", "never",
        ],
    )
    .code(0)
    .shows(&format!(
        "+ create file {}  # write the motd\n",
        target.display()
    ));
    assert!(!text.stdout.contains(".plain  #"), "{}", text.stdout);
    let json = play_offline(
        d,
        &[
            "diff", "site.yml", "--local", "-l", "me", "--format", "json",
        ],
    )
    .code(0);
    let doc = support::check::json(&json.stdout);
    support::check::assert_schema_valid("report.schema.json", &doc);
    let changes = support::check::host(&doc, "me")["changes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&serde_json::Value> = changes.iter().map(|c| &c["name"]).collect();
    // The missing folder `out` planned above the named file does not take its name.
    let none = serde_json::Value::Null;
    assert_eq!(
        names,
        [&none, &serde_json::json!("write the motd"), &none],
        "{doc:#}"
    );
    assert!(!target.exists(), "diff wrote {}", target.display());
}

/// One `play check` answers every Ansible habit of a file: each unknown key (not only the first
/// of a mapping) with the keys valid there and play's form of the keyword, Ansible's
/// `template: {src, dest}`, unknown play keys, and every bad `restart_on`/`on_change` key.
#[test]
fn check_answers_every_ansible_keyword_of_a_file_at_once() {
    let out = check_playbook(
        "- hosts: all
  become: yes
  handlers: []
  state:
    - name: app config
      file: /etc/app.ini
      content: x
      notify: restart app
      tags: [config]
    - template: {src: motd.j2, dest: /etc/motd}
    - command: /usr/bin/migrate
      with_items: [a, b]
      register: out
      changed_when: false
      become_user: app
    - program: app
      command: /usr/bin/app
      restart_on: [/etc/nope.ini, /etc/app.ini, /etc/other.ini]
    - command: /usr/bin/reindex
      on_change: [/etc/gone.ini]
",
        &[],
        1,
    );
    for expected in [
        "site.yml:2:3: unknown key `become`",
        "inventory's: `become: true`",
        "site.yml:3:3: unknown key `handlers`",
        "site.yml:8:7: unknown key `notify`",
        "`restart_on: [KEY]`",
        "keys of a file: file, content, src, template",
        "`file: DEST` with `template: SRC`",
        "site.yml:12:7: unknown key `with_items`",
        "`loop:`",
        "site.yml:13:7: unknown key `register`",
        "site.yml:14:7: unknown key `changed_when`",
        "`changed: false` (runs on every apply, never a change)",
        "site.yml:15:7: unknown key `become_user`",
        "`user: NAME`",
        "restart_on: no resource of play `all` has the key `/etc/nope.ini`",
        "restart_on: no resource of play `all` has the key `/etc/other.ini`",
        "on_change: no resource of play `all` has the key `/etc/gone.ini`",
    ] {
        assert!(out.contains(expected), "expected {expected:?} in:\n{out}");
    }
    // Only the keys of a file are listed for a file, not those of every kind.
    let notify = out
        .lines()
        .find(|l| l.contains("unknown key `notify`"))
        .unwrap_or_default();
    assert!(!notify.contains("autorestart"), "{notify}");
}

/// A problem every host has is said once, with the host count.
#[test]
fn a_problem_of_every_host_is_said_once_with_the_host_count() {
    let out = check_playbook(
        "- hosts: all\n  state:\n    - file: /etc/x\n      content: \"{{ nope }}\"\n",
        &[],
        1,
    );
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("undefined variable `nope`"))
        .collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(lines[0].ends_with(" [3 hosts: h1, h2, h3]"), "{}", lines[0]);
}

/// Ansible's filters, `.items()` and the `env`/`file` lookups render in `play check` (the file
/// lookup relative to the playbook's folder).
#[test]
fn ansible_filters_methods_and_lookups_render() {
    let out = check_playbook(
        "- hosts: all
  vars:
    conf: /etc/app/app.ini
    ports: {http: 80, https: 443}
    extra: {https: 8443}
  state:
    - file: \"{{ conf | dirname }}/{{ conf | basename | regex_replace('\\\\.ini$', '.conf') }}\"
      content: |
        {% for k, v in (ports | combine(extra)).items() %}{{ k }}={{ v }}
        {% endfor %}debug={{ enable_debug | bool | ternary('on', 'off') }}
        home={{ lookup('env', 'HOME') | quote }}
        key={{ lookup('file', 'files/key.pub') | b64encode }}
        json={{ ports | dict2items | to_json }}
",
        &[("playbooks/files/key.pub", "ssh-ed25519 AAAA me\n")],
        0,
    );
    assert!(out.contains("0 problem(s)"), "{out}");
}

/// Ansible's fact names render (`ansible_processor_vcpus * 2`); one play does not gather is
/// answered with the facts it has.
#[test]
fn ansible_fact_names_render_and_unknown_ones_name_play_facts() {
    let out = check_playbook(
        "- hosts: all
  state:
    - file: /etc/workers
      content: \"{{ ansible_processor_vcpus * 2 }} {{ ansible_os_family }} {{ ansible_facts.hostname }}\"
    - file: /etc/ip
      content: \"{{ ansible_mounts[0].mount }}\"
",
        &[],
        1,
    );
    assert!(out.contains("1 problem(s)"), "{out}");
    assert!(
        out.contains("site.yml:6:16: content: undefined variable `ansible_mounts`"),
        "{out}"
    );
    assert!(
        out.contains("facts.cpus") && out.contains("ansible_processor_vcpus"),
        "{out}"
    );
}

/// Offline, `ansible_env` (`facts.env`) is the documented stand-in: the root session sudo gives
/// (`HOME`, `USER`, `PATH`, `SUDO_USER`…); a key it lacks is a problem, unless defaulted.
#[test]
fn ansible_env_has_a_stand_in_offline() {
    let out = check_playbook(
        "- hosts: all
  state:
    - file: /etc/who
      content: \"{{ ansible_env.HOME }} {{ ansible_env.SUDO_USER }} {{ facts.env.PATH }} {{ ansible_facts.env.USER }} {{ ansible_env.NO_SUCH | default('none') }}\"
    - file: /etc/missing
      content: \"{{ ansible_env.NO_SUCH_VAR }}\"
",
        &[],
        1,
    );
    assert!(out.contains("1 problem(s)"), "{out}");
    assert!(out.contains("site.yml:6:"), "{out}");
}

/// The legacy `ansible_ssh_host`/`ansible_ssh_port`/`ansible_ssh_user` are connection vars.
#[test]
fn legacy_ansible_ssh_connection_vars_are_aliases() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "hosts.yml",
        "all:\n  hosts:\n    old: {ansible_ssh_host: 127.0.0.9, ansible_ssh_port: 2200, ansible_ssh_user: deploy}\n",
    );
    let inv = play::inventory::load(dir.path(), &play::inventory::Vars::new()).expect("inventory");
    let host = inv.host("old").expect("host");
    let c = play::inventory::connection_for(host, &Default::default()).expect("connection");
    assert_eq!(
        (c.address.as_str(), c.port, c.user.as_str()),
        ("127.0.0.9", 2200, "deploy")
    );
}

/// A template error names the column of the failing expression, not column 0.
#[test]
fn template_errors_name_their_column() {
    let out = check_playbook(
        "- hosts: all\n  state:\n    - file: /etc/app.ini\n      template: app.ini.j2\n",
        &[(
            "playbooks/templates/app.ini.j2",
            "[app]\nport = {{ app_port }}\n",
        )],
        1,
    );
    assert!(
        out.contains("playbooks/templates/app.ini.j2:2:11: undefined variable `app_port`"),
        "{out}"
    );
}

/// A play whose `hosts:` matches no host is a located problem naming the pattern, with the
/// nearest group name; the other plays are still checked.
#[test]
fn a_play_pattern_matching_no_host_is_a_problem_with_a_suggestion() {
    let inventory = "all:\n  vars: {ssh_port: 1}\n  children:\n    web:\n      hosts: {w1: {ssh_host: 127.0.0.1}}\n";
    let out = check_playbook(
        "- hosts: web\n  state: []\n- name: the web tier\n  hosts: wbe\n  state: []\n",
        &[("inventory/hosts.yml", inventory)],
        1,
    );
    assert!(
        out.contains(
            "site.yml:3:3: play `the web tier`: hosts pattern `wbe` matches no host of the inventory"
        ) && out.contains("(did you mean `web`?)"),
        "{out}"
    );
    assert!(out.contains("1 problem(s)"), "{out}");
}

/// `play check --show` prints each host's rendered resources (after vars, loops and `when`):
/// `enable_debug: no` leaves h1 without the debug file, the quoted `"no"` of h2 does not.
#[test]
fn check_show_prints_each_hosts_rendered_resources() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    boolean_project(d);
    let run = play_offline(
        d,
        &[
            "check",
            "playbooks/site.yml",
            "--show",
            "-e",
            "from_cli=no",
            "-l",
            "h1:h2",
        ],
    )
    .code(0);
    let block = |host: &str| {
        let start = run
            .stdout
            .find(&format!("{host} (playbooks/site.yml):\n"))
            .unwrap_or_else(|| panic!("no block for {host} in:\n{}", run.stdout));
        let rest = &run.stdout[start..];
        let end = rest[1..].find("\nh").map_or(rest.len(), |i| i + 1);
        rest[..end].to_string()
    };
    let (h1, h2) = (block("h1"), block("h2"));
    assert!(!h1.contains("file /etc/debug.conf"), "{h1}");
    assert!(
        h2.contains("  file /etc/debug.conf  # playbooks/site.yml:"),
        "{h2}"
    );
    assert!(h2.contains("    | x\n"), "{h2}");
    assert!(h1.contains("  file /etc/from_file.conf  #"), "{h1}");
    assert!(h1.contains("(sensitive content)"), "{h1}");
}

/// `owner: "{{ x | default(omit) }}"`: the key as if not given where `x` is undefined (a
/// command's `creates:` too, which would otherwise have to be an absolute path).
#[test]
fn omit_leaves_a_key_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "inventory/hosts.yml", INVENTORY);
    write(
        d,
        "playbooks/site.yml",
        "- hosts: all\n  state:\n    - file: /etc/x\n      content: a\n      owner: \"{{ app_owner | default(omit) }}\"\n      mode: \"{{ app_mode | default(omit) }}\"\n    \
         - command: /bin/true\n      creates: \"{{ marker | default(omit) }}\"\n",
    );
    let args = ["check", "playbooks/site.yml", "--show", "-l", "h1"];
    let bare = play_offline(d, &args).code(0);
    assert!(
        !bare.stdout.contains("owner") && !bare.stdout.contains("mode"),
        "{}",
        bare.stdout
    );
    let set = play_offline(
        d,
        &[&args[..], &["-e", "app_owner=app", "-e", "app_mode=0600"]].concat(),
    )
    .code(0);
    assert!(
        set.stdout.contains("    owner app, mode 0600\n"),
        "{}",
        set.stdout
    );
}

/// `play ARGS` in `dir` with the vault passphrase file `pass`.
fn play_with_pass(dir: &Path, pass: &Path, args: &[&str]) -> Run {
    let out = std::process::Command::new(support::lab::play_bin())
        .args(args)
        .env("PLAY_LOOPBACK_ONLY", "1")
        .env("PLAY_VAULT_PASSWORD_FILE", pass)
        .current_dir(dir)
        .output()
        .expect("run play");
    Run::from(args, out)
}

/// Ansible's `-e @secrets.yml`: an extra-vars file that is a vault file (named `*.vault.yml`,
/// or any file `play vault encrypt` encrypted) is decrypted in memory, as group_vars and vars
/// files are; without the passphrase it is an error naming the file.
#[test]
fn extra_vars_from_a_vault_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "inventory/hosts.yml", INVENTORY);
    write(
        d,
        "playbooks/site.yml",
        "- hosts: all\n  state:\n    - file: /etc/app/secret\n      content: \"{{ db_password }}\"\n      \
         when: api_on\n",
    );
    write(d, "pass", "correct horse\n");
    let pass = d.join("pass");
    for name in ["secrets.vault.yml", "secrets.yml"] {
        write(d, name, "db_password: Zq7-secret\napi_on: yes\n");
        play_with_pass(d, &pass, &["vault", "encrypt", name]).code(0);
        let cipher = std::fs::read_to_string(d.join(name)).expect("read");
        assert!(!cipher.contains("Zq7-secret"), "{cipher}");
        let at = format!("@{name}");
        let ok = play_with_pass(d, &pass, &["check", "playbooks/site.yml", "-e", &at]).code(0);
        assert_eq!(resources_checked(&ok), 3, "{name}");
        let no_pass = play_offline(d, &["check", "playbooks/site.yml", "-e", &at]);
        assert_ne!(no_pass.status, Some(0), "{name}");
        let said = format!("{}{}", no_pass.stdout, no_pass.stderr);
        assert!(said.contains(name), "{name}: {said}");
    }
}

/// `hosts: "web:&{{ env }}"` (roots-trellis) is templated as Ansible templates it: with `-e`,
/// the play's vars and vars files; an undefined var is a problem at the play naming it.
#[test]
fn a_templated_hosts_pattern_is_rendered_with_extra_and_play_vars() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(
        d,
        "inventory/hosts.yml",
        "all:\n  vars: {ssh_port: 1}\n  hosts:\n    w1: {ssh_host: 127.0.0.1}\n    \
         w2: {ssh_host: 127.0.0.1}\n  children:\n    web: {hosts: {w1: , w2: }}\n    \
         development: {hosts: {w1: }}\n    production: {hosts: {w2: }}\n",
    );
    write(
        d,
        "playbooks/site.yml",
        "- name: deploy\n  hosts: \"web:&{{ env }}\"\n  state:\n    - file: /etc/app/a\n      content: a\n    \
         - file: /etc/app/b\n      content: b\n- hosts: \"{{ target }}\"\n  vars: {target: production}\n  \
         state:\n    - file: /etc/app/c\n      content: c\n",
    );
    let dev = play_offline(d, &["check", "playbooks/site.yml", "-e", "env=development"]).code(0);
    assert_eq!(resources_checked(&dev), 2 + 1, "{}", dev.stdout);
    assert!(dev.stdout.contains("2 host(s)"), "{}", dev.stdout);
    // `-e` wins over the play's vars, as in Ansible.
    let prod = play_offline(
        d,
        &[
            "check",
            "playbooks/site.yml",
            "-e",
            "env=production",
            "-e",
            "target=development",
        ],
    )
    .code(0);
    assert_eq!(resources_checked(&prod), 2 + 1, "{}", prod.stdout);
    let none = play_offline(d, &["check", "playbooks/site.yml"]);
    assert_ne!(none.status, Some(0));
    assert!(
        none.stdout.contains(
            "playbooks/site.yml:1:3: hosts pattern `web:&{{ env }}`: undefined variable `env`"
        ),
        "{}\n{}",
        none.stdout,
        none.stderr
    );
}
