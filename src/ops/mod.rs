//! Library functions behind the subcommands (one per subcommand).

pub mod check;
pub mod converge;
pub mod facts;
pub mod import;
pub mod inventory;
pub mod run;
pub mod undefined;
pub mod vault;
