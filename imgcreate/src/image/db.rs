//! imgadm's image database, so the platform's `imgadm` and buildy see each
//! other's images: one file per installed image,
//! `<dir>/images/<root>-<uuid>.json` (the root as written, slashes and all),
//! holding `{"manifest": ..., "zpool": "<root>"}` and `"source"` for images
//! imported from a source; 2-space JSON with a trailing newline.

use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::model::{ImageManifest, ImageUuid, ModelError};
use crate::atomic;

/// imgadm's own location.
pub const DEFAULT_DB_DIR: &str = "/var/imgadm";

/// An installed image as the database records it. The manifest's JSON is
/// kept exactly as written (records may come from the platform's imgadm).
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRecord {
    pub manifest: ImageManifest,
    pub zpool: String,
    pub source: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot read the image record {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the image record {path} is not valid: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("the image record {path} is not valid: {source}")]
    Model {
        path: PathBuf,
        #[source]
        source: ModelError,
    },
    #[error("cannot write the image record {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The database directory (default `/var/imgadm`).
#[derive(Debug, Clone)]
pub struct ImageDb {
    dir: PathBuf,
}

impl Default for ImageDb {
    fn default() -> Self {
        ImageDb::new(DEFAULT_DB_DIR)
    }
}

impl ImageDb {
    pub fn new(dir: impl AsRef<Path>) -> ImageDb {
        ImageDb { dir: dir.as_ref().to_path_buf() }
    }

    /// `<dir>/images/<root>-<uuid>.json`.
    pub fn record_path(&self, root: &str, uuid: &ImageUuid) -> PathBuf {
        self.dir.join("images").join(format!("{root}-{uuid}.json"))
    }

    /// The record of image `uuid` under `root`, if there is one.
    pub fn read(&self, root: &str, uuid: &ImageUuid) -> Result<Option<ImageRecord>, DbError> {
        let path = self.record_path(root, uuid);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(DbError::Read { path, source }),
        };
        let invalid = |reason: String| DbError::Invalid { path: path.clone(), reason };
        let mut value: Map<String, Value> = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        let manifest = match value.remove("manifest") {
            Some(Value::Object(m)) => {
                ImageManifest::from_validated(m).map_err(|source| DbError::Model { path: path.clone(), source })?
            }
            _ => return Err(invalid("no \"manifest\" object".into())),
        };
        let zpool = match value.remove("zpool") {
            Some(Value::String(z)) => z,
            _ => return Err(invalid("no \"zpool\" string".into())),
        };
        let source = match value.remove("source") {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        Ok(Some(ImageRecord { manifest, zpool, source }))
    }

    /// Writes (or replaces) the record of `record.manifest.uuid`, atomically.
    pub fn write(&self, record: &ImageRecord) -> Result<PathBuf, DbError> {
        let path = self.record_path(&record.zpool, &record.manifest.uuid);
        let mut value = Map::new();
        value.insert("manifest".into(), Value::Object(record.manifest.json().clone()));
        value.insert("zpool".into(), Value::String(record.zpool.clone()));
        if let Some(source) = &record.source {
            value.insert("source".into(), Value::String(source.clone()));
        }
        let mut text = serde_json::to_string_pretty(&Value::Object(value)).expect("JSON serializes");
        text.push('\n');
        let write_error = |source| DbError::Write { path: path.clone(), source };
        std::fs::create_dir_all(path.parent().expect("a record has a directory")).map_err(write_error)?;
        atomic::write_file(&path, text.as_bytes()).map_err(write_error)?;
        Ok(path)
    }

    /// Every record of images under `root` (whose dataset may or may not
    /// exist), in file name order. Files that are not records are skipped.
    pub fn list(&self, root: &str) -> Result<Vec<ImageRecord>, DbError> {
        let (parent, base) = match root.rsplit_once('/') {
            Some((parent, base)) => (self.dir.join("images").join(parent), base),
            None => (self.dir.join("images"), root),
        };
        let entries = match std::fs::read_dir(&parent) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(DbError::Read { path: parent, source }),
        };
        let prefix = format!("{base}-");
        let mut uuids: Vec<ImageUuid> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_prefix(&prefix)?.strip_suffix(".json")?.parse().ok()
            })
            .collect();
        uuids.sort();
        let mut records = Vec::new();
        for uuid in uuids {
            records.extend(self.read(root, &uuid)?);
        }
        Ok(records)
    }

    /// Removes the record, if any (a failed install must leave none).
    pub fn remove(&self, root: &str, uuid: &ImageUuid) -> io::Result<()> {
        match std::fs::remove_file(self.record_path(root, uuid)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn records_read_back_as_written(
            root in "[a-z]{1,8}(/[a-z0-9]{1,8}){0,2}",
            name in ".{0,20}",
            source in proptest::option::of("https://[a-z]{1,10}\\.example"),
        ) {
            let dir = std::env::temp_dir().join(format!("buildy-db-prop-{}", std::process::id()));
            let db = ImageDb::new(&dir);
            let serde_json::Value::Object(manifest) = serde_json::json!({
                "v": 2, "uuid": "ffb1f2bb-9daf-4e3b-9d19-1e33a1f162a2", "name": name, "version": "1"
            }) else {
                unreachable!()
            };
            let manifest = ImageManifest::from_validated(manifest).unwrap();
            let uuid = manifest.uuid;
            let record = ImageRecord { manifest, zpool: root.clone(), source };
            db.write(&record).unwrap();
            let read = db.read(&root, &uuid).unwrap();
            std::fs::remove_dir_all(&dir).unwrap();
            proptest::prop_assert_eq!(read, Some(record));
        }
    }

    #[test]
    fn records_use_imgadms_path_and_format() {
        let dir = std::env::temp_dir().join(format!("buildy-db-{}", std::process::id()));
        let db = ImageDb::new(&dir);
        let serde_json::Value::Object(manifest) = serde_json::json!({
            "v": 2, "uuid": "3f5cd6a1-cbbd-403a-9dfb-8d1055c8f474", "name": "base", "version": "1"
        }) else {
            unreachable!()
        };
        let manifest = ImageManifest::from_validated(manifest).unwrap();
        let uuid = manifest.uuid;
        let record = ImageRecord { manifest, zpool: "zones/z1/data".into(), source: None };
        let path = db.write(&record).unwrap();
        assert_eq!(path, dir.join("images/zones/z1/data-3f5cd6a1-cbbd-403a-9dfb-8d1055c8f474.json"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("{\n  \"manifest\": {\n    \"v\": 2,\n    \"uuid\""), "{text}");
        assert!(text.ends_with("  \"zpool\": \"zones/z1/data\"\n}\n"), "{text}");
        assert_eq!(db.read("zones/z1/data", &uuid).unwrap(), Some(record.clone()));
        assert_eq!(db.read("zones", &uuid).unwrap(), None);
        assert_eq!(db.list("zones/z1/data").unwrap(), vec![record.clone()]);
        assert_eq!(db.list("zones/z1").unwrap(), Vec::<ImageRecord>::new());
        assert_eq!(db.list("elsewhere").unwrap(), Vec::<ImageRecord>::new());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
