//! `block:` — a block of lines between two marker lines, replaced as a whole or appended;
//! `state: absent` removes it (markers included), as Ansible's `blockinfile`.
//!
//! ```yaml
//! - block: /etc/hosts
//!   text: "10.0.0.5 db\n"
//!   marker: "# {mark} play: db"    # {mark} = BEGIN / END
//! ```

use super::deploy::{Planned, Refused};
use super::edit::{self, EditWork, FileSeen};
use super::registry::Key;
use super::Presence;
use crate::resolve::{Base, Keys, ResolveError};

/// The marker when none is given.
pub const DEFAULT_MARKER: &str = "# {mark} PLAY MANAGED BLOCK";

/// One block, rendered for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockSpec {
    pub path: String,
    pub presence: Presence,
    pub text: String,
    /// With `{mark}` (checked by [`check_marker`]).
    pub marker: String,
}

/// Checks a `marker`: one line with `{mark}`.
pub fn check_marker(marker: &str) -> Result<(), String> {
    if !marker.contains("{mark}") {
        return Err(format!(
            "marker `{marker}` has no `{{mark}}` (BEGIN and END must differ)"
        ));
    }
    if marker.contains('\n') || marker.contains('\r') {
        return Err("marker: one line, without a newline".into());
    }
    Ok(())
}

/// The file's new content: the block (markers included) replaces the lines from the first
/// BEGIN marker followed by an END marker (no other BEGIN between) to that END, or is
/// appended; absent removes them.
pub fn edit_block(old: &str, marker: &str, text: &str, presence: Presence) -> String {
    let begin = marker.replace("{mark}", "BEGIN");
    let end = marker.replace("{mark}", "END");
    let lines = edit::lines(old);
    // The first BEGIN whose next marker line is an END (a BEGIN left without its END is
    // not a block).
    let found = (0..lines.len())
        .filter(|&b| edit::bare(lines[b]) == begin)
        .find_map(|b| {
            let rest = &lines[b + 1..];
            let next = rest.iter().position(|l| {
                let l = edit::bare(l);
                l == begin || l == end
            })?;
            (edit::bare(rest[next]) == end).then_some((b, b + 1 + next))
        });
    let mut body: Vec<&str> = vec![begin.as_str()];
    body.extend(text.lines());
    body.push(end.as_str());
    match (presence, found) {
        (Presence::Absent, None) => old.to_string(),
        (Presence::Absent, Some((b, e))) => {
            let mut out: String = lines[..b].concat();
            out.push_str(&lines[e + 1..].concat());
            out
        }
        (Presence::Present, None) => edit::join_append(&lines, &body),
        (Presence::Present, Some((b, e))) => {
            let mut out = edit::join_append(&lines[..b], &body);
            out.push_str(&lines[e + 1..].concat());
            out
        }
    }
}

/// Plans one block.
pub fn plan(spec: &BlockSpec, seen: &FileSeen) -> Result<Option<Planned<EditWork>>, Refused> {
    let Some(old) = edit::old_text(&spec.path, seen, spec.presence)? else {
        return Ok(None);
    };
    let new = edit_block(&old, &spec.marker, &spec.text, spec.presence);
    edit::plan_text(&spec.path, seen, new, None)
}

impl super::Spec for BlockSpec {
    edit::path_edit_spec_methods!();
    fn has_nul(&self) -> bool {
        super::any_nul(&[Some(&self.path), Some(&self.text), Some(&self.marker)])
    }
}

/// The registry line of `block:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Block,
    name: "block",
    keys: &[Key::Text("text"), Key::Text("marker")],
    is_path: true,
    watchable: true,
    docs_section: "`block: PATH` — a marked block of a file",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key: super::registry::path_key,
    render: super::registry::Render::Fn(from_entry),
    check_value: super::registry::any_value,
    records: &[],
    check_entry: super::registry::any_entry,
};

/// The spec of a `block:` entry, its errors located at their keys (the registry line's
/// `render`).
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, state, .. } = b;
    let presence = k.presence(&state)?;
    let text = k.string("text")?;
    if presence == Presence::Present && text.is_none() {
        return Err(k.fail("block", "a block needs `text`".into()));
    }
    let marker = k
        .string("marker")?
        .unwrap_or_else(|| DEFAULT_MARKER.to_string());
    check_marker(&marker).map_err(|m| k.fail("marker", m))?;
    Ok(super::Desired::Block(BlockSpec {
        path: key,
        presence,
        text: text.unwrap_or_default(),
        marker,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "# {mark} play: db";
    const HOSTS: &str = "127.0.0.1 localhost\n";

    #[test]
    fn appended_then_replaced_as_a_whole() {
        let new = edit_block(HOSTS, M, "10.0.0.5 db\n", Presence::Present);
        assert_eq!(
            new,
            "127.0.0.1 localhost\n# BEGIN play: db\n10.0.0.5 db\n# END play: db\n"
        );
        assert_eq!(edit_block(&new, M, "10.0.0.5 db\n", Presence::Present), new);
        let more = format!("{new}::1 localhost6\n");
        assert_eq!(
            edit_block(&more, M, "10.0.0.6 db\n10.0.0.7 db2", Presence::Present),
            "127.0.0.1 localhost\n# BEGIN play: db\n10.0.0.6 db\n10.0.0.7 db2\n# END play: db\n::1 localhost6\n"
        );
    }

    #[test]
    fn absent_removes_the_block_and_its_markers() {
        let new = edit_block("a", M, "x", Presence::Present);
        assert_eq!(new, "a\n# BEGIN play: db\nx\n# END play: db\n");
        assert_eq!(edit_block(&new, M, "", Presence::Absent), "a\n");
        assert_eq!(edit_block("a\n", M, "", Presence::Absent), "a\n");
        // A BEGIN without its END is not a block: a new one is appended.
        let half = "# BEGIN play: db\nx\n";
        let new = edit_block(half, M, "y", Presence::Present);
        assert_eq!(
            new,
            "# BEGIN play: db\nx\n# BEGIN play: db\ny\n# END play: db\n"
        );
        // …and then stays as it is.
        assert_eq!(edit_block(&new, M, "y", Presence::Present), new);
    }

    #[test]
    fn markers_are_checked() {
        assert!(check_marker(DEFAULT_MARKER).is_ok());
        assert!(check_marker("# play db").is_err());
        assert!(check_marker("# {mark}\nx").is_err());
    }
}
