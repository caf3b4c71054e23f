//! `timezone: AREA/CITY` — the host's time zone: `/etc/localtime` a symbolic link to
//! `/usr/share/zoneinfo/AREA/CITY` and `/etc/timezone` holding the name (Debian's two places;
//! Ansible's `community.general.timezone`, or a template of `/etc/timezone` followed by
//! `dpkg-reconfigure tzdata`, which writes the same two).
//!
//! ```yaml
//! - timezone: Europe/Paris
//!   # restart_on of a service that reads the zone at start only (cron) may name it:
//!   # `restart_on: [Europe/Paris]`
//! ```
//!
//! Probe: the core probe's stat of `/etc/localtime` (a link and its target) and of the zone's
//! file under `/usr/share/zoneinfo` (a zone the host has no file for is refused when planned,
//! unless a change before it installs `tzdata`), and `/etc/timezone` read whole (`edf`).
//! Plan: the link made when it is not a link to the zone's file (absolute, or relative as
//! `timedatectl` makes it), the file written when its text is not the name. Apply: the link
//! made beside it and renamed over it (`apply::symlink`: never an `ln -sf` over the live
//! name), the file written by the builder's safe primitives. No `dpkg-reconfigure` is needed.

use super::deploy::{Planned, Refused};
use super::edit::{self, EditWork, FileSeen};
use super::{Action, Attrs, PathKind, PathState};
use crate::resolve::{Base, Keys, ResolveError};

/// The link naming the zone.
pub const LOCALTIME: &str = "/etc/localtime";
/// Debian's file naming the zone.
pub const FILE: &str = "/etc/timezone";
/// Where the zones' files are.
pub const ZONEINFO: &str = "/usr/share/zoneinfo";

/// The host's time zone, rendered for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimezoneSpec {
    pub name: String,
}

impl TimezoneSpec {
    /// The zone's file, the link's target.
    pub fn zone_file(&self) -> String {
        format!("{ZONEINFO}/{}", self.name)
    }
}

/// What apply does: the link (when it differs) and the file (when it differs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimezoneWork {
    pub link: bool,
    pub file: Option<EditWork>,
}

/// [`super::registry::KindDef::check_key`]: a zone name as tzdata names its files
/// (`Europe/Paris`, `UTC`, `Etc/GMT+1`, `America/Argentina/Buenos_Aires`): letters, digits,
/// `_`, `-`, `+` and `/`-separated parts, none of them `.` or `..`.
pub fn check_name(name: &str) -> Result<String, String> {
    if name.is_empty() {
        return Err("a time zone name is needed (`Europe/Paris`, `UTC`)".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_-+/".contains(*c)))
    {
        return Err(format!(
            "time zone `{name}`: `{c}` is not a letter, digit, `_`, `-`, `+` or `/` (names look like `Europe/Paris`)"
        ));
    }
    if name.split('/').any(str::is_empty) {
        return Err(format!(
            "time zone `{name}`: an empty part (names look like `Europe/Paris`, no leading or doubled `/`)"
        ));
    }
    Ok(name.to_string())
}

/// True when the link's target names the zone's file (absolute, or `../usr/share/zoneinfo/…`
/// from `/etc` as `timedatectl` writes it).
fn names_zone(target: &str, spec: &TimezoneSpec) -> bool {
    let full = match target.strip_prefix("../") {
        Some(rest) => format!("/{rest}"),
        None => target.to_string(),
    };
    full == spec.zone_file()
}

/// Plans the zone from what the probe saw: the link, the zone's file, `/etc/timezone`.
/// `changed`: keys changing before it in this run (`tzdata` installs the zone's file: the
/// file's absence is then known only after it).
pub fn plan(
    spec: &TimezoneSpec,
    link: &PathState,
    zone: &PathState,
    seen: &FileSeen,
    changed: &[&str],
) -> Result<Option<Planned<TimezoneWork>>, Refused> {
    let zone_file = spec.zone_file();
    let mut details = Vec::new();
    match &zone.kind {
        PathKind::File { .. } => {}
        PathKind::Missing => match changed.iter().find(|k| **k == "tzdata") {
            Some(k) => details.push(format!("{zone_file} known after {k}")),
            None => {
                return Err(Refused(format!(
                    "time zone `{}`: the host has no {zone_file} (not a zone tzdata knows, or tzdata is not installed)",
                    spec.name
                )))
            }
        },
        PathKind::Directory { .. } => {
            return Err(Refused(format!(
                "time zone `{}`: {zone_file} is a folder of zones, not a zone",
                spec.name
            )))
        }
        // a zone that is a link of tzdata's (`UTC` → `Etc/UTC`) is a zone
        PathKind::Link { .. } => {}
        PathKind::Other(t) => {
            return Err(Refused(format!(
                "time zone `{}`: {zone_file} is a {t}, not a zone",
                spec.name
            )))
        }
    }
    let relink = match &link.kind {
        PathKind::Link { target } if names_zone(target, spec) => false,
        PathKind::Link { target } => {
            details.push(format!("{LOCALTIME} → {zone_file} (was → {target})"));
            true
        }
        PathKind::Missing => {
            details.push(format!("{LOCALTIME} → {zone_file} (was missing)"));
            true
        }
        PathKind::File { .. } => {
            details.push(format!(
                "{LOCALTIME} → {zone_file} (was a copied zone file)"
            ));
            true
        }
        PathKind::Directory { .. } => {
            return Err(Refused(format!("{LOCALTIME} is a folder; not replaced")))
        }
        PathKind::Other(t) => return Err(Refused(format!("{LOCALTIME} is a {t}; not replaced"))),
    };
    let file = edit::plan_name_file(FILE, seen, &spec.name)?.map(|(work, detail)| {
        details.push(detail);
        work
    });
    if !relink && file.is_none() {
        return Ok(None);
    }
    Ok(Some(Planned {
        action: Action::Update,
        details,
        work: TimezoneWork { link: relink, file },
    }))
}

/// The apply step: the link, then the file.
pub fn apply_fragment(i: usize, spec: &TimezoneSpec, w: &TimezoneWork) -> (String, Vec<u8>) {
    let mut s = format!("# timezone {i}\nprintf '\\0play-step\\0%s\\0' {i} >&2\n");
    if w.link {
        s.push_str(&crate::apply::symlink(
            i,
            LOCALTIME,
            &spec.zone_file(),
            &Attrs::default(),
            crate::apply::Over::Nothing,
        ));
    }
    let mut stdin = Vec::new();
    if let Some(f) = &w.file {
        let (body, input) = edit::apply_fragment_body(i, f);
        s.push_str(&body);
        stdin = input;
    }
    s.push_str(&format!("play_ok {i}\n"));
    (s, stdin)
}

impl super::Spec for TimezoneSpec {
    type Work = TimezoneWork;
    const DEF: &'static super::registry::KindDef = &DEF;
    fn key(&self) -> &str {
        &self.name
    }
    fn has_nul(&self) -> bool {
        self.name.contains('\0')
    }
    fn probe_paths(&self) -> Vec<String> {
        vec![LOCALTIME.to_string(), self.zone_file()]
    }
    fn owned_paths(&self) -> Vec<String> {
        vec![LOCALTIME.to_string(), FILE.to_string()]
    }
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        p.add_file(FILE);
    }
    fn plan_work(
        &self,
        observed: &super::Observed,
        changed: &[&str],
    ) -> Result<Option<Planned<Self::Work>>, Refused> {
        let seen = super::deploy::seen_file(&observed.deploy, FILE)?;
        plan(
            self,
            &observed.path(LOCALTIME),
            &observed.path(&self.zone_file()),
            seen,
            changed,
        )
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
    fn print_paths(&self) -> Vec<String> {
        self.probe_paths()
    }
    fn depends(&self, observed: &super::Observed, out: &mut super::Prints) {
        edit::depends(observed, out);
    }
}

/// The registry line of `timezone:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Timezone,
    name: "timezone",
    keys: &[],
    is_path: false,
    watchable: true,
    docs_section: "`timezone: AREA/CITY` — the host's time zone",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key: check_name,
    render: super::registry::Render::Fn(from_entry),
    check_value: super::registry::any_value,
    records: &[],
    check_entry: super::registry::any_entry,
};

/// The spec of a `timezone:` entry (the registry line's `render`): its key, checked; no
/// `state` (a host always has a zone).
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, state, .. } = b;
    k.no_state("timezone", &state)?;
    Ok(super::Desired::Timezone(TimezoneSpec { name: key }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> TimezoneSpec {
        TimezoneSpec {
            name: "Europe/Paris".into(),
        }
    }

    fn st(kind: PathKind) -> PathState {
        PathState {
            kind,
            mode: 0o644,
            owner: "root".into(),
            group: "root".into(),
        }
    }

    fn zone() -> PathState {
        st(PathKind::File {
            size: 10,
            sha256: None,
        })
    }

    fn link(t: &str) -> PathState {
        st(PathKind::Link { target: t.into() })
    }

    #[test]
    fn names() {
        for ok in [
            "Europe/Paris",
            "UTC",
            "Etc/GMT+1",
            "America/Argentina/Buenos_Aires",
        ] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "Europe//Paris",
            "Europe/Paris ",
            "a/../b",
            "../x",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn converged_with_an_absolute_or_relative_link() {
        let f = FileSeen::File(b"Europe/Paris\n".to_vec());
        let abs = link("/usr/share/zoneinfo/Europe/Paris");
        assert_eq!(plan(&spec(), &abs, &zone(), &f, &[]).unwrap(), None);
        let rel = link("../usr/share/zoneinfo/Europe/Paris");
        assert_eq!(plan(&spec(), &rel, &zone(), &f, &[]).unwrap(), None);
    }

    #[test]
    fn link_and_file_are_planned_apart() {
        let f = FileSeen::File(b"Europe/Paris\n".to_vec());
        let p = plan(
            &spec(),
            &link("/usr/share/zoneinfo/Etc/UTC"),
            &zone(),
            &f,
            &[],
        )
        .unwrap()
        .unwrap();
        assert!(p.work.link && p.work.file.is_none());
        assert_eq!(
            p.details,
            vec!["/etc/localtime → /usr/share/zoneinfo/Europe/Paris (was → /usr/share/zoneinfo/Etc/UTC)"]
        );
        let (s, stdin) = apply_fragment(2, &spec(), &p.work);
        assert!(stdin.is_empty());
        assert!(
            s.contains("ln -s -- /usr/share/zoneinfo/Europe/Paris \"$t\""),
            "{s}"
        );
        assert!(s.contains("mv -f -T -- \"$t\" localtime"), "{s}");
        let abs = link("/usr/share/zoneinfo/Europe/Paris");
        let p = plan(&spec(), &abs, &zone(), &FileSeen::Missing, &[])
            .unwrap()
            .unwrap();
        assert!(!p.work.link);
        let w = p.work.file.as_ref().unwrap();
        assert_eq!(w.new.as_deref(), Some(&b"Europe/Paris\n"[..]));
        let (_, stdin) = apply_fragment(2, &spec(), &p.work);
        assert!(stdin.starts_with(b"Europe/Paris\n"), "{stdin:?}");
    }

    #[test]
    fn a_zone_the_host_lacks_is_refused_unless_tzdata_comes_first() {
        let missing = PathState::missing();
        let e = plan(&spec(), &link("x"), &missing, &FileSeen::Missing, &[]).unwrap_err();
        assert!(
            e.0.contains("no /usr/share/zoneinfo/Europe/Paris"),
            "{}",
            e.0
        );
        let p = plan(
            &spec(),
            &link("x"),
            &missing,
            &FileSeen::Missing,
            &["tzdata"],
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            p.details[0],
            "/usr/share/zoneinfo/Europe/Paris known after tzdata"
        );
        let dir = st(PathKind::Directory { empty: None });
        assert!(plan(&spec(), &link("x"), &dir, &FileSeen::Missing, &[]).is_err());
        assert!(plan(&spec(), &dir, &zone(), &FileSeen::Missing, &[]).is_err());
    }
}
