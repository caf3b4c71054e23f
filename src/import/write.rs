//! YAML text of the output, written by hand so that every resource carries its comments and
//! its line is known (IMPORT.md points at it).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::convert::{Conversion, Item};
use super::template::Notes;
use super::{copy_tree, dedupe_vars, flow_list, io, ImportError, PlaybookOut};
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
    if !item.tags.is_empty() {
        let tags = item.tags.iter().cloned().map(Value::String).collect();
        field(&mut fields, &inner, "tags", &Value::Sequence(tags));
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

/// Writes every role (`state.yml`, `defaults.yml`, templates and files) and every playbook
/// under `out`, noting each resource's line; returns the playbooks written.
pub(crate) fn project(
    conv: &mut Conversion,
    playbooks: &[PlaybookOut],
    out: &Path,
    notes: &mut Vec<String>,
    asset_notes: &mut Vec<String>,
) -> Result<Vec<PathBuf>, ImportError> {
    let mut written = Vec::new();
    for c in 0..conv.containers.len() {
        let file = conv.containers[c].file.clone();
        let base = out.join(file.parent().unwrap_or(Path::new("")));
        std::fs::create_dir_all(&base).map_err(io(&base))?;
        let assets = conv.containers[c].assets.clone();
        let mut tn = Notes::default();
        for (dir, prefix) in assets {
            for (sub, rewrite) in [("templates", true), ("files", false)] {
                let s = dir.join(sub);
                if s.is_dir() {
                    let mut d = base.join(sub);
                    if let Some(p) = &prefix {
                        d = d.join(p);
                    }
                    copy_tree(&s, &d, rewrite, &mut tn, asset_notes)?;
                }
            }
        }
        conv.containers[c].template_notes.extend(tn);
        copy_sources_of_templates(conv, c, &base, asset_notes)?;
        if conv.containers[c].is_role {
            let mut lines = vec![format!(
                "# imported by `play import ansible` (see IMPORT.md)"
            )];
            let live: Vec<usize> = (0..conv.containers[c].items.len())
                .filter(|&i| !conv.containers[c].items[i].removed)
                .collect();
            let role_dir = file.parent().unwrap_or(Path::new("")).to_path_buf();
            let mut inc = Included {
                out,
                dir: &role_dir,
                prefix: String::new(),
                used: BTreeSet::new(),
            };
            state_lines(conv, c, &live, 0, &mut lines, &mut inc)?;
            if conv.containers[c].items.iter().all(|i| i.removed) {
                lines.push("[]".into());
            }
            let path = out.join(&file);
            std::fs::write(&path, lines.join("\n") + "\n").map_err(io(&path))?;
            let vars = dedupe_vars(&conv.containers[c].vars);
            if !vars.is_empty() {
                let d = base.join("defaults.yml");
                let mut text = String::from("# role defaults and vars, imported (see IMPORT.md)\n");
                text.push_str(&vars_block(&vars, 0).join("\n"));
                text.push('\n');
                std::fs::write(&d, text).map_err(io(&d))?;
            }
            let gathers = &conv.containers[c].gathers;
            if !gathers.is_empty() {
                let g = base.join("gather.yml");
                let mut text = String::from(
                    "# gathered values: registered read-only commands, run in the probe (see IMPORT.md)\n",
                );
                text.push_str(&vars_block(gathers, 0).join("\n"));
                text.push('\n');
                std::fs::write(&g, text).map_err(io(&g))?;
            }
        }
    }
    for pb in playbooks {
        let pb_dir = pb.file.parent().unwrap_or(Path::new("")).to_path_buf();
        let stem = pb
            .file
            .file_stem()
            .map(|f| f.to_string_lossy().into_owned());
        let mut inc = Included {
            out,
            dir: &pb_dir,
            prefix: format!("{}-", stem.unwrap_or_default()),
            used: BTreeSet::new(),
        };
        let mut lines = vec![format!(
            "# imported from {} by `play import ansible` (see IMPORT.md)",
            pb.source.display()
        )];
        let mut written_plays = 0;
        for p in &pb.plays {
            let c = p.container;
            // A play of which nothing is carried (only checks, `fail`s, `debug`s) would be
            // checked as a play with no resources, on hosts (Ansible's implicit `localhost`)
            // the inventory may not have: not written, said in IMPORT.md's notes.
            if p.roles.is_empty() && conv.containers[c].items.iter().all(|i| i.removed) {
                notes.push(format!(
                    "play `{}` of `{}`: none of its tasks is carried (each is listed above): not written",
                    p.name.as_deref().unwrap_or(&p.hosts),
                    pb.source.display()
                ));
                continue;
            }
            written_plays += 1;
            let first = match &p.name {
                Some(n) => format!("- name: {}", scalar(n)),
                None => format!("- hosts: {}", scalar(&p.hosts)),
            };
            lines.push(first);
            if p.name.is_some() {
                lines.push(format!("  hosts: {}", scalar(&p.hosts)));
            }
            if let Some(s) = &p.serial {
                lines.push(format!("  serial: {}", inline(s)));
            }
            if let Some(m) = &p.max_fail {
                lines.push(format!("  max_fail_percentage: {}", inline(m)));
            }
            let vars = dedupe_vars(&conv.containers[c].vars);
            if !vars.is_empty() {
                lines.push("  vars:".into());
                lines.extend(vars_block(&vars, 4));
            }
            if !p.vars_files.is_empty() {
                lines.push(format!("  vars_files: {}", flow_list(&p.vars_files)));
            }
            if !conv.containers[c].gathers.is_empty() {
                lines.push("  gather:".into());
                lines.extend(vars_block(&conv.containers[c].gathers, 4));
            }
            if !p.tags.is_empty() {
                lines.push(format!("  tags: {}", flow_list(&p.tags)));
            }
            let plain = |i: usize| {
                p.role_tags[i].is_empty() && p.role_when[i].is_empty() && p.role_vars[i].is_empty()
            };
            if (0..p.roles.len()).all(plain) {
                if !p.roles.is_empty() {
                    lines.push(format!("  roles: {}", flow_list(&p.roles)));
                }
            } else {
                lines.push("  roles:".into());
                for (i, r) in p.roles.iter().enumerate() {
                    if plain(i) {
                        lines.push(format!("    - {}", scalar(r)));
                        continue;
                    }
                    let mut keys = vec![format!("role: {}", scalar(r))];
                    match p.role_when[i].as_slice() {
                        [] => {}
                        [one] => keys.push(format!("when: {}", scalar(one))),
                        all => keys.push(format!("when: {}", flow_list(all))),
                    }
                    if !p.role_vars[i].is_empty() {
                        let mut m = crate::yaml::Mapping::new();
                        for (k, v) in dedupe_vars(&p.role_vars[i]) {
                            m.insert(Value::String(k), v);
                        }
                        keys.push(format!("vars: {}", inline(&Value::Mapping(m))));
                    }
                    if !p.role_tags[i].is_empty() {
                        keys.push(format!("tags: {}", flow_list(&p.role_tags[i])));
                    }
                    lines.push(format!("    - {{{}}}", keys.join(", ")));
                }
            }
            let live: Vec<usize> = (0..conv.containers[c].items.len())
                .filter(|&i| !conv.containers[c].items[i].removed)
                .collect();
            if live.is_empty() {
                lines.push("  state: []".into());
            } else {
                lines.push("  state:".into());
                state_lines(conv, c, &live, 4, &mut lines, &mut inc)?;
            }
        }
        if pb.plays.is_empty() {
            notes.push(format!(
                "`{}` has no play of its own (only imports): not written; apply the playbooks it imports in their order",
                pb.source.display()
            ));
            continue;
        }
        if written_plays == 0 {
            continue;
        }
        let path = out.join(&pb.file);
        std::fs::write(&path, lines.join("\n") + "\n").map_err(io(&path))?;
        written.push(pb.file.clone());
    }

    Ok(written)
}

/// `copy: src=templates/NAME` (Ansible finds a copy's src in the role's folder too, not only
/// in `files/`): the file or folder, as it is (a copy is not templated), goes to the output's
/// `files/templates/NAME`, where the `file:`/`sync:`'s `src` is looked up.
fn copy_sources_of_templates(
    conv: &Conversion,
    c: usize,
    base: &Path,
    skipped: &mut Vec<String>,
) -> Result<(), ImportError> {
    let cont = &conv.containers[c];
    for it in cont.items.iter().filter(|i| !i.removed) {
        if !matches!(it.res.kind(), "file" | "sync") {
            continue;
        }
        let Some(src) = it.res.get("src").and_then(|v| v.as_str()) else {
            continue;
        };
        for (dir, prefix) in &cont.assets {
            let rel = match prefix {
                Some(p) => src.strip_prefix(&format!("{p}/")),
                None => Some(src),
            };
            let Some(rel) = rel.filter(|r| r.starts_with("templates/") && !r.contains("..")) else {
                continue;
            };
            let from = dir.join(rel);
            let mut to = base.join("files");
            if let Some(p) = prefix {
                to = to.join(p);
            }
            let to = to.join(rel);
            if from.is_dir() {
                copy_tree(&from, &to, false, &mut Notes::default(), skipped)?;
            } else if from.is_file() {
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent).map_err(io(parent))?;
                }
                std::fs::copy(&from, &to).map_err(io(&from))?;
            }
        }
    }
    Ok(())
}

/// Where the files of included scopes go: `included/` of `dir` (the role's folder, or the
/// playbook's), named `PREFIX LABEL.yml`, each name once.
struct Included<'a> {
    out: &'a Path,
    dir: &'a Path,
    prefix: String,
    used: BTreeSet<String>,
}

/// The lines of the live items of container `c` at `indent`, noting each one's line. A run of
/// items of one scope (vars of an `include_role`/`include_tasks` or of a task) is written to a
/// file of its own under `included/`, and here an `include:` of it with those `vars`.
fn state_lines(
    conv: &mut Conversion,
    c: usize,
    live: &[usize],
    indent: usize,
    lines: &mut Vec<String>,
    inc: &mut Included,
) -> Result<(), ImportError> {
    let pad = " ".repeat(indent);
    let mut k = 0;
    while k < live.len() {
        let i = live[k];
        let Some(scope) = conv.containers[c].items[i].scope.clone() else {
            let (ls, dash) = item_lines(&conv.containers[c].items[i], indent);
            conv.containers[c].items[i].line = lines.len() + dash + 1;
            lines.extend(ls);
            k += 1;
            continue;
        };
        let run: Vec<usize> = live[k..]
            .iter()
            .copied()
            .take_while(|&j| {
                conv.containers[c].items[j].scope.as_ref().map(|s| s.id) == Some(scope.id)
            })
            .collect();
        k += run.len();
        let label: String = (scope.label.chars())
            .map(
                |ch| match ch.is_ascii_alphanumeric() || ch == '-' || ch == '_' {
                    true => ch,
                    false => '_',
                },
            )
            .collect();
        let mut name = format!("{}{label}.yml", inc.prefix);
        let mut n = 2;
        while !inc.used.insert(name.clone()) {
            name = format!("{}{label}-{n}.yml", inc.prefix);
            n += 1;
        }
        let rel = Path::new("included").join(&name);
        let written = inc.dir.join(&rel);
        let mut body = vec![format!(
            "# imported by `play import ansible` (see IMPORT.md): tasks Ansible ran with the vars of the include of this file"
        )];
        for &j in &run {
            let (ls, dash) = item_lines(&conv.containers[c].items[j], 0);
            conv.containers[c].items[j].line = body.len() + dash + 1;
            conv.containers[c].items[j].out_file = Some(written.clone());
            body.extend(ls);
        }
        let path = inc.out.join(&written);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, body.join("\n") + "\n").map_err(io(&path))?;
        lines.push(format!(
            "{pad}# the vars Ansible gave these tasks (`vars:` of their include or task)"
        ));
        lines.push(format!(
            "{pad}- include: {}",
            scalar(&rel.to_string_lossy())
        ));
        lines.push(format!("{pad}  vars:"));
        lines.extend(vars_block(&dedupe_vars(&scope.vars), indent + 4));
    }
    Ok(())
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
