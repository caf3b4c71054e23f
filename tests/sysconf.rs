//! `hostname:`, `timezone:` and `ufw:` on a real lab host: applied, checked on the host, a
//! second `diff --exit-code` clean, ufw enabled and disabled, a zone the host lacks refused
//! by the plan, and bad keys located by `play check`.
//!
//! ufw: the host runs the real `ufw` program, which writes its real files. Even inactive,
//! `ufw allow` probes iptables' capabilities (it creates and deletes a chain), and enabling it
//! loads its rules: the lab hosts share the machine's network namespace, so on the lab host
//! `/usr/sbin/ufw` is replaced (in the host's own overlay) by a script running the real one,
//! moved to `/usr/sbin/ufw.real`, in a network namespace of its own (`unshare --net`), with
//! `IPT_SYSCTL` emptied in its `/etc/default/ufw` (no sysctl written) and no kernel module to
//! load (`IPT_MODULES=""`, Debian's default): the machine's firewall is never touched. Every
//! call is logged, and the test checks the machine's own ufw stays as it was.

mod support;

use support::lab::Lab;
use support::project::Project;

const SITE: &str = r#"- hosts: lab
  state:
    - hostname: "{{ name }}"
    - timezone: Europe/Paris
    - ufw: allow ssh
    - ufw: allow 8080/tcp
      from: 10.0.0.0/8
    - ufw: allow OpenSSH
    - ufw: deny 25
      direction: out
      proto: tcp
    - ufw: allow http
      state: absent
"#;

const BOGUS: &str = "- hosts: lab\n  state:\n    - timezone: Europe/Nowhere\n";

const BAD: &str = r#"- hosts: lab
  state:
    - ufw: allow 6000:6007
    - ufw: enabled
      from: 10.0.0.1
    - hostname: web_1
    - timezone: Europe/../../etc/passwd
"#;

/// The rule lines of ufw's rules file on `h1`.
fn tuples(lab: &Lab, file: &str) -> String {
    lab.sh("h1", &format!("grep '^### tuple' /etc/ufw/{file} || true"))
}

#[test]
fn hostname_timezone_and_ufw_rules_on_a_host() {
    let lab = Lab::start("sysconf-lab", 1);
    // the real ufw, in a network namespace of its own (see the module's comment), logging
    // its calls; an `allow http` rule to delete; another zone to replace
    lab.sh(
        "h1",
        "mv /usr/sbin/ufw /usr/sbin/ufw.real \
         && printf '#!/bin/sh\\necho \"$*\" >> /tmp/ufw-calls\\nexec unshare --net /usr/sbin/ufw.real \"$@\"\\n' > /usr/sbin/ufw && chmod 755 /usr/sbin/ufw \
         && sed -i 's|^IPT_SYSCTL=.*|IPT_SYSCTL=|' /etc/default/ufw && grep -qx 'IPT_MODULES=\"\"' /etc/default/ufw \
         && ufw allow http >/dev/null && rm /tmp/ufw-calls \
         && ln -sfn /usr/share/zoneinfo/Etc/UTC /etc/localtime && echo Etc/UTC > /etc/timezone",
    );
    assert!(tuples(&lab, "user.rules").contains("allow tcp 80 0.0.0.0/0 any 0.0.0.0/0 in"));
    let p = Project::new(&lab)
        .file("site.yml", SITE)
        .file("bogus.yml", BOGUS)
        .file("bad.yml", BAD)
        .file("enable.yml", &format!("{SITE}    - ufw: enabled\n"))
        .file("disable.yml", &format!("{SITE}    - ufw: disabled\n"))
        .var("name", "sysconf-h1");

    p.play(&["diff", "--exit-code", "site.yml"])
        .code(2)
        .shows("running name h1 → sysconf-h1")
        .shows(
            "/etc/localtime → /usr/share/zoneinfo/Europe/Paris (was → /usr/share/zoneinfo/Etc/UTC)",
        )
        .shows("+ create ufw allow ssh")
        .shows("- delete ufw allow http");
    p.play(&["apply", "site.yml"]).code(0);

    assert_eq!(
        lab.sh("h1", "hostname; cat /etc/hostname"),
        "sysconf-h1\nsysconf-h1\n"
    );
    assert_eq!(
        lab.sh(
            "h1",
            "readlink /etc/localtime; cat /etc/timezone; date -d 2026-12-02T12:00Z +%Z"
        ),
        "/usr/share/zoneinfo/Europe/Paris\nEurope/Paris\nCET\n"
    );
    assert_eq!(
        tuples(&lab, "user.rules"),
        "### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in\n\
         ### tuple ### allow tcp 8080 0.0.0.0/0 any 10.0.0.0/8 in\n\
         ### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 OpenSSH - in\n\
         ### tuple ### deny tcp 25 0.0.0.0/0 any 0.0.0.0/0 out\n"
    );
    // the rules of any address are IPv6 ones too; the IPv4 network's is not
    assert!(!tuples(&lab, "user6.rules").contains("8080"));
    assert!(tuples(&lab, "user6.rules").contains("allow tcp 22 ::/0 any ::/0 in"));
    // the real ufw made them, and it is still inactive
    let calls = lab.sh("h1", "cat /tmp/ufw-calls");
    assert!(calls.contains("allow ssh\n"), "{calls}");
    assert!(calls.contains("delete allow http\n"), "{calls}");
    assert!(!calls.contains("enable"), "{calls}");
    assert_eq!(
        lab.sh("h1", "grep '^ENABLED=' /etc/ufw/ufw.conf"),
        "ENABLED=no\n"
    );

    // converged: nothing left to do
    let run = p.play(&["diff", "--exit-code", "site.yml"]).code(0);
    assert_eq!(run.recap("h1").1, 0, "{}", run.stdout);

    // enabled, then disabled again: by the real ufw, in its own network namespace
    let machine_conf = std::fs::read_to_string("/etc/ufw/ufw.conf").unwrap_or_default();
    // never the machine's network namespace: the host's ufw is the wrapper
    assert!(
        lab.sh("h1", "cat /usr/sbin/ufw")
            .contains("exec unshare --net /usr/sbin/ufw.real"),
        "the lab host's ufw must run in a network namespace of its own"
    );
    p.play(&["apply", "enable.yml"])
        .code(0)
        .shows("~ update ufw enabled");
    assert_eq!(
        lab.sh("h1", "grep '^ENABLED=' /etc/ufw/ufw.conf"),
        "ENABLED=yes\n"
    );
    assert!(lab
        .sh("h1", "cat /tmp/ufw-calls")
        .contains("--force enable\n"));
    let run = p.play(&["diff", "--exit-code", "enable.yml"]).code(0);
    assert_eq!(run.recap("h1").1, 0, "{}", run.stdout);
    p.play(&["apply", "disable.yml"]).code(0);
    assert_eq!(
        lab.sh("h1", "grep '^ENABLED=' /etc/ufw/ufw.conf"),
        "ENABLED=no\n"
    );
    assert_eq!(
        std::fs::read_to_string("/etc/ufw/ufw.conf").unwrap_or_default(),
        machine_conf,
        "the machine's own ufw is left alone"
    );

    // a zone the host has no file for: the plan refuses it, the host keeps its zone
    p.play(&["diff", "bogus.yml"])
        .code(1)
        .shows("the host has no /usr/share/zoneinfo/Europe/Nowhere");
    assert_eq!(lab.sh("h1", "cat /etc/timezone"), "Europe/Paris\n");

    // bad keys: every one located by `play check`
    p.play(&["check", "bad.yml"])
        .code(1)
        .shows("bad.yml:3:12")
        .shows("a port range or list needs its protocol")
        .shows("bad.yml:4:7")
        .shows("`from` is a key of a rule")
        .shows("bad.yml:6:17")
        .shows("host name `web_1`")
        .shows("bad.yml:7:17")
        .shows("time zone `Europe/../../etc/passwd`");
}
