//! systemd, as play drives it: unit names and files, what `systemctl show` says of a unit
//! ([`UnitState`], read by the probe), and the work a host's units get after its files are
//! written ([`UnitOp`], done by `apply::services_script`). The `service:` kind plans with
//! these; the probe and the engine's services phase use them without knowing the kind.

use std::collections::BTreeMap;

/// Where unit files from `unit:` templates go.
pub const UNIT_DIR: &str = "/etc/systemd/system";

/// The unit file of unit `name` (a full unit name).
pub fn unit_path(name: &str) -> String {
    format!("{UNIT_DIR}/{name}")
}

const UNIT_TYPES: &[&str] = &[
    "service",
    "socket",
    "timer",
    "target",
    "path",
    "mount",
    "automount",
    "swap",
    "slice",
];

/// The full unit name: `app-worker` → `app-worker.service`; checked (letters, digits,
/// `:_.@-\`, a known type suffix).
pub fn unit_name(raw: &str) -> Result<String, String> {
    let has_type = raw
        .rsplit_once('.')
        .is_some_and(|(_, t)| UNIT_TYPES.contains(&t));
    let name = if has_type {
        raw.to_string()
    } else {
        format!("{raw}.service")
    };
    let stem = name.rsplit_once('.').map(|(s, _)| s).unwrap_or("");
    if stem.is_empty()
        || name.len() > 255
        || stem.starts_with('-')
        || !stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":_.@-\\".contains(&b))
    {
        return Err(format!(
            "service name `{raw}`: use letters, digits and `:_.@-\\` (a unit name)"
        ));
    }
    Ok(name)
}

/// What `systemctl show` says about a unit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitState {
    pub load_state: String,
    pub active_state: String,
    pub sub_state: String,
    pub unit_file_state: String,
    pub need_daemon_reload: bool,
}

impl UnitState {
    /// Running, or on its way up (a crash loop's `auto-restart` does not count).
    pub fn is_running(&self) -> bool {
        match self.active_state.as_str() {
            "active" | "reloading" => true,
            "activating" => self.sub_state != "auto-restart",
            _ => false,
        }
    }

    /// Anything stopping would act on.
    pub fn is_up(&self) -> bool {
        matches!(
            self.active_state.as_str(),
            "active" | "reloading" | "activating"
        )
    }

    pub fn is_enabled(&self) -> bool {
        matches!(
            self.unit_file_state.as_str(),
            "enabled" | "enabled-runtime" | "linked" | "linked-runtime" | "alias"
        )
    }
}

/// The `systemctl show` properties the probe asks for.
pub const SHOW_PROPERTIES: &str = "LoadState,ActiveState,SubState,UnitFileState,NeedDaemonReload";

/// Parses `systemctl show -p … UNIT…` output for `names` (blocks of `Key=Value` lines, one
/// per unit in order, separated by blank lines).
pub fn parse_show(text: &str, names: &[String]) -> Result<BTreeMap<String, UnitState>, String> {
    let blocks: Vec<&str> = text
        .split("\n\n")
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .collect();
    if blocks.len() != names.len() {
        return Err(format!(
            "systemctl show: {} blocks for {} units",
            blocks.len(),
            names.len()
        ));
    }
    let mut out = BTreeMap::new();
    for (name, block) in names.iter().zip(blocks) {
        let mut u = UnitState::default();
        for line in block.lines() {
            let Some((k, v)) = line.split_once('=') else {
                return Err(format!("systemctl show: unexpected line `{line}`"));
            };
            match k {
                "LoadState" => u.load_state = v.to_string(),
                "ActiveState" => u.active_state = v.to_string(),
                "SubState" => u.sub_state = v.to_string(),
                "UnitFileState" => u.unit_file_state = v.to_string(),
                "NeedDaemonReload" => u.need_daemon_reload = v == "yes",
                _ => {}
            }
        }
        out.insert(name.clone(), u);
    }
    Ok(out)
}

/// The start/stop part of a service's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SvcAction {
    None,
    Start,
    Stop,
    Restart,
    /// Restart only if running (`state` unmanaged).
    TryRestart,
    /// Reload where the unit supports it, else restart (`reload-or-restart`).
    Reload,
    /// Same, only if running.
    TryReload,
}

impl SvcAction {
    /// The `systemctl` verb.
    pub fn verb(self) -> Option<&'static str> {
        match self {
            SvcAction::None => None,
            SvcAction::Start => Some("start"),
            SvcAction::Stop => Some("stop"),
            SvcAction::Restart => Some("restart"),
            SvcAction::TryRestart => Some("try-restart"),
            SvcAction::Reload => Some("reload-or-restart"),
            SvcAction::TryReload => Some("try-reload-or-restart"),
        }
    }

    /// The unit must be running afterwards.
    pub fn must_run(self) -> bool {
        matches!(
            self,
            SvcAction::Start | SvcAction::Restart | SvcAction::Reload
        )
    }
}

/// What happens to a service after the host's files are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitOp {
    /// A unit file changed, or systemd asks for a reload: one `daemon-reload` for the host.
    pub daemon_reload: bool,
    pub enable: Option<bool>,
    pub action: SvcAction,
    /// `state: absent`: remove the unit file (after stop and disable), then daemon-reload.
    pub remove: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names() {
        assert_eq!(unit_name("app-worker").unwrap(), "app-worker.service");
        assert_eq!(unit_name("app.worker").unwrap(), "app.worker.service");
        assert_eq!(unit_name("backup.timer").unwrap(), "backup.timer");
        assert_eq!(
            unit_name("getty@tty1.service").unwrap(),
            "getty@tty1.service"
        );
        assert!(unit_name("a b").is_err());
        assert!(unit_name("../x").is_err());
        assert!(unit_name("-x").is_err());
        assert!(unit_name(".service").is_err());
        assert!(unit_name("x;rm").is_err());
    }

    #[test]
    fn show_output_is_split_per_unit() {
        let text = "LoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\nNeedDaemonReload=no\n\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nUnitFileState=\nNeedDaemonReload=no\n";
        let names = vec!["a.service".to_string(), "b.service".to_string()];
        let m = parse_show(text, &names).unwrap();
        assert!(m["a.service"].is_running() && m["a.service"].is_enabled());
        assert_eq!(m["b.service"].load_state, "not-found");
        assert!(!m["b.service"].is_running());
        assert!(parse_show(text, &names[..1]).is_err());
        assert!(parse_show("garbage\n", &names[..1]).is_err());
        assert_eq!(parse_show("", &[]).unwrap().len(), 0);
    }
}
