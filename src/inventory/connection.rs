//! Connection settings of a host, from its vars and the command line.
//!
//! | var | Ansible alias | default |
//! |---|---|---|
//! | `ssh_host` | `ansible_host`, `ansible_ssh_host` | the inventory name |
//! | `ssh_port` | `ansible_port`, `ansible_ssh_port` | 22 |
//! | `ssh_user` | `ansible_user`, `ansible_ssh_user` | `$USER` |
//! | `ssh_private_key` | `ansible_ssh_private_key_file` | agent, then ~/.ssh/id_ed25519, id_rsa |
//! | `ssh_known_hosts` | – | ~/.ssh/known_hosts |
//! | `become` | `ansible_become` | false |
//! | `become_password` | `ansible_become_password`, `ansible_become_pass` | none (passwordless sudo) |
//! | `ssh_config` | – | ~/.ssh/config (when it exists) |
//! | `ssh_proxy_jump` | `-J`/`-o ProxyJump=` in `ansible_ssh_common_args` | the config's `ProxyJump` |
//!
//! Command-line overrides (`-u`, `--private-key`, `--known-hosts`, `-F`) win over vars, and vars
//! win over the OpenSSH client config (Ansible's order): the config is looked up under
//! `ssh_host` (else the inventory name) and gives what vars leave unset — `HostName`, `User`,
//! `Port`, `IdentityFile`, `IdentitiesOnly`, `UserKnownHostsFile`, `StrictHostKeyChecking`,
//! `ConnectTimeout`, `ServerAliveInterval`, `ProxyJump` ([`crate::transport::ssh_config`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Host, InventoryError};
use crate::transport::ssh_config::{self, Context, HostConfig, SshConfig, Tokens};
use crate::transport::{ConnectOptions, HostKeyPolicy, Secret};
use crate::yaml::Value;

/// Most hops of a `ProxyJump` chain (counting jump hosts' own `ProxyJump`s).
const MAX_JUMPS: usize = 8;

/// Command-line settings that override inventory vars.
#[derive(Debug, Clone, Default)]
pub struct ConnectionOverrides {
    pub user: Option<String>,
    pub private_key: Option<PathBuf>,
    pub known_hosts: Option<PathBuf>,
    /// `--host-key-policy` (else `StrictHostKeyChecking`, else strict).
    pub host_key_policy: Option<HostKeyPolicy>,
    /// `--timeout` (else `ConnectTimeout`, else 10 s).
    pub timeout: Option<Duration>,
    /// `-F FILE`: the OpenSSH client config instead of `ssh_config` / ~/.ssh/config; `none`
    /// for no file.
    pub ssh_config: Option<PathBuf>,
    /// `--become`: run as root with sudo.
    pub become_root: bool,
    /// `--ask-become-pass`: the sudo password asked once (wins over `become_password`).
    pub become_password: Option<Secret>,
    /// `--local`: every host is this machine (no SSH, no ssh config).
    pub local: bool,
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

/// The OpenSSH client config for `host`: `-F`, else `ssh_config`, else ~/.ssh/config if it
/// exists; `None` for none.
fn ssh_config_for(
    host: &Host,
    o: &ConnectionOverrides,
    ctx: &Context,
) -> Result<Option<SshConfig>, InventoryError> {
    let path = match (&o.ssh_config, var(host, &["ssh_config"])) {
        (Some(p), _) => p.clone(),
        (None, Some(v)) => expand_home(&as_string(host, "ssh_config", v)?),
        (None, None) => {
            let p = ctx.home.join(".ssh").join("config");
            if !p.is_file() {
                return Ok(None);
            }
            p
        }
    };
    if path == Path::new("none") {
        return Ok(None);
    }
    SshConfig::load(&path, ctx)
        .map(Some)
        .map_err(|e| InventoryError::Connection {
            host: host.name.clone(),
            message: format!("ssh config: {e}"),
        })
}

/// The connection settings for `host`.
pub fn connection_for(
    host: &Host,
    o: &ConnectionOverrides,
) -> Result<ConnectOptions, InventoryError> {
    let ctx = Context::from_env();
    let lookup = match var(host, &["ssh_host", "ansible_host", "ansible_ssh_host"]) {
        Some(v) if !o.local => as_string(host, "ssh_host", v)?,
        _ if o.local => "local".to_string(),
        _ => host.name.clone(),
    };
    let cfg = if lookup == "local" {
        None
    } else {
        ssh_config_for(host, o, &ctx)?
    };
    let hc = cfg
        .as_ref()
        .map(|c| c.resolve(&lookup, &ctx))
        .unwrap_or_default();
    let err = |message: String| InventoryError::Connection {
        host: host.name.clone(),
        message,
    };
    let port = match var(host, &["ssh_port", "ansible_port", "ansible_ssh_port"]) {
        Some(v) => {
            let s = as_string(host, "ssh_port", v)?;
            s.parse::<u16>().map_err(|_| InventoryError::Connection {
                host: host.name.clone(),
                message: format!("`ssh_port` must be a port number, found `{s}`"),
            })?
        }
        None => hc.port.unwrap_or(22),
    };
    let user = match (
        &o.user,
        var(host, &["ssh_user", "ansible_user", "ansible_ssh_user"]),
    ) {
        (Some(u), _) => u.clone(),
        (None, Some(v)) => as_string(host, "ssh_user", v)?,
        (None, None) => hc.user.clone().unwrap_or_else(|| ctx.local_user.clone()),
    };
    let address = hc.hostname.clone().unwrap_or_else(|| lookup.clone());
    let tokens = Tokens {
        hostname: &address,
        original: &lookup,
        user: &user,
        port,
    };
    let private_keys = match (
        &o.private_key,
        var(host, &["ssh_private_key", "ansible_ssh_private_key_file"]),
    ) {
        (Some(k), _) => vec![k.clone()],
        (None, Some(v)) => vec![expand_home(&as_string(host, "ssh_private_key", v)?)],
        (None, None) => {
            config_keys(&hc, &tokens, &ctx).map_err(|m| err(format!("ssh config: {m}")))?
        }
    };
    let known_hosts = match (&o.known_hosts, var(host, &["ssh_known_hosts"])) {
        (Some(k), _) => k.clone(),
        (None, Some(v)) => expand_home(&as_string(host, "ssh_known_hosts", v)?),
        (None, None) => match &hc.user_known_hosts {
            Some(raw) => hc
                .expand(raw, &tokens, &ctx)
                .map_err(|m| err(format!("ssh config: UserKnownHostsFile {m}")))?,
            None => expand_home("~/.ssh/known_hosts"),
        },
    };
    let become_root = o.become_root
        || match var(host, &["become", "ansible_become"]) {
            Some(v) => as_bool(host, "become", v)?,
            None => false,
        };
    let become_password = match (
        &o.become_password,
        var(
            host,
            &[
                "become_password",
                "ansible_become_password",
                "ansible_become_pass",
            ],
        ),
    ) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(v)) => Some(Secret::new(as_string(host, "become_password", v)?)),
        (None, None) => None,
    };
    if let Some(p) = &become_password {
        crate::transport::password_is_sendable(p.expose())
            .map_err(|why| err(format!("`become_password` {why}")))?;
        // Kept out of every output, wherever it came from.
        crate::vault::register_strings([p.expose().to_string()]);
    }
    let mut opts = ConnectOptions {
        name: host.name.clone(),
        address,
        port,
        user,
        private_keys,
        known_hosts,
        host_key_policy: o
            .host_key_policy
            .or(hc.strict_host_key_checking)
            .unwrap_or_default(),
        become_root,
        timeout: o
            .timeout
            .or(hc.connect_timeout.filter(|t| !t.is_zero()))
            .unwrap_or(Duration::from_secs(10)),
        use_agent: hc.identities_only != Some(true),
        jump: None,
        keepalive: hc.server_alive_interval.filter(|t| !t.is_zero()),
        become_password,
    };
    let jump_var = match var(host, &["ssh_proxy_jump"]) {
        Some(v) => Some(as_string(host, "ssh_proxy_jump", v)?),
        None => match var(host, &["ansible_ssh_common_args", "ansible_ssh_extra_args"]) {
            Some(v) => proxy_jump_in_args(&as_string(host, "ansible_ssh_common_args", v)?)
                .map_err(|m| err(format!("`ansible_ssh_common_args`: {m}")))?,
            None => None,
        },
    };
    if o.local {
        // --local: no SSH, no jump.
    } else if let Some(raw) = jump_var.as_ref().or(hc.proxy_jump.as_ref()) {
        let hops = ssh_config::parse_jumps(raw).map_err(|m| err(format!("ProxyJump {m}")))?;
        opts.jump = jump_chain(cfg.as_ref(), &hops, &opts, &ctx, 0).map_err(err)?;
    }
    Ok(opts)
}

/// The ProxyJump in Ansible's `ansible_ssh_common_args`: `-J HOPS`, `-JHOPS`,
/// `-o ProxyJump=HOPS` or `-o ProxyJump HOPS`; a ProxyCommand there is an error (it would be
/// ignored, and the host reached directly).
fn proxy_jump_in_args(args: &str) -> Result<Option<String>, String> {
    let words: Vec<&str> = args.split_whitespace().collect();
    let mut found = None;
    let mut i = 0;
    while i < words.len() {
        let w = words[i].trim_matches(['\'', '"']);
        let next = words.get(i + 1).map(|n| n.trim_matches(['\'', '"']));
        let (value, used) = if w == "-J" {
            (next, 2)
        } else if let Some(v) = w.strip_prefix("-J") {
            (Some(v), 1)
        } else if w == "-o" {
            match next {
                Some(o) => {
                    let (k, v) = match o.split_once('=') {
                        Some((k, v)) => (k, Some(v)),
                        None => (o, words.get(i + 2).map(|n| n.trim_matches(['\'', '"']))),
                    };
                    if k.eq_ignore_ascii_case("proxycommand") {
                        return Err("ProxyCommand is not supported (play does not start ssh); use ProxyJump".into());
                    }
                    if k.eq_ignore_ascii_case("proxyjump") {
                        (v, if o.contains('=') { 2 } else { 3 })
                    } else {
                        (None, 2)
                    }
                }
                None => (None, 1),
            }
        } else {
            (None, 1)
        };
        if let Some(v) = value {
            found.get_or_insert_with(|| v.to_string());
        }
        i += used;
    }
    Ok(found)
}

/// Config `IdentityFile`s, expanded.
fn config_keys(hc: &HostConfig, t: &Tokens<'_>, ctx: &Context) -> Result<Vec<PathBuf>, String> {
    hc.identity_files
        .iter()
        .map(|raw| {
            hc.expand(raw, t, ctx)
                .map_err(|m| format!("IdentityFile {m}"))
        })
        .collect()
}

/// The jump host for `hops` (the last one, reached through the ones before it): its settings
/// from the config under its name and the hop's `user@`/`:port`; what the config leaves unset
/// comes from `target` (known_hosts, keys, host key policy, timeout) or the local user.
fn jump_chain(
    cfg: Option<&SshConfig>,
    hops: &[ssh_config::JumpSpec],
    target: &ConnectOptions,
    ctx: &Context,
    depth: usize,
) -> Result<Option<Box<ConnectOptions>>, String> {
    let Some((last, before)) = hops.split_last() else {
        return Ok(None);
    };
    if depth + hops.len() > MAX_JUMPS {
        return Err(format!(
            "ProxyJump: more than {MAX_JUMPS} jump hosts (a loop in the ssh config?)"
        ));
    }
    let hc = cfg.map(|c| c.resolve(&last.host, ctx)).unwrap_or_default();
    let address = hc.hostname.clone().unwrap_or_else(|| last.host.clone());
    let user = last
        .user
        .clone()
        .or(hc.user.clone())
        .unwrap_or_else(|| ctx.local_user.clone());
    let port = last.port.or(hc.port).unwrap_or(22);
    let tokens = Tokens {
        hostname: &address,
        original: &last.host,
        user: &user,
        port,
    };
    let keys = config_keys(&hc, &tokens, ctx).map_err(|m| format!("ssh config: {m}"))?;
    let known_hosts = match &hc.user_known_hosts {
        Some(raw) => hc
            .expand(raw, &tokens, ctx)
            .map_err(|m| format!("ssh config: UserKnownHostsFile {m}"))?,
        None => target.known_hosts.clone(),
    };
    let mut hop = ConnectOptions {
        name: last.host.clone(),
        address,
        port,
        user,
        private_keys: if keys.is_empty() {
            target.private_keys.clone()
        } else {
            keys
        },
        known_hosts,
        host_key_policy: hc
            .strict_host_key_checking
            .unwrap_or(target.host_key_policy),
        become_root: false,
        timeout: target.timeout,
        use_agent: target.use_agent && hc.identities_only != Some(true),
        jump: None,
        keepalive: hc.server_alive_interval.filter(|t| !t.is_zero()),
        become_password: None,
    };
    // `ProxyJump a,b`: b is reached through a (b's own ProxyJump is not used, as `ssh -J a b`);
    // a single hop uses its own ProxyJump from the config.
    hop.jump = if before.is_empty() {
        match &hc.proxy_jump {
            Some(raw) => {
                let more = ssh_config::parse_jumps(raw).map_err(|m| format!("ProxyJump {m}"))?;
                jump_chain(cfg, &more, target, ctx, depth + 1)?
            }
            None => None,
        }
    } else {
        jump_chain(cfg, before, target, ctx, depth + 1)?
    };
    Ok(Some(Box::new(hop)))
}
