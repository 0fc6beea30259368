//! ZFS through the `zfs` command: the operations that creating and
//! installing images need, for illumos, OpenZFS and zfs-fuse alike. What
//! differs between them is decided by the [`Dialect`], detected once per
//! run; exact numbers come from `get -Hp`, which all three have.
//!
//! Every command runs with `LC_ALL=C`. Every error names the operation,
//! the dataset, the command line, the exit status and stderr, and has a
//! [`ZfsErrorKind`] decided here. "Dataset is busy", which ZFS reports
//! transiently after unmounts, is retried a few times.

mod dialect;
mod error;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use dialect::Dialect;
pub use error::{ZfsError, ZfsErrorKind};

use super::exec::{ChildReader, CommandError, Exec, Running};
use super::lock::{self, FileLock};

/// Where illumos and Debian install the command.
pub const DEFAULT_ZFS: &str = "/usr/sbin/zfs";

/// Attempts for an operation that fails with "dataset is busy".
const BUSY_ATTEMPTS: u32 = 6;

/// The `zfs` command at a configurable path, run by an executor.
#[derive(Debug, Clone)]
pub struct Zfs {
    path: PathBuf,
    exec: Exec,
    /// Detected on first need, shared by clones (and the undo's view).
    dialect: Arc<OnceLock<Dialect>>,
}

impl Zfs {
    pub fn new(path: impl AsRef<Path>, exec: &Exec) -> Zfs {
        Zfs { path: path.as_ref().to_path_buf(), exec: exec.clone(), dialect: Arc::default() }
    }

    /// A `zfs` whose dialect is known (no detection).
    pub fn with_dialect(path: impl AsRef<Path>, exec: &Exec, dialect: Dialect) -> Zfs {
        let zfs = Zfs::new(path, exec);
        let _ = zfs.dialect.set(dialect);
        zfs
    }

    /// The same command run by the undo's view of the executor.
    pub fn for_undo(&self) -> Zfs {
        Zfs { path: self.path.clone(), exec: self.exec.for_undo(), dialect: self.dialect.clone() }
    }

    pub fn exec(&self) -> &Exec {
        &self.exec
    }

    /// Which zfs this is, detected on the first call (by the undo's view of
    /// the executor, so that a cancelled run still learns it right).
    pub fn dialect(&self) -> &Dialect {
        self.dialect.get_or_init(|| Dialect::detect(&self.exec.for_undo(), &self.path))
    }

    /// Buildy's mount lock if this dialect needs it around mounting
    /// (zfs-fuse; see [`Dialect::needs_mount_lock`]); `None` elsewhere.
    pub fn mount_lock(&self) -> Result<Option<FileLock>, CommandError> {
        if self.dialect().needs_mount_lock() {
            lock::mount_lock(&self.exec).map(Some)
        } else {
            Ok(None)
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.path);
        cmd.args(args).env("LC_ALL", "C");
        cmd
    }

    /// `list -H`, with `-p` where it exists.
    fn list_args(&self) -> Vec<&'static str> {
        if self.dialect().lists_exact() {
            vec!["list", "-Hp"]
        } else {
            vec!["list", "-H"]
        }
    }

    /// Runs `zfs ARGS` (which may mount or unmount), retrying "dataset is
    /// busy"; the mount lock, where needed, is held for each attempt but
    /// not through the back-off between them.
    fn run_mounting(&self, op: &'static str, dataset: &str, args: &[&str]) -> Result<String, ZfsError> {
        self.run_retrying(op, dataset, args, true)
    }

    /// Runs `zfs ARGS`, retrying "dataset is busy", and returns stdout.
    fn run(&self, op: &'static str, dataset: &str, args: &[&str]) -> Result<String, ZfsError> {
        self.run_retrying(op, dataset, args, false)
    }

    fn run_retrying(&self, op: &'static str, dataset: &str, args: &[&str], mounting: bool) -> Result<String, ZfsError> {
        let mut attempt = 1;
        loop {
            let held = if mounting { self.mount_lock().map_err(|e| ZfsError::new(op, dataset, e))? } else { None };
            let result = self.exec.output(&mut self.command(args));
            drop(held);
            match result {
                Ok(out) => return Ok(String::from_utf8_lossy(&out).into_owned()),
                Err(e) => {
                    let error = ZfsError::new(op, dataset, e);
                    if attempt >= BUSY_ATTEMPTS || !error.is_busy() {
                        return Err(error);
                    }
                    if self.exec.sleep(Duration::from_millis(100 << attempt)).is_err() {
                        return Err(error);
                    }
                    attempt += 1;
                }
            }
        }
    }

    /// Whether a dataset or snapshot exists.
    pub fn exists(&self, name: &str) -> Result<bool, ZfsError> {
        let args = [&self.list_args()[..], &["-o", "name", name]].concat();
        match self.run("list", name, &args) {
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
        let mut args = self.list_args();
        args.extend(["-t", "snapshot", "-o", "name", "-s", "createtxg", "-d", "1", dataset]);
        let out = self.run("list snapshots", dataset, &args)?;
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

    /// Destroys `name`; one that does not exist (any more) is not an error.
    pub fn destroy_if_exists(&self, name: &str, recursive: bool) -> Result<(), ZfsError> {
        match self.destroy(name, recursive) {
            Err(e) if e.is_not_found() => Ok(()),
            other => other,
        }
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
        let mut args = self.list_args();
        args.extend(["-o", "name,origin", "-r", pool]);
        let out = self.run("list", pool, &args)?;
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
        let running = self.exec.start(&mut cmd).map_err(|source| ZfsError::new("send", snapshot, source))?;
        Ok(ChildReader::new(running))
    }

    /// `zfs receive TARGET`, started; the caller writes the stream to its
    /// stdin and then waits. See [`Zfs::receive_into`].
    pub fn receive(&self, target: &str) -> Result<Running, ZfsError> {
        self.receive_into(target, None)
    }

    /// `zfs receive [-u] [-o origin=ORIGIN] TARGET`, started. Where the
    /// dialect has them: `-u`, so that nothing is mounted, and `-o origin=`,
    /// so that an incremental stream lands on the snapshot named (not just
    /// one with the right guid). zfs-fuse mounts what it receives, so there
    /// the mount lock is held until the command ends.
    pub fn receive_into(&self, target: &str, origin: Option<&str>) -> Result<Running, ZfsError> {
        let dialect = self.dialect();
        let mut args = vec!["receive".to_string()];
        if dialect.receives_unmounted() {
            args.push("-u".into());
        }
        if let Some(origin) = origin.filter(|_| dialect.receives_with_origin()) {
            args.extend(["-o".into(), format!("origin={origin}")]);
        }
        args.push(target.into());
        let held = self.mount_lock().map_err(|source| ZfsError::new("receive", target, source))?;
        let mut cmd = self.command(&as_strs(&args));
        cmd.stdin(Stdio::piped()).stdout(Stdio::null());
        let mut running = self.exec.start(&mut cmd).map_err(|source| ZfsError::new("receive", target, source))?;
        if let Some(held) = held {
            running.hold_until_done(Box::new(held));
        }
        Ok(running)
    }

    /// Wraps a failure of a command started by this module (a receive the
    /// caller waited for), deciding its kind.
    pub fn error(op: &'static str, dataset: &str, source: CommandError) -> ZfsError {
        ZfsError::new(op, dataset, source)
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
        assert_eq!(err.kind, ZfsErrorKind::Other);
    }

    /// A stand-in `zfs` that writes its arguments and `LC_ALL` to a log and
    /// fails like zfs with `stderr` (the dialects other than zfs-fuse cannot
    /// run here, so their command lines are checked this way).
    fn recording_zfs(dir: &Path, stderr: &str) -> (PathBuf, PathBuf) {
        use std::os::unix::fs::PermissionsExt;
        let (script, log) = (dir.join("zfs"), dir.join("log"));
        let body = format!(
            "#!/bin/sh\necho \"LC_ALL=$LC_ALL $*\" >> {}\ncat > /dev/null\necho \"{stderr}\" >&2\nexit 1\n",
            log.display()
        );
        std::fs::write(&script, body).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        (script, log)
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("buildy-zfs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn each_dialect_gets_its_flags_and_every_command_runs_in_the_c_locale() {
        let dir = temp_dir("dialects");
        let (script, log) = recording_zfs(&dir, "cannot open 'p/x': dataset does not exist");
        let exec = Exec::default();
        for (dialect, expected) in [
            (Dialect::OpenZfs { version: None }, ["list -Hp -o name p/x", "receive -u -o origin=p/o@final p/x"]),
            (Dialect::Illumos, ["list -Hp -o name p/x", "receive -u -o origin=p/o@final p/x"]),
            (Dialect::ZfsFuse, ["list -H -o name p/x", "receive p/x"]),
        ] {
            let _ = std::fs::remove_file(&log);
            let zfs = Zfs::with_dialect(&script, &exec, dialect.clone());
            assert!(!zfs.exists("p/x").unwrap(), "not found is decided from the message");
            let receive = zfs.receive_into("p/x", Some("p/o@final")).unwrap();
            let err = Zfs::error("receive", "p/x", receive.wait().unwrap_err());
            assert!(err.is_not_found());
            let lines: Vec<String> = std::fs::read_to_string(&log).unwrap().lines().map(str::to_string).collect();
            let expected: Vec<String> = expected.iter().map(|l| format!("LC_ALL=C {l}")).collect();
            assert_eq!(lines, expected, "{dialect}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn busy_is_retried_and_then_reported_as_busy() {
        let dir = temp_dir("busy");
        let (script, log) = recording_zfs(&dir, "cannot destroy 'p/x': dataset is busy");
        let zfs = Zfs::with_dialect(&script, &Exec::default(), Dialect::Illumos);
        let err = zfs.destroy("p/x", false).unwrap_err();
        assert_eq!(err.kind, ZfsErrorKind::Busy);
        assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), BUSY_ATTEMPTS as usize);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
