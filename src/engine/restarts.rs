//! Restarts that are never lost: which programs and services a host's changes restart or
//! reload (`restart_on`, `reload_on`, their own conf or unit file), merged with the restarts
//! earlier runs owe (the host's state file, [`OWED_STATE_FILE`]). Pure functions.
//!
//! The promise is recorded on the host before the changes causing it are applied, and an entry
//! is cleared only once its restart succeeded; a run that finds an entry performs it even when
//! nothing else changed. Several reasons for one program or service give one restart, after
//! all of the host's file changes.
//!
//! [`OWED_STATE_FILE`]: crate::resources::OWED_STATE_FILE

use std::collections::{BTreeMap, BTreeSet};

use crate::resources::{
    Action, Change, Observed, OwedAction, OwedKind, OwedRestart, ProcessState, Resource,
};
use crate::supervisor::{group_state, SupervisorOp};
use crate::systemd::{SvcAction, UnitOp};

/// A program or service of the host, as owed-restart entries name it.
pub type ProcessId = (OwedKind, String);

/// What [`plan`] decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestartPlan {
    /// This run's promises: one entry per program/service owing a restart or reload.
    pub promised: Vec<OwedRestart>,
    /// Programs and services this host's plays manage (their old entries are replaced by
    /// `promised`; entries of others are kept untouched).
    pub managed: BTreeSet<ProcessId>,
}

/// `keys` joined for a detail line: `restart: /a, /b changed`.
fn reasons_text(keys: &[String]) -> String {
    keys.join(", ")
}

fn push_unique(v: &mut Vec<String>, items: impl IntoIterator<Item = String>) {
    for i in items {
        if !v.contains(&i) {
            v.push(i);
        }
    }
}

/// The change of resource `index` (created, as an update without content, when missing).
fn change_for<'c>(changes: &'c mut Vec<Change>, index: usize, r: &Resource) -> &'c mut Change {
    if let Some(pos) = changes.iter().position(|c| c.index == index) {
        return &mut changes[pos];
    }
    changes.push(Change {
        kind: r.desired.kind(),
        key: r.desired.key().to_string(),
        action: Action::Update,
        details: Vec::new(),
        content: None,
        sensitive: r.sensitive,
        index,
        after: None,
        expect: None,
        files: Default::default(),
        restarts: Vec::new(),
        attrs: false,
    });
    let last = changes.len() - 1;
    &mut changes[last]
}

/// Adds restarts and reloads to the host's plan: `changes` (each resource's own change, in
/// resource order), `programs` and `services` (each one's own work, by resource index) are
/// updated in place; `observed.owed` holds the earlier runs' promises.
pub fn plan(
    resources: &[Resource],
    changes: &mut Vec<Change>,
    programs: &mut BTreeMap<usize, SupervisorOp>,
    services: &mut BTreeMap<usize, UnitOp>,
    observed: &Observed,
) -> RestartPlan {
    let changed: BTreeSet<String> = changes
        .iter()
        .filter(|c| c.kind.watchable())
        .map(|c| c.key.clone())
        .collect();
    let owed = observed.owed.clone().unwrap_or_default();
    let owed_for = |kind: OwedKind, name: &str, action: OwedAction| -> Vec<String> {
        owed.iter()
            .filter(|o| o.kind == kind && o.name == name && o.action == action)
            .flat_map(|o| o.reasons.iter().cloned())
            .collect()
    };
    let mut out = RestartPlan::default();
    for (i, r) in resources.iter().enumerate() {
        let Some(spec) = r.desired.process() else {
            continue;
        };
        match spec.owed {
            OwedKind::Supervisor => {
                out.managed
                    .insert((OwedKind::Supervisor, spec.name.to_string()));
                if spec.state != Some(ProcessState::Running) {
                    continue;
                }
                let now: Vec<String> = spec
                    .restart_on
                    .iter()
                    .filter(|k| changed.contains(*k))
                    .cloned()
                    .collect();
                let conf_changed = changes.iter().any(|c| c.index == i && c.content.is_some());
                let earlier = owed_for(OwedKind::Supervisor, spec.name, OwedAction::Restart);
                let mut reasons: Vec<String> = now.iter().map(|k| format!("{k} changed")).collect();
                if conf_changed {
                    push_unique(&mut reasons, ["conf changed".to_string()]);
                }
                push_unique(&mut reasons, earlier.clone());
                if reasons.is_empty() {
                    continue;
                }
                out.promised.push(OwedRestart {
                    kind: OwedKind::Supervisor,
                    name: spec.name.to_string(),
                    action: OwedAction::Restart,
                    reasons,
                });
                let up = observed
                    .processes
                    .as_deref()
                    .and_then(|p| group_state(p, spec.name))
                    .is_some_and(|s| s.is_up());
                if !up || (now.is_empty() && earlier.is_empty()) {
                    // Not running: the start picks up every change. Only the conf changed:
                    // the re-read restarts it.
                    continue;
                }
                let op = programs.entry(i).or_insert(SupervisorOp::None);
                let reread = match *op {
                    SupervisorOp::Run { reread, .. } => reread,
                    _ => false,
                } || !earlier.is_empty();
                *op = SupervisorOp::Run {
                    reread,
                    restart: true,
                };
                let c = change_for(changes, i, r);
                if !now.is_empty() {
                    c.restarts
                        .push(format!("restart: {} changed", reasons_text(&now)));
                }
                if !earlier.is_empty() {
                    c.restarts.push(format!(
                        "restart owed by an earlier run: {}",
                        earlier.join("; ")
                    ));
                }
            }
            _ => {
                let Some(spec) = r.desired.process().filter(|p| p.owed == OwedKind::Systemd) else {
                    continue;
                };
                out.managed
                    .insert((OwedKind::Systemd, spec.name.to_string()));
                if matches!(
                    spec.state,
                    Some(ProcessState::Stopped | ProcessState::Absent)
                ) {
                    continue;
                }
                let running = observed
                    .units
                    .get(spec.name)
                    .is_some_and(|u| u.is_running());
                if spec.state.is_none() && !running {
                    continue;
                }
                let restart_now: Vec<String> = spec
                    .restart_on
                    .iter()
                    .filter(|k| changed.contains(*k))
                    .cloned()
                    .collect();
                let reload_now: Vec<String> = spec
                    .reload_on
                    .iter()
                    .filter(|k| changed.contains(*k) && !restart_now.contains(k))
                    .cloned()
                    .collect();
                let unit_changed = changes.iter().any(|c| c.index == i && c.content.is_some());
                let earlier_restart = owed_for(OwedKind::Systemd, spec.name, OwedAction::Restart);
                let earlier_reload = owed_for(OwedKind::Systemd, spec.name, OwedAction::Reload);
                let mut restart: Vec<String> =
                    restart_now.iter().map(|k| format!("{k} changed")).collect();
                if unit_changed {
                    push_unique(&mut restart, ["unit file changed".to_string()]);
                }
                push_unique(&mut restart, earlier_restart.clone());
                let mut reload: Vec<String> =
                    reload_now.iter().map(|k| format!("{k} changed")).collect();
                push_unique(&mut reload, earlier_reload.clone());
                let (action, reasons) = if !restart.is_empty() {
                    (OwedAction::Restart, restart)
                } else if !reload.is_empty() {
                    (OwedAction::Reload, reload)
                } else {
                    continue;
                };
                out.promised.push(OwedRestart {
                    kind: OwedKind::Systemd,
                    name: spec.name.to_string(),
                    action,
                    reasons,
                });
                let op = services.entry(i).or_insert(UnitOp {
                    daemon_reload: false,
                    enable: None,
                    action: SvcAction::None,
                    remove: false,
                });
                // A start (it is not running) or a restart for its unit file covers it all.
                if op.action != SvcAction::None || !running {
                    continue;
                }
                let managed = spec.state == Some(ProcessState::Running);
                let c = change_for(changes, i, r);
                let earlier = match action {
                    OwedAction::Restart => &earlier_restart,
                    OwedAction::Reload => &earlier_reload,
                };
                let now = match action {
                    OwedAction::Restart => &restart_now,
                    OwedAction::Reload => &reload_now,
                };
                let verb = match action {
                    OwedAction::Restart => "restart",
                    OwedAction::Reload => "reload",
                };
                op.action = match (action, managed) {
                    (OwedAction::Restart, true) => SvcAction::Restart,
                    (OwedAction::Restart, false) => SvcAction::TryRestart,
                    (OwedAction::Reload, true) => SvcAction::Reload,
                    (OwedAction::Reload, false) => SvcAction::TryReload,
                };
                if !now.is_empty() {
                    c.restarts
                        .push(format!("{verb}: {} changed", reasons_text(now)));
                }
                if !earlier.is_empty() {
                    c.restarts.push(format!(
                        "{verb} owed by an earlier run: {}",
                        earlier.join("; ")
                    ));
                }
            }
        }
    }
    changes.sort_by_key(|c| c.index);
    out
}

/// The host's new list: entries of processes this host does not manage are kept, the managed
/// ones replaced by `promised`, minus `done` (restarts that succeeded).
pub fn merge(
    old: &[OwedRestart],
    plan: &RestartPlan,
    done: &BTreeSet<ProcessId>,
) -> Vec<OwedRestart> {
    let mut out: Vec<OwedRestart> = old
        .iter()
        .filter(|o| !plan.managed.contains(&(o.kind, o.name.clone())))
        .cloned()
        .collect();
    out.extend(
        plan.promised
            .iter()
            .filter(|o| !done.contains(&(o.kind, o.name.clone())))
            .cloned(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::example::{kind, resources};
    use crate::supervisor::{ProcState, ProcessStatus};
    use crate::systemd::UnitState;

    /// The host's resources for these entries (YAML text, one `- ` entry each).
    fn host(entries: &[String]) -> Vec<Resource> {
        resources(&entries.concat()).expect("the host's resources")
    }

    /// `- KEY: [a, b]` (nothing for no keys).
    fn list(key: &str, keys: &[&str]) -> String {
        if keys.is_empty() {
            String::new()
        } else {
            format!("  {key}: [{}]\n", keys.join(", "))
        }
    }

    fn file(path: &str) -> String {
        format!("- file: {path}\n")
    }

    fn program(name: &str, state: &str, restart_on: &[&str]) -> String {
        format!(
            "- program: '{name}'\n  command: /bin/{name}\n  state: {state}\n{}",
            list("restart_on", restart_on)
        )
    }

    fn service(name: &str, state: Option<&str>, restart_on: &[&str], reload_on: &[&str]) -> String {
        let state = state.map_or(String::new(), |s| format!("  state: {s}\n"));
        format!(
            "- service: {name}\n{state}{}{}",
            list("restart_on", restart_on),
            list("reload_on", reload_on)
        )
    }

    fn file_change(index: usize, key: &str) -> Change {
        Change {
            kind: kind("file").expect("a kind"),
            key: key.into(),
            action: Action::Update,
            details: vec![],
            content: None,
            sensitive: false,
            index,
            after: None,
            expect: None,
            files: Default::default(),
            restarts: Vec::new(),
            attrs: false,
        }
    }

    fn observed(running_programs: &[&str], units: &[(&str, &str)]) -> Observed {
        let mut o = Observed {
            processes: Some(
                running_programs
                    .iter()
                    .map(|n| ProcessStatus {
                        group: n.to_string(),
                        name: n.to_string(),
                        state: ProcState::Running,
                        pid: 1,
                        start: 1,
                        description: String::new(),
                    })
                    .collect(),
            ),
            systemd: true,
            owed: Some(vec![]),
            ..Default::default()
        };
        for (u, active) in units {
            o.units.insert(
                u.to_string(),
                UnitState {
                    load_state: "loaded".into(),
                    active_state: active.to_string(),
                    sub_state: String::new(),
                    unit_file_state: "enabled".into(),
                    need_daemon_reload: false,
                },
            );
        }
        o
    }

    fn owed(kind: OwedKind, name: &str, action: OwedAction, reasons: &[&str]) -> OwedRestart {
        OwedRestart {
            kind,
            name: name.into(),
            action,
            reasons: reasons.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_watched_file_restarts_exactly_its_watchers_once() {
        let rs = host(&[
            file("/etc/app/app.ini"),
            file("/srv/app/current"),
            file("/etc/other"),
            program("web", "running", &["/etc/app/app.ini", "/srv/app/current"]),
            program("worker", "running", &["/etc/other"]),
            service("api.service", Some("running"), &["/etc/app/app.ini"], &[]),
            service("nginx.service", Some("running"), &[], &["/srv/app/current"]),
        ]);
        let mut changes = vec![
            file_change(0, "/etc/app/app.ini"),
            file_change(1, "/srv/app/current"),
        ];
        let mut programs = BTreeMap::new();
        let mut services = BTreeMap::new();
        let o = observed(
            &["web", "worker"],
            &[("api.service", "active"), ("nginx.service", "active")],
        );
        let p = plan(&rs, &mut changes, &mut programs, &mut services, &o);
        assert_eq!(
            programs,
            BTreeMap::from([(
                3,
                SupervisorOp::Run {
                    reread: false,
                    restart: true
                }
            )]),
            "web restarts once for both reasons; worker is untouched"
        );
        assert_eq!(services[&5].action, SvcAction::Restart);
        assert_eq!(services[&6].action, SvcAction::Reload);
        let web = changes.iter().find(|c| c.index == 3).unwrap();
        assert_eq!(web.kind.as_str(), "program");
        assert_eq!(
            web.restarts,
            vec!["restart: /etc/app/app.ini, /srv/app/current changed"]
        );
        let nginx = changes.iter().find(|c| c.index == 6).unwrap();
        assert_eq!(nginx.restarts, vec!["reload: /srv/app/current changed"]);
        assert_eq!(
            changes.iter().map(|c| c.index).collect::<Vec<_>>(),
            vec![0, 1, 3, 5, 6]
        );
        assert_eq!(
            p.promised,
            vec![
                owed(
                    OwedKind::Supervisor,
                    "web",
                    OwedAction::Restart,
                    &["/etc/app/app.ini changed", "/srv/app/current changed"]
                ),
                owed(
                    OwedKind::Systemd,
                    "api.service",
                    OwedAction::Restart,
                    &["/etc/app/app.ini changed"]
                ),
                owed(
                    OwedKind::Systemd,
                    "nginx.service",
                    OwedAction::Reload,
                    &["/srv/app/current changed"]
                ),
            ]
        );
        assert_eq!(p.managed.len(), 4);
    }

    #[test]
    fn nothing_changed_nothing_restarts() {
        let rs = host(&[
            file("/etc/app/app.ini"),
            program("web", "running", &["/etc/app/app.ini"]),
            service("api.service", Some("running"), &["/etc/app/app.ini"], &[]),
        ]);
        let mut changes = vec![];
        let (mut programs, mut services) = (BTreeMap::new(), BTreeMap::new());
        let o = observed(&["web"], &[("api.service", "active")]);
        let p = plan(&rs, &mut changes, &mut programs, &mut services, &o);
        assert!(changes.is_empty() && programs.is_empty() && services.is_empty());
        assert!(p.promised.is_empty());
    }

    #[test]
    fn an_owed_restart_is_done_without_changes_and_shown() {
        let rs = host(&[
            file("/etc/app/app.ini"),
            program("web", "running", &["/etc/app/app.ini"]),
            service("api.service", None, &[], &["/etc/app/app.ini"]),
        ]);
        let mut o = observed(&["web"], &[("api.service", "active")]);
        o.owed = Some(vec![
            owed(
                OwedKind::Supervisor,
                "web",
                OwedAction::Restart,
                &["/etc/app/app.ini changed"],
            ),
            owed(
                OwedKind::Systemd,
                "api.service",
                OwedAction::Reload,
                &["/etc/app/app.ini changed"],
            ),
            owed(
                OwedKind::Supervisor,
                "elsewhere",
                OwedAction::Restart,
                &["x changed"],
            ),
        ]);
        let mut changes = vec![];
        let (mut programs, mut services) = (BTreeMap::new(), BTreeMap::new());
        let p = plan(&rs, &mut changes, &mut programs, &mut services, &o);
        assert_eq!(
            programs[&1],
            SupervisorOp::Run {
                reread: true,
                restart: true
            }
        );
        assert_eq!(
            services[&2].action,
            SvcAction::TryReload,
            "state unmanaged: only if running"
        );
        assert_eq!(
            changes[0].restarts,
            vec!["restart owed by an earlier run: /etc/app/app.ini changed"]
        );
        assert_eq!(
            changes[1].restarts,
            vec!["reload owed by an earlier run: /etc/app/app.ini changed"]
        );
        // Entries of programs this host's plays do not manage survive; done ones go.
        let done = BTreeSet::from([(OwedKind::Supervisor, "web".to_string())]);
        let left = merge(o.owed.as_deref().unwrap(), &p, &done);
        assert_eq!(
            left,
            vec![
                owed(
                    OwedKind::Supervisor,
                    "elsewhere",
                    OwedAction::Restart,
                    &["x changed"]
                ),
                owed(
                    OwedKind::Systemd,
                    "api.service",
                    OwedAction::Reload,
                    &["/etc/app/app.ini changed"]
                ),
            ]
        );
    }

    #[test]
    fn stopped_or_not_running_processes_owe_nothing_to_do_now() {
        let rs = host(&[
            file("/etc/app/app.ini"),
            program("off", "stopped", &["/etc/app/app.ini"]),
            program("down", "running", &["/etc/app/app.ini"]),
            service("s1.service", Some("stopped"), &["/etc/app/app.ini"], &[]),
            service("s2.service", None, &["/etc/app/app.ini"], &[]),
        ]);
        let mut changes = vec![file_change(0, "/etc/app/app.ini")];
        // `down` is not running (its own plan starts it); s2 is inactive and unmanaged.
        let mut programs = BTreeMap::from([(
            2,
            SupervisorOp::Run {
                reread: false,
                restart: false,
            },
        )]);
        let mut services = BTreeMap::new();
        let o = observed(&[], &[("s1.service", "active"), ("s2.service", "inactive")]);
        let mut o2 = o.clone();
        o2.owed = Some(vec![owed(
            OwedKind::Supervisor,
            "off",
            OwedAction::Restart,
            &["old"],
        )]);
        let p = plan(&rs, &mut changes, &mut programs, &mut services, &o2);
        assert_eq!(
            programs[&2],
            SupervisorOp::Run {
                reread: false,
                restart: false
            }
        );
        assert!(services.is_empty());
        assert_eq!(changes.len(), 1);
        // The start is promised (a failed run must not forget it); `off`'s old entry is dropped.
        assert_eq!(
            p.promised,
            vec![owed(
                OwedKind::Supervisor,
                "down",
                OwedAction::Restart,
                &["/etc/app/app.ini changed"]
            )]
        );
        assert_eq!(
            merge(o2.owed.as_deref().unwrap(), &p, &BTreeSet::new()),
            p.promised
        );
    }

    #[test]
    fn own_conf_or_unit_changes_are_promised_and_not_doubled() {
        let rs = host(&[
            file("/etc/app/app.ini"),
            program("web", "running", &["/etc/app/app.ini"]),
            service("api.service", Some("running"), &["/etc/app/app.ini"], &[]),
        ]);
        let mut conf = file_change(1, "web");
        conf.kind = kind("program").expect("a kind");
        conf.content = Some(crate::resources::ContentChange {
            path: "/etc/supervisor/conf.d/web.conf".into(),
            old: None,
            old_sha256: None,
            old_size: Some(1),
            old_unread: None,
            new: b"x".to_vec(),
            new_sha256: String::new(),
        });
        conf.restarts = vec!["restart: conf changed".into()];
        let mut unit = conf.clone();
        unit.kind = kind("service").expect("a kind");
        unit.key = "api.service".into();
        unit.index = 2;
        unit.restarts = vec!["restart: unit file changed".into()];
        let mut changes = vec![file_change(0, "/etc/app/app.ini"), conf, unit];
        let mut programs = BTreeMap::from([(
            1,
            SupervisorOp::Run {
                reread: true,
                restart: false,
            },
        )]);
        let mut services = BTreeMap::from([(
            2,
            UnitOp {
                daemon_reload: true,
                enable: None,
                action: SvcAction::Restart,
                remove: false,
            },
        )]);
        let o = observed(&["web"], &[("api.service", "active")]);
        let p = plan(&rs, &mut changes, &mut programs, &mut services, &o);
        assert_eq!(
            programs[&1],
            SupervisorOp::Run {
                reread: true,
                restart: true
            }
        );
        assert_eq!(services[&2].action, SvcAction::Restart);
        assert_eq!(
            changes[2].restarts,
            vec!["restart: unit file changed"],
            "the unit's own restart covers restart_on"
        );
        assert_eq!(
            p.promised[0].reasons,
            vec!["/etc/app/app.ini changed", "conf changed"]
        );
        assert_eq!(
            p.promised[1].reasons,
            vec!["/etc/app/app.ini changed", "unit file changed"]
        );
    }
}
