//! `buildy create` and `buildy install` on real ZFS (zfs-fuse): round trips
//! for every compression, origin chains, the manifests, and failures that
//! must leave nothing behind. Each test works in its own dataset root.

use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{chown, symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::util::*;
use serde_json::Value;

/// A zone-like tree: regular files, a symlink, a hard link, a setuid file,
/// a file owned by someone else, an empty dir, a large sparse-ish file.
fn populate(mnt: &Path) {
    let root = mnt.join("root");
    for d in ["etc", "bin", "lib", "var/empty", "home/user"] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    fs::write(root.join("etc/motd"), "welcome\n").unwrap();
    fs::write(root.join("bin/tool"), "#!/bin/sh\necho tool\n").unwrap();
    fs::set_permissions(root.join("bin/tool"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::hard_link(root.join("bin/tool"), root.join("bin/tool-again")).unwrap();
    symlink("../bin/tool", root.join("lib/tool-link")).unwrap();
    fs::write(root.join("bin/su"), "setuid\n").unwrap();
    fs::set_permissions(root.join("bin/su"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::set_permissions(root.join("var/empty"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(root.join("home/user/notes"), "mine\n").unwrap();
    chown(root.join("home/user/notes"), Some(1000), Some(1000)).unwrap();
    chown(root.join("home/user"), Some(1000), Some(1000)).unwrap();
    let mut big = fs::File::create(root.join("var/big")).unwrap();
    big.write_all(&pattern(64 << 10, 1)).unwrap();
    big.seek(SeekFrom::Start(3 << 20)).unwrap();
    big.write_all(&pattern(64 << 10, 2)).unwrap();
    big.set_len(6 << 20).unwrap();
}

/// The changes an image build makes: add, modify, delete.
fn change(mnt: &Path) {
    let root = mnt.join("root");
    fs::write(root.join("etc/motd"), "welcome to the new image\n").unwrap();
    fs::write(root.join("etc/added"), "added\n").unwrap();
    fs::remove_file(root.join("bin/tool-again")).unwrap();
    fs::remove_file(root.join("lib/tool-link")).unwrap();
    symlink("/etc/motd", root.join("lib/motd-link")).unwrap();
    let mut big = fs::OpenOptions::new().write(true).open(root.join("var/big")).unwrap();
    big.seek(SeekFrom::Start(1 << 20)).unwrap();
    big.write_all(&pattern(32 << 10, 3)).unwrap();
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2654435761) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// The base image of a test: a populated filesystem made into a full image
/// and installed under `<top>/images`. Returns (manifest, file, dataset).
fn base_image(t: &TestZfs, compression: &str) -> (PathBuf, PathBuf, String) {
    let mnt = t.filesystem("base-src");
    populate(&mnt);
    let out = path(&t.out());
    let (manifest, file) = t.create(&[
        "-c",
        compression,
        "-o",
        &out,
        &t.ds("base-src"),
        "name=base",
        "version=1.0.0",
        "type=zone-dataset",
        "os=smartos",
    ]);
    let images = t.root("images");
    let dataset = t.install(&images, &manifest, &file);
    (manifest, file, dataset)
}

fn round_trip(name: &str, compression: &str) {
    let Some(t) = TestZfs::new(name) else { return };
    let (base_manifest, base_file, base) = base_image(&t, compression);
    let base_tree = describe_tree(&t.dir.join("mnt/base-src"));
    assert!(base_tree["root/bin/su"].mode == 0o4755 && base_tree["root/home/user/notes"].uid == 1000);

    let analog = t.clone_of(&format!("{base}@final"), "analog");
    change(&analog);
    let out = path(&t.out());
    let (manifest, file) =
        t.create(&["-i", "-c", compression, "-o", &out, &t.ds("analog"), "name=next", "version=2.0.0"]);
    let m = read_json(&manifest);
    assert_eq!(m["origin"], read_json(&base_manifest)["uuid"]);
    assert_eq!(m["files"][0]["compression"], compression);
    assert_eq!(m["files"][0]["size"], fs::metadata(&file).unwrap().len());
    let suffix = match compression {
        "none" => "",
        "gzip" => ".gz",
        "bzip2" => ".bz2",
        _ => ".xz",
    };
    assert_eq!(path(&file), format!("{out}/next-2.0.0.zfs{suffix}"));

    // Both into a second root: the full one, then the incremental on it.
    let other = t.root("other");
    let base2 = t.install(&other, &base_manifest, &base_file);
    let next2 = t.install(&other, &manifest, &file);
    assert_eq!(zfs(&["list", "-H", "-t", "snapshot", "-o", "name", "-r", &next2]).trim(), format!("{next2}@final"));
    assert_eq!(describe_tree(&t.mount_image(&base2, "base2")), base_tree, "full image round trip ({compression})");
    assert_eq!(describe_tree(&t.mount_image(&next2, "next2")), describe_tree(&analog), "incremental ({compression})");
    // The analog is as it was: no @final left on it.
    assert_eq!(zfs(&["list", "-H", "-t", "snapshot", "-o", "name", "-r", &t.ds("analog")]), "");
    let record = t.db().join(format!("images/{other}-{}.json", m["uuid"].as_str().unwrap()));
    let record = read_json(&record);
    assert_eq!(record["zpool"], other.as_str());
    assert!(record["manifest"]["published_at"].is_string());
}

#[test]
fn round_trip_none() {
    round_trip("round-trip-none", "none");
}

#[test]
fn round_trip_gzip() {
    round_trip("round-trip-gzip", "gzip");
}

#[test]
fn round_trip_bzip2() {
    round_trip("round-trip-bzip2", "bzip2");
}

#[test]
fn round_trip_xz() {
    round_trip("round-trip-xz", "xz");
}

#[test]
fn manifests_keep_imgadms_key_order_inherit_and_validate() {
    let Some(t) = TestZfs::new("manifest-order") else { return };
    let mnt = t.filesystem("base-src");
    populate(&mnt);
    let data = t.dir.join("base.json");
    fs::write(
        &data,
        r#"{"name": "base", "version": "1.0.0", "description": "sample", "type": "zone-dataset", "os": "smartos",
            "requirements": {"networks": [{"name": "net0", "description": "public"}]},
            "billing_tags": [], "traits": {"ssd": true}, "users": [{"name": "root"}]}"#,
    )
    .unwrap();
    let out = path(&t.out());
    let (base_manifest, base_file) =
        t.create(&["-m", &path(&data), "-c", "gzip", "-o", &out, &t.ds("base-src"), "generate_passwords=false"]);
    let base = t.install(&t.root("images"), &base_manifest, &base_file);
    t.clone_of(&format!("{base}@final"), "analog");
    let (manifest, _) = t.create(&[
        "-i",
        "-c",
        "gzip",
        "-o",
        &out,
        &t.ds("analog"),
        "name=peer-incr-gzip",
        "version=1.0.0",
        "description=sample",
    ]);
    let m = read_json(&manifest);
    let keys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
    // The reference example's order, with the inherited fields in imgadm's
    // order between the given ones and `origin`; empty billing_tags dropped.
    assert_eq!(
        keys,
        [
            "v",
            "uuid",
            "name",
            "version",
            "description",
            "type",
            "os",
            "requirements",
            "users",
            "traits",
            "generate_passwords",
            "origin",
            "files"
        ]
    );
    let file_keys: Vec<&str> = m["files"][0].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(file_keys, ["size", "compression", "sha1", "dataset_guid"]);
    assert_eq!(m["traits"], serde_json::json!({"ssd": true}));
    assert_eq!(m["generate_passwords"], false);
    let text = fs::read_to_string(&manifest).unwrap();
    assert!(text.starts_with("{\n  \"v\": 2,\n  \"uuid\": \"") && text.ends_with('}'), "2-space, no newline");
    // dataset_guid is the guid of the @final the stream was made from, as
    // installed (receive keeps snapshot guids).
    let installed = t.install(&t.root("other-images"), &base_manifest, &base_file);
    let guid = zfs(&["get", "-Hp", "-o", "value", "guid", &format!("{installed}@final")]);
    assert_eq!(read_json(&base_manifest)["files"][0]["dataset_guid"].as_str().unwrap(), guid.trim());
    for p in [&manifest, &base_manifest] {
        let errors = imgmanifest::validate(&read_json(p), &imgmanifest::Options::new(imgmanifest::Mode::Minimal));
        assert!(errors.is_empty(), "{errors:?}");
    }
}

#[test]
fn a_chain_three_deep_installs_in_order_and_max_origin_depth_is_enforced() {
    let Some(t) = TestZfs::new("origin-chain") else { return };
    let (m1, f1, img1) = base_image(&t, "gzip");
    let images = t.ds("images");
    let out = path(&t.out());
    let mut chain = vec![(m1, f1)];
    let mut origin = img1;
    for (i, depth) in [(2, "2"), (3, "2")] {
        let mnt = t.clone_of(&format!("{origin}@final"), &format!("analog{i}"));
        fs::write(mnt.join(format!("root/etc/layer{i}")), format!("{i}\n")).unwrap();
        let (m, f) = t.create(&[
            "-i",
            "-c",
            "gzip",
            "--max-origin-depth",
            depth,
            "-o",
            &out,
            &t.ds(&format!("analog{i}")),
            &format!("name=layer{i}"),
            "version=1",
        ]);
        origin = t.install(&images, &m, &f);
        chain.push((m, f));
    }
    // A fourth on top of the third: its origin chain is 3 images deep.
    let mnt = t.clone_of(&format!("{origin}@final"), "analog4");
    fs::write(mnt.join("root/etc/layer4"), "4\n").unwrap();
    let ds4 = t.ds("analog4");
    let args4 = |depth| {
        vec!["create", "-i", "-c", "gzip", "--max-origin-depth", depth, "-o", &out, &ds4, "name=layer4", "version=1"]
    };
    fails_leaving_nothing(&t, &args4("2"), 2, "is deeper than --max-origin-depth 2");
    let (m4, f4) = t.create(&args4("3")[1..]);
    chain.push((m4, f4));

    let other = t.root("other");
    let mut last = String::new();
    for (m, f) in &chain {
        last = t.install(&other, m, f);
    }
    assert_eq!(describe_tree(&t.mount_image(&last, "layer4")), describe_tree(&mnt));
    let layer4 = read_json(&chain[3].0);
    assert_eq!(layer4["origin"], read_json(&chain[2].0)["uuid"]);
}

// ---- failures: each leaves nothing behind ----

/// Runs `args` expecting `code` and `text`, and checks that the datasets,
/// snapshots, outputs and records are exactly as before.
fn fails_leaving_nothing(t: &TestZfs, args: &[&str], code: i32, text: &str) {
    let before = (t.everything(), t.files());
    let out = t.buildy(args);
    assert_fails(&out, code, text);
    assert_eq!((t.everything(), t.files()), before, "{args:?} left something behind");
}

#[test]
fn create_failures_leave_nothing() {
    let Some(t) = TestZfs::new("create-failures") else { return };
    let (_, _, base) = base_image(&t, "none");
    let analog = t.clone_of(&format!("{base}@final"), "analog");
    change(&analog);
    let out = path(&t.out());
    let ds = t.ds("analog");
    let fields = ["name=x", "version=1"];

    // `zfs send` dies mid-stream: a stand-in for the zfs command that runs
    // the real one but kills itself after 20 kB of a send.
    let fake = t.dir.join("zfs-dies-mid-send");
    fs::write(
        &fake,
        format!(
            "#!/bin/sh\nif [ \"$1\" = send ]; then {ZFS} \"$@\" | head -c 20000; kill -9 $$; fi\nexec {ZFS} \"$@\"\n"
        ),
    )
    .unwrap();
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    let fake = path(&fake);
    for c in ["none", "gzip", "xz"] {
        let args = [&["create", "--zfs", &fake, "-i", "-c", c, "-o", &out, &ds][..], &fields].concat();
        fails_leaving_nothing(&t, &args, 1, "signal: 9");
    }

    // SIGINT while `zfs send` is stuck mid-stream (a stand-in that stalls
    // after 20 kB): the send is stopped, the image is not made.
    let stall = t.dir.join("zfs-stalls-mid-send");
    fs::write(
        &stall,
        format!("#!/bin/sh\nif [ \"$1\" = send ]; then {ZFS} \"$@\" | head -c 20000; sleep 60; exit 0; fi\nexec {ZFS} \"$@\"\n"),
    )
    .unwrap();
    fs::set_permissions(&stall, fs::Permissions::from_mode(0o755)).unwrap();
    let before = (t.everything(), t.files());
    let stalled_create = || {
        let work = path(&t.dir.join("work"));
        let args =
            ["create", "--zfs", &path(&stall), "--work-dir", &work, "-i", "-o", &out, &ds, "name=x", "version=1"];
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_buildy"))
            .args(args)
            .args(["--db", &path(&t.db())])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let partial = t.out().join(format!(".x-1.zfs.buildy-partial-{}", child.id()));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !partial.exists() {
            assert!(std::time::Instant::now() < deadline, "the send did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        (child, partial)
    };
    let (child, _) = stalled_create();
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_fails(&child.wait_with_output().unwrap(), 1, "interrupted by SIGINT");
    assert_eq!((t.everything(), t.files()), before, "an interrupted create leaves nothing");

    // SIGKILL leaves the marked snapshot and the partial file; cleanup
    // removes exactly those.
    let (child, partial) = stalled_create();
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
    let _ = child.wait_with_output();
    let snapshots = zfs(&["list", "-H", "-t", "snapshot", "-o", "name", "-r", &ds]);
    assert!(partial.exists() && snapshots.contains(&format!("{ds}@buildy-")), "SIGKILL left its work: {snapshots}");
    let cleaned = t.buildy(&["cleanup", "--root", &t.top, "--work-dir", &path(&t.dir.join("work"))]);
    assert_success(&cleaned);
    let said = String::from_utf8_lossy(&cleaned.stdout);
    assert!(said.contains(&format!("did: destroy {ds}@buildy-")) && said.contains("did: remove file"), "{said}");
    assert_eq!((t.everything(), t.files()), before, "cleanup removed what the killed create left");

    let args = [&["create", "-c", "lz4", "-o", &out, &ds][..], &fields].concat();
    fails_leaving_nothing(&t, &args, 2, "unknown compression \"lz4\"");

    // -i on a dataset that was not cloned from an image.
    t.filesystem("plain");
    let plain = t.ds("plain");
    let args = [&["create", "-i", "-o", &out, &plain][..], &fields].concat();
    fails_leaving_nothing(&t, &args, 2, "was not cloned from an image");

    // An origin without @final: the base's @final renamed (clones follow).
    zfs(&["rename", &format!("{base}@final"), &format!("{base}@other")]);
    let args = [&["create", "-i", "-o", &out, &ds][..], &fields].concat();
    fails_leaving_nothing(&t, &args, 1, "must start from its @final snapshot");
    zfs(&["rename", &format!("{base}@other"), &format!("{base}@final")]);

    // An invalid manifest, before any ZFS work.
    let args = ["create", "-o", &out, &ds, "name=x"];
    fails_leaving_nothing(&t, &args, 2, "the manifest is not valid: version (MissingParameter)");

    // A dataset that does not exist.
    let missing = t.ds("missing");
    fails_leaving_nothing(&t, &[&["create", &missing][..], &fields].concat(), 2, "does not exist");

    // An existing @final on the dataset is left exactly as it was.
    zfs(&["snapshot", &format!("{ds}@final")]);
    let guid = zfs(&["get", "-Hp", "-o", "value", "guid", &format!("{ds}@final")]);
    t.create(&[&["-i", "-o", &out, &ds][..], &fields].concat());
    assert_eq!(zfs(&["get", "-Hp", "-o", "value", "guid", &format!("{ds}@final")]), guid);
    assert_eq!(zfs(&["list", "-H", "-t", "snapshot", "-o", "name", "-r", &ds]).trim(), format!("{ds}@final"));
}

fn copy_with(src: &Path, dst: &Path, edit: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = fs::read(src).unwrap();
    edit(&mut bytes);
    fs::write(dst, bytes).unwrap();
}

fn edit_manifest(src: &Path, dst: &Path, edit: impl FnOnce(&mut Value)) {
    let mut m = read_json(src);
    edit(&mut m);
    fs::write(dst, serde_json::to_string_pretty(&m).unwrap()).unwrap();
}

#[test]
fn install_failures_leave_nothing() {
    let Some(t) = TestZfs::new("install-failures") else { return };
    let (base_m, base_f, base) = base_image(&t, "gzip");
    let analog = t.clone_of(&format!("{base}@final"), "analog");
    change(&analog);
    let out = path(&t.out());
    let (m, f) = t.create(&["-i", "-c", "gzip", "-o", &out, &t.ds("analog"), "name=next", "version=1"]);
    // A second, unrelated base image.
    let plain = t.filesystem("plain");
    fs::create_dir_all(plain.join("root")).unwrap();
    let (other_m, other_f) =
        t.create(&["-o", &out, &t.ds("plain"), "name=other", "version=1", "type=zone-dataset", "os=smartos"]);

    let root = t.root("target");
    let bad = t.dir.join("bad");
    fs::create_dir_all(&bad).unwrap();
    let install = |m: &Path, f: &Path| -> Vec<String> {
        ["install", "--root", &root, "-m", &path(m), "-f", &path(f)].map(String::from).to_vec()
    };
    let run = |args: Vec<String>, code, text: &str| {
        fails_leaving_nothing(&t, &args.iter().map(String::as_str).collect::<Vec<_>>(), code, text);
    };

    // The origin is not installed in this root yet.
    run(
        install(&m, &f),
        1,
        &format!("the origin image {} is not installed", read_json(&base_m)["uuid"].as_str().unwrap()),
    );
    t.install(&root, &base_m, &base_f);
    t.install(&root, &other_m, &other_f);

    // Truncated and bit-flipped files.
    let truncated = bad.join("truncated.zfs.gz");
    copy_with(&f, &truncated, |b| b.truncate(b.len() / 2));
    run(install(&m, &truncated), 2, "size: the manifest says");
    let flipped = bad.join("flipped.zfs.gz");
    copy_with(&f, &flipped, |b| {
        let i = b.len() / 2;
        b[i] ^= 0x10
    });
    run(install(&m, &flipped), 2, "sha1: the manifest says");
    // The same corruption with a manifest that matches the corrupt file:
    // the stream check itself refuses it, before anything is received.
    let lying = bad.join("lying.imgmanifest");
    let flipped_sha1 = {
        use std::process::Command;
        let o = Command::new("sha1sum").arg(&flipped).output().unwrap();
        String::from_utf8(o.stdout).unwrap().split(' ').next().unwrap().to_string()
    };
    edit_manifest(&m, &lying, |v| v["files"][0]["sha1"] = Value::String(flipped_sha1));
    run(install(&lying, &flipped), 2, "does not match its manifest: stream:");
    // A truncated uncompressed stream whose manifest matches it.
    let (raw_m, raw_f) = {
        let mnt = t.clone_of(&format!("{base}@final"), "analog-raw");
        fs::write(mnt.join("root/etc/raw"), "raw\n").unwrap();
        t.create(&["-i", "-o", &out, &t.ds("analog-raw"), "name=raw", "version=1"])
    };
    let short = bad.join("short.zfs");
    copy_with(&raw_f, &short, |b| b.truncate(b.len() - 100));
    let short_m = bad.join("short.imgmanifest");
    let (len, sha1) = {
        let o = std::process::Command::new("sha1sum").arg(&short).output().unwrap();
        (fs::metadata(&short).unwrap().len(), String::from_utf8(o.stdout).unwrap()[..40].to_string())
    };
    edit_manifest(&raw_m, &short_m, |v| {
        v["files"][0]["size"] = len.into();
        v["files"][0]["sha1"] = Value::String(sha1);
    });
    run(install(&short_m, &short), 2, "stream:");

    // A wrong sha1 in the manifest.
    let wrong = bad.join("wrong-sha1.imgmanifest");
    edit_manifest(&m, &wrong, |v| v["files"][0]["sha1"] = Value::String("0".repeat(40)));
    run(install(&wrong, &f), 2, "sha1: the manifest says 0000000000000000000000000000000000000000");

    // An incremental image whose manifest names a different origin.
    let other_uuid = read_json(&other_m)["uuid"].as_str().unwrap().to_string();
    let wrong_origin = bad.join("wrong-origin.imgmanifest");
    edit_manifest(&m, &wrong_origin, |v| v["origin"] = Value::String(other_uuid.clone()));
    run(install(&wrong_origin, &f), 2, &format!("the installed origin image {other_uuid}"));

    // An unknown compression in the manifest.
    let lz4 = bad.join("lz4.imgmanifest");
    edit_manifest(&m, &lz4, |v| v["files"][0]["compression"] = "lz4".into());
    run(install(&lz4, &f), 2, "compression");

    // Out of space while receiving: a quota smaller than the image.
    let small = t.ds("target-small");
    zfs(&["create", "-o", "mountpoint=none", "-o", "quota=1M", &small]);
    let (full_m, full_f) = {
        let mnt = t.clone_of(&format!("{base}@final"), "analog-big");
        fs::write(mnt.join("root/var/huge"), pattern(4 << 20, 9)).unwrap();
        t.create(&["-o", &out, &t.ds("analog-big"), "name=big", "version=1"])
    };
    let args = ["install", "--root", &small, "-m", &path(&full_m), "-f", &path(&full_f)];
    fails_leaving_nothing(&t, &args, 1, "out of space");

    // After all that, the good one installs.
    t.install(&root, &m, &f);
}

#[test]
fn two_installs_of_one_image_at_once_both_succeed_and_one_installs() {
    let Some(t) = TestZfs::new("install-race") else { return };
    let mnt = t.filesystem("src");
    populate(&mnt);
    fs::write(mnt.join("root/var/more"), pattern(8 << 20, 5)).unwrap();
    let out = path(&t.out());
    let (m, f) = t.create(&[
        "-c",
        "bzip2",
        "-o",
        &out,
        &t.ds("src"),
        "name=race",
        "version=1",
        "type=zone-dataset",
        "os=smartos",
    ]);
    let root = t.root("images");
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_buildy"))
            .args(["install", "--root", &root, "-m", &path(&m), "-f", &path(&f), "--db", &path(&t.db())])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Both really contend: the test holds the image's import lock until
    // both say they wait for it.
    let uuid = read_json(&m)["uuid"].as_str().unwrap().to_string();
    let exec = imgcreate::host::exec::Exec::default();
    let lock_dir = Path::new(imgcreate::host::lock::DEFAULT_LOCK_DIR);
    let held = imgcreate::host::lock::import_lock(&exec, lock_dir, &uuid, |_| panic!("nobody else holds it")).unwrap();
    let (mut a, mut b) = (spawn(), spawn());
    let waiting = |child: &mut std::process::Child| {
        let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut lines = std::io::BufRead::lines(stderr).map_while(Result::ok);
        assert!(lines.any(|l| l.starts_with(&format!("Waiting for image {uuid} import lock"))), "it waits");
        std::thread::spawn(move || lines.count()) // drain the rest
    };
    let drains = [waiting(&mut a), waiting(&mut b)];
    drop(held);
    let outputs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    for d in drains {
        d.join().unwrap();
    }
    let mut said: Vec<String> = outputs
        .iter()
        .map(|o| {
            assert_success(o);
            String::from_utf8_lossy(&o.stdout).split(' ').next().unwrap().to_string()
        })
        .collect();
    said.sort();
    assert_eq!(said, ["Image", "Installed"], "one installs, the other finds it installed");
    let dataset = format!("{root}/{uuid}");
    assert_eq!(zfs(&["list", "-H", "-t", "snapshot", "-o", "name", "-r", &dataset]).trim(), format!("{dataset}@final"));
    assert!(!zfs_ok(&["list", &format!("{dataset}-partial")]));
    assert_eq!(describe_tree(&t.mount_image(&dataset, "race")), describe_tree(&mnt));
}
