//! Small /proc readers: process identity (pid + start time), children, mounts.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A process as recorded by the lab: a pid is only "ours" while its start time (field 22 of
/// /proc/PID/stat, clock ticks since boot) is the recorded one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProcId {
    pub pid: i32,
    pub start_time: u64,
}

/// State letter and start time of a live pid (None if no such pid).
fn stat(pid: i32) -> Option<(char, u64)> {
    if pid <= 0 {
        return None;
    }
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces or ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); field 22 (starttime) is index 19.
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

impl ProcId {
    /// Reads the identity of a running pid.
    pub fn of(pid: i32) -> Option<ProcId> {
        let (state, start_time) = stat(pid)?;
        (state != 'Z' && state != 'X').then_some(ProcId { pid, start_time })
    }

    /// True while the recorded process runs (same pid and start time, not a zombie).
    pub fn alive(&self) -> bool {
        ProcId::of(self.pid) == Some(*self)
    }

    /// SIGKILL, only if the pid still belongs to the recorded process.
    pub fn kill(&self) {
        if self.alive() {
            // SAFETY: plain syscall; the pid was checked to be ours just above.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
            }
        }
    }

    /// Waits until the process is gone (or a zombie waiting for its parent). False on timeout.
    pub fn wait_dead(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.alive() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }
}

/// Children of a process (needs CONFIG_PROC_CHILDREN, present on every usual kernel).
pub fn children(pid: i32) -> Vec<i32> {
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// True if a NUL-separated command line runs `script` the way the lab does: `/bin/sh SCRIPT ...`
/// (a host's PID 1) or `unshare ... /bin/sh SCRIPT ...` (its spawner).
fn runs_script(cmdline: &[u8], script: &[u8]) -> bool {
    let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
    let Some(at) = args.iter().position(|a| *a == script) else {
        return false;
    };
    let first = args.first().copied().unwrap_or_default();
    at >= 1
        && args[at - 1] == b"/bin/sh"
        && (at == 1 || first == b"unshare" || first.ends_with(b"/unshare"))
}

/// Pids running the lab's init script (see [`runs_script`]). Other processes that merely name
/// the file (an editor, `cat`) do not match.
pub fn pids_running_script(script: &Path) -> Vec<i32> {
    let want = script.as_os_str().as_encoded_bytes();
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id() as i32;
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| runs_script(&c, want))
                .unwrap_or(false)
        })
        .collect()
}

/// Undoes the octal escapes (`\040` for space...) of /proc/self/mountinfo.
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// (mount point, file system type) of every mount of this process' mount namespace.
pub fn mounts() -> Vec<(PathBuf, String)> {
    let Ok(text) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let point = fields.get(4)?;
            let sep = fields.iter().position(|f| *f == "-")?;
            let fstype = fields.get(sep + 1)?;
            Some((PathBuf::from(unescape(point)), fstype.to_string()))
        })
        .collect()
}

/// Mount points at or below `dir`, deepest first.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = mounts()
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.starts_with(dir))
        .collect();
    v.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    v.dedup();
    v
}

/// Lazily unmounts a mount point (MNT_DETACH).
pub fn umount_detach(point: &Path) -> std::io::Result<()> {
    let c = std::ffi::CString::new(point.as_os_str().as_encoded_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    #[cfg(target_os = "linux")]
    {
        // SAFETY: valid NUL-terminated path.
        let r = unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        if r == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        drop(c);
        Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_mountinfo() {
        assert_eq!(unescape(r"/tmp/a\040b"), "/tmp/a b");
        assert_eq!(unescape(r"/x\\y"), r"/x\\y");
        assert_eq!(unescape("/plain"), "/plain");
    }

    #[test]
    fn recognizes_lab_init_command_lines() {
        let s = b"/l/init.sh";
        assert!(runs_script(b"/bin/sh\0/l/init.sh\0h1\0", s));
        assert!(runs_script(
            b"unshare\0--pid\0--fork\0/bin/sh\0/l/init.sh\0h1\0",
            s
        ));
        assert!(!runs_script(b"tail\0-f\0/l/init.sh\0", s));
        assert!(!runs_script(b"vi\0/bin/sh\0/l/init.sh\0", s));
        assert!(!runs_script(b"/bin/sh\0/l/init.sh.bak\0", s));
    }

    #[test]
    fn own_process_is_alive() {
        let me = ProcId::of(std::process::id() as i32).expect("own stat");
        assert!(me.alive());
        let other = ProcId {
            pid: me.pid,
            start_time: me.start_time + 1,
        };
        assert!(!other.alive());
    }
}
