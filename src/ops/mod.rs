//! Library functions behind the subcommands (one per subcommand).

pub mod inventory;
pub mod run;
