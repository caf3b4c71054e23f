//! `directory:` resources: planning is a pure function of the spec and what the probe saw.
//!
//! | want \ have | missing | directory | file / link / other |
//! |---|---|---|---|
//! | present | Create | Attrs / none | error |
//! | absent  | none   | Delete (empty, or `force`: recursive) | error |
//!
//! With `absent`, a folder whose emptiness the probe did not report (`empty: None`) is planned as
//! a plain delete: `rmdir` refuses a non-empty folder at apply time, so nothing is lost.

use super::{attr_details, Action, Attrs, Change, Kind, PathKind, PathState, PlanError, Presence};

/// `directory:` — a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectorySpec {
    pub path: String,
    pub presence: Presence,
    pub attrs: Attrs,
    /// With `Absent`: remove even when not empty.
    pub force: bool,
    /// Not declared: a missing parent of this path, added by [`super::tree::with_parents`]
    /// (created when missing, left alone when present).
    pub parent_of: Option<String>,
}

impl super::Desired {
    /// A folder `path` no one declared, the missing parent of `of`
    /// ([`super::tree::with_parents`]): created root-owned 0755 when missing, left alone when
    /// present.
    pub fn missing_parent(path: String, of: &str) -> super::Desired {
        super::Desired::Directory(DirectorySpec {
            path,
            presence: Presence::Present,
            attrs: Attrs::default(),
            force: false,
            parent_of: Some(of.to_string()),
        })
    }
}

fn error(spec: &DirectorySpec, message: impl Into<String>) -> PlanError {
    PlanError {
        kind: Kind::Directory,
        key: spec.path.clone(),
        message: message.into(),
    }
}

fn change(spec: &DirectorySpec, action: Action, details: Vec<String>) -> Change {
    Change {
        kind: Kind::Directory,
        key: spec.path.clone(),
        action,
        details,
        content: None,
        sensitive: false,
        index: 0,
        after: None,
        files: Default::default(),
        restarts: Vec::new(),
        // Only an `Attrs` change has attribute details (a parent's are its own lines).
        attrs: action == Action::Attrs,
    }
}

fn not_a_directory(spec: &DirectorySpec, have: &PathKind) -> PlanError {
    let what = match have {
        PathKind::File { .. } => "a regular file".to_string(),
        PathKind::Link { target } => format!("a symbolic link (→ {target})"),
        PathKind::Other(what) => format!("a {what}"),
        PathKind::Missing | PathKind::Directory { .. } => "something else".to_string(),
    };
    error(spec, format!("{what} stands there, not a directory"))
}

/// Plans one directory. `Change::index` and `Change::sensitive` are filled by the caller.
pub fn plan(spec: &DirectorySpec, have: &PathState) -> Result<Option<Change>, PlanError> {
    if let Some(child) = &spec.parent_of {
        return plan_parent(spec, child, have);
    }
    match (spec.presence, &have.kind) {
        (Presence::Present, PathKind::Missing) => {
            Ok(Some(change(spec, Action::Create, Vec::new())))
        }
        (Presence::Present, PathKind::Directory { .. }) => {
            let details = attr_details(&spec.attrs, have);
            if details.is_empty() {
                Ok(None)
            } else {
                Ok(Some(change(spec, Action::Attrs, details)))
            }
        }
        (Presence::Absent, PathKind::Missing) => Ok(None),
        (Presence::Absent, PathKind::Directory { empty }) => match (empty, spec.force) {
            (Some(false), false) => Err(error(
                spec,
                "not empty; use force: true to delete it with its contents",
            )),
            (_, true) => Ok(Some(change(
                spec,
                Action::Delete,
                vec!["recursive".to_string()],
            ))),
            (_, false) => Ok(Some(change(spec, Action::Delete, Vec::new()))),
        },
        (_, kind) => Err(not_a_directory(spec, kind)),
    }
}

/// A parent folder no one declared: created (root-owned 0755) when missing, otherwise left as
/// it is. A symbolic link on the way is followed only when root owns it (as `/var/run`): a link
/// another user owns could be pointed anywhere between the plan and the apply.
fn plan_parent(
    spec: &DirectorySpec,
    child: &str,
    have: &PathState,
) -> Result<Option<Change>, PlanError> {
    match &have.kind {
        PathKind::Missing => Ok(Some(change(
            spec,
            Action::Create,
            vec![format!("parent of {child}")],
        ))),
        PathKind::Directory { .. } => Ok(None),
        PathKind::Link { .. } if have.owner == "root" => Ok(None),
        PathKind::Link { target } => Err(error(
            spec,
            format!(
                "is a symbolic link (→ {target}) owned by {} on the way to {child}; play does \
                 not follow links another user controls (declare the real folder instead)",
                have.owner
            ),
        )),
        kind => Err(error(
            spec,
            format!(
                "{} stands where the folder of {child} must be",
                match kind {
                    PathKind::File { .. } => "a file".to_string(),
                    PathKind::Other(what) => format!("a {what}"),
                    _ => "something else".to_string(),
                }
            ),
        )),
    }
}

impl super::Spec for DirectorySpec {
    fn accounts(&self) -> Vec<(super::accounts::Account, &str)> {
        super::accounts::pair(&self.attrs.owner, &self.attrs.group)
    }
    const DEF: &'static super::registry::KindDef = &DEF;
    fn key(&self) -> &str {
        &self.path
    }
    fn has_nul(&self) -> bool {
        self.path.contains('\0') || self.attrs.has_nul()
    }
    fn written(&self) -> Option<&str> {
        (self.presence == Presence::Present).then_some(self.path.as_str())
    }
    fn made_folder(&self) -> Option<&str> {
        (self.presence == Presence::Present).then_some(self.path.as_str())
    }
    fn parent_of(&self) -> Option<&str> {
        self.parent_of.as_deref()
    }
    fn plan_path(&self, observed: &super::Observed) -> Option<Result<Option<Change>, PlanError>> {
        Some(plan(self, &observed.path(&self.path)))
    }
    fn change_step(&self, change: &Change, _expect: &str) -> Option<(String, Vec<u8>)> {
        let i = change.index;
        let lines = match change.action {
            Action::Create => crate::apply::folder(i, &self.path, &self.attrs),
            Action::Update | Action::Attrs => {
                crate::apply::folder_attrs(i, &self.path, &self.attrs)
            }
            Action::Delete => {
                let cmd = if self.force { "rm -rf" } else { "rmdir" };
                crate::apply::removal(i, &self.path, cmd)
            }
        };
        Some((lines, Vec::new()))
    }
}

/// The spec of a `directory:` entry (its registry line's `render`).
pub fn from_entry(
    k: &crate::resolve::Keys,
    b: crate::resolve::Base,
) -> Result<super::Desired, crate::resolve::ResolveError> {
    Ok(super::Desired::Directory(DirectorySpec {
        path: b.key,
        presence: k.presence(&b.state)?,
        attrs: b.attrs,
        force: crate::resolve::path_force(k)?,
        parent_of: None,
    }))
}

/// The registry line of `directory:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Directory,
    name: "directory",
    keys: &["owner", "group", "mode", "force"],
    is_path: true,
    watchable: true,
    docs_section: "`directory: PATH`",
    plug: super::registry::Plug::Path,
    first_probe: super::registry::FirstProbe::Path { emptiness: true },
    check_key: super::registry::path_key,
    render: super::registry::Render::Fn(from_entry),
    check_value: super::registry::any_value,
    records: &[],
    check_entry: super::registry::any_entry,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Attrs;

    fn spec(presence: Presence, force: bool, attrs: Attrs) -> DirectorySpec {
        DirectorySpec {
            path: "/srv/app".into(),
            presence,
            attrs,
            force,
            parent_of: None,
        }
    }

    fn dir(empty: Option<bool>, mode: u32, owner: &str) -> PathState {
        PathState {
            kind: PathKind::Directory { empty },
            mode,
            owner: owner.into(),
            group: "root".into(),
        }
    }

    fn other(kind: PathKind) -> PathState {
        PathState {
            kind,
            mode: 0o644,
            owner: "root".into(),
            group: "root".into(),
        }
    }

    fn managed() -> Attrs {
        Attrs {
            owner: Some("deploy".into()),
            group: None,
            mode: Some(0o750),
        }
    }

    #[test]
    fn missing_directory_is_created() {
        let c = plan(
            &spec(Presence::Present, false, managed()),
            &PathState::missing(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.action, Action::Create);
        assert_eq!(c.kind, Kind::Directory);
        assert_eq!(c.key, "/srv/app");
        assert!(c.details.is_empty());
        assert_eq!(c.content, None);
    }

    #[test]
    fn existing_directory_gets_attrs_only() {
        let s = spec(Presence::Present, false, managed());
        let c = plan(&s, &dir(Some(false), 0o40755, "root"))
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Attrs);
        assert_eq!(
            c.details,
            vec![
                "owner root → deploy".to_string(),
                "mode 0755 → 0750".to_string()
            ]
        );
        assert_eq!(plan(&s, &dir(None, 0o750, "deploy")).unwrap(), None);
        let s = spec(Presence::Present, false, Attrs::default());
        assert_eq!(plan(&s, &dir(None, 0o700, "nobody")).unwrap(), None);
    }

    #[test]
    fn present_over_other_types_is_an_error() {
        let s = spec(Presence::Present, true, Attrs::default());
        let cases = [
            (
                PathKind::File {
                    size: 1,
                    sha256: None,
                },
                "regular file",
            ),
            (
                PathKind::Link {
                    target: "/tmp".into(),
                },
                "symbolic link (→ /tmp)",
            ),
            (PathKind::Other("socket".into()), "socket"),
        ];
        for (kind, word) in cases {
            let e = plan(&s, &other(kind)).unwrap_err();
            assert_eq!(e.kind, Kind::Directory);
            assert!(e.message.contains(word), "{e}");
            assert!(e.message.contains("not a directory"), "{e}");
        }
    }

    #[test]
    fn absent_missing_is_no_change() {
        let s = spec(Presence::Absent, false, Attrs::default());
        assert_eq!(plan(&s, &PathState::missing()).unwrap(), None);
    }

    #[test]
    fn absent_empty_directory_is_deleted() {
        let s = spec(Presence::Absent, false, Attrs::default());
        let c = plan(&s, &dir(Some(true), 0o755, "root")).unwrap().unwrap();
        assert_eq!(c.action, Action::Delete);
        assert!(c.details.is_empty());
        // Unknown emptiness: rmdir decides at apply time.
        let c = plan(&s, &dir(None, 0o755, "root")).unwrap().unwrap();
        assert_eq!(c.action, Action::Delete);
        assert!(c.details.is_empty());
    }

    #[test]
    fn absent_non_empty_directory_needs_force() {
        let s = spec(Presence::Absent, false, Attrs::default());
        let e = plan(&s, &dir(Some(false), 0o755, "root")).unwrap_err();
        assert!(e.message.contains("not empty; use force: true"), "{e}");
        let s = spec(Presence::Absent, true, Attrs::default());
        let c = plan(&s, &dir(Some(false), 0o755, "root")).unwrap().unwrap();
        assert_eq!(c.action, Action::Delete);
        assert_eq!(c.details, vec!["recursive".to_string()]);
    }

    #[test]
    fn absent_over_other_types_is_an_error() {
        let s = spec(Presence::Absent, true, Attrs::default());
        for kind in [
            PathKind::File {
                size: 0,
                sha256: None,
            },
            PathKind::Link {
                target: "/x".into(),
            },
            PathKind::Other("fifo".into()),
        ] {
            let e = plan(&s, &other(kind)).unwrap_err();
            assert!(e.message.contains("not a directory"), "{e}");
        }
    }
}
