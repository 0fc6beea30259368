//! Mounting host directories into a chroot (read-only), unmounting, and
//! reading the mount table. What differs per OS is in `mount/linux.rs`
//! (bind mounts, `/proc/self/mounts`) and `mount/illumos.rs` (lofs,
//! `/etc/mnttab`); both are compiled everywhere so that their parsers are
//! tested everywhere, and one is chosen here.

#[cfg_attr(not(target_os = "illumos"), allow(dead_code))]
mod illumos;
#[cfg_attr(target_os = "illumos", allow(dead_code))]
mod linux;

#[cfg(target_os = "illumos")]
use illumos as os;
#[cfg(not(target_os = "illumos"))]
use linux as os;

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::exec::CommandError;
use super::zfs::Zfs;

/// The host directories a chroot gets by default: illumos zone images are
/// sparse and take `/lib`, `/sbin`, `/usr` from the host too; Linux images
/// carry their userland.
pub const CHROOT_DEFAULTS: &[&str] = os::CHROOT_DEFAULTS;

/// Mounts `source` on `target` (which must exist), read-only: a bind mount
/// made read-only on Linux, `mount -F lofs -r` on illumos. Under the mount
/// lock where `zfs`'s dialect needs it (zfs-fuse).
pub fn bind(zfs: &Zfs, source: &Path, target: &Path) -> Result<(), CommandError> {
    let _lock = zfs.mount_lock()?;
    os::bind_read_only(zfs.exec(), source, target)
}

/// Unmounts `target`, retrying while it is busy (the mount lock, where
/// needed, held for each attempt only); on Linux a mount still busy after
/// that is detached lazily (it is gone from the tree at once).
pub fn unmount(zfs: &Zfs, target: &Path) -> Result<(), CommandError> {
    let exec = zfs.exec();
    let mut last = None;
    for attempt in 0..5 {
        let lock = zfs.mount_lock()?;
        let result = exec.output(Command::new(os::UMOUNT).arg(target));
        drop(lock);
        match result {
            Ok(_) => return Ok(()),
            // Someone else unmounted it meanwhile.
            Err(_) if matches!(is_mounted(target), Ok(false)) => return Ok(()),
            Err(e) => last = Some(e),
        }
        if exec.sleep(Duration::from_millis(200 << attempt)).is_err() {
            break;
        }
    }
    let _lock = zfs.mount_lock()?;
    if os::detach(exec, target) {
        return Ok(());
    }
    Err(last.expect("an attempt failed"))
}

/// Mount points at or below `dir`, deepest first (the order to unmount in).
/// A table that cannot be read is an error, never "nothing mounted".
pub fn mounts_under(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let table = std::fs::read_to_string(os::TABLE)
        .map_err(|e| io::Error::new(e.kind(), format!("reading the mount table {}: {e}", os::TABLE)))?;
    let mut found: Vec<PathBuf> = os::mount_points(&table).into_iter().filter(|p| p.starts_with(dir)).collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    Ok(found)
}

pub fn is_mounted(path: &Path) -> io::Result<bool> {
    Ok(mounts_under(path)?.iter().any(|p| p == path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_is_mounted_and_listed_under_root() {
        assert!(is_mounted(Path::new("/proc")).unwrap());
        assert!(mounts_under(Path::new("/")).unwrap().contains(&PathBuf::from("/proc")));
        assert!(!is_mounted(Path::new("/proc/nonexistent")).unwrap());
    }
}
