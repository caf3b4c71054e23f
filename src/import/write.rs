//! YAML text of the output, written by hand so that every resource carries its comments and
//! its line is known (IMPORT.md points at it).

use super::convert::Item;
use crate::yaml::Value;

/// A string as a YAML scalar: plain when unambiguous, else double-quoted (JSON escapes).
pub fn scalar(s: &str) -> String {
    let safe_chars = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_./=+~@:-$() ,".contains(c));
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '.');
    let reread: Option<Value> = crate::yaml::from_str(std::path::Path::new("-"), s).ok();
    let ambiguous = !matches!(super::node::plain_scalar(s), Value::String(_))
        || reread.as_ref().and_then(|v| v.as_str()) != Some(s)
        || s.contains(": ")
        || s.ends_with(':')
        || s.ends_with(' ')
        || s.contains(" #")
        || s.contains(", ")
        || s.contains(',');
    if !s.is_empty() && safe_chars && first_ok && !ambiguous {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("\"{}\"", s.escape_default()))
    }
}

/// A value on one line (flow style).
pub fn inline(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar(s),
        Value::Sequence(items) => format!(
            "[{}]",
            items.iter().map(inline).collect::<Vec<_>>().join(", ")
        ),
        Value::Mapping(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", inline(k), inline(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Tagged(t) => inline(&t.value),
    }
}

/// `key: value` lines at `indent` (a multi-line string as a literal block).
fn field(out: &mut Vec<String>, indent: &str, key: &str, v: &Value) {
    if let Value::String(s) = v {
        if s.contains('\n')
            && !s.starts_with(' ')
            && !s.starts_with('\n')
            && !s.contains('\r')
            && !s.contains('\t')
        {
            let trailing = s.len() - s.trim_end_matches('\n').len();
            let chomp = match trailing {
                0 => "-",
                1 => "",
                _ => "+",
            };
            out.push(format!("{indent}{key}: |{chomp}"));
            let body = s.trim_end_matches('\n');
            for l in body.split('\n') {
                if l.is_empty() {
                    out.push(String::new());
                } else {
                    out.push(format!("{indent}  {l}"));
                }
            }
            for _ in 1..trailing {
                out.push(String::new());
            }
            return;
        }
    }
    out.push(format!("{indent}{key}: {}", inline(v)));
}

/// The lines of one resource, the first being its `- kind: key` line after its comments.
/// Returns (lines, index of the `-` line).
pub fn item_lines(item: &Item, indent: usize) -> (Vec<String>, usize) {
    let pad = " ".repeat(indent);
    let mut out = Vec::new();
    out.push(format!("{pad}# {}", item.title.replace('\n', " ")));
    for c in &item.res.comments {
        out.push(format!("{pad}# {c}"));
    }
    let dash = out.len();
    let mut fields = Vec::new();
    let inner = format!("{pad}  ");
    for (k, v) in &item.res.fields {
        field(&mut fields, &inner, k, v);
    }
    if let Some(l) = &item.loop_ {
        field(&mut fields, &inner, "loop", l);
    }
    if let Some(lv) = &item.loop_var {
        if item.loop_.is_some() {
            field(&mut fields, &inner, "loop_var", &Value::String(lv.clone()));
        }
    }
    match item.when.len() {
        0 => {}
        1 => field(
            &mut fields,
            &inner,
            "when",
            &Value::String(item.when[0].clone()),
        ),
        _ => field(
            &mut fields,
            &inner,
            "when",
            &Value::Sequence(item.when.iter().cloned().map(Value::String).collect()),
        ),
    }
    if let Some(first) = fields.first_mut() {
        *first = format!("{pad}- {}", first.trim_start());
    }
    out.extend(fields);
    (out, dash)
}

/// A mapping of vars as block YAML, indented.
pub fn vars_block(vars: &[(String, Value)], indent: usize) -> Vec<String> {
    let mut m = crate::yaml::Mapping::new();
    for (k, v) in vars {
        m.insert(Value::String(k.clone()), v.clone());
    }
    let text = crate::yaml::to_string(&Value::Mapping(m));
    let pad = " ".repeat(indent);
    text.lines()
        .filter(|l| *l != "---")
        .map(|l| format!("{pad}{l}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_quote_what_yaml_would_misread() {
        assert_eq!(scalar("/etc/app.ini"), "/etc/app.ini");
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("123"), "\"123\"");
        assert_eq!(scalar("1.10"), "\"1.10\"");
        assert_eq!(scalar("{{ x }}"), "\"{{ x }}\"");
        assert_eq!(scalar("a: b"), "\"a: b\"");
        assert_eq!(scalar(""), "\"\"");
        assert_eq!(scalar("- x"), "\"- x\"");
        let v: Value = crate::yaml::from_str(
            std::path::Path::new("t"),
            &format!("k: {}", scalar("say \"hi\" # now")),
        )
        .unwrap();
        assert_eq!(
            v.get("k").and_then(|v| v.as_str()),
            Some("say \"hi\" # now")
        );
    }
}
