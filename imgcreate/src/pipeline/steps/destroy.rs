//! Destroy: the zone analog and its mountpoint, once the image is made.

use crate::image::journal::Resource;
use crate::pipeline::{io_error, Build, BuildError, Step};

pub struct Destroy;

impl Step for Destroy {
    fn name(&self) -> &'static str {
        "destroy"
    }

    fn inputs(&self, _: &Build) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    fn run(&self, build: &mut Build) -> Result<(), BuildError> {
        let (analog, mountpoint) = (build.analog.clone(), build.mountpoint.clone());
        build.zfs.destroy(&analog, true)?;
        build.log(&format!("Destroyed {analog}"));
        build.forget(&Resource::Dataset { name: analog, mountpoint: Some(mountpoint.clone()) })?;
        std::fs::remove_dir(&mountpoint).map_err(io_error(format!("removing {}", mountpoint.display())))?;
        build.log(&format!("Deleted {}", mountpoint.display()));
        build.forget(&Resource::Directory { path: mountpoint })
    }
}
