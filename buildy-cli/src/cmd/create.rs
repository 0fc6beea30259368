//! `buildy create`: a dataset becomes an image file and manifest, as
//! `imgadm create` makes one from a VM.

use std::path::PathBuf;

use imgcreate::host::exec::Exec;
use imgcreate::image::create::{create, CreateOptions, Platform};
use imgcreate::image::model::FileCompression;
use serde_json::{Map, Value};

use super::{progress_printer, ImageStore, WorkDir};
use crate::output::{say, warn};
use crate::Failure;

/// Create an image from a dataset (incremental on its origin image with -i).
#[derive(clap::Args)]
pub struct Args {
    /// Manifest data (a JSON object), `-` for standard input.
    #[arg(short = 'm', long)]
    manifest: Option<PathBuf>,
    /// A directory for `<name>-<version>.*`, or the output path prefix itself.
    #[arg(short = 'o', long = "output-template")]
    output_template: Option<PathBuf>,
    /// none, gzip, bzip2 or xz.
    #[arg(short = 'c', long, default_value = "none", value_parser = super::parse_compression)]
    compression: FileCompression,
    /// An incremental image: only the changes since the origin image.
    #[arg(short = 'i', long)]
    incremental: bool,
    /// Refuse if the origin chain (origin, its origin, ...) is longer than N (N >= 2).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(2..))]
    max_origin_depth: Option<u32>,
    /// The dataset root images live under (default: the parent of the dataset's origin).
    #[arg(long, env = "BUILDY_ROOT")]
    root: Option<String>,
    /// The brand of the dataset's zone, for imgadm's requirements rules
    /// (joyent, joyent-minimal: min_platform; bhyve, kvm, lx: brand).
    #[arg(long)]
    brand: Option<String>,
    /// The platform for requirements.min_platform, as SDC_VERSION=LIVE_IMAGE
    /// (default: from `sysinfo`, on SmartOS).
    #[arg(long, value_name = "VERSION=STAMP")]
    platform: Option<String>,
    /// Print only the paths.
    #[arg(short = 'q', long)]
    quiet: bool,
    #[command(flatten)]
    store: ImageStore,
    #[command(flatten)]
    work: WorkDir,
    /// The filesystem to make the image of.
    dataset: String,
    /// Manifest fields, FIELD=VALUE; VALUE is read as JSON if it parses, else as a string
    /// (always a string for uuid, name, version, description, type, os, origin).
    fields: Vec<String>,
}

/// Manifest fields whose FIELD=VALUE is always a string.
const STRING_FIELDS: &[&str] = &["uuid", "name", "version", "description", "type", "os", "origin"];

pub fn run(exec: &Exec, args: Args) -> Result<u8, Failure> {
    let mut manifest = match &args.manifest {
        None => Map::new(),
        Some(path) => match super::read_json(path, "manifest data")? {
            Value::Object(m) => m,
            _ => return Err(Failure::Usage(format!("the manifest data in {} is not a JSON object", path.display()))),
        },
    };
    for field in &args.fields {
        let (key, value) = field
            .split_once('=')
            .ok_or_else(|| Failure::Usage(format!("\"{field}\" is not FIELD=VALUE (e.g. version=1.0.0)")))?;
        // As imgadm: JSON if it parses, else a string; but fields that must
        // be strings stay strings (imgadm writes `version=1` as the number
        // 1, which only JavaScript's coercion lets through).
        let value = match serde_json::from_str(value) {
            Ok(parsed) if !STRING_FIELDS.contains(&key) => parsed,
            _ => Value::String(value.to_string()),
        };
        manifest.insert(key.to_string(), value);
    }
    let platform = match (&args.platform, args.brand.as_deref()) {
        (Some(p), _) => Some(parse_platform(p)?),
        (None, Some("joyent" | "joyent-minimal")) => Platform::current(exec),
        _ => None,
    };
    let opts = CreateOptions {
        dataset: args.dataset.clone(),
        manifest,
        output_template: args.output_template.clone(),
        compression: args.compression,
        incremental: args.incremental,
        max_origin_depth: args.max_origin_depth,
        root: args.root.clone(),
        brand: args.brand.clone(),
        platform,
        level: None,
        threads: None,
        extra_outputs: Vec::new(),
    };
    let quiet = args.quiet;
    crate::signals::catch(exec);
    let mut journal = args.work.journal(exec, "create", &format!("{}", std::process::id()));
    let mut progress = progress_printer(!quiet);
    let log = |line: &str| {
        if !quiet {
            warn(line);
        }
    };
    let zfs = args.store.zfs(exec);
    let staged = create(&zfs, &args.store.db(), &mut journal, &opts, &log, |p| progress.show(p));
    progress.finish();
    let created = staged.and_then(|staged| staged.commit(exec, &mut journal));
    let created = created.map_err(|e| super::failure(exec, e.is_usage(), e.to_string()))?;
    let _ = journal.remove();
    if !quiet {
        let m = &created.manifest;
        warn(format!("Created image {} ({}@{})", m.uuid, m.name, m.version));
    }
    say(created.manifest_path.display());
    say(created.file.path.display());
    Ok(0)
}

fn parse_platform(text: &str) -> Result<Platform, Failure> {
    match text.split_once('=') {
        Some((v, stamp)) if !v.is_empty() && !stamp.is_empty() => {
            Ok(Platform { sdc_version: v.to_string(), live_image: stamp.to_string() })
        }
        _ => Err(Failure::Usage(format!(
            "--platform \"{text}\" is not SDC_VERSION=LIVE_IMAGE (e.g. 7.0=20240516T001234Z)"
        ))),
    }
}
