//! `rvm: USER` — rvm (Ruby Version Manager) in a user's folder, with the rubies it builds
//! (what Ansible's official RVM role, rvm1-ansible, does).
//!
//! ```yaml
//! - rvm: deploy
//!   rubies: [ruby-2.6.6, ruby-3.1.4]   # `rvm install` of each one missing
//!   default: ruby-3.1.4               # `rvm alias create default` (default: the last of rubies)
//!   path: ~/.rvm                      # rvm's folder (default: ~USER/.rvm; `~/` is USER's home)
//!   installer: https://raw.githubusercontent.com/rvm/rvm/master/binscripts/rvm-installer
//!   version: stable                   # what the installer installs (stable, head, latest, 1.29.12)
//!   flags: --auto-dotfiles --user-install   # the installer's flags (this is the default)
//!   ruby_flags: --disable-binary      # flags of `rvm install`
//!   autolibs: 3                       # `rvm autolibs 3` once rvm is installed
//!   remove: [ruby-2.3.1]              # `rvm remove` of these when present
//!   gpg_keys: [409B6B1796C275462A1703113804BB82D39DC0E3]  # imported before the installer runs
//!   keyservers: [hkp://keyserver.ubuntu.com]               # where from, in order
//!   key_urls: [https://rvm.io/mpapis.asc]                  # then these armored keys
//! ```
//!
//! The probe runs no rvm and no ruby: it reads `PATH/bin/rvm` (there or not), the first word
//! of `PATH/VERSION`, the folder names of `PATH/rubies/` and the `default=` line of
//! `PATH/config/alias`. Probe record: `rvm \0 USER \0 PRESENT \0 VERSION \0 RUBIES \0 DEFAULT
//! \0` (`PRESENT` 1 or 0, `RUBIES` space separated).
//!
//! A ruby is named as rvm names it (`ruby-2.6.6`, `jruby-9.4.3.0`); a name starting with a digit
//! is MRI's (`2.6.6` is `ruby-2.6.6`), and a name without its patch level (`ruby-2.6`) is
//! satisfied by any installed ruby it starts (`ruby-2.6.10`), as `rvm ruby-2.6 do true` is.
//!
//! Every command runs as USER (`play_as`), never through a login shell: the installer is
//! fetched by USER into a folder of its own and run by bash, then `PATH/bin/rvm` is called
//! directly (`install`, `alias create default`, `remove`, `autolibs`, `get`).

use super::deploy::{set_args, Planned, Refused};
use super::registry::Key;
use super::{Action, Presence};
use crate::resolve::{Base, Keys, ResolveError};
use crate::transport::shell_quote;

/// The installer's URL when none is given (rvm1-ansible's `rvm1_rvm_latest_installer`).
pub const INSTALLER: &str =
    "https://raw.githubusercontent.com/rvm/rvm/master/binscripts/rvm-installer";

/// The installer's flags when none are given (rvm1-ansible's `rvm1_install_flags`).
pub const FLAGS: &str = "--auto-dotfiles --user-install";

/// One `rvm:` resource, rendered for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RvmSpec {
    pub user: String,
    pub presence: Presence,
    pub rubies: Vec<String>,
    /// The default ruby (`default:`, else the last of `rubies`; none: left as it is).
    pub default: Option<String>,
    /// rvm's folder: absolute, or `~/…` (USER's home).
    pub path: String,
    pub installer: String,
    pub version: String,
    pub flags: Vec<String>,
    pub ruby_flags: Vec<String>,
    pub autolibs: Option<String>,
    pub remove: Vec<String>,
    pub gpg_keys: Vec<String>,
    pub keyservers: Vec<String>,
    pub key_urls: Vec<String>,
}

/// A ruby as rvm names it: letters, digits, `.`, `_`, `-`, `@` (not first: `-`, `@`).
pub fn check_ruby(name: &str) -> Result<(), String> {
    let ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "ruby `{name}`: a ruby as rvm names it (`ruby-2.6.6`, `2.7`, `jruby-9.4.3.0`)"
        ))
    }
}

/// A ruby's full name: MRI's `ruby-` before a name starting with a digit.
pub fn full_name(name: &str) -> String {
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("ruby-{name}")
    } else {
        name.to_string()
    }
}

/// Whether installed ruby `have` (a folder of `rubies/`) is `want`: the same, or `want`
/// without the patch level or build that `have` adds (`ruby-2.6` is `ruby-2.6.10`).
pub fn satisfies(have: &str, want: &str) -> bool {
    let want = full_name(want);
    have == want
        || have
            .strip_prefix(want.as_str())
            .is_some_and(|rest| rest.starts_with(['.', '-', '_']))
}

/// What the installer may install: `stable`, `latest`, `master`, `head`, `latest-X[.Y]`, or a
/// version `X.Y.Z`.
fn check_version(v: &str) -> Result<(), String> {
    let number = |s: &str| {
        !s.is_empty()
            && s.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    let ok = matches!(v, "stable" | "latest" | "master" | "head")
        || v.strip_prefix("latest-").is_some_and(number)
        || number(v);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "version `{v}`: stable, latest, master, head, latest-X[.Y] or a version (1.29.12)"
        ))
    }
}

/// rvm's autolibs modes: 0-4, or their names.
fn check_autolibs(v: &str) -> Result<(), String> {
    const NAMES: &[&str] = &[
        "0",
        "1",
        "2",
        "3",
        "4",
        "disable",
        "disabled",
        "read",
        "read-only",
        "fail",
        "read-fail",
        "packages",
        "install-packages",
        "enable",
        "enabled",
    ];
    if NAMES.contains(&v) {
        Ok(())
    } else {
        Err(format!(
            "autolibs `{v}`: one of rvm's modes (0 to 4, disable, read-only, read-fail, packages, enable)"
        ))
    }
}

/// A GPG key's fingerprint or id: 8 to 40 hex digits (`0x` first allowed).
fn check_gpg_key(k: &str) -> Result<(), String> {
    let h = k.strip_prefix("0x").unwrap_or(k);
    if (8..=40).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(format!(
            "gpg key `{k}`: a fingerprint or key id (8 to 40 hexadecimal digits)"
        ))
    }
}

/// A keyserver gpg takes: `hkp://`, `hkps://` or `ldap://`.
fn check_keyserver(s: &str) -> Result<(), String> {
    let ok = ["hkp://", "hkps://", "ldap://"]
        .iter()
        .any(|p| s.strip_prefix(p).is_some_and(|r| !r.is_empty()))
        && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "keyserver `{s}`: an hkp://, hkps:// or ldap:// keyserver"
        ))
    }
}

/// What the probe saw of rvm.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// `PATH/bin/rvm` is there.
    pub present: bool,
    /// The first word of `PATH/VERSION`.
    pub version: String,
    /// The folders of `PATH/rubies/` (`default` not counted).
    pub rubies: Vec<String>,
    /// The `default=` of `PATH/config/alias`.
    pub default: String,
}

/// Reads a record's fields after the key.
pub fn parse_seen(present: &str, version: &str, rubies: &str, default: &str) -> Seen {
    Seen {
        present: present == "1",
        version: version.split_whitespace().next().unwrap_or("").to_string(),
        rubies: rubies
            .split_whitespace()
            .filter(|r| *r != "default")
            .map(str::to_string)
            .collect(),
        default: default.trim().to_string(),
    }
}

/// What apply does for an `rvm:` (in this order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RvmWork {
    /// Install rvm (keys, installer, autolibs).
    pub install: bool,
    /// `rvm get VERSION` (rvm there, another version than the one asked).
    pub get: bool,
    /// `rvm install` of these.
    pub rubies: Vec<String>,
    /// `rvm alias create default` of this one.
    pub default: Option<String>,
    /// `rvm remove` of these.
    pub remove: Vec<String>,
    /// `state: absent`: rvm's folder removed.
    pub implode: bool,
}

/// Plans rvm from what the probe saw.
pub fn plan(spec: &RvmSpec, seen: &Seen) -> Result<Option<Planned<RvmWork>>, Refused> {
    let path = &spec.path;
    if spec.presence == Presence::Absent {
        if !seen.present {
            return Ok(None);
        }
        return Ok(Some(Planned {
            action: Action::Delete,
            details: vec![format!("- rvm {} ({path})", seen.version)
                .replace("  ", " ")
                .replace(" ()", "")],
            work: RvmWork {
                implode: true,
                ..RvmWork::default()
            },
        }));
    }
    let mut work = RvmWork::default();
    let mut details = Vec::new();
    let after = if seen.present {
        ""
    } else {
        work.install = true;
        details.push(format!(
            "+ rvm {} in {path} ({})",
            spec.version, spec.installer
        ));
        " (after rvm's install)"
    };
    let pinned = spec.version.starts_with(|c: char| c.is_ascii_digit());
    if seen.present && pinned && seen.version != spec.version {
        work.get = true;
        details.push(format!("rvm {} → {}", seen.version, spec.version));
    }
    let installed = |want: &str| seen.rubies.iter().any(|h| satisfies(h, want));
    for r in &spec.rubies {
        if !installed(r) {
            work.rubies.push(r.clone());
            details.push(format!("+ {}{after}", full_name(r)));
        }
    }
    if let Some(d) = &spec.default {
        if !satisfies(&seen.default, d) {
            if seen.present && !installed(d) && !spec.rubies.contains(d) {
                return Err(Refused(format!(
                    "default `{d}`: not installed in {path} and not in `rubies`"
                )));
            }
            work.default = Some(d.clone());
            details.push(match seen.default.as_str() {
                "" => format!("default → {}", full_name(d)),
                was => format!("default {was} → {}", full_name(d)),
            });
        }
    }
    for r in &spec.remove {
        if seen.rubies.iter().any(|h| satisfies(h, r)) {
            work.remove.push(r.clone());
            details.push(format!("- {}", full_name(r)));
        }
    }
    if work == RvmWork::default() {
        return Ok(None);
    }
    let action = if work.install {
        Action::Create
    } else {
        Action::Update
    };
    Ok(Some(Planned {
        action,
        details,
        work,
    }))
}

impl RvmSpec {
    /// rvm's folder as a shell word (`~/…`: `"$play_home"/…`, set by [`Self::home_line`]).
    fn path_word(&self) -> String {
        match self.path.strip_prefix("~/") {
            Some(rest) => format!("\"$play_home\"/{}", shell_quote(rest)),
            None => shell_quote(&self.path),
        }
    }

    /// The line setting `play_home` to USER's home (a user name is `[a-z_][a-z0-9_-]*`,
    /// checked as the entry renders: safe unquoted after `~`).
    fn home_line(&self) -> String {
        format!("play_home=~{}", self.user)
    }

    /// `PATH/bin/rvm` run as USER with the arguments `set --` gave.
    fn rvm(&self, i: usize, args: &[String]) -> String {
        format!(
            "{}\n(cd / && umask 022 && play_as {} {}/bin/rvm \"$@\") </dev/null 1>&2 || play_fail {i}\n",
            set_args(args),
            shell_quote(&self.user),
            self.path_word(),
        )
    }
}

/// The script USER runs to import the GPG keys (`$1`: the fingerprints, then the keyservers
/// and key URLs to try, in order, until gpg has every key).
const GPG_SCRIPT: &str = r#"k=$1; shift
have() { for f in $k; do gpg --batch --list-keys "$f" >/dev/null 2>&1 || return 1; done; }
for s in "$@"; do
  have && exit 0
  case $s in
    hkp://*|hkps://*|ldap://*) gpg --batch --keyserver "$s" --recv-keys $k || true ;;
    *) if command -v curl >/dev/null 2>&1; then curl -fsSL --proto '=http,https,file' "$s"; else wget -q -O - "$s"; fi | gpg --batch --import || true ;;
  esac
done
have || { printf 'gpg keys %s: not imported from any of: %s\n' "$k" "$*" >&2; exit 1; }"#;

/// The script USER runs to fetch the installer into a folder of its own and run it with bash
/// (`$1`: its URL; the installer's arguments follow).
const INSTALL_SCRIPT: &str = r#"d=$(mktemp -d) || exit 1
trap 'rm -rf -- "$d"' EXIT
u=$1; shift
if command -v curl >/dev/null 2>&1; then curl -fsSL --proto '=http,https,file' -o "$d/rvm-installer" "$u"
elif command -v wget >/dev/null 2>&1; then wget -q -O "$d/rvm-installer" "$u"
else printf 'neither curl nor wget on the host\n' >&2; false; fi || exit 1
bash "$d/rvm-installer" "$@""#;

/// The apply step of one `rvm:`.
pub fn apply_fragment(i: usize, spec: &RvmSpec, work: &RvmWork) -> String {
    let u = shell_quote(&spec.user);
    let mut s = format!(
        "# rvm {user}\nprintf '\\0play-step\\0%s\\0' {i} >&2\n{home}\n",
        user = spec.user,
        home = spec.home_line(),
    );
    if work.implode {
        s.push_str(&format!(
            "(cd / && play_as {u} rm -rf -- {}) </dev/null 1>&2 || play_fail {i}\nplay_ok {i}\n",
            spec.path_word()
        ));
        return s;
    }
    if work.install {
        if !spec.gpg_keys.is_empty() {
            let mut args = vec![spec.gpg_keys.join(" ")];
            args.extend(spec.keyservers.iter().cloned());
            args.extend(spec.key_urls.iter().cloned());
            s.push_str(&format!(
                "if command -v gpg >/dev/null 2>&1; then\n{}\n(cd / && umask 077 && play_as {u} sh -c {} play-rvm-gpg \"$@\") </dev/null 1>&2 || play_fail {i}\nfi\n",
                set_args(&args),
                shell_quote(GPG_SCRIPT),
            ));
        }
        // `--path` then the folder's word (`"$play_home"/…` expands on the host), then the flags
        let flags: Vec<String> = spec.flags.iter().map(|f| shell_quote(f)).collect();
        let set = format!(
            "set -- {} {} --path {} {}",
            shell_quote(&spec.installer),
            shell_quote(&spec.version),
            spec.path_word(),
            flags.join(" "),
        );
        s.push_str(set.trim_end());
        s.push('\n');
        s.push_str(&format!(
            "(cd / && umask 022 && play_as {u} sh -c {} play-rvm-installer \"$@\") </dev/null 1>&2 || play_fail {i}\n",
            shell_quote(INSTALL_SCRIPT),
        ));
        if let Some(a) = &spec.autolibs {
            s.push_str(&spec.rvm(i, &["autolibs".into(), a.clone()]));
        }
    }
    if work.get {
        s.push_str(&spec.rvm(i, &["get".into(), spec.version.clone()]));
    }
    for r in &work.rubies {
        let mut args = vec!["install".to_string(), r.clone()];
        args.extend(spec.ruby_flags.iter().cloned());
        s.push_str(&spec.rvm(i, &args));
    }
    if let Some(d) = &work.default {
        s.push_str(&spec.rvm(
            i,
            &["alias".into(), "create".into(), "default".into(), d.clone()],
        ));
    }
    for r in &work.remove {
        s.push_str(&spec.rvm(i, &["remove".into(), r.clone()]));
    }
    s.push_str(&format!("play_ok {i}\n"));
    s
}

/// The probe fragment of one `rvm:` (see the module's record): file reads and shell builtins.
pub fn probe_fragment(spec: &RvmSpec) -> String {
    let mut s = String::from(
        r#"play_rvmp() {
  p=$1 r=0 v= rb= df=
  [ -f "$p/bin/rvm" ] && r=1
  if [ -r "$p/VERSION" ]; then IFS= read -r v < "$p/VERSION" || true; fi
  for d in "$p"/rubies/*; do
    [ -d "$d" ] && [ ! -L "$d" ] || continue
    rb="$rb ${d##*/}"
  done
  if [ -r "$p/config/alias" ]; then
    while IFS= read -r l || [ -n "$l" ]; do case $l in default=*) df=${l#default=} ;; esac; done < "$p/config/alias"
  fi
  printf '%s\0%s\0%s\0%s\0' "$r" "$v" "${rb# }" "$df"
}
"#,
    );
    s.push_str(&format!(
        "{}\nprintf 'rvm\\0%s\\0' {}\nplay_rvmp {}\n",
        spec.home_line(),
        shell_quote(&spec.user),
        spec.path_word()
    ));
    s
}

impl super::Spec for RvmSpec {
    type Work = RvmWork;
    fn add_probe(&self, p: &mut super::deploy::DeployProbe) {
        p.add_fragment(probe_fragment(self));
    }
    fn plan_work(
        &self,
        observed: &super::Observed,
        _changed: &[&str],
    ) -> Result<Option<Planned<Self::Work>>, Refused> {
        let seen = self
            .seen(observed)
            .ok_or_else(|| super::deploy::not_probed("rvm"))?;
        plan(self, &seen)
    }
    fn apply_fragment(
        &self,
        index: usize,
        work: Option<&Self::Work>,
        _last: bool,
    ) -> Option<Result<(String, Vec<u8>), String>> {
        work.map(|w| Ok((apply_fragment(index, self, w), Vec::new())))
    }
    fn shown(&self, _sensitive: bool) -> Vec<String> {
        let mut out = vec![format!(
            "rvm {} in {} from {}, flags {}",
            self.version,
            self.path,
            self.installer,
            self.flags.join(" ")
        )];
        if self.presence == Presence::Present {
            out.push(format!(
                "rubies {}; default {}",
                self.rubies.join(", "),
                self.default.as_deref().unwrap_or("(as it is)")
            ));
        }
        if !self.remove.is_empty() {
            out.push(format!("remove {}", self.remove.join(", ")));
        }
        if !self.gpg_keys.is_empty() {
            let from: Vec<&String> = self.keyservers.iter().chain(&self.key_urls).collect();
            out.push(format!(
                "gpg keys {} from {}",
                self.gpg_keys.join(" "),
                from.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out
    }
    fn depends(&self, observed: &super::Observed, out: &mut super::Prints) {
        if let Some(s) = self.seen(observed) {
            out.insert(format!("rvm {}", self.user), format!("{s:?}"));
        }
    }
    fn accounts(&self) -> Vec<(super::accounts::Account, &str)> {
        vec![(super::accounts::Account::User, self.user.as_str())]
    }
    const DEF: &'static super::registry::KindDef = &DEF;
    fn key(&self) -> &str {
        &self.user
    }
    fn has_nul(&self) -> bool {
        let mut all: Vec<&String> = vec![&self.path, &self.installer, &self.version];
        for l in [
            &self.rubies,
            &self.flags,
            &self.ruby_flags,
            &self.remove,
            &self.keyservers,
            &self.key_urls,
        ] {
            all.extend(l);
        }
        all.extend(&self.default);
        all.extend(&self.autolibs);
        all.iter().any(|s| s.contains('\0'))
    }
}

impl RvmSpec {
    fn seen(&self, observed: &super::Observed) -> Option<Seen> {
        match observed.deploy.record("rvm", &self.user)? {
            [present, version, rubies, default] => {
                Some(parse_seen(present, version, rubies, default))
            }
            _ => None,
        }
    }
}

/// The key: the user rvm belongs to.
fn check_user(name: &str) -> Result<String, String> {
    super::accounts::check_name("rvm", name).map(|_| name.to_string())
}

/// [`super::registry::KindDef::check_value`]: a literal value of a key, as the importer writes
/// it.
fn check_value(key: &str, value: &str) -> Result<(), String> {
    match key {
        "rvm" => check_user(value).map(|_| ()),
        "default" => check_ruby(value),
        "version" => check_version(value),
        "autolibs" => check_autolibs(value),
        "installer" => super::fetch::check_url(value),
        _ => Ok(()),
    }
}

/// The registry line of `rvm:` (see [`super::registry`]).
pub const DEF: super::registry::KindDef = super::registry::KindDef {
    kind: super::Kind::Rvm,
    name: "rvm",
    keys: &[
        Key::Any("rubies"),
        Key::Text("default"),
        Key::Text("path"),
        Key::Text("installer"),
        Key::Text("version"),
        Key::Any("flags"),
        Key::Any("ruby_flags"),
        Key::Any("autolibs"),
        Key::Any("remove"),
        Key::Any("gpg_keys"),
        Key::Any("keyservers"),
        Key::Any("key_urls"),
    ],
    is_path: false,
    watchable: true,
    docs_section: "`rvm: USER` — rvm and its rubies",
    plug: super::registry::Plug::Deploy,
    first_probe: super::registry::FirstProbe::Rendered,
    check_key: check_user,
    render: super::registry::Render::Fn(from_entry),
    check_value,
    records: &[super::registry::Record {
        tag: "rvm",
        fields: 5,
        per_host: false,
    }],
    check_entry: super::registry::any_entry,
};

/// A key of words: a list, or one string split at its spaces (none: empty).
fn words(k: &Keys, key: &str) -> Result<Option<Vec<String>>, ResolveError> {
    Ok(k.list(key)?.map(|l| {
        l.iter()
            .flat_map(|w| w.split_whitespace().map(str::to_string))
            .collect()
    }))
}

/// A key's one scalar value (none: `None`).
fn scalar(k: &Keys, key: &str) -> Result<Option<String>, ResolveError> {
    match k.raw().get(key) {
        None => Ok(None),
        Some(v) => Ok(k.scalar_of(key, v)?.filter(|s| !s.trim().is_empty())),
    }
}

/// The spec of an `rvm:` entry, its errors located at their keys (the registry line's
/// `render`).
pub fn from_entry(k: &Keys, b: Base) -> Result<super::Desired, ResolveError> {
    let Base { key, state, .. } = b;
    let presence = k.presence(&state)?;
    let each =
        |key: &str, check: fn(&str) -> Result<(), String>| -> Result<Vec<String>, ResolveError> {
            let l = words(k, key)?.unwrap_or_default();
            for w in &l {
                check(w).map_err(|m| k.fail(key, m))?;
            }
            Ok(l)
        };
    let rubies = each("rubies", check_ruby)?;
    let remove = each("remove", check_ruby)?;
    let gpg_keys = each("gpg_keys", check_gpg_key)?;
    let keyservers = each("keyservers", check_keyserver)?;
    let key_urls = each("key_urls", super::fetch::check_url)?;
    let default = match k.string("default")?.filter(|d| !d.trim().is_empty()) {
        Some(d) => {
            let d = d.trim().to_string();
            check_ruby(&d).map_err(|m| k.fail("default", m))?;
            if !rubies.is_empty() && !rubies.iter().any(|r| full_name(r) == full_name(&d)) {
                return Err(k.fail(
                    "default",
                    format!(
                        "default `{d}` is not one of rubies ({}): rvm's default is a ruby it has",
                        rubies.join(", ")
                    ),
                ));
            }
            Some(d)
        }
        None => rubies.last().cloned(),
    };
    if let Some(r) = remove.iter().find(|r| {
        rubies
            .iter()
            .chain(&default)
            .any(|w| full_name(w) == full_name(r))
    }) {
        return Err(k.fail(
            "remove",
            format!("remove `{r}`: also wanted (in rubies or the default)"),
        ));
    }
    let path = match k.string("path")? {
        None => "~/.rvm".to_string(),
        Some(p) => {
            let p = p.trim().trim_end_matches('/').to_string();
            if !(p.starts_with('/') || p.starts_with("~/")) || p == "/" {
                return Err(k.fail(
                    "path",
                    format!("path `{p}`: rvm's folder, absolute or under `~/` (USER's home)"),
                ));
            }
            p
        }
    };
    let installer = k.string("installer")?.unwrap_or_else(|| INSTALLER.into());
    super::fetch::check_url(&installer).map_err(|m| k.fail("installer", m))?;
    let version = (k.string("version")?)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "stable".into());
    check_version(&version).map_err(|m| k.fail("version", m))?;
    let autolibs = scalar(k, "autolibs")?;
    if let Some(a) = &autolibs {
        check_autolibs(a).map_err(|m| k.fail("autolibs", m))?;
    }
    let flags =
        words(k, "flags")?.unwrap_or_else(|| FLAGS.split(' ').map(str::to_string).collect());
    let ruby_flags = words(k, "ruby_flags")?.unwrap_or_default();
    if presence == Presence::Absent {
        if let Some(x) = ["rubies", "default", "remove", "ruby_flags"]
            .into_iter()
            .find(|x| k.raw().has(x))
        {
            return Err(k.fail(
                x,
                format!("{x} with `state: absent` (rvm's whole folder is removed)"),
            ));
        }
    }
    Ok(super::Desired::Rvm(RvmSpec {
        user: key,
        presence,
        rubies,
        default,
        path,
        installer,
        version,
        flags,
        ruby_flags,
        autolibs,
        remove,
        gpg_keys,
        keyservers,
        key_urls,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RvmSpec {
        RvmSpec {
            user: "deploy".into(),
            presence: Presence::Present,
            rubies: vec!["ruby-2.6.6".into()],
            default: Some("ruby-2.6.6".into()),
            path: "~/.rvm".into(),
            installer: INSTALLER.into(),
            version: "stable".into(),
            flags: FLAGS.split(' ').map(str::to_string).collect(),
            ruby_flags: Vec::new(),
            autolibs: Some("3".into()),
            remove: Vec::new(),
            gpg_keys: Vec::new(),
            keyservers: Vec::new(),
            key_urls: Vec::new(),
        }
    }

    fn seen(present: &str, version: &str, rubies: &str, default: &str) -> Seen {
        parse_seen(present, version, rubies, default)
    }

    #[test]
    fn the_record_is_read_as_rvm_writes_its_files() {
        assert_eq!(
            seen(
                "1",
                "1.29.12 (latest)",
                "ruby-2.6.6 default ruby-3.1.4",
                "ruby-3.1.4"
            ),
            Seen {
                present: true,
                version: "1.29.12".into(),
                rubies: vec!["ruby-2.6.6".into(), "ruby-3.1.4".into()],
                default: "ruby-3.1.4".into(),
            }
        );
        assert_eq!(seen("0", "", "", ""), Seen::default());
    }

    #[test]
    fn ruby_names_match_as_rvm_matches_them() {
        assert!(satisfies("ruby-2.6.6", "2.6.6"));
        assert!(satisfies("ruby-2.6.10", "ruby-2.6"));
        assert!(satisfies("ruby-2.6.10", "2.6"));
        assert!(!satisfies("ruby-2.6.10", "2.6.1"));
        assert!(!satisfies("ruby-2.60.1", "2.6"));
        assert!(satisfies("jruby-9.4.3.0", "jruby-9.4"));
        assert!(!satisfies("", "ruby-2.6"));
        assert!(check_ruby("ruby-2.6.6").is_ok());
        assert!(check_ruby("-x").is_err());
        assert!(check_ruby("2.6; rm").is_err());
        assert!(check_version("1.29.12").is_ok());
        assert!(check_version("latest-1.29").is_ok());
        assert!(check_version("stable; x").is_err());
        assert!(check_autolibs("3").is_ok());
        assert!(check_autolibs("9").is_err());
        assert!(check_gpg_key("409B6B1796C275462A1703113804BB82D39DC0E3").is_ok());
        assert!(check_gpg_key("xyz").is_err());
        assert!(check_keyserver("hkp://pgp.mit.edu").is_ok());
        assert!(check_keyserver("https://rvm.io/mpapis.asc").is_err());
    }

    #[test]
    fn planned_from_what_the_probe_read() {
        let s = spec();
        let p =
            |s: &RvmSpec, sn: Seen| plan(s, &sn).map(|p| p.map(|p| (p.action, p.details, p.work)));
        // converged: nothing
        assert_eq!(
            p(&s, seen("1", "1.29.12", "ruby-2.6.6", "ruby-2.6.6")),
            Ok(None)
        );
        // missing: install, then the ruby (known after) and its alias
        let (a, d, w) = p(&s, seen("0", "", "", "")).unwrap().unwrap();
        assert_eq!(a, Action::Create);
        assert_eq!(
            d,
            [
                format!("+ rvm stable in ~/.rvm ({INSTALLER})"),
                "+ ruby-2.6.6 (after rvm's install)".into(),
                "default → ruby-2.6.6".into()
            ]
        );
        assert!(w.install && w.rubies == ["ruby-2.6.6"] && w.default.is_some());
        // another default, a ruby to add and one to remove
        let mut s2 = spec();
        s2.rubies = vec!["2.6.6".into(), "ruby-3.1.4".into()];
        s2.default = Some("ruby-3.1.4".into());
        s2.remove = vec!["ruby-2.3.1".into()];
        let (a, d, w) = p(
            &s2,
            seen("1", "1.29.12", "ruby-2.6.6 ruby-2.3.1", "ruby-2.6.6"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(a, Action::Update);
        assert_eq!(
            d,
            [
                "+ ruby-3.1.4",
                "default ruby-2.6.6 → ruby-3.1.4",
                "- ruby-2.3.1"
            ]
        );
        assert_eq!(
            w,
            RvmWork {
                rubies: vec!["ruby-3.1.4".into()],
                default: Some("ruby-3.1.4".into()),
                remove: vec!["ruby-2.3.1".into()],
                ..RvmWork::default()
            }
        );
        // a pinned version: `rvm get` when another is there
        s2.version = "1.29.10".into();
        let (_, d, w) = p(
            &s2,
            seen("1", "1.29.12", "ruby-2.6.6 ruby-3.1.4", "ruby-3.1.4"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(d, ["rvm 1.29.12 → 1.29.10"]);
        assert!(w.get);
        // a default neither installed nor wanted
        let mut s3 = spec();
        s3.rubies = Vec::new();
        s3.default = Some("ruby-9".into());
        assert!(p(&s3, seen("1", "1.29.12", "ruby-2.6.6", "")).is_err());
        // absent
        let mut s4 = spec();
        s4.presence = Presence::Absent;
        assert_eq!(p(&s4, seen("0", "", "", "")), Ok(None));
        let (a, d, w) = p(&s4, seen("1", "1.29.12", "ruby-2.6.6", ""))
            .unwrap()
            .unwrap();
        assert_eq!(
            (a, d),
            (Action::Delete, vec!["- rvm 1.29.12 (~/.rvm)".to_string()])
        );
        assert!(w.implode);
    }

    #[test]
    fn commands_run_as_the_user_with_rvm_called_directly() {
        let mut s = spec();
        s.gpg_keys = vec!["409B6B1796C275462A1703113804BB82D39DC0E3".into()];
        s.key_urls = vec!["https://rvm.io/mpapis.asc".into()];
        s.ruby_flags = vec!["--disable-binary".into()];
        let w = RvmWork {
            install: true,
            rubies: vec!["ruby-2.6.6".into()],
            default: Some("ruby-2.6.6".into()),
            ..RvmWork::default()
        };
        let f = apply_fragment(3, &s, &w);
        assert!(f.contains("play_home=~deploy\n"), "{f}");
        assert!(f.contains("play_as deploy sh -c "), "{f}");
        assert!(f.contains("play-rvm-gpg \"$@\""), "{f}");
        assert!(
            f.contains("set -- https://raw.githubusercontent.com/rvm/rvm/master/binscripts/rvm-installer stable --path \"$play_home\"/.rvm --auto-dotfiles --user-install\n"),
            "{f}"
        );
        assert!(f.contains("set -- install ruby-2.6.6 --disable-binary\n(cd / && umask 022 && play_as deploy \"$play_home\"/.rvm/bin/rvm \"$@\") </dev/null 1>&2 || play_fail 3\n"), "{f}");
        assert!(
            f.contains("set -- alias create default ruby-2.6.6\n"),
            "{f}"
        );
        assert!(f.contains("set -- autolibs 3\n"), "{f}");
        assert!(!f.contains("bash -l"), "{f}");
        let p = probe_fragment(&s);
        assert!(p.contains("play_rvmp \"$play_home\"/.rvm\n"), "{p}");
        s.path = "/opt/rvm".into();
        assert!(probe_fragment(&s).contains("play_rvmp /opt/rvm\n"));
    }
}
