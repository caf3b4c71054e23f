//! Ansible modules → play resources. A pure function of the task (and of which folders the
//! project declares), so the whole mapping is tested on data.

use std::collections::{BTreeMap, BTreeSet};

use super::task::Task;
use crate::yaml::{Mapping, Value};

/// The marker comment on a resource play has no native kind for yet.
pub fn not_native(module: &str) -> String {
    format!("play import: {module} not native yet (issue 14)")
}

#[path = "openssl.rs"]
pub mod openssl;
#[path = "ruby.rs"]
pub mod ruby;

#[path = "acme.rs"]
pub mod acme;

#[path = "deploy_helper.rs"]
pub mod deploy_helper;

/// Why a `set_fact` under a `when` (but one of a complementary pair) or a loop is left out.
pub const CONDITIONAL_SET_FACT: &str =
    "set_fact under `when` or a loop (play vars are unconditional)";

/// One resource the importer writes: its keys in order (the first names the kind).
#[derive(Debug, Clone, PartialEq)]
pub struct Res {
    pub fields: Vec<(String, Value)>,
    /// A native kind (not `command:`).
    pub native: bool,
    /// YAML comments written above the resource.
    pub comments: Vec<String>,
    /// What was not carried over from the task (for IMPORT.md).
    pub notes: Vec<String>,
}

impl Res {
    pub(crate) fn new(kind: &str, key: impl Into<String>) -> Res {
        Res {
            fields: vec![(kind.to_string(), Value::String(key.into()))],
            native: kind != "command",
            comments: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn kind(&self) -> &str {
        &self.fields[0].0
    }

    /// The key (the kind's value) as text; a package list gives its names joined by `, `.
    pub fn key(&self) -> String {
        match &self.fields[0].1 {
            Value::String(s) => s.clone(),
            Value::Sequence(items) => items
                .iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            other => crate::yaml::to_string(other).trim().to_string(),
        }
    }

    /// The keys other resources may watch it by (one per package).
    pub fn watch_keys(&self) -> Vec<String> {
        match &self.fields[0].1 {
            Value::Sequence(items) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => vec![self.key()],
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Removes field `key`, returning its value.
    pub fn take(&mut self, key: &str) -> Option<Value> {
        let i = self.fields.iter().position(|(k, _)| k == key)?;
        Some(self.fields.remove(i).1)
    }

    pub fn set(&mut self, key: &str, v: impl Into<Value>) {
        let v = v.into();
        match self.fields.iter_mut().find(|(k, _)| k == key) {
            Some((_, old)) => *old = v,
            None => self.fields.push((key.to_string(), v)),
        }
    }

    fn command(cmd: String, module: &str) -> Res {
        let mut r = Res::new("command", cmd);
        r.comments.push(not_native(module));
        r
    }

    /// Adds `key` to a list field (`restart_on`, `on_change`, ...), once.
    pub fn watch(&mut self, field: &str, key: &str) {
        let mut list = match self.get(field) {
            Some(Value::Sequence(s)) => s.clone(),
            _ => Vec::new(),
        };
        if !list.iter().any(|v| v.as_str() == Some(key)) {
            list.push(Value::String(key.to_string()));
        }
        self.set(field, Value::Sequence(list));
    }
}

/// What a task becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum Mapped {
    Resources(Vec<Res>),
    /// Vars (`set_fact`, a static `include_vars` is read by the caller).
    Vars(Vec<(String, Value)>),
    /// Not carried over, and why.
    LeftOut(String),
}

/// What the mapping needs to know about the project.
#[derive(Debug, Clone, Default)]
pub struct Ctx {
    /// Paths the project declares as folders (`file: state=directory`), plus well-known ones.
    pub dirs: BTreeSet<String>,
    /// `copy: src=` values that are folders on the controller.
    pub src_dirs: BTreeSet<String>,
    /// Text values the inventory's `group_vars/` and `host_vars/` give each var (a var of a
    /// role may hold another value on some hosts: mangaki's vagrant host installs a path).
    pub inventory_values: BTreeMap<String, Vec<String>>,
    /// What the project's `openssl_csr` tasks say, by their `path`.
    pub csrs: BTreeMap<String, openssl::Csr>,
    /// Files the project's `lineinfile`, `replace` and `blockinfile` tasks edit (their path as
    /// written, templates rewritten).
    pub edited: BTreeSet<String>,
    /// Lists of texts the inventory's `group_vars/` and `host_vars/` give each var.
    pub inventory_lists: BTreeMap<String, Vec<Vec<String>>>,
    /// A file of the project that renews certificates with an authenticator of its own
    /// (`certbot --nginx -q renew` in a unit it installs): where and the line.
    pub renewal_override: Option<(String, String)>,
    /// Whether a file of the project names `playbook_dir`.
    pub names_playbook_dir: bool,
}

/// A `certbot … renew` line that names its authenticator (`--nginx`, `--apache`, `--webroot`,
/// `-a`/`--authenticator`): renewals that do not run as the lineage was obtained.
pub fn renews_with_own_authenticator(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    let certbot = words.iter().position(|w| w.ends_with("certbot"));
    certbot.is_some_and(|i| {
        let rest = &words[i + 1..];
        rest.contains(&"renew")
            && rest.iter().any(|w| {
                matches!(
                    *w,
                    "--nginx" | "--apache" | "--webroot" | "-a" | "--authenticator"
                ) || w.starts_with("--authenticator=")
            })
    })
}

/// Well-known folders that `dest:` names without a trailing `/`.
const KNOWN_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/etc/nginx",
    "/etc/nginx/conf.d",
    "/etc/nginx/sites-available",
    "/etc/nginx/sites-enabled",
    "/etc/supervisor/conf.d",
    "/etc/cron.d",
    "/usr/local/bin",
    "/etc/sudoers.d",
    "/etc/logrotate.d",
    "/etc/profile.d",
    "/etc/uwsgi",
    "/etc/uwsgi/vassals",
    "/etc/uwsgi/apps-enabled",
    "/etc/uwsgi/apps-available",
    "/etc/apt/sources.list.d",
];

impl Ctx {
    fn is_dir(&self, path: &str) -> bool {
        let p = path.trim_end_matches('/');
        path.ends_with('/')
            || KNOWN_DIRS.contains(&p)
            || self.dirs.contains(p)
            || self.dirs.iter().any(|d| d.starts_with(&format!("{p}/")))
    }
}

fn basename(p: &str) -> &str {
    p.trim_end_matches('/').rsplit('/').next().unwrap_or(p)
}

/// A template's or file's destination: a folder gets the source's name (without `.j2`).
fn destination(ctx: &Ctx, dest: &str, src: Option<&str>) -> String {
    match src {
        Some(src) if ctx.is_dir(dest) && !src.ends_with('/') => {
            let name = basename(src);
            let name = name.strip_suffix(".j2").unwrap_or(name);
            format!("{}/{}", dest.trim_end_matches('/'), name)
        }
        _ => dest.to_string(),
    }
}

/// `0644`, `644`, `"0644"` → `"0644"`; symbolic modes are not carried (None).
pub fn mode(v: &Value) -> Option<String> {
    let s = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return None,
    };
    let s = s.trim().trim_start_matches("0o");
    if s.contains("{{") {
        return Some(s.to_string());
    }
    if !s.is_empty() && s.len() <= 4 && s.chars().all(|c| ('0'..='7').contains(&c)) {
        Some(format!("{:0>4}", s))
    } else {
        // a symbolic mode giving one mode to every path (`u=rwx,g=rx,o=rx`)
        let rule = crate::resources::ModeRule::parse(s).ok()?;
        rule.as_uniform().map(crate::resources::mode_str)
    }
}

/// A symbolic mode with `X` (`u=rwX,g=rX,o=rX`), which only a `directory:` takes.
fn folder_mode(v: &Value) -> Option<String> {
    let s = v.as_str()?.trim();
    crate::resources::ModeRule::parse(s)
        .ok()
        .map(|_| s.to_string())
}

/// Quotes a word for `sh` (single quotes) unless it is safe as it is. A templated word is
/// quoted too (its value may hold spaces), with double quotes when the template itself has
/// single quotes.
pub fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && !s.contains("{{")
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=:,+@%".contains(c))
    {
        return s.to_string();
    }
    if s.contains("{{") && s.contains('\'') && !s.contains('"') {
        return format!("\"{}\"", s.replace('$', "\\$").replace('`', "\\`"));
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn owner_group_mode(t: &Task, r: &mut Res) {
    for k in ["owner", "group"] {
        if let Some(v) = t.arg_str(&[k]) {
            r.set(k, v);
        }
    }
    if let Some(m) = t.arg(&["mode"]) {
        match mode(m).or_else(|| folder_mode(m).filter(|_| r.kind() == "directory")) {
            Some(m) => r.set("mode", m),
            None => r.notes.push(format!(
                "mode `{}` not carried (play takes octal modes, and symbolic ones that set \
                 every class with `=`; `X` on a `directory:`)",
                crate::yaml::to_string(m).trim()
            )),
        }
    }
}

/// `validate: CMD %s` → the kind's `validate` (play requires `%s` in it, as Ansible does).
fn validate(t: &Task, r: &mut Res) {
    if let Some(v) = t.arg_str(&["validate"]) {
        if v.contains("%s") {
            r.set("validate", v);
        } else {
            r.notes
                .push(format!("`validate: {v}` not carried (it has no `%s`)"));
        }
    }
}

fn ignored(t: &Task, r: &mut Res, keys: &[&str]) {
    for k in keys {
        if t.arg(&[k]).is_some() {
            r.notes
                .push(format!("`{k}` not carried (play has no equivalent)"));
        }
    }
}

/// `apt: upgrade=MODE` (Ansible's `yes`/`true`/`safe` or `full`/`dist`) → `apt_upgrade:`
/// with its `update_cache` and `cache_valid_time`; `None` for a mode chosen at run time (a
/// template) or unknown, and for a `cache_valid_time` that is no number of seconds.
fn apt_upgrade(t: &Task, up: &str) -> Option<Res> {
    let mode = match up {
        "yes" | "true" | "safe" => "safe",
        "dist" | "full" => "full",
        _ => return None,
    };
    let mut r = Res::new("apt_upgrade", mode);
    if let Some(v) = t.arg(&["cache_valid_time"]) {
        let text = match v {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.trim().to_string(),
            _ => return None,
        };
        if text.contains("{{") {
            r.set("cache_valid_time", text);
        } else {
            crate::resources::registry::check_value("apt_upgrade", "cache_valid_time", &text)
                .ok()?;
            // Ansible's `cache_valid_time: 0` is false: `update_cache` alone decides
            match text.parse::<u64>().ok()? {
                0 => {}
                secs => r.set("cache_valid_time", Value::Number(secs.into())),
            }
        }
    }
    match t.arg_bool(&["update_cache", "update-cache"]) {
        Some(true) => r.set("update_cache", true),
        // Ansible refreshes when either is set; play's `cache_valid_time` alone implies it
        Some(false) if r.get("cache_valid_time").is_some() => {
            r.notes.push("`update_cache: no` beside `cache_valid_time` not carried: Ansible refreshes stale lists anyway, as play does with `cache_valid_time` alone".into());
        }
        _ => {}
    }
    ignored(
        t,
        &mut r,
        &[
            "autoremove",
            "autoclean",
            "dpkg_options",
            "force_apt_get",
            "force",
            "allow_unauthenticated",
            "allow_downgrade",
            "install_recommends",
            "default_release",
            "only_upgrade",
            "lock_timeout",
        ],
    );
    Some(r)
}

fn names(v: &Value) -> Vec<String> {
    match v {
        Value::Sequence(items) => items
            .iter()
            .filter_map(|i| match i {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        Value::String(s) if !s.contains("{{") => s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// Maps one task to play resources (or vars, or a reason it is left out).
/// `synchronize` delegated to the host itself: both folders are the host's, so it is the
/// `rsync` Ansible runs there (`-a` unless `archive: no`, then `-r` with `recursive`;
/// `--checksum`, `--delete-after`, `rsync_opts`), guarded by the same rsync's dry run listing
/// nothing to do (a failing dry run, such as a missing source, runs it and fails as Ansible
/// does).
fn rsync_on_host(t: &Task, ctx: &Ctx) -> Mapped {
    let (Some(src), Some(dest)) = (t.arg_str(&["src"]), t.arg_str(&["dest"])) else {
        return Mapped::LeftOut("synchronize without `src` and `dest`".into());
    };
    // one file (a name with an extension or a dot file, on both sides; no folder the project
    // declares, no trailing `/`, no `delete` or `rsync_opts`): the file DEST kept a copy of SRC
    let file_name = |p: &str| {
        let b = basename(p);
        !p.ends_with('/') && !ctx.is_dir(p) && b.contains('.') && !b.ends_with('.')
    };
    if file_name(&src)
        && file_name(&dest)
        && t.arg(&["delete"]).is_none()
        && t.arg(&["rsync_opts"]).is_none()
    {
        let mut r = Res::new("file", dest.as_str());
        r.set("copy_of", src.as_str());
        r.comments.push(
            "play import: synchronize of one file of the host → `file:` with `copy_of`".into(),
        );
        if t.arg_bool(&["archive"]) != Some(false) {
            r.notes.push(
                "`archive` keeps the source's owner, group and mode; `copy_of` sets only those declared (root's, 0644 when new): declare `owner`/`group`/`mode` if they matter".into(),
            );
        }
        ignored(
            t,
            &mut r,
            &[
                "checksum", "compress", "times", "perms", "owner", "group", "archive",
            ],
        );
        return Mapped::Resources(vec![r]);
    }
    let mut args = Vec::new();
    match (t.arg_bool(&["archive"]), t.arg_bool(&["recursive"])) {
        (Some(false), Some(true)) => args.push("-r".to_string()),
        (Some(false), _) => {}
        _ => args.push("-a".to_string()),
    }
    if t.arg_bool(&["checksum"]) == Some(true) {
        args.push("--checksum".into());
    }
    if t.arg_bool(&["delete"]) == Some(true) {
        args.push("--delete-after".into());
    }
    match t.arg(&["rsync_opts"]) {
        Some(Value::Sequence(opts)) => {
            args.extend(opts.iter().filter_map(|o| o.as_str()).map(sh_quote))
        }
        Some(Value::String(o)) => args.push(sh_quote(o)),
        _ => {}
    }
    args.push(sh_quote(&src));
    args.push(sh_quote(&dest));
    let args = args.join(" ");
    let mut r = Res::new("command", format!("rsync {args}"));
    r.comments.push(
        "play import: synchronize → command (delegated to the host itself: both folders are the host's, `sync:` copies from the controller)".into(),
    );
    r.set(
        "unless",
        format!("out=$(rsync --dry-run --itemize-changes {args}) && test -z \"$out\""),
    );
    ignored(t, &mut r, &["compress", "times", "perms", "owner", "group"]);
    Mapped::Resources(vec![r])
}

pub fn map_task(t: &Task, ctx: &Ctx) -> Mapped {
    use Mapped::*;
    let m = t.module.as_str();
    if t.folded_role.as_deref() == Some("rvm") {
        return ruby::map_rvm_role(t);
    }
    if let Some(mapped) = openssl::module(t, ctx) {
        return mapped;
    }
    // delegated to the host itself (others are left out before): a synchronize then copies
    // between two folders of the host
    if m == "synchronize" && t.delegate.is_some() && t.runs_elsewhere().is_none() {
        let d = t.delegate.as_deref().unwrap_or_default();
        if !["localhost", "127.0.0.1", "::1"].contains(&d.trim()) {
            return rsync_on_host(t, ctx);
        }
    }
    match m {
        "template" => {
            let (Some(src), Some(dest)) = (t.arg_str(&["src"]), t.arg_str(&["dest", "path"])) else {
                return LeftOut("template without `src` and `dest`".into());
            };
            let src = src.strip_prefix("templates/").unwrap_or(&src).to_string();
            let mut r = Res::new("file", destination(ctx, &dest, Some(&src)));
            let src = match &t.asset_prefix {
                Some(p) if !src.starts_with('/') => format!("{p}/{src}"),
                _ => src,
            };
            r.set("template", src);
            owner_group_mode(t, &mut r);
            validate(t, &mut r);
            copy_force(t, &mut r);
            ignored(t, &mut r, &["backup", "lstrip_blocks", "trim_blocks"]);
            Resources(vec![r])
        }
        "copy" => {
            let Some(dest) = t.arg_str(&["dest"]) else {
                return LeftOut("copy without `dest`".into());
            };
            if t.arg_bool(&["remote_src"]) == Some(true) {
                return map_copy_remote(t, ctx, &dest);
            }
            if let Some(content) = t.arg(&["content"]) {
                let mut r = Res::new("file", dest);
                let text = match content {
                    Value::String(s) => s.clone(),
                    other => crate::yaml::to_string(other),
                };
                r.set("content", text);
                owner_group_mode(t, &mut r);
                validate(t, &mut r);
                copy_force(t, &mut r);
                ignored(t, &mut r, &["backup"]);
                return Resources(vec![r]);
            }
            let Some(src) = t.arg_str(&["src"]) else {
                return LeftOut("copy without `src` or `content`".into());
            };
            let src = src.strip_prefix("files/").unwrap_or(&src).to_string();
            let prefixed = match &t.asset_prefix {
                Some(p) if !src.starts_with('/') => format!("{p}/{src}"),
                _ => src.clone(),
            };
            if src.ends_with('/') || ctx.src_dirs.contains(&src) {
                // A folder: `src/` copies its content, `src` the folder itself.
                let dest = if src.ends_with('/') {
                    dest.trim_end_matches('/').to_string()
                } else {
                    format!("{}/{}", dest.trim_end_matches('/'), basename(&src))
                };
                let mut r = Res::new("sync", dest);
                r.set("src", prefixed.trim_end_matches('/').to_string());
                owner_group_mode(t, &mut r);
                ignored(t, &mut r, &["directory_mode", "backup", "force"]);
                return Resources(vec![r]);
            }
            let mut r = Res::new("file", destination(ctx, &dest, Some(&src)));
            r.set("src", prefixed);
            owner_group_mode(t, &mut r);
            validate(t, &mut r);
            copy_force(t, &mut r);
            ignored(t, &mut r, &["backup"]);
            Resources(vec![r])
        }
        "file" => {
            let Some(path) = t.arg_str(&["path", "dest", "name"]) else {
                return LeftOut("file without `path`".into());
            };
            let state = t.arg_str(&["state"]);
            if let Some(st) = state.as_deref().filter(|s| s.contains("{{")) {
                return match map_file_templated_state(t, ctx, &path, st) {
                    Some(r) => Resources(vec![r]),
                    None => LeftOut(format!(
                        "file `state: {st}` is chosen at run time (play's kind is fixed: write one resource per case, each with its `when`)"
                    )),
                };
            }
            let recurse = t.arg_bool(&["recurse"]) == Some(true);
            let mut r = match state.as_deref() {
                Some("directory") => Res::new("directory", path.trim_end_matches('/')),
                Some("link") | Some("hard") => {
                    let Some(src) = t.arg_str(&["src"]) else {
                        return LeftOut("file state=link without `src`".into());
                    };
                    let mut r = Res::new("link", path.trim_end_matches('/'));
                    r.set("target", src);
                    if state.as_deref() == Some("hard") {
                        r.notes.push("a hard link became a symbolic link".into());
                    }
                    if t.arg_bool(&["force"]) == Some(true) {
                        r.set("force", true);
                    }
                    r
                }
                Some("absent") => {
                    let mut r = if ctx.is_dir(&path) {
                        let mut r = Res::new("directory", path.trim_end_matches('/'));
                        r.set("force", true);
                        r
                    } else {
                        Res::new("file", path)
                    };
                    r.set("state", "absent");
                    return Resources(vec![r]);
                }
                Some("touch") => Res::new("file", path),
                _ if recurse || ctx.is_dir(&path) => {
                    Res::new("directory", path.trim_end_matches('/'))
                }
                _ => Res::new("file", path),
            };
            owner_group_mode(t, &mut r);
            if recurse && r.kind() == "directory" {
                r.set("recurse", true);
            }
            Resources(vec![r])
        }
        "git" => {
            let (Some(repo), Some(dest)) = (t.arg_str(&["repo", "name"]), t.arg_str(&["dest"])) else {
                return LeftOut("git without `repo` and `dest`".into());
            };
            let mut r = Res::new("git", dest);
            r.set("repo", repo);
            if let Some(v) = t.arg_str(&["version"]) {
                r.set("version", v);
            }
            if let Some(d) = t.arg(&["depth"]) {
                r.set("depth", d.clone());
            }
            if t.arg_bool(&["force"]) == Some(true) {
                r.set("force", true);
            }
            if let Some(u) = &t.become_user {
                r.set("owner", u.clone());
            }
            ignored(t, &mut r, &["update", "key_file", "recursive", "track_submodules"]);
            Resources(vec![r])
        }
        "user" => {
            let Some(name) = t.arg_str(&["name", "user"]) else {
                return LeftOut("user without `name`".into());
            };
            let mut r = Res::new("user", name);
            for (from, to) in [("uid", "uid"), ("group", "group"), ("shell", "shell"), ("home", "home")] {
                if let Some(v) = t.arg(&[from]) {
                    r.set(to, v.clone());
                }
            }
            if let Some(g) = t.arg(&["groups"]) {
                let list = names(g);
                if !list.is_empty() {
                    r.set(
                        "groups",
                        Value::Sequence(list.into_iter().map(Value::String).collect()),
                    );
                }
            }
            for k in ["append", "system"] {
                if let Some(b) = t.arg_bool(&[k]) {
                    r.set(k, b);
                }
            }
            if let Some(b) = t.arg_bool(&["create_home", "createhome"]) {
                r.set("create_home", b);
            }
            if t.arg_str(&["state"]).as_deref() == Some("absent") {
                r.set("state", "absent");
            }
            ignored(t, &mut r, &["password", "generate_ssh_key", "ssh_key_bits", "comment", "remove", "update_password", "expires"]);
            Resources(vec![r])
        }
        "group" => {
            let Some(name) = t.arg_str(&["name"]) else {
                return LeftOut("group without `name`".into());
            };
            let mut r = Res::new("group", name);
            if let Some(v) = t.arg(&["gid"]) {
                r.set("gid", v.clone());
            }
            if let Some(b) = t.arg_bool(&["system"]) {
                r.set("system", b);
            }
            if t.arg_str(&["state"]).as_deref() == Some("absent") {
                r.set("state", "absent");
            }
            Resources(vec![r])
        }
        "apt" | "package" => {
            let list = t.arg(&["name", "pkg", "package"]).map(names).unwrap_or_default();
            let state = t.arg_str(&["state"]);
            if list.is_empty() {
                if let Some(deb) = t.arg_str(&["deb"]) {
                    return Resources(vec![map_deb(&deb)]);
                }
                if let Some(up) = t.arg_str(&["upgrade"]).filter(|u| u != "false" && u != "no") {
                    if let Some(r) = apt_upgrade(t, &up) {
                        return Resources(vec![r]);
                    }
                    let verb = if up == "dist" || up == "full" { "dist-upgrade" } else { "upgrade" };
                    return Resources(vec![Res::command(
                        format!("apt-get update && DEBIAN_FRONTEND=noninteractive apt-get -y {verb}"),
                        "apt upgrade",
                    )]);
                }
                if t.arg_bool(&["update_cache"]) == Some(true) {
                    let mut r = Res::command("apt-get update".into(), "apt update_cache");
                    if let Some(secs) = t.arg(&["cache_valid_time"]).and_then(|v| match v {
                        Value::Number(n) => n.as_u64(),
                        Value::String(s) => s.parse().ok(),
                        _ => None,
                    }) {
                        r.set(
                            "unless",
                            format!(
                                "test -n \"$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages' -mmin -{} 2>/dev/null | head -n 1)\"",
                                secs.div_ceil(60)
                            ),
                        );
                    }
                    return Resources(vec![r]);
                }
                let cleanup: Vec<&str> = [("autoremove", "autoremove"), ("autoclean", "autoclean")]
                    .iter()
                    .filter(|(k, _)| t.arg_bool(&[k]) == Some(true))
                    .map(|(_, verb)| *verb)
                    .collect();
                if !cleanup.is_empty() {
                    let cmd = cleanup
                        .iter()
                        .map(|v| format!("DEBIAN_FRONTEND=noninteractive apt-get -y {v}"))
                        .collect::<Vec<_>>()
                        .join(" && ");
                    let mut r = Res::command(cmd, &format!("apt {}", cleanup.join("/")));
                    if cleanup == ["autoremove"] {
                        // a dry run lists `Remv` lines for what is to go
                        r.set("unless", "! apt-get -s autoremove | grep -q '^Remv '");
                    }
                    return Resources(vec![r]);
                }
                return LeftOut("apt without `name`".into());
            }
            if list.iter().any(|n| n == "*") {
                // every installed package at its latest version: a safe upgrade
                if list.len() == 1 && state.as_deref() == Some("latest") {
                    if let Some(mut r) = apt_upgrade(t, "safe") {
                        r.notes.push(
                            "`name: \"*\"` with `state: latest` → `apt_upgrade: safe` (apt-get upgrade --with-new-pkgs: new dependencies installed, nothing removed)".into(),
                        );
                        return Resources(vec![r]);
                    }
                }
                return Resources(vec![Res::command(
                    "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get -y upgrade".into(),
                    "apt name=*",
                )]);
            }
            let key = if list.len() == 1 {
                Value::String(list[0].clone())
            } else {
                Value::Sequence(list.into_iter().map(Value::String).collect())
            };
            let mut r = Res::new("package", "");
            r.fields[0].1 = key;
            match state.as_deref() {
                Some("absent") | Some("removed") | Some("purged") => r.set("state", "absent"),
                Some("latest") => r.set("state", "latest"),
                Some("build-dep") | Some("fixed") => {
                    return LeftOut(format!("apt state={} has no play form", state.unwrap_or_default()))
                }
                _ => {}
            }
            if t.arg_bool(&["update_cache"]) == Some(true) {
                r.set("update_cache", true);
            }
            ignored(t, &mut r, &["install_recommends", "default_release", "force", "cache_valid_time", "autoremove", "dpkg_options"]);
            Resources(vec![r])
        }
        "service" | "systemd" | "systemd_service" | "sysvinit" => {
            let Some(name) = t.arg_str(&["name", "unit", "service"]) else {
                if t.arg_bool(&["daemon_reload", "daemon-reload"]) == Some(true) {
                    return LeftOut(
                        "a bare `daemon_reload`: play runs `systemctl daemon-reload` itself when a unit file it writes changes".into(),
                    );
                }
                return LeftOut(format!("{m} without `name`"));
            };
            let mut r = Res::new("service", name);
            match t.arg_str(&["state"]).as_deref() {
                Some("started") | Some("running") => r.set("state", "running"),
                Some("stopped") => r.set("state", "stopped"),
                Some(s @ ("restarted" | "reloaded")) => {
                    r.set("state", "running");
                    r.notes.push(format!(
                        "state={s}: play restarts a service when what it watches changes (`restart_on`), not on every run"
                    ));
                }
                // a templated state choosing Ansible's words (mangaki's `{{ on | ternary("started",
                // "stopped") }}`): the same template choosing play's
                Some(s) if s.contains("{{") => {
                    let mut s = s.to_string();
                    for q in ['"', '\''] {
                        for (a, b) in [("started", "running"), ("restarted", "running"), ("reloaded", "running")] {
                            s = s.replace(&format!("{q}{a}{q}"), &format!("{q}{b}{q}"));
                        }
                    }
                    r.set("state", s);
                }
                Some(other) => r.notes.push(format!("`state: {other}` not carried")),
                None => {}
            }
            match (t.arg_bool(&["enabled"]), t.arg_str(&["enabled"])) {
                (Some(b), _) => r.set("enabled", b),
                // a template giving true or false: play renders it the same
                (None, Some(e)) if e.contains("{{") => r.set("enabled", e),
                (None, Some(e)) => r.notes.push(format!("`enabled: {e}` not carried")),
                (None, None) => {}
            }
            ignored(t, &mut r, &["masked", "scope", "no_block", "pattern", "sleep", "arguments"]);
            Resources(vec![r])
        }
        "supervisorctl" => {
            let Some(name) = t.arg_str(&["name"]) else {
                return LeftOut("supervisorctl without `name`".into());
            };
            let q = sh_quote(&name);
            let (cmd, unless) = match t.arg_str(&["state"]).as_deref() {
                Some("started") => (
                    format!("supervisorctl start {q}"),
                    Some(format!("supervisorctl status {q} | grep -q RUNNING")),
                ),
                Some("stopped") => (
                    format!("supervisorctl stop {q}"),
                    Some(format!("! supervisorctl status {q} | grep -q RUNNING")),
                ),
                Some("restarted") => (format!("supervisorctl restart {q}"), None),
                Some("absent") => (format!("supervisorctl remove {q}"), None),
                _ => (format!("supervisorctl reread && supervisorctl update {q}"), None),
            };
            let mut r = Res::command(cmd, "supervisorctl");
            r.comments.push(
                "a `program:` resource would manage the program's conf and state in one".into(),
            );
            if let Some(u) = unless {
                r.set("unless", u);
            }
            Resources(vec![r])
        }
        "command" | "shell" | "raw" => {
            let cmd = t
                .free
                .clone()
                .or_else(|| t.arg_str(&["cmd"]))
                .or_else(|| match t.arg(&["argv"]) {
                    Some(Value::Sequence(items)) => Some(
                        items
                            .iter()
                            .filter_map(|v| v.as_str())
                            .map(sh_quote)
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                    _ => None,
                });
            let Some(mut cmd) = cmd.filter(|c| !c.trim().is_empty()) else {
                return LeftOut(format!("{m} without a command line"));
            };
            cmd = cmd.trim_end().to_string();
            if m == "command" && cmd.contains('\n') {
                // `command` runs no shell: its line breaks are word breaks (sh would run each
                // line as a command of its own)
                cmd = cmd.split_whitespace().collect::<Vec<_>>().join(" ");
            }
            if let Some(r) = ruby::idiom(&cmd, t) {
                return Resources(vec![r]);
            }
            if let Some(exe) = t.arg_str(&["executable"]) {
                if m == "shell" {
                    cmd = format!("{exe} -c {}", sh_quote(&cmd));
                }
            }
            if let Some(rs) = openssl::idiom(&cmd, t) {
                return Resources(rs);
            }
            if let Some(r) = acme::idiom(&cmd, t) {
                return Resources(vec![r]);
            }
            if let Some(r) = shell_idiom(&cmd, t) {
                return Resources(vec![r]);
            }
            let mut r = Res::new("command", cmd);
            if let Some(c) = t.arg_str(&["creates"]) {
                if c.starts_with('/') || c.starts_with("{{") {
                    r.set("creates", c);
                } else {
                    // `~/x` or a relative path: the shell resolves it
                    r.set("unless", format!("test -e {c}"));
                }
            }
            if let Some(rm) = t.arg_str(&["removes"]) {
                r.set("unless", format!("test ! -e {}", sh_quote(&rm)));
            }
            if let Some(d) = t.arg_str(&["chdir"]) {
                r.set("chdir", d);
            }
            ignored(t, &mut r, &["stdin", "warn"]);
            Resources(vec![r])
        }
        "pip" => map_venv(t)
            .or_else(|| map_pip_site(t))
            .unwrap_or_else(|| map_pip(t)),
        "easy_install" => map_easy_install(t).unwrap_or_else(|| map_pip(t)),
        "lineinfile" => map_lineinfile(t),
        "cron" => map_cron(t),
        "get_url" => {
            let (Some(url), Some(dest)) = (t.arg_str(&["url"]), t.arg_str(&["dest"])) else {
                return LeftOut("get_url without `url` and `dest`".into());
            };
            let file = if dest.ends_with('/') || ctx.is_dir(&dest) {
                format!("{}/{}", dest.trim_end_matches('/'), basename(&url))
            } else {
                dest
            };
            let checksum = t.arg_str(&["checksum"]);
            let sha = checksum.as_deref().and_then(|c| {
                c.strip_prefix("sha256:")
                    .filter(|h| !h.contains("://"))
                    .map(str::to_string)
                    .or_else(|| checksum_var(c))
                    .or_else(|| sha256_template(c))
            });
            if let Some(sha) = sha {
                let mut r = Res::new("download", file);
                r.set("url", url);
                if sha.contains("{{") {
                    r.notes.push(format!(
                        "`checksum: {}` must render to `sha256:HEX`, or to nothing (`omit`: no checksum; `play check` says so otherwise)",
                        checksum.unwrap_or_default()
                    ));
                }
                r.set("sha256", sha);
                owner_group_mode(t, &mut r);
                ignored(t, &mut r, &["force", "timeout", "headers", "validate_certs", "url_username", "url_password"]);
                return Resources(vec![r]);
            }
            // no checksum: fetched only while missing (Ansible's default `force: no`), which a
            // `download:` without `sha256` does; `force: yes` (fetched on every run) is not
            // play's declarative form
            if checksum.is_none() {
                let mut r = Res::new("download", file);
                r.set("url", url);
                owner_group_mode(t, &mut r);
                if t.arg_bool(&["force"]) == Some(true) {
                    r.notes.push(
                        "`force: yes` not carried: fetched only while missing (give a `sha256` to have it fetched again whenever the file differs)"
                            .into(),
                    );
                } else {
                    r.notes.push(
                        "no `checksum`: fetched only while missing and not checked, as Ansible did (`sha256:` would have it checked)"
                            .into(),
                    );
                }
                ignored(t, &mut r, &["force", "timeout", "headers", "validate_certs", "url_username", "url_password"]);
                return Resources(vec![r]);
            }
            let mut cmd = format!("curl -fsSL -o {} {}", sh_quote(&file), sh_quote(&url));
            if let Some(m) = t.arg(&["mode"]).and_then(mode) {
                cmd.push_str(&format!(" && chmod {m} {}", sh_quote(&file)));
            }
            if let Some(o) = t.arg_str(&["owner"]) {
                let g = t.arg_str(&["group"]).map(|g| format!(":{g}")).unwrap_or_default();
                cmd.push_str(&format!(" && chown {o}{g} {}", sh_quote(&file)));
            }
            let mut r = Res::command(cmd, "get_url");
            if t.arg_bool(&["force"]) != Some(true) {
                r.set("creates", file);
            }
            r.notes.push(format!(
                "`checksum: {}` not verified (`download:` checks only a sha256)",
                checksum.unwrap_or_default()
            ));
            r.comments[0] = "play import: get_url with a checksum other than sha256 → command (`download:` checks only a sha256)".into();
            Resources(vec![r])
        }
        "unarchive" => {
            let (Some(src), Some(dest)) = (t.arg_str(&["src"]), t.arg_str(&["dest"])) else {
                return LeftOut("unarchive without `src` and `dest`".into());
            };
            let remote = t.arg_bool(&["remote_src", "copy"]).map(|b| {
                // `copy: no` means the archive is on the host
                if t.arg(&["remote_src"]).is_some() { b } else { !b }
            });
            if remote == Some(true) && !src.contains("://") {
                if let Some(r) = map_unarchive(t, &src, &dest) {
                    return Resources(vec![r]);
                }
            }
            let cmd = if src.contains("://") {
                format!(
                    "tmp=$(mktemp) && curl -fsSL -o \"$tmp\" {} && tar -xf \"$tmp\" -C {} && rm -f \"$tmp\"",
                    sh_quote(&src),
                    sh_quote(&dest)
                )
            } else if remote == Some(true) {
                format!("tar -xf {} -C {}", sh_quote(&src), sh_quote(&dest))
            } else {
                return LeftOut(
                    "unarchive of a controller file: extract it into the role's files/ and use `sync:`".into(),
                );
            };
            let mut cmd = cmd;
            if let Some(o) = t.arg_str(&["owner"]) {
                let g = t.arg_str(&["group"]).map(|g| format!(":{g}")).unwrap_or_default();
                cmd.push_str(&format!(" && chown -R {o}{g} {}", sh_quote(&dest)));
            }
            let mut r = Res::command(cmd, "unarchive");
            match t.arg_str(&["creates"]) {
                Some(c) => r.set("creates", c),
                None => r.notes.push("no `creates`: runs on every apply".into()),
            }
            Resources(vec![r])
        }
        "apt_key" => {
            let id = t.arg_str(&["id"]);
            let absent = t.arg_str(&["state"]).as_deref() == Some("absent");
            let mut r = if absent {
                let Some(id) = &id else {
                    return LeftOut("apt_key state=absent without `id`".into());
                };
                let mut r = Res::command(format!("apt-key del {}", sh_quote(id)), "apt_key");
                r.set("unless", format!("! apt-key list 2>/dev/null | grep -q {}", sh_quote(id)));
                return Resources(vec![r]);
            } else if let Some(url) = t.arg_str(&["url"]) {
                // a keyring of its own: a binary one, made by gpg on the host
                let Some(k) = t.arg_str(&["keyring"]) else {
                    return map_apt_key_url(t, &url);
                };
                let mut r = Res::command(
                    format!("curl -fsSL {} | gpg --dearmor > {}", sh_quote(&url), sh_quote(&k)),
                    "apt_key",
                );
                r.comments[0] = "play import: apt_key with `keyring` → command (gpg --dearmor makes the binary keyring)".into();
                r.set("creates", k);
                return Resources(vec![r]);
            } else if let (Some(server), Some(id)) = (t.arg_str(&["keyserver"]), &id) {
                if let Some(m) = map_apt_key_server(t, &server, id) {
                    return m;
                }
                let mut r = Res::command(
                    format!("apt-key adv --keyserver {} --recv-keys {}", sh_quote(&server), sh_quote(id)),
                    "apt_key",
                );
                r.comments[0] = "play import: apt_key from a keyserver → command (play fetches keys from URLs only)".into();
                r
            } else {
                return LeftOut("apt_key without `url` or `keyserver`".into());
            };
            match &id {
                Some(id) => r.set(
                    "unless",
                    format!("apt-key list 2>/dev/null | tr -d ' ' | grep -qi {}", sh_quote(&id.chars().rev().take(8).collect::<Vec<_>>().into_iter().rev().collect::<String>())),
                ),
                None => r.notes.push("no `id`: the key is fetched on every apply".into()),
            }
            Resources(vec![r])
        }
        "apt_repository" => {
            let Some(repo) = t.arg_str(&["repo"]) else {
                return LeftOut("apt_repository without `repo`".into());
            };
            let absent = t.arg_str(&["state"]).as_deref() == Some("absent");
            if let Some(ppa) = repo.strip_prefix("ppa:") {
                return Resources(vec![map_ppa(t, ppa.trim(), absent)]);
            }
            let name = t.arg_str(&["filename"]).unwrap_or_else(|| repo_filename(&repo));
            if let Some((uri, suite, components)) = deb_line(&repo) {
                let mut r = Res::new("apt_source", sanitize(&name, "_-."));
                if absent {
                    r.set("state", "absent");
                } else {
                    r.set("uris", uri);
                    r.set("suites", Value::Sequence(vec![Value::String(suite)]));
                    if !components.is_empty() {
                        r.set(
                            "components",
                            Value::Sequence(components.into_iter().map(Value::String).collect()),
                        );
                    }
                }
                r.notes.push(format!(
                    "written as /etc/apt/sources.list.d/{}.sources (deb822; remove Ansible's `.list` of the same repository once)",
                    sanitize(&name, "_-.")
                ));
                if t.arg_bool(&["update_cache"]) == Some(false) {
                    r.notes.push("`update_cache: no` not carried: play updates the lists when a source changes".into());
                }
                return Resources(vec![r]);
            }
            let path = format!("/etc/apt/sources.list.d/{name}.list");
            let mut f = Res::new("file", path.clone());
            if absent {
                f.set("state", "absent");
                return Resources(vec![f]);
            }
            f.set("content", format!("{repo}\n"));
            if let Some(m) = t.arg(&["mode"]).and_then(mode) {
                f.set("mode", m);
            }
            if t.arg(&["filename"]).is_none() {
                f.notes.push(format!(
                    "file name `{name}.list` derived from the repo line (Ansible's may differ: remove the old one)"
                ));
            }
            let mut out = vec![f];
            if t.arg_bool(&["update_cache"]) != Some(false) {
                let mut u = Res::command("apt-get update".into(), "apt_repository update_cache");
                u.watch("on_change", &path);
                out.push(u);
            }
            Resources(out)
        }
        "synchronize" => {
            let (Some(src), Some(dest)) = (t.arg_str(&["src"]), t.arg_str(&["dest"])) else {
                return LeftOut("synchronize without `src` and `dest`".into());
            };
            if t.arg_str(&["mode"]).as_deref() == Some("pull") {
                return LeftOut("synchronize mode=pull (play only pushes)".into());
            }
            let dest = if src.ends_with('/') {
                dest.trim_end_matches('/').to_string()
            } else {
                format!("{}/{}", dest.trim_end_matches('/'), basename(&src))
            };
            let mut r = Res::new("sync", dest);
            let src = src.strip_prefix("files/").unwrap_or(&src);
            r.set("src", src.trim_end_matches('/').to_string());
            if t.arg_bool(&["delete"]) == Some(true) {
                r.set("delete", true);
            }
            ignored(t, &mut r, &["rsync_opts", "recursive", "archive", "checksum"]);
            Resources(vec![r])
        }
        "django_manage" => {
            let (Some(cmd), Some(app)) = (t.arg_str(&["command"]), t.arg_str(&["app_path", "project_path", "chdir"])) else {
                return LeftOut("django_manage without `command` and `app_path`".into());
            };
            let python = t
                .arg_str(&["virtualenv", "virtualenv_path"])
                .map(|v| format!("{}/bin/python", v.trim_end_matches('/')))
                .unwrap_or_else(|| "python3".into());
            let mut line = format!("{python} manage.py {cmd}");
            if let Some(s) = t.arg_str(&["settings"]) {
                line.push_str(&format!(" --settings={s}"));
            }
            if matches!(cmd.as_str(), "collectstatic" | "migrate") {
                line.push_str(" --noinput");
            }
            let mut r = Res::command(line, "django_manage");
            r.set("chdir", app);
            Resources(vec![r])
        }
        "npm" => map_npm(t).unwrap_or_else(|| npm_command(t)),
        "composer" => map_composer(t),
        "bundler" => ruby::map_bundler(t),
        "gem" => ruby::map_gem(t),
        "set_fact" => {
            if !t.when.is_empty() || t.loop_.is_some() {
                return LeftOut(CONDITIONAL_SET_FACT.into());
            }
            let vars: Vec<(String, Value)> = t
                .args
                .iter()
                .filter(|(k, _)| k != "cacheable")
                .cloned()
                .collect();
            if vars.is_empty() {
                return LeftOut("set_fact without vars".into());
            }
            Vars(vars)
        }
        "debug" => LeftOut("`debug`: play prints no messages".into()),
        "fail" | "assert" => LeftOut(format!("`{m}`: play has no assertions (a `when` on the resources, or `play check`, instead)")),
        "pause" | "wait_for" | "wait_for_connection" => LeftOut(format!("`{m}`: play has no waits (a play's `wait_for:` gate runs after apply)")),
        "meta" => LeftOut("`meta`: play has no equivalent (handlers run after the host's changes)".into()),
        "stat" => LeftOut("`stat` whose result no task uses as a guard".into()),
        "ping" | "setup" | "gather_facts" | "package_facts" | "service_facts" => {
            LeftOut(format!("`{m}`: play gathers its facts in its probe"))
        }
        "add_host" | "group_by" => LeftOut(format!("`{m}`: play's inventory is static")),
        "uri" => LeftOut("`uri`: play makes no HTTP requests from tasks (a play's `wait_for: {http}` checks health)".into()),
        "hostname" => map_hostname(t),
        "timezone" => map_timezone(t),
        "ufw" => map_ufw(t),
        "locale_gen" => map_locale_gen(t),
        "alternatives" => map_alternatives(t),
        "debconf" => map_debconf(t),
        "blockinfile" => map_blockinfile(t),
        "replace" => map_replace(t),
        "deb822_repository" => map_deb822(t),
        other => LeftOut(format!("no play kind for module `{other}`")),
    }
}

/// `apt: deb=FILE|URL` → `apt-get install` of the file (a URL fetched first, as Ansible does),
/// unless the package it holds is installed at its version.
fn map_deb(deb: &str) -> Res {
    let q = sh_quote(deb);
    let (fetch, file, done) = if deb.contains("://") {
        (
            format!("d=$(mktemp -d) && {{ curl -fsSL -o \"$d/p.deb\" {q} && "),
            "\"$d/p.deb\"".to_string(),
            "; s=$?; rm -rf \"$d\"; [ $s -eq 0 ]; }",
        )
    } else {
        (String::new(), q.clone(), "")
    };
    let mut r = Res::command(
        format!("{fetch}DEBIAN_FRONTEND=noninteractive apt-get install -y {file}{done}"),
        "apt deb",
    );
    if !deb.contains("://") {
        r.set(
            "unless",
            format!(
                "v=$(dpkg-deb -f {q} Version) && test -n \"$v\" && test \"$(dpkg-query -W -f '${{Version}}' \"$(dpkg-deb -f {q} Package)\" 2>/dev/null)\" = \"$v\""
            ),
        );
    } else {
        r.notes.push(
            "a `deb` URL: fetched and installed on every apply (guard it with `creates:` or `unless:` naming the package)".into(),
        );
    }
    r
}

/// hostname → `hostname: NAME` (the static name in `/etc/hostname` and the running one, what
/// the module does on Debian and Ubuntu; like it, play leaves `/etc/hosts` alone).
fn map_hostname(t: &Task) -> Mapped {
    let Some(name) = t.arg_str(&["name"]) else {
        return Mapped::LeftOut("hostname without `name`".into());
    };
    let mut r = Res::new("hostname", one_expression(&name).unwrap_or(name));
    ignored(t, &mut r, &["use"]);
    Mapped::Resources(vec![r])
}

/// timezone → `timezone: NAME` (`/etc/localtime` and `/etc/timezone`); `hwclock` is not
/// carried (noted).
fn map_timezone(t: &Task) -> Mapped {
    let Some(name) = t.arg_str(&["name"]) else {
        return Mapped::LeftOut(
            "timezone without `name` (only `hwclock`: play does not set the hardware clock)".into(),
        );
    };
    let mut r = Res::new("timezone", one_expression(&name).unwrap_or(name));
    ignored(t, &mut r, &["hwclock"]);
    Mapped::Resources(vec![r])
}

/// A value that is one template expression (`{{ x }}`, `{{x}}`), written as `{{ x }}`.
pub fn one_expression(v: &str) -> Option<String> {
    let inner = v.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains("{{")
        || inner.contains("}}")
        || inner.contains("{%")
        || inner.trim().is_empty()
    {
        return None;
    }
    Some(format!("{{{{ {} }}}}", inner.trim()))
}

/// A `ufw:` key play's kind takes (a templated one is checked once rendered, by `play check`).
fn ufw_key_ok(key: &str) -> bool {
    key.contains("{{")
        || crate::resources::registry::by_name("ufw")
            .is_some_and(|k| (crate::resources::registry::def(k).check_key)(key).is_ok())
}

/// The `ufw:` of a `ufw` command line's words (after `ufw`): `enable` (with `--force`),
/// `disable`, `[delete] ACTION [in|out] TARGET`; `None`: another command.
fn ufw_words(w: &[&str]) -> Option<Res> {
    let (absent, w) = match w {
        ["delete", rest @ ..] => (true, rest),
        _ => (false, w),
    };
    let mut r = match w {
        ["--force", "enable"] | ["enable"] if !absent => Res::new("ufw", "enabled"),
        ["disable"] if !absent => Res::new("ufw", "disabled"),
        [action, dir @ ("in" | "out"), target] | [action, target, dir @ ("in" | "out")]
            if !target.starts_with('-') =>
        {
            let key = format!("{action} {target}");
            if !ufw_key_ok(&key) {
                return None;
            }
            let mut r = Res::new("ufw", key);
            if *dir == "out" {
                r.set("direction", "out");
            }
            r
        }
        [action, target] if !target.starts_with('-') => {
            let key = format!("{action} {target}");
            if !ufw_key_ok(&key) {
                return None;
            }
            Res::new("ufw", key)
        }
        _ => return None,
    };
    if absent {
        r.set("state", "absent");
    }
    Some(r)
}

/// The ufw module → `ufw:` entries: a rule (`rule` with `port`/`to_port` or `name`, `proto`,
/// `from_ip`, `to_ip`, `direction`, `delete`), the state (`enabled`/`disabled`) after it, and
/// a default `policy` as a guarded `ufw default` command. What `ufw:` cannot say (`route`,
/// an `interface`, `from_port`, `insert`, `reloaded`/`reset`) makes the task a `ufw` command.
fn map_ufw(t: &Task) -> Mapped {
    let s = |names: &[&str]| t.arg_str(names);
    let mut out = Vec::new();
    let unsupported: Vec<&str> = [
        "route",
        "interface",
        "if",
        "interface_in",
        "interface_out",
        "from_port",
        "insert",
        "insert_relative_to",
    ]
    .into_iter()
    .filter(|k| t.arg(&[k]).is_some() && !(*k == "route" && t.arg_bool(&["route"]) == Some(false)))
    .collect();
    let state = s(&["state"]);
    if let Some(rule) = s(&["rule"]) {
        if !unsupported.is_empty() {
            return ufw_command(
                t,
                &format!("`{}` has no play form", unsupported.join("`, `")),
            );
        }
        let port = s(&["to_port", "port"]);
        let name = s(&["name", "app"]);
        let proto = s(&["proto", "protocol"]).filter(|p| p != "any");
        let target = match (&name, &port) {
            (Some(n), _) => n.clone(),
            (None, Some(p)) => match &proto {
                Some(pr) if !pr.contains("{{") && !p.contains("{{") => format!("{p}/{pr}"),
                _ => p.clone(),
            },
            (None, None) => String::new(),
        };
        let key = format!("{rule} {target}").trim().to_string();
        if !ufw_key_ok(&key) {
            return ufw_command(t, &format!("the rule `{key}` is not one `ufw:` takes"));
        }
        let mut r = Res::new("ufw", key);
        if let (Some(p), true) = (
            &proto,
            name.is_some()
                || port.as_deref().is_none_or(|p| p.contains("{{"))
                || proto.as_deref().is_some_and(|p| p.contains("{{")),
        ) {
            r.set("proto", p.clone());
        }
        for (from, to) in [
            (["from_ip", "from", "src"], "from"),
            (["to_ip", "to", "dest"], "to"),
        ] {
            if let Some(a) = s(&from).filter(|a| a != "any") {
                r.set(to, a);
            }
        }
        if let Some(d) = s(&["direction"]) {
            match d.as_str() {
                "in" | "incoming" => {}
                "out" | "outgoing" => r.set("direction", "out"),
                other => return ufw_command(t, &format!("direction `{other}` has no play form")),
            }
        }
        if t.arg_bool(&["delete"]) == Some(true) {
            r.set("state", "absent");
        }
        ignored(t, &mut r, &["comment", "log"]);
        out.push(r);
    }
    if let Some(p) = s(&["policy", "default"]) {
        let dir = s(&["direction"]).unwrap_or_else(|| "incoming".into());
        let var = match dir.as_str() {
            "incoming" | "in" => "DEFAULT_INPUT_POLICY",
            "outgoing" | "out" => "DEFAULT_OUTPUT_POLICY",
            "routed" => "DEFAULT_FORWARD_POLICY",
            _ => return ufw_command(t, &format!("policy direction `{dir}` is not known")),
        };
        let value = match p.as_str() {
            "allow" => "ACCEPT",
            "deny" => "DROP",
            "reject" => "REJECT",
            _ => return ufw_command(t, &format!("policy `{p}` is not known")),
        };
        let mut c = Res::command(format!("ufw default {p} {dir}"), "ufw policy");
        c.comments[0] = "play import: ufw policy → command (`ufw:` declares rules and the state, not the default policy)".into();
        c.set(
            "unless",
            format!("grep -qx '{var}=\"{value}\"' /etc/default/ufw"),
        );
        out.push(c);
    }
    match state.as_deref() {
        Some("enabled") => out.push(Res::new("ufw", "enabled")),
        Some("disabled") => out.push(Res::new("ufw", "disabled")),
        Some("reloaded") | Some("reset") => {
            return ufw_command(
                t,
                &format!(
                    "state `{}`: play has no such step",
                    state.unwrap_or_default()
                ),
            )
        }
        Some(other) if other.contains("{{") => {
            return ufw_command(t, &format!("a templated state `{other}`"))
        }
        _ => {}
    }
    if out.is_empty() {
        return Mapped::LeftOut("ufw without `rule`, `state` or `policy`".into());
    }
    Mapped::Resources(out)
}

/// The ufw module's task as the `ufw` command it runs, marked with why it stays one.
fn ufw_command(t: &Task, why: &str) -> Mapped {
    let mut cmd = vec!["ufw".to_string()];
    let s = |k: &str| t.arg_str(&[k]);
    if t.arg_bool(&["delete"]) == Some(true) {
        cmd.push("delete".into());
    }
    if let Some(state) = s("state") {
        cmd.push(match state.as_str() {
            "enabled" => "--force enable".into(),
            "disabled" => "disable".into(),
            "reloaded" => "reload".into(),
            "reset" => "--force reset".into(),
            other => other.to_string(),
        });
    }
    if let Some(rule) = s("rule") {
        if t.arg_bool(&["route"]) == Some(true) {
            cmd.push("route".into());
        }
        if let Some(p) = s("insert") {
            cmd.push(format!("insert {p}"));
        }
        cmd.push(rule);
        let iface = s("interface").or(s("if"));
        match s("direction") {
            Some(d) => cmd.push(d.replace("incoming", "in").replace("outgoing", "out")),
            // `on IFACE` follows a direction
            None if iface.is_some() => cmd.push("in".into()),
            None => {}
        }
        if let Some(i) = iface {
            cmd.push(format!("on {i}"));
        }
        if let Some(p) = s("proto").filter(|p| p != "any") {
            cmd.push(format!("proto {p}"));
        }
        cmd.push(format!(
            "from {}",
            s("from_ip").or(s("src")).unwrap_or_else(|| "any".into())
        ));
        if let Some(p) = s("from_port") {
            cmd.push(format!("port {p}"));
        }
        cmd.push(format!(
            "to {}",
            s("to_ip").or(s("dest")).unwrap_or_else(|| "any".into())
        ));
        if let Some(p) = s("to_port").or(s("port")) {
            cmd.push(format!("port {p}"));
        }
        if let Some(n) = s("name").or(s("app")) {
            cmd.push(format!("app {}", sh_quote(&n)));
        }
    }
    let mut c = Res::command(cmd.join(" "), "ufw");
    c.comments[0] = format!("play import: ufw → command ({why})");
    Mapped::Resources(vec![c])
}

/// locale_gen → the locale's line of `/etc/locale.gen` uncommented (a `line:`) and `locale-gen`
/// run while `locale -a` lacks it. Only `NAME.UTF-8` locales (the charset is then known).
fn map_locale_gen(t: &Task) -> Mapped {
    let Some(name) = t.arg_str(&["name"]) else {
        return Mapped::LeftOut("locale_gen without `name`".into());
    };
    let Some(lang) = name.strip_suffix(".UTF-8").filter(|l| {
        !l.is_empty()
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_@".contains(c))
    }) else {
        return Mapped::LeftOut(format!(
            "locale_gen `{name}`: only `NAME.UTF-8` locales are mapped (their charset is known)"
        ));
    };
    let entry = format!("{name} UTF-8");
    let mut l = Res::new("line", "/etc/locale.gen");
    l.set("regexp", format!("^#?\\s*{lang}\\.UTF-8 UTF-8\\s*$"));
    if t.arg_str(&["state"]).as_deref() == Some("absent") {
        l.set("state", "absent");
        return Mapped::Resources(vec![l]);
    }
    l.set("text", entry);
    let mut c = Res::command(format!("locale-gen {}", sh_quote(&name)), "locale_gen");
    c.comments[0] =
        "play import: locale_gen → the line above, and this command generating the locale".into();
    c.set(
        "unless",
        format!(
            "locale -a | grep -qixF {}",
            sh_quote(&format!("{lang}.utf8"))
        ),
    );
    Mapped::Resources(vec![l, c])
}

/// alternatives → `update-alternatives --set` (after `--install` when `link` is given),
/// guarded by the selected value.
fn map_alternatives(t: &Task) -> Mapped {
    let (Some(name), Some(path)) = (t.arg_str(&["name"]), t.arg_str(&["path"])) else {
        return Mapped::LeftOut("alternatives without `name` and `path`".into());
    };
    if !matches!(t.arg_str(&["state"]).as_deref(), None | Some("selected")) {
        return Mapped::LeftOut("alternatives with a `state` other than `selected`".into());
    }
    let (n, p) = (sh_quote(&name), sh_quote(&path));
    let mut cmd = String::new();
    if let Some(link) = t.arg_str(&["link"]) {
        let prio = t.arg_str(&["priority"]).unwrap_or_else(|| "50".into());
        cmd.push_str(&format!(
            "update-alternatives --install {} {n} {p} {} && ",
            sh_quote(&link),
            sh_quote(&prio)
        ));
    }
    cmd.push_str(&format!("update-alternatives --set {n} {p}"));
    let mut r = Res::command(cmd, "alternatives");
    r.set(
        "unless",
        format!(
            "update-alternatives --query {n} 2>/dev/null | grep -qxF {}",
            sh_quote(&format!("Value: {path}"))
        ),
    );
    Mapped::Resources(vec![r])
}

/// debconf → `debconf-set-selections`, guarded by `debconf-show` (which hides passwords: those
/// are set on every apply).
fn map_debconf(t: &Task) -> Mapped {
    let (Some(pkg), Some(question), Some(vtype)) = (
        t.arg_str(&["name"]),
        t.arg_str(&["question"]),
        t.arg_str(&["vtype"]),
    ) else {
        return Mapped::LeftOut("debconf without `name`, `question` and `vtype` (a read)".into());
    };
    let Some(mut value) = t.arg_str(&["value"]) else {
        return Mapped::LeftOut("debconf without `value`".into());
    };
    if vtype == "boolean" {
        if let Some(b) = super::node::yaml11_bool(&value) {
            value = b.to_string();
        }
    }
    let line = format!("{pkg} {question} {vtype} {value}");
    let mut r = Res::command(
        format!("echo {} | debconf-set-selections", sh_quote(&line)),
        "debconf",
    );
    if vtype != "password" {
        r.set(
            "unless",
            format!(
                "debconf-show {} | sed 's/^[* ] //' | grep -qxF {}",
                sh_quote(&pkg),
                sh_quote(&format!("{question}: {value}"))
            ),
        );
    } else {
        r.set("sensitive", true);
    }
    ignored(t, &mut r, &["unseen"]);
    Mapped::Resources(vec![r])
}

/// `checksum: "{{ NAME }}"` (one var, as roles keep the checksum in their defaults:
/// `sha256:HEX`) → the sha256 part of its value, as a template.
fn checksum_var(c: &str) -> Option<String> {
    let name = c.trim().strip_prefix("{{")?.strip_suffix("}}")?.trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '.')
    {
        return None;
    }
    Some(format!("{{{{ {name} | regex_replace('^sha256:', '') }}}}"))
}

/// A templated sha256 checksum that renders to `sha256:HEX` or to nothing (Ansible's
/// `{{ (c) | ternary(omit, 'sha256: ' + x) }}`, `{{ 'sha256:' ~ x }}`): kept as written,
/// since `download:`'s `sha256` takes the `sha256:` prefix and a value rendering to nothing
/// (`omit`) is no checksum. `None` when it names another algorithm.
fn sha256_template(c: &str) -> Option<String> {
    let t = c.trim();
    let other = ["sha1", "sha224", "sha384", "sha512", "md5"];
    (t.starts_with("{{")
        && t.ends_with("}}")
        && (t.contains("'sha256:") || t.contains("\"sha256:"))
        && !other.iter().any(|o| t.contains(o)))
    .then(|| t.to_string())
}

/// The quoted words (`'link'`, `"absent"`) of a templated value, each with its byte range
/// (quotes included); None when a quote is not closed.
fn quoted_words(tpl: &str) -> Option<Vec<(std::ops::Range<usize>, String)>> {
    let mut out = Vec::new();
    let mut chars = tpl.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '\'' || c == '"' {
            let (end, _) = chars.by_ref().find(|&(_, d)| d == c)?;
            out.push((i..end + 1, tpl[i + 1..end].to_string()));
        }
    }
    Some(out)
}

/// A templated `state:` whose only literals are Ansible states of one play kind
/// (`{{ enabled | ternary('link', 'absent') }}`), rewritten with play's states: each literal
/// replaced by `map(literal)`. None when a literal is outside `map`'s domain or there is none.
fn templated_state(tpl: &str, map: impl Fn(&str) -> Option<&'static str>) -> Option<String> {
    let words = quoted_words(tpl)?;
    if words.is_empty() || words.iter().any(|(_, w)| map(w).is_none()) {
        return None;
    }
    let mut out = String::new();
    let mut at = 0;
    for (range, w) in &words {
        let q = &tpl[range.start..range.start + 1];
        out.push_str(&tpl[at..range.start]);
        out.push_str(&format!("{q}{}{q}", map(w)?));
        at = range.end;
    }
    out.push_str(&tpl[at..]);
    Some(out)
}

/// `file` with a templated `state` choosing between one kind's presence and `absent` (`link`
/// or `absent`; `directory` or `absent`; `file`/`touch` or `absent`): that kind, its `state`
/// the same choice in play's words (`present`/`absent`).
fn map_file_templated_state(t: &Task, ctx: &Ctx, path: &str, st: &str) -> Option<Res> {
    let words: Vec<String> = quoted_words(st)?.into_iter().map(|(_, w)| w).collect();
    let present: Vec<&str> = words
        .iter()
        .map(String::as_str)
        .filter(|w| *w != "absent")
        .collect();
    let kind = match present.first().copied() {
        Some("link") | Some("hard") => "link",
        Some("directory") => "directory",
        Some("file") | Some("touch") => "file",
        None if ctx.is_dir(path) => "directory",
        None => "file",
        Some(_) => return None,
    };
    let presents: &[&str] = match kind {
        "link" => &["link", "hard"],
        "directory" => &["directory"],
        _ => &["file", "touch"],
    };
    let state = templated_state(st, |w| {
        if w == "absent" {
            Some("absent")
        } else if presents.contains(&w) {
            Some("present")
        } else {
            None
        }
    })?;
    let mut r = Res::new(kind, path.trim_end_matches('/'));
    if kind == "link" {
        r.set("target", t.arg_str(&["src"])?);
        if present.contains(&"hard") {
            r.notes.push("a hard link became a symbolic link".into());
        }
        if t.arg_bool(&["force"]) == Some(true) {
            r.set("force", true);
        }
    }
    if kind == "directory" && words.iter().any(|w| w == "absent") {
        // Ansible removes a folder with its content
        r.set("force", true);
    }
    if present.iter().all(|w| *w == "file") && !present.is_empty() {
        r.notes.push(
            "`state: file` (the file must exist) → a present file: play creates it empty when missing"
                .into(),
        );
    }
    if !words.iter().all(|w| presents.contains(&w.as_str())) {
        r.set("state", state);
    }
    owner_group_mode(t, &mut r);
    r.comments.push(format!(
        "play import: file `state: {st}` → {kind} with `state` present or absent"
    ));
    Some(r)
}

/// A template text without the spaces inside its `{{ }}` (`{{ d }}` and `{{d}}` alike).
pub fn squeeze(text: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut rest = text;
    while let Some(ch) = rest.chars().next() {
        if rest.starts_with("{{") {
            depth += 1;
            out.push_str("{{");
            rest = &rest[2..];
            continue;
        }
        if rest.starts_with("}}") && depth > 0 {
            depth -= 1;
            out.push_str("}}");
            rest = &rest[2..];
            continue;
        }
        if !(depth > 0 && ch.is_whitespace()) {
            out.push(ch);
        }
        rest = &rest[ch.len_utf8()..];
    }
    out
}

/// The text of a command word outside its `{{ … }}` (`{{ x * 2 }}` is no glob, no operator).
fn outside_templates(w: &str) -> String {
    let mut plain = String::new();
    let mut rest = w;
    while let Some(open) = rest.find("{{") {
        plain.push_str(&rest[..open]);
        rest = rest[open..]
            .find("}}")
            .map_or("", |c| &rest[open + c + 2..]);
    }
    plain.push_str(rest);
    plain
}

/// A shell command that states what it makes: `touch P`, `mkdir -p P`, `ln -s[f] T P`
/// (one path, no operators) is that path's resource.
pub fn shell_idiom(cmd: &str, t: &Task) -> Option<Res> {
    // `echo y | ufw enable` answers ufw's question as `--force` does
    let enable = cmd
        .trim()
        .strip_suffix("ufw enable")
        .map(|head| head.trim().trim_end_matches('|').trim());
    if let Some(head) = enable {
        if ["echo y", "echo 'y'", "echo \"y\"", "yes"].contains(&head) {
            let mut r = Res::new("ufw", "enabled");
            r.comments.push(format!("play import: `{cmd}` → ufw"));
            return Some(r);
        }
    }
    if cmd.contains(['|', ';', '&', '>', '<', '`', '$', '*']) && !cmd.contains("{{") {
        return None;
    }
    if cmd.contains("{%") || t.arg(&["chdir"]).is_some() || t.arg(&["removes"]).is_some() {
        return None;
    }
    let words = super::task::words(cmd);
    let mut w: Vec<&str> = words.iter().map(|(w, _)| w.as_str()).collect();
    // a glob is many paths (outside templates: `{{ x * 2 }}` is no glob)
    if w.iter()
        .any(|w| outside_templates(w).contains(['*', '?', '[']))
    {
        return None;
    }
    // play's package steps run apt-get noninteractive themselves
    if w.first() == Some(&"DEBIAN_FRONTEND=noninteractive") {
        w.remove(0);
    }
    let abs = |p: &str| p.starts_with('/') || p.starts_with("{{");
    let mut r = match w.as_slice() {
        ["touch", p] if abs(p) => Res::new("file", *p),
        ["mkdir", "-p", p] | ["mkdir", p] if abs(p) => {
            Res::new("directory", p.trim_end_matches('/'))
        }
        // -s with -f (replace what stands there) and -n (a link to a folder is replaced, not
        // entered): what `link:` does
        ["ln", flags, target, p]
            if abs(p)
                && !p.ends_with('/')
                && flags.len() > 1
                && flags.starts_with('-')
                && flags.contains('s')
                && flags[1..].chars().all(|c| "sfn".contains(c)) =>
        {
            let mut r = Res::new("link", *p);
            r.set("target", *target);
            if flags.contains('f') {
                r.set("force", true);
            }
            r
        }
        ["systemctl", "start", unit] | ["service", unit, "start"] if !unit.starts_with('-') => {
            let mut r = Res::new("service", *unit);
            r.set("state", "running");
            r
        }
        ["systemctl", "enable", unit] if !unit.starts_with('-') => {
            let mut r = Res::new("service", *unit);
            r.set("enabled", true);
            r
        }
        ["systemctl", "enable", "--now", unit] | ["systemctl", "enable", unit, "--now"]
            if !unit.starts_with('-') =>
        {
            let mut r = Res::new("service", *unit);
            r.set("state", "running");
            r.set("enabled", true);
            r
        }
        [py, "-m", "venv" | "virtualenv", dir] if abs(dir) && is_python(py) => {
            venv_res(dir, Some(py), t)
        }
        ["virtualenv", dir] if abs(dir) => venv_res(dir, None, t),
        ["virtualenv", "-p" | "--python", py, dir] if abs(dir) && is_python(py) => {
            venv_res(dir, Some(py), t)
        }
        [pip, "install", rest @ ..] if pip.ends_with("/bin/pip") || pip.ends_with("/bin/pip3") => {
            pip_into_venv(pip, rest, t)?
        }
        ["chown", "-R" | "--recursive", spec, p] | ["chown", spec, "-R" | "--recursive", p]
            if abs(p) && !spec.starts_with('-') =>
        {
            let (owner, group) = owner_group(spec)?;
            let mut r = Res::new("directory", unquoted_path(p).trim_end_matches('/'));
            if let Some(o) = owner {
                r.set("owner", o);
            }
            if let Some(g) = group {
                r.set("group", g);
            }
            r.set("recurse", true);
            r
        }
        ["chmod", "-R" | "--recursive", m, p] if abs(p) => {
            let m = Value::String(m.to_string());
            let m = mode(&m).or_else(|| folder_mode(&m))?;
            let mut r = Res::new("directory", p.trim_end_matches('/'));
            r.set("mode", m);
            r.set("recurse", true);
            r
        }
        // one file copied by rsync on the host: without `-r`/`-a` rsync skips folders, without
        // `-o`/`-g`/`-p` the copy is root's with its own mode (`--chmod` gives one)
        ["rsync", rest @ ..] => rsync_file(rest)?,
        ["curl", rest @ ..] => fetch_idiom(rest, "-o", "curl")?,
        ["wget", rest @ ..] => fetch_idiom(rest, "-O", "wget")?,
        ["useradd", rest @ ..] => useradd(rest)?,
        ["groupadd", rest @ ..] => groupadd(rest)?,
        ["ufw", rest @ ..] => ufw_words(rest)?,
        ["hostname", name] if !name.starts_with('-') => {
            Res::new("hostname", one_expression(name).unwrap_or(name.to_string()))
        }
        ["timedatectl", "set-timezone", name] if !name.starts_with('-') => {
            Res::new("timezone", one_expression(name).unwrap_or(name.to_string()))
        }
        ["rm", "-f", p] if abs(p) && !p.ends_with('/') => {
            let mut r = Res::new("file", *p);
            r.set("state", "absent");
            r
        }
        ["git", "clone", repo, dest] if abs(dest) && !repo.starts_with('-') => {
            let mut r = Res::new("git", dest.trim_end_matches('/'));
            r.set("repo", *repo);
            if let Some(u) = &t.become_user {
                r.set("owner", u.clone());
            }
            r
        }
        ["apt-get", "install", rest @ ..] | ["apt", "install", rest @ ..]
            if rest.iter().any(|w| !w.starts_with('-'))
                && rest.iter().all(|w| {
                    !w.starts_with('-')
                        || matches!(*w, "-y" | "-q" | "-qq" | "--yes" | "--assume-yes")
                }) =>
        {
            let names: Vec<Value> = rest
                .iter()
                .filter(|w| !w.starts_with('-'))
                .map(|w| Value::String(w.to_string()))
                .collect();
            let mut r = Res::new("package", "");
            r.fields[0].1 = if names.len() == 1 {
                names[0].clone()
            } else {
                Value::Sequence(names)
            };
            r
        }
        _ => return None,
    };
    r.comments
        .push(format!("play import: `{cmd}` → {}", r.kind()));
    Some(r)
}

/// `npm` as a guarded command (what `npm:` cannot declare).
fn npm_command(t: &Task) -> Mapped {
    let path = t.arg_str(&["path"]);
    let name = t.arg_str(&["name"]);
    let global = t.arg_bool(&["global"]) == Some(true);
    let mut cmd = "npm install".to_string();
    if global {
        cmd.push_str(" -g");
    }
    if t.arg_bool(&["production"]) == Some(true) {
        cmd.push_str(" --production");
    }
    if let Some(n) = &name {
        let v = t
            .arg_str(&["version"])
            .map(|v| format!("@{v}"))
            .unwrap_or_default();
        cmd.push_str(&format!(" {}", sh_quote(&format!("{n}{v}"))));
    }
    let mut r = Res::command(cmd, "npm");
    r.comments[0] = "play import: npm → command (an option or a form `npm:` cannot take: `registry`, `ignore_scripts`, `no_optional`, `no_bin_links`, a version range, a local package outside a `PREFIX/lib` folder)".into();
    if let Some(p) = path {
        r.set("chdir", p);
    }
    if let (Some(n), true) = (&name, global) {
        r.set(
            "unless",
            format!("npm ls -g --depth=0 {} >/dev/null 2>&1", sh_quote(n)),
        );
    }
    Mapped::Resources(vec![r])
}

/// A boolean argument carried as written (`yes`, `true`, or a template `npm:`/`composer:`
/// render and check).
fn carry_bool(t: &Task, r: &mut Res, from: &str, to: &str) {
    match (t.arg_bool(&[from]), t.arg(&[from])) {
        (Some(b), _) => r.set(to, b),
        (None, Some(Value::String(s))) if s.contains("{{") => r.set(to, s.clone()),
        _ => {}
    }
}

/// `npm`: `path` without `name` → `npm: PATH` (the project's dependencies); `name` with
/// `global` → `npm: NAME[@VERSION]`; `name` with `path: PREFIX/lib` (Ansible's install into
/// `PREFIX/lib/node_modules`, npm's global folder of PREFIX) → the same with `prefix`. None for
/// what `npm:` cannot take.
fn map_npm(t: &Task) -> Option<Mapped> {
    if ["registry", "ignore_scripts", "no_optional", "no_bin_links"]
        .iter()
        .any(|k| t.arg(&[k]).is_some())
    {
        return None;
    }
    let state = t.arg_str(&["state"]);
    let path = t
        .arg_str(&["path"])
        .map(|p| p.trim_end_matches('/').to_string());
    let global = t.arg_bool(&["global"]) == Some(true);
    let abs = |p: &str| p.starts_with('/') || p.starts_with("{{");
    let mut r = match t.arg_str(&["name"]) {
        None => {
            let p = path.filter(|p| abs(p))?;
            if global || state.as_deref() == Some("absent") {
                return None;
            }
            let mut r = Res::new("npm", p);
            carry_bool(t, &mut r, "production", "production");
            if t.arg(&["ci"]).is_some() {
                r.notes.push("`ci` not carried: play runs `npm ci` when the project has a lock, else `npm install`".into());
            }
            r
        }
        Some(name) => {
            let version = t.arg_str(&["version"]);
            let key = match &version {
                Some(v) => format!("{name}@{v}"),
                None => name.clone(),
            };
            if version.is_some() && state.as_deref() == Some("absent") {
                return None;
            }
            if !key.contains("{{")
                && crate::resources::registry::check_value("npm", "npm", &key).is_err()
            {
                return None;
            }
            let prefix = match (global, &path) {
                (true, _) => None,
                (false, Some(p)) => Some(p.strip_suffix("/lib").filter(|p| abs(p))?.to_string()),
                (false, None) => return None,
            };
            let mut r = Res::new("npm", key);
            if let Some(p) = prefix {
                r.notes.push(format!(
                    "`path: {p}/lib` written as `prefix: {p}`: Ansible installs into {p}/lib/node_modules, npm's global folder of that prefix"
                ));
                r.set("prefix", p);
            }
            r
        }
    };
    match state.as_deref() {
        Some("absent") => r.set("state", "absent"),
        Some("latest") => r.notes.push(
            "`state: latest` not carried: play installs what is missing (pin a version to move)"
                .into(),
        ),
        _ => {}
    }
    if let Some(e) = t.arg_str(&["executable"]) {
        r.set("executable", e);
    }
    if let Some(u) = &t.become_user {
        r.set("user", u.clone());
    }
    ignored(t, &mut r, &["unsafe_perm", "force"]);
    Some(Mapped::Resources(vec![r]))
}

/// `composer`: its `install` command (the default) → `composer: WORKING_DIR`; its other
/// commands (`config`, `check-platform-reqs`, `require`…) act once, they declare no state of
/// the host: guarded commands.
fn map_composer(t: &Task) -> Mapped {
    let cmd = t.arg_str(&["command"]).unwrap_or_else(|| "install".into());
    let dir = t
        .arg_str(&["working_dir"])
        .map(|d| d.trim_end_matches('/').to_string())
        .filter(|d| d.starts_with('/') || d.starts_with("{{"));
    if let (true, None, Some(d)) = (cmd == "install", t.arg(&["arguments"]), &dir) {
        let mut r = Res::new("composer", d.clone());
        for k in [
            "no_dev",
            "no_scripts",
            "optimize_autoloader",
            "classmap_authoritative",
        ] {
            carry_bool(t, &mut r, k, k);
        }
        if let Some(e) = t.arg_str(&["composer_executable"]) {
            r.set("executable", e);
        }
        if let Some(u) = &t.become_user {
            r.set("user", u.clone());
        }
        ignored(
            t,
            &mut r,
            &[
                "executable",
                "prefer_dist",
                "prefer_source",
                "ignore_platform_reqs",
                "apcu_autoloader",
                "global_command",
            ],
        );
        return Mapped::Resources(vec![r]);
    }
    let mut line = format!("composer {cmd} --no-interaction");
    if t.arg_bool(&["no_dev"]) != Some(false) && cmd == "install" {
        line.push_str(" --no-dev");
    }
    if let Some(a) = t.arg_str(&["arguments"]) {
        line.push(' ');
        line.push_str(&a);
    }
    let mut r = Res::command(line, "composer");
    let why = if cmd == "install" {
        "`composer:` cannot take `arguments`, or a relative `working_dir`".to_string()
    } else {
        format!("`composer {cmd}` acts once, it declares no state of the host; `composer:` is the install of a project's dependencies")
    };
    r.comments[0] = format!("play import: composer → command ({why})");
    r.notes.push(format!("a command: {why}"));
    if let Some(d) = t.arg_str(&["working_dir"]) {
        r.set("chdir", d);
    }
    Mapped::Resources(vec![r])
}

/// `chown`'s `OWNER[:GROUP]` / `:GROUP` (a `:` inside `{{ }}` does not count): `None` for
/// the forms play has no key for (`OWNER:` is the owner's login group, `OWNER.GROUP`).
fn owner_group(spec: &str) -> Option<(Option<String>, Option<String>)> {
    let mut depth = 0usize;
    let mut colon = None;
    let mut dots = Vec::new();
    let b = spec.as_bytes();
    for i in 0..b.len() {
        match (b[i], b.get(i + 1)) {
            (b'{', Some(b'{')) => depth += 1,
            (b'}', Some(b'}')) => depth = depth.saturating_sub(1),
            (b':', _) if depth == 0 && colon.is_none() => colon = Some(i),
            (b':', _) if depth == 0 => return None,
            (b'.', _) if depth == 0 => dots.push(i),
            _ => {}
        }
    }
    let word = |w: &str| (!w.is_empty()).then(|| w.to_string());
    // chown's old `OWNER.GROUP` (one `.` outside templates, no `:`)
    let colon = match (colon, dots.as_slice()) {
        (Some(_), [_, ..]) => return None,
        (None, [d]) => Some(*d),
        (None, [_, _, ..]) => return None,
        (c, _) => c,
    };
    match colon {
        None => Some((word(spec), None)),
        Some(i) => match (word(&spec[..i]), word(&spec[i + 1..])) {
            (_, None) => None,
            (o, g) => Some((o, g)),
        },
    }
}

/// A path word of a shell command: `{{ x | quote }}` is the path `{{ x }}` (the shell's
/// quoting, not part of the path).
fn unquoted_path(p: &str) -> String {
    let t = p.trim();
    match t
        .strip_prefix("{{")
        .and_then(|r| r.strip_suffix("}}"))
        .and_then(|r| r.trim_end().strip_suffix("| quote"))
    {
        Some(inner) if !inner.contains("}}") => format!("{{{{ {} }}}}", inner.trim()),
        _ => t.to_string(),
    }
}

/// `python3`, `python3.11`, `/usr/bin/python3` (an interpreter, not an option).
fn is_python(w: &str) -> bool {
    basename(w).starts_with("python") && !w.starts_with('-')
}

/// `venv: DIR` (python: PY unless python3), `become_user` → `user`.
fn venv_res(dir: &str, python: Option<&str>, t: &Task) -> Res {
    let mut r = Res::new("venv", dir.trim_end_matches('/'));
    if let Some(p) = python.filter(|p| *p != "python3") {
        r.set("python", p);
    }
    if let Some(u) = &t.become_user {
        r.set("user", u.clone());
    }
    r
}

/// `VENV/bin/pip install [-r FILE] [NAME[==V]]...` → `venv: VENV` with its `requirements` and
/// `packages`; None for other options, a relative requirements file, or a name `packages:`
/// cannot take.
fn pip_into_venv(pip: &str, rest: &[&str], t: &Task) -> Option<Res> {
    let dir = pip
        .strip_suffix("/bin/pip")
        .or_else(|| pip.strip_suffix("/bin/pip3"))
        .filter(|d| d.starts_with('/') || d.starts_with("{{"))?;
    let mut reqs = None;
    let mut packages = Vec::new();
    let mut upgrade = false;
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match *a {
            "-r" | "--requirement" => {
                let f = it.next()?;
                if !(f.starts_with('/') || f.starts_with("{{")) || reqs.is_some() {
                    return None;
                }
                reqs = Some(f.to_string());
            }
            "-q" | "--quiet" => {}
            "-U" | "--upgrade" => upgrade = true,
            n if !n.starts_with('-')
                && (n.contains("{{")
                    || crate::resources::registry::check_value("venv", "packages", n).is_ok()) =>
            {
                packages.push(Value::String(n.to_string()))
            }
            _ => return None,
        }
    }
    if reqs.is_none() && packages.is_empty() {
        return None;
    }
    let mut r = venv_res(dir, None, t);
    if !packages.is_empty() {
        r.set("packages", Value::Sequence(packages));
    }
    if let Some(f) = reqs {
        r.set("requirements", f);
    }
    if upgrade {
        r.notes.push(
            "`--upgrade` not carried: play installs what is missing (pin versions to move)".into(),
        );
    }
    r.notes
        .push("play creates the virtualenv when it is missing (`python3 -m venv`)".into());
    Some(r)
}

/// `COMMAND [OPTION [VALUE]]... NAME` (useradd, groupadd) → a `kind: NAME` resource, each
/// option given to `opt` (with the words after it); None for an option `opt` does not take.
fn account_command(
    kind: &str,
    args: &[&str],
    opt: impl Fn(&mut Res, &str, &mut std::slice::Iter<&str>) -> Option<()>,
) -> Option<Res> {
    let (name, opts) = args.split_last()?;
    if name.starts_with('-') {
        return None;
    }
    let mut r = Res::new(kind, *name);
    let mut it = opts.iter();
    while let Some(o) = it.next() {
        opt(&mut r, o, &mut it)?;
    }
    Some(r)
}

/// `useradd [-m|-M] [-r] [-s SHELL] [-d HOME] [-g GROUP] [-G A,B] [-u UID] NAME` → `user:`.
fn useradd(args: &[&str]) -> Option<Res> {
    account_command("user", args, |r, o, it| {
        match o {
            "-m" | "--create-home" => r.set("create_home", true),
            "-M" | "--no-create-home" => r.set("create_home", false),
            "-r" | "--system" => r.set("system", true),
            "-s" | "--shell" => r.set("shell", *it.next()?),
            "-d" | "--home-dir" => r.set("home", *it.next()?),
            "-g" | "--gid" => r.set("group", *it.next()?),
            "-G" | "--groups" => {
                let list = names(&Value::String(it.next()?.to_string()));
                r.set(
                    "groups",
                    Value::Sequence(list.into_iter().map(Value::String).collect()),
                )
            }
            "-u" | "--uid" => r.set("uid", number(it.next()?)),
            _ => return None,
        }
        Some(())
    })
}

/// A number as a YAML number (a uid, a gid), else as written.
fn number(w: &str) -> Value {
    w.parse::<u64>()
        .map(|n| Value::Number(n.into()))
        .unwrap_or_else(|_| Value::String(w.to_string()))
}

/// `groupadd [-r] [-g GID] NAME` → `group:`.
fn groupadd(args: &[&str]) -> Option<Res> {
    account_command("group", args, |r, o, it| {
        match o {
            "-r" | "--system" => r.set("system", true),
            "-g" | "--gid" => r.set("gid", number(it.next()?)),
            _ => return None,
        }
        Some(())
    })
}

/// The `name`s of a pip task (a list or `a,b`; with `version`, one name is `NAME==VERSION`),
/// each as `key` of `kind` takes it; None when one is not (`NAME>=1`, a URL, a path).
fn pip_names(t: &Task, kind: &str, key: &str) -> Option<Vec<String>> {
    let names: Vec<String> = t.arg(&["name"]).map(names).unwrap_or_default();
    let version = t.arg_str(&["version"]);
    let wanted: Vec<String> = names
        .iter()
        .map(|n| match (&version, names.len()) {
            (Some(v), 1) => format!("{n}=={v}"),
            _ => n.clone(),
        })
        .collect();
    let refused = |p: &String| {
        !p.contains("{{") && crate::resources::registry::check_value(kind, key, p).is_err()
    };
    (!wanted.iter().any(refused)).then_some(wanted)
}

/// pip into a virtualenv → `venv: PATH`. None (the command mapping instead) without a
/// `virtualenv`, for an uninstall, or for a name `packages:` cannot take (`NAME>=1`, a URL).
fn map_venv(t: &Task) -> Option<Mapped> {
    let venv = t.arg_str(&["virtualenv"])?;
    let state = t.arg_str(&["state"]);
    if matches!(state.as_deref(), Some("absent") | Some("forcereinstall")) {
        return None;
    }
    let packages = pip_names(t, "venv", "packages")?;
    let mut reqs = t.arg_str(&["requirements"]);
    if let Some(rq) = &reqs {
        if !rq.starts_with('/') && !rq.starts_with("{{") {
            // relative to `chdir` (Ansible's), else not knowable offline
            let chdir = t.arg_str(&["chdir"])?;
            reqs = Some(format!("{}/{rq}", chdir.trim_end_matches('/')));
        }
    }
    let mut r = Res::new("venv", venv.trim_end_matches('/'));
    let python = match t.arg_str(&["virtualenv_command"]) {
        Some(c) if c.contains(" -m venv") => c.split_whitespace().next().map(str::to_string),
        Some(c) => {
            r.notes.push(format!(
                "`virtualenv_command: {c}` not carried: play creates the venv with `PYTHON -m venv`"
            ));
            t.arg_str(&["virtualenv_python"])
        }
        None => t.arg_str(&["virtualenv_python"]),
    };
    if let Some(p) = python.filter(|p| p != "python3") {
        r.set("python", p);
    }
    if !packages.is_empty() {
        r.set(
            "packages",
            Value::Sequence(packages.into_iter().map(Value::String).collect()),
        );
    }
    if let Some(rq) = reqs {
        r.set("requirements", rq);
    }
    if let Some(extra) = t.arg_str(&["extra_args"]) {
        let args: Vec<Value> = if extra.contains("{{") {
            vec![Value::String(extra.clone())]
        } else {
            extra
                .split_whitespace()
                .filter(|a| !matches!(*a, "-U" | "--upgrade"))
                .map(|a| Value::String(a.to_string()))
                .collect()
        };
        if extra
            .split_whitespace()
            .any(|a| matches!(a, "-U" | "--upgrade"))
        {
            r.notes.push(
                "`--upgrade` not carried: play installs what is missing (pin versions to move)"
                    .into(),
            );
        }
        if !args.is_empty() {
            r.set("pip_args", Value::Sequence(args));
        }
    }
    if state.as_deref() == Some("latest") {
        r.notes.push(
            "`state: latest` not carried: play installs what is missing, never upgrades (pin versions to move)"
                .into(),
        );
    }
    if t.arg_bool(&["virtualenv_site_packages"]) == Some(true) {
        r.notes
            .push("`virtualenv_site_packages` not carried (play's venv is isolated)".into());
    }
    ignored(t, &mut r, &["editable", "umask", "executable"]);
    Some(Mapped::Resources(vec![r]))
}

/// Ansible's `executable` (a pip) → play's `python:` (the interpreter whose pip it is):
/// `pip`/`pip3` → `python3` (the default: `None`), `pip3.11` → `python3.11`, a path keeps its
/// folder. `Err`: not a pip play can name (a template, a venv's `bin/pip`, another program).
fn python_of_pip(executable: &str) -> Result<Option<String>, ()> {
    let (dir, base) = match executable.rsplit_once('/') {
        Some((d, b)) => (Some(d), b),
        None => (None, executable),
    };
    let suffix = base.strip_prefix("pip").ok_or(())?;
    let version_like = suffix.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if executable.contains("{{")
        || !version_like
        || dir.is_some_and(|d| d.ends_with("/bin") && !d.starts_with("/usr"))
    {
        return Err(());
    }
    let python = match suffix {
        "" | "3" => "python3".to_string(),
        v => format!("python{v}"),
    };
    Ok(match dir {
        None if python == "python3" => None,
        None => Some(python),
        Some(d) => Some(format!("{d}/{python}")),
    })
}

/// pip without a virtualenv → `pip: NAMES` (one resource per name). None (the command
/// mapping instead) for a requirements file, `forcereinstall`, an editable install, a name
/// `pip:` cannot take (`NAME>=1`, a URL, a path) or an `executable` that is no pip it can name.
fn map_pip_site(t: &Task) -> Option<Mapped> {
    if t.arg(&["virtualenv"]).is_some()
        || t.arg(&["virtualenv_command"]).is_some()
        || t.arg(&["requirements"]).is_some()
        || t.arg_bool(&["editable"]) == Some(true)
    {
        return None;
    }
    let state = t.arg_str(&["state"]);
    if matches!(state.as_deref(), Some("forcereinstall"))
        || state.as_deref().is_some_and(|s| s.contains("{{"))
    {
        return None;
    }
    let wanted = pip_names(t, "pip", "pip")?;
    if wanted.is_empty() {
        return None;
    }
    let python = match t.arg_str(&["executable"]) {
        Some(e) => python_of_pip(&e).ok()?,
        None => None,
    };
    let key = if wanted.len() == 1 {
        Value::String(wanted[0].clone())
    } else {
        Value::Sequence(wanted.into_iter().map(Value::String).collect())
    };
    let mut r = Res::new("pip", "");
    r.fields[0].1 = key;
    if let Some(p) = python {
        r.set("python", p);
    }
    let mut user_flag = false;
    let mut break_system = t.arg_bool(&["break_system_packages"]) == Some(true);
    if let Some(extra) = t.arg_str(&["extra_args"]) {
        let mut args: Vec<Value> = Vec::new();
        if extra.contains("{{") {
            args.push(Value::String(extra.clone()));
        } else {
            for a in extra.split_whitespace() {
                match a {
                    "--user" => user_flag = true,
                    "--break-system-packages" => break_system = true,
                    "-U" | "--upgrade" => r.notes.push(
                        "`--upgrade` not carried: play installs what is missing (pin versions to move)".into(),
                    ),
                    _ => args.push(Value::String(a.to_string())),
                }
            }
        }
        if !args.is_empty() {
            r.set("pip_args", Value::Sequence(args));
        }
    }
    match (&t.become_user, user_flag) {
        (Some(u), true) => r.set("user", u.clone()),
        (Some(u), false) => {
            r.set("user", u.clone());
            r.notes.push(format!(
                "pip as `{u}` without `--user`: pip installs into ~{u}/.local when the system site is not writable (its default), so `user: {u}` (a `--user` install)"
            ));
        }
        (None, true) => r.set("user", "root"),
        (None, false) => {}
    }
    if break_system {
        r.set("break_system_packages", true);
    }
    match state.as_deref() {
        Some("absent") => r.set("state", "absent"),
        Some("latest") => r.notes.push(
            "`state: latest` became `present`: latest is not a state play can verify (pin a version to move)".into(),
        ),
        _ => {}
    }
    ignored(t, &mut r, &["umask", "chdir"]);
    Some(Mapped::Resources(vec![r]))
}

/// easy_install → `pip: NAMES`: the same state (the distribution installed for the system's
/// python), reached with pip, as easy_install is gone from current setuptools. None (the
/// command mapping) with a virtualenv, an `executable` or a name `pip:` cannot take.
fn map_easy_install(t: &Task) -> Option<Mapped> {
    if t.arg(&["executable"]).is_some() {
        return None;
    }
    let Mapped::Resources(mut rs) = map_pip_site(t)? else {
        return None;
    };
    for r in &mut rs {
        let bootstrap = r.key() == "pip";
        r.notes.push(if bootstrap {
            "easy_install → `pip: pip` (the same state: pip installed for python3); play runs pip itself, so a host without pip needs Debian's `package: python3-pip` declared before it".into()
        } else {
            "easy_install → `pip:` (the same state, installed with pip: easy_install is gone from current setuptools)".into()
        });
    }
    Some(Mapped::Resources(rs))
}

/// Why `venv:` cannot take a pip task's names or state, after a `: ` (empty when none of
/// these is why).
fn venv_refusal(names: &[String], state: Option<&str>) -> String {
    let refused: Vec<String> = (names.iter())
        .filter(|n| {
            !n.contains("{{")
                && crate::resources::registry::check_value("venv", "packages", n).is_err()
        })
        .map(|n| format!("`{n}`"))
        .collect();
    match state {
        Some(s @ ("absent" | "forcereinstall")) => format!(": `state: {s}`"),
        _ if !refused.is_empty() => format!(
            ": {} not NAME or NAME==VERSION (a URL, a path or a range: play cannot tell from the \
             venv's site-packages whether it is installed)",
            refused.join(", ")
        ),
        _ => String::new(),
    }
}

fn map_pip(t: &Task) -> Mapped {
    let venv = t.arg_str(&["virtualenv"]);
    let pip = match (&venv, t.arg_str(&["executable"])) {
        (Some(v), _) => format!("{}/bin/pip", v.trim_end_matches('/')),
        (None, Some(e)) => e,
        (None, None) if t.module == "easy_install" => "easy_install".into(),
        (None, None) => "pip3".into(),
    };
    let names: Vec<String> = t.arg(&["name"]).map(names).unwrap_or_default();
    let version = t.arg_str(&["version"]);
    let reqs = t.arg_str(&["requirements"]);
    let state = t.arg_str(&["state"]);
    let extra = t
        .arg_str(&["extra_args"])
        .map(|e| format!(" {e}"))
        .unwrap_or_default();
    let mut spec: Vec<String> = names
        .iter()
        .map(|n| match (&version, names.len()) {
            (Some(v), 1) => sh_quote(&format!("{n}=={v}")),
            _ => sh_quote(n),
        })
        .collect();
    if let Some(r) = &reqs {
        spec.push(format!("-r {}", sh_quote(r)));
    }
    if spec.is_empty() && venv.is_none() {
        return Mapped::LeftOut(format!("{} without `name` or `requirements`", t.module));
    }
    let mut cmd = String::new();
    if let Some(v) = &venv {
        let python = t.arg_str(&["virtualenv_python"]);
        let site = if t.arg_bool(&["virtualenv_site_packages"]) == Some(true) {
            " --system-site-packages"
        } else {
            ""
        };
        let create = match t.arg_str(&["virtualenv_command"]) {
            Some(c) if c.contains("venv") => format!("{c}{site} {}", sh_quote(v)),
            Some(c) => format!("{c}{site} {}", sh_quote(v)),
            None => match &python {
                Some(p) => format!("virtualenv -p {p}{site} {}", sh_quote(v)),
                None => format!("virtualenv{site} {}", sh_quote(v)),
            },
        };
        cmd.push_str(&format!("{{ test -x {pip} || {create}; }}"));
        if !spec.is_empty() {
            cmd.push_str(" && ");
        }
    }
    let mut unless = None;
    if !spec.is_empty() {
        if t.module == "easy_install" {
            cmd.push_str(&format!("{pip}{extra} {}", spec.join(" ")));
        } else {
            match state.as_deref() {
                Some("absent") => cmd.push_str(&format!("{pip} uninstall -y {}", spec.join(" "))),
                Some("latest") => {
                    cmd.push_str(&format!("{pip} install -U{extra} {}", spec.join(" ")))
                }
                _ => {
                    cmd.push_str(&format!("{pip} install{extra} {}", spec.join(" ")));
                    if reqs.is_none() && !names.is_empty() && !extra.contains("upgrade") {
                        let check = if t.module == "easy_install" {
                            "pip3".into()
                        } else {
                            pip.clone()
                        };
                        unless = Some(match (&version, names.len()) {
                            (Some(v), 1) => format!(
                                "{check} show {} 2>/dev/null | grep -qx {}",
                                sh_quote(&names[0]),
                                sh_quote(&format!("Version: {v}"))
                            ),
                            _ => format!(
                                "{check} show {} >/dev/null 2>&1",
                                names
                                    .iter()
                                    .map(|n| sh_quote(n))
                                    .collect::<Vec<_>>()
                                    .join(" ")
                            ),
                        });
                    }
                }
            }
        }
    } else if let Some(v) = &venv {
        unless = Some(format!("test -x {}/bin/pip", v.trim_end_matches('/')));
    }
    let mut r = Res::command(cmd, t.module.as_str());
    r.comments[0] = match venv {
        Some(_) => format!(
            "play import: {} → command (not a virtualenv `venv:` can declare{})",
            t.module,
            venv_refusal(&names, state.as_deref())
        ),
        None => format!(
            "play import: {} → command (not a state `pip:` can declare: a range, a URL, a requirements file, a reinstall)",
            t.module
        ),
    };
    if let Some(u) = unless {
        r.set("unless", u);
    }
    if let Some(c) = t.arg_str(&["chdir"]) {
        r.set("chdir", c);
    }
    Mapped::Resources(vec![r])
}

/// lineinfile → `line:`; a command (the former mapping) where `line:` cannot say it: `backrefs`,
/// a line with a line break, a regexp the `regex` crate refuses (look-around, backreferences).
fn map_lineinfile(t: &Task) -> Mapped {
    let Some(path) = t.arg_str(&["path", "dest", "name", "destfile"]) else {
        return Mapped::LeftOut("lineinfile without `path`".into());
    };
    let line = t.arg_str(&["line"]);
    let regexp = t.arg_str(&["regexp", "regex"]).or_else(|| {
        t.arg_str(&["search_string"])
            .map(|s| format!("^.*{}.*$", regex::escape(&s)))
    });
    let absent = t.arg_str(&["state"]).as_deref() == Some("absent");
    // `backrefs`: true, or a template (RocketChat's `{{ item.backrefs | default(True) }}`)
    let backrefs = match t.arg(&["backrefs"]) {
        Some(Value::String(s)) if s.contains("{{") => Some(Value::String(s.clone())),
        _ => t.arg_bool(&["backrefs"]).filter(|b| *b).map(Value::Bool),
    };
    let compiles = |re: &str| {
        re.contains("{{") || crate::resources::registry::check_value("line", "regexp", re).is_ok()
    };
    if backrefs.is_some() && !absent && regexp.as_deref().is_some_and(|re| !compiles(re)) {
        return lineinfile_backrefs_perl(t, &path);
    }
    let why_not = if backrefs.is_some() && (absent || regexp.is_none() || line.is_none()) {
        Some("`backrefs` without `regexp` and `line`, or with `state: absent`".to_string())
    } else if line.as_deref().is_some_and(|l| l.contains('\n')) {
        Some("a line with a line break".to_string())
    } else {
        regexp
            .as_deref()
            .filter(|re| !re.contains("{{"))
            .and_then(|re| crate::resources::registry::check_value("line", "regexp", re).err())
            .map(|e| format!("its regexp ({e})"))
    };
    if let Some(why) = why_not {
        let mapped = map_lineinfile_command(t);
        return match mapped {
            Mapped::Resources(mut rs) => {
                rs[0].comments[0] =
                    format!("play import: lineinfile → command (`line:` cannot take {why})");
                Mapped::Resources(rs)
            }
            other => other,
        };
    }
    let mut r = Res::new("line", path);
    match (absent, &line, &regexp) {
        (true, _, Some(re)) => {
            r.set("regexp", re.clone());
            r.set("state", "absent");
        }
        (true, Some(l), None) => {
            r.set("text", l.clone());
            r.set("state", "absent");
        }
        (false, Some(l), re) => {
            if let Some(re) = re {
                r.set("regexp", re.clone());
            }
            r.set("text", l.clone());
        }
        _ => return Mapped::LeftOut("lineinfile without `line` or `regexp`".into()),
    }
    validate(t, &mut r);
    if let Some(b) = backrefs {
        r.set("backrefs", b);
    }
    insert_position(t, &mut r, "line");
    if t.arg_bool(&["create"]) == Some(false) {
        r.notes
            .push("`create: no` not carried: a missing file is created with the line".into());
    }
    edit_attrs_not_carried(t, &mut r, "line");
    ignored(t, &mut r, &["backup", "firstmatch", "unsafe_writes"]);
    Mapped::Resources(vec![r])
}

/// lineinfile with `backrefs` and a regexp the `regex` crate refuses (look-around): a guarded
/// `perl` (Perl's patterns take Python's look-around and groups) doing what Ansible does: the
/// last line matching becomes `line` expanded with that match's groups (`\1`, `\g<name>`,
/// `\n`…), no match leaves the file alone; written to a temporary file with the file's owner
/// and mode, then renamed over it. The `unless` is the same program checking only.
fn lineinfile_backrefs_perl(t: &Task, path: &str) -> Mapped {
    let re = t.arg_str(&["regexp", "regex"]).unwrap_or_default();
    let line = t.arg_str(&["line"]).unwrap_or_default();
    let run = |mode: &str| {
        format!(
            "perl -e {} {mode} {} {} {}",
            sh_quote(LINEINFILE_PERL),
            sh_quote(path),
            sh_quote(&re),
            sh_quote(&line)
        )
    };
    let mut r = Res::command(run("apply"), "lineinfile");
    r.comments[0] = "play import: lineinfile → command (`backrefs` with a regexp `line:` cannot take: look-around; Perl runs it as Python would)".into();
    r.set("unless", run("check"));
    validate(t, &mut r);
    Mapped::Resources(vec![r])
}

/// Ansible's `lineinfile` with `backrefs`, in Perl (see [`lineinfile_backrefs_perl`]): `perl -e
/// PROGRAM MODE FILE REGEXP LINE`, MODE `check` (exit 1 when the file would change) or `apply`.
const LINEINFILE_PERL: &str = r#"my ($mode, $f, $re, $t) = @ARGV;
open(my $h, "<", $f) or die "$f: $!\n";
my @l = <$h>;
close $h;
for my $i (reverse 0 .. $#l) {
  my $x = $l[$i];
  my $nl = $x =~ s/\n\z// ? "\n" : "";
  next unless $x =~ /$re/;
  my @c = map { defined $-[$_] ? substr($x, $-[$_], $+[$_] - $-[$_]) : "" } 0 .. $#-;
  my %n = %+;
  my %e = (n => "\n", t => "\t", r => "\r", "\\" => "\\");
  (my $y = $t) =~ s{\\(?:g<(\w+)>|(\d\d?)|(.))}{defined $1 ? ($1 =~ /^\d+$/ ? $c[$1] : $n{$1}) // "" : defined $2 ? $c[$2] // "" : $e{$3} // "\\$3"}ge;
  exit 0 if $y eq $x;
  exit 1 if $mode eq "check";
  $l[$i] = "$y$nl";
  my @s = stat $f;
  open(my $o, ">", "$f.play-tmp") or die "$f.play-tmp: $!\n";
  print $o @l;
  close $o or die "$f.play-tmp: $!\n";
  chown $s[4], $s[5], "$f.play-tmp";
  chmod $s[2] & 07777, "$f.play-tmp";
  rename "$f.play-tmp", $f or die "$f: $!\n";
  exit 0;
}
exit 0;
"#;

/// `owner`/`group`/`mode` of an edit module: noted, as an edit kind keeps the file's.
fn edit_attrs_not_carried(t: &Task, r: &mut Res, kind: &str) {
    for k in ["owner", "group", "mode"] {
        if t.arg(&[k]).is_some() {
            r.notes.push(format!(
                "`{k}` not carried: a `{kind}:` keeps the file's (declare the file's attributes elsewhere)"
            ));
        }
    }
}

/// lineinfile as a guarded command (awk), for what `line:` cannot say.
fn map_lineinfile_command(t: &Task) -> Mapped {
    let Some(path) = t.arg_str(&["path", "dest", "name", "destfile"]) else {
        return Mapped::LeftOut("lineinfile without `path`".into());
    };
    let p = sh_quote(&path);
    let line = t.arg_str(&["line"]);
    let regexp = t.arg_str(&["regexp", "regex"]);
    let absent = t.arg_str(&["state"]).as_deref() == Some("absent");
    let create = if t.arg_bool(&["create"]) == Some(true) {
        format!("touch {p} && ")
    } else {
        String::new()
    };
    let (cmd, unless) = match (absent, &line, &regexp) {
        (true, _, Some(re)) => (
            format!(
                "grep -vE -- {} {p} > {p}.play-tmp; cat {p}.play-tmp > {p} && rm -f {p}.play-tmp",
                sh_quote(re)
            ),
            format!("! grep -qE -- {} {p}", sh_quote(re)),
        ),
        (true, Some(l), None) => (
            format!(
                "grep -vxF -- {} {p} > {p}.play-tmp; cat {p}.play-tmp > {p} && rm -f {p}.play-tmp",
                sh_quote(l)
            ),
            format!("! grep -qxF -- {} {p}", sh_quote(l)),
        ),
        (false, Some(l), Some(re)) => (
            format!(
                "{create}awk -v re={} -v line={} '!d && $0 ~ re {{ print line; d = 1; next }} {{ print }} END {{ if (!d) print line }}' {p} > {p}.play-tmp && cat {p}.play-tmp > {p} && rm -f {p}.play-tmp",
                sh_quote(re),
                sh_quote(l)
            ),
            format!("grep -qxF -- {} {p}", sh_quote(l)),
        ),
        (false, Some(l), None) => (
            format!("{create}printf '%s\\n' {} >> {p}", sh_quote(l)),
            format!("grep -qxF -- {} {p}", sh_quote(l)),
        ),
        _ => return Mapped::LeftOut("lineinfile without `line` or `regexp`".into()),
    };
    let mut r = Res::command(cmd, "lineinfile");
    r.set("unless", unless);
    for k in ["insertafter", "insertbefore", "backrefs", "validate"] {
        if t.arg(&[k]).is_some() {
            r.notes.push(format!(
                "`{k}` not carried: the line is replaced in place or appended"
            ));
        }
    }
    Mapped::Resources(vec![r])
}

/// `insertafter`/`insertbefore` (other than `EOF`): a comment on the resource, as play appends.
fn insert_position(t: &Task, r: &mut Res, what: &str) {
    for k in ["insertafter", "insertbefore"] {
        if let Some(v) = t.arg_str(&[k]).filter(|v| v != "EOF") {
            r.comments.push(format!(
                "play import: `{k}: {v}` not carried: a new {what} is appended at the end of the file (check that place suits it, e.g. the INI section it lands in)"
            ));
            r.notes
                .push(format!("`{k}` not carried: a new {what} is appended"));
        }
    }
}

/// Ansible's default marker: kept, so the block Ansible wrote on a host is the one replaced.
pub const ANSIBLE_MARKER: &str = "# {mark} ANSIBLE MANAGED BLOCK";

/// blockinfile → `block:`, Ansible's marker (and `marker_begin`/`marker_end` when they are
/// play's BEGIN/END) carried.
fn map_blockinfile(t: &Task) -> Mapped {
    let Some(path) = t.arg_str(&["path", "dest", "name", "destfile"]) else {
        return Mapped::LeftOut("blockinfile without `path`".into());
    };
    let mut r = Res::new("block", path);
    let marker = t
        .arg_str(&["marker"])
        .unwrap_or_else(|| ANSIBLE_MARKER.to_string());
    if !marker.contains("{mark}") {
        return Mapped::LeftOut(format!(
            "blockinfile `marker: {marker}` without `{{mark}}`: play's markers need it"
        ));
    }
    r.set("marker", marker);
    let begin = t
        .arg_str(&["marker_begin"])
        .unwrap_or_else(|| "BEGIN".into());
    let end = t.arg_str(&["marker_end"]).unwrap_or_else(|| "END".into());
    if (begin.as_str(), end.as_str()) != ("BEGIN", "END") {
        r.comments.push(format!(
            "play import: marker_begin/marker_end `{begin}`/`{end}` not carried: play's markers say BEGIN/END (remove the old block from the file once)"
        ));
        r.notes.push(format!(
            "`marker_begin`/`marker_end` `{begin}`/`{end}` not carried: play's markers say BEGIN/END"
        ));
    }
    let text = t.arg_str(&["block", "content"]).unwrap_or_default();
    if t.arg_str(&["state"]).as_deref() == Some("absent") || text.is_empty() {
        // an empty block removes it, as in Ansible
        r.set("state", "absent");
    } else {
        r.set("text", text);
    }
    insert_position(t, &mut r, "block");
    for k in ["owner", "group", "mode", "validate"] {
        if t.arg(&[k]).is_some() {
            r.notes
                .push(format!("`{k}` not carried: a `block:` has none"));
        }
    }
    ignored(
        t,
        &mut r,
        &[
            "backup",
            "create",
            "unsafe_writes",
            "append_newline",
            "prepend_newline",
        ],
    );
    Mapped::Resources(vec![r])
}

/// replace → `replace: PATH` (`regexp`, `replace` → `with`, `after`, `before`, `validate`);
/// a guarded command (the former mapping) where the kind cannot say it: a pattern the `regex`
/// crate refuses (look-around, a backreference), a template play does not read as Python does
/// (an octal escape). Templated values are checked by `play check` once rendered.
fn map_replace(t: &Task) -> Mapped {
    let (Some(path), Some(re)) = (
        t.arg_str(&["path", "dest", "name", "destfile"]),
        t.arg_str(&["regexp"]),
    ) else {
        return Mapped::LeftOut("replace without `path` and `regexp`".into());
    };
    let with = t.arg_str(&["replace"]).unwrap_or_default();
    let (after, before) = (t.arg_str(&["after"]), t.arg_str(&["before"]));
    let keys = [
        ("regexp", Some(&re)),
        ("with", Some(&with)),
        ("after", after.as_ref()),
        ("before", before.as_ref()),
    ];
    let why_not = keys.iter().find_map(|(key, v)| {
        let v = v.filter(|v| !v.contains("{{") && !v.contains("{%"))?;
        crate::resources::registry::check_value("replace", key, v).err()
    });
    if let Some(why) = why_not {
        return map_replace_command(t, &path, &re, &with, &why);
    }
    let mut r = Res::new("replace", path);
    for (key, v) in keys {
        match v {
            Some(v) if key != "with" || !v.is_empty() => r.set(key, v.clone()),
            _ => {}
        }
    }
    validate(t, &mut r);
    edit_attrs_not_carried(t, &mut r, "replace");
    ignored(t, &mut r, &["backup", "encoding", "unsafe_writes"]);
    Mapped::Resources(vec![r])
}

/// replace as a guarded command (perl's regexes are Python's in what projects use: `\s`,
/// `(?m)`, groups `\1`), for what `replace:` cannot say (`why`); with `after`/`before`, left
/// out.
fn map_replace_command(t: &Task, path: &str, re: &str, with: &str, why: &str) -> Mapped {
    if t.arg(&["after"]).is_some() || t.arg(&["before"]).is_some() {
        return Mapped::LeftOut(format!(
            "replace with `after`/`before` that `replace:` cannot take ({why}): manage the file with `file:` + `template:` or `line:`"
        ));
    }
    // perl: `\1` works in the replacement; `/` and `@`/`$` must be escaped
    let esc = |x: &str| x.replace('/', "\\/");
    let repl = esc(with).replace('$', "\\$").replace('@', "\\@");
    let p = sh_quote(path);
    let mut r = Res::command(
        format!(
            "perl -0777 -pi -e {} {p}",
            sh_quote(&format!("s/{}/{repl}/mg", esc(re)))
        ),
        "replace",
    );
    r.comments[0] = format!("play import: replace → command (`replace:` cannot take {why})");
    r.set(
        "unless",
        format!(
            "perl -0777 -ne {} {p}",
            sh_quote(&format!("exit 1 if /{}/m", esc(re)))
        ),
    );
    Mapped::Resources(vec![r])
}

/// `name` with every character that is not alphanumeric or in `keep` as `_`, runs of `_`
/// collapsed, none at the ends.
fn sanitize(name: &str, keep: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || keep.contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    while s.contains("__") {
        s = s.replace("__", "_");
    }
    s.trim_matches('_').to_string()
}

/// A cron name play accepts (letters, digits, `_`, `-`) from Ansible's `cron_file` or job
/// `name`: literal parts sanitized, each `{{ expr }}` given `| replace` filters for dots and
/// spaces (a domain as `item.key` is common).
pub fn cron_name(name: &str) -> String {
    let mut out = String::new();
    let mut rest = name;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open..].find("}}").map(|c| open + c) else {
            break;
        };
        out.push_str(&sanitize_part(&rest[..open]));
        let expr = rest[open + 2..close].trim();
        out.push_str(&format!(
            "{{{{ ({expr}) | string | replace('.', '_') | replace(' ', '_') }}}}"
        ));
        rest = &rest[close + 2..];
    }
    out.push_str(&sanitize_part(rest));
    out.trim_matches('_').to_string()
}

/// [`sanitize`] keeping a separator at the ends (a part between templates).
fn sanitize_part(s: &str) -> String {
    let t = sanitize(s, "_-");
    let lead = if s.starts_with(|c: char| !c.is_ascii_alphanumeric() && c != '-') && !t.is_empty() {
        "_"
    } else {
        ""
    };
    let trail =
        if s.ends_with(|c: char| !c.is_ascii_alphanumeric() && c != '-') && !s.trim().is_empty() {
            "_"
        } else {
            ""
        };
    if t.is_empty() {
        return if s.is_empty() {
            String::new()
        } else {
            "_".into()
        };
    }
    format!("{lead}{t}{trail}")
}

/// cron → `cron: NAME` (`/etc/cron.d/NAME`): schedule from the five fields or `special_time`,
/// `user` (else `become_user`, else root), `job` → `command`.
fn map_cron(t: &Task) -> Mapped {
    if t.arg_bool(&["env"]) == Some(true) {
        return Mapped::LeftOut(
            "cron `env=yes` (a variable of the crontab): write it in the `environment:` of the `cron:` jobs that need it".into(),
        );
    }
    let name = t.arg_str(&["name"]).or_else(|| t.name.clone());
    let from = t
        .arg_str(&["cron_file"])
        .map(|f| basename(&f).to_string())
        .or_else(|| name.clone());
    let Some(key) = from.map(|n| cron_name(&n)).filter(|k| !k.is_empty()) else {
        return Mapped::LeftOut("cron without `name` or `cron_file`".into());
    };
    let mut r = Res::new("cron", key);
    let state = t.arg_str(&["state"]);
    // play's cron states are Ansible's: a choice between them is carried as it is
    let templated = match state.as_deref().filter(|s| s.contains("{{")) {
        Some(st) => match templated_state(st, |w| match w {
            "present" => Some("present"),
            "absent" => Some("absent"),
            _ => None,
        }) {
            Some(st) => Some(st),
            None => {
                return Mapped::LeftOut(format!(
                    "cron `state: {st}` is chosen at run time (write the `cron:` with a `when`)"
                ))
            }
        },
        None => None,
    };
    if state.as_deref() == Some("absent") {
        r.set("state", "absent");
        return Mapped::Resources(vec![r]);
    }
    let schedule = match t.arg_str(&["special_time"]) {
        Some(sp) => format!("@{sp}"),
        None => {
            let f = |k: &str| t.arg_str(&[k]).unwrap_or_else(|| "*".into());
            format!(
                "{} {} {} {} {}",
                f("minute"),
                f("hour"),
                f("day"),
                f("month"),
                f("weekday")
            )
        }
    };
    r.set("schedule", schedule);
    if let Some(u) = t.arg_str(&["user"]).or_else(|| t.become_user.clone()) {
        if u != "root" {
            r.set("user", u);
        }
    }
    let Some(job) = t.arg_str(&["job", "value"]) else {
        return Mapped::LeftOut("cron without `job`".into());
    };
    r.set("command", job);
    if let Some(st) = templated {
        r.set("state", st);
    }
    if t.arg_bool(&["disabled"]) == Some(true) {
        r.set("state", "absent");
        r.notes
            .push("`disabled: yes` → `state: absent` (play writes no commented-out jobs)".into());
    }
    if t.arg(&["cron_file"]).is_none() {
        r.notes.push(
            "written to /etc/cron.d (Ansible's job was in the user's crontab: remove it there once)"
                .into(),
        );
    }
    Mapped::Resources(vec![r])
}

/// `deb URI SUITE [COMPONENT...]` (no `[options]`: a `signed-by` path or an `arch` stays in a
/// `.list` file) → its URI, suite and components; None for other lines (a variable, deb-src).
pub fn deb_line(repo: &str) -> Option<(String, String, Vec<String>)> {
    let words: Vec<String> = super::task::words(repo)
        .into_iter()
        .map(|(w, _)| w)
        .collect();
    let (first, rest) = words.split_first()?;
    if first != "deb" || rest.len() < 2 || rest[0].starts_with('[') {
        return None;
    }
    let uri = &rest[0];
    if !["http://", "https://", "file:/"]
        .iter()
        .any(|p| uri.starts_with(p))
    {
        return None;
    }
    let suite = rest[1].clone();
    let components: Vec<String> = rest[2..].to_vec();
    if components.is_empty() != suite.ends_with('/') {
        return None;
    }
    Some((uri.clone(), suite, components))
}

/// deb822_repository → `apt_source:`; a `signed_by` URL is its `key_url` (fetched by the host).
fn map_deb822(t: &Task) -> Mapped {
    let Some(name) = t.arg_str(&["name"]) else {
        return Mapped::LeftOut("deb822_repository without `name`".into());
    };
    let list = |k: &str| -> Option<Value> {
        let v = names(t.arg(&[k])?);
        let v: Vec<Value> = v
            .iter()
            .flat_map(|s| {
                if s.contains("{{") {
                    vec![s.clone()]
                } else {
                    s.split_whitespace().map(str::to_string).collect()
                }
            })
            .map(Value::String)
            .collect();
        (!v.is_empty()).then_some(Value::Sequence(v))
    };
    if t.arg_str(&["types"])
        .is_some_and(|ty| ty.contains("deb-src"))
    {
        return Mapped::LeftOut(
            "deb822_repository with `deb-src`: play's `apt_source:` writes `Types: deb`".into(),
        );
    }
    let key = sanitize(&name, "_-.");
    let mut r = Res::new("apt_source", key.clone());
    if t.arg_str(&["state"]).as_deref() == Some("absent") {
        r.set("state", "absent");
        return Mapped::Resources(vec![r]);
    }
    for k in ["uris", "suites", "components"] {
        if let Some(v) = list(k) {
            r.set(k, v);
        }
    }
    if t.arg_bool(&["trusted"]) == Some(true) {
        r.set("trusted", true);
    }
    let mut out = Vec::new();
    if let Some(sb) = t.arg_str(&["signed_by"]) {
        if sb.contains("://") {
            r.set("key_url", sb);
            r.notes.push(format!(
                "the key from `signed_by` is fetched by the host into /etc/apt/keyrings/{key}.asc while it is missing (no `key_sha256`: add one to have it checked and refreshed); it must be ASCII-armored"
            ));
        } else {
            r.notes.push(
                "`signed_by` not carried: put the key in files/ and name it as `key:`".into(),
            );
        }
    }
    ignored(
        t,
        &mut r,
        &[
            "architectures",
            "enabled",
            "mode",
            "pdiffs",
            "allow_downgrade_to_insecure",
            "languages",
            "targets",
        ],
    );
    out.push(r);
    Mapped::Resources(out)
}

/// `apt_repository: repo=ppa:OWNER/NAME` → `apt_source: NAME` with `ppa:` (its key fetched
/// by the host from Launchpad's API and keyserver, as Ansible does): NAME from `filename`, else
/// `ppa_OWNER_NAME` (Ansible's file name without its codename); `codename` → `suites`.
/// `ppa:OWNER` is Ansible's `ppa:OWNER/ppa`.
fn map_ppa(t: &Task, ppa: &str, absent: bool) -> Res {
    let ppa = match ppa.contains('/') || ppa.contains("{{") {
        true => ppa.to_string(),
        false => format!("{ppa}/ppa"),
    };
    let name = match t.arg_str(&["filename"]) {
        Some(f) => sanitize(&f, "_-."),
        None => sanitize(&format!("ppa_{ppa}"), "_-"),
    };
    let mut r = Res::new("apt_source", name.clone());
    r.set("ppa", ppa);
    if absent {
        r.set("state", "absent");
    } else if let Some(c) = t.arg_str(&["codename"]) {
        r.set("suites", Value::Sequence(vec![Value::String(c)]));
    }
    r.notes.push(format!(
        "written as /etc/apt/sources.list.d/{name}.sources (deb822) and its key /etc/apt/keyrings/{name}.asc, fetched by the host from Launchpad and keyserver.ubuntu.com (remove the `.list` Ansible wrote, `ppa_OWNER_NAME_CODENAME.list`, once)"
    ));
    if absent {
        r.notes
            .push("`state: absent` removes the PPA's key too (Ansible left it)".into());
    }
    if t.arg_bool(&["update_cache"]) == Some(false) {
        r.notes.push(
            "`update_cache: no` not carried: play updates the lists when a source changes".into(),
        );
    }
    r
}

/// `apt_key: url=U` (no `keyring`) → `download: /etc/apt/trusted.gpg.d/NAME.asc`: a key for
/// every source, as `apt-key add` makes it, fetched by the host while missing. NAME: the URL's
/// host and file name (`nginx.org-nginx_signing`).
fn map_apt_key_url(t: &Task, url: &str) -> Mapped {
    let name = key_name(url);
    let mut r = Res::new("download", format!("/etc/apt/trusted.gpg.d/{name}.asc"));
    r.set("url", url);
    r.notes.push(
        "written to /etc/apt/trusted.gpg.d/ (apt trusts it for every source, as `apt-key add` did); \
         apt reads a `.asc` key there only ASCII-armored; fetched while missing (no `sha256`: \
         add one to have it checked and refreshed); \
         `apt-get update` runs with the next `apt_source:` change"
        .into(),
    );
    if let Some(id) = t.arg_str(&["id"]) {
        r.notes.push(format!(
            "`id: {id}` not checked: play does not compare a key's fingerprint (pin its bytes with `sha256`)"
        ));
    }
    ignored(t, &mut r, &["validate_certs"]);
    Mapped::Resources(vec![r])
}

/// `unarchive` of an archive on the host (`remote_src: yes`, `copy: no`) → `unarchive: DEST`
/// (`None`: kept as a command: a name whose format play cannot tell, or a loop extracting
/// several archives into one folder, which would be one key declared twice).
fn map_unarchive(t: &Task, src: &str, dest: &str) -> Option<Res> {
    let name = src.rsplit_once("}}").map_or(src, |(_, tail)| tail);
    crate::resources::registry::check_value("unarchive", "src", name).ok()?;
    if t.loop_.is_some() && !dest.contains("item") {
        return None;
    }
    let mut r = Res::new("unarchive", dest.trim_end_matches('/'));
    r.set("src", src);
    if let Some(c) = t.arg_str(&["creates"]) {
        r.set("creates", c);
    }
    owner_group_mode(t, &mut r);
    if t.arg(&["owner"]).is_none() {
        // the archive is extracted by the task's user: its files are that user's
        if let Some(u) = &t.become_user {
            r.set("owner", u.as_str());
        }
    }
    if t.arg(&["mode"]).is_some() {
        r.notes
            .push("`mode` is DEST's own mode (the extracted files keep the archive's)".into());
    }
    if t.arg(&["creates"]).is_none() {
        r.notes.push(
            "no `creates`: extracted again when the archive's sha256 is not the one recorded at the last extraction"
                .into(),
        );
    }
    ignored(
        t,
        &mut r,
        &[
            "extra_opts",
            "exclude",
            "include",
            "keep_newer",
            "list_files",
            "validate_certs",
            "decrypt",
        ],
    );
    Some(r)
}

/// `apt_key: keyserver=… id=…` → the key's `download:` from the keyserver's HKP lookup over
/// HTTPS (`hkp://host[:port]` → `https://host`: the public keyservers serve it there),
/// ASCII-armored (`options=mr`), with [`map_apt_key_url`]'s notes. `None` (kept as a command):
/// a keyserver or id play cannot put in a URL.
fn map_apt_key_server(t: &Task, server: &str, id: &str) -> Option<Mapped> {
    let rest = server
        .split_once("://")
        .map_or(server, |(_, r)| r)
        .trim_end_matches('/');
    let host = rest.split_once(':').map_or(rest, |(h, _)| h);
    let plain = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._{} ()|'".contains(c))
    };
    let hex = id.trim().trim_start_matches("0x");
    if !plain(host) || host.contains('/') || !plain(hex) {
        return None;
    }
    // a templated keyserver renders to `hkp://host:port` as often as to `host`
    let host = match host
        .trim()
        .strip_prefix("{{")
        .and_then(|h| h.strip_suffix("}}"))
    {
        Some(var) if !var.contains("{{") && rest == host => format!(
            "{{{{ {} | regex_replace('^[a-z0-9]+://', '') | regex_replace('[:/].*$', '') }}}}",
            var.trim()
        ),
        _ => host.to_string(),
    };
    let hex = match hex
        .trim()
        .strip_prefix("{{")
        .and_then(|h| h.strip_suffix("}}"))
    {
        Some(var) if !var.contains("{{") => {
            format!("{{{{ {} | regex_replace('^0x', '') }}}}", var.trim())
        }
        _ => hex.to_string(),
    };
    let hex = hex.as_str();
    let url = format!("https://{host}/pks/lookup?op=get&options=mr&search=0x{hex}");
    let Mapped::Resources(mut rs) = map_apt_key_url(t, &url) else {
        return None;
    };
    if let Some(r) = rs.first_mut() {
        // named by the key's id (a template of it renders to the id)
        let name = match hex.contains("{{") {
            true => hex.to_string(),
            false => sanitize(hex, ""),
        };
        if let Some((_, key)) = r.fields.first_mut() {
            *key = Value::String(format!("/etc/apt/trusted.gpg.d/{name}.asc"));
        }
        r.notes.push(format!(
            "from the keyserver `{server}` over HTTPS (its HKP lookup), ASCII-armored"
        ));
    }
    Some(Mapped::Resources(rs))
}

/// A key file name from a key's URL: its host, then its file name without extension
/// (`https://nginx.org/keys/nginx_signing.key` → `nginx.org-nginx_signing`); a templated URL
/// gives its literal parts.
fn key_name(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let file = path.rsplit('/').find(|p| !p.is_empty()).unwrap_or("");
    let stem = file.split_once('.').map_or(file, |(s, _)| s);
    let parts: Vec<String> = [host, stem]
        .iter()
        .map(|p| sanitize(p, "_-."))
        .filter(|p| !p.is_empty())
        .collect();
    match parts.join("-") {
        n if n.is_empty() => "key".into(),
        n => n,
    }
}

/// `rsync [-c|--checksum] [--chmod=OCTAL] [--info=name] [-q] SRC DEST` with two absolute paths
/// of files (neither ending in `/`): the file DEST kept a copy of the host's SRC.
fn rsync_file(args: &[&str]) -> Option<Res> {
    let mut mode_of = None;
    let mut paths = Vec::new();
    for a in args {
        match *a {
            "-c" | "--checksum" | "--info=name" | "-q" | "--quiet" => {}
            _ if a.starts_with("--chmod=") => {
                let m = &a["--chmod=".len()..];
                let m = m.strip_prefix('F').unwrap_or(m);
                mode_of = Some(mode(&Value::String(m.to_string())).filter(|m| !m.contains("{{"))?);
            }
            _ if a.starts_with('-') => return None,
            p => paths.push(p),
        }
    }
    let abs = |p: &str| p.starts_with('/') || p.starts_with("{{");
    let [src, dest] = paths.as_slice() else {
        return None;
    };
    if !abs(src) || !abs(dest) || src.ends_with('/') || dest.ends_with('/') {
        return None;
    }
    let mut r = Res::new("file", *dest);
    r.set("copy_of", *src);
    if let Some(m) = mode_of {
        r.set("mode", m);
    }
    r.comments
        .push("play import: `rsync` of one file of the host → `file:` with `copy_of`".into());
    Some(r)
}

/// `curl [-fsSL4…] -o PATH URL` / `wget [-q] -O PATH URL` (one http(s) URL, an absolute path):
/// `download: PATH` from URL, fetched while missing (no `sha256` to check it by).
fn fetch_idiom(args: &[&str], out: &str, tool: &str) -> Option<Res> {
    let quiet = |a: &str| match tool {
        "curl" => {
            a.len() > 1
                && a.starts_with('-')
                && !a.starts_with("--")
                && a[1..].chars().all(|c| "fsSL46".contains(c))
                || ["--fail", "--silent", "--show-error", "--location"].contains(&a)
        }
        _ => ["-q", "--quiet", "-nv", "--no-verbose"].contains(&a),
    };
    let (mut path, mut url) = (None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if *a == out {
            path = Some(*it.next()?);
        } else if a.starts_with("http://") || a.starts_with("https://") || a.starts_with("{{") {
            if url.replace(*a).is_some() {
                return None;
            }
        } else if !quiet(a) {
            return None;
        }
    }
    let (path, url) = (path?, url?);
    if !(path.starts_with('/') || path.starts_with("{{")) || path.ends_with('/') {
        return None;
    }
    let mut r = Res::new("download", path);
    r.set("url", url);
    r.comments.push(format!(
        "play import: `{tool}` of one URL into a file → `download:` (fetched while the file is missing; Ansible ran it every time: give `sha256` to have a changed file fetched again)"
    ));
    Some(r)
}

/// `force: no` of `copy`/`template` → `force: false` (the file is written only while DEST is
/// missing); `force: yes` is what a `file:` does anyway; another value (a template) is noted as
/// not carried.
fn copy_force(t: &Task, r: &mut Res) {
    match t.arg_bool(&["force"]) {
        Some(false) => r.set("force", false),
        Some(true) => {}
        None => ignored(t, r, &["force"]),
    }
}

/// `copy: remote_src=yes` → `file: DEST` with `copy_of: SRC` (a file already on the host;
/// `force: no`: copied only while DEST is missing, `force: false`); a folder (`src` ending in
/// `/`), or a `force: no` copy that edits of the project change afterwards (the seed of a file
/// edited in place), stays a guarded `cp -a`.
fn map_copy_remote(t: &Task, ctx: &Ctx, dest: &str) -> Mapped {
    let src = t.arg_str(&["src"]).unwrap_or_default();
    let kept_and_edited = t.arg_bool(&["force"]) == Some(false) && ctx.edited.contains(dest);
    let why = if src.ends_with('/') || ctx.src_dirs.contains(&src) {
        Some("a folder (`copy_of` copies one file)")
    } else if kept_and_edited {
        Some("`force: no` and edited by later tasks: a `file:` owns its path, and play's `line:`/`replace:`/`block:` edits cannot share it")
    } else if src.is_empty() {
        Some("no `src`")
    } else {
        None
    };
    if let Some(why) = why {
        let mut r = Res::command(
            format!("cp -a {} {}", sh_quote(&src), sh_quote(dest)),
            "copy remote_src",
        );
        r.comments[0] = format!("play import: copy remote_src → command ({why})");
        r.set("creates", dest);
        return Mapped::Resources(vec![r]);
    }
    let mut r = Res::new("file", destination(ctx, dest, Some(&src)));
    r.set("copy_of", src);
    if t.arg_str(&["mode"]).as_deref() == Some("preserve") {
        r.notes.push(
            "`mode: preserve` not carried: the copy keeps its own mode (0644 when new); give `mode:`"
                .into(),
        );
    } else {
        owner_group_mode(t, &mut r);
    }
    validate(t, &mut r);
    copy_force(t, &mut r);
    ignored(
        t,
        &mut r,
        &["backup", "directory_mode", "follow", "local_follow"],
    );
    r.notes.push(
        "`copy_of`: the source is read on the host (a symbolic link as source is refused, Ansible follows it)"
            .into(),
    );
    Mapped::Resources(vec![r])
}

/// A sources.list.d file name from a repo line, as Ansible derives it (approximately).
pub fn repo_filename(repo: &str) -> String {
    let mut words: Vec<&str> = repo.split_whitespace().collect();
    if matches!(words.first(), Some(&"deb") | Some(&"deb-src")) {
        words.remove(0);
    }
    let words: Vec<&str> = words
        .into_iter()
        .filter(|w| !w.starts_with('[') && !w.ends_with(']'))
        .collect();
    let url = words.first().copied().unwrap_or("repo");
    let url = url.split("://").last().unwrap_or(url);
    match sanitize(url, "-") {
        // a var (`{{ mongodb_apt_repo }}`): its name
        name if name.is_empty() => match sanitize(repo, "_-") {
            name if name.is_empty() => "repo".into(),
            name => name,
        },
        name => name,
    }
}

/// Looks up a mapping key.
pub fn map_get<'a>(m: &'a Mapping, k: &str) -> Option<&'a Value> {
    m.get(Value::String(k.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The modules `map_task` names (its match arms, read from this file), each in
    /// docs/migrating-from-ansible.md as `` `MODULE` ``.
    #[test]
    fn every_module_is_in_the_migration_guide() {
        let src = include_str!("modules.rs");
        let body = src
            .split_once("pub fn map_task(")
            .map(|(_, b)| b.split_once("\n}\n").map_or(b, |(f, _)| f))
            .unwrap_or_default();
        let modules: Vec<&str> = body
            .lines()
            .filter(|l| l.starts_with("        \"") && l.contains("=>"))
            .flat_map(|l| l.split("=>").next().unwrap_or_default().split('|'))
            .filter_map(|m| m.trim().strip_prefix('"')?.strip_suffix('"'))
            .collect();
        assert!(modules.len() > 40, "arms not found: {modules:?}");
        let doc = include_str!("../../docs/migrating-from-ansible.md");
        let missing: Vec<&&str> = modules
            .iter()
            .filter(|m| !doc.contains(&format!("`{m}`")))
            .collect();
        assert!(
            missing.is_empty(),
            "modules missing from the guide: {missing:?}"
        );
    }
    use crate::import::task::key_values;

    fn task(module: &str, args: &str) -> Task {
        // as the reader splits them: a command's free form keeps its `k=v` words
        let (args, free) = if matches!(module, "command" | "shell") {
            let (cmd, opts) = crate::import::task::command_free_form(args);
            (opts, (!cmd.is_empty()).then_some(cmd))
        } else {
            key_values(args)
        };
        Task {
            module: module.into(),
            args,
            free,
            ..Task::default()
        }
    }

    fn shape(m: &Mapped) -> String {
        match m {
            Mapped::Resources(rs) => rs
                .iter()
                .map(|r| {
                    r.fields
                        .iter()
                        .map(|(k, v)| format!("{k}={}", crate::yaml::to_string(v).trim()))
                        .collect::<Vec<_>>()
                        .join(" ")
                        + if r.native { "" } else { " [command]" }
                })
                .collect::<Vec<_>>()
                .join(" | "),
            Mapped::Vars(v) => format!("vars {}", v.len()),
            Mapped::LeftOut(why) => format!("left out: {why}"),
        }
    }

    #[test]
    fn module_mapping_table() {
        let mut ctx = Ctx::default();
        ctx.dirs.insert("/etc/app".into());
        ctx.edited.insert("/srv/edited".into());
        let cases: &[(&str, &str, &str)] = &[
            ("template", "src=app.ini.j2 dest=/etc/app/app.ini mode=0640 owner=app", "file=/etc/app/app.ini template=app.ini.j2 owner=app mode='0640'"),
            ("template", "src=site.conf.j2 dest=/etc/app", "file=/etc/app/site.conf template=site.conf.j2"),
            ("copy", "src=logo.png dest=/etc/app/ mode=644", "file=/etc/app/logo.png src=logo.png mode='0644'"),
            ("copy", "content=hi dest=/etc/motd", "file=/etc/motd content=hi"),
            ("copy", "src=static/ dest=/srv/static", "sync=/srv/static src=static"),
            // remote_src: a file of the host → copy_of (`force: no` too); a folder stays a command
            ("copy", "src='{{ d }}/dehydrated' dest=/usr/local/bin/dehydrated remote_src=true owner=root mode=0755", "file=/usr/local/bin/dehydrated copy_of='{{ d }}/dehydrated' owner=root mode='0755'"),
            ("copy", "src=/etc/ssl/site.crt dest=/etc/app/ remote_src=yes", "file=/etc/app/site.crt copy_of=/etc/ssl/site.crt"),
            ("copy", "src=/srv/a/ dest=/srv/b remote_src=yes mode=preserve", "command=cp -a /srv/a/ /srv/b creates=/srv/b [command]"),
            ("copy", "src=/srv/a.example dest=/srv/a remote_src=yes force=no", "file=/srv/a copy_of=/srv/a.example force=false"),
            ("copy", "src=/srv/a/ dest=/srv/b remote_src=yes force=no", "command=cp -a /srv/a/ /srv/b creates=/srv/b [command]"),
            ("copy", "src=/srv/e.example dest=/srv/edited remote_src=yes force=no", "command=cp -a /srv/e.example /srv/edited creates=/srv/edited [command]"),
            ("copy", "content=x dest=/srv/c force=no", "file=/srv/c content=x force=false"),
            ("copy", "src=app.conf dest=/srv/d force=yes", "file=/srv/d src=app.conf"),
            ("template", "src=db.yml.j2 dest=/srv/e force=no mode=0600", "file=/srv/e template=db.yml.j2 mode='0600' force=false"),
            ("file", "path=/srv/app state=directory owner=app mode=0755", "directory=/srv/app owner=app mode='0755'"),
            ("file", "path=/srv/app/current src=/srv/r/1 state=link", "link=/srv/app/current target=/srv/r/1"),
            ("file", "path=/etc/old.conf state=absent", "file=/etc/old.conf state=absent"),
            ("file", "path=/var/log/x.log state=touch", "file=/var/log/x.log"),
            ("file", "path=/etc/app owner=app recurse=yes", "directory=/etc/app owner=app recurse=true"),
            ("file", "path=/srv/s state=directory mode=u=rwX,g=rX,o=rX recurse=yes", "directory=/srv/s mode=u=rwX,g=rX,o=rX recurse=true"),
            ("file", "path=/srv/s state=directory mode=u=rwx,g=rx,o=rx", "directory=/srv/s mode='0755'"),
            ("command", "chown -R {{ u }}:{{ u }} {{ p }}/{{ u }}", "directory='{{ p }}/{{ u }}' owner='{{ u }}' group='{{ u }}' recurse=true"),
            ("command", "chown -R www-data /srv/app/", "directory=/srv/app owner=www-data recurse=true"),
            ("command", "chown -R :www-data /srv/app", "directory=/srv/app group=www-data recurse=true"),
            ("command", "chown -R app: /srv/app", "command='chown -R app: /srv/app' [command]"),
            ("command", "chown {{ u }}.{{ g }} -R {{ p | quote }}", "directory='{{ p }}' owner='{{ u }}' group='{{ g }}' recurse=true"),
            ("command", "chown -R app.web /srv/app", "directory=/srv/app owner=app group=web recurse=true"),
            ("command", "chown -R a.b.c /srv/app", "command=chown -R a.b.c /srv/app [command]"),
            ("command", "chown -R a.b:c /srv/app", "command=chown -R a.b:c /srv/app [command]"),
            ("command", "chown -R /srv/app", "command=chown -R /srv/app [command]"),
            ("command", "chown -R app:app /srv/*", "command=chown -R app:app /srv/* [command]"),
            ("command", "chmod -R u=rwX,g=rX,o= /srv/app", "directory=/srv/app mode=u=rwX,g=rX,o= recurse=true"),
            ("command", "chmod -R 755 /srv/app", "directory=/srv/app mode='0755' recurse=true"),
            ("command", "chmod -R g+w /srv/app", "command=chmod -R g+w /srv/app [command]"),
            ("git", "repo=https://x/y.git dest=/srv/src version=main", "git=/srv/src repo=https://x/y.git version=main"),
            ("user", "name=app shell=/bin/bash groups=adm,www-data system=yes", "user=app shell=/bin/bash groups=- adm\n- www-data system=true"),
            ("group", "name=app system=yes", "group=app system=true"),
            ("apt", "name=nginx state=latest update_cache=yes", "package=nginx state=latest update_cache=true"),
            ("apt", "name=a,b", "package=- a\n- b"),
            ("apt", "update_cache=yes", "command=apt-get update [command]"),
            ("apt", "deb=/tmp/app_1.0_all.deb", "command=DEBIAN_FRONTEND=noninteractive apt-get install -y /tmp/app_1.0_all.deb unless=v=$(dpkg-deb -f /tmp/app_1.0_all.deb Version) && test -n \"$v\" && test \"$(dpkg-query -W -f '${Version}' \"$(dpkg-deb -f /tmp/app_1.0_all.deb Package)\" 2>/dev/null)\" = \"$v\" [command]"),
            ("apt", "deb=https://x/app.deb", "command=d=$(mktemp -d) && { curl -fsSL -o \"$d/p.deb\" https://x/app.deb && DEBIAN_FRONTEND=noninteractive apt-get install -y \"$d/p.deb\"; s=$?; rm -rf \"$d\"; [ $s -eq 0 ]; } [command]"),
            ("apt", "name=* state=latest", "apt_upgrade=safe"),
            ("apt", "name=* state=latest update_cache=yes", "apt_upgrade=safe update_cache=true"),
            ("apt", "name=* state=present", "command=apt-get update && DEBIAN_FRONTEND=noninteractive apt-get -y upgrade [command]"),
            ("apt", "upgrade=yes update_cache=yes cache_valid_time=86400", "apt_upgrade=safe cache_valid_time=86400 update_cache=true"),
            ("apt", "upgrade=yes update_cache=no cache_valid_time=0", "apt_upgrade=safe"),
            ("apt", "upgrade=yes update_cache=yes cache_valid_time=0", "apt_upgrade=safe update_cache=true"),
            ("apt", "upgrade=yes update_cache=no cache_valid_time=60", "apt_upgrade=safe cache_valid_time=60"),
            ("apt", "upgrade=safe", "apt_upgrade=safe"),
            ("apt", "upgrade=dist update_cache=yes", "apt_upgrade=full update_cache=true"),
            ("apt", "upgrade=full cache_valid_time='{{ apt_cache_time }}'", "apt_upgrade=full cache_valid_time='{{ apt_cache_time }}'"),
            ("apt", "upgrade='{{ mode }}'", "command=apt-get update && DEBIAN_FRONTEND=noninteractive apt-get -y upgrade [command]"),
            ("apt", "upgrade=yes cache_valid_time=soon", "command=apt-get update && DEBIAN_FRONTEND=noninteractive apt-get -y upgrade [command]"),
            ("service", "name=nginx state=started enabled=yes", "service=nginx state=running enabled=true"),
            ("systemd", "daemon_reload=yes", "left out: a bare `daemon_reload`: play runs `systemctl daemon-reload` itself when a unit file it writes changes"),
            ("supervisorctl", "name=app state=restarted", "command=supervisorctl restart app [command]"),
            ("shell", "touch /x creates=/x chdir=/tmp", "command=touch /x creates=/x chdir=/tmp [command]"),
            ("command", "rm -rf /tmp/x removes=/tmp/x", "command=rm -rf /tmp/x unless=test ! -e /tmp/x [command]"),
            ("shell", "touch {{ d }}/x creates={{ d }}/x", "file='{{ d }}/x'"),
            // a templated state choosing one kind's presence or absent → that kind, play's states
            ("file", "path=/x src=/y state=\"{{ 'link' if a else 'absent' }}\"", "link=/x target=/y state='{{ ''present'' if a else ''absent'' }}'"),
            ("file", "src=/etc/n/a.conf dest=/etc/n/e/a.conf state='{{ on|ternary(\"link\", \"absent\") }}'", "link=/etc/n/e/a.conf target=/etc/n/a.conf state='{{ on|ternary(\"present\", \"absent\") }}'"),
            ("file", "path=/srv/c state=\"{{ c | ternary('directory', 'absent') }}\" owner=app", "directory=/srv/c force=true state='{{ c | ternary(''present'', ''absent'') }}' owner=app"),
            ("file", "path=/k mode=0600 state=\"{{ 'file' if e else 'touch' }}\"", "file=/k mode='0600'"),
            ("file", "path=/x state=\"{{ 'link' if a else 'absent' }}\"", "left out: file `state: {{ 'link' if a else 'absent' }}` is chosen at run time (play's kind is fixed: write one resource per case, each with its `when`)"),
            ("file", "path=/x state=\"{{ 'link' if a else 'directory' }}\"", "left out: file `state: {{ 'link' if a else 'directory' }}` is chosen at run time (play's kind is fixed: write one resource per case, each with its `when`)"),
            ("file", "path=/x state=\"{{ s }}\"", "left out: file `state: {{ s }}` is chosen at run time (play's kind is fixed: write one resource per case, each with its `when`)"),
            ("command", "mkdir -p /srv/a/", "directory=/srv/a"),
            ("command", "ln -sf /srv/r/1 /srv/current", "link=/srv/current target=/srv/r/1 force=true"),
            ("shell", "touch /x && echo done", "command=touch /x && echo done [command]"),
            ("command", "systemctl start postgresql", "service=postgresql state=running"),
            ("command", "git clone https://github.com/errbit/errbit.git {{ errbit_dir }}", "git='{{ errbit_dir }}' repo=https://github.com/errbit/errbit.git"),
            ("command", "apt-get install aptitude -y", "package=aptitude"),
            ("command", "apt-get install -y --no-install-recommends a", "command=apt-get install -y --no-install-recommends a [command]"),
            ("command", "git clone --mirror https://x/y.git /srv/repo", "command=git clone --mirror https://x/y.git /srv/repo [command]"),
            // more commands that state what they make
            ("command", "ln -sfn /srv/r/2 /srv/current", "link=/srv/current target=/srv/r/2 force=true"),
            ("command", "ln -ns /srv/r/2 /srv/current", "link=/srv/current target=/srv/r/2"),
            ("command", "ln -sv /srv/r/2 /srv/current", "command=ln -sv /srv/r/2 /srv/current [command]"),
            ("command", "rsync -c --chmod=0755 --info=name /tmp/wp.phar /usr/local/bin/wp", "file=/usr/local/bin/wp copy_of=/tmp/wp.phar mode='0755'"),
            ("command", "rsync -c /tmp/a.bash /etc/bash_completion.d/wp", "file=/etc/bash_completion.d/wp copy_of=/tmp/a.bash"),
            ("command", "rsync -a /srv/a /srv/b", "command=rsync -a /srv/a /srv/b [command]"),
            ("command", "curl -4Ls https://x.org/wp.bash -o /tmp/wp.bash", "download=/tmp/wp.bash url=https://x.org/wp.bash"),
            ("command", "curl -fsSL -o /tmp/k.asc https://x.org/k", "download=/tmp/k.asc url=https://x.org/k"),
            ("command", "wget -q -O /tmp/a.tgz https://x.org/a.tgz", "download=/tmp/a.tgz url=https://x.org/a.tgz"),
            ("command", "curl -X POST https://x.org/hook -o /tmp/r", "command=curl -X POST https://x.org/hook -o /tmp/r [command]"),
            ("command", "curl -o tmp/a https://x.org/a", "command=curl -o tmp/a https://x.org/a [command]"),
            ("command", "rsync -c /srv/a/ /srv/b", "command=rsync -c /srv/a/ /srv/b [command]"),
            ("command", "rsync -c --chmod=u+x /srv/a /srv/b", "command=rsync -c --chmod=u+x /srv/a /srv/b [command]"),
            ("command", "systemctl enable --now redis-server", "service=redis-server state=running enabled=true"),
            ("command", "python3 -m venv /srv/app/venv creates=/srv/app/venv/bin/python", "venv=/srv/app/venv"),
            ("command", "/usr/bin/python3.11 -m venv {{ root }}/venv", "venv='{{ root }}/venv' python=/usr/bin/python3.11"),
            ("command", "virtualenv -p python3 /srv/venv", "venv=/srv/venv"),
            ("command", "python3 -m venv --system-site-packages /srv/venv", "command=python3 -m venv --system-site-packages /srv/venv [command]"),
            ("command", "/srv/venv/bin/pip install -r /srv/app/requirements.txt", "venv=/srv/venv requirements=/srv/app/requirements.txt"),
            ("command", "{{ venv }}/bin/pip3 install -U gunicorn flask==3.0.3", "venv='{{ venv }}' packages=- gunicorn\n- flask==3.0.3"),
            ("command", "/srv/venv/bin/pip install -r requirements.txt", "command=/srv/venv/bin/pip install -r requirements.txt [command]"),
            ("command", "/srv/venv/bin/pip install 'flask>=3'", "command=/srv/venv/bin/pip install 'flask>=3' [command]"),
            ("command", "pip3 install flask", "command=pip3 install flask [command]"),
            ("command", "useradd -m -s /bin/bash -G adm,sudo deploy", "user=deploy create_home=true shell=/bin/bash groups=- adm\n- sudo"),
            ("command", "useradd --system app", "user=app system=true"),
            ("command", "useradd -p x app", "command=useradd -p x app [command]"),
            ("command", "groupadd -r -g 990 app", "group=app system=true gid=990"),
            ("command", "rm -f /etc/nginx/sites-enabled/default", "file=/etc/nginx/sites-enabled/default state=absent"),
            ("command", "rm -f {{ d }}/*.pyc", "command=rm -f {{ d }}/*.pyc [command]"),
            ("command", "rm -rf /srv/old", "command=rm -rf /srv/old [command]"),
            ("shell", "DEBIAN_FRONTEND=noninteractive apt-get install -y nginx", "package=nginx"),
            ("shell", "LANG=C apt-get install -y postgresql", "command=LANG=C apt-get install -y postgresql [command]"),
            ("shell", "ls ~/.rvm creates=~/.rvm/bin/rvm", "command=ls ~/.rvm unless=test -e ~/.rvm/bin/rvm [command]"),






            // pip into a virtualenv → venv (versions, requirements, extra_args, the interpreter)
            ("pip", "name=flask virtualenv=/srv/venv", "venv=/srv/venv packages=- flask"),
            ("pip", "name=flask version=3.0.3 virtualenv=/srv/venv/ virtualenv_python=python3.11", "venv=/srv/venv python=python3.11 packages=- flask==3.0.3"),
            ("pip", "name=a==1,b virtualenv=/v virtualenv_command='/usr/bin/python3 -m venv' extra_args='--no-index --upgrade'", "venv=/v python=/usr/bin/python3 packages=- a==1\n- b pip_args=- --no-index"),
            ("pip", "requirements=requirements.txt chdir=/srv/app virtualenv=/srv/app/venv", "venv=/srv/app/venv requirements=/srv/app/requirements.txt"),
            ("pip", "requirements='{{ root }}/req.txt' virtualenv='{{ root }}/venv' state=latest", "venv='{{ root }}/venv' requirements='{{ root }}/req.txt'"),
            // pip without a virtualenv → pip: (names, a version, the interpreter of `executable`,
            // extra_args, break_system_packages, absent; `latest` is `present` with a note)
            ("pip", "name=flask", "pip=flask"),
            ("pip", "name=Flask,requests state=latest", "pip=- Flask\n- requests"),
            ("pip", "name=uv version=0.9.9 executable=pip3.11", "pip=uv==0.9.9 python=python3.11"),
            ("pip", "name=awscli executable=/usr/local/bin/pip3 extra_args='--no-index -U --break-system-packages'", "pip=awscli python=/usr/local/bin/python3 pip_args=- --no-index break_system_packages=true"),
            ("pip", "name='{{ item }}' state=absent break_system_packages=yes", "pip='{{ item }}' break_system_packages=true state=absent"),
            // what pip: cannot say stays a command: a range, a requirements file, a venv's pip
            ("pip", "name=flask>=3", "command=pip3 install 'flask>=3' unless=pip3 show 'flask>=3' >/dev/null 2>&1 [command]"),
            ("pip", "requirements=/srv/req.txt", "command=pip3 install -r /srv/req.txt [command]"),
            ("pip", "name=flask executable=/opt/tool/bin/pip", "command=/opt/tool/bin/pip install flask unless=/opt/tool/bin/pip show flask >/dev/null 2>&1 [command]"),
            ("pip", "name=flask state=forcereinstall", "command=pip3 install flask unless=pip3 show flask >/dev/null 2>&1 [command]"),
            // easy_install → pip: (pip itself too: same state, pip installs it)
            ("easy_install", "name=pip state=present", "pip=pip"),
            ("easy_install", "name=flask executable=easy_install-3.4", "command=easy_install-3.4 flask [command]"),
            // what venv cannot say stays a command: a specifier, an uninstall
            ("pip", "name=flask>=3 virtualenv=/v", "command='{ test -x /v/bin/pip || virtualenv /v; } && /v/bin/pip install ''flask>=3''' unless=/v/bin/pip show 'flask>=3' >/dev/null 2>&1 [command]"),
            ("pip", "name=flask state=absent virtualenv=/v", "command='{ test -x /v/bin/pip || virtualenv /v; } && /v/bin/pip uninstall -y flask' [command]"),
            // cron → cron: the name without dots or spaces, the schedule, user (or become_user), job
            ("cron", "name=backup minute=0 hour=3 job=/usr/local/bin/backup", "cron=backup schedule=0 3 * * * command=/usr/local/bin/backup"),
            ("cron", "name='Backup DB to S3.' hour=3 user=postgres job='db_dump.sh > /dev/null'", "cron=Backup_DB_to_S3 schedule='* 3 * * *' user=postgres command=db_dump.sh > /dev/null"),
            ("cron", "name=x cron_file=/etc/cron.d/le-renew special_time=weekly job=renew", "cron=le-renew schedule='@weekly' command=renew"),
            ("cron", "name='{{ item.key }} WordPress cron' minute=*/15 job=wp", "cron='{{ (item.key) | string | replace(''.'', ''_'') | replace('' '', ''_'') }}_WordPress_cron' schedule='*/15 * * * *' command=wp"),
            ("cron", "name=old state=absent", "cron=old state=absent"),
            // a templated choice of play's own states is carried as it is; another stays out
            ("cron", "name=wp minute=*/15 job=wp cron_file=wp state=\"{{ on | ternary('present', 'absent') }}\"", "cron=wp schedule='*/15 * * * *' command=wp state='{{ on | ternary(''present'', ''absent'') }}'"),
            ("cron", "name=wp job=wp state=\"{{ s }}\"", "left out: cron `state: {{ s }}` is chosen at run time (write the `cron:` with a `when`)"),
            ("cron", "name=PATH env=yes job=/bin", "left out: cron `env=yes` (a variable of the crontab): write it in the `environment:` of the `cron:` jobs that need it"),
            // get_url → download with a sha256, else a command fetching once
            ("get_url", "url=https://x/a.tgz dest=/tmp/a.tgz checksum=sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 mode=0644", "download=/tmp/a.tgz url=https://x/a.tgz sha256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 mode='0644'"),
            ("systemd", "name=t.timer state=\"{{ on | ternary('started', 'stopped') }}\" enabled=\"{{ on }}\"", "service=t.timer state='{{ on | ternary(''running'', ''stopped'') }}' enabled='{{ on }}'"),
            ("get_url", "url=https://x/a.tgz dest=/tmp/a.tgz mode=0755", "download=/tmp/a.tgz url=https://x/a.tgz mode='0755'"),
            // force: yes → fetched while missing (noted), or fetched again when it differs from its sha256
            ("get_url", "url=https://x/a.tgz dest=/tmp/a.tgz force=yes", "download=/tmp/a.tgz url=https://x/a.tgz"),
            ("get_url", "url=https://x/n dest=/usr/bin/n force=yes mode=0755 owner=root", "download=/usr/bin/n url=https://x/n owner=root mode='0755'"),
            // a checksum from a var (a role default `sha256:HEX`): its sha256 part
            ("get_url", "url=https://x/a.tgz dest=/tmp/a.tgz checksum='{{ a_checksum }}' mode=0644", "download=/tmp/a.tgz url=https://x/a.tgz sha256='{{ a_checksum | regex_replace(''^sha256:'', '''') }}' mode='0644'"),
            // a templated sha256 checksum rendering to `sha256:HEX` or to nothing (`omit`)
            ("get_url", "url=https://x/a.tgz dest=/tmp/a.tgz checksum=\"{{ c | ternary(omit, 'sha256:' + s) }}\"", "download=/tmp/a.tgz url=https://x/a.tgz sha256='{{ c | ternary(omit, ''sha256:'' + s) }}'"),
            ("get_url", "url=https://x/a.tgz dest=/tmp/a.tgz force=yes checksum=\"{{ 'sha256:' ~ s }}\"", "download=/tmp/a.tgz url=https://x/a.tgz sha256='{{ ''sha256:'' ~ s }}'"),
            ("get_url", "url=https://x/a.tgz dest=/tmp/a.tgz checksum=\"{{ c | ternary(omit, 'sha1:' + s) }}\"", "command=curl -fsSL -o /tmp/a.tgz https://x/a.tgz creates=/tmp/a.tgz [command]"),
            ("get_url", "url=https://x/a.tgz dest=/tmp/a.tgz checksum=md5:abc", "command=curl -fsSL -o /tmp/a.tgz https://x/a.tgz creates=/tmp/a.tgz [command]"),
            // apt_repository → apt_source (a deb line, a ppa), a .list file (a variable, options)
            ("apt_repository", "repo='deb http://nginx.org/packages/debian bookworm nginx'", "apt_source=nginx_org_packages_debian uris=http://nginx.org/packages/debian suites=- bookworm components=- nginx"),
            ("apt_repository", "repo='deb https://apt.grafana.com {{ ansible_distribution_release }} main contrib' filename=grafana", "apt_source=grafana uris=https://apt.grafana.com suites=- '{{ ansible_distribution_release }}' components=- main\n- contrib"),
            ("apt_repository", "repo='deb https://x/ stable main' state=absent filename=x", "apt_source=x state=absent"),
            ("apt_repository", "repo='deb [signed-by=/k.gpg] https://x/ stable main' filename=x", "file=/etc/apt/sources.list.d/x.list content=|\n  deb [signed-by=/k.gpg] https://x/ stable main | command=apt-get update on_change=- /etc/apt/sources.list.d/x.list [command]"),
            ("apt_repository", "repo='{{ mongodb_apt_repo }}'", "file=/etc/apt/sources.list.d/mongodb_apt_repo.list content=|\n  {{ mongodb_apt_repo }} | command=apt-get update on_change=- /etc/apt/sources.list.d/mongodb_apt_repo.list [command]"),
            ("apt_repository", "repo=ppa:certbot/certbot", "apt_source=ppa_certbot_certbot ppa=certbot/certbot"),
            ("apt_repository", "repo=ppa:nginx/stable codename=jammy filename=nginx update_cache=no", "apt_source=nginx ppa=nginx/stable suites=- jammy"),
            ("apt_repository", "repo='ppa:deadsnakes' state=absent", "apt_source=ppa_deadsnakes_ppa ppa=deadsnakes/ppa state=absent"),
            ("apt_repository", "repo='ppa:{{ php_ppa }}'", "apt_source=ppa_php_ppa ppa='{{ php_ppa }}'"),
            // a signed_by URL: the source's key_url, fetched by the host
            ("deb822_repository", "name=pgdg uris=https://apt.postgresql.org/pub/repos/apt suites='{{ r }}-pgdg' components=main signed_by=https://x/ACCC4CF8.asc", "apt_source=pgdg uris=- https://apt.postgresql.org/pub/repos/apt suites=- '{{ r }}-pgdg' components=- main key_url=https://x/ACCC4CF8.asc"),
            // apt_key from a URL → a download into trusted.gpg.d, named by the URL's host and file
            ("apt_key", "url=https://x/key.asc id=ABCD1234", "download=/etc/apt/trusted.gpg.d/x-key.asc url=https://x/key.asc"),
            ("apt_key", "url=https://nginx.org/keys/nginx_signing.key state=present", "download=/etc/apt/trusted.gpg.d/nginx.org-nginx_signing.asc url=https://nginx.org/keys/nginx_signing.key"),
            ("apt_key", "url=https://download.docker.com/linux/debian/gpg", "download=/etc/apt/trusted.gpg.d/download.docker.com-gpg.asc url=https://download.docker.com/linux/debian/gpg"),
            // a keyring of its own, or a keyserver, stay commands
            ("apt_key", "url=https://x/key.asc keyring=/usr/share/keyrings/x.gpg", "command=curl -fsSL https://x/key.asc | gpg --dearmor > /usr/share/keyrings/x.gpg creates=/usr/share/keyrings/x.gpg [command]"),
            // a keyserver and an id → the key's HKP lookup over HTTPS, named by the id
            ("apt_key", "keyserver=keyserver.ubuntu.com id=0C49F3730359A14518585931BC711F9BA15703C6", "download=/etc/apt/trusted.gpg.d/0C49F3730359A14518585931BC711F9BA15703C6.asc url=https://keyserver.ubuntu.com/pks/lookup?op=get&options=mr&search=0x0C49F3730359A14518585931BC711F9BA15703C6"),
            ("apt_key", "keyserver=hkp://keyserver.ubuntu.com:80 id=0xABCD1234", "download=/etc/apt/trusted.gpg.d/ABCD1234.asc url=https://keyserver.ubuntu.com/pks/lookup?op=get&options=mr&search=0xABCD1234"),
            ("apt_key", "keyserver='{{ ks }}' id='{{ key_id }}'", "download=/etc/apt/trusted.gpg.d/{{ key_id | regex_replace('^0x', '') }}.asc url=https://{{ ks | regex_replace('^[a-z0-9]+://', '') | regex_replace('[:/].*$', '') }}/pks/lookup?op=get&options=mr&search=0x{{ key_id | regex_replace('^0x', '') }}"),
            ("apt_key", "keyserver='hkp://x/y z' id=AB", "command=apt-key adv --keyserver 'hkp://x/y z' --recv-keys AB unless=apt-key list 2>/dev/null | tr -d ' ' | grep -qi AB [command]"),
            // unarchive of an archive on the host → unarchive; of the controller: left out
            ("unarchive", "src=/srv/rc/rc.tgz dest=/srv/rc copy=false creates=/srv/rc/bundle owner=rc group=rc", "unarchive=/srv/rc src=/srv/rc/rc.tgz creates=/srv/rc/bundle owner=rc group=rc"),
            ("unarchive", "src='{{ h }}/d-{{ v }}.tar.gz' dest='{{ h }}' remote_src=true mode=0755", "unarchive='{{ h }}' src='{{ h }}/d-{{ v }}.tar.gz' mode='0755'"),
            ("unarchive", "src='{{ archive }}' dest=/srv remote_src=true", "command=tar -xf '{{ archive }}' -C /srv [command]"),
            ("unarchive", "src=app.tgz dest=/srv", "left out: unarchive of a controller file: extract it into the role's files/ and use `sync:`"),
            // lineinfile → line (regexp, text, absent, validate); backrefs and look-around stay commands
            ("lineinfile", "path=/etc/a line=x=1", "line=/etc/a text=x=1"),
            ("lineinfile", "path=/etc/ssh/sshd_config regexp='^#?PasswordAuthentication ' line='PasswordAuthentication no' validate='sshd -t -f %s'", "line=/etc/ssh/sshd_config regexp='^#?PasswordAuthentication ' text=PasswordAuthentication no validate=sshd -t -f %s"),
            ("lineinfile", "path=/etc/a regexp=^x= state=absent", "line=/etc/a regexp=^x= state=absent"),
            ("lineinfile", "path=/etc/a line=x insertafter=^y", "line=/etc/a text=x"),
            ("lineinfile", "path=/etc/a regexp='^(x)=' line='\\1=2' backrefs=yes", "line=/etc/a regexp=^(x)= text=\\1=2 backrefs=true"),
            ("lineinfile", "path=/etc/a regexp='^(?!#)x' line=y", "command=awk -v re='^(?!#)x' -v line=y '!d && $0 ~ re { print line; d = 1; next } { print } END { if (!d) print line }' /etc/a > /etc/a.play-tmp && cat /etc/a.play-tmp > /etc/a && rm -f /etc/a.play-tmp unless=grep -qxF -- y /etc/a [command]"),
            // blockinfile → block with Ansible's marker; an empty block removes it
            ("blockinfile", "path=/etc/a block=x", "block=/etc/a marker='# {mark} ANSIBLE MANAGED BLOCK' text=x"),
            ("blockinfile", "path=/etc/a block=x marker='<!-- {mark} app -->' marker_begin=START marker_end=STOP", "block=/etc/a marker=<!-- {mark} app --> text=x"),
            ("blockinfile", "path=/etc/a block=''", "block=/etc/a marker='# {mark} ANSIBLE MANAGED BLOCK' state=absent"),
            // replace → the replace kind; what it cannot take stays a guarded command
            ("replace", "path=/etc/a regexp='^#(x)=' replace='\\1=1' backup=yes", "replace=/etc/a regexp=^#(x)= with=\\1=1"),
            ("replace", "dest=/etc/a regexp='^x$' after='\\[s\\]' before=END validate='t %s'", "replace=/etc/a regexp=^x$ after=\\[s\\] before=END validate=t %s"),
            ("replace", "path=/etc/a regexp='{{ item.re }}' replace='{{ item.line }}'", "replace=/etc/a regexp='{{ item.re }}' with='{{ item.line }}'"),
            ("replace", "path=/etc/a regexp='^(?!#)(x)=' replace='\\1=1'", "command=perl -0777 -pi -e 's/^(?!#)(x)=/\\1=1/mg' /etc/a unless=perl -0777 -ne 'exit 1 if /^(?!#)(x)=/m' /etc/a [command]"),
            ("replace", "path=/etc/a regexp='(?<=a)b' after=x", "left out: replace with `after`/`before` that `replace:` cannot take (regexp `(?<=a)b` does not compile: look-around, including look-ahead and look-behind, is not supported (play's patterns are the `regex` crate's: no look-around and no backreference in the pattern; `\\1` is for `with`)): manage the file with `file:` + `template:` or `line:`"),
            // validate on a file
            ("template", "src=sudoers.j2 dest=/etc/sudoers.d/app validate='visudo -cf %s'", "file=/etc/sudoers.d/app template=sudoers.j2 validate=visudo -cf %s"),
            // npm → npm: a project's folder, global packages (a PREFIX/lib folder is the global folder of PREFIX); what it cannot take stays a command
            ("npm", "path=/srv/app/bundle/programs/server executable=/opt/node/bin/npm production=true state=present", "npm=/srv/app/bundle/programs/server production=true executable=/opt/node/bin/npm"),
            ("npm", "path='{{ app }}/' ci=yes production='{{ prod }}'", "npm='{{ app }}' production='{{ prod }}'"),
            ("npm", "name=n global=yes executable=/usr/bin/npm", "npm=n executable=/usr/bin/npm"),
            ("npm", "name=npm version='{{ v }}' path='{{ prefix }}/lib' executable='{{ prefix }}/bin/npm'", "npm=npm@{{ v }} prefix='{{ prefix }}' executable='{{ prefix }}/bin/npm'"),
            ("npm", "name=pm2 global=yes state=absent", "npm=pm2 state=absent"),
            ("npm", "name=pm2 global=yes state=latest", "npm=pm2"),
            ("npm", "name=typescript path=/srv/tools", "command=npm install typescript chdir=/srv/tools [command]"),
            ("npm", "name=pm2 version=^5 global=yes", "command=npm install -g 'pm2@^5' unless=npm ls -g --depth=0 pm2 >/dev/null 2>&1 [command]"),
            ("npm", "path=/srv/app registry=https://r.example", "command=npm install chdir=/srv/app [command]"),
            // bundler → bundle: (chdir the key), latest/extra_args stay commands; gem → gem:
            ("bundler", "chdir=/srv/app gem_path=/srv/shared/bundle exclude_groups=development,test binstub_directory=bin clean=yes executable=/opt/ruby/bin/bundle", "bundle=/srv/app exclude_groups=- development\n- test path=/srv/shared/bundle binstub_directory=bin clean=true executable=/opt/ruby/bin/bundle"),
            ("bundler", "state=latest chdir=/srv/app", "command=bundle update chdir=/srv/app [command]"),
            ("bundler", "chdir=/srv/app extra_args='--jobs 4'", "command=bundle install --jobs 4 chdir=/srv/app [command]"),
            ("bundler", "gemfile=/srv/app/Gemfile", "command=bundle install [command]"),
            ("gem", "name=bundler version=1.17.3 user_install=no executable=/usr/local/bin/gem", "gem=bundler version=1.17.3 executable=/usr/local/bin/gem"),
            ("gem", "name=rails state=latest", "gem=rails user_install=true"),
            ("gem", "name=rails version='>= 6, < 7'", "gem=rails version='>= 6, < 7' user_install=true"),
            ("gem", "name=rails version='>> 6'", "command=gem install --no-document --version '>> 6' rails [command]"),
            ("gem", "name=x gem_source=/tmp/x-1.0.gem include_dependencies=no", "gem=x user_install=true include_dependencies=false gem_source=/tmp/x-1.0.gem"),
            // `bundle install` and `gem install` lines, bare, behind an rvm, in a login shell
            ("shell", "bundle install --path vendor/bundle --without test chdir=/srv/app", "bundle=/srv/app path=vendor/bundle exclude_groups=- test"),
            ("shell", "source /home/u/.rvm/scripts/rvm && bundle install chdir=/srv/app", "bundle=/srv/app executable=/home/u/.rvm/wrappers/default/bundle"),
            ("shell", "bash -lc 'bundle install --local' chdir=/srv/app", "bundle=/srv/app local=true login=true"),
            ("shell", "bundle install --frozen chdir=/srv/app", "command=bundle install --frozen chdir=/srv/app [command]"),
            ("shell", "bundle install", "command=bundle install [command]"),
            ("shell", "RAILS_ENV=production bundle install chdir=/srv/app", "command=RAILS_ENV=production bundle install chdir=/srv/app [command]"),
            ("shell", "source /home/u/.rvm/scripts/rvm && bundle exec rake db:migrate chdir=/srv/app", "command=source /home/u/.rvm/scripts/rvm && bundle exec rake db:migrate chdir=/srv/app [command]"),
            ("command", "gem install bundler -v 1.17.3 --no-document", "gem=bundler version=1.17.3"),
            // a quoted requirement holds `>`: the line stays a command (its words are not parsed as a shell's)
            ("command", "gem install rack -v '~> 2.2'", "command=gem install rack -v '~> 2.2' [command]"),
            ("command", "/opt/ruby/bin/gem install --user-install rake", "gem=rake user_install=true executable=/opt/ruby/bin/gem"),
            ("shell", "gem install bundler && echo ok", "command=gem install bundler && echo ok [command]"),
            ("shell", "ls /r/wrappers/ruby-2.6.5 | if ! grep \"^bundler \" ; then /r/wrappers/ruby-2.6.5/gem install bundler ; fi creates=/r/wrappers/ruby-2.6.5/bundler", "gem=bundler executable=/r/wrappers/ruby-2.6.5/gem"),
            // composer install → composer:, its other commands stay commands
            ("composer", "working_dir='{{ release }}' no_scripts='{{ ns }}' classmap_authoritative=yes", "composer='{{ release }}' no_scripts='{{ ns }}' classmap_authoritative=true"),
            ("composer", "command=install no_dev=no optimize_autoloader=no working_dir=/srv/www/current/", "composer=/srv/www/current no_dev=false optimize_autoloader=false"),
            ("composer", "command=config arguments='--auth http-basic.x u p' working_dir=/srv/app", "command=composer config --no-interaction --auth http-basic.x u p chdir=/srv/app [command]"),
            ("composer", "command=check-platform-reqs working_dir=/srv/app", "command=composer check-platform-reqs --no-interaction chdir=/srv/app [command]"),
            ("composer", "working_dir=/srv/app arguments=--ignore-platform-reqs", "command=composer install --no-interaction --no-dev --ignore-platform-reqs chdir=/srv/app [command]"),
            ("postgresql_db", "name=app", "left out: no play kind for module `postgresql_db`"),
            ("debug", "msg=hi", "left out: `debug`: play prints no messages"),
            // apt clean-ups, hostname, locale_gen, alternatives, debconf
            ("apt", "autoremove=yes", "command=DEBIAN_FRONTEND=noninteractive apt-get -y autoremove unless='! apt-get -s autoremove | grep -q ''^Remv ''' [command]"),
            ("apt", "autoremove=yes autoclean=yes", "command=DEBIAN_FRONTEND=noninteractive apt-get -y autoremove && DEBIAN_FRONTEND=noninteractive apt-get -y autoclean [command]"),
            ("hostname", "name={{ machine_name }}", "hostname='{{ machine_name }}'"),
            ("hostname", "name=web1 use=systemd", "hostname=web1"),
            ("timezone", "name=Europe/Paris hwclock=UTC", "timezone=Europe/Paris"),
            ("timezone", "hwclock=UTC", "left out: timezone without `name` (only `hwclock`: play does not set the hardware clock)"),
            // ufw: rules, state, policy; what `ufw:` cannot say stays the ufw command
            ("ufw", "rule=allow port=22 proto=tcp", "ufw=allow 22/tcp"),
            ("ufw", "rule=allow name=OpenSSH", "ufw=allow OpenSSH"),
            ("ufw", "rule=allow port={{ p }} proto=tcp from_ip=10.0.0.0/8", "ufw=allow {{ p }} proto=tcp from=10.0.0.0/8"),
            ("ufw", "rule=deny port=25 direction=outgoing delete=yes", "ufw=deny 25 direction=out state=absent"),
            ("ufw", "rule=allow src=192.168.1.10", "ufw=allow from=192.168.1.10"),
            ("ufw", "state=enabled", "ufw=enabled"),
            ("ufw", "state=disabled", "ufw=disabled"),
            ("ufw", "state=enabled policy=deny", "command=ufw default deny incoming unless=grep -qx 'DEFAULT_INPUT_POLICY=\"DROP\"' /etc/default/ufw [command] | ufw=enabled"),
            ("ufw", "rule=allow port=53 interface=eth0", "command=ufw allow in on eth0 from any to any port 53 [command]"),
            ("ufw", "rule=allow route=yes port=80", "command=ufw route allow from any to any port 80 [command]"),
            ("ufw", "state=reset", "command=ufw --force reset [command]"),
            ("ufw", "rule=permit port=22", "command=ufw permit from any to any port 22 [command]"),
            ("ufw", "comment=x", "left out: ufw without `rule`, `state` or `policy`"),
            // shell steps of the firewall, the zone and the name
            ("shell", "ufw allow ssh", "ufw=allow ssh"),
            ("shell", "ufw allow out 25/tcp", "ufw=allow 25/tcp direction=out"),
            ("shell", "ufw delete allow http", "ufw=allow http state=absent"),
            ("shell", "echo 'y' | ufw enable", "ufw=enabled"),
            ("shell", "ufw --force enable", "ufw=enabled"),
            ("shell", "ufw status", "command=ufw status [command]"),
            ("shell", "ufw allow 6000:6007", "command=ufw allow 6000:6007 [command]"),
            ("shell", "hostname {{app_name}}", "hostname='{{ app_name }}'"),
            ("shell", "hostname -f", "command=hostname -f [command]"),
            ("command", "timedatectl set-timezone Europe/Paris", "timezone=Europe/Paris"),
            ("locale_gen", "name=en_US.UTF-8", "line=/etc/locale.gen regexp=^#?\\s*en_US\\.UTF-8 UTF-8\\s*$ text=en_US.UTF-8 UTF-8 | command=locale-gen en_US.UTF-8 unless=locale -a | grep -qixF en_US.utf8 [command]"),
            ("locale_gen", "name=fr_FR.UTF-8 state=absent", "line=/etc/locale.gen regexp=^#?\\s*fr_FR\\.UTF-8 UTF-8\\s*$ state=absent"),
            ("locale_gen", "name=fr_FR", "left out: locale_gen `fr_FR`: only `NAME.UTF-8` locales are mapped (their charset is known)"),
            ("alternatives", "name=php path=/usr/bin/php8.3", "command=update-alternatives --set php /usr/bin/php8.3 unless='update-alternatives --query php 2>/dev/null | grep -qxF ''Value: /usr/bin/php8.3''' [command]"),
            ("alternatives", "name=editor path=/usr/bin/vim link=/usr/bin/editor priority=90", "command=update-alternatives --install /usr/bin/editor editor /usr/bin/vim 90 && update-alternatives --set editor /usr/bin/vim unless='update-alternatives --query editor 2>/dev/null | grep -qxF ''Value: /usr/bin/vim''' [command]"),
            ("debconf", "name=ferm question=ferm/enable vtype=boolean value=yes", "command=echo 'ferm ferm/enable boolean true' | debconf-set-selections unless='debconf-show ferm | sed ''s/^[* ] //'' | grep -qxF ''ferm/enable: true''' [command]"),
            ("debconf", "name=ferm question=ferm/enable", "left out: debconf without `name`, `question` and `vtype` (a read)"),
            ("set_fact", "a=1 b=x", "vars 2"),
        ];
        let mut wrong = Vec::new();
        for (module, args, want) in cases {
            let got = shape(&map_task(&task(module, args), &ctx));
            if &got != want {
                wrong.push(format!(
                    "{module} {args}\n  got:  {got:?}\n  want: {want:?}"
                ));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn a_synchronize_delegated_to_the_host_itself_is_its_rsync() {
        let ctx = Ctx::default();
        // tournesol: a synchronize between two folders of the host
        let mut t = task(
            "synchronize",
            "src=/home/git/app/ dest=/srv/app archive=no recursive=yes delete=yes checksum=yes",
        );
        t.args.push((
            "rsync_opts".into(),
            Value::Sequence(vec![Value::String("--exclude=*.pyc".into())]),
        ));
        t.delegate = Some("{{ inventory_hostname }}".into());
        let args = "-r --checksum --delete-after '--exclude=*.pyc' /home/git/app/ /srv/app";
        assert_eq!(
            shape(&map_task(&t, &ctx)),
            format!(
                "command=rsync {args} unless=out=$(rsync --dry-run --itemize-changes {args}) && test -z \"$out\" [command]"
            )
        );
        // from the controller: its default, a push
        t.delegate = Some("localhost".into());
        assert_eq!(t.runs_elsewhere(), None);
        assert_eq!(
            shape(&map_task(&t, &ctx)),
            "sync=/srv/app src=/home/git/app delete=true"
        );
        // trellis: one file of the host (its .env) copied into the web root
        let mut f = task(
            "synchronize",
            "src=/tmp/{{ item.key }}.env dest={{ www_root }}/{{ item.key }}/current/.env checksum=true",
        );
        f.delegate = Some("{{ inventory_hostname }}".into());
        assert_eq!(
            shape(&map_task(&f, &ctx)),
            "file='{{ www_root }}/{{ item.key }}/current/.env' copy_of=/tmp/{{ item.key }}.env"
        );
        // a folder (no extension) stays the rsync
        let mut d = task("synchronize", "src=/srv/a dest=/srv/b");
        d.delegate = Some("{{ inventory_hostname }}".into());
        assert!(shape(&map_task(&d, &ctx)).starts_with("command=rsync -a /srv/a /srv/b"));
        // another task delegated to the host itself is the host's
        let mut c = task("shell", "make");
        c.delegate = Some("{{ inventory_hostname }}".into());
        assert_eq!(shape(&map_task(&c, &ctx)), "command=make [command]");
        c.delegate = Some("localhost".into());
        assert!(c.runs_elsewhere().is_some());
    }

    #[test]
    fn command_line_breaks_are_word_breaks_but_shell_keeps_them() {
        let mut t = task("command", "");
        t.free = Some("openssl req\n  -new\n  -x509\n".into());
        assert_eq!(
            shape(&map_task(&t, &Ctx::default())),
            "command=openssl req -new -x509 [command]"
        );
        t.module = "shell".into();
        t.free = Some("cd /x\nmake\n".into());
        assert_eq!(
            shape(&map_task(&t, &Ctx::default())),
            "command=|-\n  cd /x\n  make [command]"
        );
    }

    #[test]
    fn what_line_and_block_cannot_say_is_a_comment_on_them() {
        let comments =
            |module: &str, args: &str| match map_task(&task(module, args), &Ctx::default()) {
                Mapped::Resources(rs) => rs[0].comments.join("\n"),
                other => panic!("{other:?}"),
            };
        let c = comments("lineinfile", "path=/etc/a line=x insertafter=^y");
        assert!(
            c.contains("`insertafter: ^y` not carried: a new line is appended"),
            "{c}"
        );
        assert_eq!(
            comments("lineinfile", "path=/etc/a line=x insertafter=EOF"),
            ""
        );
        let c = comments(
            "blockinfile",
            "path=/etc/a block=x insertbefore=^z marker_begin=START marker_end=STOP",
        );
        assert!(
            c.contains("`insertbefore: ^z` not carried: a new block is appended"),
            "{c}"
        );
        assert!(
            c.contains("marker_begin/marker_end `START`/`STOP` not carried"),
            "{c}"
        );
        // backrefs with a look-around the regex crate refuses: Perl, as Python would run it
        let c = comments(
            "lineinfile",
            "path=/etc/a regexp='^(hosts:((?!myhostname).)*)$' line='\\1 myhostname' backrefs=yes",
        );
        assert!(
            c.contains(
                "lineinfile → command (`backrefs` with a regexp `line:` cannot take: look-around"
            ),
            "{c}"
        );
    }

    #[test]
    fn npm_and_composer_run_as_the_become_user_and_say_why_a_command_stays() {
        let mut t = task("npm", "path=/srv/app");
        t.become_user = Some("app".into());
        assert_eq!(
            shape(&map_task(&t, &Ctx::default())),
            "npm=/srv/app user=app"
        );
        let mut t = task("composer", "working_dir=/srv/site");
        t.become_user = Some("web".into());
        assert_eq!(
            shape(&map_task(&t, &Ctx::default())),
            "composer=/srv/site user=web"
        );
        let Mapped::Resources(rs) = map_task(
            &task("composer", "command=config working_dir=/x"),
            &Ctx::default(),
        ) else {
            panic!("not a resource");
        };
        assert!(
            rs[0].comments[0].contains("`composer config` acts once"),
            "{:?}",
            rs[0].comments
        );
        assert!(
            rs[0].notes.iter().any(|n| n.contains("acts once")),
            "{:?}",
            rs[0].notes
        );
    }

    #[test]
    fn become_user_is_the_checkout_owner() {
        let mut t = task("git", "repo=r dest=/srv/x");
        t.become_user = Some("app".into());
        assert_eq!(
            shape(&map_task(&t, &Ctx::default())),
            "git=/srv/x repo=r owner=app"
        );
    }

    /// `become_user` runs pip as that user: a `--user` install (pip's default when the system
    /// site is not writable), said in IMPORT.md unless the task says `--user`; `latest` and
    /// easy_install are said too.
    #[test]
    fn pip_users_and_notes() {
        let notes = |t: &Task| match map_task(t, &Ctx::default()) {
            Mapped::Resources(rs) => rs[0].notes.join("; "),
            other => panic!("{other:?}"),
        };
        let mut t = task("pip", "name=uv");
        t.become_user = Some("app".into());
        assert_eq!(shape(&map_task(&t, &Ctx::default())), "pip=uv user=app");
        assert!(notes(&t).contains("without `--user`"), "{}", notes(&t));
        let mut t = task("pip", "name=uv extra_args=--user");
        t.become_user = Some("app".into());
        assert_eq!(shape(&map_task(&t, &Ctx::default())), "pip=uv user=app");
        assert_eq!(notes(&t), "");
        assert_eq!(
            shape(&map_task(
                &task("pip", "name=uv extra_args=--user"),
                &Ctx::default()
            )),
            "pip=uv user=root"
        );
        assert!(notes(&task("pip", "name=uv state=latest")).contains("pin a version"));
        assert!(notes(&task("easy_install", "name=pip")).contains("package: python3-pip"));
        let Mapped::Resources(rs) = map_task(&task("pip", "name=flask>=3"), &Ctx::default()) else {
            panic!("a command")
        };
        assert!(
            rs[0].comments[0].contains("not a state `pip:` can declare"),
            "{:?}",
            rs[0].comments
        );
    }

    #[test]
    fn modes() {
        assert_eq!(mode(&Value::Number(755.into())).as_deref(), Some("0755"));
        assert_eq!(mode(&Value::String("0640".into())).as_deref(), Some("0640"));
        assert_eq!(mode(&Value::String("u=rwx,g=rx".into())), None);
        assert_eq!(
            mode(&Value::String("u=rwx,g=rx,o=rx".into())).as_deref(),
            Some("0755")
        );
        assert_eq!(mode(&Value::String("u=rwX,g=rX,o=rX".into())), None);
    }

    /// lineinfile `backrefs` with a look-around (trellis' nsswitch.conf task): the Perl command
    /// does what Ansible does — run here by `sh` on a real file, its `unless` checks after.
    #[test]
    fn a_backrefs_lineinfile_with_look_around_runs_as_ansible_would() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("nsswitch.conf");
        std::fs::write(
            &f,
            "passwd: files\nhosts:          files dns\nnetworks: files\n",
        )
        .expect("write");
        let args = format!(
            "path={} regexp='^(hosts\\:((?!myhostname).)*)$' line='\\1 myhostname' backrefs=yes",
            f.display()
        );
        let Mapped::Resources(rs) = map_task(&task("lineinfile", &args), &Ctx::default()) else {
            panic!("not a resource");
        };
        let text = |k: &str| rs[0].get(k).and_then(Value::as_str).expect(k).to_string();
        let sh = |cmd: &str| {
            std::process::Command::new("sh")
                .args(["-c", cmd])
                .status()
                .expect("sh")
                .success()
        };
        assert!(!sh(&text("unless")), "a change is due");
        assert!(sh(&text("command")));
        assert_eq!(
            std::fs::read_to_string(&f).expect("read"),
            "passwd: files\nhosts:          files dns myhostname\nnetworks: files\n"
        );
        assert!(sh(&text("unless")), "converged");
        assert!(sh(&text("command")));
        assert_eq!(
            std::fs::read_to_string(&f).expect("read"),
            "passwd: files\nhosts:          files dns myhostname\nnetworks: files\n"
        );
    }
    #[test]
    fn renewals_with_their_own_authenticator() {
        for (line, want) in [
            ("ExecStart=/usr/bin/certbot --nginx -q renew", true),
            ("certbot renew -a webroot -w /var/www", true),
            ("0 3 * * * certbot renew --quiet", false),
            ("certbot certonly --nginx -d example.org", false),
            ("echo renew --nginx", false),
        ] {
            assert_eq!(renews_with_own_authenticator(line), want, "{line}");
        }
    }
}
