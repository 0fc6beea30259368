//! Packaging: files the real decompressors accept, exact size and sha1,
//! and nothing left behind on failure.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::util;
use imgcreate::pack::{pack, PackError, PackOptions};
use imgcreate::stream::StreamError;
use imgcreate::stream::RECORD_SIZE;
use imgmanifest::Compression;

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("buildy-pack-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `cmd args` with `input` on stdin; returns stdout, asserting success.
fn run(cmd: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(cmd)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd} is needed for this test: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    assert!(out.status.success(), "{cmd} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn sha1sum(path: &Path) -> String {
    let out = Command::new("sha1sum").arg(path).output().unwrap();
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

#[test]
fn every_compression_round_trips_through_the_real_tools() {
    let dir = TempDir::new("roundtrip");
    let stream = util::synthetic_stream(6 << 20, 0xfeed_beef_0000_0001, 0, true);
    round_trip_through_the_real_tools(&dir, &stream, 0xfeed_beef_0000_0001);
}

/// Stretches that cannot be compressed are stored as the formats' own
/// uncompressed blocks (gzip, xz); the real tools read them back.
#[test]
fn stored_stretches_round_trip_through_the_real_tools() {
    let dir = TempDir::new("stored");
    let stream = util::synthetic_stream_with_random_runs(12 << 20, 0x5702ed, 16);
    round_trip_through_the_real_tools(&dir, &stream, 0x5702ed);
    // Stored, a random block's bytes stand in the file as they are (a
    // compressor would have coded them): one from the middle of the first
    // random run (blocks 16 to 31; each record a header and 128 KiB).
    let at = RECORD_SIZE + 20 * (RECORD_SIZE + (128 << 10)) + RECORD_SIZE + 1000;
    let needle = &stream[at..at + 4096];
    for c in [Compression::Gzip, Compression::Xz] {
        let out = dir.0.join(format!("stored.zfs{}", c.file_suffix()));
        pack(stream.as_slice(), &out, &PackOptions::new(c.clone()), |_| {}).unwrap();
        let bytes = std::fs::read(&out).unwrap();
        assert!(bytes.windows(needle.len()).any(|w| w == needle), "{c}: the random run is stored");
        let text = &stream[RECORD_SIZE * 2..RECORD_SIZE * 2 + 4096];
        assert!(!bytes.windows(text.len()).any(|w| w == text), "{c}: the text is compressed");
        std::fs::remove_file(&out).unwrap();
    }
}

fn round_trip_through_the_real_tools(dir: &TempDir, stream: &[u8], toguid: u64) {
    for (compression, tool) in [
        (Compression::None, None),
        (Compression::Gzip, Some("gzip")),
        (Compression::Bzip2, Some("bzip2")),
        (Compression::Xz, Some("xz")),
    ] {
        let out = dir.0.join(format!("image.zfs{}", compression.file_suffix()));
        let mut calls = 0;
        // `sync` on for some.
        let sync = matches!(compression, Compression::None | Compression::Xz);
        let opts = PackOptions { sync, ..PackOptions::new(compression.clone()) };
        let packed = pack(stream, &out, &opts, |_| calls += 1).unwrap_or_else(|e| panic!("{compression}: {e}"));
        assert!(calls > 1, "progress reported");
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(packed.size, bytes.len() as u64);
        assert_eq!(packed.sha1, sha1sum(&out), "{compression}: sha1 of the bytes on disk");
        assert_eq!(packed.dataset_guid(), Some(toguid.to_string()));
        assert_eq!(packed.stream_bytes, stream.len() as u64);
        if let Some(tool) = tool {
            // imgadm's install: `<tool> -cdfq`; and the tool's own integrity test.
            let back = run(tool, &["-cdfq"], &bytes);
            assert!(back == stream, "{compression}: {tool} -cdfq gives the stream back");
            run(tool, &["-t"], &bytes);
        } else {
            assert!(bytes == stream);
        }
    }
    assert_eq!(dir.entries(), vec!["image.zfs", "image.zfs.bz2", "image.zfs.gz", "image.zfs.xz"]);
}

#[test]
fn gzip_files_are_read_by_nodes_zlib() {
    let dir = TempDir::new("node");
    let stream = util::synthetic_stream(3 << 20, 7, 0, false);
    let out = dir.0.join("image.zfs.gz");
    pack(&stream[..], &out, &PackOptions::new(Compression::Gzip), |_| {}).unwrap();
    let script = "const z=require('zlib'),fs=require('fs');\
                  const b=z.gunzipSync(fs.readFileSync(process.argv[1]));\
                  process.stdout.write(require('crypto').createHash('sha1').update(b).digest('hex'))";
    let out = Command::new("node").args(["-e", script]).arg(&out).output().expect("node is on every machine");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = run("sha1sum", &[], &stream);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), String::from_utf8(expected).unwrap()[..40]);
}

#[test]
fn levels_and_threads_are_honoured() {
    let dir = TempDir::new("levels");
    let stream = util::synthetic_stream(4 << 20, 9, 0, false);
    let mut sizes = Vec::new();
    for level in [1, 9] {
        let out = dir.0.join(format!("l{level}.gz"));
        let opts = PackOptions { level: Some(level), threads: Some(1), ..PackOptions::new(Compression::Gzip) };
        sizes.push(pack(&stream[..], &out, &opts, |_| {}).unwrap().size);
        assert!(run("gzip", &["-cdfq"], &std::fs::read(&out).unwrap()) == stream);
    }
    assert!(sizes[1] < sizes[0], "level 9 is smaller than level 1: {sizes:?}");
    let bad = PackOptions { level: Some(12), ..PackOptions::new(Compression::Xz) };
    assert!(matches!(pack(&stream[..], &dir.0.join("x.xz"), &bad, |_| {}), Err(PackError::BadLevel { .. })));
    let unknown = PackOptions::new(Compression::Unknown("zstd".into()));
    assert!(matches!(pack(&stream[..], &dir.0.join("x"), &unknown, |_| {}), Err(PackError::UnknownCompression(_))));
    assert_eq!(dir.entries(), vec!["l1.gz", "l9.gz"]);
}

#[test]
fn invalid_input_fails_and_leaves_no_file() {
    let dir = TempDir::new("invalid");
    let stream = util::synthetic_stream(3 << 20, 11, 0, false);
    let out = dir.0.join("image.zfs.gz");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not a stream", b"hello, this is not a zfs send stream at all".repeat(100)),
        ("truncated", stream[..stream.len() / 2].to_vec()),
        ("trailing data", [stream.clone(), b"more".to_vec()].concat()),
        ("empty", Vec::new()),
    ];
    for (what, input) in cases {
        let err = pack(&input[..], &out, &PackOptions::new(Compression::Gzip), |_| {}).unwrap_err();
        assert!(matches!(err, PackError::Stream(_)), "{what}: {err}");
        assert!(dir.entries().is_empty(), "{what}: left {:?}", dir.entries());
    }
}

#[test]
fn a_producer_killed_mid_stream_fails_the_packaging() {
    // The producer is a real process that dies by SIGKILL after writing part
    // of a valid stream: exactly what a killed `zfs send` looks like from
    // the reading end of its pipe.
    let dir = TempDir::new("killed");
    let stream = util::synthetic_stream(2 << 20, 12, 0, false);
    let src = dir.0.join("stream.src");
    std::fs::write(&src, &stream).unwrap();
    let script = format!("head -c 1000000 {}; kill -9 $$", src.display());
    let mut producer = Command::new("sh").args(["-c", &script]).stdout(Stdio::piped()).spawn().unwrap();
    let out = dir.0.join("image.zfs.xz");
    let err = pack(producer.stdout.take().unwrap(), &out, &PackOptions::new(Compression::Xz), |_| {}).unwrap_err();
    let status = producer.wait().unwrap();
    assert!(!status.success());
    assert!(matches!(err, PackError::Stream(StreamError::TruncatedPayload { .. })), "{err}");
    assert_eq!(dir.entries(), vec!["stream.src"]);
}

#[test]
fn an_existing_output_is_replaced_only_on_success() {
    let dir = TempDir::new("replace");
    let out = dir.0.join("image.zfs");
    std::fs::write(&out, b"previous image").unwrap();
    let bad = b"garbage".repeat(1000);
    assert!(pack(&bad[..], &out, &PackOptions::new(Compression::None), |_| {}).is_err());
    assert_eq!(std::fs::read(&out).unwrap(), b"previous image");
    let stream = util::synthetic_stream(1 << 20, 13, 0, false);
    pack(&stream[..], &out, &PackOptions::new(Compression::None), |_| {}).unwrap();
    assert!(std::fs::read(&out).unwrap() == stream);
    assert_eq!(dir.entries(), vec!["image.zfs"]);
}

/// An input that fails part-way with an I/O error.
struct FailingReader {
    data: Vec<u8>,
    at: usize,
}

impl std::io::Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at >= self.data.len() {
            return Err(std::io::Error::other("device went away"));
        }
        let n = buf.len().min(self.data.len() - self.at).min(4096);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[test]
fn a_read_error_fails_the_packaging_and_names_it() {
    let dir = TempDir::new("readerr");
    let stream = util::synthetic_stream(2 << 20, 14, 0, false);
    let input = FailingReader { data: stream[..stream.len() / 2].to_vec(), at: 0 };
    let out = dir.0.join("image.zfs.bz2");
    let err = pack(input, &out, &PackOptions::new(Compression::Bzip2), |_| {}).unwrap_err();
    assert!(matches!(err, PackError::Input(_)), "{err}");
    assert!(err.to_string().contains("device went away"), "{err}");
    assert!(dir.entries().is_empty());
}
