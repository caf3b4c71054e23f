//! IMPORT.md: every source task (file:line) → the resource it became (file:line of the
//! output), or why not, with totals.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::convert::{Conversion, Outcome, Record};
use super::Summary;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn became(conv: &Conversion, r: &Record) -> String {
    match &r.outcome {
        Outcome::Items(list) => list
            .iter()
            .map(|&(c, i)| {
                let cont = &conv.containers[c];
                let it = &cont.items[i];
                let kind = if it.res.native { "" } else { " (command)" };
                format!(
                    "`{}:{}` {} `{}`{kind}",
                    it.out_file.as_ref().unwrap_or(&cont.file).display(),
                    it.line,
                    it.res.kind(),
                    it.res.key()
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        Outcome::Vars(c) => format!("vars of `{}`", vars_file(conv, *c)),
        Outcome::Absorbed(why) => why.clone(),
        Outcome::Followed(what) => what.clone(),
        Outcome::Gathered(c, name) => {
            let cont = &conv.containers[*c];
            let at = if cont.is_role {
                let f = cont.file.parent().map(|p| p.join("gather.yml"));
                format!("`{}`", f.unwrap_or_default().display())
            } else {
                format!("the play's `gather:` in `{}`", cont.file.display())
            };
            format!("gathered value `{name}` (read-only command) in {at}")
        }
        Outcome::LeftOut(why) => format!("**left out**: {why}"),
    }
}

fn vars_file(conv: &Conversion, c: usize) -> String {
    let cont = &conv.containers[c];
    if cont.is_role {
        cont.file
            .parent()
            .map(|p| p.join("defaults.yml").display().to_string())
            .unwrap_or_default()
    } else {
        format!("{} (play vars)", cont.file.display())
    }
}

/// The text of IMPORT.md.
pub fn markdown(conv: &Conversion, s: &Summary, extra: &[String]) -> String {
    let mut o = String::new();
    let pct = |a: usize, b: usize| {
        if b == 0 {
            100.0
        } else {
            100.0 * a as f64 / b as f64
        }
    };
    let _ = writeln!(o, "# Imported from Ansible\n");
    let _ = writeln!(
        o,
        "`play import ansible {}` wrote this project. Every task of the source is listed below with \
         what it became (a resource, by its file and line here) or why it was left out. Run \
         `play check -i inventory` before anything else, then `play diff` against one host.\n",
        s.source.display()
    );
    let _ = writeln!(o, "## Totals\n");
    let _ = writeln!(o, "| | count | share |\n|---|---:|---:|");
    let _ = writeln!(
        o,
        "| source tasks (includes counted, handlers not) | {} | |",
        s.tasks
    );
    let _ = writeln!(
        o,
        "| carried over | {} | {:.0}% of tasks |",
        s.carried,
        pct(s.carried, s.tasks)
    );
    let _ = writeln!(
        o,
        "| left out | {} | {:.0}% of tasks |",
        s.left_out,
        pct(s.left_out, s.tasks)
    );
    let _ = writeln!(o, "| handlers | {} | |", s.handlers);
    let _ = writeln!(o, "| resources written | {} | |", s.resources);
    let _ = writeln!(
        o,
        "| native resources | {} | {:.0}% of resources |",
        s.native,
        pct(s.native, s.resources)
    );
    let _ = writeln!(
        o,
        "| `command:` resources | {} | {:.0}% of resources |",
        s.commands,
        pct(s.commands, s.resources)
    );
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "A task is carried over when it became resources, vars, a guard of other resources \
         (`stat`, a read-only check) or an include that was followed. `command:` resources the \
         importer wrote for a module play has no kind for carry the comment `# play import: \
         <module> not native yet (issue 14)` or `# play import: <module> → command (…)`; the others are the source's own `command:`/`shell:` tasks.\n"
    );
    if !s.vault_files.is_empty() {
        let _ = writeln!(o, "## Ansible vault files (listed, not decrypted)\n");
        for v in &s.vault_files {
            let _ = writeln!(o, "- `{}`: decrypt it with `ansible-vault decrypt`, then `play vault encrypt` the result as a `*.vault.yml` file", v.display());
        }
        let _ = writeln!(o);
    }
    if !extra.is_empty() {
        let _ = writeln!(o, "## Notes\n");
        for e in extra {
            let _ = writeln!(o, "- {e}");
        }
        let _ = writeln!(o);
    }
    for (title, handler) in [("Tasks", false), ("Handlers", true)] {
        let rows: Vec<&Record> = conv
            .records
            .iter()
            .filter(|r| r.handler == handler)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(o, "## {title}\n");
        let _ = writeln!(
            o,
            "| source | task | module | became | notes |\n|---|---|---|---|---|"
        );
        for r in rows {
            let mut notes: Vec<String> = r.notes.clone();
            if let Outcome::Items(list) = &r.outcome {
                for &(c, i) in list {
                    notes.extend(conv.containers[c].items[i].res.notes.iter().cloned());
                }
            }
            let notes: Vec<String> = notes
                .into_iter()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let _ = writeln!(
                o,
                "| `{}:{}` | {} | `{}` | {} | {} |",
                r.file.display(),
                r.line,
                cell(&r.title),
                r.module,
                cell(&became(conv, r)),
                cell(&notes.join("; "))
            );
        }
        let _ = writeln!(o);
    }
    let mut tpl = String::new();
    for c in &conv.containers {
        let n = &c.template_notes;
        if n.rewritten.is_empty() && n.unsupported.is_empty() {
            continue;
        }
        let _ = writeln!(tpl, "### `{}` and its templates\n", c.file.display());
        for r in &n.rewritten {
            let _ = writeln!(tpl, "- rewritten: {r}");
        }
        for u in &n.unsupported {
            let _ = writeln!(tpl, "- **not rewritten**: {u}");
        }
        let _ = writeln!(tpl);
    }
    if !tpl.is_empty() {
        let _ = writeln!(o, "## Templates (Ansible Jinja → minijinja)\n\n{tpl}");
    }
    o
}
