//! A failed zfs operation, and what kind of failure it is: decided once,
//! here, from zfs's stderr (run with `LC_ALL=C`, so the words are
//! English), so that no caller ever tests stderr for words.

use crate::host::exec::CommandError;

/// What went wrong, as far as callers act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZfsErrorKind {
    /// The dataset or snapshot does not exist.
    NotFound,
    /// The dataset is busy (transient after unmounts; retried).
    Busy,
    /// The pool or a quota ran out of space.
    OutOfSpace,
    /// Anything else (the message says what).
    Other,
}

/// A failed ZFS operation: its name, the dataset, the kind, and the
/// command's failure (command line, exit status, stderr).
#[derive(Debug, thiserror::Error)]
#[error("zfs {op} of {dataset} failed: {source}")]
pub struct ZfsError {
    pub op: &'static str,
    pub dataset: String,
    pub kind: ZfsErrorKind,
    #[source]
    pub source: Box<CommandError>,
}

impl ZfsError {
    /// Wraps a failure of a zfs command, deciding its kind.
    pub fn new(op: &'static str, dataset: &str, source: CommandError) -> ZfsError {
        let kind = if source.status.is_some() { kind_of(&source.stderr) } else { ZfsErrorKind::Other };
        ZfsError { op, dataset: dataset.to_string(), kind, source: Box::new(source) }
    }

    /// The dataset (or snapshot) does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind == ZfsErrorKind::NotFound
    }

    /// The pool or quota ran out of space.
    pub fn is_out_of_space(&self) -> bool {
        self.kind == ZfsErrorKind::OutOfSpace
    }

    pub fn is_busy(&self) -> bool {
        self.kind == ZfsErrorKind::Busy
    }
}

/// The kind of a failure from zfs's stderr. The same words on all three
/// dialects (libzfs's messages, and strerror for ENOSPC):
///
/// - not found: `cannot open 'P/x': dataset does not exist` (also for
///   snapshots and `get`);
/// - busy: `dataset is busy` (zfs-fuse, illumos), `pool or dataset is busy`
///   (OpenZFS);
/// - out of space: `out of space`, `destination P/x space quota exceeded`
///   (receive), `No space left on device`.
pub(super) fn kind_of(stderr: &str) -> ZfsErrorKind {
    const KINDS: &[(&str, ZfsErrorKind)] = &[
        ("does not exist", ZfsErrorKind::NotFound),
        ("is busy", ZfsErrorKind::Busy),
        ("out of space", ZfsErrorKind::OutOfSpace),
        ("quota exceeded", ZfsErrorKind::OutOfSpace),
        ("No space left on device", ZfsErrorKind::OutOfSpace),
    ];
    KINDS.iter().find(|(words, _)| stderr.contains(words)).map_or(ZfsErrorKind::Other, |&(_, kind)| kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/platform").join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn each_dialects_messages_have_their_kind() {
        assert_eq!(kind_of(&fixture("zfs-fuse/list-not-found.txt")), ZfsErrorKind::NotFound);
        for line in fixture("openzfs/errors.txt").lines() {
            let (kind, message) = line.split_once('\t').unwrap();
            let expected = match kind {
                "not-found" => ZfsErrorKind::NotFound,
                "busy" => ZfsErrorKind::Busy,
                "out-of-space" => ZfsErrorKind::OutOfSpace,
                _ => ZfsErrorKind::Other,
            };
            assert_eq!(kind_of(message), expected, "{message}");
        }
        assert_eq!(kind_of("cannot destroy 'zones/x': dataset is busy\n"), ZfsErrorKind::Busy);
    }

    #[test]
    fn a_command_that_could_not_run_is_of_no_kind() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "does not exist");
        let error = ZfsError::new("list", "p/x", CommandError::other("zfs list".into(), io));
        assert_eq!(error.kind, ZfsErrorKind::Other);
    }
}
