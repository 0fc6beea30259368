//! `buildy cleanup`: finds what builds, creates and installs that died
//! without undoing their work (SIGKILL, power loss) left behind, and removes
//! that and only that. Something is a leftover when it carries buildy's
//! mark (`buildy:owner`) or is named in a build journal, and its owner
//! process is dead on this host. Live builds and anything unmarked are
//! never touched.

use std::cmp::Reverse;
use std::path::{Path, PathBuf};

use super::journal::{journal_dir, Journal};
use crate::mount;
use crate::zfs::{Liveness, Owner, Zfs, ZfsError, OWNER_PROPERTY};

/// One thing cleanup removed (or, dry, would remove).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A process still running inside a dead build's chroot.
    Kill(u32, String),
    Unmount(PathBuf),
    Destroy(String),
    RemoveDir(PathBuf),
    RemoveFile(PathBuf),
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Kill(pid, name) => write!(f, "kill process {pid} ({name}) left running in the chroot"),
            Action::Unmount(p) => write!(f, "unmount {}", p.display()),
            Action::Destroy(d) => write!(f, "destroy {d}"),
            Action::RemoveDir(p) => write!(f, "remove directory {}", p.display()),
            Action::RemoveFile(p) => write!(f, "remove file {}", p.display()),
        }
    }
}

/// What a cleanup did.
#[derive(Debug, Default)]
pub struct Report {
    pub actions: Vec<Action>,
    /// Things left alone, and why (a live build, another host).
    pub skipped: Vec<String>,
    pub failures: Vec<String>,
}

/// Whether `dataset` carries the mark of exactly `owner` (same process,
/// same moment); `false` if it does not exist.
fn marked_by(zfs: &Zfs, dataset: &str, owner: &Owner) -> Result<bool, ZfsError> {
    let mark = match zfs.get_one(dataset, OWNER_PROPERTY) {
        Ok(mark) => mark,
        Err(e) if e.is_not_found() => return Ok(false),
        Err(e) => return Err(e),
    };
    Ok(mark.and_then(|m| Owner::from_property(&m)).is_some_and(|o| o.pid == owner.pid && o.created == owner.created))
}

/// Destroys `dataset` (with its snapshots) if it carries `owner`'s mark;
/// returns whether it did.
pub fn destroy_if_ours(zfs: &Zfs, dataset: &str, owner: &Owner) -> Result<bool, ZfsError> {
    let ours = marked_by(zfs, dataset, owner)?;
    if ours {
        zfs.destroy(dataset, true)?;
    }
    Ok(ours)
}

/// Cleans up after dead builds in `work_dir`'s journals and dead owners'
/// marked datasets and snapshots under `root` (every pool if `None`).
pub fn cleanup(zfs: &Zfs, work_dir: &Path, root: Option<&str>, dry_run: bool) -> Result<Report, ZfsError> {
    let mut cleaner = Cleaner { zfs, dry_run, report: Report::default() };
    // Journals first: they also know the mounts and output files.
    let mut journals: Vec<PathBuf> = std::fs::read_dir(journal_dir(work_dir))
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect())
        .unwrap_or_default();
    journals.sort();
    for path in journals {
        cleaner.journal(&path);
    }
    // Marked datasets and snapshots whose owner died, journal or not:
    // analogs, `@final` snapshots of creates, `-partial` installs.
    // Snapshots before their datasets, children before parents.
    let mut owned = zfs.owned(root)?;
    owned.sort_by_key(|(name, _)| (Reverse(name.contains('@')), Reverse(name.matches('/').count())));
    for (name, owner) in owned {
        cleaner.marked(&name, &owner);
    }
    Ok(cleaner.report)
}

struct Cleaner<'a> {
    zfs: &'a Zfs,
    dry_run: bool,
    report: Report,
}

impl Cleaner<'_> {
    /// Does `action` (unless dry) and reports it, or its failure.
    fn act(&mut self, action: Action, f: impl FnOnce() -> Result<(), String>) {
        if !self.dry_run {
            if let Err(e) = f() {
                self.report.failures.push(format!("{action}: {e}"));
                return;
            }
        }
        self.report.actions.push(action);
    }

    /// Kills what still runs in the chroot at `mountpoint` and unmounts
    /// what is mounted below it (deepest first), plus `recorded` mounts.
    fn release(&mut self, mountpoint: &Path, recorded: &[PathBuf]) {
        for (pid, name) in processes_inside(mountpoint) {
            self.act(Action::Kill(pid, name), || kill(pid));
        }
        let mut under: Vec<PathBuf> = recorded.to_vec();
        under.extend(mount::mounts_under(mountpoint).into_iter().filter(|m| m != mountpoint));
        under.sort_by(|a, b| b.components().count().cmp(&a.components().count()).then(a.cmp(b)));
        under.dedup();
        for m in under.into_iter().filter(|m| mount::is_mounted(m)) {
            self.act(Action::Unmount(m.clone()), || mount::unmount(&m).map_err(|e| e.to_string()));
        }
    }

    fn remove_dir(&mut self, dir: PathBuf) {
        self.act(Action::RemoveDir(dir.clone()), || std::fs::remove_dir(&dir).map_err(|e| e.to_string()));
    }

    fn remove_file(&mut self, file: PathBuf) {
        self.act(Action::RemoveFile(file.clone()), || std::fs::remove_file(&file).map_err(|e| e.to_string()));
    }

    /// Undoes what a dead build's journal names; the journal goes last,
    /// and only when everything it names is gone.
    fn journal(&mut self, path: &Path) {
        let Ok(journal) = Journal::read(path) else {
            self.report.skipped.push(format!("{}: not a build journal", path.display()));
            return;
        };
        let Some(owner) = journal.owner.clone() else { return };
        if owner.liveness() != Liveness::Dead {
            let (build, pid, host) = (&journal.build, owner.pid, &owner.host);
            self.report.skipped.push(format!("build {build} (pid {pid} on {host}) is running"));
            return;
        }
        let failures_before = self.report.failures.len();
        if let Some(mp) = &journal.mountpoint {
            self.release(mp, &journal.mounts);
        }
        if let Some(ds) = &journal.dataset {
            if marked_by(self.zfs, ds, &owner).unwrap_or(false) {
                let zfs = self.zfs;
                self.act(Action::Destroy(ds.clone()), || zfs.destroy(ds, true).map_err(|e| e.to_string()));
            }
        }
        if let Some(mp) = journal.mountpoint.clone().filter(|mp| mp.is_dir()) {
            self.remove_dir(mp);
        }
        for partial in journal.partial_outputs().into_iter().filter(|p| p.exists()) {
            self.remove_file(partial);
        }
        if self.report.failures.len() == failures_before {
            self.act(Action::RemoveFile(path.to_path_buf()), || journal.remove().map_err(|e| e.to_string()));
        }
    }

    /// A dataset or snapshot carrying buildy's mark: removed if it is a
    /// temporary one (an analog, a create's `@final`, a `-partial` install)
    /// and its owner is dead, with its chroot, mounts and temporary files.
    fn marked(&mut self, name: &str, owner: &Owner) {
        let temporary = match owner.purpose.as_str() {
            "build" | "create" => true,
            "install" => name.ends_with("-partial"),
            _ => false,
        };
        if !temporary {
            return;
        }
        match owner.liveness() {
            Liveness::Alive => {
                let (purpose, pid) = (&owner.purpose, owner.pid);
                self.report.skipped.push(format!("{name}: its {purpose} (pid {pid}) is running"));
                return;
            }
            Liveness::OtherHost => {
                self.report.skipped.push(format!("{name}: made on {}", owner.host));
                return;
            }
            Liveness::Dead => {}
        }
        let done = self.report.actions.contains(&Action::Destroy(name.to_string()));
        if done || (!self.dry_run && !self.zfs.exists(name).unwrap_or(false)) {
            return; // destroyed with its journal, or with its dataset
        }
        let mountpoint =
            self.zfs.get_one(name, "mountpoint").ok().flatten().filter(|m| m.starts_with('/')).map(PathBuf::from);
        if let Some(mp) = &mountpoint {
            self.release(mp, &[]);
        }
        let zfs = self.zfs;
        self.act(Action::Destroy(name.to_string()), || zfs.destroy(name, true).map_err(|e| e.to_string()));
        // Its temporary files, recognized by their name only.
        let partial_suffix = format!(".buildy-partial-{}", owner.pid);
        for file in owner.temp_files.iter().filter(|f| f.to_string_lossy().ends_with(&partial_suffix) && f.exists()) {
            self.remove_file(file.clone());
        }
        if let Some(mp) = mountpoint.filter(|mp| mp.is_dir() && owner.purpose == "build") {
            self.remove_dir(mp);
        }
    }
}

/// Processes whose root or working directory is inside `dir` (Linux's
/// `/proc/<pid>/root` and `cwd`): what a killed build left running in its
/// chroot, holding the mounts busy.
fn processes_inside(dir: &Path) -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            ["root", "cwd"].iter().any(|link| {
                std::fs::read_link(format!("/proc/{pid}/{link}")).is_ok_and(|target| target.starts_with(dir))
            })
        })
        .map(|pid| {
            let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            (pid, name.trim().to_string())
        })
        .collect()
}

/// SIGKILL, then wait (up to 5 s) for the process to be gone.
fn kill(pid: u32) -> Result<(), String> {
    // SAFETY: kill(2) on a pid found under a dead build's chroot.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
    for _ in 0..50 {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err(format!("process {pid} did not exit"))
}
