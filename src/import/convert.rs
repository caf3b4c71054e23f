//! Tasks → resources in containers (a role's `state.yml`, a play's `state:`), with guards from
//! registered results, handlers turned into `restart_on`/`reload_on`/`on_change`, and
//! duplicates merged. Every source entry gets a [`Record`] of what it became.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::merge;
use super::modules::{self, map_task, Ctx, Mapped, Res};
use super::project::{Entry, Inlined, Reader};
use super::task::{Scope, Task};
use super::template::{self, Notes};
use super::when::{translate, Cond, Reg};
use crate::yaml::Value;

/// One resource written to a container.
#[derive(Debug, Clone)]
pub struct Item {
    pub res: Res,
    /// The record (source entry) it came from.
    pub source: usize,
    pub loop_: Option<Value>,
    pub loop_var: Option<String>,
    pub when: Vec<String>,
    /// `tags:` of the task (with its blocks' and includes').
    pub tags: Vec<String>,
    /// Handler names it notifies, not resolved yet.
    pub notify: Vec<String>,
    /// Merged into another item: not written.
    pub removed: bool,
    /// Line in the written file (set by the writer).
    pub line: usize,
    pub title: String,
    /// Vars of its includes or its own task: written in a file of its own, included with them.
    pub scope: Option<Scope>,
    /// The file it is written in when not its container's (an included file; set by the writer).
    pub out_file: Option<PathBuf>,
}

impl Item {
    /// Takes `other`'s tags too (two tasks declaring one resource: selected by either's).
    fn add_tags(&mut self, other: &[String]) {
        for t in other {
            if !self.tags.contains(t) {
                self.tags.push(t.clone());
            }
        }
    }

    /// The scope of its include or task vars (items of two scopes may render one template
    /// text to other values: never merged).
    fn scope_id(&self) -> Option<usize> {
        self.scope.as_ref().map(|s| s.id)
    }

    /// What two declarations of one thing share: kind, key, loop, scope and an edit's
    /// identity; and the `when` of a command or venv (other kinds under other conditions may
    /// still merge: [`super::merge::decide`]).
    fn dedupe_key(&self) -> String {
        let when = match self.res.kind() {
            "command" | "venv" => self.when.clone(),
            _ => Vec::new(),
        };
        format!(
            "{}\u{0}{}\u{0}{:?}\u{0}{:?}\u{0}{:?}\u{0}{:?}",
            self.res.kind(),
            super::merge::canonical(&self.res.key()),
            self.loop_,
            when,
            self.scope_id(),
            self.edit_identity()
        )
    }

    /// What tells apart edits of one file (several `line:`, `block:` and `replace:` entries
    /// may edit it): a line's `regexp` (else its `text`), a block's `marker`, a replace's
    /// patterns. Edits with other identities are other resources, never merged.
    fn edit_identity(&self) -> Vec<Option<&Value>> {
        let keys: &[&str] = match self.res.kind() {
            "line" if self.res.get("regexp").is_some() => &["regexp"],
            "line" => &["text"],
            "block" => &["marker"],
            "replace" => &["regexp", "after", "before"],
            _ => &[],
        };
        keys.iter().map(|k| self.res.get(k)).collect()
    }
}

/// A role's state file or a play's state.
#[derive(Debug, Clone, Default)]
pub struct Container {
    /// Output file, relative to the output folder.
    pub file: PathBuf,
    pub items: Vec<Item>,
    /// Vars it adds (role defaults; a play's vars).
    pub vars: Vec<(String, Value)>,
    /// Folders whose `templates/` and `files/` it needs, and the prefix they go under.
    pub assets: Vec<(PathBuf, Option<String>)>,
    pub handlers: Vec<Entry>,
    pub is_role: bool,
    pub template_notes: Notes,
    /// Gathered values (`gather:`, a role's `gather.yml`): name and spec, in order.
    pub gathers: Vec<(String, Value)>,
}

/// What a source entry became.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Resources: (container, item) pairs.
    Items(Vec<(usize, usize)>),
    /// Vars of the container.
    Vars(usize),
    /// A guard of other resources (`stat`, a read-only check).
    Absorbed(String),
    /// An include whose tasks are carried over.
    Followed(String),
    /// A gathered value of the container (a read-only registered command): its name.
    Gathered(usize, String),
    LeftOut(String),
}

/// One source task or handler.
#[derive(Debug, Clone)]
pub struct Record {
    pub file: PathBuf,
    pub line: usize,
    pub title: String,
    pub module: String,
    pub handler: bool,
    pub outcome: Outcome,
    pub notes: Vec<String>,
}

impl Record {
    pub fn carried(&self) -> bool {
        !matches!(self.outcome, Outcome::LeftOut(_))
    }
}

/// The conversion state of a whole project.
#[derive(Debug, Default)]
pub struct Conversion {
    pub containers: Vec<Container>,
    pub records: Vec<Record>,
    pub ctx: Ctx,
    /// Role containers whose services got `restart_on`/`reload_on` from a play's handler.
    pub watched_by_plays: BTreeSet<usize>,
}

/// Rewrites every string of a value (templates Ansible → minijinja).
pub fn rewrite_value(v: &Value, notes: &mut Notes) -> Value {
    match v {
        Value::String(s) => Value::String(template::rewrite(s, notes)),
        Value::Sequence(items) => {
            Value::Sequence(items.iter().map(|i| rewrite_value(i, notes)).collect())
        }
        Value::Mapping(m) => {
            let mut out = crate::yaml::Mapping::new();
            for (k, v) in m {
                out.insert(k.clone(), rewrite_value(v, notes));
            }
            Value::Mapping(out)
        }
        other => other.clone(),
    }
}

fn rewrite_task(t: &mut Task, notes: &mut Notes) {
    for (_, v) in t.args.iter_mut() {
        *v = rewrite_value(v, notes);
    }
    if let Some(f) = &t.free {
        t.free = Some(template::rewrite(f, notes));
    }
    t.when = t
        .when
        .iter()
        .map(|w| template::rewrite_code(w, notes))
        .collect();
    if let Some(l) = &t.loop_ {
        t.loop_ = Some(rewrite_value(l, notes));
    }
    if let Some(u) = &t.become_user {
        t.become_user = Some(template::rewrite(u, notes));
    }
    if let Some(e) = &t.environment {
        t.environment = Some(rewrite_value(e, notes));
    }
    // `with_dict`: item.key / item.value → item[0] / item[1] (dictsort pairs)
    if t.loop_
        .as_ref()
        .and_then(|l| l.as_str())
        .is_some_and(|s| s.contains("| dictsort"))
    {
        let var = t.loop_var.clone().unwrap_or_else(|| "item".into());
        let fix = |s: &str| {
            s.replace(&format!("{var}.key"), &format!("{var}[0]"))
                .replace(&format!("{var}.value"), &format!("{var}[1]"))
        };
        for (_, v) in t.args.iter_mut() {
            if let Value::String(s) = v {
                *s = fix(s);
            }
        }
        t.free = t.free.as_deref().map(fix);
        t.when = t.when.iter().map(|w| fix(w)).collect();
    }
}

impl Conversion {
    pub fn new_container(&mut self, file: PathBuf, is_role: bool) -> usize {
        self.containers.push(Container {
            file,
            is_role,
            ..Container::default()
        });
        self.containers.len() - 1
    }

    fn record(
        &mut self,
        file: &Path,
        line: usize,
        title: String,
        module: &str,
        handler: bool,
        outcome: Outcome,
    ) -> usize {
        self.records.push(Record {
            file: file.to_path_buf(),
            line,
            title,
            module: module.to_string(),
            handler,
            outcome,
            notes: Vec::new(),
        });
        self.records.len() - 1
    }

    /// Records every task of a list that is not read at all (blocks flattened), left out.
    /// [`Self::record`] of a task (not a handler).
    fn record_task(&mut self, t: &Task, title: String, outcome: Outcome) -> usize {
        self.record(&t.file, t.line, title, &t.module, false, outcome)
    }

    pub fn left_out_entry(&mut self, file: &Path, n: &super::node::Node, handler: bool, why: &str) {
        for key in ["block", "rescue", "always"] {
            if let Some(b) = n.get(key) {
                for t in b.items() {
                    self.left_out_entry(file, t, handler, why);
                }
            }
        }
        if ["block", "rescue", "always"]
            .iter()
            .any(|k| n.get(k).is_some())
        {
            return;
        }
        let (title, module) = match super::task::from_node(n, file) {
            Ok(t) => (t.title(), t.module),
            Err(_) => (String::new(), "?".into()),
        };
        self.record(
            file,
            n.line,
            title,
            &module,
            handler,
            Outcome::LeftOut(why.to_string()),
        );
    }

    /// Records an include (followed or not) or an entry that is not a task.
    fn note(&mut self, n: super::project::Note, handler: bool) {
        let outcome = match n.left_out {
            None => Outcome::Followed(n.text),
            Some(why) => Outcome::LeftOut(why),
        };
        self.record(&n.file, n.line, n.title, &n.module, handler, outcome);
    }

    /// Adds vars to container `c`, their templates rewritten.
    fn add_vars(&mut self, c: usize, v: Vec<(String, Value)>) {
        let mut notes = Notes::default();
        let v: Vec<(String, Value)> = v
            .into_iter()
            .map(|(k, v)| (k, rewrite_value(&v, &mut notes)))
            .collect();
        self.containers[c].vars.extend(v);
    }

    /// A `command`/`shell` task registering the output of a read-only command line
    /// ([`super::readonly`]): a gathered value of container `c` (its `when`, loop, `chdir` and
    /// `become_user` carried), or a var holding the fact it prints; `None` for other tasks.
    /// A `when` naming an earlier registered result or a fact is not carried (a gather runs
    /// beside the facts gathering, before any other value is known): the command runs every
    /// time, which it may (it changes nothing); said in the notes returned. Vars of the task's
    /// include that the gather names go to the container's vars (where none of that name is).
    fn gather_of(
        &mut self,
        c: usize,
        t: &Task,
        regs: &BTreeMap<String, Reg>,
        included: &[(String, Value)],
    ) -> Option<Result<(Outcome, Vec<String>), String>> {
        let reg = t.register.as_ref()?;
        if !matches!(t.module.as_str(), "command" | "shell")
            || t.arg_str(&["creates"]).is_some()
            || t.arg_str(&["removes"]).is_some()
            || t.environment.is_some()
        {
            return None;
        }
        let cmd = t.free.clone().or_else(|| t.arg_str(&["cmd"]))?;
        let cmd = cmd.trim().to_string();
        if t.loop_.is_none() {
            if let Some(fact) = super::readonly::fact_idiom(&cmd) {
                let mut m = crate::yaml::Mapping::new();
                m.insert("stdout".into(), Value::String(fact.into()));
                m.insert("rc".into(), Value::Number(0.into()));
                m.insert("failed".into(), Value::Bool(false));
                m.insert("changed".into(), Value::Bool(false));
                m.insert("skipped".into(), Value::Bool(false));
                self.containers[c]
                    .vars
                    .push((reg.clone(), Value::Mapping(m)));
                return Some(Ok((Outcome::Vars(c), Vec::new())));
            }
        }
        let scope_vars: &[(String, Value)] = t.scope.as_ref().map_or(&[], |s| &s.vars[..]);
        let var = |name: &str| -> Option<String> {
            (scope_vars.iter().rev())
                .chain(
                    self.containers
                        .iter()
                        .rev()
                        .flat_map(|k| k.vars.iter().rev()),
                )
                .chain(included.iter().rev())
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.as_str().map(str::to_string))
        };
        if super::readonly::why_not(&cmd, &var).is_some() {
            return None;
        }
        // What it names must be known before the probe: vars, not facts nor registered results.
        let later = |text: &str| {
            text.contains("facts.")
                || text.contains("ansible_")
                || regs.keys().any(|r| super::when::mentions(text, r))
        };
        let loop_text = t
            .loop_
            .as_ref()
            .map(crate::yaml::to_string)
            .unwrap_or_default();
        let mut chdir = t.arg_str(&["chdir"]);
        // In the new release of a `deploy_helper`, which the run makes after the probe: read in
        // the live release instead (the same site, before this run's changes).
        let mut release_note = None;
        let var = modules::deploy_helper::VAR;
        let new_release = format!("{var}.new_release_path");
        if let Some(d) = chdir.clone() {
            if d.contains(&new_release) && self.containers[c].vars.iter().any(|(k, _)| k == var) {
                chdir = Some(d.replace(&new_release, &format!("{var}.current_path")));
                release_note = Some(format!(
                    "`chdir: {d}` is the new release, which this run makes after the probe reads a \
                     gathered value: read in the live release (`{var}.current_path`) instead, before \
                     this run's changes (on a first deploy there is none: the command fails there, rc 1)"
                ));
            }
        }
        let too_late = |what: &str| {
            Some(Err(format!(
                "a read-only command whose {what} names a fact or a registered result: a gathered \
                 value is read in the probe, before those are known"
            )))
        };
        if later(&cmd) {
            return too_late("command");
        }
        if later(&loop_text) {
            return too_late("loop");
        }
        if chdir.as_deref().is_some_and(later) {
            return too_late("chdir");
        }
        let mut notes: Vec<String> = release_note.into_iter().collect();
        let (when, dropped): (Vec<&String>, Vec<&String>) = t.when.iter().partition(|w| !later(w));
        if !dropped.is_empty() {
            notes.push(format!(
                "`when: {}` not carried to the gather (a registered result or a fact, known only after the probe): the read-only command runs every time",
                dropped.iter().map(|w| w.as_str()).collect::<Vec<_>>().join(" and ")
            ));
        }
        // The include's vars it names (and those they name), as vars of the container.
        let mut text = format!("{cmd} {loop_text} {}", chdir.clone().unwrap_or_default());
        for w in &when {
            text.push(' ');
            text.push_str(w);
        }
        // Every var it names, through the values of those it names (the include's, the
        // container's, an included role's): none may name a fact or a registered result.
        let candidates: Vec<(bool, &(String, Value))> = (scope_vars.iter().map(|v| (true, v)))
            .chain(self.containers[c].vars.iter().map(|v| (false, v)))
            .chain(included.iter().map(|v| (false, v)))
            .collect();
        let mut reached: Vec<(bool, &(String, Value))> = Vec::new();
        loop {
            let more: Vec<(bool, &(String, Value))> = (candidates.iter())
                .filter(|(_, (k, _))| !reached.iter().any(|(_, (r, _))| r == k))
                .filter(|(_, (k, _))| super::when::mentions(&text, k))
                .copied()
                .collect();
            if more.is_empty() {
                break;
            }
            for (_, (_, v)) in &more {
                text.push(' ');
                text.push_str(&crate::yaml::to_string(v));
            }
            reached.extend(more);
        }
        if (reached.iter()).any(|(_, (_, v))| later(&crate::yaml::to_string(v))) {
            return too_late("var it names");
        }
        let mut carried: Vec<(String, Value)> = (reached.iter())
            .filter(|(from_scope, _)| *from_scope)
            .map(|(_, kv)| (*kv).clone())
            .collect();
        let have: BTreeSet<String> = (self.containers[c].vars.iter())
            .map(|(k, _)| k.clone())
            .collect();
        carried.retain(|(k, _)| !have.contains(k));
        if !carried.is_empty() {
            notes.push(format!(
                "its include's vars {} are the container's vars (a gather is read before any include)",
                carried.iter().map(|(k, _)| format!("`{k}`")).collect::<Vec<_>>().join(", ")
            ));
            self.add_vars(c, carried);
        }
        let mut spec = crate::yaml::Mapping::new();
        spec.insert("command".into(), Value::String(cmd));
        if let Some(d) = chdir {
            spec.insert("chdir".into(), Value::String(d));
        }
        if let Some(u) = &t.become_user {
            spec.insert("user".into(), Value::String(u.clone()));
        }
        self.store_gather(c, t, reg, spec, &when);
        Some(Ok((Outcome::Gathered(c, reg.clone()), notes)))
    }

    /// Stores gather `reg` of container `c` (replacing one of that name): `spec` with the
    /// task's `loop` (and `loop_var`) and the conditions `when` carried.
    fn store_gather(
        &mut self,
        c: usize,
        t: &Task,
        reg: &str,
        mut spec: crate::yaml::Mapping,
        when: &[&String],
    ) {
        if let Some(l) = &t.loop_ {
            spec.insert("loop".into(), l.clone());
            if let Some(v) = &t.loop_var {
                spec.insert("loop_var".into(), Value::String(v.clone()));
            }
        }
        match when {
            [] => {}
            [one] => {
                spec.insert("when".into(), Value::String((*one).clone()));
            }
            many => {
                spec.insert(
                    "when".into(),
                    Value::Sequence(many.iter().map(|w| Value::String((*w).clone())).collect()),
                );
            }
        }
        let gathers = &mut self.containers[c].gathers;
        gathers.retain(|(n, _)| n != reg);
        gathers.push((reg.to_string(), Value::Mapping(spec)));
    }

    /// A `find`, or a `stat` whose result later tasks read ([`super::found::Uses`]): a
    /// gathered value of container `c` in `find:`/`stat:` form, `local: true` on the
    /// controller. Its `loop` and `when` are carried; a `when` (or, on the host, a value)
    /// naming a fact or a registered result is not (a host's gathers are read in its first
    /// probe); one on the controller may name the controller's gathers before it (`local`).
    fn find_gather(
        &mut self,
        c: usize,
        t: &Task,
        regs: &BTreeMap<String, Reg>,
        local_regs: &BTreeSet<String>,
    ) -> Result<(Outcome, Vec<String>), String> {
        let reg = t.register.clone().ok_or("not registered")?;
        let local = super::found::reads_on_controller(t) == Some(true);
        let (key, form) = super::found::form_of(t)?;
        let known = |name: &str| local && local_regs.contains(name);
        let later = |text: &str| {
            text.contains("facts.")
                || text.contains("ansible_")
                || (regs.keys()).any(|r| !known(r) && super::when::mentions(text, r))
        };
        let loop_text = (t.loop_.as_ref())
            .map(crate::yaml::to_string)
            .unwrap_or_default();
        if later(&crate::yaml::to_string(&form)) || later(&loop_text) {
            return Err(format!(
                "a `{}` whose {} names a fact or a registered result: a gathered value is read \
                 in the probe, before those are known",
                t.module,
                if later(&loop_text) {
                    "loop"
                } else {
                    "arguments"
                }
            ));
        }
        let mut notes = Vec::new();
        let (when, dropped): (Vec<&String>, Vec<&String>) = t.when.iter().partition(|w| !later(w));
        if !dropped.is_empty() {
            notes.push(format!(
                "`when: {}` not carried to the gather (a registered result or a fact, known only after the probe): it is read every time",
                dropped.iter().map(|w| w.as_str()).collect::<Vec<_>>().join(" and ")
            ));
        }
        let mut spec = crate::yaml::Mapping::new();
        spec.insert(key.into(), form);
        if local {
            spec.insert("local".into(), Value::Bool(true));
            notes.push(
                if super::found::on_controller(t.delegate.as_deref()) == Some(true) {
                    "read by play on the controller when it resolves (`local: true`)"
                } else {
                    "its path is a folder of the project (`role_path`, `playbook_dir`): read by \
                     play on the controller when it resolves (`local: true`)"
                }
                .into(),
            );
        } else if let Some(u) = &t.become_user {
            spec.insert("user".into(), Value::String(u.clone()));
        }
        self.store_gather(c, t, &reg, spec, &when);
        Ok((Outcome::Gathered(c, reg), notes))
    }

    /// The vars of container `c` from its conditional `set_fact`s (var, conditions, value,
    /// record): one var per name, a template choosing the value of the last `set_fact` whose
    /// conditions hold, over the value the container had (none: undefined). A value Jinja
    /// cannot write as an expression leaves its records out.
    fn conditional_facts(&mut self, c: usize, facts: Vec<(String, Vec<String>, Value, usize)>) {
        let mut names: Vec<String> = Vec::new();
        for (k, ..) in &facts {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
        for name in names {
            let mine: Vec<&(String, Vec<String>, Value, usize)> =
                facts.iter().filter(|f| f.0 == name).collect();
            let base = (self.containers[c].vars.iter().rev())
                .find(|(k, _)| *k == name)
                .map(|(_, v)| super::found::expr_of(v));
            let branches: Option<Vec<(Vec<String>, String)>> = (mine.iter())
                .map(|(_, conds, v, _)| Some((conds.clone(), super::found::expr_of(v)?)))
                .collect();
            match (branches, base) {
                (Some(b), None) | (Some(b), Some(Some(_))) => {
                    let base = (self.containers[c].vars.iter().rev())
                        .find(|(k, _)| *k == name)
                        .and_then(|(_, v)| super::found::expr_of(v));
                    // `when: W` and `when: not W`: one `if … else` (trellis' `wp_installed`)
                    let v = match b.as_slice() {
                        [(w0, e0), (w1, e1)]
                            if base.is_none()
                                && complementary(&w0.join(" and "), &w1.join(" and ")) =>
                        {
                            format!("{{{{ {e1} if ({}) else {e0} }}}}", w1.join(" and "))
                        }
                        _ => super::found::chain(&b, base.as_deref()),
                    };
                    self.add_vars(c, vec![(name.clone(), Value::String(v))]);
                    for (.., r) in &mine {
                        self.records[*r].outcome = Outcome::Vars(c);
                        self.records[*r].notes.push(format!(
                            "under `when`: one var `{name}`, the value of the last of its {} `set_fact`s whose `when` holds",
                            mine.len()
                        ));
                    }
                }
                _ => {
                    for (.., r) in &mine {
                        self.records[*r].outcome = Outcome::LeftOut(
                            "set_fact under `when` of a value with `{% %}` blocks: no expression of it to choose by the condition".to_string()
                        );
                    }
                }
            }
        }
    }

    /// A `deploy_helper` task ([`modules::deploy_helper`]): its var and gathered value go to
    /// container `c` (said in `notes`, for IMPORT.md); its resources are returned.
    fn deploy_helper(&mut self, c: usize, t: &Task, notes: &mut Vec<String>) -> Mapped {
        let container = &self.containers[c];
        let known = modules::deploy_helper::Known {
            var: (container.vars.iter().rev())
                .find(|(k, _)| k == modules::deploy_helper::VAR)
                .map(|(_, v)| v),
            files: (container.items.iter())
                .filter(|i| {
                    !i.removed
                        && i.res.kind() == "file"
                        && ["state", "content", "template", "src", "copy_of"]
                            .iter()
                            .all(|k| i.res.get(k).is_none())
                })
                .map(|i| (i.res.key(), mode_text(&i.res)))
                .collect(),
        };
        let dh = match modules::deploy_helper::map(t, &known) {
            Ok(dh) => dh,
            Err(why) => return Mapped::LeftOut(why),
        };
        let place = if self.containers[c].is_role {
            format!(
                "{} (beside it: `defaults.yml`, `gather.yml`)",
                self.containers[c].file.display()
            )
        } else {
            format!(
                "{} (the play's `vars:` and `gather:`)",
                self.containers[c].file.display()
            )
        };
        if let Some((name, _)) = &dh.var {
            notes.push(format!(
                "the module's facts are the var `{name}` of {place}: `new_release` is {}, \
                 `previous_release`/`previous_release_path` the current link's target read by the \
                 gathered value `{}` in the host's first probe (before this run's changes)",
                match t.arg_str(&["release"]) {
                    Some(r) => format!("`{r}` (its `release`)"),
                    None => format!(
                        "`{{{{ {}.stamp }}}}`, the run's start (UTC, `%Y%m%d%H%M%S`): a new release every run, as Ansible's",
                        crate::resolve::RUN_TIME_VAR
                    ),
                },
                modules::deploy_helper::PREVIOUS
            ));
        }
        if let Some(var) = dh.var {
            self.containers[c].vars.retain(|(k, _)| *k != var.0);
            self.add_vars(c, vec![var]);
        }
        if let Some((name, spec)) = dh.gather {
            let gathers = &mut self.containers[c].gathers;
            gathers.retain(|(n, _)| *n != name);
            gathers.push((name, spec));
        }
        notes.extend(dh.notes);
        if let Some(key) = &dh.touched {
            let items = &mut self.containers[c].items;
            if let Some(it) = (items.iter_mut())
                .rev()
                .find(|i| !i.removed && i.res.kind() == "file" && i.res.key() == *key)
            {
                let mut r =
                    modules::deploy_helper::marker_touch(key, mode_text(&it.res).as_deref());
                for k in ["owner", "group"] {
                    if let Some(v) = it.res.get(k) {
                        r.notes.push(format!(
                            "`{k}: {}` not carried (a `touch` command)",
                            crate::yaml::to_string(v).trim()
                        ));
                    }
                }
                it.res = r;
            }
        }
        if dh.resources.is_empty() {
            Mapped::Vars(Vec::new())
        } else {
            Mapped::Resources(dh.resources)
        }
    }

    /// Converts a flattened task list into container `c`'s resources.
    pub fn tasks(&mut self, c: usize, entries: Vec<Entry>, reader: &Reader, inl: &mut Inlined) {
        let mut regs: BTreeMap<String, Reg> = BTreeMap::new();
        let mut reg_record: BTreeMap<String, usize> = BTreeMap::new();
        // `stat`s with a loop (and no loop var of their own): their loop, by register
        let mut stat_loops: BTreeMap<String, Value> = BTreeMap::new();
        let read_outputs = stdout_readers(&entries);
        // `find`s and `stat`s whose results later tasks read: gathered values
        let mut uses = super::found::Uses::of(&entries);
        // A stat loop whose `results` a later loop reads only for its items (the idiom of
        // `loop_of_stat`) stays that idiom.
        let looped_stats: BTreeMap<String, Value> = (entries.iter())
            .filter_map(|e| match e {
                Entry::Task(t) if t.module == "stat" && t.loop_var.is_none() => {
                    Some((t.register.clone()?, t.loop_.clone()?))
                }
                _ => None,
            })
            .collect();
        for e in &entries {
            if let Entry::Task(t) = e {
                if let Some((reg, _)) = loop_of_stat(t, &looped_stats, &self.ctx) {
                    uses.in_values.remove(&reg);
                }
            }
        }
        let mut local_regs: BTreeSet<String> = BTreeSet::new();
        // conditional `set_fact`s: (var, conditions, value, record)
        let mut cond_facts: Vec<(String, Vec<String>, Value, usize)> = Vec::new();
        let mut debian_note: Option<String> = None;
        for e in entries {
            let mut t = match e {
                Entry::Note(n) => {
                    self.note(n, false);
                    continue;
                }
                Entry::Task(t) => *t,
            };
            let title = t.title();
            if t.module == "include_vars" && !t.first_found.is_empty() {
                t.unsupported_loop = None;
            }
            let gathered_here = uses.gathers(&t);
            let left_out = (t.unsupported_loop.as_ref())
                .map(|l| format!("loop form `{l}` has no play equivalent"))
                .or_else(|| (!gathered_here).then(|| t.runs_elsewhere()).flatten());
            if let Some(why) = left_out {
                let r = self.record(
                    &t.file,
                    t.line,
                    title,
                    &t.module,
                    false,
                    Outcome::LeftOut(why),
                );
                self.records[r]
                    .notes
                    .extend(t.dropped.iter().map(|d| format!("`{d}` not carried")));
                if let Some(reg) = &t.register {
                    regs.insert(reg.clone(), Reg::Other);
                }
                continue;
            }
            // The file of an include_vars as written (`{{ ansible_os_family }}.yml`), before
            // its facts are rewritten to play's.
            let vars_file = (t.module == "include_vars")
                .then(|| {
                    t.free
                        .clone()
                        .or_else(|| t.arg_str(&["file", "_raw_params"]))
                })
                .flatten();
            let mut notes = Notes::default();
            rewrite_task(&mut t, &mut notes);
            self.containers[c].template_notes.extend(notes);
            // A `find` or read `stat`: a gathered value.
            if gathered_here {
                let reg = t.register.clone().unwrap_or_default();
                let (out, notes) = match self.find_gather(c, &t, &regs, &local_regs) {
                    Ok((out, notes)) => {
                        regs.insert(reg.clone(), Reg::Gathered);
                        if super::found::reads_on_controller(&t) == Some(true) {
                            local_regs.insert(reg);
                        }
                        (out, notes)
                    }
                    Err(why) => {
                        regs.insert(reg, Reg::Other);
                        (Outcome::LeftOut(why), Vec::new())
                    }
                };
                let r = self.record_task(&t, title, out);
                self.records[r].notes.extend(notes);
                continue;
            }
            // A `set_fact` of a value a step made at run time (not a gathered value): no var.
            if t.module == "set_fact" && t.loop_.is_none() {
                let text = format!(
                    "{} {}",
                    (t.args.iter())
                        .map(|(_, v)| crate::yaml::to_string(v))
                        .collect::<Vec<_>>()
                        .join(" "),
                    t.when.join(" ")
                );
                let made = (regs.iter())
                    .find(|(n, r)| !matches!(r, Reg::Gathered) && super::when::mentions(&text, n));
                if let Some((n, _)) = made {
                    let why = format!(
                        "set_fact of a value made at run time (`{n}`, the result of a step play does not gather): no var has it before the run"
                    );
                    let out = Outcome::LeftOut(why);
                    self.record_task(&t, title, out);
                    continue;
                }
                if !t.when.is_empty() && defaulting_set_fact(&t).is_none() {
                    let r = self.record_task(&t, title, Outcome::Vars(c));
                    let mut notes = Notes::default();
                    for (k, v) in t.args.iter().filter(|(k, _)| k != "cacheable") {
                        let v = rewrite_value(v, &mut notes);
                        cond_facts.push((k.clone(), t.when.clone(), v, r));
                    }
                    continue;
                }
            }
            // Guards and vars that are not resources.
            if t.module == "stat" {
                if let (Some(reg), Some(path)) = (&t.register, t.arg_str(&["path", "name", "dest"]))
                {
                    regs.insert(reg.clone(), Reg::Stat(path));
                    if let (Some(l), None) = (&t.loop_, &t.loop_var) {
                        stat_loops.insert(reg.clone(), l.clone());
                    }
                    let r = self.record(
                        &t.file,
                        t.line,
                        title,
                        &t.module,
                        false,
                        Outcome::LeftOut("`stat` whose result no task uses as a guard".into()),
                    );
                    reg_record.insert(reg.clone(), r);
                    continue;
                }
            }
            // A registered read-only command: a gathered value (or a fact it prints).
            let gathered = match self.gather_of(c, &t, &regs, &inl.vars) {
                Some(Err(why)) => {
                    self.record(
                        &t.file,
                        t.line,
                        title,
                        &t.module,
                        false,
                        Outcome::LeftOut(why),
                    );
                    if let Some(reg) = &t.register {
                        regs.insert(reg.clone(), Reg::Other);
                    }
                    continue;
                }
                Some(Ok(g)) => Some(g),
                None => None,
            };
            if let Some((out, notes)) = gathered {
                if let Some(reg) = &t.register {
                    regs.insert(reg.clone(), Reg::Gathered);
                }
                let note = matches!(out, Outcome::Vars(_)).then(|| {
                    format!(
                        "`{}` prints a fact: the var's `stdout` is that fact",
                        t.free
                            .clone()
                            .or_else(|| t.arg_str(&["cmd"]))
                            .unwrap_or_default()
                            .trim()
                    )
                });
                let r = self.record_task(&t, title, out);
                self.records[r].notes.extend(note);
                self.records[r].notes.extend(notes);
                continue;
            }
            let output_read = t
                .register
                .as_ref()
                .is_some_and(|r| read_outputs.contains(r));
            if (t.never_changes || output_read)
                && t.register.is_some()
                && matches!(t.module.as_str(), "command" | "shell")
            {
                if let (Some(reg), Some(cmd)) =
                    (&t.register, t.free.clone().or_else(|| t.arg_str(&["cmd"])))
                {
                    regs.insert(
                        reg.clone(),
                        Reg::Check {
                            cmd,
                            chdir: t.arg_str(&["chdir"]),
                        },
                    );
                    let why = if output_read {
                        format!("a command whose output later tasks read (`{reg}.stdout`): play has no registered results (set the value as a var, or compute it in a template)")
                    } else {
                        "a read-only check (`changed_when: false`) whose result no task uses as a guard".to_string()
                    };
                    let r = self.record(
                        &t.file,
                        t.line,
                        title,
                        &t.module,
                        false,
                        Outcome::LeftOut(why),
                    );
                    reg_record.insert(reg.clone(), r);
                    continue;
                }
            }
            // `set_fact: {X: V}` with `when: X is not defined`: a default of X (Ansible sets it
            // only when nothing did), kept unless the role or play already sets X.
            if t.module == "set_fact" && t.loop_.is_none() {
                if let Some(v) = defaulting_set_fact(&t) {
                    let have: BTreeSet<String> = (self.containers[c].vars.iter())
                        .map(|(k, _)| k.clone())
                        .collect();
                    let v: Vec<(String, Value)> =
                        v.into_iter().filter(|(k, _)| !have.contains(k)).collect();
                    self.add_vars(c, v);
                    let r = self.record_task(&t, title, Outcome::Vars(c));
                    self.records[r]
                        .notes
                        .push("under `when: X is not defined`: a default of X".into());
                    continue;
                }
            }
            if t.module == "include_vars" {
                let f = vars_file;
                let here = reader.root.join(&t.file);
                let dir = here.parent().unwrap_or(reader.root).to_path_buf();
                let mut dirs = vec![dir.clone(), dir.join("..").join("vars")];
                let mut only_paths = false;
                // `{{ item }}` over `with_first_found`, or `lookup('first_found', params)` with
                // the params in the task's `vars`; else the one file named.
                let candidates: Vec<String> = match &f {
                    Some(f) if f.replace(' ', "") == "{{item}}" => t.first_found.clone(),
                    Some(f) => match first_found_lookup(f, &t.first_found_params) {
                        Some((files, paths)) => {
                            let pb = reader.playbook_dir.to_string_lossy().into_owned();
                            // Given `paths`, first_found looks only there.
                            if !paths.is_empty() {
                                dirs.clear();
                                only_paths = true;
                            }
                            // Relative paths start at the role's folder.
                            dirs.extend(paths.iter().map(|p| {
                                dir.join("..").join(
                                    p.replace("{{ playbook_dir }}", &pb)
                                        .replace("{{playbook_dir}}", &pb),
                                )
                            }));
                            files
                        }
                        None => vec![f.clone()],
                    },
                    None => Vec::new(),
                };
                if !only_paths {
                    dirs.push(reader.playbook_dir.clone());
                }
                let out = match pick_first_found(&candidates, &dirs) {
                    Ok((p, note)) => {
                        debian_note = note;
                        match reader.vars_file(&p, inl) {
                            Ok(v) => {
                                self.add_vars(c, v);
                                Outcome::Vars(c)
                            }
                            Err(e) => Outcome::LeftOut(format!("vars file unreadable: {e}")),
                        }
                    }
                    Err(why) => Outcome::LeftOut(why),
                };
                let r = self.record_task(&t, title, out);
                self.records[r].notes.extend(debian_note.take());
                continue;
            }
            if let Some((reg, t2)) = loop_of_stat(&t, &stat_loops, &self.ctx) {
                t = t2;
                if let Some(&r) = reg_record.get(&reg) {
                    self.records[r].outcome = Outcome::Absorbed(format!(
                        "its loop is the loop of `{title}` ({}), which looped over its results",
                        t.location()
                    ));
                }
            }
            // when → kept conditions and guards
            let mut keep = Vec::new();
            let mut guards = Vec::new();
            let mut cond_notes = Vec::new();
            let parts: Vec<String> = t
                .when
                .iter()
                .flat_map(|w| super::when::split_and(w))
                .collect();
            for w in &parts {
                match translate(w, &regs) {
                    Cond::Keep(k) => keep.push(k),
                    Cond::Drop(why) => cond_notes.push(why),
                    g => {
                        // the registering stat/check is now a guard
                        for (name, r) in &reg_record {
                            if super::when::translate(
                                w,
                                &BTreeMap::from([(name.clone(), regs[name].clone())]),
                            ) != Cond::Keep(w.trim().to_string())
                            {
                                self.records[*r].outcome = Outcome::Absorbed(format!(
                                    "a guard of `{}` ({})",
                                    title,
                                    t.location()
                                ));
                            }
                        }
                        guards.push((w.clone(), g))
                    }
                }
            }
            let mut dh_notes = Vec::new();
            let mapped = if t.module == "deploy_helper" {
                self.deploy_helper(c, &t, &mut dh_notes)
            } else {
                map_task(&t, &self.ctx)
            };
            let rec = self.record(
                &t.file,
                t.line,
                title.clone(),
                &t.module,
                false,
                Outcome::LeftOut(String::new()),
            );
            self.records[rec].notes.extend(cond_notes);
            self.records[rec].notes.extend(dh_notes);
            self.records[rec].notes.extend(
                t.dropped
                    .iter()
                    .filter(|d| d.as_str() != "vars")
                    .map(|d| format!("`{d}` not carried")),
            );
            if t.dropped.iter().any(|d| d == "vars") {
                self.records[rec]
                    .notes
                    .push("task `vars:` not carried (not a mapping)".into());
            }
            let scope = t.scope.clone().map(|mut s| {
                let mut notes = Notes::default();
                s.vars = (s.vars.iter())
                    .map(|(k, v)| (k.clone(), rewrite_value(v, &mut notes)))
                    .collect();
                self.containers[c].template_notes.extend(notes);
                s
            });
            match mapped {
                Mapped::LeftOut(why) => {
                    self.records[rec].outcome = Outcome::LeftOut(why);
                    if let Some(reg) = &t.register {
                        regs.insert(reg.clone(), Reg::Other);
                    }
                }
                Mapped::Vars(v) => {
                    self.add_vars(c, v);
                    self.records[rec].outcome = Outcome::Vars(c);
                }
                Mapped::Resources(rs) => {
                    let mut placed = Vec::new();
                    let mut first_keys = None;
                    for mut r in rs {
                        let kind = r.kind().to_string();
                        // a resource with a loop or a `when` of its own (a role folded into
                        // one task: `modules::ruby::map_rvm_role`)
                        let own_loop = r.take("loop");
                        let own_when: Vec<String> = match r.take("when") {
                            Some(Value::String(w)) => vec![w],
                            Some(Value::Sequence(ws)) => (ws.iter())
                                .filter_map(|w| w.as_str().map(str::to_string))
                                .collect(),
                            _ => Vec::new(),
                        };
                        if let Some(u) = &t.become_user {
                            match kind.as_str() {
                                "command" | "venv" if r.get("user").is_none() => {
                                    r.set("user", u.clone())
                                }
                                "file" | "directory" | "link" | "sync"
                                    if r.get("owner").is_none() =>
                                {
                                    r.set("owner", u.clone())
                                }
                                _ => {}
                            }
                        }
                        for (w, g) in &guards {
                            match (kind.as_str(), g) {
                                ("command", Cond::Creates(p))
                                    if r.get("creates").is_none()
                                        && (p.starts_with('/') || p.starts_with("{{")) =>
                                {
                                    r.set("creates", p.clone())
                                }
                                ("command", Cond::Creates(p)) if !p.starts_with('/') && !p.starts_with("{{") => {
                                    // `~/x`: the shell resolves it
                                    add_unless(&mut r, &format!("test -e {p}"))
                                }
                                ("command", Cond::Creates(p)) => add_unless(&mut r, &format!("test -e {}", modules::sh_quote(p))),
                                ("command", Cond::Unless(u)) => add_unless(&mut r, u),
                                ("command", Cond::OnChange(keys)) => keys.iter().for_each(|k| r.watch("on_change", k)),
                                ("service", Cond::OnChange(keys)) => keys.iter().for_each(|k| r.watch("restart_on", k)),
                                _ => r.notes.push(format!(
                                    "`when: {}` dropped (a registered result; a {kind} has no such guard)",
                                    w.trim()
                                )),
                            }
                        }
                        carry_environment(&t, &mut r);
                        if t.no_log && kind != "package" {
                            r.set("sensitive", true);
                        }
                        let mut loop_ = own_loop.or_else(|| t.loop_.clone());
                        // `package: "{{ item }}"` over a literal list: the list itself.
                        if kind == "package" {
                            if let (Some(Value::Sequence(list)), Value::String(k)) =
                                (&loop_, &r.fields[0].1)
                            {
                                if k.replace(' ', "") == "{{item}}"
                                    && list
                                        .iter()
                                        .all(|v| v.as_str().is_some_and(|s| !s.contains("{{")))
                                {
                                    r.fields[0].1 = Value::Sequence(list.clone());
                                    loop_ = None;
                                }
                            }
                        }
                        if first_keys.is_none() {
                            first_keys = Some(if loop_.is_some() {
                                Vec::new()
                            } else {
                                r.watch_keys()
                            });
                        }
                        let item = Item {
                            res: r,
                            source: rec,
                            loop_,
                            loop_var: t.loop_var.clone(),
                            when: keep.iter().chain(&own_when).cloned().collect(),
                            tags: t.tags.clone(),
                            notify: t.notify.clone(),
                            removed: false,
                            line: 0,
                            title: title.clone(),
                            scope: scope.clone(),
                            out_file: None,
                        };
                        self.containers[c].items.push(item);
                        placed.push((c, self.containers[c].items.len() - 1));
                    }
                    if let Some(reg) = &t.register {
                        regs.insert(reg.clone(), Reg::Resource(first_keys.unwrap_or_default()));
                    }
                    self.records[rec].outcome = Outcome::Items(placed);
                }
            }
        }
        self.conditional_facts(c, cond_facts);
    }

    /// Handlers of container `hc` (its `handlers`), notified by the items listed: each becomes
    /// `restart_on`/`reload_on` of a service, or an `on_change` command. Notifications resolved
    /// here are removed from the items.
    pub fn handlers(&mut self, hc: usize, notifiers: &[(usize, usize)], services_in: &[usize]) {
        let handlers = std::mem::take(&mut self.containers[hc].handlers);
        // First the keys each handler watches (its notifiers'), then handlers notifying
        // handlers pass theirs on, then each handler becomes what it is.
        struct H {
            t: Task,
            rec: usize,
            names: Vec<String>,
            keys: Vec<String>,
            any: bool,
        }
        let mut hs: Vec<H> = Vec::new();
        for e in handlers {
            let mut t = match e {
                Entry::Note(n) => {
                    self.note(n, true);
                    continue;
                }
                Entry::Task(t) => *t,
            };
            let mut notes = Notes::default();
            rewrite_task(&mut t, &mut notes);
            self.containers[hc].template_notes.extend(notes);
            let mut names: Vec<String> = t.name.iter().cloned().collect();
            names.extend(t.listen.iter().cloned());
            let rec = self.record(
                &t.file,
                t.line,
                t.title(),
                &t.module,
                true,
                Outcome::LeftOut(String::new()),
            );
            let mut keys: Vec<String> = Vec::new();
            let mut looped = Vec::new();
            let mut any = false;
            for &(c, i) in notifiers {
                let item = &mut self.containers[c].items[i];
                if item.removed || !item.notify.iter().any(|n| names.contains(n)) {
                    continue;
                }
                item.notify.retain(|n| !names.contains(n));
                any = true;
                if item.loop_.is_some() {
                    looped.push(item.title.clone());
                    continue;
                }
                if matches!(item.res.kind(), "service" | "program") {
                    looped.push(format!(
                        "{} (a {}: cannot be watched)",
                        item.title,
                        item.res.kind()
                    ));
                    continue;
                }
                for k in item.res.watch_keys() {
                    if !keys.contains(&k) {
                        keys.push(k);
                    }
                }
            }
            if !looped.is_empty() {
                self.records[rec].notes.push(format!(
                    "not watched (a loop gives one key per item; list them in `restart_on` by hand): {}",
                    looped.join("; ")
                ));
            }
            hs.push(H {
                t,
                rec,
                names,
                keys,
                any,
            });
        }
        // handler → handler notifications, to a fixed point
        for _ in 0..hs.len() {
            let mut changed = false;
            for a in 0..hs.len() {
                if !hs[a].any || hs[a].t.notify.is_empty() {
                    continue;
                }
                for b in 0..hs.len() {
                    if a == b || !hs[b].names.iter().any(|n| hs[a].t.notify.contains(n)) {
                        continue;
                    }
                    let from = hs[a].keys.clone();
                    let title = hs[a].t.title();
                    let hb = &mut hs[b];
                    if !hb.any {
                        hb.any = true;
                        changed = true;
                        self.records[hb.rec]
                            .notes
                            .push(format!("notified by handler `{title}`"));
                    }
                    for k in from {
                        if !hb.keys.contains(&k) {
                            hb.keys.push(k);
                            changed = true;
                        }
                    }
                }
            }
            if !changed {
                break;
            }
        }
        for H {
            t, rec, keys, any, ..
        } in hs
        {
            let title = t.title();
            if !any {
                self.records[rec].outcome = Outcome::LeftOut("never notified".into());
                continue;
            }
            if let Some(why) = t.runs_elsewhere() {
                self.records[rec].outcome = Outcome::LeftOut(why);
                continue;
            }
            if t.module == "debug" && !t.notify.is_empty() {
                self.records[rec].outcome = Outcome::Absorbed(
                    "passes its notifications on to the handlers it notifies".into(),
                );
                continue;
            }
            if keys.is_empty() {
                self.records[rec].outcome =
                    Outcome::LeftOut("its notifiers cannot be watched".into());
                continue;
            }
            let state = t.arg_str(&["state"]);
            let is_service = matches!(
                t.module.as_str(),
                "service" | "systemd" | "systemd_service" | "sysvinit"
            );
            if is_service
                && matches!(
                    state.as_deref(),
                    Some("restarted") | Some("reloaded") | None
                )
            {
                let Some(name) = t.arg_str(&["name", "unit", "service"]) else {
                    self.records[rec].outcome =
                        Outcome::LeftOut("service handler without `name`".into());
                    continue;
                };
                let field = if state.as_deref() == Some("reloaded") {
                    "reload_on"
                } else {
                    "restart_on"
                };
                // A looped handler (`rocketchat@{{ item }}` over a list) is a looped service
                // of its own.
                let found = std::iter::once(hc)
                    .chain(services_in.iter().copied())
                    .filter(|_| t.loop_.is_none())
                    .find_map(|c| {
                        self.containers[c]
                            .items
                            .iter()
                            .position(|it| {
                                !it.removed
                                    && it.res.kind() == "service"
                                    && same_unit(&it.res.key(), &name)
                                    && it.loop_.is_none()
                            })
                            .map(|i| (c, i))
                    });
                let (c, i) = match found {
                    Some(p) => {
                        if p.0 != hc {
                            self.watched_by_plays.insert(p.0);
                        }
                        p
                    }
                    None => {
                        let r = Res {
                            fields: vec![("service".into(), Value::String(name.clone()))],
                            native: true,
                            comments: Vec::new(),
                            notes: Vec::new(),
                        };
                        self.containers[hc].items.push(Item {
                            res: r,
                            source: rec,
                            loop_: t.loop_.clone(),
                            loop_var: t.loop_var.clone(),
                            when: t.when.clone(),
                            tags: Vec::new(),
                            notify: Vec::new(),
                            removed: false,
                            line: 0,
                            title: format!("handler: {title}"),
                            scope: None,
                            out_file: None,
                        });
                        (hc, self.containers[hc].items.len() - 1)
                    }
                };
                for k in &keys {
                    self.containers[c].items[i].res.watch(field, k);
                }
                self.records[rec].outcome = Outcome::Items(vec![(c, i)]);
                continue;
            }
            match map_task(&t, &self.ctx) {
                Mapped::Resources(rs) => {
                    let mut placed = Vec::new();
                    for mut r in rs {
                        let absent = r.get("state").and_then(|v| v.as_str()) == Some("absent");
                        if absent && matches!(r.kind(), "file" | "directory" | "link") {
                            // removing on notification only: a command, not a declared absence
                            let path = modules::sh_quote(&r.key());
                            let mut c = Res {
                                fields: vec![(
                                    "command".into(),
                                    Value::String(format!("rm -rf {path}")),
                                )],
                                native: false,
                                comments: vec![modules::not_native(
                                    "a notified `file: state=absent`",
                                )],
                                notes: Vec::new(),
                            };
                            std::mem::swap(&mut r, &mut c);
                        }
                        if r.kind() == "command" {
                            for k in &keys {
                                r.watch("on_change", k);
                            }
                            if let Some(u) = &t.become_user {
                                r.set("user", u.clone());
                            }
                            carry_environment(&t, &mut r);
                        } else if r.kind() != "service" {
                            self.records[rec].outcome = Outcome::LeftOut(format!(
                                "a handler declaring a {} (play applies what it declares on every run, not when notified)",
                                r.kind()
                            ));
                            continue;
                        } else {
                            r.notes.push("a handler that starts a service: declared, so applied on every run".into());
                        }
                        self.containers[hc].items.push(Item {
                            res: r,
                            source: rec,
                            loop_: t.loop_.clone(),
                            loop_var: t.loop_var.clone(),
                            when: t.when.clone(),
                            tags: Vec::new(),
                            notify: Vec::new(),
                            removed: false,
                            line: 0,
                            title: format!("handler: {title}"),
                            scope: None,
                            out_file: None,
                        });
                        placed.push((hc, self.containers[hc].items.len() - 1));
                    }
                    if !placed.is_empty() {
                        self.records[rec].outcome = Outcome::Items(placed);
                    }
                }
                Mapped::LeftOut(why) => self.records[rec].outcome = Outcome::LeftOut(why),
                Mapped::Vars(_) => {
                    self.records[rec].outcome = Outcome::LeftOut("set_fact as a handler".into())
                }
            }
        }
    }

    /// Merges items of container `c` that declare one thing twice (Ansible runs both tasks in
    /// order). A command or venv with the same key, loop and `when` keeps the later place (what
    /// it reads is declared before it). Other kinds, with the same key, loop and scope, merge as
    /// [`merge::decide`] says: attributes that do not contradict each other, at the earlier
    /// place unless the later one's must not come before the steps between; contradicting ones
    /// stay apart, noted, for `play check` to report. Two key texts the container's vars make
    /// one path: the one that adds nothing is skipped while they are ([`Self::guard_aliases`]).
    pub fn dedupe(&mut self, c: usize) {
        let mut seen: HashMap<String, Vec<usize>> = HashMap::new();
        let n = self.containers[c].items.len();
        for i in 0..n {
            if self.containers[c].items[i].removed {
                continue;
            }
            let key = self.containers[c].items[i].dedupe_key();
            if matches!(self.containers[c].items[i].res.kind(), "command" | "venv") {
                let Some(&j) = seen.get(&key).and_then(|l| l.last()) else {
                    seen.insert(key, vec![i]);
                    continue;
                };
                if let Some(keep) = self.merge_run(c, j, i) {
                    seen.insert(key, vec![keep]);
                }
                continue;
            }
            let candidates = seen.get(&key).cloned().unwrap_or_default();
            let mut merged = None;
            for j in candidates {
                match self.decide_pair(c, j, i) {
                    merge::Decision::Merge { when, at_later } => {
                        let (keep, drop) = if at_later.is_some() { (i, j) } else { (j, i) };
                        self.containers[c].items[keep].when = when;
                        let place = match &at_later {
                            Some(why) => format!("at the later place: {why}"),
                            None => "at the earlier place".into(),
                        };
                        self.merge_items(c, keep, drop, &place);
                        merged = Some((j, keep));
                        break;
                    }
                    merge::Decision::Apart(why) => self.note_item(c, i, &why),
                    merge::Decision::Guard { .. } | merge::Decision::Unrelated => {}
                }
            }
            let list = seen.entry(key).or_default();
            match merged {
                Some((j, keep)) => {
                    list.retain(|&x| x != j);
                    list.push(keep);
                }
                None => list.push(i),
            }
        }
        self.guard_aliases(c);
        self.drop_bare_repeats(c);
        self.drop_repeated_package_names(c);
        self.fold_files_into_edits(c);
    }

    /// A command or venv declared again (same key, loop and `when`): merged at the later place;
    /// a venv's second requirements file becomes its pip command instead (None: nothing
    /// merged). Returns the kept item.
    fn merge_run(&mut self, c: usize, j: usize, i: usize) -> Option<usize> {
        // a venv's second requirements file: pip run on it, the venv kept once
        let reqs = |x: usize| {
            self.containers[c].items[x]
                .res
                .get("requirements")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        if self.containers[c].items[i].res.kind() == "venv" {
            if let (Some(a), Some(b)) = (reqs(j), reqs(i)) {
                if a != b {
                    let it = &mut self.containers[c].items[i];
                    let pip = format!("{}/bin/pip", it.res.key().trim_end_matches('/'));
                    let mut r = Res {
                        fields: vec![(
                            "command".into(),
                            Value::String(format!("{pip} install -r {}", modules::sh_quote(&b))),
                        )],
                        native: false,
                        comments: vec![
                            "play import: pip → command (a second requirements file of a venv declared before)".into(),
                        ],
                        notes: it.res.notes.clone(),
                    };
                    if let Some(u) = it.res.get("user") {
                        r.set("user", u.clone());
                    }
                    it.res = r;
                    return None;
                }
            }
        }
        self.merge_items(c, i, j, "at the later place");
        Some(i)
    }

    /// What [`merge::decide`] says of items `j` before `i` of container `c`.
    fn decide_pair(&self, c: usize, j: usize, i: usize) -> merge::Decision {
        let items = &self.containers[c].items;
        let live = |r: std::ops::Range<usize>| -> Vec<&Item> {
            items[r].iter().filter(|x| !x.removed).collect()
        };
        let earlier_label = match self.records.get(items[j].source) {
            Some(r) => format!("`{}` ({}:{})", items[j].title, r.file.display(), r.line),
            None => format!("`{}`", items[j].title),
        };
        merge::decide(&merge::Pair {
            earlier: &items[j],
            later: &items[i],
            earlier_label,
            between: live(j + 1..i),
            before: live(0..j),
            vars: &self.containers[c].vars,
        })
    }

    /// Item `drop` of container `c` merged into `keep` (its attributes, watch lists, notifies,
    /// notes and tags); the records pointing at it point at `keep`, saying so and where
    /// (`place`). The later item's values win where both give one (the callers merge only
    /// equal ones, but for a command's).
    fn merge_items(&mut self, c: usize, keep: usize, drop: usize, place: &str) {
        let dropped = self.containers[c].items[drop].clone();
        let kept = &mut self.containers[c].items[keep];
        // a folder's own mode merged with a recursive owner (`chown -R`): play's
        // `recurse` would set that mode on every path below too, which the source does not
        let recursive = |r: &modules::Res| r.get("recurse") == Some(&Value::Bool(true));
        let folder_mode = match (recursive(&kept.res), recursive(&dropped.res)) {
            (true, false) if kept.res.get("mode").is_none() => dropped.res.get("mode"),
            (false, true) if dropped.res.get("mode").is_none() => kept.res.get("mode"),
            _ => None,
        }
        .cloned();
        let cron = kept.res.comments.iter().any(|c| c.contains("cron"));
        for (k, v) in dropped.res.fields.iter().skip(1) {
            match (k.as_str(), kept.res.get(k).cloned(), v) {
                ("restart_on" | "reload_on" | "on_change", _, Value::Sequence(list)) => {
                    for x in list.iter().filter_map(|x| x.as_str()) {
                        kept.res.watch(k, x);
                    }
                }
                // a venv's packages and pip arguments add up
                ("packages" | "pip_args", Some(Value::Sequence(_)), Value::Sequence(list)) => {
                    for x in list.iter().filter_map(|x| x.as_str()) {
                        kept.res.watch(k, x);
                    }
                }
                ("content", Some(Value::String(a)), Value::String(b)) if cron && &a != b => {
                    let (first, second) = if keep < drop {
                        (a.clone(), b.clone())
                    } else {
                        (b.clone(), a.clone())
                    };
                    kept.res.set("content", format!("{first}{second}"));
                }
                _ if keep < drop => kept.res.set(k, v.clone()),
                _ => {
                    if kept.res.get(k).is_none() {
                        kept.res.set(k, v.clone());
                    }
                }
            }
        }
        for n in dropped.notify {
            if !kept.notify.contains(&n) {
                kept.notify.push(n);
            }
        }
        if let Some(m) = folder_mode {
            kept.res.fields.retain(|(k, _)| k != "mode");
            kept.res.notes.push(format!(
                "mode `{}` of the folder itself not carried: merged with a recursive owner, \
                 and play's `recurse` sets the mode of every path below too",
                crate::yaml::to_string(&m).trim()
            ));
        }
        kept.add_tags(&dropped.tags);
        let kept_title = kept.title.clone();
        self.containers[c].items[drop].removed = true;
        // records pointing at the dropped item now point at the kept one
        for r in &mut self.records {
            if let Outcome::Items(list) = &mut r.outcome {
                for p in list.iter_mut() {
                    if *p == (c, drop) {
                        *p = (c, keep);
                        // what was not carried of its task stays on its own row
                        for n in &dropped.res.notes {
                            if !r.notes.contains(n) {
                                r.notes.push(n.clone());
                            }
                        }
                        r.notes.push(format!(
                            "merged with `{kept_title}` (same {} declared twice), {place}",
                            dropped.res.kind()
                        ));
                    }
                }
            }
        }
    }

    /// Two items of container `c` of one kind (no loop, same scope) whose key texts differ but
    /// the container's vars make one path (RocketChat's backup folder, whose var defaults to
    /// the application folder's): the one that adds nothing gets a `when` skipping it while
    /// they are one path ([`merge::decide`]), else both stay, noted.
    fn guard_aliases(&mut self, c: usize) {
        let vars = self.containers[c].vars.clone();
        let n = self.containers[c].items.len();
        let mut guarded: Vec<usize> = Vec::new();
        for i in 0..n {
            let it = &self.containers[c].items[i];
            if it.removed || it.loop_.is_some() || matches!(it.res.kind(), "command" | "venv") {
                continue;
            }
            let path = merge::resolve_vars(&vars, &it.res.key());
            let alias = |o: &Item| {
                !o.removed
                    && o.loop_.is_none()
                    && o.res.kind() == it.res.kind()
                    && o.scope_id() == it.scope_id()
                    && o.edit_identity() == it.edit_identity()
                    && merge::canonical(&o.res.key()) != merge::canonical(&it.res.key())
                    && merge::resolve_vars(&vars, &o.res.key()) == path
            };
            let earlier: Vec<usize> = (0..i)
                .filter(|j| !guarded.contains(j) && alias(&self.containers[c].items[*j]))
                .collect();
            for j in earlier {
                match self.decide_pair(c, j, i) {
                    merge::Decision::Guard { earlier, guard } => {
                        let (g, other) = if earlier { (j, i) } else { (i, j) };
                        let items = &mut self.containers[c].items;
                        items[g].when.push(guard.clone());
                        guarded.push(g);
                        let (gk, ok) = (items[g].res.key(), items[other].res.key());
                        let other_title = items[other].title.clone();
                        let g_title = items[g].title.clone();
                        self.note_item(
                            c,
                            g,
                            &format!(
                                "`{gk}` and `{ok}` are one path with the vars of the project \
                                 (`{path}`), declared by `{other_title}`, which sets what this \
                                 sets: `when: {guard}` added, so this is skipped while they are \
                                 one path (play declares a path once) and declared where an \
                                 inventory or `-e` makes them two"
                            ),
                        );
                        self.note_item(
                            c,
                            other,
                            &format!(
                                "declares `{path}` for `{g_title}` too while the vars make \
                                 `{gk}` that path"
                            ),
                        );
                        break;
                    }
                    merge::Decision::Apart(why) => self.note_item(c, i, &why),
                    merge::Decision::Merge { .. } | merge::Decision::Unrelated => {}
                }
            }
        }
    }

    /// Adds `note` to the records of item `i` of container `c`.
    fn note_item(&mut self, c: usize, i: usize, note: &str) {
        for r in &mut self.records {
            if let Outcome::Items(list) = &r.outcome {
                if list.contains(&(c, i)) && !r.notes.iter().any(|n| n == note) {
                    r.notes.push(note.to_string());
                }
            }
        }
    }

    /// Names of a `package:` that a package resource before it in the container declares
    /// unconditionally, with the same `state` (mangaki's `git`, in the packages of every host and
    /// again in those of develop hosts): Ansible's second task finds them done, and play lets
    /// one resource own a package; they go from the later resource (which goes when none is
    /// left, unless it refreshes the lists first).
    fn drop_repeated_package_names(&mut self, c: usize) {
        let n = self.containers[c].items.len();
        for i in 0..n {
            let it = &self.containers[c].items[i];
            if it.removed || it.res.kind() != "package" || it.loop_.is_some() {
                continue;
            }
            let names = it.res.watch_keys();
            let state = it.res.get("state").cloned();
            let scope = it.scope.as_ref().map(|s| s.id);
            let mut covered: Vec<(String, usize)> = Vec::new();
            for name in &names {
                let by = (0..i).find(|&j| {
                    let o = &self.containers[c].items[j];
                    !o.removed
                        && o.res.kind() == "package"
                        && o.loop_.is_none()
                        && o.when.is_empty()
                        && o.scope.as_ref().map(|s| s.id) == scope
                        && o.res.get("state").cloned() == state
                        && o.res.watch_keys().contains(name)
                });
                if let Some(j) = by {
                    covered.push((name.clone(), j));
                }
            }
            if covered.is_empty() {
                continue;
            }
            let kept: Vec<Value> = (names.iter())
                .filter(|n| !covered.iter().any(|(c, _)| c == *n))
                .map(|n| Value::String(n.clone()))
                .collect();
            let refreshes = it.res.get("update_cache").is_some();
            if kept.is_empty() && refreshes {
                continue;
            }
            let tags = it.tags.clone();
            for (_, j) in &covered {
                self.containers[c].items[*j].add_tags(&tags);
            }
            let j = covered[0].1;
            let why = format!(
                "package(s) {} declared before by `{}` with the same state: kept there",
                covered
                    .iter()
                    .map(|(n, _)| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                self.containers[c].items[j].title
            );
            if kept.is_empty() {
                self.containers[c].items[i].removed = true;
                self.redirect(c, i, Some(j), &why);
            } else {
                let item = &mut self.containers[c].items[i];
                item.res.fields[0].1 = match kept.len() {
                    1 => kept[0].clone(),
                    _ => Value::Sequence(kept),
                };
                item.res.notes.push(why);
            }
        }
    }

    /// A `file:` without content (Ansible's `state: touch`/`file`, making sure it exists) before
    /// a `line:` or `block:` of the same path and loop: play lets one kind own a path, and the
    /// edit creates the file when missing, so the file goes (its attributes noted).
    fn fold_files_into_edits(&mut self, c: usize) {
        let n = self.containers[c].items.len();
        for i in 0..n {
            let it = &self.containers[c].items[i];
            if it.removed
                || it.res.kind() != "file"
                || ["content", "src", "template", "state"]
                    .iter()
                    .any(|k| it.res.get(k).is_some())
            {
                continue;
            }
            let edit = (i + 1..n).find(|&j| {
                let o = &self.containers[c].items[j];
                !o.removed
                    && matches!(o.res.kind(), "line" | "block")
                    && o.res.key() == it.res.key()
                    && o.loop_ == it.loop_
                    && o.scope_id() == it.scope_id()
            });
            let Some(j) = edit else { continue };
            let attrs: Vec<String> = ["owner", "group", "mode"]
                .iter()
                .filter(|k| it.res.get(k).is_some())
                .map(|k| format!("`{k}`"))
                .collect();
            let kind = self.containers[c].items[j].res.kind().to_string();
            let mut why = format!(
                "the `{kind}:` of the same path creates the file (one kind owns a path in play)"
            );
            if !attrs.is_empty() {
                why.push_str(&format!(
                    "; its {} not carried: a `{kind}:` keeps the file's (0644 when it creates it)",
                    attrs.join(", ")
                ));
            }
            if self.containers[c].items[j].when != self.containers[c].items[i].when {
                why.push_str(&format!(
                    "; where its own `when` held and the `{kind}:`'s did not, no file is made now"
                ));
            }
            let tags = self.containers[c].items[i].tags.clone();
            self.containers[c].items[j].add_tags(&tags);
            self.containers[c].items[i].removed = true;
            self.redirect(c, i, Some(j), &why);
        }
    }

    /// A resource that says nothing but its kind and key (what its task set is not carried,
    /// e.g. a `user:` whose `password` play does not manage), declared unconditionally before
    /// with the same loop: it adds nothing, and two would be a duplicate for `play check`.
    fn drop_bare_repeats(&mut self, c: usize) {
        let n = self.containers[c].items.len();
        for i in 0..n {
            let it = &self.containers[c].items[i];
            if it.removed || it.res.kind() == "command" || it.res.fields.len() != 1 {
                continue;
            }
            let earlier = (0..i).find(|&j| {
                let o = &self.containers[c].items[j];
                !o.removed
                    && o.when.is_empty()
                    && o.res.kind() == it.res.kind()
                    && o.res.key() == it.res.key()
                    && o.loop_ == it.loop_
                    && o.scope_id() == it.scope_id()
                    && o.res.get("state").is_none()
            });
            let Some(j) = earlier else { continue };
            let title = self.containers[c].items[j].title.clone();
            let kind = self.containers[c].items[i].res.kind().to_string();
            let tags = self.containers[c].items[i].tags.clone();
            self.containers[c].items[j].add_tags(&tags);
            self.containers[c].items[i].removed = true;
            for r in &mut self.records {
                if let Outcome::Items(list) = &mut r.outcome {
                    if list.contains(&(c, i)) {
                        list.retain(|p| *p != (c, i));
                        if !list.contains(&(c, j)) {
                            list.push((c, j));
                        }
                        r.notes.push(format!(
                            "nothing of it is carried but the {kind} `{title}` declares already: merged with it"
                        ));
                    }
                }
            }
        }
    }

    /// A command whose `creates` is a var holding `~/…` (play wants an absolute path): an
    /// `unless: test -e …` instead. A `venv:` whose `packages` or `requirements` come from a var of the container whose
    /// value `venv:` cannot take (`django~=5.2`, `pkg @ URL`, a path with `..`): the pip
    /// command instead (it creates the venv when missing), so `play check` stays clean. A
    /// path kind's key with `..` folded ([`fold_dotdot_key`]).
    pub fn fold_var_values(&mut self, c: usize) {
        let vars = self.containers[c].vars.clone();
        // a var's value (`{{ name }}` alone), the vars it names replaced by theirs
        let value = |text: &str| -> Option<String> {
            let name = text.trim().strip_prefix("{{")?.strip_suffix("}}")?.trim();
            let simple = (name.chars()).all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
            (simple
                && (vars.iter().rev())
                    .find(|(k, _)| k == name)
                    .is_some_and(|(_, v)| v.is_string()))
            .then(|| merge::resolve_vars(&vars, text.trim()))
        };
        for i in 0..self.containers[c].items.len() {
            fold_dotdot_key(&mut self.containers[c].items[i].res);
            let it = &self.containers[c].items[i];
            // `creates: "{{ x }}"` with x a `~/` or relative path: the shell resolves it
            if let Some(cr) = it.res.get("creates").and_then(|v| v.as_str()) {
                if value(cr).is_some_and(|v| !v.starts_with('/') && !v.starts_with("{{")) {
                    let cr = cr.to_string();
                    let r = &mut self.containers[c].items[i].res;
                    r.fields.retain(|(k, _)| k != "creates");
                    add_unless(r, &format!("test -e {cr}"));
                    continue;
                }
            }
            if it.removed || it.res.kind() != "venv" {
                continue;
            }
            let packages: Vec<String> = match it.res.get("packages") {
                Some(Value::Sequence(l)) => l
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            };
            let bad = |v: &str| {
                !v.contains("{{")
                    && crate::resources::registry::check_value("venv", "packages", v).is_err()
            };
            // a var's value in the role, else one the inventory gives it on some hosts
            let bad_package = packages.iter().find_map(|p| {
                if let Some(v) = value(p).filter(|v| bad(v)) {
                    return Some(format!("`{v}` (a var)"));
                }
                let name = p.trim().strip_prefix("{{")?.strip_suffix("}}")?.trim();
                let inv = self.ctx.inventory_values.get(name)?;
                (inv.iter().find(|v| bad(v)))
                    .map(|v| format!("`{v}` (`{name}` on some hosts of the inventory)"))
            });
            let bad_reqs = it
                .res
                .get("requirements")
                .and_then(|v| v.as_str())
                .filter(|r| r.contains("/../") || r.contains("}}../") || r.contains("/./"))
                .map(str::to_string);
            let why = match (bad_package, bad_reqs) {
                (Some(v), _) => format!("its package {v}, which is not NAME or NAME==VERSION"),
                (None, Some(r)) => match normalized_path(&r) {
                    Some(n) => {
                        let r2 = &mut self.containers[c].items[i].res;
                        r2.set("requirements", n);
                        r2.notes.push(format!(
                            "requirements `{r}`: its `..` folded by play's `normpath` \
                             (lexically; the host resolved it through links)"
                        ));
                        continue;
                    }
                    None => format!("its requirements path `{r}` has `..`"),
                },
                (None, None) => continue,
            };
            let venv = it.res.key();
            let python = it
                .res
                .get("python")
                .and_then(|v| v.as_str())
                .unwrap_or("python3")
                .to_string();
            let pip = format!("{}/bin/pip", venv.trim_end_matches('/'));
            let mut cmd = format!(
                "{{ test -x {pip} || {python} -m venv {}; }} && {pip} install",
                modules::sh_quote(&venv)
            );
            if let Some(Value::Sequence(args)) = it.res.get("pip_args") {
                for a in args.iter().filter_map(|a| a.as_str()) {
                    cmd.push(' ');
                    cmd.push_str(a);
                }
            }
            for p in &packages {
                cmd.push(' ');
                cmd.push_str(&modules::sh_quote(p));
            }
            if let Some(r) = it.res.get("requirements").and_then(|v| v.as_str()) {
                cmd.push_str(&format!(" -r {}", modules::sh_quote(r)));
            }
            let mut res = Res {
                fields: vec![("command".into(), Value::String(cmd))],
                native: false,
                comments: vec![format!(
                    "play import: pip → command (`venv:` cannot take {why})"
                )],
                notes: it.res.notes.clone(),
            };
            if let Some(u) = it.res.get("user") {
                res.set("user", u.clone());
            }
            for (k, v) in &it.res.fields {
                if matches!(k.as_str(), "sensitive" | "name") {
                    res.set(k, v.clone());
                }
            }
            self.containers[c].items[i].res = res;
        }
    }

    /// `apt-get update` commands written for `apt: update_cache=yes` or `apt_repository` are
    /// `update_cache: true` of the packages after them in the same container, when there are.
    pub fn fold_apt_update(&mut self, c: usize) {
        let n = self.containers[c].items.len();
        for i in 0..n {
            let it = &self.containers[c].items[i];
            if !it.removed && it.res.kind() == "apt_source" && it.res.get("state").is_none() {
                // a package of a new source is known after the source's `apt-get update`
                for j in i + 1..n {
                    let o = &mut self.containers[c].items[j];
                    if !o.removed && o.res.kind() == "package" && o.res.get("state").is_none() {
                        o.res.set("update_cache", true);
                    }
                }
                continue;
            }
            if it.removed
                || it.res.key() != "apt-get update"
                || !it.res.comments.iter().any(|m| m.contains("update_cache"))
            {
                continue;
            }
            let guarded = it.res.get("unless").is_some();
            let later: Vec<usize> = (i + 1..n)
                .filter(|&j| {
                    let o = &self.containers[c].items[j];
                    !o.removed && o.res.kind() == "package"
                })
                .collect();
            let Some(&first) = later.first() else {
                continue;
            };
            // `cache_valid_time` (the `unless`) refreshes stale lists even when nothing is to
            // install: what a `state: latest` package after it needs to see new versions
            if guarded
                && later.iter().any(|&j| {
                    self.containers[c].items[j]
                        .res
                        .get("state")
                        .and_then(|v| v.as_str())
                        == Some("latest")
                })
            {
                continue;
            }
            for &j in &later {
                self.containers[c].items[j].res.set("update_cache", true);
            }
            self.containers[c].items[i].removed = true;
            let first_title = self.containers[c].items[first].title.clone();
            for r in &mut self.records {
                if let Outcome::Items(list) = &r.outcome {
                    if list.contains(&(c, i)) {
                        let rest: Vec<(usize, usize)> =
                            list.iter().copied().filter(|p| *p != (c, i)).collect();
                        let why = format!(
                            "`update_cache: true` of the packages after it (from `{first_title}` on): play runs `apt-get update` before installing"
                        );
                        r.outcome = if rest.is_empty() {
                            Outcome::Absorbed(why)
                        } else {
                            r.notes.push(why);
                            Outcome::Items(rest)
                        };
                    }
                }
            }
        }
    }

    /// Points the records of item `from` at `to` (or marks them absorbed with `why`).
    fn redirect(&mut self, c: usize, from: usize, to: Option<usize>, why: &str) {
        for r in &mut self.records {
            if let Outcome::Items(list) = &r.outcome {
                if !list.contains(&(c, from)) {
                    continue;
                }
                let mut rest: Vec<(usize, usize)> =
                    list.iter().copied().filter(|p| *p != (c, from)).collect();
                if let Some(t) = to {
                    if !rest.contains(&(c, t)) {
                        rest.push((c, t));
                    }
                }
                r.notes.push(why.to_string());
                r.outcome = if rest.is_empty() {
                    Outcome::Absorbed(why.to_string())
                } else {
                    Outcome::Items(rest)
                };
            }
        }
    }

    /// Puts `item` at index `at` of container `c`, the records' references to later items
    /// moved along.
    fn insert_item(&mut self, c: usize, at: usize, item: Item) {
        self.containers[c].items.insert(at, item);
        for r in &mut self.records {
            if let Outcome::Items(list) = &mut r.outcome {
                for p in list.iter_mut().filter(|p| p.0 == c && p.1 >= at) {
                    p.1 += 1;
                }
            }
        }
    }

    /// Ansible's standalone dance (tournesol): `systemd: name=nginx state=stopped` (when the
    /// lineage's certificate is missing) right before a `certbot certonly --standalone` of
    /// that lineage, so that certbot's own server can bind port 80, and maybe a `started` of
    /// the same service right after it. In play the stop is not state but a step around the
    /// obtain: the certbot's `pre_hook` (`systemctl stop NAME`, `service NAME stop` from the
    /// `service` module) and `post_hook` (the start; added when the source has none, as
    /// certbot keeps the hooks for its renewals, which would leave the service stopped). The
    /// stop (and a start with the stop's conditions) go; a stat gather only they read goes too.
    /// Runs before the handlers are placed (a handler of the service then declares its own).
    pub fn fold_certbot_hooks(&mut self, c: usize) {
        let n = self.containers[c].items.len();
        let next = |items: &[Item], from: usize, step: isize| -> Option<usize> {
            let mut i = from as isize + step;
            while i >= 0 && (i as usize) < items.len() {
                if !items[i as usize].removed {
                    return Some(i as usize);
                }
                i += step;
            }
            None
        };
        for j in 0..n {
            let items = &self.containers[c].items;
            let cb = &items[j];
            if cb.removed
                || cb.res.kind() != "certbot"
                || cb.res.get("method").and_then(|v| v.as_str()) != Some("standalone")
                || cb.res.get("pre_hook").is_some()
                || cb.res.get("post_hook").is_some()
                || cb.loop_.is_some()
            {
                continue;
            }
            let Some(i) = next(items, j, -1) else {
                continue;
            };
            let Some((unit, module)) = self.bare_service(c, i, "stopped") else {
                continue;
            };
            let stop = &items[i];
            if stop.scope_id() != cb.scope_id() || cb.when.iter().any(|w| !stop.when.contains(w)) {
                continue;
            }
            // what the stop's conditions add to the certbot's: reads of the lineage's stat
            let lineage = format!("/etc/letsencrypt/live/{}", modules::squeeze(&cb.res.key()));
            let guards: Vec<String> = (self.containers[c].gathers.iter())
                .filter(|(_, spec)| {
                    let path = match spec.get("stat") {
                        Some(Value::String(p)) => Some(p.as_str()),
                        Some(m) => m.get("path").and_then(|p| p.as_str()),
                        None => None,
                    };
                    path.map(modules::squeeze).is_some_and(|p| {
                        p.strip_prefix(&lineage)
                            .is_some_and(|r| r.is_empty() || r.starts_with('/'))
                    })
                })
                .map(|(name, _)| name.clone())
                .collect();
            let extra: Vec<&String> = (stop.when.iter())
                .filter(|w| !cb.when.contains(w))
                .collect();
            if !extra
                .iter()
                .all(|w| guards.iter().any(|g| super::when::mentions(w, g)))
            {
                continue;
            }
            let start = next(items, j, 1).filter(|&k| {
                self.bare_service(c, k, "running")
                    .is_some_and(|(u, _)| u == unit)
                    && items[k].when == stop.when
                    && items[k].scope_id() == stop.scope_id()
            });
            // Hooks given at an obtain are kept for every renewal: a project that renews with
            // an authenticator of its own (`certbot --nginx renew` needs nginx running) would
            // have its server stopped under that authenticator. The stop stays as it is.
            if let Some((file, line)) = &self.ctx.renewal_override {
                let note = format!(
                    "the stop of `{unit}` is not made the certbot's `pre_hook`: certbot keeps the hooks of an obtain for its renewals, and the project renews with an authenticator of its own ({file}: `{line}`), which the stop would break"
                );
                self.containers[c].items[i].res.notes.push(note);
                continue;
            }
            let (pre, post) = if matches!(module.as_str(), "service" | "sysvinit") {
                (
                    format!("service {unit} stop"),
                    format!("service {unit} start"),
                )
            } else {
                (
                    format!("systemctl stop {unit}"),
                    format!("systemctl start {unit}"),
                )
            };
            let desc = format!("certbot `{}` (`{}`)", cb.res.key(), cb.title);
            let tags = stop.tags.clone();
            let cbi = &mut self.containers[c].items[j];
            cbi.res.set("pre_hook", pre.clone());
            cbi.res.set("post_hook", post.clone());
            cbi.add_tags(&tags);
            if start.is_none() {
                cbi.res.notes.push(format!(
                    "`post_hook: {post}` added: certbot runs its hooks at each renewal too, and nothing else would start `{unit}` again after them"
                ));
            }
            self.containers[c].items[i].removed = true;
            self.redirect(
                c,
                i,
                Some(j),
                &format!(
                    "the stop of `{unit}` before certbot's standalone server is `pre_hook: {pre}` of {desc}: certbot stops it only when it obtains or renews the certificate"
                ),
            );
            if let Some(k) = start {
                self.containers[c].items[k].removed = true;
                self.redirect(
                    c,
                    k,
                    Some(j),
                    &format!(
                        "the start of `{unit}` after certbot is `post_hook: {post}` of {desc}"
                    ),
                );
            }
            // a stat of the lineage nothing reads any more is not gathered
            for g in guards {
                let read = (self.containers[c].items.iter())
                    .filter(|it| !it.removed)
                    .any(|it| {
                        it.when.iter().any(|w| super::when::mentions(w, &g))
                            || (it.res.fields.iter())
                                .any(|(_, v)| super::when::mentions(&crate::yaml::to_string(v), &g))
                    })
                    || (self.containers[c].gathers.iter()).any(|(n, s)| {
                        *n != g && super::when::mentions(&crate::yaml::to_string(s), &g)
                    });
                if read {
                    continue;
                }
                self.containers[c].gathers.retain(|(n, _)| *n != g);
                for r in &mut self.records {
                    if r.outcome == Outcome::Gathered(c, g.clone()) {
                        r.outcome = Outcome::Absorbed(format!(
                            "only the stop before certbot read it, which is the `pre_hook` of {desc} (certbot runs it only when it obtains)"
                        ));
                    }
                }
            }
        }
    }

    /// Item `i` of container `c` when it is a bare `service:` in `state` (no other key, no loop,
    /// no notification): its unit and the module of its task.
    fn bare_service(&self, c: usize, i: usize, state: &str) -> Option<(String, String)> {
        let it = &self.containers[c].items[i];
        let bare = it.res.kind() == "service"
            && it.res.get("state").and_then(|v| v.as_str()) == Some(state)
            && it.res.fields.len() == 2
            && it.loop_.is_none()
            && it.notify.is_empty();
        bare.then(|| (it.res.key(), self.records[it.source].module.clone()))
    }

    /// A unit file written from a template (`/etc/systemd/system/NAME`, `/lib/...`) for a
    /// service of the same container becomes the service's `unit:`; then `systemctl
    /// daemon-reload` commands are play's own job (it reloads when a unit it writes changes).
    pub fn fold_units(&mut self, c: usize) {
        let n = self.containers[c].items.len();
        let mut folded = Vec::new();
        for s in 0..n {
            let it = &self.containers[c].items[s];
            if it.removed
                || it.res.kind() != "service"
                || it.loop_.is_some()
                || it.res.get("unit").is_some()
            {
                continue;
            }
            let name = it.res.key();
            let suffixes = [
                ".service", ".timer", ".socket", ".target", ".mount", ".path",
            ];
            let unit = if suffixes.iter().any(|x| name.ends_with(x)) {
                name.clone()
            } else {
                format!("{name}.service")
            };
            let paths: Vec<String> = [
                "/etc/systemd/system",
                "/lib/systemd/system",
                "/usr/lib/systemd/system",
            ]
            .iter()
            .map(|d| format!("{d}/{unit}"))
            .collect();
            let Some(f) = (0..n).find(|&f| {
                let o = &self.containers[c].items[f];
                !o.removed
                    && o.res.kind() == "file"
                    && o.res.get("template").is_some()
                    // `force: false` (written only while missing) is not a unit play manages
                    && o.res.get("force").is_none()
                    && o.loop_.is_none()
                    && o.when == self.containers[c].items[s].when
                    && paths.contains(&o.res.key())
            }) else {
                continue;
            };
            let path = self.containers[c].items[f].res.key();
            // commands other than daemon-reload watching the unit file keep it a file
            let watched_by_other = self.containers[c].items.iter().any(|o| {
                !o.removed
                    && o.res.kind() == "command"
                    && !o.res.key().contains("daemon-reload")
                    && o.res
                        .get("on_change")
                        .and_then(|v| v.as_sequence())
                        .is_some_and(|l| l.iter().any(|k| k.as_str() == Some(&path)))
            });
            if watched_by_other {
                continue;
            }
            let file = self.containers[c].items[f].res.clone();
            let svc = &mut self.containers[c].items[s].res;
            if let Some(t) = file.get("template") {
                svc.set("unit", t.clone());
            }
            for k in ["mode", "owner", "group"] {
                if let Some(v) = file.get(k) {
                    svc.set(k, v.clone());
                }
            }
            if !path.starts_with("/etc/systemd/system/") {
                svc.notes.push(format!(
                    "the unit is written to /etc/systemd/system (was {path})"
                ));
            }
            self.containers[c].items[f].removed = true;
            for o in self.containers[c].items.iter_mut() {
                for field in ["restart_on", "reload_on"] {
                    if let Some(Value::Sequence(list)) = o.res.get(field).cloned() {
                        let kept: Vec<Value> = list
                            .into_iter()
                            .filter(|k| k.as_str() != Some(&path))
                            .collect();
                        if kept.is_empty() {
                            o.res.fields.retain(|(k, _)| k != field);
                        } else {
                            o.res.set(field, Value::Sequence(kept));
                        }
                    }
                }
            }
            self.redirect(
                c,
                f,
                Some(s),
                &format!("the unit file is `unit:` of service `{name}`"),
            );
            folded.push(path);
        }
        if folded.is_empty() {
            return;
        }
        let unit_files_left = self.containers[c].items.iter().any(|o| {
            !o.removed && o.res.kind() == "file" && o.res.key().contains("/systemd/system/")
        });
        if unit_files_left {
            return;
        }
        for i in 0..n {
            let o = &self.containers[c].items[i];
            if !o.removed
                && o.res.kind() == "command"
                && o.res.key().trim() == "systemctl daemon-reload"
            {
                self.containers[c].items[i].removed = true;
                self.redirect(
                    c,
                    i,
                    None,
                    "play runs `systemctl daemon-reload` itself when a unit it writes changes",
                );
            }
        }
    }

    /// A resource declared by two roles that always run together (every play using the later
    /// role has the earlier one before it) is kept once, in the earlier role, with the later
    /// one's keys merged in when every play using the earlier role also uses the later one.
    /// `plays`: the role containers of each play, in order.
    pub fn dedupe_roles(&mut self, plays: &[Vec<usize>]) {
        let users =
            |r: usize| -> Vec<&Vec<usize>> { plays.iter().filter(|p| p.contains(&r)).collect() };
        let roles: BTreeSet<usize> = plays.iter().flatten().copied().collect();
        for &later in &roles {
            for i in 0..self.containers[later].items.len() {
                let it = &self.containers[later].items[i];
                if it.removed
                    || it.res.kind() == "command"
                    || it.loop_.is_some()
                    || it.scope.is_some()
                {
                    continue;
                }
                if it.res.kind() == "package" {
                    self.dedupe_package_names(plays, later, i);
                    continue;
                }
                let key = (it.res.kind().to_string(), it.res.key(), it.when.clone());
                // the earlier role declaring it, the same in every play using `later`
                let mut earlier: Option<(usize, usize)> = None;
                let mut ok = !users(later).is_empty();
                for p in users(later) {
                    let pos = p.iter().position(|&c| c == later).unwrap_or(0);
                    let found = p[..pos].iter().find_map(|&c| {
                        self.containers[c]
                            .items
                            .iter()
                            .position(|o| {
                                !o.removed
                                    && o.loop_.is_none()
                                    && o.scope.is_none()
                                    && (o.res.kind().to_string(), o.res.key(), o.when.clone())
                                        == key
                            })
                            .map(|j| (c, j))
                    });
                    match (found, earlier) {
                        (Some(f), None) => earlier = Some(f),
                        (Some(f), Some(e)) if f == e => {}
                        _ => ok = false,
                    }
                }
                let (Some((ec, ej)), true) = (earlier, ok) else {
                    continue;
                };
                let extra: Vec<(String, Value)> = self.containers[later].items[i]
                    .res
                    .fields
                    .iter()
                    .skip(1)
                    .filter(|(k, v)| self.containers[ec].items[ej].res.get(k) != Some(v))
                    .cloned()
                    .collect();
                if !extra.is_empty() {
                    let always_together = users(ec).iter().all(|p| p.contains(&later));
                    if !always_together {
                        continue;
                    }
                    let target = &mut self.containers[ec].items[ej].res;
                    for (k, v) in extra {
                        match (k.as_str(), v) {
                            ("restart_on" | "reload_on" | "on_change", Value::Sequence(list)) => {
                                for x in list.iter().filter_map(|x| x.as_str()) {
                                    target.watch(&k, x);
                                }
                            }
                            (_, v) => target.set(&k, v),
                        }
                    }
                }
                self.containers[later].items[i].removed = true;
                let desc = format!("{} {}", key.0, key.1);
                let file = self.containers[ec].file.display().to_string();
                for r in &mut self.records {
                    if let Outcome::Items(list) = &mut r.outcome {
                        for p in list.iter_mut() {
                            if *p == (later, i) {
                                *p = (ec, ej);
                                r.notes.push(format!("`{desc}` is declared by `{file}` too, which every play runs before: kept there"));
                            }
                        }
                    }
                }
            }
        }
    }

    /// The source file of a template name used in container `c`.
    fn template_source(&self, c: usize, name: &str) -> Option<PathBuf> {
        self.containers[c].assets.iter().find_map(|(dir, prefix)| {
            let rest = match prefix {
                Some(p) => name.strip_prefix(&format!("{p}/"))?,
                None => name,
            };
            let f = dir.join("templates").join(rest);
            f.is_file().then_some(f)
        })
    }

    /// `/etc/hostname` or `/etc/timezone` written from a template (or `content`) that is one
    /// expression or one word (beehve's `{{ timezone }}`) is the host's name or zone: a
    /// `hostname:` or `timezone:` (which also sets the running name, or `/etc/localtime`).
    /// Then a `dpkg-reconfigure tzdata` command after the zone's file (run on its change, as
    /// Ansible's `when: R.changed` did) goes: `timezone:` writes what it wrote. A file of
    /// other content stays a `file:`, and its reconfigure a command run on its change.
    pub fn fold_sysconf(&mut self, c: usize) {
        let n = self.containers[c].items.len();
        let mut zones: Vec<(usize, String)> = Vec::new();
        let mut renamed: Vec<(String, String)> = Vec::new();
        for f in 0..n {
            let it = &self.containers[c].items[f];
            if it.removed || it.res.kind() != "file" || it.loop_.is_some() {
                continue;
            }
            let path = it.res.key();
            let kind = match path.as_str() {
                "/etc/hostname" => "hostname",
                "/etc/timezone" => "timezone",
                _ => continue,
            };
            if it.res.get("state").is_some() {
                continue;
            }
            let text = match (it.res.get("template"), it.res.get("content")) {
                (Some(Value::String(tpl)), None) if !tpl.contains("{{") => {
                    let Some(src) = self.template_source(c, tpl) else {
                        continue;
                    };
                    let Ok(text) = std::fs::read_to_string(&src) else {
                        continue;
                    };
                    let mut notes = Notes::default();
                    template::rewrite(&text, &mut notes)
                }
                (None, Some(Value::String(text))) => text.clone(),
                _ => continue,
            };
            let word = text.trim();
            let name = match modules::one_expression(word) {
                Some(e) => e,
                None if !word.is_empty()
                    && !word.contains(char::is_whitespace)
                    && !word.contains('{') =>
                {
                    word.to_string()
                }
                None => continue,
            };
            let mut r = Res {
                fields: vec![(kind.into(), Value::String(name.clone()))],
                native: true,
                comments: vec![format!(
                    "play import: {path} holding one name is the host's {}",
                    if kind == "hostname" {
                        "name (and the running name is set too)"
                    } else {
                        "zone (/etc/localtime too)"
                    }
                )],
                notes: it.res.notes.clone(),
            };
            let attrs: Vec<String> = ["owner", "group", "mode"]
                .iter()
                .filter(|k| it.res.get(k).is_some())
                .map(|k| format!("`{k}`"))
                .collect();
            if !attrs.is_empty() {
                r.notes.push(format!(
                    "{} of {path} not carried: play writes it root's, 0644",
                    attrs.join(", ")
                ));
            }
            self.containers[c].items[f].res = r;
            renamed.push((path.clone(), name));
            if kind == "timezone" {
                zones.push((f, path));
            }
        }
        // what watched the file now watches the name
        for it in self.containers[c].items.iter_mut() {
            for field in ["restart_on", "reload_on", "on_change"] {
                if let Some(Value::Sequence(list)) = it
                    .res
                    .fields
                    .iter_mut()
                    .find(|(k, _)| k == field)
                    .map(|(_, v)| v)
                {
                    for v in list.iter_mut() {
                        if let Some((_, new)) = renamed
                            .iter()
                            .find(|(old, _)| v.as_str() == Some(old.as_str()))
                        {
                            *v = Value::String(new.clone());
                        }
                    }
                }
            }
        }
        for (z, _path) in zones {
            for i in z + 1..n {
                let it = &self.containers[c].items[i];
                let cmd = it.res.key();
                let words: Vec<&str> = cmd.split_whitespace().collect();
                let reconfigure = it.res.kind() == "command"
                    && !it.removed
                    && words.first() == Some(&"dpkg-reconfigure")
                    && words.last() == Some(&"tzdata")
                    && words[1..words.len() - 1].iter().all(|w| {
                        matches!(
                            *w,
                            "-f" | "noninteractive"
                                | "-fnoninteractive"
                                | "--frontend=noninteractive"
                        )
                    });
                let zone = self.containers[c].items[z].res.key();
                let watches = match it.res.get("on_change") {
                    Some(Value::Sequence(l)) => l.iter().any(|v| v.as_str() == Some(zone.as_str())),
                    _ => false,
                };
                if !reconfigure || !(watches || it.when == self.containers[c].items[z].when) {
                    continue;
                }
                let tags = it.tags.clone();
                self.containers[c].items[z].add_tags(&tags);
                self.containers[c].items[i].removed = true;
                self.redirect(
                    c,
                    i,
                    Some(z),
                    "`dpkg-reconfigure tzdata` after /etc/timezone: `timezone:` sets /etc/localtime itself",
                );
            }
        }
    }

    /// A supervisor program conf written from a simple template becomes a `program:`; then the
    /// `supervisorctl update`/`reread` commands watching only such confs go (play updates
    /// supervisord itself), and `supervisorctl restart NAME` commands become the program's
    /// `restart_on`.
    pub fn fold_programs(&mut self, c: usize) {
        let mut n = self.containers[c].items.len();
        let mut folded: Vec<String> = Vec::new();
        let mut next = 0;
        while next < n {
            let f = next;
            next += 1;
            let it = &self.containers[c].items[f];
            if it.removed || it.res.kind() != "file" || it.loop_.is_some() {
                continue;
            }
            let Some(tpl) = it
                .res
                .get("template")
                .and_then(|v| v.as_str())
                .map(str::to_string)
            else {
                continue;
            };
            if tpl.contains("{{") {
                continue;
            }
            let Some(src) = self.template_source(c, &tpl) else {
                continue;
            };
            let Ok(text) = std::fs::read_to_string(&src) else {
                continue;
            };
            let mut notes = Notes::default();
            let text = template::rewrite(&text, &mut notes);
            let Some(programs) = super::supervisor::parse(&text) else {
                continue;
            };
            let path = it.res.key();
            let several = programs.len() > 1;
            let mut made = Vec::new();
            for p in programs {
                let mut r = Res {
                    fields: vec![("program".into(), Value::String(p.name.clone()))],
                    native: true,
                    comments: vec![format!(
                        "play import: the supervisor conf {path} (template {tpl}) as a program"
                    )],
                    notes: Vec::new(),
                };
                r.fields.extend(p.fields);
                for k in ["mode", "owner", "group"] {
                    if let Some(v) = it.res.get(k) {
                        r.set(k, v.clone());
                    }
                }
                if !path.contains("/supervisor") {
                    r.notes.push(format!(
                        "the conf goes where supervisord's [include] says, not necessarily {path}"
                    ));
                }
                if several {
                    r.notes.push(format!(
                        "{path} held several programs: play writes one conf per program \
                         (conf.d/NAME.conf); on a host Ansible set up, remove {path} if it is \
                         not one of those"
                    ));
                }
                made.push((r, p.when));
            }
            let original = self.containers[c].items[f].clone();
            let mut at = f;
            for (k, (r, when)) in made.into_iter().enumerate() {
                if k > 0 {
                    at += 1;
                    self.insert_item(c, at, original.clone());
                    for rec in &mut self.records {
                        if let Outcome::Items(list) = &mut rec.outcome {
                            if list.contains(&(c, f)) {
                                list.push((c, at));
                            }
                        }
                    }
                }
                let item = &mut self.containers[c].items[at];
                item.res = r;
                item.when.extend(when);
            }
            n = self.containers[c].items.len();
            folded.push(path);
            next = at + 1;
        }
        if folded.is_empty() {
            return;
        }
        let programs: Vec<(usize, String)> = (0..n)
            .filter(|&i| {
                !self.containers[c].items[i].removed
                    && self.containers[c].items[i].res.kind() == "program"
            })
            .map(|i| (i, self.containers[c].items[i].res.key()))
            .collect();
        for i in 0..n {
            let it = &self.containers[c].items[i];
            if it.removed || it.res.kind() != "command" {
                continue;
            }
            let cmd = it.res.key();
            let Some(rest) = cmd.trim().strip_prefix("supervisorctl ") else {
                continue;
            };
            let Some(Value::Sequence(watch)) = it.res.get("on_change").cloned() else {
                continue;
            };
            let keys: Vec<String> = watch
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            let others: Vec<String> = keys
                .iter()
                .filter(|k| !folded.contains(k))
                .cloned()
                .collect();
            let words: Vec<&str> = rest.split_whitespace().collect();
            let is_update = words
                .iter()
                .all(|w| matches!(*w, "update" | "reread" | "all" | "&&" | "supervisorctl"));
            if is_update && others.is_empty() {
                self.containers[c].items[i].removed = true;
                self.redirect(
                    c,
                    i,
                    None,
                    "play updates supervisord itself when a program's conf changes",
                );
                continue;
            }
            if let ["restart", target] = words.as_slice() {
                let target = target
                    .trim_end_matches(":*")
                    .split(':')
                    .next()
                    .unwrap_or(target);
                if let Some((p, _)) = programs.iter().find(|(_, name)| name == target) {
                    let p = *p;
                    for k in &others {
                        self.containers[c].items[p].res.watch("restart_on", k);
                    }
                    self.containers[c].items[i].removed = true;
                    self.redirect(
                        c,
                        i,
                        Some(p),
                        &format!("`restart_on` of program `{target}`"),
                    );
                }
            }
        }
        // a `supervisorctl` task loading or starting a program that is now a `program:` (whose
        // default state is running: play loads and starts it)
        for i in 0..n {
            let it = &self.containers[c].items[i];
            if it.removed
                || it.res.kind() != "command"
                || it.res.get("on_change").is_some()
                || !it.res.comments.iter().any(|m| m.contains("supervisorctl"))
            {
                continue;
            }
            let cmd = it.res.key();
            let name = cmd
                .strip_prefix("supervisorctl reread && supervisorctl update ")
                .or_else(|| cmd.strip_prefix("supervisorctl start "))
                .map(|n| n.trim().trim_matches('\''));
            let Some((p, name)) = name.and_then(|n| {
                programs
                    .iter()
                    .find(|(_, name)| name == n)
                    .map(|(p, name)| (*p, name.clone()))
            }) else {
                continue;
            };
            let own = &self.containers[c].items[p].when;
            let unheld: Vec<String> = (self.containers[c].items[i].when.iter())
                .filter(|w| !own.contains(w))
                .cloned()
                .collect();
            let mut why = format!("program `{name}` (play loads and starts it)");
            if !unheld.is_empty() {
                why.push_str(&format!(
                    "; its `when: {}` not carried: the program runs wherever its conf is declared",
                    unheld.join(" and ")
                ));
            }
            self.containers[c].items[i].removed = true;
            self.redirect(c, i, Some(p), &why);
        }
        // watch lists naming a conf that is now a program's
        for o in self.containers[c].items.iter_mut().filter(|o| !o.removed) {
            for field in ["restart_on", "reload_on", "on_change"] {
                if let Some(Value::Sequence(list)) = o.res.get(field).cloned() {
                    let kept: Vec<Value> = list
                        .into_iter()
                        .filter(|k| !k.as_str().is_some_and(|k| folded.iter().any(|f| f == k)))
                        .collect();
                    if kept.is_empty() {
                        o.res.fields.retain(|(k, _)| k != field);
                    } else {
                        o.res.set(field, Value::Sequence(kept));
                    }
                }
            }
        }
    }

    /// The (path, target) pairs link item `i` of container `c` declares: one, or one per item
    /// of its loop when the loop is a literal list or a var whose list the container's vars or
    /// the inventory (one value everywhere) give. None when not a link or not knowable.
    fn link_paths(&self, c: usize, i: usize) -> Option<Vec<(String, String)>> {
        let it = &self.containers[c].items[i];
        if it.removed || it.res.kind() != "link" {
            return None;
        }
        let path = it.res.key();
        let target = it.res.get("target")?.as_str()?.to_string();
        let Some(lp) = &it.loop_ else {
            return Some(vec![(path, target)]);
        };
        let texts = |v: &Value| -> Option<Vec<String>> {
            match v {
                Value::Sequence(l) => l.iter().map(|x| x.as_str().map(str::to_string)).collect(),
                _ => None,
            }
        };
        let items = match lp {
            Value::Sequence(_) => texts(lp)?,
            Value::String(s) => {
                let name = s.trim().strip_prefix("{{")?.strip_suffix("}}")?.trim();
                let own = (self.containers[c].vars.iter().rev())
                    .find(|(k, _)| k == name)
                    .and_then(|(_, v)| texts(v));
                match own {
                    Some(l) => l,
                    None => {
                        let all = self.ctx.inventory_lists.get(name)?;
                        if all.iter().any(|l| l != &all[0]) {
                            return None;
                        }
                        all.first()?.clone()
                    }
                }
            }
            _ => return None,
        };
        let var = it.loop_var.as_deref().unwrap_or("item");
        let sub = |text: &str, x: &str| {
            [format!("{{{{ {var} }}}}"), format!("{{{{{var}}}}}")]
                .iter()
                .fold(text.to_string(), |t, form| t.replace(form.as_str(), x))
        };
        let out: Vec<(String, String)> = (items.iter())
            .map(|x| (sub(&path, x), sub(&target, x)))
            .collect();
        let left =
            |t: &str| t.contains(&format!("{{{{ {var}")) || t.contains(&format!("{{{{{var}"));
        (!out.iter().any(|(p, t)| left(p) || left(t))).then_some(out)
    }

    /// Paths a link of container `c` declares, seen from another resource of the same path
    /// (play has one owner per path, the link's): an edit (`line:`, `replace:`, `block:`) of a
    /// path a link declared before edits the link's target (Ansible's lineinfile and replace
    /// write through the link: consul's `current/config/secrets.yml`, linked to the shared
    /// one), so it names the target; a `state: absent` of a path a later link declares
    /// (consul removes `current/log`, then links the shared `log` there) is the link's
    /// `replace_folder: true`.
    /// A looped `file: state=absent` followed by a link of the same path over the same loop
    /// (trellis' shared paths of a new release: removed, then linked to `shared/`): the
    /// link's `replace_folder: true`, for every item.
    fn fold_looped_absent(&mut self, c: usize, i: usize) {
        let items = &self.containers[c].items;
        let it = &items[i];
        let absent = it.res.get("state").and_then(|v| v.as_str()) == Some("absent");
        if !absent || !matches!(it.res.kind(), "file" | "directory") {
            return;
        }
        let path = it.res.key();
        let later = (i + 1..items.len()).find(|&l| {
            let k = &items[l];
            !k.removed
                && k.res.kind() == "link"
                && k.res.key() == path
                && k.loop_ == it.loop_
                && k.loop_var == it.loop_var
                && k.scope_id() == it.scope_id()
                && k.when.iter().all(|w| it.when.contains(w))
        });
        let Some(l) = later else {
            return;
        };
        let link = &mut self.containers[c].items[l].res;
        link.set("replace_folder", Value::Bool(true));
        link.notes.push(format!(
            "`replace_folder: true`: the folder at `{path}` (each item of the loop), which \
             Ansible removed before, is replaced with what it holds"
        ));
        self.containers[c].items[i].removed = true;
        self.redirect(
            c,
            i,
            Some(l),
            &format!("`replace_folder: true` of the link `{path}` (a later task, the same loop)"),
        );
    }

    pub fn fold_link_paths(&mut self, c: usize) {
        let n = self.containers[c].items.len();
        let links: Vec<(usize, Vec<(String, String)>)> = (0..n)
            .filter_map(|i| self.link_paths(c, i).map(|l| (i, l)))
            .collect();
        for i in 0..n {
            let it = &self.containers[c].items[i];
            if it.removed {
                continue;
            }
            if it.loop_.is_some() {
                self.fold_looped_absent(c, i);
                continue;
            }
            let path = it.res.key();
            let absent = it.res.get("state").and_then(|v| v.as_str()) == Some("absent");
            if absent && matches!(it.res.kind(), "file" | "directory") {
                let when = &it.when;
                let later = links.iter().find(|(l, pairs)| {
                    *l > i
                        && pairs.iter().any(|(p, _)| *p == path)
                        && (self.containers[c].items[*l].when.iter()).all(|w| when.contains(w))
                });
                if let Some(&(l, _)) = later {
                    let link = &mut self.containers[c].items[l].res;
                    link.set("replace_folder", Value::Bool(true));
                    link.notes.push(format!(
                        "`replace_folder: true`: the folder at `{path}`, which Ansible removed \
                         before, is replaced with what it holds"
                    ));
                    self.containers[c].items[i].removed = true;
                    self.redirect(
                        c,
                        i,
                        Some(l),
                        &format!("`replace_folder: true` of the link `{path}` (a later task)"),
                    );
                }
                continue;
            }
            if !matches!(it.res.kind(), "line" | "replace" | "block") {
                continue;
            }
            let Some(target) = (links.iter().filter(|(l, _)| *l < i))
                .find_map(|(_, pairs)| pairs.iter().find(|(p, _)| *p == path))
                .map(|(_, t)| t.clone())
            else {
                continue;
            };
            if !(target.starts_with('/') || target.starts_with("{{")) {
                continue;
            }
            let r = &mut self.containers[c].items[i].res;
            r.fields[0].1 = Value::String(target.clone());
            r.notes.push(format!(
                "`{path}` is a link to `{target}` declared before: Ansible edits the link's \
                 target, and so does play"
            ));
        }
    }

    /// Names of package item `i` of role `later` that an earlier role of every play using it
    /// declares too (without `when`, or the same): dropped from this item (the item itself
    /// when none is left).
    fn dedupe_package_names(&mut self, plays: &[Vec<usize>], later: usize, i: usize) {
        let it = &self.containers[later].items[i];
        let users: Vec<&Vec<usize>> = plays.iter().filter(|p| p.contains(&later)).collect();
        if users.is_empty() || it.res.get("state").is_some() {
            return;
        }
        let when = it.when.clone();
        let names = it.res.watch_keys();
        let declared_before = |name: &str, p: &Vec<usize>| {
            let pos = p.iter().position(|&c| c == later).unwrap_or(0);
            p[..pos].iter().any(|&c| {
                self.containers[c].items.iter().any(|o| {
                    !o.removed
                        && o.loop_.is_none()
                        && o.scope.is_none()
                        && o.res.kind() == "package"
                        && o.res.get("state").is_none()
                        && (o.when.is_empty() || o.when == when)
                        && o.res.watch_keys().iter().any(|k| k == name)
                })
            })
        };
        let dup: Vec<String> = names
            .iter()
            .filter(|n| users.iter().all(|p| declared_before(n, p)))
            .cloned()
            .collect();
        if dup.is_empty() {
            return;
        }
        let kept: Vec<Value> = names
            .iter()
            .filter(|n| !dup.contains(n))
            .map(|n| Value::String(n.clone()))
            .collect();
        let note = format!(
            "package(s) {} declared by a role every play runs before: kept there",
            dup.join(", ")
        );
        if kept.is_empty() {
            self.containers[later].items[i].removed = true;
            self.redirect(later, i, None, &note);
        } else {
            let item = &mut self.containers[later].items[i];
            item.res.fields[0].1 = if kept.len() == 1 {
                kept[0].clone()
            } else {
                Value::Sequence(kept)
            };
            item.res.notes.push(note);
        }
    }

    /// Items of `later` that repeat an item of an earlier container of the same play are
    /// removed (the play would declare the key twice).
    pub fn dedupe_across(&mut self, earlier: &[usize], later: usize) {
        let mut keys: BTreeSet<String> = BTreeSet::new();
        for &c in earlier {
            for it in (self.containers[c].items.iter()).filter(|i| !i.removed && i.scope.is_none())
            {
                keys.insert(format!("{}\u{0}{}", it.res.kind(), it.res.key()));
            }
        }
        let n = self.containers[later].items.len();
        for i in 0..n {
            let it = &self.containers[later].items[i];
            if it.removed || it.res.kind() == "command" || it.loop_.is_some() || it.scope.is_some()
            {
                continue;
            }
            if keys.contains(&format!("{}\u{0}{}", it.res.kind(), it.res.key())) {
                let desc = format!("{} {}", it.res.kind(), it.res.key());
                self.containers[later].items[i].removed = true;
                for r in &mut self.records {
                    if let Outcome::Items(list) = &r.outcome {
                        if list.contains(&(later, i)) {
                            let rest: Vec<(usize, usize)> =
                                list.iter().copied().filter(|p| *p != (later, i)).collect();
                            r.notes.push(format!(
                                "`{desc}` is already declared by a role of the play"
                            ));
                            r.outcome = if rest.is_empty() {
                                Outcome::Absorbed(format!(
                                    "already declared by a role of the play: {desc}"
                                ))
                            } else {
                                Outcome::Items(rest)
                            };
                        }
                    }
                }
            }
        }
    }
}

/// Names whose `.stdout` (or `.stdout_lines`) some task of the list reads.
/// A resource's `mode` as text.
fn mode_text(r: &Res) -> Option<String> {
    r.get("mode").map(|m| match m {
        Value::String(s) => s.clone(),
        other => crate::yaml::to_string(other).trim().to_string(),
    })
}

/// Whether one `when` is `not` the other.
fn complementary(a: &str, b: &str) -> bool {
    let sq = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let (a, b) = (sq(a), sq(b));
    [(&a, &b), (&b, &a)]
        .iter()
        .any(|(x, y)| **x == format!("not{y}") || **x == format!("not({y})"))
}

fn stdout_readers(entries: &[Entry]) -> BTreeSet<String> {
    let mut text = String::new();
    for e in entries {
        if let Entry::Task(t) = e {
            for (_, v) in &t.args {
                text.push_str(&crate::yaml::to_string(v));
            }
            text.push_str(t.free.as_deref().unwrap_or(""));
            text.push_str(&t.when.join(" "));
            if let Some(l) = &t.loop_ {
                text.push_str(&crate::yaml::to_string(l));
            }
            text.push(' ');
        }
    }
    let mut out = BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find(".stdout") {
        let name: String = rest[..i]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
        rest = &rest[i + ".stdout".len()..];
    }
    out
}

/// Two names of one systemd unit: `app` is `app.service` (tournesol's handler restarts
/// `tournesol-website-analytics`, its task starts `tournesol-website-analytics.service`).
fn same_unit(a: &str, b: &str) -> bool {
    let bare = |s: &str| s.strip_suffix(".service").unwrap_or(s).to_string();
    bare(a) == bare(b)
}

/// A path kind's key with `.`/`..` components (`{{ playbook_dir }}/..`, which play refuses in a
/// key: one path, one owner) folded by [`normalized_path`], with a note saying so.
fn fold_dotdot_key(res: &mut Res) {
    const PATH_KINDS: [&str; 6] = ["file", "directory", "link", "download", "unarchive", "git"];
    if !PATH_KINDS.contains(&res.kind()) {
        return;
    }
    let key = res.key();
    if !key.split('/').any(|c| c == ".." || c == ".") {
        return;
    }
    if let Some(n) = normalized_path(&key) {
        res.fields[0].1 = Value::String(n);
        res.notes.push(format!(
            "`{key}`: its `..` folded by play's `normpath` (lexically; the host resolved it \
             through links)"
        ));
    }
}

/// A path with `.`/`..` components as play can take it: folded now when it is literal, else
/// the template `{{ (PARTS) | normpath }}` (its literal parts quoted, joined with `~`). None
/// when a part is not that simple (`{% %}`, a quote or a backslash in a literal).
fn normalized_path(path: &str) -> Option<String> {
    if path.contains("{%") || path.contains("{#") {
        return None;
    }
    if !path.contains("{{") {
        return Some(crate::resolve::ansible::normpath(path.to_string()));
    }
    Some(format!(
        "{{{{ ({}) | normpath }}}}",
        merge::expression(path)?
    ))
}

fn add_unless(r: &mut Res, u: &str) {
    let new = match r.get("unless").and_then(|v| v.as_str()) {
        Some(old) => format!("{{ {old}; }} || {{ {u}; }}"),
        None => u.to_string(),
    };
    r.set("unless", new);
}

/// Debian's PATH for root logins, standing for `ansible_env.PATH`.
const DEBIAN_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A task's literal `environment:` mapping: a command's `environment:`; noted elsewhere.
fn carry_environment(t: &Task, r: &mut Res) {
    let Some(env) = &t.environment else { return };
    // the kinds with an `environment:` of their own
    if ["command", "certbot"].contains(&r.kind()) {
        if r.get("environment").is_some() {
            return;
        }
        let Value::Mapping(m) = env else { return };
        let mut out = crate::yaml::Mapping::new();
        for (k, v) in m {
            let Some(text) = v.as_str() else { continue };
            // the remote login's PATH: Debian's default (play exports values as written)
            let text = text
                .replace("{{ ansible_env.PATH }}", DEBIAN_PATH)
                .replace("{{ansible_env.PATH}}", DEBIAN_PATH);
            if text.contains("ansible_env") {
                r.notes.push(format!(
                    "environment `{}` not carried: it reads the host's `ansible_env` (play exports values as written)",
                    k.as_str().unwrap_or_default()
                ));
                continue;
            }
            if text.contains(DEBIAN_PATH) && !v.as_str().is_some_and(|o| o.contains(DEBIAN_PATH)) {
                r.notes.push(format!(
                    "`ansible_env.PATH` in environment `{}` written as Debian's default PATH",
                    k.as_str().unwrap_or_default()
                ));
            }
            out.insert(k.clone(), Value::String(text));
        }
        if !out.is_empty() {
            r.set("environment", Value::Mapping(out));
        }
    } else {
        r.notes.push(format!(
            "task `environment:` not carried (a {} has none; only commands and certbot take it)",
            r.kind()
        ));
    }
}

/// The vars of a `set_fact` whose every `when` is `X is not defined` (or `X is undefined`) for
/// a var X it sets: defaults, as Ansible only sets them when nothing else did.
fn defaulting_set_fact(t: &Task) -> Option<Vec<(String, Value)>> {
    let vars: Vec<(String, Value)> = (t.args.iter())
        .filter(|(k, _)| k != "cacheable")
        .cloned()
        .collect();
    if t.when.is_empty() || vars.is_empty() {
        return None;
    }
    let all_defaults = t.when.iter().all(|w| {
        let w = w.trim();
        let name = w
            .strip_suffix("is not defined")
            .or_else(|| w.strip_suffix("is undefined"))
            .map(str::trim);
        name.is_some_and(|n| vars.iter().any(|(k, _)| k == n))
    });
    all_defaults.then_some(vars)
}

/// The `files` and `paths` of `lookup('first_found', NAME)` when `f` is that one expression and
/// NAME is among the task's `vars` (`params`).
fn first_found_lookup(
    f: &str,
    params: &[(String, Vec<String>, Vec<String>)],
) -> Option<(Vec<String>, Vec<String>)> {
    let code: String = f.chars().filter(|c| !c.is_whitespace()).collect();
    let inner = code
        .strip_prefix("{{lookup(")?
        .strip_suffix(")}}")?
        .replace('"', "'");
    let name = inner.strip_prefix("'first_found',")?;
    params
        .iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, files, paths)| (files.clone(), paths.clone()))
}

/// The vars file an `include_vars` reads, from its candidates in order (one for a plain
/// `include_vars: FILE`), looked up in `dirs`, as Ansible's `first_found`: a file named
/// statically is taken if it exists; a name chosen by OS is its Debian variant (with a note
/// saying so); another templated name (`{{ php_version }}.yml`) is skipped when no file of
/// `dirs` could be it (no file matches its static parts but the other candidates), else the
/// choice is made at run time and the task is left out (the reason).
pub fn pick_first_found(
    candidates: &[String],
    dirs: &[PathBuf],
) -> Result<(PathBuf, Option<String>), String> {
    let find = |name: &str| dirs.iter().map(|d| d.join(name)).find(|p| p.is_file());
    let statics: Vec<&str> = (candidates.iter())
        .filter(|c| !c.contains("{{"))
        .map(String::as_str)
        .collect();
    for c in candidates {
        if !c.contains("{{") {
            if let Some(p) = find(c) {
                return Ok((p, None));
            }
            continue;
        }
        if let Some(d) = super::project::debian_variant(c) {
            if let Some(p) = find(&d) {
                let note =
                    format!("the Debian variant `{d}` (play manages Debian and Ubuntu hosts)");
                return Ok((p, Some(note)));
            }
            continue;
        }
        // Could a file there be this name once rendered? Its static parts, in order.
        let mut parts = Vec::new();
        let mut rest = c.as_str();
        while let Some(i) = rest.find("{{") {
            parts.push(&rest[..i]);
            rest = rest[i..].find("}}").map_or("", |e| &rest[i + e + 2..]);
        }
        parts.push(rest);
        let could_be = |name: &str| {
            let mut at = 0;
            let (first, last) = (parts[0], parts[parts.len() - 1]);
            name.starts_with(first)
                && name.ends_with(last)
                && parts.iter().all(|p| match name[at..].find(p) {
                    Some(i) => {
                        at += i + p.len();
                        true
                    }
                    None => false,
                })
        };
        let found = dirs
            .iter()
            .filter_map(|d| std::fs::read_dir(d).ok())
            .any(|rd| {
                rd.flatten().any(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    e.path().is_file() && could_be(&n) && !statics.contains(&n.as_str())
                })
            });
        if found {
            return Err(format!("include_vars of `{c}`: chosen at run time"));
        }
    }
    Err(match candidates {
        [] => "include_vars without a file".to_string(),
        [one] if !one.contains("{{") => format!("vars file `{one}` not found"),
        [one] => format!("include_vars of `{one}`: chosen at run time"),
        _ => format!("none of the files {} found", candidates.join(", ")),
    })
}

/// A task looping over `{{ R.results }}`, R a looped `stat` whose result the task's resource
/// does not read (a templated `state` choosing between two forms of one resource, say): the
/// task with the stat's loop, `item.item` read as `item`, and R. None when anything of the
/// result (`item.stat`, ...) is left in the task or in the resources it maps to.
fn loop_of_stat(
    t: &Task,
    stat_loops: &BTreeMap<String, Value>,
    ctx: &Ctx,
) -> Option<(String, Task)> {
    if t.loop_var.is_some() {
        return None;
    }
    let l = t.loop_.as_ref()?.as_str()?.replace(' ', "");
    let reg = l.strip_prefix("{{")?.strip_suffix(".results}}")?;
    let stat_loop = stat_loops.get(reg)?;
    let fix = |s: &str| s.replace("item.item", "item");
    let mut t2 = t.clone();
    t2.loop_ = Some(stat_loop.clone());
    for (_, v) in t2.args.iter_mut() {
        if let Value::String(s) = v {
            *s = fix(s);
        }
    }
    t2.free = t2.free.as_deref().map(fix);
    t2.when = t2.when.iter().map(|w| fix(w)).collect();
    t2.become_user = t2.become_user.as_deref().map(fix);
    let result = regex::Regex::new(r"\bitem\.(stat|failed|skipped|changed|rc|stdout|stderr)\b")
        .expect("a valid regex");
    let reads_result = |s: &str| result.is_match(s);
    if t2.when.iter().any(|w| reads_result(w)) {
        return None;
    }
    match map_task(&t2, ctx) {
        Mapped::Resources(rs)
            if rs
                .iter()
                .flat_map(|r| &r.fields)
                .all(|(_, v)| !reads_result(&crate::yaml::to_string(v))) =>
        {
            Some((reg.to_string(), t2))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_kinds_key_with_dotdot_is_folded_and_noted() {
        let mut dir = Res::new("directory", "{{playbook_dir}}/..");
        dir.set("group", "www-data");
        fold_dotdot_key(&mut dir);
        assert_eq!(dir.key(), "{{ (playbook_dir ~ '/..') | normpath }}");
        assert!(
            dir.notes[0].contains("folded by play's `normpath`"),
            "{:?}",
            dir.notes
        );
        // a link's relative target keeps its `..` (a link may point up); other kinds untouched
        let mut link = Res::new("link", "/var/www/app");
        link.set("target", "../srv/app");
        fold_dotdot_key(&mut link);
        assert_eq!(
            link.get("target").and_then(|v| v.as_str()),
            Some("../srv/app")
        );
        assert!(link.notes.is_empty());
        let mut cmd = Res::new("command", "cd /a/.. && ls");
        fold_dotdot_key(&mut cmd);
        assert_eq!(cmd.key(), "cd /a/.. && ls");
    }

    #[test]
    fn a_path_with_dotdot_is_folded_now_or_by_normpath() {
        let cases = [
            ("/srv/app/../req.txt", Some("/srv/req.txt")),
            (
                "{{ pkg }}../requirements/dev.txt",
                Some("{{ (pkg ~ '../requirements/dev.txt') | normpath }}"),
            ),
            (
                "/a/{{ x | default('b') }}/../c",
                Some("{{ ('/a/' ~ (x | default('b')) ~ '/../c') | normpath }}"),
            ),
            ("{% if a %}/x/../y{% endif %}", None),
            ("{{ a }}/it's/../b", None),
        ];
        for (path, want) in cases {
            assert_eq!(normalized_path(path).as_deref(), want, "{path}");
        }
    }

    #[test]
    fn include_vars_first_found_takes_the_file_that_can_exist() {
        let d = tempfile::tempdir().expect("tempdir");
        let vars = d.path().join("vars");
        std::fs::create_dir(&vars).expect("mkdir");
        std::fs::write(vars.join("version-specific-defaults.yml"), "a: 1\n").expect("write");
        let dirs = vec![d.path().join("tasks"), vars.clone()];
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        // No file but the fallback could be `{{ php_version }}.yml`: the fallback.
        let (p, note) = pick_first_found(
            &s(&["{{ php_version }}.yml", "version-specific-defaults.yml"]),
            &dirs,
        )
        .expect("fallback");
        assert_eq!(
            (p, note),
            (vars.join("version-specific-defaults.yml"), None)
        );
        // Chosen by OS: the Debian variant, said in a note.
        std::fs::write(vars.join("Debian.yml"), "b: 1\n").expect("write");
        let (p, note) =
            pick_first_found(&s(&["{{ ansible_os_family }}.yml", "default.yml"]), &dirs)
                .expect("debian");
        assert_eq!(p, vars.join("Debian.yml"));
        assert!(note.is_some_and(|n| n.contains("Debian variant")));
        // A file that may be the templated name: chosen at run time.
        std::fs::write(vars.join("8.3.yml"), "c: 1\n").expect("write");
        let e = pick_first_found(
            &s(&["{{ php_version }}.yml", "version-specific-defaults.yml"]),
            &dirs,
        )
        .expect_err("run time");
        assert!(e.contains("chosen at run time"), "{e}");
        let e = pick_first_found(&s(&["nope.yml"]), &dirs).expect_err("missing");
        assert_eq!(e, "vars file `nope.yml` not found");
        let params = vec![(
            "params".to_string(),
            s(&["a.yml", "b.yml"]),
            s(&["{{ playbook_dir }}/vars"]),
        )];
        assert_eq!(
            first_found_lookup("{{ lookup('first_found', params) }}", &params),
            Some((s(&["a.yml", "b.yml"]), s(&["{{ playbook_dir }}/vars"])))
        );
        assert_eq!(
            first_found_lookup("{{ lookup(\"first_found\", other) }}", &params),
            None
        );
        assert_eq!(first_found_lookup("vars/a.yml", &params), None);
    }

    fn env(pairs: &[(&str, &str)]) -> Task {
        let mut m = crate::yaml::Mapping::new();
        for (k, v) in pairs {
            m.insert(Value::String(k.to_string()), Value::String(v.to_string()));
        }
        Task {
            environment: Some(Value::Mapping(m)),
            ..Task::default()
        }
    }

    fn cmd() -> Res {
        Res {
            fields: vec![("command".into(), Value::String("make".into()))],
            native: false,
            comments: Vec::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn a_task_environment_is_the_commands_with_ansible_env_path_as_debians() {
        let mut r = cmd();
        carry_environment(
            &env(&[
                ("PATH", "/opt/node/bin:{{ ansible_env.PATH }}"),
                ("HOME2", "{{ ansible_env.HOME }}"),
                ("A", "1"),
            ]),
            &mut r,
        );
        let got = crate::yaml::to_string(r.get("environment").expect("environment"));
        assert_eq!(
            got.trim(),
            "PATH: /opt/node/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nA: '1'"
        );
        assert!(
            r.notes
                .iter()
                .any(|n| n.contains("environment `HOME2` not carried")),
            "{:?}",
            r.notes
        );
        // other kinds have none: noted
        let mut f = cmd();
        f.fields[0] = ("file".into(), Value::String("/x".into()));
        carry_environment(&env(&[("A", "1")]), &mut f);
        assert!(f.get("environment").is_none());
        assert!(
            f.notes[0].contains("task `environment:` not carried"),
            "{:?}",
            f.notes
        );
    }
}
