//! Ansible's template habits that minijinja lacks: filters (`basename`, `dirname`, `ternary`,
//! play's own `normpath`,
//! `quote`, `regex_replace`, `combine`, `bool`, `to_json`, `to_nice_json`, `b64encode`,
//! `b64decode`, `dict2items`, `items2dict`, `flatten`, `zip`, `union`, `difference`,
//! `intersect`), the test `version` (`version_compare`, also a filter), `dict(pairs)`, `.items()`/`.keys()`/`.values()` on mappings and the other
//! Python methods of strings, lists and mappings (`.get()`, `', '.join(...)`, from
//! minijinja-contrib's `pycompat`), `ansible_check_mode`, and the lookups `lookup('env', NAME)`
//! and `lookup('file', PATH)` (relative to the playbook, `~` the home folder,
//! `errors='ignore'`).

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
    env.add_filter("normpath", normpath);
    env.add_filter("path_join", path_join);
    env.add_filter("ternary", ternary);
    env.add_filter("quote", quote);
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("regex_escape", regex_escape);
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
    env.add_filter("flatten", flatten);
    env.add_filter("zip", zip);
    env.add_filter("subelements", subelements);
    env.add_filter("union", |a: Value, b: Value| set_op(&a, &b, SetOp::Union));
    env.add_filter("difference", |a: Value, b: Value| {
        set_op(&a, &b, SetOp::Difference)
    });
    env.add_filter("intersect", |a: Value, b: Value| {
        set_op(&a, &b, SetOp::Intersect)
    });
    env.add_filter("sum", sum);
    env.add_test("version", version_test);
    env.add_test("version_compare", version_test);
    env.add_filter("version_compare", version_test);
    env.add_function("dict", dict);
    // play renders what apply does, whether it then applies it or not: never Ansible's --check.
    env.add_global("ansible_check_mode", Value::from(false));
    let dir = playbook_dir.to_path_buf();
    env.add_function(
        "lookup",
        move |kind: String, terms: minijinja::value::Rest<String>, kw: Kwargs| {
            lookup(&dir, &kind, &terms, kw)
        },
    );
    env.set_unknown_method_callback(|state, value, method, args| {
        if value.as_object().is_none() || !args.is_empty() {
            return python_method(state, value, method, args);
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
            _ => python_method(state, value, method, args),
        }
    });
}

/// Ansible's `version` test (`version_compare`, its old name, a filter too): `x is
/// version('1.1.0', '>=')` compares as Python's `LooseVersion` does — runs of digits as
/// numbers, runs of letters as text, other characters separate; a number against a text is
/// an error. Operators: `<` `lt` `<=` `le` `>` `gt` `>=` `ge` `==` `=` `eq` (default) `!=`
/// `<>` `ne`.
fn version_test(value: Value, other: Value, op: Option<String>) -> Result<bool, Error> {
    use std::cmp::Ordering;
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum Part {
        Num(u128),
        Text(String),
    }
    fn parts(v: &Value) -> Result<Vec<Part>, Error> {
        let text = v
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string());
        let mut out = Vec::new();
        let mut chars = text.chars().peekable();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_digit() {
                let mut run = String::new();
                while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    run.push(d);
                    chars.next();
                }
                let n = run
                    .parse()
                    .map_err(|_| invalid(format!("version: `{run}` is too large a number")))?;
                out.push(Part::Num(n));
            } else if c.is_alphabetic() {
                let mut run = String::new();
                while let Some(&d) = chars.peek().filter(|d| d.is_alphabetic()) {
                    run.push(d);
                    chars.next();
                }
                out.push(Part::Text(run));
            } else {
                chars.next();
            }
        }
        Ok(out)
    }
    let (a, b) = (parts(&value)?, parts(&other)?);
    for (x, y) in a.iter().zip(&b) {
        if matches!(
            (x, y),
            (Part::Num(_), Part::Text(_)) | (Part::Text(_), Part::Num(_))
        ) {
            return Err(invalid(format!(
                "version: cannot compare `{value}` with `{other}` (a number against a text, as \
                 Python's LooseVersion cannot)"
            )));
        }
    }
    let ord = a.cmp(&b);
    Ok(match op.as_deref().unwrap_or("eq") {
        "<" | "lt" => ord == Ordering::Less,
        "<=" | "le" => ord != Ordering::Greater,
        ">" | "gt" => ord == Ordering::Greater,
        ">=" | "ge" => ord != Ordering::Less,
        "==" | "=" | "eq" => ord == Ordering::Equal,
        "!=" | "<>" | "ne" => ord != Ordering::Equal,
        other => {
            return Err(invalid(format!(
                "version: unknown operator `{other}` (one of <, lt, <=, le, >, gt, >=, ge, ==, =, eq, !=, <>, ne)"
            )))
        }
    })
}

/// Python's methods of strings, lists and mappings (`d.get('k', 1)`, `', '.join(xs)`,
/// `s.split(',')`, `s.startswith('/')`...) through minijinja-contrib's `pycompat`, the ones
/// that can make a larger value (`join`, `replace`) charged to the rendering's budget first, as
/// the filters of the same name are. `str.format` is not offered (its widths are unbounded).
fn python_method(
    state: &minijinja::State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    if method == "format" {
        return Err(Error::from(ErrorKind::UnknownMethod));
    }
    if value.as_str().is_some() {
        super::limits::charge_method(method, value, args)?;
    }
    let out = minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)?;
    super::limits::charge_made(&out)?;
    Ok(out)
}

/// Charges one new slot of a list being built to the rendering's budget.
/// An Ansible filter's input that is not what it takes: an undefined one is an undefined error
/// (explained as the undefined var it was read from: `x.results | flatten` with `x` undefined
/// says `undefined variable \`x\``), another is `FILTER: expected WHAT, found KIND`.
fn expected(filter: &str, what: &str, v: &Value) -> Error {
    if v.is_undefined() {
        return Error::from(ErrorKind::UndefinedError);
    }
    invalid(format!("{filter}: expected {what}, found {}", v.kind()))
}

/// `v` itself, or an undefined error (minijinja lets undefined through a `Value` argument).
fn defined(v: &Value) -> Result<&Value, Error> {
    if v.is_undefined() {
        return Err(Error::from(ErrorKind::UndefinedError));
    }
    Ok(v)
}

fn charge_slot() -> Result<(), Error> {
    minijinja::budget::charge(std::mem::size_of::<Value>() as u64)
}

fn is_list(v: &Value) -> bool {
    matches!(
        v.kind(),
        minijinja::value::ValueKind::Seq | minijinja::value::ValueKind::Iterable
    )
}

/// `xs | flatten(levels=N, skip_nulls=true)`: nested lists made one (all levels unless
/// `levels`), `none` items left out unless `skip_nulls=false`; as Ansible's.
fn flatten(v: Value, levels: Option<u32>, kw: Kwargs) -> Result<Value, Error> {
    let levels: Option<u32> = match levels {
        Some(l) => Some(l),
        None => kw.get("levels")?,
    };
    let skip_nulls: Option<bool> = kw.get("skip_nulls")?;
    kw.assert_all_used()?;
    let skip_nulls = skip_nulls.unwrap_or(true);
    if !is_list(&v) {
        return Err(expected("flatten", "a list", &v));
    }
    // Without recursion: a list nested a million deep flattens without using the stack.
    let mut out = Vec::new();
    let mut stack = vec![(v.try_iter()?, 0u32)];
    while let Some((iter, depth)) = stack.last_mut() {
        let depth = *depth;
        let Some(item) = iter.next() else {
            stack.pop();
            continue;
        };
        let null = item.is_none() || matches!(item.as_str(), Some("None" | "null"));
        if skip_nulls && null {
            continue;
        }
        if is_list(&item) && levels.is_none_or(|l| depth < l) {
            stack.push((item.try_iter()?, depth + 1));
        } else {
            charge_slot()?;
            out.push(item);
        }
    }
    Ok(Value::from(out))
}

/// `a | zip(b, ...)`: lists of the items at the same place, as long as the shortest list.
fn zip(first: Value, others: minijinja::value::Rest<Value>) -> Result<Value, Error> {
    let mut iters = vec![defined(&first)?.try_iter()?];
    for o in others.iter() {
        iters.push(defined(o)?.try_iter()?);
    }
    let mut out = Vec::new();
    'rows: loop {
        let mut row = Vec::with_capacity(iters.len());
        for it in iters.iter_mut() {
            match it.next() {
                Some(v) => row.push(v),
                None => break 'rows,
            }
        }
        for _ in 0..=row.len() {
            charge_slot()?;
        }
        out.push(Value::from(row));
    }
    Ok(Value::from(out))
}

/// Ansible's `subelements`: `users | subelements('keys.ssh', skip_missing=true)` → `[user,
/// key]` for each key of each user. The key is a dotted path into each item; an item without
/// it is an error unless `skip_missing`. A mapping is taken as the list of its values.
fn subelements(v: Value, path: String, skip: Option<bool>, kw: Kwargs) -> Result<Value, Error> {
    let skip = match skip {
        Some(s) => s,
        None => kw.get::<Option<bool>>("skip_missing")?.unwrap_or(false),
    };
    kw.assert_all_used()?;
    let items: Vec<Value> = if is_list(&v) {
        v.try_iter()?.collect()
    } else if v.as_object().is_some() && v.as_str().is_none() {
        entries(&v, "subelements")?
            .into_iter()
            .map(|(_, x)| x)
            .collect()
    } else {
        return Err(expected("subelements", "a list or a mapping", &v));
    };
    let mut out = Vec::new();
    'items: for item in items {
        let mut sub = item.clone();
        for key in path.split('.') {
            match sub.get_attr(key) {
                Ok(next) if !next.is_undefined() => sub = next,
                _ if skip => continue 'items,
                _ => {
                    return Err(invalid(format!(
                        "subelements: an item has no key `{key}` (of `{path}`; \
                         `skip_missing=true` skips such items)"
                    )))
                }
            }
        }
        if !is_list(&sub) {
            return Err(invalid(format!(
                "subelements: `{path}` should be a list, found {}",
                sub.kind()
            )));
        }
        for s in sub.try_iter()? {
            charge_slot()?;
            out.push(Value::from(vec![item.clone(), s]));
        }
    }
    Ok(Value::from(out))
}

#[derive(Clone, Copy)]
enum SetOp {
    Union,
    Difference,
    Intersect,
}

/// Ansible's set filters on lists: each item once, in the order of `a` (then `b`).
fn set_op(a: &Value, b: &Value, op: SetOp) -> Result<Value, Error> {
    let other: std::collections::BTreeSet<Value> = defined(b)?.try_iter()?.collect();
    defined(a)?;
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    let from_b = match op {
        SetOp::Union => other.iter().cloned().collect::<Vec<_>>(),
        _ => Vec::new(),
    };
    for item in a.try_iter()?.chain(from_b) {
        let keep = match op {
            SetOp::Union => true,
            SetOp::Difference => !other.contains(&item),
            SetOp::Intersect => other.contains(&item),
        };
        if keep && seen.insert(item.clone()) {
            charge_slot()?;
            out.push(item);
        }
    }
    Ok(Value::from(out))
}

/// Jinja's `xs | sum(attribute='a.b', start=0)`: numbers added, or lists concatenated
/// (`users | sum(attribute='groups', start=[])`); minijinja's `sum` has neither argument.
fn sum(values: Value, attribute: Option<String>, kw: Kwargs) -> Result<Value, Error> {
    let attribute = match attribute {
        Some(a) => Some(a),
        None => kw.get::<Option<String>>("attribute")?,
    };
    let start: Option<Value> = kw.get("start")?;
    kw.assert_all_used()?;
    let mut list: Option<Vec<Value>> = None;
    let mut number = start.clone().unwrap_or(Value::from(0));
    if start.as_ref().is_some_and(is_list) {
        list = Some(
            start
                .iter()
                .flat_map(|s| s.try_iter().into_iter().flatten())
                .collect(),
        );
    }
    for item in values.try_iter()? {
        let mut v = item;
        for part in attribute.iter().flat_map(|a| a.split('.')) {
            v = match part.parse::<usize>() {
                Ok(i) if v.kind() == minijinja::value::ValueKind::Seq => v.get_item_by_index(i)?,
                _ => v.get_attr(part)?,
            };
        }
        match &mut list {
            Some(acc) => {
                if !is_list(&v) {
                    return Err(invalid(format!("sum: cannot add {} to a list", v.kind())));
                }
                for x in v.try_iter()? {
                    charge_slot()?;
                    acc.push(x);
                }
            }
            None => {
                let n = (number.as_i64(), v.as_i64());
                number = match n {
                    (Some(a), Some(b)) => {
                        Value::from(a.checked_add(b).ok_or_else(|| invalid("sum: overflow"))?)
                    }
                    _ => match (f64::try_from(number.clone()), f64::try_from(v.clone())) {
                        (Ok(a), Ok(b)) => Value::from(a + b),
                        _ => {
                            return Err(invalid(format!(
                                "sum: cannot add {} to a number (start=[] to add lists)",
                                v.kind()
                            )))
                        }
                    },
                };
            }
        }
    }
    Ok(list.map(Value::from).unwrap_or(number))
}

/// `dict(a=1)` as minijinja's, and Python's `dict(pairs)` (`dict(keys | zip(values))`) and
/// `dict(mapping)`.
fn dict(args: minijinja::value::Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let mut out: Vec<(Value, Value)> = Vec::new();
    match args.as_slice() {
        [] => {}
        [one] if one.kind() == minijinja::value::ValueKind::Map => out = entries(one, "dict")?,
        [one] => {
            for pair in one.try_iter()? {
                let mut it = pair.try_iter()?;
                let (Some(k), Some(v), None) = (it.next(), it.next(), it.next()) else {
                    return Err(invalid("dict: expected pairs (a list of [key, value])"));
                };
                charge_slot()?;
                out.push((k, v));
            }
        }
        _ => {
            return Err(invalid(
                "dict: one list of pairs or one mapping, then key=value",
            ))
        }
    }
    for k in kw.args() {
        let v: Value = kw.get(k)?;
        out.push((Value::from(k), v));
    }
    Ok(Value::from_iter(out))
}

/// Does play's template engine have the filter `name` (minijinja's, play's guarded ones and
/// the Ansible ones above)? Asked by the importer, to list the filters it cannot carry.
pub fn has_filter(name: &str) -> bool {
    use std::sync::OnceLock;
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    let env = ENV.get_or_init(|| {
        let limits = super::template::Limits::default();
        let mut env = super::template::environment(Vec::new(), limits);
        register(&mut env, Path::new("."));
        env
    });
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return false;
    }
    // An unknown filter is known only when applied: apply it to nothing.
    match env.render_str(&format!("{{{{ none | {name} }}}}"), ()) {
        Err(e) => e.kind() != ErrorKind::UnknownFilter,
        Ok(_) => true,
    }
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
        (
            "virtualization_type",
            Value::from(f.virtualization.as_str()),
        ),
        ("selinux", selinux(&f.selinux)),
        ("default_ipv4", Value::from_serialize(&f.default_ipv4)),
        ("default_ipv6", Value::from_serialize(&f.default_ipv6)),
        ("env", Value::from_serialize(&f.env)),
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

/// Ansible's `ansible_selinux` from play's `facts.selinux`: `{status: disabled}`, or
/// `{status: enabled, mode: enforcing|permissive}`.
fn selinux(mode: &str) -> Value {
    if mode.is_empty() || mode == "disabled" {
        Value::from_iter([("status", Value::from("disabled"))])
    } else {
        Value::from_iter([
            ("status", Value::from("enabled")),
            ("mode", Value::from(mode)),
        ])
    }
}

/// The names [`fact_aliases`] defines, in its order (with their play form).
const FACT_NAMES: [&str; 18] = [
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
    "ansible_distribution_release",
    "ansible_virtualization_type",
    "ansible_selinux",
    "ansible_default_ipv4",
    "ansible_default_ipv6",
    "ansible_env",
];

/// Whether play defines the Ansible fact `name` (`ansible_selinux`…) from its own facts.
pub fn is_fact_alias(name: &str) -> bool {
    FACT_NAMES.contains(&name) || name == "ansible_facts" || name == "ansible_date_time"
}

/// A hint for an undefined Ansible variable (`ansible_default_ipv4`...): the facts play has.
pub fn undefined_hint(name: &str) -> Option<String> {
    if !name.starts_with("ansible_") {
        return None;
    }
    Some(format!(
        "`{name}` is an Ansible fact or connection var play does not have: play's facts are \
         facts.hostname, facts.os_id, facts.os_version, facts.os_codename, facts.arch, facts.cpus, \
         facts.memory_mb, facts.virtualization, facts.selinux, facts.default_ipv4, \
         facts.default_ipv6, facts.env \
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
/// play's `normpath` (Python's `os.path.normpath` on a POSIX path, which Ansible has no
/// filter for): `.` components and repeated `/` dropped, `NAME/..` folded, lexically (no
/// link is read); `..` above the root is the root, `..` that a relative path cannot fold kept.
pub fn normpath(path: String) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if absolute => {}
                _ => parts.push(".."),
            },
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Ansible's `path_join` (Python's `os.path.join` over a list, on POSIX paths): each part is
/// appended after a `/` unless the path so far ends with one; an absolute part starts over.
pub fn path_join(parts: Vec<String>) -> String {
    let mut out = String::new();
    for p in parts {
        if p.starts_with('/') || out.is_empty() {
            out = p;
        } else if out.ends_with('/') {
            out.push_str(&p);
        } else {
            out.push('/');
            out.push_str(&p);
        }
    }
    out
}

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
/// Ansible's `regex_escape` (`re_type='python'`, its default): Python's `re.escape`, which
/// escapes `()[]{}?*+-|^$\\.&~#` and whitespace.
fn regex_escape(s: String, re_type: Option<String>) -> Result<String, Error> {
    if let Some(t) = re_type.filter(|t| t != "python") {
        return Err(invalid(format!(
            "regex_escape: re_type `{t}` is not supported (play escapes for Python's `re`, \
             Ansible's default)"
        )));
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "()[]{}?*+-|^$\\.&~# \t\n\r\x0b\x0c".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    Ok(out)
}

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
        return Err(expected(filter, "a mapping", v));
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
/// relative to the playbook's folder, `~/` the home folder; the trailing newline dropped, as in
/// Ansible). Several terms give their values joined by commas, as Ansible's `lookup` does.
/// `errors='ignore'` (or `'warn'`) makes a file that cannot be read empty, as in Ansible.
fn lookup(dir: &Path, kind: &str, terms: &[String], kw: Kwargs) -> Result<Value, Error> {
    let errors: Option<String> = kw.get("errors")?;
    kw.assert_all_used()?;
    let strict = match errors.as_deref() {
        None | Some("strict") => true,
        Some("ignore" | "warn") => false,
        Some(other) => {
            return Err(invalid(format!(
                "lookup: errors='{other}': expected 'strict', 'warn' or 'ignore'"
            )))
        }
    };
    if terms.is_empty() {
        return Err(invalid(format!("lookup('{kind}'): no term given")));
    }
    let mut values = Vec::new();
    for arg in terms {
        match kind {
            "env" => values.push(std::env::var(arg).unwrap_or_default()),
            "file" => {
                let p: PathBuf = match (arg.strip_prefix("~/"), std::env::var_os("HOME")) {
                    (Some(rest), Some(home)) => Path::new(&home).join(rest),
                    _ => dir.join(arg),
                };
                match std::fs::read_to_string(&p) {
                    Ok(text) => values.push(text.strip_suffix('\n').unwrap_or(&text).to_string()),
                    Err(e) if strict => {
                        return Err(invalid(format!(
                            "lookup('file', '{arg}'): {}: {e}",
                            p.display()
                        )))
                    }
                    Err(_) => {}
                }
            }
            "pipe" => {
                return Err(invalid(format!(
                    "lookup('pipe', '{arg}') runs a command on the controller, which play does not do while it renders: run it before play and pass its output as an extra var (`-e NAME=\"$({arg})\"`), or check on the host with a command's `unless:`/`creates:` (play knows the lookups `env` and `file`)"
                )))
            }
            "password" => {
                return Err(invalid(format!(
                    "lookup('password', '{arg}') makes or reads a secret on the controller: put the secret in a vault file (`play vault encrypt`) and read it as a var (play knows the lookups `env` and `file`)"
                )))
            }
            other => {
                return Err(invalid(format!(
                    "lookup('{other}', …): play knows the lookups `env` and `file`"
                )))
            }
        }
    }
    Ok(Value::from(values.join(",")))
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
    fn version_compares_as_loose_version() {
        for (t, want) in [
            ("{{ '1.18.0' is version('1.1.0', '>=') }}", "True"),
            ("{{ '1.18.0' is version_compare('1.5.9', '>=') }}", "True"),
            ("{{ '1.4.6' is version_compare('1.5.9', '>=') }}", "False"),
            ("{{ '1.10' is version('1.9', 'gt') }}", "True"),
            ("{{ '2.0' is version('2.0.0', '<') }}", "True"),
            ("{{ '1.2' is version('1.2') }}", "True"),
            ("{{ '1.2b1' is version('1.2b2', 'lt') }}", "True"),
            ("{{ '3.1' | version_compare('3.0', '!=') }}", "True"),
            // an empty version (a stand-in) is below any
            ("{{ '' is version('1.1.0', '>=') }}", "False"),
        ] {
            assert_eq!(ok(t), want, "{t}");
        }
        let e = render("{{ '1.2' is version('1.x', '>') }}", Value::from(())).expect_err("mixed");
        assert!(e.contains("a number against a text"), "{e}");
        let e = render("{{ '1.2' is version('1.3', '=>') }}", Value::from(())).expect_err("op");
        assert!(e.contains("unknown operator `=>`"), "{e}");
    }

    #[test]
    fn subelements_pairs_each_item_with_each_of_its_sublist() {
        let users = "{% set users = [{'name': 'a', 'k': {'ssh': ['k1', 'k2']}}, {'name': 'b'}] %}";
        assert_eq!(
            ok(&format!(
                "{users}{{% for u, k in users | subelements('k.ssh', skip_missing=true) %}}{{{{ u.name }}}}:{{{{ k }}}} {{% endfor %}}"
            )),
            "a:k1 a:k2 "
        );
        assert_eq!(
            ok(&format!(
                "{users}{{{{ users | subelements('k.ssh', true) | length }}}}"
            )),
            "2"
        );
        assert_eq!(
            ok("{{ {'x': {'l': [1]}, 'y': {'l': [2, 3]}} | subelements('l') | length }}"),
            "3"
        );
        let e = render(
            &format!("{users}{{{{ users | subelements('k.ssh') }}}}"),
            Value::from(()),
        )
        .expect_err("missing");
        assert!(e.contains("an item has no key `k`"), "{e}");
        let e = render("{{ [{'l': 'x'}] | subelements('l') }}", Value::from(()))
            .expect_err("not a list");
        assert!(e.contains("`l` should be a list"), "{e}");
    }

    #[test]
    fn regex_escape_is_pythons_re_escape() {
        assert_eq!(
            ok("{{ 'nginx-includes/a.b' | regex_escape }}"),
            "nginx\\-includes/a\\.b"
        );
        assert_eq!(
            ok("{{ '^(x)*$ y' | regex_escape }}"),
            "\\^\\(x\\)\\*\\$\\ y"
        );
        assert_eq!(
            ok("{{ 'a.b' | regex_escape | regex_replace('x', 'y') }}"),
            "a\\.b"
        );
        let e = render("{{ 'a' | regex_escape('posix_basic') }}", Value::from(()))
            .expect_err("re_type");
        assert!(e.contains("re_type `posix_basic`"), "{e}");
    }

    #[test]
    fn path_join_is_pythons_os_path_join() {
        let j = |p: &[&str]| path_join(p.iter().map(|s| s.to_string()).collect());
        assert_eq!(j(&["/srv/app", "current"]), "/srv/app/current");
        assert_eq!(j(&["/srv/app/", "releases"]), "/srv/app/releases");
        assert_eq!(j(&["/srv/app", "/var/www/active"]), "/var/www/active");
        assert_eq!(
            j(&["/srv/app", "releases", "20261202150420"]),
            "/srv/app/releases/20261202150420"
        );
        assert_eq!(j(&["", "x"]), "x");
        assert_eq!(j(&["a", ""]), "a/");
        assert_eq!(j(&[]), "");
    }

    #[test]
    fn normpath_folds_dot_and_dotdot_lexically() {
        for (path, want) in [
            (
                "/vagrant/mangaki/../requirements/dev.txt",
                "/vagrant/requirements/dev.txt",
            ),
            ("/a//b/./c/", "/a/b/c"),
            ("/..", "/"),
            ("/a/../../b", "/b"),
            ("a/../../b", "../b"),
            (
                "mangaki../requirements/dev.txt",
                "mangaki../requirements/dev.txt",
            ),
            ("./", "."),
        ] {
            assert_eq!(
                ok(&format!("{{{{ '{path}' | normpath }}}}")),
                want,
                "{path}"
            );
        }
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
            virtualization: "docker".into(),
            selinux: "permissive".into(),
            default_ipv4: [("address", "10.0.0.5"), ("interface", "ens3")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            default_ipv6: Default::default(),
            env: [("HOME", "/root"), ("SUDO_USER", "deploy")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            gathered: Default::default(),
        };
        let ctx = Value::from_iter(fact_aliases(&f));
        let env = render(
            "{{ ansible_env.HOME }} {{ ansible_facts.env.SUDO_USER }} \
             {{ ansible_env.PATH | default('none') }}",
            ctx.clone(),
        );
        assert_eq!(env.as_deref(), Ok("/root deploy none"));
        // no IPv6 default route: `{}`, so `ansible_default_ipv6.gateway is defined` is false
        let net = render(
            "{{ ansible_default_ipv4.address }} {{ ansible_facts.default_ipv4.interface }} \
             {{ ansible_default_ipv6.gateway is defined }}",
            ctx.clone(),
        );
        assert_eq!(net.as_deref(), Ok("10.0.0.5 ens3 False"));
        let out = render(
            "{{ ansible_processor_vcpus * 2 }} {{ ansible_distribution }} {{ ansible_os_family }} \
             {{ ansible_distribution_major_version }} {{ ansible_facts.memtotal_mb }} {{ ansible_hostname }} \
             {{ ansible_distribution_release }} {{ ansible_virtualization_type != 'docker' }} \
             {{ 'status' in ansible_selinux and ansible_selinux.status == 'enabled' }} {{ ansible_selinux.mode }}",
            ctx.clone(),
        );
        assert_eq!(
            out.as_deref(),
            Ok("8 Ubuntu Debian 24 2048 web1 noble False True permissive")
        );
        let off = Facts {
            selinux: "disabled".into(),
            ..f
        };
        let out = render(
            "{{ ansible_selinux.status }} {{ ansible_selinux.mode is defined }}",
            Value::from_iter(fact_aliases(&off)),
        );
        assert_eq!(out.as_deref(), Ok("disabled False"));
        let hint = undefined_hint("ansible_mounts").unwrap_or_default();
        assert!(
            hint.contains("facts.cpus")
                && hint.contains("ansible_processor_vcpus")
                && hint.contains("facts.env"),
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
    fn list_filters_dict_of_pairs_and_check_mode() {
        assert_eq!(
            ok("{{ [1, [2, [3, [4]]], none, 'None', 5] | flatten }}"),
            "[1, 2, 3, 4, 5]"
        );
        assert_eq!(ok("{{ [1, [2, [3]]] | flatten(1) }}"), "[1, 2, [3]]");
        assert_eq!(ok("{{ [1, [2, [3]]] | flatten(levels=1) }}"), "[1, 2, [3]]");
        assert_eq!(
            ok("{{ [1, none] | flatten(skip_nulls=false) }}"),
            "[1, None]"
        );
        assert_eq!(
            ok("{{ ['a', 'b'] | zip([1, 2, 3]) | list }}"),
            "[[\"a\", 1], [\"b\", 2]]"
        );
        assert_eq!(ok("{{ [1, 2, 2, 3] | difference([2]) }}"), "[1, 3]");
        assert_eq!(ok("{{ [1, 2] | union([2, 3]) }}"), "[1, 2, 3]");
        assert_eq!(ok("{{ [1, 2, 3] | intersect([3, 2, 9]) }}"), "[2, 3]");
        assert_eq!(
            ok("{{ dict(['a', 'b'] | zip([1, 2])) | to_json }}"),
            r#"{"a":1,"b":2}"#
        );
        assert_eq!(ok("{{ dict(a=1) | to_json }}"), r#"{"a":1}"#);
        assert_eq!(
            ok("{{ dict({'a': 1}, b=2) | to_json }}"),
            r#"{"a":1,"b":2}"#
        );
        assert_eq!(
            ok("{{ 'check' if ansible_check_mode else 'apply' }}"),
            "apply"
        );
        assert!(render("{{ 3 | flatten }}", Value::from(())).is_err());
    }

    #[test]
    fn python_methods_of_strings_lists_and_mappings() {
        assert_eq!(
            ok("{{ {'a': 1}.get('a') }} {{ {'a': 1}.get('b', 2) }}"),
            "1 2"
        );
        assert_eq!(ok("{{ ', '.join(['a', 'b']) }}"), "a, b");
        assert_eq!(ok("{{ 'a,b'.split(',') }}"), "[\"a\", \"b\"]");
        assert_eq!(
            ok("{{ '/srv'.startswith('/') }} {{ ' x '.strip() }}"),
            "True x"
        );
        assert!(render("{{ '{}'.format(1) }}", Value::from(())).is_err());
        let ctx = Value::from_iter([("vars", Value::from_iter([("k", 1)]))]);
        assert_eq!(render("{{ vars.get('k') }}", ctx).as_deref(), Ok("1"));
    }

    #[test]
    fn python_methods_that_amplify_are_charged_before_they_allocate() {
        let limits = crate::resolve::template::Limits::default();
        let mut env = crate::resolve::template::environment(Vec::new(), limits);
        register(&mut env, Path::new("."));
        for source in [
            "{{ ('x' * 100000).replace('x', 'y' * 100000) }}",
            "{{ ('y' * 10000000).join(['a'] * 100000) }}",
        ] {
            let _budget = minijinja::budget::enter(limits.max_output);
            let err = env.render_str(source, ()).expect_err(source);
            assert!(minijinja::budget::exceeded(), "{source}: {err}");
        }
        let _budget = minijinja::budget::enter(limits.max_output);
        assert_eq!(
            env.render_str("{{ '-'.join(['a', 'b']) }}", ())
                .as_deref()
                .ok(),
            Some("a-b")
        );
    }

    #[test]
    fn file_lookup_with_errors_ignore_home_and_several_terms() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.pub"), "A\n").expect("write");
        std::fs::write(dir.path().join("b.pub"), "B\n").expect("write");
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        register(&mut env, dir.path());
        let r = |t: &str| env.render_str(t, ()).map_err(|e| e.to_string());
        assert_eq!(
            r("{{ lookup('file', 'a.pub', 'b.pub') }}").as_deref(),
            Ok("A,B")
        );
        assert_eq!(
            r("[{{ lookup('file', 'missing.pub', errors='ignore') }}]").as_deref(),
            Ok("[]")
        );
        let err = r("{{ lookup('file', 'missing.pub') }}").unwrap_err();
        assert!(err.contains("lookup('file', 'missing.pub')"), "{err}");
        let err = r("{{ lookup('file', 'a.pub', errors='loud') }}").unwrap_err();
        assert!(err.contains("'strict', 'warn' or 'ignore'"), "{err}");
        let home = std::env::var("HOME").unwrap_or_default();
        if std::path::Path::new(&home).join(".bashrc").is_file() {
            assert!(r("{{ lookup('file', '~/.bashrc') | length > 0 }}").is_ok());
        }
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
        // what to do instead (RocketChat's `lookup('pipe', 'command -v vagrant')`)
        assert!(
            err.contains("lookup('pipe', 'date') runs a command on the controller")
                && err.contains("`-e NAME=\"$(date)\"`"),
            "{err}"
        );
        let err = render("{{ lookup('password', 'creds/db') }}", Value::from(())).unwrap_err();
        assert!(err.contains("a vault file"), "{err}");
        let err = render("{{ lookup('dig', 'example.org') }}", Value::from(())).unwrap_err();
        assert!(err.contains("lookup('dig', …): play knows"), "{err}");
        let err = render("{{ lookup('file', 'no/such/file') }}", Value::from(())).unwrap_err();
        assert!(err.contains("lookup('file', 'no/such/file')"), "{err}");
    }
}
