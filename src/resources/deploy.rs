//! Shared pieces of the kinds that deploy code and set hosts up: `git:`, `sync:`, `release:`,
//! `package:`, `user:`, `group:`, `command:`, and the file edits `line:`, `block:`, `cron:`.
//!
//! Each kind has a spec, an observed state, a pure `plan` giving [`Planned`] work, a probe
//! fragment (text added to the host's ONE probe script) and an apply fragment (text added to the
//! host's ONE apply script). This module holds what they share: the probe records they add and
//! their parser ([`absorb`]), what the probe must ask ([`DeployProbe`]), what it found
//! ([`DeployObserved`]).
//!
//! # Probe records (NUL-terminated fields, see `probe`)
//!
//! ```text
//! gitls \0 REPO \0 VERSION \0 STATUS \0 TEXT \0   `git ls-remote` exit status and output
//! tree \0 ROOT \0 STATE \0                        a tree to hash: STATE dir|missing|notdir
//! tent \0 ROOT \0 TYPE \0 REL \0 MODE \0 OWNER \0 GROUP \0   one entry of it (find -printf)
//! tsums \0 ROOT \0 TEXT \0                        `sha256sum` of its regular files
//! pwent \0 TEXT \0                                `getent passwd USER...`
//! grent \0 TEXT \0                                `getent group`
//! edf \0 PATH \0 BASE64 \0 STATE \0                 a file `line:`, `block:`, `cron:` edit (`edit`)
//! ```
//!
//! Besides these, the records a kind's registry line owns (`registry::Record`), kept by
//! [`absorb`] for the kind to parse: by key, or once per host for a batched probe.

use std::collections::BTreeMap;

use super::accounts::{self, GroupEntry, Passwd};
use super::edit;
use super::edit::FileSeen;
use super::source::files::{self, RemoteTree};
use super::source::repo::{self, GitSsh, Remote};
use super::{Action, Change, Desired, Kind, Observed, PlanError, Resource};
use crate::transport::shell_quote;

/// A plan refused for a resource: the host's state forbids it, or something it needs is
/// missing (an unknown git version, a package apt does not know).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// A planned change of one of these kinds: what the report shows and the work apply does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned<W> {
    pub action: Action,
    /// Human summaries (`abc1234 → def5678`, `+ app/new.py`).
    pub details: Vec<String>,
    pub work: W,
}

impl<W> Planned<W> {
    /// The same change with its work wrapped (`Work::Git`).
    pub fn map<V>(self, f: impl FnOnce(W) -> V) -> Planned<V> {
        Planned {
            action: self.action,
            details: self.details,
            work: f(self.work),
        }
    }
}

/// `apt-get` as apply runs it (`package:`'s installs and removals, `apt_source:`'s update).
pub const APT: &str = "DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=120 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold";

/// `set -- 'a' 'b' …` (or `set --` for none), every word quoted.
pub fn set_args<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    let mut s = String::from("set --");
    for p in items {
        s.push(' ');
        s.push_str(&shell_quote(p));
    }
    s
}

/// Folder and name of an absolute path (`/a/b` → `/a`, `b`; `/b` → `/`, `b`).
pub fn split_path(path: &str) -> (String, String) {
    let p = path.trim_end_matches('/');
    match p.rfind('/') {
        Some(0) => ("/".into(), p[1..].into()),
        Some(i) => (p[..i].into(), p[i + 1..].into()),
        None => (".".into(), p.into()),
    }
}

/// `PARENT/.NAME.play-WHAT.` for temporary siblings of `path` (same filesystem, so a rename
/// moves them into place atomically).
pub fn sibling_prefix(path: &str, what: &str) -> String {
    let (dir, name) = split_path(path);
    let mut cut = name.len().min(200);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let dir = if dir.ends_with('/') {
        dir
    } else {
        format!("{dir}/")
    };
    format!("{dir}.{}.play-{what}.", &name[..cut])
}

/// Short form of a commit for messages.
pub fn short(commit: &str) -> &str {
    &commit[..commit.len().min(7)]
}

/// One line of `sha256sum` output: (name, lowercase hex). Handles the `\`-escaped form that
/// coreutils uses for names with `\` or a newline.
pub fn parse_sum_line(line: &[u8]) -> Result<(String, String), String> {
    let bad = || format!("bad sha256sum line `{}`", String::from_utf8_lossy(line));
    let (escaped, rest) = match line.strip_prefix(b"\\") {
        Some(r) => (true, r),
        None => (false, line),
    };
    if rest.len() < 66 {
        return Err(bad());
    }
    let (hex, after) = rest.split_at(64);
    if !hex.iter().all(|b| b.is_ascii_hexdigit())
        || after[0] != b' '
        || !matches!(after[1], b' ' | b'*')
    {
        return Err(bad());
    }
    let raw = &after[2..];
    let name = if escaped {
        let mut out = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            if raw[i] == b'\\' {
                match raw.get(i + 1) {
                    Some(b'\\') => out.push(b'\\'),
                    Some(b'n') => out.push(b'\n'),
                    Some(b'r') => out.push(b'\r'),
                    _ => return Err(bad()),
                }
                i += 2;
            } else {
                out.push(raw[i]);
                i += 1;
            }
        }
        out
    } else {
        raw.to_vec()
    };
    Ok((
        String::from_utf8_lossy(&name).into_owned(),
        String::from_utf8_lossy(hex).to_ascii_lowercase(),
    ))
}

/// What the probe must report for these kinds on one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeployProbe {
    /// `(repo, version, ssh)` to resolve with `git ls-remote` (with that deploy key and
    /// known_hosts, when given).
    pub remotes: Vec<(String, String, GitSsh)>,
    /// Trees to list and hash: (root, exclude patterns).
    pub trees: Vec<(String, Vec<String>)>,
    /// Batched probes, by kind: one fragment answering for all of the host's resources of
    /// that kind (see [`DeployProbe::add_batched`]).
    pub batches: BTreeMap<Kind, Batch>,
    /// User names (`getent passwd`).
    pub users: Vec<String>,
    /// Read the group database (`getent group`).
    pub groups: bool,
    /// Text files read whole (`line:`, `block:`, `cron:`).
    pub files: Vec<String>,
    /// Probe fragments of kinds that own their records (`registry::KindDef::records`), each
    /// with the seconds it may take beyond the probe's usual bound (a check it runs).
    pub fragments: Vec<(String, u64)>,
}

/// A kind's batched probe on one host: its items (what each resource asks, in the kind's
/// words) and the function writing the one fragment for all of them, whose records are the
/// kind's `per_host` records (`registry::Record`).
#[derive(Debug, Clone)]
pub struct Batch {
    pub items: Vec<String>,
    pub fragment: fn(&[String]) -> String,
}

impl PartialEq for Batch {
    /// By items: a kind has one fragment function.
    fn eq(&self, other: &Batch) -> bool {
        self.items == other.items
    }
}

impl Eq for Batch {}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, item: T) {
    if !v.contains(&item) {
        v.push(item);
    }
}

impl DeployProbe {
    pub fn add_remote(&mut self, repo: &str, version: &str, ssh: &GitSsh) {
        // One lookup per (repo, version), with the first ssh settings given for it.
        match self
            .remotes
            .iter_mut()
            .find(|(r, v, _)| r == repo && v == version)
        {
            Some((_, _, have)) if have.is_empty() => *have = ssh.clone(),
            Some(_) => {}
            None => self
                .remotes
                .push((repo.to_string(), version.to_string(), ssh.clone())),
        }
    }
    pub fn add_tree(&mut self, root: &str, exclude: &[String]) {
        push_unique(&mut self.trees, (root.to_string(), exclude.to_vec()));
    }
    /// Adds `item` to `kind`'s batched probe, whose one fragment `fragment` writes for all
    /// its items (one `dpkg-query` for every package of the host).
    pub fn add_batched(&mut self, kind: Kind, item: String, fragment: fn(&[String]) -> String) {
        let b = self.batches.entry(kind).or_insert_with(|| Batch {
            items: Vec::new(),
            fragment,
        });
        push_unique(&mut b.items, item);
    }
    pub fn add_user(&mut self, name: &str) {
        push_unique(&mut self.users, name.to_string());
        self.groups = true;
    }
    pub fn add_file(&mut self, path: &str) {
        push_unique(&mut self.files, path.to_string());
    }
    /// A fragment writing records its kind owns (see [`DeployObserved::record`]).
    pub fn add_fragment(&mut self, fragment: String) {
        self.add_slow_fragment(fragment, 0);
    }
    /// [`DeployProbe::add_fragment`] for a fragment that may run for up to `secs` seconds
    /// (a command it runs, bounded by `timeout`): the probe waits that much longer.
    pub fn add_slow_fragment(&mut self, fragment: String, secs: u64) {
        push_unique(&mut self.fragments, (fragment, secs));
    }
    /// The seconds the fragments may take beyond the probe's usual bound.
    pub fn fragment_secs(&self) -> u64 {
        self.fragments.iter().map(|(_, secs)| secs).sum()
    }

    pub fn is_empty(&self) -> bool {
        *self == DeployProbe::default()
    }

    /// What `self` asks for that `have` did not (for a second probe round trip).
    pub fn minus(&self, have: &DeployProbe) -> DeployProbe {
        let diff = |a: &[String], b: &[String]| -> Vec<String> {
            a.iter().filter(|x| !b.contains(x)).cloned().collect()
        };
        DeployProbe {
            remotes: self
                .remotes
                .iter()
                .filter(|x| !have.remotes.contains(x))
                .cloned()
                .collect(),
            trees: self
                .trees
                .iter()
                .filter(|x| !have.trees.contains(x))
                .cloned()
                .collect(),
            // One fragment answers for all of a batch: asked again for every item when one is
            // new.
            batches: (self.batches.iter())
                .filter(|(k, b)| {
                    let had = have.batches.get(*k).map_or(&[][..], |h| &h.items[..]);
                    !diff(&b.items, had).is_empty()
                })
                .map(|(k, b)| (*k, b.clone()))
                .collect(),
            users: if diff(&self.users, &have.users).is_empty() {
                Vec::new()
            } else {
                self.users.clone()
            },
            groups: self.groups && !have.groups,
            files: diff(&self.files, &have.files),
            fragments: (self.fragments.iter())
                .filter(|f| !have.fragments.contains(f))
                .cloned()
                .collect(),
        }
    }

    /// The probe fragment: text to append to the probe script (before its end record).
    pub fn fragment(&self) -> String {
        let mut s = String::new();
        s.push_str(&repo::probe_remotes(&self.remotes));
        for (root, exclude) in &self.trees {
            s.push_str(&files::probe_tree(root, exclude));
        }
        for b in self.batches.values() {
            s.push_str(&(b.fragment)(&b.items));
        }
        if !self.users.is_empty() {
            s.push_str(&format!(
                "{}\nprintf 'pwent\\0'\ngetent passwd -- \"$@\"\nprintf '\\0'\n",
                set_args(&self.users)
            ));
        }
        if self.groups {
            s.push_str("printf 'grent\\0'\ngetent group\nprintf '\\0'\n");
        }
        s.push_str(&edit::probe_fragment(&self.files));
        for (f, _) in &self.fragments {
            s.push_str(f);
        }
        s
    }
}

/// What the probe found for these kinds on one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeployObserved {
    /// By (repo, version).
    pub remotes: BTreeMap<(String, String), Remote>,
    /// By root.
    pub trees: BTreeMap<String, RemoteTree>,
    /// `None` when not asked; by name (users that do not exist are absent).
    pub users: Option<BTreeMap<String, Passwd>>,
    pub groups: Option<BTreeMap<String, GroupEntry>>,
    /// Text files read whole, by path.
    pub files: BTreeMap<String, FileSeen>,
    /// The records kinds own (`registry::KindDef::records`): by tag and key, the fields
    /// after the key.
    pub records: BTreeMap<(String, String), Vec<String>>,
    /// The `per_host` records kinds own (a batched probe's answer): by tag, their fields.
    pub host_records: BTreeMap<String, Vec<String>>,
}

impl DeployObserved {
    /// The fields (after the key) of the record `tag` a kind owns, for `key`.
    pub fn record(&self, tag: &str, key: &str) -> Option<&[String]> {
        (self.records.get(&(tag.to_string(), key.to_string()))).map(Vec::as_slice)
    }

    /// The fields of the `per_host` record `tag` a kind owns (see `registry::Record`).
    pub fn host_record(&self, tag: &str) -> Option<&[String]> {
        self.host_records.get(tag).map(Vec::as_slice)
    }

    /// Adds a later probe's findings.
    pub fn merge(&mut self, more: DeployObserved) {
        self.remotes.extend(more.remotes);
        self.trees.extend(more.trees);
        // A kind's batched probe answered again: its earlier records go.
        for tag in more.host_records.keys() {
            if let Some((kind, _)) = super::registry::record_of(tag.as_bytes()) {
                let theirs = |t: &String| {
                    super::registry::record_of(t.as_bytes()).is_some_and(|(k, _)| k == kind)
                };
                self.host_records.retain(|t, _| !theirs(t));
            }
        }
        self.host_records.extend(more.host_records);
        if more.users.is_some() {
            self.users = more.users;
        }
        if more.groups.is_some() {
            self.groups = more.groups;
        }
        self.files.extend(more.files);
        self.records.extend(more.records);
    }
}

/// What a resource asks of the probe beyond its paths (see
/// [`Spec::add_probe`](super::Spec::add_probe)).
pub fn add_probe(d: &Desired, p: &mut DeployProbe) {
    d.add_probe(p)
}

pub use super::Work;

/// What the probe read at `path` (`line:`, `block:`, `cron:`).
pub fn seen_file<'a>(o: &'a DeployObserved, path: &str) -> Result<&'a FileSeen, Refused> {
    o.files.get(path).ok_or_else(|| not_probed("the file"))
}

pub fn not_probed(what: &str) -> Refused {
    Refused(format!("{what} was not probed (internal error)"))
}

/// Plans one resource of these kinds (`None` for the other kinds): its change and the work
/// apply does. `changed`: keys of the host's resources changing in this run (for commands'
/// `on_change`). A pure function of the resource and what the probe saw.
pub fn plan(
    index: usize,
    r: &Resource,
    observed: &Observed,
    changed: &[&str],
) -> Result<Option<(Change, Work)>, PlanError> {
    let planned = r.desired.plan_work(observed, changed);
    let planned = planned.map_err(|e| PlanError {
        kind: r.desired.kind(),
        key: r.desired.key().to_string(),
        message: e.0,
    })?;
    Ok(planned.map(
        |Planned {
             action,
             details,
             work,
         }| {
            let files = r.desired.file_list(&work);
            let content = r.desired.content(&work, observed);
            (
                Change {
                    kind: r.desired.kind(),
                    key: r.desired.key().to_string(),
                    action,
                    details,
                    content,
                    sensitive: r.sensitive,
                    index,
                    after: None,
                    expect: None,
                    files,
                    restarts: Vec::new(),
                    attrs: false,
                },
                work,
            )
        },
    ))
}

/// After planning, what the plan chose for each resource becomes what it wants
/// ([`super::Spec::settle`]: a rollback's `previous` is the release the plan chose): the check
/// after apply must see that as desired (else it would go back one more).
pub fn settle_pins(resources: &mut [Resource], work: &BTreeMap<usize, Work>) {
    for (i, w) in work {
        if let Some(r) = resources.get_mut(*i) {
            r.desired.settle(w);
        }
    }
}

/// The apply script text (and stdin) of one change of these kinds other than the batched ones
/// ([`super::Spec::apply_batch`], called by the caller). `Err`: why it cannot be applied.
pub fn apply_fragment(
    change: &Change,
    r: &Resource,
    work: Option<&Work>,
    last: bool,
) -> Result<(String, Vec<u8>), String> {
    let i = change.index;
    let missing = || {
        format!(
            "internal error: no planned work for {} {}",
            change.kind, change.key
        )
    };
    // Batched kinds are written by the caller (`Spec::apply_batch`); the path and process
    // kinds are steps of `apply::Builder`: no fragment of their own.
    r.desired
        .apply_fragment(i, work, last)
        .unwrap_or_else(|| Err(missing()))
}

/// How many fields follow a record tag of these kinds; `None`: not one of theirs.
pub fn record_fields(tag: &[u8]) -> Option<usize> {
    Some(match tag {
        b"gitls" => 4,
        b"tree" | b"tsums" => 2,
        b"tent" => 6,
        b"pwent" | b"grent" => 1,
        b"edf" => 3,
        other => return super::registry::record_fields(other),
    })
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Adds one record (its tag and [`record_fields`] fields) to `obs`. Never panics.
pub fn absorb(obs: &mut DeployObserved, tag: &[u8], f: &[&[u8]]) -> Result<(), String> {
    if record_fields(tag) != Some(f.len()) {
        return Err(format!(
            "record `{}` with {} fields",
            String::from_utf8_lossy(&tag[..tag.len().min(40)]),
            f.len()
        ));
    }
    match tag {
        b"gitls" => {
            let status: i32 = text(f[2])
                .parse()
                .map_err(|_| format!("bad ls-remote status `{}`", text(f[2])))?;
            let r = repo::parse_ls_remote(&text(f[1]), status, &text(f[3]));
            obs.remotes.insert((text(f[0]), text(f[1])), r);
        }
        b"tree" => {
            let root = text(f[0]);
            let state = text(f[1]);
            let t = obs.trees.entry(root).or_default();
            t.state = files::TreeState::parse(&state)
                .ok_or_else(|| format!("bad tree state `{state}`"))?;
        }
        b"tent" => {
            let root = text(f[0]);
            let t = obs.trees.entry(root).or_default();
            t.add_entry(
                &text(f[1]),
                &text(f[2]),
                &text(f[3]),
                &text(f[4]),
                &text(f[5]),
            )?;
        }
        b"tsums" => {
            let root = text(f[0]);
            let t = obs.trees.entry(root.clone()).or_default();
            for line in f[1].split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let (name, hex) = parse_sum_line(line)?;
                t.add_sum(&root, &name, hex);
            }
        }
        b"pwent" => obs.users = Some(accounts::parse_passwd(&text(f[0]))?),
        b"grent" => obs.groups = Some(accounts::parse_group(&text(f[0]))?),
        b"edf" => {
            obs.files
                .insert(text(f[0]), edit::parse_record(f[1], f[2])?);
        }
        // A record a kind owns: kept for the kind to parse.
        other => {
            let tag = String::from_utf8_lossy(other).into_owned();
            match super::registry::record_of(other) {
                Some((_, r)) if r.per_host => {
                    obs.host_records
                        .insert(tag, f.iter().map(|b| text(b)).collect());
                }
                _ => {
                    let rest = f[1..].iter().map(|b| text(b)).collect();
                    obs.records.insert((tag, text(f[0])), rest);
                }
            }
        }
    }
    Ok(())
}

/// Splits a probe output's records of these kinds (after a `play-probe`/`v1` header, up to
/// `end`): for tests and tools that run only these fragments.
pub fn parse_records(stdout: &[u8]) -> Result<DeployObserved, String> {
    let pieces: Vec<&[u8]> = stdout.split(|b| *b == 0).collect();
    // The last piece follows the last NUL: it is not a field.
    let n = pieces.len().saturating_sub(1);
    let mut i = 0;
    let mut obs = DeployObserved::default();
    while i < n {
        let tag = pieces[i];
        if tag == b"end" {
            return Ok(obs);
        }
        let k = record_fields(tag).ok_or_else(|| {
            format!(
                "unknown record `{}`",
                String::from_utf8_lossy(&tag[..tag.len().min(40)])
            )
        })?;
        if i + 1 + k > n {
            return Err("output ends early".into());
        }
        absorb(&mut obs, tag, &pieces[i + 1..i + 1 + k])?;
        i += 1 + k;
    }
    Err("output ends early (no end record)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_lookup_per_remote_with_the_ssh_settings_given_for_it() {
        let kh = GitSsh {
            key: None,
            known_hosts: Some("h ssh-ed25519 AAAA".into()),
        };
        let mut p = DeployProbe::default();
        p.add_remote("git@h:a.git", "main", &GitSsh::default());
        p.add_remote("git@h:a.git", "main", &kh);
        p.add_remote("git@h:a.git", "main", &GitSsh::default());
        p.add_remote("git@h:a.git", "v2", &GitSsh::default());
        assert_eq!(
            p.remotes,
            vec![
                ("git@h:a.git".to_string(), "main".to_string(), kh),
                ("git@h:a.git".into(), "v2".into(), GitSsh::default()),
            ]
        );
    }

    #[test]
    fn paths_split() {
        assert_eq!(split_path("/srv/app"), ("/srv".into(), "app".into()));
        assert_eq!(split_path("/app/"), ("/".into(), "app".into()));
        assert_eq!(sibling_prefix("/srv/app", "sync"), "/srv/.app.play-sync.");
        assert_eq!(sibling_prefix("/x", "git"), "/.x.play-git.");
    }

    #[test]
    fn sum_lines() {
        let h = "0123456789abcdef".repeat(4);
        assert_eq!(
            parse_sum_line(format!("{h}  /a b").as_bytes()).unwrap(),
            ("/a b".to_string(), h.clone())
        );
        assert_eq!(
            parse_sum_line(format!("\\{h}  /a\\\\b\\nc").as_bytes()).unwrap(),
            ("/a\\b\nc".to_string(), h.clone())
        );
        assert!(parse_sum_line(format!("\\{h}  /a\\x").as_bytes()).is_err());
        assert!(parse_sum_line(b"short").is_err());
    }

    #[test]
    fn records_are_counted_and_checked() {
        let mut o = DeployObserved::default();
        assert!(absorb(&mut o, b"gitls", &[b"/d", b"repo"]).is_err());
        assert!(absorb(&mut o, b"unknown", &[]).is_err());
        absorb(&mut o, b"tree", &[b"/srv/app", b"dir"]).unwrap();
        assert!(absorb(&mut o, b"tree", &[b"/srv/app"]).is_err());
        assert!(absorb(&mut o, b"tree", &[b"/srv/x", b"bad"]).is_err());
        assert_eq!(o.trees["/srv/app"].state, files::TreeState::Dir);
    }

    #[test]
    fn parse_records_never_panics() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let pool: &[&[u8]] = &[
            b"\0",
            b"gitco",
            b"gitls",
            b"tree",
            b"tent",
            b"tsums",
            b"relh",
            b"relent",
            b"pkgq",
            b"pkgpol",
            b"pkgnone",
            b"pwent",
            b"grent",
            b"unless",
            b"edf",
            b"file",
            b"YQo=",
            b"end",
            b"dir",
            b"f",
            b"1",
            b"a:x:1:1::/:/bin/sh\n",
            b"\\",
            b"  ",
            b"755",
        ];
        for _ in 0..3000 {
            let mut buf = Vec::new();
            for _ in 0..(next() % 24) {
                buf.extend_from_slice(pool[(next() as usize) % pool.len()]);
                if next() % 2 == 0 {
                    buf.push(0);
                }
            }
            let _ = parse_records(&buf);
        }
    }

    #[test]
    fn minus_asks_again_only_for_what_is_new() {
        let mut a = DeployProbe::default();
        fn frag(_: &[String]) -> String {
            String::new()
        }
        let kind = |name| crate::resources::example::kind(name).expect("a kind");
        a.add_batched(kind("package"), "curl".into(), frag);
        a.add_user("app");
        a.add_tree("/srv/src", &[]);
        let mut b = a.clone();
        b.add_batched(kind("package"), "git".into(), frag);
        b.add_tree("/srv/other", &[]);
        let m = b.minus(&a);
        assert_eq!(
            m.batches[&kind("package")].items,
            vec!["curl".to_string(), "git".into()],
            "one fragment answers for all: asked again for every item"
        );
        let mut c = a.clone();
        c.add_batched(kind("command"), "x".into(), frag);
        assert!(!c.minus(&a).batches.contains_key(&kind("package")));
        assert_eq!(m.trees, vec![("/srv/other".to_string(), Vec::new())]);
        assert!(m.users.is_empty());
        assert!(!m.groups);
        assert!(a.minus(&a).is_empty());
    }
}
