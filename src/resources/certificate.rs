//! `certificate:` — a self-signed X.509 certificate made on the host with `openssl req -x509`
//! from a private key of the host (Ansible's `community.crypto.x509_certificate` /
//! `openssl_certificate` with `provider: selfsigned`, and the `openssl req -x509` snakeoil of
//! many roles).
//!
//! ```yaml
//! - private_key: /etc/ssl/private/site.key
//! - certificate: /etc/ssl/certs/site.pem
//!   private_key: /etc/ssl/private/site.key   # signed by it (a `private_key:` declared
//!                                            # before it: known after it)
//!   subject: /CN=site.example/O=Example      # or a mapping: {CN: site.example, O: Example}
//!   subject_alt_name: ["DNS:site.example", "IP:127.0.0.1"]
//!   days: 3650                               # validity (default 3650, as selfsigned's)
//!   mode: "0644"
//! ```
//!
//! Probe: the `x509` record ([`super::tls`]: subject, subjectAltName, public key, expired by
//! the host's clock) and the key's `pkey` record (the same fragment as a `private_key:` of
//! that path: the probe runs it once). Plan: created when missing; regenerated when it does not
//! match its key, its subject or subjectAltName differ, it has expired, or openssl cannot read
//! it; known after a change of its key earlier in the run. Not checked: the validity left
//! (a certificate is not renewed before it expires), its extensions besides subjectAltName.
//! Apply: the key is read inside its pinned folder without following a link and piped to
//! `openssl req -x509 -new -key /dev/stdin`, which writes a private temp file renamed into
//! place.

use super::deploy::{Planned, Refused};
use super::registry::Key;
use super::tls::{self, Seen, TlsOp};
use super::{Attrs, Presence};
use crate::resolve::{Base, Keys, ResolveError};
use crate::transport::shell_quote;

/// selfsigned's default validity (`selfsigned_not_after: +3650d`).
pub const DEFAULT_DAYS: u32 = 3650;

/// One certificate, rendered for one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateSpec {
    pub path: String,
    pub presence: Presence,
    /// The path of its private key on the host.
    pub private_key: String,
    /// `(short name, value)` in order (`("CN", "site.example")`).
    pub subject: Vec<(String, String)>,
    /// `DNS:x`, `IP:1.2.3.4`, `email:…`, `URI:…`.
    pub subject_alt_name: Vec<String>,
    pub days: u32,
    pub attrs: Attrs,
}

/// What the probe saw of a certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertSeen {
    pub names: tls::Names,
    pub expired: bool,
}

/// Reads the `x509` record's text (`None`: not a certificate openssl reads).
pub fn parse_seen(text: &str) -> Option<CertSeen> {
    let names = tls::parse_names(text);
    let mut verdict = None;
    for l in text.lines() {
        if l.starts_with("Certificate will not expire") {
            verdict = Some(false);
        } else if l.starts_with("Certificate will expire") {
            verdict = Some(true);
        }
    }
    let expired = verdict?;
    (!names.public_key.is_empty()).then_some(CertSeen { names, expired })
}

/// Plans one certificate. `key`: its key's `pkey` record; `changed`: the keys of the host's
/// changes planned before it.
pub fn plan(
    spec: &CertificateSpec,
    have: &super::PathState,
    seen: &Seen,
    key: &Seen,
    changed: &[&str],
) -> Result<Option<Planned<TlsOp>>, Refused> {
    let mut wrong = Vec::new();
    if spec.presence == Presence::Present {
        let key_changes = changed.contains(&spec.private_key.as_str());
        let public = tls::signing_key(&spec.path, &spec.private_key, key, changed)?;
        if let Seen::Text(t) = seen {
            match parse_seen(t) {
                None => wrong.push("not a certificate openssl reads: regenerated".into()),
                Some(c) => {
                    wrong = tls::names_wrong(
                        &c.names,
                        &spec.subject,
                        &spec.subject_alt_name,
                        &spec.private_key,
                        public.as_ref(),
                        key_changes,
                        ("signed by", "signed again by it"),
                    );
                    if c.expired {
                        wrong.push("expired: regenerated".into());
                    }
                }
            }
        }
    }
    tls::plan(
        &spec.path,
        spec.presence,
        &spec.attrs,
        have,
        format!(
            "{} for {} days, signed by {}",
            tls::subject_arg(&spec.subject),
            spec.days,
            spec.private_key
        ),
        wrong,
    )
}

/// The shell text filling the step's temp file.
fn fill(spec: &CertificateSpec) -> String {
    let san = tls::san_arg(&spec.subject_alt_name);
    format!(
        "{} | openssl req -x509 -new -utf8 -key /dev/stdin -passin pass: -subj {} -days {}{san} -out \"$t\"",
        tls::read_key(&spec.private_key),
        shell_quote(&tls::subject_arg(&spec.subject)),
        spec.days,
    )
}

/// The probe fragment of a certificate (its record `x509`).
fn probe_fragment(path: &str) -> String {
    tls::probe_fragment(
        "x509",
        path,
        "x509 -noout -subject -nameopt sep_multiline,sname,utf8 -ext subjectAltName -pubkey -checkend 0",
        false,
    )
}

impl super::Spec for CertificateSpec {
    super::tls::from_key_spec_methods!("x509", "certificate");
}

/// The registry line of `certificate:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Certificate,
    name: "certificate",
    keys: &[
        Key::Text("private_key"),
        Key::Any("subject"),
        Key::Any("subject_alt_name"),
        Key::Any("days"),
        Key::Text("owner"),
        Key::Text("group"),
        Key::Any("mode"),
    ],
    is_path: true,
    watchable: true,
    docs_section: "`certificate: PATH` — a self-signed certificate made on the host",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key: super::registry::path_key,
    render: super::registry::Render::Fn(from_entry),
    check_value,
    records: &[super::registry::Record {
        tag: "x509",
        fields: 3,
        per_host: false,
    }],
    check_entry,
};

/// `subject` as written in `-subj`'s form (the importer's is checked with it).
pub fn check_value(key: &str, value: &str) -> Result<(), String> {
    match key {
        "subject" if !value.contains("{{") => tls::parse_subject(value).map(|_| ()),
        _ => Ok(()),
    }
}

/// A certificate names its key and its subject.
fn check_entry(e: &crate::playbook::RawResource) -> Result<(), String> {
    for k in ["private_key", "subject"] {
        if !e.has(k) && e.text("state") != Some("absent") {
            return Err(format!(
                "a certificate needs `{k}` (the private key that signs it, and its subject: /CN=…)"
            ));
        }
    }
    Ok(())
}

/// The spec of a `certificate:` entry, its errors located at their keys.
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, attrs, state } = b;
    let presence = k.presence(&state)?;
    let private_key = k.path("private_key")?.unwrap_or_default();
    if private_key == key {
        return Err(k.fail(
            "private_key",
            format!("private_key: {key} is the certificate itself"),
        ));
    }
    let subject = tls::subject_of(k, presence == Presence::Present)?;
    let subject_alt_name = tls::san_of(k)?;
    let days = k.number("days")?.unwrap_or(DEFAULT_DAYS as u64);
    let days = tls::check_range("days", days, 1..=36500).map_err(|m| k.fail("days", m))?;
    Ok(super::Desired::Certificate(CertificateSpec {
        path: key,
        presence,
        private_key,
        subject,
        subject_alt_name,
        days,
        attrs,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{Action, PathState};

    use crate::resources::tls::testing::{key_text, PEM};

    fn cert_text(subject: &str, san: &str, pem: &str, expire: &str) -> Seen {
        Seen::Text(format!(
            "subject=\n{subject}X509v3 Subject Alternative Name: \n    {san}\n{pem}\nCertificate will {expire}expire\n"
        ))
    }

    fn file() -> PathState {
        crate::resources::tls::testing::file(1200, "ef")
    }

    fn spec() -> CertificateSpec {
        CertificateSpec {
            path: "/etc/ssl/certs/a.pem".into(),
            private_key: "/etc/ssl/private/a.key".into(),
            subject: tls::parse_subject("/CN=a.example/O=Acme, Inc").unwrap(),
            subject_alt_name: vec!["DNS:a.example".into(), "IP:127.0.0.1".into()],
            days: 30,
            ..Default::default()
        }
    }

    #[test]
    fn subjects_are_read_both_ways() {
        assert_eq!(
            tls::parse_subject("/CN=a/ /C=NA/organizationName=x\\/y").unwrap(),
            vec![
                ("CN".to_string(), "a".to_string()),
                ("C".into(), "NA".into()),
                ("O".into(), "x/y".into())
            ]
        );
        assert_eq!(
            tls::subject_arg(&tls::parse_subject("/CN=a/O=x\\/y").unwrap()),
            "/CN=a/O=x\\/y"
        );
        assert!(tls::parse_subject("/CN").is_err());
        assert!(tls::parse_subject("/C N=x").is_err());
    }

    #[test]
    fn a_matching_certificate_is_kept() {
        let s = spec();
        let c = cert_text(
            "    CN=a.example\n    O=Acme, Inc\n",
            "IP Address:127.0.0.1, DNS:a.example",
            PEM,
            "not ",
        );
        assert_eq!(plan(&s, &file(), &c, &key_text(), &[]).unwrap(), None);
    }

    #[test]
    fn what_makes_it_regenerated() {
        let s = spec();
        let other = "-----BEGIN PUBLIC KEY-----\nMIIC\n-----END PUBLIC KEY-----";
        let c = cert_text("    CN=b.example\n", "DNS:a.example", other, "");
        let p = plan(&s, &file(), &c, &key_text(), &[]).unwrap().unwrap();
        assert_eq!(p.action, Action::Update);
        assert_eq!(
            p.details,
            vec![
                "not signed by private_key /etc/ssl/private/a.key: regenerated".to_string(),
                "subject /CN=b.example → /CN=a.example/O=Acme, Inc".into(),
                "subject_alt_name [DNS:a.example] → [DNS:a.example, IP:127.0.0.1]".into(),
                "expired: regenerated".into(),
            ]
        );
        let junk = plan(&s, &file(), &Seen::Text("".into()), &key_text(), &[])
            .unwrap()
            .unwrap();
        assert_eq!(
            junk.details,
            vec!["not a certificate openssl reads: regenerated"]
        );
    }

    #[test]
    fn a_key_changed_earlier_makes_it_known_after() {
        let s = spec();
        let c = cert_text(
            "    CN=a.example\n    O=Acme, Inc\n",
            "DNS:a.example, IP Address:127.0.0.1",
            PEM,
            "not ",
        );
        let p = plan(&s, &file(), &c, &Seen::Missing, &["/etc/ssl/private/a.key"])
            .unwrap()
            .unwrap();
        assert_eq!(
            p.details,
            vec!["known after private_key /etc/ssl/private/a.key: signed again by it"]
        );
        // a key missing that nothing makes is said at plan time
        let e = plan(
            &s,
            &PathState::missing(),
            &Seen::Missing,
            &Seen::Missing,
            &[],
        )
        .unwrap_err();
        assert!(e.0.contains("no earlier step"), "{}", e.0);
        let p = plan(
            &s,
            &PathState::missing(),
            &Seen::Missing,
            &Seen::Missing,
            &["/etc/ssl/private/a.key"],
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.action, Action::Create);
    }

    #[test]
    fn the_key_is_piped_never_named_to_openssl() {
        let f = fill(&spec());
        assert!(f.contains("dd if=./a.key iflag=nofollow"), "{f}");
        assert!(
            f.contains("| openssl req -x509 -new -utf8 -key /dev/stdin"),
            "{f}"
        );
        assert!(f.contains("-subj '/CN=a.example/O=Acme, Inc' -days 30 -addext subjectAltName=DNS:a.example,IP:127.0.0.1 -out \"$t\""), "{f}");
    }
}
