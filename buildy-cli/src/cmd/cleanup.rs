//! `buildy cleanup`: remove what dead builds, creates and installs left.

use std::path::PathBuf;

use imgcreate::build::cleanup::cleanup;

use super::ImageStore;
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
    /// The builds' work directory (their journals are in buildy-builds/).
    #[arg(long, env = "BUILDY_WORK_DIR", default_value = "/var/tmp")]
    work_dir: PathBuf,
    #[command(flatten)]
    store: ImageStore,
}

pub fn run(args: Args) -> Result<u8, Failure> {
    let report = cleanup(&args.store.zfs(), &args.work_dir, args.root.as_deref(), args.dry_run)
        .map_err(|e| Failure::Failed(e.to_string()))?;
    let verb = if args.dry_run { "would" } else { "did" };
    for action in &report.actions {
        println!("{verb}: {action}");
    }
    for skipped in &report.skipped {
        println!("left alone: {skipped}");
    }
    if report.actions.is_empty() && report.failures.is_empty() {
        println!("nothing to clean up");
    }
    if !report.failures.is_empty() {
        return Err(Failure::Failed(format!("could not clean up: {}", report.failures.join("; "))));
    }
    Ok(0)
}
