//! A cache shared across build agents through an IMGAPI: `--cache-to`
//! publishes each new layer (its incremental image file on the base, and
//! its manifest) as soon as it is stored; `--cache-from` asks each server
//! for a key's layer (`GET /images/<uuid>`) and imports the deepest one a
//! build can use, which then is a local layer like any other.

use std::sync::Arc;

use super::export::export;
use super::key::Key;
use super::layer::{self, Described, Layers, LAST_USED_PROPERTY, LAYER_PROPERTY};
use crate::image::model::{FileCompression, ImageUuid};
use crate::image::owner::OWNER_PROPERTY;
use crate::pipeline::{io_error, Build, BuildError};
use crate::source::imgapi::auth::Signer;
use crate::source::imgapi::publish::{publish as publish_image, PublishError};
use crate::source::imgapi::Client;
use crate::source::import::{import, ImportOptions};

/// The `--cache-from` servers, a client each, made once a build (so the
/// probes of its layers share each server's connections).
pub struct Servers(Vec<Client>);

impl Servers {
    pub fn new(build: &Build) -> Servers {
        let opts = build.opts;
        Servers(opts.cache.from.iter().map(|s| Client::new(build.exec(), s, None, opts.client.clone())).collect())
    }

    /// The layer `key` from the first server that has it, imported and made
    /// a local layer.
    pub fn fetch(&self, build: &mut Build, layers: &Layers, key: &Key) -> Result<Option<Described>, BuildError> {
        for client in &self.0 {
            if let Some(described) = fetch_from(build, layers, key, client)? {
                return Ok(Some(described));
            }
        }
        Ok(None)
    }
}

/// The layer `key` from one server: `None` if it does not have it (or
/// cannot be asked, which is logged).
fn fetch_from(build: &mut Build, layers: &Layers, key: &Key, client: &Client) -> Result<Option<Described>, BuildError> {
    let opts = build.opts;
    let uuid = key.uuid();
    let source = client.source();
    let manifest = match client.get_image(&uuid.to_string()) {
        Ok(Some(m)) => m,
        Ok(None) => return Ok(None),
        Err(e) => {
            build.log(&format!("Layer {uuid}: cannot ask {} ({e}); going on without it", source.url));
            return Ok(None);
        }
    };
    let Some(described) = manifest.as_object().and_then(layer::from_tags).filter(|d| &d.key == key) else {
        build.log(&format!("Image {uuid} on {} is not the layer of key {key}; ignored", source.url));
        return Ok(None);
    };
    build.log(&format!("Layer {uuid} ({}): importing it from {}", described.kind, source.url));
    let import_opts = ImportOptions {
        root: opts.root.clone(),
        lock_dir: opts.lock_dir.clone(),
        work_dir: opts.work_dir.clone(),
        sources: vec![source.clone()],
        client: opts.client.clone(),
        parallel: 2,
    };
    let (zfs, db, log) = (build.zfs, build.db, build.log);
    import(zfs, db, build.journal_mut(), uuid, &import_opts, log, Arc::new(|_: &ImageUuid, _, _| {}))
        .map_err(|source| BuildError::Import { image: uuid, root: opts.root.clone(), source: Box::new(source) })?;
    adopt(layers, &described)?;
    Ok(Some(described))
}

/// An imported layer becomes a local one: described, marked with its key,
/// and the import's mark taken off (the order `probe` relies on).
fn adopt(layers: &Layers, described: &Described) -> Result<(), BuildError> {
    let uuid = described.key.uuid();
    let dataset = layers.dataset(&uuid);
    let sidecar = layers.sidecar_path(&uuid);
    let text = serde_json::to_vec_pretty(described).expect("a description serializes");
    crate::atomic::write_file(&sidecar, &text).map_err(io_error(format!("writing {}", sidecar.display())))?;
    layers.zfs.set(&dataset, LAYER_PROPERTY, described.key.as_str())?;
    layers.zfs.set(&dataset, LAST_USED_PROPERTY, &layer::now().to_string())?;
    if layers.zfs.get_one(&dataset, OWNER_PROPERTY)?.is_some() {
        layers.zfs.inherit(&dataset, OWNER_PROPERTY)?;
    }
    Ok(())
}

/// Publishes a stored layer to `--cache-to`: the layer exported as an
/// incremental image on the base, then imported into the server. A layer
/// the server already has is fine (another agent built it). A failure is
/// logged and the build goes on (as Kaniko does with its cache pushes):
/// the cache saves time, it does not decide the image.
pub fn publish(build: &mut Build, described: &Described) {
    if let Err(e) = try_publish(build, described) {
        let uuid = described.key.uuid();
        build.log(&format!("Publishing layer {uuid} failed, the build goes on without it: {e}"));
    }
}

fn try_publish(build: &mut Build, described: &Described) -> Result<(), BuildError> {
    let opts = build.opts;
    let Some(source) = &opts.cache.to else { return Ok(()) };
    let signer = match &opts.cache.signer {
        Some((user, key)) => {
            Some(Signer::from_key_file(user, key).map_err(|e| BuildError::CachePublish(e.to_string()))?)
        }
        None => None,
    };
    let client = Client::new(build.exec(), source, signer, opts.client.clone());
    let uuid = described.key.uuid();
    if matches!(client.get_image(&uuid.to_string()), Ok(Some(_))) {
        build.log(&format!("Layer {uuid} is already on {}", source.url));
        return Ok(());
    }
    let dir = opts.work_dir.join("buildy-cache").join(format!("publish-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(io_error(format!("creating {}", dir.display())))?;
    let result = export_and_publish(build, described, &client, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn export_and_publish(
    build: &mut Build,
    described: &Described,
    client: &Client,
    dir: &std::path::Path,
) -> Result<(), BuildError> {
    let opts = build.opts;
    let uuid = described.key.uuid();
    let (zfs, db, log) = (build.zfs, build.db, build.log);
    let base = build.base.clone();
    let created = export(zfs, db, build.journal_mut(), &opts.root, &base, described, dir, FileCompression::Gzip, log)?;
    match publish_image(client, &created.manifest, &created.file.path, log) {
        Ok(_) => {
            build.log(&format!("Published layer {uuid} to {}", client.source().url));
            Ok(())
        }
        Err(PublishError::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(BuildError::CachePublish(e.to_string())),
    }
}
