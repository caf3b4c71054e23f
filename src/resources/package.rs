//! `package:` — Debian/Ubuntu packages through apt.
//!
//! ```yaml
//! - package: [python3, curl]       # one resource per name (its key), one apt-get for all
//!   state: present                 # present (default) | absent | latest
//!   update_cache: true             # `apt-get update` first, when something is to install
//! - package: "hello-play=1.0-1"    # a pinned version (present only)
//! ```
//!
//! Probe (in the host's one probe script): ONE `dpkg-query -W` for every package of the host,
//! and ONE `apt-cache policy` for the candidates (what `latest` upgrades to, and whether a
//! missing package can be installed at all) — only for `latest` packages and those not
//! installed: a no-op of installed packages costs no apt call. Apply: ONE `apt-get install` for every package to
//! install or upgrade and ONE `apt-get remove` for those to remove, `DEBIAN_FRONTEND=noninteractive`,
//! at the place of the first package change in declared order.

use std::collections::BTreeMap;

use super::deploy::{set_args, Planned, Refused};
use super::registry::Key;
use super::Action;
use crate::resolve::{Keys, ResolveError};
use crate::transport::shell_quote;

/// `state:` of a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PackageState {
    #[default]
    Present,
    Absent,
    /// Installed, at the candidate version of the host's apt lists.
    Latest,
}

impl PackageState {
    pub fn parse(s: &str) -> Option<PackageState> {
        match s {
            "present" | "installed" => Some(PackageState::Present),
            "absent" | "removed" => Some(PackageState::Absent),
            "latest" => Some(PackageState::Latest),
            _ => None,
        }
    }
}

/// One package, rendered for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSpec {
    /// Package name, maybe with `:arch` (the resource's key, without the version).
    pub name: String,
    /// `NAME=VERSION`: the version that must be installed.
    pub version: Option<String>,
    pub state: PackageState,
    /// Run `apt-get update` before installing.
    pub update_cache: bool,
}

/// Splits and checks `NAME[:ARCH][=VERSION]`.
pub fn parse_name(raw: &str) -> Result<(String, Option<String>), String> {
    let (name, version) = match raw.split_once('=') {
        Some((n, v)) => (n.trim(), Some(v.trim())),
        None => (raw.trim(), None),
    };
    let (base, arch) = match name.split_once(':') {
        Some((b, a)) => (b, Some(a)),
        None => (name, None),
    };
    // Debian policy 5.6.1: lowercase letters, digits, `+`, `-`, `.`; at least two characters,
    // starting with a letter or digit.
    let ok_base = base.len() >= 2
        && base
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && base
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b));
    let ok_arch = arch.is_none_or(|a| {
        !a.is_empty()
            && a.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    if !ok_base || !ok_arch {
        return Err(format!(
            "package name `{name}`: lowercase letters, digits, `+`, `-`, `.` (at least two, the first a letter or digit), optionally `:ARCH`"
        ));
    }
    let version = match version {
        None => None,
        Some(v) => {
            // Debian policy 5.6.12: [epoch:]upstream[-revision], these characters only.
            let ok = !v.is_empty()
                && v.bytes().next().is_some_and(|b| b.is_ascii_digit())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".+-~:".contains(&b));
            if !ok {
                return Err(format!(
                    "package `{name}`: version `{v}` is not a Debian version (digits first; letters, digits, `.+-~:`)"
                ));
            }
            Some(v.to_string())
        }
    };
    Ok((name.to_string(), version))
}

/// What `dpkg-query` says of one package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub arch: String,
    /// `db:Status-Abbrev`: desired, status and error letters (`ii `, `rc `, `iU `...).
    pub status: String,
    pub version: String,
}

impl Installed {
    /// Installed and configured (status letter `i`).
    pub fn is_installed(&self) -> bool {
        self.status.as_bytes().get(1) == Some(&b'i')
    }

    /// Some of the package is on the host (not `n`ot-installed nor only `c`onfig-files left).
    pub fn is_present(&self) -> bool {
        !matches!(
            self.status.as_bytes().get(1),
            None | Some(b'n') | Some(b'c')
        )
    }
}

/// The package database as the probe saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageDb {
    /// False when the host has no dpkg (not Debian or Ubuntu).
    pub dpkg: bool,
    /// `NAME` and `NAME:ARCH` → what is installed.
    pub installed: BTreeMap<String, Installed>,
    /// Candidate version in the host's apt lists (`None`: apt knows no installable version).
    pub candidates: BTreeMap<String, Option<String>>,
}

impl PackageDb {
    fn get(&self, name: &str) -> Option<&Installed> {
        self.installed.get(name)
    }

    /// The database from the host's records of the probe ([`probe_batch`]'s `pkgq`, `pkgpol`,
    /// `pkgnone`); `None`: not probed.
    pub fn of(observed: &super::deploy::DeployObserved) -> Option<Result<PackageDb, String>> {
        if observed.host_record("pkgnone").is_some() {
            return Some(Ok(PackageDb::default()));
        }
        let query = observed.host_record("pkgq")?;
        let mut db = PackageDb {
            dpkg: true,
            ..Default::default()
        };
        if let Err(e) = parse_dpkg_query(query.concat().as_str(), &mut db.installed) {
            return Some(Err(e));
        }
        if let Some(policy) = observed.host_record("pkgpol") {
            db.candidates = parse_policy(&policy.concat());
        }
        Some(Ok(db))
    }
}

/// The `dpkg-query` format the probe uses (tab-separated, one package a line).
pub const DPKG_FORMAT: &str = "${Package}\\t${Architecture}\\t${db:Status-Abbrev}\\t${Version}\\n";

/// Reads `dpkg-query -W -f=DPKG_FORMAT` output into `db.installed`.
pub fn parse_dpkg_query(text: &str, db: &mut BTreeMap<String, Installed>) -> Result<(), String> {
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let parts: Vec<&str> = line.split('\t').collect();
        let [name, arch, status, version] = parts.as_slice() else {
            return Err(format!("bad dpkg-query line `{line}`"));
        };
        let entry = Installed {
            arch: arch.to_string(),
            status: status.to_string(),
            version: version.to_string(),
        };
        // A multi-arch package may be listed once per architecture: the plain name keeps the
        // most installed of them.
        let plain = db.entry(name.to_string()).or_insert_with(|| entry.clone());
        if entry.is_installed() && !plain.is_installed() {
            *plain = entry.clone();
        }
        db.insert(format!("{name}:{arch}"), entry);
    }
    Ok(())
}

/// Reads `apt-cache policy NAME...` output (LC_ALL=C): name → candidate.
pub fn parse_policy(text: &str) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            current = Some(line.trim_end_matches(':').to_string());
        } else if let (Some(name), Some(c)) = (&current, line.trim().strip_prefix("Candidate:")) {
            let c = c.trim();
            out.insert(
                name.clone(),
                (c != "(none)" && !c.is_empty()).then(|| c.to_string()),
            );
        }
    }
    out
}

/// The probe fragment for `names` (emits `pkgnone`, or `pkgq` and `pkgpol` records).
pub fn probe_fragment(names: &[String], latest: &[String]) -> String {
    if names.is_empty() {
        return String::new();
    }
    let maybe: Vec<String> = names
        .iter()
        .filter(|n| !latest.contains(n))
        .map(|n| shell_quote(n))
        .collect();
    // `apt-cache policy` costs about 0.1 s of host CPU per call and more with many sources:
    // asked only for `latest` packages and those not installed (what a plan needs).
    format!(
        r#"{}
if command -v dpkg-query >/dev/null 2>&1; then
  printf 'pkgq\0'
  q=$(dpkg-query -W -f={} -- "$@" 2>/dev/null)
  printf '%s\n' "$q"
  printf '\0pkgpol\0'
  pn=' '
  while IFS='	' read -r p a st v; do
    case $st in ii*) pn="$pn/$p/ /$p:$a/ " ;; esac
  done <<PLAYPKG
$q
PLAYPKG
  {}
  for n in {}; do
    case $pn in *" /$n/ "*) ;; *) set -- "$@" "$n" ;; esac
  done
  if [ $# -gt 0 ]; then apt-cache policy -- "$@" 2>/dev/null; fi
  printf '\0'
else
  printf 'pkgnone\0'
fi
"#,
        set_args(names),
        shell_quote(DPKG_FORMAT),
        set_args(latest),
        maybe.join(" ")
    )
}

/// An item of the host's batched package probe: its name, with [`LATEST`] before it for a
/// package whose apt candidate is needed even when installed (`state: latest`).
fn probe_item(spec: &PackageSpec) -> String {
    match spec.state {
        PackageState::Latest => format!("{LATEST}{}", spec.name),
        PackageState::Present | PackageState::Absent => spec.name.clone(),
    }
}

/// See [`probe_item`] (a package name has no space).
const LATEST: &str = "latest ";

/// The host's one package probe for every item of [`probe_item`] ([`probe_fragment`]).
fn probe_batch(items: &[String]) -> String {
    let mut names: Vec<String> = Vec::new();
    let mut latest = Vec::new();
    for item in items {
        let name = item.strip_prefix(LATEST).unwrap_or(item);
        if item.starts_with(LATEST) {
            latest.push(name.to_string());
        }
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    probe_fragment(&names, &latest)
}

/// What apply does to one package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageOp {
    /// `apt-get install` with this argument (`NAME` or `NAME=VERSION`).
    Install(String),
    Remove(String),
}

/// Plans one package.
pub fn plan(spec: &PackageSpec, db: &PackageDb) -> Result<Option<Planned<PackageOp>>, Refused> {
    if !db.dpkg {
        return Err(Refused(
            "this host has no dpkg-query: `package:` supports Debian and Ubuntu (apt) only".into(),
        ));
    }
    let have = db.get(&spec.name);
    let candidate = db.candidates.get(&spec.name).cloned().flatten();
    let installed = have.filter(|h| h.is_installed());
    let not_available = || {
        Refused(format!(
            "no installable version of `{}` in the host's apt sources{}",
            spec.name,
            if spec.update_cache {
                ""
            } else {
                " (add `update_cache: true` if its lists are out of date)"
            }
        ))
    };
    let install = |arg: String, action: Action, details: Vec<String>| {
        Ok(Some(Planned {
            action,
            details,
            work: PackageOp::Install(arg),
        }))
    };
    match spec.state {
        PackageState::Absent => match have.filter(|h| h.is_present()) {
            None => Ok(None),
            Some(h) => Ok(Some(Planned {
                action: Action::Delete,
                details: vec![format!("remove {}", h.version)],
                work: PackageOp::Remove(spec.name.clone()),
            })),
        },
        PackageState::Present => match (&spec.version, installed) {
            (None, Some(_)) => Ok(None),
            (Some(v), Some(h)) if &h.version == v => Ok(None),
            (Some(v), h) => {
                let arg = format!("{}={v}", spec.name);
                match h {
                    Some(h) => install(arg, Action::Update, vec![format!("{} → {v}", h.version)]),
                    None => install(arg, Action::Create, vec![format!("install {v}")]),
                }
            }
            (None, None) => {
                let what = match (&candidate, have) {
                    (Some(c), _) => format!("install {c}"),
                    (None, _) if spec.update_cache => {
                        "install (version known after apt-get update)".to_string()
                    }
                    (None, _) => return Err(not_available()),
                };
                let mut details = vec![what];
                if let Some(h) = have.filter(|h| h.is_present()) {
                    details.push(format!("was half-installed ({})", h.status.trim()));
                }
                install(spec.name.clone(), Action::Create, details)
            }
        },
        PackageState::Latest => match (installed, &candidate) {
            (Some(h), Some(c)) if &h.version == c => Ok(None),
            (Some(h), Some(c)) => install(
                spec.name.clone(),
                Action::Update,
                vec![format!("{} → {c}", h.version)],
            ),
            // Installed and no candidate known: nothing newer to go to.
            (Some(_), None) if !spec.update_cache => Ok(None),
            (Some(h), None) => install(
                spec.name.clone(),
                Action::Update,
                vec![format!("{} → latest after apt-get update", h.version)],
            ),
            (None, Some(c)) => install(
                spec.name.clone(),
                Action::Create,
                vec![format!("install {c}")],
            ),
            (None, None) if spec.update_cache => install(
                spec.name.clone(),
                Action::Create,
                vec!["install (version known after apt-get update)".into()],
            ),
            (None, None) => Err(not_available()),
        },
    }
}

/// The apply step for all of a host's package changes: `(index, op)` in declared order, the
/// step's marker carrying the first index; every index is reported `ok` when apt succeeded.
/// Runs inside the apply script (its `play_ok`, `play_fail`); apt's output goes to stderr.
pub fn apply_fragment(ops: &[(usize, &PackageOp)], update_cache: bool) -> String {
    let Some((first, _)) = ops.first() else {
        return String::new();
    };
    let mut s = format!("# packages\nprintf '\\0play-step\\0%s\\0' {first} >&2\n");
    let apt = super::deploy::APT;
    let installs: Vec<&String> = ops
        .iter()
        .filter_map(|(_, o)| match o {
            PackageOp::Install(a) => Some(a),
            PackageOp::Remove(_) => None,
        })
        .collect();
    let removes: Vec<&String> = ops
        .iter()
        .filter_map(|(_, o)| match o {
            PackageOp::Remove(a) => Some(a),
            PackageOp::Install(_) => None,
        })
        .collect();
    if update_cache && !installs.is_empty() {
        s.push_str(&format!(
            "{apt} update </dev/null 1>&2 || play_fail {first}\n"
        ));
    }
    if !installs.is_empty() {
        s.push_str(&format!(
            "{apt} install -- {} </dev/null 1>&2 || play_fail {first}\n",
            installs
                .iter()
                .map(|a| shell_quote(a))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    if !removes.is_empty() {
        s.push_str(&format!(
            "{apt} remove -- {} </dev/null 1>&2 || play_fail {first}\n",
            removes
                .iter()
                .map(|a| shell_quote(a))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    for (i, _) in ops {
        s.push_str(&format!("play_ok {i}\n"));
    }
    s
}

/// The names of a `package:` entry (a name, a list, or a template giving either), each with
/// its pinned version.
fn names(k: &Keys) -> Result<Vec<(String, Option<String>)>, ResolveError> {
    k.names("package", "package: no package named", parse_name)
}

/// The keys of a `package:` entry: one per name (the registry line's `render`).
pub fn keys_of(k: &Keys) -> Result<Vec<String>, ResolveError> {
    Ok(names(k)?.into_iter().map(|(name, _)| name).collect())
}

/// The specs of a `package:` entry: one per name, its errors located at their keys (the
/// registry line's `render`).
pub fn from_entry(k: &Keys) -> Result<Vec<super::Desired>, ResolveError> {
    let state = match k.string("state")?.as_deref() {
        None => PackageState::Present,
        Some(s) => PackageState::parse(s).ok_or_else(|| {
            k.fail(
                "state",
                format!("a package's state is `present`, `absent` or `latest`, not `{s}`"),
            )
        })?,
    };
    let update_cache = k.boolean("update_cache")?.unwrap_or(false);
    names(k)?
        .into_iter()
        .map(|(name, version)| {
            if version.is_some() && state != PackageState::Present {
                return Err(k.fail(
                    "package",
                    format!("package `{name}`: a pinned version needs `state: present`"),
                ));
            }
            Ok(super::Desired::Package(PackageSpec {
                name,
                version,
                state,
                update_cache,
            }))
        })
        .collect()
}

impl super::Spec for PackageSpec {
    type Work = PackageOp;
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        p.add_batched(DEF.kind, probe_item(self), probe_batch);
    }
    fn plan_work(
        &self,
        observed: &super::Observed,
        _changed: &[&str],
    ) -> Result<Option<super::deploy::Planned<Self::Work>>, super::deploy::Refused> {
        let db = PackageDb::of(&observed.deploy)
            .ok_or_else(|| super::deploy::not_probed("dpkg"))?
            .map_err(super::deploy::Refused)?;
        plan(self, &db)
    }
    fn batched(&self) -> bool {
        true
    }
    fn apply_batch(
        &self,
        members: &[(usize, &super::Desired, Option<&super::Work>)],
        apt_updated: bool,
    ) -> Result<(String, Vec<u8>), (usize, String)> {
        let mut batch: Vec<(usize, &PackageOp)> = Vec::new();
        let mut update_cache = false;
        for (i, d, work) in members {
            match (work, d) {
                (Some(super::Work::Package(op)), super::Desired::Package(p)) => {
                    batch.push((*i, op));
                    update_cache |= p.update_cache;
                }
                _ => {
                    return Err((
                        *i,
                        "internal error: no planned work for this package".into(),
                    ))
                }
            }
        }
        let update_cache = update_cache && !apt_updated;
        Ok((apply_fragment(&batch, update_cache), Vec::new()))
    }
    fn depends(&self, observed: &super::Observed, out: &mut super::Prints) {
        let key = self.key();
        let v = match PackageDb::of(&observed.deploy) {
            Some(Ok(db)) => match db.installed.get(key) {
                Some(i) => format!("{} {} {}", i.status.trim(), i.version, i.arch),
                None => "not installed".into(),
            },
            Some(Err(_)) | None => "unknown".into(),
        };
        out.insert(format!("package {key}"), v);
    }
    const DEF: &'static super::registry::KindDef = &DEF;
    fn key(&self) -> &str {
        &self.name
    }
    fn has_nul(&self) -> bool {
        self.name.contains('\0')
    }
}

/// [`super::registry::KindDef::check_key`]: the package name, without its `=VERSION`.
fn check_key(key: &str) -> Result<String, String> {
    parse_name(key).map(|(name, _)| name)
}

/// The registry line of `package:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Package,
    name: "package",
    keys: &[Key::Any("update_cache")],
    is_path: false,
    watchable: true,
    docs_section: "`package: NAME` or `package: [NAMES]` — Debian/Ubuntu packages",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key,
    render: super::registry::Render::PerName {
        keys: keys_of,
        render: from_entry,
    },
    check_value: super::registry::any_value,
    // One dpkg-query (and apt-cache policy) for every package of the host: `probe_batch`.
    records: &[
        super::registry::Record {
            tag: "pkgq",
            fields: 1,
            per_host: true,
        },
        super::registry::Record {
            tag: "pkgpol",
            fields: 1,
            per_host: true,
        },
        super::registry::Record {
            tag: "pkgnone",
            fields: 0,
            per_host: true,
        },
    ],
    check_entry: super::registry::any_entry,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn db(lines: &str, policy: &str) -> PackageDb {
        let mut d = PackageDb {
            dpkg: true,
            ..Default::default()
        };
        parse_dpkg_query(lines, &mut d.installed).unwrap();
        d.candidates = parse_policy(policy);
        d
    }

    fn spec(name: &str, state: PackageState) -> PackageSpec {
        let (name, version) = parse_name(name).unwrap();
        PackageSpec {
            name,
            version,
            state,
            update_cache: false,
        }
    }

    const POLICY: &str = "hello-play:\n  Installed: 1.0-1\n  Candidate: 1.1-1\n  Version table:\n     1.1-1 500\n        500 file:/srv/repo ./ Packages\nnew-pkg:\n  Installed: (none)\n  Candidate: 2.0\ngone:\n  Installed: (none)\n  Candidate: (none)\n";

    #[test]
    fn names_and_versions() {
        assert_eq!(parse_name("curl").unwrap(), ("curl".into(), None));
        assert_eq!(
            parse_name("libc6:amd64=2.36-9").unwrap(),
            ("libc6:amd64".into(), Some("2.36-9".into()))
        );
        assert_eq!(parse_name("g++").unwrap().0, "g++");
        for bad in ["C", "x", "-rf", "a b", "curl;rm", "ok=", "ok=v1", "ok:AMD"] {
            assert!(parse_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dpkg_and_policy_outputs_parse() {
        let d = db(
            "hello-play\tall\tii \t1.0-1\nlibc6\tamd64\tii \t2.36\nlibc6\ti386\trc \t2.35\nold\tall\trc \t0.9\n",
            POLICY,
        );
        assert!(d.installed["hello-play"].is_installed());
        assert!(
            d.installed["libc6"].is_installed(),
            "plain name keeps the installed arch"
        );
        assert!(!d.installed["libc6:i386"].is_present());
        assert!(!d.installed["old"].is_present());
        assert_eq!(d.candidates["hello-play"].as_deref(), Some("1.1-1"));
        assert_eq!(d.candidates["gone"], None);
        assert!(parse_dpkg_query("garbage line\n", &mut BTreeMap::new()).is_err());
    }

    #[test]
    fn present_installs_once() {
        let d = db("hello-play\tall\tii \t1.0-1\n", POLICY);
        assert_eq!(
            plan(&spec("hello-play", PackageState::Present), &d).unwrap(),
            None
        );
        let p = plan(&spec("new-pkg", PackageState::Present), &d)
            .unwrap()
            .unwrap();
        assert_eq!(p.action, Action::Create);
        assert_eq!(p.details, vec!["install 2.0".to_string()]);
        assert_eq!(p.work, PackageOp::Install("new-pkg".into()));
    }

    #[test]
    fn pinned_versions() {
        let d = db("hello-play\tall\tii \t1.0-1\n", POLICY);
        assert_eq!(
            plan(&spec("hello-play=1.0-1", PackageState::Present), &d).unwrap(),
            None
        );
        let p = plan(&spec("hello-play=1.1-1", PackageState::Present), &d)
            .unwrap()
            .unwrap();
        assert_eq!(p.action, Action::Update);
        assert_eq!(p.details, vec!["1.0-1 → 1.1-1".to_string()]);
        assert_eq!(p.work, PackageOp::Install("hello-play=1.1-1".into()));
    }

    #[test]
    fn latest_follows_the_candidate() {
        let d = db("hello-play\tall\tii \t1.0-1\n", POLICY);
        let p = plan(&spec("hello-play", PackageState::Latest), &d)
            .unwrap()
            .unwrap();
        assert_eq!(p.details, vec!["1.0-1 → 1.1-1".to_string()]);
        let d = db("hello-play\tall\tii \t1.1-1\n", POLICY);
        assert_eq!(
            plan(&spec("hello-play", PackageState::Latest), &d).unwrap(),
            None
        );
    }

    #[test]
    fn absent_removes_what_is_there() {
        let d = db(
            "hello-play\tall\tii \t1.0-1\nold\tall\trc \t0.9\nhalf\tall\tiU \t3\n",
            POLICY,
        );
        let p = plan(&spec("hello-play", PackageState::Absent), &d)
            .unwrap()
            .unwrap();
        assert_eq!(p.action, Action::Delete);
        assert_eq!(p.work, PackageOp::Remove("hello-play".into()));
        assert_eq!(plan(&spec("old", PackageState::Absent), &d).unwrap(), None);
        assert_eq!(
            plan(&spec("never", PackageState::Absent), &d).unwrap(),
            None
        );
        assert!(plan(&spec("half", PackageState::Absent), &d)
            .unwrap()
            .is_some());
    }

    #[test]
    fn unavailable_packages_are_clear_errors() {
        let d = db("", POLICY);
        let e = plan(&spec("gone", PackageState::Present), &d).unwrap_err();
        assert!(e.0.contains("no installable version of `gone`"), "{e}");
        assert!(e.0.contains("update_cache"), "{e}");
        let mut s = spec("gone", PackageState::Present);
        s.update_cache = true;
        assert_eq!(plan(&s, &d).unwrap().unwrap().action, Action::Create);
        let none = PackageDb::default();
        assert!(plan(&spec("curl", PackageState::Present), &none)
            .unwrap_err()
            .0
            .contains("Debian and Ubuntu"));
    }

    #[test]
    fn one_apt_get_per_verb_for_all_packages() {
        let a = PackageOp::Install("a".into());
        let b = PackageOp::Install("b=1.0".into());
        let c = PackageOp::Remove("c".into());
        let s = apply_fragment(&[(3, &a), (5, &c), (7, &b)], true);
        assert_eq!(s.matches("apt-get").count(), 3, "{s}");
        assert!(
            s.contains("install -- a b=1.0 </dev/null 1>&2 || play_fail 3"),
            "{s}"
        );
        assert!(s.contains("remove -- c </dev/null"), "{s}");
        assert!(s.contains("DEBIAN_FRONTEND=noninteractive"));
        assert!(s.find(" update ").unwrap() < s.find(" install ").unwrap());
        for i in [3, 5, 7] {
            assert!(s.contains(&format!("play_ok {i}\n")));
        }
        let s = apply_fragment(&[(1, &c)], true);
        assert!(!s.contains(" update "), "no update for removals only: {s}");
        assert_eq!(apply_fragment(&[], true), "");
    }

    #[test]
    fn one_batched_probe_for_every_package_of_the_host() {
        let spec = |n: &str, state| {
            let mut p = super::super::deploy::DeployProbe::default();
            super::super::Spec::add_probe(&self::spec(n, state), &mut p);
            p
        };
        let mut p = spec("curl", PackageState::Present);
        let q = spec("git", PackageState::Latest);
        for (k, b) in q.batches {
            for item in b.items {
                p.add_batched(k, item, b.fragment);
            }
        }
        assert_eq!(p.batches.len(), 1);
        assert_eq!(
            p.fragment(),
            probe_fragment(&["curl".into(), "git".into()], &["git".into()])
        );
    }

    /// The database is read from the host's records (`pkgq`, `pkgpol`, `pkgnone`), a later
    /// probe's replacing an earlier one's.
    #[test]
    fn the_database_comes_from_the_hosts_records() {
        use super::super::deploy::parse_records;
        let out = |records: &str| format!("{records}end\0");
        let first = parse_records(
            out("pkgq\0curl\tamd64\tii \t7.88\n\0pkgpol\0curl:\n  Candidate: 7.89\n\0").as_bytes(),
        )
        .unwrap();
        let db = PackageDb::of(&first).unwrap().unwrap();
        assert!(db.dpkg);
        assert_eq!(db.installed["curl"].version, "7.88");
        assert_eq!(db.candidates["curl"].as_deref(), Some("7.89"));
        let mut both = first.clone();
        both.merge(parse_records(out("pkgnone\0").as_bytes()).unwrap());
        assert_eq!(PackageDb::of(&both), Some(Ok(PackageDb::default())));
        let mut again = first.clone();
        again.merge(parse_records(out("pkgq\0git\tall\tii \t2.39\n\0").as_bytes()).unwrap());
        let db = PackageDb::of(&again).unwrap().unwrap();
        assert!(
            !db.installed.contains_key("curl"),
            "replaced by the later probe"
        );
        assert!(
            db.candidates.is_empty(),
            "the earlier apt-cache answer went with it"
        );
        let bad = parse_records(out("pkgq\0garbage\0").as_bytes()).unwrap();
        assert!(PackageDb::of(&bad).unwrap().is_err());
        assert_eq!(PackageDb::of(&Default::default()), None);
    }

    /// The host's one package step: every member's work, `update_cache` of any of them unless
    /// an earlier step updated apt's lists; a member without work fails the step at its index.
    #[test]
    fn one_step_for_the_batch() {
        use super::super::{Desired, Spec, Work};
        let mut a = spec("curl", PackageState::Present);
        a.update_cache = true;
        let (a, b) = (
            Desired::Package(a),
            Desired::Package(spec("git", PackageState::Present)),
        );
        let (wa, wb) = (
            Work::Package(PackageOp::Install("curl".into())),
            Work::Package(PackageOp::Install("git".into())),
        );
        let first = spec("curl", PackageState::Present);
        assert!(first.batched());
        let members = [(2, &a, Some(&wa)), (5, &b, Some(&wb))];
        let (text, stdin) = first.apply_batch(&members, false).unwrap();
        assert!(stdin.is_empty());
        assert!(text.contains(" update "), "{text}");
        assert!(text.contains("install -- curl git <"), "{text}");
        assert!(text.contains("play_ok 2\n") && text.contains("play_ok 5\n"));
        let (text, _) = first.apply_batch(&members, true).unwrap();
        assert!(
            !text.contains(" update "),
            "apt's lists were updated: {text}"
        );
        let missing = [(2, &a, Some(&wa)), (5, &b, None)];
        assert_eq!(first.apply_batch(&missing, false).unwrap_err().0, 5);
    }

    #[test]
    fn probe_fragment_quotes_names() {
        let s = probe_fragment(&["curl".into(), "g++".into()], &[]);
        assert!(s.starts_with("set -- curl g++\n"), "{s}");
        assert!(s.contains("dpkg-query -W -f='${Package}"), "{s}");
        assert_eq!(probe_fragment(&[], &[]), "");
    }

    /// Runs the fragment on this machine (Debian: dpkg-query and apt-cache are there) and
    /// returns the names apt-cache policy was asked about.
    fn asked(names: &[&str], latest: &[&str]) -> Vec<String> {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let latest: Vec<String> = latest.iter().map(|s| s.to_string()).collect();
        let frag = probe_fragment(&names, &latest)
            .replace("apt-cache policy -- \"$@\"", "printf 'ASK %s\\n' \"$@\"");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(frag)
            .output()
            .expect("sh");
        String::from_utf8_lossy(&out.stdout)
            .split(['\n', '\0'])
            .filter_map(|l| l.strip_prefix("ASK ").map(str::to_string))
            .collect()
    }

    #[test]
    fn apt_is_asked_only_for_latest_and_missing_packages() {
        if std::process::Command::new("dpkg-query")
            .arg("--version")
            .output()
            .is_err()
        {
            return; // not a Debian machine: the fragment says `pkgnone`
        }
        // bash is installed everywhere this runs; the other one is not.
        assert_eq!(
            asked(&["bash", "no-such-package-play"], &[]),
            vec!["no-such-package-play".to_string()]
        );
        assert_eq!(asked(&["bash"], &["bash"]), vec!["bash".to_string()]);
        assert!(
            asked(&["bash"], &[]).is_empty(),
            "an installed package costs no apt call"
        );
    }
}
