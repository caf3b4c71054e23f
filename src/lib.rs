//! `play`: declarative infrastructure state over SSH.
//!
//! Data flows one way: **load → resolve → probe → plan → apply → report**.
//! - [`inventory`], [`playbook`]: YAML into typed structs ([`yaml`] is the one YAML module).
//! - `resolve`: vars precedence, roles, templates rendered per host.
//! - [`transport`]: one trait; SSH ([`transport::ssh`]) and local implementations.
//! - `resources`: one module per kind; planning is a pure function of desired + observed.
//! - `engine`: per-host pipeline in parallel.
//! - `report`: printers, kept apart from the engine.
//! - [`vault`]: encrypted var files; their values are redacted from every output.
//! - [`lab`]: throwaway local test hosts (Linux namespaces) for tests, demos and users.

pub mod apply;
pub mod cli;
pub mod engine;
pub mod exit;
pub mod history;
pub mod import;
pub mod inventory;
pub mod lab;
pub mod ops;
pub mod plan_file;
pub mod playbook;
pub mod probe;
pub mod report;
pub mod resolve;
pub mod resources;
pub mod supervisor;
pub mod systemd;
pub mod transport;
pub mod vault;
pub mod yaml;
