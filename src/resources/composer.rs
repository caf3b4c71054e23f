//! `composer:` — a PHP project's dependencies (Ansible's `composer` with its default
//! `command: install`).
//!
//! ```yaml
//! - composer: /srv/site/current  # a folder with composer.json
//!   no_dev: true                 # --no-dev (the default, as Ansible's)
//!   no_scripts: false            # --no-scripts
//!   optimize_autoloader: true    # --optimize-autoloader (the default, as Ansible's)
//!   classmap_authoritative: false # --classmap-authoritative
//!   user: web
//! ```
//!
//! Planned from `vendor/`, the state file `vendor/.play-composer` and the sha256 of
//! `composer.lock` (`resources::project_deps`): `composer install --no-interaction` when
//! `vendor/` is missing, the lock or the options changed.

use super::deploy::{Planned, Refused};
use super::project_deps::{self, Layout};
use super::registry::Key;
use super::Presence;
use crate::resolve::{Base, Keys, ResolveError};
use crate::transport::shell_quote;

/// A project's `vendor` and its state file.
pub const LAYOUT: Layout = Layout {
    tag: "composer",
    installed: "vendor",
    locks: &["composer.lock", "composer.json"],
    state_file: ".play-composer",
};

/// One `composer:` project, rendered for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposerSpec {
    pub path: String,
    pub presence: Presence,
    pub no_dev: bool,
    pub no_scripts: bool,
    pub optimize_autoloader: bool,
    pub classmap_authoritative: bool,
    pub user: Option<String>,
    /// The composer to run (default `composer`).
    pub executable: String,
}

impl ComposerSpec {
    /// `composer install`'s options (recorded: other options install again).
    pub fn args(&self) -> String {
        [
            (self.no_dev, "--no-dev"),
            (self.no_scripts, "--no-scripts"),
            (self.optimize_autoloader, "--optimize-autoloader"),
            (self.classmap_authoritative, "--classmap-authoritative"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, f)| *f)
        .collect::<Vec<_>>()
        .join(" ")
    }
}

/// The apply step of one project.
pub fn apply_fragment(index: usize, spec: &ComposerSpec, op: &project_deps::Op) -> String {
    let args = spec.args();
    let run = format!(
        "play_as {} {} install --no-interaction --no-progress{}",
        shell_quote(spec.user.as_deref().unwrap_or_default()),
        shell_quote(&spec.executable),
        if args.is_empty() {
            String::new()
        } else {
            format!(" {args}")
        }
    );
    project_deps::apply_fragment(
        index,
        &format!("composer {}", spec.path),
        &LAYOUT,
        &spec.path,
        spec.user.as_deref(),
        op,
        (&run, &args),
    )
}

impl super::Spec for ComposerSpec {
    type Work = project_deps::Op;
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        p.add_fragment(project_deps::probe_fragment(&LAYOUT, &self.path));
    }
    fn plan_work(
        &self,
        observed: &super::Observed,
        changed: &[&str],
    ) -> Result<Option<Planned<Self::Work>>, Refused> {
        let seen = project_deps::seen(&LAYOUT, observed, &self.path)
            .ok_or_else(|| super::deploy::not_probed("the composer project"))?;
        project_deps::plan(
            &LAYOUT,
            &self.path,
            self.presence,
            &self.args(),
            &seen,
            changed,
        )
    }
    project_deps::project_spec_methods!("composer");
    const DEF: &'static super::registry::KindDef = &DEF;
    fn has_nul(&self) -> bool {
        super::any_nul(&[
            Some(&self.path),
            Some(&self.executable),
            self.user.as_deref(),
        ])
    }
}

/// The registry line of `composer:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Composer,
    name: "composer",
    keys: &[
        Key::Any("no_dev"),
        Key::Any("no_scripts"),
        Key::Any("optimize_autoloader"),
        Key::Any("classmap_authoritative"),
        Key::Text("user"),
        Key::Text("executable"),
    ],
    // the project's folder is another resource's (a checkout, a release): composer owns its
    // vendor (`owned_paths`)
    is_path: false,
    watchable: true,
    docs_section: "`composer: PATH` — a PHP project's dependencies",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key: super::registry::path_key,
    render: super::registry::Render::Fn(from_entry),
    check_value: super::registry::any_value,
    records: &[super::registry::Record {
        tag: "composer",
        fields: 4,
        per_host: false,
    }],
    check_entry: super::registry::any_entry,
};

/// The spec of a `composer:` entry, its errors located at their keys (the registry line's
/// `render`).
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, state, .. } = b;
    let user = k.string("user")?;
    if let Some(u) = &user {
        super::accounts::check_name("user", u).map_err(|m| k.fail("user", m))?;
    }
    let executable = k.string("executable")?.unwrap_or_else(|| "composer".into());
    if executable.trim().is_empty() {
        return Err(k.fail("executable", "executable: an empty command".into()));
    }
    Ok(super::Desired::Composer(ComposerSpec {
        path: key.trim_end_matches('/').to_string(),
        presence: k.presence(&state)?,
        no_dev: k.boolean("no_dev")?.unwrap_or(true),
        no_scripts: k.boolean("no_scripts")?.unwrap_or(false),
        optimize_autoloader: k.boolean("optimize_autoloader")?.unwrap_or(true),
        classmap_authoritative: k.boolean("classmap_authoritative")?.unwrap_or(false),
        user,
        executable,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ComposerSpec {
        ComposerSpec {
            path: "/srv/site".into(),
            presence: Presence::Present,
            no_dev: true,
            no_scripts: false,
            optimize_autoloader: true,
            classmap_authoritative: false,
            user: Some("web".into()),
            executable: "composer".into(),
        }
    }

    #[test]
    fn options_are_composer_flags() {
        let mut s = spec();
        assert_eq!(s.args(), "--no-dev --optimize-autoloader");
        s.no_dev = false;
        s.no_scripts = true;
        s.classmap_authoritative = true;
        assert_eq!(
            s.args(),
            "--no-scripts --optimize-autoloader --classmap-authoritative"
        );
        let f = apply_fragment(1, &s, &project_deps::Op::Install);
        assert!(
            f.contains("play_as web composer install --no-interaction --no-progress --no-scripts --optimize-autoloader --classmap-authoritative &&"),
            "{f}"
        );
        assert!(
            f.contains(
                "\"$rs\" '--no-scripts --optimize-autoloader --classmap-authoritative' > \"$t\""
            ),
            "{f}"
        );
    }
}
