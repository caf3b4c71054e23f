//! known_hosts lookup and accept-new appends.
//!
//! Matching host names (plain, `[host]:port`, hashed `|1|salt|hash`) is left to libssh2's
//! `KnownHosts`, but only ever over the entries whose key type is the server key's type:
//! libssh2 alone would call a host with an RSA entry and an ed25519 server key "changed", and
//! it fails a whole file on one line it cannot parse. Lines it cannot read are skipped.
//!
//! The names looked up for a host are its inventory name and its address, each spelled
//! `name` for port 22 and `[name]:port` otherwise (the OpenSSH spelling). A host is known when
//! either matches with the server's key; changed when an entry of the same key type exists for
//! either with another key and none matches.
//!
//! Appends ([`append_if_absent`]) hold an exclusive lock on the file (`flock`, which also
//! serialises threads of one process, since each call opens its own file description), re-read
//! it, and append only if the key is still not known.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use ssh2::{CheckResult, KnownHostFileKind, Session};

/// Why known_hosts could not be read, checked or written.
#[derive(Debug, thiserror::Error)]
pub enum KnownHostsError {
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("libssh2 cannot check known hosts: {0}")]
    Libssh2(String),
}

/// A server's host key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKey {
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, ...
    pub key_type: String,
    /// The raw key blob (what known_hosts stores in base64).
    pub blob: Vec<u8>,
}

impl HostKey {
    /// A key from its raw blob, reading the type from the blob itself.
    pub fn from_blob(blob: &[u8]) -> Option<HostKey> {
        key_type_of_blob(blob).map(|key_type| HostKey {
            key_type,
            blob: blob.to_vec(),
        })
    }

    /// `SHA256:...`, as `ssh-keygen -l` prints it.
    pub fn fingerprint(&self) -> String {
        fingerprint_sha256(&self.blob)
    }

    /// The blob in base64, as known_hosts stores it.
    pub fn base64(&self) -> String {
        base64_encode(&self.blob, true)
    }
}

/// What known_hosts says about a server's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// An entry for the host has this key.
    Known,
    /// No entry of this key type for the host.
    Unknown,
    /// Entries of this key type exist for the host, all with another key.
    Changed {
        /// 1-based line of the first such entry.
        line: usize,
        /// The looked-up name it is for (as in [`lookup_names`]).
        name: String,
        /// Fingerprint of the key on that line.
        known_fingerprint: String,
    },
    /// The key is marked `@revoked`.
    Revoked { line: usize },
}

/// What [`append_if_absent`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// The line was appended.
    Added,
    /// Another thread or process had added the key meanwhile.
    AlreadyKnown,
    /// The file has (now) another key, or revokes this one: nothing was written.
    Refused(Verdict),
}

/// One parsed known_hosts line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line number.
    pub line: usize,
    /// `@cert-authority` or `@revoked`, when present.
    pub marker: Option<String>,
    /// The host field: comma-separated names, or one hashed name.
    pub hosts: String,
    pub key_type: String,
    pub key_base64: String,
}

impl Entry {
    /// The line as libssh2 reads it (marker dropped).
    fn as_plain_line(&self) -> String {
        format!("{} {} {}", self.hosts, self.key_type, self.key_base64)
    }
}

/// Parses known_hosts text. Comments, blank and malformed lines are skipped.
pub fn parse(contents: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    for (i, raw) in contents.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let mut first = fields.next();
        let marker = match first {
            Some(m) if m.starts_with('@') => {
                first = fields.next();
                Some(m.to_string())
            }
            _ => None,
        };
        let (Some(hosts), Some(key_type), Some(key)) = (first, fields.next(), fields.next()) else {
            continue;
        };
        entries.push(Entry {
            line: i + 1,
            marker,
            hosts: hosts.to_string(),
            key_type: key_type.to_string(),
            key_base64: key.to_string(),
        });
    }
    entries
}

/// The names to look up for a host: `name` and `address` for port 22, `[name]:port` and
/// `[address]:port` otherwise; duplicates dropped.
pub fn lookup_names(name: &str, address: &str, port: u16) -> Vec<String> {
    let spell = |h: &str| {
        if port == 22 {
            h.to_string()
        } else {
            format!("[{h}]:{port}")
        }
    };
    let mut names = vec![spell(address)];
    let n = spell(name);
    if !names.contains(&n) {
        names.push(n);
    }
    names
}

/// The line accept-new appends: `name,address TYPE BASE64`.
pub fn entry_line(names: &[String], key: &HostKey) -> String {
    format!("{} {} {}", names.join(","), key.key_type, key.base64())
}

/// Whether libssh2 could match `e` to one of `names`: a hashed entry, a pattern (`*`, `?`,
/// `!`, `[host]:port`), or a plain name equal to one of them or to its host part (in any
/// case). The others are not handed to libssh2: a known_hosts file of N hosts is then read
/// once per host, not N times over (each of N hosts checked against every line).
fn may_match(e: &Entry, names: &[String]) -> bool {
    e.hosts.starts_with('|')
        || e.hosts.split(',').any(|p| {
            p.contains(['*', '?', '!', '[', ']', ':'])
                || names.iter().any(|n| {
                    let host = n
                        .strip_prefix('[')
                        .and_then(|r| r.split_once("]:"))
                        .map_or(n.as_str(), |(h, _)| h);
                    p.eq_ignore_ascii_case(n) || p.eq_ignore_ascii_case(host)
                })
        })
}

/// Runs libssh2's matcher over `entries` (same key type, no marker) for each of `names`.
fn libssh2_check(
    entries: &[&Entry],
    names: &[String],
    key: &HostKey,
) -> Result<CheckResult, KnownHostsError> {
    let entries: Vec<&Entry> = entries
        .iter()
        .copied()
        .filter(|e| may_match(e, names))
        .collect();
    if entries.is_empty() {
        return Ok(CheckResult::NotFound);
    }
    let lib = |e: ssh2::Error| KnownHostsError::Libssh2(e.message().to_string());
    let sess = Session::new().map_err(lib)?;
    let mut kh = sess.known_hosts().map_err(lib)?;
    for e in &entries {
        // A line libssh2 cannot read (odd host field, bad base64) is skipped, not fatal.
        let _ = kh.read_str(&e.as_plain_line(), KnownHostFileKind::OpenSSH);
    }
    let mut changed = false;
    for n in names {
        if n.contains('\0') {
            continue;
        }
        match kh.check(n, &key.blob) {
            CheckResult::Match => return Ok(CheckResult::Match),
            CheckResult::Mismatch => changed = true,
            CheckResult::NotFound => {}
            CheckResult::Failure => {
                return Err(KnownHostsError::Libssh2(format!("checking `{n}` failed")))
            }
        }
    }
    Ok(if changed {
        CheckResult::Mismatch
    } else {
        CheckResult::NotFound
    })
}

/// Looks `key` up for any of `names` (see [`lookup_names`]) in known_hosts text.
pub fn check(contents: &str, names: &[String], key: &HostKey) -> Result<Verdict, KnownHostsError> {
    let entries = parse(contents);
    let key_b64 = key.base64();
    if let Some(r) = entries
        .iter()
        .find(|e| e.marker.as_deref() == Some("@revoked") && e.key_base64 == key_b64)
    {
        return Ok(Verdict::Revoked { line: r.line });
    }
    let same_type: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.marker.is_none() && e.key_type == key.key_type)
        .collect();
    match libssh2_check(&same_type, names, key)? {
        CheckResult::Match => Ok(Verdict::Known),
        CheckResult::Mismatch => {
            // Find the offending line and name for the message.
            for e in &same_type {
                for n in names {
                    let one = std::slice::from_ref(n);
                    if matches!(libssh2_check(&[*e], one, key)?, CheckResult::Mismatch) {
                        let known_fingerprint = base64_decode(&e.key_base64)
                            .map(|b| fingerprint_sha256(&b))
                            .unwrap_or_else(|| "(unreadable key)".into());
                        return Ok(Verdict::Changed {
                            line: e.line,
                            name: n.clone(),
                            known_fingerprint,
                        });
                    }
                }
            }
            Ok(Verdict::Changed {
                line: 0,
                name: names.first().cloned().unwrap_or_default(),
                known_fingerprint: "(unknown)".into(),
            })
        }
        _ => Ok(Verdict::Unknown),
    }
}

/// Key types (`ssh-ed25519`, `ssh-rsa`, ...) that known_hosts has for any of `names`, in file
/// order. Used to ask the server for a key we can check.
pub fn known_key_types(contents: &str, names: &[String]) -> Result<Vec<String>, KnownHostsError> {
    let entries = parse(contents);
    let mut types: Vec<String> = Vec::new();
    for e in entries.iter().filter(|e| e.marker.is_none()) {
        if types.contains(&e.key_type) {
            continue;
        }
        let same: Vec<&Entry> = entries
            .iter()
            .filter(|x| x.marker.is_none() && x.key_type == e.key_type)
            .collect();
        // A key no entry has: any entry for the host answers "mismatch".
        let probe = HostKey {
            key_type: e.key_type.clone(),
            blob: b"play-probe-not-a-key".to_vec(),
        };
        if !matches!(libssh2_check(&same, names, &probe)?, CheckResult::NotFound) {
            types.push(e.key_type.clone());
        }
    }
    Ok(types)
}

/// Reads known_hosts; a missing file reads as `None`.
pub fn read(path: &Path) -> Result<Option<String>, KnownHostsError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(String::from_utf8_lossy(&b).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(KnownHostsError::Io {
            what: "read",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Appends `names key` to `path` unless it is known by then, under an exclusive lock.
/// Creates the file (mode 0600) and its folder when missing.
pub fn append_if_absent(
    path: &Path,
    names: &[String],
    key: &HostKey,
) -> Result<Appended, KnownHostsError> {
    let io = |what: &'static str| {
        let path = path.to_path_buf();
        move |source| KnownHostsError::Io { what, path, source }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode_0700()
                .create(dir)
                .map_err(io("create the folder of"))?;
        }
    }
    let mut file = open_for_append(path).map_err(io("open"))?;
    file.lock().map_err(io("lock"))?;
    // The lock is released when `file` is dropped (closed), on every path below.
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0)).map_err(io("read"))?;
    file.read_to_end(&mut bytes).map_err(io("read"))?;
    let contents = String::from_utf8_lossy(&bytes);
    match check(&contents, names, key)? {
        Verdict::Known => return Ok(Appended::AlreadyKnown),
        Verdict::Unknown => {}
        other => return Ok(Appended::Refused(other)),
    }
    let mut line = String::new();
    if !bytes.is_empty() && !bytes.ends_with(b"\n") {
        line.push('\n');
    }
    line.push_str(&entry_line(names, key));
    line.push('\n');
    // One write of the whole line; the file is opened for append.
    file.write_all(line.as_bytes()).map_err(io("append to"))?;
    file.flush().map_err(io("append to"))?;
    Ok(Appended::Added)
}

fn open_for_append(path: &Path) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

trait DirMode {
    fn mode_0700(&mut self) -> &mut Self;
}

impl DirMode for std::fs::DirBuilder {
    fn mode_0700(&mut self) -> &mut Self {
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            self.mode(0o700);
        }
        self
    }
}

/// The key type named at the start of an SSH key blob (`string type, ...`).
pub fn key_type_of_blob(blob: &[u8]) -> Option<String> {
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    let name = blob.get(4..4usize.checked_add(len)?)?;
    if name.is_empty() || !name.iter().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    std::str::from_utf8(name).ok().map(str::to_string)
}

/// `SHA256:` + unpadded base64 of the SHA-256 of the key blob (OpenSSH's fingerprint).
pub fn fingerprint_sha256(blob: &[u8]) -> String {
    format!("SHA256:{}", base64_encode(&Sha256::digest(blob), false))
}

/// Standard base64 (`base64` crate), with or without `=` padding.
pub fn base64_encode(data: &[u8], pad: bool) -> String {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
    use base64::Engine;
    if pad {
        STANDARD.encode(data)
    } else {
        STANDARD_NO_PAD.encode(data)
    }
}

/// Decodes standard base64 (padding optional); `None` on any other character.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::engine::{general_purpose, DecodePaddingMode, GeneralPurpose};
    use base64::Engine;
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        general_purpose::PAD.with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    LENIENT.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// An ed25519 host key blob (from `ssh-keygen -t ed25519`), its fingerprint per
    /// `ssh-keygen -lf`, and a second key of the same type.
    const ED_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIFiemstPwznMW/nbKBrZNR/r2/4+YGK7r9yg0e6h/ktE";
    const ED_A_FP: &str = "SHA256:npmEEuRSC/M13+P6JrhVGARUuLKIqU3QceWK+d7Kaek";
    const ED_B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAINEvfKdxooHUca9m1vtXOtvy//OdBU6lvYqEGDl+ZaJ9";
    /// An RSA blob is not needed whole: libssh2 only compares base64 text.
    const RSA: &str = "AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7";

    fn key(b64: &str) -> HostKey {
        HostKey::from_blob(&base64_decode(b64).expect("test key is base64")).expect("blob")
    }

    fn names(name: &str, addr: &str, port: u16) -> Vec<String> {
        lookup_names(name, addr, port)
    }

    #[test]
    fn base64_round_trips_and_matches_known_vectors() {
        assert_eq!(base64_encode(b"", true), "");
        assert_eq!(base64_encode(b"f", true), "Zg==");
        assert_eq!(base64_encode(b"fo", true), "Zm8=");
        assert_eq!(base64_encode(b"foo", true), "Zm9v");
        assert_eq!(base64_encode(b"foob", false), "Zm9vYg");
        for n in 0..40u8 {
            let data: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(
                base64_decode(&base64_encode(&data, true)),
                Some(data.clone())
            );
            assert_eq!(base64_decode(&base64_encode(&data, false)), Some(data));
        }
        assert_eq!(base64_decode("a b"), None);
    }

    #[test]
    fn fingerprint_is_openssh_format() {
        let k = key(ED_A);
        assert_eq!(k.key_type, "ssh-ed25519");
        assert_eq!(k.fingerprint(), ED_A_FP);
        assert_eq!(k.base64(), ED_A);
    }

    #[test]
    fn key_type_of_blob_rejects_garbage() {
        assert_eq!(key_type_of_blob(b""), None);
        assert_eq!(key_type_of_blob(&[0, 0, 0, 200, b'a']), None);
        assert_eq!(key_type_of_blob(&[255, 255, 255, 255]), None);
        assert_eq!(
            key_type_of_blob(&[0, 0, 0, 7, b's', b's', b'h', b'-', b'r', b's', b'a']),
            Some("ssh-rsa".into())
        );
    }

    #[test]
    fn parse_skips_comments_and_reads_markers() {
        let text = format!(
            "# comment\n\nh1 ssh-ed25519 {ED_A} comment words\n@revoked * ssh-ed25519 {ED_B}\nbroken\n"
        );
        let e = parse(&text);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].line, 3);
        assert_eq!(e[0].hosts, "h1");
        assert_eq!(e[1].marker.as_deref(), Some("@revoked"));
        assert_eq!(e[1].line, 4);
    }

    #[test]
    fn lookup_names_follow_openssh_spelling() {
        assert_eq!(names("h3", "127.0.0.13", 22), vec!["127.0.0.13", "h3"]);
        assert_eq!(
            names("h3", "127.0.0.13", 2222),
            vec!["[127.0.0.13]:2222", "[h3]:2222"]
        );
        assert_eq!(names("h3", "h3", 22), vec!["h3"]);
    }

    #[test]
    fn matches_by_name_or_address() {
        let text = format!("h3,127.0.0.13 ssh-ed25519 {ED_A}\n");
        let k = key(ED_A);
        assert_eq!(
            check(&text, &names("h3", "10.0.0.1", 22), &k).ok(),
            Some(Verdict::Known)
        );
        assert_eq!(
            check(&text, &names("other", "127.0.0.13", 22), &k).ok(),
            Some(Verdict::Known)
        );
        assert_eq!(
            check(&text, &names("x", "10.0.0.1", 22), &k).ok(),
            Some(Verdict::Unknown)
        );
        // A port-22 entry does not vouch for another port.
        assert_eq!(
            check(&text, &names("h3", "127.0.0.13", 2222), &k).ok(),
            Some(Verdict::Unknown)
        );
        let text = format!("[127.0.0.13]:2222 ssh-ed25519 {ED_A}\n");
        assert_eq!(
            check(&text, &names("h3", "127.0.0.13", 2222), &k).ok(),
            Some(Verdict::Known)
        );
        assert_eq!(
            check(&text, &names("h3", "127.0.0.13", 22), &k).ok(),
            Some(Verdict::Unknown)
        );
    }

    /// Lines naming other hosts are not handed to libssh2 (each host would read every line);
    /// those that could match are: the host's names in any case, patterns, `[host]:port`,
    /// hashed names. The verdicts are the same as with every line read.
    #[test]
    fn only_lines_that_could_name_the_host_go_to_libssh2() {
        let e = |hosts: &str| Entry {
            line: 1,
            marker: None,
            hosts: hosts.into(),
            key_type: "ssh-ed25519".into(),
            key_base64: ED_A.into(),
        };
        let n = names("h3", "127.0.0.13", 22);
        for hosts in [
            "h3",
            "H3",
            "x,127.0.0.13",
            "127.0.0.*",
            "h?",
            "!h4,*",
            "[h3]:22",
            "|1|a|b",
        ] {
            assert!(may_match(&e(hosts), &n), "{hosts}");
        }
        for hosts in ["h4", "h30,127.0.0.1", "other.example"] {
            assert!(!may_match(&e(hosts), &n), "{hosts}");
        }
        assert!(may_match(&e("h3"), &names("h3", "127.0.0.13", 2222)));
        // Many other hosts' lines around the host's own: the same verdicts.
        let others: String = (1..=50)
            .map(|i| format!("h{i}x,127.9.0.{i} ssh-ed25519 {ED_B}\n"))
            .collect();
        let k = key(ED_A);
        for (text, want) in [
            (
                format!("{others}h3,127.0.0.13 ssh-ed25519 {ED_A}\n{others}"),
                Verdict::Known,
            ),
            // (libssh2 itself matches no pattern: handed over, still unknown.)
            (
                format!("{others}127.0.0.* ssh-ed25519 {ED_A}\n"),
                Verdict::Unknown,
            ),
            (others.clone(), Verdict::Unknown),
        ] {
            assert_eq!(check(&text, &n, &k).ok(), Some(want));
        }
        let changed = format!("{others}h3 ssh-ed25519 {ED_B}\n");
        assert!(matches!(
            check(&changed, &n, &k),
            Ok(Verdict::Changed { line: 51, .. })
        ));
        assert_eq!(
            known_key_types(&format!("{others}h3 ssh-rsa {RSA}\n"), &n).ok(),
            Some(vec!["ssh-rsa".to_string()])
        );
    }

    #[test]
    fn hashed_entries_match() {
        // `ssh-keygen -H` of "h9 ssh-ed25519 ED_A" (hash of the name `h9`).
        let text = format!(
            "|1|DCC0mXkPxDvvOWVs2Traoa0YEkA=|EnWoAJ7bvWTduA2MiZ2jc/bjmM4= ssh-ed25519 {ED_A}\n"
        );
        assert_eq!(
            check(&text, &names("h9", "10.1.1.1", 22), &key(ED_A)).ok(),
            Some(Verdict::Known)
        );
        assert_eq!(
            check(&text, &names("h8", "10.1.1.1", 22), &key(ED_A)).ok(),
            Some(Verdict::Unknown)
        );
    }

    #[test]
    fn changed_key_of_same_type_is_reported_with_line_and_fingerprint() {
        let text = format!("# c\nh1 ssh-ed25519 {ED_A}\n");
        match check(&text, &names("h1", "127.0.0.2", 22), &key(ED_B)) {
            Ok(Verdict::Changed {
                line,
                name,
                known_fingerprint,
            }) => {
                assert_eq!(line, 2);
                assert_eq!(name, "h1");
                assert_eq!(known_fingerprint, ED_A_FP);
            }
            other => panic!("expected Changed, got {other:?}"),
        }
    }

    #[test]
    fn entry_of_other_type_does_not_make_a_change() {
        let text = format!("h1 ssh-rsa {RSA}\n");
        assert_eq!(
            check(&text, &names("h1", "h1", 22), &key(ED_A)).ok(),
            Some(Verdict::Unknown)
        );
        assert_eq!(
            known_key_types(&text, &names("h1", "h1", 22)).ok(),
            Some(vec!["ssh-rsa".to_string()])
        );
        assert_eq!(
            known_key_types(&text, &names("h2", "h2", 22)).ok(),
            Some(vec![])
        );
    }

    #[test]
    fn one_match_wins_over_another_entry() {
        let text = format!("127.0.0.2 ssh-ed25519 {ED_B}\nh1 ssh-ed25519 {ED_A}\n");
        assert_eq!(
            check(&text, &names("h1", "127.0.0.2", 22), &key(ED_A)).ok(),
            Some(Verdict::Known)
        );
    }

    #[test]
    fn revoked_key_is_refused_and_unreadable_lines_are_skipped() {
        let text = format!(
            "h1 ssh-ed25519 !!!notbase64\n@revoked * ssh-ed25519 {ED_A}\nh1 ssh-ed25519 {ED_A}\n"
        );
        assert_eq!(
            check(&text, &names("h1", "h1", 22), &key(ED_A)).ok(),
            Some(Verdict::Revoked { line: 2 })
        );
        let text = format!("h1 ssh-ed25519 !!!notbase64\nh1 ssh-ed25519 {ED_A}\n");
        assert_eq!(
            check(&text, &names("h1", "h1", 22), &key(ED_A)).ok(),
            Some(Verdict::Known)
        );
    }

    #[test]
    fn append_creates_file_and_is_idempotent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/known_hosts");
        let n = names("h1", "127.0.0.2", 2222);
        assert_eq!(
            append_if_absent(&path, &n, &key(ED_A)).ok(),
            Some(Appended::Added)
        );
        assert_eq!(
            append_if_absent(&path, &n, &key(ED_A)).ok(),
            Some(Appended::AlreadyKnown)
        );
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(
            text,
            format!("[127.0.0.2]:2222,[h1]:2222 ssh-ed25519 {ED_A}\n")
        );
        assert!(matches!(
            append_if_absent(&path, &n, &key(ED_B)),
            Ok(Appended::Refused(Verdict::Changed { line: 1, .. }))
        ));
    }

    #[test]
    fn append_adds_missing_newline() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("known_hosts");
        std::fs::write(&path, format!("h0 ssh-ed25519 {ED_B}")).expect("write");
        let n = names("h1", "h1", 22);
        assert_eq!(
            append_if_absent(&path, &n, &key(ED_A)).ok(),
            Some(Appended::Added)
        );
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 2);
        assert!(text.ends_with(&format!("h1 ssh-ed25519 {ED_A}\n")));
    }

    #[test]
    fn concurrent_appends_from_50_threads_give_50_unique_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = Arc::new(dir.path().join("known_hosts"));
        let k = key(ED_A);
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let path = Arc::clone(&path);
                let k = k.clone();
                std::thread::spawn(move || {
                    let n = names(&format!("h{i}"), &format!("127.0.0.{}", i + 10), 22);
                    // Every host twice: the second must find the first.
                    let a = append_if_absent(&path, &n, &k).ok();
                    let b = append_if_absent(&path, &n, &k).ok();
                    (a, b)
                })
            })
            .collect();
        for h in handles {
            let (a, b) = h.join().expect("thread");
            assert_eq!(a, Some(Appended::Added));
            assert_eq!(b, Some(Appended::AlreadyKnown));
        }
        let text = std::fs::read_to_string(&*path).expect("read");
        let mut lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 50);
        lines.sort();
        lines.dedup();
        assert_eq!(lines.len(), 50);
        assert!(lines.iter().all(|l| l.ends_with(ED_A)));
    }

    #[test]
    fn concurrent_appends_of_one_host_write_it_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = Arc::new(dir.path().join("known_hosts"));
        let k = key(ED_A);
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let path = Arc::clone(&path);
                let k = k.clone();
                std::thread::spawn(move || {
                    append_if_absent(&path, &names("h1", "127.0.0.2", 22), &k).ok()
                })
            })
            .collect();
        let added = handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .filter(|r| *r == Some(Appended::Added))
            .count();
        assert_eq!(added, 1);
        let text = std::fs::read_to_string(&*path).expect("read");
        assert_eq!(text.lines().count(), 1);
    }
}
