//! Ansible's `deploy_helper` (community.general) → play: the folders as `directory:`
//! resources, the `deploy_helper` var holding the facts the module returns, the link switch as
//! a `link:`, and the cleaning of old and unfinished releases as a guarded `command:`.
//!
//! The module's facts (`state: present`/`query`), computed as it computes them
//! (`os.path.join(path, X)`, Ansible's `path_join`): `project_path`, `current_path`,
//! `releases_path`, `shared_path` (none when `shared_path` is empty), `new_release` (the
//! `release` argument, else the run's start time `%Y%m%d%H%M%S`: play's `play_run_time.stamp`,
//! the same for every host of the run and in `apply --plan` as in the `diff` that saved it),
//! `new_release_path`, `unfinished_filename`, and `previous_release`/`previous_release_path`:
//! the target of the current link, read by a gathered value in the host's first probe.

use super::{owner_group_mode, sh_quote, Res};
use crate::import::task::Task;
use crate::yaml::{Mapping, Value};

/// The name of the gathered value reading the current link's target.
pub const PREVIOUS: &str = "deploy_helper_previous";

/// The var Ansible's module sets.
pub const VAR: &str = "deploy_helper";

/// What a `deploy_helper` task becomes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mapped {
    /// Resources, in order.
    pub resources: Vec<Res>,
    /// The `deploy_helper` var (`state: present`/`query`).
    pub var: Option<(String, Value)>,
    /// The gathered value its `previous_release` reads: name and spec.
    pub gather: Option<(String, Value)>,
    /// For IMPORT.md.
    pub notes: Vec<String>,
    /// The key of the earlier `file:` that writes the unfinished file: to be made a
    /// [`marker_touch`] command.
    pub touched: Option<String>,
}

/// A value of the task as play writes it: known text, or a Jinja expression.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Lit(String),
    Expr(String),
    /// `os.path.join` of the parts (not all known): `[a, b] | path_join`.
    Join(Vec<V>),
}

impl V {
    /// A task argument's text: literal, or an expression (`{{ x }}` → `(x)`; text with
    /// templates in it → its parts joined with `~`). `None` for `{% %}` blocks.
    fn of(text: &str) -> Option<V> {
        if !text.contains("{{") && !text.contains("{%") {
            return Some(V::Lit(text.to_string()));
        }
        if text.contains("{%") || text.contains("{#") {
            return None;
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(lit_expr(&rest[..start]));
            }
            let end = rest[start..].find("}}")? + start;
            let inner = rest[start + 2..end].trim();
            if inner.is_empty() {
                return None;
            }
            parts.push(if simple(inner) {
                inner.to_string()
            } else {
                format!("({inner})")
            });
            rest = &rest[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(lit_expr(rest));
        }
        Some(V::Expr(if parts.len() == 1 {
            parts.remove(0)
        } else {
            format!("({})", parts.join(" ~ "))
        }))
    }

    fn expr(&self) -> String {
        match self {
            V::Lit(s) => lit_expr(s),
            V::Expr(e) => e.clone(),
            V::Join(parts) => format!(
                "([{}] | path_join)",
                parts.iter().map(V::expr).collect::<Vec<_>>().join(", ")
            ),
        }
    }

    /// As a YAML value of play (a template where not known).
    fn template(&self) -> String {
        match self {
            V::Lit(s) => s.clone(),
            other => format!("{{{{ {} }}}}", strip_parens(&other.expr())),
        }
    }

    /// As one word of a shell command line.
    fn word(&self) -> String {
        match self {
            V::Lit(s) => sh_quote(s),
            other => format!("{{{{ {} | quote }}}}", other.expr()),
        }
    }

    /// `os.path.join(self, other)`.
    fn join(&self, other: &V) -> V {
        match (self, other) {
            (V::Lit(a), V::Lit(b)) => V::Lit(crate::resolve::ansible::path_join(vec![
                a.clone(),
                b.clone(),
            ])),
            (V::Join(parts), _) => {
                let mut parts = parts.clone();
                parts.push(other.clone());
                V::Join(parts)
            }
            _ => V::Join(vec![self.clone(), other.clone()]),
        }
    }
}

/// A name or a dotted path (`project_root`, `deploy_helper.new_release`): no parentheses needed.
fn simple(e: &str) -> bool {
    !e.is_empty()
        && e.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

fn strip_parens(e: &str) -> &str {
    match e.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
        // only when the parentheses are one pair around the whole
        Some(inner) if balanced(inner) => inner,
        _ => e,
    }
}

fn balanced(s: &str) -> bool {
    let mut depth = 0i32;
    for c in s.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    depth == 0
}

/// A Jinja string literal.
fn lit_expr(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The module's arguments, with its defaults.
struct Args {
    path: V,
    current: V,
    releases: V,
    /// None: `shared_path: ""` (no shared folder).
    shared: Option<V>,
    release: Option<V>,
    unfinished: V,
    keep: V,
    clean: bool,
    /// `new_release_path` when the var gives it ([`as_var`]).
    new_path: Option<V>,
}

fn arg(t: &Task, names: &[&str], default: &str) -> Result<V, String> {
    let text = t.arg_str(names).unwrap_or_else(|| default.to_string());
    V::of(&text).ok_or_else(|| {
        format!(
            "`deploy_helper` whose `{}` is a template with `{{% %}}`: play cannot compute its paths",
            names[0]
        )
    })
}

fn args(t: &Task) -> Result<Args, String> {
    let path = t
        .arg_str(&["path", "dest"])
        .ok_or("`deploy_helper` without `path`")?;
    let path = V::of(&path).ok_or("`deploy_helper` whose `path` has `{% %}`")?;
    let shared = match t.arg_str(&["shared_path"]) {
        Some(s) if s.is_empty() => None,
        _ => Some(arg(t, &["shared_path"], "shared")?),
    };
    let release = match t.arg_str(&["release"]) {
        Some(r) => Some(V::of(&r).ok_or("`deploy_helper` whose `release` has `{% %}`")?),
        None => None,
    };
    // `keep_releases: "{{ x | default(omit) }}"`: omitted is the module's default, 5.
    let keep_text = t
        .arg_str(&["keep_releases"])
        .unwrap_or_else(|| "5".into())
        .replace("default(omit)", "default(5)");
    let keep = V::of(&keep_text).ok_or("`deploy_helper` whose `keep_releases` has `{% %}`")?;
    Ok(Args {
        current: path.join(&arg(t, &["current_path"], "current")?),
        releases: path.join(&arg(t, &["releases_path"], "releases")?),
        shared: shared.map(|s| path.join(&s)),
        path,
        release,
        unfinished: arg(t, &["unfinished_filename"], "DEPLOY_UNFINISHED")?,
        keep,
        clean: t.arg_bool(&["clean"]).unwrap_or(true),
        new_path: None,
    })
}

/// What the role or play of the task declares before it.
#[derive(Debug, Clone, Default)]
pub struct Known<'a> {
    /// The `deploy_helper` var (of a `state: present` before).
    pub var: Option<&'a Value>,
    /// The `file:` resources before it without content (Ansible's `state: touch`): key (a
    /// template as written) and mode.
    pub files: Vec<(String, Option<String>)>,
}

/// The unfinished file written by an earlier `state: touch` ([`Known::files`]), as a command:
/// Ansible's touch changes on every run, and the finalize removes the file in the same run
/// (one resource owns a path in play, and a `file:` would be found missing when checked).
pub fn marker_touch(key: &str, mode: Option<&str>) -> Res {
    let mut r = Res::new("command", touch_line(key, mode));
    r.comments
        .push("deploy_helper's unfinished file, removed by the finalize below".into());
    r.notes.push(
        "the unfinished file of a `deploy_helper` release is a command (`touch`): the finalize \
         removes it later in the same run, and one resource owns a path in play"
            .into(),
    );
    r
}

fn touch_line(key: &str, mode: Option<&str>) -> String {
    let q = sh_quote(key);
    match mode {
        Some(m) => format!("touch -- {q} && chmod {m} -- {q}"),
        None => format!("touch -- {q}"),
    }
}

/// Text without blanks: two templates compared as written.
fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// A finalize naming the release and paths of the `deploy_helper` var before it (trellis'
/// `release: "{{ deploy_helper.new_release }}"` with the same `path` and `current_path`): its
/// paths written as the var's.
fn as_var(a: &mut Args, known: &Known) {
    let Some(Value::Mapping(var)) = known.var else {
        return;
    };
    let field = |k: &str| {
        var.get(Value::String(k.into()))
            .and_then(Value::as_str)
            .map(squeeze)
    };
    let same = |k: &str, v: &V| field(k) == Some(squeeze(&v.template()));
    let release_is_var = a.release.as_ref().is_some_and(|r| {
        squeeze(&r.template()) == squeeze(&format!("{{{{ {VAR}.new_release }}}}"))
    });
    if release_is_var
        && same("project_path", &a.path)
        && same("current_path", &a.current)
        && same("releases_path", &a.releases)
        && same("unfinished_filename", &a.unfinished)
    {
        a.current = V::Expr(format!("{VAR}.current_path"));
        a.releases = V::Expr(format!("{VAR}.releases_path"));
        a.unfinished = V::Expr(format!("{VAR}.unfinished_filename"));
        a.new_path = Some(V::Expr(format!("{VAR}.new_release_path")));
    }
}

/// Maps a `deploy_helper` task, or says why it is left out.
pub fn map(t: &Task, known: &Known) -> Result<Mapped, String> {
    let mut a = args(t)?;
    let state = t.arg_str(&["state"]).unwrap_or_else(|| "present".into());
    let mut out = Mapped::default();
    match state.as_str() {
        "present" | "query" => {
            let (var, gather) = facts(&a);
            out.var = Some(var);
            out.gather = Some(gather);
            if state == "present" {
                let mut folders = vec![&a.path, &a.releases];
                folders.extend(a.shared.as_ref());
                for f in folders {
                    let mut r = Res::new("directory", f.template());
                    owner_group_mode(t, &mut r);
                    out.resources.push(r);
                }
                out.notes.push(
                    "Ansible's check that `current_path` is no folder or file is not carried (play's \
                     `link:` refuses to replace one at the switch)"
                        .into(),
                );
            }
        }
        "finalize" => {
            let Some(release) = a.release.clone() else {
                return Err("`deploy_helper: state=finalize` without `release` (Ansible requires it)".into());
            };
            as_var(&mut a, known);
            let new_path = a.new_path.clone().unwrap_or_else(|| a.releases.join(&release));
            // `NEW/UNFINISHED`, as a task writing it names it (`{{ p }}/{{ f }}`).
            let marker_key = match (&new_path, &a.unfinished) {
                (V::Lit(p), V::Lit(f)) => crate::resolve::ansible::path_join(vec![p.clone(), f.clone()]),
                _ => format!("{}/{}", new_path.template(), a.unfinished.template()),
            };
            let marked = (known.files.iter()).find(|(f, _)| squeeze(f) == squeeze(&marker_key));
            let marker = new_path.join(&a.unfinished).word();
            let mut link = Res::new("link", a.current.template());
            link.set("target", new_path.template());
            if let Some((key, mode)) = marked {
                // The role writes the unfinished file earlier in the run (a `touch` command,
                // [`marker_touch`]): its removal is a command after the switch, run when the
                // touch ran.
                out.touched = Some(key.clone());
                out.resources.push(link);
                let mut r = if a.clean {
                    cleaning(&a, true, Some(&marker))
                } else {
                    let mut r = Res::new("command", format!("rm -f -- {marker}"));
                    r.comments.push("deploy_helper's finalize: the unfinished file removed".into());
                    r
                };
                r.fields.retain(|(k, _)| k != "unless");
                r.watch("on_change", &touch_line(key, mode.as_deref()));
                r.notes.push(format!(
                    "the unfinished file `{key}` is written by an earlier task (a `touch` command, as \
                     Ansible's touch a change on every run): its removal is a command after the \
                     switch, run when that one ran"
                ));
                out.resources.push(r);
            } else {
                let mut gone = Res::new("file", marker_key);
                gone.set("state", "absent");
                out.resources.push(gone);
                out.resources.push(link);
                if a.clean {
                    out.resources.push(cleaning(&a, true, None));
                }
            }
            if t.arg(&["keep_releases"]).is_some_and(|k| k.as_str().is_some_and(|s| s.contains("omit"))) {
                out.notes.push("`keep_releases` omitted is the module's default, 5".into());
            }
        }
        "clean" => out.resources.push(cleaning(&a, false, None)),
        "absent" => {
            let mut r = Res::new("directory", a.path.template());
            r.set("state", "absent");
            r.set("force", true);
            out.resources.push(r);
            out.notes.push(
                "the `deploy_helper` var Ansible empties (`[]`) is left as the role's or play's var"
                    .into(),
            );
        }
        other => {
            return Err(format!(
                "`deploy_helper` with `state: {other}` (the module knows present, query, finalize, clean, absent)"
            ))
        }
    }
    for k in [
        "attributes",
        "attr",
        "seuser",
        "serole",
        "setype",
        "selevel",
        "unsafe_writes",
    ] {
        if t.arg(&[k]).is_some() {
            out.notes
                .push(format!("`{k}` not carried (play has no equivalent)"));
        }
    }
    Ok(out)
}

/// The `deploy_helper` var and the gathered value of the current link's target.
fn facts(a: &Args) -> ((String, Value), (String, Value)) {
    let new_release = match &a.release {
        Some(r) => r.clone(),
        None => V::Expr(format!("{}.stamp", crate::resolve::RUN_TIME_VAR)),
    };
    let read = format!("{PREVIOUS} is defined and {PREVIOUS}.rc == 0");
    let mut m = Mapping::new();
    let mut put = |k: &str, v: Value| {
        m.insert(Value::String(k.into()), v);
    };
    put("project_path", Value::String(a.path.template()));
    put("current_path", Value::String(a.current.template()));
    put("releases_path", Value::String(a.releases.template()));
    put(
        "shared_path",
        a.shared
            .as_ref()
            .map_or(Value::Null, |s| Value::String(s.template())),
    );
    put(
        "previous_release",
        Value::String(format!(
            "{{{{ {PREVIOUS}.stdout | basename if {read} else none }}}}"
        )),
    );
    put(
        "previous_release_path",
        Value::String(format!("{{{{ {PREVIOUS}.stdout if {read} else none }}}}")),
    );
    put("new_release", Value::String(new_release.template()));
    put(
        "new_release_path",
        Value::String(a.releases.join(&new_release).template()),
    );
    put(
        "unfinished_filename",
        Value::String(a.unfinished.template()),
    );
    // Ansible's `_get_last_release`: `realpath(current)` when it exists (as a link or not).
    let cur = a.current.word();
    let mut g = Mapping::new();
    g.insert(
        Value::String("command".into()),
        Value::String(format!("test -e {cur} -o -L {cur} && readlink -f -- {cur}")),
    );
    (
        (VAR.to_string(), Value::Mapping(m)),
        (PREVIOUS.to_string(), Value::Mapping(g)),
    )
}

/// Ansible's cleaning (`remove_unfinished_link`, `remove_unfinished_builds`, `cleanup`): the
/// temporary link `PATH/RELEASE.UNFINISHED`, every release holding the unfinished file, and
/// the releases beyond `keep_releases`, newest first by change time, the given release not
/// counted. A command (play has no kind that deletes folders it did not make), guarded by
/// the same listing run in the probe, so that it runs only when there is something to clean.
/// After a `finalize` (which removes the new release's unfinished file first), the probe's
/// listing does not count the new release as unfinished.
fn cleaning(a: &Args, finalize: bool, marker: Option<&str>) -> Res {
    let rel = a.releases.word();
    let unf = a.unfinished.word();
    let keep = match &a.keep {
        V::Lit(k) => k.clone(),
        other => format!("{{{{ {} | int }}}}", other.expr()),
    };
    let (tmp_link, skip) = match &a.release {
        Some(r) => (
            Some(
                a.path
                    .join(&match (r, &a.unfinished) {
                        (V::Lit(x), V::Lit(y)) => V::Lit(format!("{x}.{y}")),
                        _ => V::Expr(format!("({} ~ '.' ~ {})", r.expr(), a.unfinished.expr())),
                    })
                    .word(),
            ),
            format!(" | grep -vxF -e {}", r.word()),
        ),
        None => (None, String::new()),
    };
    let own = match &a.release {
        Some(r) if finalize => format!(" && [ \"$d\" != {}/ ]", r.word()),
        _ => String::new(),
    };
    let list = format!("ls -1dtc -- */ 2>/dev/null | sed 's:/$::'{skip}");
    let mut cmd = String::new();
    if let Some(m) = marker {
        cmd.push_str(&format!("rm -f -- {m} || exit 1\n"));
    }
    cmd.push_str(&format!("cd -- {rel} || exit 1\n"));
    if let Some(l) = &tmp_link {
        cmd.push_str(&format!("rm -f -- {l} || exit 1\n"));
    }
    cmd.push_str(&format!(
        "for d in */; do if [ -f \"$d\"{unf} ]; then rm -rf -- \"${{d%/}}\" || exit 1; fi; done\n"
    ));
    cmd.push_str(&format!(
        "{list} | tail -n +$(({keep} + 1)) | while IFS= read -r d; do rm -rf -- \"$d\" || exit 1; done\n"
    ));
    let mut unless = format!("cd -- {rel} 2>/dev/null || exit 0\n");
    if let Some(l) = &tmp_link {
        unless.push_str(&format!("if [ -e {l} ] || [ -L {l} ]; then exit 1; fi\n"));
    }
    unless.push_str(&format!(
        "for d in */; do if [ -f \"$d\"{unf} ]{own}; then exit 1; fi; done\n"
    ));
    unless.push_str(&format!("[ \"$({list} | wc -l)\" -le {keep} ]\n"));
    let mut r = Res::new("command", cmd);
    r.set("unless", unless);
    r.comments.push(
        "deploy_helper's cleaning: unfinished and old releases (play has no kind for it)".into(),
    );
    r.notes.push(format!(
        "the cleaning of `deploy_helper` is a command (play has no kind that removes releases it did not make), \
         run only when its `unless` (the same listing, in the probe) finds a release with the unfinished file \
         or more than {} finished ones besides the new",
        a.keep.template()
    ));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::task::key_values;

    fn task(args: &str) -> Task {
        Task {
            module: "deploy_helper".into(),
            args: key_values(args).0,
            ..Task::default()
        }
    }

    fn shape(r: &Res) -> String {
        r.fields
            .iter()
            .map(|(k, v)| format!("{k}={}", crate::yaml::to_string(v).trim()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn field<'a>(m: &'a Mapped, k: &str) -> &'a Value {
        let Some((_, Value::Mapping(var))) = &m.var else {
            panic!("no var: {m:?}")
        };
        var.get(Value::String(k.into()))
            .unwrap_or_else(|| panic!("no {k}"))
    }

    #[test]
    fn present_makes_the_folders_and_binds_the_facts_as_the_module_computes_them() {
        let m = map(
            &task("path=/srv/app owner=app mode=0755"),
            &Known::default(),
        )
        .unwrap();
        let rs: Vec<String> = m.resources.iter().map(shape).collect();
        assert_eq!(
            rs,
            [
                "directory=/srv/app owner=app mode='0755'",
                "directory=/srv/app/releases owner=app mode='0755'",
                "directory=/srv/app/shared owner=app mode='0755'",
            ]
        );
        let s = |k| field(&m, k).as_str().unwrap_or("~").to_string();
        assert_eq!(s("project_path"), "/srv/app");
        assert_eq!(s("current_path"), "/srv/app/current");
        assert_eq!(s("releases_path"), "/srv/app/releases");
        assert_eq!(s("shared_path"), "/srv/app/shared");
        assert_eq!(s("new_release"), "{{ play_run_time.stamp }}");
        assert_eq!(
            s("new_release_path"),
            "{{ ['/srv/app/releases', play_run_time.stamp] | path_join }}"
        );
        assert_eq!(s("unfinished_filename"), "DEPLOY_UNFINISHED");
        assert!(s("previous_release_path").contains("deploy_helper_previous.stdout"));
        let (name, Value::Mapping(g)) = m.gather.as_ref().unwrap() else {
            panic!("gather")
        };
        assert_eq!(name, PREVIOUS);
        assert_eq!(
            g.get(Value::String("command".into())).and_then(Value::as_str),
            Some("test -e /srv/app/current -o -L /srv/app/current && readlink -f -- /srv/app/current")
        );
    }

    #[test]
    fn paths_join_as_os_path_join_and_an_empty_shared_path_is_none() {
        let mut t = task(
            "path={{ root }} releases_path=/var/rel current_path=live release=v{{ n }} unfinished_filename=WIP state=query",
        );
        t.args
            .push(("shared_path".into(), Value::String(String::new())));
        let m = map(&t, &Known::default()).unwrap();
        assert!(m.resources.is_empty(), "query changes nothing");
        let s = |k| field(&m, k).as_str().unwrap_or("~").to_string();
        assert_eq!(s("current_path"), "{{ [root, 'live'] | path_join }}");
        assert_eq!(s("releases_path"), "{{ [root, '/var/rel'] | path_join }}");
        assert_eq!(field(&m, "shared_path"), &Value::Null);
        assert_eq!(s("new_release"), "{{ 'v' ~ n }}");
        assert_eq!(
            s("new_release_path"),
            "{{ [root, '/var/rel', ('v' ~ n)] | path_join }}"
        );
        assert_eq!(s("unfinished_filename"), "WIP");
        // present without a shared folder: two folders
        let mut t = task("path=/srv/a");
        t.args
            .push(("shared_path".into(), Value::String(String::new())));
        assert_eq!(map(&t, &Known::default()).unwrap().resources.len(), 2);
    }

    #[test]
    fn finalize_switches_the_link_removes_the_unfinished_file_and_cleans() {
        let t = task("path=/srv/app release=20260101000000 state=finalize");
        let m = map(&t, &Known::default()).unwrap();
        assert_eq!(m.resources.len(), 3);
        assert_eq!(
            shape(&m.resources[0]),
            "file=/srv/app/releases/20260101000000/DEPLOY_UNFINISHED state=absent"
        );
        assert_eq!(
            shape(&m.resources[1]),
            "link=/srv/app/current target=/srv/app/releases/20260101000000"
        );
        let clean = &m.resources[2];
        assert_eq!(clean.kind(), "command");
        assert!(!clean.native);
        let cmd = clean.key();
        assert!(
            cmd.starts_with("cd -- /srv/app/releases || exit 1\n"),
            "{cmd}"
        );
        assert!(
            cmd.contains("rm -f -- /srv/app/20260101000000.DEPLOY_UNFINISHED"),
            "{cmd}"
        );
        assert!(
            cmd.contains("grep -vxF -e 20260101000000 | tail -n +$((5 + 1))"),
            "{cmd}"
        );
        let unless = clean.get("unless").and_then(Value::as_str).unwrap();
        assert!(unless.contains("[ \"$d\" != 20260101000000/ ]"), "{unless}");
        assert!(unless.ends_with("| wc -l)\" -le 5 ]\n"), "{unless}");
        // clean: false: no cleaning; keep_releases omitted is 5
        let t = task("path=/srv/app release=r state=finalize clean=false");
        assert_eq!(map(&t, &Known::default()).unwrap().resources.len(), 2);
        let t = Task {
            module: "deploy_helper".into(),
            args: vec![
                ("path".into(), Value::String("/srv/app".into())),
                ("release".into(), Value::String("r".into())),
                ("state".into(), Value::String("finalize".into())),
                (
                    "keep_releases".into(),
                    Value::String("{{ keep | default(omit) }}".into()),
                ),
            ],
            ..Task::default()
        };
        let m = map(&t, &Known::default()).unwrap();
        assert!(m.resources[2]
            .key()
            .contains("$(({{ (keep | default(5)) | int }} + 1))"));
        assert!(
            map(&task("path=/srv/app state=finalize"), &Known::default())
                .unwrap_err()
                .contains("without `release`")
        );
    }

    #[test]
    fn a_finalize_after_present_names_the_var_and_folds_an_earlier_touch() {
        let present = map(&task("path={{ root }}"), &Known::default()).unwrap();
        let var = present.var.as_ref().map(|(_, v)| v);
        let t = task("path={{ root }} release='{{ deploy_helper.new_release }}' state=finalize");
        let marker = "{{ deploy_helper.new_release_path }}/{{ deploy_helper.unfinished_filename }}";
        // without the touch before: the file is removed natively, by the var's paths
        let m = map(&t, &Known { var, files: vec![] }).unwrap();
        assert_eq!(
            shape(&m.resources[0]),
            format!("file='{marker}' state=absent")
        );
        assert_eq!(
            shape(&m.resources[1]),
            "link='{{ deploy_helper.current_path }}' target='{{ deploy_helper.new_release_path }}'"
        );
        assert_eq!(m.touched, None);
        // a touch of it before: a command after the switch, run when the touch ran
        let known = Known {
            var,
            files: vec![(marker.replace(' ', ""), Some("0744".into()))],
        };
        let m = map(&t, &known).unwrap();
        assert_eq!(m.resources.len(), 2);
        assert_eq!(m.resources[0].kind(), "link");
        let cmd = &m.resources[1];
        assert!(cmd.key().starts_with("rm -f -- "), "{}", cmd.key());
        assert!(cmd.get("unless").is_none());
        let touch = marker_touch(&known.files[0].0, Some("0744"));
        assert_eq!(
            cmd.get("on_change"),
            Some(&Value::Sequence(vec![Value::String(touch.key())]))
        );
        assert!(touch.key().starts_with("touch -- '"), "{}", touch.key());
        assert!(
            touch.key().contains("&& chmod 0744 -- '"),
            "{}",
            touch.key()
        );
        assert_eq!(m.touched.as_deref(), Some(known.files[0].0.as_str()));
        // other paths than the var's: its own
        let other =
            task("path=/elsewhere release='{{ deploy_helper.new_release }}' state=finalize");
        let m = map(&other, &Known { var, files: vec![] }).unwrap();
        assert_eq!(
            shape(&m.resources[1]),
            "link=/elsewhere/current target='{{ [''/elsewhere/releases'', deploy_helper.new_release] | path_join }}'"
        );
    }

    #[test]
    fn clean_absent_and_unknown_states() {
        let m = map(
            &task("path=/srv/app state=clean release=r1 keep_releases=3"),
            &Known::default(),
        )
        .unwrap();
        assert_eq!(m.resources.len(), 1);
        let cmd = m.resources[0].key();
        assert!(cmd.contains("tail -n +$((3 + 1))"), "{cmd}");
        // state=clean: the given release's unfinished file counts (as the module does)
        let unless = m.resources[0]
            .get("unless")
            .and_then(Value::as_str)
            .unwrap();
        assert!(!unless.contains("!= r1/"), "{unless}");
        assert!(m.var.is_none());
        let m = map(&task("path=/srv/app state=absent"), &Known::default()).unwrap();
        assert_eq!(
            shape(&m.resources[0]),
            "directory=/srv/app state=absent force=true"
        );
        assert!(map(&task("path=/srv/app state=gone"), &Known::default())
            .unwrap_err()
            .contains("state: gone"));
        assert!(map(&task("state=present"), &Known::default())
            .unwrap_err()
            .contains("without `path`"));
    }
}
