//! One Ansible task, normalized: its module, its arguments (mapping, `key=value` string or
//! free form, plus `args:`), and the task keywords the importer reads.

use std::path::PathBuf;

use super::node::Node;
use crate::yaml::Value;

/// Task keywords (not modules). Everything else on a task is its module.
pub const KEYWORDS: &[&str] = &[
    "name",
    "when",
    "with_items",
    "with_list",
    "loop",
    "loop_control",
    "with_dict",
    "with_fileglob",
    "with_nested",
    "with_subelements",
    "with_together",
    "with_sequence",
    "with_first_found",
    "with_lines",
    "with_random_choice",
    "with_indexed_items",
    "with_flattened",
    "with_inventory_hostnames",
    "with_file",
    "with_template",
    "with_cartesian",
    "notify",
    "register",
    "become",
    "become_user",
    "become_method",
    "become_flags",
    "tags",
    "changed_when",
    "failed_when",
    "ignore_errors",
    "environment",
    "no_log",
    "delegate_to",
    "delegate_facts",
    "run_once",
    "vars",
    "listen",
    "args",
    "check_mode",
    "diff",
    "until",
    "retries",
    "delay",
    "async",
    "poll",
    "local_action",
    "action",
    "remote_user",
    "any_errors_fatal",
    "ignore_unreachable",
    "throttle",
    "timeout",
    "debugger",
    "module_defaults",
    "collections",
    "connection",
    "sudo",
    "sudo_user",
    "become_exe",
    "block",
    "rescue",
    "always",
];

/// A task as the importer sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Task {
    /// Source file, relative to the project.
    pub file: PathBuf,
    pub line: usize,
    pub name: Option<String>,
    /// Short module name (`ansible.builtin.` and other collection prefixes removed).
    pub module: String,
    /// Arguments as key/value pairs (from a mapping, `key=value` words and `args:`).
    pub args: Vec<(String, Value)>,
    /// Free-form text (command/shell), without its `key=value` options.
    pub free: Option<String>,
    /// `when` conditions (all must hold), as written.
    pub when: Vec<String>,
    /// `loop`/`with_items`/`with_list` value, or `with_dict` turned into a list expression.
    pub loop_: Option<Value>,
    pub loop_var: Option<String>,
    /// A loop form the importer cannot carry over (`with_fileglob`, `until`, ...).
    pub unsupported_loop: Option<String>,
    pub notify: Vec<String>,
    pub listen: Vec<String>,
    pub register: Option<String>,
    pub become_user: Option<String>,
    /// Task `environment:` given as a literal mapping (a command's `environment:`).
    pub environment: Option<Value>,
    /// `changed_when: false` (a read-only check).
    pub never_changes: bool,
    /// `with_first_found` candidates (strings only).
    pub first_found: Vec<String>,
    /// Task `vars` holding `lookup('first_found', NAME)` parameters: NAME, its `files`, its
    /// `paths` (`include_vars: "{{ lookup('first_found', params) }}"`).
    pub first_found_params: Vec<(String, Vec<String>, Vec<String>)>,
    /// `no_log: true`: the resource is `sensitive`.
    pub no_log: bool,
    /// `tags:`, its own then (after the flattening) those of its blocks and includes.
    pub tags: Vec<String>,
    /// Keywords present that play has no equivalent for (reported, not carried).
    pub dropped: Vec<String>,
    /// Where Ansible runs the task when it is not the host itself (`delegate_to`,
    /// `local_action`, `connection: local`), as written: see [`Task::runs_elsewhere`].
    pub delegate: Option<String>,
    /// Templates and files of an included role live under this folder of the container's
    /// `templates/` and `files/`.
    pub asset_prefix: Option<String>,
    /// Task `vars:` (a mapping), in order.
    pub vars: Vec<(String, Value)>,
    /// The vars of the includes it was read through and its own (see [`Scope`]).
    pub scope: Option<Scope>,
    /// The role it stands for, whose tasks are folded into what it becomes (`rvm`: the
    /// official RVM role, see `modules::ruby::map_rvm_role`).
    pub folded_role: Option<String>,
}

/// Vars Ansible gives a group of tasks (`include_role`/`include_tasks` with `vars:`, or one
/// task's own `vars:`): the tasks are written to a file of their own, included with these
/// `vars` (play's include vars have the same precedence: above role defaults, inventory and
/// play vars, below `-e`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    /// One per include (or task) giving vars: the tasks of one scope go to one file.
    pub id: usize,
    /// Names the file: the included role or file, or the task's.
    pub label: String,
    /// Outer includes' vars first, an inner one's later (they win).
    pub vars: Vec<(String, Value)>,
}

impl Task {
    /// The first of `names` given as an argument.
    pub fn arg(&self, names: &[&str]) -> Option<&Value> {
        names
            .iter()
            .find_map(|n| self.args.iter().find(|(k, _)| k == n).map(|(_, v)| v))
    }

    /// An argument as text (numbers and booleans as written).
    pub fn arg_str(&self, names: &[&str]) -> Option<String> {
        match self.arg(names)? {
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// An argument as a boolean (`yes`, `true`, ...).
    pub fn arg_bool(&self, names: &[&str]) -> Option<bool> {
        match self.arg(names)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) => super::node::yaml11_bool(s),
            _ => None,
        }
    }

    /// `file:line` for reports.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }

    /// Why the task cannot become a resource of the host: Ansible runs it on the controller
    /// (`delegate_to: localhost`, `local_action`, `connection: local`) or on another host
    /// (`delegate_to: OTHER`), and play applies a host's resources on that host only. `None`
    /// when it runs on the host (`delegate_to: "{{ inventory_hostname }}"`, no delegation).
    pub fn runs_elsewhere(&self) -> Option<String> {
        let d = self.delegate.as_deref()?.trim();
        let bare = d.trim_start_matches("{{").trim_end_matches("}}").trim();
        if bare == "inventory_hostname" {
            return None;
        }
        // a synchronize delegated to the controller pushes from it: its default, a `sync:`
        if self.module == "synchronize" && ["localhost", "127.0.0.1", "::1"].contains(&d) {
            return None;
        }
        let controller = [
            "localhost",
            "127.0.0.1",
            "::1",
            "local_action",
            "connection: local",
        ];
        Some(if controller.contains(&d) {
            format!("runs on the controller (`{d}`): play applies each host's resources on that host; run it before `play apply` (e.g. in CI)")
        } else {
            format!("runs on another host (`delegate_to: {d}`): play applies each host's resources on that host; declare it in a play for that host")
        })
    }

    /// The task's name, or its module.
    pub fn title(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.module.clone())
    }
}

/// Splits `a=1 b="x y" c={{ d | e }}` into words: quotes and `{{ }}`/`{% %}` keep spaces.
/// Returns (word, byte range) pairs.
pub fn words(s: &str) -> Vec<(String, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = None;
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        let next = it.peek().map(|(_, n)| *n);
        if start.is_none() && !c.is_whitespace() {
            start = Some(i);
        }
        match quote {
            Some(q) if c == q && depth == 0 => {
                quote = None;
                continue;
            }
            Some(_) => {
                cur.push(c);
                continue;
            }
            None => {}
        }
        if c == '{' && matches!(next, Some('{') | Some('%')) {
            depth += 1;
        } else if (c == '}' || c == '%') && next == Some('}') && depth > 0 {
            depth -= 1;
            cur.push(c);
            if let Some((_, n)) = it.next() {
                cur.push(n);
            }
            continue;
        }
        if depth == 0 && (c == '"' || c == '\'') && (cur.is_empty() || cur.ends_with('=')) {
            quote = Some(c);
            continue;
        }
        if depth == 0 && c.is_whitespace() {
            if let Some(st) = start.take() {
                out.push((std::mem::take(&mut cur), st..i));
            }
            continue;
        }
        cur.push(c);
    }
    if let Some(st) = start {
        out.push((cur, st..s.len()));
    }
    out
}

/// Parses `key=value` words; words without `=` (before the first `key=`) are free form.
pub fn key_values(s: &str) -> (Vec<(String, Value)>, Option<String>) {
    let mut args = Vec::new();
    let mut free = Vec::new();
    for (w, _) in words(s) {
        match w.split_once('=') {
            Some((k, v))
                if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                args.push((k.to_string(), typed(v)))
            }
            _ => free.push(w),
        }
    }
    let free = (!free.is_empty()).then(|| free.join(" "));
    (args, free)
}

/// Options that command/shell take inline (`creates=/x chdir=/y`).
const COMMAND_OPTIONS: &[&str] = &[
    "creates",
    "removes",
    "chdir",
    "executable",
    "warn",
    "stdin",
    "stdin_add_newline",
    "strip_empty_ends",
];

/// Splits a command's free form into the command line and its inline options.
pub fn command_free_form(s: &str) -> (String, Vec<(String, Value)>) {
    let mut args = Vec::new();
    let mut keep: Vec<std::ops::Range<usize>> = Vec::new();
    for (w, range) in words(s) {
        match w.split_once('=') {
            Some((k, v)) if COMMAND_OPTIONS.contains(&k) => args.push((k.to_string(), typed(v))),
            _ => keep.push(range),
        }
    }
    let cmd = match (keep.first(), keep.last()) {
        (Some(a), Some(b)) => s[a.start..b.end].to_string(),
        _ => String::new(),
    };
    (cmd, args)
}

fn typed(v: &str) -> Value {
    super::node::plain_scalar(v)
}

/// Reads one task mapping. `Err` holds a reason when the entry is not a task at all.
/// Ansible's `when:` (one condition or a list of them, all to hold) as a list.
pub fn when_list(n: &Node) -> Vec<String> {
    match &n.kind {
        super::node::NodeKind::Seq(items) => items.iter().filter_map(Node::as_string).collect(),
        _ => n.as_string().into_iter().collect(),
    }
}

/// Ansible's `tags:` (a list, a tag, or `"a, b"`) as a list.
pub fn tag_list(n: &Node) -> Vec<String> {
    let words: Vec<String> = match &n.kind {
        super::node::NodeKind::Seq(items) => items.iter().filter_map(Node::as_string).collect(),
        _ => n.as_string().into_iter().collect(),
    };
    let mut out: Vec<String> = Vec::new();
    for w in words.iter().flat_map(|w| w.split(',')) {
        let w = w.trim();
        if !w.is_empty() && !out.iter().any(|o| o == w) {
            out.push(w.to_string());
        }
    }
    out
}

/// Gives `tags` (of an enclosing block, include or role) to every task of `entries`, before
/// their own.
pub fn inherit_tags(entries: &mut [super::project::Entry], tags: &[String]) {
    if tags.is_empty() {
        return;
    }
    for e in entries {
        if let super::project::Entry::Task(t) = e {
            let mut all = tags.to_vec();
            all.extend(t.tags.iter().filter(|x| !tags.contains(x)).cloned());
            t.tags = all;
        }
    }
}

/// Gives the tasks read through an include the include's vars (`vars` of scope `id`): a task
/// without a scope gets this one; one with a scope of an inner include keeps it, with these
/// vars before its own (the inner include's win).
pub fn inherit_scope(
    entries: &mut [super::project::Entry],
    id: usize,
    label: &str,
    vars: &[(String, Value)],
) {
    if vars.is_empty() {
        return;
    }
    for e in entries {
        if let super::project::Entry::Task(t) = e {
            match &mut t.scope {
                None => {
                    t.scope = Some(Scope {
                        id,
                        label: label.to_string(),
                        vars: vars.to_vec(),
                    })
                }
                Some(s) => {
                    let mut all = vars.to_vec();
                    all.append(&mut s.vars);
                    s.vars = all;
                }
            }
        }
    }
}

pub fn from_node(n: &Node, file: &std::path::Path) -> Result<Task, String> {
    let mut t = Task {
        file: file.to_path_buf(),
        line: n.line,
        ..Task::default()
    };
    let entries = n.entries();
    if entries.is_empty() {
        return Err("not a task (expected a mapping)".into());
    }
    let mut module: Option<(&str, &Node)> = None;
    for (k, v) in entries {
        match k.as_str() {
            "name" => t.name = v.as_string(),
            "when" => t.when = when_list(v),
            "with_items" | "with_list" | "loop" | "with_flattened" => {
                t.loop_ = Some(match v.to_value() {
                    Value::String(s) if !s.contains("{{") => {
                        Value::String(format!("{{{{ {} }}}}", s.trim()))
                    }
                    other => other,
                })
            }
            "with_dict" => {
                let expr = match v.to_value() {
                    Value::String(s) => {
                        let inner = s
                            .trim()
                            .trim_start_matches("{{")
                            .trim_end_matches("}}")
                            .trim()
                            .to_string();
                        Some(inner)
                    }
                    _ => None,
                };
                match expr {
                    Some(e) => t.loop_ = Some(Value::String(format!("{{{{ {e} | dictsort }}}}"))),
                    None => t.unsupported_loop = Some("with_dict of an inline mapping".into()),
                }
            }
            "loop_control" => {
                if let Some(lv) = v.get("loop_var").and_then(Node::as_string) {
                    t.loop_var = Some(lv);
                }
            }
            "notify" => {
                t.notify = match &v.kind {
                    super::node::NodeKind::Seq(items) => {
                        items.iter().filter_map(Node::as_string).collect()
                    }
                    _ => v.as_string().into_iter().collect(),
                }
            }
            "listen" => {
                t.listen = match &v.kind {
                    super::node::NodeKind::Seq(items) => {
                        items.iter().filter_map(Node::as_string).collect()
                    }
                    _ => v.as_string().into_iter().collect(),
                }
            }
            "register" => t.register = v.as_string(),
            "no_log" => t.no_log = v.as_bool() == Some(true),
            "become_user" | "sudo_user" => t.become_user = v.as_string(),
            "environment" if !v.entries().is_empty() => {
                // values as text (`PORT: 8000` is exported as `8000`)
                let mut m = crate::yaml::Mapping::new();
                for (ek, ev) in v.entries() {
                    let text = ev.as_string().unwrap_or_else(|| {
                        crate::yaml::to_string(&ev.to_value()).trim().to_string()
                    });
                    m.insert(Value::String(ek.clone()), Value::String(text));
                }
                t.environment = Some(Value::Mapping(m));
            }
            "changed_when" => {
                if v.as_bool() == Some(false) {
                    t.never_changes = true;
                } else {
                    t.dropped.push("changed_when".into());
                }
            }
            "args" => {
                for (ak, av) in v.entries() {
                    t.args.push((ak.clone(), av.to_value()));
                }
            }
            "tags" => t.tags = tag_list(v),
            "become" | "become_method" | "check_mode" | "diff" | "vars" => {
                if k == "vars" {
                    match v.to_value() {
                        Value::Mapping(m) if !m.is_empty() => {
                            t.vars = m
                                .iter()
                                .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.clone())))
                                .collect()
                        }
                        _ => t.dropped.push("vars".into()),
                    }
                    let strings = |n: Option<&Node>| -> Vec<String> {
                        n.map(|n| n.items().iter().filter_map(Node::as_string).collect())
                            .unwrap_or_default()
                    };
                    for (name, p) in v.entries() {
                        if p.get("files").is_some() {
                            let (files, paths) = (strings(p.get("files")), strings(p.get("paths")));
                            t.first_found_params.push((name.clone(), files, paths));
                        }
                    }
                }
            }
            "until" => t.dropped.push("until (retries)".into()),
            "delegate_to" => t.delegate = v.as_string(),
            "local_action" => t.delegate = Some("local_action".into()),
            "connection" if v.as_string().as_deref() == Some("local") => {
                t.delegate = Some("connection: local".into())
            }
            "with_first_found" => {
                t.first_found = v.items().iter().filter_map(Node::as_string).collect();
                if let Some(files) = v.get("files") {
                    t.first_found = files.items().iter().filter_map(Node::as_string).collect();
                }
                t.unsupported_loop = Some(k.clone());
            }
            k if k.starts_with("with_") => {
                t.unsupported_loop = Some(k.to_string());
            }
            k if KEYWORDS.contains(&k) => t.dropped.push(k.to_string()),
            _ => {
                if module.is_none() {
                    module = Some((k.as_str(), v));
                } else {
                    t.dropped.push(k.to_string());
                }
            }
        }
    }
    // `action: module args` / `local_action`
    let (name, v) = match module {
        Some(m) => m,
        None => match n.get("action").or_else(|| n.get("local_action")) {
            Some(a) => {
                let text = a.as_string().unwrap_or_default();
                let (m, rest) = text.split_once(' ').unwrap_or((text.as_str(), ""));
                t.module = short(m).to_string();
                let (args, free) = key_values(rest);
                t.args.extend(args);
                t.free = free;
                return Ok(t);
            }
            None => return Err("no module".into()),
        },
    };
    t.module = short(name).to_string();
    match &v.kind {
        super::node::NodeKind::Map(m) => {
            let mut margs: Vec<(String, Value)> =
                m.iter().map(|(k, v)| (k.clone(), v.to_value())).collect();
            margs.append(&mut t.args);
            t.args = margs;
        }
        _ => {
            let text = v.as_string().unwrap_or_default();
            if matches!(t.module.as_str(), "command" | "shell" | "raw" | "script") {
                let (cmd, opts) = command_free_form(&text);
                t.free = (!cmd.is_empty()).then_some(cmd);
                t.args.extend(opts);
            } else if matches!(
                t.module.as_str(),
                "include_tasks"
                    | "import_tasks"
                    | "include"
                    | "import_playbook"
                    | "include_role"
                    | "import_role"
                    | "include_vars"
            ) {
                let (args, free) = key_values(&text);
                t.args.extend(args);
                t.free = free.or_else(|| (!text.contains('=')).then(|| text.clone()));
            } else {
                let (args, free) = key_values(&text);
                let mut all = args;
                all.append(&mut t.args);
                t.args = all;
                t.free = free;
            }
        }
    }
    Ok(t)
}

/// `ansible.builtin.copy` → `copy`; `community.general.supervisorctl` → `supervisorctl`.
pub fn short(module: &str) -> &str {
    module.rsplit('.').next().unwrap_or(module)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/migrating-from-ansible.md says what becomes of every task keyword the importer
    /// knows (as `` `KEYWORD`` ``, or `` `KEYWORD.``/`` `KEYWORD:`` in a longer form).
    #[test]
    fn every_keyword_is_in_the_migration_guide() {
        let doc = include_str!("../../docs/migrating-from-ansible.md");
        let missing: Vec<&str> = KEYWORDS
            .iter()
            .copied()
            .filter(|k| {
                !["`", ".", ":", " "]
                    .iter()
                    .any(|end| doc.contains(&format!("`{k}{end}")))
            })
            .collect();
        assert!(
            missing.is_empty(),
            "keywords missing from the guide: {missing:?}"
        );
    }

    #[test]
    fn task_vars_are_kept_and_include_scopes_nest_inner_last() {
        let n = super::super::node::parse(
            std::path::Path::new("t.yml"),
            "- copy: {content: x, dest: /a}\n  vars: {a: 1, b: \"{{ c }}\"}\n",
        )
        .unwrap();
        let t = from_node(&n.items()[0], std::path::Path::new("t.yml")).unwrap();
        let s = |v: &str| Value::String(v.into());
        assert_eq!(t.vars[1], ("b".to_string(), s("{{ c }}")));
        assert!(!t.dropped.contains(&"vars".to_string()));
        use super::super::project::Entry;
        let mut entries = vec![Entry::Task(Box::new(t.clone())), Entry::Task(Box::new(t))];
        // the inner include (scope 1) covers the first task only; the outer (2) both
        inherit_scope(&mut entries[..1], 1, "inner", &[("a".into(), s("in"))]);
        inherit_scope(&mut entries, 2, "outer", &[("a".into(), s("out"))]);
        let scope = |e: &Entry| match e {
            Entry::Task(t) => t.scope.clone().unwrap(),
            Entry::Note(_) => unreachable!(),
        };
        let (first, second) = (scope(&entries[0]), scope(&entries[1]));
        assert_eq!((first.id, first.label.as_str()), (1, "inner"));
        assert_eq!(
            first.vars,
            vec![("a".into(), s("out")), ("a".into(), s("in"))]
        );
        assert_eq!((second.id, second.vars), (2, vec![("a".into(), s("out"))]));
    }

    #[test]
    fn key_value_words_keep_templates_and_quotes() {
        let (args, free) = key_values("src={{ item.file }} dest=\"{{ a }}/b c\" mode=0644");
        assert_eq!(free, None);
        assert_eq!(
            args[0],
            ("src".into(), Value::String("{{ item.file }}".into()))
        );
        assert_eq!(
            args[1],
            ("dest".into(), Value::String("{{ a }}/b c".into()))
        );
        assert_eq!(args[2], ("mode".into(), Value::String("0644".into())));
    }

    #[test]
    fn command_free_form_options() {
        let (cmd, opts) = command_free_form("touch {{ d }}/x creates={{ d }}/x chdir=/tmp");
        assert_eq!(cmd, "touch {{ d }}/x");
        assert_eq!(opts.len(), 2);
        assert_eq!(opts[1], ("chdir".into(), Value::String("/tmp".into())));
        let (cmd, opts) = command_free_form("echo 'a=b c' | grep x");
        assert_eq!(cmd, "echo 'a=b c' | grep x");
        assert!(opts.is_empty());
    }

    #[test]
    fn task_forms() {
        let n = super::super::node::parse(
            std::path::Path::new("t.yml"),
            "- name: conf\n  ansible.builtin.template: src=a.j2 dest=/etc/a\n  notify: restart a\n  become_user: app\n  with_items: xs\n  tags: [x]\n",
        )
        .unwrap();
        let t = from_node(&n.items()[0], std::path::Path::new("t.yml")).unwrap();
        assert_eq!(t.module, "template");
        assert_eq!(t.arg_str(&["dest"]).as_deref(), Some("/etc/a"));
        assert_eq!(t.notify, ["restart a"]);
        assert_eq!(t.become_user.as_deref(), Some("app"));
        assert_eq!(t.loop_, Some(Value::String("{{ xs }}".into())));
        assert!(t.dropped.is_empty());
    }
}
