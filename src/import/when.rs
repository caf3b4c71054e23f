//! `when:` conditions on registered results (`stat` + `register` + `when`, a read-only check's
//! `rc`, `is changed`) turned into play's guards: `creates`, `unless`, `on_change`.

use std::collections::BTreeMap;

use super::modules::sh_quote;

/// What a `register:` holds, as far as the importer can tell.
#[derive(Debug, Clone, PartialEq)]
pub enum Reg {
    /// `stat: path=P`.
    Stat(String),
    /// A read-only command (`changed_when: false`): re-running it is a guard.
    Check { cmd: String, chdir: Option<String> },
    /// A resource (its watch keys; empty when it cannot be watched, e.g. under a loop).
    Resource(Vec<String>),
    /// A gathered value (`gather:`): conditions on it are kept as they are.
    Gathered,
    /// Anything else.
    Other,
}

/// A condition, translated.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Keep(String),
    Creates(String),
    Unless(String),
    OnChange(Vec<String>),
    /// Dropped, and why.
    Drop(String),
}

fn norm(s: &str) -> String {
    let s = s.trim();
    let s = s
        .strip_prefix("{{")
        .and_then(|x| x.strip_suffix("}}"))
        .unwrap_or(s);
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let s = s.replace(" | ", "|").replace("| ", "|").replace(" |", "|");
    // the importer's rewrite of `| bool` (template.rs), read back as `| bool`
    let s = s.replace(
        "|string|lower in [\"true\", \"yes\", \"on\", \"1\"]",
        "|bool",
    );
    // `(x)` → `x`, `not (x)` → `not x`
    let s = unparen(&s);
    match s.strip_prefix("not ") {
        Some(rest) => format!("not {}", unparen(rest)),
        None => s,
    }
}

/// `(x)` → `x` when the parentheses enclose the whole text (repeatedly).
fn unparen(s: &str) -> String {
    let mut s = s.trim();
    while let Some(inner) = s.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
        let mut depth = 0i32;
        let balanced = inner.chars().all(|ch| {
            match ch {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            depth >= 0
        });
        if !balanced || depth != 0 {
            break;
        }
        s = inner.trim();
    }
    s.to_string()
}

/// Whether condition or template `c` names `name` (a whole name, not an attribute).
pub fn mentions(c: &str, name: &str) -> bool {
    let is_ident = |ch: char| ch.is_ascii_alphanumeric() || ch == '_';
    let mut rest = c;
    let mut offset = 0;
    while let Some(i) = rest.find(name) {
        let at = offset + i;
        let before = c[..at].chars().last();
        let after = c[at + name.len()..].chars().next();
        if !before.is_some_and(|b| is_ident(b) || b == '.') && !after.is_some_and(is_ident) {
            return true;
        }
        offset = at + name.len();
        rest = &c[offset..];
    }
    false
}

/// Splits `a and b and c` at the top level (outside brackets and quotes) into its parts;
/// a condition with a top-level `or` stays whole.
pub fn split_and(cond: &str) -> Vec<String> {
    let c = cond.trim();
    let c = c
        .strip_prefix("{{")
        .and_then(|x| x.strip_suffix("}}"))
        .unwrap_or(c)
        .trim();
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut start = 0;
    let bytes: Vec<(usize, char)> = c.char_indices().collect();
    let mut i = 0;
    while i < bytes.len() {
        let (at, ch) = bytes[i];
        match quote {
            Some(q) if ch == q => quote = None,
            Some(_) => {}
            None => match ch {
                '\'' | '"' => quote = Some(ch),
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                ' ' if depth == 0 => {
                    let rest = &c[at..];
                    if rest.starts_with(" or ") {
                        return vec![c.to_string()];
                    }
                    if rest.starts_with(" and ") {
                        parts.push(c[start..at].trim().to_string());
                        start = at + 5;
                        i = bytes
                            .iter()
                            .position(|(p, _)| *p >= start)
                            .unwrap_or(bytes.len());
                        continue;
                    }
                }
                _ => {}
            },
        }
        i += 1;
    }
    parts.push(c[start..].trim().to_string());
    parts.retain(|p| !p.is_empty());
    parts
}

/// Translates one condition given what earlier tasks registered.
pub fn translate(cond: &str, regs: &BTreeMap<String, Reg>) -> Cond {
    let c = norm(cond);
    let Some((name, reg)) = regs.iter().find(|(n, _)| mentions(&c, n)) else {
        return Cond::Keep(cond.trim().to_string());
    };
    let is = |forms: &[&str]| forms.iter().any(|f| c == f.replace('R', name));
    let drop = |why: &str| {
        Cond::Drop(format!(
            "`when: {}` dropped ({why}; play has no registered results)",
            cond.trim()
        ))
    };
    // Templates in the forms: `R` stands for the registered name.
    match reg {
        Reg::Stat(path) => {
            let p = sh_quote(path);
            if is(&["'stat' in R", "\"stat\" in R", "R.stat is defined"]) {
                return Cond::Drop(format!(
                    "`when: {}` dropped (true once the `stat` ran)",
                    cond.trim()
                ));
            }
            if is(&[
                "R.stat.exists",
                "R.stat.exists == true",
                "R.stat.exists == True",
                "R.stat.exists is true",
                "R.stat.exists|bool",
            ]) {
                Cond::Unless(format!("test ! -e {p}"))
            } else if is(&[
                "not R.stat.exists",
                "R.stat.exists == false",
                "R.stat.exists == False",
                "R.stat.exists is false",
                "R.stat.exists is not true",
                "not R.stat.exists|bool",
                "R.stat.exists != true",
            ]) {
                Cond::Creates(path.clone())
            } else if is(&[
                "R.stat.isdir",
                "R.stat.isdir is defined and R.stat.isdir",
                "R.stat.isdir == true",
            ]) {
                Cond::Unless(format!("test ! -d {p}"))
            } else if is(&["not R.stat.isdir", "R.stat.isdir == false"]) {
                Cond::Unless(format!("test -d {p}"))
            } else {
                drop("a `stat` result in an expression the importer does not recognize")
            }
        }
        Reg::Check { cmd, chdir } => {
            let run = match chdir {
                Some(d) => format!("cd {} && {{ {cmd}; }}", sh_quote(d)),
                None => format!("{{ {cmd}; }}"),
            };
            if is(&[
                "R.rc != 0",
                "R.rc == 1",
                "R.rc > 0",
                "R is failed",
                "R|failed",
                "R.failed",
                "R is not succeeded",
                "R is not success",
                "R.rc != 0|bool",
                "R.rc|int != 0",
                "R.rc|int == 1",
            ]) {
                Cond::Unless(format!("{run} >/dev/null 2>&1"))
            } else if is(&[
                "R.rc == 0",
                "R is succeeded",
                "R is success",
                "R|success",
                "R|succeeded",
                "not R.failed",
                "R is not failed",
                "R.rc|int == 0",
            ]) {
                Cond::Unless(format!("! {run} >/dev/null 2>&1"))
            } else if is(&[
                "R.stdout == ''",
                "R.stdout == \"\"",
                "R.stdout|length == 0",
                "not R.stdout",
                "R.stdout_lines|length == 0",
            ]) {
                Cond::Unless(format!("test -n \"$({run} 2>/dev/null)\""))
            } else if is(&[
                "R.stdout != ''",
                "R.stdout != \"\"",
                "R.stdout|length > 0",
                "R.stdout",
                "R.stdout_lines|length > 0",
            ]) {
                Cond::Unless(format!("test -z \"$({run} 2>/dev/null)\""))
            } else {
                drop("a check's output in an expression the importer does not recognize")
            }
        }
        Reg::Resource(keys) => {
            if is(&[
                "R is changed",
                "R.changed",
                "R|changed",
                "R is change",
                "R.changed == true",
                "R.changed|bool",
            ]) {
                if keys.is_empty() {
                    drop("the registering task has a loop or cannot be watched")
                } else {
                    Cond::OnChange(keys.clone())
                }
            } else if c == *name {
                drop("a registered result is always true in Ansible")
            } else {
                drop("a registered result")
            }
        }
        Reg::Gathered => Cond::Keep(cond.trim().to_string()),
        Reg::Other => drop("the registering task was not carried over"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regs() -> BTreeMap<String, Reg> {
        let mut m = BTreeMap::new();
        m.insert("venv".into(), Reg::Stat("/srv/venv/bin/python".into()));
        m.insert(
            "nginx_ok".into(),
            Reg::Check {
                cmd: "nginx -t".into(),
                chdir: None,
            },
        );
        m.insert("conf".into(), Reg::Resource(vec!["/etc/app.ini".into()]));
        m.insert("looped".into(), Reg::Resource(vec![]));
        m.insert("probe".into(), Reg::Other);
        m
    }

    #[test]
    fn and_is_split_at_the_top_level_only() {
        assert_eq!(
            split_and("a and not b.stat.exists"),
            ["a", "not b.stat.exists"]
        );
        assert_eq!(split_and("{{ a and (b and c) }}"), ["a", "(b and c)"]);
        assert_eq!(split_and("a or b and c"), ["a or b and c"]);
        assert_eq!(split_and("x == 'a and b'"), ["x == 'a and b'"]);
    }

    #[test]
    fn conditions_on_registered_results() {
        let r = regs();
        let cases: Vec<(&str, Cond)> = vec![
            (
                "not venv.stat.exists",
                Cond::Creates("/srv/venv/bin/python".into()),
            ),
            (
                "venv.stat.exists == False",
                Cond::Creates("/srv/venv/bin/python".into()),
            ),
            (
                "venv.stat.exists",
                Cond::Unless("test ! -e /srv/venv/bin/python".into()),
            ),
            (
                "nginx_ok | failed",
                Cond::Unless("{ nginx -t; } >/dev/null 2>&1".into()),
            ),
            (
                "nginx_ok.rc == 0",
                Cond::Unless("! { nginx -t; } >/dev/null 2>&1".into()),
            ),
            (
                "conf is changed",
                Cond::OnChange(vec!["/etc/app.ini".into()]),
            ),
            ("conf|changed", Cond::OnChange(vec!["/etc/app.ini".into()])),
            // parenthesized, `| bool`, and the `'stat' in R` test around them
            (
                "(not (venv.stat.exists | bool))",
                Cond::Creates("/srv/venv/bin/python".into()),
            ),
            (
                "(not (venv.stat.exists | string | lower in [\"true\", \"yes\", \"on\", \"1\"]))",
                Cond::Creates("/srv/venv/bin/python".into()),
            ),
            (
                "(venv.stat.exists | bool)",
                Cond::Unless("test ! -e /srv/venv/bin/python".into()),
            ),
            (
                "('stat' in venv)",
                Cond::Drop("`when: ('stat' in venv)` dropped (true once the `stat` ran)".into()),
            ),
            ("app_env == 'prod'", Cond::Keep("app_env == 'prod'".into())),
            (
                "conference is defined",
                Cond::Keep("conference is defined".into()),
            ),
        ];
        for (c, want) in cases {
            assert_eq!(translate(c, &r), want, "{c}");
        }
        for c in [
            "looped is changed",
            "probe.rc == 0",
            "venv.stat.size > 0",
            "conf",
        ] {
            assert!(matches!(translate(c, &r), Cond::Drop(_)), "{c}");
        }
    }
}
