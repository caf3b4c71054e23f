//! A minimal tar writer (POSIX ustar, with pax `path` records for long names): `sync:` and
//! `release:` send every file they upload to a host in ONE archive stream, extracted there by GNU
//! tar. Only what those kinds need: regular files and folders, a mode, no owner (set after
//! extraction), mtime 0 (extracted with `--touch`, so files get the time of the deploy).

/// One member of an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Member<'a> {
    /// A folder (relative path, no trailing `/`), with its permission bits.
    Dir { path: &'a str, mode: u32 },
    /// A regular file (relative path), with its permission bits and bytes.
    File {
        path: &'a str,
        mode: u32,
        bytes: &'a [u8],
    },
}

/// Why an archive cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    #[error("`{0}`: an archive member needs a relative path without `.` or `..` components")]
    BadPath(String),
    #[error("`{0}`: a NUL byte in a path")]
    Nul(String),
}

const BLOCK: usize = 512;

/// Writes `n` as zero-padded octal into `field`, NUL-terminated.
fn octal(field: &mut [u8], n: u64) {
    let width = field.len() - 1;
    let text = format!("{n:0width$o}");
    // Larger values than the field holds never happen for the sizes used here (8 GiB per file
    // with 12-byte fields); a pax `size` record would be needed beyond that.
    let bytes = text.as_bytes();
    let start = bytes.len().saturating_sub(width);
    field[..width].copy_from_slice(&bytes[start..]);
    field[width] = 0;
}

fn header(name: &[u8], mode: u32, size: u64, typeflag: u8) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    let n = name.len().min(100);
    h[..n].copy_from_slice(&name[..n]);
    octal(&mut h[100..108], u64::from(mode & 0o7777));
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], 0);
    h[156] = typeflag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    // Checksum: the sum of the header's bytes with the checksum field as spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
    h
}

fn pad(out: &mut Vec<u8>) {
    let rem = out.len() % BLOCK;
    if rem != 0 {
        out.resize(out.len() + BLOCK - rem, 0);
    }
}

/// A pax extended header record `LEN path=VALUE\n` (LEN counts the whole record).
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body_len = 1 + key.len() + 1 + value.len() + 1; // ' ' key '=' value '\n'
    let mut len = body_len + 1;
    loop {
        let total = body_len + len.to_string().len();
        if total == len {
            break;
        }
        len = total;
    }
    let mut r = format!("{len} {key}=").into_bytes();
    r.extend_from_slice(value);
    r.push(b'\n');
    r
}

fn check(path: &str) -> Result<(), ArchiveError> {
    if path.contains('\0') {
        return Err(ArchiveError::Nul(path.replace('\0', "\\0")));
    }
    if path.is_empty()
        || path.starts_with('/')
        || path.ends_with('/')
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(ArchiveError::BadPath(path.to_string()));
    }
    Ok(())
}

fn member(out: &mut Vec<u8>, path: &str, mode: u32, bytes: &[u8], dir: bool) {
    let mut name = path.as_bytes().to_vec();
    if dir {
        name.push(b'/');
    }
    if name.len() > 100 {
        let rec = pax_record("path", &name);
        out.extend_from_slice(&header(b"././@PaxHeader", 0o644, rec.len() as u64, b'x'));
        out.extend_from_slice(&rec);
        pad(out);
    }
    let (size, flag) = if dir {
        (0, b'5')
    } else {
        (bytes.len() as u64, b'0')
    };
    out.extend_from_slice(&header(&name, mode, size, flag));
    if !dir {
        out.extend_from_slice(bytes);
        pad(out);
    }
}

/// The archive of `members`, in order (a folder must come before what it holds).
pub fn tar(members: &[Member]) -> Result<Vec<u8>, ArchiveError> {
    let mut out = Vec::new();
    for m in members {
        match m {
            Member::Dir { path, mode } => {
                check(path)?;
                member(&mut out, path, *mode, &[], true);
            }
            Member::File { path, mode, bytes } => {
                check(path)?;
                member(&mut out, path, *mode, bytes, false);
            }
        }
    }
    // End of archive: two zero blocks.
    out.resize(out.len() + 2 * BLOCK, 0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn pax_records_count_their_own_length() {
        let r = pax_record("path", b"a");
        assert_eq!(r, b"9 path=a\n");
        assert_eq!(r.len(), 9);
        let long = vec![b'x'; 95];
        let r = pax_record("path", &long);
        let len: usize = std::str::from_utf8(&r[..r.iter().position(|b| *b == b' ').unwrap()])
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(len, r.len());
    }

    #[test]
    fn headers_have_valid_checksums_and_fields() {
        let h = header(b"a/b.txt", 0o755, 5, b'0');
        let mut copy = h;
        copy[148..156].copy_from_slice(b"        ");
        let sum: u32 = copy.iter().map(|b| u32::from(*b)).sum();
        let field = std::str::from_utf8(&h[148..154]).unwrap();
        assert_eq!(u32::from_str_radix(field, 8).unwrap(), sum);
        assert_eq!(&h[100..107], b"0000755");
        assert_eq!(&h[124..135], b"00000000005");
        assert_eq!(&h[257..263], b"ustar\0");
    }

    #[test]
    fn bad_paths_are_refused() {
        for p in ["", "/abs", "a/../b", "./a", "a//b", "a/"] {
            let r = tar(&[Member::File {
                path: p,
                mode: 0o644,
                bytes: b"",
            }]);
            assert!(matches!(r, Err(ArchiveError::BadPath(_))), "{p:?}: {r:?}");
        }
        assert!(matches!(
            tar(&[Member::Dir {
                path: "a\0b",
                mode: 0o755
            }]),
            Err(ArchiveError::Nul(_))
        ));
    }

    /// GNU tar (a real component) reads what we write: names long and odd, modes, bytes.
    #[test]
    fn gnu_tar_extracts_the_archive() {
        let dir = tempfile::tempdir().unwrap();
        let long_dir = "d".repeat(120);
        let long_file = format!("{long_dir}/{}", "f".repeat(140));
        let odd = "sp ace/it's $(x) é\nnl";
        let archive = tar(&[
            Member::Dir {
                path: "sp ace",
                mode: 0o750,
            },
            Member::File {
                path: odd,
                mode: 0o600,
                bytes: b"odd\0bytes",
            },
            Member::Dir {
                path: &long_dir,
                mode: 0o755,
            },
            Member::File {
                path: &long_file,
                mode: 0o755,
                bytes: &vec![7u8; 1000],
            },
            Member::File {
                path: "empty",
                mode: 0o644,
                bytes: b"",
            },
        ])
        .unwrap();
        assert_eq!(archive.len() % BLOCK, 0);
        let file = dir.path().join("a.tar");
        std::fs::write(&file, &archive).unwrap();
        let out_dir = dir.path().join("out");
        std::fs::create_dir(&out_dir).unwrap();
        let out = Command::new("tar")
            .arg("-x")
            .arg("-p")
            .arg("-f")
            .arg(&file)
            .arg("-C")
            .arg(&out_dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        use std::os::unix::fs::PermissionsExt;
        let meta = |p: &str| std::fs::metadata(out_dir.join(p)).unwrap();
        assert_eq!(std::fs::read(out_dir.join(odd)).unwrap(), b"odd\0bytes");
        assert_eq!(meta(odd).permissions().mode() & 0o7777, 0o600);
        assert_eq!(meta("sp ace").permissions().mode() & 0o7777, 0o750);
        assert_eq!(
            std::fs::read(out_dir.join(&long_file)).unwrap(),
            vec![7u8; 1000]
        );
        assert_eq!(meta(&long_file).permissions().mode() & 0o7777, 0o755);
        assert_eq!(std::fs::read(out_dir.join("empty")).unwrap(), b"");
        // Listing agrees too (no stray members such as pax headers extracted as files).
        let out = Command::new("tar")
            .arg("-t")
            .arg("-f")
            .arg(&file)
            .output()
            .unwrap();
        let list = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            list.lines().filter(|l| l.contains("PaxHeader")).count(),
            0,
            "{list}"
        );
    }
}
