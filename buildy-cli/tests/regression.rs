//! One test per bug fixed, named after it. Each failed on the code before
//! its fix.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::util::*;

/// The snapshots of `ds` with their exact guids, in order.
fn snapshots_with_guids(ds: &str) -> Vec<(String, String)> {
    let names = zfs(&["list", "-H", "-t", "snapshot", "-o", "name", "-r", ds]);
    names
        .lines()
        .map(|name| (name.to_string(), zfs(&["get", "-Hp", "-o", "value", "guid", name]).trim().to_string()))
        .collect()
}

fn cleanup(t: &TestZfs, work: &Path) -> String {
    let out = t.buildy(&["cleanup", "--root", &t.top, "--work-dir", &path(work)]);
    assert_success(&out);
    String::from_utf8(out.stdout).unwrap()
}

/// `buildy inspect`: the file matches its manifest.
fn assert_image_matches(manifest: &Path, file: &Path) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_buildy")).args(["inspect", "-m"]).arg(manifest).arg(file).output().unwrap();
    assert_success(&out);
}

fn journals(work: &Path) -> Vec<PathBuf> {
    fs::read_dir(work.join("buildy-builds")).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default()
}

/// `buildy ARGS --db <db>` with the test-only fault `BUILDY_FAULT=fault`.
fn buildy_with_fault(t: &TestZfs, args: &[String], fault: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_buildy"))
        .args(args)
        .arg("--db")
        .arg(t.db())
        .env("BUILDY_FAULT", fault)
        .output()
        .unwrap()
}

/// Runs buildy with `BUILDY_FAULT=kill-at=N`; whether it was killed there
/// (else it ran to the end and succeeded).
fn killed_at(t: &TestZfs, args: &[String], n: u32) -> bool {
    let out = buildy_with_fault(t, args, &format!("kill-at={n}"));
    match out.status.signal() {
        Some(9) => true,
        _ => {
            assert_success(&out);
            false
        }
    }
}

/// Bug: create renamed an existing `@final` aside before taking its own,
/// with no record of it; a SIGKILL in between and a cleanup left the
/// dataset without its `@final` (an installed image then loses every
/// incremental image on it). Now create never touches it: killed at every
/// checkpoint, then cleaned up, the snapshots are exactly as before.
#[test]
fn create_killed_at_any_point_leaves_an_existing_final_exactly_as_it_was() {
    let Some(t) = TestZfs::new("reg-create-kill") else { return };
    let (images, base) = base_image(&t);
    let ds = t.ds("analog");
    zfs(&["clone", &format!("{images}/{base}@final"), &ds]);
    zfs(&["snapshot", &format!("{ds}@final")]);
    let work = t.dir.join("work");
    let before = (t.everything(), t.files(), snapshots_with_guids(&ds));
    let args: Vec<String> = ["create", "-i", "-c", "gzip", "--work-dir", &path(&work), "-o", &path(&t.out()), &ds]
        .iter()
        .map(|s| s.to_string())
        .chain(["name=x".into(), "version=1".into()])
        .collect();
    let mut points = 0;
    for n in 1.. {
        if !killed_at(&t, &args, n) {
            break;
        }
        points = n;
        cleanup(&t, &work);
        let now = (t.everything(), t.files(), snapshots_with_guids(&ds));
        if now.1 != before.1 {
            // Killed after the manifest was in place: the image is whole.
            let out = t.out();
            assert_eq!(now.1.len(), before.1.len() + 2, "killed at {n}: {:?}", now.1);
            assert_image_matches(&out.join("x-1.imgmanifest"), &out.join("x-1.zfs.gz"));
            fs::remove_file(out.join("x-1.imgmanifest")).unwrap();
            fs::remove_file(out.join("x-1.zfs.gz")).unwrap();
        }
        assert_eq!((t.everything(), t.files(), snapshots_with_guids(&ds)), before, "killed at checkpoint {n}");
        assert_eq!(journals(&work), Vec::<PathBuf>::new(), "killed at checkpoint {n}");
    }
    eprintln!("create killed at {points} checkpoints");
    assert!(points >= 20, "create was killed at {points} points, fewer than 20");
    // Run whole, it leaves the dataset's snapshots as they were too.
    assert_eq!(snapshots_with_guids(&ds), before.2);
}

/// Bugs: a build SIGKILLed around "Saving manifest" left its journal after
/// cleanup, and one killed after writing the `.pkgaudit` left the report
/// without its image. Killed at every checkpoint (each command's start and
/// end, each step, each journal write, each file renamed into place) and
/// at random moments, then cleaned up: nothing is left but, where the build
/// got that far, a complete output set that matches.
#[test]
fn build_killed_at_any_point_then_cleaned_up_leaves_nothing_or_a_complete_image() {
    let Some(t) = TestZfs::new("reg-build-kill") else { return };
    let (images, base) = base_image(&t);
    let before = (t.everything(), t.files());
    // The uncached path, every checkpoint of it (`cache.rs` sweeps the cached one).
    let args = build_args(&t, &images, &base, "killed", &["-p", "hello,vulnpkg", "-a", "--no-cache"]);
    let version = "master-20261123T120000Z-g1234567";
    let outputs: Vec<String> =
        ["imgmanifest", "pkgaudit", "zfs.gz"].iter().map(|ext| format!("out/killed-{version}.{ext}")).collect();
    let check = |what: &str| {
        cleanup(&t, &t.work());
        // Complete cache layers stay by design (`cache.rs` tests them).
        let files = t.files_but_layers();
        if files != before.1 {
            let mut expected = before.1.clone();
            expected.extend(outputs.iter().cloned());
            expected.sort();
            assert_eq!(files, expected, "{what}: a partial output set");
            let prefix = t.out().join(format!("killed-{version}"));
            let manifest = PathBuf::from(format!("{}.imgmanifest", prefix.display()));
            assert_image_matches(&manifest, Path::new(&format!("{}.zfs.gz", prefix.display())));
            let audit = fs::read_to_string(format!("{}.pkgaudit", prefix.display())).unwrap();
            assert!(audit.contains("vulnpkg-0.9"), "{what}: {audit}");
            for o in &outputs {
                fs::remove_file(t.dir.join(o)).unwrap();
            }
        }
        assert_nothing_left(&t, &before);
    };
    let mut points = 0;
    for n in 1.. {
        if !killed_at(&t, &args, n) {
            break;
        }
        points = n;
        check(&format!("killed at checkpoint {n}"));
    }
    eprintln!("build killed at {points} checkpoints");
    assert!(points >= 50, "the build was killed at {points} points, fewer than 50");
    // And at random moments, mid-command too.
    let started = Instant::now();
    assert_success(&run_build(&t, &args));
    let whole = started.elapsed();
    check("a whole build");
    let mut seed = std::process::id() as u64;
    for i in 0..10 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let delay = whole.mul_f64((seed >> 11) as f64 / (1u64 << 53) as f64);
        let child = spawn_build(&t, &args);
        std::thread::sleep(delay);
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
        let _ = child.wait_with_output();
        check(&format!("killed after {delay:?} (random kill {i})"));
    }
}

/// Bug: every log line was a `println!`, so a closed stdout (a `| tee` or
/// CI log reader that went away) panicked the build mid-step and left the
/// clone, the chroot mounts and the journal behind. Now the build stops,
/// undoes, and exits 1.
#[test]
fn a_build_whose_stdout_is_closed_stops_undoes_and_exits_1() {
    let Some(t) = TestZfs::new("reg-closed-stdout") else { return };
    let (images, base) = base_image(&t);
    let before = (t.everything(), t.files());
    let mut child = spawn_build(&t, &build_args(&t, &images, &base, "closed", &["-p", "hello"]));
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.contains("Starting build"), "{first}");
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_fails(&out, 1, "interrupted by a closed log (broken pipe)");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "no panic");
    assert_nothing_left(&t, &before);
}

/// Bug: the build undid only on `Err`; a panic unwound past the undo. A
/// panic injected into each step is undone.
#[test]
fn a_panic_in_any_build_step_is_undone() {
    let Some(t) = TestZfs::new("reg-panic") else { return };
    let (images, base) = base_image(&t);
    let before = (t.everything(), t.files());
    // Without the cache every step runs every time.
    let args = build_args(&t, &images, &base, "panics", &["-p", "hello", "-a", "-M", "--no-cache"]);
    for step in ["clone", "copy", "mount", "packages", "clean", "motd", "unmount", "create", "destroy"] {
        let out = buildy_with_fault(&t, &args, &format!("panic-in={step}"));
        assert_fails(&out, 1, &format!("a build step panicked: injected by BUILDY_FAULT in step {step}"));
        assert_nothing_left(&t, &before);
    }
    // With it, a panic while resuming from a layer (the first fault run
    // stores the layers, the second resumes from them).
    let args = build_args(&t, &images, &base, "panics", &["-p", "hello"]);
    for _ in 0..2 {
        let out = buildy_with_fault(&t, &args, "panic-in=clean");
        assert_fails(&out, 1, "a build step panicked: injected by BUILDY_FAULT in step clean");
    }
    let out = buildy_with_fault(&t, &args, "panic-in=resume");
    assert_fails(&out, 1, "a build step panicked: injected by BUILDY_FAULT in step resume");
    assert_eq!(t.layers().len(), 2, "the layers stay");
    assert_nothing_left(&t, &before);
}

/// Bug: only the first SIGINT/SIGTERM was honoured; a second one while
/// the undo hung (zfs-fuse can deadlock) did nothing. Here the undo really
/// stalls (the test holds the mount lock its unmount needs); a second
/// SIGTERM makes it exit within 5 s, saying what is left, and cleanup
/// removes that afterwards.
#[test]
fn a_second_sigterm_during_a_stalled_undo_exits_within_5_s_and_says_what_is_left() {
    let Some(t) = TestZfs::new("reg-second-signal") else { return };
    let (images, base) = base_image(&t);
    let before = (t.everything(), t.files());
    let mut child = spawn_build(&t, &build_args(&t, &images, &base, "stalls", &["-p", "slowpkg"]));
    wait_for_chroots(&t, 1);
    let exec = imgcreate::host::exec::Exec::default();
    let held = imgcreate::host::lock::mount_lock(&exec).unwrap();
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = stdout.lines().map_while(Result::ok);
    assert!(lines.any(|l| l.contains("Undoing what the build created")), "the undo started");
    let signalled = Instant::now();
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    let took = signalled.elapsed();
    drop(held);
    assert!(took < Duration::from_secs(5), "exited {took:?} after the second SIGTERM");
    assert_fails(&out, 1, "interrupted by SIGTERM");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("undoing it also failed (left: unmount ")
            && stderr.contains("`buildy cleanup` will finish the job"),
        "{stderr}"
    );
    let said = cleanup(&t, &t.work());
    assert!(said.contains("did: destroy"), "{said}");
    assert_nothing_left(&t, &before);
}

/// Bug: the engine read fields with `as_str().unwrap_or_default()`, and
/// Node's rules let `"uuid": ["<uuid>"]` through by coercion: install
/// worked with uuid `""` (dataset `<root>/`, record `<root>-.json`). Now
/// create, install and build refuse such a manifest with exit 2, naming the
/// field, and touch nothing.
#[test]
fn a_manifest_with_an_array_uuid_is_refused_by_create_install_and_build() {
    let Some(t) = TestZfs::new("reg-coerced") else { return };
    let (images, base) = base_image(&t);
    let uuid = "ffb1f2bb-9daf-4e3b-9d19-1e33a1f162a2";
    let work = t.work();
    let state = || (t.everything(), t.files(), journals(&work));

    // create -m with an array uuid, and with a numeric version.
    let ds = t.ds("analog");
    zfs(&["clone", &format!("{images}/{base}@final"), &ds]);
    let before = state();
    for (data, field) in [
        (json!({"uuid": [uuid], "name": "x", "version": "1"}), "uuid must be a uuid string"),
        (json!({"name": "x", "version": 1}), "version must be a string"),
    ] {
        let m = t.dir.join("data.json");
        fs::write(&m, data.to_string()).unwrap();
        let out = t.buildy(&["create", "--work-dir", &path(&work), "-i", "-m", &path(&m), "-o", &path(&t.out()), &ds]);
        assert_fails(&out, 2, &format!("the manifest's {field}"));
        assert_eq!(state(), before, "create");
    }

    // install of the base image's own files with its uuid made an array.
    let base_manifest = t.out().join("buildy-base-1.0.0.imgmanifest");
    let mut m: Value = read_json(&base_manifest);
    m["uuid"] = json!([m["uuid"].as_str().unwrap()]);
    let bad = t.dir.join("bad.imgmanifest");
    fs::write(&bad, m.to_string()).unwrap();
    let other = t.root("other");
    let before = state();
    let out = t.install_output(&other, &bad, &t.out().join("buildy-base-1.0.0.zfs.gz"));
    assert_fails(&out, 2, "the manifest's uuid must be a uuid string");
    assert_eq!(state(), before, "install");

    // build with -m data whose version is a number.
    let before = state();
    let mut args = build_args(&t, &images, &base, "x", &[]);
    args[6] = r#"{"name": "x", "version": 1}"#.into();
    assert_fails(&run_build(&t, &args), 2, "the manifest's version must be a string");
    args[6] = format!(r#"{{"name": "x", "version": "1", "uuid": ["{uuid}"]}}"#);
    assert_fails(&run_build(&t, &args), 2, "the manifest's uuid must be a uuid string");
    assert_eq!(state(), before, "build");
}

/// Bug: cleanup failed with "dataset does not exist" when a `zfs destroy`
/// the killed build had started finished between cleanup's check and its
/// own destroy (CI, the kill-at-every-checkpoint test). A dataset already
/// gone now counts as destroyed; any other destroy failure still fails.
#[test]
fn destroying_a_dataset_already_gone_counts_as_destroyed_and_other_failures_still_fail() {
    let Some(t) = TestZfs::new("reg-destroy-gone") else { return };
    let host = imgcreate::host::zfs::Zfs::new("zfs", &imgcreate::host::exec::Exec::default());
    let (parent, child) = (t.ds("parent"), t.ds("parent/child"));
    zfs(&["create", "-p", &child]);
    let err = host.destroy_if_exists(&parent, false).unwrap_err();
    assert!(!err.is_not_found(), "a parent with a child is not 'gone': {err}");
    assert!(zfs_ok(&["list", &child]), "nothing was destroyed");
    host.destroy_if_exists(&parent, true).unwrap();
    assert!(!zfs_ok(&["list", &parent]), "destroyed");
    host.destroy_if_exists(&parent, true).unwrap();
    host.destroy_if_exists(&format!("{parent}@never"), false).unwrap();
}
