//! The apply script: ONE POSIX `sh` script per host doing all of the host's changes in order,
//! file contents on stdin, and the parser of its result.
//!
//! Per step:
//! - file create/update: `mktemp` in the target's folder (`.NAME.play-tmp.XXXXXX`, mode 0600 from
//!   the start), content from stdin (`head -c N`, then a marker line that proves the stream is in
//!   step), owner/group/mode set on the temp file, `sync` (fsync), then `mv -f -T` over the
//!   target: the target is never half-written. On update, unmanaged attributes are copied from
//!   the old file (`--reference`); on create they default to the running user and mode 0644.
//! - attrs only: `chown`/`chmod` in place (set-user-ID bits that `chown` clears are restored
//!   when the mode is unmanaged).
//! - delete: `rm -f` (file, link), `rmdir` (directory) or `rm -rf` (directory with `force`).
//! - directory create: `mkdir` (parent must exist), then `chown`, `chmod` (default 0755).
//! - link create/update: `ln -s TARGET tmp`, `chown -h`, then `mv -f -T tmp LINK` (atomic; replaces
//!   a file; with `force`, an empty folder is `rmdir`ed first).
//!
//! - program / service: their conf or unit file is written like a file (create/update), a
//!   program's conf deleted with `rm -f`; their processes are handled after the script
//!   (supervisord over XML-RPC, then [`services_script`]).
//! - owed restarts ([`RECORD_STEP`], first when present): the host's state file
//!   ([`OWED_STATE_FILE`]) is written like a file, before any change that makes a restart owed.
//!
//! Modes are passed with five octal digits (`00755`) so GNU chmod also clears a directory's
//! set-group-ID bit when asked to.
//!
//! # Wire format
//!
//! stdout: `play-apply\0v1\0`, then per step `ok\0INDEX\0`, or `fail\0INDEX\0` and the script
//! exits 1 (later steps do not run); `end\0` after the last step.
//! stderr: a marker `\0play-step\0INDEX\0` before each step, so the failing step's own messages
//! can be told apart.

use std::collections::BTreeMap;

use crate::resources::deploy::{self, Work};
use crate::resources::registry::{FirstProbe, Plug};
use crate::resources::{
    mode_str, sha256_hex, Action, Attrs, BuilderSpec, Change, Desired, Kind, Resource,
    OWED_STATE_FILE,
};
use crate::systemd::{self, SvcAction, UnitOp};
use crate::transport::shell_quote;

/// What an apply run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// `Change::index` of the steps that completed, in order.
    pub done: Vec<usize>,
    /// The step that failed (its `Change::index`, or [`UNKNOWN_STEP`] when the script died
    /// without saying which) and why (its stderr).
    pub failed: Option<(usize, String)>,
    /// Steps skipped because their target changed since the plan (index, why); the script
    /// went on with the others.
    pub stale: Vec<(usize, String)>,
}

/// `ApplyOutcome::failed` index when the script died before or between steps, with no step
/// identified (e.g. `sudo` refused, the connection dropped).
pub const UNKNOWN_STEP: usize = usize::MAX;

/// `ApplyOutcome::failed` index of the step writing the owed-restarts state file.
pub const RECORD_STEP: usize = usize::MAX - 1;

const HEADER: &str = "play-apply";

/// The safe walk into a folder, shared by the apply script ([`SCRIPT_HEAD`]) and the fetch
/// of old contents for diffs ([`crate::probe::fetch_script`]): `play_enter DIR` makes DIR the
/// working folder without following a link a less-privileged user controls anywhere on its path
/// (see [`Builder::enter`]). Defines `play_uid` and `play_nl`, which the walk reads.
pub(crate) const ENTER: &str = r#"play_uid=$(id -u)
play_nl='
'
play_enter() {
  if ! cd -P -- "$1" 2>/dev/null; then
    if [ -d "$1" ]; then w='Permission denied'; elif [ -e "$1" ]; then w='Not a directory'; else w='No such file or directory'; fi
    printf '%s: cannot enter the folder (%s)\n' "$1" "$w" >&2
    return 1
  fi
  cd -P /proc/self/cwd 2>/dev/null
  [ "$PWD" = "$1" ] && return 0
  play_walk "$1"
  set -- $?
  exec 8<&-
  return "$1"
}
play_walk() {
  pe_d=$1 pe_r=$1 pe_w=/ pe_k=0
  if ! [ -d /proc/self/fd ]; then
    printf '%s: a symbolic link is on the way and /proc is not mounted; play does not follow links it cannot check\n' "$1" >&2
    return 1
  fi
  cd / || return 1
  while :; do
    case $pe_r in /*) pe_r=${pe_r#/}; continue ;; esac
    [ -n "$pe_r" ] || { cd -P /proc/self/cwd; return 0; }
    pe_c=${pe_r%%/*}
    case $pe_r in */*) pe_r=${pe_r#*/} ;; *) pe_r= ;; esac
    case $pe_c in
      .) continue ;;
      ..) cd -P ./.. || return 1; pe_w=${pe_w%/*}; pe_w=${pe_w:-/}; continue ;;
    esac
    pe_l=${pe_w%/}/$pe_c
    if [ -L "$pe_c" ]; then
      pe_k=$((pe_k + 1))
      if [ "$pe_k" -gt 40 ]; then
        printf '%s: more than 40 symbolic links on the way; play does not follow them\n' "$pe_d" >&2
        return 1
      fi
      pe_s=$(stat -c '%u %a' -- . "$pe_c") || return 1
      pe_u=${pe_s#*"$play_nl"} pe_s=${pe_s%%"$play_nl"*}
      pe_u=${pe_u%% *} pe_o=${pe_s%% *} pe_m=${pe_s#* }
      if [ "$pe_u" != 0 ] && [ "$pe_u" != "$play_uid" ]; then
        printf '%s: a symbolic link owned by uid %s is on the way to %s; play does not follow it\n' "$pe_l" "$pe_u" "$pe_d" >&2
        return 1
      fi
      if { [ "$pe_o" != 0 ] && [ "$pe_o" != "$play_uid" ]; } || { [ $(( 0$pe_m & 022 )) != 0 ] && [ $(( 0$pe_m & 01000 )) = 0 ]; }; then
        printf '%s: a symbolic link in a folder another user can change (owner uid %s, mode %s) is on the way to %s; play does not follow it\n' "$pe_l" "$pe_o" "$pe_m" "$pe_d" >&2
        return 1
      fi
      pe_t=$(readlink -- "$pe_c" && echo .) || return 1
      pe_t=${pe_t%.} && pe_t=${pe_t%"$play_nl"}
      case $pe_t in /*) cd / || return 1; pe_w=/ ;; esac
      pe_r=$pe_t${pe_r:+/$pe_r}
      continue
    fi
    pe_y=; [ -k . ] && pe_y=1
    if { command exec 8< .; } 2>/dev/null; then pe_b=; else pe_b=$(stat -c %d:%i .) || return 1; fi
    pe_s=
    if cd -P -- "./$pe_c" 2>/dev/null; then
      if [ -n "$pe_b" ]; then
        pe_s=$(stat -c %d:%i -- .. . "../$pe_c" 2>/dev/null) || pe_s=
        if [ "${pe_s%%"$play_nl"*}" = "$pe_b" ]; then pe_s=${pe_s#*"$play_nl"}; else pe_s=; fi
      elif [ .. -ef /proc/self/fd/8 ]; then
        if [ -n "$pe_y" ]; then pe_s=$(stat -c %d:%i -- . "../$pe_c" 2>/dev/null) || pe_s=; else pe_s=ok; fi
      fi
    fi
    case $pe_s in
      ok) ;;
      ?*"$play_nl"?*) [ "${pe_s%%"$play_nl"*}" = "${pe_s#*"$play_nl"}" ] || pe_s= ;;
      *) pe_s= ;;
    esac
    if [ -z "$pe_s" ]; then
      printf '%s: %s changed while play entered it; not followed\n' "$pe_d" "$pe_l" >&2
      return 1
    fi
    pe_w=$pe_l
  done
}
"#;

const SCRIPT_HEAD: &str = r#"LC_ALL=C; export LC_ALL
umask 077
t=
play_cwd=$PWD
gk=
trap 'if [ -n "$t" ]; then rm -f -- "$t"; fi; if [ -n "$gk" ]; then rm -rf -- "$gk"; fi' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM
play_skip=
play_ok() {
  t=; cd -- "$play_cwd" 2>/dev/null || cd /
  if [ "$play_skip" = "$1" ]; then play_skip=; else printf 'ok\0%s\0' "$1"; fi
}
play_stale() { if [ -n "$t" ]; then rm -f -- "$t"; fi; t=; play_skip=$1; printf 'stale\0%s\0' "$1"; }
play_fail() { if [ -n "$t" ]; then rm -f -- "$t"; fi; t=; printf 'fail\0%s\0' "$1"; exit 1; }
play_desync() { printf '%s\n' 'content stream out of step (stdin truncated?)' >&2; play_fail "$1"; }
play_pd() {
  pd=.
  [ "$play_uid" = 0 ] || return 0
  if [ "$PWD" = "${play_pd_for-}" ]; then pd=$play_pd_last; return 0; fi
  play_pd_s=$(stat -c '%d %m' .) && [ -n "$play_pd_s" ] || return 1
  set -- "${play_pd_s%% *}" "${play_pd_s#* }"
  if [ "$1" = "${play_pd_dev:-none}" ]; then pd=$play_pd_last; play_pd_for=$PWD; return 0; fi
  if [ -z "${play_pd_vdev-}" ]; then
    [ -d /var/lib/play ] || (umask 022; mkdir -p /var/lib/play)
    mkdir -m 0700 /var/lib/play/tmp 2>/dev/null
    play_pd_vdev=$(stat -c %d /var/lib/play/tmp 2>/dev/null) || play_pd_vdev=none
  fi
  if [ "$play_pd_vdev" = "$1" ]; then
    pd=/var/lib/play/tmp
  else
    pd=${2%/}/.play-tmp
    mkdir -m 0700 -- "$pd" 2>/dev/null
  fi
  if [ -L "$pd" ] || [ "$(stat -c '%u %a %d' -- "$pd" 2>/dev/null)" != "0 700 $1" ]; then
    printf '%s: not a private folder of root (uid 0, mode 0700) on the filesystem of %s; play puts no temp file there\n' "$pd" "$PWD" >&2
    return 1
  fi
  play_pd_for=$PWD play_pd_dev=$1 play_pd_last=$pd
}
play_tmp() {
  play_pd || return 1
  if [ "$pd" = . ]; then t=$(mktemp -- "$1") || return 1; else t=$(mktemp -- "$pd/play.XXXXXX") || return 1; fi
}
play_state() {
  if [ -L "$1" ]; then c=link
  elif [ -f "$1" ]; then c=$(sha256sum < "$1") || return 1; c=${c%% *}
  elif [ -e "$1" ]; then c=other
  else c=missing; fi
}
play_expect() {
  play_state "$1" || return 1
  [ "$c" = "$3" ] && return 0
  [ "$c" = "$2" ] && return 0
  if [ "$2" = - ] && [ "$c" != link ] && [ "$c" != other ]; then return 0; fi
  case $c in
    link) c='a symbolic link' ;; other) c='not a regular file' ;; missing) c=missing ;; *) c='other content' ;;
  esac
  printf '%s: changed since the plan (now %s); not overwritten\n' "$PWD/$1" "$c" >&2
  return 1
}
play_as() {
  pa_u=$1
  shift
  if [ -z "$pa_u" ] || [ "$play_uid" != 0 ] || [ "$pa_u" = "$(id -un)" ]; then "$@"; return; fi
  if command -v runuser >/dev/null 2>&1; then runuser -u "$pa_u" -- "$@"
  elif command -v su >/dev/null 2>&1; then su -s /bin/sh -c 'exec "$0" "$@"' "$pa_u" -- "$@"
  else printf 'cannot run as %s: the host has neither runuser nor su\n' "$pa_u" >&2; return 1
  fi
}
play_locked_dir() {
  m=$(stat -c '%u %a' .) || return 1
  u=${m%% *} m=0${m#* }
  [ "$u" = 0 ] || [ "$u" = "$play_uid" ] || return 1
  [ $(( m & 022 )) = 0 ]
}
printf 'play-apply\0v1\0'
"#;

/// Folder and name of an absolute path (`/a/b` → `/a`, `b`; `/b` → `/`, `b`).
fn split(path: &str) -> (String, String) {
    crate::resources::deploy::split_path(path)
}

/// `DIR/.NAME.play-tmp.` (NAME cut so the temp name stays under NAME_MAX).
pub fn temp_prefix(path: &str) -> String {
    crate::resources::deploy::sibling_prefix(path, "tmp")
}

/// Mode with five octal digits: GNU chmod keeps a directory's set-ID bits for shorter modes.
fn mode5(mode: u32) -> String {
    format!("0{}", mode_str(mode))
}

/// `chown` operand for the managed owner/group, if any.
fn chown_spec(a: &Attrs) -> Option<String> {
    match (&a.owner, &a.group) {
        (Some(o), Some(g)) => Some(format!("{o}:{g}")),
        (Some(o), None) => Some(o.clone()),
        (None, Some(g)) => Some(format!(":{g}")),
        (None, None) => None,
    }
}

/// Removes what a killed apply script left in root's private temp folder (only under the
/// host's apply lock: no other apply runs then). Folders at mount roots are left alone.
pub const CLEAN_PRIVATE_TEMPS: &str = "if [ \"$(id -u)\" = 0 ] && [ -d /var/lib/play/tmp ] && ! [ -L /var/lib/play/tmp ]; then rm -rf -- /var/lib/play/tmp/play.* /var/lib/play/tmp/link.* 2>/dev/null; fi\n";

/// The bytes a step writes, and whether they travel on stdin (a file declared without content
/// is created empty and reads nothing).
struct Content<'a> {
    bytes: &'a [u8],
    streamed: bool,
}

/// What the file a step replaces must still be for the step to go on: the sha256 the probe
/// saw, `missing`, or `-` (not known before an earlier step of this run, or not readable);
/// from the change's content, or its `expect` when it has none (a copy's destination).
fn expectation(change: &Change) -> String {
    if change.after.is_some() {
        return "-".into();
    }
    if let Some(e) = &change.expect {
        return e.clone();
    }
    match (&change.content, change.action) {
        (Some(cc), _) if cc.old_size.is_none() => "missing".into(),
        (Some(cc), _) => cc.old_sha256.clone().unwrap_or_else(|| "-".into()),
        (None, Action::Create) => "missing".into(),
        (None, _) => "-".into(),
    }
}

/// Builds the script body for one host; accumulates stdin.
struct Builder {
    script: String,
    stdin: Vec<u8>,
}

impl Builder {
    fn line(&mut self, s: &str) {
        self.script.push_str(s);
        self.script.push('\n');
    }

    /// `CMD || play_fail I`
    fn run(&mut self, i: usize, cmd: &str) {
        self.line(&format!("{cmd} || play_fail {i}"));
    }

    /// Enters `dir` (the shell's working folder then pins it: later steps act on names inside
    /// it, so a link swapped into the path afterwards is never followed). Fails the step when
    /// the folder is missing, or a link on the way could be swapped by another user.
    ///
    /// `play_enter`: `cd -P`, then the kernel's path of where it landed (`/proc/self/cwd`, no
    /// fork): equal to `dir`, no link was on the way. Otherwise `play_walk` goes again from `/`
    /// one name at a time: a link is followed only when it and its folder belong to root (or
    /// the login user) and no one else can write that folder (or it is sticky), so nobody can
    /// swap it between its check and `readlink`; any other name is entered with `cd -P ./NAME`
    /// and must have the folder it came from as `..` (held open on fd 8, compared with
    /// `test -ef`; by `stat` when the login cannot open the folder; in a sticky folder also
    /// `NAME` itself, by inode): a name flipped to a link while play entered it fails the step.
    fn enter(&mut self, i: usize, dir: &str) {
        self.run(i, &format!("play_enter {}", shell_quote(dir)));
    }

    /// Writes a file: temp file in the private folder of the target's filesystem (root-owned,
    /// 0700; the target's folder for a login without root), content from stdin, attributes set
    /// on the temp file, fsync, the check that the target is still what the plan saw
    /// (`expect`: a sha256, `missing`, or `-` when only known after an earlier step), then a
    /// rename into place inside the pinned folder.
    fn write_file(&mut self, i: usize, path: &str, attrs: &Attrs, content: &Content, expect: &str) {
        self.write_checked(i, path, attrs, content, expect, None)
    }

    /// [`Builder::write_file`], running `validate` (`%s`: the temp file) on the new content
    /// before it replaces the file: when it fails, the step fails and the file is untouched.
    fn write_checked(
        &mut self,
        i: usize,
        path: &str,
        attrs: &Attrs,
        content: &Content,
        expect: &str,
        validate: Option<&str>,
    ) {
        let (dir, name) = split(path);
        let n = shell_quote(&name);
        self.enter(i, &dir);
        self.run(
            i,
            &format!(
                "play_tmp {}",
                shell_quote(&format!("{}XXXXXX", temp_prefix(path)))
            ),
        );
        let bytes = content.bytes;
        if !bytes.is_empty() {
            self.run(i, &format!("head -c {} > \"$t\"", bytes.len()));
        }
        if content.streamed {
            let marker = format!("play-end {i}");
            self.line(&format!(
                "IFS= read -r m || play_desync {i}\n[ \"$m\" = {} ] || play_desync {i}",
                shell_quote(&marker)
            ));
            self.stdin.extend_from_slice(bytes);
            self.stdin.extend_from_slice(marker.as_bytes());
            self.stdin.push(b'\n');
        }
        let sha = sha256_hex(bytes);
        self.place_temp(i, &n, attrs, !bytes.is_empty(), (expect, &sha), validate);
    }

    /// The end of a file's write, once `"$t"` holds its content: attributes (unmanaged ones
    /// follow the file being replaced), fsync when `sync`, the check that the target is still
    /// what the plan saw (`expect`, or already `sha`), and the rename into place.
    fn place_temp(
        &mut self,
        i: usize,
        n: &str,
        attrs: &Attrs,
        sync: bool,
        (expect, sha): (&str, &str),
        validate: Option<&str>,
    ) {
        // Unmanaged attributes follow the file being replaced (when there is one).
        let keep = |managed: bool| !managed;
        if keep(attrs.owner.is_some()) || keep(attrs.group.is_some()) {
            self.line(&format!(
                "if [ -f {n} ] && ! [ -L {n} ]; then chown --reference={n} -- \"$t\" || play_fail {i}; fi"
            ));
        }
        if let Some(spec) = chown_spec(attrs) {
            self.run(i, &format!("chown -- {} \"$t\"", shell_quote(&spec)));
        }
        match attrs.mode {
            Some(m) => self.run(i, &format!("chmod -- {} \"$t\"", mode5(m))),
            None => self.line(&format!(
                "if [ -f {n} ] && ! [ -L {n} ]; then chmod --reference={n} -- \"$t\" || play_fail {i}; else chmod -- 00644 \"$t\" || play_fail {i}; fi"
            )),
        }
        if sync {
            self.run(i, "sync -- \"$t\"");
        }
        if let Some(v) = validate {
            // On lines of its own: a `#` comment in the command ends with its line.
            self.line(&format!(
                "if ! (\n{}\n) </dev/null 1>&2; then printf '%s\\n' {} >&2; play_fail {i}; fi",
                v.replace("%s", "\"$t\""),
                shell_quote(&format!("validate failed: {v}"))
            ));
        }
        // Changed since the plan: this step is skipped (reported stale), the others go on.
        self.line(&format!(
            "if play_expect {n} {} {}; then mv -f -T -- \"$t\" {n} || play_fail {i}; else play_stale {i}; fi",
            shell_quote(expect),
            shell_quote(sha)
        ));
    }

    /// Owner/group/mode of an existing file. In a folder only root (or the login user) can
    /// change, in place (no one else can swap the name); elsewhere the file is copied into the
    /// private folder without following links (`cp -P`), the copy gets the attributes, and it
    /// replaces the file by rename — nothing is ever done through a name another user controls.
    /// Set-ID bits that `chown` clears are restored when the mode is unmanaged.
    fn file_attrs(&mut self, i: usize, path: &str, attrs: &Attrs, expect: &str) {
        let (dir, name) = split(path);
        let n = shell_quote(&name);
        self.enter(i, &dir);
        let chown = chown_spec(attrs).map(|s| shell_quote(&s));
        let set = |b: &mut Self, f: &str| {
            if chown.is_some() && attrs.mode.is_none() {
                b.run(i, &format!("m=$(stat -c %a -- {f})"));
            }
            if let Some(spec) = &chown {
                b.run(i, &format!("chown -h -- {spec} {f}"));
            }
            match attrs.mode {
                Some(m) => b.run(i, &format!("chmod -- {} {f}", mode5(m))),
                None if chown.is_some() => b.run(i, &format!("chmod -- \"$m\" {f}")),
                None => {}
            }
        };
        self.line("if play_locked_dir; then");
        self.run(
            i,
            &format!("play_expect {n} {q} {q}", q = shell_quote(expect)),
        );
        self.line(&format!(
            "if [ -L {n} ] || ! [ -f {n} ]; then printf '%s\\n' 'not a regular file any more' >&2; play_fail {i}; fi"
        ));
        set(self, &n);
        self.line("else");
        self.run(
            i,
            &format!(
                "play_tmp {}",
                shell_quote(&format!("{}XXXXXX", temp_prefix(path)))
            ),
        );
        self.run(
            i,
            &format!("cp -P --preserve=mode,ownership,timestamps -- {n} \"$t\""),
        );
        self.line(&format!(
            "if [ -L \"$t\" ] || ! [ -f \"$t\" ]; then printf '%s\\n' 'not a regular file any more' >&2; play_fail {i}; fi"
        ));
        set(self, "\"$t\"");
        self.run(i, "sync -- \"$t\"");
        self.run(
            i,
            &format!("play_expect {n} {q} {q}", q = shell_quote(expect)),
        );
        self.run(i, &format!("mv -f -T -- \"$t\" {n}"));
        self.line("fi");
    }

    /// A folder: created when missing (`mkdir -m`, so it is never briefly wider than its
    /// mode), then entered (pinned) and given its managed owner and mode through `.`.
    fn directory(&mut self, i: usize, path: &str, attrs: &Attrs) {
        let (dir, name) = split(path);
        let n = shell_quote(&name);
        self.enter(i, &dir);
        let mode = attrs.mode.unwrap_or(0o755);
        self.line(&format!(
            "if ! [ -d {n} ] || [ -L {n} ]; then mkdir -m {} -- {n} || play_fail {i}; fi",
            mode5(mode)
        ));
        if chown_spec(attrs).is_some() || attrs.mode.is_some() {
            self.directory_attrs(i, path, attrs);
        }
    }

    /// Owner/mode of an existing folder, through `.` once entered.
    fn directory_attrs(&mut self, i: usize, path: &str, attrs: &Attrs) {
        self.enter(i, path);
        if let Some(spec) = chown_spec(attrs) {
            self.run(i, &format!("chown -- {} .", shell_quote(&spec)));
        }
        if let Some(m) = attrs.mode {
            self.run(i, &format!("chmod -- {} .", mode5(m)));
        }
    }

    /// Owner, group and mode of everything below the folder `path` (`recurse: true`), from
    /// inside it (entered and pinned like any folder). Nothing is done through a link:
    /// `chown -R -P -h` changes links themselves and never descends through one (GNU `chown`
    /// walks with `fts`, each folder entered without following a link and checked to be the
    /// one it listed); modes are set by `find -execdir` (which enters each folder the same
    /// way) handing names to a `perl` that opens each `O_NOFOLLOW` and sets the mode on what
    /// it opened (`fchmod`), computed from that file's own type and mode (`mode`: the rule and
    /// the `find` test of what differs), so a name swapped for a link between `find` and
    /// `perl` is skipped, never followed. Links get no mode (they have none); fifos, sockets
    /// and devices keep theirs. Hard links: relies on `fs.protected_hardlinks` (another user
    /// cannot link a file it does not own into the tree).
    fn folder_tree(
        &mut self,
        i: usize,
        path: &str,
        (owner, group): (Option<&str>, Option<&str>),
        mode: Option<(String, crate::resources::ModeRule)>,
    ) {
        self.enter(i, path);
        let spec = chown_spec(&Attrs {
            owner: owner.map(str::to_string),
            group: group.map(str::to_string),
            mode: None,
        });
        if let Some(spec) = spec {
            self.run(i, &format!("chown -R -P -h -- {} .", shell_quote(&spec)));
        }
        if let Some((test, rule)) = mode {
            let files: Vec<String> = rule.by_x.iter().map(|m| format!("0{m:o}")).collect();
            self.run(
                i,
                &format!(
                    "find -P . -ignore_readdir_race -mindepth 1 {test} -execdir perl -e {} 0{:o} {} {{}} +",
                    shell_quote(FCHMOD),
                    rule.folder,
                    files.join(" ")
                ),
            );
        }
    }

    /// Removes `path` (`cmd`: `rm -f`, `rmdir`, `rm -rf`) from inside its pinned folder; a
    /// missing folder means it is gone already.
    fn remove(&mut self, i: usize, path: &str, cmd: &str) {
        let (dir, name) = split(path);
        let d = shell_quote(&dir);
        self.line(&format!(
            "if [ -d {d} ]; then play_enter {d} || play_fail {i}; {cmd} -- {} || play_fail {i}; fi",
            shell_quote(&name)
        ));
    }

    /// A symbolic link at `path` to `target`, with the managed owner and group: made in the
    /// private folder (or, for a login without root, beside the path under a name only this
    /// script uses), then renamed over the name in its pinned folder; `force`: an empty folder
    /// standing there is removed first.
    fn symlink(&mut self, i: usize, path: &str, target: &str, attrs: &Attrs, over: Over) {
        let (dir, name) = split(path);
        let n = shell_quote(&name);
        self.enter(i, &dir);
        self.run(i, "play_pd");
        self.line(&format!(
            "if [ \"$pd\" = . ]; then t={}$$; else t=\"$pd/link.$$\"; fi",
            shell_quote(&temp_prefix(path))
        ));
        self.run(i, &format!("ln -s -- {} \"$t\"", shell_quote(target)));
        if let Some(spec) = chown_spec(&Attrs {
            mode: None,
            ..attrs.clone()
        }) {
            self.run(i, &format!("chown -h -- {} \"$t\"", shell_quote(&spec)));
        }
        // in the pinned parent; `rm -r` never follows a link, and one planted there instead
        // of the folder is what `mv -T` replaces
        let remove = match over {
            Over::Nothing => None,
            Over::EmptyFolder => Some("rmdir --"),
            Over::Folder => Some("rm -rf --"),
        };
        if let Some(rm) = remove {
            self.line(&format!(
                "if [ -d {n} ] && ! [ -L {n} ]; then {rm} {n} || play_fail {i}; fi"
            ));
        }
        self.run(i, &format!("mv -f -T -- \"$t\" {n}"));
    }

    /// The managed owner and group of the link at `path` (`chown -h`, in its pinned folder; a
    /// link has no mode of its own).
    fn link_owner(&mut self, i: usize, path: &str, attrs: &Attrs) {
        if let Some(spec) = chown_spec(&Attrs {
            mode: None,
            ..attrs.clone()
        }) {
            let (dir, name) = split(path);
            self.enter(i, &dir);
            self.run(
                i,
                &format!("chown -h -- {} {}", shell_quote(&spec), shell_quote(&name)),
            );
        }
    }

    fn step(&mut self, change: &Change, res: &Resource) {
        let i = change.index;
        self.line(&format!("# {} {} {}", change.action.verb(), change.kind, i));
        self.line(&format!("printf '\\0play-step\\0%s\\0' {i} >&2"));
        let expect = expectation(change);
        let empty = Content {
            bytes: &[],
            streamed: false,
        };
        let content = change
            .content
            .as_ref()
            .map(|c| Content {
                bytes: &c.new,
                streamed: true,
            })
            .unwrap_or(empty);
        if let Some((text, stdin)) = res.desired.change_step(change, &expect) {
            self.script.push_str(&text);
            self.stdin.extend_from_slice(&stdin);
            self.line(&format!("play_ok {i}"));
            return;
        }
        let Some(spec) = res.desired.builder_spec() else {
            // The deploy kinds are written by their own fragments.
            self.fail_step(i, "internal error: no step for this kind");
            return;
        };
        match (spec, change.action) {
            (
                BuilderSpec::ProcessFile {
                    file: Some((path, _)),
                    remove: true,
                },
                Action::Delete,
            ) => self.remove(i, &path, "rm -f"),
            (
                BuilderSpec::ProcessFile {
                    file: Some((path, attrs)),
                    ..
                },
                _,
            ) => match &change.content {
                Some(_) => self.write_file(i, &path, attrs, &content, &expect),
                None => self.file_attrs(i, &path, attrs, &expect),
            },
            (BuilderSpec::ProcessFile { file: None, .. }, _) => {}
        }
        self.line(&format!("play_ok {i}"));
    }

    /// A step that fails at once with `message`.
    fn fail_step(&mut self, i: usize, message: &str) {
        self.line(&format!("printf '\\0play-step\\0%s\\0' {i} >&2"));
        self.line(&format!(
            "printf '%s\\n' {} >&2; play_fail {i}",
            shell_quote(&message.replace('\0', "\\0"))
        ));
    }

    /// Writes (or, when empty, deletes) the owed-restarts state file.
    fn record(&mut self, bytes: &[u8]) {
        let i = RECORD_STEP;
        self.line("# record owed restarts");
        self.line(&format!("printf '\\0play-step\\0%s\\0' {i} >&2"));
        let (dir, _) = split(OWED_STATE_FILE);
        if bytes.is_empty() {
            self.run(i, &format!("rm -f -- {}", shell_quote(OWED_STATE_FILE)));
        } else {
            self.run(i, &format!("mkdir -p -m 0700 -- {}", shell_quote(&dir)));
            let attrs = Attrs {
                owner: None,
                group: None,
                mode: Some(0o600),
            };
            let content = Content {
                bytes,
                streamed: true,
            };
            self.write_file(i, OWED_STATE_FILE, &attrs, &content, "-");
        }
        self.line(&format!("play_ok {i}"));
    }
}

/// Step lines of a file filled on the host (`download:`): in the target's pinned folder, a
/// private temp file `"$t"` that `fill` (shell text, failing the step itself) fills and checks,
/// then [`Builder::place_temp`]'s attributes, fsync, `expect` check and rename. Without the
/// step's marker and `play_ok`.
pub fn fetched_file(
    i: usize,
    path: &str,
    attrs: &Attrs,
    fill: &str,
    expect: &str,
    sha: &str,
) -> String {
    let mut b = Builder {
        script: String::new(),
        stdin: Vec::new(),
    };
    let (dir, name) = split(path);
    b.enter(i, &dir);
    b.run(
        i,
        &format!(
            "play_tmp {}",
            shell_quote(&format!("{}XXXXXX", temp_prefix(path)))
        ),
    );
    b.line(fill);
    b.place_temp(i, &shell_quote(&name), attrs, true, (expect, sha), None);
    b.script
}

/// Step lines copying the host's file `src` to `path` with `attrs` (a `file:`'s `copy_of`):
/// [`fetched_file`] whose fill reads `src` in a subshell that enters its folder with
/// `play_enter` (no link another user could swap is followed on the way) and reads the name
/// with `dd iflag=nofollow,nonblock` after checking it is a regular file, not a link (so root
/// never reads through a link the folder's owner put there); `expect` as there. No stdin.
pub fn copied_file(
    i: usize,
    path: &str,
    attrs: &Attrs,
    src: &str,
    expect: &str,
) -> (String, Vec<u8>) {
    let (dir, name) = split(src);
    let (s, d, n) = (
        shell_quote(src),
        shell_quote(&dir),
        shell_quote(&format!("./{name}")),
    );
    let fill = format!(
        "( play_enter {d} || exit 1
           if [ -L {n} ]; then printf '%s: a symbolic link; play does not copy through it\\n' {s} >&2; exit 1; fi
           if ! [ -f {n} ]; then printf '%s: not a regular file (missing?); nothing to copy\\n' {s} >&2; exit 1; fi
           dd if={n} iflag=nofollow,nonblock bs=64k status=none > \"$t\"
) || play_fail {i}"
    );
    (fetched_file(i, path, attrs, &fill, expect, ""), Vec::new())
}

/// Step lines writing `bytes` to `path` with `attrs` and their stdin
/// ([`Builder::write_file`]: the content travels on stdin, `expect` as there).
pub fn streamed_file(
    i: usize,
    path: &str,
    attrs: &Attrs,
    bytes: &[u8],
    expect: &str,
) -> (String, Vec<u8>) {
    let mut b = Builder {
        script: String::new(),
        stdin: Vec::new(),
    };
    let content = Content {
        bytes,
        streamed: true,
    };
    b.write_file(i, path, attrs, &content, expect);
    (b.script, b.stdin)
}

/// Step lines setting owner/group/mode of an existing file that must still have the sha256
/// `expect` ([`Builder::file_attrs`]).
pub fn attrs_only(i: usize, path: &str, attrs: &Attrs, expect: &str) -> String {
    let mut b = Builder {
        script: String::new(),
        stdin: Vec::new(),
    };
    b.file_attrs(i, path, attrs, expect);
    b.script
}

/// A fresh builder for step lines (no script head).
fn lines() -> Builder {
    Builder {
        script: String::new(),
        stdin: Vec::new(),
    }
}

/// Step lines writing a whole file ([`Builder::write_checked`]) and their stdin: `new`
/// travels on stdin (`None`: the file is created empty), `validate` (`%s`: the temp file)
/// checks it before it replaces the file, `expect` as there.
pub fn whole_file(
    i: usize,
    path: &str,
    attrs: &Attrs,
    new: Option<&[u8]>,
    expect: &str,
    validate: Option<&str>,
) -> (String, Vec<u8>) {
    let mut b = lines();
    let content = Content {
        bytes: new.unwrap_or_default(),
        streamed: new.is_some(),
    };
    b.write_checked(i, path, attrs, &content, expect, validate);
    (b.script, b.stdin)
}

/// Step lines making the folder `path` when missing, with its managed owner and mode
/// ([`Builder::directory`]).
pub fn folder(i: usize, path: &str, attrs: &Attrs) -> String {
    let mut b = lines();
    b.directory(i, path, attrs);
    b.script
}

/// The `perl` of [`Builder::folder_tree`]: `perl -e FCHMOD FOLDER_MODE MODE0..MODE7 NAME…`
/// sets each NAME (in the working folder) to the mode its type and old execute bits give,
/// opening it without following a link and setting the mode on what it opened.
pub const FCHMOD: &str = r#"use Fcntl; my $d = oct shift; my @f = map { oct } splice(@ARGV, 0, 8); my $bad = 0;
for my $n (@ARGV) {
  my $h;
  unless (sysopen($h, $n, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)) {
    next if $!{ENOENT} || $!{ELOOP};
    warn "$n: $!\n"; $bad = 1; next;
  }
  my @s = stat $h or do { warn "$n: $!\n"; $bad = 1; next };
  my $m = $s[2] & 07777;
  my $t = -d _ ? $d : -f _ ? $f[(($m >> 4) & 4) | (($m >> 2) & 2) | ($m & 1)] : undef;
  next unless defined $t && $t != $m;
  chmod($t, $h) or do { warn "$n: $!\n"; $bad = 1 };
}
exit $bad;"#;

/// Step lines giving everything below the folder `path` the owner and group (`chown`) and
/// the mode (`mode`: the `find` test true for a path whose mode differs, and the rule) of a
/// recursive `directory:` ([`Builder::folder_tree`]).
pub fn folder_tree(
    i: usize,
    path: &str,
    chown: (Option<&str>, Option<&str>),
    mode: Option<(String, crate::resources::ModeRule)>,
) -> String {
    let mut b = lines();
    b.folder_tree(i, path, chown, mode);
    b.script
}

/// Step lines setting the managed owner and mode of the folder `path`
/// ([`Builder::directory_attrs`]).
pub fn folder_attrs(i: usize, path: &str, attrs: &Attrs) -> String {
    let mut b = lines();
    b.directory_attrs(i, path, attrs);
    b.script
}

/// What a link may replace: nothing (a link only), an empty folder (`force`), a folder with
/// what it holds (`replace_folder`). A regular file is replaced by the `mv -T` itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    Nothing,
    EmptyFolder,
    Folder,
}

/// Step lines making `path` a symbolic link to `target` ([`Builder::symlink`]).
pub fn symlink(i: usize, path: &str, target: &str, attrs: &Attrs, over: Over) -> String {
    let mut b = lines();
    b.symlink(i, path, target, attrs, over);
    b.script
}

/// Step lines giving the link at `path` its managed owner and group ([`Builder::link_owner`]).
pub fn link_owner(i: usize, path: &str, attrs: &Attrs) -> String {
    let mut b = lines();
    b.link_owner(i, path, attrs);
    b.script
}

/// Step lines removing `path` with `cmd` ([`Builder::remove`]).
pub fn removal(i: usize, path: &str, cmd: &str) -> String {
    let mut b = lines();
    b.remove(i, path, cmd);
    b.script
}

/// True when applying `change` touches a file (the others are process work only).
pub fn writes_files(change: &Change) -> bool {
    let attrs = change.action == Action::Attrs || change.attrs;
    // The process kinds, told apart by their registry line; the others always touch files.
    match change.kind.def().first_probe {
        FirstProbe::Supervisor => {
            change.content.is_some() || change.action == Action::Delete || attrs
        }
        // A service's removal is done with its stop and disable (`services_script`).
        FirstProbe::Unit => change.content.is_some() || (attrs && change.action != Action::Delete),
        FirstProbe::Path { .. } | FirstProbe::Rendered => true,
    }
}

/// The apply script for one host and its stdin (the contents, concatenated in step order).
/// Steps run in the given order; the first failure stops the script.
pub fn script(steps: &[(&Change, &Resource)]) -> (String, Vec<u8>) {
    script_with_record(None, steps)
}

/// [`script`], first writing the owed-restarts state file when `record` is given (its JSON
/// text; empty: delete the file), as step [`RECORD_STEP`].
pub fn script_with_record(
    record: Option<&[u8]>,
    steps: &[(&Change, &Resource)],
) -> (String, Vec<u8>) {
    script_full(record, steps, &BTreeMap::new())
}

/// [`script_with_record`] with the planned work of the kinds of [`deploy`] (by change index):
/// their steps come from their own fragments; the changes of a batched kind
/// (`Spec::batched`) are one step, at the place of the first (one `apt-get` for every
/// package).
pub fn script_full(
    record: Option<&[u8]>,
    steps: &[(&Change, &Resource)],
    work: &BTreeMap<usize, Work>,
) -> (String, Vec<u8>) {
    let mut batches_done: Vec<Kind> = Vec::new();
    // One `apt-get update` per host, ending its last step that changes apt's sources.
    let last_source = steps
        .iter()
        .rev()
        .find(|(_, r)| r.desired.updates_apt_cache())
        .map(|(c, _)| c.index);
    let mut sources_updated = false;
    let mut b = Builder {
        script: [SCRIPT_HEAD, ENTER].concat(),
        stdin: Vec::new(),
    };
    if let Some(bytes) = record {
        b.record(bytes);
    }
    for (change, res) in steps {
        let problem = if change.kind != res.desired.kind() || change.key != res.desired.key() {
            Some(format!(
                "internal error: change {} {} does not match resource {} {}",
                change.kind,
                change.key,
                res.desired.kind(),
                res.desired.key()
            ))
        } else if res.desired.has_nul() {
            Some(format!(
                "{} {}: a NUL byte in a path, target, owner or group",
                change.kind, change.key
            ))
        } else {
            None
        };
        match (problem, change.kind) {
            (Some(message), _) => b.fail_step(change.index, &message),
            (None, kind) if res.desired.batched() => {
                if batches_done.contains(&kind) {
                    continue;
                }
                batches_done.push(kind);
                let members: Vec<(usize, &Desired, Option<&Work>)> = (steps.iter())
                    .filter(|(c, _)| c.kind == kind)
                    .map(|(c, r)| (c.index, &r.desired, work.get(&c.index)))
                    .collect();
                match res.desired.apply_batch(&members, sources_updated) {
                    Ok((text, stdin)) => {
                        b.script.push_str(&text);
                        b.stdin.extend_from_slice(&stdin);
                    }
                    Err((i, message)) => b.fail_step(i, &message),
                }
            }
            // The others by their registry line's plug-in path.
            (None, kind) => match kind.def().plug {
                Plug::Path | Plug::Process => b.step(change, res),
                Plug::Deploy => {
                    let last = last_source == Some(change.index);
                    match deploy::apply_fragment(change, res, work.get(&change.index), last) {
                        Ok((text, stdin)) => {
                            sources_updated |= last;
                            b.script.push_str(&text);
                            b.stdin.extend_from_slice(&stdin);
                        }
                        Err(message) => b.fail_step(change.index, &message),
                    }
                }
            },
        }
    }
    b.line("printf 'end\\0'");
    // The transport sends the script on stdin too, ahead of the contents.
    (b.script, b.stdin)
}

const SERVICES_HEAD: &str = r#"LC_ALL=C; export LC_ALL
printf 'play-services\0v1\0'
play_run() {
  w=$1; shift
  if ! o=$("$@" 2>&1); then printf 'fail\0%s\0%s\0' "$w" "$o"; fi
}
"#;

/// Waits until the positional units are running (at least 1 s, so that a unit dying right
/// after its start is caught; at most 60 s while one is still activating), then reports each
/// one's state, with the last journal lines of those not running.
const SERVICES_SETTLE: &str = r#"n=0
while [ $# -gt 0 ]; do
  pending= bad=
  for u do
    case $(systemctl is-active -- "$u") in
      active|reloading) ;;
      activating|deactivating|reloading) pending=1 ;;
      *) bad=1 ;;
    esac
  done
  [ -n "$bad" ] && break
  [ -z "$pending" ] && [ $n -ge 5 ] && break
  [ $n -ge 300 ] && break
  n=$((n + 1))
  sleep 0.2
done
for u do
  s=$(systemctl is-active -- "$u")
  printf 'unit\0%s\0%s\0' "$u" "$s"
  case $s in
    active|reloading) ;;
    *)
      printf 'journal\0%s\0' "$u"
      journalctl -u "$u" -n 20 --no-pager -o short 2>&1 | tr -d '\000'
      printf '\0'
      ;;
  esac
done
printf 'end\0'
"#;

/// The one script doing a host's systemd work, in this order: `daemon-reload` (when
/// `daemon_reload`), enable, disable, stop, start, restart, try-restart, reload-or-restart,
/// try-reload-or-restart (one `systemctl` per verb for all units), then the check of the units
/// that must run ([`SvcAction::must_run`]).
///
/// Wire format: `play-services\0v1\0`, then `fail\0WHAT\0OUTPUT\0` per failed `systemctl`
/// (WHAT: the verb), `unit\0NAME\0STATE\0` per checked unit (`systemctl is-active`),
/// `journal\0NAME\0TEXT\0` for those not running, `end\0`.
pub fn services_script(ops: &[(&str, UnitOp)], daemon_reload: bool) -> String {
    let mut s = String::from(SERVICES_HEAD);
    let units = |f: &dyn Fn(&UnitOp) -> bool| -> Vec<String> {
        ops.iter()
            .filter(|(_, o)| f(o))
            .map(|(n, _)| shell_quote(n))
            .collect()
    };
    // `state: absent` first: stopped, disabled, unit file removed, before the one reload.
    let removed = units(&|o| o.remove);
    if !removed.is_empty() {
        let stop = units(&|o| o.remove && o.action == SvcAction::Stop);
        let disable = units(&|o| o.remove && o.enable == Some(false));
        for (verb, u) in [("stop", stop), ("disable", disable)] {
            if !u.is_empty() {
                s.push_str(&format!(
                    "play_run {verb} systemctl {verb} -- {}\n",
                    u.join(" ")
                ));
            }
        }
        let files: Vec<String> = ops
            .iter()
            .filter(|(_, o)| o.remove)
            .map(|(n, _)| shell_quote(&systemd::unit_path(n)))
            .collect();
        s.push_str(&format!("play_run remove rm -f -- {}\n", files.join(" ")));
    }
    if daemon_reload || !removed.is_empty() {
        s.push_str("play_run daemon-reload systemctl daemon-reload\n");
    }
    let units = |f: &dyn Fn(&UnitOp) -> bool| units(&|o| !o.remove && f(o));
    for (verb, want) in [("enable", true), ("disable", false)] {
        let u = units(&|o| o.enable == Some(want));
        if !u.is_empty() {
            s.push_str(&format!(
                "play_run {verb} systemctl {verb} -- {}\n",
                u.join(" ")
            ));
        }
    }
    for action in [
        SvcAction::Stop,
        SvcAction::Start,
        SvcAction::Restart,
        SvcAction::TryRestart,
        SvcAction::Reload,
        SvcAction::TryReload,
    ] {
        let u = units(&|o| o.action == action);
        if let (false, Some(verb)) = (u.is_empty(), action.verb()) {
            s.push_str(&format!(
                "play_run {verb} systemctl {verb} -- {}\n",
                u.join(" ")
            ));
        }
    }
    let must = units(&|o| o.action.must_run());
    s.push_str(&format!("set -- {}\n", must.join(" ")));
    s.push_str(SERVICES_SETTLE);
    s
}

/// What [`services_script`] reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServicesOutcome {
    /// `systemctl` calls that failed: (verb, output).
    pub failed_calls: Vec<(String, String)>,
    /// Checked units: (unit, `is-active` state).
    pub states: Vec<(String, String)>,
    /// Journal tails of units not running, by unit.
    pub journals: Vec<(String, String)>,
    /// The script did not finish (died, or its output was cut).
    pub incomplete: Option<String>,
}

impl ServicesOutcome {
    /// Units that should run and do not.
    pub fn not_running(&self) -> Vec<&(String, String)> {
        self.states
            .iter()
            .filter(|(_, s)| s != "active" && s != "reloading")
            .collect()
    }
}

/// Reads [`services_script`]'s output. Never panics.
pub fn parse_services(stdout: &[u8], stderr: &[u8], status: i32) -> ServicesOutcome {
    let mut out = ServicesOutcome::default();
    let mut f = stdout
        .split(|b| *b == 0)
        .map(|x| String::from_utf8_lossy(x).into_owned());
    let incomplete = |why: &str| {
        let err = String::from_utf8_lossy(stderr).trim().to_string();
        Some(if err.is_empty() {
            format!("{why} (exit status {status})")
        } else {
            format!("{why} (exit status {status}): {err}")
        })
    };
    if f.next().as_deref() != Some("play-services") || f.next().as_deref() != Some("v1") {
        out.incomplete = incomplete("the services script did not run");
        return out;
    }
    loop {
        let tag = f.next();
        let mut two = || (f.next(), f.next());
        match tag.as_deref() {
            Some("end") => return out,
            Some("fail") => match two() {
                (Some(a), Some(b)) => out.failed_calls.push((a, b)),
                _ => break,
            },
            Some("unit") => match two() {
                (Some(a), Some(b)) => out.states.push((a, b)),
                _ => break,
            },
            Some("journal") => match two() {
                (Some(a), Some(b)) => out.journals.push((a, b)),
                _ => break,
            },
            _ => break,
        }
    }
    out.incomplete = incomplete("the services script stopped early");
    out
}

/// A script that writes (or, for empty `bytes`, deletes) the owed-restarts state file, as
/// `(command, stdin)`; its result reads with [`parse`].
pub fn record_script(bytes: &[u8]) -> (String, Vec<u8>) {
    script_with_record(Some(bytes), &[])
}

/// The parts of stderr, split at step markers: (step index or None for the preamble, text).
fn stderr_sections(stderr: &[u8]) -> Vec<(Option<usize>, String)> {
    const MARK: &[u8] = b"\0play-step\0";
    let mut out = Vec::new();
    let mut current: Option<usize> = None;
    let mut rest = stderr;
    loop {
        let pos = rest.windows(MARK.len()).position(|w| w == MARK);
        let (text, next) = match pos {
            Some(p) => (&rest[..p], Some(&rest[p + MARK.len()..])),
            None => (rest, None),
        };
        out.push((current, String::from_utf8_lossy(text).into_owned()));
        let Some(after) = next else { break };
        // INDEX\0
        match after.iter().position(|b| *b == 0) {
            Some(end) => {
                current = std::str::from_utf8(&after[..end])
                    .ok()
                    .and_then(|s| s.parse().ok());
                rest = &after[end + 1..];
            }
            None => {
                current = None;
                rest = after;
            }
        }
    }
    out
}

/// Reads the apply script's result. Never panics.
pub fn parse(stdout: &[u8], stderr: &[u8], status: i32) -> ApplyOutcome {
    let mut out = ApplyOutcome::default();
    let mut fields = stdout.split(|b| *b == 0);
    let header_ok = fields.next() == Some(HEADER.as_bytes()) && fields.next() == Some(b"v1");
    let mut ended = false;
    let mut failed_at: Option<usize> = None;
    let mut stale: Vec<usize> = Vec::new();
    if header_ok {
        let index =
            |f: Option<&[u8]>| -> Option<usize> { std::str::from_utf8(f?).ok()?.parse().ok() };
        while let Some(tag) = fields.next() {
            match tag {
                b"ok" => match index(fields.next()) {
                    Some(i) => out.done.push(i),
                    None => break,
                },
                b"stale" => match index(fields.next()) {
                    Some(i) => stale.push(i),
                    None => break,
                },
                b"fail" => {
                    failed_at = index(fields.next());
                    break;
                }
                b"end" => {
                    ended = true;
                    break;
                }
                _ => break,
            }
        }
    }
    let sections = stderr_sections(stderr);
    let all_text = || {
        sections
            .iter()
            .map(|(_, t)| t.trim())
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let section = |i: usize| -> String {
        sections
            .iter()
            .filter(|(s, _)| *s == Some(i))
            .map(|(_, t)| t.trim())
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    };
    out.stale = stale.into_iter().map(|i| (i, section(i))).collect();
    if let Some(i) = failed_at {
        let msg = section(i);
        let msg = if msg.is_empty() {
            format!("failed (exit status {status})")
        } else {
            msg
        };
        out.failed = Some((i, msg));
    } else if !(ended && status == 0) {
        // Died without saying which step: the last step started and not done, if any.
        let started = sections
            .iter()
            .rev()
            .find_map(|(s, _)| s.filter(|i| !out.done.contains(i)));
        let what = if status == 0 {
            "the apply script stopped early".to_string()
        } else {
            format!("the apply script died (exit status {status})")
        };
        let text = all_text();
        let msg = if text.is_empty() {
            what
        } else {
            format!("{what}: {text}")
        };
        out.failed = Some((started.unwrap_or(UNKNOWN_STEP), msg));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::example::{example, example_with};
    use crate::resources::{sha256_hex, ContentChange};

    fn change(
        kind: &str,
        key: &str,
        action: Action,
        index: usize,
        content: Option<&[u8]>,
    ) -> Change {
        Change {
            kind: crate::resources::example::kind(kind).expect("a kind"),
            key: key.into(),
            action,
            details: vec![],
            content: content.map(|b| ContentChange {
                path: key.into(),
                old: None,
                old_sha256: None,
                old_size: None,
                old_unread: None,
                new: b.to_vec(),
                new_sha256: sha256_hex(b),
            }),
            sensitive: false,
            index,
            after: None,
            expect: None,
            files: Default::default(),
            restarts: Vec::new(),
            attrs: false,
        }
    }

    #[test]
    fn paths_split_into_folder_and_name() {
        assert_eq!(split("/etc/app.ini"), ("/etc".into(), "app.ini".into()));
        assert_eq!(split("/x"), ("/".into(), "x".into()));
        assert_eq!(split("/a/b/"), ("/a".into(), "b".into()));
        assert_eq!(temp_prefix("/x"), "/.x.play-tmp.");
        assert_eq!(temp_prefix("/a b/c"), "/a b/.c.play-tmp.");
        let long = format!("/d/{}", "é".repeat(150));
        let p = temp_prefix(&long);
        assert!(p.len() < 240 && p.ends_with(".play-tmp."));
    }

    #[test]
    fn modes_and_owners() {
        assert_eq!(mode5(0o755), "00755");
        assert_eq!(mode5(0o2775), "02775");
        let a = |o: Option<&str>, g: Option<&str>| Attrs {
            owner: o.map(Into::into),
            group: g.map(Into::into),
            mode: None,
        };
        assert_eq!(chown_spec(&a(Some("u"), Some("g"))).as_deref(), Some("u:g"));
        assert_eq!(chown_spec(&a(Some("u"), None)).as_deref(), Some("u"));
        assert_eq!(chown_spec(&a(None, Some("g"))).as_deref(), Some(":g"));
        assert_eq!(chown_spec(&a(None, None)), None);
    }

    #[test]
    fn stdin_carries_contents_and_markers_in_order() {
        let r1 = example("file: /a\ncontent: one").expect("file");
        let r2 = example("file: \"/b'$(x)\"\ncontent: \"\\0two\"").expect("file");
        let d = example("directory: /d").expect("directory");
        let c1 = change("file", "/a", Action::Create, 0, Some(b"one"));
        let cd = change("directory", "/d", Action::Create, 1, None);
        let c2 = change("file", "/b'$(x)", Action::Update, 2, Some(b"\0two"));
        let (s, stdin) = script(&[(&c1, &r1), (&cd, &d), (&c2, &r2)]);
        assert_eq!(stdin, b"oneplay-end 0\n\0twoplay-end 2\n");
        assert!(
            s.contains("play_enter / || play_fail 2")
                && s.contains("mv -f -T -- \"$t\" 'b'\\''$(x)' || play_fail 2"),
            "{s}"
        );
        assert!(s.contains("chown --reference='b'\\''$(x)'"), "{s}");
        assert!(s.contains("mkdir -m 00755 -- d || play_fail 1"), "{s}");
        assert!(s.ends_with("printf 'end\\0'\n"));
    }

    #[test]
    fn mismatched_change_and_resource_fail_the_step() {
        let r = example("link: /l\ntarget: /t").expect("link");
        let c = change("file", "/l", Action::Create, 7, None);
        let (s, stdin) = script(&[(&c, &r)]);
        assert!(stdin.is_empty());
        assert!(s.contains("internal error"), "{s}");
        assert!(s.contains("play_fail 7"), "{s}");
    }

    #[test]
    fn parse_success() {
        let o = parse(
            b"play-apply\0v1\0ok\x003\0ok\x005\0end\0",
            b"\0play-step\x003\0\0play-step\x005\0",
            0,
        );
        assert_eq!(o.done, vec![3, 5]);
        assert_eq!(o.failed, None);
    }

    #[test]
    fn parse_failure_takes_the_failing_steps_stderr() {
        let o = parse(
            b"play-apply\0v1\0ok\x001\0fail\x004\0",
            b"warning from 1\n\0play-step\x001\0noise\0play-step\x004\0mv: cannot move: No such file or directory\n",
            1,
        );
        assert_eq!(o.done, vec![1]);
        assert_eq!(
            o.failed,
            Some((4, "mv: cannot move: No such file or directory".into()))
        );
        let o = parse(b"play-apply\0v1\0fail\x002\0", b"", 1);
        assert_eq!(o.failed, Some((2, "failed (exit status 1)".into())));
    }

    #[test]
    fn parse_death_without_records() {
        let o = parse(b"", b"sudo: a password is required\n", 1);
        assert_eq!(o.done, Vec::<usize>::new());
        let (i, msg) = o.failed.unwrap();
        assert_eq!(i, UNKNOWN_STEP);
        assert!(
            msg.contains("exit status 1") && msg.contains("password"),
            "{msg}"
        );
        // Killed in the middle of step 2, after step 1 was done.
        let o = parse(
            b"play-apply\0v1\0ok\x001\0",
            b"\0play-step\x001\0\0play-step\x002\0",
            -1,
        );
        assert_eq!(o.done, vec![1]);
        assert_eq!(o.failed.unwrap().0, 2);
        // Status 0 without the end record is not a success either.
        let o = parse(b"play-apply\0v1\0ok\x001\0", b"", 0);
        assert_eq!(o.failed.unwrap().0, UNKNOWN_STEP);
    }

    #[test]
    fn parse_never_panics() {
        let mut x: u64 = 88172645463325252;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..2000 {
            let n = (next() % 64) as usize;
            let pool: &[u8] = b"\0okfailend play-apply v1 play-step 0123456789";
            let a: Vec<u8> = (0..n)
                .map(|_| pool[(next() as usize) % pool.len()])
                .collect();
            let b: Vec<u8> = (0..n)
                .map(|_| pool[(next() as usize) % pool.len()])
                .collect();
            let mut s = b"play-apply\0v1\0".to_vec();
            s.extend_from_slice(&a);
            let _ = parse(&s, &b, (next() % 3) as i32 - 1);
            let _ = parse(&a, &b, 0);
        }
    }

    fn op(enable: Option<bool>, action: SvcAction) -> UnitOp {
        UnitOp {
            daemon_reload: false,
            enable,
            action,
            remove: false,
        }
    }

    #[test]
    fn services_script_does_one_systemctl_per_verb_in_order() {
        let ops = [
            ("a.service", op(Some(true), SvcAction::Start)),
            ("b c.service", op(None, SvcAction::Restart)),
            ("d.service", op(Some(false), SvcAction::Stop)),
            ("e.service", op(None, SvcAction::Start)),
            ("f.service", op(None, SvcAction::TryReload)),
        ];
        let s = services_script(&ops, true);
        let pos = |needle: &str| {
            s.find(needle)
                .unwrap_or_else(|| panic!("`{needle}` missing from:\n{s}"))
        };
        let order = [
            pos("play_run daemon-reload systemctl daemon-reload\n"),
            pos("play_run enable systemctl enable -- a.service\n"),
            pos("play_run disable systemctl disable -- d.service\n"),
            pos("play_run stop systemctl stop -- d.service\n"),
            pos("play_run start systemctl start -- a.service e.service\n"),
            pos("play_run restart systemctl restart -- 'b c.service'\n"),
            pos("play_run try-reload-or-restart systemctl try-reload-or-restart -- f.service\n"),
            pos("set -- a.service 'b c.service' e.service\n"),
        ];
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{s}");
        assert!(!services_script(&ops, false).contains("daemon-reload"));
        assert!(s.ends_with("printf 'end\\0'\n"));
    }

    #[test]
    fn services_output_is_parsed_and_never_panics() {
        let o = parse_services(
            b"play-services\0v1\0fail\0start\0Job for x.service failed.\0unit\0x.service\0failed\0journal\0x.service\0boom\nbye\0unit\0y.service\0active\0end\0",
            b"",
            0,
        );
        assert_eq!(
            o.failed_calls,
            vec![("start".into(), "Job for x.service failed.".into())]
        );
        assert_eq!(
            o.not_running(),
            vec![&("x.service".to_string(), "failed".to_string())]
        );
        assert_eq!(o.journals, vec![("x.service".into(), "boom\nbye".into())]);
        assert_eq!(o.incomplete, None);
        let o = parse_services(b"play-services\0v1\0unit\0x.service\0", b"Killed\n", -1);
        assert!(o.incomplete.unwrap().contains("Killed"));
        let o = parse_services(b"", b"sudo: a password is required\n", 1);
        assert!(o.incomplete.unwrap().contains("did not run"));
        let mut x: u64 = 0x1234_5678_9abc_def1;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let pool: &[u8] = b"\0play-services v1 unit journal fail end";
            let n = (x % 60) as usize;
            let bytes: Vec<u8> = (0..n)
                .map(|i| pool[(x as usize + i * 7) % pool.len()])
                .collect();
            let _ = parse_services(&bytes, &bytes, 0);
        }
    }

    #[test]
    fn the_owed_record_is_written_first_and_its_failure_is_named() {
        let r = example("file: /a\ncontent: x").expect("file");
        let c = change("file", "/a", Action::Create, 0, Some(b"x"));
        let (s, stdin) = script_with_record(Some(b"{}\n"), &[(&c, &r)]);
        let record = s
            .find(&format!("play_ok {RECORD_STEP}"))
            .expect("record step");
        let file = s.find("play_ok 0").expect("file step");
        assert!(record < file, "{s}");
        assert!(s.contains("mkdir -p -m 0700 -- /var/lib/play"), "{s}");
        assert!(
            s.contains("play_enter /var/lib/play ||")
                && s.contains("mv -f -T -- \"$t\" restarts.json"),
            "{s}"
        );
        assert!(stdin.starts_with(b"{}\n"));
        // Clearing deletes the file.
        let (s, _) = record_script(b"");
        assert!(s.contains("rm -f -- /var/lib/play/restarts.json"), "{s}");
        let o = parse(
            b"play-apply\0v1\0fail\x0018446744073709551614\0",
            b"\0play-step\x0018446744073709551614\0mkdir: Read-only file system\n",
            1,
        );
        assert_eq!(
            o.failed,
            Some((RECORD_STEP, "mkdir: Read-only file system".into()))
        );
    }

    #[test]
    fn program_and_service_steps_write_their_files() {
        let prog = example("program: web\ncommand: /bin/web").expect("program");
        let svc = example_with(
            "service: w\nunit: w.service.j2\nmode: '0644'",
            &[("templates/w.service.j2", "[Service]\n")],
        )
        .expect("service");
        let c1 = change(
            "program",
            "web",
            Action::Create,
            0,
            Some(b"[program:web]\n"),
        );
        let c2 = change(
            "service",
            "w.service",
            Action::Create,
            1,
            Some(b"[Service]\n"),
        );
        let mut c3 = change("program", "web", Action::Delete, 2, None);
        c3.content = None;
        let (s, stdin) = script(&[(&c1, &prog), (&c2, &svc), (&c3, &prog)]);
        assert!(
            s.contains("play_enter /etc/supervisor/conf.d || play_fail 0")
                && s.contains("mv -f -T -- \"$t\" web.conf || play_fail 0"),
            "{s}"
        );
        assert!(s.contains("chmod -- 00644 \"$t\" || play_fail 1"), "{s}");
        assert!(
            s.contains("mv -f -T -- \"$t\" w.service || play_fail 1"),
            "{s}"
        );
        assert!(s.contains("rm -f -- web.conf || play_fail 2"), "{s}");
        assert_eq!(stdin, b"[program:web]\nplay-end 0\n[Service]\nplay-end 1\n");
        // A state-only change of a program writes nothing.
        let mut c4 = change("program", "web", Action::Update, 3, None);
        c4.content = None;
        assert!(!writes_files(&c4));
        assert!(writes_files(&c3) && writes_files(&c1));
    }
}
