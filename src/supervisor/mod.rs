//! supervisord, spoken to from here: its process states, and a client with two backends.
//!
//! - **XML-RPC** (the normal way): `POST /RPC2` over supervisord's unix socket, reached through
//!   the host's SSH connection ([`Transport::unix_http`], a direct-streamlocal channel). No
//!   process runs on the host: a status costs what `exec true` costs. Several calls go in one
//!   `system.multicall`.
//! - **supervisorctl** (fallback, when the socket cannot be reached: a login user that may not
//!   open it, a socket with a password, sshd refusing streamlocal): one `supervisorctl` per
//!   operation for all programs at once, run like any command (with sudo under `become`).
//!
//! Operations work on whole groups (`NAME:*`): a program with `numprocs: 3` is one group.

pub mod xmlrpc;

use std::fmt;

use crate::transport::{shell_quote, Transport, TransportError};
use xmlrpc::{RpcError, Value};

/// supervisord's process states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProcState {
    Stopped,
    Starting,
    Running,
    Backoff,
    Stopping,
    Exited,
    Fatal,
    Unknown,
}

impl ProcState {
    /// From supervisord's `statename`.
    pub fn parse(name: &str) -> ProcState {
        match name {
            "STOPPED" => ProcState::Stopped,
            "STARTING" => ProcState::Starting,
            "RUNNING" => ProcState::Running,
            "BACKOFF" => ProcState::Backoff,
            "STOPPING" => ProcState::Stopping,
            "EXITED" => ProcState::Exited,
            "FATAL" => ProcState::Fatal,
            _ => ProcState::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProcState::Stopped => "STOPPED",
            ProcState::Starting => "STARTING",
            ProcState::Running => "RUNNING",
            ProcState::Backoff => "BACKOFF",
            ProcState::Stopping => "STOPPING",
            ProcState::Exited => "EXITED",
            ProcState::Fatal => "FATAL",
            ProcState::Unknown => "UNKNOWN",
        }
    }

    /// The process is up or on its way up (stopping it is needed to have it stopped).
    pub fn is_up(self) -> bool {
        matches!(
            self,
            ProcState::Running | ProcState::Starting | ProcState::Backoff
        )
    }

    /// supervisord is still moving the process between states.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ProcState::Starting | ProcState::Backoff | ProcState::Stopping
        )
    }
}

impl fmt::Display for ProcState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One process as supervisord reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessStatus {
    /// The group: the program's name.
    pub group: String,
    /// The process name (the program's name when `numprocs` is 1).
    pub name: String,
    pub state: ProcState,
    /// 0 when not running.
    pub pid: u32,
    /// Start time (seconds since the epoch), 0 when never started.
    pub start: i64,
    /// supervisord's description (`pid 42, uptime 0:00:05`, `Exited too quickly ...`).
    pub description: String,
}

impl ProcessStatus {
    /// `GROUP:NAME`, what supervisord's calls take.
    pub fn namespec(&self) -> String {
        format!("{}:{}", self.group, self.name)
    }
}

/// The state of a whole group (program), from its processes: the one state they share, else
/// the most telling (a failure first).
pub fn group_state(procs: &[ProcessStatus], group: &str) -> Option<ProcState> {
    let states: Vec<ProcState> = procs
        .iter()
        .filter(|p| p.group == group)
        .map(|p| p.state)
        .collect();
    let first = *states.first()?;
    if states.iter().all(|s| *s == first) {
        return Some(first);
    }
    for s in [
        ProcState::Fatal,
        ProcState::Backoff,
        ProcState::Unknown,
        ProcState::Exited,
        ProcState::Stopped,
        ProcState::Stopping,
        ProcState::Starting,
    ] {
        if states.contains(&s) {
            return Some(s);
        }
    }
    Some(first)
}

/// Why talking to supervisord failed.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("supervisord ({what}): {error}")]
    Rpc { what: String, error: RpcError },
    #[error("supervisorctl {what}: {message}")]
    Ctl { what: String, message: String },
}

/// Process list out of `supervisor.getAllProcessInfo`'s result.
pub fn processes_from_info(v: &Value) -> Result<Vec<ProcessStatus>, RpcError> {
    let items = v
        .as_array()
        .ok_or_else(|| RpcError::Malformed("getAllProcessInfo: not an array".into()))?;
    items
        .iter()
        .map(|p| {
            let s = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
            let name = s("name").ok_or_else(|| {
                RpcError::Malformed("getAllProcessInfo: a process without a name".into())
            })?;
            Ok(ProcessStatus {
                group: s("group").unwrap_or_else(|| name.clone()),
                state: ProcState::parse(&s("statename").unwrap_or_default()),
                pid: p
                    .get("pid")
                    .and_then(Value::as_int)
                    .and_then(|i| u32::try_from(i).ok())
                    .unwrap_or(0),
                start: p.get("start").and_then(Value::as_int).unwrap_or(0),
                description: s("description").unwrap_or_default(),
                name,
            })
        })
        .collect()
}

/// Parses `supervisorctl status` output: `NAME  STATE  DESCRIPTION` lines (`GROUP:NAME` for
/// processes of a group). Lines that are not statuses (errors) make it fail.
pub fn parse_ctl_status(text: &str) -> Result<Vec<ProcessStatus>, String> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut words = line.split_whitespace();
        let (Some(spec), Some(state)) = (words.next(), words.next()) else {
            return Err(line.trim().to_string());
        };
        let state = ProcState::parse(state);
        if state == ProcState::Unknown {
            return Err(line.trim().to_string());
        }
        let description = words.collect::<Vec<_>>().join(" ");
        let (group, name) = match spec.split_once(':') {
            Some((g, n)) => (g.to_string(), n.to_string()),
            None => (spec.to_string(), spec.to_string()),
        };
        let pid = description
            .strip_prefix("pid ")
            .and_then(|r| r.split(',').next())
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(0);
        out.push(ProcessStatus {
            group,
            name,
            state,
            pid,
            start: 0,
            description,
        });
    }
    Ok(out)
}

/// What re-reading supervisord's configuration found, by group name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigDiff {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
}

/// Parses `supervisorctl reread`.
pub fn parse_ctl_reread(text: &str) -> Result<ConfigDiff, String> {
    let (mut added, mut changed, mut removed) = (Vec::new(), Vec::new(), Vec::new());
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.starts_with("No config updates") {
            continue;
        }
        match line.rsplit_once(": ") {
            Some((name, "available")) => added.push(name.to_string()),
            Some((name, "changed")) => changed.push(name.to_string()),
            Some((name, "disappeared")) => removed.push(name.to_string()),
            _ => return Err(line.to_string()),
        }
    }
    Ok(ConfigDiff {
        added,
        changed,
        removed,
    })
}

/// The socket of supervisord's `[unix_http_server] file=` value: inline `;` comments cut,
/// `%(here)s` expanded to the config file's folder.
pub fn socket_from_conf_value(value: &str, conf_path: &str) -> Option<String> {
    let mut v = value;
    // An inline comment starts at a `;` preceded by whitespace.
    let bytes = v.as_bytes();
    for i in 1..bytes.len() {
        if bytes[i] == b';' && bytes[i - 1].is_ascii_whitespace() {
            v = &v[..i];
            break;
        }
    }
    let v = v.trim();
    if v.is_empty() {
        return None;
    }
    let here = conf_path.rsplit_once('/').map(|(d, _)| d).unwrap_or(".");
    let here = if here.is_empty() { "/" } else { here };
    Some(v.replace("%(here)s", here))
}

/// How this host's supervisord is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// XML-RPC on this unix socket, through the SSH connection.
    XmlRpc { socket: String },
    /// `supervisorctl -c CONF`, run on the host.
    Ctl { conf: String },
}

/// A client of one host's supervisord, over that host's transport.
pub struct Client<'t> {
    t: &'t mut dyn Transport,
    pub backend: Backend,
    /// Requests made (XML-RPC requests and supervisorctl runs).
    pub calls: usize,
}

/// supervisord's fault codes this client tolerates.
const BAD_NAME: i64 = 10;
const ALREADY_STARTED: i64 = 60;
const NOT_RUNNING: i64 = 70;
const ALREADY_ADDED: i64 = 90;

impl<'t> Client<'t> {
    pub fn new(t: &'t mut dyn Transport, backend: Backend) -> Self {
        Client {
            t,
            backend,
            calls: 0,
        }
    }

    fn rpc(&mut self, what: &str, request: &[u8]) -> Result<Value, SupervisorError> {
        let Backend::XmlRpc { socket } = &self.backend else {
            return Err(SupervisorError::Ctl {
                what: what.into(),
                message: "internal error: not an XML-RPC client".into(),
            });
        };
        let socket = socket.clone();
        self.calls += 1;
        let answer = self.t.unix_http(&socket, request)?;
        xmlrpc::parse_http_response(&answer).map_err(|error| SupervisorError::Rpc {
            what: what.into(),
            error,
        })
    }

    /// One multicall; faults with a tolerated code count as success.
    fn rpc_many(
        &mut self,
        what: &str,
        calls: &[(&str, Vec<Value>)],
        tolerated: &[i64],
    ) -> Result<(), SupervisorError> {
        if calls.is_empty() {
            return Ok(());
        }
        let v = self.rpc(what, &xmlrpc::multicall(calls))?;
        let results =
            xmlrpc::multicall_results(v, calls.len()).map_err(|error| SupervisorError::Rpc {
                what: what.into(),
                error,
            })?;
        for r in results {
            match r {
                Ok(_) => {}
                Err(RpcError::Fault { code, .. }) if tolerated.contains(&code) => {}
                Err(error) => {
                    return Err(SupervisorError::Rpc {
                        what: what.into(),
                        error,
                    })
                }
            }
        }
        Ok(())
    }

    /// Runs `supervisorctl -c CONF ARGS…`; (output, exit status).
    fn ctl(&mut self, args: &[String]) -> Result<(String, i32), SupervisorError> {
        let Backend::Ctl { conf } = &self.backend else {
            return Err(SupervisorError::Ctl {
                what: args.first().cloned().unwrap_or_default(),
                message: "internal error: not a supervisorctl client".into(),
            });
        };
        let mut cmd = format!("supervisorctl -c {}", shell_quote(conf));
        for a in args {
            cmd.push(' ');
            cmd.push_str(&shell_quote(a));
        }
        cmd.push_str(" 2>&1");
        self.calls += 1;
        let out = self.t.exec(&cmd, b"")?;
        Ok((out.stdout_str(), out.status))
    }

    fn ctl_err(what: &str, text: &str, status: i32) -> SupervisorError {
        let text = text.trim();
        SupervisorError::Ctl {
            what: what.into(),
            message: if text.is_empty() {
                format!("exit status {status}")
            } else {
                text.to_string()
            },
        }
    }

    /// Every process supervisord runs.
    pub fn processes(&mut self) -> Result<Vec<ProcessStatus>, SupervisorError> {
        match self.backend {
            Backend::XmlRpc { .. } => {
                let v = self.rpc(
                    "getAllProcessInfo",
                    &xmlrpc::http_request("supervisor.getAllProcessInfo", &[]),
                )?;
                processes_from_info(&v).map_err(|error| SupervisorError::Rpc {
                    what: "getAllProcessInfo".into(),
                    error,
                })
            }
            Backend::Ctl { .. } => {
                let (text, status) = self.ctl(&["status".into()])?;
                // Exit status 3: some process is not running; that is a status, not an error.
                parse_ctl_status(&text).map_err(|line| Self::ctl_err("status", &line, status))
            }
        }
    }

    /// Re-reads the configuration. Applies nothing.
    pub fn reload(&mut self) -> Result<ConfigDiff, SupervisorError> {
        match self.backend {
            Backend::XmlRpc { .. } => {
                let v = self.rpc(
                    "reloadConfig",
                    &xmlrpc::http_request("supervisor.reloadConfig", &[]),
                )?;
                let names = |v: Option<&Value>| -> Vec<String> {
                    v.and_then(Value::as_array)
                        .unwrap_or(&[])
                        .iter()
                        .filter_map(|n| n.as_str().map(str::to_string))
                        .collect()
                };
                let lists = v
                    .as_array()
                    .and_then(|a| a.first())
                    .and_then(Value::as_array)
                    .ok_or_else(|| SupervisorError::Rpc {
                        what: "reloadConfig".into(),
                        error: RpcError::Malformed("expected [[added, changed, removed]]".into()),
                    })?;
                Ok(ConfigDiff {
                    added: names(lists.first()),
                    changed: names(lists.get(1)),
                    removed: names(lists.get(2)),
                })
            }
            Backend::Ctl { .. } => {
                let (text, status) = self.ctl(&["reread".into()])?;
                if status != 0 {
                    return Err(Self::ctl_err("reread", &text, status));
                }
                parse_ctl_reread(&text).map_err(|line| Self::ctl_err("reread", &line, status))
            }
        }
    }

    fn group_specs(groups: &[String]) -> Vec<String> {
        groups.iter().map(|g| format!("{g}:*")).collect()
    }

    /// Asks every process of these groups to stop; does not wait (poll [`Self::processes`]).
    /// With supervisorctl it waits. Not-running processes are not an error (with
    /// supervisorctl they make it exit non-zero): the caller checks states.
    pub fn stop(&mut self, groups: &[String]) -> Result<(), SupervisorError> {
        self.processes_op("stop", groups, &[BAD_NAME, NOT_RUNNING])
    }

    /// Asks every process of these groups to start; does not wait (poll [`Self::processes`]).
    /// With supervisorctl it waits. Spawn errors show up as BACKOFF/FATAL states: the caller
    /// checks states.
    pub fn start(&mut self, groups: &[String]) -> Result<(), SupervisorError> {
        self.processes_op("start", groups, &[ALREADY_STARTED, 50])
    }

    /// `supervisor.{verb}Process` (not waiting) for `GROUP:*` of each group in one request,
    /// faults in `tolerated` ignored; or `supervisorctl VERB GROUP:*…`.
    fn processes_op(
        &mut self,
        verb: &str,
        groups: &[String],
        tolerated: &[i64],
    ) -> Result<(), SupervisorError> {
        if groups.is_empty() {
            return Ok(());
        }
        let specs = Self::group_specs(groups);
        match self.backend {
            Backend::XmlRpc { .. } => {
                let method = format!("supervisor.{verb}Process");
                let calls: Vec<(&str, Vec<Value>)> = specs
                    .iter()
                    .map(|s| (method.as_str(), vec![Value::from(s.as_str()), false.into()]))
                    .collect();
                self.rpc_many(&format!("{verb}Process"), &calls, tolerated)
            }
            Backend::Ctl { .. } => {
                let mut args = vec![verb.to_string()];
                args.extend(specs);
                self.ctl(&args).map(|_| ())
            }
        }
    }

    /// Unloads these (stopped) groups.
    pub fn remove(&mut self, groups: &[String]) -> Result<(), SupervisorError> {
        self.groups_op("removeProcessGroup", "remove", groups, &[BAD_NAME])
    }

    /// Loads these groups from the (re-read) configuration.
    pub fn add(&mut self, groups: &[String]) -> Result<(), SupervisorError> {
        self.groups_op("addProcessGroup", "add", groups, &[ALREADY_ADDED])
    }

    fn groups_op(
        &mut self,
        method: &str,
        ctl: &str,
        groups: &[String],
        tolerated: &[i64],
    ) -> Result<(), SupervisorError> {
        if groups.is_empty() {
            return Ok(());
        }
        match self.backend {
            Backend::XmlRpc { .. } => {
                let full = format!("supervisor.{method}");
                let calls: Vec<(&str, Vec<Value>)> = groups
                    .iter()
                    .map(|g| (full.as_str(), vec![Value::from(g.as_str())]))
                    .collect();
                self.rpc_many(method, &calls, tolerated)
            }
            Backend::Ctl { .. } => {
                let mut args = vec![ctl.to_string()];
                args.extend(groups.iter().cloned());
                let (text, status) = self.ctl(&args)?;
                if text.contains("ERROR") && !text.contains("already") && !text.contains("no such")
                {
                    return Err(Self::ctl_err(ctl, &text, status));
                }
                Ok(())
            }
        }
    }

    /// The last `bytes` bytes of a process's stderr log (`GROUP:NAME`).
    pub fn stderr_tail(&mut self, namespec: &str, bytes: usize) -> Result<String, SupervisorError> {
        let n = i64::try_from(bytes).unwrap_or(4096);
        match self.backend {
            Backend::XmlRpc { .. } => {
                let v = self.rpc(
                    "readProcessStderrLog",
                    &xmlrpc::http_request(
                        "supervisor.readProcessStderrLog",
                        &[Value::from(namespec), Value::Int(-n), Value::Int(0)],
                    ),
                )?;
                Ok(v.as_str().unwrap_or("").to_string())
            }
            Backend::Ctl { .. } => {
                let (text, _) = self.ctl(&[
                    "tail".into(),
                    format!("-{n}"),
                    namespec.to_string(),
                    "stderr".into(),
                ])?;
                Ok(text)
            }
        }
    }
}

/// The last `n` non-empty lines of `text`.
pub fn last_lines(text: &str, n: usize) -> Vec<String> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

/// What happens to a program's processes after the host's files are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupervisorOp {
    None,
    /// Must end RUNNING. `reread`: supervisord re-reads its configuration first (conf
    /// written, or the group is not loaded); a group whose config changed is then reloaded,
    /// which restarts it. `restart`: stop and start again (when the reread did not).
    Run {
        reread: bool,
        restart: bool,
    },
    /// Must end not running.
    Stop {
        reread: bool,
    },
    /// Stop, unload the group (its conf is deleted).
    Remove,
}

/// A program name: letters, digits, `_`, `-`, `.` (it names a file and a supervisor group).
pub fn check_program_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 200
        || name.starts_with('.')
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
    {
        return Err(format!(
            "program name `{name}`: use letters, digits, `_`, `-` and `.` (not first)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(group: &str, name: &str, state: ProcState) -> ProcessStatus {
        ProcessStatus {
            group: group.into(),
            name: name.into(),
            state,
            pid: 0,
            start: 0,
            description: String::new(),
        }
    }

    #[test]
    fn states_round_trip() {
        for s in [
            ProcState::Stopped,
            ProcState::Starting,
            ProcState::Running,
            ProcState::Backoff,
            ProcState::Stopping,
            ProcState::Exited,
            ProcState::Fatal,
        ] {
            assert_eq!(ProcState::parse(s.as_str()), s);
        }
        assert_eq!(ProcState::parse("bogus"), ProcState::Unknown);
        assert!(ProcState::Backoff.is_up() && !ProcState::Fatal.is_up());
        assert!(ProcState::Stopping.is_transient() && !ProcState::Exited.is_transient());
    }

    #[test]
    fn group_state_prefers_failures() {
        let procs = vec![
            p("web", "web_00", ProcState::Running),
            p("web", "web_01", ProcState::Fatal),
            p("db", "db", ProcState::Stopped),
        ];
        assert_eq!(group_state(&procs, "web"), Some(ProcState::Fatal));
        assert_eq!(group_state(&procs, "db"), Some(ProcState::Stopped));
        assert_eq!(group_state(&procs, "nope"), None);
        let all_up = vec![
            p("web", "a", ProcState::Running),
            p("web", "b", ProcState::Running),
        ];
        assert_eq!(group_state(&all_up, "web"), Some(ProcState::Running));
        let mixed = vec![
            p("web", "a", ProcState::Running),
            p("web", "b", ProcState::Starting),
        ];
        assert_eq!(group_state(&mixed, "web"), Some(ProcState::Starting));
    }

    #[test]
    fn process_info_from_xmlrpc() {
        let v = Value::Array(vec![Value::Struct(vec![
            ("name".into(), Value::Str("w_01".into())),
            ("group".into(), Value::Str("w".into())),
            ("statename".into(), Value::Str("BACKOFF".into())),
            ("pid".into(), Value::Int(0)),
            ("start".into(), Value::Int(1700000000)),
            (
                "description".into(),
                Value::Str("Exited too quickly".into()),
            ),
        ])]);
        let ps = processes_from_info(&v).unwrap();
        assert_eq!(ps.len(), 1);
        assert_eq!(ps[0].namespec(), "w:w_01");
        assert_eq!(ps[0].state, ProcState::Backoff);
        assert_eq!(ps[0].start, 1700000000);
        assert!(processes_from_info(&Value::Int(3)).is_err());
        assert!(processes_from_info(&Value::Array(vec![Value::Struct(vec![])])).is_err());
    }

    #[test]
    fn supervisorctl_status_output() {
        let text = "app_web                          RUNNING   pid 1234, uptime 0:00:05\n\
                    worker:worker_00                 STOPPED   Not started\n\
                    crashy                           FATAL     Exited too quickly (process log may have details)\n";
        let ps = parse_ctl_status(text).unwrap();
        assert_eq!(ps.len(), 3);
        assert_eq!(
            (ps[0].group.as_str(), ps[0].name.as_str()),
            ("app_web", "app_web")
        );
        assert_eq!(ps[0].pid, 1234);
        assert_eq!(ps[0].state, ProcState::Running);
        assert_eq!(
            (ps[1].group.as_str(), ps[1].name.as_str()),
            ("worker", "worker_00")
        );
        assert_eq!(ps[2].state, ProcState::Fatal);
        assert!(ps[2].description.starts_with("Exited too quickly"));
        assert_eq!(parse_ctl_status("").unwrap(), vec![]);
        assert!(parse_ctl_status("unix:///var/run/supervisor.sock no such file\n").is_err());
    }

    #[test]
    fn supervisorctl_reread_output() {
        let d = parse_ctl_reread("web: available\nworker: changed\nold: disappeared\n").unwrap();
        assert_eq!(
            d,
            ConfigDiff {
                added: vec!["web".into()],
                changed: vec!["worker".into()],
                removed: vec!["old".into()]
            }
        );
        let d = parse_ctl_reread("No config updates to processes\n").unwrap();
        assert_eq!(d, ConfigDiff::default());
        assert!(parse_ctl_reread("error: <class 'FileNotFoundError'>\n").is_err());
    }

    #[test]
    fn socket_paths_from_the_conf() {
        let conf = "/etc/supervisor/supervisord.conf";
        assert_eq!(
            socket_from_conf_value(
                "/var/run/supervisor.sock   ; (the path to the socket file)",
                conf
            ),
            Some("/var/run/supervisor.sock".into())
        );
        assert_eq!(
            socket_from_conf_value(" %(here)s/run/s.sock", conf),
            Some("/etc/supervisor/run/s.sock".into())
        );
        assert_eq!(
            socket_from_conf_value("/tmp/a;b.sock", conf),
            Some("/tmp/a;b.sock".into())
        );
        assert_eq!(socket_from_conf_value("  ; nothing", conf), None);
    }

    #[test]
    fn last_lines_skips_blank_ones() {
        assert_eq!(last_lines("a\n\nb\nc\n\n", 2), vec!["b", "c"]);
        assert_eq!(last_lines("", 3), Vec::<String>::new());
    }
}
