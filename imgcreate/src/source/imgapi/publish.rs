//! Publishing an image to an IMGAPI, as `imgadm publish` does:
//! AdminImportImage (the whole manifest: uuid and `published_at` kept),
//! AddImageFile (the file streamed, with its compression, sha1 and size),
//! a check that the server's `files[0]` is ours, ActivateImage; if anything
//! after the import fails, the image is deleted again.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha1::{Digest as _, Sha1};

use super::client::{Client, ClientError};
use crate::image::model::ImageManifest;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("the image file {file} does not match its manifest: {problem}")]
    BadFile { file: PathBuf, problem: String },
    #[error("cannot read the image file {file}: {source}")]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the manifest has no files[0] (size, sha1, compression) to publish")]
    NoFile,
    #[error("{url} already has image {uuid} (ImageUuidAlreadyExists)")]
    AlreadyExists { uuid: String, url: String },
    #[error("{url} does not have the origin image {origin} (OriginDoesNotExist): publish the origin first")]
    OriginMissing { origin: String, url: String },
    #[error("publishing to {url} failed: {source}")]
    Server {
        url: String,
        #[source]
        source: ClientError,
    },
    #[error("{url} stored the file with {what} {got}, not {expected}")]
    Stored { url: String, what: &'static str, got: String, expected: String },
    #[error("{error}; deleting the half-published image also failed: {rollback}")]
    Rollback { error: Box<PublishError>, rollback: ClientError },
}

impl PublishError {
    /// Errors in the input (exit status 2).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            PublishError::BadFile { .. }
                | PublishError::Read { .. }
                | PublishError::NoFile
                | PublishError::OriginMissing { .. }
        )
    }
}

/// Publishes `manifest` with `file`; returns the server's manifest.
pub fn publish(
    client: &Client,
    manifest: &ImageManifest,
    file: &Path,
    log: &dyn Fn(&str),
) -> Result<Value, PublishError> {
    let entry = manifest.file.as_ref().ok_or(PublishError::NoFile)?;
    check_file(file, entry.size, &entry.sha1)?;
    let uuid = manifest.uuid.to_string();
    let url = client.source().url.clone();
    let server = |source: ClientError| PublishError::Server { url: url.clone(), source };

    log(&format!("Importing image {uuid} ({}@{}) into {url}", manifest.name, manifest.version));
    let json = Value::Object(manifest.json().clone());
    match client.import_image(&uuid, &json) {
        Ok(_) => {}
        Err(e) if e.code() == Some("ImageUuidAlreadyExists") => {
            return Err(PublishError::AlreadyExists { uuid, url });
        }
        Err(e) if e.code() == Some("OriginDoesNotExist") => {
            let origin = manifest.origin.map(|o| o.to_string()).unwrap_or_default();
            return Err(PublishError::OriginMissing { origin, url });
        }
        Err(e) => return Err(server(e)),
    }
    // From here on a failure deletes the image again.
    let result = (|| {
        log(&format!("Adding the file ({} bytes, {})", entry.size, entry.compression));
        let sha1 = entry.sha1.as_str();
        let mut query = vec![("compression", entry.compression.as_str()), ("sha1", sha1)];
        if let Some(guid) = &entry.dataset_guid {
            query.push(("dataset_guid", guid.as_str()));
        }
        let body = std::fs::File::open(file).map_err(|source| PublishError::Read { file: file.into(), source })?;
        let stored = client.add_file(&uuid, &query, entry.size, body).map_err(server)?;
        let stored_file = &stored["files"][0];
        let stored_mismatch = |what, got: &Value, expected: String| PublishError::Stored {
            url: url.clone(),
            what,
            got: got.to_string(),
            expected,
        };
        if stored_file["sha1"].as_str() != Some(sha1) {
            return Err(stored_mismatch("sha1", &stored_file["sha1"], sha1.into()));
        }
        if stored_file["size"].as_u64() != Some(entry.size) {
            return Err(stored_mismatch("size", &stored_file["size"], entry.size.to_string()));
        }
        log("Activating the image");
        client.activate(&uuid).map_err(server)
    })();
    match result {
        Ok(activated) => Ok(activated),
        Err(error) => {
            log(&format!("Deleting image {uuid} from {url} again, after: {error}"));
            match client.delete(&uuid) {
                Ok(()) => Err(error),
                Err(rollback) => Err(PublishError::Rollback { error: Box::new(error), rollback }),
            }
        }
    }
}

/// The file's size and sha1 are the manifest's: a mismatch is found here,
/// before anything reaches the server.
fn check_file(file: &Path, size: u64, sha1: &str) -> Result<(), PublishError> {
    let read = |source| PublishError::Read { file: file.into(), source };
    let mut f = std::fs::File::open(file).map_err(read)?;
    let mut hasher = Sha1::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(read)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    let got: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let bad = |problem| Err(PublishError::BadFile { file: file.into(), problem });
    if total != size {
        return bad(format!("its size is {total}, the manifest's files[0].size {size}"));
    }
    if got != sha1 {
        return bad(format!("its sha1 is {got}, the manifest's files[0].sha1 {sha1}"));
    }
    Ok(())
}
