//! `service:` — a systemd service: an optional unit file (`unit:` template, written to
//! `/etc/systemd/system/NAME`), whether it is enabled, and whether it runs.
//!
//! Planning is a pure function of the spec, the unit file's state and `systemctl show`
//! (LoadState, ActiveState, SubState, UnitFileState, NeedDaemonReload):
//!
//! | want \ have | active | inactive / failed / auto-restart |
//! |---|---|---|
//! | `state: running` | – (unit file changed: restart) | start |
//! | `state: stopped` | stop | – |
//! | no `state` | – (unit file changed: restart if running) | – |
//!
//! plus `enabled: true|false` (enable/disable), and one `daemon-reload` per host when a unit
//! file changed or systemd says one is needed. `state: absent`: stopped, disabled, and the
//! unit file at `/etc/systemd/system/NAME` (the one play writes) removed, then one
//! `daemon-reload`; a unit that is inactive, not enabled and has no such file is left alone.
//! Restarts and reloads caused by other resources (`restart_on`, `reload_on`) are added for
//! the whole host by `engine::restarts`.

pub use crate::systemd::{
    parse_show, unit_name, unit_path, SvcAction, UnitOp, UnitState, SHOW_PROPERTIES, UNIT_DIR,
};

use super::registry::Key;
use super::{Action, Attrs, Change, Content, Kind, Observed, PathKind, PlanError, Presence};

/// `state: running | stopped | absent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceState {
    Running,
    Stopped,
    /// Stopped, disabled, its unit file removed.
    Absent,
}

impl ServiceState {
    pub fn parse(s: &str) -> Option<ServiceState> {
        match s {
            "running" | "started" => Some(ServiceState::Running),
            "stopped" => Some(ServiceState::Stopped),
            "absent" => Some(ServiceState::Absent),
            _ => None,
        }
    }
}

/// `service:` — fully rendered for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    /// Full unit name (`app-worker.service`).
    pub name: String,
    /// The unit file's content (`unit:` template); `None`: the unit file is not managed.
    pub unit: Option<Content>,
    /// `None`: left alone.
    pub enabled: Option<bool>,
    /// `None`: left alone (restarts then only happen when it runs).
    pub state: Option<ServiceState>,
    pub restart_on: Vec<String>,
    pub reload_on: Vec<String>,
    /// Owner, group and mode of the unit file (the mode is always managed: `mode:`, else
    /// 0644, or 0600 when the unit holds a secret).
    pub attrs: Attrs,
}

/// A service's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePlan {
    pub change: Option<Change>,
    pub op: UnitOp,
    /// The unit file is written this run.
    pub unit_changed: bool,
}

fn error(spec: &ServiceSpec, message: impl Into<String>) -> PlanError {
    PlanError {
        kind: Kind::Service,
        key: spec.name.clone(),
        message: message.into(),
    }
}

/// The unit file play writes (when managed): its path and attributes.
pub fn unit_file(spec: &ServiceSpec) -> Option<(String, &Attrs)> {
    spec.unit
        .as_ref()
        .map(|_| (unit_path(&spec.name), &spec.attrs))
}

/// Plans `state: absent`: stop, disable, remove the unit file, whatever of it is needed.
fn plan_absent(spec: &ServiceSpec, us: &UnitState, observed: &Observed) -> ServicePlan {
    let path = unit_path(&spec.name);
    let has_file = !matches!(observed.path(&path).kind, PathKind::Missing);
    let known = !(us.load_state == "not-found" || us.load_state.is_empty());
    let up = known && us.is_up();
    let enabled = known && us.is_enabled();
    let mut details = Vec::new();
    if enabled {
        details.push(format!("{} → disabled", us.unit_file_state));
    }
    if up {
        details.push(format!("{} → ABSENT", us.active_state.to_uppercase()));
    }
    if has_file {
        details.push(format!("remove {path}"));
    }
    let op = UnitOp {
        daemon_reload: false,
        enable: enabled.then_some(false),
        action: if up { SvcAction::Stop } else { SvcAction::None },
        remove: has_file,
    };
    let change = (!details.is_empty()).then(|| Change {
        kind: Kind::Service,
        key: spec.name.clone(),
        action: Action::Delete,
        details,
        content: None,
        sensitive: false,
        index: 0,
        after: None,
        expect: None,
        files: Default::default(),
        restarts: Vec::new(),
        attrs: false,
    });
    ServicePlan {
        change,
        op,
        unit_changed: false,
    }
}

/// Plans one service. `unit_files_changing`: another resource of the host writes under a
/// systemd unit folder this run, so a unit not found yet may appear after `daemon-reload`.
pub fn plan(
    spec: &ServiceSpec,
    observed: &Observed,
    unit_files_changing: bool,
) -> Result<ServicePlan, PlanError> {
    if !observed.systemd {
        return Err(error(
            spec,
            "systemd is not running on this host (no /run/systemd/system): `service:` needs systemd as init",
        ));
    }
    let Some(us) = observed.units.get(&spec.name) else {
        return Err(error(spec, "not probed (internal error)"));
    };
    if spec.state == Some(ServiceState::Absent) {
        if us.load_state == "masked" {
            return Err(error(
                spec,
                "the unit is masked (systemctl unmask it first)",
            ));
        }
        return Ok(plan_absent(spec, us, observed));
    }
    let unit_change = match &spec.unit {
        Some(c) => {
            let p = unit_path(&spec.name);
            let have = observed.path(&p);
            let unit = super::whole_file::WholeFile {
                kind: Kind::Service,
                path: &p,
                presence: Presence::Present,
                content: Some(c),
                attrs: &spec.attrs,
            };
            unit.plan(&have)
                .map_err(|e| error(spec, format!("{p}: {}", e.message)))?
        }
        None => None,
    };
    // The unit's content is written, or only its owner/group/mode change (no reload, no
    // restart).
    let unit_changed = unit_change
        .as_ref()
        .is_some_and(|c| c.action != Action::Attrs);
    let attr_details: Vec<String> = match &unit_change {
        Some(c) if c.action == Action::Attrs => c.details.clone(),
        _ => Vec::new(),
    };
    let unit_created = unit_changed
        && matches!(
            observed.path(&unit_path(&spec.name)).kind,
            PathKind::Missing
        );
    if us.load_state == "masked" {
        return Err(error(
            spec,
            "the unit is masked (systemctl unmask it first)",
        ));
    }
    let unknown = us.load_state == "not-found" || us.load_state.is_empty();
    if unknown && !unit_changed && !unit_files_changing {
        return Err(error(
            spec,
            "no such unit on this host (LoadState not-found): give it a `unit:` template, or install it first",
        ));
    }
    let mut details = Vec::new();
    let daemon_reload = unit_changed || us.need_daemon_reload;
    if us.need_daemon_reload && !unit_changed {
        details.push("daemon-reload: unit file changed on disk".to_string());
    }
    let shown_file_state = if us.unit_file_state.is_empty() {
        "not-found"
    } else {
        us.unit_file_state.as_str()
    };
    let mut enable = None;
    match spec.enabled {
        Some(true) if !us.is_enabled() => {
            let cannot = matches!(
                us.unit_file_state.as_str(),
                "static" | "indirect" | "generated" | "transient"
            );
            if cannot && !unit_changed {
                return Err(error(
                    spec,
                    format!(
                        "cannot be enabled: its unit file state is `{}` (no [Install] section)",
                        us.unit_file_state
                    ),
                ));
            }
            enable = Some(true);
            details.push(format!("{shown_file_state} → enabled"));
        }
        Some(false) if us.is_enabled() => {
            enable = Some(false);
            details.push(format!("{shown_file_state} → disabled"));
        }
        _ => {}
    }
    let shown = if unknown {
        "ABSENT".to_string()
    } else if us.active_state == "activating" && us.sub_state == "auto-restart" {
        "AUTO-RESTART".to_string()
    } else {
        us.active_state.to_uppercase()
    };
    let mut restarts = Vec::new();
    let action = match spec.state {
        Some(ServiceState::Running) if !us.is_running() || unknown => {
            details.push(format!("{shown} → RUNNING"));
            SvcAction::Start
        }
        Some(ServiceState::Running) if unit_changed || us.need_daemon_reload => {
            restarts.push("restart: unit file changed".to_string());
            SvcAction::Restart
        }
        Some(ServiceState::Stopped) if us.is_up() && !unknown => {
            details.push(format!("{shown} → STOPPED"));
            SvcAction::Stop
        }
        None if (unit_changed || us.need_daemon_reload) && us.is_running() && !unknown => {
            restarts.push("restart: unit file changed".to_string());
            SvcAction::TryRestart
        }
        _ => SvcAction::None,
    };
    let op = UnitOp {
        daemon_reload,
        enable,
        action,
        remove: false,
    };
    let attrs = !attr_details.is_empty();
    let attrs_only = attrs && details.is_empty() && restarts.is_empty();
    details.extend(attr_details);
    if !unit_changed && details.is_empty() && restarts.is_empty() {
        return Ok(ServicePlan {
            change: None,
            op,
            unit_changed,
        });
    }
    Ok(ServicePlan {
        change: Some(Change {
            kind: Kind::Service,
            key: spec.name.clone(),
            action: if unit_created {
                Action::Create
            } else if attrs_only {
                Action::Attrs
            } else {
                Action::Update
            },
            details,
            content: unit_change.and_then(|c| c.content),
            sensitive: false,
            index: 0,
            after: None,
            expect: None,
            files: Default::default(),
            restarts,
            attrs,
        }),
        op,
        unit_changed,
    })
}

impl super::Spec for ServiceSpec {
    type Work = ();
    fn builder_spec(&self) -> Option<super::BuilderSpec<'_>> {
        Some(super::BuilderSpec::ProcessFile {
            file: unit_file(self),
            remove: false,
        })
    }
    fn process(&self) -> Option<super::Process<'_>> {
        Some(super::Process {
            owed: super::OwedKind::Systemd,
            name: &self.name,
            state: self.state.map(|s| match s {
                ServiceState::Running => super::ProcessState::Running,
                ServiceState::Stopped => super::ProcessState::Stopped,
                ServiceState::Absent => super::ProcessState::Absent,
            }),
            restart_on: &self.restart_on,
            reload_on: &self.reload_on,
        })
    }
    fn plan_process(
        &self,
        observed: &Observed,
        unit_files_changing: bool,
    ) -> Option<Result<super::ProcessPlan, PlanError>> {
        Some(
            plan(self, observed, unit_files_changing).map(|p| super::ProcessPlan {
                change: p.change,
                op: super::ProcessOp::Systemd(p.op),
            }),
        )
    }
    fn owned_paths(&self) -> Vec<String> {
        match self.unit {
            Some(_) => vec![unit_path(&self.name)],
            None => Vec::new(),
        }
    }
    fn depends(&self, observed: &super::Observed, out: &mut super::Prints) {
        let key = self.key();
        let v = match observed.units.get(key) {
            Some(u) => format!(
                "load={} active={} sub={} file={} reload-needed={}",
                u.load_state, u.active_state, u.sub_state, u.unit_file_state, u.need_daemon_reload
            ),
            None => "unknown".into(),
        };
        out.insert(format!("unit {key}"), v);
    }
    const DEF: &'static super::registry::KindDef = &DEF;
    fn key(&self) -> &str {
        &self.name
    }
    fn probe_paths(&self) -> Vec<String> {
        vec![unit_path(&self.name)]
    }
    fn watches(&self) -> Vec<(&'static str, &[String])> {
        vec![
            ("restart_on", &self.restart_on),
            ("reload_on", &self.reload_on),
        ]
    }
    fn has_nul(&self) -> bool {
        self.name.contains('\0')
    }
}

/// The spec of a `service:` entry, its errors located at their keys (the registry line's
/// `render`).
pub fn from_entry(
    k: &crate::resolve::Keys,
    b: crate::resolve::Base,
) -> Result<super::Desired, crate::resolve::ResolveError> {
    let crate::resolve::Base {
        key: name,
        mut attrs,
        state,
    } = b;
    let raw = k.raw();
    let state = match state.as_deref() {
        None => None,
        Some(st) => Some(ServiceState::parse(st).ok_or_else(|| {
            k.fail(
                "state",
                format!("a service's state is `running`, `stopped` or `absent`, not `{st}`"),
            )
        })?),
    };
    let unit = match k.string("unit")? {
        None => None,
        Some(t) => {
            Some(k.render_template("unit", &t, &format!("unit template of service {name}"))?)
        }
    };
    if unit.is_none() {
        // Without `unit:`, play writes no unit file: its attributes are not ours.
        for (key, given) in [
            ("mode", raw.has("mode")),
            ("owner", raw.has("owner")),
            ("group", raw.has("group")),
        ] {
            if given {
                return Err(k.fail(
                    key,
                    format!(
                        "`{key}` is the mode of the unit file `unit:` writes: give `unit:` too"
                    ),
                ));
            }
        }
    }
    // The unit file's mode, unless given: 0600 when it holds a secret.
    let bytes = unit.as_ref().map(|c| c.bytes.as_slice()).unwrap_or(b"");
    let secret = k.sensitive() || crate::vault::holds_secret(bytes);
    attrs.mode.get_or_insert(super::default_file_mode(secret));
    Ok(super::Desired::Service(ServiceSpec {
        name,
        unit,
        enabled: k.boolean("enabled")?,
        state,
        restart_on: k.watch_list("restart_on")?,
        reload_on: k.watch_list("reload_on")?,
        attrs,
    }))
}

/// The registry line of `service:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Service,
    name: "service",
    keys: &[
        Key::Text("unit"),
        Key::Any("enabled"),
        Key::Any("restart_on"),
        Key::Any("reload_on"),
        Key::Text("owner"),
        Key::Text("group"),
        Key::Any("mode"),
    ],
    is_path: false,
    watchable: false,
    docs_section: "`service: NAME` — a systemd service",
    plug: super::registry::Plug::Process,
    first_probe: super::registry::FirstProbe::Unit,
    check_key: unit_name,
    render: super::registry::Render::Fn(from_entry),
    check_value: super::registry::any_value,
    records: &[],
    check_entry: super::registry::any_entry,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{sha256_hex, PathState};

    const UNIT: &[u8] =
        b"[Service]\nExecStart=/bin/sleep 1000\n[Install]\nWantedBy=multi-user.target\n";

    fn spec(unit: bool, enabled: Option<bool>, state: Option<ServiceState>) -> ServiceSpec {
        ServiceSpec {
            name: "w.service".into(),
            unit: unit.then(|| Content {
                bytes: UNIT.to_vec(),
                source: "template".into(),
            }),
            enabled,
            state,
            restart_on: vec![],
            reload_on: vec![],
            attrs: Attrs {
                mode: Some(0o644),
                ..Attrs::default()
            },
        }
    }

    fn unit(load: &str, active: &str, sub: &str, file_state: &str) -> UnitState {
        UnitState {
            load_state: load.into(),
            active_state: active.into(),
            sub_state: sub.into(),
            unit_file_state: file_state.into(),
            need_daemon_reload: false,
        }
    }

    fn observed(file: Option<&[u8]>, u: UnitState) -> Observed {
        let mut o = Observed {
            systemd: true,
            ..Default::default()
        };
        o.units.insert("w.service".into(), u);
        if let Some(b) = file {
            o.paths.insert(
                unit_path("w.service"),
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

    fn op(daemon_reload: bool, enable: Option<bool>, action: SvcAction) -> UnitOp {
        UnitOp {
            daemon_reload,
            enable,
            action,
            remove: false,
        }
    }

    #[test]
    fn every_transition() {
        use ServiceState::*;
        let running = || unit("loaded", "active", "running", "enabled");
        let dead = || unit("loaded", "inactive", "dead", "disabled");
        let failed = || unit("loaded", "failed", "failed", "enabled");
        let looping = || unit("loaded", "activating", "auto-restart", "enabled");
        let missing = || unit("not-found", "inactive", "dead", "");
        type Case = (
            ServiceSpec,
            Observed,
            Option<(Action, Vec<&'static str>)>,
            UnitOp,
        );
        let cases: Vec<Case> = vec![
            // new unit from a template: created, reloaded, enabled, started
            (
                spec(true, Some(true), Some(Running)),
                observed(None, missing()),
                Some((
                    Action::Create,
                    vec!["not-found → enabled", "ABSENT → RUNNING"],
                )),
                op(true, Some(true), SvcAction::Start),
            ),
            // converged
            (
                spec(true, Some(true), Some(Running)),
                observed(Some(UNIT), running()),
                None,
                op(false, None, SvcAction::None),
            ),
            // unit changed while running: restart
            (
                spec(true, None, Some(Running)),
                observed(Some(b"old"), running()),
                Some((Action::Update, vec!["restart: unit file changed"])),
                op(true, None, SvcAction::Restart),
            ),
            // unit changed, state unmanaged: restart only if running
            (
                spec(true, None, None),
                observed(Some(b"old"), running()),
                Some((Action::Update, vec!["restart: unit file changed"])),
                op(true, None, SvcAction::TryRestart),
            ),
            (
                spec(true, None, None),
                observed(Some(b"old"), dead()),
                Some((Action::Update, vec![])),
                op(true, None, SvcAction::None),
            ),
            // stopped → running, failed → running, crash loop → running
            (
                spec(false, None, Some(Running)),
                observed(None, dead()),
                Some((Action::Update, vec!["INACTIVE → RUNNING"])),
                op(false, None, SvcAction::Start),
            ),
            (
                spec(false, None, Some(Running)),
                observed(None, failed()),
                Some((Action::Update, vec!["FAILED → RUNNING"])),
                op(false, None, SvcAction::Start),
            ),
            (
                spec(false, None, Some(Running)),
                observed(None, looping()),
                Some((Action::Update, vec!["AUTO-RESTART → RUNNING"])),
                op(false, None, SvcAction::Start),
            ),
            // running → stopped and disabled
            (
                spec(false, Some(false), Some(Stopped)),
                observed(None, running()),
                Some((
                    Action::Update,
                    vec!["enabled → disabled", "ACTIVE → STOPPED"],
                )),
                op(false, Some(false), SvcAction::Stop),
            ),
            (
                spec(false, Some(false), Some(Stopped)),
                observed(None, dead()),
                None,
                op(false, None, SvcAction::None),
            ),
            // a unit file edited on disk behind systemd's back
            (
                spec(true, None, Some(Running)),
                observed(
                    Some(UNIT),
                    UnitState {
                        need_daemon_reload: true,
                        ..running()
                    },
                ),
                Some((
                    Action::Update,
                    vec![
                        "daemon-reload: unit file changed on disk",
                        "restart: unit file changed",
                    ],
                )),
                op(true, None, SvcAction::Restart),
            ),
        ];
        for (i, (s, o, expected, want_op)) in cases.into_iter().enumerate() {
            let p = plan(&s, &o, false).unwrap_or_else(|e| panic!("case {i}: {e}"));
            assert_eq!(p.op, want_op, "case {i}");
            match expected {
                None => assert_eq!(p.change, None, "case {i}"),
                Some((action, details)) => {
                    let c = p.change.unwrap_or_else(|| panic!("case {i}: no change"));
                    assert_eq!(c.action, action, "case {i}");
                    assert_eq!(c.all_details(), details, "case {i}");
                    assert_eq!(c.content.is_some(), p.unit_changed, "case {i}");
                }
            }
        }
    }

    #[test]
    fn absent_stops_disables_and_removes_what_is_there() {
        let gone = |u: UnitState, file: bool| {
            plan(
                &spec(false, None, Some(ServiceState::Absent)),
                &observed(file.then_some(UNIT), u),
                false,
            )
            .unwrap()
        };
        let p = gone(unit("loaded", "active", "running", "enabled"), true);
        let c = p.change.expect("a change");
        assert_eq!(c.action, Action::Delete);
        assert_eq!(
            c.details,
            vec![
                "enabled → disabled",
                "ACTIVE → ABSENT",
                "remove /etc/systemd/system/w.service"
            ]
        );
        assert_eq!(
            p.op,
            UnitOp {
                daemon_reload: false,
                enable: Some(false),
                action: SvcAction::Stop,
                remove: true,
            }
        );
        // Already gone: no change, nothing to do.
        let p = gone(unit("not-found", "inactive", "dead", ""), false);
        assert_eq!(p.change, None);
        assert_eq!(p.op, op(false, None, SvcAction::None));
        // A unit from a package (no file of play's): stopped and disabled only.
        let p = gone(unit("loaded", "inactive", "dead", "enabled"), false);
        assert_eq!(p.op, op(false, Some(false), SvcAction::None));
        let p = gone(unit("loaded", "inactive", "dead", "disabled"), false);
        assert_eq!(p.change, None);
        assert_eq!(ServiceState::parse("absent"), Some(ServiceState::Absent));
    }

    #[test]
    fn a_unit_file_mode_change_alone_is_an_attrs_change() {
        let mut s = spec(true, None, Some(ServiceState::Running));
        s.attrs.mode = Some(0o600);
        let p = plan(
            &s,
            &observed(Some(UNIT), unit("loaded", "active", "running", "enabled")),
            false,
        )
        .unwrap();
        let c = p.change.expect("a change");
        assert_eq!(c.action, Action::Attrs);
        assert_eq!(c.details, vec!["mode 0644 → 0600".to_string()]);
        assert_eq!(p.op, op(false, None, SvcAction::None));
        assert!(!p.unit_changed);
    }

    #[test]
    fn refusals() {
        let s = spec(false, Some(true), Some(ServiceState::Running));
        let no_systemd = Observed::default();
        assert!(plan(&s, &no_systemd, false)
            .unwrap_err()
            .message
            .contains("systemd is not running"));
        let missing = observed(None, unit("not-found", "inactive", "dead", ""));
        assert!(plan(&s, &missing, false)
            .unwrap_err()
            .message
            .contains("no such unit"));
        // ... unless another resource installs a unit file this run.
        assert_eq!(
            plan(&s, &missing, true).unwrap().op.action,
            SvcAction::Start
        );
        let fixed = observed(None, unit("loaded", "active", "running", "static"));
        assert!(plan(&s, &fixed, false)
            .unwrap_err()
            .message
            .contains("cannot be enabled"));
        let masked = observed(None, unit("masked", "inactive", "dead", "masked"));
        assert!(plan(&s, &masked, false)
            .unwrap_err()
            .message
            .contains("masked"));
    }
}
