//! Library functions behind the subcommands (one per subcommand).

pub mod converge;
pub mod inventory;
pub mod run;
