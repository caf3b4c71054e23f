//! `line:` — one line of a text file, found by `regexp` (the last match is replaced, as
//! Ansible's `lineinfile`) or appended; `state: absent` removes the matching lines.
//!
//! ```yaml
//! - line: /etc/ssh/sshd_config
//!   regexp: '^#?PasswordAuthentication\s'
//!   text: PasswordAuthentication no
//!   validate: /usr/sbin/sshd -t -f %s
//! ```
//!
//! The new content is computed here from the probed content ([`edit_line`]); see
//! [`super::edit`] for the probe record and the apply step.

use regex::Regex;

use super::deploy::{Planned, Refused};
use super::edit::{self, EditWork, FileSeen};
use super::registry::Key;
use super::Presence;
use crate::resolve::{Base, Keys, ResolveError};

/// One line, rendered for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineSpec {
    pub path: String,
    pub presence: Presence,
    /// Checked by resolve ([`check_regexp`]).
    pub regexp: Option<String>,
    pub text: String,
    pub validate: Option<String>,
    /// Ansible's `backrefs`: `text` is a template of the match (`\\1`, `\\g<name>`), and
    /// without a match the file stays as it is (nothing appended).
    pub backrefs: bool,
}

/// Checks a `regexp` (the `regex` crate's syntax).
pub fn check_regexp(re: &str) -> Result<Regex, String> {
    Regex::new(re).map_err(|e| {
        // The regex crate's message draws the pattern over several lines: its last says why.
        let text = e.to_string();
        let why = text.lines().last().unwrap_or_default().trim();
        let why = why.strip_prefix("error: ").unwrap_or(why);
        format!("regexp `{re}` does not compile: {why}")
    })
}

/// Checks a line's `text`: one line.
pub fn check_text(text: &str) -> Result<(), String> {
    if text.contains('\n') || text.contains('\r') {
        return Err("text: one line, without a newline".into());
    }
    Ok(())
}

/// The file's new content. Present: the last line matching `re` becomes `text` (the other
/// matches stay); without a match, a line equal to `text` leaves the file alone, else `text`
/// is appended. Absent: every line matching `re` (without `re`: equal to `text`) is removed.
///
/// With `backrefs` (the parsed `text`), present: the last line matching `re` becomes the
/// template's text for that match; without a match the file is unchanged.
pub fn edit_line(
    old: &str,
    re: Option<&Regex>,
    text: &str,
    presence: Presence,
    backrefs: Option<&[edit::Piece]>,
) -> String {
    let lines = edit::lines(old);
    if let (Some(re), Some(with), Presence::Present) = (re, backrefs, presence) {
        let last = (lines.iter().enumerate().rev()).find_map(|(i, l)| {
            re.captures(edit::bare(l))
                .map(|c| (i, edit::expand(with, &c)))
        });
        let Some((i, line)) = last else {
            return old.to_string();
        };
        let mut out = String::new();
        for (j, l) in lines.iter().enumerate() {
            if j == i {
                out.push_str(&line);
                out.push('\n');
            } else {
                out.push_str(l);
            }
        }
        return out;
    }
    let hit = |l: &str| match re {
        Some(re) => re.is_match(edit::bare(l)),
        None => edit::bare(l) == text,
    };
    match presence {
        Presence::Absent => lines.into_iter().filter(|l| !hit(l)).collect(),
        Presence::Present => {
            if let Some(i) = re.and_then(|_| lines.iter().rposition(|l| hit(l))) {
                let mut out = String::new();
                for (j, l) in lines.iter().enumerate() {
                    if j == i {
                        out.push_str(text);
                        out.push('\n');
                    } else {
                        out.push_str(l);
                    }
                }
                out
            } else if lines.iter().any(|l| edit::bare(l) == text) {
                old.to_string()
            } else {
                edit::join_append(&lines, &[text])
            }
        }
    }
}

/// Plans one line: the file with the line, or without it.
pub fn plan(spec: &LineSpec, seen: &FileSeen) -> Result<Option<Planned<EditWork>>, Refused> {
    let re = match &spec.regexp {
        Some(r) => Some(check_regexp(r).map_err(Refused)?),
        None => None,
    };
    let Some(old) = edit::old_text(&spec.path, seen, spec.presence)? else {
        return Ok(None);
    };
    let with = match (spec.backrefs, &re) {
        (true, Some(re)) => {
            let with = edit::parse_template("text", &spec.text).map_err(Refused)?;
            edit::check_groups("text", &with, re).map_err(Refused)?;
            Some(with)
        }
        _ => None,
    };
    let new = edit_line(
        &old,
        re.as_ref(),
        &spec.text,
        spec.presence,
        with.as_deref(),
    );
    edit::plan_text(&spec.path, seen, new, spec.validate.as_deref())
}

impl super::Spec for LineSpec {
    edit::path_edit_spec_methods!();
    fn has_nul(&self) -> bool {
        super::any_nul(&[Some(&self.path), Some(&self.text), self.validate.as_deref()])
    }
}

/// The registry line of `line:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Line,
    name: "line",
    keys: &[
        Key::Text("regexp"),
        Key::Text("text"),
        Key::Text("validate"),
        Key::Any("backrefs"),
    ],
    is_path: true,
    watchable: true,
    docs_section: "`line: PATH` — one line of a file",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key: super::registry::path_key,
    render: super::registry::Render::Fn(from_entry),
    check_value,
    records: &[],
    check_entry: super::registry::any_entry,
};

/// [`super::registry::KindDef::check_value`]: `regexp` is a regular expression.
fn check_value(key: &str, value: &str) -> Result<(), String> {
    match key {
        "regexp" => check_regexp(value).map(|_| ()),
        _ => Ok(()),
    }
}

/// The spec of a `line:` entry, its errors located at their keys (the registry line's
/// `render`).
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, state, .. } = b;
    let regexp = k.string("regexp")?;
    let compiled = (regexp.as_deref())
        .map(check_regexp)
        .transpose()
        .map_err(|m| k.fail("regexp", m))?;
    let presence = k.presence(&state)?;
    let text = k.string("text")?;
    if presence == Presence::Present && text.is_none() {
        return Err(k.fail("line", "a line needs `text`".into()));
    }
    if presence == Presence::Absent && text.is_none() && regexp.is_none() {
        return Err(k.fail("line", "an absent line needs `regexp` or `text`".into()));
    }
    let text = text.unwrap_or_default();
    check_text(&text).map_err(|m| k.fail("text", m))?;
    let validate = edit::validate_key(k)?;
    let backrefs = k.boolean("backrefs")?.unwrap_or(false);
    if backrefs {
        let Some(re) = &compiled else {
            return Err(k.fail(
                "backrefs",
                "backrefs needs `regexp` (its groups fill `text`)".into(),
            ));
        };
        if presence == Presence::Absent {
            return Err(k.fail(
                "backrefs",
                "backrefs is for a present line (`state: absent` removes the matches)".into(),
            ));
        }
        let with = edit::parse_template("text", &text).map_err(|m| k.fail("text", m))?;
        edit::check_groups("text", &with, re).map_err(|m| k.fail("text", m))?;
    }
    Ok(super::Desired::Line(LineSpec {
        path: key,
        presence,
        regexp,
        text,
        validate,
        backrefs,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(s: &str) -> Regex {
        check_regexp(s).unwrap()
    }

    const SSHD: &str = "Port 22\n#PasswordAuthentication yes\nUsePAM yes\n";

    #[test]
    fn the_last_match_is_replaced() {
        let r = re(r"^#?PasswordAuthentication\s");
        let t = "PasswordAuthentication no";
        let new = edit_line(SSHD, Some(&r), t, Presence::Present, None);
        assert_eq!(new, "Port 22\nPasswordAuthentication no\nUsePAM yes\n");
        // Already right: the same text, no change.
        assert_eq!(edit_line(&new, Some(&r), t, Presence::Present, None), new);
        let two = "A 1\nB\nA 2\n";
        assert_eq!(
            edit_line(two, Some(&re("^A ")), "A 3", Presence::Present, None),
            "A 1\nB\nA 3\n"
        );
    }

    #[test]
    fn without_a_match_the_line_is_appended_once() {
        let r = re("^MaxAuthTries ");
        let new = edit_line(
            "Port 22",
            Some(&r),
            "MaxAuthTries 3",
            Presence::Present,
            None,
        );
        assert_eq!(new, "Port 22\nMaxAuthTries 3\n");
        assert_eq!(edit_line("", None, "x", Presence::Present, None), "x\n");
        assert_eq!(edit_line("x\n", None, "x", Presence::Present, None), "x\n");
    }

    #[test]
    fn absent_removes_every_match() {
        let r = re("^#?PasswordAuthentication");
        let old = "PasswordAuthentication yes\nPort 22\n#PasswordAuthentication no\n";
        assert_eq!(
            edit_line(old, Some(&r), "", Presence::Absent, None),
            "Port 22\n"
        );
        assert_eq!(
            edit_line("a\nb\na\n", None, "a", Presence::Absent, None),
            "b\n"
        );
    }

    /// Ansible's `backrefs`: the last match becomes the template's text for it (groups,
    /// `\\g<name>`); no match leaves the file alone (no line appended).
    #[test]
    fn backrefs_fill_the_text_from_the_last_match() {
        let with = |t: &str| edit::parse_template("text", t).unwrap();
        let hosts = "127.0.0.1 localhost web1 extra\n::1 localhost\n";
        let r = re(r"^127\.0\.0\.1(.*)web1(.*)");
        let t = with(r"127.0.0.1 \1 \2");
        let new = edit_line(hosts, Some(&r), "", Presence::Present, Some(&t));
        assert_eq!(new, "127.0.0.1  localhost   extra\n::1 localhost\n");
        // converged: the line no longer matches, nothing changes, nothing is appended
        assert_eq!(
            edit_line(&new, Some(&r), "", Presence::Present, Some(&t)),
            new
        );
        let r = re(r"^bind 127\.0\.0\.1 ::1");
        let t = with("bind 127.0.0.1");
        let conf = "port 6379\nbind 127.0.0.1 ::1 -::1\n";
        assert_eq!(
            edit_line(conf, Some(&r), "", Presence::Present, Some(&t)),
            "port 6379\nbind 127.0.0.1\n"
        );
        let named = with(r"\g<k>=on");
        let r = re(r"^#?(?P<k>\w+)=off$");
        assert_eq!(
            edit_line(
                "a=off\n#b=off\n",
                Some(&r),
                "",
                Presence::Present,
                Some(&named)
            ),
            "a=off\nb=on\n"
        );
        // a group the regexp lacks is refused in the plan, not written as `\2`
        let spec = LineSpec {
            path: "/f".into(),
            presence: Presence::Present,
            regexp: Some("^(a)".into()),
            text: r"\2".into(),
            validate: None,
            backrefs: true,
        };
        let p = plan(&spec, &FileSeen::File(b"a\n".to_vec()));
        assert!(p.is_err_and(|e| e.0.contains("names no group")));
    }

    #[test]
    fn bad_input_is_refused() {
        assert!(check_regexp("(unclosed").is_err());
        assert!(check_text("a\nb").is_err());
        let spec = LineSpec {
            path: "/f".into(),
            presence: Presence::Present,
            regexp: None,
            text: "x".into(),
            validate: None,
            backrefs: false,
        };
        let p = plan(&spec, &FileSeen::File(b"\xff\n".to_vec()));
        assert!(p.is_err());
        let p = plan(&spec, &FileSeen::File(b"x\n".to_vec())).unwrap();
        assert_eq!(p, None);
    }
}
