//! What a report shows of one content change, bounded (issue 13: a 100 MB single-line file
//! printed 125 MB of report): a unified diff of at most [`MAX_LINES`] lines and [`MAX_BYTES`]
//! bytes, each line cut at [`MAX_LINE`] bytes with a `… (K more bytes)` marker and the rest
//! counted in a last `… (N more lines, M bytes)` line; binary content, content whose old bytes
//! were not fetched, and large content made of very long lines (minified, base64, one line)
//! get a one-line summary instead: sizes and sha256 of both sides.
//!
//! The text, Markdown, JSON and JUnit reports all print what [`content_shown`] gives.

use std::io::{self, Write};
use std::time::Duration;

use similar::TextDiff;

use crate::resources::{Change, ContentChange};

/// Lines of diff printed per change, at most (the header lines included).
pub const MAX_LINES: usize = 300;
/// Bytes of diff printed per change, at most (markers aside).
pub const MAX_BYTES: usize = 32 * 1024;
/// Bytes of one diff line printed, at most; the rest is counted in a marker.
pub const MAX_LINE: usize = 500;
/// How long computing one diff may take before a coarser (still correct) diff is taken.
const DIFF_TIMEOUT: Duration = Duration::from_secs(2);

/// What to print of a content change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// A unified diff (capped), one line per line.
    Diff(String),
    /// One line, in parentheses: sizes and hashes of both sides.
    Summary(String),
}

/// What a report shows of `c`'s content: `None` when it has no content change or is sensitive.
/// `path` names both sides in the diff's header (`/dev/null` for a new file).
pub fn content_shown(c: &Change, path: &str) -> Option<Shown> {
    if c.sensitive {
        return None;
    }
    let cc = c.content.as_ref()?;
    if let (None, Some(why)) = (&cc.old, &cc.old_unread) {
        return Some(Shown::Summary(unread(cc, why)));
    }
    let new = as_text(&cc.new);
    let old = match (&cc.old, cc.old_size) {
        (Some(o), _) => as_text(o),
        (None, None) => Some(""), // a new file
        (None, Some(_)) => None,  // old bytes not fetched (binary or large)
    };
    match (old, new) {
        (Some(old), Some(new)) if diffable(old) && diffable(new) => {
            let from = if cc.old_size.is_some() {
                path
            } else {
                "/dev/null"
            };
            Some(Shown::Diff(capped_diff(old, new, from, path)))
        }
        _ => Some(Shown::Summary(summary(cc))),
    }
}

fn as_text(b: &[u8]) -> Option<&str> {
    std::str::from_utf8(b).ok().filter(|t| !t.contains('\0'))
}

/// Small, or made of lines of ordinary length: worth a diff. Large content of very long lines
/// (one line of 100 MB) would be a diff of cut lines: a summary says more.
fn diffable(text: &str) -> bool {
    let lines = text.bytes().filter(|b| *b == b'\n').count() + 1;
    text.len() <= MAX_BYTES || text.len() / lines <= MAX_LINE
}

/// `(binary or large content: OLD → NEW bytes, sha256 OLD12 → NEW12)`.
pub fn summary(cc: &ContentChange) -> String {
    format!(
        "(binary or large content: {} → {} bytes, sha256 {} → {})",
        cc.old_size
            .map(|s| s.to_string())
            .unwrap_or_else(|| "none".into()),
        cc.new.len(),
        cc.old_sha256
            .as_deref()
            .map(|s| &s[..s.len().min(12)])
            .unwrap_or("none"),
        &cc.new_sha256[..cc.new_sha256.len().min(12)],
    )
}

/// `(old content not shown, it could not be read safely: WHY; new: N bytes, sha256 NEW12)`:
/// nothing of the old side (its probed size and hash included: a file swapped for a link to
/// another one would be that one's).
pub fn unread(cc: &ContentChange, why: &str) -> String {
    format!(
        "(old content not shown, it could not be read safely: {why}; new: {} bytes, sha256 {})",
        cc.new.len(),
        &cc.new_sha256[..cc.new_sha256.len().min(12)],
    )
}

/// The unified diff of `old` → `new` (3 lines of context), capped as the module says.
pub fn capped_diff(old: &str, new: &str, from: &str, to: &str) -> String {
    let diff = TextDiff::configure()
        .timeout(DIFF_TIMEOUT)
        .diff_lines(old, new);
    let mut w = CappedLines::default();
    // Writing into CappedLines never fails: past the caps it only counts.
    let _ = diff
        .unified_diff()
        .context_radius(3)
        .header(from, to)
        .to_writer(&mut w);
    w.finish()
}

/// A writer that keeps the first [`MAX_LINES`] lines / [`MAX_BYTES`] bytes, each line cut at
/// [`MAX_LINE`] bytes, and counts the rest.
#[derive(Debug, Default)]
pub struct CappedLines {
    out: String,
    lines: usize,
    /// The line being written (at most MAX_LINE bytes of it).
    line: Vec<u8>,
    /// Bytes of the current line past MAX_LINE.
    line_cut: u64,
    /// Whole lines (and their bytes) past the caps.
    more_lines: u64,
    more_bytes: u64,
}

impl CappedLines {
    fn end_line(&mut self) {
        let full = self.line.len() as u64 + self.line_cut;
        if self.lines >= MAX_LINES || self.out.len() + self.line.len() > MAX_BYTES {
            self.more_lines += 1;
            self.more_bytes += full + 1;
        } else {
            // A cut may split a character: keep its valid start.
            let text = match std::str::from_utf8(&self.line) {
                Ok(t) => t,
                Err(e) => std::str::from_utf8(&self.line[..e.valid_up_to()]).unwrap_or_default(),
            };
            self.out.push_str(text);
            let dropped = full - text.len() as u64;
            if dropped > 0 {
                self.out.push_str(&format!(" … ({dropped} more bytes)"));
            }
            self.out.push('\n');
            self.lines += 1;
        }
        self.line.clear();
        self.line_cut = 0;
    }

    /// The kept text, with a last line counting what was left out.
    pub fn finish(mut self) -> String {
        if !self.line.is_empty() || self.line_cut > 0 {
            self.end_line();
        }
        if self.more_lines > 0 {
            self.out.push_str(&format!(
                "… ({} more lines, {} bytes)\n",
                self.more_lines, self.more_bytes
            ));
        }
        self.out
    }
}

impl Write for CappedLines {
    fn write(&mut self, mut data: &[u8]) -> io::Result<usize> {
        let n = data.len();
        while !data.is_empty() {
            let (part, rest, ends) = match data.iter().position(|b| *b == b'\n') {
                Some(i) => (&data[..i], &data[i + 1..], true),
                None => (data, &[][..], false),
            };
            let room = MAX_LINE.saturating_sub(self.line.len()).min(part.len());
            self.line.extend_from_slice(&part[..room]);
            self.line_cut += (part.len() - room) as u64;
            if ends {
                self.end_line();
            }
            data = rest;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Action;

    fn change(old: Option<&[u8]>, new: &[u8]) -> Change {
        Change {
            content: Some(ContentChange {
                path: "/etc/x".into(),
                old: old.map(<[u8]>::to_vec),
                old_sha256: old.map(|_| "a".repeat(64)),
                old_size: old.map(|o| o.len() as u64),
                old_unread: None,
                new: new.to_vec(),
                new_sha256: "b".repeat(64),
            }),
            kind: crate::resources::example::kind("file").expect("a kind"),
            key: "/etc/x".into(),
            action: Action::Update,
            details: Vec::new(),
            sensitive: false,
            index: 0,
            after: None,
            expect: None,
            files: Default::default(),
            restarts: Vec::new(),
            attrs: false,
        }
    }

    #[test]
    fn an_old_side_not_read_safely_is_said_and_nothing_of_it_shown() {
        let mut c = change(None, b"new\n");
        if let Some(cc) = c.content.as_mut() {
            cc.old_size = Some(7);
            cc.old_sha256 = Some("c".repeat(64));
            cc.old_unread = Some("/srv/x: a symbolic link; play does not follow it".into());
        }
        assert_eq!(
            content_shown(&c, "/srv/x"),
            Some(Shown::Summary(format!(
                "(old content not shown, it could not be read safely: /srv/x: a symbolic link; \
                 play does not follow it; new: 4 bytes, sha256 {})",
                "b".repeat(12)
            )))
        );
    }

    #[test]
    fn a_small_change_is_the_whole_unified_diff() {
        let c = change(Some(b"a\nb\n"), b"a\nc\n");
        assert_eq!(
            content_shown(&c, "/etc/x"),
            Some(Shown::Diff(
                "--- /etc/x\n+++ /etc/x\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n".into()
            ))
        );
    }

    #[test]
    fn a_new_file_diffs_from_dev_null_without_a_trailing_newline() {
        let c = change(None, b"one");
        assert_eq!(
            content_shown(&c, "/etc/x"),
            Some(Shown::Diff(
                "--- /dev/null\n+++ /etc/x\n@@ -0,0 +1 @@\n+one\n\\ No newline at end of file\n"
                    .into()
            ))
        );
    }

    #[test]
    fn a_long_diff_keeps_max_lines_and_counts_the_rest() {
        let new: String = (0..10_000).map(|i| format!("line {i}\n")).collect();
        let Some(Shown::Diff(d)) = content_shown(&change(None, new.as_bytes()), "/etc/x") else {
            panic!("a diff");
        };
        let lines: Vec<&str> = d.lines().collect();
        assert_eq!(lines.len(), MAX_LINES + 1, "{d}");
        assert!(d.len() <= MAX_BYTES + 100, "{}", d.len());
        // 10000 lines + 3 header lines, MAX_LINES kept.
        let more = 10_003 - MAX_LINES;
        assert!(
            lines[MAX_LINES].starts_with(&format!("… ({more} more lines, ")),
            "{}",
            lines[MAX_LINES]
        );
    }

    #[test]
    fn a_diff_is_capped_in_bytes_too() {
        let new: String = (0..200).map(|_| format!("{}\n", "y".repeat(400))).collect();
        let Some(Shown::Diff(d)) = content_shown(&change(None, new.as_bytes()), "/etc/x") else {
            panic!("a diff");
        };
        assert!(d.len() <= MAX_BYTES + 100, "{}", d.len());
        assert!(d.lines().count() < 200, "{}", d.lines().count());
        assert!(
            d.lines().last().is_some_and(|l| l.starts_with("… (")),
            "{d}"
        );
    }

    #[test]
    fn long_lines_are_cut_with_a_marker() {
        let line = format!("{}\n", "é".repeat(1000)); // 2000 bytes
        let Some(Shown::Diff(d)) = content_shown(&change(None, line.as_bytes()), "/etc/x") else {
            panic!("a diff");
        };
        let cut = d.lines().nth(3).expect("the + line");
        // "+" and 249 "é" (499 bytes: the 250th would be split), then the other 1502 counted.
        assert_eq!(cut, format!("+{} … (1502 more bytes)", "é".repeat(249)));
    }

    #[test]
    fn a_huge_single_line_gets_a_summary() {
        let big = vec![b'x'; 5_000_000];
        let shown = content_shown(&change(Some(b"small\n"), &big), "/etc/x");
        assert_eq!(
            shown,
            Some(Shown::Summary(format!(
                "(binary or large content: 6 → 5000000 bytes, sha256 {} → {})",
                "a".repeat(12),
                "b".repeat(12)
            )))
        );
    }

    #[test]
    fn binary_and_sensitive_content() {
        let bin = change(Some(b"\0\x01"), b"\0\x02");
        assert!(matches!(content_shown(&bin, "/x"), Some(Shown::Summary(_))));
        let mut secret = change(Some(b"a\n"), b"b\n");
        secret.sensitive = true;
        assert_eq!(content_shown(&secret, "/x"), None);
    }
}
