//! `buildy sources`: imgadm's list of image sources in `<db>/imgadm.conf`
//! (shared with the platform's imgadm): list, add (`-a`, pinged first;
//! `-k`: no TLS verification for it), delete (`-d`).

use std::path::PathBuf;

use imgcreate::host::exec::Exec;
use imgcreate::source::imgapi::{Client, ClientOptions};
use imgcreate::source::sources::Config;
use imgcreate::source::Source;
use serde_json::json;

use crate::output::{say, warn};
use crate::Failure;

/// List, add or delete image sources (imgadm.conf).
#[derive(clap::Args)]
pub struct Args {
    /// Add this IMGAPI source (it is pinged first).
    #[arg(short = 'a', long = "add", value_name = "URL")]
    add: Option<String>,
    /// With -a: do not verify the source's TLS certificate.
    #[arg(short = 'k', long, requires = "add")]
    insecure: bool,
    /// Delete this source.
    #[arg(short = 'd', long = "delete", value_name = "URL", conflicts_with = "add")]
    delete: Option<String>,
    /// imgadm's database directory (imgadm.conf is in it).
    #[arg(long, env = "BUILDY_DB", default_value = imgcreate::image::db::DEFAULT_DB_DIR)]
    db: PathBuf,
    /// Print the sources as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(exec: &Exec, args: Args) -> Result<u8, Failure> {
    let usage = |e: &dyn std::fmt::Display| Failure::Usage(e.to_string());
    let mut conf = Config::read(&args.db).map_err(|e| usage(&e))?;
    if let Some(url) = &args.add {
        let source = Source::parse(url, args.insecure).map_err(|e| usage(&e))?;
        let client = Client::new(exec, &source, None, ClientOptions { attempts: 1, ..ClientOptions::default() });
        client
            .ping()
            .map_err(|e| Failure::Usage(format!("source {} does not answer as an IMGAPI: {e}", source.url)))?;
        conf.add(&source);
        conf.save().map_err(|e| Failure::Failed(e.to_string()))?;
        say(format!("Added source \"{}\"", source.url));
    } else if let Some(url) = &args.delete {
        let source = Source::parse(url, false).map_err(|e| usage(&e))?;
        conf.delete(&source).map_err(|e| usage(&e))?;
        conf.save().map_err(|e| Failure::Failed(e.to_string()))?;
        say(format!("Deleted source \"{}\"", source.url));
    }
    if args.add.is_some() || args.delete.is_some() {
        return Ok(0);
    }
    let (sources, warnings) = conf.sources();
    for w in warnings {
        warn(format!("buildy: {w}"));
    }
    if args.json {
        let list: Vec<_> = sources
            .iter()
            .map(|s| json!({"url": s.url, "channel": s.channel, "type": "imgapi", "insecure": s.insecure}))
            .collect();
        say(serde_json::to_string_pretty(&list).expect("JSON serializes"));
    } else {
        for s in sources {
            let channel = s.channel.map(|c| format!("?channel={c}")).unwrap_or_default();
            say(format!("{}{channel}{}", s.url, if s.insecure { " (insecure)" } else { "" }));
        }
    }
    Ok(0)
}
