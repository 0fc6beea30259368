//! Test support. `cases.rs` is also compiled into the benchmark (by path),
//! so it depends on nothing else here.

pub mod cases;
pub mod docker_cases;
