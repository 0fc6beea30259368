//! Keeping the cache bounded: least recently used layers go first, down to
//! a size; never a layer a live build holds (its lock), never one that has
//! clones other than layers (an image or analog made from it).

use serde::Serialize;

use super::layer::{now, Layer, Layers};
use crate::pipeline::BuildError;

/// The default bound: the smaller of 20 GiB and a quarter of the free
/// space of the dataset root.
pub fn default_max_size(layers: &Layers) -> Result<u64, BuildError> {
    let available: u64 = layers.zfs.get_one(layers.root, "available")?.and_then(|v| v.parse().ok()).unwrap_or(0);
    Ok((20u64 << 30).min(available / 4))
}

#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    /// Remove least recently used layers until the rest use at most this.
    pub max_size: Option<u64>,
    /// Remove layers not used for this many days.
    pub older_than_days: Option<u64>,
    pub dry_run: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Pruned {
    pub removed: Vec<Layer>,
    /// Would have gone, but a build uses them.
    pub in_use: Vec<Layer>,
    pub size_before: u64,
    pub size_after: u64,
}

/// Prunes the layers under `layers.root` in pool `pool`.
pub fn prune(layers: &Layers, pool: &str, opts: &PruneOptions) -> Result<Pruned, BuildError> {
    let all = layers.list()?; // least recently used first
    let size_before: u64 = all.iter().map(|l| l.size).sum();
    let mut pruned = Pruned { size_before, size_after: size_before, ..Pruned::default() };
    let cutoff = opts.older_than_days.map(|d| now().saturating_sub(d * 86_400));
    for layer in all {
        // Not used since the cutoff: with 0 days, every layer, also one used
        // within this second (timestamps are whole seconds).
        let too_old = cutoff.is_some_and(|c| layer.last_used <= c);
        let too_big = opts.max_size.is_some_and(|max| pruned.size_after > max);
        if !too_old && !too_big {
            continue;
        }
        let removed = opts.dry_run || layers.remove(&layer, pool)?;
        if removed {
            pruned.size_after -= layer.size.min(pruned.size_after);
            pruned.removed.push(layer);
        } else {
            pruned.in_use.push(layer);
        }
    }
    Ok(pruned)
}

/// After a build: prune to `--cache-max-size` (or the default); a failure
/// to prune is logged, never the build's failure.
pub fn after_build(build: &crate::pipeline::Build) {
    let opts = build.opts;
    if opts.cache.mode == super::CacheMode::Off {
        return;
    }
    let layers = Layers { zfs: build.zfs, db: build.db, root: &opts.root, lock_dir: &opts.lock_dir };
    let pool = opts.root.split('/').next().unwrap_or(&opts.root);
    let result = opts
        .cache
        .max_size
        .map_or_else(|| default_max_size(&layers), Ok)
        .and_then(|max| prune(&layers, pool, &PruneOptions { max_size: Some(max), ..PruneOptions::default() }));
    match result {
        Ok(p) if !p.removed.is_empty() => build.log(&format!(
            "Pruned {} cache layers ({} bytes -> {} bytes)",
            p.removed.len(),
            p.size_before,
            p.size_after
        )),
        Ok(_) => {}
        Err(e) => build.log(&format!("Pruning the layer cache failed: {e}")),
    }
}
