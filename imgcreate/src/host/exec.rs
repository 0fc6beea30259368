//! The executor: every external command buildy runs goes through an
//! [`Exec`], which is passed explicitly (no process-global state).
//!
//! - Arguments as a vector, never a shell string; stderr drained on its own
//!   thread so no pipe can fill and deadlock; the exit status always
//!   checked; failures carry the command line, the status and stderr.
//! - Each command runs in its own process group, registered while it runs,
//!   so cancelling stops it and everything it started.
//! - Cancellation has two levels. The first [`Exec::cancel`] stops the work:
//!   running work commands are killed and new ones refuse to start, but the
//!   undo (an [`Exec::for_undo`] view) may still run commands. A second
//!   one aborts: undo commands are killed too and nothing starts any more,
//!   so a hung undo (zfs-fuse can deadlock) cannot hold the process.
//! - Test-only faults ([`Fault`], from `BUILDY_FAULT`) kill the process at
//!   a numbered checkpoint: every command's start and end is one.

use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A command that failed to start or exited unsuccessfully.
#[derive(Debug, thiserror::Error)]
pub struct CommandError {
    /// The command line, quoted for reading.
    pub command_line: String,
    /// How it ended; `None` if it could not be started.
    pub status: Option<ExitStatus>,
    pub stderr: String,
    /// Why it could not be started or waited for.
    pub io: Option<std::io::Error>,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.status, &self.io) {
            (_, Some(e)) => write!(f, "`{}` could not be run: {e}", self.command_line),
            (Some(status), None) => {
                write!(f, "`{}` failed ({status})", self.command_line)?;
                let stderr = self.stderr.trim();
                if !stderr.is_empty() {
                    write!(f, ": {}", stderr.replace('\n', "; "))?;
                }
                Ok(())
            }
            (None, None) => write!(f, "`{}` failed", self.command_line),
        }
    }
}

impl CommandError {
    /// A failure that is not a command's (a lock, a file), worded as one.
    pub fn other(what: String, io: std::io::Error) -> CommandError {
        CommandError { command_line: what, status: None, stderr: String::new(), io: Some(io) }
    }

    /// The command was refused or killed because the work was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.io.as_ref().is_some_and(|e| e.kind() == std::io::ErrorKind::Interrupted)
    }
}

/// The command line as a person would type it.
pub fn command_line(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| {
            let s = a.to_string_lossy();
            if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=@:,+%".contains(c)) {
                s.into_owned()
            } else {
                format!("'{}'", s.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `OsString` arguments from anything string-like.
pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(items: I) -> Vec<OsString> {
    items.into_iter().map(Into::into).collect()
}

/// A fault injected for tests (`BUILDY_FAULT`); never set in normal use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `kill-at=N`: SIGKILL this process at the Nth checkpoint.
    KillAt(u32),
    /// `panic-in=STEP`: a build step panics (see the pipeline).
    PanicIn(String),
}

impl Fault {
    /// The variable's value, if it is set and one of the forms above.
    pub fn from_env() -> Option<Fault> {
        let value = std::env::var("BUILDY_FAULT").ok()?;
        if let Some(n) = value.strip_prefix("kill-at=") {
            return n.parse().ok().map(Fault::KillAt);
        }
        value.strip_prefix("panic-in=").map(|s| Fault::PanicIn(s.to_string()))
    }
}

const RUNNING: u8 = 0;
const CANCELLED: u8 = 1;
const ABORTED: u8 = 2;

struct Shared {
    level: AtomicU8,
    reason: Mutex<Option<String>>,
    /// Running commands: (pid, started by the undo).
    running: Mutex<Vec<(u32, bool)>>,
    fault: Option<Fault>,
    checkpoints: AtomicU32,
}

/// Runs external commands and owns their cancellation; clones share it.
#[derive(Clone)]
pub struct Exec {
    shared: Arc<Shared>,
    /// This view runs an undo: only an abort stops it.
    undo: bool,
}

impl Default for Exec {
    fn default() -> Self {
        Exec::new(None)
    }
}

impl fmt::Debug for Exec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exec")
            .field("level", &self.shared.level.load(Ordering::SeqCst))
            .field("undo", &self.undo)
            .finish()
    }
}

impl Exec {
    pub fn new(fault: Option<Fault>) -> Exec {
        let shared = Shared {
            level: AtomicU8::new(RUNNING),
            reason: Mutex::new(None),
            running: Mutex::new(Vec::new()),
            fault,
            checkpoints: AtomicU32::new(0),
        };
        Exec { shared: Arc::new(shared), undo: false }
    }

    /// The same executor for undoing: it keeps running commands after a
    /// first cancellation, and stops only on an abort.
    pub fn for_undo(&self) -> Exec {
        Exec { shared: self.shared.clone(), undo: true }
    }

    /// Escalates: the first call cancels the work, any later one aborts the
    /// undo as well. Returns whether this call aborted. Safe from any thread.
    pub fn cancel(&self, reason: &str) -> bool {
        let before = self
            .shared
            .level
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| Some(if l == RUNNING { CANCELLED } else { ABORTED }))
            .unwrap_or(ABORTED);
        let aborted = before != RUNNING;
        if !aborted {
            *lock(&self.shared.reason) = Some(reason.to_string());
        }
        for &(pid, undo) in lock(&self.shared.running).iter() {
            if aborted || !undo {
                kill_group(pid);
            }
        }
        aborted
    }

    /// Why the work was cancelled, if it was.
    pub fn cancelled(&self) -> Option<String> {
        (self.shared.level.load(Ordering::SeqCst) != RUNNING)
            .then(|| lock(&self.shared.reason).clone().unwrap_or_default())
    }

    /// Whether this view must stop: the work after a cancel, the undo after
    /// an abort.
    pub fn is_stopped(&self) -> bool {
        let level = self.shared.level.load(Ordering::SeqCst);
        level == ABORTED || (level == CANCELLED && !self.undo)
    }

    /// Whether the undo was aborted (a second signal).
    pub fn is_aborted(&self) -> bool {
        self.shared.level.load(Ordering::SeqCst) == ABORTED
    }

    pub fn fault(&self) -> Option<&Fault> {
        self.shared.fault.as_ref()
    }

    /// A numbered point where a test may have this process killed.
    pub fn checkpoint(&self) {
        let n = self.shared.checkpoints.fetch_add(1, Ordering::SeqCst) + 1;
        if self.shared.fault == Some(Fault::KillAt(n)) {
            // SAFETY: kill(2) of this very process: the test's SIGKILL.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }

    /// Sleeps, waking early (with `Err`) if this view is stopped.
    pub fn sleep(&self, duration: Duration) -> Result<(), Stopped> {
        let end = Instant::now() + duration;
        loop {
            if self.is_stopped() {
                return Err(Stopped);
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            std::thread::sleep(left.min(Duration::from_millis(20)));
        }
    }

    /// Runs `cmd` to completion, returning its stdout.
    pub fn output(&self, cmd: &mut Command) -> Result<Vec<u8>, CommandError> {
        self.output_allowing(cmd, &[]).map(|(out, _)| out)
    }

    /// Runs `cmd` to completion; exit status 0 and the codes in `also_ok`
    /// are success (e.g. `pkg_admin audit` exits 1 when it found
    /// vulnerabilities). Returns stdout and the exit code.
    pub fn output_allowing(&self, cmd: &mut Command, also_ok: &[i32]) -> Result<(Vec<u8>, i32), CommandError> {
        let mut running = self.start(cmd.stdin(Stdio::null()).stdout(Stdio::piped()))?;
        let mut out = Vec::new();
        let read = running.take_stdout().read_to_end(&mut out);
        let line = running.line.clone();
        let code = match running.wait() {
            Ok(()) => 0,
            Err(e) => match e.status.and_then(|s| s.code()) {
                Some(code) if also_ok.contains(&code) => code,
                _ => return Err(e),
            },
        };
        read.map_err(|e| CommandError::other(line, e))?;
        Ok((out, code))
    }

    /// Runs `cmd`, passing each line of its stdout and stderr to `line` as
    /// it comes (for logging), and keeping the end of stderr for the error.
    pub fn run_logged(&self, cmd: &mut Command, line: &dyn Fn(&str)) -> Result<(), CommandError> {
        let mut running = self.spawn(cmd.stdin(Stdio::null()).stdout(Stdio::piped()))?;
        let stdout = running.take_stdout();
        let stderr = running.child.stderr.take().expect("stderr was piped");
        let (tx, rx) = std::sync::mpsc::channel::<(bool, String)>();
        let tx2 = tx.clone();
        let out = std::thread::spawn(move || send_lines(stdout, false, tx));
        let err = std::thread::spawn(move || send_lines(stderr, true, tx2));
        let mut tail = std::collections::VecDeque::new();
        for (is_err, text) in rx {
            line(&text);
            if is_err {
                if tail.len() == 20 {
                    tail.pop_front();
                }
                tail.push_back(text);
            }
        }
        let _ = (out.join(), err.join());
        running.stderr_tail = Some(Vec::from(tail).join("\n"));
        running.wait()
    }

    /// Starts `cmd` with stderr collected on a thread; set stdin/stdout on
    /// `cmd` first.
    pub fn start(&self, cmd: &mut Command) -> Result<Running, CommandError> {
        let mut running = self.spawn(cmd)?;
        let mut err = running.child.stderr.take().expect("stderr was piped");
        running.stderr = Some(std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = err.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        }));
        Ok(running)
    }

    /// Starts `cmd` with stderr piped, left for the caller to read.
    fn spawn(&self, cmd: &mut Command) -> Result<Running, CommandError> {
        let line = command_line(cmd);
        self.checkpoint();
        let interrupted = || std::io::Error::new(std::io::ErrorKind::Interrupted, "interrupted");
        if self.is_stopped() {
            return Err(CommandError::other(line, interrupted()));
        }
        // The caller may block signals to handle them on a thread (as the
        // buildy command does); a command must start with none blocked.
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                let mut none: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut none);
                libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
                Ok(())
            });
        }
        let child =
            cmd.stderr(Stdio::piped()).process_group(0).spawn().map_err(|e| CommandError::other(line.clone(), e))?;
        lock(&self.shared.running).push((child.id(), self.undo));
        if self.is_stopped() {
            // A cancel ran between the check above and the registration.
            kill_group(child.id());
        }
        Ok(Running { child, line, exec: self.clone(), stderr: None, stderr_tail: None, guard: None })
    }

    fn unregister(&self, pid: u32) {
        lock(&self.shared.running).retain(|&(p, _)| p != pid);
    }
}

/// The view was stopped (cancelled, or aborted for the undo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interrupted")]
pub struct Stopped;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn kill_group(pid: u32) {
    // SAFETY: kill(2) with a negative pid signals that process group; each
    // command leads its own group (process_group(0)).
    unsafe {
        libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
    }
}

fn send_lines(from: impl Read, is_err: bool, to: std::sync::mpsc::Sender<(bool, String)>) {
    use std::io::BufRead;
    for l in std::io::BufReader::new(from).split(b'\n').map_while(Result::ok) {
        if to.send((is_err, String::from_utf8_lossy(&l).into_owned())).is_err() {
            break;
        }
    }
}

/// A started command whose stdout and/or stdin the caller streams, while a
/// thread collects its stderr. Dropped without [`Running::wait`], it is
/// killed and reaped.
pub struct Running {
    child: Child,
    line: String,
    exec: Exec,
    stderr: Option<JoinHandle<String>>,
    /// Set by [`Exec::run_logged`], which reads stderr itself.
    stderr_tail: Option<String>,
    /// Kept until the command has ended (a lock it must run under).
    guard: Option<Box<dyn Send>>,
}

impl Running {
    /// The command's stdin (started with `Stdio::piped()`).
    pub fn take_stdin(&mut self) -> ChildStdin {
        self.child.stdin.take().expect("stdin was piped")
    }

    /// The command's stdout (started with `Stdio::piped()`).
    pub fn take_stdout(&mut self) -> ChildStdout {
        self.child.stdout.take().expect("stdout was piped")
    }

    pub fn command_line(&self) -> &str {
        &self.line
    }

    /// Keeps `guard` (a lock the command must run under) until the command
    /// has ended, however it ends.
    pub fn hold_until_done(&mut self, guard: Box<dyn Send>) {
        self.guard = Some(guard);
    }

    /// Waits for the command; an unsuccessful exit is an error.
    pub fn wait(mut self) -> Result<(), CommandError> {
        drop(self.child.stdin.take());
        let status = self.child.wait();
        self.guard = None;
        self.exec.unregister(self.child.id());
        let collected = self.stderr.take().map(|h| h.join().unwrap_or_default());
        let stderr = collected.or(self.stderr_tail.take()).unwrap_or_default();
        let line = std::mem::take(&mut self.line);
        let stopped = self.exec.is_stopped();
        self.exec.checkpoint();
        match status {
            Ok(s) if s.success() => Ok(()),
            // Killed by a cancel: say so rather than "signal: 9".
            Ok(_) if stopped => {
                Err(CommandError::other(line, std::io::Error::new(std::io::ErrorKind::Interrupted, "interrupted")))
            }
            Ok(s) => Err(CommandError { command_line: line, status: Some(s), stderr, io: None }),
            Err(e) => Err(CommandError { command_line: line, status: None, stderr, io: Some(e) }),
        }
    }

    /// Stops the command and its process group (a failure elsewhere in a
    /// pipe) and reaps it.
    pub fn kill(self) {
        drop(self);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.line.is_empty() {
            return; // waited for
        }
        kill_group(self.child.id());
        let _ = self.child.wait();
        self.exec.unregister(self.child.id());
        if let Some(h) = self.stderr.take() {
            let _ = h.join();
        }
    }
}

/// A running command's stdout as a reader. At end of output it waits for
/// the command, and an unsuccessful exit becomes a read error, so a
/// producer that died mid-stream can never pass for a short stream.
/// Dropped before the end, it kills the command.
pub struct ChildReader {
    running: Option<Running>,
    stdout: ChildStdout,
}

impl ChildReader {
    /// Wraps a command started with `Stdio::piped()` stdout.
    pub fn new(mut running: Running) -> ChildReader {
        let stdout = running.take_stdout();
        ChildReader { running: Some(running), stdout }
    }
}

impl Read for ChildReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.stdout.read(buf)?;
        if n == 0 && !buf.is_empty() {
            if let Some(running) = self.running.take() {
                running.wait().map_err(std::io::Error::other)?;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_name_the_command_status_and_stderr() {
        let exec = Exec::default();
        let err = exec.output(Command::new("sh").args(["-c", "echo oops >&2; exit 3", "arg with space"])).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("`sh -c 'echo oops >&2; exit 3' 'arg with space'` failed"), "{text}");
        assert!(text.contains("exit status: 3") && text.ends_with(": oops"), "{text}");
        let err = exec.output(&mut Command::new("/nonexistent/zfs")).unwrap_err();
        assert!(err.to_string().contains("could not be run"), "{err}");
    }

    #[test]
    fn a_chatty_stderr_cannot_deadlock_a_streamed_stdout() {
        // 1 MiB on stderr before any stdout: a reader of stdout alone would hang.
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "head -c 1048576 /dev/zero >&2; echo done"]).stdout(Stdio::piped());
        let mut running = Exec::default().start(&mut cmd).unwrap();
        let mut out = String::new();
        running.take_stdout().read_to_string(&mut out).unwrap();
        running.wait().unwrap();
        assert_eq!(out, "done\n");
    }

    #[test]
    fn a_producer_that_dies_mid_stream_is_a_read_error() {
        let exec = Exec::default();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo partial; kill -9 $$"]).stdout(Stdio::piped());
        let mut reader = ChildReader::new(exec.start(&mut cmd).unwrap());
        let mut out = String::new();
        let err = reader.read_to_string(&mut out).unwrap_err();
        assert_eq!(out, "partial\n");
        assert!(err.to_string().contains("signal: 9"), "{err}");

        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo whole"]).stdout(Stdio::piped());
        let mut reader = ChildReader::new(exec.start(&mut cmd).unwrap());
        let mut out = String::new();
        reader.read_to_string(&mut out).unwrap();
        assert_eq!(out, "whole\n");
    }

    #[test]
    fn commands_start_with_no_signals_blocked() {
        // SAFETY: blocks SIGTERM in this test thread only, restored after.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
        unsafe {
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        }
        let out = Exec::default().output(Command::new("grep").args(["SigBlk", "/proc/self/status"]));
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
        assert_eq!(String::from_utf8(out.unwrap()).unwrap(), "SigBlk:\t0000000000000000\n");
    }

    #[test]
    fn a_cancel_stops_the_work_but_not_the_undo_and_an_abort_stops_both() {
        let exec = Exec::default();
        let undo = exec.for_undo();
        let mut work_cmd = Command::new("sleep");
        let work = exec.start(work_cmd.arg("60").stdout(Stdio::null())).unwrap();
        let mut undo_cmd = Command::new("sleep");
        let hung_undo = undo.start(undo_cmd.arg("60").stdout(Stdio::null())).unwrap();

        assert!(!exec.cancel("SIGTERM"), "the first cancel does not abort");
        assert_eq!(exec.cancelled().as_deref(), Some("SIGTERM"));
        assert!(work.wait().unwrap_err().is_cancelled(), "the running work command was killed");
        assert!(exec.output(&mut Command::new("true")).unwrap_err().is_cancelled(), "no new work starts");
        undo.output(&mut Command::new("true")).expect("the undo still runs commands");
        assert!(!undo.is_stopped() && exec.is_stopped());

        let started = Instant::now();
        assert!(exec.cancel("SIGTERM"), "the second one aborts");
        assert!(hung_undo.wait().unwrap_err().is_cancelled(), "the hung undo command was killed");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(undo.output(&mut Command::new("true")).unwrap_err().is_cancelled());
        assert_eq!(undo.sleep(Duration::from_secs(60)), Err(Stopped));
        assert_eq!(exec.cancelled().as_deref(), Some("SIGTERM"), "the first reason is kept");
    }

    #[test]
    fn executors_do_not_share_cancellation() {
        let (a, b) = (Exec::default(), Exec::default());
        a.cancel("SIGINT");
        assert!(a.is_stopped() && !b.is_stopped());
        b.output(&mut Command::new("true")).expect("another executor is unaffected");
    }

    #[test]
    fn faults_are_read_from_their_variable_forms() {
        let exec = Exec::new(Some(Fault::KillAt(1000)));
        exec.output(&mut Command::new("true")).unwrap();
        assert_eq!(exec.shared.checkpoints.load(Ordering::SeqCst), 2, "a command's start and end are checkpoints");
    }
}
