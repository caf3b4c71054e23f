//! The health gate of a play (`wait_for:`): in apply mode, once a host's pipeline ended well,
//! its check is tried on the same session until it passes or its timeout has passed. A host
//! whose gate never passes fails, so it counts in its batch's failed share and
//! `max_fail_percentage` stops a rolling deploy before the next batch.
//!
//! - `http: URL`: `GET` over a TCP connection made from the host ([`Transport::tcp_http`]: an
//!   SSH direct-tcpip channel, no process runs on the host), HTTP/1.0; a 2xx status passes.
//! - `command: CMD`: run on the host by `sh` from a here-document (and `timeout`, where the host has it, so
//!   that one try cannot outlive the gate); exit 0 passes.
//!
//! The pure parts (URL, status line, retry decision, messages) are apart from the loop
//! ([`wait`]) for tests.

use std::time::{Duration, Instant};

use super::{interrupted, transport_status, HostReport, HostStatus, Mode, RunOptions};
use crate::inventory::Host;
use crate::playbook::{check_http_scheme, WaitCheck};
use crate::resolve::{stub_facts, ResolveError, Resolver};
use crate::resources::Facts;
use crate::transport::{heredoc, ExecOutput, Transport, TransportError};

/// Where an `http:` check connects, and the path it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTarget {
    /// A name or an address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl HttpTarget {
    /// The HTTP/1.0 request of a try.
    pub fn request(&self) -> Vec<u8> {
        let mut host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port != 80 {
            host = format!("{host}:{}", self.port);
        }
        format!(
            "GET {} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: play\r\nAccept: */*\r\n\r\n",
            self.path
        )
        .into_bytes()
    }
}

/// Parses `http://HOST[:PORT][/PATH][?QUERY][#FRAGMENT]` (HOST a name, an IPv4 address or
/// `[IPv6]`; PORT default 80; the fragment is dropped).
pub fn parse_url(url: &str) -> Result<HttpTarget, String> {
    let url = url.trim();
    check_http_scheme(url)?;
    if let Some(c) = url.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{url}`: a URL may not contain {c:?}"));
    }
    let bad = |why: &str| format!("`{url}`: {why}");
    // check_http_scheme made sure of the 7 ASCII bytes of `http://`.
    let rest = url.get("http://".len()..).unwrap_or_default();
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') {
        return Err(bad("user names in URLs are not supported"));
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("`[` without `]`"))?;
            match after {
                "" => (h, None),
                p => (
                    h,
                    Some(
                        p.strip_prefix(':')
                            .ok_or_else(|| bad("unexpected text after `]`"))?,
                    ),
                ),
            }
        }
        None => match authority.split_once(':') {
            Some((_, p)) if p.contains(':') => {
                return Err(bad("an IPv6 address goes in brackets: http://[::1]:8000/"))
            }
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = match port {
        None => 80,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| bad(&format!("bad port `{p}`")))?,
    };
    let tail = tail.split('#').next().unwrap_or_default();
    let path = match tail {
        "" => "/".to_string(),
        t if t.starts_with('?') => format!("/{t}"),
        t => t.to_string(),
    };
    Ok(HttpTarget {
        host: host.to_string(),
        port,
        path,
    })
}

/// The status code of an HTTP answer (`HTTP/1.x NNN ...` on its first line).
pub fn status_code(answer: &[u8]) -> Result<u16, String> {
    if answer.is_empty() {
        return Err("empty answer (the server closed the connection)".into());
    }
    let end = answer
        .iter()
        .position(|b| *b == b'\n')
        .unwrap_or(answer.len());
    let line = String::from_utf8_lossy(&answer[..end]);
    let line = line.trim_end_matches('\r');
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    if version.starts_with("HTTP/") && code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(c) = code.parse() {
            return Ok(c);
        }
    }
    let shown: String = line.chars().take(60).collect();
    Err(format!("not an HTTP answer: `{shown}`"))
}

/// What to do after a failed try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Pause this long, then try again.
    Retry(Duration),
    /// The timeout has passed: the gate failed.
    GiveUp,
}

/// After a failed try, `elapsed` after the gate began: try again after `interval` (less when
/// the deadline is nearer, so that the last try is made at the deadline), until `timeout`.
pub fn next(elapsed: Duration, timeout: Duration, interval: Duration) -> Next {
    if elapsed >= timeout {
        Next::GiveUp
    } else {
        Next::Retry(interval.min(timeout - elapsed))
    }
}

/// How long one try may wait for its answer: what is left before the deadline, at least 1 s.
pub fn try_budget(elapsed: Duration, timeout: Duration) -> Duration {
    timeout.saturating_sub(elapsed).max(Duration::from_secs(1))
}

/// `30s`, `2.5s`.
fn seconds_text(d: Duration) -> String {
    format!("{}s", (d.as_secs_f64() * 1000.0).round() / 1000.0)
}

/// What a gate checks, rendered for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    Http { url: String, target: HttpTarget },
    Command(String),
}

/// One play's gate for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate {
    pub check: Check,
    pub timeout: Duration,
    pub interval: Duration,
}

impl Gate {
    /// `health check http://…` / ``health check `CMD` ``.
    pub fn what(&self) -> String {
        match &self.check {
            Check::Http { url, .. } => format!("health check {url}"),
            Check::Command(c) => format!("health check `{c}`"),
        }
    }

    /// The message of a gate that never passed; `last`: why the last try failed.
    pub fn failure(&self, last: &str) -> String {
        let passing = match self.check {
            Check::Http { .. } => "no 2xx answer",
            Check::Command(_) => "no success (exit 0)",
        };
        format!(
            "{}: {passing} within {} (last: {last})",
            self.what(),
            seconds_text(self.timeout)
        )
    }
}

/// The script of one `command:` try: stdin from /dev/null, and stopped by `timeout` after
/// `budget` where the host has it. The command reaches its shell in a here-document, in no
/// process's argv.
pub fn command_script(cmd: &str, budget: Duration) -> String {
    let secs = budget.as_secs_f64().ceil().max(1.0) as u64;
    format!(
        "if command -v timeout >/dev/null 2>&1; then\nexec {}fi\nexec {}",
        heredoc(&format!("timeout -k 2 {secs} sh"), cmd),
        heredoc("sh", cmd)
    )
}

/// Why a `command:` try failed: its exit status and its last stderr line (else stdout's).
pub fn command_failure(out: &ExecOutput, budget: Duration) -> String {
    let status = match out.status {
        124 => format!(
            "exit 124, stopped after {}?",
            seconds_text(Duration::from_secs(budget.as_secs_f64().ceil() as u64))
        ),
        -1 => "killed by a signal".to_string(),
        s => format!("exit {s}"),
    };
    let last_line = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(str::to_string)
    };
    match last_line(&out.stderr).or_else(|| last_line(&out.stdout)) {
        Some(l) => format!("{status}: {l}"),
        None => status,
    }
}

/// Why a transport call of an `http:` try failed, in short.
fn transport_reason(e: &TransportError) -> String {
    match e {
        TransportError::Io { reason, .. } => reason.clone(),
        TransportError::Timeout { secs, .. } => format!("no answer within {secs}s"),
        other => other.to_string(),
    }
}

/// The gates of `host`'s plays, rendered with `facts`; the first problem is returned
/// ([`gates_all`] has them all).
pub fn gates(resolver: &Resolver, host: &Host, facts: &Facts) -> Result<Vec<Gate>, ResolveError> {
    let (gates, problems) = gates_all(resolver, host, facts);
    match problems.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(gates),
    }
}

/// The gates of `host`'s plays that render well, and the problems of the others (a template
/// that fails, a URL that does not parse, located at its `http:`/`command:`).
pub fn gates_all(
    resolver: &Resolver,
    host: &Host,
    facts: &Facts,
) -> (Vec<Gate>, Vec<ResolveError>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for rendered in resolver.wait_for(host, facts) {
        let (w, text) = match rendered {
            Ok(r) => r,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        let fail = |message: String| ResolveError {
            origin: w.origin.clone(),
            message: format!("wait_for: {}: {message}", w.check.key()),
            host: host.name.clone(),
        };
        let check = match &w.check {
            WaitCheck::Http(_) => match parse_url(&text) {
                Ok(target) => Check::Http {
                    target,
                    url: text.trim().to_string(),
                },
                Err(m) => {
                    problems.push(fail(m));
                    continue;
                }
            },
            WaitCheck::Command(_) if text.trim().is_empty() => {
                problems.push(fail("renders to an empty command".into()));
                continue;
            }
            WaitCheck::Command(_) => Check::Command(text),
        };
        out.push(Gate {
            check,
            timeout: w.timeout,
            interval: w.interval,
        });
    }
    (out, problems)
}

/// One try: `Ok(None)` passed, `Ok(Some(why))` failed; `Err` when the session is lost.
fn attempt(
    t: &mut dyn Transport,
    check: &Check,
    budget: Duration,
    r: &mut HostReport,
) -> Result<Option<String>, HostStatus> {
    r.round_trips += 1;
    match check {
        Check::Http { target, .. } => Ok(
            match t.tcp_http(&target.host, target.port, &target.request(), budget) {
                Ok(answer) => match status_code(&answer) {
                    Ok(c) if (200..300).contains(&c) => None,
                    Ok(c) => Some(format!("HTTP {c}")),
                    Err(m) => Some(m),
                },
                Err(e) => Some(transport_reason(&e)),
            },
        ),
        Check::Command(cmd) => {
            let out = t
                .exec(&command_script(cmd, budget), b"")
                .map_err(transport_status)?;
            Ok((!out.success()).then(|| command_failure(&out, budget)))
        }
    }
}

/// Tries `gate` until it passes (a note for `-v`) or its timeout has passed (the host fails).
pub fn wait(t: &mut dyn Transport, gate: &Gate, r: &mut HostReport) -> Result<(), HostStatus> {
    let start = Instant::now();
    let mut tries = 0;
    loop {
        tries += 1;
        let budget = try_budget(start.elapsed(), gate.timeout);
        let Some(last) = attempt(t, &gate.check, budget, r)? else {
            r.notes.push(format!(
                "{} passed (try {tries}, after {:.1}s)",
                gate.what(),
                start.elapsed().as_secs_f64()
            ));
            return Ok(());
        };
        match next(start.elapsed(), gate.timeout, gate.interval) {
            Next::GiveUp => return Err(HostStatus::Failed(gate.failure(&last))),
            Next::Retry(_) if interrupted() => {
                return Err(HostStatus::Failed(format!(
                    "{}: interrupted (Ctrl-C) before it passed (last: {last})",
                    gate.what()
                )))
            }
            Next::Retry(pause) => std::thread::sleep(pause),
        }
    }
}

/// The hook of [`super::run`], after a host's pipeline: in apply mode, when the host ended
/// well, the gates of its plays, in play order, on the same session; the first that does not
/// pass fails the host.
pub fn after_pipeline(
    resolver: &Resolver,
    host: &Host,
    t: &mut dyn Transport,
    opts: &RunOptions,
    r: &mut HostReport,
) {
    if opts.mode != Mode::Apply || r.status != HostStatus::Ok {
        return;
    }
    let facts = r.facts.clone().unwrap_or_else(stub_facts);
    let result = gates(resolver, host, &facts)
        .map_err(|e| HostStatus::Failed(e.to_string()))
        .and_then(|gates| gates.iter().try_for_each(|g| wait(t, g, r)));
    if let Err(status) = result {
        r.status = status;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::local::LocalTransport;

    fn target(host: &str, port: u16, path: &str) -> HttpTarget {
        HttpTarget {
            host: host.into(),
            port,
            path: path.into(),
        }
    }

    #[test]
    fn urls() {
        let ok = |u: &str| parse_url(u).unwrap_or_else(|e| panic!("{u}: {e}"));
        assert_eq!(
            ok("http://127.0.0.3:8000/health"),
            target("127.0.0.3", 8000, "/health")
        );
        assert_eq!(ok("http://web1"), target("web1", 80, "/"));
        assert_eq!(ok("HTTP://web1:81?x=1#top"), target("web1", 81, "/?x=1"));
        assert_eq!(
            ok(" http://[::1]:9000/a/b?c=d#e\n"),
            target("::1", 9000, "/a/b?c=d")
        );
        assert_eq!(ok("http://[::1]/"), target("::1", 80, "/"));
        for (url, why) in [
            ("https://a/", "https is not supported"),
            ("ftp://a/", "expected an http:// URL"),
            ("http:///health", "no host"),
            ("http://a:0/", "bad port `0`"),
            ("http://a:70000/", "bad port `70000`"),
            ("http://a:x/", "bad port `x`"),
            ("http://::1/", "in brackets"),
            ("http://[::1/", "without `]`"),
            ("http://[::1]x/", "after `]`"),
            ("http://u:p@a/", "user names"),
            ("http://a/x y", "may not contain ' '"),
            ("http://a/\r\nX-Evil: 1", "may not contain"),
        ] {
            let e = parse_url(url).expect_err(url);
            assert!(e.contains(why), "{url}: {e}");
        }
    }

    #[test]
    fn requests() {
        let r = |t: HttpTarget| String::from_utf8(t.request()).expect("ascii");
        assert_eq!(
            r(target("127.0.0.3", 8000, "/health")),
            "GET /health HTTP/1.0\r\nHost: 127.0.0.3:8000\r\nUser-Agent: play\r\nAccept: */*\r\n\r\n"
        );
        assert!(r(target("web", 80, "/")).contains("\r\nHost: web\r\n"));
        assert!(r(target("::1", 81, "/")).contains("\r\nHost: [::1]:81\r\n"));
    }

    #[test]
    fn status_lines() {
        assert_eq!(status_code(b"HTTP/1.0 200 OK\r\n\r\nhi"), Ok(200));
        assert_eq!(status_code(b"HTTP/1.1 204 No Content\n\n"), Ok(204));
        assert_eq!(status_code(b"HTTP/1.0 503"), Ok(503));
        assert_eq!(
            status_code(b"HTTP/1.0 404 File not found\r\nServer: x\r\n"),
            Ok(404)
        );
        assert!(status_code(b"")
            .expect_err("empty")
            .contains("empty answer"));
        assert_eq!(
            status_code(b"SSH-2.0-OpenSSH_9.2\r\n"),
            Err("not an HTTP answer: `SSH-2.0-OpenSSH_9.2`".into())
        );
        assert!(status_code(b"HTTP/1.0 20x OK\r\n").is_err());
        assert!(status_code(b"HTTP/1.0 2000 OK\r\n").is_err());
        assert!(status_code(&[0xff, 0xfe, b'\n']).is_err());
    }

    #[test]
    fn retry_decisions() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        assert_eq!(next(ms(0), s(30), s(1)), Next::Retry(s(1)));
        assert_eq!(next(ms(29_600), s(30), s(1)), Next::Retry(ms(400)));
        assert_eq!(next(s(30), s(30), s(1)), Next::GiveUp);
        assert_eq!(next(s(31), s(30), s(1)), Next::GiveUp);
        assert_eq!(next(ms(100), s(5), s(10)), Next::Retry(ms(4_900)));
        assert_eq!(try_budget(s(0), s(30)), s(30));
        assert_eq!(try_budget(ms(29_500), s(30)), s(1), "at least 1 s");
        assert_eq!(try_budget(s(40), s(30)), s(1));
    }

    #[test]
    fn messages() {
        let http = Gate {
            check: Check::Http {
                url: "http://127.0.0.3:8000/health".into(),
                target: target("127.0.0.3", 8000, "/health"),
            },
            timeout: Duration::from_secs(30),
            interval: Duration::from_secs(1),
        };
        assert_eq!(
            http.failure("connection refused"),
            "health check http://127.0.0.3:8000/health: no 2xx answer within 30s (last: connection refused)"
        );
        let cmd = Gate {
            check: Check::Command("test -e /run/ok".into()),
            timeout: Duration::from_millis(2500),
            interval: Duration::from_secs(1),
        };
        assert_eq!(
            cmd.failure("exit 1"),
            "health check `test -e /run/ok`: no success (exit 0) within 2.5s (last: exit 1)"
        );
        let out = |status, stdout: &str, stderr: &str| ExecOutput {
            stdout: stdout.into(),
            stderr: stderr.into(),
            status,
        };
        let b = Duration::from_secs(5);
        assert_eq!(
            command_failure(&out(7, "", "a\ncurl: (7) refused\n\n"), b),
            "exit 7: curl: (7) refused"
        );
        assert_eq!(
            command_failure(&out(1, "not ready\n", ""), b),
            "exit 1: not ready"
        );
        assert_eq!(command_failure(&out(1, "", ""), b), "exit 1");
        assert_eq!(command_failure(&out(-1, "", ""), b), "killed by a signal");
        assert_eq!(
            command_failure(&out(124, "", ""), Duration::from_millis(4200)),
            "exit 124, stopped after 5s?"
        );
        let script = command_script("test -e '/run/ok'", Duration::from_millis(1500));
        assert!(
            script.contains(
                "exec timeout -k 2 2 sh <<'PLAY_EOF'\neval 'test -e '\\''/run/ok'\\''' </dev/null\nPLAY_EOF\n"
            ),
            "{script}"
        );
        // Run for real: the exit status is the command's.
        for (cmd, want) in [("exit 3", 3), ("true", 0)] {
            let st = std::process::Command::new("sh")
                .args(["-c", &command_script(cmd, Duration::from_secs(5))])
                .status()
                .expect("run sh");
            assert_eq!(st.code(), Some(want), "{cmd}");
        }
    }

    #[test]
    fn rendered_per_host_and_checked_offline() {
        let dir = tempfile::tempdir().expect("tempdir");
        let w = |rel: &str, text: &str| {
            std::fs::write(dir.path().join(rel), text).expect("write");
        };
        w(
            "hosts.yml",
            "all:\n  hosts:\n    h1: {ssh_host: 127.0.0.11}\n    h2: {ssh_host: 127.0.0.12}\n",
        );
        w(
            "site.yml",
            "- hosts: all\n  vars: {app_port: 8000}\n  wait_for:\n    http: \"http://{{ ssh_host }}:{{ app_port }}/health\"\n    timeout: 5\n- hosts: h2\n  wait_for: {command: \"test -e /run/{{ inventory_hostname }}\"}\n",
        );
        let inv = crate::inventory::load(&dir.path().join("hosts.yml"), &Default::default())
            .expect("inventory");
        let pb = crate::playbook::load(&dir.path().join("site.yml")).expect("playbook");
        let extra = Default::default();
        let resolver = Resolver::new(&pb, &inv, &extra);
        let host = |n: &str| inv.host(n).expect("host");
        let g1 = gates(&resolver, host("h1"), &stub_facts()).expect("h1");
        assert_eq!(
            g1,
            [Gate {
                check: Check::Http {
                    url: "http://127.0.0.11:8000/health".into(),
                    target: target("127.0.0.11", 8000, "/health"),
                },
                timeout: Duration::from_secs(5),
                interval: Duration::from_secs(1),
            }]
        );
        let g2 = gates(&resolver, host("h2"), &stub_facts()).expect("h2");
        assert_eq!(g2.len(), 2, "one gate per play, in play order");
        assert_eq!(g2[1].check, Check::Command("test -e /run/h2".into()));

        // A typo in the template, and a URL that renders wrong: found offline, located.
        w(
            "site.yml",
            "- hosts: all\n  wait_for:\n    http: \"http://{{ ssh_hst }}/health\"\n- hosts: h2\n  vars: {scheme: https}\n  wait_for: {http: \"{{ scheme }}://x/\"}\n",
        );
        let report = crate::ops::check::check(&crate::ops::check::CheckOptions {
            playbooks: vec![dir.path().join("site.yml")],
            inventory: dir.path().join("hosts.yml"),
            ..Default::default()
        })
        .expect("check ran");
        let shown: Vec<String> = report.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(shown.len(), 2, "{shown:#?}");
        assert!(
            shown[0].contains("site.yml:3:11: wait_for: http: ")
                && shown[0].contains("ssh_hst")
                && shown[0].ends_with("[2 hosts: h1, h2]"),
            "{shown:#?}"
        );
        assert!(
            shown[1]
                .contains("site.yml:6:20: wait_for: http: `https://x/`: https is not supported")
                && shown[1].ends_with("[host: h2]"),
            "{shown:#?}"
        );
    }

    fn gate(check: Check, timeout_ms: u64) -> Gate {
        Gate {
            check,
            timeout: Duration::from_millis(timeout_ms),
            interval: Duration::from_millis(100),
        }
    }

    #[test]
    fn a_command_gate_retries_until_its_timeout() {
        let mut t = LocalTransport::named("here", false);
        let mut r = HostReport::new("here");
        let dir = tempfile::tempdir().expect("tempdir");
        let flag = dir.path().join("ready");
        // Passes on the third try: the command creates the flag on its second.
        let counter = dir.path().join("n");
        let cmd = format!(
            "echo x >> {c}; test $(wc -l < {c}) -ge 2 && touch {f}; test -e {f} && test $(wc -l < {c}) -ge 3",
            c = counter.display(),
            f = flag.display()
        );
        wait(&mut t, &gate(Check::Command(cmd), 5_000), &mut r).expect("passes");
        assert_eq!(r.round_trips, 3);
        assert!(r.notes[0].contains("passed (try 3"), "{:?}", r.notes);

        let mut r = HostReport::new("here");
        let failing = gate(Check::Command("echo not yet >&2; exit 3".into()), 300);
        let e = wait(&mut t, &failing, &mut r).expect_err("fails");
        assert_eq!(
            e,
            HostStatus::Failed(
                "health check `echo not yet >&2; exit 3`: no success (exit 0) within 0.3s (last: exit 3: not yet)"
                    .into()
            )
        );
        // Tries every 100ms for 0.3s: at most 4 (and 5 with rounding); as few as one on a
        // loaded machine, where one try may take the whole 0.3s (no timing is asserted).
        assert!((1..=5).contains(&r.round_trips), "{}", r.round_trips);
    }

    #[test]
    fn an_http_gate_wants_2xx() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || {
            for status in ["500 Oops", "200 OK"] {
                let (mut c, _) = listener.accept().expect("accept");
                let mut buf = [0u8; 512];
                let _ = c.read(&mut buf).expect("read");
                c.write_all(format!("HTTP/1.0 {status}\r\n\r\n").as_bytes())
                    .expect("write");
            }
        });
        let url = format!("http://127.0.0.1:{port}/health");
        let check = Check::Http {
            target: parse_url(&url).expect("url"),
            url: url.clone(),
        };
        let mut t = LocalTransport::named("here", false);
        let mut r = HostReport::new("here");
        wait(&mut t, &gate(check.clone(), 5_000), &mut r).expect("second try passes");
        assert_eq!(r.round_trips, 2);
        server.join().expect("server");
        // The server is gone: refused until the timeout.
        let e = wait(&mut t, &gate(check, 250), &mut r).expect_err("refused");
        assert_eq!(
            e,
            HostStatus::Failed(format!(
                "health check {url}: no 2xx answer within 0.25s (last: connection refused)"
            ))
        );
    }
}
