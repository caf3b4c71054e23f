//! `hostname: NAME` — the host's name: `/etc/hostname` holding NAME (the name it boots with)
//! and the running kernel name (Ansible's `hostname` module, which on Debian and Ubuntu does
//! the same two things and, like it, leaves `/etc/hosts` alone).
//!
//! ```yaml
//! - hostname: web1
//! ```
//!
//! Probe: `/etc/hostname` read whole (the `edf` record of [`super::edit`]) and the running
//! name, the `hostname` fact every probe gathers (`/proc/sys/kernel/hostname`). Plan: the file
//! written when its text (spaces aside) is not NAME, the running name set when it differs.
//! Apply: the file written by the apply builder's safe primitives (temp file, the "changed
//! since the plan" check, rename), then `hostname NAME` (the kernel's name; written to
//! `/proc/sys/kernel/hostname` when the `hostname` program is missing). No `hostnamectl`:
//! systemd's hostnamed reads both again when asked.

use super::deploy::{Planned, Refused};
use super::edit::{self, EditWork, FileSeen};
use super::Action;
use crate::resolve::{Base, Keys, ResolveError};
use crate::transport::shell_quote;

/// The file holding the static name.
pub const FILE: &str = "/etc/hostname";

/// The host's name, rendered for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostnameSpec {
    pub name: String,
}

/// What apply does: the file (when it differs) and the running name (when it differs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostnameWork {
    pub file: Option<EditWork>,
    pub running: bool,
}

/// [`super::registry::KindDef::check_key`]: a host name the kernel takes (at most 64 bytes)
/// and resolvers accept: letters, digits, `-` and `.`, no empty label, no label starting or
/// ending with `-`.
pub fn check_name(name: &str) -> Result<String, String> {
    if name.is_empty() {
        return Err("a host name is needed".into());
    }
    if name.len() > 64 {
        return Err(format!(
            "host name `{name}` is {} bytes long: the kernel takes at most 64",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
    {
        return Err(format!(
            "host name `{name}`: `{c}` is not a letter, digit, `-` or `.`"
        ));
    }
    if name
        .split('.')
        .any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-'))
    {
        return Err(format!(
            "host name `{name}`: a label (between dots) is empty, or starts or ends with `-`"
        ));
    }
    Ok(name.to_string())
}

/// Plans the name from the file as seen and the running name.
pub fn plan(
    spec: &HostnameSpec,
    seen: &FileSeen,
    running: &str,
) -> Result<Option<Planned<HostnameWork>>, Refused> {
    let file = edit::plan_name_file(FILE, seen, &spec.name)?;
    let run = running.trim() != spec.name;
    if file.is_none() && !run {
        return Ok(None);
    }
    let mut details = Vec::new();
    if run {
        details.push(format!("running name {} → {}", running.trim(), spec.name));
    }
    let file = file.map(|(work, detail)| {
        details.push(detail);
        work
    });
    Ok(Some(Planned {
        action: Action::Update,
        details,
        work: HostnameWork { file, running: run },
    }))
}

/// The apply step: the file, then the running name.
pub fn apply_fragment(i: usize, spec: &HostnameSpec, w: &HostnameWork) -> (String, Vec<u8>) {
    let mut s = format!("# hostname {i}\nprintf '\\0play-step\\0%s\\0' {i} >&2\n");
    let mut stdin = Vec::new();
    if let Some(f) = &w.file {
        let (body, input) = edit::apply_fragment_body(i, f);
        s.push_str(&body);
        stdin = input;
    }
    if w.running {
        let n = shell_quote(&spec.name);
        s.push_str(&format!(
            "if command -v hostname >/dev/null 2>&1; then hostname {n}; else printf '%s' {n} > /proc/sys/kernel/hostname; fi || play_fail {i}\n"
        ));
    }
    s.push_str(&format!("play_ok {i}\n"));
    (s, stdin)
}

impl super::Spec for HostnameSpec {
    type Work = HostnameWork;
    const DEF: &'static super::registry::KindDef = &DEF;
    fn key(&self) -> &str {
        &self.name
    }
    fn has_nul(&self) -> bool {
        self.name.contains('\0')
    }
    fn owned_paths(&self) -> Vec<String> {
        vec![FILE.to_string()]
    }
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        p.add_file(FILE);
    }
    fn plan_work(
        &self,
        observed: &super::Observed,
        _changed: &[&str],
    ) -> Result<Option<Planned<Self::Work>>, Refused> {
        let seen = super::deploy::seen_file(&observed.deploy, FILE)?;
        plan(self, seen, &observed.facts.hostname)
    }
    fn content(
        &self,
        work: &Self::Work,
        _observed: &super::Observed,
    ) -> Option<super::ContentChange> {
        edit::content_of(work.file.as_ref())
    }
    fn edited_file<'w>(&self, work: &'w Self::Work) -> Option<(&'w str, &'w [u8])> {
        edit::edited_of(work.file.as_ref())
    }
    fn apply_fragment(
        &self,
        index: usize,
        work: Option<&Self::Work>,
        _last: bool,
    ) -> Option<Result<(String, Vec<u8>), String>> {
        Some(Ok(apply_fragment(index, self, work?)))
    }
    fn depends(&self, observed: &super::Observed, out: &mut super::Prints) {
        edit::depends(observed, out);
        out.insert("fact hostname".into(), observed.facts.hostname.clone());
    }
}

/// The registry line of `hostname:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Hostname,
    name: "hostname",
    keys: &[],
    is_path: false,
    watchable: true,
    docs_section: "`hostname: NAME` — the host's name",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key: check_name,
    render: super::registry::Render::Fn(from_entry),
    check_value: super::registry::any_value,
    records: &[],
    check_entry: super::registry::any_entry,
};

/// The spec of a `hostname:` entry (the registry line's `render`): its key, checked; no
/// `state` (a host always has a name).
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, state, .. } = b;
    k.no_state("hostname", &state)?;
    Ok(super::Desired::Hostname(HostnameSpec { name: key }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> HostnameSpec {
        HostnameSpec {
            name: "web1".into(),
        }
    }

    #[test]
    fn names() {
        for ok in ["web1", "web-1.example.org", "127.0.0.1", "a"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-web",
            "web-",
            "a..b",
            "web_1",
            "web 1",
            &"a".repeat(65),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn converged_when_file_and_running_name_agree() {
        let f = FileSeen::File(b"web1\n".to_vec());
        assert_eq!(plan(&spec(), &f, "web1").unwrap(), None);
        // no newline, or spaces: the same name
        let f = FileSeen::File(b"web1".to_vec());
        assert_eq!(plan(&spec(), &f, "web1\n").unwrap(), None);
    }

    #[test]
    fn each_part_is_planned_apart() {
        let p = plan(&spec(), &FileSeen::File(b"web1\n".to_vec()), "old")
            .unwrap()
            .unwrap();
        assert_eq!(p.work.file, None);
        assert!(p.work.running);
        assert_eq!(p.details, vec!["running name old → web1"]);
        let p = plan(&spec(), &FileSeen::Missing, "web1").unwrap().unwrap();
        assert!(!p.work.running);
        let f = p.work.file.as_ref().unwrap();
        assert_eq!(f.new.as_deref(), Some(&b"web1\n"[..]));
        assert_eq!(f.expect, "missing");
        let (s, stdin) = apply_fragment(4, &spec(), &p.work);
        assert!(stdin.starts_with(b"web1\n"), "{stdin:?}");
        assert!(s.contains("play_expect hostname missing"), "{s}");
        assert!(!s.contains("hostname web1;"), "{s}");
        assert!(s.ends_with("play_ok 4\n"), "{s}");
        let p = plan(&spec(), &FileSeen::File(b"old\n".to_vec()), "old")
            .unwrap()
            .unwrap();
        let (s, _) = apply_fragment(4, &spec(), &p.work);
        let write = s.find("mv -f -T").unwrap_or(usize::MAX);
        let set = s.find("then hostname web1;").unwrap_or(0);
        assert!(write < set, "the file first: {s}");
        assert!(plan(&spec(), &FileSeen::Other("a symbolic link".into()), "web1").is_err());
    }
}
