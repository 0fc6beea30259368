//! `buildy import`: an image and the origins it needs, from image servers,
//! as `imgadm import`.

use imgcreate::host::exec::Exec;
use imgcreate::host::lock::DEFAULT_LOCK_DIR;
use imgcreate::image::model::ImageUuid;
use imgcreate::source::import::{import, ImportOptions};
use serde_json::json;

use super::{DownloadProgress, ImageStore, WorkDir};
use crate::output::{say, warn};
use crate::Failure;

/// Import an image, with its origin chain, from image servers (IMGAPI).
#[derive(clap::Args)]
pub struct Args {
    /// An IMGAPI source to ask (repeatable, in order); replaces the
    /// configured ones (buildy sources).
    #[arg(short = 'S', long = "source", value_name = "URL")]
    sources: Vec<String>,
    /// The channel to ask every source in.
    #[arg(short = 'C', long = "channel")]
    channel: Option<String>,
    /// The dataset root images live under.
    #[arg(long, env = "BUILDY_ROOT", default_value = "zones")]
    root: String,
    /// Only the result lines.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: ImageStore,
    #[command(flatten)]
    work: WorkDir,
    /// The image.
    uuid: String,
}

pub fn run(exec: &Exec, args: Args) -> Result<u8, Failure> {
    let uuid: ImageUuid = args.uuid.parse().map_err(|e| Failure::Usage(format!("{e}: give the image's uuid")))?;
    let sources = super::import_sources(args.store.db_dir(), &args.sources, args.channel.as_deref())?;
    let opts = ImportOptions {
        root: args.root.clone(),
        lock_dir: DEFAULT_LOCK_DIR.into(),
        work_dir: args.work.work_dir.clone(),
        sources,
        client: super::client_options(),
        parallel: 5,
    };
    crate::signals::catch(exec);
    let quiet = args.quiet || args.json;
    let log = |line: &str| {
        if !quiet {
            warn(line);
        }
    };
    let progress = DownloadProgress::new(!quiet);
    let shown = progress.clone();
    let report = std::sync::Arc::new(move |u: &ImageUuid, done, total| shown.update(&u.to_string(), done, total));
    let mut journal = args.work.journal(exec, "import", &uuid.to_string());
    let result = import(&args.store.zfs(exec), &args.store.db(), &mut journal, uuid, &opts, &log, report);
    progress.finish();
    // (The journal goes by itself once it names nothing: after a failed
    // undo it stays, for `buildy cleanup`.)
    let imported = result.map_err(|e| super::failure(exec, e.is_usage(), format!("{e}; nothing was imported")))?;
    if args.json {
        let installed: Vec<_> = imported
            .installed
            .iter()
            .map(|i| json!({"uuid": i.uuid.to_string(), "name": i.name, "version": i.version, "dataset": i.dataset, "source": i.source}))
            .collect();
        say(json!({"uuid": uuid.to_string(), "installed": installed, "already_installed": imported.already_installed}));
        return Ok(0);
    }
    if imported.installed.is_empty() {
        say(format!("Image {uuid} is already installed as {}/{uuid}", args.root));
    }
    for i in &imported.installed {
        say(format!("Imported image {} ({}@{}) from {} as {}", i.uuid, i.name, i.version, i.source, i.dataset));
    }
    Ok(0)
}
