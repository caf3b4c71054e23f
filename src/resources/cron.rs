//! `cron: NAME` — `/etc/cron.d/NAME`, owned by play (root, 0644): environment lines, then one
//! job line `SCHEDULE USER COMMAND`. Replaces Ansible's `cron` module (with `cron_file`).
//!
//! ```yaml
//! - cron: cleanup
//!   schedule: "0 3 * * *"          # five fields or @daily/@hourly/…
//!   user: app                      # default root
//!   command: /srv/app/venv/bin/python manage.py clearsessions
//!   environment: {PATH: /usr/bin:/bin}
//! ```

use super::deploy::{Planned, Refused};
use super::edit::{self, EditWork, FileSeen};
use super::registry::Key;
use super::{Attrs, Presence};
use crate::resolve::{Base, Keys, ResolveError};

/// One cron file, rendered for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSpec {
    pub name: String,
    pub presence: Presence,
    pub schedule: String,
    pub user: String,
    pub command: String,
    pub environment: Vec<(String, String)>,
}

impl CronSpec {
    /// `/etc/cron.d/NAME`.
    pub fn path(&self) -> String {
        format!("/etc/cron.d/{}", self.name)
    }
}

/// The owner and mode of a cron file.
pub fn attrs() -> Attrs {
    Attrs {
        owner: Some("root".into()),
        group: Some("root".into()),
        mode: Some(0o644),
    }
}

/// [`super::registry::KindDef::check_key`]: a name cron reads in /etc/cron.d (run-parts
/// rules: letters, digits, `_` and `-`; cron ignores a file whose name has a dot).
pub fn check_name(name: &str) -> Result<String, String> {
    if name.is_empty() {
        return Err("a cron name is needed".into());
    }
    if name.contains('.') {
        return Err(format!(
            "cron name `{name}` has a dot: cron ignores such files in /etc/cron.d"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "cron name `{name}`: `{c}` is not a letter, digit, `_` or `-` (cron ignores such files)"
        ));
    }
    Ok(name.to_string())
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// One value of a field: a number in `lo..=hi`, or a name.
fn value_ok(v: &str, lo: u32, hi: u32, names: &[&str]) -> bool {
    match v.parse::<u32>() {
        Ok(n) => (lo..=hi).contains(&n),
        Err(_) => names.contains(&v.to_ascii_lowercase().as_str()),
    }
}

/// One field: a list of `*`, `N`, `N-M`, each with an optional `/STEP`.
fn field_ok(f: &str, lo: u32, hi: u32, names: &[&str]) -> bool {
    f.split(',').all(|item| {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        let step_ok = step.is_none_or(|s| s.parse::<u32>().is_ok_and(|n| n >= 1 && n <= hi));
        let range_ok = range == "*"
            || match range.split_once('-') {
                Some((a, b)) => value_ok(a, lo, hi, names) && value_ok(b, lo, hi, names),
                None => value_ok(range, lo, hi, names),
            };
        step_ok && range_ok && !item.is_empty()
    })
}

/// Checks a schedule: five fields (minute hour day-of-month month day-of-week) or one of
/// `@reboot @yearly @annually @monthly @weekly @daily @midnight @hourly`.
pub fn check_schedule(s: &str) -> Result<(), String> {
    let s = s.trim();
    if s.starts_with('@') {
        const AT: [&str; 8] = [
            "@reboot",
            "@yearly",
            "@annually",
            "@monthly",
            "@weekly",
            "@daily",
            "@midnight",
            "@hourly",
        ];
        return if AT.contains(&s) {
            Ok(())
        } else {
            Err(format!("schedule `{s}`: not one of {}", AT.join(" ")))
        };
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "schedule `{s}`: five fields (minute hour day month weekday) or @daily, @hourly…, found {}",
            fields.len()
        ));
    }
    let limits: [(&str, u32, u32, &[&str]); 5] = [
        ("minute", 0, 59, &[]),
        ("hour", 0, 23, &[]),
        ("day of month", 1, 31, &[]),
        ("month", 1, 12, &MONTHS),
        ("day of week", 0, 7, &DAYS),
    ];
    for (f, (what, lo, hi, names)) in fields.iter().zip(limits) {
        if !field_ok(f, lo, hi, names) {
            return Err(format!("schedule `{s}`: bad {what} `{f}` ({lo}-{hi})"));
        }
    }
    Ok(())
}

/// The cron file's text.
pub fn render(spec: &CronSpec) -> String {
    let mut out = format!(
        "# cron {} — managed by play, edits are overwritten\n",
        spec.name
    );
    for (k, v) in &spec.environment {
        out.push_str(&format!("{k}={v}\n"));
    }
    out.push_str(&format!(
        "{} {} {}\n",
        spec.schedule
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        spec.user,
        spec.command
    ));
    out
}

/// Plans one cron file.
pub fn plan(spec: &CronSpec, seen: &FileSeen) -> Result<Option<Planned<EditWork>>, Refused> {
    let path = spec.path();
    match spec.presence {
        Presence::Absent => edit::plan_remove(&path, seen),
        Presence::Present => {
            edit::plan_write(&path, seen, render(spec).into_bytes(), &attrs(), None)
        }
    }
}

impl CronSpec {
    /// The file this edit changes.
    fn edited(&self) -> String {
        self.path()
    }
}

impl super::Spec for CronSpec {
    fn owned_paths(&self) -> Vec<String> {
        vec![self.path()]
    }
    edit::edit_spec_methods!();
    fn accounts(&self) -> Vec<(super::accounts::Account, &str)> {
        vec![(super::accounts::Account::User, self.user.as_str())]
    }
    fn key(&self) -> &str {
        &self.name
    }
    fn has_nul(&self) -> bool {
        super::any_nul(&[
            Some(&self.name),
            Some(&self.schedule),
            Some(&self.user),
            Some(&self.command),
        ]) || self
            .environment
            .iter()
            .any(|(k, v)| k.contains('\0') || v.contains('\0'))
    }
}

/// The registry line of `cron:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Cron,
    name: "cron",
    keys: &[
        Key::Text("schedule"),
        Key::Text("user"),
        Key::Text("command"),
        Key::Any("environment"),
    ],
    is_path: false,
    watchable: true,
    docs_section: "`cron: NAME` — a cron job",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key: check_name,
    render: super::registry::Render::Fn(from_entry),
    check_value: super::registry::any_value,
    records: &[],
    check_entry: super::registry::any_entry,
};

/// The spec of a `cron:` entry, its errors located at their keys (the registry line's
/// `render`).
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, state, .. } = b;
    let presence = k.presence(&state)?;
    let schedule = k.string("schedule")?.unwrap_or_default();
    let command = k.string("command")?.unwrap_or_default();
    if presence == Presence::Present {
        check_schedule(&schedule).map_err(|m| k.fail("schedule", m))?;
        if command.trim().is_empty() || command.contains('\n') {
            return Err(k.fail("command", "a cron job needs `command`, one line".into()));
        }
    }
    let user = k.string("user")?.unwrap_or_else(|| "root".into());
    super::accounts::check_name("user", &user).map_err(|m| k.fail("user", m))?;
    let environment = k.mapping("environment")?;
    super::check_environment(&environment).map_err(|m| k.fail("environment", m))?;
    Ok(super::Desired::Cron(CronSpec {
        name: key,
        presence,
        schedule,
        user,
        command,
        environment,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        for ok in [
            "0 3 * * *",
            "*/5 * * * *",
            "0 0 1,15 * mon-fri",
            "30 2 * jan-mar 0",
            "0 8-18/2 * * 7",
            "@daily",
            "@reboot",
        ] {
            assert!(check_schedule(ok).is_ok(), "{ok}");
        }
        for bad in [
            "0 3 * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 8",
            "*/0 * * * *",
            "a * * * *",
            "1,,2 * * * *",
            "@sometimes",
            "",
        ] {
            assert!(check_schedule(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names() {
        assert!(check_name("cleanup-db_2").is_ok());
        assert!(check_name("cleanup.cron").unwrap_err().contains("dot"));
        assert!(check_name("a/b").is_err());
        assert!(check_name("").is_err());
    }

    #[test]
    fn the_file() {
        let spec = CronSpec {
            name: "cleanup".into(),
            presence: Presence::Present,
            schedule: "0  3 * * *".into(),
            user: "app".into(),
            command: "/srv/app/manage clearsessions".into(),
            environment: vec![("PATH".into(), "/usr/bin:/bin".into())],
        };
        let text = render(&spec);
        assert_eq!(
            text,
            "# cron cleanup — managed by play, edits are overwritten\nPATH=/usr/bin:/bin\n0 3 * * * app /srv/app/manage clearsessions\n"
        );
        let p = plan(&spec, &FileSeen::Missing).unwrap().unwrap();
        assert_eq!(p.work.path, "/etc/cron.d/cleanup");
        assert_eq!(p.work.attrs.mode, Some(0o644));
        assert_eq!(
            plan(&spec, &FileSeen::File(text.into_bytes())).unwrap(),
            None
        );
        let gone = CronSpec {
            presence: Presence::Absent,
            ..spec
        };
        assert_eq!(plan(&gone, &FileSeen::Missing).unwrap(), None);
        let p = plan(&gone, &FileSeen::File(b"x".to_vec()))
            .unwrap()
            .unwrap();
        assert_eq!((p.action, p.work.new), (super::super::Action::Delete, None));
        assert!(crate::resources::check_environment(&[("A B".into(), "x".into())]).is_err());
    }
}
