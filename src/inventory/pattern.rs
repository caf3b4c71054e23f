//! Ansible host patterns: `web`, `h1`, `web*`, `~regex`, `a:b` (union), `a:&b` (intersection),
//! `a:!b` (exclusion), `all` / `*`. Terms may also be separated by commas.
//!
//! As in Ansible, unions are taken first (in order), then intersections, then exclusions, and the
//! result is in inventory order.

use std::collections::BTreeSet;

use globset::Glob;

use super::{Host, Inventory, InventoryError};

/// One term of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    Union(String),
    Intersect(String),
    Exclude(String),
}

/// Splits a pattern into terms.
pub fn parse(pattern: &str) -> Result<Vec<Term>, InventoryError> {
    let err = |m: &str| InventoryError::Pattern {
        pattern: pattern.to_string(),
        message: m.to_string(),
    };
    let mut terms = Vec::new();
    for raw in pattern.split([':', ',']) {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(err("empty term (check for a doubled or trailing `:`)"));
        }
        let term = if let Some(t) = raw.strip_prefix('!') {
            Term::Exclude(t.to_string())
        } else if let Some(t) = raw.strip_prefix('&') {
            Term::Intersect(t.to_string())
        } else {
            Term::Union(raw.to_string())
        };
        match &term {
            Term::Exclude(t) | Term::Intersect(t) if t.is_empty() => {
                return Err(err("`!` and `&` must be followed by a name"))
            }
            _ => {}
        }
        terms.push(term);
    }
    if !terms.iter().any(|t| matches!(t, Term::Union(_))) {
        // `!web` alone means "all but web", as in Ansible.
        terms.insert(0, Term::Union("all".into()));
    }
    Ok(terms)
}

/// Host names matched by one name, glob or regex.
fn matching(
    inv: &Inventory,
    name: &str,
    pattern: &str,
    strict: bool,
) -> Result<BTreeSet<String>, InventoryError> {
    let err = |m: String| InventoryError::Pattern {
        pattern: pattern.to_string(),
        message: m,
    };
    let mut out = BTreeSet::new();
    if name == "all" || name == "*" {
        out.extend(inv.hosts.iter().map(|h| h.name.clone()));
        return Ok(out);
    }
    let add_group = |g: &str, out: &mut BTreeSet<String>| {
        out.extend(inv.group_hosts(g).iter().map(|h| h.name.clone()));
    };
    if let Some(re) = name.strip_prefix('~') {
        let re = regex_lite(re).map_err(|m| err(format!("bad regex `{re}`: {m}")))?;
        for g in inv.groups.keys().filter(|g| re.is_match(g)) {
            add_group(g, &mut out);
        }
        out.extend(
            inv.hosts
                .iter()
                .filter(|h| re.is_match(&h.name))
                .map(|h| h.name.clone()),
        );
        return Ok(out);
    }
    if name.contains(['*', '?', '[']) {
        let glob = Glob::new(name)
            .map_err(|e| err(format!("bad glob `{name}`: {e}")))?
            .compile_matcher();
        for g in inv.groups.keys().filter(|g| glob.is_match(g.as_str())) {
            add_group(g, &mut out);
        }
        out.extend(
            inv.hosts
                .iter()
                .filter(|h| glob.is_match(h.name.as_str()))
                .map(|h| h.name.clone()),
        );
        return Ok(out);
    }
    if inv.groups.contains_key(name) {
        add_group(name, &mut out);
    } else if inv.host(name).is_some() {
        out.insert(name.to_string());
    } else if strict {
        let candidates: Vec<&str> = inv
            .groups
            .keys()
            .map(String::as_str)
            .chain(inv.hosts.iter().map(|h| h.name.as_str()))
            .collect();
        let hint = match crate::yaml::suggest(name, &candidates) {
            Some(s) => format!(", did you mean `{s}`?"),
            None => String::new(),
        };
        return Err(err(format!("`{name}` is neither a group nor a host{hint}")));
    }
    Ok(out)
}

/// Hosts matching `pattern`, in inventory order. A name that is neither a group nor a host is
/// an error (with a suggestion): this is what `--limit` and `play run` use.
pub fn select<'a>(inv: &'a Inventory, pattern: &str) -> Result<Vec<&'a Host>, InventoryError> {
    select_with(inv, pattern, true)
}

/// As [`select`], but unknown names match nothing (a play for `db` on an inventory without
/// `db` simply has no hosts, as in Ansible).
pub fn select_lenient<'a>(
    inv: &'a Inventory,
    pattern: &str,
) -> Result<Vec<&'a Host>, InventoryError> {
    select_with(inv, pattern, false)
}

fn select_with<'a>(
    inv: &'a Inventory,
    pattern: &str,
    strict: bool,
) -> Result<Vec<&'a Host>, InventoryError> {
    let terms = parse(pattern)?;
    let mut set = BTreeSet::new();
    for t in &terms {
        if let Term::Union(n) = t {
            set.extend(matching(inv, n, pattern, strict)?);
        }
    }
    for t in &terms {
        if let Term::Intersect(n) = t {
            let m = matching(inv, n, pattern, strict)?;
            set.retain(|h| m.contains(h));
        }
    }
    for t in &terms {
        if let Term::Exclude(n) = t {
            let m = matching(inv, n, pattern, strict)?;
            set.retain(|h| !m.contains(h));
        }
    }
    Ok(inv.hosts.iter().filter(|h| set.contains(&h.name)).collect())
}

/// A tiny regex: Ansible's `~` patterns are rare; we support them through globset's regex-free
/// matcher by translating the common subset (`.`, `.*`, `^`, `$`, literal text, `[...]`, `|`).
struct Regex {
    alternatives: Vec<globset::GlobMatcher>,
}

impl Regex {
    fn is_match(&self, s: &str) -> bool {
        self.alternatives.iter().any(|m| m.is_match(s))
    }
}

fn regex_lite(re: &str) -> Result<Regex, String> {
    let mut alternatives = Vec::new();
    for alt in re.split('|') {
        let anchored_start = alt.starts_with('^');
        let anchored_end = alt.ends_with('$') && !alt.ends_with("\\$");
        let body = alt.trim_start_matches('^');
        let body = if anchored_end {
            &body[..body.len() - 1]
        } else {
            body
        };
        let mut glob = String::new();
        if !anchored_start {
            glob.push('*');
        }
        let mut chars = body.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '.' if chars.peek() == Some(&'*') => {
                    chars.next();
                    glob.push('*');
                }
                '.' if chars.peek() == Some(&'+') => {
                    chars.next();
                    glob.push_str("?*");
                }
                '.' => glob.push('?'),
                '\\' => match chars.next() {
                    Some(d) if d.is_ascii_punctuation() => {
                        glob.push('[');
                        glob.push(d);
                        glob.push(']');
                    }
                    Some('d') => glob.push_str("[0-9]"),
                    other => return Err(format!("unsupported escape \\{}", other.unwrap_or(' '))),
                },
                '[' => {
                    glob.push('[');
                    for d in chars.by_ref() {
                        glob.push(d);
                        if d == ']' {
                            break;
                        }
                    }
                }
                '*' | '+' | '?' | '(' | ')' | '{' | '}' => {
                    return Err(format!(
                        "only `.`, `.*`, `.+`, `^`, `$`, `[...]`, `\\d` and `|` are supported, found `{c}`"
                    ))
                }
                _ => glob.push(c),
            }
        }
        if !anchored_end {
            glob.push('*');
        }
        let m = Glob::new(&glob)
            .map_err(|e| e.to_string())?
            .compile_matcher();
        alternatives.push(m);
    }
    Ok(Regex { alternatives })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{load, Vars};
    use std::path::Path;

    fn inv() -> (tempfile::TempDir, Inventory) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("hosts.yml");
        std::fs::write(
            &p,
            "all:\n  hosts:\n    solo:\n  children:\n    web:\n      hosts: {web1: , web2: , web3: }\n    db:\n      hosts: {db1: , web3: }\n    prod:\n      children:\n        web:\n        db:\n    staging:\n      hosts: {stg1: }\n",
        )
        .unwrap();
        let i = load(&p, &Vars::new()).unwrap();
        (dir, i)
    }

    fn names(inv: &Inventory, p: &str) -> Vec<String> {
        select(inv, p)
            .unwrap()
            .iter()
            .map(|h| h.name.clone())
            .collect()
    }

    #[test]
    fn every_pattern_form() {
        let (_d, i) = inv();
        assert_eq!(
            names(&i, "all"),
            ["solo", "web1", "web2", "web3", "db1", "stg1"]
        );
        assert_eq!(names(&i, "*"), names(&i, "all"));
        assert_eq!(names(&i, "web"), ["web1", "web2", "web3"]);
        assert_eq!(names(&i, "db1"), ["db1"]);
        assert_eq!(names(&i, "web:db"), ["web1", "web2", "web3", "db1"]);
        assert_eq!(names(&i, "web,stg1"), ["web1", "web2", "web3", "stg1"]);
        assert_eq!(names(&i, "web:&db"), ["web3"]);
        assert_eq!(names(&i, "prod:!db"), ["web1", "web2"]);
        assert_eq!(names(&i, "!prod"), ["solo", "stg1"]);
        assert_eq!(names(&i, "web*"), ["web1", "web2", "web3"]);
        assert_eq!(names(&i, "*1"), ["web1", "db1", "stg1"]);
        assert_eq!(names(&i, "web[12]"), ["web1", "web2"]);
        assert!(
            select(&i, "~^(web|db)1$").is_err(),
            "regex groups are unsupported: an error"
        );
    }

    #[test]
    fn regex_subset_and_errors() {
        let (_d, i) = inv();
        assert_eq!(names(&i, "~^web\\d$"), ["web1", "web2", "web3"]);
        assert_eq!(names(&i, "~db|stg"), ["web3", "db1", "stg1"]);
        // Exclusions come after intersections regardless of their place in the pattern.
        assert_eq!(names(&i, "!web3:prod:&web"), ["web1", "web2"]);
    }

    #[test]
    fn unknown_name_is_an_error_with_suggestion() {
        let (_d, i) = inv();
        let e = select(&i, "wbe").unwrap_err().to_string();
        assert!(e.contains("did you mean `web`?"), "{e}");
        assert!(select(&i, "web::db").is_err());
        assert!(select(&i, "web:!").is_err());
        let _ = Path::new("x");
    }
}
