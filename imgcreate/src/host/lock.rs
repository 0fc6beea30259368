//! Locks as `flock(2)` on files, which go with the process, also when it
//! is killed: imgadm's per-image import lock, `/var/run/img.<uuid>.import.lock`,
//! so two installs of one image (by buildy or by the platform's imgadm) wait
//! for each other instead of colliding; and buildy's mount lock.
//!
//! Waiting polls, so that a cancelled process (or an aborted undo) stops
//! waiting: a lock held by a hung process must not hang us too.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::exec::{CommandError, Exec};

/// Where imgadm keeps its lock files.
pub const DEFAULT_LOCK_DIR: &str = "/var/run";

/// On zfs-fuse, operations that mount or unmount (zfs create, clone,
/// destroy, rename, set, receive; bind mounts) take this lock first:
/// zfs-fuse can deadlock when two processes mount at once. The zfs
/// [`Dialect`](super::zfs::Dialect) decides whether it is needed; other
/// dialects never take it.
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
    /// `waiting` once if another process holds it, and then waiting until
    /// it is free or `exec` is stopped (an `Interrupted` error).
    pub fn acquire(exec: &Exec, path: PathBuf, waiting: impl FnOnce(&Path)) -> io::Result<FileLock> {
        let file = File::options().create(true).truncate(false).write(true).open(&path)?;
        if try_flock(&file)? {
            return Ok(FileLock { _file: file, path });
        }
        waiting(&path);
        loop {
            exec.sleep(Duration::from_millis(20))
                .map_err(|_| io::Error::new(io::ErrorKind::Interrupted, "interrupted while waiting for the lock"))?;
            if try_flock(&file)? {
                return Ok(FileLock { _file: file, path });
            }
        }
    }

    /// Takes the lock only if nobody holds it.
    pub fn try_acquire(path: PathBuf) -> io::Result<Option<FileLock>> {
        let file = File::options().create(true).truncate(false).write(true).open(&path)?;
        Ok(try_flock(&file)?.then_some(FileLock { _file: file, path }))
    }
}

/// Takes [`MOUNT_LOCK`]; a failure names it as a command would.
pub fn mount_lock(exec: &Exec) -> Result<FileLock, CommandError> {
    FileLock::acquire(exec, MOUNT_LOCK.into(), |_| {})
        .map_err(|io| CommandError::other(format!("flock {MOUNT_LOCK}"), io))
}

/// imgadm's import lock file of image `uuid`: `<dir>/img.<uuid>.import.lock`.
pub fn import_lock_path(dir: &Path, uuid: &str) -> PathBuf {
    dir.join(format!("img.{uuid}.import.lock"))
}

/// Takes imgadm's import lock of image `uuid`.
pub fn import_lock(exec: &Exec, dir: &Path, uuid: &str, waiting: impl FnOnce(&Path)) -> io::Result<FileLock> {
    FileLock::acquire(exec, import_lock_path(dir, uuid), waiting)
}

/// `flock(LOCK_EX | LOCK_NB)`: whether the lock was taken.
fn try_flock(file: &File) -> io::Result<bool> {
    loop {
        // SAFETY: flock on a file descriptor this function borrows.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => return Ok(false),
            _ => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_waits_until_the_first_lets_go() {
        let exec = Exec::default();
        let dir = std::env::temp_dir();
        let uuid = format!("lock-test-{}", std::process::id());
        let first = import_lock(&exec, &dir, &uuid, |_| panic!("nobody holds it yet")).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = {
            let (dir, uuid, exec) = (dir.clone(), uuid.clone(), exec.clone());
            std::thread::spawn(move || {
                let lock = import_lock(&exec, &dir, &uuid, |_| tx.send("waiting").unwrap()).unwrap();
                drop(lock);
                "acquired"
            })
        };
        assert_eq!(rx.recv().unwrap(), "waiting");
        assert!(FileLock::try_acquire(import_lock_path(&dir, &uuid)).unwrap().is_none());
        drop(first);
        assert_eq!(waiter.join().unwrap(), "acquired");
        std::fs::remove_file(import_lock_path(&dir, &uuid)).unwrap();
    }

    #[test]
    fn a_cancelled_waiter_stops_waiting() {
        let exec = Exec::default();
        let path = std::env::temp_dir().join(format!("buildy-lock-cancel-{}", std::process::id()));
        let _held = FileLock::acquire(&exec, path.clone(), |_| {}).unwrap();
        let other = Exec::default();
        let canceller = other.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || FileLock::acquire(&other, path, |_| tx.send(()).unwrap()));
        rx.recv().unwrap();
        canceller.cancel("SIGTERM");
        let err = waiter.join().unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Interrupted);
    }
}
