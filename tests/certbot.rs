//! `certbot:` on a real lab host against a real ACME server, all on loopback: Debian's
//! `pebble` (Let's Encrypt's test CA, started by the test on free ports of 127.0.0.1, its
//! challenges always valid) and the host's real `certbot` (the machine's, seen through the
//! host's overlay; it writes the host's own /etc/letsencrypt, an upper layer of the host, never
//! the machine's). A lineage is obtained by the webroot method with `server` and
//! `environment` (`REQUESTS_CA_BUNDLE`: pebble's TLS certificate, shipped by a `file:`), is
//! converged on the next run, has its ACME account's contact updated (not a new certificate)
//! when `email` changes, is obtained again with the new names when `domains` changes and with
//! a key of the new size when `rsa_key_size` changes, and is deleted with `state: absent`;
//! its private key never reaches the controller.

mod support;

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::lab::Lab;
use support::project::Project;

/// A pebble server, stopped (by its own pid) when dropped.
struct Pebble {
    child: Child,
    port: u16,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts pebble with a TLS certificate for 127.0.0.1 made in `dir` (its PEM returned).
fn pebble(dir: &Path) -> (Pebble, String) {
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
        ])
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl")
        .success();
    assert!(ok, "openssl req for pebble's certificate");
    let (port, admin) = (free_port(), free_port());
    let cfg = format!(
        r#"{{"pebble": {{"listenAddress": "127.0.0.1:{port}", "managementListenAddress": "127.0.0.1:{admin}", "certificate": "{d}/cert.pem", "privateKey": "{d}/key.pem", "httpPort": 5002, "tlsPort": 5001, "ocspResponderURL": "", "externalAccountBindingRequired": false}}}}"#,
        d = dir.display()
    );
    std::fs::write(dir.join("pebble.json"), cfg).expect("pebble config");
    let log = std::fs::File::create(dir.join("pebble.log")).expect("pebble log");
    let child = Command::new("pebble")
        .arg("-config")
        .arg(dir.join("pebble.json"))
        .env("PEBBLE_VA_ALWAYS_VALID", "1")
        .env("PEBBLE_WFE_NONCEREJECT", "0")
        .env("PEBBLE_VA_NOSLEEP", "1")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("pebble (apt-get install pebble)");
    let p = Pebble { child, port };
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "pebble did not listen: {}",
            std::fs::read_to_string(dir.join("pebble.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let pem = std::fs::read_to_string(dir.join("cert.pem")).expect("cert.pem");
    (p, pem)
}

/// What a lineage declares (the rest is the same in every run).
struct Lineage<'a> {
    domains: &'a str,
    email: &'a str,
    key: &'a str,
    state: &'a str,
}

fn site(port: u16, l: &Lineage) -> String {
    let Lineage {
        domains,
        email,
        key,
        state,
    } = l;
    format!(
        r#"- hosts: lab
  state:
    - file: /etc/acme-test/ca.pem
      src: ca.pem
    - directory: /var/www/acme
    - certbot: site.test
      domains: {domains}
      method: webroot
      webroot: /var/www/acme
      server: https://127.0.0.1:{port}/dir
      environment:
        REQUESTS_CA_BUNDLE: /etc/acme-test/ca.pem
      email: {email}
      {key}
      state: {state}
"#
    )
}

const SAN: &str =
    "openssl x509 -in /etc/letsencrypt/live/site.test/fullchain.pem -noout -ext subjectAltName";

/// The contact of the host's account as pebble has it (`certbot show_account` asks the server).
fn account_email(lab: &Lab, port: u16) -> String {
    lab.sh(
        "h1",
        &format!("REQUESTS_CA_BUNDLE=/etc/acme-test/ca.pem certbot show_account --non-interactive --server https://127.0.0.1:{port}/dir"),
    )
}

/// The size line of the lineage's private key (`Private-Key: (3072 bit, 2 primes)`).
fn key_size(lab: &Lab) -> String {
    lab.sh(
        "h1",
        "openssl pkey -in /etc/letsencrypt/live/site.test/privkey.pem -noout -text | head -1",
    )
}

#[test]
fn a_lineage_is_obtained_converged_changed_and_deleted() {
    let lab = Lab::start("certbot-pebble", 1);
    let scratch = tempfile::tempdir().expect("tempdir");
    let (pebble, pem) = pebble(scratch.path());
    let p = Project::new(&lab).file("files/ca.pem", &pem);
    let mut l = Lineage {
        domains: "[site.test, www.site.test]",
        email: "a@site.test",
        key: "key_type: ecdsa",
        state: "present",
    };
    p.write("site.yml", site(pebble.port, &l).as_bytes());

    // Obtained: the lineage certbot keeps, with the names asked for, from pebble.
    let run = p
        .play(&[
            "apply",
            "site.yml",
            "--format",
            "json",
            "--output",
            "report.json",
        ])
        .code(0);
    let san = lab.sh("h1", SAN);
    assert!(san.contains("DNS:site.test, DNS:www.site.test"), "{san}");
    let conf = lab.sh("h1", "cat /etc/letsencrypt/renewal/site.test.conf");
    assert!(
        conf.contains(&format!("server = https://127.0.0.1:{}/dir", pebble.port)),
        "{conf}"
    );
    assert!(conf.contains("authenticator = webroot"), "{conf}");

    // Its private key never reaches the controller: not in the output, the report, the run
    // history.
    let mut seen = run.stdout.clone() + &run.stderr;
    seen += &std::fs::read_to_string(p.path("report.json")).expect("report.json");
    let mut history = Vec::new();
    support::check::files_under(&p.path(".play"), &mut history);
    assert!(!history.is_empty(), "no run history was written");
    for (_, text) in &history {
        seen += text;
    }
    let key = lab.sh("h1", "cat /etc/letsencrypt/live/site.test/privkey.pem");
    let lines: Vec<&str> = (key.lines())
        .filter(|l| !l.starts_with("-----") && l.len() > 20)
        .collect();
    assert!(!lines.is_empty(), "no key read: {key}");
    for line in lines {
        assert!(
            !seen.contains(line),
            "a line of the private key reached the controller"
        );
    }

    // The account was registered with the email; play recorded it.
    assert!(
        account_email(&lab, pebble.port).contains("a@site.test"),
        "{}",
        account_email(&lab, pebble.port)
    );
    let record = format!(
        "cat /etc/letsencrypt/accounts/127.0.0.1:{}/dir/*/play-email",
        pebble.port
    );
    assert_eq!(lab.sh("h1", &record).trim(), "a@site.test");

    // Converged: nothing to do, no certbot run.
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);

    // Another email: certbot update_account changes the account's contact on the server, the
    // certificate stays.
    let chain = "sha256sum /etc/letsencrypt/live/site.test/fullchain.pem";
    let before = lab.sh("h1", chain);
    l.email = "b@site.test";
    p.write("site.yml", site(pebble.port, &l).as_bytes());
    p.play(&["diff", "--exit-code", "site.yml"])
        .code(2)
        .shows("account email a@site.test → b@site.test");
    p.play(&["apply", "site.yml"]).code(0);
    let contact = account_email(&lab, pebble.port);
    assert!(contact.contains("b@site.test"), "{contact}");
    assert!(!contact.contains("a@site.test"), "{contact}");
    assert_eq!(
        lab.sh("h1", chain),
        before,
        "the certificate was obtained again"
    );
    assert_eq!(lab.sh("h1", &record).trim(), "b@site.test");
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);

    // Another name set and key type: the plan says what is added and removed, certbot obtains
    // it again.
    l.domains = "[site.test, api.site.test]";
    l.key = "key_type: rsa\n      rsa_key_size: 3072";
    p.write("site.yml", site(pebble.port, &l).as_bytes());
    p.play(&["diff", "--exit-code", "site.yml"])
        .code(2)
        .shows("+ domain api.site.test")
        .shows("- domain www.site.test")
        .shows("key_type ecdsa → rsa");
    p.play(&["apply", "site.yml"]).code(0);
    let san = lab.sh("h1", SAN);
    assert!(san.contains("DNS:site.test, DNS:api.site.test"), "{san}");
    assert!(!san.contains("www.site.test"), "{san}");
    let algo = lab.sh(
        "h1",
        "openssl x509 -in /etc/letsencrypt/live/site.test/fullchain.pem -noout -text | grep 'Public Key Algorithm'",
    );
    assert!(algo.contains("rsaEncryption"), "{algo}");
    assert!(key_size(&lab).contains("3072 bit"), "{}", key_size(&lab));
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);

    // Another rsa key size: obtained again with a key of that size.
    l.key = "key_type: rsa\n      rsa_key_size: 4096";
    p.write("site.yml", site(pebble.port, &l).as_bytes());
    p.play(&["diff", "--exit-code", "site.yml"])
        .code(2)
        .shows("rsa_key_size 3072 → 4096");
    p.play(&["apply", "site.yml"]).code(0);
    assert!(key_size(&lab).contains("4096 bit"), "{}", key_size(&lab));
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);

    // Absent: certbot deletes the lineage.
    l.state = "absent";
    p.write("site.yml", site(pebble.port, &l).as_bytes());
    p.play(&["apply", "site.yml"]).code(0);
    assert_eq!(
        lab.sh(
            "h1",
            "ls /etc/letsencrypt/renewal /etc/letsencrypt/live | grep site.test || true"
        ),
        ""
    );
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);
    drop(pebble);
}

#[test]
fn bad_certbot_entries_are_located_by_check() {
    let run = support::project::check_site(
        r#"- hosts: all
  state:
    - certbot: a.example
      method: webroot
    - certbot: b.example
      method: dns
    - certbot: c.example
      domains: ["c.example,www.c.example"]
    - certbot: d.example
      certonly: false
    - certbot: e.example
      server: acme.example/directory
    - certbot: "../f"
"#,
    );
    run.code(1)
        .shows("site.yml:4:15: method webroot needs `webroot: PATH`")
        .shows("site.yml:6:15: method: `dns` is not one of standalone, nginx, apache, webroot")
        .shows("site.yml:8:16: domains: `c.example,www.c.example` is not a domain name")
        .shows("site.yml:10:17: certonly: false has certbot install the certificate")
        .shows("site.yml:12:15: server: `acme.example/directory` is not an ACME directory URL")
        .shows("site.yml:13:16: certbot `../f`: not a certificate name");
}
