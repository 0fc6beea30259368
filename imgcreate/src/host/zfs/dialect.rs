//! Which `zfs` this is, and what follows from it. Detected once per run
//! (see [`super::Zfs::dialect`]) from `uname -s`, `zfs version` and
//! `zfs upgrade -v`; every zfs-fuse workaround is decided here, nowhere else.
//!
//! | | zfs-fuse 0.7 | OpenZFS | illumos |
//! |---|---|---|---|
//! | mount lock around mounting commands | yes (it deadlocks on concurrent mounts) | no | no |
//! | `receive -u` (do not mount what is received) | no | yes | yes |
//! | `list -p` (exact numbers) | no | yes | yes |
//! | `receive -o origin=` | no | yes | yes |
//! | `zfs version` | "unrecognized command" | `zfs-2.1.11-1` | none |
//! | highest filesystem version (`upgrade -v`) | 4 | 5 | 5 |

use std::path::Path;
use std::process::Command;

use crate::host::exec::Exec;

/// The implementations of `zfs` that buildy knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dialect {
    /// Debian's zfs-fuse (pool version 23): the development and CI machines.
    ZfsFuse,
    /// OpenZFS on Linux or FreeBSD, with its `zfs version` userland line
    /// (`None` before 0.8, which had no `zfs version`).
    OpenZfs { version: Option<String> },
    /// illumos (SmartOS, OmniOS, ...).
    Illumos,
}

impl Dialect {
    /// Asks the machine (`uname -s`) and the command (`zfs version`, `zfs
    /// upgrade -v`). Commands that fail count as no answer; with no answer
    /// at all this is zfs-fuse, whose rules are the cautious ones.
    pub fn detect(exec: &Exec, zfs: &Path) -> Dialect {
        let answer = |cmd: &mut Command| {
            exec.output(cmd.env("LC_ALL", "C")).ok().map(|out| String::from_utf8_lossy(&out).into_owned())
        };
        let uname = answer(Command::new("uname").arg("-s"));
        let version = answer(Command::new(zfs).arg("version"));
        let upgrade = answer(Command::new(zfs).args(["upgrade", "-v"]));
        Dialect::from_answers(uname.as_deref(), version.as_deref(), upgrade.as_deref())
    }

    /// The dialect from the answers of `uname -s`, `zfs version` and `zfs
    /// upgrade -v` (`None`: the command failed).
    pub fn from_answers(uname: Option<&str>, version: Option<&str>, upgrade: Option<&str>) -> Dialect {
        if uname.is_some_and(|u| u.trim() == "SunOS") {
            return Dialect::Illumos;
        }
        // `zfs-2.1.11-1` then `zfs-kmod-2.1.11-1`.
        let userland = version.and_then(|v| v.lines().map(str::trim).find(|l| l.starts_with("zfs-")));
        if let Some(line) = userland {
            return Dialect::OpenZfs { version: Some(line.to_string()) };
        }
        // No `zfs version`: zfs-fuse stops at filesystem version 4 (userquota),
        // OpenZFS before 0.8 has 5 (system attributes).
        if upgrade.and_then(highest_filesystem_version).is_some_and(|v| v >= 5) {
            return Dialect::OpenZfs { version: None };
        }
        Dialect::ZfsFuse
    }

    /// Whether mounting commands (create, clone, rename, destroy, set,
    /// receive, bind mounts) must hold buildy's mount lock: zfs-fuse can
    /// deadlock when two processes mount at once (seen on Debian 12's 0.7.0:
    /// two concurrent `zfs create -o mountpoint=...` hung a third of the
    /// time, never once serialized).
    pub fn needs_mount_lock(&self) -> bool {
        *self == Dialect::ZfsFuse
    }

    /// Whether `zfs receive -u` (leave the received file system unmounted)
    /// exists.
    pub fn receives_unmounted(&self) -> bool {
        *self != Dialect::ZfsFuse
    }

    /// Whether `zfs list -p` (exact numbers) exists.
    pub fn lists_exact(&self) -> bool {
        *self != Dialect::ZfsFuse
    }

    /// Whether `zfs receive -o origin=SNAPSHOT` exists.
    pub fn receives_with_origin(&self) -> bool {
        *self != Dialect::ZfsFuse
    }
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dialect::ZfsFuse => write!(f, "zfs-fuse"),
            Dialect::OpenZfs { version: Some(v) } => write!(f, "OpenZFS ({v})"),
            Dialect::OpenZfs { version: None } => write!(f, "OpenZFS"),
            Dialect::Illumos => write!(f, "illumos ZFS"),
        }
    }
}

/// The highest number in the VER column of `zfs upgrade -v`.
fn highest_filesystem_version(text: &str) -> Option<u32> {
    text.lines().filter_map(|l| l.split_whitespace().next()?.parse::<u32>().ok()).max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/platform").join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn zfs_fuse_is_told_by_its_missing_version_command_and_filesystem_version_4() {
        let upgrade = fixture("zfs-fuse/upgrade-v.txt");
        assert_eq!(highest_filesystem_version(&upgrade), Some(4));
        // `zfs version` fails there (its usage text is in version.txt).
        assert!(fixture("zfs-fuse/version.txt").starts_with("unrecognized command 'version'"));
        let dialect = Dialect::from_answers(Some("Linux\n"), None, Some(&upgrade));
        assert_eq!(dialect, Dialect::ZfsFuse);
        assert!(dialect.needs_mount_lock() && !dialect.receives_unmounted() && !dialect.lists_exact());
        assert!(!dialect.receives_with_origin());
    }

    #[test]
    fn openzfs_is_told_by_zfs_version() {
        let dialect = Dialect::from_answers(Some("Linux\n"), Some(&fixture("openzfs/version.txt")), None);
        assert_eq!(dialect, Dialect::OpenZfs { version: Some("zfs-2.1.11-1".into()) });
        assert_eq!(dialect.to_string(), "OpenZFS (zfs-2.1.11-1)");
        assert!(!dialect.needs_mount_lock() && dialect.receives_unmounted() && dialect.lists_exact());
        // Before 0.8 there was no `zfs version`, but filesystem version 5.
        let old = Dialect::from_answers(Some("Linux"), None, Some(&fixture("openzfs/upgrade-v.txt")));
        assert_eq!(old, Dialect::OpenZfs { version: None });
    }

    #[test]
    fn illumos_is_told_by_uname() {
        let dialect = Dialect::from_answers(Some(&fixture("illumos/uname-s.txt")), None, None);
        assert_eq!(dialect, Dialect::Illumos);
        assert!(!dialect.needs_mount_lock() && dialect.receives_unmounted() && dialect.receives_with_origin());
    }

    #[test]
    fn no_answers_at_all_mean_the_cautious_rules() {
        assert_eq!(Dialect::from_answers(None, None, None), Dialect::ZfsFuse);
        let exec = Exec::default();
        assert_eq!(Dialect::detect(&exec, Path::new("/nonexistent/zfs")), Dialect::ZfsFuse);
    }
}
