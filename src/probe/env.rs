//! The environment fact (`facts.env`: Ansible's `ansible_env`), read by the probe only when the
//! project names it.
//!
//! The probe prints the `env` record: the tag, then each `NAME=VALUE` entry of the environment
//! its shell was started with (`/proc/$$/environ`: the session's, as sshd and, with `become`,
//! sudo gave it; not the probe's own `LC_ALL=C`), each as one NUL-terminated field, then an
//! empty field. One `cat`, no other process.
//!
//! The values are the host's and may hold secrets: they are kept out of facts files, plan files
//! and reports (see `resources::Facts::env`).

use std::collections::BTreeMap;

/// The probe's lines printing the `env` record.
pub const SCRIPT: &str = "printf 'env\\0'; cat /proc/$$/environ 2>/dev/null; printf '\\0'\n";

/// At most this many entries are kept (the rest of the record is still read).
pub const MAX_ENTRIES: usize = 4096;

/// Adds one entry of the `env` record to `env`: `NAME=VALUE` (an entry without `=` or with an
/// empty name is not a variable and is left out; the first of a repeated name wins, as
/// `getenv` finds it). Bytes that are not UTF-8 are replaced.
pub fn take(env: &mut BTreeMap<String, String>, entry: &[u8]) {
    let Some(eq) = entry.iter().position(|b| *b == b'=') else {
        return;
    };
    if eq == 0 || env.len() >= MAX_ENTRIES {
        return;
    }
    let name = String::from_utf8_lossy(&entry[..eq]).into_owned();
    let value = String::from_utf8_lossy(&entry[eq + 1..]).into_owned();
    env.entry(name).or_insert(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(entries: &[&[u8]]) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for e in entries {
            take(&mut env, e);
        }
        env
    }

    #[test]
    fn entries_are_split_at_the_first_equals_sign() {
        let env = of(&[
            b"HOME=/root",
            b"SUDO_USER=deploy",
            b"OPTS=a=b c",
            b"EMPTY=",
            b"MULTI=line one\nline two",
        ]);
        assert_eq!(env["HOME"], "/root");
        assert_eq!(env["SUDO_USER"], "deploy");
        assert_eq!(env["OPTS"], "a=b c");
        assert_eq!(env["EMPTY"], "");
        assert_eq!(env["MULTI"], "line one\nline two");
        assert_eq!(env.len(), 5);
    }

    #[test]
    fn entries_that_are_not_variables_are_left_out_and_the_first_of_a_name_wins() {
        let env = of(&[b"no equals", b"=nameless", b"", b"A=1", b"A=2", b"B=\xff"]);
        assert_eq!(env.len(), 2);
        assert_eq!(env["A"], "1");
        assert_eq!(env["B"], "\u{fffd}");
    }

    #[test]
    fn at_most_max_entries_are_kept() {
        let mut env = BTreeMap::new();
        for i in 0..MAX_ENTRIES + 10 {
            take(&mut env, format!("V{i}=x").as_bytes());
        }
        assert_eq!(env.len(), MAX_ENTRIES);
    }
}
