//! illumos: `/proc/<pid>/psinfo` (the start time, since the epoch, and the
//! command name), `/proc/<pid>/path/{root,cwd}`, and the boot time from
//! `kstat -p unix:0:system_misc:boot_time`.

use std::path::PathBuf;
use std::process::Command;

use crate::host::exec::Exec;

pub const KSTAT: &str = "/usr/bin/kstat";
const BOOT_TIME: &str = "unix:0:system_misc:boot_time";

pub fn boot_id(exec: &Exec) -> Option<String> {
    let out = exec.output(Command::new(KSTAT).args(["-p", BOOT_TIME])).ok()?;
    kstat_boot_time(&String::from_utf8_lossy(&out)).map(|t| format!("boot-time:{t}"))
}

pub fn start_time(pid: u32) -> Option<u64> {
    Psinfo::parse(&std::fs::read(format!("/proc/{pid}/psinfo")).ok()?).map(|p| p.start_nanos())
}

pub fn root_and_cwd(pid: u32) -> [PathBuf; 2] {
    [format!("/proc/{pid}/path/root").into(), format!("/proc/{pid}/path/cwd").into()]
}

pub fn command_name(pid: u32) -> Option<String> {
    Psinfo::parse(&std::fs::read(format!("/proc/{pid}/psinfo")).ok()?).map(|p| p.fname)
}

/// The seconds of `kstat -p`'s `unix:0:system_misc:boot_time<TAB>SECONDS`.
fn kstat_boot_time(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(BOOT_TIME))?;
    line[BOOT_TIME.len()..].trim().parse().ok()
}

/// The fields buildy reads of `psinfo_t` (illumos `sys/procfs.h`), in its
/// 64-bit layout: `pr_flag`, `pr_nlwp`, then `pr_pid` at 8; after the ids,
/// `pr_addr`, `pr_size`, `pr_rssize`, `pr_pad1`, `pr_ttydev` (8 bytes each,
/// from 40) and `pr_pctcpu`, `pr_pctmem` (2 each, at 80), `pr_start`
/// (`timestruc_t`: seconds and nanoseconds, 8 bytes each) is aligned to 88;
/// `pr_time` and `pr_ctime` follow, then `pr_fname[16]` at 136.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Psinfo {
    pub pid: u32,
    pub start_seconds: i64,
    pub start_nanos: i64,
    /// The executed file's name (`pr_fname`, at most 15 bytes).
    pub fname: String,
}

const PR_PID: usize = 8;
const PR_START: usize = 88;
const PR_FNAME: usize = 136;
const PRFNSZ: usize = 16;

impl Psinfo {
    pub fn parse(bytes: &[u8]) -> Option<Psinfo> {
        let i32_at = |at: usize| Some(i32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
        let i64_at = |at: usize| Some(i64::from_ne_bytes(bytes.get(at..at + 8)?.try_into().ok()?));
        let fname = bytes.get(PR_FNAME..PR_FNAME + PRFNSZ)?;
        let fname = &fname[..fname.iter().position(|&b| b == 0).unwrap_or(PRFNSZ)];
        Some(Psinfo {
            pid: u32::try_from(i32_at(PR_PID)?).ok()?,
            start_seconds: i64_at(PR_START)?,
            start_nanos: i64_at(PR_START + 8)?,
            fname: String::from_utf8_lossy(fname).into_owned(),
        })
    }

    /// The start time as one number: nanoseconds since the epoch.
    pub fn start_nanos(&self) -> u64 {
        (self.start_seconds.max(0) as u64).saturating_mul(1_000_000_000).saturating_add(self.start_nanos.max(0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_kstat_answer_gives_the_boot_time() {
        let text = include_str!("../../../../fixtures/platform/illumos/kstat-boot-time.txt");
        assert_eq!(kstat_boot_time(text), Some(1236919980));
        assert_eq!(kstat_boot_time("unix:0:system_misc:boot_time\tsoon\n"), None);
        assert_eq!(kstat_boot_time(""), None);
    }

    /// A `psinfo_t` as the kernel writes it, built field by field from the
    /// struct in `sys/procfs.h` (no real dump is reachable from here: see
    /// fixtures/README.md); 416 bytes before `pr_lwp` in the 64-bit layout.
    fn psinfo_bytes(pid: i32, start: (i64, i64), fname: &str) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(0i32.to_ne_bytes()); // pr_flag
        b.extend(1i32.to_ne_bytes()); // pr_nlwp
        b.extend(pid.to_ne_bytes()); // pr_pid
        for id in [1i32, pid, pid, 0, 0, 0, 0] {
            b.extend(id.to_ne_bytes()); // pr_ppid, pr_pgid, pr_sid, pr_uid, pr_euid, pr_gid, pr_egid
        }
        for word in [0u64, 4096, 2048, 0, u64::MAX] {
            b.extend(word.to_ne_bytes()); // pr_addr, pr_size, pr_rssize, pr_pad1, pr_ttydev (PRNODEV)
        }
        b.extend(0x0100u16.to_ne_bytes()); // pr_pctcpu
        b.extend(0x0010u16.to_ne_bytes()); // pr_pctmem
        b.resize(88, 0); // timestruc_t is 8-aligned
        b.extend(start.0.to_ne_bytes()); // pr_start.tv_sec
        b.extend(start.1.to_ne_bytes()); // pr_start.tv_nsec
        b.extend([0u8; 32]); // pr_time, pr_ctime
        let mut name = [0u8; 16];
        name[..fname.len()].copy_from_slice(fname.as_bytes());
        b.extend(name); // pr_fname
        let mut args = [0u8; 80];
        args[..fname.len()].copy_from_slice(fname.as_bytes());
        b.extend(args); // pr_psargs
        b.resize(416, 0); // pr_wstat ... pr_filler
        b
    }

    #[test]
    fn psinfo_gives_the_pid_start_time_and_name() {
        let bytes = psinfo_bytes(4242, (1_700_000_000, 123_456_789), "pkg_add");
        assert_eq!(&bytes[136..143], b"pkg_add", "pr_fname where the layout puts it");
        let info = Psinfo::parse(&bytes).unwrap();
        assert_eq!(
            info,
            Psinfo { pid: 4242, start_seconds: 1_700_000_000, start_nanos: 123_456_789, fname: "pkg_add".into() }
        );
        assert_eq!(info.start_nanos(), 1_700_000_000_123_456_789);
        // A full 16-byte name has no terminating NUL.
        let long = Psinfo::parse(&psinfo_bytes(1, (1, 0), "sixteen-bytes-xx")).unwrap();
        assert_eq!(long.fname, "sixteen-bytes-xx");
        assert_eq!(Psinfo::parse(&bytes[..100]), None, "a short read is no answer");
    }
}
