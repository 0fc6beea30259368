//! Importing an image with its whole origin chain, as `imgadm import`:
//!
//! ```text
//! installed? ─▶ ask the sources in order (first hit wins; it must be active)
//! ─▶ walk the origins on that source ─▶ drop those installed ─▶ import locks, top first
//! ─▶ downloads in parallel (size, sha1, Content-MD5 checked) ─▶ installs base first
//! ```
//!
//! Each install is `image::install` (the whole stream checked before
//! anything is renamed into place, the record written last, with
//! `"source"`). Downloads are journalled before they are created and always
//! removed, so neither a failure nor a SIGKILL leaves a file behind.

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::imgapi::download::{download, DownloadError};
use super::imgapi::{Client, ClientError, ClientOptions};
use super::Source;
use crate::host::lock::FileLock;
use crate::host::zfs::{Zfs, ZfsError};
use crate::image::db::ImageDb;
use crate::image::install::CheckedFile;
use crate::image::install::{self, checked_manifest, InstallError, InstallOptions, Installed};
use crate::image::journal::{Journal, Resource};
use crate::image::model::{ImageManifest, ImageUuid};
use crate::image::undo::Undoer;

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub root: String,
    pub lock_dir: PathBuf,
    /// Downloads go to `<work_dir>/buildy-downloads/`.
    pub work_dir: PathBuf,
    /// Asked in order.
    pub sources: Vec<Source>,
    pub client: ClientOptions,
    /// Images downloaded at once (imgadm: 5).
    pub parallel: usize,
}

/// One image of the chain, installed by this import.
#[derive(Debug, Clone)]
pub struct ImportedImage {
    pub uuid: ImageUuid,
    pub name: String,
    pub version: String,
    pub dataset: String,
    pub source: String,
}

/// What an import did: the images it installed, base first, and those of
/// the chain that were installed already.
#[derive(Debug, Clone, Default)]
pub struct Imported {
    pub installed: Vec<ImportedImage>,
    pub already_installed: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("image {uuid} was found in no source (asked {})", sources.join(", "))]
    NotFound { uuid: ImageUuid, sources: Vec<String> },
    #[error("image {uuid} was found in no source, and some could not be asked: {}", errors.join("; "))]
    Unreachable { uuid: ImageUuid, errors: Vec<String> },
    #[error("the manifest of image {uuid} from {url} cannot be used: {why}")]
    BadManifest { uuid: ImageUuid, url: String, why: String },
    #[error("image {uuid} on {url} is not active (its state is {state})")]
    NotActive { uuid: ImageUuid, url: String, state: String },
    #[error("the origin image {origin} of {uuid} is not on {url}")]
    OriginMissing { origin: ImageUuid, uuid: ImageUuid, url: String },
    #[error("asking {url} for the origin image {origin}: {source}")]
    Origin {
        origin: ImageUuid,
        url: String,
        #[source]
        source: ClientError,
    },
    #[error(transparent)]
    Download(#[from] DownloadError),
    #[error("installing image {uuid}: {source}")]
    Install {
        uuid: ImageUuid,
        #[source]
        source: InstallError,
    },
    #[error(transparent)]
    Zfs(#[from] ZfsError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("interrupted")]
    Cancelled,
}

impl ImportError {
    /// Errors in what was asked for or what the servers answered about it
    /// (exit status 2): nothing was downloaded.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            ImportError::NotFound { .. }
                | ImportError::Unreachable { .. }
                | ImportError::BadManifest { .. }
                | ImportError::NotActive { .. }
                | ImportError::OriginMissing { .. }
        )
    }
}

/// A download's progress: the image, bytes done, bytes in all.
pub type Progress = Arc<dyn Fn(&ImageUuid, u64, u64) + Send + Sync>;

/// Imports image `uuid` and the origins it needs. What it creates is
/// recorded in `journal` first.
pub fn import(
    zfs: &Zfs,
    db: &ImageDb,
    journal: &mut Journal,
    uuid: ImageUuid,
    opts: &ImportOptions,
    log: &dyn Fn(&str),
    progress: Progress,
) -> Result<Imported, ImportError> {
    let installed = |u: &ImageUuid| zfs.exists(&format!("{}/{u}", opts.root));
    if installed(&uuid)? {
        return Ok(Imported { installed: Vec::new(), already_installed: vec![format!("{}/{uuid}", opts.root)] });
    }
    let (client, top) = find(zfs, uuid, opts)?;
    let url = client.source().url.clone();
    // The chain, top first, down to the first installed origin.
    let mut chain = vec![top];
    let mut already_installed = Vec::new();
    while let Some(origin) = chain.last().and_then(|m| m.origin) {
        if installed(&origin)? {
            already_installed.push(format!("{}/{origin}", opts.root));
            break;
        }
        let child = chain.last().map(|m| m.uuid).expect("the chain has its top");
        let value = client
            .get_image(&origin.to_string())
            .map_err(|source| ImportError::Origin { origin, url: url.clone(), source })?
            .ok_or_else(|| ImportError::OriginMissing { origin, uuid: child, url: url.clone() })?;
        chain.push(strict(&value, origin, &url)?);
    }
    // imgadm's order: the locks top first; then what got installed while
    // this process waited is dropped.
    let install_opts =
        InstallOptions { root: opts.root.clone(), lock_dir: opts.lock_dir.clone(), source: Some(url.clone()) };
    let mut locks: Vec<FileLock> = Vec::new();
    for m in &chain {
        locks.push(
            install::import_lock(zfs, &install_opts, m.uuid, log)
                .map_err(|source| ImportError::Install { uuid: m.uuid, source })?,
        );
    }
    let mut todo = Vec::new();
    for m in chain.into_iter().rev() {
        if installed(&m.uuid)? {
            already_installed.push(format!("{}/{}", opts.root, m.uuid));
        } else {
            todo.push(m);
        }
    }
    let result = download_and_install(zfs, db, journal, &client, todo, opts, &install_opts, log, progress);
    drop(locks);
    result.map(|installed| Imported { installed, already_installed })
}

/// The first source that has `uuid`, with its strict manifest.
fn find(zfs: &Zfs, uuid: ImageUuid, opts: &ImportOptions) -> Result<(Client, ImageManifest), ImportError> {
    let mut errors = Vec::new();
    for source in &opts.sources {
        let client = Client::new(zfs.exec(), source, None, opts.client.clone());
        match client.get_image(&uuid.to_string()) {
            Ok(Some(value)) => {
                let manifest = strict(&value, uuid, &source.url)?;
                let state = value.get("state").and_then(Value::as_str).unwrap_or("active");
                if state != "active" {
                    return Err(ImportError::NotActive { uuid, url: source.url.clone(), state: state.to_string() });
                }
                return Ok((client, manifest));
            }
            Ok(None) => {}
            Err(ClientError::Cancelled) => return Err(ImportError::Cancelled),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if errors.is_empty() {
        Err(ImportError::NotFound { uuid, sources: opts.sources.iter().map(|s| s.url.clone()).collect() })
    } else {
        Err(ImportError::Unreachable { uuid, errors })
    }
}

/// A server's manifest, upgraded, validated and made strict; it must be
/// the image asked for.
fn strict(value: &Value, uuid: ImageUuid, url: &str) -> Result<ImageManifest, ImportError> {
    let bad = |why: String| ImportError::BadManifest { uuid, url: url.to_string(), why };
    // `channels` says where the server shows the image, not what it is (and
    // is valid only against that server's channel list): not kept.
    let mut value = value.clone();
    if let Some(m) = value.as_object_mut() {
        m.shift_remove("channels");
    }
    let manifest = checked_manifest(&value).map_err(|e| bad(e.to_string()))?;
    if manifest.uuid != uuid {
        return Err(bad(format!("it is the manifest of {}", manifest.uuid)));
    }
    Ok(manifest)
}

/// Downloads `todo` (base first) in parallel and installs each as soon as
/// it and its origin are there.
#[allow(clippy::too_many_arguments)]
fn download_and_install(
    zfs: &Zfs,
    db: &ImageDb,
    journal: &mut Journal,
    client: &Client,
    todo: Vec<ImageManifest>,
    opts: &ImportOptions,
    install_opts: &InstallOptions,
    log: &dyn Fn(&str),
    progress: Progress,
) -> Result<Vec<ImportedImage>, ImportError> {
    let dir = opts.work_dir.join("buildy-downloads");
    std::fs::create_dir_all(&dir)
        .map_err(|source| ImportError::Io { what: format!("creating {}", dir.display()), source })?;
    // Every download file is journalled and created here, so that nothing a
    // worker does can outlive an undo.
    let mut jobs = Vec::new();
    for m in &todo {
        let path = dir.join(format!("{}.file-{}", m.uuid, std::process::id()));
        let io = |what: &str| {
            let what = format!("{what} {}", path.display());
            move |source| ImportError::Io { what, source }
        };
        journal.record(Resource::TempFile { path: path.clone() }).map_err(io("journalling"))?;
        let file = std::fs::File::create(&path).map_err(io("creating"))?;
        jobs.push((m.clone(), path, file));
    }
    let paths: Vec<PathBuf> = jobs.iter().map(|(_, p, _)| p.clone()).collect();
    let result = run(zfs, db, journal, client, jobs, opts, install_opts, log, progress);
    // The downloads go whatever happened.
    let undo = zfs.for_undo();
    let mut undoer = Undoer::new(&undo, false);
    for path in paths {
        undoer.one(journal, &Resource::TempFile { path }, true);
    }
    result
}

type Job = (ImageManifest, PathBuf, std::fs::File);

#[allow(clippy::too_many_arguments)]
fn run(
    zfs: &Zfs,
    db: &ImageDb,
    journal: &mut Journal,
    client: &Client,
    jobs: Vec<Job>,
    opts: &ImportOptions,
    install_opts: &InstallOptions,
    log: &dyn Fn(&str),
    progress: Progress,
) -> Result<Vec<ImportedImage>, ImportError> {
    // Workers take jobs in order (base first); each job answers on its own
    // channel, so installs can go base first as soon as each is ready.
    let queue: Arc<Mutex<Vec<(usize, Job)>>> = Arc::new(Mutex::new(jobs.into_iter().enumerate().rev().collect()));
    let mut answers = Vec::new();
    let mut senders = Vec::new();
    let count = queue.lock().expect("fresh").len();
    for _ in 0..count {
        let (tx, rx) = mpsc::channel::<(ImageManifest, Result<CheckedFile, ImportError>)>();
        senders.push(tx);
        answers.push(rx);
    }
    let senders = Arc::new(senders);
    for _ in 0..opts.parallel.clamp(1, count.max(1)) {
        let (queue, senders, client, progress) = (queue.clone(), senders.clone(), client.clone(), progress.clone());
        // Detached: a worker stuck in a read (until its timeout) must not
        // hold up an interrupted import.
        std::thread::spawn(move || loop {
            let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let Some((i, (m, path, mut file))) = next else { break };
            let entry = m.file.clone().expect("checked_manifest requires files[0]");
            let uuid = m.uuid;
            let total = entry.size;
            let report = |done| progress(&uuid, done, total);
            // Downloaded and checked here, beside the installs of the images
            // before it.
            let result = download(&client, &uuid.to_string(), &entry, &mut file, &path, &report)
                .map_err(ImportError::from)
                .and_then(|()| install::check_file(&path, &m).map_err(|source| ImportError::Install { uuid, source }));
            if senders[i].send((m, result)).is_err() {
                break;
            }
        });
    }
    let mut installed = Vec::new();
    for rx in answers {
        let (m, checked) = wait(zfs, &rx).ok_or(ImportError::Cancelled)?;
        let checked = checked?;
        let (uuid, name, version) = (m.uuid, m.name.clone(), m.version.clone());
        log(&format!("Installing image {uuid} ({name}@{version})"));
        let done = install::install_checked(zfs, db, journal, m, checked, install_opts, log)
            .map_err(|source| ImportError::Install { uuid, source })?;
        let dataset = match done {
            Installed::Installed { dataset, .. } | Installed::AlreadyInstalled { dataset } => dataset,
        };
        installed.push(ImportedImage { uuid, name, version, dataset, source: client.source().url.clone() });
    }
    Ok(installed)
}

/// The next answer, or `None` if the import was cancelled meanwhile.
fn wait<T>(zfs: &Zfs, rx: &mpsc::Receiver<T>) -> Option<T> {
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(answer) => return Some(answer),
            Err(mpsc::RecvTimeoutError::Timeout) if !zfs.exec().is_stopped() => {}
            Err(_) => return None,
        }
    }
}
