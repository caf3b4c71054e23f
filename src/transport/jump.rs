//! Jump hosts (`ProxyJump`), in process: no OpenSSH subprocess.
//!
//! A jump host is an ordinary logged-in ssh2 session (host key checked against known_hosts,
//! key authentication; itself possibly reached through another jump host) owned by one pump
//! thread. To reach a target, the target's connect asks the pump for a `direct-tcpip` channel
//! to `address:port`; the pump bridges that channel to one end of a `UnixStream` pair, and the
//! target's own ssh2 session runs over the other end (so the target's host key is checked end
//! to end, like every hop's). The pump moves bytes for every bridge of its session in one
//! non-blocking loop (poll(2) on the session socket, the bridges and a wake-up socket).
//!
//! Targets behind the same jump host share its session, up to [`CHANNELS_PER_JUMP`] at once
//! (then a second session is opened). A jump host that cannot be reached or logged into fails
//! every target behind it with the same message, without trying again in this run. The session
//! closes when the last target using it is gone.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use ssh2::{Channel, ErrorCode, Session};

use super::{ConnectOptions, TransportError};

/// Most targets using one jump host session at once.
pub const CHANNELS_PER_JUMP: usize = 64;
/// Bytes buffered per direction of a bridge.
const BRIDGE_BUF: usize = 256 * 1024;
const LIBSSH2_ERROR_EAGAIN: i32 = -37;

/// A request to open a channel to `host:port`, bridged to `sock`.
struct Open {
    host: String,
    port: u16,
    sock: UnixStream,
    reply: mpsc::SyncSender<Result<(), String>>,
}

/// A jump host session and its pump thread.
pub struct Jump {
    name: String,
    tx: Mutex<mpsc::Sender<Open>>,
    wake: UnixStream,
    users: AtomicUsize,
}

/// A target's share of a jump host session (counted against [`CHANNELS_PER_JUMP`]).
pub struct Lease {
    jump: Arc<Jump>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.jump.users.fetch_sub(1, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("jump", &self.jump.name)
            .finish()
    }
}

#[derive(Default)]
struct Slot {
    sessions: Vec<Weak<Jump>>,
    /// Set once connecting failed (the jump host that failed, why): every later target gets
    /// the same message.
    failed: Option<(String, String)>,
}

type Pool = Mutex<HashMap<String, Arc<Mutex<Slot>>>>;

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(Default::default)
}

/// The identity of a jump host session: user, address, port, and the same for its own jumps.
fn key(o: &ConnectOptions) -> String {
    let mut k = format!(
        "{}@{}:{} kh={} keys={:?}",
        o.user,
        o.address,
        o.port,
        o.known_hosts.display(),
        o.private_keys
    );
    if let Some(j) = &o.jump {
        k.push_str(" via ");
        k.push_str(&key(j));
    }
    k
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A share of a session to the jump host `hop` for the target `target` (connecting one when
/// none has room).
pub fn lease(hop: &ConnectOptions, target: &str) -> Result<Lease, TransportError> {
    let failed = |(jump, reason): (String, String)| TransportError::Jump {
        host: target.to_string(),
        jump,
        reason,
    };
    let slot = lock(pool()).entry(key(hop)).or_default().clone();
    // Held while connecting: targets arriving meanwhile wait for this session, not open theirs.
    let mut s = lock(&slot);
    if let Some(why) = &s.failed {
        return Err(failed(why.clone()));
    }
    s.sessions.retain(|w| w.strong_count() > 0);
    for w in &s.sessions {
        if let Some(jump) = w.upgrade() {
            let n = jump.users.fetch_add(1, Ordering::SeqCst);
            if n < CHANNELS_PER_JUMP {
                return Ok(Lease { jump });
            }
            jump.users.fetch_sub(1, Ordering::SeqCst);
        }
    }
    match Jump::connect(hop) {
        Ok(jump) => {
            jump.users.fetch_add(1, Ordering::SeqCst);
            s.sessions.push(Arc::downgrade(&jump));
            Ok(Lease { jump })
        }
        Err(e) => {
            // A chain names the hop that failed first (its own jump host's failure included).
            let why = match e {
                TransportError::Jump { jump, reason, .. } => (jump, reason),
                e => (hop.name.clone(), e.to_string()),
            };
            s.failed = Some(why.clone());
            Err(failed(why))
        }
    }
}

impl Lease {
    /// The jump host's inventory/config name.
    pub fn name(&self) -> &str {
        &self.jump.name
    }

    /// A stream to `host:port` opened from the jump host (`direct-tcpip`), within `timeout`.
    pub fn open(&self, host: &str, port: u16, timeout: Duration) -> Result<UnixStream, String> {
        let (mine, theirs) = UnixStream::pair().map_err(|e| format!("socket pair: {e}"))?;
        let (reply, answer) = mpsc::sync_channel(1);
        lock(&self.jump.tx)
            .send(Open {
                host: host.to_string(),
                port,
                sock: theirs,
                reply,
            })
            .map_err(|_| "the jump host session is gone".to_string())?;
        let _ = (&self.jump.wake).write(&[1]);
        let res = if timeout.is_zero() {
            answer
                .recv()
                .map_err(|_| "the jump host session is gone".to_string())
        } else {
            answer.recv_timeout(timeout).map_err(|e| match e {
                mpsc::RecvTimeoutError::Timeout => {
                    format!("no answer within {}s", timeout.as_secs())
                }
                mpsc::RecvTimeoutError::Disconnected => "the jump host session is gone".to_string(),
            })
        };
        res??;
        Ok(mine)
    }
}

impl Jump {
    fn connect(hop: &ConnectOptions) -> Result<Arc<Jump>, TransportError> {
        let login = super::ssh::login(hop)?;
        let (wake_tx, wake_rx) = UnixStream::pair().map_err(|e| TransportError::Io {
            host: hop.name.clone(),
            reason: format!("socket pair: {e}"),
        })?;
        let _ = wake_rx.set_nonblocking(true);
        let _ = wake_tx.set_nonblocking(true);
        let (tx, rx) = mpsc::channel();
        let keepalive = hop.keepalive.unwrap_or(hop.timeout);
        let name = hop.name.clone();
        std::thread::Builder::new()
            .name(format!("jump {name}"))
            .spawn(move || pump(login, rx, wake_rx, keepalive))
            .map_err(|e| TransportError::Io {
                host: hop.name.clone(),
                reason: format!("cannot start the jump host thread: {e}"),
            })?;
        Ok(Arc::new(Jump {
            name,
            tx: Mutex::new(tx),
            wake: wake_tx,
            users: AtomicUsize::new(0),
        }))
    }
}

fn would_block(e: &ssh2::Error) -> bool {
    e.code() == ErrorCode::Session(LIBSSH2_ERROR_EAGAIN)
}

/// One channel bridged to one socket.
struct Bridge {
    ch: Channel,
    sock: UnixStream,
    /// socket → channel
    up: Vec<u8>,
    /// channel → socket
    down: Vec<u8>,
    sock_eof: bool,
    eof_sent: bool,
    ch_eof: bool,
    shut: bool,
}

enum Step {
    Busy(bool),
    Done,
}

impl Bridge {
    fn step(&mut self, buf: &mut [u8]) -> Step {
        let mut progress = false;
        if !self.sock_eof && self.up.len() < BRIDGE_BUF {
            match self.sock.read(buf) {
                Ok(0) => {
                    self.sock_eof = true;
                    progress = true;
                }
                Ok(n) => {
                    self.up.extend_from_slice(&buf[..n]);
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Step::Done,
            }
        }
        if !self.up.is_empty() {
            match self.ch.write(&self.up) {
                Ok(n) => {
                    self.up.drain(..n);
                    progress |= n > 0;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return Step::Done,
            }
        }
        if self.sock_eof && self.up.is_empty() && !self.eof_sent {
            match self.ch.send_eof() {
                Ok(()) => {
                    self.eof_sent = true;
                    progress = true;
                }
                Err(e) if would_block(&e) => {}
                Err(_) => return Step::Done,
            }
        }
        if !self.ch_eof && self.down.len() < BRIDGE_BUF {
            match self.ch.read(buf) {
                Ok(0) => {
                    if self.ch.eof() {
                        self.ch_eof = true;
                        progress = true;
                    }
                }
                Ok(n) => {
                    self.down.extend_from_slice(&buf[..n]);
                    progress = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.ch.eof() {
                        self.ch_eof = true;
                        progress = true;
                    }
                }
                Err(_) => return Step::Done,
            }
        }
        if !self.down.is_empty() {
            match self.sock.write(&self.down) {
                Ok(n) => {
                    self.down.drain(..n);
                    progress |= n > 0;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Step::Done,
            }
        }
        if self.ch_eof && self.down.is_empty() && !self.shut {
            let _ = self.sock.shutdown(std::net::Shutdown::Write);
            self.shut = true;
            progress = true;
        }
        if self.shut && self.eof_sent {
            return Step::Done;
        }
        Step::Busy(progress)
    }

    fn events(&self) -> libc::c_short {
        let mut ev = 0;
        if !self.sock_eof && self.up.len() < BRIDGE_BUF {
            ev |= libc::POLLIN;
        }
        if !self.down.is_empty() {
            ev |= libc::POLLOUT;
        }
        ev
    }
}

/// Why a channel could not be opened, in words.
fn open_error(e: &ssh2::Error) -> String {
    let m = e.message();
    let m = m
        .trim_start_matches("Channel open failure")
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim();
    if m.is_empty() {
        "the jump host could not open a connection".into()
    } else {
        m.to_string()
    }
}

/// The jump host's session loop: opens channels on request, moves bytes, sends keepalives;
/// ends (disconnecting) once every lease is gone and every bridge closed, or the session broke.
fn pump(login: super::ssh::Login, rx: mpsc::Receiver<Open>, wake: UnixStream, keepalive: Duration) {
    let sess = login.sess;
    let fd = login.fd;
    // Keeps the jump host's own jump host (if any) alive as long as this one.
    let _via = login.via;
    sess.set_blocking(false);
    let every = keepalive.as_secs().clamp(2, u64::from(u32::MAX)) as u32;
    sess.set_keepalive(true, every);
    let mut bridges: Vec<Bridge> = Vec::new();
    let mut closing: Vec<Channel> = Vec::new();
    let mut pending: VecDeque<Open> = VecDeque::new();
    let mut opening: Option<Open> = None;
    let mut gone = false;
    let mut broken: Option<String> = None;
    let mut buf = vec![0u8; 64 * 1024];
    let mut last_keepalive = Instant::now();
    loop {
        let mut wbuf = [0u8; 64];
        while matches!((&wake).read(&mut wbuf), Ok(n) if n > 0) {}
        loop {
            match rx.try_recv() {
                Ok(o) => pending.push_back(o),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    gone = true;
                    break;
                }
            }
        }
        if let Some(why) = &broken {
            for o in opening.take().into_iter().chain(pending.drain(..)) {
                let _ = o.reply.send(Err(why.clone()));
            }
            // Dropping the bridges closes their sockets: the targets see their session end.
            bridges.clear();
            if gone {
                break;
            }
        }
        let mut progress = false;
        if opening.is_none() {
            opening = pending.pop_front();
        }
        if let Some(o) = &opening {
            match sess.channel_direct_tcpip(&o.host, o.port, None) {
                Ok(ch) => {
                    progress = true;
                    if let Some(o) = opening.take() {
                        let _ = o.sock.set_nonblocking(true);
                        if o.reply.send(Ok(())).is_ok() {
                            bridges.push(Bridge {
                                ch,
                                sock: o.sock,
                                up: Vec::new(),
                                down: Vec::new(),
                                sock_eof: false,
                                eof_sent: false,
                                ch_eof: false,
                                shut: false,
                            });
                        } else {
                            closing.push(ch);
                        }
                    }
                }
                Err(e) if would_block(&e) => {}
                Err(e) => {
                    progress = true;
                    if let Some(o) = opening.take() {
                        let _ = o.reply.send(Err(open_error(&e)));
                    }
                }
            }
        }
        let mut i = 0;
        while i < bridges.len() {
            match bridges[i].step(&mut buf) {
                Step::Busy(p) => {
                    progress |= p;
                    i += 1;
                }
                Step::Done => {
                    closing.push(bridges.swap_remove(i).ch);
                    progress = true;
                }
            }
        }
        closing.retain_mut(|ch| matches!(ch.close(), Err(ref e) if would_block(e)));
        if gone && bridges.is_empty() && opening.is_none() && pending.is_empty() {
            break;
        }
        if last_keepalive.elapsed() >= Duration::from_secs(1) {
            last_keepalive = Instant::now();
            match sess.keepalive_send() {
                Ok(_) => {}
                Err(e) if would_block(&e) => {}
                Err(e) => {
                    if broken.is_none() {
                        broken = Some(format!("the jump host session broke: {}", e.message()));
                    }
                }
            }
        }
        if !progress {
            // The session socket is watched only when something would read it (else its
            // pending bytes would wake the loop forever).
            let watch = broken.is_none()
                && (opening.is_some()
                    || !closing.is_empty()
                    || bridges
                        .iter()
                        .any(|b| !b.ch_eof && b.down.len() < BRIDGE_BUF || !b.up.is_empty()));
            wait(&sess, watch.then_some(fd), &wake, &bridges);
        }
    }
    sess.set_blocking(true);
    sess.set_timeout(2000);
    let _ = sess.disconnect(None, "play: done", None);
}

/// poll(2) on the session socket, the wake-up socket and the bridges, at most 50 ms.
fn wait(sess: &Session, fd: Option<RawFd>, wake: &UnixStream, bridges: &[Bridge]) {
    let mut ev: libc::c_short = libc::POLLIN;
    if matches!(
        sess.block_directions(),
        ssh2::BlockDirections::Outbound | ssh2::BlockDirections::Both
    ) {
        ev |= libc::POLLOUT;
    }
    let mut fds = vec![
        libc::pollfd {
            // A negative fd is ignored by poll(2).
            fd: fd.unwrap_or(-1),
            events: ev,
            revents: 0,
        },
        libc::pollfd {
            fd: wake.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    for b in bridges {
        fds.push(libc::pollfd {
            fd: b.sock.as_raw_fd(),
            events: b.events(),
            revents: 0,
        });
    }
    // SAFETY: `fds` is a valid array of pollfd for its whole length; every fd is owned by a
    // value borrowed for the duration of the call.
    unsafe {
        libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 50);
    }
}
