//! `bundle:` — a Ruby project's gems installed by Bundler (Ansible's
//! `community.general.bundler` with its default `state: present`).
//!
//! ```yaml
//! - bundle: /srv/app/current          # a folder with a Gemfile (the key: Ansible's `chdir`)
//!   path: /srv/app/shared/bundle      # where the gems go (Bundler's `path`: `--path`)
//!   exclude_groups: [development, test]  # --without development:test
//!   deployment_mode: true             # --deployment (a frozen Gemfile.lock, gems in vendor/bundle)
//!   binstub_directory: bin            # --binstubs bin
//!   gemfile: Gemfile.ci               # another Gemfile (its lock: Gemfile.ci.lock)
//!   local: true                       # --local (only gems already cached on the host)
//!   clean: true                       # --clean
//!   user: app
//!   executable: /home/app/.rvm/wrappers/default/bundle   # or a name on PATH (default `bundle`)
//!   login: true                       # run it in the user's login shell (`bash -lc`: rbenv, rvm)
//! ```
//!
//! Planned from the folder `.bundle`, the state file `.bundle/.play-bundle` and the sha256 of
//! the lock (`resources::project_deps`): `bundle install` runs when `.bundle` is missing, the
//! lock or the options changed since play's last install, or the project's folder (or its
//! Gemfile) changes earlier in the run. The probe reads files only (no ruby).

use super::deploy::{Planned, Refused};
use super::project_deps::{self, Layout};
use super::registry::Key;
use super::Presence;
use crate::resolve::{Base, Keys, ResolveError};
use crate::transport::shell_quote;

/// A project's `.bundle` folder (Bundler's local config lives there) and play's state file.
pub const LAYOUT: Layout = Layout {
    tag: "bundle",
    installed: ".bundle",
    locks: &["Gemfile.lock", "gems.locked", "Gemfile", "gems.rb"],
    state_file: ".play-bundle",
};

/// One `bundle:` project, rendered for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleSpec {
    pub path: String,
    /// `--gemfile` (relative to the project, or absolute).
    pub gemfile: Option<String>,
    pub deployment_mode: bool,
    pub exclude_groups: Vec<String>,
    /// Bundler's `path`: where the gems are installed.
    pub gem_path: Option<String>,
    pub binstub_directory: Option<String>,
    pub local: bool,
    pub clean: bool,
    pub user: Option<String>,
    /// The bundle to run (default `bundle`).
    pub executable: String,
    /// Run through the user's login shell (`bash -lc`).
    pub login: bool,
}

impl BundleSpec {
    /// `bundle install`'s options, one word each (recorded: other options install again).
    pub fn arg_words(&self) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        if let Some(g) = &self.gemfile {
            a.extend(["--gemfile".into(), g.clone()]);
        }
        if self.deployment_mode {
            a.push("--deployment".into());
        }
        if !self.exclude_groups.is_empty() {
            a.extend(["--without".into(), self.exclude_groups.join(":")]);
        }
        if let Some(p) = &self.gem_path {
            a.extend(["--path".into(), p.clone()]);
        }
        if let Some(b) = &self.binstub_directory {
            a.extend(["--binstubs".into(), b.clone()]);
        }
        if self.local {
            a.push("--local".into());
        }
        if self.clean {
            a.push("--clean".into());
        }
        a
    }

    /// The options as recorded in the state file.
    pub fn args(&self) -> String {
        self.arg_words().join(" ")
    }

    /// The lock files: the Gemfile's lock (`gems.rb` → `gems.locked`, else `NAME.lock`), then
    /// the Gemfile itself; Bundler's default names without `gemfile`.
    pub fn locks(&self) -> Vec<String> {
        let dir = self.path.trim_end_matches('/');
        match &self.gemfile {
            None => LAYOUT.lock_paths(dir),
            Some(g) => {
                let g = if g.starts_with('/') {
                    g.clone()
                } else {
                    format!("{dir}/{g}")
                };
                let lock = match g.strip_suffix("gems.rb") {
                    Some(d) if d.is_empty() || d.ends_with('/') => format!("{d}gems.locked"),
                    _ => format!("{g}.lock"),
                };
                vec![lock, g]
            }
        }
    }

    /// The shell words running bundle as its user (see [`super::ruby::command`]).
    pub fn command(&self) -> String {
        super::ruby::command(self.user.as_deref(), &self.executable, self.login)
    }
}

/// The apply step of one project.
pub fn apply_fragment(index: usize, spec: &BundleSpec, op: &project_deps::Op) -> String {
    let words: Vec<String> = spec.arg_words().iter().map(|w| shell_quote(w)).collect();
    let run = format!(
        "{} install{}{}",
        spec.command(),
        if words.is_empty() { "" } else { " " },
        words.join(" ")
    );
    project_deps::apply_fragment_locks(
        index,
        &format!("bundle {}", spec.path),
        (&LAYOUT, &spec.path, &spec.locks()),
        spec.user.as_deref(),
        op,
        (&run, &spec.args()),
    )
}

impl super::Spec for BundleSpec {
    type Work = project_deps::Op;
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        p.add_fragment(project_deps::probe_fragment_locks(
            &LAYOUT,
            &self.path,
            &self.locks(),
        ));
    }
    fn plan_work(
        &self,
        observed: &super::Observed,
        changed: &[&str],
    ) -> Result<Option<Planned<Self::Work>>, Refused> {
        let seen = project_deps::seen(&LAYOUT, observed, &self.path)
            .ok_or_else(|| super::deploy::not_probed("the Ruby project"))?;
        project_deps::plan_locks(
            &LAYOUT,
            (&self.path, &self.locks()),
            Presence::Present,
            &self.args(),
            &seen,
            changed,
        )
    }
    project_deps::project_spec_methods!("bundle");
    const DEF: &'static super::registry::KindDef = &DEF;
    fn has_nul(&self) -> bool {
        let mut all = vec![
            Some(self.path.as_str()),
            Some(self.executable.as_str()),
            self.user.as_deref(),
            self.gemfile.as_deref(),
            self.gem_path.as_deref(),
            self.binstub_directory.as_deref(),
        ];
        all.extend(self.exclude_groups.iter().map(|g| Some(g.as_str())));
        super::any_nul(&all)
    }
}

/// The registry line of `bundle:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Bundle,
    name: "bundle",
    keys: &[
        Key::Text("gemfile"),
        Key::Any("deployment_mode"),
        Key::Any("exclude_groups"),
        Key::Text("path"),
        Key::Text("binstub_directory"),
        Key::Any("local"),
        Key::Any("clean"),
        Key::Text("user"),
        Key::Text("executable"),
        Key::Any("login"),
    ],
    // the project's folder is another resource's (a checkout, a release): bundle owns its
    // `.bundle` (`owned_paths`)
    is_path: false,
    watchable: true,
    docs_section: "`bundle: PATH` — a Ruby project's gems (Bundler)",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key: super::registry::path_key,
    render: super::registry::Render::Fn(from_entry),
    check_value: super::registry::any_value,
    records: &[super::registry::Record {
        tag: "bundle",
        fields: 4,
        per_host: false,
    }],
    check_entry: super::registry::any_entry,
};

/// A group name Bundler takes (`--without a:b` splits at `:` and spaces).
fn check_group(g: &str) -> Result<(), String> {
    if g.is_empty() || g.contains([':', ' ', '\t', '\n']) {
        return Err(format!(
            "exclude_groups: `{g}` is not a group name (one name per item, without `:` or spaces)"
        ));
    }
    Ok(())
}

/// The spec of a `bundle:` entry, its errors located at their keys (the registry line's
/// `render`).
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, state, .. } = b;
    match state.as_deref() {
        None | Some("present") => {}
        Some(s) => {
            return Err(k.fail(
                "state",
                format!("state: `{s}`: a `bundle:` is present (its gems installed): remove the entry, or its gems folder with a `directory:` of `state: absent`"),
            ))
        }
    }
    let user = k.string("user")?;
    if let Some(u) = &user {
        super::accounts::check_name("user", u).map_err(|m| k.fail("user", m))?;
    }
    let executable = k.string("executable")?.unwrap_or_else(|| "bundle".into());
    if executable.trim().is_empty() {
        return Err(k.fail("executable", "executable: an empty command".into()));
    }
    let exclude_groups = k.list("exclude_groups")?.unwrap_or_default();
    for g in &exclude_groups {
        check_group(g).map_err(|m| k.fail("exclude_groups", m))?;
    }
    let text = |key: &str| -> Result<Option<String>, ResolveError> {
        match k.string(key)? {
            Some(v) if v.trim().is_empty() => Err(k.fail(key, format!("{key}: an empty path"))),
            v => Ok(v),
        }
    };
    Ok(super::Desired::Bundle(BundleSpec {
        path: key.trim_end_matches('/').to_string(),
        gemfile: text("gemfile")?,
        deployment_mode: k.boolean("deployment_mode")?.unwrap_or(false),
        exclude_groups,
        gem_path: text("path")?,
        binstub_directory: text("binstub_directory")?,
        local: k.boolean("local")?.unwrap_or(false),
        clean: k.boolean("clean")?.unwrap_or(false),
        user,
        executable,
        login: k.boolean("login")?.unwrap_or(false),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> BundleSpec {
        BundleSpec {
            path: "/srv/app".into(),
            gemfile: None,
            deployment_mode: false,
            exclude_groups: vec![],
            gem_path: None,
            binstub_directory: None,
            local: false,
            clean: false,
            user: None,
            executable: "bundle".into(),
            login: false,
        }
    }

    #[test]
    fn options_are_bundler_flags_in_one_order() {
        let mut s = spec();
        assert_eq!(s.args(), "");
        s.exclude_groups = vec!["development".into(), "test".into()];
        s.gem_path = Some("/srv/shared/my bundle".into());
        s.deployment_mode = true;
        s.binstub_directory = Some("bin".into());
        s.clean = true;
        assert_eq!(
            s.args(),
            "--deployment --without development:test --path /srv/shared/my bundle --binstubs bin --clean"
        );
        let f = apply_fragment(4, &s, &project_deps::Op::Install);
        assert!(
            f.contains("(cd /srv/app && umask 022 && play_as '' bundle install --deployment --without development:test --path '/srv/shared/my bundle' --binstubs bin --clean && { [ -d .bundle ] || play_as '' mkdir -- .bundle; }) </dev/null 1>&2 || play_fail 4"),
            "{f}"
        );
        assert!(f.contains("play_enter /srv/app/.bundle "), "{f}");
    }

    #[test]
    fn the_executable_runs_with_its_folder_first_or_in_a_login_shell() {
        let mut s = spec();
        s.user = Some("deploy".into());
        s.executable = "/home/deploy/.rvm/wrappers/default/bundle".into();
        assert_eq!(
            s.command(),
            "play_as deploy env PATH=/home/deploy/.rvm/wrappers/default:\"$PATH\" /home/deploy/.rvm/wrappers/default/bundle"
        );
        s.executable = "bundle".into();
        s.login = true;
        assert_eq!(
            s.command(),
            "play_as deploy bash -lc 'exec \"$0\" \"$@\"' bundle"
        );
    }

    #[test]
    fn a_gemfile_names_its_own_lock() {
        let mut s = spec();
        assert_eq!(
            s.locks(),
            [
                "/srv/app/Gemfile.lock",
                "/srv/app/gems.locked",
                "/srv/app/Gemfile",
                "/srv/app/gems.rb"
            ]
        );
        s.gemfile = Some("Gemfile.ci".into());
        assert_eq!(
            s.locks(),
            ["/srv/app/Gemfile.ci.lock", "/srv/app/Gemfile.ci"]
        );
        s.gemfile = Some("/etc/app/gems.rb".into());
        assert_eq!(s.locks(), ["/etc/app/gems.locked", "/etc/app/gems.rb"]);
        assert!(check_group("a:b").is_err());
        assert!(check_group("test").is_ok());
    }
}
