//! What `line:`, `block:` and `cron:` share: a text file of the host read by the probe (one
//! `base64` per file, in the host's one probe round trip), its new content computed in Rust
//! from the old (a pure plan, so `play diff` shows the exact unified diff), and a step written
//! by `apply`'s safe file primitives (temp file in root's private folder, the "changed since
//! the plan" check, rename inside the pinned folder; see [`crate::apply::whole_file`]).
//!
//! Probe record: `edf \0 PATH \0 BASE64-TEXT \0 STATE \0`, STATE `file` (the text is the
//! content), `missing`, `link`, `other` (not a regular file) or `bad` (unreadable).

use super::deploy::{set_args, Planned, Refused};
use super::{sha256_hex, Action, Attrs, ContentChange};

/// What the probe saw at an edited path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSeen {
    Missing,
    File(Vec<u8>),
    /// A symbolic link, a folder, a device…: not edited.
    Other(String),
}

/// The probe fragment reading `paths` (`edf` records).
pub fn probe_fragment(paths: &[String]) -> String {
    if paths.is_empty() {
        return String::new();
    }
    format!(
        "{}\nfor p do\n  printf 'edf\\0%s\\0' \"$p\"\n  if [ -L \"$p\" ]; then printf '\\0link\\0'\n  elif [ -f \"$p\" ]; then if base64 -- \"$p\" 2>/dev/null; then printf '\\0file\\0'; else printf '\\0bad\\0'; fi\n  elif [ -e \"$p\" ]; then printf '\\0other\\0'\n  else printf '\\0missing\\0'; fi\ndone\n",
        set_args(paths)
    )
}

/// Parses the fields of one `edf` record (PATH, BASE64-TEXT, STATE).
pub fn parse_record(data: &[u8], state: &[u8]) -> Result<FileSeen, String> {
    Ok(match state {
        b"file" => FileSeen::File(
            crate::probe::base64_decode(data)
                .ok_or_else(|| "bad base64 in edf record".to_string())?,
        ),
        b"missing" => FileSeen::Missing,
        b"link" => FileSeen::Other("a symbolic link".into()),
        b"other" => FileSeen::Other("not a regular file".into()),
        b"bad" => FileSeen::Other("an unreadable file".into()),
        s => return Err(format!("bad edf state `{}`", String::from_utf8_lossy(s))),
    })
}

/// The work apply does for an edited file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditWork {
    pub path: String,
    /// `None`: remove the file (`cron:` absent).
    pub new: Option<Vec<u8>>,
    /// What the file must still be: its sha256 as probed, or `missing`.
    pub expect: String,
    pub attrs: Attrs,
    /// A command run on the new content (`%s`: the temp file) before it replaces the file.
    pub validate: Option<String>,
    /// The diff of the change.
    pub content: Option<ContentChange>,
}

/// Plans writing `new` at `path` (seen as `seen`): `None` when the file already has it.
pub fn plan_write(
    path: &str,
    seen: &FileSeen,
    new: Vec<u8>,
    attrs: &Attrs,
    validate: Option<&str>,
) -> Result<Option<Planned<EditWork>>, Refused> {
    let (action, old) = match seen {
        FileSeen::Missing => (Action::Create, None),
        FileSeen::File(old) if *old == new => return Ok(None),
        FileSeen::File(old) => (Action::Update, Some(old)),
        FileSeen::Other(what) => {
            return Err(Refused(format!(
                "{path} is {what}; play edits regular files only"
            )))
        }
    };
    let content = ContentChange {
        path: path.to_string(),
        old: old.cloned(),
        old_sha256: old.map(|o| sha256_hex(o)),
        old_size: old.map(|o| o.len() as u64),
        old_unread: None,
        new_sha256: sha256_hex(&new),
        new: new.clone(),
    };
    Ok(Some(Planned {
        action,
        details: Vec::new(),
        work: EditWork {
            path: path.to_string(),
            expect: content
                .old_sha256
                .clone()
                .unwrap_or_else(|| "missing".into()),
            new: Some(new),
            attrs: attrs.clone(),
            validate: validate.map(str::to_string),
            content: Some(content),
        },
    }))
}

/// [`plan_write`] of an edit of a text file that keeps the file's attributes (`line`,
/// `block`, `replace`).
pub fn plan_text(
    path: &str,
    seen: &FileSeen,
    new: String,
    validate: Option<&str>,
) -> Result<Option<Planned<EditWork>>, Refused> {
    plan_write(path, seen, new.into_bytes(), &Attrs::default(), validate)
}

/// Plans a file holding one name and a newline, root's, 0644 (`/etc/hostname`,
/// `/etc/timezone`): no change when its text, spaces aside, is `name`; else its write and the
/// detail saying it (`PATH: `old` → `name``).
pub fn plan_name_file(
    path: &str,
    seen: &FileSeen,
    name: &str,
) -> Result<Option<(EditWork, String)>, Refused> {
    let old = match seen {
        FileSeen::File(b) if String::from_utf8_lossy(b).trim() == name => return Ok(None),
        FileSeen::File(b) => format!("`{}`", String::from_utf8_lossy(b).trim()),
        _ => "missing".to_string(),
    };
    let attrs = Attrs {
        owner: Some("root".into()),
        group: Some("root".into()),
        mode: Some(0o644),
    };
    let planned = plan_write(path, seen, format!("{name}\n").into_bytes(), &attrs, None)?;
    Ok(planned.map(|p| (p.work, format!("{path}: {old} → `{name}`"))))
}

/// [`super::Spec::content`] of a kind whose work may write such a file.
pub fn content_of(file: Option<&EditWork>) -> Option<ContentChange> {
    file?.content.clone()
}

/// [`super::Spec::edited_file`] of a kind whose work may write such a file.
pub fn edited_of(file: Option<&EditWork>) -> Option<(&str, &[u8])> {
    let f = file?;
    Some((&f.path, f.new.as_deref()?))
}

/// Plans removing the file at `path`.
pub fn plan_remove(path: &str, seen: &FileSeen) -> Result<Option<Planned<EditWork>>, Refused> {
    match seen {
        FileSeen::Missing => Ok(None),
        FileSeen::File(old) => Ok(Some(Planned {
            action: Action::Delete,
            details: Vec::new(),
            work: EditWork {
                path: path.to_string(),
                new: None,
                expect: sha256_hex(old),
                attrs: Attrs::default(),
                validate: None,
                content: None,
            },
        })),
        FileSeen::Other(what) => Err(Refused(format!(
            "{path} is {what}; play removes regular files only"
        ))),
    }
}

/// The text an edit starts from: the file's (UTF-8), empty for a missing file (`None`: a
/// missing file without the edit is already right). Other types are refused by
/// [`plan_write`].
pub fn old_text(
    path: &str,
    seen: &FileSeen,
    presence: super::Presence,
) -> Result<Option<String>, Refused> {
    match seen {
        FileSeen::Missing if presence == super::Presence::Absent => Ok(None),
        FileSeen::File(b) => String::from_utf8(b.clone())
            .map(Some)
            .map_err(|_| Refused(format!("{path} is not UTF-8 text"))),
        FileSeen::Missing | FileSeen::Other(_) => Ok(Some(String::new())),
    }
}

/// The lines of `text`, each with its newline (the last one may have none).
pub fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// `lines` joined, with `add` (lines without newlines) appended on lines of their own.
pub fn join_append(lines: &[&str], add: &[&str]) -> String {
    let mut out: String = lines.concat();
    if !add.is_empty() && !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    for a in add {
        out.push_str(a);
        out.push('\n');
    }
    out
}

/// A line without its newline (and `\r`).
pub fn bare(line: &str) -> &str {
    let l = line.strip_suffix('\n').unwrap_or(line);
    l.strip_suffix('\r').unwrap_or(l)
}

/// Checks a `validate` command: it must name the new content as `%s`.
pub fn check_validate(cmd: &str) -> Result<(), String> {
    if cmd.trim().is_empty() {
        return Err("validate: an empty command".into());
    }
    if !cmd.contains("%s") {
        return Err(format!(
            "validate `{cmd}` has no `%s` (where the new content's temp file goes)"
        ));
    }
    Ok(())
}

/// An edit's `validate` key, rendered and checked ([`check_validate`]).
pub fn validate_key(
    k: &crate::resolve::Keys,
) -> Result<Option<String>, crate::resolve::ResolveError> {
    let validate = k.string("validate")?;
    if let Some(v) = &validate {
        check_validate(v).map_err(|m| k.fail("validate", m))?;
    }
    Ok(validate)
}

/// The apply step of an edit: the new text written like a `file:` (after `validate`, when
/// given), or the file removed (no new text); `expect`: the sha256 the probe saw, or `missing`.
pub fn apply_fragment(i: usize, w: &EditWork) -> (String, Vec<u8>) {
    let (body, stdin) = apply_fragment_body(i, w);
    let head = format!("# edit {i}\nprintf '\\0play-step\\0%s\\0' {i} >&2\n");
    (format!("{head}{body}play_ok {i}\n"), stdin)
}

/// [`apply_fragment`]'s lines without the step's marker and `play_ok` (a step of a kind that
/// writes such a file among other work: `hostname:`, `timezone:`).
pub fn apply_fragment_body(i: usize, w: &EditWork) -> (String, Vec<u8>) {
    match w.new.as_deref() {
        Some(new) => {
            let validate = w.validate.as_deref();
            crate::apply::whole_file(i, &w.path, &w.attrs, Some(new), &w.expect, validate)
        }
        None => (crate::apply::removal(i, &w.path, "rm -f"), Vec::new()),
    }
}

/// A plan file's fingerprint of an edit: every file the probe read whole (see
/// [`Spec::depends`](super::Spec::depends)).
pub fn depends(observed: &super::Observed, out: &mut super::Prints) {
    for (p, seen) in &observed.deploy.files {
        let v = match seen {
            FileSeen::File(b) => super::sha256_hex(b),
            other => format!("{other:?}"),
        };
        out.insert(format!("file {p}"), v);
    }
}

/// The [`super::Spec`] methods every one-file edit kind (`line`, `block`, `replace`, `cron`)
/// shares: the edited file (the kind's `edited()`, or the function of the spec given) probed
/// and planned by the kind's `plan(spec, seen)`, applied by [`apply_fragment`], its registry
/// line `DEF`.
macro_rules! edit_spec_methods {
    () => {
        super::edit::edit_spec_methods!(|s: &Self| s.edited());
    };
    ($edited:expr) => {
        type Work = super::edit::EditWork;
        fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
            p.add_file(&($edited)(self));
        }
        fn plan_work(
            &self,
            observed: &super::Observed,
            _changed: &[&str],
        ) -> Result<Option<super::deploy::Planned<Self::Work>>, super::deploy::Refused> {
            let seen = super::deploy::seen_file(&observed.deploy, &($edited)(self))?;
            plan(self, seen)
        }
        fn content(
            &self,
            work: &Self::Work,
            _observed: &super::Observed,
        ) -> Option<super::ContentChange> {
            work.content.clone()
        }
        fn edited_file<'w>(&self, work: &'w Self::Work) -> Option<(&'w str, &'w [u8])> {
            Some((&work.path, work.new.as_deref()?))
        }
        fn apply_fragment(
            &self,
            index: usize,
            work: Option<&Self::Work>,
            _last: bool,
        ) -> Option<Result<(String, Vec<u8>), String>> {
            Some(Ok(super::edit::apply_fragment(index, work?)))
        }
        fn depends(&self, observed: &super::Observed, out: &mut super::Prints) {
            super::edit::depends(observed, out)
        }
        const DEF: &'static super::registry::KindDef = &DEF;
    };
}
pub(crate) use edit_spec_methods;

/// The [`super::Spec`] methods of the edits whose key is the file they edit (`line`, `block`,
/// `replace`: the spec's `path`), which several resources may share: [`edit_spec_methods`]
/// and the key.
macro_rules! path_edit_spec_methods {
    () => {
        super::edit::edit_spec_methods!(|s: &Self| s.path.clone());
        fn shares_file(&self) -> bool {
            true
        }
        fn key(&self) -> &str {
            &self.path
        }
        fn probe_paths(&self) -> Vec<String> {
            Vec::new()
        }
    };
}
pub(crate) use path_edit_spec_methods;

/// A piece of a parsed `with` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    /// `\1`, `\g<1>`: the text of a numbered group (`0`: the whole match).
    Group(usize),
    /// `\g<name>`.
    Named(String),
}

/// Parses a replacement template (`replace:`'s `with`, a backrefs `line:`'s `text`) in
/// Python's syntax (`re.sub`'s, `match.expand`'s): `\1`…`\99` and `\g<N>` a
/// numbered group, `\g<name>` a named one, `\n` `\t` `\r` `\f` `\v` `\a` `\b` `\\` the
/// characters Python gives them; another escape of an ASCII letter or digit is refused (as
/// Python does, and octal escapes are not carried), any other `\X` stays as written.
pub fn parse_template(key: &str, with: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = with.chars().peekable();
    let push = |pieces: &mut Vec<Piece>, text: &mut String, p: Piece| {
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(text)));
        }
        pieces.push(p);
    };
    while let Some(c) = chars.next() {
        if c != '\\' {
            text.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            return Err(format!(
                "{key}: a `\\` at the end (write `\\\\` for a backslash)"
            ));
        };
        let simple = match e {
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            'f' => Some('\x0c'),
            'v' => Some('\x0b'),
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            '\\' => Some('\\'),
            _ => None,
        };
        if let Some(s) = simple {
            text.push(s);
        } else if e == 'g' {
            if chars.next() != Some('<') {
                return Err(format!(
                    "{key}: `\\g` must be followed by `<NAME>` or `<NUMBER>`"
                ));
            }
            let name: String = chars.by_ref().take_while(|&c| c != '>').collect();
            let p = match name.parse::<usize>() {
                Ok(n) => Piece::Group(n),
                Err(_) if is_group_name(&name) => Piece::Named(name),
                Err(_) => return Err(format!("{key}: `\\g<{name}>` is not a group name")),
            };
            push(&mut pieces, &mut text, p);
        } else if e == '0' {
            return Err(format!(
                "{key}: `\\0` (an octal escape) is not supported; `\\g<0>` is the whole match"
            ));
        } else if let Some(d) = e.to_digit(10) {
            let mut n = d as usize;
            if let Some(d2) = chars.peek().and_then(|c| c.to_digit(10)) {
                chars.next();
                n = n * 10 + d2 as usize;
                if chars.peek().is_some_and(char::is_ascii_digit) {
                    return Err(format!(
                        "{key}: `\\{n}` followed by a digit (an octal escape in Python) is not supported; write `\\g<{n}>`"
                    ));
                }
            }
            push(&mut pieces, &mut text, Piece::Group(n));
        } else if e.is_ascii_alphanumeric() {
            return Err(format!("{key}: bad escape `\\{e}`"));
        } else {
            text.push('\\');
            text.push(e);
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// A group name as Python accepts it (an identifier).
fn is_group_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// Checks that every group a template names is a group of `re`.
pub fn check_groups(key: &str, with: &[Piece], re: &regex::Regex) -> Result<(), String> {
    for p in with {
        match p {
            Piece::Group(n) if *n >= re.captures_len() => {
                return Err(format!(
                    "{key}: `\\{n}` names no group of regexp (it has {})",
                    re.captures_len() - 1
                ))
            }
            Piece::Named(name) if !re.capture_names().any(|c| c == Some(name)) => {
                return Err(format!("{key}: `\\g<{name}>` names no group of regexp"))
            }
            _ => {}
        }
    }
    Ok(())
}

/// A template's text for one match.
pub fn expand(with: &[Piece], caps: &regex::Captures) -> String {
    let mut out = String::new();
    for p in with {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Group(n) => out.push_str(caps.get(*n).map_or("", |m| m.as_str())),
            Piece::Named(n) => out.push_str(caps.name(n).map_or("", |m| m.as_str())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_parse() {
        assert_eq!(
            parse_record(b"YQo=", b"file").unwrap(),
            FileSeen::File(b"a\n".to_vec())
        );
        assert_eq!(parse_record(b"", b"missing").unwrap(), FileSeen::Missing);
        assert!(matches!(
            parse_record(b"", b"link").unwrap(),
            FileSeen::Other(_)
        ));
        assert!(parse_record(b"", b"what").is_err());
        assert!(parse_record(b"!!", b"file").is_err());
    }

    #[test]
    fn same_content_is_no_change() {
        let a = Attrs::default();
        let seen = FileSeen::File(b"x\n".to_vec());
        assert_eq!(
            plan_write("/f", &seen, b"x\n".to_vec(), &a, None).unwrap(),
            None
        );
        let p = plan_write("/f", &seen, b"y\n".to_vec(), &a, None)
            .unwrap()
            .unwrap();
        assert_eq!(p.action, Action::Update);
        assert_eq!(p.work.expect, sha256_hex(b"x\n"));
        let p = plan_write("/f", &FileSeen::Missing, b"y\n".to_vec(), &a, None)
            .unwrap()
            .unwrap();
        assert_eq!(
            (p.action, p.work.expect.as_str()),
            (Action::Create, "missing")
        );
        assert!(plan_write("/f", &FileSeen::Other("a link".into()), vec![], &a, None).is_err());
    }

    #[test]
    fn validate_needs_its_placeholder() {
        assert!(check_validate("/usr/sbin/sshd -t -f %s").is_ok());
        assert!(check_validate("visudo -c").is_err());
        assert!(check_validate(" ").is_err());
    }

    #[test]
    fn appending_adds_a_missing_newline() {
        assert_eq!(join_append(&["a"], &["b"]), "a\nb\n");
        assert_eq!(join_append(&[], &["b"]), "b\n");
        assert_eq!(join_append(&["a\n"], &[]), "a\n");
    }
}
