//! What the TLS kinds share (`private_key:`, `dhparam:`, `certificate:`): their probe
//! fragments and records, read on the host with `openssl` (one process per declared file,
//! none when the file is missing), and their plan and apply step, a file `openssl` makes on
//! the host.
//!
//! Probe records (each `TAG \0 PATH \0 STATE \0 TEXT \0`; STATE `missing`, `link`, `other`
//! (not a regular file), `noopenssl`, or `ok` with TEXT what `openssl` printed, empty when it
//! could not read the file):
//! - `pkey`: `openssl pkey -pubout -text_pub` of a key: the public half only (its type, size or
//!   curve, and its PEM to match a certificate's): the private key never leaves the host;
//! - `dhparam`: the first line of `openssl pkeyparam -text` (`DH Parameters: (2048 bit)`);
//! - `x509`: a certificate's subject (one attribute a line), subjectAltName, public key and
//!   whether it has expired (`-checkend 0`, by the host's clock).
//!
//! Cost, measured on the lab hosts (OpenSSL 3.0, 2 cores): one `openssl pkey` or `x509`
//! process about 5 ms; nothing runs for a missing file, so a host whose files are already
//! right pays one process per declared file, and the probe's other forks are unchanged.
//!
//! Apply: `openssl` writes into the step's private temp file (`apply::fetched_file`: mode
//! 0600 from `mktemp` under the script's `umask 077`, in root's private folder of the target's
//! filesystem or the target's folder), which gets its owner/group/mode, then is renamed over the
//! path. A certificate's key is read inside its pinned folder without following a link
//! (`dd iflag=nofollow`) and piped to `openssl req`: nothing of it reaches the controller, a
//! plan, a report or the run history.

use super::deploy::{Planned, Refused};
use super::{attr_details, Action, Attrs, PathKind, PathState, Presence};
use crate::resolve::{Keys, ResolveError};
use crate::transport::shell_quote;

/// What apply does to a TLS file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsOp {
    /// Generate it into a private temp file and rename that into place; `expect`: what the
    /// file must still be (the sha256 the probe saw, `missing`, or `-`).
    Generate {
        expect: String,
    },
    /// Only owner/group/mode (of the file the probe saw).
    Attrs,
    Delete,
}

/// The `Spec` methods the TLS kinds share (their spec has `path`, `presence`, `attrs`; their
/// work is a [`TlsOp`]; their line is `DEF`).
macro_rules! tls_spec_methods {
    () => {
        type Work = super::tls::TlsOp;
        const DEF: &'static super::registry::KindDef = &DEF;
        fn key(&self) -> &str {
            &self.path
        }
        fn written(&self) -> Option<&str> {
            (self.presence == Presence::Present).then_some(self.path.as_str())
        }
        fn accounts(&self) -> Vec<(super::accounts::Account, &str)> {
            super::accounts::pair(&self.attrs.owner, &self.attrs.group)
        }
    };
}
pub(crate) use tls_spec_methods;

/// The `Spec` methods of a file made on the host from a private key of the host
/// (`certificate:`, `csr:`): their spec has `path`, `presence`, `private_key`, `subject`,
/// `subject_alt_name`, `attrs`; their module a `plan(spec, have, seen, key, changed)`, a
/// `fill(spec)` (the shell text writing `"$t"`) and a `probe_fragment(path)` writing record
/// `$tag`; `$what` names the step in the script.
macro_rules! from_key_spec_methods {
    ($tag:literal, $what:literal) => {
        super::tls::tls_spec_methods!();
        fn plan_work(
            &self,
            observed: &super::Observed,
            changed: &[&str],
        ) -> Result<Option<Planned<Self::Work>>, Refused> {
            let seen = tls::seen(observed.deploy.record($tag, &self.path));
            let key = tls::seen(observed.deploy.record("pkey", &self.private_key));
            plan(self, &observed.path(&self.path), &seen, &key, changed)
        }
        fn apply_fragment(
            &self,
            index: usize,
            work: Option<&Self::Work>,
            _last: bool,
        ) -> Option<Result<(String, Vec<u8>), String>> {
            let step =
                tls::apply_fragment(index, $what, &self.path, &self.attrs, work?, &fill(self));
            Some(Ok((step, Vec::new())))
        }
        fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
            if self.presence == Presence::Present {
                p.add_fragment(probe_fragment(&self.path));
                p.add_fragment(tls::key_fragment(&self.private_key));
            }
        }
        fn reads(&self) -> Option<&str> {
            (self.presence == Presence::Present).then_some(self.private_key.as_str())
        }
        fn has_nul(&self) -> bool {
            let subject = tls::subject_arg(&self.subject);
            let san = self.subject_alt_name.join(",");
            super::any_nul(&[
                Some(&self.path),
                Some(&self.private_key),
                Some(&subject),
                Some(&san),
            ]) || self.attrs.has_nul()
        }
    };
}
pub(crate) use from_key_spec_methods;

/// What the probe saw of a TLS file (a record's STATE and TEXT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Not asked (an older probe), or no such record.
    Unknown,
    Missing,
    /// A symbolic link, a folder or another file type (its word).
    NotFile(String),
    /// The host has no `openssl`.
    NoOpenssl,
    /// What `openssl` printed (empty: it could not read the file).
    Text(String),
}

/// Reads a record's fields after the path.
pub fn seen(fields: Option<&[String]>) -> Seen {
    match fields {
        Some([state, text]) => match state.as_str() {
            "missing" => Seen::Missing,
            "noopenssl" => Seen::NoOpenssl,
            "ok" => Seen::Text(text.clone()),
            other => Seen::NotFile(other.to_string()),
        },
        _ => Seen::Unknown,
    }
}

/// The probe fragment writing record `tag` for `path` from `openssl ARGS -in PATH` (its
/// stdout; `first_line`: only its first line).
pub fn probe_fragment(tag: &str, path: &str, args: &str, first_line: bool) -> String {
    let p = shell_quote(path);
    let cut = if first_line {
        "\n  tls_v=${tls_v%%'\n'*}"
    } else {
        ""
    };
    format!(
        r#"printf '{tag}\0%s\0' {p}
if [ -L {p} ]; then printf 'link\0\0'
elif ! [ -e {p} ]; then printf 'missing\0\0'
elif ! [ -f {p} ]; then printf 'other\0\0'
elif ! command -v openssl >/dev/null 2>&1; then printf 'noopenssl\0\0'
else
  tls_v=$(openssl {args} -in {p} </dev/null 2>/dev/null){cut}
  printf 'ok\0%s\0' "$tls_v"
fi
"#
    )
}

/// The `pkey` fragment of a key file (see the module).
pub fn key_fragment(path: &str) -> String {
    probe_fragment("pkey", path, "pkey -pubout -text_pub -passin pass:", false)
}

/// The public half of a private key, as `openssl pkey -pubout -text_pub` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// `rsa 4096`, `ecdsa secp384r1`, `ed25519`, or what else openssl named.
    pub algo: String,
    /// The PEM of the public key (its lines joined by `\n`).
    pub pem: String,
}

/// The PEM block of `text` (`-----BEGIN …` to `-----END …`), lines joined by `\n`.
pub fn pem_block(text: &str) -> String {
    let mut out = Vec::new();
    let mut inside = false;
    for l in text.lines() {
        let l = l.trim();
        if l.starts_with("-----BEGIN") {
            inside = true;
        }
        if inside {
            out.push(l);
        }
        if l.starts_with("-----END") {
            break;
        }
    }
    out.join("\n")
}

/// Reads `openssl pkey -pubout -text_pub` (`None`: not a key).
pub fn parse_public_key(text: &str) -> Option<PublicKey> {
    let pem = pem_block(text);
    if pem.is_empty() {
        return None;
    }
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let has = |p: &str| lines.iter().find_map(|l| l.strip_prefix(p));
    let bits = has("Public-Key: (")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse::<u32>().ok());
    let algo = if lines.iter().any(|l| l.starts_with("ED25519 Public-Key")) {
        "ed25519".to_string()
    } else if let Some(oid) = has("ASN1 OID: ") {
        format!("ecdsa {}", curve_name(oid.trim()))
    } else if lines.contains(&"Modulus:") {
        format!("rsa {}", bits.unwrap_or(0))
    } else {
        let first = lines
            .iter()
            .find(|l| !l.is_empty() && !l.starts_with("-----"));
        first
            .map_or("unknown", |l| l.trim_end_matches(':'))
            .to_string()
    };
    Some(PublicKey { algo, pem })
}

/// The name play uses for an elliptic curve (`prime256v1` is `secp256r1`).
pub fn curve_name(oid: &str) -> &str {
    match oid {
        "prime256v1" | "P-256" => "secp256r1",
        "P-384" => "secp384r1",
        "P-521" => "secp521r1",
        other => other,
    }
}

/// Plans a TLS file from its path's state: `wrong` says why the file there is not the one
/// wanted (empty: it is; then only its attributes), `create`, what a new one is.
pub fn plan(
    path: &str,
    presence: Presence,
    attrs: &Attrs,
    have: &PathState,
    create: String,
    wrong: Vec<String>,
) -> Result<Option<Planned<TlsOp>>, Refused> {
    let old = match &have.kind {
        PathKind::Missing => None,
        PathKind::File { sha256, .. } => Some(sha256.clone()),
        PathKind::Directory { .. } => {
            return Err(Refused(format!("{path} is a folder; not replaced")))
        }
        PathKind::Link { .. } => {
            return Err(Refused(format!("{path} is a symbolic link; not replaced")))
        }
        PathKind::Other(t) => return Err(Refused(format!("{path} is a {t}; not replaced"))),
    };
    if presence == Presence::Absent {
        return Ok(old.map(|_| Planned {
            action: Action::Delete,
            details: Vec::new(),
            work: TlsOp::Delete,
        }));
    }
    let Some(sum) = old else {
        return Ok(Some(Planned {
            action: Action::Create,
            details: vec![create],
            work: TlsOp::Generate {
                expect: "missing".into(),
            },
        }));
    };
    if wrong.is_empty() {
        let details = attr_details(attrs, have);
        return Ok((!details.is_empty()).then_some(Planned {
            action: Action::Attrs,
            details,
            work: TlsOp::Attrs,
        }));
    }
    Ok(Some(Planned {
        action: Action::Update,
        details: wrong,
        work: TlsOp::Generate {
            expect: sum.unwrap_or_else(|| "-".into()),
        },
    }))
}

/// The apply step of a TLS file: `fill` writes the new file into `"$t"` (its failure fails
/// the step; run as a group with stdin from `/dev/null`, so a pipe inside it keeps its own);
/// `what` names it in the script's comment.
pub fn apply_fragment(
    index: usize,
    what: &str,
    path: &str,
    attrs: &Attrs,
    op: &TlsOp,
    fill: &str,
) -> String {
    let i = index;
    let head = format!("# {what} {path}\nprintf '\\0play-step\\0%s\\0' {i} >&2\n");
    let body = match op {
        TlsOp::Generate { expect } => crate::apply::fetched_file(
            i,
            path,
            attrs,
            &format!("{{ {fill}\n}} </dev/null 1>&2 || play_fail {i}"),
            expect,
            "",
        ),
        TlsOp::Attrs => crate::apply::attrs_only(i, path, attrs, "-"),
        TlsOp::Delete => crate::apply::removal(i, path, "rm -f"),
    };
    format!("{head}{body}play_ok {i}\n")
}

/// The shell text writing the host's key file `key` to stdout for the command after `|`:
/// read inside its pinned folder (`play_enter`), refused when it is a link or not a regular
/// file, read with `dd iflag=nofollow` (root never reads through a link another user put
/// there). The key goes through the pipe only.
pub fn read_key(key: &str) -> String {
    let (dir, name) = super::deploy::split_path(key);
    let (k, d, n) = (
        shell_quote(key),
        shell_quote(&dir),
        shell_quote(&format!("./{name}")),
    );
    format!(
        "( play_enter {d} || exit 1
  if [ -L {n} ]; then printf '%s: a symbolic link; play does not read a key through it\\n' {k} >&2; exit 1; fi
  if ! [ -f {n} ]; then printf '%s: not a regular file (missing?); no key to sign with\\n' {k} >&2; exit 1; fi
  dd if={n} iflag=nofollow,nonblock bs=64k status=none
)"
    )
}

/// A whole number of `key` within `range`, for the render functions.
pub fn check_range(key: &str, n: u64, range: std::ops::RangeInclusive<u64>) -> Result<u32, String> {
    if range.contains(&n) {
        Ok(n as u32)
    } else {
        Err(format!(
            "{key}: {n} is out of range ({}–{})",
            range.start(),
            range.end()
        ))
    }
}

/// A subjectAltName entry as play compares it (`IP Address:` is `IP:`).
pub fn san_normal(s: &str) -> String {
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
pub fn short_name(k: &str) -> String {
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

pub fn check_name(k: &str) -> Result<(), String> {
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

/// The `subject` of an entry (`-subj`'s form, or a mapping `{CN: site.example, O: Example}`;
/// `need`: at least one attribute).
pub fn subject_of(k: &Keys, need: bool) -> Result<Vec<(String, String)>, ResolveError> {
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
    if need && subject.is_empty() {
        return Err(k.fail(
            "subject",
            "subject: at least one attribute (/CN=site.example)".into(),
        ));
    }
    Ok(subject)
}

/// The `subject_alt_name` of an entry (a list of `DNS:NAME`, `IP:ADDRESS`, `email:ADDRESS`,
/// `URI:URI`), as play compares them.
pub fn san_of(k: &Keys) -> Result<Vec<String>, ResolveError> {
    let mut out = Vec::new();
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
        out.push(n);
    }
    Ok(out)
}

/// `-addext subjectAltName=…` for `openssl req` (empty without names).
pub fn san_arg(san: &[String]) -> String {
    if san.is_empty() {
        return String::new();
    }
    format!(
        " -addext {}",
        shell_quote(&format!("subjectAltName={}", san.join(",")))
    )
}

/// What `openssl x509|req -noout -subject -nameopt sep_multiline,sname,utf8 … -pubkey` printed
/// of a certificate or a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    pub subject: Vec<(String, String)>,
    pub subject_alt_name: Vec<String>,
    /// The PEM of its public key (empty: none printed).
    pub public_key: String,
    /// Its `Signature Algorithm:` when printed (`sha256WithRSAEncryption`).
    pub signature: Option<String>,
}

/// Reads the subject (`subject=` then one indented `NAME=VALUE` a line), the line after
/// `X509v3 Subject Alternative Name:`, the public key's PEM and the first `Signature
/// Algorithm:` of openssl's text.
pub fn parse_names(text: &str) -> Names {
    let mut seen = Names {
        public_key: pem_block(text),
        ..Default::default()
    };
    let mut section = "";
    for l in text.lines() {
        let t = l.trim();
        let indented = l.starts_with(char::is_whitespace) && !t.is_empty();
        if section == "subject" && indented {
            if let Some((k, v)) = t.split_once('=') {
                seen.subject.push((k.to_string(), v.to_string()));
            }
        } else if section == "san" && indented {
            seen.subject_alt_name.extend(
                t.split(", ")
                    .map(|s| san_normal(s.trim()))
                    .filter(|s| !s.is_empty()),
            );
            section = "";
        } else if let Some(rest) = l.strip_prefix("subject=") {
            section = "subject";
            if let Some((k, v)) = rest.trim().split_once('=') {
                seen.subject.push((k.trim().into(), v.trim().into()));
            }
        } else if t.starts_with("X509v3 Subject Alternative Name") {
            section = "san";
        } else if let Some(sig) = t.strip_prefix("Signature Algorithm:") {
            seen.signature.get_or_insert_with(|| sig.trim().to_string());
            section = "";
        } else {
            section = "";
        }
    }
    seen
}

/// The public half of the key `private_key` that signs `path` (a certificate, a request), from
/// its `pkey` record: `None` when it is made by an earlier step of the run (`changed` names it:
/// known after it) or was not asked; a refusal when it is missing and nothing makes it.
pub fn signing_key(
    path: &str,
    private_key: &str,
    key: &Seen,
    changed: &[&str],
) -> Result<Option<PublicKey>, Refused> {
    if changed.contains(&private_key) {
        return Ok(None);
    }
    match key {
        Seen::Missing | Seen::NotFile(_) => Err(Refused(format!(
            "private_key {private_key}: {} on the host, and no earlier step of this run makes it (declare a `private_key:` before {path})",
            match key {
                Seen::NotFile(w) => format!("a {w}, not a file"),
                _ => "missing".to_string(),
            }
        ))),
        Seen::NoOpenssl => Err(Refused(format!(
            "{path}: the host has no openssl (install it first: `package: openssl`)"
        ))),
        Seen::Text(t) => parse_public_key(t).map(Some).ok_or_else(|| {
            Refused(format!(
                "private_key {private_key}: not a private key openssl reads without a passphrase"
            ))
        }),
        Seen::Unknown => Ok(None),
    }
}

/// How a file made from a key says its relation to it: (`signed by`, `signed again by it`).
pub type KeyWords = (&'static str, &'static str);

/// What differs between the names and key seen and those wanted, one detail each (`words`: the
/// key's relation, as `not signed by …` and `known after …: signed again by it` say it;
/// `key_changes`: an earlier step of the run makes the key).
pub fn names_wrong(
    seen: &Names,
    subject: &[(String, String)],
    san: &[String],
    private_key: &str,
    public: Option<&PublicKey>,
    key_changes: bool,
    words: KeyWords,
) -> Vec<String> {
    let mut wrong = Vec::new();
    if key_changes {
        wrong.push(format!(
            "known after private_key {private_key}: {}",
            words.1
        ));
    } else if public.is_some_and(|k| k.pem != seen.public_key) {
        wrong.push(format!(
            "not {} private_key {private_key}: regenerated",
            words.0
        ));
    }
    if seen.subject != subject {
        wrong.push(format!(
            "subject {} → {}",
            subject_arg(&seen.subject),
            subject_arg(subject)
        ));
    }
    let (mut a, mut b) = (seen.subject_alt_name.clone(), san.to_vec());
    a.sort();
    b.sort();
    if a != b {
        wrong.push(format!(
            "subject_alt_name [{}] → [{}]",
            seen.subject_alt_name.join(", "),
            san.join(", ")
        ));
    }
    wrong
}

/// What the unit tests of the kinds made from a key share.
#[cfg(test)]
pub mod testing {
    use super::Seen;
    use crate::resources::{PathKind, PathState};

    /// A public key's PEM.
    pub const PEM: &str = "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----";

    /// The `pkey` record of the key whose public half is [`PEM`].
    pub fn key_text() -> Seen {
        Seen::Text(format!(
            "{PEM}\nPublic-Key: (2048 bit)\nModulus:\n    00:aa\n"
        ))
    }

    /// A root file of mode 0644 whose sha256 is `byte` 32 times.
    pub fn file(size: u64, byte: &str) -> PathState {
        PathState {
            kind: PathKind::File {
                size,
                sha256: Some(byte.repeat(32)),
            },
            mode: 0o644,
            owner: "root".into(),
            group: "root".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA: &str = "-----BEGIN PUBLIC KEY-----\nMIIBIjAN\nsQIDAQAB\n-----END PUBLIC KEY-----\nPublic-Key: (2048 bit)\nModulus:\n    00:cc:e2\nExponent: 65537 (0x10001)\n";
    const EC: &str = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\nPublic-Key: (256 bit)\npub:\n    04:bb\nASN1 OID: prime256v1\nNIST CURVE: P-256\n";
    const ED: &str =
        "-----BEGIN PUBLIC KEY-----\nMCow\n-----END PUBLIC KEY-----\nED25519 Public-Key:\npub:\n    c1:00\n";

    #[test]
    fn keys_are_read_from_their_public_half() {
        let k = parse_public_key(RSA).unwrap();
        assert_eq!(k.algo, "rsa 2048");
        assert_eq!(
            k.pem,
            "-----BEGIN PUBLIC KEY-----\nMIIBIjAN\nsQIDAQAB\n-----END PUBLIC KEY-----"
        );
        assert_eq!(parse_public_key(EC).unwrap().algo, "ecdsa secp256r1");
        assert_eq!(parse_public_key(ED).unwrap().algo, "ed25519");
        assert_eq!(parse_public_key(""), None);
        assert_eq!(parse_public_key("unable to load key"), None);
    }

    #[test]
    fn records_say_what_stands_there() {
        let f = |a: &str, b: &str| vec![a.to_string(), b.to_string()];
        assert_eq!(seen(Some(&f("missing", ""))), Seen::Missing);
        assert_eq!(seen(Some(&f("link", ""))), Seen::NotFile("link".into()));
        assert_eq!(seen(Some(&f("ok", "x"))), Seen::Text("x".into()));
        assert_eq!(seen(None), Seen::Unknown);
    }

    #[test]
    fn a_fragment_runs_openssl_only_for_a_regular_file() {
        let f = key_fragment("/etc/ssl/private/a b.key");
        assert!(
            f.starts_with("printf 'pkey\\0%s\\0' '/etc/ssl/private/a b.key'"),
            "{f}"
        );
        let run = f.find("openssl pkey").unwrap_or(0);
        assert!(f.find("[ -L ").unwrap_or(usize::MAX) < run, "{f}");
        assert!(f.contains("-passin pass:"), "{f}");
        assert!(!f.contains("-text "), "{f}");
    }

    #[test]
    fn a_key_is_read_without_following_links() {
        let r = read_key("/etc/ssl/private/site.key");
        assert!(r.contains("play_enter /etc/ssl/private"), "{r}");
        assert!(r.contains("iflag=nofollow"), "{r}");
    }
}
