//! `buildy pack`: a send stream becomes an image file.

use std::path::PathBuf;

use imgcreate::image::model::FileCompression;
use imgcreate::pack::{pack, PackError, PackOptions, Progress};
use serde_json::json;

use crate::Failure;

/// Package a `zfs send` stream into an image file and print its files[0] entry.
#[derive(clap::Args)]
pub struct Args {
    /// none, gzip, bzip2 or xz.
    #[arg(short = 'c', long, value_parser = super::parse_compression)]
    compression: FileCompression,
    /// Compression level (default: the tool's own: gzip 6, bzip2 9, xz 6).
    #[arg(short = 'l', long)]
    level: Option<u32>,
    /// Threads to compress on (default: every core).
    #[arg(short = 'j', long, value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
    /// The image file to write.
    #[arg(short = 'o', long)]
    output: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Make the file durable (fsync) before renaming it into place.
    #[arg(long)]
    sync: bool,
    /// The send stream; `-` or none for standard input.
    input: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<u8, Failure> {
    let opts = PackOptions {
        level: args.level,
        threads: args.threads.map(|t| t as usize),
        sync: args.sync,
        ..PackOptions::new(args.compression.to_manifest())
    };
    let input: Box<dyn std::io::Read> = match args.input.as_deref() {
        None => Box::new(std::io::stdin().lock()),
        Some(p) if p.as_os_str() == "-" => Box::new(std::io::stdin().lock()),
        Some(p) => Box::new(
            std::fs::File::open(p)
                .map_err(|e| Failure::Usage(format!("cannot read the input {}: {e}", p.display())))?,
        ),
    };
    let mut progress = super::progress_printer(!args.json);
    let packed = pack(input, &args.output, &opts, |p: Progress| progress.show(p));
    progress.finish();
    let packed = packed.map_err(|e| match e {
        PackError::BadLevel { .. } | PackError::UnknownCompression(_) => Failure::Usage(e.to_string()),
        other => Failure::Failed(format!("{other}; nothing was written to {}", args.output.display())),
    })?;
    let stream = packed.stream.as_ref().expect("pack checks the stream");
    if args.json {
        let out = json!({
            "size": packed.size,
            "sha1": packed.sha1,
            "compression": packed.compression,
            "dataset_guid": packed.dataset_guid(),
            "stream": stream,
        });
        crate::say!("{out}");
    } else {
        crate::say!("{}", packed.path.display());
        crate::say!("  size:         {}", packed.size);
        crate::say!("  sha1:         {}", packed.sha1);
        crate::say!("  compression:  {}", packed.compression);
        crate::say!("  dataset_guid: {}", stream.toguid);
        crate::say!(
            "  stream:       {} ({}), {} records, {} bytes",
            stream.toname,
            if stream.is_incremental() { "incremental" } else { "full" },
            stream.total_records,
            stream.stream_bytes
        );
    }
    Ok(0)
}
