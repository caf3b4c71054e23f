//! `play import ansible SRC --out DIR`: an Ansible project (playbooks, roles, inventory,
//! group_vars/host_vars) written as a play project, with IMPORT.md accounting for every task.
//!
//! One module per concern: [`project`] reads the Ansible layout and flattens task lists,
//! [`task`] normalizes one task, [`inventory`] reads INI/YAML inventories, [`modules`] maps
//! modules to play kinds, [`when`] turns conditions on registered results into guards,
//! [`template`] rewrites Jinja where minijinja differs, [`convert`] builds the resources
//! ([`merge`] decides what two declarations of one path become),
//! [`write`] and [`report`] write the YAML and IMPORT.md.

pub mod convert;
pub mod found;
pub mod inventory;
pub mod merge;
pub mod modules;
pub mod node;
pub mod project;
pub mod readonly;
pub mod report;
pub mod supervisor;
pub mod task;
pub mod template;
pub mod when;
pub mod write;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use convert::Conversion;
use node::Node;
use project::{Entry, Inlined, Reader};
use template::Notes;

use crate::yaml::Value;

/// Why an import could not be done.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{}:{line}:{column}: {message}", file.display())]
    Yaml {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}:{line}:{column}: {message}", file.display())]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error("{}: not a folder", .0.display())]
    NotADir(PathBuf),
    #[error("{}: no playbook found (a YAML list of plays with `hosts:`) and the folder is not a role", .0.display())]
    NoPlaybooks(PathBuf),
    #[error("{}: the output folder is not empty (--force writes into it)", .0.display())]
    OutNotEmpty(PathBuf),
}

pub(crate) fn io(path: &Path) -> impl Fn(std::io::Error) -> ImportError + '_ {
    move |e| ImportError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// What to import.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub src: PathBuf,
    pub out: PathBuf,
    /// Write into a folder that is not empty.
    pub force: bool,
    /// The inventory to import (default: ansible.cfg's, else the first found).
    pub inventory: Option<PathBuf>,
}

/// The figures of an import.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub source: PathBuf,
    pub out: PathBuf,
    /// Source task entries (includes counted, handlers not).
    pub tasks: usize,
    pub carried: usize,
    pub left_out: usize,
    pub handlers: usize,
    pub resources: usize,
    pub native: usize,
    pub commands: usize,
    /// Playbooks written, relative to the output folder.
    pub playbooks: Vec<PathBuf>,
    pub vault_files: Vec<PathBuf>,
    /// The inventory imported (relative to the source), if any.
    pub inventory: Option<PathBuf>,
}

/// A play as written.
pub(crate) struct PlayOut {
    pub name: Option<String>,
    pub hosts: String,
    pub vars_files: Vec<String>,
    pub roles: Vec<String>,
    /// `tags:` of each role of `roles` (a dependency gets those of the role needing it).
    pub role_tags: Vec<Vec<String>>,
    /// `when:` of each role of `roles` (a dependency gets that of the role needing it, as in
    /// Ansible).
    pub role_when: Vec<Vec<String>>,
    /// `vars:` (and old-style params) of each role of `roles` (its dependencies get them too).
    pub role_vars: Vec<Vec<(String, Value)>>,
    /// The play's `tags:`.
    pub tags: Vec<String>,
    pub container: usize,
    pub serial: Option<Value>,
    pub max_fail: Option<Value>,
}

/// A playbook as written: its output file, its source and its plays.
pub(crate) struct PlaybookOut {
    pub file: PathBuf,
    pub source: PathBuf,
    pub plays: Vec<PlayOut>,
}

/// Paths declared as folders by `file: state=directory` anywhere in the project, the files
/// its `lineinfile`/`replace`/`blockinfile` tasks edit, and the folders of every `files/` (for
/// `copy: src=DIR`).
fn prescan(root: &Path) -> modules::Ctx {
    let mut ctx = modules::Ctx::default();
    fn walk(n: &Node, ctx: &mut modules::Ctx) {
        match &n.kind {
            node::NodeKind::Map(entries) => {
                for (k, v) in entries {
                    if task::short(k) == "openssl_csr" {
                        if let node::NodeKind::Map(m) = &v.kind {
                            let arg = |name: &str| {
                                (m.iter().find(|(k, _)| k == name)).map(|(_, v)| v.to_value())
                            };
                            let path = arg("path").and_then(|p| p.as_str().map(str::to_string));
                            if let (Some(p), Some(csr)) =
                                (path, modules::openssl::csr_of(|k| arg(k)))
                            {
                                let mut notes = Notes::default();
                                let rw = |s: &str, n: &mut Notes| template::rewrite(s, n);
                                let csr = modules::openssl::Csr {
                                    subject: rw(&csr.subject, &mut notes),
                                    subject_alt_name: (csr.subject_alt_name.iter())
                                        .map(|s| rw(s, &mut notes))
                                        .collect(),
                                };
                                ctx.csrs.insert(rw(&p, &mut notes), csr);
                            }
                        }
                    }
                    if ["lineinfile", "replace", "blockinfile"].contains(&task::short(k)) {
                        if let node::NodeKind::Map(m) = &v.kind {
                            let path = ["path", "dest", "name"].iter().find_map(|name| {
                                (m.iter().find(|(k, _)| k == name))
                                    .and_then(|(_, v)| v.to_value().as_str().map(str::to_string))
                            });
                            if let Some(p) = path {
                                let mut notes = Notes::default();
                                ctx.edited.insert(template::rewrite(&p, &mut notes));
                            }
                        }
                    }
                    if task::short(k) == "file" {
                        let (args, _) = match &v.kind {
                            node::NodeKind::Map(m) => (
                                m.iter().map(|(k, v)| (k.clone(), v.to_value())).collect(),
                                None,
                            ),
                            _ => task::key_values(&v.as_string().unwrap_or_default()),
                        };
                        let get = |name: &str| {
                            args.iter()
                                .find(|(k, _)| k == name)
                                .and_then(|(_, v)| v.as_str().map(str::to_string))
                        };
                        if get("state").as_deref() == Some("directory") {
                            if let Some(p) =
                                get("path").or_else(|| get("dest")).or_else(|| get("name"))
                            {
                                let mut notes = Notes::default();
                                let p = template::rewrite(&p, &mut notes);
                                ctx.dirs.insert(p.trim_end_matches('/').to_string());
                            }
                        }
                    }
                    walk(v, ctx);
                }
            }
            node::NodeKind::Seq(items) => items.iter().for_each(|i| walk(i, ctx)),
            _ => {}
        }
    }
    for f in project::files_under(root) {
        let name = f.to_string_lossy();
        let rel = f
            .strip_prefix(root)
            .unwrap_or(&f)
            .to_string_lossy()
            .to_string();
        // Each file's text is read once, for what the whole project says.
        if let Ok(text) = std::fs::read_to_string(&f) {
            ctx.names_playbook_dir |= text.contains("playbook_dir");
            if ctx.renewal_override.is_none() {
                if let Some(line) =
                    (text.lines()).find(|l| modules::renews_with_own_authenticator(l))
                {
                    ctx.renewal_override = Some((rel.clone(), line.trim().to_string()));
                }
            }
        }
        if rel.contains("/files/") || rel.starts_with("files/") {
            // folders of files/: `copy: src=NAME` of a folder
            let after = rel.split("files/").nth(1).unwrap_or("");
            let parts: Vec<&str> = after.split('/').collect();
            for i in 1..parts.len() {
                ctx.src_dirs.insert(parts[..i].join("/"));
            }
            continue;
        }
        if let Some(after) = rel
            .split_once("/templates/")
            .map(|(_, a)| a)
            .or_else(|| rel.strip_prefix("templates/"))
        {
            // folders of templates/: `copy: src=templates/NAME` of a folder (Ansible's copy
            // finds its src in the role's folder too, trellis' `templates/h5bp`)
            let parts: Vec<&str> = after.split('/').collect();
            for i in 1..parts.len() {
                ctx.src_dirs
                    .insert(format!("templates/{}", parts[..i].join("/")));
            }
        }
        if rel.contains("group_vars/") || rel.contains("host_vars/") {
            if let Ok(node::NodeKind::Map(entries)) = node::read(&f).map(|n| n.kind) {
                for (k, v) in entries {
                    if let Some(text) = v.as_string() {
                        ctx.inventory_values.entry(k).or_default().push(text);
                    } else if let Some(list) = (!v.items().is_empty())
                        .then(|| v.items().iter().map(node::Node::as_string).collect())
                        .flatten()
                    {
                        ctx.inventory_lists.entry(k).or_default().push(list);
                    }
                }
            }
            continue;
        }
        if !(name.ends_with(".yml") || name.ends_with(".yaml")) || rel.contains("templates/") {
            continue;
        }
        if let Ok(n) = node::read(&f) {
            walk(&n, &mut ctx);
        }
    }
    ctx
}

/// Copies `src` to `dst` recursively; text files under a `templates/` copy are rewritten.
pub(crate) fn copy_tree(
    src: &Path,
    dst: &Path,
    rewrite: bool,
    notes: &mut Notes,
    skipped: &mut Vec<String>,
) -> Result<(), ImportError> {
    for f in project::files_under(src) {
        let rel = f.strip_prefix(src).unwrap_or(&f);
        let to = dst.join(rel);
        if let Some(p) = to.parent() {
            std::fs::create_dir_all(p).map_err(io(p))?;
        }
        let Ok(bytes) = std::fs::read(&f) else {
            skipped.push(format!(
                "`{}` could not be read (a broken link?): not copied",
                f.display()
            ));
            continue;
        };
        let out = match (rewrite, String::from_utf8(bytes.clone())) {
            (true, Ok(text)) => template::rewrite(&text, notes).into_bytes(),
            _ => bytes,
        };
        std::fs::write(&to, out).map_err(io(&to))?;
    }
    Ok(())
}

fn value_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Sequence(items) => Some(
            items
                .iter()
                .filter_map(|i| i.as_str())
                .collect::<Vec<_>>()
                .join(":"),
        ),
        _ => None,
    }
}

/// Writes a vars file of `src` (group_vars/host_vars) as YAML into `dst`; vault files listed.
pub(crate) fn convert_vars_file(
    src: &Path,
    dst: &Path,
    root: &Path,
    vaults: &mut Vec<PathBuf>,
    notes: &mut Notes,
) -> Result<(), ImportError> {
    let text = std::fs::read_to_string(src).map_err(io(src))?;
    let rel = src.strip_prefix(root).unwrap_or(src).to_path_buf();
    if project::is_vault(&text) {
        vaults.push(rel);
        return Ok(());
    }
    let n = node::parse(&rel, &text)?;
    let vars: Vec<(String, Value)> = n
        .entries()
        .iter()
        .map(|(k, v)| (k.clone(), convert::rewrite_value(&v.to_value(), notes)))
        .collect();
    if let Some(p) = dst.parent() {
        std::fs::create_dir_all(p).map_err(io(p))?;
    }
    let body = if vars.is_empty() {
        "{}\n".to_string()
    } else {
        write::vars_block(&vars, 0).join("\n") + "\n"
    };
    std::fs::write(dst, format!("# imported from {}\n{body}", rel.display())).map_err(io(dst))
}

pub(crate) fn yaml_stem(name: &str) -> String {
    name.strip_suffix(".yml")
        .or_else(|| name.strip_suffix(".yaml"))
        .or_else(|| name.strip_suffix(".json"))
        .unwrap_or(name)
        .to_string()
}

/// Imports the Ansible project `opts.src` into `opts.out`.
pub fn import(opts: &Options) -> Result<Summary, ImportError> {
    if !opts.src.is_dir() {
        return Err(ImportError::NotADir(opts.src.clone()));
    }
    // Absolute: `{{ playbook_dir }}/…` paths of the project become absolute paths, which
    // must lie under the root to be found and shown relative to it.
    let root = &opts.src.canonicalize().map_err(io(&opts.src))?;
    if opts.out.exists() {
        let nonempty = std::fs::read_dir(&opts.out)
            .map_err(io(&opts.out))?
            .next()
            .is_some();
        if nonempty && !opts.force {
            return Err(ImportError::OutNotEmpty(opts.out.clone()));
        }
    }
    std::fs::create_dir_all(&opts.out).map_err(io(&opts.out))?;
    let layout = project::discover(root)?;
    if layout.playbooks.is_empty() && !layout.root_is_role {
        return Err(ImportError::NoPlaybooks(root.clone()));
    }
    let ctx = prescan(root);
    let mut session = Session {
        root,
        out: &opts.out,
        uses_playbook_dir: ctx.names_playbook_dir,
        conv: Conversion {
            ctx,
            ..Conversion::default()
        },
        notes: Vec::new(),
        vaults: Vec::new(),
        roles: BTreeMap::new(),
        role_use: BTreeMap::new(),
        play_roles: Vec::new(),
        any_become: false,
        play_hosts: Vec::new(),
    };
    let mut playbooks: Vec<PlaybookOut> = Vec::new();
    let mut out_names: BTreeSet<String> = BTreeSet::new();
    let mut asset_notes: Vec<String> = Vec::new();
    let mut playbook_files = layout.playbooks.clone();
    let synthesized = playbook_files.is_empty();
    if synthesized {
        session.notes.push(
            "the source is a role without a playbook: `playbooks/site.yml` applies it to `all`"
                .into(),
        );
    }
    if synthesized {
        playbook_files.push(root.join("site.yml"));
    }
    for pb in &playbook_files {
        let rel_pb = pb.strip_prefix(root).unwrap_or(pb).to_path_buf();
        let n = if synthesized {
            let text = format!(
                "- hosts: all\n  roles: [\"{}\"]\n",
                project::role_name(root, root)
            );
            node::parse(&rel_pb, &text)?
        } else {
            node::read(pb).map_err(|e| match e {
                ImportError::Yaml {
                    line,
                    column,
                    message,
                    ..
                } => ImportError::Yaml {
                    file: rel_pb.clone(),
                    line,
                    column,
                    message,
                },
                other => other,
            })?
        };
        let stem = yaml_stem(
            &pb.file_name()
                .map(|f| f.to_string_lossy().to_string())
                .unwrap_or_default(),
        );
        let mut name = stem.clone();
        if out_names.contains(&name) {
            let parent = rel_pb
                .parent()
                .map(|p| p.to_string_lossy().replace('/', "_"))
                .unwrap_or_default();
            name = format!("{parent}_{stem}");
        }
        out_names.insert(name.clone());
        let out_file = PathBuf::from("playbooks").join(format!("{name}.yml"));
        let pb_dir = pb.parent().unwrap_or(root).to_path_buf();
        let reader = Reader {
            root,
            root_is_role: layout.root_is_role,
            playbook_dir: pb_dir.clone(),
        };
        let mut plays = Vec::new();
        for play in n.items() {
            if let Some(p) = session.play(play, &reader, &rel_pb, pb, &pb_dir, &out_file)? {
                plays.push(p);
            }
        }
        playbooks.push(PlaybookOut {
            file: out_file,
            source: rel_pb,
            plays,
        });
    }
    let Session {
        mut conv,
        mut notes,
        mut vaults,
        roles,
        role_use,
        play_roles,
        any_become,
        play_hosts,
        ..
    } = session;
    // roles no play uses (written, so that nothing is lost), then task files nothing reads
    let included: BTreeSet<PathBuf> = conv
        .containers
        .iter()
        .flat_map(|c| c.assets.iter().map(|(d, _)| d.clone()))
        .collect();
    let reader = Reader {
        root,
        root_is_role: layout.root_is_role,
        playbook_dir: root.clone(),
    };
    for dir in project::role_dirs(root) {
        if roles.contains_key(&dir) || included.contains(&dir) {
            continue;
        }
        let (_, name) = convert_role(&mut conv, &reader, &dir, &mut vaults)?;
        notes.push(format!(
            "role `{name}` is used by no playbook: imported as `roles/{name}/` all the same"
        ));
    }
    let read: BTreeSet<PathBuf> = conv.records.iter().map(|r| r.file.clone()).collect();
    for f in project::files_under(root) {
        let rel = f.strip_prefix(root).unwrap_or(&f).to_path_buf();
        let in_tasks = rel.parent().is_some_and(|p| {
            p.ends_with("tasks")
                || p.ends_with("handlers")
                || p.ends_with("hooks")
                || p.ends_with("deploy-hooks")
        });
        let yaml = rel.extension().is_some_and(|e| e == "yml" || e == "yaml");
        if !in_tasks || !yaml || read.contains(&rel) {
            continue;
        }
        let Ok(n) = node::read(&f) else { continue };
        let handler = rel.parent().is_some_and(|p| p.ends_with("handlers"));
        for t in n.items() {
            conv.left_out_entry(
                &rel,
                t,
                handler,
                "in a task file that no play, role or include reads",
            );
        }
    }
    conv.dedupe_roles(&play_roles);
    // notifications no handler answered
    for c in 0..conv.containers.len() {
        for i in 0..conv.containers[c].items.len() {
            let it = &conv.containers[c].items[i];
            if conv.containers[c].is_role && !it.notify.is_empty() && !it.removed {
                let src = it.source;
                let msg = format!(
                    "notify `{}`: no handler of that name in the role or its plays",
                    it.notify.join("`, `")
                );
                if !conv.records[src].notes.contains(&msg) {
                    conv.records[src].notes.push(msg);
                }
            }
        }
    }
    for (c, name) in roles.values() {
        let n = role_use.get(name).copied().unwrap_or(0);
        if n > 1 && conv.watched_by_plays.contains(c) {
            notes.push(format!("role `{name}` is used by {n} plays: the `restart_on`/`reload_on` a play's handlers added to its services hold in every play that uses it"));
        }
    }

    // write roles and plays
    let written = write::project(
        &mut conv,
        &playbooks,
        &opts.out,
        &mut notes,
        &mut asset_notes,
    )?;

    // inventory
    let inv = inventory::import(
        &inventory::Import {
            out: &opts.out,
            root,
            choice: opts.inventory.as_deref(),
            layout: &layout,
            play_hosts: &play_hosts,
            any_become,
            playbook_files: &playbook_files,
        },
        &mut vaults,
    )?;
    notes.extend(inv.notes);
    let inv_notes = inv.template_notes;
    let inv_used = inv.used;
    if !inv_notes.unsupported.is_empty() || !inv_notes.rewritten.is_empty() {
        let c = conv.new_container(PathBuf::from("inventory"), false);
        conv.containers[c].template_notes = inv_notes;
    }

    // every vault file of the project, imported or not
    for f in project::files_under(root) {
        let head = std::fs::read(&f)
            .map(|b| b.iter().take(64).copied().collect::<Vec<u8>>())
            .unwrap_or_default();
        if project::is_vault(&String::from_utf8_lossy(&head)) {
            vaults.push(f.strip_prefix(root).unwrap_or(&f).to_path_buf());
        }
    }
    // figures
    vaults.sort();
    vaults.dedup();
    let tasks: Vec<&convert::Record> = conv.records.iter().filter(|r| !r.handler).collect();
    let carried = tasks.iter().filter(|r| r.carried()).count();
    let mut resources = 0;
    let mut native = 0;
    for c in &conv.containers {
        for it in c.items.iter().filter(|i| !i.removed) {
            resources += 1;
            if it.res.native {
                native += 1;
            }
        }
    }
    let summary = Summary {
        source: opts.src.clone(),
        out: opts.out.clone(),
        tasks: tasks.len(),
        carried,
        left_out: tasks.len() - carried,
        handlers: conv.records.iter().filter(|r| r.handler).count(),
        resources,
        native,
        commands: resources - native,
        playbooks: written,
        vault_files: vaults,
        inventory: inv_used,
    };
    notes.extend(asset_notes);
    let md = report::markdown(&conv, &summary, &notes);
    let md_file = opts.out.join("IMPORT.md");
    std::fs::write(&md_file, md).map_err(io(&md_file))?;
    Ok(summary)
}

/// `[a, b]` with each item quoted as needed.
pub(crate) fn flow_list(items: &[String]) -> String {
    let parts: Vec<String> = items.iter().map(|i| write::scalar(i)).collect();
    format!("[{}]", parts.join(", "))
}

/// The state of an import while plays are converted.
pub(crate) struct Session<'a> {
    pub root: &'a Path,
    pub out: &'a Path,
    pub uses_playbook_dir: bool,
    pub conv: Conversion,
    pub notes: Vec<String>,
    pub vaults: Vec<PathBuf>,
    /// Role folder → (container, output name).
    pub roles: BTreeMap<PathBuf, (usize, String)>,
    /// Output role name → plays using it.
    pub role_use: BTreeMap<String, usize>,
    /// The role containers of each play, in order.
    pub play_roles: Vec<Vec<usize>>,
    pub any_become: bool,
    pub play_hosts: Vec<String>,
}

impl Session<'_> {
    /// Converts one play of playbook `pb` (its roles, tasks and handlers); None for an
    /// `import_playbook` entry or a play without `hosts:` (noted).
    pub(crate) fn play(
        &mut self,
        play: &Node,
        reader: &Reader,
        rel_pb: &Path,
        pb: &Path,
        pb_dir: &Path,
        out_file: &Path,
    ) -> Result<Option<PlayOut>, ImportError> {
        let root = self.root;
        if let Some(target) = play
            .get("import_playbook")
            .or_else(|| play.get("ansible.builtin.import_playbook"))
            .or_else(|| play.get("include"))
        {
            self.notes.push(format!(
                "`{}:{}` imports playbook `{}`: it is imported as a playbook of its own",
                rel_pb.display(),
                play.line,
                target.as_string().unwrap_or_default()
            ));
            return Ok(None);
        }
        let Some(hosts) = play
            .get("hosts")
            .map(Node::to_value)
            .as_ref()
            .and_then(value_str)
        else {
            self.notes.push(format!(
                "`{}:{}`: a play without `hosts:` is skipped",
                rel_pb.display(),
                play.line
            ));
            return Ok(None);
        };
        self.play_hosts.push(hosts.clone());
        let pc = self.conv.new_container(out_file.to_path_buf(), false);
        let mut tnotes = Notes::default();
        let mut inl = Inlined::default();
        let at = format!("{}:{}", rel_pb.display(), play.line);
        if play.get("become").and_then(Node::as_bool) == Some(true)
            || play.get("sudo").and_then(Node::as_bool) == Some(true)
        {
            self.any_become = true;
        }
        for (k, why) in [
            ("remote_user", "set `ssh_user` in the inventory"),
            ("user", "set `ssh_user` in the inventory"),
            (
                "gather_facts",
                "play always gathers its few facts in its probe",
            ),
            ("environment", "play has no play-level environment"),
            (
                "vars_prompt",
                "play prompts for nothing: pass them with `-e`",
            ),
            ("strategy", "play converges hosts in parallel"),
            ("connection", "play connects over SSH"),
        ] {
            if play.get(k).is_some() {
                self.notes
                    .push(format!("`{at}`: play key `{k}` not carried ({why})"));
            }
        }
        if self.uses_playbook_dir {
            let dir = pb_dir
                .canonicalize()
                .unwrap_or_else(|_| pb_dir.to_path_buf());
            self.conv.containers[pc].vars.push((
                "playbook_dir".into(),
                Value::String(dir.display().to_string()),
            ));
        }
        if let Some(v) = play.get("vars") {
            for (k, val) in v.entries() {
                let val = convert::rewrite_value(&val.to_value(), &mut tnotes);
                self.conv.containers[pc].vars.push((k.clone(), val));
            }
        }
        let mut vars_files = Vec::new();
        if let Some(vf) = play.get("vars_files") {
            for f in vf.items() {
                let Some(f) = f.as_string() else { continue };
                if f.contains("{{") {
                    self.notes.push(format!(
                        "`{at}`: vars file `{f}` is chosen at run time: not imported"
                    ));
                    continue;
                }
                let src = pb_dir.join(&f);
                if !src.is_file() {
                    self.notes
                        .push(format!("`{at}`: vars file `{f}` not found: not imported"));
                    continue;
                }
                let base = yaml_stem(
                    &src.file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_default(),
                );
                let to_rel = format!("vars/{base}.yml");
                let before = self.vaults.len();
                convert_vars_file(
                    &src,
                    &self.out.join("playbooks").join(&to_rel),
                    root,
                    &mut self.vaults,
                    &mut tnotes,
                )?;
                if self.vaults.len() == before {
                    vars_files.push(to_rel);
                }
            }
        }
        // roles
        let mut role_names: Vec<String> = Vec::new();
        let mut role_tags: Vec<Vec<String>> = Vec::new();
        let mut role_when: Vec<Vec<String>> = Vec::new();
        let mut role_vars: Vec<Vec<(String, Value)>> = Vec::new();
        let mut role_containers: Vec<usize> = Vec::new();
        let role_entries: Vec<Node> = play
            .get("roles")
            .map(|r| r.items().to_vec())
            .unwrap_or_default();
        let mut queue: Vec<(String, Option<Node>)> = Vec::new();
        for r in &role_entries {
            match r.as_string() {
                Some(name) => queue.push((name, None)),
                None => {
                    let name = r
                        .get("role")
                        .or_else(|| r.get("name"))
                        .and_then(Node::as_string)
                        .unwrap_or_default();
                    queue.push((name, Some(r.clone())));
                }
            }
        }
        for (rname, entry) in queue {
            // the entry's `vars:` and params: vars of its role and of the roles it depends on
            // (Ansible resolves role params along the dependency chain)
            let mut params: Vec<(String, Value)> = Vec::new();
            if let Some(e) = &entry {
                for (k, v) in e.entries() {
                    match k.as_str() {
                        "role" | "name" | "tags" | "become" | "when" => {}
                        "vars" => {
                            for (vk, vv) in v.entries() {
                                params.push((
                                    vk.clone(),
                                    convert::rewrite_value(&vv.to_value(), &mut tnotes),
                                ));
                            }
                        }
                        // keywords of the role entry, not params
                        "become_user" | "become_method" | "environment" | "delegate_to"
                        | "ignore_errors" | "any_errors_fatal" | "no_log" | "check_mode"
                        | "diff" | "connection" | "remote_user" | "vars_files" => {
                            self.notes
                                .push(format!("`{at}`: `{k}` on role `{rname}` not carried"));
                        }
                        // Ansible's old-style role params (`- {role: app, port: 80}`)
                        _ => params.push((
                            k.clone(),
                            convert::rewrite_value(&v.to_value(), &mut tnotes),
                        )),
                    }
                }
            }
            let Some(rd) = reader.find_role(&rname) else {
                self.notes.push(format!(
                    "`{at}`: role `{rname}` is not in the project (from Galaxy?): not imported"
                ));
                continue;
            };
            let tags = (entry.as_ref())
                .and_then(|e| e.get("tags"))
                .map(task::tag_list)
                .unwrap_or_default();
            let when: Vec<String> = (entry.as_ref().and_then(|e| e.get("when")))
                .map(task::when_list)
                .unwrap_or_default()
                .iter()
                .map(|w| template::rewrite_code(w, &mut tnotes))
                .collect();
            let mut chain = Vec::new();
            collect_role(reader, &rd.dir, &mut chain, 0);
            for dir in chain {
                let (c, name) = match self.roles.get(&dir) {
                    Some(x) => x.clone(),
                    None => {
                        let x = convert_role(&mut self.conv, reader, &dir, &mut self.vaults)?;
                        self.roles.insert(dir.clone(), x.clone());
                        x
                    }
                };
                if !role_names.contains(&name) {
                    *self.role_use.entry(name.clone()).or_default() += 1;
                    role_names.push(name);
                    role_tags.push(tags.clone());
                    role_when.push(when.clone());
                    role_vars.push(params.clone());
                    role_containers.push(c);
                }
            }
        }
        // the play's own tasks
        let mut entries: Vec<Entry> = Vec::new();
        let at_play = project::At {
            relf: rel_pb,
            file: pb,
            base: pb_dir,
            when: Vec::new(),
            become_user: None,
            prefix: None,
            depth: 0,
        };
        for key in ["pre_tasks", "tasks", "post_tasks"] {
            if let Some(list) = play.get(key) {
                if key == "pre_tasks" && !role_names.is_empty() && !list.items().is_empty() {
                    self.notes.push(format!(
                        "`{at}`: `pre_tasks` now come after the roles (play applies roles first)"
                    ));
                }
                reader.task_list(list.items(), &at_play, &mut inl, &mut entries)?;
            }
        }
        let mut handlers: Vec<Entry> = Vec::new();
        if let Some(h) = play.get("handlers") {
            reader.task_list(h.items(), &at_play, &mut inl, &mut handlers)?;
        }
        self.conv.containers[pc]
            .assets
            .push((pb_dir.to_path_buf(), None));
        self.conv.containers[pc].handlers = handlers;
        self.conv.tasks(pc, entries, reader, &mut inl);
        self.conv.fold_certbot_hooks(pc);
        self.conv.containers[pc].handlers.append(&mut inl.handlers);
        for (k, v) in std::mem::take(&mut inl.vars) {
            let v = convert::rewrite_value(&v, &mut tnotes);
            self.conv.containers[pc].vars.insert(0, (k, v));
        }
        for (d, p) in std::mem::take(&mut inl.assets) {
            self.conv.containers[pc].assets.push((d, Some(p)));
        }
        self.vaults.append(&mut inl.vault_files);
        self.conv.containers[pc].template_notes.extend(tnotes);
        let mut notifiers: Vec<(usize, usize)> = Vec::new();
        for &c in role_containers.iter().chain(std::iter::once(&pc)) {
            for (i, it) in self.conv.containers[c].items.iter().enumerate() {
                if !it.notify.is_empty() {
                    notifiers.push((c, i));
                }
            }
        }
        self.conv.handlers(pc, &notifiers, &role_containers);
        self.play_roles.push(role_containers.clone());
        for &(c, i) in &notifiers {
            let it = &self.conv.containers[c].items[i];
            if c == pc && !it.notify.is_empty() {
                let src = it.source;
                let pending = it.notify.join("`, `");
                self.conv.records[src].notes.push(format!(
                    "notify `{pending}`: no handler of that name in the play"
                ));
            }
        }
        self.conv.fold_sysconf(pc);
        self.conv.dedupe(pc);
        self.conv.fold_apt_update(pc);
        self.conv.fold_var_values(pc);
        self.conv.fold_units(pc);
        self.conv.fold_programs(pc);
        self.conv.fold_link_paths(pc);
        self.conv.dedupe_across(&role_containers, pc);
        Ok(Some(PlayOut {
            name: play.get("name").and_then(Node::as_string),
            hosts,
            vars_files,
            roles: role_names,
            role_tags,
            role_when,
            role_vars,
            tags: play.get("tags").map(task::tag_list).unwrap_or_default(),
            container: pc,
            serial: play.get("serial").map(Node::to_value),
            max_fail: play.get("max_fail_percentage").map(Node::to_value),
        }))
    }
}

/// Converts the role in `dir` into a new container; returns it with the role's output name.
fn convert_role(
    conv: &mut Conversion,
    reader: &Reader,
    dir: &Path,
    vaults: &mut Vec<PathBuf>,
) -> Result<(usize, String), ImportError> {
    let name = project::role_name(reader.root, dir);
    let c = conv.new_container(PathBuf::from("roles").join(&name).join("state.yml"), true);
    let mut rinl = Inlined::default();
    let vars = reader.role_vars(dir, &mut rinl)?;
    let mut rn = Notes::default();
    conv.containers[c].vars = vars
        .iter()
        .map(|(k, v)| (k.clone(), convert::rewrite_value(v, &mut rn)))
        .collect();
    let (tasks, handlers) = reader.role_tasks(dir, "main", None, &[], &mut rinl, 0)?;
    let tasks = reader.roles_entries(dir, tasks);
    conv.containers[c].assets.push((dir.to_path_buf(), None));
    conv.containers[c].handlers = handlers;
    conv.tasks(c, tasks, reader, &mut rinl);
    conv.fold_certbot_hooks(c);
    let mut iv = Vec::new();
    for (k, v) in std::mem::take(&mut rinl.vars) {
        iv.push((k, convert::rewrite_value(&v, &mut rn)));
    }
    // defaults of included roles come first (lowest)
    iv.append(&mut conv.containers[c].vars);
    conv.containers[c].vars = iv;
    conv.containers[c].handlers.append(&mut rinl.handlers);
    for (d, p) in rinl.assets {
        conv.containers[c].assets.push((d, Some(p)));
    }
    vaults.extend(rinl.vault_files);
    conv.containers[c].template_notes.extend(rn);
    let notifiers: Vec<(usize, usize)> = (0..conv.containers[c].items.len())
        .map(|i| (c, i))
        .collect();
    conv.handlers(c, &notifiers, &[]);
    conv.fold_sysconf(c);
    conv.dedupe(c);
    conv.fold_apt_update(c);
    conv.fold_var_values(c);
    conv.fold_units(c);
    conv.fold_programs(c);
    conv.fold_link_paths(c);
    Ok((c, name))
}

/// Later vars override earlier ones of the same name (one entry each, in first-seen order).
pub(crate) fn dedupe_vars(vars: &[(String, Value)]) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = Vec::new();
    for (k, v) in vars {
        match out.iter_mut().find(|(ok, _)| ok == k) {
            Some((_, ov)) => *ov = v.clone(),
            None => out.push((k.clone(), v.clone())),
        }
    }
    out
}

/// A role with its `meta/main.yml` dependencies first (depth first, each once).
fn collect_role(reader: &Reader, dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    if depth > 8 || out.iter().any(|d| d == dir) {
        return;
    }
    let deps = reader.role_deps(dir);
    for d in deps {
        if let Some(rd) = reader.find_role(&d) {
            if rd.dir != dir {
                collect_role(reader, &rd.dir, out, depth + 1);
            }
        }
    }
    if !out.iter().any(|d| d == dir) {
        out.push(dir.to_path_buf());
    }
}
