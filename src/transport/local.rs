//! Local transport: runs commands on this machine.
//!
//! Same contract as SSH: the constant `sh -c BOOTSTRAP` (or `sudo -n -- sh -c BOOTSTRAP` when
//! `become` is set and this process is not root), the command first on its stdin
//! ([`super::frame`]). Stdin is fed from a thread so that large inputs and outputs cannot
//! deadlock.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{
    frame, frame_exec, sudo_wants_password, ConnectOptions, ExecOutput, Transport, TransportError,
    BOOTSTRAP,
};

/// `sh -c BOOTSTRAP`, or `sudo -n -- sh -c BOOTSTRAP` (the command follows on stdin).
fn shell(sudo: bool) -> Command {
    let mut c = Command::new(if sudo { "sudo" } else { "sh" });
    if sudo {
        c.args(["-n", "--", "sh"]);
    }
    c.args(["-c", BOOTSTRAP]);
    c
}

/// Runs commands here, with `std::process`.
#[derive(Debug)]
pub struct LocalTransport {
    name: String,
    become_root: bool,
    closed: bool,
    /// The session timeout (bounds [`Transport::exec_bounded`]).
    timeout: std::time::Duration,
}

impl LocalTransport {
    /// A local "session" for the host in `opts` (only its name and `become_root` are used).
    pub fn new(opts: &ConnectOptions) -> LocalTransport {
        LocalTransport {
            timeout: opts.timeout,
            ..LocalTransport::named(&opts.name, opts.become_root)
        }
    }

    /// A local "session" named `name`.
    pub fn named(name: &str, become_root: bool) -> LocalTransport {
        LocalTransport {
            name: name.to_string(),
            become_root,
            closed: false,
            timeout: std::time::Duration::from_secs(10),
        }
    }

    fn use_sudo(&self) -> bool {
        // SAFETY: geteuid has no preconditions and cannot fail.
        self.become_root && unsafe { libc::geteuid() } != 0
    }

    /// `command` started with piped stdin, stdout and stderr; and whether through sudo.
    fn start(&self) -> Result<(std::process::Child, bool), TransportError> {
        if self.closed {
            return Err(self.io("session is closed".into()));
        }
        let sudo = self.use_sudo();
        let child = shell(sudo)
            // Its own process group: a deadline kills the command and everything it started.
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                self.io(format!(
                    "cannot run `{}`: {e}",
                    if sudo { "sudo" } else { "sh" }
                ))
            })?;
        Ok((child, sudo))
    }

    /// `exec`; with `limit`, the command's process group is killed once it ran that long.
    fn exec_limited(
        &mut self,
        command: &str,
        stdin: &[u8],
        limit: Option<Duration>,
    ) -> Result<ExecOutput, TransportError> {
        let started = Instant::now();
        let (mut child, sudo) = self.start()?;
        let input = child.stdin.take();
        let stdin = frame_exec(command, stdin);
        let pid = child.id() as libc::pid_t;
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let killed = std::sync::atomic::AtomicBool::new(false);
        let output = std::thread::scope(|s| {
            if let Some(mut pipe) = input {
                s.spawn(move || {
                    // A command that does not read its stdin closes the pipe: not an error.
                    let _ = pipe.write_all(&stdin);
                });
            }
            if let Some(limit) = limit {
                let killed = &killed;
                s.spawn(move || {
                    if wait.recv_timeout(limit).is_err() {
                        killed.store(true, std::sync::atomic::Ordering::SeqCst);
                        // SAFETY: kill(2) on the process group of our own child.
                        unsafe { libc::kill(-pid, libc::SIGKILL) };
                    }
                });
            }
            let out = child.wait_with_output();
            let _ = done.send(());
            out
        })
        .map_err(|e| self.io(format!("waiting for the command failed: {e}")))?;
        if killed.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(TransportError::Deadline {
                host: self.name.clone(),
                what: "command".into(),
                secs: started.elapsed().as_secs(),
            });
        }
        let out = ExecOutput {
            stdout: output.stdout,
            stderr: output.stderr,
            status: output.status.code().unwrap_or(-1),
        };
        if sudo && sudo_wants_password(&out) {
            return Err(TransportError::SudoPassword {
                host: self.name.clone(),
                user: std::env::var("USER").unwrap_or_else(|_| "(this user)".into()),
                wrong: false,
            });
        }
        Ok(out)
    }

    fn io(&self, reason: String) -> TransportError {
        TransportError::Io {
            host: self.name.clone(),
            reason,
        }
    }
}

impl Transport for LocalTransport {
    fn host(&self) -> &str {
        &self.name
    }

    fn exec(&mut self, command: &str, stdin: &[u8]) -> Result<ExecOutput, TransportError> {
        self.exec_limited(command, stdin, None)
    }

    fn exec_bounded(
        &mut self,
        command: &str,
        stdin: &[u8],
        allowance: Duration,
    ) -> Result<ExecOutput, TransportError> {
        self.exec_limited(command, stdin, Some(self.timeout * 3 + allowance))
    }

    fn close(&mut self) {
        self.closed = true;
    }

    fn spawn(&mut self, command: &str) -> Result<Box<dyn super::Spawned>, TransportError> {
        let (mut child, _) = self.start()?;
        let mut stdin = child.stdin.take();
        if let Some(pipe) = stdin.as_mut() {
            // The command itself goes first on stdin; what `send` writes follows it.
            pipe.write_all(&frame(command, b""))
                .map_err(|e| self.io(format!("sending the command: {e}")))?;
        }
        let stdout = child.stdout.take().map(std::io::BufReader::new);
        Ok(Box::new(LocalSpawned {
            host: self.name.clone(),
            stdin,
            stdout,
            child,
        }))
    }

    fn unix_http(&mut self, socket: &str, request: &[u8]) -> Result<Vec<u8>, TransportError> {
        use std::io::Read;
        if self.closed {
            return Err(self.io("session is closed".into()));
        }
        let err = |e: std::io::Error| self.io(format!("unix socket {socket}: {e}"));
        let mut s = std::os::unix::net::UnixStream::connect(socket).map_err(err)?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .map_err(err)?;
        s.write_all(request).map_err(err)?;
        let mut answer = Vec::new();
        s.take(super::MAX_UNIX_HTTP_ANSWER as u64)
            .read_to_end(&mut answer)
            .map_err(err)?;
        Ok(answer)
    }

    fn tcp_http(
        &mut self,
        host: &str,
        port: u16,
        request: &[u8],
        timeout: std::time::Duration,
    ) -> Result<Vec<u8>, TransportError> {
        use std::io::{ErrorKind, Read};
        if self.closed {
            return Err(self.io("session is closed".into()));
        }
        let addrs = super::resolve_allowed(host, port, super::ssh::loopback_only())
            .map_err(|reason| self.io(reason))?;
        let what = format!("{host}:{port}");
        let err = |e: std::io::Error, doing: &str| match e.kind() {
            ErrorKind::TimedOut | ErrorKind::WouldBlock => TransportError::Timeout {
                host: self.name.clone(),
                what: format!("{doing} {what}"),
                secs: timeout.as_secs_f64().ceil() as u64,
            },
            ErrorKind::ConnectionRefused => self.io("connection refused".into()),
            _ => self.io(format!("{doing} {what}: {e}")),
        };
        let mut last = None;
        let mut stream = None;
        for a in &addrs {
            match std::net::TcpStream::connect_timeout(a, timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let mut s = match (stream, last) {
            (Some(s), _) => s,
            (None, Some(e)) => return Err(err(e, "connecting to")),
            (None, None) => return Err(self.io(format!("{what}: no address to try"))),
        };
        s.set_read_timeout(Some(timeout))
            .and_then(|()| s.set_write_timeout(Some(timeout)))
            .map_err(|e| err(e, "connecting to"))?;
        s.write_all(request)
            .map_err(|e| err(e, "sending the request to"))?;
        let mut answer = Vec::new();
        s.take(super::MAX_TCP_HTTP_ANSWER as u64)
            .read_to_end(&mut answer)
            .map_err(|e| err(e, "waiting for the answer of"))?;
        Ok(answer)
    }
}

/// A command left running here ([`Transport::spawn`]). Dropping it closes its stdin and
/// waits for it.
struct LocalSpawned {
    host: String,
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    stdout: Option<std::io::BufReader<std::process::ChildStdout>>,
}

impl super::Spawned for LocalSpawned {
    fn read_line(&mut self) -> Result<Option<String>, TransportError> {
        use std::io::BufRead;
        let Some(out) = self.stdout.as_mut() else {
            return Ok(None);
        };
        let mut line = Vec::new();
        let n = out
            .read_until(b'\n', &mut line)
            .map_err(|e| TransportError::Io {
                host: self.host.clone(),
                reason: format!("reading a background command: {e}"),
            })?;
        if n == 0 {
            self.stdout = None;
            return Ok(None);
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        Ok(Some(String::from_utf8_lossy(&line).into_owned()))
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        let host = self.host.clone();
        let pipe = self.stdin.as_mut().ok_or_else(|| TransportError::Io {
            host: host.clone(),
            reason: "background command: stdin already closed".into(),
        })?;
        pipe.write_all(bytes).map_err(|e| TransportError::Io {
            host,
            reason: format!("writing to a background command: {e}"),
        })
    }

    fn stderr(&mut self) -> String {
        use std::io::Read;
        let mut text = String::new();
        if self.stdout.is_none() {
            if let Some(mut err) = self.child.stderr.take() {
                let _ = err.read_to_string(&mut text);
            }
        }
        text
    }

    fn finish(&mut self) {
        self.stdin = None;
    }
}

impl Drop for LocalSpawned {
    fn drop(&mut self) {
        self.stdin = None;
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_with_stdin_stdout_stderr_and_status() {
        let mut t = LocalTransport::named("here", false);
        let out = t
            .exec("cat; echo oops >&2; exit 7", b"hello")
            .expect("exec");
        assert_eq!(out.stdout, b"hello");
        assert_eq!(out.stderr_str(), "oops\n");
        assert_eq!(out.status, 7);
        assert_eq!(t.host(), "here");
    }

    #[test]
    fn large_stdin_and_output_do_not_deadlock() {
        let mut t = LocalTransport::named("here", false);
        let data: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
        let out = t.exec("cat; cat /dev/null >&2", &data).expect("exec");
        assert!(out.success());
        assert_eq!(out.stdout.len(), data.len());
        assert!(out.stdout == data);
    }

    #[test]
    fn unread_stdin_is_fine_and_signals_give_minus_one() {
        let mut t = LocalTransport::named("here", false);
        let data = vec![b'x'; 1_000_000];
        assert_eq!(t.exec("exit 3", &data).expect("exec").status, 3);
        assert_eq!(t.exec("kill -9 $$", b"").expect("exec").status, -1);
    }

    #[test]
    fn tcp_http_talks_to_a_local_server_and_says_refused() {
        use std::io::Read;
        use std::time::Duration;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || {
            let (mut c, _) = listener.accept().expect("accept");
            let mut req = [0u8; 256];
            let n = c.read(&mut req).expect("read");
            c.write_all(b"HTTP/1.0 204 No Content\r\n\r\n")
                .expect("write");
            String::from_utf8_lossy(&req[..n]).into_owned()
        });
        let mut t = LocalTransport::named("here", false);
        let answer = t
            .tcp_http(
                "127.0.0.1",
                port,
                b"GET / HTTP/1.0\r\n\r\n",
                Duration::from_secs(5),
            )
            .expect("answer");
        assert_eq!(answer, b"HTTP/1.0 204 No Content\r\n\r\n");
        assert!(server.join().expect("server").starts_with("GET / HTTP/1.0"));
        // Nothing listens there any more.
        let e = t
            .tcp_http("127.0.0.1", port, b"x", Duration::from_secs(5))
            .expect_err("refused");
        assert_eq!(e.to_string(), "here: connection refused");
    }

    #[test]
    fn a_bounded_command_that_hangs_is_killed_with_its_children() {
        let mut t = LocalTransport::named("here", false);
        t.timeout = Duration::from_millis(100);
        let start = Instant::now();
        // The pipeline's `sleep` keeps stdout open: only killing the group ends the wait.
        let err = t
            .exec_bounded("sleep 30 | cat", b"", Duration::from_millis(50))
            .expect_err("deadline");
        assert!(
            matches!(&err, TransportError::Deadline { host, .. } if host == "here"),
            "{err:?}"
        );
        assert!(err.to_string().contains("did not finish within"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(20), "not waited for");
        let ok = t
            .exec_bounded("echo fine", b"", Duration::ZERO)
            .expect("quick command");
        assert_eq!(ok.stdout, b"fine\n");
    }

    #[test]
    fn closed_transport_refuses() {
        let mut t = LocalTransport::named("here", false);
        t.close();
        assert!(matches!(
            t.exec("true", b""),
            Err(TransportError::Io { .. })
        ));
    }

    #[test]
    fn upload_writes_atomically() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.txt");
        let mut t = LocalTransport::named("here", false);
        let p = path.to_str().expect("utf-8 temp path");
        t.upload(p, b"content\n").expect("upload");
        assert_eq!(std::fs::read(&path).expect("read"), b"content\n");
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 1);
    }
}
