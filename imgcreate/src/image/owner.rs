//! Who created a dataset, snapshot or journal, and whether that process
//! still runs: what lets cleanup tell a dead process's leftovers from a
//! live one's work.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::host::exec::Exec;
use crate::host::proc;

/// The user property that marks what buildy created on ZFS; its value is
/// an [`Owner`] as JSON. Cleanup destroys only what carries it.
pub const OWNER_PROPERTY: &str = "buildy:owner";

/// Who created something, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// What it is for: `build`, `create` (a temporary snapshot) or `install`.
    pub purpose: String,
    pub host: String,
    pub pid: u32,
    /// What identifies the boot (Linux's boot id, illumos's boot time): a
    /// pid from another boot is dead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
    /// When the process started (Linux: clock ticks after boot; illumos:
    /// nanoseconds since the epoch), so a reused pid is not taken for the owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<u64>,
    /// Seconds since the epoch.
    pub created: u64,
    /// Temporary files the owner writes (`.<name>.buildy-partial-<pid>`),
    /// for cleanup to remove if it dies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub temp_files: Vec<PathBuf>,
}

/// Whether the process that created something still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Alive,
    Dead,
    /// Created on another host (a pool shared between hosts): not ours to judge.
    OtherHost,
}

impl Owner {
    /// This process, for `purpose`.
    pub fn this_process(exec: &Exec, purpose: &str) -> Owner {
        let created = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let pid = std::process::id();
        Owner {
            purpose: purpose.to_string(),
            host: proc::hostname(),
            pid,
            boot_id: proc::boot_id(exec),
            start_time: proc::start_time(pid),
            created,
            temp_files: Vec::new(),
        }
    }

    /// Whether the owner still runs: same host, same boot, the pid exists
    /// and (where it can be read) started when the owner did.
    pub fn liveness(&self, exec: &Exec) -> Liveness {
        if self.host != proc::hostname() {
            return Liveness::OtherHost;
        }
        if self.boot_id.is_some() && self.boot_id != proc::boot_id(exec) {
            return Liveness::Dead;
        }
        if !proc::exists(self.pid) {
            return Liveness::Dead;
        }
        match (self.start_time, proc::start_time(self.pid)) {
            (Some(a), Some(b)) if a != b => Liveness::Dead,
            _ => Liveness::Alive,
        }
    }

    /// The same process at the same moment (what marks one run's work).
    pub fn same_run(&self, other: &Owner) -> bool {
        self.pid == other.pid && self.created == other.created && self.host == other.host
    }

    /// The property value.
    pub fn to_property(&self) -> String {
        serde_json::to_string(self).expect("an Owner serializes")
    }

    /// Parses a property value; `None` if it is not one of ours.
    pub fn from_property(value: &str) -> Option<Owner> {
        serde_json::from_str(value).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_round_trips_through_its_property_value() {
        let exec = Exec::default();
        let owner = Owner::this_process(&exec, "create");
        assert_eq!(owner.pid, std::process::id());
        assert_eq!(owner.liveness(&exec), Liveness::Alive);
        let reused_pid = Owner { start_time: owner.start_time.map(|t| t + 1), ..owner.clone() };
        assert_eq!(reused_pid.liveness(&exec), Liveness::Dead);
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = Owner { pid: child.id(), ..owner.clone() };
        child.wait().unwrap();
        assert_eq!(gone.liveness(&exec), Liveness::Dead);
        assert_eq!(Owner { host: "elsewhere".into(), ..owner.clone() }.liveness(&exec), Liveness::OtherHost);
        if owner.boot_id.is_some() {
            let before_a_reboot = Owner { boot_id: Some("another-boot".into()), ..owner.clone() };
            assert_eq!(before_a_reboot.liveness(&exec), Liveness::Dead);
        }
        assert!(owner.same_run(&owner.clone()) && !owner.same_run(&Owner { created: 0, ..owner.clone() }));
        assert_eq!(Owner::from_property(&owner.to_property()), Some(owner));
        assert_eq!(Owner::from_property("-"), None);
    }
}
