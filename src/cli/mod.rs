//! Command line: one thin file per subcommand, each calling one library function.

pub mod apply;
pub mod check;
pub mod common;
pub mod converge;
pub mod diff;
pub mod facts;
pub mod import;
pub mod inventory;
pub mod lab;
pub mod log;
pub mod pull;
pub mod rollback;
pub mod run;
pub mod show;
pub mod vault;

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
    /// Switch every `release:` back to the previous release (or `--to ID`) and restart what watches it.
    Rollback(rollback::RollbackArgs),
    /// Validate playbooks, roles and inventory offline (no host contacted); every problem.
    Check(check::CheckArgs),
    /// Gather the facts of every host matching PATTERN (what `check --facts-from` reads).
    Facts(facts::FactsArgs),
    /// Encrypt, decrypt or edit a vault file (`*.vault.yml`).
    Vault(vault::VaultArgs),
    /// List the recorded runs (apply, rollback, diff --out), oldest first.
    Log(log::LogArgs),
    /// Print one recorded run (an id, a unique part of one, or `last`).
    Show(show::ShowArgs),
    /// Pull mode: converge this machine from a git repository (`apply --local` on a checkout).
    Pull(pull::PullArgs),
    /// Import a project of another tool: `play import ansible SRC --out DIR`.
    Import(import::ImportArgs),
}

/// Parses the command line and runs the subcommand; returns the process exit code.
/// Error messages are redacted: no secret value (see [`crate::vault`]) reaches the terminal.
pub fn main() -> anyhow::Result<i32> {
    let cli = Cli::parse();
    crate::transport::raise_open_files_limit();
    let result = match cli.command {
        Command::Lab(args) => lab::run(args),
        Command::Inventory(args) => inventory::run(args),
        Command::Run(args) => run::run(args),
        Command::Apply(args) => apply::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Rollback(args) => rollback::run(args),
        Command::Check(args) => check::run(args),
        Command::Facts(args) => facts::run(args),
        Command::Vault(args) => vault::run(args),
        Command::Log(args) => log::run(args),
        Command::Show(args) => show::run(args),
        Command::Pull(args) => pull::run(args),
        Command::Import(args) => import::run(args),
    };
    result.map_err(|e| {
        let red = crate::report::redact::Redactor::current();
        if red.is_empty() {
            e
        } else {
            anyhow::anyhow!(red.string(&format!("{e:#}")))
        }
    })
}
