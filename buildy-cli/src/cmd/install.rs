//! `buildy install`: an image file and its manifest become an installed
//! image, as `imgadm install` does.

use imgcreate::host::exec::Exec;
use imgcreate::host::lock::DEFAULT_LOCK_DIR;
use imgcreate::image::install::{install, InstallOptions, Installed};

use super::{ImageFiles, ImageStore, WorkDir};
use crate::output::{say, warn};
use crate::Failure;

/// Install an image file (its origin must be installed already).
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    image: ImageFiles,
    /// The dataset root images live under.
    #[arg(long, env = "BUILDY_ROOT", default_value = "zones")]
    root: String,
    /// Print only the result line.
    #[arg(short = 'q', long)]
    quiet: bool,
    #[command(flatten)]
    store: ImageStore,
    #[command(flatten)]
    work: WorkDir,
}

pub fn run(exec: &Exec, args: Args) -> Result<u8, Failure> {
    let manifest = args.image.checked_manifest("installed")?;
    let image = format!("{} ({}@{})", manifest.uuid, manifest.name, manifest.version);
    let opts = InstallOptions { root: args.root.clone(), lock_dir: DEFAULT_LOCK_DIR.into(), source: None };
    let quiet = args.quiet;
    crate::signals::catch(exec);
    let mut journal = args.work.journal(exec, "install", &manifest.uuid.to_string());
    let log = |line: &str| {
        if !quiet {
            warn(line);
        }
    };
    let result =
        install(&args.store.zfs(exec), &args.store.db(), &mut journal, manifest, &args.image.file, &opts, &log);
    match result {
        Ok(Installed::Installed { dataset, .. }) => say(format!("Installed image {image} as {dataset}")),
        Ok(Installed::AlreadyInstalled { dataset }) => say(format!("Image {image} is already installed as {dataset}")),
        Err(e) => return Err(super::failure(exec, e.is_usage(), format!("{e}; nothing was installed"))),
    }
    Ok(0)
}
