//! The machine buildy runs on: every external command through one
//! executor, and the modules that wrap a command or a kernel interface.
//! Platform differences live here and nowhere else: `mount/` and `proc/`
//! hold a `linux.rs` and an `illumos.rs` each (one chosen by `cfg`), the
//! zfs dialect is `zfs/dialect.rs`, the SmartOS facts are `zone.rs`.

pub mod exec;
pub mod lock;
pub mod mount;
pub mod proc;
pub mod zfs;
pub mod zone;
