//! The project's source digest: sha256 over every file a run reads to make its plan — the
//! playbook, its roles (whole folders: tasks, defaults, templates, files), its `vars_files`,
//! the `templates/` and `files/` folders beside it, and the inventory (file, or folder with
//! `group_vars/` and `host_vars/`, vault files included: only their encrypted bytes are hashed).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::planfile::sha256_hex;
use crate::playbook::Playbook;

/// The digest and the files it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sources {
    /// `sha256:HEX` over every file's path and sha256, in path order.
    pub digest: String,
    /// Every file, sorted by path (as reached from the working folder).
    pub files: Vec<SourceFile>,
}

/// One source file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFile {
    pub path: String,
    pub sha256: String,
}

/// A source file or folder could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read source {path}: {source}")]
pub struct SourcesError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Most files walked under one folder (a guard against pointing at `/`).
const MAX_FILES: usize = 100_000;

fn walk(p: &Path, out: &mut BTreeSet<PathBuf>) -> Result<(), SourcesError> {
    let err = |source| SourcesError {
        path: p.to_path_buf(),
        source,
    };
    let meta = match std::fs::metadata(p) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(err(e)),
    };
    if meta.is_file() {
        out.insert(p.to_path_buf());
        return Ok(());
    }
    if !meta.is_dir() || out.len() >= MAX_FILES {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
        .map_err(err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    // Not sources: version control, and play's own run history.
    entries.retain(|e| e.file_name().is_none_or(|n| n != ".git" && n != ".play"));
    for e in entries {
        walk(&e, out)?;
    }
    Ok(())
}

/// The sources of a run of `pb` over the inventory at `inventory`.
pub fn collect(pb: &Playbook, inventory: &Path) -> Result<Sources, SourcesError> {
    let mut set = BTreeSet::new();
    walk(&pb.path, &mut set)?;
    walk(inventory, &mut set)?;
    walk(&pb.dir.join("templates"), &mut set)?;
    walk(&pb.dir.join("files"), &mut set)?;
    for play in &pb.plays {
        for (p, _) in &play.vars_files {
            walk(p, &mut set)?;
        }
        for r in &play.roles {
            walk(&r.dir, &mut set)?;
        }
    }
    for f in &pb.included {
        walk(f, &mut set)?;
    }
    of_files(set)
}

/// The digest of these files.
pub fn of_files(paths: impl IntoIterator<Item = PathBuf>) -> Result<Sources, SourcesError> {
    let mut files = Vec::new();
    for p in paths {
        let bytes = std::fs::read(&p).map_err(|source| SourcesError {
            path: p.clone(),
            source,
        })?;
        let shown = p.display().to_string();
        files.push(SourceFile {
            path: shown
                .strip_prefix("./")
                .map(str::to_string)
                .unwrap_or(shown),
            sha256: sha256_hex(&bytes),
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|a, b| a.path == b.path);
    let mut all = String::new();
    for f in &files {
        all.push_str(&f.path);
        all.push('\0');
        all.push_str(&f.sha256);
        all.push('\n');
    }
    Ok(Sources {
        digest: format!("sha256:{}", sha256_hex(all.as_bytes())),
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_follows_every_byte_and_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a.yml");
        let b = dir.path().join("sub/b.yml");
        std::fs::create_dir_all(dir.path().join("sub")).expect("mkdir");
        std::fs::write(&a, "x").expect("write");
        std::fs::write(&b, "y").expect("write");
        std::fs::create_dir_all(dir.path().join(".play/runs")).expect("mkdir");
        std::fs::write(dir.path().join(".play/runs/r.json"), "{}").expect("write");
        let mut set = BTreeSet::new();
        walk(dir.path(), &mut set).expect("walk");
        assert_eq!(set.len(), 2);
        let one = of_files(set.clone()).expect("digest");
        assert_eq!(one, of_files(set.clone()).expect("digest"));
        std::fs::write(&b, "z").expect("write");
        let two = of_files(set).expect("digest");
        assert_ne!(one.digest, two.digest);
        assert_eq!(two.files.len(), 2);
        // A missing path adds nothing.
        let mut none = BTreeSet::new();
        walk(&dir.path().join("nope"), &mut none).expect("walk");
        assert!(none.is_empty());
    }
}
