//! `replace:` — every match of a pattern in a text file replaced, as Ansible's `replace`.
//!
//! ```yaml
//! - replace: /etc/nginx/nginx.conf
//!   regexp: '#(\s+)server_tokens off'
//!   with: 'server_tokens off'
//! ```
//!
//! The pattern is the `regex` crate's, multi-line (`^`/`$` match at line boundaries, as
//! Ansible's `re.MULTILINE`), with Python's `\Z` read as `\z`; `with` is Python's replacement
//! template (`\1`, `\g<1>`, `\g<name>`, `\n`, `\t`, `\\`), parsed by [`edit::parse_template`] and
//! checked against the pattern's groups when the entry is rendered. `after`/`before` limit the
//! region as Ansible does. The new content is computed from the probed content
//! ([`edit_replace`]); see [`super::edit`] for the probe record and the apply step.

use regex::{Captures, Regex, RegexBuilder};

use super::deploy::{Planned, Refused};
use super::edit::{self, EditWork, FileSeen};
use super::registry::Key;
use super::Presence;
use crate::resolve::{Base, Keys, ResolveError};

/// One `replace:`, rendered for one host (its patterns and template checked by
/// [`Replace::new`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaceSpec {
    pub path: String,
    pub regexp: String,
    /// The replacement, Python's template syntax (empty: the matches are removed).
    pub with: String,
    pub after: Option<String>,
    pub before: Option<String>,
    pub validate: Option<String>,
}

/// What a `replace:` does, compiled: the pattern, the template and the region.
#[derive(Debug, Clone)]
pub struct Replace {
    re: Regex,
    with: Vec<edit::Piece>,
    /// `after`/`before` as one pattern whose group `play_region` is the region.
    region: Option<Regex>,
}

/// The group of [`Replace::region`] holding the region.
const REGION: &str = "play_region";

/// A pattern as Python writes it, in the `regex` crate's syntax: `\Z` (end of text) is `\z`
/// there; everything else is read as it is.
fn translate(re: &str) -> String {
    let mut out = String::with_capacity(re.len());
    let mut chars = re.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '\\' {
            match chars.next() {
                Some('Z') => out.push('z'),
                Some(next) => out.push(next),
                None => {}
            }
        }
    }
    out
}

/// Compiles a pattern of `key` (`regexp`, `after`, `before`): multi-line for `regexp`,
/// dot-matches-newline for the region (as Ansible compiles them).
fn compile(key: &str, re: &str, region: bool) -> Result<Regex, String> {
    RegexBuilder::new(&translate(re))
        .multi_line(!region)
        .dot_matches_new_line(region)
        .build()
        .map_err(|e| {
            let text = e.to_string();
            let why = text.lines().last().unwrap_or_default().trim();
            let why = why.strip_prefix("error: ").unwrap_or(why);
            let hint = if why.contains("look-around") || why.contains("backreference") {
                " (play's patterns are the `regex` crate's: no look-around and no backreference \
                 in the pattern; `\\1` is for `with`)"
            } else {
                ""
            };
            format!("{key} `{re}` does not compile: {why}{hint}")
        })
}

impl Replace {
    /// Compiles a spec's keys; `Err`: the key at fault and why.
    pub fn new(
        regexp: &str,
        with: &str,
        after: Option<&str>,
        before: Option<&str>,
    ) -> Result<Replace, (&'static str, String)> {
        let re = compile("regexp", regexp, false).map_err(|m| ("regexp", m))?;
        let with = edit::parse_template("with", with).map_err(|m| ("with", m))?;
        edit::check_groups("with", &with, &re).map_err(|m| ("with", m))?;
        for (key, p) in [("after", after), ("before", before)] {
            if let Some(p) = p {
                compile(key, p, true).map_err(|m| (key, m))?;
            }
        }
        let region = match (after, before) {
            (None, None) => None,
            (Some(a), None) => Some(format!("(?:{a})(?P<{REGION}>.*)")),
            (None, Some(b)) => Some(format!("(?P<{REGION}>.*)(?:{b})")),
            (Some(a), Some(b)) => Some(format!("(?:{a})(?P<{REGION}>.*?)(?:{b})")),
        };
        let key = if after.is_some() { "after" } else { "before" };
        let region = (region.as_deref())
            .map(|r| compile(key, r, true).map_err(|m| (key, m)))
            .transpose()?;
        Ok(Replace { re, with, region })
    }

    /// [`Replace::new`] of a spec.
    pub fn of(spec: &ReplaceSpec) -> Result<Replace, String> {
        let (after, before) = (spec.after.as_deref(), spec.before.as_deref());
        Replace::new(&spec.regexp, &spec.with, after, before).map_err(|(_, m)| m)
    }

    /// The replacement of one match.
    fn expand(&self, caps: &Captures) -> String {
        edit::expand(&self.with, caps)
    }
}

/// The file's new content: every match of the pattern in the region (the whole text without
/// `after`/`before`; the text after the first match of `after`, up to the last match of
/// `before`, or between the first `after` and the first `before` after it; no region found:
/// no change) replaced by its expansion of `with`.
pub fn edit_replace(old: &str, r: &Replace) -> String {
    let (start, end) = match &r.region {
        None => (0, old.len()),
        Some(region) => match region.captures(old).and_then(|c| c.name(REGION)) {
            Some(m) => (m.start(), m.end()),
            None => return old.to_string(),
        },
    };
    let section =
        r.re.replace_all(&old[start..end], |c: &Captures| r.expand(c));
    format!("{}{section}{}", &old[..start], &old[end..])
}

/// Plans one `replace:`: the file with every match replaced. A missing file is refused (as
/// Ansible fails), and so is a replacement that would change the file again each run.
pub fn plan(spec: &ReplaceSpec, seen: &FileSeen) -> Result<Option<Planned<EditWork>>, Refused> {
    let r = Replace::of(spec).map_err(Refused)?;
    if *seen == FileSeen::Missing {
        return Err(Refused(format!(
            "{} does not exist: `replace:` edits an existing file",
            spec.path
        )));
    }
    let Some(old) = edit::old_text(&spec.path, seen, Presence::Present)? else {
        return Ok(None);
    };
    let new = edit_replace(&old, &r);
    let again = edit_replace(&new, &r);
    if again != new {
        let line = (new.lines().zip(again.lines()))
            .find(|(a, b)| a != b)
            .map_or(String::new(), |(a, b)| {
                format!(" (`{a}` would become `{b}`)")
            });
        return Err(Refused(format!(
            "regexp `{}` matches its own replacement again{line}: the file would change on every run; make `with` not match `regexp`",
            spec.regexp
        )));
    }
    edit::plan_text(&spec.path, seen, new, spec.validate.as_deref())
}

impl super::Spec for ReplaceSpec {
    edit::path_edit_spec_methods!();
    fn has_nul(&self) -> bool {
        super::any_nul(&[
            Some(&self.path),
            Some(&self.regexp),
            Some(&self.with),
            self.after.as_deref(),
            self.before.as_deref(),
            self.validate.as_deref(),
        ])
    }
}

/// The registry line of `replace:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Replace,
    name: "replace",
    keys: &[
        Key::Text("regexp"),
        Key::Text("with"),
        Key::Text("after"),
        Key::Text("before"),
        Key::Text("validate"),
    ],
    is_path: true,
    watchable: true,
    docs_section: "`replace: PATH` — every match of a pattern in a file",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key: super::registry::path_key,
    render: super::registry::Render::Fn(from_entry),
    check_value,
    records: &[],
    check_entry,
};

/// [`super::registry::KindDef::check_value`]: the patterns compile, `with` parses (its groups
/// are checked against `regexp` once both are rendered).
fn check_value(key: &str, value: &str) -> Result<(), String> {
    match key {
        "regexp" => compile(key, value, false).map(|_| ()),
        "after" | "before" => compile(key, value, true).map(|_| ()),
        "with" => edit::parse_template("with", value).map(|_| ()),
        _ => Ok(()),
    }
}

/// A `replace:` needs `regexp` (its registry line's `check_entry`).
fn check_entry(entry: &crate::playbook::RawResource) -> Result<(), String> {
    if entry.has("regexp") {
        Ok(())
    } else {
        Err("a replace needs `regexp`".into())
    }
}

/// The spec of a `replace:` entry, its errors located at their keys (the registry line's
/// `render`).
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, state, .. } = b;
    if k.presence(&state)? == Presence::Absent {
        let why = "a replace has no `state: absent` (write the pattern's removal as `with: ''`)";
        return Err(k.fail("state", why.into()));
    }
    let Some(regexp) = k.string("regexp")? else {
        return Err(k.fail("replace", "a replace needs `regexp`".into()));
    };
    let with = k.string("with")?.unwrap_or_default();
    let after = k.string("after")?;
    let before = k.string("before")?;
    Replace::new(&regexp, &with, after.as_deref(), before.as_deref())
        .map_err(|(key, m)| k.fail(key, m))?;
    let validate = edit::validate_key(k)?;
    Ok(super::Desired::Replace(ReplaceSpec {
        path: key,
        regexp,
        with,
        after,
        before,
        validate,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(re: &str, with: &str) -> Replace {
        Replace::new(re, with, None, None).unwrap()
    }

    fn region(re: &str, with: &str, after: Option<&str>, before: Option<&str>) -> Replace {
        Replace::new(re, with, after, before).unwrap()
    }

    const NGINX: &str = "http {\n    #  server_tokens off;\n    sendfile on;\n}\n";

    #[test]
    fn every_match_is_replaced_with_its_groups() {
        let x = r(r"#(\s+)server_tokens off", "server_tokens off");
        let new = edit_replace(NGINX, &x);
        assert_eq!(new, "http {\n    server_tokens off;\n    sendfile on;\n}\n");
        assert_eq!(edit_replace(&new, &x), new, "converged");
        // Every match, not only the first; `\1` and `\g<name>`.
        let kv = r(r"^(?P<k>\w+)=(\d+)$", r"\g<k>: \2");
        assert_eq!(edit_replace("a=1\nb=2\nc=x\n", &kv), "a: 1\nb: 2\nc=x\n");
        // `^` and `$` at line boundaries; `\Z` is the end of the text.
        assert_eq!(edit_replace("x\nx", &r("^x$", "y")), "y\ny");
        assert_eq!(edit_replace("x\nx", &r(r"x\Z", "y")), "x\ny");
        // Python's escapes in the template; a `$` is a `$`.
        assert_eq!(edit_replace("a", &r("a", r"1\n$2\t\\")), "1\n$2\t\\");
        // Ansible's multi-line pattern (consul-installer), with `\n` in the template.
        let secrets = "production:\n  # secret_key_base: \"\"\n";
        let x = r(
            r#"^production:\n  # secret_key_base: """#,
            r#"production:\n  secret_key_base: "abc""#,
        );
        assert_eq!(
            edit_replace(secrets, &x),
            "production:\n  secret_key_base: \"abc\"\n"
        );
    }

    #[test]
    fn after_and_before_limit_the_region() {
        let text = "a=1\n[s]\na=2\n[t]\na=3\n";
        let x = region("^a=.*$", "a=0", Some(r"\[s\]"), None);
        assert_eq!(edit_replace(text, &x), "a=1\n[s]\na=0\n[t]\na=0\n");
        let x = region("^a=.*$", "a=0", None, Some(r"\[t\]"));
        assert_eq!(edit_replace(text, &x), "a=0\n[s]\na=0\n[t]\na=3\n");
        let x = region("^a=.*$", "a=0", Some(r"\[s\]"), Some(r"\[t\]"));
        assert_eq!(edit_replace(text, &x), "a=1\n[s]\na=0\n[t]\na=3\n");
        // No region: no change, as Ansible.
        let x = region("a", "b", Some("nowhere"), None);
        assert_eq!(edit_replace(text, &x), text);
        // `^` matches at the region's start (Ansible's regexp sees the region alone).
        let x = region("^x", "y", Some("a"), None);
        assert_eq!(edit_replace("axbx", &x), "aybx");
        // The region's patterns are not multi-line (Ansible's DOTALL only); `(?m)` makes them.
        let ini = "[a]\np=1\n[s]\np=2\n";
        let x = region("p=.", "p=0", Some(r"^\[s\]"), None);
        assert_eq!(edit_replace(ini, &x), ini);
        let x = region("p=.", "p=0", Some(r"(?m)^\[s\]$"), None);
        assert_eq!(edit_replace(ini, &x), "[a]\np=1\n[s]\np=0\n");
        // An empty match right after a match is not replaced (the `regex` crate; Python's
        // `re.sub` replaces it), as docs/playbooks.md says.
        assert_eq!(edit_replace("baa", &r("a*", "-")), "-b-");
    }

    fn spec(re: &str, with: &str) -> ReplaceSpec {
        ReplaceSpec {
            path: "/f".into(),
            regexp: re.into(),
            with: with.into(),
            after: None,
            before: None,
            validate: None,
        }
    }

    #[test]
    fn the_plan_is_a_function_of_the_content() {
        let seen = FileSeen::File(b"port=80\n".to_vec());
        let p = plan(&spec(r"port=\d+", "port=8080"), &seen)
            .unwrap()
            .unwrap();
        assert_eq!(p.action, super::super::Action::Update);
        assert_eq!(p.work.new.as_deref(), Some(&b"port=8080\n"[..]));
        // Nothing matches, or the same result: no change.
        assert_eq!(plan(&spec("nothing", "x"), &seen).unwrap(), None);
        assert_eq!(plan(&spec(r"port=\d+", "port=80"), &seen).unwrap(), None);
        // A missing file is refused, as Ansible fails.
        let e = plan(&spec("a", "b"), &FileSeen::Missing).unwrap_err();
        assert!(e.0.contains("/f does not exist"), "{}", e.0);
        let e = plan(&spec("a", "b"), &FileSeen::Other("a symbolic link".into())).unwrap_err();
        assert!(e.0.contains("is a symbolic link"), "{}", e.0);
    }

    #[test]
    fn a_replacement_that_matches_again_is_refused() {
        let seen = FileSeen::File(b"port=80\n".to_vec());
        let e = plan(&spec(r"port=\d+", r"\g<0>0"), &seen).unwrap_err();
        assert!(e.0.contains("matches its own replacement again"), "{}", e.0);
        assert!(
            e.0.contains("`port=800` would become `port=8000`"),
            "{}",
            e.0
        );
        // Matching again to the same text converges (consul-installer's `(.+)$` keys).
        let x = spec(r"^  key:(.+)$", r#"  key: "v""#);
        let seen = FileSeen::File(b"  key: old\n".to_vec());
        assert!(plan(&x, &seen).unwrap().is_some());
        let seen = FileSeen::File(b"  key: \"v\"\n".to_vec());
        assert_eq!(plan(&x, &seen).unwrap(), None);
    }

    #[test]
    fn bad_patterns_and_templates_are_refused_at_their_key() {
        let err = |re: &str, with: &str, after: Option<&str>| {
            Replace::new(re, with, after, None).map(|_| ()).unwrap_err()
        };
        let (key, m) = err("(?<=a)b", "", None);
        assert_eq!(key, "regexp");
        assert!(
            m.contains("look-around") && m.contains("regex` crate"),
            "{m}"
        );
        assert!(err(r"(a)\1", "", None).1.contains("backreference"));
        assert_eq!(err("(a", "", None).0, "regexp");
        assert_eq!(
            err("a", r"\2", None),
            (
                "with",
                "with: `\\2` names no group of regexp (it has 0)".into()
            )
        );
        assert_eq!(err("(a)", r"\g<x>", None).0, "with");
        assert_eq!(err("a", r"\q", None).1, "with: bad escape `\\q`");
        assert_eq!(err("a", "x\\", None).0, "with");
        assert_eq!(err("a", r"\0", None).0, "with");
        assert_eq!(err("a", r"\123", None).0, "with");
        assert_eq!(err("a", r"\g<1", None).0, "with");
        assert_eq!(err("a", "", Some("(")).0, "after");
        // Other escapes stay as written, as in Python.
        assert_eq!(
            edit::parse_template("with", r"\&").unwrap(),
            vec![edit::Piece::Text(r"\&".into())]
        );
        assert!(check_value("regexp", "(?=x)").is_err());
        assert!(check_value("with", r"\1").is_ok());
        assert!(check_value("after", "[").is_err());
    }
}
