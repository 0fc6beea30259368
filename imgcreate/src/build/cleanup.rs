//! `buildy cleanup`: finds what builds, creates and installs that died
//! without undoing their work (SIGKILL, power loss) left behind, and removes
//! that and only that. Something is a leftover when it carries buildy's
//! mark (`buildy:owner`) or is named in a build journal, and its owner
//! process is dead on this host. Live builds and anything unmarked are
//! never touched.

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

/// Destroys `dataset` (with its snapshots) if its mark names `owner`;
/// returns whether it existed.
pub fn destroy_if_ours(zfs: &Zfs, dataset: &str, owner: &Owner) -> Result<bool, ZfsError> {
    let mark = match zfs.get_one(dataset, OWNER_PROPERTY) {
        Ok(mark) => mark,
        Err(e) if e.is_not_found() => return Ok(false),
        Err(e) => return Err(e),
    };
    let ours =
        mark.and_then(|m| Owner::from_property(&m)).is_some_and(|o| o.pid == owner.pid && o.created == owner.created);
    if ours {
        zfs.destroy(dataset, true)?;
    }
    Ok(ours)
}

/// Cleans up after dead builds in `work_dir`'s journals and dead owners'
/// marked datasets and snapshots under `root` (every pool if `None`).
pub fn cleanup(zfs: &Zfs, work_dir: &Path, root: Option<&str>, dry_run: bool) -> Result<Report, ZfsError> {
    let mut report = Report::default();
    let act = |report: &mut Report, action: Action, f: &mut dyn FnMut() -> Result<(), String>| {
        if !dry_run {
            if let Err(e) = f() {
                report.failures.push(format!("{action}: {e}"));
                return;
            }
        }
        report.actions.push(action);
    };

    // Journals first: they also know the mounts and output files.
    let mut journals: Vec<PathBuf> = std::fs::read_dir(journal_dir(work_dir))
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect())
        .unwrap_or_default();
    journals.sort();
    for path in journals {
        let Ok(journal) = Journal::read(&path) else {
            report.skipped.push(format!("{}: not a build journal", path.display()));
            continue;
        };
        let Some(owner) = journal.owner.clone() else { continue };
        if owner.liveness() != Liveness::Dead {
            report.skipped.push(format!("build {} (pid {} on {}) is running", journal.build, owner.pid, owner.host));
            continue;
        }
        let failures_before = report.failures.len();
        if let Some(mp) = &journal.mountpoint {
            for (pid, name) in processes_inside(mp) {
                act(&mut report, Action::Kill(pid, name), &mut || kill(pid));
            }
        }
        let mut under: Vec<PathBuf> = journal.mounts.clone();
        if let Some(mp) = &journal.mountpoint {
            under.extend(mount::mounts_under(mp).into_iter().filter(|m| m != mp));
        }
        under.sort_by(|a, b| b.components().count().cmp(&a.components().count()).then(a.cmp(b)));
        under.dedup();
        for m in under.into_iter().filter(|m| mount::is_mounted(m)) {
            act(&mut report, Action::Unmount(m.clone()), &mut || mount::unmount(&m).map_err(|e| e.to_string()));
        }
        if let Some(ds) = &journal.dataset {
            let marked = zfs.get_one(ds, OWNER_PROPERTY).ok().flatten().and_then(|m| Owner::from_property(&m));
            if marked.is_some_and(|o| o.pid == owner.pid && o.created == owner.created) {
                act(&mut report, Action::Destroy(ds.clone()), &mut || zfs.destroy(ds, true).map_err(|e| e.to_string()));
            }
        }
        if let Some(mp) = journal.mountpoint.as_ref().filter(|mp| mp.is_dir()) {
            act(&mut report, Action::RemoveDir(mp.clone()), &mut || std::fs::remove_dir(mp).map_err(|e| e.to_string()));
        }
        for partial in journal.partial_outputs().into_iter().filter(|p| p.exists()) {
            act(&mut report, Action::RemoveFile(partial.clone()), &mut || {
                std::fs::remove_file(&partial).map_err(|e| e.to_string())
            });
        }
        // The journal goes only when everything it names is gone.
        if report.failures.len() == failures_before {
            act(&mut report, Action::RemoveFile(path.clone()), &mut || journal.remove().map_err(|e| e.to_string()));
        }
    }

    // Marked datasets and snapshots whose owner died, journal or not:
    // analogs, `@final` snapshots of creates, `-partial` installs.
    let mut owned = zfs.owned(root)?;
    // Snapshots before their datasets, children before parents.
    owned
        .sort_by_key(|(name, _)| (std::cmp::Reverse(name.contains('@')), std::cmp::Reverse(name.matches('/').count())));
    for (name, owner) in owned {
        let leftover = match owner.purpose.as_str() {
            "build" | "create" => true,
            "install" => name.ends_with("-partial"),
            _ => false,
        };
        if !leftover {
            continue;
        }
        match owner.liveness() {
            Liveness::Alive => {
                report.skipped.push(format!("{name}: its {} (pid {}) is running", owner.purpose, owner.pid))
            }
            Liveness::OtherHost => report.skipped.push(format!("{name}: made on {}", owner.host)),
            Liveness::Dead => {
                if report.actions.contains(&Action::Destroy(name.clone()))
                    || !zfs.exists(&name).unwrap_or(false) && !dry_run
                {
                    continue;
                }
                let mountpoint = zfs.get_one(&name, "mountpoint").ok().flatten().filter(|m| m.starts_with('/'));
                if let Some(mp) = &mountpoint {
                    for (pid, name) in processes_inside(Path::new(mp)) {
                        act(&mut report, Action::Kill(pid, name), &mut || kill(pid));
                    }
                    for m in mount::mounts_under(Path::new(mp)).into_iter().filter(|m| m != Path::new(mp)) {
                        act(&mut report, Action::Unmount(m.clone()), &mut || {
                            mount::unmount(&m).map_err(|e| e.to_string())
                        });
                    }
                }
                act(&mut report, Action::Destroy(name.clone()), &mut || {
                    zfs.destroy(&name, true).map_err(|e| e.to_string())
                });
                // Its temporary files, by their name only (never anything else).
                let partial_suffix = format!(".buildy-partial-{}", owner.pid);
                let temp_files = owner.temp_files.iter().filter(|f| f.to_string_lossy().ends_with(&partial_suffix));
                for file in temp_files.filter(|f| f.exists()) {
                    act(&mut report, Action::RemoveFile(file.clone()), &mut || {
                        std::fs::remove_file(file).map_err(|e| e.to_string())
                    });
                }
                if let Some(mp) = mountpoint.map(PathBuf::from).filter(|mp| mp.is_dir()) {
                    if owner.purpose == "build" {
                        act(&mut report, Action::RemoveDir(mp.clone()), &mut || {
                            std::fs::remove_dir(&mp).map_err(|e| e.to_string())
                        });
                    }
                }
            }
        }
    }
    Ok(report)
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
