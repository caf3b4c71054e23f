//! Command line: one thin file per subcommand, each calling one library function.

pub mod apply;
pub mod common;
pub mod converge;
pub mod diff;
pub mod inventory;
pub mod lab;
pub mod run;

use clap::{Parser, Subcommand};

/// Declarative infrastructure state over SSH: plan, diff, apply.
#[derive(Debug, Parser)]
#[command(name = "play", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Throwaway local test hosts (Linux namespaces, real sshd and supervisord).
    Lab(lab::LabArgs),
    /// Show the inventory: groups as a tree, all hosts, or one host's vars.
    Inventory(inventory::InventoryArgs),
    /// Run a shell command on every host matching PATTERN, in parallel.
    Run(run::RunArgs),
    /// Converge the playbook's hosts: apply what differs, in parallel.
    Apply(apply::ApplyArgs),
    /// Show what `apply` would change, touching nothing.
    Diff(diff::DiffArgs),
}

/// Parses the command line and runs the subcommand; returns the process exit code.
pub fn main() -> anyhow::Result<i32> {
    let cli = Cli::parse();
    match cli.command {
        Command::Lab(args) => lab::run(args),
        Command::Inventory(args) => inventory::run(args),
        Command::Run(args) => run::run(args),
        Command::Apply(args) => apply::run(args),
        Command::Diff(args) => diff::run(args),
    }
}
