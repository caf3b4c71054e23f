//! `file:` resources: planning is a pure function of the spec and what the probe saw, as for
//! every whole file play writes ([`super::whole_file`]: its table). A symbolic link is never
//! silently replaced by a file: `FileSpec` has no `force`, so that is a plan error.
//!
//! `copy_of: SRC` (Ansible's `copy` with `remote_src`): the content is that of the host's file
//! SRC. The probe reads both paths' stat and sha256 in the host's one probe; the plan compares
//! the two sha256s (a source an earlier change of the run writes is "known after" it); the step
//! reads SRC inside its pinned folder without following a link (as it is when the step runs)
//! and writes the file like any other (private temp file, rename).

use super::deploy::short;
use super::registry::Key;
use super::{Action, Attrs, Change, Content, Kind, PathKind, PathState, PlanError, Presence};

/// `file:` — a regular file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    pub path: String,
    pub presence: Presence,
    /// `None` with `Present`: the file must exist, content unmanaged (created empty).
    pub content: Option<Content>,
    pub attrs: Attrs,
    /// A command run on new content (`%s`: its temp file) before it replaces the file.
    pub validate: Option<String>,
    /// The host's file whose content it has (`copy_of`; then `content` is `None`).
    pub copy_of: Option<String>,
    /// `force: false` (Ansible's `force: no` of `copy`/`template`): its content (or copy) is
    /// written only while the file is missing; a regular file there keeps its content, its
    /// owner, group and mode are still managed.
    pub keep: bool,
}

/// What a plan says of a file whose content `force: false` keeps.
pub const KEPT: &str = "content kept: exists, force: false";

/// Plans one file. `Change::index` and `Change::sensitive` are filled by the caller.
pub fn plan(spec: &FileSpec, have: &PathState) -> Result<Option<Change>, PlanError> {
    if kept(spec, have) {
        // its attributes alone, said to keep its content
        let attrs_only = super::whole_file::WholeFile {
            content: None,
            ..whole(spec)
        };
        return Ok(attrs_only.plan(have)?.map(|mut c| {
            c.details.push(KEPT.into());
            c
        }));
    }
    whole(spec).plan(have)
}

/// `force: false` and a regular file stands there: its content is not managed.
fn kept(spec: &FileSpec, have: &PathState) -> bool {
    spec.keep && spec.presence == Presence::Present && matches!(have.kind, PathKind::File { .. })
}

fn whole(spec: &FileSpec) -> super::whole_file::WholeFile<'_> {
    super::whole_file::WholeFile {
        kind: Kind::File,
        path: &spec.path,
        presence: spec.presence,
        content: spec.content.as_ref(),
        attrs: &spec.attrs,
    }
}

/// Plans a present file that is a copy of the host's file `src` from the state of both paths:
/// its content changes when their sha256s differ (the details say from where), its attributes
/// as any file's; a source missing now is copied when the step runs (an earlier step of the
/// run must make it: [`super::tree::mark_after`] says which).
pub fn plan_copy(
    spec: &FileSpec,
    src: &str,
    have: &PathState,
    source: &PathState,
) -> Result<Option<Change>, PlanError> {
    let base = plan(spec, have)?;
    if spec.presence == Presence::Absent || kept(spec, have) {
        return Ok(base);
    }
    let fail = |message: String| PlanError {
        kind: Kind::File,
        key: spec.path.clone(),
        message,
    };
    let want = match &source.kind {
        PathKind::File {
            sha256: Some(sum), ..
        } => Some(sum.as_str()),
        PathKind::File { sha256: None, .. } => {
            return Err(fail(format!(
                "copy_of {src}: the probe could not read it (permissions?)"
            )))
        }
        PathKind::Missing => None,
        PathKind::Link { target } => return Err(fail(format!(
            "copy_of {src}: a symbolic link (→ {target}); play copies a regular file, not through a link (name the file itself)"
        ))),
        PathKind::Directory { .. } => {
            return Err(fail(format!(
                "copy_of {src}: a folder; copy_of copies one file"
            )))
        }
        PathKind::Other(what) => {
            return Err(fail(format!(
                "copy_of {src}: a {what}; copy_of copies a regular file"
            )))
        }
    };
    let old = match &have.kind {
        PathKind::File { sha256, .. } => Some(sha256.as_deref()),
        _ => None,
    };
    let from = match (want, old) {
        (Some(w), Some(Some(o))) if w == o => return Ok(base),
        (Some(w), Some(o)) => format!(
            "from {src}: sha256 {} → {}",
            o.map(short).unwrap_or("unreadable"),
            short(w)
        ),
        (Some(_), None) => format!("from {src}"),
        (None, _) => {
            format!("from {src}, missing now (an earlier step must make it)")
        }
    };
    let mut c = base.unwrap_or_else(|| whole(spec).change(Action::Update, Vec::new(), None));
    if c.action == Action::Attrs {
        c.action = Action::Update;
    }
    c.details.insert(0, from);
    // the step replaces the file only if it is still what the probe saw (else: changed since
    // the plan, not overwritten), as a file whose content play has
    c.expect = Some(match old {
        None => "missing".into(),
        Some(Some(sum)) => sum.to_string(),
        Some(None) => "-".into(),
    });
    Ok(Some(c))
}

impl super::Spec for FileSpec {
    type Work = ();
    fn accounts(&self) -> Vec<(super::accounts::Account, &str)> {
        super::accounts::pair(&self.attrs.owner, &self.attrs.group)
    }
    fn path_attrs(&self) -> Option<(&super::Attrs, Option<bool>)> {
        (self.presence == super::Presence::Present).then_some((&self.attrs, Some(false)))
    }
    const DEF: &'static super::registry::KindDef = &DEF;
    fn key(&self) -> &str {
        &self.path
    }
    fn has_nul(&self) -> bool {
        self.path.contains('\0')
            || self.attrs.has_nul()
            || self.validate.as_deref().is_some_and(|v| v.contains('\0'))
            || self.copy_of.as_deref().is_some_and(|v| v.contains('\0'))
    }
    fn probe_paths(&self) -> Vec<String> {
        let mut out = vec![self.path.clone()];
        out.extend(self.copy_of.iter().cloned());
        out
    }
    fn reads(&self) -> Option<&str> {
        self.copy_of.as_deref()
    }
    fn written(&self) -> Option<&str> {
        (self.presence == Presence::Present).then_some(self.path.as_str())
    }
    fn plan_path(
        &self,
        observed: &super::Observed,
        _changed: &[&str],
    ) -> Option<Result<Option<Change>, PlanError>> {
        let have = observed.path(&self.path);
        Some(match &self.copy_of {
            Some(src) => plan_copy(self, src, &have, &observed.path(src)),
            None => plan(self, &have),
        })
    }
    fn change_step(&self, change: &Change, expect: &str) -> Option<(String, Vec<u8>)> {
        let i = change.index;
        if let (Some(src), Action::Create | Action::Update) = (&self.copy_of, change.action) {
            let (text, _) = crate::apply::copied_file(i, &self.path, &self.attrs, src, expect);
            return Some((text, Vec::new()));
        }
        let new = change.content.as_ref().map(|c| c.new.as_slice());
        let validate = self.validate.as_deref();
        Some(match change.action {
            Action::Create => {
                crate::apply::whole_file(i, &self.path, &self.attrs, new, expect, validate)
            }
            Action::Update if new.is_some() => {
                crate::apply::whole_file(i, &self.path, &self.attrs, new, expect, validate)
            }
            Action::Update | Action::Attrs => (
                crate::apply::attrs_only(i, &self.path, &self.attrs, expect),
                Vec::new(),
            ),
            Action::Delete => (crate::apply::removal(i, &self.path, "rm -f"), Vec::new()),
        })
    }
    fn shown(&self, sensitive: bool) -> Vec<String> {
        let a = &self.attrs;
        let attrs: Vec<String> = [
            a.owner.as_ref().map(|o| format!("owner {o}")),
            a.group.as_ref().map(|g| format!("group {g}")),
            a.mode.map(|m| format!("mode {m:04o}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut out = Vec::new();
        if !attrs.is_empty() {
            out.push(attrs.join(", "));
        }
        if let Some(src) = &self.copy_of {
            out.push(format!("a copy of {src} (on the host)"));
        }
        if self.keep {
            out.push("content written only while missing (force: false)".into());
        }
        match self.content.as_ref().map(|c| std::str::from_utf8(&c.bytes)) {
            Some(_) if sensitive => out.push("| (sensitive content)".into()),
            Some(Ok(text)) => out.extend(text.lines().map(|l| format!("| {l}"))),
            Some(Err(_)) => out.push("| (binary content)".into()),
            None => {}
        }
        out
    }
}

/// The content an entry's `content`, `src` (a file of `files/`) or `template` (of
/// `templates/`, rendered) gives, if any; `of`: what the entry is, for a template's errors
/// (`file /etc/app.ini`).
fn content(
    k: &crate::resolve::Keys,
    of: &str,
) -> Result<Option<super::Content>, crate::resolve::ResolveError> {
    Ok(if let Some(c) = k.string("content")? {
        Some(super::Content {
            bytes: c.into_bytes(),
            source: "content".into(),
        })
    } else if let Some(src) = k.string("src")? {
        Some(k.file_content("src", &src)?)
    } else if let Some(t) = k.string("template")? {
        Some(k.render_template("template", &t, &format!("template of {of}"))?)
    } else {
        None
    })
}

/// The spec of a `file:` entry (its registry line's `render`).
pub fn from_entry(
    k: &crate::resolve::Keys,
    b: crate::resolve::Base,
) -> Result<super::Desired, crate::resolve::ResolveError> {
    let presence = k.presence(&b.state)?;
    let keep = crate::resolve::path_force_given(k)? == Some(false);
    let content = content(k, &format!("file {}", b.key))?;
    let validate = k.string("validate")?;
    if let Some(v) = &validate {
        super::edit::check_validate(v).map_err(|m| k.fail("validate", m))?;
    }
    let copy_of = k.path("copy_of")?;
    if let Some(src) = copy_of.as_deref().filter(|p| p.ends_with('/')) {
        return Err(k.fail(
            "copy_of",
            format!("copy_of: `{src}` names a folder; copy_of copies one file"),
        ));
    }
    if copy_of.as_deref() == Some(b.key.as_str()) {
        return Err(k.fail("copy_of", format!("copy_of: {} is the file itself", b.key)));
    }
    Ok(super::Desired::File(FileSpec {
        path: b.key,
        presence,
        content,
        attrs: b.attrs,
        validate,
        copy_of,
        keep,
    }))
}

/// A file takes one source of content (its registry line's `check_entry`).
fn check_entry(entry: &crate::playbook::RawResource) -> Result<(), String> {
    let sources = ["content", "src", "template", "copy_of"]
        .iter()
        .filter(|k| entry.has(k))
        .count();
    if sources > 1 {
        return Err(
            "a file takes one of `content`, `src`, `template`, `copy_of`, not several".into(),
        );
    }
    Ok(())
}

/// The registry line of `file:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::File,
    name: "file",
    keys: &[
        Key::Text("content"),
        Key::Text("src"),
        Key::Text("template"),
        Key::Text("owner"),
        Key::Text("group"),
        Key::Any("mode"),
        Key::Any("force"),
        Key::Text("validate"),
        Key::Text("copy_of"),
    ],
    is_path: true,
    watchable: true,
    docs_section: "`file: PATH`",
    plug: super::registry::Plug::Path,
    first_probe: super::registry::FirstProbe::Path { emptiness: false },
    check_key: super::registry::path_key,
    render: super::registry::Render::Fn(from_entry),
    check_value: super::registry::any_value,
    records: &[],
    check_entry,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{sha256_hex, PathKind};

    fn spec(presence: Presence, content: Option<&[u8]>, attrs: Attrs) -> FileSpec {
        FileSpec {
            path: "/etc/app.ini".into(),
            presence,
            content: content.map(|b| Content {
                bytes: b.to_vec(),
                source: "content".into(),
            }),
            attrs,
            validate: None,
            copy_of: None,
            keep: false,
        }
    }

    fn state(kind: PathKind, mode: u32, owner: &str, group: &str) -> PathState {
        PathState {
            kind,
            mode,
            owner: owner.into(),
            group: group.into(),
        }
    }

    fn file(bytes: &[u8]) -> PathKind {
        PathKind::File {
            size: bytes.len() as u64,
            sha256: Some(sha256_hex(bytes)),
        }
    }

    fn attrs(owner: &str, group: &str, mode: u32) -> Attrs {
        Attrs {
            owner: Some(owner.into()),
            group: Some(group.into()),
            mode: Some(mode),
        }
    }

    #[test]
    fn missing_file_is_created_with_its_content() {
        let s = spec(Presence::Present, Some(b"a=1\n"), Attrs::default());
        let c = plan(&s, &PathState::missing()).unwrap().unwrap();
        assert_eq!(c.action, Action::Create);
        assert_eq!(c.kind, Kind::File);
        assert_eq!(c.key, "/etc/app.ini");
        assert!(c.details.is_empty());
        let cc = c.content.unwrap();
        assert_eq!(cc.old, None);
        assert_eq!(cc.old_sha256, None);
        assert_eq!(cc.old_size, None);
        assert_eq!(cc.new, b"a=1\n");
        assert_eq!(cc.new_sha256, sha256_hex(b"a=1\n"));
    }

    #[test]
    fn missing_file_without_content_is_created_empty() {
        let s = spec(Presence::Present, None, attrs("root", "root", 0o600));
        let c = plan(&s, &PathState::missing()).unwrap().unwrap();
        assert_eq!(c.action, Action::Create);
        assert_eq!(c.content, None);
        assert!(c.details.is_empty());
    }

    #[test]
    fn different_content_is_an_update_with_attr_details() {
        let s = spec(
            Presence::Present,
            Some(b"new"),
            attrs("root", "root", 0o640),
        );
        let have = state(file(b"old!"), 0o644, "root", "root");
        let c = plan(&s, &have).unwrap().unwrap();
        assert_eq!(c.action, Action::Update);
        assert_eq!(c.details, vec!["mode 0644 → 0640".to_string()]);
        let cc = c.content.unwrap();
        assert_eq!(cc.old, None);
        assert_eq!(cc.old_sha256, Some(sha256_hex(b"old!")));
        assert_eq!(cc.old_size, Some(4));
        assert_eq!(cc.new, b"new");
        assert_eq!(cc.new_sha256, sha256_hex(b"new"));
    }

    #[test]
    fn unreadable_old_content_counts_as_different() {
        let s = spec(Presence::Present, Some(b"new"), Attrs::default());
        let have = state(
            PathKind::File {
                size: 3,
                sha256: None,
            },
            0o600,
            "root",
            "root",
        );
        let c = plan(&s, &have).unwrap().unwrap();
        assert_eq!(c.action, Action::Update);
        assert_eq!(c.content.unwrap().old_sha256, None);
    }

    #[test]
    fn same_content_other_attrs_is_attrs_only() {
        let s = spec(Presence::Present, Some(b"x"), attrs("deploy", "adm", 0o640));
        let have = state(file(b"x"), 0o100644, "root", "root");
        let c = plan(&s, &have).unwrap().unwrap();
        assert_eq!(c.action, Action::Attrs);
        assert_eq!(c.content, None);
        assert_eq!(
            c.details,
            vec![
                "owner root → deploy".to_string(),
                "group root → adm".to_string(),
                "mode 0644 → 0640".to_string()
            ]
        );
    }

    #[test]
    fn unmanaged_content_only_checks_attrs() {
        let s = spec(Presence::Present, None, attrs("root", "root", 0o644));
        let have = state(file(b"whatever"), 0o644, "root", "root");
        assert_eq!(plan(&s, &have).unwrap(), None);
        let have = state(file(b"whatever"), 0o600, "root", "root");
        assert_eq!(plan(&s, &have).unwrap().unwrap().action, Action::Attrs);
    }

    #[test]
    fn all_same_is_no_change() {
        let s = spec(Presence::Present, Some(b"x"), attrs("root", "root", 0o644));
        let have = state(file(b"x"), 0o644, "root", "root");
        assert_eq!(plan(&s, &have).unwrap(), None);
        // Unmanaged attributes are ignored.
        let s = spec(Presence::Present, Some(b"x"), Attrs::default());
        let have = state(file(b"x"), 0o4755, "nobody", "nogroup");
        assert_eq!(plan(&s, &have).unwrap(), None);
    }

    #[test]
    fn a_directory_cannot_become_a_file() {
        let s = spec(Presence::Present, Some(b"x"), Attrs::default());
        let have = state(
            PathKind::Directory { empty: Some(true) },
            0o755,
            "root",
            "root",
        );
        let e = plan(&s, &have).unwrap_err();
        assert_eq!(e.kind, Kind::File);
        assert_eq!(e.key, "/etc/app.ini");
        assert!(e.message.contains("is a directory"), "{e}");
    }

    #[test]
    fn a_link_is_not_replaced_by_a_file() {
        let s = spec(Presence::Present, Some(b"x"), Attrs::default());
        let have = state(
            PathKind::Link {
                target: "/x".into(),
            },
            0o777,
            "root",
            "root",
        );
        let e = plan(&s, &have).unwrap_err();
        assert!(e.message.contains("symbolic link"), "{e}");
        assert!(e.message.contains("/x"), "{e}");
    }

    #[test]
    fn other_types_are_errors() {
        let s = spec(Presence::Present, None, Attrs::default());
        let have = state(PathKind::Other("fifo".into()), 0o644, "root", "root");
        assert!(plan(&s, &have).unwrap_err().message.contains("fifo"));
        let s = spec(Presence::Absent, None, Attrs::default());
        assert!(plan(&s, &have).unwrap_err().message.contains("fifo"));
    }

    #[test]
    fn absent_missing_is_no_change() {
        let s = spec(Presence::Absent, None, Attrs::default());
        assert_eq!(plan(&s, &PathState::missing()).unwrap(), None);
    }

    #[test]
    fn absent_file_or_link_is_deleted() {
        let s = spec(
            Presence::Absent,
            Some(b"ignored"),
            attrs("root", "root", 0o600),
        );
        for kind in [
            file(b"x"),
            PathKind::Link {
                target: "/y".into(),
            },
        ] {
            let c = plan(&s, &state(kind, 0o644, "root", "root"))
                .unwrap()
                .unwrap();
            assert_eq!(c.action, Action::Delete);
            assert!(c.details.is_empty());
            assert_eq!(c.content, None);
        }
    }

    #[test]
    fn absent_file_over_a_directory_is_an_error() {
        let s = spec(Presence::Absent, None, Attrs::default());
        let have = state(
            PathKind::Directory { empty: Some(true) },
            0o755,
            "root",
            "root",
        );
        assert!(plan(&s, &have)
            .unwrap_err()
            .message
            .contains("is a directory"));
    }

    /// The playbook refuses a file with two sources of content, through the registry line.
    #[test]
    fn a_file_takes_one_source() {
        let entry = |yaml: &str| -> crate::playbook::RawResource {
            serde_yaml::from_str(yaml).expect("an entry")
        };
        let err = entry("file: /f\ncontent: a\nsrc: b").check().unwrap_err();
        assert_eq!(
            err,
            "a file takes one of `content`, `src`, `template`, `copy_of`, not several"
        );
        assert_eq!(entry("file: /f\ntemplate: t.j2").check(), Ok(()));
        assert_eq!(entry("file: /f").check(), Ok(()));
    }

    /// `play check --show` lists a file's attributes and text, and withholds sensitive text.
    #[test]
    fn a_file_shows_its_attributes_and_text() {
        use crate::resources::Spec;
        let attrs = Attrs {
            owner: Some("app".into()),
            group: None,
            mode: Some(0o640),
        };
        let s = spec(Presence::Present, Some(b"a\nb\n"), attrs);
        assert_eq!(s.shown(false), ["owner app, mode 0640", "| a", "| b"]);
        assert_eq!(
            s.shown(true),
            ["owner app, mode 0640", "| (sensitive content)"]
        );
        let binary = spec(Presence::Present, Some(b"\xff"), Attrs::default());
        assert_eq!(binary.shown(false), ["| (binary content)"]);
        let copy = FileSpec {
            copy_of: Some("/srv/a".into()),
            ..spec(Presence::Present, None, Attrs::default())
        };
        assert_eq!(copy.shown(false), ["a copy of /srv/a (on the host)"]);
    }

    fn copy(presence: Presence, attrs: Attrs) -> FileSpec {
        FileSpec {
            copy_of: Some("/srv/src.crt".into()),
            ..spec(presence, None, attrs)
        }
    }

    #[test]
    fn force_false_keeps_the_content_of_a_file_there() {
        let keep = FileSpec {
            keep: true,
            ..spec(
                Presence::Present,
                Some(b"new\n"),
                attrs("root", "root", 0o640),
            )
        };
        // other content, same attributes: nothing to do
        let have = state(file(b"edited\n"), 0o640, "root", "root");
        assert_eq!(plan(&keep, &have).unwrap(), None);
        // other content, other mode: the mode alone, said to keep the content
        let have = state(file(b"edited\n"), 0o644, "root", "root");
        let c = plan(&keep, &have).unwrap().unwrap();
        assert_eq!(c.action, Action::Attrs);
        assert_eq!(c.content, None);
        assert_eq!(c.details, vec!["mode 0644 → 0640".to_string(), KEPT.into()]);
        // missing: made with its content
        let c = plan(&keep, &PathState::missing()).unwrap().unwrap();
        assert_eq!(c.action, Action::Create);
        assert_eq!(c.content.map(|c| c.new), Some(b"new\n".to_vec()));
        // a link there is still refused, as without force
        let link = state(
            PathKind::Link {
                target: "/x".into(),
            },
            0o777,
            "root",
            "root",
        );
        assert!(plan(&keep, &link).is_err());
        // a copy kept: its source's other content changes nothing
        let copy = FileSpec {
            keep: true,
            ..copy(Presence::Present, attrs("root", "root", 0o640))
        };
        let src = state(file(b"example\n"), 0o644, "app", "app");
        assert_eq!(
            plan_copy(&copy, "/srv/src.crt", &have_640(), &src).unwrap(),
            None
        );
        assert!(crate::resources::Spec::shown(&copy, false)
            .iter()
            .any(|l| l.contains("force: false")));
    }

    fn have_640() -> PathState {
        state(file(b"edited\n"), 0o640, "root", "root")
    }

    #[test]
    fn a_copy_follows_its_source_by_sha256() {
        let s = copy(Presence::Present, attrs("root", "root", 0o644));
        let src = state(file(b"new"), 0o600, "app", "app");
        // same content, same attributes: no change
        let have = state(file(b"new"), 0o644, "root", "root");
        assert_eq!(plan_copy(&s, "/srv/src.crt", &have, &src).unwrap(), None);
        // another content: an update from the source, no content of its own to diff
        let have = state(file(b"old"), 0o600, "root", "root");
        let c = plan_copy(&s, "/srv/src.crt", &have, &src).unwrap().unwrap();
        assert_eq!(c.action, Action::Update);
        assert_eq!(c.content, None);
        assert!(c.attrs);
        assert_eq!(
            c.details,
            [
                format!(
                    "from /srv/src.crt: sha256 {} → {}",
                    &sha256_hex(b"old")[..7],
                    &sha256_hex(b"new")[..7]
                ),
                "mode 0600 → 0644".to_string()
            ]
        );
        // missing: created from it
        let c = plan_copy(&s, "/srv/src.crt", &PathState::missing(), &src)
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.action, c.details),
            (Action::Create, vec!["from /srv/src.crt".to_string()])
        );
        // same content, other mode: attributes alone
        let have = state(file(b"new"), 0o600, "root", "root");
        let c = plan_copy(&s, "/srv/src.crt", &have, &src).unwrap().unwrap();
        assert_eq!(c.action, Action::Attrs);
    }

    #[test]
    fn a_copy_needs_a_regular_source() {
        let s = copy(Presence::Present, Attrs::default());
        let have = PathState::missing();
        let link = state(
            PathKind::Link {
                target: "/etc/shadow".into(),
            },
            0o777,
            "app",
            "app",
        );
        let e = plan_copy(&s, "/srv/src.crt", &have, &link).unwrap_err();
        assert!(e.message.contains("symbolic link"), "{e}");
        let dir = state(PathKind::Directory { empty: None }, 0o755, "root", "root");
        assert!(plan_copy(&s, "/srv/src.crt", &have, &dir)
            .unwrap_err()
            .message
            .contains("a folder"));
        let unread = state(
            PathKind::File {
                size: 1,
                sha256: None,
            },
            0o600,
            "root",
            "root",
        );
        assert!(plan_copy(&s, "/srv/src.crt", &have, &unread).is_err());
        // missing now: planned, said so (an earlier step may make it)
        let c = plan_copy(&s, "/srv/src.crt", &have, &PathState::missing())
            .unwrap()
            .unwrap();
        assert!(c.details[0].contains("missing now"), "{:?}", c.details);
        // absent: the source does not matter
        let s = copy(Presence::Absent, Attrs::default());
        let c = plan_copy(
            &s,
            "/srv/src.crt",
            &state(file(b"x"), 0o644, "root", "root"),
            &link,
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.action, Action::Delete);
    }

    /// A copy's step replaces the destination only while it is still what the probe saw (its
    /// sha256, or missing), as every file play writes: edited between the probe (or `play
    /// diff --out`) and the step, it is not overwritten (`changed since the plan`).
    #[test]
    fn a_copy_replaces_only_what_the_probe_saw() {
        let s = copy(Presence::Present, Attrs::default());
        let src = state(file(b"new"), 0o644, "root", "root");
        let script = |c: &Change| {
            let r = crate::resources::Resource {
                desired: super::super::Desired::File(s.clone()),
                origin: Default::default(),
                sensitive: false,
            };
            crate::apply::script(&[(c, &r)]).0
        };
        let have = state(file(b"old"), 0o644, "root", "root");
        let c = plan_copy(&s, "/srv/src.crt", &have, &src).unwrap().unwrap();
        let old = sha256_hex(b"old");
        assert_eq!(c.expect.as_deref(), Some(old.as_str()));
        let text = script(&c);
        assert!(
            text.contains(&format!("if play_expect app.ini {old} ''; then mv")),
            "{text}"
        );
        // missing at the probe: created only while still missing
        let c = plan_copy(&s, "/srv/src.crt", &PathState::missing(), &src)
            .unwrap()
            .unwrap();
        assert_eq!(c.expect.as_deref(), Some("missing"));
        assert!(script(&c).contains("if play_expect app.ini missing ''"));
        // not readable by the probe: any regular file (not a link) is replaced
        let unread = state(
            PathKind::File {
                size: 3,
                sha256: None,
            },
            0o644,
            "root",
            "root",
        );
        let c = plan_copy(&s, "/srv/src.crt", &unread, &src)
            .unwrap()
            .unwrap();
        assert_eq!(c.expect.as_deref(), Some("-"));
        // known only after an earlier step: that step decides, the copy takes what is there
        let c = Change {
            after: Some("download /srv/src.crt".into()),
            ..plan_copy(&s, "/srv/src.crt", &have, &src).unwrap().unwrap()
        };
        assert!(script(&c).contains("if play_expect app.ini - ''"));
    }

    #[test]
    fn a_copy_is_written_from_its_source_read_without_links() {
        use crate::resources::Spec;
        let s = copy(Presence::Present, Attrs::default());
        let c = plan_copy(
            &s,
            "/srv/src.crt",
            &PathState::missing(),
            &state(file(b"x"), 0o644, "root", "root"),
        )
        .unwrap()
        .unwrap();
        let (text, stdin) = s.change_step(&c, "missing").expect("a step");
        assert!(stdin.is_empty());
        let enter = text.find("play_enter /srv").unwrap_or(usize::MAX);
        let read = text
            .find("dd if=./src.crt iflag=nofollow,nonblock")
            .unwrap_or(usize::MAX);
        let mv = text.find("mv -f -T -- \"$t\" app.ini").unwrap_or(0);
        assert!(enter < read && read < mv, "{text}");
        assert_eq!(s.probe_paths(), ["/etc/app.ini", "/srv/src.crt"]);
    }
}
