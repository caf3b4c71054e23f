//! `group:` — a local group, probed from `getent group` (one call per host, shared with
//! `user:`'s primary and supplementary groups).
//!
//! ```yaml
//! - group: app
//!   gid: 990         # enforced when given
//!   system: true     # only at creation
//! ```
//!
//! A `group:` entry is a group resource only when it names no other kind: beside `file:`,
//! `user:` and the others, `group:` is their group attribute. Apply: `groupadd` / `groupmod` /
//! `groupdel`.

use super::accounts::GroupEntry;
use super::deploy::{Planned, Refused};
use super::registry::Key;
use super::{Action, Presence};
use crate::resolve::{Base, Keys, ResolveError};
use crate::transport::shell_quote;

/// One group, rendered for one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupSpec {
    pub name: String,
    pub presence: Presence,
    pub gid: Option<u32>,
    pub system: bool,
}

/// What apply does to a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupOp {
    Add(Vec<String>),
    Modify(Vec<String>),
    Delete,
}

/// Plans one group.
pub fn plan(
    spec: &GroupSpec,
    have: Option<&GroupEntry>,
) -> Result<Option<Planned<GroupOp>>, Refused> {
    match (spec.presence, have) {
        (Presence::Absent, None) => Ok(None),
        (Presence::Absent, Some(_)) => Ok(Some(Planned {
            action: Action::Delete,
            details: Vec::new(),
            work: GroupOp::Delete,
        })),
        (Presence::Present, None) => {
            let mut args = Vec::new();
            let mut details = Vec::new();
            if spec.system {
                args.push("--system".to_string());
                details.push("system".to_string());
            }
            if let Some(g) = spec.gid {
                args.extend(["--gid".into(), g.to_string()]);
                details.push(format!("gid {g}"));
            }
            Ok(Some(Planned {
                action: Action::Create,
                details,
                work: GroupOp::Add(args),
            }))
        }
        (Presence::Present, Some(h)) => match spec.gid {
            Some(g) if g != h.gid => Ok(Some(Planned {
                action: Action::Update,
                details: vec![format!("gid {} → {g}", h.gid)],
                work: GroupOp::Modify(vec!["--gid".into(), g.to_string()]),
            })),
            _ => Ok(None),
        },
    }
}

/// The apply step of one group (inside the apply script: `play_ok`, `play_fail`).
pub fn apply_fragment(index: usize, name: &str, op: &GroupOp) -> String {
    let (prog, args): (&str, &[String]) = match op {
        GroupOp::Add(a) => ("groupadd", a),
        GroupOp::Modify(a) => ("groupmod", a),
        GroupOp::Delete => ("groupdel", &[]),
    };
    let mut words = vec![prog.to_string()];
    words.extend(args.iter().map(|a| shell_quote(a)));
    words.push("--".into());
    words.push(shell_quote(name));
    format!(
        "# group {name}\nprintf '\\0play-step\\0%s\\0' {index} >&2\n{} </dev/null 1>&2 || play_fail {index}\nplay_ok {index}\n",
        words.join(" ")
    )
}

impl super::Spec for GroupSpec {
    type Work = GroupOp;
    fn declares(&self) -> Vec<(super::accounts::Account, String)> {
        match self.presence {
            Presence::Present => vec![(super::accounts::Account::Group, self.name.clone())],
            Presence::Absent => Vec::new(),
        }
    }
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        p.groups = true;
    }
    fn plan_work(
        &self,
        observed: &super::Observed,
        _changed: &[&str],
    ) -> Result<Option<super::deploy::Planned<Self::Work>>, super::deploy::Refused> {
        let groups = (observed.deploy.groups.as_ref())
            .ok_or_else(|| super::deploy::not_probed("getent group"))?;
        plan(self, groups.get(&self.name))
    }
    fn apply_fragment(
        &self,
        index: usize,
        work: Option<&Self::Work>,
        _last: bool,
    ) -> Option<Result<(String, Vec<u8>), String>> {
        work.map(|op| Ok((apply_fragment(index, &self.name, op), Vec::new())))
    }
    fn depends(&self, observed: &super::Observed, out: &mut super::Prints) {
        let key = self.key();
        let v = super::account_print(observed.deploy.groups.as_ref().map(|g| g.get(key)));
        out.insert(format!("group {key}"), v);
    }
    const DEF: &'static super::registry::KindDef = &DEF;
    fn key(&self) -> &str {
        &self.name
    }
    fn has_nul(&self) -> bool {
        self.name.contains('\0')
    }
}

/// [`super::registry::KindDef::check_key`]: a group name (`accounts::check_name`).
fn check_key(key: &str) -> Result<String, String> {
    super::accounts::check_name("group", key).map(|_| key.to_string())
}

/// The registry line of `group:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Group,
    name: "group",
    keys: &[Key::Any("gid"), Key::Any("system")],
    is_path: false,
    watchable: true,
    docs_section: "`user: NAME` and `group: NAME` — local accounts",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key,
    render: super::registry::Render::Fn(from_entry),
    check_value: super::registry::any_value,
    records: &[],
    check_entry: super::registry::any_entry,
};

/// The spec of a `group:` entry, its errors located at their keys (the registry line's
/// `render`).
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, state, .. } = b;
    super::accounts::check_name("group", &key).map_err(|m| k.fail("group", m))?;
    Ok(super::Desired::Group(GroupSpec {
        name: key,
        presence: k.presence(&state)?,
        gid: k.id("gid")?,
        system: k.boolean("system")?.unwrap_or(false),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, gid: u32) -> GroupEntry {
        GroupEntry {
            name: name.into(),
            gid,
            members: vec![],
        }
    }

    #[test]
    fn created_once_then_left_alone() {
        let s = GroupSpec {
            name: "app".into(),
            system: true,
            gid: Some(990),
            ..Default::default()
        };
        let p = plan(&s, None).unwrap().unwrap();
        assert_eq!(p.action, Action::Create);
        assert_eq!(
            p.work,
            GroupOp::Add(vec!["--system".into(), "--gid".into(), "990".into()])
        );
        assert_eq!(plan(&s, Some(&entry("app", 990))).unwrap(), None);
        let p = plan(&s, Some(&entry("app", 991))).unwrap().unwrap();
        assert_eq!(p.details, vec!["gid 991 → 990".to_string()]);
        let any_gid = GroupSpec {
            name: "app".into(),
            ..Default::default()
        };
        assert_eq!(plan(&any_gid, Some(&entry("app", 5))).unwrap(), None);
    }

    #[test]
    fn absent_deletes() {
        let s = GroupSpec {
            name: "old".into(),
            presence: Presence::Absent,
            ..Default::default()
        };
        assert_eq!(plan(&s, None).unwrap(), None);
        let p = plan(&s, Some(&entry("old", 7))).unwrap().unwrap();
        assert_eq!((p.action, p.work), (Action::Delete, GroupOp::Delete));
        let f = apply_fragment(2, "old", &GroupOp::Delete);
        assert!(
            f.contains("groupdel -- old </dev/null 1>&2 || play_fail 2"),
            "{f}"
        );
    }
}
