//! The TLS kinds on a real lab host (real sshd, real openssl): `private_key:` (rsa, ed25519),
//! `dhparam:`, a self-signed `certificate:` and a `csr:` made, converged, and made again when
//! they no longer match; the key never reaches the controller's output or run history. Sizes are
//! small for speed: rsa 1024, dhparam 512 (openssl 3.0 makes 512-bit parameters in well under
//! a second here; 2048 takes seconds to minutes).

mod support;

use support::lab::Lab;
use support::project::Project;

fn site(rsa_bits: u32) -> String {
    format!(
        r#"- hosts: lab
  state:
    - directory: /etc/tlsdemo
      mode: "0755"
    - private_key: /etc/tlsdemo/site.key
      size: {rsa_bits}
    - private_key: /etc/tlsdemo/ed.key
      type: ed25519
      mode: "0640"
    - dhparam: /etc/tlsdemo/dh.pem
      size: 512
    - certificate: /etc/tlsdemo/site.pem
      private_key: /etc/tlsdemo/site.key
      subject: /CN=site.example/O=Play Test
      subject_alt_name: ["DNS:site.example", "IP:127.0.0.1"]
      days: 10
    - csr: /etc/tlsdemo/site.csr
      privatekey_path: /etc/tlsdemo/site.key
      common_name: site.example
      subject_alt_name: ["DNS:site.example", "DNS:www.site.example"]
      mode: "0644"
"#
    )
}

/// The public key of a key file and of a certificate, as the host's openssl prints them; the
/// request's must be the key's too.
fn publics(lab: &Lab) -> (String, String) {
    let key = lab.sh("h1", "openssl pkey -in /etc/tlsdemo/site.key -pubout");
    assert_eq!(
        lab.sh("h1", "openssl req -in /etc/tlsdemo/site.csr -noout -pubkey"),
        key,
        "the request is not made from the key"
    );
    (
        key,
        lab.sh(
            "h1",
            "openssl x509 -in /etc/tlsdemo/site.pem -noout -pubkey",
        ),
    )
}

#[test]
fn keys_dhparam_and_a_certificate_are_made_and_kept_on_the_host() {
    let lab = Lab::start("tls-kinds", 1);
    let p = Project::new(&lab).file("site.yml", &site(1024));

    let started = std::time::Instant::now();
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
    let took = started.elapsed();
    // Made, with their modes: a key is never readable by others.
    assert_eq!(
        lab.sh(
            "h1",
            "stat -c '%a %U' /etc/tlsdemo/site.key /etc/tlsdemo/ed.key /etc/tlsdemo/dh.pem /etc/tlsdemo/site.pem /etc/tlsdemo/site.csr"
        ),
        "600 root\n640 root\n644 root\n644 root\n644 root\n"
    );
    assert!(lab
        .sh(
            "h1",
            "openssl pkey -in /etc/tlsdemo/site.key -noout -text_pub"
        )
        .starts_with("Public-Key: (1024 bit)"));
    assert!(lab
        .sh(
            "h1",
            "openssl pkey -in /etc/tlsdemo/ed.key -noout -text_pub"
        )
        .starts_with("ED25519 Public-Key:"));
    assert_eq!(
        lab.sh(
            "h1",
            "openssl pkeyparam -in /etc/tlsdemo/dh.pem -noout -text | head -n 1"
        ),
        "DH Parameters: (512 bit)\n"
    );
    // The certificate is signed by the declared key, with the subject and names asked for.
    let (key_pub, cert_pub) = publics(&lab);
    assert_eq!(key_pub, cert_pub);
    let cert = lab.sh(
        "h1",
        "openssl x509 -in /etc/tlsdemo/site.pem -noout -subject -nameopt RFC2253 -ext subjectAltName && openssl verify -CAfile /etc/tlsdemo/site.pem /etc/tlsdemo/site.pem",
    );
    assert!(
        cert.contains("subject=O=Play Test,CN=site.example"),
        "{cert}"
    );
    assert!(
        cert.contains("DNS:site.example, IP Address:127.0.0.1"),
        "{cert}"
    );
    assert!(cert.contains("/etc/tlsdemo/site.pem: OK"), "{cert}");
    // The request: made from the key (its self-signature verifies), its subject, names and
    // digest as asked.
    let csr = lab.sh(
        "h1",
        "openssl req -in /etc/tlsdemo/site.csr -noout -verify -subject -nameopt RFC2253 -text 2>&1",
    );
    assert!(csr.contains("verify OK"), "{csr}");
    assert!(csr.contains("subject=CN=site.example"), "{csr}");
    assert!(
        csr.contains("DNS:site.example, DNS:www.site.example"),
        "{csr}"
    );
    assert!(csr.contains("sha256WithRSAEncryption"), "{csr}");
    // No temp file left beside them.
    assert_eq!(
        lab.sh("h1", "ls -A /etc/tlsdemo"),
        "dh.pem\ned.key\nsite.csr\nsite.key\nsite.pem\n"
    );
    eprintln!("first apply (rsa 1024, ed25519, dhparam 512, certificate): {took:?}");

    // The private keys never reach the controller: not in the output, the JSON report, the
    // run history.
    let mut seen = run.stdout.clone() + &run.stderr;
    seen += &std::fs::read_to_string(p.path("report.json")).expect("report.json");
    let mut history = Vec::new();
    support::check::files_under(&p.path(".play"), &mut history);
    for (_, text) in &history {
        seen += text;
    }
    for key in ["/etc/tlsdemo/site.key", "/etc/tlsdemo/ed.key"] {
        let pem = lab.sh("h1", &format!("cat {key}"));
        for line in pem
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() > 20)
        {
            assert!(
                !seen.contains(line),
                "a line of {key} reached the controller"
            );
        }
    }
    assert!(!history.is_empty(), "no run history was written");

    // Converged: nothing to do.
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);

    // A key replaced on the host by another: the certificate is no longer signed by it.
    lab.sh(
        "h1",
        "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out /etc/tlsdemo/site.key 2>/dev/null && chmod 600 /etc/tlsdemo/site.key",
    );
    p.play(&["diff", "--exit-code", "site.yml"])
        .code(2)
        .shows("not signed by private_key /etc/tlsdemo/site.key")
        .shows("not made from private_key /etc/tlsdemo/site.key");
    p.play(&["apply", "site.yml"]).code(0);
    let (key_pub, cert_pub) = publics(&lab);
    assert_eq!(key_pub, cert_pub);
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);

    // Another size: the key is made again, and the certificate signed again by it (known
    // after it); a mode opened by hand is closed again.
    lab.sh("h1", "chmod 644 /etc/tlsdemo/ed.key");
    p.write("site.yml", site(2048).as_bytes());
    p.play(&["diff", "site.yml"])
        .code(0)
        .shows("rsa 1024 → rsa 2048: regenerated")
        .shows("known after private_key /etc/tlsdemo/site.key: signed again by it")
        .shows("known after private_key /etc/tlsdemo/site.key: made again from it")
        .shows("mode 0644 → 0640");
    p.play(&["apply", "site.yml"]).code(0);
    assert!(lab
        .sh(
            "h1",
            "openssl pkey -in /etc/tlsdemo/site.key -noout -text_pub"
        )
        .starts_with("Public-Key: (2048 bit)"));
    let (key_pub, cert_pub) = publics(&lab);
    assert_eq!(key_pub, cert_pub);
    assert_eq!(lab.sh("h1", "stat -c %a /etc/tlsdemo/ed.key"), "640\n");
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);

    // A request made by hand with another subject and digest is made again.
    lab.sh(
        "h1",
        "openssl req -new -key /etc/tlsdemo/site.key -subj /CN=old.example -sha512 -out /etc/tlsdemo/site.csr",
    );
    p.play(&["diff", "--exit-code", "site.yml"])
        .code(2)
        .shows("subject /CN=old.example → /CN=site.example")
        .shows("subject_alt_name [] → [DNS:site.example, DNS:www.site.example]")
        .shows("digest sha512 → sha256");
    p.play(&["apply", "site.yml"]).code(0);
    publics(&lab);
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);

    // Parameters of another size are made again.
    lab.sh(
        "h1",
        "openssl dhparam -dsaparam -out /etc/tlsdemo/dh.pem 1024 2>/dev/null",
    );
    p.play(&["diff", "--exit-code", "site.yml"])
        .code(2)
        .shows("bits: regenerated");
    p.play(&["apply", "site.yml"]).code(0);
    p.play(&["diff", "--exit-code", "site.yml"]).code(0);
}

#[test]
fn bad_tls_entries_are_located_by_check() {
    let run = support::project::check_site(
        r#"- hosts: all
  state:
    - private_key: /etc/ssl/private/a.key
      type: dsa
    - private_key: /etc/ssl/private/b.key
      type: ed25519
      size: 2048
    - dhparam: /etc/nginx/dh.pem
      size: 64
    - certificate: /etc/ssl/certs/a.pem
      private_key: /etc/ssl/private/a.key
      subject: /CN=a/oops
    - certificate: /etc/ssl/certs/b.pem
      private_key: /etc/ssl/private/b.key
      subject: /CN=b
      subject_alt_name: [b.example]
    - csr: /etc/ssl/a.csr
      private_key: /etc/ssl/private/a.key
      common_name: a
      digest: md5
"#,
    );
    run.code(1)
        .shows("site.yml:4:13: type: `rsa`, `ecdsa` or `ed25519`, not `dsa`")
        .shows("site.yml:7:13: size: only an `rsa` key has one")
        .shows("site.yml:9:13: size: 64 is out of range (512–16384)")
        .shows("site.yml:12:16: subject `/CN=a/oops`: `oops` is not NAME=VALUE")
        .shows("site.yml:16:25: subject_alt_name: `b.example` is not DNS:NAME")
        .shows("site.yml:20:15: digest: one of sha256, sha384, sha512, sha224, not `md5`");
}
