//! One module per subcommand.

pub mod build;
pub mod cleanup;
pub mod create;
pub mod inspect;
pub mod install;
pub mod pack;

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use imgcreate::host::exec::Exec;
use imgcreate::host::zfs::Zfs;
use imgcreate::image::db::ImageDb;
use imgcreate::image::journal::Journal;
use imgcreate::image::model::FileCompression;
use imgcreate::image::owner::Owner;
use imgcreate::pack::Progress;

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

impl ImageStore {
    pub fn zfs(&self, exec: &Exec) -> Zfs {
        Zfs::new(&self.zfs, exec)
    }
    pub fn db(&self) -> ImageDb {
        ImageDb::new(&self.db)
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

/// A one-line byte counter on a terminal's stderr (nothing otherwise).
pub struct ProgressPrinter {
    shown: bool,
    enabled: bool,
}

impl ProgressPrinter {
    pub fn show(&mut self, p: Progress) {
        if self.enabled {
            let mut err = std::io::stderr().lock();
            let line = format!("\r  {:>8.1} MB in  {:>8.1} MB out", p.bytes_in as f64 / 1e6, p.bytes_out as f64 / 1e6);
            let _ = err.write_all(line.as_bytes()).and_then(|()| err.flush());
            self.shown = true;
        }
    }
    pub fn finish(&mut self) {
        if self.shown {
            crate::output::warn("");
            self.shown = false;
        }
    }
}

pub fn progress_printer(wanted: bool) -> ProgressPrinter {
    ProgressPrinter { shown: false, enabled: wanted && std::io::stderr().is_terminal() }
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
