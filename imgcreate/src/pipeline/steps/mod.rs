//! The build's steps, one file each, in the order they run.

pub mod clean;
pub mod clone;
pub mod copy;
pub mod create;
pub mod destroy;
pub mod import;
pub mod motd;
pub mod mount;
pub mod packages;
pub mod unmount;

use super::{BuildOptions, Step};

/// The steps of a build with these options, in order.
pub fn all(opts: &BuildOptions) -> Vec<Box<dyn Step>> {
    let mut steps: Vec<Box<dyn Step>> = vec![
        Box::new(clone::Clone),
        Box::new(copy::Copy),
        Box::new(mount::Mount),
        Box::new(packages::Packages),
        Box::new(clean::Clean),
    ];
    if opts.motd {
        steps.push(Box::new(motd::Motd));
    }
    steps.extend([Box::new(unmount::Unmount) as Box<dyn Step>, Box::new(create::Create), Box::new(destroy::Destroy)]);
    steps
}
