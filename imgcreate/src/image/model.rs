//! The strict manifest the engine works with.
//!
//! Validation (the `imgmanifest` crate) answers exactly as Node's
//! `imgmanifest`, and so follows JavaScript's coercions: `"uuid": ["<a
//! uuid>"]` and `"version": 1` pass it. The engine must never act on such
//! values (a uuid read as `""` once made `<root>/` the dataset to receive
//! into), so after validation a manifest is converted once into
//! [`ImageManifest`], which refuses anything that is not of its JSON type,
//! naming the field. Create, install, the database and the build take only
//! this type. The JSON it came from is kept, in its key order, and is what
//! is written back.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

/// An image's uuid, as IMGAPI writes it: lower-case, hyphenated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageUuid(uuid::Uuid);

impl ImageUuid {
    /// A new random (v4) uuid, as imgadm gives created images.
    pub fn new_v4() -> ImageUuid {
        ImageUuid(uuid::Uuid::new_v4())
    }

    /// The first 128 bits of a digest as a uuid (RFD 57's rule for
    /// uuids derived from content).
    pub fn from_digest(digest: &[u8; 32]) -> ImageUuid {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        ImageUuid(uuid::Uuid::from_bytes(bytes))
    }
}

impl fmt::Display for ImageUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// Text that is not an image uuid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a uuid (e.g. 3f5cd6a1-cbbd-403a-9dfb-8d1055c8f474)")]
pub struct NotAUuid(pub String);

impl FromStr for ImageUuid {
    type Err = NotAUuid;

    /// Only the hyphenated form IMGAPI uses (upper-case hex is accepted and
    /// written back lower-case).
    fn from_str(s: &str) -> Result<ImageUuid, NotAUuid> {
        let hyphenated = s.len() == 36 && [8, 13, 18, 23].iter().all(|&i| s.as_bytes()[i] == b'-');
        match uuid::Uuid::parse_str(s) {
            Ok(u) if hyphenated => Ok(ImageUuid(u)),
            _ => Err(NotAUuid(s.to_string())),
        }
    }
}

/// `files[].compression`: the four values imgadm can install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileCompression {
    None,
    Gzip,
    Bzip2,
    Xz,
}

impl FileCompression {
    pub fn as_str(self) -> &'static str {
        match self {
            FileCompression::None => "none",
            FileCompression::Gzip => "gzip",
            FileCompression::Bzip2 => "bzip2",
            FileCompression::Xz => "xz",
        }
    }

    /// The manifest crate's open-ended value (which the codecs take).
    pub fn to_manifest(self) -> imgmanifest::Compression {
        imgmanifest::Compression::from(self.as_str())
    }

    /// `None` for a compression this engine cannot read.
    pub fn from_manifest(c: &imgmanifest::Compression) -> Option<FileCompression> {
        match c {
            imgmanifest::Compression::None => Some(FileCompression::None),
            imgmanifest::Compression::Gzip => Some(FileCompression::Gzip),
            imgmanifest::Compression::Bzip2 => Some(FileCompression::Bzip2),
            imgmanifest::Compression::Xz => Some(FileCompression::Xz),
            imgmanifest::Compression::Unknown(_) => None,
        }
    }
}

impl fmt::Display for FileCompression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `files[0]`: the image file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub size: u64,
    pub compression: FileCompression,
    /// Lower-case hex.
    pub sha1: String,
    /// The guid of the image's `@final` snapshot, as a decimal string.
    pub dataset_guid: Option<String>,
}

/// A manifest field whose value the engine cannot take as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the manifest's {field} {problem}")]
pub struct ModelError {
    /// The field's path, e.g. `uuid` or `files[0].size`.
    pub field: String,
    pub problem: String,
}

fn wrong(field: &str, problem: impl Into<String>) -> ModelError {
    ModelError { field: field.to_string(), problem: problem.into() }
}

/// A valid manifest, with the fields the engine reads typed.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageManifest {
    pub uuid: ImageUuid,
    pub name: String,
    pub version: String,
    /// `type`, e.g. `zone-dataset` or `zvol`.
    pub image_type: Option<String>,
    pub origin: Option<ImageUuid>,
    /// `files[0]`, absent in manifests that describe no file yet.
    pub file: Option<FileEntry>,
    json: Map<String, Value>,
}

impl ImageManifest {
    /// Converts a manifest that passed validation. Every field the engine
    /// reads must have its JSON type exactly (no coercion), or the error
    /// names it.
    pub fn from_validated(json: Map<String, Value>) -> Result<ImageManifest, ModelError> {
        check_fields(&json)?;
        let text = |k: &str| -> Result<String, ModelError> {
            match json.get(k) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(wrong(k, "must be a string")),
                None => Err(wrong(k, "is missing")),
            }
        };
        let uuid = uuid_field(&json, "uuid")?.ok_or_else(|| wrong("uuid", "is missing"))?;
        let (name, version) = (text("name")?, text("version")?);
        let image_type = json.get("type").and_then(Value::as_str).map(str::to_string);
        let origin = uuid_field(&json, "origin")?;
        let file = match json.get("files").and_then(Value::as_array).and_then(|f| f.first()) {
            Some(entry) => Some(file_entry(entry)?),
            None => None,
        };
        Ok(ImageManifest { uuid, name, version, image_type, origin, file, json })
    }

    /// The manifest as JSON, in its key order.
    pub fn json(&self) -> &Map<String, Value> {
        &self.json
    }

    pub fn into_json(self) -> Map<String, Value> {
        self.json
    }

    /// 2-space indented JSON without a trailing newline, as imgadm writes
    /// `.imgmanifest` files.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.json).expect("JSON values serialize")
    }

    /// The manifest with `files` set (create adds it last, as imgadm).
    pub fn with_files(self, files: Vec<Value>) -> Result<ImageManifest, ModelError> {
        let mut json = self.json;
        json.insert("files".into(), Value::Array(files));
        ImageManifest::from_validated(json)
    }

    pub fn is_zvol(&self) -> bool {
        self.image_type.as_deref() == Some("zvol")
    }

    /// Sets a top-level field, keeping the key order (a new key goes last).
    /// Only for fields the typed view does not cover.
    pub fn set_extra(&mut self, key: &str, value: Value) {
        debug_assert!(!TYPED_FIELDS.contains(&key), "{key} is typed: rebuild the manifest instead");
        self.json.insert(key.to_string(), value);
    }
}

/// The fields the typed view reads.
const TYPED_FIELDS: &[&str] = &["uuid", "name", "version", "type", "origin", "files"];

/// Checks the types of the fields the engine reads, where they are present:
/// for manifest data that is not a whole manifest yet (`-m` of create and
/// build), before anything is done with it.
pub fn check_fields(json: &Map<String, Value>) -> Result<(), ModelError> {
    for key in ["name", "version", "type"] {
        if json.get(key).is_some_and(|v| !v.is_string()) {
            return Err(wrong(key, "must be a string"));
        }
    }
    uuid_field(json, "uuid")?;
    uuid_field(json, "origin")?;
    match json.get("files") {
        None => {}
        Some(Value::Array(files)) => {
            for (i, entry) in files.iter().enumerate() {
                file_entry(entry).map_err(|e| ModelError { field: format!("files[{i}]{}", &e.field[8..]), ..e })?;
            }
        }
        Some(_) => return Err(wrong("files", "must be an array")),
    }
    Ok(())
}

fn uuid_field(json: &Map<String, Value>, key: &str) -> Result<Option<ImageUuid>, ModelError> {
    match json.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => s.parse().map(Some).map_err(|_| wrong(key, format!("\"{s}\" is not a uuid"))),
        Some(_) => Err(wrong(key, "must be a uuid string")),
    }
}

/// `files[0]` (the field names in errors say `files[0]`; [`check_fields`]
/// renumbers them).
fn file_entry(entry: &Value) -> Result<FileEntry, ModelError> {
    let Value::Object(f) = entry else { return Err(wrong("files[0]", "must be an object")) };
    let size = match f.get("size") {
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| wrong("files[0].size", "must be a whole number"))?,
        Some(_) => return Err(wrong("files[0].size", "must be a number")),
        None => return Err(wrong("files[0].size", "is missing")),
    };
    let compression = match f.get("compression") {
        Some(Value::String(s)) => FileCompression::from_manifest(&imgmanifest::Compression::from(s.as_str()))
            .ok_or_else(|| wrong("files[0].compression", format!("\"{s}\" is not one of none, gzip, bzip2, xz")))?,
        Some(_) => return Err(wrong("files[0].compression", "must be a string")),
        None => return Err(wrong("files[0].compression", "is missing")),
    };
    let sha1 = match f.get("sha1") {
        Some(Value::String(s)) if s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()) => s.to_ascii_lowercase(),
        Some(_) => return Err(wrong("files[0].sha1", "must be 40 hex digits")),
        None => return Err(wrong("files[0].sha1", "is missing")),
    };
    let dataset_guid = match f.get("dataset_guid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(wrong("files[0].dataset_guid", "must be a string")),
    };
    Ok(FileEntry { size, compression, sha1, dataset_guid })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const UUID: &str = "3f5cd6a1-cbbd-403a-9dfb-8d1055c8f474";

    fn object(v: Value) -> Map<String, Value> {
        let Value::Object(m) = v else { panic!("not an object") };
        m
    }

    fn manifest(extra: Value) -> Map<String, Value> {
        let mut m = object(json!({"v": 2, "uuid": UUID, "name": "base", "version": "1.0", "type": "zone-dataset",
            "os": "smartos", "files": [{"size": 10, "compression": "gzip", "sha1": "a".repeat(40)}]}));
        m.extend(object(extra));
        m
    }

    #[test]
    fn typed_fields_are_read_and_the_json_kept_in_order() {
        let m = ImageManifest::from_validated(manifest(json!({"origin": UUID.to_uppercase(), "zzz": 1}))).unwrap();
        assert_eq!(m.uuid.to_string(), UUID);
        assert_eq!(m.origin.map(|o| o.to_string()).as_deref(), Some(UUID), "written lower-case");
        assert_eq!((m.name.as_str(), m.version.as_str()), ("base", "1.0"));
        let file = m.file.as_ref().unwrap();
        assert_eq!((file.size, file.compression, file.sha1.len()), (10, FileCompression::Gzip, 40));
        let keys: Vec<&str> = m.json().keys().map(String::as_str).collect();
        assert_eq!(keys, ["v", "uuid", "name", "version", "type", "os", "files", "origin", "zzz"]);
    }

    #[test]
    fn values_that_pass_only_by_coercion_are_refused_naming_the_field() {
        let cases = [
            (json!({"uuid": [UUID]}), "the manifest's uuid must be a uuid string"),
            (json!({"version": 1}), "the manifest's version must be a string"),
            (json!({"name": ["base"]}), "the manifest's name must be a string"),
            (json!({"origin": [UUID]}), "the manifest's origin must be a uuid string"),
            (json!({"origin": "nope"}), "the manifest's origin \"nope\" is not a uuid"),
            (
                json!({"files": [{"size": "10", "compression": "gzip", "sha1": "a".repeat(40)}]}),
                "the manifest's files[0].size must be a number",
            ),
            (
                json!({"files": [{"size": 10, "compression": ["gzip"], "sha1": "a".repeat(40)}]}),
                "the manifest's files[0].compression must be a string",
            ),
            (
                json!({"files": [{"size": 10, "compression": "zstd", "sha1": "a".repeat(40)}]}),
                "the manifest's files[0].compression \"zstd\" is not one of none, gzip, bzip2, xz",
            ),
        ];
        for (extra, message) in cases {
            let err = ImageManifest::from_validated(manifest(extra.clone())).unwrap_err();
            assert_eq!(err.to_string(), message, "{extra}");
            assert_eq!(check_fields(&object(extra.clone())).unwrap_err().to_string(), message, "{extra}");
        }
        let later = object(json!({"files": [{}, {"size": -1}]}));
        assert_eq!(check_fields(&later).unwrap_err().field, "files[0].size");
    }

    proptest::proptest! {
        #[test]
        fn uuids_round_trip_and_anything_else_is_refused(bytes in proptest::array::uniform16(0u8..), text in ".{0,40}") {
            let u = ImageUuid(uuid::Uuid::from_bytes(bytes));
            proptest::prop_assert_eq!(u.to_string().parse::<ImageUuid>(), Ok(u));
            let parsed = text.parse::<ImageUuid>();
            proptest::prop_assert_eq!(parsed.is_ok(), imgmanifest::validate::is_uuid(&text.to_ascii_lowercase()));
        }
    }
}
