//! Processes on this host: identity (host name, boot, start time) for
//! telling a live owner from a dead one, and the processes left running in
//! a chroot. What differs per OS is in `proc/linux.rs` (`/proc/<pid>/stat`,
//! the boot id) and `proc/illumos.rs` (`/proc/<pid>/psinfo`, the boot time
//! from kstat); both are compiled everywhere so that their parsers are
//! tested everywhere, and one is chosen here.

#[cfg_attr(not(target_os = "illumos"), allow(dead_code))]
mod illumos;
#[cfg_attr(target_os = "illumos", allow(dead_code))]
mod linux;

#[cfg(target_os = "illumos")]
use illumos as os;
#[cfg(not(target_os = "illumos"))]
use linux as os;

use std::path::Path;
use std::time::Duration;

use super::exec::Exec;

/// This host's name (gethostname(3), the same on both).
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    if ok {
        String::from_utf8_lossy(&buf[..len]).trim().to_string()
    } else {
        String::new()
    }
}

/// What identifies this boot of the machine: Linux's boot id, illumos's
/// boot time (`boot-time:<seconds>`); `None` if it cannot be read. A pid
/// recorded in another boot is dead.
pub fn boot_id(exec: &Exec) -> Option<String> {
    os::boot_id(exec)
}

/// When process `pid` started (Linux: clock ticks after boot; illumos:
/// nanoseconds since the epoch), so that a reused pid is not taken for its
/// predecessor; `None` if it cannot be read.
pub fn start_time(pid: u32) -> Option<u64> {
    os::start_time(pid)
}

/// Whether a process with this pid exists (ours to signal or not).
pub fn exists(pid: u32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0;
    alive || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Processes whose root or working directory is inside `dir`: what a
/// killed build left running in its chroot, holding the mounts busy. With
/// their command names.
pub fn processes_inside(dir: &Path) -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            os::root_and_cwd(pid)
                .iter()
                .any(|link| std::fs::read_link(link).is_ok_and(|target| target.starts_with(dir)))
        })
        .map(|pid| (pid, os::command_name(pid).unwrap_or_default()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_an_identity_and_its_chroot_children_are_found() {
        let exec = Exec::default();
        assert!(!hostname().is_empty());
        assert!(boot_id(&exec).is_some());
        let me = start_time(std::process::id()).expect("our own start time");
        assert_eq!(start_time(std::process::id()), Some(me), "stable");
        let dir = std::env::temp_dir().join(format!("buildy-proc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = std::process::Command::new("sleep").arg("30").current_dir(&dir).spawn().unwrap();
        let found = processes_inside(&dir);
        let _ = child.kill();
        child.wait().unwrap();
        std::fs::remove_dir(&dir).unwrap();
        assert_eq!(found, vec![(child.id(), "sleep".to_string())]);
    }
}
