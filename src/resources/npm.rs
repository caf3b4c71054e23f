//! `npm:` — Node.js packages (Ansible's `npm`): a project's dependencies, or global packages.
//!
//! ```yaml
//! - npm: /srv/app/current        # a folder with package.json: `npm ci` (with a lock) or `npm install`
//!   production: true             # --omit=dev
//!   user: app
//! - npm: [n, "pm2@5.3.1"]        # names: global packages (`npm install -g`)
//!   prefix: /usr/local           # where (PREFIX/lib/node_modules); default: npm's own
//! ```
//!
//! A project is planned from its `node_modules`, the state file `node_modules/.play-npm` and
//! its lock's sha256 (`resources::project_deps`). A global package from the record
//! `npmg \0 NAME \0 ROOT \0 VERSION \0`: the global folder holding `NAME/package.json`
//! (`-`: none) and the `"version"` read from it with shell builtins (no node or npm process).

use super::deploy::{set_args, Planned, Refused};
use super::project_deps::{self, Layout};
use super::registry::Key;
use super::{Action, Presence};
use crate::resolve::{Keys, ResolveError};
use crate::transport::shell_quote;

/// A project's `node_modules` and its state file.
pub const LAYOUT: Layout = Layout {
    tag: "npm",
    installed: "node_modules",
    locks: &["package-lock.json", "npm-shrinkwrap.json", "package.json"],
    state_file: ".play-npm",
};

/// The global folders npm uses by default (Debian's npm: /usr/local; NodeSource's: /usr).
pub const GLOBAL_ROOTS: &[&str] = &["/usr/local/lib/node_modules", "/usr/lib/node_modules"];

/// What an `npm:` resource installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// The dependencies of the project in the folder (the key).
    Project { production: bool },
    /// The global package named by the key.
    Global {
        version: Option<String>,
        prefix: Option<String>,
    },
}

/// One `npm:` resource, rendered for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpmSpec {
    /// The project's folder, or the global package's name.
    pub key: String,
    pub presence: Presence,
    pub form: Form,
    pub user: Option<String>,
    /// The npm to run (default `npm`).
    pub executable: String,
}

/// `NAME` or `NAME@VERSION` (an exact version), `@scope/name` too.
pub fn parse_package(s: &str) -> Result<(String, Option<String>), String> {
    let t = s.trim();
    let at = t.char_indices().skip(1).find(|(_, c)| *c == '@');
    let (name, version) = match at {
        Some((i, _)) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let bare = name.strip_prefix('@').unwrap_or(name);
    let parts: Vec<&str> = bare.split('/').collect();
    let word = |w: &str| {
        !w.is_empty()
            && !w.starts_with('.')
            && w.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'-' | b'.' | b'_' | b'~')
            })
    };
    let name_ok = match (name.starts_with('@'), parts.as_slice()) {
        (true, [scope, n]) => word(scope) && word(n),
        (false, [n]) => word(n),
        _ => false,
    };
    let version_ok = version.is_none_or(|v| {
        v.bytes().next().is_some_and(|b| b.is_ascii_digit())
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+'))
    });
    if !name_ok || !version_ok {
        return Err(format!(
            "npm: `{s}`: a folder (an absolute path), or a package NAME or NAME@VERSION (an exact version)"
        ));
    }
    Ok((name.to_string(), version.map(str::to_string)))
}

/// What the probe saw of a global package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalSeen {
    /// The global folder holding it (`None`: not installed).
    pub root: Option<String>,
    pub version: String,
}

/// The global folders looked in: `PREFIX/lib/node_modules`, else [`GLOBAL_ROOTS`].
fn roots(prefix: &Option<String>) -> Vec<String> {
    match prefix {
        Some(p) => vec![format!("{}/lib/node_modules", p.trim_end_matches('/'))],
        None => GLOBAL_ROOTS.iter().map(|r| r.to_string()).collect(),
    }
}

/// The probe fragment of a global package (see the module's record).
pub fn global_fragment(name: &str, prefix: &Option<String>) -> String {
    let roots: Vec<String> = roots(prefix).iter().map(|r| shell_quote(r)).collect();
    format!(
        r#"printf 'npmg\0%s\0' {q}
r=- v=
for d in {roots}; do
  if [ -r "$d"/{q}/package.json ]; then
    r=$d
    while IFS= read -r l || [ -n "$l" ]; do
      case $l in *'"version"'*:*) v=${{l#*'"version"'}}; v=${{v#*'"'}}; v=${{v%%'"'*}}; break ;; esac
    done < "$d"/{q}/package.json
    break
  fi
done
printf '%s\0%s\0' "$r" "$v"
"#,
        q = shell_quote(name),
        roots = roots.join(" "),
    )
}

/// What apply does to an `npm:` resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NpmOp {
    /// A project's dependencies.
    Deps(project_deps::Op),
    /// A global package: installed (`true`) or removed.
    Global { install: bool },
}

/// Plans a global package.
pub fn plan_global(
    name: &str,
    version: &Option<String>,
    presence: Presence,
    seen: &GlobalSeen,
) -> Option<Planned<NpmOp>> {
    let have = seen.root.is_some();
    let (action, detail, install) = match (presence, have, version) {
        (Presence::Absent, true, _) => {
            (Action::Delete, format!("- {name} {}", seen.version), false)
        }
        (Presence::Absent, false, _) => return None,
        (Presence::Present, false, v) => {
            let at = v.as_ref().map(|v| format!("@{v}")).unwrap_or_default();
            (Action::Create, format!("+ {name}{at}"), true)
        }
        (Presence::Present, true, Some(v)) if *v != seen.version => (
            Action::Update,
            format!("{name} {} → {v}", seen.version),
            true,
        ),
        (Presence::Present, true, _) => return None,
    };
    Some(Planned {
        action,
        details: vec![detail],
        work: NpmOp::Global { install },
    })
}

impl NpmSpec {
    /// The npm command: `npm`, or an executable whose folder comes first on PATH (its
    /// `#!/usr/bin/env node` finds the node beside it).
    fn npm(&self) -> String {
        match self.executable.rsplit_once('/') {
            Some((dir, _)) if !dir.is_empty() => format!(
                "env PATH={}:\"$PATH\" {}",
                shell_quote(dir),
                shell_quote(&self.executable)
            ),
            _ => shell_quote(&self.executable),
        }
    }

    fn user(&self) -> String {
        shell_quote(self.user.as_deref().unwrap_or_default())
    }

    /// The options a project installs with (recorded).
    fn project_args(production: bool) -> &'static str {
        if production {
            "--omit=dev"
        } else {
            ""
        }
    }

    fn global_seen(&self, observed: &super::Observed) -> Option<GlobalSeen> {
        match observed.deploy.record("npmg", &self.key)? {
            [root, version] => Some(GlobalSeen {
                root: (root != "-").then(|| root.clone()),
                version: version.clone(),
            }),
            _ => None,
        }
    }
}

/// The apply step of one `npm:` resource.
pub fn apply_fragment(index: usize, spec: &NpmSpec, op: &NpmOp) -> String {
    let i = index;
    let label = format!("npm {}", spec.key);
    match (op, &spec.form) {
        (NpmOp::Deps(op), Form::Project { production }) => {
            let args = NpmSpec::project_args(*production);
            let run = format!(
                "if [ -f package-lock.json ] || [ -f npm-shrinkwrap.json ]; then set -- ci; else set -- install; fi && play_as {} {} \"$@\" --no-audit --no-fund{}",
                spec.user(),
                spec.npm(),
                if args.is_empty() { String::new() } else { format!(" {args}") }
            );
            project_deps::apply_fragment(
                i,
                &label,
                &LAYOUT,
                &spec.key,
                spec.user.as_deref(),
                op,
                (&run, args),
            )
        }
        (NpmOp::Global { install }, Form::Global { version, prefix }) => {
            let mut args: Vec<String> = vec![
                if *install { "install" } else { "uninstall" }.into(),
                "-g".into(),
            ];
            if let Some(p) = prefix {
                args.extend(["--prefix".to_string(), p.clone()]);
            }
            if *install {
                args.extend(["--no-audit".to_string(), "--no-fund".to_string()]);
            }
            args.push(match (install, version) {
                (true, Some(v)) => format!("{}@{v}", spec.key),
                _ => spec.key.clone(),
            });
            format!(
                "# {label}\nprintf '\\0play-step\\0%s\\0' {i} >&2\n{}\n(cd / && umask 022 && play_as {} {} \"$@\") </dev/null 1>&2 || play_fail {i}\nplay_ok {i}\n",
                set_args(&args),
                spec.user(),
                spec.npm(),
            )
        }
        // a spec's work is planned from its own form
        (NpmOp::Deps(_), Form::Global { .. }) | (NpmOp::Global { .. }, Form::Project { .. }) => {
            format!("# {label}\nprintf '\\0play-step\\0%s\\0' {i} >&2\nplay_fail {i}\n")
        }
    }
}

impl super::Spec for NpmSpec {
    type Work = NpmOp;
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        p.add_fragment(match &self.form {
            Form::Project { .. } => project_deps::probe_fragment(&LAYOUT, &self.key),
            Form::Global { prefix, .. } => global_fragment(&self.key, prefix),
        });
    }
    fn plan_work(
        &self,
        observed: &super::Observed,
        changed: &[&str],
    ) -> Result<Option<Planned<Self::Work>>, Refused> {
        match &self.form {
            Form::Project { production } => {
                let seen = project_deps::seen(&LAYOUT, observed, &self.key)
                    .ok_or_else(|| super::deploy::not_probed("the npm project"))?;
                let args = NpmSpec::project_args(*production);
                let planned =
                    project_deps::plan(&LAYOUT, &self.key, self.presence, args, &seen, changed)?;
                Ok(planned.map(|p| p.map(NpmOp::Deps)))
            }
            Form::Global { version, .. } => {
                let seen = self
                    .global_seen(observed)
                    .ok_or_else(|| super::deploy::not_probed("the global npm package"))?;
                Ok(plan_global(&self.key, version, self.presence, &seen))
            }
        }
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
        let seen = match &self.form {
            Form::Project { .. } => {
                project_deps::seen(&LAYOUT, observed, &self.key).map(|s| format!("{s:?}"))
            }
            Form::Global { .. } => self.global_seen(observed).map(|s| format!("{s:?}")),
        };
        if let Some(s) = seen {
            out.insert(format!("npm {}", self.key), s);
        }
    }
    fn accounts(&self) -> Vec<(super::accounts::Account, &str)> {
        super::accounts::pair(&self.user, &None)
    }
    fn owned_paths(&self) -> Vec<String> {
        match &self.form {
            Form::Project { .. } => LAYOUT.owned(&self.key),
            Form::Global { .. } => Vec::new(),
        }
    }
    const DEF: &'static super::registry::KindDef = &DEF;
    fn key(&self) -> &str {
        &self.key
    }
    fn has_nul(&self) -> bool {
        let prefix = match &self.form {
            Form::Global { prefix, .. } => prefix.as_deref(),
            Form::Project { .. } => None,
        };
        super::any_nul(&[
            Some(&self.key),
            Some(&self.executable),
            self.user.as_deref(),
            prefix,
        ])
    }
}

/// [`super::registry::KindDef::check_key`]: a folder, or a package name without its version.
fn check_key(key: &str) -> Result<String, String> {
    if key.starts_with('/') {
        super::registry::path_key(key)
    } else {
        parse_package(key).map(|(name, _)| name)
    }
}

/// [`super::registry::KindDef::check_value`]: each of `npm` is a folder or a package.
fn check_value(key: &str, value: &str) -> Result<(), String> {
    match key {
        "npm" => check_key(value).map(|_| ()),
        _ => Ok(()),
    }
}

/// The registry line of `npm:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Npm,
    name: "npm",
    keys: &[
        Key::Any("production"),
        Key::Text("prefix"),
        Key::Text("user"),
        Key::Text("executable"),
    ],
    // a project's folder is another resource's (a checkout, a release): npm owns its
    // node_modules (`owned_paths`)
    is_path: false,
    watchable: true,
    docs_section: "`npm: PATH` or `npm: [NAMES]` — Node.js packages",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key,
    render: super::registry::Render::PerName {
        keys: keys_of,
        render: from_entry,
    },
    check_value,
    records: &[
        super::registry::Record {
            tag: "npm",
            fields: 4,
            per_host: false,
        },
        super::registry::Record {
            tag: "npmg",
            fields: 3,
            per_host: false,
        },
    ],
    check_entry: super::registry::any_entry,
};

/// What an entry names: a project's folder, or global packages (each with its version).
enum Named {
    Project(String),
    Packages(Vec<(String, Option<String>)>),
}

fn named(k: &Keys) -> Result<Named, ResolveError> {
    let items = k.list("npm")?.unwrap_or_default();
    match items.as_slice() {
        [] => Err(k.fail("npm", "npm: no folder or package named".into())),
        [one] if one.starts_with('/') => super::registry::path_key(one)
            .map(Named::Project)
            .map_err(|m| k.fail("npm", format!("npm: {m}"))),
        _ => items
            .iter()
            .map(|n| {
                if n.starts_with('/') {
                    Err(k.fail(
                        "npm",
                        format!(
                            "npm: `{n}`: one project folder, or a list of package names, not both"
                        ),
                    ))
                } else {
                    parse_package(n).map_err(|m| k.fail("npm", m))
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Named::Packages),
    }
}

/// The keys of an `npm:` entry: its folder, or one per package (the registry line's
/// `render`).
pub fn keys_of(k: &Keys) -> Result<Vec<String>, ResolveError> {
    Ok(match named(k)? {
        Named::Project(p) => vec![p],
        Named::Packages(ps) => ps.into_iter().map(|(n, _)| n).collect(),
    })
}

/// The specs of an `npm:` entry, its errors located at their keys (the registry line's
/// `render`).
pub fn from_entry(k: &Keys) -> Result<Vec<super::Desired>, ResolveError> {
    let presence = k.presence(&k.string("state")?)?;
    let user = k.string("user")?;
    if let Some(u) = &user {
        super::accounts::check_name("user", u).map_err(|m| k.fail("user", m))?;
    }
    let executable = k.string("executable")?.unwrap_or_else(|| "npm".into());
    if executable.trim().is_empty() {
        return Err(k.fail("executable", "executable: an empty command".into()));
    }
    let production = k.boolean("production")?;
    let prefix = k.path("prefix")?;
    let spec = |key: String, form: Form| {
        super::Desired::Npm(NpmSpec {
            key,
            presence,
            form,
            user: user.clone(),
            executable: executable.clone(),
        })
    };
    match named(k)? {
        Named::Project(dir) => {
            if prefix.is_some() {
                return Err(k.fail(
                    "prefix",
                    "prefix: only for global packages (`npm: [NAMES]`), not a project folder"
                        .into(),
                ));
            }
            Ok(vec![spec(
                dir,
                Form::Project {
                    production: production.unwrap_or(false),
                },
            )])
        }
        Named::Packages(ps) => {
            if production.is_some() {
                return Err(k.fail(
                    "production",
                    "production: only for a project folder (`npm: PATH`), not global packages"
                        .into(),
                ));
            }
            ps.into_iter()
                .map(|(name, version)| {
                    if version.is_some() && presence == Presence::Absent {
                        return Err(k.fail(
                            "npm",
                            format!("npm `{name}`: a version with `state: absent`"),
                        ));
                    }
                    Ok(spec(
                        name,
                        Form::Global {
                            version,
                            prefix: prefix.clone(),
                        },
                    ))
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_and_versions() {
        assert_eq!(parse_package("n").unwrap(), ("n".into(), None));
        assert_eq!(
            parse_package("npm@6.14.0").unwrap(),
            ("npm".into(), Some("6.14.0".into()))
        );
        assert_eq!(
            parse_package("@vue/cli@5.0.8").unwrap(),
            ("@vue/cli".into(), Some("5.0.8".into()))
        );
        assert_eq!(parse_package("@vue/cli").unwrap().1, None);
        for bad in [
            "", "N", "a b", "x@^1.2", "x@latest", "a/b", "@a", ".x", "x;rm", "x@",
        ] {
            assert!(parse_package(bad).is_err(), "{bad}");
        }
        assert_eq!(check_key("/srv/app"), Ok("/srv/app".into()));
        assert_eq!(check_key("pm2@5.3.1"), Ok("pm2".into()));
        assert!(check_key("srv/app").is_err());
    }

    fn seen(root: Option<&str>, v: &str) -> GlobalSeen {
        GlobalSeen {
            root: root.map(str::to_string),
            version: v.into(),
        }
    }

    #[test]
    fn global_packages_are_planned_from_their_version() {
        let root = Some("/usr/local/lib/node_modules");
        let v = Some("6.14.0".to_string());
        let p = |v: &Option<String>, pr, s: &GlobalSeen| {
            plan_global("npm", v, pr, s).map(|p| (p.action, p.details, p.work))
        };
        assert_eq!(p(&v, Presence::Present, &seen(root, "6.14.0")), None);
        assert_eq!(p(&None, Presence::Present, &seen(root, "9.0.0")), None);
        assert_eq!(
            p(&v, Presence::Present, &seen(root, "9.0.0")),
            Some((
                Action::Update,
                vec!["npm 9.0.0 → 6.14.0".into()],
                NpmOp::Global { install: true }
            ))
        );
        assert_eq!(
            p(&v, Presence::Present, &seen(None, "")).map(|p| p.1),
            Some(vec!["+ npm@6.14.0".into()])
        );
        assert_eq!(p(&None, Presence::Absent, &seen(None, "")), None);
        assert_eq!(
            p(&None, Presence::Absent, &seen(root, "9.0.0")).map(|p| p.2),
            Some(NpmOp::Global { install: false })
        );
    }

    fn global(prefix: Option<&str>, executable: &str) -> NpmSpec {
        NpmSpec {
            key: "npm".into(),
            presence: Presence::Present,
            form: Form::Global {
                version: Some("6.14.0".into()),
                prefix: prefix.map(str::to_string),
            },
            user: None,
            executable: executable.into(),
        }
    }

    #[test]
    fn global_installs_go_where_the_probe_looks() {
        assert_eq!(
            roots(&Some("/opt/node/".into())),
            vec!["/opt/node/lib/node_modules"]
        );
        assert_eq!(roots(&None).len(), 2);
        let s = global(Some("/opt/node"), "/opt/node/bin/npm");
        let f = apply_fragment(4, &s, &NpmOp::Global { install: true });
        assert!(
            f.contains("set -- install -g --prefix /opt/node --no-audit --no-fund npm@6.14.0\n"),
            "{f}"
        );
        assert!(
            f.contains("play_as '' env PATH=/opt/node/bin:\"$PATH\" /opt/node/bin/npm \"$@\""),
            "{f}"
        );
        let f = apply_fragment(4, &global(None, "npm"), &NpmOp::Global { install: false });
        assert!(f.contains("set -- uninstall -g npm\n"), "{f}");
        assert!(f.contains("play_as '' npm \"$@\""), "{f}");
    }

    /// The probe's version reading, run by a real `sh` on package.json files.
    #[test]
    fn the_probe_reads_the_version_with_the_shell() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("lib/node_modules");
        for (name, json) in [
            ("a", "{\n  \"name\": \"a\",\n  \"engines\": {\"node\": \">=8\"},\n  \"version\": \"1.2.3\",\n  \"x\": {\"version\": \"9\"}\n}\n"),
            ("b", "{\"name\":\"b\",\"version\":\"4.5.6-rc.1\",\"deps\":{}}"),
        ] {
            std::fs::create_dir_all(root.join(name)).unwrap();
            std::fs::write(root.join(name).join("package.json"), json).unwrap();
        }
        let prefix = Some(dir.path().display().to_string());
        let run = |name: &str| {
            let out = std::process::Command::new("sh")
                .args(["-c", &global_fragment(name, &prefix)])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).replace('\0', "|")
        };
        let r = root.display();
        assert_eq!(run("a"), format!("npmg|a|{r}|1.2.3|"));
        assert_eq!(run("b"), format!("npmg|b|{r}|4.5.6-rc.1|"));
        assert_eq!(run("c"), "npmg|c|-||");
    }
}
