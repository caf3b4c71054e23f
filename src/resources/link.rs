//! `link:` resources (symbolic links): planning is a pure function of the spec and what the
//! probe saw.
//!
//! | want \ have | missing | link | regular file | directory | other |
//! |---|---|---|---|---|---|
//! | present | Create | Update (other target) / Attrs / none | `force`: Update | empty + `force`, or `replace_folder`: Update | error |
//! | absent  | none   | Delete | error | error | error |
//!
//! Only owner and group apply to a link (`chown -h`); a link's mode means nothing on Linux and is
//! ignored.

use super::registry::Key;
use super::{attr_details, Action, Attrs, Change, Kind, PathKind, PathState, PlanError, Presence};

/// `link:` — a symbolic link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSpec {
    pub path: String,
    pub presence: Presence,
    pub target: String,
    pub attrs: Attrs,
    /// Replace a regular file (or an empty folder) standing at `path`.
    pub force: bool,
    /// Replace a folder standing at `path`, with what it holds (Ansible's `file: state=absent`
    /// of the folder before its `state: link`).
    pub replace_folder: bool,
}

fn error(spec: &LinkSpec, message: impl Into<String>) -> PlanError {
    PlanError {
        kind: Kind::Link,
        key: spec.path.clone(),
        message: message.into(),
    }
}

fn change(spec: &LinkSpec, action: Action, details: Vec<String>) -> Change {
    Change {
        kind: Kind::Link,
        key: spec.path.clone(),
        action,
        details,
        content: None,
        sensitive: false,
        index: 0,
        after: None,
        expect: None,
        files: Default::default(),
        restarts: Vec::new(),
        attrs: action == Action::Attrs,
    }
}

/// Owner and group differences (a link's mode is ignored).
fn link_attr_details(spec: &LinkSpec, have: &PathState) -> Vec<String> {
    let want = Attrs {
        mode: None,
        ..spec.attrs.clone()
    };
    attr_details(&want, have)
}

/// Plans one link. `Change::index` and `Change::sensitive` are filled by the caller.
pub fn plan(spec: &LinkSpec, have: &PathState) -> Result<Option<Change>, PlanError> {
    match spec.presence {
        Presence::Present => plan_present(spec, have),
        Presence::Absent => match &have.kind {
            PathKind::Missing => Ok(None),
            PathKind::Link { .. } => Ok(Some(change(spec, Action::Delete, Vec::new()))),
            PathKind::File { .. } => Err(error(spec, "a regular file stands there, not a link")),
            PathKind::Directory { .. } => Err(error(spec, "a directory stands there, not a link")),
            PathKind::Other(what) => Err(error(spec, format!("a {what} stands there, not a link"))),
        },
    }
}

fn plan_present(spec: &LinkSpec, have: &PathState) -> Result<Option<Change>, PlanError> {
    let new = &spec.target;
    match &have.kind {
        PathKind::Missing => Ok(Some(change(spec, Action::Create, vec![format!("→ {new}")]))),
        PathKind::Link { target } if target == new => {
            let details = link_attr_details(spec, have);
            if details.is_empty() {
                Ok(None)
            } else {
                Ok(Some(change(spec, Action::Attrs, details)))
            }
        }
        PathKind::Link { target } => {
            let mut details = vec![format!("target {target} → {new}")];
            let attrs = link_attr_details(spec, have);
            let also = !attrs.is_empty();
            details.extend(attrs);
            let mut c = change(spec, Action::Update, details);
            c.attrs = also;
            Ok(Some(c))
        }
        PathKind::File { .. } if spec.force => Ok(Some(change(
            spec,
            Action::Update,
            vec!["replace file with link".to_string(), format!("→ {new}")],
        ))),
        PathKind::File { .. } => Err(error(
            spec,
            "a regular file stands there; use force: true to replace it with the link",
        )),
        PathKind::Directory { .. } if spec.replace_folder => Ok(Some(change(
            spec,
            Action::Update,
            vec![
                "replace directory (and what it holds) with link".to_string(),
                format!("→ {new}"),
            ],
        ))),
        PathKind::Directory { empty: Some(false) } => Err(error(
            spec,
            "a non-empty directory stands there; a link will not replace it (replace_folder: true removes it)",
        )),
        // Unknown emptiness with force: `rmdir` refuses a non-empty folder at apply time.
        PathKind::Directory { .. } if spec.force => Ok(Some(change(
            spec,
            Action::Update,
            vec![
                "replace empty directory with link".to_string(),
                format!("→ {new}"),
            ],
        ))),
        PathKind::Directory { .. } => Err(error(
            spec,
            "a directory stands there; use force: true to replace it (when empty) with the link",
        )),
        PathKind::Other(what) => Err(error(
            spec,
            format!("a {what} stands there; a link will not replace it"),
        )),
    }
}

impl super::Spec for LinkSpec {
    type Work = ();
    fn accounts(&self) -> Vec<(super::accounts::Account, &str)> {
        super::accounts::pair(&self.attrs.owner, &self.attrs.group)
    }
    fn path_attrs(&self) -> Option<(&super::Attrs, Option<bool>)> {
        (self.presence == super::Presence::Present).then_some((&self.attrs, None))
    }
    const DEF: &'static super::registry::KindDef = &DEF;
    fn key(&self) -> &str {
        &self.path
    }
    fn has_nul(&self) -> bool {
        super::any_nul(&[Some(&self.path), Some(&self.target)]) || self.attrs.has_nul()
    }
    fn written(&self) -> Option<&str> {
        (self.presence == Presence::Present).then_some(self.path.as_str())
    }
    fn plan_path(
        &self,
        observed: &super::Observed,
        _changed: &[&str],
    ) -> Option<Result<Option<Change>, PlanError>> {
        Some(plan(self, &observed.path(&self.path)))
    }
    fn change_step(&self, change: &Change, _expect: &str) -> Option<(String, Vec<u8>)> {
        let i = change.index;
        let lines = match change.action {
            Action::Create | Action::Update => {
                let over = match (self.replace_folder, self.force) {
                    (true, _) => crate::apply::Over::Folder,
                    (false, true) => crate::apply::Over::EmptyFolder,
                    (false, false) => crate::apply::Over::Nothing,
                };
                crate::apply::symlink(i, &self.path, &self.target, &self.attrs, over)
            }
            Action::Attrs => crate::apply::link_owner(i, &self.path, &self.attrs),
            Action::Delete => crate::apply::removal(i, &self.path, "rm -f"),
        };
        Some((lines, Vec::new()))
    }
}

/// The spec of a `link:` entry (its registry line's `render`).
pub fn from_entry(
    k: &crate::resolve::Keys,
    b: crate::resolve::Base,
) -> Result<super::Desired, crate::resolve::ResolveError> {
    let presence = k.presence(&b.state)?;
    let force = crate::resolve::path_force(k)?;
    Ok(super::Desired::Link(LinkSpec {
        path: b.key,
        presence,
        target: k.string("target")?.unwrap_or_default(),
        attrs: b.attrs,
        force,
        replace_folder: k.boolean("replace_folder")?.unwrap_or(false),
    }))
}

/// A present link needs `target` (its registry line's `check_entry`).
fn check_entry(entry: &crate::playbook::RawResource) -> Result<(), String> {
    if !entry.has("target") && entry.state.as_deref() != Some("absent") {
        return Err("a link needs `target`".into());
    }
    Ok(())
}

/// The registry line of `link:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Link,
    name: "link",
    keys: &[
        Key::Text("target"),
        Key::Text("owner"),
        Key::Text("group"),
        Key::Any("mode"),
        Key::Any("force"),
        Key::Any("replace_folder"),
    ],
    is_path: true,
    watchable: true,
    docs_section: "`link: PATH`",
    plug: super::registry::Plug::Path,
    first_probe: super::registry::FirstProbe::Path { emptiness: true },
    check_key: super::registry::path_key,
    render: super::registry::Render::Fn(from_entry),
    check_value: super::registry::any_value,
    records: &[],
    check_entry,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(presence: Presence, force: bool) -> LinkSpec {
        LinkSpec {
            path: "/usr/local/bin/app".into(),
            presence,
            target: "/opt/app/bin/app".into(),
            attrs: Attrs::default(),
            force,
            replace_folder: false,
        }
    }

    fn at(kind: PathKind) -> PathState {
        PathState {
            kind,
            mode: 0o777,
            owner: "root".into(),
            group: "root".into(),
        }
    }

    fn link(target: &str) -> PathKind {
        PathKind::Link {
            target: target.into(),
        }
    }

    fn file() -> PathKind {
        PathKind::File {
            size: 3,
            sha256: None,
        }
    }

    #[test]
    fn missing_link_is_created() {
        let c = plan(&spec(Presence::Present, false), &PathState::missing())
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Create);
        assert_eq!(c.kind, Kind::Link);
        assert_eq!(c.key, "/usr/local/bin/app");
        assert_eq!(c.details, vec!["→ /opt/app/bin/app".to_string()]);
        assert_eq!(c.content, None);
    }

    #[test]
    fn same_target_is_no_change_and_mode_is_ignored() {
        let mut s = spec(Presence::Present, false);
        s.attrs = Attrs {
            owner: Some("root".into()),
            group: Some("root".into()),
            mode: Some(0o600),
        };
        assert_eq!(plan(&s, &at(link("/opt/app/bin/app"))).unwrap(), None);
    }

    #[test]
    fn same_target_other_owner_is_attrs() {
        let mut s = spec(Presence::Present, false);
        s.attrs.owner = Some("deploy".into());
        s.attrs.mode = Some(0o600);
        let c = plan(&s, &at(link("/opt/app/bin/app"))).unwrap().unwrap();
        assert_eq!(c.action, Action::Attrs);
        assert_eq!(c.details, vec!["owner root → deploy".to_string()]);
    }

    #[test]
    fn other_target_is_an_update() {
        let mut s = spec(Presence::Present, false);
        let c = plan(&s, &at(link("/opt/old"))).unwrap().unwrap();
        assert_eq!(c.action, Action::Update);
        assert_eq!(
            c.details,
            vec!["target /opt/old → /opt/app/bin/app".to_string()]
        );
        s.attrs.group = Some("staff".into());
        let c = plan(&s, &at(link("/opt/old"))).unwrap().unwrap();
        assert_eq!(
            c.details,
            vec![
                "target /opt/old → /opt/app/bin/app".to_string(),
                "group root → staff".to_string()
            ]
        );
    }

    #[test]
    fn a_file_is_replaced_only_with_force() {
        let e = plan(&spec(Presence::Present, false), &at(file())).unwrap_err();
        assert_eq!(e.kind, Kind::Link);
        assert!(
            e.message
                .contains("a regular file stands there; use force: true"),
            "{e}"
        );
        let c = plan(&spec(Presence::Present, true), &at(file()))
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Update);
        assert_eq!(c.details[0], "replace file with link");
    }

    #[test]
    fn an_empty_directory_is_replaced_only_with_force() {
        let empty = at(PathKind::Directory { empty: Some(true) });
        let e = plan(&spec(Presence::Present, false), &empty).unwrap_err();
        assert!(e.message.contains("use force: true"), "{e}");
        let c = plan(&spec(Presence::Present, true), &empty)
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Update);
        assert_eq!(c.details[0], "replace empty directory with link");
        // Unknown emptiness with force: rmdir decides at apply time.
        let unknown = at(PathKind::Directory { empty: None });
        assert_eq!(
            plan(&spec(Presence::Present, true), &unknown)
                .unwrap()
                .unwrap()
                .action,
            Action::Update
        );
    }

    #[test]
    fn a_non_empty_directory_is_never_replaced() {
        let full = at(PathKind::Directory { empty: Some(false) });
        for force in [false, true] {
            let e = plan(&spec(Presence::Present, force), &full).unwrap_err();
            assert!(e.message.contains("non-empty directory"), "{e}");
        }
    }

    #[test]
    fn other_types_are_errors() {
        let e = plan(
            &spec(Presence::Present, true),
            &at(PathKind::Other("fifo".into())),
        )
        .unwrap_err();
        assert!(e.message.contains("fifo"), "{e}");
    }

    #[test]
    fn absent_link_is_deleted() {
        let c = plan(&spec(Presence::Absent, false), &at(link("/anything")))
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Delete);
        assert!(c.details.is_empty());
    }

    #[test]
    fn absent_missing_is_no_change() {
        assert_eq!(
            plan(&spec(Presence::Absent, false), &PathState::missing()).unwrap(),
            None
        );
    }

    #[test]
    fn absent_over_other_types_is_an_error() {
        for kind in [
            file(),
            PathKind::Directory { empty: Some(true) },
            PathKind::Other("socket".into()),
        ] {
            let e = plan(&spec(Presence::Absent, true), &at(kind)).unwrap_err();
            assert!(e.message.contains("not a link"), "{e}");
        }
    }

    /// The playbook refuses a present link without `target`, through the registry line.
    #[test]
    fn a_present_link_needs_a_target() {
        let entry = |yaml: &str| -> crate::playbook::RawResource {
            serde_yaml::from_str(yaml).expect("an entry")
        };
        let err = entry("link: /l").check().unwrap_err();
        assert_eq!(err, "a link needs `target`");
        assert_eq!(entry("link: /l\ntarget: /t").check(), Ok(()));
        assert_eq!(entry("link: /l\nstate: absent").check(), Ok(()));
    }

    /// A NUL byte (which `play check` reports) never reaches the apply script: the step fails.
    #[test]
    fn nul_bytes_never_reach_the_script() {
        let l = LinkSpec {
            target: "/t\0x".into(),
            ..spec(Presence::Present, false)
        };
        let mut c = plan(&l, &PathState::missing())
            .expect("plan")
            .expect("a change");
        c.index = 3;
        let r = crate::resources::Resource {
            desired: super::super::Desired::Link(l),
            origin: Default::default(),
            sensitive: false,
        };
        let (s, _) = crate::apply::script(&[(&c, &r)]);
        assert!(!s.contains('\0'));
        assert!(s.contains("NUL byte"), "{s}");
        assert!(s.contains("play_fail 3"), "{s}");
    }
}
