//! Transports: how `play` runs commands on a host.
//!
//! One trait, [`Transport`]: exec a command with stdin and capture stdout, stderr and the exit
//! status. Uploads are built on exec (`cat` into a temp file in the target's folder, fsync, rename),
//! so that they work the same with `become` (sudo) and on every implementation.
//! Implementations: [`ssh::SshTransport`] (ssh2) and [`local::LocalTransport`] (this machine).
//! [`ssh_config`] reads the OpenSSH client config; [`jump`] reaches hosts through jump hosts
//! (ProxyJump) in process.

pub mod jump;
pub mod known_hosts;
pub mod local;
pub mod ssh;
pub mod ssh_config;

use std::path::PathBuf;
use std::time::Duration;

/// What a command printed and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Exit status; `-1` when the command died by a signal or the status is unknown.
    pub status: i32,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.status == 0
    }
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Why a transport operation failed. Every message names the host.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("{host}: cannot connect to {addr}: {reason}")]
    Connect {
        host: String,
        addr: String,
        reason: String,
    },
    #[error("{host}: host key verification failed: {reason}")]
    HostKey { host: String, reason: String },
    #[error("{host}: authentication failed for user `{user}`: {reason}")]
    Auth {
        host: String,
        user: String,
        reason: String,
    },
    /// sudo wanted a password and none was given (`wrong: false`), or refused the one given.
    #[error("{host}: {}", sudo_problem(.user, *.wrong))]
    SudoPassword {
        host: String,
        user: String,
        wrong: bool,
    },
    /// A command did not end within its bound ([`Transport::exec_bounded`]): the host
    /// answers, but the command hangs (a hung disk or mount, a stuck tool).
    #[error("{host}: {what} did not finish within {secs}s (bounded by --timeout)")]
    Deadline {
        host: String,
        what: String,
        secs: u64,
    },
    #[error("{host}: {what} timed out after {secs}s")]
    Timeout {
        host: String,
        what: String,
        secs: u64,
    },
    #[error("{host}: {reason}")]
    Io { host: String, reason: String },
    /// The jump host (`ProxyJump`) in front of the host could not be reached or logged into;
    /// `reason` is the jump host's own error (every target behind it gets the same one).
    #[error("{host}: jump host `{jump}` failed: {reason}")]
    Jump {
        host: String,
        jump: String,
        reason: String,
    },
    /// The session broke while a command ran (host died, connection cut, host frozen);
    /// `stdout` holds what the command printed before (it may be cut mid-record).
    #[error("{source}")]
    Lost {
        source: Box<TransportError>,
        stdout: Vec<u8>,
    },
}

fn sudo_problem(user: &str, wrong: bool) -> String {
    if wrong {
        format!("sudo refused the become password for `{user}` (wrong password)")
    } else {
        format!(
            "sudo needs a password for `{user}`: set `become_password` (e.g. in a *.vault.yml \
             file) or use --ask-become-pass"
        )
    }
}

/// A secret string (a become password): never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: String) -> Secret {
        Secret(s)
    }
    /// The clear text: only for sending it where it is needed.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl TransportError {
    /// True when the host could not be reached or logged into (reported as "unreachable").
    pub fn is_unreachable(&self) -> bool {
        if let TransportError::Lost { source, .. } = self {
            return source.is_unreachable();
        }
        matches!(
            self,
            TransportError::Connect { .. }
                | TransportError::HostKey { .. }
                | TransportError::Auth { .. }
                | TransportError::Timeout { .. }
                | TransportError::Jump { .. }
        )
    }
}

/// What to do with a host key that is not in known_hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum HostKeyPolicy {
    /// Unknown and changed keys fail the host.
    #[default]
    Strict,
    /// Unknown keys are appended to known_hosts (under a file lock); changed keys still fail.
    AcceptNew,
}

/// Everything needed to open a session to one host.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Inventory name of the host (used in messages and known_hosts lookups).
    pub name: String,
    /// Address to connect to (`ssh_host`, default: the inventory name).
    pub address: String,
    pub port: u16,
    pub user: String,
    /// Key files to try after the agent; empty = ~/.ssh/id_ed25519, ~/.ssh/id_rsa.
    pub private_keys: Vec<PathBuf>,
    /// known_hosts file; default ~/.ssh/known_hosts.
    pub known_hosts: PathBuf,
    pub host_key_policy: HostKeyPolicy,
    /// Run commands as root with `sudo -n` when the login user is not root.
    pub become_root: bool,
    /// Timeout for connecting, and for each blocking read/write.
    pub timeout: Duration,
    /// Use ssh-agent if `SSH_AUTH_SOCK` is set.
    pub use_agent: bool,
    /// Reach the host through this jump host (`ProxyJump`; the jump host may have its own).
    pub jump: Option<Box<ConnectOptions>>,
    /// `ServerAliveInterval`: a keepalive after this much silence (default: the timeout).
    pub keepalive: Option<Duration>,
    /// The login user's sudo password (`become_password`, `--ask-become-pass`): sent on
    /// sudo's stdin only ([`exec_line_with_password`]).
    pub become_password: Option<Secret>,
}

impl ConnectOptions {
    /// `host` for port 22, `[host]:port` otherwise (the known_hosts spelling).
    pub fn display_addr(&self) -> String {
        if self.port == 22 {
            self.address.clone()
        } else {
            format!("[{}]:{}", self.address, self.port)
        }
    }
}

/// A session to one host, kept open for the whole run.
pub trait Transport: Send {
    /// Inventory name of the host.
    fn host(&self) -> &str;

    /// Runs `command` by `sh` (as root with sudo when `become` is set), feeding `stdin`: the
    /// command travels on stdin ahead of `stdin` ([`frame`]), under the constant [`exec_line`].
    fn exec(&mut self, command: &str, stdin: &[u8]) -> Result<ExecOutput, TransportError>;

    /// [`Transport::exec`] bounded in total time: fails with [`TransportError::Deadline`] when
    /// the command has not ended within `3 × the session timeout + allowance` (the command is
    /// left behind; the caller gives up on the host). For probes, which must not hang a run.
    fn exec_bounded(
        &mut self,
        command: &str,
        stdin: &[u8],
        allowance: Duration,
    ) -> Result<ExecOutput, TransportError>;

    /// Closes the session. Further calls fail.
    fn close(&mut self);

    /// Sends `request` (a whole HTTP/1.0 request) to the unix socket `socket` on the host and
    /// returns everything the server answered until it closed the connection (at most
    /// [`MAX_UNIX_HTTP_ANSWER`] bytes). Used to speak to supervisord's XML-RPC API without
    /// running a process on the host. The socket is opened as the login user (no sudo).
    fn unix_http(&mut self, socket: &str, request: &[u8]) -> Result<Vec<u8>, TransportError> {
        let _ = request;
        Err(TransportError::Io {
            host: self.host().to_string(),
            reason: format!("unix socket {socket}: not supported by this transport"),
        })
    }

    /// Starts `command` (like [`Transport::exec`]: on stdin, with sudo under `become`) and leaves
    /// it running on its own channel, to be talked to line by line, while other commands run.
    /// It lives until [`Spawned::finish`] closes its stdin or the session ends (the host then
    /// sees EOF on its stdin) — what holds the per-host apply lock.
    fn spawn(&mut self, command: &str) -> Result<Box<dyn Spawned>, TransportError> {
        let _ = command;
        Err(TransportError::Io {
            host: self.host().to_string(),
            reason: "background commands: not supported by this transport".into(),
        })
    }

    /// Sends `request` (a whole HTTP/1.0 request) over a TCP connection to `host:port` made
    /// FROM the host (SSH: a direct-tcpip channel, no process on the host), and returns
    /// everything the server answered until it closed the connection (at most
    /// [`MAX_TCP_HTTP_ANSWER`] bytes). `timeout` bounds the connection and each wait for data.
    /// With `PLAY_LOOPBACK_ONLY=1`, `host` must resolve (here) to a loopback address.
    fn tcp_http(
        &mut self,
        host: &str,
        port: u16,
        request: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, TransportError> {
        let _ = (request, timeout);
        Err(TransportError::Io {
            host: self.host().to_string(),
            reason: format!("TCP to {host}:{port}: not supported by this transport"),
        })
    }

    /// Writes `bytes` to `path` atomically: a temp file in the same folder, fsync, rename.
    fn upload(&mut self, path: &str, bytes: &[u8]) -> Result<(), TransportError> {
        let q = shell_quote(path);
        let script = format!(
            "set -e; t=$(mktemp {q}.play-tmp.XXXXXX); trap 'rm -f \"$t\"' EXIT; cat > \"$t\"; \
             sync \"$t\" 2>/dev/null || true; mv -f \"$t\" {q}; trap - EXIT"
        );
        let out = self.exec(&script, bytes)?;
        if out.success() {
            Ok(())
        } else {
            Err(TransportError::Io {
                host: self.host().to_string(),
                reason: format!("upload to {path} failed: {}", out.stderr_str().trim()),
            })
        }
    }
}

/// A command left running on a host by [`Transport::spawn`].
pub trait Spawned: Send {
    /// The next line it printed on stdout (without the newline); `None` once its stdout ended.
    /// Silence is bounded like [`Transport::exec`]'s: keepalives, then a timeout.
    fn read_line(&mut self) -> Result<Option<String>, TransportError>;
    /// Writes `bytes` to its stdin.
    fn send(&mut self, bytes: &[u8]) -> Result<(), TransportError>;
    /// What it printed on stderr so far (complete once `read_line` gave `None`).
    fn stderr(&mut self) -> String;
    /// Closes its stdin (the command sees EOF); does not wait for it to end.
    fn finish(&mut self);
}

/// Largest answer [`Transport::unix_http`] reads.
pub const MAX_UNIX_HTTP_ANSWER: usize = 16 << 20;

/// Largest answer [`Transport::tcp_http`] reads.
pub const MAX_TCP_HTTP_ANSWER: usize = 1 << 20;

/// `host:port` resolved on this machine (`[v6]` brackets allowed); with `loopback_only`, only
/// its loopback addresses, and an error when it has none.
pub(crate) fn resolve_allowed(
    host: &str,
    port: u16,
    loopback_only: bool,
) -> Result<Vec<std::net::SocketAddr>, String> {
    use std::net::ToSocketAddrs;
    let bare = host
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(host);
    let addrs: Vec<std::net::SocketAddr> = (bare, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve `{bare}`: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("`{bare}` resolves to no address"));
    }
    ssh::keep_allowed(addrs, loopback_only)
}

/// Quotes `s` for a POSIX shell: `'...'` with embedded quotes escaped.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@%".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Opens a session to the host described by `opts`.
///
/// SSH ([`ssh::SshTransport`]) always, except when the address is the literal `local`: then
/// commands run on this machine ([`local::LocalTransport`]), without SSH. `localhost` and
/// `127.0.0.1` still go through SSH.
pub fn connect(opts: &ConnectOptions) -> Result<Box<dyn Transport>, TransportError> {
    if opts.address == "local" {
        return Ok(Box::new(local::LocalTransport::new(opts)));
    }
    Ok(Box::new(ssh::SshTransport::connect(opts)?))
}

/// The program every command runs as on the host, whatever the command: it reads the
/// command's length from the first line of stdin, then exactly that many bytes (GNU `head -c`
/// never reads past them) and `eval`s them; the rest of stdin is the command's own. So no
/// script, command or value is ever in a host process's argv (`ps` shows only this line); see
/// [`frame`]. A command with nothing on stdin (the probe, most steps) comes after a `.` line
/// instead ([`frame_exec`]): the shell sources the rest of its stdin (`. /dev/stdin` when that
/// is a pipe it may open again: no `head` process; `cat` otherwise, e.g. a pipe another user
/// made), which is one `eval '…' </dev/null`, parsed
/// whole before it runs, so nothing it starts can read the command's own text.
pub const BOOTSTRAP: &str = r#"IFS= read -r n || exit 97; if [ "$n" = . ]; then if [ -p /dev/stdin ] && [ -r /dev/stdin ]; then . /dev/stdin; else eval "$(cat)"; fi; exit; fi; eval "$(head -c "$n")""#;

/// The command line actually run for every command: `sh -c BOOTSTRAP`, or
/// `sudo -n -- sh -c BOOTSTRAP` when `become_root` (and the user is not root already). The
/// same for every command: what runs travels on stdin ([`frame`]).
pub fn exec_line(use_sudo: bool) -> String {
    let q = shell_quote(BOOTSTRAP);
    if use_sudo {
        format!("sudo -n -- sh -c {q}")
    } else {
        format!("sh -c {q}")
    }
}

/// The line after the become password on stdin ([`frame_with_password`]).
const PASSWORD_END: &str = "PLAY_FRAME_AFTER_PASSWORD";

/// [`exec_line`] for a login whose sudo wants a password: `sudo -S -p ''` reads the password
/// as the first line of stdin (one byte at a time: nothing past it), then the shell skips every
/// line up to the [`PASSWORD_END`] marker (the password line itself, when sudo did not ask for
/// it) and runs [`BOOTSTRAP`]. So the password is on stdin only: in no argv, environment or
/// file. Constant, like [`exec_line`].
pub fn exec_line_with_password() -> String {
    format!(
        "sudo -S -p '' -- sh -c {}",
        shell_quote(&password_bootstrap())
    )
}

/// What sudo runs in [`exec_line_with_password`]: skip to the marker line, then [`BOOTSTRAP`].
fn password_bootstrap() -> String {
    format!(r#"while IFS= read -r l; do [ "$l" = {PASSWORD_END} ] && break; done; {BOOTSTRAP}"#)
}

/// The stdin of [`exec_line_with_password`]: the password on a line, the marker line, then
/// [`frame`]. A password holding a newline or the marker is refused earlier
/// ([`password_is_sendable`]).
pub fn frame_with_password(password: &Secret, command: &str, stdin: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(password.0.len() + 64 + command.len() + stdin.len());
    v.extend_from_slice(password.0.as_bytes());
    v.push(b'\n');
    v.extend_from_slice(PASSWORD_END.as_bytes());
    v.push(b'\n');
    v.extend_from_slice(&frame(command, stdin));
    v
}

/// Why `password` cannot be sent to sudo on a line, if it cannot.
pub fn password_is_sendable(password: &str) -> Result<(), &'static str> {
    if password.contains(['\n', '\r', '\0']) {
        Err("holds a line break or NUL (sudo reads one line)")
    } else if password == PASSWORD_END {
        Err("is play's own marker line")
    } else {
        Ok(())
    }
}

/// True when `sudo -S` rejected the password it was given.
pub fn sudo_rejected_password(out: &ExecOutput) -> bool {
    out.status == 1 && {
        let err = out.stderr_str();
        err.contains("incorrect password attempt") || err.contains("Sorry, try again")
    }
}

/// The stdin of [`BOOTSTRAP`] running `command` with `stdin`: the command's length on a line,
/// the command, then its own stdin.
pub fn frame(command: &str, stdin: &[u8]) -> Vec<u8> {
    let head = format!("{}\n", command.len());
    let mut v = Vec::with_capacity(head.len() + command.len() + stdin.len());
    v.extend_from_slice(head.as_bytes());
    v.extend_from_slice(command.as_bytes());
    v.extend_from_slice(stdin);
    v
}

/// [`frame`] for a command that is given all its stdin at once: with none, the `.` form of
/// [`BOOTSTRAP`] (`.`, then `eval 'COMMAND' </dev/null`), which forks nothing to read it. Not
/// for a spawned command, whose stdin follows later.
pub fn frame_exec(command: &str, stdin: &[u8]) -> Vec<u8> {
    if stdin.is_empty() {
        format!(".\neval {} </dev/null\n", shell_quote(command)).into_bytes()
    } else {
        frame(command, stdin)
    }
}

/// Shell text running `cmd` by `runner` (`sh`, `su -s /bin/sh USER`, `timeout 5 sh`…) that
/// reads it from a here-document: `RUNNER <<'PLAY_EOF'`, `eval 'CMD' </dev/null`, `PLAY_EOF`,
/// each on its line (a delimiter that no line of the body equals). So `cmd` is in no process's
/// argv, and its own stdin is /dev/null. Ends with a newline: what follows goes on the next
/// line (e.g. `) >&2`).
pub fn heredoc(runner: &str, cmd: &str) -> String {
    let body = format!("eval {} </dev/null", shell_quote(cmd));
    let mut delim = String::from("PLAY_EOF");
    let mut n = 0u32;
    while body.lines().any(|l| l == delim) {
        n += 1;
        delim = format!("PLAY_EOF_{n}");
    }
    format!("{runner} <<'{delim}'\n{body}\n{delim}\n")
}

/// True when a command run through `sudo -n` failed because sudo wanted a password (or a
/// terminal to ask for one) rather than because of the command itself.
pub fn sudo_wants_password(out: &ExecOutput) -> bool {
    if out.status != 1 {
        return false;
    }
    let err = out.stderr_str();
    err.contains("a password is required")
        || err.lines().any(|l| {
            l.starts_with("sudo:") && (l.contains("password") || l.contains("terminal is required"))
        })
}

/// Raises this process's soft limit of open files to its hard limit (at most 1 << 20): every
/// host of a run holds a socket (and a socket pair per jump), so `--forks 500` needs more than
/// the usual 1024. Returns the soft limit now in force (`None` when it cannot be read).
pub fn raise_open_files_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        let want = lim.rlim_max.min(1 << 20);
        if lim.rlim_cur < want {
            let raised = libc::rlimit {
                rlim_cur: want,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = want;
            }
        }
    }
    Some(lim.rlim_cur)
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_open_files_limit_is_raised_to_the_hard_limit() {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as in raise_open_files_limit.
        unsafe {
            assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
            let low = libc::rlimit {
                rlim_cur: lim.rlim_max.min(256),
                rlim_max: lim.rlim_max,
            };
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &low), 0);
        }
        assert_eq!(raise_open_files_limit(), Some(lim.rlim_max.min(1 << 20)));
    }

    use super::*;

    #[test]
    fn quoting_keeps_plain_words_and_escapes_the_rest() {
        assert_eq!(shell_quote("/etc/app.ini"), "/etc/app.ini");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("$(touch /tmp/x)"), "'$(touch /tmp/x)'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }

    #[test]
    fn tcp_targets_are_resolved_and_kept_on_loopback_when_asked() {
        let got = resolve_allowed("127.0.0.13", 8000, true).expect("loopback");
        assert_eq!(got, ["127.0.0.13:8000".parse().expect("addr")]);
        let got = resolve_allowed("[::1]", 80, true).expect("v6 loopback");
        assert_eq!(got, ["[::1]:80".parse().expect("addr")]);
        let e = resolve_allowed("192.0.2.7", 80, true).expect_err("refused");
        assert!(
            e.contains("PLAY_LOOPBACK_ONLY=1") && e.contains("192.0.2.7"),
            "{e}"
        );
        assert!(resolve_allowed("192.0.2.7", 80, false).is_ok());
    }

    /// Runs `command` with `stdin` as a transport does: the constant exec line, the command
    /// framed on stdin.
    fn bootstrap(command: &str, stdin: &[u8]) -> std::process::Output {
        run_framed(BOOTSTRAP, frame(command, stdin))
    }

    /// `sh -c SCRIPT` fed `data`.
    fn run_framed(script: &str, data: Vec<u8>) -> std::process::Output {
        use std::io::Write;
        let mut child = std::process::Command::new("sh")
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn sh");
        let mut input = child.stdin.take().expect("stdin");
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(&data);
        });
        let out = child.wait_with_output().expect("wait");
        writer.join().expect("writer");
        out
    }

    #[test]
    fn every_command_runs_from_stdin_under_one_constant_line() {
        assert_eq!(
            exec_line(false),
            format!("sh -c {}", shell_quote(BOOTSTRAP))
        );
        assert_eq!(
            exec_line(true),
            format!("sudo -n -- sh -c {}", shell_quote(BOOTSTRAP))
        );
        assert_eq!(frame("echo hi", b"data"), b"7\necho hidata".to_vec());
        // The command gets exactly the rest of stdin, with multi-line scripts, quotes, a
        // here-document and an exit status.
        let script = "x=$(head -c 3)\nprintf '%s|' \"$x\"\ncat <<'E'\nq'\"$x\nE\ncat\nexit 7\n";
        let out = bootstrap(script, b"abcREST\n");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "abc|q'\"$x\nREST\n");
        assert_eq!(out.status.code(), Some(7));
        // A long script (beyond one argument's 128 KiB) works the same.
        let long = format!("{}echo end\n", ": padding\n".repeat(20_000));
        assert!(long.len() > 128 * 1024);
        assert_eq!(bootstrap(&long, b"").stdout, b"end\n");
    }

    /// A command given no stdin is read by the shell itself (`. /dev/stdin`): no `head` (the
    /// run below finds no program at all on its PATH), the same output and exit status, and
    /// what it starts reads an empty stdin, never the rest of its own text. Where stdin is not
    /// a pipe, `cat` reads it.
    #[test]
    fn a_command_without_stdin_is_read_by_the_shell_alone() {
        let script =
            "printf 'a|'\nread -r x; printf '%s|' \"${x:-none}\"\ncat <<'E'\nq'\"$x\nE\nexit 7\n";
        let data = frame_exec(script, b"");
        assert!(data.starts_with(b".\n"));
        let empty = tempfile::tempdir().expect("tempdir");
        let path = format!("PATH={}", empty.path().display());
        let run = |with: &[&str], file: Option<&std::path::Path>| {
            use std::io::Write;
            let mut c = std::process::Command::new("/usr/bin/env");
            c.args(with).args(["/bin/sh", "-c", BOOTSTRAP]);
            c.stdout(std::process::Stdio::piped());
            match file {
                Some(f) => {
                    c.stdin(std::fs::File::open(f).expect("open"));
                }
                None => {
                    c.stdin(std::process::Stdio::piped());
                }
            }
            let mut child = c.spawn().expect("spawn sh");
            if let Some(mut input) = child.stdin.take() {
                input.write_all(&data).expect("write");
            }
            let out = child.wait_with_output().expect("wait");
            (
                String::from_utf8_lossy(&out.stdout).into_owned(),
                out.status.code(),
            )
        };
        let want = ("a|none|q'\"$x\n".to_string(), Some(7));
        // A pipe (as sshd gives), a command of builtins: no program on PATH is needed.
        let script_builtins = "printf 'a|'\nread -r x; printf '%s|' \"${x:-none}\"\nexit 7\n";
        let data2 = frame_exec(script_builtins, b"");
        let out = {
            use std::io::Write;
            let mut child = std::process::Command::new("/usr/bin/env")
                .args([path.as_str(), "/bin/sh", "-c", BOOTSTRAP])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("spawn sh");
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(&data2)
                .expect("write");
            child.wait_with_output().expect("wait")
        };
        assert_eq!(
            (out.stdout.as_slice(), out.status.code()),
            (&b"a|none|"[..], Some(7))
        );
        assert_eq!(run(&[], None), want);
        // A regular file as stdin (not a pipe): read by `cat`, the same result.
        let f = empty.path().join("in");
        std::fs::write(&f, &data).expect("write");
        assert_eq!(run(&[], Some(&f)), want);
        // With stdin, the length form as before.
        assert_eq!(frame_exec("echo hi", b"data"), frame("echo hi", b"data"));
    }

    #[test]
    fn the_become_password_is_skipped_whether_sudo_read_it_or_not() {
        let pw = Secret::new("pa ss\\word'$x".into());
        assert!(!exec_line_with_password().contains(pw.expose()));
        assert!(exec_line_with_password().starts_with("sudo -S -p '' -- sh -c "));
        let data = frame_with_password(&pw, "cat; exit 3", b"rest\n");
        // sudo asked (it read the first line): the shell gets the marker first.
        let nl = data.iter().position(|b| *b == b'\n').expect("line");
        let out = run_framed(&password_bootstrap(), data[nl + 1..].to_vec());
        assert_eq!(
            (out.stdout.as_slice(), out.status.code()),
            (&b"rest\n"[..], Some(3))
        );
        // sudo did not ask (NOPASSWD, cached): the shell skips the password line itself.
        let out = run_framed(&password_bootstrap(), data);
        assert_eq!(
            (out.stdout.as_slice(), out.status.code()),
            (&b"rest\n"[..], Some(3))
        );
        assert!(password_is_sendable("a\nb").is_err());
        assert!(password_is_sendable(PASSWORD_END).is_err());
        assert_eq!(format!("{pw:?}"), "Secret([redacted])");
    }

    #[test]
    fn heredoc_commands_run_with_their_own_quotes_and_no_stdin() {
        let cmd = "echo \"it's\" $((1+2)); cat\ncat <<'X'\nPLAY_EOF\nX\necho done";
        let text = heredoc("sh", cmd);
        assert!(text.starts_with("sh <<'PLAY_EOF_1'\n"), "{text}");
        let run = format!("{text}echo after\n");
        let out = bootstrap(&run, b"stdin of the outer script\n");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "it's 3\nPLAY_EOF\ndone\nafter\n"
        );
    }

    #[test]
    fn sudo_password_prompts_are_recognised() {
        let out = |status, err: &str| ExecOutput {
            stdout: vec![],
            stderr: err.as_bytes().to_vec(),
            status,
        };
        assert!(sudo_wants_password(&out(
            1,
            "sudo: a password is required\n"
        )));
        assert!(sudo_wants_password(&out(
            1,
            "sudo: a terminal is required to read the password; either use the -S option\n"
        )));
        assert!(!sudo_wants_password(&out(1, "grep: no such file\n")));
        assert!(!sudo_wants_password(&out(
            0,
            "sudo: a password is required\n"
        )));
    }
}
