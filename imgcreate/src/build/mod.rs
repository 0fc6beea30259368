//! The whole image build, as Triton's `buildimage` does it (facts:
//! shared/reference/buildimage.md), without its defects:
//!
//! ```text
//! checks ─▶ clone the base image's @final (zone analog, marked) ─▶ rsync the proto dir
//! ─▶ chroot mounts ─▶ pkgin update/full-upgrade, pkg_add, pkg_info, audit ─▶ remove pkgin db,
//! config/, motd ─▶ unmount ─▶ create the image (incremental, gzip) ─▶ destroy the analog
//! ```
//!
//! Everything the build creates is written to its journal first and the
//! analog carries `buildy:owner`. On any failure or interruption the build
//! undoes what it created, newest first (unmounts before the destroy), and
//! reports the error that started it. `cleanup` does the same for builds
//! that died without the chance.

pub mod cleanup;
pub mod journal;
mod pkgsrc;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use imgmanifest::{js, Compression};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::command::{self, CommandError};
use crate::create::{create, output_paths, suffixed, CreateError, CreateOptions};
use crate::db::ImageDb;
use crate::mount;
use crate::zfs::{Owner, Zfs, ZfsError, OWNER_PROPERTY};
use journal::Journal;

/// `-p`: pkgsrc package names and versions, comma separated (buildimage's pattern).
pub fn valid_packages(list: &str) -> bool {
    list.chars().all(|c| c.is_ascii_alphanumeric() || "-_.+,".contains(c))
}

/// A host directory mounted into the chroot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChrootMount {
    pub source: PathBuf,
    /// Where, inside the image's root (absolute, e.g. `/dev`).
    pub target: PathBuf,
}

impl ChrootMount {
    /// `SRC[:DST]`
    pub fn parse(text: &str) -> Option<ChrootMount> {
        let (source, target) = text.split_once(':').unwrap_or((text, text));
        (source.starts_with('/') && target.starts_with('/'))
            .then(|| ChrootMount { source: source.into(), target: target.into() })
    }

    /// The platform's default set: illumos zone images are sparse and take
    /// these from the host (read-only); Linux images carry their userland.
    pub fn defaults() -> Vec<ChrootMount> {
        let dirs: &[&str] =
            if cfg!(target_os = "illumos") { &["/dev", "/lib", "/proc", "/sbin", "/usr"] } else { &["/dev", "/proc"] };
        dirs.iter().map(|d| ChrootMount { source: d.into(), target: d.into() }).collect()
    }
}

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
    pub compression: Compression,
    /// `requirements.min_platform["7.0"]` unless the manifest has it:
    /// buildimage takes it from `uname -v` on SmartOS.
    pub platform_stamp: Option<String>,
}

/// One step and how long it took.
#[derive(Debug, Clone, Serialize)]
pub struct StepTime {
    pub step: &'static str,
    pub seconds: f64,
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
    #[error("{0}")]
    Usage(String),
    #[error("the base image {image} is not installed under {root}; install it first: buildy install --root {root} -m <image>.imgmanifest -f <image file>")]
    BaseNotInstalled { image: String, root: String },
    #[error("interrupted by {0}")]
    Interrupted(&'static str),
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
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{error}; undoing it also failed ({undo}); `buildy cleanup` will finish the job")]
    Undo { error: Box<BuildError>, undo: String },
}

impl BuildError {
    pub fn is_usage(&self) -> bool {
        match self {
            BuildError::Usage(_) | BuildError::BaseNotInstalled { .. } => true,
            BuildError::Create(e) => e.is_usage(),
            BuildError::Undo { error, .. } => error.is_usage(),
            _ => false,
        }
    }
}

fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BuildError {
    let what = what.into();
    move |source| BuildError::Io { what, source }
}

/// Which signal interrupted the build, if any; set by the caller's signal
/// handling, which also calls [`command::cancel_all`].
pub type Interruption = fn() -> Option<&'static str>;

/// Runs the build. `log` gets each progress line; `interrupted` is polled
/// between steps.
pub fn build(
    zfs: &Zfs,
    db: &ImageDb,
    opts: &BuildOptions,
    log: &mut dyn FnMut(&str),
    interrupted: Interruption,
) -> Result<Built, BuildError> {
    let base = check_inputs(zfs, db, opts)?;
    let uuid = uuid::Uuid::new_v4().to_string();
    let owner = Owner::this_process("build");
    let mut run = Run {
        zfs,
        opts,
        log,
        interrupted,
        journal: Journal::new(&opts.work_dir, &uuid, owner.clone()),
        owner,
        base,
        steps: Vec::new(),
        analog: format!("{}/{uuid}", opts.root),
        mountpoint: opts.work_dir.join(format!("zoneproto-{}-{}", std::process::id(), &uuid[..8])),
        created_dirs: Vec::new(),
        outputs: Vec::new(),
    };
    let (name, version) = (js::text(opts.manifest.get("name")), js::text(opts.manifest.get("version")));
    (run.log)(&format!("Starting build for {name} ({version})"));
    match run.steps(db) {
        Ok(built) => Ok(built),
        Err(error) => {
            (run.log)(&format!("Undoing what the build created, after: {error}"));
            command::resume();
            match run.undo() {
                Ok(()) => Err(error),
                Err(undo) => Err(BuildError::Undo { error: Box::new(error), undo }),
            }
        }
    }
}

/// Everything that can be checked before anything is created. Returns the
/// base image's manifest.
fn check_inputs(zfs: &Zfs, db: &ImageDb, opts: &BuildOptions) -> Result<Map<String, Value>, BuildError> {
    let usage = |s: String| Err(BuildError::Usage(s));
    for field in ["name", "version"] {
        if !opts.manifest.contains_key(field) {
            return usage(format!("the manifest data must include \"{field}\""));
        }
    }
    if !opts.proto_dir.is_dir() {
        return usage(format!("the proto directory {} is not a directory", opts.proto_dir.display()));
    }
    if !imgmanifest::validate::is_uuid(&opts.image) {
        return usage(format!("the base image \"{}\" is not a uuid", opts.image));
    }
    if !zfs.exists(&opts.root)? {
        return usage(format!("the dataset root {} does not exist (give it with --root)", opts.root));
    }
    if !opts.output_dir.is_dir() {
        return usage(format!("the output directory {} does not exist", opts.output_dir.display()));
    }
    let not_installed = || BuildError::BaseNotInstalled { image: opts.image.clone(), root: opts.root.clone() };
    if !zfs.exists(&format!("{}/{}@final", opts.root, opts.image))? {
        return Err(not_installed());
    }
    match db.read(&opts.root, &opts.image) {
        Ok(Some(record)) => Ok(record.manifest),
        Ok(None) => Err(not_installed()),
        Err(e) => Err(BuildError::Usage(e.to_string())),
    }
}

/// A build in progress and what it has created so far.
struct Run<'a> {
    zfs: &'a Zfs,
    opts: &'a BuildOptions,
    log: &'a mut dyn FnMut(&str),
    interrupted: Interruption,
    journal: Journal,
    owner: Owner,
    /// The base image's manifest.
    base: Map<String, Value>,
    steps: Vec<StepTime>,
    analog: String,
    mountpoint: PathBuf,
    /// Mount targets this build had to create, removed after unmounting.
    created_dirs: Vec<PathBuf>,
    /// Finished output files, removed if a later step fails.
    outputs: Vec<PathBuf>,
}

impl Run<'_> {
    fn steps(&mut self, db: &ImageDb) -> Result<Built, BuildError> {
        self.step("clone", Run::clone_analog)?;
        self.step("copy", Run::copy_proto)?;
        self.step("mount", Run::mount_chroot)?;
        let packages = self.step("packages", |run| pkgsrc::run(run))?;
        self.step("clean", Run::clean_up_root)?;
        self.step("unmount", Run::unmount_chroot)?;
        let (created, audit) = self.step("create", |run| run.create_image(db, packages.audit_report.clone()))?;
        self.step("destroy", Run::destroy_analog)?;
        self.journal.remove().map_err(io_error("removing the build journal"))?;
        Ok(Built {
            manifest: created.manifest,
            manifest_path: created.manifest_path,
            file: created.file.path,
            pkgaudit: audit,
            packages: packages.installed,
            steps: std::mem::take(&mut self.steps),
        })
    }

    /// Runs one step, timed and logged; stops first if interrupted.
    fn step<T>(
        &mut self,
        name: &'static str,
        f: impl FnOnce(&mut Self) -> Result<T, BuildError>,
    ) -> Result<T, BuildError> {
        if let Some(signal) = (self.interrupted)() {
            return Err(BuildError::Interrupted(signal));
        }
        let start = Instant::now();
        let result = f(self);
        if let Some(signal) = (self.interrupted)() {
            return Err(BuildError::Interrupted(signal));
        }
        let seconds = start.elapsed().as_secs_f64();
        self.steps.push(StepTime { step: name, seconds });
        (self.log)(&format!("step {name}: {seconds:.3} s"));
        result
    }

    fn save_journal(&self) -> Result<(), BuildError> {
        self.journal.save().map_err(io_error(format!("writing the build journal {}", self.journal.path().display())))
    }

    fn clone_analog(&mut self) -> Result<(), BuildError> {
        (self.log)(&format!("Creating zone analog ({})", self.analog));
        self.journal.dataset = Some(self.analog.clone());
        self.journal.mountpoint = Some(self.mountpoint.clone());
        self.save_journal()?;
        let snapshot = format!("{}/{}@final", self.opts.root, self.opts.image);
        let mountpoint = self.mountpoint.display().to_string();
        let owner = self.owner.to_property();
        self.zfs.clone_snapshot(&snapshot, &self.analog, &[("mountpoint", &mountpoint), (OWNER_PROPERTY, &owner)])?;
        (self.log)(&format!("Created {}, and mounted on {}", self.analog, self.mountpoint.display()));
        Ok(())
    }

    fn root(&self) -> PathBuf {
        self.mountpoint.join("root")
    }

    fn copy_proto(&mut self) -> Result<(), BuildError> {
        (self.log)(&format!("Copying files from {} to {}", self.opts.proto_dir.display(), self.mountpoint.display()));
        let mut source = self.opts.proto_dir.clone().into_os_string();
        source.push("/");
        let mut target = self.root().into_os_string();
        target.push("/");
        let mut cmd = Command::new("rsync");
        cmd.arg(if self.opts.verbose { "-vaP" } else { "-a" }).arg(source).arg(target);
        let log = &mut *self.log;
        command::run_logged(&mut cmd, |line| log(&format!("  {line}")))
            .map_err(|source| BuildError::Command { step: "copying the proto directory", source })
    }

    fn mount_chroot(&mut self) -> Result<(), BuildError> {
        let root = self.root();
        for m in &self.opts.chroot_mounts {
            let target = inside(&root, &m.target)?;
            if target.symlink_metadata().is_ok_and(|t| t.file_type().is_symlink()) {
                let shown = target.display();
                return Err(BuildError::Usage(format!("{shown} in the image is a symlink; refusing to mount onto it")));
            }
            if !target.exists() {
                std::fs::create_dir_all(&target).map_err(io_error(format!("creating {}", target.display())))?;
                self.created_dirs.push(target.clone());
            }
            self.journal.mounts.push(target.clone());
            self.save_journal()?;
            mount::bind(&m.source, &target, cfg!(target_os = "illumos"))
                .map_err(|source| BuildError::Command { step: "mounting into the chroot", source })?;
            (self.log)(&format!("Mounted {} on {}", m.source.display(), target.display()));
        }
        Ok(())
    }

    fn clean_up_root(&mut self) -> Result<(), BuildError> {
        let root = self.root();
        (self.log)("cleaning up pkgin files...");
        remove_inside(&root, "var/db/pkgin")?;
        (self.log)("removing zoneroot config dir ...");
        remove_inside(&self.mountpoint, "config")?;
        if self.opts.motd {
            (self.log)("writing motd...");
            let text = self.motd();
            let etc = inside(&root, Path::new("/etc"))?;
            std::fs::create_dir_all(&etc).map_err(io_error("creating etc/ for the motd"))?;
            let motd = inside(&root, Path::new("/etc/motd"))?;
            if motd.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
                std::fs::remove_file(&motd).map_err(io_error("replacing the etc/motd symlink"))?;
            }
            std::fs::write(&motd, text).map_err(io_error("writing etc/motd"))?;
        }
        Ok(())
    }

    /// buildimage's motd, with the Triton banner of the reference (the
    /// source repo line only when there is one: buildimage printed
    /// "undefined").
    fn motd(&self) -> String {
        let (m, base) = (&self.opts.manifest, &self.base);
        let mut motd =
            format!(" =  T R I T O N  =\n\n    {} ({})\n", js::text(m.get("name")), js::text(m.get("version")));
        if let Some(repo) = &self.opts.source_repo {
            motd.push_str(&format!("    {repo}\n"));
        }
        motd.push_str(&format!("    {}@{}\n\n", js::text(base.get("name")), js::text(base.get("version"))));
        motd
    }

    fn unmount_chroot(&mut self) -> Result<(), BuildError> {
        while let Some(target) = self.journal.mounts.last().cloned() {
            mount::unmount(&target).map_err(|source| BuildError::Command { step: "unmounting the chroot", source })?;
            (self.log)(&format!("Umounted {}", target.display()));
            self.journal.mounts.pop();
            self.save_journal()?;
        }
        for dir in self.created_dirs.drain(..).rev() {
            let _ = std::fs::remove_dir(dir);
        }
        Ok(())
    }

    fn create_image(
        &mut self,
        db: &ImageDb,
        audit: Option<String>,
    ) -> Result<(crate::create::Created, Option<PathBuf>), BuildError> {
        let opts = self.opts;
        let version = js::text(opts.manifest.get("version"));
        let prefix = opts.output_dir.join(format!("{}-{version}", opts.prefix));
        let is_zvol = js::text(self.base.get("type")) == "zvol";
        let (file, manifest_path) = output_paths(&prefix, is_zvol, &opts.compression);
        let audit_path = audit.as_ref().map(|_| suffixed(&prefix, ".pkgaudit"));
        self.journal.outputs = [Some(file), Some(manifest_path), audit_path.clone()].into_iter().flatten().collect();
        self.save_journal()?;
        if let (Some(path), Some(report)) = (&audit_path, &audit) {
            crate::atomic::write_file(path, report.as_bytes())
                .map_err(io_error(format!("writing {}", path.display())))?;
            self.outputs.push(path.clone());
        }
        let create_opts = CreateOptions {
            dataset: self.analog.clone(),
            manifest: buildimage_manifest(opts),
            output_template: Some(prefix),
            compression: opts.compression.clone(),
            incremental: true,
            max_origin_depth: None,
            root: Some(opts.root.clone()),
            brand: None,
            platform: None,
            level: None,
            threads: None,
        };
        let log = &mut *self.log;
        let created = create(self.zfs, db, &create_opts, |line| log(line), |_| {})?;
        self.outputs.push(created.file.path.clone());
        self.outputs.push(created.manifest_path.clone());
        Ok((created, audit_path))
    }

    fn destroy_analog(&mut self) -> Result<(), BuildError> {
        self.zfs.destroy(&self.analog, false)?;
        (self.log)(&format!("Destroyed {}", self.analog));
        self.journal.dataset = None;
        self.save_journal()?;
        std::fs::remove_dir(&self.mountpoint).map_err(io_error(format!("removing {}", self.mountpoint.display())))?;
        (self.log)(&format!("Deleted {}", self.mountpoint.display()));
        self.journal.mountpoint = None;
        self.save_journal()
    }

    /// Undoes what the journal says exists, newest first. Returns what could
    /// not be undone (the journal then stays, for `buildy cleanup`).
    fn undo(&mut self) -> Result<(), String> {
        let mut failures = Vec::new();
        for target in self.journal.mounts.clone().iter().rev() {
            if mount::is_mounted(target) {
                if let Err(e) = mount::unmount(target) {
                    failures.push(e.to_string());
                }
            }
        }
        if failures.is_empty() {
            self.journal.mounts.clear();
        }
        for path in self.outputs.drain(..) {
            let _ = std::fs::remove_file(path);
        }
        if let Some(dataset) = self.journal.dataset.clone() {
            match cleanup::destroy_if_ours(self.zfs, &dataset, &self.owner) {
                Ok(_) => self.journal.dataset = None,
                Err(e) => failures.push(e.to_string()),
            }
        }
        if let Some(mountpoint) = self.journal.mountpoint.clone() {
            if self.journal.dataset.is_none() && (!mountpoint.exists() || std::fs::remove_dir(&mountpoint).is_ok()) {
                self.journal.mountpoint = None;
            }
        }
        if failures.is_empty() && self.journal.mountpoint.is_none() {
            let _ = self.journal.remove();
            Ok(())
        } else {
            let _ = self.journal.save();
            Err(failures.join("; "))
        }
    }
}

/// buildimage's additions to the manifest data, in its order: `owner`,
/// `tags`, `requirements.min_platform["7.0"]`, `published_at`.
fn buildimage_manifest(opts: &BuildOptions) -> Map<String, Value> {
    let mut m = opts.manifest.clone();
    m.entry("owner").or_insert_with(|| Value::String("00000000-0000-0000-0000-000000000000".into()));
    m.entry("tags").or_insert_with(|| Value::Object(Map::new()));
    if let Some(stamp) = &opts.platform_stamp {
        let requirements = m.entry("requirements").or_insert_with(|| Value::Object(Map::new()));
        if let Some(r) = requirements.as_object_mut() {
            let min = r.entry("min_platform").or_insert_with(|| Value::Object(Map::new()));
            if let Some(min) = min.as_object_mut() {
                min.entry("7.0").or_insert_with(|| Value::String(stamp.clone()));
            }
        }
    }
    m.entry("published_at").or_insert_with(|| Value::String(imgmanifest::published_at_now()));
    m
}

/// `rel` (absolute inside the chroot) under `root`, refusing any path whose
/// existing components include a symlink: a symlink in an image must never
/// send a write or a delete onto the host.
fn inside(root: &Path, rel: &Path) -> Result<PathBuf, BuildError> {
    let parts: Vec<_> = rel.components().filter(|c| *c != std::path::Component::RootDir).collect();
    let mut path = root.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        let std::path::Component::Normal(name) = part else {
            return Err(BuildError::Usage(format!("{} is not a plain path inside the image", rel.display())));
        };
        path.push(name);
        let is_last = i + 1 == parts.len();
        if !is_last && path.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(BuildError::Usage(format!(
                "{} in the image is a symlink; refusing to follow it",
                path.display()
            )));
        }
    }
    Ok(path)
}

/// `rm -rf <root>/<rel>` without following symlinks out of the image.
fn remove_inside(root: &Path, rel: &str) -> Result<(), BuildError> {
    let path = inside(root, Path::new(rel))?;
    match path.symlink_metadata() {
        Err(_) => Ok(()),
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(&path).map_err(io_error(format!("removing {}", path.display()))),
        Ok(_) => std::fs::remove_file(&path).map_err(io_error(format!("removing {}", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn chroot_mounts_parse_absolute_pairs_only(src in "/[a-z/]{0,12}", dst in "/[a-z/]{0,12}", rel in "[a-z][a-z/]{0,8}") {
            prop_assert_eq!(ChrootMount::parse(&src), Some(ChrootMount { source: src.clone().into(), target: src.clone().into() }));
            let both = ChrootMount::parse(&format!("{src}:{dst}"));
            prop_assert_eq!(both, Some(ChrootMount { source: src.clone().into(), target: dst.into() }));
            prop_assert_eq!(ChrootMount::parse(&rel), None);
            prop_assert_eq!(ChrootMount::parse(&format!("{src}:{rel}")), None);
        }

        #[test]
        fn package_lists_never_pass_shell_or_path_characters(list in ".{0,30}") {
            let bad = list.chars().any(|c| !(c.is_ascii_alphanumeric() || "-_.+,".contains(c)));
            prop_assert_eq!(valid_packages(&list), !bad);
        }
    }

    #[test]
    fn paths_inside_the_image_never_follow_its_symlinks() {
        let dir = std::env::temp_dir().join(format!("buildy-inside-{}", std::process::id()));
        let root = dir.join("root");
        std::fs::create_dir_all(root.join("var")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
        assert_eq!(inside(&root, Path::new("/var/db")).unwrap(), root.join("var/db"));
        // The last component may be a symlink (it is replaced, not followed) ...
        assert_eq!(inside(&root, Path::new("/etc")).unwrap(), root.join("etc"));
        // ... but never one on the way.
        let err = inside(&root, Path::new("/etc/motd")).unwrap_err();
        assert!(err.to_string().contains("is a symlink; refusing to follow it"), "{err}");
        assert!(inside(&root, Path::new("/var/../../x")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
