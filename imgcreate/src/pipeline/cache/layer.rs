//! Cache layers on this host. A layer is an installed image under the
//! dataset root: `<root>/<uuid>` with `@final`, an imgadm database record,
//! and a manifest whose uuid is the key's first 128 bits. Beside the record
//! a sidecar (`<record>.buildy-layer`) keeps the key's inputs, the layer's
//! outputs (the package list and audit) and the proto tree's index, so a
//! miss can say what changed.
//!
//! Each layer is a clone of the base image's `@final` holding everything
//! up to its step (not a clone of the previous layer): zfs-fuse and older
//! illumos send an incremental stream only from a dataset's own origin, so
//! this is what lets the build's image, and each layer exported, be an
//! incremental image on the base.
//!
//! Storing is crash-safe: received into `<uuid>-partial`, marked, renamed,
//! described (sidecar, `buildy:layer`, record), and complete when the run's
//! mark comes off; until then the journal's [`Resource::Layer`] undoes it.
//! A probe hits only a complete layer.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::key::{Inputs, Key};
use crate::host::exec::Exec;
use crate::host::lock::{import_lock, import_lock_path, FileLock};
use crate::host::zfs::Zfs;
use crate::image::db::{ImageDb, ImageRecord};
use crate::image::journal::Resource;
use crate::image::model::{ImageManifest, ImageUuid};
use crate::image::owner::OWNER_PROPERTY;
use crate::pipeline::{io_error, Build, BuildError};

/// A complete layer's key.
pub const LAYER_PROPERTY: &str = "buildy:layer";
/// Seconds since the epoch when a build last used the layer.
pub const LAST_USED_PROPERTY: &str = "buildy:last-used";

/// What a layer's steps produced besides its tree.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outputs {
    /// `pkg_info -a`'s names, sorted (the packages layer).
    #[serde(default)]
    pub packages: Vec<String>,
    /// `pkg_admin audit`'s report (`-a`).
    #[serde(default)]
    pub audit: Option<String>,
}

/// A layer's description, kept in its sidecar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Described {
    pub key: Key,
    pub parent: Key,
    pub kind: String,
    pub inputs: Inputs,
    #[serde(default)]
    pub outputs: Outputs,
    /// The proto tree's index as text (`hash::entries_to_text`), for diffs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proto: Option<String>,
}

/// A complete layer as `buildy cache list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Layer {
    #[serde(serialize_with = "as_text")]
    pub uuid: ImageUuid,
    pub dataset: String,
    pub kind: String,
    pub key: Key,
    /// Bytes the layer's dataset uses.
    pub size: u64,
    pub last_used: u64,
    #[serde(skip)]
    pub described: Option<Described>,
}

fn as_text<S: serde::Serializer>(uuid: &ImageUuid, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&uuid.to_string())
}

/// The layers under one dataset root.
pub struct Layers<'a> {
    pub zfs: &'a Zfs,
    pub db: &'a ImageDb,
    pub root: &'a str,
    pub lock_dir: &'a Path,
}

pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Layers<'_> {
    pub fn dataset(&self, uuid: &ImageUuid) -> String {
        format!("{}/{uuid}", self.root)
    }

    pub fn sidecar_path(&self, uuid: &ImageUuid) -> PathBuf {
        self.db.record_path(self.root, uuid).with_extension("buildy-layer")
    }

    pub fn lock_path(&self, uuid: &ImageUuid) -> PathBuf {
        import_lock_path(self.lock_dir, &uuid.to_string())
    }

    /// The layer stored under `key`, if it is complete.
    pub fn probe(&self, key: &Key) -> Result<Option<Described>, BuildError> {
        let uuid = key.uuid();
        let dataset = self.dataset(&uuid);
        let final_snapshot = format!("{dataset}@final");
        // The layer's marks and whether its @final exists, in one command
        // (`type` is set on every dataset and snapshot).
        let rows = match self.zfs.get_recursive(&dataset, &[LAYER_PROPERTY, OWNER_PROPERTY, "type"]) {
            Ok(rows) => rows,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let on_dataset = |prop: &str| rows.iter().find(|(n, p, _)| *n == dataset && p == prop).map(|(_, _, v)| v);
        let complete = on_dataset(LAYER_PROPERTY) == Some(&key.to_string())
            && on_dataset(OWNER_PROPERTY).is_none()
            && rows.iter().any(|(n, _, _)| *n == final_snapshot);
        if !complete || self.db.read(self.root, &uuid)?.is_none() {
            return Ok(None);
        }
        // Without its description (inputs, outputs) it cannot stand in for
        // its steps: a miss.
        self.describe(&uuid)
    }

    /// A layer's sidecar, or (for a layer imported from a server) what its
    /// manifest's tags say.
    pub fn describe(&self, uuid: &ImageUuid) -> Result<Option<Described>, BuildError> {
        let path = self.sidecar_path(uuid);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(self.db.read(self.root, uuid)?.and_then(|r| from_tags(r.manifest.json())))
            }
            Err(e) => Err(io_error(format!("reading {}", path.display()))(e)),
        }
    }

    /// Marks a layer used now (for least-recently-used pruning).
    pub fn touch(&self, uuid: &ImageUuid) -> Result<(), BuildError> {
        Ok(self.zfs.set(&self.dataset(uuid), LAST_USED_PROPERTY, &now().to_string())?)
    }

    /// Every complete layer under the root, least recently used first.
    pub fn list(&self) -> Result<Vec<Layer>, BuildError> {
        use std::collections::BTreeMap;
        let props = [LAYER_PROPERTY, LAST_USED_PROPERTY, OWNER_PROPERTY, "used"];
        let mut by_name: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (name, prop, value) in self.zfs.get_recursive(self.root, &props)? {
            by_name.entry(name).or_default().insert(prop, value);
        }
        let mut layers = Vec::new();
        for (dataset, props) in by_name {
            // Complete: keyed, no run's mark, its record in place.
            let Some(key) = props.get(LAYER_PROPERTY).and_then(|k| Key::parse(k)) else { continue };
            let uuid = key.uuid();
            if props.contains_key(OWNER_PROPERTY)
                || dataset != self.dataset(&uuid)
                || self.db.read(self.root, &uuid)?.is_none()
            {
                continue;
            }
            let number = |p: &str| props.get(p).and_then(|v| v.parse().ok()).unwrap_or(0);
            let described = self.describe(&uuid)?;
            let kind = described.as_ref().map(|d| d.kind.clone()).unwrap_or_default();
            layers.push(Layer {
                uuid,
                dataset,
                kind,
                key,
                size: number("used"),
                last_used: number(LAST_USED_PROPERTY),
                described,
            });
        }
        layers.sort_by_key(|l| (l.last_used, l.uuid.to_string()));
        Ok(layers)
    }

    /// Removes a complete layer (its dataset, then its record and sidecar),
    /// unless a build holds its lock or something that is not a layer was
    /// cloned from it. Whether it was removed.
    pub fn remove(&self, layer: &Layer, pool: &str) -> Result<bool, BuildError> {
        let Some(_held) = FileLock::try_acquire(self.lock_path(&layer.uuid))
            .map_err(io_error(format!("locking {}", self.lock_path(&layer.uuid).display())))?
        else {
            return Ok(false);
        };
        if !self.zfs.clones_of(pool, &layer.dataset)?.is_empty() {
            return Ok(false);
        }
        self.zfs.destroy(&layer.dataset, true)?;
        for file in [self.db.record_path(self.root, &layer.uuid), self.sidecar_path(&layer.uuid)] {
            match std::fs::remove_file(&file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io_error(format!("removing {}", file.display()))(e))
                }
                _ => {}
            }
        }
        Ok(true)
    }

    /// The descriptions of the complete layers, read once for a build's
    /// decisions (a build stores at most one layer of each kind, so what it
    /// stores itself is never what a later decision of it looks for).
    pub fn stored(&self) -> Result<Stored, BuildError> {
        Ok(Stored(self.list()?.into_iter().rev().filter_map(|l| l.described).collect()))
    }
}

/// What [`Layers::stored`] read: descriptions, most recently used first.
pub struct Stored(Vec<Described>);

impl Stored {
    /// The stored layer a miss is best explained against: one of the same
    /// kind on the same parent, else of the same kind; most recently used.
    pub fn nearest(&self, kind: &str, parent: &Key) -> Option<&Described> {
        let same_kind = || self.0.iter().filter(|d| d.kind == kind);
        same_kind().find(|d| &d.parent == parent).or_else(|| same_kind().next())
    }

    /// The most recently used layer of `kind` on `parent`.
    pub fn on_parent(&self, kind: &str, parent: &Key) -> Option<&Described> {
        self.nearest(kind, parent).filter(|d| &d.parent == parent)
    }
}

/// Holds a layer's lock while it is stored or read from (prune skips it).
pub fn lock_layer(exec: &Exec, lock_dir: &Path, uuid: &ImageUuid, log: &dyn Fn(&str)) -> Result<FileLock, BuildError> {
    import_lock(exec, lock_dir, &uuid.to_string(), |p| log(&format!("Waiting for {}", p.display())))
        .map_err(io_error(format!("locking layer {uuid}")))
}

/// The manifest of a layer of `kind` on `base`: the base's inherited
/// fields, a name, version and tags that say what it is.
pub fn manifest_fields(base: &ImageManifest, described: &Described) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("uuid".into(), Value::String(described.key.uuid().to_string()));
    m.insert("name".into(), Value::String(format!("buildy-layer-{}", described.kind)));
    m.insert("version".into(), Value::String(described.key.as_str()[..16].to_string()));
    m.insert(
        "description".into(),
        Value::String(format!("buildy cache layer: {} on {}@{}", described.kind, base.name, base.version)),
    );
    let mut tags = Map::new();
    tags.insert("buildy:layer".into(), Value::String(described.kind.clone()));
    tags.insert("buildy:key".into(), Value::String(described.key.to_string()));
    tags.insert("buildy:parent-key".into(), Value::String(described.parent.to_string()));
    let inputs = serde_json::to_string(&described.inputs).expect("strings serialize");
    tags.insert("buildy:inputs".into(), Value::String(inputs));
    tags.insert("buildy:packages".into(), Value::String(described.outputs.packages.join(",")));
    if let Some(audit) = &described.outputs.audit {
        tags.insert("buildy:audit".into(), Value::String(audit.clone()));
    }
    m.insert("tags".into(), Value::Object(tags));
    m
}

/// A layer's description from its manifest's tags (no proto index).
pub fn from_tags(manifest: &Map<String, Value>) -> Option<Described> {
    let tags = manifest.get("tags")?.as_object()?;
    let text = |k: &str| tags.get(k).and_then(Value::as_str);
    let packages = text("buildy:packages")?.split(',').filter(|p| !p.is_empty()).map(str::to_string).collect();
    Some(Described {
        key: Key::parse(text("buildy:key")?)?,
        parent: Key::parse(text("buildy:parent-key")?)?,
        kind: text("buildy:layer")?.to_string(),
        inputs: serde_json::from_str(text("buildy:inputs")?).ok()?,
        outputs: Outputs { packages, audit: text("buildy:audit").map(str::to_string) },
        proto: None,
    })
}

/// The record of a layer: the base's inherited fields, then the layer's.
fn layer_manifest(base: &ImageManifest, described: &Described) -> Result<ImageManifest, BuildError> {
    let mut m = Map::new();
    m.insert("v".into(), Value::from(imgmanifest::MANIFEST_V));
    m.extend(manifest_fields(base, described));
    for &field in imgmanifest::INHERITED_FIELDS {
        if let Some(v) = base.json().get(field).filter(|v| !matches!(v, Value::Array(a) if a.is_empty())) {
            m.entry(field).or_insert_with(|| v.clone());
        }
    }
    m.insert("origin".into(), Value::String(base.uuid.to_string()));
    m.insert("published_at".into(), Value::String(imgmanifest::published_at_now()));
    Ok(ImageManifest::from_validated(m)?)
}

/// Stores the analog's current tree as the layer `described`: see the
/// module's comment for the order. A layer someone else completed in the
/// meantime counts as stored.
pub fn store(build: &mut Build, described: &Described) -> Result<(), BuildError> {
    let (zfs, db, opts) = (build.zfs, build.db, build.opts);
    let layers = Layers { zfs, db, root: &opts.root, lock_dir: &opts.lock_dir };
    let uuid = described.key.uuid();
    let _lock = lock_layer(zfs.exec(), &opts.lock_dir, &uuid, &|l| build.log(l))?;
    if layers.probe(&described.key)?.is_some() {
        build.log(&format!("Layer {uuid} ({}) was stored by another build meanwhile", described.kind));
        return layers.touch(&uuid);
    }
    let dataset = layers.dataset(&uuid);
    let partial = format!("{dataset}-partial");
    for name in [&dataset, &partial] {
        if zfs.exists(name)? {
            build.log(&format!("Not storing layer {uuid}: {name} exists but is not a complete layer (`buildy cleanup` removes what a killed build left)"));
            return Ok(());
        }
    }
    let mark = build.journal_mut().owner.to_property();
    let snapshot = format!("{}@buildy-layer-{uuid}", build.analog);
    build.create(Resource::Snapshot { name: snapshot.clone() })?;
    zfs.snapshot(&snapshot, &[(OWNER_PROPERTY, &mark)])?;
    let record_path = db.record_path(&opts.root, &uuid);
    let sidecar = layers.sidecar_path(&uuid);
    let resource = Resource::Layer {
        partial: partial.clone(),
        dataset: dataset.clone(),
        lock: layers.lock_path(&uuid),
        record: record_path,
        sidecar: sidecar.clone(),
    };
    build.create(resource.clone())?;
    let base_final = format!("{}/{}@final", opts.root, build.base.uuid);
    super::copy::send_receive(zfs, &snapshot, &base_final, &partial)?;
    zfs.set(&partial, OWNER_PROPERTY, &mark)?;
    zfs.rename(&format!("{partial}@buildy-layer-{uuid}"), &format!("{partial}@final"))?;
    zfs.rename(&partial, &dataset)?;
    build.exec().checkpoint();
    let text = serde_json::to_vec_pretty(described).expect("a description serializes");
    crate::atomic::write_file(&sidecar, &text).map_err(io_error(format!("writing {}", sidecar.display())))?;
    zfs.set(&dataset, LAYER_PROPERTY, described.key.as_str())?;
    zfs.set(&dataset, LAST_USED_PROPERTY, &now().to_string())?;
    let manifest = layer_manifest(&build.base, described)?;
    db.write(&ImageRecord { manifest, zpool: opts.root.clone(), source: None })?;
    build.exec().checkpoint();
    // Complete: from here on no undo touches it.
    zfs.inherit(&dataset, OWNER_PROPERTY)?;
    build.forget(&resource)?;
    build.log(&format!("Stored layer {uuid} ({})", described.kind));
    Ok(())
}
