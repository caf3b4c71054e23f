//! cgroup2 folders for systemd hosts: `<cgroup2 mount>/play-lab/<lab id>/<host>`.
//!
//! systemd needs a cgroup2 tree of its own: the spawner is moved into the host's folder before it
//! execs `unshare --cgroup`, so the host's cgroup namespace is rooted there and the host mounts
//! `cgroup2` on its /sys/fs/cgroup. Works on cgroup v2 machines and on hybrid ones (v1
//! controllers plus cgroup2 at /sys/fs/cgroup/unified). Teardown writes 1 to `cgroup.kill`
//! (Linux 5.14+) and removes the folders, deepest first.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::procfs;
use super::LabError;

const TOP: &str = "play-lab";

/// Where cgroup2 is mounted (the unified hierarchy), if anywhere.
pub fn cgroup2_root() -> Option<PathBuf> {
    let mounts = procfs::mounts();
    let v2: Vec<PathBuf> = mounts
        .into_iter()
        .filter(|(_, t)| t == "cgroup2")
        .map(|(p, _)| p)
        .collect();
    // Prefer the usual places, then any.
    for want in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
        if let Some(p) = v2.iter().find(|p| p.as_path() == Path::new(want)) {
            return Some(p.clone());
        }
    }
    v2.into_iter().next()
}

/// A short id for a lab folder, so several labs keep apart cgroups.
pub fn lab_id(dir: &Path) -> String {
    let digest = Sha256::digest(dir.as_os_str().as_encoded_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// `<root>/play-lab/<lab id>`.
pub fn lab_folder(root: &Path, dir: &Path) -> PathBuf {
    root.join(TOP).join(lab_id(dir))
}

/// Creates the host's (empty) cgroup folder and returns it.
pub fn create_host(dir: &Path, host: &str) -> Result<PathBuf, LabError> {
    let root = cgroup2_root().ok_or_else(|| LabError::Cgroup {
        reason: "no cgroup2 file system is mounted (systemd hosts need one, e.g. at \
                 /sys/fs/cgroup or /sys/fs/cgroup/unified)"
            .into(),
    })?;
    let path = lab_folder(&root, dir).join(host);
    if path.exists() {
        remove_tree(&path)?;
    }
    // Another lab's sweep may remove the shared parent folders at the same moment: retry.
    let mut tries = 0;
    loop {
        match fs::create_dir_all(&path) {
            Ok(()) => return Ok(path),
            Err(_) if tries < 5 => tries += 1,
            Err(e) => return Err(LabError::io("creating cgroup", &path, e)),
        }
    }
}

fn populated(path: &Path) -> bool {
    fs::read_to_string(path.join("cgroup.events"))
        .map(|t| t.lines().any(|l| l.trim() == "populated 1"))
        .unwrap_or(false)
}

/// Kills every process in the cgroup tree and removes its folders, deepest first.
pub fn remove_tree(path: &Path) -> Result<(), LabError> {
    if !path.exists() {
        return Ok(());
    }
    if populated(path) {
        let kill = path.join("cgroup.kill");
        if kill.exists() {
            let _ = fs::write(&kill, "1");
        } else {
            // Before Linux 5.14: SIGKILL each member, a few rounds for new forks.
            for _ in 0..5 {
                for pid in members(path) {
                    // SAFETY: plain syscall on a pid that is in our cgroup.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while populated(path) {
            if Instant::now() >= deadline {
                return Err(LabError::Cgroup {
                    reason: format!("{} still has processes after SIGKILL", path.display()),
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let mut folders = Vec::new();
    collect_folders(path, &mut folders);
    folders.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for f in folders {
        // A freshly emptied cgroup may briefly refuse rmdir (EBUSY): retry shortly.
        let mut tries = 0;
        loop {
            match fs::remove_dir(&f) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) if tries < 200 => {
                    let _ = e;
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(LabError::io("removing cgroup", &f, e)),
            }
        }
    }
    Ok(())
}

fn members(path: &Path) -> Vec<i32> {
    let mut folders = Vec::new();
    collect_folders(path, &mut folders);
    folders
        .iter()
        .filter_map(|f| fs::read_to_string(f.join("cgroup.procs")).ok())
        .flat_map(|t| {
            t.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect()
}

fn collect_folders(path: &Path, out: &mut Vec<PathBuf>) {
    out.push(path.to_path_buf());
    if let Ok(rd) = fs::read_dir(path) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                collect_folders(&e.path(), out);
            }
        }
    }
}

/// Removes the lab's cgroup folders that no recorded host uses (leftovers of a crashed lab),
/// then the lab and top folders if they are empty.
pub fn sweep(dir: &Path, keep: &[PathBuf]) -> Result<(), LabError> {
    let Some(root) = cgroup2_root() else {
        return Ok(());
    };
    let lab = lab_folder(&root, dir);
    if let Ok(rd) = fs::read_dir(&lab) {
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) && !keep.contains(&p) {
                remove_tree(&p)?;
            }
        }
    }
    // Both may be busy (hosts kept, or another lab): that is fine.
    let _ = fs::remove_dir(&lab);
    let _ = fs::remove_dir(root.join(TOP));
    Ok(())
}
