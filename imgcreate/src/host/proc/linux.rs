//! Linux: the boot id, `/proc/<pid>/stat`, `/proc/<pid>/{root,cwd,comm}`.

use std::path::PathBuf;

use crate::host::exec::Exec;

pub fn boot_id(_exec: &Exec) -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok().map(|s| s.trim().to_string())
}

pub fn start_time(pid: u32) -> Option<u64> {
    stat_start_time(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

pub fn root_and_cwd(pid: u32) -> [PathBuf; 2] {
    [format!("/proc/{pid}/root").into(), format!("/proc/{pid}/cwd").into()]
}

pub fn command_name(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|s| s.trim().to_string())
}

/// Field 22 of `/proc/<pid>/stat`, `starttime` (clock ticks after boot).
/// The command name (field 2, in parentheses) may hold spaces and
/// parentheses; the fields after its last `)` do not.
fn stat_start_time(stat: &str) -> Option<u64> {
    let after_name = stat.get(stat.rfind(')')? + 2..)?;
    after_name.split(' ').nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_stat_line_gives_its_start_time_whatever_the_name() {
        let stat = include_str!("../../../../fixtures/platform/linux/proc-pid-stat.txt");
        let expected = 1141528; // field 22 of that line
        assert_eq!(stat_start_time(stat), Some(expected));
        // A name with a space and a parenthesis (`comm` may be anything).
        let tricky = stat.replacen('(', "(a) b ", 1);
        assert_eq!(stat_start_time(&tricky), Some(expected));
        assert_eq!(stat_start_time("1 (x"), None);
    }
}
