//! Printers: turn results into text for people (colors only where the terminal takes them) or
//! machine formats. Kept apart from the engine: nothing here runs anything.
//!
//! Every printer of `play diff` / `play apply` takes a report that went through
//! [`redact::Redactor::report`], so no secret reaches any format.

pub mod json;
pub mod junit;
pub mod markdown;
pub mod plan;
pub mod redact;
pub mod run;
pub mod shown;

use crate::engine::HostReport;
use crate::resources::Change;

/// The play heading to print before change `c` of `h`: the `name:` of its play, when it is
/// not the play of the change before (`last`, updated).
pub(crate) fn play_heading<'a>(
    h: &'a HostReport,
    c: &Change,
    last: &mut Option<&'a str>,
) -> Option<&'a str> {
    let now = h.plays.get(&c.index).map(String::as_str);
    if now == *last {
        return None;
    }
    *last = now;
    now
}
