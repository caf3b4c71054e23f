//! Secrets: var files named `*.vault.yml` (or `*.vault.yaml`) encrypted with a passphrase.
//!
//! The format is [age](https://age-encryption.org) with its passphrase (scrypt) recipient, ASCII
//! armored so that vault files diff and merge as text in a repository. Files are decrypted in
//! memory only, with the passphrase read from the file named by `PLAY_VAULT_PASSWORD_FILE`, or
//! asked on the terminal when there is one.
//!
//! Every value read from a vault file is a **secret**: it is registered here
//! ([`register_secrets`]) and every printer redacts it ([`crate::report::redact`]), so that no
//! diff, report, log line or error message shows it.
//!
//! Where vault files are read: `group_vars/NAME.vault.yml`, `group_vars/NAME/*.vault.yml`, the
//! same under `host_vars/`, and a play's `vars_files`.

use std::fmt;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use age::secrecy::SecretString;

use crate::yaml::{self, Value, YamlError};

/// The environment variable naming the file that holds the vault passphrase.
pub const PASSWORD_FILE_ENV: &str = "PLAY_VAULT_PASSWORD_FILE";

/// scrypt work factor (log2 of N) used when encrypting: 2^17 (128 MiB, about 0.3 s per
/// decryption). Fixed rather than calibrated, so that every machine opens the files quickly.
pub const WORK_FACTOR: u8 = 17;

/// The highest work factor accepted when decrypting (bounds the memory a hostile file can make
/// `play` spend).
pub const MAX_WORK_FACTOR: u8 = 22;

/// Secret values shorter than this are not redacted: they are too short to be a secret, and
/// replacing them would garble every output (`on`, `80`, `yes`).
pub const MIN_SECRET_LEN: usize = 4;

/// How an encrypted vault file starts.
pub const ARMOR_HEADER: &str = "-----BEGIN AGE ENCRYPTED FILE-----";

/// What went wrong with a vault file (the message never contains a secret value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultProblem {
    NoPassphrase,
    PasswordFile(String),
    EmptyPassphrase,
    Prompt(String),
    NotEncrypted,
    AlreadyEncrypted,
    WrongPassphrase(String),
    Io(String),
    Encrypt(String),
    /// The decrypted text is not valid YAML; the details are withheld (they could quote a
    /// secret value), only the position is given.
    Yaml {
        line: usize,
        column: usize,
    },
    NotAMapping,
    Editor(String),
}

impl fmt::Display for VaultProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VaultProblem::NoPassphrase => write!(
                f,
                "vault file needs a passphrase: set {PASSWORD_FILE_ENV} to a file holding it \
                 (or run on a terminal to be asked)"
            ),
            VaultProblem::PasswordFile(m) => {
                write!(f, "cannot read the vault passphrase ({PASSWORD_FILE_ENV}): {m}")
            }
            VaultProblem::EmptyPassphrase => write!(f, "the vault passphrase is empty"),
            VaultProblem::Prompt(m) => write!(f, "cannot ask for the vault passphrase: {m}"),
            VaultProblem::NotEncrypted => write!(
                f,
                "not an encrypted vault file (encrypt it with `play vault encrypt`)"
            ),
            VaultProblem::AlreadyEncrypted => write!(f, "already encrypted"),
            VaultProblem::WrongPassphrase(m) => {
                write!(f, "cannot decrypt: wrong vault passphrase or damaged file ({m})")
            }
            VaultProblem::Io(m) => write!(f, "{m}"),
            VaultProblem::Encrypt(m) => write!(f, "cannot encrypt: {m}"),
            VaultProblem::Yaml { .. } => write!(
                f,
                "invalid YAML in the decrypted vault file (details withheld: they could show a secret)"
            ),
            VaultProblem::NotAMapping => write!(
                f,
                "a vault file holds a mapping of vars (name: value), at its top level"
            ),
            VaultProblem::Editor(m) => write!(f, "editor: {m}"),
        }
    }
}

/// A vault file could not be read, decrypted or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {problem}", path.display())]
pub struct VaultError {
    pub path: PathBuf,
    pub problem: VaultProblem,
}

impl VaultError {
    pub fn new(path: &Path, problem: VaultProblem) -> Self {
        VaultError {
            path: path.to_path_buf(),
            problem,
        }
    }
}

impl From<VaultError> for YamlError {
    fn from(e: VaultError) -> Self {
        let position = match e.problem {
            VaultProblem::Yaml { line, column } => Some((line, column)),
            _ => None,
        };
        YamlError::new(&e.path, position, e.problem.to_string())
    }
}

/// True for `*.vault.yml` and `*.vault.yaml`.
pub fn is_vault_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".vault.yml") || n.ends_with(".vault.yaml"))
}

/// True when the bytes are an age file (armored or binary).
pub fn is_encrypted(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let rest = &bytes[start..];
    rest.starts_with(ARMOR_HEADER.as_bytes()) || rest.starts_with(b"age-encryption.org/")
}

// ---------------------------------------------------------------------------------------------
// Passphrase: one per process, asked for at most once.

static PASSPHRASE: Mutex<Option<SecretString>> = Mutex::new(None);

/// Uses `passphrase` for every vault file from now on (instead of the file or the prompt).
pub fn set_passphrase(passphrase: SecretString) {
    if let Ok(mut p) = PASSPHRASE.lock() {
        *p = Some(passphrase);
    }
}

/// Reads a passphrase file: its first line, without the line ending.
pub fn read_passphrase_file(path: &Path) -> Result<SecretString, VaultProblem> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| VaultProblem::PasswordFile(format!("{}: {e}", path.display())))?;
    let line = text.lines().next().unwrap_or("");
    if line.is_empty() {
        return Err(VaultProblem::EmptyPassphrase);
    }
    Ok(SecretString::from(line.to_string()))
}

/// Asks on the terminal (`confirm`: twice, for a new passphrase).
fn prompt(confirm: bool) -> Result<SecretString, VaultProblem> {
    if !std::io::stdin().is_terminal() {
        return Err(VaultProblem::NoPassphrase);
    }
    let p = rpassword::prompt_password("Vault passphrase: ")
        .map_err(|e| VaultProblem::Prompt(e.to_string()))?;
    if p.is_empty() {
        return Err(VaultProblem::EmptyPassphrase);
    }
    if confirm {
        let again = rpassword::prompt_password("Vault passphrase (again): ")
            .map_err(|e| VaultProblem::Prompt(e.to_string()))?;
        if again != p {
            return Err(VaultProblem::Prompt("the two passphrases differ".into()));
        }
    }
    Ok(SecretString::from(p))
}

/// The passphrase: set before, else from `PLAY_VAULT_PASSWORD_FILE`, else asked on the terminal
/// (twice when `confirm`). Kept for the rest of the process.
pub fn passphrase(confirm: bool) -> Result<SecretString, VaultProblem> {
    let mut guard = PASSPHRASE
        .lock()
        .map_err(|_| VaultProblem::Prompt("passphrase lock poisoned".into()))?;
    if let Some(p) = guard.as_ref() {
        return Ok(p.clone());
    }
    let p = match std::env::var_os(PASSWORD_FILE_ENV) {
        Some(f) if !f.is_empty() => read_passphrase_file(Path::new(&f))?,
        _ => prompt(confirm)?,
    };
    *guard = Some(p.clone());
    Ok(p)
}

// ---------------------------------------------------------------------------------------------
// Encryption.

/// Encrypts `plain` with `passphrase` (age scrypt recipient, [`WORK_FACTOR`]), ASCII armored.
pub fn encrypt(plain: &[u8], passphrase: &SecretString) -> Result<String, VaultProblem> {
    let mut r = age::scrypt::Recipient::new(passphrase.clone());
    r.set_work_factor(WORK_FACTOR);
    age::encrypt_and_armor(&r, plain).map_err(|e| VaultProblem::Encrypt(e.to_string()))
}

/// Decrypts an age file (armored or not) with `passphrase`.
pub fn decrypt(cipher: &[u8], passphrase: &SecretString) -> Result<Vec<u8>, VaultProblem> {
    if !is_encrypted(cipher) {
        return Err(VaultProblem::NotEncrypted);
    }
    let mut id = age::scrypt::Identity::new(passphrase.clone());
    id.set_max_work_factor(MAX_WORK_FACTOR);
    age::decrypt(&id, cipher).map_err(|e| VaultProblem::WrongPassphrase(e.to_string()))
}

/// Reads and decrypts a vault file with the process passphrase.
pub fn decrypt_file(path: &Path) -> Result<Vec<u8>, VaultError> {
    let err = |p| VaultError::new(path, p);
    let bytes =
        std::fs::read(path).map_err(|e| err(VaultProblem::Io(format!("cannot read: {e}"))))?;
    if !is_encrypted(&bytes) {
        return Err(err(VaultProblem::NotEncrypted));
    }
    let pass = passphrase(false).map_err(err)?;
    decrypt(&bytes, &pass).map_err(err)
}

/// Parses decrypted vault text: a mapping of vars, in file order. Errors give the position only.
pub fn parse_vars(path: &Path, plain: &[u8]) -> Result<Vec<(String, Value)>, VaultError> {
    let err = |p| VaultError::new(path, p);
    let text =
        std::str::from_utf8(plain).map_err(|_| err(VaultProblem::Yaml { line: 0, column: 0 }))?;
    let value: Value = yaml::from_str(path, text).map_err(|e: YamlError| {
        let (line, column) = e.position.unwrap_or((0, 0));
        err(VaultProblem::Yaml { line, column })
    })?;
    // Register before any further check can fail: the values are secrets whatever happens next.
    register_secrets(&value);
    let vars: crate::inventory::OrderedVars =
        yaml::from_value(path, value).map_err(|_| err(VaultProblem::NotAMapping))?;
    Ok(vars.0)
}

/// Reads a vault file: decrypts it in memory, parses its vars and registers their values as
/// secrets.
pub fn load_vars(path: &Path) -> Result<Vec<(String, Value)>, VaultError> {
    let plain = decrypt_file(path)?;
    parse_vars(path, &plain)
}

/// Writes `bytes` to `path` atomically (temp file in the same folder, then rename), mode 0600.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), VaultError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |m: String| VaultError::new(path, VaultProblem::Io(m));
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "vault".into());
    let tmp = dir.join(format!(".{name}.play-tmp.{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(format!("cannot write: {e}")));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The secret registry: every value read from a vault file in this process.

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

fn collect(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            out.push(s.clone());
            // A multi-line secret (a key, a certificate) also shows line by line in diffs.
            if s.contains('\n') {
                out.extend(s.lines().map(|l| l.trim().to_string()));
            }
        }
        Value::Number(n) => out.push(n.to_string()),
        Value::Sequence(items) => items.iter().for_each(|i| collect(i, out)),
        Value::Mapping(m) => m.values().for_each(|i| collect(i, out)),
        Value::Tagged(t) => collect(&t.value, out),
        Value::Bool(_) | Value::Null => {}
    }
}

/// Registers every scalar value inside `v` as a secret (those of at least [`MIN_SECRET_LEN`]
/// characters).
pub fn register_secrets(v: &Value) {
    let mut found = Vec::new();
    collect(v, &mut found);
    register_strings(found);
}

/// Registers strings as secrets (those of at least [`MIN_SECRET_LEN`] characters).
pub fn register_strings(values: impl IntoIterator<Item = String>) {
    let Ok(mut all) = SECRETS.write() else {
        return;
    };
    for s in values {
        if s.chars().count() >= MIN_SECRET_LEN && !all.contains(&s) {
            all.push(s);
        }
    }
    // Longest first, so that a secret containing another is replaced whole.
    all.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
}

/// True when `bytes` hold a secret registered so far (a value read from a vault file).
pub fn holds_secret(bytes: &[u8]) -> bool {
    let Ok(all) = SECRETS.read() else {
        return false;
    };
    all.iter().any(|s| {
        let n = s.as_bytes();
        !n.is_empty() && bytes.windows(n.len()).any(|w| w == n)
    })
}

/// Every secret registered so far, longest first.
pub fn secrets() -> Vec<String> {
    SECRETS.read().map(|s| s.clone()).unwrap_or_default()
}

/// A passphrase given as text (for `play vault` and tests).
pub fn secret_string(s: &str) -> SecretString {
    SecretString::from(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_passphrase() {
        let pass = secret_string("correct horse");
        let text = encrypt(b"db_password: hunter2-long\n", &pass).expect("encrypt");
        assert!(text.starts_with(ARMOR_HEADER), "{text}");
        assert!(!text.contains("hunter2"));
        assert!(is_encrypted(text.as_bytes()));
        assert_eq!(
            decrypt(text.as_bytes(), &pass).expect("decrypt"),
            b"db_password: hunter2-long\n"
        );
        let wrong = decrypt(text.as_bytes(), &secret_string("battery staple"));
        assert!(
            matches!(wrong, Err(VaultProblem::WrongPassphrase(_))),
            "{wrong:?}"
        );
        assert_eq!(decrypt(b"a: 1\n", &pass), Err(VaultProblem::NotEncrypted));
    }

    #[test]
    fn vault_file_names() {
        assert!(is_vault_file(Path::new("group_vars/all/db.vault.yml")));
        assert!(is_vault_file(Path::new("x.vault.yaml")));
        assert!(!is_vault_file(Path::new("vault.yml")));
        assert!(!is_vault_file(Path::new("db.yml")));
    }

    #[test]
    fn yaml_errors_withhold_the_text() {
        let err = parse_vars(Path::new("s.vault.yml"), b"a: [sekrit-value\nb: 2\n").unwrap_err();
        let msg = err.to_string();
        assert!(!msg.contains("sekrit"), "{msg}");
        assert!(
            matches!(err.problem, VaultProblem::Yaml { line, .. } if line > 0),
            "{err:?}"
        );
        let err = parse_vars(Path::new("s.vault.yml"), b"- sekrit-item\n").unwrap_err();
        assert_eq!(err.problem, VaultProblem::NotAMapping);
        assert!(secrets().contains(&"sekrit-item".to_string()));
    }

    #[test]
    fn values_become_secrets() {
        let vars = parse_vars(
            Path::new("s.vault.yml"),
            b"token: abcd-efgh\nport: 54321\nshort: ab\nnested: {key: \"line one\\nline two\"}\n",
        )
        .expect("parse");
        assert_eq!(vars.len(), 4);
        let all = secrets();
        for s in [
            "abcd-efgh",
            "54321",
            "line one\nline two",
            "line one",
            "line two",
        ] {
            assert!(all.contains(&s.to_string()), "{s} missing from {all:?}");
        }
        assert!(!all.contains(&"ab".to_string()));
    }
}
