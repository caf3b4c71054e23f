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
    pub subject: Vec<(String, String)>,
    pub subject_alt_name: Vec<String>,
    /// The PEM of its public key.
    pub public_key: String,
    pub expired: bool,
}

/// Reads the `x509` record's text (`None`: not a certificate openssl reads).
pub fn parse_seen(text: &str) -> Option<CertSeen> {
    let mut seen = CertSeen {
        public_key: tls::pem_block(text),
        ..Default::default()
    };
    let mut section = "";
    let mut verdict = None;
    for l in text.lines() {
        if let Some(rest) = l.strip_prefix("subject=") {
            section = "subject";
            if let Some((k, v)) = rest.trim().split_once('=') {
                seen.subject.push((k.trim().into(), v.trim().into()));
            }
        } else if l.starts_with("X509v3 Subject Alternative Name") {
            section = "san";
        } else if l.starts_with("Certificate will not expire") {
            verdict = Some(false);
        } else if l.starts_with("Certificate will expire") {
            verdict = Some(true);
        } else if l.starts_with(char::is_whitespace) && !l.trim().is_empty() {
            match section {
                "subject" => {
                    if let Some((k, v)) = l.trim().split_once('=') {
                        seen.subject.push((k.to_string(), v.to_string()));
                    }
                }
                "san" => seen.subject_alt_name.extend(
                    l.split(", ")
                        .map(|s| san_normal(s.trim()))
                        .filter(|s| !s.is_empty()),
                ),
                _ => {}
            }
        } else {
            section = "";
        }
    }
    seen.expired = verdict?;
    (!seen.public_key.is_empty()).then_some(seen)
}

/// A subjectAltName entry as play compares it (`IP Address:` is `IP:`).
fn san_normal(s: &str) -> String {
    match s.split_once(':') {
        Some((k, v)) => {
            let k = match k.trim() {
                "IP Address" | "IP" | "ip" => "IP",
                "DNS" | "dns" => "DNS",
                "email" | "EMAIL" => "email",
                "URI" | "uri" => "URI",
                other => other,
            };
            format!("{k}:{}", v.trim())
        }
        None => s.trim().to_string(),
    }
}

/// The short name openssl gives a subject attribute written either way (`common_name`,
/// `commonName` and `CN` are `CN`).
fn short_name(k: &str) -> String {
    let known: &[(&str, &[&str])] = &[
        ("CN", &["commonname", "common_name", "cn"]),
        ("O", &["organizationname", "organization_name", "o"]),
        (
            "OU",
            &["organizationalunitname", "organizational_unit_name", "ou"],
        ),
        ("C", &["countryname", "country_name", "c"]),
        (
            "ST",
            &["stateorprovincename", "state_or_province_name", "st"],
        ),
        ("L", &["localityname", "locality_name", "l"]),
        ("emailAddress", &["emailaddress", "email_address"]),
    ];
    let low = k.trim().to_ascii_lowercase();
    known
        .iter()
        .find(|(_, names)| names.contains(&low.as_str()))
        .map_or_else(|| k.trim().to_string(), |(s, _)| s.to_string())
}

/// Reads `-subj`'s form (`/CN=a/O=b`; `\/` is a `/` of a value); blank parts are skipped.
pub fn parse_subject(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut it = s.trim().trim_start_matches('/').chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => cur.extend(it.next()),
            '/' => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    let mut out = Vec::new();
    for p in parts.iter().filter(|p| !p.trim().is_empty()) {
        let Some((k, v)) = p.split_once('=') else {
            return Err(format!(
                "subject `{s}`: `{p}` is not NAME=VALUE (the form is /CN=site.example/O=Example)"
            ));
        };
        check_name(k)?;
        out.push((short_name(k), v.trim().to_string()));
    }
    Ok(out)
}

fn check_name(k: &str) -> Result<(), String> {
    let k = k.trim();
    if k.is_empty()
        || !k
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return Err(format!(
            "subject: `{k}` is no attribute name (CN, O, OU, C, ST, L, emailAddress…)"
        ));
    }
    Ok(())
}

/// The subject as `-subj` takes it.
pub fn subject_arg(subject: &[(String, String)]) -> String {
    subject
        .iter()
        .map(|(k, v)| format!("/{k}={}", v.replace('\\', "\\\\").replace('/', "\\/")))
        .collect()
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
        let public = match key {
            _ if key_changes => None,
            Seen::Missing | Seen::NotFile(_) => {
                return Err(Refused(format!(
                    "private_key {}: {} on the host, and no earlier step of this run makes it (declare a `private_key:` before the certificate)",
                    spec.private_key,
                    match key { Seen::Missing => "missing".to_string(), Seen::NotFile(w) => format!("a {w}, not a file"), _ => String::new() }
                )))
            }
            Seen::NoOpenssl => {
                return Err(Refused(format!(
                    "{}: the host has no openssl (install it first: `package: openssl`)",
                    spec.path
                )))
            }
            Seen::Text(t) => Some(tls::parse_public_key(t).ok_or_else(|| {
                Refused(format!(
                    "private_key {}: not a private key openssl reads without a passphrase",
                    spec.private_key
                ))
            })?),
            Seen::Unknown => None,
        };
        if let Seen::Text(t) = seen {
            match parse_seen(t) {
                None => wrong.push("not a certificate openssl reads: regenerated".into()),
                Some(c) => {
                    if key_changes {
                        wrong.push(format!(
                            "known after private_key {}: signed again by it",
                            spec.private_key
                        ));
                    } else if public.as_ref().is_some_and(|k| k.pem != c.public_key) {
                        wrong.push(format!(
                            "not signed by private_key {}: regenerated",
                            spec.private_key
                        ));
                    }
                    if c.subject != spec.subject {
                        wrong.push(format!(
                            "subject {} → {}",
                            subject_arg(&c.subject),
                            subject_arg(&spec.subject)
                        ));
                    }
                    let (mut a, mut b) =
                        (c.subject_alt_name.clone(), spec.subject_alt_name.clone());
                    a.sort();
                    b.sort();
                    if a != b {
                        wrong.push(format!(
                            "subject_alt_name [{}] → [{}]",
                            c.subject_alt_name.join(", "),
                            spec.subject_alt_name.join(", ")
                        ));
                    }
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
            subject_arg(&spec.subject),
            spec.days,
            spec.private_key
        ),
        wrong,
    )
}

/// The shell text filling the step's temp file.
fn fill(spec: &CertificateSpec) -> String {
    let san = if spec.subject_alt_name.is_empty() {
        String::new()
    } else {
        format!(
            " -addext {}",
            shell_quote(&format!(
                "subjectAltName={}",
                spec.subject_alt_name.join(",")
            ))
        )
    };
    format!(
        "{} | openssl req -x509 -new -utf8 -key /dev/stdin -passin pass: -subj {} -days {}{san} -out \"$t\"",
        tls::read_key(&spec.private_key),
        shell_quote(&subject_arg(&spec.subject)),
        spec.days,
    )
}

impl super::Spec for CertificateSpec {
    super::tls::tls_spec_methods!();
    fn plan_work(
        &self,
        observed: &super::Observed,
        changed: &[&str],
    ) -> Result<Option<Planned<Self::Work>>, Refused> {
        let seen = tls::seen(observed.deploy.record("x509", &self.path));
        let key = tls::seen(observed.deploy.record("pkey", &self.private_key));
        plan(self, &observed.path(&self.path), &seen, &key, changed)
    }
    fn apply_fragment(
        &self,
        index: usize,
        work: Option<&Self::Work>,
        _last: bool,
    ) -> Option<Result<(String, Vec<u8>), String>> {
        Some(Ok((
            tls::apply_fragment(
                index,
                "certificate",
                &self.path,
                &self.attrs,
                work?,
                &fill(self),
            ),
            Vec::new(),
        )))
    }
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        if self.presence == Presence::Present {
            p.add_fragment(tls::probe_fragment(
                "x509",
                &self.path,
                "x509 -noout -subject -nameopt sep_multiline,sname,utf8 -ext subjectAltName -pubkey -checkend 0",
                false,
            ));
            p.add_fragment(tls::key_fragment(&self.private_key));
        }
    }
    fn reads(&self) -> Option<&str> {
        (self.presence == Presence::Present).then_some(self.private_key.as_str())
    }
    fn has_nul(&self) -> bool {
        let subject = subject_arg(&self.subject);
        let san = self.subject_alt_name.join(",");
        super::any_nul(&[
            Some(&self.path),
            Some(&self.private_key),
            Some(&subject),
            Some(&san),
        ]) || self.attrs.has_nul()
    }
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
        "subject" if !value.contains("{{") => parse_subject(value).map(|_| ()),
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
    let subject = match k.raw().get("subject") {
        None => Vec::new(),
        Some(serde_yaml::Value::Mapping(_)) => {
            let mut out = Vec::new();
            for (n, v) in k.mapping("subject")? {
                check_name(&n).map_err(|m| k.fail("subject", m))?;
                out.push((short_name(&n), v));
            }
            out
        }
        Some(v) => {
            let s = k.scalar("subject", v)?;
            parse_subject(&s).map_err(|m| k.fail("subject", m))?
        }
    };
    if presence == Presence::Present && subject.is_empty() {
        return Err(k.fail(
            "subject",
            "subject: at least one attribute (/CN=site.example)".into(),
        ));
    }
    let mut subject_alt_name = Vec::new();
    for s in k.list("subject_alt_name")?.unwrap_or_default() {
        let n = san_normal(&s);
        let ok = ["DNS:", "IP:", "email:", "URI:"].iter().any(|p| {
            n.strip_prefix(p)
                .is_some_and(|v| !v.is_empty() && !v.contains(','))
        });
        if !ok {
            return Err(k.fail(
                "subject_alt_name",
                format!(
                    "subject_alt_name: `{s}` is not DNS:NAME, IP:ADDRESS, email:ADDRESS or URI:URI"
                ),
            ));
        }
        subject_alt_name.push(n);
    }
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
    use crate::resources::{Action, PathKind, PathState};

    const PEM: &str = "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----";

    fn cert_text(subject: &str, san: &str, pem: &str, expire: &str) -> Seen {
        Seen::Text(format!(
            "subject=\n{subject}X509v3 Subject Alternative Name: \n    {san}\n{pem}\nCertificate will {expire}expire\n"
        ))
    }

    fn key_text() -> Seen {
        Seen::Text(format!(
            "{PEM}\nPublic-Key: (2048 bit)\nModulus:\n    00:aa\n"
        ))
    }

    fn file() -> PathState {
        PathState {
            kind: PathKind::File {
                size: 1200,
                sha256: Some("ef".repeat(32)),
            },
            mode: 0o644,
            owner: "root".into(),
            group: "root".into(),
        }
    }

    fn spec() -> CertificateSpec {
        CertificateSpec {
            path: "/etc/ssl/certs/a.pem".into(),
            private_key: "/etc/ssl/private/a.key".into(),
            subject: parse_subject("/CN=a.example/O=Acme, Inc").unwrap(),
            subject_alt_name: vec!["DNS:a.example".into(), "IP:127.0.0.1".into()],
            days: 30,
            ..Default::default()
        }
    }

    #[test]
    fn subjects_are_read_both_ways() {
        assert_eq!(
            parse_subject("/CN=a/ /C=NA/organizationName=x\\/y").unwrap(),
            vec![
                ("CN".to_string(), "a".to_string()),
                ("C".into(), "NA".into()),
                ("O".into(), "x/y".into())
            ]
        );
        assert_eq!(
            subject_arg(&parse_subject("/CN=a/O=x\\/y").unwrap()),
            "/CN=a/O=x\\/y"
        );
        assert!(parse_subject("/CN").is_err());
        assert!(parse_subject("/C N=x").is_err());
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
