//! Locks as `flock(2)` on files, which go with the process, also when it
//! is killed: imgadm's per-image import lock, `/var/run/img.<uuid>.import.lock`,
//! so two installs of one image (by buildy or by the platform's imgadm) wait
//! for each other instead of colliding; and buildy's mount lock.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::command::CommandError;

/// Where imgadm keeps its lock files.
pub const DEFAULT_LOCK_DIR: &str = "/var/run";

/// Operations that mount or unmount (zfs create, clone, destroy, rename,
/// set; bind mounts) take this lock first: zfs-fuse can deadlock when two
/// processes mount at once (seen on Debian 12's 0.7.0: two concurrent
/// `zfs create -o mountpoint=...` hung a third of the time, never once
/// serialized). Harmless elsewhere: these operations are short.
pub const MOUNT_LOCK: &str = "/var/run/buildy-zfs-mount.lock";

/// A held `flock(2)` lock on a file; released when dropped (or when the
/// process dies).
#[derive(Debug)]
pub struct FileLock {
    _file: File,
    pub path: PathBuf,
}

impl FileLock {
    /// Takes the exclusive lock on `path` (created if missing), calling
    /// `waiting` once if another process holds it, and then waiting.
    pub fn acquire(path: PathBuf, waiting: impl FnOnce(&Path)) -> io::Result<FileLock> {
        let file = File::options().create(true).truncate(false).write(true).open(&path)?;
        if flock(&file, libc::LOCK_EX | libc::LOCK_NB).is_err() {
            waiting(&path);
            flock(&file, libc::LOCK_EX)?;
        }
        Ok(FileLock { _file: file, path })
    }
}

/// Takes [`MOUNT_LOCK`]; a failure names it as a command would.
pub fn mount_lock() -> Result<FileLock, CommandError> {
    FileLock::acquire(MOUNT_LOCK.into(), |_| {}).map_err(|io| CommandError {
        command_line: format!("flock {MOUNT_LOCK}"),
        status: None,
        stderr: String::new(),
        io: Some(io),
    })
}

/// imgadm's import lock of image `uuid`: `<dir>/img.<uuid>.import.lock`.
pub fn import_lock(dir: &Path, uuid: &str, waiting: impl FnOnce(&Path)) -> io::Result<FileLock> {
    FileLock::acquire(dir.join(format!("img.{uuid}.import.lock")), waiting)
}

fn flock(file: &File, op: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: flock on a file descriptor this function borrows.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_waits_until_the_first_lets_go() {
        let dir = std::env::temp_dir();
        let uuid = format!("lock-test-{}", std::process::id());
        let first = import_lock(&dir, &uuid, |_| panic!("nobody holds it yet")).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = {
            let dir = dir.clone();
            let uuid = uuid.clone();
            std::thread::spawn(move || {
                let lock = import_lock(&dir, &uuid, |_| tx.send("waiting").unwrap()).unwrap();
                drop(lock);
                "acquired"
            })
        };
        assert_eq!(rx.recv().unwrap(), "waiting");
        drop(first);
        assert_eq!(waiter.join().unwrap(), "acquired");
        std::fs::remove_file(dir.join(format!("img.{uuid}.import.lock"))).unwrap();
    }
}
