//! Two declarations of one path (or name) in one container, as Ansible runs them both in
//! order: when they do not contradict each other they are one resource, at the place the
//! source's order allows ([`decide`]); when they do, both stay and `play check` reports the
//! path declared twice, naming both places.
//!
//! Pure functions of the items (unit-tested on data); [`super::convert::Conversion::dedupe`]
//! applies what they decide.

use super::convert::Item;
use super::modules::Res;
use crate::yaml::Value;

/// Kinds whose missing parent folders play makes before their step (what the engine's
/// `written` paths are): a step of one of these below a folder does not need the folder's own
/// declaration before it.
const PARENT_MADE: [&str; 7] = [
    "file",
    "directory",
    "link",
    "download",
    "git",
    "sync",
    "release",
];

/// Watch lists and list attributes that add up when one resource is declared twice.
const ADDED_UP: [&str; 5] = [
    "restart_on",
    "reload_on",
    "on_change",
    "packages",
    "pip_args",
];

/// Two declarations of one path: `earlier` before `later` in their container, with the
/// items between them and those before `earlier` (removed ones left out), and the
/// container's vars (a role's defaults, a play's vars) that make two key texts one path.
pub struct Pair<'a> {
    pub earlier: &'a Item,
    pub later: &'a Item,
    /// How notes name the earlier one (its title and source place).
    pub earlier_label: String,
    pub between: Vec<&'a Item>,
    pub before: Vec<&'a Item>,
    pub vars: &'a [(String, Value)],
}

/// What becomes of a [`Pair`].
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// One resource with the attributes of both and these `when` conditions, at the earlier
    /// place, or at the later one (`Some(why)`).
    Merge {
        when: Vec<String>,
        at_later: Option<String>,
    },
    /// Key texts that differ but that the container's vars make one path: the declaration
    /// that adds nothing (the earlier one when `earlier`) gets the condition `guard`, so that
    /// it is skipped while they are one path and declared when an inventory or `-e` makes
    /// them two.
    Guard { earlier: bool, guard: String },
    /// Both stay (a conflict `play check` reports where both apply); the note for the later.
    Apart(String),
    /// Under other conditions, and not mergeable (their `when`s may exclude each other):
    /// both stay without a note, `play check` says it where both apply.
    Unrelated,
}

/// Merges when the two do not contradict each other: an attribute given by one only is
/// taken, one given by both must have the same value (watch lists add up; no `state` is
/// `present`). A declaration under conditions the other lacks is merged only if it adds
/// nothing (the other does what it does, whenever it would). The merged resource sits at the
/// earlier place (what lies between finds it there, as in the source) unless the later
/// one's attributes must not come before the steps between: it sets what is below the
/// folder (`recurse`: the source's recursive owner covers what those steps put there), or it
/// names an owner or group that a `user:`/`group:` between them creates. At the later place,
/// a step between that uses the path otherwise than by writing below it (play makes such a
/// missing parent first) needs it made before the earlier declaration already (a path below
/// it, a user's home): else they stay apart.
pub fn decide(p: &Pair) -> Decision {
    let (e, l) = (p.earlier, p.later);
    if e.when != l.when && exclusive(&e.when, &l.when) {
        return Decision::Unrelated;
    }
    let same_text = canonical(&e.res.key()) == canonical(&l.res.key());
    if let Err(what) = compatible(&e.res, &l.res) {
        // under other conditions, each may hold where the other does not: as before, both
        // stay without a word (`play check` says it where both apply)
        if e.when != l.when && same_text {
            return Decision::Unrelated;
        }
        return Decision::Apart(format!(
            "declared before by {}, {what}: not merged, so `play check` reports the path \
             declared twice: choose one",
            p.earlier_label
        ));
    }
    let e_adds = adds(&e.res, &l.res);
    let l_adds = adds(&l.res, &e.res);
    let at_later = later_place(p);
    if !same_text {
        return guard(p, e_adds, l_adds, at_later);
    }
    // the same conditions, or the later one adding nothing under more of them
    let when = if subset(&e.when, &l.when) && (e.when == l.when || l_adds.is_empty()) {
        e.when.clone()
    } else if subset(&l.when, &e.when) && e_adds.is_empty() {
        l.when.clone()
    } else {
        return Decision::Unrelated;
    };
    if at_later.is_some() {
        if let Some(why) = needed_between(p) {
            return Decision::Apart(why);
        }
    }
    Decision::Merge { when, at_later }
}

/// Two key texts the vars make one path: the one adding nothing, under the other's
/// conditions at least, is guarded; which one, by the place the source's order allows.
fn guard(p: &Pair, e_adds: Vec<String>, l_adds: Vec<String>, at_later: Option<String>) -> Decision {
    let (e, l) = (p.earlier, p.later);
    let e_absorbed = e_adds.is_empty() && subset(&l.when, &e.when);
    let l_absorbed = l_adds.is_empty() && subset(&e.when, &l.when);
    let one_path = format!(
        "`{}` here and `{}` of {} are one path with the vars of the project",
        l.res.key(),
        e.res.key(),
        p.earlier_label
    );
    // the kept one at the later place when its attributes must be applied there, else the
    // earlier one kept where it can be
    let guard_earlier = match (e_absorbed, l_absorbed) {
        (true, true) => at_later.is_some(),
        (true, false) => true,
        (false, true) => false,
        (false, false) => {
            return Decision::Apart(format!(
                "{one_path}, and each sets what the other does not ({} there, {} here) or \
                 applies where the other does not: not merged, so where both apply `play check` \
                 reports the path declared twice",
                listed(&e_adds),
                listed(&l_adds)
            ))
        }
    };
    if guard_earlier {
        if let Some(why) = needed_between(p) {
            return Decision::Apart(why);
        }
    }
    let (Some(a), Some(b)) = (expression(&e.res.key()), expression(&l.res.key())) else {
        return Decision::Apart(format!(
            "{one_path}, but one is no template a `when` can compare: not merged, so `play \
             check` reports the path declared twice"
        ));
    };
    let guard = if guard_earlier {
        format!("{a} != {b}")
    } else {
        format!("{b} != {a}")
    };
    Decision::Guard {
        earlier: guard_earlier,
        guard,
    }
}

/// Why the later declaration's attributes must not come before the steps between them.
fn later_place(p: &Pair) -> Option<String> {
    let (e, l) = (p.earlier, p.later);
    if recursive(&l.res) {
        return Some(
            "it sets what is below it (`recurse`), so it stays after what the steps between put there"
                .into(),
        );
    }
    for attr in ["owner", "group"] {
        let Some(name) = l.res.get(attr).and_then(Value::as_str) else {
            continue;
        };
        if e.res.get(attr).and_then(Value::as_str) == Some(name) {
            continue;
        }
        let made = p.between.iter().any(|o| {
            matches!(o.res.kind(), "user" | "group") && canonical(&o.res.key()) == canonical(name)
        });
        if made {
            return Some(format!(
                "its {attr} `{name}` is created between them, so it stays after that"
            ));
        }
    }
    None
}

/// At the later place, the earlier declaration no longer makes the path for the steps
/// between: why they stay apart when one of those uses it otherwise than by writing below
/// it (a command's `chdir`, an archive extracted into it...) and nothing before that step
/// makes it (a path written below it, for which play makes the missing parent; a user's home).
fn needed_between(p: &Pair) -> Option<String> {
    let path = resolve_vars(p.vars, &p.earlier.res.key());
    let makes = |o: &Item| {
        if !subset(&o.when, &p.earlier.when) {
            return false;
        }
        match o.res.kind() {
            "user" => {
                let home = o.res.get("home").and_then(Value::as_str);
                let system = o.res.get("system") == Some(&Value::Bool(true));
                let creates = match o.res.get("create_home") {
                    Some(Value::Bool(b)) => *b,
                    _ => !system,
                };
                creates && home.is_some_and(|h| same_path(&resolve_vars(p.vars, h), &path))
            }
            k => {
                PARENT_MADE.contains(&k)
                    && o.res.get("state").and_then(Value::as_str) != Some("absent")
                    && below(&resolve_vars(p.vars, &o.res.key()), &path)
            }
        }
    };
    // a user or group does not use it; a path written below it gets it as a missing parent
    let uses = |o: &Item| {
        let account = matches!(o.res.kind(), "user" | "group");
        let below_it = PARENT_MADE.contains(&o.res.kind())
            && below(&resolve_vars(p.vars, &o.res.key()), &path);
        !account && !below_it && (o.res.fields.iter()).any(|(_, v)| names(p.vars, v, &path))
    };
    let mut made = p.before.iter().any(|o| makes(o));
    for o in &p.between {
        if !made && uses(o) {
            return Some(format!(
                "declared before by {}: not merged, as the merged one would sit here (after what \
                 the steps between put below it) but `{}` between them uses `{}` and nothing \
                 before it makes it; so `play check` reports the path declared twice",
                p.earlier_label,
                o.title,
                p.earlier.res.key()
            ));
        }
        made = made || makes(o);
    }
    None
}

/// Attributes both give with other values (watch lists add up, a cron file's lines too; no
/// `state` is `present`); a folder's own owner or group beside the other's `recurse` (play
/// would give it to every path below). Err says which.
fn compatible(a: &Res, b: &Res) -> Result<(), String> {
    let cron = |r: &Res| r.comments.iter().any(|c| c.contains("cron"));
    let state = |r: &Res| match r.get("state") {
        None => Some(Value::String("present".into())),
        Some(v) => Some(v.clone()),
    };
    if [state(a), state(b)].contains(&Some(Value::String("absent".into()))) && state(a) != state(b)
    {
        return Err("one of them `state: absent`".into());
    }
    for (k, va) in a.fields.iter().skip(1) {
        let Some(vb) = b.get(k) else { continue };
        if ADDED_UP.contains(&k.as_str()) || (k == "content" && cron(a) && cron(b)) {
            continue;
        }
        if !same_value(k, va, vb) {
            let (x, y) = (shown(va), shown(vb));
            return Err(if x.len() + y.len() > 60 || (x + &y).contains('\n') {
                format!("with another `{k}`")
            } else {
                format!(
                    "with another `{k}` (`{}` there, `{}` here)",
                    shown(va),
                    shown(vb)
                )
            });
        }
    }
    for (x, y) in [(a, b), (b, a)] {
        if !recursive(y) || recursive(x) {
            continue;
        }
        for attr in ["owner", "group"] {
            if let (Some(v), None) = (x.get(attr), y.get(attr)) {
                return Err(format!(
                    "one giving the folder's own {attr} `{}` and the other a `recurse` that does \
                     not set it (play's `recurse` would give it to every path below too)",
                    shown(v)
                ));
            }
        }
    }
    Ok(())
}

/// The attributes `a` gives that `b` does not.
fn adds(a: &Res, b: &Res) -> Vec<String> {
    (a.fields.iter().skip(1))
        .filter(|(k, v)| match b.get(k) {
            // no `state` is `present`
            None => !(k == "state" && v.as_str() == Some("present")),
            Some(Value::Sequence(list)) if ADDED_UP.contains(&k.as_str()) => match v {
                Value::Sequence(mine) => mine.iter().any(|x| !list.contains(x)),
                _ => true,
            },
            Some(_) => false,
        })
        .map(|(k, _)| k.clone())
        .collect()
}

fn same_value(key: &str, a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => crate::yaml::to_string(other).trim().to_string(),
    };
    match key {
        // `0755`, `'0755'` and `755` are one mode
        "mode" => text(a).trim_start_matches('0') == text(b).trim_start_matches('0'),
        _ => text(a) == text(b),
    }
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => crate::yaml::to_string(other).trim().to_string(),
    }
}

fn listed(attrs: &[String]) -> String {
    if attrs.is_empty() {
        return "nothing".into();
    }
    attrs
        .iter()
        .map(|a| format!("`{a}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn recursive(r: &Res) -> bool {
    r.get("recurse") == Some(&Value::Bool(true))
}

/// Every condition of `small` is one of `big`'s: `big` applies only where `small` does.
fn subset(small: &[String], big: &[String]) -> bool {
    small.iter().all(|c| big.contains(c))
}

/// One condition of a list is `not` one of the other's: never both.
fn exclusive(a: &[String], b: &[String]) -> bool {
    let squeezed = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    a.iter().any(|x| {
        b.iter().any(|y| {
            let (x, y) = (squeezed(x), squeezed(y));
            [(&x, &y), (&y, &x)]
                .iter()
                .any(|(p, q)| **p == format!("not{q}") || **p == format!("not({q})"))
        })
    })
}

/// A key text with its `{{ name }}` references spaced one way (`{{x}}` is `{{ x }}`).
pub fn canonical(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open..].find("}}").map(|c| c + open) else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push_str(&format!("{{{{ {} }}}}", rest[open + 2..close].trim()));
        rest = &rest[close + 2..];
    }
    out.push_str(rest);
    out
}

/// `text` with each `{{ name }}` of a var of `vars` that holds a string replaced by its
/// value, a few levels deep (`{{ backup_path }}` → `{{ app_path }}` → `/var/lib/app`); the
/// later of two vars of one name wins. Other expressions stay as they are.
pub fn resolve_vars(vars: &[(String, Value)], text: &str) -> String {
    let lookup = |name: &str| {
        (vars.iter().rev())
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_str())
    };
    let mut cur = canonical(text);
    for _ in 0..5 {
        let mut out = String::new();
        let mut rest = cur.as_str();
        let mut changed = false;
        while let Some(open) = rest.find("{{") {
            let Some(close) = rest[open..].find("}}").map(|c| c + open) else {
                break;
            };
            out.push_str(&rest[..open]);
            let inner = rest[open + 2..close].trim();
            let simple = !inner.is_empty()
                && (inner.chars()).all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
            match lookup(inner).filter(|_| simple) {
                Some(v) => {
                    out.push_str(v);
                    changed = true;
                }
                None => out.push_str(&rest[open..close + 2]),
            }
            rest = &rest[close + 2..];
        }
        out.push_str(rest);
        cur = canonical(&out);
        if !changed {
            break;
        }
    }
    cur
}

/// A key template as a Jinja expression (`{{ a }}/x` → `a ~ '/x'`); None when a part is not
/// that simple (`{% %}`, a quote or a backslash in a literal part).
pub fn expression(text: &str) -> Option<String> {
    if text.contains("{%") || text.contains("{#") {
        return None;
    }
    let literal = |t: &str| (!t.contains(['\'', '\\'])).then(|| format!("'{t}'"));
    let mut parts: Vec<String> = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let Some(open) = rest.find("{{") else {
            parts.push(literal(rest)?);
            break;
        };
        if open > 0 {
            parts.push(literal(&rest[..open])?);
        }
        let close = rest[open..].find("}}")? + open;
        let expr = rest[open + 2..close].trim();
        if expr.is_empty() || expr.contains("{{") {
            return None;
        }
        let bare = (expr.chars()).all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        parts.push(if bare {
            expr.to_string()
        } else {
            format!("({expr})")
        });
        rest = &rest[close + 2..];
    }
    Some(parts.join(" ~ "))
}

fn trimmed(p: &str) -> &str {
    match p.trim_end_matches('/') {
        "" => p,
        t => t,
    }
}

fn same_path(a: &str, b: &str) -> bool {
    trimmed(a) == trimmed(b)
}

/// `path` lies strictly below `folder` (texts, vars resolved).
fn below(path: &str, folder: &str) -> bool {
    path.strip_prefix(trimmed(folder))
        .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1)
}

/// A value (a string, or one in a list or mapping) names `path` (vars resolved): the path
/// itself or one below it, not a longer name (`/srv/app2`).
fn names(vars: &[(String, Value)], v: &Value, path: &str) -> bool {
    match v {
        Value::String(s) => {
            let text = resolve_vars(vars, s);
            let path = trimmed(path);
            text.match_indices(path).any(|(at, _)| {
                let next = text[at + path.len()..].chars().next();
                next.is_none_or(|c| !(c.is_alphanumeric() || "_-.".contains(c)))
            })
        }
        Value::Sequence(list) => list.iter().any(|x| names(vars, x, path)),
        Value::Mapping(m) => m.values().any(|x| names(vars, x, path)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(kind: &str, key: &str, attrs: &[(&str, Value)], when: &[&str], title: &str) -> Item {
        let mut res = Res::new(kind, key);
        for (k, v) in attrs {
            res.set(k, v.clone());
        }
        Item {
            res,
            source: 0,
            loop_: None,
            loop_var: None,
            when: when.iter().map(|w| w.to_string()).collect(),
            tags: Vec::new(),
            notify: Vec::new(),
            removed: false,
            line: 0,
            title: title.into(),
            scope: None,
            out_file: None,
        }
    }

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    /// `directory: /srv/app` with these attributes and conditions.
    fn folder(attrs: &[(&str, Value)], when: &[&str]) -> Item {
        item("directory", "/srv/app", attrs, when, "folder")
    }

    /// `chown -R app /srv/app`, as the importer writes it.
    fn chown_r() -> Item {
        let attrs = [("owner", s("app")), ("recurse", Value::Bool(true))];
        item("directory", "/srv/app", &attrs, &[], "chown -R")
    }

    fn decide_on(
        e: &Item,
        l: &Item,
        between: &[&Item],
        before: &[&Item],
        vars: &[(String, Value)],
    ) -> Decision {
        decide(&Pair {
            earlier: e,
            later: l,
            earlier_label: format!("`{}`", e.title),
            between: between.to_vec(),
            before: before.to_vec(),
            vars,
        })
    }

    /// Why the merged resource sits at the later place (a panic if it is no such merge).
    fn later_why(d: Decision) -> String {
        match d {
            Decision::Merge {
                at_later: Some(why),
                ..
            } => why,
            d => panic!("not merged at the later place: {d:?}"),
        }
    }

    /// The note of two kept apart (a panic if they are not).
    fn apart_why(d: Decision) -> String {
        match d {
            Decision::Apart(why) => why,
            d => panic!("not kept apart: {d:?}"),
        }
    }

    const EARLIER: Decision = Decision::Merge {
        when: Vec::new(),
        at_later: None,
    };

    #[test]
    fn attributes_of_one_side_are_taken_and_the_place_is_the_earlier_one() {
        let (e, l) = (folder(&[], &[]), folder(&[("mode", s("0750"))], &[]));
        let f = item("file", "/srv/app/conf", &[], &[], "a file in it");
        let cmd = item("command", "make -C /srv/app", &[], &[], "a command in it");
        assert_eq!(decide_on(&e, &l, &[&f, &cmd], &[], &[]), EARLIER);
        // `0750` and `'750'` are one mode; other values stay apart, saying which
        let again = folder(&[("mode", s("750"))], &[]);
        assert_eq!(decide_on(&l, &again, &[], &[], &[]), EARLIER);
        let other = folder(&[("mode", s("0755"))], &[]);
        let why = apart_why(decide_on(&l, &other, &[], &[], &[]));
        assert!(
            why.contains("another `mode` (`0750` there, `0755` here)"),
            "{why}"
        );
        // no `state` is present; `absent` contradicts it
        let gone = folder(&[("state", s("absent"))], &[]);
        let why = apart_why(decide_on(&e, &gone, &[], &[], &[]));
        assert!(why.contains("`state: absent`"), "{why}");
    }

    #[test]
    fn a_recursive_owner_or_an_owner_made_between_keeps_the_later_place() {
        let (e, rec) = (folder(&[], &[]), chown_r());
        let f = item("file", "/srv/app/conf", &[], &[], "a file in it");
        assert!(later_why(decide_on(&e, &rec, &[&f], &[], &[])).contains("`recurse`"));
        let user = item("user", "app", &[], &[], "the user");
        let own = folder(&[("owner", s("app"))], &[]);
        let why = later_why(decide_on(&e, &own, &[&user], &[], &[]));
        assert!(why.contains("owner `app` is created between"), "{why}");
        // the user made before both: the earlier place
        assert_eq!(decide_on(&e, &own, &[&f], &[&user], &[]), EARLIER);
        // a folder's own group beside a recursive owner: play would give it to all below
        let grp = folder(&[("group", s("www"))], &[]);
        let why = apart_why(decide_on(&grp, &rec, &[], &[], &[]));
        assert!(why.contains("own group `www`"), "{why}");
    }

    #[test]
    fn at_the_later_place_a_step_between_needs_the_folder_made_before() {
        let (e, rec) = (folder(&[], &[]), chown_r());
        let mut cmd = item("command", "make", &[], &[], "build in it");
        cmd.res.set("chdir", "/srv/app");
        let why = apart_why(decide_on(&e, &rec, &[&cmd], &[], &[]));
        assert!(
            why.contains("`build in it` between them uses `/srv/app`"),
            "{why}"
        );
        // made before by a file below it (play makes its missing parent), also one between
        // before the step, or a user's home: merged at the later place
        let f = item("file", "/srv/app/x", &[], &[], "a file");
        later_why(decide_on(&e, &rec, &[&cmd], &[&f], &[]));
        later_why(decide_on(&e, &rec, &[&f, &cmd], &[], &[]));
        apart_why(decide_on(&e, &rec, &[&cmd, &f], &[], &[]));
        let home = item("user", "app", &[("home", s("/srv/app"))], &[], "user");
        later_why(decide_on(&e, &rec, &[&cmd], &[&home], &[]));
        // a longer name is not the folder
        let mut other = item("command", "make", &[], &[], "elsewhere");
        other.res.set("chdir", "/srv/app2");
        later_why(decide_on(&e, &rec, &[&other], &[], &[]));
    }

    #[test]
    fn a_conditional_declaration_adding_nothing_is_merged_under_fewer_conditions() {
        let e = folder(&[], &["backup"]);
        let l = folder(&[("owner", s("root"))], &[]);
        assert_eq!(decide_on(&e, &l, &[], &[], &[]), EARLIER);
        // the conditional one adding something: both stay, without a note (each may hold
        // where the other does not)
        let e2 = folder(&[("mode", s("0700"))], &["backup"]);
        assert_eq!(decide_on(&e2, &l, &[], &[], &[]), Decision::Unrelated);
        // conditions that exclude each other: not two declarations of one thing
        let n = folder(&[("mode", s("0755"))], &["not backup"]);
        assert_eq!(decide_on(&e2, &n, &[], &[], &[]), Decision::Unrelated);
    }

    #[test]
    fn two_vars_of_one_path_guard_the_declaration_that_adds_nothing() {
        let vars = vec![
            ("backup_path".to_string(), s("{{ app_path }}")),
            ("app_path".to_string(), s("/var/lib/app")),
        ];
        assert_eq!(resolve_vars(&vars, "{{backup_path}}/x"), "/var/lib/app/x");
        let e = item("directory", "{{ backup_path }}", &[], &["backup"], "backup");
        let mut rec = chown_r();
        rec.res.fields[0].1 = s("{{ app_path }}");
        let home = item("user", "app", &[("home", s("{{ app_path }}"))], &[], "user");
        let mut mv = item(
            "command",
            "mv {{ app_path }}/a {{ backup_path }}/b",
            &[],
            &[],
            "mv",
        );
        mv.res.set("unless", "test ! -e {{ app_path }}/a");
        let guard = |earlier| Decision::Guard {
            earlier,
            guard: "backup_path != app_path".into(),
        };
        assert_eq!(decide_on(&e, &rec, &[&mv], &[&home], &vars), guard(true));
        // nothing makes it before the command that uses it: apart
        apart_why(decide_on(&e, &rec, &[&mv], &[], &vars));
        // the later one adding nothing: it is the guarded one
        let plain = item("directory", "{{ backup_path }}", &[], &["backup"], "again");
        assert_eq!(decide_on(&rec, &plain, &[], &[], &vars), guard(false));
        assert_eq!(
            expression("{{ a }}/x-{{ b | lower }}").as_deref(),
            Some("a ~ '/x-' ~ (b | lower)")
        );
        assert_eq!(expression("/it's"), None);
    }
}
