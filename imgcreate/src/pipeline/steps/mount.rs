//! Mount: host directories into the chroot the package steps run in.

use std::path::PathBuf;

use crate::host::mount;
use crate::image::journal::Resource;
use crate::pipeline::inside::{inside, is_symlink};
use crate::pipeline::{io_error, Build, BuildError, Step};

/// A host directory mounted into the chroot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChrootMount {
    pub source: PathBuf,
    /// Where, inside the image's root (absolute, e.g. `/dev`).
    pub target: PathBuf,
}

impl ChrootMount {
    /// `SRC[:DST]`
    pub fn parse(text: &str) -> Option<ChrootMount> {
        let (source, target) = text.split_once(':').unwrap_or((text, text));
        (source.starts_with('/') && target.starts_with('/'))
            .then(|| ChrootMount { source: source.into(), target: target.into() })
    }

    /// The platform's default set (see [`mount::CHROOT_DEFAULTS`]).
    pub fn defaults() -> Vec<ChrootMount> {
        mount::CHROOT_DEFAULTS.iter().map(|d| ChrootMount { source: d.into(), target: d.into() }).collect()
    }
}

pub struct Mount;

impl Step for Mount {
    fn name(&self) -> &'static str {
        "mount"
    }

    fn inputs(&self, build: &Build) -> Vec<(&'static str, String)> {
        let shown = build.opts.chroot_mounts.iter().map(|m| format!("{}:{}", m.source.display(), m.target.display()));
        vec![("chroot mounts", shown.collect::<Vec<_>>().join(" "))]
    }

    fn run(&self, build: &mut Build) -> Result<(), BuildError> {
        let root = build.root();
        for m in &build.opts.chroot_mounts {
            let target = inside(&root, &m.target)?;
            if is_symlink(&target) {
                return Err(BuildError::SymlinkInImage { path: target, doing: "mount onto it" });
            }
            if !target.exists() {
                build.create(Resource::Directory { path: target.clone() })?;
                std::fs::create_dir_all(&target).map_err(io_error(format!("creating {}", target.display())))?;
                build.made_dirs.push(target.clone());
            }
            build.create(Resource::Mount { path: target.clone() })?;
            mount::bind(build.zfs, &m.source, &target)
                .map_err(|source| BuildError::Command { step: "mounting into the chroot", source })?;
            build.mounts.push(target.clone());
            build.log(&format!("Mounted {} on {}", m.source.display(), target.display()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn chroot_mounts_parse_absolute_pairs_only(src in "/[a-z/]{0,12}", dst in "/[a-z/]{0,12}", rel in "[a-z][a-z/]{0,8}") {
            prop_assert_eq!(ChrootMount::parse(&src), Some(ChrootMount { source: src.clone().into(), target: src.clone().into() }));
            let both = ChrootMount::parse(&format!("{src}:{dst}"));
            prop_assert_eq!(both, Some(ChrootMount { source: src.clone().into(), target: dst.into() }));
            prop_assert_eq!(ChrootMount::parse(&rel), None);
            prop_assert_eq!(ChrootMount::parse(&format!("{src}:{rel}")), None);
        }
    }
}
