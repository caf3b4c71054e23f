//! Ansible's template habits that minijinja lacks: filters (`basename`, `dirname`, `ternary`,
//! `quote`, `regex_replace`, `combine`, `bool`, `to_json`, `to_nice_json`, `b64encode`,
//! `b64decode`, `dict2items`, `items2dict`), `.items()`/`.keys()`/`.values()` on mappings, and
//! the lookups `lookup('env', NAME)` and `lookup('file', PATH)` (relative to the playbook).

use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::resources::Facts;
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error, ErrorKind};

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// The value of Ansible's `omit`: a resource key (owner, group, mode and the other text keys)
/// that renders to it is taken as not given (`owner: "{{ app_owner | default(omit) }}"`).
pub const OMIT: &str = "__omit_place_holder__";

/// Adds the filters, methods, lookups and `omit` to `env`; `playbook_dir` is where
/// `lookup('file')` paths start.
pub fn register(env: &mut Environment<'static>, playbook_dir: &Path) {
    env.add_global("omit", Value::from(OMIT));
    env.add_filter("basename", basename);
    env.add_filter("dirname", dirname);
    env.add_filter("ternary", ternary);
    env.add_filter("quote", quote);
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("combine", combine);
    env.add_filter("bool", to_bool);
    env.add_filter("to_json", |v: Value| to_json(&v, false));
    env.add_filter("to_nice_json", |v: Value| to_json(&v, true));
    env.add_filter("b64encode", |s: String| {
        base64::engine::general_purpose::STANDARD.encode(s)
    });
    env.add_filter("b64decode", b64decode);
    env.add_filter("dict2items", dict2items);
    env.add_filter("items2dict", items2dict);
    let dir = playbook_dir.to_path_buf();
    env.add_function("lookup", move |kind: String, arg: String| {
        lookup(&dir, &kind, &arg)
    });
    env.set_unknown_method_callback(|_state, value, method, args| {
        if value.as_object().is_none() || !args.is_empty() {
            return Err(Error::from(ErrorKind::UnknownMethod));
        }
        let keys = || value.try_iter().map(|it| it.collect::<Vec<Value>>());
        match method {
            "items" | "iteritems" => Ok(Value::from(
                keys()?
                    .into_iter()
                    .map(|k| {
                        let v = value.get_item(&k).unwrap_or_default();
                        Value::from(vec![k, v])
                    })
                    .collect::<Vec<_>>(),
            )),
            "keys" => Ok(Value::from(keys()?)),
            "values" => Ok(Value::from(
                keys()?
                    .into_iter()
                    .map(|k| value.get_item(&k).unwrap_or_default())
                    .collect::<Vec<_>>(),
            )),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    });
}

/// Ansible's names of the facts play gathers, each with its value from `f` (`ansible_facts`
/// holds them without the prefix).
pub fn fact_aliases(f: &Facts) -> Vec<(&'static str, Value)> {
    let capitalized = |s: &str| {
        let mut c = s.chars();
        c.next()
            .map(|first| first.to_uppercase().collect::<String>() + c.as_str())
            .unwrap_or_default()
    };
    let family = match f.os_id.as_str() {
        "debian" | "ubuntu" | "linuxmint" | "raspbian" => "Debian".to_string(),
        "rhel" | "centos" | "fedora" | "rocky" | "almalinux" => "RedHat".to_string(),
        other => capitalized(other),
    };
    let major = f
        .os_version
        .split('.')
        .next()
        .unwrap_or_default()
        .to_string();
    let pairs: Vec<(&'static str, Value)> = vec![
        ("hostname", Value::from(f.hostname.as_str())),
        ("nodename", Value::from(f.hostname.as_str())),
        ("fqdn", Value::from(f.hostname.as_str())),
        ("processor_vcpus", Value::from(f.cpus)),
        ("processor_cores", Value::from(f.cpus)),
        ("processor_nproc", Value::from(f.cpus)),
        ("memtotal_mb", Value::from(f.memory_mb)),
        ("architecture", Value::from(f.arch.as_str())),
        ("distribution", Value::from(capitalized(&f.os_id))),
        ("os_family", Value::from(family)),
        ("distribution_version", Value::from(f.os_version.as_str())),
        ("distribution_major_version", Value::from(major)),
        ("distribution_release", Value::from(f.os_codename.as_str())),
    ];
    let facts = Value::from_iter(pairs.iter().map(|(k, v)| (*k, v.clone())));
    let mut out: Vec<(&'static str, Value)> = FACT_NAMES
        .iter()
        .zip(pairs)
        .map(|(name, (_, v))| (*name, v))
        .collect();
    out.push(("ansible_facts", facts));
    out
}

/// The names [`fact_aliases`] defines, in its order (with their play form).
const FACT_NAMES: [&str; 12] = [
    "ansible_hostname",
    "ansible_nodename",
    "ansible_fqdn",
    "ansible_processor_vcpus",
    "ansible_processor_cores",
    "ansible_processor_nproc",
    "ansible_memtotal_mb",
    "ansible_architecture",
    "ansible_distribution",
    "ansible_os_family",
    "ansible_distribution_version",
    "ansible_distribution_major_version",
];

/// A hint for an undefined Ansible variable (`ansible_default_ipv4`...): the facts play has.
pub fn undefined_hint(name: &str) -> Option<String> {
    if !name.starts_with("ansible_") {
        return None;
    }
    Some(format!(
        "`{name}` is an Ansible fact or connection var play does not have: play's facts are \
         facts.hostname, facts.os_id, facts.os_version, facts.arch, facts.cpus, facts.memory_mb \
         (also named {}); connection vars are the inventory's (ssh_host, ssh_port, ssh_user)",
        FACT_NAMES.join(", ")
    ))
}

fn basename(path: String) -> String {
    path.rsplit('/').next().unwrap_or_default().to_string()
}

fn dirname(path: String) -> String {
    match path.rfind('/') {
        Some(0) => "/".to_string(),
        Some(i) => path[..i].to_string(),
        None => String::new(),
    }
}

/// `cond | ternary(a, b)`: `a` when `cond` is true, else `b` (a third value for `none`).
fn ternary(cond: Value, yes: Value, no: Value, none: Option<Value>) -> Value {
    match none {
        Some(n) if cond.is_none() => n,
        _ if cond.is_true() => yes,
        _ => no,
    }
}

/// The text quoted for `sh` (as Python's `shlex.quote`).
fn quote(s: String) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\"'\"'"))
    }
}

/// `s | regex_replace(pattern, replacement)`, Python's `\1` and `\g<name>` in the
/// replacement.
fn regex_replace(s: String, pattern: String, replacement: Option<String>) -> Result<String, Error> {
    let re = regex::Regex::new(&pattern)
        .map_err(|e| invalid(format!("regex_replace: bad pattern `{pattern}`: {e}")))?;
    let replacement = replacement.unwrap_or_default();
    let mut rep = String::with_capacity(replacement.len());
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().copied()) {
            ('\\', Some(d)) if d.is_ascii_digit() => {
                chars.next();
                rep += &format!("${{{d}}}");
            }
            ('\\', Some('g')) => {
                chars.next();
                let name: String = chars.by_ref().skip(1).take_while(|c| *c != '>').collect();
                rep += &format!("${{{name}}}");
            }
            ('$', _) => rep += "$$",
            _ => rep.push(c),
        }
    }
    Ok(re.replace_all(&s, rep.as_str()).into_owned())
}

/// The entries of a mapping, in its order.
fn entries(v: &Value, filter: &str) -> Result<Vec<(Value, Value)>, Error> {
    if v.as_object().is_none() || v.as_str().is_some() {
        return Err(invalid(format!(
            "{filter}: expected a mapping, found {}",
            v.kind()
        )));
    }
    Ok(v.try_iter()?
        .map(|k| {
            let value = v.get_item(&k).unwrap_or_default();
            (k, value)
        })
        .collect())
}

/// `a | combine(b, ..., recursive=true)`: the mappings merged, later keys winning.
fn combine(base: Value, others: minijinja::value::Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let recursive: Option<bool> = kw.get("recursive")?;
    kw.assert_all_used()?;
    let mut acc = entries(&base, "combine")?;
    for o in others.iter() {
        merge(&mut acc, entries(o, "combine")?, recursive.unwrap_or(false))?;
    }
    Ok(Value::from_iter(acc))
}

fn merge(
    acc: &mut Vec<(Value, Value)>,
    more: Vec<(Value, Value)>,
    deep: bool,
) -> Result<(), Error> {
    for (k, v) in more {
        match acc.iter_mut().find(|(a, _)| *a == k) {
            Some((_, old)) if deep && old.as_object().is_some() && v.as_object().is_some() => {
                let mut inner = entries(old, "combine").unwrap_or_default();
                if let Ok(e) = entries(&v, "combine") {
                    merge(&mut inner, e, true)?;
                    *old = Value::from_iter(inner);
                } else {
                    *old = v;
                }
            }
            Some((_, old)) => *old = v,
            None => acc.push((k, v)),
        }
    }
    Ok(())
}

/// `x | bool`: YAML 1.1 spellings (`yes`, `on`, `True`...) and `1`/`0` as Ansible reads them.
fn to_bool(v: Value) -> bool {
    if let Some(s) = v.as_str() {
        let s = s.trim();
        return crate::yaml::yaml11_bool(s).unwrap_or(s == "1");
    }
    v.is_true()
}

fn to_json(v: &Value, pretty: bool) -> Result<Value, Error> {
    let text = if pretty {
        serde_json::to_string_pretty(v)
    } else {
        serde_json::to_string(v)
    }
    .map_err(|e| invalid(format!("to_json: {e}")))?;
    Ok(Value::from_safe_string(text))
}

fn b64decode(s: String) -> Result<String, Error> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| invalid(format!("b64decode: {e}")))?;
    String::from_utf8(bytes).map_err(|_| invalid("b64decode: not UTF-8 text"))
}

/// `{a: 1} | dict2items` → `[{key: a, value: 1}]`.
fn dict2items(v: Value) -> Result<Value, Error> {
    Ok(Value::from(
        entries(&v, "dict2items")?
            .into_iter()
            .map(|(k, v)| Value::from_iter([("key", k), ("value", v)]))
            .collect::<Vec<_>>(),
    ))
}

/// `[{key: a, value: 1}] | items2dict` → `{a: 1}`.
fn items2dict(v: Value) -> Result<Value, Error> {
    let mut out = Vec::new();
    for item in v.try_iter()? {
        let k = item.get_attr("key")?;
        let val = item.get_attr("value")?;
        if k.is_undefined() {
            return Err(invalid("items2dict: an item without `key`"));
        }
        out.push((k, val));
    }
    Ok(Value::from_iter(out))
}

/// `lookup('env', NAME)` (empty when unset, as in Ansible) and `lookup('file', PATH)` (PATH
/// relative to the playbook's folder; the trailing newline dropped, as in Ansible).
fn lookup(dir: &Path, kind: &str, arg: &str) -> Result<Value, Error> {
    match kind {
        "env" => Ok(Value::from(std::env::var(arg).unwrap_or_default())),
        "file" => {
            let p: PathBuf = dir.join(arg);
            let text = std::fs::read_to_string(&p)
                .map_err(|e| invalid(format!("lookup('file', '{arg}'): {}: {e}", p.display())))?;
            Ok(Value::from(
                text.strip_suffix('\n').unwrap_or(&text).to_string(),
            ))
        }
        other => Err(invalid(format!(
            "lookup('{other}', …): play knows the lookups `env` and `file`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &str, ctx: Value) -> Result<String, String> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        let dir = std::env::temp_dir();
        register(&mut env, &dir);
        env.render_str(template, ctx).map_err(|e| e.to_string())
    }

    fn ok(template: &str) -> String {
        render(template, Value::from(())).unwrap_or_else(|e| panic!("{template}: {e}"))
    }

    #[test]
    fn ansible_fact_names_are_play_facts() {
        let f = Facts {
            hostname: "web1".into(),
            os_id: "ubuntu".into(),
            os_version: "24.04".into(),
            os_codename: "noble".into(),
            arch: "x86_64".into(),
            cpus: 4,
            memory_mb: 2048,
        };
        let ctx = Value::from_iter(fact_aliases(&f));
        let out = render(
            "{{ ansible_processor_vcpus * 2 }} {{ ansible_distribution }} {{ ansible_os_family }} \
             {{ ansible_distribution_major_version }} {{ ansible_facts.memtotal_mb }} {{ ansible_hostname }}",
            ctx,
        );
        assert_eq!(out.as_deref(), Ok("8 Ubuntu Debian 24 2048 web1"));
        let hint = undefined_hint("ansible_default_ipv4").unwrap_or_default();
        assert!(
            hint.contains("facts.cpus") && hint.contains("ansible_processor_vcpus"),
            "{hint}"
        );
        assert_eq!(undefined_hint("app_port"), None);
    }

    #[test]
    fn ansible_filters() {
        assert_eq!(ok("{{ '/srv/app/a.ini' | basename }}"), "a.ini");
        assert_eq!(ok("{{ '/srv/app/a.ini' | dirname }}"), "/srv/app");
        assert_eq!(ok("{{ true | ternary('on', 'off') }}"), "on");
        assert_eq!(ok("{{ 0 | ternary('on', 'off') }}"), "off");
        assert_eq!(ok("{{ \"it's a b\" | quote }}"), "'it'\"'\"'s a b'");
        assert_eq!(ok("{{ 'plain.txt' | quote }}"), "plain.txt");
        assert_eq!(
            ok("{{ 'web-01.example' | regex_replace('^web-(\\\\d+).*$', 'w\\\\1') }}"),
            "w01"
        );
        assert_eq!(
            ok("{{ ({'a': 1, 'b': {'x': 1}} | combine({'b': {'y': 2}}, recursive=true)) | to_json }}"),
            r#"{"a":1,"b":{"x":1,"y":2}}"#
        );
        assert_eq!(
            ok("{{ ({'a': 1} | combine({'a': 2, 'c': 3})) | to_json }}"),
            r#"{"a":2,"c":3}"#
        );
        assert_eq!(
            ok("{% for x in ['no', 'Yes', '1', 'off', 0] %}{{ x | bool | ternary('y', 'n') }}{% endfor %}"),
            "nyynn"
        );
        assert_eq!(ok("{{ 'a<b' | to_json }}"), "\"a<b\"");
        assert_eq!(ok("{{ 'user:pw' | b64encode }}"), "dXNlcjpwdw==");
        assert_eq!(ok("{{ 'dXNlcjpwdw==' | b64decode }}"), "user:pw");
        assert_eq!(
            ok("{% for i in {'a': 1} | dict2items %}{{ i.key }}={{ i.value }}{% endfor %}"),
            "a=1"
        );
        assert_eq!(
            ok("{{ ([{'key': 'a', 'value': 1}] | items2dict) | to_json }}"),
            r#"{"a":1}"#
        );
    }

    #[test]
    fn items_keys_values_on_mappings_and_lookups() {
        assert_eq!(
            ok("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}{{ v }};{% endfor %}"),
            "a1;b2;"
        );
        assert_eq!(ok("{{ {'a': 1}.keys() | list }}"), "[\"a\"]");
        assert_eq!(ok("{{ {'a': 1}.values() | list }}"), "[1]");
        assert!(render("{{ 'x'.nope() }}", Value::from(())).is_err());
        let path = std::env::var("PATH").unwrap_or_default();
        assert_eq!(ok("{{ lookup('env', 'PATH') }}"), path);
        assert_eq!(ok("{{ lookup('env', 'PLAY_SURELY_UNSET_VAR') }}"), "");
        let err = render("{{ lookup('pipe', 'date') }}", Value::from(())).unwrap_err();
        assert!(err.contains("`env` and `file`"), "{err}");
        let err = render("{{ lookup('file', 'no/such/file') }}", Value::from(())).unwrap_err();
        assert!(err.contains("lookup('file', 'no/such/file')"), "{err}");
    }
}
