//! Helpers shared by the integration tests. A test file uses them with `mod support;`.

pub mod apt;
pub mod check;
pub mod lab;
pub mod project;
