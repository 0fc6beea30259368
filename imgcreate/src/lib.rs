//! The image engine: packaging `zfs send` streams, reading them, creating
//! images from datasets and installing image files. Filled in by later work;
//! for now it re-exports the manifest crate it builds on.

pub use imgmanifest;
