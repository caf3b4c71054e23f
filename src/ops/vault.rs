//! `play vault encrypt|decrypt|edit FILE`: manage `*.vault.yml` files (see [`crate::vault`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::vault::{self, VaultError, VaultProblem};

fn err(path: &Path, p: VaultProblem) -> VaultError {
    VaultError::new(path, p)
}

fn read(path: &Path) -> Result<Vec<u8>, VaultError> {
    std::fs::read(path).map_err(|e| err(path, VaultProblem::Io(format!("cannot read: {e}"))))
}

/// Encrypts a file in place: a `*.vault.yml` vars file (its text must be a mapping of vars),
/// or any other secret file play reads whole (a `git:` deploy `key:`).
pub fn encrypt(path: &Path) -> Result<(), VaultError> {
    let plain = read(path)?;
    if vault::is_encrypted(&plain) {
        return Err(err(path, VaultProblem::AlreadyEncrypted));
    }
    if vault::is_vault_file(path) {
        vault::parse_vars(path, &plain)?;
    }
    let pass = vault::passphrase(true).map_err(|p| err(path, p))?;
    let cipher = vault::encrypt(&plain, &pass).map_err(|p| err(path, p))?;
    vault::write_atomic(path, cipher.as_bytes())
}

/// Decrypts a vault file in place (the secrets are then in clear on disk).
pub fn decrypt(path: &Path) -> Result<(), VaultError> {
    let plain = vault::decrypt_file(path)?;
    vault::write_atomic(path, &plain)
}

/// The editor command: `$VISUAL`, else `$EDITOR`, else `vi`.
pub fn editor() -> String {
    ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "vi".into())
}

/// A private folder (mode 0700) for the clear text while editing; removed on drop.
struct PrivateDir(PathBuf);

impl PrivateDir {
    fn new() -> std::io::Result<PrivateDir> {
        use std::os::unix::fs::DirBuilderExt;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("play-vault-{}-{nanos:09}", std::process::id()));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        Ok(PrivateDir(dir))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Opens a vault file's clear text in `editor` (run by `sh -c`, the file as its argument) and
/// encrypts the result back. A missing file starts empty. Returns whether the file changed;
/// when the editor fails or the result is not a mapping of vars, the file is left as it was.
pub fn edit(path: &Path, editor: &str) -> Result<bool, VaultError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let exists = path.exists();
    let plain = if exists {
        vault::decrypt_file(path)?
    } else {
        Vec::new()
    };
    let io = |e: std::io::Error| err(path, VaultProblem::Io(e.to_string()));
    let dir = PrivateDir::new().map_err(io)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "vault.yml".into());
    let tmp = dir.0.join(name);
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io)?;
        f.write_all(&plain).map_err(io)?;
    }
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("play-vault-edit")
        .arg(&tmp)
        .status()
        .map_err(|e| {
            err(
                path,
                VaultProblem::Editor(format!("cannot run `{editor}`: {e}")),
            )
        })?;
    if !status.success() {
        return Err(err(
            path,
            VaultProblem::Editor(format!("`{editor}` exited with {status}; file unchanged")),
        ));
    }
    let edited = std::fs::read(&tmp).map_err(io)?;
    if exists && edited == plain {
        return Ok(false);
    }
    vault::parse_vars(path, &edited)?;
    let pass = vault::passphrase(!exists).map_err(|p| err(path, p))?;
    let cipher = vault::encrypt(&edited, &pass).map_err(|p| err(path, p))?;
    vault::write_atomic(path, cipher.as_bytes())?;
    Ok(true)
}
