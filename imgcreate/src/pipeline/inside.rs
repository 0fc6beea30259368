//! Paths inside the image being built, never following its symlinks: a
//! symlink in an image must never send a write or a delete onto the host.

use std::path::{Component, Path, PathBuf};

use super::BuildError;

/// `rel` (absolute inside the chroot) under `root`, refusing any path whose
/// existing components include a symlink (the last one may be a symlink:
/// it is replaced, not followed).
pub fn inside(root: &Path, rel: &Path) -> Result<PathBuf, BuildError> {
    let parts: Vec<_> = rel.components().filter(|c| *c != Component::RootDir).collect();
    let mut path = root.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        let Component::Normal(name) = part else {
            return Err(BuildError::NotAPlainPath(rel.to_path_buf()));
        };
        path.push(name);
        let is_last = i + 1 == parts.len();
        if !is_last && is_symlink(&path) {
            return Err(BuildError::SymlinkInImage { path, doing: "follow it" });
        }
    }
    Ok(path)
}

pub fn is_symlink(path: &Path) -> bool {
    path.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink())
}

/// `rm -rf <root>/<rel>` without following symlinks out of the image.
pub fn remove_inside(root: &Path, rel: &str) -> Result<(), BuildError> {
    let path = inside(root, Path::new(rel))?;
    let result = match path.symlink_metadata() {
        Err(_) => return Ok(()),
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(&path),
        Ok(_) => std::fs::remove_file(&path),
    };
    result.map_err(super::io_error(format!("removing {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_inside_the_image_never_follow_its_symlinks() {
        let dir = std::env::temp_dir().join(format!("buildy-inside-{}", std::process::id()));
        let root = dir.join("root");
        std::fs::create_dir_all(root.join("var")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
        assert_eq!(inside(&root, Path::new("/var/db")).unwrap(), root.join("var/db"));
        // The last component may be a symlink (it is replaced, not followed) ...
        assert_eq!(inside(&root, Path::new("/etc")).unwrap(), root.join("etc"));
        // ... but never one on the way.
        let err = inside(&root, Path::new("/etc/motd")).unwrap_err();
        assert!(err.to_string().contains("is a symlink; refusing to follow it"), "{err}");
        assert!(matches!(inside(&root, Path::new("/var/../../x")), Err(BuildError::NotAPlainPath(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
