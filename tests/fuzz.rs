//! Hostile input with a fixed budget (proptest): the YAML loaders, templating and the probe-output
//! parser never panic or hang; every failure is a clean, located message.

use std::path::Path;

use proptest::prelude::*;

use play::inventory::{self, Vars};
use play::playbook;
use play::resolve::{stub_facts, Resolver};

const PLAYBOOK: &str = r#"- name: web
  hosts: web
  vars: {a: "{{ b }}", b: x}
  roles: [r]
  state:
    - file: /etc/x
      content: "{{ a }}"
      mode: "0644"
    - link: /srv/current
      target: /srv/releases/1
      when: "facts.cpus > 1"
    - file: "/etc/c_{{ item }}"
      loop: [1, 2]
"#;
const ROLE: &str = "- directory: /srv\n  mode: \"0755\"\n";
const INVENTORY: &str =
    "all:\n  vars: {v: 1}\n  children:\n    web:\n      hosts: {w1: {ssh_host: 127.0.0.1}, w2: }\n";

fn cfg() -> ProptestConfig {
    ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A valid document with a few bytes replaced, deleted or inserted.
fn mutated(base: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec((0..base.len(), any::<u8>(), 0u8..3), 1..6).prop_map(move |edits| {
        let mut b = base.as_bytes().to_vec();
        for (pos, byte, op) in edits {
            let pos = pos.min(b.len().saturating_sub(1));
            match op {
                0 => b[pos] = byte,
                1 => {
                    b.remove(pos);
                }
                _ => b.insert(pos, byte),
            }
        }
        String::from_utf8_lossy(&b).into_owned()
    })
}

fn project(playbook_text: &str, role_text: &str, inventory_text: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("pb")).unwrap();
    std::fs::create_dir_all(d.path().join("roles/r")).unwrap();
    std::fs::write(d.path().join("pb/site.yml"), playbook_text).unwrap();
    std::fs::write(d.path().join("roles/r/state.yml"), role_text).unwrap();
    std::fs::write(d.path().join("hosts.yml"), inventory_text).unwrap();
    d
}

/// Loads and resolves everything; errors must be located (`file:line:col:` or `file:`).
fn exercise(d: &Path) {
    let inv = match inventory::load(&d.join("hosts.yml"), &Vars::new()) {
        Ok(i) => i,
        Err(e) => {
            assert!(e.to_string().contains("hosts.yml"), "unlocated: {e}");
            return;
        }
    };
    let pb = match playbook::load(&d.join("pb/site.yml")) {
        Ok(p) => p,
        Err(e) => {
            let m = e.to_string();
            assert!(
                m.contains("site.yml") || m.contains("state.yml"),
                "unlocated: {m}"
            );
            return;
        }
    };
    let extra = Vars::new();
    let r = Resolver::new(&pb, &inv, &extra);
    for h in &inv.hosts {
        let _ = r.probe_targets(h);
        if let Err(e) = r.resources(h, &stub_facts()) {
            assert!(!e.to_string().is_empty());
        }
    }
}

/// Found by `arbitrary_template_expressions_never_panic`: `}}` closing nothing in a standalone
/// expression (a `when:`) panicked inside minijinja's lexer ("empty lexer stack").
#[test]
fn an_expression_closing_a_variable_it_never_opened_is_an_error() {
    let expr = "['']}}'";
    let pb = format!(
        "- hosts: web\n  state:\n    - file: /etc/x\n      content: \"{{{{ {expr} }}}}\"\n      when: \"{expr}\"\n"
    );
    let d = project(&pb, ROLE, INVENTORY);
    exercise(d.path());
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn mutated_playbooks_never_panic(text in mutated(PLAYBOOK)) {
        let d = project(&text, ROLE, INVENTORY);
        exercise(d.path());
    }

    #[test]
    fn mutated_roles_never_panic(text in mutated(ROLE)) {
        let d = project(PLAYBOOK, &text, INVENTORY);
        exercise(d.path());
    }

    #[test]
    fn mutated_inventories_never_panic(text in mutated(INVENTORY)) {
        let d = project(PLAYBOOK, ROLE, &text);
        exercise(d.path());
    }

    #[test]
    fn arbitrary_yaml_text_never_panics(text in "[ -~\n\t]{0,200}") {
        let d = project(&text, &text, &text);
        exercise(d.path());
        let _ = play::yaml::node_positions(&text);
    }

    #[test]
    fn arbitrary_template_expressions_never_panic(expr in "[a-z0-9_.()|'\" +*/%<>=!\\[\\]{}-]{0,40}") {
        let pb = format!("- hosts: web\n  state:\n    - file: /etc/x\n      content: \"{{{{ {} }}}}\"\n      when: \"{}\"\n", expr.replace('"', "'"), expr.replace('"', "'"));
        let d = project(&pb, ROLE, INVENTORY);
        exercise(d.path());
    }

    #[test]
    fn probe_output_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = play::probe::parse(&bytes);
        let _ = play::probe::parse_fetch(&bytes);
    }

    #[test]
    fn probe_output_parser_survives_hostile_records(
        fields in prop::collection::vec(prop_oneof![
            Just("stat".to_string()), Just("fact".to_string()), Just("sums".to_string()),
            Just("empty".to_string()), Just("err".to_string()), Just("end".to_string()),
            "[ -~\n]{0,30}",
        ], 0..30)
    ) {
        let mut out = b"play-probe\0v1\0".to_vec();
        for f in fields {
            out.extend_from_slice(f.as_bytes());
            out.push(0);
        }
        let _ = play::probe::parse(&out);
    }
}
