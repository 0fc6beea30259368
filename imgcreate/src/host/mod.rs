//! The machine buildy runs on: every external command through one
//! executor, and the modules that wrap a command or a kernel interface.

pub mod exec;
pub mod lock;
pub mod mount;
pub mod proc;
pub mod zfs;
