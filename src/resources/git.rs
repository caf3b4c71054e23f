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

use super::deploy::{set_args, short, sibling_prefix, split_path, Planned, Refused};
use super::source::chown_spec;
use super::{Action, PathState, Presence};
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

/// The ssh settings of one fetch (`key:`, `known_hosts:`): written on the host only for that
/// fetch, in a private folder of the user git runs as ([`GIT_KEY_FN`]), removed after it.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GitSsh {
    /// The deploy key (`key:`).
    pub key: Option<DeployKey>,
    /// known_hosts text (`known_hosts:`): the only keys the git server may have.
    pub known_hosts: Option<String>,
}

/// A deploy key's private half, read (and decrypted) on the controller. Its text is never
/// shown: `Debug` prints where it came from only.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeployKey {
    /// The controller file it was read from (for messages).
    pub source: String,
    text: String,
}

impl std::fmt::Debug for DeployKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeployKey({})", self.source)
    }
}

/// The line ending the here-documents that carry a fetch's ssh files into the script.
const SSH_FILE_END: &str = "PLAY_SSH_FILE_END";

impl DeployKey {
    /// A private key's text (an OpenSSH or PEM private key, checked). The message never
    /// quotes the text.
    pub fn new(source: &str, bytes: &[u8]) -> Result<DeployKey, String> {
        let text = std::str::from_utf8(bytes)
            .ok()
            .filter(|t| !t.contains('\0') && !t.lines().any(|l| l.trim() == SSH_FILE_END))
            .filter(|t| {
                let t = t.trim();
                t.starts_with("-----BEGIN ")
                    && t.lines().next().is_some_and(|l| l.ends_with("PRIVATE KEY-----"))
                    && t.ends_with("PRIVATE KEY-----")
            })
            .ok_or_else(|| {
                "is not a private key (expected `-----BEGIN OPENSSH PRIVATE KEY-----` or a PEM private key)".to_string()
            })?;
        let mut text = text.trim().to_string();
        text.push('\n');
        Ok(DeployKey {
            source: source.to_string(),
            text,
        })
    }

    /// The lines of the key (registered as secrets, so that no output shows them).
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.text.lines().map(str::trim).filter(|l| !l.is_empty())
    }
}

/// Checks known_hosts text: every line that is not blank or a comment is `[@marker] HOSTS
/// TYPE BASE64-KEY`. `Err`: the first bad line's number and what is wrong.
pub fn check_known_hosts(text: &str) -> Result<(), String> {
    use base64::Engine;
    if text.contains('\0') {
        return Err("holds a NUL byte".into());
    }
    let entries = crate::transport::known_hosts::parse(text);
    let mut any = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |what: &str| Err(format!("line {}: {what}", i + 1));
        let Some(e) = entries.iter().find(|e| e.line == i + 1) else {
            return bad("expected `HOSTS KEY-TYPE BASE64-KEY`");
        };
        if let Some(m) = &e.marker {
            if m != "@cert-authority" && m != "@revoked" {
                return bad(&format!("unknown marker `{m}`"));
            }
        }
        let blob = base64::engine::general_purpose::STANDARD
            .decode(&e.key_base64)
            .map_err(|_| format!("line {}: the key is not base64", i + 1))?;
        if crate::transport::known_hosts::HostKey::from_blob(&blob)
            .is_none_or(|k| k.key_type != e.key_type)
        {
            return bad(&format!("not a `{}` key", e.key_type));
        }
        any = true;
    }
    if !any {
        return Err("has no host key".into());
    }
    Ok(())
}

impl GitSsh {
    pub fn is_empty(&self) -> bool {
        self.key.is_none() && self.known_hosts.is_none()
    }

    /// Shell lines making `$gk`, the private folder of this fetch's ssh files, owned by
    /// `user` (who git runs as; `''`: the script's user), and setting `play_gssh`, the ssh
    /// command `play_git` gives git. `fail`: what runs when that fails. Nothing when there is
    /// nothing to write. The files' text travels in here-documents (script text on stdin: in no
    /// argv). [`GitSsh::end`] removes them; so does the script's exit (trap).
    pub fn begin(&self, user: &str, fail: &str) -> String {
        if self.is_empty() {
            return String::new();
        }
        let mut s = format!("play_gk || {fail}\n");
        let mut ssh = String::from("ssh -o BatchMode=yes");
        if let Some(k) = &self.key {
            s.push_str(&format!(
                "(umask 077 && cat > \"$gk/id\") <<'{SSH_FILE_END}' || {fail}\n{}{SSH_FILE_END}\n",
                k.text
            ));
            ssh.push_str(" -i $gk/id -o IdentitiesOnly=yes -o IdentityAgent=none");
        }
        if let Some(kh) = &self.known_hosts {
            let mut kh = kh.clone();
            if !kh.ends_with('\n') {
                kh.push('\n');
            }
            s.push_str(&format!(
                "(umask 077 && cat > \"$gk/known_hosts\") <<'{SSH_FILE_END}' || {fail}\n{kh}{SSH_FILE_END}\n"
            ));
            ssh.push_str(
                " -o UserKnownHostsFile=$gk/known_hosts -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes",
            );
        }
        s.push_str(&format!(
            "play_gk_own {} || {fail}\nplay_gssh=\"{ssh}\"\n",
            shell_quote(user)
        ));
        s
    }

    /// Shell lines removing what [`GitSsh::begin`] wrote.
    pub fn end(&self) -> &'static str {
        if self.is_empty() {
            ""
        } else {
            "play_gk_rm\n"
        }
    }
}

/// The shell functions of a fetch's ssh files ([`GitSsh::begin`]): `play_gk` makes `$gk`, a
/// new folder only its maker can enter: as root under `/var/lib/play/keys` (root's, mode
/// 0711: users reach their own folder by its random name, list nothing, rename nothing), else
/// under `/tmp` (`mktemp -d`, mode 0700). `play_gk_own USER` gives the folder and its files to
/// the user git runs as (root only; made by root a moment before in a folder nobody else can
/// write: no link to follow). `play_gk_rm` removes it. The EXIT trap removes it too (a failed
/// step exits the script).
pub const GIT_KEY_FN: &str = r#"play_gk() {
  play_gk_rm
  if [ "$(id -u)" = 0 ]; then
    [ -d /var/lib/play ] || (umask 022 && mkdir -p /var/lib/play) || return 1
    (umask 022 && mkdir /var/lib/play/keys 2>/dev/null)
    if [ -L /var/lib/play/keys ] || [ "$(stat -c %u -- /var/lib/play/keys 2>/dev/null)" != 0 ]; then
      printf '%s
' '/var/lib/play/keys: not a folder of root; play puts no key there' >&2
      return 1
    fi
    chmod 0711 /var/lib/play/keys || return 1
    gk=$(umask 077 && mktemp -d /var/lib/play/keys/fetch.XXXXXXXX) || return 1
  else
    gk=$(umask 077 && mktemp -d /tmp/play-key.XXXXXXXX) || return 1
  fi
}
play_gk_own() {
  if [ -n "$1" ] && [ "$(id -u)" = 0 ]; then chown -R -- "$1" "$gk" || return 1; fi
}
play_gk_rm() {
  if [ -n "${gk-}" ]; then rm -rf -- "$gk"; fi
  gk= play_gssh=
}
"#;

/// The shell function every git command `play` runs on a host goes through:
/// `play_git USER ARGS...`. Hooks and `core.fsmonitor` are off (`-c core.hooksPath=/dev/null
/// -c core.fsmonitor=false`), there is no prompt and no pager, and git's own ownership guard
/// (`safe.directory`) stays on: git never works as root in a tree another user owns. When
/// `USER` is set and is not who runs the script, git runs as `USER` (root only: `runuser`, else
/// `setpriv`, else `su`) with a clean environment (that user's `HOME`, a plain `PATH`), so that
/// whatever the user planted in its checkout (hooks, `core.fsmonitor`, `core.sshCommand`,
/// `url.*.insteadOf`) runs at most as that user. `SUDO_UID` is blanked for git as root, so that
/// git does not trust the sudo caller's trees either.
pub const GIT_FN: &str = r#"play_git() {
  pg_u=$1
  shift
  if [ -n "$pg_u" ] && [ "$pg_u" != "$(id -un 2>/dev/null)" ] && [ "$pg_u" != "$(id -u)" ]; then
    pg_e=$(getent passwd "$pg_u") || { printf 'play: cannot run git as %s: no such user on this host\n' "$pg_u" >&2; return 1; }
    IFS=: read -r pg_n pg_x pg_uid pg_gid pg_x pg_h pg_x <<PLAYGIT
$pg_e
PLAYGIT
    if [ "$pg_uid" != "$(id -u)" ]; then
      if [ "$(id -u)" != 0 ]; then
        printf 'play: cannot run git as %s: this script runs as %s, not root (become)\n' "$pg_n" "$(id -un 2>/dev/null)" >&2
        return 1
      fi
      set -- env -i HOME="$pg_h" USER="$pg_n" LOGNAME="$pg_n" PATH=/usr/local/bin:/usr/bin:/bin LC_ALL=C GIT_TERMINAL_PROMPT=0 GIT_SSH_COMMAND="${play_gssh:-ssh -o BatchMode=yes}" git -c core.hooksPath=/dev/null -c core.fsmonitor=false -c advice.detachedHead=false "$@"
      if command -v runuser >/dev/null 2>&1; then
        (cd / && exec runuser -u "$pg_n" -- "$@")
      elif command -v setpriv >/dev/null 2>&1; then
        (cd / && exec setpriv --reuid="$pg_uid" --regid="$pg_gid" --init-groups -- "$@")
      elif command -v su >/dev/null 2>&1; then
        (cd / && exec su -s /bin/sh -c 'exec "$0" "$@"' "$pg_n" -- "$@")
      else
        printf 'play: cannot run git as %s: the host has none of runuser, setpriv, su\n' "$pg_n" >&2
        return 1
      fi
      return
    fi
  fi
  SUDO_UID= GIT_TERMINAL_PROMPT=0 GIT_SSH_COMMAND="${play_gssh:-ssh -o BatchMode=yes}" git -c core.hooksPath=/dev/null -c core.fsmonitor=false -c advice.detachedHead=false "$@"
}
"#;

/// `play_git` as the running user (`''`): the prefix of a git command line.
pub const GIT: &str = "play_git ''";

/// The local path of a repository given as a path or a `file://` URL.
pub fn local_repo(repo: &str) -> Option<&str> {
    if repo.starts_with('/') {
        Some(repo)
    } else {
        repo.strip_prefix("file://").filter(|p| p.starts_with('/'))
    }
}

/// Shell lines setting `pu` to an `--upload-pack` option that trusts a local repository
/// (`safe.directory`) when root owns it, else to nothing: git as a checkout's owner reads a
/// root-owned repository (root controls it), never another user's. Use as `${pu:+"$pu"}`.
pub fn upload_pack_lines(repo: &str) -> String {
    match local_repo(repo) {
        Some(path) => {
            let p = shell_quote(path);
            let up = shell_quote(&format!(
                "--upload-pack=git -c safe.directory={} upload-pack",
                shell_quote(path)
            ));
            format!("pu=\nif [ \"$(stat -c %u -- {p} 2>/dev/null)\" = 0 ]; then pu={up}; fi\n")
        }
        None => "pu=\n".to_string(),
    }
}

/// A full commit id (SHA-1 or SHA-256), lowercase.
pub fn is_commit_id(v: &str) -> bool {
    (v.len() == 40 || v.len() == 64)
        && v.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Checks a `version:` (a ref name or commit id, as `git check-ref-format` would allow, and
/// never an option).
pub fn check_version(v: &str) -> Result<(), String> {
    let bad = v.is_empty()
        || v.starts_with('-')
        || v.starts_with('/')
        || v.ends_with('/')
        || v.ends_with('.')
        || v.ends_with(".lock")
        || v.contains("..")
        || v.contains("@{")
        || v.contains("//")
        || v.chars()
            .any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c));
    if bad {
        return Err(format!("version `{v}` is not a branch, tag or commit name"));
    }
    Ok(())
}

/// Checks a `repo:` (never an option, one line).
pub fn check_repo(r: &str) -> Result<(), String> {
    if r.is_empty() || r.starts_with('-') || r.contains(['\n', '\r', '\0']) {
        return Err(format!("repo `{r}` is not a repository URL or path"));
    }
    Ok(())
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

/// What `git ls-remote` said of a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    /// The commit and the full ref that names it (what is fetched).
    Found {
        commit: String,
        reference: String,
    },
    NotFound,
    /// `git ls-remote` failed (unreachable repository...): its message.
    Failed(String),
}

/// Reads `git ls-remote REPO V V^{}` output: the commit `version` names, preferring a branch,
/// then a tag (peeled to its commit), then an exact ref name.
pub fn parse_ls_remote(version: &str, status: i32, text: &str) -> Remote {
    if status != 0 {
        if text.contains("Host key verification failed") {
            return Remote::Failed(
                "Host key verification failed: the git server's host key is not in the known_hosts play was given (changed, or another server)".into(),
            );
        }
        let msg = text.trim();
        return Remote::Failed(if msg.is_empty() {
            format!("git ls-remote exited {status}")
        } else {
            msg.lines().take(5).collect::<Vec<_>>().join("; ")
        });
    }
    let refs: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(c, _)| is_commit_id(c))
        .collect();
    let find = |name: &str| {
        refs.iter()
            .find(|(_, r)| *r == name)
            .map(|(c, _)| c.to_string())
    };
    let branch = format!("refs/heads/{version}");
    let tag = format!("refs/tags/{version}");
    let candidates = [
        (branch.clone(), branch.clone()),
        (format!("{tag}^{{}}"), tag.clone()),
        (tag.clone(), tag.clone()),
        (version.to_string(), version.to_string()),
    ];
    for (line, reference) in candidates {
        if let Some(commit) = find(&line) {
            return Remote::Found { commit, reference };
        }
    }
    Remote::NotFound
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

/// The probe fragment resolving every (repo, version) on the host (`gitls` records), as the
/// user the probe runs as (a local repository root owns is trusted by its path, see
/// [`upload_pack_lines`]), with that fetch's deploy key and known_hosts when given (see
/// [`GitSsh::begin`]: written for the one `ls-remote`, removed after it, and on exit). Full
/// commit ids need no lookup and are skipped.
pub fn probe_remotes(remotes: &[(String, String, GitSsh)]) -> String {
    let mut s = String::new();
    let mut keys = false;
    for (repo, version, ssh) in remotes {
        if is_commit_id(version) {
            continue;
        }
        if s.is_empty() {
            s.push_str(GIT_FN);
        }
        if !ssh.is_empty() && !keys {
            keys = true;
            s.push_str(GIT_KEY_FN);
            s.push_str("trap play_gk_rm EXIT\ntrap 'exit 129' HUP\ntrap 'exit 130' INT\ntrap 'exit 143' TERM\n");
        }
        let (r, v) = (shell_quote(repo), shell_quote(version));
        let peeled = shell_quote(&format!("{version}^{{}}"));
        s.push_str(&upload_pack_lines(repo));
        let begin = ssh.begin("", "return 1");
        let ls = format!("{GIT} ls-remote ${{pu:+\"$pu\"}} -- {r} {v} {peeled} 2>&1 </dev/null");
        if begin.is_empty() {
            s.push_str(&format!(
                "o=$({ls})\nprintf 'gitls\\0%s\\0%s\\0%s\\0%s\\0' {r} {v} \"$?\" \"$o\"\n"
            ));
        } else {
            s.push_str(&format!(
                "play_gk_begin() {{\n{begin}}}\nif play_gk_begin; then o=$({ls}); st=$?; else o='play: cannot write the ssh files of this fetch'; st=1; fi\nplay_gk_rm\nprintf 'gitls\\0%s\\0%s\\0%s\\0%s\\0' {r} {v} \"$st\" \"$o\"\n"
            ));
        }
    }
    s
}

/// The commit a spec wants: (commit, ref to fetch).
pub fn wanted(
    repo: &str,
    version: &str,
    remote: Option<&Remote>,
) -> Result<(String, String), Refused> {
    if is_commit_id(version) {
        return Ok((version.to_string(), version.to_string()));
    }
    match remote {
        Some(Remote::Found { commit, reference }) => Ok((commit.clone(), reference.clone())),
        Some(Remote::NotFound) => Err(Refused(format!(
            "version `{version}` not found in {repo} (no branch, tag or ref of that name)"
        ))),
        Some(Remote::Failed(msg)) => Err(Refused(format!("cannot read {repo}: {msg}"))),
        None => Err(Refused(format!(
            "version `{version}` of {repo} was not looked up (internal error)"
        ))),
    }
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
            let owner_differs = spec.owner.as_ref().is_some_and(|o| o != &dest.owner)
                || spec.group.as_ref().is_some_and(|g| g != &dest.group);
            if owner_differs {
                details.push(format!(
                    "owner {}:{} → {}:{}",
                    dest.owner,
                    dest.group,
                    spec.owner.as_deref().unwrap_or(&dest.owner),
                    spec.group.as_deref().unwrap_or(&dest.group)
                ));
            }
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
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        p.add_checkout(&self.dest);
        if self.presence == super::Presence::Present {
            p.add_remote(&self.repo, &self.version, &self.ssh);
        }
    }
    fn plan_work(
        &self,
        observed: &super::Observed,
        _changed: &[&str],
    ) -> Result<Option<super::deploy::Planned<super::Work>>, super::deploy::Refused> {
        let o = &observed.deploy;
        let co = (o.checkouts.get(&self.dest))
            .ok_or_else(|| super::deploy::not_probed("the checkout"))?;
        let remote = o.remotes.get(&(self.repo.clone(), self.version.clone()));
        Ok(plan(self, &observed.path(&self.dest), co, remote)?.map(|p| p.map(super::Work::Git)))
    }
    fn apply_fragment(
        &self,
        index: usize,
        work: Option<&super::Work>,
        _last: bool,
    ) -> Option<Result<(String, Vec<u8>), String>> {
        match work {
            Some(super::Work::Git(op)) => Some(Ok((apply_fragment(index, self, op), Vec::new()))),
            _ => None,
        }
    }
    fn depends(&self, observed: &super::Observed, out: &mut super::Prints) {
        let (key, deploy) = (self.key(), &observed.deploy);
        if let Some(c) = deploy.checkouts.get(key) {
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
        "repo",
        "version",
        "depth",
        "owner",
        "group",
        "user",
        "force",
        "key",
        "known_hosts",
    ],
    is_path: true,
    watchable: true,
    docs_section: "`git: DEST` — a checkout",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key: super::registry::path_key,
    render: super::registry::Render::Fn(crate::resolve::deploy::git),
    check_value: super::registry::any_value,
    records: &[],
    check_entry: super::registry::any_entry,
};

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
