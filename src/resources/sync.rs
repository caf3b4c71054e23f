//! `sync:` — a folder of the controller copied to a folder of the host.
//!
//! ```yaml
//! - sync: /srv/static       # the folder on the host (its key)
//!   src: static             # files/ of the role, then of the playbook (or an absolute path)
//!   owner: app              # of everything synced, when given
//!   group: app
//!   mode: "0640"            # of files; default 0644, or 0755 for files executable here
//!   delete: true            # remove what is on the host and not in src (default false)
//!   exclude: ["*.pyc", __pycache__, "logs/*"]
//! ```
//!
//! Folders are 0755. Symbolic links in `src` are followed. `exclude` patterns are shell globs:
//! one without `/` matches a name anywhere (a folder's whole content with it), one with `/`
//! matches the path from the top of the tree; `*` also matches `/`. Excluded entries are neither
//! sent nor deleted (nor hashed on the host). Braces are not supported.
//!
//! Probe: one `find` listing the host's tree (type, mode, owner, group) and one `find … -exec
//! sha256sum` hashing its files, in the host's one probe script. The plan lists added (`+`),
//! changed (`~`) and removed (`-`) files. Apply: every file to send travels in ONE tar stream
//! (stdin of the apply script), extracted into a temporary sibling of the folder, then each new
//! or changed file is renamed into place (new folders move as a whole), so no file is ever
//! half-written. A folder that does not exist yet appears at once, by one rename.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::archive::ArchiveError;
use super::deploy::{sibling_prefix, split_path, Planned, Refused};
use super::registry::Key;
use super::source::files::{
    archive, attr_lines, diff, extract_lines, removal_lines, stdin_with_marker, under_any, Layout,
    LocalTree, RemoteTree, TreeState, TreeWork, DIR_MODE,
};
use super::{mode_str, Action, PathKind, PathState};
use crate::resolve::{Base, Keys, ResolveError};
use crate::transport::shell_quote;

/// One sync, rendered for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncSpec {
    pub dest: String,
    /// The source folder, for messages.
    pub src: String,
    pub tree: Arc<LocalTree>,
    pub layout: Layout,
    pub delete: bool,
    pub exclude: Vec<String>,
}

/// Plans one sync.
pub fn plan(
    spec: &SyncSpec,
    dest: &PathState,
    remote: &RemoteTree,
) -> Result<Option<Planned<TreeWork>>, Refused> {
    if let PathKind::Link { target } = &dest.kind {
        return Err(Refused(format!(
            "is a symbolic link (→ {target}); a sync does not write or delete through it \
             (sync to the real folder)"
        )));
    }
    if remote.state == TreeState::NotDir {
        return Err(Refused("something else than a folder stands there".into()));
    }
    let w = diff(&spec.tree, &spec.layout, spec.delete, remote);
    if w.is_empty() {
        return Ok(None);
    }
    let action = if w.create_root {
        Action::Create
    } else if w.upload.is_empty()
        && w.new_dirs.is_empty()
        && w.remove_files.is_empty()
        && w.remove_dirs.is_empty()
    {
        Action::Attrs
    } else {
        Action::Update
    };
    let mut details = w.details();
    if w.create_root {
        details[0] = format!("{} files from {}", spec.tree.files.len(), spec.src);
    }
    Ok(Some(Planned {
        action,
        details,
        work: w,
    }))
}

/// The apply step of one sync (inside the apply script: `play_ok`, `play_fail`,
/// `play_desync`): `(script, stdin)`.
pub fn apply_fragment(
    index: usize,
    spec: &SyncSpec,
    w: &TreeWork,
) -> Result<(String, Vec<u8>), ArchiveError> {
    let i = index;
    let dest = shell_quote(&spec.dest);
    let prefix = sibling_prefix(&spec.dest, "sync");
    let mut s = format!(
        "# sync {}\nprintf '\\0play-step\\0%s\\0' {i} >&2\numask 022\n",
        spec.dest
    );
    // Never write or delete through a link put in place of the folder since the probe.
    s.push_str(&format!(
        "if [ -L {dest} ]; then printf '%s\\n' {} >&2; play_fail {i}; fi\n",
        shell_quote(&format!(
            "{} is a symbolic link; a sync does not write or delete through it",
            spec.dest
        ))
    ));
    // Without `owner:`, root writes: refuse a tree where another user could put a link under
    // root's feet (a folder of another owner, or writable by a group or everyone).
    if spec.layout.owner.is_none() && !w.create_root {
        s.push_str(&format!(
            "if [ \"$(id -u)\" = 0 ] && [ -d {dest} ]; then\n  o=$(find {dest} -type d \\( ! -user 0 -o -perm -0002 -o \\( -perm -0020 ! -group 0 \\) \\) -print -quit 2>/dev/null)\n  if [ -n \"$o\" ]; then printf '%s: %s\\n' \"$o\" {} >&2; play_fail {i}; fi\nfi\n",
            shell_quote(
                "another user than root can write in this folder; a sync without `owner:` writes \
                 as root and does not write into a tree another user controls (give the sync \
                 `owner:` that user: it then runs as that user)"
            )
        ));
    }
    let mut stdin = Vec::new();
    // An existing tree of another owner is worked on as that owner (staged inside it): a link
    // the owner puts anywhere in it can then lead root nowhere. A new tree is made by the login
    // user beside it, given to the owner, and renamed into place.
    let run = match (&spec.layout.owner, w.create_root) {
        (Some(o), false) => format!("play_as {} ", shell_quote(o)),
        _ => String::new(),
    };
    let staging = if run.is_empty() {
        prefix.clone()
    } else {
        format!("{}/.play-sync.", spec.dest.trim_end_matches('/'))
    };
    let undo = format!("{{ {run}rm -rf -- \"$s\"; play_fail {i}; }}");
    let sends = !w.upload.is_empty() || !w.new_dirs.is_empty() || w.create_root;
    if sends {
        let tar = archive(&spec.tree, &spec.layout, w)?;
        if w.create_root {
            let (parent, _) = split_path(&spec.dest);
            s.push_str(&format!(
                "mkdir -p -- {} || play_fail {i}\n",
                shell_quote(&parent)
            ));
        }
        // Leftovers of an interrupted run.
        s.push_str(&format!("{run}rm -rf -- {}*\n", shell_quote(&staging)));
        s.push_str(&format!(
            "s=$({run}mktemp -d -- {}) || play_fail {i}\n",
            shell_quote(&format!("{staging}XXXXXX"))
        ));
        s.push_str(&extract_lines(i, "\"$s\"", tar.len(), &undo, &run));
        stdin = stdin_with_marker(i, &tar);
        if let Some(c) = spec.layout.chown() {
            s.push_str(&format!(
                "{run}chown -R -- {} \"$s\" || {undo}\n",
                shell_quote(&c)
            ));
        }
        s.push_str(&format!("{run}sync -f -- \"$s\" || {undo}\n"));
        if w.create_root {
            s.push_str(&format!("chmod 0{} \"$s\" || {undo}\n", mode_str(DIR_MODE)));
            s.push_str(&format!("mv -T -- \"$s\" {dest} || {undo}\ns=\n"));
        } else {
            s.push_str(&removal_lines(i, &dest, w, &run).replace(&format!("play_fail {i}"), &undo));
            let new: BTreeSet<&str> = w.new_dirs.iter().map(String::as_str).collect();
            for d in new.iter().filter(|d| !under_any(d, &new)) {
                s.push_str(&format!(
                    "{run}mv -T -- \"$s\"/{q} {dest}/{q} || {undo}\n",
                    q = shell_quote(d)
                ));
            }
            for p in w.upload.iter().filter(|p| !under_any(p, &new)) {
                s.push_str(&format!(
                    "{run}mv -f -T -- \"$s\"/{q} {dest}/{q} || {undo}\n",
                    q = shell_quote(p)
                ));
            }
            s.push_str(&format!("{run}rm -rf -- \"$s\"\ns=\n"));
        }
    } else {
        s.push_str(&removal_lines(i, &dest, w, &run));
    }
    if !w.create_root {
        s.push_str(&attr_lines(i, &dest, &spec.layout, w, &run));
    }
    s.push_str(&format!("umask 077\nplay_ok {i}\n"));
    Ok((s, stdin))
}

impl super::Spec for SyncSpec {
    type Work = super::source::files::TreeWork;
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        p.add_tree(&self.dest, &self.exclude);
    }
    fn plan_work(
        &self,
        observed: &super::Observed,
        _changed: &[&str],
    ) -> Result<Option<super::deploy::Planned<Self::Work>>, super::deploy::Refused> {
        let tree = (observed.deploy.trees.get(&self.dest))
            .ok_or_else(|| super::deploy::not_probed("the folder"))?;
        plan(self, &observed.path(&self.dest), tree)
    }
    fn file_list(&self, work: &Self::Work) -> super::FileList {
        work.file_list()
    }
    fn apply_fragment(
        &self,
        index: usize,
        work: Option<&Self::Work>,
        _last: bool,
    ) -> Option<Result<(String, Vec<u8>), String>> {
        work.map(|w| apply_fragment(index, self, w).map_err(|e| e.to_string()))
    }
    fn depends(&self, observed: &super::Observed, out: &mut super::Prints) {
        let key = self.key();
        if let Some(t) = observed.deploy.trees.get(key) {
            out.insert(format!("tree {key}"), super::digest_of(t));
        }
    }
    fn accounts(&self) -> Vec<(super::accounts::Account, &str)> {
        super::accounts::pair(&self.layout.owner, &self.layout.group)
    }
    const DEF: &'static super::registry::KindDef = &DEF;
    fn key(&self) -> &str {
        &self.dest
    }
    fn has_nul(&self) -> bool {
        super::any_nul(&[
            Some(&self.dest),
            self.layout.owner.as_deref(),
            self.layout.group.as_deref(),
        ]) || self.tree.has_nul()
    }
    fn written(&self) -> Option<&str> {
        Some(&self.dest)
    }
    fn tree_root(&self) -> Option<&str> {
        Some(&self.dest)
    }
    fn owned_trees(&self) -> Vec<(String, String)> {
        let why = || {
            let dest = &self.dest;
            format!("sync {dest} with delete: true deletes what its source does not have")
        };
        (self.delete.then(|| (self.dest.clone(), why())))
            .into_iter()
            .collect()
    }
}

/// The registry line of `sync:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Sync,
    name: "sync",
    keys: &[
        Key::Text("src"),
        Key::Text("owner"),
        Key::Text("group"),
        Key::Any("mode"),
        Key::Any("delete"),
        Key::Any("exclude"),
    ],
    is_path: true,
    watchable: true,
    docs_section: "`sync: DEST` — a folder of the controller",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key: super::registry::path_key,
    render: super::registry::Render::Fn(from_entry),
    check_value: super::registry::any_value,
    records: &[],
    check_entry,
};

/// [`super::registry::KindDef::check_entry`]: a sync needs `src`.
fn check_entry(entry: &crate::playbook::RawResource) -> Result<(), String> {
    match entry.has("src") {
        false => Err("a sync needs `src` (a folder of files/)".into()),
        true => Ok(()),
    }
}

/// `sync:` from its entry (its registry line's `render`).
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, attrs, state } = b;
    k.no_state("sync", &state)?;
    let src = k.string("src")?.unwrap_or_default();
    let exclude = k.list("exclude")?.unwrap_or_default();
    let (src, tree) = k.source_tree("src", &src, ("exclude", &exclude))?;
    Ok(super::Desired::Sync(SyncSpec {
        dest: key,
        src,
        tree,
        layout: Layout {
            owner: attrs.owner,
            group: attrs.group,
            mode: attrs.mode,
        },
        delete: k.boolean("delete")?.unwrap_or(false),
        exclude,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::sha256_hex;
    use crate::resources::source::files::{
        ancestors, probe_tree, Excludes, LocalFile, RemoteEntry, SyncError,
    };

    fn ex(p: &[&str]) -> Excludes {
        Excludes::new(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn tree(files: &[(&str, &[u8])]) -> LocalTree {
        let mut t = LocalTree::default();
        for (p, b) in files {
            for a in ancestors(p) {
                t.dirs.insert(a.to_string());
            }
            t.files.insert(
                p.to_string(),
                LocalFile {
                    bytes: b.to_vec(),
                    sha256: sha256_hex(b),
                    executable: false,
                },
            );
        }
        t
    }

    fn remote(entries: &[(&str, char, &[u8])]) -> RemoteTree {
        let mut r = RemoteTree {
            state: TreeState::Dir,
            ..Default::default()
        };
        for (p, k, b) in entries {
            r.entries.insert(
                p.to_string(),
                RemoteEntry {
                    kind: *k,
                    mode: if *k == 'd' { 0o755 } else { 0o644 },
                    owner: "root".into(),
                    group: "root".into(),
                    sha256: (*k == 'f').then(|| sha256_hex(b)),
                },
            );
        }
        r
    }

    #[test]
    fn excludes_by_name_or_path() {
        let e = ex(&["*.pyc", "__pycache__", "logs/*", "/build/"]);
        assert!(e.matches("a/b/x.pyc"));
        assert!(e.matches("app/__pycache__"));
        assert!(e.matches("logs/today.log"));
        assert!(e.matches("logs/deep/x"), "`*` crosses `/` as in find -path");
        assert!(e.matches("build"));
        assert!(!e.matches("app/logs"));
        assert!(!e.matches("hello.py"));
        assert!(Excludes::new(&["{a,b}".into()]).is_err());
        assert!(Excludes::new(&["/".into()]).is_err());
        let t = e.find_test("/srv/a*b");
        assert_eq!(
            t,
            "\\( -name '*.pyc' -o -name __pycache__ -o -path '/srv/a\\*b/logs/*' -o -name build \\)"
        );
    }

    #[test]
    fn local_tree_reads_follows_links_and_excludes() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("src");
        std::fs::create_dir_all(root.join("pkg/__pycache__")).unwrap();
        std::fs::write(root.join("pkg/a.py"), b"a\n").unwrap();
        std::fs::write(root.join("pkg/__pycache__/a.pyc"), b"x").unwrap();
        std::fs::write(root.join("run.sh"), b"#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root.join("run.sh"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::os::unix::fs::symlink(root.join("pkg/a.py"), root.join("link.py")).unwrap();
        let t = LocalTree::read(&root, &ex(&["__pycache__"])).unwrap();
        assert_eq!(t.dirs.iter().collect::<Vec<_>>(), vec!["pkg"]);
        assert_eq!(
            t.files.keys().collect::<Vec<_>>(),
            vec!["link.py", "pkg/a.py", "run.sh"]
        );
        assert_eq!(t.files["link.py"].bytes, b"a\n");
        assert!(t.files["run.sh"].executable);
        assert!(!t.files["pkg/a.py"].executable);
        let layout = Layout::default();
        assert_eq!(layout.file_mode(&t.files["run.sh"]), 0o755);
        // A loop is an error, not a hang.
        std::os::unix::fs::symlink(&root, root.join("pkg/up")).unwrap();
        assert!(matches!(
            LocalTree::read(&root, &ex(&["__pycache__"])),
            Err(SyncError::Loop(_))
        ));
        assert!(matches!(
            LocalTree::read(&root.join("run.sh"), &ex(&[])),
            Err(SyncError::NotDir(_))
        ));
    }

    #[test]
    fn digest_depends_on_content_mode_and_owner() {
        let t = tree(&[("a", b"1")]);
        let l = Layout::default();
        let d1 = t.digest(&l);
        assert_eq!(d1, tree(&[("a", b"1")]).digest(&l));
        assert_ne!(d1, tree(&[("a", b"2")]).digest(&l));
        assert_ne!(d1, tree(&[("b", b"1")]).digest(&l));
        let l2 = Layout {
            mode: Some(0o600),
            ..Default::default()
        };
        assert_ne!(d1, t.digest(&l2));
        let l3 = Layout {
            owner: Some("app".into()),
            ..Default::default()
        };
        assert_ne!(d1, t.digest(&l3));
    }

    #[test]
    fn one_changed_file_is_exactly_one_line() {
        let t = tree(&[("app/hello.py", b"v2"), ("app/VERSION", b"1")]);
        let r = remote(&[
            ("app", 'd', b""),
            ("app/hello.py", 'f', b"v1"),
            ("app/VERSION", 'f', b"1"),
        ]);
        let w = diff(&t, &Layout::default(), true, &r);
        assert_eq!(w.file_list().lines(), vec!["~ app/hello.py".to_string()]);
        assert_eq!(w.upload, vec!["app/hello.py".to_string()]);
        assert_eq!(w.counts, (0, 1, 0));
        assert_eq!(w.details()[0], "0 added, 1 changed, 0 removed");
        let same = remote(&[
            ("app", 'd', b""),
            ("app/hello.py", 'f', b"v2"),
            ("app/VERSION", 'f', b"1"),
        ]);
        assert!(diff(&t, &Layout::default(), true, &same).is_empty());
    }

    #[test]
    fn added_removed_and_replaced() {
        let t = tree(&[("a/new.py", b"n"), ("keep", b"k"), ("x", b"file now")]);
        let mut r = remote(&[
            ("keep", 'f', b"k"),
            ("old", 'd', b""),
            ("old/f", 'f', b"o"),
            ("gone.txt", 'f', b"g"),
            ("x", 'd', b""),
            ("x/inner", 'f', b"i"),
            ("logs", 'd', b""),
        ]);
        r.entries.insert(
            "logs/today.log".into(),
            RemoteEntry {
                kind: 'x',
                mode: 0o644,
                owner: "root".into(),
                group: "root".into(),
                sha256: None,
            },
        );
        let w = diff(&t, &Layout::default(), true, &r);
        assert_eq!(w.new_dirs, vec!["a".to_string()]);
        assert_eq!(w.upload, vec!["a/new.py".to_string(), "x".into()]);
        assert_eq!(w.replace, vec!["x".to_string()]);
        assert_eq!(
            w.remove_dirs,
            vec!["old".to_string()],
            "logs/ holds an excluded file"
        );
        assert_eq!(
            w.remove_files,
            vec!["x/inner".to_string(), "old/f".into(), "gone.txt".into()]
        );
        assert_eq!(
            w.file_list().lines(),
            vec![
                "+ a/new.py",
                "- gone.txt",
                "- old/",
                "- old/f",
                "~ x (replaces a folder)",
                "- x/inner"
            ]
        );
        let without_delete = diff(&t, &Layout::default(), false, &r);
        assert!(without_delete.remove_files.is_empty() && without_delete.remove_dirs.is_empty());
        let rm = removal_lines(1, "/d", &w, "");
        assert!(rm.contains("rm -rf -- /d/old /d/x || play_fail 1"), "{rm}");
        assert!(rm.contains("rm -f -- /d/gone.txt || play_fail 1"), "{rm}");
    }

    #[test]
    fn attributes_only() {
        let t = tree(&[("a", b"1")]);
        let mut r = remote(&[("a", 'f', b"1")]);
        r.entries.get_mut("a").unwrap().mode = 0o600;
        let layout = Layout {
            owner: Some("app".into()),
            ..Default::default()
        };
        let spec = SyncSpec {
            dest: "/srv/s".into(),
            src: "files/s".into(),
            tree: Arc::new(t),
            layout,
            delete: false,
            exclude: vec![],
        };
        let p = plan(&spec, &PathState::missing(), &r).unwrap().unwrap();
        assert_eq!(p.action, Action::Attrs);
        assert_eq!(
            p.work.file_list().lines(),
            ["~ a (mode 0600 → 0644, owner root:root → app:root)"]
        );
        let (script, stdin) = apply_fragment(2, &spec, &p.work).unwrap();
        assert!(stdin.is_empty());
        assert!(
            script.contains("chmod -- 00644 /srv/s/a || play_fail 2"),
            "{script}"
        );
        assert!(
            script.contains("chown -h -- app /srv/s/a || play_fail 2"),
            "{script}"
        );
    }

    #[test]
    fn a_missing_folder_is_created_by_one_rename() {
        let spec = SyncSpec {
            dest: "/srv/new dir".into(),
            src: "files/s".into(),
            tree: Arc::new(tree(&[("a/b.py", b"b"), ("c", b"c")])),
            layout: Layout::default(),
            delete: true,
            exclude: vec![],
        };
        let p = plan(&spec, &PathState::missing(), &RemoteTree::default())
            .unwrap()
            .unwrap();
        assert_eq!(p.action, Action::Create);
        assert_eq!(p.details[0], "2 files from files/s");
        let (script, stdin) = apply_fragment(0, &spec, &p.work).unwrap();
        assert!(
            script.contains("mv -T -- \"$s\" '/srv/new dir'"),
            "{script}"
        );
        assert_eq!(script.matches("mv ").count(), 1, "{script}");
        assert!(stdin.ends_with(b"play-end 0\n"));
        assert!(
            script.contains(&format!("head -c {} |", stdin.len() - 11)),
            "{script}"
        );
        let nd = RemoteTree {
            state: TreeState::NotDir,
            ..Default::default()
        };
        assert!(plan(&spec, &PathState::missing(), &nd).is_err());
        // A link in place of the folder: never written or deleted through.
        let link = PathState {
            kind: PathKind::Link {
                target: "/etc".into(),
            },
            ..PathState::missing()
        };
        let e = plan(&spec, &link, &RemoteTree::default()).unwrap_err();
        assert!(e.0.contains("symbolic link (→ /etc)"), "{}", e.0);
        let (script, _) = apply_fragment(0, &spec, &TreeWork::default()).unwrap();
        assert!(script.contains("if [ -L "), "{script}");
    }

    #[test]
    fn changed_files_are_renamed_into_place_new_folders_as_a_whole() {
        let spec = SyncSpec {
            dest: "/srv/s".into(),
            src: "files/s".into(),
            tree: Arc::new(tree(&[("a", b"new"), ("n/x", b"x"), ("n/y/z", b"z")])),
            layout: Layout::default(),
            delete: false,
            exclude: vec![],
        };
        let r = remote(&[("a", 'f', b"old")]);
        let p = plan(&spec, &PathState::missing(), &r).unwrap().unwrap();
        let (script, _) = apply_fragment(5, &spec, &p.work).unwrap();
        assert!(script.contains("mv -T -- \"$s\"/n /srv/s/n"), "{script}");
        assert!(script.contains("mv -f -T -- \"$s\"/a /srv/s/a"), "{script}");
        assert_eq!(script.matches("mv ").count(), 2, "{script}");
    }

    #[test]
    fn remote_trees_from_records() {
        let mut r = RemoteTree::default();
        r.add_entry("f", "a b", "644", "root", "root").unwrap();
        r.add_entry("d", "d", "2755", "app", "app").unwrap();
        assert!(r.add_entry("q", "z", "644", "r", "r").is_err());
        assert!(r.add_entry("f", "z", "99999", "r", "r").is_err());
        r.add_sum("/srv/x/", "/srv/x/a b", "ab".repeat(32));
        r.add_sum("/srv/x", "/srv/x/d", "cd".repeat(32));
        assert_eq!(
            r.entries["a b"].sha256.as_deref(),
            Some("ab".repeat(32).as_str())
        );
        assert_eq!(r.entries["d"].sha256, None);
        let f = probe_tree("/srv/x", &["*.pyc".into()]);
        assert!(
            f.contains("find -H /srv/x -mindepth 1 \\( -name '*.pyc' \\) -printf 'tent"),
            "{f}"
        );
        assert!(
            f.contains("-prune -o -type f -exec sha256sum -- {} +"),
            "{f}"
        );
    }
}
