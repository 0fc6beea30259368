//! One module per subcommand.

pub mod build;
pub mod cache;
pub mod cleanup;
pub mod create;
pub mod import;
pub mod inspect;
pub mod install;
pub mod list;
pub mod pack;
pub mod publish;
pub mod sources;

use std::io::Read;
use std::path::{Path, PathBuf};

use imgcreate::host::exec::Exec;
use imgcreate::host::zfs::Zfs;
use imgcreate::image::db::ImageDb;
use imgcreate::image::journal::Journal;
use imgcreate::image::model::{FileCompression, ImageManifest};
use imgcreate::image::owner::Owner;

pub use crate::progress::{progress_printer, DownloadProgress};
use crate::Failure;

/// Where ZFS and imgadm's image database are.
#[derive(clap::Args)]
pub struct ImageStore {
    /// The zfs command.
    #[arg(long, env = "BUILDY_ZFS", default_value = imgcreate::host::zfs::DEFAULT_ZFS)]
    zfs: PathBuf,
    /// imgadm's database directory (image records are in its images/).
    #[arg(long, env = "BUILDY_DB", default_value = imgcreate::image::db::DEFAULT_DB_DIR)]
    db: PathBuf,
}

/// An image on disk: its manifest and its file.
#[derive(clap::Args)]
pub struct ImageFiles {
    /// The image's manifest.
    #[arg(short = 'm', long)]
    pub manifest: PathBuf,
    /// The image file.
    #[arg(short = 'f', long)]
    pub file: PathBuf,
}

impl ImageFiles {
    /// The manifest, read and checked as an install checks it, before any
    /// lock, dataset, record or request; a refusal is a usage error that
    /// ends with `; nothing was <done>`.
    pub fn checked_manifest(&self, done: &str) -> Result<ImageManifest, Failure> {
        let json = read_json(&self.manifest, "manifest")?;
        imgcreate::image::install::checked_manifest(&json)
            .map_err(|e| Failure::Usage(format!("{e}; nothing was {done}")))
    }
}

impl ImageStore {
    pub fn zfs(&self, exec: &Exec) -> Zfs {
        Zfs::new(&self.zfs, exec)
    }
    pub fn db(&self) -> ImageDb {
        ImageDb::new(&self.db)
    }
    pub fn db_dir(&self) -> &Path {
        &self.db
    }
}

/// Where runs keep their journals (in its `buildy-builds/`), for `buildy
/// cleanup` to find what a killed run left.
#[derive(clap::Args)]
pub struct WorkDir {
    /// Where journals are kept (and a build's zone analog is mounted).
    #[arg(long = "work-dir", env = "BUILDY_WORK_DIR", default_value = "/var/tmp")]
    pub work_dir: PathBuf,
}

impl WorkDir {
    /// A journal for this process's run `id`, for `purpose`.
    pub fn journal(&self, exec: &Exec, purpose: &str, id: &str) -> Journal {
        Journal::new(&self.work_dir, id, Owner::this_process(exec, purpose))
    }
}

/// Reads a JSON file (`-`: standard input); `what` names it in errors.
pub fn read_json(path: &Path, what: &str) -> Result<serde_json::Value, Failure> {
    let mut text = String::new();
    let read = if path.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text))
    };
    read.map_err(|e| Failure::Usage(format!("cannot read the {what} {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| Failure::Usage(format!("the {what} in {} is not JSON: {e}", path.display())))
}

/// Parses a size: bytes, or with K, M, G or T (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, shift) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(format!("\"{s}\" is not a size (give bytes, or e.g. 500M, 20G)")),
            };
            (&t[..i], shift)
        }
        _ => (t, 0),
    };
    let n: u64 = digits.parse().map_err(|_| format!("\"{s}\" is not a size (give bytes, or e.g. 500M, 20G)"))?;
    n.checked_mul(1u64 << shift).ok_or_else(|| format!("\"{s}\" is too large"))
}

/// Parses `none|gzip|bzip2|xz`.
pub fn parse_compression(s: &str) -> Result<FileCompression, String> {
    FileCompression::from_manifest(&imgmanifest::Compression::from(s))
        .ok_or_else(|| format!("unknown compression \"{s}\" (use none, gzip, bzip2 or xz)"))
}

/// An error message, saying first if a signal (or a closed output)
/// caused it.
pub fn failure(exec: &Exec, usage: bool, message: String) -> Failure {
    match exec.cancelled() {
        Some(reason) if !message.starts_with("interrupted by") => {
            Failure::Failed(format!("interrupted by {reason}: {message}"))
        }
        Some(_) => Failure::Failed(message),
        None if usage => Failure::Usage(message),
        None => Failure::Failed(message),
    }
}

/// The sources to import from: `-S` URLs (replacing the configured ones),
/// else imgadm.conf's; `-C` on each.
pub fn import_sources(
    db: &Path,
    urls: &[String],
    channel: Option<&str>,
) -> Result<Vec<imgcreate::source::Source>, Failure> {
    use imgcreate::source::{sources::Config, Source};
    let usage = |e: &dyn std::fmt::Display| Failure::Usage(e.to_string());
    let sources = if urls.is_empty() {
        let (sources, warnings) = Config::read(db).map_err(|e| usage(&e))?.sources();
        for w in warnings {
            crate::output::warn(format!("buildy: {w}"));
        }
        sources
    } else {
        urls.iter().map(|u| Source::parse(u, false)).collect::<Result<_, _>>().map_err(|e| usage(&e))?
    };
    Ok(sources.into_iter().map(|s| s.with_channel(channel)).collect())
}

/// Client timeouts, with `BUILDY_HTTP_TIMEOUT` (seconds a read may wait)
/// for slow links and for tests.
pub fn client_options() -> imgcreate::source::imgapi::ClientOptions {
    let mut options = imgcreate::source::imgapi::ClientOptions::default();
    if let Some(secs) = std::env::var("BUILDY_HTTP_TIMEOUT").ok().and_then(|s| s.parse::<f64>().ok()) {
        options.read_timeout = std::time::Duration::from_secs_f64(secs.max(0.1));
    }
    options
}
