//! Templating with minijinja: strict undefined, trailing newlines kept, lazy vars.
//!
//! Vars may reference other vars (`app_root: "{{ base }}/app"`): they are resolved on first
//! use, as in Ansible, through [`LazyVars`], which detects cycles. A string that is exactly one
//! expression (`"{{ ports }}"`) keeps the expression's type (a list stays a list).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use minijinja::value::{Enumerator, Object, ObjectRepr, Value as MValue};
use minijinja::{Environment, ErrorKind, UndefinedBehavior};

pub use super::limits::{format_size, guard_filters, parse_size, CappedWriter, Limits, SizeError};
use crate::yaml::Value as YValue;

/// A template engine configured the way playbooks need it, every rendering bounded by `limits`
/// (its fuel here; its output cap by [`render_named`]).
pub fn environment(template_dirs: Vec<std::path::PathBuf>, limits: Limits) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(limits.fuel()));
    guard_filters(&mut env, limits);
    env.set_keep_trailing_newline(true);
    // Templates are text whatever their name, as Ansible's: minijinja's default would escape
    // what a `.yml`/`.json` template writes as JSON (`database: "consul"`) and `.html` as HTML.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    // `{{ x }}` of a null (`x: ~`, `x:` with no value, a module's `None` fact) writes nothing,
    // as Ansible's templates do; inside a value it stays `None` (`{{ [x] }}` is `[None]`).
    env.set_formatter(|out, state, value| {
        if value.is_none() {
            Ok(())
        } else {
            minijinja::escape_formatter(out, state, value)
        }
    });
    // `{% include %}` / `{% import %}` inside templates find files in the same folders.
    env.set_loader(move |name| {
        for d in &template_dirs {
            let p = d.join(name);
            if p.is_file() {
                return std::fs::read_to_string(&p).map(Some).map_err(|e| {
                    minijinja::Error::new(
                        ErrorKind::InvalidOperation,
                        format!("cannot read template {}: {e}", p.display()),
                    )
                });
            }
        }
        Ok(None)
    });
    env
}

/// Why rendering failed, in words for the user (without the location, added by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError {
    /// Line inside the template or string (1-based), when known.
    pub line: Option<usize>,
    /// Column of that line (1-based, in characters), when known.
    pub column: Option<usize>,
    pub message: String,
}

/// Variables of one host (and play), resolved lazily on first use.
pub struct LazyVars {
    env: Arc<Environment<'static>>,
    raw: Arc<BTreeMap<String, YValue>>,
    fixed: BTreeMap<String, MValue>,
    /// The vars these were made from by [`LazyVars::with_bindings`]: their resolved values are
    /// taken before rendering again.
    parent: Option<Arc<LazyVars>>,
    cache: Mutex<HashMap<String, MValue>>,
    stack: Mutex<Vec<String>>,
    /// The first error met while resolving a var (reported instead of "undefined").
    error: Mutex<Option<String>>,
    /// Bounds of every rendering done with these vars.
    limits: Limits,
    /// How many times a rendering with these vars looked up a name nothing defines. A var whose
    /// rendering did is not cached: as in Ansible, where a lookup on undefined is undefined
    /// (`item.ssl | default(false)`), its value may differ where that name is bound (a loop's
    /// `item`), so it is rendered again at each use.
    misses: AtomicUsize,
}

impl std::fmt::Debug for LazyVars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyVars")
            .field("raw", &self.raw.keys())
            .finish()
    }
}

impl LazyVars {
    /// `raw`: vars as written (templated strings resolved on use); `fixed`: values taken as they
    /// are (`inventory_hostname`, `groups`, `facts`, ...), which win over `raw`.
    pub fn new(
        env: Arc<Environment<'static>>,
        raw: BTreeMap<String, YValue>,
        fixed: BTreeMap<String, MValue>,
        limits: Limits,
    ) -> Arc<Self> {
        Arc::new(LazyVars {
            env,
            raw: Arc::new(raw),
            fixed,
            parent: None,
            cache: Mutex::new(HashMap::new()),
            stack: Mutex::new(Vec::new()),
            error: Mutex::new(None),
            limits,
            misses: AtomicUsize::new(0),
        })
    }

    /// These vars with `more` set over them (later ones win), except names `keep` says stay
    /// as they are (`-e`). Values are rendered afresh.
    pub fn layered(&self, more: &[(String, YValue)], keep: impl Fn(&str) -> bool) -> Arc<Self> {
        let mut raw = (*self.raw).clone();
        for (k, v) in more {
            if !keep(k) {
                raw.insert(k.clone(), v.clone());
            }
        }
        LazyVars::new(self.env.clone(), raw, self.fixed.clone(), self.limits)
    }

    /// These vars seeing `bindings` (a loop's `item`) as Ansible's do: a var whose value reads
    /// `item` (`ssl_enabled: "{{ item.value.ssl.enabled }}"`) is rendered with the item of the
    /// resource using it. A var these vars already resolved keeps its value.
    pub fn with_bindings(self: &Arc<Self>, bindings: &BTreeMap<String, MValue>) -> Arc<Self> {
        if bindings.is_empty() {
            return self.clone();
        }
        let mut fixed = self.fixed.clone();
        fixed.extend(bindings.iter().map(|(k, v)| (k.clone(), v.clone())));
        Arc::new(LazyVars {
            env: self.env.clone(),
            raw: self.raw.clone(),
            fixed,
            parent: Some(self.clone()),
            cache: Mutex::new(HashMap::new()),
            stack: Mutex::new(Vec::new()),
            error: Mutex::new(None),
            limits: self.limits,
            misses: AtomicUsize::new(0),
        })
    }

    fn has(&self, name: &str) -> bool {
        self.fixed.contains_key(name) || self.raw.contains_key(name)
    }

    /// Counts a lookup of `name` that found nothing, unless it is one of the environment's
    /// globals (`range`, `lookup`, …), which minijinja looks up after the context.
    fn missed(&self, name: &str) {
        if !self.has(name) && !self.env.globals().any(|(g, _)| g == name) {
            self.misses.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn take_error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|mut e| e.take())
    }

    fn set_error(&self, msg: String) {
        if let Ok(mut e) = self.error.lock() {
            if e.is_none() {
                *e = Some(msg);
            }
        }
    }

    fn resolve(self: &Arc<Self>, name: &str) -> Option<MValue> {
        if let Some(v) = self.fixed.get(name) {
            return Some(v.clone());
        }
        if let Some(v) = self.cache.lock().ok()?.get(name) {
            return Some(v.clone());
        }
        if let Some(v) =
            (self.parent.as_ref()).and_then(|p| p.cache.lock().ok()?.get(name).cloned())
        {
            return Some(v);
        }
        let raw = self.raw.get(name)?;
        {
            let mut stack = self.stack.lock().ok()?;
            if let Some(pos) = stack.iter().position(|s| s == name) {
                let mut cycle: Vec<String> = stack[pos..].to_vec();
                cycle.push(name.to_string());
                drop(stack);
                self.set_error(format!("variable cycle: {}", cycle.join(" → ")));
                return None;
            }
            stack.push(name.to_string());
        }
        let ctx = MValue::from_dyn_object(self.clone());
        let misses = self.misses.load(Ordering::Relaxed);
        let result = convert(&self.env, raw, &ctx, self);
        if let Ok(mut stack) = self.stack.lock() {
            stack.pop();
        }
        match result {
            Ok(v) => {
                if self.misses.load(Ordering::Relaxed) == misses {
                    if let Ok(mut c) = self.cache.lock() {
                        c.insert(name.to_string(), v.clone());
                    }
                }
                Some(v)
            }
            Err(e) => {
                if e.message.starts_with("variable cycle") || e.message.starts_with("in var `") {
                    self.set_error(e.message);
                } else {
                    self.set_error(format!("in var `{name}`: {}", e.message));
                }
                None
            }
        }
    }
}

impl Object for LazyVars {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &MValue) -> Option<MValue> {
        let name = key.as_str()?;
        let v = self.resolve(name);
        if v.is_none() {
            self.missed(name);
        }
        v
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut keys: Vec<MValue> = self
            .fixed
            .keys()
            .chain(self.raw.keys())
            .map(|k| MValue::from(k.as_str()))
            .collect();
        keys.dedup();
        Enumerator::Values(keys)
    }
}

/// A context: the host's lazy vars plus a few bindings on top (the loop item).
#[derive(Debug)]
pub struct Scope {
    pub vars: Arc<LazyVars>,
    pub extra: BTreeMap<String, MValue>,
}

impl Object for Scope {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, key: &MValue) -> Option<MValue> {
        let k = key.as_str()?;
        match self.extra.get(k) {
            Some(v) => Some(v.clone()),
            None => {
                let v = self.vars.resolve(k);
                if v.is_none() {
                    self.vars.missed(k);
                }
                v
            }
        }
    }
}

impl Scope {
    /// `vars` with `extra` on top; the vars see `extra` too ([`LazyVars::with_bindings`]).
    pub fn new(vars: Arc<LazyVars>, extra: BTreeMap<String, MValue>) -> Arc<Scope> {
        let vars = vars.with_bindings(&extra);
        Arc::new(Scope { vars, extra })
    }
    fn has(&self, name: &str) -> bool {
        self.extra.contains_key(name) || self.vars.has(name)
    }
}

/// If `s` is exactly one `{{ expression }}`, the expression.
fn sole_expression(s: &str) -> Option<&str> {
    let t = s.trim();
    let inner = t.strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") {
        return None;
    }
    Some(inner.trim())
}

fn is_templated(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// Renders a YAML value: strings are templates; lists and mappings are walked.
fn convert(
    env: &Environment<'static>,
    v: &YValue,
    ctx: &MValue,
    vars: &LazyVars,
) -> Result<MValue, RenderError> {
    Ok(match v {
        YValue::String(s) if is_templated(s) => {
            if let Some(expr) = sole_expression(s) {
                eval_expr(env, expr, ctx, &|n| vars.has(n), vars)?
            } else {
                MValue::from(render_named(env, "<var>", s, ctx, &|n| vars.has(n), vars)?)
            }
        }
        YValue::Sequence(items) => MValue::from(
            items
                .iter()
                .map(|i| convert(env, i, ctx, vars))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        YValue::Mapping(m) => {
            let mut out = BTreeMap::new();
            for (k, v) in m {
                // Keys are templates too, as in Ansible (`"php{{ php_version }}-fpm": true`).
                let key = match k {
                    YValue::String(s) if is_templated(s) => {
                        render_named(env, "<key>", s, ctx, &|n| vars.has(n), vars)?
                    }
                    YValue::String(s) => s.clone(),
                    other => crate::yaml::to_string(other).trim().to_string(),
                };
                out.insert(key, convert(env, v, ctx, vars)?);
            }
            MValue::from_serialize(&out)
        }
        YValue::Tagged(t) => convert(env, &t.value, ctx, vars)?,
        other => MValue::from_serialize(other),
    })
}

fn explain(
    err: &minijinja::Error,
    undeclared: Vec<String>,
    has: &dyn Fn(&str) -> bool,
    vars: &LazyVars,
) -> RenderError {
    if let Some(inner) = vars.take_error() {
        return RenderError {
            line: err.line(),
            column: None,
            message: inner,
        };
    }
    let ansible_names: Vec<String> = undeclared
        .iter()
        .filter(|n| n.starts_with("ansible_") && !has(n))
        .cloned()
        .collect();
    let mut message = match err.kind() {
        ErrorKind::UndefinedError => {
            let (mut missing, mut present): (Vec<String>, Vec<String>) =
                undeclared.into_iter().partition(|n| !has(n));
            missing.sort();
            present.sort();
            match missing.as_slice() {
                // Every name is defined: an attribute or key one of them lacks.
                [] if !present.is_empty() => format!(
                    "undefined value: an attribute or key that {} does not have",
                    present
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
                [] => "undefined value".to_string(),
                [one] => format!("undefined variable `{one}`"),
                many => format!(
                    "undefined variables {}",
                    many.iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
        ErrorKind::OutOfFuel => format!(
            "template ran out of fuel: more than {} instructions in one rendering (a runaway \
             loop?); --max-template-size raises it with the output cap",
            vars.limits.fuel()
        ),
        _ => err
            .detail()
            .map(str::to_string)
            .unwrap_or_else(|| err.kind().to_string()),
    };
    if let Some(src) = std::error::Error::source(err) {
        message.push_str(&format!(" ({src})"));
    }
    if err.kind() == ErrorKind::UnknownFilter {
        message.push_str(
            " (not a filter of Jinja, Ansible or play: a filter plugin of the source project \
             (Ansible's `filter_plugins`) has no play form; compute the value in a var or a \
             template with the filters play has)",
        );
    }
    if let Some(hint) = ansible_names
        .iter()
        .find_map(|n| super::ansible::undefined_hint(n))
    {
        message.push_str(&format!(" ({hint})"));
    }
    RenderError {
        line: err.line(),
        column: None,
        message,
    }
}

/// Renders `source` (named `name` in errors) with `ctx`.
pub fn render_named(
    env: &Environment<'static>,
    name: &str,
    source: &str,
    ctx: &MValue,
    has: &dyn Fn(&str) -> bool,
    vars: &LazyVars,
) -> Result<String, RenderError> {
    // The values this rendering makes (`~`, `+`, captured blocks, guarded filters) share one
    // byte budget, checked before each allocation (vendor/minijinja/PLAY-PATCH.md).
    // Compiling folds constants (`'x' * 9 ~ 'y'`) under a budget of its own: a fold refused
    // there is left to the rendering, which charges it again.
    let tmpl = {
        let _compiling = minijinja::budget::enter(vars.limits.max_output);
        env.template_from_named_str(name, source)
    }
    .map_err(|e| at_column(explain(&e, Vec::new(), has, vars), source, &e))?;
    let _budget = minijinja::budget::enter(vars.limits.max_output);
    // Through a capped writer: memory never grows past the cap, however much the template
    // would write (issue 13: a 10 GB rendering aborted the process).
    let mut out = CappedWriter::new(vars.limits.max_output);
    match tmpl.render_captured_to(ctx, &mut out) {
        Ok(_) => {}
        Err(e) if out.exceeded() => {
            return Err(at_column(too_large(vars.limits, e.line()), source, &e))
        }
        Err(e) if minijinja::budget::exceeded() => {
            let mut r = values_too_large(vars.limits);
            r.line = e.line();
            return Err(at_column(r, source, &e));
        }
        Err(e) => {
            let undeclared = tmpl.undeclared_variables(false).into_iter().collect();
            return Err(at_column(explain(&e, undeclared, has, vars), source, &e));
        }
    }
    String::from_utf8(out.into_inner()).map_err(|e| RenderError {
        line: None,
        column: None,
        message: format!("template output is not UTF-8: {e}"),
    })
}

/// `r` with the column of `err` in `source` (from the span minijinja gives: where the failing
/// expression starts), when it is on `r`'s line.
fn at_column(mut r: RenderError, source: &str, err: &minijinja::Error) -> RenderError {
    let Some(start) = err.range().map(|range| range.start) else {
        return r;
    };
    let Some(before) = source.get(..start) else {
        return r;
    };
    let line = before.matches('\n').count() + 1;
    if r.line.is_none_or(|l| l == line) {
        r.line = Some(line);
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        r.column = Some(before[line_start..].chars().count() + 1);
    }
    r
}

/// The error of a rendering whose output passed `limits.max_output`.
fn too_large(limits: Limits, line: Option<usize>) -> RenderError {
    RenderError {
        line,
        column: None,
        message: format!(
            "template output exceeds {} (the cap per rendering; raise it with \
             --max-template-size)",
            format_size(limits.max_output)
        ),
    }
}

/// The error of a rendering whose values passed the budget of `limits` (located by the caller).
fn values_too_large(limits: Limits) -> RenderError {
    RenderError {
        line: None,
        column: None,
        message: format!(
            "template values exceed {} in total (strings, lists and captured blocks made by \
             one rendering; the cap per rendering, raise it with --max-template-size)",
            format_size(limits.max_output)
        ),
    }
}

/// Evaluates an expression to a value.
pub fn eval_expr(
    env: &Environment<'static>,
    expr: &str,
    ctx: &MValue,
    has: &dyn Fn(&str) -> bool,
    vars: &LazyVars,
) -> Result<MValue, RenderError> {
    let e = {
        let _compiling = minijinja::budget::enter(vars.limits.max_output);
        env.compile_expression(expr)
    }
    .map_err(|e| explain(&e, Vec::new(), has, vars))?;
    let _budget = minijinja::budget::enter(vars.limits.max_output);
    let v = e.eval(ctx).map_err(|err| {
        if minijinja::budget::exceeded() {
            let mut r = values_too_large(vars.limits);
            r.line = err.line();
            return r;
        }
        let undeclared = e.undeclared_variables(false).into_iter().collect();
        explain(&err, undeclared, has, vars)
    })?;
    if v.is_undefined() {
        let undeclared: Vec<String> = e.undeclared_variables(false).into_iter().collect();
        let err = minijinja::Error::new(ErrorKind::UndefinedError, "undefined");
        return Err(explain(&err, undeclared, has, vars));
    }
    // A value is not written through the capped writer: check its size once made (minijinja
    // itself caps a repeated string at 100 MB).
    if v.as_str()
        .is_some_and(|s| s.len() as u64 > vars.limits.max_output)
    {
        return Err(too_large(vars.limits, None));
    }
    Ok(v)
}

/// Renders values in one scope (host vars + loop item).
pub struct Renderer<'e> {
    pub env: &'e Environment<'static>,
    pub scope: Arc<Scope>,
}

impl Renderer<'_> {
    fn ctx(&self) -> MValue {
        MValue::from_dyn_object(self.scope.clone())
    }

    /// Renders a string (a template) to a string.
    pub fn string(&self, name: &str, s: &str) -> Result<String, RenderError> {
        if !is_templated(s) {
            return Ok(s.to_string());
        }
        let scope = self.scope.clone();
        self.fresh();
        render_named(
            self.env,
            name,
            s,
            &self.ctx(),
            &|n| scope.has(n),
            &self.scope.vars,
        )
    }

    /// Renders a YAML value to a template value (strings that are one expression keep its type).
    pub fn value(&self, v: &YValue) -> Result<MValue, RenderError> {
        match v {
            YValue::String(s) if is_templated(s) => match sole_expression(s) {
                Some(expr) => self.expr(expr),
                None => Ok(MValue::from(self.string("<value>", s)?)),
            },
            YValue::Sequence(items) => Ok(MValue::from(
                items
                    .iter()
                    .map(|i| self.value(i))
                    .collect::<Result<Vec<_>, _>>()?,
            )),
            other => {
                self.fresh();
                convert(self.env, other, &self.ctx(), &self.scope.vars)
            }
        }
    }

    /// Forgets what a var met while an earlier rendering resolved it: an error of this
    /// rendering is explained by the vars it resolves itself, not by one an earlier rendering
    /// got past (with `default`, say).
    fn fresh(&self) {
        self.scope.vars.take_error();
    }

    /// Evaluates a bare expression (as in `when:`).
    pub fn expr(&self, expr: &str) -> Result<MValue, RenderError> {
        let scope = self.scope.clone();
        self.fresh();
        eval_expr(
            self.env,
            expr,
            &self.ctx(),
            &|n| scope.has(n),
            &self.scope.vars,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(limits: Limits, source: &str) -> Result<String, RenderError> {
        let env = Arc::new(environment(Vec::new(), limits));
        let vars = LazyVars::new(env.clone(), BTreeMap::new(), BTreeMap::new(), limits);
        let ctx = MValue::from_dyn_object(Scope::new(vars.clone(), BTreeMap::new()));
        render_named(&env, "t.j2", source, &ctx, &|_| false, &vars)
    }

    /// Templates are text, whatever their name: nothing is escaped (minijinja's default escapes
    /// `.yml`/`.json` names as JSON and `.html` as HTML; Ansible escapes nothing).
    #[test]
    fn no_template_name_escapes_what_it_writes() {
        let limits = Limits::default();
        let env = Arc::new(environment(Vec::new(), limits));
        let raw: BTreeMap<String, YValue> = [("db", "consul"), ("title", "<b>A & B</b>")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), YValue::String(v.to_string())))
            .collect();
        let vars = LazyVars::new(env.clone(), raw, BTreeMap::new(), limits);
        let ctx = MValue::from_dyn_object(Scope::new(vars.clone(), BTreeMap::new()));
        for name in [
            "database.yml",
            "database.yml.j2",
            "a.json",
            "a.yaml",
            "index.html",
            "x.xml.j2",
        ] {
            let out = render_named(
                &env,
                name,
                "db: {{ db }} t: {{ title }}",
                &ctx,
                &|_| false,
                &vars,
            );
            assert_eq!(out.as_deref(), Ok("db: consul t: <b>A & B</b>"), "{name}");
        }
    }

    #[test]
    fn a_var_reading_the_loop_item_is_rendered_with_the_item_of_its_use() {
        let limits = Limits::default();
        let env = Arc::new(environment(Vec::new(), limits));
        let raw: BTreeMap<String, YValue> = [
            ("ssl_enabled", "{{ item.value.ssl | default(false) }}"),
            ("uses_le", "{{ ssl_enabled and item.key == 'a' }}"),
            ("base", "/srv"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), YValue::String(v.to_string())))
        .collect();
        let vars = LazyVars::new(env.clone(), raw, BTreeMap::new(), limits);
        // Resolved outside any loop first: `base` is kept, `item` is undefined there.
        let outside = Renderer {
            env: &env,
            scope: Scope::new(vars.clone(), BTreeMap::new()),
        };
        assert_eq!(outside.string("t", "{{ base }}").expect("base"), "/srv");
        // As in Ansible, `item.value.ssl | default(false)` is false where `item` is undefined
        // (a lookup on undefined is undefined); reading `item` for its value fails.
        assert!(!outside.expr("uses_le").expect("default").is_true());
        let e = outside.string("t", "{{ item.key }}").expect_err("no item");
        assert!(
            e.message.contains("undefined variable `item`"),
            "{}",
            e.message
        );
        let site = |key: &str, ssl: bool| {
            MValue::from_serialize(serde_json::json!({"key": key, "value": {"ssl": ssl}}))
        };
        let keyed = YValue::Mapping(
            [(
                YValue::String("{{ base }}/k".into()),
                YValue::String("{{ base }}/v".into()),
            )]
            .into_iter()
            .collect(),
        );
        assert_eq!(
            outside.value(&keyed).expect("mapping").to_string(),
            r#"{"/srv/k": "/srv/v"}"#
        );
        for (item, want) in [
            (site("a", true), true),
            (site("b", true), false),
            (site("a", false), false),
        ] {
            let r = Renderer {
                env: &env,
                scope: Scope::new(vars.clone(), [("item".to_string(), item)].into()),
            };
            assert_eq!(r.expr("uses_le").expect("per item").is_true(), want);
            assert_eq!(r.string("t", "{{ base }}/x").expect("base"), "/srv/x");
        }
    }

    #[test]
    fn a_lookup_on_undefined_is_undefined_as_in_ansible_and_still_fails_when_used() {
        let mut env = environment(Vec::new(), Limits::default());
        crate::resolve::ansible::register(&mut env, std::path::Path::new("."));
        let env = Arc::new(env);
        let vars = LazyVars::new(
            env.clone(),
            BTreeMap::new(),
            BTreeMap::new(),
            Limits::default(),
        );
        let renderer = Renderer {
            env: &env,
            scope: Scope::new(vars, BTreeMap::new()),
        };
        let r = |t: &str| renderer.string("t", t);
        assert_eq!(r("{{ x.y.z | default('d') }}").as_deref(), Ok("d"));
        assert_eq!(r("{{ x['y'].z | default('d') }}").as_deref(), Ok("d"));
        assert_eq!(r("{{ x.y is defined }}").as_deref(), Ok("False"));
        for used in [
            "{{ x.y }}",
            "{% for a in x.y %}{% endfor %}",
            "{% if x.y %}{% endif %}",
            "{{ x.y | upper }}",
        ] {
            let e = r(used).expect_err(used);
            assert!(e.message.contains("undefined"), "{used}: {}", e.message);
        }
        // Ansible's filters name the undefined var their input was read from.
        for used in [
            "{{ x.results | subelements('a') }}",
            "{{ x.files | flatten }}",
            "{{ x.env | combine({}) }}",
            "{{ x.a | union([1]) }}",
            "{{ [1] | difference(x.a) }}",
            "{{ x.a | zip([1]) }}",
        ] {
            let e = r(used).expect_err(used);
            assert_eq!(e.message, "undefined variable `x`", "{used}");
        }
    }

    #[test]
    fn a_null_prints_as_nothing_as_in_ansible() {
        assert_eq!(
            render(
                Limits::default(),
                "a={{ none }} b={{ [none] }} c={{ none | default('x', true) }}"
            )
            .as_deref(),
            Ok("a= b=[None] c=x")
        );
    }

    #[test]
    fn an_error_is_explained_by_its_own_rendering_not_by_one_an_earlier_got_past() {
        let limits = Limits::default();
        let env = Arc::new(environment(Vec::new(), limits));
        let raw: BTreeMap<String, YValue> = [("broken", "{{ {} | no_such_filter }}")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), YValue::String(v.to_string())))
            .collect();
        let vars = LazyVars::new(env.clone(), raw, BTreeMap::new(), limits);
        let r = Renderer {
            env: &env,
            scope: Scope::new(vars, BTreeMap::new()),
        };
        assert_eq!(
            r.string("t", "{{ broken | default('ok') }}").as_deref(),
            Ok("ok")
        );
        let e = r.string("t", "{{ missing_name }}").expect_err("undefined");
        assert_eq!(e.message, "undefined variable `missing_name`");
        let e = r.expr("broken ~ 'x'").expect_err("broken");
        assert!(
            e.message
                .starts_with("in var `broken`: filter no_such_filter is unknown"),
            "{}",
            e.message
        );
    }

    #[test]
    fn an_undefined_attribute_names_the_vars_it_was_read_from() {
        let limits = Limits::default();
        let env = Arc::new(environment(Vec::new(), limits));
        let raw: BTreeMap<String, YValue> = [(
            "project".to_string(),
            crate::yaml::from_str(std::path::Path::new("v"), "{repo: x}").expect("yaml"),
        )]
        .into();
        let vars = LazyVars::new(env.clone(), raw, BTreeMap::new(), limits);
        let r = Renderer {
            env: &env,
            scope: Scope::new(vars, BTreeMap::new()),
        };
        let e = r
            .expr("'ufw' in project.packages")
            .expect_err("no such key");
        assert_eq!(
            e.message,
            "undefined value: an attribute or key that `project` does not have"
        );
    }

    #[test]
    fn an_unknown_filter_says_it_may_be_a_plugin_of_the_source_project() {
        let e = render(Limits::default(), "{{ {} | select_sites('a') }}").expect_err("unknown");
        assert!(
            e.message.starts_with("filter select_sites is unknown (not a filter of Jinja, Ansible or play: a filter plugin"),
            "{}",
            e.message
        );
    }

    const TEN_GB: &str = "{% for i in range(100000) %}{% for j in range(100000) %}xxxxxxxxxx\
                          {% endfor %}{% endfor %}";

    #[test]
    fn a_ten_gigabyte_template_stops_at_the_cap() {
        let small = Limits {
            max_output: 1 << 20,
        };
        let e = render(small, TEN_GB).expect_err("capped");
        assert!(
            e.message.starts_with("template output exceeds 1 MiB")
                && e.message.contains("--max-template-size"),
            "{}",
            e.message
        );
    }

    #[test]
    fn output_up_to_the_cap_renders_whole() {
        let limits = Limits { max_output: 1000 };
        let out = render(limits, "{% for i in range(100) %}0123456789{% endfor %}").expect("fits");
        assert_eq!(out.len(), 1000);
        assert!(render(limits, "{% for i in range(100) %}0123456789{% endfor %}!").is_err());
    }

    #[test]
    fn a_loop_captured_in_a_variable_stops_at_the_budget_and_an_empty_one_runs_out_of_fuel() {
        let source = format!("{{% set x %}}{TEN_GB}{{% endset %}}{{{{ x|length }}}}");
        let e = render(Limits::default(), &source).expect_err("over the budget");
        assert!(
            e.message
                .starts_with("template values exceed 64 MiB in total"),
            "{}",
            e.message
        );
        assert_eq!(e.line, Some(1));
        let idle =
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}";
        let e = render(Limits::default(), idle).expect_err("out of fuel");
        assert!(
            e.message.starts_with("template ran out of fuel: more than"),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_sole_expression_larger_than_the_cap_is_refused() {
        let limits = Limits { max_output: 1000 };
        let env = Arc::new(environment(Vec::new(), limits));
        let vars = LazyVars::new(env.clone(), BTreeMap::new(), BTreeMap::new(), limits);
        let ctx = MValue::from_dyn_object(Scope::new(vars.clone(), BTreeMap::new()));
        let e = eval_expr(&env, "'x' * 1001", &ctx, &|_| false, &vars).expect_err("too large");
        assert!(
            e.message.starts_with("template values exceed 1000 bytes"),
            "{}",
            e.message
        );
        let e = eval_expr(&env, "'x' * 600 ~ 'y' * 600", &ctx, &|_| false, &vars)
            .expect_err("cumulative");
        assert!(
            e.message.starts_with("template values exceed 1000 bytes"),
            "{}",
            e.message
        );
        let ok = eval_expr(&env, "'x' * 1000", &ctx, &|_| false, &vars).expect("fits");
        assert_eq!(ok.as_str().map(str::len), Some(1000));
    }

    /// Templates that double a string 40 times (a TiB), each through another amplifier.
    const DOUBLINGS: [(&str, &str); 7] = [
        ("~", "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}"),
        ("+", "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}"),
        ("macro", "{% macro d(s) %}{{ s }}{{ s }}{% endmacro %}{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = d(ns.s) %}{% endfor %}{{ ns.s|length }}"),
        ("set block", "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set x %}{{ ns.s }}{{ ns.s }}{% endset %}{% set ns.s = x %}{% endfor %}{{ ns.s|length }}"),
        ("caller", "{% macro w() %}{{ caller() }}{{ caller() }}{% endmacro %}{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s %}{% call w() %}{{ ns.s }}{% endcall %}{% endset %}{% endfor %}{{ ns.s|length }}"),
        ("recursion", "{% macro r(s, n) %}{% if n == 0 %}{{ s }}{% else %}{{ r(s ~ s, n - 1) }}{% endif %}{% endmacro %}{{ r('x', 40)|length }}"),
        ("lazy list", "{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ (ns.l ~ '')|length }}"),
    ];

    #[test]
    fn values_made_by_every_amplifier_share_one_budget_per_rendering() {
        let limits = Limits {
            max_output: 1 << 20,
        };
        for (what, source) in DOUBLINGS {
            let e = render(limits, source).expect_err(what);
            assert!(
                e.message
                    .starts_with("template values exceed 1 MiB in total")
                    && e.message.contains("--max-template-size"),
                "{what}: {}",
                e.message
            );
            assert_eq!(e.line, Some(1), "{what}");
        }
        // Many results of a guarded filter, each under the cap, kept alive together.
        let kept =
            "{% set big = 'a' * 100000 %}{% set ns = namespace(l=[]) %}{% for i in range(100) %}\
                    {% set ns.l = ns.l + [big|replace('a', 'b')] %}{% endfor %}{{ ns.l|length }}";
        let e = render(limits, kept).expect_err("cumulative");
        assert!(
            e.message.starts_with("template values exceed 1 MiB"),
            "{}",
            e.message
        );
        assert_eq!(render(Limits::default(), kept).expect("fits 64 MiB"), "100");
        // The text of a list of lists of millions: `string`, `tojson`, `pprint` stop too.
        for filter in ["string", "tojson", "pprint"] {
            let source = format!("{{{{ ([[1] * 60000] * 60000)|{filter}|length }}}}");
            let e = render(limits, &source).expect_err(filter);
            assert!(
                e.message.starts_with("template values exceed 1 MiB"),
                "{filter}: {}",
                e.message
            );
        }
        // A constant too large to fold while compiling, never evaluated: renders.
        assert_eq!(
            render(
                limits,
                "{{ 1 if true else ('x' * 900000 ~ 'y' * 900000) }}{{ [1, 2] }}"
            )
            .expect("never made"),
            "1[1, 2]"
        );
        // A budget per rendering: the next one starts afresh.
        assert_eq!(
            render(limits, "{{ ('x' * 400000 ~ 'y')|length }}").expect("first"),
            "400001"
        );
        assert_eq!(
            render(limits, "{{ ('x' * 400000 ~ 'y')|length }}").expect("second"),
            "400001"
        );
    }

    #[test]
    fn macros_captures_and_concatenations_render_as_minijinja_does_within_the_budget() {
        let source = "{% macro li(x) %}<li>{{ x }}</li>{% endmacro %}\
                      {% macro ul() %}<ul>{{ caller() }}</ul>{% endmacro %}\
                      {% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n }}*{{ fact(n - 1) }}{% endif %}{% endmacro %}\
                      {% set block %}{% for i in range(3) %}{{ li(i) }}{% endfor %}{% endset %}\
                      {% call ul() %}{{ block }}{% endcall %} {{ fact(5) }} {{ 'a' ~ 1 ~ [2] ~ none }} \
                      {{ 'b' + 'c' }} {{ [1, 2] + [3] }} {{ ([1] * 3) ~ '' }} {{ 'ab' * 3 }} \
                      {% set ns = namespace(l=[]) %}{% for i in range(100) %}{% set ns.l = ns.l + [i ~ ''] %}{% endfor %}\
                      {{ ns.l|length }} {{ ns.l|last }} {{ {'k': [1, 2]} ~ '' }}";
        let plain = Environment::new()
            .render_str(source, ())
            .expect("plain minijinja");
        assert!(
            plain.contains("<ul><li>0</li><li>1</li><li>2</li></ul> 5*4*3*2*1"),
            "{plain}"
        );
        assert_eq!(render(Limits::default(), source).expect("budgeted"), plain);
        assert_eq!(
            render(
                Limits {
                    max_output: 64 << 10
                },
                source
            )
            .expect("small budget"),
            plain
        );
    }

    #[test]
    fn amplifying_filters_are_refused_before_they_allocate() {
        for (filter, source) in [
            (
                "replace",
                "{{ ('x' * 100000) | replace('x', 'y' * 100000) }}",
            ),
            ("join", "{{ (['x' * 10000000] * 1000) | join }}"),
            ("indent", "{{ ('x\\n' * 1000000) | indent(1000) }}"),
            ("format", "{{ '%3000000000s' | format('x') }}"),
        ] {
            let e = render(Limits::default(), source).expect_err(filter);
            assert!(
                e.message
                    .starts_with(&format!("`{filter}` would make a value larger than 64 MiB")),
                "{filter}: {}",
                e.message
            );
        }
        let e = render(
            Limits::default(),
            "{{ (range(100000) * 100000) | list | length }}",
        )
        .expect_err("list");
        assert!(
            e.message
                .starts_with("`list` on a sequence of more than 4194304 items"),
            "{}",
            e.message
        );
    }

    #[test]
    fn guarded_filters_render_as_minijinja_does() {
        let source = "{{ {'b': 2, 'a': 1} | dictsort(by='value') }} {{ [1, 2] | tojson(indent=2) }} \
                      {{ 'a\\nb' | indent(2, first=true) }} {{ [{'x': 1}, {'x': 2}] | map(attribute='x') | join(', ') }} \
                      {{ [{'a': 1}, {'a': 2}] | selectattr('a', 'eq', 1) | list }} {{ 'hello' | replace('l', 'L') }} \
                      {{ '%s-%d' | format('a', 3) }} {{ [3, 1, 2] | sort | reverse | list }} {{ [1, 1, 2] | unique | list }} \
                      {{ range(5) | sum }} {{ [1, 2] | last }} {{ [1, 5] | max }} {{ 'a\\nb' | lines }} {{ [1, 2, 3] | batch(2) | list }} \
                      {{ [1, 2, 3] | slice(2) | list }} {{ [1, 2] | string }} {{ {'k': 1} | items | list }} {{ [1, 2] | pprint }} \
                      {{ [{'g': 1}] | groupby('g') }} {{ [1, 2] | select('odd') | list }} {{ [1, 2] | reject('odd') | list }} \
                      {{ [{'a': 1}] | rejectattr('a') | list }} {{ [3, 1] | min }}";
        let plain = Environment::new()
            .render_str(source, ())
            .expect("plain minijinja");
        assert_eq!(render(Limits::default(), source).expect("guarded"), plain);
    }
}
