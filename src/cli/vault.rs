//! `play vault encrypt|decrypt|edit FILE`: encrypted var files (`*.vault.yml`).
//!
//! The passphrase comes from the file named by `PLAY_VAULT_PASSWORD_FILE`, else it is asked on
//! the terminal (twice when encrypting).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::ops::vault;

#[derive(Debug, Args)]
pub struct VaultArgs {
    #[command(subcommand)]
    pub command: VaultCommand,
}

#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// Encrypt a plain YAML vars file in place.
    Encrypt { file: PathBuf },
    /// Decrypt a vault file in place (its secrets are then in clear on disk).
    Decrypt { file: PathBuf },
    /// Edit a vault file's clear text with $VISUAL / $EDITOR (a new file starts empty), then
    /// encrypt it again. The clear text lives in a private temporary folder, removed after.
    Edit { file: PathBuf },
}

pub fn run(args: VaultArgs) -> anyhow::Result<i32> {
    match args.command {
        VaultCommand::Encrypt { file } => {
            vault::encrypt(&file)?;
            eprintln!("{}: encrypted", file.display());
        }
        VaultCommand::Decrypt { file } => {
            vault::decrypt(&file)?;
            eprintln!("{}: decrypted (now in clear on disk)", file.display());
        }
        VaultCommand::Edit { file } => {
            let changed = vault::edit(&file, &vault::editor())?;
            eprintln!(
                "{}: {}",
                file.display(),
                if changed {
                    "saved, encrypted"
                } else {
                    "unchanged"
                }
            );
        }
    }
    Ok(crate::exit::SUCCESS)
}
