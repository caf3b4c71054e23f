//! Resources from playbook entries written as YAML text, rendered through the real load and
//! resolve path (`playbook::load`, the registry's lookup of an entry's kind, the kind's
//! `render`, `resolve::Resolver`) for one host with the placeholder facts
//! (`resolve::stub_facts`). Tests of the engine, probe, report, history, plan files and apply
//! build their resources with it, so that they name no kind's Rust types: a kind is named as a
//! playbook names it (`tests/kinds.rs` counts the source files naming each kind).
//!
//! ```
//! let r = play::resources::example::example("file: /etc/x\ncontent: hi\nmode: '0640'").unwrap();
//! assert_eq!(r.desired.kind().as_str(), "file");
//! assert_eq!(r.desired.key(), "/etc/x");
//! ```

use super::{Kind, Resource};

/// Why entries could not be made into resources (the text, the playbook or its rendering).
#[derive(Debug, thiserror::Error)]
pub enum ExampleError {
    #[error("a temp folder for the example: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Inventory(#[from] crate::inventory::InventoryError),
    #[error(transparent)]
    Playbook(#[from] crate::playbook::PlaybookError),
    #[error(transparent)]
    Resolve(#[from] crate::resolve::ResolveError),
    #[error("the entry rendered {0} resources, not one")]
    NotOne(usize),
    #[error("no kind is named `{0}`")]
    NoKind(String),
}

/// The resources of host `h1` for `entries`: a YAML list of playbook entries (a play's
/// `state:`), or one entry, in declared order (no parent folders added). The playbook is
/// written to a temp folder removed on return: their origins name a file that is gone.
pub fn resources(entries: &str) -> Result<Vec<Resource>, ExampleError> {
    resources_with(entries, &[])
}

/// [`resources`] of a project holding `files` (path under the playbook's folder, text), as
/// `templates/unit.j2` for a `template:` or a service's `unit:`.
pub fn resources_with(
    entries: &str,
    files: &[(&str, &str)],
) -> Result<Vec<Resource>, ExampleError> {
    // The text as written (not re-serialized: `off` stays what the playbook loader makes
    // of it), one entry made a list of one.
    let list = if entries.trim_start().starts_with('-') {
        entries.to_string()
    } else {
        let mut lines = entries.lines();
        let first = lines.next().unwrap_or_default();
        let rest: String = lines.map(|l| format!("\n  {l}")).collect();
        format!("- {first}{rest}")
    };
    let state: String = list.lines().map(|l| format!("    {l}\n")).collect();
    let playbook = format!("- hosts: all\n  state:\n{state}");
    let dir = tempfile::tempdir()?;
    let (site, hosts) = (dir.path().join("site.yml"), dir.path().join("hosts.yml"));
    std::fs::write(&site, playbook)?;
    std::fs::write(&hosts, "all:\n  hosts:\n    h1: {ssh_host: 127.0.0.1}\n")?;
    for (rel, text) in files {
        let path = dir.path().join(rel);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)?;
        }
        std::fs::write(path, text)?;
    }
    let vars = crate::inventory::Vars::new();
    let inventory = crate::inventory::load(&hosts, &vars)?;
    let playbook = crate::playbook::load(&site)?;
    let resolver = crate::resolve::Resolver::new(&playbook, &inventory, &vars);
    let mut out = Vec::new();
    for host in inventory.select("h1")? {
        out.extend(resolver.resources(host, &crate::resolve::stub_facts())?);
    }
    Ok(out)
}

/// The one resource of one playbook `entry` (`file: /etc/x\ncontent: hi`).
pub fn example(entry: &str) -> Result<Resource, ExampleError> {
    example_with(entry, &[])
}

/// [`example`] in a project holding `files` (see [`resources_with`]).
pub fn example_with(entry: &str, files: &[(&str, &str)]) -> Result<Resource, ExampleError> {
    let mut rs = resources_with(entry, files)?;
    match rs.len() {
        1 => Ok(rs.remove(0)),
        n => Err(ExampleError::NotOne(n)),
    }
}

/// The kind a playbook names `name` (`"file"`), as tests ask "is this resource a file".
pub fn kind(name: &str) -> Result<Kind, ExampleError> {
    super::registry::by_name(name).ok_or_else(|| ExampleError::NoKind(name.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_rendered_as_a_playbook_would_be() {
        let r = example("file: /etc/x\ncontent: hi\nmode: '0640'\nsensitive: true").expect("file");
        assert_eq!(r.desired.kind(), kind("file").expect("kind"));
        assert_eq!(r.desired.key(), "/etc/x");
        assert!(r.sensitive);
        assert_eq!(r.desired.shown(false), ["mode 0640", "| hi"]);
        let rs = resources("- directory: /d\n- link: /d/l\n  target: /t").expect("two");
        let kinds: Vec<&str> = rs.iter().map(|r| r.desired.kind().as_str()).collect();
        assert_eq!(kinds, ["directory", "link"]);
    }

    #[test]
    fn bad_entries_are_errors() {
        assert!(matches!(
            example("file: relative"),
            Err(ExampleError::Resolve(_))
        ));
        assert!(matches!(
            example("- file: /a\n- file: /b"),
            Err(ExampleError::NotOne(2))
        ));
        assert!(matches!(kind("nothing"), Err(ExampleError::NoKind(_))));
        assert!(example("file: [").is_err());
    }
}
