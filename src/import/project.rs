//! Reading an Ansible project: which files are playbooks and inventories, where roles are,
//! and task lists flattened (blocks, static `include_tasks`/`import_tasks`/`include_role`/
//! `import_role`), each task keeping its file and line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::node::{self, Node, NodeKind};
use super::task::{self, Task};
use super::ImportError;
use crate::yaml::Value;

/// Folders that never hold playbooks.
const NOT_PLAYBOOK_DIRS: &[&str] = &[
    "roles",
    "group_vars",
    "host_vars",
    "tasks",
    "handlers",
    "defaults",
    "vars",
    "meta",
    "templates",
    "files",
    "galaxy",
    "vendor",
    "library",
    "plugins",
    "filter_plugins",
    ".git",
    "node_modules",
    "deploy-hooks",
    "hooks",
    "lib",
];

/// A project's entry points.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub root: PathBuf,
    pub playbooks: Vec<PathBuf>,
    pub inventories: Vec<PathBuf>,
    /// The root folder is itself a role (`tasks/main.yml` at the top).
    pub root_is_role: bool,
    /// `inventory =` of ansible.cfg, when it names one.
    pub cfg_inventory: Option<PathBuf>,
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    if depth > 12 {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out, depth + 1);
        } else {
            out.push(p);
        }
    }
}

/// Every file under `dir`, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    walk(dir, &mut v, 0);
    v
}

/// Every role folder of the project: a folder with `tasks/main.yml` (not the root itself, not
/// inside another role's `templates/` or `files/`).
pub fn role_dirs(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for f in files_under(root) {
        let rel = f.strip_prefix(root).unwrap_or(&f);
        let s = rel.to_string_lossy();
        if !(s.ends_with("tasks/main.yml") || s.ends_with("tasks/main.yaml")) {
            continue;
        }
        if s.contains("templates/") || s.contains("files/") || s.contains("molecule/") {
            continue;
        }
        if let Some(dir) = f.parent().and_then(Path::parent) {
            if dir != root && !out.iter().any(|d: &PathBuf| d == dir) {
                out.push(dir.to_path_buf());
            }
        }
    }
    out
}

/// A file name chosen by OS (`{{ ansible_os_family }}.yml`, `{{ ansible_distribution }}.yml`)
/// for a Debian host: play manages Debian and Ubuntu. None when anything else is templated.
pub fn debian_variant(name: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = name;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find("}}")? + i;
        let inner = rest[i + 2..end].trim();
        match inner {
            "ansible_os_family"
            | "ansible_distribution"
            | "ansible_facts.os_family"
            | "ansible_facts['os_family']"
            | "ansible_facts.distribution" => out.push_str("Debian"),
            _ => return None,
        }
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    Some(out)
}

/// Is this node a playbook (a list of plays)?
pub fn is_playbook(n: &Node) -> bool {
    let items = n.items();
    !items.is_empty()
        && items.iter().all(|i| matches!(i.kind, NodeKind::Map(_)))
        && items.iter().any(|i| {
            i.get("hosts").is_some()
                || i.get("import_playbook").is_some()
                || i.get("ansible.builtin.import_playbook").is_some()
        })
}

/// Is `text` an Ansible vault file?
pub fn is_vault(text: &str) -> bool {
    text.trim_start().starts_with("$ANSIBLE_VAULT")
}

/// Finds playbooks and inventories under `root`. A YAML file where a playbook may stand that
/// does not parse is an error (it may be the playbook).
pub fn discover(root: &Path) -> Result<Layout, ImportError> {
    let mut layout = Layout {
        root: root.to_path_buf(),
        root_is_role: ["tasks/main.yml", "tasks/main.yaml"]
            .iter()
            .any(|f| root.join(f).is_file()),
        ..Layout::default()
    };
    for f in files_under(root) {
        let rel = f.strip_prefix(root).unwrap_or(&f);
        let comps: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().to_string())
            .collect();
        let dirs = &comps[..comps.len().saturating_sub(1)];
        let name = comps.last().cloned().unwrap_or_default();
        if name == "ansible.cfg" {
            if let Ok(text) = std::fs::read_to_string(&f) {
                for line in text.lines() {
                    let l = line.trim();
                    if let Some(v) = l
                        .strip_prefix("inventory")
                        .map(str::trim_start)
                        .and_then(|r| r.strip_prefix('='))
                    {
                        let p = f.parent().unwrap_or(root).join(v.trim());
                        layout.cfg_inventory = Some(p);
                    }
                }
            }
            continue;
        }
        let in_role_like = dirs.iter().any(|d| {
            matches!(
                d.as_str(),
                "roles"
                    | "templates"
                    | "files"
                    | "galaxy"
                    | "tasks"
                    | "handlers"
                    | "defaults"
                    | "vars"
                    | "meta"
                    | "group_vars"
                    | "host_vars"
            )
        });
        let inventory_name = name == "hosts"
            || name == "inventory"
            || ((name.starts_with("hosts.") || name.starts_with("inventory."))
                && !name.ends_with(".j2")
                && !name.ends_with(".conf"))
            || dirs.last().is_some_and(|d| d == "hosts");
        if inventory_name && !in_role_like {
            layout.inventories.push(f.clone());
            continue;
        }
        let yaml = name.ends_with(".yml") || name.ends_with(".yaml");
        if !yaml || dirs.iter().any(|d| NOT_PLAYBOOK_DIRS.contains(&d.as_str())) {
            continue;
        }
        if layout.root_is_role && dirs.is_empty() {
            continue;
        }
        let n = node::read(&f).map_err(|e| match e {
            ImportError::Yaml {
                line,
                column,
                message,
                ..
            } => ImportError::Yaml {
                file: rel.to_path_buf(),
                line,
                column,
                message,
            },
            other => other,
        })?;
        if is_playbook(&n) {
            layout.playbooks.push(f);
        }
    }
    Ok(layout)
}

/// A source entry that is not a plain task: an include followed or not, a block's rescue...
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub file: PathBuf,
    pub line: usize,
    pub module: String,
    pub title: String,
    /// Why it was not carried over; `None`: followed (its tasks are carried).
    pub left_out: Option<String>,
    pub text: String,
}

/// One entry of a flattened task list.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Task(Box<Task>),
    Note(Note),
}

/// A role found on disk.
#[derive(Debug, Clone)]
pub struct RoleDir {
    pub dir: PathBuf,
}

/// What reading a task list found besides tasks: roles included inline (their folder and the
/// prefix their templates and files get), their handlers and vars.
#[derive(Debug, Default)]
pub struct Inlined {
    pub assets: Vec<(PathBuf, String)>,
    pub handlers: Vec<Entry>,
    pub vars: Vec<(String, Value)>,
    pub vault_files: Vec<PathBuf>,
    /// Scopes of include (and task) vars given so far.
    pub scopes: usize,
}

impl Inlined {
    /// Gives `entries` (read through an include or a block, or a task itself) its `vars` as a
    /// new scope.
    fn scope(&mut self, entries: &mut [Entry], vars: &[(String, Value)], label: &str) {
        if vars.is_empty() {
            return;
        }
        self.scopes += 1;
        task::inherit_scope(entries, self.scopes, label, vars);
    }
}

/// Where a task list is read: its file (relative and real), the folder includes are looked
/// up in, and what enclosing blocks and includes pass down.
#[derive(Debug, Clone)]
pub struct At<'p> {
    pub relf: &'p Path,
    pub file: &'p Path,
    pub base: &'p Path,
    pub when: Vec<String>,
    pub become_user: Option<String>,
    pub prefix: Option<String>,
    pub depth: usize,
}

impl At<'_> {
    fn nested(&self, when: Vec<String>, become_user: Option<String>) -> Self {
        At {
            when,
            become_user,
            depth: self.depth + 1,
            ..self.clone()
        }
    }
}

/// Reads task lists relative to a project.
pub struct Reader<'a> {
    pub root: &'a Path,
    pub root_is_role: bool,
    /// Folder of the playbook being read (roles are looked up from it).
    pub playbook_dir: PathBuf,
}

fn rel(root: &Path, p: &Path) -> PathBuf {
    p.strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| p.to_path_buf())
}

/// The output name of a role folder: its path under `roles/` with `/` as `_`.
pub fn role_name(root: &Path, dir: &Path) -> String {
    let r = rel(root, dir);
    let s = r.to_string_lossy();
    let s = s.strip_prefix("roles/").unwrap_or(&s).to_string();
    let s = if s.is_empty() || s.starts_with("..") {
        dir.canonicalize()
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().to_string()))
            .unwrap_or_else(|| "role".into())
    } else {
        s
    };
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_start_matches(['.', '_'])
        .to_string()
}

fn first_file(dir: &Path, names: &[&str]) -> Option<PathBuf> {
    names.iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

impl Reader<'_> {
    /// Finds a role folder by the name a playbook or task uses.
    pub fn find_role(&self, name: &str) -> Option<RoleDir> {
        let mut candidates = vec![
            self.playbook_dir.join("roles").join(name),
            self.root.join("roles").join(name),
            self.playbook_dir.join(name),
            self.root.join(name),
        ];
        if let Some(parent) = self.playbook_dir.parent() {
            candidates.push(parent.join("roles").join(name));
        }
        for c in candidates {
            if c.join("tasks").is_dir() || c.join("handlers").is_dir() || c.join("meta").is_dir() {
                return Some(RoleDir { dir: c });
            }
        }
        if self.root_is_role {
            return Some(RoleDir {
                dir: self.root.to_path_buf(),
            });
        }
        None
    }

    /// Reads a vars file (YAML mapping); vault files are reported, not read.
    pub fn vars_file(
        &self,
        file: &Path,
        inl: &mut Inlined,
    ) -> Result<Vec<(String, Value)>, ImportError> {
        let text = std::fs::read_to_string(file).map_err(|e| ImportError::Io {
            path: file.to_path_buf(),
            message: e.to_string(),
        })?;
        if is_vault(&text) {
            inl.vault_files.push(rel(self.root, file));
            return Ok(Vec::new());
        }
        let n = node::parse(&rel(self.root, file), &text)?;
        Ok(n.entries()
            .iter()
            .map(|(k, v)| (k.clone(), v.to_value()))
            .collect())
    }

    /// A role's defaults then vars (`defaults/main.yml`, `vars/main.yml`, or folders of them).
    pub fn role_vars(
        &self,
        dir: &Path,
        inl: &mut Inlined,
    ) -> Result<Vec<(String, Value)>, ImportError> {
        let mut out = Vec::new();
        for sub in ["defaults", "vars"] {
            let d = dir.join(sub);
            if let Some(f) = first_file(&d, &["main.yml", "main.yaml", "main"]) {
                out.extend(self.vars_file(&f, inl)?);
            } else if d.join("main").is_dir() {
                for f in files_under(&d.join("main")) {
                    out.extend(self.vars_file(&f, inl)?);
                }
            }
        }
        Ok(out)
    }

    /// A role's `meta/main.yml` dependencies (names).
    pub fn role_deps(&self, dir: &Path) -> Vec<String> {
        let Some(f) = first_file(&dir.join("meta"), &["main.yml", "main.yaml"]) else {
            return Vec::new();
        };
        let Ok(n) = node::read(&f) else {
            return Vec::new();
        };
        n.get("dependencies")
            .map(|d| {
                d.items()
                    .iter()
                    .filter_map(|i| {
                        i.as_string().or_else(|| {
                            i.get("role")
                                .or_else(|| i.get("name"))
                                .and_then(Node::as_string)
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A role's tasks (`tasks/<from>.yml`) flattened, its handlers, with `prefix` for its assets.
    pub fn role_tasks(
        &self,
        dir: &Path,
        from: &str,
        prefix: Option<&str>,
        when: &[String],
        inl: &mut Inlined,
        depth: usize,
    ) -> Result<(Vec<Entry>, Vec<Entry>), ImportError> {
        let tasks_dir = dir.join("tasks");
        let mut tasks = Vec::new();
        if let Some(f) = first_file(
            &tasks_dir,
            &[&format!("{from}.yml"), &format!("{from}.yaml"), from],
        ) {
            tasks = self.task_file(&f, &tasks_dir, when, prefix, inl, depth)?;
        }
        let mut handlers = Vec::new();
        let hdir = dir.join("handlers");
        if let Some(f) = first_file(&hdir, &["main.yml", "main.yaml"]) {
            handlers = self.task_file(&f, &hdir, &[], prefix, inl, depth)?;
        }
        Ok((tasks, handlers))
    }

    /// Reads a task file.
    pub fn task_file(
        &self,
        file: &Path,
        base: &Path,
        when: &[String],
        prefix: Option<&str>,
        inl: &mut Inlined,
        depth: usize,
    ) -> Result<Vec<Entry>, ImportError> {
        self.task_file_with(file, base, when, None, prefix, inl, depth)
    }

    /// Flattens a list of task nodes into `out`.
    pub fn task_list(
        &self,
        items: &[Node],
        at: &At,
        inl: &mut Inlined,
        out: &mut Vec<Entry>,
    ) -> Result<(), ImportError> {
        let (relf, file, base, when, depth) = (at.relf, at.file, at.base, &at.when, at.depth);
        let prefix = at.prefix.as_deref();
        let become_user = at.become_user.as_deref();
        if depth > 16 {
            return Err(ImportError::Syntax {
                file: relf.to_path_buf(),
                line: items.first().map(|n| n.line).unwrap_or(1),
                column: 1,
                message: "includes nested more than 16 deep (a cycle?)".into(),
            });
        }
        // trellis-style hooks: a `stat` looped over a list var of task files, then an include
        // of `{{ X.item }}` looped over its results: the files that exist are followed
        let hooks = hook_includes(items, relf);
        for n in items {
            let note = |module: &str, title: String, left_out: Option<String>, text: String| {
                Entry::Note(Note {
                    file: relf.to_path_buf(),
                    line: n.line,
                    module: module.to_string(),
                    title,
                    left_out,
                    text,
                })
            };
            if let Some(block) = n.get("block") {
                let mut w = when.to_vec();
                w.extend(conds(n));
                let bu = n.get("become_user").and_then(Node::as_string);
                let bu = bu.as_deref().or(become_user);
                let inner = at.nested(w, bu.map(str::to_string));
                let tags = n.get("tags").map(task::tag_list).unwrap_or_default();
                let mut inside = Vec::new();
                self.task_list(block.items(), &inner, inl, &mut inside)?;
                if let Some(rescue) = n.get("rescue") {
                    for r in rescue.items() {
                        let t = task::from_node(r, relf).ok();
                        out.push(Entry::Note(Note {
                            file: relf.to_path_buf(),
                            line: r.line,
                            module: t.as_ref().map(|t| t.module.clone()).unwrap_or_default(),
                            title: t.map(|t| t.title()).unwrap_or_default(),
                            left_out: Some("a `rescue:` task (play stops the host at a failed step; it has no rescue)".into()),
                            text: String::new(),
                        }));
                    }
                }
                if let Some(always) = n.get("always") {
                    self.task_list(always.items(), &inner, inl, &mut inside)?;
                }
                task::inherit_tags(&mut inside, &tags);
                if let Some(Value::Mapping(m)) = n.get("vars").map(Node::to_value) {
                    let vars: Vec<(String, Value)> = (m.iter())
                        .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.clone())))
                        .collect();
                    let label = relf
                        .file_stem()
                        .map(|f| format!("{}-{}", f.to_string_lossy(), n.line))
                        .unwrap_or_else(|| format!("block-{}", n.line));
                    inl.scope(&mut inside, &vars, &label);
                }
                out.append(&mut inside);
                continue;
            }
            let mut t = match task::from_node(n, relf) {
                Ok(t) => t,
                Err(why) => {
                    out.push(note("?", String::new(), Some(why), String::new()));
                    continue;
                }
            };
            if t.become_user.is_none() {
                t.become_user = become_user.map(str::to_string);
            }
            if t.become_user.as_deref() == Some("root") {
                t.become_user = None;
            }
            t.asset_prefix = prefix.map(str::to_string);
            let mut w = when.to_vec();
            w.append(&mut t.when);
            t.when = w;
            if let Some(var) = t
                .register
                .as_ref()
                .filter(|r| t.module == "stat" && hooks.contains_key(*r))
                .and_then(|_| stat_loop_var(&t))
            {
                let files = self.hook_files(base, &var);
                out.push(note(
                    &t.module,
                    t.title(),
                    None,
                    format!(
                        "followed: the task files of `{var}` that exist ({}), included below",
                        files
                            .iter()
                            .map(|f| format!("`{}`", rel(self.root, f).display()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
                continue;
            }
            if let Some((reg, x)) = hook_include(&t).filter(|(r, _)| hooks.contains_key(r)) {
                let var = hooks[&reg].clone();
                let files = self.hook_files(base, &var);
                let title = t.title();
                // `X.stat.exists`: the files followed are those that exist
                t.when.retain(|w| !w.contains(&format!("{x}.stat")));
                out.push(note(
                    &t.module,
                    title,
                    None,
                    format!(
                        "followed: each existing file of `{var}`: {}",
                        files
                            .iter()
                            .map(|f| rel(self.root, f).display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
                for f in files {
                    let mut inside = self.follow(&f, base, &t, prefix, inl, depth)?;
                    task::inherit_tags(&mut inside, &t.tags);
                    out.append(&mut inside);
                }
                continue;
            }
            match t.module.as_str() {
                "include_tasks" | "import_tasks" | "include" => {
                    let target = t
                        .free
                        .clone()
                        .or_else(|| t.arg_str(&["file", "_raw_params"]));
                    let title = t.title();
                    let Some(target) = target else {
                        out.push(note(
                            &t.module,
                            title,
                            Some("include without a file".into()),
                            String::new(),
                        ));
                        continue;
                    };
                    // `{{ playbook_dir }}/roles/...`: the playbook's folder is known
                    let dir = self.playbook_dir.display().to_string();
                    let target = target
                        .replace("{{ playbook_dir }}", &dir)
                        .replace("{{playbook_dir}}", &dir);
                    let target = target.split_whitespace().next().unwrap_or("").to_string();
                    let variant = debian_variant(&target).filter(|v| {
                        target.contains("{{")
                            && (file.parent().unwrap_or(base).join(v).is_file()
                                || base.join(v).is_file())
                    });
                    let (target, variant_of) = match variant {
                        Some(v) => (v, Some(target)),
                        None => (target, None),
                    };
                    if target.contains("{{") {
                        out.push(note(
                            &t.module,
                            title,
                            Some(format!(
                                "dynamic include `{target}` (its file is chosen at run time)"
                            )),
                            target,
                        ));
                        continue;
                    }
                    if t.loop_.is_some() || t.unsupported_loop.is_some() {
                        out.push(note(
                            &t.module,
                            title,
                            Some(format!("include of `{target}` in a loop")),
                            target,
                        ));
                        continue;
                    }
                    // beside the file, in its base folder, then (a handler's or a role's
                    // `tasks/x.yml`) from the role's folder and its `tasks/`
                    let here = file.parent().unwrap_or(base).join(&target);
                    let role = base.parent().unwrap_or(base);
                    let path = [
                        here,
                        base.join(&target),
                        role.join(&target),
                        role.join("tasks").join(&target),
                    ]
                    .into_iter()
                    .find(|p| p.is_file());
                    let Some(path) = path else {
                        out.push(note(
                            &t.module,
                            title,
                            Some(format!("`{target}` not found")),
                            target,
                        ));
                        continue;
                    };
                    out.push(note(
                        &t.module,
                        title,
                        None,
                        format!(
                            "followed: {}{}",
                            rel(self.root, &path).display(),
                            variant_of
                                .map(|o| format!(" (the Debian variant of `{o}`: play manages Debian and Ubuntu hosts)"))
                                .unwrap_or_default()
                        ),
                    ));
                    let mut inside = self.follow(&path, base, &t, prefix, inl, depth)?;
                    task::inherit_tags(&mut inside, &t.tags);
                    let stem = path.file_stem().map(|f| f.to_string_lossy().into_owned());
                    inl.scope(&mut inside, &t.vars, stem.as_deref().unwrap_or("tasks"));
                    out.append(&mut inside);
                }
                "include_role" | "import_role" => {
                    let title = t.title();
                    let Some(name) = t.arg_str(&["name", "role"]) else {
                        out.push(note(
                            &t.module,
                            title,
                            Some("include_role without `name`".into()),
                            String::new(),
                        ));
                        continue;
                    };
                    if name.contains("{{") || t.loop_.is_some() {
                        out.push(note(
                            &t.module,
                            title,
                            Some(format!("dynamic or looped include of role `{name}`")),
                            name,
                        ));
                        continue;
                    }
                    let Some(role) = self.find_role(&name) else {
                        out.push(note(
                            &t.module,
                            title,
                            Some(format!(
                                "role `{name}` not found in the project (from Galaxy?)"
                            )),
                            name,
                        ));
                        continue;
                    };
                    let pre = role_name(self.root, &role.dir);
                    let rvm = super::modules::ruby::is_rvm_role(&role.dir);
                    if !rvm {
                        out.push(note(
                            &t.module,
                            title,
                            None,
                            format!(
                                "followed: role {pre} (inline; its templates and files under `{pre}/`)"
                            ),
                        ));
                    }
                    if !inl.assets.iter().any(|(d, _)| d == &role.dir) {
                        inl.assets.push((role.dir.clone(), pre.clone()));
                        let vars = self.role_vars(&role.dir, inl)?;
                        inl.vars.extend(vars);
                    }
                    let from = t.arg_str(&["tasks_from"]).unwrap_or_else(|| "main".into());
                    let (mut tasks, handlers) =
                        self.role_tasks(&role.dir, &from, Some(&pre), &t.when, inl, depth + 1)?;
                    task::inherit_tags(&mut tasks, &t.tags);
                    let label = match from.as_str() {
                        "main" => name.rsplit('/').next().unwrap_or(&name).to_string(),
                        f => format!("{}-{f}", name.rsplit('/').next().unwrap_or(&name)),
                    };
                    if rvm {
                        // the official RVM role: this include becomes its `rvm:`, its tasks
                        // folded into it
                        let mut carrier = t.clone();
                        carrier.folded_role = Some("rvm".into());
                        let vars = std::mem::take(&mut carrier.vars);
                        let mut one = vec![Entry::Task(Box::new(carrier))];
                        inl.scope(&mut one, &vars, &label);
                        one.extend(fold_rvm_role(tasks, &t.location()));
                        out.extend(one);
                        inl.handlers.extend(handlers);
                        continue;
                    }
                    inl.scope(&mut tasks, &t.vars, &label);
                    out.extend(tasks);
                    inl.handlers.extend(handlers);
                }
                _ => {
                    let label = relf
                        .file_stem()
                        .map(|f| format!("{}-{}", f.to_string_lossy(), n.line))
                        .unwrap_or_else(|| format!("task-{}", n.line));
                    let vars = std::mem::take(&mut t.vars);
                    let mut one = [Entry::Task(Box::new(t))];
                    inl.scope(&mut one, &vars, &label);
                    let [e] = one;
                    out.push(e);
                }
            }
        }
        Ok(())
    }

    /// A `roles:` entry's task list: the official RVM role's first entry becomes its `rvm:`
    /// (see [`fold_rvm_role`]), any other role's is as read.
    pub fn roles_entries(&self, dir: &Path, tasks: Vec<Entry>) -> Vec<Entry> {
        if !super::modules::ruby::is_rvm_role(dir) {
            return tasks;
        }
        let mut it = tasks.into_iter();
        let Some(first) = it.next() else {
            return Vec::new();
        };
        let mut carrier = match first {
            Entry::Task(t) => *t,
            Entry::Note(n) => Task {
                file: n.file,
                line: n.line,
                name: Some(n.title).filter(|t| !t.is_empty()),
                module: n.module,
                ..Task::default()
            },
        };
        carrier.folded_role = Some("rvm".into());
        let at = carrier.location();
        let mut out = vec![Entry::Task(Box::new(carrier))];
        out.extend(fold_rvm_role(it.collect(), &at));
        out
    }

    /// The task files a hook list var of the role names (its `defaults/main.yml`; base is the
    /// role's `tasks/`), `{{ playbook_dir }}` being the playbook's folder; those that exist.
    fn hook_files(&self, base: &Path, var: &str) -> Vec<PathBuf> {
        let Some(role) = base.parent() else {
            return Vec::new();
        };
        let Some(defaults) = first_file(&role.join("defaults"), &["main.yml", "main.yaml"]) else {
            return Vec::new();
        };
        let Ok(n) = node::read(&defaults) else {
            return Vec::new();
        };
        let dir = self.playbook_dir.display().to_string();
        n.get(var)
            .map(|v| {
                v.items()
                    .iter()
                    .filter_map(Node::as_string)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
            .into_iter()
            .map(|f| {
                f.replace("{{ playbook_dir }}", &dir)
                    .replace("{{playbook_dir}}", &dir)
            })
            .filter(|f| !f.contains("{{"))
            .map(PathBuf::from)
            .filter(|p| p.is_file())
            .collect()
    }

    /// The tasks of an included file, under the include's `when` and `become_user`.
    fn follow(
        &self,
        path: &Path,
        base: &Path,
        t: &Task,
        prefix: Option<&str>,
        inl: &mut Inlined,
        depth: usize,
    ) -> Result<Vec<Entry>, ImportError> {
        let bu = t.become_user.as_deref();
        self.task_file_with(path, base, &t.when, bu, prefix, inl, depth + 1)
    }

    #[allow(clippy::too_many_arguments)]
    fn task_file_with(
        &self,
        file: &Path,
        base: &Path,
        when: &[String],
        become_user: Option<&str>,
        prefix: Option<&str>,
        inl: &mut Inlined,
        depth: usize,
    ) -> Result<Vec<Entry>, ImportError> {
        let text = std::fs::read_to_string(file).map_err(|e| ImportError::Io {
            path: file.to_path_buf(),
            message: e.to_string(),
        })?;
        let relf = rel(self.root, file);
        let n = node::parse(&relf, &text)?;
        let mut out = Vec::new();
        let at = At {
            relf: &relf,
            file,
            base,
            when: when.to_vec(),
            become_user: become_user.map(str::to_string),
            prefix: prefix.map(str::to_string),
            depth,
        };
        self.task_list(n.items(), &at, inl, &mut out)?;
        Ok(out)
    }
}

/// `include_tasks: "{{ X.item }}"` looped over `"{{ R.results }}"` (loop var X): (R, X).
/// The entries of the official RVM role, folded into the `rvm:` of the task at `at`: each
/// task a note saying what of it does its work (carried, not a resource or a gathered value of
/// its own), each include a note too.
fn fold_rvm_role(entries: Vec<Entry>, at: &str) -> Vec<Entry> {
    entries
        .into_iter()
        .map(|e| match e {
            Entry::Task(t) => {
                let (left_out, text) = match super::modules::ruby::rvm_role_fold(&t, at) {
                    Ok(text) => (None, text),
                    Err(why) => (Some(why), String::new()),
                };
                Entry::Note(Note {
                    file: t.file.clone(),
                    line: t.line,
                    module: t.module.clone(),
                    title: t.title(),
                    left_out,
                    text,
                })
            }
            Entry::Note(mut n) => {
                if n.left_out.is_none() {
                    n.text = format!("{} (its tasks folded into the `rvm:` at {at})", n.text);
                }
                Entry::Note(n)
            }
        })
        .collect()
}

fn hook_include(t: &Task) -> Option<(String, String)> {
    if !matches!(
        t.module.as_str(),
        "include_tasks" | "import_tasks" | "include"
    ) {
        return None;
    }
    let target = t
        .free
        .clone()
        .or_else(|| t.arg_str(&["file", "_raw_params"]))?;
    let x = t.loop_var.clone().unwrap_or_else(|| "item".into());
    let inner = |s: &str| -> Option<String> {
        let s = s.trim().strip_prefix("{{")?.strip_suffix("}}")?;
        Some(s.trim().to_string())
    };
    if inner(&target)? != format!("{x}.item") {
        return None;
    }
    let lp = inner(t.loop_.as_ref()?.as_str()?)?;
    let reg = lp.strip_suffix(".results")?;
    Some((reg.to_string(), x))
}

/// A `stat`'s loop over a list var: `"{{ V | default([]) }}"` or `"{{ V }}"` → V.
fn stat_loop_var(t: &Task) -> Option<String> {
    let lp = t.loop_.as_ref()?.as_str()?.trim();
    let e = lp.strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let v = e.split('|').next()?.trim();
    v.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
        .then(|| v.to_string())
}

/// The registers of `stat`s whose results a hook include loops over, with the list var each
/// stat loops over.
fn hook_includes(items: &[Node], relf: &Path) -> BTreeMap<String, String> {
    let tasks: Vec<Task> = items
        .iter()
        .filter_map(|n| task::from_node(n, relf).ok())
        .collect();
    let mut out = BTreeMap::new();
    for t in &tasks {
        let Some((reg, _)) = hook_include(t) else {
            continue;
        };
        let stat = tasks
            .iter()
            .find(|s| s.module == "stat" && s.register.as_deref() == Some(reg.as_str()));
        if let Some(var) = stat.and_then(stat_loop_var) {
            out.insert(reg, var);
        }
    }
    out
}

/// A node's `when` conditions.
pub fn conds(n: &Node) -> Vec<String> {
    match n.get("when") {
        Some(w) => match &w.kind {
            NodeKind::Seq(items) => items.iter().filter_map(Node::as_string).collect(),
            _ => w.as_string().into_iter().collect(),
        },
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_chosen_names_take_the_debian_variant() {
        assert_eq!(
            debian_variant("{{ ansible_os_family }}.yml").as_deref(),
            Some("Debian.yml")
        );
        assert_eq!(
            debian_variant("setup-{{ansible_distribution}}.yml").as_deref(),
            Some("setup-Debian.yml")
        );
        assert_eq!(debian_variant("plain.yml").as_deref(), Some("plain.yml"));
        assert_eq!(
            debian_variant("{{ ansible_distribution_major_version }}.yml"),
            None
        );
        assert_eq!(debian_variant("{{ item }}"), None);
    }

    /// Tags of a task, of its blocks and of the includes it came through, outer ones first;
    /// `"a, b"` is two tags; the include's `when` is carried too.
    #[test]
    fn tags_of_blocks_and_includes_are_inherited() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let tasks = tmp.path().join("roles/app/tasks");
        std::fs::create_dir_all(&tasks).expect("mkdir");
        std::fs::write(
            tasks.join("main.yml"),
            r#"- name: one
  file: path=/a state=directory
  tags: [own]
- block:
    - name: two
      file: path=/b state=directory
      tags: conf
  tags: "deploy, conf"
- include_tasks: extra.yml
  when: x
  tags: [extra]
- name: plain
  file: path=/d state=directory
"#,
        )
        .expect("write");
        std::fs::write(
            tasks.join("extra.yml"),
            "- name: three\n  file: path=/c state=directory\n  tags: [inner, extra]\n",
        )
        .expect("write");
        let reader = Reader {
            root: tmp.path(),
            root_is_role: false,
            playbook_dir: tmp.path().to_path_buf(),
        };
        let mut inl = Inlined::default();
        let entries = reader
            .task_file(&tasks.join("main.yml"), &tasks, &[], None, &mut inl, 0)
            .expect("read");
        let got: Vec<(String, Vec<String>, Vec<String>)> = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Task(t) => Some((t.title(), t.tags.clone(), t.when.clone())),
                Entry::Note(_) => None,
            })
            .collect();
        let v = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            got,
            [
                ("one".to_string(), v(&["own"]), v(&[])),
                ("two".to_string(), v(&["deploy", "conf"]), v(&[])),
                ("three".to_string(), v(&["extra", "inner"]), v(&["x"])),
                ("plain".to_string(), v(&[]), v(&[])),
            ]
        );
    }
}
