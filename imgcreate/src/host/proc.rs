//! Processes on this host: identity (host name, boot, start time) for
//! telling a live owner from a dead one, and the processes left running in
//! a chroot. Linux's `/proc` layout; elsewhere the facts that cannot be read
//! are `None` (illumos has its own layout: a later change).

use std::path::Path;
use std::time::Duration;

use super::exec::Exec;

/// This host's name.
pub fn hostname(exec: &Exec) -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| {
            exec.output(&mut std::process::Command::new("hostname")).ok().map(|b| String::from_utf8_lossy(&b).into())
        })
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// The kernel's boot id (Linux); `None` elsewhere.
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok().map(|s| s.trim().to_string())
}

/// When process `pid` started: field 22 of `/proc/<pid>/stat` (Linux,
/// clock ticks after boot); `None` elsewhere.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after it do not.
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.split(' ').nth(19)?.parse().ok()
}

/// Whether a process with this pid exists (ours to signal or not).
pub fn exists(pid: u32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0;
    alive || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Processes whose root or working directory is inside `dir` (Linux's
/// `/proc/<pid>/root` and `cwd`): what a killed build left running in its
/// chroot, holding the mounts busy. With their command names.
pub fn processes_inside(dir: &Path) -> Vec<(u32, String)> {
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

/// SIGKILL, then wait (up to 5 s, or until `exec` stops) for it to be gone.
pub fn kill_and_wait(exec: &Exec, pid: u32) -> Result<(), String> {
    // SAFETY: kill(2) on a pid found under a dead build's chroot.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
    for _ in 0..50 {
        if !exists(pid) {
            return Ok(());
        }
        exec.sleep(Duration::from_millis(100)).map_err(|e| e.to_string())?;
    }
    Err(format!("process {pid} did not exit"))
}
