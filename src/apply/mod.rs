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
//! Modes are passed with five octal digits (`00755`) so GNU chmod also clears a directory's
//! set-group-ID bit when asked to.
//!
//! # Wire format
//!
//! stdout: `play-apply\0v1\0`, then per step `ok\0INDEX\0`, or `fail\0INDEX\0` and the script
//! exits 1 (later steps do not run); `end\0` after the last step.
//! stderr: a marker `\0play-step\0INDEX\0` before each step, so the failing step's own messages
//! can be told apart.

use crate::resources::{mode_str, Action, Attrs, Change, Desired, Resource};
use crate::transport::shell_quote;

/// What an apply run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// `Change::index` of the steps that completed, in order.
    pub done: Vec<usize>,
    /// The step that failed (its `Change::index`, or [`UNKNOWN_STEP`] when the script died
    /// without saying which) and why (its stderr).
    pub failed: Option<(usize, String)>,
}

/// `ApplyOutcome::failed` index when the script died before or between steps, with no step
/// identified (e.g. `sudo` refused, the connection dropped).
pub const UNKNOWN_STEP: usize = usize::MAX;

const HEADER: &str = "play-apply";

const SCRIPT_HEAD: &str = r#"LC_ALL=C; export LC_ALL
umask 077
t=
trap 'if [ -n "$t" ]; then rm -f -- "$t"; fi' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM
play_ok() { t=; printf 'ok\0%s\0' "$1"; }
play_fail() { if [ -n "$t" ]; then rm -f -- "$t"; fi; t=; printf 'fail\0%s\0' "$1"; exit 1; }
play_desync() { printf '%s\n' 'content stream out of step (stdin truncated?)' >&2; play_fail "$1"; }
printf 'play-apply\0v1\0'
"#;

/// Folder and name of an absolute path (`/a/b` → `/a`, `b`; `/b` → `/`, `b`).
fn split(path: &str) -> (String, String) {
    let p = path.trim_end_matches('/');
    match p.rfind('/') {
        Some(0) => ("/".into(), p[1..].into()),
        Some(i) => (p[..i].into(), p[i + 1..].into()),
        None => (".".into(), p.into()),
    }
}

/// `DIR/.NAME.play-tmp.` (NAME cut so the temp name stays under NAME_MAX).
fn temp_prefix(path: &str) -> String {
    let (dir, name) = split(path);
    let mut cut = name.len().min(200);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let dir = if dir.ends_with('/') {
        dir
    } else {
        format!("{dir}/")
    };
    format!("{dir}.{}.play-tmp.", &name[..cut])
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

    fn write_file(
        &mut self,
        i: usize,
        path: &str,
        attrs: &Attrs,
        content: Option<&[u8]>,
        update: bool,
    ) {
        let target = shell_quote(path);
        let template = shell_quote(&format!("{}XXXXXX", temp_prefix(path)));
        self.run(i, &format!("t=$(mktemp -- {template})"));
        if let Some(bytes) = content {
            if !bytes.is_empty() {
                self.run(i, &format!("head -c {} > \"$t\"", bytes.len()));
            }
            let marker = format!("play-end {i}");
            self.line(&format!(
                "IFS= read -r m || play_desync {i}\n[ \"$m\" = {} ] || play_desync {i}",
                shell_quote(&marker)
            ));
            self.stdin.extend_from_slice(bytes);
            self.stdin.extend_from_slice(marker.as_bytes());
            self.stdin.push(b'\n');
        }
        if update && (attrs.owner.is_none() || attrs.group.is_none()) {
            self.run(i, &format!("chown --reference={target} -- \"$t\""));
        }
        if let Some(spec) = chown_spec(attrs) {
            self.run(i, &format!("chown -- {} \"$t\"", shell_quote(&spec)));
        }
        match attrs.mode {
            Some(m) => self.run(i, &format!("chmod -- {} \"$t\"", mode5(m))),
            None if update => self.run(i, &format!("chmod --reference={target} -- \"$t\"")),
            None => self.run(i, "chmod -- 00644 \"$t\""),
        }
        if content.is_some_and(|b| !b.is_empty()) {
            self.run(i, "sync -- \"$t\"");
        }
        self.run(i, &format!("mv -f -T -- \"$t\" {target}"));
    }

    /// Owner/group/mode in place. `file`: restore set-ID bits that chown clears.
    fn attrs(&mut self, i: usize, path: &str, attrs: &Attrs, file: bool) {
        let target = shell_quote(path);
        let chown = chown_spec(attrs);
        let keep_mode = file && chown.is_some() && attrs.mode.is_none();
        if keep_mode {
            self.run(i, &format!("m=$(stat -c %a -- {target})"));
        }
        if let Some(spec) = chown {
            self.run(i, &format!("chown -- {} {target}", shell_quote(&spec)));
        }
        if let Some(m) = attrs.mode {
            self.run(i, &format!("chmod -- {} {target}", mode5(m)));
        } else if keep_mode {
            self.run(i, &format!("chmod -- \"$m\" {target}"));
        }
    }

    fn link(&mut self, i: usize, path: &str, target: &str, attrs: &Attrs, force: bool) {
        let link = shell_quote(path);
        // ln -s never follows nor clobbers an existing name, so a predictable name is safe.
        let tmp = format!("{}$$", shell_quote(&temp_prefix(path)));
        self.run(i, &format!("ln -s -- {} {tmp}", shell_quote(target)));
        self.line(&format!("t={tmp}"));
        if let Some(spec) = chown_spec(&Attrs {
            mode: None,
            ..attrs.clone()
        }) {
            self.run(i, &format!("chown -h -- {} \"$t\"", shell_quote(&spec)));
        }
        if force {
            self.line(&format!(
                "if [ -d {link} ] && ! [ -L {link} ]; then rmdir -- {link} || play_fail {i}; fi"
            ));
        }
        self.run(i, &format!("mv -f -T -- \"$t\" {link}"));
    }

    fn step(&mut self, change: &Change, res: &Resource) {
        let i = change.index;
        self.line(&format!("# {} {} {}", change.action.verb(), change.kind, i));
        self.line(&format!("printf '\\0play-step\\0%s\\0' {i} >&2"));
        match (&res.desired, change.action) {
            (Desired::File(s), Action::Create) => {
                let content = change.content.as_ref().map(|c| c.new.as_slice());
                self.write_file(i, &s.path, &s.attrs, content, false);
            }
            (Desired::File(s), Action::Update) if change.content.is_some() => {
                let content = change.content.as_ref().map(|c| c.new.as_slice());
                self.write_file(i, &s.path, &s.attrs, content, true);
            }
            (Desired::File(s), Action::Update | Action::Attrs) => {
                self.attrs(i, &s.path, &s.attrs, true)
            }
            (Desired::File(s), Action::Delete) => {
                self.run(i, &format!("rm -f -- {}", shell_quote(&s.path)))
            }
            (Desired::Directory(s), Action::Create) => {
                let p = shell_quote(&s.path);
                self.run(i, &format!("mkdir -- {p}"));
                if let Some(spec) = chown_spec(&s.attrs) {
                    self.run(i, &format!("chown -- {} {p}", shell_quote(&spec)));
                }
                self.run(
                    i,
                    &format!("chmod -- {} {p}", mode5(s.attrs.mode.unwrap_or(0o755))),
                );
            }
            (Desired::Directory(s), Action::Update | Action::Attrs) => {
                self.attrs(i, &s.path, &s.attrs, false)
            }
            (Desired::Directory(s), Action::Delete) => {
                let p = shell_quote(&s.path);
                if s.force {
                    self.run(i, &format!("rm -rf -- {p}"));
                } else {
                    self.run(i, &format!("rmdir -- {p}"));
                }
            }
            (Desired::Link(s), Action::Create | Action::Update) => {
                self.link(i, &s.path, &s.target, &s.attrs, s.force)
            }
            (Desired::Link(s), Action::Attrs) => {
                if let Some(spec) = chown_spec(&Attrs {
                    mode: None,
                    ..s.attrs.clone()
                }) {
                    self.run(
                        i,
                        &format!(
                            "chown -h -- {} {}",
                            shell_quote(&spec),
                            shell_quote(&s.path)
                        ),
                    );
                }
            }
            (Desired::Link(s), Action::Delete) => {
                self.run(i, &format!("rm -f -- {}", shell_quote(&s.path)))
            }
        }
        self.line(&format!("play_ok {i}"));
    }
}

/// The apply script for one host and its stdin (the contents, concatenated in step order).
/// Steps run in the given order; the first failure stops the script.
pub fn script(steps: &[(&Change, &Resource)]) -> (String, Vec<u8>) {
    let mut b = Builder {
        script: String::from(SCRIPT_HEAD),
        stdin: Vec::new(),
    };
    for (change, res) in steps {
        let problem = if change.kind != res.desired.kind() || change.key != res.desired.key() {
            Some(format!(
                "internal error: change {} {} does not match resource {} {}",
                change.kind,
                change.key,
                res.desired.kind(),
                res.desired.key()
            ))
        } else if has_nul(&res.desired) {
            Some(format!(
                "{} {}: a NUL byte in a path, target, owner or group",
                change.kind, change.key
            ))
        } else {
            None
        };
        match problem {
            Some(message) => {
                let i = change.index;
                b.line(&format!("printf '\\0play-step\\0%s\\0' {i} >&2"));
                b.line(&format!(
                    "printf '%s\\n' {} >&2; play_fail {i}",
                    shell_quote(&message.replace('\0', "\\0"))
                ));
            }
            None => b.step(change, res),
        }
    }
    b.line("printf 'end\\0'");
    crate::probe::via_stdin(&b.script, &b.stdin)
}

/// True when a string the script would carry has a NUL (it cannot pass through `sh -c`).
fn has_nul(d: &Desired) -> bool {
    let attrs = |a: &Attrs| {
        a.owner.as_deref().is_some_and(|o| o.contains('\0'))
            || a.group.as_deref().is_some_and(|g| g.contains('\0'))
    };
    match d {
        Desired::File(s) => s.path.contains('\0') || attrs(&s.attrs),
        Desired::Directory(s) => s.path.contains('\0') || attrs(&s.attrs),
        Desired::Link(s) => s.path.contains('\0') || s.target.contains('\0') || attrs(&s.attrs),
    }
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
    if header_ok {
        let index =
            |f: Option<&[u8]>| -> Option<usize> { std::str::from_utf8(f?).ok()?.parse().ok() };
        while let Some(tag) = fields.next() {
            match tag {
                b"ok" => match index(fields.next()) {
                    Some(i) => out.done.push(i),
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
    if let Some(i) = failed_at {
        let msg: Vec<&str> = sections
            .iter()
            .filter(|(s, _)| *s == Some(i))
            .map(|(_, t)| t.trim())
            .filter(|t| !t.is_empty())
            .collect();
        let msg = if msg.is_empty() {
            format!("failed (exit status {status})")
        } else {
            msg.join("\n")
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
    use crate::resources::{
        sha256_hex, Content, ContentChange, DirectorySpec, FileSpec, Kind, LinkSpec, Origin,
        Presence,
    };

    fn res(desired: Desired) -> Resource {
        Resource {
            desired,
            origin: Origin::default(),
            sensitive: false,
        }
    }

    fn change(
        kind: Kind,
        key: &str,
        action: Action,
        index: usize,
        content: Option<&[u8]>,
    ) -> Change {
        Change {
            kind,
            key: key.into(),
            action,
            details: vec![],
            content: content.map(|b| ContentChange {
                old: None,
                old_sha256: None,
                old_size: None,
                new: b.to_vec(),
                new_sha256: sha256_hex(b),
            }),
            sensitive: false,
            index,
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
        let f = |p: &str, b: &[u8]| {
            res(Desired::File(FileSpec {
                path: p.into(),
                presence: Presence::Present,
                content: Some(Content {
                    bytes: b.to_vec(),
                    source: "content".into(),
                }),
                attrs: Attrs::default(),
            }))
        };
        let (r1, r2) = (f("/a", b"one"), f("/b'$(x)", b"\0two"));
        let d = res(Desired::Directory(DirectorySpec {
            path: "/d".into(),
            presence: Presence::Present,
            attrs: Attrs::default(),
            force: false,
        }));
        let c1 = change(Kind::File, "/a", Action::Create, 0, Some(b"one"));
        let cd = change(Kind::Directory, "/d", Action::Create, 1, None);
        let c2 = change(Kind::File, "/b'$(x)", Action::Update, 2, Some(b"\0two"));
        let (s, stdin) = script(&[(&c1, &r1), (&cd, &d), (&c2, &r2)]);
        assert_eq!(stdin, b"oneplay-end 0\n\0twoplay-end 2\n");
        assert!(
            s.contains("mv -f -T -- \"$t\" '/b'\\''$(x)' || play_fail 2"),
            "{s}"
        );
        assert!(s.contains("chown --reference='/b'\\''$(x)'"), "{s}");
        assert!(s.contains("mkdir -- /d || play_fail 1"), "{s}");
        assert!(s.ends_with("printf 'end\\0'\n"));
    }

    #[test]
    fn mismatched_change_and_resource_fail_the_step() {
        let r = res(Desired::Link(LinkSpec {
            path: "/l".into(),
            presence: Presence::Present,
            target: "/t".into(),
            attrs: Attrs::default(),
            force: false,
        }));
        let c = change(Kind::File, "/l", Action::Create, 7, None);
        let (s, stdin) = script(&[(&c, &r)]);
        assert!(stdin.is_empty());
        assert!(s.contains("internal error"), "{s}");
        assert!(s.contains("play_fail 7"), "{s}");
    }

    #[test]
    fn nul_bytes_never_reach_the_script() {
        let r = res(Desired::Link(LinkSpec {
            path: "/l".into(),
            presence: Presence::Present,
            target: "/t\0x".into(),
            attrs: Attrs::default(),
            force: false,
        }));
        let c = change(Kind::Link, "/l", Action::Create, 3, None);
        let (s, _) = script(&[(&c, &r)]);
        assert!(!s.contains('\0'));
        assert!(s.contains("NUL byte"), "{s}");
        assert!(s.contains("play_fail 3"), "{s}");
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
}
