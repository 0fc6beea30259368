//! illumos: lofs mounts (`mount -F lofs -r`), `/etc/mnttab`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::host::exec::{CommandError, Exec};

pub const CHROOT_DEFAULTS: &[&str] = &["/dev", "/lib", "/proc", "/sbin", "/usr"];
pub const TABLE: &str = "/etc/mnttab";
pub const MOUNT: &str = "/usr/sbin/mount";
pub const UMOUNT: &str = "/usr/sbin/umount";

/// `mount -F lofs -r SOURCE TARGET`.
pub fn bind_read_only(exec: &Exec, source: &Path, target: &Path) -> Result<(), CommandError> {
    exec.output(Command::new(MOUNT).args(["-F", "lofs", "-r"]).arg(source).arg(target)).map(drop)
}

/// illumos has no lazy unmount (and lofs refuses a forced one).
pub fn detach(_exec: &Exec, _target: &Path) -> bool {
    false
}

/// The mount points of `/etc/mnttab` (mnttab(5)): special, mount point,
/// type, options, time, separated by tabs, with nothing escaped, so a mount
/// point may hold spaces (never a tab or newline).
pub fn mount_points(table: &str) -> Vec<PathBuf> {
    table.lines().filter_map(|l| l.split('\t').nth(1)).map(PathBuf::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_mnttab_gives_its_mount_points_as_written() {
        let table = include_str!("../../../../fixtures/platform/illumos/mnttab.txt");
        let points = mount_points(table);
        for expected in ["/", "/export", "/export/home", "/rpool", "/rpool/fs1"] {
            assert!(points.contains(&PathBuf::from(expected)), "{expected} in {points:?}");
        }
        // Tabs separate; a space or a backslash is part of the path.
        assert!(points.contains(&PathBuf::from("/zones/build 1/root/usr")), "{points:?}");
        assert!(points.contains(&PathBuf::from("/zones/build\\040x/root/dev")), "{points:?}");
        assert_eq!(points.len(), table.lines().count());
    }
}
