//! Printers: turn results into text for people (colors only where the terminal takes them) or
//! machine formats. Kept apart from the engine: nothing here runs anything.

pub mod plan;
pub mod run;
