//! `csr:` — a certificate signing request made on the host with `openssl req -new` from a
//! private key of the host (Ansible's `community.crypto.openssl_csr`, and the
//! `openssl req -new -key K -subj S -out X.csr` of many roles).
//!
//! ```yaml
//! - private_key: /etc/ssl/private/site.key
//! - csr: /etc/ssl/private/site.csr
//!   private_key: /etc/ssl/private/site.key   # made from it (a `private_key:` declared before
//!                                            # it: known after it); or `privatekey_path`
//!   common_name: site.example                # or subject: /CN=site.example/O=Example
//!   subject_alt_name: ["DNS:site.example", "DNS:www.site.example"]
//!   digest: sha256                           # the default, as openssl_csr's
//!   mode: "0644"
//! ```
//!
//! Probe: the `csr` record ([`super::tls`]: `openssl req -noout -subject -pubkey -text` of the
//! file: its subject, requested subjectAltName, public key and signature algorithm) and the
//! key's `pkey` record (the same fragment as a `private_key:` of that path: run once). Plan:
//! made when missing; made again when it was not made from its key, its subject or
//! subjectAltName differ, its digest differs, or openssl cannot read it as a request; known
//! after a change of its key earlier in the run. Not checked: other requested extensions
//! (openssl_csr's key usages, basic constraints). Apply: the key is read inside its pinned
//! folder without following a link and piped to `openssl req -new -key /dev/stdin`, which
//! writes a private temp file renamed into place.

use super::deploy::{Planned, Refused};
use super::registry::Key;
use super::tls::{self, Seen, TlsOp};
use super::{Attrs, Presence};
use crate::resolve::{Base, Keys, ResolveError};
use crate::transport::shell_quote;

/// openssl_csr's default digest.
pub const DEFAULT_DIGEST: &str = "sha256";

/// The digests `digest:` takes.
const DIGESTS: &[&str] = &["sha256", "sha384", "sha512", "sha224"];

/// One request, rendered for one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsrSpec {
    pub path: String,
    pub presence: Presence,
    /// The path of its private key on the host.
    pub private_key: String,
    /// `(short name, value)` in order (`("CN", "site.example")`).
    pub subject: Vec<(String, String)>,
    pub subject_alt_name: Vec<String>,
    /// `sha256`, `sha384`…
    pub digest: String,
    pub attrs: Attrs,
}

/// The digest a signature algorithm names (`sha256WithRSAEncryption`, `ecdsa-with-SHA384`:
/// `sha256`, `sha384`; `ED25519`: none, an ed25519 key has no digest to choose).
pub fn digest_of(signature: &str) -> Option<String> {
    let low = signature.to_ascii_lowercase();
    let at = low.find("sha")?;
    let bits: String = low[at + 3..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!bits.is_empty()).then(|| format!("sha{bits}"))
}

/// Plans one request. `key`: its key's `pkey` record; `changed`: the keys of the host's changes
/// planned before it.
pub fn plan(
    spec: &CsrSpec,
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
            let names = tls::parse_names(t);
            if names.public_key.is_empty() {
                wrong.push("not a request openssl reads: made again".into());
            } else {
                wrong = tls::names_wrong(
                    &names,
                    &spec.subject,
                    &spec.subject_alt_name,
                    &spec.private_key,
                    public.as_ref(),
                    key_changes,
                    ("made from", "made again from it"),
                );
                let has = names.signature.as_deref().and_then(digest_of);
                if let Some(d) = has.filter(|d| *d != spec.digest) {
                    wrong.push(format!("digest {d} → {}", spec.digest));
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
            "request for {}{}, made from {} ({})",
            tls::subject_arg(&spec.subject),
            if spec.subject_alt_name.is_empty() {
                String::new()
            } else {
                format!(" [{}]", spec.subject_alt_name.join(", "))
            },
            spec.private_key,
            spec.digest
        ),
        wrong,
    )
}

/// The shell text filling the step's temp file.
fn fill(spec: &CsrSpec) -> String {
    format!(
        "{} | openssl req -new -utf8 -key /dev/stdin -passin pass: -subj {} -{}{} -out \"$t\"",
        tls::read_key(&spec.private_key),
        shell_quote(&tls::subject_arg(&spec.subject)),
        spec.digest,
        tls::san_arg(&spec.subject_alt_name),
    )
}

/// The probe fragment of a request (its record `csr`).
fn probe_fragment(path: &str) -> String {
    tls::probe_fragment(
        "csr",
        path,
        "req -noout -subject -nameopt sep_multiline,sname,utf8 -pubkey -text -reqopt no_header,no_version,no_subject,no_pubkey",
        false,
    )
}

impl super::Spec for CsrSpec {
    super::tls::from_key_spec_methods!("csr", "csr");
}

/// The registry line of `csr:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Csr,
    name: "csr",
    keys: &[
        Key::Text("private_key"),
        Key::Text("privatekey_path"),
        Key::Any("subject"),
        Key::Text("common_name"),
        Key::Any("subject_alt_name"),
        Key::Text("digest"),
        Key::Text("owner"),
        Key::Text("group"),
        Key::Any("mode"),
    ],
    is_path: true,
    watchable: true,
    docs_section: "`csr: PATH` — a certificate signing request made on the host",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key: super::registry::path_key,
    render: super::registry::Render::Fn(from_entry),
    check_value,
    records: &[super::registry::Record {
        tag: "csr",
        fields: 3,
        per_host: false,
    }],
    check_entry,
};

/// `subject` in `-subj`'s form and `digest` as written (the importer's are checked with it).
pub fn check_value(key: &str, value: &str) -> Result<(), String> {
    match key {
        "subject" if !value.contains("{{") => tls::parse_subject(value).map(|_| ()),
        "digest" if !value.contains("{{") => digest(value).map(|_| ()),
        _ => Ok(()),
    }
}

/// `digest:` as written (`SHA256` too).
fn digest(v: &str) -> Result<String, String> {
    let d = v.trim().to_ascii_lowercase();
    if DIGESTS.contains(&d.as_str()) {
        Ok(d)
    } else {
        Err(format!("digest: one of {}, not `{v}`", DIGESTS.join(", ")))
    }
}

/// A request names its key (once) and its subject.
fn check_entry(e: &crate::playbook::RawResource) -> Result<(), String> {
    if e.has("private_key") && e.has("privatekey_path") {
        return Err(
            "a csr takes `private_key` or `privatekey_path` (the same key), not both".into(),
        );
    }
    if e.text("state") == Some("absent") {
        return Ok(());
    }
    if !e.has("private_key") && !e.has("privatekey_path") {
        return Err("a csr needs `private_key` (the private key it is made from)".into());
    }
    if !e.has("subject") && !e.has("common_name") {
        return Err("a csr needs `subject` (/CN=…) or `common_name`".into());
    }
    Ok(())
}

/// The entry's `subject`, its `common_name` appended as `CN` (`need`: at least one attribute).
fn subject(k: &Keys, need: bool) -> Result<Vec<(String, String)>, ResolveError> {
    let mut subject = tls::subject_of(k, false)?;
    if let Some(cn) = k.string("common_name")? {
        if subject.iter().any(|(n, _)| n == "CN") {
            return Err(k.fail(
                "common_name",
                "common_name: the subject has a CN already (give it once)".into(),
            ));
        }
        subject.push(("CN".into(), cn));
    }
    if need && subject.is_empty() {
        let at = if k.raw().get("subject").is_some() {
            "subject"
        } else {
            "common_name"
        };
        return Err(k.fail(
            at,
            "subject: at least one attribute (/CN=site.example, or `common_name`)".into(),
        ));
    }
    Ok(subject)
}

/// The spec of a `csr:` entry, its errors located at their keys.
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, attrs, state } = b;
    let presence = k.presence(&state)?;
    let (key_at, private_key) = match k.path("private_key")? {
        Some(p) => ("private_key", p),
        None => (
            "privatekey_path",
            k.path("privatekey_path")?.unwrap_or_default(),
        ),
    };
    if private_key == key {
        return Err(k.fail(key_at, format!("{key_at}: {key} is the request itself")));
    }
    let subject = subject(k, presence == Presence::Present)?;
    let subject_alt_name = tls::san_of(k)?;
    let digest = match k.string("digest")? {
        None => DEFAULT_DIGEST.to_string(),
        Some(d) => digest(&d).map_err(|m| k.fail("digest", m))?,
    };
    Ok(super::Desired::Csr(CsrSpec {
        path: key,
        presence,
        private_key,
        subject,
        subject_alt_name,
        digest,
        attrs,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{Action, PathState};

    use crate::resources::tls::testing::{key_text, PEM};

    /// What `openssl req` prints of a request (as the probe asks it).
    fn csr_text(subject: &str, san: &str, pem: &str, sig: &str) -> Seen {
        Seen::Text(format!(
            "{pem}\n        Attributes:\n            Requested Extensions:\n                X509v3 Subject Alternative Name: \n                    {san}\n    Signature Algorithm: {sig}\n    Signature Value:\n        9c:b8:fb\nsubject=\n{subject}"
        ))
    }

    fn file() -> PathState {
        crate::resources::tls::testing::file(900, "cd")
    }

    fn spec() -> CsrSpec {
        CsrSpec {
            path: "/etc/ssl/private/a.csr".into(),
            private_key: "/etc/ssl/private/a.key".into(),
            subject: tls::parse_subject("/CN=a.example/O=Acme, Inc").unwrap(),
            subject_alt_name: vec!["DNS:a.example".into(), "IP:127.0.0.1".into()],
            digest: "sha256".into(),
            attrs: Attrs {
                mode: Some(0o644),
                owner: Some("root".into()),
                group: Some("root".into()),
            },
            ..Default::default()
        }
    }

    #[test]
    fn digests_are_read_from_the_signature_algorithm() {
        assert_eq!(
            digest_of("sha256WithRSAEncryption").as_deref(),
            Some("sha256")
        );
        assert_eq!(digest_of("ecdsa-with-SHA384").as_deref(), Some("sha384"));
        assert_eq!(digest_of("ED25519"), None);
        assert_eq!(digest("SHA512").unwrap(), "sha512");
        assert!(digest("md5").is_err());
    }

    #[test]
    fn a_matching_request_is_kept() {
        let c = csr_text(
            "    CN=a.example\n    O=Acme, Inc\n",
            "IP Address:127.0.0.1, DNS:a.example",
            PEM,
            "sha256WithRSAEncryption",
        );
        assert_eq!(plan(&spec(), &file(), &c, &key_text(), &[]).unwrap(), None);
    }

    #[test]
    fn what_makes_it_made_again() {
        let other = "-----BEGIN PUBLIC KEY-----\nMIIC\n-----END PUBLIC KEY-----";
        let c = csr_text(
            "    CN=b.example\n",
            "DNS:a.example",
            other,
            "sha1WithRSAEncryption",
        );
        let p = plan(&spec(), &file(), &c, &key_text(), &[])
            .unwrap()
            .unwrap();
        assert_eq!(p.action, Action::Update);
        assert_eq!(
            p.details,
            vec![
                "not made from private_key /etc/ssl/private/a.key: regenerated".to_string(),
                "subject /CN=b.example → /CN=a.example/O=Acme, Inc".into(),
                "subject_alt_name [DNS:a.example] → [DNS:a.example, IP:127.0.0.1]".into(),
                "digest sha1 → sha256".into(),
            ]
        );
        assert_eq!(
            p.work,
            TlsOp::Generate {
                expect: "cd".repeat(32)
            }
        );
        let junk = plan(&spec(), &file(), &Seen::Text("".into()), &key_text(), &[])
            .unwrap()
            .unwrap();
        assert_eq!(
            junk.details,
            vec!["not a request openssl reads: made again"]
        );
    }

    #[test]
    fn a_key_changed_earlier_makes_it_known_after() {
        let c = csr_text(
            "    CN=a.example\n    O=Acme, Inc\n",
            "DNS:a.example, IP Address:127.0.0.1",
            PEM,
            "sha256WithRSAEncryption",
        );
        let key = ["/etc/ssl/private/a.key"];
        let p = plan(&spec(), &file(), &c, &Seen::Missing, &key)
            .unwrap()
            .unwrap();
        assert_eq!(
            p.details,
            vec!["known after private_key /etc/ssl/private/a.key: made again from it"]
        );
        let missing = PathState::missing();
        let e = plan(&spec(), &missing, &Seen::Missing, &Seen::Missing, &[]).unwrap_err();
        assert!(e.0.contains("no earlier step"), "{}", e.0);
        let p = plan(&spec(), &missing, &Seen::Missing, &Seen::Missing, &key)
            .unwrap()
            .unwrap();
        assert_eq!(p.action, Action::Create);
        assert_eq!(
            p.details,
            vec!["request for /CN=a.example/O=Acme, Inc [DNS:a.example, IP:127.0.0.1], made from /etc/ssl/private/a.key (sha256)"]
        );
    }

    #[test]
    fn the_key_is_piped_never_named_to_openssl() {
        let f = fill(&spec());
        assert!(f.contains("dd if=./a.key iflag=nofollow"), "{f}");
        assert!(
            f.contains("| openssl req -new -utf8 -key /dev/stdin"),
            "{f}"
        );
        assert!(!f.contains("-x509"), "{f}");
        assert!(f.contains("-subj '/CN=a.example/O=Acme, Inc' -sha256 -addext subjectAltName=DNS:a.example,IP:127.0.0.1 -out \"$t\""), "{f}");
    }
}
