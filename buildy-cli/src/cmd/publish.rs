//! `buildy publish`: an image file and its manifest to an image server,
//! as `imgadm publish`, with HTTP Signature auth when asked.

use std::path::PathBuf;

use imgcreate::host::exec::Exec;
use imgcreate::source::imgapi::auth::Signer;
use imgcreate::source::imgapi::publish::publish;
use imgcreate::source::imgapi::Client;
use imgcreate::source::Source;

use super::ImageFiles;
use crate::output::{say, warn};
use crate::Failure;

/// Publish an image (manifest and file) to an IMGAPI.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    image: ImageFiles,
    /// The channel to publish into.
    #[arg(short = 'C', long = "channel")]
    channel: Option<String>,
    /// Sign requests as this user (with --key).
    #[arg(long, requires = "key")]
    user: Option<String>,
    /// The user's RSA ssh private key (OpenSSH or PEM, no passphrase).
    #[arg(long, requires = "user")]
    key: Option<PathBuf>,
    /// Only the result line.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// The IMGAPI's URL.
    url: String,
}

pub fn run(exec: &Exec, args: Args) -> Result<u8, Failure> {
    let usage = |e: &dyn std::fmt::Display| Failure::Usage(e.to_string());
    let manifest = args.image.checked_manifest("published")?;
    let source = Source::parse(&args.url, false).map_err(|e| usage(&e))?.with_channel(args.channel.as_deref());
    let signer = match (&args.user, &args.key) {
        (Some(user), Some(key)) => Some(Signer::from_key_file(user, key).map_err(|e| usage(&e))?),
        _ => None,
    };
    crate::signals::catch(exec);
    let client = Client::new(exec, &source, signer, super::client_options());
    let quiet = args.quiet;
    let log = |line: &str| {
        if !quiet {
            warn(line);
        }
    };
    publish(&client, &manifest, &args.image.file, &log)
        .map_err(|e| super::failure(exec, e.is_usage(), format!("{e}; nothing was published")))?;
    say(format!("Published image {} ({}@{}) to {}", manifest.uuid, manifest.name, manifest.version, source.url));
    Ok(0)
}
