//! The `buildy` command: argument parsing and exit codes only; the work is
//! in the `imgcreate` library.
//!
//! Exit status: 0 success, 1 the job failed, 2 usage or input error.

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Build SmartOS/Triton images from ZFS datasets, without a VM and without Node.js.
#[derive(Parser)]
#[command(name = "buildy", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Create(cmd::create::Args),
    Install(cmd::install::Args),
    Pack(cmd::pack::Args),
    Inspect(cmd::inspect::Args),
}

/// How a command failed: `Usage` (exit 2) or `Failed` (exit 1).
pub enum Failure {
    Usage(String),
    Failed(String),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Create(args) => cmd::create::run(args),
        Command::Install(args) => cmd::install::run(args),
        Command::Pack(args) => cmd::pack::run(args),
        Command::Inspect(args) => cmd::inspect::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Failure::Usage(msg)) => {
            eprintln!("buildy: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Failed(msg)) => {
            eprintln!("buildy: {msg}");
            ExitCode::from(1)
        }
    }
}
