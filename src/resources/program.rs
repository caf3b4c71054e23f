//! `program:` — a supervisor program: a conf file `/etc/supervisor/conf.d/NAME.conf` rendered
//! deterministically from the resource's keys, plus the state of its processes.
//!
//! Planning is a pure function of the spec, the conf file's state and supervisord's process list:
//!
//! | want \ have | not loaded (ABSENT) | RUNNING | STOPPED / EXITED / FATAL | STARTING / BACKOFF |
//! |---|---|---|---|---|
//! | running | reread, start | – (conf changed: reread = restart) | start | start (wait) |
//! | stopped | reread (loaded stopped) | stop | – | stop |
//! | absent  | delete conf | stop, remove, delete conf | remove, delete conf | stop, remove |
//!
//! plus the conf file: created, updated (the group is then re-read: stopped, reloaded and
//! started again), or deleted. Restarts caused by other resources (`restart_on`) are added for
//! the whole host by `engine::restarts`.

use std::fmt::Write;

use super::registry::Key;
use super::{Action, Attrs, Change, Content, Kind, Observed, PathKind, PlanError, Presence};
use crate::resolve::{Base, Keys, ResolveError};
pub use crate::supervisor::{check_program_name as check_name, SupervisorOp};
use crate::supervisor::{group_state, ProcState};

/// Where program conf files go on Debian (its supervisor includes `conf.d/*.conf`): the path
/// a program's conf is known by before the host is probed (duplicate checks).
pub const CONF_DIR: &str = "/etc/supervisor/conf.d";

/// The conf file of program `name` on Debian (see [`CONF_DIR`]); on a host, the conf goes
/// where its supervisord.conf's `[include] files=` says ([`conf_path_on`]).
pub fn conf_path(name: &str) -> String {
    format!("{CONF_DIR}/{name}.conf")
}

/// One pattern of `[include] files=`, made absolute: `%(here)s` (once) and relative
/// patterns are taken from the folder of `conf` (supervisord.conf), as supervisord does.
/// `None` when play cannot place a file under it: its last part must be `*EXT` (EXT without
/// glob characters) and its folder a plain path.
///
/// The probe's shell fragment ([`crate::probe`]) makes the same candidates, to stat them.
pub fn include_target(pattern: &str, conf: &str) -> Option<(String, String)> {
    let here = conf.rsplit_once('/').map(|(d, _)| d).unwrap_or(".");
    let here = if here.is_empty() { "/" } else { here };
    if pattern.matches("%(here)s").count() > 1 || pattern.contains('\0') {
        return None;
    }
    let p = pattern.replacen("%(here)s", here, 1);
    let p = if p.starts_with('/') {
        p
    } else {
        format!("{here}/{p}")
    };
    let (dir, base) = p.rsplit_once('/')?;
    let ext = base.strip_prefix('*')?;
    let globby = |t: &str| t.contains(['*', '?', '[', ']', '%']);
    if dir.is_empty() || globby(dir) || globby(ext) || ext.contains('/') {
        return None;
    }
    Some((dir.to_string(), ext.to_string()))
}

/// The patterns of a `files=` value (whitespace-separated; an inline ` ;` or ` #` comment
/// ends it, as supervisor's config parser reads it).
pub fn include_patterns(value: &str) -> Vec<&str> {
    let mut end = value.len();
    let b = value.as_bytes();
    for i in 1..b.len() {
        if matches!(b[i], b';' | b'#') && b[i - 1].is_ascii_whitespace() {
            end = i;
            break;
        }
    }
    value[..end].split_whitespace().collect()
}

/// The folder and file extension new conf files go to: the first pattern of `files=`
/// (`include`; `None`: supervisord.conf has no `[include] files=`) play can place a file
/// under. Errors say why none fits.
pub fn include_dir(include: Option<&str>, conf: &str) -> Result<(String, String), String> {
    let Some(value) = include else {
        return Err(format!(
            "{conf} has no `[include] files=`: supervisord reads no program conf files on this \
             host (add e.g. `[include]` / `files = /etc/supervisor/conf.d/*.conf` to it)"
        ));
    };
    let patterns = include_patterns(value);
    patterns
        .iter()
        .find_map(|p| include_target(p, conf))
        .ok_or_else(|| {
            format!(
                "{conf}: no `[include] files=` pattern play can add a file to (`{}`): \
                 it needs one like `DIR/*.conf`",
                patterns.join(" ")
            )
        })
}

/// The conf file of program `name` on a host: `DIR/NAME.EXT` from its supervisord.conf's
/// `[include]` ([`include_dir`]). Without supervisord (no conf found), Debian's path.
pub fn conf_path_on(name: &str, observed: &Observed) -> Result<String, String> {
    let Some(conf) = &observed.supervisor_conf else {
        return Ok(conf_path(name));
    };
    let (dir, ext) = include_dir(observed.supervisor_include.as_deref(), conf)?;
    Ok(format!("{dir}/{name}{ext}"))
}

/// `state: running | stopped | absent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgramState {
    #[default]
    Running,
    Stopped,
    Absent,
}

impl ProgramState {
    pub fn parse(s: &str) -> Option<ProgramState> {
        match s {
            "running" => Some(ProgramState::Running),
            "stopped" => Some(ProgramState::Stopped),
            "absent" => Some(ProgramState::Absent),
            _ => None,
        }
    }
}

/// `program:` — fully rendered for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramSpec {
    /// The program (and group) name.
    pub name: String,
    pub state: ProgramState,
    /// The conf file's content ([`render_conf`]); unused with `Absent`.
    pub conf: Content,
    /// Where the conf file goes: Debian's [`conf_path`] until the host is probed, then
    /// [`conf_path_on`] that host (set by the engine before planning).
    pub conf_path: String,
    /// Keys of resources of the same play whose change restarts the program.
    pub restart_on: Vec<String>,
    /// Owner, group and mode of the conf file (the mode is always managed: `mode:`, else
    /// [`super::default_file_mode`]).
    pub attrs: Attrs,
}

/// A program's keys, checked, as they go into its conf file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgramConf {
    pub command: String,
    pub directory: Option<String>,
    pub user: Option<String>,
    /// `environment:`, sorted by name.
    pub environment: Vec<(String, String)>,
    pub numprocs: Option<u32>,
    pub autostart: bool,
    /// `true`, `false` or `unexpected`.
    pub autorestart: Option<String>,
    pub stopsignal: Option<String>,
    pub stdout_logfile: Option<String>,
    pub stderr_logfile: Option<String>,
    /// `options:` (any other supervisor program key), sorted by key.
    pub options: Vec<(String, String)>,
}

/// Keys with their own place in a playbook (not allowed under `options:`).
pub const OWN_KEYS: &[&str] = &[
    "command",
    "directory",
    "user",
    "environment",
    "numprocs",
    "autostart",
    "autorestart",
    "stopsignal",
    "stdout_logfile",
    "stderr_logfile",
];

const SIGNALS: &[&str] = &["TERM", "HUP", "INT", "QUIT", "KILL", "USR1", "USR2"];

/// A value as supervisor's config parser reads it back unchanged: one line, and no ` ;` or
/// ` #` (they start an inline comment there, with no way to escape them).
fn check_value(key: &str, v: &str) -> Result<(), String> {
    if v.contains(['\n', '\r', '\0']) {
        return Err(format!("`{key}` must be a single line"));
    }
    let b = v.as_bytes();
    for i in 1..b.len() {
        if matches!(b[i], b';' | b'#') && b[i - 1].is_ascii_whitespace() {
            return Err(format!(
                "`{key}`: supervisor reads ` {}` as the start of a comment (value `{v}`); \
                 remove the space before it, or move the command into a script",
                b[i] as char
            ));
        }
    }
    if v.trim() != v {
        return Err(format!(
            "`{key}`: leading or trailing spaces are lost in supervisor's config (value `{v}`)"
        ));
    }
    Ok(())
}

fn check_option_key(k: &str) -> Result<(), String> {
    if k.is_empty()
        || !k
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(format!(
            "options: `{k}` is not a supervisor key (lowercase letters, digits, `_`)"
        ));
    }
    if OWN_KEYS.contains(&k) {
        return Err(format!(
            "options: `{k}` has its own key: write `{k}:` beside `program:`"
        ));
    }
    Ok(())
}

/// `KEY="value"` for supervisor's `environment=` (its parser is POSIX shlex: `\` and `"` are
/// escaped inside double quotes).
fn env_pair(k: &str, v: &str) -> String {
    let mut out = format!("{k}=\"");
    for c in v.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Renders the conf file: a fixed order of keys, environment and options sorted, so the same
/// keys always give the same bytes. Errors name the offending key.
pub fn render_conf(name: &str, c: &ProgramConf) -> Result<String, String> {
    check_name(name)?;
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut push = |k: &str, v: &str| -> Result<(), String> {
        check_value(k, v)?;
        lines.push((k.to_string(), v.to_string()));
        Ok(())
    };
    if c.command.trim().is_empty() {
        return Err("`command` is empty".into());
    }
    push("command", &c.command)?;
    let named = c.options.iter().any(|(k, _)| k == "process_name");
    if !named && c.numprocs.is_some_and(|n| n > 1) {
        push("process_name", "%(program_name)s_%(process_num)02d")?;
    }
    if let Some(d) = &c.directory {
        push("directory", d)?;
    }
    if let Some(u) = &c.user {
        push("user", u)?;
    }
    if !c.environment.is_empty() {
        let mut env = c.environment.clone();
        env.sort();
        for (k, v) in &env {
            let ok = k
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !ok {
                return Err(format!("environment: `{k}` is not a variable name"));
            }
            if v.contains(['\n', '\r', '\0']) {
                return Err(format!("environment: `{k}` must be a single line"));
            }
        }
        let text = env
            .iter()
            .map(|(k, v)| env_pair(k, v))
            .collect::<Vec<_>>()
            .join(",");
        push("environment", &text)?;
    }
    if let Some(n) = c.numprocs {
        if n == 0 {
            return Err("`numprocs` must be at least 1".into());
        }
        push("numprocs", &n.to_string())?;
    }
    push("autostart", if c.autostart { "true" } else { "false" })?;
    if let Some(a) = &c.autorestart {
        if !["true", "false", "unexpected"].contains(&a.as_str()) {
            return Err(format!(
                "`autorestart` must be true, false or unexpected, not `{a}`"
            ));
        }
        push("autorestart", a)?;
    }
    if let Some(s) = &c.stopsignal {
        let s = s.trim_start_matches("SIG");
        if !SIGNALS.contains(&s) {
            return Err(format!(
                "`stopsignal` must be one of {}, not `{s}`",
                SIGNALS.join(", ")
            ));
        }
        push("stopsignal", s)?;
    }
    if let Some(l) = &c.stdout_logfile {
        push("stdout_logfile", l)?;
    }
    if let Some(l) = &c.stderr_logfile {
        push("stderr_logfile", l)?;
    }
    let mut options = c.options.clone();
    options.sort();
    for (k, v) in &options {
        check_option_key(k)?;
        push(k, v)?;
    }
    let mut out = String::from("; Managed by play: changes made here are overwritten.\n");
    let _ = writeln!(out, "[program:{name}]");
    for (k, v) in lines {
        let _ = writeln!(out, "{k}={v}");
    }
    Ok(out)
}

/// A program's plan: the change to show and the process work to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramPlan {
    pub change: Option<Change>,
    pub op: SupervisorOp,
}

fn error(spec: &ProgramSpec, message: impl Into<String>) -> PlanError {
    PlanError {
        kind: Kind::Program,
        key: spec.name.clone(),
        message: message.into(),
    }
}

/// The conf file, planned as a file play writes.
fn plan_conf(spec: &ProgramSpec, have: &super::PathState) -> Result<Option<Change>, PlanError> {
    let presence = match spec.state {
        ProgramState::Absent => Presence::Absent,
        _ => Presence::Present,
    };
    let conf = super::whole_file::WholeFile {
        kind: Kind::Program,
        path: &spec.conf_path,
        presence,
        content: Some(&spec.conf),
        attrs: &spec.attrs,
    };
    conf.plan(have)
}

/// Plans one program. `observed.processes` must be known (`None` is an error: supervisord
/// could not be asked).
pub fn plan(spec: &ProgramSpec, observed: &Observed) -> Result<ProgramPlan, PlanError> {
    if observed.supervisor_conf.is_none() {
        return Err(error(
            spec,
            "supervisord is not installed on this host (no /etc/supervisor/supervisord.conf, \
             /etc/supervisord.conf or /usr/local/etc/supervisord.conf)",
        ));
    }
    let Some(procs) = &observed.processes else {
        return Err(error(
            spec,
            "supervisord's processes are unknown (not probed)",
        ));
    };
    let conf_state = observed.path(&spec.conf_path);
    let conf_change = plan_conf(spec, &conf_state)
        .map_err(|e| error(spec, format!("{}: {}", spec.conf_path, e.message)))?;
    let state = group_state(procs, &spec.name);
    let shown = state.map(ProcState::as_str).unwrap_or("ABSENT");
    let change = |action: Action, details: Vec<String>, cc: Option<Change>| Change {
        kind: Kind::Program,
        key: spec.name.clone(),
        action,
        details,
        // The conf file's owner, group or mode change (its details are among `details`).
        attrs: cc.as_ref().is_some_and(|c| c.attrs),
        content: cc.and_then(|c| c.content),
        sensitive: false,
        index: 0,
        after: None,
        expect: None,
        files: Default::default(),
        restarts: Vec::new(),
    };
    if spec.state == ProgramState::Absent {
        if matches!(conf_state.kind, PathKind::Missing) && state.is_none() {
            return Ok(ProgramPlan {
                change: None,
                op: SupervisorOp::None,
            });
        }
        let details = match state {
            Some(_) => vec![format!("{shown} → ABSENT")],
            None => Vec::new(),
        };
        return Ok(ProgramPlan {
            change: Some(change(Action::Delete, details, None)),
            op: SupervisorOp::Remove,
        });
    }
    let loaded = state.is_some();
    let (want, state_ok) = match spec.state {
        ProgramState::Running => ("RUNNING", state == Some(ProcState::Running)),
        _ => (
            "STOPPED",
            state.is_some_and(|s| !s.is_up() && s != ProcState::Stopping),
        ),
    };
    // The conf's content is written (created or updated), or only its owner/group/mode change
    // (no reread, no restart).
    let conf_changed = conf_change
        .as_ref()
        .is_some_and(|c| c.action != Action::Attrs);
    let attrs_only = conf_change
        .as_ref()
        .is_some_and(|c| c.action == Action::Attrs);
    if !conf_changed && !attrs_only && state_ok {
        return Ok(ProgramPlan {
            change: None,
            op: SupervisorOp::None,
        });
    }
    let mut details = Vec::new();
    if !state_ok {
        details.push(format!("{shown} → {want}"));
    }
    if let Some(c) = &conf_change {
        details.extend(c.details.iter().cloned());
    }
    let reread = conf_changed || !loaded;
    let mut restarts = Vec::new();
    if conf_changed && loaded && spec.state == ProgramState::Running && state_ok {
        restarts.push("restart: conf changed".to_string());
    }
    let action = match (&conf_change, conf_state.kind) {
        (Some(_), PathKind::Missing) => Action::Create,
        _ if attrs_only && state_ok => Action::Attrs,
        _ => Action::Update,
    };
    if attrs_only && state_ok {
        return Ok(ProgramPlan {
            change: Some(change(action, details, None)),
            op: SupervisorOp::None,
        });
    }
    let op = match spec.state {
        ProgramState::Running => SupervisorOp::Run {
            reread,
            restart: false,
        },
        _ => SupervisorOp::Stop { reread },
    };
    let mut c = change(action, details, conf_change);
    c.restarts = restarts;
    Ok(ProgramPlan {
        change: Some(c),
        op,
    })
}

impl super::Spec for ProgramSpec {
    type Work = ();
    fn builder_spec(&self) -> Option<super::BuilderSpec<'_>> {
        Some(super::BuilderSpec::ProcessFile {
            file: Some((self.conf_path.clone(), &self.attrs)),
            remove: true,
        })
    }
    fn place_file(&self, observed: &Observed) -> Option<Result<(String, bool), String>> {
        let needs_folder = observed.supervisor_conf.is_some() && self.state != ProgramState::Absent;
        Some(conf_path_on(&self.name, observed).map(|p| (p, needs_folder)))
    }
    fn set_file_place(&mut self, path: String) {
        self.conf_path = path;
    }
    fn placed_file(&self) -> Option<&str> {
        Some(&self.conf_path)
    }
    fn process(&self) -> Option<super::Process<'_>> {
        Some(super::Process {
            owed: super::OwedKind::Supervisor,
            name: &self.name,
            state: Some(match self.state {
                ProgramState::Running => super::ProcessState::Running,
                ProgramState::Stopped => super::ProcessState::Stopped,
                ProgramState::Absent => super::ProcessState::Absent,
            }),
            restart_on: &self.restart_on,
            reload_on: &[],
        })
    }
    fn plan_process(
        &self,
        observed: &Observed,
        _unit_files_changing: bool,
    ) -> Option<Result<super::ProcessPlan, PlanError>> {
        Some(plan(self, observed).map(|p| super::ProcessPlan {
            change: p.change,
            op: super::ProcessOp::Supervisor(p.op),
        }))
    }
    fn owned_paths(&self) -> Vec<String> {
        vec![conf_path(&self.name)]
    }
    fn print_paths(&self) -> Vec<String> {
        vec![self.conf_path.clone()]
    }
    fn depends(&self, observed: &super::Observed, out: &mut super::Prints) {
        let key = self.key();
        let procs: Vec<String> = observed
            .processes
            .iter()
            .flatten()
            .filter(|p| p.group == self.name)
            .map(|p| format!("{}={:?}", p.name, p.state))
            .collect();
        out.insert(
            format!("program {key}"),
            if procs.is_empty() {
                "not loaded".into()
            } else {
                procs.join(" ")
            },
        );
    }
    fn accounts(&self) -> Vec<(super::accounts::Account, &str)> {
        super::accounts::pair(&self.attrs.owner, &self.attrs.group)
    }
    const DEF: &'static super::registry::KindDef = &DEF;
    fn key(&self) -> &str {
        &self.name
    }
    // Its conf file is where its supervisord.conf's `[include]` says: found by the probe.
    fn watches(&self) -> Vec<(&'static str, &[String])> {
        vec![("restart_on", &self.restart_on)]
    }
    fn has_nul(&self) -> bool {
        self.name.contains('\0')
    }
}

/// The spec of a `program:` entry, its errors located at their keys (the registry line's
/// `render`).
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let raw = k.raw();
    let (name, mut attrs) = (b.key, b.attrs);
    let state = match b.state.as_deref() {
        None => ProgramState::Running,
        Some(st) => ProgramState::parse(st).ok_or_else(|| {
            k.fail(
                "state",
                format!("a program's state is `running`, `stopped` or `absent`, not `{st}`"),
            )
        })?,
    };
    let numprocs = match raw.get("numprocs") {
        None => None,
        Some(v) => Some(
            k.scalar("numprocs", v)?
                .trim()
                .parse::<u32>()
                .map_err(|_| k.fail("numprocs", "numprocs must be a whole number".into()))?,
        ),
    };
    let conf = ProgramConf {
        command: k.string("command")?.unwrap_or_default(),
        directory: k.string("directory")?,
        user: k.string("user")?,
        environment: k.mapping("environment")?,
        numprocs,
        // By default a program starts with supervisord when it is meant to run.
        autostart: k
            .boolean("autostart")?
            .unwrap_or(state == ProgramState::Running),
        autorestart: k.bool_or_text("autorestart")?,
        stopsignal: k.string("stopsignal")?,
        stdout_logfile: k.string("stdout_logfile")?,
        stderr_logfile: k.string("stderr_logfile")?,
        options: k.mapping("options")?,
    };
    let text = if state == ProgramState::Absent {
        String::new()
    } else {
        render_conf(&name, &conf).map_err(|m| {
            // Point at the key the message is about: `options: …` and `environment: …`
            // first, else the first key it names.
            let key = ["options", "environment"]
                .into_iter()
                .find(|key| m.starts_with(&format!("{key}:")))
                .or_else(|| {
                    OWN_KEYS
                        .iter()
                        .find(|key| m.contains(&format!("`{key}`")))
                        .copied()
                })
                .unwrap_or("program");
            k.fail(key, format!("program {name}: {m}"))
        })?
    };
    // The conf file's mode, unless given: 0600 when it holds a secret.
    let secret = k.sensitive() || crate::vault::holds_secret(text.as_bytes());
    attrs.mode.get_or_insert(super::default_file_mode(secret));
    Ok(super::Desired::Program(ProgramSpec {
        conf_path: conf_path(&name),
        name,
        state,
        conf: Content {
            bytes: text.into_bytes(),
            source: "program keys".into(),
        },
        restart_on: k.watch_list("restart_on")?,
        attrs,
    }))
}

/// A present program needs `command` (its registry line's `check_entry`).
fn check_entry(entry: &crate::playbook::RawResource) -> Result<(), String> {
    if !entry.has("command") && entry.state.as_deref() != Some("absent") {
        return Err("a program needs `command`".into());
    }
    Ok(())
}

/// [`super::registry::KindDef::check_key`]: a program name ([`check_name`]).
fn check_key(key: &str) -> Result<String, String> {
    check_name(key).map(|_| key.to_string())
}

/// The registry line of `program:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Program,
    name: "program",
    keys: &[
        Key::Text("command"),
        Key::Text("directory"),
        Key::Text("user"),
        Key::Any("environment"),
        Key::Any("numprocs"),
        Key::Any("autostart"),
        Key::Any("autorestart"),
        Key::Text("stopsignal"),
        Key::Text("stdout_logfile"),
        Key::Text("stderr_logfile"),
        Key::Any("options"),
        Key::Any("restart_on"),
        Key::Text("owner"),
        Key::Text("group"),
        Key::Any("mode"),
    ],
    is_path: false,
    watchable: false,
    docs_section: "`program: NAME` — a supervisor program",
    plug: super::registry::Plug::Process,
    first_probe: super::registry::FirstProbe::Supervisor,
    check_key,
    render: super::registry::Render::Fn(from_entry),
    check_value: super::registry::any_value,
    records: &[],
    check_entry,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{sha256_hex, PathState};
    use crate::supervisor::ProcessStatus;

    fn conf() -> ProgramConf {
        ProgramConf {
            command: "/srv/app/venv/bin/gunicorn -b 127.0.0.1:8000 app:app".into(),
            directory: Some("/srv/app/current".into()),
            user: Some("deploy".into()),
            environment: vec![
                ("APP_ENV".into(), "production".into()),
                ("A_QUOTE".into(), "say \"hi\" \\o/".into()),
            ],
            numprocs: Some(1),
            autostart: true,
            autorestart: Some("true".into()),
            stopsignal: Some("TERM".into()),
            stdout_logfile: Some("/var/log/app/web.out.log".into()),
            stderr_logfile: Some("/var/log/app/web.err.log".into()),
            options: vec![
                ("startsecs".into(), "2".into()),
                ("redirect_stderr".into(), "false".into()),
            ],
        }
    }

    #[test]
    fn conf_is_rendered_in_a_fixed_order() {
        let text = render_conf("app_web", &conf()).unwrap();
        assert_eq!(
            text,
            "; Managed by play: changes made here are overwritten.\n\
             [program:app_web]\n\
             command=/srv/app/venv/bin/gunicorn -b 127.0.0.1:8000 app:app\n\
             directory=/srv/app/current\n\
             user=deploy\n\
             environment=APP_ENV=\"production\",A_QUOTE=\"say \\\"hi\\\" \\\\o/\"\n\
             numprocs=1\n\
             autostart=true\n\
             autorestart=true\n\
             stopsignal=TERM\n\
             stdout_logfile=/var/log/app/web.out.log\n\
             stderr_logfile=/var/log/app/web.err.log\n\
             redirect_stderr=false\n\
             startsecs=2\n"
        );
        // Same keys in another order: same bytes.
        let mut c = conf();
        c.environment.reverse();
        c.options.reverse();
        assert_eq!(render_conf("app_web", &c).unwrap(), text);
    }

    #[test]
    fn minimal_conf_and_numprocs() {
        let c = ProgramConf {
            command: "sleep 100".into(),
            autostart: false,
            ..Default::default()
        };
        assert_eq!(
            render_conf("w", &c).unwrap(),
            "; Managed by play: changes made here are overwritten.\n[program:w]\ncommand=sleep 100\nautostart=false\n"
        );
        let c = ProgramConf {
            command: "sleep 100".into(),
            numprocs: Some(3),
            autostart: true,
            ..Default::default()
        };
        let t = render_conf("w", &c).unwrap();
        assert!(
            t.contains("process_name=%(program_name)s_%(process_num)02d\n"),
            "{t}"
        );
        assert!(t.contains("numprocs=3\n"), "{t}");
        // An explicit process_name wins.
        let c = ProgramConf {
            options: vec![("process_name".into(), "w%(process_num)d".into())],
            ..c
        };
        let t = render_conf("w", &c).unwrap();
        assert!(!t.contains("process_name=%(program_name)s"), "{t}");
        assert!(t.contains("process_name=w%(process_num)d\n"), "{t}");
    }

    #[test]
    fn values_supervisor_would_misread_are_refused() {
        let bad = |f: &dyn Fn(&mut ProgramConf)| {
            let mut c = conf();
            f(&mut c);
            render_conf("app", &c).unwrap_err()
        };
        assert!(bad(&|c| c.command = "a\nb".into()).contains("single line"));
        assert!(bad(&|c| c.command = "sh -c 'a ; b'".into()).contains("comment"));
        assert!(bad(&|c| c.command = "run # note".into()).contains("comment"));
        assert!(bad(&|c| c.command = "  ".into()).contains("empty"));
        assert!(bad(&|c| c.numprocs = Some(0)).contains("numprocs"));
        assert!(bad(&|c| c.autorestart = Some("maybe".into())).contains("autorestart"));
        assert!(bad(&|c| c.stopsignal = Some("STOP".into())).contains("stopsignal"));
        assert!(bad(&|c| c.environment = vec![("1X".into(), "v".into())]).contains("variable"));
        assert!(bad(&|c| c.options = vec![("command".into(), "x".into())]).contains("own key"));
        assert!(bad(&|c| c.options = vec![("Bad-Key".into(), "x".into())])
            .contains("not a supervisor key"));
        assert!(render_conf("a/b", &conf())
            .unwrap_err()
            .contains("program name"));
        assert!(render_conf("a:b", &conf()).is_err());
        // `;` without a space before it is fine.
        let mut c = conf();
        c.command = "sh -c 'a;b'".into();
        assert!(render_conf("app", &c).is_ok());
        let hup = ProgramConf {
            stopsignal: Some("SIGHUP".into()),
            ..conf()
        };
        assert!(render_conf("app", &hup)
            .unwrap()
            .contains("stopsignal=HUP\n"));
    }

    fn spec(state: ProgramState) -> ProgramSpec {
        ProgramSpec {
            name: "web".into(),
            state,
            conf: Content {
                bytes: b"[program:web]\ncommand=sleep 9\n".to_vec(),
                source: "program keys".into(),
            },
            restart_on: vec![],
            conf_path: conf_path("web"),
            attrs: Attrs::default(),
        }
    }

    fn observed(conf: Option<&[u8]>, states: &[ProcState]) -> Observed {
        let mut o = Observed {
            supervisor_conf: Some("/etc/supervisor/supervisord.conf".into()),
            processes: Some(
                states
                    .iter()
                    .enumerate()
                    .map(|(i, s)| ProcessStatus {
                        group: "web".into(),
                        name: format!("web_{i}"),
                        state: *s,
                        pid: 0,
                        start: 0,
                        description: String::new(),
                    })
                    .collect(),
            ),
            ..Default::default()
        };
        if let Some(b) = conf {
            o.paths.insert(
                conf_path("web"),
                PathState {
                    kind: PathKind::File {
                        size: b.len() as u64,
                        sha256: Some(sha256_hex(b)),
                    },
                    mode: 0o644,
                    owner: "root".into(),
                    group: "root".into(),
                },
            );
        }
        o
    }

    const SAME: &[u8] = b"[program:web]\ncommand=sleep 9\n";
    const OLD: &[u8] = b"[program:web]\ncommand=sleep 1\n";

    fn run(reread: bool) -> SupervisorOp {
        SupervisorOp::Run {
            reread,
            restart: false,
        }
    }

    /// (want, conf on host, states) → (action, details, op); None = no change.
    #[test]
    fn every_transition() {
        use ProcState::*;
        use ProgramState as W;
        type Case<'a> = (
            ProgramState,
            Option<&'a [u8]>,
            &'a [ProcState],
            Option<(Action, &'a [&'a str], SupervisorOp)>,
        );
        let cases: &[Case] = &[
            // running
            (
                W::Running,
                None,
                &[],
                Some((Action::Create, &["ABSENT → RUNNING"], run(true))),
            ),
            (W::Running, Some(SAME), &[Running], None),
            (
                W::Running,
                Some(SAME),
                &[Stopped],
                Some((Action::Update, &["STOPPED → RUNNING"], run(false))),
            ),
            (
                W::Running,
                Some(SAME),
                &[Fatal],
                Some((Action::Update, &["FATAL → RUNNING"], run(false))),
            ),
            (
                W::Running,
                Some(SAME),
                &[Exited],
                Some((Action::Update, &["EXITED → RUNNING"], run(false))),
            ),
            (
                W::Running,
                Some(SAME),
                &[Backoff],
                Some((Action::Update, &["BACKOFF → RUNNING"], run(false))),
            ),
            (
                W::Running,
                Some(SAME),
                &[],
                Some((Action::Update, &["ABSENT → RUNNING"], run(true))),
            ),
            (
                W::Running,
                Some(OLD),
                &[Running],
                Some((Action::Update, &["restart: conf changed"], run(true))),
            ),
            (
                W::Running,
                Some(OLD),
                &[Stopped],
                Some((Action::Update, &["STOPPED → RUNNING"], run(true))),
            ),
            (
                W::Running,
                Some(SAME),
                &[Running, Fatal],
                Some((Action::Update, &["FATAL → RUNNING"], run(false))),
            ),
            // stopped
            (
                W::Stopped,
                None,
                &[],
                Some((
                    Action::Create,
                    &["ABSENT → STOPPED"],
                    SupervisorOp::Stop { reread: true },
                )),
            ),
            (W::Stopped, Some(SAME), &[Stopped], None),
            (W::Stopped, Some(SAME), &[Fatal], None),
            (W::Stopped, Some(SAME), &[Exited], None),
            (
                W::Stopped,
                Some(SAME),
                &[Running],
                Some((
                    Action::Update,
                    &["RUNNING → STOPPED"],
                    SupervisorOp::Stop { reread: false },
                )),
            ),
            (
                W::Stopped,
                Some(SAME),
                &[Starting],
                Some((
                    Action::Update,
                    &["STARTING → STOPPED"],
                    SupervisorOp::Stop { reread: false },
                )),
            ),
            (
                W::Stopped,
                Some(OLD),
                &[Stopped],
                Some((Action::Update, &[], SupervisorOp::Stop { reread: true })),
            ),
            (
                W::Stopped,
                Some(SAME),
                &[],
                Some((
                    Action::Update,
                    &["ABSENT → STOPPED"],
                    SupervisorOp::Stop { reread: true },
                )),
            ),
            // absent
            (W::Absent, None, &[], None),
            (
                W::Absent,
                Some(SAME),
                &[Running],
                Some((Action::Delete, &["RUNNING → ABSENT"], SupervisorOp::Remove)),
            ),
            (
                W::Absent,
                Some(OLD),
                &[],
                Some((Action::Delete, &[], SupervisorOp::Remove)),
            ),
            (
                W::Absent,
                None,
                &[Stopped],
                Some((Action::Delete, &["STOPPED → ABSENT"], SupervisorOp::Remove)),
            ),
        ];
        for (want, conf, states, expected) in cases {
            let p = plan(&spec(*want), &observed(*conf, states)).unwrap();
            let what = format!(
                "{want:?} with conf {:?} and {states:?}",
                conf.map(|c| c == SAME)
            );
            match expected {
                None => {
                    assert_eq!(p.change, None, "{what}");
                    assert_eq!(p.op, SupervisorOp::None, "{what}");
                }
                Some((action, details, op)) => {
                    let c = p.change.unwrap_or_else(|| panic!("{what}: no change"));
                    assert_eq!(c.action, *action, "{what}");
                    assert_eq!(
                        c.all_details(),
                        details.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                        "{what}"
                    );
                    assert_eq!(p.op, *op, "{what}");
                    assert_eq!((c.kind, c.key.as_str()), (Kind::Program, "web"));
                    // The conf diff travels with the change whenever the conf is written.
                    let writes = *want != W::Absent && *conf != Some(SAME);
                    assert_eq!(c.content.is_some(), writes, "{what}");
                    if let Some(cc) = c.content {
                        assert_eq!(cc.new, SAME);
                    }
                }
            }
        }
    }

    #[test]
    fn a_mode_change_alone_is_an_attrs_change_without_restart() {
        let mut s = spec(ProgramState::Running);
        s.attrs.mode = Some(0o600);
        let p = plan(&s, &observed(Some(SAME), &[ProcState::Running])).unwrap();
        let c = p.change.expect("a change");
        assert_eq!(c.action, Action::Attrs);
        assert_eq!(c.details, vec!["mode 0644 → 0600".to_string()]);
        assert_eq!(c.content, None);
        assert_eq!(p.op, SupervisorOp::None);
        // With a state change too: an update that also sets the mode.
        let p = plan(&s, &observed(Some(SAME), &[ProcState::Stopped])).unwrap();
        let c = p.change.expect("a change");
        assert_eq!(c.action, Action::Update);
        assert_eq!(c.details, vec!["STOPPED → RUNNING", "mode 0644 → 0600"]);
        assert_eq!(p.op, run(false));
        assert_eq!(crate::resources::default_file_mode(true), 0o600);
        assert_eq!(crate::resources::default_file_mode(false), 0o644);
    }

    fn include(value: Option<&str>, conf: &str) -> Result<(String, String), String> {
        include_dir(value, conf)
    }

    #[test]
    fn include_folders_of_every_layout() {
        let pair = |d: &str, e: &str| Ok((d.to_string(), e.to_string()));
        // Debian
        assert_eq!(
            include(
                Some(" /etc/supervisor/conf.d/*.conf"),
                "/etc/supervisor/supervisord.conf"
            ),
            pair("/etc/supervisor/conf.d", ".conf")
        );
        // RHEL: relative to the conf's folder
        assert_eq!(
            include(Some("supervisord.d/*.ini"), "/etc/supervisord.conf"),
            pair("/etc/supervisord.d", ".ini")
        );
        // pip-installed, %(here)s
        assert_eq!(
            include(
                Some("%(here)s/conf.d/*.conf"),
                "/usr/local/etc/supervisord.conf"
            ),
            pair("/usr/local/etc/conf.d", ".conf")
        );
        // several patterns: the first usable one; a comment ends the value
        assert_eq!(
            include(
                Some("/etc/app/app.conf /srv/*/sup.conf  conf.d/*.ini /etc/other/*.conf ; note"),
                "/etc/supervisord.conf"
            ),
            pair("/etc/conf.d", ".ini")
        );
        assert_eq!(
            include_patterns("a/*.conf b/*.ini # c d"),
            vec!["a/*.conf", "b/*.ini"]
        );
        // any name: no extension
        assert_eq!(
            include(Some("/etc/progs/*"), "/etc/supervisord.conf"),
            pair("/etc/progs", "")
        );
        // none play can use, or no [include] at all: clear errors
        let e = include(
            Some("/etc/one.conf /srv/*/x.conf /x/*.c?nf"),
            "/etc/supervisord.conf",
        )
        .unwrap_err();
        assert!(e.contains("no `[include] files=` pattern"), "{e}");
        assert!(e.contains("/etc/one.conf"), "{e}");
        let e = include(None, "/etc/supervisord.conf").unwrap_err();
        assert!(e.contains("has no `[include] files=`"), "{e}");
        assert_eq!(
            include_target("%(here)s/%(here)s/*.conf", "/etc/s.conf"),
            None
        );
        // the conf path on a host
        let mut o = observed(None, &[]);
        o.supervisor_conf = Some("/etc/supervisord.conf".into());
        o.supervisor_include = Some("supervisord.d/*.ini".into());
        assert_eq!(
            conf_path_on("web", &o).as_deref(),
            Ok("/etc/supervisord.d/web.ini")
        );
        o.supervisor_conf = None;
        assert_eq!(
            conf_path_on("web", &o).as_deref(),
            Ok("/etc/supervisor/conf.d/web.conf")
        );
    }

    #[test]
    fn refusals() {
        let mut o = observed(Some(SAME), &[ProcState::Running]);
        o.supervisor_conf = None;
        assert!(plan(&spec(ProgramState::Running), &o)
            .unwrap_err()
            .message
            .contains("not installed"));
        let mut o = observed(Some(SAME), &[]);
        o.processes = None;
        assert!(plan(&spec(ProgramState::Running), &o).is_err());
        let mut o = observed(None, &[]);
        o.paths.insert(
            conf_path("web"),
            PathState {
                kind: PathKind::Directory { empty: Some(true) },
                mode: 0o755,
                owner: "root".into(),
                group: "root".into(),
            },
        );
        let e = plan(&spec(ProgramState::Running), &o).unwrap_err();
        assert_eq!(e.kind, Kind::Program);
        assert!(e.message.contains("/etc/supervisor/conf.d/web.conf"), "{e}");
    }
}
