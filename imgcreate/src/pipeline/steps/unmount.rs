//! Unmount: the chroot mounts, newest first, and the mount targets the
//! build made (they must not end up in the image).

use crate::host::mount;
use crate::image::journal::Resource;
use crate::pipeline::{Build, BuildError, Step};

pub struct Unmount;

impl Step for Unmount {
    fn name(&self) -> &'static str {
        "unmount"
    }

    fn inputs(&self, _: &Build) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    fn run(&self, build: &mut Build) -> Result<(), BuildError> {
        while let Some(target) = build.mounts.last().cloned() {
            mount::unmount(build.zfs, &target)
                .map_err(|source| BuildError::Command { step: "unmounting the chroot", source })?;
            build.log(&format!("Umounted {}", target.display()));
            build.mounts.pop();
            build.forget(&Resource::Mount { path: target })?;
        }
        while let Some(dir) = build.made_dirs.pop() {
            let _ = std::fs::remove_dir(&dir);
            build.forget(&Resource::Directory { path: dir })?;
        }
        Ok(())
    }
}
