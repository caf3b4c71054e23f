//! Options shared by several subcommands.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::inventory::{self, ConnectionOverrides, Inventory};
use crate::resolve::template::{parse_size, Limits};
use crate::transport::{HostKeyPolicy, Secret};

/// Where the inventory is and the extra vars on top of it.
#[derive(Debug, Clone, Args)]
pub struct InventoryOpts {
    /// Inventory file, or folder with hosts.yml, group_vars/ and host_vars/.
    #[arg(short = 'i', long = "inventory", default_value = "inventory/")]
    pub inventory: PathBuf,
    /// Extra vars (highest precedence): key=value, @file.yml or a {json/yaml mapping}.
    #[arg(short = 'e', long = "extra-vars", value_name = "VARS")]
    pub extra_vars: Vec<String>,
}

impl InventoryOpts {
    pub fn load(&self) -> Result<Inventory, inventory::InventoryError> {
        let extra = inventory::parse_extra_vars(&self.extra_vars)?;
        inventory::load(&self.inventory, &extra)
    }
}

/// Bounds of template rendering (check, diff, apply, rollback).
#[derive(Debug, Clone, Args)]
pub struct TemplateOpts {
    /// Most bytes one template rendering may write, and may make in values (64MiB, 1GiB, 500MB
    /// or bytes); its fuel (instructions) grows with it. Default 64 MiB.
    #[arg(long = "max-template-size", value_name = "SIZE", value_parser = parse_size)]
    pub max_template_size: Option<u64>,
}

impl TemplateOpts {
    pub fn limits(&self) -> Limits {
        let default = Limits::default();
        Limits {
            max_output: self.max_template_size.unwrap_or(default.max_output),
        }
    }
}

/// `--tags` and `--skip-tags` (check, diff, apply).
#[derive(Debug, Clone, Default, Args)]
pub struct TagOpts {
    /// Only resources with one of these tags (inherited from their include, role and play;
    /// `always` runs anyway, `never` only when asked). Repeat or separate with commas.
    #[arg(long, value_name = "TAGS")]
    pub tags: Vec<String>,
    /// Leave out resources with one of these tags.
    #[arg(long, value_name = "TAGS")]
    pub skip_tags: Vec<String>,
}

impl TagOpts {
    pub fn selection(&self) -> crate::playbook::TagSelection {
        crate::playbook::TagSelection::new(&self.tags, &self.skip_tags)
    }
}

/// How to connect to hosts.
#[derive(Debug, Clone, Args)]
pub struct ConnectOpts {
    /// Login user for every host (overrides ssh_user).
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Private key file (overrides ssh_private_key).
    #[arg(long = "private-key")]
    pub private_key: Option<PathBuf>,
    /// known_hosts file (overrides ssh_known_hosts).
    #[arg(long = "known-hosts")]
    pub known_hosts: Option<PathBuf>,
    /// What to do with host keys not in known_hosts (default: the ssh config's
    /// StrictHostKeyChecking, else strict).
    #[arg(long = "host-key-policy", value_enum)]
    pub host_key_policy: Option<HostKeyPolicy>,
    /// Seconds before connecting or a blocked read/write on a host fails it (default: the ssh
    /// config's ConnectTimeout, else 10).
    #[arg(long = "timeout")]
    pub timeout: Option<u64>,
    /// OpenSSH client config file instead of `ssh_config` / ~/.ssh/config (`none`: no file).
    #[arg(short = 'F', long = "ssh-config", value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,
    /// Run as root with sudo on hosts whose login user is not root.
    #[arg(short = 'b', long = "become")]
    pub become_root: bool,
    /// Ask once for the sudo password of the login user (instead of `become_password`).
    #[arg(short = 'K', long = "ask-become-pass")]
    pub ask_become_pass: bool,
    /// Hosts worked on at once.
    #[arg(short = 'f', long = "forks", default_value_t = 50)]
    pub forks: usize,
    /// Converge this machine, without SSH (as `ssh_host: local`); without --limit, apply and
    /// diff take the inventory host named like this machine (hostname, full or short).
    #[arg(long = "local")]
    pub local: bool,
}

impl ConnectOpts {
    /// The command-line connection settings (asking the become password, once, if told to).
    pub fn overrides(&self) -> anyhow::Result<ConnectionOverrides> {
        let become_password = if self.ask_become_pass {
            Some(ask_become_password()?)
        } else {
            None
        };
        Ok(ConnectionOverrides {
            user: self.user.clone(),
            private_key: self.private_key.clone(),
            known_hosts: self.known_hosts.clone(),
            host_key_policy: self.host_key_policy,
            timeout: self.timeout.map(|t| Duration::from_secs(t.max(1))),
            ssh_config: self.ssh_config.clone(),
            become_password,
            local: self.local,
            become_root: self.become_root,
        })
    }
}

impl ConnectOpts {
    /// The `--limit` to use: `limit` as given; with `--local` and no `--limit`, the inventory
    /// host named like this machine.
    pub fn limit(&self, inv: &Inventory, limit: Option<String>) -> anyhow::Result<Option<String>> {
        if !self.local || limit.is_some() {
            return Ok(limit);
        }
        let full = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .map_err(|e| anyhow::anyhow!("--local: cannot read this machine's hostname: {e}"))?;
        let short = full.split('.').next().unwrap_or(&full).to_string();
        for name in [&full, &short] {
            if inv.host(name).is_some() {
                return Ok(Some(name.clone()));
            }
        }
        anyhow::bail!(
            "--local: no inventory host is named like this machine (`{full}`); choose it with --limit"
        )
    }
}

/// The sudo password, asked on the terminal the first time (later calls get the same one).
fn ask_become_password() -> anyhow::Result<Secret> {
    static ASKED: std::sync::OnceLock<Secret> = std::sync::OnceLock::new();
    if let Some(p) = ASKED.get() {
        return Ok(p.clone());
    }
    let p = rpassword::prompt_password("BECOME password: ")
        .map_err(|e| anyhow::anyhow!("--ask-become-pass: cannot read the password: {e}"))?;
    crate::vault::register_strings([p.clone()]);
    Ok(ASKED.get_or_init(|| Secret::new(p)).clone())
}

/// `--color auto|always|never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Applies the choice to anstream's global setting (auto respects tty, NO_COLOR, CLICOLOR).
    pub fn apply(self) {
        let c = match self {
            ColorChoice::Auto => anstream::ColorChoice::Auto,
            ColorChoice::Always => anstream::ColorChoice::Always,
            ColorChoice::Never => anstream::ColorChoice::Never,
        };
        c.write_global();
    }
}

/// Output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}
