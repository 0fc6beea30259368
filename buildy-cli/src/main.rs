//! The `buildy` command: argument parsing, signals, output and exit codes
//! only; the work is in the `imgcreate` library.
//!
//! Exit status: 0 success, 1 the job failed, 2 usage or input error.

mod cmd;
mod output;
mod progress;
mod signals;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use imgcreate::host::exec::{Exec, Fault};

/// Build SmartOS/Triton images from ZFS datasets, without a VM and without Node.js.
#[derive(Parser)]
#[command(name = "buildy", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Build(cmd::build::Args),
    /// The layer cache: list and prune cached layers.
    #[command(subcommand)]
    Cache(cmd::cache::Command),
    Cleanup(cmd::cleanup::Args),
    Create(cmd::create::Args),
    Install(cmd::install::Args),
    Import(cmd::import::Args),
    Publish(cmd::publish::Args),
    Sources(cmd::sources::Args),
    List(cmd::list::ListArgs),
    Get(cmd::list::GetArgs),
    Delete(cmd::list::DeleteArgs),
    Pack(cmd::pack::Args),
    Inspect(cmd::inspect::Args),
}

/// How a command failed: `Usage` (exit 2) or `Failed` (exit 1).
pub enum Failure {
    Usage(String),
    Failed(String),
}

/// glibc raises its mmap threshold each time a large block is freed, after
/// which the packager's 1 to 24 MiB chunk buffers come from the heap, which
/// fragments: peak memory then grew with the input (gzip: 33 MiB on a
/// 130 MB stream, 44 MiB on 600 MB). A fixed threshold keeps every large
/// buffer its own mapping, given back when freed (18 and 19 MiB).
fn steady_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 10);
    }
}

fn main() -> ExitCode {
    steady_allocator();
    // `buildy -i UUID -d DIR -m JSON` is `buildy build ...`: buildimage's
    // command line works unchanged.
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let first = argv.get(1).and_then(|a| a.to_str()).unwrap_or("");
    if first.starts_with('-') && !["-h", "--help", "-V", "--version"].contains(&first) {
        argv.insert(1, "build".into());
    }
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let exec = Exec::new(Fault::from_env());
    // The library undoes its own work on a panic; this only turns one into
    // exit status 1 instead of 101.
    let result = catch_unwind(AssertUnwindSafe(|| match cli.command {
        Command::Build(args) => cmd::build::run(&exec, args),
        Command::Cache(command) => cmd::cache::run(&exec, command),
        Command::Cleanup(args) => cmd::cleanup::run(&exec, args),
        Command::Create(args) => cmd::create::run(&exec, args),
        Command::Install(args) => cmd::install::run(&exec, args),
        Command::Import(args) => cmd::import::run(&exec, args),
        Command::Publish(args) => cmd::publish::run(&exec, args),
        Command::Sources(args) => cmd::sources::run(&exec, args),
        Command::List(args) => cmd::list::list(&exec, args),
        Command::Get(args) => cmd::list::get(&exec, args),
        Command::Delete(args) => cmd::list::delete(&exec, args),
        Command::Pack(args) => cmd::pack::run(args),
        Command::Inspect(args) => cmd::inspect::run(args),
    }))
    .unwrap_or_else(|_| Err(Failure::Failed("internal error (a panic, reported above)".into())));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Failure::Usage(msg)) => {
            output::warn(format!("buildy: {msg}"));
            ExitCode::from(2)
        }
        Err(Failure::Failed(msg)) => {
            output::warn(format!("buildy: {msg}"));
            ExitCode::from(1)
        }
    }
}
