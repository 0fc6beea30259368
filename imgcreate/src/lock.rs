//! imgadm's per-image import lock, `/var/run/img.<uuid>.import.lock`: an
//! exclusive `flock(2)` on that file, so two installs of one image (by
//! buildy or by the platform's imgadm) wait for each other instead of
//! colliding. The lock goes with the process, also when it is killed.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Where imgadm keeps its lock files.
pub const DEFAULT_LOCK_DIR: &str = "/var/run";

/// A held import lock; released when dropped.
#[derive(Debug)]
pub struct ImportLock {
    _file: File,
    pub path: PathBuf,
}

impl ImportLock {
    /// Takes the lock of image `uuid`, calling `waiting` once if another
    /// process holds it (and then waiting for it).
    pub fn acquire(dir: &Path, uuid: &str, waiting: impl FnOnce(&Path)) -> io::Result<ImportLock> {
        let path = dir.join(format!("img.{uuid}.import.lock"));
        let file = File::options().create(true).truncate(false).write(true).open(&path)?;
        if flock(&file, libc::LOCK_EX | libc::LOCK_NB).is_err() {
            waiting(&path);
            flock(&file, libc::LOCK_EX)?;
        }
        Ok(ImportLock { _file: file, path })
    }
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
        let first = ImportLock::acquire(&dir, &uuid, |_| panic!("nobody holds it yet")).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = {
            let dir = dir.clone();
            let uuid = uuid.clone();
            std::thread::spawn(move || {
                let lock = ImportLock::acquire(&dir, &uuid, |_| tx.send("waiting").unwrap()).unwrap();
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
