//! A project's dependencies installed by its package manager into a folder of the project
//! (`npm:`'s `node_modules`, `composer:`'s `vendor`), what the kinds of those managers share.
//!
//! The probe runs no package manager: it reads whether the installed folder exists, the state
//! file play writes there after each install (`sha256 HEX` of the lock file, `args ARGS` of the
//! options it installed with) and the sha256 of the project's lock file now (the first of the
//! kind's files that exists: `package-lock.json`, then `package.json`).
//!
//! Probe record (one per project): `TAG \0 DIR \0 INSTALLED \0 STATE \0 SUM \0`: `d` when the
//! installed folder exists (else `-`), the state file's text, the sha256 (`missing`: none of
//! the files).

use super::deploy::{Planned, Refused};
use super::{Action, Attrs, Presence};
use crate::transport::shell_quote;

/// What a package manager's project looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The probe record's tag (the kind's name).
    pub tag: &'static str,
    /// The folder the install fills, under the project (`node_modules`).
    pub installed: &'static str,
    /// The files whose sha256 is recorded: the first that exists (`package-lock.json`, then
    /// `package.json`).
    pub locks: &'static [&'static str],
    /// The state file, inside [`Layout::installed`].
    pub state_file: &'static str,
}

impl Layout {
    fn installed_path(&self, dir: &str) -> String {
        format!("{}/{}", dir.trim_end_matches('/'), self.installed)
    }

    /// The lock files of the project at `dir`, in the order the first that exists is summed.
    pub fn lock_paths(&self, dir: &str) -> Vec<String> {
        let d = dir.trim_end_matches('/');
        self.locks.iter().map(|l| format!("{d}/{l}")).collect()
    }

    /// The paths it owns besides its key: the installed folder.
    pub fn owned(&self, dir: &str) -> Vec<String> {
        vec![super::tree::normalize(&self.installed_path(dir))]
    }
}

/// What the probe saw of one project.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// The installed folder exists.
    pub installed: bool,
    /// The lock sha256 recorded at the last install.
    pub recorded: Option<String>,
    /// The options recorded at the last install.
    pub recorded_args: Option<String>,
    /// The lock sha256 now (`None`: none of the files exists).
    pub sum: Option<String>,
}

/// Reads a record's fields after the key.
pub fn parse_seen(installed: &str, state: &str, sum: &str) -> Seen {
    let field = |name: &str| {
        state
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|s| s.trim().to_string())
    };
    Seen {
        installed: installed.trim() == "d",
        recorded: field("sha256 "),
        recorded_args: field("args ")
            .or_else(|| state.lines().any(|l| l == "args").then(String::new)),
        sum: match sum.trim() {
            "" | "missing" => None,
            s => Some(s.to_string()),
        },
    }
}

/// The project's record in `observed`, parsed.
pub fn seen(layout: &Layout, observed: &super::Observed, dir: &str) -> Option<Seen> {
    match observed.deploy.record(layout.tag, dir)? {
        [installed, state, sum] => Some(parse_seen(installed, state, sum)),
        _ => None,
    }
}

/// Shell text setting `$rs` to the sha256 of the first of `paths` that is a file, else
/// `missing` (`fail`: what runs when sha256sum fails; `user`: read as that user through
/// `play_as`, so root follows no link that user placed there: a project's lock in its apply
/// step). Also `unarchive:`'s archive.
pub fn sum_of_first(paths: &[String], fail: &str, user: Option<&str>) -> String {
    let files: Vec<String> = paths.iter().map(|p| shell_quote(p)).collect();
    let read = match user {
        None => "rs=$(sha256sum < \"$f\")".to_string(),
        // a name with a backslash or a line break is printed `\HEX  NAME`
        Some(u) => format!(
            "rs=$(play_as {} sha256sum -- \"$f\") && rs=${{rs#\\\\}}",
            shell_quote(u)
        ),
    };
    format!(
        "rs=missing\nfor f in {}; do if [ -f \"$f\" ]; then {read} || {fail}; rs=${{rs%% *}}; break; fi; done\n",
        files.join(" ")
    )
}

/// The probe fields after a record's key: `d` when `installed` is a folder (else `-`), the
/// text of the state file `state`, the sha256 of the first of `sums` that is a file (see the
/// module's record).
pub fn probe_fields(installed: &str, state: &str, sums: &[String]) -> String {
    format!(
        "if [ -d {installed} ]; then printf 'd\\0'; else printf '%s\\0' -; fi\ncat {state} 2>/dev/null\nprintf '\\0'\n{sum}printf '%s\\0' \"$rs\"\n",
        installed = shell_quote(installed),
        state = shell_quote(state),
        sum = sum_of_first(sums, "rs=missing", None),
    )
}

/// Step lines of step `i` writing the state file `path` (root's, 0644, through the apply
/// builder's `fetched_file`) with the lines `printf` prints (`printf FORMAT ARGS`, `$rs` the
/// sum): what the next probe reads back.
pub fn state_step(i: usize, path: &str, printf: &str) -> String {
    let attrs = Attrs {
        owner: None,
        group: None,
        mode: Some(0o644),
    };
    crate::apply::fetched_file(
        i,
        path,
        &attrs,
        &format!("{printf} > \"$t\" || play_fail {i}"),
        "-",
        "-",
    )
}

/// The probe fragment of the project at `dir` (see the module's record).
pub fn probe_fragment(layout: &Layout, dir: &str) -> String {
    probe_fragment_locks(layout, dir, &layout.lock_paths(dir))
}

/// [`probe_fragment`] with the lock files given (a project naming its own, as `bundle:`'s
/// `gemfile`).
pub fn probe_fragment_locks(layout: &Layout, dir: &str, locks: &[String]) -> String {
    format!(
        "printf '{tag}\\0%s\\0' {q}\n{fields}",
        tag = layout.tag,
        q = shell_quote(dir),
        fields = probe_fields(
            &layout.installed_path(dir),
            &format!("{}/{}", layout.installed_path(dir), layout.state_file),
            locks
        ),
    )
}

/// The `Spec` methods the project kinds (`composer:`, `bundle:`) share, in their `impl Spec`:
/// the key (the folder, `self.path`), the installed folder it owns (the kind's `LAYOUT`), its
/// `user`'s account, its record in a plan file's fingerprint (`LABEL PATH`) and its step (the
/// kind's `apply_fragment(index, spec, op)`).
macro_rules! project_spec_methods {
    ($label:literal) => {
        fn apply_fragment(
            &self,
            index: usize,
            work: Option<&Self::Work>,
            _last: bool,
        ) -> Option<Result<(String, Vec<u8>), String>> {
            work.map(|op| Ok((apply_fragment(index, self, op), Vec::new())))
        }
        fn depends(&self, observed: &super::Observed, out: &mut super::Prints) {
            if let Some(s) = super::project_deps::seen(&LAYOUT, observed, &self.path) {
                out.insert(format!("{} {}", $label, self.path), format!("{s:?}"));
            }
        }
        fn accounts(&self) -> Vec<(super::accounts::Account, &str)> {
            super::accounts::pair(&self.user, &None)
        }
        fn owned_paths(&self) -> Vec<String> {
            LAYOUT.owned(&self.path)
        }
        fn key(&self) -> &str {
            &self.path
        }
    };
}
pub(crate) use project_spec_methods;

/// What apply does to a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Install its dependencies, then record the lock's sha256 and the options.
    Install,
    /// Remove the installed folder.
    Remove,
}

/// Plans one project. `args`: the options it installs with (recorded: other options install
/// again); `changed`: keys of the host's resources changing before it in this run (a project
/// at or below one of them, or its lock file, is known only after it: installed again).
pub fn plan(
    layout: &Layout,
    dir: &str,
    presence: Presence,
    args: &str,
    seen: &Seen,
    changed: &[&str],
) -> Result<Option<Planned<Op>>, Refused> {
    plan_locks(
        layout,
        (dir, &layout.lock_paths(dir)),
        presence,
        args,
        seen,
        changed,
    )
}

/// [`plan`] with the lock files given (see [`probe_fragment_locks`]).
pub fn plan_locks(
    layout: &Layout,
    (dir, locks): (&str, &[String]),
    presence: Presence,
    args: &str,
    seen: &Seen,
    changed: &[&str],
) -> Result<Option<Planned<Op>>, Refused> {
    if presence == Presence::Absent {
        return Ok(seen.installed.then(|| Planned {
            action: Action::Delete,
            details: vec![format!("- {}", layout.installed)],
            work: Op::Remove,
        }));
    }
    let moved = changed.iter().find(|k| {
        k.starts_with('/')
            && (super::tree::is_under(dir, k)
                || super::tree::normalize(dir) == super::tree::normalize(k)
                || locks
                    .iter()
                    .any(|l| super::tree::normalize(l) == super::tree::normalize(k)))
    });
    let lock = locks
        .first()
        .map(|l| l.rsplit('/').next().unwrap_or(l))
        .unwrap_or_default();
    let why = if !seen.installed {
        format!("no {} yet", layout.installed)
    } else if let Some(k) = moved {
        format!("known after {k}")
    } else if seen.sum.is_none() {
        let names: Vec<&str> = locks
            .iter()
            .map(|l| l.rsplit('/').next().unwrap_or(l))
            .collect();
        format!("no {} on the host yet", names.join(" or "))
    } else if seen.recorded.is_none() {
        "no record of the last install".into()
    } else if seen.sum != seen.recorded {
        format!("{lock} changed since the last install")
    } else if seen.recorded_args.as_deref() != Some(args) {
        format!(
            "options `{}` → `{args}`",
            seen.recorded_args.as_deref().unwrap_or_default()
        )
    } else {
        return Ok(None);
    };
    Ok(Some(Planned {
        action: if seen.installed {
            Action::Update
        } else {
            Action::Create
        },
        details: vec![why],
        work: Op::Install,
    }))
}

/// The apply step of one project (inside the apply script): `label` its comment, `run` the
/// shell text installing its dependencies (run in the project's folder, in a subshell, as
/// `user` through `play_as`), `args` the options recorded.
pub fn apply_fragment(
    index: usize,
    label: &str,
    layout: &Layout,
    dir: &str,
    user: Option<&str>,
    op: &Op,
    (run, args): (&str, &str),
) -> String {
    apply_fragment_locks(
        index,
        label,
        (layout, dir, &layout.lock_paths(dir)),
        user,
        op,
        (run, args),
    )
}

/// [`apply_fragment`] with the lock files given (see [`probe_fragment_locks`]).
pub fn apply_fragment_locks(
    index: usize,
    label: &str,
    (layout, dir, locks): (&Layout, &str, &[String]),
    user: Option<&str>,
    op: &Op,
    (run, args): (&str, &str),
) -> String {
    let i = index;
    let installed = layout.installed_path(dir);
    let mut s = format!("# {label}\nprintf '\\0play-step\\0%s\\0' {i} >&2\n");
    if *op == Op::Remove {
        s.push_str(&crate::apply::removal(i, &installed, "rm -rf"));
        s.push_str(&format!("play_ok {i}\n"));
        return s;
    }
    let name = shell_quote(layout.installed);
    s.push_str(&format!(
        "(cd {d} && umask 022 && {run} && {{ [ -d {name} ] || play_as {u} mkdir -- {name}; }}) </dev/null 1>&2 || play_fail {i}\n",
        d = shell_quote(dir),
        u = shell_quote(user.unwrap_or_default()),
    ));
    s.push_str(&sum_of_first(locks, &format!("play_fail {i}"), user));
    s.push_str(&state_step(
        i,
        &format!("{installed}/{}", layout.state_file),
        &format!(
            "printf 'sha256 %s\\nargs %s\\n' \"$rs\" {}",
            shell_quote(args)
        ),
    ));
    s.push_str(&format!("play_ok {i}\n"));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Layout = Layout {
        tag: "t",
        installed: "deps",
        locks: &["a.lock", "a.json"],
        state_file: ".play-t",
    };

    fn recorded(sum: &str, args: &str) -> Seen {
        parse_seen("d", &format!("sha256 {sum}\nargs {args}\n"), sum)
    }

    #[test]
    fn the_recorded_sum_and_options_decide() {
        let same = recorded("ab", "--x");
        let p = |s: &Seen, changed: &[&str]| {
            plan(&L, "/srv/app", Presence::Present, "--x", s, changed)
                .unwrap()
                .map(|p| (p.action, p.details))
        };
        assert_eq!(p(&same, &[]), None);
        assert_eq!(p(&same, &["/srv/other", "nginx"]), None);
        let moved = p(&same, &["/srv"]).unwrap();
        assert_eq!(moved, (Action::Update, vec!["known after /srv".into()]));
        assert!(p(&same, &["/srv/app/a.json"]).is_some());
        let changed = Seen {
            sum: Some("cd".into()),
            ..same.clone()
        };
        assert_eq!(
            p(&changed, &[]).unwrap().1,
            vec!["a.lock changed since the last install".to_string()]
        );
        let none = parse_seen("-", "", "missing");
        assert_eq!(
            p(&none, &[]).unwrap(),
            (Action::Create, vec!["no deps yet".into()])
        );
        assert_eq!(
            p(&recorded("ab", ""), &[]).unwrap().1,
            vec!["options `` → `--x`".to_string()]
        );
        let unrecorded = parse_seen("d", "", "ab");
        assert!(p(&unrecorded, &[]).is_some());
        // an empty option list is recorded as `args ` and read back as empty
        let bare = parse_seen("d", "sha256 ab\nargs \n", "ab");
        assert_eq!(bare.recorded_args.as_deref(), Some(""));
    }

    #[test]
    fn absent_removes_the_installed_folder() {
        let gone = plan(
            &L,
            "/srv/app",
            Presence::Absent,
            "",
            &parse_seen("-", "", ""),
            &[],
        );
        assert_eq!(gone.unwrap(), None);
        let p = plan(
            &L,
            "/srv/app",
            Presence::Absent,
            "",
            &recorded("ab", ""),
            &[],
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.work, Op::Remove);
        let f = apply_fragment(3, "t /srv/app", &L, "/srv/app", None, &p.work, ("x", ""));
        assert!(f.contains("rm -rf -- deps"), "{f}");
    }

    #[test]
    fn the_install_records_the_lock_it_leaves() {
        let f = apply_fragment(
            2,
            "t /srv/my app",
            &L,
            "/srv/my app",
            Some("app"),
            &Op::Install,
            ("play_as app tool install", "--x"),
        );
        assert!(
            f.contains("(cd '/srv/my app' && umask 022 && play_as app tool install && { [ -d deps ] || play_as app mkdir -- deps; }) </dev/null 1>&2 || play_fail 2\n"),
            "{f}"
        );
        // the sum is taken after the install (which may write the lock)
        let run = f.find("tool install").unwrap_or(usize::MAX);
        let sum = f
            .find("for f in '/srv/my app/a.lock' '/srv/my app/a.json'")
            .unwrap_or(0);
        assert!(run < sum, "{f}");
        // read as the project's user: root follows no link of theirs
        assert!(
            f.contains(
                "then rs=$(play_as app sha256sum -- \"$f\") && rs=${rs#\\\\} || play_fail 2;"
            ),
            "{f}"
        );
        assert!(
            f.contains("printf 'sha256 %s\\nargs %s\\n' \"$rs\" --x > \"$t\" || play_fail 2"),
            "{f}"
        );
    }
}
