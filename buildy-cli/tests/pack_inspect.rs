//! `buildy pack` and `buildy inspect`: their output contracts and exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn buildy() -> Command {
    Command::new(env!("CARGO_BIN_EXE_buildy"))
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/streams").join(name)
}

struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("buildy-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn join(&self, n: &str) -> PathBuf {
        self.0.join(n)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

fn pack_json(input: &Path, out: &Path, c: &str) -> Value {
    let o = buildy().args(["pack", "-c", c, "--json", "-o"]).arg(out).arg(input).output().unwrap();
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "exactly one JSON object");
    serde_json::from_str(&text).unwrap()
}

fn inspect_json(file: &Path, manifest: Option<&Path>) -> (i32, Value) {
    let mut c = buildy();
    c.args(["inspect", "--json"]);
    if let Some(m) = manifest {
        c.arg("-m").arg(m);
    }
    let o = c.arg(file).output().unwrap();
    (code(&o), serde_json::from_slice(&o.stdout).unwrap_or(Value::Null))
}

fn write_manifest(dir: &TempDir, files0: &Value, origin: Option<&str>) -> PathBuf {
    let mut m = serde_json::json!({"v": 2, "uuid": "ffb1f2bb-9daf-4e3b-9d19-1e33a1f162a2", "name": "t",
        "version": "1", "type": "zone-dataset", "os": "smartos"});
    if let Some(o) = origin {
        m["origin"] = o.into();
    }
    m["files"] = serde_json::json!([files0]);
    let p = dir.join("t.imgmanifest");
    std::fs::write(&p, serde_json::to_string_pretty(&m).unwrap()).unwrap();
    p
}

#[test]
fn pack_prints_files0_and_inspect_agrees() {
    let dir = TempDir::new("agree");
    for c in ["none", "gzip", "bzip2", "xz"] {
        let out = dir.join(&format!("img.{c}"));
        let entry = pack_json(&fixture("m_incr.zstream"), &out, c);
        assert_eq!(entry["size"], std::fs::metadata(&out).unwrap().len());
        assert_eq!(entry["compression"], c);
        assert_eq!(entry["dataset_guid"], "1092758799191558348"); // 0xf2a425692fec8cc, from the dump
        assert_eq!(entry["stream"]["fromguid"], "4646304027063796417"); // 0x407afce53b9ac2c1
        let files0 = serde_json::json!({"size": entry["size"], "compression": c, "sha1": entry["sha1"],
            "dataset_guid": entry["dataset_guid"]});
        let m = write_manifest(&dir, &files0, Some("3f5cd6a1-cbbd-403a-9dfb-8d1055c8f474"));
        let (status, report) = inspect_json(&out, Some(&m));
        assert_eq!((status, &report["ok"]), (0, &Value::Bool(true)), "{report}");
        assert_eq!(report["compression"], c);
    }
}

#[test]
fn inspect_names_each_mismatch() {
    let dir = TempDir::new("mismatch");
    let out = dir.join("img.gz");
    let entry = pack_json(&fixture("m_full.zstream"), &out, "gzip");
    let good = serde_json::json!({"size": entry["size"], "compression": "gzip", "sha1": entry["sha1"],
        "dataset_guid": entry["dataset_guid"]});
    let failing = |files0: Value, origin: Option<&str>| {
        let m = write_manifest(&dir, &files0, origin);
        let (status, report) = inspect_json(&out, Some(&m));
        assert_eq!(status, 1, "{report}");
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["ok"] == false)
            .map(|c| c["check"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let mut wrong_sha = good.clone();
    wrong_sha["sha1"] = "0000000000000000000000000000000000000000".into();
    assert_eq!(failing(wrong_sha, None), ["sha1"]);
    let mut wrong_size = good.clone();
    wrong_size["size"] = 5.into();
    assert_eq!(failing(wrong_size, None), ["size"]);
    let mut wrong_guid = good.clone();
    wrong_guid["dataset_guid"] = "42".into();
    assert_eq!(failing(wrong_guid, None), ["dataset_guid"]);
    // A full stream for an image that claims an origin.
    assert_eq!(failing(good.clone(), Some("3f5cd6a1-cbbd-403a-9dfb-8d1055c8f474")), ["origin"]);
}

#[test]
fn inspect_finds_truncated_and_flipped_files() {
    let dir = TempDir::new("broken");
    let out = dir.join("img.bz2");
    pack_json(&fixture("fuse_full.zstream"), &out, "bzip2");
    let bytes = std::fs::read(&out).unwrap();
    let cut = dir.join("cut.bz2");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    let (status, report) = inspect_json(&cut, None);
    assert_eq!((status, &report["ok"]), (1, &Value::Bool(false)));
    assert!(report["stream_error"].as_str().unwrap().len() > 10, "{report}");

    // A flipped byte in uncompressed data: found by the stream checksums.
    let plain = dir.join("img.none");
    pack_json(&fixture("fuse_full.zstream"), &plain, "none");
    let mut bytes = std::fs::read(&plain).unwrap();
    bytes[100_000] ^= 1;
    std::fs::write(&plain, &bytes).unwrap();
    let (status, report) = inspect_json(&plain, None);
    assert_eq!(status, 1);
    assert!(report["stream_error"].as_str().unwrap().contains("checksum"), "{report}");
}

#[test]
fn usage_errors_exit_2_and_failures_exit_1() {
    let dir = TempDir::new("usage");
    let o = buildy().args(["pack", "-c", "zstd", "-o"]).arg(dir.join("x")).output().unwrap();
    assert_eq!(code(&o), 2);
    let o = buildy()
        .args(["pack", "-c", "gzip", "-l", "11", "-o"])
        .arg(dir.join("x"))
        .arg(fixture("m_full.zstream"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", String::from_utf8_lossy(&o.stderr));
    let o = buildy().args(["inspect"]).arg(dir.join("missing")).output().unwrap();
    assert_eq!(code(&o), 2);
    // Not a stream on stdin: the job fails, no file.
    let mut child = buildy()
        .args(["pack", "-c", "gzip", "-o"])
        .arg(dir.join("x.gz"))
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"definitely not a send stream").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 1);
    let err = String::from_utf8(o.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(!dir.join("x.gz").exists());
    assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 0);
}

#[test]
fn pack_fails_and_leaves_no_file_when_its_producer_is_killed() {
    // `zfs send | buildy pack` where zfs send dies by SIGKILL part-way: a
    // real process, killed for real.
    let dir = TempDir::new("killed");
    let script = format!("head -c 300000 {}; kill -9 $$", fixture("m_full.zstream").display());
    let mut producer = Command::new("sh").args(["-c", &script]).stdout(Stdio::piped()).spawn().unwrap();
    let out = dir.join("img.zfs.gz");
    let o =
        buildy().args(["pack", "-c", "gzip", "-o"]).arg(&out).stdin(producer.stdout.take().unwrap()).output().unwrap();
    assert!(!producer.wait().unwrap().success());
    assert_eq!(code(&o), 1);
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.contains("truncated stream"), "{err}");
    assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 0, "nothing left behind");
}
