//! Jinja as Ansible writes it, rewritten where minijinja (play's template engine) differs:
//! `ansible_managed`, fact names (`ansible_hostname` → `facts.hostname`), `| bool`,
//! `| to_json`, `.items()`/`.iteritems()`. What is left that play cannot render is reported.

use std::collections::BTreeSet;

/// The text play writes for `{{ ansible_managed }}`.
pub const MANAGED: &str = "Managed by play (imported from Ansible)";

/// Ansible fact names play gathers, with their play form.
pub const FACTS: &[(&str, &str)] = &[
    ("ansible_hostname", "facts.hostname"),
    ("ansible_nodename", "facts.hostname"),
    ("ansible_fqdn", "facts.hostname"),
    ("ansible_processor_vcpus", "facts.cpus"),
    ("ansible_processor_cores", "facts.cpus"),
    ("ansible_processor_nproc", "facts.cpus"),
    ("ansible_memtotal_mb", "facts.memory_mb"),
    ("ansible_architecture", "facts.arch"),
    ("ansible_distribution", "(facts.os_id | capitalize)"),
    (
        "ansible_os_family",
        "({\"debian\": \"Debian\", \"ubuntu\": \"Debian\", \"rhel\": \"RedHat\", \"centos\": \"RedHat\", \"fedora\": \"RedHat\", \"rocky\": \"RedHat\", \"almalinux\": \"RedHat\", \"alpine\": \"Alpine\", \"arch\": \"Archlinux\"}[facts.os_id] | default(\"Linux\"))",
    ),
    ("ansible_distribution_version", "facts.os_version"),
    ("ansible_distribution_major_version", "facts.os_version"),
    ("ansible_distribution_release", "facts.os_codename"),
    ("ansible_virtualization_type", "facts.virtualization"),
    ("ansible_default_ipv4", "facts.default_ipv4"),
    ("ansible_default_ipv6", "facts.default_ipv6"),
    ("ansible_env", "facts.env"),
];

/// What a rewrite changed and what it left that play cannot render.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notes {
    /// Rewrites made, e.g. "`ansible_hostname` → `facts.hostname`".
    pub rewritten: BTreeSet<String>,
    /// Ansible names or idioms left as they are, e.g. "`ansible_default_ipv4` (fact play does not gather)".
    pub unsupported: BTreeSet<String>,
}

impl Notes {
    pub fn extend(&mut self, other: Notes) {
        self.rewritten.extend(other.rewritten);
        self.unsupported.extend(other.unsupported);
    }
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Replaces `from` where it stands as a whole identifier (not after `.`).
fn replace_word(code: &str, from: &str, to: &str) -> (String, bool) {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    let mut changed = false;
    let mut prev: Option<char> = None;
    while let Some(i) = rest.find(from) {
        let before = rest[..i].chars().last().or(prev);
        let after = rest[i + from.len()..].chars().next();
        out.push_str(&rest[..i]);
        if before.is_some_and(|c| is_ident(c) || c == '.') || after.is_some_and(is_ident) {
            out.push_str(from);
        } else {
            out.push_str(to);
            changed = true;
        }
        prev = from.chars().last();
        rest = &rest[i + from.len()..];
    }
    out.push_str(rest);
    (out, changed)
}

/// Replaces the filter `| name` (not followed by `(`, not a longer name) by `| to`.
fn replace_filter(code: &str, name: &str, to: &str) -> (String, bool) {
    replace_filter_if(code, name, to, false)
}

/// [`replace_filter`]; with `last_only`, not where another filter follows (`x | bool |
/// ternary(…)`: `to` is then no filter to chain, and play has the filter itself).
fn replace_filter_if(code: &str, name: &str, to: &str, last_only: bool) -> (String, bool) {
    let mut out = String::with_capacity(code.len());
    let mut changed = false;
    let mut i = 0;
    let bytes = code.as_bytes();
    while i < code.len() {
        if bytes[i] == b'|' {
            let mut j = i + 1;
            while j < code.len() && bytes[j] == b' ' {
                j += 1;
            }
            if code[j..].starts_with(name) {
                let after = code[j + name.len()..].chars().next();
                let chained = last_only && code[j + name.len()..].trim_start().starts_with('|');
                if !after.is_some_and(is_ident) && !chained {
                    out.push_str(to);
                    i = j + name.len();
                    changed = true;
                    continue;
                }
            }
        }
        let c = code[i..].chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    (out, changed)
}

/// Jinja's and Ansible's (ansible.builtin) filters, some of which play has not.
const JINJA_ANSIBLE_FILTERS: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "capitalize",
    "center",
    "default",
    "d",
    "dictsort",
    "escape",
    "e",
    "filesizeformat",
    "first",
    "float",
    "forceescape",
    "format",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "count",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "pprint",
    "random",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "string",
    "striptags",
    "sum",
    "title",
    "tojson",
    "trim",
    "truncate",
    "unique",
    "upper",
    "urlencode",
    "urlize",
    "wordcount",
    "wordwrap",
    "xmlattr",
    "b64decode",
    "b64encode",
    "basename",
    "bool",
    "checksum",
    "combine",
    "comment",
    "dict2items",
    "difference",
    "dirname",
    "expanduser",
    "expandvars",
    "extract",
    "fileglob",
    "flatten",
    "from_json",
    "from_yaml",
    "from_yaml_all",
    "hash",
    "human_readable",
    "human_to_bytes",
    "intersect",
    "items2dict",
    "log",
    "mandatory",
    "md5",
    "password_hash",
    "path_join",
    "pow",
    "product",
    "quote",
    "regex_escape",
    "regex_findall",
    "regex_replace",
    "regex_search",
    "rekey_on_member",
    "relpath",
    "root",
    "sha1",
    "shuffle",
    "split",
    "splitext",
    "strftime",
    "subelements",
    "symmetric_difference",
    "ternary",
    "to_datetime",
    "to_json",
    "to_nice_json",
    "to_nice_yaml",
    "to_uuid",
    "to_yaml",
    "type_debug",
    "union",
    "unvault",
    "urldecode",
    "urlsplit",
    "vault",
    "zip",
    "zip_longest",
    "ipaddr",
    "json_query",
];

/// Ansible tests older playbooks wrote as filters (`result | changed`).
const OLD_TESTS: &[&str] = &[
    "changed",
    "failed",
    "success",
    "succeeded",
    "skipped",
    "skip",
    "search",
    "match",
    "exists",
    "version_compare",
    "is_dir",
    "is_file",
    "is_link",
];

/// The names of the filters applied in a piece of Jinja code (`x | name`, `x|name(...)`), outside
/// string literals.
fn filters_used(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut quote: Option<char> = None;
    let mut chars = code.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), '\\') => {
                chars.next();
            }
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '|') => {
                let name: String = code[i + 1..]
                    .trim_start()
                    .chars()
                    .take_while(|c| is_ident(*c))
                    .collect();
                if !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()) {
                    out.insert(name);
                }
            }
            _ => {}
        }
    }
    out
}

/// Rewrites one piece of Jinja code (the inside of `{{ }}`/`{% %}`, or a bare `when`).
pub fn rewrite_code(code: &str, notes: &mut Notes) -> String {
    let mut s = code.to_string();
    for (from, to) in FACTS {
        let name = from.trim_start_matches("ansible_");
        for form in [
            format!("ansible_facts.{name}"),
            format!("ansible_facts['{name}']"),
            format!("ansible_facts[\"{name}\"]"),
        ] {
            if s.contains(&form) {
                s = s.replace(&form, to);
                notes.rewritten.insert(format!("`{form}` → `{to}`"));
            }
        }
        let (r, changed) = replace_word(&s, from, to);
        if changed {
            notes.rewritten.insert(format!("`{from}` → `{to}`"));
            s = r;
        }
    }
    let (r, changed) = replace_filter_if(
        &s,
        "bool",
        "| string | lower in [\"true\", \"yes\", \"on\", \"1\"]",
        true,
    );
    if changed {
        notes
            .rewritten
            .insert("`| bool` → `| string | lower in [\"true\", \"yes\", \"on\", \"1\"]`".into());
        s = r;
    }
    for (name, to) in [
        ("to_nice_json", "| tojson(indent=2)"),
        ("to_json", "| tojson"),
    ] {
        let (r, changed) = replace_filter(&s, name, to);
        if changed {
            notes.rewritten.insert(format!("`| {name}` → `{to}`"));
            s = r;
        }
    }
    // Jinja's positional `sort(reverse)`: minijinja's is a keyword
    for (from, to) in [
        ("sort(True)", "sort(reverse=true)"),
        ("sort(true)", "sort(reverse=true)"),
    ] {
        if s.contains(from) {
            s = s.replace(from, to);
            notes.rewritten.insert(format!("`{from}` → `{to}`"));
        }
    }
    for m in [".iteritems()", ".items()"] {
        if s.contains(m) {
            s = s.replace(m, " | items");
            notes.rewritten.insert(format!("`{m}` → `| items`"));
        }
    }
    // Filters play does not have (the source project's filter plugins, mostly).
    for name in filters_used(&s) {
        if crate::resolve::ansible::has_filter(&name) {
            continue;
        }
        notes
            .unsupported
            .insert(if OLD_TESTS.contains(&name.as_str()) {
                format!(
                "`| {name}` (an Ansible test written as a filter, removed in Ansible 2.9; play \
                 has no registered results to test)"
            )
            } else if JINJA_ANSIBLE_FILTERS.contains(&name.as_str()) {
                format!("`| {name}` (a Jinja or Ansible filter play does not have)")
            } else {
                format!(
                    "`| {name}` (a filter neither Jinja, Ansible nor play has: a filter plugin of \
                 the source project (its `filter_plugins/`, or the folders of ansible.cfg's \
                 `filter_plugins =`) has no play form; compute the value another way)"
                )
            });
    }
    // What is left of Ansible that play has no equivalent for.
    let mut rest = s.as_str();
    while let Some(i) = rest.find("ansible_") {
        let before = s.len() - rest.len() + i;
        let ok_start = s[..before]
            .chars()
            .last()
            .is_none_or(|c| !is_ident(c) && c != '.');
        let name: String = rest[i..].chars().take_while(|c| is_ident(*c)).collect();
        if ok_start && name != "ansible_managed" && !crate::resolve::ansible::is_fact_alias(&name) {
            notes.unsupported.insert(format!(
                "`{name}` (an Ansible fact or magic var play does not define; facts play gathers: `facts.hostname`, `facts.os_id`, `facts.os_version`, `facts.os_codename`, `facts.arch`, `facts.cpus`, `facts.memory_mb`, `facts.virtualization`, `facts.selinux`, `facts.default_ipv4`, `facts.default_ipv6`, `facts.env`)"
            ));
        }
        rest = &rest[i + name.len().max(1)..];
    }
    for (word, why) in [
        ("hostvars", "another host's vars: play has no `hostvars`"),
        (
            "playbook_dir",
            "the playbook's folder on the controller: play has no `playbook_dir`",
        ),
        (
            "inventory_dir",
            "the inventory's folder: play has no `inventory_dir`",
        ),
        (
            "lookup(",
            "Ansible lookups are not available in play templates",
        ),
        (
            "query(",
            "Ansible lookups are not available in play templates",
        ),
        ("omit", "`omit`: leave the key out instead"),
    ] {
        let found = if word.ends_with('(') {
            s.contains(word)
        } else {
            replace_word(&s, word, "\u{0}").1
        };
        if found {
            notes
                .unsupported
                .insert(format!("`{}` ({why})", word.trim_end_matches('(')));
        }
    }
    s
}

/// Rewrites a template or a templated string: each `{{ }}` and `{% %}` block, and
/// `ansible_managed` (with `| comment`) becomes play's fixed text.
pub fn rewrite(text: &str, notes: &mut Notes) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = ["{{", "{%", "{#"]
            .iter()
            .filter_map(|o| rest.find(o).map(|i| (i, *o)))
            .min();
        let Some((i, open)) = next else {
            out.push_str(rest);
            break;
        };
        let close = match open {
            "{{" => "}}",
            "{%" => "%}",
            _ => "#}",
        };
        out.push_str(&rest[..i]);
        let body_start = i + 2;
        let Some(len) = rest[body_start..].find(close) else {
            out.push_str(&rest[i..]);
            break;
        };
        let inner = &rest[body_start..body_start + len];
        if open == "{#" {
            out.push_str(&rest[i..body_start + len + 2]);
        } else if open == "{%" && inner.trim().trim_matches('-').trim() == "raw" {
            // `{% raw %}…{% endraw %}` is copied as it is.
            let end = rest[body_start..]
                .find("endraw")
                .and_then(|e| {
                    rest[body_start + e..]
                        .find("%}")
                        .map(|c| body_start + e + c + 2)
                })
                .unwrap_or(rest.len());
            out.push_str(&rest[i..end]);
            rest = &rest[end..];
            continue;
        } else {
            let trimmed: String = inner.split_whitespace().collect::<Vec<_>>().join(" ");
            let trimmed = trimmed.trim_matches('-').trim();
            if open == "{{" && trimmed == "ansible_managed" {
                out.push_str(MANAGED);
                notes
                    .rewritten
                    .insert(format!("`ansible_managed` → `{MANAGED}`"));
            } else if open == "{{"
                && trimmed.starts_with("ansible_managed")
                && trimmed.contains("comment")
            {
                out.push_str("# ");
                out.push_str(MANAGED);
                notes
                    .rewritten
                    .insert(format!("`ansible_managed | comment` → `# {MANAGED}`"));
            } else {
                out.push_str(open);
                out.push_str(&rewrite_code(inner, notes));
                out.push_str(close);
            }
        }
        rest = &rest[body_start + len + 2..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_what_minijinja_lacks() {
        let cases: &[(&str, &str)] = &[
            (
                "{{ ansible_managed }}\n",
                "Managed by play (imported from Ansible)\n",
            ),
            (
                "{{ ansible_managed | comment }}",
                "# Managed by play (imported from Ansible)",
            ),
            (
                "workers {{ ansible_processor_vcpus * 2 }};",
                "workers {{ facts.cpus * 2 }};",
            ),
            ("{{ ansible_facts['hostname'] }}", "{{ facts.hostname }}"),
            (
                "{% if debug | bool %}x{% endif %}",
                "{% if debug | string | lower in [\"true\", \"yes\", \"on\", \"1\"] %}x{% endif %}",
            ),
            ("{{ d | to_json }}", "{{ d | tojson }}"),
            (
                "{% for k, v in env.items() %}",
                "{% for k, v in env | items %}",
            ),
            (
                "{% raw %}{{ ansible_hostname }}{% endraw %}",
                "{% raw %}{{ ansible_hostname }}{% endraw %}",
            ),
            (
                "{# ansible_hostname #} plain ansible_hostname",
                "{# ansible_hostname #} plain ansible_hostname",
            ),
            ("{{ my_ansible_hostname }}", "{{ my_ansible_hostname }}"),
            ("{{ x | boolean }}", "{{ x | boolean }}"),
        ];
        for (input, want) in cases {
            let mut notes = Notes::default();
            assert_eq!(&rewrite(input, &mut notes), want, "{input}");
        }
    }

    #[test]
    fn lists_the_filters_play_does_not_have() {
        assert_eq!(
            filters_used("a | select_sites('x|y') |default('|z') | flatten(1)")
                .into_iter()
                .collect::<Vec<_>>(),
            ["default", "flatten", "select_sites"]
        );
        let mut notes = Notes::default();
        rewrite(
            "{{ sites | select_sites('ssl.enabled') | dict2items | map(attribute='key') | list | flatten }}",
            &mut notes,
        );
        let all: Vec<&String> = notes.unsupported.iter().collect();
        assert_eq!(all.len(), 1, "{all:?}");
        assert!(
            all[0].starts_with("`| select_sites` (a filter neither"),
            "{all:?}"
        );
    }

    #[test]
    fn reports_what_it_cannot_rewrite() {
        let mut notes = Notes::default();
        rewrite(
            "{{ ansible_mounts[0].mount }} {{ lookup('env', 'HOME') }} {{ ansible_date_time.epoch }}",
            &mut notes,
        );
        let all: Vec<&String> = notes.unsupported.iter().collect();
        assert!(
            !all.iter().any(|n| n.starts_with("`ansible_date_time`")),
            "{all:?}"
        );
        assert!(
            all.iter().any(|n| n.starts_with("`ansible_mounts`")),
            "{all:?}"
        );
        assert!(all.iter().any(|n| n.starts_with("`lookup`")), "{all:?}");
        let mut notes = Notes::default();
        assert_eq!(
            rewrite_code("x is defined and y | bool", &mut notes),
            "x is defined and y | string | lower in [\"true\", \"yes\", \"on\", \"1\"]"
        );
        // chained: `in` would bind the list to the next filter; play's own `bool` is kept
        assert_eq!(
            rewrite_code("on|bool|ternary('started', 'stopped')", &mut notes),
            "on|bool|ternary('started', 'stopped')"
        );
        assert!(notes.unsupported.is_empty());
    }
}
