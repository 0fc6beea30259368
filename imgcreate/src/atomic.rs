//! Files that appear complete or not at all: written under a temporary name
//! beside the target (same directory, so the rename is atomic), synced, and
//! renamed into place. Dropped unfinished, the temporary file is removed.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A file's identity (device and inode), which a rename keeps: tells the
/// file a run wrote from another one at the same path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    /// The identity of the file at `path` (not following a symlink).
    pub fn of(path: &Path) -> Option<FileId> {
        let m = std::fs::symlink_metadata(path).ok()?;
        Some(FileId { dev: m.dev(), ino: m.ino() })
    }
}

/// Where process `pid` writes `target` until it is complete:
/// `.<name>.buildy-partial-<pid>` beside it. Cleanup recognizes a dead
/// process's leftovers by this name.
pub fn temp_path(target: &Path, pid: u32) -> PathBuf {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let dir = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    dir.join(format!(".{name}.buildy-partial-{pid}"))
}

/// The pid in a [`temp_path`] name, if `path` is one.
pub fn temp_owner(path: &Path) -> Option<u32> {
    let name = path.file_name()?.to_str()?;
    let (_, pid) = name.strip_prefix('.')?.rsplit_once(".buildy-partial-")?;
    pid.parse().ok()
}

/// A file being written beside its final path, removed unless persisted.
pub struct TempFile {
    path: PathBuf,
    target: PathBuf,
    pub file: File,
    persisted: bool,
}

impl TempFile {
    /// Creates [`temp_path`] of `target` for this process.
    pub fn create(target: &Path) -> io::Result<TempFile> {
        let path = temp_path(target, std::process::id());
        let file = File::options().write(true).create_new(true).open(&path)?;
        Ok(TempFile { path, target: target.to_path_buf(), file, persisted: false })
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Where it is being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the file into place (the caller has synced it).
    pub fn persist(mut self) -> io::Result<PathBuf> {
        std::fs::rename(&self.path, &self.target)?;
        self.persisted = true;
        Ok(self.target.clone())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Writes `bytes` to `target` atomically and durably.
pub fn write_file(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut temp = TempFile::create(target)?;
    temp.file.write_all(bytes)?;
    temp.file.sync_all()?;
    temp.persist()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfinished_files_leave_nothing_and_finished_ones_replace_the_target() {
        let dir = std::env::temp_dir().join(format!("buildy-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("out.json");
        {
            let mut temp = TempFile::create(&target).unwrap();
            temp.file.write_all(b"half").unwrap();
        }
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        write_file(&target, b"old").unwrap();
        write_file(&target, b"new").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        assert_eq!(temp_owner(&temp_path(&target, 42)), Some(42));
        assert_eq!(temp_owner(&target), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
