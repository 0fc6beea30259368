//! One module per subcommand.

pub mod build;
pub mod cleanup;
pub mod create;
pub mod inspect;
pub mod install;
pub mod pack;

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use imgcreate::command;
use imgcreate::db::ImageDb;
use imgcreate::pack::Progress;
use imgcreate::zfs::Zfs;
use imgmanifest::Compression;

use crate::Failure;

/// Where ZFS and imgadm's image database are.
#[derive(clap::Args)]
pub struct ImageStore {
    /// The zfs command.
    #[arg(long, env = "BUILDY_ZFS", default_value = imgcreate::zfs::DEFAULT_ZFS)]
    zfs: PathBuf,
    /// imgadm's database directory (image records are in its images/).
    #[arg(long, env = "BUILDY_DB", default_value = imgcreate::db::DEFAULT_DB_DIR)]
    db: PathBuf,
}

impl ImageStore {
    pub fn zfs(&self) -> Zfs {
        Zfs::new(&self.zfs)
    }
    pub fn db(&self) -> ImageDb {
        ImageDb::new(&self.db)
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
            eprint!("\r  {:>8.1} MB in  {:>8.1} MB out", p.bytes_in as f64 / 1e6, p.bytes_out as f64 / 1e6);
            let _ = std::io::stderr().flush();
            self.shown = true;
        }
    }
    pub fn finish(&mut self) {
        if self.shown {
            eprintln!();
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
pub fn parse_compression(s: &str) -> Result<Compression, String> {
    match Compression::from(s) {
        Compression::Unknown(_) => Err(format!("unknown compression \"{s}\" (use none, gzip, bzip2 or xz)")),
        c => Ok(c),
    }
}

static SIGNAL: OnceLock<&'static str> = OnceLock::new();

/// The signal that interrupted this process, if any.
pub fn signal_received() -> Option<&'static str> {
    SIGNAL.get().copied()
}

/// An error message, saying first if a signal caused it.
pub fn failure(usage: bool, message: String) -> crate::Failure {
    match signal_received() {
        Some(signal) => crate::Failure::Failed(format!("interrupted by {signal}: {message}")),
        None if usage => crate::Failure::Usage(message),
        None => crate::Failure::Failed(message),
    }
}

/// SIGINT, SIGTERM and SIGHUP stop the running commands (a build's, a
/// create's `zfs send`, an install's `zfs receive`) so the work in progress
/// fails and is undone; a second signal changes nothing (the undo must
/// finish).
pub fn catch_signals() {
    // SAFETY: plain sigset manipulation; the mask is set before any thread
    // that should inherit it starts, and std resets it for child processes.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        std::thread::spawn(move || loop {
            let mut sig: libc::c_int = 0;
            if libc::sigwait(&set, &mut sig) != 0 {
                continue;
            }
            let name = match sig {
                libc::SIGINT => "SIGINT",
                libc::SIGTERM => "SIGTERM",
                _ => "SIGHUP",
            };
            if SIGNAL.set(name).is_ok() {
                command::cancel_all();
            }
        });
    }
}
