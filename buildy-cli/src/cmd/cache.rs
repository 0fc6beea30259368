//! `buildy cache list|prune|export`: the layer cache's layers (installed
//! images under the dataset root that `buildy build` made from its steps).

use std::path::PathBuf;

use imgcreate::host::exec::Exec;
use imgcreate::host::lock::DEFAULT_LOCK_DIR;
use imgcreate::image::model::{FileCompression, ImageUuid};
use imgcreate::pipeline::cache::export::export;
use imgcreate::pipeline::cache::layer::{Layer, Layers};
use imgcreate::pipeline::cache::prune::{prune, PruneOptions};
use serde_json::json;

use super::{ImageStore, WorkDir};
use crate::output::say;
use crate::Failure;

#[derive(clap::Subcommand)]
pub enum Command {
    /// List the cached layers, least recently used first.
    List(ListArgs),
    /// Remove least recently used layers (never one a build uses).
    Prune(PruneArgs),
    /// Write a layer as an image file and manifest (an incremental image on
    /// its base), to install with `buildy install` or `imgadm install`.
    Export(ExportArgs),
}

#[derive(clap::Args)]
pub struct Root {
    /// The dataset root the layers live under.
    #[arg(long, env = "BUILDY_ROOT", default_value = "zones")]
    root: String,
    #[command(flatten)]
    store: ImageStore,
}

#[derive(clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    root: Root,
    /// One JSON array.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct PruneArgs {
    #[command(flatten)]
    root: Root,
    /// Remove layers until the rest use at most this (e.g. 20G).
    #[arg(long, value_name = "SIZE", value_parser = super::parse_size)]
    max_size: Option<u64>,
    /// Remove layers not used for this many days.
    #[arg(long, value_name = "DAYS")]
    older_than: Option<u64>,
    /// Say what would be removed, remove nothing.
    #[arg(short = 'n', long)]
    dry_run: bool,
}

#[derive(clap::Args)]
pub struct ExportArgs {
    /// The layer's uuid.
    uuid: String,
    #[command(flatten)]
    root: Root,
    /// The directory to write into.
    #[arg(short = 'o', long, default_value = ".")]
    output_dir: PathBuf,
    /// none, gzip, bzip2 or xz.
    #[arg(short = 'c', long, default_value = "gzip", value_parser = super::parse_compression)]
    compression: FileCompression,
    #[command(flatten)]
    work: WorkDir,
}

pub fn run(exec: &Exec, command: Command) -> Result<u8, Failure> {
    crate::signals::catch(exec);
    match command {
        Command::List(args) => list(exec, args),
        Command::Prune(args) => prune_layers(exec, args),
        Command::Export(args) => export_layer(exec, args),
    }
}

fn failed(e: impl ToString) -> Failure {
    Failure::Failed(e.to_string())
}

fn list(exec: &Exec, args: ListArgs) -> Result<u8, Failure> {
    let (zfs, db) = (args.root.store.zfs(exec), args.root.store.db());
    let layers = Layers { zfs: &zfs, db: &db, root: &args.root.root, lock_dir: DEFAULT_LOCK_DIR.as_ref() };
    let all = layers.list().map_err(failed)?;
    if args.json {
        let rows: Vec<_> = all
            .iter()
            .map(|l| {
                json!({
                    "uuid": l.uuid.to_string(),
                    "step": l.kind,
                    "size": l.size,
                    "last_used": l.last_used,
                    "key": l.key,
                    "inputs": l.described.as_ref().map(|d| &d.inputs),
                })
            })
            .collect();
        say(serde_json::Value::Array(rows));
        return Ok(0);
    }
    say(format!("{:<36}  {:<8}  {:>10}  {:<20}  INPUTS", "UUID", "STEP", "SIZE", "LAST USED"));
    for l in &all {
        say(format!(
            "{:<36}  {:<8}  {:>10}  {:<20}  {}",
            l.uuid,
            l.kind,
            human(l.size),
            date(l.last_used),
            short_inputs(l)
        ));
    }
    Ok(0)
}

/// The key's inputs in short: long values as their first characters.
fn short_inputs(l: &Layer) -> String {
    let Some(d) = &l.described else { return String::new() };
    let short = |v: &str| if v.len() > 16 { format!("{}...", &v[..v.floor_char_boundary(12)]) } else { v.to_string() };
    d.inputs
        .0
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", short(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn human(bytes: u64) -> String {
    let units = ["B", "K", "M", "G", "T"];
    let (mut value, mut unit) = (bytes as f64, 0);
    while value >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{value:.1}{}", units[unit])
    }
}

/// How long ago, roughly.
fn date(secs: u64) -> String {
    let ago = imgcreate::pipeline::cache::layer::now().saturating_sub(secs);
    match ago {
        0..60 => format!("{ago}s ago"),
        60..3600 => format!("{}m ago", ago / 60),
        3600..86_400 => format!("{}h ago", ago / 3600),
        _ => format!("{}d ago", ago / 86_400),
    }
}

fn prune_layers(exec: &Exec, args: PruneArgs) -> Result<u8, Failure> {
    if args.max_size.is_none() && args.older_than.is_none() {
        return Err(Failure::Usage("give --max-size SIZE or --older-than DAYS (or both)".into()));
    }
    let (zfs, db) = (args.root.store.zfs(exec), args.root.store.db());
    let root = args.root.root.as_str();
    let layers = Layers { zfs: &zfs, db: &db, root, lock_dir: DEFAULT_LOCK_DIR.as_ref() };
    let pool = root.split('/').next().unwrap_or(root);
    let opts = PruneOptions { max_size: args.max_size, older_than_days: args.older_than, dry_run: args.dry_run };
    let pruned = prune(&layers, pool, &opts).map_err(failed)?;
    let verb = if args.dry_run { "would remove" } else { "removed" };
    for l in &pruned.removed {
        say(format!("{verb}: layer {} ({}, {})", l.uuid, l.kind, human(l.size)));
    }
    for l in &pruned.in_use {
        say(format!("kept (in use): layer {} ({})", l.uuid, l.kind));
    }
    say(format!("cache: {} -> {}", human(pruned.size_before), human(pruned.size_after)));
    Ok(0)
}

fn export_layer(exec: &Exec, args: ExportArgs) -> Result<u8, Failure> {
    let uuid: ImageUuid =
        args.uuid.parse().map_err(|e: imgcreate::image::model::NotAUuid| Failure::Usage(e.to_string()))?;
    let (zfs, db) = (args.root.store.zfs(exec), args.root.store.db());
    let root = args.root.root.as_str();
    let layers = Layers { zfs: &zfs, db: &db, root, lock_dir: DEFAULT_LOCK_DIR.as_ref() };
    let not_a_layer = || Failure::Usage(format!("{uuid} is not a cached layer under {root} (see buildy cache list)"));
    let described = layers.describe(&uuid).map_err(failed)?.ok_or_else(not_a_layer)?;
    let record = db.read(root, &uuid).map_err(failed)?.ok_or_else(not_a_layer)?;
    let base_uuid = record.manifest.origin.ok_or_else(not_a_layer)?;
    let base = db
        .read(root, &base_uuid)
        .map_err(failed)?
        .ok_or_else(|| Failure::Failed(format!("the layer's base image {base_uuid} is not installed under {root}")))?;
    if !args.output_dir.is_dir() {
        return Err(Failure::Usage(format!("the output directory {} does not exist", args.output_dir.display())));
    }
    let mut journal = args.work.journal(exec, "create", &ImageUuid::new_v4().to_string());
    let log = |line: &str| crate::output::warn(line);
    let created =
        export(&zfs, &db, &mut journal, root, &base.manifest, &described, &args.output_dir, args.compression, &log)
            .map_err(|e| super::failure(exec, e.is_usage(), e.to_string()))?;
    say(created.manifest_path.display().to_string());
    say(created.file.path.display().to_string());
    Ok(0)
}
