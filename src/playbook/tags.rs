//! Tags: `tags:` on resources, includes, roles and plays, and the `--tags`/`--skip-tags`
//! selection, decided as Ansible decides it (`always`, `never`, `all`, `tagged`, `untagged`).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::yaml::{self, Value};

/// Tags with a meaning of their own.
pub const SPECIAL_TAGS: &[&str] = &["all", "always", "never", "tagged", "untagged"];

/// The tags of a `tags:` value: a name, names separated by commas, or a list of names.
pub fn parse_tags(v: &Value) -> Result<BTreeSet<String>, String> {
    let bad = |v: &Value| {
        format!(
            "tags: expected a tag, `a, b` or a list of tags, found {}",
            yaml::to_string(v).trim()
        )
    };
    let one = |v: &Value, out: &mut BTreeSet<String>| -> Result<(), String> {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => return Err(bad(other)),
        };
        for t in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if t.contains("{{") || t.contains("{%") {
                return Err(format!(
                    "tags: `{t}` is a template; tags are chosen before any var is known, write \
                     them as they are"
                ));
            }
            out.insert(t.to_string());
        }
        Ok(())
    };
    let mut out = BTreeSet::new();
    match v {
        Value::Null => {}
        Value::Sequence(items) => {
            for i in items {
                one(i, &mut out)?;
            }
        }
        other => one(other, &mut out)?,
    }
    Ok(out)
}

/// `--tags` and `--skip-tags`, as given (commas split, spaces trimmed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagSelection {
    /// `--tags`: empty means every resource (Ansible's `all`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// `--skip-tags`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip: Vec<String>,
}

fn split(values: &[String]) -> Vec<String> {
    let mut out: Vec<String> = values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}

impl TagSelection {
    /// From the command line's `--tags` and `--skip-tags` values (each may hold `a,b`).
    pub fn new(tags: &[String], skip: &[String]) -> Self {
        TagSelection {
            tags: split(tags),
            skip: split(skip),
        }
    }

    /// Nothing asked: every resource without `never` runs.
    pub fn is_default(&self) -> bool {
        self.tags.is_empty() && self.skip.is_empty()
    }

    /// Whether a resource with these (inherited) tags is selected: Ansible's rule.
    /// `--tags`: `always` runs anyway, `all` is every resource without `never`, `tagged` every
    /// resource with a tag (not `never`), `untagged` those without; else a shared tag.
    /// `--skip-tags` then removes: `all` removes all but `always` (unless `always` is skipped
    /// too), `tagged`/`untagged` as above, else a shared tag (`always` included).
    pub fn selects(&self, tags: &BTreeSet<String>) -> bool {
        let has = |t: &str| tags.contains(t);
        let asked = |t: &str| self.tags.iter().any(|x| x == t);
        let skipped = |t: &str| self.skip.iter().any(|x| x == t);
        let untagged = tags.is_empty();
        let run = if self.tags.is_empty() {
            // Ansible's default `--tags all`.
            has("always") || !has("never")
        } else {
            has("always")
                || (asked("all") && !has("never"))
                || self.tags.iter().any(|t| has(t))
                || (asked("tagged") && !untagged && !has("never"))
                || (asked("untagged") && untagged)
        };
        if !run || self.skip.is_empty() {
            return run;
        }
        let skip = if skipped("all") {
            !has("always") || skipped("always")
        } else {
            self.skip.iter().any(|t| has(t))
                || (skipped("tagged") && !untagged)
                || (skipped("untagged") && untagged)
        };
        !skip
    }

    /// Tags asked for (`--tags` and `--skip-tags`) that no resource has and that mean nothing
    /// special: a typo selects nothing, so `play check` says so.
    pub fn unknown<'a>(&'a self, known: &BTreeSet<String>) -> Vec<&'a str> {
        self.tags
            .iter()
            .chain(self.skip.iter())
            .map(String::as_str)
            .filter(|t| !known.contains(*t) && !SPECIAL_TAGS.contains(t))
            .collect()
    }

    /// `--tags a,b --skip-tags c` as the command line would say it (empty when default).
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.tags.is_empty() {
            parts.push(format!("--tags {}", self.tags.join(",")));
        }
        if !self.skip.is_empty() {
            parts.push(format!("--skip-tags {}", self.skip.join(",")));
        }
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(tags: &[&str]) -> BTreeSet<String> {
        tags.iter().map(|t| t.to_string()).collect()
    }

    fn sel(tags: &str, skip: &str) -> TagSelection {
        TagSelection::new(&[tags.to_string()], &[skip.to_string()])
    }

    #[test]
    fn tags_values_parse_as_ansible_writes_them() {
        let v = |y: &str| -> Value { serde_yaml::from_str(y).expect("yaml") };
        assert_eq!(parse_tags(&v("web")), Ok(set(&["web"])));
        assert_eq!(parse_tags(&v("'web, db'")), Ok(set(&["db", "web"])));
        assert_eq!(
            parse_tags(&v("[web, 'a,b', 3]")),
            Ok(set(&["3", "a", "b", "web"]))
        );
        assert!(parse_tags(&v("{a: 1}")).is_err());
        assert!(parse_tags(&v("'{{ t }}'"))
            .unwrap_err()
            .contains("is a template"));
    }

    #[test]
    fn selection_follows_ansibles_rules() {
        let none = set(&[]);
        let web = set(&["web"]);
        let always = set(&["always"]);
        let never_debug = set(&["never", "debug"]);
        let all = TagSelection::default();
        assert!(all.is_default());
        assert!(all.selects(&none) && all.selects(&web) && all.selects(&always));
        assert!(!all.selects(&never_debug), "never runs only when asked");

        let w = sel("web", "");
        assert!(w.selects(&web) && w.selects(&always));
        assert!(!w.selects(&none) && !w.selects(&never_debug));
        assert!(sel("debug", "").selects(&never_debug));
        assert!(sel("never", "").selects(&never_debug));
        assert!(!sel("all", "").selects(&never_debug));
        assert!(sel("tagged", "").selects(&web) && !sel("tagged", "").selects(&none));
        assert!(sel("untagged", "").selects(&none) && !sel("untagged", "").selects(&web));

        assert!(!sel("", "web").selects(&web) && sel("", "web").selects(&none));
        assert!(sel("", "web").selects(&always));
        assert!(
            !sel("", "always").selects(&always),
            "always is skipped when said"
        );
        assert!(!sel("", "all").selects(&web) && sel("", "all").selects(&always));
        assert!(!sel("", "all,always").selects(&always));
        assert!(!sel("web", "web").selects(&web), "skip wins");
        assert!(!sel("", "tagged").selects(&web) && sel("", "tagged").selects(&none));
    }

    #[test]
    fn unknown_tags_and_description() {
        let s = TagSelection::new(&["web, wbe".into()], &["always".into(), "db".into()]);
        assert_eq!(s.tags, ["wbe", "web"]);
        assert_eq!(s.unknown(&set(&["web", "db"])), ["wbe"]);
        assert_eq!(s.describe(), "--tags wbe,web --skip-tags always,db");
        assert_eq!(TagSelection::default().describe(), "");
    }
}
