//! `play check [PLAYBOOK...]`: validate everything offline (no host is contacted) and report
//! every problem, each with its file, line and column.
//!
//! What is checked: the inventory (and its vars files, vault files included), every playbook
//! with its roles and vars files (YAML syntax, every key, resource shapes), and, for every host
//! a play targets, every resource rendered as `play apply` would: every templated string and
//! template, `src:` files found, paths valid, no duplicates, `restart_on`/`reload_on`
//! references, and each play's `wait_for` (its URL or command rendered, the URL parsed). Facts
//! are the documented placeholders ([`crate::resolve::stub_facts`]) unless recorded facts are
//! given (`--facts-from`, written by `play facts --save`).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;

use crate::engine;
use crate::inventory::{self, Inventory, InventoryError, Vars};
use crate::ops::facts::{self, FactsError, FactsFile};
use crate::playbook::{self, PlaybookError};
use crate::resolve::{stub_facts, ResolveError, Resolver};

/// What to check.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Playbooks; empty: every `*.yml` / `*.yaml` of `playbooks/`.
    pub playbooks: Vec<PathBuf>,
    pub inventory: PathBuf,
    pub extra_vars: Vec<String>,
    /// Facts recorded by `play facts --save`; hosts not in the file get the placeholders.
    pub facts_from: Option<PathBuf>,
    pub limit: Option<String>,
    /// Bounds of every template rendering.
    pub template_limits: crate::resolve::template::Limits,
    /// Keep each host's rendered resources for printing ([`CheckReport::shown`]).
    pub show: bool,
    /// `--tags` / `--skip-tags`: only the selected resources are rendered and counted; a tag
    /// no checked playbook has is a problem.
    pub tags: playbook::TagSelection,
}

/// One problem, located. `line`/`column` are 1-based, 0 when unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// Hosts the problem was found for (empty: not host-specific).
    pub hosts: Vec<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Without a position (a command-line option, a whole file): no `:0:0`; a line without
        // a column (a template's text that failed to write): no `:0`.
        match (self.line, self.column) {
            (0, _) => write!(f, "{}: {}", self.file, self.message)?,
            (line, 0) => write!(f, "{}:{line}: {}", self.file, self.message)?,
            (line, column) => write!(f, "{}:{line}:{column}: {}", self.file, self.message)?,
        }
        // A problem common to several hosts is said once, with their count.
        match (self.hosts.len(), first_few(&self.hosts)) {
            (0, _) => Ok(()),
            (1, (one, _)) => write!(f, " [host: {one}]"),
            (n, (some, 0)) => write!(f, " [{n} hosts: {some}]"),
            (n, (some, more)) => write!(f, " [{n} hosts: {some} and {more} more]"),
        }
    }
}

/// The first few of `items` joined by `, `, and how many more there are.
fn first_few(items: &[String]) -> (String, usize) {
    const SHOWN: usize = 5;
    let shown = items.len().min(SHOWN);
    (items[..shown].join(", "), items.len() - shown)
}

/// The outcome of a check.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    pub problems: Vec<Problem>,
    pub playbooks: usize,
    /// Distinct hosts targeted by the playbooks.
    pub hosts: usize,
    /// Resources rendered (over all hosts).
    pub resources: usize,
    /// Hosts rendered with recorded facts (the others with placeholders).
    pub recorded_facts: usize,
    pub seconds: f64,
    /// With `show`: each host's rendered resources, one text block a host and playbook.
    pub shown: Vec<String>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Why a check could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("no playbook given and none found in {}", .0.display())]
    NoPlaybooks(PathBuf),
    #[error(transparent)]
    Facts(#[from] FactsError),
}

fn problem(file: &str, pos: Option<(usize, usize)>, message: &str, host: Option<&str>) -> Problem {
    let (line, column) = pos.unwrap_or((0, 0));
    Problem {
        file: file.to_string(),
        line,
        column,
        message: message.to_string(),
        hosts: host
            .filter(|h| !h.is_empty())
            .map(|h| vec![h.to_string()])
            .unwrap_or_default(),
    }
}

fn from_yaml(e: &crate::yaml::YamlError) -> Problem {
    problem(&e.file.display().to_string(), e.position, &e.message, None)
}

fn from_playbook(e: &PlaybookError) -> Vec<Problem> {
    match e {
        PlaybookError::Yaml(y) => vec![from_yaml(y)],
        PlaybookError::Invalid { origin, message } => vec![problem(
            &origin.file,
            Some((origin.line, origin.column)),
            message,
            None,
        )],
        PlaybookError::Many(all) => all.iter().flat_map(from_playbook).collect(),
    }
}

/// Tags of `--tags`/`--skip-tags` that no checked playbook has: a problem each (Ansible says
/// nothing, and a typo then selects nothing).
fn unknown_tags(
    sel: &playbook::TagSelection,
    known: &std::collections::BTreeSet<String>,
) -> Vec<Problem> {
    let names: Vec<&str> = known.iter().map(String::as_str).collect();
    sel.unknown(known)
        .into_iter()
        .map(|t| {
            let hint = match crate::yaml::suggest(t, &names) {
                Some(s) => format!(", did you mean `{s}`?"),
                None if names.is_empty() => " (no resource has a tag)".to_string(),
                None => format!(" (tags: {})", names.join(", ")),
            };
            problem(
                "--tags",
                None,
                &format!("no resource, include, role or play has the tag `{t}`{hint}"),
                None,
            )
        })
        .collect()
}

/// A play whose `hosts:` pattern matches no host of the inventory (before `--limit`): a
/// problem at the play naming the pattern, with the nearest group or host name.
fn unmatched_pattern(play: &playbook::Play, inv: &Inventory) -> Option<Problem> {
    if !inv.select_lenient(&play.hosts).ok()?.is_empty() {
        return None;
    }
    let names: Vec<&str> = (inv.groups.keys().map(String::as_str))
        .chain(inv.hosts.iter().map(|h| h.name.as_str()))
        .collect();
    // The words of the pattern (`web:&prod`, `!db1`, `web*`) that name nothing.
    let hint = (play.hosts.split([':', ',']))
        .map(|w| w.trim().trim_start_matches(['&', '!']))
        .filter(|w| !w.is_empty() && !w.contains(['*', '?', '[', '~']) && !names.contains(w))
        .find_map(|w| crate::yaml::suggest(w, &names).map(|s| format!(" (did you mean `{s}`?)")))
        .unwrap_or_else(|| {
            let groups: Vec<&str> = inv
                .groups
                .keys()
                .map(String::as_str)
                .filter(|g| *g != "ungrouped")
                .collect();
            format!(" (the inventory's groups: {})", groups.join(", "))
        });
    Some(problem(
        &play.origin.file,
        Some((play.origin.line, play.origin.column)),
        &format!(
            "play `{}`: hosts pattern `{}` matches no host of the inventory {}{hint}",
            play.name,
            play.hosts,
            inv.source.display()
        ),
        None,
    ))
}

fn from_resolve(e: &ResolveError) -> Problem {
    problem(
        &e.origin.file,
        Some((e.origin.line, e.origin.column)),
        &e.message,
        Some(&e.host),
    )
}

fn from_inventory(e: &InventoryError, source: &Path) -> Problem {
    match e {
        InventoryError::Yaml(y) => from_yaml(y),
        InventoryError::Invalid { path, message } => {
            problem(&path.display().to_string(), None, message, None)
        }
        other => problem(
            &source.display().to_string(),
            None,
            &other.to_string(),
            None,
        ),
    }
}

/// `playbooks/*.yml` and `*.yaml`, sorted.
pub fn discover(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && matches!(
                            p.extension().and_then(|e| e.to_str()),
                            Some("yml") | Some("yaml")
                        )
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Merges problems found for several hosts at the same place with the same message; sorts by
/// file, line, column (stable).
fn merge(problems: Vec<Problem>) -> Vec<Problem> {
    let mut out: Vec<Problem> = Vec::new();
    let mut index: HashMap<(String, usize, usize, String), usize> = HashMap::new();
    for p in problems {
        let key = (p.file.clone(), p.line, p.column, p.message.clone());
        match index.get(&key) {
            Some(&i) => {
                for h in p.hosts {
                    if !out[i].hosts.contains(&h) {
                        out[i].hosts.push(h);
                    }
                }
            }
            None => {
                index.insert(key, out.len());
                out.push(p);
            }
        }
    }
    out.sort_by(|a, b| {
        (a.file.as_str(), a.line, a.column).cmp(&(b.file.as_str(), b.line, b.column))
    });
    out
}

/// The var and the problem of its value in a message saying "in var `X`: PROBLEM", without
/// where the use was (a prefix naming the key, a "(template of …, declared at …)" part).
fn broken_var(message: &str) -> Option<(String, String)> {
    static DECLARED: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let at = message.find("in var `")?;
    let rest = &message[at + "in var `".len()..];
    let end = rest.find('`')?;
    let problem = rest[end + 1..].strip_prefix(": ")?;
    let declared = DECLARED.get_or_init(|| {
        regex::Regex::new(r" \([^()]*, declared at [^()]*\)").expect("a valid pattern")
    });
    Some((
        rest[..end].to_string(),
        declared.replace_all(problem, "").into_owned(),
    ))
}

/// A var whose value is broken, used by several resources, is one problem (one cause, one
/// fix): said where the var is written when one place of the project sets it (else at its
/// first use), with the places that use it.
fn one_per_broken_var(problems: Vec<Problem>, index: &super::undefined::Index) -> Vec<Problem> {
    let mut uses: HashMap<(String, String), Vec<usize>> = HashMap::new();
    for (i, p) in problems.iter().enumerate() {
        if let Some(key) = broken_var(&p.message) {
            uses.entry(key).or_default().push(i);
        }
    }
    let mut grouped: Vec<Option<Problem>> = problems.into_iter().map(Some).collect();
    let mut keys: Vec<(String, String)> = uses.keys().cloned().collect();
    keys.sort();
    let mut out = Vec::new();
    for key in keys {
        let ix = &uses[&key];
        let mut places: Vec<(String, usize, usize)> = (ix.iter())
            .filter_map(|&i| grouped[i].as_ref())
            .map(|p| (p.file.clone(), p.line, p.column))
            .collect();
        places.sort();
        places.dedup();
        if places.len() < 2 {
            continue;
        }
        let mut hosts: Vec<String> = Vec::new();
        for &i in ix {
            for h in grouped[i].take().map(|p| p.hosts).unwrap_or_default() {
                if !hosts.contains(&h) {
                    hosts.push(h);
                }
            }
        }
        let (name, problem) = key;
        let (file, line, column) = index.defined_at(&name).unwrap_or_else(|| places[0].clone());
        let all: Vec<String> = (places.iter())
            .map(|(f, l, c)| format!("{f}:{l}:{c}"))
            .collect();
        let at = match first_few(&all) {
            (some, 0) => some,
            (some, more) => format!("{some}, {more} more"),
        };
        out.push(Problem {
            file,
            line,
            column,
            message: format!(
                "in var `{name}`: {problem} (the same at its {} uses: {})",
                places.len(),
                at
            ),
            hosts,
        });
    }
    out.extend(grouped.into_iter().flatten());
    out
}

struct Rendered {
    problems: Vec<Problem>,
    resources: usize,
    /// With `show`: the host's resources as text.
    shown: Option<String>,
}

/// A host's rendered resources as text (`play check --show`): kind, key and where each was
/// declared, a file's text content below it (sensitive content withheld).
fn show_host(
    host: &str,
    playbook: &Path,
    resources: &[crate::resources::Resource],
    gathers: &[crate::resolve::gather::Rendered],
    recorded: &std::collections::BTreeMap<String, serde_json::Value>,
) -> String {
    let mut out = format!("{host} ({}):\n", playbook.display());
    for g in gathers {
        if g.local {
            out += &format!(
                "  gather {}  # {} (read on the controller when play resolves: its real value here)\n",
                g.name, g.origin
            );
            continue;
        }
        let stand_in = if g.looped {
            "results: []"
        } else if g.stand_in.get("files").is_some() {
            "files: [], matched: 0"
        } else if g.stand_in.get("stat").is_some() {
            "stat.exists: false"
        } else {
            "stdout: \"\", rc: 0"
        };
        let offline = match recorded.contains_key(&g.name) {
            true => "recorded by `play facts --save`".to_string(),
            false => format!("a stand-in offline: {stand_in}"),
        };
        out += &format!(
            "  gather {}  # {} ({offline}; the host's value on diff and apply)\n",
            g.name, g.origin
        );
        for (item, cmd) in &g.runs {
            let item = match item {
                serde_json::Value::Null => String::new(),
                v => format!("[{v}] "),
            };
            match cmd {
                Some(c) => {
                    let mut line = format!("    {item}{}", c.command);
                    if let Some(d) = &c.chdir {
                        line += &format!("  (chdir {d})");
                    }
                    if let Some(u) = &c.user {
                        line += &format!("  (user {u})");
                    }
                    out += &line;
                    out.push('\n');
                }
                None => out += &format!("    {item}skipped (when: false)\n"),
            }
        }
    }
    for r in resources {
        let d = &r.desired;
        out += &format!("  {} {}  # {}\n", d.kind(), d.key(), r.origin);
        for line in d.shown(r.sensitive) {
            out += &format!("    {line}\n");
        }
    }
    out
}

/// What the checked playbooks have shown so far: hosts (counted once) and tags.
#[derive(Debug, Default)]
struct Seen {
    hosts: std::collections::BTreeSet<String>,
    tags: std::collections::BTreeSet<String>,
}

fn check_playbook(
    path: &Path,
    inv: Option<&Inventory>,
    extra: &Vars,
    facts: &FactsFile,
    opts: &CheckOptions,
    report: &mut CheckReport,
    seen: &mut Seen,
) -> Vec<Problem> {
    let (pb, load_problems) = playbook::load_all(path);
    let mut problems: Vec<Problem> = load_problems.iter().flat_map(from_playbook).collect();
    if let Some(pb) = &pb {
        seen.tags.extend(pb.tags());
    }
    let (Some(mut pb), Some(inv)) = (pb, inv) else {
        return problems;
    };
    problems.extend(
        crate::resolve::template_patterns(&mut pb, extra)
            .iter()
            .map(from_resolve),
    );
    problems.extend(pb.plays.iter().filter_map(|p| unmatched_pattern(p, inv)));
    let hosts = match engine::target_hosts(&pb, inv, opts.limit.as_deref()) {
        Ok(h) => h,
        Err(e) => {
            // With plays left out for problems, no host may be left: not a problem of its own.
            if problems.is_empty() {
                let p = match &e {
                    engine::RunError::Resolve(r) => from_resolve(r),
                    engine::RunError::Inventory(i) => from_inventory(i, &inv.source),
                    other => problem(&path.display().to_string(), None, &other.to_string(), None),
                };
                problems.push(p);
            }
            return problems;
        }
    };
    let resolver = Resolver::new(&pb, inv, extra)
        .with_limits(opts.template_limits)
        .with_tags(opts.tags.clone());
    let stub = stub_facts();
    let recordable = crate::resolve::gather::recorded_names(&pb);
    let rendered: Vec<Rendered> = hosts
        .par_iter()
        .map(|h| {
            let (gathers, gather_errors) = resolver.gathers_all(h);
            // Recorded facts, with the values `play facts --save` recorded of this playbook's
            // `find:`/`stat:` gathers for the host (stand-ins for the others).
            let recorded = facts.facts_of(&h.name, &recordable);
            let facts = recorded.as_ref().unwrap_or(&stub);
            let (resources, mut errors) = resolver.resources_all(h, facts);
            errors.extend(resolver.under_unknown_whens(h, facts));
            errors.extend(engine::gate::gates_all(&resolver, h, facts).1);
            errors.extend(gather_errors);
            Rendered {
                problems: errors.iter().map(from_resolve).collect(),
                resources: resources.len(),
                shown: opts
                    .show
                    .then(|| show_host(&h.name, path, &resources, &gathers, &facts.gathered)),
            }
        })
        .collect();
    for h in &hosts {
        if seen.hosts.insert(h.name.clone()) {
            report.hosts += 1;
            report.recorded_facts += usize::from(facts.hosts.contains_key(&h.name));
        }
    }
    for r in rendered {
        report.resources += r.resources;
        problems.extend(r.problems);
        report.shown.extend(r.shown);
    }
    problems
}

/// Checks the playbooks (and their roles, vars files and inventory) offline.
pub fn check(opts: &CheckOptions) -> Result<CheckReport, CheckError> {
    let start = Instant::now();
    let mut report = CheckReport::default();
    let mut problems = Vec::new();
    let facts = match &opts.facts_from {
        Some(f) => facts::load(f)?,
        None => FactsFile::default(),
    };
    let playbooks = if opts.playbooks.is_empty() {
        let dir = PathBuf::from("playbooks");
        let found = discover(&dir);
        if found.is_empty() {
            return Err(CheckError::NoPlaybooks(dir));
        }
        found
    } else {
        opts.playbooks.clone()
    };
    let extra = match inventory::parse_extra_vars(&opts.extra_vars) {
        Ok(v) => v,
        Err(e) => {
            problems.push(from_inventory(&e, Path::new("-e")));
            Vars::new()
        }
    };
    let inv = match inventory::load(&opts.inventory, &extra) {
        Ok(inv) => Some(inv),
        Err(e) => {
            problems.push(from_inventory(&e, &opts.inventory));
            None
        }
    };
    let mut seen = Seen::default();
    for pb in &playbooks {
        report.playbooks += 1;
        problems.extend(check_playbook(
            pb,
            inv.as_ref(),
            &extra,
            &facts,
            opts,
            &mut report,
            &mut seen,
        ));
    }
    problems.extend(unknown_tags(&opts.tags, &seen.tags));
    // An undefined var says where it is set instead, or that it is set nowhere.
    let index = super::undefined::Index::of_project(inv.as_ref(), &opts.inventory, &playbooks);
    for p in &mut problems {
        p.message = index.explain(&p.message, inv.as_ref());
    }
    report.problems = merge(one_per_broken_var(problems, &index));
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

/// The text report: one line per problem, then a summary line.
pub fn text(report: &CheckReport) -> String {
    let mut out = String::new();
    for block in &report.shown {
        out.push_str(block);
    }
    for p in &report.problems {
        out.push_str(&p.to_string());
        out.push('\n');
    }
    let facts = if report.recorded_facts > 0 {
        format!(
            " ({} with recorded facts, {} with placeholders)",
            report.recorded_facts,
            report.hosts.saturating_sub(report.recorded_facts)
        )
    } else {
        String::new()
    };
    out.push_str(&format!(
        "{} problem(s); checked {} playbook(s), {} host(s){facts}, {} resource(s) in {:.2}s\n",
        report.problems.len(),
        report.playbooks,
        report.hosts,
        report.resources,
        report.seconds
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_var_is_read_without_where_it_was_used() {
        assert_eq!(
            broken_var("when: in var `s`: filter f is unknown (hint)"),
            Some(("s".into(), "filter f is unknown (hint)".into()))
        );
        assert_eq!(
            broken_var(
                "in var `e`: filter u is unknown (hint) (template of file /tmp/x.env, declared \
                 at roles/w/state.yml:25:3)"
            ),
            Some(("e".into(), "filter u is unknown (hint)".into()))
        );
        assert_eq!(broken_var("command: undefined variable `x`"), None);
    }

    #[test]
    fn merges_hosts_and_sorts() {
        let p = |file: &str, line, msg: &str, host: &str| {
            problem(file, Some((line, 3)), msg, Some(host))
        };
        let merged = merge(vec![
            p("b.yml", 2, "x", "h1"),
            p("a.yml", 9, "y", "h1"),
            p("b.yml", 2, "x", "h2"),
            p("a.yml", 1, "z", ""),
            problem("--tags", None, "w", None),
        ]);
        let shown: Vec<String> = merged.iter().map(|m| m.to_string()).collect();
        assert_eq!(
            shown,
            [
                "--tags: w",
                "a.yml:1:3: z",
                "a.yml:9:3: y [host: h1]",
                "b.yml:2:3: x [2 hosts: h1, h2]"
            ]
        );
    }
}
