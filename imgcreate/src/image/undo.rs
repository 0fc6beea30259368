//! Undoing what a journal names: by the run itself when it fails (live),
//! or by `buildy cleanup` when its owner died. One rule per kind of
//! [`Resource`], and each removes only what carries the run's mark or its
//! identity, never what someone else made at the same name.

use std::fmt;
use std::path::{Path, PathBuf};

use super::journal::{Journal, Resource};
use super::owner::{Owner, OWNER_PROPERTY};
use crate::atomic::{self, FileId};
use crate::host::lock::FileLock;
use crate::host::zfs::{Zfs, ZfsError};
use crate::host::{mount, proc};

/// One thing undone (or, dry, that would be).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A process still running inside a dead run's chroot.
    Kill(u32, String),
    Unmount(PathBuf),
    Destroy(String),
    RemoveDir(PathBuf),
    RemoveFile(PathBuf),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Kill(pid, name) => write!(f, "kill process {pid} ({name}) left running in the chroot"),
            Action::Unmount(p) => write!(f, "unmount {}", p.display()),
            Action::Destroy(d) => write!(f, "destroy {d}"),
            Action::RemoveDir(p) => write!(f, "remove directory {}", p.display()),
            Action::RemoveFile(p) => write!(f, "remove file {}", p.display()),
        }
    }
}

/// Something that could not be undone: it is still there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    pub action: Action,
    pub error: String,
}

impl fmt::Display for Leftover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.action, self.error)
    }
}

/// What is left after an undo that did not finish, for the error message.
#[derive(Debug, Clone, PartialEq, Eq, Default, thiserror::Error)]
pub struct Leftovers(pub Vec<Leftover>);

impl fmt::Display for Leftovers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        write!(f, "left: {}", items.join("; "))
    }
}

/// Something left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipped {
    /// Its owner still runs.
    Running { what: String, purpose: String, pid: u32, host: String },
    /// Made on another host (a pool shared between hosts).
    OtherHost { what: String, host: String },
    /// An install of the image holds its import lock.
    Locked { what: String, lock: PathBuf },
    /// A file in the journal directory that is not a journal.
    NotAJournal(PathBuf),
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skipped::Running { what, purpose, pid, host } => {
                write!(f, "{what}: its {purpose} (pid {pid} on {host}) is running")
            }
            Skipped::OtherHost { what, host } => write!(f, "{what}: made on {host}"),
            Skipped::Locked { what, lock } => write!(f, "{what}: an install of that image holds {}", lock.display()),
            Skipped::NotAJournal(path) => write!(f, "{}: not a buildy journal", path.display()),
        }
    }
}

/// What an undo did.
#[derive(Debug, Default)]
pub struct Report {
    pub actions: Vec<Action>,
    /// Things left alone, and why (a live run, another host, not ours).
    pub skipped: Vec<Skipped>,
    pub failures: Vec<Leftover>,
}

/// Undoes resources with one zfs (the undo's view of the executor).
pub struct Undoer<'a> {
    pub zfs: &'a Zfs,
    pub dry_run: bool,
    pub report: Report,
}

impl<'a> Undoer<'a> {
    pub fn new(zfs: &'a Zfs, dry_run: bool) -> Undoer<'a> {
        Undoer { zfs, dry_run, report: Report::default() }
    }

    /// Does `action` (unless dry) and reports it, or its failure.
    pub(super) fn act(&mut self, action: Action, f: impl FnOnce() -> Result<(), String>) -> bool {
        if !self.dry_run {
            if let Err(error) = f() {
                self.report.failures.push(Leftover { action, error });
                return false;
            }
        }
        self.report.actions.push(action);
        true
    }

    /// Destroys `name`. One already gone counts as destroyed: a `zfs
    /// destroy` the killed run had started can finish after the run died.
    fn destroy(&mut self, name: &str, recursive: bool) -> bool {
        let zfs = self.zfs;
        self.act(Action::Destroy(name.to_string()), || {
            zfs.destroy_if_exists(name, recursive).map_err(|e| e.to_string())
        })
    }

    /// Undoes everything `journal` names, newest first, and forgets what is
    /// gone; the journal file goes when nothing is left. `live`: the run
    /// itself undoes (it holds its locks). Returns whether all is undone.
    pub fn journal(&mut self, journal: &mut Journal, live: bool) -> bool {
        let failures_before = self.report.failures.len();
        let skipped_before = self.report.skipped.len();
        for resource in journal.resources.clone().iter().rev() {
            let before = (self.report.failures.len(), self.report.skipped.len());
            self.resource(resource, &journal.owner, live);
            if (self.report.failures.len(), self.report.skipped.len()) == before && !self.dry_run {
                let _ = journal.forget(resource);
            }
        }
        let done = self.report.failures.len() == failures_before && self.report.skipped.len() == skipped_before;
        if done && !self.dry_run {
            self.act(Action::RemoveFile(journal.path().to_path_buf()), || journal.remove().map_err(|e| e.to_string()));
        }
        done
    }

    /// Undoes one resource of `journal` and forgets it if it is gone;
    /// whether it is.
    pub fn one(&mut self, journal: &mut Journal, resource: &Resource, live: bool) -> bool {
        let before = (self.report.failures.len(), self.report.skipped.len());
        self.resource(resource, &journal.owner.clone(), live);
        let done = (self.report.failures.len(), self.report.skipped.len()) == before;
        if done && !self.dry_run {
            let _ = journal.forget(resource);
        }
        done
    }

    fn resource(&mut self, resource: &Resource, owner: &Owner, live: bool) {
        match resource {
            Resource::Dataset { name, mountpoint } => self.dataset(name, mountpoint.as_deref(), owner),
            Resource::Snapshot { name } => {
                if self.marked_by(name, owner) {
                    self.destroy(name, false);
                }
            }
            Resource::Directory { path } => {
                if path.is_dir() {
                    self.act(Action::RemoveDir(path.clone()), || std::fs::remove_dir(path).map_err(|e| e.to_string()));
                }
            }
            Resource::TempFile { path } => {
                if path.exists() {
                    self.remove_file(path.clone());
                }
            }
            Resource::Mount { path } => match mount::is_mounted(path) {
                Ok(false) => {}
                Ok(true) => {
                    let zfs = self.zfs;
                    self.act(Action::Unmount(path.clone()), || mount::unmount(zfs, path).map_err(|e| e.to_string()));
                }
                Err(e) => {
                    let action = Action::Unmount(path.clone());
                    self.report.failures.push(Leftover { action, error: e.to_string() });
                }
            },
            Resource::Outputs { files } => {
                let last = files.last();
                let complete = last.is_some_and(|f| f.id.is_some() && FileId::of(&f.target) == f.id);
                if complete {
                    return; // the image is whole: it stays
                }
                for file in files {
                    if file.temp.exists() {
                        self.remove_file(file.temp.clone());
                    }
                    if file.id.is_some() && FileId::of(&file.target) == file.id {
                        self.remove_file(file.target.clone());
                    }
                }
            }
            Resource::Receive { partial, dataset, lock, record } => {
                self.receive(partial, dataset, lock, record, owner, live)
            }
            Resource::Received { name, mountpoint } => {
                let ours_or_unmarked = match self.zfs.get_if_exists(name, OWNER_PROPERTY) {
                    Ok(None) => self.zfs.exists(name).unwrap_or(false),
                    Ok(Some(mark)) => Owner::from_property(&mark).is_some_and(|o| o.same_run(owner)),
                    Err(e) => {
                        let action = Action::Destroy(name.clone());
                        self.report.failures.push(Leftover { action, error: e.to_string() });
                        false
                    }
                };
                if ours_or_unmarked {
                    if let Some(mp) = mountpoint {
                        self.release(mp, &[]);
                    }
                    self.destroy(name, true);
                }
            }
            Resource::Layer { partial, dataset, lock, record, sidecar } => {
                self.layer(partial, dataset, lock, [record, sidecar], owner, live)
            }
        }
    }

    /// A cache layer: the partial receive goes; the layer goes with its
    /// record and sidecar while it still carries the run's mark (not yet
    /// complete); a complete one stays.
    fn layer(&mut self, partial: &str, dataset: &str, lock: &Path, files: [&PathBuf; 2], owner: &Owner, live: bool) {
        let Some(_held) = self.lock_unless_live(partial, lock, live) else { return };
        let zfs = self.zfs;
        if matches!(zfs.exists(partial), Ok(true)) {
            self.destroy(partial, true);
        }
        if !self.marked_by(dataset, owner) {
            return;
        }
        if !self.destroy(dataset, true) {
            return;
        }
        for file in files {
            for f in [file.clone(), atomic::temp_path(file, owner.pid)] {
                if f.exists() {
                    self.remove_file(f);
                }
            }
        }
    }

    /// The lock a dead run's work is undone under (`Some(None)`: live, the
    /// run holds it already); `None` if another run holds it.
    fn lock_unless_live(&mut self, what: &str, lock: &Path, live: bool) -> Option<Option<FileLock>> {
        if live {
            return Some(None);
        }
        match FileLock::try_acquire(lock.to_path_buf()) {
            Ok(Some(held)) => Some(Some(held)),
            Ok(None) => {
                let (what, lock) = (what.to_string(), lock.to_path_buf());
                self.report.skipped.push(Skipped::Locked { what, lock });
                None
            }
            Err(e) => {
                let action = Action::Destroy(what.to_string());
                self.report.failures.push(Leftover { action, error: format!("{}: {e}", lock.display()) });
                None
            }
        }
    }

    /// A dataset is destroyed only if it carries `owner`'s mark.
    fn dataset(&mut self, name: &str, mountpoint: Option<&Path>, owner: &Owner) {
        if !self.marked_by(name, owner) {
            return;
        }
        if let Some(mp) = mountpoint {
            self.release(mp, &[]);
        }
        self.destroy(name, true);
    }

    /// An install's received dataset: under the image's import lock (a
    /// live run holds it; cleanup takes it, and leaves the image alone if
    /// an install of it runs), unless the record says it is complete.
    fn receive(&mut self, partial: &str, dataset: &str, lock: &Path, record: &Path, owner: &Owner, live: bool) {
        if record.exists() && self.marked_by(dataset, owner) {
            return; // installed and recorded: done
        }
        let Some(_held) = self.lock_unless_live(partial, lock, live) else { return };
        // A record being written when the owner was killed.
        let partial_record = atomic::temp_path(record, owner.pid);
        if partial_record.exists() {
            self.remove_file(partial_record);
        }
        let zfs = self.zfs;
        // The partial dataset is ours: its name is taken under the lock.
        if matches!(zfs.exists(partial), Ok(true)) {
            self.destroy(partial, true);
        }
        if self.marked_by(dataset, owner) {
            self.destroy(dataset, true);
        }
    }

    /// Kills what still runs in the chroot at `mountpoint` and unmounts
    /// what is mounted below it (deepest first), plus `recorded` mounts.
    pub fn release(&mut self, mountpoint: &Path, recorded: &[PathBuf]) {
        let exec = self.zfs.exec();
        for (pid, name) in proc::processes_inside(mountpoint) {
            self.act(Action::Kill(pid, name), || proc::kill_and_wait(exec, pid));
        }
        // If the mount table cannot be read, that is reported, and every
        // recorded mount is tried.
        let table = mount::mounts_under(mountpoint).unwrap_or_else(|e| {
            let action = Action::Unmount(mountpoint.to_path_buf());
            self.report.failures.push(Leftover { action, error: e.to_string() });
            Vec::new()
        });
        let mut under: Vec<PathBuf> = recorded.to_vec();
        under.extend(table.into_iter().filter(|m| m != mountpoint));
        under.sort_by(|a, b| b.components().count().cmp(&a.components().count()).then(a.cmp(b)));
        under.dedup();
        let zfs = self.zfs;
        for m in under.into_iter().filter(|m| mount::is_mounted(m).unwrap_or(true)) {
            self.act(Action::Unmount(m.clone()), || mount::unmount(zfs, &m).map_err(|e| e.to_string()));
        }
    }

    pub fn remove_dir(&mut self, dir: PathBuf) {
        self.act(Action::RemoveDir(dir.clone()), || std::fs::remove_dir(&dir).map_err(|e| e.to_string()));
    }

    pub fn remove_file(&mut self, file: PathBuf) {
        self.act(Action::RemoveFile(file.clone()), || std::fs::remove_file(&file).map_err(|e| e.to_string()));
    }

    /// Whether `name` carries exactly `owner`'s mark (a failure to tell is
    /// reported, and counts as no).
    fn marked_by(&mut self, name: &str, owner: &Owner) -> bool {
        match marked_by(self.zfs, name, owner) {
            Ok(marked) => marked,
            Err(e) => {
                let action = Action::Destroy(name.to_string());
                self.report.failures.push(Leftover { action, error: e.to_string() });
                false
            }
        }
    }
}

/// Whether `name` carries the mark of exactly `owner` (same process, same
/// moment); `false` if it does not exist.
pub fn marked_by(zfs: &Zfs, name: &str, owner: &Owner) -> Result<bool, ZfsError> {
    let mark = zfs.get_if_exists(name, OWNER_PROPERTY)?;
    Ok(mark.and_then(|m| Owner::from_property(&m)).is_some_and(|o| o.same_run(owner)))
}
