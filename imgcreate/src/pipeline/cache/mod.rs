//! The layer cache: a build's steps grouped into layers (packages, proto
//! copy, then the finalize steps, which are never cached), each stored as
//! an installable image keyed by its chained inputs (`key.rs`), so that a
//! build resumes from the deepest layer it has, and a miss says which input
//! changed. The layer order is in `order.rs`, the proto tree's hash in
//! `hash.rs`, layers on this host in `layer.rs`, on an IMGAPI in
//! `remote.rs`, pruning in `prune.rs`.

pub mod copy;
pub mod delta;
pub mod export;
pub mod hash;
pub mod key;
pub mod layer;
pub mod order;
pub mod prune;
pub mod remote;
pub mod repo;

use std::time::Instant;

use serde::Serialize;

use self::hash::ProtoIndex;
use self::key::{Inputs, Key};
use self::layer::{Described, Layers, Outputs, Stored};
use self::order::Order;
use super::steps::{self, resume::Resume};
use super::{io_error, run_step, Build, BuildError, Step};
use crate::source::Source;

/// `--no-cache`, the default, `--cache-strict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheMode {
    Off,
    #[default]
    On,
    /// A layer that would be rebuilt is an error.
    Strict,
}

#[derive(Debug, Clone, Default)]
pub struct CacheOptions {
    pub mode: CacheMode,
    /// Prune least recently used layers beyond this after a build (`None`:
    /// the smaller of 20 GiB and a quarter of the root's free space).
    pub max_size: Option<u64>,
    /// `--cache-to`: publish each new layer there.
    pub to: Option<Source>,
    /// `--cache-from`: probe these for layers this host lacks.
    pub from: Vec<Source>,
    /// The user and key that sign `--cache-to` requests.
    pub signer: Option<(String, std::path::PathBuf)>,
}

/// A cached layer of the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Packages,
    Proto,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Packages => "packages",
            Kind::Proto => "proto",
        }
    }

    /// The steps that make the layer.
    fn steps(self) -> Vec<Box<dyn Step>> {
        match self {
            Kind::Packages => vec![
                Box::new(steps::mount::Mount),
                Box::new(steps::packages::Packages),
                Box::new(steps::unmount::Unmount),
            ],
            Kind::Proto => vec![Box::new(steps::copy::Copy)],
        }
    }
}

/// What the cache did for the steps that run next: `hit`, `miss` or `off`,
/// the layer's uuid and, on a miss, what changed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StepCache {
    pub cache: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
}

impl StepCache {
    pub fn off() -> StepCache {
        StepCache { cache: "off", layer: None, changed: Vec::new() }
    }
}

/// Runs the layers' steps, from the deepest cached one on, storing each
/// new layer; the analog then holds the tree the finalize steps work on.
pub fn run_layers(build: &mut Build) -> Result<(), BuildError> {
    if build.opts.cache.mode == CacheMode::Off {
        build.log("Layer cache: off (--no-cache)");
        for step in [Box::new(steps::clone::Clone) as Box<dyn Step>]
            .into_iter()
            .chain(Kind::Proto.steps())
            .chain(Kind::Packages.steps())
        {
            run_step(build, step.as_ref())?;
        }
        return Ok(());
    }
    let proto = hash_proto(build)?;
    let mut order = order::initial(&proto.entries);
    loop {
        build.log(&format!("Layer order: {}", order.why));
        match run_in(build, &order, &proto)? {
            None => return Ok(()),
            Some(conflict) => {
                // Start again from the base in buildimage's order.
                build.log(&format!("Starting again in buildimage's order: {conflict}"));
                run_step(build, &steps::destroy::Destroy)?;
                order = Order::buildimage(conflict);
            }
        }
    }
}

/// The proto tree's index, timed as the build's `hash` step.
fn hash_proto(build: &mut Build) -> Result<ProtoIndex, BuildError> {
    let start = Instant::now();
    let opts = build.opts;
    let stat_cache = hash::stat_cache_path(&opts.work_dir, &opts.proto_dir);
    let proto = hash::hash_tree(&opts.proto_dir, Some(&stat_cache))
        .map_err(io_error(format!("hashing the proto directory {}", opts.proto_dir.display())))?;
    build.proto_digest = proto.digest.clone();
    let seconds = start.elapsed().as_secs_f64();
    build.log(&format!(
        "Hashed the proto dir: {} entries, {} files read, digest {} ({seconds:.3} s)",
        proto.entries.len(),
        proto.read,
        &proto.digest[..16]
    ));
    build.record_time("hash", seconds, StepCache::off());
    Ok(proto)
}

/// One layer of this build: its kind, and its inputs and key once known.
struct Planned {
    kind: Kind,
    inputs: Option<Inputs>,
    key: Option<Key>,
    /// Why the layer cannot be cached (its inputs cannot be known).
    off: Option<String>,
}

/// The build's layers in `order`; `Some(conflict)` if packages-first
/// turned out not to be equivalent (the analog is then to be discarded).
fn run_in(build: &mut Build, order: &Order, proto: &ProtoIndex) -> Result<Option<String>, BuildError> {
    let base_sha1 = build.base.file.as_ref().map(|f| f.sha1.clone()).unwrap_or_default();
    let root = Key::root(&build.base.uuid, &base_sha1);
    let (zfs, db, opts) = (build.zfs, build.db, build.opts);
    let layers = Layers { zfs, db, root: &opts.root, lock_dir: &opts.lock_dir };
    let stored = layers.stored()?;
    let servers = remote::Servers::new(build);

    // Keys known before any tree exists.
    let mut planned = plan(build, &stored, order, &root, None);
    // A packages layer's repositories are only known from a tree: with no
    // layer here to learn them from, a server may still have it, so look
    // at the base image's tree (the analog a miss needs anyway).
    let mut cloned = false;
    if planned.iter().any(|l| l.key.is_none() && l.off.is_none()) && !opts.cache.from.is_empty() {
        run_step(build, &steps::clone::Clone)?;
        cloned = true;
        let tree = build.root();
        planned = plan(build, &stored, order, &root, Some(&tree));
    }

    // The deepest layer this host (or a --cache-from server) has.
    let mut hit = None;
    for (i, layer) in planned.iter().enumerate().rev() {
        let Some(key) = &layer.key else { continue };
        if let Some(described) = layers.probe(key)? {
            hit = Some((i, described));
            break;
        }
        if let Some(described) = servers.fetch(build, &layers, key)? {
            hit = Some((i, described));
            break;
        }
    }
    let mut outputs = Outputs::default();
    let mut sibling: Option<(Described, delta::Delta)> = None;
    let start = match hit {
        Some((i, described)) => {
            let uuid = described.key.uuid();
            for layer in &planned[..=i] {
                let hit = StepCache {
                    cache: "hit",
                    layer: Some(layer.key.as_ref().expect("probed").uuid().to_string()),
                    changed: Vec::new(),
                };
                for step in layer.kind.steps() {
                    build.record_time(step.reported_as(), 0.0, hit.clone());
                }
                build.log(&format!(
                    "Layer {} ({}): cache hit",
                    layer.key.as_ref().expect("probed").uuid(),
                    layer.kind.name()
                ));
            }
            if cloned {
                run_step(build, &steps::destroy::Destroy)?;
            }
            // Packages first and the proto layer missed: start from a proto
            // layer on the same parent, if there is one, and copy the change.
            let next_is_proto = planned.get(i + 1).is_some_and(|l| l.kind == Kind::Proto) && order.is_packages_first();
            sibling = if next_is_proto { proto_sibling(&layers, &stored, &described.key, proto)? } else { None };
            let from = sibling.as_ref().map_or(uuid, |(s, _)| s.key.uuid());
            run_step(build, &Resume { layer: from })?;
            layers.touch(&from)?;
            outputs = described.outputs.clone();
            build.packages.installed = outputs.packages.clone();
            build.packages.audit_report = outputs.audit.clone();
            i + 1
        }
        None => {
            if !cloned {
                run_step(build, &steps::clone::Clone)?;
            }
            0
        }
    };

    let mut parent = if start == 0 { Some(root) } else { planned[start - 1].key.clone() };
    for layer in planned.into_iter().skip(start) {
        if layer.kind == Kind::Proto && order.is_packages_first() {
            // Only new paths can clash with the parent's tree when starting
            // from a sibling (its own paths passed this check).
            let new_only: Vec<hash::Entry>;
            let checked = match &sibling {
                Some((_, d)) => {
                    new_only = proto.entries.iter().filter(|e| d.added.contains(&e.path)).cloned().collect();
                    &new_only[..]
                }
                None => &proto.entries[..],
            };
            if let Some(conflict) = order::overlap(checked, &build.root()) {
                return Ok(Some(conflict));
            }
        }
        let (inputs, off) = match (&parent, layer.inputs, layer.off) {
            (_, Some(inputs), _) => (Some(inputs), None),
            (_, None, Some(off)) => (None, Some(off)),
            (Some(_), None, None) => match tree_inputs(build, layer.kind) {
                Ok(inputs) => (Some(inputs), None),
                Err(why) => (None, Some(why)),
            },
            (None, None, None) => (None, Some("a layer before it is not cached".to_string())),
        };
        let key = parent.as_ref().zip(inputs.as_ref()).map(|(p, i)| Key::layer(p, layer.kind.name(), i));
        let state = match (&key, &inputs) {
            (Some(key), Some(inputs)) => {
                let changed = explain(&stored, layer.kind, parent.as_ref().expect("keyed"), inputs, proto);
                build.log(&format!("Layer {} ({}): cache miss: {}", key.uuid(), layer.kind.name(), changed.join("; ")));
                if opts.cache.mode == CacheMode::Strict {
                    return Err(BuildError::CacheStrict { layer: layer.kind.name(), changed: changed.join("; ") });
                }
                StepCache { cache: "miss", layer: Some(key.uuid().to_string()), changed }
            }
            _ => {
                let why = off.unwrap_or_default();
                build.log(&format!("Layer {}: not cached: {why}", layer.kind.name()));
                StepCache { cache: "off", layer: None, changed: vec![why] }
            }
        };
        build.step_cache = state;
        match sibling.take().filter(|_| layer.kind == Kind::Proto) {
            Some((from, delta)) => {
                build.log(&format!(
                    "Layer {} (proto): made from layer {} and {} changed entries",
                    key_text(&key),
                    from.key.uuid(),
                    delta.changed
                ));
                run_step(build, &steps::copy_delta::CopyDelta { delta })?;
            }
            None => {
                for step in layer.kind.steps() {
                    run_step(build, step.as_ref())?;
                }
            }
        }
        build.step_cache = StepCache::off();
        if layer.kind == Kind::Packages {
            outputs.packages = build.packages.installed.clone();
            outputs.audit = build.packages.audit_report.clone();
        }
        if let (Some(key), Some(inputs)) = (&key, inputs) {
            let described = Described {
                key: key.clone(),
                parent: parent.clone().expect("keyed"),
                kind: layer.kind.name().to_string(),
                inputs,
                outputs: outputs.clone(),
                proto: (layer.kind == Kind::Proto).then(|| hash::entries_to_text(&proto.entries)),
            };
            let start = Instant::now();
            layer::store(build, &described)?;
            remote::publish(build, &described);
            build.record_time("store", start.elapsed().as_secs_f64(), StepCache::off());
        }
        parent = key;
    }
    Ok(None)
}

/// The layers in `order` with their inputs and keys as far as they can be
/// known: with `base_tree` (the base image's tree), all of them.
fn plan(
    build: &Build,
    stored: &Stored,
    order: &Order,
    root: &Key,
    base_tree: Option<&std::path::Path>,
) -> Vec<Planned> {
    let mut planned = Vec::new();
    let mut parent = Some(root.clone());
    for &kind in &order.kinds {
        let (inputs, off) = match &parent {
            Some(p) => match static_inputs(build, stored, kind, p, base_tree) {
                Ok(inputs) => (inputs, None),
                Err(why) => (None, Some(why)),
            },
            None => (None, None),
        };
        let key = parent.as_ref().zip(inputs.as_ref()).map(|(p, i)| Key::layer(p, kind.name(), i));
        parent = key.clone();
        planned.push(Planned { kind, inputs, key, off });
    }
    planned
}

/// A layer's inputs from its steps, known before its tree exists; the
/// packages layer's repositories come from the base image's tree with the
/// proto dir over it (in buildimage's order packages see both; packages
/// first, the proto dir has no pkgsrc configuration), or else from a
/// stored layer on the same parent (same parent, same tree, same
/// configuration). `Ok(None)`: only the tree can tell.
fn static_inputs(
    build: &Build,
    stored: &Stored,
    kind: Kind,
    parent: &Key,
    base_tree: Option<&std::path::Path>,
) -> Result<Option<Inputs>, String> {
    let mut inputs = step_inputs(build, kind);
    if let (Kind::Packages, Some(tree)) = (kind, base_tree) {
        let urls = repo::remote_repositories_in(&[&build.opts.proto_dir, tree]);
        add_repositories(build, &mut inputs, &urls)?;
    } else if kind == Kind::Packages {
        let Some(sibling) = stored.on_parent(kind.name(), parent) else {
            return Ok(None);
        };
        let urls: Vec<String> = sibling
            .inputs
            .get("repository urls")
            .unwrap_or("")
            .split(' ')
            .filter(|u| !u.is_empty())
            .map(str::to_string)
            .collect();
        add_repositories(build, &mut inputs, &urls)?;
    }
    Ok(Some(inputs))
}

fn key_text(key: &Option<Key>) -> String {
    key.as_ref().map_or_else(|| "(not cached)".to_string(), |k| k.uuid().to_string())
}

/// The most recently used complete proto layer on `parent` with a proto
/// index, and the delta from it to `proto`; `None` if there is none, or
/// no delta can stand for a whole copy.
fn proto_sibling(
    layers: &Layers,
    stored: &Stored,
    parent: &Key,
    proto: &ProtoIndex,
) -> Result<Option<(Described, delta::Delta)>, BuildError> {
    let Some(sibling) = stored.on_parent(Kind::Proto.name(), parent) else {
        return Ok(None);
    };
    let Some(text) = &sibling.proto else { return Ok(None) };
    if layers.probe(&sibling.key)?.is_none() {
        return Ok(None);
    }
    Ok(delta::delta(&hash::entries_from_text(text), &proto.entries).ok().map(|d| (sibling.clone(), d)))
}

/// A layer's inputs once the analog holds its parent's tree.
fn tree_inputs(build: &Build, kind: Kind) -> Result<Inputs, String> {
    let mut inputs = step_inputs(build, kind);
    if kind == Kind::Packages {
        let urls = repo::remote_repositories(&build.root());
        add_repositories(build, &mut inputs, &urls)?;
    }
    Ok(inputs)
}

fn step_inputs(build: &Build, kind: Kind) -> Inputs {
    let mut inputs = Inputs::default();
    for step in kind.steps() {
        for (name, value) in step.inputs(build) {
            inputs.insert(name, value);
        }
    }
    inputs
}

/// The repositories' identity, when packages are installed at all.
fn add_repositories(build: &Build, inputs: &mut Inputs, urls: &[String]) -> Result<(), String> {
    inputs.insert("repository urls", urls.join(" "));
    let installs = build.opts.upgrade_first || !build.opts.packages.is_empty() || build.opts.audit;
    let identity = if urls.is_empty() || !installs {
        String::new()
    } else {
        repo::identity(build.exec(), &build.opts.client, urls)
            .map_err(|e| format!("the package repository's content cannot be identified: {e}"))?
    };
    inputs.insert("package repository summary", identity);
    Ok(())
}

/// Why `inputs` on `parent` miss: against the nearest stored layer of the
/// same kind, one line per changed input.
fn explain(stored: &Stored, kind: Kind, parent: &Key, inputs: &Inputs, proto: &ProtoIndex) -> Vec<String> {
    let Some(nearest) = stored.nearest(kind.name(), parent) else {
        return vec![format!("no {} layer is cached yet", kind.name())];
    };
    let mut changed = Vec::new();
    if &nearest.parent != parent {
        changed.push("the layers before it changed".to_string());
    }
    if nearest.inputs.get("package repository summary") != inputs.get("package repository summary") {
        changed.push("package repository summary changed".to_string());
    }
    changed.extend(key::diff(&nearest.inputs, inputs, &["proto", "package repository summary", "repository urls"]));
    if nearest.inputs.get("proto") != inputs.get("proto") {
        changed.push(match &nearest.proto {
            Some(text) => hash::describe_changes(&hash::entries_from_text(text), &proto.entries),
            None => "proto: content changed".to_string(),
        });
    }
    if changed.is_empty() {
        changed.push("the same inputs as a layer that is no longer complete".to_string());
    }
    changed
}
