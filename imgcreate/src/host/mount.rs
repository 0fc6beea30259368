//! Mounting host directories into a chroot: `mount --bind` on Linux,
//! `mount -F lofs` on illumos; unmounting; and reading the mount table
//! (`/proc/mounts`, `/etc/mnttab`), which both list the mount point second.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::exec::{CommandError, Exec};
use super::lock::mount_lock;

#[cfg(target_os = "illumos")]
const MOUNT: &str = "/usr/sbin/mount";
#[cfg(target_os = "illumos")]
const UMOUNT: &str = "/usr/sbin/umount";
#[cfg(not(target_os = "illumos"))]
const MOUNT: &str = "/bin/mount";
#[cfg(not(target_os = "illumos"))]
const UMOUNT: &str = "/bin/umount";

#[cfg(target_os = "illumos")]
const MOUNT_TABLE: &str = "/etc/mnttab";
#[cfg(not(target_os = "illumos"))]
const MOUNT_TABLE: &str = "/proc/mounts";

/// Mounts `source` on `target` (which must exist): a bind mount on Linux,
/// lofs on illumos; read-only if asked.
pub fn bind(exec: &Exec, source: &Path, target: &Path, read_only: bool) -> Result<(), CommandError> {
    let _lock = mount_lock(exec)?;
    let mut cmd = Command::new(MOUNT);
    if cfg!(target_os = "illumos") {
        cmd.args(["-F", "lofs"]);
        if read_only {
            cmd.arg("-r");
        }
        cmd.arg(source).arg(target);
        return exec.output(&mut cmd).map(drop);
    }
    cmd.arg("--bind").arg(source).arg(target);
    exec.output(&mut cmd)?;
    if read_only {
        let remount = exec.output(Command::new(MOUNT).args(["-o", "remount,ro,bind"]).arg(target));
        if let Err(e) = remount {
            let _ = exec.output(Command::new(UMOUNT).arg(target));
            return Err(e);
        }
    }
    Ok(())
}

/// Unmounts `target`, retrying while it is busy; on Linux a mount still
/// busy after that is detached lazily (it is gone from the tree at once).
pub fn unmount(exec: &Exec, target: &Path) -> Result<(), CommandError> {
    let _lock = mount_lock(exec)?;
    let mut last = None;
    for attempt in 0..5 {
        match exec.output(Command::new(UMOUNT).arg(target)) {
            Ok(_) => return Ok(()),
            // Someone else unmounted it meanwhile.
            Err(_) if !is_mounted(target) => return Ok(()),
            Err(e) => last = Some(e),
        }
        if exec.sleep(Duration::from_millis(200 << attempt)).is_err() {
            break;
        }
    }
    if cfg!(target_os = "linux") && exec.output(Command::new(UMOUNT).arg("-l").arg(target)).is_ok() {
        return Ok(());
    }
    Err(last.expect("an attempt failed"))
}

/// Mount points at or below `dir`, deepest first (the order to unmount in).
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let table = std::fs::read_to_string(MOUNT_TABLE).unwrap_or_default();
    let mut found: Vec<PathBuf> = table
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(|p| PathBuf::from(unescape(p)))
        .filter(|p| p.starts_with(dir))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    found
}

pub fn is_mounted(path: &Path) -> bool {
    mounts_under(path).iter().any(|p| p == path)
}

/// The mount table writes spaces and such as `\040`.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 8).ok());
        match (bytes[i], octal) {
            (b'\\', Some(b)) => {
                out.push(b);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn any_path_survives_the_mount_tables_escaping(path in "/[ -~\t\n\u{e9}]{0,40}") {
            // The kernel writes space, tab, newline and backslash as \ooo.
            let escaped: String = path
                .chars()
                .map(|c| if " \t\n\\".contains(c) { format!("\\{:03o}", c as u32) } else { c.to_string() })
                .collect();
            proptest::prop_assert_eq!(unescape(&escaped), path);
        }
    }

    #[test]
    fn mount_table_escapes_are_undone() {
        assert_eq!(unescape("/var/tmp/a\\040b"), "/var/tmp/a b");
        assert_eq!(unescape("/plain"), "/plain");
    }

    #[test]
    fn proc_is_mounted_and_listed_under_root() {
        assert!(is_mounted(Path::new("/proc")));
        assert!(mounts_under(Path::new("/")).contains(&PathBuf::from("/proc")));
        assert!(!is_mounted(Path::new("/proc/nonexistent")));
    }
}
