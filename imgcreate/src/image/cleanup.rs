//! `buildy cleanup`: finds what builds, creates and installs that died
//! without undoing their work (SIGKILL, power loss) left behind, and removes
//! that and only that. Something is a leftover when it is named in a
//! journal or carries buildy's mark (`buildy:owner`), and its owner process
//! is dead on this host. Live runs and anything unmarked are never touched.

use std::cmp::Reverse;
use std::path::{Path, PathBuf};

use super::journal::{journal_dir, Journal};
use super::owner::{Liveness, Owner, OWNER_PROPERTY};
use super::undo::{Action, Report, Skipped, Undoer};
use crate::atomic;
use crate::host::proc;
use crate::host::zfs::{Zfs, ZfsError};

/// Cleans up after dead runs in `work_dir`'s journals and dead owners'
/// marked datasets and snapshots under `root` (every pool if `None`).
pub fn cleanup(zfs: &Zfs, work_dir: &Path, root: Option<&str>, dry_run: bool) -> Result<Report, ZfsError> {
    let zfs = zfs.for_undo();
    let mut undoer = Undoer::new(&zfs, dry_run);
    // Journals first: they also know the mounts and output files.
    let mut journals: Vec<PathBuf> = std::fs::read_dir(journal_dir(work_dir))
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect())
        .unwrap_or_default();
    journals.sort();
    for path in journals {
        journal(&mut undoer, &path);
    }
    // A journal being rewritten when its owner was killed.
    for partial in partial_journals(work_dir) {
        undoer.remove_file(partial);
    }
    // Marked datasets and snapshots whose owner died, journal or not.
    // Snapshots before their datasets, children before parents.
    let mut owned: Vec<(String, Owner)> = zfs
        .with_local_property(root, OWNER_PROPERTY)?
        .into_iter()
        .filter_map(|(name, value)| Some((name, Owner::from_property(&value)?)))
        .collect();
    owned.sort_by_key(|(name, _)| (Reverse(name.contains('@')), Reverse(name.matches('/').count())));
    for (name, owner) in owned {
        marked(&mut undoer, &name, &owner);
    }
    Ok(undoer.report)
}

fn running(what: &str, owner: &Owner) -> Skipped {
    let (purpose, pid, host) = (owner.purpose.clone(), owner.pid, owner.host.clone());
    Skipped::Running { what: what.to_string(), purpose, pid, host }
}

/// Temporary journal files (`.<name>.json.buildy-partial-<pid>`) of
/// processes that no longer exist.
fn partial_journals(work_dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(journal_dir(work_dir)) else { return Vec::new() };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| atomic::temp_owner(p).is_some_and(|pid| !proc::exists(pid)))
        .collect();
    found.sort();
    found
}

/// Undoes what a dead run's journal names.
fn journal(undoer: &mut Undoer, path: &Path) {
    let Ok(mut journal) = Journal::read(path) else {
        undoer.report.skipped.push(Skipped::NotAJournal(path.to_path_buf()));
        return;
    };
    let owner = &journal.owner;
    if owner.liveness(undoer.zfs.exec()) != Liveness::Dead {
        undoer.report.skipped.push(running(&journal.name, owner));
        return;
    }
    undoer.journal(&mut journal, false);
}

/// A dataset or snapshot carrying buildy's mark, with no journal left:
/// removed if it is a temporary one (an analog, a create's snapshot, a
/// `-partial` install) and its owner is dead, with what runs in it and
/// what is mounted below it.
fn marked(undoer: &mut Undoer, name: &str, owner: &Owner) {
    let temporary = match owner.purpose.as_str() {
        "build" | "create" => true,
        "install" => name.ends_with("-partial"),
        _ => false,
    };
    if !temporary {
        return;
    }
    match owner.liveness(undoer.zfs.exec()) {
        Liveness::Alive => {
            undoer.report.skipped.push(running(name, owner));
            return;
        }
        Liveness::OtherHost => {
            undoer.report.skipped.push(Skipped::OtherHost { what: name.to_string(), host: owner.host.clone() });
            return;
        }
        Liveness::Dead => {}
    }
    let zfs = undoer.zfs;
    let done = undoer.report.actions.contains(&Action::Destroy(name.to_string()));
    if done || (!undoer.dry_run && !zfs.exists(name).unwrap_or(false)) {
        return; // destroyed with its journal, or with its dataset
    }
    let mountpoint = zfs.get_one(name, "mountpoint").ok().flatten().filter(|m| m.starts_with('/')).map(PathBuf::from);
    if let Some(mp) = &mountpoint {
        undoer.release(mp, &[]);
    }
    if !undoer.act(Action::Destroy(name.to_string()), || zfs.destroy(name, true).map_err(|e| e.to_string())) {
        return;
    }
    if let Some(mp) = mountpoint.filter(|mp| mp.is_dir() && owner.purpose == "build") {
        undoer.remove_dir(mp);
    }
}
