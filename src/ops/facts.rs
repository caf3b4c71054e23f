//! `play facts PATTERN [PLAYBOOK...] [--save FILE]`: the facts the probe gathers, per host,
//! and the values of the playbooks' `find:`/`stat:` gathers; the saved file is what `play check
//! --facts-from FILE` renders templates with.
//!
//! The file is JSON: `{"version": 1, "hosts": {"web1": {"hostname": ..., "cpus": 4, ...}},
//! "gathered": {"web1": {"old_fpm": {"files": [...], "matched": 1, ...}}}}` (`gathered` only
//! when some host has one). A command's gathered value is not recorded: its output may hold a
//! secret, and the file is often kept beside the project; a `local: true` one is read again
//! wherever play resolves.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;

use crate::inventory::{
    connection_for, ConnectionOverrides, Host, Inventory, InventoryError, Vars,
};
use crate::playbook::{self, Playbook};
use crate::probe::{self, ProbeRequest};
use crate::resolve::gather::{self as gathers, Rendered};
use crate::resolve::Resolver;
use crate::resources::Facts;
use crate::transport;

/// Version of the facts file format.
pub const FACTS_FILE_VERSION: u32 = 1;

/// What `play facts` should do.
#[derive(Debug, Clone)]
pub struct FactsRequest {
    pub pattern: String,
    pub forks: usize,
    pub overrides: ConnectionOverrides,
    /// Playbooks whose `find:`/`stat:` gathers are read too ([`playbooks`]).
    pub playbooks: Vec<Playbook>,
    /// `-e`: the vars the gathers are rendered with, as a run renders them.
    pub extra_vars: Vars,
}

/// How gathering went on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FactsOutcome {
    Gathered(Box<Facts>),
    /// Could not connect or log in (or the session died).
    Unreachable(String),
    /// Connected, but the probe failed.
    Failed(String),
}

/// One host's facts.
#[derive(Debug, Clone)]
pub struct HostFacts {
    pub host: String,
    /// Facts, with the values of the recorded gathers in `Facts::gathered`.
    pub outcome: FactsOutcome,
    pub seconds: f64,
    /// Gathers of the host that could not be rendered (not read).
    pub problems: Vec<String>,
}

/// The saved facts file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FactsFile {
    pub version: u32,
    pub hosts: BTreeMap<String, Facts>,
    /// The values of the hosts' `find:`/`stat:` gathers, by host then name (Ansible's shapes).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub gathered: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
}

impl FactsFile {
    /// The recorded facts of `host`, with its recorded values of the gathers named `names`
    /// (the gathers the checked playbook declares `find:`/`stat:` for it).
    pub fn facts_of(&self, host: &str, names: &BTreeSet<&str>) -> Option<Facts> {
        let mut f = self.hosts.get(host)?.clone();
        // Never recorded (it may hold secrets): its stand-in.
        f.env = crate::resolve::stub_env();
        if let Some(g) = self.gathered.get(host) {
            f.gathered = (g.iter())
                .filter(|(k, _)| names.contains(k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
        }
        Some(f)
    }
}

/// A facts file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    #[error("{}: cannot read facts: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("{}: cannot write facts: {message}", path.display())]
    Write { path: PathBuf, message: String },
    /// A playbook named on the command line that does not load.
    #[error("{0}")]
    Playbook(String),
}

/// The playbooks whose gathers `play facts` reads: `paths`, else every playbook of
/// `playbooks/` (when there is one). A named playbook that does not load is an error; a
/// found one is left out, said in the warnings returned.
pub fn playbooks(
    paths: &[PathBuf],
    extra_vars: &Vars,
) -> Result<(Vec<Playbook>, Vec<String>), FactsError> {
    let named = !paths.is_empty();
    let paths = match named {
        true => paths.to_vec(),
        false => super::check::discover(Path::new("playbooks")),
    };
    let (mut out, mut warnings) = (Vec::new(), Vec::new());
    for path in paths {
        let loaded = playbook::load(&path)
            .map_err(|e| e.to_string())
            .and_then(|mut pb| {
                match crate::resolve::template_patterns(&mut pb, extra_vars).first() {
                    Some(e) => Err(e.to_string()),
                    None => Ok(pb),
                }
            });
        match loaded {
            Ok(pb) => out.push(pb),
            Err(e) if named => return Err(FactsError::Playbook(e)),
            Err(e) => warnings.push(format!("{e} (its gathers are not read)")),
        }
    }
    Ok((out, warnings))
}

/// The recorded gathers of `host` (`find:`, `stat:` on the host) in the playbooks, rendered;
/// a name the first playbook gathers is not read again for the next. Their command ids are
/// made unique across playbooks. `problems`: what kept one from being read (a command
/// gather's own problem is `play check`'s to say, not this).
fn recorded_gathers(
    resolvers: &[(&Playbook, Resolver, BTreeSet<&str>)],
    host: &Host,
    problems: &mut Vec<String>,
) -> Vec<Rendered> {
    let mut out: Vec<Rendered> = Vec::new();
    for (i, (pb, resolver, names)) in resolvers.iter().enumerate() {
        if names.is_empty() {
            continue;
        }
        let (rendered, errors) = resolver.gathers_all(host);
        let unrecorded: Vec<_> = (pb.plays.iter().flat_map(gathers::of_play))
            .filter(|g| !names.contains(g.name.as_str()))
            .map(|g| &g.origin)
            .collect();
        problems.extend(
            (errors.iter())
                .filter(|e| !unrecorded.contains(&&e.origin))
                .map(|e| e.to_string()),
        );
        for mut r in rendered {
            if !names.contains(r.name.as_str()) || out.iter().any(|o| o.name == r.name) {
                continue;
            }
            for c in r.runs.iter_mut().filter_map(|(_, c)| c.as_mut()) {
                c.id = format!("p{i}{}", c.id);
            }
            out.push(r);
        }
    }
    out
}

fn gather_one(o: &crate::transport::ConnectOptions, recorded: &[Rendered]) -> FactsOutcome {
    let mut t = match transport::connect(o) {
        Ok(t) => t,
        Err(e) => return FactsOutcome::Unreachable(e.to_string()),
    };
    let all = probe::ProcessProbe {
        net: true,
        gathers: gathers::commands(recorded),
        ..Default::default()
    };
    let (cmd, stdin) = probe::command_with(&ProbeRequest::default(), &all);
    let outcome = match t.exec(&cmd, &stdin) {
        Err(e) if e.is_unreachable() => FactsOutcome::Unreachable(e.to_string()),
        Err(e) => FactsOutcome::Failed(e.to_string()),
        Ok(out) => match probe::parse(&out.stdout) {
            Ok(observed) => match gathers::values(recorded, &observed.gathered) {
                Ok(values) => {
                    let mut facts = observed.facts;
                    facts.gathered = values;
                    FactsOutcome::Gathered(Box::new(facts))
                }
                Err(e) => FactsOutcome::Failed(format!("probe output: {e}")),
            },
            Err(e) => FactsOutcome::Failed(format!(
                "probe failed (exit {}): {e} {}",
                out.status,
                out.stderr_str().trim()
            )),
        },
    };
    t.close();
    outcome
}

/// Gathers the facts of every host matching the pattern, in parallel; inventory order.
pub fn gather(inv: &Inventory, req: &FactsRequest) -> Result<Vec<HostFacts>, InventoryError> {
    let hosts = inv.select(&req.pattern)?;
    if hosts.is_empty() {
        return Err(InventoryError::Pattern {
            pattern: req.pattern.clone(),
            message: "matches no host".into(),
        });
    }
    let resolvers: Vec<(&Playbook, Resolver, BTreeSet<&str>)> = (req.playbooks.iter())
        .map(|pb| {
            let names = gathers::recorded_names(pb);
            (pb, Resolver::new(pb, inv, &req.extra_vars), names)
        })
        .collect();
    let jobs = hosts
        .iter()
        .map(|h| {
            let mut problems = Vec::new();
            let recorded = recorded_gathers(&resolvers, h, &mut problems);
            connection_for(h, &req.overrides).map(|o| (o, recorded, problems))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(super::run::pool(req.forks).install(|| {
        jobs.into_par_iter()
            .map(|(o, recorded, problems)| {
                let start = Instant::now();
                let outcome = gather_one(&o, &recorded);
                HostFacts {
                    host: o.name.clone(),
                    outcome,
                    seconds: start.elapsed().as_secs_f64(),
                    problems,
                }
            })
            .collect()
    }))
}

/// The facts file of the hosts whose facts were gathered.
pub fn to_file(results: &[HostFacts]) -> FactsFile {
    let gathered = |r: &HostFacts| match &r.outcome {
        FactsOutcome::Gathered(f) => Some((r.host.clone(), (**f).clone())),
        _ => None,
    };
    let hosts: BTreeMap<String, Facts> = results.iter().filter_map(gathered).collect();
    FactsFile {
        version: FACTS_FILE_VERSION,
        gathered: (hosts.iter())
            .filter(|(_, f)| !f.gathered.is_empty())
            .map(|(h, f)| (h.clone(), f.gathered.clone()))
            .collect(),
        hosts,
    }
}

/// Writes a facts file (pretty JSON).
pub fn save(path: &Path, file: &FactsFile) -> Result<(), FactsError> {
    let mut text = serde_json::to_string_pretty(file).map_err(|e| FactsError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    text.push('\n');
    std::fs::write(path, text).map_err(|e| FactsError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Reads a facts file written by [`save`].
pub fn load(path: &Path) -> Result<FactsFile, FactsError> {
    let err = |message: String| FactsError::Read {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let file: FactsFile = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
    if file.version != FACTS_FILE_VERSION {
        return Err(err(format!(
            "version {} not supported (this play reads version {FACTS_FILE_VERSION})",
            file.version
        )));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_round_trip_and_version() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("facts.json");
        let results = vec![
            HostFacts {
                host: "web1".into(),
                outcome: FactsOutcome::Gathered(Box::new(Facts {
                    hostname: "web1".into(),
                    os_id: "debian".into(),
                    os_version: "12".into(),
                    os_codename: "bookworm".into(),
                    arch: "aarch64".into(),
                    cpus: 8,
                    memory_mb: 16000,
                    virtualization: "kvm".into(),
                    selinux: "enforcing".into(),
                    default_ipv4: [("address".to_string(), "10.1.2.3".to_string())].into(),
                    default_ipv6: Default::default(),
                    // the environment may hold secrets: never recorded
                    env: [("DB_PASSWORD".to_string(), "s3cret-value".to_string())].into(),
                    gathered: Default::default(),
                })),
                seconds: 0.1,
                problems: Vec::new(),
            },
            HostFacts {
                host: "web2".into(),
                outcome: FactsOutcome::Unreachable("down".into()),
                seconds: 0.1,
                problems: Vec::new(),
            },
        ];
        save(&p, &to_file(&results)).expect("save");
        let back = load(&p).expect("load");
        assert_eq!(back.hosts.len(), 1);
        assert_eq!(back.hosts["web1"].cpus, 8);
        // No gathered value: no `gathered` key (the file as before).
        let text = std::fs::read_to_string(&p).expect("read");
        assert!(!text.contains("gathered"), "{text}");
        assert!(
            !text.contains("s3cret-value") && !text.contains("DB_PASSWORD"),
            "{text}"
        );
        // Gathered values travel beside the facts, by host; a check takes the ones it names.
        let mut with = results;
        if let FactsOutcome::Gathered(f) = &mut with[0].outcome {
            f.gathered = [
                ("old".to_string(), serde_json::json!({"matched": 1})),
                (
                    "other".to_string(),
                    serde_json::json!({"stat": {"exists": true}}),
                ),
            ]
            .into();
        }
        save(&p, &to_file(&with)).expect("save");
        let back = load(&p).expect("load");
        assert_eq!(back.gathered["web1"]["old"]["matched"], 1);
        assert!(!back.gathered.contains_key("web2"));
        let names = ["old", "unknown"].into_iter().collect();
        let f = back.facts_of("web1", &names).expect("web1");
        assert_eq!(f.cpus, 8);
        // a check with recorded facts sees the stand-in environment
        assert_eq!(f.env, crate::resolve::stub_env());
        assert_eq!(f.gathered.keys().collect::<Vec<_>>(), ["old"]);
        assert_eq!(back.facts_of("web2", &names), None);
        std::fs::write(&p, "{\"version\": 9, \"hosts\": {}}").expect("write");
        assert!(load(&p).unwrap_err().to_string().contains("version 9"));
    }
}
