//! buildy's integration tests, one binary (ripgrep's shape): helpers in
//! `util`, one module per area, and `regression` with a test named for
//! each bug fixed. The ZFS tests run on the pool `scripts/test.sh` makes.

mod build;
mod cache;
mod images;
mod imgapi;
mod pack_inspect;
mod regression;
mod util;
