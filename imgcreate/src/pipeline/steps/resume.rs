//! Resume: the zone analog made from a cache layer instead of the base
//! image: the layer's stream received as a new clone of the base image's
//! `@final` (so the image the build makes is still incremental on the
//! base), marked and mounted where the clone step would mount it.

use crate::image::journal::Resource;
use crate::image::model::ImageUuid;
use crate::image::owner::OWNER_PROPERTY;
use crate::pipeline::cache::{copy, layer};
use crate::pipeline::{io_error, Build, BuildError, Step};

pub struct Resume {
    pub layer: ImageUuid,
}

impl Step for Resume {
    fn name(&self) -> &'static str {
        "resume"
    }

    /// buildimage's first phase.
    fn reported_as(&self) -> &'static str {
        "clone"
    }

    fn inputs(&self, _: &Build) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    fn run(&self, build: &mut Build) -> Result<(), BuildError> {
        let (analog, mountpoint) = (build.analog.clone(), build.mountpoint.clone());
        let opts = build.opts;
        build.log(&format!("Creating zone analog ({analog}) from cache layer {}", self.layer));
        build.create(Resource::Directory { path: mountpoint.clone() })?;
        std::fs::create_dir_all(&mountpoint).map_err(io_error(format!("creating {}", mountpoint.display())))?;
        let received = Resource::Received { name: analog.clone(), mountpoint: Some(mountpoint.clone()) };
        build.create(received.clone())?;
        {
            // Held while reading from the layer, so no prune removes it.
            let _lock = layer::lock_layer(build.exec(), &opts.lock_dir, &self.layer, &|l| build.log(l))?;
            let layer_final = format!("{}/{}@final", opts.root, self.layer);
            let base_final = format!("{}/{}@final", opts.root, build.base.uuid);
            copy::send_receive(build.zfs, &layer_final, &base_final, &analog)?;
        }
        let mark = build.journal_mut().owner.to_property();
        build.zfs.set(&analog, OWNER_PROPERTY, &mark)?;
        // Marked: from here on it is undone like a clone.
        let dataset = Resource::Dataset { name: analog.clone(), mountpoint: Some(mountpoint.clone()) };
        build.journal_mut().update(&received, dataset).map_err(io_error("writing the build journal"))?;
        let mp = mountpoint.display().to_string();
        build.zfs.set(&analog, "mountpoint", &mp)?;
        build.log(&format!("Created {analog}, and mounted on {mp}"));
        Ok(())
    }
}
