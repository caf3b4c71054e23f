//! `gem: NAME` — a Ruby gem (Ansible's `community.general.gem`).
//!
//! ```yaml
//! - gem: bundler
//!   version: "~> 2.3"         # a RubyGems requirement (`2.3.15`, `>= 1.2, < 3`; default: any
//!                             # installed version will do)
//!   user_install: false       # --user-install (the user's ~/.local/share/gem, ~/.gem)
//!   include_dependencies: true   # false: --ignore-dependencies
//!   install_dir: /opt/gems    # --install-dir
//!   gem_source: /tmp/x-1.0.gem   # a local .gem file to install from (--local)
//!   executable: /home/app/.rvm/wrappers/default/gem   # default `gem`
//!   user: app
//! ```
//!
//! The probe runs no ruby: it lists the gem folders' `specifications/NAME-VERSION*.gemspec`
//! (and `specifications/default/`, the gems that come with ruby, which `gem uninstall` cannot
//! remove). The folders: `install_dir`; else those of the executable's ruby — an rvm wrapper
//! `R/wrappers/W/gem` reads the `GEM_PATH` of `R/environments/W` (and `R/gems/W`,
//! `R/gems/W@global`), a `X/bin/gem` outside /usr the `X/lib/ruby/gems/*`, else Debian's
//! (`/var/lib/gems/*`, `/usr/lib/ruby/gems/*`, `/usr/share/rubygems-integration/*`,
//! `/usr/lib/*/rubygems-integration/*`, `/usr/local/lib/ruby/gems/*`) — and, with
//! `user_install`, the user's `~/.local/share/gem/ruby/*` and `~/.gem/ruby/*`.
//!
//! Probe record: `gem \0 NAME \0 VERSIONS \0 DEFAULTS \0`: the versions found (space
//! separated; a platform suffix dropped), and those of them that are default gems or Debian
//! packages' (`rubygems-integration`: dpkg's, removed with their `package:`).

use super::deploy::{set_args, Planned, Refused};
use super::registry::Key;
use super::ruby::Requirement;
use super::{Action, Presence};
use crate::resolve::{Base, Keys, ResolveError};
use crate::transport::shell_quote;

/// One `gem:` resource, rendered for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GemSpec {
    pub name: String,
    pub presence: Presence,
    /// `version:`: a RubyGems requirement (an exact version is one).
    pub version: Option<Requirement>,
    pub user_install: bool,
    pub include_dependencies: bool,
    pub install_dir: Option<String>,
    /// A local `.gem` file installed instead of the name from a gem server.
    pub gem_source: Option<String>,
    pub user: Option<String>,
    /// The gem to run (default `gem`).
    pub executable: String,
}

/// A gem name: letters, digits, `.`, `_`, `-` (not first).
pub fn check_gem_name(name: &str) -> Result<String, String> {
    let ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(name.to_string())
    } else {
        Err(format!(
            "gem `{name}`: a gem name (letters, digits, `.`, `_` and `-`)"
        ))
    }
}

/// A RubyGems requirement: `1.17.3`, `~> 2.0`, `>= 1.2, < 3`.
fn check_version(v: &str) -> Result<(), String> {
    Requirement::parse(v).map(|_| ()).map_err(|e| e.to_string())
}

/// What the probe saw of a gem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// Every version found.
    pub versions: Vec<String>,
    /// The default gems and Debian packages' among them (not `gem uninstall`'s to remove).
    pub defaults: Vec<String>,
}

/// Reads a record's fields after the key.
pub fn parse_seen(versions: &str, defaults: &str) -> Seen {
    let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    Seen {
        versions: words(versions),
        defaults: words(defaults),
    }
}

impl GemSpec {
    /// The gem folders the probe lists (shell words: fixed parts quoted, globs not, `~/` the
    /// user's home), and the rvm environment file whose `GEM_PATH` it reads (a shell word), if
    /// any.
    pub fn gem_dirs(&self) -> (Vec<String>, Option<String>) {
        let user = self.user.as_deref();
        let word = |p: &str| super::ruby::path_word(user, p);
        let glob = |fixed: &str| format!("{}/*", word(fixed));
        if let Some(d) = &self.install_dir {
            return (vec![shell_quote(d)], None);
        }
        let mut dirs = Vec::new();
        let mut env = None;
        let exe = self.executable.as_str();
        let rvm = exe
            .strip_suffix("/gem")
            .and_then(|w| w.rsplit_once("/wrappers/"))
            .filter(|(r, w)| !r.is_empty() && !w.is_empty() && !w.contains('/'));
        let prefix = exe.strip_suffix("/bin/gem").filter(|x| {
            (x.starts_with('/') || x.starts_with("~/")) && !matches!(*x, "/usr" | "/usr/local")
        });
        if let Some((root, wrapper)) = rvm {
            env = Some(word(&format!("{root}/environments/{wrapper}")));
            dirs.push(word(&format!("{root}/gems/{wrapper}")));
            dirs.push(word(&format!("{root}/gems/{wrapper}@global")));
        } else if let Some(x) = prefix {
            dirs.push(glob(&format!("{x}/lib/ruby/gems")));
        } else {
            dirs.extend(
                [
                    "/var/lib/gems/*",
                    "/usr/lib/ruby/gems/*",
                    "/usr/share/rubygems-integration/*",
                    "/usr/lib/*/rubygems-integration/*",
                    "/usr/local/lib/ruby/gems/*",
                ]
                .map(String::from),
            );
        }
        if self.user_install {
            // check_name: `[a-z_][a-z0-9_-]*`, safe unquoted after `~`
            let home = format!("~{}", self.user.as_deref().unwrap_or("root"));
            dirs.push(format!("{home}/.local/share/gem/ruby/*"));
            dirs.push(format!("{home}/.gem/ruby/*"));
        }
        (dirs, env)
    }

    fn seen(&self, observed: &super::Observed) -> Option<Seen> {
        match observed.deploy.record("gem", &self.name)? {
            [versions, defaults] => Some(parse_seen(versions, defaults)),
            _ => None,
        }
    }

    /// The shell words running gem as its user (see [`super::ruby::command`]).
    fn command(&self) -> String {
        super::ruby::command(self.user.as_deref(), &self.executable, false)
    }

    /// The arguments of each `gem` run `op` takes.
    pub fn arg_words(&self, op: &GemOp) -> Vec<Vec<String>> {
        let mut a: Vec<String> = Vec::new();
        match op {
            GemOp::Install => {
                a.extend(["install".into(), "--no-document".into()]);
                a.push(
                    if self.user_install {
                        "--user-install"
                    } else {
                        "--no-user-install"
                    }
                    .into(),
                );
                if let Some(d) = &self.install_dir {
                    a.extend(["--install-dir".into(), d.clone()]);
                }
                if !self.include_dependencies {
                    a.push("--ignore-dependencies".into());
                }
                if let Some(v) = &self.version {
                    a.extend(["--version".into(), v.text.clone()]);
                }
                match &self.gem_source {
                    Some(f) => a.extend(["--local".into(), f.clone()]),
                    None => a.push(self.name.clone()),
                }
            }
            GemOp::Remove(versions) => {
                a.extend(["uninstall".into(), "--executables".into()]);
                if self.user_install {
                    a.push("--user-install".into());
                }
                if let Some(d) = &self.install_dir {
                    a.extend(["--install-dir".into(), d.clone()]);
                }
                // every copy of the version (in each gem folder; gem asks which one otherwise)
                a.push("--all".into());
                if versions.is_empty() {
                    a.push(self.name.clone());
                    return vec![a];
                }
                // one run per version: gem 3.3 given `--all --version REQ` removes only the
                // first version matching REQ
                return versions
                    .iter()
                    .map(|v| {
                        let mut a = a.clone();
                        a.extend(["--version".into(), v.clone(), self.name.clone()]);
                        a
                    })
                    .collect();
            }
        }
        vec![a]
    }
}

/// The probe fragment of one gem (see the module's record).
pub fn probe_fragment(spec: &GemSpec) -> String {
    let (dirs, env) = spec.gem_dirs();
    let q = shell_quote(&spec.name);
    // play_gemv NAME GEM_PATH DIR…: the versions of NAME in each DIR and each folder of the
    // colon-separated GEM_PATH (builtins only: no ruby, no ls)
    let mut s = String::from(
        r#"play_gemv() {
  gn=$1 gp=$2; shift 2
  while [ -n "$gp" ]; do set -- "$@" "${gp%%:*}"; case $gp in *:*) gp=${gp#*:} ;; *) gp= ;; esac; done
  gv= gd=
  for d in "$@"; do
    for f in "$d"/specifications/"$gn"-*.gemspec "$d"/specifications/default/"$gn"-*.gemspec; do
      [ -f "$f" ] || continue
      v=${f##*/}; v=${v#"$gn"-}; v=${v%.gemspec}
      case $v in [0-9]*) ;; *) continue ;; esac
      gv="$gv ${v%%-*}"
      case $f in */specifications/default/*|*/rubygems-integration/*) gd="$gd ${v%%-*}" ;; esac
    done
  done
  printf '%s\0%s\0' "${gv# }" "${gd# }"
}
"#,
    );
    s.push_str(&format!("printf 'gem\\0%s\\0' {q}\ngp=\n"));
    if let Some(e) = env {
        s.push_str(&format!(
            r#"if [ -r {e} ]; then
  while IFS= read -r l || [ -n "$l" ]; do
    case $l in *GEM_PATH=*) gp=${{l#*GEM_PATH=}}; gp=${{gp#[\"\']}}; gp=${{gp%%[\"\']*}}; break ;; esac
  done < {e}
fi
"#,
        ));
    }
    s.push_str(&format!("play_gemv {q} \"$gp\" {}\n", dirs.join(" ")));
    s
}

/// What apply does to a gem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GemOp {
    Install,
    /// `gem uninstall` of these versions the probe found (none: of every version).
    Remove(Vec<String>),
}

/// Plans one gem from the versions the probe found.
pub fn plan(spec: &GemSpec, seen: &Seen) -> Option<Planned<GemOp>> {
    let name = &spec.name;
    let wanted = |x: &String| spec.version.as_ref().is_none_or(|r| r.matches(x));
    let (action, detail, work) = match spec.presence {
        Presence::Present if seen.versions.iter().any(wanted) => return None,
        Presence::Present => {
            let want = spec.version.as_ref().map_or("", |r| r.text.as_str());
            if seen.versions.is_empty() {
                (
                    Action::Create,
                    format!("+ {name} {want}").trim_end().to_string(),
                    GemOp::Install,
                )
            } else {
                (
                    Action::Update,
                    format!("{name} {} → {want}", seen.versions.join(", ")),
                    GemOp::Install,
                )
            }
        }
        Presence::Absent => {
            let mut removable: Vec<String> = Vec::new();
            for x in &seen.versions {
                if !seen.defaults.contains(x) && wanted(x) && !removable.contains(x) {
                    removable.push(x.clone());
                }
            }
            if removable.is_empty() {
                return None;
            }
            let detail = format!("- {name} {}", removable.join(", "));
            let op = match spec.version {
                Some(_) => GemOp::Remove(removable),
                None => GemOp::Remove(Vec::new()),
            };
            (Action::Delete, detail, op)
        }
    };
    Some(Planned {
        action,
        details: vec![detail],
        work,
    })
}

/// The apply step of one gem.
pub fn apply_fragment(index: usize, spec: &GemSpec, op: &GemOp) -> String {
    let i = index;
    let cmd = spec.command();
    let mut s = format!(
        "# gem {name}\nprintf '\\0play-step\\0%s\\0' {i} >&2\n",
        name = spec.name
    );
    for args in spec.arg_words(op) {
        s.push_str(&format!(
            "{args}\n(cd / && umask 022 && {cmd} \"$@\") </dev/null 1>&2 || play_fail {i}\n",
            args = set_args(&args),
        ));
    }
    s.push_str(&format!("play_ok {i}\n"));
    s
}

impl super::Spec for GemSpec {
    type Work = GemOp;
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        p.add_fragment(probe_fragment(self));
    }
    fn plan_work(
        &self,
        observed: &super::Observed,
        _changed: &[&str],
    ) -> Result<Option<Planned<Self::Work>>, Refused> {
        let seen = self
            .seen(observed)
            .ok_or_else(|| super::deploy::not_probed("the gem"))?;
        Ok(plan(self, &seen))
    }
    fn apply_fragment(
        &self,
        index: usize,
        work: Option<&Self::Work>,
        _last: bool,
    ) -> Option<Result<(String, Vec<u8>), String>> {
        work.map(|op| Ok((apply_fragment(index, self, op), Vec::new())))
    }
    fn reads(&self) -> Option<&str> {
        self.gem_source.as_deref()
    }
    fn depends(&self, observed: &super::Observed, out: &mut super::Prints) {
        if let Some(s) = self.seen(observed) {
            out.insert(format!("gem {}", self.name), format!("{s:?}"));
        }
    }
    fn accounts(&self) -> Vec<(super::accounts::Account, &str)> {
        super::accounts::pair(&self.user, &None)
    }
    const DEF: &'static super::registry::KindDef = &DEF;
    fn key(&self) -> &str {
        &self.name
    }
    fn has_nul(&self) -> bool {
        super::any_nul(&[
            Some(&self.executable),
            self.user.as_deref(),
            self.install_dir.as_deref(),
            self.gem_source.as_deref(),
        ])
    }
}

/// [`super::registry::KindDef::check_value`]: `gem` is a gem name.
fn check_value(key: &str, value: &str) -> Result<(), String> {
    match key {
        "gem" => check_gem_name(value).map(|_| ()),
        "version" => check_version(value),
        _ => Ok(()),
    }
}

/// The registry line of `gem:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Gem,
    name: "gem",
    keys: &[
        Key::Text("version"),
        Key::Any("user_install"),
        Key::Any("include_dependencies"),
        Key::Text("install_dir"),
        Key::Text("gem_source"),
        Key::Text("user"),
        Key::Text("executable"),
    ],
    is_path: false,
    watchable: true,
    docs_section: "`gem: NAME` — a Ruby gem",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key: check_gem_name,
    render: super::registry::Render::Fn(from_entry),
    check_value,
    records: &[super::registry::Record {
        tag: "gem",
        fields: 3,
        per_host: false,
    }],
    check_entry: super::registry::any_entry,
};

/// The spec of a `gem:` entry, its errors located at their keys (the registry line's
/// `render`).
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, state, .. } = b;
    if state.as_deref() == Some("latest") {
        return Err(k.fail(
            "state",
            "state: latest: play plans from what the probe reads on the host and asks no gem server: give a `version` (or `present`: any installed version)".into(),
        ));
    }
    let presence = k.presence(&state)?;
    let user = k.string("user")?;
    if let Some(u) = &user {
        super::accounts::check_name("user", u).map_err(|m| k.fail("user", m))?;
    }
    let executable = k.string("executable")?.unwrap_or_else(|| "gem".into());
    if executable.trim().is_empty() {
        return Err(k.fail("executable", "executable: an empty command".into()));
    }
    let version = k
        .string("version")?
        .map(|v| Requirement::parse(&v).map_err(|e| k.fail("version", e.to_string())))
        .transpose()?;
    let gem_source = k.path("gem_source")?;
    if gem_source.is_some() && presence == Presence::Absent {
        return Err(k.fail(
            "gem_source",
            "gem_source: a file to install from, with `state: absent`".into(),
        ));
    }
    Ok(super::Desired::Gem(GemSpec {
        name: key,
        presence,
        version,
        user_install: k.boolean("user_install")?.unwrap_or(false),
        include_dependencies: k.boolean("include_dependencies")?.unwrap_or(true),
        install_dir: k.path("install_dir")?,
        gem_source,
        user,
        executable,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(r: &str) -> Requirement {
        Requirement::parse(r).expect(r)
    }

    fn spec() -> GemSpec {
        GemSpec {
            name: "bundler".into(),
            presence: Presence::Present,
            version: None,
            user_install: false,
            include_dependencies: true,
            install_dir: None,
            gem_source: None,
            user: None,
            executable: "gem".into(),
        }
    }

    #[test]
    fn planned_from_the_versions_found() {
        let mut s = spec();
        let p = |s: &GemSpec, v: &str, d: &str| {
            plan(s, &parse_seen(v, d)).map(|p| (p.action, p.details, p.work))
        };
        assert_eq!(p(&s, "2.3.15", ""), None);
        assert_eq!(
            p(&s, "", ""),
            Some((Action::Create, vec!["+ bundler".into()], GemOp::Install))
        );
        s.version = Some(req("1.17.3"));
        assert_eq!(p(&s, "2.3.15 1.17.3", ""), None);
        assert_eq!(
            p(&s, "2.3.15", "2.3.15"),
            Some((
                Action::Update,
                vec!["bundler 2.3.15 → 1.17.3".into()],
                GemOp::Install
            ))
        );
        s.presence = Presence::Absent;
        assert_eq!(p(&s, "2.3.15", ""), None);
        assert_eq!(
            p(&s, "2.3.15 1.17.3", "2.3.15").map(|p| p.1),
            Some(vec!["- bundler 1.17.3".into()])
        );
        s.version = None;
        // a default gem comes with ruby (a Debian package's gem is dpkg's): not removed
        assert_eq!(p(&s, "2.3.15", "2.3.15"), None);
        assert_eq!(
            p(&s, "2.3.15 1.17.3", "2.3.15").map(|p| p.2),
            Some(GemOp::Remove(vec![]))
        );
    }

    /// A requirement: no change when an installed version satisfies it, else `gem install
    /// --version REQ` (RubyGems picks the highest matching); absent removes the matching ones.
    #[test]
    fn planned_from_a_requirement() {
        let mut s = spec();
        let p = |s: &GemSpec, v: &str| plan(s, &parse_seen(v, "")).map(|p| (p.action, p.details));
        s.version = Some(req("~> 2.0"));
        assert_eq!(p(&s, "1.17.3 2.9"), None);
        assert_eq!(
            p(&s, "3.0"),
            Some((Action::Update, vec!["bundler 3.0 → ~> 2.0".into()]))
        );
        s.version = Some(req("~> 2.0.1"));
        assert_eq!(p(&s, "2.0.9"), None);
        assert_eq!(p(&s, "2.1").map(|p| p.0), Some(Action::Update));
        s.version = Some(req(">= 1.5, < 2"));
        assert_eq!(p(&s, "1.0 2.0").map(|p| p.0), Some(Action::Update));
        assert_eq!(
            p(&s, ""),
            Some((Action::Create, vec!["+ bundler >= 1.5, < 2".into()]))
        );
        assert_eq!(p(&s, "1.5.0"), None);
        assert!(s.arg_words(&GemOp::Install)[0].ends_with(&[
            "--version".into(),
            ">= 1.5, < 2".into(),
            "bundler".into()
        ]));
        s.presence = Presence::Absent;
        assert_eq!(
            p(&s, "1.0 1.5 1.9.1 2.0"),
            Some((Action::Delete, vec!["- bundler 1.5, 1.9.1".into()]))
        );
        assert_eq!(p(&s, "1.0 2.0"), None);
        let remove = GemOp::Remove(vec!["1.5".into(), "1.9.1".into()]);
        assert_eq!(
            plan(&s, &parse_seen("1.0 1.5 1.9.1 2.0 1.5", "")).map(|p| p.work),
            Some(remove.clone())
        );
        assert_eq!(
            s.arg_words(&remove)
                .iter()
                .map(|a| a.join(" "))
                .collect::<Vec<_>>(),
            [
                "uninstall --executables --all --version 1.5 bundler",
                "uninstall --executables --all --version 1.9.1 bundler"
            ]
        );
    }

    #[test]
    fn arguments_follow_the_keys() {
        let mut s = spec();
        assert_eq!(
            s.arg_words(&GemOp::Install)[0].join(" "),
            "install --no-document --no-user-install bundler"
        );
        s.user_install = true;
        s.include_dependencies = false;
        s.version = Some(req("1.17.3"));
        s.install_dir = Some("/opt/gems".into());
        assert_eq!(
            s.arg_words(&GemOp::Install)[0].join(" "),
            "install --no-document --user-install --install-dir /opt/gems --ignore-dependencies --version 1.17.3 bundler"
        );
        assert_eq!(
            s.arg_words(&GemOp::Remove(vec!["1.17.3".into()]))[0].join(" "),
            "uninstall --executables --user-install --install-dir /opt/gems --all --version 1.17.3 bundler"
        );
        s.gem_source = Some("/tmp/b.gem".into());
        assert!(s.arg_words(&GemOp::Install)[0].ends_with(&["--local".into(), "/tmp/b.gem".into()]));
        let f = apply_fragment(2, &s, &GemOp::Install);
        assert!(
            f.contains(
                "(cd / && umask 022 && play_as '' gem \"$@\") </dev/null 1>&2 || play_fail 2\n"
            ),
            "{f}"
        );
    }

    #[test]
    fn gem_folders_follow_the_executable() {
        let mut s = spec();
        let (dirs, env) = s.gem_dirs();
        assert!(dirs.contains(&"/var/lib/gems/*".to_string()), "{dirs:?}");
        assert_eq!(env, None);
        s.executable = "/home/deploy/.rvm/wrappers/ruby-2.6.5/gem".into();
        s.user_install = true;
        s.user = Some("deploy".into());
        let (dirs, env) = s.gem_dirs();
        assert_eq!(
            env.as_deref(),
            Some("/home/deploy/.rvm/environments/ruby-2.6.5")
        );
        assert_eq!(
            dirs,
            [
                "/home/deploy/.rvm/gems/ruby-2.6.5",
                "/home/deploy/.rvm/gems/ruby-2.6.5@global",
                "~deploy/.local/share/gem/ruby/*",
                "~deploy/.gem/ruby/*"
            ]
        );
        s.executable = "~/.rvm/wrappers/default/gem".into();
        s.user_install = false;
        assert_eq!(
            s.gem_dirs(),
            (
                vec![
                    "~deploy/.rvm/gems/default".to_string(),
                    "~deploy/.rvm/gems/default@global".to_string()
                ],
                Some("~deploy/.rvm/environments/default".to_string())
            )
        );
        s.executable = "/home/deploy/.rbenv/versions/3.1.2/bin/gem".into();
        s.user_install = false;
        assert_eq!(
            s.gem_dirs().0,
            ["/home/deploy/.rbenv/versions/3.1.2/lib/ruby/gems/*"]
        );
        s.install_dir = Some("/opt/my gems".into());
        assert_eq!(s.gem_dirs().0, ["'/opt/my gems'"]);
        assert!(check_gem_name("rack-test").is_ok());
        assert!(check_gem_name("-x").is_err());
        assert!(check_gem_name("a b").is_err());
        assert!(check_version(">= 1.0, < 2").is_ok());
        assert!(check_version(">> 1.0").is_err());
    }
}
