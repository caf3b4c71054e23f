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
    - certbot: g.example
      post_hook: "systemctl start nginx\nsleep 1"
"#,
    );
    run.code(1)
        .shows("site.yml:4:15: method webroot needs `webroot: PATH`")
        .shows("site.yml:6:15: method: `dns` is not one of standalone, nginx, apache, webroot")
        .shows("site.yml:8:16: domains: `c.example,www.c.example` is not a domain name")
        .shows("site.yml:10:17: certonly: false has certbot install the certificate")
        .shows("site.yml:12:15: server: `acme.example/directory` is not an ACME directory URL")
        .shows("site.yml:13:16: certbot `../f`: not a certificate name")
        .shows("site.yml:15:18: post_hook: `systemctl start nginx\nsleep 1` has a line break");
}

/// A service holding the port certbot's standalone server binds (`http-01-address`,
/// `http-01-port` of the host's `/etc/letsencrypt/cli.ini`), and with `hooks` (its lines) a
/// standalone lineage.
fn standalone_site(pebble: u16, addr: &str, port: u16, hooks: Option<&str>) -> String {
    let Some(hooks) = hooks else {
        let all = standalone_site(pebble, addr, port, Some(""));
        return all
            .split("    - certbot:")
            .next()
            .unwrap_or_default()
            .to_string();
    };
    format!(
        r#"- hosts: lab
  state:
    - file: /etc/acme-test/ca.pem
      src: ca.pem
    - directory: /etc/letsencrypt
    - file: /etc/letsencrypt/cli.ini
      content: "http-01-address = {addr}\nhttp-01-port = {port}\n"
    - program: web
      command: /usr/bin/python3 -m http.server {port} --bind {addr}
      directory: /tmp
    - certbot: hooks.test
      server: https://127.0.0.1:{pebble}/dir
      environment:
        REQUESTS_CA_BUNDLE: /etc/acme-test/ca.pem
{hooks}"#
    )
}

#[test]
fn standalone_hooks_stop_and_start_the_port_holder_and_stay_for_renewals() {
    let lab = Lab::start("certbot-hooks", 1);
    let scratch = tempfile::tempdir().expect("tempdir");
    let (pebble, pem) = pebble(scratch.path());
    let addr = lab.hosts[0].addr.clone();
    let port = TcpListener::bind((addr.as_str(), 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on the host's address");
    let p = Project::new(&lab).file("files/ca.pem", &pem);
    let site = |hooks: &str| standalone_site(pebble.port, &addr, port, Some(hooks));
    let holds_port = || TcpStream::connect((addr.as_str(), port)).is_ok();

    // The service holds the port before any certbot.
    let base = standalone_site(pebble.port, &addr, port, None);
    assert!(
        !base.contains("certbot:") && base.contains("program: web"),
        "{base}"
    );
    p.write("site.yml", base.as_bytes());
    p.play(&["apply", "site.yml"]).code(0);
    let start = Instant::now();
    while !holds_port() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "web does not listen"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let first = lab.pid("h1", "web");

    // Without hooks certbot's standalone server cannot bind: the step fails, web untouched.
    p.write("site.yml", site("").as_bytes());
    p.play(&["apply", "site.yml"]).code(1);
    assert_eq!(lab.pid("h1", "web"), first);
    let live = "test -e /etc/letsencrypt/live/hooks.test && echo yes || echo no";
    assert_eq!(lab.sh("h1", live).trim(), "no");

    // With them: certbot stops web, obtains, starts web again.
    let hooks =
        "      pre_hook: supervisorctl stop web\n      post_hook: supervisorctl start web\n";
    p.write("site.yml", site(hooks).as_bytes());
    p.play(&["diff", "--exit-code", "site.yml"])
        .code(2)
        .shows("certbot runs its pre_hook `supervisorctl stop web` before and its post_hook `supervisorctl start web` after obtaining");
    p.play(&["apply", "site.yml"]).code(0);
    let san = lab.sh(
        "h1",
        "openssl x509 -in /etc/letsencrypt/live/hooks.test/fullchain.pem -noout -ext subjectAltName",
    );
    assert!(san.contains("DNS:hooks.test"), "{san}");
    let restarted = lab.pid("h1", "web");
    assert_ne!(restarted, first, "web was not stopped and started again");
    assert!(holds_port(), "web does not listen after certbot");
    let conf = lab.sh("h1", "cat /etc/letsencrypt/renewal/hooks.test.conf");
    assert!(
        conf.contains("pre_hook = supervisorctl stop web\n"),
        "{conf}"
    );
    assert!(
        conf.contains("post_hook = supervisorctl start web\n"),
        "{conf}"
    );
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);

    // Another post_hook: written into the renewal conf, no certificate, no hook run.
    let chain = "sha256sum /etc/letsencrypt/live/hooks.test/fullchain.pem";
    let before = lab.sh("h1", chain);
    let post = "supervisorctl start web; echo 'renewed, again' > /run/post-hook";
    let hooks2 = format!("      pre_hook: supervisorctl stop web\n      post_hook: \"{post}\"\n");
    p.write("site.yml", site(&hooks2).as_bytes());
    p.play(&["diff", "--exit-code", "site.yml"])
        .code(2)
        .shows(&format!("post_hook `supervisorctl start web` → `{post}`"))
        .shows("no certificate obtained, no hook run now");
    p.play(&["apply", "site.yml"]).code(0);
    assert_eq!(
        lab.sh("h1", chain),
        before,
        "the certificate was obtained again"
    );
    assert_eq!(lab.pid("h1", "web"), restarted, "a hook ran");
    assert_eq!(lab.sh("h1", "cat /run/post-hook 2>/dev/null || true"), "");
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);

    // certbot's own renewal (what its timer runs) reads play's lines: both hooks run.
    lab.sh(
        "h1",
        "REQUESTS_CA_BUNDLE=/etc/acme-test/ca.pem certbot renew --non-interactive --no-random-sleep-on-renew --force-renewal --cert-name hooks.test",
    );
    assert_eq!(lab.sh("h1", "cat /run/post-hook").trim(), "renewed, again");
    assert_ne!(lab.sh("h1", chain), before, "certbot renew did not renew");
    assert_ne!(
        lab.pid("h1", "web"),
        restarted,
        "the renewal did not stop web"
    );
    assert!(holds_port(), "web does not listen after the renewal");
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);

    // No hooks declared: they go from the renewal conf.
    p.write("site.yml", site("").as_bytes());
    p.play(&["diff", "--exit-code", "site.yml"])
        .code(2)
        .shows("pre_hook `supervisorctl stop web` → (none)");
    p.play(&["apply", "site.yml"]).code(0);
    let conf = lab.sh("h1", "cat /etc/letsencrypt/renewal/hooks.test.conf");
    assert!(!conf.contains("_hook"), "{conf}");
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);
    drop(pebble);
}

/// Every hook `certbot:` writes into a renewal conf is read back the same by configobj (the
/// library certbot reads it with, the machine's python3-configobj), and play reads what
/// configobj writes.
#[test]
fn hooks_round_trip_through_certbots_configobj() {
    use play::resources::certbot::{conf_value, read_conf_value};
    let hooks = [
        "systemctl stop nginx",
        "echo a, b",
        "echo a#b",
        "echo \"x\", y",
        " lead",
        "echo 'a' \"b\"",
        "echo 'a' \"b\" #c",
        "x = y",
        "[x]",
        "echo \"a\" 'b'",
    ];
    let mut conf = String::from("[renewalparams]\n");
    for (i, h) in hooks.iter().enumerate() {
        conf.push_str(&format!(
            "h{i} = {}\n",
            conf_value(h).expect("a hook value")
        ));
    }
    let script = r#"
import configobj, io, sys, json
ours = configobj.ConfigObj(sys.argv[1].splitlines(), encoding="utf-8", default_encoding="utf-8")
print(json.dumps([ours["renewalparams"]["h%d" % i] for i in range(len(ours["renewalparams"]))]))
theirs = configobj.ConfigObj(encoding="utf-8", default_encoding="utf-8")
theirs["renewalparams"] = {}
for i, h in enumerate(json.loads(sys.argv[2])):
    theirs["renewalparams"]["h%d" % i] = h
out = io.BytesIO()
theirs.write(out)
print(out.getvalue().decode())
"#;
    let out = Command::new("/usr/bin/python3")
        .args(["-c", script, &conf])
        .arg(serde_json::to_string(&hooks).expect("json"))
        .output()
        .expect("python3 (with python3-configobj, certbot's)");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (read, written) = text.split_once('\n').expect("two parts");
    let read: Vec<String> = serde_json::from_str(read).expect("json");
    assert_eq!(read, hooks, "configobj read play's values otherwise");
    let lines: Vec<&str> = written.lines().filter(|l| l.contains(" = ")).collect();
    assert_eq!(lines.len(), hooks.len(), "{written}");
    for (l, h) in lines.iter().zip(hooks) {
        let raw = l.split_once(" = ").map(|(_, v)| v).unwrap_or_default();
        assert_eq!(read_conf_value(raw).as_deref(), Some(h), "{l}");
    }
}
