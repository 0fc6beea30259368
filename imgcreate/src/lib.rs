//! The image engine: reading and checking `zfs send` streams, packaging
//! them into image files, creating images from datasets and installing
//! image files.

pub mod command;
pub mod inspect;
pub mod pack;
pub mod stream;

pub use imgmanifest;
