//! `command:` — a shell command, run on the host by a shell that reads it from a here-document
//! (never in any process's argv: `ps` shows `sh`, or `su -s /bin/sh USER`), in declared order,
//! when its guards allow.
//!
//! ```yaml
//! - command: python3 -m venv /srv/hello/venv
//!   creates: /srv/hello/venv/bin/python   # runs only while this path does not exist
//!   unless: test -x /srv/hello/venv/bin/pip  # runs only when this check exits non-zero
//!   on_change: [/srv/hello]               # runs only when one of these resources changes
//!   chdir: /srv/hello                     # working folder
//!   user: app                             # run as this user (`su`)
//! ```
//!
//! Guards combine: the command runs when every guard given allows it. A command without any
//! guard is a change on every run, and `play diff` says so plainly: play cannot know what it
//! would do. `unless` runs during `play diff` too (in the probe, output discarded, at most
//! 300 s): keep it free of side effects. `on_change` names resources of the same play declared
//! before the command; with `creates` or `unless` as well, all must allow.
//!
//! The command's stdin is /dev/null, its output goes to the apply's stderr (shown when it fails),
//! its umask is 022. A non-zero exit fails the host's apply there. With `creates`, the path must
//! exist afterwards.

use std::collections::BTreeMap;

use super::deploy::{DeployObserved, Planned, Refused};
use super::registry::Key;
use super::{sha256_hex, Action, PathKind, PathState};
use crate::resolve::{Base, Keys, ResolveError};
use crate::transport::{heredoc, shell_quote};

/// How long an `unless` check may run in the probe.
pub const UNLESS_TIMEOUT_SECS: u32 = 300;

/// One command, rendered for one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandSpec {
    /// The command line (also the resource's key).
    pub command: String,
    /// Absolute path: run only while it does not exist.
    pub creates: Option<String>,
    /// A check command: run only when it exits non-zero.
    pub unless: Option<String>,
    /// Keys of resources of the play: run only when one of them changes in this run.
    pub on_change: Vec<String>,
    pub chdir: Option<String>,
    pub user: Option<String>,
    /// `changed: false`: a check. It runs whenever its guards allow (with none, on every
    /// apply), is never a change (not counted, never watched, no restart) and fails the host
    /// when it exits non-zero; `play diff` lists it without running it.
    pub check: bool,
    /// Variables exported to the command (`environment:`): they travel in the script on stdin,
    /// never in an argv or the host's process environment of play's own shell.
    pub environment: Vec<(String, String)>,
}

impl CommandSpec {
    /// The `unless` check to run in the probe, if any.
    pub fn guard(&self) -> Option<Guard> {
        self.unless
            .as_ref()
            .map(|u| Guard::new(u, self.chdir.as_deref(), self.user.as_deref()))
    }

    /// True when nothing limits when it runs.
    pub fn unguarded(&self) -> bool {
        self.creates.is_none() && self.unless.is_none() && self.on_change.is_empty()
    }
}

/// An `unless` check, as the probe runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    /// Names the check's result (`unless` record): a digest of the three fields.
    pub id: String,
    pub check: String,
    pub chdir: Option<String>,
    pub user: Option<String>,
}

impl Guard {
    pub fn new(check: &str, chdir: Option<&str>, user: Option<&str>) -> Guard {
        let key = format!("{check}\0{}\0{}", chdir.unwrap_or(""), user.unwrap_or(""));
        Guard {
            id: format!("u{}", &sha256_hex(key.as_bytes())[..16]),
            check: check.to_string(),
            chdir: chdir.map(str::to_string),
            user: user.map(str::to_string),
        }
    }
}

/// What runs the command: `sh`, or as `user` with `su` (its HOME, USER and SHELL set); the
/// command itself goes to it in a here-document ([`heredoc`]), out of every argv.
fn runner(user: Option<&str>) -> String {
    match user {
        None => "sh".to_string(),
        Some(u) => format!("su -s /bin/sh {}", shell_quote(u)),
    }
}

/// The probe record of an `unless` check: `unless \0 ID \0 STATUS \0`, its exit status, or
/// `nodir` when its `chdir` does not exist yet.
const GUARD_RECORD: &str = "unless";

/// The result of the `unless` check `id` as the probe saw it: `Some(Some(status))`,
/// `Some(None)` when its `chdir` did not exist, `None` when not probed.
pub fn guard_result(o: &DeployObserved, id: &str) -> Result<Option<Option<i32>>, Refused> {
    let Some(fields) = o.record(GUARD_RECORD, id) else {
        return Ok(None);
    };
    match fields.first().map(String::as_str) {
        Some("nodir") => Ok(Some(None)),
        Some(s) => (s.parse::<i32>().map(|st| Some(Some(st))))
            .map_err(|_| Refused(format!("bad unless status `{s}`"))),
        None => Err(Refused("an empty unless record".into())),
    }
}

/// Every `unless` result the probe reported, by guard id (what a plan file's fingerprint
/// holds for commands).
fn guard_results(o: &DeployObserved) -> BTreeMap<String, Option<i32>> {
    (o.records.iter())
        .filter(|((tag, _), _)| tag == GUARD_RECORD)
        .filter_map(|((_, id), _)| Some((id.clone(), guard_result(o, id).ok()??)))
        .collect()
}

/// The probe fragment running one `unless` check (its [`GUARD_RECORD`]).
pub fn probe_guard(g: &Guard) -> String {
    let run = heredoc(
        &format!(
            "timeout {UNLESS_TIMEOUT_SECS} {}",
            runner(g.user.as_deref())
        ),
        &g.check,
    );
    let id = shell_quote(&g.id);
    match &g.chdir {
        Some(d) => {
            let d = shell_quote(d);
            format!(
                "if [ -d {d} ]; then\n(cd {d} && umask 022 && exec {run}) >/dev/null 2>&1\n  printf 'unless\\0%s\\0%s\\0' {id} \"$?\"\nelse\n  printf 'unless\\0%s\\0nodir\\0' {id}\nfi\n"
            )
        }
        None => format!(
            "(umask 022 && exec {run}) >/dev/null 2>&1\nprintf 'unless\\0%s\\0%s\\0' {id} \"$?\"\n"
        ),
    }
}

/// What the plan says of an unguarded check (`changed: false`).
pub const CHECK_EVERY_APPLY: &str = "runs on every apply, never a change";

/// What the plan of a command saw.
#[derive(Debug, Clone, Copy, Default)]
pub struct Checks<'a> {
    /// State of `creates` (when given).
    pub creates: Option<&'a PathState>,
    /// The `unless` check's result: `Some(Some(status))`, `Some(None)` when `chdir` is missing.
    pub unless: Option<Option<i32>>,
}

/// Plans one command. `changed`: keys of the host's resources that change in this run.
pub fn plan(
    spec: &CommandSpec,
    checks: &Checks,
    changed: &[&str],
) -> Result<Option<Planned<()>>, Refused> {
    if spec.unguarded() && spec.check {
        return Ok(Some(Planned {
            action: Action::Update,
            details: vec![CHECK_EVERY_APPLY.into()],
            work: (),
        }));
    }
    if spec.unguarded() {
        return Ok(Some(Planned {
            action: Action::Update,
            details: vec![
                "runs on every apply: it has no guard (creates, unless, on_change), so play cannot know what it would change".into(),
            ],
            work: (),
        }));
    }
    let mut reasons = Vec::new();
    if let Some(path) = &spec.creates {
        match checks.creates.map(|p| &p.kind) {
            Some(PathKind::Missing) => reasons.push(format!("{path} does not exist")),
            Some(_) => return Ok(None),
            None => {
                return Err(Refused(format!(
                    "creates: {path} was not probed (internal error)"
                )))
            }
        }
    }
    if !spec.on_change.is_empty() {
        let hits: Vec<&str> = spec
            .on_change
            .iter()
            .map(String::as_str)
            .filter(|k| changed.contains(k))
            .collect();
        if hits.is_empty() {
            return Ok(None);
        }
        reasons.push(format!("{} changes", hits.join(", ")));
    }
    if let Some(check) = &spec.unless {
        match checks.unless {
            Some(Some(0)) => return Ok(None),
            Some(Some(st)) => reasons.push(format!("unless `{check}` exited {st}")),
            Some(None) => reasons.push(format!(
                "chdir {} does not exist yet (unless `{check}` not run)",
                spec.chdir.as_deref().unwrap_or("?")
            )),
            None => {
                return Err(Refused(format!(
                    "unless: `{check}` was not run (internal error)"
                )))
            }
        }
    }
    Ok(Some(Planned {
        action: Action::Update,
        details: vec![format!("run: {}", reasons.join("; "))],
        work: (),
    }))
}

/// The apply step of one command (inside the apply script: `play_ok`, `play_fail`).
pub fn apply_fragment(index: usize, spec: &CommandSpec) -> String {
    let i = index;
    let body = super::exports(&spec.environment) + &spec.command;
    let run = heredoc(&runner(spec.user.as_deref()), &body);
    let cd = spec
        .chdir
        .as_ref()
        .map(|d| format!("cd {} && ", shell_quote(d)))
        .unwrap_or_default();
    let mut s = format!("# command {i}\nprintf '\\0play-step\\0%s\\0' {i} >&2\n");
    // `creates` is looked at again when the step runs: an earlier step of this run may have
    // made it (a checkout holding it), and then the command does not run.
    let created = spec.creates.as_ref().map(|c| shell_quote(c));
    if let Some(q) = &created {
        s.push_str(&format!("if [ -e {q} ] || [ -L {q} ]; then :; else\n"));
    }
    s.push_str(&format!(
        "({cd}umask 022 && exec {run}) </dev/null 1>&2\nst=$?\nif [ \"$st\" -ne 0 ]; then printf 'command exited with status %s\\n' \"$st\" >&2; play_fail {i}; fi\n"
    ));
    if let (Some(q), Some(c)) = (&created, &spec.creates) {
        s.push_str(&format!(
            "if ! [ -e {q} ] && ! [ -L {q} ]; then printf '%s\\n' {} >&2; play_fail {i}; fi\nfi\n",
            shell_quote(&format!("the command succeeded but did not create {c}"))
        ));
    }
    s.push_str(&format!("play_ok {i}\n"));
    s
}

/// [`super::registry::KindDef::check_key`]: any command line but an empty one.
fn check_key(key: &str) -> Result<String, String> {
    if key.trim().is_empty() {
        Err("command: an empty command".to_string())
    } else {
        Ok(key.to_string())
    }
}

impl super::Spec for CommandSpec {
    type Work = ();
    fn owned_per_host(&self) -> bool {
        false
    }
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        if let Some(g) = self.guard() {
            p.add_slow_fragment(probe_guard(&g), u64::from(UNLESS_TIMEOUT_SECS));
        }
    }
    fn runs_on_change(&self) -> bool {
        true
    }
    fn is_check(&self) -> bool {
        self.check
    }
    fn verified_after_apply(&self) -> bool {
        false
    }
    fn creates(&self) -> Option<&str> {
        self.creates.as_deref()
    }
    fn plan_work(
        &self,
        observed: &super::Observed,
        changed: &[&str],
    ) -> Result<Option<super::deploy::Planned<Self::Work>>, super::deploy::Refused> {
        let creates = self.creates.as_ref().map(|c| observed.path(c));
        let checks = Checks {
            creates: creates.as_ref(),
            unless: match self.guard() {
                Some(g) => guard_result(&observed.deploy, &g.id)?,
                None => None,
            },
        };
        plan(self, &checks, changed)
    }
    fn apply_fragment(
        &self,
        index: usize,
        _work: Option<&Self::Work>,
        _last: bool,
    ) -> Option<Result<(String, Vec<u8>), String>> {
        Some(Ok((apply_fragment(index, self), Vec::new())))
    }
    fn depends(&self, observed: &super::Observed, out: &mut super::Prints) {
        let guards = guard_results(&observed.deploy);
        if !guards.is_empty() {
            out.insert("unless checks".into(), super::digest_of(&guards));
        }
    }
    fn accounts(&self) -> Vec<(super::accounts::Account, &str)> {
        super::accounts::pair(&self.user, &None)
    }
    const DEF: &'static super::registry::KindDef = &DEF;
    fn key(&self) -> &str {
        &self.command
    }
    fn probe_paths(&self) -> Vec<String> {
        self.creates.iter().cloned().collect()
    }
    fn watches(&self) -> Vec<(&'static str, &[String])> {
        vec![("on_change", &self.on_change)]
    }
    fn has_nul(&self) -> bool {
        super::any_nul(&[
            Some(&self.command),
            self.creates.as_deref(),
            self.unless.as_deref(),
            self.chdir.as_deref(),
            self.user.as_deref(),
        ]) || super::env_has_nul(&self.environment)
    }
}

/// The registry line of `command:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Command,
    name: "command",
    keys: &[
        Key::Text("creates"),
        Key::Text("unless"),
        Key::Any("on_change"),
        Key::Text("chdir"),
        Key::Text("user"),
        Key::Any("environment"),
        Key::Any("changed"),
    ],
    is_path: false,
    watchable: true,
    docs_section: "`command: CMD` — a command, with guards",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key,
    render: super::registry::Render::Fn(from_entry),
    check_value: super::registry::any_value,
    records: &[super::registry::Record {
        tag: GUARD_RECORD,
        fields: 2,
        per_host: false,
    }],
    check_entry: super::registry::any_entry,
};

/// `command:` from its entry (its registry line's `render`).
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, state, .. } = b;
    k.no_state("command", &state)?;
    let user = k.string("user")?;
    if let Some(u) = &user {
        super::accounts::check_name("user", u).map_err(|m| k.fail("user", m))?;
    }
    let unless = k.string("unless")?;
    if unless.as_deref().is_some_and(|u| u.trim().is_empty()) {
        return Err(k.fail("unless", "unless: an empty command".into()));
    }
    Ok(super::Desired::Command(CommandSpec {
        command: key,
        creates: k.path("creates")?,
        unless,
        on_change: k.list("on_change")?.unwrap_or_default(),
        chdir: k.path("chdir")?,
        user,
        check: !k.boolean("changed")?.unwrap_or(true),
        environment: {
            let env = k.mapping("environment")?;
            super::check_environment(&env).map_err(|m| k.fail("environment", m))?;
            env
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unless_results_are_read_from_their_records() {
        use crate::resources::deploy::absorb;
        let mut o = DeployObserved::default();
        absorb(&mut o, b"unless", &[b"g1", b"3"]).unwrap();
        absorb(&mut o, b"unless", &[b"g2", b"nodir"]).unwrap();
        absorb(&mut o, b"unless", &[b"g3", b"x"]).unwrap();
        assert!(absorb(&mut o, b"unless", &[b"g4"]).is_err(), "two fields");
        assert_eq!(guard_result(&o, "g1"), Ok(Some(Some(3))));
        assert_eq!(guard_result(&o, "g2"), Ok(Some(None)));
        assert!(guard_result(&o, "g3").is_err());
        assert_eq!(guard_result(&o, "g5"), Ok(None));
        let all = guard_results(&o);
        assert_eq!(all.len(), 2, "{all:?}");
    }

    fn spec() -> CommandSpec {
        CommandSpec {
            command: "make install".into(),
            ..Default::default()
        }
    }

    fn file() -> PathState {
        PathState {
            kind: PathKind::File {
                size: 0,
                sha256: None,
            },
            mode: 0o644,
            owner: "root".into(),
            group: "root".into(),
        }
    }

    #[test]
    fn unguarded_runs_every_time_and_says_so() {
        let p = plan(&spec(), &Checks::default(), &[]).unwrap().unwrap();
        assert_eq!(p.action, Action::Update);
        assert!(
            p.details[0].starts_with("runs on every apply: it has no guard"),
            "{:?}",
            p.details
        );
    }

    #[test]
    fn a_check_says_it_is_no_change() {
        let mut s = spec();
        s.check = true;
        let p = plan(&s, &Checks::default(), &[]).unwrap().unwrap();
        assert_eq!(p.details, vec![CHECK_EVERY_APPLY.to_string()]);
        // Guards still decide whether it runs.
        s.on_change = vec!["/srv/src".into()];
        assert_eq!(plan(&s, &Checks::default(), &[]).unwrap(), None);
    }

    #[test]
    fn creates_runs_until_the_path_exists() {
        let mut s = spec();
        s.creates = Some("/srv/done".into());
        let missing = PathState::missing();
        let p = plan(
            &s,
            &Checks {
                creates: Some(&missing),
                unless: None,
            },
            &[],
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.details, vec!["run: /srv/done does not exist".to_string()]);
        assert_eq!(
            plan(
                &s,
                &Checks {
                    creates: Some(&file()),
                    unless: None
                },
                &[]
            )
            .unwrap(),
            None
        );
        assert!(plan(&s, &Checks::default(), &[]).is_err());
    }

    #[test]
    fn unless_runs_when_the_check_fails() {
        let mut s = spec();
        s.unless = Some("test -f /x".into());
        s.chdir = Some("/srv/app".into());
        assert_eq!(
            plan(
                &s,
                &Checks {
                    creates: None,
                    unless: Some(Some(0))
                },
                &[]
            )
            .unwrap(),
            None
        );
        let p = plan(
            &s,
            &Checks {
                creates: None,
                unless: Some(Some(1)),
            },
            &[],
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            p.details,
            vec!["run: unless `test -f /x` exited 1".to_string()]
        );
        let p = plan(
            &s,
            &Checks {
                creates: None,
                unless: Some(None),
            },
            &[],
        )
        .unwrap()
        .unwrap();
        assert!(
            p.details[0].contains("chdir /srv/app does not exist yet"),
            "{:?}",
            p.details
        );
    }

    #[test]
    fn on_change_runs_only_after_a_change() {
        let mut s = spec();
        s.on_change = vec!["/srv/src".into(), "nginx".into()];
        assert_eq!(plan(&s, &Checks::default(), &[]).unwrap(), None);
        assert_eq!(plan(&s, &Checks::default(), &["/other"]).unwrap(), None);
        let p = plan(&s, &Checks::default(), &["/srv/src", "/other"])
            .unwrap()
            .unwrap();
        assert_eq!(p.details, vec!["run: /srv/src changes".to_string()]);
    }

    #[test]
    fn all_guards_must_allow() {
        let mut s = spec();
        s.on_change = vec!["/srv/src".into()];
        s.unless = Some("true".into());
        assert_eq!(
            plan(
                &s,
                &Checks {
                    creates: None,
                    unless: Some(Some(0))
                },
                &["/srv/src"]
            )
            .unwrap(),
            None
        );
        let p = plan(
            &s,
            &Checks {
                creates: None,
                unless: Some(Some(3)),
            },
            &["/srv/src"],
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            p.details,
            vec!["run: /srv/src changes; unless `true` exited 3".to_string()]
        );
    }

    #[test]
    fn scripts_quote_and_isolate_the_command() {
        let mut s = spec();
        s.command = "echo 'hi' > out; exit 0".into();
        s.chdir = Some("/srv/my app".into());
        s.user = Some("app".into());
        s.creates = Some("/srv/my app/out".into());
        let f = apply_fragment(4, &s);
        assert!(
            f.contains("(cd '/srv/my app' && umask 022 && exec su -s /bin/sh app <<'PLAY_EOF'\neval 'echo '\\''hi'\\'' > out; exit 0' </dev/null\nPLAY_EOF\n) </dev/null 1>&2"),
            "{f}"
        );
        assert!(f.contains("play_fail 4"), "{f}");
        assert!(f.contains("[ -e '/srv/my app/out' ]"), "{f}");
        let g = Guard::new("test -d x", Some("/srv"), None);
        assert_eq!(g, Guard::new("test -d x", Some("/srv"), None));
        assert_ne!(g.id, Guard::new("test -d x", None, None).id);
        let p = probe_guard(&g);
        assert!(
            p.contains("exec timeout 300 sh <<'PLAY_EOF'\neval 'test -d x' </dev/null\nPLAY_EOF\n"),
            "{p}"
        );
        assert!(
            p.contains(&format!("printf 'unless\\0%s\\0nodir\\0' {}", g.id)),
            "{p}"
        );
    }
}
