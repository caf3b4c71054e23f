//! `git:` — a checkout of a git repository at a branch, tag or commit.
//!
//! ```yaml
//! - git: /srv/src            # the checkout (its key)
//!   repo: /srv/repos/app.git # URL or path, as the HOST reaches it (git runs on the host)
//!   version: main            # branch, tag or full commit; default HEAD
//!   depth: 1                 # shallow fetch
//!   owner: app               # the checkout is app's, and git runs as app
//!   force: true              # discard local changes to tracked files when moving
//! ```
//!
//! Probe (one round trip): the checked-out commit (`git rev-parse HEAD`, plus the `origin` URL)
//! of every checkout, and the wanted commit of every (repo, version) with `git ls-remote` on the
//! host, batched in the one probe script. The plan shows `abc1234 → def5678`; a version the
//! repository does not have is a plan error naming it.
//!
//! Apply: a new checkout is made in a temporary sibling folder (`git init`, `fetch`, `checkout
//! --detach`) and renamed into place; an existing one fetches and checks out the commit
//! (detached HEAD, so `play` never moves a branch).
//!
//! Privileges: see [`GIT_FN`] — git never runs with `safe.directory='*'`, never with hooks or
//! `core.fsmonitor`, and never as root in a tree another user owns.

use super::deploy::{
    set_args, short, sibling_prefix, split_path, DeployObserved, Planned, Refused,
};
use super::registry::Key;
use super::source::repo::*;
use super::source::{chown_spec, owner_change};
use super::{Action, PathState, Presence};
use crate::resolve::{Base, Keys, ResolveError};
use crate::transport::shell_quote;

/// One checkout, rendered for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSpec {
    pub dest: String,
    pub presence: Presence,
    pub repo: String,
    /// Branch, tag, full ref name, `HEAD` or a full commit id.
    pub version: String,
    pub depth: Option<u32>,
    pub owner: Option<String>,
    pub group: Option<String>,
    pub force: bool,
    /// `key:` and `known_hosts:` of the fetch.
    pub ssh: GitSsh,
}

/// What stands at a checkout's destination.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Checkout {
    #[default]
    Missing,
    /// A git work tree: its HEAD commit (`None` before the first commit) and `origin` URL.
    Repo {
        head: Option<String>,
        origin: Option<String>,
    },
    /// An empty folder (a checkout may go there).
    Empty,
    /// A folder that is not a git work tree.
    NotRepo,
    /// Something else than a folder.
    NotDir,
}

/// The probe record of a checkout: `gitco \0 DEST \0 STATE \0 HEAD \0 ORIGIN \0`, STATE
/// `missing|repo|empty|notrepo|notdir` ([`probe_checkouts`]).
const CHECKOUT_RECORD: &str = "gitco";

/// The checkout at `dest` as the probe saw it.
pub fn seen_checkout(o: &DeployObserved, dest: &str) -> Result<Checkout, Refused> {
    match o.record(CHECKOUT_RECORD, dest) {
        Some([state, head, origin]) => parse_checkout(state, head, origin).map_err(Refused),
        Some(_) => Err(Refused("a checkout record of another shape".into())),
        None => Err(super::deploy::not_probed("the checkout")),
    }
}

/// Reads a `gitco` record's fields.
pub fn parse_checkout(state: &str, head: &str, origin: &str) -> Result<Checkout, String> {
    let opt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
    Ok(match state {
        "missing" => Checkout::Missing,
        "repo" => Checkout::Repo {
            head: opt(head),
            origin: opt(origin),
        },
        "empty" => Checkout::Empty,
        "notrepo" => Checkout::NotRepo,
        "notdir" => Checkout::NotDir,
        other => return Err(format!("bad checkout state `{other}`")),
    })
}

/// The probe fragment reporting every checkout (`gitco` records). git reads a checkout as the
/// user who owns its folder (see [`GIT_FN`]): never as root in another user's tree.
pub fn probe_checkouts(dests: &[String]) -> String {
    if dests.is_empty() {
        return String::new();
    }
    format!(
        r#"{}
{GIT_FN}for d do
  h= o=
  if [ -e "$d/.git" ]; then
    st=repo
    u=$(stat -c %u -- "$d" 2>/dev/null) || u=
    h=$(play_git "$u" -C "$d" rev-parse -q --verify HEAD 2>/dev/null </dev/null) || h=
    o=$(play_git "$u" -C "$d" config --get remote.origin.url 2>/dev/null </dev/null) || o=
  elif [ -d "$d" ] && ! [ -L "$d" ]; then
    st=empty
    for f in "$d"/* "$d"/.[!.]* "$d"/..?*; do
      if [ -e "$f" ] || [ -L "$f" ]; then st=notrepo; break; fi
    done
  elif [ -e "$d" ] || [ -L "$d" ]; then
    st=notdir
  else
    st=missing
  fi
  printf 'gitco\0%s\0%s\0%s\0%s\0' "$d" "$st" "$h" "$o"
done
"#,
        set_args(dests)
    )
}

/// What apply does to a checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitOp {
    /// A new checkout (into a temporary sibling, renamed into place).
    Clone {
        reference: String,
        commit: String,
    },
    /// Move an existing checkout.
    Update {
        set_url: bool,
        reference: String,
        commit: String,
        /// The checkout is not the owner's yet: `chown -R` before git runs as the owner.
        chown_first: bool,
    },
    /// Only owner/group.
    Chown,
    Delete,
}

/// Plans one checkout. `dest`: the core probe's state of the destination path (owner, group).
pub fn plan(
    spec: &GitSpec,
    dest: &PathState,
    checkout: &Checkout,
    remote: Option<&Remote>,
) -> Result<Option<Planned<GitOp>>, Refused> {
    if spec.presence == Presence::Absent {
        return Ok(match checkout {
            Checkout::Missing => None,
            Checkout::NotDir => {
                return Err(Refused(
                    "something else than a folder stands there; not deleting it".into(),
                ))
            }
            _ => Some(Planned {
                action: Action::Delete,
                details: Vec::new(),
                work: GitOp::Delete,
            }),
        });
    }
    let (commit, reference) = wanted(&spec.repo, &spec.version, remote)?;
    let at = if reference == commit {
        short(&commit).to_string()
    } else {
        format!("{} ({})", short(&commit), spec.version)
    };
    match checkout {
        Checkout::Missing | Checkout::Empty => Ok(Some(Planned {
            action: Action::Create,
            details: vec![format!("clone {} @ {at}", spec.repo)],
            work: GitOp::Clone { reference, commit },
        })),
        Checkout::NotRepo => Err(Refused(
            "the folder is not empty and not a git checkout; move it away first".into(),
        )),
        Checkout::NotDir => Err(Refused("something else than a folder stands there".into())),
        Checkout::Repo { head, origin } => {
            let mut details = Vec::new();
            let set_url = origin.as_deref() != Some(spec.repo.as_str());
            if set_url {
                details.push(format!(
                    "origin {} → {}",
                    origin.as_deref().unwrap_or("(none)"),
                    spec.repo
                ));
            }
            let moves = head.as_deref() != Some(commit.as_str());
            if moves {
                details.push(format!(
                    "{} → {at}",
                    head.as_deref().map(short).unwrap_or("(no commit)")
                ));
            }
            let owner_changes = owner_change(&spec.owner, &spec.group, (&dest.owner, &dest.group));
            let owner_differs = owner_changes.is_some();
            details.extend(owner_changes);
            if set_url || moves {
                Ok(Some(Planned {
                    action: Action::Update,
                    details,
                    work: GitOp::Update {
                        set_url,
                        reference,
                        commit,
                        chown_first: owner_differs,
                    },
                }))
            } else if owner_differs {
                Ok(Some(Planned {
                    action: Action::Attrs,
                    details,
                    work: GitOp::Chown,
                }))
            } else {
                Ok(None)
            }
        }
    }
}

/// The apply step of one checkout (inside the apply script: `play_ok`, `play_fail`). Git's
/// output goes to stderr (shown when the step fails).
///
/// Every git command runs through `play_git` (see [`GIT_FN`]) as `owner:` when it is set: a
/// new checkout is made in a temporary sibling folder given to the owner first, an existing
/// one that is not the owner's yet is given to it (`chown -R`, as root, before any git runs
/// in it). Without `owner:`, git runs as the user the script runs as, in a tree that user
/// owns (git's own guard refuses any other).
pub fn apply_fragment(index: usize, spec: &GitSpec, op: &GitOp) -> String {
    let i = index;
    let dest = shell_quote(&spec.dest);
    let repo = shell_quote(&spec.repo);
    let depth = spec
        .depth
        .map(|d| format!(" --depth {d}"))
        .unwrap_or_default();
    let chown = chown_spec(&spec.owner, &spec.group).map(|c| shell_quote(&c));
    let owner = spec.owner.as_deref().unwrap_or("");
    let git = format!("play_git {}", shell_quote(owner));
    // After git ran as the owner, its files are the owner's: only a group is left to set.
    let chown_after = if spec.owner.is_some() && spec.group.is_none() {
        None
    } else {
        chown.clone()
    };
    let mut s = format!(
        "# git {}\nprintf '\\0play-step\\0%s\\0' {i} >&2\numask 022\n",
        spec.dest
    );
    if !matches!(op, GitOp::Chown | GitOp::Delete) {
        s.push_str(GIT_FN);
        if !spec.ssh.is_empty() {
            s.push_str(GIT_KEY_FN);
        }
        s.push_str(&upload_pack_lines(&spec.repo));
        if spec.owner.is_some() {
            // Can git run as the owner here at all? Said before anything is touched.
            s.push_str(&format!(
                "{git} --version </dev/null >/dev/null || play_fail {i}\n"
            ));
        }
    }
    match op {
        GitOp::Clone { reference, commit } => {
            let (parent, _) = split_path(&spec.dest);
            let tmpl = shell_quote(&format!("{}XXXXXX", sibling_prefix(&spec.dest, "git")));
            let undo = format!("{{ rm -rf -- \"$s\"; play_fail {i}; }}");
            s.push_str(&format!(
                "mkdir -p -- {} || play_fail {i}\n",
                shell_quote(&parent)
            ));
            // An empty folder at DEST is replaced.
            s.push_str(&format!(
                "if [ -d {dest} ] && ! [ -L {dest} ]; then rmdir -- {dest} || play_fail {i}; fi\n"
            ));
            s.push_str(&format!("s=$(mktemp -d -- {tmpl}) || play_fail {i}\n"));
            s.push_str(&format!("chmod 0755 \"$s\" || {undo}\n"));
            if let Some(o) = &spec.owner {
                s.push_str(&format!("chown -- {} \"$s\" || {undo}\n", shell_quote(o)));
            }
            s.push_str(&format!(
                "{git} init -q -- \"$s\" </dev/null 1>&2 || {undo}\n"
            ));
            s.push_str(&format!(
                "{git} -C \"$s\" remote add origin {repo} </dev/null 1>&2 || {undo}\n"
            ));
            s.push_str(&spec.ssh.begin(owner, &undo));
            s.push_str(&format!(
                "{git} -C \"$s\" fetch ${{pu:+\"$pu\"}} -q --no-tags{depth} origin {} </dev/null 1>&2 || {undo}\n",
                shell_quote(reference)
            ));
            s.push_str(spec.ssh.end());
            s.push_str(&format!(
                "{git} -C \"$s\" checkout -q --detach {} </dev/null 1>&2 || {undo}\n",
                shell_quote(commit)
            ));
            if let Some(c) = &chown_after {
                s.push_str(&format!("chown -R -- {c} \"$s\" || {undo}\n"));
            }
            s.push_str(&format!("mv -T -- \"$s\" {dest} || {undo}\ns=\n"));
        }
        GitOp::Update {
            set_url,
            reference,
            commit,
            chown_first,
        } => {
            if let (true, Some(c)) = (*chown_first && spec.owner.is_some(), &chown) {
                s.push_str(&format!("chown -R -- {c} {dest} || play_fail {i}\n"));
            }
            if *set_url {
                s.push_str(&format!(
                    "{git} -C {dest} remote set-url origin {repo} </dev/null 1>&2 2>/dev/null || {git} -C {dest} remote add origin {repo} </dev/null 1>&2 || play_fail {i}\n"
                ));
            }
            s.push_str(&spec.ssh.begin(owner, &format!("play_fail {i}")));
            s.push_str(&format!(
                "{git} -C {dest} fetch ${{pu:+\"$pu\"}} -q --no-tags{depth} origin {} </dev/null 1>&2 || play_fail {i}\n",
                shell_quote(reference)
            ));
            s.push_str(spec.ssh.end());
            let force = if spec.force { " --force" } else { "" };
            s.push_str(&format!(
                "{git} -C {dest} checkout -q{force} --detach {} </dev/null 1>&2 || play_fail {i}\n",
                shell_quote(commit)
            ));
            if let Some(c) = &chown_after {
                s.push_str(&format!("chown -R -- {c} {dest} || play_fail {i}\n"));
            }
        }
        GitOp::Chown => {
            if let Some(c) = &chown {
                s.push_str(&format!("chown -R -- {c} {dest} || play_fail {i}\n"));
            }
        }
        GitOp::Delete => s.push_str(&format!("rm -rf -- {dest} || play_fail {i}\n")),
    }
    s.push_str(&format!("umask 077\nplay_ok {i}\n"));
    s
}

impl super::Spec for GitSpec {
    type Work = GitOp;
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        p.add_slow_fragment(probe_checkouts(std::slice::from_ref(&self.dest)), 60);
        if self.presence == super::Presence::Present {
            p.add_remote(&self.repo, &self.version, &self.ssh);
        }
    }
    fn plan_work(
        &self,
        observed: &super::Observed,
        _changed: &[&str],
    ) -> Result<Option<super::deploy::Planned<Self::Work>>, super::deploy::Refused> {
        let o = &observed.deploy;
        let co = seen_checkout(o, &self.dest)?;
        let remote = o.remotes.get(&(self.repo.clone(), self.version.clone()));
        plan(self, &observed.path(&self.dest), &co, remote)
    }
    fn apply_fragment(
        &self,
        index: usize,
        work: Option<&Self::Work>,
        _last: bool,
    ) -> Option<Result<(String, Vec<u8>), String>> {
        work.map(|op| Ok((apply_fragment(index, self, op), Vec::new())))
    }
    fn depends(&self, observed: &super::Observed, out: &mut super::Prints) {
        let (key, deploy) = (self.key(), &observed.deploy);
        if let Ok(c) = seen_checkout(deploy, key) {
            out.insert(format!("checkout {key}"), format!("{c:?}"));
        }
        if let Some(r) = deploy
            .remotes
            .get(&(self.repo.clone(), self.version.clone()))
        {
            out.insert(
                format!("remote {} {}", self.repo, self.version),
                super::digest_of(r),
            );
        }
    }
    fn accounts(&self) -> Vec<(super::accounts::Account, &str)> {
        super::accounts::pair(&self.owner, &self.group)
    }
    const DEF: &'static super::registry::KindDef = &DEF;
    fn key(&self) -> &str {
        &self.dest
    }
    fn has_nul(&self) -> bool {
        super::any_nul(&[
            Some(&self.dest),
            Some(&self.repo),
            Some(&self.version),
            self.owner.as_deref(),
            self.group.as_deref(),
        ])
    }
    fn written(&self) -> Option<&str> {
        (self.presence == Presence::Present).then_some(self.dest.as_str())
    }
    fn tree_root(&self) -> Option<&str> {
        Some(&self.dest)
    }
}

/// The registry line of `git:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Git,
    name: "git",
    keys: &[
        Key::Text("repo"),
        Key::Text("version"),
        Key::Any("depth"),
        Key::Text("owner"),
        Key::Text("group"),
        Key::Text("user"),
        Key::Any("force"),
        Key::Text("key"),
        Key::Text("known_hosts"),
    ],
    is_path: true,
    watchable: true,
    docs_section: "`git: DEST` — a checkout",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key: super::registry::path_key,
    render: super::registry::Render::Fn(from_entry),
    check_value: super::registry::any_value,
    records: &[super::registry::Record {
        tag: CHECKOUT_RECORD,
        fields: 4,
        per_host: false,
    }],
    check_entry,
};

/// [`super::registry::KindDef::check_entry`]: a present checkout needs `repo`.
fn check_entry(entry: &crate::playbook::RawResource) -> Result<(), String> {
    let absent = entry.state.as_deref() == Some("absent");
    if !entry.has("repo") && !absent {
        return Err("a git checkout needs `repo`".into());
    }
    Ok(())
}

/// `git:` from its entry (its registry line's `render`).
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, attrs, state } = b;
    let presence = k.presence(&state)?;
    let repo = k.string("repo")?.unwrap_or_default();
    if presence == Presence::Present {
        check_repo(&repo).map_err(|m| k.fail("repo", m))?;
    }
    let version = k.string("version")?.unwrap_or_else(|| "HEAD".into());
    check_version(&version).map_err(|m| k.fail("version", m))?;
    let depth = match k.id("depth")? {
        Some(0) => return Err(k.fail("depth", "depth must be at least 1".into())),
        d => d,
    };
    // `user:` (Ansible's `become_user` on a git task) is the user git runs as: the checkout's
    // owner, as `owner:` says; both given must agree.
    let owner = match (attrs.owner, k.string("user")?) {
        (Some(o), Some(u)) if o != u => {
            let m =
                format!("`user: {u}` and `owner: {o}` differ: git runs as the checkout's owner");
            return Err(k.fail("user", m));
        }
        (Some(o), _) => Some(o),
        (None, Some(u)) => {
            super::accounts::check_name("user", &u).map_err(|m| k.fail("user", m))?;
            Some(u)
        }
        (None, None) => None,
    };
    let ssh = k.git_ssh(
        ("key", k.string("key")?),
        ("known_hosts", k.string("known_hosts")?),
    )?;
    Ok(super::Desired::Git(GitSpec {
        ssh,
        dest: key,
        presence,
        repo,
        version,
        depth,
        owner,
        group: attrs.group,
        force: k.boolean("force")?.unwrap_or(false),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::PathKind;

    const C1: &str = "1111111111111111111111111111111111111111";
    const C2: &str = "2222222222222222222222222222222222222222";

    fn spec(version: &str) -> GitSpec {
        GitSpec {
            dest: "/srv/src".into(),
            presence: Presence::Present,
            repo: "/srv/repo.git".into(),
            version: version.into(),
            depth: None,
            owner: None,
            group: None,
            force: false,
            ssh: GitSsh::default(),
        }
    }

    fn found(c: &str, r: &str) -> Remote {
        Remote::Found {
            commit: c.into(),
            reference: r.into(),
        }
    }

    fn dir(owner: &str) -> PathState {
        PathState {
            kind: PathKind::Directory { empty: None },
            mode: 0o755,
            owner: owner.into(),
            group: owner.into(),
        }
    }

    #[test]
    fn versions_and_repos_are_checked() {
        for ok in ["main", "v1.2", "release/2024", "HEAD", "refs/heads/x", C1] {
            assert!(check_version(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "-x", "a b", "a..b", "x^{}", "a:b", "x.lock", "@{-1}", "a\nb",
        ] {
            assert!(check_version(bad).is_err(), "{bad:?}");
        }
        assert!(check_repo("--upload-pack=evil").is_err());
        assert!(check_repo("https://example.invalid/a.git").is_ok());
        assert!(is_commit_id(C1));
        assert!(!is_commit_id("abc123"));
    }

    #[test]
    fn ls_remote_prefers_branch_then_peeled_tag() {
        let text = format!("{C1}\trefs/heads/v1\n{C2}\trefs/tags/v1^{{}}\n3333333333333333333333333333333333333333\trefs/tags/v1\n");
        assert_eq!(parse_ls_remote("v1", 0, &text), found(C1, "refs/heads/v1"));
        let text = format!(
            "3333333333333333333333333333333333333333\trefs/tags/v1\n{C2}\trefs/tags/v1^{{}}\n"
        );
        assert_eq!(parse_ls_remote("v1", 0, &text), found(C2, "refs/tags/v1"));
        let text = format!("{C1}\tHEAD\n");
        assert_eq!(parse_ls_remote("HEAD", 0, &text), found(C1, "HEAD"));
        assert_eq!(parse_ls_remote("nope", 0, ""), Remote::NotFound);
        // A remote-tracking ref of the same tail name is not the version.
        let text = format!("{C1}\trefs/remotes/origin/main\n");
        assert_eq!(parse_ls_remote("main", 0, &text), Remote::NotFound);
        assert_eq!(
            parse_ls_remote(
                "main",
                128,
                "fatal: '/x' does not appear to be a git repository\n"
            ),
            Remote::Failed("fatal: '/x' does not appear to be a git repository".into())
        );
    }

    #[test]
    fn a_missing_checkout_is_cloned() {
        let r = found(C1, "refs/heads/main");
        let p = plan(
            &spec("main"),
            &PathState::missing(),
            &Checkout::Missing,
            Some(&r),
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.action, Action::Create);
        assert_eq!(
            p.details,
            vec!["clone /srv/repo.git @ 1111111 (main)".to_string()]
        );
        assert_eq!(
            p.work,
            GitOp::Clone {
                reference: "refs/heads/main".into(),
                commit: C1.into()
            }
        );
    }

    #[test]
    fn moving_the_version_moves_the_checkout() {
        let have = Checkout::Repo {
            head: Some(C1.into()),
            origin: Some("/srv/repo.git".into()),
        };
        let r = found(C1, "refs/heads/main");
        assert_eq!(
            plan(&spec("main"), &dir("root"), &have, Some(&r)).unwrap(),
            None
        );
        let r = found(C2, "refs/tags/v2");
        let p = plan(&spec("v2"), &dir("root"), &have, Some(&r))
            .unwrap()
            .unwrap();
        assert_eq!(p.action, Action::Update);
        assert_eq!(p.details, vec!["1111111 → 2222222 (v2)".to_string()]);
        // A commit id needs no lookup.
        let p = plan(&spec(C2), &dir("root"), &have, None).unwrap().unwrap();
        assert_eq!(p.details, vec!["1111111 → 2222222".to_string()]);
    }

    #[test]
    fn unknown_versions_and_unreadable_repos_are_errors() {
        let e = plan(
            &spec("nope"),
            &PathState::missing(),
            &Checkout::Missing,
            Some(&Remote::NotFound),
        )
        .unwrap_err();
        assert_eq!(
            e.0,
            "version `nope` not found in /srv/repo.git (no branch, tag or ref of that name)"
        );
        let e = plan(
            &spec("main"),
            &PathState::missing(),
            &Checkout::Missing,
            Some(&Remote::Failed("fatal: nope".into())),
        )
        .unwrap_err();
        assert!(
            e.0.contains("cannot read /srv/repo.git: fatal: nope"),
            "{e}"
        );
    }

    #[test]
    fn owner_origin_and_folders() {
        let have = Checkout::Repo {
            head: Some(C1.into()),
            origin: Some("/old.git".into()),
        };
        let r = found(C1, "refs/heads/main");
        let p = plan(&spec("main"), &dir("root"), &have, Some(&r))
            .unwrap()
            .unwrap();
        assert_eq!(
            p.details,
            vec!["origin /old.git → /srv/repo.git".to_string()]
        );
        let mut s = spec("main");
        s.owner = Some("app".into());
        let have = Checkout::Repo {
            head: Some(C1.into()),
            origin: Some("/srv/repo.git".into()),
        };
        let p = plan(&s, &dir("root"), &have, Some(&r)).unwrap().unwrap();
        assert_eq!((p.action, p.work), (Action::Attrs, GitOp::Chown));
        assert!(plan(&s, &dir("root"), &Checkout::NotRepo, Some(&r)).is_err());
        assert!(plan(&s, &dir("root"), &Checkout::Empty, Some(&r))
            .unwrap()
            .is_some());
        let mut gone = spec("main");
        gone.presence = Presence::Absent;
        assert_eq!(
            plan(&gone, &PathState::missing(), &Checkout::Missing, None).unwrap(),
            None
        );
        assert_eq!(
            plan(&gone, &dir("root"), &have, None)
                .unwrap()
                .unwrap()
                .work,
            GitOp::Delete
        );
    }

    #[test]
    fn fragments_quote_repo_and_refs() {
        let mut s = spec("main");
        s.repo = "/srv/it's.git".into();
        s.depth = Some(1);
        let f = apply_fragment(
            3,
            &s,
            &GitOp::Clone {
                reference: "refs/heads/main".into(),
                commit: C1.into(),
            },
        );
        assert!(f.contains("remote add origin '/srv/it'\\''s.git'"), "{f}");
        assert!(
            f.contains("fetch ${pu:+\"$pu\"} -q --no-tags --depth 1 origin refs/heads/main"),
            "{f}"
        );
        assert!(f.contains("mv -T -- \"$s\" /srv/src"), "{f}");
        assert!(f.ends_with("play_ok 3\n"));
        // git's guard stays on, hooks and fsmonitor off; a local root-owned repository is
        // trusted by its path only.
        assert!(!f.contains("safe.directory='*'"), "{f}");
        assert!(f.contains("-c core.hooksPath=/dev/null -c core.fsmonitor=false"));
        let up = shell_quote(&format!(
            "--upload-pack=git -c safe.directory={} upload-pack",
            shell_quote("/srv/it's.git")
        ));
        assert!(f.contains(&format!("then pu={up}; fi")), "{f}");
        assert!(!f.contains("chown"), "no owner: nothing chowned: {f}");
        assert_eq!(local_repo("file:///srv/a.git"), Some("/srv/a.git"));
        assert_eq!(local_repo("https://example.invalid/a.git"), None);
        // With an owner: the temp folder is the owner's before git runs in it, as the owner.
        s.owner = Some("app".into());
        let f = apply_fragment(
            3,
            &s,
            &GitOp::Clone {
                reference: "refs/heads/main".into(),
                commit: C1.into(),
            },
        );
        let chown = f.find("chown -- app \"$s\"").expect("chowned first");
        let init = f.find("play_git app init -q").expect("git init as app");
        assert!(chown < init, "{f}");
        assert!(!f.contains("chown -R"), "git made the owner's files: {f}");
        // An existing checkout that is not the owner's yet is given to it before git runs.
        let f = apply_fragment(
            3,
            &s,
            &GitOp::Update {
                set_url: false,
                reference: "refs/heads/main".into(),
                commit: C1.into(),
                chown_first: true,
            },
        );
        let chown = f.find("chown -R -- app /srv/src").expect("chowned first");
        let fetch = f
            .find("play_git app -C /srv/src fetch")
            .expect("fetch as app");
        assert!(chown < fetch, "{f}");
        let p = probe_remotes(&[
            ("/srv/it's.git".into(), "main".into(), GitSsh::default()),
            ("/r".into(), C1.into(), GitSsh::default()),
        ]);
        assert!(
            p.contains("ls-remote ${pu:+\"$pu\"} -- '/srv/it'\\''s.git' main 'main^{}'"),
            "{p}"
        );
        assert_eq!(
            p.matches("ls-remote").count(),
            1,
            "commit ids are not looked up"
        );
        assert!(probe_checkouts(&["/a b".into()]).starts_with("set -- '/a b'\n"));
    }

    const KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACBUJRDKlUuHQdhsEoEKgZAhnfsIug0wrS0sh3tAsJLtcgAAAJAtdcwFLXXM\n-----END OPENSSH PRIVATE KEY-----\n";
    const KH: &str = "git.example.com,127.0.0.5 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFQlEMqVS4dB2GwSgQqBkCGd+wi6DTCtLSyHe0Cwku1y\n";

    fn keyed() -> GitSsh {
        GitSsh {
            key: Some(DeployKey::new("files/k.vault", KEY.as_bytes()).unwrap()),
            known_hosts: Some(KH.into()),
        }
    }

    #[test]
    fn deploy_keys_and_known_hosts_are_checked_and_never_shown() {
        let k = DeployKey::new("files/k.vault", KEY.as_bytes()).unwrap();
        assert_eq!(format!("{k:?}"), "DeployKey(files/k.vault)");
        let spec_debug = format!("{:?}", keyed());
        assert!(!spec_debug.contains("b3BlbnNz"), "{spec_debug}");
        assert_eq!(k.lines().count(), 4);
        for bad in [
            &b"ssh-ed25519 AAAA public half\n"[..],
            b"\xff\xfe",
            b"-----BEGIN OPENSSH PRIVATE KEY-----\nPLAY_SSH_FILE_END\n-----END OPENSSH PRIVATE KEY-----\n",
            b"",
        ] {
            let e = DeployKey::new("k", bad).unwrap_err();
            assert!(e.contains("is not a private key"), "{e}");
        }
        assert_eq!(check_known_hosts(KH), Ok(()));
        assert_eq!(
            check_known_hosts(&format!(
                "# comment\n\n@cert-authority *.example.com {}",
                &KH[26..]
            )),
            Ok(())
        );
        assert_eq!(
            check_known_hosts("host ssh-ed25519\n"),
            Err("line 1: expected `HOSTS KEY-TYPE BASE64-KEY`".into())
        );
        assert_eq!(
            check_known_hosts(&format!("{KH}h ssh-ed25519 !!!\n")),
            Err("line 2: the key is not base64".into())
        );
        assert_eq!(
            check_known_hosts(&KH.replace("ssh-ed25519", "ssh-rsa")),
            Err("line 1: not a `ssh-rsa` key".into())
        );
        assert_eq!(check_known_hosts("# none\n"), Err("has no host key".into()));
        assert_eq!(
            check_known_hosts(&format!("@bogus {KH}")),
            Err("line 1: unknown marker `@bogus`".into())
        );
    }

    /// The key's text is only inside a here-document (on stdin), written before the fetch in
    /// a private folder given to the user git runs as, and removed right after it.
    fn key_only_in_heredoc(f: &str) {
        let body = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW";
        let open = f
            .find("(umask 077 && cat > \"$gk/id\") <<'PLAY_SSH_FILE_END'")
            .expect("key file written");
        let at = f.find(body).expect("key in the script");
        let close = open + f[open..].find("\nPLAY_SSH_FILE_END\n").expect("closed");
        assert!(open < at && at < close, "{f}");
        assert_eq!(f.matches(body).count(), 1, "{f}");
    }

    #[test]
    fn a_deploy_key_lives_for_its_fetch_only() {
        let mut s = spec("main");
        s.repo = "git@git.example.com:team/app.git".into();
        s.owner = Some("app".into());
        s.ssh = keyed();
        let f = apply_fragment(
            3,
            &s,
            &GitOp::Clone {
                reference: "refs/heads/main".into(),
                commit: C1.into(),
            },
        );
        key_only_in_heredoc(&f);
        assert!(f.contains(GIT_KEY_FN), "{f}");
        let begin = f.find("play_gk ||").expect("private folder");
        let own = f.find("play_gk_own app ||").expect("given to the owner");
        let fetch = f
            .find("play_git app -C \"$s\" fetch")
            .expect("fetch as app");
        let rm = fetch + f[fetch..].find("\nplay_gk_rm\n").expect("removed after");
        let checkout = f.find("checkout -q --detach").expect("checkout");
        assert!(
            begin < own && own < fetch && fetch < rm && rm < checkout,
            "{f}"
        );
        assert!(f.contains("play_gssh=\"ssh -o BatchMode=yes -i $gk/id -o IdentitiesOnly=yes -o IdentityAgent=none -o UserKnownHostsFile=$gk/known_hosts -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes\""), "{f}");
        assert!(f.contains(&format!("<<'PLAY_SSH_FILE_END' || {{ rm -rf -- \"$s\"; play_fail 3; }}\n{KH}PLAY_SSH_FILE_END\n")), "{f}");
        // git gets it by GIT_SSH_COMMAND, the user's core.sshCommand cannot replace it.
        assert!(GIT_FN.contains("GIT_SSH_COMMAND=\"${play_gssh:-ssh -o BatchMode=yes}\""));
        let update = |s: &GitSpec| {
            let op = GitOp::Update {
                set_url: false,
                reference: "refs/heads/main".into(),
                commit: C1.into(),
                chown_first: false,
            };
            apply_fragment(3, s, &op)
        };
        // Without key nor known_hosts: nothing of it.
        s.ssh = GitSsh::default();
        assert!(!update(&s).contains("play_gk"));
        // known_hosts alone: strict checking, no key.
        s.ssh.known_hosts = Some(KH.into());
        let f = update(&s);
        assert!(
            f.contains("play_gssh=\"ssh -o BatchMode=yes -o UserKnownHostsFile=$gk/known_hosts"),
            "{f}"
        );
        assert!(!f.contains("$gk/id"), "{f}");
        assert!(f.contains("|| play_fail 3\n"), "{f}");
    }

    #[test]
    fn the_probe_looks_versions_up_with_the_key() {
        let p = probe_remotes(&[
            ("git@h:a.git".into(), "main".into(), keyed()),
            ("/plain.git".into(), "main".into(), GitSsh::default()),
        ]);
        key_only_in_heredoc(&p);
        assert_eq!(p.matches("trap play_gk_rm EXIT").count(), 1, "{p}");
        let ls = p
            .find("if play_gk_begin; then o=$(play_git '' ls-remote")
            .expect("keyed lookup");
        let rm = p[ls..].find("play_gk_rm\n").expect("removed after") + ls;
        let rec = p[ls..].find("printf 'gitls").expect("record") + ls;
        assert!(rm < rec, "{p}");
        assert!(p.contains("play_gk_own '' || return 1"), "{p}");
        // A failed folder is a failed lookup of that remote, not a write elsewhere.
        assert!(p.contains("else o='play: cannot write the ssh files of this fetch'; st=1; fi"));
        assert_eq!(
            parse_ls_remote("main", 128, "@@@@\nWARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!\nHost key verification failed.\nfatal: Could not read from remote repository.\n"),
            Remote::Failed("Host key verification failed: the git server's host key is not in the known_hosts play was given (changed, or another server)".into())
        );
    }
}
