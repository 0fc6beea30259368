//! Upgrade of old manifests to the current version (2), as Node's
//! `upgradeManifest` does it.
//!
//! Version 1 is the DSAPI "dsmanifest": no `v` field, a `creator_uuid`.

use serde_json::{Map, Value};

use crate::js;
use crate::validate::is_uuid;

/// The current manifest version.
pub const MANIFEST_V: u64 = 2;

/// Why a manifest cannot be upgraded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpgradeError {
    /// The manifest is not a JSON object.
    #[error("manifest is not a JSON object")]
    NotAnObject,
    /// No `v`, and no `creator_uuid` to tell a v1 manifest.
    #[error("manifest does not have a \"v\" field")]
    NoVersion,
    /// A `v` that is not a number.
    #[error("manifest has an unknown \"v\": {0}")]
    UnknownVersion(String),
    /// A v1 manifest whose `uuid` is not a UUID.
    #[error("uuid (oldManifest.uuid) is required: \"{0}\"")]
    BadUuid(String),
    /// A v1 manifest without `creator_uuid`.
    #[error("old DSAPI manifest does not have a \"creator_uuid\"")]
    NoCreatorUuid,
    /// A v1 manifest with both `owner` and `creator_uuid`.
    #[error("manifest has both \"owner\" and \"creator_uuid\"")]
    OwnerAndCreator,
    /// A v1 manifest with both `restricted_to_uuid` and `public`.
    #[error("manifest has both \"restricted_to_uuid\" and \"public\"")]
    RestrictedAndPublic,
    /// `files` is not an array of objects.
    #[error("manifest \"files\" is not an array of objects")]
    BadFiles,
    /// A file entry with no `compression` and no name to guess it from.
    #[error("manifest file entry has no \"compression\" and no \"path\" or \"url\" to guess it from")]
    NoFileName,
}

/// Returns `manifest` upgraded to version 2, as Node's `upgradeManifest`
/// gives it to a program that read the manifest with `JSON.parse`: every
/// number the double JavaScript holds (an integer past 2^53 the nearest
/// double, `-0` as `0`; see [`js::json_round_trip`]), object members in
/// `Object.keys` order. A manifest already at version 2 or later comes back
/// otherwise unchanged. Write the result with [`js::json_stringify`] or
/// [`js::json_stringify_pretty`] to get JavaScript's text for it too
/// (`1e+21` where serde_json writes `1e21`).
pub fn upgrade(manifest: &Value) -> Result<Value, UpgradeError> {
    upgrade_as_is(manifest).map(|m| js::json_round_trip(&m))
}

fn upgrade_as_is(manifest: &Value) -> Result<Value, UpgradeError> {
    let m = manifest.as_object().ok_or(UpgradeError::NotAnObject)?;
    let v = m.get("v");
    let has_v = v.is_some_and(js::truthy);
    let current = if !has_v && m.get("creator_uuid").is_some_and(js::truthy) {
        1.0
    } else if !has_v {
        return Err(UpgradeError::NoVersion);
    } else {
        js::to_number(v.unwrap())
    };
    if current >= MANIFEST_V as f64 {
        return Ok(manifest.clone());
    }
    // Node finds no upgrader for a NaN version and fails an assertion.
    if current.is_nan() {
        return Err(UpgradeError::UnknownVersion(js::json_stringify(v.unwrap())));
    }
    upgrade_to_2(m).map(Value::Object)
}

fn upgrade_to_2(old: &Map<String, Value>) -> Result<Map<String, Value>, UpgradeError> {
    let uuid = old.get("uuid").map(js::to_string).unwrap_or_else(|| "undefined".into());
    if !is_uuid(&uuid) {
        return Err(UpgradeError::BadUuid(uuid));
    }
    let creator = old.get("creator_uuid").filter(|v| js::truthy(*v)).cloned();
    let Some(creator) = creator else {
        return Err(UpgradeError::NoCreatorUuid);
    };
    let mut m = old.clone();

    if m.contains_key("owner") {
        return Err(UpgradeError::OwnerAndCreator);
    }
    m.insert("owner".into(), creator);
    for k in ["creator_uuid", "vendor_uuid", "creator_name", "cloud_name", "creator_admin"] {
        m.shift_remove(k);
    }

    match m.get("restricted_to_uuid").filter(|v| js::truthy(*v)).cloned() {
        Some(restricted) => {
            if m.contains_key("public") {
                return Err(UpgradeError::RestrictedAndPublic);
            }
            m.insert("public".into(), Value::Bool(false));
            m.insert("acl".into(), Value::Array(vec![restricted]));
        }
        None => {
            m.insert("public".into(), Value::Bool(true));
        }
    }
    m.shift_remove("restricted_to_uuid");
    m.shift_remove("owner_uuid");

    let disabled = m.get("disabled").map(js::truthy).unwrap_or(false);
    m.insert("disabled".into(), Value::Bool(disabled));
    m.insert("state".into(), Value::String(if disabled { "disabled" } else { "active" }.into()));

    if !m.get("published_at").is_some_and(js::truthy) {
        if let Some(created) = m.get("created_at").filter(|v| js::truthy(*v)).cloned() {
            m.insert("published_at".into(), created);
        }
    }
    // "YYYY-MM-DDTHH:MMZ" anywhere in it: add ":00" seconds.
    if let Some(p) = m.get("published_at").filter(|v| js::truthy(*v)) {
        if has_minutes_only_date(&js::to_string(p)) {
            let fixed = match p {
                Value::String(s) => {
                    let units: Vec<u16> = s.encode_utf16().collect();
                    String::from_utf16_lossy(&units[..units.len() - 1])
                }
                Value::Array(a) => js::to_string(&Value::Array(a[..a.len().saturating_sub(1)].to_vec())),
                other => js::to_string(other),
            };
            m.insert("published_at".into(), Value::String(format!("{fixed}:00Z")));
        }
    }

    if let Some(files) = m.get_mut("files").filter(|v| js::truthy(*v)) {
        let Value::Array(files) = files else {
            return Err(UpgradeError::BadFiles);
        };
        for file in files {
            let Value::Object(f) = file else {
                return Err(UpgradeError::BadFiles);
            };
            if !f.get("compression").is_some_and(js::truthy) {
                let name = f
                    .get("path")
                    .filter(|v| js::truthy(*v))
                    .or_else(|| f.get("url"))
                    .ok_or(UpgradeError::NoFileName)?;
                let Value::String(name) = name else {
                    return Err(UpgradeError::NoFileName);
                };
                let compression = match posix_extname(name) {
                    ".gz" => "gzip",
                    ".bz2" => "bzip2",
                    _ => "none",
                };
                f.insert("compression".into(), Value::String(compression.into()));
            }
            f.shift_remove("path");
            f.shift_remove("url");
        }
    }

    if let Some(size) = m.get("image_size").filter(|v| js::truthy(*v)) {
        let n = js::js_number(js::to_number(size)).map_or(Value::Null, Value::Number);
        m.insert("image_size".into(), n);
    }
    for k in ["platform_type", "created_at", "updated_at", "_url"] {
        m.shift_remove(k);
    }
    m.insert("v".into(), Value::from(MANIFEST_V));
    Ok(m)
}

/// `/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z/.test(s)` (unanchored).
fn has_minutes_only_date(s: &str) -> bool {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:ddZ";
    let b = s.as_bytes();
    b.windows(SHAPE.len())
        .any(|w| w.iter().zip(SHAPE).all(|(c, p)| if *p == b'd' { c.is_ascii_digit() } else { c == p }))
}

/// Node's `path.posix.extname`.
fn posix_extname(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    let base = trimmed.rsplit('/').next().unwrap_or("");
    match base.rfind('.') {
        // A leading dot (".bashrc") is not an extension, nor is ".." .
        Some(0) | None => "",
        Some(_) if base == ".." => "",
        Some(i) => &base[i..],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn extname_matches_node() {
        assert_eq!(posix_extname("a/b.tar.gz"), ".gz");
        assert_eq!(posix_extname(".bashrc"), "");
        assert_eq!(posix_extname("foo."), ".");
        assert_eq!(posix_extname("file.bz2/"), ".bz2");
        assert_eq!(posix_extname("noext"), "");
    }

    #[test]
    fn v1_is_upgraded() {
        let old = json!({
            "name": "base", "version": "1.0", "uuid": "f3078f0c-a53b-4140-b7af-fbb6308a8e35",
            "creator_uuid": "352971aa-31ba-496c-9ade-a379feaecd52", "vendor_uuid": "x",
            "created_at": "2012-01-02T03:04Z", "files": [{"path": "base.zfs.bz2", "sha1": "a", "size": 1}],
            "image_size": "10240"
        });
        let new = upgrade(&old).unwrap();
        assert_eq!(new["owner"], "352971aa-31ba-496c-9ade-a379feaecd52");
        assert_eq!(new["published_at"], "2012-01-02T03:04:00Z");
        assert_eq!(new["files"][0], json!({"sha1": "a", "size": 1, "compression": "bzip2"}));
        assert_eq!(new["image_size"], json!(10240));
        assert_eq!(new["state"], "active");
        assert_eq!(new["public"], true);
        assert_eq!(new["v"], 2);
        assert!(new.get("creator_uuid").is_none() && new.get("created_at").is_none());
    }

    #[test]
    fn numbers_come_back_as_javascript_holds_them() {
        let old: Value = serde_json::from_str(
            r#"{"uuid": "f3078f0c-a53b-4140-b7af-fbb6308a8e35", "creator_uuid": "x", "image_size": "1e21",
               "files": [{"size": 9007199254740993, "compression": "none", "z": -0.0, "big": 1152921504606846976}],
               "b": 1.0, "2": 1e-7}"#,
        )
        .unwrap();
        let new = upgrade(&old).unwrap();
        let text = js::json_stringify(&new);
        assert!(text.starts_with(r#"{"2":1e-7,"uuid""#), "{text}");
        assert!(text.contains(r#""image_size":1e+21"#), "{text}");
        assert!(
            text.contains(r#"{"size":9007199254740992,"compression":"none","z":0,"big":1152921504606847000}"#),
            "{text}"
        );
        assert_eq!(new["files"][0]["size"], json!(9007199254740992u64));
        assert_eq!(new["b"], json!(1));
        // Already v2: the same numbers and key order.
        let v2 = upgrade(&json!({"v": 2, "b": 9007199254740993u64, "1": -0.0})).unwrap();
        assert_eq!(js::json_stringify(&v2), r#"{"1":0,"v":2,"b":9007199254740992}"#);
        assert_eq!(serde_json::to_string(&v2).unwrap(), r#"{"1":0,"v":2,"b":9007199254740992}"#);
    }

    #[test]
    fn missing_v_is_an_error() {
        assert_eq!(upgrade(&json!({"name": "x"})), Err(UpgradeError::NoVersion));
        assert_eq!(upgrade(&json!({"v": 2, "a": 1})).unwrap(), json!({"v": 2, "a": 1}));
    }
}
