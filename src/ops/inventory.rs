//! `play inventory`: the inventory as a tree, a list or one host's vars.

use std::fmt::Write;

use serde_json::json;

use crate::inventory::{Inventory, InventoryError};

/// What to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Show {
    Graph,
    List,
    Host(String),
}

/// Renders the inventory as text or JSON.
pub fn show(
    inv: &Inventory,
    what: &Show,
    limit: Option<&str>,
    json_out: bool,
) -> Result<String, InventoryError> {
    let hosts = inv.select(limit.unwrap_or("all"))?;
    let mut out = String::new();
    match what {
        Show::Graph => {
            if json_out {
                let groups: serde_json::Map<String, serde_json::Value> = inv
                    .groups
                    .values()
                    .map(|g| {
                        (
                            g.name.clone(),
                            json!({
                                "hosts": g.hosts.iter().filter(|h| hosts.iter().any(|x| &x.name == *h)).collect::<Vec<_>>(),
                                "children": g.children,
                            }),
                        )
                    })
                    .collect();
                out = pretty(&json!({ "groups": groups }));
            } else {
                graph(
                    inv,
                    "all",
                    0,
                    &hosts.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(),
                    &mut out,
                );
            }
        }
        Show::List => {
            if json_out {
                let list: Vec<serde_json::Value> = hosts
                    .iter()
                    .map(|h| json!({"name": h.name, "groups": h.groups, "vars": to_json(&h.vars)}))
                    .collect();
                out = pretty(&json!({ "hosts": list }));
            } else {
                for h in &hosts {
                    let _ = writeln!(out, "{}\t{}", h.name, h.groups.join(","));
                }
            }
        }
        Show::Host(name) => {
            let h = inv.host(name).ok_or_else(|| InventoryError::Pattern {
                pattern: name.clone(),
                message: "no such host in the inventory".into(),
            })?;
            if json_out {
                out = pretty(&to_json(&h.vars));
            } else {
                out = crate::yaml::to_string(&h.vars);
            }
        }
    }
    Ok(out)
}

fn pretty(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

fn to_json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

fn graph(inv: &Inventory, group: &str, level: usize, shown: &[&str], out: &mut String) {
    let indent = "  |".repeat(level);
    let prefix = if level == 0 {
        String::new()
    } else {
        format!("{indent}--")
    };
    let _ = writeln!(out, "{prefix}@{group}:");
    let Some(g) = inv.groups.get(group) else {
        return;
    };
    for c in &g.children {
        let empty = inv
            .group_hosts(c)
            .iter()
            .all(|h| !shown.contains(&h.name.as_str()));
        if c == "ungrouped" && empty {
            continue;
        }
        graph(inv, c, level + 1, shown, out);
    }
    let child_indent = "  |".repeat(level + 1);
    for h in g.hosts.iter().filter(|h| shown.contains(&h.as_str())) {
        if group == "all" && inv.groups["ungrouped"].hosts.contains(h) {
            continue;
        }
        let _ = writeln!(out, "{child_indent}--{h}");
    }
}
