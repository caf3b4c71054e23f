//! The gathered commands' part of the probe (`gather:`, see [`crate::resolve::gather`]): each
//! command runs in the first probe, in declared order, its output captured whole.
//!
//! # Record
//!
//! ```text
//! gather \0 ID \0 STATUS \0 STDOUT-BASE64 \0 STDERR-BASE64 \0
//! ```
//!
//! STATUS is the command's exit status, `nodir` when its `chdir` does not exist, or `notmp`
//! when the host had no temp folder for the output. Each output is cut after
//! [`MAX_OUTPUT`] + 1 bytes on the host (the rest is read and dropped, so the command is not
//! killed by a closed pipe): more than [`MAX_OUTPUT`] means truncated. Base64 frames any
//! bytes (NUL included).

use crate::transport::{heredoc, shell_quote};

/// The most bytes of stdout (and of stderr) kept per command.
pub const MAX_OUTPUT: usize = 64 * 1024;

/// How long one gathered command may run.
pub const TIMEOUT_SECS: u32 = 300;

/// One command to run in the probe, rendered for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatherCmd {
    /// Names its record (unique in one probe).
    pub id: String,
    pub command: String,
    pub chdir: Option<String>,
    pub user: Option<String>,
    /// What its stdout is (a command's output, or the records of [`find_command`]).
    pub shape: Shape,
}

/// What a gathered command's stdout holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Shape {
    /// Any read-only command's output.
    #[default]
    Command,
    /// The [`Entry`] records of [`find_command`] (Ansible's `find`), kept by the spec.
    Find(FindSpec),
    /// The one [`Entry`] record of [`stat_command`] of this path, or none: it does not exist.
    Stat(String),
}

/// Which entries an Ansible `find` keeps (its vocabulary as the corpus uses it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FindSpec {
    pub paths: Vec<String>,
    /// Matched against an entry's last part: globs (fnmatch), or Python regexes matched at its
    /// start with `use_regex`. None: every entry.
    pub patterns: Vec<String>,
    pub excludes: Vec<String>,
    pub use_regex: bool,
    pub recurse: bool,
    pub file_type: FileType,
    /// Entries whose last part starts with `.` are kept.
    pub hidden: bool,
}

/// Ansible find's `file_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileType {
    #[default]
    File,
    Directory,
    Link,
    Any,
}

/// One file system entry as [`find_command`] prints it: `TYPE/MODE/SIZE/UID/GID/USER/GROUP/
/// MTIME/PATH` and a NUL (the path last: it may hold `/`; user and group names cannot).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// find's `%y`: `f`, `d`, `l`, …
    pub kind: char,
    pub mode: u32,
    pub size: u64,
    pub uid: u32,
    pub gid: u32,
    pub user: String,
    pub group: String,
    pub mtime: f64,
    pub path: String,
}

/// The `-printf` format of an [`Entry`] record.
const ENTRY_FORMAT: &str = "%y/%m/%s/%U/%G/%u/%g/%T@/%p\\0";

/// One `find` process listing every entry under `spec.paths` (their own entries only without
/// `recurse`), without following links; the spec's patterns are applied to the records
/// ([`FindSpec::keeps`]). Paths are absolute (checked when rendered), so none reads as an
/// option of `find`.
pub fn find_command(spec: &FindSpec) -> String {
    let paths: Vec<String> = spec.paths.iter().map(|p| shell_quote(p)).collect();
    let depth = if spec.recurse { "" } else { " -maxdepth 1" };
    format!(
        "find -P {} -mindepth 1{depth} -printf '{ENTRY_FORMAT}'",
        paths.join(" ")
    )
}

/// The one record of `path` itself (Ansible's `stat`, links not followed): none when it does
/// not exist.
pub fn stat_command(path: &str) -> String {
    format!(
        "find -P {} -maxdepth 0 -printf '{ENTRY_FORMAT}'",
        shell_quote(path)
    )
}

/// The [`Entry`] records of `out` (a record cut short by the output bound is left out).
pub fn parse_entries(out: &[u8]) -> Vec<Entry> {
    let mut v = Vec::new();
    let mut recs: Vec<&[u8]> = out.split(|b| *b == 0).collect();
    recs.pop(); // after the last NUL: empty, or a record cut short
    for rec in recs {
        let rec = String::from_utf8_lossy(rec);
        let f: Vec<&str> = rec.splitn(9, '/').collect();
        let [kind, mode, size, uid, gid, user, group, mtime, path] = f.as_slice() else {
            continue;
        };
        let (Some(kind), Ok(mode), Ok(size), Ok(uid), Ok(gid)) = (
            kind.chars().next(),
            u32::from_str_radix(mode, 8),
            size.parse(),
            uid.parse(),
            gid.parse(),
        ) else {
            continue;
        };
        v.push(Entry {
            kind,
            mode,
            size,
            uid,
            gid,
            user: user.to_string(),
            group: group.to_string(),
            mtime: mtime.parse().unwrap_or(0.0),
            path: path.to_string(),
        });
    }
    v
}

/// The records [`find_command`] or [`stat_command`] would print for `shape`, read here (a
/// gather evaluated on the controller: `local: true`); user and group names are the ids.
/// Recursion stops 16 folders down.
pub fn local_output(shape: &Shape) -> Vec<u8> {
    let mut out = Vec::new();
    match shape {
        Shape::Command => {}
        Shape::Stat(p) => {
            if let Ok(m) = std::fs::symlink_metadata(p) {
                push_local(&mut out, p, &m);
            }
        }
        Shape::Find(spec) => {
            for p in &spec.paths {
                walk_local(&mut out, std::path::Path::new(p), spec.recurse, 16);
            }
        }
    }
    out
}

fn walk_local(out: &mut Vec<u8>, dir: &std::path::Path, recurse: bool, depth: usize) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let Ok(m) = std::fs::symlink_metadata(e.path()) else {
            continue;
        };
        let p = e.path().to_string_lossy().into_owned();
        push_local(out, &p, &m);
        if recurse && m.is_dir() && depth > 0 {
            walk_local(out, &e.path(), recurse, depth - 1);
        }
    }
}

fn push_local(out: &mut Vec<u8>, path: &str, m: &std::fs::Metadata) {
    use std::os::unix::fs::MetadataExt;
    let t = m.file_type();
    let kind = if t.is_symlink() {
        'l'
    } else if t.is_dir() {
        'd'
    } else if t.is_file() {
        'f'
    } else {
        'p'
    };
    let rec = format!(
        "{kind}/{:o}/{}/{}/{}/{}/{}/{}.0/{}\0",
        m.mode() & 0o7777,
        m.size(),
        m.uid(),
        m.gid(),
        m.uid(),
        m.gid(),
        m.mtime(),
        path,
    );
    out.extend_from_slice(rec.as_bytes());
}

/// What one gathered command gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatherOutput {
    /// Exit status (127: could not be started, as a shell says; 124: timed out).
    pub rc: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// stdout or stderr was longer than [`MAX_OUTPUT`] (cut there).
    pub truncated: bool,
}

/// The probe fragment running every command of `cmds` in order (nothing when none).
pub fn fragment(cmds: &[GatherCmd]) -> String {
    if cmds.is_empty() {
        return String::new();
    }
    let cap = MAX_OUTPUT + 1;
    let mut s = String::from("play_gt=$(mktemp -d 2>/dev/null) || play_gt=\n");
    for c in cmds {
        let id = shell_quote(&c.id);
        let runner = match &c.user {
            None => "sh".to_string(),
            Some(u) => format!("su -s /bin/sh {}", shell_quote(u)),
        };
        let run = heredoc(&format!("timeout {TIMEOUT_SECS} {runner}"), &c.command);
        let cd = c
            .chdir
            .as_ref()
            .map(|d| format!("cd {} && ", shell_quote(d)))
            .unwrap_or_default();
        // stdout to the outer pipe (fd 3), stderr to the inner one; each kept up to `cap`
        // bytes, the rest drained; the status through a file.
        let body = format!(
            "{{ {{ {{ ({cd}umask 022 && exec {run}) 2>&1 >&3 3>&-; echo \"$?\" >\"$play_gt/rc\"; }} | {{ head -c {cap} >\"$play_gt/e\"; cat >/dev/null; }}; }} 3>&1 | {{ head -c {cap} >\"$play_gt/o\"; cat >/dev/null; }}; }}\nplay_rc=127\n[ -r \"$play_gt/rc\" ] && read -r play_rc <\"$play_gt/rc\"\nprintf 'gather\\0%s\\0%s\\0' {id} \"$play_rc\"\nbase64 <\"$play_gt/o\"; printf '\\0'\nbase64 <\"$play_gt/e\"; printf '\\0'\nrm -f \"$play_gt/o\" \"$play_gt/e\" \"$play_gt/rc\"\n"
        );
        let guarded = match &c.chdir {
            Some(d) => format!(
                "elif ! [ -d {q} ]; then printf 'gather\\0%s\\0nodir\\0\\0\\0' {id}\nelse\n{body}",
                q = shell_quote(d)
            ),
            None => format!("else\n{body}"),
        };
        s.push_str(&format!(
            "# gather {}\nif [ -z \"$play_gt\" ]; then printf 'gather\\0%s\\0notmp\\0\\0\\0' {id}\n{guarded}fi\n",
            c.id
        ));
    }
    s.push_str("[ -n \"$play_gt\" ] && rm -rf \"$play_gt\"\n");
    s
}

/// Parses the fields of one `gather` record after its id: (STATUS, STDOUT, STDERR).
pub fn parse_record(status: &[u8], out: &[u8], err: &[u8]) -> Result<GatherOutput, String> {
    let decode = |b: &[u8], what: &str| {
        super::base64_decode(b).ok_or_else(|| format!("bad base64 in the gathered {what}"))
    };
    let status = String::from_utf8_lossy(status);
    let (rc, stdout, stderr) = match status.as_ref() {
        "nodir" => (1, Vec::new(), b"chdir: the folder does not exist".to_vec()),
        "notmp" => (
            127,
            Vec::new(),
            b"the host has no temp folder for the command's output (mktemp -d failed)".to_vec(),
        ),
        n => {
            let rc = n
                .trim()
                .parse::<i32>()
                .map_err(|_| format!("bad gathered status `{n}`"))?;
            (rc, decode(out, "stdout")?, decode(err, "stderr")?)
        }
    };
    let truncated = stdout.len() > MAX_OUTPUT || stderr.len() > MAX_OUTPUT;
    let cut = |mut v: Vec<u8>| {
        v.truncate(MAX_OUTPUT);
        v
    };
    Ok(GatherOutput {
        rc,
        stdout: cut(stdout),
        stderr: cut(stderr),
        truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(id: &str, command: &str, chdir: Option<&str>) -> GatherCmd {
        GatherCmd {
            id: id.into(),
            command: command.into(),
            chdir: chdir.map(Into::into),
            user: None,
            shape: Shape::Command,
        }
    }

    /// Runs the fragment here with `sh` and parses its records by id.
    fn run(cmds: &[GatherCmd]) -> Vec<(String, GatherOutput)> {
        let script = fragment(cmds);
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("sh");
        let fields: Vec<&[u8]> = out.stdout.split(|b| *b == 0).collect();
        let mut res = Vec::new();
        let mut i = 0;
        while i + 4 < fields.len() {
            assert_eq!(
                fields[i],
                b"gather",
                "{}",
                String::from_utf8_lossy(&out.stdout)
            );
            let id = String::from_utf8_lossy(fields[i + 1]).into_owned();
            let o = parse_record(fields[i + 2], fields[i + 3], fields[i + 4]).expect("record");
            res.push((id, o));
            i += 5;
        }
        res
    }

    #[test]
    fn nothing_without_gathers() {
        assert_eq!(fragment(&[]), "");
    }

    #[test]
    fn outputs_statuses_and_folders_are_captured_here() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("v"), "3.2.1\n").expect("write");
        let d = dir.path().to_string_lossy().into_owned();
        let res = run(&[
            cmd("a", "cat v; echo oops >&2", Some(&d)),
            cmd("b", "printf 'x\\000y\\377'; exit 3", None),
            cmd("c", "no-such-program-play-test", None),
            cmd("d", "pwd", Some("/nonexistent/play/x")),
            cmd("e", "head -c 70000 /dev/zero; read x; echo \"[$x]\"", None),
        ]);
        let by = |id: &str| {
            res.iter()
                .find(|(i, _)| i == id)
                .map(|(_, o)| o.clone())
                .expect(id)
        };
        let a = by("a");
        assert_eq!(
            (a.rc, a.stdout.as_slice(), a.stderr.as_slice()),
            (0, &b"3.2.1\n"[..], &b"oops\n"[..])
        );
        let b = by("b");
        assert_eq!((b.rc, b.stdout.as_slice()), (3, &b"x\0y\xff"[..]));
        let c = by("c");
        assert_eq!(c.rc, 127);
        assert!(
            String::from_utf8_lossy(&c.stderr).contains("not found"),
            "{c:?}"
        );
        let d = by("d");
        assert_eq!(d.rc, 1);
        assert!(String::from_utf8_lossy(&d.stderr).contains("does not exist"));
        let e = by("e");
        assert!(e.truncated);
        assert_eq!(e.stdout.len(), MAX_OUTPUT);
        assert_eq!(e.rc, 0, "drained, not killed by a closed pipe: {e:?}");
    }

    #[test]
    fn bad_records_are_errors() {
        assert!(parse_record(b"x", b"", b"").is_err());
        assert!(parse_record(b"0", b"!!!", b"").is_err());
        let o = parse_record(b"0", b"aGk=", b"").expect("ok");
        assert_eq!(o.stdout, b"hi");
    }

    #[test]
    fn command_text_is_never_unquoted() {
        let mut c = cmd("i", "echo '$(id)'\nPLAY_EOF\nexit 0", Some("/a b/'c"));
        c.user = Some("a'pp".into());
        let f = fragment(&[c]);
        assert!(f.contains("su -s /bin/sh 'a'\\''pp'"), "{f}");
        assert!(f.contains("cd '/a b/'\\''c' && "), "{f}");
        assert!(f.contains("<<'PLAY_EOF_1'"), "{f}");
    }

    #[test]
    fn find_and_stat_records_are_read_here() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().to_string_lossy().into_owned();
        std::fs::create_dir_all(format!("{d}/sub")).expect("mkdir");
        std::fs::write(format!("{d}/a b.list"), "abc").expect("write");
        std::fs::write(format!("{d}/sub/deep.list"), "x").expect("write");
        std::os::unix::fs::symlink("a b.list", format!("{d}/ln")).expect("symlink");
        let spec = |recurse| FindSpec {
            paths: vec![d.clone()],
            recurse,
            ..Default::default()
        };
        let mut c = cmd("f", &find_command(&spec(false)), None);
        c.shape = Shape::Find(spec(false));
        let mut r = cmd("r", &find_command(&spec(true)), None);
        r.shape = Shape::Find(spec(true));
        let s = cmd("s", &stat_command(&format!("{d}/sub")), None);
        let n = cmd("n", &stat_command(&format!("{d}/none")), None);
        let res = run(&[c, r, s, n]);
        let entries = |id: &str| {
            let o = &res.iter().find(|(i, _)| i == id).expect(id).1;
            let mut e = parse_entries(&o.stdout);
            e.sort_by(|a, b| a.path.cmp(&b.path));
            e
        };
        let flat = entries("f");
        let names: Vec<&str> = flat.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            names,
            [
                format!("{d}/a b.list"),
                format!("{d}/ln"),
                format!("{d}/sub")
            ]
        );
        assert_eq!(
            (flat[0].kind, flat[0].size, flat[0].mode & 0o200),
            ('f', 3, 0o200)
        );
        assert_eq!((flat[1].kind, flat[2].kind), ('l', 'd'));
        assert!(!flat[0].user.is_empty());
        assert_eq!(entries("r").len(), 4, "recurse lists sub/deep.list");
        let st = entries("s");
        assert_eq!((st.len(), st[0].kind), (1, 'd'));
        assert!(entries("n").is_empty(), "a missing path has no record");
        // the same records read on this machine without `find`
        let mut local = parse_entries(&local_output(&Shape::Find(spec(false))));
        local.sort_by(|a, b| a.path.cmp(&b.path));
        assert_eq!(
            local
                .iter()
                .map(|e| (e.kind, e.path.as_str(), e.size))
                .collect::<Vec<_>>(),
            flat.iter()
                .map(|e| (e.kind, e.path.as_str(), e.size))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn cut_records_are_left_out() {
        let out = b"f/644/1/0/0/root/root/1.0//a/b\0d/755/4096/0/0/root/root/2.5//a/c d\0f/64";
        let e = parse_entries(out);
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].path, "/a/c d");
        assert_eq!((e[1].kind, e[1].mode, e[1].mtime), ('d', 0o755, 2.5));
        assert!(parse_entries(b"x/zz/1\0").is_empty());
    }
}
