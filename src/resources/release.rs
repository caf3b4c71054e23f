//! `release:` — capistrano-style releases: every version of the code in its own folder
//! `DEST/releases/<id>`, the live one named by the link `DEST/current`, switched atomically.
//!
//! ```yaml
//! - release: /srv/hello                 # DEST (the key: `restart_on: [/srv/hello]`)
//!   from: {sync: app, exclude: [__pycache__]}   # a folder of files/ (role, then playbook)
//!   # from: {git: https://…/app.git, version: main, depth: 1}
//!   keep: 5                             # releases kept, the live one included (default 5)
//!   owner: app                          # of DEST and of every release
//!   group: app
//!   mode: "0644"                        # of files (sync); default as `sync:`
//! ```
//!
//! The id of a release is the first 12 hex digits of its content digest (`from: {sync}`: paths,
//! contents, modes, owner) or of its commit (`from: {git}`), so the same code has the same id on
//! every host, and an unchanged source is no change.
//!
//! A new release is built in root's private folder on the same filesystem (`play_pd`; a login
//! without root: `DEST/releases/.tmp-XXXXXX`) — from `sync`, a copy of the live release
//! plus the files that differ (one tar stream; the plan lists exactly those files); from `git`,
//! `git archive` of the commit out of a bare cache (root's, outside DEST: see
//! [`ReleaseSpec::cache`]) — then renamed to
//! `releases/<id>`; then `current` is replaced by a new link (`ln -s` + rename: never missing,
//! never half-switched); then `DEST/revisions.log` (one line per deploy: id, UTC time, source)
//! is rewritten atomically; then releases beyond `keep` are deleted, oldest first by that log.
//!
//! **Rollback** is one command: `play rollback PLAYBOOK` runs the playbook with every release
//! switched to the release deployed before the live one (by `revisions.log`), and `--to ID`
//! to a given one; everything watching the release (`restart_on`) restarts. Rolled-back-from
//! releases are kept; the next plain `play apply` deploys the source again.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::archive::ArchiveError;
use super::deploy::{set_args, short, Planned, Refused};
use super::registry::Key;
use super::source::chown_spec;
use super::source::files::{self, Layout, LocalTree, RemoteTree, TreeState, TreeWork};
use super::source::repo::{self, Remote, GIT, GIT_FN};
use super::{mode_str, sha256_hex, Action, FileList, PathKind, PathState, Sign};
use crate::resolve::{Base, Keys, ResolveError, RELEASE_PIN_VAR};
use crate::transport::{heredoc, shell_quote};
use crate::yaml::Value as YValue;

/// Releases kept by default.
pub const DEFAULT_KEEP: usize = 5;

/// Where a root apply keeps the bare caches of `from: {git}` releases (mode 0700).
pub const CACHE_ROOT: &str = "/var/lib/play/cache";

/// The history file of a release folder.
pub const LOG: &str = "revisions.log";

/// Where a release's code comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseSource {
    Sync {
        /// The source folder, for messages.
        src: String,
        tree: Arc<LocalTree>,
        exclude: Vec<String>,
    },
    Git {
        repo: String,
        version: String,
        depth: Option<u32>,
        /// `key:` and `known_hosts:` of the fetch.
        ssh: repo::GitSsh,
    },
}

/// A rollback's choice of release, instead of building one from the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    /// The release deployed before the live one.
    Previous,
    /// A release that exists on the host.
    Id(String),
}

/// One release folder, rendered for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseSpec {
    pub dest: String,
    pub source: ReleaseSource,
    pub layout: Layout,
    /// Releases kept (at least 1).
    pub keep: usize,
    pub pin: Option<Pin>,
    /// Where a root apply keeps `from: {git}` caches: a root-only folder ([`CACHE_ROOT`];
    /// tests use another).
    pub cache_root: String,
    /// `shared:` and `build:`: what is done to a new release before `current` switches.
    pub steps: Steps,
}

/// `shared:`, `build:` and `environment:` of a release.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Steps {
    /// Paths relative to a release (`data`, `.env`, `config/db.yml`): `DEST/shared/X` is linked
    /// into every new release as `X`; a missing `DEST/shared/X` is made an empty folder.
    pub shared: Vec<String>,
    /// Commands run in the new release (its folder as working folder), as the release's owner,
    /// in order, before `current` switches.
    pub build: Vec<String>,
    /// Variables exported to the build commands.
    pub environment: Vec<(String, String)>,
}

impl Steps {
    pub fn is_empty(&self) -> bool {
        self.shared.is_empty() && self.build.is_empty()
    }
    /// What goes into the release id besides the source: a changed build step or shared path
    /// makes a new release.
    fn digest(&self) -> String {
        let mut text = String::new();
        for x in &self.shared {
            text.push_str(&format!("shared\0{x}\0"));
        }
        for (k, v) in &self.environment {
            text.push_str(&format!("env\0{k}\0{v}\0"));
        }
        for c in &self.build {
            text.push_str(&format!("build\0{c}\0"));
        }
        sha256_hex(text.as_bytes())
    }
}

/// Checks one `shared:` entry: a relative path inside the release, without `.` or `..`.
pub fn check_shared(path: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("shared: `{path}` {why}"));
    if path.is_empty() {
        return bad("is empty");
    }
    if path.starts_with('/') {
        return bad("must be relative to the release (`data`, `config/db.yml`)");
    }
    if path.contains(['\n', '\r', '\0']) {
        return bad("has a newline or a NUL byte");
    }
    if path
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return bad("must be a plain relative path (no empty part, `.` or `..`)");
    }
    Ok(())
}

/// Checks the `shared:` list: each entry valid, none inside another.
pub fn check_shared_list(list: &[String]) -> Result<(), String> {
    for (i, a) in list.iter().enumerate() {
        check_shared(a)?;
        for b in &list[..i] {
            if a == b || a.starts_with(&format!("{b}/")) || b.starts_with(&format!("{a}/")) {
                return Err(format!("shared: `{a}` and `{b}` overlap"));
            }
        }
    }
    Ok(())
}

impl ReleaseSpec {
    pub fn current(&self) -> String {
        format!("{}/current", self.dest.trim_end_matches('/'))
    }
    pub fn releases(&self) -> String {
        format!("{}/releases", self.dest.trim_end_matches('/'))
    }
    pub fn release_dir(&self, id: &str) -> String {
        format!("{}/{id}", self.releases())
    }
    pub fn log_path(&self) -> String {
        format!("{}/{LOG}", self.dest.trim_end_matches('/'))
    }
    /// The bare cache of a `from: {git}` release when the apply runs as root: in
    /// [`ReleaseSpec::cache_root`], never under DEST (the owner controls DEST and could put
    /// a repository of its own there, whose config would run as root).
    pub fn cache(&self) -> String {
        let digest = sha256_hex(self.dest.trim_end_matches('/').as_bytes());
        format!(
            "{}/{}.git",
            self.cache_root.trim_end_matches('/'),
            &digest[..16]
        )
    }
    /// The cache when the apply does not run as root (then no other user is at stake: the
    /// running user owns DEST).
    pub fn user_cache(&self) -> String {
        format!("{}/repo", self.dest.trim_end_matches('/'))
    }
    /// Paths the core probe must stat: DEST and its `current` link.
    pub fn probe_paths(&self) -> Vec<String> {
        vec![self.dest.clone(), self.current()]
    }
    /// The tree the probe must hash (`from: {sync}` only): the live release (with `shared` or
    /// `build`, only to list the files that change: see [`wanted`]).
    pub fn probe_tree(&self) -> Option<(String, Vec<String>)> {
        match &self.source {
            ReleaseSource::Sync { exclude, .. } => Some((self.current(), exclude.clone())),
            ReleaseSource::Git { .. } => None,
        }
    }
}

/// A release id: 12 lowercase hex digits.
pub fn is_id(s: &str) -> bool {
    s.len() == 12
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// What the probe found in a release folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// `revisions.log`: (id, rest of the line), oldest first.
    pub log: Vec<(String, String)>,
    /// Names in `DEST/releases`.
    pub entries: Vec<String>,
}

impl History {
    fn exists(&self, id: &str) -> bool {
        self.entries.iter().any(|e| e == id)
    }
}

/// Reads `revisions.log`: `ID REST` lines (others are ignored).
pub fn parse_log(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let (id, rest) = l.split_once(' ').unwrap_or((l, ""));
            is_id(id).then(|| (id.to_string(), rest.to_string()))
        })
        .collect()
}

/// The probe record of a release folder's history: `relh \0 DEST \0 TEXT \0`, its
/// `revisions.log` (none when it has no log).
const LOG_RECORD: &str = "relh";

/// The probe record of a release folder's releases: `relent \0 DEST \0 NAMES \0`, the
/// names in `DEST/releases`, each followed by `/` (a name never holds one).
const ENTRIES_RECORD: &str = "relent";

/// The history of the release folder `dest` as the probe saw it (empty when it saw none).
pub fn seen_history(o: &super::deploy::DeployObserved, dest: &str) -> History {
    let field = |tag| o.record(tag, dest).and_then(|f| f.first());
    History {
        log: field(LOG_RECORD).map(|t| parse_log(t)).unwrap_or_default(),
        entries: (field(ENTRIES_RECORD).into_iter())
            .flat_map(|names| names.split('/'))
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect(),
    }
}

/// The probe fragment for release folders ([`LOG_RECORD`], [`ENTRIES_RECORD`]; builtins
/// only).
pub fn probe_fragment(dests: &[String]) -> String {
    if dests.is_empty() {
        return String::new();
    }
    format!(
        r#"{}
for d do
  if [ -f "$d/{LOG}" ] && [ -r "$d/{LOG}" ]; then
    printf 'relh\0%s\0' "$d"
    while IFS= read -r l || [ -n "$l" ]; do printf '%s\n' "$l"; done < "$d/{LOG}"
    printf '\0'
  fi
  n=
  for e in "$d"/releases/*; do
    if [ -d "$e" ] && ! [ -L "$e" ] && ! [ -e "$d/releases/.building-${{e##*/}}" ]; then n="$n${{e##*/}}/"; fi
  done
  printf 'relent\0%s\0%s\0' "$d" "$n"
done
"#,
        set_args(dests)
    )
}

/// The id of the live release: the last part of `current`'s target when it is a release
/// folder of `dest`.
pub fn current_id(current: &PathState) -> Option<String> {
    match &current.kind {
        PathKind::Link { target } => {
            let t = target.trim_end_matches('/');
            let (parent, name) = t.rsplit_once('/')?;
            (is_id(name) && (parent.ends_with("/releases") || parent == "releases"))
                .then(|| name.to_string())
        }
        _ => None,
    }
}

/// How a release is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Build {
    /// A copy of release `base` (or an empty folder), plus the sync work.
    Sync {
        base: Option<String>,
        work: TreeWork,
    },
    /// `git archive` of `commit`, fetched as `reference` into the bare cache.
    Git { commit: String, reference: String },
}

/// What apply does to a release folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseWork {
    pub id: String,
    /// `None`: the release exists already (switch only).
    pub build: Option<Build>,
    /// Point `current` at the release.
    pub switch: bool,
    /// Write this history (`None`: unchanged).
    pub log: Option<Vec<(String, String)>>,
    /// Text after the id on the new log line (the time is added on the host).
    pub log_note: String,
    /// Releases to delete.
    pub prune: Vec<String>,
    /// chown DEST itself.
    pub chown_dest: bool,
    /// The files the new release changes against the live one, for the report.
    pub files: FileList,
}

/// Observations a release's plan needs.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    pub dest: &'a PathState,
    pub current: &'a PathState,
    pub history: &'a History,
    /// The live release's files (`from: {sync}`).
    pub tree: Option<&'a RemoteTree>,
    /// The wanted commit (`from: {git}`).
    pub remote: Option<&'a Remote>,
}

fn source_note(s: &ReleaseSource) -> String {
    match s {
        ReleaseSource::Sync { src, .. } => format!("sync {src}"),
        ReleaseSource::Git { repo, version, .. } => format!("git {repo} {version}"),
    }
}

/// The id the source (and `shared`/`build`) gives, and how to build it.
/// With `shared` or `build`, a new release is made from the source alone, and the files listed
/// (the last value) are those of the source that differ from the live release, the shared
/// links left out.
fn wanted(
    spec: &ReleaseSpec,
    seen: &Seen,
    current: Option<&str>,
) -> Result<(String, Build, Vec<String>, Option<FileList>), Refused> {
    let (id, build, lines) = from_source(spec, seen, current)?;
    if spec.steps.is_empty() {
        return Ok((id, build, lines, None));
    }
    let (build, lines, shown) = match (build, &spec.source) {
        (
            Build::Sync {
                base: Some(_),
                work,
            },
            ReleaseSource::Sync { tree, .. },
        ) => {
            // A shared link, what lies below it, and (removed) the folders made for it.
            let shared = |sign: Sign, path: &str| {
                let dir = path.trim_end_matches('/');
                spec.steps.shared.iter().any(|x| {
                    path == x
                        || path.starts_with(&format!("{x}/"))
                        || path.starts_with(&format!("{x} "))
                        || (sign == Sign::Removed && x.starts_with(&format!("{dir}/")))
                })
            };
            let listed: Vec<(Sign, String)> = work
                .lines
                .iter()
                .filter(|(sign, p)| !shared(*sign, p))
                .cloned()
                .collect();
            let count = |sign: Sign| listed.iter().filter(|(s, _)| *s == sign).count();
            let lines = vec![format!(
                "{} added, {} changed, {} removed",
                count(Sign::Added),
                count(Sign::Changed),
                count(Sign::Removed)
            )];
            let shown = FileList {
                files: listed.iter().take(files::MAX_LISTED).cloned().collect(),
                more: listed.len().saturating_sub(files::MAX_LISTED),
            };
            let fresh = files::diff(tree, &spec.layout, true, &RemoteTree::default());
            (
                Build::Sync {
                    base: None,
                    work: fresh,
                },
                lines,
                Some(shown),
            )
        }
        (build, _) => (build, lines, None),
    };
    if let ReleaseSource::Sync { tree, src, .. } = &spec.source {
        for x in &spec.steps.shared {
            let inside = format!("{x}/");
            if tree.files.contains_key(x) || tree.files.keys().any(|f| f.starts_with(&inside)) {
                return Err(Refused(format!(
                    "shared `{x}` is also in the release source ({src}/{x}): remove it from the source (shared files live in {}/shared) or from `shared`",
                    spec.dest.trim_end_matches('/')
                )));
            }
        }
    }
    let id = sha256_hex(format!("{id}\0{}", spec.steps.digest()).as_bytes())[..12].to_string();
    Ok((id, build, lines, shown))
}

/// The id the source alone gives, and how to build it.
fn from_source(
    spec: &ReleaseSpec,
    seen: &Seen,
    current: Option<&str>,
) -> Result<(String, Build, Vec<String>), Refused> {
    match &spec.source {
        ReleaseSource::Sync { tree, .. } => {
            let id = tree.digest(&spec.layout)[..12].to_string();
            // Against the live release when there is one, else from nothing.
            let live = seen.tree.filter(|t| {
                t.state == TreeState::Dir && current.is_some_and(|c| seen.history.exists(c))
            });
            let base = live.and(current.map(str::to_string));
            let empty = RemoteTree::default();
            let work = files::diff(tree, &spec.layout, true, live.unwrap_or(&empty));
            let lines = if base.is_some() {
                work.details()
            } else {
                vec![format!("{} files", tree.files.len())]
            };
            Ok((id, Build::Sync { base, work }, lines))
        }
        ReleaseSource::Git { repo, version, .. } => {
            let (commit, reference) = repo::wanted(repo, version, seen.remote)?;
            let id = commit[..12].to_string();
            let at = if reference == commit {
                short(&commit).to_string()
            } else {
                format!("{} ({version})", short(&commit))
            };
            Ok((
                id,
                Build::Git { commit, reference },
                vec![format!("commit {at}")],
            ))
        }
    }
}

/// Plans one release folder: a pure function of the spec and what the probe saw.
pub fn plan(spec: &ReleaseSpec, seen: &Seen) -> Result<Option<Planned<ReleaseWork>>, Refused> {
    match &seen.dest.kind {
        PathKind::Missing | PathKind::Directory { .. } => {}
        _ => return Err(Refused("something else than a folder stands there".into())),
    }
    let current = match &seen.current.kind {
        PathKind::Missing | PathKind::Link { .. } => current_id(seen.current),
        _ => {
            return Err(Refused(format!(
                "{} is not a symbolic link; move it away first",
                spec.current()
            )))
        }
    };
    let h = seen.history;
    let log_ids: Vec<&str> = h.log.iter().map(|(i, _)| i.as_str()).collect();
    let mut shown = None;
    let (id, build, mut lines, log) = match &spec.pin {
        None => {
            let (id, build, lines, listed) = wanted(spec, seen, current.as_deref())?;
            shown = listed;
            let mut log: Vec<(String, String)> =
                h.log.iter().filter(|(i, _)| i != &id).cloned().collect();
            log.push((id.clone(), String::new()));
            (
                id.clone(),
                (!h.exists(&id)).then_some(build),
                lines,
                Some(log),
            )
        }
        Some(pin) => {
            let id = match pin {
                Pin::Id(id) => {
                    if !h.exists(id) {
                        let have: Vec<&str> = h
                            .entries
                            .iter()
                            .map(String::as_str)
                            .filter(|e| is_id(e))
                            .collect();
                        return Err(Refused(format!(
                            "release {id} is not on this host (it has: {})",
                            if have.is_empty() {
                                "none".to_string()
                            } else {
                                have.join(", ")
                            }
                        )));
                    }
                    id.clone()
                }
                Pin::Previous => {
                    let Some(cur) = current.as_deref() else {
                        return Err(Refused("no live release to go back from".into()));
                    };
                    let before: Vec<&str> = match log_ids.iter().rposition(|i| *i == cur) {
                        Some(pos) => log_ids[..pos].to_vec(),
                        None => log_ids.clone(),
                    };
                    match before.iter().rev().find(|i| **i != cur && h.exists(i)) {
                        Some(p) => p.to_string(),
                        None => {
                            return Err(Refused(format!(
                                "no release before {cur} is left to go back to (see {})",
                                spec.log_path()
                            )))
                        }
                    }
                }
            };
            (id, None, Vec::new(), None)
        }
    };
    let switch = current.as_deref() != Some(id.as_str());
    // Keep the newest `keep` releases of the history (and the live one); others go.
    let order: Vec<&str> = match &log {
        Some(l) => l.iter().map(|(i, _)| i.as_str()).collect(),
        None => log_ids.clone(),
    };
    let mut keep: BTreeSet<&str> = order
        .iter()
        .rev()
        .filter(|i| h.exists(i) || **i == id)
        .take(spec.keep.max(1))
        .copied()
        .collect();
    keep.insert(id.as_str());
    let prune: Vec<String> = h
        .entries
        .iter()
        .filter(|e| is_id(e) && !keep.contains(e.as_str()))
        .cloned()
        .collect();
    // A folder made by this run gets its owner anyway (see `apply_fragment`).
    let dest_exists = matches!(seen.dest.kind, PathKind::Directory { .. });
    let chown_dest = dest_exists
        && (spec
            .layout
            .owner
            .as_ref()
            .is_some_and(|o| o != &seen.dest.owner)
            || spec
                .layout
                .group
                .as_ref()
                .is_some_and(|g| g != &seen.dest.group));
    let log_changes = log
        .as_ref()
        .is_some_and(|l| l.iter().map(|(i, _)| i.as_str()).collect::<Vec<_>>() != log_ids);
    if !switch && build.is_none() && prune.is_empty() && !chown_dest && !log_changes {
        return Ok(None);
    }
    let mut details = Vec::new();
    if switch {
        details.push(match (&current, &spec.pin) {
            (Some(c), None) => format!("release {c} → {id}"),
            (Some(c), Some(_)) => format!("rollback {c} → {id}"),
            (None, _) => format!("release {id}"),
        });
        if build.is_none() && spec.pin.is_none() {
            details.push(format!("{id} is on the host already: switch only"));
            lines.clear();
        }
        details.append(&mut lines);
        if build.is_some() {
            details.extend(steps_details(spec));
        }
    } else if build.is_some() {
        // The live release is not on the host as a finished release: its build was cut short
        // (`releases/.building-ID` stands). It is built again where it was.
        details.push(format!(
            "release {id} was left unfinished by an interrupted run: built again"
        ));
        details.extend(steps_details(spec));
    }
    // The files listed are those the new release changes against the live one.
    let files = match (&build, switch, shown) {
        (Some(_), true, Some(listed)) => listed,
        (
            Some(Build::Sync {
                base: Some(_),
                work,
            }),
            true,
            _,
        ) => work.file_list(),
        _ => FileList::default(),
    };
    if !prune.is_empty() {
        details.push(format!("remove old releases {}", prune.join(", ")));
    }
    if chown_dest {
        details.push(format!(
            "owner {}:{} → {}:{}",
            seen.dest.owner,
            seen.dest.group,
            spec.layout.owner.as_deref().unwrap_or(&seen.dest.owner),
            spec.layout.group.as_deref().unwrap_or(&seen.dest.group)
        ));
    }
    let action = if current.is_none() && switch {
        Action::Create
    } else {
        Action::Update
    };
    Ok(Some(Planned {
        action,
        details,
        work: ReleaseWork {
            id,
            build,
            switch,
            log: if log_changes { log } else { None },
            log_note: source_note(&spec.source),
            prune,
            chown_dest,
            files,
        },
    }))
}

/// What the plan says of the shared links and build steps of a new release.
fn steps_details(spec: &ReleaseSpec) -> Vec<String> {
    let st = &spec.steps;
    let mut d = Vec::new();
    if !st.shared.is_empty() {
        d.push(format!(
            "link shared {} (from {}/shared)",
            st.shared.join(", "),
            spec.dest.trim_end_matches('/')
        ));
    }
    if !st.build.is_empty() {
        let who = spec
            .layout
            .owner
            .as_deref()
            .unwrap_or("the owner of the release");
        let cmds: Vec<String> = st.build.iter().map(|c| format!("`{c}`")).collect();
        d.push(format!("build as {who}: {}", cmds.join(", ")));
    }
    d
}

/// The build commands as the body of a here-document: HOME, USER and LOGNAME of the user it
/// runs as, the environment, then each command in order; the first to fail stops the build,
/// saying which.
fn build_body(st: &Steps) -> String {
    let mut b = String::from(
        "USER=$(id -un) && LOGNAME=$USER && HOME=$(getent passwd \"$USER\" | cut -d: -f6) && export USER LOGNAME HOME\n",
    );
    for (k, v) in &st.environment {
        b.push_str(&format!("export {k}={}\n", shell_quote(v)));
    }
    for c in &st.build {
        let q = shell_quote(c);
        b.push_str(&format!(
            "printf '+ %s\\n' {q} >&2\n(eval {q}) </dev/null 1>&2 || {{ printf 'build step failed (exit status %s): %s\\n' \"$?\" {q} >&2; exit 1; }}\n"
        ));
    }
    b
}

/// The lines linking the shared paths into the new release `n` (in root's private folder,
/// or a `.tmp-` folder of a login without root): no part of the way may be a link, and a path
/// already in the source is an error.
fn shared_lines(spec: &ReleaseSpec, n: &str, undo: &str) -> String {
    let q = |p: &str| shell_quote(p);
    let dest = spec.dest.trim_end_matches('/');
    let mut s = String::new();
    for x in &spec.steps.shared {
        let parts: Vec<&str> = x.split('/').collect();
        for k in 1..parts.len() {
            let anc = parts[..k].join("/");
            s.push_str(&format!(
                "if [ -L {n}/{a} ]; then printf '%s\\n' {m} >&2; {undo}; fi\n",
                a = q(&anc),
                m = q(&format!(
                    "shared {x}: {anc} of the release source is a symbolic link"
                ))
            ));
        }
        s.push_str(&format!(
            "if [ -e {n}/{p} ] || [ -L {n}/{p} ]; then printf '%s\\n' {m} >&2; {undo}; fi\n",
            p = q(x),
            m = q(&format!(
                "shared {x}: the release source has {x} too; remove it from the source (shared files live in {dest}/shared) or from `shared`"
            ))
        ));
        if let Some((parent, _)) = x.rsplit_once('/') {
            s.push_str(&format!("mkdir -p -- {n}/{} || {undo}\n", q(parent)));
        }
        s.push_str(&format!(
            "ln -s -- {} {n}/{} || {undo}\n",
            q(&format!("{dest}/shared/{x}")),
            q(x)
        ));
    }
    s
}

/// The apply step of one release folder (inside the apply script: `play_ok`, `play_fail`,
/// `play_desync`): `(script, stdin)`.
pub fn apply_fragment(
    index: usize,
    spec: &ReleaseSpec,
    w: &ReleaseWork,
) -> Result<(String, Vec<u8>), ArchiveError> {
    let i = index;
    let q = |p: &str| shell_quote(p);
    let dest = q(&spec.dest);
    let rels = q(&spec.releases());
    let mut s = format!(
        "# release {}\nprintf '\\0play-step\\0%s\\0' {i} >&2\numask 022\n",
        spec.dest
    );
    let mut stdin = Vec::new();
    let chown = chown_spec(&spec.layout.owner, &spec.layout.group).map(|c| q(&c));
    // DEST and its `releases/` may belong to the owner: every step works from inside the pinned
    // folder (`play_enter`), on names, never through a path the owner could swap for a link;
    // a new release is built in root's private folder and renamed into place.
    s.push_str(&format!(
        "mkdir -p -- {dest} || play_fail {i}
play_enter {dest} || play_fail {i}
"
    ));
    s.push_str(&format!(
        "if [ -L releases ]; then printf '%s\\n' {} >&2; play_fail {i}; fi
[ -d releases ] || mkdir -- releases || play_fail {i}
",
        q(&format!(
            "{}: a symbolic link; play does not follow it",
            spec.releases()
        ))
    ));
    let own_dest = chown.as_ref().filter(|_| w.chown_dest || w.build.is_some());
    if let Some(c) = own_dest {
        s.push_str(&format!(
            "chown -- {c} . || play_fail {i}
"
        ));
    }
    if w.build.is_some() && !spec.steps.shared.is_empty() {
        // DEST/shared as root (not a link), its entries as DEST's owner: root makes nothing
        // inside a tree another user controls.
        s.push_str(&format!(
            "if [ -L shared ]; then printf '%s\\n' {} >&2; play_fail {i}; fi\n[ -d shared ] || mkdir -- shared || play_fail {i}\n",
            q(&format!(
                "{}/shared: a symbolic link; play does not follow it",
                spec.dest.trim_end_matches('/')
            ))
        ));
        if let Some(c) = &chown {
            s.push_str(&format!("chown -h -- {c} shared || play_fail {i}\n"));
        }
        s.push_str(&format!("u=$(stat -c %U .) || play_fail {i}\n"));
        for x in &spec.steps.shared {
            let p = q(&format!("shared/{x}"));
            s.push_str(&format!(
                "if ! [ -e {p} ] && ! [ -L {p} ]; then (umask 022; play_as \"$u\" mkdir -p -- {p}) </dev/null 1>&2 || play_fail {i}; fi\n"
            ));
        }
    }
    s.push_str(&format!(
        "play_enter {rels} || play_fail {i}
"
    ));
    if let Some(c) = own_dest {
        s.push_str(&format!(
            "chown -- {c} . || play_fail {i}
"
        ));
    }
    // Leftovers of an interrupted run (of a login without root, root builds elsewhere; a
    // build that was cut short).
    s.push_str(
        "rm -rf -- .tmp-*
for m in .building-*; do
  case ${m#.building-} in *[!0-9a-f]*|'') continue ;; esac
  rm -rf -- \"${m#.building-}\" \"$m\"
done
",
    );
    if let Some(build) = &w.build {
        let n = "\"$n\"";
        let undo = format!("{{ rm -rf -- \"$b\"; play_fail {i}; }}");
        s.push_str(&format!(
            "play_pd || play_fail {i}
if [ \"$pd\" = . ]; then b=$(mktemp -d -- .tmp-XXXXXX); else b=$(mktemp -d -- \"$pd/play.XXXXXX\"); fi || play_fail {i}
n=\"$b/r\"
"
        ));
        match (build, &spec.source) {
            (Build::Sync { base, work }, ReleaseSource::Sync { tree, .. }) => {
                match base {
                    Some(b) => s.push_str(&format!(
                        "cp -a --reflink=auto -- {} {n} 1>&2 || {undo}\n",
                        q(b)
                    )),
                    None => s.push_str(&format!("mkdir -- {n} || {undo}\n")),
                }
                s.push_str(
                    &files::removal_lines(i, n, work, "").replace(&format!("play_fail {i}"), &undo),
                );
                if !work.upload.is_empty() || !work.new_dirs.is_empty() {
                    let tar = files::archive(tree, &spec.layout, work)?;
                    s.push_str(&files::extract_lines(i, n, tar.len(), &undo, ""));
                    stdin = files::stdin_with_marker(i, &tar);
                }
                s.push_str(
                    &files::attr_lines(i, n, &Layout::default(), work, "")
                        .replace(&format!("play_fail {i}"), &undo),
                );
            }
            (
                Build::Git { commit, reference },
                ReleaseSource::Git {
                    repo, depth, ssh, ..
                },
            ) => {
                // The cache: root-only when root runs this (see `ReleaseSpec::cache`).
                let root = q(spec.cache_root.trim_end_matches('/'));
                let depth = depth.map(|d| format!(" --depth {d}")).unwrap_or_default();
                s.push_str(GIT_FN);
                if !ssh.is_empty() {
                    s.push_str(repo::GIT_KEY_FN);
                }
                s.push_str(&repo::upload_pack_lines(repo));
                s.push_str(&format!(
                    "if [ \"$(id -u)\" = 0 ]; then\n  c={}\n  (umask 077 && mkdir -p -- {root}) && chmod 0700 {root} || {undo}\nelse\n  c={}\nfi\n",
                    q(&spec.cache()),
                    q(&spec.user_cache())
                ));
                s.push_str(&format!(
                    "[ -d \"$c\" ] || {GIT} init -q --bare -- \"$c\" </dev/null 1>&2 || {undo}\n"
                ));
                s.push_str(&ssh.begin("", &undo));
                s.push_str(&format!(
                    "{GIT} -C \"$c\" fetch ${{pu:+\"$pu\"}} -q --no-tags{depth} -- {} {} </dev/null 1>&2 || {undo}\n",
                    q(repo),
                    q(reference)
                ));
                s.push_str(ssh.end());
                s.push_str(&format!("mkdir -- {n} || {undo}\n"));
                s.push_str(&format!(
                    "{GIT} -C \"$c\" archive --format=tar -o \"$c/play-archive.tar\" {} </dev/null 1>&2 || {undo}\n",
                    q(commit)
                ));
                s.push_str(&format!("tar -x -m --no-same-owner -f \"$c/play-archive.tar\" -C {n} 1>&2 || {{ rm -f -- \"$c/play-archive.tar\"; rm -rf -- \"$b\"; play_fail {i}; }}\nrm -f -- \"$c/play-archive.tar\"\n"));
                s.push_str(&format!(
                    "printf '%s\\n' {} > {n}/REVISION || {undo}\n",
                    q(commit)
                ));
            }
            _ => {
                s.push_str(&format!(
                    "printf '%s\\n' 'internal error: release build does not match its source' >&2; play_fail {i}\n"
                ));
            }
        }
        s.push_str(&shared_lines(spec, n, &undo));
        s.push_str(&format!(
            "chmod 0{} {n} || {undo}\n",
            mode_str(files::DIR_MODE)
        ));
        if let Some(c) = &chown {
            s.push_str(&format!("chown -R -- {c} {n} || {undo}\n"));
        }
        s.push_str(&format!("sync -f -- {n} || {undo}\n"));
        if spec.steps.build.is_empty() {
            s.push_str(&format!(
                "mv -T -- {n} {} || {undo}\nrmdir -- \"$b\"\n",
                q(&w.id)
            ));
        } else {
            // Built in place (`releases/ID`, its final path: what the build writes may name
            // it) by the release's owner, never root in a tree that user owns. While the
            // folder `releases/.building-ID` stands, the probe does not count the release
            // and the next run removes it; a failed build is removed at once, and `current`
            // is not touched.
            let id = q(&w.id);
            let mark = q(&format!(".building-{}", w.id));
            let gone = format!("{{ play_enter {rels} && rm -rf -- {id} {mark}; play_fail {i}; }}");
            s.push_str(&format!(
                "mkdir -- {mark} || {undo}\nmv -T -- {n} {id} || {{ rmdir -- {mark}; {undo}; }}\nrmdir -- \"$b\"\nplay_enter {} || {gone}\nu=$(stat -c %U .) || {gone}\n",
                q(&spec.release_dir(&w.id))
            ));
            let run = heredoc("play_as \"$u\" sh", &build_body(&spec.steps));
            s.push_str(&format!(
                "(umask 022 && {run}) </dev/null 1>&2\nst=$?\nplay_enter {rels} || play_fail {i}\nif [ \"$st\" -ne 0 ]; then rm -rf -- {id} {mark}; printf '%s\\n' {} >&2; play_fail {i}; fi\n",
                q(&format!(
                    "the build of release {} failed: it was removed; the live release is untouched",
                    w.id
                ))
            ));
            s.push_str(&format!("rm -rf -- {mark} || play_fail {i}\n"));
        }
    }
    if w.switch || w.log.is_some() {
        s.push_str(&format!("play_enter {dest} || play_fail {i}\n"));
    }
    if w.switch {
        s.push_str(&format!(
            "play_pd || play_fail {i}\nif [ \"$pd\" = . ]; then t=.current.play-tmp.$$; else t=\"$pd/link.$$\"; fi\n"
        ));
        s.push_str(&format!(
            "ln -s -- {} \"$t\" || play_fail {i}\n",
            q(&spec.release_dir(&w.id))
        ));
        if let Some(c) = &chown {
            s.push_str(&format!("chown -h -- {c} \"$t\" || play_fail {i}\n"));
        }
        s.push_str(&format!(
            "mv -f -T -- \"$t\" current || play_fail {i}\nt=\n"
        ));
    }
    if let Some(log) = &w.log {
        s.push_str(&format!(
            "play_tmp {} || play_fail {i}\n",
            q(&format!(
                "{}/.{LOG}.play-tmp.XXXXXX",
                spec.dest.trim_end_matches('/')
            ))
        ));
        s.push_str("{\n");
        for (id, rest) in log {
            if id == &w.id && rest.is_empty() {
                s.push_str(&format!(
                    "  printf '%s %s %s\\n' {} \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\" {}\n",
                    q(id),
                    q(&w.log_note)
                ));
            } else {
                s.push_str(&format!(
                    "  printf '%s\\n' {}\n",
                    q(format!("{id} {rest}").trim_end())
                ));
            }
        }
        s.push_str(&format!("}} > \"$t\" || play_fail {i}\n"));
        s.push_str(&format!(
            "chmod 0644 \"$t\" && mv -f -T -- \"$t\" {} || play_fail {i}\nt=\n",
            q(LOG)
        ));
    }
    if !w.prune.is_empty() {
        let dirs: Vec<String> = w.prune.iter().map(|p| q(&spec.release_dir(p))).collect();
        // `rm -rf` never follows a link; the folders are named from the pinned DEST.
        s.push_str(&format!("rm -rf -- {} || play_fail {i}\n", dirs.join(" ")));
    }
    s.push_str(&format!("umask 077\nplay_ok {i}\n"));
    Ok((s, stdin))
}

impl super::Spec for ReleaseSpec {
    type Work = ReleaseWork;
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        p.add_fragment(probe_fragment(std::slice::from_ref(&self.dest)));
        if self.pin.is_none() {
            if let Some((root, exclude)) = self.probe_tree() {
                p.add_tree(&root, &exclude);
            }
            if let ReleaseSource::Git {
                repo, version, ssh, ..
            } = &self.source
            {
                p.add_remote(repo, version, ssh);
            }
        }
    }
    fn plan_work(
        &self,
        observed: &super::Observed,
        _changed: &[&str],
    ) -> Result<Option<super::deploy::Planned<Self::Work>>, super::deploy::Refused> {
        let o = &observed.deploy;
        let history = seen_history(o, &self.dest);
        let tree = match (self.probe_tree(), &self.pin) {
            (Some((root, _)), None) => Some(
                o.trees
                    .get(&root)
                    .ok_or_else(|| super::deploy::not_probed("the live release"))?,
            ),
            _ => None,
        };
        let remote = match &self.source {
            ReleaseSource::Git { repo, version, .. } => {
                o.remotes.get(&(repo.clone(), version.clone()))
            }
            ReleaseSource::Sync { .. } => None,
        };
        let (dest, current) = (observed.path(&self.dest), observed.path(&self.current()));
        let seen = Seen {
            dest: &dest,
            current: &current,
            history: &history,
            tree,
            remote,
        };
        plan(self, &seen)
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
        let (key, deploy) = (self.key(), &observed.deploy);
        if deploy.record(ENTRIES_RECORD, key).is_some() {
            let h = seen_history(deploy, key);
            out.insert(format!("release {key}"), super::digest_of(&h));
        }
        for (root, t) in &deploy.trees {
            out.insert(format!("tree {root}"), super::digest_of(t));
        }
        for ((repo, version), r) in &deploy.remotes {
            out.insert(format!("remote {repo} {version}"), super::digest_of(r));
        }
    }
    fn accounts(&self) -> Vec<(super::accounts::Account, &str)> {
        super::accounts::pair(&self.layout.owner, &self.layout.group)
    }
    const DEF: &'static super::registry::KindDef = &DEF;
    fn key(&self) -> &str {
        &self.dest
    }
    fn probe_paths(&self) -> Vec<String> {
        ReleaseSpec::probe_paths(self)
    }
    fn has_nul(&self) -> bool {
        super::any_nul(&[
            Some(&self.dest),
            self.layout.owner.as_deref(),
            self.layout.group.as_deref(),
        ]) || self
            .steps
            .shared
            .iter()
            .chain(&self.steps.build)
            .any(|x| x.contains('\0'))
            || self
                .steps
                .environment
                .iter()
                .any(|(k, v)| k.contains('\0') || v.contains('\0'))
            || match &self.source {
                ReleaseSource::Git { repo, version, .. } => {
                    super::any_nul(&[Some(repo), Some(version)])
                }
                ReleaseSource::Sync { tree, .. } => tree.has_nul(),
            }
    }
    fn written(&self) -> Option<&str> {
        Some(&self.dest)
    }
    fn owned_trees(&self) -> Vec<(String, String)> {
        [self.current(), self.releases()]
            .into_iter()
            .map(|inner| {
                let why = format!("release {} replaces {inner} on every switch", self.dest);
                (inner, why)
            })
            .collect()
    }
    fn tree_root(&self) -> Option<&str> {
        Some(&self.dest)
    }
    fn settle(&mut self, work: &Self::Work) {
        if self.pin.is_some() {
            self.pin = Some(Pin::Id(work.id.clone()));
        }
    }
    fn file_list(&self, work: &Self::Work) -> super::FileList {
        work.files.clone()
    }
}

/// The registry line of `release:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Release,
    name: "release",
    keys: &[
        Key::Any("from"),
        Key::Any("keep"),
        Key::Text("owner"),
        Key::Text("group"),
        Key::Any("mode"),
        Key::Any("shared"),
        Key::Any("build"),
        Key::Any("environment"),
    ],
    is_path: true,
    watchable: true,
    docs_section: "`release: DEST` — the code, as capistrano-style releases",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key: super::registry::path_key,
    render: super::registry::Render::Fn(from_entry),
    check_value: super::registry::any_value,
    records: &[
        super::registry::Record {
            tag: LOG_RECORD,
            fields: 2,
            per_host: false,
        },
        super::registry::Record {
            tag: ENTRIES_RECORD,
            fields: 2,
            per_host: false,
        },
    ],
    check_entry,
};

/// [`super::registry::KindDef::check_entry`]: a release needs `from`.
fn check_entry(entry: &crate::playbook::RawResource) -> Result<(), String> {
    match entry.has("from") {
        false => Err("a release needs `from: {sync: FOLDER}` or `from: {git: REPO}`".into()),
        true => Ok(()),
    }
}

/// `release:` from its entry (its registry line's `render`).
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, attrs, state } = b;
    k.no_state("release", &state)?;
    let source = source_of(k)?;
    let keep = match k.number("keep")? {
        None => DEFAULT_KEEP,
        Some(0) => return Err(k.fail("keep", "keep must be at least 1".into())),
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
    };
    let pin = match k.extra_var(RELEASE_PIN_VAR) {
        None => None,
        Some(v) => {
            let text = match v {
                YValue::String(s) => s.trim().to_string(),
                other => crate::yaml::to_string(other).trim().to_string(),
            };
            match text.as_str() {
                "" => None,
                "previous" => Some(Pin::Previous),
                id if is_id(id) => Some(Pin::Id(id.to_string())),
                other => {
                    return Err(k.fail(
                        "release",
                        format!(
                            "-e {RELEASE_PIN_VAR}={other}: expected `previous` or a release id (12 hex digits)"
                        ),
                    ))
                }
            }
        }
    };
    Ok(super::Desired::Release(ReleaseSpec {
        dest: key,
        source,
        layout: Layout {
            owner: attrs.owner,
            group: attrs.group,
            mode: attrs.mode,
        },
        keep,
        pin,
        cache_root: CACHE_ROOT.into(),
        steps: {
            let shared = k.list("shared")?.unwrap_or_default();
            check_shared_list(&shared).map_err(|m| k.fail("shared", m))?;
            let build = k.list("build")?.unwrap_or_default();
            if build.iter().any(|c| c.trim().is_empty()) {
                return Err(k.fail("build", "build: an empty command".into()));
            }
            let environment = k.mapping("environment")?;
            super::check_environment(&environment).map_err(|m| k.fail("environment", m))?;
            Steps {
                shared,
                build,
                environment,
            }
        },
    }))
}

/// `from: {sync: FOLDER, exclude: [...]}` or `from: {git: REPO, version: V, depth: N, key: K,
/// known_hosts: H}`.
fn source_of(k: &Keys) -> Result<ReleaseSource, ResolveError> {
    let bad = || {
        k.fail(
            "from",
            "from: expected `{sync: FOLDER, exclude: [...]}` or `{git: REPO, version: V, depth: N}`"
                .into(),
        )
    };
    let Some(YValue::Mapping(m)) = k.raw().get("from") else {
        return Err(bad());
    };
    let get = |name: &str| {
        m.iter()
            .find(|(key, _)| matches!(key, YValue::String(s) if s == name))
            .map(|(_, v)| v.clone())
    };
    for (key, _) in m {
        let known = matches!(key, YValue::String(s) if ["sync", "exclude", "git", "version", "depth", "key", "known_hosts"].contains(&s.as_str()));
        if !known {
            return Err(k.fail(
                "from",
                format!(
                    "from: unknown key `{}` (sync, exclude, git, version, depth, key, known_hosts)",
                    crate::yaml::to_string(key).trim()
                ),
            ));
        }
    }
    let text = |name: &str| -> Result<Option<String>, ResolveError> {
        match get(name) {
            None => Ok(None),
            Some(v) => (k.scalar_of("from", &v)?)
                .map(Some)
                .ok_or_else(|| k.fail("from", format!("from: `{name}` must be a string"))),
        }
    };
    match (text("sync")?, text("git")?) {
        (Some(src), None) => {
            if ["version", "depth", "key", "known_hosts"]
                .iter()
                .any(|n| get(n).is_some())
            {
                return Err(k.fail(
                    "from",
                    "from: `version`, `depth`, `key` and `known_hosts` go with `git`".into(),
                ));
            }
            let exclude = k
                .list_of("from", get("exclude").as_ref())?
                .unwrap_or_default();
            // A bad pattern is located at the entry, as it always was (`exclude` is no key
            // of a release).
            let (src, tree) = k.source_tree("from", &src, ("exclude", &exclude))?;
            Ok(ReleaseSource::Sync { src, tree, exclude })
        }
        (None, Some(repo)) => {
            if get("exclude").is_some() {
                return Err(k.fail("from", "from: `exclude` goes with `sync`".into()));
            }
            repo::check_repo(&repo).map_err(|m| k.fail("from", format!("from: {m}")))?;
            let version = text("version")?.unwrap_or_else(|| "HEAD".into());
            repo::check_version(&version).map_err(|m| k.fail("from", format!("from: {m}")))?;
            let depth = match k.id_of("from", get("depth").as_ref())? {
                Some(0) => return Err(k.fail("from", "from: depth must be at least 1".into())),
                d => d,
            };
            let ssh = k.git_ssh(("from", text("key")?), ("from", text("known_hosts")?))?;
            Ok(ReleaseSource::Git {
                repo,
                version,
                depth,
                ssh,
            })
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::sha256_hex;
    use crate::resources::source::files::{LocalFile, RemoteEntry};

    #[test]
    fn the_history_is_read_from_the_release_records() {
        use crate::resources::deploy::{absorb, DeployObserved};
        let mut o = DeployObserved::default();
        absorb(
            &mut o,
            b"relent",
            &[b"/srv/app", b"0123456789ab/ba9876543210/"],
        )
        .unwrap();
        absorb(
            &mut o,
            b"relh",
            &[
                b"/srv/app",
                b"0123456789ab deployed
not an id
",
            ],
        )
        .unwrap();
        absorb(&mut o, b"relent", &[b"/srv/empty", b""]).unwrap();
        let h = seen_history(&o, "/srv/app");
        assert_eq!(h.entries, ["0123456789ab", "ba9876543210"]);
        assert_eq!(
            h.log,
            [("0123456789ab".to_string(), "deployed".to_string())]
        );
        assert_eq!(seen_history(&o, "/srv/empty"), History::default());
        assert_eq!(seen_history(&o, "/srv/unseen"), History::default());
        let f = probe_fragment(&["/srv/app".into()]);
        assert!(f.contains(r#"printf 'relent\0%s\0%s\0' "$d" "$n""#), "{f}");
    }

    const C1: &str = "aaaaaaaaaaaabbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const C2: &str = "ccccccccccccdddddddddddddddddddddddddddd";

    fn tree(files: &[(&str, &[u8])]) -> Arc<LocalTree> {
        let mut t = LocalTree::default();
        for (p, b) in files {
            t.files.insert(
                p.to_string(),
                LocalFile {
                    bytes: b.to_vec(),
                    sha256: sha256_hex(b),
                    executable: false,
                },
            );
        }
        Arc::new(t)
    }

    fn sync_spec(files: &[(&str, &[u8])]) -> ReleaseSpec {
        ReleaseSpec {
            dest: "/srv/hello".into(),
            source: ReleaseSource::Sync {
                src: "files/app".into(),
                tree: tree(files),
                exclude: vec![],
            },
            layout: Layout::default(),
            keep: 3,
            pin: None,
            cache_root: CACHE_ROOT.into(),
            steps: Steps::default(),
        }
    }

    fn git_spec(version: &str) -> ReleaseSpec {
        ReleaseSpec {
            dest: "/srv/hello".into(),
            source: ReleaseSource::Git {
                repo: "/srv/repo.git".into(),
                version: version.into(),
                depth: Some(1),
                ssh: repo::GitSsh::default(),
            },
            layout: Layout::default(),
            keep: 3,
            pin: None,
            cache_root: CACHE_ROOT.into(),
            steps: Steps::default(),
        }
    }

    fn dir() -> PathState {
        PathState {
            kind: PathKind::Directory { empty: None },
            mode: 0o755,
            owner: "root".into(),
            group: "root".into(),
        }
    }

    fn link(id: &str) -> PathState {
        PathState {
            kind: PathKind::Link {
                target: format!("/srv/hello/releases/{id}"),
            },
            mode: 0o777,
            owner: "root".into(),
            group: "root".into(),
        }
    }

    fn history(ids: &[&str]) -> History {
        History {
            log: ids
                .iter()
                .map(|i| (i.to_string(), "2024-01-01T00:00:00Z sync files/app".into()))
                .collect(),
            entries: ids.iter().map(|i| i.to_string()).collect(),
        }
    }

    fn live(files: &[(&str, &[u8])]) -> RemoteTree {
        let mut r = RemoteTree {
            state: TreeState::Dir,
            ..Default::default()
        };
        for (p, b) in files {
            r.entries.insert(
                p.to_string(),
                RemoteEntry {
                    kind: 'f',
                    mode: 0o644,
                    owner: "root".into(),
                    group: "root".into(),
                    sha256: Some(sha256_hex(b)),
                },
            );
        }
        r
    }

    fn id_of(spec: &ReleaseSpec) -> String {
        match &spec.source {
            ReleaseSource::Sync { tree, .. } => tree.digest(&spec.layout)[..12].to_string(),
            ReleaseSource::Git { .. } => unreachable!(),
        }
    }

    #[test]
    fn first_release_is_created_from_nothing() {
        let spec = sync_spec(&[("hello.py", b"v1"), ("VERSION", b"1")]);
        let id = id_of(&spec);
        let h = History::default();
        let seen = Seen {
            dest: &PathState::missing(),
            current: &PathState::missing(),
            history: &h,
            tree: Some(&RemoteTree::default()),
            remote: None,
        };
        let p = plan(&spec, &seen).unwrap().unwrap();
        assert_eq!(p.action, Action::Create);
        assert_eq!(
            p.details,
            vec![format!("release {id}"), "2 files".to_string()]
        );
        assert_eq!(p.work.id, id);
        assert!(p.work.switch);
        let Some(Build::Sync { base: None, work }) = &p.work.build else {
            panic!("{p:?}")
        };
        assert_eq!(work.upload.len(), 2);
        let (script, stdin) = apply_fragment(1, &spec, &p.work).unwrap();
        // Built in a private folder, renamed into the pinned releases folder.
        assert!(
            script.contains("play_enter /srv/hello/releases"),
            "{script}"
        );
        assert!(script.contains("mkdir -- \"$n\""), "{script}");
        assert!(
            script.contains(&format!("mv -T -- \"$n\" {id} ||")),
            "{script}"
        );
        assert!(script.contains("mv -f -T -- \"$t\" current"), "{script}");
        assert!(script.contains("date -u"), "{script}");
        assert!(stdin.ends_with(b"play-end 1\n"));
    }

    #[test]
    fn the_same_source_is_no_change() {
        let spec = sync_spec(&[("hello.py", b"v1")]);
        let id = id_of(&spec);
        let h = history(&[&id]);
        let t = live(&[("hello.py", b"v1")]);
        let seen = Seen {
            dest: &dir(),
            current: &link(&id),
            history: &h,
            tree: Some(&t),
            remote: None,
        };
        assert_eq!(plan(&spec, &seen).unwrap(), None);
    }

    #[test]
    fn one_changed_file_makes_a_new_release_listing_that_file() {
        let old = sync_spec(&[("hello.py", b"v1"), ("VERSION", b"1")]);
        let old_id = id_of(&old);
        let spec = sync_spec(&[("hello.py", b"v2"), ("VERSION", b"1")]);
        let id = id_of(&spec);
        assert_ne!(id, old_id);
        let h = history(&[&old_id]);
        let t = live(&[("hello.py", b"v1"), ("VERSION", b"1")]);
        let seen = Seen {
            dest: &dir(),
            current: &link(&old_id),
            history: &h,
            tree: Some(&t),
            remote: None,
        };
        let p = plan(&spec, &seen).unwrap().unwrap();
        assert_eq!(p.action, Action::Update);
        assert_eq!(
            p.details,
            vec![
                format!("release {old_id} → {id}"),
                "0 added, 1 changed, 0 removed".to_string(),
            ]
        );
        assert_eq!(
            p.work.files.files,
            [(crate::resources::Sign::Changed, "hello.py".to_string())]
        );
        let (script, stdin) = apply_fragment(0, &spec, &p.work).unwrap();
        assert!(
            script.contains(&format!("cp -a --reflink=auto -- {old_id} \"$n\"")),
            "{script}"
        );
        // Only the changed file travels.
        let text = String::from_utf8_lossy(&stdin);
        assert!(
            text.contains("hello.py") && !text.contains("VERSION"),
            "{text}"
        );
        assert!(
            script.contains(&format!(
                "printf '%s\\n' '{old_id} 2024-01-01T00:00:00Z sync files/app'"
            )),
            "{script}"
        );
    }

    #[test]
    fn releases_beyond_keep_are_pruned_oldest_first() {
        let ids = ["111111111111", "222222222222", "333333333333"];
        let spec = sync_spec(&[("a", b"new")]);
        let id = id_of(&spec);
        let h = history(&ids);
        let t = live(&[("a", b"old")]);
        let seen = Seen {
            dest: &dir(),
            current: &link(ids[2]),
            history: &h,
            tree: Some(&t),
            remote: None,
        };
        let p = plan(&spec, &seen).unwrap().unwrap();
        assert_eq!(p.work.prune, vec![ids[0].to_string()]);
        assert!(p
            .details
            .contains(&format!("remove old releases {}", ids[0])));
        let log: Vec<&str> = p
            .work
            .log
            .as_ref()
            .unwrap()
            .iter()
            .map(|(i, _)| i.as_str())
            .collect();
        assert_eq!(log, vec![ids[0], ids[1], ids[2], id.as_str()]);
        // keep: 1 keeps only the new one.
        let mut one = spec.clone();
        one.keep = 1;
        let p = plan(&one, &seen).unwrap().unwrap();
        assert_eq!(
            p.work.prune,
            ids.iter().map(|s| s.to_string()).collect::<Vec<_>>()
        );
        // Unknown folders are never deleted.
        let mut h2 = h.clone();
        h2.entries.push("manual-backup".into());
        let seen2 = Seen {
            history: &h2,
            ..seen
        };
        assert!(!plan(&one, &seen2)
            .unwrap()
            .unwrap()
            .work
            .prune
            .contains(&"manual-backup".to_string()));
    }

    #[test]
    fn back_to_an_existing_release_is_a_switch_only() {
        let spec = sync_spec(&[("a", b"v1")]);
        let id = id_of(&spec);
        let newer = "999999999999";
        let h = history(&[&id, newer]);
        let t = live(&[("a", b"v2")]);
        let seen = Seen {
            dest: &dir(),
            current: &link(newer),
            history: &h,
            tree: Some(&t),
            remote: None,
        };
        let p = plan(&spec, &seen).unwrap().unwrap();
        assert_eq!(p.work.build, None);
        assert!(p.work.switch);
        assert_eq!(
            p.details,
            vec![
                format!("release {newer} → {id}"),
                format!("{id} is on the host already: switch only")
            ]
        );
        let (script, stdin) = apply_fragment(0, &spec, &p.work).unwrap();
        assert!(stdin.is_empty());
        assert!(!script.contains("cp -a"), "{script}");
    }

    #[test]
    fn rollback_goes_to_the_previous_release_by_history() {
        let ids = ["111111111111", "222222222222", "333333333333"];
        let mut spec = sync_spec(&[("a", b"whatever")]);
        spec.pin = Some(Pin::Previous);
        let h = history(&ids);
        let t = live(&[]);
        let seen = Seen {
            dest: &dir(),
            current: &link(ids[2]),
            history: &h,
            tree: Some(&t),
            remote: None,
        };
        let p = plan(&spec, &seen).unwrap().unwrap();
        assert_eq!(p.work.id, ids[1]);
        assert_eq!(p.work.log, None, "a rollback keeps the deploy history");
        assert!(
            p.work.prune.is_empty(),
            "the release rolled back from is kept"
        );
        assert_eq!(p.details, vec![format!("rollback {} → {}", ids[2], ids[1])]);
        // Twice: one more step back.
        let seen_b = Seen {
            current: &link(ids[1]),
            ..seen
        };
        assert_eq!(plan(&spec, &seen_b).unwrap().unwrap().work.id, ids[0]);
        let seen_a = Seen {
            current: &link(ids[0]),
            ..seen
        };
        let e = plan(&spec, &seen_a).unwrap_err();
        assert!(e.0.contains("no release before 111111111111"), "{e}");
        // To a given id; an unknown one is an error listing what exists.
        spec.pin = Some(Pin::Id(ids[0].into()));
        assert_eq!(plan(&spec, &seen).unwrap().unwrap().work.id, ids[0]);
        spec.pin = Some(Pin::Id("abcabcabcabc".into()));
        let e = plan(&spec, &seen).unwrap_err();
        assert!(
            e.0.contains("release abcabcabcabc is not on this host"),
            "{e}"
        );
        assert!(e.0.contains(ids[1]), "{e}");
    }

    #[test]
    fn git_releases_use_the_commit() {
        let spec = git_spec("main");
        let h = History::default();
        let r = Remote::Found {
            commit: C1.into(),
            reference: "refs/heads/main".into(),
        };
        let seen = Seen {
            dest: &PathState::missing(),
            current: &PathState::missing(),
            history: &h,
            tree: None,
            remote: Some(&r),
        };
        let p = plan(&spec, &seen).unwrap().unwrap();
        assert_eq!(p.work.id, &C1[..12]);
        assert_eq!(
            p.details,
            vec![
                format!("release {}", &C1[..12]),
                "commit aaaaaaa (main)".into()
            ]
        );
        let (script, stdin) = apply_fragment(2, &spec, &p.work).unwrap();
        assert!(stdin.is_empty());
        assert!(
            script.contains("-q --no-tags --depth 1 -- /srv/repo.git refs/heads/main"),
            "{script}"
        );
        // The cache is root-only, outside DEST (the owner's), when root runs the script.
        let cache = spec.cache();
        assert!(cache.starts_with("/var/lib/play/cache/"), "{cache}");
        assert!(
            cache.ends_with(".git") && !cache.contains("/srv/hello"),
            "{cache}"
        );
        assert!(
            script.contains(&format!("  c={cache}\n"))
                && script.contains("chmod 0700 /var/lib/play/cache"),
            "{script}"
        );
        assert!(
            script.contains(&format!(
                "archive --format=tar -o \"$c/play-archive.tar\" {C1}"
            )),
            "{script}"
        );
        // Hooks and fsmonitor off, git's ownership guard on.
        assert!(script.contains("-c core.hooksPath=/dev/null -c core.fsmonitor=false"));
        assert!(!script.contains("safe.directory='*'"), "{script}");
        // Moving the version: a new release.
        let h = history(&[&C1[..12]]);
        let r2 = Remote::Found {
            commit: C2.into(),
            reference: "refs/tags/v2".into(),
        };
        let seen = Seen {
            dest: &dir(),
            current: &link(&C1[..12]),
            history: &h,
            tree: None,
            remote: Some(&r2),
        };
        let p = plan(&git_spec("v2"), &seen).unwrap().unwrap();
        assert_eq!(
            p.details[0],
            format!("release {} → {}", &C1[..12], &C2[..12])
        );
        let e = plan(
            &git_spec("nope"),
            &Seen {
                remote: Some(&Remote::NotFound),
                ..seen
            },
        )
        .unwrap_err();
        assert!(e.0.contains("version `nope` not found"), "{e}");
    }

    #[test]
    fn what_stands_in_the_way_is_an_error() {
        let spec = sync_spec(&[("a", b"1")]);
        let h = History::default();
        let file = PathState {
            kind: PathKind::File {
                size: 1,
                sha256: None,
            },
            mode: 0o644,
            owner: "root".into(),
            group: "root".into(),
        };
        let seen = Seen {
            dest: &dir(),
            current: &dir(),
            history: &h,
            tree: None,
            remote: None,
        };
        assert!(plan(&spec, &seen)
            .unwrap_err()
            .0
            .contains("is not a symbolic link"));
        let seen = Seen {
            dest: &file,
            current: &PathState::missing(),
            ..seen
        };
        assert!(plan(&spec, &seen).is_err());
    }

    #[test]
    fn logs_and_ids() {
        let l = parse_log("111111111111 2024-01-01T00:00:00Z sync app\ngarbage\n\n222222222222\n");
        assert_eq!(l.len(), 2);
        assert_eq!(l[1], ("222222222222".into(), String::new()));
        assert_eq!(
            current_id(&link("111111111111")).as_deref(),
            Some("111111111111")
        );
        let odd = PathState {
            kind: PathKind::Link {
                target: "/elsewhere/x".into(),
            },
            ..link("x")
        };
        assert_eq!(current_id(&odd), None);
        let f = probe_fragment(&["/srv/it's".into()]);
        assert!(f.starts_with("set -- '/srv/it'\\''s'\n"), "{f}");
        assert!(f.contains("\"$d\"/releases/*"), "{f}");
    }
}
