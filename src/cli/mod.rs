//! Command line: one thin file per subcommand, each calling one library function.

pub mod common;
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
}

/// Parses the command line and runs the subcommand; returns the process exit code.
pub fn main() -> anyhow::Result<i32> {
    let cli = Cli::parse();
    match cli.command {
        Command::Lab(args) => lab::run(args),
        Command::Inventory(args) => inventory::run(args),
        Command::Run(args) => run::run(args),
    }
}
