//! Tests per kind as data: every `tests/kinds/<kind>/<case>.yaml` is one case, run offline.
//!
//! A case gives a resource entry as written in a playbook (`resource`), what the host's probe
//! printed (`probe`: its records between the `play-probe v1` header and the `end` trailer, one
//! list of fields per record, the fields joined by NUL as on the wire; `processes`:
//! supervisord's answer, for programs), and what must come of it: the planned change of that
//! resource (`plan`: action, details, file lines, known_after; `action: none` for no change;
//! `before`: entries declared ahead of it, which it may depend on),
//! the other changes (`others`, e.g. parent folders, as `+ create directory /x`) and lines the
//! apply script must contain (`script`), or an error of the entry, its render or its plan (`error`). In expected details,
//! `{project}` stands for the project's (temporary) folder. `KINDS_SHOW_SCRIPT=1` prints the
//! steps of a failing case's script.
//!
//! The entry is rendered by a real `Resolver` (a playbook and an inventory written to a temp
//! folder, no host), the probe text is parsed by `probe::parse`, the plan is made by the
//! per-kind plan functions in the order the engine's `plan_host` calls them (that function is
//! private to the engine: see `plan`), and the script is built by `apply::script_full`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use play::apply;
use play::inventory::{self, Vars};
use play::playbook;
use play::probe;
use play::resolve::Resolver;
use play::resources::deploy::{self, Work};
use play::resources::{self, tree, Change, Observed, Resource};
use play::supervisor::{ProcState, ProcessStatus};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// What the case shows.
    about: String,
    /// One resource entry, as in a playbook's `state:` list.
    resource: serde_yaml::Value,
    /// Entries declared before it in the same play (what it may depend on).
    #[serde(default)]
    before: Vec<serde_yaml::Value>,
    /// Files of the project (`files/…`, `templates/…`), by path under the playbook's folder.
    #[serde(default)]
    project: BTreeMap<String, String>,
    /// Probe records, each a list of fields (header, facts and `end` are added).
    #[serde(default)]
    probe: Vec<Vec<String>>,
    /// supervisord's processes: name → state (`RUNNING`, `STOPPED`…).
    #[serde(default)]
    processes: Option<BTreeMap<String, String>>,
    /// The declared resource's planned change.
    plan: Option<Expected>,
    /// Every other change, as `SIGN VERB KIND KEY`.
    #[serde(default)]
    others: Vec<String>,
    /// Lines the apply script must contain.
    #[serde(default)]
    script: Vec<String>,
    /// A plan error, or an error rendering the entry (located in the case's `site.yml`): text
    /// it must contain (instead of `plan`).
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    action: String,
    #[serde(default)]
    details: Vec<String>,
    /// The file lines of a sync or release (`+ a.py`).
    #[serde(default)]
    files: Vec<String>,
    known_after: Option<String>,
    /// A check (`command:` with `changed: false`): planned apart from the changes, never
    /// counted.
    #[serde(default)]
    check: bool,
}

const INVENTORY: &str = "all:\n  hosts:\n    h1: {ssh_host: 127.0.0.1}\n";

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

/// The probe's stdout for `records`.
fn probe_output(records: &[Vec<String>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut push = |fields: &[&str]| {
        for f in fields {
            out.extend_from_slice(f.as_bytes());
            out.push(0);
        }
    };
    push(&["play-probe", "v1"]);
    push(&["fact", "hostname", "h1"]);
    push(&["fact", "os_id", "debian"]);
    push(&["fact", "os_version", "12"]);
    push(&["fact", "arch", "x86_64"]);
    for r in records {
        push(&r.iter().map(String::as_str).collect::<Vec<_>>());
    }
    push(&["end"]);
    out
}

/// Renders the case's entry for host `h1` with the facts of `observed`, as the engine does
/// (then adds the parents no one declared).
fn render(dir: &Path, case: &Case, observed: &Observed) -> Result<Vec<Resource>, String> {
    let mut entries = case.before.clone();
    entries.push(case.resource.clone());
    let entry = serde_yaml::to_string(&entries).map_err(|e| e.to_string())?;
    let indented: String = entry.lines().map(|l| format!("    {l}\n")).collect();
    write(dir, "hosts.yml", INVENTORY);
    write(
        dir,
        "site.yml",
        &format!("- hosts: all\n  state:\n{indented}"),
    );
    for (rel, text) in &case.project {
        write(dir, rel, text);
    }
    let inv = inventory::load(&dir.join("hosts.yml"), &Vars::new()).map_err(|e| e.to_string())?;
    let pb = playbook::load(&dir.join("site.yml")).map_err(|e| e.to_string())?;
    let extra = Vars::new();
    let r = Resolver::new(&pb, &inv, &extra);
    let host = inv.host("h1").ok_or("no host h1")?;
    let rs = r
        .resources(host, &observed.facts)
        .map_err(|e| e.to_string())?;
    Ok(tree::with_parents(rs))
}

/// Plans like the engine's `plan_host`: paths and the deploy kinds, then programs and
/// services, then commands (which see the changes planned so far), then "known after".
/// Restarts are not planned here. Checks (`changed: false`) come apart, as in the engine.
/// Every kind is reached through `Desired`'s contract methods, as the engine does.
type Planned = (Vec<Change>, Vec<Change>, BTreeMap<usize, Work>);

fn plan(resources: &mut [Resource], observed: &Observed) -> Result<Planned, String> {
    // A program's conf file goes where this host's supervisord includes it.
    for r in resources.iter_mut() {
        if let Some(place) = r.desired.place_file(observed) {
            let (path, _) = place?;
            r.desired.set_file_place(path);
        }
    }
    let mut changes = Vec::new();
    let mut checks = Vec::new();
    let mut work = BTreeMap::new();
    for (i, r) in resources.iter().enumerate() {
        if r.desired.process().is_some() || r.desired.runs_on_change() {
            continue;
        }
        if r.desired.plan_path(observed, &[]).is_some() {
            let before: Vec<&str> = changes.iter().map(|c: &Change| c.key.as_str()).collect();
            changes
                .extend(resources::plan_after(i, r, observed, &before).map_err(|e| e.to_string())?);
        } else {
            // as the engine: the keys changing before it (a tree a venv's requirements or a
            // project's lock lies in)
            let before: Vec<String> = changes.iter().map(|c: &Change| c.key.clone()).collect();
            let before: Vec<&str> = before.iter().map(String::as_str).collect();
            let Some((c, w)) = deploy::plan(i, r, observed, &before).map_err(|e| e.to_string())?
            else {
                continue;
            };
            changes.push(c);
            work.insert(i, w);
        }
    }
    for (i, r) in resources.iter().enumerate() {
        let Some(planned) = r.desired.plan_process(observed, false) else {
            continue;
        };
        if let Some(mut c) = planned.map_err(|e| e.to_string())?.change {
            c.index = i;
            changes.push(c);
        }
    }
    for (i, r) in resources.iter().enumerate() {
        if !r.desired.runs_on_change() {
            continue;
        }
        let changed: Vec<&str> = changes
            .iter()
            .filter(|c| c.kind.watchable())
            .map(|c| c.key.as_str())
            .collect();
        if let Some((c, w)) = deploy::plan(i, r, observed, &changed).map_err(|e| e.to_string())? {
            if r.desired.is_check() {
                checks.push(c);
            } else {
                changes.push(c);
            }
            work.insert(i, w);
        }
    }
    tree::mark_after(resources, &mut changes);
    Ok((changes, checks, work))
}

fn line(c: &Change) -> String {
    format!(
        "{} {} {} {}",
        c.action.sign(),
        c.action.verb(),
        c.kind,
        c.key
    )
}

/// Runs one case; `Err` says what differs.
fn run_case(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let case: Case = serde_yaml::from_str(&text).map_err(|e| format!("bad case: {e}"))?;
    if case.about.trim().is_empty() {
        return Err("`about` is empty".into());
    }
    if case.plan.is_some() == case.error.is_some() {
        return Err("give exactly one of `plan` and `error`".into());
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut observed =
        probe::parse(&probe_output(&case.probe)).map_err(|e| format!("probe output: {e}"))?;
    if let Some(procs) = &case.processes {
        observed.processes = Some(
            procs
                .iter()
                .map(|(name, state)| ProcessStatus {
                    group: name.clone(),
                    name: name.clone(),
                    state: ProcState::parse(state),
                    pid: 0,
                    start: 0,
                    description: String::new(),
                })
                .collect(),
        );
    }
    let mut resources = match (render(dir.path(), &case, &observed), &case.error) {
        // A render error (a value the kind refuses), located in the case's playbook.
        (Err(e), Some(want)) if e.contains(want.as_str()) => return Ok(()),
        (Err(e), _) => return Err(format!("render error: {e}")),
        (Ok(rs), _) => rs,
    };
    // The case's resource: the last declared one (parents no one declared come first).
    let declared = resources
        .iter()
        .rposition(|r| !tree::is_implied(r))
        .ok_or("the entry rendered no resource")?;
    let (changes, checks, work) = match (plan(&mut resources, &observed), &case.error) {
        (Err(e), Some(want)) if e.contains(want.as_str()) => return Ok(()),
        (Err(e), _) => return Err(format!("plan error: {e}")),
        (Ok((changes, _, _)), Some(want)) => {
            let lines: Vec<String> = changes.iter().map(line).collect();
            return Err(format!("expected error `{want}`, planned {lines:?}"));
        }
        (Ok(p), None) => p,
    };
    let want = case.plan.as_ref().ok_or("no `plan`")?;
    // `{project}` in expected details: the project's folder (a temp folder).
    let project = dir.path().display().to_string();
    let want_details: Vec<String> = want
        .details
        .iter()
        .map(|d| d.replace("{project}", &project))
        .collect();
    let mine = changes.iter().chain(&checks).find(|c| c.index == declared);
    let is_check = checks.iter().any(|c| c.index == declared);
    let got_action = mine.map_or("none".to_string(), |c| {
        serde_json::to_value(c.action)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    });
    let mut problems = Vec::new();
    if got_action != want.action {
        problems.push(format!("action: {got_action}, expected {}", want.action));
    }
    if mine.is_some() && is_check != want.check {
        problems.push(format!("check: {is_check}, expected {}", want.check));
    }
    if let Some(c) = mine {
        if c.details != want_details {
            problems.push(format!(
                "details: {:?}, expected {want_details:?}",
                c.details
            ));
        }
        if c.files.lines() != want.files {
            problems.push(format!(
                "files: {:?}, expected {:?}",
                c.files.lines(),
                want.files
            ));
        }
        if c.after != want.known_after {
            problems.push(format!(
                "known_after: {:?}, expected {:?}",
                c.after, want.known_after
            ));
        }
    }
    let others: Vec<String> = changes
        .iter()
        .filter(|c| c.index != declared)
        .map(line)
        .collect();
    if others != case.others {
        problems.push(format!(
            "other changes: {others:?}, expected {:?}",
            case.others
        ));
    }
    let mut steps: Vec<(&Change, &Resource)> = changes
        .iter()
        .chain(&checks)
        .map(|c| (c, &resources[c.index]))
        .collect();
    steps.sort_by_key(|(c, _)| c.index);
    let (script, _stdin) = apply::script_full(None, &steps, &work);
    for l in &case.script {
        if !script.contains(l.as_str()) {
            problems.push(format!("script lacks `{l}`"));
            if std::env::var_os("KINDS_SHOW_SCRIPT").is_some() {
                eprintln!("{script}");
            }
        }
    }
    if !problems.is_empty() && std::env::var_os("KINDS_SHOW_SCRIPT").is_some() {
        // The steps only (not the script's shared head).
        let steps = script
            .split_once("printf 'play-apply\\0v1\\0'\n")
            .map_or(script.as_str(), |(_, b)| b);
        problems.push(format!("script steps:\n{steps}"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n  "))
    }
}

/// Every case of every kind; at least two per kind listed in `COVERED`.
#[test]
fn kinds_cases() {
    const COVERED: &[&str] = &[
        "file",
        // fetch kinds
        "download",
        "apt_source",
        "apt_upgrade",
        "venv",
        "npm",
        "composer",
        "bundle",
        "gem",
        "rvm",
        "pip",
        "unarchive",
        "directory",
        "link",
        "program",
        "command",
        "git",
        "sync",
        "package",
        "user",
        "group",
        "line",
        "block",
        "cron",
        "replace",
        "service",
        "release",
        // system settings
        "hostname",
        "timezone",
        "ufw",
        "private_key",
        "dhparam",
        "certbot",
        "certificate",
        "csr",
    ];
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kinds");
    let mut failures = Vec::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut kinds: Vec<_> = std::fs::read_dir(&root)
        .expect("tests/kinds")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    kinds.sort();
    for kind_dir in kinds {
        let kind = kind_dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        assert!(
            play::resources::registry::by_name(&kind).is_some(),
            "tests/kinds/{kind}: not a kind"
        );
        let mut cases: Vec<_> = std::fs::read_dir(&kind_dir)
            .expect("kind folder")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        cases.sort();
        for case in cases {
            *counts.entry(kind.clone()).or_default() += 1;
            if let Err(e) = run_case(&case) {
                failures.push(format!("{}:\n  {e}", case.display()));
            }
        }
    }
    for k in COVERED {
        let n = counts.get(*k).copied().unwrap_or(0);
        if n < 2 {
            failures.push(format!("tests/kinds/{k}: {n} case(s), at least 2 wanted"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The kinds that plug in through the contract alone (issue 12): named in no source file of
/// `src/` (their test modules included) but their own besides the registry
/// (`resources/registry.rs`) and the list of kinds beside `Desired` (`resources/mod.rs`).
/// Tests build resources from playbook text (`resources::example`) and ask a resource's kind
/// by its name (`example::kind("file")`).
const THROUGH_THE_CONTRACT: &[&str] = &[
    "hostname",
    "timezone",
    "ufw",
    "unarchive",
    "line",
    "block",
    "cron",
    "replace",
    "download",
    "apt_source",
    "apt_upgrade",
    "venv",
    "npm",
    "composer",
    "bundle",
    "gem",
    "rvm",
    "pip",
    "user",
    "group",
    "package",
    "service",
    "program",
    "link",
    "directory",
    "file",
    "command",
    "sync",
    "git",
    "release",
    "private_key",
    "dhparam",
    "certificate",
    "certbot",
    "csr",
];

/// Rust source without comments (`//`, `///`, `//!`): test modules count as any other code.
fn code_of(text: &str) -> String {
    text.lines()
        .map(|l| l.split_once("//").map_or(l, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n")
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("src") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// For each kind, the source files besides its own that name it: its variant of `Kind`,
/// `Desired`, `Work`, `BuilderSpec`, `OwedKind`, `FirstProbe` or `Plug`, a type named after it
/// (`ServiceSpec`, `ServiceOp`, `ServicePlan`, `SyncWork`), or its module's path (`cron::`,
/// `resources::cron` as imported or aliased). The backends name their own vocabulary
/// (`supervisor::SupervisorOp`, `systemd::UnitOp`, `OwedKind::Systemd`).
fn files_naming_kinds() -> BTreeMap<&'static str, Vec<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let texts: Vec<(String, String)> = (files.iter())
        .map(|p| {
            let rel = p.strip_prefix(&src).expect("in src").display().to_string();
            (rel, code_of(&std::fs::read_to_string(p).expect("read")))
        })
        .collect();
    let mut out = BTreeMap::new();
    for kind in play::resources::registry::ALL {
        let name = kind.as_str();
        let variant = format!("{kind:?}");
        let pattern = format!(
            r"\b(Kind|Desired|Work|BuilderSpec|OwedKind|FirstProbe|Plug)::{variant}\b|\b{variant}(Spec|Op|Plan|Work)\b|(^|[^:\w]|\b(crate|super|self|resources)::){name}::|\bresources::{name}\b"
        );
        let re = ascii_regex(&pattern);
        let own = format!("resources/{name}.rs");
        let naming: Vec<String> = (texts.iter())
            .filter(|(rel, code)| {
                if let Some(m) = re.find(code) {
                    if std::env::var("KINDS_SHOW_NAMING").is_ok() {
                        eprintln!("{rel}: {name}: `{}`", m.as_str());
                    }
                }
                *rel != own && re.is_match(code)
            })
            .map(|(rel, _)| rel.clone())
            .collect();
        out.insert(name, naming);
    }
    out
}

/// The two source files besides its own that may name a kind (issue 12: "the registry and one
/// more"): the registry's `kinds!` table and `resources/mod.rs` (its `pub mod`, and what is not
/// generated yet: `Work`'s variants, the process kinds' re-exports).
const MAY_NAME: [&str; 2] = ["resources/registry.rs", "resources/mod.rs"];

/// Issue 12: adding a kind is one new file, one registry line and its docs section. Each kind
/// of [`THROUGH_THE_CONTRACT`] is named in no source file of `src/` besides its own and
/// [`MAY_NAME`], counting every line of code (unit-test modules too; comments do not count);
/// the others are listed (not yet moved behind the contract). `KINDS_SHOW_NAMING=1` prints
/// what names a kind in each file.
#[test]
fn kinds_are_named_only_by_the_registry() {
    let naming = files_naming_kinds();
    let mut over = Vec::new();
    for (name, files) in &naming {
        let done = THROUGH_THE_CONTRACT.contains(name);
        eprintln!("{name}: {} ({})", files.len(), files.join(" "));
        let others: Vec<&str> = (files.iter())
            .map(String::as_str)
            .filter(|f| !MAY_NAME.contains(f))
            .collect();
        if done && !others.is_empty() {
            over.push(format!("{name}: {}", others.join(", ")));
        }
    }
    assert!(
        over.is_empty(),
        "kinds named in source files besides their own, the registry and resources/mod.rs \
         (test modules count: build resources with resources::example, ask a kind by its name; \
         or move the code behind resources::Spec or the registry line):\n{}",
        over.join("\n")
    );
    // The rule sees a kind where it is named: the registry names them all.
    assert!(naming
        .values()
        .all(|files| files.iter().any(|f| f == "resources/registry.rs")));
}

/// Issue 12: a new kind is one line of the registry's `kinds!` table. `Kind`, `Desired`, the
/// dispatch over `Desired`, `registry::ALL` and `registry::def` are generated from it, so no
/// source file but `resources/registry.rs` names every kind (a file naming them all repeats
/// the list).
#[test]
fn only_the_registry_lists_the_kinds() {
    let naming = files_naming_kinds();
    let mut every: Option<BTreeSet<&String>> = None;
    for files in naming.values() {
        let these: BTreeSet<&String> = files.iter().collect();
        every = Some(match every {
            None => these,
            Some(e) => e.intersection(&these).copied().collect(),
        });
    }
    let every: Vec<&String> = every.unwrap_or_default().into_iter().collect();
    assert_eq!(
        every,
        vec!["resources/registry.rs"],
        "files naming every kind: only the registry's `kinds!` table may list them"
    );
}

/// `code` without its `#[cfg(test)]` items (a test may read any key of an entry it builds).
fn without_tests(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        // Skip the item: up to the end of its first brace block.
        let Some(open) = after.find('{') else {
            rest = "";
            break;
        };
        let mut depth = 0usize;
        let mut end = after.len();
        for (i, c) in after[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The keys of exactly one kind (its registry line's), which only that kind's file reads.
fn kind_specific_keys() -> BTreeMap<&'static str, &'static str> {
    let mut of: BTreeMap<&'static str, Vec<&'static str>> = BTreeMap::new();
    for kind in play::resources::registry::ALL {
        for key in kind.def().keys {
            of.entry(key.name()).or_default().push(kind.as_str());
        }
    }
    (of.into_iter())
        .filter(|(_, kinds)| kinds.len() == 1)
        .map(|(key, kinds)| (key, kinds[0]))
        .collect()
}

/// The patterns of [`kind_specific_mentions`], compiled once (`fields`: with the entry's
/// fields): `(kind, what it finds, pattern)`.
fn mention_patterns(fields: bool) -> &'static [(&'static str, bool, regex::Regex)] {
    static WITH: std::sync::OnceLock<Vec<(&'static str, bool, regex::Regex)>> =
        std::sync::OnceLock::new();
    static WITHOUT: std::sync::OnceLock<Vec<(&'static str, bool, regex::Regex)>> =
        std::sync::OnceLock::new();
    let build = || {
        let mut out = Vec::new();
        for (key, kind) in kind_specific_keys() {
            let field = if fields {
                format!(r"\bpub {key}: Option<|")
            } else {
                String::new()
            };
            let pattern = format!(
                r#"{field}\.(get|text|has|string|string_of|list|list_of|boolean|number|number_of|id|id_of|mapping|watch_list|bool_or_text|path|fail|origin_of|file_content|render_template|read_file)\(\s*"{key}""#
            );
            out.push((kind, false, ascii_regex(&pattern)));
        }
        for kind in play::resources::registry::ALL {
            let name = kind.as_str();
            let pattern = format!(r"(^|[^:\w]|\b(crate|super|self|resources)::){name}::");
            out.push((name, true, ascii_regex(&pattern)));
        }
        out
    };
    if fields {
        WITH.get_or_init(build)
    } else {
        WITHOUT.get_or_init(build)
    }
}

/// A pattern whose `\b` are ASCII word boundaries (the source is ASCII where it names a kind
/// or a key): Unicode ones keep the regex off its fast engines (seconds per file in a test
/// build).
fn ascii_regex(pattern: &str) -> regex::Regex {
    regex::Regex::new(&pattern.replace(r"\b", r"(?-u:\b)")).expect("pattern")
}

/// What of `code` reads a kind-specific key by name (`raw.get("schedule")`,
/// `k.string("schedule")`: each with the kind it is a key of), names one as an entry's field
/// (`pub schedule: Option<…>`, with `fields`), or names a kind's module (`cron::`, with the
/// kind).
fn kind_specific_mentions(code: &str, fields: bool) -> Vec<(&'static str, String)> {
    let mut found = Vec::new();
    for (kind, module, re) in mention_patterns(fields) {
        if let Some(m) = re.find(code) {
            let text = if *module {
                format!("`{}` (the {kind} kind's module)", m.as_str().trim())
            } else {
                format!("`{}` ({kind}'s key)", m.as_str())
            };
            found.push((*kind, text));
        }
    }
    found
}

/// Issue 12: adding a kind is its file, its registry line and its docs section. An entry's
/// keys come from the registry (`KindDef::keys`), so `playbook::RawResource` has no field of a
/// kind's key and the playbook names no kind's module; no source file but the kind's own reads
/// a key of one kind by name (`Work` is generated from the table, each kind's `Spec::Work`; a
/// watch list's key comes with it from `Spec::watches`). The importer and the Ansible habits
/// translate Ansible's words into play's keys: they may name them.
#[test]
fn the_entry_and_its_work_name_no_kind() {
    let probe = "pub struct RawResource {\n    pub schedule: Option<String>,\n}\nfn f(r: &RawResource) -> bool { r.has(\"schedule\") || cron::x() }";
    assert_eq!(
        kind_specific_mentions(probe, true).len(),
        2,
        "a field and a module"
    );
    let read = "fn f(k: &Keys) { k.string(\"schedule\") }";
    assert_eq!(kind_specific_mentions(read, false).len(), 1, "a read");
    assert!(kind_specific_keys().contains_key("schedule"));
    let with_test =
        "fn a() {}\n#[cfg(test)]\nmod tests {\n    fn b() { if x { y() } }\n}\nfn c() {}";
    assert_eq!(without_tests(with_test), "fn a() {}\n\nfn c() {}");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut failures = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(&src)
            .expect("in src")
            .display()
            .to_string();
        if rel.starts_with("import/") || rel == "playbook/habits.rs" {
            continue;
        }
        let code = without_tests(&code_of(&std::fs::read_to_string(&file).expect("read")));
        let entry = rel == "playbook/mod.rs";
        for (kind, m) in kind_specific_mentions(&code, entry) {
            let own = rel == format!("resources/{kind}.rs");
            // Only the playbook's entry and the list of kinds are held to name no module:
            // resources/mod.rs declares the kinds' modules (`pub mod cron;`: rustfmt formats
            // only the modules declared in the source, not in a macro's expansion);
            // `kinds_are_named_only_by_the_registry` counts the others.
            let module = m.ends_with("module)");
            if !own && (!module || entry) {
                failures.push(format!("{rel}: {m}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
