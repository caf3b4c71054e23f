//! A supervisor program conf template (`[program:NAME]` and `key = value` lines, values
//! templated on one line) read as the keys of a play `program:` resource.

use crate::yaml::{Mapping, Value};

/// Keys play's `program:` has; any other goes to `options`.
const KEYS: &[&str] = &[
    "command",
    "directory",
    "user",
    "numprocs",
    "autostart",
    "autorestart",
    "stopsignal",
    "stdout_logfile",
    "stderr_logfile",
];

/// One `[program:NAME]` section of a conf template, as a `program:` resource's keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub name: String,
    pub fields: Vec<(String, Value)>,
    /// The condition of the `{% if C %}…{% endif %}` it is in (`not (C)` for a section whose
    /// trailing keys go to the conditional section when C holds), if any.
    pub when: Option<String>,
}

/// `key = value` lines of a section.
type Lines = Vec<(String, String)>;

/// Keys read after an `{% endif %}`: the block's condition, the last unconditional section
/// before the block, the keys.
type Trailing = (String, Option<usize>, Lines);

/// A section being read: its name, condition and `key = value` lines.
struct Section {
    name: String,
    when: Option<String>,
    lines: Lines,
}

/// The programs of a conf template, or None when it is not understood: only `[program:]`
/// sections of `key = value` lines (values templated on one line, an `environment` built by
/// a `{% for k, v in MAP | items %}` loop), a whole section in `{% if C %}…{% endif %}`. Keys
/// after such an `{% endif %}` belong, in supervisor's INI reading, to the last section read:
/// the conditional one when C holds, else the one before it, which is then written twice
/// (`when: not (C)` with those keys, `when: C` without).
pub fn parse(text: &str) -> Option<Vec<Program>> {
    let mut sections: Vec<Section> = Vec::new();
    // the open `{% if %}`: its condition, and whether a section header opened in it
    let mut cond: Option<(String, bool)> = None;
    let mut trailing: Option<Trailing> = None;
    let mut closed: Vec<Trailing> = Vec::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty()
            || line.starts_with(';')
            || line.starts_with('#')
            || line.starts_with("{#")
            || (line.starts_with("{{") && line.contains("ansible_managed"))
            || line.starts_with("# Managed by play")
        {
            continue;
        }
        if let Some(c) = block_tag(line, "if") {
            if cond.is_some() || c.is_empty() {
                return None;
            }
            closed.extend(trailing.take());
            cond = Some((c.to_string(), false));
            continue;
        }
        if block_tag(line, "endif").is_some() {
            let (c, opened) = cond.take()?;
            if !opened {
                return None;
            }
            let before = sections.iter().rposition(|s| s.when.is_none());
            trailing = Some((c, before, Vec::new()));
            continue;
        }
        if let Some(h) = line.strip_prefix("[program:") {
            let name = h.strip_suffix(']')?.trim();
            if name.is_empty() {
                return None;
            }
            closed.extend(trailing.take());
            if let Some((c, opened)) = &mut cond {
                *opened = true;
                sections.push(Section {
                    name: name.to_string(),
                    when: Some(c.clone()),
                    lines: Vec::new(),
                });
            } else {
                sections.push(Section {
                    name: name.to_string(),
                    when: None,
                    lines: Vec::new(),
                });
            }
            continue;
        }
        if line.starts_with('[') || line.starts_with("{%") {
            return None;
        }
        let (k, v) = line.split_once('=')?;
        let (k, v) = (k.trim().to_string(), v.trim().to_string());
        if let Some((_, _, keys)) = &mut trailing {
            keys.push((k, v));
            continue;
        }
        // a key line right after `{% if %}` (before a header) is a conditional key
        if cond.as_ref().is_some_and(|(_, opened)| !opened) {
            return None;
        }
        sections.last_mut()?.lines.push((k, v));
    }
    if cond.is_some() {
        return None;
    }
    closed.extend(trailing.take());
    // sections with the keys after an `{% endif %}`: (section, condition it gets them under)
    let mut extra: Vec<(usize, Option<String>, Lines)> = Vec::new();
    for (c, before, keys) in closed.into_iter().filter(|(_, _, k)| !k.is_empty()) {
        let last_in_block = sections
            .iter()
            .rposition(|s| s.when.as_deref() == Some(&c))?;
        let before = before?;
        if extra.iter().any(|(s, _, _)| *s == before) {
            return None;
        }
        extra.push((last_in_block, None, keys.clone()));
        extra.push((before, Some(c), keys));
    }
    let mut out = Vec::new();
    for (i, s) in sections.iter().enumerate() {
        let split = extra.iter().find(|(j, c, _)| *j == i && c.is_some());
        let mut lines = s.lines.clone();
        if let Some((_, Some(c), keys)) = split {
            // without the trailing keys when the conditional section takes them
            out.push(program(&s.name, &lines, Some(c.clone()))?);
            lines.extend(keys.iter().cloned());
            out.push(program(&s.name, &lines, Some(format!("not ({c})")))?);
            continue;
        }
        for (_, _, keys) in extra.iter().filter(|(j, c, _)| *j == i && c.is_none()) {
            lines.extend(keys.iter().cloned());
        }
        out.push(program(&s.name, &lines, s.when.clone())?);
    }
    (!out.is_empty()).then_some(out)
}

/// The condition of a line that is exactly `{% TAG … %}` (`-` trims allowed).
fn block_tag<'a>(line: &'a str, tag: &str) -> Option<&'a str> {
    let inner = line.strip_prefix("{%")?.strip_suffix("%}")?;
    let inner = inner.trim_start_matches('-').trim_end_matches('-').trim();
    let rest = inner.strip_prefix(tag)?;
    (rest.is_empty() || rest.starts_with(char::is_whitespace)).then(|| rest.trim())
}

/// A program's keys from its `key = value` lines; None when a key is not one supervisor has
/// or there is no `command`.
fn program(name: &str, lines: &[(String, String)], when: Option<String>) -> Option<Program> {
    let mut fields: Vec<(String, Value)> = Vec::new();
    let mut options = Mapping::new();
    for (k, v) in lines {
        let (k, v) = (k.as_str(), v.as_str());
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        if k == "environment" {
            fields.push(("environment".into(), environment(v)?));
            continue;
        }
        let value = match (k, v) {
            ("autostart", v) => Value::Bool(super::node::yaml11_bool(v)?),
            ("autorestart", v) => match super::node::yaml11_bool(v) {
                Some(b) => Value::Bool(b),
                None => Value::String(v.to_string()),
            },
            ("numprocs", v) => match v.parse::<u64>() {
                Ok(n) => Value::Number(n.into()),
                Err(_) => Value::String(v.to_string()),
            },
            (_, v) => Value::String(v.to_string()),
        };
        if KEYS.contains(&k) {
            fields.push((k.to_string(), value));
        } else {
            options.insert(Value::String(k.to_string()), Value::String(v.to_string()));
        }
    }
    if !fields.iter().any(|(k, _)| k == "command") {
        return None;
    }
    if !options.is_empty() {
        fields.push(("options".into(), Value::Mapping(options)));
    }
    Some(Program {
        name: spaced(name),
        fields,
        when,
    })
}

/// `{{x}}` / `{{ x}}` written `{{ x }}`, as the importer writes names elsewhere.
fn spaced(name: &str) -> String {
    let mut out = String::new();
    let mut rest = name;
    while let Some(i) = rest.find("{{") {
        let Some(j) = rest[i..].find("}}") else { break };
        out.push_str(&rest[..i]);
        out.push_str(&format!("{{{{ {} }}}}", rest[i + 2..i + j].trim()));
        rest = &rest[i + j + 2..];
    }
    out.push_str(rest);
    out
}

/// `A="x",B="y"` (templated values allowed, no `{% %}`) as a mapping; or the whole value a
/// loop over a mapping, `{% for k, v in MAP | items %}{{ k }}="{{ v }}",{% endfor %}` (spaces
/// and the last `,` as they come), as the template `"{{ MAP }}"` (a mapping `environment`
/// takes).
fn environment(v: &str) -> Option<Value> {
    if v.contains("{%") {
        return env_loop(v).map(|map| Value::String(format!("{{{{ {map} }}}}")));
    }
    let mut m = Mapping::new();
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, val) = part.split_once('=')?;
        let val = val.trim().trim_matches('"');
        m.insert(
            Value::String(k.trim().to_string()),
            Value::String(val.to_string()),
        );
    }
    Some(Value::Mapping(m))
}

/// The mapping expression of `{% for K, V in MAP | items %}{{ K }}="{{ V }}",{% endfor %}`.
fn env_loop(v: &str) -> Option<String> {
    let head = v.strip_prefix("{%")?;
    let (head, rest) = head.split_once("%}")?;
    let head = head.trim_matches('-').trim().strip_prefix("for ")?;
    let (vars, map) = head.split_once(" in ")?;
    let (k, val) = vars.split_once(',')?;
    let (k, val) = (k.trim(), val.trim());
    let word = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let map = map.trim().strip_suffix("items")?.trim_end();
    let map = map.strip_suffix('|')?.trim();
    if !word(k) || !word(val) || map.is_empty() || map.contains("{{") || map.contains('%') {
        return None;
    }
    let (body, after) = rest.split_once("{%")?;
    let end = after.strip_suffix("%}")?.trim_matches('-').trim();
    if end != "endfor" {
        return None;
    }
    let squeezed: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let want = format!("{{{{{k}}}}}=\"{{{{{val}}}}}\"");
    (squeezed == want || squeezed == format!("{want},")).then(|| map.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Program {
        let mut all = parse(text).expect("parsed");
        assert_eq!(all.len(), 1);
        all.remove(0)
    }

    fn keys(p: &Program) -> Vec<&str> {
        p.fields.iter().map(|(k, _)| k.as_str()).collect()
    }

    fn get<'a>(p: &'a Program, key: &str) -> &'a Value {
        &p.fields.iter().find(|(k, _)| k == key).expect(key).1
    }

    #[test]
    fn simple_program_templates_become_keys() {
        let p = one(
            "[program:celery]\nuser={{ www_user }}\ncommand={{ p }}/celery -A x{% if c %} -c {{ c }}{% endif %} -n bg@%%h\nautostart=true\nautorestart=unexpected\nstopsignal=INT\nredirect_stderr=true\nenvironment=A=\"1\",B=\"{{ b }}\"\n{{ ansible_managed|comment(decoration='; ') }}\n",
        );
        assert_eq!(p.name, "celery");
        assert_eq!(p.when, None);
        assert_eq!(
            keys(&p),
            [
                "user",
                "command",
                "autostart",
                "autorestart",
                "stopsignal",
                "environment",
                "options"
            ]
        );
        assert_eq!(p.fields[2].1, Value::Bool(true));
        assert_eq!(p.fields[3].1, Value::String("unexpected".into()));
    }

    #[test]
    fn an_environment_looped_over_a_mapping_is_that_mapping() {
        for env in [
            "{% for key, value in app_env | items %}{{ key }}=\"{{ value }}\",{% endfor %}",
            "{% for k, v in app_env | items %} {{ k }}=\"{{ v }}\", {% endfor %}",
            "{%- for k, v in app_env|items -%}{{k}}=\"{{v}}\"{%- endfor %}",
        ] {
            let p = one(&format!(
                "[program:{{{{ app}}}}]\ncommand = /bin/app\nenvironment = {env}\n"
            ));
            assert_eq!(p.name, "{{ app }}", "{env}");
            assert_eq!(
                get(&p, "environment"),
                &Value::String("{{ app_env }}".into())
            );
        }
        // a loop writing anything else is not understood
        for env in [
            "{% for k, v in e | items %}{{ k }}={{ v }},{% endfor %}",
            "{% for k in e %}{{ k }}=\"1\",{% endfor %}",
            "{% for k, v in e | items %}{{ v }}=\"{{ k }}\",{% endfor %}",
        ] {
            assert!(parse(&format!("[program:a]\ncommand=x\nenvironment = {env}\n")).is_none());
        }
    }

    #[test]
    fn several_sections_are_several_programs_a_conditional_one_with_when() {
        let all = parse(
            "[program:web]\ncommand=/bin/web\n\n[program:worker]\ncommand=/bin/worker\nuser=app\n{% if beat %}\n[program:beat]\ncommand=/bin/beat\n{% endif %}\n",
        )
        .expect("parsed");
        let got: Vec<(&str, Option<&str>)> = all
            .iter()
            .map(|p| (p.name.as_str(), p.when.as_deref()))
            .collect();
        assert_eq!(
            got,
            [("web", None), ("worker", None), ("beat", Some("beat"))]
        );
        assert_eq!(keys(&all[1]), ["command", "user"]);
    }

    #[test]
    fn keys_after_an_endif_go_to_the_last_section_supervisor_read() {
        // mangaki's celery.conf.j2: stopwaitsecs/killasgroup follow `{% endif %}`, so they are
        // beat's when `celery_beat`, else the worker's
        let all = parse(
            "[program:w]\ncommand = /bin/w\n\n{% if celery_beat %}\n[program:b]\ncommand = /bin/b\n{% endif %}\n\n; wait\nstopwaitsecs = 600\nkillasgroup=true\n",
        )
        .expect("parsed");
        let got: Vec<(&str, Option<&str>, Vec<&str>)> = all
            .iter()
            .map(|p| (p.name.as_str(), p.when.as_deref(), keys(p)))
            .collect();
        assert_eq!(
            got,
            [
                ("w", Some("celery_beat"), vec!["command"]),
                ("w", Some("not (celery_beat)"), vec!["command", "options"]),
                ("b", Some("celery_beat"), vec!["command", "options"]),
            ]
        );
        let mut o = Mapping::new();
        o.insert("stopwaitsecs".into(), "600".into());
        o.insert("killasgroup".into(), "true".into());
        assert_eq!(get(&all[1], "options"), &Value::Mapping(o.clone()));
        assert_eq!(get(&all[2], "options"), &Value::Mapping(o));
    }

    #[test]
    fn anything_else_stays_a_file() {
        // a key under `{% if %}`, nested blocks, an unclosed block, keys with no section
        assert!(parse("[program:a]\n{% if x %}\ncommand=x\n{% endif %}\n").is_none());
        assert!(parse(
            "{% if x %}\n{% if y %}\n[program:a]\ncommand=x\n{% endif %}\n{% endif %}\n"
        )
        .is_none());
        assert!(parse("{% if x %}\n[program:a]\ncommand=x\n").is_none());
        assert!(parse("user=x\n[program:a]\ncommand=x\n").is_none());
        // keys after an `{% endif %}` with no section before the block
        assert!(parse("{% if x %}\n[program:a]\ncommand=x\n{% endif %}\nuser=y\n").is_none());
        // another section kind, a section without command, a `{% %}` line
        assert!(parse("[program:a]\ncommand=x\n[group:g]\nprograms=a\n").is_none());
        assert!(parse("[program:a]\nuser=x\n").is_none());
        assert!(parse("[program:a]\ncommand=x\n{% for a in b %}\n").is_none());
    }
}
