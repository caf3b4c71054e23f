//! Inventory loading: precedence, group_vars/host_vars, aliases, errors (pure logic, no hosts).

use std::path::Path;
use std::process::Command;

use play::inventory::{self, connection_for, ConnectionOverrides, Vars};
use play::yaml::Value;

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => format!("{other:?}"),
    }
}

/// Every level of precedence sets `level`, each lower level also sets its own marker var, so
/// both "who wins" and "lower levels still visible" are checked.
fn precedence_tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "hosts.yml",
        r#"
all:
  vars: {level: all_vars, from_all: yes_all}
  hosts:
    loose:
  children:
    prod:
      vars: {level: parent_group, from_parent: yes}
      children:
        web:
          vars: {level: child_group, from_child: yes}
          hosts:
            web1: {level: host_inline, ansible_host: 127.0.0.21, ansible_port: 2222, ansible_user: deploy, ansible_become: true, ansible_ssh_private_key_file: /k/id}
            web2:
    other:
      hosts:
        web2: {ssh_host: 127.0.0.22}
"#,
    );
    write(d.path(), "group_vars/all.yml", "level: gv_all\ngv_all: 1\n");
    write(d.path(), "group_vars/prod.yml", "level: gv_parent\n");
    write(d.path(), "group_vars/web/a.yml", "level: gv_child_a\n");
    write(
        d.path(),
        "group_vars/web/b.yml",
        "level: gv_child_b\nfrom_dir: b\n",
    );
    write(d.path(), "host_vars/web1.yml", "level: hv_file\n");
    write(d.path(), "host_vars/web2/x.yaml", "hv_dir: x\n");
    d
}

#[test]
fn precedence_from_all_to_extra_vars() {
    let d = precedence_tree();
    let inv = inventory::load(d.path(), &Vars::new()).unwrap();
    let web1 = inv.host("web1").unwrap();
    assert_eq!(s(&web1.vars["level"]), "hv_file");
    assert_eq!(s(&web1.vars["from_all"]), "yes_all");
    // `yes` unquoted is a YAML 1.1 boolean, as Ansible reads it; `yes_all` stays text.
    assert_eq!(web1.vars["from_parent"], Value::Bool(true));
    assert_eq!(s(&web1.vars["from_dir"]), "b");
    assert_eq!(web1.groups, ["prod", "web"]);

    // web2: no inline level, no host_vars level → last group_vars file of the deepest group.
    let web2 = inv.host("web2").unwrap();
    assert_eq!(s(&web2.vars["level"]), "gv_child_b");
    assert_eq!(s(&web2.vars["hv_dir"]), "x");
    assert_eq!(web2.groups, ["other", "prod", "web"]);

    // loose host: only `all` applies; it is in `ungrouped`.
    let loose = inv.host("loose").unwrap();
    assert_eq!(s(&loose.vars["level"]), "gv_all");
    assert_eq!(loose.groups, ["ungrouped"]);

    // Extra vars beat everything.
    let extra = inventory::parse_extra_vars(&["level=cli".into()]).unwrap();
    let inv = inventory::load(d.path(), &extra).unwrap();
    assert_eq!(s(&inv.host("web1").unwrap().vars["level"]), "cli");
}

#[test]
fn group_vars_files_beat_inline_group_vars_in_depth_order() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "hosts.yml",
        "all:\n  children:\n    parent:\n      vars: {a: inline_parent, b: inline_parent}\n      children:\n        child:\n          vars: {a: inline_child, b: inline_child}\n          hosts: {h: }\n",
    );
    write(d.path(), "group_vars/parent.yml", "a: file_parent\n");
    let inv = inventory::load(d.path(), &Vars::new()).unwrap();
    let h = inv.host("h").unwrap();
    assert_eq!(
        s(&h.vars["a"]),
        "file_parent",
        "group_vars file beats inline child vars"
    );
    assert_eq!(
        s(&h.vars["b"]),
        "inline_child",
        "child group beats parent group"
    );
}

#[test]
fn extra_vars_forms() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "x.yml", "from_file: 1\nboth: file\n");
    let at = format!("@{}", d.path().join("x.yml").display());
    let v = inventory::parse_extra_vars(&[at, "both=cli a=b".into(), "{\"j\": [1, 2]}".into()])
        .unwrap();
    assert_eq!(s(&v["both"]), "cli");
    assert_eq!(s(&v["a"]), "b");
    assert!(matches!(v["j"], Value::Sequence(_)));
    assert!(inventory::parse_extra_vars(&["novalue".into()]).is_err());
}

#[test]
fn ansible_aliases_and_cli_overrides() {
    let d = precedence_tree();
    let inv = inventory::load(d.path(), &Vars::new()).unwrap();
    let c = connection_for(inv.host("web1").unwrap(), &ConnectionOverrides::default()).unwrap();
    assert_eq!(c.address, "127.0.0.21");
    assert_eq!(c.port, 2222);
    assert_eq!(c.user, "deploy");
    assert!(c.become_root);
    assert_eq!(c.private_keys, [Path::new("/k/id")]);
    assert_eq!(c.display_addr(), "[127.0.0.21]:2222");

    let o = ConnectionOverrides {
        user: Some("root".into()),
        private_key: Some("/other".into()),
        known_hosts: Some("/kh".into()),
        ..Default::default()
    };
    let c = connection_for(inv.host("web2").unwrap(), &o).unwrap();
    assert_eq!(
        (c.address.as_str(), c.port, c.user.as_str()),
        ("127.0.0.22", 22, "root")
    );
    assert_eq!(c.private_keys, [Path::new("/other")]);
    assert_eq!(c.known_hosts, Path::new("/kh"));
    assert!(!c.become_root);
}

#[test]
fn single_file_inventory_reads_group_vars_beside_it() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "prod.yml", "web:\n  hosts:\n    w1:\n");
    write(d.path(), "group_vars/web.yml", "port: 8000\n");
    let inv = inventory::load(&d.path().join("prod.yml"), &Vars::new()).unwrap();
    assert_eq!(
        inv.host("w1").unwrap().vars["port"],
        Value::Number(8000.into())
    );
    assert_eq!(inv.select("web").unwrap().len(), 1);
}

fn play(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_play"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn yaml_errors_name_file_line_and_column() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "hosts.yml",
        "all:\n  hosts:\n    h1:\n  childern:\n    web: {}\n",
    );
    let out = play(&["inventory", "-i", d.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let expected = format!(
        "{}:4:3: all: unknown key `childern`, did you mean `children`?",
        d.path().join("hosts.yml").display()
    );
    assert!(err.contains(&expected), "stderr: {err}");

    write(d.path(), "hosts.yml", "all:\n  hosts: [h1\n");
    let out = play(&["inventory", "-i", d.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:", d.path().join("hosts.yml").display())),
        "{err}"
    );
    assert!(
        err.contains(":3:1:") || err.contains(":2:"),
        "position missing: {err}"
    );

    write(d.path(), "hosts.yml", "all:\n  hosts: {h1: }\n");
    write(d.path(), "group_vars/all.yml", "a: [\n");
    let out = play(&["inventory", "-i", d.path().to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("group_vars/all.yml:"), "{err}");
}

#[test]
fn inventory_command_graph_list_host() {
    let d = precedence_tree();
    let p = d.path().to_str().unwrap();
    let out = play(&["inventory", "-i", p, "--graph"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert_eq!(
        text,
        "@all:\n  |--@prod:\n  |  |--@web:\n  |  |  |--web1\n  |  |  |--web2\n  |--@other:\n  |  |--web2\n  |--@ungrouped:\n  |  |--loose\n"
    );
    let out = play(&[
        "inventory",
        "-i",
        p,
        "--list",
        "--limit",
        "web:!web2",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["hosts"].as_array().unwrap().len(), 1);
    assert_eq!(v["hosts"][0]["name"], "web1");
    let out = play(&["inventory", "-i", p, "--host", "web1", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["level"], "hv_file");
}
