//! What the deploy kinds fetch to a host, shared by the kinds that use the same source: a
//! folder of the controller copied over ([`files`]: `sync:`, `release:` from `sync:`).

pub mod files;

/// `chown -R` operand of owner/group, if any.
pub fn chown_spec(owner: &Option<String>, group: &Option<String>) -> Option<String> {
    match (owner, group) {
        (Some(o), Some(g)) => Some(format!("{o}:{g}")),
        (Some(o), None) => Some(o.clone()),
        (None, Some(g)) => Some(format!(":{g}")),
        (None, None) => None,
    }
}
