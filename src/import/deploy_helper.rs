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
        var.get(&Value::String(k.into()))
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
                    .join(&V::Expr(format!(
                        "({} ~ '.' ~ {})",
                        r.expr(),
                        a.unfinished.expr()
                    )))
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
