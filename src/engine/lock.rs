//! The per-host apply lock: two `play apply` never change one host at the same time.
//!
//! **How.** Before changing anything, apply starts a small shell on its own channel of the
//! host's session ([`Transport::spawn`]). It opens `/var/lib/play/lock`, takes an exclusive
//! `flock(1)` on it, writes who holds it on its first line (`gen=N state=held rpid=…
//! by=USER@HOST pid=PID start=TICKS since=EPOCH boot=BOOT-ID pidns=INODE`), says `locked`, and
//! waits for EOF on its stdin. The lock is the open file: it is released when that shell ends —
//! when apply is done, but also when the controller dies, the connection is cut or the host
//! reboots. A lock can therefore only outlive its owner while the host has not noticed yet that
//! the connection is gone.
//!
//! **One lock per host, whatever the login user.** Root, a login with `become` and a login
//! without it (`deploy`) all lock the same file. It lives in a folder only root may write
//! (`/var/lib/play`, made `go+x,go-w`: others reach the file, cannot list, delete, rename or
//! replace it), and is a plain file made by root with mode 0666 (any login opens it to `flock`
//! and to write its line), with `lock.run` beside it. Not a world-writable folder such as
//! `/run/lock` or `/tmp`: there any user can create the name first (own it, make it a link or
//! a fifo, delete and recreate it under a running holder, which gives two holders), and
//! `/run` is emptied at boot, so that race comes back after every reboot. An apply as root
//! makes the folder and files (and fixes their modes when an older version made them 0700/0600);
//! a login without root finds them, checks that root owns them and that no one else may write
//! the folder, and otherwise fails naming the one-line fix — it never falls back to a lock of
//! its own (that let root and `deploy` apply to one host at once).
//!
//! What the file's openness allows, and does not: any local user may hold the lock (applies
//! wait and then fail naming the holder line) or write a made-up line into it. A made-up line
//! can at most make a breaking apply stop processes that hold the lock file open on fd 9 (lock
//! shells and apply scripts, see [`register_inflight`]): the kills are checked against
//! `/proc/PID/fd/9`, never a bare pid from the file.
//!
//! **Waiting.** When the lock is held, the holder's line is shown and apply waits up to
//! `--lock-timeout` seconds (0: fail at once, like Terraform's default), then fails the host
//! naming the owner, its pid and since when it holds the lock.
//!
//! **Stale locks.** A holder is stale only when provably gone: its controller is this machine
//! (host name), in this boot (`/proc/sys/kernel/random/boot_id`) and this PID namespace
//! (`/proc/self/ns/pid`), and its process is gone (or is another process reusing its pid: the
//! start time differs). Then its shell on the host is killed and the lock taken, said in the
//! host's notes. Anything else — another machine, a container or a second controller in
//! another PID namespace (where the holder's pid means nothing), a cloned VM (another boot), a
//! line of an older version without boot id or namespace — is waited for and named.
//!
//! **No extra round trip for no-op runs.** The probe reads the lock file's first line. A run
//! with nothing to change does not lock. A run with changes locks, and probes again only if the
//! lock's line changed since the probe or was held then (another apply ran meanwhile).
//!
//! **Leftovers.** Temp files of interrupted writes (`.NAME.play-tmp.*`, see
//! `apply::temp_prefix`) found by the probe beside declared paths are removed under the lock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::transport::{shell_quote, Spawned, Transport, TransportError};

use super::HostStatus;

/// Who runs this `play`: the owner written into the lock file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// `user@host` of the controller.
    pub by: String,
    /// The controller's process id.
    pub pid: u32,
    /// The controller process's start time (clock ticks since boot, /proc/PID/stat).
    pub start: u64,
    /// When the lock was taken (seconds since the epoch).
    pub since: u64,
    /// The controller's boot (`/proc/sys/kernel/random/boot_id`); `None`: unknown (lines of
    /// older versions), then the holder is never judged stale.
    pub boot: Option<String>,
    /// The controller's PID namespace (the inode number of `/proc/self/ns/pid`); `None`:
    /// unknown, never judged stale.
    pub pidns: Option<String>,
}

/// Where a process runs, as far as its pid means anything: the boot and the PID namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Place {
    pub boot: Option<String>,
    pub pidns: Option<String>,
}

impl Place {
    /// This process's boot id and PID namespace (`None` where they cannot be read).
    pub fn here() -> Place {
        let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ok()
            .map(|b| word(b.trim()))
            .filter(|b| b != "?");
        let pidns = std::fs::read_link("/proc/self/ns/pid")
            .ok()
            .and_then(|l| parse_ns(&l.to_string_lossy()));
        Place { boot, pidns }
    }
}

/// The inode number of a namespace link's text (`pid:[4026531836]`).
pub fn parse_ns(link: &str) -> Option<String> {
    let inner = link.split_once('[')?.1.strip_suffix(']')?;
    (!inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit())).then(|| inner.to_string())
}

impl Owner {
    /// This process, now.
    pub fn current() -> Owner {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            // SAFETY: getuid has no preconditions and cannot fail.
            .unwrap_or_else(|_| format!("uid{}", unsafe { libc::getuid() }));
        let pid = std::process::id();
        let place = Place::here();
        Owner {
            by: format!("{}@{}", word(&user), word(&hostname())),
            pid,
            start: process_start(pid).unwrap_or(0),
            since: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            boot: place.boot,
            pidns: place.pidns,
        }
    }

    /// `by=… pid=… start=… since=… [boot=…] [pidns=…]` (no spaces inside values).
    pub fn line(&self) -> String {
        let mut l = format!(
            "by={} pid={} start={} since={}",
            self.by, self.pid, self.start, self.since
        );
        if let Some(b) = &self.boot {
            l.push_str(&format!(" boot={}", word(b)));
        }
        if let Some(n) = &self.pidns {
            l.push_str(&format!(" pidns={}", word(n)));
        }
        l
    }
}

/// A value made safe for a space-separated `key=value` line.
fn word(s: &str) -> String {
    let w: String = s
        .chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() || c == '=' {
                '_'
            } else {
                c
            }
        })
        .collect();
    if w.is_empty() {
        "?".into()
    } else {
        w
    }
}

/// This machine's host name.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Start time (field 22 of /proc/PID/stat) of a local process; `None` when there is none.
pub fn process_start(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_start(&text)
}

/// Field 22 (`starttime`) of a /proc/PID/stat line. The command name (field 2) is in
/// parentheses and may hold spaces and parentheses: fields are counted after the last `)`.
pub fn parse_stat_start(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The first line of a lock file, read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockLine {
    pub generation: u64,
    pub held: bool,
    pub owner: Option<Owner>,
}

/// Parses `gen=N state=held|free rpid=P by=U@H pid=P start=T since=S boot=B pidns=N`;
/// unknown or missing parts are left empty (the line comes from the host: never trusted to be
/// well formed; lines of older versions have no `boot`/`pidns`).
pub fn parse_line(line: &str) -> LockLine {
    let mut out = LockLine::default();
    let (mut by, mut pid, mut start, mut since) = (None, None, None, None);
    let (mut boot, mut pidns) = (None, None);
    for kv in line.split_whitespace() {
        let Some((k, v)) = kv.split_once('=') else {
            continue;
        };
        match k {
            "gen" => out.generation = v.parse().unwrap_or(0),
            "state" => out.held = v == "held",
            "by" => by = Some(v.to_string()),
            "pid" => pid = v.parse().ok(),
            "start" => start = v.parse().ok(),
            "since" => since = v.parse().ok(),
            "boot" if !v.is_empty() => boot = Some(v.to_string()),
            "pidns" if !v.is_empty() => pidns = Some(v.to_string()),
            _ => {}
        }
    }
    if let (Some(by), Some(pid)) = (by, pid) {
        out.owner = Some(Owner {
            by,
            pid,
            start: start.unwrap_or(0),
            since: since.unwrap_or(0),
            boot,
            pidns,
        });
    }
    out
}

/// `root@ci-1 (pid 4242), since 2026-11-27T02:40:01Z (12s ago)`.
pub fn describe(owner: &Owner, now: u64) -> String {
    let when = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(owner.since));
    let ago = humantime::format_duration(Duration::from_secs(now.saturating_sub(owner.since)));
    format!("{} (pid {}), since {when} ({ago} ago)", owner.by, owner.pid)
}

/// Why a held lock is stale, if it is. Only when its owner is provably gone: it ran on this
/// machine (`here`, the `user@host` host part compared), in this boot and this PID namespace
/// (`place`: a pid means nothing elsewhere — another container, a cloned VM, a second
/// controller under `unshare --pid`), and that process is gone or is another one (`start_of`
/// gives a local pid's start time). A line without boot id or PID namespace (an older
/// version's) is never stale.
pub fn stale_reason(
    owner: &Owner,
    here: &str,
    place: &Place,
    start_of: impl Fn(u32) -> Option<u64>,
) -> Option<String> {
    let host = owner.by.rsplit_once('@').map(|(_, h)| h)?;
    if host != here {
        return None;
    }
    let same = |theirs: &Option<String>, ours: &Option<String>| matches!((theirs, ours), (Some(a), Some(b)) if a == b);
    if !same(&owner.boot, &place.boot) || !same(&owner.pidns, &place.pidns) {
        return None;
    }
    match start_of(owner.pid) {
        None => Some(format!(
            "its owner {} (pid {}) is no longer running on this machine",
            owner.by, owner.pid
        )),
        Some(s) if owner.start != 0 && s != owner.start => Some(format!(
            "its owner {} (pid {}) is gone (that pid is now another process)",
            owner.by, owner.pid
        )),
        Some(_) => None,
    }
}

/// The host-side script: take the lock (waiting `timeout` seconds at most), remove `temps`,
/// hold until stdin ends. Lines it prints: `error MSG`, `busy LINE` (then it reads `wait` or
/// `break` on stdin), `timeout LINE`, `locked PREVIOUS-LINE`.
pub fn script(dir: &str, timeout: u64, owner: &Owner, temps: &[String]) -> String {
    let rm = if temps.is_empty() {
        String::new()
    } else {
        let args: Vec<String> = temps.iter().map(|t| shell_quote(t)).collect();
        format!("rm -f -- {}\n", args.join(" "))
    };
    let wait = timeout;
    let break_wait = timeout.max(5);
    let owner = shell_quote(&owner.line());
    let dir = shell_quote(dir);
    format!(
        r#"set -f
umask 077
d={dir}
f=$d/lock
r=$d/lock.run
play_err() {{ printf 'error %s\n' "$1"; exit 1; }}
play_rootowned() {{
  set -- "$1" $(stat -c '%u %a' -- "$1" 2>/dev/null)
  [ "${{2:-}}" = 0 ] || return 1
  [ -d "$1" ] || return 0
  [ $(( 0${{3:-7}} & 022 )) = 0 ]
}}
command -v flock >/dev/null 2>&1 || play_err 'flock(1) is missing on the host (util-linux)'
if [ "$(id -u)" = 0 ]; then
  mkdir -p -- "$d" 2>/dev/null
  {{ [ -d "$d" ] && ! [ -L "$d" ]; }} || play_err "$d is not a folder"
  chmod go+x,go-w -- "$d" 2>/dev/null && play_rootowned "$d" || play_err "$d is not root's (refusing a lock another user could replace)"
  for x in "$f" "$r"; do
    if [ -L "$x" ] || {{ [ -e "$x" ] && ! [ -f "$x" ]; }}; then play_err "$x is not a plain file"; fi
    {{ : >> "$x" && chmod 0666 -- "$x"; }} 2>/dev/null || play_err "cannot open the lock file $x"
  done
else
  {{ [ -f "$f" ] && ! [ -L "$f" ]; }} || play_err "no shared apply lock on this host: $f is missing or out of reach (an apply as root makes it; or run once as root: install -d -m 0711 $d && install -m 0666 /dev/null $f $r)"
  play_rootowned "$d" && play_rootowned "$f" || play_err "refusing the lock file $f: it or its folder is not root's, or others may write the folder"
fi
command exec 9>>"$f" || play_err "cannot open the lock file $f"
fr=$(readlink -f -- "$f" 2>/dev/null) || fr=$f
play_owns() {{
  [ "$(readlink "/proc/$1/fd/9" 2>/dev/null)" = "$fr" ]
}}
play_alive() {{
  [ -r "/proc/$1/stat" ] || return 1
  st=
  IFS= read -r st < "/proc/$1/stat" || return 1
  st=${{st##*) }}
  case $st in Z*|X*) return 1 ;; esac
  set -- "$2" $st
  [ "$1" = "${{21:-}}" ]
}}
play_inflight() {{
  ip=
  [ -f "$r" ] || return 1
  rl=
  IFS= read -r rl < "$r"
  set -- $rl
  case ${{1:-}} in ''|*[!0-9]*) return 1 ;; esac
  play_alive "$1" "${{2:-}}" && play_owns "$1" && ip=$1
}}
if ! flock -n 9; then
  l=
  IFS= read -r l < "$f"
  printf 'busy %s\n' "$l"
  IFS= read -r a || exit 0
  w={wait}
  if [ "$a" = break ]; then
    w={break_wait}
    play_inflight && kill "$ip" 2>/dev/null
    for kv in $l; do
      case $kv in
        rpid=*) p=${{kv#rpid=}}; case $p in ''|*[!0-9]*) ;; *) play_owns "$p" && kill "$p" 2>/dev/null ;; esac ;;
      esac
    done
  fi
  if [ "$w" = 0 ] || ! flock -w "$w" 9; then
    l=
    IFS= read -r l < "$f"
    printf 'timeout %s\n' "$l"
    exit 75
  fi
fi
p=
IFS= read -r p < "$f"
g=0
for kv in $p; do case $kv in gen=*) g=${{kv#gen=}} ;; esac; done
case $g in ''|*[!0-9]*) g=0 ;; esac
g=$((g + 1))
{rm}printf 'gen=%s state=held rpid=%s %s\n' "$g" "$$" {owner} > "$f"
printf 'locked %s\n' "$p"
while IFS= read -r x; do :; done
while play_inflight; do sleep 0.2; done
printf 'gen=%s state=free %s\n' "$g" {owner} > "$f"
"#
    )
}

/// A prefix for the apply script: records its shell's pid and start time in `lock.run`
/// beside the lock, and keeps the lock file open on fd 9 (not locked: the lock is the lock
/// shell's), so that a lock whose controller died is released only once that script ended,
/// and a stale lock broken by another run also stops it. The lock shell acts only on a pid
/// that has the lock file open on fd 9: `lock.run` is writable by every login, and a pid
/// written there by someone else is never waited for nor killed.
pub fn register_inflight() -> String {
    register_inflight_in(LOCK_DIR)
}

/// [`register_inflight`] for a lock in `dir`.
pub fn register_inflight_in(dir: &str) -> String {
    let dir = shell_quote(dir);
    format!(
        r#"play_register() {{
  d={dir}
  [ -f "$d/lock" ] && [ -r "$d/lock" ] && ! [ -L "$d/lock" ] || return 0
  st=
  IFS= read -r st < /proc/$$/stat || return 0
  st=${{st##*) }}
  set -f
  set -- $st
  set +f
  command exec 9<"$d/lock" || return 0
  printf '%s %s\n' "$$" "${{20:-0}}" > "$d/lock.run" || :
}}
play_register 2>/dev/null
"#
    )
}

/// Temp files reported by the probe that are leftovers of writes to `paths`: exactly
/// `apply::temp_prefix(path)` followed by mktemp's six letters or digits (files) or a pid
/// (links). Anything else the host reported is ignored: nothing outside is ever removed.
pub fn leftover_temps<'a>(
    reported: &[String],
    paths: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let prefixes: Vec<String> = paths
        .into_iter()
        .filter(|p| p.starts_with('/') && !p.split('/').any(|c| c == ".."))
        .map(crate::apply::temp_prefix)
        .collect();
    let mut out: Vec<String> = reported
        .iter()
        .filter(|t| {
            prefixes.iter().any(|pre| {
                t.strip_prefix(pre.as_str()).is_some_and(|rest| {
                    let alnum = rest.len() == 6 && rest.bytes().all(|b| b.is_ascii_alphanumeric());
                    let pid = !rest.is_empty()
                        && rest.len() <= 10
                        && rest.bytes().all(|b| b.is_ascii_digit());
                    alnum || pid
                })
            })
        })
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The lock, held while this lives (dropping it releases the lock on the host).
pub struct HostLock {
    child: Box<dyn Spawned>,
    /// The lock file's line before this run took it (`None`: there was none).
    pub previous: Option<String>,
}

impl HostLock {
    /// True when nothing can have changed the host since a probe that saw `probed` as the
    /// lock file's line: the line is the same and no apply held it then.
    pub fn unchanged_since(&self, probed: Option<&str>) -> bool {
        let prev = self.previous.as_deref().filter(|l| !l.is_empty());
        let probed = probed.filter(|l| !l.is_empty());
        prev == probed && !prev.is_some_and(|l| parse_line(l).held)
    }
}

impl Drop for HostLock {
    fn drop(&mut self) {
        self.child.finish();
    }
}

/// What happened while taking a lock, for the host's notes.
pub type Notes = Vec<String>;

/// Where the lock file lives on a host, for every login user (see the module doc). The probe
/// (`probe::script_with`) reads it there.
pub const LOCK_DIR: &str = "/var/lib/play";

/// Takes the host's lock (see the module doc), removing `temps` once held.
pub fn acquire(
    t: &mut dyn Transport,
    owner: &Owner,
    timeout: u64,
    temps: &[String],
    notes: &mut Notes,
) -> Result<HostLock, HostStatus> {
    acquire_in(t, LOCK_DIR, owner, timeout, temps, notes)
}

/// [`acquire`] with the lock file in `dir`.
pub fn acquire_in(
    t: &mut dyn Transport,
    dir: &str,
    owner: &Owner,
    timeout: u64,
    temps: &[String],
    notes: &mut Notes,
) -> Result<HostLock, HostStatus> {
    let lost = |e: TransportError| HostStatus::Unreachable(e.to_string());
    let mut child = t.spawn(&script(dir, timeout, owner, temps)).map_err(lost)?;
    let here = hostname();
    let place = Place::here();
    let now = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    };
    let held_by = |line: &str| match parse_line(line).owner {
        Some(o) => describe(&o, now()),
        None => format!("an unknown owner (lock line `{}`)", line.trim()),
    };
    loop {
        let Some(line) = child.read_line().map_err(lost)? else {
            let err = child.stderr();
            return Err(HostStatus::Failed(format!(
                "taking the apply lock: the lock command ended{}",
                if err.trim().is_empty() {
                    String::new()
                } else {
                    format!(": {}", err.trim())
                }
            )));
        };
        let (word, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        match word {
            "locked" => {
                if !temps.is_empty() {
                    notes.push(format!(
                        "removed {} leftover temp file(s) of an interrupted run: {}",
                        temps.len(),
                        temps.join(", ")
                    ));
                }
                return Ok(HostLock {
                    child,
                    previous: Some(rest.to_string()).filter(|l| !l.is_empty()),
                });
            }
            "busy" => {
                let stale = parse_line(rest)
                    .owner
                    .and_then(|o| stale_reason(&o, &here, &place, process_start));
                let answer = match &stale {
                    Some(why) => {
                        notes.push(format!("broke a stale apply lock: {why}"));
                        "break\n"
                    }
                    None => {
                        notes.push(format!(
                            "the host is locked by another `play apply`: {}; waiting up to {timeout}s",
                            held_by(rest)
                        ));
                        "wait\n"
                    }
                };
                child.send(answer.as_bytes()).map_err(lost)?;
            }
            "timeout" => {
                return Err(HostStatus::Failed(format!(
                    "the host is locked by another `play apply`: {}; gave up after {timeout}s (--lock-timeout)",
                    held_by(rest)
                )));
            }
            "error" => return Err(HostStatus::Failed(format!("taking the apply lock: {rest}"))),
            _ => {
                return Err(HostStatus::Failed(format!(
                    "taking the apply lock: unexpected answer `{}`",
                    line.chars().take(200).collect::<String>()
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> Owner {
        Owner {
            by: "ci@runner-1".into(),
            pid: 4242,
            start: 777,
            since: 1_795_000_000,
            boot: Some("b00t".into()),
            pidns: Some("4026531836".into()),
        }
    }

    fn place() -> Place {
        Place {
            boot: Some("b00t".into()),
            pidns: Some("4026531836".into()),
        }
    }

    #[test]
    fn lines_round_trip_and_junk_is_tolerated() {
        let o = owner();
        let l = parse_line(&format!("gen=7 state=held rpid=99 {}", o.line()));
        assert_eq!(l.generation, 7);
        assert!(l.held);
        assert_eq!(l.owner, Some(o));
        let free = parse_line("gen=8 state=free by=a@b pid=1");
        assert!(!free.held);
        assert_eq!(free.owner.map(|o| o.pid), Some(1));
        for junk in ["", "gen=x", "=== state", "\u{0}\u{ff} pid=-1", "by=x"] {
            let l = parse_line(junk);
            assert_eq!(l.generation, 0, "{junk:?}");
            assert!(l.owner.is_none(), "{junk:?}");
        }
    }

    #[test]
    fn owner_words_have_no_spaces() {
        assert_eq!(word("a b\tc=d"), "a_b_c_d");
        assert_eq!(word(""), "?");
        let me = Owner::current();
        assert_eq!(me.pid, std::process::id());
        assert_eq!(parse_line(&me.line()).owner, Some(me));
    }

    #[test]
    fn stat_start_time_survives_odd_command_names() {
        let stat = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 100 2";
        assert_eq!(parse_stat_start(stat), Some(98765));
        assert_eq!(parse_stat_start("garbage"), None);
        assert_eq!(parse_stat_start("1 (x) S 1"), None);
        assert!(process_start(std::process::id()).is_some());
    }

    #[test]
    fn only_a_dead_local_owner_is_stale() {
        let o = owner();
        let here = place();
        // Another machine: never judged.
        assert_eq!(stale_reason(&o, "elsewhere", &here, |_| None), None);
        // Here and alive with the same start time: not stale.
        assert_eq!(stale_reason(&o, "runner-1", &here, |_| Some(777)), None);
        // Here and gone.
        let why = stale_reason(&o, "runner-1", &here, |_| None).unwrap_or_default();
        assert!(
            why.contains("no longer running") && why.contains("4242"),
            "{why}"
        );
        // Here, pid reused by another process.
        let why = stale_reason(&o, "runner-1", &here, |_| Some(1)).unwrap_or_default();
        assert!(why.contains("another process"), "{why}");
        // No `@host`: cannot tell.
        let anon = Owner {
            by: "nobody".into(),
            ..owner()
        };
        assert_eq!(stale_reason(&anon, "runner-1", &here, |_| None), None);
    }

    #[test]
    fn a_pid_of_another_namespace_or_boot_is_never_judged() {
        let o = owner();
        let gone = |_| None;
        // Same user@host, but another PID namespace (a container, `unshare --pid`): the pid
        // means nothing here.
        let other_ns = Place {
            pidns: Some("4026532999".into()),
            ..place()
        };
        assert_eq!(stale_reason(&o, "runner-1", &other_ns, gone), None);
        // Another boot (a cloned VM, a reboot of the controller).
        let other_boot = Place {
            boot: Some("other".into()),
            ..place()
        };
        assert_eq!(stale_reason(&o, "runner-1", &other_boot, gone), None);
        // This controller cannot tell where it runs: never stale.
        assert_eq!(stale_reason(&o, "runner-1", &Place::default(), gone), None);
        // A line of an older version (no boot id, no namespace): parsed, never stale.
        let old = parse_line("gen=3 state=held rpid=9 by=ci@runner-1 pid=4242 start=777 since=1");
        let old = old.owner.expect("an owner");
        assert_eq!(
            (old.pid, old.boot.clone(), old.pidns.clone()),
            (4242, None, None)
        );
        assert_eq!(stale_reason(&old, "runner-1", &place(), gone), None);
        // What this process sees of itself.
        let me = Place::here();
        assert!(me.boot.is_some() && me.pidns.is_some(), "{me:?}");
        assert_eq!(parse_ns("pid:[4026531836]").as_deref(), Some("4026531836"));
        assert_eq!(parse_ns("pid:[]"), None);
        assert_eq!(parse_ns("garbage"), None);
    }

    #[test]
    fn descriptions_name_owner_pid_and_time() {
        let d = describe(&owner(), 1_795_000_012);
        assert!(d.starts_with("ci@runner-1 (pid 4242), since 2026-"), "{d}");
        assert!(d.ends_with("(12s ago)"), "{d}");
    }

    #[test]
    fn only_real_leftovers_of_declared_paths_are_removed() {
        let reported: Vec<String> = [
            "/etc/app/.app.ini.play-tmp.Ab12Z9",
            "/etc/app/.app.ini.play-tmp.12345",
            "/etc/app/.app.ini.play-tmp.Ab12Z9",
            "/etc/passwd",
            "/etc/app/.app.ini.play-tmp.../../x",
            "/etc/app/.app.ini.play-tmp.AB",
            "/etc/app/.other.play-tmp.Ab12Z9",
            "/srv/.link.play-tmp.77",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let got = leftover_temps(&reported, ["/etc/app/app.ini", "/srv/link", "/x/../etc/y"]);
        assert_eq!(
            got,
            vec![
                "/etc/app/.app.ini.play-tmp.12345".to_string(),
                "/etc/app/.app.ini.play-tmp.Ab12Z9".to_string(),
                "/srv/.link.play-tmp.77".to_string(),
            ]
        );
    }

    #[test]
    fn the_script_quotes_what_it_is_given() {
        let s = script(
            "/var/lib/play",
            3,
            &owner(),
            &["/tmp/.a b.play-tmp.$(touch x)".to_string()],
        );
        assert!(
            s.contains("rm -f -- '/tmp/.a b.play-tmp.$(touch x)'"),
            "{s}"
        );
        assert!(s.contains("w=3\n"), "{s}");
        assert!(s.contains("w=5\n"), "a break waits at least 5s: {s}");
        assert!(s.contains(
            "'by=ci@runner-1 pid=4242 start=777 since=1795000000 boot=b00t pidns=4026531836'"
        ));
        // One lock for every login: no per-user fallback; kills only of lock openers.
        assert!(!s.contains("HOME") && !s.contains("~"), "{s}");
        assert!(s.contains("play_owns \"$p\" && kill"), "{s}");
    }

    #[test]
    fn a_lock_knows_when_a_second_probe_is_needed() {
        let lock = |prev: Option<&str>| HostLock {
            child: Box::new(Nothing),
            previous: prev.map(String::from),
        };
        assert!(lock(None).unchanged_since(None));
        assert!(lock(Some("gen=2 state=free")).unchanged_since(Some("gen=2 state=free")));
        assert!(!lock(Some("gen=3 state=free")).unchanged_since(Some("gen=2 state=free")));
        assert!(!lock(Some("gen=2 state=held")).unchanged_since(Some("gen=2 state=held")));
        assert!(!lock(Some("gen=1 state=free")).unchanged_since(None));
    }

    struct Nothing;
    impl Spawned for Nothing {
        fn read_line(&mut self) -> Result<Option<String>, TransportError> {
            Ok(None)
        }
        fn send(&mut self, _: &[u8]) -> Result<(), TransportError> {
            Ok(())
        }
        fn stderr(&mut self) -> String {
            String::new()
        }
        fn finish(&mut self) {}
    }

    /// The script itself, run here with the local transport on a temp folder: the first taker
    /// gets the lock, a second one times out naming the owner, waits until it is released, or
    /// breaks it when its owner (on this machine) is gone.
    #[test]
    fn the_script_locks_for_real() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().to_string_lossy().into_owned();
        let local = || crate::transport::local::LocalTransport::named("here", false);
        let mut notes = Vec::new();
        let me = Owner::current();
        let (mut t1, mut t2) = (local(), local());
        let first = acquire_in(&mut t1, &d, &me, 0, &[], &mut notes).expect("lock");
        assert_eq!(first.previous, None);
        let err = acquire_in(&mut t2, &d, &me, 0, &[], &mut notes)
            .err()
            .expect("second taker refused");
        let want = format!("{} (pid {})", me.by, me.pid);
        assert!(
            matches!(&err, HostStatus::Failed(m) if m.contains(&want) && m.contains("--lock-timeout")),
            "{err:?}"
        );
        // Released after a moment: a waiting taker gets it and sees the free line.
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(first);
        });
        let second = acquire_in(&mut t2, &d, &me, 10, &[], &mut notes).expect("waited");
        release.join().expect("thread");
        let prev = second.previous.clone().unwrap_or_default();
        assert!(prev.starts_with("gen=1 state=free "), "{prev}");
        drop(second);
        // A controller gone while its apply script runs: the lock is released only once that
        // script ended.
        let first = acquire_in(&mut t1, &d, &me, 0, &[], &mut notes).expect("lock");
        let mut inflight = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{}sleep 1", register_inflight_in(&d)))
            .spawn()
            .expect("in-flight script");
        std::thread::sleep(Duration::from_millis(200));
        drop(first);
        let third = acquire_in(&mut t2, &d, &me, 10, &[], &mut notes).expect("waited");
        assert!(
            inflight.try_wait().ok().flatten().is_some(),
            "the lock outlived the in-flight script"
        );
        drop(third);
        // A holder whose owner process here is gone: broken, not waited for.
        let dead = std::process::Command::new("true")
            .spawn()
            .and_then(|mut c| c.wait().map(|_| c.id()))
            .expect("a short-lived process");
        let ghost = Owner {
            pid: dead,
            start: 1,
            ..me.clone()
        };
        let stale = acquire_in(&mut t1, &d, &ghost, 0, &[], &mut notes).expect("lock");
        std::mem::forget(stale); // its holder stays on as if its controller had died
        let leftover = format!("{d}/.app.ini.play-tmp.AbC123");
        std::fs::write(&leftover, "half").expect("temp");
        let mut notes = Vec::new();
        let taken = acquire_in(
            &mut t2,
            &d,
            &me,
            0,
            std::slice::from_ref(&leftover),
            &mut notes,
        )
        .expect("stale lock broken");
        assert!(
            notes.iter().any(|n| n.contains("broke a stale apply lock")),
            "{notes:?}"
        );
        assert!(taken
            .previous
            .as_deref()
            .is_some_and(|p| p.contains("state=held")));
        assert!(
            !std::path::Path::new(&leftover).exists(),
            "leftover removed"
        );
        drop(taken);
        // `lock.run` (and the line) are writable by every login: a pid written there by someone
        // else, of a process that does not hold the lock file open, is never killed when a
        // stale lock is broken.
        let mut bystander = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("a bystander process");
        let pid = bystander.id();
        let start = process_start(pid).expect("its start time");
        let stale = acquire_in(&mut t1, &d, &ghost, 0, &[], &mut notes).expect("lock");
        std::mem::forget(stale);
        std::fs::write(format!("{d}/lock.run"), format!("{pid} {start}\n")).expect("forge");
        let mut notes = Vec::new();
        let taken = acquire_in(&mut t2, &d, &me, 0, &[], &mut notes).expect("stale lock broken");
        assert!(
            notes.iter().any(|n| n.contains("broke a stale apply lock")),
            "{notes:?}"
        );
        assert!(
            bystander.try_wait().ok().flatten().is_none(),
            "the bystander named in lock.run was killed"
        );
        let _ = bystander.kill();
        let _ = bystander.wait();
        drop(taken);
    }
}
