//! Exit codes of the `play` binary, mapped in one place.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success (for `diff --exit-code`: no changes pending) |
//! | 1 | error: bad input, unreachable or failed host |
//! | 2 | `diff --exit-code` only: changes pending |
//! | 130 | interrupted (SIGINT) |

/// Everything went fine.
pub const SUCCESS: i32 = 0;
/// Input error, or at least one host failed or was unreachable.
pub const FAILURE: i32 = 1;
/// `play diff --exit-code`: the run succeeded and changes are pending.
pub const CHANGES_PENDING: i32 = 2;
/// Interrupted by SIGINT.
pub const INTERRUPTED: i32 = 130;
