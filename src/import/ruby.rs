//! Ruby's modules and idioms → `bundle:` and `gem:`: Ansible's `bundler` and `gem` modules,
//! `bundle install …` and `gem install NAME` lines (behind an rvm `source …/scripts/rvm &&` or
//! in a `bash -lc '…'`), and the rvm role's install-bundler-if-missing line.

use crate::yaml::Value;

use super::{carry_bool, ignored, sh_quote, Mapped, Res};
use crate::import::task::Task;

/// A folder the importer may write as a key: absolute, or a template.
fn abs(p: &str) -> bool {
    p.starts_with('/') || p.starts_with("{{")
}

/// `bundler` → `bundle: CHDIR` (`state: present`, its default); `state: latest` (`bundle
/// update`) acts once: a command, as is a task without `chdir` (Ansible's default folder, the
/// remote user's home, is no project of the playbook's) or with `extra_args`.
pub fn map_bundler(t: &Task) -> Mapped {
    let state = t.arg_str(&["state"]).unwrap_or_else(|| "present".into());
    let dir = t
        .arg_str(&["chdir"])
        .map(|d| d.trim_end_matches('/').to_string())
        .filter(|d| abs(d));
    let exe = t.arg_str(&["executable"]);
    if let (true, None, Some(d)) = (state == "present", t.arg(&["extra_args"]), &dir) {
        let mut r = Res::new("bundle", d.clone());
        if let Some(g) = t.arg_str(&["gemfile"]) {
            r.set("gemfile", g);
        }
        carry_bool(t, &mut r, "deployment_mode", "deployment_mode");
        match t.arg(&["exclude_groups"]) {
            Some(Value::Sequence(gs)) => r.set("exclude_groups", Value::Sequence(gs.clone())),
            Some(Value::String(s)) if s.contains("{{") => r.set("exclude_groups", s.clone()),
            Some(Value::String(s)) => r.set(
                "exclude_groups",
                Value::Sequence(
                    s.split([',', ':', ' '])
                        .filter(|g| !g.is_empty())
                        .map(|g| Value::String(g.trim().to_string()))
                        .collect(),
                ),
            ),
            _ => {}
        }
        if let Some(p) = t.arg_str(&["gem_path"]) {
            r.set("path", p);
        }
        if let Some(b) = t.arg_str(&["binstub_directory"]) {
            r.set("binstub_directory", b);
        }
        carry_bool(t, &mut r, "local", "local");
        carry_bool(t, &mut r, "clean", "clean");
        if let Some(e) = exe {
            r.set("executable", e);
        }
        if let Some(u) = &t.become_user {
            r.set("user", u.clone());
        }
        if t.arg_bool(&["user_install"]) == Some(false) {
            r.notes.push("`user_install: false` (`--system`) not carried: bundle installs where Bundler's settings say (give `path`)".into());
        }
        return Mapped::Resources(vec![r]);
    }
    let verb = if state == "latest" {
        "update"
    } else {
        "install"
    };
    let mut line = format!("{} {verb}", exe.as_deref().unwrap_or("bundle"));
    if let Some(a) = t.arg_str(&["extra_args"]) {
        line.push(' ');
        line.push_str(&a);
    }
    let mut r = Res::command(line, "bundler");
    let why = if state == "latest" {
        "`state: latest` runs `bundle update`: it acts once and declares no state of the host"
    } else {
        "`bundle:` takes no `extra_args`, and its key is the project's folder (`chdir`, absolute)"
    };
    r.comments[0] = format!("play import: bundler → command ({why})");
    r.notes.push(format!("a command: {why}"));
    if let Some(d) = t.arg_str(&["chdir"]) {
        r.set("chdir", d);
    }
    Mapped::Resources(vec![r])
}

/// A RubyGems requirement (what `gem:` takes as `version`: `1.17.3`, `~> 2.0`, `>= 1, < 3`).
fn requirement(v: &str) -> bool {
    v.contains("{{") || crate::resources::registry::check_value("gem", "version", v).is_ok()
}

/// `gem` → `gem: NAME` (Ansible's default `user_install: true` written out); `state: latest`
/// → present, noted; a version RubyGems would not read → a command.
pub fn map_gem(t: &Task) -> Mapped {
    let Some(name) = t.arg_str(&["name"]) else {
        return Mapped::LeftOut("gem without `name`".into());
    };
    let version = t.arg_str(&["version"]);
    let state = t.arg_str(&["state"]);
    let name_ok =
        name.contains("{{") || crate::resources::registry::check_value("gem", "gem", &name).is_ok();
    if !name_ok || version.as_deref().is_some_and(|v| !requirement(v)) {
        let mut line = format!(
            "{} install --no-document",
            t.arg_str(&["executable"]).as_deref().unwrap_or("gem")
        );
        if let Some(v) = &version {
            line.push_str(&format!(" --version {}", sh_quote(v)));
        }
        line.push_str(&format!(" {}", sh_quote(&name)));
        let mut r = Res::command(line, "gem");
        r.comments[0] =
            "play import: gem → command (`gem:` takes a gem name and a RubyGems requirement)"
                .into();
        return Mapped::Resources(vec![r]);
    }
    let mut r = Res::new("gem", name);
    if let Some(v) = version {
        r.set("version", v);
    }
    match state.as_deref() {
        Some("absent") => r.set("state", "absent"),
        Some("latest") => r.notes.push(
            "`state: latest` not carried: play installs what is missing (pin a `version` to move)"
                .into(),
        ),
        _ => {}
    }
    match (t.arg_bool(&["user_install"]), t.arg_str(&["user_install"])) {
        (Some(false), _) => {}
        (None, Some(s)) if s.contains("{{") => r.set("user_install", s),
        // Ansible's default: true
        _ => r.set("user_install", true),
    }
    carry_bool(t, &mut r, "include_dependencies", "include_dependencies");
    for k in ["install_dir", "gem_source", "executable"] {
        if let Some(v) = t.arg_str(&[k]) {
            r.set(k, v);
        }
    }
    if let Some(u) = &t.become_user {
        r.set("user", u.clone());
    }
    ignored(
        t,
        &mut r,
        &[
            "repository",
            "source",
            "build_flags",
            "env_shebang",
            "force",
            "include_doc",
            "norc",
            "pre_release",
            "bindir",
        ],
    );
    Mapped::Resources(vec![r])
}

/// What runs ruby's tools in a shell line: an rvm loaded by `source R/scripts/rvm &&` (its
/// default ruby's wrappers: `R/wrappers/default`), a login shell, or the PATH.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Env {
    Path,
    Rvm(String),
    Login,
}

/// Splits a shell line into its ruby environment and the words of its one command.
fn unwrap_env(cmd: &str) -> Option<(Env, Vec<String>)> {
    let words: Vec<String> = super::super::task::words(cmd)
        .into_iter()
        .map(|(w, _)| w)
        .collect();
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    match w.as_slice() {
        [bash, flags @ .., inner]
            if matches!(*bash, "bash" | "/bin/bash" | "/usr/bin/bash")
                && matches!(flags, ["-lc"] | ["-l", "-c"] | ["--login", "-c"]) =>
        {
            let (env, rest) = unwrap_env(inner)?;
            (env == Env::Path).then_some((Env::Login, rest))
        }
        // `executable: /bin/bash` as the importer writes it (`/bin/bash -c '…'`)
        [bash, "-c", inner] if matches!(*bash, "bash" | "/bin/bash" | "/usr/bin/bash") => {
            unwrap_env(inner)
        }
        ["source" | ".", script, "&&", rest @ ..] => {
            let root = script.strip_suffix("/scripts/rvm")?;
            (!root.is_empty() && !rest.is_empty()).then(|| {
                (
                    Env::Rvm(root.to_string()),
                    rest.iter().map(|s| s.to_string()).collect(),
                )
            })
        }
        _ => Some((Env::Path, words.clone())),
    }
}

/// The executable of `tool` (`bundle`, `gem`) in `env`, and whether it runs in a login shell.
fn executable(env: &Env, tool: &str) -> (Option<String>, bool) {
    match env {
        Env::Path => (None, false),
        Env::Login => (None, true),
        Env::Rvm(root) => (Some(format!("{root}/wrappers/default/{tool}")), false),
    }
}

/// `bundle install [--path P] [--without G…] [--deployment] [--binstubs [D]] [--gemfile F]
/// [--local] [--clean] [--jobs N] [--retry N] [--quiet]` with a `chdir` → `bundle: CHDIR`;
/// other flags, another folder or other commands: `None` (the line stays a command).
fn bundle_install(env: &Env, words: &[String], t: &Task) -> Option<Res> {
    let dir = t
        .arg_str(&["chdir"])
        .map(|d| d.trim_end_matches('/').to_string())
        .filter(|d| abs(d))?;
    let (tool, rest) = words.split_first()?;
    let (verb, flags) = rest.split_first()?;
    if !(tool == "bundle" || tool.ends_with("/bundle")) || verb != "install" {
        return None;
    }
    let mut r = Res::new("bundle", dir);
    let mut groups: Vec<Value> = Vec::new();
    let mut it = flags.iter().peekable();
    let value = |f: &str, it: &mut std::iter::Peekable<std::slice::Iter<String>>| {
        f.split_once('=')
            .map(|(_, v)| v.to_string())
            .or_else(|| it.next_if(|n| !n.starts_with('-')).cloned())
    };
    while let Some(f) = it.next() {
        let name = f.split('=').next().unwrap_or_default();
        match name {
            "--path" => r.set("path", value(f, &mut it)?),
            "--gemfile" => r.set("gemfile", value(f, &mut it)?),
            "--binstubs" => r.set(
                "binstub_directory",
                value(f, &mut it).unwrap_or_else(|| "bin".into()),
            ),
            "--without" => {
                // an array option: the words up to the next flag, each `a:b` or `a b`
                let mut vals: Vec<String> = f
                    .split_once('=')
                    .map(|(_, v)| v.into())
                    .into_iter()
                    .collect();
                while let Some(n) = it.next_if(|n| !n.starts_with('-')) {
                    vals.push(n.clone());
                }
                for v in vals {
                    groups.extend(
                        v.split([':', ' '])
                            .filter(|g| !g.is_empty())
                            .map(|g| Value::String(g.into())),
                    );
                }
            }
            "--deployment" => r.set("deployment_mode", true),
            "--local" => r.set("local", true),
            "--clean" => r.set("clean", true),
            "--jobs" | "-j" | "--retry" => {
                value(f, &mut it)?;
                r.notes.push(format!(
                    "`{name}` not carried (how fast, not what is installed)"
                ));
            }
            "--quiet" => {}
            _ => return None,
        }
    }
    if !groups.is_empty() {
        r.set("exclude_groups", Value::Sequence(groups));
    }
    let (exe, login) = executable(env, "bundle");
    match (exe, tool.as_str()) {
        (Some(e), _) => {
            r.notes.push(format!("`source …/scripts/rvm && bundle` → `executable: {e}` (rvm's wrapper of its default ruby)"));
            r.set("executable", e);
        }
        (None, "bundle") => {}
        (None, other) => r.set("executable", other),
    }
    if login {
        r.set("login", true);
    }
    if let Some(u) = &t.become_user {
        r.set("user", u.clone());
    }
    if t.arg(&["creates"]).is_some() {
        r.notes.push(
            "`creates` not carried: `bundle:` installs when the lock or the options change".into(),
        );
    }
    Some(r)
}

/// `[EXE/]gem install NAME [-v V|--version V] [--no-document|--no-ri|--no-rdoc] [--user-install]`
/// → `gem: NAME`.
fn gem_install(env: &Env, words: &[String], t: &Task) -> Option<Res> {
    let (tool, rest) = words.split_first()?;
    let (verb, flags) = rest.split_first()?;
    if !(tool == "gem" || tool.ends_with("/gem")) || verb != "install" {
        return None;
    }
    let mut name = None;
    let mut version = None;
    let mut user_install = false;
    let mut it = flags.iter();
    while let Some(f) = it.next() {
        match f.as_str() {
            "-v" | "--version" => version = Some(it.next()?.clone()),
            "--no-document" | "--no-ri" | "--no-rdoc" | "-N" => {}
            "--user-install" => user_install = true,
            "--no-user-install" => user_install = false,
            n if !n.starts_with('-') && name.is_none() => name = Some(n.to_string()),
            _ => return None,
        }
    }
    let name = name?;
    if !name.contains("{{") && crate::resources::registry::check_value("gem", "gem", &name).is_err()
    {
        return None;
    }
    if version.as_deref().is_some_and(|v| !requirement(v)) {
        return None;
    }
    let mut r = Res::new("gem", name);
    if let Some(v) = version {
        r.set("version", v);
    }
    if user_install {
        r.set("user_install", true);
    }
    let (exe, login) = executable(env, "gem");
    if login {
        return None;
    }
    match (exe, tool.as_str()) {
        (Some(e), _) => r.set("executable", e),
        (None, "gem") => {}
        (None, other) => r.set("executable", other),
    }
    if let Some(u) = &t.become_user {
        r.set("user", u.clone());
    }
    if t.arg(&["creates"]).is_some() {
        r.notes.push(
            "`creates` not carried: `gem:` installs the gem when the probe finds it missing".into(),
        );
    }
    Some(r)
}

/// The rvm role's `ls W | if ! grep "^NAME " ; then W/gem install NAME ; fi` (install NAME
/// unless W holds it) → `gem: NAME` with `executable: W/gem`.
fn gem_if_missing(cmd: &str, t: &Task) -> Option<Res> {
    let rest = cmd.trim().strip_prefix("ls ")?;
    let (dir, rest) = rest.split_once(" | if ! grep ")?;
    let (pattern, rest) = rest.split_once(" ; then ")?;
    let name = pattern
        .trim_matches(['"', '\''])
        .strip_prefix('^')?
        .trim_end();
    let install = rest.trim_end().strip_suffix("; fi")?.trim_end();
    let expected = format!("{}/gem install {name}", dir.trim_end_matches('/'));
    if install != expected {
        return None;
    }
    let mut r = gem_install(
        &Env::Path,
        &[format!("{dir}/gem"), "install".into(), name.into()],
        t,
    )?;
    r.notes.push(format!(
        "`ls {dir} | if ! grep …; then …/gem install {name}; fi` → `gem: {name}` (the probe reads the gem folders of that ruby)"
    ));
    Some(r)
}

/// A `shell`/`command` line (as written, before its `executable` wraps it) that is a Ruby
/// install: `bundle:` or `gem:`.
pub fn idiom(cmd: &str, t: &Task) -> Option<Res> {
    if let Some(r) = gem_if_missing(cmd, t) {
        return Some(r);
    }
    if t.arg(&["removes"]).is_some() {
        return None;
    }
    let (env, words) = unwrap_env(cmd)?;
    if words
        .iter()
        .any(|w| !w.contains("{{") && w.contains(['|', ';', '&', '>', '<', '`', '$']))
    {
        return None;
    }
    let mut r = bundle_install(&env, &words, t).or_else(|| gem_install(&env, &words, t))?;
    r.comments
        .push(format!("play import: `{cmd}` → {}", r.kind()));
    Some(r)
}

/// Whether the role in `dir` is the official RVM role (rvm1-ansible, Galaxy's `rvm.ruby`):
/// its `meta/main.yml` says `author: RVM` or names it, or it has rvm1-ansible's task layout
/// (`tasks/rvm.yml` and `tasks/rubies.yml` running `{{ rvm1_rvm }}`).
pub fn is_rvm_role(dir: &std::path::Path) -> bool {
    let meta = ["main.yml", "main.yaml"]
        .iter()
        .map(|f| dir.join("meta").join(f))
        .find(|p| p.is_file());
    if let Some(n) = meta.and_then(|m| crate::import::node::read(&m).ok()) {
        if let Some(info) = n.get("galaxy_info") {
            let says = |k: &str| info.get(k).and_then(|v| v.as_string());
            if says("author").is_some_and(|a| a.trim() == "RVM")
                || says("role_name").is_some_and(|r| matches!(r.trim(), "ruby" | "rvm1-ansible"))
                    && says("author").is_some_and(|a| a.contains("RVM"))
            {
                return true;
            }
        }
    }
    let read = |f: &str| std::fs::read_to_string(dir.join("tasks").join(f)).unwrap_or_default();
    let (rvm, rubies) = (read("rvm.yml"), read("rubies.yml"));
    rvm.contains("rvm1_rvm") && rubies.contains("{{ rvm1_rvm }} install")
}

/// What of the `rvm:` at `at` (or of the `gem:`/`link:`s beside it) does what a task of the
/// RVM role did; `Err`: why it is left out (what it did is not declared state).
pub fn rvm_role_fold(t: &Task, at: &str) -> Result<String, String> {
    let text = format!(
        "{} {}",
        t.free.clone().unwrap_or_default(),
        (t.args.iter())
            .map(|(k, v)| format!("{k}={}", crate::yaml::to_string(v).trim()))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let has = |s: &str| text.contains(s);
    let check = t.module == "stat"
        || ["do true", "alias list", "list strings", " version"]
            .iter()
            .any(|c| has(c));
    let why = match t.module.as_str() {
        "file" => {
            return Ok(format!(
                "the `link:`s of the role's binaries at {at} (when the install flags lack `--user-install`)"
            ))
        }
        "get_url" => "`installer`: fetched by the user when rvm is missing, into a folder of its own",
        "set_fact" => "the keyservers' outcome: `rvm:` tries `keyservers`, then `key_urls`",
        _ if has("gem install bundler") => {
            return Ok(format!(
                "the `gem: bundler` of each ruby at {at} (when `rvm1_bundler_install`)"
            ))
        }
        _ if check && has("rvm1_delete_ruby") => {
            "a check of `remove`: the probe reads the folders of `rubies/`"
        }
        _ if check => {
            "a check of rvm's state: the probe reads it (`bin/rvm`, `VERSION`, `rubies/`, `config/alias`; no rvm run), no longer gathered"
        }
        _ if has("--recv-keys") => "`gpg_keys` and `keyservers`: the keys imported before rvm's installer runs",
        _ if has("gpg") => "`key_urls`: the keys' files imported when the keyservers failed",
        _ if has("rvm-installer") => {
            "`rvm:` installs rvm when `bin/rvm` is missing (`version`, `path`, `flags`)"
        }
        _ if has(" get ") => {
            return Err("`rvm get` every run (`rvm1_rvm_check_for_updates`) acts once and declares no state; `rvm:` runs `rvm get X.Y.Z` when `version` is a version number and `VERSION` says another".into())
        }
        _ if has("autolibs") => "`autolibs`: run once rvm is installed",
        _ if has("alias create default") => "`default`: the alias made when it differs",
        _ if has(" remove ") => "`remove`: `rvm remove` of those found",
        _ if has(" install ") => "`rubies` and `ruby_flags`: `rvm install` of each ruby missing",
        _ => "part of the role's rvm install",
    };
    Ok(format!("folded into the `rvm:` at {at}: {why}"))
}

/// The official RVM role (an `include_role` of it, or the first entry of a `roles:` one) →
/// `rvm: "{{ rvm1_user }}"` with the role's vars (its defaults are the project's vars), the
/// `gem: bundler` of each ruby (`rvm1_bundler_install`) and the `link:`s into
/// `rvm1_symlink_to` of a system-wide install (flags without `--user-install`).
pub fn map_rvm_role(_t: &Task) -> Mapped {
    let var = |v: &str| Value::String(format!("{{{{ {v} }}}}"));
    let mut r = Res::new("rvm", "{{ rvm1_user }}");
    for (key, v) in [
        ("rubies", "rvm1_rubies"),
        ("path", "rvm1_install_path"),
        ("installer", "rvm1_rvm_latest_installer"),
        ("version", "rvm1_rvm_version"),
        ("flags", "rvm1_install_flags"),
        ("ruby_flags", "rvm1_ruby_install_flags"),
        ("autolibs", "rvm1_autolib_mode"),
        ("remove", "rvm1_delete_ruby"),
        ("gpg_keys", "rvm1_gpg_keys"),
        ("keyservers", "rvm1_gpg_key_servers"),
    ] {
        r.set(key, var(v));
    }
    r.set(
        "key_urls",
        Value::Sequence(
            ["https://rvm.io/mpapis.asc", "https://rvm.io/pkuczynski.asc"]
                .map(|u| Value::String(u.into()))
                .to_vec(),
        ),
    );
    r.comments
        .push("play import: the official RVM role (rvm1-ansible) → rvm".into());
    r.notes.push("the official RVM role → one `rvm:` (its tasks folded into it, each said below), the `gem: bundler` of each ruby and the `link:`s of a system-wide install; `default` is rvm's (the last of `rvm1_rubies`, as the role's `rvm1_default_ruby_version`)".into());
    let mut gem = Res::new("gem", "bundler");
    gem.set(
        "executable",
        "{{ rvm1_install_path }}/wrappers/{{ item }}/gem",
    );
    gem.set("user", var("rvm1_user"));
    gem.set("loop", var("rvm1_rubies"));
    gem.set("when", "rvm1_bundler_install");
    gem.notes.push("each ruby's wrapper `wrappers/RUBY/gem`: rubies named as rvm names them (`ruby-2.6.6`; the role looked the full name up with `rvm list strings`)".into());
    let mut links = Vec::new();
    for (list, extra) in [
        ("rvm1_symlink_binaries", None),
        (
            "rvm1_symlink_bundler_binaries",
            Some("rvm1_bundler_install"),
        ),
    ] {
        let mut l = Res::new("link", "{{ rvm1_symlink_to }}/{{ item }}");
        l.set(
            "target",
            "{{ rvm1_install_path }}/wrappers/default/{{ item }}",
        );
        l.set("owner", var("root_user"));
        l.set("group", var("root_group"));
        l.set("loop", var(list));
        let user_install = "not '--user-install' in rvm1_install_flags";
        match extra {
            None => l.set("when", user_install),
            Some(e) => l.set("when", Value::Sequence(vec![user_install.into(), e.into()])),
        }
        links.push(l);
    }
    let mut out = vec![r, gem];
    out.extend(links);
    Mapped::Resources(out)
}
