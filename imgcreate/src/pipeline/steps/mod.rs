//! The build's steps, one file each, in the order they run.

pub mod clean;
pub mod clone;
pub mod copy;
pub mod copy_delta;
pub mod create;
pub mod destroy;
pub mod import;
pub mod motd;
pub mod mount;
pub mod packages;
pub mod resume;
pub mod unmount;

use super::{BuildOptions, Step};

/// The steps after the cached layers (`cache/`), in order: never cached,
/// as they make the image itself.
pub fn finalize(opts: &BuildOptions) -> Vec<Box<dyn Step>> {
    let mut steps: Vec<Box<dyn Step>> = vec![Box::new(clean::Clean)];
    if opts.motd {
        steps.push(Box::new(motd::Motd));
    }
    steps.extend([Box::new(create::Create) as Box<dyn Step>, Box::new(destroy::Destroy)]);
    steps
}
