//! `buildy install`: an image file and its manifest become an installed
//! image, as `imgadm install` does.

use std::path::PathBuf;

use imgcreate::install::{install, InstallOptions, Installed};
use imgcreate::lock::DEFAULT_LOCK_DIR;

use super::ImageStore;
use crate::Failure;

/// Install an image file (its origin must be installed already).
#[derive(clap::Args)]
pub struct Args {
    /// The image's manifest.
    #[arg(short = 'm', long)]
    manifest: PathBuf,
    /// The image file.
    #[arg(short = 'f', long)]
    file: PathBuf,
    /// The dataset root images live under.
    #[arg(long, env = "BUILDY_ROOT", default_value = "zones")]
    root: String,
    /// Print only the result line.
    #[arg(short = 'q', long)]
    quiet: bool,
    #[command(flatten)]
    store: ImageStore,
}

pub fn run(args: Args) -> Result<u8, Failure> {
    let manifest = super::read_json(&args.manifest, "manifest")?;
    let opts = InstallOptions { root: args.root.clone(), lock_dir: DEFAULT_LOCK_DIR.into() };
    let quiet = args.quiet;
    super::catch_signals();
    let result = install(&args.store.zfs(), &args.store.db(), &manifest, &args.file, &opts, |line| {
        if !quiet {
            eprintln!("{line}");
        }
    });
    let text = |k: &str| imgmanifest::js::text(manifest.get(k));
    let image = format!("{} ({}@{})", text("uuid"), text("name"), text("version"));
    match result {
        Ok(Installed::Installed { dataset, .. }) => println!("Installed image {image} as {dataset}"),
        Ok(Installed::AlreadyInstalled { dataset }) => println!("Image {image} is already installed as {dataset}"),
        Err(e) => return Err(super::failure(e.is_usage(), format!("{e}; nothing was installed"))),
    }
    Ok(0)
}
