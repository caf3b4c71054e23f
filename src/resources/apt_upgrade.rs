//! `apt_upgrade: safe|full` — the host's packages upgraded as a whole, through apt (Ansible's
//! `apt: upgrade=yes|safe|full|dist` and `apt: name="*" state=latest`).
//!
//! ```yaml
//! - apt_upgrade: safe          # safe: `apt-get upgrade --with-new-pkgs` | full: `dist-upgrade`
//!   update_cache: true         # `apt-get update` first
//!   cache_valid_time: 3600     # ...only when the lists are older than this (seconds)
//! ```
//!
//! Probe (in the host's one probe script): apt's own simulation of the upgrade
//! (`apt-get -s -o Debug::NoLocking=1 upgrade --with-new-pkgs`, or `dist-upgrade`), of which
//! the `Inst` and `Remv` lines are kept; the age of the apt lists as Ansible's `apt` module
//! reads it (the mtime of `/var/lib/apt/periodic/update-success-stamp`, else of
//! `/var/lib/apt/lists`, against the host's clock); the login's uid. Plan: one line per
//! package (`NAME OLD → NEW`, `install NAME NEW`, `remove NAME OLD`); a refresh of the lists
//! first when `update_cache` asks for one (always without `cache_valid_time`, else when the
//! lists are older), said with what it leaves unknown: what the refreshed lists bring. Apply:
//! `apt-get update` when due, then the upgrade, `DEBIAN_FRONTEND=noninteractive`, keeping
//! changed config files (`--force-confdef --force-confold`), as root.

use super::deploy::{Planned, Refused};
use super::registry::{Key, Record};
use super::Action;
use crate::resolve::{Base, Keys, ResolveError};
use crate::transport::shell_quote;

/// Which upgrade: apt-get's `upgrade --with-new-pkgs` (installs new dependencies, removes
/// nothing) or `dist-upgrade` (may remove packages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Safe,
    Full,
}

impl Mode {
    /// The key as written (`safe`, `full`).
    pub fn parse(key: &str) -> Result<Mode, String> {
        match key {
            "safe" => Ok(Mode::Safe),
            "full" => Ok(Mode::Full),
            "yes" | "true" => Err(format!(
                "apt_upgrade `{key}`: write `safe` (Ansible's `upgrade: yes`: apt-get upgrade --with-new-pkgs)"
            )),
            "dist" => Err(
                "apt_upgrade `dist`: write `full` (Ansible's `upgrade: dist`: apt-get dist-upgrade)"
                    .into(),
            ),
            _ => Err(format!(
                "apt_upgrade `{key}`: `safe` (apt-get upgrade --with-new-pkgs) or `full` (apt-get dist-upgrade)"
            )),
        }
    }

    /// apt-get's verb and options for it.
    pub fn verb(self) -> &'static str {
        match self {
            Mode::Safe => "upgrade --with-new-pkgs",
            Mode::Full => "dist-upgrade",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Mode::Safe => "safe",
            Mode::Full => "full",
        }
    }
}

/// An `apt_upgrade:` entry, rendered for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptUpgradeSpec {
    pub mode: Mode,
    /// Refresh the apt lists first.
    pub update_cache: bool,
    /// ...only when they are older than this many seconds (`None`: at every apply).
    pub cache_valid_time: Option<u64>,
    /// This run refreshed the lists ([`super::Spec::settle`]): the check after apply plans no
    /// refresh again.
    pub refreshed: bool,
}

/// What apply does: `apt-get update` first or not, then the upgrade; what it changes, as the
/// simulation saw it (the report's lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeWork {
    pub update: bool,
    pub steps: Vec<Step>,
}

/// One package the simulation changes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// `Inst NAME [OLD] (NEW …)`: upgraded from OLD, or installed (`None`).
    Inst {
        name: String,
        old: Option<String>,
        new: String,
    },
    /// `Remv NAME [OLD]`.
    Remv { name: String, old: String },
}

impl Step {
    fn name(&self) -> &str {
        match self {
            Step::Inst { name, .. } | Step::Remv { name, .. } => name,
        }
    }

    /// Its line of the plan: `~ NAME OLD → NEW`, `+ NAME NEW` (installed), `- NAME OLD`.
    pub fn line(&self) -> (super::Sign, String) {
        match self {
            Step::Inst {
                name,
                old: Some(old),
                new,
            } => (super::Sign::Changed, format!("{name} {old} → {new}")),
            Step::Inst {
                name,
                old: None,
                new,
            } => (super::Sign::Added, format!("{name} {new}")),
            Step::Remv { name, old } => (super::Sign::Removed, format!("{name} {old}")),
        }
    }
}

/// Reads the `Inst` and `Remv` lines of `apt-get -s` (LC_ALL=C); other lines are skipped.
pub fn parse_simulation(text: &str) -> Result<Vec<Step>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let (verb, rest) = match line.split_once(' ') {
            Some((v @ ("Inst" | "Remv"), rest)) => (v, rest.trim()),
            _ => continue,
        };
        let bad = || format!("an `apt-get -s` line play does not read: `{line}`");
        let (name, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        if name.is_empty() {
            return Err(bad());
        }
        let rest = rest.trim_start();
        // `[OLD]`: the installed version
        let (old, rest) = match rest.strip_prefix('[') {
            Some(r) => {
                let (v, r) = r.split_once(']').ok_or_else(bad)?;
                (Some(v.to_string()), r.trim_start())
            }
            None => (None, rest),
        };
        let name = name.to_string();
        match verb {
            "Inst" => {
                // `(NEW ARCHIVE [ARCH])`: the version it goes to
                let new = rest
                    .strip_prefix('(')
                    .and_then(|r| r.split([' ', ')']).next())
                    .filter(|v| !v.is_empty())
                    .ok_or_else(bad)?;
                out.push(Step::Inst {
                    name,
                    old,
                    new: new.to_string(),
                });
            }
            _ => out.push(Step::Remv {
                name,
                old: old.unwrap_or_default(),
            }),
        }
    }
    out.sort_by(|a, b| a.name().cmp(b.name()).then(a.cmp(b)));
    Ok(out)
}

/// What the probe saw of apt on the host for one `apt_upgrade:` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// No apt-get on the host (not Debian or Ubuntu).
    NoApt,
    Apt {
        /// The login's uid (through `become`, 0).
        uid: u32,
        /// Seconds since the lists were last refreshed (`None`: no stamp and no lists).
        age: Option<i64>,
        /// The simulation's changes, or apt's error when it failed.
        steps: Result<Vec<Step>, String>,
    },
}

/// The probe's tag for an `apt_upgrade:` entry (its key: the mode).
pub const TAG: &str = "aptup";

/// Where Ansible's apt module reads the time of the last refresh, in this order.
pub const STAMP: &str = "/var/lib/apt/periodic/update-success-stamp";
pub const LISTS: &str = "/var/lib/apt/lists";

/// The probe fragment for `mode`: the record `aptup MODE UID AGE RC CHANGES ERRORS`
/// (`UID` `noapt` and the rest empty on a host without apt-get). `CHANGES`: the `Inst` and
/// `Remv` lines of the simulation; `ERRORS`: its `E:` lines.
pub fn probe_fragment(mode: Mode) -> String {
    format!(
        r#"printf '{TAG}\0%s\0' {key}
if command -v apt-get >/dev/null 2>&1; then
  printf '%s\0' "$(id -u)"
  pa=
  if [ -e {stamp} ]; then pa=$(stat -L -c %Y {stamp} 2>/dev/null); elif [ -e {lists} ]; then pa=$(stat -L -c %Y {lists} 2>/dev/null); fi
  if [ -n "$pa" ]; then printf '%s\0' "$(( $(date +%s) - pa ))"; else printf -- '-\0'; fi
  po=$(LC_ALL=C apt-get -s -o Debug::NoLocking=1 {verb} </dev/null 2>&1)
  printf '%s\0' "$?"
  printf '%s\n' "$po" | grep -E '^(Inst|Remv) ' || :
  printf '\0'
  printf '%s\n' "$po" | grep -E '^E: ' || :
  printf '\0'
  po=
else
  printf 'noapt\0\0\0\0\0'
fi
"#,
        key = mode.key(),
        stamp = shell_quote(STAMP),
        lists = shell_quote(LISTS),
        verb = mode.verb(),
    )
}

/// Reads the fields of the entry's record (after its key).
pub fn parse_record(fields: &[String]) -> Result<Seen, String> {
    let [uid, age, rc, changes, errors] = fields else {
        return Err("the apt_upgrade probe record is cut short (internal error)".into());
    };
    if uid == "noapt" {
        return Ok(Seen::NoApt);
    }
    let uid = uid
        .trim()
        .parse()
        .map_err(|_| format!("the probe gave uid `{uid}`"))?;
    let age = match age.trim() {
        "-" => None,
        a => Some(
            a.parse()
                .map_err(|_| format!("the probe gave the apt lists' age as `{a}`"))?,
        ),
    };
    let steps = if rc.trim() == "0" {
        parse_simulation(changes)
    } else {
        let e = errors.trim();
        Err(format!(
            "apt's simulation of the upgrade (apt-get -s) failed (exit {}){}",
            rc.trim(),
            if e.is_empty() {
                String::new()
            } else {
                format!(": {}", e.lines().collect::<Vec<_>>().join(" "))
            }
        ))
    };
    Ok(Seen::Apt { uid, age, steps })
}

/// A duration as people read it (`45 s`, `12 min`, `5 h`, `3 d`).
fn human(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 120 * 60 => format!("{} min", s / 60),
        s if s < 48 * 3600 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86400),
    }
}

/// Why the lists are to be refreshed first (`None`: not due).
fn refresh_due(spec: &AptUpgradeSpec, age: Option<i64>) -> Option<String> {
    if !spec.update_cache || spec.refreshed {
        return None;
    }
    match (spec.cache_valid_time, age) {
        (None, _) | (Some(0), _) => {
            Some("apt-get update first, at every apply (no cache_valid_time)".into())
        }
        (Some(_), None) => Some("apt-get update first: no apt lists yet".into()),
        (Some(valid), Some(age)) => {
            // Ansible's test: fresh while mtime + cache_valid_time >= now (a stamp in the
            // future is fresh)
            let age = u64::try_from(age).unwrap_or(0);
            (age > valid).then(|| {
                format!(
                    "apt-get update first: lists {} old > cache_valid_time {valid} s",
                    human(age)
                )
            })
        }
    }
}

/// Plans the upgrade from what the probe saw.
pub fn plan(spec: &AptUpgradeSpec, seen: &Seen) -> Result<Option<Planned<UpgradeWork>>, Refused> {
    plan_after(spec, seen, None)
}

/// [`plan`] when another `apt_upgrade:` of the host (`earlier`, its key) changes before it in
/// this run: the packages listed are what the probe's simulation saw, and what the earlier
/// upgrade leaves of them is known only after it.
pub fn plan_after(
    spec: &AptUpgradeSpec,
    seen: &Seen,
    earlier: Option<&str>,
) -> Result<Option<Planned<UpgradeWork>>, Refused> {
    let Seen::Apt { uid, age, steps } = seen else {
        return Err(Refused(
            "this host has no apt-get: `apt_upgrade:` supports Debian and Ubuntu (apt) only".into(),
        ));
    };
    let steps = steps.as_ref().map_err(|e| Refused(e.clone()))?;
    let refresh = refresh_due(spec, *age);
    if refresh.is_none() && steps.is_empty() {
        return Ok(None);
    }
    if *uid != 0 {
        return Err(Refused(format!(
            "needs root (the login's uid is {uid}): log in as root or set `become: true`"
        )));
    }
    let mut details: Vec<String> = refresh.iter().cloned().collect();
    let count = |f: fn(&Step) -> bool| steps.iter().filter(|s| f(s)).count();
    for (n, what) in [
        (
            count(|s| matches!(s, Step::Inst { old: Some(_), .. })),
            "to upgrade",
        ),
        (
            count(|s| matches!(s, Step::Inst { old: None, .. })),
            "to install",
        ),
        (count(|s| matches!(s, Step::Remv { .. })), "to remove"),
    ] {
        if n > 0 {
            details.push(format!("{n} {what}"));
        }
    }
    if let Some(k) = earlier.filter(|_| !steps.is_empty()) {
        details.push(format!(
            "apt_upgrade {k} comes first in this run: what it leaves of these is known after it"
        ));
    }
    if refresh.is_some() {
        details.push(if steps.is_empty() {
            "nothing upgradable with the current lists; what the refreshed ones bring is known after apt-get update".into()
        } else {
            "as the current lists say; more may come: what the refreshed ones bring is known after apt-get update".into()
        });
    }
    Ok(Some(Planned {
        action: Action::Update,
        details,
        work: UpgradeWork {
            update: refresh.is_some(),
            steps: steps.clone(),
        },
    }))
}

/// The apply step: `apt-get update` when due, then the upgrade (umask 022: maintainer
/// scripts write files others read).
pub fn apply_fragment(i: usize, mode: Mode, w: &UpgradeWork) -> String {
    let apt = super::deploy::APT;
    let mut s = format!(
        "# apt_upgrade {}\nprintf '\\0play-step\\0%s\\0' {i} >&2\n",
        mode.key()
    );
    if w.update {
        s.push_str(&format!(
            "(umask 022 && {apt} update) </dev/null 1>&2 || play_fail {i}\n"
        ));
    }
    s.push_str(&format!(
        "(umask 022 && {apt} {}) </dev/null 1>&2 || play_fail {i}\nplay_ok {i}\n",
        mode.verb()
    ));
    s
}

impl AptUpgradeSpec {
    fn seen(&self, observed: &super::Observed) -> Result<Seen, Refused> {
        let fields = observed
            .deploy
            .record(TAG, self.mode.key())
            .ok_or_else(|| super::deploy::not_probed("apt"))?;
        parse_record(fields).map_err(Refused)
    }
}

impl super::Spec for AptUpgradeSpec {
    type Work = UpgradeWork;
    const DEF: &'static super::registry::KindDef = &DEF;
    fn key(&self) -> &str {
        self.mode.key()
    }
    fn has_nul(&self) -> bool {
        false
    }
    /// Two plays may both upgrade a host (a common role and an app's), as they may both run
    /// a command: one per play.
    fn owned_per_host(&self) -> bool {
        false
    }
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        // apt builds its cache from the lists when it has none saved: seconds on a big host
        p.add_slow_fragment(probe_fragment(self.mode), SIMULATION_SECS);
    }
    fn plan_work(
        &self,
        observed: &super::Observed,
        changed: &[&str],
    ) -> Result<Option<Planned<Self::Work>>, Refused> {
        // another upgrade of this host changing before it (the keys of the changes planned
        // so far: `safe` and `full` are this kind's)
        let earlier = changed
            .iter()
            .rev()
            .copied()
            .find(|k| Mode::parse(k).is_ok());
        plan_after(self, &self.seen(observed)?, earlier)
    }
    fn file_list(&self, work: &Self::Work) -> super::FileList {
        super::FileList {
            files: work.steps.iter().map(Step::line).collect(),
            more: 0,
        }
    }
    fn settle(&mut self, work: &Self::Work) {
        self.refreshed |= work.update;
    }
    fn apply_fragment(
        &self,
        index: usize,
        work: Option<&Self::Work>,
        _last: bool,
    ) -> Option<Result<(String, Vec<u8>), String>> {
        Some(Ok((apply_fragment(index, self.mode, work?), Vec::new())))
    }
    fn depends(&self, observed: &super::Observed, out: &mut super::Prints) {
        // what the simulation changes and whether a refresh is due (not the lists' age,
        // which moves every second)
        let v = match self.seen(observed) {
            Ok(Seen::Apt {
                steps: Ok(steps),
                age,
                ..
            }) => {
                let mut v: Vec<String> = steps.iter().map(|s| s.line().1).collect();
                v.extend(refresh_due(self, age).map(|_| "refresh".to_string()));
                v.join("\n")
            }
            Ok(other) => format!("{other:?}"),
            Err(e) => e.0,
        };
        out.insert(format!("apt_upgrade {}", self.mode.key()), v);
    }
}

/// The seconds the probe may take for the simulation beyond its usual bound.
pub const SIMULATION_SECS: u64 = 60;

/// [`super::registry::KindDef::check_key`]: `safe` or `full`.
fn check_key(key: &str) -> Result<String, String> {
    Mode::parse(key.trim()).map(|m| m.key().to_string())
}

/// The spec of an `apt_upgrade:` entry (the registry line's `render`), its errors located at
/// their keys.
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, state, .. } = b;
    if state.is_some() {
        return Err(k.fail(
            "state",
            "an apt_upgrade has no `state` (its key says which upgrade)".into(),
        ));
    }
    let mode = Mode::parse(&key).map_err(|e| k.fail("apt_upgrade", e))?;
    let update_cache = k.boolean("update_cache")?;
    let cache_valid_time = k.number("cache_valid_time")?;
    if update_cache == Some(false) && cache_valid_time.is_some() {
        return Err(k.fail(
            "cache_valid_time",
            "cache_valid_time says when to refresh the apt lists: it needs `update_cache: true` (or no `update_cache`)".into(),
        ));
    }
    Ok(super::Desired::AptUpgrade(AptUpgradeSpec {
        mode,
        // Ansible's meaning: `cache_valid_time` alone refreshes stale lists
        update_cache: update_cache.unwrap_or(false) || cache_valid_time.is_some(),
        cache_valid_time,
        refreshed: false,
    }))
}

/// The registry line of `apt_upgrade:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::AptUpgrade,
    name: "apt_upgrade",
    keys: &[Key::Any("update_cache"), Key::Any("cache_valid_time")],
    is_path: false,
    watchable: true,
    docs_section: "`apt_upgrade: safe|full` — every package upgraded (apt)",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key,
    render: super::registry::Render::Fn(from_entry),
    check_value,
    records: &[Record {
        tag: TAG,
        fields: 6,
        per_host: false,
    }],
    check_entry: super::registry::any_entry,
};

/// [`super::registry::KindDef::check_value`]: `cache_valid_time` a whole number of seconds.
fn check_value(key: &str, value: &str) -> Result<(), String> {
    match key {
        "cache_valid_time" if value.trim().parse::<u64>().is_err() => Err(format!(
            "cache_valid_time `{value}`: a whole number of seconds"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIM: &str = "Reading package lists...\nBuilding dependency tree...\nCalculating upgrade...\nThe following packages will be upgraded:\n  hello-play\nInst hello-play [1.0] (2.0 localhost [all])\nInst libfoo2 (2.1-1 Debian:12.5/stable [amd64])\nRemv oldlib [0.9-3]\nInst apt [2.6.1] (2.6.1+deb12u1 Debian:12.15/oldstable [amd64]) []\nConf hello-play (2.0 localhost [all])\n";

    fn spec(update_cache: bool, valid: Option<u64>) -> AptUpgradeSpec {
        AptUpgradeSpec {
            mode: Mode::Safe,
            update_cache,
            cache_valid_time: valid,
            refreshed: false,
        }
    }

    fn seen(age: Option<i64>, sim: &str) -> Seen {
        Seen::Apt {
            uid: 0,
            age,
            steps: parse_simulation(sim),
        }
    }

    #[test]
    fn modes() {
        assert_eq!(Mode::parse("safe"), Ok(Mode::Safe));
        assert_eq!(Mode::parse("full"), Ok(Mode::Full));
        assert!(Mode::parse("dist").unwrap_err().contains("write `full`"));
        assert!(Mode::parse("yes").unwrap_err().contains("write `safe`"));
        assert!(Mode::parse("all").unwrap_err().contains("`safe`"));
        assert_eq!(check_key(" full "), Ok("full".into()));
        assert!(check_value("cache_valid_time", "3600").is_ok());
        assert!(check_value("cache_valid_time", "1h").is_err());
        assert!(check_value("update_cache", "x").is_ok());
    }

    fn lines(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| {
                let (sign, text) = s.line();
                format!("{} {text}", sign.char())
            })
            .collect()
    }

    #[test]
    fn the_simulation_is_read_sorted_by_name() {
        let steps = parse_simulation(SIM).unwrap();
        assert_eq!(
            lines(&steps),
            vec![
                "~ apt 2.6.1 → 2.6.1+deb12u1",
                "~ hello-play 1.0 → 2.0",
                "+ libfoo2 2.1-1",
                "- oldlib 0.9-3",
            ]
        );
        assert_eq!(
            parse_simulation("0 upgraded, 0 newly installed\n"),
            Ok(vec![])
        );
        assert!(parse_simulation("Inst x [1.0\n").is_err());
        assert!(parse_simulation("Inst x\n").is_err());
    }

    #[test]
    fn nothing_to_upgrade_and_fresh_lists_is_no_change() {
        let none = "0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n";
        assert_eq!(plan(&spec(false, None), &seen(Some(10), none)), Ok(None));
        // fresh enough
        assert_eq!(
            plan(&spec(true, Some(3600)), &seen(Some(3600), none)),
            Ok(None)
        );
        // a stamp in the future (a clock put back) is fresh, as for Ansible
        assert_eq!(
            plan(&spec(true, Some(3600)), &seen(Some(-50), none)),
            Ok(None)
        );
    }

    #[test]
    fn one_line_per_package() {
        let p = plan(&spec(false, None), &seen(Some(10), SIM))
            .unwrap()
            .unwrap();
        assert_eq!(p.action, Action::Update);
        assert_eq!(
            p.details,
            vec!["2 to upgrade", "1 to install", "1 to remove"]
        );
        assert!(!p.work.update);
        let listed = super::super::Spec::file_list(&spec(false, None), &p.work);
        assert_eq!(listed.lines(), lines(&parse_simulation(SIM).unwrap()));
        assert_eq!(listed.lines()[1], "~ hello-play 1.0 → 2.0");
        // lists fresh enough: no refresh, the same lines
        let q = plan(&spec(true, Some(3600)), &seen(Some(60), SIM))
            .unwrap()
            .unwrap();
        assert_eq!(q.details, p.details);
        assert_eq!(q.work, p.work);
    }

    #[test]
    fn a_refresh_says_what_it_leaves_unknown() {
        let p = plan(&spec(true, Some(3600)), &seen(Some(7300), SIM))
            .unwrap()
            .unwrap();
        assert_eq!(
            p.details[0],
            "apt-get update first: lists 2 h old > cache_valid_time 3600 s"
        );
        assert_eq!(p.details[1], "2 to upgrade");
        assert!(p.details[4].contains("more may come"), "{:?}", p.details);
        assert!(p.work.update);
        assert_eq!(p.work.steps.len(), 4);
        // nothing upgradable now: still a change, the refresh, said so
        let none = "0 upgraded\n";
        let p = plan(&spec(true, Some(60)), &seen(Some(61), none))
            .unwrap()
            .unwrap();
        assert_eq!(p.details.len(), 2);
        assert!(p.details[1].starts_with("nothing upgradable with the current lists"));
        // no lists at all
        let p = plan(&spec(true, Some(60)), &seen(None, none))
            .unwrap()
            .unwrap();
        assert_eq!(p.details[0], "apt-get update first: no apt lists yet");
        // without cache_valid_time (or 0): at every apply (`diff --exit-code` exits 2)
        for valid in [None, Some(0)] {
            let p = plan(&spec(true, valid), &seen(Some(1), none))
                .unwrap()
                .unwrap();
            assert!(p.details[0].contains("at every apply"), "{:?}", p.details);
        }
        // once refreshed by this run (the check after apply), no refresh again
        let mut s = spec(true, None);
        super::super::Spec::settle(
            &mut s,
            &UpgradeWork {
                update: true,
                steps: vec![],
            },
        );
        assert_eq!(plan(&s, &seen(Some(1), none)), Ok(None));
    }

    /// tournesol's role: a safe upgrade, then a full one: the second lists what the probe saw
    /// and says the first comes before it.
    #[test]
    fn a_second_upgrade_says_the_first_comes_before_it() {
        let p = plan_after(&spec(false, None), &seen(Some(10), SIM), Some("safe"))
            .unwrap()
            .unwrap();
        assert_eq!(
            p.details.last().map(String::as_str),
            Some("apt_upgrade safe comes first in this run: what it leaves of these is known after it")
        );
        assert_eq!(p.work.steps.len(), 4);
        let none = "0 upgraded\n";
        assert_eq!(
            plan_after(&spec(false, None), &seen(Some(10), none), Some("safe")),
            Ok(None)
        );
    }

    #[test]
    fn refusals() {
        let e = plan(&spec(false, None), &Seen::NoApt).unwrap_err();
        assert!(e.0.contains("Debian and Ubuntu"), "{e}");
        let user = Seen::Apt {
            uid: 1000,
            age: Some(1),
            steps: parse_simulation(SIM),
        };
        let e = plan(&spec(false, None), &user).unwrap_err();
        assert!(e.0.contains("needs root"), "{e}");
        assert!(e.0.contains("become"), "{e}");
        // nothing to do: no refusal, whoever logs in
        let idle = Seen::Apt {
            uid: 1000,
            age: Some(1),
            steps: Ok(vec![]),
        };
        assert_eq!(plan(&spec(false, None), &idle), Ok(None));
        let broken = Seen::Apt {
            uid: 0,
            age: Some(1),
            steps: Err("apt's simulation failed".into()),
        };
        assert!(plan(&spec(false, None), &broken).is_err());
    }

    #[test]
    fn the_record_is_read() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_record(&f(&["noapt", "", "", "", ""])),
            Ok(Seen::NoApt)
        );
        let s = parse_record(&f(&["0", "42", "0", "Inst a [1] (2 x [all])\n", ""])).unwrap();
        assert_eq!(s, seen(Some(42), "Inst a [1] (2 x [all])\n"));
        let s = parse_record(&f(&["0", "-", "0", "", ""])).unwrap();
        assert_eq!(s, seen(None, ""));
        let Seen::Apt { steps, .. } = parse_record(&f(&[
            "0",
            "1",
            "100",
            "",
            "E: Unmet dependencies.\nE: broken\n",
        ]))
        .unwrap() else {
            panic!("apt")
        };
        let e = steps.unwrap_err();
        assert!(e.contains("exit 100"), "{e}");
        assert!(e.contains("E: Unmet dependencies. E: broken"), "{e}");
        assert!(parse_record(&f(&["0", "1"])).is_err());
        assert!(parse_record(&f(&["x", "1", "0", "", ""])).is_err());
    }

    #[test]
    fn apply_refreshes_then_upgrades() {
        let w = |update| UpgradeWork {
            update,
            steps: vec![],
        };
        let s = apply_fragment(3, Mode::Full, &w(true));
        assert!(s.contains("printf '\\0play-step\\0%s\\0' 3 >&2\n"), "{s}");
        let update = s.find(" update)").expect("update");
        let up = s.find(" dist-upgrade)").expect("dist-upgrade");
        assert!(update < up, "{s}");
        assert!(
            s.contains("DEBIAN_FRONTEND=noninteractive apt-get -y"),
            "{s}"
        );
        assert!(s.contains("--force-confold"), "{s}");
        assert!(s.contains("|| play_fail 3\nplay_ok 3\n"), "{s}");
        let s = apply_fragment(1, Mode::Safe, &w(false));
        assert!(!s.contains(" update)"), "{s}");
        assert!(
            s.contains(" upgrade --with-new-pkgs) </dev/null 1>&2"),
            "{s}"
        );
    }

    /// The fragment runs on this machine's sh: with apt-get (a Debian machine) its record
    /// has the fields [`parse_record`] reads; the simulation is replaced by a canned one.
    #[test]
    fn the_fragment_writes_the_record() {
        let frag = probe_fragment(Mode::Safe).replace(
            "LC_ALL=C apt-get -s -o Debug::NoLocking=1 upgrade --with-new-pkgs",
            "printf 'Reading\\nInst a [1] (2 x [all])\\nConf a (2 x [all])\\n'; true",
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&frag)
            .output()
            .expect("sh");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let fields: Vec<String> = text.split('\0').map(str::to_string).collect();
        assert_eq!(fields[0], TAG);
        assert_eq!(fields[1], "safe");
        if fields[2] == "noapt" {
            return; // not a Debian machine
        }
        let Seen::Apt { steps, .. } = parse_record(&fields[2..7]).unwrap() else {
            panic!("{text:?}")
        };
        assert_eq!(steps.unwrap().len(), 1);
    }
}
