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
