//! imgmanifest's integration tests, in one binary (one link, one run):
//! `cargo test -p imgmanifest --test integration`.
//!
//! proptest finds `main.rs` here, so it keeps failing cases in
//! `../proptest-regressions/<module>.txt`.

mod differential;
mod docker;
mod properties;
mod urls;
mod util;
