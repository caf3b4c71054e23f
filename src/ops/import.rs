//! `play import ansible SRC --out DIR`: see [`crate::import`]. This adds the summary text.

use std::fmt::Write as _;

pub use crate::import::{import, ImportError, Options, Summary};

/// The lines printed after an import.
pub fn text(s: &Summary) -> String {
    let pct = |a: usize, b: usize| {
        if b == 0 {
            100.0
        } else {
            100.0 * a as f64 / b as f64
        }
    };
    let mut o = String::new();
    let _ = writeln!(
        o,
        "imported {} into {}: {} playbook(s){}",
        s.source.display(),
        s.out.display(),
        s.playbooks.len(),
        s.inventory
            .as_ref()
            .map(|i| format!(", inventory from {}", i.display()))
            .unwrap_or_else(|| ", a stub inventory (no hosts found)".into())
    );
    let _ = writeln!(
        o,
        "tasks: {} — carried over {} ({:.0}%), left out {}; handlers: {}",
        s.tasks,
        s.carried,
        pct(s.carried, s.tasks),
        s.left_out,
        s.handlers
    );
    let _ = writeln!(
        o,
        "resources: {} — native {} ({:.0}%), command {}",
        s.resources,
        s.native,
        pct(s.native, s.resources),
        s.commands
    );
    if !s.vault_files.is_empty() {
        let _ = writeln!(
            o,
            "Ansible vault files (listed in IMPORT.md, not decrypted): {}",
            s.vault_files.len()
        );
    }
    let _ = writeln!(
        o,
        "every task is accounted for in {}; next: cd {} && play check -i inventory",
        s.out.join("IMPORT.md").display(),
        s.out.display()
    );
    o
}
