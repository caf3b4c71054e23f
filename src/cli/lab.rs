//! `play lab up N [--systemd] | down | status | exec HOST -- CMD...`: throwaway local test hosts.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::lab::{self, Mode, UpOptions};

#[derive(Debug, Args)]
pub struct LabArgs {
    #[command(subcommand)]
    pub command: LabCommand,
}

/// Where the lab keeps its state.
#[derive(Debug, Clone, Args)]
pub struct DirOpt {
    /// State folder (default: env PLAY_LAB_DIR, else /tmp/play-lab).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

impl DirOpt {
    fn path(&self) -> PathBuf {
        lab::default_dir(self.dir.as_deref())
    }
}

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Start N hosts h1..hN (keeps healthy ones; adds, restarts or stops the others).
    Up {
        /// Number of hosts.
        #[arg(value_name = "N")]
        count: usize,
        /// Real systemd as PID 1 of each host (starts ssh and supervisor).
        #[arg(long)]
        systemd: bool,
        /// Host i listens on BASE + i (127.0.0.0/8 only).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.10")]
        base: String,
        /// Seconds to wait for every host's sshd to answer.
        #[arg(long, value_name = "SECS", default_value_t = 60)]
        timeout: u64,
        #[command(flatten)]
        dir: DirOpt,
    },
    /// Stop every host of the lab (only processes it started).
    Down {
        /// Also remove the state folder (keys, inventory, logs).
        #[arg(long)]
        purge: bool,
        #[command(flatten)]
        dir: DirOpt,
    },
    /// Show each host, its address, PID 1 and whether it is up.
    Status {
        #[command(flatten)]
        dir: DirOpt,
    },
    /// Run a command inside a host as root (enters its namespaces; no ssh).
    Exec {
        /// Host name (h1...) or address.
        host: String,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "CMD")]
        cmd: Vec<OsString>,
        #[command(flatten)]
        dir: DirOpt,
    },
}

pub fn run(args: LabArgs) -> anyhow::Result<i32> {
    match args.command {
        LabCommand::Up {
            count,
            systemd,
            base,
            timeout,
            dir,
        } => {
            let base = lab::addr::parse_base(&base, count)?;
            let opts = UpOptions {
                count,
                base,
                mode: if systemd { Mode::Systemd } else { Mode::Plain },
                timeout: Duration::from_secs(timeout.max(1)),
            };
            let path = dir.path();
            let r = lab::up(&path, &opts)
                .with_context(|| format!("play lab up {count} (state in {})", path.display()))?;
            eprintln!(
                "lab: {} host(s) up in {:.1}s ({} started, {} kept{})",
                r.hosts.len(),
                r.elapsed.as_secs_f64(),
                r.started.len(),
                r.kept.len(),
                if r.stopped.is_empty() {
                    String::new()
                } else {
                    format!(", {} stopped: {}", r.stopped.len(), r.stopped.join(" "))
                }
            );
            println!("inventory: {}", r.inventory.display());
            println!("known_hosts: {}", r.known_hosts.display());
            println!("key: {}", r.key.display());
            Ok(crate::exit::SUCCESS)
        }
        LabCommand::Down { purge, dir } => {
            let path = dir.path();
            let r = lab::down(&path, purge)
                .with_context(|| format!("play lab down (state in {})", path.display()))?;
            eprintln!(
                "lab: {} host(s) stopped in {:.1}s{}",
                r.stopped.len(),
                r.elapsed.as_secs_f64(),
                if r.purged {
                    ", state folder removed"
                } else {
                    ""
                }
            );
            Ok(crate::exit::SUCCESS)
        }
        LabCommand::Status { dir } => {
            let hosts = lab::status(&dir.path())?;
            println!(
                "{:<6} {:<16} {:>8} {:<8} STATE",
                "HOST", "ADDRESS", "PID", "MODE"
            );
            for h in &hosts {
                println!(
                    "{:<6} {:<16} {:>8} {:<8} {}",
                    h.name,
                    h.addr,
                    h.pid,
                    h.mode.as_str(),
                    if h.up { "up" } else { "down" }
                );
            }
            Ok(if hosts.iter().all(|h| h.up) {
                crate::exit::SUCCESS
            } else {
                crate::exit::FAILURE
            })
        }
        LabCommand::Exec { host, cmd, dir } => Ok(lab::exec(&dir.path(), &host, &cmd)?),
    }
}
