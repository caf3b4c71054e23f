//! `play rollback PLAYBOOK [--to ID]`: every `release:` of the playbook goes back to the release
//! deployed before the live one (by its `revisions.log`), or to release ID; whatever watches a
//! release (`restart_on`) restarts. Exactly `play apply PLAYBOOK -e play_release=previous` (or
//! `=ID`); exit codes as `play apply` (`--diff`: as `play diff`).

use clap::Args;

use super::converge::ConvergeArgs;
use crate::engine::Mode;
use crate::resolve::RELEASE_PIN_VAR;
use crate::resources::is_release_id;

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub common: ConvergeArgs,
    /// Go to this release (12 hex digits: a folder of DEST/releases) instead of the previous one.
    #[arg(long, value_name = "ID")]
    pub to: Option<String>,
    /// Only show what the rollback would change.
    #[arg(long)]
    pub diff: bool,
}

pub fn run(mut args: RollbackArgs) -> anyhow::Result<i32> {
    let pin = match args.to.as_deref().map(str::trim) {
        None => "previous".to_string(),
        Some(id) if is_release_id(id) => id.to_string(),
        Some(other) => anyhow::bail!(
            "--to {other}: a release id is 12 hex digits (the name of a folder of DEST/releases)"
        ),
    };
    args.common
        .inv
        .extra_vars
        .push(format!("{RELEASE_PIN_VAR}={pin}"));
    let mode = if args.diff { Mode::Diff } else { Mode::Apply };
    let extras = super::converge::Extras {
        command: "rollback",
        ..Default::default()
    };
    let report = super::converge::run(&args.common, mode, &extras)?;
    Ok(super::converge::exit_code(super::converge::outcome(
        &report, false,
    )))
}
