//! Ansible's `ansible_env` (`facts.env`, `ansible_facts.env`) against real lab hosts: the
//! environment of the session resources are applied in (with `become`, the root session sudo
//! gives the `deploy` login: `SUDO_USER` set; as root: none), read by the first probe only when
//! the project names it, and kept out of `play facts --save` files.

mod support;

use support::lab::Lab;
use support::project::Project;

const SITE: &str = "- hosts: lab\n  roles: [envrole]\n";

const ROLE_STATE: &str = r#"- file: /etc/envfact/who.txt
  template: who.j2
- file: /etc/envfact/facts.txt
  content: "user={{ facts.env.USER }} home={{ ansible_facts.env.HOME }}\n"
"#;

const WHO: &str =
    "home={{ ansible_env.HOME }} sudo_user={{ ansible_env.SUDO_USER | default('none') }}\n";

/// Names no environment fact (`facts['e' ~ 'nv']` is built at render time): the probe does not
/// read it, so the mapping is empty.
const PLAIN: &str = r#"- hosts: lab
  state:
    - file: /etc/envfact/plain.txt
      content: "entries={{ facts['e' ~ 'nv'] | length }}\n"
"#;

#[test]
fn ansible_env_is_the_hosts_session_environment_and_read_only_when_named() {
    let lab = Lab::start("envfact", 2);
    let p = Project::new(&lab)
        .host_var(0, "ssh_user", "deploy")
        .host_var(0, "become", "true")
        .file("site.yml", SITE)
        .file("plain.yml", PLAIN)
        .file("roles/envrole/state.yml", ROLE_STATE)
        .file("roles/envrole/templates/who.j2", WHO);

    p.play(&["apply", "site.yml"]).code(0);
    // h1: logged in as deploy, applied as root through sudo: root's session, SUDO_USER set.
    assert_eq!(
        lab.sh("h1", "cat /etc/envfact/who.txt"),
        "home=/root sudo_user=deploy\n"
    );
    assert_eq!(
        lab.sh("h1", "cat /etc/envfact/facts.txt"),
        "user=root home=/root\n"
    );
    // h2: logged in as root: no sudo.
    assert_eq!(
        lab.sh("h2", "cat /etc/envfact/who.txt"),
        "home=/root sudo_user=none\n"
    );
    assert_eq!(
        lab.sh("h2", "cat /etc/envfact/facts.txt"),
        "user=root home=/root\n"
    );
    // Converged: the same session gives the same values.
    p.play(&["diff", "site.yml", "--exit-code"]).code(0);

    // A project naming no environment fact: the probe did not read it.
    p.play(&["apply", "plain.yml"]).code(0);
    for h in ["h1", "h2"] {
        assert_eq!(
            lab.sh(h, "cat /etc/envfact/plain.txt"),
            "entries=0\n",
            "{h}"
        );
    }

    // `play facts --save` never records the environment (it may hold secrets).
    p.play(&["facts", "lab", "--save", "facts.json"]).code(0);
    let text = std::fs::read_to_string(p.path("facts.json")).expect("facts file");
    assert!(text.contains("\"hostname\""), "{text}");
    assert!(
        !text.contains("SUDO_USER") && !text.contains("/root") && !text.contains("\"env\""),
        "{text}"
    );
    lab.down();
}
