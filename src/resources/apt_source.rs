//! `apt_source:` — an apt repository as a deb822 file `/etc/apt/sources.list.d/NAME.sources`,
//! with its signing key at `/etc/apt/keyrings/NAME.asc` (Ansible's `apt_repository`, `apt_key`
//! and `deb822_repository`).
//!
//! ```yaml
//! - apt_source: nodesource
//!   uris: https://deb.nodesource.com/node_20.x   # or a list; file: URIs work
//!   suites: ["{{ facts.os_codename }}"]           # a flat repository: ["./"]
//!   components: [main]                            # none for a flat repository
//!   key: nodesource.asc                           # a file of files/ (role, then playbook)
//!   # or, fetched by the host (like `download:`): without key_sha256 only while missing
//!   # key_url: https://deb.nodesource.com/gpgkey/nodesource.gpg.key
//!   # key_sha256: "…"
//!   trusted: false
//! - apt_source: certbot
//!   ppa: certbot/certbot      # fills uris and components; suites: the host's codename
//! ```
//!
//! Probe: the core probe's stat and `sha256sum` of both paths (no record of its own). Plan: the
//! rendered file and the key compared by sha256 (a `key_url` key without `key_sha256`: present
//! is enough). Apply: both written through `apply::streamed_file` (temp file, fsync, check,
//! rename), a `key_url` key through `apply::fetched_file` (fetched into the private temp file,
//! checked — its sha256, and that it is an ASCII-armored key, as a `.asc` file must be — then
//! renamed), a PPA's key through the same file, filled by asking Launchpad's API for the PPA's
//! signing key fingerprint and the keyserver for that key (Ansible's `apt_repository` with a
//! `ppa:` repo); `apt-get update` runs once per
//! host, after the host's last source step, when any source or key changed
//! (`apply::script_full`), and then a `package:` with `update_cache` does not run it again.

use super::deploy::{short, Planned, Refused};
use super::registry::Key;
use super::sha256_hex;
use super::{Action, PathKind, PathState, Presence};
use crate::resolve::{Base, Keys, ResolveError};
use crate::transport::shell_quote;

/// Where the sources files go.
pub const SOURCES_DIR: &str = "/etc/apt/sources.list.d";
/// Where the keys go.
pub const KEYRINGS_DIR: &str = "/etc/apt/keyrings";
/// Launchpad's API, which gives a PPA's signing key fingerprint (Ansible's `LP_API`).
pub const PPA_API: &str = "https://api.launchpad.net/1.0";
/// The keyserver a PPA's key is fetched from by its fingerprint.
pub const KEYSERVER: &str = "https://keyserver.ubuntu.com";
/// Where PPAs are published (Ansible's `PPA_URI`).
pub const PPA_URI: &str = "https://ppa.launchpadcontent.net";

/// A Launchpad PPA (`ppa: OWNER/NAME`) whose signing key the host fetches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ppa {
    pub owner: String,
    pub name: String,
    /// Launchpad's API base (`ppa_api`, without a trailing `/`).
    pub api: String,
    /// The keyserver's base (`keyserver`, without a trailing `/`).
    pub keyserver: String,
}

impl Ppa {
    /// The API URL of the PPA (its JSON has `signing_key_fingerprint`).
    pub fn api_url(&self) -> String {
        format!("{}/~{}/+archive/{}", self.api, self.owner, self.name)
    }
}

/// One apt source, rendered for one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AptSourceSpec {
    pub name: String,
    pub presence: Presence,
    pub uris: Vec<String>,
    pub suites: Vec<String>,
    pub components: Vec<String>,
    /// The key's bytes (read from `files/` by resolve).
    pub key: Option<Vec<u8>>,
    /// Or the URL the host fetches the key from (`key_url`).
    pub key_url: Option<String>,
    /// The fetched key's sha256 (`key_sha256`; empty: fetched only while missing).
    pub key_sha256: String,
    pub trusted: bool,
    /// Or the PPA whose signing key the host fetches (`ppa`).
    pub ppa: Option<Ppa>,
}

impl AptSourceSpec {
    pub fn sources_path(&self) -> String {
        format!("{SOURCES_DIR}/{}.sources", self.name)
    }
    pub fn key_path(&self) -> String {
        format!("{KEYRINGS_DIR}/{}.asc", self.name)
    }

    /// Where the host fetches the key from, as plans say it (`None`: not fetched).
    pub fn key_from(&self) -> Option<String> {
        match (&self.key_url, &self.ppa) {
            (Some(url), _) => Some(url.clone()),
            (None, Some(p)) => Some(format!(
                "{} (the signing key of ppa:{}/{})",
                p.keyserver, p.owner, p.name
            )),
            (None, None) => None,
        }
    }

    /// The deb822 text of the sources file.
    pub fn text(&self) -> String {
        let mut s = format!(
            "# play: apt_source {}\nTypes: deb\nURIs: {}\nSuites: {}\n",
            self.name,
            self.uris.join(" "),
            self.suites.join(" ")
        );
        if !self.components.is_empty() {
            s.push_str(&format!("Components: {}\n", self.components.join(" ")));
        }
        if self.key.is_some() || self.key_url.is_some() || self.ppa.is_some() {
            s.push_str(&format!("Signed-By: {}\n", self.key_path()));
        }
        if self.trusted {
            s.push_str("Trusted: yes\n");
        }
        s
    }
}

/// A sources name apt reads (`run-parts` style: letters, digits, `_`, `-`, `.`).
fn check_key(key: &str) -> Result<String, String> {
    let ok = !key.is_empty()
        && key.len() <= 100
        && !key.starts_with('.')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(key.to_string())
    } else {
        Err(format!(
            "apt_source name `{key}`: letters, digits, `_`, `-` and `.` (apt ignores other files of sources.list.d)"
        ))
    }
}

/// Checks the lists of a present source: `Err((key, message))`.
pub fn check_lists(
    uris: &[String],
    suites: &[String],
    components: &[String],
) -> Result<(), (&'static str, String)> {
    if uris.is_empty() {
        return Err(("uris", "uris: at least one URI".into()));
    }
    for u in uris {
        let scheme_ok = ["http://", "https://", "file:/"]
            .iter()
            .any(|p| u.starts_with(p) && u.len() > p.len());
        if !scheme_ok || u.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err((
                "uris",
                format!("uris: `{u}` is not an http://, https:// or file: URI"),
            ));
        }
    }
    if suites.is_empty() {
        return Err(("suites", "suites: at least one suite".into()));
    }
    for (key, list) in [("suites", suites), ("components", components)] {
        if let Some(bad) = list
            .iter()
            .find(|w| w.is_empty() || w.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err((key, format!("{key}: `{bad}` is not one word")));
        }
    }
    let flat = suites.iter().any(|s| s.ends_with('/'));
    if flat && !components.is_empty() {
        return Err((
            "components",
            "components: a flat repository (a suite ending in `/`) has none".into(),
        ));
    }
    if !flat && components.is_empty() {
        return Err((
            "components",
            "components: at least one (or a flat suite such as `./`)".into(),
        ));
    }
    Ok(())
}

/// What apply does to one file of a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceFileOp {
    /// Write it; what it must still be (the sha256 the probe saw, or `missing`).
    Write {
        expect: String,
    },
    /// Fetch it from the source's `key_url` (then as `Write`).
    Fetch {
        expect: String,
    },
    Delete,
}

/// What apply does to a source: the sources file, then the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptSourceWork {
    pub sources: Option<SourceFileOp>,
    pub key: Option<SourceFileOp>,
}

/// `(exists, sha256)` of a path the probe saw; a folder or link there is refused.
fn seen(path: &str, have: &PathState) -> Result<Option<Option<String>>, Refused> {
    match &have.kind {
        PathKind::Missing => Ok(None),
        PathKind::File { sha256, .. } => Ok(Some(sha256.clone())),
        _ => Err(Refused(format!(
            "{path} is not a regular file; not replaced"
        ))),
    }
}

/// The op bringing a file from `have` to `want` (`None`: absent).
fn file_op(
    path: &str,
    want: Option<&[u8]>,
    have: &PathState,
    details: &mut Vec<String>,
) -> Result<Option<SourceFileOp>, Refused> {
    let old = seen(path, have)?;
    Ok(match (want, old) {
        (None, None) => None,
        (None, Some(_)) => {
            details.push(format!("- {path}"));
            Some(SourceFileOp::Delete)
        }
        (Some(bytes), old) => {
            let new = sha256_hex(bytes);
            match old {
                Some(Some(sum)) if sum == new => None,
                None => {
                    details.push(format!("+ {path}"));
                    Some(SourceFileOp::Write {
                        expect: "missing".into(),
                    })
                }
                Some(sum) => {
                    details.push(format!(
                        "{path}: sha256 {} → {}",
                        sum.as_deref().map(short).unwrap_or("unreadable"),
                        short(&new)
                    ));
                    Some(SourceFileOp::Write {
                        expect: sum.unwrap_or_else(|| "-".into()),
                    })
                }
            }
        }
    })
}

/// The op bringing the key fetched from `url` (as [`AptSourceSpec::key_from`] says it) to the
/// host: fetched while missing, and, with a `key_sha256`, whenever the file there has another
/// sha256.
fn fetch_op(
    spec: &AptSourceSpec,
    url: &str,
    have: &PathState,
    details: &mut Vec<String>,
) -> Result<Option<SourceFileOp>, Refused> {
    let path = spec.key_path();
    Ok(match seen(&path, have)? {
        None => {
            details.push(format!("+ {path} from {url}"));
            Some(SourceFileOp::Fetch {
                expect: "missing".into(),
            })
        }
        Some(_) if spec.key_sha256.is_empty() => None,
        Some(Some(sum)) if sum == spec.key_sha256 => None,
        Some(sum) => {
            details.push(format!(
                "{path}: sha256 {} → {} from {url}",
                sum.as_deref().map(short).unwrap_or("unreadable"),
                short(&spec.key_sha256)
            ));
            Some(SourceFileOp::Fetch {
                expect: sum.unwrap_or_else(|| "-".into()),
            })
        }
    })
}

/// The lines of step `i` fetching `spec`'s key into `"$t"` (from its `key_url`, or its PPA's
/// key from the keyserver): its sha256 checked when given, and refused unless it is an
/// ASCII-armored key (apt reads a `.asc` key only armored). `None`: the key is not fetched.
fn fill_key(i: usize, spec: &AptSourceSpec) -> Option<String> {
    let path = spec.key_path();
    let (fill, from) = match (&spec.key_url, &spec.ppa) {
        (Some(url), _) => (
            super::fetch::fill(i, url, &spec.key_sha256, &path),
            shell_quote(url),
        ),
        (None, Some(ppa)) => (fill_ppa_key(i, spec, ppa), "\"$u\"".to_string()),
        (None, None) => return None,
    };
    Some(format!(
        "{fill}\nif ! grep -q -e '^-----BEGIN PGP PUBLIC KEY BLOCK-----' \"$t\"; then printf '%s: not an ASCII-armored OpenPGP key (apt reads only armored keys from a .asc file; give a binary key as an armored file of files/ with `key:`): %s left untouched\\n' {from} {} >&2; play_fail {i}; fi",
        shell_quote(&path),
    ))
}

/// The lines of step `i` filling `"$t"` with the signing key of `ppa`: the PPA's
/// `signing_key_fingerprint` read from Launchpad's API (40 or 64 hexadecimal digits, else the
/// step fails), then the key of that fingerprint from the keyserver's HKP lookup (`"$u"`),
/// checked against `key_sha256` when given. Every failure says what and leaves the key file
/// untouched.
fn fill_ppa_key(i: usize, spec: &AptSourceSpec, ppa: &Ppa) -> String {
    let path = shell_quote(&spec.key_path());
    let api = shell_quote(&ppa.api_url());
    let name = shell_quote(&format!("ppa:{}/{}", ppa.owner, ppa.name));
    let lookup = shell_quote(&format!(
        "{}/pks/lookup?op=get&options=mr&search=0x",
        ppa.keyserver
    ));
    let get_api = super::fetch::command_of(&api, false);
    let get_key = super::fetch::command_of("\"$u\"", false);
    let sum = super::fetch::sum_check(i, &spec.key_sha256, "\"$u\"", &spec.key_path());
    format!(
        "{get_api} || {{ printf '%s: the details of %s could not be fetched from Launchpad: %s left untouched\\n' {api} {name} {path} >&2; play_fail {i}; }}
f=$(tr -d '\\n' < \"$t\" | sed -n 's/.*\"signing_key_fingerprint\"[[:space:]]*:[[:space:]]*\"\\([0-9A-Fa-f]*\\)\".*/\\1/p')
case ${{#f}} in 40|64) ;; *) printf '%s: no signing_key_fingerprint (40 or 64 hexadecimal digits) for %s: %s left untouched\\n' {api} {name} {path} >&2; play_fail {i} ;; esac
u={lookup}\"$f\"
{get_key} || {{ printf '%s: no key of fingerprint %s (the signing key of %s): %s left untouched\\n' \"$u\" \"$f\" {name} {path} >&2; play_fail {i}; }}{sum}"
    )
}

/// Plans one source from the state of its two paths.
pub fn plan(
    spec: &AptSourceSpec,
    sources: &PathState,
    key: &PathState,
) -> Result<Option<Planned<AptSourceWork>>, Refused> {
    let present = spec.presence == Presence::Present;
    let text = spec.text();
    let mut details = Vec::new();
    let work = AptSourceWork {
        sources: file_op(
            &spec.sources_path(),
            present.then_some(text.as_bytes()),
            sources,
            &mut details,
        )?,
        key: match spec.key_from() {
            Some(from) if present => fetch_op(spec, &from, key, &mut details)?,
            _ => file_op(
                &spec.key_path(),
                spec.key.as_deref().filter(|_| present),
                key,
                &mut details,
            )?,
        },
    };
    if work.sources.is_none() && work.key.is_none() {
        return Ok(None);
    }
    let existed = !matches!(sources.kind, PathKind::Missing);
    let action = match (present, existed) {
        (false, _) => Action::Delete,
        (true, false) => Action::Create,
        (true, true) => Action::Update,
    };
    Ok(Some(Planned {
        action,
        details,
        work,
    }))
}

/// The sources file's content change when `work` writes it (what `play diff` shows).
pub fn content(
    spec: &AptSourceSpec,
    work: &AptSourceWork,
    observed: &super::Observed,
) -> Option<super::ContentChange> {
    if !matches!(work.sources, Some(SourceFileOp::Write { .. })) {
        return None;
    }
    let path = spec.sources_path();
    let (old_size, old_sha256) = match observed.path(&path).kind {
        PathKind::File { size, sha256 } => (Some(size), sha256),
        _ => (None, None),
    };
    let new = spec.text().into_bytes();
    Some(super::ContentChange {
        path,
        old: None,
        old_sha256,
        old_size,
        old_unread: None,
        new_sha256: sha256_hex(&new),
        new,
    })
}

/// The apply step of one source (inside the apply script) and its stdin; `update`: run
/// `apt-get update` at its end (the host's last source change).
pub fn apply_fragment(
    index: usize,
    spec: &AptSourceSpec,
    work: &AptSourceWork,
    update: bool,
) -> (String, Vec<u8>) {
    let i = index;
    let mut s = format!(
        "# apt_source {}\nprintf '\\0play-step\\0%s\\0' {i} >&2\n",
        spec.name
    );
    let mut stdin = Vec::new();
    let text = spec.text();
    let mut file = |path: &str, bytes: &[u8], op: &Option<SourceFileOp>, dir: Option<&str>| match op
    {
        None => {}
        Some(SourceFileOp::Delete) => s.push_str(&crate::apply::removal(i, path, "rm -f")),
        Some(SourceFileOp::Write { expect } | SourceFileOp::Fetch { expect }) => {
            if let Some(d) = dir {
                s.push_str(&format!(
                    "[ -d {d} ] || (umask 022; mkdir -p -- {d}) || play_fail {i}\n"
                ));
            }
            let attrs = super::Attrs {
                owner: Some("root".into()),
                group: Some("root".into()),
                mode: Some(0o644),
            };
            match (op, fill_key(i, spec)) {
                (Some(SourceFileOp::Fetch { .. }), Some(fill)) => {
                    let sha = spec.key_sha256.as_str();
                    s.push_str(&crate::apply::fetched_file(
                        i, path, &attrs, &fill, expect, sha,
                    ));
                }
                _ => {
                    let (t, input) = crate::apply::streamed_file(i, path, &attrs, bytes, expect);
                    s.push_str(&t);
                    stdin.extend_from_slice(&input);
                }
            }
        }
    };
    // A key is written before the sources file naming it (a failed fetch leaves both as they
    // were), and removed after the sources file no longer names it.
    let key_first = !matches!(work.key, Some(SourceFileOp::Delete));
    let key = spec.key.as_deref().unwrap_or_default();
    if key_first {
        file(&spec.key_path(), key, &work.key, Some(KEYRINGS_DIR));
    }
    file(&spec.sources_path(), text.as_bytes(), &work.sources, None);
    if !key_first {
        file(&spec.key_path(), key, &work.key, Some(KEYRINGS_DIR));
    }
    if update {
        s.push_str(&format!(
            "{} update </dev/null 1>&2 || play_fail {i}\n",
            super::deploy::APT
        ));
    }
    s.push_str(&format!("play_ok {i}\n"));
    (s, stdin)
}

impl super::Spec for AptSourceSpec {
    type Work = AptSourceWork;
    fn updates_apt_cache(&self) -> bool {
        true
    }
    fn plan_work(
        &self,
        observed: &super::Observed,
        _changed: &[&str],
    ) -> Result<Option<super::deploy::Planned<Self::Work>>, super::deploy::Refused> {
        let (src, key) = (
            observed.path(&self.sources_path()),
            observed.path(&self.key_path()),
        );
        plan(self, &src, &key)
    }
    fn content(
        &self,
        work: &Self::Work,
        observed: &super::Observed,
    ) -> Option<super::ContentChange> {
        content(self, work, observed)
    }
    fn apply_fragment(
        &self,
        index: usize,
        work: Option<&Self::Work>,
        last: bool,
    ) -> Option<Result<(String, Vec<u8>), String>> {
        // The host's last source change runs `apt-get update`.
        work.map(|w| Ok(apply_fragment(index, self, w, last)))
    }
    const DEF: &'static super::registry::KindDef = &DEF;
    fn key(&self) -> &str {
        &self.name
    }
    fn probe_paths(&self) -> Vec<String> {
        vec![self.sources_path(), self.key_path()]
    }
    fn has_nul(&self) -> bool {
        self.name.contains('\0')
            || self.key_url.as_deref().is_some_and(|u| u.contains('\0'))
            || self.ppa.as_ref().is_some_and(|p| {
                [&p.owner, &p.name, &p.api, &p.keyserver]
                    .iter()
                    .any(|x| x.contains('\0'))
            })
            || [&self.uris, &self.suites, &self.components]
                .iter()
                .any(|l| l.iter().any(|x| x.contains('\0')))
    }
}

/// The registry line of `apt_source:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::AptSource,
    name: "apt_source",
    keys: &[
        Key::Any("uris"),
        Key::Any("suites"),
        Key::Any("components"),
        Key::Text("key"),
        Key::Text("key_url"),
        Key::Text("key_sha256"),
        Key::Any("trusted"),
        Key::Text("ppa"),
        Key::Text("ppa_api"),
        Key::Text("keyserver"),
        Key::Text("ppa_uri"),
    ],
    is_path: false,
    watchable: true,
    docs_section: "`apt_source: NAME` — an apt repository and its key",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key,
    render: super::registry::Render::Fn(from_entry),
    check_value: super::registry::any_value,
    records: &[],
    check_entry,
};

/// A source takes its key from one place, a `key_sha256` only with a key it fetches
/// (`key_url`, `ppa`), and a `ppa` fills `uris` and `components` itself (its registry line's
/// `check_entry`).
fn check_entry(entry: &crate::playbook::RawResource) -> Result<(), String> {
    if entry.has("key") && entry.has("key_url") {
        return Err(
            "an apt_source takes one of `key` (a file of files/) and `key_url`, not both".into(),
        );
    }
    if entry.has("ppa") {
        if let Some(k) = ["uris", "components", "key", "key_url"]
            .into_iter()
            .find(|k| entry.has(k))
        {
            return Err(format!(
                "`ppa` gives the source its `uris`, `components` and key (from Launchpad): drop `{k}`"
            ));
        }
    } else if let Some(k) = ["ppa_api", "keyserver", "ppa_uri"]
        .into_iter()
        .find(|k| entry.has(k))
    {
        return Err(format!("`{k}` is for a PPA's source: give `ppa` too"));
    }
    if entry.has("key_sha256") && !entry.has("key_url") && !entry.has("ppa") {
        return Err(
            "`key_sha256` checks the key fetched from `key_url` (or a `ppa`'s): give `key_url` too"
                .into(),
        );
    }
    Ok(())
}

/// A Launchpad name (a person, a team or a PPA): lowercase letters, digits, `+`, `-`, `.`,
/// starting with a letter or digit.
fn launchpad_name(s: &str) -> bool {
    s.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.')
        })
}

/// `ppa`'s value: `OWNER/NAME`, or `OWNER` (its PPA named `ppa`, as Ansible and
/// add-apt-repository read `ppa:OWNER`); a leading `ppa:` is allowed.
pub fn parse_ppa(value: &str) -> Result<(String, String), String> {
    let v = value.strip_prefix("ppa:").unwrap_or(value);
    let (owner, name) = v.split_once('/').unwrap_or((v, "ppa"));
    if launchpad_name(owner) && launchpad_name(name) {
        Ok((owner.to_string(), name.to_string()))
    } else {
        Err(format!(
            "ppa: `{value}` is not OWNER/NAME (Launchpad names: lowercase letters, digits, `+`, `-`, `.`)"
        ))
    }
}

/// A base URL of `key` (`ppa_api`, `keyserver`, `ppa_uri`), its trailing `/` dropped:
/// `http://` or `https://` (`file:` too for `ppa_uri`, a mirror on the host).
fn base_url(k: &Keys, key: &str, default: &str, file: bool) -> Result<String, ResolveError> {
    let url = k.string(key)?.unwrap_or_else(|| default.to_string());
    let schemes: &[&str] = if file {
        &["http://", "https://", "file:/"]
    } else {
        &["http://", "https://"]
    };
    let ok = schemes
        .iter()
        .any(|p| url.starts_with(p) && url.len() > p.len())
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        let what = if file {
            "an http://, https:// or file: URL"
        } else {
            "an http:// or https:// URL"
        };
        return Err(k.fail(key, format!("{key}: `{url}` is not {what}")));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// A `ppa`'s source: its `uris` (`PPA_URI/OWNER/NAME/ubuntu`), its `suites` when not given
/// (the host's codename, Ansible's `distro.codename`), its `components` (`main`) and its
/// [`Ppa`].
fn ppa_source(
    k: &Keys,
    value: &str,
    present: bool,
    suites: &mut Vec<String>,
) -> Result<(Vec<String>, Vec<String>, Ppa), ResolveError> {
    let (owner, name) = parse_ppa(value).map_err(|m| k.fail("ppa", m))?;
    let base = base_url(k, "ppa_uri", PPA_URI, true)?;
    if suites.is_empty() {
        // The host's codename, read as a template would (the facts are the renderer's).
        let codename = k
            .string_of("ppa", Some("{{ facts.os_codename }}"))?
            .unwrap_or_default();
        if codename.is_empty() && present {
            return Err(k.fail(
                "ppa",
                "ppa: the host has no codename (no VERSION_CODENAME in its /etc/os-release): give `suites` (Ansible's `codename`)".into(),
            ));
        }
        suites.extend((!codename.is_empty()).then_some(codename));
    }
    let ppa = Ppa {
        api: base_url(k, "ppa_api", PPA_API, false)?,
        keyserver: base_url(k, "keyserver", KEYSERVER, false)?,
        owner,
        name,
    };
    let uris = vec![format!("{base}/{}/{}/ubuntu", ppa.owner, ppa.name)];
    Ok((uris, vec!["main".to_string()], ppa))
}

/// The spec of a `apt_source:` entry, its errors located at their keys (the registry line's
/// `render`).
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, state, .. } = b;
    let presence = k.presence(&state)?;
    let mut uris = k.list("uris")?.unwrap_or_default();
    let mut suites = k.list("suites")?.unwrap_or_default();
    let mut components = k.list("components")?.unwrap_or_default();
    let mut ppa = None;
    if let Some(value) = k.string("ppa")? {
        let (u, c, p) = ppa_source(k, &value, presence == Presence::Present, &mut suites)?;
        (uris, components, ppa) = (u, c, Some(p));
    }
    if presence == Presence::Present {
        check_lists(&uris, &suites, &components).map_err(|(key, m)| k.fail(key, m))?;
    }
    let key_bytes = match k.string("key")? {
        None => None,
        Some(name) => Some(k.read_file("key", &name)?),
    };
    let key_url = k.string("key_url")?;
    let mut key_sha256 = k.string("key_sha256")?.unwrap_or_default();
    if presence == Presence::Present {
        if let Some(url) = &key_url {
            super::fetch::check_url(url).map_err(|m| k.fail("key_url", m))?;
        }
        if k.raw().has("key_sha256") {
            key_sha256 =
                super::fetch::check_sha256(&key_sha256).map_err(|m| k.fail("key_sha256", m))?;
        }
    }
    Ok(super::Desired::AptSource(AptSourceSpec {
        name: key,
        presence,
        uris,
        suites,
        components,
        key: key_bytes,
        key_url,
        key_sha256,
        trusted: k.boolean("trusted")?.unwrap_or(false),
        ppa,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> AptSourceSpec {
        AptSourceSpec {
            name: "local".into(),
            uris: vec!["file:/srv/repo".into()],
            suites: vec!["./".into()],
            key: Some(b"KEY\n".to_vec()),
            ..Default::default()
        }
    }

    fn file(bytes: &[u8]) -> PathState {
        PathState {
            kind: PathKind::File {
                size: bytes.len() as u64,
                sha256: Some(sha256_hex(bytes)),
            },
            mode: 0o644,
            owner: "root".into(),
            group: "root".into(),
        }
    }

    #[test]
    fn deb822_text() {
        let mut s = spec();
        s.trusted = true;
        assert_eq!(
            s.text(),
            "# play: apt_source local\nTypes: deb\nURIs: file:/srv/repo\nSuites: ./\nSigned-By: /etc/apt/keyrings/local.asc\nTrusted: yes\n"
        );
    }

    #[test]
    fn names_and_lists_are_checked() {
        assert!(check_key("nodesource").is_ok());
        assert!(check_key("a b").is_err());
        assert!(check_key("../x").is_err());
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check_lists(&v(&["https://x/y"]), &v(&["bookworm"]), &v(&["main"])).is_ok());
        assert!(check_lists(&v(&["file:/srv/repo"]), &v(&["./"]), &[]).is_ok());
        assert_eq!(check_lists(&[], &v(&["./"]), &[]).unwrap_err().0, "uris");
        assert_eq!(
            check_lists(&v(&["ftp://x"]), &v(&["./"]), &[])
                .unwrap_err()
                .0,
            "uris"
        );
        assert_eq!(
            check_lists(&v(&["http://x"]), &v(&["./"]), &v(&["main"]))
                .unwrap_err()
                .0,
            "components"
        );
        assert_eq!(
            check_lists(&v(&["http://x"]), &v(&["bookworm"]), &[])
                .unwrap_err()
                .0,
            "components"
        );
    }

    #[test]
    fn same_files_are_no_change_and_a_new_key_is_written() {
        let s = spec();
        let src = file(s.text().as_bytes());
        assert_eq!(plan(&s, &src, &file(b"KEY\n")).unwrap(), None);
        let p = plan(&s, &src, &file(b"OLD\n")).unwrap().unwrap();
        assert_eq!(p.action, Action::Update);
        assert_eq!(p.work.sources, None);
        assert_eq!(
            p.work.key,
            Some(SourceFileOp::Write {
                expect: sha256_hex(b"OLD\n")
            })
        );
        let p = plan(&s, &PathState::missing(), &PathState::missing())
            .unwrap()
            .unwrap();
        assert_eq!(p.action, Action::Create);
        assert_eq!(p.details.len(), 2);
    }

    #[test]
    fn absent_deletes_both() {
        let mut s = spec();
        s.presence = Presence::Absent;
        let p = plan(&s, &file(b"x"), &file(b"KEY\n")).unwrap().unwrap();
        assert_eq!(p.action, Action::Delete);
        assert_eq!(p.work.sources, Some(SourceFileOp::Delete));
        assert_eq!(p.work.key, Some(SourceFileOp::Delete));
        assert_eq!(
            plan(&s, &PathState::missing(), &PathState::missing()).unwrap(),
            None
        );
    }

    #[test]
    fn the_update_ends_the_last_step() {
        let s = spec();
        let w = AptSourceWork {
            sources: Some(SourceFileOp::Write {
                expect: "missing".into(),
            }),
            key: None,
        };
        let (text, stdin) = apply_fragment(4, &s, &w, true);
        assert!(stdin.starts_with(s.text().as_bytes()));
        let write = text.find("mv -f -T").unwrap_or(usize::MAX);
        let update = text.find(" update </dev/null").unwrap_or(0);
        assert!(write < update, "{text}");
        let (text, _) = apply_fragment(4, &s, &w, false);
        assert!(!text.contains(" update "), "{text}");
    }

    fn fetched(sha256: &str) -> AptSourceSpec {
        AptSourceSpec {
            key: None,
            key_url: Some("https://x/key.asc".into()),
            key_sha256: sha256.into(),
            ..spec()
        }
    }

    #[test]
    fn a_key_from_a_url_is_fetched_while_missing() {
        let s = fetched("");
        assert!(s
            .text()
            .contains("Signed-By: /etc/apt/keyrings/local.asc\n"));
        let src = file(s.text().as_bytes());
        let p = plan(&s, &src, &PathState::missing()).unwrap().unwrap();
        assert_eq!(p.action, Action::Update);
        assert_eq!(
            p.details,
            ["+ /etc/apt/keyrings/local.asc from https://x/key.asc"]
        );
        assert_eq!(
            p.work.key,
            Some(SourceFileOp::Fetch {
                expect: "missing".into()
            })
        );
        // without key_sha256, any key there is the fetched one
        assert_eq!(plan(&s, &src, &file(b"OTHER\n")).unwrap(), None);
        let (text, stdin) = apply_fragment(1, &s, &p.work, true);
        assert!(stdin.is_empty());
        assert!(text.contains("curl -fsS -L"), "{text}");
        let armor = text
            .find("BEGIN PGP PUBLIC KEY BLOCK")
            .unwrap_or(usize::MAX);
        let mv = text.find("mv -f -T").unwrap_or(0);
        assert!(armor < mv, "{text}");
        assert!(
            text.contains("if play_expect local.asc missing ''; then"),
            "{text}"
        );
    }

    #[test]
    fn a_key_from_a_url_with_a_sum_is_fetched_when_it_differs() {
        let sum = sha256_hex(b"KEY\n");
        let s = fetched(&sum);
        let src = file(s.text().as_bytes());
        assert_eq!(plan(&s, &src, &file(b"KEY\n")).unwrap(), None);
        let p = plan(&s, &src, &file(b"OLD\n")).unwrap().unwrap();
        assert_eq!(
            p.work.key,
            Some(SourceFileOp::Fetch {
                expect: sha256_hex(b"OLD\n")
            })
        );
        let (text, _) = apply_fragment(1, &s, &p.work, false);
        let check = text.find("sha256sum < \"$t\"").unwrap_or(usize::MAX);
        let mv = text.find("mv -f -T").unwrap_or(0);
        assert!(check < mv, "{text}");
        let mut gone = s.clone();
        gone.presence = Presence::Absent;
        let p = plan(&gone, &src, &file(b"KEY\n")).unwrap().unwrap();
        assert_eq!(p.work.key, Some(SourceFileOp::Delete));
    }

    fn ppa_spec() -> AptSourceSpec {
        AptSourceSpec {
            name: "certbot".into(),
            uris: vec![format!("{PPA_URI}/certbot/certbot/ubuntu")],
            suites: vec!["noble".into()],
            components: vec!["main".into()],
            ppa: Some(Ppa {
                owner: "certbot".into(),
                name: "certbot".into(),
                api: PPA_API.into(),
                keyserver: KEYSERVER.into(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn ppa_names_are_launchpad_names() {
        let ok = |v: &str| parse_ppa(v).map(|(o, n)| format!("{o}/{n}"));
        assert_eq!(ok("certbot/certbot"), Ok("certbot/certbot".into()));
        assert_eq!(ok("ppa:ondrej/php"), Ok("ondrej/php".into()));
        assert_eq!(ok("deadsnakes"), Ok("deadsnakes/ppa".into()));
        assert_eq!(ok("git-core/ppa+1.x"), Ok("git-core/ppa+1.x".into()));
        for bad in [
            "",
            "Certbot/certbot",
            "a/b/c",
            "a/",
            "/b",
            "-a/b",
            "a b/c",
            "a/b\n",
        ] {
            assert!(parse_ppa(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            ppa_spec().ppa.map(|p| p.api_url()).as_deref(),
            Some("https://api.launchpad.net/1.0/~certbot/+archive/certbot")
        );
    }

    #[test]
    fn a_ppa_key_is_fetched_by_its_fingerprint_before_the_sources_file() {
        let s = ppa_spec();
        assert!(s.text().contains(
            "URIs: https://ppa.launchpadcontent.net/certbot/certbot/ubuntu\nSuites: noble\nComponents: main\nSigned-By: /etc/apt/keyrings/certbot.asc\n"
        ));
        let p = plan(&s, &PathState::missing(), &PathState::missing())
            .unwrap()
            .unwrap();
        assert_eq!(
            p.details[1],
            "+ /etc/apt/keyrings/certbot.asc from https://keyserver.ubuntu.com (the signing key of ppa:certbot/certbot)"
        );
        // A key there is kept without key_sha256.
        let src = file(s.text().as_bytes());
        assert_eq!(plan(&s, &src, &file(b"OTHER\n")).unwrap(), None);
        let (text, stdin) = apply_fragment(3, &s, &p.work, false);
        assert!(
            stdin.starts_with(s.text().as_bytes()),
            "the sources file alone travels on stdin"
        );
        let at = |needle: &str| {
            text.find(needle)
                .unwrap_or_else(|| panic!("{needle}: {text}"))
        };
        let api = at("'https://api.launchpad.net/1.0/~certbot/+archive/certbot'");
        let fpr = at("case ${#f} in 40|64)");
        let key = at("search=0x'\"$f\"");
        let armor = at("BEGIN PGP PUBLIC KEY BLOCK");
        let key_mv = at("mv -f -T -- \"$t\" certbot.asc");
        let src_mv = at("certbot.sources || play_fail 3");
        assert!(api < fpr && fpr < key && key < armor && armor < key_mv && key_mv < src_mv);
        // The step is valid sh.
        let out = std::process::Command::new("sh")
            .args(["-n", "-c", &text])
            .output()
            .expect("sh");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn a_removed_key_goes_after_the_sources_file_no_longer_names_it() {
        let mut s = spec();
        s.key = None;
        let p = plan(&s, &file(b"old"), &file(b"KEY\n")).unwrap().unwrap();
        assert_eq!(p.work.key, Some(SourceFileOp::Delete));
        let (text, _) = apply_fragment(0, &s, &p.work, false);
        let src = text.find("local.sources").unwrap_or(usize::MAX);
        let rm = text.find("rm -f -- local.asc").unwrap_or(0);
        assert!(src < rm, "{text}");
    }
}
