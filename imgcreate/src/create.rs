//! Creating an image from a dataset, as `imgadm create` does from a VM
//! (rules: shared/reference/imgadm.md, "create").
//!
//! ```text
//! dataset ─origin─▶ <root>/<origin>@final ─▶ origin's record (inherited fields, chain depth)
//! manifest (v, uuid, given, inherited, brand rules, origin) ─▶ validate (minimal)
//! @final aside ─▶ snapshot @final (ours) ─▶ zfs send [-i] ─▶ pack ─▶ <prefix>.zfs[.gz] ─▶ <prefix>.imgmanifest
//! finally: destroy our @final, put the old @final back
//! ```
//!
//! Everything is checked before ZFS is touched. On failure nothing is left:
//! no output files (they are written under temporary names), no snapshot.

use std::path::{Path, PathBuf};

use imgmanifest::{js, Compression, Mode, Options};
use serde_json::{Map, Value};

use crate::atomic;
use crate::db::{DbError, ImageDb, ImageRecord};
use crate::pack::{pack, PackError, PackOptions, PackedFile, Progress};
use crate::zfs::{Owner, Zfs, ZfsError};

/// The platform a SmartOS image is made on (`sysinfo`'s "SDC Version" and
/// "Live Image"), for `requirements.min_platform`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub sdc_version: String,
    pub live_image: String,
}

impl Platform {
    /// This machine's platform, from SmartOS's `sysinfo`; `None` elsewhere.
    pub fn current() -> Option<Platform> {
        let out = crate::command::output(&mut std::process::Command::new("/usr/bin/sysinfo")).ok()?;
        let info: Value = serde_json::from_slice(&out).ok()?;
        Some(Platform {
            sdc_version: info.get("SDC Version")?.as_str()?.to_string(),
            live_image: info.get("Live Image")?.as_str()?.to_string(),
        })
    }
}

/// Brands whose images get `requirements.brand` (imgadm's list).
const BRANDS_SETTING_REQUIREMENTS_BRAND: &[&str] = &["bhyve", "kvm", "lx"];
/// Brands whose images get `requirements.min_platform`.
const BRANDS_SETTING_MIN_PLATFORM: &[&str] = &["joyent", "joyent-minimal"];

/// What to create.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// The filesystem (or volume) that becomes the image.
    pub dataset: String,
    /// Manifest fields given by the user, in their order.
    pub manifest: Map<String, Value>,
    /// `-o`: a directory to write `<name>-<version>.*` into, or the prefix
    /// itself; `None` is the current directory.
    pub output_template: Option<PathBuf>,
    pub compression: Compression,
    /// `-i`: an incremental image on the origin image.
    pub incremental: bool,
    /// Refuse origins whose chain (the origin, its origin, ...) is longer.
    pub max_origin_depth: Option<u32>,
    /// Where images live; the origin must be an image under it. `None`: the
    /// parent of the dataset's origin.
    pub root: Option<String>,
    /// The brand of the zone the dataset belongs to, for imgadm's brand rules.
    pub brand: Option<String>,
    /// Required for brands joyent and joyent-minimal unless the manifest
    /// gives `requirements.min_platform`.
    pub platform: Option<Platform>,
    /// Compression level and threads (`None`: defaults).
    pub level: Option<u32>,
    pub threads: Option<usize>,
}

/// A created image.
#[derive(Debug, Clone)]
pub struct Created {
    pub manifest: Map<String, Value>,
    pub manifest_path: PathBuf,
    pub file: PackedFile,
}

/// Why creation failed. Nothing was left behind.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("unknown compression \"{0}\" (use none, gzip, bzip2 or xz)")]
    UnknownCompression(String),
    #[error("--max-origin-depth must be at least 2 (it counts the images in the origin chain), not {0}")]
    BadMaxOriginDepth(u32),
    #[error("dataset {0} does not exist")]
    DatasetNotFound(String),
    #[error("cannot create an incremental image: dataset {dataset} {why}; leave out -i for a full image")]
    NoOrigin { dataset: String, why: String },
    #[error("the origin image {uuid} is not installed under {root} (no {record}); install it first")]
    OriginNotInstalled { uuid: String, root: String, record: PathBuf },
    #[error(
        "the dataset was cloned from {cloned_from}, not from {snapshot}: an incremental image on the origin image {uuid} \
         must start from its @final snapshot"
    )]
    OriginHasNoFinalSnapshot { uuid: String, snapshot: String, cloned_from: String },
    #[error("the origin chain {} is deeper than --max-origin-depth {max}", chain.join(" -> "))]
    MaxOriginDepth { max: u32, chain: Vec<String> },
    #[error("brand {0} needs the platform version for requirements.min_platform: run on SmartOS or give the platform (or requirements.min_platform)")]
    NoPlatform(String),
    #[error("the manifest is not valid: {0}")]
    InvalidManifest(String),
    #[error(transparent)]
    Zfs(#[from] ZfsError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("writing the image file failed: {0}")]
    Pack(#[from] PackError),
    #[error("writing {path} failed: {source}")]
    Output {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{error}; cleaning up also failed: {cleanup}")]
    Cleanup { error: Box<CreateError>, cleanup: ZfsError },
}

impl CreateError {
    /// Errors in what the user asked for (exit status 2), not in doing it.
    pub fn is_usage(&self) -> bool {
        match self {
            CreateError::UnknownCompression(_)
            | CreateError::BadMaxOriginDepth(_)
            | CreateError::DatasetNotFound(_)
            | CreateError::NoOrigin { .. }
            | CreateError::MaxOriginDepth { .. }
            | CreateError::NoPlatform(_)
            | CreateError::InvalidManifest(_) => true,
            CreateError::Pack(e) => matches!(e, PackError::BadLevel { .. } | PackError::UnknownCompression(_)),
            CreateError::Cleanup { error, .. } => error.is_usage(),
            _ => false,
        }
    }
}

/// The image a dataset was cloned from.
struct Origin {
    root: String,
    record: ImageRecord,
    /// `<root>/<uuid>@final`
    final_snapshot: String,
}

impl Origin {
    fn uuid(&self) -> &str {
        self.record.manifest.get("uuid").and_then(Value::as_str).unwrap_or_default()
    }
}

/// Creates an image from `opts.dataset`. `log` gets imgadm-like progress
/// lines; `progress` the packaging's byte counts.
pub fn create(
    zfs: &Zfs,
    db: &ImageDb,
    opts: &CreateOptions,
    mut log: impl FnMut(&str),
    progress: impl FnMut(Progress),
) -> Result<Created, CreateError> {
    if let Compression::Unknown(name) = &opts.compression {
        return Err(CreateError::UnknownCompression(name.clone()));
    }
    if let Some(max) = opts.max_origin_depth.filter(|&m| m < 2) {
        return Err(CreateError::BadMaxOriginDepth(max));
    }
    let ds = &opts.dataset;
    let origin_property = match zfs.get_one(ds, "origin") {
        Ok(origin) => origin,
        Err(e) if e.is_not_found() => return Err(CreateError::DatasetNotFound(ds.clone())),
        Err(e) => return Err(e.into()),
    };
    let origin = find_origin(db, opts, origin_property.as_deref())?;
    if let (Some(origin), Some(max)) = (&origin, opts.max_origin_depth) {
        check_origin_depth(db, origin, max)?;
    }
    let manifest = gather_manifest(opts, origin.as_ref(), &mut log)?;
    if opts.incremental {
        let origin = origin.as_ref().expect("gather_manifest checked it");
        if !zfs.exists(&origin.final_snapshot)? {
            return Err(CreateError::OriginHasNoFinalSnapshot {
                uuid: origin.uuid().to_string(),
                snapshot: origin.final_snapshot.clone(),
                cloned_from: origin_property.unwrap_or_default(),
            });
        }
    }
    let prefix = output_prefix(opts, &manifest);

    // ZFS work from here on: our @final is destroyed and the old one put
    // back whatever happens.
    let final_snapshot = format!("{ds}@final");
    let moved_aside = if zfs.snapshots(ds)?.iter().any(|s| s == "final") {
        let aside = format!("{ds}@final-{}", epoch_millis());
        log(&format!("Moving existing @final snapshot out of the way to \"{aside}\""));
        zfs.rename(&final_snapshot, &aside)?;
        Some(aside)
    } else {
        None
    };
    let result = send_and_save(zfs, opts, origin.as_ref(), manifest, &prefix, &final_snapshot, &mut log, progress);
    // The undo must run even if the failure was an interruption.
    crate::command::resume();
    let cleanup = restore_snapshots(zfs, &final_snapshot, moved_aside.as_deref());
    match (result, cleanup) {
        (Ok(created), Ok(())) => Ok(created),
        (Ok(created), Err(cleanup)) => {
            // A job that fails leaves no outputs.
            let _ = std::fs::remove_file(&created.manifest_path);
            let _ = std::fs::remove_file(&created.file.path);
            Err(CreateError::Zfs(cleanup))
        }
        (Err(error), Ok(())) => Err(error),
        (Err(error), Err(cleanup)) => Err(CreateError::Cleanup { error: Box::new(error), cleanup }),
    }
}

/// The origin image, from the dataset's `origin` property
/// (`<root>/<uuid>@final` of an installed image).
fn find_origin(db: &ImageDb, opts: &CreateOptions, origin: Option<&str>) -> Result<Option<Origin>, CreateError> {
    let no_origin = |why: String| -> Result<Option<Origin>, CreateError> {
        if opts.incremental {
            Err(CreateError::NoOrigin { dataset: opts.dataset.clone(), why })
        } else {
            Ok(None)
        }
    };
    let Some(snapshot) = origin else {
        return no_origin("was not cloned from an image (it has no origin)".into());
    };
    let image = snapshot.split_once('@').and_then(|(ds, snap)| Some((ds.rsplit_once('/')?, snap)));
    let Some(((root, uuid), snap)) = image.filter(|((_, uuid), _)| imgmanifest::validate::is_uuid(uuid)) else {
        return no_origin(format!("was cloned from {snapshot}, which is not an image's <root>/<uuid>@final"));
    };
    if let Some(expected) = opts.root.as_deref().filter(|&r| r != root) {
        return no_origin(format!("was cloned from {snapshot}, which is not an image under {expected}"));
    }
    let Some(record) = db.read(root, uuid)? else {
        return Err(CreateError::OriginNotInstalled {
            uuid: uuid.to_string(),
            root: root.to_string(),
            record: db.record_path(root, uuid),
        });
    };
    let final_snapshot = format!("{root}/{uuid}@final");
    if opts.incremental && snap != "final" {
        // An incremental stream must start from the snapshot installs have.
        return Err(CreateError::OriginHasNoFinalSnapshot {
            uuid: uuid.to_string(),
            snapshot: final_snapshot,
            cloned_from: snapshot.to_string(),
        });
    }
    Ok(Some(Origin { root: root.to_string(), record, final_snapshot }))
}

/// imgadm's rule: the origin counts as 1, each origin of an origin adds 1;
/// more than `max` is refused.
fn check_origin_depth(db: &ImageDb, origin: &Origin, max: u32) -> Result<(), CreateError> {
    let mut chain = vec![origin.uuid().to_string()];
    let mut current = origin.record.manifest.clone();
    while let Some(parent) = current.get("origin").and_then(Value::as_str).map(str::to_string) {
        chain.push(parent.clone());
        if chain.len() > max as usize {
            return Err(CreateError::MaxOriginDepth { max, chain });
        }
        current = match db.read(&origin.root, &parent)? {
            Some(record) => record.manifest,
            None => {
                return Err(CreateError::OriginNotInstalled {
                    record: db.record_path(&origin.root, &parent),
                    uuid: parent,
                    root: origin.root.clone(),
                })
            }
        };
    }
    Ok(())
}

/// The manifest in imgadm's key order: `v`, `uuid`, the given fields,
/// inherited fields, brand rules, `origin`; `files` comes later.
fn gather_manifest(
    opts: &CreateOptions,
    origin: Option<&Origin>,
    log: &mut impl FnMut(&str),
) -> Result<Map<String, Value>, CreateError> {
    let mut m = Map::new();
    m.insert("v".into(), Value::from(imgmanifest::MANIFEST_V));
    m.insert("uuid".into(), Value::String(uuid::Uuid::new_v4().to_string()));
    // Given `v` or `uuid` replace those values in place, as imgadm's copy does.
    for (k, v) in &opts.manifest {
        m.insert(k.clone(), v.clone());
    }
    if let Some(origin) = origin {
        let om = &origin.record.manifest;
        let (name, version) = (js::text(om.get("name")), js::text(om.get("version")));
        log(&format!("Inheriting from origin image {} ({name} {version})", origin.uuid()));
        for &field in imgmanifest::INHERITED_FIELDS {
            if m.contains_key(field) {
                continue;
            }
            match om.get(field) {
                Some(Value::Array(a)) if a.is_empty() => {}
                Some(v) => {
                    m.insert(field.into(), v.clone());
                }
                None => {}
            }
        }
    }
    let given_requirements = opts.manifest.get("requirements").and_then(Value::as_object);
    let given = |k: &str| given_requirements.is_some_and(|r| r.contains_key(k));
    if let Some(brand) = opts.brand.as_deref() {
        let truthy_min_platform =
            given_requirements.and_then(|r| r.get("min_platform")).is_some_and(imgmanifest::js::truthy);
        if BRANDS_SETTING_MIN_PLATFORM.contains(&brand) && !truthy_min_platform {
            let platform = opts.platform.as_ref().ok_or_else(|| CreateError::NoPlatform(brand.to_string()))?;
            let mut min = Map::new();
            min.insert(platform.sdc_version.clone(), Value::String(platform.live_image.clone()));
            requirements(&mut m).insert("min_platform".into(), Value::Object(min));
        }
        if BRANDS_SETTING_REQUIREMENTS_BRAND.contains(&brand) && !given("brand") {
            requirements(&mut m).insert("brand".into(), Value::String(brand.to_string()));
        }
    }
    if opts.incremental {
        let origin = origin.ok_or_else(|| CreateError::NoOrigin {
            dataset: opts.dataset.clone(),
            why: "has no origin image".into(),
        })?;
        m.insert("origin".into(), Value::String(origin.uuid().to_string()));
    }
    let errors = imgmanifest::validate(&Value::Object(m.clone()), &Options::new(Mode::Minimal));
    if !errors.is_empty() {
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        return Err(CreateError::InvalidManifest(format!("{} (give fields with -m or FIELD=VALUE)", text.join("; "))));
    }
    Ok(m)
}

/// `requirements` as an object, created if absent (a non-object given by
/// the user is replaced, as validation would refuse it anyway).
fn requirements(m: &mut Map<String, Value>) -> &mut Map<String, Value> {
    let slot = m.entry("requirements").or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().expect("just made an object")
}

/// imgadm's output names for `prefix`: the image file
/// `<prefix>.zfs[.gz|.bz2|.xz]` (`.zvol` for a zvol) and `<prefix>.imgmanifest`.
pub fn output_paths(prefix: &Path, zvol: bool, compression: &Compression) -> (PathBuf, PathBuf) {
    let kind = if zvol { ".zvol" } else { ".zfs" };
    (suffixed(prefix, &format!("{kind}{}", compression.file_suffix())), suffixed(prefix, ".imgmanifest"))
}

/// `prefix` with `suffix` appended (not an extension: versions hold dots).
pub fn suffixed(prefix: &Path, suffix: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// `<dir>/<slug(name)>-<slug(version)>` or the template itself.
fn output_prefix(opts: &CreateOptions, m: &Map<String, Value>) -> PathBuf {
    // Validation lets a number through as a version (as Node's does).
    let name = imgmanifest::output_prefix(&js::text(m.get("name")), &js::text(m.get("version")));
    match &opts.output_template {
        None => PathBuf::from(name),
        Some(t) if t.is_dir() => t.join(name),
        Some(t) => t.clone(),
    }
}

#[allow(clippy::too_many_arguments)]
fn send_and_save(
    zfs: &Zfs,
    opts: &CreateOptions,
    origin: Option<&Origin>,
    mut manifest: Map<String, Value>,
    prefix: &Path,
    final_snapshot: &str,
    log: &mut impl FnMut(&str),
    progress: impl FnMut(Progress),
) -> Result<Created, CreateError> {
    let is_zvol = manifest.get("type").and_then(Value::as_str) == Some("zvol");
    let (file_path, manifest_path) = output_paths(prefix, is_zvol, &opts.compression);

    log(&format!("Snapshotting to \"{final_snapshot}\""));
    let mut owner = Owner::this_process("create");
    owner.temp_files = [&file_path, &manifest_path].iter().map(|p| atomic::temp_path(p, owner.pid)).collect();
    zfs.snapshot(final_snapshot, &[(crate::zfs::OWNER_PROPERTY, &owner.to_property())])?;

    log(&format!("Sending image file to \"{}\"", file_path.display()));

    let from = if opts.incremental { origin.map(|o| o.final_snapshot.as_str()) } else { None };
    let stream = zfs.send(final_snapshot, from)?;
    let pack_opts =
        PackOptions { level: opts.level, threads: opts.threads, ..PackOptions::new(opts.compression.clone()) };
    let packed = pack(stream, &file_path, &pack_opts, progress)?;

    let info = packed.stream.as_ref().expect("pack checked the stream");
    let mut file = Map::new();
    file.insert("size".into(), Value::from(packed.size));
    file.insert("compression".into(), Value::String(packed.compression.to_string()));
    file.insert("sha1".into(), Value::String(packed.sha1.clone()));
    file.insert("dataset_guid".into(), Value::String(info.toguid.to_string()));
    manifest.insert("files".into(), Value::Array(vec![Value::Object(file)]));

    log(&format!("Saving manifest to \"{}\"", manifest_path.display()));
    let text = serde_json::to_string_pretty(&Value::Object(manifest.clone())).expect("JSON serializes");
    if let Err(source) = atomic::write_file(&manifest_path, text.as_bytes()) {
        let _ = std::fs::remove_file(&packed.path);
        return Err(CreateError::Output { path: manifest_path, source });
    }
    Ok(Created { manifest, manifest_path, file: packed })
}

/// Destroys the `@final` this run took (if it got that far) and renames a
/// moved-aside one back.
fn restore_snapshots(zfs: &Zfs, final_snapshot: &str, moved_aside: Option<&str>) -> Result<(), ZfsError> {
    let ours = match zfs.get_one(final_snapshot, crate::zfs::OWNER_PROPERTY) {
        Ok(value) => value.and_then(|v| Owner::from_property(&v)).is_some_and(|o| o.pid == std::process::id()),
        Err(e) if e.is_not_found() => false,
        Err(e) => return Err(e),
    };
    if ours {
        zfs.destroy(final_snapshot, false)?;
    }
    if let Some(aside) = moved_aside {
        zfs.rename(aside, final_snapshot)?;
    }
    Ok(())
}

fn epoch_millis() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Map<String, Value> {
        let Value::Object(m) = v else { panic!("not an object") };
        m
    }

    fn options(manifest: Value, brand: Option<&str>) -> CreateOptions {
        CreateOptions {
            dataset: "zones/analog".into(),
            manifest: object(manifest),
            output_template: None,
            compression: Compression::None,
            incremental: true,
            max_origin_depth: None,
            root: None,
            brand: brand.map(str::to_string),
            platform: Some(Platform { sdc_version: "7.0".into(), live_image: "20240516T001234Z".into() }),
            level: None,
            threads: None,
        }
    }

    fn origin() -> Origin {
        let manifest = object(json!({
            "v": 2, "uuid": "3f5cd6a1-cbbd-403a-9dfb-8d1055c8f474", "name": "base", "version": "1",
            "type": "zone-dataset", "os": "smartos", "billing_tags": [], "tags": {"a": 1},
            "requirements": {"min_platform": {"6.5": "20120101T000000Z"}, "networks": []}
        }));
        Origin {
            root: "zones".into(),
            record: ImageRecord { manifest, zpool: "zones".into(), source: None },
            final_snapshot: "zones/3f5cd6a1-cbbd-403a-9dfb-8d1055c8f474@final".into(),
        }
    }

    fn gather(manifest: Value, brand: Option<&str>) -> Result<Map<String, Value>, CreateError> {
        gather_manifest(&options(manifest, brand), Some(&origin()), &mut |_| {})
    }

    #[test]
    fn inherits_what_is_missing_in_imgadms_order_and_drops_empty_arrays() {
        let m =
            gather(json!({"name": "x", "version": "2", "uuid": "ffb1f2bb-9daf-4e3b-9d19-1e33a1f162a2"}), None).unwrap();
        let keys: Vec<&str> = m.keys().map(String::as_str).collect();
        // A given uuid takes the place of the generated one; tags are not inherited.
        assert_eq!(keys, ["v", "uuid", "name", "version", "type", "os", "requirements", "origin"]);
        assert_eq!(m["uuid"], "ffb1f2bb-9daf-4e3b-9d19-1e33a1f162a2");
        assert_eq!(m["origin"], "3f5cd6a1-cbbd-403a-9dfb-8d1055c8f474");
    }

    #[test]
    fn smartos_brands_get_the_current_platform_unless_given() {
        let m = gather(json!({"name": "x", "version": "2"}), Some("joyent-minimal")).unwrap();
        assert_eq!(m["requirements"], json!({"min_platform": {"7.0": "20240516T001234Z"}, "networks": []}));
        let given = json!({"name": "x", "version": "2", "requirements": {"min_platform": {"7.1": "20250101T000000Z"}}});
        let m = gather(given, Some("joyent")).unwrap();
        assert_eq!(m["requirements"], json!({"min_platform": {"7.1": "20250101T000000Z"}}));
        let mut opts = options(json!({"name": "x", "version": "2"}), Some("joyent"));
        opts.platform = None;
        let err = gather_manifest(&opts, Some(&origin()), &mut |_| {}).unwrap_err();
        assert!(matches!(err, CreateError::NoPlatform(_)) && err.is_usage(), "{err}");
    }

    #[test]
    fn lx_bhyve_and_kvm_images_require_their_brand_unless_given() {
        let m = gather(json!({"name": "x", "version": "2", "os": "linux"}), Some("lx")).unwrap();
        assert_eq!(m["requirements"]["brand"], "lx");
        assert!(m["requirements"].get("min_platform").is_some(), "inherited, not replaced");
        let given = json!({"name": "x", "version": "2", "requirements": {"brand": "bhyve"}});
        assert_eq!(gather(given, Some("lx")).unwrap()["requirements"], json!({"brand": "bhyve"}));
        assert!(gather(json!({"name": "x", "version": "2"}), Some("joyent")).unwrap()["requirements"]
            .get("brand")
            .is_none());
    }

    #[test]
    fn an_invalid_manifest_is_refused_before_any_zfs_work() {
        let err = gather(json!({"name": "x"}), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the manifest is not valid: version (MissingParameter) (give fields with -m or FIELD=VALUE)"
        );
        let mut opts = options(json!({"name": "x", "version": "1"}), None);
        opts.incremental = true;
        let err = gather_manifest(&opts, None, &mut |_| {}).unwrap_err();
        assert!(matches!(err, CreateError::NoOrigin { .. }), "{err}");
    }
}
