//! `pip:` — Python distributions installed by pip outside a virtualenv (Ansible's `pip`
//! without `virtualenv`): into the interpreter's system site folders as root, or into a
//! user's `~/.local` (`pip install --user`).
//!
//! ```yaml
//! - pip: [Flask, "uv==0.9.9"]        # one resource per name (its key, without the version)
//!   python: python3                  # the interpreter whose pip runs (`python3 -m pip`)
//!   pip_args: [--no-index, --find-links, /srv/wheels]   # install only
//!   user: app                        # `--user` install as app (~app/.local)
//!   break_system_packages: true      # PEP 668: install into an externally managed python
//!   state: present                   # or absent
//! ```
//!
//! Probe record, one per (interpreter, user) of the host, in the host's one probe, with no
//! pip or python run: `pipsite \0 PYTHON\tUSER \0 REAL \0 MANAGED \0 SYSTEM \0 USER_SITE \0`:
//! the interpreter's real path (`command -v`, `readlink -f`; empty: not found), its
//! `EXTERNALLY-MANAGED` marker (PEP 668; empty: none), and the `*.dist-info`/`*.egg-info`
//! entries of its system site folders (`PREFIX/local/lib/pythonX.Y/dist-packages`,
//! `PREFIX/lib/pythonX.Y/site-packages`, `PREFIX/lib/python3/dist-packages`…, in the order
//! python's `sys.path` has them) and of the user's `~/.local/lib/pythonX.Y/site-packages`, one
//! path a line. `X.Y` comes from the real path's name (`python3.11`); when it has none, every
//! `python3.*` folder is read.
//!
//! Plan: present when a distribution of that name (PEP 503) is installed (at the pinned
//! version, for `NAME==VERSION`), in the user's site first for `user:` then in the system's
//! (as pip sees it: a package apt installed counts); absent removes it (from the user's site
//! only, for `user:`); a distribution in `…/lib/python3/dist-packages` is Debian's, which pip
//! cannot remove. A python marked externally managed refuses the plan of a change without
//! `break_system_packages: true`, saying what to do.

use std::collections::BTreeMap;

use super::deploy::{set_args, Planned, Refused};
use super::python::{dist_of, normalize, parse_requirement};
use super::registry::Key;
use super::{Action, Presence};
use crate::resolve::{Keys, ResolveError};
use crate::transport::shell_quote;

/// One distribution, rendered for one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipSpec {
    /// As written, without its `==VERSION` (the resource's key).
    pub name: String,
    /// `NAME==VERSION`: the version that must be installed.
    pub version: Option<String>,
    pub presence: Presence,
    /// The interpreter whose pip runs (`PYTHON -m pip`).
    pub python: String,
    /// Arguments of `pip install` before the name.
    pub pip_args: Vec<String>,
    /// A `--user` install as this user.
    pub user: Option<String>,
    /// Install into a python marked externally managed (PEP 668).
    pub break_system_packages: bool,
}

impl PipSpec {
    /// As pip takes it.
    fn requirement(&self) -> String {
        match &self.version {
            Some(v) => format!("{}=={v}", self.name),
            None => self.name.clone(),
        }
    }

    /// The key of its probe record.
    fn site_key(&self) -> String {
        format!(
            "{}\t{}",
            self.python,
            self.user.as_deref().unwrap_or_default()
        )
    }
}

/// One installed distribution: its version and the site folder holding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dist {
    pub version: String,
    pub folder: String,
}

/// What the probe saw of one interpreter (and user).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipSeen {
    /// The interpreter's real path (empty: not found).
    pub real: String,
    /// Its `EXTERNALLY-MANAGED` marker (PEP 668).
    pub managed: Option<String>,
    /// In the system site folders: PEP 503 name → the first one found.
    pub system: BTreeMap<String, Dist>,
    /// In the user's site folder.
    pub user: BTreeMap<String, Dist>,
}

/// Entries (full paths, one a line) → name → the first one found.
fn dists(lines: &str) -> BTreeMap<String, Dist> {
    let mut out = BTreeMap::new();
    for line in lines.lines() {
        let line = line.trim_end_matches('/');
        let (folder, entry) = line.rsplit_once('/').unwrap_or(("", line));
        if let Some((name, version)) = dist_of(entry) {
            out.entry(name).or_insert_with(|| Dist {
                version,
                folder: folder.to_string(),
            });
        }
    }
    out
}

/// Reads a `pipsite` record's fields after its key.
pub fn parse_seen(real: &str, managed: &str, system: &str, user: &str) -> PipSeen {
    PipSeen {
        real: real.trim().to_string(),
        managed: Some(managed.trim())
            .filter(|m| !m.is_empty())
            .map(str::to_string),
        system: dists(system),
        user: dists(user),
    }
}

/// The probe fragment of one interpreter and user (see the module's record).
pub fn probe_fragment(python: &str, user: Option<&str>) -> String {
    let key = format!("{python}\t{}", user.unwrap_or_default());
    // A checked account name (letters, digits, `_`, `-`): `~NAME` is expanded by the shell.
    let home = match user {
        Some(u) => format!("ph=~{u}"),
        None => "ph=".into(),
    };
    format!(
        r#"printf 'pipsite\0%s\0' {key}
pp=$(command -v {py} 2>/dev/null) && pp=$(readlink -f -- "$pp" 2>/dev/null) || pp=
printf '%s\0' "$pp"
pv='3.*'
case ${{pp##*/}} in python[0-9]*.[0-9]*) pv=${{pp##*/python}} ;; esac
pre=${{pp%/bin/*}}
pm=
if [ -n "$pp" ] && [ "$pre" != "$pp" ]; then
  for m in "$pre"/lib/python$pv/EXTERNALLY-MANAGED; do [ -e "$m" ] && pm=$m; done
fi
printf '%s\0' "$pm"
if [ -n "$pp" ] && [ "$pre" != "$pp" ]; then
  for d in "$pre"/local/lib/python$pv/dist-packages/* "$pre"/local/lib/python$pv/site-packages/* "$pre"/lib/python$pv/site-packages/* "$pre"/lib64/python$pv/site-packages/* "$pre"/lib/python$pv/dist-packages/* "$pre"/lib/python3/dist-packages/*; do
    case $d in *.dist-info|*.egg-info) [ -e "$d" ] && printf '%s\n' "$d" ;; esac
  done
fi
printf '\0'
{home}
if [ -n "$ph" ] && [ -n "$pp" ]; then
  for d in "$ph"/.local/lib/python$pv/site-packages/*; do
    case $d in *.dist-info|*.egg-info) [ -e "$d" ] && printf '%s\n' "$d" ;; esac
  done
fi
printf '\0'
"#,
        key = shell_quote(&key),
        py = shell_quote(python),
    )
}

/// What apply does to one distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipOp {
    /// `pip install` of this requirement (`NAME` or `NAME==VERSION`).
    Install(String),
    /// `pip uninstall -y` of this name.
    Uninstall(String),
}

/// Debian's own site folder: what apt installed (`python3-requests`), which pip cannot remove.
fn is_debians(folder: &str) -> bool {
    folder.ends_with("/lib/python3/dist-packages")
}

/// Why a change of `spec` is refused on a python marked externally managed.
fn externally_managed(spec: &PipSpec, marker: &str) -> Refused {
    let n = normalize(&spec.name);
    Refused(format!(
        "{} on this host is externally managed (PEP 668: {marker}): its pip refuses to change \
         what it holds. Add `break_system_packages: true` to this entry to run pip anyway, \
         install the distribution's Debian package instead (`package: python3-{n}`), or \
         install into a `venv:`",
        spec.python
    ))
}

/// Plans one distribution.
pub fn plan(spec: &PipSpec, seen: &PipSeen) -> Result<Option<Planned<PipOp>>, Refused> {
    let norm = normalize(&spec.name);
    let in_user = seen.user.get(&norm);
    let managed = seen
        .managed
        .as_deref()
        .filter(|_| !spec.break_system_packages);
    if spec.presence == Presence::Absent {
        let have = match &spec.user {
            Some(_) => in_user,
            None => seen.system.get(&norm),
        };
        let Some(have) = have else {
            return Ok(None);
        };
        if is_debians(&have.folder) {
            return Err(Refused(format!(
                "`{}` {} is in {}, installed by apt: pip cannot remove it. Remove its Debian \
                 package (`package: python3-{norm}` with `state: absent`) instead",
                spec.name, have.version, have.folder
            )));
        }
        if let Some(m) = managed {
            return Err(externally_managed(spec, m));
        }
        return Ok(Some(Planned {
            action: Action::Delete,
            details: vec![format!("remove {} ({})", have.version, have.folder)],
            work: PipOp::Uninstall(spec.name.clone()),
        }));
    }
    let have = match &spec.user {
        Some(_) => in_user.or_else(|| seen.system.get(&norm)),
        None => seen.system.get(&norm),
    };
    let wanted = super::python::Requirement {
        name: spec.name.clone(),
        version: spec.version.clone(),
    };
    if wanted.satisfied_by(have.map(|d| d.version.as_str())) {
        return Ok(None);
    }
    if let Some(m) = managed {
        return Err(externally_managed(spec, m));
    }
    let req = spec.requirement();
    let (action, mut details) = match have {
        Some(d) => (
            Action::Update,
            vec![format!("{} {} → {req}", spec.name, d.version)],
        ),
        None => (Action::Create, vec![format!("+ {req}")]),
    };
    if seen.real.is_empty() {
        details.push(format!(
            "{} is not on the host yet (known after an earlier step)",
            spec.python
        ));
    } else if !seen.system.contains_key("pip") && !seen.user.contains_key("pip") {
        details.push(format!(
            "no pip seen for {} (known after an earlier step: Debian's `package: python3-pip`)",
            seen.real
        ));
    }
    Ok(Some(Planned {
        action,
        details,
        work: PipOp::Install(req),
    }))
}

/// The apply step of one distribution (inside the apply script: `play_ok`, `play_fail`,
/// `play_as`). pip runs as root, or as `user:` with `--user`; it says nothing on success.
pub fn apply_fragment(index: usize, spec: &PipSpec, op: &PipOp) -> String {
    let i = index;
    let py = shell_quote(&spec.python);
    let user = shell_quote(spec.user.as_deref().unwrap_or_default());
    let mut args: Vec<String> = vec!["--disable-pip-version-check".into(), "-q".into()];
    let verb = match op {
        PipOp::Install(req) => {
            if spec.user.is_some() {
                args.push("--user".into());
            }
            args.extend(spec.pip_args.iter().cloned());
            args.push("--".into());
            args.push(req.clone());
            "install"
        }
        PipOp::Uninstall(name) => {
            args.extend(["-y".to_string(), "--".to_string(), name.clone()]);
            "uninstall"
        }
    };
    let env = if spec.break_system_packages {
        "PIP_BREAK_SYSTEM_PACKAGES=1 "
    } else {
        ""
    };
    format!(
        "# pip {name}\nprintf '\\0play-step\\0%s\\0' {i} >&2\n{set}\n\
         if ! (umask 022; cd / && play_as {user} env PIP_ROOT_USER_ACTION=ignore {env}{py} -m pip {verb} \"$@\") </dev/null 1>&2; then\n\
         \x20 {py} -c 'import pip' </dev/null >/dev/null 2>&1 || printf '%s\\n' {nopip} >&2\n\
         \x20 play_fail {i}\nfi\nplay_ok {i}\n",
        name = spec.name,
        set = set_args(&args),
        nopip = shell_quote(&format!(
            "no pip for {} on this host: install it first (Debian: `package: python3-pip`)",
            spec.python
        )),
    )
}

impl PipSpec {
    /// What the probe saw of its interpreter and user, when asked.
    fn seen(&self, observed: &super::Observed) -> Option<PipSeen> {
        match observed.deploy.record("pipsite", &self.site_key())? {
            [real, managed, system, user] => Some(parse_seen(real, managed, system, user)),
            _ => None,
        }
    }
}

impl super::Spec for PipSpec {
    type Work = PipOp;
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        // One fragment per interpreter and user: equal fragments are asked once.
        p.add_fragment(probe_fragment(&self.python, self.user.as_deref()));
    }
    fn plan_work(
        &self,
        observed: &super::Observed,
        _changed: &[&str],
    ) -> Result<Option<super::deploy::Planned<Self::Work>>, super::deploy::Refused> {
        let seen = self
            .seen(observed)
            .ok_or_else(|| super::deploy::not_probed("the python site folders"))?;
        plan(self, &seen)
    }
    fn apply_fragment(
        &self,
        index: usize,
        work: Option<&Self::Work>,
        _last: bool,
    ) -> Option<Result<(String, Vec<u8>), String>> {
        work.map(|op| Ok((apply_fragment(index, self, op), Vec::new())))
    }
    fn depends(&self, observed: &super::Observed, out: &mut super::Prints) {
        let v = match self.seen(observed) {
            Some(s) => {
                let norm = normalize(&self.name);
                format!(
                    "{} {:?} {:?} {:?}",
                    s.real,
                    s.managed,
                    s.user.get(&norm),
                    s.system.get(&norm)
                )
            }
            None => "unknown".into(),
        };
        out.insert(format!("pip {}", self.key()), v);
    }
    fn accounts(&self) -> Vec<(super::accounts::Account, &str)> {
        super::accounts::pair(&self.user, &None)
    }
    const DEF: &'static super::registry::KindDef = &DEF;
    fn key(&self) -> &str {
        &self.name
    }
    fn has_nul(&self) -> bool {
        super::any_nul(&[Some(&self.name), Some(&self.python), self.user.as_deref()])
            || self.pip_args.iter().any(|a| a.contains('\0'))
    }
}

/// [`super::registry::KindDef::check_key`]: the name, without its `==VERSION`.
fn check_key(key: &str) -> Result<String, String> {
    requirement(key).map(|r| r.name)
}

/// One name of a `pip:` entry.
fn requirement(value: &str) -> Result<super::python::Requirement, String> {
    parse_requirement(value).map_err(|m| {
        format!("pip: {m} (a range, a URL or a path is not a state play can check: pin a version)")
    })
}

/// [`super::registry::KindDef::check_value`]: each name is a requirement; `pip_args` has no
/// `--user` (that is `user:`).
fn check_value(key: &str, value: &str) -> Result<(), String> {
    match key {
        "pip" => requirement(value).map(|_| ()),
        "pip_args" if matches!(value, "--user" | "-U" | "--upgrade") => Err(format!(
            "pip_args: `{value}`: {}",
            if value == "--user" {
                "a user install is `user: NAME`"
            } else {
                "play installs what is missing, never upgrades: pin a version"
            }
        )),
        _ => Ok(()),
    }
}

/// The names of a `pip:` entry (a name, a list, or a template giving either).
fn names(k: &Keys) -> Result<Vec<super::python::Requirement>, ResolveError> {
    k.names("pip", "pip: no distribution named", requirement)
}

/// The keys of a `pip:` entry: one per name (the registry line's `render`).
pub fn keys_of(k: &Keys) -> Result<Vec<String>, ResolveError> {
    Ok(names(k)?.into_iter().map(|r| r.name).collect())
}

/// The specs of a `pip:` entry: one per name, its errors located at their keys (the registry
/// line's `render`).
pub fn from_entry(k: &Keys) -> Result<Vec<super::Desired>, ResolveError> {
    let presence = match k.string("state")?.as_deref() {
        None | Some("present") => Presence::Present,
        Some("absent") => Presence::Absent,
        Some("latest") => {
            return Err(k.fail(
                "state",
                "`latest` is not a state play can verify (what is latest moves on the index): \
                 pin a version (`NAME==VERSION`)"
                    .into(),
            ))
        }
        Some(s) => {
            return Err(k.fail(
                "state",
                format!("a pip distribution's state is `present` or `absent`, not `{s}`"),
            ))
        }
    };
    let (python, user) = super::python::interpreter_and_user(k)?;
    let pip_args = k.list("pip_args")?.unwrap_or_default();
    for a in &pip_args {
        check_value("pip_args", a).map_err(|m| k.fail("pip_args", m))?;
    }
    let break_system_packages = k.boolean("break_system_packages")?.unwrap_or(false);
    names(k)?
        .into_iter()
        .map(|r| {
            if r.version.is_some() && presence == Presence::Absent {
                return Err(k.fail(
                    "pip",
                    format!(
                        "pip `{}`: a pinned version needs `state: present`",
                        r.spec()
                    ),
                ));
            }
            Ok(super::Desired::Pip(PipSpec {
                name: r.name,
                version: r.version,
                presence,
                python: python.clone(),
                pip_args: pip_args.clone(),
                user: user.clone(),
                break_system_packages,
            }))
        })
        .collect()
}

/// The registry line of `pip:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Pip,
    name: "pip",
    keys: &[
        Key::Text("python"),
        Key::Any("pip_args"),
        Key::Text("user"),
        Key::Any("break_system_packages"),
    ],
    is_path: false,
    watchable: true,
    docs_section: "`pip: NAME` or `pip: [NAMES]` — Python packages outside a virtualenv",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key,
    render: super::registry::Render::PerName {
        keys: keys_of,
        render: from_entry,
    },
    check_value,
    records: &[super::registry::Record {
        tag: "pipsite",
        fields: 5,
        per_host: false,
    }],
    check_entry: super::registry::any_entry,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> PipSpec {
        let r = parse_requirement(name).unwrap();
        PipSpec {
            name: r.name,
            version: r.version,
            python: "python3".into(),
            ..Default::default()
        }
    }

    const SYSTEM: &str = "/usr/local/lib/python3.11/dist-packages/Flask-3.0.3.dist-info\n\
        /usr/lib/python3/dist-packages/requests-2.28.1.egg-info\n\
        /usr/lib/python3/dist-packages/pip-23.0.1.dist-info\n\
        /usr/lib/python3/dist-packages/flask-2.2.2.dist-info\n";

    fn seen(managed: &str, user: &str) -> PipSeen {
        parse_seen("/usr/bin/python3.11\n", managed, SYSTEM, user)
    }

    #[test]
    fn the_record_parses() {
        let s = seen(
            "",
            "/home/app/.local/lib/python3.11/site-packages/uv-0.9.9.dist-info\n",
        );
        assert_eq!(s.real, "/usr/bin/python3.11");
        assert_eq!(s.managed, None);
        assert_eq!(
            s.system["flask"],
            Dist {
                version: "3.0.3".into(),
                folder: "/usr/local/lib/python3.11/dist-packages".into()
            },
            "the first found, as sys.path has them"
        );
        assert_eq!(s.user["uv"].version, "0.9.9");
    }

    #[test]
    fn installed_or_apt_installed_is_no_change() {
        let s = seen("", "");
        assert_eq!(plan(&spec("Flask"), &s).unwrap(), None);
        assert_eq!(plan(&spec("flask==3.0.3"), &s).unwrap(), None);
        assert_eq!(
            plan(&spec("requests"), &s).unwrap(),
            None,
            "apt's python3-requests counts, as pip show says"
        );
    }

    #[test]
    fn only_what_is_missing_installs() {
        let s = seen("", "");
        let p = plan(&spec("uv==0.9.9"), &s).unwrap().unwrap();
        assert_eq!(p.action, Action::Create);
        assert_eq!(p.details, vec!["+ uv==0.9.9".to_string()]);
        assert_eq!(p.work, PipOp::Install("uv==0.9.9".into()));
        let p = plan(&spec("Flask==3.1.0"), &s).unwrap().unwrap();
        assert_eq!(p.action, Action::Update);
        assert_eq!(p.details, vec!["Flask 3.0.3 → Flask==3.1.0".to_string()]);
    }

    #[test]
    fn a_user_install_sees_its_site_first_and_removes_only_from_it() {
        let mut s = spec("uv==0.9.9");
        s.user = Some("app".into());
        let mine = seen(
            "",
            "/home/app/.local/lib/python3.11/site-packages/uv-0.9.9.dist-info\n",
        );
        assert_eq!(plan(&s, &mine).unwrap(), None);
        assert!(plan(&s, &seen("", "")).unwrap().is_some());
        let mut flask = spec("flask");
        flask.user = Some("app".into());
        assert_eq!(
            plan(&flask, &seen("", "")).unwrap(),
            None,
            "the system's counts"
        );
        flask.presence = Presence::Absent;
        assert_eq!(
            plan(&flask, &seen("", "")).unwrap(),
            None,
            "not the user's to remove"
        );
        let mut uv = spec("uv");
        uv.user = Some("app".into());
        uv.presence = Presence::Absent;
        let p = plan(&uv, &mine).unwrap().unwrap();
        assert_eq!(p.work, PipOp::Uninstall("uv".into()));
        let f = apply_fragment(4, &uv, &p.work);
        assert!(f.contains("play_as app env"), "{f}");
        assert!(
            f.contains("set -- --disable-pip-version-check -q -y -- uv\n"),
            "{f}"
        );
    }

    #[test]
    fn absent_removes_what_pip_installed_and_refuses_apts() {
        let mut s = spec("flask");
        s.presence = Presence::Absent;
        let p = plan(&s, &seen("", "")).unwrap().unwrap();
        assert_eq!(p.action, Action::Delete);
        assert_eq!(
            p.details,
            vec!["remove 3.0.3 (/usr/local/lib/python3.11/dist-packages)".to_string()]
        );
        let mut r = spec("requests");
        r.presence = Presence::Absent;
        let e = plan(&r, &seen("", "")).unwrap_err();
        assert!(e.0.contains("package: python3-requests"), "{e}");
        let mut gone = spec("nothere");
        gone.presence = Presence::Absent;
        assert_eq!(plan(&gone, &seen("", "")).unwrap(), None);
    }

    #[test]
    fn an_externally_managed_python_says_what_to_do() {
        let marker = "/usr/lib/python3.11/EXTERNALLY-MANAGED";
        let e = plan(&spec("uv"), &seen(marker, "")).unwrap_err();
        assert!(e.0.contains("break_system_packages: true"), "{e}");
        assert!(e.0.contains(marker), "{e}");
        assert_eq!(
            plan(&spec("flask"), &seen(marker, "")).unwrap(),
            None,
            "nothing to change: no refusal"
        );
        let mut s = spec("uv");
        s.break_system_packages = true;
        let p = plan(&s, &seen(marker, "")).unwrap().unwrap();
        let f = apply_fragment(2, &s, &p.work);
        assert!(
            f.contains("PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install"),
            "{f}"
        );
    }

    #[test]
    fn no_interpreter_or_no_pip_is_said() {
        let none = parse_seen("", "", "", "");
        let p = plan(&spec("uv"), &none).unwrap().unwrap();
        assert!(
            p.details[1].contains("not on the host yet"),
            "{:?}",
            p.details
        );
        let nopip = parse_seen("/usr/bin/python3.11", "", "", "");
        let p = plan(&spec("uv"), &nopip).unwrap().unwrap();
        assert!(p.details[1].contains("python3-pip"), "{:?}", p.details);
        let f = apply_fragment(1, &spec("uv"), &p.work);
        assert!(f.contains("no pip for python3 on this host"), "{f}");
    }

    #[test]
    fn install_args_and_values() {
        let mut s = spec("uv==0.9.9");
        s.user = Some("app".into());
        s.pip_args = vec![
            "--no-index".into(),
            "--find-links".into(),
            "/srv/w h".into(),
        ];
        let f = apply_fragment(3, &s, &PipOp::Install("uv==0.9.9".into()));
        assert!(
            f.contains("set -- --disable-pip-version-check -q --user --no-index --find-links '/srv/w h' -- uv==0.9.9\n"),
            "{f}"
        );
        assert!(f.contains("play_fail 3\nfi\nplay_ok 3\n"), "{f}");
        assert!(check_value("pip", "flask>=3").is_err());
        assert!(check_value("pip", "flask==3").is_ok());
        assert!(check_value("pip_args", "--user").is_err());
        assert_eq!(check_key("Flask==3.0"), Ok("Flask".into()));
    }

    /// One probe fragment per interpreter and user, whatever the number of names.
    #[test]
    fn one_probe_per_interpreter_and_user() {
        let mut p = super::super::deploy::DeployProbe::default();
        let mut other = spec("b");
        other.user = Some("app".into());
        for s in [spec("a"), spec("b==1"), other.clone(), other] {
            super::super::Spec::add_probe(&s, &mut p);
        }
        assert_eq!(p.fragments.len(), 2, "{:?}", p.fragments);
    }

    /// The probe fragment on this machine's own python (Debian: /usr/bin/python3 and its
    /// site folders): one record, with the folders of the real path's version, no python run.
    #[test]
    fn the_probe_reads_site_folders_with_globs() {
        let Ok(real) = std::fs::canonicalize("/usr/bin/python3") else {
            return; // no system python here
        };
        let frag = probe_fragment("/usr/bin/python3", Some("root"));
        assert!(
            !frag.contains(" -m pip") && !frag.contains(" -c "),
            "{frag}"
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&frag)
            .output()
            .expect("sh");
        let text = String::from_utf8_lossy(&out.stdout);
        let f: Vec<&str> = text.split('\0').collect();
        assert_eq!(f[0], "pipsite");
        assert_eq!(f[1], "/usr/bin/python3\troot");
        assert_eq!(f[2], real.display().to_string());
        assert_eq!(f.len(), 7, "{text}");
        let s = parse_seen(f[2], f[3], f[4], f[5]);
        let version = real
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("python"))
            .unwrap_or("3")
            .to_string();
        assert!(
            s.system
                .values()
                .all(|d| d.folder.contains(&format!("python{version}"))
                    || d.folder.ends_with("python3/dist-packages")),
            "{s:?}"
        );
    }
}
