//! `buildy cleanup`: remove what dead builds, creates and installs left.

use imgcreate::host::exec::Exec;
use imgcreate::image::cleanup::cleanup;

use super::{ImageStore, WorkDir};
use crate::output::say;
use crate::Failure;

/// Remove what builds that died (SIGKILL, power loss) left behind: their
/// zone analogs, mounts, mountpoints, partial outputs, and marked snapshots
/// and partial installs. Never anything a live process or anyone else owns.
#[derive(clap::Args)]
pub struct Args {
    /// Show what would be removed, remove nothing.
    #[arg(short = 'n', long)]
    dry_run: bool,
    /// Only look under this dataset (default: every pool).
    #[arg(long, env = "BUILDY_ROOT")]
    root: Option<String>,
    #[command(flatten)]
    work: WorkDir,
    #[command(flatten)]
    store: ImageStore,
}

pub fn run(exec: &Exec, args: Args) -> Result<u8, Failure> {
    crate::signals::catch(exec);
    let report = cleanup(&args.store.zfs(exec), &args.work.work_dir, args.root.as_deref(), args.dry_run)
        .map_err(|e| Failure::Failed(e.to_string()))?;
    let verb = if args.dry_run { "would" } else { "did" };
    for action in &report.actions {
        say(format!("{verb}: {action}"));
    }
    for skipped in &report.skipped {
        say(format!("left alone: {skipped}"));
    }
    if report.actions.is_empty() && report.failures.is_empty() {
        say("nothing to clean up");
    }
    if !report.failures.is_empty() {
        return Err(Failure::Failed(format!(
            "could not clean up: {}",
            report.failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
        )));
    }
    Ok(0)
}
