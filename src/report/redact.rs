//! Keeping secrets out of every output.
//!
//! A [`Redactor`] holds the secret values known to the process (every value read from a vault
//! file, see [`crate::vault`]). [`Redactor::report`] makes a copy of a run report that is safe
//! to print in any format:
//! - a change whose new or old content contains a secret becomes sensitive (its diff, sizes and
//!   hashes are never shown: `(sensitive content changed)`), as do resources marked
//!   `sensitive: true`;
//! - the old and new bytes of every sensitive change are dropped;
//! - every other string (paths, details, error messages, notes) has each secret replaced by
//!   [`MASK`];
//! - the raw change prints (for plan files) are dropped.
//!
//! Printers also pass their final text through [`Redactor::text`], as a last line of defense.

use std::borrow::Cow;

use crate::engine::{HostStatus, RunReport};
use crate::resources::Change;

/// What a secret value is replaced with.
pub const MASK: &str = "[redacted]";

/// Replaces secret values in outputs.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first.
    secrets: Vec<String>,
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

impl Redactor {
    /// A redactor for every secret registered in this process so far.
    pub fn current() -> Self {
        Redactor::with(crate::vault::secrets())
    }

    /// A redactor for these secrets.
    pub fn with(mut secrets: Vec<String>) -> Self {
        secrets.retain(|s| !s.is_empty());
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        secrets.dedup();
        Redactor { secrets }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every secret replaced by [`MASK`].
    pub fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !self.secrets.iter().any(|s| text.contains(s.as_str())) {
            return Cow::Borrowed(text);
        }
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
        Cow::Owned(out)
    }

    /// `text` redacted, as an owned string.
    pub fn string(&self, text: &str) -> String {
        self.text(text).into_owned()
    }

    /// True when `bytes` hold a secret.
    pub fn bytes_contain_secret(&self, bytes: &[u8]) -> bool {
        self.secrets.iter().any(|s| contains(bytes, s.as_bytes()))
    }

    /// True when a change's content (new or old) holds a secret.
    pub fn change_has_secret(&self, c: &Change) -> bool {
        c.content.as_ref().is_some_and(|cc| {
            self.bytes_contain_secret(&cc.new)
                || cc
                    .old
                    .as_deref()
                    .is_some_and(|o| self.bytes_contain_secret(o))
        })
    }

    /// A copy of `c` safe to print: sensitive when its content holds a secret, contents of
    /// sensitive changes dropped, strings redacted.
    pub fn change(&self, c: &Change) -> Change {
        let mut c = c.clone();
        if self.change_has_secret(&c) {
            c.sensitive = true;
        }
        if c.sensitive {
            if let Some(cc) = c.content.as_mut() {
                cc.old = None;
                cc.new = Vec::new();
                cc.old_sha256 = None;
                cc.old_size = None;
                cc.new_sha256 = String::new();
            }
        }
        if let Some(cc) = c.content.as_mut() {
            cc.old_unread = cc.old_unread.as_deref().map(|w| self.string(w));
        }
        c.key = self.string(&c.key);
        c.details = c.details.iter().map(|d| self.string(d)).collect();
        c.restarts = c.restarts.iter().map(|d| self.string(d)).collect();
        for (_, f) in &mut c.files.files {
            *f = self.string(f);
        }
        c
    }

    /// A copy of the report safe to print in any format.
    pub fn report(&self, report: &RunReport) -> RunReport {
        let mut r = report.clone();
        for h in &mut r.hosts {
            h.host = self.string(&h.host);
            h.status = match &h.status {
                HostStatus::Ok => HostStatus::Ok,
                HostStatus::Failed(m) => HostStatus::Failed(self.string(m)),
                HostStatus::Unreachable(m) => HostStatus::Unreachable(self.string(m)),
                HostStatus::NotRun(m) => HostStatus::NotRun(self.string(m)),
            };
            h.changes = h.changes.iter().map(|c| self.change(c)).collect();
            h.checks = h.checks.iter().map(|c| self.change(c)).collect();
            h.notes = h.notes.iter().map(|n| self.string(n)).collect();
            // Raw (contents in clear): plan files take them through `planfile::normalize`.
            h.prints.clear();
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{Action, ContentChange};

    fn change(new: &str, old: Option<&str>) -> Change {
        Change {
            kind: crate::resources::example::kind("file").expect("a kind"),
            key: "/etc/app/db.ini".into(),
            action: Action::Update,
            details: vec!["owner root → s3cret-owner".into()],
            content: Some(ContentChange {
                path: "/etc/app/db.ini".into(),
                old: old.map(|o| o.as_bytes().to_vec()),
                old_sha256: Some("aa".into()),
                old_size: old.map(|o| o.len() as u64),
                old_unread: None,
                new: new.as_bytes().to_vec(),
                new_sha256: "bb".into(),
            }),
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
    fn replaces_longest_first() {
        let r = Redactor::with(vec!["abcd".into(), "abcdef".into()]);
        assert_eq!(r.text("x abcdef y abcd z"), "x [redacted] y [redacted] z");
        assert!(matches!(r.text("nothing"), Cow::Borrowed(_)));
    }

    #[test]
    fn content_with_a_secret_makes_the_change_sensitive() {
        let r = Redactor::with(vec!["s3cret-pw".into(), "s3cret-owner".into()]);
        let c = r.change(&change("password = s3cret-pw\n", Some("password = old\n")));
        assert!(c.sensitive);
        let cc = c.content.expect("content");
        assert!(cc.new.is_empty() && cc.old.is_none() && cc.new_sha256.is_empty());
        assert_eq!(c.details, vec!["owner root → [redacted]".to_string()]);
        // The old content alone holding a secret is enough (a rotated password).
        let c = r.change(&change("password = new\n", Some("password = s3cret-pw\n")));
        assert!(c.sensitive);
        let c = r.change(&change("plain\n", Some("old\n")));
        assert!(!c.sensitive);
        assert_eq!(c.content.expect("content").new, b"plain\n");
    }
}
