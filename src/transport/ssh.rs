//! SSH transport (ssh2 / libssh2).
//!
//! One session per host for the whole run; each [`Transport::exec`] opens a channel on it.
//!
//! - **Connect**: the address is resolved and tried in turn with `opts.timeout`; TCP_NODELAY.
//!   With a jump host (`opts.jump`, ProxyJump), the session runs instead over a channel the
//!   jump host opens to the address ([`super::jump`]).
//!   With `PLAY_LOOPBACK_ONLY=1` in the environment (the test suites set it) only loopback
//!   addresses (127.0.0.0/8, ::1) are accepted.
//! - **Algorithms**: curve25519-sha256 key exchange first, then the others libssh2 has;
//!   chacha20-poly1305 / AES-GCM / aes128-ctr ciphers first; host key types already in
//!   known_hosts for the host first, then ssh-ed25519.
//! - **Host key**: checked against `opts.known_hosts` ([`super::known_hosts`]) under the inventory
//!   name and the address. Unknown keys fail (strict) or are appended (accept-new); a changed
//!   key always fails.
//! - **Auth**: ssh-agent identities (when `use_agent` and `SSH_AUTH_SOCK` is set), then key
//!   files (`private_keys`, or ~/.ssh/id_ed25519 and ~/.ssh/id_rsa where they exist).
//! - **Exec**: non-blocking channel I/O in one loop (stdin written in chunks while stdout and
//!   stderr are read, so multi-MB inputs and outputs cannot deadlock), waiting on the socket
//!   with poll(2). `opts.timeout` bounds silence, not run time: after that long (at least 2 s)
//!   without a byte from the host a keepalive is sent, and after three times that long with no
//!   answer the command fails with [`TransportError::Timeout`]. Long quiet commands are fine.
//!   Channel open/close and the handshake use libssh2's blocking timeout (`opts.timeout`).

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ssh2::{Channel, ErrorCode, MethodType, Session};

use super::jump::Lease;
use super::known_hosts::{self, Appended, HostKey, Verdict};
use super::{
    exec_line, exec_line_with_password, frame, frame_exec, frame_with_password, shell_quote,
    sudo_rejected_password, sudo_wants_password, ConnectOptions, ExecOutput, HostKeyPolicy,
    Transport, TransportError,
};

const KEX_PREF: &[&str] = &["curve25519-sha256", "curve25519-sha256@libssh.org"];
const CIPHER_PREF: &[&str] = &[
    "chacha20-poly1305@openssh.com",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
];
/// libssh2's error codes that matter here.
const LIBSSH2_ERROR_TIMEOUT: i32 = -9;
const LIBSSH2_ERROR_EAGAIN: i32 = -37;
const LIBSSH2_ERROR_CHANNEL_FAILURE: i32 = -21;
/// Bytes of stdin handed to libssh2 per write call.
const STDIN_CHUNK: usize = 256 * 1024;

/// A logged-in SSH session to one host.
pub struct SshTransport {
    opts: ConnectOptions,
    /// `None` once closed.
    sess: Option<Session>,
    /// The socket under the session (owned by the session), for poll(2).
    fd: RawFd,
    /// The jump host session this one runs over (kept open while this one is).
    _via: Option<Lease>,
}

impl std::fmt::Debug for SshTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshTransport")
            .field("host", &self.opts.name)
            .field("addr", &self.opts.display_addr())
            .field("user", &self.opts.user)
            .field("open", &self.sess.is_some())
            .finish()
    }
}

/// True when `PLAY_LOOPBACK_ONLY=1`: connections to anything but loopback are refused.
pub fn loopback_only() -> bool {
    std::env::var("PLAY_LOOPBACK_ONLY").as_deref() == Ok("1")
}

/// 127.0.0.0/8, ::1 (and ::ffff:127.x.y.z).
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|m| m.is_loopback()),
    }
}

/// After how much silence a keepalive is sent (`None`: never, timeout 0): `ServerAliveInterval`
/// or the timeout, at least 2 s, as libssh2 wants; the command fails after three times as long
/// without a sign of life.
fn keepalive_after(opts: &ConnectOptions) -> Option<Duration> {
    silence_bound(opts.keepalive.unwrap_or(opts.timeout))
}

fn silence_bound(every: Duration) -> Option<Duration> {
    (!every.is_zero()).then(|| Duration::from_secs(secs(every).max(2)))
}

/// libssh2's blocking timeout for `d` (0: none).
fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

fn secs(d: Duration) -> u64 {
    d.as_secs_f64().ceil() as u64
}

fn is_would_block(e: &ssh2::Error) -> bool {
    e.code() == ErrorCode::Session(LIBSSH2_ERROR_EAGAIN)
}

fn is_timeout(e: &ssh2::Error) -> bool {
    e.code() == ErrorCode::Session(LIBSSH2_ERROR_TIMEOUT)
}

/// `preferred` (those libssh2 has) first, then the rest of what libssh2 has, as a method list.
fn preference(sess: &Session, kind: MethodType, preferred: &[&str]) -> Option<String> {
    let supported = sess.supported_algs(kind).ok()?;
    let mut list: Vec<&str> = preferred
        .iter()
        .copied()
        .filter(|p| supported.contains(p))
        .collect();
    for s in &supported {
        if !list.contains(s) {
            list.push(s);
        }
    }
    (!list.is_empty()).then(|| list.join(","))
}

/// Host key algorithms that produce keys of known_hosts type `key_type`.
fn algs_for_key_type(key_type: &str) -> Vec<&str> {
    match key_type {
        "ssh-rsa" => vec!["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
        t => vec![t],
    }
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

impl SshTransport {
    /// Connects (through the jump hosts if any), checks the host key and logs in.
    pub fn connect(opts: &ConnectOptions) -> Result<SshTransport, TransportError> {
        let login = login(opts)?;
        Ok(SshTransport {
            opts: opts.clone(),
            sess: Some(login.sess),
            fd: login.fd,
            _via: login.via,
        })
    }

    /// The options this session was opened with.
    pub fn options(&self) -> &ConnectOptions {
        &self.opts
    }

    /// Opens a channel to the unix socket `path` on the host (`direct-streamlocal`), e.g.
    /// supervisord's `/var/run/supervisor.sock`. The channel is in blocking mode.
    pub fn open_streamlocal(&mut self, path: &str) -> Result<Channel, TransportError> {
        let sess = self.session()?;
        sess.set_blocking(true);
        sess.channel_direct_streamlocal(path, None)
            .map_err(|e| self.ssh_err(&format!("opening unix socket {path}"), &e))
    }

    fn session(&self) -> Result<&Session, TransportError> {
        self.sess.as_ref().ok_or_else(|| TransportError::Io {
            host: self.opts.name.clone(),
            reason: "session is closed".into(),
        })
    }

    /// True while the SSH session still answers (a keepalive request goes through).
    fn session_alive(&self) -> bool {
        match self.sess.as_ref() {
            None => false,
            Some(sess) => {
                let alive = sess.keepalive_send().is_ok();
                alive && sess.channel_session().is_ok()
            }
        }
    }

    fn use_sudo(&self) -> bool {
        self.opts.become_root && self.opts.user != "root"
    }

    /// A libssh2 error during `what`, as a transport error.
    fn ssh_err(&self, what: &str, e: &ssh2::Error) -> TransportError {
        if is_timeout(e) {
            TransportError::Timeout {
                host: self.opts.name.clone(),
                what: what.to_string(),
                secs: secs(self.opts.timeout),
            }
        } else {
            TransportError::Io {
                host: self.opts.name.clone(),
                reason: format!("{what}: {}", e.message()),
            }
        }
    }

    fn io_err(&self, what: &str, e: &io::Error) -> TransportError {
        TransportError::Io {
            host: self.opts.name.clone(),
            reason: format!("{what}: {e}"),
        }
    }

    /// `exec`, failing with [`TransportError::Deadline`] once `deadline` passed.
    fn exec_until(
        &mut self,
        command: &str,
        stdin: &[u8],
        deadline: Option<Instant>,
    ) -> Result<ExecOutput, TransportError> {
        let sudo = self.use_sudo();
        // The exec line is the same for every command: the command travels on stdin.
        let (line, input) = self.framed(command, stdin, true);
        let out = self.run_channel(&line, &input, deadline)?;
        drop(input);
        if sudo {
            let given = self.opts.become_password.is_some();
            // "sudo: 3 incorrect password attempts" also mentions a password: check it first.
            let wrong = given && sudo_rejected_password(&out);
            if wrong || (!given && sudo_wants_password(&out)) {
                return Err(TransportError::SudoPassword {
                    host: self.opts.name.clone(),
                    user: self.opts.user.clone(),
                    wrong,
                });
            }
        }
        Ok(out)
    }

    /// The exec line and the stdin that run `command` with `stdin` (behind the become password
    /// when sudo needs one); `whole`: `stdin` is all of it (an exec, not a spawn).
    fn framed(&self, command: &str, stdin: &[u8], whole: bool) -> (String, Vec<u8>) {
        match (&self.opts.become_password, self.use_sudo()) {
            (Some(pw), true) => (
                exec_line_with_password(),
                frame_with_password(pw, command, stdin),
            ),
            (_, sudo) if whole => (exec_line(sudo), frame_exec(command, stdin)),
            (_, sudo) => (exec_line(sudo), frame(command, stdin)),
        }
    }

    /// Runs `line` on a new channel: blocking open and exec, non-blocking I/O, blocking close.
    fn run_channel(
        &self,
        line: &str,
        stdin: &[u8],
        deadline: Option<Instant>,
    ) -> Result<ExecOutput, TransportError> {
        let sess = self.session()?;
        sess.set_blocking(true);
        let mut ch = sess
            .channel_session()
            .map_err(|e| self.ssh_err("opening a channel (session lost?)", &e))?;
        ch.exec(line)
            .map_err(|e| self.ssh_err("starting the command", &e))?;
        sess.set_blocking(false);
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let pumped = self.pump(sess, &mut ch, stdin, &mut stdout, &mut stderr, deadline);
        sess.set_blocking(true);
        if let Err(e @ TransportError::Deadline { .. }) = pumped {
            return Err(e);
        }
        if let Err(e) = pumped {
            // Keep what the command said before the session broke (an apply's records of the
            // steps that landed): best effort, take what libssh2 already received.
            sess.set_blocking(false);
            let _ = drain_stream(&mut ch.stream(0), &mut stdout);
            sess.set_blocking(true);
            return Err(TransportError::Lost {
                source: Box::new(e),
                stdout,
            });
        }
        // EOF came from the host: exit-status precedes it; closing waits for the host's close.
        ch.close()
            .and_then(|_| ch.wait_close())
            .map_err(|e| self.ssh_err("closing the channel", &e))?;
        let status = match ch.exit_signal() {
            Ok(sig) if sig.exit_signal.is_some() => -1,
            _ => ch
                .exit_status()
                .map_err(|e| self.ssh_err("reading the exit status", &e))?,
        };
        Ok(ExecOutput {
            stdout,
            stderr,
            status,
        })
    }

    /// Writes stdin, reads stdout and stderr until the host's EOF. Session is non-blocking.
    fn pump(
        &self,
        sess: &Session,
        ch: &mut Channel,
        stdin: &[u8],
        stdout: &mut Vec<u8>,
        stderr: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<(), TransportError> {
        let started = Instant::now();
        let mut pos = 0usize;
        let mut stdin_done = false;
        let mut last_alive = Instant::now();
        let alive_after = keepalive_after(&self.opts);
        loop {
            let mut progress = false;
            if !stdin_done {
                if pos < stdin.len() {
                    let end = stdin.len().min(pos + STDIN_CHUNK);
                    match ch.write(&stdin[pos..end]) {
                        Ok(n) => {
                            pos += n;
                            progress |= n > 0;
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        // The command closed its end (exited without reading it all).
                        Err(_) if ch.eof() => stdin_done = true,
                        Err(e) => return Err(self.io_err("writing the command's stdin", &e)),
                    }
                }
                if pos >= stdin.len() && !stdin_done {
                    match ch.send_eof() {
                        Ok(()) => {
                            stdin_done = true;
                            progress = true;
                        }
                        Err(e) if is_would_block(&e) => {}
                        Err(_) if ch.eof() => stdin_done = true,
                        Err(e) => return Err(self.ssh_err("closing the command's stdin", &e)),
                    }
                }
            }
            progress |= self.drain(&mut ch.stream(0), stdout, "stdout")?;
            progress |= self.drain(&mut ch.stderr(), stderr, "stderr")?;
            // eof() is true only once the host sent EOF and no data is left queued.
            if ch.eof() {
                return Ok(());
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(TransportError::Deadline {
                    host: self.opts.name.clone(),
                    what: "command".into(),
                    secs: secs(started.elapsed()),
                });
            }
            if progress {
                last_alive = Instant::now();
                continue;
            }
            if self.wait_socket(sess)? {
                last_alive = Instant::now();
            }
            let Some(alive_after) = alive_after else {
                continue;
            };
            let idle = last_alive.elapsed();
            if idle >= alive_after {
                // Ask for a sign of life; a healthy host answers and the socket turns readable.
                match sess.keepalive_send() {
                    Ok(_) => {}
                    Err(e) if is_would_block(&e) => {}
                    Err(e) => return Err(self.ssh_err("sending a keepalive", &e)),
                }
            }
            if idle >= alive_after * 3 {
                return Err(TransportError::Timeout {
                    host: self.opts.name.clone(),
                    what: "command (no answer from the host)".into(),
                    secs: secs(idle),
                });
            }
        }
    }

    /// Reads what is there from one stream; true if anything was read.
    fn drain(
        &self,
        stream: &mut impl Read,
        into: &mut Vec<u8>,
        name: &str,
    ) -> Result<bool, TransportError> {
        drain_stream(stream, into)
            .map_err(|e| self.io_err(&format!("reading the command's {name}"), &e))
    }

    /// One HTTP/1.0 exchange on a direct-tcpip channel to `target:port` (session blocking, its
    /// timeout set to `timeout`).
    fn tcp_exchange(
        &self,
        sess: &Session,
        target: &str,
        port: u16,
        request: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, TransportError> {
        let what = format!("{target}:{port}");
        let io = |e: &io::Error, doing: &str| {
            if matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) {
                TransportError::Timeout {
                    host: self.opts.name.clone(),
                    what: format!("{doing} {what}"),
                    secs: secs(timeout),
                }
            } else {
                self.io_err(&format!("{doing} {what}"), e)
            }
        };
        let mut ch = sess
            .channel_direct_tcpip(target, port, None)
            .map_err(|e| match e.code() {
                // sshd could not connect: refused, unreachable, unknown name...
                ErrorCode::Session(LIBSSH2_ERROR_CHANNEL_FAILURE) => TransportError::Io {
                    host: self.opts.name.clone(),
                    reason: format!(
                        "cannot connect to {what} from the host ({})",
                        e.message()
                            .trim_start_matches("Channel open failure")
                            .trim()
                            .trim_start_matches('(')
                            .trim_end_matches(')')
                    ),
                },
                _ => self.ssh_err(&format!("connecting to {what} from the host"), &e),
            })?;
        ch.write_all(request)
            .map_err(|e| io(&e, "sending the request to"))?;
        let mut answer = Vec::new();
        // An HTTP/1.0 server answers and closes: read until EOF.
        (&mut ch)
            .take(super::MAX_TCP_HTTP_ANSWER as u64)
            .read_to_end(&mut answer)
            .map_err(|e| io(&e, "waiting for the answer of"))?;
        let _ = ch.close();
        Ok(answer)
    }

    /// Waits (at most 100 ms) for the socket in the direction libssh2 is blocked on.
    /// True when the host sent something (the socket is readable, or hung up).
    fn wait_socket(&self, sess: &Session) -> Result<bool, TransportError> {
        poll_socket(sess, self.fd).map_err(|e| self.io_err("waiting for the host", &e))
    }
}

/// Reads what is there from one stream (non-blocking session); true if anything was read.
fn drain_stream(stream: &mut impl Read, into: &mut Vec<u8>) -> io::Result<bool> {
    // Straight into `into` (no scratch buffer: a zeroed 64 KiB one per command in flight was
    // touched memory on every host's thread). `read_to_end` keeps what it read when the
    // stream would block, and retries on EINTR.
    let before = into.len();
    match stream.read_to_end(into) {
        Ok(_) => Ok(into.len() > before),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(into.len() > before),
        Err(e) => Err(e),
    }
}

/// Waits (at most 100 ms) on the session's socket `fd` in the direction libssh2 is blocked on.
/// True when the host sent something (the socket is readable, or hung up).
fn poll_socket(sess: &Session, fd: RawFd) -> io::Result<bool> {
    let dirs = sess.block_directions();
    let mut events: libc::c_short = 0;
    if matches!(
        dirs,
        ssh2::BlockDirections::Inbound | ssh2::BlockDirections::Both
    ) {
        events |= libc::POLLIN;
    }
    if matches!(
        dirs,
        ssh2::BlockDirections::Outbound | ssh2::BlockDirections::Both
    ) {
        events |= libc::POLLOUT;
    }
    if events == 0 {
        events = libc::POLLIN;
    }
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd; the fd belongs to the session's socket, open while the
    // caller holds the session.
    let rc = unsafe { libc::poll(&mut pfd, 1, 100) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(e);
    }
    Ok(rc > 0 && pfd.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0)
}

/// A command left running on its own channel ([`Transport::spawn`]).
struct SshSpawned {
    host: String,
    /// Silence after which a keepalive is sent (ServerAliveInterval, else the timeout).
    keepalive: Duration,
    sess: Session,
    fd: RawFd,
    ch: Channel,
    out: Vec<u8>,
    err: Vec<u8>,
    ended: bool,
}

impl SshSpawned {
    fn io(&self, what: &str, e: impl std::fmt::Display) -> TransportError {
        TransportError::Io {
            host: self.host.clone(),
            reason: format!("{what}: {e}"),
        }
    }

    /// Reads what is there (non-blocking); true if anything came.
    fn pull(&mut self) -> Result<bool, TransportError> {
        self.sess.set_blocking(false);
        let got = drain_stream(&mut self.ch.stream(0), &mut self.out)
            .and_then(|a| drain_stream(&mut self.ch.stderr(), &mut self.err).map(|b| a || b));
        let eof = self.ch.eof();
        self.sess.set_blocking(true);
        let got = got.map_err(|e| self.io("reading a background command", e))?;
        if eof {
            self.ended = true;
        }
        Ok(got)
    }
}

impl super::Spawned for SshSpawned {
    fn read_line(&mut self) -> Result<Option<String>, TransportError> {
        let mut last_alive = Instant::now();
        let alive_after = silence_bound(self.keepalive);
        loop {
            if let Some(i) = self.out.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.out.drain(..=i).collect();
                return Ok(Some(
                    String::from_utf8_lossy(&line[..line.len() - 1]).into_owned(),
                ));
            }
            if self.ended {
                if self.out.is_empty() {
                    return Ok(None);
                }
                let rest = std::mem::take(&mut self.out);
                return Ok(Some(String::from_utf8_lossy(&rest).into_owned()));
            }
            if self.pull()? {
                last_alive = Instant::now();
                continue;
            }
            if poll_socket(&self.sess, self.fd).map_err(|e| self.io("waiting for the host", e))? {
                last_alive = Instant::now();
            }
            let Some(alive_after) = alive_after else {
                continue;
            };
            let idle = last_alive.elapsed();
            if idle >= alive_after {
                self.sess.set_blocking(false);
                let sent = self.sess.keepalive_send();
                self.sess.set_blocking(true);
                match sent {
                    Ok(_) => {}
                    Err(e) if is_would_block(&e) => {}
                    Err(e) => return Err(self.io("sending a keepalive", e.message())),
                }
            }
            if idle >= alive_after * 3 {
                return Err(TransportError::Timeout {
                    host: self.host.clone(),
                    what: "background command (no answer from the host)".into(),
                    secs: secs(idle),
                });
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.sess.set_blocking(true);
        self.ch
            .write_all(bytes)
            .and_then(|_| self.ch.flush())
            .map_err(|e| self.io("writing to a background command", e))
    }

    fn stderr(&mut self) -> String {
        let _ = self.pull();
        String::from_utf8_lossy(&self.err).into_owned()
    }

    fn finish(&mut self) {
        self.sess.set_blocking(true);
        let _ = self.ch.send_eof();
    }
}

impl Transport for SshTransport {
    fn host(&self) -> &str {
        &self.opts.name
    }

    fn exec(&mut self, command: &str, stdin: &[u8]) -> Result<ExecOutput, TransportError> {
        self.exec_until(command, stdin, None)
    }

    fn exec_bounded(
        &mut self,
        command: &str,
        stdin: &[u8],
        allowance: Duration,
    ) -> Result<ExecOutput, TransportError> {
        let limit = self.opts.timeout * 3 + allowance;
        self.exec_until(command, stdin, Some(Instant::now() + limit))
    }

    fn spawn(&mut self, command: &str) -> Result<Box<dyn super::Spawned>, TransportError> {
        let (line, first) = self.framed(command, b"", false);
        let sess = self.session()?.clone();
        sess.set_blocking(true);
        let mut ch = sess
            .channel_session()
            .map_err(|e| self.ssh_err("opening a channel (session lost?)", &e))?;
        ch.exec(&line)
            .map_err(|e| self.ssh_err("starting the command", &e))?;
        // The command itself goes first on stdin; what `send` writes follows it.
        ch.write_all(&first)
            .map_err(|e| self.io_err("sending the command", &e))?;
        Ok(Box::new(SshSpawned {
            host: self.opts.name.clone(),
            keepalive: self.opts.keepalive.unwrap_or(self.opts.timeout),
            sess,
            fd: self.fd,
            ch,
            out: Vec::new(),
            err: Vec::new(),
            ended: false,
        }))
    }

    fn unix_http(&mut self, socket: &str, request: &[u8]) -> Result<Vec<u8>, TransportError> {
        let what = format!("unix socket {socket}");
        let result = self.open_streamlocal(socket).and_then(|mut ch| {
            ch.write_all(request)
                .map_err(|e| self.io_err(&format!("writing to {what}"), &e))?;
            let mut answer = Vec::new();
            // The server answers an HTTP/1.0 request and closes: read until EOF.
            (&mut ch)
                .take(super::MAX_UNIX_HTTP_ANSWER as u64)
                .read_to_end(&mut answer)
                .map_err(|e| self.io_err(&format!("reading from {what}"), &e))?;
            let _ = ch.close();
            Ok(answer)
        });
        // A failed or empty exchange on a session that no longer answers is the connection
        // lost (host down, session cut), not a fault of supervisord's socket.
        match result {
            Ok(answer) if !answer.is_empty() => Ok(answer),
            other if !self.session_alive() => Err(TransportError::Lost {
                source: Box::new(TransportError::Io {
                    host: self.opts.name.clone(),
                    reason: format!(
                        "connection lost while talking to supervisord ({what}){}",
                        other.err().map(|e| format!(": {e}")).unwrap_or_default()
                    ),
                }),
                stdout: Vec::new(),
            }),
            other => other,
        }
    }

    fn tcp_http(
        &mut self,
        host: &str,
        port: u16,
        request: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, TransportError> {
        // Under PLAY_LOOPBACK_ONLY the host is asked for the loopback address resolved here;
        // otherwise it resolves the name itself (as Ansible's wait_for would).
        let target = if loopback_only() {
            let addrs =
                super::resolve_allowed(host, port, true).map_err(|reason| TransportError::Io {
                    host: self.opts.name.clone(),
                    reason,
                })?;
            addrs
                .first()
                .map(|a| a.ip().to_string())
                .unwrap_or_else(|| host.to_string())
        } else {
            host.to_string()
        };
        let sess = self.session()?;
        sess.set_blocking(true);
        sess.set_timeout(millis(timeout));
        let res = self.tcp_exchange(sess, &target, port, request, timeout);
        sess.set_timeout(millis(self.opts.timeout));
        res
    }

    fn close(&mut self) {
        if let Some(sess) = self.sess.take() {
            sess.set_blocking(true);
            let _ = sess.disconnect(None, "play: done", None);
        }
    }
}

impl Drop for SshTransport {
    fn drop(&mut self) {
        self.close();
    }
}

/// A logged-in session, the socket under it, and the jump host lease it runs over.
pub(crate) struct Login {
    pub sess: Session,
    pub fd: RawFd,
    pub via: Option<Lease>,
}

/// What a session runs over: a TCP connection, or a bridge to a jump host's channel.
enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl AsRawFd for Conn {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Conn::Tcp(s) => s.as_raw_fd(),
            Conn::Unix(s) => s.as_raw_fd(),
        }
    }
}

/// The stream to the host: TCP, or a channel opened from its jump host.
fn open_stream(opts: &ConnectOptions) -> Result<(Conn, Option<Lease>), TransportError> {
    let Some(hop) = &opts.jump else {
        return Ok((Conn::Tcp(tcp_connect(opts)?), None));
    };
    let lease = super::jump::lease(hop, &opts.name)?;
    // Under PLAY_LOOPBACK_ONLY the jump host is asked for a loopback address: an address
    // literal checked here, a name resolved by the jump host itself (it is who connects; the
    // name may resolve there alone) and checked.
    let target = if loopback_only() {
        let bare = opts.address.trim_start_matches('[').trim_end_matches(']');
        let checked = match bare.parse::<IpAddr>() {
            Ok(ip) => {
                keep_allowed(vec![SocketAddr::new(ip, opts.port)], true).map(|_| bare.to_string())
            }
            Err(_) => resolve_on(hop, bare),
        };
        checked.map_err(|reason| TransportError::Connect {
            host: opts.name.clone(),
            addr: opts.display_addr(),
            reason,
        })?
    } else {
        opts.address.clone()
    };
    let stream = lease
        .open(&target, opts.port, opts.timeout)
        .map_err(|reason| TransportError::Connect {
            host: opts.name.clone(),
            addr: opts.display_addr(),
            reason: format!("through jump host `{}`: {reason}", lease.name()),
        })?;
    Ok((Conn::Unix(stream), Some(lease)))
}

/// `name` resolved on the jump host `hop` (`getent hosts`, one extra login): its first loopback
/// address; an error when it has none (PLAY_LOOPBACK_ONLY).
fn resolve_on(hop: &ConnectOptions, name: &str) -> Result<String, String> {
    let mut t = SshTransport::connect(hop).map_err(|e| e.to_string())?;
    let out = t.exec(&format!("getent hosts {}", shell_quote(name)), b"");
    t.close();
    let out = out.map_err(|e| e.to_string())?;
    if !out.success() {
        return Err(format!(
            "`{name}` does not resolve on jump host `{}`",
            hop.name
        ));
    }
    let addrs: Vec<SocketAddr> = out
        .stdout_str()
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 0))
        .collect();
    let ok = keep_allowed(addrs, true)
        .map_err(|e| format!("`{name}` on jump host `{}`: {e}", hop.name))?;
    ok.first()
        .map(|a| a.ip().to_string())
        .ok_or_else(|| format!("`{name}` does not resolve on jump host `{}`", hop.name))
}

/// Connects (through the jump hosts if any), checks the host key and logs in.
pub(crate) fn login(opts: &ConnectOptions) -> Result<Login, TransportError> {
    let (stream, via) = open_stream(opts)?;
    let fd = stream.as_raw_fd();
    let host = &opts.name;
    let connect_err = |reason: String| TransportError::Connect {
        host: host.clone(),
        addr: opts.display_addr(),
        reason,
    };

    let mut sess = Session::new().map_err(|e| connect_err(format!("libssh2: {e}")))?;
    sess.set_timeout(millis(opts.timeout));
    sess.set_tcp_stream(stream);

    // known_hosts is read once up front: its key types for this host steer the host key
    // algorithm choice, and the check after the handshake uses the same text.
    let names = known_hosts::lookup_names(&opts.name, &opts.address, opts.port);
    let kh_text = known_hosts::read(&opts.known_hosts).map_err(|e| TransportError::HostKey {
        host: host.clone(),
        reason: e.to_string(),
    })?;
    let known_types = match &kh_text {
        Some(t) => known_hosts::known_key_types(t, &names).unwrap_or_default(),
        None => Vec::new(),
    };
    let mut hostkey_pref: Vec<&str> = Vec::new();
    let mut known_sorted: Vec<&String> = known_types.iter().collect();
    // ed25519 first among the known types too.
    known_sorted.sort_by_key(|t| t.as_str() != "ssh-ed25519");
    for t in known_sorted {
        hostkey_pref.extend(algs_for_key_type(t));
    }
    hostkey_pref.push("ssh-ed25519");
    for (kind, pref) in [
        (MethodType::Kex, KEX_PREF.to_vec()),
        (MethodType::CryptCs, CIPHER_PREF.to_vec()),
        (MethodType::CryptSc, CIPHER_PREF.to_vec()),
        (MethodType::HostKey, hostkey_pref),
    ] {
        if let Some(list) = preference(&sess, kind, &pref) {
            // A list libssh2 rejects leaves its defaults: still a working session.
            let _ = sess.method_pref(kind, &list);
        }
    }

    sess.handshake().map_err(|e| {
        if is_timeout(&e) {
            TransportError::Timeout {
                host: host.clone(),
                what: format!("SSH handshake with {}", opts.display_addr()),
                secs: secs(opts.timeout),
            }
        } else {
            connect_err(format!("SSH handshake failed: {}", e.message()))
        }
    })?;

    check_host_key(&sess, opts, &names, kh_text.as_deref())?;
    authenticate(&sess, opts)?;
    if let Some(every) = keepalive_after(opts) {
        // libssh2 sends one at most this often, and only when we call keepalive_send.
        sess.set_keepalive(true, every.as_secs().min(u64::from(u32::MAX)) as u32);
    }
    Ok(Login { sess, fd, via })
}

/// With `loopback_only`, drops non-loopback addresses; an error when none is left.
pub(crate) fn keep_allowed(
    addrs: Vec<SocketAddr>,
    loopback_only: bool,
) -> Result<Vec<SocketAddr>, String> {
    if !loopback_only {
        return Ok(addrs);
    }
    let (ok, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
        addrs.into_iter().partition(|a| is_loopback(a.ip()));
    if ok.is_empty() {
        let list: Vec<String> = refused.iter().map(|a| a.ip().to_string()).collect();
        return Err(format!(
            "PLAY_LOOPBACK_ONLY=1 refuses non-loopback address {}",
            list.join(", ")
        ));
    }
    Ok(ok)
}

/// Resolves the address and connects to the first that answers within the timeout.
fn tcp_connect(opts: &ConnectOptions) -> Result<TcpStream, TransportError> {
    let host = &opts.name;
    let err = |reason: String| TransportError::Connect {
        host: host.clone(),
        addr: opts.display_addr(),
        reason,
    };
    let bare = opts
        .address
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(&opts.address);
    let addrs: Vec<SocketAddr> = (bare, opts.port)
        .to_socket_addrs()
        .map_err(|e| err(format!("cannot resolve `{bare}`: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(err(format!("`{bare}` resolves to no address")));
    }
    let addrs = keep_allowed(addrs, loopback_only()).map_err(err)?;
    let mut last: Option<TransportError> = None;
    for a in &addrs {
        let r = if opts.timeout.is_zero() {
            TcpStream::connect(a)
        } else {
            TcpStream::connect_timeout(a, opts.timeout)
        };
        match r {
            Ok(tcp) => {
                // Latency matters more than packet count for small commands.
                let _ = tcp.set_nodelay(true);
                return Ok(tcp);
            }
            Err(e)
                if e.kind() == io::ErrorKind::TimedOut || e.kind() == io::ErrorKind::WouldBlock =>
            {
                last = Some(TransportError::Timeout {
                    host: host.clone(),
                    what: format!("connecting to {a}"),
                    secs: secs(opts.timeout),
                });
            }
            Err(e) if addrs.len() == 1 => last = Some(err(e.to_string())),
            Err(e) => last = Some(err(format!("{a}: {e}"))),
        }
    }
    Err(last.unwrap_or_else(|| err("no address to try".into())))
}

/// How to add the key by hand, for messages.
fn keyscan_hint(opts: &ConnectOptions, key: &HostKey) -> String {
    let t = key.key_type.strip_prefix("ssh-").unwrap_or(&key.key_type);
    let t = if t.starts_with("ecdsa") { "ecdsa" } else { t };
    format!(
        "ssh-keyscan -p {} -t {t} {} >> {}",
        opts.port,
        shell_quote(&opts.address),
        shell_quote(&opts.known_hosts.display().to_string())
    )
}

fn who(opts: &ConnectOptions) -> String {
    if opts.name == opts.address {
        opts.display_addr()
    } else {
        format!("`{}` ({})", opts.name, opts.display_addr())
    }
}

/// Checks the server's key against known_hosts (and appends it under accept-new).
fn check_host_key(
    sess: &Session,
    opts: &ConnectOptions,
    names: &[String],
    kh_text: Option<&str>,
) -> Result<(), TransportError> {
    let fail = |reason: String| TransportError::HostKey {
        host: opts.name.clone(),
        reason,
    };
    let (blob, _) = sess
        .host_key()
        .ok_or_else(|| fail("the server sent no host key".into()))?;
    let key = HostKey::from_blob(blob)
        .ok_or_else(|| fail("the server's host key is not a readable SSH key".into()))?;
    let kh_path = opts.known_hosts.display();
    let verdict = match kh_text {
        Some(text) => known_hosts::check(text, names, &key).map_err(|e| fail(e.to_string()))?,
        None => Verdict::Unknown,
    };
    let changed = |line: usize, name: &str, known_fp: &str| {
        fail(format!(
            "REMOTE HOST KEY CHANGED for {who}: the server offers {kt} key {fp}, but {kh_path} line \
             {line} has {known_fp} for it. Someone may be intercepting the connection, or the host \
             was reinstalled. If the change is expected, remove the old entry \
             (`ssh-keygen -R {n} -f {khq}`) and connect again; accept-new never replaces a key.",
            who = who(opts),
            kt = key.key_type,
            fp = key.fingerprint(),
            n = shell_quote(name),
            khq = shell_quote(&kh_path.to_string()),
        ))
    };
    let revoked = |line: usize| {
        fail(format!(
            "the server's {} key {} is marked @revoked in {kh_path} line {line}",
            key.key_type,
            key.fingerprint()
        ))
    };
    match verdict {
        Verdict::Known => return Ok(()),
        Verdict::Changed {
            line,
            name,
            known_fingerprint,
        } => return Err(changed(line, &name, &known_fingerprint)),
        Verdict::Revoked { line } => return Err(revoked(line)),
        Verdict::Unknown => {}
    }
    match opts.host_key_policy {
        HostKeyPolicy::Strict => {
            let why = if kh_text.is_none() {
                format!("{kh_path} does not exist, so no host key is known")
            } else {
                format!("{kh_path} has no {} key for {}", key.key_type, who(opts))
            };
            Err(fail(format!(
                "{why}; the server offers {} key {}. If that is the host's real key, connect once \
                 with `--host-key-policy accept-new`, or add it with `{}`.",
                key.key_type,
                key.fingerprint(),
                keyscan_hint(opts, &key)
            )))
        }
        HostKeyPolicy::AcceptNew => {
            match known_hosts::append_if_absent(&opts.known_hosts, names, &key)
                .map_err(|e| fail(format!("cannot record the new host key: {e}")))?
            {
                Appended::Added | Appended::AlreadyKnown => Ok(()),
                Appended::Refused(Verdict::Changed {
                    line,
                    name,
                    known_fingerprint,
                }) => Err(changed(line, &name, &known_fingerprint)),
                Appended::Refused(Verdict::Revoked { line }) => Err(revoked(line)),
                Appended::Refused(v) => Err(fail(format!("cannot record the new host key: {v:?}"))),
            }
        }
    }
}

/// The key files to try: the configured ones, or the default ones that exist.
fn key_files(opts: &ConnectOptions) -> Vec<PathBuf> {
    if !opts.private_keys.is_empty() {
        return opts.private_keys.clone();
    }
    let Some(home) = home() else {
        return Vec::new();
    };
    ["id_ed25519", "id_rsa"]
        .iter()
        .map(|k| home.join(".ssh").join(k))
        .filter(|p| p.is_file())
        .collect()
}

/// One `string` of the SSH wire format (a big-endian u32 length, then the bytes) from `r`.
fn take_string<'a>(r: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (len, rest) = r.split_first_chunk::<4>()?;
    let n = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    if rest.len() < n {
        return None;
    }
    let (s, rest) = rest.split_at(n);
    *r = rest;
    Some(s)
}

/// The public key of an OpenSSH-format private key file (`-----BEGIN OPENSSH PRIVATE KEY-----`,
/// what `ssh-keygen` writes), as a `.pub` line `TYPE BASE64`: the format keeps it in clear
/// before the private part (encrypted or not). `None` for another format, a file holding
/// more than one key, a key type other than ed25519, RSA or ECDSA, or anything malformed
/// (then libssh2 reads the file as before).
fn openssh_public_line(text: &str) -> Option<String> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let body = text
        .trim()
        .strip_prefix("-----BEGIN OPENSSH PRIVATE KEY-----")?
        .strip_suffix("-----END OPENSSH PRIVATE KEY-----")?;
    let raw = b64
        .decode(body.split_ascii_whitespace().collect::<String>())
        .ok()?;
    let mut r = raw.strip_prefix(b"openssh-key-v1\0")?;
    for _ in 0..3 {
        take_string(&mut r)?; // cipher, KDF, KDF options
    }
    let (count, rest) = r.split_first_chunk::<4>()?;
    if u32::from_be_bytes(*count) != 1 {
        return None;
    }
    r = rest;
    let blob = take_string(&mut r)?;
    let mut b = blob;
    let kind = std::str::from_utf8(take_string(&mut b)?).ok()?;
    let known = matches!(
        kind,
        "ssh-ed25519"
            | "ssh-rsa"
            | "ecdsa-sha2-nistp256"
            | "ecdsa-sha2-nistp384"
            | "ecdsa-sha2-nistp521"
    );
    known.then(|| format!("{kind} {}", b64.encode(blob)))
}

/// Agent identities first, then key files; the error lists what was tried.
fn authenticate(sess: &Session, opts: &ConnectOptions) -> Result<(), TransportError> {
    let user = &opts.user;
    let mut tried: Vec<String> = Vec::new();
    let agent_sock = std::env::var_os("SSH_AUTH_SOCK").filter(|s| !s.is_empty());
    if opts.use_agent && agent_sock.is_some() {
        match try_agent(sess, user, &mut tried) {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(reason) => tried.push(format!("ssh-agent ({reason})")),
        }
    }
    for path in key_files(opts) {
        if sess.authenticated() {
            break;
        }
        if !path.is_file() {
            tried.push(format!("{} (no such file)", path.display()));
            continue;
        }
        // An OpenSSH-format key's public half is read from the file's clear header: libssh2
        // then parses the private key once (to sign), not twice (its OpenSSL decoder setup is
        // the largest part of the controller's CPU per host in a no-op run).
        let text = std::fs::read_to_string(&path).ok();
        let public = text.as_deref().and_then(openssh_public_line);
        let res = match (&text, &public) {
            (Some(text), Some(public)) => {
                sess.userauth_pubkey_memory(user, Some(public), text, None)
            }
            _ => sess.userauth_pubkey_file(user, None, &path, None),
        };
        match res {
            Ok(()) if sess.authenticated() => return Ok(()),
            Ok(()) => tried.push(format!("{} (not accepted)", path.display())),
            // The host did not answer in time: a slow host, not a refused key.
            Err(e) if is_timeout(&e) => {
                return Err(TransportError::Timeout {
                    host: opts.name.clone(),
                    what: format!("key authentication as `{user}`"),
                    secs: secs(opts.timeout),
                })
            }
            Err(e) => tried.push(format!("{} ({})", path.display(), describe_key_error(&e))),
        }
    }
    if sess.authenticated() {
        return Ok(());
    }
    let reason = if tried.is_empty() {
        let defaults = home()
            .map(|h| format!("{0}/.ssh/id_ed25519, {0}/.ssh/id_rsa", h.display()))
            .unwrap_or_else(|| "~/.ssh/id_ed25519, ~/.ssh/id_rsa ($HOME unset)".into());
        format!(
            "no key to try: no ssh-agent{} and none of {defaults} exists; give one with \
             --private-key or `ssh_private_key`",
            if opts.use_agent {
                " (SSH_AUTH_SOCK unset)"
            } else {
                " (disabled)"
            }
        )
    } else {
        format!("tried {}", tried.join(", "))
    };
    Err(TransportError::Auth {
        host: opts.name.clone(),
        user: user.clone(),
        reason,
    })
}

fn describe_key_error(e: &ssh2::Error) -> String {
    let m = e.message();
    if m.contains("Username/PublicKey combination invalid") || m.contains("authentication failed") {
        "not accepted".into()
    } else {
        m.to_string()
    }
}

/// Tries each agent identity; `Ok(true)` when one was accepted.
fn try_agent(sess: &Session, user: &str, tried: &mut Vec<String>) -> Result<bool, String> {
    let mut agent = sess.agent().map_err(|e| e.message().to_string())?;
    agent
        .connect()
        .map_err(|e| format!("cannot connect: {}", e.message()))?;
    let result = (|| {
        agent
            .list_identities()
            .map_err(|e| format!("cannot list keys: {}", e.message()))?;
        let ids = agent
            .identities()
            .map_err(|e| format!("cannot list keys: {}", e.message()))?;
        if ids.is_empty() {
            tried.push("ssh-agent (no keys)".into());
        }
        for id in ids {
            if agent.userauth(user, &id).is_ok() && sess.authenticated() {
                return Ok(true);
            }
            let c = id.comment();
            tried.push(format!(
                "agent key {} (not accepted)",
                if c.is_empty() {
                    known_hosts::fingerprint_sha256(id.blob())
                } else {
                    c.to_string()
                }
            ));
        }
        Ok(false)
    })();
    let _ = agent.disconnect();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>() {}

    #[test]
    fn transport_is_send() {
        assert_send::<SshTransport>();
    }

    #[test]
    fn loopback_addresses() {
        assert!(is_loopback("127.0.0.1".parse().expect("ip")));
        assert!(is_loopback("127.200.3.4".parse().expect("ip")));
        assert!(is_loopback("::1".parse().expect("ip")));
        assert!(is_loopback("::ffff:127.0.0.2".parse().expect("ip")));
        assert!(!is_loopback("10.0.0.1".parse().expect("ip")));
        assert!(!is_loopback("::2".parse().expect("ip")));
    }

    /// Keys written by the real `ssh-keygen`: the public line read from an OpenSSH-format
    /// private key is its `.pub` file's (type and key, comment aside), also when the private
    /// part is encrypted; a PEM key and garbage give none (libssh2 reads those files itself).
    #[test]
    fn the_public_key_is_read_from_an_openssh_private_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let keygen = |name: &str, args: &[&str]| {
            let path = dir.path().join(name);
            let ok = std::process::Command::new("ssh-keygen")
                .args(["-q", "-C", "a comment", "-f"])
                .arg(&path)
                .args(args)
                .status()
                .expect("ssh-keygen runs")
                .success();
            assert!(ok, "ssh-keygen {args:?}");
            let private = std::fs::read_to_string(&path).expect("key");
            let public = std::fs::read_to_string(path.with_extension("pub")).expect("pub");
            let public: Vec<&str> = public.split_whitespace().take(2).collect();
            (private, public.join(" "))
        };
        for (name, args) in [
            ("ed", &["-t", "ed25519", "-N", ""][..]),
            ("rsa", &["-t", "rsa", "-b", "2048", "-N", ""]),
            ("ec", &["-t", "ecdsa", "-b", "384", "-N", ""]),
            ("locked", &["-t", "ed25519", "-N", "a passphrase"]),
        ] {
            let (private, public) = keygen(name, args);
            assert_eq!(openssh_public_line(&private), Some(public), "{name}");
        }
        let (pem, _) = keygen("pem", &["-t", "rsa", "-b", "2048", "-N", "", "-m", "PEM"]);
        assert_eq!(openssh_public_line(&pem), None);
        let (ed, _) = keygen("ed2", &["-t", "ed25519", "-N", ""]);
        let cut = &ed[..ed.len() / 2];
        assert_eq!(openssh_public_line(cut), None);
        // Only the first line of base64 (the header, the public key cut short).
        let lines: Vec<&str> = ed.lines().collect();
        let short = [lines[0], lines[1], lines[lines.len() - 1]].join("\n");
        assert_eq!(openssh_public_line(&short), None);
        assert_eq!(openssh_public_line("not a key"), None);
    }

    #[test]
    fn rsa_key_type_maps_to_sha2_algorithms() {
        assert_eq!(algs_for_key_type("ssh-rsa")[0], "rsa-sha2-512");
        assert_eq!(algs_for_key_type("ssh-ed25519"), vec!["ssh-ed25519"]);
    }

    #[test]
    fn preferences_put_curve25519_first_and_keep_the_rest() {
        let sess = Session::new().expect("session");
        let kex = preference(&sess, MethodType::Kex, KEX_PREF).expect("kex list");
        assert!(kex.starts_with("curve25519-sha256"), "{kex}");
        assert!(kex.contains("diffie-hellman"), "{kex}");
        let crypt = preference(&sess, MethodType::CryptCs, CIPHER_PREF).expect("cipher list");
        assert!(
            crypt.starts_with("chacha20-poly1305@openssh.com") || crypt.starts_with("aes128-gcm"),
            "{crypt}"
        );
    }

    #[test]
    fn refuses_non_loopback_when_asked() {
        let far: SocketAddr = "192.0.2.1:22".parse().expect("addr");
        let near: SocketAddr = "127.0.0.2:22".parse().expect("addr");
        assert_eq!(keep_allowed(vec![far], false), Ok(vec![far]));
        let e = keep_allowed(vec![far], true).expect_err("must refuse");
        assert!(
            e.contains("PLAY_LOOPBACK_ONLY=1") && e.contains("192.0.2.1"),
            "{e}"
        );
        assert_eq!(keep_allowed(vec![far, near], true), Ok(vec![near]));
    }
}
