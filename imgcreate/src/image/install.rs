//! Installing an image file, as `imgadm install` does (imgadm's rules: the
//! project's imgcreate/README.md, "install").
//!
//! ```text
//! strict manifest ─▶ lock img.<uuid>.import.lock ─▶ installed already? ─▶ origin installed, its @final's guid
//! ─▶ check the file (size, sha1, compression, the whole stream, fromguid = origin's guid)
//! ─▶ zfs receive <root>/<uuid>-partial ─▶ one snapshot, named @final ─▶ rename to <root>/<uuid>
//! ─▶ database record (last)
//! ```
//!
//! Nothing reaches ZFS until the file has been checked from end to end. The
//! receive is in the journal before it starts; on any failure the
//! `-partial` dataset is destroyed and no record is written.

use std::io::{self, Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use imgmanifest::{Manifest, Mode, Options};
use serde_json::Value;

use super::db::{DbError, ImageDb, ImageRecord};
use super::journal::{Journal, Resource};
use super::model::{ImageManifest, ImageUuid, ModelError};
use super::owner::OWNER_PROPERTY;
use super::undo::Undoer;
use crate::host::exec::{CommandError, Running};
use crate::host::lock;
use crate::host::zfs::{Zfs, ZfsError};
use crate::inspect::inspect;
use crate::pack::codec;

/// Where to install.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// The dataset images live under (`zones`, or `zones/<zone>/data`).
    pub root: String,
    /// Directory of the per-image lock files (imgadm's: `/var/run`).
    pub lock_dir: PathBuf,
    /// The image server it came from, for the record (`"source"`).
    pub source: Option<String>,
}

/// What installing did.
#[derive(Debug, Clone, PartialEq)]
pub enum Installed {
    /// The image is now `dataset`, recorded at `record`.
    Installed { dataset: String, record: PathBuf },
    /// It was installed before (by anyone); nothing was changed.
    AlreadyInstalled { dataset: String },
}

/// Why installing failed. Nothing was left behind.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("the manifest is not valid: {0}")]
    InvalidManifest(String),
    #[error("{0}; nothing was done with it")]
    Model(#[from] ModelError),
    #[error("the image file {file} does not match its manifest: {problem}")]
    BadFile { file: PathBuf, problem: String },
    #[error("cannot read the image file {file}: {source}")]
    ReadFile {
        file: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the dataset root {0} does not exist")]
    RootNotFound(String),
    #[error("the origin image {origin} is not installed ({dataset} does not exist); install it first")]
    OriginNotInstalled { origin: ImageUuid, dataset: String },
    #[error("the origin image {origin} has no {snapshot} snapshot")]
    OriginHasNoFinalSnapshot { origin: ImageUuid, snapshot: String },
    #[error(
        "the image file is an incremental stream from snapshot guid {fromguid}, but the installed origin image {origin} \
         ({snapshot}) has guid {origin_guid}: the image was not made on that origin"
    )]
    WrongOrigin { origin: ImageUuid, snapshot: String, fromguid: u64, origin_guid: String },
    #[error("cannot take the import lock {path}: {source}")]
    Lock {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the received dataset {dataset} has {count} snapshots ({names}), not one")]
    UnexpectedSnapshots { dataset: String, count: usize, names: String },
    #[error("receiving the image failed (out of space in {root}): {source}")]
    OutOfSpace {
        root: String,
        #[source]
        source: ZfsError,
    },
    #[error(transparent)]
    Zfs(#[from] ZfsError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("writing the journal {path} failed: {source}")]
    Journal {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("installing the image panicked: {0}")]
    Panicked(String),
    #[error("{error}; cleaning up also failed: {cleanup}")]
    Cleanup { error: Box<InstallError>, cleanup: String },
}

impl InstallError {
    /// Errors in the input (exit status 2): a bad manifest, or a file that
    /// does not match it or is not an image of the origin it names.
    pub fn is_usage(&self) -> bool {
        match self {
            InstallError::InvalidManifest(_)
            | InstallError::Model(_)
            | InstallError::BadFile { .. }
            | InstallError::ReadFile { .. }
            | InstallError::RootNotFound(_)
            | InstallError::WrongOrigin { .. } => true,
            InstallError::Cleanup { error, .. } => error.is_usage(),
            _ => false,
        }
    }
}

/// The manifest upgraded to v2, valid by the minimal rules, converted to
/// the strict model, with a `files[0]` to check the file against. Call it
/// before anything else: a manifest refused here has touched nothing.
pub fn checked_manifest(manifest: &Value) -> Result<ImageManifest, InstallError> {
    let invalid = |s: String| InstallError::InvalidManifest(s);
    let upgraded = imgmanifest::upgrade(manifest).map_err(|e| invalid(e.to_string()))?;
    let errors = imgmanifest::validate(&upgraded, &Options::new(Mode::Minimal));
    if !errors.is_empty() {
        return Err(invalid(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")));
    }
    let Value::Object(m) = upgraded else { unreachable!("validation passed an object") };
    let m = ImageManifest::from_validated(m)?;
    if m.file.is_none() {
        return Err(invalid("files[0] with size, sha1 and compression is required to install".into()));
    }
    Ok(m)
}

/// Installs the image `file` described by `manifest` (from
/// [`checked_manifest`]) under `opts.root`, recording the receive in
/// `journal` first. `log` gets progress lines.
pub fn install(
    zfs: &Zfs,
    db: &ImageDb,
    journal: &mut Journal,
    manifest: ImageManifest,
    file: &Path,
    opts: &InstallOptions,
    log: &dyn Fn(&str),
) -> Result<Installed, InstallError> {
    let root = opts.root.as_str();
    if !zfs.exists(root)? {
        return Err(InstallError::RootNotFound(root.to_string()));
    }
    let _lock = import_lock(zfs, opts, manifest.uuid, log)?;
    let dataset = format!("{root}/{}", manifest.uuid);
    if zfs.exists(&dataset)? {
        return Ok(Installed::AlreadyInstalled { dataset });
    }
    log(&format!("Checking {}", file.display()));
    let checked = check_file(file, &manifest)?;
    install_checked(zfs, db, journal, manifest, checked, opts, log)
}

/// Takes imgadm's import lock of image `uuid`, saying so if it must wait.
pub fn import_lock(
    zfs: &Zfs,
    opts: &InstallOptions,
    uuid: ImageUuid,
    log: &dyn Fn(&str),
) -> Result<lock::FileLock, InstallError> {
    let id = uuid.to_string();
    lock::import_lock(zfs.exec(), &opts.lock_dir, &id, |path| {
        log(&format!("Waiting for image {uuid} import lock ({})", path.display()))
    })
    .map_err(|source| InstallError::Lock { path: lock::import_lock_path(&opts.lock_dir, &id), source })
}

/// [`install`] of a file [`check_file`] already checked, for a caller that
/// holds the image's import lock (an import checks each download beside the
/// installs of the others).
pub fn install_checked(
    zfs: &Zfs,
    db: &ImageDb,
    journal: &mut Journal,
    manifest: ImageManifest,
    checked: CheckedFile,
    opts: &InstallOptions,
    log: &dyn Fn(&str),
) -> Result<Installed, InstallError> {
    assert_eq!(checked.uuid, manifest.uuid, "a file checked against another manifest");
    let file = checked.path.as_path();
    let uuid = manifest.uuid;
    let root = opts.root.as_str();
    let dataset = format!("{root}/{uuid}");
    let lock_path = lock::import_lock_path(&opts.lock_dir, &uuid.to_string());
    if zfs.exists(&dataset)? {
        return Ok(Installed::AlreadyInstalled { dataset });
    }
    if let Some(origin) = manifest.origin {
        let origin_guid = origin_final_guid(zfs, root, origin)?;
        if checked.fromguid.to_string() != origin_guid {
            return Err(InstallError::WrongOrigin {
                origin,
                snapshot: format!("{origin}@final"),
                fromguid: checked.fromguid,
                origin_guid,
            });
        }
    }

    let mut manifest = manifest;
    if !manifest.json().contains_key("published_at") {
        manifest.set_extra("published_at", Value::String(imgmanifest::published_at_now()));
    }
    let partial = format!("{dataset}-partial");
    if zfs.exists(&partial)? {
        // Stale: we hold the image's lock, so nobody is receiving into it.
        log(&format!("Destroying the stale {partial}"));
        zfs.destroy(&partial, true)?;
    }
    let received = Resource::Receive {
        partial: partial.clone(),
        dataset: dataset.clone(),
        lock: lock_path.clone(),
        record: db.record_path(root, &uuid),
    };
    journal
        .record(received.clone())
        .map_err(|source| InstallError::Journal { path: journal.path().to_path_buf(), source })?;
    log(&format!("Receiving into {partial}"));
    // A panic is an error like any other: what was received must go.
    let received_and_recorded =
        catch_unwind(AssertUnwindSafe(|| receive_and_record(zfs, db, journal, &manifest, file, opts, &partial)))
            .unwrap_or_else(|panic| Err(InstallError::Panicked(crate::panic_message(panic.as_ref()))));
    match received_and_recorded {
        Ok(record) => {
            let _ = journal.forget(&received);
            Ok(Installed::Installed { dataset, record })
        }
        Err(error) => {
            // Undo (also after an interruption): the received dataset under
            // either name; the record is written last, so there is none.
            let undo = zfs.for_undo();
            let mut undoer = Undoer::new(&undo, false);
            if undoer.one(journal, &received, true) {
                Err(error)
            } else {
                let left: Vec<String> = undoer.report.failures.iter().map(ToString::to_string).collect();
                Err(InstallError::Cleanup { error: Box::new(error), cleanup: left.join("; ") })
            }
        }
    }
}

/// The exact guid of `<root>/<origin>@final`.
fn origin_final_guid(zfs: &Zfs, root: &str, origin: ImageUuid) -> Result<String, InstallError> {
    let dataset = format!("{root}/{origin}");
    if !zfs.exists(&dataset)? {
        return Err(InstallError::OriginNotInstalled { origin, dataset });
    }
    let snapshot = format!("{dataset}@final");
    match zfs.get_if_exists(&snapshot, "guid")? {
        Some(guid) => Ok(guid),
        None => Err(InstallError::OriginHasNoFinalSnapshot { origin, snapshot }),
    }
}

/// An image file checked from end to end against its manifest; only such
/// a file can be installed.
#[derive(Debug)]
pub struct CheckedFile {
    path: PathBuf,
    uuid: ImageUuid,
    /// The incremental stream's origin snapshot guid (0 for a full one).
    fromguid: u64,
}

/// Reads the whole file: size, sha1 and compression as the manifest says,
/// one complete valid stream, incremental exactly when there is an origin.
/// (Whether it is incremental on the installed origin is checked at install.)
pub fn check_file(file: &Path, manifest: &ImageManifest) -> Result<CheckedFile, InstallError> {
    let bad = |problem: String| InstallError::BadFile { file: file.to_path_buf(), problem };
    // The checks need only `files` and `origin`.
    let needed: serde_json::Map<String, Value> = manifest
        .json()
        .iter()
        .filter(|(k, _)| *k == "files" || *k == "origin")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let typed = Manifest::from_value(Value::Object(needed))
        .map_err(|e| InstallError::InvalidManifest(format!("files[0]: {e}")))?;
    let report =
        inspect(file, Some(&typed)).map_err(|source| InstallError::ReadFile { file: file.to_path_buf(), source })?;
    if !report.problems.is_empty() {
        return Err(bad(report.problems.join("; ")));
    }
    let stream = report.stream.expect("a report without problems has a stream");
    Ok(CheckedFile { path: file.to_path_buf(), uuid: manifest.uuid, fromguid: stream.fromguid })
}

/// Receives into `partial`, leaves exactly one snapshot named `@final`,
/// renames to `dataset` and writes the record.
fn receive_and_record(
    zfs: &Zfs,
    db: &ImageDb,
    journal: &Journal,
    manifest: &ImageManifest,
    file: &Path,
    opts: &InstallOptions,
    partial: &str,
) -> Result<PathBuf, InstallError> {
    let root = opts.root.as_str();
    let dataset = &format!("{root}/{}", manifest.uuid);
    let compression = manifest.file.as_ref().expect("checked_manifest requires files[0]").compression;
    let read_error = |source| InstallError::ReadFile { file: file.to_path_buf(), source };
    let input = std::fs::File::open(file).map_err(read_error)?;
    let mut stream = codec::decompressor(&compression.to_manifest(), io::BufReader::with_capacity(1 << 20, input))
        .map_err(read_error)?;
    // An incremental stream is received onto its origin's @final by name
    // where zfs can say so (its guid was checked before).
    let origin = manifest.origin.map(|o| format!("{root}/{o}@final"));
    let receive = zfs.receive_into(partial, origin.as_deref())?;
    feed(receive, &mut stream).map_err(|e| match e {
        Fed::Read(source) => read_error(source),
        Fed::Receive(source) => {
            let error = Zfs::error("receive", partial, source);
            if error.is_out_of_space() {
                InstallError::OutOfSpace { root: root.to_string(), source: error }
            } else {
                InstallError::Zfs(error)
            }
        }
    })?;
    zfs.set(partial, OWNER_PROPERTY, &journal.owner.to_property())?;

    let snapshots = zfs.snapshots(partial)?;
    match snapshots.as_slice() {
        [only] if only == "final" => {}
        [only] => zfs.rename(&format!("{partial}@{only}"), &format!("{partial}@final"))?,
        _ => {
            return Err(InstallError::UnexpectedSnapshots {
                dataset: partial.to_string(),
                count: snapshots.len(),
                names: snapshots.join(", "),
            })
        }
    }
    zfs.rename(partial, dataset)?;
    let record = ImageRecord { manifest: manifest.clone(), zpool: root.to_string(), source: opts.source.clone() };
    Ok(db.write(&record)?)
}

enum Fed {
    Read(io::Error),
    Receive(CommandError),
}

/// Copies `input` into the command's stdin and waits for it. If the command
/// stops reading (it failed), its own error is the one reported.
fn feed(mut receive: Running, input: &mut dyn Read) -> Result<(), Fed> {
    let mut stdin = receive.take_stdin();
    let mut buf = vec![0u8; 1 << 20];
    let copied = loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(Fed::Read(e)),
        };
        if stdin.write_all(&buf[..n]).is_err() {
            // The receiver exited; its status and stderr say why.
            break Ok(());
        }
    };
    drop(stdin);
    match copied {
        Ok(()) => receive.wait().map_err(Fed::Receive),
        Err(e) => {
            receive.kill();
            Err(e)
        }
    }
}
