//! The `buildy` command. Subcommands arrive with the issues that need them.

use clap::Parser;

/// Build SmartOS/Triton images from ZFS datasets, without a VM and without Node.js.
#[derive(Parser)]
#[command(name = "buildy", version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
    eprintln!("buildy: no subcommand yet; see `buildy --help`");
    std::process::exit(2);
}
