//! Helpers for tests against real ZFS (zfs-fuse on Debian): a fresh dataset
//! root per test under the pool that `scripts/test.sh` creates, temporary
//! directories, running `buildy`, and describing file trees to compare.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const ZFS: &str = "/usr/sbin/zfs";

/// A test's own part of the pool: `<pool>/<name>` (mountpoint none) and a
/// scratch directory; both removed when dropped.
pub struct TestZfs {
    pub top: String,
    pub dir: PathBuf,
}

impl TestZfs {
    /// Needs `BUILDY_TEST_POOL` (set by `scripts/test.sh`, which makes the
    /// pool). Without it the test fails, except where a developer asked to
    /// skip ZFS tests outside CI.
    pub fn new(name: &str) -> Option<TestZfs> {
        let Ok(pool) = std::env::var("BUILDY_TEST_POOL") else {
            let skip = std::env::var("BUILDY_ZFS_TESTS").as_deref() == Ok("skip");
            if skip && std::env::var("CI").as_deref() != Ok("true") {
                eprintln!("skipping {name}: BUILDY_ZFS_TESTS=skip");
                return None;
            }
            panic!("{name} needs ZFS: run `bash scripts/test.sh` (it sets up zfs-fuse and a pool), or set BUILDY_TEST_POOL");
        };
        let top = format!("{pool}/{name}");
        if zfs_ok(&["list", &top]) {
            zfs(&["destroy", "-R", &top]);
        }
        zfs(&["create", "-o", "mountpoint=none", &top]);
        let dir = PathBuf::from(format!("/var/tmp/buildy-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("db")).unwrap();
        std::fs::create_dir_all(dir.join("out")).unwrap();
        Some(TestZfs { top, dir })
    }

    /// `<top>/<rel>`
    pub fn ds(&self, rel: &str) -> String {
        format!("{}/{rel}", self.top)
    }

    pub fn db(&self) -> PathBuf {
        self.dir.join("db")
    }

    pub fn out(&self) -> PathBuf {
        self.dir.join("out")
    }

    /// A mounted filesystem `<top>/<rel>` at `<dir>/mnt/<rel>`; returns the mountpoint.
    pub fn filesystem(&self, rel: &str) -> PathBuf {
        let mnt = self.dir.join("mnt").join(rel);
        zfs(&["create", "-o", &format!("mountpoint={}", mnt.display()), &self.ds(rel)]);
        mnt
    }

    /// A dataset root for installed images (not mounted).
    pub fn root(&self, rel: &str) -> String {
        let ds = self.ds(rel);
        zfs(&["create", "-o", "mountpoint=none", &ds]);
        ds
    }

    /// Clones `snapshot` to `<top>/<rel>`, mounted; returns the mountpoint.
    pub fn clone_of(&self, snapshot: &str, rel: &str) -> PathBuf {
        let mnt = self.dir.join("mnt").join(rel);
        zfs(&["clone", "-o", &format!("mountpoint={}", mnt.display()), snapshot, &self.ds(rel)]);
        mnt
    }

    /// Mounts an installed image at `<dir>/mnt/<label>` to look inside.
    pub fn mount_image(&self, dataset: &str, label: &str) -> PathBuf {
        let mnt = self.dir.join("mnt").join(label);
        zfs(&["set", &format!("mountpoint={}", mnt.display()), dataset]);
        mnt
    }

    /// `buildy ARGS --db <db>`.
    pub fn buildy(&self, args: &[&str]) -> Output {
        buildy_with(args, &self.db())
    }

    /// Runs `buildy create` and returns (manifest path, file path).
    pub fn create(&self, args: &[&str]) -> (PathBuf, PathBuf) {
        let out = self.buildy(&[&["create", "-q"], args].concat());
        assert_success(&out);
        let stdout = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 2, "create prints the manifest and file paths: {stdout}");
        (PathBuf::from(lines[0]), PathBuf::from(lines[1]))
    }

    /// Installs an image under `root`, which must succeed; returns its dataset.
    pub fn install(&self, root: &str, manifest: &Path, file: &Path) -> String {
        let out = self.install_output(root, manifest, file);
        assert_success(&out);
        format!("{root}/{}", read_json(manifest)["uuid"].as_str().unwrap())
    }

    pub fn install_output(&self, root: &str, manifest: &Path, file: &Path) -> Output {
        self.buildy(&["install", "-q", "--root", root, "-m", &path(manifest), "-f", &path(file)])
    }

    /// Everything under `top`: datasets and snapshots, for "nothing was left".
    pub fn everything(&self) -> Vec<String> {
        let out = zfs(&["list", "-H", "-o", "name", "-t", "all", "-r", &self.top]);
        let mut names: Vec<String> = out.lines().map(str::to_string).collect();
        names.sort();
        names
    }

    /// The uuids of the complete cache layers under `top`: marked with
    /// their key, no run's mark left on them.
    pub fn layers(&self) -> Vec<String> {
        let marked = zfs(&["get", "-H", "-o", "name,value", "-s", "local", "-r", "buildy:layer", &self.top]);
        let owned = zfs(&["get", "-H", "-o", "name", "-s", "local", "-r", "buildy:owner", &self.top]);
        marked
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .filter(|(name, _)| !owned.lines().any(|o| o == *name))
            .filter_map(|(name, _)| Some(name.rsplit_once('/')?.1.to_string()))
            .collect()
    }

    /// [`everything`](Self::everything) but complete cache layers.
    pub fn everything_but_layers(&self) -> Vec<String> {
        let layers = self.layers();
        self.everything().into_iter().filter(|n| !layers.iter().any(|uuid| n.contains(uuid.as_str()))).collect()
    }

    /// [`files`](Self::files) but complete cache layers' records.
    pub fn files_but_layers(&self) -> Vec<String> {
        let layers = self.layers();
        self.files().into_iter().filter(|n| !layers.iter().any(|uuid| n.contains(uuid.as_str()))).collect()
    }

    /// Every file under the scratch directory except mounts: outputs, db records, partials.
    pub fn files(&self) -> Vec<String> {
        let mut found = Vec::new();
        for sub in ["out", "db"] {
            walk_names(&self.dir.join(sub), &self.dir, &mut found);
        }
        found.sort();
        found
    }
}

impl Drop for TestZfs {
    fn drop(&mut self) {
        // zfs-fuse reports "busy" for a moment after unmounts.
        for _ in 0..10 {
            if zfs_ok(&["destroy", "-R", &self.top]) || !zfs_ok(&["list", &self.top]) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn walk_names(dir: &Path, base: &Path, found: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        found.push(p.strip_prefix(base).unwrap().display().to_string());
        if e.file_type().unwrap().is_dir() {
            walk_names(&p, base, found);
        }
    }
}

pub fn path(p: &Path) -> String {
    p.display().to_string()
}

pub fn buildy_with(args: &[&str], db: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_buildy")).args(args).arg("--db").arg(db).output().unwrap()
}

pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "buildy failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asserts the exit code and that stderr contains `text`.
pub fn assert_fails(out: &Output, code: i32, text: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert!(stderr.contains(text), "expected {text:?} in: {stderr}");
}

/// `zfs ARGS`, holding buildy's mount lock for operations that may mount
/// or unmount (zfs-fuse can deadlock on concurrent mounts).
fn zfs_output(args: &[&str]) -> Output {
    let mounting = ["create", "clone", "destroy", "rename", "set"].contains(&args[0]);
    let _lock = mounting.then(|| imgcreate::host::lock::mount_lock(&imgcreate::host::exec::Exec::default()).unwrap());
    Command::new(ZFS).args(args).output().unwrap()
}

/// Runs `zfs ARGS`, which must succeed; returns stdout.
pub fn zfs(args: &[&str]) -> String {
    let out = zfs_output(args);
    assert!(out.status.success(), "zfs {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

pub fn zfs_ok(args: &[&str]) -> bool {
    zfs_output(args).status.success()
}

pub fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// One file system entry as a comparison sees it.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry {
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Contents' hash for files, target for symlinks.
    pub content: String,
    /// The first path (in order) that shares this file's inode.
    pub hard_link_of: Option<String>,
}

/// Every entry below `root`, by relative path.
pub fn describe_tree(root: &Path) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    let mut inodes = BTreeMap::new();
    describe_into(root, root, &mut out, &mut inodes);
    out
}

fn describe_into(root: &Path, dir: &Path, out: &mut BTreeMap<String, Entry>, inodes: &mut BTreeMap<u64, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        let md = std::fs::symlink_metadata(&p).unwrap();
        let ft = md.file_type();
        let (kind, content) = if ft.is_symlink() {
            ("symlink", std::fs::read_link(&p).unwrap().display().to_string())
        } else if ft.is_dir() {
            ("dir", String::new())
        } else {
            ("file", content_hash(&std::fs::read(&p).unwrap()))
        };
        let hard_link_of = if ft.is_file() && md.nlink() > 1 {
            let first = inodes.entry(md.ino()).or_insert_with(|| rel.clone()).clone();
            (first != rel).then_some(first)
        } else {
            None
        };
        out.insert(rel, Entry { kind, mode: md.mode() & 0o7777, uid: md.uid(), gid: md.gid(), content, hard_link_of });
        if ft.is_dir() {
            describe_into(root, &p, out, inodes);
        }
    }
}

fn content_hash(bytes: &[u8]) -> String {
    // FNV-1a and the length: enough to tell contents apart in a test.
    let h = bytes.iter().fold(0xcbf29ce484222325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3));
    format!("{}:{h:016x}", bytes.len())
}

// ---- builds: the project's base image, a proto dir, running `buildy build` ----

/// Makes and installs the base image under `<top>/images`; returns its uuid.
pub fn base_image(t: &TestZfs) -> (String, String) {
    let images = t.root("images");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/base-image/make.sh");
    let out = Command::new("bash")
        .arg(script)
        .args([&images, &path(&t.db()), &path(&t.out())])
        .env("BUILDY", env!("CARGO_BIN_EXE_buildy"))
        .output()
        .unwrap();
    assert_success(&out);
    (images, String::from_utf8(out.stdout).unwrap().trim().to_string())
}

pub fn proto(t: &TestZfs) -> PathBuf {
    let proto = t.dir.join("proto");
    fs::create_dir_all(proto.join("opt/app/bin")).unwrap();
    fs::write(proto.join("opt/app/bin/run"), "#!/bin/sh\necho service\n").unwrap();
    fs::create_dir_all(proto.join("etc")).unwrap();
    fs::write(proto.join("etc/app.conf"), "port=80\n").unwrap();
    proto
}

/// `buildy build` arguments for a build in this test's space.
pub fn build_args(t: &TestZfs, images: &str, base: &str, name: &str, extra: &[&str]) -> Vec<String> {
    let manifest = format!(r#"{{"name": "{name}", "version": "master-20261123T120000Z-g1234567"}}"#);
    let mut args: Vec<String> = ["build", "-i", base, "-d", &path(&proto(t)), "-m", &manifest, "--root", images]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(["--output-dir".into(), path(&t.out()), "--work-dir".into(), path(&t.work())]);
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

pub fn spawn_build(t: &TestZfs, args: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_buildy"))
        .args(args)
        .arg("--db")
        .arg(t.db())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

pub fn run_build(t: &TestZfs, args: &[String]) -> Output {
    spawn_build(t, args).wait_with_output().unwrap()
}

/// Waits until `n` builds run a package install in their chroot (a process
/// whose root is a zone analog under the work dir: slowpkg's 60 s install).
pub fn wait_for_chroots(t: &TestZfs, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut roots: Vec<PathBuf> = fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| fs::read_link(e.path().join("root")).ok())
            .filter(|root| root.starts_with(t.work()))
            .collect();
        roots.sort();
        roots.dedup();
        if roots.len() >= n {
            return;
        }
        assert!(Instant::now() < deadline, "the builds did not reach their package step");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The state a finished or undone build must leave: datasets and files as
/// before, no mounts, no mountpoints, no journals.
/// Complete cache layers (which builds keep by design) are not counted.
pub fn assert_nothing_left(t: &TestZfs, before: &(Vec<String>, Vec<String>)) {
    assert_eq!(&(t.everything_but_layers(), t.files_but_layers()), before, "datasets, outputs or records left behind");
    assert_eq!(imgcreate::host::mount::mounts_under(&t.work()).unwrap(), Vec::<PathBuf>::new(), "mounts left behind");
    let work: Vec<_> = fs::read_dir(t.work()).unwrap().flatten().map(|e| e.file_name()).collect();
    let journals = t.work().join("buildy-builds");
    let left: Vec<_> =
        fs::read_dir(&journals).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    let cache: Vec<_> = fs::read_dir(t.work().join("buildy-cache"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    assert!(cache.iter().all(|n| n.starts_with("proto-stat-")), "partial cache files left: {cache:?}");
    assert!(
        work.iter().all(|n| n == "buildy-builds" || n == "buildy-cache") && left.is_empty(),
        "work dir: {work:?}, journals: {left:?}"
    );
}

impl TestZfs {
    pub fn work(&self) -> PathBuf {
        let w = self.dir.join("work");
        fs::create_dir_all(&w).unwrap();
        w
    }
}
