//! A folder of the controller copied to a folder of the host (`sync:`, and `release:` from a
//! `sync:` source): the controller's tree ([`LocalTree`], with [`Excludes`]), the host's tree as
//! the probe lists and hashes it ([`RemoteTree`], [`probe_tree`]), their difference
//! ([`TreeWork`], [`diff`]), and the tar stream and script lines that apply it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::super::archive::{self, ArchiveError, Member};
use super::super::{mode_str, sha256_hex, FileList, Sign};
use super::{chown_spec, owner_change};
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

    /// The `chown -R` operand of its owner and group, if any.
    pub fn chown(&self) -> Option<String> {
        chown_spec(&self.owner, &self.group)
    }
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
pub struct TreeWork {
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

impl TreeWork {
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
pub fn diff(tree: &LocalTree, layout: &Layout, delete: bool, remote: &RemoteTree) -> TreeWork {
    let mut w = TreeWork::default();
    let empty = RemoteTree::default();
    let remote = if remote.state == TreeState::Dir {
        remote
    } else {
        w.create_root = true;
        &empty
    };
    let attrs = |path: &str, e: &RemoteEntry, mode: u32, w: &mut TreeWork| {
        let mut what = Vec::new();
        if e.mode & 0o7777 != mode {
            w.chmod.push((path.to_string(), mode));
            what.push(format!("mode {} → {}", mode_str(e.mode), mode_str(mode)));
        }
        if let Some(change) = owner_change(&layout.owner, &layout.group, (&e.owner, &e.group)) {
            w.chown.push(path.to_string());
            what.push(change);
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
pub fn ancestors(p: &str) -> impl Iterator<Item = &str> {
    p.match_indices('/').map(move |(i, _)| &p[..i])
}

/// The tar stream of a sync's work: the new folders, then the files to send.
pub fn archive(tree: &LocalTree, layout: &Layout, w: &TreeWork) -> Result<Vec<u8>, ArchiveError> {
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
pub fn under_any(p: &str, dirs: &BTreeSet<&str>) -> bool {
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
pub fn removal_lines(index: usize, dir: &str, w: &TreeWork, run: &str) -> String {
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
pub fn attr_lines(index: usize, dir: &str, layout: &Layout, w: &TreeWork, run: &str) -> String {
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

impl LocalTree {
    /// A file or folder name has a NUL byte.
    pub fn has_nul(&self) -> bool {
        self.files
            .keys()
            .chain(self.dirs.iter())
            .any(|p| p.contains('\0'))
    }
}
