//! Connection settings of a host, from its vars and the command line.
//!
//! | var | Ansible alias | default |
//! |---|---|---|
//! | `ssh_host` | `ansible_host` | the inventory name |
//! | `ssh_port` | `ansible_port` | 22 |
//! | `ssh_user` | `ansible_user` | `$USER` |
//! | `ssh_private_key` | `ansible_ssh_private_key_file` | agent, then ~/.ssh/id_ed25519, id_rsa |
//! | `ssh_known_hosts` | – | ~/.ssh/known_hosts |
//! | `become` | `ansible_become` | false |
//!
//! Command-line overrides (`-u`, `--private-key`, `--known-hosts`) win over vars.

use std::path::PathBuf;
use std::time::Duration;

use super::{Host, InventoryError};
use crate::transport::{ConnectOptions, HostKeyPolicy};
use crate::yaml::Value;

/// Command-line settings that override inventory vars.
#[derive(Debug, Clone, Default)]
pub struct ConnectionOverrides {
    pub user: Option<String>,
    pub private_key: Option<PathBuf>,
    pub known_hosts: Option<PathBuf>,
    pub host_key_policy: HostKeyPolicy,
    pub timeout: Option<Duration>,
    /// `--become`: run as root with sudo.
    pub become_root: bool,
}

fn var<'a>(host: &'a Host, names: &[&str]) -> Option<&'a Value> {
    names.iter().find_map(|n| host.vars.get(*n))
}

fn as_string(host: &Host, name: &str, v: &Value) -> Result<String, InventoryError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(InventoryError::Connection {
            host: host.name.clone(),
            message: format!("`{name}` must be a string"),
        }),
    }
}

fn as_bool(host: &Host, name: &str, v: &Value) -> Result<bool, InventoryError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "yes" | "true" | "1" | "on" => Ok(true),
            "no" | "false" | "0" | "off" | "" => Ok(false),
            _ => Err(InventoryError::Connection {
                host: host.name.clone(),
                message: format!("`{name}` must be true or false, found `{s}`"),
            }),
        },
        Value::Number(n) => Ok(n.as_i64() != Some(0)),
        _ => Err(InventoryError::Connection {
            host: host.name.clone(),
            message: format!("`{name}` must be true or false"),
        }),
    }
}

/// `~/x` → `$HOME/x`.
pub fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
}

/// The connection settings for `host`.
pub fn connection_for(
    host: &Host,
    o: &ConnectionOverrides,
) -> Result<ConnectOptions, InventoryError> {
    let address = match var(host, &["ssh_host", "ansible_host"]) {
        Some(v) => as_string(host, "ssh_host", v)?,
        None => host.name.clone(),
    };
    let port = match var(host, &["ssh_port", "ansible_port"]) {
        Some(v) => {
            let s = as_string(host, "ssh_port", v)?;
            s.parse::<u16>().map_err(|_| InventoryError::Connection {
                host: host.name.clone(),
                message: format!("`ssh_port` must be a port number, found `{s}`"),
            })?
        }
        None => 22,
    };
    let user = match (&o.user, var(host, &["ssh_user", "ansible_user"])) {
        (Some(u), _) => u.clone(),
        (None, Some(v)) => as_string(host, "ssh_user", v)?,
        (None, None) => std::env::var("USER").unwrap_or_else(|_| "root".into()),
    };
    let private_keys = match (
        &o.private_key,
        var(host, &["ssh_private_key", "ansible_ssh_private_key_file"]),
    ) {
        (Some(k), _) => vec![k.clone()],
        (None, Some(v)) => vec![expand_home(&as_string(host, "ssh_private_key", v)?)],
        (None, None) => Vec::new(),
    };
    let known_hosts = match (&o.known_hosts, var(host, &["ssh_known_hosts"])) {
        (Some(k), _) => k.clone(),
        (None, Some(v)) => expand_home(&as_string(host, "ssh_known_hosts", v)?),
        (None, None) => expand_home("~/.ssh/known_hosts"),
    };
    let become_root = o.become_root
        || match var(host, &["become", "ansible_become"]) {
            Some(v) => as_bool(host, "become", v)?,
            None => false,
        };
    Ok(ConnectOptions {
        name: host.name.clone(),
        address,
        port,
        user,
        private_keys,
        known_hosts,
        host_key_policy: o.host_key_policy,
        become_root,
        timeout: o.timeout.unwrap_or(Duration::from_secs(10)),
        use_agent: true,
    })
}
