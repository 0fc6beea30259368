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
pub mod source;
pub mod stream;

pub use imgmanifest;

/// The message of a caught panic, for the error that reports it.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}
