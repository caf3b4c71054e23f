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

/// The program's name and keys, or None when the template is not that simple (several
/// sections, `{% %}` blocks over lines, an `environment` built by a loop...).
pub fn parse(text: &str) -> Option<(String, Vec<(String, Value)>)> {
    let mut name = None;
    let mut fields: Vec<(String, Value)> = Vec::new();
    let mut options = Mapping::new();
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
        if let Some(h) = line.strip_prefix("[program:") {
            if name.is_some() {
                return None;
            }
            name = Some(h.strip_suffix(']')?.trim().to_string());
            continue;
        }
        if line.starts_with('[') || line.starts_with("{%") || name.is_none() {
            return None;
        }
        let (k, v) = line.split_once('=')?;
        let (k, v) = (k.trim(), v.trim());
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
    let name = name?;
    if !fields.iter().any(|(k, _)| k == "command") {
        return None;
    }
    if !options.is_empty() {
        fields.push(("options".into(), Value::Mapping(options)));
    }
    Some((name, fields))
}

/// `A="x",B="y"` (templated values allowed, no `{% %}`) as a mapping.
fn environment(v: &str) -> Option<Value> {
    if v.contains("{%") {
        return None;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_program_templates_become_keys() {
        let (name, fields) = parse(
            "[program:celery]\nuser={{ www_user }}\ncommand={{ p }}/celery -A x{% if c %} -c {{ c }}{% endif %} -n bg@%%h\nautostart=true\nautorestart=unexpected\nstopsignal=INT\nredirect_stderr=true\nenvironment=A=\"1\",B=\"{{ b }}\"\n{{ ansible_managed|comment(decoration='; ') }}\n",
        )
        .expect("parsed");
        assert_eq!(name, "celery");
        let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
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
        assert_eq!(fields[2].1, Value::Bool(true));
        assert_eq!(fields[3].1, Value::String("unexpected".into()));
    }

    #[test]
    fn anything_else_stays_a_file() {
        assert!(parse("[program:a]\ncommand=x\n[program:b]\ncommand=y\n").is_none());
        assert!(parse("[program:a]\n{% if x %}\ncommand=x\n{% endif %}\n").is_none());
        assert!(parse("[program:a]\ncommand=x\nenvironment = {% for k, v in e | items %}{{ k }}=\"{{ v }}\",{% endfor %}\n").is_none());
        assert!(parse("[program:a]\nuser=x\n").is_none());
    }
}
