//! Where images come from and go to: IMGAPI image servers (`imgapi/`),
//! imgadm's configured sources (`sources.rs`) and importing an image with
//! its whole origin chain (`import.rs`).

pub mod imgapi;
pub mod import;
pub mod sources;

pub use sources::Source;
