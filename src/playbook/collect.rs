//! Loading that reports every problem instead of the first (`play check`).
//!
//! A YAML syntax error stops only its own file; an unknown key or a bad value stops only its
//! own resource (each resource is read on its own); a missing role or vars file stops only that
//! role or file. What loaded is returned with the problems, so that resolving can go on with it.

use std::collections::HashMap;
use std::path::Path;

use super::{
    display, entry, key_position, load_role, play_wait_for, read, read_vars_file, role_search_path,
    Entry, Play, Playbook, PlaybookError, RawPlay, RawResource, Role,
};
use crate::resources::Origin;
use crate::yaml::{self, Value, YamlError};

type Positions = HashMap<String, (usize, usize)>;

fn join(prefix: &str, key: &str) -> String {
    match (prefix.is_empty(), key.is_empty()) {
        (true, _) => key.to_string(),
        (_, true) => prefix.to_string(),
        _ => format!("{prefix}.{key}"),
    }
}

fn origin_at(file: &Path, positions: &Positions, path: &str) -> Origin {
    let (line, column) = positions.get(path).copied().unwrap_or((0, 0));
    Origin {
        file: display(file),
        line,
        column,
    }
}

/// A deserialization error of the node at `path` (no position from serde): placed at the
/// unknown key it names, else at the node.
fn located(
    file: &Path,
    text: &str,
    positions: &Positions,
    path: &str,
    e: YamlError,
) -> PlaybookError {
    let key = e
        .message
        .split("unknown key `")
        .nth(1)
        .and_then(|rest| rest.split('`').next());
    let at = match key.and_then(|k| positions.get(&join(path, k)).map(|p| (k, *p))) {
        Some((k, value_pos)) => Some(key_position(text, k, value_pos)),
        None => positions.get(path).copied(),
    };
    YamlError::new(file, at, e.message).into()
}

fn invalid(origin: Origin, message: impl Into<String>) -> PlaybookError {
    PlaybookError::Invalid {
        origin,
        message: message.into(),
    }
}

/// Entries of a list of resources read one by one; problems collected.
fn entries_all(
    file: &Path,
    text: &str,
    positions: &Positions,
    items: Vec<Value>,
    prefix: &str,
    role: Option<&str>,
    problems: &mut Vec<PlaybookError>,
) -> Vec<Entry> {
    let mut out = Vec::new();
    for (i, mut item) in items.into_iter().enumerate() {
        let path = join(prefix, &i.to_string());
        // Every unknown key is a problem of its own; the rest of the entry is still checked.
        let unknown = match &mut item {
            Value::Mapping(m) => super::habits::take_unknown_resource_keys(m),
            _ => Vec::new(),
        };
        for (key, message) in &unknown {
            problems.push(at_key(file, text, positions, &path, key, message));
        }
        match yaml::from_value::<RawResource>(file, item) {
            Err(e) => problems.push(located(file, text, positions, &path, e)),
            Ok(raw) => match entry(file, positions, raw, &path, role) {
                Ok(e) if unknown.is_empty() => out.push(e),
                Ok(_) => {}
                Err(e) => problems.push(e),
            },
        }
    }
    out
}

/// A problem of `key` of the node at `path`, placed at the key itself.
fn at_key(
    file: &Path,
    text: &str,
    positions: &Positions,
    path: &str,
    key: &str,
    message: &str,
) -> PlaybookError {
    let at = match positions.get(&join(path, key)) {
        Some(value_pos) => Some(key_position(text, key, *value_pos)),
        None => positions.get(path).copied(),
    };
    YamlError::new(file, at, message).into()
}

/// The items of a resource list value (`null` is empty).
fn list_items(
    file: &Path,
    positions: &Positions,
    path: &str,
    v: Value,
    problems: &mut Vec<PlaybookError>,
) -> Vec<Value> {
    match v {
        Value::Sequence(items) => items,
        Value::Null => Vec::new(),
        _ => {
            problems.push(invalid(
                origin_at(file, positions, path),
                "expected a list of resources",
            ));
            Vec::new()
        }
    }
}

/// A role with every problem of its files.
fn role_all(
    name: &str,
    playbook_dir: &Path,
    origin: &Origin,
    problems: &mut Vec<PlaybookError>,
) -> Option<Role> {
    // Fast path: a role without problems loads as usual.
    let first = match load_role(name, playbook_dir, origin) {
        Ok(r) => return Some(r),
        Err(e) => e,
    };
    let Some(dir) = role_search_path(playbook_dir)
        .iter()
        .map(|d| d.join(name))
        .find(|d| d.is_dir())
    else {
        problems.push(first);
        return None;
    };
    let mut defaults = Vec::new();
    if let Some(f) = ["defaults.yml", "defaults.yaml"]
        .iter()
        .map(|f| dir.join(f))
        .find(|f| f.is_file())
    {
        match read(&f).and_then(|t| {
            yaml::from_str::<crate::inventory::OrderedVars>(&f, &t).map_err(PlaybookError::from)
        }) {
            Ok(v) => defaults = v.0,
            Err(e) => problems.push(e),
        }
    }
    let mut state = Vec::new();
    if let Some(f) = ["state.yml", "state.yaml"]
        .iter()
        .map(|f| dir.join(f))
        .find(|f| f.is_file())
    {
        let parsed = read(&f).and_then(|t| {
            yaml::from_str::<Value>(&f, &t)
                .map(|v| (t, v))
                .map_err(PlaybookError::from)
        });
        match parsed {
            Err(e) => problems.push(e),
            Ok((text, v)) => {
                let positions = yaml::node_positions(&text);
                let items = list_items(&f, &positions, "", v, problems);
                state = entries_all(&f, &text, &positions, items, "", Some(name), problems);
            }
        }
    } else if let Some(e) = super::ansible_layout(name, &dir, origin) {
        problems.push(e);
    }
    Some(Role {
        name: name.to_string(),
        dir,
        defaults,
        state,
    })
}

/// Loads a playbook with its roles and vars files, collecting every problem. The playbook is
/// `None` only when its own file cannot be read or parsed; otherwise it holds what loaded
/// (plays with a bad header are left out, resources with problems too).
pub fn load_all(path: &Path) -> (Option<Playbook>, Vec<PlaybookError>) {
    let mut problems = Vec::new();
    let text = match read(path) {
        Ok(t) => t,
        Err(e) => return (None, vec![e]),
    };
    let value: Value = match yaml::from_str(path, &text) {
        Ok(v) => v,
        Err(e) => return (None, vec![e.into()]),
    };
    let positions = yaml::node_positions(&text);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => Path::new(".").to_path_buf(),
    };
    let items = match value {
        Value::Sequence(items) => items,
        Value::Null => Vec::new(),
        _ => {
            problems.push(invalid(
                origin_at(path, &positions, ""),
                "a playbook is a list of plays",
            ));
            return (None, problems);
        }
    };
    let mut plays = Vec::new();
    for (i, mut item) in items.into_iter().enumerate() {
        let prefix = i.to_string();
        let pos = |k: &str| origin_at(path, &positions, &join(&prefix, k));
        // The state is read resource by resource, apart from the play's other keys.
        let state_value = match &mut item {
            Value::Mapping(m) => m.remove("state"),
            _ => None,
        };
        // Every unknown key of the play is a problem of its own.
        let mut unknown = false;
        if let Value::Mapping(m) = &mut item {
            for (key, message) in super::habits::take_unknown_play_keys(m) {
                problems.push(at_key(path, &text, &positions, &prefix, &key, &message));
                unknown = true;
            }
        }
        let state_items = state_value
            .map(|v| list_items(path, &positions, &join(&prefix, "state"), v, &mut problems))
            .unwrap_or_default();
        let state = entries_all(
            path,
            &text,
            &positions,
            state_items,
            &join(&prefix, "state"),
            None,
            &mut problems,
        );
        let rp: RawPlay = match yaml::from_value(path, item) {
            Ok(rp) => rp,
            // `hsts:` already said, `hosts` is missing.
            Err(e) if unknown && e.message.starts_with("missing field") => continue,
            Err(e) => {
                problems.push(located(path, &text, &positions, &prefix, e));
                continue;
            }
        };
        let mut vars_files = Vec::new();
        for (j, f) in rp.vars_files.iter().enumerate() {
            let fp = dir.join(f);
            if !fp.is_file() {
                problems.push(invalid(
                    pos(&format!("vars_files.{j}")),
                    format!("vars file `{f}` not found (looked for {})", display(&fp)),
                ));
                continue;
            }
            match read_vars_file(&fp) {
                Ok(v) => vars_files.push((fp, v)),
                Err(e) => problems.push(e),
            }
        }
        let mut roles = Vec::new();
        for (j, r) in rp.roles.iter().enumerate() {
            if let Some(role) = role_all(r, &dir, &pos(&format!("roles.{j}")), &mut problems) {
                roles.push(role);
            }
        }
        let (serial, max_fail_percentage) = match rp.batching() {
            Ok(b) => b,
            Err(message) => {
                problems.push(invalid(pos("serial"), message));
                (Vec::new(), None)
            }
        };
        let wait_for = play_wait_for(path, &text, &positions, &prefix, rp.wait_for.as_ref())
            .unwrap_or_else(|e| {
                problems.push(e);
                None
            });
        plays.push(Play {
            name: rp.name.unwrap_or_else(|| rp.hosts.clone()),
            hosts: rp.hosts,
            serial,
            max_fail_percentage,
            wait_for,
            vars: rp.vars.map(|v| v.0).unwrap_or_default(),
            vars_files,
            roles,
            state,
            origin: pos(""),
        });
    }
    (
        Some(Playbook {
            path: path.to_path_buf(),
            dir,
            plays,
        }),
        problems,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_of_a_playbook_and_its_roles() {
        let dir = tempfile::tempdir().expect("tempdir");
        let w = |rel: &str, text: &str| {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        };
        w(
            "site.yml",
            "- hosts: all\n  roles: [good, broken, missing]\n  vars_files: [nope.yml]\n  state:\n    - file: /a\n      ownr: root\n    - file: /b\n      content: x\n    - directory: /c\n      target: /d\n- hsts: x\n",
        );
        w("roles/good/state.yml", "- file: /g\n  content: ok\n");
        w("roles/broken/state.yml", "- file: /x\n  mode: [\n");
        let (pb, problems) = load_all(&dir.path().join("site.yml"));
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        let all = text.join("\n");
        assert_eq!(problems.len(), 6, "{all}");
        assert!(
            all.contains("site.yml:6:7: unknown key `ownr`, did you mean `owner`?"),
            "{all}"
        );
        assert!(all.contains("broken/state.yml:"), "{all}");
        assert!(all.contains("role `missing` not found"), "{all}");
        assert!(all.contains("vars file `nope.yml` not found"), "{all}");
        assert!(
            all.contains("site.yml:9:7: key `target` does not apply to a directory"),
            "{all}"
        );
        assert!(
            all.contains("site.yml:11:3: unknown key `hsts`, did you mean `hosts`?"),
            "{all}"
        );
        let pb = pb.expect("the playbook loaded");
        assert_eq!(pb.plays.len(), 1);
        assert_eq!(pb.plays[0].state.len(), 1, "only /b is good");
        let roles: Vec<&str> = pb.plays[0].roles.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(roles, ["good", "broken"]);
        assert_eq!(pb.plays[0].roles[0].state.len(), 1);
    }

    #[test]
    fn a_clean_playbook_loads_as_with_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("site.yml");
        std::fs::write(
            &p,
            "- hosts: web\n  vars: {a: 1}\n  state:\n    - file: /etc/motd\n      content: hi\n",
        )
        .expect("write");
        let (pb, problems) = load_all(&p);
        assert!(problems.is_empty(), "{problems:?}");
        let pb = pb.expect("loaded");
        let plain = super::super::load(&p).expect("load");
        assert_eq!(pb.plays.len(), plain.plays.len());
        assert_eq!(pb.plays[0].state[0].origin, plain.plays[0].state[0].origin);
        assert_eq!(
            pb.plays[0].state[0].key_positions,
            plain.plays[0].state[0].key_positions
        );
    }
}
