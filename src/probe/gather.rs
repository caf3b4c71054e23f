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
}
