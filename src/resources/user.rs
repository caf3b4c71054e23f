//! `user:` — a local account, probed from `getent passwd` (one call for every user of the host)
//! and `getent group` (one call, for primary and supplementary groups).
//!
//! ```yaml
//! - user: app
//!   system: true          # only at creation: a system account (uid below 1000)
//!   uid: 990              # enforced when given
//!   group: app            # primary group, enforced when given
//!   groups: [adm]         # supplementary groups: exactly these (with `append: true`: at least)
//!   shell: /usr/sbin/nologin
//!   home: /srv/app
//!   create_home: false    # default: true, except for system accounts
//! ```
//!
//! Apply: `useradd` / `usermod` / `userdel`.

use std::collections::{BTreeMap, BTreeSet};

use super::accounts::{GroupEntry, Passwd};
use super::deploy::{Planned, Refused};
use super::registry::Key;
use super::{Action, Presence};
use crate::resolve::{Base, Keys, ResolveError};
use crate::transport::shell_quote;

/// One user, rendered for one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserSpec {
    pub name: String,
    pub presence: Presence,
    pub uid: Option<u32>,
    /// Primary group (name).
    pub group: Option<String>,
    /// Supplementary groups (names); `None`: not managed.
    pub groups: Option<Vec<String>>,
    /// With `groups`: add to them, leave other memberships alone.
    pub append: bool,
    pub shell: Option<String>,
    pub home: Option<String>,
    pub system: bool,
    /// Create the home folder when creating the user (default: not for system users).
    pub create_home: Option<bool>,
}

/// What apply does to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserOp {
    /// `useradd` arguments (without the name).
    Add(Vec<String>),
    /// `usermod` arguments (without the name).
    Modify(Vec<String>),
    Delete,
}

/// Plans one user. `groups`: the host's group database (by name).
pub fn plan(
    spec: &UserSpec,
    have: Option<&Passwd>,
    groups: &BTreeMap<String, GroupEntry>,
) -> Result<Option<Planned<UserOp>>, Refused> {
    let Some(have) = have else {
        if spec.presence == Presence::Absent {
            return Ok(None);
        }
        let mut args = Vec::new();
        let mut details = Vec::new();
        if spec.system {
            args.push("--system".to_string());
            details.push("system".to_string());
        }
        if let Some(u) = spec.uid {
            args.extend(["--uid".into(), u.to_string()]);
            details.push(format!("uid {u}"));
        }
        if let Some(g) = &spec.group {
            args.extend(["--gid".into(), g.clone()]);
            details.push(format!("group {g}"));
        } else if groups.contains_key(&spec.name) {
            // A group of the user's name exists already (`useradd --user-group` would fail).
            args.extend(["--gid".into(), spec.name.clone()]);
        } else if spec.system {
            // Debian's useradd gives system users group `nogroup` unless asked for their own.
            args.push("--user-group".into());
        }
        if let Some(gs) = spec.groups.as_ref().filter(|g| !g.is_empty()) {
            args.extend(["--groups".into(), gs.join(",")]);
            details.push(format!("groups {}", gs.join(",")));
        }
        if let Some(s) = &spec.shell {
            args.extend(["--shell".into(), s.clone()]);
            details.push(format!("shell {s}"));
        }
        if let Some(h) = &spec.home {
            args.extend(["--home-dir".into(), h.clone()]);
            details.push(format!("home {h}"));
        }
        args.push(
            if spec.create_home.unwrap_or(!spec.system) {
                "--create-home"
            } else {
                "--no-create-home"
            }
            .into(),
        );
        return Ok(Some(Planned {
            action: Action::Create,
            details,
            work: UserOp::Add(args),
        }));
    };
    if spec.presence == Presence::Absent {
        return Ok(Some(Planned {
            action: Action::Delete,
            details: Vec::new(),
            work: UserOp::Delete,
        }));
    }
    let mut args = Vec::new();
    let mut details = Vec::new();
    if let Some(u) = spec.uid {
        if u != have.uid {
            args.extend(["--uid".into(), u.to_string()]);
            details.push(format!("uid {} → {u}", have.uid));
        }
    }
    if let Some(g) = &spec.group {
        let current = groups
            .values()
            .find(|e| e.gid == have.gid)
            .map(|e| e.name.clone())
            .unwrap_or_else(|| have.gid.to_string());
        // Compare by gid when the wanted group exists, else by name (it is created first).
        let same = match groups.get(g) {
            Some(e) => e.gid == have.gid,
            None => &current == g,
        };
        if !same {
            args.extend(["--gid".into(), g.clone()]);
            details.push(format!("group {current} → {g}"));
        }
    }
    if let Some(want) = &spec.groups {
        let now: BTreeSet<&str> = groups
            .values()
            .filter(|e| e.members.iter().any(|m| m == &spec.name))
            .map(|e| e.name.as_str())
            .collect();
        let want_set: BTreeSet<&str> = want.iter().map(String::as_str).collect();
        let missing: Vec<&str> = want_set.difference(&now).copied().collect();
        let extra: Vec<&str> = now.difference(&want_set).copied().collect();
        if spec.append {
            if !missing.is_empty() {
                args.extend(["--append".into(), "--groups".into(), missing.join(",")]);
                details.push(format!("add to groups {}", missing.join(",")));
            }
        } else if !missing.is_empty() || !extra.is_empty() {
            args.extend(["--groups".into(), want.join(",")]);
            let mut d = Vec::new();
            if !missing.is_empty() {
                d.push(format!("+{}", missing.join(",+")));
            }
            if !extra.is_empty() {
                d.push(format!("-{}", extra.join(",-")));
            }
            details.push(format!("groups {}", d.join(" ")));
        }
    }
    if let Some(s) = &spec.shell {
        if s != &have.shell {
            args.extend(["--shell".into(), s.clone()]);
            details.push(format!("shell {} → {s}", have.shell));
        }
    }
    if let Some(h) = &spec.home {
        if h != &have.home {
            args.extend(["--home".into(), h.clone()]);
            details.push(format!("home {} → {h}", have.home));
        }
    }
    if args.is_empty() {
        return Ok(None);
    }
    Ok(Some(Planned {
        action: Action::Update,
        details,
        work: UserOp::Modify(args),
    }))
}

/// The apply step of one user (inside the apply script: `play_ok`, `play_fail`).
pub fn apply_fragment(index: usize, name: &str, op: &UserOp) -> String {
    let cmd = |prog: &str, args: &[String]| {
        let mut words: Vec<String> = vec![prog.to_string()];
        words.extend(args.iter().map(|a| shell_quote(a)));
        words.push("--".into());
        words.push(shell_quote(name));
        words.join(" ")
    };
    let line = match op {
        UserOp::Add(args) => cmd("useradd", args),
        UserOp::Modify(args) => cmd("usermod", args),
        UserOp::Delete => cmd("userdel", &[]),
    };
    format!(
        "# user {name}\nprintf '\\0play-step\\0%s\\0' {index} >&2\n{line} </dev/null 1>&2 || play_fail {index}\nplay_ok {index}\n"
    )
}

impl super::Spec for UserSpec {
    type Work = UserOp;
    fn declares(&self) -> Vec<(super::accounts::Account, String)> {
        use super::accounts::Account;
        match self.presence {
            // useradd makes a group of the same name unless told another one.
            Presence::Present => vec![
                (Account::User, self.name.clone()),
                (
                    Account::Group,
                    self.group.clone().unwrap_or(self.name.clone()),
                ),
            ],
            Presence::Absent => Vec::new(),
        }
    }
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        p.add_user(&self.name);
    }
    fn plan_work(
        &self,
        observed: &super::Observed,
        _changed: &[&str],
    ) -> Result<Option<super::deploy::Planned<Self::Work>>, super::deploy::Refused> {
        let o = &observed.deploy;
        let users = (o.users.as_ref()).ok_or_else(|| super::deploy::not_probed("getent passwd"))?;
        let groups =
            (o.groups.as_ref()).ok_or_else(|| super::deploy::not_probed("getent group"))?;
        plan(self, users.get(&self.name), groups)
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
        let v = super::account_print(observed.deploy.users.as_ref().map(|u| u.get(key)));
        out.insert(format!("user {key}"), v);
    }
    const DEF: &'static super::registry::KindDef = &DEF;
    fn key(&self) -> &str {
        &self.name
    }
    fn has_nul(&self) -> bool {
        super::any_nul(&[
            Some(&self.name),
            self.group.as_deref(),
            self.shell.as_deref(),
            self.home.as_deref(),
        ]) || self.groups.iter().flatten().any(|g| g.contains('\0'))
    }
}

/// [`super::registry::KindDef::check_key`]: a user name (`accounts::check_name`).
fn check_key(key: &str) -> Result<String, String> {
    super::accounts::check_name("user", key).map(|_| key.to_string())
}

/// The registry line of `user:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::User,
    name: "user",
    keys: &[
        Key::Any("uid"),
        Key::Text("group"),
        Key::Any("groups"),
        Key::Any("append"),
        Key::Text("shell"),
        Key::Text("home"),
        Key::Any("system"),
        Key::Any("create_home"),
    ],
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

/// The spec of a `user:` entry, its errors located at their keys (the registry line's
/// `render`).
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, attrs, state } = b;
    super::accounts::check_name("user", &key).map_err(|m| k.fail("user", m))?;
    if let Some(g) = &attrs.group {
        super::accounts::check_name("group", g).map_err(|m| k.fail("group", m))?;
    }
    let groups = k.list("groups")?;
    for g in groups.iter().flatten() {
        super::accounts::check_name("group", g).map_err(|m| k.fail("groups", m))?;
    }
    let shell = k.string("shell")?;
    if let Some(s) = &shell {
        if !s.starts_with('/') || s.contains([':', '\n']) {
            return Err(k.fail("shell", format!("shell `{s}` must be an absolute path")));
        }
    }
    let home = k.path("home")?;
    if home.as_deref().is_some_and(|h| h.contains(':')) {
        return Err(k.fail("home", "home must not contain `:`".into()));
    }
    Ok(super::Desired::User(UserSpec {
        name: key,
        presence: k.presence(&state)?,
        uid: k.id("uid")?,
        group: attrs.group,
        groups,
        append: k.boolean("append")?.unwrap_or(false),
        shell,
        home,
        system: k.boolean("system")?.unwrap_or(false),
        create_home: k.boolean("create_home")?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::accounts::{parse_group, parse_passwd};

    const PASSWD: &str =
        "app:x:999:999::/srv/app:/bin/sh\ndeploy:x:1000:1000:Deploy,,,:/home/deploy:/bin/bash\n";
    const GROUP: &str =
        "root:x:0:\nadm:x:4:deploy\napp:x:999:\ndeploy:x:1000:\nwww-data:x:33:app,deploy\n";

    fn db() -> (BTreeMap<String, Passwd>, BTreeMap<String, GroupEntry>) {
        (parse_passwd(PASSWD).unwrap(), parse_group(GROUP).unwrap())
    }

    fn spec(name: &str) -> UserSpec {
        UserSpec {
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn names() {
        assert!(crate::resources::accounts::check_name("user", "app").is_ok());
        assert!(crate::resources::accounts::check_name("user", "_svc-1").is_ok());
        for bad in ["", "App", "-rf", "1x", "a b", "a:b", &"x".repeat(33)] {
            assert!(
                crate::resources::accounts::check_name("user", bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn passwd_parses() {
        let (p, _) = db();
        assert_eq!(p["deploy"].uid, 1000);
        assert_eq!(p["app"].home, "/srv/app");
        assert_eq!(p["app"].shell, "/bin/sh");
        assert!(parse_passwd("x:y\n").is_err());
        assert!(parse_passwd("x:x:a:1::/:/bin/sh\n").is_err());
    }

    #[test]
    fn a_missing_user_is_created_with_its_keys() {
        let (_, g) = db();
        let mut s = spec("svc");
        s.system = true;
        s.shell = Some("/usr/sbin/nologin".into());
        s.home = Some("/srv/svc".into());
        s.groups = Some(vec!["adm".into()]);
        let p = plan(&s, None, &g).unwrap().unwrap();
        assert_eq!(p.action, Action::Create);
        let UserOp::Add(args) = &p.work else {
            panic!("{p:?}")
        };
        assert_eq!(
            args.join(" "),
            "--system --user-group --groups adm --shell /usr/sbin/nologin --home-dir /srv/svc --no-create-home"
        );
        let mut s = spec("svc");
        s.presence = Presence::Absent;
        assert_eq!(plan(&s, None, &g).unwrap(), None);
    }

    #[test]
    fn an_existing_user_in_shape_is_no_change() {
        let (p, g) = db();
        let mut s = spec("app");
        s.uid = Some(999);
        s.group = Some("app".into());
        s.groups = Some(vec!["www-data".into()]);
        s.shell = Some("/bin/sh".into());
        s.home = Some("/srv/app".into());
        assert_eq!(plan(&s, p.get("app"), &g).unwrap(), None);
    }

    #[test]
    fn a_changed_shell_is_updated() {
        let (p, g) = db();
        let mut s = spec("app");
        s.shell = Some("/usr/sbin/nologin".into());
        let c = plan(&s, p.get("app"), &g).unwrap().unwrap();
        assert_eq!(c.action, Action::Update);
        assert_eq!(
            c.details,
            vec!["shell /bin/sh → /usr/sbin/nologin".to_string()]
        );
        assert_eq!(
            c.work,
            UserOp::Modify(vec!["--shell".into(), "/usr/sbin/nologin".into()])
        );
    }

    #[test]
    fn supplementary_groups_exact_or_appended() {
        let (p, g) = db();
        let mut s = spec("deploy");
        s.groups = Some(vec!["www-data".into(), "app".into()]);
        let c = plan(&s, p.get("deploy"), &g).unwrap().unwrap();
        assert_eq!(c.details, vec!["groups +app -adm".to_string()]);
        assert_eq!(
            c.work,
            UserOp::Modify(vec!["--groups".into(), "www-data,app".into()])
        );
        s.append = true;
        let c = plan(&s, p.get("deploy"), &g).unwrap().unwrap();
        assert_eq!(
            c.work,
            UserOp::Modify(vec!["--append".into(), "--groups".into(), "app".into()])
        );
        s.groups = Some(vec!["adm".into()]);
        assert_eq!(plan(&s, p.get("deploy"), &g).unwrap(), None);
    }

    #[test]
    fn primary_group_and_uid() {
        let (p, g) = db();
        let mut s = spec("app");
        s.group = Some("www-data".into());
        s.uid = Some(998);
        let c = plan(&s, p.get("app"), &g).unwrap().unwrap();
        assert_eq!(
            c.details,
            vec![
                "uid 999 → 998".to_string(),
                "group app → www-data".to_string()
            ]
        );
    }

    #[test]
    fn absent_deletes() {
        let (p, g) = db();
        let mut s = spec("app");
        s.presence = Presence::Absent;
        let c = plan(&s, p.get("app"), &g).unwrap().unwrap();
        assert_eq!((c.action, c.work), (Action::Delete, UserOp::Delete));
    }

    #[test]
    fn apply_quotes_every_word() {
        let s = apply_fragment(
            4,
            "app",
            &UserOp::Modify(vec!["--shell".into(), "/bin/my shell".into()]),
        );
        assert!(
            s.contains("usermod --shell '/bin/my shell' -- app </dev/null 1>&2 || play_fail 4"),
            "{s}"
        );
        assert!(s.ends_with("play_ok 4\n"));
    }
}
