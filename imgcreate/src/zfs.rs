//! ZFS through the `zfs` command: the operations that creating and
//! installing images need, for illumos, OpenZFS and zfs-fuse alike (so no
//! `list -p`, which zfs-fuse lacks; exact numbers come from `get -Hp`).
//!
//! Every error names the operation, the dataset, the command line, the exit
//! status and stderr. "Dataset is busy", which ZFS reports transiently
//! after unmounts, is retried a few times.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::command::{self, ChildReader, CommandError, Running};
use crate::lock;

/// Where illumos and Debian install the command.
pub const DEFAULT_ZFS: &str = "/usr/sbin/zfs";

/// The user property that marks what buildy created; its value is an
/// [`Owner`] as JSON. Cleanup destroys only what carries it.
pub const OWNER_PROPERTY: &str = "buildy:owner";

/// Attempts for an operation that fails with "dataset is busy".
const BUSY_ATTEMPTS: u32 = 6;

/// A failed ZFS operation.
#[derive(Debug, thiserror::Error)]
#[error("zfs {op} of {dataset} failed: {source}")]
pub struct ZfsError {
    pub op: &'static str,
    pub dataset: String,
    #[source]
    pub source: Box<CommandError>,
}

impl ZfsError {
    /// The dataset (or snapshot) does not exist.
    pub fn is_not_found(&self) -> bool {
        self.source.stderr.contains("does not exist")
    }

    /// The pool or quota ran out of space.
    pub fn is_out_of_space(&self) -> bool {
        let e = &self.source.stderr;
        e.contains("out of space") || e.contains("quota exceeded") || e.contains("No space left")
    }
}

/// Who created a dataset or snapshot, and why: enough for a later cleanup to
/// tell a leftover of a dead process from the work of a live one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// What it is for, e.g. `create` (a temporary `@final`) or `install`.
    pub purpose: String,
    pub host: String,
    pub pid: u32,
    /// The kernel's boot id where there is one: a pid from another boot is dead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
    /// When the process started (Linux: clock ticks after boot), so a
    /// reused pid is not taken for the owner.
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
    /// Created on another host (a shared pool): not ours to judge.
    OtherHost,
}

impl Owner {
    /// This process, for `purpose`.
    pub fn this_process(purpose: &str) -> Owner {
        let created = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let pid = std::process::id();
        Owner {
            purpose: purpose.to_string(),
            host: hostname(),
            pid,
            boot_id: boot_id(),
            start_time: process_start_time(pid),
            created,
            temp_files: Vec::new(),
        }
    }

    /// Whether the owner still runs: same host, same boot, the pid exists
    /// and (where it can be read) started when the owner did.
    pub fn liveness(&self) -> Liveness {
        if self.host != hostname() {
            return Liveness::OtherHost;
        }
        if self.boot_id.is_some() && self.boot_id != boot_id() {
            return Liveness::Dead;
        }
        // SAFETY: kill with signal 0 only checks that the process exists.
        let exists = unsafe { libc::kill(self.pid as libc::pid_t, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if !exists {
            return Liveness::Dead;
        }
        match (self.start_time, process_start_time(self.pid)) {
            (Some(a), Some(b)) if a != b => Liveness::Dead,
            _ => Liveness::Alive,
        }
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

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| command::output(&mut Command::new("hostname")).ok().map(|b| String::from_utf8_lossy(&b).into()))
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// The kernel's boot id (Linux); `None` elsewhere.
fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok().map(|s| s.trim().to_string())
}

/// Field 22 of `/proc/<pid>/stat` (Linux); `None` elsewhere.
fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after it do not.
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.split(' ').nth(19)?.parse().ok()
}

/// The `zfs` command at a configurable path.
#[derive(Debug, Clone)]
pub struct Zfs {
    path: PathBuf,
}

impl Default for Zfs {
    fn default() -> Self {
        Zfs::new(DEFAULT_ZFS)
    }
}

impl Zfs {
    pub fn new(path: impl AsRef<Path>) -> Zfs {
        Zfs { path: path.as_ref().to_path_buf() }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.path);
        cmd.args(args);
        cmd
    }

    /// Runs `zfs ARGS` holding the mount lock (see [`lock::MOUNT_LOCK`]).
    fn run_mounting(&self, op: &'static str, dataset: &str, args: &[&str]) -> Result<String, ZfsError> {
        let _lock = lock::mount_lock().map_err(|e| Zfs::error(op, dataset, e))?;
        self.run(op, dataset, args)
    }

    /// Runs `zfs ARGS`, retrying "dataset is busy", and returns stdout.
    fn run(&self, op: &'static str, dataset: &str, args: &[&str]) -> Result<String, ZfsError> {
        let mut attempt = 1;
        loop {
            match command::output(&mut self.command(args)) {
                Ok(out) => return Ok(String::from_utf8_lossy(&out).into_owned()),
                Err(e) if attempt < BUSY_ATTEMPTS && e.stderr.contains("busy") => {
                    std::thread::sleep(Duration::from_millis(100 << attempt));
                    attempt += 1;
                }
                Err(source) => return Err(Zfs::error(op, dataset, source)),
            }
        }
    }

    /// Whether a dataset or snapshot exists.
    pub fn exists(&self, name: &str) -> Result<bool, ZfsError> {
        match self.run("list", name, &["list", "-H", "-o", "name", name]) {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Exact values (`get -Hp`) of `props`; unset ones are absent.
    pub fn get(&self, name: &str, props: &[&str]) -> Result<BTreeMap<String, String>, ZfsError> {
        let list = props.join(",");
        let out = self.run("get", name, &["get", "-Hp", "-o", "property,value,source", &list, name])?;
        Ok(out
            .lines()
            .filter_map(|line| {
                let mut cols = line.splitn(3, '\t');
                let (prop, value, source) = (cols.next()?, cols.next()?, cols.next().unwrap_or("-"));
                // An unset property prints as "-" with source "-".
                (!(value == "-" && source == "-")).then(|| (prop.to_string(), value.to_string()))
            })
            .collect())
    }

    /// One exact value, `None` when unset.
    pub fn get_one(&self, name: &str, prop: &str) -> Result<Option<String>, ZfsError> {
        Ok(self.get(name, &[prop])?.remove(prop))
    }

    /// The snapshots of `dataset` itself, as names after the `@`, oldest first.
    pub fn snapshots(&self, dataset: &str) -> Result<Vec<String>, ZfsError> {
        let out = self.run(
            "list snapshots",
            dataset,
            &["list", "-H", "-t", "snapshot", "-o", "name", "-s", "createtxg", "-d", "1", dataset],
        )?;
        Ok(out.lines().filter_map(|l| l.strip_prefix(dataset)?.strip_prefix('@')).map(str::to_string).collect())
    }

    pub fn create(&self, dataset: &str, props: &[(&str, &str)]) -> Result<(), ZfsError> {
        let args = with_options("create", props, &[dataset]);
        self.run_mounting("create", dataset, &as_strs(&args)).map(drop)
    }

    pub fn snapshot(&self, snapshot: &str, props: &[(&str, &str)]) -> Result<(), ZfsError> {
        let args = with_options("snapshot", props, &[snapshot]);
        self.run("snapshot", snapshot, &as_strs(&args)).map(drop)
    }

    pub fn clone_snapshot(&self, snapshot: &str, target: &str, props: &[(&str, &str)]) -> Result<(), ZfsError> {
        let args = with_options("clone", props, &[snapshot, target]);
        self.run_mounting("clone", target, &as_strs(&args)).map(drop)
    }

    /// Renames a dataset, or a snapshot (`to` then is the full new name).
    pub fn rename(&self, from: &str, to: &str) -> Result<(), ZfsError> {
        self.run_mounting("rename", from, &["rename", from, to]).map(drop)
    }

    pub fn destroy(&self, name: &str, recursive: bool) -> Result<(), ZfsError> {
        let args: &[&str] = if recursive { &["destroy", "-r", name] } else { &["destroy", name] };
        self.run_mounting("destroy", name, args).map(drop)
    }

    pub fn set(&self, name: &str, prop: &str, value: &str) -> Result<(), ZfsError> {
        self.run_mounting("set", name, &["set", &format!("{prop}={value}"), name]).map(drop)
    }

    /// Everything at or below `dataset` (every pool if `None`), snapshots
    /// included, that carries buildy's mark, with its owner.
    pub fn owned(&self, dataset: Option<&str>) -> Result<Vec<(String, Owner)>, ZfsError> {
        let mut args = vec!["get", "-H", "-o", "name,value", "-s", "local", "-r", OWNER_PROPERTY];
        args.extend(dataset);
        let out = self.run("get", dataset.unwrap_or("all pools"), &args)?;
        Ok(out
            .lines()
            .filter_map(|l| {
                let (name, value) = l.split_once('\t')?;
                Some((name.to_string(), Owner::from_property(value)?))
            })
            .collect())
    }

    /// Marks `name` as buildy's.
    pub fn set_owner(&self, name: &str, owner: &Owner) -> Result<(), ZfsError> {
        self.set(name, OWNER_PROPERTY, &owner.to_property())
    }

    /// `zfs send [-i FROM] SNAPSHOT` as a reader of the stream. Deliberately
    /// no `-R -p -c -e -L -w`: old platforms must be able to receive it.
    pub fn send(&self, snapshot: &str, from: Option<&str>) -> Result<ChildReader, ZfsError> {
        let mut args = vec!["send"];
        if let Some(from) = from {
            args.extend(["-i", from]);
        }
        args.push(snapshot);
        let mut cmd = self.command(&args);
        cmd.stdin(Stdio::null()).stdout(Stdio::piped());
        let running = Running::start(&mut cmd).map_err(|source| Zfs::error("send", snapshot, source))?;
        Ok(ChildReader::new(running))
    }

    /// `zfs receive TARGET`, started; the caller writes the stream to its
    /// stdin and then waits.
    pub fn receive(&self, target: &str) -> Result<Running, ZfsError> {
        let mut cmd = self.command(&["receive", target]);
        cmd.stdin(Stdio::piped()).stdout(Stdio::null());
        Running::start(&mut cmd).map_err(|source| Zfs::error("receive", target, source))
    }

    /// Wraps a failure of a command started by this module.
    pub fn error(op: &'static str, dataset: &str, source: CommandError) -> ZfsError {
        ZfsError { op, dataset: dataset.to_string(), source: Box::new(source) }
    }
}

/// `SUBCOMMAND -o k=v ... NAMES...`
fn with_options(subcommand: &str, props: &[(&str, &str)], names: &[&str]) -> Vec<String> {
    let mut args = vec![subcommand.to_string()];
    args.extend(props.iter().flat_map(|(k, v)| ["-o".to_string(), format!("{k}={v}")]));
    args.extend(names.iter().map(|n| n.to_string()));
    args
}

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_round_trips_through_its_property_value() {
        let owner = Owner::this_process("create");
        assert_eq!(owner.pid, std::process::id());
        assert_eq!(owner.liveness(), Liveness::Alive);
        let reused_pid = Owner { start_time: owner.start_time.map(|t| t + 1), ..owner.clone() };
        assert_eq!(reused_pid.liveness(), Liveness::Dead);
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = Owner { pid: child.id(), ..owner.clone() };
        child.wait().unwrap();
        assert_eq!(gone.liveness(), Liveness::Dead);
        assert_eq!(Owner { host: "elsewhere".into(), ..owner.clone() }.liveness(), Liveness::OtherHost);
        if owner.boot_id.is_some() {
            let before_a_reboot = Owner { boot_id: Some("another-boot".into()), ..owner.clone() };
            assert_eq!(before_a_reboot.liveness(), Liveness::Dead);
        }
        assert_eq!(Owner::from_property(&owner.to_property()), Some(owner));
        assert_eq!(Owner::from_property("-"), None);
    }

    #[test]
    fn a_missing_zfs_command_is_an_error_naming_it() {
        let zfs = Zfs::new("/nonexistent/zfs");
        let err = zfs.exists("pool/ds").unwrap_err();
        assert_eq!(err.dataset, "pool/ds");
        assert!(err.to_string().starts_with("zfs list of pool/ds failed: `/nonexistent/zfs list -H -o name pool/ds`"));
    }
}
