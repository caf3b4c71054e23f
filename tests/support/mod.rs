//! Helpers shared by the integration tests. A test file uses them with `mod support;`.

pub mod apt;
pub mod lab;
pub mod project;
