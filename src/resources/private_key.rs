//! `private_key:` — a private key generated on the host with `openssl genpkey` (Ansible's
//! `community.crypto.openssl_privatekey`).
//!
//! ```yaml
//! - private_key: /etc/ssl/private/site.key
//!   type: rsa          # rsa (default), ecdsa or ed25519
//!   size: 4096         # rsa: bits (default 4096, as openssl_privatekey)
//!   curve: secp256r1   # ecdsa: secp256r1 (default), secp384r1 or secp521r1
//!   owner: root
//!   mode: "0600"       # the default
//! ```
//!
//! Probe: the `pkey` record ([`super::tls`]): the key's public half. Plan: created when
//! missing; regenerated when it is a key of another type, size or curve, like
//! openssl_privatekey (a file openssl cannot read as a key without a passphrase is refused, not
//! replaced); else only owner/group/mode. Apply: `openssl genpkey` into a private temp file,
//! renamed into place ([`super::tls::apply_fragment`]); the key never leaves the host.

use super::deploy::{Planned, Refused};
use super::registry::Key;
use super::tls::{self, Seen, TlsOp};
use super::{Attrs, Presence};
use crate::resolve::{Base, Keys, ResolveError};

/// The type of a key, with its size or curve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyType {
    Rsa(u32),
    /// Its curve as play names it (`secp256r1`).
    Ecdsa(String),
    Ed25519,
}

impl Default for KeyType {
    fn default() -> Self {
        KeyType::Rsa(DEFAULT_RSA_BITS)
    }
}

/// openssl_privatekey's default size.
pub const DEFAULT_RSA_BITS: u32 = 4096;

/// The curves `curve:` takes, with openssl's name for `-pkeyopt ec_paramgen_curve:`.
const CURVES: &[(&str, &str)] = &[
    ("secp256r1", "P-256"),
    ("secp384r1", "P-384"),
    ("secp521r1", "P-521"),
];

impl KeyType {
    /// As [`tls::PublicKey::algo`] names it.
    pub fn algo(&self) -> String {
        match self {
            KeyType::Rsa(bits) => format!("rsa {bits}"),
            KeyType::Ecdsa(c) => format!("ecdsa {c}"),
            KeyType::Ed25519 => "ed25519".into(),
        }
    }

    /// The `openssl genpkey` arguments making such a key.
    fn genpkey_args(&self) -> String {
        match self {
            KeyType::Rsa(bits) => format!("-algorithm RSA -pkeyopt rsa_keygen_bits:{bits}"),
            KeyType::Ecdsa(c) => {
                let nist = CURVES.iter().find(|(n, _)| n == c).map_or("P-256", |x| x.1);
                format!("-algorithm EC -pkeyopt ec_paramgen_curve:{nist} -pkeyopt ec_param_enc:named_curve")
            }
            KeyType::Ed25519 => "-algorithm ED25519".into(),
        }
    }
}

/// One private key, rendered for one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrivateKeySpec {
    pub path: String,
    pub presence: Presence,
    pub key_type: KeyType,
    /// Mode 0600 unless the entry gives one.
    pub attrs: Attrs,
}

/// Plans one key from its path's state and its `pkey` record.
pub fn plan(
    spec: &PrivateKeySpec,
    have: &super::PathState,
    seen: &Seen,
) -> Result<Option<Planned<TlsOp>>, Refused> {
    let want = spec.key_type.algo();
    let mut wrong = Vec::new();
    if spec.presence == Presence::Present {
        match seen {
            Seen::Text(t) => match tls::parse_public_key(t) {
                Some(k) if k.algo == want => {}
                Some(k) => wrong.push(format!("{} → {want}: regenerated", k.algo)),
                None if have.kind != super::PathKind::Missing => {
                    return Err(Refused(format!(
                        "{}: not a private key openssl reads without a passphrase; not replaced (remove it to have play generate one)",
                        spec.path
                    )))
                }
                None => {}
            },
            Seen::NoOpenssl => {
                return Err(Refused(format!(
                    "{}: the host has no openssl (install it first: `package: openssl`)",
                    spec.path
                )))
            }
            Seen::Unknown | Seen::Missing | Seen::NotFile(_) => {}
        }
    }
    tls::plan(
        &spec.path,
        spec.presence,
        &spec.attrs,
        have,
        format!("{want} generated on the host"),
        wrong,
    )
}

/// The `openssl` line filling the step's temp file.
fn fill(spec: &PrivateKeySpec) -> String {
    format!(
        "openssl genpkey {} -out \"$t\"",
        spec.key_type.genpkey_args()
    )
}

impl super::Spec for PrivateKeySpec {
    super::tls::tls_spec_methods!();
    fn plan_work(
        &self,
        observed: &super::Observed,
        _changed: &[&str],
    ) -> Result<Option<Planned<Self::Work>>, Refused> {
        let seen = tls::seen(observed.deploy.record("pkey", &self.path));
        plan(self, &observed.path(&self.path), &seen)
    }
    fn apply_fragment(
        &self,
        index: usize,
        work: Option<&Self::Work>,
        _last: bool,
    ) -> Option<Result<(String, Vec<u8>), String>> {
        let op = work?;
        Some(Ok((
            tls::apply_fragment(
                index,
                "private_key",
                &self.path,
                &self.attrs,
                op,
                &fill(self),
            ),
            Vec::new(),
        )))
    }
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        if self.presence == Presence::Present {
            p.add_fragment(tls::key_fragment(&self.path));
        }
    }
    fn has_nul(&self) -> bool {
        super::any_nul(&[Some(&self.path)]) || self.attrs.has_nul()
    }
}

/// The registry line of `private_key:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::PrivateKey,
    name: "private_key",
    keys: &[
        Key::Any("type"),
        Key::Any("size"),
        Key::Any("curve"),
        Key::Text("owner"),
        Key::Text("group"),
        Key::Any("mode"),
    ],
    is_path: true,
    watchable: true,
    docs_section: "`private_key: PATH` — a private key made on the host",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key: super::registry::path_key,
    render: super::registry::Render::Fn(from_entry),
    check_value,
    records: &[super::registry::Record {
        tag: "pkey",
        fields: 3,
        per_host: false,
    }],
    check_entry: super::registry::any_entry,
};

/// The literal values of `type` and `curve` (what the importer writes is checked with it).
pub fn check_value(key: &str, value: &str) -> Result<(), String> {
    match key {
        "type" => key_type_word(value).map(|_| ()),
        "curve" => curve(value).map(|_| ()),
        _ => Ok(()),
    }
}

/// `type:` as written (Ansible's `RSA`, `ECC`, `Ed25519` too).
fn key_type_word(v: &str) -> Result<&'static str, String> {
    match v.to_ascii_lowercase().as_str() {
        "rsa" => Ok("rsa"),
        "ecdsa" | "ecc" | "ec" => Ok("ecdsa"),
        "ed25519" => Ok("ed25519"),
        _ => Err(format!("type: `rsa`, `ecdsa` or `ed25519`, not `{v}`")),
    }
}

/// `curve:` as written (`secp256r1`, or openssl's `prime256v1`, `P-256`…).
fn curve(v: &str) -> Result<String, String> {
    let c = tls::curve_name(v);
    if CURVES.iter().any(|(n, _)| *n == c) {
        Ok(c.to_string())
    } else {
        Err(format!(
            "curve: `secp256r1`, `secp384r1` or `secp521r1`, not `{v}`"
        ))
    }
}

/// The spec of a `private_key:` entry, its errors located at their keys.
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base {
        key,
        mut attrs,
        state,
    } = b;
    let presence = k.presence(&state)?;
    let word = match k.raw().get("type") {
        None => "rsa",
        Some(v) => key_type_word(&k.scalar("type", v)?).map_err(|m| k.fail("type", m))?,
    };
    let size = k.number("size")?;
    let curve_given = match k.raw().get("curve") {
        None => None,
        Some(v) => Some(curve(&k.scalar("curve", v)?).map_err(|m| k.fail("curve", m))?),
    };
    let key_type = match word {
        "rsa" => {
            if curve_given.is_some() {
                return Err(k.fail("curve", "curve: only an `ecdsa` key has one".into()));
            }
            let bits = size.unwrap_or(DEFAULT_RSA_BITS as u64);
            KeyType::Rsa(
                tls::check_range("size", bits, 1024..=16384).map_err(|m| k.fail("size", m))?,
            )
        }
        other => {
            if size.is_some() {
                return Err(k.fail(
                    "size",
                    format!("size: only an `rsa` key has one (an `ecdsa` key has a `curve`), not a {other} key"),
                ));
            }
            match other {
                "ecdsa" => KeyType::Ecdsa(curve_given.unwrap_or_else(|| "secp256r1".into())),
                _ if curve_given.is_some() => {
                    return Err(k.fail("curve", "curve: only an `ecdsa` key has one".into()))
                }
                _ => KeyType::Ed25519,
            }
        }
    };
    if attrs.mode.is_none() {
        attrs.mode = Some(0o600);
    }
    Ok(super::Desired::PrivateKey(PrivateKeySpec {
        path: key,
        presence,
        key_type,
        attrs,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{Action, PathKind, PathState};

    fn file() -> PathState {
        PathState {
            kind: PathKind::File {
                size: 3243,
                sha256: Some("ab".repeat(32)),
            },
            mode: 0o600,
            owner: "root".into(),
            group: "root".into(),
        }
    }

    fn spec(t: KeyType) -> PrivateKeySpec {
        PrivateKeySpec {
            path: "/etc/ssl/private/a.key".into(),
            key_type: t,
            attrs: Attrs {
                mode: Some(0o600),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn text(algo_line: &str) -> Seen {
        Seen::Text(format!(
            "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n{algo_line}"
        ))
    }

    #[test]
    fn a_key_of_the_wanted_type_and_size_is_kept() {
        let s = spec(KeyType::Rsa(4096));
        let rsa4096 = text("Public-Key: (4096 bit)\nModulus:\n    00:aa\n");
        assert_eq!(plan(&s, &file(), &rsa4096).unwrap(), None);
        let rsa2048 = text("Public-Key: (2048 bit)\nModulus:\n    00:aa\n");
        let p = plan(&s, &file(), &rsa2048).unwrap().unwrap();
        assert_eq!(p.action, Action::Update);
        assert_eq!(p.details, vec!["rsa 2048 → rsa 4096: regenerated"]);
        assert_eq!(
            p.work,
            TlsOp::Generate {
                expect: "ab".repeat(32)
            }
        );
        let ed = spec(KeyType::Ed25519);
        let p = plan(&ed, &file(), &rsa4096).unwrap().unwrap();
        assert_eq!(p.details, vec!["rsa 4096 → ed25519: regenerated"]);
    }

    #[test]
    fn missing_unreadable_and_attributes() {
        let s = spec(KeyType::Ecdsa("secp384r1".into()));
        let p = plan(&s, &PathState::missing(), &Seen::Missing)
            .unwrap()
            .unwrap();
        assert_eq!(p.action, Action::Create);
        assert_eq!(p.details, vec!["ecdsa secp384r1 generated on the host"]);
        let e = plan(&s, &file(), &Seen::Text(String::new())).unwrap_err();
        assert!(e.0.contains("not replaced"), "{}", e.0);
        let mut loose = file();
        loose.mode = 0o644;
        let ec = text("Public-Key: (384 bit)\npub:\n    04\nASN1 OID: secp384r1\n");
        let p = plan(&s, &loose, &ec).unwrap().unwrap();
        assert_eq!((p.action, p.work), (Action::Attrs, TlsOp::Attrs));
        assert!(plan(&s, &file(), &Seen::NoOpenssl).is_err());
    }

    #[test]
    fn the_step_generates_into_the_private_temp_file() {
        let s = spec(KeyType::Rsa(2048));
        let op = TlsOp::Generate {
            expect: "missing".into(),
        };
        let f = tls::apply_fragment(4, "private_key", &s.path, &s.attrs, &op, &fill(&s));
        let gen =
            f.find("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out \"$t\"");
        let chmod = f.find("chmod -- 00600 \"$t\"");
        let mv = f.find("mv -f -T");
        assert!(gen.is_some() && gen < chmod && chmod < mv, "{f}");
        assert!(f.ends_with("play_ok 4\n"), "{f}");
    }

    #[test]
    fn written_values_are_checked() {
        assert!(check_value("type", "ECC").is_ok());
        assert!(check_value("type", "dsa").is_err());
        assert!(check_value("curve", "prime256v1").is_ok());
        assert!(check_value("curve", "secp192r1").is_err());
    }
}
