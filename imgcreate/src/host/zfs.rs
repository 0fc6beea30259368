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

use super::exec::{ChildReader, CommandError, Exec, Running};
use super::lock;

/// Where illumos and Debian install the command.
pub const DEFAULT_ZFS: &str = "/usr/sbin/zfs";

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

    fn is_busy(e: &CommandError) -> bool {
        e.stderr.contains("busy")
    }
}

/// The `zfs` command at a configurable path, run by an executor.
#[derive(Debug, Clone)]
pub struct Zfs {
    path: PathBuf,
    exec: Exec,
}

impl Zfs {
    pub fn new(path: impl AsRef<Path>, exec: &Exec) -> Zfs {
        Zfs { path: path.as_ref().to_path_buf(), exec: exec.clone() }
    }

    /// The same command run by the undo's view of the executor.
    pub fn for_undo(&self) -> Zfs {
        Zfs { path: self.path.clone(), exec: self.exec.for_undo() }
    }

    pub fn exec(&self) -> &Exec {
        &self.exec
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.path);
        cmd.args(args);
        cmd
    }

    /// Runs `zfs ARGS` holding the mount lock (see [`lock::MOUNT_LOCK`]).
    fn run_mounting(&self, op: &'static str, dataset: &str, args: &[&str]) -> Result<String, ZfsError> {
        let _lock = lock::mount_lock(&self.exec).map_err(|e| Zfs::error(op, dataset, e))?;
        self.run(op, dataset, args)
    }

    /// Runs `zfs ARGS`, retrying "dataset is busy", and returns stdout.
    fn run(&self, op: &'static str, dataset: &str, args: &[&str]) -> Result<String, ZfsError> {
        let mut attempt = 1;
        loop {
            match self.exec.output(&mut self.command(args)) {
                Ok(out) => return Ok(String::from_utf8_lossy(&out).into_owned()),
                Err(e) if attempt < BUSY_ATTEMPTS && ZfsError::is_busy(&e) => {
                    if self.exec.sleep(Duration::from_millis(100 << attempt)).is_err() {
                        return Err(Zfs::error(op, dataset, e));
                    }
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

    /// `props` of `dataset` and everything below it, in one command:
    /// `(name, property, value)`, unset ones left out.
    pub fn get_recursive(&self, dataset: &str, props: &[&str]) -> Result<Vec<(String, String, String)>, ZfsError> {
        let list = props.join(",");
        let out =
            self.run("get", dataset, &["get", "-Hp", "-r", "-o", "name,property,value,source", &list, dataset])?;
        Ok(out
            .lines()
            .filter_map(|line| {
                let mut cols = line.splitn(4, '\t');
                let (name, prop, value, source) =
                    (cols.next()?, cols.next()?, cols.next()?, cols.next().unwrap_or("-"));
                (!(value == "-" && source == "-")).then(|| (name.to_string(), prop.to_string(), value.to_string()))
            })
            .collect())
    }

    /// One exact value, `None` when unset.
    pub fn get_one(&self, name: &str, prop: &str) -> Result<Option<String>, ZfsError> {
        Ok(self.get(name, &[prop])?.remove(prop))
    }

    /// One exact value; `Ok(None)` also when `name` does not exist.
    pub fn get_if_exists(&self, name: &str, prop: &str) -> Result<Option<String>, ZfsError> {
        match self.get_one(name, prop) {
            Err(e) if e.is_not_found() => Ok(None),
            other => other,
        }
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

    /// Removes a local property setting (a user property is then unset).
    pub fn inherit(&self, name: &str, prop: &str) -> Result<(), ZfsError> {
        self.run_mounting("inherit", name, &["inherit", prop, name]).map(drop)
    }

    /// Everything at or below `dataset` (every pool if `None`), snapshots
    /// included, on which `property` is set locally, with its value.
    pub fn with_local_property(
        &self,
        dataset: Option<&str>,
        property: &str,
    ) -> Result<Vec<(String, String)>, ZfsError> {
        let mut args = vec!["get", "-H", "-o", "name,value", "-s", "local", "-r", property];
        args.extend(dataset);
        let out = self.run("get", dataset.unwrap_or("all pools"), &args)?;
        Ok(out
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect())
    }

    /// The datasets in `pool` cloned from a snapshot of `dataset` (zfs-fuse
    /// has no `clones` property, so by each dataset's `origin`).
    pub fn clones_of(&self, pool: &str, dataset: &str) -> Result<Vec<String>, ZfsError> {
        let out = self.run("list", pool, &["list", "-H", "-o", "name,origin", "-r", pool])?;
        let prefix = format!("{dataset}@");
        Ok(out
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .filter(|(_, origin)| origin.starts_with(&prefix))
            .map(|(name, _)| name.to_string())
            .collect())
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
        let running = self.exec.start(&mut cmd).map_err(|source| Zfs::error("send", snapshot, source))?;
        Ok(ChildReader::new(running))
    }

    /// `zfs receive TARGET`, started; the caller writes the stream to its
    /// stdin and then waits.
    pub fn receive(&self, target: &str) -> Result<Running, ZfsError> {
        let mut cmd = self.command(&["receive", target]);
        cmd.stdin(Stdio::piped()).stdout(Stdio::null());
        self.exec.start(&mut cmd).map_err(|source| Zfs::error("receive", target, source))
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
    fn a_missing_zfs_command_is_an_error_naming_it() {
        let zfs = Zfs::new("/nonexistent/zfs", &Exec::default());
        let err = zfs.exists("pool/ds").unwrap_err();
        assert_eq!(err.dataset, "pool/ds");
        assert!(err.to_string().starts_with("zfs list of pool/ds failed: `/nonexistent/zfs list -H -o name pool/ds`"));
    }
}
