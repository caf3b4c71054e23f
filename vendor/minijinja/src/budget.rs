//! PLAY PATCH (not upstream; see PLAY-PATCH.md): a byte budget per rendering.
//!
//! Rust cannot recover from a failed allocation: a template doubling a string forty times
//! (`{% set ns.s = ns.s ~ ns.s %}`) aborts the process. The embedding program opens a budget
//! around one rendering with [`enter`]; every operation of the engine that makes a value
//! larger than its inputs (`~`, `+` on strings and sequences, `*` on strings, captured output
//! of macros, `caller()` and `{% set %}` blocks) charges the bytes it is about to allocate,
//! cumulatively, *before* allocating them, and fails with an error once the budget is spent.
//! Outside a budget (the default), nothing is charged: upstream behaviour.

use std::cell::Cell;
use std::fmt;

use crate::error::{Error, ErrorKind};

thread_local! {
    /// Bytes left in the budget of the rendering running on this thread (`None`: no budget).
    static LEFT: Cell<Option<u64>> = const { Cell::new(None) };
    /// Whether a charge of the current budget was refused.
    static EXCEEDED: Cell<bool> = const { Cell::new(false) };
}

/// A budget opened by [`enter`]; dropping it restores the budget that was open before (a
/// rendering started inside another one has its own budget).
#[must_use = "the budget closes when this is dropped"]
#[derive(Debug)]
pub struct Scope {
    prev_left: Option<u64>,
    prev_exceeded: bool,
}

/// Opens a budget of `bytes` for what this thread renders until the returned [`Scope`] drops.
pub fn enter(bytes: u64) -> Scope {
    Scope {
        prev_left: LEFT.with(|l| l.replace(Some(bytes))),
        prev_exceeded: EXCEEDED.with(|e| e.replace(false)),
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        LEFT.with(|l| l.set(self.prev_left));
        EXCEEDED.with(|e| e.set(self.prev_exceeded));
    }
}

/// Bytes left in the current budget (`None`: no budget open).
pub fn remaining() -> Option<u64> {
    LEFT.with(Cell::get)
}

/// Whether the current budget refused a charge (the error the engine returned then may have
/// been turned into a generic one on its way out, e.g. a failed write of captured output).
pub fn exceeded() -> bool {
    EXCEEDED.with(Cell::get)
}

/// Takes `bytes` from the current budget, or fails (without taking them) when fewer are left.
pub fn charge(bytes: u64) -> Result<(), Error> {
    LEFT.with(|l| match l.get() {
        None => Ok(()),
        Some(left) if bytes <= left => {
            l.set(Some(left - bytes));
            Ok(())
        }
        Some(_) => Err(over_budget()),
    })
}

/// The error of a refused charge (and marks the budget [`exceeded`]).
fn over_budget() -> Error {
    EXCEEDED.with(|e| e.set(true));
    Error::new(
        ErrorKind::InvalidOperation,
        "the values of this rendering exceed its byte budget",
    )
}

/// [`charge`] for a count of `T`s.
pub(crate) fn charge_items<T>(count: usize) -> Result<(), Error> {
    charge((count as u64).saturating_mul(std::mem::size_of::<T>() as u64))
}

/// A `String` that charges the budget for every byte written to it, before growing.
#[derive(Debug, Default)]
pub(crate) struct BudgetString(pub(crate) String);

impl fmt::Write for BudgetString {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        charge(s.len() as u64).map_err(|_| fmt::Error)?;
        self.0.push_str(s);
        Ok(())
    }
}

/// A byte buffer that charges the budget for every byte written to it, before growing.
#[derive(Debug, Default)]
pub(crate) struct BudgetBytes(pub(crate) Vec<u8>);

impl std::io::Write for BudgetBytes {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        charge(buf.len() as u64).map_err(std::io::Error::other)?;
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `value` as text, charged to the budget as it is written: the text of a huge lazy sequence
/// stops at the budget instead of filling memory.
pub fn to_string(value: &dyn fmt::Display) -> Result<String, Error> {
    use fmt::Write as _;
    let mut out = BudgetString::default();
    match write!(out, "{value}") {
        Ok(()) => Ok(out.0),
        Err(_) if exceeded() => Err(over_budget()),
        Err(_) => Err(Error::new(ErrorKind::WriteFailure, "formatting failed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_stop_at_the_budget_and_scopes_nest() {
        assert_eq!(remaining(), None);
        charge(u64::MAX).expect("no budget: free");
        let outer = enter(10);
        charge(6).expect("within");
        assert!(charge(5).is_err());
        assert!(exceeded());
        assert_eq!(remaining(), Some(4));
        {
            let _inner = enter(100);
            assert!(!exceeded());
            charge(50).expect("inner budget");
        }
        assert_eq!(remaining(), Some(4));
        assert!(exceeded());
        drop(outer);
        assert_eq!(remaining(), None);
        assert!(!exceeded());
    }

    #[test]
    fn to_string_stops_at_the_budget() {
        let _b = enter(5);
        assert_eq!(to_string(&"abc").expect("fits"), "abc");
        assert!(to_string(&"abc").is_err());
    }
}
