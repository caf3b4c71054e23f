//! Playbooks: YAML into typed structs (unknown keys rejected), roles located and read.
//!
//! ```yaml
//! - name: web tier
//!   hosts: web
//!   vars: {app_port: 8000}
//!   vars_files: [../vars/web.yml]
//!   roles: [common, app]
//!   state:
//!     - file: /etc/motd
//!       content: "managed by play\n"
//! ```
//! See `docs/playbooks.md` for every key. Nothing is templated here: that is `resolve`'s job.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

mod collect;
pub mod gather;
pub mod habits;
pub mod tags;

pub use collect::load_all;
pub use gather::Gather;
pub use tags::{parse_tags, TagSelection};

use crate::resources::{registry, Kind, Origin};
use crate::yaml::{self, Value, YamlError};

/// Why a playbook could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PlaybookError {
    #[error(transparent)]
    Yaml(#[from] YamlError),
    #[error("{origin}: {message}")]
    Invalid { origin: Origin, message: String },
    /// Several problems (every one of a file is said in one run).
    #[error("{} problems:\n{}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Many(Vec<PlaybookError>),
}

/// A resource entry as written. Which kind it is comes from the key naming it (`file:`,
/// `directory:`, …: the registry's kind names); [`RawResource::check`] rejects keys foreign
/// to that kind. The keys every resource has ([`registry::COMMON_KEYS`]) are its fields; the
/// others, kind names and the kinds' keys ([`registry::KindDef::keys`]), are kept as written,
/// in the entry's order, each value checked as it loads against what its registry
/// [`registry::Key`] says (a string, or any value): read them by name ([`RawResource::text`],
/// [`RawResource::get`]). Some kind names are also keys of other kinds: beside `program:`,
/// `directory:` is the program's working folder and `command:`/`user:` its command and user;
/// beside `command:`, `user:` is the user it runs as; beside any other kind, `group:` is its
/// group.
#[derive(Debug, Clone, Default)]
pub struct RawResource {
    pub state: Option<String>,
    pub loop_: Option<Value>,
    pub loop_var: Option<String>,
    pub when: Option<Value>,
    pub sensitive: Option<bool>,
    /// What the entry is for, in words (shown in reports; Ansible's task `name:`).
    pub name: Option<String>,
    /// Tags selecting the entry with `--tags`/`--skip-tags` (a name, `a, b` or a list).
    pub tags: Option<Value>,
    /// The other keys given (a `null` value is no key), in the entry's order; a
    /// [`registry::Key::Text`] key's value is a string.
    keys: yaml::Mapping,
}

/// Every key an entry may have (serde's list of them, in "unknown field" errors).
fn entry_fields() -> &'static [&'static str] {
    static FIELDS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
        let mut v: Vec<&'static str> = registry::COMMON_KEYS.to_vec();
        for k in registry::ALL {
            for key in std::iter::once(k.def().name_key()).chain(k.def().keys.iter().copied()) {
                if !v.contains(&key.name()) {
                    v.push(key.name());
                }
            }
        }
        v
    });
    FIELDS.as_slice()
}

/// A key of an entry's mapping (a string).
struct FieldName(String);

impl<'de> serde::Deserialize<'de> for FieldName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = FieldName;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("field identifier")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FieldName, E> {
                Ok(FieldName(v.to_string()))
            }
        }
        d.deserialize_identifier(V)
    }
}

/// Reads an entry as serde's derive would read a struct of one field per key: the same
/// errors (an unknown key, a value of the wrong type, a value that is not a mapping), each
/// key's type from the registry.
struct EntryVisitor;

impl<'de> serde::de::Visitor<'de> for EntryVisitor {
    type Value = RawResource;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("struct RawResource")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<RawResource, A::Error> {
        use serde::de::Error;
        fn once<T, E: Error>(
            slot: &mut Option<T>,
            v: Option<T>,
            key: &'static str,
        ) -> Result<(), E> {
            if slot.is_some() {
                return Err(E::duplicate_field(key));
            }
            *slot = v;
            Ok(())
        }
        let mut r = RawResource::default();
        while let Some(FieldName(key)) = map.next_key()? {
            match key.as_str() {
                "state" => once(&mut r.state, map.next_value()?, "state")?,
                "loop" => once(&mut r.loop_, map.next_value()?, "loop")?,
                "loop_var" => once(&mut r.loop_var, map.next_value()?, "loop_var")?,
                "when" => once(&mut r.when, map.next_value()?, "when")?,
                "sensitive" => once(&mut r.sensitive, map.next_value()?, "sensitive")?,
                "name" => once(&mut r.name, map.next_value()?, "name")?,
                "tags" => once(&mut r.tags, map.next_value()?, "tags")?,
                other => {
                    let Some(declared) = registry::entry_key(other) else {
                        return Err(A::Error::unknown_field(other, entry_fields()));
                    };
                    if r.keys.contains_key(other) {
                        return Err(A::Error::duplicate_field(declared.name()));
                    }
                    let value = match declared {
                        registry::Key::Text(_) => {
                            map.next_value::<Option<String>>()?.map(Value::String)
                        }
                        registry::Key::Any(_) => map.next_value::<Option<Value>>()?,
                    };
                    if let Some(v) = value {
                        r.keys.insert(Value::String(key), v);
                    }
                }
            }
        }
        Ok(r)
    }
}

impl<'de> serde::Deserialize<'de> for RawResource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct("RawResource", entry_fields(), EntryVisitor)
    }
}

/// The value of a kind's key in an entry (see `RawResource::kind_field`).
enum KindField<'a> {
    Text(&'a str),
    /// Not one string (`package:` may be a list).
    Other,
}

impl RawResource {
    /// The value of `key` as written: a common key's, a kind name's, or a kind's key's.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match key {
            "loop" => self.loop_.as_ref(),
            "when" => self.when.as_ref(),
            "tags" => self.tags.as_ref(),
            _ => self.keys.get(key),
        }
    }

    /// The text of `key` as written (a [`registry::Key::Text`] key, `state`, `loop_var`,
    /// `name`); `None` when not given, or not a string.
    pub fn text(&self, key: &str) -> Option<&str> {
        match key {
            "state" => self.state.as_deref(),
            "loop_var" => self.loop_var.as_deref(),
            "name" => self.name.as_deref(),
            _ => self.keys.get(key).and_then(Value::as_str),
        }
    }

    /// Whether the entry gives `key`.
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
            || self.text(key).is_some()
            || (key == "sensitive" && self.sensitive.is_some())
    }

    /// The value of `kind`'s key when the entry has it. The one place the entry's kind keys
    /// are looked up.
    fn kind_field(&self, kind: Kind) -> Option<KindField<'_>> {
        let v = self.keys.get(kind.as_str())?;
        Some(match (kind.def().name_key(), v) {
            (registry::Key::Text(_), Value::String(s)) => KindField::Text(s),
            _ => KindField::Other,
        })
    }

    /// (kind, key expression) of the entry. A `package:` list has no single key expression:
    /// its expression is `""` (see `resolve`).
    pub fn kind(&self) -> Option<(Kind, &str)> {
        let kind = self.kind_name()?;
        match self.kind_field(kind)? {
            KindField::Text(key) => Some((kind, key)),
            KindField::Other => Some((kind, "")),
        }
    }

    /// The kinds the entry's keys name, in the registry's order. A kind's name that is also a
    /// key of another kind the entry names is that kind's key (`directory:`, `command:` and
    /// `user:` beside `program:`, `user:` beside `command:`); a name of
    /// [`registry::KEY_FIRST`] (`group:`, a key of most kinds) names a kind only where no other
    /// is named.
    fn kinds(&self) -> Vec<Kind> {
        let given: Vec<Kind> = (registry::ALL.into_iter())
            .filter(|k| self.kind_field(*k).is_some())
            .collect();
        let key_of_another =
            |k: Kind| (given.iter()).any(|o| *o != k && o.def().has_key(k.as_str()));
        let key_first = |k: Kind| registry::KEY_FIRST.contains(&k.as_str());
        let mut v: Vec<Kind> = (given.iter().copied())
            .filter(|k| !key_first(*k) && !key_of_another(*k))
            .collect();
        if v.is_empty() {
            v.extend(given.iter().copied().filter(|k| key_first(*k)));
        }
        v
    }

    /// The kind of the entry when it names exactly one.
    pub fn kind_name(&self) -> Option<Kind> {
        match self.kinds().as_slice() {
            [k] => Some(*k),
            _ => None,
        }
    }

    /// Keys present in the entry that belong to some kinds only, in the entry's order (the
    /// key naming its kind is not one of them).
    fn specific_keys(&self) -> Vec<&str> {
        let kind = self.kind_name().map(Kind::as_str);
        (self.keys.keys())
            .filter_map(Value::as_str)
            .filter(|k| Some(*k) != kind)
            .collect()
    }

    /// Checks the entry's shape: exactly one kind, only keys of that kind, no conflicting keys.
    pub fn check(&self) -> Result<(), String> {
        let kinds = self.kinds();
        let kind = match kinds.as_slice() {
            [k] => *k,
            [] => {
                return Err(format!(
                    "a resource needs one of the keys {}",
                    registry::ALL
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
            many => {
                return Err(format!(
                    "a resource has exactly one kind, found {}",
                    many.iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ))
            }
        };
        let foreign: Vec<String> = (self.specific_keys().into_iter())
            .filter(|key| !kind.def().has_key(key))
            .map(|key| format!("`{key}`"))
            .collect();
        if !foreign.is_empty() {
            return Err(habits::foreign_keys(kind, &foreign));
        }
        (kind.def().check_entry)(self)?;
        if self.loop_var.is_some() && self.loop_.is_none() {
            return Err("`loop_var` without `loop`".into());
        }
        Ok(())
    }
}

/// One resource entry with where it came from.
#[derive(Debug, Clone)]
pub struct Entry {
    pub raw: RawResource,
    pub origin: Origin,
    /// Role the entry belongs to (`None`: the play's own `state`).
    pub role: Option<String>,
    /// Positions of the entry's keys (`mode`, `when`, ...) and of their items
    /// (`restart_on.0`), for errors found later.
    pub key_positions: HashMap<String, (usize, usize)>,
    /// The `include:`s the entry was read through, outermost first (their `when` and `vars`).
    pub includes: Vec<Arc<Include>>,
    /// Its tags: its own, its includes', its role's and its play's.
    pub tags: BTreeSet<String>,
}

/// An `include:` of a state file, as the entries read through it see it.
#[derive(Debug, Clone)]
pub struct Include {
    /// The included file.
    pub file: PathBuf,
    /// Where the `include:` stands.
    pub origin: Origin,
    /// `when:` applying to every included entry, with where it stands.
    pub when: Option<(Value, Origin)>,
    /// `vars:` of the included entries (above play vars and vars files, below `-e`).
    pub vars: Vec<(String, Value)>,
    /// `loop:` (with where it stands) and its `loop_var` (`item` by default): the included
    /// entries are taken once per item, the item in that var.
    pub loop_: Option<(Value, Origin)>,
    pub loop_var: String,
}

impl Entry {
    /// The origin of one key of the entry (falls back to the entry itself).
    pub fn origin_of(&self, key: &str) -> Origin {
        match self.key_positions.get(key) {
            Some((line, column)) => Origin {
                file: self.origin.file.clone(),
                line: *line,
                column: *column,
            },
            None => self.origin.clone(),
        }
    }
}

/// A role: `roles/NAME/` with `state.yml`, `defaults.yml`, `gather.yml`, `templates/`, `files/`.
#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    pub dir: PathBuf,
    /// Lowest-precedence vars, in file order.
    pub defaults: Vec<(String, Value)>,
    pub state: Vec<Entry>,
    /// Its `gather.yml`: values read on the host in the first probe.
    pub gathers: Vec<Gather>,
}

/// One `serial:` batch size: a host count or a share of the play's hosts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BatchSize {
    Count(usize),
    Percent(f64),
}

/// Parses `serial: 2 | "25%" | [1, 5, "50%"]`.
pub fn parse_serial(v: &Value) -> Result<Vec<BatchSize>, String> {
    fn one(v: &Value) -> Result<BatchSize, String> {
        let bad = || {
            format!(
                "serial: expected a host count or a percentage like \"25%\", found {}",
                yaml::to_string(v).trim()
            )
        };
        match v {
            Value::Number(n) => match n.as_u64() {
                Some(c) if c > 0 => Ok(BatchSize::Count(c as usize)),
                _ => Err(bad()),
            },
            Value::String(s) => {
                let t = s.trim();
                if let Some(p) = t.strip_suffix('%') {
                    match p.trim().parse::<f64>() {
                        Ok(x) if x > 0.0 && x <= 100.0 => Ok(BatchSize::Percent(x)),
                        _ => Err(bad()),
                    }
                } else {
                    match t.parse::<usize>() {
                        Ok(c) if c > 0 => Ok(BatchSize::Count(c)),
                        _ => Err(bad()),
                    }
                }
            }
            _ => Err(bad()),
        }
    }
    match v {
        Value::Sequence(items) if !items.is_empty() => items.iter().map(one).collect(),
        Value::Sequence(_) => Err("serial: an empty list".into()),
        other => Ok(vec![one(other)?]),
    }
}

/// Splits `n` hosts into batches following `serial` (the last size repeats).
#[allow(clippy::single_range_in_vec_init)] // one batch of all hosts is meant
pub fn batches(n: usize, serial: &[BatchSize]) -> Vec<std::ops::Range<usize>> {
    if serial.is_empty() || n == 0 {
        return vec![0..n];
    }
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while start < n {
        let size = match serial[i.min(serial.len() - 1)] {
            BatchSize::Count(c) => c,
            BatchSize::Percent(p) => ((n as f64) * p / 100.0).floor().max(1.0) as usize,
        }
        .max(1);
        let end = (start + size).min(n);
        out.push(start..end);
        start = end;
        i += 1;
    }
    out
}

/// `wait_for:` of a play: a health check run on each of its hosts once the host converged
/// (apply only), retried until it passes or `timeout` ends (see `engine::gate`).
#[derive(Debug, Clone, PartialEq)]
pub struct WaitFor {
    pub check: WaitCheck,
    /// How long the check may take to pass (default 30 s).
    pub timeout: Duration,
    /// Pause between tries (default 1 s).
    pub interval: Duration,
    /// Where the `http:`/`command:` value stands (errors of its template).
    pub origin: Origin,
}

/// What a `wait_for:` checks; the text is a template, rendered per host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitCheck {
    /// `http: URL`: an `http://` URL answering 2xx.
    Http(String),
    /// `command: CMD`: a shell command exiting 0.
    Command(String),
}

impl WaitCheck {
    /// The key it was given by (`http`, `command`).
    pub fn key(&self) -> &'static str {
        match self {
            WaitCheck::Http(_) => "http",
            WaitCheck::Command(_) => "command",
        }
    }

    /// The template as written.
    pub fn template(&self) -> &str {
        match self {
            WaitCheck::Http(t) | WaitCheck::Command(t) => t,
        }
    }
}

/// The keys of a `wait_for:` mapping.
pub const WAIT_FOR_KEYS: &[&str] = &["http", "command", "timeout", "interval"];

/// A bad `wait_for:`: the key it is about (`None`: the mapping itself) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("wait_for: {message}")]
pub struct WaitForError {
    pub key: Option<String>,
    pub message: String,
}

/// Checks the scheme of a `wait_for` URL: only `http://` (https is not spoken).
pub fn check_http_scheme(url: &str) -> Result<(), String> {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Err(format!(
            "`{url}`: https is not supported (the check speaks plain HTTP from the host); use an \
             http:// URL, or a `command:` such as `curl -fsS {url}`"
        ));
    }
    if !lower.starts_with("http://") {
        return Err(format!("expected an http:// URL, found `{url}`"));
    }
    Ok(())
}

/// Parses `wait_for: {http: URL | command: CMD, timeout: SECS, interval: SECS}`. Its `origin`
/// is left for the caller to set.
pub fn parse_wait_for(v: &Value) -> Result<WaitFor, WaitForError> {
    let err = |key: Option<&str>, message: String| WaitForError {
        key: key.map(str::to_string),
        message,
    };
    let Value::Mapping(m) = v else {
        return Err(err(
            None,
            format!(
                "expected a mapping like {{http: URL, timeout: 30}} or {{command: CMD}}, found {}",
                yaml::to_string(v).trim()
            ),
        ));
    };
    let mut check = None;
    let mut timeout = Duration::from_secs(30);
    let mut interval = Duration::from_secs(1);
    for (k, value) in m {
        let key = match k {
            Value::String(k) => k.as_str(),
            other => {
                return Err(err(
                    None,
                    format!("unexpected key {}", yaml::to_string(other).trim()),
                ))
            }
        };
        match key {
            "http" | "command" => {
                let text = match value {
                    Value::String(s) if !s.trim().is_empty() => s.clone(),
                    other => {
                        return Err(err(
                            Some(key),
                            format!(
                                "`{key}` must be a non-empty string, found {}",
                                yaml::to_string(other).trim()
                            ),
                        ))
                    }
                };
                if check.is_some() {
                    return Err(err(
                        None,
                        "takes one of `http` and `command`, not both".into(),
                    ));
                }
                check = Some(if key == "http" {
                    // A URL starting with a template is checked once rendered.
                    if !text.trim_start().starts_with("{{") && !text.trim_start().starts_with("{%")
                    {
                        check_http_scheme(&text)
                            .map_err(|m| err(Some(key), format!("http: {m}")))?;
                    }
                    WaitCheck::Http(text)
                } else {
                    WaitCheck::Command(text)
                });
            }
            "timeout" => timeout = seconds(key, value).map_err(|m| err(Some(key), m))?,
            "interval" => interval = seconds(key, value).map_err(|m| err(Some(key), m))?,
            other => {
                let hint = match yaml::suggest(other, WAIT_FOR_KEYS) {
                    Some(s) => format!(", did you mean `{s}`?"),
                    None => format!(", expected one of: {}", WAIT_FOR_KEYS.join(", ")),
                };
                return Err(err(Some(other), format!("unknown key `{other}`{hint}")));
            }
        }
    }
    let check = check.ok_or_else(|| {
        err(
            None,
            "needs `http: URL` or `command: CMD` (what to check)".into(),
        )
    })?;
    Ok(WaitFor {
        check,
        timeout,
        interval,
        origin: Origin::default(),
    })
}

/// A number of seconds above 0 (`30`, `2.5`, `"30"`).
fn seconds(key: &str, v: &Value) -> Result<Duration, String> {
    let x = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    x.filter(|x| x.is_finite() && *x > 0.0)
        .and_then(|x| Duration::try_from_secs_f64(x).ok())
        .ok_or_else(|| {
            format!(
                "`{key}` must be a number of seconds above 0, found {}",
                yaml::to_string(v).trim()
            )
        })
}

/// Where `key` itself stands when its value starts at `value_pos` (positions are of values):
/// the last `key:` on that line before the value, else the value.
fn key_position(text: &str, key: &str, value_pos: (usize, usize)) -> (usize, usize) {
    let (line, column) = value_pos;
    let Some(l) = text.lines().nth(line.saturating_sub(1)) else {
        return value_pos;
    };
    let before: String = l.chars().take(column.saturating_sub(1)).collect();
    match before.rfind(key) {
        Some(byte) if before[byte + key.len()..].trim_start().starts_with(':') => {
            (line, before[..byte].chars().count() + 1)
        }
        _ => value_pos,
    }
}

/// The `wait_for` of the play at node path `play` (`"0"`) of `file`, checked; errors placed at
/// the key they are about (an unknown key at the key itself).
fn play_wait_for(
    file: &Path,
    text: &str,
    positions: &HashMap<String, (usize, usize)>,
    play: &str,
    v: Option<&Value>,
) -> Result<Option<WaitFor>, PlaybookError> {
    let Some(v) = v else { return Ok(None) };
    let at = |path: String| {
        let (line, column) = positions.get(&path).copied().unwrap_or((0, 0));
        Origin {
            file: display(file),
            line,
            column,
        }
    };
    match parse_wait_for(v) {
        Ok(mut w) => {
            w.origin = at(format!("{play}.wait_for.{}", w.check.key()));
            Ok(Some(w))
        }
        Err(e) => {
            let whole = format!("{play}.wait_for");
            let mut origin = at(e
                .key
                .as_ref()
                .map_or(whole.clone(), |k| format!("{whole}.{k}")));
            if let Some(k) = e.key.as_deref().filter(|k| !WAIT_FOR_KEYS.contains(k)) {
                (origin.line, origin.column) = key_position(text, k, (origin.line, origin.column));
            }
            if origin.line == 0 {
                origin = at(whole);
            }
            Err(PlaybookError::Invalid {
                origin,
                message: e.to_string(),
            })
        }
    }
}

/// One play.
#[derive(Debug, Clone)]
pub struct Play {
    /// Its `name:`, else its `hosts` pattern.
    pub name: String,
    /// Whether `name:` was given (reports show the names given).
    pub named: bool,
    pub hosts: String,
    /// `serial:` batch sizes in order (the last repeats); empty = all hosts at once.
    pub serial: Vec<BatchSize>,
    /// `max_fail_percentage:` stop after a batch whose failed share exceeds this.
    pub max_fail_percentage: Option<f64>,
    /// `wait_for:` the health gate run on each host after it converged (apply only).
    pub wait_for: Option<WaitFor>,
    pub vars: Vec<(String, Value)>,
    /// Files of vars, in order, already read (path, vars).
    pub vars_files: Vec<(PathBuf, Vec<(String, Value)>)>,
    pub roles: Vec<Role>,
    pub state: Vec<Entry>,
    /// `gather:` values read on the host in the first probe.
    pub gathers: Vec<Gather>,
    pub origin: Origin,
}

/// A loaded playbook.
#[derive(Debug, Clone)]
pub struct Playbook {
    pub path: PathBuf,
    /// Folder of the playbook (templates/ and files/ are looked up there).
    pub dir: PathBuf,
    pub plays: Vec<Play>,
    /// Every file read through `include:` (sources of a plan).
    pub included: Vec<PathBuf>,
}

impl Playbook {
    /// Every tag of its resources (inherited ones included).
    pub fn tags(&self) -> BTreeSet<String> {
        (self.plays.iter())
            .flat_map(|p| p.roles.iter().flat_map(|r| &r.state).chain(&p.state))
            .flat_map(|e| e.tags.iter().cloned())
            .collect()
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPlay {
    name: Option<String>,
    hosts: String,
    #[serde(default)]
    serial: Option<Value>,
    #[serde(default)]
    max_fail_percentage: Option<f64>,
    #[serde(default)]
    wait_for: Option<Value>,
    #[serde(default)]
    vars: Option<crate::inventory::OrderedVars>,
    #[serde(default)]
    vars_files: Vec<String>,
    /// Role names, or `{role: NAME, tags: [...]}`.
    #[serde(default)]
    roles: Vec<Value>,
    #[serde(default)]
    tags: Option<Value>,
    /// Read resource by resource before the rest of the play (see `load_all`): never here.
    #[serde(default, rename = "state")]
    _state: Option<serde::de::IgnoredAny>,
    /// Read before the rest of the play (see `load_all`): never here.
    #[serde(default, rename = "gather")]
    _gather: Option<serde::de::IgnoredAny>,
}

impl RawPlay {
    /// `serial` and `max_fail_percentage`, checked.
    pub(crate) fn batching(&self) -> Result<(Vec<BatchSize>, Option<f64>), String> {
        let serial = match &self.serial {
            None => Vec::new(),
            Some(v) => parse_serial(v)?,
        };
        if let Some(p) = self.max_fail_percentage {
            if !(0.0..=100.0).contains(&p) {
                return Err(format!(
                    "max_fail_percentage must be between 0 and 100, found {p}"
                ));
            }
        }
        Ok((serial, self.max_fail_percentage))
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

/// One resource entry at `path` (its node path in the file: `0.state.3`), checked.
fn entry(
    file: &Path,
    positions: &HashMap<String, (usize, usize)>,
    r: RawResource,
    path: &str,
    role: Option<&str>,
) -> Result<Entry, PlaybookError> {
    let (line, column) = positions.get(path).copied().unwrap_or((0, 0));
    let origin = Origin {
        file: display(file),
        line,
        column,
    };
    let key_prefix = format!("{path}.");
    // Keys and their items (`restart_on.1`), for errors found later.
    let key_positions: HashMap<String, (usize, usize)> = positions
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(&key_prefix)
                .map(|rest| (rest.to_string(), *v))
        })
        .collect();
    r.check().map_err(|message| PlaybookError::Invalid {
        origin: origin.clone(),
        message,
    })?;
    let tags = match &r.tags {
        None => BTreeSet::new(),
        Some(v) => parse_tags(v).map_err(|message| {
            let (line, column) = key_positions.get("tags").copied().unwrap_or((line, column));
            PlaybookError::Invalid {
                origin: Origin {
                    file: display(file),
                    line,
                    column,
                },
                message,
            }
        })?,
    };
    Ok(Entry {
        raw: r,
        origin,
        role: role.map(str::to_string),
        key_positions,
        includes: Vec::new(),
        tags,
    })
}

fn read(file: &Path) -> Result<String, PlaybookError> {
    std::fs::read_to_string(file)
        .map_err(|e| YamlError::new(file, None, format!("cannot read: {e}")).into())
}

/// Reads a vars file: YAML, or encrypted when named `*.vault.yml` ([`crate::vault`]).
pub fn read_vars_file(file: &Path) -> Result<Vec<(String, Value)>, PlaybookError> {
    if crate::vault::is_vault_file(file) {
        return Ok(crate::vault::load_vars(file).map_err(YamlError::from)?);
    }
    let v: crate::inventory::OrderedVars = yaml::from_str(file, &read(file)?)?;
    Ok(v.0)
}

/// Where roles are looked up: `roles/` next to the playbook, then `roles/` beside its folder.
pub fn role_search_path(playbook_dir: &Path) -> Vec<PathBuf> {
    let mut v = vec![playbook_dir.join("roles")];
    if let Some(parent) = playbook_dir.parent() {
        v.push(parent.join("roles"));
    }
    v
}

/// A role folder without `state.yml` that has Ansible's `tasks/main.yml`: an error saying what
/// to do (it would otherwise check as a role with no resources).
pub(crate) fn ansible_layout(name: &str, dir: &Path, origin: &Origin) -> Option<PlaybookError> {
    let t = ["tasks/main.yml", "tasks/main.yaml"]
        .iter()
        .map(|f| dir.join(f))
        .find(|f| f.is_file())?;
    Some(PlaybookError::Invalid {
        origin: origin.clone(),
        message: format!(
            "role `{name}` has Ansible's layout ({}) and no state.yml: run `play import ansible` \
             on the Ansible project to convert it",
            display(&t)
        ),
    })
}

/// Loads a playbook with its roles, includes and vars files: every problem of its files is
/// said (one problem as itself, several as [`PlaybookError::Many`]).
pub fn load(path: &Path) -> Result<Playbook, PlaybookError> {
    let (pb, mut problems) = load_all(path);
    match (pb, problems.len()) {
        (Some(pb), 0) => Ok(pb),
        (_, 1) => Err(problems.remove(0)),
        (None, 0) => Err(YamlError::new(path, None, "cannot load").into()),
        _ => Err(PlaybookError::Many(problems)),
    }
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)]
mod batch_tests {
    use super::*;

    #[test]
    fn serial_forms_and_batches() {
        let v = |y: &str| -> Value { serde_yaml::from_str(y).unwrap() };
        assert_eq!(parse_serial(&v("2")), Ok(vec![BatchSize::Count(2)]));
        assert_eq!(
            parse_serial(&v("'25%'")),
            Ok(vec![BatchSize::Percent(25.0)])
        );
        assert_eq!(
            parse_serial(&v("[1, 5, '50%']")),
            Ok(vec![
                BatchSize::Count(1),
                BatchSize::Count(5),
                BatchSize::Percent(50.0)
            ])
        );
        assert!(parse_serial(&v("0")).is_err());
        assert!(parse_serial(&v("'150%'")).is_err());
        assert!(parse_serial(&v("[]")).is_err());
        assert!(parse_serial(&v("abc")).is_err());

        assert_eq!(batches(6, &[BatchSize::Count(2)]), vec![0..2, 2..4, 4..6]);
        assert_eq!(batches(5, &[BatchSize::Count(2)]), vec![0..2, 2..4, 4..5]);
        assert_eq!(
            batches(10, &[BatchSize::Percent(25.0)]),
            vec![0..2, 2..4, 4..6, 6..8, 8..10]
        );
        assert_eq!(
            batches(
                10,
                &[
                    BatchSize::Count(1),
                    BatchSize::Count(3),
                    BatchSize::Percent(50.0)
                ]
            ),
            vec![0..1, 1..4, 4..9, 9..10]
        );
        assert_eq!(batches(3, &[]), vec![0..3]);
        assert_eq!(
            batches(3, &[BatchSize::Percent(1.0)]),
            vec![0..1, 1..2, 2..3],
            "at least one host per batch"
        );
    }
}

#[cfg(test)]
mod wait_for_tests {
    use super::*;

    fn v(y: &str) -> Value {
        serde_yaml::from_str(y).expect("yaml")
    }

    #[test]
    fn forms_and_defaults() {
        let w = parse_wait_for(&v("{http: 'http://{{ bind }}:8000/health'}")).expect("http");
        assert_eq!(
            w.check,
            WaitCheck::Http("http://{{ bind }}:8000/health".into())
        );
        assert_eq!(w.timeout, Duration::from_secs(30));
        assert_eq!(w.interval, Duration::from_secs(1));
        let w = parse_wait_for(&v(
            "{command: 'test -e /run/ok', timeout: 5, interval: 0.5}",
        ))
        .expect("command");
        assert_eq!(w.check, WaitCheck::Command("test -e /run/ok".into()));
        assert_eq!(w.check.key(), "command");
        assert_eq!(w.timeout, Duration::from_secs(5));
        assert_eq!(w.interval, Duration::from_millis(500));
        let w = parse_wait_for(&v("{http: 'http://10.0.0.1/', timeout: '12'}")).expect("quoted");
        assert_eq!(w.timeout, Duration::from_secs(12));
        // A URL that starts with a template is checked once rendered.
        assert!(parse_wait_for(&v("{http: '{{ health_url }}'}")).is_ok());
    }

    #[test]
    fn errors_name_their_key() {
        let e = |y: &str| parse_wait_for(&v(y)).expect_err(y);
        let both = e("{http: 'http://a/', command: 'true'}");
        assert_eq!(both.key, None);
        assert!(both.to_string().contains("not both"), "{both}");
        let neither = e("{timeout: 3}");
        assert_eq!(neither.key, None);
        assert!(neither.message.contains("needs `http: URL`"), "{neither}");
        let https = e("{http: 'https://a/health'}");
        assert_eq!(https.key.as_deref(), Some("http"));
        assert!(https.message.contains("https is not supported"), "{https}");
        let ftp = e("{http: 'ftp://a/'}");
        assert!(ftp.message.contains("expected an http:// URL"), "{ftp}");
        let unknown = e("{htp: 'http://a/'}");
        assert_eq!(unknown.key.as_deref(), Some("htp"));
        assert_eq!(
            unknown.to_string(),
            "wait_for: unknown key `htp`, did you mean `http`?"
        );
        for bad in ["0", "-1", "abc", "[1]", ".nan", "1e300"] {
            let t = e(&format!("{{command: 'true', timeout: {bad}}}"));
            assert_eq!(t.key.as_deref(), Some("timeout"), "{bad}");
            assert!(t.message.contains("number of seconds above 0"), "{t}");
        }
        assert_eq!(
            e("{command: 'true', interval: 0}").key.as_deref(),
            Some("interval")
        );
        assert_eq!(e("{command: ''}").key.as_deref(), Some("command"));
        assert_eq!(e("{command: [a]}").key.as_deref(), Some("command"));
        assert_eq!(e("http://a/").key, None, "not a mapping");
    }

    #[test]
    fn loaded_and_located() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("site.yml");
        let load_err = |text: &str| {
            std::fs::write(&p, text).expect("write");
            let e = load(&p).expect_err(text).to_string();
            let (_, all) = load_all(&p);
            let all: Vec<String> = all.iter().map(|e| e.to_string()).collect();
            assert_eq!(all, std::slice::from_ref(&e), "load and load_all agree");
            e.rsplit_once("site.yml:")
                .map(|(_, r)| r.to_string())
                .unwrap_or(e)
        };
        std::fs::write(
            &p,
            "- hosts: web\n  wait_for:\n    http: http://{{ bind }}:8000/health\n    timeout: 5\n",
        )
        .expect("write");
        let pb = load(&p).expect("load");
        let w = pb.plays[0].wait_for.as_ref().expect("wait_for");
        assert_eq!(w.timeout, Duration::from_secs(5));
        assert_eq!((w.origin.line, w.origin.column), (3, 11));
        assert!(pb.plays[0].wait_for.is_some());
        let (all, problems) = load_all(&p);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(all.expect("loaded").plays[0].wait_for.as_ref(), Some(w));

        assert_eq!(
            load_err("- hosts: web\n  wait_for: {htp: 'http://a/'}\n"),
            "2:14: wait_for: unknown key `htp`, did you mean `http`?"
        );
        assert_eq!(
            load_err("- hosts: web\n  wait_for:\n    command: 'true'\n    timeout: soon\n"),
            "4:14: wait_for: `timeout` must be a number of seconds above 0, found soon"
        );
        assert!(
            load_err("- hosts: web\n  wait_for:\n    http: https://a/\n")
                .starts_with("3:11: wait_for: http: `https://a/`: https is not supported")
        );
        assert!(
            load_err("- hosts: web\n  wait_for:\n    http: http://a/\n    command: 'true'\n")
                .starts_with("3:5: wait_for: takes one of `http` and `command`, not both")
        );
        assert!(load_err("- hosts: web\n  wait_for: {timeout: 3}\n")
            .starts_with("2:14: wait_for: needs `http: URL` or `command: CMD`"));
    }
}

#[cfg(test)]
mod kind_tests {
    use super::*;

    /// The kind precedence as it was written by hand before it came from the registry's keys.
    fn by_hand(r: &RawResource) -> Vec<Kind> {
        let prog = r.has("program");
        let named = |k: Kind| match k.as_str() {
            "program" => prog,
            "directory" => r.has("directory") && !prog,
            "command" => r.has("command") && !prog && !r.has("cron"),
            "user" => {
                r.has("user") && !prog && !r.has("command") && !r.has("cron") && !r.has("venv")
            }
            "group" => false,
            "file" => r.has("file"),
            "package" => r.has("package"),
            "cron" => r.has("cron"),
            "venv" => r.has("venv"),
            _ => false,
        };
        let mut v: Vec<Kind> = registry::ALL.into_iter().filter(|k| named(*k)).collect();
        if v.is_empty() && r.has("group") {
            v.extend(registry::by_name("group"));
        }
        v
    }

    /// Every combination of the kind names that are also keys of other kinds, with and without
    /// kinds that have them as keys: the registry-driven precedence is the hand-written one.
    #[test]
    fn kinds_follow_the_registry_keys_as_before() {
        let names = [
            "program",
            "directory",
            "command",
            "user",
            "group",
            "cron",
            "venv",
            "file",
            "package",
        ];
        for mask in 0u32..(1 << names.len()) {
            let yaml: String = (names.iter().enumerate())
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, n)| format!("{n}: x\n"))
                .collect();
            let raw: RawResource = serde_yaml::from_str(if yaml.is_empty() { "{}" } else { &yaml })
                .expect("a resource");
            assert_eq!(raw.kinds(), by_hand(&raw), "for:\n{yaml}");
        }
    }
}

#[cfg(test)]
mod entry_tests {
    use super::*;

    /// The entry `y` read as the loader reads it (from its parsed value).
    fn raw(y: &str) -> Result<RawResource, String> {
        let v: Value = serde_yaml::from_str(y).map_err(|e| e.to_string())?;
        serde_yaml::from_value(v).map_err(|e| e.to_string())
    }

    /// An entry's keys are read by name, typed as their registry lines say, in the entry's
    /// order; a value of the wrong type, a key that is no string, an unknown key and an entry
    /// that is no mapping are the errors serde gave when each key was a field.
    #[test]
    fn keys_are_read_as_the_registry_types_them() {
        let r =
            raw("{cron: c, schedule: '* * * * *', environment: {A: b}, user: ~, state: absent}")
                .expect("an entry");
        assert_eq!(r.text("schedule"), Some("* * * * *"));
        assert!(matches!(r.get("environment"), Some(Value::Mapping(_))));
        assert_eq!(r.text("environment"), None, "not text");
        assert!(!r.has("user"), "a null value is no key");
        assert_eq!(r.text("state"), Some("absent"));
        assert_eq!(r.specific_keys(), ["schedule", "environment"]);
        assert_eq!(
            r.kind().map(|(k, key)| (k.as_str(), key)),
            Some(("cron", "c"))
        );
        let list = raw("{package: [a, b], update_cache: true}").expect("a list of names");
        assert_eq!(
            list.kind().map(|(k, key)| (k.as_str(), key)),
            Some(("package", ""))
        );
        let tagged = raw("{file: /a, content: !!binary aGk=}").expect("a tagged string");
        assert_eq!(tagged.text("content"), Some("aGk="));
        let err = |y: &str| raw(y).expect_err(y);
        for (y, message) in [
            (
                "{cron: c, schedule: 5}",
                "invalid type: integer `5`, expected a string",
            ),
            ("{file: [a]}", "invalid type: sequence, expected a string"),
            (
                "{file: /a, sensitive: maybe}",
                "invalid type: string \"maybe\", expected a boolean",
            ),
            ("[1]", "invalid type: sequence, expected struct RawResource"),
            (
                "{file: /a, 1: x}",
                "invalid type: integer `1`, expected field identifier",
            ),
            (
                "{file: /a, zz: 1}",
                "unknown field `zz`, expected one of `state`, `loop`",
            ),
        ] {
            assert!(err(y).starts_with(message), "{y}: {}", err(y));
        }
        for key in registry::COMMON_KEYS {
            assert!(
                raw(&format!("{{file: /a, {key}: ~}}")).is_ok(),
                "{key} is a field"
            );
        }
        let twice = serde_yaml::from_str::<RawResource>("{file: /a, file: /b}");
        assert!(twice.is_err_and(|e| e.to_string().contains("duplicate field `file`")));
    }
}
