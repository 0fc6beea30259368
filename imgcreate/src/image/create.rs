//! Creating an image from a dataset, as `imgadm create` does from a VM
//! (imgadm's rules: the project's imgcreate/README.md, "create").
//!
//! ```text
//! dataset ─origin─▶ <root>/<origin>@final ─▶ origin's record (inherited fields, chain depth)
//! manifest (v, uuid, given, inherited, brand rules, origin) ─▶ validate (minimal) ─▶ strict model
//! snapshot @buildy-<uuid> (marked) ─▶ zfs send [-i] ─▶ pack ─▶ temporary files ─▶ destroy the snapshot
//! commit: the file (and extra outputs), then <prefix>.imgmanifest, renamed into place
//! ```
//!
//! Everything is checked before ZFS is touched. The dataset's own
//! snapshots are never touched: imgadm renames an existing `@final` aside
//! (and loses it); buildy sends a snapshot of its own name instead, which
//! installs as `@final` (imgadm's install renames the one received
//! snapshot to `@final`, and so does buildy's). Everything created is in
//! the caller's journal first, so no failure and no SIGKILL leaves anything
//! that `buildy cleanup` cannot remove.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use imgmanifest::{js, Mode, Options};
use serde_json::{Map, Value};

use super::db::{DbError, ImageDb, ImageRecord};
use super::journal::{Journal, OutputFile, Resource};
use super::model::{self, FileCompression, ImageManifest, ImageUuid, ModelError};
use super::owner::OWNER_PROPERTY;
use crate::atomic::{self, FileId, TempFile};
use crate::host::exec::Exec;
use crate::host::zfs::{Zfs, ZfsError};
use crate::host::zone;
use crate::pack::{pack_into, PackError, PackOptions, PackedFile, Progress};

/// The platform a SmartOS image is made on (`sysinfo`'s "SDC Version" and
/// "Live Image"), for `requirements.min_platform`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub sdc_version: String,
    pub live_image: String,
}

impl Platform {
    /// This machine's platform, from SmartOS's `sysinfo`; `None` elsewhere.
    pub fn current(exec: &Exec) -> Option<Platform> {
        let (sdc_version, live_image) = zone::sysinfo_platform(exec)?;
        Some(Platform { sdc_version, live_image })
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
    pub compression: FileCompression,
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
    /// Files to write beside the image, `<prefix><suffix>` with these
    /// bytes, renamed into place with it (a build's `.pkgaudit`).
    pub extra_outputs: Vec<(String, Vec<u8>)>,
}

/// An image made but not yet in place: its files are under temporary
/// names until [`Staged::commit`].
pub struct Staged {
    pub manifest: ImageManifest,
    pub manifest_path: PathBuf,
    pub file: PackedFile,
    /// In the order they are renamed into place: the manifest last.
    temps: Vec<TempFile>,
    /// The journal's record of them.
    outputs: Resource,
}

/// A created image, in place.
#[derive(Debug, Clone)]
pub struct Created {
    pub manifest: ImageManifest,
    pub manifest_path: PathBuf,
    pub file: PackedFile,
    /// The extra outputs' paths, in their order.
    pub extra: Vec<PathBuf>,
}

/// Why creation failed. Nothing was left behind.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("--max-origin-depth must be at least 2 (it counts the images in the origin chain), not {0}")]
    BadMaxOriginDepth(u32),
    #[error("dataset {0} does not exist")]
    DatasetNotFound(String),
    #[error("cannot create an incremental image: dataset {dataset} {why}; leave out -i for a full image")]
    NoOrigin { dataset: String, why: String },
    #[error("the origin image {uuid} is not installed under {root} (no {record}); install it first")]
    OriginNotInstalled { uuid: ImageUuid, root: String, record: PathBuf },
    #[error(
        "the dataset was cloned from {cloned_from}, not from {snapshot}: an incremental image on the origin image {uuid} \
         must start from its @final snapshot"
    )]
    OriginHasNoFinalSnapshot { uuid: ImageUuid, snapshot: String, cloned_from: String },
    #[error("the origin chain {} is deeper than --max-origin-depth {max}", chain.join(" -> "))]
    MaxOriginDepth { max: u32, chain: Vec<String> },
    #[error("brand {0} needs the platform version for requirements.min_platform: run on SmartOS or give the platform (or requirements.min_platform)")]
    NoPlatform(String),
    #[error("the manifest is not valid: {0}")]
    InvalidManifest(String),
    #[error("{0}; give it as its JSON type")]
    Model(#[from] ModelError),
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
    #[error("writing the journal {path} failed: {source}")]
    Journal {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("creating the image panicked: {0}")]
    Panicked(String),
    #[error("{error}; cleaning up also failed: {cleanup}")]
    Cleanup { error: Box<CreateError>, cleanup: ZfsError },
}

impl CreateError {
    /// Errors in what the user asked for (exit status 2), not in doing it.
    pub fn is_usage(&self) -> bool {
        match self {
            CreateError::BadMaxOriginDepth(_)
            | CreateError::DatasetNotFound(_)
            | CreateError::NoOrigin { .. }
            | CreateError::MaxOriginDepth { .. }
            | CreateError::NoPlatform(_)
            | CreateError::InvalidManifest(_)
            | CreateError::Model(_) => true,
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
    fn uuid(&self) -> ImageUuid {
        self.record.manifest.uuid
    }
}

/// Makes an image of `opts.dataset` under temporary names, each thing
/// recorded in `journal` before it is made; [`Staged::commit`] puts it in
/// place. `log` gets imgadm-like progress lines; `progress` the
/// packaging's byte counts.
pub fn create(
    zfs: &Zfs,
    db: &ImageDb,
    journal: &mut Journal,
    opts: &CreateOptions,
    log: &dyn Fn(&str),
    progress: impl FnMut(Progress),
) -> Result<Staged, CreateError> {
    if let Some(max) = opts.max_origin_depth.filter(|&m| m < 2) {
        return Err(CreateError::BadMaxOriginDepth(max));
    }
    model::check_fields(&opts.manifest)?;
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
    let manifest = gather_manifest(opts, origin.as_ref(), log)?;
    if opts.incremental {
        let origin = origin.as_ref().expect("gather_manifest checked it");
        if !zfs.exists(&origin.final_snapshot)? {
            return Err(CreateError::OriginHasNoFinalSnapshot {
                uuid: origin.uuid(),
                snapshot: origin.final_snapshot.clone(),
                cloned_from: origin_property.unwrap_or_default(),
            });
        }
    }
    let prefix = output_prefix(opts, &manifest);

    // ZFS work from here on: the snapshot is destroyed whatever happens.
    let snapshot = format!("{ds}@buildy-{}", manifest.uuid);
    let snapshot_resource = Resource::Snapshot { name: snapshot.clone() };
    record(zfs.exec(), journal, snapshot_resource.clone())?;
    log(&format!("Snapshotting to \"{snapshot}\""));
    let mark = journal.owner.to_property();
    // A panic is an error like any other: the snapshot must go.
    let result = catch_unwind(AssertUnwindSafe(|| {
        zfs.snapshot(&snapshot, &[(OWNER_PROPERTY, &mark)])?;
        stage(zfs, journal, opts, origin.as_ref(), manifest, &prefix, &snapshot, log, progress)
    }))
    .unwrap_or_else(|panic| Err(CreateError::Panicked(crate::panic_message(panic.as_ref()))));
    let undo = zfs.for_undo();
    let cleanup = match undo.get_if_exists(&snapshot, OWNER_PROPERTY) {
        Ok(Some(_)) => undo.destroy(&snapshot, false),
        Ok(None) => Ok(()),
        Err(e) => Err(e),
    };
    if cleanup.is_ok() {
        let _ = journal.forget(&snapshot_resource);
    }
    match (result, cleanup) {
        (Ok(staged), Ok(())) => Ok(staged),
        (Ok(_), Err(cleanup)) => Err(CreateError::Zfs(cleanup)),
        (Err(error), Ok(())) => Err(error),
        (Err(error), Err(cleanup)) => Err(CreateError::Cleanup { error: Box::new(error), cleanup }),
    }
}

/// Records `resource` in the journal (a checkpoint for the tests' kills).
fn record(exec: &Exec, journal: &mut Journal, resource: Resource) -> Result<(), CreateError> {
    journal.record(resource).map_err(|source| CreateError::Journal { path: journal.path().to_path_buf(), source })?;
    exec.checkpoint();
    Ok(())
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
    let parsed = image.and_then(|((root, uuid), snap)| Some((root, uuid.parse::<ImageUuid>().ok()?, snap)));
    let Some((root, uuid, snap)) = parsed else {
        return no_origin(format!("was cloned from {snapshot}, which is not an image's <root>/<uuid>@final"));
    };
    if let Some(expected) = opts.root.as_deref().filter(|&r| r != root) {
        return no_origin(format!("was cloned from {snapshot}, which is not an image under {expected}"));
    }
    let Some(record) = db.read(root, &uuid)? else {
        return Err(CreateError::OriginNotInstalled {
            uuid,
            root: root.to_string(),
            record: db.record_path(root, &uuid),
        });
    };
    let final_snapshot = format!("{root}/{uuid}@final");
    if opts.incremental && snap != "final" {
        // An incremental stream must start from the snapshot installs have.
        return Err(CreateError::OriginHasNoFinalSnapshot {
            uuid,
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
    let mut current = origin.record.manifest.origin;
    while let Some(parent) = current {
        chain.push(parent.to_string());
        if chain.len() > max as usize {
            return Err(CreateError::MaxOriginDepth { max, chain });
        }
        current = match db.read(&origin.root, &parent)? {
            Some(record) => record.manifest.origin,
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
    log: &dyn Fn(&str),
) -> Result<ImageManifest, CreateError> {
    let mut m = Map::new();
    m.insert("v".into(), Value::from(imgmanifest::MANIFEST_V));
    m.insert("uuid".into(), Value::String(ImageUuid::new_v4().to_string()));
    // Given `v` or `uuid` replace those values in place, as imgadm's copy does.
    for (k, v) in &opts.manifest {
        m.insert(k.clone(), v.clone());
    }
    if let Some(origin) = origin {
        let om = &origin.record.manifest;
        log(&format!("Inheriting from origin image {} ({} {})", origin.uuid(), om.name, om.version));
        for &field in imgmanifest::INHERITED_FIELDS {
            if m.contains_key(field) {
                continue;
            }
            match om.json().get(field) {
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
        let truthy_min_platform = given_requirements.and_then(|r| r.get("min_platform")).is_some_and(js::truthy);
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
    let m = Value::Object(m);
    let errors = imgmanifest::validate(&m, &Options::new(Mode::Minimal));
    if !errors.is_empty() {
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        return Err(CreateError::InvalidManifest(format!("{} (give fields with -m or FIELD=VALUE)", text.join("; "))));
    }
    let Value::Object(m) = m else { unreachable!("built as an object") };
    Ok(ImageManifest::from_validated(m)?)
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
pub fn output_paths(prefix: &Path, zvol: bool, compression: FileCompression) -> (PathBuf, PathBuf) {
    let kind = if zvol { ".zvol" } else { ".zfs" };
    let suffix = compression.to_manifest().file_suffix();
    (suffixed(prefix, &format!("{kind}{suffix}")), suffixed(prefix, ".imgmanifest"))
}

/// `prefix` with `suffix` appended (not an extension: versions hold dots).
pub fn suffixed(prefix: &Path, suffix: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// `<dir>/<slug(name)>-<slug(version)>` or the template itself.
fn output_prefix(opts: &CreateOptions, m: &ImageManifest) -> PathBuf {
    let name = imgmanifest::output_prefix(&m.name, &m.version);
    match &opts.output_template {
        None => PathBuf::from(name),
        Some(t) if t.is_dir() => t.join(name),
        Some(t) => t.clone(),
    }
}

/// Sends the snapshot into the image file and writes the other outputs,
/// all under temporary names recorded in the journal first.
#[allow(clippy::too_many_arguments)]
fn stage(
    zfs: &Zfs,
    journal: &mut Journal,
    opts: &CreateOptions,
    origin: Option<&Origin>,
    manifest: ImageManifest,
    prefix: &Path,
    snapshot: &str,
    log: &dyn Fn(&str),
    progress: impl FnMut(Progress),
) -> Result<Staged, CreateError> {
    let (file_path, manifest_path) = output_paths(prefix, manifest.is_zvol(), opts.compression);
    let mut targets = vec![file_path.clone()];
    targets.extend(opts.extra_outputs.iter().map(|(suffix, _)| suffixed(prefix, suffix)));
    targets.push(manifest_path.clone());
    let pid = journal.owner.pid;
    let files = targets.iter().map(|t| OutputFile { target: t.clone(), temp: atomic::temp_path(t, pid), id: None });
    let outputs = Resource::Outputs { files: files.collect() };
    record(zfs.exec(), journal, outputs.clone())?;
    let result = write_outputs(zfs, opts, origin, manifest, &targets, snapshot, log, progress);
    match result {
        Ok((temps, file, manifest)) => Ok(Staged { manifest, manifest_path, file, temps, outputs }),
        Err(e) => {
            // The temporary files went with their TempFiles.
            let _ = journal.forget(&outputs);
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn write_outputs(
    zfs: &Zfs,
    opts: &CreateOptions,
    origin: Option<&Origin>,
    manifest: ImageManifest,
    targets: &[PathBuf],
    snapshot: &str,
    log: &dyn Fn(&str),
    progress: impl FnMut(Progress),
) -> Result<(Vec<TempFile>, PackedFile, ImageManifest), CreateError> {
    let temp = |path: &Path| TempFile::create(path).map_err(|source| CreateError::Output { path: path.into(), source });
    let file_path = &targets[0];
    let file_temp = temp(file_path)?;
    zfs.exec().checkpoint();
    log(&format!("Sending image file to \"{}\"", file_path.display()));
    let from = if opts.incremental { origin.map(|o| o.final_snapshot.as_str()) } else { None };
    let stream = zfs.send(snapshot, from)?;
    let pack_opts =
        PackOptions { level: opts.level, threads: opts.threads, ..PackOptions::new(opts.compression.to_manifest()) };
    let packed = pack_into(stream, &file_temp, &pack_opts, progress)?;
    zfs.exec().checkpoint();
    let mut temps = vec![file_temp];
    for ((_, bytes), target) in opts.extra_outputs.iter().zip(&targets[1..]) {
        temps.push(written(temp(target)?, bytes)?);
    }

    let info = packed.stream.as_ref().expect("pack checked the stream");
    let mut file = Map::new();
    file.insert("size".into(), Value::from(packed.size));
    file.insert("compression".into(), Value::String(packed.compression.to_string()));
    file.insert("sha1".into(), Value::String(packed.sha1.clone()));
    file.insert("dataset_guid".into(), Value::String(info.toguid.to_string()));
    let manifest = manifest.with_files(vec![Value::Object(file)])?;

    let manifest_path = targets.last().expect("the manifest is the last output");
    log(&format!("Saving manifest to \"{}\"", manifest_path.display()));
    temps.push(written(temp(manifest_path)?, manifest.to_json_pretty().as_bytes())?);
    zfs.exec().checkpoint();
    Ok((temps, packed, manifest))
}

/// `temp` with `bytes` in it, synced.
fn written(mut temp: TempFile, bytes: &[u8]) -> Result<TempFile, CreateError> {
    use std::io::Write;
    let path = temp.target().to_path_buf();
    let result = temp.file.write_all(bytes).and_then(|()| temp.file.sync_all());
    result.map_err(|source| CreateError::Output { path, source })?;
    Ok(temp)
}

impl Staged {
    /// Puts the image in place: records the files' identities, removes an
    /// older manifest at the target (so no manifest ever stands beside a
    /// file it does not describe), renames the files in, the manifest last.
    /// A SIGKILL part way leaves what `buildy cleanup` can tell apart: a
    /// complete set (our manifest in place) stays, anything else of ours goes.
    pub fn commit(self, exec: &Exec, journal: &mut Journal) -> Result<Created, CreateError> {
        let Resource::Outputs { files } = &self.outputs else { unreachable!("staged outputs are Outputs") };
        let with_ids: Vec<OutputFile> =
            files.iter().map(|f| OutputFile { id: FileId::of(&f.temp), ..f.clone() }).collect();
        let outputs = Resource::Outputs { files: with_ids };
        let path = journal.path().to_path_buf();
        journal.update(&self.outputs, outputs.clone()).map_err(|source| CreateError::Journal { path, source })?;
        exec.checkpoint();
        let output_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CreateError::Output { path, source }
        };
        match std::fs::remove_file(&self.manifest_path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(output_error(&self.manifest_path)(e)),
            _ => {}
        }
        exec.checkpoint();
        let mut placed = Vec::new();
        for temp in self.temps {
            let target = temp.target().to_path_buf();
            placed.push(temp.persist().map_err(output_error(&target))?);
            exec.checkpoint();
        }
        let _ = journal.forget(&outputs);
        let extra = placed[1..placed.len() - 1].to_vec();
        Ok(Created { manifest: self.manifest, manifest_path: self.manifest_path, file: self.file, extra })
    }
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
            compression: FileCompression::None,
            incremental: true,
            max_origin_depth: None,
            root: None,
            brand: brand.map(str::to_string),
            platform: Some(Platform { sdc_version: "7.0".into(), live_image: "20240516T001234Z".into() }),
            level: None,
            threads: None,
            extra_outputs: Vec::new(),
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
            record: ImageRecord {
                manifest: ImageManifest::from_validated(manifest).unwrap(),
                zpool: "zones".into(),
                source: None,
            },
            final_snapshot: "zones/3f5cd6a1-cbbd-403a-9dfb-8d1055c8f474@final".into(),
        }
    }

    fn gather(manifest: Value, brand: Option<&str>) -> Result<Map<String, Value>, CreateError> {
        gather_manifest(&options(manifest, brand), Some(&origin()), &|_| {}).map(ImageManifest::into_json)
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
        let err = gather_manifest(&opts, Some(&origin()), &|_| {}).unwrap_err();
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
        let err = gather_manifest(&opts, None, &|_| {}).unwrap_err();
        assert!(matches!(err, CreateError::NoOrigin { .. }), "{err}");
    }
}
