//! The whole image build, as Triton's `buildimage` does it (its behaviour:
//! the project's README, "buildy"), without its defects:
//!
//! ```text
//! checks ─▶ clone the base image's @final (zone analog, marked) ─▶ rsync the proto dir
//! ─▶ chroot mounts ─▶ pkgin update/full-upgrade, pkg_add, pkg_info, audit ─▶ remove pkgin db,
//! config/ ─▶ motd ─▶ unmount ─▶ create the image (incremental) ─▶ destroy the analog
//! ─▶ outputs renamed into place
//! ```
//!
//! The build is a list of [`Step`]s (one file each, in `steps/`). The
//! runner walks them; each records what it creates in the build's journal
//! before creating it. On an error, a signal, a closed log or a panic in a
//! step, the runner undoes what the journal names, newest first (unmounts
//! before the destroy), and reports the error that started it. `buildy
//! cleanup` does the same for builds that were killed outright.

pub mod cache;
mod inside;
pub mod step;
pub mod steps;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::host::exec::{CommandError, Exec, Fault};
use crate::host::zfs::{Zfs, ZfsError};
use crate::image::create::{CreateError, Staged};
use crate::image::db::{DbError, ImageDb};
use crate::image::journal::{Journal, Resource};
use crate::image::model::{self, FileCompression, ImageManifest, ImageUuid, ModelError};
use crate::image::owner::Owner;
use crate::image::undo::{Leftovers, Undoer};
use crate::source::imgapi::ClientOptions;
use crate::source::import::ImportError;
use crate::source::Source;
pub use step::Step;
pub use steps::mount::ChrootMount;
pub use steps::packages::{valid_packages, Found as Packages};

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// `-i`: the base image, installed under `root`.
    pub image: String,
    /// `-d`: copied into the image's `root/`.
    pub proto_dir: PathBuf,
    /// `-m`: manifest data with at least name and version.
    pub manifest: Map<String, Value>,
    pub packages: Vec<String>,
    pub upgrade_first: bool,
    pub audit: bool,
    pub motd: bool,
    pub source_repo: Option<String>,
    /// `-P`: outputs are `<output_dir>/<prefix>-<version>.*`.
    pub prefix: String,
    pub verbose: bool,
    pub root: String,
    pub output_dir: PathBuf,
    /// Mountpoints and journals go here.
    pub work_dir: PathBuf,
    pub chroot_mounts: Vec<ChrootMount>,
    pub compression: FileCompression,
    /// `requirements.min_platform["7.0"]` unless the manifest has it:
    /// buildimage takes it from `uname -v` on SmartOS.
    pub platform_stamp: Option<String>,
    /// Where a base image that is not installed is imported from (none:
    /// it must be installed).
    pub sources: Vec<Source>,
    pub client: ClientOptions,
    /// imgadm's import locks.
    pub lock_dir: PathBuf,
    pub cache: cache::CacheOptions,
}

/// One step and how long it took.
#[derive(Debug, Clone, Serialize)]
pub struct StepTime {
    pub step: &'static str,
    pub seconds: f64,
    #[serde(flatten)]
    pub cache: cache::StepCache,
}

/// A finished build.
#[derive(Debug, Clone, Serialize)]
pub struct Built {
    pub manifest: Map<String, Value>,
    pub manifest_path: PathBuf,
    pub file: PathBuf,
    pub pkgaudit: Option<PathBuf>,
    pub packages: Vec<String>,
    pub steps: Vec<StepTime>,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the manifest data must include \"{0}\"")]
    MissingField(&'static str),
    #[error("{0}; give it as its JSON type")]
    Model(#[from] ModelError),
    #[error("the proto directory {} is not a directory", .0.display())]
    ProtoNotADirectory(PathBuf),
    #[error("the base image \"{0}\" is not a uuid")]
    NotAUuid(String),
    #[error("the dataset root {0} does not exist (give it with --root)")]
    NoRoot(String),
    #[error("the output directory {} does not exist", .0.display())]
    NoOutputDir(PathBuf),
    #[error("the base image {image} is not installed under {root}; install it first: buildy install --root {root} -m <image>.imgmanifest -f <image file>")]
    BaseNotInstalled { image: ImageUuid, root: String },
    #[error("{} in the image is a symlink; refusing to {doing}", path.display())]
    SymlinkInImage { path: PathBuf, doing: &'static str },
    #[error("{} is not a plain path inside the image", .0.display())]
    NotAPlainPath(PathBuf),
    #[error("the base image {0} has no pkgsrc ({path} is missing), so -u, -p and -a cannot be used", path = steps::packages::PKG_INFO)]
    NoPkgsrc(ImageUuid),
    #[error("the base image {image} is not installed under {root}, and importing it failed: {source}")]
    Import {
        image: ImageUuid,
        root: String,
        #[source]
        source: Box<ImportError>,
    },
    #[error("interrupted by {0}")]
    Interrupted(String),
    #[error("a build step panicked: {0}")]
    Panicked(String),
    #[error("{step} failed: {source}")]
    Command {
        step: &'static str,
        #[source]
        source: CommandError,
    },
    #[error(transparent)]
    Zfs(#[from] ZfsError),
    #[error(transparent)]
    Create(#[from] CreateError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("--cache-strict: the {layer} layer is not cached ({changed})")]
    CacheStrict { layer: &'static str, changed: String },
    #[error("publishing a cache layer failed: {0}")]
    CachePublish(String),
    #[error("{error}; undoing it also failed ({left}); `buildy cleanup` will finish the job")]
    Undo { error: Box<BuildError>, left: Leftovers },
}

impl BuildError {
    /// Errors in what the user asked for (exit status 2), not in doing it.
    pub fn is_usage(&self) -> bool {
        match self {
            BuildError::MissingField(_)
            | BuildError::Model(_)
            | BuildError::ProtoNotADirectory(_)
            | BuildError::NotAUuid(_)
            | BuildError::NoRoot(_)
            | BuildError::NoOutputDir(_)
            | BuildError::BaseNotInstalled { .. }
            | BuildError::SymlinkInImage { .. }
            | BuildError::NotAPlainPath(_)
            | BuildError::NoPkgsrc(_) => true,
            BuildError::Create(e) => e.is_usage(),
            BuildError::Import { source, .. } => source.is_usage(),
            BuildError::Undo { error, .. } => error.is_usage(),
            _ => false,
        }
    }
}

pub(crate) fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BuildError {
    let what = what.into();
    move |source| BuildError::Io { what, source }
}

/// A build in progress: what the steps share.
pub struct Build<'a> {
    pub zfs: &'a Zfs,
    pub db: &'a ImageDb,
    pub opts: &'a BuildOptions,
    log: &'a dyn Fn(&str),
    journal: Journal,
    /// The base image.
    pub base: ImageManifest,
    /// The zone analog: `<root>/<build id>`.
    pub analog: String,
    pub mountpoint: PathBuf,
    /// Chroot mounts made, in order.
    pub mounts: Vec<PathBuf>,
    /// Mount targets the build had to make, removed after unmounting.
    pub made_dirs: Vec<PathBuf>,
    pub packages: Packages,
    /// The image, made by the create step, put in place last.
    pub staged: Option<Staged>,
    steps: Vec<StepTime>,
    /// The proto tree's digest (the copy step's input), once hashed.
    pub proto_digest: String,
    /// What the cache did for the steps now running.
    step_cache: cache::StepCache,
}

impl Build<'_> {
    pub fn log(&self, line: &str) {
        (self.log)(line)
    }

    pub fn exec(&self) -> &Exec {
        self.zfs.exec()
    }

    /// The image's root directory, in the analog.
    pub fn root(&self) -> PathBuf {
        self.mountpoint.join("root")
    }

    pub fn journal_mut(&mut self) -> &mut Journal {
        &mut self.journal
    }

    /// Adds `seconds` to the report's line for `step`.
    pub fn record_time(&mut self, step: &'static str, seconds: f64, cache: cache::StepCache) {
        match self.steps.last_mut() {
            Some(last) if last.step == step && last.cache == cache => last.seconds += seconds,
            _ => self.steps.push(StepTime { step, seconds, cache }),
        }
    }

    /// Records `resource` in the journal; call before creating it.
    pub fn create(&mut self, resource: Resource) -> Result<(), BuildError> {
        let path = self.journal.path().display().to_string();
        self.journal.record(resource).map_err(io_error(format!("writing the build journal {path}")))
    }

    /// Forgets `resource`: the step removed it again.
    pub fn forget(&mut self, resource: &Resource) -> Result<(), BuildError> {
        let path = self.journal.path().display().to_string();
        self.journal.forget(resource).map_err(io_error(format!("writing the build journal {path}")))
    }
}

/// Runs the build. `log` gets each progress line. Cancellation (signals, a
/// closed log) comes through the executor of `zfs`.
pub fn build(zfs: &Zfs, db: &ImageDb, opts: &BuildOptions, log: &dyn Fn(&str)) -> Result<Built, BuildError> {
    let (image, installed) = check_inputs(zfs, db, opts)?;
    let id = ImageUuid::new_v4().to_string();
    let owner = Owner::this_process(zfs.exec(), "build");
    let mut journal = Journal::new(&opts.work_dir, &id, owner);
    let mut times = Vec::new();
    let base = match installed {
        Some(base) => base,
        None => {
            let start = Instant::now();
            let imported =
                catch_unwind(AssertUnwindSafe(|| steps::import::import_base(zfs, db, &mut journal, opts, image, log)))
                    .unwrap_or_else(|panic| Err(BuildError::Panicked(crate::panic_message(panic.as_ref()))));
            let base = match imported {
                Ok(base) => base,
                Err(error) => return Err(undo(zfs, &mut journal, error)),
            };
            let seconds = start.elapsed().as_secs_f64();
            log(&format!("step {}: {seconds:.3} s", steps::import::NAME));
            times.push(StepTime { step: steps::import::NAME, seconds, cache: cache::StepCache::off() });
            base
        }
    };
    let mut build = Build {
        zfs,
        db,
        opts,
        log,
        journal,
        base,
        analog: format!("{}/{id}", opts.root),
        mountpoint: opts.work_dir.join(format!("zoneproto-{}-{}", std::process::id(), &id[..8])),
        mounts: Vec::new(),
        made_dirs: Vec::new(),
        packages: Packages::default(),
        staged: None,
        steps: times,
        proto_digest: String::new(),
        step_cache: cache::StepCache::off(),
    };
    build.log(&format!(
        "Starting build for {} ({})",
        js_text(&opts.manifest, "name"),
        js_text(&opts.manifest, "version")
    ));
    // A panic in a step is an error like any other: the undo must run.
    let result = catch_unwind(AssertUnwindSafe(|| run_steps(&mut build)))
        .unwrap_or_else(|panic| Err(BuildError::Panicked(crate::panic_message(panic.as_ref()))));
    match result {
        Ok(built) => Ok(built),
        Err(error) => {
            build.log(&format!("Undoing what the build created, after: {error}"));
            // The staged files are removed with their TempFiles; the journal
            // knows the rest.
            drop(build.staged.take());
            Err(undo(zfs, &mut build.journal, error))
        }
    }
}

/// Undoes what `journal` names; the error to report.
fn undo(zfs: &Zfs, journal: &mut Journal, error: BuildError) -> BuildError {
    let undo = zfs.for_undo();
    let mut undoer = Undoer::new(&undo, false);
    if undoer.journal(journal, true) {
        error
    } else {
        BuildError::Undo { error: Box::new(error), left: Leftovers(undoer.report.failures) }
    }
}

fn js_text(m: &Map<String, Value>, key: &str) -> String {
    imgmanifest::js::text(m.get(key))
}

/// The steps, then the outputs put in place: the image is complete, and
/// the journal empty, exactly when the manifest is in place.
fn run_steps(build: &mut Build) -> Result<Built, BuildError> {
    cache::run_layers(build)?;
    for step in steps::finalize(build.opts) {
        run_step(build, step.as_ref())?;
    }
    let staged = build.staged.take().expect("the create step staged the image");
    let exec = build.zfs.exec().clone();
    let created = staged.commit(&exec, &mut build.journal)?;
    if let Some(reason) = exec.cancelled() {
        // Too late to undo a complete image: say it was finished.
        build.log(&format!("Finished the image before {reason} stopped the build"));
    }
    build.journal.remove().map_err(io_error("removing the build journal"))?;
    cache::prune::after_build(build);
    Ok(Built {
        manifest: created.manifest.into_json(),
        manifest_path: created.manifest_path,
        file: created.file.path,
        pkgaudit: created.extra.into_iter().next(),
        packages: std::mem::take(&mut build.packages.installed),
        steps: std::mem::take(&mut build.steps),
    })
}

/// Runs one step, timed and logged; stops first if the build was cancelled.
pub(crate) fn run_step(build: &mut Build, step: &dyn Step) -> Result<(), BuildError> {
    let stopped = |build: &Build| build.exec().cancelled().map(BuildError::Interrupted);
    if let Some(error) = stopped(build) {
        return Err(error);
    }
    if build.exec().fault() == Some(&Fault::PanicIn(step.name().to_string())) {
        panic!("injected by BUILDY_FAULT in step {}", step.name());
    }
    let start = Instant::now();
    let result = step.run(build);
    // A step that failed because the build was cancelled says why.
    if let Some(error) = stopped(build) {
        return Err(error);
    }
    result?;
    build.exec().checkpoint();
    let seconds = start.elapsed().as_secs_f64();
    let cache = build.step_cache.clone();
    build.record_time(step.reported_as(), seconds, cache);
    build.log(&format!("step {}: {seconds:.3} s", step.name()));
    Ok(())
}

/// Everything that can be checked before anything is created. Returns the
/// base image and, if it is installed, its manifest.
fn check_inputs(
    zfs: &Zfs,
    db: &ImageDb,
    opts: &BuildOptions,
) -> Result<(ImageUuid, Option<ImageManifest>), BuildError> {
    for field in ["name", "version"] {
        if !opts.manifest.contains_key(field) {
            return Err(BuildError::MissingField(field));
        }
    }
    model::check_fields(&opts.manifest)?;
    if !opts.proto_dir.is_dir() {
        return Err(BuildError::ProtoNotADirectory(opts.proto_dir.clone()));
    }
    let image: ImageUuid = opts.image.parse().map_err(|_| BuildError::NotAUuid(opts.image.clone()))?;
    if !zfs.exists(&opts.root)? {
        return Err(BuildError::NoRoot(opts.root.clone()));
    }
    if !opts.output_dir.is_dir() {
        return Err(BuildError::NoOutputDir(opts.output_dir.clone()));
    }
    let record = match zfs.exists(&format!("{}/{image}@final", opts.root))? {
        true => db.read(&opts.root, &image)?,
        false => None,
    };
    match record {
        Some(record) => Ok((image, Some(record.manifest))),
        None if !opts.sources.is_empty() => Ok((image, None)),
        None => Err(BuildError::BaseNotInstalled { image, root: opts.root.clone() }),
    }
}
