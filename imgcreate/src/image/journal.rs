//! A journal of what one run (a build, a create, an install) is about to
//! create, written to disk before it creates it, so that whatever happens
//! to the process (an error, a panic, SIGKILL, power loss) its own undo or
//! a later `buildy cleanup` can find and remove exactly that, and nothing
//! else. Each [`Resource`] knows how it is undone (see `undo.rs`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::owner::Owner;
use crate::atomic;

/// `<work dir>/buildy-builds/`: where the journals live.
pub fn journal_dir(work_dir: &Path) -> PathBuf {
    work_dir.join("buildy-builds")
}

/// Something a run creates, recorded before it exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Resource {
    /// A dataset carrying the run's mark (a build's zone analog), mounted
    /// at `mountpoint`: destroyed with its snapshots, after what still runs
    /// or is mounted below the mountpoint is stopped.
    Dataset { name: String, mountpoint: Option<PathBuf> },
    /// A snapshot carrying the run's mark (the one create sends).
    Snapshot { name: String },
    /// A directory the run made (a mountpoint): removed if empty.
    Directory { path: PathBuf },
    /// A mount the run made.
    Mount { path: PathBuf },
    /// Files written under temporary names and renamed into place
    /// together, the last one (the manifest) last: the set is complete
    /// exactly when the last target is the file this run wrote.
    Outputs { files: Vec<OutputFile> },
    /// A file the run writes and always removes (a download).
    TempFile { path: PathBuf },
    /// `zfs receive` into `partial` under imgadm's import `lock`, renamed
    /// to `dataset` and recorded in `record` when complete.
    Receive { partial: String, dataset: String, lock: PathBuf, record: PathBuf },
    /// A dataset received under a name only this run uses (a build's zone
    /// analog made from a cache layer), marked right after the receive:
    /// destroyed unless another run's mark is on it.
    Received { name: String, mountpoint: Option<PathBuf> },
    /// A cache layer being stored (see `pipeline/cache/layer.rs`): received
    /// into `partial` under the layer's `lock`, renamed to `dataset`,
    /// described in `sidecar` and `record`; complete once the run's mark is
    /// off it, and from then on never undone.
    Layer { partial: String, dataset: String, lock: PathBuf, record: PathBuf, sidecar: PathBuf },
}

/// One output file: where it goes, where it is written first, and (once
/// written) its identity, which the rename keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputFile {
    pub target: PathBuf,
    pub temp: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<atomic::FileId>,
}

/// What one run has created, or is about to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    /// `<purpose>-<id>`, also the file's name.
    pub name: String,
    pub owner: Owner,
    /// In the order they were created.
    pub resources: Vec<Resource>,
    #[serde(skip)]
    path: PathBuf,
}

impl Journal {
    /// A journal for `owner`'s run `id` (written at the first record).
    pub fn new(work_dir: &Path, id: &str, owner: Owner) -> Journal {
        let name = format!("{}-{id}", owner.purpose);
        let path = journal_dir(work_dir).join(format!("{name}.json"));
        Journal { name, owner, resources: Vec::new(), path }
    }

    /// Reads a journal file.
    pub fn read(path: &Path) -> std::io::Result<Journal> {
        let text = std::fs::read_to_string(path)?;
        let mut journal: Journal = serde_json::from_str(&text).map_err(std::io::Error::other)?;
        journal.path = path.to_path_buf();
        Ok(journal)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records `resource`; call before creating it.
    pub fn record(&mut self, resource: Resource) -> std::io::Result<()> {
        self.resources.push(resource);
        self.save()
    }

    /// Replaces a recorded resource (outputs whose files got their ids).
    pub fn update(&mut self, old: &Resource, new: Resource) -> std::io::Result<()> {
        if let Some(slot) = self.resources.iter_mut().find(|r| *r == old) {
            *slot = new;
        }
        self.save()
    }

    /// Forgets `resource`: it is gone, or it is finished and kept.
    pub fn forget(&mut self, resource: &Resource) -> std::io::Result<()> {
        self.resources.retain(|r| r != resource);
        self.save()
    }

    /// Writes the journal atomically (nothing recorded yet: no file).
    pub fn save(&self) -> std::io::Result<()> {
        if self.resources.is_empty() {
            return self.remove();
        }
        std::fs::create_dir_all(self.path.parent().expect("journals live in a directory"))?;
        atomic::write_file(&self.path, serde_json::to_string_pretty(self).expect("serializes").as_bytes())
    }

    /// Deletes the journal: everything it named is gone or finished.
    pub fn remove(&self) -> std::io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::exec::Exec;

    #[test]
    fn a_journal_is_on_disk_exactly_while_it_names_something() {
        let dir = std::env::temp_dir().join(format!("buildy-journal-{}", std::process::id()));
        let owner = Owner::this_process(&Exec::default(), "build");
        let mut journal = Journal::new(&dir, "x", owner);
        assert_eq!(journal.path(), journal_dir(&dir).join("build-x.json"));
        let snapshot = Resource::Snapshot { name: "pool/ds@s".into() };
        journal.record(snapshot.clone()).unwrap();
        let outputs = Resource::Outputs {
            files: vec![OutputFile { target: dir.join("a"), temp: dir.join(".a.partial"), id: None }],
        };
        journal.record(outputs.clone()).unwrap();
        assert_eq!(Journal::read(journal.path()).unwrap(), journal, "it reads back as written");
        journal.forget(&snapshot).unwrap();
        assert_eq!(Journal::read(journal.path()).unwrap().resources, std::slice::from_ref(&outputs));
        journal.forget(&outputs).unwrap();
        assert!(!journal.path().exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
