//! Inspecting an image file, optionally against its manifest, in one pass:
//! size and sha1 of the bytes on disk, decompression, every stream check,
//! and the manifest's `files[0]`, `dataset_guid` and `origin`.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use imgmanifest::{Compression, Manifest};
use serde::Serialize;
use sha1::{Digest, Sha1};

use crate::pack::codec;
use crate::stream::{StreamInfo, StreamReader};

/// One comparison between the file and its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub ok: bool,
    pub expected: String,
    pub found: String,
}

/// Everything `inspect` found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Every check passed and the stream is valid and complete.
    pub ok: bool,
    pub file: PathBuf,
    pub size: u64,
    pub sha1: String,
    /// Detected from the file's first bytes.
    pub compression: Compression,
    /// What the stream is, when it is valid.
    pub stream: Option<StreamInfo>,
    /// Why the stream (or its decompression) is not valid.
    pub stream_error: Option<String>,
    /// Comparisons with the manifest (none without one).
    pub checks: Vec<Check>,
    /// One line per problem, for people.
    pub problems: Vec<String>,
}

/// Reads and hashes the file as the decompressor pulls from it.
struct HashingReader<R> {
    inner: R,
    sha1: Sha1,
    size: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha1.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

/// Inspects `path`; `manifest` adds the checks against it. Fails only when
/// the file cannot be read; everything wrong with it is in the report.
pub fn inspect(path: &Path, manifest: Option<&Manifest>) -> io::Result<Report> {
    let mut file = File::open(path)?;
    let mut head = Vec::with_capacity(6);
    file.by_ref().take(6).read_to_end(&mut head)?;
    let compression = codec::detect(&head);
    let mut hashing = HashingReader { inner: (&head[..]).chain(file), sha1: Sha1::new(), size: 0 };

    let mut reader = StreamReader::new();
    let mut stream_error = None;
    {
        let mut decompressed = codec::decompressor(&compression, &mut hashing)?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match decompressed.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => {
                    if let Err(e) = reader.update(&buf[..k]) {
                        stream_error = Some(e.to_string());
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    stream_error = Some(format!("the {compression} data is corrupt: {e}"));
                    break;
                }
            }
        }
    }
    // Hash whatever the decompressor did not need, so sha1 and size are of
    // the whole file.
    io::copy(&mut hashing, &mut io::sink())?;
    let stream = match stream_error {
        Some(_) => None,
        None => match reader.finish() {
            Ok(info) => Some(info),
            Err(e) => {
                stream_error = Some(e.to_string());
                None
            }
        },
    };
    let sha1 = crate::pack::sha1_hex(hashing.sha1);

    let mut report = Report {
        ok: false,
        file: path.to_path_buf(),
        size: hashing.size,
        sha1,
        compression,
        stream,
        stream_error,
        checks: Vec::new(),
        problems: Vec::new(),
    };
    if let Some(m) = manifest {
        manifest_checks(&mut report, m);
    }
    if let Some(e) = &report.stream_error {
        report.problems.insert(0, format!("stream: {e}"));
    }
    report.ok = report.problems.is_empty();
    Ok(report)
}

fn manifest_checks(report: &mut Report, m: &Manifest) {
    let check = |report: &mut Report, name: &'static str, expected: String, found: String| {
        let ok = expected == found;
        if !ok {
            report.problems.push(format!("{name}: the manifest says {expected}, the file has {found}"));
        }
        report.checks.push(Check { check: name, ok, expected, found });
    };
    let Some(file) = m.files.as_ref().and_then(|f| f.first()) else {
        report.problems.push("the manifest has no files[0] to check the file against".into());
        return;
    };
    check(report, "size", file.size.to_string(), report.size.to_string());
    check(report, "sha1", file.sha1.clone(), report.sha1.clone());
    check(report, "compression", file.compression.to_string(), report.compression.to_string());
    let Some(stream) = report.stream.clone() else { return };
    if let Some(guid) = &file.dataset_guid {
        check(report, "dataset_guid", guid.clone(), stream.toguid.to_string());
    }
    let expect = if m.origin.is_some() { "incremental" } else { "full" };
    let found = if stream.is_incremental() { "incremental" } else { "full" };
    check(report, "origin", format!("{expect} stream"), format!("{found} stream"));
}
