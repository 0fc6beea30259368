//! Linux: bind mounts (remounted read-only), `/proc/self/mounts`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::host::exec::{CommandError, Exec};

pub const CHROOT_DEFAULTS: &[&str] = &["/dev", "/proc"];
pub const TABLE: &str = "/proc/self/mounts";
pub const MOUNT: &str = "/bin/mount";
pub const UMOUNT: &str = "/bin/umount";

/// `mount --bind`, then `mount -o remount,bind,ro`: a bind mount is made
/// read-write whatever its options say, and only a remount makes it
/// read-only (writes to device nodes under a read-only `/dev` still work).
pub fn bind_read_only(exec: &Exec, source: &Path, target: &Path) -> Result<(), CommandError> {
    exec.output(Command::new(MOUNT).arg("--bind").arg(source).arg(target))?;
    if let Err(e) = exec.output(Command::new(MOUNT).args(["-o", "remount,bind,ro"]).arg(target)) {
        let _ = exec.output(Command::new(UMOUNT).arg(target));
        return Err(e);
    }
    Ok(())
}

/// `umount -l`: detaches a busy mount from the tree at once.
pub fn detach(exec: &Exec, target: &Path) -> bool {
    exec.output(Command::new(UMOUNT).arg("-l").arg(target)).is_ok()
}

/// The mount points of `/proc/self/mounts`: the second of its
/// space-separated fields, in which the kernel writes space, tab, newline
/// and backslash as `\ooo`.
pub fn mount_points(table: &str) -> Vec<PathBuf> {
    table.lines().filter_map(|l| l.split(' ').nth(1)).map(|p| PathBuf::from(unescape(p))).collect()
}

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
            let escaped: String = path
                .chars()
                .map(|c| if " \t\n\\".contains(c) { format!("\\{:03o}", c as u32) } else { c.to_string() })
                .collect();
            proptest::prop_assert_eq!(unescape(&escaped), path);
        }
    }

    #[test]
    fn a_real_proc_mounts_gives_its_mount_points_unescaped() {
        let table = include_str!("../../../../fixtures/platform/linux/proc-mounts.txt");
        let points = mount_points(table);
        assert_eq!(points[0], PathBuf::from("/proc"));
        assert!(points.contains(&PathBuf::from("/")));
        // Made by `bind_read_only`'s two commands on a directory with a space.
        assert!(points.contains(&PathBuf::from("/tmp/buildy-hostos sample/dev")), "{points:?}");
        assert!(table.lines().any(|l| l.contains("sample/dev devtmpfs ro,")), "the bind mount is read-only");
    }
}
