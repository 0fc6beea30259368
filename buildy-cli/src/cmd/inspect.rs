//! `buildy inspect`: check an image file, and with -m its manifest.

use std::path::PathBuf;

use imgmanifest::Manifest;

use crate::Failure;

/// Check an image file: decompress it, verify the send stream and its
/// checksums, and with -m compare it with its manifest.
#[derive(clap::Args)]
pub struct Args {
    /// The image's manifest.
    #[arg(short = 'm', long)]
    manifest: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// The image file.
    file: PathBuf,
}

pub fn run(args: Args) -> Result<u8, Failure> {
    let manifest = match &args.manifest {
        None => None,
        Some(p) => {
            let m = Manifest::from_value(super::read_json(p, "manifest")?).map_err(|e| {
                Failure::Usage(format!("{} is not a manifest: {e}; check it with `imgmanifest validate`", p.display()))
            })?;
            Some(m)
        }
    };
    let report = imgcreate::inspect::inspect(&args.file, manifest.as_ref())
        .map_err(|e| Failure::Usage(format!("cannot read the image file {}: {e}", args.file.display())))?;
    if args.json {
        crate::say!("{}", serde_json::to_string(&report).expect("reports serialize"));
    } else {
        crate::say!("{}: {}", report.file.display(), if report.ok { "ok" } else { "NOT OK" });
        crate::say!("  size {}  sha1 {}  compression {}", report.size, report.sha1, report.compression);
        if let Some(s) = &report.stream {
            crate::say!(
                "  stream {} ({}), toguid {} fromguid {}, {} records, {} bytes, checksums verified",
                s.toname,
                if s.is_incremental() { "incremental" } else { "full" },
                s.toguid,
                s.fromguid,
                s.total_records,
                s.stream_bytes
            );
        }
        for c in &report.checks {
            crate::say!(
                "  {:<13} {}",
                c.check,
                if c.ok { "ok".to_string() } else { format!("MISMATCH (manifest {}, file {})", c.expected, c.found) }
            );
        }
        for p in &report.problems {
            crate::say!("  problem: {p}");
        }
    }
    Ok(if report.ok { 0 } else { 1 })
}
