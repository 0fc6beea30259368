//! The image engine: reading and checking `zfs send` streams, packaging
//! them into image files, creating images from datasets and installing
//! image files.

pub mod atomic;
pub mod build;
pub mod command;
pub mod create;
pub mod db;
pub mod inspect;
pub mod install;
pub mod lock;
pub mod mount;
pub mod pack;
pub mod stream;
pub mod zfs;

pub use imgmanifest;
