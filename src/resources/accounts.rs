//! The accounts (users and groups) resources name — `owner:`, `group:`, a command's `user:` —
//! and the check that each exists on the host or is created by a `user:`/`group:` of the run,
//! made before anything is applied (an apply would otherwise fail half-way at `chown`).
//!
//! The host's account databases (`getent passwd`, `getent group`), read once per host for
//! every `user:` and `group:`, are parsed here too ([`parse_passwd`], [`parse_group`]).
//!
//! Pure parts here ([`wanted`], [`unknown`], [`parse`]); the engine runs [`script`] only when a
//! change names an account that neither the run declares nor any probed path is owned by, so a
//! no-op costs no round trip.

use std::collections::{BTreeMap, BTreeSet};

use super::{Change, Desired, Observed, Resource};
use crate::transport::shell_quote;

/// A user or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Account {
    User,
    Group,
}

impl Account {
    fn word(self) -> &'static str {
        match self {
            Account::User => "user",
            Account::Group => "group",
        }
    }
}

// The host's account databases, as the probe reads them once per host for every `user:` and
// `group:` (`getent passwd USER…`, `getent group`: records `pwent`, `grent` of
// `resources::deploy`).

/// The lines of `getent DATABASE` output, each with its `fields` fields.
fn getent_lines<'a>(
    text: &'a str,
    database: &str,
    fields: usize,
) -> Result<Vec<(&'a str, Vec<&'a str>)>, String> {
    (text.lines().filter(|l| !l.is_empty()))
        .map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() == fields {
                Ok((line, f))
            } else {
                Err(format!("bad {database} line `{line}`"))
            }
        })
        .collect()
}

/// A `getent passwd` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passwd {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
}

/// Parses `getent passwd` output: name → entry.
pub fn parse_passwd(text: &str) -> Result<BTreeMap<String, Passwd>, String> {
    let mut out = BTreeMap::new();
    for (line, f) in getent_lines(text, "passwd", 7)? {
        let num = |s: &str| {
            s.parse::<u32>()
                .map_err(|_| format!("bad number `{s}` in passwd line `{line}`"))
        };
        out.insert(
            f[0].to_string(),
            Passwd {
                name: f[0].to_string(),
                uid: num(f[2])?,
                gid: num(f[3])?,
                home: f[5].to_string(),
                shell: f[6].to_string(),
            },
        );
    }
    Ok(out)
}

/// A `getent group` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
    /// Supplementary members.
    pub members: Vec<String>,
}

/// Parses `getent group` output: name → entry.
pub fn parse_group(text: &str) -> Result<BTreeMap<String, GroupEntry>, String> {
    let mut out = BTreeMap::new();
    for (line, f) in getent_lines(text, "group", 4)? {
        let gid = f[2]
            .parse::<u32>()
            .map_err(|_| format!("bad gid in group line `{line}`"))?;
        out.insert(
            f[0].to_string(),
            GroupEntry {
                name: f[0].to_string(),
                gid,
                members: f[3]
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect(),
            },
        );
    }
    Ok(out)
}

/// The accounts a resource needs to exist when its step runs (see [`Spec::accounts`]).
pub fn needed(d: &Desired) -> Vec<(Account, &str)> {
    d.accounts()
}

/// `owner:` as a user and `group:` as a group, those given.
pub fn pair<'a>(o: &'a Option<String>, g: &'a Option<String>) -> Vec<(Account, &'a str)> {
    o.iter()
        .map(|o| (Account::User, o.as_str()))
        .chain(g.iter().map(|g| (Account::Group, g.as_str())))
        .collect()
}

/// A user or group name as `useradd`/`groupadd` take it (Debian's default NAME_REGEX, minus
/// the trailing `$` of machine accounts): `[a-z_][a-z0-9_-]*`, at most 32 characters.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} name `{name}`: lowercase letters, digits, `_` and `-` (first a letter or `_`), at most 32"
        ))
    }
}

/// What the run itself creates (see [`Spec::declares`](super::Spec::declares)).
fn declared(resources: &[Resource]) -> BTreeSet<(Account, String)> {
    resources
        .iter()
        .flat_map(|r| r.desired.declares())
        .collect()
}

/// The accounts the changes need that the host may lack: not declared by the run, not the
/// owner or group of any probed path, not numeric ids.
pub fn unknown(
    resources: &[Resource],
    changes: &[Change],
    observed: &Observed,
) -> Vec<(Account, String)> {
    let declared = declared(resources);
    let seen: BTreeSet<(Account, &str)> = observed
        .paths
        .values()
        .flat_map(|p| {
            [
                (Account::User, p.owner.as_str()),
                (Account::Group, p.group.as_str()),
            ]
        })
        .collect();
    let mut out: BTreeSet<(Account, String)> = BTreeSet::new();
    for c in changes {
        let Some(r) = resources.get(c.index) else {
            continue;
        };
        for (kind, name) in needed(&r.desired) {
            let numeric = !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit());
            if numeric
                || name == "root"
                || seen.contains(&(kind, name))
                || declared.contains(&(kind, name.to_string()))
            {
                continue;
            }
            out.insert((kind, name.to_string()));
        }
    }
    out.into_iter().collect()
}

/// A script printing `missing\0user|group\0NAME\0` for each account the host lacks.
pub fn script(accounts: &[(Account, String)]) -> String {
    let mut s = String::from("LC_ALL=C; export LC_ALL\nprintf 'play-accounts\\0'\n");
    for (kind, name) in accounts {
        let db = match kind {
            Account::User => "passwd",
            Account::Group => "group",
        };
        s.push_str(&format!(
            "getent {db} {n} >/dev/null 2>&1 || printf 'missing\\0%s\\0%s\\0' {} {n}\n",
            kind.word(),
            n = shell_quote(name)
        ));
    }
    s.push_str("printf 'end\\0'\n");
    s
}

/// The missing accounts from [`script`]'s output; `None` when the output is not whole.
pub fn parse(stdout: &[u8]) -> Option<Vec<(Account, String)>> {
    let mut f = stdout.split(|b| *b == 0);
    if f.next()? != b"play-accounts" {
        return None;
    }
    let mut out = Vec::new();
    loop {
        match f.next()? {
            b"end" => return Some(out),
            b"missing" => {
                let kind = match f.next()? {
                    b"user" => Account::User,
                    b"group" => Account::Group,
                    _ => return None,
                };
                out.push((kind, String::from_utf8_lossy(f.next()?).into_owned()));
            }
            _ => return None,
        }
    }
}

/// The message for a resource needing missing accounts, or `None` when it needs none of them.
pub fn problem(r: &Resource, missing: &[(Account, String)]) -> Option<String> {
    let names: Vec<String> = needed(&r.desired)
        .into_iter()
        .filter(|(k, n)| missing.iter().any(|(mk, mn)| mk == k && mn == n))
        .map(|(k, n)| format!("{} `{n}`", k.word()))
        .collect();
    (!names.is_empty()).then(|| {
        format!(
            "{} {}: needs {}: not on the host, and no `user:`/`group:` of this run creates \
             it (declared at {})",
            r.desired.kind(),
            r.desired.key(),
            names.join(", "),
            r.origin
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::resources::example::example;
    use crate::resources::{Action, Origin, PathKind, PathState};

    #[test]
    fn group_lines_parse() {
        let g = parse_group("adm:x:4:syslog,deploy\nempty:x:10:\n").unwrap();
        assert_eq!(
            g["adm"].members,
            vec!["syslog".to_string(), "deploy".into()]
        );
        assert!(g["empty"].members.is_empty());
        assert!(parse_group("adm:x:4\n").is_err());
        assert!(parse_group("adm:x:four:\n").is_err());
    }

    fn file(path: &str, owner: Option<&str>, group: Option<&str>) -> Resource {
        let mut entry = format!("file: {path}");
        for (key, value) in [("owner", owner), ("group", group)] {
            if let Some(v) = value {
                entry.push_str(&format!("\n{key}: '{v}'"));
            }
        }
        let mut r = example(&entry).expect("a file");
        r.origin = Origin {
            file: "site.yml".into(),
            line: 3,
            column: 7,
        };
        r
    }

    fn user(name: &str) -> Resource {
        example(&format!("user: {name}")).expect("a user")
    }

    fn change(index: usize, r: &Resource) -> Change {
        Change {
            kind: r.desired.kind(),
            key: r.desired.key().into(),
            action: Action::Create,
            details: Vec::new(),
            content: None,
            sensitive: false,
            index,
            files: Default::default(),
            attrs: false,
            restarts: Default::default(),
            after: None,
            expect: None,
        }
    }

    #[test]
    fn only_accounts_nobody_vouches_for_are_asked_about() {
        let rs = vec![
            file("/a", Some("app"), Some("app")),
            file("/b", Some("www-data"), Some("adm")),
            file("/c", Some("ghost"), Some("1000")),
            user("app"),
        ];
        let changes: Vec<Change> = (0..3).map(|i| change(i, &rs[i])).collect();
        let mut observed = Observed::default();
        observed.paths.insert(
            "/b".into(),
            PathState {
                kind: PathKind::Missing,
                mode: 0,
                owner: "www-data".into(),
                group: "adm".into(),
            },
        );
        assert_eq!(
            unknown(&rs, &changes, &observed),
            vec![(Account::User, "ghost".to_string())]
        );
        // Unchanged resources are not asked about.
        assert!(unknown(&rs, &changes[..2], &observed).is_empty());
    }

    #[test]
    fn the_script_runs_and_its_output_parses() {
        let wanted = vec![
            (Account::User, "root".to_string()),
            (Account::User, "no-such-user-play".to_string()),
            (Account::Group, "no such group'$(x)".to_string()),
        ];
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script(&wanted))
            .output()
            .expect("sh");
        assert_eq!(
            parse(&out.stdout),
            Some(vec![
                (Account::User, "no-such-user-play".to_string()),
                (Account::Group, "no such group'$(x)".to_string()),
            ])
        );
        assert_eq!(parse(b"play-accounts\0missing\0user"), None);
        assert_eq!(parse(b"garbage"), None);
        let r = file("/c", Some("no-such-user-play"), None);
        assert_eq!(
            problem(&r, &parse(&out.stdout).unwrap_or_default()).as_deref(),
            Some(
                "file /c: needs user `no-such-user-play`: not on the host, and no \
                 `user:`/`group:` of this run creates it (declared at site.yml:3:7)"
            )
        );
    }
}
