//! What `bundle:` and `gem:` share: running a Ruby tool (`bundle`, `gem`) as the entry's
//! user, an rvm or rbenv one named by its path (`~/.rvm/wrappers/default/gem`: `~/` is that
//! user's home) or the user's login shell.

use crate::transport::shell_quote;

/// A path as a shell word: `~/REST` is the home of `user` (root's without one: `~USER/`
/// unquoted, the rest quoted; a user name is `[a-z_][a-z0-9_-]*`, checked as the entry
/// renders), any other path quoted.
pub fn path_word(user: Option<&str>, path: &str) -> String {
    match path.strip_prefix("~/") {
        Some(rest) => format!("~{}/{}", user.unwrap_or("root"), shell_quote(rest)),
        None => shell_quote(path),
    }
}

/// The shell words running `executable` as `user` through `play_as`: a path has its folder
/// first on the PATH (an rvm wrapper's or an rbenv ruby's own `ruby` sits beside it); `login`
/// runs it in the user's login shell (`bash -lc`), where a profile sets up rvm or rbenv. A
/// `~/` path is expanded first (`play_home=~USER &&`: `env`'s `PATH=` word expands no `~`).
/// Its arguments follow.
pub fn command(user: Option<&str>, executable: &str, login: bool) -> String {
    let u = shell_quote(user.unwrap_or_default());
    let home = executable.starts_with("~/");
    let set_home = if home {
        format!("play_home=~{} && ", user.unwrap_or("root"))
    } else {
        String::new()
    };
    let word = |p: &str| match p.strip_prefix("~/").filter(|_| home) {
        Some(rest) => format!("\"$play_home\"/{}", shell_quote(rest)),
        None => shell_quote(p),
    };
    let exe = word(executable);
    if login {
        return format!("{set_home}play_as {u} bash -lc 'exec \"$0\" \"$@\"' {exe}");
    }
    match executable.rsplit_once('/') {
        Some((dir, _)) if !dir.is_empty() => format!(
            "{set_home}play_as {u} env PATH={}:\"$PATH\" {exe}",
            word(dir)
        ),
        _ => format!("{set_home}play_as {u} {exe}"),
    }
}

/// A `version:` that is not a RubyGems requirement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("version: `{text}`: {why} (a RubyGems requirement: `2.3.15`, `~> 2.0`, `>= 1.2, < 3`; operators `=`, `!=`, `>`, `<`, `>=`, `<=`, `~>`, several joined by commas)")]
pub struct RequirementError {
    pub text: String,
    pub why: String,
}

/// One segment of a RubyGems version: a number or a run of letters (`2.0.0.rc1` is 2, 0, 0,
/// `rc`, 1).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Num(u128),
    Str(String),
}

/// A version as RubyGems reads it (`Gem::Version`): digits first, then dot-separated
/// letters and digits; a `-` stands for `.pre.`. A segment of letters makes it a prerelease,
/// which sorts before its release (`1.0.a` < `1.0`); trailing zeros do not count (`1.0` is
/// `1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GemVersion {
    segments: Vec<Segment>,
}

impl GemVersion {
    /// RubyGems' `VERSION_PATTERN`: `[0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?`.
    pub fn parse(text: &str) -> Result<GemVersion, String> {
        let v = text.trim();
        let (main, pre) = match v.split_once('-') {
            Some((m, p)) => (m, Some(p)),
            None => (v, None),
        };
        let mut parts = main.split('.');
        let first_ok = parts
            .next()
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        let main_ok = first_ok
            && parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()));
        let pre_ok = pre.is_none_or(|p| {
            p.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        });
        if !(main_ok && pre_ok) {
            return Err(format!("`{v}` is not a version"));
        }
        let mut segments = Vec::new();
        let norm = v.replace('-', ".pre.");
        let bytes = norm.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let digit = bytes[i].is_ascii_digit();
            if !bytes[i].is_ascii_alphanumeric() {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len()
                && bytes[i].is_ascii_alphanumeric()
                && bytes[i].is_ascii_digit() == digit
            {
                i += 1;
            }
            let run = &norm[start..i];
            segments.push(if digit {
                Segment::Num(
                    run.parse()
                        .map_err(|_| format!("`{run}` is too large a version number"))?,
                )
            } else {
                Segment::Str(run.to_string())
            });
        }
        Ok(GemVersion { segments })
    }

    /// The segments before the first letters.
    fn numeric(&self) -> &[Segment] {
        let end = self
            .segments
            .iter()
            .position(|s| matches!(s, Segment::Str(_)))
            .unwrap_or(self.segments.len());
        &self.segments[..end]
    }

    /// `canonical_segments`: the numeric part and the prerelease part, each without its
    /// trailing zeros.
    fn canonical(&self) -> Vec<&Segment> {
        let num = self.numeric();
        let pre = &self.segments[num.len()..];
        let trim = |p: &[Segment]| {
            p.iter()
                .rposition(|s| *s != Segment::Num(0))
                .map_or(0, |i| i + 1)
        };
        num[..trim(num)].iter().chain(&pre[..trim(pre)]).collect()
    }

    /// RubyGems' `<=>`: segment by segment (a missing one is 0), numbers numerically, letters
    /// as strings, letters before numbers.
    pub fn compare(&self, other: &GemVersion) -> std::cmp::Ordering {
        use std::cmp::Ordering::*;
        let (l, r) = (self.canonical(), other.canonical());
        let zero = Segment::Num(0);
        for i in 0..l.len().max(r.len()) {
            let a = l.get(i).copied().unwrap_or(&zero);
            let b = r.get(i).copied().unwrap_or(&zero);
            let o = match (a, b) {
                (Segment::Num(x), Segment::Num(y)) => x.cmp(y),
                (Segment::Str(x), Segment::Str(y)) => x.cmp(y),
                (Segment::Str(_), Segment::Num(_)) => Less,
                (Segment::Num(_), Segment::Str(_)) => Greater,
            };
            if o != Equal {
                return o;
            }
        }
        Equal
    }

    /// `release`: a prerelease without its letters onward (`1.0.rc1` → `1.0`).
    fn release(&self) -> GemVersion {
        GemVersion {
            segments: self.numeric().to_vec(),
        }
    }

    /// `bump`: the release without its last segment (when it has two or more), the new last
    /// one plus 1 (`2.0.1` → `2.1`, `2.0` → `3`, `1` → `2`).
    fn bump(&self) -> GemVersion {
        let mut s = self.numeric().to_vec();
        if s.len() > 1 {
            s.pop();
        }
        if let Some(Segment::Num(n)) = s.last_mut() {
            *n = n.saturating_add(1);
        }
        GemVersion { segments: s }
    }
}

/// A requirement's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    /// `~>`: at least the version, below its [`GemVersion::bump`].
    Pessimistic,
}

/// A RubyGems requirement (`Gem::Requirement`): versions with operators (none is `=`), joined
/// by commas; a version satisfies it when it satisfies each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// As written (trimmed): what `gem install --version` is given.
    pub text: String,
    terms: Vec<(Op, GemVersion)>,
}

impl Requirement {
    pub fn parse(text: &str) -> Result<Requirement, RequirementError> {
        let text = text.trim();
        let fail = |why: String| RequirementError {
            text: text.to_string(),
            why,
        };
        let mut terms = Vec::new();
        for piece in text.split(',') {
            let p = piece.trim();
            let (op, rest) = [
                ("!=", Op::Ne),
                (">=", Op::Ge),
                ("<=", Op::Le),
                ("~>", Op::Pessimistic),
                ("=", Op::Eq),
                (">", Op::Gt),
                ("<", Op::Lt),
            ]
            .into_iter()
            .find_map(|(s, op)| p.strip_prefix(s).map(|r| (op, r)))
            .unwrap_or((Op::Eq, p));
            if rest.trim().is_empty() {
                return Err(fail(if p.is_empty() {
                    "an empty requirement".into()
                } else {
                    format!("`{p}` has no version")
                }));
            }
            if rest.trim_start().starts_with(['=', '!', '<', '>', '~']) {
                return Err(fail(format!("`{p}`: an unknown operator")));
            }
            terms.push((op, GemVersion::parse(rest).map_err(fail)?));
        }
        Ok(Requirement {
            text: text.to_string(),
            terms,
        })
    }

    /// `satisfied_by?`.
    pub fn satisfied_by(&self, v: &GemVersion) -> bool {
        use std::cmp::Ordering::*;
        self.terms.iter().all(|(op, r)| {
            let o = v.compare(r);
            match op {
                Op::Eq => o == Equal,
                Op::Ne => o != Equal,
                Op::Gt => o == Greater,
                Op::Lt => o == Less,
                Op::Ge => o != Less,
                Op::Le => o != Greater,
                Op::Pessimistic => o != Less && v.release().compare(&r.bump()) == Less,
            }
        })
    }

    /// Whether a version as the probe found it satisfies the requirement (one RubyGems cannot
    /// read does not).
    pub fn matches(&self, version: &str) -> bool {
        GemVersion::parse(version).is_ok_and(|v| self.satisfied_by(&v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_home_path_is_the_users() {
        assert_eq!(
            command(Some("deploy"), "~/.rvm/wrappers/default/gem", false),
            "play_home=~deploy && play_as deploy env PATH=\"$play_home\"/.rvm/wrappers/default:\"$PATH\" \"$play_home\"/.rvm/wrappers/default/gem"
        );
        assert_eq!(path_word(None, "~/my gems"), "~root/'my gems'");
        assert_eq!(path_word(Some("a"), "/x/~/y"), "'/x/~/y'");
        assert_eq!(command(None, "gem", false), "play_as '' gem");
        assert_eq!(
            command(Some("app"), "bundle", true),
            "play_as app bash -lc 'exec \"$0\" \"$@\"' bundle"
        );
    }

    /// Each row checked against Ruby 3.1's RubyGems 3.3
    /// (`Gem::Requirement.new(*REQ.split(/\s*,\s*/)).satisfied_by?(Gem::Version.new(V))`).
    #[test]
    fn requirements_compare_as_rubygems_does() {
        let cases = [
            ("~> 2.0", "2.9", true),
            ("~> 2.0", "3.0", false),
            ("~> 2.0", "2.0", true),
            ("~> 2.0", "1.9", false),
            ("~> 2.0.1", "2.0.9", true),
            ("~> 2.0.1", "2.1", false),
            ("~> 2.0.1", "2.0.0", false),
            ("~> 2.0.1", "2.0.1.1", true),
            ("~> 2", "2.99", true),
            ("~> 2", "3", false),
            ("~> 2.0", "3.0.rc1", false),
            ("~> 2.0", "2.5.pre", true),
            (">= 1.5, < 2", "1.5", true),
            (">= 1.5, < 2", "2.0", false),
            (">= 1.5, < 2", "1.9.9", true),
            (">= 1.5, < 2", "1.0", false),
            (">= 1.5, < 2", "2.0.rc1", true),
            ("1.0", "1.0.0", true),
            ("= 1.0", "1", true),
            ("=1.0", "1.0.1", false),
            ("!= 1.0", "1.0.0", false),
            ("!= 1.0", "1.0.1", true),
            ("> 1.0", "1.0.a", false),
            ("< 1.0", "1.0.a", true),
            ("> 1.0.a", "1.0.b", true),
            ("> 1.0.rc9", "1.0.rc10", true),
            ("> 1.0.a1", "1.0.1", true),
            (">= 1.0-beta", "1.0.pre.beta", true),
            ("< 1.0-beta", "1.0.pre.alpha", true),
            ("<= 2.3.15", "2.3.15", true),
            ("<= 2.3.15", "2.3.16", false),
            ("> 1.9", "1.10", true),
            ("< 10", "9.99", true),
            (">= 0", "0.0.1", true),
            (">= 1.0, != 1.5, < 2", "1.5", false),
            (">= 1.0, != 1.5, < 2", "1.6", true),
            ("> 1.0.0.a", "1.0.0", true),
            ("= 1.a", "1.0.a", true),
        ];
        for (req, version, want) in cases {
            let r = Requirement::parse(req).expect(req);
            assert_eq!(r.matches(version), want, "{req} vs {version}");
        }
        assert_eq!(
            Requirement::parse(" ~> 2.0 ").map(|r| r.text),
            Ok("~> 2.0".into())
        );
        for bad in [
            ">= ",
            "1.0 2",
            ">> 1",
            "~>",
            "1..0",
            ", 1",
            "v1.0",
            "1.0, ",
            "=> 1",
            "1.0_1",
            ">= 1.2 < 3",
            "",
            "1.0; rm -rf /",
        ] {
            let e = Requirement::parse(bad).expect_err(bad);
            assert!(
                e.to_string()
                    .starts_with(&format!("version: `{}`: ", bad.trim())),
                "{e}"
            );
        }
        // a version the probe found that RubyGems cannot read satisfies nothing
        assert!(!Requirement::parse(">= 0").expect("req").matches("x1"));
        let v = |s: &str| GemVersion::parse(s).expect(s);
        assert_eq!(v("1.0.0").compare(&v("1")), std::cmp::Ordering::Equal);
        assert_eq!(v("1.0.a").compare(&v("1.0")), std::cmp::Ordering::Less);
        assert_eq!(v("2.0.1").bump(), v("2.1"));
        assert_eq!(v("2.0.0.rc1").release(), v("2.0.0"));
    }
}
