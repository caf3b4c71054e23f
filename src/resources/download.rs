//! `download:` — a file fetched from a URL and checked against its sha256 (Ansible's
//! `get_url` with a checksum), or, without `sha256`, fetched only while it is missing (Ansible's
//! `get_url` without one: `force: no`).
//!
//! ```yaml
//! - download: /opt/tools/tool.tar.xz
//!   url: https://example.org/tool.tar.xz
//!   sha256: "…"          # 64 hex digits; without it, fetched only when missing
//!   from: host           # the host fetches (curl, or wget for http/https); `controller`:
//!                        # play fetches, checks and sends the bytes (hosts without network)
//!   owner: root
//!   mode: "0644"
//! ```
//!
//! Probe: the core probe's stat and `sha256sum` of the path (no record of its own). Plan: no
//! change when the file has the sha256 (owner/group/mode then only as attributes). Apply: the
//! host fetches into a private temp file (`apply::fetched_file`), checks the sha256 — a wrong
//! checksum fails the step and leaves the file untouched — then renames it into place.

use super::deploy::{Planned, Refused};
use super::registry::Key;
use super::{attr_details, Action, Attrs, PathKind, PathState, Presence};
use crate::resolve::{Base, Keys, ResolveError};

/// Who fetches the URL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FetchFrom {
    /// The host, with curl (or wget).
    #[default]
    Host,
    /// The controller (curl for http/https, a read for `file://`), once per run and URL; the
    /// bytes are checked there and sent with the apply script (hosts without network).
    Controller,
}

/// The bytes of `url` fetched on the controller and checked against `sha256` (none: not
/// checked) (cached for the run: every host of a run gets the same bytes from one fetch).
/// `Err`: why not.
pub fn fetch_on_controller(url: &str, sha256: &str) -> Result<Vec<u8>, String> {
    use std::collections::BTreeMap;
    use std::sync::{Mutex, OnceLock};
    /// Fetched bytes by (url, sha256).
    type Fetched = BTreeMap<(String, String), Vec<u8>>;
    static CACHE: OnceLock<Mutex<Fetched>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (url.to_string(), sha256.to_string());
    if let Some(b) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(b);
    }
    let bytes = match url.strip_prefix("file://") {
        Some(path) => std::fs::read(path).map_err(|e| format!("{url}: {e} (on the controller)"))?,
        None => {
            let out = std::process::Command::new("curl")
                .args(["-fsS", "-L", "--proto", "=http,https", "--"])
                .arg(url)
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(|e| format!("{url}: cannot run curl on the controller: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "{url}: curl on the controller failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            out.stdout
        }
    };
    let got = super::sha256_hex(&bytes);
    if !sha256.is_empty() && got != sha256 {
        return Err(format!(
            "{url}: sha256 {got}, not {sha256} (fetched on the controller): the file is left untouched"
        ));
    }
    if let Ok(mut c) = cache.lock() {
        c.insert(key, bytes.clone());
    }
    Ok(bytes)
}

/// One download, rendered for one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownloadSpec {
    pub path: String,
    pub presence: Presence,
    pub url: String,
    /// Lowercase hex; empty: none given (fetched only when the file is missing, unchecked).
    pub sha256: String,
    pub from: FetchFrom,
    pub attrs: Attrs,
}

/// What apply does to a download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownloadOp {
    /// Fetch, check, rename into place; `expect`: what the file must still be (the sha256 the
    /// probe saw, or `missing`).
    Fetch {
        expect: String,
    },
    /// Only owner/group/mode (of the file the probe saw: its sha256, or `-` any regular file
    /// when the spec has none).
    Attrs,
    Delete,
}

/// Plans one download from the state of its path.
pub fn plan(spec: &DownloadSpec, have: &PathState) -> Result<Option<Planned<DownloadOp>>, Refused> {
    let old = match &have.kind {
        PathKind::Missing => None,
        PathKind::File { sha256, .. } => Some(sha256.clone()),
        PathKind::Directory { .. } => {
            return Err(Refused(format!("{} is a folder; not replaced", spec.path)))
        }
        PathKind::Link { .. } => {
            return Err(Refused(format!(
                "{} is a symbolic link; not replaced",
                spec.path
            )))
        }
        PathKind::Other(t) => return Err(Refused(format!("{} is a {t}; not replaced", spec.path))),
    };
    if spec.presence == Presence::Absent {
        return Ok(old.map(|_| Planned {
            action: Action::Delete,
            details: Vec::new(),
            work: DownloadOp::Delete,
        }));
    }
    match old {
        None => Ok(Some(Planned {
            action: Action::Create,
            details: vec![format!("from {}", spec.url)],
            work: DownloadOp::Fetch {
                expect: "missing".into(),
            },
        })),
        // no sha256: the file there is the download (Ansible's get_url without a checksum
        // fetches only a missing file)
        Some(_) if spec.sha256.is_empty() => {
            let details = attr_details(&spec.attrs, have);
            Ok((!details.is_empty()).then_some(Planned {
                action: Action::Attrs,
                details,
                work: DownloadOp::Attrs,
            }))
        }
        Some(Some(sum)) if sum == spec.sha256 => {
            let details = attr_details(&spec.attrs, have);
            Ok((!details.is_empty()).then_some(Planned {
                action: Action::Attrs,
                details,
                work: DownloadOp::Attrs,
            }))
        }
        Some(sum) => Ok(Some(Planned {
            action: Action::Update,
            details: vec![format!(
                "sha256 {} → {}",
                sum.as_deref()
                    .map(super::deploy::short)
                    .unwrap_or("unreadable"),
                super::deploy::short(&spec.sha256)
            )],
            work: DownloadOp::Fetch {
                expect: sum.unwrap_or_else(|| "-".into()),
            },
        })),
    }
}

/// The apply step of one download fetched on the controller, and its stdin (`Err`: the fetch
/// or the checksum failed; nothing is sent).
pub fn controller_fragment(
    index: usize,
    spec: &DownloadSpec,
    op: &DownloadOp,
) -> Result<(String, Vec<u8>), String> {
    let DownloadOp::Fetch { expect } = op else {
        return Ok((apply_fragment(index, spec, op), Vec::new()));
    };
    let bytes = fetch_on_controller(&spec.url, &spec.sha256)?;
    let (body, stdin) = crate::apply::streamed_file(index, &spec.path, &spec.attrs, &bytes, expect);
    Ok((
        format!(
            "# download {}\nprintf '\\0play-step\\0%s\\0' {index} >&2\n{body}play_ok {index}\n",
            spec.path
        ),
        stdin,
    ))
}

/// The apply step of one download (inside the apply script: `play_ok`, `play_fail`).
pub fn apply_fragment(index: usize, spec: &DownloadSpec, op: &DownloadOp) -> String {
    let i = index;
    let head = format!(
        "# download {}\nprintf '\\0play-step\\0%s\\0' {i} >&2\n",
        spec.path
    );
    let body = match op {
        DownloadOp::Fetch { expect } => crate::apply::fetched_file(
            i,
            &spec.path,
            &spec.attrs,
            &super::fetch::fill(i, &spec.url, &spec.sha256, &spec.path),
            expect,
            &spec.sha256,
        ),
        DownloadOp::Attrs if spec.sha256.is_empty() => {
            crate::apply::attrs_only(i, &spec.path, &spec.attrs, "-")
        }
        DownloadOp::Attrs => crate::apply::attrs_only(i, &spec.path, &spec.attrs, &spec.sha256),
        DownloadOp::Delete => crate::apply::removal(i, &spec.path, "rm -f"),
    };
    format!("{head}{body}play_ok {i}\n")
}

impl super::Spec for DownloadSpec {
    type Work = DownloadOp;
    fn plan_work(
        &self,
        observed: &super::Observed,
        _changed: &[&str],
    ) -> Result<Option<super::deploy::Planned<Self::Work>>, super::deploy::Refused> {
        plan(self, &observed.path(&self.path))
    }
    fn apply_fragment(
        &self,
        index: usize,
        work: Option<&Self::Work>,
        _last: bool,
    ) -> Option<Result<(String, Vec<u8>), String>> {
        let op = work?;
        Some(match self.from {
            FetchFrom::Host => Ok((apply_fragment(index, self, op), Vec::new())),
            FetchFrom::Controller => controller_fragment(index, self, op),
        })
    }
    fn accounts(&self) -> Vec<(super::accounts::Account, &str)> {
        super::accounts::pair(&self.attrs.owner, &self.attrs.group)
    }
    const DEF: &'static super::registry::KindDef = &DEF;
    fn key(&self) -> &str {
        &self.path
    }
    fn has_nul(&self) -> bool {
        super::any_nul(&[Some(&self.path), Some(&self.url)]) || self.attrs.has_nul()
    }
    fn written(&self) -> Option<&str> {
        (self.presence == Presence::Present).then_some(self.path.as_str())
    }
}

/// The registry line of `download:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Download,
    name: "download",
    keys: &[
        Key::Text("url"),
        Key::Text("sha256"),
        Key::Any("from"),
        Key::Text("owner"),
        Key::Text("group"),
        Key::Any("mode"),
    ],
    is_path: true,
    watchable: true,
    docs_section: "`download: PATH` — a file from a URL, checked",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key: super::registry::path_key,
    render: super::registry::Render::Fn(from_entry),
    check_value: super::registry::any_value,
    records: &[],
    check_entry: super::registry::any_entry,
};

/// The spec of a `download:` entry, its errors located at their keys (the registry line's
/// `render`).
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, attrs, state } = b;
    let raw = k.raw();
    let presence = k.presence(&state)?;
    let url = k.string("url")?.unwrap_or_default();
    let sha256 = k.string("sha256")?.unwrap_or_default();
    let sha256 = if presence == Presence::Present {
        super::fetch::check_url(&url).map_err(|m| k.fail("url", m))?;
        // not given, or a template rendering to nothing (`omit`, an empty text): fetched only
        // when missing; Ansible's `sha256:` prefix is taken
        let hex = sha256.trim();
        let hex = hex.strip_prefix("sha256:").map_or(hex, str::trim_start);
        match raw.has("sha256") && !hex.is_empty() {
            false => String::new(),
            true => super::fetch::check_sha256(hex).map_err(|m| k.fail("sha256", m))?,
        }
    } else {
        sha256
    };
    let from = match raw.get("from") {
        None => None,
        Some(v) => Some(k.scalar("from", v)?),
    };
    let from = match from.as_deref() {
        None | Some("host") => FetchFrom::Host,
        Some("controller") => FetchFrom::Controller,
        Some(other) => {
            return Err(k.fail(
                "from",
                format!("from: `host` or `controller` (who fetches the url), not `{other}`"),
            ))
        }
    };
    Ok(super::Desired::Download(DownloadSpec {
        path: key,
        presence,
        url,
        sha256,
        from,
        attrs,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> DownloadSpec {
        DownloadSpec {
            path: "/opt/t.tar".into(),
            url: "http://127.0.0.1:8/t.tar".into(),
            sha256: "ab".repeat(32),
            ..Default::default()
        }
    }

    fn file(sum: &str) -> PathState {
        PathState {
            kind: PathKind::File {
                size: 3,
                sha256: Some(sum.into()),
            },
            mode: 0o644,
            owner: "root".into(),
            group: "root".into(),
        }
    }

    #[test]
    fn the_right_sum_is_no_change_and_another_is_fetched() {
        let s = spec();
        assert_eq!(plan(&s, &file(&"ab".repeat(32))).unwrap(), None);
        let p = plan(&s, &file(&"cd".repeat(32))).unwrap().unwrap();
        assert_eq!(p.action, Action::Update);
        assert_eq!(
            p.work,
            DownloadOp::Fetch {
                expect: "cd".repeat(32)
            }
        );
        let p = plan(&s, &PathState::missing()).unwrap().unwrap();
        assert_eq!(p.action, Action::Create);
    }

    #[test]
    fn attributes_alone_and_absence() {
        let mut s = spec();
        s.attrs.mode = Some(0o600);
        let p = plan(&s, &file(&"ab".repeat(32))).unwrap().unwrap();
        assert_eq!((p.action, p.work), (Action::Attrs, DownloadOp::Attrs));
        s.presence = Presence::Absent;
        assert_eq!(plan(&s, &PathState::missing()).unwrap(), None);
        let p = plan(&s, &file("x")).unwrap().unwrap();
        assert_eq!(p.work, DownloadOp::Delete);
        let dir = PathState {
            kind: PathKind::Directory { empty: None },
            ..file("x")
        };
        assert!(plan(&spec(), &dir).is_err());
    }

    #[test]
    fn the_controller_checks_before_it_sends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("t.bin");
        std::fs::write(&f, b"abc").expect("write");
        let mut s = spec();
        s.from = FetchFrom::Controller;
        s.url = format!("file://{}", f.display());
        s.sha256 = super::super::sha256_hex(b"abc");
        let op = DownloadOp::Fetch {
            expect: "missing".into(),
        };
        let (text, stdin) = controller_fragment(1, &s, &op).expect("fetched");
        assert!(stdin.starts_with(b"abc"), "{stdin:?}");
        assert!(!text.contains("curl"), "{text}");
        assert!(text.ends_with("play_ok 1\n"), "{text}");
        s.sha256 = "00".repeat(32);
        let e = controller_fragment(1, &s, &op).unwrap_err();
        assert!(e.contains("left untouched"), "{e}");
        s.url = format!("file://{}/none", dir.path().display());
        assert!(controller_fragment(1, &s, &op).is_err());
    }

    #[test]
    fn the_sum_is_checked_before_the_rename() {
        let s = spec();
        let f = apply_fragment(
            3,
            &s,
            &DownloadOp::Fetch {
                expect: "missing".into(),
            },
        );
        let check = f.find("sha256sum < \"$t\"").unwrap_or(usize::MAX);
        let mv = f.find("mv -f -T").unwrap_or(0);
        assert!(check < mv, "{f}");
        assert!(f.contains("curl -fsS -L"), "{f}");
        assert!(f.ends_with("play_ok 3\n"), "{f}");
    }
}
