//! Import: when the base image is not installed under the dataset root, it
//! is imported from the build's sources with its origin chain, as
//! buildimage does (from updates.tritondatacenter.com unless told
//! otherwise). Runs before the other steps, which need the base image.

use std::sync::Arc;

use crate::host::zfs::Zfs;
use crate::image::db::ImageDb;
use crate::image::journal::Journal;
use crate::image::model::{ImageManifest, ImageUuid};
use crate::pipeline::{BuildError, BuildOptions};
use crate::source::import::{import, ImportOptions};

pub const NAME: &str = "import";

/// Imports `image` and returns its installed manifest.
pub fn import_base(
    zfs: &Zfs,
    db: &ImageDb,
    journal: &mut Journal,
    opts: &BuildOptions,
    image: ImageUuid,
    log: &dyn Fn(&str),
) -> Result<ImageManifest, BuildError> {
    let urls: Vec<&str> = opts.sources.iter().map(|s| s.url.as_str()).collect();
    log(&format!("Image {image} not installed under {}: importing it from {}", opts.root, urls.join(", ")));
    let import_opts = ImportOptions {
        root: opts.root.clone(),
        lock_dir: opts.lock_dir.clone(),
        work_dir: opts.work_dir.clone(),
        sources: opts.sources.clone(),
        client: opts.client.clone(),
        parallel: 5,
    };
    let imported = import(zfs, db, journal, image, &import_opts, log, Arc::new(|_: &ImageUuid, _, _| {}))
        .map_err(|source| BuildError::Import { image, root: opts.root.clone(), source: Box::new(source) })?;
    for i in &imported.installed {
        log(&format!("Imported image {} ({}@{}) as {}", i.uuid, i.name, i.version, i.dataset));
    }
    let not_installed = || BuildError::BaseNotInstalled { image, root: opts.root.clone() };
    Ok(db.read(&opts.root, &image)?.ok_or_else(not_installed)?.manifest)
}
