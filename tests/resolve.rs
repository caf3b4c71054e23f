//! Resolution on data: vars referencing vars, cycles, loop, when, roles, errors (no hosts).

use std::path::Path;

use play::inventory::{self, Vars};
use play::playbook;
use play::resolve::{stub_facts, Resolver};
use play::resources::{self, Facts, Observed, Resource};

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

const INV: &str = "all:\n  vars: {base: /srv, conf_count: 3}\n  children:\n    web:\n      hosts: {w1: , w2: }\n    db:\n      hosts: {d1: }\n";

fn setup(pb: &str) -> (tempfile::TempDir, inventory::Inventory, playbook::Playbook) {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "hosts.yml", INV);
    write(d.path(), "pb/site.yml", pb);
    let inv = inventory::load(&d.path().join("hosts.yml"), &Vars::new()).unwrap();
    let pb = playbook::load(&d.path().join("pb/site.yml")).unwrap();
    (d, inv, pb)
}

fn paths(
    inv: &inventory::Inventory,
    pb: &playbook::Playbook,
    host: &str,
    facts: &Facts,
) -> Vec<String> {
    let extra = Vars::new();
    let r = Resolver::new(pb, inv, &extra);
    r.resources(inv.host(host).unwrap(), facts)
        .unwrap()
        .iter()
        .map(|r| r.desired.key().to_string())
        .collect()
}

#[test]
fn vars_referencing_vars_resolve_lazily() {
    let (_d, inv, pb) = setup(
        "- hosts: web\n  vars:\n    app_root: \"{{ base }}/app\"\n    conf: \"{{ app_root }}/conf\"\n  state:\n    - directory: \"{{ conf }}\"\n",
    );
    assert_eq!(paths(&inv, &pb, "w1", &stub_facts()), ["/srv/app/conf"]);
    assert!(
        paths(&inv, &pb, "d1", &stub_facts()).is_empty(),
        "play targets web only"
    );
}

#[test]
fn a_var_cycle_is_a_clear_error() {
    let (_d, inv, pb) = setup(
        "- hosts: web\n  vars:\n    a: \"{{ b }}/x\"\n    b: \"{{ c }}\"\n    c: \"{{ a }}\"\n  state:\n    - directory: \"/{{ a }}\"\n",
    );
    let extra = Vars::new();
    let r = Resolver::new(&pb, &inv, &extra);
    let e = r
        .resources(inv.host("w1").unwrap(), &stub_facts())
        .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("variable cycle: a → b → c → a"), "{msg}");
    assert!(msg.contains("site.yml:7:18:"), "location missing: {msg}");
}

#[test]
fn loop_and_when_by_group_and_fact() {
    let (_d, inv, pb) = setup(
        r#"- hosts: all
  state:
    - file: "/etc/c/conf_{{ item }}.ini"
      content: "n={{ item }}\n"
      loop: "{{ range(1, conf_count + 1) }}"
    - file: "/etc/c/{{ name }}.txt"
      content: x
      loop: [a, b]
      loop_var: name
    - file: /etc/web-only
      content: x
      when: "'web' in group_names"
    - file: /etc/many-cpus
      content: x
      when: "facts.cpus > 4"
"#,
    );
    let few = Facts {
        cpus: 2,
        ..stub_facts()
    };
    let many = Facts {
        cpus: 8,
        ..stub_facts()
    };
    assert_eq!(
        paths(&inv, &pb, "w1", &few),
        [
            "/etc/c/conf_1.ini",
            "/etc/c/conf_2.ini",
            "/etc/c/conf_3.ini",
            "/etc/c/a.txt",
            "/etc/c/b.txt",
            "/etc/web-only"
        ]
    );
    assert_eq!(
        paths(&inv, &pb, "d1", &many).last().unwrap(),
        "/etc/many-cpus"
    );
    assert!(!paths(&inv, &pb, "d1", &many).contains(&"/etc/web-only".to_string()));
}

#[test]
fn probe_targets_defer_fact_dependent_paths() {
    let (_d, inv, pb) = setup(
        "- hosts: web\n  state:\n    - file: /etc/a\n    - file: \"/etc/{{ facts.hostname }}\"\n    - file: /etc/b\n      when: facts.cpus > 1\n",
    );
    let extra = Vars::new();
    let r = Resolver::new(&pb, &inv, &extra);
    let t = r.probe_targets(inv.host("w1").unwrap()).unwrap();
    // `/etc/b`'s path is known without facts, only its `when` needs them: it is probed in
    // the first probe anyway (a stat too many if the `when` is false, a round trip saved if
    // it is true); `/etc/{{ facts.hostname }}` waits for the facts.
    assert_eq!(
        t.paths.iter().map(|(_, p)| p.as_str()).collect::<Vec<_>>(),
        ["/etc/a", "/etc/b"]
    );
    assert_eq!(t.deferred, 2);
}

#[test]
fn roles_templates_and_files() {
    let (d, inv, pb) = {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "hosts.yml", INV);
        write(
            d.path(),
            "roles/app/defaults.yml",
            "greeting: hello\nport: 1\n",
        );
        write(d.path(), "roles/app/state.yml", "- file: /etc/app.ini\n  template: app.ini.j2\n- file: /etc/logo.bin\n  src: logo.bin\n");
        write(
            d.path(),
            "roles/app/templates/app.ini.j2",
            "{{ greeting }} {{ inventory_hostname }} {{ port }}\n",
        );
        std::fs::create_dir_all(d.path().join("roles/app/files")).unwrap();
        std::fs::write(
            d.path().join("roles/app/files/logo.bin"),
            [0u8, 159, 146, 150],
        )
        .unwrap();
        write(d.path(), "pb/site.yml", "- hosts: web\n  vars: {port: 2}\n  roles: [app]\n  state:\n    - file: /etc/motd\n      content: hi\n");
        let inv = inventory::load(&d.path().join("hosts.yml"), &Vars::new()).unwrap();
        let pb = playbook::load(&d.path().join("pb/site.yml")).unwrap();
        (d, inv, pb)
    };
    let extra = Vars::new();
    let r = Resolver::new(&pb, &inv, &extra);
    let res = r.resources(inv.host("w2").unwrap(), &stub_facts()).unwrap();
    let keys: Vec<&str> = res.iter().map(|r| r.desired.key()).collect();
    assert_eq!(
        keys,
        ["/etc/app.ini", "/etc/logo.bin", "/etc/motd"],
        "roles first, then the play's state"
    );
    // The content each file is planned with where it is missing.
    let content = |r: &Resource| {
        let change = resources::plan(0, r, &Observed::default()).expect("a plan");
        change.and_then(|c| c.content).map(|c| c.new)
    };
    assert_eq!(
        content(&res[0]).as_deref(),
        Some(&b"hello w2 2\n"[..]),
        "play vars beat role defaults; trailing newline kept"
    );
    assert_eq!(content(&res[1]).as_deref(), Some(&[0u8, 159, 146, 150][..]));
    drop(d);
}

#[test]
fn input_errors_are_located() {
    let cases: &[(&str, &str)] = &[
        (
            "- hosts: web\n  state:\n    - file: /etc/x\n      ownr: root\n",
            "site.yml:4:7: unknown key `ownr`, did you mean `owner`?",
        ),
        (
            "- hosts: web\n  state:\n    - file: /etc/x\n      content: \"{{ nope }}\"\n",
            "site.yml:4:16: content: undefined variable `nope`",
        ),
        (
            "- hosts: web\n  state:\n    - file: /etc/x\n      mode: \"0999\"\n",
            "site.yml:4:13: invalid mode `0999`",
        ),
        (
            "- hosts: web\n  state:\n    - file: /etc/x\n      template: missing.j2\n",
            "template `missing.j2` not found",
        ),
        (
            "- hosts: web\n  state:\n    - file: /etc/x\n    - file: /etc/x\n      content: y\n",
            "site.yml:4:7: duplicate resource `/etc/x`",
        ),
        (
            "- hosts: web\n  state:\n    - file: etc/x\n",
            "path `etc/x` must be absolute",
        ),
        (
            "- hosts: web\n  state:\n    - file: /etc/../x\n",
            "must not contain",
        ),
        (
            "- hosts: web\n  state:\n    - file: /etc/x\n      target: /y\n",
            "site.yml:3:7: key `target` does not apply to a file",
        ),
    ];
    for (pb, expected) in cases {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "hosts.yml", INV);
        write(d.path(), "pb/site.yml", pb);
        let inv = inventory::load(&d.path().join("hosts.yml"), &Vars::new()).unwrap();
        let msg = match playbook::load(&d.path().join("pb/site.yml")) {
            Err(e) => e.to_string(),
            Ok(pb) => {
                let extra = Vars::new();
                let r = Resolver::new(&pb, &inv, &extra);
                r.resources(inv.host("w1").unwrap(), &stub_facts())
                    .unwrap_err()
                    .to_string()
            }
        };
        assert!(msg.contains(expected), "expected {expected:?} in {msg:?}");
    }
}

#[test]
fn undefined_in_a_template_names_template_and_line() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "hosts.yml", INV);
    write(
        d.path(),
        "pb/templates/t.j2",
        "line1\n{{ base }}\n{{ missing_var }}\n",
    );
    write(
        d.path(),
        "pb/site.yml",
        "- hosts: web\n  state:\n    - file: /etc/x\n      template: t.j2\n",
    );
    let inv = inventory::load(&d.path().join("hosts.yml"), &Vars::new()).unwrap();
    let pb = playbook::load(&d.path().join("pb/site.yml")).unwrap();
    let extra = Vars::new();
    let r = Resolver::new(&pb, &inv, &extra);
    let msg = r
        .resources(inv.host("w1").unwrap(), &stub_facts())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("t.j2:3:"), "{msg}");
    assert!(msg.contains("undefined variable `missing_var`"), "{msg}");
}

/// A NUL byte that apply could not carry (a link target, a command, an owner) is a located
/// `play check` problem, found offline, not a failed step at apply.
#[test]
fn nul_bytes_are_check_problems() {
    let (_d, inv, pb) = setup(
        "- hosts: web\n  state:\n    - link: /srv/l\n      target: \"/srv/a\\0b\"\n    - command: \"echo a\\0b\"\n    - directory: /srv/ok\n      owner: \"r\\0t\"\n    - file: /srv/fine\n",
    );
    let extra = Vars::new();
    let r = Resolver::new(&pb, &inv, &extra);
    let (rs, problems) = r.resources_all(inv.host("w1").unwrap(), &stub_facts());
    let keys: Vec<&str> = rs.iter().map(|r| r.desired.key()).collect();
    assert_eq!(keys, ["/srv/fine"]);
    let msgs: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    assert!(msgs[0].contains("site.yml:3:") && msgs[0].contains("link /srv/l: a NUL byte"));
    assert!(msgs[1].contains("site.yml:5:") && msgs[1].contains("command echo a\\0b"));
    assert!(msgs[2].contains("site.yml:6:") && msgs[2].contains("directory /srv/ok"));
}

#[test]
fn a_role_sees_its_own_defaults_over_those_of_other_roles() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "hosts.yml", INV);
    // Both roles default `port`; each role's resources see its own (as in Ansible), the play's
    // own state the last role's, and an inventory or play var wins over both.
    write(
        d.path(),
        "roles/cache/defaults.yml",
        "port: 11211\nname: cache\n",
    );
    write(
        d.path(),
        "roles/cache/state.yml",
        "- directory: \"/srv/{{ name }}-{{ port }}\"\n- directory: \"/base/{{ base }}\"\n",
    );
    write(
        d.path(),
        "roles/site/defaults.yml",
        "port: \"{{ item }}\"\nbase: role-base\n",
    );
    write(
        d.path(),
        "roles/site/state.yml",
        "- directory: \"/srv/site-{{ port }}\"\n  loop: [80]\n",
    );
    write(d.path(), "pb/site.yml", "- hosts: web\n  roles: [cache, site]\n  state:\n    - directory: \"/srv/play-{{ port | default('x') }}\"\n      loop: [443]\n");
    let inv = inventory::load(&d.path().join("hosts.yml"), &Vars::new()).unwrap();
    let pb = playbook::load(&d.path().join("pb/site.yml")).unwrap();
    assert_eq!(
        paths(&inv, &pb, "w1", &stub_facts()),
        [
            "/srv/cache-11211",
            "/base//srv",
            "/srv/site-80",
            "/srv/play-443"
        ]
    );
}

/// `play_run_time`: the run's start (UTC), the same for every host of the run, known before
/// facts (a path naming it is probed in the first probe), and the one given to the resolver
/// (a saved plan's); `path_join` is Python's `os.path.join`.
#[test]
fn play_run_time_is_the_runs_start_and_known_before_facts() {
    let (_d, inv, pb) = setup(
        "- hosts: web\n  state:\n    - directory: \"{{ [base, 'releases', play_run_time.stamp] | path_join }}\"\n    - file: \"{{ ['/ignored', base ~ '/at'] | path_join }}\"\n      content: \"{{ play_run_time.iso8601 }} {{ play_run_time.epoch }}\"\n",
    );
    let extra = Vars::new();
    let r = Resolver::new(&pb, &inv, &extra).with_run_time(1_796_223_860);
    for host in ["w1", "w2"] {
        let got = r.resources(inv.host(host).unwrap(), &stub_facts()).unwrap();
        let keys: Vec<&str> = got.iter().map(|r| r.desired.key()).collect();
        assert_eq!(keys, ["/srv/releases/20261202150420", "/srv/at"]);
        let t = r.probe_targets(inv.host(host).unwrap()).unwrap();
        assert_eq!(t.deferred, 0, "known before facts");
        assert!(
            t.paths
                .iter()
                .any(|(_, p)| p == "/srv/releases/20261202150420"),
            "{:?}",
            t.paths
        );
    }
    let got = r.resources(inv.host("w1").unwrap(), &stub_facts()).unwrap();
    let change = resources::plan(0, &got[1], &Observed::default()).expect("a plan");
    assert_eq!(
        change.and_then(|c| c.content).map(|c| c.new).as_deref(),
        Some(&b"2026-12-02T15:04:20Z 1796223860"[..])
    );
    // Without a time given: now (14 digits, this century).
    let now = Resolver::new(&pb, &inv, &extra);
    let got = now
        .resources(inv.host("w1").unwrap(), &stub_facts())
        .unwrap();
    let key = got[0].desired.key();
    assert!(
        key.starts_with("/srv/releases/20") && key.len() == "/srv/releases/".len() + 14,
        "{key}"
    );
}
