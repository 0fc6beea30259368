//! `buildy build` (also `buildy -i ... -d ... -m ...`): the whole image
//! build, a drop-in for Triton's `buildimage` with its flags and outputs.

use std::path::PathBuf;

use imgcreate::host::exec::Exec;
use imgcreate::image::model::FileCompression;
use imgcreate::pipeline::cache::{CacheMode, CacheOptions};
use imgcreate::pipeline::{build, valid_packages, BuildOptions, ChrootMount};
use imgcreate::source::Source;
use serde_json::{json, Value};

use super::ImageStore;
use crate::output::{say, Log};
use crate::Failure;

/// Build an image: clone the base image, copy DIR into its root, install
/// packages in a chroot, clean up, create the image (buildimage's drop-in).
#[derive(clap::Args)]
pub struct Args {
    /// The base (origin) image; it must be installed under the dataset root.
    #[arg(short = 'i', long = "image", value_name = "UUID")]
    image: String,
    /// The proto directory, copied into the image's root/.
    #[arg(short = 'd', long = "dir", value_name = "DIR")]
    dir: PathBuf,
    /// Manifest data, a JSON object with at least name and version.
    #[arg(short = 'm', long = "manifest", value_name = "JSON")]
    manifest: String,
    /// pkgsrc packages to install, comma separated.
    #[arg(short = 'p', long = "packages", value_name = "a,b,c")]
    packages: Option<String>,
    /// `pkgin update` and `pkgin -y full-upgrade` first.
    #[arg(short = 'u', long = "upgrade_first")]
    upgrade_first: bool,
    /// Audit the packages; the report is saved as <prefix>-<version>.pkgaudit.
    #[arg(short = 'a', long = "pkg_audit")]
    pkg_audit: bool,
    /// Write root/etc/motd from the name, version, source repo and base image.
    #[arg(short = 'M', long = "motd")]
    motd: bool,
    /// The source repository URL for the motd.
    #[arg(short = 'S', long = "source_repo", value_name = "URL")]
    source_repo: Option<String>,
    /// Output prefix: outputs are <output-dir>/<PREFIX>-<version>.* (default: the name).
    #[arg(short = 'P', long = "image_prefix", value_name = "PREFIX")]
    image_prefix: Option<String>,
    /// rsync -vaP instead of -a.
    #[arg(short = 'v', long = "verbose")]
    verbose: bool,
    /// The dataset root images live under (default: zones/<zonename>/data in a SmartOS zone).
    #[arg(long, env = "BUILDY_ROOT")]
    root: Option<String>,
    /// Where the outputs are written (buildimage: /tmp).
    #[arg(long, default_value = "/tmp")]
    output_dir: PathBuf,
    /// Where the zone analog is mounted and build journals are kept.
    #[arg(long, env = "BUILDY_WORK_DIR", default_value = "/var/tmp")]
    work_dir: PathBuf,
    /// A host directory to mount in the chroot, SRC[:DST]; replaces the default set
    /// (illumos: /dev /lib /proc /sbin /usr read-only; Linux: /dev /proc).
    #[arg(long = "chroot-mount", value_name = "SRC[:DST]")]
    chroot_mounts: Vec<String>,
    /// none, gzip, bzip2 or xz.
    #[arg(short = 'c', long, default_value = "gzip", value_parser = super::parse_compression)]
    compression: FileCompression,
    /// Print one JSON object at the end (log lines go to stderr).
    #[arg(long)]
    json: bool,
    /// Where to import the base image from if it is not installed
    /// (repeatable, in order; default: https://updates.tritondatacenter.com, as buildimage).
    #[arg(long = "source", value_name = "URL")]
    sources: Vec<String>,
    /// The channel to import the base image from (default: the server's).
    #[arg(short = 'C', long = "channel")]
    channel: Option<String>,
    /// Build every layer again and store nothing (the layer cache off).
    #[arg(long, conflicts_with = "cache_strict")]
    no_cache: bool,
    /// Fail (exit 1, naming the layer and what changed) instead of building
    /// a layer the cache does not have.
    #[arg(long)]
    cache_strict: bool,
    /// Prune least recently used layers beyond this after the build (e.g. 20G;
    /// default: the smaller of 20 GiB and a quarter of the root's free space).
    #[arg(long, value_name = "SIZE", value_parser = super::parse_size)]
    cache_max_size: Option<u64>,
    /// Publish each new layer to this IMGAPI as it is built.
    #[arg(long, value_name = "URL")]
    cache_to: Option<String>,
    /// Ask this IMGAPI for layers this host lacks (repeatable, in order).
    #[arg(long, value_name = "URL")]
    cache_from: Vec<String>,
    /// Sign --cache-to requests as this user (with --cache-key).
    #[arg(long, requires = "cache_key", value_name = "USER")]
    cache_user: Option<String>,
    /// The --cache-user's RSA ssh private key.
    #[arg(long, requires = "cache_user", value_name = "FILE")]
    cache_key: Option<PathBuf>,
    #[command(flatten)]
    store: ImageStore,
}

pub fn run(exec: &Exec, args: Args) -> Result<u8, Failure> {
    let log = Log::new(exec, args.json);
    let usage = |s: String| Failure::Usage(s);
    let manifest = match serde_json::from_str(&args.manifest) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err(usage("the manifest (-m) must be a JSON object".into())),
        Err(e) => return Err(usage(format!("failed to parse the manifest (-m): {e}"))),
    };
    let packages = match &args.packages {
        Some(p) if !valid_packages(p) => {
            return Err(usage(format!("invalid packages \"{p}\": use names like a,b-1.0,c (letters, digits, -_.+)")))
        }
        Some(p) => p.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
        None => Vec::new(),
    };
    let chroot_mounts = if args.chroot_mounts.is_empty() {
        ChrootMount::defaults()
    } else {
        args.chroot_mounts
            .iter()
            .map(|m| {
                ChrootMount::parse(m)
                    .ok_or_else(|| usage(format!("--chroot-mount \"{m}\" is not SRC[:DST] with absolute paths")))
            })
            .collect::<Result<_, _>>()?
    };
    let root = match args.root.clone().or_else(|| zone_root(exec)) {
        Some(r) => r,
        None => return Err(usage("no dataset root: give --root DATASET (or set BUILDY_ROOT)".into())),
    };
    let prefix = args.image_prefix.clone().unwrap_or_else(|| imgmanifest::js::text(manifest.get("name")));
    let opts = BuildOptions {
        image: args.image.clone(),
        proto_dir: args.dir.clone(),
        manifest,
        packages,
        upgrade_first: args.upgrade_first,
        audit: args.pkg_audit,
        motd: args.motd,
        source_repo: args.source_repo.clone(),
        prefix,
        verbose: args.verbose,
        root,
        output_dir: args.output_dir.clone(),
        work_dir: args.work_dir.clone(),
        chroot_mounts,
        compression: args.compression,
        platform_stamp: smartos_platform_stamp(exec),
        sources: build_sources(&args.sources, args.channel.as_deref())?,
        client: super::client_options(),
        lock_dir: imgcreate::host::lock::DEFAULT_LOCK_DIR.into(),
        cache: cache_options(&args)?,
    };
    crate::signals::catch(exec);
    let result = build(&args.store.zfs(exec), &args.store.db(), &opts, &|line| log.line(line));
    let built = match result {
        Ok(built) => built,
        Err(e) => {
            log.line(&format!("Build failed: {e}"));
            return Err(super::failure(exec, e.is_usage(), e.to_string()));
        }
    };
    log.line("Build complete");
    if args.json {
        let out = json!({
            "manifest_path": built.manifest_path,
            "file": built.file,
            "pkgaudit": built.pkgaudit,
            "manifest": built.manifest,
            "packages": built.packages,
            "steps": built.steps,
            "seconds": log.seconds(),
        });
        say(out);
    }
    Ok(0)
}

fn cache_options(args: &Args) -> Result<CacheOptions, Failure> {
    let source = |url: &String| Source::parse(url, false).map_err(|e| Failure::Usage(e.to_string()));
    let mode = match (args.no_cache, args.cache_strict) {
        (true, _) => CacheMode::Off,
        (false, true) => CacheMode::Strict,
        (false, false) => CacheMode::On,
    };
    Ok(CacheOptions {
        mode,
        max_size: args.cache_max_size,
        to: args.cache_to.as_ref().map(source).transpose()?,
        from: args.cache_from.iter().map(source).collect::<Result<_, _>>()?,
        signer: args.cache_user.clone().zip(args.cache_key.clone()),
    })
}

/// `--source` URLs, or buildimage's one source (configured sources are not
/// asked, as buildimage does not).
fn build_sources(urls: &[String], channel: Option<&str>) -> Result<Vec<Source>, Failure> {
    let default = [imgcreate::source::sources::BUILDIMAGE_SOURCE.to_string()];
    let urls = if urls.is_empty() { &default[..] } else { urls };
    let sources = urls.iter().map(|u| Source::parse(u, false)).collect::<Result<Vec<_>, _>>();
    let sources = sources.map_err(|e| Failure::Usage(e.to_string()))?;
    Ok(sources.into_iter().map(|s| s.with_channel(channel)).collect())
}

/// In a SmartOS zone, buildimage's (imgadm's) root: `zones/<zonename>/data`.
fn zone_root(exec: &Exec) -> Option<String> {
    imgcreate::host::zone::image_root(exec)
}

/// `joyent_20180807T230146Z` from `uname -v` on SmartOS, as buildimage reads it.
fn smartos_platform_stamp(exec: &Exec) -> Option<String> {
    imgcreate::host::zone::platform_stamp(exec)
}
