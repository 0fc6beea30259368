//! imgcreate's integration tests that need no ZFS, in one binary (one link,
//! one run): `cargo test -p imgcreate --test integration`.
//!
//! proptest finds `main.rs` here, so it keeps failing cases in
//! `../proptest-regressions/<module>.txt`.

mod pack;
mod stream_fixtures;
mod stream_properties;
mod util;
