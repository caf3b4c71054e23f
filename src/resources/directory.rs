//! `directory:` resources: planning is a pure function of the spec and what the probe saw.
//!
//! | want \ have | missing | directory | file / link / other |
//! |---|---|---|---|
//! | present | Create | Attrs / none | error |
//! | absent  | none   | Delete (empty, or `force`: recursive) | error |
//!
//! With `absent`, a folder whose emptiness the probe did not report (`empty: None`) is planned as
//! a plain delete: `rmdir` refuses a non-empty folder at apply time, so nothing is lost.

use super::registry::Key;
use super::tree::is_under;
use super::{
    attr_details, mode_str, Action, Attrs, Change, Kind, ModeRule, PathKind, PathState, PlanError,
    Presence,
};
use crate::transport::shell_quote;

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
    /// `recurse: true`: the owner and group of `attrs` and this mode (per type, see
    /// [`ModeRule`]) for everything below the folder too.
    pub recurse: Option<Tree>,
}

/// What `recurse: true` asks of the paths below a folder (its owner and group are `attrs`').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    pub mode: Option<ModeRule>,
}

/// The probe record of a recursive folder: `dtree KEY FOUND`, FOUND one letter per path below
/// that differs (`u` owner, `g` group, `m` mode) then `/` and `find`'s exit status.
const TREE_RECORD: &str = "dtree";

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
            recurse: None,
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
        expect: None,
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

/// What `recurse` finds below the folder, for the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Below {
    /// Not recursive, or nothing below differs.
    Same,
    /// How many paths below differ in owner, group and mode.
    Differ {
        owner: usize,
        group: usize,
        mode: usize,
    },
    /// Not known before the change: why (an earlier step of this run writes below the
    /// folder, `find` could not read all of it, the probe did not report it).
    Unknown(String),
}

/// The `dtree` record's field as [`Below`].
pub fn below_from_record(found: Option<&str>) -> Below {
    let Some(found) = found else {
        return Below::Unknown("the probe did not report the paths below".into());
    };
    let (letters, status) = found.rsplit_once('/').unwrap_or((found, "?"));
    if status != "0" {
        return Below::Unknown(format!(
            "not all paths below could be read, or the owner or group is not on the host yet \
             (find exit {status})"
        ));
    }
    let count = |c: char| letters.chars().filter(|l| *l == c).count();
    match (count('u'), count('g'), count('m')) {
        (0, 0, 0) => Below::Same,
        (owner, group, mode) => Below::Differ { owner, group, mode },
    }
}

fn paths(n: usize) -> String {
    if n == 1 {
        "1 path".into()
    } else {
        format!("{n} paths")
    }
}

/// The details of what changes below a recursive folder.
fn below_details(spec: &DirectorySpec, below: &Below) -> Vec<String> {
    let Some(tree) = &spec.recurse else {
        return Vec::new();
    };
    let p = &spec.path;
    match below {
        Below::Same => Vec::new(),
        Below::Unknown(why) => vec![format!("below {p}: {why}; set again")],
        Below::Differ { owner, group, mode } => {
            let mut d = Vec::new();
            if let (Some(o), n @ 1..) = (&spec.attrs.owner, *owner) {
                d.push(format!("owner of {} below {p} → {o}", paths(n)));
            }
            if let (Some(g), n @ 1..) = (&spec.attrs.group, *group) {
                d.push(format!("group of {} below {p} → {g}", paths(n)));
            }
            if let (Some(m), n @ 1..) = (&tree.mode, *mode) {
                d.push(format!("mode of {} below {p} → {}", paths(n), rule_text(m)));
            }
            d
        }
    }
}

/// `0755`, or `folders 0755, files 0644 (0755 when executable)`.
fn rule_text(m: &ModeRule) -> String {
    match m.as_uniform() {
        Some(v) => mode_str(v),
        None => {
            let mut files: Vec<u32> = m.by_x.to_vec();
            files.dedup();
            let files = match files.as_slice() {
                [a, b] if m.by_x[0] == *a => {
                    format!("{} ({} when executable)", mode_str(*a), mode_str(*b))
                }
                _ => files
                    .iter()
                    .map(|v| mode_str(*v))
                    .collect::<Vec<_>>()
                    .join("/"),
            };
            format!("folders {}, files {files}", mode_str(m.folder))
        }
    }
}

/// Plans one directory. `Change::index` and `Change::sensitive` are filled by the caller.
/// `below`: what `recurse` found below it ([`Below::Same`] when not recursive).
pub fn plan(
    spec: &DirectorySpec,
    have: &PathState,
    below: &Below,
) -> Result<Option<Change>, PlanError> {
    if let Some(child) = &spec.parent_of {
        return plan_parent(spec, child, have);
    }
    match (spec.presence, &have.kind) {
        (Presence::Present, PathKind::Missing) => {
            Ok(Some(change(spec, Action::Create, Vec::new())))
        }
        (Presence::Present, PathKind::Directory { .. }) => {
            let mut details = attr_details(&spec.attrs, have);
            details.extend(below_details(spec, below));
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
    type Work = ();
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
    fn sets_below(&self) -> bool {
        self.recurse.is_some() && self.presence == Presence::Present
    }
    fn shown(&self, _sensitive: bool) -> Vec<String> {
        let a = &self.attrs;
        let line = |mode: Option<String>| -> String {
            [
                a.owner.as_ref().map(|o| format!("owner {o}")),
                a.group.as_ref().map(|g| format!("group {g}")),
                mode.map(|m| format!("mode {m}")),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ")
        };
        let mut out: Vec<String> = vec![line(a.mode.map(mode_str))];
        if let Some(tree) = self.recurse.as_ref().filter(|_| self.sets_below()) {
            out.push(format!(
                "below it (recurse): {}",
                line(tree.mode.as_ref().map(rule_text))
            ));
        }
        out.retain(|l| !l.is_empty());
        out
    }
    fn below(&self) -> Option<(&Attrs, Option<ModeRule>)> {
        let tree = self.recurse.as_ref().filter(|_| self.sets_below())?;
        Some((&self.attrs, tree.mode))
    }
    fn path_attrs(&self) -> Option<(&Attrs, Option<bool>)> {
        (self.presence == Presence::Present && self.parent_of.is_none())
            .then_some((&self.attrs, Some(true)))
    }
    fn plan_path(
        &self,
        observed: &super::Observed,
        changed: &[&str],
    ) -> Option<Result<Option<Change>, PlanError>> {
        let below = match &self.recurse {
            None => Below::Same,
            Some(_) => match changed.iter().find(|k| is_under(k, &self.path)) {
                Some(k) => Below::Unknown(format!("known after the change of {k}")),
                None => below_from_record(
                    observed
                        .deploy
                        .record(TREE_RECORD, &self.path)
                        .and_then(|f| f.first())
                        .map(String::as_str),
                ),
            },
        };
        Some(plan(self, &observed.path(&self.path), &below))
    }
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        if let Some(fragment) = probe_fragment(self) {
            p.add_fragment(fragment);
        }
    }
    fn change_step(&self, change: &Change, _expect: &str) -> Option<(String, Vec<u8>)> {
        let i = change.index;
        let mut lines = match change.action {
            Action::Create => crate::apply::folder(i, &self.path, &self.attrs),
            Action::Update | Action::Attrs => {
                crate::apply::folder_attrs(i, &self.path, &self.attrs)
            }
            Action::Delete => {
                let cmd = if self.force { "rm -rf" } else { "rmdir" };
                crate::apply::removal(i, &self.path, cmd)
            }
        };
        if let (Some(tree), Action::Create | Action::Attrs | Action::Update) =
            (&self.recurse, change.action)
        {
            let chown = (self.attrs.owner.as_deref(), self.attrs.group.as_deref());
            lines.push_str(&crate::apply::folder_tree(
                i,
                &self.path,
                chown,
                tree.mode.map(|m| (mode_predicate(&m), m)),
            ));
        }
        Some((lines, Vec::new()))
    }
}

/// `find` tests true for a folder or regular file whose mode is not what `m` gives it (links
/// have no mode of their own; other types keep theirs).
fn mode_predicate(m: &ModeRule) -> String {
    let folder = format!("\\( -type d ! -perm {} \\)", mode_str(m.folder));
    let files = match m.as_uniform() {
        Some(v) => format!("\\( -type f ! -perm {} \\)", mode_str(v)),
        None => {
            let mut by = Vec::new();
            for (i, want) in m.by_x.iter().enumerate() {
                let bits: Vec<String> = [(4, "0100"), (2, "0010"), (1, "0001")]
                    .iter()
                    .map(|(b, perm)| {
                        if i & b != 0 {
                            format!("-perm -{perm}")
                        } else {
                            format!("! -perm /{perm}")
                        }
                    })
                    .collect();
                by.push(format!(
                    "\\( {} ! -perm {} \\)",
                    bits.join(" "),
                    mode_str(*want)
                ));
            }
            format!("\\( -type f \\( {} \\) \\)", by.join(" -o "))
        }
    };
    format!("\\( {folder} -o {files} \\)")
}

/// The probe fragment of a recursive folder: ONE `find` over the tree below it (not
/// following links, `-P`), printing a letter per attribute that differs (`u`, `g`, `m`), then
/// its exit status; nothing is listed. `None` when not recursive or nothing is managed.
pub fn probe_fragment(spec: &DirectorySpec) -> Option<String> {
    let tree = spec.recurse.as_ref()?;
    if spec.presence != Presence::Present || spec.parent_of.is_some() {
        return None;
    }
    let mut tests = Vec::new();
    if let Some(o) = &spec.attrs.owner {
        tests.push(format!("\\( ! -user {} -printf u \\)", shell_quote(o)));
    }
    if let Some(g) = &spec.attrs.group {
        tests.push(format!("\\( ! -group {} -printf g \\)", shell_quote(g)));
    }
    if let Some(m) = &tree.mode {
        tests.push(format!("\\( {} -printf m \\)", mode_predicate(m)));
    }
    if tests.is_empty() {
        return None;
    }
    let q = shell_quote(&spec.path);
    Some(format!(
        "printf '{TREE_RECORD}\\0%s\\0' {q}\nif [ -d {q} ] && ! [ -L {q} ]; then \
         s=$(find -P {q} -ignore_readdir_race -mindepth 1 {} 2>/dev/null; printf '/%s' \"$?\"); else s=/0; fi\n\
         printf '%s\\0' \"$s\"\n",
        tests.join(" , ")
    ))
}

/// The spec of a `directory:` entry (its registry line's `render`).
pub fn from_entry(
    k: &crate::resolve::Keys,
    b: crate::resolve::Base,
) -> Result<super::Desired, crate::resolve::ResolveError> {
    let rule = k.take_mode_rule();
    let recurse = k.boolean("recurse")?.unwrap_or(false);
    let mut attrs = b.attrs;
    if let Some(r) = &rule {
        attrs.mode = Some(r.folder);
    }
    // Nothing to set below without an owner, group or mode.
    let managed = attrs.owner.is_some() || attrs.group.is_some() || attrs.mode.is_some();
    let recurse = (recurse && managed).then(|| Tree {
        mode: rule.or(attrs.mode.map(ModeRule::uniform)),
    });
    Ok(super::Desired::Directory(DirectorySpec {
        path: b.key,
        presence: k.presence(&b.state)?,
        attrs,
        force: crate::resolve::path_force(k)?,
        parent_of: None,
        recurse,
    }))
}

/// The registry line of `directory:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Directory,
    name: "directory",
    keys: &[
        Key::Text("owner"),
        Key::Text("group"),
        Key::Any("mode"),
        Key::Any("force"),
        Key::Any("recurse"),
    ],
    is_path: true,
    watchable: true,
    docs_section: "`directory: PATH`",
    plug: super::registry::Plug::Path,
    first_probe: super::registry::FirstProbe::Path { emptiness: true },
    check_key: super::registry::path_key,
    render: super::registry::Render::Fn(from_entry),
    check_value: super::registry::any_value,
    records: &[super::registry::Record {
        tag: TREE_RECORD,
        fields: 2,
        per_host: false,
    }],
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
            recurse: None,
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
            &Below::Same,
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
        let c = plan(&s, &dir(Some(false), 0o40755, "root"), &Below::Same)
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
        assert_eq!(
            plan(&s, &dir(None, 0o750, "deploy"), &Below::Same).unwrap(),
            None
        );
        let s = spec(Presence::Present, false, Attrs::default());
        assert_eq!(
            plan(&s, &dir(None, 0o700, "nobody"), &Below::Same).unwrap(),
            None
        );
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
            let e = plan(&s, &other(kind), &Below::Same).unwrap_err();
            assert_eq!(e.kind, Kind::Directory);
            assert!(e.message.contains(word), "{e}");
            assert!(e.message.contains("not a directory"), "{e}");
        }
    }

    #[test]
    fn absent_missing_is_no_change() {
        let s = spec(Presence::Absent, false, Attrs::default());
        assert_eq!(plan(&s, &PathState::missing(), &Below::Same).unwrap(), None);
    }

    #[test]
    fn absent_empty_directory_is_deleted() {
        let s = spec(Presence::Absent, false, Attrs::default());
        let c = plan(&s, &dir(Some(true), 0o755, "root"), &Below::Same)
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Delete);
        assert!(c.details.is_empty());
        // Unknown emptiness: rmdir decides at apply time.
        let c = plan(&s, &dir(None, 0o755, "root"), &Below::Same)
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Delete);
        assert!(c.details.is_empty());
    }

    #[test]
    fn absent_non_empty_directory_needs_force() {
        let s = spec(Presence::Absent, false, Attrs::default());
        let e = plan(&s, &dir(Some(false), 0o755, "root"), &Below::Same).unwrap_err();
        assert!(e.message.contains("not empty; use force: true"), "{e}");
        let s = spec(Presence::Absent, true, Attrs::default());
        let c = plan(&s, &dir(Some(false), 0o755, "root"), &Below::Same)
            .unwrap()
            .unwrap();
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
            let e = plan(&s, &other(kind), &Below::Same).unwrap_err();
            assert!(e.message.contains("not a directory"), "{e}");
        }
    }

    #[test]
    fn what_is_below_a_recursive_folder_is_read_from_its_record() {
        assert_eq!(below_from_record(Some("/0")), Below::Same);
        assert_eq!(
            below_from_record(Some("uumgu/0")),
            Below::Differ {
                owner: 3,
                group: 1,
                mode: 1
            }
        );
        assert!(
            matches!(below_from_record(Some("u/1")), Below::Unknown(w) if w.contains("find exit 1"))
        );
        assert!(matches!(below_from_record(None), Below::Unknown(_)));
    }

    #[test]
    fn a_recursive_folder_plans_what_differs_below_it() {
        let mut s = spec(Presence::Present, false, managed());
        s.recurse = Some(Tree {
            mode: Some(ModeRule::uniform(0o750)),
        });
        let have = dir(Some(false), 0o750, "deploy");
        assert_eq!(plan(&s, &have, &Below::Same).unwrap(), None);
        let below = Below::Differ {
            owner: 2,
            group: 5,
            mode: 1,
        };
        let c = plan(&s, &have, &below).unwrap().unwrap();
        assert_eq!(c.action, Action::Attrs);
        // The group is not managed: not said even though the probe counted some.
        assert_eq!(
            c.details,
            vec![
                "owner of 2 paths below /srv/app → deploy".to_string(),
                "mode of 1 path below /srv/app → 0750".to_string()
            ]
        );
        let c = plan(&s, &have, &Below::Unknown("why".into()))
            .unwrap()
            .unwrap();
        assert_eq!(
            c.details,
            vec!["below /srv/app: why; set again".to_string()]
        );
        // Not recursive: what is below does not count.
        s.recurse = None;
        assert_eq!(plan(&s, &have, &below).unwrap(), None);
    }

    #[test]
    fn the_probe_asks_one_find_per_recursive_folder() {
        let mut s = spec(Presence::Present, false, managed());
        assert_eq!(probe_fragment(&s), None);
        s.recurse = Some(Tree {
            mode: Some(ModeRule::parse("u=rwX,g=rX,o=").unwrap()),
        });
        let f = probe_fragment(&s).unwrap();
        assert_eq!(f.matches("find ").count(), 1, "{f}");
        assert!(f.contains("! -user deploy -printf u"), "{f}");
        assert!(f.contains("\\( -type d ! -perm 0750 \\)"), "{f}");
        assert!(!f.contains("-group"), "{f}");
        s.presence = Presence::Absent;
        assert_eq!(probe_fragment(&s), None);
    }

    #[test]
    fn check_show_says_what_a_recursive_folder_sets_below_it() {
        let mut s = spec(Presence::Present, false, managed());
        assert_eq!(
            super::super::Spec::shown(&s, false),
            vec!["owner deploy, mode 0750"]
        );
        s.recurse = Some(Tree {
            mode: Some(ModeRule::parse("u=rwX,g=rX,o=").unwrap()),
        });
        assert_eq!(
            super::super::Spec::shown(&s, false),
            vec![
                "owner deploy, mode 0750",
                "below it (recurse): owner deploy, mode folders 0750, files 0640 (0750 when executable)"
            ]
        );
    }
}
