//! A build's journal: what it is about to create, written to disk before
//! it creates it, so that whatever happens to the process (SIGKILL, power
//! loss) `buildy cleanup` can find and remove exactly that, and nothing else.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic;
use crate::zfs::Owner;

/// `<work dir>/buildy-builds/<build id>.json`
pub fn journal_dir(work_dir: &Path) -> PathBuf {
    work_dir.join("buildy-builds")
}

/// What one build has (or is about to have) created.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    /// The zone analog's uuid, also the journal's name.
    pub build: String,
    pub owner: Option<Owner>,
    /// The zone analog dataset.
    pub dataset: Option<String>,
    /// Its mountpoint directory.
    pub mountpoint: Option<PathBuf>,
    /// Chroot mounts, in the order they were made.
    pub mounts: Vec<PathBuf>,
    /// Output files; their temporary names are `.<name>.buildy-partial-<pid>`.
    pub outputs: Vec<PathBuf>,
    #[serde(skip)]
    path: PathBuf,
}

impl Journal {
    pub fn new(work_dir: &Path, build: &str, owner: Owner) -> Journal {
        let path = journal_dir(work_dir).join(format!("{build}.json"));
        Journal { build: build.to_string(), owner: Some(owner), path, ..Journal::default() }
    }

    /// Reads a journal file.
    pub fn read(path: &Path) -> std::io::Result<Journal> {
        let text = std::fs::read_to_string(path)?;
        let mut journal: Journal = serde_json::from_str(&text).map_err(std::io::Error::other)?;
        journal.path = path.to_path_buf();
        Ok(journal)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the journal (atomically); call before creating what it names.
    pub fn save(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(self.path.parent().expect("journals live in a directory"))?;
        atomic::write_file(&self.path, serde_json::to_string_pretty(self).expect("serializes").as_bytes())
    }

    /// Deletes the journal: everything it named is gone.
    pub fn remove(&self) -> std::io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// The temporary names the outputs may have been left under.
    pub fn partial_outputs(&self) -> Vec<PathBuf> {
        let Some(pid) = self.owner.as_ref().map(|o| o.pid) else { return Vec::new() };
        self.outputs.iter().map(|out| atomic::temp_path(out, pid)).collect()
    }
}
