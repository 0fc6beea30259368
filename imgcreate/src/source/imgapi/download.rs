//! Downloading an image file: streamed to disk, never held in memory;
//! `Content-Length` required and equal to `files[0].size`; the bytes
//! counted and their sha1 (and the server's `Content-MD5`, when it sends
//! one) checked. A broken connection, a stalled one (the read timeout) or a
//! 5xx answer is retried, a bounded number of times with back-off: from
//! where it broke if the server offers byte ranges (the real IMGAPI does
//! not), else from the start.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use md5::{Digest as _, Md5};
use sha1::Sha1;

use super::client::{Client, ClientError};
use crate::image::model::FileEntry;

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("downloading image {uuid}: {source}")]
    Request {
        uuid: String,
        #[source]
        source: ClientError,
    },
    #[error("downloading image {uuid} from {url}: the answer has no Content-Length")]
    NoContentLength { uuid: String, url: String },
    #[error(
        "downloading image {uuid} from {url}: the server sends {sent} bytes, but the manifest says the file has {size}"
    )]
    WrongSize { uuid: String, url: String, sent: u64, size: u64 },
    #[error("downloading image {uuid} from {url}: {why} after {attempts} attempts ({done} of {size} bytes)")]
    Broken { uuid: String, url: String, why: String, attempts: u32, done: u64, size: u64 },
    #[error("image {uuid} from {url} is not the file its manifest describes: {what} is {got}, not {expected}")]
    Mismatch { uuid: String, url: String, what: &'static str, got: String, expected: String },
    #[error("writing the download {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Downloads image `uuid`'s file, described by `entry`, into `file` (empty,
/// at `path`). `progress` gets the bytes done so far.
pub fn download(
    client: &Client,
    uuid: &str,
    entry: &FileEntry,
    file: &mut File,
    path: &Path,
    progress: &dyn Fn(u64),
) -> Result<(), DownloadError> {
    let url = client.url(&format!("/images/{uuid}/file"), &[]);
    let write_error = |source| DownloadError::Write { path: path.to_path_buf(), source };
    let mut state = State::default();
    let mut resume = false;
    let attempts = client.options().attempts;
    let mut attempt = 1;
    loop {
        let why = match client.get_file(uuid, if resume { state.done } else { 0 }) {
            Err(e) if e.is_transient() => e.to_string(),
            Err(source) => return Err(DownloadError::Request { uuid: uuid.into(), source }),
            Ok(response) => {
                if response.offset != state.done {
                    // From the start again: the server sends the whole file.
                    state = State::default();
                    file.set_len(0).and_then(|()| file.seek(SeekFrom::Start(0)).map(drop)).map_err(write_error)?;
                }
                let Some(length) = response.content_length else {
                    return Err(DownloadError::NoContentLength { uuid: uuid.into(), url });
                };
                if response.offset + length != entry.size {
                    let sent = response.offset + length;
                    return Err(DownloadError::WrongSize { uuid: uuid.into(), url, sent, size: entry.size });
                }
                if state.done == 0 {
                    state.content_md5 = response.content_md5.clone();
                }
                resume = response.accept_ranges;
                match copy(response.body, file, &mut state, entry.size, progress) {
                    Ok(()) if state.done == entry.size => break,
                    Ok(()) => format!("the connection closed after {} of {} bytes", state.done, entry.size),
                    Err(Copy::Read(e)) => format!("reading failed: {e}"),
                    Err(Copy::Write(e)) => return Err(write_error(e)),
                }
            }
        };
        if attempt >= attempts {
            let (done, size) = (state.done, entry.size);
            return Err(DownloadError::Broken { uuid: uuid.into(), url, why, attempts, done, size });
        }
        client.back_off(attempt).map_err(|source| DownloadError::Request { uuid: uuid.into(), source })?;
        attempt += 1;
    }
    file.flush().map_err(write_error)?;
    state.check(uuid, &url, entry)
}

/// What has been received so far.
#[derive(Default)]
struct State {
    done: u64,
    sha1: Sha1,
    md5: Md5,
    content_md5: Option<String>,
}

impl State {
    fn check(self, uuid: &str, url: &str, entry: &FileEntry) -> Result<(), DownloadError> {
        let mismatch = |what, got: String, expected: String| DownloadError::Mismatch {
            uuid: uuid.into(),
            url: url.into(),
            what,
            got,
            expected,
        };
        let sha1: String = self.sha1.finalize().iter().map(|b| format!("{b:02x}")).collect();
        if sha1 != entry.sha1 {
            return Err(mismatch("its sha1", sha1, entry.sha1.clone()));
        }
        if let Some(expected) = self.content_md5 {
            let md5 = base64::engine::general_purpose::STANDARD.encode(self.md5.finalize());
            if md5 != expected {
                return Err(mismatch("its md5 (Content-MD5)", md5, expected));
            }
        }
        Ok(())
    }
}

enum Copy {
    Read(std::io::Error),
    Write(std::io::Error),
}

/// Copies the body to the file, hashing and counting; never past `size`.
fn copy(
    mut body: impl Read,
    file: &mut File,
    state: &mut State,
    size: u64,
    progress: &dyn Fn(u64),
) -> Result<(), Copy> {
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n.min((size - state.done) as usize),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Copy::Read(e)),
        };
        if n == 0 {
            return Ok(()); // more than Content-Length: not ours to read
        }
        file.write_all(&buf[..n]).map_err(Copy::Write)?;
        state.sha1.update(&buf[..n]);
        state.md5.update(&buf[..n]);
        state.done += n as u64;
        progress(state.done);
    }
}
