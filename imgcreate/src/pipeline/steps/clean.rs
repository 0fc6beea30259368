//! Clean: what buildimage removes before the image is made: pkgin's
//! database and the zone's `config/`.

use crate::pipeline::inside::remove_inside;
use crate::pipeline::{Build, BuildError, Step};

pub struct Clean;

impl Step for Clean {
    fn name(&self) -> &'static str {
        "clean"
    }

    fn inputs(&self, _: &Build) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    fn run(&self, build: &mut Build) -> Result<(), BuildError> {
        build.log("cleaning up pkgin files...");
        remove_inside(&build.root(), "var/db/pkgin")?;
        build.log("removing zoneroot config dir ...");
        remove_inside(&build.mountpoint, "config")
    }
}
