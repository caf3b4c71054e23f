//! `play import ansible SRC --out DIR`: an Ansible project as a play project.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::ops::import::{import, text, Options};

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub from: ImportFrom,
}

#[derive(Debug, Subcommand)]
pub enum ImportFrom {
    /// Read an Ansible project (playbooks, roles, inventory, group_vars/host_vars) and write a
    /// play project with IMPORT.md listing what every task became.
    Ansible(AnsibleArgs),
}

#[derive(Debug, Args)]
pub struct AnsibleArgs {
    /// The Ansible project's folder.
    pub src: PathBuf,
    /// Where to write the play project.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Write into an output folder that is not empty.
    #[arg(long)]
    pub force: bool,
    /// The inventory to import, relative to SRC (default: ansible.cfg's, else the first found).
    #[arg(long, short = 'i')]
    pub inventory: Option<PathBuf>,
}

pub fn run(args: ImportArgs) -> anyhow::Result<i32> {
    let ImportFrom::Ansible(a) = args.from;
    let summary = import(&Options {
        src: a.src,
        out: a.out,
        force: a.force,
        inventory: a.inventory,
    })?;
    print!("{}", text(&summary));
    Ok(crate::exit::SUCCESS)
}
