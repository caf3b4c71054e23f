//! Git repositories a deploy fetches on the host (`git:`, and `release:` from a `git:`
//! source): checking a repository and a version, looking a version up (`git ls-remote` in the
//! probe, `gitls` records), the deploy keys and known_hosts of a fetch, and the shell functions
//! every git command on the host runs through ([`GIT_FN`]).

use super::super::deploy::Refused;
use crate::transport::shell_quote;

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
