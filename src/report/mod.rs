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
