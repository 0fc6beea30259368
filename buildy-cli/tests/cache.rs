//! The layer cache: hits, explained misses, layers as installable images,
//! crash safety, a cache shared through the test IMGAPI, strict mode and
//! pruning. Real builds on zfs-fuse.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Command;

use imgapi_testserver::{Config, Mode, Server};
use serde_json::Value;

use crate::util::*;

/// `buildy build ... --json`, successful; its JSON.
fn build_json(t: &TestZfs, args: &[String]) -> Value {
    let mut args = args.to_vec();
    args.push("--json".into());
    let out = run_build(t, &args);
    assert_success(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `(cache, changed)` of the first report line of `step`.
fn cache_of(result: &Value, step: &str) -> (String, String) {
    let steps = result["steps"].as_array().unwrap();
    let s = steps.iter().find(|s| s["step"] == step).unwrap_or_else(|| panic!("no step {step} in {result}"));
    let changed = s["changed"].as_array().map(|c| c.iter().map(|x| x.as_str().unwrap()).collect::<Vec<_>>().join("; "));
    (s["cache"].as_str().unwrap().to_string(), changed.unwrap_or_default())
}

fn layer_of(result: &Value, step: &str) -> String {
    let steps = result["steps"].as_array().unwrap();
    steps.iter().find(|s| s["step"] == step).unwrap()["layer"].as_str().unwrap().to_string()
}

/// Installs a build's image under `root` and mounts it; its root/ directory.
fn installed_root(t: &TestZfs, root: &str, result: &Value, label: &str) -> PathBuf {
    let manifest = PathBuf::from(result["manifest_path"].as_str().unwrap());
    let file = PathBuf::from(result["file"].as_str().unwrap());
    let image = t.install(root, &manifest, &file);
    t.mount_image(&image, label).join("root")
}

#[test]
fn a_changed_proto_file_or_package_rebuilds_only_its_layer_and_says_why() {
    let Some(t) = TestZfs::new("cache-layers") else { return };
    let (images, base) = base_image(&t);
    let a = build_json(&t, &build_args(&t, &images, &base, "svc", &["-p", "hello", "-P", "a"]));
    assert_eq!(cache_of(&a, "packages").0, "miss");
    assert_eq!(cache_of(&a, "copy").0, "miss");

    // B: one proto file changed: the packages layer hits, the proto layer
    // misses naming the file; the image has B's file and A's packages.
    let args = build_args(&t, &images, &base, "svc", &["-p", "hello", "-P", "b"]);
    fs::write(t.dir.join("proto/etc/app.conf"), "port=8080\n").unwrap();
    let b = build_json(&t, &args);
    assert_eq!(cache_of(&b, "packages").0, "hit");
    assert_eq!(cache_of(&b, "copy"), ("miss".into(), "proto: 1 file changed: etc/app.conf".into()));
    let b_root = installed_root(&t, &images, &b, "b");
    assert_eq!(fs::read_to_string(b_root.join("etc/app.conf")).unwrap(), "port=8080\n");
    assert!(b_root.join("opt/local/bin/hello").is_file());

    // C: a package added: the packages layer misses naming it.
    let c = build_json(&t, &build_args(&t, &images, &base, "svc", &["-p", "hello,figlet", "-P", "c"]));
    assert_eq!(cache_of(&c, "packages"), ("miss".into(), "packages: +figlet".into()));

    // D: A's inputs again: every layer hits, only the finalize steps run.
    let d = build_json(&t, &build_args(&t, &images, &base, "svc", &["-p", "hello", "-P", "d"]));
    assert_eq!(cache_of(&d, "packages").0, "hit");
    assert_eq!(cache_of(&d, "copy").0, "hit");
    assert_eq!(layer_of(&d, "copy"), layer_of(&a, "copy"));
    assert_eq!(cache_of(&d, "create").0, "off");

    // The same inputs without the cache: the same tree and manifest, the
    // same origin (the base), installable where the base is.
    let nocache = build_json(&t, &build_args(&t, &images, &base, "svc", &["-p", "hello", "-P", "n", "--no-cache"]));
    assert!(nocache["steps"].as_array().unwrap().iter().all(|s| s["cache"] == "off"), "{nocache}");
    let (cached_root, plain_root) = (installed_root(&t, &images, &d, "d"), installed_root(&t, &images, &nocache, "n"));
    assert_eq!(describe_tree(&cached_root), describe_tree(&plain_root));
    let strip = |m: &Value| {
        let mut m = m.as_object().unwrap().clone();
        for volatile in ["uuid", "published_at", "files"] {
            m.remove(volatile);
        }
        m
    };
    assert_eq!(strip(&d["manifest"]), strip(&nocache["manifest"]));
    assert_eq!(d["manifest"]["origin"], base.as_str());
    assert_eq!(d["packages"], nocache["packages"]);

    // E: a file removed and one added: the proto layer is made from A's and
    // the change, and equals a whole copy.
    let change = |t: &TestZfs| {
        fs::remove_file(t.dir.join("proto/opt/app/bin/run")).unwrap();
        fs::write(t.dir.join("proto/etc/new.conf"), "x=1\n").unwrap();
    };
    let args = build_args(&t, &images, &base, "svc", &["-p", "hello", "-P", "e", "--json"]);
    change(&t);
    let out = run_build(&t, &args);
    assert_success(&out);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains(&format!("made from layer {} and 2 changed entries", layer_of(&a, "copy"))), "{log}");
    let e: Value = serde_json::from_slice(&out.stdout).unwrap();
    let args = build_args(&t, &images, &base, "svc", &["-p", "hello", "-P", "en", "--no-cache"]);
    change(&t);
    let whole = build_json(&t, &args);
    let (e_root, whole_root) = (installed_root(&t, &images, &e, "e"), installed_root(&t, &images, &whole, "en"));
    assert!(!e_root.join("opt/app/bin/run").exists() && e_root.join("etc/new.conf").is_file());
    assert_eq!(describe_tree(&e_root), describe_tree(&whole_root));

    // Layers are images: `buildy list` shows them.
    let list = t.buildy(&["list", "--json", "--root", &images]);
    assert_success(&list);
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(listed.contains(&layer_of(&a, "packages")) && listed.contains("buildy-layer-proto"), "{listed}");
}

#[test]
fn a_build_killed_during_the_proto_copy_keeps_its_packages_layer_and_the_next_resumes_from_it() {
    let Some(t) = TestZfs::new("cache-kill") else { return };
    let (images, base) = base_image(&t);
    let before = (t.everything(), t.files());
    let args = build_args(&t, &images, &base, "svc", &["-p", "hello"]);
    // With --json the log goes to stderr, where the test reads it.
    let mut logged = args.clone();
    logged.push("--json".into());
    let mut child = spawn_build(&t, &logged);
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("Copying files from") {
            child.kill().unwrap();
            break;
        }
    }
    child.wait().unwrap();
    assert!(seen.contains("Stored layer"), "{seen}");
    assert_success(&t.buildy(&["cleanup", "--work-dir", &path(&t.work()), "--root", &t.top]));
    // Only the complete packages layer is left.
    let layers = t.layers();
    assert_eq!(layers.len(), 1, "{layers:?}");
    assert_nothing_left(&t, &before);
    let next = build_json(&t, &args);
    assert_eq!(cache_of(&next, "packages").0, "hit");
    assert_eq!(layer_of(&next, "packages"), layers[0]);
    assert_eq!(cache_of(&next, "copy").0, "miss");
}

#[test]
fn no_kill_at_any_point_of_storing_a_layer_leaves_a_layer_that_hits_half_made() {
    let Some(t) = TestZfs::new("cache-kill-every") else { return };
    let (images, base) = base_image(&t);
    let before = (t.everything(), t.files());
    let mut args_cached = build_args(&t, &images, &base, "svc", &[]);
    args_cached.push("--db".into());
    args_cached.push(path(&t.db()));
    // Kill the build at each checkpoint until it finishes; after each kill
    // and cleanup, every layer left must be complete and whole.
    let mut n = 1;
    loop {
        let out = Command::new(env!("CARGO_BIN_EXE_buildy"))
            .args(&args_cached)
            .env("BUILDY_FAULT", format!("kill-at={n}"))
            .output()
            .unwrap();
        use std::os::unix::process::ExitStatusExt;
        if out.status.signal() != Some(9) {
            assert_success(&out);
            break;
        }
        assert_success(&t.buildy(&["cleanup", "--work-dir", &path(&t.work()), "--root", &t.top]));
        for uuid in t.layers() {
            let dataset = format!("{images}/{uuid}");
            assert!(zfs_ok(&["list", &format!("{dataset}@final")]), "layer {uuid} without @final after kill-at={n}");
            let record = t.db().join(format!("images/{images}-{uuid}.json"));
            assert!(record.is_file(), "layer {uuid} without its record after kill-at={n}");
        }
        assert_nothing_left(&t, &before);
        n += 1;
        assert!(n < 200, "the build never finished");
    }
    // The last run finished: both layers hit now, and the output is whole.
    let again = build_json(&t, &build_args(&t, &images, &base, "svc", &["-P", "again"]));
    assert_eq!((cache_of(&again, "packages").0, cache_of(&again, "copy").0), ("hit".into(), "hit".into()));
    assert!(installed_root(&t, &images, &again, "again").join("opt/app/bin/run").is_file());
}

#[test]
fn a_layer_exported_installs_in_a_fresh_root_and_a_build_can_start_on_it() {
    let Some(t) = TestZfs::new("cache-export") else { return };
    let (images, base) = base_image(&t);
    let a = build_json(&t, &build_args(&t, &images, &base, "svc", &["-p", "hello"]));
    let layer = layer_of(&a, "copy");
    let listed = t.buildy(&["cache", "list", "--json", "--root", &images]);
    assert_success(&listed);
    let rows: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert!(rows.as_array().unwrap().iter().any(|r| r["uuid"] == layer.as_str() && r["step"] == "proto"), "{rows}");

    let exported = t.dir.join("exported");
    fs::create_dir_all(&exported).unwrap();
    let work = path(&t.work());
    let out = t.buildy(&["cache", "export", &layer, "--root", &images, "-o", &path(&exported), "--work-dir", &work]);
    assert_success(&out);
    let paths = String::from_utf8_lossy(&out.stdout).lines().map(PathBuf::from).collect::<Vec<_>>();
    let m = read_json(&paths[0]);
    assert_eq!((m["uuid"].as_str(), m["origin"].as_str()), (Some(layer.as_str()), Some(base.as_str())));

    // Into a fresh root (a database of its own) that has only the base.
    let fresh = t.root("fresh");
    let db2 = t.dir.join("db2");
    let base_files = (t.out().join("buildy-base-1.0.0.imgmanifest"), t.out().join("buildy-base-1.0.0.zfs.gz"));
    let install = |m: &PathBuf, f: &PathBuf| {
        buildy_with(&["install", "-q", "--root", &fresh, "-m", &path(m), "-f", &path(f)], &db2)
    };
    assert_success(&install(&base_files.0, &base_files.1));
    assert_success(&install(&paths[0], &paths[1]));
    let mnt = t.mount_image(&format!("{fresh}/{layer}"), "layer");
    assert!(mnt.join("root/opt/local/bin/hello").is_file() && mnt.join("root/opt/app/bin/run").is_file());

    // A build on the layer itself.
    let on = build_json(&t, &build_args(&t, &images, &layer, "on-layer", &[]));
    assert_eq!(on["manifest"]["origin"], layer.as_str());
}

#[test]
fn a_second_agent_skips_the_cached_steps_with_cache_from() {
    let Some(t) = TestZfs::new("cache-agents") else { return };
    let (images, base) = base_image(&t);
    let server = Server::start(Config::default()).unwrap();
    server.set_mode(Mode::Private);
    // The cache server has the base image (layers are images on it).
    let base_files = (t.out().join("buildy-base-1.0.0.imgmanifest"), t.out().join("buildy-base-1.0.0.zfs.gz"));
    let publish = ["publish", "-q", "-m", &path(&base_files.0), "-f", &path(&base_files.1), &server.url()];
    assert_success(&Command::new(env!("CARGO_BIN_EXE_buildy")).args(publish).output().unwrap());

    let url = server.url();
    let one = build_json(&t, &build_args(&t, &images, &base, "svc", &["-p", "hello", "--cache-to", &url]));
    let published: Vec<String> = server.requests().into_iter().filter(|r| r.method == "PUT").map(|r| r.path).collect();
    assert!(published.iter().any(|p| p.contains(&layer_of(&one, "packages"))), "{published:?}");

    // Agent 2: its own pool, root and database, only the base installed.
    // (Its own pool: zfs-fuse has no `receive -o origin=`, and finds an
    // incremental stream's origin by guid, which both roots' base share.)
    let pool2 = SecondPool::new("agent2");
    let root2 = pool2.name.clone();
    let db2 = t.dir.join("db2");
    let install = ["install", "-q", "--root", &root2, "-m", &path(&base_files.0), "-f", &path(&base_files.1)];
    assert_success(&buildy_with(&install, &db2));
    let mut args =
        build_args(&t, &root2, &base, "svc", &["-p", "hello", "-P", "agent2", "--cache-from", &url, "--json"]);
    args.extend(["--db".into(), path(&db2)]);
    let out = Command::new(env!("CARGO_BIN_EXE_buildy")).args(&args).output().unwrap();
    assert_success(&out);
    let two: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cache_of(&two, "packages").0, "hit");
    assert_eq!(cache_of(&two, "copy").0, "hit");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("importing it from"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(two["manifest"]["origin"], base.as_str());
}

/// A pool of its own on a file, destroyed on drop.
struct SecondPool {
    name: String,
    file: PathBuf,
}

impl SecondPool {
    fn new(label: &str) -> SecondPool {
        let pool = std::env::var("BUILDY_TEST_POOL").unwrap();
        let name = format!("{pool}-{label}-{}", std::process::id());
        let file = PathBuf::from(format!("/var/tmp/{name}.img"));
        fs::File::create(&file).unwrap().set_len(1 << 30).unwrap();
        let out = Command::new("zpool")
            .args(["create", "-o", "cachefile=none", "-m", "none", &name])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "zpool create: {}", String::from_utf8_lossy(&out.stderr));
        SecondPool { name, file }
    }
}

impl Drop for SecondPool {
    fn drop(&mut self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !Command::new("zpool").args(["destroy", "-f", &self.name]).status().is_ok_and(|s| s.success()) {
            if std::time::Instant::now() > deadline {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        let _ = fs::remove_file(&self.file);
    }
}

#[test]
fn cache_strict_fails_on_a_miss_and_prune_keeps_what_is_in_use() {
    let Some(t) = TestZfs::new("cache-strict") else { return };
    let (images, base) = base_image(&t);
    let before = (t.everything(), t.files());
    let out = run_build(&t, &build_args(&t, &images, &base, "svc", &["-p", "hello", "--cache-strict"]));
    assert_fails(&out, 1, "--cache-strict: the packages layer is not cached (no packages layer is cached yet)");
    assert_nothing_left(&t, &before);
    assert!(t.layers().is_empty());

    let a = build_json(&t, &build_args(&t, &images, &base, "svc", &["-p", "hello"]));
    let (packages, proto) = (layer_of(&a, "packages"), layer_of(&a, "copy"));
    // Something that is not a layer made from the proto layer.
    t.clone_of(&format!("{images}/{proto}@final"), "user-clone");
    let out = t.buildy(&["cache", "prune", "--root", &images, "--max-size", "0"]);
    assert_success(&out);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains(&format!("removed: layer {packages}")), "{said}");
    assert!(said.contains(&format!("kept (in use): layer {proto}")), "{said}");
    assert_eq!(t.layers(), std::slice::from_ref(&proto));
    assert!(!t.db().join(format!("images/{images}-{packages}.json")).exists());
    // zfs-fuse answers "busy" for a moment after a mount was used.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !zfs_ok(&["destroy", "-f", &t.ds("user-clone")]) {
        assert!(std::time::Instant::now() < deadline, "the clone stays busy");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let out = t.buildy(&["cache", "prune", "--root", &images, "--older-than", "0", "--dry-run"]);
    assert_success(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("would remove: layer {proto}")));
    assert_eq!(t.layers(), [proto]);
}
