//! `buildy list`, `buildy get`, `buildy delete`: imgadm's views of the
//! installed images (its database records whose dataset exists).

use imgcreate::host::exec::Exec;
use imgcreate::image::db::ImageRecord;
use imgcreate::image::model::ImageUuid;
use imgmanifest::js;
use serde_json::{json, Value};

use super::ImageStore;
use crate::output::say;
use crate::Failure;

/// List the installed images (imgadm list).
#[derive(clap::Args)]
pub struct ListArgs {
    /// The dataset root images live under.
    #[arg(long, env = "BUILDY_ROOT", default_value = "zones")]
    root: String,
    /// The records as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: ImageStore,
}

/// Print an installed image's record (imgadm get).
#[derive(clap::Args)]
pub struct GetArgs {
    uuid: String,
    /// The dataset root images live under.
    #[arg(long, env = "BUILDY_ROOT", default_value = "zones")]
    root: String,
    #[command(flatten)]
    store: ImageStore,
}

/// Delete an installed image: its dataset, then its record (imgadm delete).
#[derive(clap::Args)]
pub struct DeleteArgs {
    uuid: String,
    /// The dataset root images live under.
    #[arg(long, env = "BUILDY_ROOT", default_value = "zones")]
    root: String,
    #[command(flatten)]
    store: ImageStore,
}

/// Installed images under `root`, sorted as imgadm sorts them (by
/// `published_at`, then name).
fn installed(exec: &Exec, store: &ImageStore, root: &str) -> Result<Vec<ImageRecord>, Failure> {
    let zfs = store.zfs(exec);
    let records = store.db().list(root).map_err(|e| Failure::Failed(e.to_string()))?;
    let mut found = Vec::new();
    for r in records {
        if zfs.exists(&format!("{root}/{}", r.manifest.uuid)).map_err(|e| Failure::Failed(e.to_string()))? {
            found.push(r);
        }
    }
    found.sort_by_key(|r| (js::text(r.manifest.json().get("published_at")), r.manifest.name.clone()));
    Ok(found)
}

fn record_json(r: &ImageRecord) -> Value {
    let mut v = json!({"manifest": r.manifest.json(), "zpool": r.zpool});
    if let Some(source) = &r.source {
        v["source"] = json!(source);
    }
    v
}

pub fn list(exec: &Exec, args: ListArgs) -> Result<u8, Failure> {
    let records = installed(exec, &args.store, &args.root)?;
    if args.json {
        let all: Vec<Value> = records.iter().map(record_json).collect();
        say(serde_json::to_string_pretty(&all).expect("JSON serializes"));
        return Ok(0);
    }
    let text = |r: &ImageRecord, k: &str| js::text(r.manifest.json().get(k));
    let rows: Vec<[String; 6]> = records
        .iter()
        .map(|r| {
            let published = text(r, "published_at").chars().take(10).collect();
            [
                r.manifest.uuid.to_string(),
                r.manifest.name.clone(),
                r.manifest.version.clone(),
                text(r, "os"),
                text(r, "type"),
                published,
            ]
        })
        .collect();
    let header = ["UUID", "NAME", "VERSION", "OS", "TYPE", "PUB"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        say(cells.join("  ").trim_end());
    }
    Ok(0)
}

fn parse(uuid: &str) -> Result<ImageUuid, Failure> {
    uuid.parse().map_err(|e| Failure::Usage(format!("{e}: give an installed image's uuid")))
}

pub fn get(exec: &Exec, args: GetArgs) -> Result<u8, Failure> {
    let uuid = parse(&args.uuid)?;
    let record = installed(exec, &args.store, &args.root)?.into_iter().find(|r| r.manifest.uuid == uuid);
    let record = record.ok_or_else(|| Failure::Usage(format!("image {uuid} is not installed under {}", args.root)))?;
    say(serde_json::to_string_pretty(&record_json(&record)).expect("JSON serializes"));
    Ok(0)
}

pub fn delete(exec: &Exec, args: DeleteArgs) -> Result<u8, Failure> {
    let uuid = parse(&args.uuid)?;
    let zfs = args.store.zfs(exec);
    let dataset = format!("{}/{uuid}", args.root);
    let failed = |e: &dyn std::fmt::Display| Failure::Failed(e.to_string());
    if !zfs.exists(&dataset).map_err(|e| failed(&e))? {
        return Err(Failure::Usage(format!("image {uuid} is not installed under {} (no {dataset})", args.root)));
    }
    let pool = args.root.split('/').next().unwrap_or(&args.root);
    let clones = zfs.clones_of(pool, &dataset).map_err(|e| failed(&e))?;
    if !clones.is_empty() {
        return Err(Failure::Usage(format!(
            "image {uuid} has dependent clones ({}): delete those first",
            clones.join(", ")
        )));
    }
    crate::signals::catch(exec);
    zfs.destroy(&dataset, true).map_err(|e| failed(&e))?;
    args.store.db().remove(&args.root, &uuid).map_err(|e| failed(&e))?;
    say(format!("Deleted image {uuid}"));
    Ok(0)
}
