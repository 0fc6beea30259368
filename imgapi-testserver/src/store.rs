//! The images the server holds: manifests in memory, files on disk in a
//! temporary directory of the server's own (removed on drop). A manifest is
//! answered as sdc-imgapi's `Image.prototype.serialize` builds it: known
//! fields only, in its order.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use md5::{Digest as _, Md5};
use serde_json::{json, Map, Value};
use sha1::Sha1;

/// `UNSET_OWNER_UUID`: the owner every image gets on a non-"dc" server.
pub(crate) const UNSET_OWNER: &str = "00000000-0000-0000-0000-000000000000";

/// The stored `files[0]`.
#[derive(Debug, Clone)]
pub(crate) struct StoredFile {
    pub sha1: String,
    pub size: u64,
    pub compression: String,
    pub dataset_guid: Option<String>,
    /// Base64 md5 of the bytes on disk (`Content-MD5`).
    pub md5: String,
    pub mtime: SystemTime,
    pub path: PathBuf,
}

#[derive(Debug, Clone)]
pub(crate) struct Image {
    pub uuid: String,
    /// The manifest's other fields, as given (`v`, `owner`, `name`, ...).
    pub fields: Map<String, Value>,
    pub activated: bool,
    pub disabled: bool,
    pub published_at: Option<String>,
    /// `None` on a server without channels.
    pub channels: Option<Vec<String>>,
    pub file: Option<StoredFile>,
    /// Insertion order, for stable listing.
    pub seq: u64,
}

/// `serialize`'s optional fields after `files`, in its order (`acl` and
/// `icon` have their own rules and come first).
const OPTIONAL: [&str; 16] = [
    "description",
    "homepage",
    "eula",
    "urn",
    "requirements",
    "users",
    "generate_passwords",
    "inherited_directories",
    "origin",
    "nic_driver",
    "disk_driver",
    "cpu_type",
    "image_size",
    "tags",
    "billing_tags",
    "traits",
];

/// The fields a created image keeps besides [`OPTIONAL`]'s up to `tags`
/// (the rest are computed or refused: `billing_tags` and `traits` too).
const KEPT_FIRST: [&str; 10] = ["v", "owner", "name", "version", "public", "type", "os", "acl", "icon", "error"];

/// Whether a create keeps the manifest field `field`.
pub(crate) fn is_kept(field: &str) -> bool {
    let up_to_tags = OPTIONAL.iter().position(|k| *k == "tags").map_or(0, |i| i + 1);
    KEPT_FIRST.contains(&field) || OPTIONAL[..up_to_tags].contains(&field)
}

/// JavaScript truthiness, which `serialize` uses to drop fields.
pub(crate) fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

/// `boolFromString` on a stored value: booleans and "true"/"false".
pub(crate) fn as_bool(v: Option<&Value>, default: bool) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s == "true" => true,
        Some(Value::String(s)) if s == "false" => false,
        _ => default,
    }
}

impl Image {
    pub fn state(&self) -> &'static str {
        match (self.activated, self.disabled) {
            (false, _) => "unactivated",
            (true, true) => "disabled",
            (true, false) => "active",
        }
    }

    pub fn origin(&self) -> Option<&str> {
        self.fields.get("origin").and_then(Value::as_str)
    }

    pub fn owner(&self) -> Option<&str> {
        self.fields.get("owner").and_then(Value::as_str)
    }

    pub fn public(&self) -> bool {
        as_bool(self.fields.get("public"), false)
    }

    pub fn in_channel(&self, channel: &str) -> bool {
        self.channels.as_ref().is_some_and(|c| c.iter().any(|n| n == channel))
    }

    /// The manifest as the API answers it. `public_mode` hides
    /// `billing_tags` and `traits`; `v2` (an `Accept-Version` that allows
    /// 2.0.0) shows `channels`; `admin` (`inclAdminFields`) adds each
    /// file's `stor`.
    pub fn serialize(&self, public_mode: bool, v2: bool, admin: bool) -> Value {
        let f = &self.fields;
        let mut m = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v.filter(|v| !v.is_null()) {
                m.insert(k.to_string(), v);
            }
        };
        put("v", f.get("v").cloned());
        put("uuid", Some(json!(self.uuid)));
        put("owner", f.get("owner").cloned());
        put("name", f.get("name").cloned());
        put("version", f.get("version").cloned());
        put("state", Some(json!(self.state())));
        put("disabled", Some(json!(self.disabled)));
        put("public", Some(json!(self.public())));
        put("published_at", self.published_at.clone().map(Value::String));
        if f.get("type").and_then(Value::as_str) != Some("null") {
            put("type", f.get("type").cloned());
        }
        if f.get("os").and_then(Value::as_str) != Some("null") {
            put("os", f.get("os").cloned());
        }
        let files: Vec<Value> = self
            .file
            .iter()
            .map(|file| {
                let mut o = json!({ "sha1": file.sha1, "size": file.size, "compression": file.compression });
                if let Some(g) = &file.dataset_guid {
                    o["dataset_guid"] = json!(g);
                }
                if admin {
                    o["stor"] = json!("local");
                }
                o
            })
            .collect();
        put("files", Some(Value::Array(files)));
        if f.get("acl").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
            put("acl", f.get("acl").cloned());
        }
        for k in ["description", "homepage", "eula"] {
            if truthy(f.get(k)) {
                put(k, f.get(k).cloned());
            }
        }
        if truthy(f.get("icon")) {
            put("icon", Some(json!(true)));
        }
        for k in &OPTIONAL[3..] {
            let v = f.get(*k);
            let show = match *k {
                // `if (this.raw.generate_passwords)`: a false one is dropped.
                "generate_passwords" => truthy(v),
                "billing_tags" => !public_mode && v.and_then(Value::as_array).is_some_and(|a| !a.is_empty()),
                "traits" => !public_mode && v.and_then(Value::as_object).is_some_and(|o| !o.is_empty()),
                _ => truthy(v),
            };
            if show {
                put(k, v.cloned());
            }
        }
        if v2 {
            if let Some(c) = &self.channels {
                put("channels", Some(json!(c)));
            }
        }
        Value::Object(m)
    }
}

/// The images and the directory holding their files.
pub(crate) struct Store {
    pub dir: PathBuf,
    pub images: HashMap<String, Image>,
    next_seq: u64,
}

static DIRS: AtomicU64 = AtomicU64::new(0);

/// The prefix of every store directory's name: `<prefix><pid>-<n>-<nanos>`.
const DIR_PREFIX: &str = "imgapi-testserver-";

/// Removes store directories whose process is gone (killed before it could
/// drop its server). Only on systems with `/proc`; a live pid's are kept.
fn remove_stale_dirs(tmp: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = fs::read_dir(tmp) else { return };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(DIR_PREFIX)) else { continue };
        let mut parts = rest.split('-');
        let (Some(pid), Some(n), Some(nanos), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if digits(pid) && digits(n) && digits(nanos) && !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

impl Store {
    pub fn new() -> io::Result<Store> {
        remove_stale_dirs(&std::env::temp_dir());
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!(
            "{DIR_PREFIX}{}-{}-{nanos}",
            std::process::id(),
            DIRS.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir(&dir)?;
        Ok(Store { dir, images: HashMap::new(), next_seq: 0 })
    }

    pub fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    pub fn file_path(&self, uuid: &str) -> PathBuf {
        self.dir.join(format!("{uuid}.file0"))
    }

    /// A fresh name for an upload in progress.
    pub fn tmp_path(&mut self, uuid: &str) -> PathBuf {
        let n = self.next_seq();
        self.dir.join(format!("{uuid}.file0.tmp{n}"))
    }

    /// Images in listing order: `published_at` ascending (none first), then
    /// insertion order.
    pub fn sorted(&self) -> Vec<&Image> {
        let mut v: Vec<&Image> = self.images.values().collect();
        v.sort_by_key(|i| (i.published_at.as_deref().and_then(parse_iso_millis).unwrap_or(0), i.seq));
        v
    }
}

/// What streaming a file through the hashes found.
pub(crate) struct Digests {
    pub size: u64,
    pub sha1: String,
    pub md5: String,
}

/// Copies `from` to `to` (if given) while hashing, 64 KiB at a time.
pub(crate) fn copy_hashing(from: &mut impl Read, mut to: Option<&mut File>) -> io::Result<Digests> {
    let mut buf = vec![0u8; 64 * 1024];
    let (mut sha1, mut md5, mut size) = (Sha1::new(), Md5::new(), 0u64);
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha1.update(&buf[..n]);
        md5.update(&buf[..n]);
        size += n as u64;
        if let Some(f) = to.as_deref_mut() {
            f.write_all(&buf[..n])?;
        }
    }
    Ok(Digests {
        size,
        sha1: hex(&sha1.finalize()),
        md5: base64::engine::general_purpose::STANDARD.encode(md5.finalize()),
    })
}

pub(crate) fn hash_file(path: &Path) -> io::Result<Digests> {
    copy_hashing(&mut File::open(path)?, None)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `new Date().toISOString()`: `2024-01-02T03:04:05.678Z`.
pub(crate) fn iso_now() -> String {
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    iso_from_millis(ms)
}

pub(crate) use imgmanifest::calendar::iso_from_millis;

/// Parses the ISO 8601 forms JavaScript's `Date` reads back
/// (`YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.sss]]Z`) into Unix milliseconds.
pub(crate) fn parse_iso_millis(s: &str) -> Option<i64> {
    let num = |t: &str| -> Option<i64> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t.strip_suffix('Z')?)),
        None => (s, None),
    };
    let mut dp = date.split('-');
    let (y, m, d) = (num(dp.next()?)?, num(dp.next()?)?, num(dp.next()?)?);
    if dp.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut ms = imgmanifest::calendar::days_from_civil(y, m, d) * 86_400_000;
    if let Some(t) = time {
        let (hms, frac) = match t.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (t, None),
        };
        let mut tp = hms.split(':');
        let (h, min) = (num(tp.next()?)?, num(tp.next()?)?);
        let sec = match tp.next() {
            Some(x) => num(x)?,
            None => 0,
        };
        if tp.next().is_some() || h > 24 || min > 59 || sec > 59 {
            return None;
        }
        let milli = match frac {
            Some(f) => {
                num(f)?;
                let f3: String = f.chars().chain("000".chars()).take(3).collect();
                f3.parse::<i64>().ok()?
            }
            None => 0,
        };
        ms += h * 3_600_000 + min * 60_000 + sec * 1000 + milli;
    }
    Some(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trip() {
        let ms = parse_iso_millis("2018-10-11T12:13:14.123Z").unwrap();
        assert_eq!(iso_from_millis(ms), "2018-10-11T12:13:14.123Z");
        assert_eq!(iso_from_millis(parse_iso_millis("2000-02-29").unwrap()), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso_from_millis(parse_iso_millis("1999-12-31T23:59:59Z").unwrap()), "1999-12-31T23:59:59.000Z");
        assert!(parse_iso_millis("yesterday").is_none());
    }
}
