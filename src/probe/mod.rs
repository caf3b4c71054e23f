//! The probe: ONE POSIX `sh` script per host that prints the host's facts and the state of every
//! requested path, and its parser. Plus the fetch of old file contents (for diffs), also in one
//! round trip.
//!
//! Forks on the host cost (see `fast-probes.md`), so the probe runs at most: one `find` for all
//! paths, one `sha256sum` for all regular files, one `find` again for the identities (what
//! changed while probed is not reported) only when the first saw a folder another user than
//! root could write or a link on the way, and `uname` only on kernels without
//! `/proc/sys/kernel/arch`. Everything else uses shell builtins (`read`, `[`, globbing, `printf`).
//!
//! # Wire format (probe)
//!
//! A sequence of NUL-terminated fields, grouped into records by a leading tag. File names may
//! contain anything but NUL, so they frame safely:
//!
//! ```text
//! play-probe \0 v1 \0                          header
//! fact \0 KEY \0 VALUE \0                      hostname, arch, os_id, os_version, os_codename (raw os-release
//!                                              value, quotes included), cpus_online (e.g. `0-3,6`)
//!                                              or cpus (a count), mem_kb, virtualization
//!                                              (`docker`, `kvm`…, `NA`), selinux (`disabled`,
//!                                              `enforcing`, `permissive`), route4, local4,
//!                                              route6, addr6 (see [`net`]): builtins only
//! stat \0 PATH \0 TYPE \0 SIZE \0 MODE \0 OWNER \0 GROUP \0 LINK-TARGET \0
//!                                              one per existing path (GNU find -printf
//!                                              `%p %y %s %m %u %g %l`; TYPE is f d l s p c b D)
//! anc \0 PATH \0 1|0 \0                        a folder above a requested path (1: requested too)
//! id \0 PATH \0 T DEV INO CTIME UID GID MODE \0  after each `stat`: its identity (`%y %D %i %C@
//!                                              %U %G %m`), for the folders above too
//! reid \0 PATH \0 T DEV INO CTIME UID GID MODE \0 the same, by a second find after the sums
//!                                              (in reverse order): a path that, or whose folder
//!                                              on the way, differs is not reported
//! same \0                                      instead of the `reid` records: no second find,
//!                                              the first saw only root's folders no one else
//!                                              may write and no link on the way (the parser
//!                                              checks it again for each path)
//! err \0 PATH \0 MESSAGE \0                    a path that could not be examined
//! fail \0 MESSAGE \0                           the probe itself failed (e.g. `find` did)
//! empty \0 PATH \0 1|0 \0                      emptiness of a requested directory
//! sums \0 TEXT \0                              `sha256sum` output for the regular files: lines
//!                                              `HEX  NAME`, `\`-escaped when NAME has `\` or a
//!                                              newline (coreutils format, every version)
//! supervisor \0 CONF \0                        supervisord's config file (when asked and found)
//! supconf \0 LINE \0                           a line of its `[unix_http_server]` section
//! supinc \0 VALUE \0                           its `[include] files=` value (continuation lines
//!                                              joined); the programs' conf candidates under it
//!                                              are stat'ed with the other paths
//! units \0 N \0 NAME… \0 TEXT \0                `systemctl show` of N units, in order
//! nosystemd \0                                 systemd does not run (no /run/systemd/system)
//! owed \0 TEXT \0                              the owed-restarts state file (when it exists)
//! gather \0 ID \0 STATUS \0 OUT \0 ERR \0          a `gather:` command's status and base64
//!                                              outputs (first probe only; see [`gather`])
//! end \0                                       trailer: its absence means truncated output
//! ```
//!
//! A path asked for and not reported does not exist. The supervisor, units and owed records
//! cost no fork but one `systemctl show` for all units.

use std::collections::BTreeMap;

pub mod env;
pub mod gather;
pub mod net;

use crate::resources::deploy::{self, DeployProbe};
use crate::resources::registry::{FirstProbe, Plug};
use crate::resources::{
    decode_owed, tree, Desired, Kind, Observed, PathKind, PathState, Resource, OWED_STATE_FILE,
};
use crate::systemd;
use crate::transport::shell_quote;

/// What to probe on one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeRequest {
    /// Paths whose state is wanted (absolute).
    pub paths: Vec<String>,
    /// Directories whose emptiness matters (deleting a folder, replacing one with a link).
    pub emptiness: Vec<String>,
}

/// What the probe reports besides paths, for programs and services.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessProbe {
    /// Find supervisord's config and its `[unix_http_server]` section.
    pub supervisor: bool,
    /// Programs whose conf file to stat where that config's `[include] files=` puts it
    /// (the config is then looked for too).
    pub programs: Vec<String>,
    /// Units to `systemctl show` (full names).
    pub units: Vec<String>,
    /// Read the owed-restarts state file.
    pub owed: bool,
    /// Gather the default-route facts too (see [`net`]): only when the project names them,
    /// since reading the kernel's tables costs the host about 0.5 ms of CPU.
    pub net: bool,
    /// Read the session's environment too (see [`env`]): only when the project names it
    /// (`ansible_env`, `facts.env`), since it may hold secrets and costs a process.
    pub env: bool,
    /// Checkouts, trees, releases, packages, users, groups, command checks (see
    /// [`crate::resources::deploy`]): their fragment goes into the same script.
    pub deploy: DeployProbe,
    /// Commands of `gather:` (first probe only; see [`gather`]): run in order, their output
    /// reported.
    pub gathers: Vec<gather::GatherCmd>,
}

impl ProcessProbe {
    pub fn is_empty(&self) -> bool {
        !self.supervisor
            && self.programs.is_empty()
            && self.units.is_empty()
            && !self.owed
            && self.deploy.is_empty()
            && self.gathers.is_empty()
    }

    /// The seconds the probe may take beyond its usual bound (commands it runs).
    pub fn slow_secs(&self) -> u64 {
        self.deploy.fragment_secs() + u64::from(gather::TIMEOUT_SECS) * self.gathers.len() as u64
    }
}

/// What one probe asks for: paths (each with whether its emptiness matters: deleting a folder,
/// replacing one with a link) and what programs, services and the kinds of
/// [`crate::resources::deploy`] need. The ONE way to compute a probe: the engine (its first
/// probe before facts, the second for what rendering with facts added, the verify probe) and
/// the tests use it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wants {
    pub paths: Vec<(String, bool)>,
    pub extra: ProcessProbe,
}

impl Wants {
    /// For resources named by (kind, key) before they are rendered (the engine's first probe:
    /// keys known without facts).
    pub fn of<'a>(items: impl IntoIterator<Item = (Kind, &'a str)>) -> Wants {
        let mut w = Wants::default();
        for (kind, key) in items {
            w.add_key(kind, key);
        }
        w
    }

    fn add_path(&mut self, path: String, emptiness: bool) {
        match self.paths.iter_mut().find(|(p, _)| *p == path) {
            Some((_, e)) => *e |= emptiness,
            None => self.paths.push((path, emptiness)),
        }
    }

    /// What a resource needs that its kind and key tell (its registry line says).
    fn add_key(&mut self, kind: Kind, key: &str) {
        match kind.def().first_probe {
            FirstProbe::Path { emptiness } => self.add_path(key.to_string(), emptiness),
            // Its conf path depends on the host's supervisord.conf: the probe finds it.
            FirstProbe::Supervisor => {
                self.extra.supervisor = true;
                push_unique(&mut self.extra.programs, key);
            }
            FirstProbe::Unit => {
                self.add_path(systemd::unit_path(key), false);
                push_unique(&mut self.extra.units, key);
            }
            FirstProbe::Rendered => {}
        }
        self.extra.owed = self.extra.supervisor || !self.extra.units.is_empty();
    }

    /// What a rendered resource of the kinds of `resources::deploy` needs: its paths and its
    /// part of the probe script; the other kinds need their kind and key, the paths they read
    /// besides it (a file's `copy_of`) and a fragment of their own when they have one (a
    /// recursive folder's check of what is below).
    pub fn add_rendered(&mut self, d: &Desired) {
        let deploy = d.kind().def().plug == Plug::Deploy;
        for p in d.probe_paths() {
            if deploy || p != d.key() {
                self.add_path(p, false);
            }
        }
        deploy::add_probe(d, &mut self.extra.deploy);
    }

    /// The folders above `written` paths (missing parents are planned from the same probe:
    /// the no-op stays one round trip).
    pub fn add_parents<'a>(&mut self, written: impl IntoIterator<Item = &'a str>) {
        for p in tree::parent_paths(written) {
            if !self.paths.iter().any(|(q, _)| *q == p) {
                self.paths.push((p, false));
            }
        }
    }

    /// Everything rendered resources need.
    pub fn for_resources(resources: &[Resource]) -> Wants {
        let mut w = Wants::of(
            resources
                .iter()
                .map(|r| (r.desired.kind(), r.desired.key())),
        );
        for r in resources {
            w.add_rendered(&r.desired);
        }
        w
    }

    /// What `self` asks for that `have` did not.
    pub fn minus(&self, have: &Wants) -> Wants {
        let not_in = |a: &[String], b: &[String]| -> Vec<String> {
            a.iter().filter(|x| !b.contains(x)).cloned().collect()
        };
        Wants {
            paths: self
                .paths
                .iter()
                .filter(|(p, _)| !have.paths.iter().any(|(q, _)| q == p))
                .cloned()
                .collect(),
            extra: ProcessProbe {
                supervisor: self.extra.supervisor && !have.extra.supervisor,
                programs: not_in(&self.extra.programs, &have.extra.programs),
                units: not_in(&self.extra.units, &have.extra.units),
                owed: self.extra.owed && !have.extra.owed,
                net: false,
                env: false,
                deploy: self.extra.deploy.minus(&have.extra.deploy),
                gathers: (self.extra.gathers.iter())
                    .filter(|g| !have.extra.gathers.contains(g))
                    .cloned()
                    .collect(),
            },
        }
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty() && self.extra.is_empty()
    }

    /// The paths part of the request.
    pub fn request(&self) -> ProbeRequest {
        ProbeRequest {
            paths: self.paths.iter().map(|(p, _)| p.clone()).collect(),
            emptiness: self
                .paths
                .iter()
                .filter(|(_, e)| *e)
                .map(|(p, _)| p.clone())
                .collect(),
        }
    }

    /// The probe script.
    pub fn script(&self) -> String {
        script_with(&self.request(), &self.extra)
    }

    /// The probe as `(command, stdin)` for `Transport::exec`.
    pub fn command(&self) -> (String, Vec<u8>) {
        command_with(&self.request(), &self.extra)
    }
}

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}

/// The probe's (or the fetch's) output could not be understood, or a path could not be examined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("not a probe output (missing `{expected}` header; the script did not run?)")]
    BadHeader { expected: &'static str },
    #[error("output ends early (truncated: the script died or the connection dropped)")]
    Truncated,
    #[error("malformed output: {0}")]
    Malformed(String),
    #[error("{path}: {message}")]
    Path { path: String, message: String },
    /// The probe itself failed on the host (e.g. no GNU find).
    #[error("{0}")]
    Host(String),
}

const PROBE_HEADER: &str = "play-probe";
const FETCH_HEADER: &str = "play-fetch";
const VERSION: &str = "v1";

/// `set -- 'a' 'b' …` (or `set --` for none), every word quoted.
fn set_args<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    let mut s = String::from("set --");
    for p in items {
        s.push(' ');
        s.push_str(&shell_quote(p));
    }
    s
}

/// Paths the script can pass safely: absolute, no NUL. The others get an `err` record.
fn split_paths<'a>(paths: &'a [String], script: &mut String) -> Vec<&'a String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut ok = Vec::new();
    for p in paths {
        if !seen.insert(p.as_str()) {
            continue;
        }
        if p.starts_with('/') && !p.contains('\0') {
            ok.push(p);
        } else {
            let shown = p.replace('\0', "\\0");
            script.push_str(&format!(
                "printf 'err\\0%s\\0%s\\0' {} 'not an absolute path'\n",
                shell_quote(&shown)
            ));
        }
    }
    ok
}

/// The folders above `paths` (`/` included), each once, shallowest first: a folder is stat'ed
/// before anything under it, and (the second find going backwards) after it.
fn ancestors_of(paths: &[&String]) -> Vec<String> {
    let mut all = std::collections::BTreeSet::new();
    for p in paths {
        all.insert((0, "/".to_string()));
        for a in tree::ancestors(p) {
            all.insert((a.matches('/').count(), a));
        }
    }
    all.into_iter().map(|(_, a)| a).collect()
}

/// The probe as `(command, stdin)` for `Transport::exec` (which sends the command itself on
/// stdin too, so any number of paths works: see [`crate::transport::BOOTSTRAP`]).
pub fn command(req: &ProbeRequest) -> (String, Vec<u8>) {
    (script(req), Vec::new())
}

/// [`command`] that also reports what `extra` asks for.
pub fn command_with(req: &ProbeRequest, extra: &ProcessProbe) -> (String, Vec<u8>) {
    (script_with(req, extra), Vec::new())
}

/// The fetch as `(command, stdin)` for `Transport::exec` (see [`command`]).
pub fn fetch_command(paths: &[String]) -> (String, Vec<u8>) {
    (fetch_script(paths), Vec::new())
}

/// The probe script for `req` (POSIX sh; GNU find and coreutils on the host).
pub fn script(req: &ProbeRequest) -> String {
    script_with(req, &ProcessProbe::default())
}

/// The probe script for `req` and `extra`.
pub fn script_with(req: &ProbeRequest, extra: &ProcessProbe) -> String {
    let mut s = String::new();
    s.push_str(PROBE_SCRIPT_HEAD);
    if extra.net {
        s.push_str(net::SCRIPT);
    }
    if extra.env {
        s.push_str(env::SCRIPT);
    }
    let paths = split_paths(&req.paths, &mut s);
    s.push_str(&set_args(paths.iter().copied()));
    s.push('\n');
    if extra.supervisor || !extra.programs.is_empty() {
        // Before the stats: it adds the programs' conf paths to them.
        let names: Vec<String> = extra
            .programs
            .iter()
            .filter(|n| crate::supervisor::check_program_name(n).is_ok())
            .cloned()
            .collect();
        // Checked names: letters, digits, `_-.`: nothing to quote inside '…'.
        s.push_str(&format!("play_progs='{}'\n", names.join(" ")));
        s.push_str(PROBE_SCRIPT_SUPERVISOR);
    }
    s.push_str(PROBE_SCRIPT_EXISTING);
    let ancestors = ancestors_of(&paths);
    s.push_str(&format!("play_n={}\n", ancestors.len()));
    s.push_str(&set_args(ancestors.iter()));
    s.push_str(" \"$@\"\n");
    if !ancestors.is_empty() {
        // Each folder above a requested path, and whether it was requested itself.
        s.push_str("printf 'anc\\0%s\\0%s\\0'");
        for a in &ancestors {
            let asked = if paths.contains(&a) { "1" } else { "0" };
            s.push_str(&format!(" {} {asked}", shell_quote(a)));
        }
        s.push('\n');
    }
    s.push_str(PROBE_SCRIPT_PATHS);
    let dirs: Vec<&String> = {
        let mut seen = std::collections::BTreeSet::new();
        req.emptiness
            .iter()
            .filter(|d| d.starts_with('/') && !d.contains('\0') && seen.insert(d.as_str()))
            .collect()
    };
    s.push_str(&set_args(dirs.iter().copied()));
    s.push('\n');
    s.push_str(PROBE_SCRIPT_EMPTINESS);
    let units: Vec<&String> = extra
        .units
        .iter()
        .filter(|u| systemd::unit_name(u).as_deref() == Ok(u.as_str()))
        .collect();
    if !units.is_empty() {
        s.push_str(&set_args(units.iter().copied()));
        s.push('\n');
        s.push_str(&format!(
            "if [ -d /run/systemd/system ]; then\n  printf 'units\\0%s\\0' \"$#\"\n  printf '%s\\0' \"$@\"\n  systemctl show -p {} -- \"$@\" | tr -d '\\000'\n  printf '\\0'\nelse\n  printf 'nosystemd\\0'\nfi\n",
            systemd::SHOW_PROPERTIES
        ));
    }
    s.push_str(&extra.deploy.fragment());
    s.push_str(&gather::fragment(&extra.gathers));
    if extra.owed {
        let f = shell_quote(OWED_STATE_FILE);
        s.push_str(&format!(
            "if [ -f {f} ]; then\n  printf 'owed\\0'\n  while IFS= read -r l || [ -n \"$l\" ]; do printf '%s\\n' \"$l\"; done < {f}\n  printf '\\0'\nfi\n"
        ));
    }
    s.push_str(PROBE_SCRIPT_LOCK);
    s.push_str("printf 'end\\0'\n");
    s
}

/// The first line of the apply lock file, found as `engine::lock`'s script finds it.
const PROBE_SCRIPT_LOCK: &str = r#"d=/var/lib/play
if [ -f "$d/lock" ] && [ -r "$d/lock" ]; then
  l=
  IFS= read -r l < "$d/lock"
  printf 'lock\0%s\0' "$l"
fi
"#;

/// Facts (builtins only, `uname` as a fallback) and the `play_denied` helper.
const PROBE_SCRIPT_HEAD: &str = r#"LC_ALL=C; export LC_ALL
printf 'play-probe\0v1\0'
h=
[ -r /proc/sys/kernel/hostname ] && IFS= read -r h < /proc/sys/kernel/hostname
[ -n "$h" ] || h=$(uname -n)
printf 'fact\0hostname\0%s\0' "$h"
a=
[ -r /proc/sys/kernel/arch ] && IFS= read -r a < /proc/sys/kernel/arch
[ -n "$a" ] || a=$(uname -m)
printf 'fact\0arch\0%s\0' "$a"
f=/etc/os-release
[ -r $f ] || f=/usr/lib/os-release
if [ -r $f ]; then
  while IFS= read -r l || [ -n "$l" ]; do
    case $l in
      ID=*) printf 'fact\0os_id\0%s\0' "${l#ID=}" ;;
      VERSION_ID=*) printf 'fact\0os_version\0%s\0' "${l#VERSION_ID=}" ;;
      VERSION_CODENAME=*) printf 'fact\0os_codename\0%s\0' "${l#VERSION_CODENAME=}" ;;
    esac
  done < $f
fi
c=
[ -r /sys/devices/system/cpu/online ] && IFS= read -r c < /sys/devices/system/cpu/online
if [ -n "$c" ]; then
  printf 'fact\0cpus_online\0%s\0' "$c"
elif [ -r /proc/cpuinfo ]; then
  n=0
  while IFS= read -r l; do
    case $l in processor*) n=$((n + 1)) ;; esac
  done < /proc/cpuinfo
  printf 'fact\0cpus\0%s\0' "$n"
fi
if [ -r /proc/meminfo ]; then
  while read -r k v u; do
    if [ "$k" = MemTotal: ]; then printf 'fact\0mem_kb\0%s\0' "$v"; break; fi
  done < /proc/meminfo
fi
v=
if [ -f /.dockerenv ]; then v=docker
elif [ -r /run/systemd/container ]; then IFS= read -r v < /run/systemd/container
elif [ -r /sys/class/dmi/id/sys_vendor ]; then
  IFS= read -r x < /sys/class/dmi/id/sys_vendor
  case $x in QEMU*|KVM*|'Red Hat'*) v=kvm ;; VMware*) v=VMware ;; innotek*|Oracle*) v=VirtualBox ;; Xen*) v=xen ;; esac
fi
printf 'fact\0virtualization\0%s\0' "${v:-NA}"
v=disabled
if [ -r /sys/fs/selinux/enforce ]; then
  IFS= read -r x < /sys/fs/selinux/enforce
  case $x in 1) v=enforcing ;; 0) v=permissive ;; esac
fi
printf 'fact\0selinux\0%s\0' "$v"
play_denied() {
  a=$1
  while :; do
    case $a in */*) a=${a%/*} ;; *) return 0 ;; esac
    [ -n "$a" ] || a=/
    if [ -e "$a" ]; then
      if [ -d "$a" ] && ! [ -x "$a" ]; then
        printf 'err\0%s\0%s\0' "$1" "permission denied (cannot search $a)"
      fi
      return 0
    fi
    [ "$a" = / ] && return 0
  done
}
"#;

/// The requested paths that exist (or are links), and the temp files in their folders: one
/// glob per folder (paths of one folder come together), every `.*.play-tmp.*` in it; the
/// engine keeps those of the paths it asked for ([`crate::engine::lock::leftover_temps`]).
const PROBE_SCRIPT_EXISTING: &str = r#"play_d=
for p do
  shift
  if [ -e "$p" ] || [ -L "$p" ]; then set -- "$@" "$p"; else play_denied "$p"; fi
  [ "${p%/*}/" = "$play_d" ] && continue
  play_d=${p%/*}/
  for t in "$play_d".*.play-tmp.*; do
    if [ -e "$t" ] || [ -L "$t" ]; then printf 'tmp\0%s\0' "$t"; fi
  done
done
"#;

/// Stats (one find) and sums (one sha256sum) of the positional parameters (the `$play_n`
/// folders above the requested paths, shallowest first, then the requested paths), then the
/// identity of each again (one find, in reverse order): what was renamed or replaced while it
/// was probed is found by [`parse`] (see [`changed_while_probed`]). The second find is needed
/// only where a user other than root could rename a name on the way: the first find writes
/// `w` on fd 3 (`/proc/self/fd/3`, read back by the shell) for a folder another user owns or
/// that has a group or other write bit, and the shell notes a folder above that is a link
/// (its target's folders are not stat'ed); with none of them, and `/proc` there, it prints
/// `same` instead (see [`Identities::only_root_could_change`]).
const PROBE_SCRIPT_PATHS: &str = r#"play_i=0
play_w=
for p do
  shift
  play_i=$((play_i + 1))
  if [ -L "$p" ]; then
    [ $play_i -le $play_n ] && play_w=l
    set -- "$@" "$p"
  elif [ -e "$p" ]; then set -- "$@" "$p"
  fi
done
if [ $# -gt 0 ]; then
  if [ -z "$play_w" ] && [ -e /proc/self/fd/1 ]; then
    { play_w=$(find "$@" -maxdepth 0 -printf 'stat\0%p\0%y\0%s\0%m\0%u\0%g\0%l\0id\0%p\0%y %D %i %C@ %U %G %m\0' \( -type d \( ! -uid 0 -o -perm /022 \) -fprintf /proc/self/fd/3 w \) 3>&1 >&4 4>&-); } 4>&1
  else
    play_w=p
    find "$@" -maxdepth 0 -printf 'stat\0%p\0%y\0%s\0%m\0%u\0%g\0%l\0id\0%p\0%y %D %i %C@ %U %G %m\0'
  fi || printf 'fail\0%s\0' "find failed (exit status $?; the probe needs GNU find)"
fi
printf 'sums\0'
if [ -n "$play_w" ]; then
  play_s=
  play_r=
  play_i=0
  for p do
    play_i=$((play_i + 1))
    play_r="\"\${$play_i}\" $play_r"
    if [ -f "$p" ] && ! [ -L "$p" ] && [ -r "$p" ]; then play_s="$play_s \"\${$play_i}\""; fi
  done
  [ -n "$play_s" ] && eval "sha256sum -- $play_s"
  printf '\0'
  eval "find $play_r -maxdepth 0 -printf 'reid\0%p\0%y %D %i %C@ %U %G %m\0'" 2>/dev/null
elif [ $# -gt 0 ]; then
  for p do
    shift
    if [ -f "$p" ] && ! [ -L "$p" ] && [ -r "$p" ]; then set -- "$@" "$p"; fi
  done
  [ $# -gt 0 ] && sha256sum -- "$@"
  printf '\0same\0'
else
  printf '\0'
fi
"#;

/// Emptiness of the positional parameters (globbing, no fork).
const PROBE_SCRIPT_EMPTINESS: &str = r#"for d do
  if [ -d "$d" ] && ! [ -L "$d" ] && [ -r "$d" ] && [ -x "$d" ]; then
    e=1
    for f in "$d"/* "$d"/.[!.]* "$d"/..?*; do
      if [ -e "$f" ] || [ -L "$f" ]; then e=0; break; fi
    done
    printf 'empty\0%s\0%s\0' "$d" "$e"
  fi
done
"#;

/// supervisord's config file, the lines of its `[unix_http_server]` section and the value of
/// its `[include] files=` (builtins only); then, for each pattern `DIR/*EXT` of that value
/// (relative to the config's folder, `%(here)s` once), `DIR/NAME.EXT` of each program in
/// `$play_progs` joins the paths to stat (the positional parameters), and DIR itself: the conf
/// file is wherever [`crate::resources::program::include_dir`] picks, so it is among them.
const PROBE_SCRIPT_SUPERVISOR: &str = r#"for c in /etc/supervisor/supervisord.conf /etc/supervisord.conf /usr/local/etc/supervisord.conf; do
  if [ -f "$c" ] && [ -r "$c" ]; then
    printf 'supervisor\0%s\0' "$c"
    sec=
    inc=
    ink=
    hasinc=
    while IFS= read -r l || [ -n "$l" ]; do
      case $l in
        \[*) sec=$l; ink= ;;
        [[:space:]]*) [ -n "$ink" ] && inc="$inc $l" ;;
        *)
          ink=
          [ "$sec" = '[unix_http_server]' ] && printf 'supconf\0%s\0' "$l"
          if [ "$sec" = '[include]' ]; then
            k=${l%%=*}
            while :; do case $k in *[[:space:]]) k=${k%?} ;; *) break ;; esac; done
            if [ "$k" = files ] && [ "$k" != "$l" ]; then inc=${l#*=}; ink=1; hasinc=1; fi
          fi ;;
      esac
    done < "$c"
    if [ -n "$hasinc" ]; then
      printf 'supinc\0%s\0' "$inc"
      set -f
      for w in $inc; do
        case $w in *'%(here)s'*) w=${w%%'%(here)s'*}${c%/*}${w#*'%(here)s'} ;; esac
        case $w in /*) ;; *) w=${c%/*}/$w ;; esac
        b=${w##*/}
        case $b in
          \**)
            set -- "$@" "${w%/*}"
            for n in $play_progs; do set -- "$@" "${w%/*}/$n${b#?}"; done ;;
        esac
      done
      set +f
    fi
    break
  fi
done
"#;

/// NUL-terminated fields of an output, checked for the header.
struct Fields<'a> {
    /// Split at NULs: the last piece (after the last NUL) is not a field, it is unterminated.
    pieces: Vec<&'a [u8]>,
    pos: usize,
}

impl<'a> Fields<'a> {
    fn new(stdout: &'a [u8], header: &'static str) -> Result<Self, ProbeError> {
        let mut f = Fields {
            pieces: stdout.split(|b| *b == 0).collect(),
            pos: 0,
        };
        // The header is checked before anything else (a script that did not run prints nothing).
        if f.pieces.first() != Some(&header.as_bytes()) || f.pieces.len() < 2 {
            return Err(ProbeError::BadHeader { expected: header });
        }
        f.pos = 1;
        let version = f.field()?;
        if version != VERSION.as_bytes() {
            return Err(ProbeError::Malformed(format!(
                "unsupported version `{}`",
                String::from_utf8_lossy(&version[..version.len().min(40)])
            )));
        }
        Ok(f)
    }

    /// The next complete (NUL-terminated) field.
    fn field(&mut self) -> Result<&'a [u8], ProbeError> {
        if self.pos + 1 < self.pieces.len() {
            self.pos += 1;
            Ok(self.pieces[self.pos - 1])
        } else {
            Err(ProbeError::Truncated)
        }
    }

    fn text(&mut self) -> Result<String, ProbeError> {
        Ok(String::from_utf8_lossy(self.field()?).into_owned())
    }

    /// After `end`: nothing else may follow.
    fn finish(self) -> Result<(), ProbeError> {
        if self.pos + 1 == self.pieces.len() && self.pieces[self.pos].is_empty() {
            Ok(())
        } else {
            Err(ProbeError::Malformed("data after the end record".into()))
        }
    }
}

fn malformed(what: impl Into<String>) -> ProbeError {
    ProbeError::Malformed(what.into())
}

/// The kind of a `find %y` type letter.
fn kind_of(letter: &str, size: u64, target: String) -> Result<PathKind, ProbeError> {
    Ok(match letter {
        "f" => PathKind::File { size, sha256: None },
        "d" => PathKind::Directory { empty: None },
        "l" => PathKind::Link { target },
        "s" => PathKind::Other("socket".into()),
        "p" => PathKind::Other("fifo".into()),
        "c" => PathKind::Other("character device".into()),
        "b" => PathKind::Other("block device".into()),
        "D" => PathKind::Other("door".into()),
        other => return Err(malformed(format!("unknown file type `{other}`"))),
    })
}

/// An os-release value: `"12"`, `'12'` or `12`, with shell-style escapes in double quotes.
fn unquote(v: &str) -> String {
    let v = v.trim();
    if v.len() >= 2 && v.starts_with('\'') && v.ends_with('\'') {
        return v[1..v.len() - 1].to_string();
    }
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        let inner = &v[1..v.len() - 1];
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some(n @ ('"' | '\\' | '$' | '`')) => out.push(n),
                    Some(n) => {
                        out.push('\\');
                        out.push(n);
                    }
                    None => out.push('\\'),
                }
            } else {
                out.push(c);
            }
        }
        return out;
    }
    v.to_string()
}

/// Number of CPUs in a sysfs list like `0-3,6,8-9`; `None` when it does not parse.
fn count_cpu_list(s: &str) -> Option<u64> {
    let mut n: u64 = 0;
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let a: u64 = a.trim().parse().ok()?;
                let b: u64 = b.trim().parse().ok()?;
                n = n.checked_add(b.checked_sub(a)?.checked_add(1)?)?;
            }
            None => {
                part.trim().parse::<u64>().ok()?;
                n = n.checked_add(1)?;
            }
        }
    }
    (n > 0).then_some(n)
}

/// One line of `sha256sum` output: (name, hex) (see [`deploy::parse_sum_line`]).
fn parse_sum_line(line: &[u8]) -> Result<(String, String), ProbeError> {
    deploy::parse_sum_line(line).map_err(malformed)
}

/// Why a path is not reported when it, or a folder on its way, was renamed or replaced while
/// the probe looked at it: what was seen may be another file's (a link swapped in).
pub const CHANGED_WHILE_PROBED: &str = "changed while it was probed (it or a folder on its way \
was renamed or replaced: a user who can write there may have swapped in a link), so nothing \
of it is used; run again";

/// What the probe's two finds say of one path: `%y %D %i %C@ %U %G %m`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    kind: String,
    dev: u64,
    ino: u64,
    ctime: String,
    uid: u32,
    gid: u32,
    mode: u32,
}

impl Identity {
    fn parse(text: &str) -> Option<Identity> {
        let w: Vec<&str> = text.split(' ').collect();
        let [kind, dev, ino, ctime, uid, gid, mode] = w[..] else {
            return None;
        };
        Some(Identity {
            kind: kind.to_string(),
            dev: dev.parse().ok()?,
            ino: ino.parse().ok()?,
            ctime: ctime.to_string(),
            uid: uid.parse().ok()?,
            gid: gid.parse().ok()?,
            mode: u32::from_str_radix(mode, 8).ok()?,
        })
    }

    /// Whether a user other than root may add, rename or remove names in this folder.
    fn others_can_write(&self) -> bool {
        self.uid != 0 || (self.mode & 0o020 != 0 && self.gid != 0) || self.mode & 0o002 != 0
    }
}

/// The identities the first find (`before`) and the second (`after`, once the files are
/// hashed) printed, and the folders stat'ed only as ancestors.
#[derive(Debug, Default)]
struct Identities {
    before: BTreeMap<String, Vec<Identity>>,
    after: BTreeMap<String, Vec<Identity>>,
    /// Folder → whether it was requested itself (not only as a folder on the way).
    ancestors: BTreeMap<String, bool>,
    /// The script said `same`: the first find saw no folder another user than root could
    /// write, and no folder on the way that is a link, so it skipped the second find (see
    /// [`Identities::only_root_could_change`]).
    same: bool,
}

impl Identities {
    /// After a `same` record (no second find): every folder on the way (`up`) that the
    /// first find saw is a real folder of root's that no other user can write (no group or
    /// other write bit, whatever the group: an ACL's mask shows there), so no one but root
    /// could rename or replace a name on the way while the file was hashed, and what the
    /// first find saw is what `sha256sum` read. Checked here again, not taken on the
    /// script's word.
    fn only_root_could_change(&self, up: &[String]) -> bool {
        up.iter().all(|a| {
            self.before.get(a).is_none_or(|ids| {
                ids.iter()
                    .all(|i| i.kind == "d" && i.uid == 0 && i.mode & 0o022 == 0)
            })
        })
    }

    /// Whether `path` is the same before and after: same type, device and inode in every
    /// record of both finds, and the same ctime too where another user than root can write
    /// its folder (a rename of it, there, sets its ctime: Linux gives it a new value after
    /// any stat). `None` when the first find did not see it and it is not a folder the
    /// script listed (then nothing was reported through it).
    fn held(&self, path: &str) -> Option<bool> {
        let Some(before) = self.before.get(path) else {
            // A listed folder on the way not seen: gone (or swapped) at the wrong time.
            return self.ancestors.contains_key(path).then_some(false);
        };
        let Some(after) = self.after.get(path) else {
            return Some(false);
        };
        let parent = crate::resources::tree::ancestors(path)
            .pop()
            .unwrap_or_else(|| "/".to_string());
        let ctime = path != "/"
            && self
                .before
                .get(&parent)
                .and_then(|v| v.first())
                .is_none_or(Identity::others_can_write);
        let first = &before[0];
        Some(before.iter().chain(after).all(|i| {
            i.kind == first.kind
                && i.dev == first.dev
                && i.ino == first.ino
                && (!ctime || i == first)
        }))
    }
}

/// The reported paths (of `paths`) that, or a folder above which, was renamed, replaced or
/// removed between the probe's first find and its second (the sums are taken between them):
/// a folder on the way swapped for a link and back makes the first find, or `sha256sum`,
/// read another file than the one named. Every folder above a path is stat'ed before it by
/// the first find and after it by the second, shallowest first going down, deepest first going
/// up: when each held, every name on the way meant the same file all along.
fn changed_while_probed<'a>(
    ids: &Identities,
    paths: impl Iterator<Item = &'a String>,
) -> Vec<String> {
    // Each folder is on the way to many paths: its verdict is computed once.
    let mut verdicts: BTreeMap<&str, Option<bool>> = BTreeMap::new();
    let mut held = |p: &str| -> Option<bool> {
        if let Some(v) = verdicts.get(p) {
            return *v;
        }
        let v = ids.held(p);
        if let Some((k, _)) = ids.before.get_key_value(p) {
            verdicts.insert(k.as_str(), v);
        }
        v
    };
    paths
        .filter(|p| {
            if !ids.before.contains_key(p.as_str()) {
                return false;
            }
            let mut up = crate::resources::tree::ancestors(p);
            if p.as_str() != "/" {
                up.insert(0, "/".to_string());
            }
            held(p) == Some(false)
                || up.iter().any(|a| held(a) == Some(false))
                || (ids.same && !ids.only_root_could_change(&up))
        })
        .cloned()
        .collect()
}

/// Parses the probe's stdout. Never panics, whatever the bytes.
pub fn parse(stdout: &[u8]) -> Result<Observed, ProbeError> {
    let mut f = Fields::new(stdout, PROBE_HEADER)?;
    let mut obs = Observed::default();
    let mut sums: BTreeMap<String, String> = BTreeMap::new();
    let mut empties: Vec<(String, bool)> = Vec::new();
    let mut errors: Vec<(String, String)> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let mut cpus_online = None;
    let mut cpus_count = None;
    let mut net = net::NetSeen::default();
    let mut ids = Identities::default();
    loop {
        let tag = f.field()?;
        match tag {
            b"end" => break,
            b"fact" => {
                let key = f.text()?;
                let value = f.text()?;
                match key.as_str() {
                    "hostname" => obs.facts.hostname = value.trim().to_string(),
                    "arch" => obs.facts.arch = value.trim().to_string(),
                    "os_id" => obs.facts.os_id = unquote(&value),
                    "os_version" => obs.facts.os_version = unquote(&value),
                    "os_codename" => obs.facts.os_codename = unquote(&value),
                    "cpus_online" => cpus_online = count_cpu_list(&value),
                    "cpus" => cpus_count = value.trim().parse::<u64>().ok(),
                    "virtualization" => obs.facts.virtualization = value.trim().to_string(),
                    "selinux" => obs.facts.selinux = value.trim().to_string(),
                    "mem_kb" => {
                        let kb: u64 = value
                            .trim()
                            .parse()
                            .map_err(|_| malformed(format!("bad mem_kb `{value}`")))?;
                        obs.facts.memory_mb = kb / 1024;
                    }
                    other => {
                        // unknown facts from a newer script are ignored
                        net.take(other, &value);
                    }
                }
            }
            b"env" => loop {
                let entry = f.field()?;
                if entry.is_empty() {
                    break;
                }
                env::take(&mut obs.facts.env, entry);
            },
            b"stat" => {
                let path = f.text()?;
                let letter = f.text()?;
                let size = f.text()?;
                let mode = f.text()?;
                let owner = f.text()?;
                let group = f.text()?;
                let target = f.text()?;
                let size: u64 = size
                    .parse()
                    .map_err(|_| malformed(format!("bad size `{size}` for {path}")))?;
                let mode = u32::from_str_radix(&mode, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| malformed(format!("bad mode `{mode}` for {path}")))?;
                let kind = kind_of(&letter, size, target)?;
                obs.paths.insert(
                    path,
                    PathState {
                        kind,
                        mode,
                        owner,
                        group,
                    },
                );
            }
            b"err" => {
                let path = f.text()?;
                let message = f.text()?;
                errors.push((path, message));
            }
            b"id" | b"reid" => {
                let path = f.text()?;
                let id = Identity::parse(&f.text()?)
                    .ok_or_else(|| malformed(format!("bad identity for {path}")))?;
                let at = if tag == b"id" {
                    &mut ids.before
                } else {
                    &mut ids.after
                };
                at.entry(path).or_default().push(id);
            }
            b"same" => ids.same = true,
            b"anc" => {
                let path = f.text()?;
                let asked = f.field()? == b"1";
                ids.ancestors.insert(path, asked);
            }
            b"fail" => failures.push(f.text()?),
            b"empty" => {
                let path = f.text()?;
                let flag = f.field()?;
                let empty = match flag {
                    b"1" => true,
                    b"0" => false,
                    _ => return Err(malformed(format!("bad emptiness flag for {path}"))),
                };
                empties.push((path, empty));
            }
            b"sums" => {
                let text = f.field()?;
                for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                    let (name, hex) = parse_sum_line(line)?;
                    sums.insert(name, hex);
                }
            }
            b"gather" => {
                let id = f.text()?;
                let status = f.field()?;
                let out = f.field()?;
                let err = f.field()?;
                let o = gather::parse_record(status, out, err)
                    .map_err(|e| malformed(format!("{e} (gather {id})")))?;
                obs.gathered.insert(id, o);
            }
            b"supervisor" => obs.supervisor_conf = Some(f.text()?),
            b"supinc" => obs.supervisor_include = Some(f.text()?),
            b"supconf" => {
                let line = f.text()?;
                if let (Some(conf), Some((k, v))) = (&obs.supervisor_conf, line.split_once('=')) {
                    if k.trim() == "file" {
                        obs.supervisor_socket = crate::supervisor::socket_from_conf_value(v, conf);
                    }
                }
            }
            b"units" => {
                let n = f.text()?;
                let n: usize = n
                    .parse()
                    .ok()
                    .filter(|n| *n <= 100_000)
                    .ok_or_else(|| malformed(format!("bad unit count `{n}`")))?;
                let mut names = Vec::with_capacity(n);
                for _ in 0..n {
                    names.push(f.text()?);
                }
                let text = f.text()?;
                obs.units = systemd::parse_show(&text, &names).map_err(malformed)?;
                obs.systemd = true;
            }
            b"nosystemd" => obs.systemd = false,
            b"lock" => obs.lock = Some(f.text()?),
            b"tmp" => {
                let t = f.text()?;
                if obs.temps.len() < 10_000 {
                    obs.temps.push(t);
                }
            }
            b"owed" => {
                let text = f.field()?;
                obs.owed = Some(decode_owed(text).map_err(|e| {
                    ProbeError::Host(format!(
                        "{OWED_STATE_FILE} cannot be read ({e}): fix or delete it (it lists restarts owed by earlier runs)"
                    ))
                })?);
            }
            other => match deploy::record_fields(other) {
                Some(n) => {
                    let mut fields = Vec::with_capacity(n);
                    for _ in 0..n {
                        fields.push(f.field()?);
                    }
                    deploy::absorb(&mut obs.deploy, other, &fields).map_err(malformed)?;
                }
                None => {
                    return Err(malformed(format!(
                        "unknown record `{}`",
                        String::from_utf8_lossy(&other[..other.len().min(40)])
                    )))
                }
            },
        }
    }
    f.finish()?;
    if let Some(message) = failures.into_iter().next() {
        return Err(ProbeError::Host(message));
    }
    for (a, asked) in &ids.ancestors {
        if !asked && ids.before.get(a).map_or(0, Vec::len) == 1 {
            obs.paths.remove(a);
        }
    }
    if ids.same && ids.after.is_empty() {
        // No second find: nothing could change but by root (checked for each path below).
        ids.after = ids.before.clone();
    }
    for path in changed_while_probed(&ids, obs.paths.keys()) {
        errors.push((path, CHANGED_WHILE_PROBED.to_string()));
    }
    if let Some((path, message)) = errors.into_iter().next() {
        return Err(ProbeError::Path { path, message });
    }
    obs.facts.cpus = cpus_online.or(cpus_count).unwrap_or(0);
    obs.facts.default_ipv4 = net.default_ipv4();
    obs.facts.default_ipv6 = net.default_ipv6();
    for (path, hex) in sums {
        if let Some(PathState {
            kind: PathKind::File { sha256, .. },
            ..
        }) = obs.paths.get_mut(&path)
        {
            *sha256 = Some(hex);
        }
    }
    for (path, empty) in empties {
        if let Some(PathState {
            kind: PathKind::Directory { empty: e },
            ..
        }) = obs.paths.get_mut(&path)
        {
            *e = Some(empty);
        }
    }
    Ok(obs)
}

/// A script printing the current contents of `paths`, one round trip. Each file is read
/// without following a link a less-privileged user controls anywhere on its path (it may swap
/// one in between the probe and this read, to make a root run print a file it cannot read):
/// the file's folder is entered with the apply script's safe walk ([`crate::apply::ENTER`]),
/// then `./NAME` is read by `dd iflag=nofollow,nonblock` (a link refused by the kernel at
/// open, a FIFO not waited on) into `base64`, dd's exit status carried out of the pipe on a
/// side descriptor (dash has no `pipefail`). Each file in a subshell (its `cd` stays there),
/// whose messages become the reason the file was not read. Wire format:
///
/// ```text
/// play-fetch \0 v1 \0
/// file \0 PATH \0 BASE64-TEXT \0 ok \0
/// file \0 PATH \0 ANY \0 bad \0 REASON \0     (not read, or not safely: nothing of it is kept)
/// end \0
/// ```
///
/// base64 text never contains NUL, so the framing holds even if a file changes while read.
pub fn fetch_script(paths: &[String]) -> String {
    let mut s = String::from("LC_ALL=C; export LC_ALL\nprintf 'play-fetch\\0v1\\0'\n");
    s.push_str(crate::apply::ENTER);
    s.push_str(FETCH_READ);
    let mut seen = std::collections::BTreeSet::new();
    let ok: Vec<&String> = paths
        .iter()
        .filter(|p| p.starts_with('/') && !p.contains('\0') && seen.insert(p.as_str()))
        .collect();
    s.push_str(&set_args(ok.iter().copied()));
    s.push('\n');
    s.push_str(
        r#"exec 3>&1
for p do
  printf 'file\0%s\0' "$p"
  if w=$(play_read "$p" 2>&1 >&3); then printf '\0ok\0'; else printf '\0bad\0%s\0' "${w:-$p: not read}"; fi
done
printf 'end\0'
"#,
    );
    s
}

/// `play_read PATH` (in a subshell: it changes folder and exits): PATH's bytes as base64 on
/// fd 3, read as [`fetch_script`] says; fails with a message on stderr otherwise.
const FETCH_READ: &str = r#"play_read() {
  d=${1%/*}
  play_enter "${d:-/}" || exit 1
  n=./${1##*/}
  if [ -L "$n" ]; then printf '%s: a symbolic link; play does not follow it\n' "$1" >&2; exit 1; fi
  if ! [ -f "$n" ]; then printf '%s: not a regular file (any more)\n' "$1" >&2; exit 1; fi
  s=$( { { dd if="$n" iflag=nofollow,nonblock bs=64k status=none; echo "$?" >&5; } | base64 >&3; } 5>&1 ) || exit 1
  [ "$s" = 0 ]
}
"#;

/// How long a reason a fetch gives for a file it did not read is kept, at most (bytes).
const MAX_REASON: usize = 400;

/// A fetch's reason for not reading a file, for a report: one line, at most [`MAX_REASON`]
/// bytes (cut at a character boundary).
fn reason_line(raw: &str) -> String {
    let mut w = raw
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    if w.is_empty() {
        w = "not read".into();
    }
    if w.len() > MAX_REASON {
        let mut cut = MAX_REASON;
        while !w.is_char_boundary(cut) {
            cut -= 1;
        }
        w.truncate(cut);
        w.push('…');
    }
    w
}

/// Decodes standard base64 (`base64` crate), ignoring whitespace. `None` on invalid input.
pub(crate) fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine;
    let clean: Vec<u8> = text
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(clean).ok()
}

/// Parses the fetch script's stdout: path → its old bytes, or why they were not read (a
/// link on the way, a file no longer regular, permission denied, …: one line).
pub fn parse_fetch(stdout: &[u8]) -> Result<BTreeMap<String, Result<Vec<u8>, String>>, ProbeError> {
    let mut f = Fields::new(stdout, FETCH_HEADER)?;
    let mut out = BTreeMap::new();
    loop {
        match f.field()? {
            b"end" => break,
            b"file" => {
                let path = f.text()?;
                let data = f.field()?;
                match f.field()? {
                    b"ok" => {
                        let bytes = base64_decode(data)
                            .ok_or_else(|| malformed(format!("bad base64 for {path}")))?;
                        out.insert(path, Ok(bytes));
                    }
                    b"bad" => {
                        let why = String::from_utf8_lossy(f.field()?).into_owned();
                        out.insert(path, Err(reason_line(&why)));
                    }
                    _ => return Err(malformed(format!("bad status for {path}"))),
                }
            }
            other => {
                return Err(malformed(format!(
                    "unknown record `{}`",
                    String::from_utf8_lossy(&other[..other.len().min(40)])
                )))
            }
        }
    }
    f.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Facts;

    /// The engine's first probe (keys before facts, then parents) and its second (what the
    /// rendered resources add) come from the same `Wants`; what the first asked is not asked
    /// again.
    #[test]
    fn wants_first_and_second_probe() {
        let kind = |name| crate::resources::example::kind(name).expect("a kind");
        let mut first = Wants::of([
            (kind("file"), "/etc/app/a.conf"),
            (kind("link"), "/srv/l"),
            (kind("service"), "web.service"),
            (kind("program"), "app"),
            (kind("git"), "/srv/src"),
        ]);
        first.add_parents(["/etc/app/a.conf", "/srv/l"]);
        let paths: Vec<(&str, bool)> = first.paths.iter().map(|(p, e)| (p.as_str(), *e)).collect();
        assert_eq!(
            paths,
            [
                ("/etc/app/a.conf", false),
                ("/srv/l", true),
                ("/etc/systemd/system/web.service", false),
                ("/etc", false),
                ("/etc/app", false),
                ("/srv", false),
            ]
        );
        assert!(first.extra.supervisor && first.extra.owed);
        assert_eq!(first.extra.units, ["web.service"]);
        assert!(
            first.extra.deploy.is_empty(),
            "git is known only once rendered"
        );
        assert_eq!(first.request().emptiness, ["/srv/l"]);

        let git = crate::resources::example::example(
            "git: /srv/src\nrepo: https://example.com/r.git\nversion: main",
        )
        .expect("a checkout");
        let mut second = first.clone();
        second.add_rendered(&git.desired);
        let more = second.minus(&first);
        assert_eq!(more.paths, [("/srv/src".to_string(), false)]);
        assert!(
            more.extra.deploy.fragments[0].0.contains("gitco"),
            "the checkout is probed"
        );
        assert!(!more.extra.supervisor && !more.extra.owed && more.extra.units.is_empty());
        assert!(second.minus(&second).is_empty());
        assert_eq!(Wants::for_resources(&[git]).extra.deploy, more.extra.deploy);
    }

    fn sample() -> Vec<u8> {
        let mut v = Vec::new();
        let mut rec = |fields: &[&[u8]]| {
            for f in fields {
                v.extend_from_slice(f);
                v.push(0);
            }
        };
        rec(&[b"play-probe", b"v1"]);
        rec(&[b"fact", b"hostname", b"web1"]);
        rec(&[b"fact", b"arch", b"x86_64"]);
        rec(&[b"fact", b"os_id", b"debian"]);
        rec(&[b"fact", b"os_version", b"\"12\""]);
        rec(&[b"fact", b"os_codename", b"bookworm"]);
        rec(&[b"fact", b"cpus_online", b"0-3,6"]);
        rec(&[b"fact", b"mem_kb", b"2048000"]);
        rec(&[b"fact", b"virtualization", b"docker"]);
        rec(&[b"fact", b"selinux", b"disabled"]);
        rec(&[b"fact", b"route4", b"ens3 00000000 0100000A 00000000"]);
        rec(&[b"fact", b"route4", b"ens3 0000000A 00000000 00FFFFFF"]);
        rec(&[b"fact", b"local4", b"10.0.0.5"]);
        rec(&[b"fact", b"future", b"ignored"]);
        rec(&[
            b"stat",
            b"/etc/a b",
            b"f",
            b"5",
            b"644",
            b"root",
            b"adm",
            b"",
        ]);
        rec(&[
            b"stat",
            b"/etc/x\ny",
            b"f",
            b"0",
            b"4755",
            b"root",
            b"root",
            b"",
        ]);
        rec(&[
            b"stat", b"/srv", b"d", b"4096", b"755", b"root", b"root", b"",
        ]);
        rec(&[
            b"stat",
            b"/l",
            b"l",
            b"4",
            b"777",
            b"root",
            b"root",
            b"/tmp\n'x'",
        ]);
        rec(&[
            b"stat", b"/run/s", b"s", b"0", b"755", b"1001", b"1001", b"",
        ]);
        let h1 = "a".repeat(64);
        let h2 = "B".repeat(64);
        let sums = format!("{h1}  /etc/a b\n\\{h2}  /etc/x\\ny\n");
        rec(&[b"sums", sums.as_bytes()]);
        rec(&[b"empty", b"/srv", b"0"]);
        rec(&[b"end"]);
        v
    }

    #[test]
    fn routes_are_read_only_when_asked() {
        let req = ProbeRequest::default();
        assert!(!script_with(&req, &ProcessProbe::default()).contains("/proc/net/route"));
        let net = ProcessProbe {
            net: true,
            ..Default::default()
        };
        assert!(script_with(&req, &net).contains("/proc/net/route"));
    }

    #[test]
    fn parses_a_full_output() {
        let o = parse(&sample()).unwrap();
        assert_eq!(
            o.facts,
            Facts {
                hostname: "web1".into(),
                os_id: "debian".into(),
                os_version: "12".into(),
                os_codename: "bookworm".into(),
                arch: "x86_64".into(),
                cpus: 5,
                memory_mb: 2000,
                virtualization: "docker".into(),
                selinux: "disabled".into(),
                default_ipv4: [
                    ("address", "10.0.0.5"),
                    ("gateway", "10.0.0.1"),
                    ("interface", "ens3"),
                    ("netmask", "255.255.255.0"),
                    ("network", "10.0.0.0"),
                    ("prefix", "24"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
                default_ipv6: BTreeMap::new(),
                env: BTreeMap::new(),
                gathered: Default::default(),
            }
        );
        assert_eq!(
            o.path("/etc/a b"),
            PathState {
                kind: PathKind::File {
                    size: 5,
                    sha256: Some("a".repeat(64))
                },
                mode: 0o644,
                owner: "root".into(),
                group: "adm".into(),
            }
        );
        assert_eq!(
            o.path("/etc/x\ny").kind,
            PathKind::File {
                size: 0,
                sha256: Some("b".repeat(64))
            }
        );
        assert_eq!(o.path("/etc/x\ny").mode, 0o4755);
        assert_eq!(
            o.path("/srv").kind,
            PathKind::Directory { empty: Some(false) }
        );
        assert_eq!(
            o.path("/l").kind,
            PathKind::Link {
                target: "/tmp\n'x'".into()
            }
        );
        assert_eq!(o.path("/run/s").kind, PathKind::Other("socket".into()));
        assert_eq!(o.path("/run/s").owner, "1001");
        assert_eq!(o.path("/nope").kind, PathKind::Missing);
    }

    #[test]
    fn truncation_anywhere_is_an_error_never_a_panic() {
        let full = sample();
        for n in 0..full.len() {
            let r = parse(&full[..n]);
            assert!(r.is_err(), "prefix of {n} bytes parsed: {r:?}");
        }
        assert!(parse(&full).is_ok());
    }

    #[test]
    fn garbage_never_panics() {
        // A small xorshift generator: deterministic, no dependency.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let base = sample();
        let alphabet: &[&[u8]] = &[
            b"\0",
            b"stat",
            b"fact",
            b"err",
            b"empty",
            b"sums",
            b"end",
            b"f",
            b"d",
            b"l",
            b"1",
            b"0",
            b"777",
            b"\\",
            b"  ",
            b"play-probe\0v1\0",
            b"\n",
        ];
        for round in 0..3000 {
            let mut buf: Vec<u8> = if round % 2 == 0 {
                b"play-probe\0v1\0".to_vec()
            } else {
                base.clone()
            };
            let edits = (next() % 8) as usize;
            for _ in 0..edits {
                let r = next();
                match r % 4 {
                    0 if !buf.is_empty() => {
                        let i = (next() as usize) % buf.len();
                        buf[i] = next() as u8;
                    }
                    1 if !buf.is_empty() => {
                        let i = (next() as usize) % buf.len();
                        buf.truncate(i);
                    }
                    _ => {
                        let piece = alphabet[(next() as usize) % alphabet.len()];
                        let i = if buf.is_empty() {
                            0
                        } else {
                            (next() as usize) % buf.len()
                        };
                        buf.splice(i..i, piece.iter().copied());
                    }
                }
            }
            let _ = parse(&buf);
            let _ = parse_fetch(&buf);
            let random: Vec<u8> = (0..(next() % 200)).map(|_| next() as u8).collect();
            let _ = parse(&random);
            let _ = parse_fetch(&random);
        }
    }

    #[test]
    fn headers_and_errors() {
        assert_eq!(
            parse(b""),
            Err(ProbeError::BadHeader {
                expected: "play-probe"
            })
        );
        assert_eq!(parse(b"play-probe\0"), Err(ProbeError::Truncated));
        assert!(matches!(
            parse(b"play-probe\0v9\0end\0"),
            Err(ProbeError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"play-probe\0v1\0bogus\0end\0"),
            Err(ProbeError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"play-probe\0v1\0end\0extra\0"),
            Err(ProbeError::Malformed(_))
        ));
        assert_eq!(
            parse(b"play-probe\0v1\0err\0/root/x\0permission denied\0end\0"),
            Err(ProbeError::Path {
                path: "/root/x".into(),
                message: "permission denied".into()
            })
        );
        assert!(matches!(
            parse(b"play-probe\0v1\0stat\0/a\0f\0x\x00644\0r\0r\0\0end\0"),
            Err(ProbeError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"play-probe\0v1\0stat\0/a\0f\x001\x0099999\0r\0r\0\0end\0"),
            Err(ProbeError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"play-probe\0v1\0sums\0nothex  /a\n\0end\0"),
            Err(ProbeError::Malformed(_))
        ));
        assert_eq!(
            parse(b"play-probe\0v1\0fail\0find failed\0end\0"),
            Err(ProbeError::Host("find failed".into()))
        );
        let minimal = parse(b"play-probe\0v1\0end\0").unwrap();
        assert_eq!(minimal, Observed::default());
    }

    #[test]
    fn sums_for_non_files_are_ignored() {
        let h = "c".repeat(64);
        let out = format!("play-probe\0v1\0stat\0/d\0d\x004096\x00755\0root\0root\0\0sums\0{h}  /d\n{h}  /gone\n\0end\0");
        let o = parse(out.as_bytes()).unwrap();
        assert_eq!(o.path("/d").kind, PathKind::Directory { empty: None });
        assert_eq!(o.paths.len(), 1);
    }

    /// A probe output with the two finds' identity records (`id` before the sums, `reid`
    /// after) for `/`, the folder `/srv/app` (owned by `app_uid`) and its file `f`.
    fn raced(app_uid: u32, before: [&str; 3], after: [&str; 3]) -> Vec<u8> {
        let h = "ab".repeat(32);
        let names = ["/", "/srv/app", "/srv/app/f"];
        let owner = |i: usize| if i == 1 { app_uid } else { 0 };
        let mut out =
            String::from("play-probe\0v1\0anc\0/\0\x30\0anc\0/srv\0\x30\0anc\0/srv/app\0\x31\0");
        out.push_str("stat\0/srv\0d\x004096\x00755\0root\0root\0\0id\0/srv\0d 1 2 5.0 0 0 755\0");
        for (i, n) in names.iter().enumerate() {
            let (kind, size) = if i == 2 { ("f", 9) } else { ("d", 4096) };
            out.push_str(&format!(
                "stat\0{n}\0{kind}\0{size}\0755\0root\0root\0\0id\0{n}\0{kind} 1 {} {} 0 755\0",
                before[i],
                owner(i)
            ));
        }
        out.push_str(&format!("sums\0{h}  /srv/app/f\n\0"));
        for (i, n) in names.iter().enumerate().rev() {
            let kind = if i == 2 { "f" } else { "d" };
            out.push_str(&format!(
                "reid\0{n}\0{kind} 1 {} {} 0 755\0",
                after[i],
                owner(i)
            ));
        }
        out.push_str("reid\0/srv\0d 1 2 5.0 0 0 755\0end\0");
        out.into_bytes()
    }

    /// Issue 13: a path whose folder on the way, or itself, was renamed or replaced between
    /// the probe's two finds is not reported (an error naming it, nothing of its stat or sum);
    /// ctimes count only where another user than root can write the folder holding the name.
    #[test]
    fn a_path_changed_while_probed_is_not_reported() {
        let same = ["10 1.5", "20 2.5", "30 3.5"];
        let o = parse(&raced(1000, same, same)).expect("nothing changed");
        let PathKind::File { sha256, .. } = &o.path("/srv/app/f").kind else {
            panic!("a file")
        };
        assert!(sha256.is_some());
        assert!(o.paths.contains_key("/srv/app") && !o.paths.contains_key("/srv"));
        let changed = |before, after, uid| match parse(&raced(uid, before, after)) {
            Err(ProbeError::Path { path, message }) => {
                assert_eq!(message, CHANGED_WHILE_PROBED);
                Some(path)
            }
            Ok(_) => None,
            Err(e) => panic!("{e}"),
        };
        let f = Some("/srv/app/f".to_string());
        // The file replaced (another inode), or renamed and back (its ctime, in app's folder).
        assert_eq!(changed(same, ["10 1.5", "20 2.5", "31 3.5"], 0), f);
        assert_eq!(changed(same, ["10 1.5", "20 2.5", "30 3.6"], 1000), f);
        // The folder swapped for a link and back, in a folder root alone writes: its inode
        // would differ; its ctime alone does not count there (root renames it, nobody else).
        assert_eq!(changed(same, ["10 1.5", "20 2.6", "30 3.5"], 0), None);
        // (`/srv/app` is itself requested: its own change is reported first.)
        let app = Some("/srv/app".to_string());
        assert_eq!(changed(same, ["10 1.5", "21 2.5", "30 3.5"], 0), app);
        // `/srv` (root's) holds `app`: a ctime change of `app` is app's own business, and
        // app's folder holds `f`: there its ctime counts.
        assert_eq!(changed(same, ["10 1.5", "20 2.6", "30 3.5"], 1000), None);
        assert_eq!(changed(same, ["10 1.5", "20 2.5", "30 3.5x"], 1000), f);
        // `/` changed: everything under it did.
        assert_eq!(changed(same, ["11 1.5", "20 2.5", "30 3.5"], 0), app);
        // Gone from the second find: changed.
        let mut out = raced(0, same, same);
        let cut = b"reid\0/srv/app/f\0f 1 30 3.5 0 0 755\0";
        let at = out
            .windows(cut.len())
            .position(|w| w == cut)
            .expect("record");
        out.drain(at..at + cut.len());
        assert!(matches!(parse(&out), Err(ProbeError::Path { path, .. }) if path == "/srv/app/f"));
        // A listed folder on the way the first find did not see: changed.
        let out = String::from_utf8(raced(0, same, same)).unwrap();
        let out = out.replace(
            "stat\0/srv\0d\x004096\x00755\0root\0root\0\0id\0/srv\0d 1 2 5.0 0 0 755\0",
            "",
        );
        assert!(matches!(
            parse(out.as_bytes()),
            Err(ProbeError::Path { .. })
        ));
        // Bad identity text is malformed, not a panic.
        let out = String::from_utf8(raced(0, same, same))
            .unwrap()
            .replace("f 1 30 3.5 0 0 755", "f x");
        assert!(matches!(
            parse(out.as_bytes()),
            Err(ProbeError::Malformed(_))
        ));
    }

    /// The script skips the second find when the first saw no folder that another user than
    /// root could write (`same`): the parser checks that claim itself for every path.
    #[test]
    fn without_the_second_find_only_paths_no_other_user_could_swap_are_reported() {
        let same = ["10 1.5", "20 2.5", "30 3.5"];
        let skipped = |app_uid, mode: &str| {
            let out = String::from_utf8(raced(app_uid, same, same)).unwrap();
            let cut = out.find("reid\0").expect("a second find");
            let out = format!("{}same\0end\0", &out[..cut]);
            parse(
                out.replace(
                    " 0 755\0stat\0/srv/app/f",
                    &format!(" 0 {mode}\0stat\0/srv/app/f"),
                )
                .as_bytes(),
            )
        };
        // Every folder on the way root's, no group or other write bit: nothing else could
        // have renamed a name on the way, the sum is the file's.
        let o = skipped(0, "755").expect("only root could change it");
        let PathKind::File { sha256, .. } = &o.path("/srv/app/f").kind else {
            panic!("a file")
        };
        assert!(sha256.is_some());
        // The script said `same`, but `/srv/app` is app's, or group-writable (an ACL's mask
        // shows there, whatever the group): the file is not reported.
        for (uid, mode) in [(1000, "755"), (0, "775"), (0, "757")] {
            match skipped(uid, mode) {
                Err(ProbeError::Path { path, message }) => {
                    assert_eq!(
                        (path.as_str(), message.as_str()),
                        ("/srv/app/f", CHANGED_WHILE_PROBED)
                    )
                }
                other => panic!("uid {uid} mode {mode}: {other:?}"),
            }
        }
    }

    /// The folders the two finds bracket: each once, `/` first, shallowest first.
    #[test]
    fn ancestors_are_listed_shallowest_first() {
        let p = [
            "/srv/app/b/f".to_string(),
            "/etc/x".to_string(),
            "/srv/a".to_string(),
        ];
        let refs: Vec<&String> = p.iter().collect();
        assert_eq!(
            ancestors_of(&refs),
            ["/", "/etc", "/srv", "/srv/app", "/srv/app/b"]
        );
    }

    #[test]
    fn sum_lines() {
        let h = "0123456789abcdef".repeat(4);
        assert_eq!(
            parse_sum_line(format!("{h}  /a b").as_bytes()).unwrap(),
            ("/a b".to_string(), h.clone())
        );
        assert_eq!(
            parse_sum_line(format!("{h} */bin").as_bytes()).unwrap(),
            ("/bin".to_string(), h.clone())
        );
        assert_eq!(
            parse_sum_line(format!("\\{h}  /a\\\\b\\nc\\r").as_bytes()).unwrap(),
            ("/a\\b\nc\r".to_string(), h.clone())
        );
        assert!(parse_sum_line(format!("\\{h}  /a\\x").as_bytes()).is_err());
        assert!(parse_sum_line(h.as_bytes()).is_err());
        assert!(parse_sum_line(b"").is_err());
    }

    #[test]
    fn facts_helpers() {
        assert_eq!(unquote("\"12\""), "12");
        assert_eq!(unquote("'22.04'"), "22.04");
        assert_eq!(unquote("rocky"), "rocky");
        assert_eq!(unquote("\"a\\\"b\\$\""), "a\"b$");
        assert_eq!(unquote("\""), "\"");
        assert_eq!(count_cpu_list("0-1\n"), Some(2));
        assert_eq!(count_cpu_list("0-3,6,8-9"), Some(7));
        assert_eq!(count_cpu_list("0"), Some(1));
        assert_eq!(count_cpu_list(""), None);
        assert_eq!(count_cpu_list("3-1"), None);
        assert_eq!(count_cpu_list("x"), None);
        let o = parse(b"play-probe\0v1\0fact\0cpus\x004\0end\0").unwrap();
        assert_eq!(o.facts.cpus, 4);
    }

    #[test]
    fn base64_round_trips() {
        assert_eq!(base64_decode(b"").unwrap(), b"");
        assert_eq!(base64_decode(b"Zg==").unwrap(), b"f");
        assert_eq!(base64_decode(b"Zm8=").unwrap(), b"fo");
        assert_eq!(base64_decode(b"Zm9v").unwrap(), b"foo");
        assert_eq!(base64_decode(b"Zm9v\nYmFy\n").unwrap(), b"foobar");
        assert_eq!(base64_decode(b"AP8A").unwrap(), vec![0, 255, 0]);
        assert!(base64_decode(b"Zg=").is_none());
        assert!(base64_decode(b"Zg==Zg==").is_none());
        assert!(base64_decode(b"Z===").is_none());
        assert!(base64_decode(b"Zm9!").is_none());
    }

    #[test]
    fn fetch_output() {
        let m = parse_fetch(
            b"play-fetch\0v1\0file\0/a\0Zm9v\nYmFy\n\0ok\0file\0/b\0Zm9v\0bad\0/b: a link\non the way \n\0end\0",
        )
        .unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m["/a"], Ok(b"foobar".to_vec()));
        // Nothing of a file not read is kept, whatever came before `bad`; its reason is one line.
        assert_eq!(m["/b"], Err("/b: a link; on the way".to_string()));
        assert!(parse_fetch(b"play-fetch\0v1\0file\0/b\0\0bad\0end\0").is_err());
        assert!(parse_fetch(b"play-fetch\0v1\0file\0/a\0Zm9v\0ok\0").is_err());
        assert!(parse_fetch(b"play-fetch\0v1\0file\0/a\0Zm9v\0what\0end\0").is_err());
        assert!(parse_fetch(b"play-probe\0v1\0end\0").is_err());
    }

    #[test]
    fn a_long_reason_is_cut_on_a_character() {
        let w = reason_line(&"é".repeat(MAX_REASON));
        assert_eq!(w.len(), MAX_REASON + "…".len());
        assert!(w.ends_with("é…"));
        assert_eq!(reason_line(" \n\n"), "not read");
    }

    #[test]
    fn process_records_are_parsed() {
        let show = "LoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\nNeedDaemonReload=no\n\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nUnitFileState=\nNeedDaemonReload=no\n";
        let owed = "{\"version\":1,\"owed\":[{\"kind\":\"program\",\"name\":\"web\",\"action\":\"restart\",\"reasons\":[\"/etc/a changed\"]}]}\n";
        let out = format!(
            "play-probe\0v1\0supervisor\0/etc/supervisor/supervisord.conf\0supconf\0chmod=0700\0supconf\0file=/var/run/supervisor.sock   ; (the path to the socket file)\0units\x002\0a.service\0b.service\0{show}\0owed\0{owed}\0end\0"
        );
        let o = parse(out.as_bytes()).unwrap();
        assert_eq!(
            o.supervisor_conf.as_deref(),
            Some("/etc/supervisor/supervisord.conf")
        );
        assert_eq!(
            o.supervisor_socket.as_deref(),
            Some("/var/run/supervisor.sock")
        );
        assert!(o.systemd);
        assert!(o.units["a.service"].is_running());
        assert_eq!(o.units["b.service"].load_state, "not-found");
        let owed = o.owed.unwrap();
        assert_eq!(owed.len(), 1);
        assert_eq!(owed[0].name, "web");
        assert_eq!(owed[0].reasons, vec!["/etc/a changed"]);
        // A corrupt state file is an error naming it, never a silently lost restart.
        let bad = parse(b"play-probe\0v1\0owed\0{not json\0end\0").unwrap_err();
        assert!(
            bad.to_string().contains("/var/lib/play/restarts.json"),
            "{bad}"
        );
        let o = parse(b"play-probe\0v1\0nosystemd\0end\0").unwrap();
        assert!(!o.systemd);
        assert!(parse(b"play-probe\0v1\0units\x002\0a.service\0end\0").is_err());
    }

    /// The supervisor fragment, run by this machine's sh against configs in a temp folder:
    /// the `[include]` value it reports and the conf files it stats agree with
    /// where a program places its conf file (Debian, RHEL-relative, `%(here)s`, continuation lines,
    /// comments, several patterns, none).
    #[test]
    fn the_supervisor_fragment_finds_conf_files_where_include_says() {
        let web = crate::resources::example::example("program: web\ncommand: /bin/web")
            .expect("a program");
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().to_str().expect("utf-8 temp path").to_string();
        let conf = format!("{d}/supervisord.conf");
        let cases: &[(&str, Option<&str>)] = &[
            // (the [include] section, the conf file it implies for `web`)
            (
                "[include]\nfiles = /etc/nowhere/*.conf\n",
                Some("/etc/nowhere/web.conf"),
            ),
            (
                "[include]\nfiles=supervisord.d/*.ini\n",
                Some("D/supervisord.d/web.ini"),
            ),
            (
                "[include]\nfiles = %(here)s/conf.d/*.conf ; a comment\n",
                Some("D/conf.d/web.conf"),
            ),
            (
                "[include]\nfiles = one.conf\n    more/*.ini\n\n[other]\nfiles = no/*.x\n",
                Some("D/more/web.ini"),
            ),
            ("[supervisord]\nlogfile=/tmp/x\n", None),
        ];
        for (section, want) in cases {
            std::fs::write(
                &conf,
                format!("[unix_http_server]\nfile=/tmp/s.sock\n{section}"),
            )
            .expect("write conf");
            let want = want.map(|w| w.replace("D/", &format!("{d}/")));
            if let Some(w) = &want {
                if w.starts_with(&d) {
                    let parent = w.rsplit_once('/').map(|(p, _)| p).unwrap_or("/");
                    std::fs::create_dir_all(parent).expect("mkdir");
                    std::fs::write(w, "[program:web]\n").expect("write program conf");
                }
            }
            let extra = ProcessProbe {
                supervisor: true,
                programs: vec!["web".into()],
                ..Default::default()
            };
            let s = script_with(&ProbeRequest::default(), &extra).replace(
                "for c in /etc/supervisor/supervisord.conf /etc/supervisord.conf /usr/local/etc/supervisord.conf; do",
                &format!("for c in {}; do", shell_quote(&conf)),
            );
            let out = std::process::Command::new("sh")
                .args(["-c", &s])
                .output()
                .expect("run sh");
            let o = parse(&out.stdout)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
            assert_eq!(o.supervisor_conf.as_deref(), Some(conf.as_str()));
            let got = (web.desired.place_file(&o))
                .expect("a program places its conf file")
                .map(|(path, _)| path);
            match &want {
                Some(w) => {
                    assert_eq!(got.as_deref(), Ok(w.as_str()), "{section}");
                    if w.starts_with(&d) {
                        // Stat'ed in the same round trip: the plan sees the existing file.
                        assert!(
                            matches!(o.path(w).kind, PathKind::File { .. }),
                            "{section}: {:?}",
                            o.paths
                        );
                    }
                }
                None => assert!(got.is_err(), "{section}: {got:?}"),
            }
        }
    }

    #[test]
    fn the_environment_is_read_only_when_asked_and_is_the_sessions() {
        let req = ProbeRequest::default();
        let plain = script_with(&req, &ProcessProbe::default());
        assert!(!plain.contains("environ"), "{plain}");
        let asked = ProcessProbe {
            env: true,
            ..Default::default()
        };
        let s = script_with(&req, &asked);
        assert!(s.contains("/proc/$$/environ"), "{s}");
        // Run by this machine's sh with a known environment: the session's values, multi-line
        // ones whole, and not the probe's own `LC_ALL=C`.
        let out = std::process::Command::new("sh")
            .args(["-c", &s])
            .env_clear()
            .env("HOME", "/home/someone")
            .env("SUDO_USER", "deploy")
            .env("MULTI", "a\nb=c")
            .output()
            .expect("run sh");
        let o = parse(&out.stdout).unwrap();
        assert_eq!(o.facts.env["HOME"], "/home/someone");
        assert_eq!(o.facts.env["SUDO_USER"], "deploy");
        assert_eq!(o.facts.env["MULTI"], "a\nb=c");
        assert!(!o.facts.env.contains_key("LC_ALL"), "{:?}", o.facts.env);
        // Not asked: no environment.
        let out = std::process::Command::new("sh")
            .args(["-c", &plain])
            .output()
            .expect("run sh");
        assert!(parse(&out.stdout).unwrap().facts.env.is_empty());
    }

    #[test]
    fn the_process_probe_runs_here() {
        // The real script, run by this machine's sh against its own supervisord.conf, units that
        // cannot exist, and an owed-restarts file that does not exist.
        let extra = ProcessProbe {
            supervisor: true,
            programs: vec!["web".into(), "bad name".into()],
            units: vec!["play-no-such-unit.service".into(), "bad name".into()],
            owed: true,
            net: false,
            env: false,
            deploy: DeployProbe::default(),
            gathers: vec![gather::GatherCmd {
                id: "g0".into(),
                command: "printf 'a\\0b\\n'; echo err >&2; exit 2".into(),
                chdir: Some("/".into()),
                user: None,
                shape: Default::default(),
            }],
        };
        let s = script_with(&ProbeRequest::default(), &extra);
        assert!(
            !s.contains("bad name"),
            "invalid unit names are never passed: {s}"
        );
        let out = std::process::Command::new("sh")
            .args(["-c", &s])
            .output()
            .expect("run sh");
        let o = parse(&out.stdout).unwrap();
        if std::path::Path::new("/etc/supervisor/supervisord.conf").exists() {
            assert_eq!(
                o.supervisor_conf.as_deref(),
                Some("/etc/supervisor/supervisord.conf")
            );
            assert!(o.supervisor_socket.is_some());
        }
        if std::path::Path::new("/run/systemd/system").is_dir() {
            assert_eq!(o.units["play-no-such-unit.service"].load_state, "not-found");
        } else {
            assert!(!o.systemd);
        }
        assert_eq!(o.owed, None);
        // The gathered command ran in the same script, its bytes whole.
        let g = &o.gathered["g0"];
        assert_eq!(
            (g.rc, g.stdout.as_slice(), g.stderr.as_slice()),
            (2, &b"a\0b\n"[..], &b"err\n"[..])
        );
        // Nothing extra asked: nothing extra printed.
        let plain = script(&ProbeRequest::default());
        assert!(
            !plain.contains("supervisor")
                && !plain.contains("systemctl")
                && !plain.contains("restarts.json")
                && !plain.contains("gather")
                && !plain.contains("mktemp")
        );
    }

    #[test]
    fn scripts_quote_every_path() {
        let req = ProbeRequest {
            paths: vec![
                "/a b".into(),
                "/$(touch pwned)".into(),
                "/it's".into(),
                "relative".into(),
                "/a b".into(),
            ],
            emptiness: vec!["/d`x`".into()],
        };
        let s = script(&req);
        assert!(
            s.contains("set -- '/a b' '/$(touch pwned)' '/it'\\''s'\n"),
            "{s}"
        );
        assert!(s.contains("set -- '/d`x`'\n"), "{s}");
        assert!(s.contains("printf 'err\\0%s\\0%s\\0' relative 'not an absolute path'"));
        let f = fetch_script(&["/x y".into()]);
        assert!(f.contains("set -- '/x y'\n"));
    }
}
