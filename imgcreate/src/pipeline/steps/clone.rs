//! Clone: the base image's `@final` becomes the zone analog, a marked
//! dataset mounted at a directory of the build's own.

use crate::image::journal::Resource;
use crate::image::owner::OWNER_PROPERTY;
use crate::pipeline::{Build, BuildError, Step};

pub struct Clone;

impl Step for Clone {
    fn name(&self) -> &'static str {
        "clone"
    }

    fn inputs(&self, build: &Build) -> Vec<(&'static str, String)> {
        let sha1 = build.base.file.as_ref().map(|f| f.sha1.clone()).unwrap_or_default();
        vec![("base image", build.base.uuid.to_string()), ("base file sha1", sha1)]
    }

    fn run(&self, build: &mut Build) -> Result<(), BuildError> {
        let (analog, mountpoint) = (build.analog.clone(), build.mountpoint.clone());
        build.log(&format!("Creating zone analog ({analog})"));
        build.create(Resource::Directory { path: mountpoint.clone() })?;
        build.create(Resource::Dataset { name: analog.clone(), mountpoint: Some(mountpoint.clone()) })?;
        let snapshot = format!("{}/{}@final", build.opts.root, build.base.uuid);
        let mark = build.journal_mut().owner.to_property();
        let mp = mountpoint.display().to_string();
        build.zfs.clone_snapshot(&snapshot, &analog, &[("mountpoint", &mp), (OWNER_PROPERTY, &mark)])?;
        build.log(&format!("Created {analog}, and mounted on {mp}"));
        Ok(())
    }
}
