//! What the deploy kinds fetch to a host, shared by the kinds that use the same source: a
//! folder of the controller copied over ([`files`]: `sync:`, `release:` from `sync:`), a git
//! repository fetched on the host ([`repo`]: `git:`, `release:` from `git:`).

pub mod files;
pub mod repo;

/// `owner O:G → O2:G2` when the `owner`/`group` given differ from what the host has.
pub fn owner_change(
    owner: &Option<String>,
    group: &Option<String>,
    (have_owner, have_group): (&str, &str),
) -> Option<String> {
    let differs = owner.as_ref().is_some_and(|o| o != have_owner)
        || group.as_ref().is_some_and(|g| g != have_group);
    differs.then(|| {
        format!(
            "owner {have_owner}:{have_group} → {}:{}",
            owner.as_deref().unwrap_or(have_owner),
            group.as_deref().unwrap_or(have_group)
        )
    })
}

/// `chown -R` operand of owner/group, if any.
pub fn chown_spec(owner: &Option<String>, group: &Option<String>) -> Option<String> {
    match (owner, group) {
        (Some(o), Some(g)) => Some(format!("{o}:{g}")),
        (Some(o), None) => Some(o.clone()),
        (None, Some(g)) => Some(format!(":{g}")),
        (None, None) => None,
    }
}
