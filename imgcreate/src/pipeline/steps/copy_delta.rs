//! Copy, from a cached proto layer: when the proto dir changed a little
//! since a layer on the same parent was made, the build starts from that
//! layer and copies only what changed (rsync `-a --files-from`), removing
//! what the proto dir no longer has. Used only where the result equals a
//! whole copy onto the parent (see `cache/delta.rs`).

use std::io::Write;
use std::process::{Command, Stdio};

use crate::pipeline::cache::delta::Delta;
use crate::pipeline::inside::inside;
use crate::pipeline::{io_error, Build, BuildError, Step};

pub struct CopyDelta {
    pub delta: Delta,
}

impl Step for CopyDelta {
    fn name(&self) -> &'static str {
        "copy"
    }

    fn inputs(&self, build: &Build) -> Vec<(&'static str, String)> {
        super::copy::Copy.inputs(build)
    }

    fn run(&self, build: &mut Build) -> Result<(), BuildError> {
        let opts = build.opts;
        let root = build.root();
        build.log(&format!(
            "Copying {} changed entries from {} to {} ({} removed)",
            self.delta.copy.len(),
            opts.proto_dir.display(),
            build.mountpoint.display(),
            self.delta.remove.len()
        ));
        for path in &self.delta.remove {
            let target = inside(&root, std::path::Path::new(path))?;
            std::fs::remove_file(&target).map_err(io_error(format!("removing {}", target.display())))?;
        }
        let mut source = opts.proto_dir.clone().into_os_string();
        source.push("/");
        let mut target = root.into_os_string();
        target.push("/");
        let list = build.opts.work_dir.join(format!("buildy-cache/delta-{}", std::process::id()));
        let mut bytes = Vec::new();
        for path in &self.delta.copy {
            bytes.extend_from_slice(path);
            bytes.push(0);
        }
        crate::atomic::write_file(&list, &bytes).map_err(io_error(format!("writing {}", list.display())))?;
        let mut cmd = Command::new("rsync");
        cmd.arg(if opts.verbose { "-vaP" } else { "-a" }).arg("--from0").arg("--files-from").arg(&list);
        cmd.arg(source).arg(target).stdin(Stdio::null());
        let result = build.exec().run_logged(&mut cmd, &|line| build.log(&format!("  {line}")));
        let _ = std::fs::remove_file(&list);
        let _ = std::io::stdout().flush();
        result.map_err(|source| BuildError::Command { step: "copying the proto directory's changes", source })
    }
}
