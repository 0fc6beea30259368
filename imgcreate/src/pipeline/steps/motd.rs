//! Motd (`-M`): buildimage's `/etc/motd`, with the Triton banner; the
//! source repo line only when there is one (buildimage printed
//! "undefined").

use std::path::Path;

use crate::pipeline::inside::{inside, is_symlink};
use crate::pipeline::{io_error, js_text, Build, BuildError, Step};

pub struct Motd;

impl Motd {
    fn text(build: &Build) -> String {
        let (m, base) = (&build.opts.manifest, &build.base);
        let mut motd = format!(" =  T R I T O N  =\n\n    {} ({})\n", js_text(m, "name"), js_text(m, "version"));
        if let Some(repo) = &build.opts.source_repo {
            motd.push_str(&format!("    {repo}\n"));
        }
        motd.push_str(&format!("    {}@{}\n\n", base.name, base.version));
        motd
    }
}

impl Step for Motd {
    fn name(&self) -> &'static str {
        "motd"
    }

    /// buildimage writes it while cleaning up: timed with that phase.
    fn reported_as(&self) -> &'static str {
        "clean"
    }

    fn inputs(&self, build: &Build) -> Vec<(&'static str, String)> {
        vec![("motd", Motd::text(build))]
    }

    fn run(&self, build: &mut Build) -> Result<(), BuildError> {
        build.log("writing motd...");
        let root = build.root();
        let etc = inside(&root, Path::new("/etc"))?;
        std::fs::create_dir_all(&etc).map_err(io_error("creating etc/ for the motd"))?;
        let motd = inside(&root, Path::new("/etc/motd"))?;
        if is_symlink(&motd) {
            std::fs::remove_file(&motd).map_err(io_error("replacing the etc/motd symlink"))?;
        }
        std::fs::write(&motd, Motd::text(build)).map_err(io_error("writing etc/motd"))
    }
}
