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

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::archive::{self, ArchiveError, Member};
use super::deploy::{sibling_prefix, split_path, Planned, Refused};
use super::git::chown_spec;
use super::{mode_str, sha256_hex, Action, FileList, PathKind, PathState, Sign};
use crate::transport::shell_quote;

/// Mode of every synced folder.
pub const DIR_MODE: u32 = 0o755;

/// Most file lines a plan lists (the rest are counted).
pub const MAX_LISTED: usize = 40;

/// Why a source tree cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}: not a folder")]
    NotDir(PathBuf),
    #[error("{0}: a name that is not UTF-8")]
    NotUtf8(PathBuf),
    #[error("{0}: neither a file nor a folder (sockets, fifos and devices cannot be synced)")]
    Special(PathBuf),
    #[error("{0}: symbolic links loop back to a folder above")]
    Loop(PathBuf),
    #[error("exclude `{pattern}`: {message}")]
    Pattern { pattern: String, message: String },
}

/// `exclude:` patterns, for the controller's walk and for the host's `find`.
#[derive(Debug, Clone)]
pub struct Excludes {
    patterns: Vec<String>,
    names: GlobSet,
    paths: GlobSet,
}

impl PartialEq for Excludes {
    fn eq(&self, other: &Self) -> bool {
        self.patterns == other.patterns
    }
}
impl Eq for Excludes {}

/// Escapes glob metacharacters for `find -path`.
fn fnmatch_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Excludes {
    pub fn new(patterns: &[String]) -> Result<Excludes, SyncError> {
        let mut names = GlobSetBuilder::new();
        let mut paths = GlobSetBuilder::new();
        let mut kept = Vec::new();
        for p in patterns {
            let err = |message: &str| SyncError::Pattern {
                pattern: p.clone(),
                message: message.to_string(),
            };
            if p.contains(['{', '}']) {
                return Err(err("braces are not supported"));
            }
            if p.contains(['\n', '\0']) {
                return Err(err("a pattern is one line"));
            }
            let t = p.trim_end_matches('/');
            let t = t.strip_prefix('/').unwrap_or(t);
            if t.is_empty() {
                return Err(err("empty pattern"));
            }
            let g = Glob::new(t).map_err(|e| err(&e.kind().to_string()))?;
            if t.contains('/') {
                paths.add(g);
            } else {
                names.add(g);
            }
            kept.push(t.to_string());
        }
        let build = |b: GlobSetBuilder| {
            b.build().map_err(|e| SyncError::Pattern {
                pattern: patterns.join(", "),
                message: e.to_string(),
            })
        };
        Ok(Excludes {
            patterns: kept,
            names: build(names)?,
            paths: build(paths)?,
        })
    }

    /// True when the entry at relative path `rel` is excluded (by its name or its path).
    pub fn matches(&self, rel: &str) -> bool {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        self.names.is_match(name) || self.paths.is_match(rel)
    }

    /// `find` test matching the excluded entries under `root` (empty when none).
    pub fn find_test(&self, root: &str) -> String {
        let tests: Vec<String> = self
            .patterns
            .iter()
            .map(|p| {
                if p.contains('/') {
                    format!(
                        "-path {}",
                        shell_quote(&format!(
                            "{}/{p}",
                            fnmatch_escape(root.trim_end_matches('/'))
                        ))
                    )
                } else {
                    format!("-name {}", shell_quote(p))
                }
            })
            .collect();
        if tests.is_empty() {
            String::new()
        } else {
            format!("\\( {} \\)", tests.join(" -o "))
        }
    }
}

/// A file of the controller's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    pub bytes: Vec<u8>,
    pub sha256: String,
    /// Executable by its owner here (sent as 0755 when no `mode` is given).
    pub executable: bool,
}

/// The controller's tree, read once (with `exclude` applied).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalTree {
    /// Relative folders.
    pub dirs: BTreeSet<String>,
    /// Relative files.
    pub files: BTreeMap<String, LocalFile>,
}

impl LocalTree {
    /// Reads `root` (symbolic links followed), leaving out what `exclude` matches.
    pub fn read(root: &Path, exclude: &Excludes) -> Result<LocalTree, SyncError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SyncError::Io { path, source }
        };
        let meta = std::fs::metadata(root).map_err(io(root))?;
        if !meta.is_dir() {
            return Err(SyncError::NotDir(root.to_path_buf()));
        }
        let mut tree = LocalTree::default();
        // (folder, its relative path, (device, inode) of it and its parents)
        type Pending = (PathBuf, String, Vec<(u64, u64)>);
        let mut stack: Vec<Pending> = Vec::new();
        use std::os::unix::fs::MetadataExt;
        stack.push((
            root.to_path_buf(),
            String::new(),
            vec![(meta.dev(), meta.ino())],
        ));
        while let Some((dir, rel, ancestors)) = stack.pop() {
            let mut entries: Vec<_> = std::fs::read_dir(&dir)
                .map_err(io(&dir))?
                .collect::<Result<_, _>>()
                .map_err(io(&dir))?;
            entries.sort_by_key(|e| e.file_name());
            for e in entries {
                let path = e.path();
                let name = e
                    .file_name()
                    .into_string()
                    .map_err(|_| SyncError::NotUtf8(path.clone()))?;
                let child = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                if exclude.matches(&child) {
                    continue;
                }
                if child.contains(['\n', '\r']) {
                    // sha256sum escapes such names, but they are no names for code.
                    return Err(SyncError::NotUtf8(path));
                }
                let m = std::fs::metadata(&path).map_err(io(&path))?;
                if m.is_dir() {
                    let id = (m.dev(), m.ino());
                    if ancestors.contains(&id) {
                        return Err(SyncError::Loop(path));
                    }
                    let mut a = ancestors.clone();
                    a.push(id);
                    tree.dirs.insert(child.clone());
                    stack.push((path, child, a));
                } else if m.is_file() {
                    use std::os::unix::fs::PermissionsExt;
                    let bytes = std::fs::read(&path).map_err(io(&path))?;
                    tree.files.insert(
                        child,
                        LocalFile {
                            sha256: sha256_hex(&bytes),
                            executable: m.permissions().mode() & 0o100 != 0,
                            bytes,
                        },
                    );
                } else {
                    return Err(SyncError::Special(path));
                }
            }
        }
        Ok(tree)
    }

    /// A digest of the tree as it lands on a host with `layout`: paths, contents, modes,
    /// owner and group. Same input, same digest (a release's id).
    pub fn digest(&self, layout: &Layout) -> String {
        let mut text = String::new();
        text.push_str(&format!(
            "owner {:?} group {:?}\n",
            layout.owner, layout.group
        ));
        for d in &self.dirs {
            text.push_str(&format!("d {} {d}\n", mode_str(DIR_MODE)));
        }
        for (p, f) in &self.files {
            text.push_str(&format!(
                "f {} {} {p}\n",
                mode_str(layout.file_mode(f)),
                f.sha256
            ));
        }
        sha256_hex(text.as_bytes())
    }
}

/// Owner, group and file mode of a synced tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    pub owner: Option<String>,
    pub group: Option<String>,
    /// Mode of every file; `None`: 0644, or 0755 for files executable on the controller.
    pub mode: Option<u32>,
}

impl Layout {
    pub fn file_mode(&self, f: &LocalFile) -> u32 {
        self.mode
            .unwrap_or(if f.executable { 0o755 } else { 0o644 })
    }

    fn chown(&self) -> Option<String> {
        chown_spec(&self.owner, &self.group)
    }
}

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

/// Whether a remote tree's root is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TreeState {
    #[default]
    Missing,
    Dir,
    NotDir,
}

impl TreeState {
    pub fn parse(s: &str) -> Option<TreeState> {
        match s {
            "missing" => Some(TreeState::Missing),
            "dir" => Some(TreeState::Dir),
            "notdir" => Some(TreeState::NotDir),
            _ => None,
        }
    }
}

/// One entry of a host's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteEntry {
    /// `find %y`: `f`, `d`, `l`...; `x` for an excluded entry (not descended into).
    pub kind: char,
    pub mode: u32,
    pub owner: String,
    pub group: String,
    /// Regular files: their sha256, when it could be read.
    pub sha256: Option<String>,
}

/// A tree of the host, as the probe listed it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteTree {
    pub state: TreeState,
    /// By relative path.
    pub entries: BTreeMap<String, RemoteEntry>,
}

impl RemoteTree {
    /// A `tent` record.
    pub fn add_entry(
        &mut self,
        kind: &str,
        rel: &str,
        mode: &str,
        owner: &str,
        group: &str,
    ) -> Result<(), String> {
        let k = match kind {
            "f" | "d" | "l" | "s" | "p" | "c" | "b" | "D" | "x" => {
                kind.chars().next().unwrap_or('?')
            }
            other => return Err(format!("bad tree entry type `{other}`")),
        };
        let mode = u32::from_str_radix(mode, 8)
            .ok()
            .filter(|m| *m <= 0o7777)
            .ok_or_else(|| format!("bad mode `{mode}` for {rel}"))?;
        if rel.is_empty() {
            return Err("tree entry without a name".into());
        }
        self.entries.insert(
            rel.to_string(),
            RemoteEntry {
                kind: k,
                mode,
                owner: owner.to_string(),
                group: group.to_string(),
                sha256: None,
            },
        );
        Ok(())
    }

    /// A `sha256sum` line's name (`ROOT/REL`) and hash.
    pub fn add_sum(&mut self, root: &str, name: &str, hex: String) {
        let prefix = format!("{}/", root.trim_end_matches('/'));
        if let Some(rel) = name.strip_prefix(&prefix) {
            if let Some(e) = self.entries.get_mut(rel).filter(|e| e.kind == 'f') {
                e.sha256 = Some(hex);
            }
        }
    }
}

/// The probe fragment listing and hashing the tree at `root` (`tree`, `tent`, `tsums` records).
/// `find -H` follows `root` itself when it is a symbolic link (a release's `current`).
pub fn probe_tree(root: &str, exclude: &[String]) -> String {
    let r = shell_quote(root);
    // Patterns were checked when the resource was resolved; a bad one here excludes nothing.
    let test = Excludes::new(exclude)
        .map(|e| e.find_test(root))
        .unwrap_or_default();
    let prune = if test.is_empty() {
        String::new()
    } else {
        format!("{test} -printf 'tent\\0%H\\0x\\0%P\\0%m\\0%u\\0%g\\0' -prune -o ")
    };
    let prune_quiet = if test.is_empty() {
        String::new()
    } else {
        format!("{test} -prune -o ")
    };
    format!(
        r#"if [ -d {r} ]; then
  printf 'tree\0%s\0dir\0' {r}
  find -H {r} -mindepth 1 {prune}-printf 'tent\0%H\0%y\0%P\0%m\0%u\0%g\0' 2>/dev/null
  printf 'tsums\0%s\0' {r}
  find -H {r} -mindepth 1 {prune_quiet}-type f -exec sha256sum -- {{}} + 2>/dev/null
  printf '\0'
elif [ -e {r} ] || [ -L {r} ]; then
  printf 'tree\0%s\0notdir\0' {r}
else
  printf 'tree\0%s\0missing\0' {r}
fi
"#
    )
}

/// The work of a sync: what to send, create, remove, fix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncWork {
    /// The folder does not exist: everything is new.
    pub create_root: bool,
    /// Entries of the host whose type differs (removed before the new one is placed).
    pub replace: Vec<String>,
    /// Folders to create (parents first).
    pub new_dirs: Vec<String>,
    /// Files to send (new or changed).
    pub upload: Vec<String>,
    /// Files (and links...) to remove, with `delete`.
    pub remove_files: Vec<String>,
    /// Folders to remove, with `delete` (deepest first).
    pub remove_dirs: Vec<String>,
    /// Existing entries with the wrong mode: (path, mode).
    pub chmod: Vec<(String, u32)>,
    /// Existing entries with the wrong owner or group.
    pub chown: Vec<String>,
    /// Files for the report: `+ a.py`, `~ b.py`, `- c.py`, `~ d.py (mode 0644 → 0755)`.
    pub lines: Vec<(Sign, String)>,
    /// Counts: added, changed, removed.
    pub counts: (usize, usize, usize),
}

impl SyncWork {
    pub fn is_empty(&self) -> bool {
        !self.create_root
            && self.replace.is_empty()
            && self.new_dirs.is_empty()
            && self.upload.is_empty()
            && self.remove_files.is_empty()
            && self.remove_dirs.is_empty()
            && self.chmod.is_empty()
            && self.chown.is_empty()
    }

    /// The report's details: a count line (the files are in [`Self::file_list`]).
    pub fn details(&self) -> Vec<String> {
        let (a, c, r) = self.counts;
        vec![format!("{a} added, {c} changed, {r} removed")]
    }

    /// The files for the report (at most [`MAX_LISTED`], the rest counted).
    pub fn file_list(&self) -> FileList {
        FileList {
            files: self.lines.iter().take(MAX_LISTED).cloned().collect(),
            more: self.lines.len().saturating_sub(MAX_LISTED),
        }
    }
}

/// Compares the controller's tree with the host's: a pure function.
pub fn diff(tree: &LocalTree, layout: &Layout, delete: bool, remote: &RemoteTree) -> SyncWork {
    let mut w = SyncWork::default();
    let empty = RemoteTree::default();
    let remote = if remote.state == TreeState::Dir {
        remote
    } else {
        w.create_root = true;
        &empty
    };
    let attrs = |path: &str, e: &RemoteEntry, mode: u32, w: &mut SyncWork| {
        let mut what = Vec::new();
        if e.mode & 0o7777 != mode {
            w.chmod.push((path.to_string(), mode));
            what.push(format!("mode {} → {}", mode_str(e.mode), mode_str(mode)));
        }
        let owner_bad = layout.owner.as_ref().is_some_and(|o| o != &e.owner);
        let group_bad = layout.group.as_ref().is_some_and(|g| g != &e.group);
        if owner_bad || group_bad {
            w.chown.push(path.to_string());
            what.push(format!(
                "owner {}:{} → {}:{}",
                e.owner,
                e.group,
                layout.owner.as_deref().unwrap_or(&e.owner),
                layout.group.as_deref().unwrap_or(&e.group)
            ));
        }
        if !what.is_empty() {
            w.lines
                .push((Sign::Changed, format!("{path} ({})", what.join(", "))));
            w.counts.1 += 1;
        }
    };
    for d in &tree.dirs {
        match remote.entries.get(d) {
            None => {
                w.new_dirs.push(d.clone());
            }
            Some(e) if e.kind == 'd' => attrs(&format!("{d}/"), e, DIR_MODE, &mut w),
            Some(_) => {
                w.replace.push(d.clone());
                w.new_dirs.push(d.clone());
                w.lines
                    .push((Sign::Changed, format!("{d}/ (replaces a file)")));
                w.counts.1 += 1;
            }
        }
    }
    for (p, f) in &tree.files {
        let mode = layout.file_mode(f);
        match remote.entries.get(p) {
            None => {
                w.upload.push(p.clone());
                w.lines.push((Sign::Added, p.clone()));
                w.counts.0 += 1;
            }
            Some(e) if e.kind == 'f' => {
                if e.sha256.as_deref() != Some(f.sha256.as_str()) {
                    w.upload.push(p.clone());
                    w.lines.push((Sign::Changed, p.clone()));
                    w.counts.1 += 1;
                } else {
                    attrs(p, e, mode, &mut w);
                }
            }
            Some(_) => {
                w.replace.push(p.clone());
                w.upload.push(p.clone());
                w.lines.push((
                    Sign::Changed,
                    format!("{p} (replaces a {})", kind_name(remote.entries[p].kind)),
                ));
                w.counts.1 += 1;
            }
        }
    }
    if delete {
        // Folders holding excluded entries are kept.
        let keep: BTreeSet<&str> = remote
            .entries
            .iter()
            .filter(|(_, e)| e.kind == 'x')
            .flat_map(|(p, _)| ancestors(p))
            .collect();
        for (p, e) in remote.entries.iter().rev() {
            if e.kind == 'x' || tree.dirs.contains(p) || tree.files.contains_key(p) {
                continue;
            }
            if e.kind == 'd' {
                if keep.contains(p.as_str()) {
                    continue;
                }
                w.remove_dirs.push(p.clone());
                w.lines.push((Sign::Removed, format!("{p}/")));
            } else {
                w.remove_files.push(p.clone());
                w.lines.push((Sign::Removed, p.clone()));
            }
            w.counts.2 += 1;
        }
        // Deepest first.
        w.remove_dirs.sort_by(|a, b| {
            b.matches('/')
                .count()
                .cmp(&a.matches('/').count())
                .then(b.cmp(a))
        });
    }
    w.lines.sort_by(|a, b| a.1.cmp(&b.1));
    w
}

fn kind_name(k: char) -> &'static str {
    match k {
        'd' => "folder",
        'l' => "symbolic link",
        'f' => "file",
        _ => "special file",
    }
}

/// The folders above a relative path (`a/b/c` → `a`, `a/b`).
fn ancestors(p: &str) -> impl Iterator<Item = &str> {
    p.match_indices('/').map(move |(i, _)| &p[..i])
}

/// Plans one sync.
pub fn plan(
    spec: &SyncSpec,
    dest: &PathState,
    remote: &RemoteTree,
) -> Result<Option<Planned<SyncWork>>, Refused> {
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

/// The tar stream of a sync's work: the new folders, then the files to send.
pub fn archive(tree: &LocalTree, layout: &Layout, w: &SyncWork) -> Result<Vec<u8>, ArchiveError> {
    let mut members = Vec::new();
    for d in &w.new_dirs {
        members.push(Member::Dir {
            path: d,
            mode: DIR_MODE,
        });
    }
    for p in &w.upload {
        if let Some(f) = tree.files.get(p) {
            members.push(Member::File {
                path: p,
                mode: layout.file_mode(f),
                bytes: &f.bytes,
            });
        }
    }
    archive::tar(&members)
}

/// True when `p` lies under one of `dirs` (relative paths).
fn under_any(p: &str, dirs: &BTreeSet<&str>) -> bool {
    ancestors(p).any(|a| dirs.contains(a))
}

/// Script lines extracting the archive (`len` bytes of stdin, then the step's marker line)
/// into the folder `dir` (a shell word, e.g. `"$s"`).
pub fn extract_lines(index: usize, dir: &str, len: usize, undo: &str, run: &str) -> String {
    let i = index;
    format!(
        "head -c {len} | {run}tar -x -m -p --no-same-owner -f - -C {dir} 1>&2 || {undo}\nIFS= read -r m || play_desync {i}\n[ \"$m\" = {} ] || play_desync {i}\n",
        shell_quote(&format!("play-end {i}"))
    )
}

/// The marker that follows an archive on stdin.
pub fn stdin_with_marker(index: usize, archive: &[u8]) -> Vec<u8> {
    let mut v = archive.to_vec();
    v.extend_from_slice(format!("play-end {index}\n").as_bytes());
    v
}

/// Script lines removing what the work removes or replaces under the folder `dir` (a shell
/// word): top folders with `rm -rf`, files with one `rm -f`.
pub fn removal_lines(index: usize, dir: &str, w: &SyncWork, run: &str) -> String {
    let i = index;
    let mut s = String::new();
    let gone: BTreeSet<&str> = w
        .remove_dirs
        .iter()
        .chain(w.replace.iter())
        .map(String::as_str)
        .collect();
    let top: Vec<&str> = gone
        .iter()
        .copied()
        .filter(|d| !under_any(d, &gone))
        .collect();
    let rel_words = |items: &mut dyn Iterator<Item = &str>| -> Vec<String> {
        items.map(|p| format!("{dir}/{}", shell_quote(p))).collect()
    };
    let dirs = rel_words(&mut top.iter().copied());
    if !dirs.is_empty() {
        s.push_str(&format!(
            "{run}rm -rf -- {} || play_fail {i}\n",
            dirs.join(" ")
        ));
    }
    let files = rel_words(
        &mut w
            .remove_files
            .iter()
            .map(String::as_str)
            .filter(|p| !under_any(p, &gone) && !gone.contains(p)),
    );
    if !files.is_empty() {
        s.push_str(&format!(
            "{run}rm -f -- {} || play_fail {i}\n",
            files.join(" ")
        ));
    }
    s
}

/// Script lines fixing modes and owners of entries that keep their content.
pub fn attr_lines(index: usize, dir: &str, layout: &Layout, w: &SyncWork, run: &str) -> String {
    let i = index;
    let mut s = String::new();
    for (p, m) in &w.chmod {
        let p = p.trim_end_matches('/');
        s.push_str(&format!(
            "{run}chmod -- 0{} {dir}/{} || play_fail {i}\n",
            mode_str(*m),
            shell_quote(p)
        ));
    }
    if let (Some(c), false) = (layout.chown(), w.chown.is_empty()) {
        let words: Vec<String> = w
            .chown
            .iter()
            .map(|p| format!("{dir}/{}", shell_quote(p.trim_end_matches('/'))))
            .collect();
        s.push_str(&format!(
            "{run}chown -h -- {} {} || play_fail {i}\n",
            shell_quote(&c),
            words.join(" ")
        ));
    }
    s
}

/// The apply step of one sync (inside the apply script: `play_ok`, `play_fail`,
/// `play_desync`): `(script, stdin)`.
pub fn apply_fragment(
    index: usize,
    spec: &SyncSpec,
    w: &SyncWork,
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
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        p.add_tree(&self.dest, &self.exclude);
    }
    fn plan_work(
        &self,
        observed: &super::Observed,
        _changed: &[&str],
    ) -> Result<Option<super::deploy::Planned<super::Work>>, super::deploy::Refused> {
        let tree = (observed.deploy.trees.get(&self.dest))
            .ok_or_else(|| super::deploy::not_probed("the folder"))?;
        Ok(plan(self, &observed.path(&self.dest), tree)?.map(|p| p.map(super::Work::Sync)))
    }
    fn apply_fragment(
        &self,
        index: usize,
        work: Option<&super::Work>,
        _last: bool,
    ) -> Option<Result<(String, Vec<u8>), String>> {
        match work {
            Some(super::Work::Sync(w)) => {
                Some(apply_fragment(index, self, w).map_err(|e| e.to_string()))
            }
            _ => None,
        }
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
}

impl LocalTree {
    /// A file or folder name has a NUL byte.
    pub fn has_nul(&self) -> bool {
        self.files
            .keys()
            .chain(self.dirs.iter())
            .any(|p| p.contains('\0'))
    }
}

/// The registry line of `sync:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Sync,
    name: "sync",
    keys: &["src", "owner", "group", "mode", "delete", "exclude"],
    is_path: true,
    watchable: true,
    docs_section: "`sync: DEST` — a folder of the controller",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key: super::registry::path_key,
    render: super::registry::Render::Fn(crate::resolve::deploy::sync),
    check_value: super::registry::any_value,
    records: &[],
    check_entry: super::registry::any_entry,
};

#[cfg(test)]
mod tests {
    use super::*;

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
        let (script, _) = apply_fragment(0, &spec, &SyncWork::default()).unwrap();
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
