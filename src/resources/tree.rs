//! The tree the resources of one host form: missing parent folders that no one declared
//! ([`with_parents`]), and changes whose outcome is known only after an earlier step of the same
//! run changes the tree they lie in ([`mark_after`]).
//!
//! Both are pure functions of the rendered resources (and, for [`mark_after`], of the changes
//! planned for them): the engine and the tests call the same code.

use std::collections::{BTreeMap, BTreeSet};

use super::{Change, Desired, Resource};

/// The folders above `path`, top first, `/` and `path` itself excluded
/// (`/a/b/c` → `/a`, `/a/b`). Repeated and trailing slashes do not count.
pub fn ancestors(path: &str) -> Vec<String> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    for p in parts.iter().take(parts.len().saturating_sub(1)) {
        cur.push('/');
        cur.push_str(p);
        out.push(cur.clone());
    }
    out
}

/// `path` with repeated and trailing slashes removed (`/tmp//x/` → `/tmp/x`).
pub fn normalize(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if path.starts_with('/') {
        format!("/{}", parts.join("/"))
    } else {
        parts.join("/")
    }
}

/// A managed path must be absolute, normalized and free of `..`.
pub fn check_path(p: &str) -> Result<(), String> {
    if !p.starts_with('/') {
        return Err(format!("path `{p}` must be absolute"));
    }
    if p.split('/').any(|c| c == ".." || c == ".") {
        return Err(format!(
            "path `{p}` must not contain `.` or `..` components"
        ));
    }
    if p.contains('\0') {
        return Err("path contains a NUL byte".into());
    }
    if p == "/" {
        return Err("path `/` cannot be managed".into());
    }
    Ok(())
}

/// True when `path` lies strictly below `root`.
pub fn is_under(path: &str, root: &str) -> bool {
    let (p, r) = (normalize(path), normalize(root));
    r != p && (r == "/" || p.starts_with(&format!("{r}/")))
}

/// Every folder above the paths the resources write: what the probe must also look at so
/// that [`with_parents`] can be planned from the same one round trip.
pub fn parent_paths<'a>(paths: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    for p in paths {
        seen.extend(ancestors(p));
    }
    seen.into_iter().collect()
}

/// The paths of `resources` whose parents [`with_parents`] may add.
pub fn written_paths(resources: &[Resource]) -> Vec<&str> {
    resources
        .iter()
        .filter_map(|r| r.desired.written())
        .collect()
}

/// The resources in the order their steps run, with a `directory:` for every missing-able
/// parent no one declared (created root-owned 0755 when missing, left alone when present;
/// shown in plans as `parent of …`). A declared `directory:` that is the parent of an earlier
/// resource moves up to just before it, unless it sets what is below it (`recurse`): then it
/// stays after what it holds, and its folder is added as a missing parent. The root of a checkout, synced tree or release folder
/// is made by its own step, never as a parent.
pub fn with_parents(resources: Vec<Resource>) -> Vec<Resource> {
    let declared: BTreeMap<String, usize> = resources
        .iter()
        .enumerate()
        .filter(|(_, r)| !is_implied(r))
        .filter_map(|(i, r)| Some((normalize(r.desired.made_folder()?), i)))
        .collect();
    let trees: BTreeSet<String> = resources
        .iter()
        .filter_map(|r| r.desired.tree_root().map(normalize))
        .collect();
    let mut slots: Vec<Option<Resource>> = resources.into_iter().map(Some).collect();
    let mut out: Vec<Resource> = Vec::with_capacity(slots.len());
    let mut made: BTreeSet<String> = BTreeSet::new();
    for i in 0..slots.len() {
        emit(i, &mut slots, &declared, &trees, &mut made, &mut out);
    }
    // The host keeps this list through its whole run: a parent or two pushed past the
    // declared count must not leave it at twice the room it needs.
    out.shrink_to_fit();
    out
}

fn emit(
    i: usize,
    slots: &mut [Option<Resource>],
    declared: &BTreeMap<String, usize>,
    trees: &BTreeSet<String>,
    made: &mut BTreeSet<String>,
    out: &mut Vec<Resource>,
) {
    let Some(r) = slots[i].take() else { return };
    if let Some(path) = r.desired.written() {
        for a in ancestors(path) {
            if made.contains(&a) || trees.contains(&a) {
                continue;
            }
            if let Some(&j) = declared.get(&a) {
                // A folder that sets what is below it stays after what it holds.
                if !slots[j].as_ref().is_some_and(|d| d.desired.sets_below()) {
                    emit(j, slots, declared, trees, made, out);
                    continue;
                }
            }
            made.insert(a.clone());
            out.push(Resource {
                desired: Desired::missing_parent(a, path),
                origin: r.origin.clone(),
                sensitive: false,
            });
        }
    }
    if let Some(folder) = r.desired.made_folder() {
        made.insert(normalize(folder));
    }
    out.push(r);
}

/// True for a parent folder [`with_parents`] added (not declared by anyone).
pub fn is_implied(r: &Resource) -> bool {
    r.desired.parent_of().is_some()
}

/// Marks the changes whose path lies in a tree that an earlier change of this run alters (a
/// checkout, synced tree or release being changed, or the `creates` of a command that runs):
/// the probe saw that tree before the step that changes it, so what these changes do is known
/// only when they run. Their steps re-examine the path then (every path step converges from
/// what it meets) and the verify step checks the result.
///
/// A change whose step reads a path of the host (`Spec::reads`: a file's `copy_of`) is known
/// after an earlier change writing that path, or a tree holding it.
pub fn mark_after(resources: &[Resource], changes: &mut [Change]) {
    changes.sort_by_key(|c| c.index);
    let mut roots: Vec<(String, String)> = Vec::new();
    // paths earlier changes write (a download, a file), each with its change's label
    let mut written: Vec<(String, String)> = Vec::new();
    for c in changes.iter_mut() {
        let Some(res) = resources.get(c.index) else {
            continue;
        };
        let creates = res.desired.creates();
        let own = match creates {
            Some(p) => Some(p),
            None if c.kind.is_path() => res.desired.written().or(Some(c.key.as_str())),
            None => None,
        };
        let label = format!("{} {}", c.kind, c.key);
        if let Some(p) = own {
            let deeper = |(root, _): &&(String, String)| {
                is_under(p, root) || (creates.is_some() && normalize(p) == *root)
            };
            if let Some((_, label)) = roots.iter().find(deeper) {
                c.after = Some(label.clone());
            }
        }
        if let (None, Some(read)) = (&c.after, res.desired.reads()) {
            let read = normalize(read);
            let by = roots
                .iter()
                .find(|(root, _)| is_under(&read, root) || read == *root)
                .or_else(|| written.iter().find(|(p, _)| *p == read));
            if let Some((_, by)) = by {
                c.after = Some(by.clone());
            }
        }
        if let Some(p) = res.desired.written() {
            written.push((normalize(p), label.clone()));
        }
        let root = (creates.or(res.desired.tree_root())).map(normalize);
        if let Some(root) = root {
            roots.push((root, label));
        }
    }
}

/// Paths that two resources of one host would both own, so that the host could never
/// converge: a resource inside a `sync: … delete: true` tree (the sync deletes what its source
/// does not have), or inside a release's `current/` or `releases/` (each switch replaces them).
/// Each is (where the inner resource is declared, the message naming the other).
pub fn overlaps(resources: &[Resource]) -> Vec<(super::Origin, String)> {
    let mut owners: Vec<(String, String, &Resource)> = Vec::new();
    for r in resources {
        for (root, why) in r.desired.owned_trees() {
            owners.push((normalize(&root), why, r));
        }
    }
    let mut out = below_conflicts(resources);
    for r in resources {
        let d = &r.desired;
        if !d.kind().is_path() {
            continue;
        }
        for (root, why, owner) in &owners {
            if std::ptr::eq(*owner, r) || !is_under(d.key(), root) {
                continue;
            }
            out.push((
                r.origin.clone(),
                format!(
                    "{} {} lies inside a tree another resource owns: {why} (declared at {}); \
                     the host would never converge — declare it outside that tree, or in the \
                     tree's source",
                    d.kind(),
                    d.key(),
                    owner.origin
                ),
            ));
        }
    }
    out
}

/// Resources below a folder that sets the owner, group or mode of everything below it
/// (`recurse`) which declare another for their own path: each run would set it one way, then
/// the other. Each is (where the inner resource is declared, the message).
fn below_conflicts(resources: &[Resource]) -> Vec<(super::Origin, String)> {
    let mut out = Vec::new();
    for outer in resources {
        let Some((want, rule)) = outer.desired.below() else {
            continue;
        };
        for r in resources {
            let d = &r.desired;
            let Some((have, held)) = d.path_attrs() else {
                continue;
            };
            if std::ptr::eq(outer, r) || !is_under(d.key(), outer.desired.key()) {
                continue;
            }
            let mut differ = Vec::new();
            for (what, a, b) in [
                ("owner", &have.owner, &want.owner),
                ("group", &have.group, &want.group),
            ] {
                if let (Some(a), Some(b)) = (a, b) {
                    if a != b {
                        differ.push(format!("{what} `{a}` (the folder's: `{b}`)"));
                    }
                }
            }
            if let (Some(m), Some(rule), Some(folder)) = (have.mode, rule, held) {
                let given = rule.apply(folder, m);
                if given != m {
                    differ.push(format!(
                        "mode `{}` (the folder's gives it `{}`)",
                        super::mode_str(m),
                        super::mode_str(given)
                    ));
                }
            }
            if let (Some((_, inner)), Some(outer_rule)) = (d.below(), rule) {
                if inner.is_some_and(|i| i != outer_rule) {
                    differ.push("another mode for what is below it".into());
                }
            }
            if differ.is_empty() {
                continue;
            }
            out.push((
                r.origin.clone(),
                format!(
                    "{} {} lies below {} {}, which sets the owner, group and mode of everything \
                     below it (`recurse`, declared at {}), and declares another {}: the host \
                     would never converge — declare the same, or the folder without `recurse`",
                    d.kind(),
                    d.key(),
                    outer.desired.kind(),
                    outer.desired.key(),
                    outer.origin,
                    differ.join(", ")
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::example::example;
    use crate::resources::Action;

    fn file(p: &str) -> Resource {
        example(&format!("file: {p}")).expect("a file")
    }

    fn dir(p: &str, mode: Option<&str>) -> Resource {
        let mode = mode.map_or(String::new(), |m| format!("\nmode: '{m}'"));
        example(&format!("directory: {p}{mode}")).expect("a directory")
    }

    fn keys(rs: &[Resource]) -> Vec<String> {
        rs.iter()
            .map(|r| {
                let tag = if is_implied(r) { " (parent)" } else { "" };
                format!("{} {}{tag}", r.desired.kind(), r.desired.key())
            })
            .collect()
    }

    #[test]
    fn ancestors_and_normal_forms() {
        assert_eq!(ancestors("/a/b/c"), vec!["/a", "/a/b"]);
        assert_eq!(ancestors("/a//b/"), vec!["/a"]);
        assert!(ancestors("/a").is_empty());
        assert_eq!(normalize("/tmp//x/"), "/tmp/x");
        assert_eq!(normalize("/"), "/");
        assert!(is_under("/srv/app/static", "/srv/app"));
        assert!(is_under("/srv/app//x", "/srv/app/"));
        assert!(!is_under("/srv/app", "/srv/app"));
        assert!(!is_under("/srv/apple", "/srv/app"));
        assert!(is_under("/x", "/"));
    }

    #[test]
    fn undeclared_parents_are_added_once_before_their_first_child() {
        let rs = with_parents(vec![file("/etc/app/logo.bin"), file("/etc/app/other")]);
        assert_eq!(
            keys(&rs),
            vec![
                "directory /etc (parent)",
                "directory /etc/app (parent)",
                "file /etc/app/logo.bin",
                "file /etc/app/other",
            ]
        );
        // Root-owned 0755 when missing: no attributes of its own.
        assert_eq!(
            rs[1].desired,
            Desired::missing_parent("/etc/app".into(), "/etc/app/logo.bin")
        );
        assert_eq!(rs[1].desired.parent_of(), Some("/etc/app/logo.bin"));
    }

    #[test]
    fn the_list_with_parents_keeps_no_spare_room() {
        // Every host keeps its list for the whole run: 3 declared + 1 implied parent must not
        // stay in room for 6 (issue 16's memory per host).
        let rs = with_parents(vec![dir("/srv", None), file("/srv/x/a"), file("/srv/x/b")]);
        assert_eq!(rs.len(), 4);
        assert_eq!(rs.capacity(), rs.len());
    }

    #[test]
    fn a_declared_parent_moves_up_instead_of_being_implied() {
        let rs = with_parents(vec![file("/opt/deep/x"), dir("/opt/deep", Some("0750"))]);
        assert_eq!(
            keys(&rs),
            vec![
                "directory /opt (parent)",
                "directory /opt/deep",
                "file /opt/deep/x"
            ]
        );
    }

    #[test]
    fn a_tree_root_is_never_implied_but_folders_inside_it_are() {
        let git = example("git: /srv/app\nrepo: /repo\nversion: main").expect("a checkout");
        let rs = with_parents(vec![git, dir("/srv/app/static/images", None)]);
        assert_eq!(
            keys(&rs),
            vec![
                "directory /srv (parent)",
                "git /srv/app",
                "directory /srv/app/static (parent)",
                "directory /srv/app/static/images",
            ]
        );
        // The checkout changes: everything inside it is known after it.
        let mut changes = created(&rs, 1);
        mark_after(&rs, &mut changes);
        let after: Vec<Option<&str>> = changes.iter().map(|c| c.after.as_deref()).collect();
        assert_eq!(
            after,
            vec![None, Some("git /srv/app"), Some("git /srv/app")]
        );
    }

    /// A create change of each resource of `rs` but the first `skip`.
    fn created(rs: &[Resource], skip: usize) -> Vec<Change> {
        rs.iter()
            .enumerate()
            .skip(skip)
            .map(|(i, r)| Change {
                kind: r.desired.kind(),
                key: r.desired.key().to_string(),
                action: Action::Create,
                details: Vec::new(),
                content: None,
                sensitive: false,
                index: i,
                after: None,
                expect: None,
                files: Default::default(),
                restarts: Vec::new(),
                attrs: false,
            })
            .collect()
    }

    #[test]
    fn absent_resources_need_no_parents() {
        let f = example("file: /gone/x\nstate: absent").expect("a file");
        assert_eq!(keys(&with_parents(vec![f])), vec!["file /gone/x"]);
    }

    #[test]
    fn a_resource_below_a_recursive_folder_must_declare_what_the_folder_gives_it() {
        let folder =
            "- directory: /srv/app\n  owner: app\n  mode: u=rwX,g=rX,o=rX\n  recurse: true\n";
        let with = |more: &str| crate::resources::example::resources(&format!("{folder}{more}"));
        // What the folder gives them, or nothing of it, or outside it: fine.
        with(
            "- file: /srv/app/ok.conf\n  owner: app\n  mode: '0644'\n\
             - file: /srv/app/run.sh\n  mode: '0755'\n\
             - link: /srv/app/cur\n  target: /x\n  owner: app\n\
             - directory: /srv/app/data\n\
             - file: /srv/other.conf\n  owner: root\n  mode: '0600'\n",
        )
        .expect("no conflict");
        for (more, says) in [
            (
                "- file: /srv/app/secret.conf\n  owner: root\n  mode: '0600'\n",
                "file /srv/app/secret.conf lies below directory /srv/app, which sets the owner, \
                 group and mode of everything below it (`recurse`, declared at ",
            ),
            (
                "- file: /srv/app/secret.conf\n  owner: root\n  mode: '0600'\n",
                "declares another owner `root` (the folder's: `app`), mode `0600` (the folder's \
                 gives it `0644`): the host would never converge",
            ),
            (
                "- directory: /srv/app/data\n  mode: '0700'\n",
                "mode `0700` (the folder's gives it `0755`)",
            ),
            (
                "- link: /srv/app/l\n  target: /x\n  owner: root\n",
                "link /srv/app/l lies below directory /srv/app",
            ),
            (
                "- directory: /srv/app/data\n  owner: app\n  mode: '0755'\n  recurse: true\n",
                "another mode for what is below it",
            ),
        ] {
            let e = with(more).expect_err(more).to_string();
            assert!(e.contains(says), "{e}");
        }
    }

    /// A copy of a path an earlier change writes (a download, an extracted tree) is known
    /// after that change; a copy of a path no change writes is planned from the probe.
    #[test]
    fn a_copy_is_known_after_the_change_that_writes_its_source() {
        let sum = "ab".repeat(32);
        let rs = vec![
            example(&format!(
                "download: /srv/t.tar\nurl: http://x/t\nsha256: {sum}"
            ))
            .expect("a download"),
            example("command: tar -xf /srv/t.tar -C /srv\ncreates: /srv/tool").expect("a command"),
            example("file: /usr/local/bin/a\ncopy_of: /srv/t.tar").expect("a copy"),
            example("file: /usr/local/bin/b\ncopy_of: /srv/tool/b").expect("a copy"),
            example("file: /usr/local/bin/c\ncopy_of: /srv/other").expect("a copy"),
        ];
        let mut changes = created(&rs, 0);
        mark_after(&rs, &mut changes);
        let after: Vec<Option<&str>> = changes.iter().map(|c| c.after.as_deref()).collect();
        assert_eq!(
            after,
            vec![
                None,
                None,
                Some("download /srv/t.tar"),
                Some("command tar -xf /srv/t.tar -C /srv"),
                None
            ]
        );
    }
}
