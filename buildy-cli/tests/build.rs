//! `buildy build` on real ZFS (zfs-fuse) with the project's base image
//! (busybox and pkgsrc stand-ins): the buildimage drop-in, its outputs, and
//! that no failure, signal or crash leaves anything behind.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;
use serde_json::Value;

#[test]
fn the_buildimage_command_line_builds_an_image_that_installs() {
    let Some(t) = TestZfs::new("build-ok") else { return };
    let (images, base) = base_image(&t);
    let before = (t.everything(), t.files());
    // buildimage's flags, no subcommand, as Triton's Makefiles call it.
    let mut args = build_args(&t, &images, &base, "sample-svc", &["-u", "-p", "hello,figlet,vulnpkg", "-a", "-M"]);
    args.remove(0);
    args.extend(["-S".into(), "https://example.invalid/sample.git".into(), "-P".into(), "sample-svc-zfs".into()]);
    args.push("--json".into());
    let out = run_build(&t, &args);
    assert_success(&out);
    let log = String::from_utf8_lossy(&out.stderr);
    let prefixed = log.lines().filter(|l| l.starts_with('[') && l.as_bytes().get(13) == Some(&b']')).count();
    assert!(prefixed > 20, "log lines carry buildimage's [ssss.ssssssss] prefix: {log}");
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps: Vec<&str> = result["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    // A cold build: packages first, each layer stored, then the finalize steps.
    assert_eq!(
        steps,
        ["hash", "clone", "mount", "packages", "unmount", "store", "copy", "store", "clean", "create", "destroy"]
    );
    let cache: Vec<&str> = result["steps"].as_array().unwrap().iter().map(|s| s["cache"].as_str().unwrap()).collect();
    assert_eq!(cache, ["off", "off", "miss", "miss", "miss", "off", "miss", "off", "off", "off", "off"]);
    assert_eq!(result["packages"], serde_json::json!(["figlet-2.2.5", "hello-1.0", "vulnpkg-0.9"]));

    let version = "master-20261123T120000Z-g1234567";
    let prefix = format!("{}/sample-svc-zfs-{version}", path(&t.out()));
    assert_eq!(result["file"], format!("{prefix}.zfs.gz"));
    assert_eq!(result["manifest_path"], format!("{prefix}.imgmanifest"));
    let audit = fs::read_to_string(format!("{prefix}.pkgaudit")).unwrap();
    assert!(audit.contains("Package vulnpkg-0.9 has a remote-code-execution vulnerability"), "{audit}");
    let manifest_path = PathBuf::from(format!("{prefix}.imgmanifest"));
    let m = read_json(&manifest_path);
    assert_eq!(m["origin"], base.as_str());
    assert_eq!(m["owner"], "00000000-0000-0000-0000-000000000000");
    assert_eq!(m["tags"], serde_json::json!({}));
    assert_eq!(m["type"], "zone-dataset", "inherited from the base image");
    assert!(m["published_at"].is_string());
    assert!(imgmanifest::validate(&m, &imgmanifest::Options::new(imgmanifest::Mode::Minimal)).is_empty());

    // Nothing of the build is left but its outputs.
    let outputs: Vec<String> =
        ["zfs.gz", "imgmanifest", "pkgaudit"].iter().map(|ext| format!("out/sample-svc-zfs-{version}.{ext}")).collect();
    let mut expected_files = before.1.clone();
    expected_files.extend(outputs);
    expected_files.sort();
    assert_nothing_left(&t, &(before.0.clone(), expected_files));

    // The image installs (after its base) and holds what the build put in.
    let other = t.root("other");
    t.install(&other, &t.out().join("buildy-base-1.0.0.imgmanifest"), &t.out().join("buildy-base-1.0.0.zfs.gz"));
    let image = t.install(&other, &manifest_path, Path::new(&format!("{prefix}.zfs.gz")));
    let mnt = t.mount_image(&image, "built");
    let root = mnt.join("root");
    assert_eq!(fs::read_to_string(root.join("opt/app/bin/run")).unwrap(), "#!/bin/sh\necho service\n");
    assert_eq!(fs::read_to_string(root.join("etc/app.conf")).unwrap(), "port=80\n");
    assert!(root.join("opt/local/bin/hello").is_file() && root.join("var/db/pkg/figlet-2.2.5/+CONTENTS").is_file());
    assert!(!root.join("var/db/pkgin").exists(), "pkgin's database is removed");
    assert!(!mnt.join("config").exists(), "the zone's config/ is removed");
    assert_eq!(fs::read_dir(root.join("dev")).unwrap().count(), 0, "no /dev contents captured");
    assert_eq!(
        fs::read_to_string(root.join("etc/motd")).unwrap(),
        format!(
            " =  T R I T O N  =\n\n    sample-svc ({version})\n    https://example.invalid/sample.git\n    buildy-base@1.0.0\n\n"
        )
    );
    // The installed packages run in the image.
    let hello = Command::new("/usr/sbin/chroot").arg(&root).arg("/opt/local/bin/hello").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&hello.stdout), "hello from buildy-base\n");
}

#[test]
fn failed_builds_leave_nothing_and_say_why() {
    let Some(t) = TestZfs::new("build-fails") else { return };
    let (images, base) = base_image(&t);
    let before = (t.everything(), t.files());
    let check = |args: Vec<String>, code: i32, text: &str| {
        let out = run_build(&t, &args);
        assert_fails(&out, code, text);
        assert_nothing_left(&t, &before);
    };
    check(build_args(&t, &images, &base, "x", &["-p", "hello,nosuchpkg"]), 1, "no pkg found for 'nosuchpkg'");
    check(build_args(&t, &images, &base, "x", &["-p", "hello;rm"]), 2, "invalid packages \"hello;rm\"");
    let other_uuid = "4c0c5b36-0f46-4a2c-a4bb-3a5a3f0b1d3e";
    // Not installed, and the import finds it nowhere (nothing listens there).
    check(build_args(&t, &images, other_uuid, "x", &["--source", "http://127.0.0.1:9"]), 2, "is not installed under");
    check(build_args(&t, &images, &base, "x", &["--chroot-mount", "relative"]), 2, "--chroot-mount \"relative\"");
    let mut no_root = build_args(&t, &images, &base, "x", &[]);
    let at = no_root.iter().position(|a| a == "--root").unwrap();
    no_root.drain(at..at + 2);
    check(no_root, 2, "no dataset root: give --root");
    let mut bad_manifest = build_args(&t, &images, &base, "x", &[]);
    bad_manifest[6] = r#"{"name": "x"}"#.into();
    check(bad_manifest, 2, "must include \"version\"");

    // rsync fails (the dataset root runs out of quota): the build fails.
    fs::create_dir_all(t.dir.join("proto/opt/big")).unwrap();
    let big: Vec<u8> = (0..24u32 << 20).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let args = build_args(&t, &images, &base, "x", &[]);
    fs::write(t.dir.join("proto/opt/big/blob"), big).unwrap();
    let used: u64 = zfs(&["get", "-Hp", "-o", "value", "used", &images]).trim().parse().unwrap();
    zfs(&["set", &format!("quota={}", used + (4 << 20)), &images]);
    let out = run_build(&t, &args);
    zfs(&["set", "quota=none", &images]);
    assert_fails(&out, 1, "copying the proto directory failed: `rsync -a");
    assert_nothing_left(&t, &before);
}

#[test]
fn sigterm_or_sigint_mid_build_undoes_everything() {
    let Some(t) = TestZfs::new("build-signals") else { return };
    let (images, base) = base_image(&t);
    let before = (t.everything(), t.files());
    for (signal, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGINT, "SIGINT")] {
        let child = spawn_build(&t, &build_args(&t, &images, &base, "slow", &["-p", "slowpkg"]));
        wait_for_chroots(&t, 1);
        unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        let out = child.wait_with_output().unwrap();
        assert_fails(&out, 1, &format!("interrupted by {name}"));
        assert_nothing_left(&t, &before);
    }
}

#[test]
fn cleanup_removes_what_a_killed_build_left_and_nothing_else() {
    let Some(t) = TestZfs::new("build-cleanup") else { return };
    let (images, base) = base_image(&t);
    let theirs = format!("{images}/not-buildys");
    zfs(&["create", &theirs]);
    let before = (t.everything(), t.files());
    let killed = spawn_build(&t, &build_args(&t, &images, &base, "killed", &["-p", "slowpkg"]));
    wait_for_chroots(&t, 1);
    let live = spawn_build(&t, &build_args(&t, &images, &base, "live", &["-p", "slowpkg"]));
    wait_for_chroots(&t, 2);
    let killed_pid = killed.id();
    unsafe { libc::kill(killed_pid as libc::pid_t, libc::SIGKILL) };
    let _ = killed.wait_with_output();

    let work = path(&t.work());
    let cleanup = |extra: &[&str]| {
        let mut args = vec!["cleanup", "--work-dir", &work, "--root", &images];
        args.extend(extra);
        let out = t.buildy(&args);
        assert_success(&out);
        String::from_utf8(out.stdout).unwrap()
    };
    let mid = (t.everything(), t.files(), imgcreate::host::mount::mounts_under(&t.work()).unwrap());
    let dry = cleanup(&["--dry-run"]);
    assert_eq!(
        (t.everything(), t.files(), imgcreate::host::mount::mounts_under(&t.work()).unwrap()),
        mid,
        "a dry run changes nothing"
    );
    let zoneproto = |pid: u32| format!("zoneproto-{pid}-");
    assert!(dry.contains("would: kill process") && dry.contains("would: destroy"), "{dry}");
    assert!(dry.contains(&zoneproto(killed_pid)) && !dry.contains(&zoneproto(live.id())), "{dry}");
    assert!(dry.contains("left alone: build") && dry.contains(&format!("(pid {}", live.id())), "{dry}");

    let did = cleanup(&[]);
    assert!(
        did.contains(&format!("did: remove directory {}", t.work().join(zoneproto(killed_pid)).display())),
        "{did}"
    );
    assert!(!did.contains(&theirs), "{did}");
    // The live build is untouched: its analog and chroot are still there.
    let live_mounts: Vec<_> = imgcreate::host::mount::mounts_under(&t.work()).unwrap();
    assert_eq!(live_mounts.len(), 3, "the live build's analog, /dev and /proc: {live_mounts:?}");
    assert!(live_mounts.iter().all(|m| m.to_string_lossy().contains(&zoneproto(live.id()))));
    assert!(zfs_ok(&["list", &theirs]));

    unsafe { libc::kill(live.id() as libc::pid_t, libc::SIGTERM) };
    assert_fails(&live.wait_with_output().unwrap(), 1, "interrupted by SIGTERM");
    assert_nothing_left(&t, &before);
    assert_eq!(cleanup(&[]), "nothing to clean up\n");
}

#[test]
fn two_builds_at_once_from_one_base_image_both_succeed() {
    let Some(t) = TestZfs::new("build-twice") else { return };
    let (images, base) = base_image(&t);
    let before = (t.everything(), t.files());
    let a = spawn_build(&t, &build_args(&t, &images, &base, "svc-a", &["-p", "hello"]));
    let b = spawn_build(&t, &build_args(&t, &images, &base, "svc-b", &["-p", "figlet", "-c", "xz"]));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_success(&a);
    assert_success(&b);
    let version = "master-20261123T120000Z-g1234567";
    // Nothing of either build is left but its outputs.
    let mut expected_files = before.1.clone();
    for (name, ext) in [("svc-a", "gz"), ("svc-b", "xz")] {
        expected_files.push(format!("out/{name}-{version}.imgmanifest"));
        expected_files.push(format!("out/{name}-{version}.zfs.{ext}"));
    }
    expected_files.sort();
    assert_nothing_left(&t, &(before.0.clone(), expected_files));
    let other = t.root("other");
    t.install(&other, &t.out().join("buildy-base-1.0.0.imgmanifest"), &t.out().join("buildy-base-1.0.0.zfs.gz"));
    for (name, ext, tool) in [("svc-a", "gz", "hello"), ("svc-b", "xz", "figlet")] {
        let m = t.out().join(format!("{name}-{version}.imgmanifest"));
        let image = t.install(&other, &m, &t.out().join(format!("{name}-{version}.zfs.{ext}")));
        assert!(t.mount_image(&image, name).join("root/opt/local/bin").join(tool).is_file());
    }
}
