//! The image engine: reading and checking `zfs send` streams, packaging
//! them into image files, creating images from datasets, installing image
//! files, and the build pipeline.
//!
//! Layers, each using only those below it:
//!
//! - [`pipeline`]: the build, a list of steps with a journal and an undo.
//! - [`image`]: images on this host: the strict manifest, create, install,
//!   imgadm's database, journals, undo and cleanup.
//! - [`host`]: the machine: the executor that runs every command, `zfs`,
//!   mounts, locks, processes.
//! - [`stream`], [`pack`], [`inspect`], [`atomic`]: pure data handling.

pub mod atomic;
pub mod host;
pub mod image;
pub mod inspect;
pub mod pack;
pub mod pipeline;
pub mod stream;

pub use imgmanifest;
