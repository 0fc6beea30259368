//! Copy: the proto directory into the image's `root/`, with rsync as
//! buildimage does (`-a`, or `-vaP` with `-v`).

use std::process::Command;

use crate::pipeline::{Build, BuildError, Step};

pub struct Copy;

impl Step for Copy {
    fn name(&self) -> &'static str {
        "copy"
    }

    fn inputs(&self, build: &Build) -> Vec<(&'static str, String)> {
        // Its content, not its path: a checkout elsewhere hits the same layer.
        vec![("proto", build.proto_digest.clone())]
    }

    fn run(&self, build: &mut Build) -> Result<(), BuildError> {
        let opts = build.opts;
        build.log(&format!("Copying files from {} to {}", opts.proto_dir.display(), build.mountpoint.display()));
        let mut source = opts.proto_dir.clone().into_os_string();
        source.push("/");
        let mut target = build.root().into_os_string();
        target.push("/");
        let mut cmd = Command::new("rsync");
        cmd.arg(if opts.verbose { "-vaP" } else { "-a" }).arg(source).arg(target);
        build
            .exec()
            .run_logged(&mut cmd, &|line| build.log(&format!("  {line}")))
            .map_err(|source| BuildError::Command { step: "copying the proto directory", source })
    }
}
