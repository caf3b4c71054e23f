//! `venv:` — a Python virtualenv (`python -m venv`) and what pip installs in it (Ansible's
//! `pip` with `virtualenv`).
//!
//! ```yaml
//! - venv: /srv/app/venv
//!   python: python3                  # the interpreter on the host (default python3)
//!   packages: ["flask==3.0.3", gunicorn]
//!   requirements: /srv/app/current/requirements.txt   # a file on the host
//!   pip_args: [--no-index, --find-links, /srv/wheels]
//!   user: app                        # venv and pip run as this user
//!   state: present                   # or absent
//! ```
//!
//! Probe record (one per venv, in the host's one probe):
//! `venv \0 PATH \0 CFG \0 HOST \0 DISTS \0 STATE \0 REQSUM \0`: the `version` of
//! `PATH/pyvenv.cfg` (`-`: no venv), the host interpreter's `--version`, the `*.dist-info`
//! folder names of its site-packages (no pip run), the state file `PATH/.play-venv`
//! (`requirements_sha256 HEX`, written after each install from a requirements file) and the
//! requirements file's sha256 now (`missing`, or empty when none is declared).
//!
//! Plan: created when missing, recreated when its interpreter version is not the host's,
//! pip-installed when a wanted package is not satisfied (`name==version` exactly, a bare name
//! present) or the requirements file's sha256 is not the one recorded.

use std::collections::BTreeMap;

use super::deploy::{set_args, Planned, Refused};
use super::python::{dists as parse_dists, normalize, parse_requirement, Requirement};
use super::registry::Key;
use super::{Action, Attrs, Presence};
use crate::resolve::{Base, Keys, ResolveError};
use crate::transport::shell_quote;

/// The state file inside the venv.
pub const STATE_FILE: &str = ".play-venv";

/// One venv, rendered for one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VenvSpec {
    pub path: String,
    pub presence: Presence,
    pub python: String,
    pub packages: Vec<Requirement>,
    pub requirements: Option<String>,
    pub pip_args: Vec<String>,
    pub user: Option<String>,
}

/// What the probe saw of one venv.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VenvSeen {
    /// `pyvenv.cfg`'s version (`None`: no venv there).
    pub version: Option<String>,
    /// The host interpreter's version (empty: not found).
    pub host_version: String,
    /// Installed distributions: normalized name → version.
    pub dists: BTreeMap<String, String>,
    /// The requirements sha256 recorded at the last install.
    pub recorded: Option<String>,
    /// The requirements file's sha256 now (`None`: missing or none declared).
    pub req_sum: Option<String>,
}

/// Reads a `venv` record's fields after the path.
pub fn parse_seen(cfg: &str, host: &str, dists: &str, state: &str, req: &str) -> VenvSeen {
    let version = match cfg.trim() {
        "-" => None,
        v => Some(v.split(".final").next().unwrap_or(v).to_string()),
    };
    let host_version = host
        .trim()
        .strip_prefix("Python ")
        .unwrap_or(host.trim())
        .to_string();
    let dists = parse_dists(dists);
    let recorded = state
        .lines()
        .find_map(|l| l.strip_prefix("requirements_sha256 "))
        .map(|s| s.trim().to_string());
    let req_sum = match req.trim() {
        "" | "missing" => None,
        s => Some(s.to_string()),
    };
    VenvSeen {
        version,
        host_version,
        dists,
        recorded,
        req_sum,
    }
}

impl VenvSpec {
    /// What the probe saw of it (its `venv` record), when asked.
    fn seen(&self, observed: &super::Observed) -> Option<VenvSeen> {
        match observed.deploy.record("venv", &self.path)? {
            [cfg, host, dists, state, req] => Some(parse_seen(cfg, host, dists, state, req)),
            _ => None,
        }
    }
}

/// Probe fragment of one venv (see the module's record).
pub fn probe_fragment(spec: &VenvSpec) -> String {
    let p = &spec.path;
    let cfg = shell_quote(&format!("{p}/pyvenv.cfg"));
    let req = match &spec.requirements {
        Some(r) => format!(
            "if [ -r {r} ]; then s=$(sha256sum < {r}); printf '%s' \"${{s%% *}}\"; else printf missing; fi",
            r = shell_quote(r)
        ),
        None => ":".into(),
    };
    let site = format!("{}/lib/python*/site-packages", shell_quote(p));
    format!(
        r#"printf 'venv\0%s\0' {q}
v=-
if [ -r {cfg} ]; then
  v=
  while IFS= read -r l || [ -n "$l" ]; do
    case $l in "version = "*|"version_info = "*) v=${{l#*= }} ;; esac
  done < {cfg}
fi
printf '%s\0' "$v"
{py} --version 2>&1 </dev/null | head -n 1
printf '\0'
for d in {site}/*.dist-info; do [ -d "$d" ] && printf '%s\n' "${{d##*/}}"; done
printf '\0'
cat {state} 2>/dev/null
printf '\0'
{req}
printf '\0'
"#,
        q = shell_quote(p),
        py = shell_quote(&spec.python),
        state = shell_quote(&format!("{p}/{STATE_FILE}")),
    )
}

/// What apply does to a venv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VenvOp {
    Install {
        /// Remove it first (another interpreter version).
        recreate: bool,
        /// Create it (`python -m venv`).
        create: bool,
        /// `pip install` these.
        packages: Vec<String>,
        /// `pip install -r` the requirements file (and record its sha256).
        requirements: bool,
    },
    Delete,
}

fn satisfied(r: &Requirement, dists: &BTreeMap<String, String>) -> bool {
    r.satisfied_by(dists.get(&normalize(&r.name)).map(String::as_str))
}

/// Plans one venv. `changed`: keys of the host's resources changing before it in this run (a
/// requirements file at or under one of them is installed from again: known only after it).
pub fn plan(
    spec: &VenvSpec,
    seen: &VenvSeen,
    changed: &[&str],
) -> Result<Option<Planned<VenvOp>>, Refused> {
    let exists = seen.version.is_some();
    if spec.presence == Presence::Absent {
        return Ok(exists.then_some(Planned {
            action: Action::Delete,
            details: Vec::new(),
            work: VenvOp::Delete,
        }));
    }
    let mut details = Vec::new();
    let recreate = exists
        && !seen.host_version.is_empty()
        && seen.version.as_deref() != Some(seen.host_version.as_str());
    if recreate {
        details.push(format!(
            "python {} → {}: recreated",
            seen.version.as_deref().unwrap_or_default(),
            seen.host_version
        ));
    }
    let create = !exists || recreate;
    let packages: Vec<String> = spec
        .packages
        .iter()
        .filter(|r| create || !satisfied(r, &seen.dists))
        .map(|r| {
            if !create {
                match seen.dists.get(&normalize(&r.name)) {
                    Some(v) => details.push(format!("{} {v} → {}", r.name, r.spec())),
                    None => details.push(format!("+ {}", r.spec())),
                }
            }
            r.spec()
        })
        .collect();
    if create && !packages.is_empty() {
        details.push(format!("+ {}", packages.join(" ")));
    }
    let requirements = match &spec.requirements {
        None => false,
        Some(r) => {
            let moved = changed.iter().find(|k| {
                k.starts_with('/')
                    && (super::tree::is_under(r, k)
                        || super::tree::normalize(r) == super::tree::normalize(k))
            });
            let install = create
                || moved.is_some()
                || seen.req_sum.is_none()
                || seen.req_sum != seen.recorded;
            if install {
                details.push(match (&seen.req_sum, moved) {
                    (_, Some(k)) if !create => format!("-r {r} (known after {k})"),
                    (None, _) => format!("-r {r} (not on the host yet)"),
                    _ => format!("-r {r}"),
                });
            }
            install
        }
    };
    if !create && packages.is_empty() && !requirements {
        return Ok(None);
    }
    Ok(Some(Planned {
        action: if exists {
            Action::Update
        } else {
            Action::Create
        },
        details,
        work: VenvOp::Install {
            recreate,
            create,
            packages,
            requirements,
        },
    }))
}

/// The apply step of one venv (inside the apply script: `play_ok`, `play_fail`, `play_as`).
pub fn apply_fragment(index: usize, spec: &VenvSpec, op: &VenvOp) -> String {
    let i = index;
    let p = shell_quote(&spec.path);
    let user = shell_quote(spec.user.as_deref().unwrap_or_default());
    let mut s = format!(
        "# venv {}\nprintf '\\0play-step\\0%s\\0' {i} >&2\n",
        spec.path
    );
    let (recreate, create, packages, requirements) = match op {
        VenvOp::Delete => {
            s.push_str(&crate::apply::removal(i, &spec.path, "rm -rf"));
            s.push_str(&format!("play_ok {i}\n"));
            return s;
        }
        VenvOp::Install {
            recreate,
            create,
            packages,
            requirements,
        } => (*recreate, *create, packages, *requirements),
    };
    if recreate {
        s.push_str(&crate::apply::removal(i, &spec.path, "rm -rf"));
    }
    if create {
        if let Some(u) = &spec.user {
            s.push_str(&format!(
                "[ -d {p} ] || mkdir -m 0755 -- {p} || play_fail {i}\nif [ \"$play_uid\" = 0 ]; then chown -- {} {p} || play_fail {i}; fi\n",
                shell_quote(u)
            ));
        }
        s.push_str(&format!(
            "(umask 022; cd / && play_as {user} {} -m venv {p}) </dev/null 1>&2 || play_fail {i}\n",
            shell_quote(&spec.python)
        ));
    }
    let pip = format!(
        "(umask 022; cd / && play_as {user} {p}/bin/python -m pip install --disable-pip-version-check -q \"$@\")"
    );
    if !packages.is_empty() {
        let mut args = spec.pip_args.clone();
        args.extend(packages.iter().cloned());
        s.push_str(&format!(
            "{}\n{pip} </dev/null 1>&2 || play_fail {i}\n",
            set_args(&args)
        ));
    }
    if let (true, Some(r)) = (requirements, &spec.requirements) {
        let rq = shell_quote(r);
        let mut args = spec.pip_args.clone();
        args.extend(["-r".to_string(), r.clone()]);
        s.push_str(&format!(
            "rs=$(sha256sum < {rq}) || play_fail {i}\nrs=${{rs%% *}}\n{}\n{pip} </dev/null 1>&2 || play_fail {i}\n",
            set_args(&args)
        ));
        let attrs = Attrs {
            owner: None,
            group: None,
            mode: Some(0o644),
        };
        s.push_str(&crate::apply::fetched_file(
            i,
            &format!("{}/{STATE_FILE}", spec.path),
            &attrs,
            &format!("printf 'requirements_sha256 %s\\n' \"$rs\" > \"$t\" || play_fail {i}"),
            "-",
            "-",
        ));
    }
    s.push_str(&format!("play_ok {i}\n"));
    s
}

impl super::Spec for VenvSpec {
    type Work = VenvOp;
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        p.add_fragment(probe_fragment(self));
    }
    fn plan_work(
        &self,
        observed: &super::Observed,
        changed: &[&str],
    ) -> Result<Option<super::deploy::Planned<Self::Work>>, super::deploy::Refused> {
        let seen = self
            .seen(observed)
            .ok_or_else(|| super::deploy::not_probed("the venv"))?;
        plan(self, &seen, changed)
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
        let key = self.key();
        if let Some(v) = self.seen(observed) {
            out.insert(format!("venv {key}"), format!("{v:?}"));
        }
    }
    fn accounts(&self) -> Vec<(super::accounts::Account, &str)> {
        super::accounts::pair(&self.user, &None)
    }
    const DEF: &'static super::registry::KindDef = &DEF;
    fn key(&self) -> &str {
        &self.path
    }
    fn has_nul(&self) -> bool {
        super::any_nul(&[
            Some(&self.path),
            Some(&self.python),
            self.requirements.as_deref(),
            self.user.as_deref(),
        ]) || self.pip_args.iter().any(|a| a.contains('\0'))
    }
    fn probe_paths(&self) -> Vec<String> {
        Vec::new()
    }
    fn written(&self) -> Option<&str> {
        (self.presence == Presence::Present).then_some(self.path.as_str())
    }
}

/// The registry line of `venv:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Venv,
    name: "venv",
    keys: &[
        Key::Text("python"),
        Key::Any("packages"),
        Key::Text("requirements"),
        Key::Any("pip_args"),
        Key::Text("user"),
    ],
    is_path: true,
    watchable: true,
    docs_section: "`venv: PATH` — a Python virtualenv",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key: super::registry::path_key,
    render: super::registry::Render::Fn(from_entry),
    check_value,
    records: &[super::registry::Record {
        tag: "venv",
        fields: 6,
        per_host: false,
    }],
    check_entry: super::registry::any_entry,
};

/// [`super::registry::KindDef::check_value`]: each of `packages` is a requirement.
fn check_value(key: &str, value: &str) -> Result<(), String> {
    match key {
        "packages" => requirement(value).map(|_| ()),
        _ => Ok(()),
    }
}

/// One of `packages`: `NAME` or `NAME==VERSION`.
fn requirement(value: &str) -> Result<Requirement, String> {
    parse_requirement(value)
        .map_err(|m| format!("packages: {m} (other specifiers go in a requirements file)"))
}

/// The spec of a `venv:` entry, its errors located at their keys (the registry line's
/// `render`).
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, state, .. } = b;
    let (python, user) = super::python::interpreter_and_user(k)?;
    let packages = k
        .list("packages")?
        .unwrap_or_default()
        .iter()
        .map(|p| requirement(p).map_err(|m| k.fail("packages", m)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(super::Desired::Venv(VenvSpec {
        path: key,
        presence: k.presence(&state)?,
        python,
        packages,
        requirements: k.path("requirements")?,
        pip_args: k.list("pip_args")?.unwrap_or_default(),
        user,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> VenvSpec {
        VenvSpec {
            path: "/srv/app/venv".into(),
            python: "python3".into(),
            packages: vec![
                parse_requirement("Flask==3.0.3").unwrap(),
                parse_requirement("gunicorn").unwrap(),
            ],
            ..Default::default()
        }
    }

    fn seen(dists: &str) -> VenvSeen {
        parse_seen("3.11.2", "Python 3.11.2\n", dists, "", "")
    }

    #[test]
    fn requirements_are_said_with_their_key() {
        let e = requirement("flask>=3").unwrap_err();
        assert!(e.starts_with("packages: `flask>=3`"), "{e}");
        assert!(e.contains("requirements file"), "{e}");
    }

    #[test]
    fn satisfied_packages_are_no_change() {
        let s = spec();
        let ok = seen("flask-3.0.3.dist-info\ngunicorn-22.0.0.dist-info\npip-23.0.1.dist-info\n");
        assert_eq!(plan(&s, &ok, &[]).unwrap(), None);
        let old = seen("flask-3.0.2.dist-info\ngunicorn-22.0.0.dist-info\n");
        let p = plan(&s, &old, &[]).unwrap().unwrap();
        assert_eq!(p.details, vec!["Flask 3.0.2 → Flask==3.0.3".to_string()]);
        assert_eq!(
            p.work,
            VenvOp::Install {
                recreate: false,
                create: false,
                packages: vec!["Flask==3.0.3".into()],
                requirements: false
            }
        );
    }

    #[test]
    fn missing_venv_and_new_interpreter() {
        let s = spec();
        let none = parse_seen("-", "Python 3.11.2", "", "", "");
        let p = plan(&s, &none, &[]).unwrap().unwrap();
        assert_eq!(p.action, Action::Create);
        let other = parse_seen(
            "3.9.2",
            "Python 3.11.2",
            "flask-3.0.3.dist-info\ngunicorn-1.dist-info\n",
            "",
            "",
        );
        let p = plan(&s, &other, &[]).unwrap().unwrap();
        assert!(matches!(
            p.work,
            VenvOp::Install {
                recreate: true,
                create: true,
                ..
            }
        ));
    }

    /// A venv whose requirements file has the sha256 `h` recorded at the last install, and now.
    fn recorded(h: &str) -> VenvSeen {
        parse_seen(
            "3.11.2",
            "Python 3.11.2",
            "",
            &format!("requirements_sha256 {h}\n"),
            h,
        )
    }

    #[test]
    fn requirements_hash_is_compared_with_the_recorded_one() {
        let mut s = spec();
        s.packages.clear();
        s.requirements = Some("/srv/app/req.txt".into());
        let same = recorded(&"ab".repeat(32));
        assert_eq!(plan(&s, &same, &[]).unwrap(), None);
        let changed = VenvSeen {
            req_sum: Some("cd".repeat(32)),
            ..same
        };
        let p = plan(&s, &changed, &[]).unwrap().unwrap();
        assert_eq!(p.details, vec!["-r /srv/app/req.txt".to_string()]);
        let f = apply_fragment(1, &s, &p.work);
        assert!(f.contains("-r /srv/app/req.txt"), "{f}");
        assert!(f.contains("> \"$t\" || play_fail 1\n"), "{f}");
        assert!(!f.contains("-m venv"), "{f}");
    }

    #[test]
    fn a_requirements_file_in_a_changed_tree_is_installed_again() {
        let mut s = spec();
        s.packages.clear();
        s.requirements = Some("/srv/app/current/requirements.txt".into());
        let same = recorded(&"ab".repeat(32));
        assert_eq!(plan(&s, &same, &["/srv/other", "nginx"]).unwrap(), None);
        let p = plan(&s, &same, &["/srv/app"]).unwrap().unwrap();
        assert_eq!(
            p.details,
            vec!["-r /srv/app/current/requirements.txt (known after /srv/app)".to_string()]
        );
    }

    #[test]
    fn absent_removes_it() {
        let mut s = spec();
        s.presence = Presence::Absent;
        assert_eq!(
            plan(&s, &parse_seen("-", "", "", "", ""), &[]).unwrap(),
            None
        );
        let p = plan(&s, &seen(""), &[]).unwrap().unwrap();
        assert_eq!(p.work, VenvOp::Delete);
        assert!(apply_fragment(0, &s, &p.work).contains("rm -rf -- venv"));
    }
}
