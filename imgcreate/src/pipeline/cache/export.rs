//! A layer as an image file: an incremental image on the base image (its
//! `origin`), with the layer's uuid, name, version and tags; it installs
//! wherever the base is installed, with `buildy install` or `imgadm install`.

use std::path::Path;

use super::layer::{self, Described};
use crate::host::zfs::Zfs;
use crate::image::create::{create, CreateOptions, Created};
use crate::image::db::ImageDb;
use crate::image::journal::Journal;
use crate::image::model::{FileCompression, ImageManifest};

/// Writes the layer `described` (installed under `root`, on `base`) as
/// `<dir>/buildy-layer-<kind>-<version>.{zfs.gz,imgmanifest}`.
#[allow(clippy::too_many_arguments)]
pub fn export(
    zfs: &Zfs,
    db: &ImageDb,
    journal: &mut Journal,
    root: &str,
    base: &ImageManifest,
    described: &Described,
    dir: &Path,
    compression: FileCompression,
    log: &dyn Fn(&str),
) -> Result<Created, crate::pipeline::BuildError> {
    let create_opts = CreateOptions {
        dataset: format!("{root}/{}", described.key.uuid()),
        manifest: layer::manifest_fields(base, described),
        output_template: Some(dir.to_path_buf()),
        compression,
        incremental: true,
        max_origin_depth: None,
        root: Some(root.to_string()),
        brand: None,
        platform: None,
        level: None,
        threads: None,
        extra_outputs: Vec::new(),
    };
    let exec = zfs.exec().clone();
    let staged = create(zfs, db, journal, &create_opts, log, |_| {})?;
    Ok(staged.commit(&exec, journal)?)
}
