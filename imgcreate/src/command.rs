//! Running external commands: arguments as a vector (never a shell string),
//! stderr drained on its own thread so no pipe can fill and deadlock, exit
//! status always checked, and failures that carry the command line, the
//! status and stderr.

use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread::JoinHandle;

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

/// Runs `cmd` to completion, returning its stdout.
pub fn output(cmd: &mut Command) -> Result<Vec<u8>, CommandError> {
    output_allowing(cmd, &[]).map(|(out, _)| out)
}

/// Runs `cmd` to completion; exit status 0 and the codes in `also_ok` are
/// success (e.g. `pkg_admin audit` exits 1 when it found vulnerabilities).
/// Returns stdout and the exit code.
pub fn output_allowing(cmd: &mut Command, also_ok: &[i32]) -> Result<(Vec<u8>, i32), CommandError> {
    let mut running = Running::start(cmd.stdin(Stdio::null()).stdout(Stdio::piped()))?;
    let mut out = Vec::new();
    let read = running.child.stdout.take().expect("stdout was piped").read_to_end(&mut out);
    let line = running.line.clone();
    let code = match running.wait() {
        Ok(()) => 0,
        Err(e) => match e.status.and_then(|s| s.code()) {
            Some(code) if also_ok.contains(&code) => code,
            _ => return Err(e),
        },
    };
    read.map_err(|e| CommandError { command_line: line, status: None, stderr: String::new(), io: Some(e) })?;
    Ok((out, code))
}

/// Runs `cmd`, passing each line of its stdout and stderr to `line` as it
/// comes (for logging), and keeping the end of stderr for the error.
pub fn run_logged(cmd: &mut Command, mut line: impl FnMut(&str)) -> Result<(), CommandError> {
    let mut running = Running::spawn(cmd.stdin(Stdio::null()).stdout(Stdio::piped()))?;
    let stdout = running.child.stdout.take().expect("stdout was piped");
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

fn send_lines(from: impl Read, is_err: bool, to: std::sync::mpsc::Sender<(bool, String)>) {
    use std::io::BufRead;
    for l in std::io::BufReader::new(from).split(b'\n').map_while(Result::ok) {
        if to.send((is_err, String::from_utf8_lossy(&l).into_owned())).is_err() {
            break;
        }
    }
}

/// A started command whose stdout and/or stdin the caller streams, while a
/// thread collects its stderr.
///
/// Every command runs in its own process group, registered while it runs,
/// so [`cancel_all`] can stop it and everything it started (an interrupted
/// build must not leave a `tar` writing into a dataset it is destroying).
pub struct Running {
    pub child: Child,
    line: String,
    stderr: Option<JoinHandle<String>>,
    /// Set by [`run_logged`], which reads stderr itself.
    stderr_tail: Option<String>,
}

impl Running {
    /// Starts `cmd` with stderr collected on a thread; set stdin/stdout on
    /// `cmd` first.
    pub fn start(cmd: &mut Command) -> Result<Running, CommandError> {
        let mut running = Running::spawn(cmd)?;
        let mut err = running.child.stderr.take().expect("stderr was piped");
        running.stderr = Some(std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = err.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        }));
        Ok(running)
    }

    /// Starts `cmd` with stderr piped, left for the caller to read.
    fn spawn(cmd: &mut Command) -> Result<Running, CommandError> {
        let line = command_line(cmd);
        let failed =
            |io| CommandError { command_line: line.clone(), status: None, stderr: String::new(), io: Some(io) };
        if is_cancelled() {
            return Err(failed(std::io::Error::new(std::io::ErrorKind::Interrupted, "interrupted")));
        }
        // The caller may block signals to handle them on a thread (as
        // `buildy build` does); a command must start with none blocked.
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                let mut none: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut none);
                libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
                Ok(())
            });
        }
        let child = cmd.stderr(Stdio::piped()).process_group(0).spawn().map_err(failed)?;
        register(child.id());
        if is_cancelled() {
            // cancel_all ran between the check above and register().
            kill_group(child.id());
        }
        Ok(Running { child, line, stderr: None, stderr_tail: None })
    }

    /// Waits for the command; an unsuccessful exit is an error.
    pub fn wait(mut self) -> Result<(), CommandError> {
        drop(self.child.stdin.take());
        let status = self.child.wait();
        unregister(self.child.id());
        let collected = self.stderr.take().map(|h| h.join().unwrap_or_default());
        let stderr = collected.or(self.stderr_tail.take()).unwrap_or_default();
        match status {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(CommandError { command_line: self.line.clone(), status: Some(s), stderr, io: None }),
            Err(e) => Err(CommandError { command_line: self.line.clone(), status: None, stderr, io: Some(e) }),
        }
    }

    /// Stops the command and its process group (a failure elsewhere in a
    /// pipe) and reaps it.
    pub fn kill(mut self) {
        kill_group(self.child.id());
        let _ = self.child.wait();
        unregister(self.child.id());
        if let Some(h) = self.stderr.take() {
            let _ = h.join();
        }
    }
}

// ---- cancellation: SIGINT/SIGTERM stop every running command ----

static CANCELLED: AtomicBool = AtomicBool::new(false);
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());

fn register(pid: u32) {
    RUNNING.lock().unwrap_or_else(|e| e.into_inner()).push(pid);
}

fn unregister(pid: u32) {
    RUNNING.lock().unwrap_or_else(|e| e.into_inner()).retain(|&p| p != pid);
}

fn kill_group(pid: u32) {
    // SAFETY: kill(2) with a negative pid signals that process group; each
    // command leads its own group (process_group(0)).
    unsafe {
        libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
    }
}

/// Stops every command running now (each with its process group), and makes
/// new ones fail to start until [`resume`]. For signal handlers' threads.
pub fn cancel_all() {
    CANCELLED.store(true, Ordering::SeqCst);
    for &pid in RUNNING.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        kill_group(pid);
    }
}

/// Whether [`cancel_all`] was called.
pub fn is_cancelled() -> bool {
    CANCELLED.load(Ordering::SeqCst)
}

/// Lets commands run again: the undo after an interruption needs `zfs` and
/// `umount`.
pub fn resume() {
    CANCELLED.store(false, Ordering::SeqCst);
}

/// A running command's stdout as a reader. At end of output it waits for
/// the command, and an unsuccessful exit becomes a read error, so a
/// producer that died mid-stream can never pass for a short stream.
/// Dropped before the end, it kills the command.
pub struct ChildReader {
    running: Option<Running>,
    stdout: std::process::ChildStdout,
}

impl ChildReader {
    /// Wraps a command started with `Stdio::piped()` stdout.
    pub fn new(mut running: Running) -> ChildReader {
        let stdout = running.child.stdout.take().expect("stdout was piped");
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

impl Drop for ChildReader {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.kill();
        }
    }
}

/// `OsString` arguments from anything string-like.
pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(items: I) -> Vec<OsString> {
    items.into_iter().map(Into::into).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_name_the_command_status_and_stderr() {
        let err = output(Command::new("sh").args(["-c", "echo oops >&2; exit 3", "arg with space"])).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("`sh -c 'echo oops >&2; exit 3' 'arg with space'` failed"), "{text}");
        assert!(text.contains("exit status: 3") && text.ends_with(": oops"), "{text}");
        let err = output(&mut Command::new("/nonexistent/zfs")).unwrap_err();
        assert!(err.to_string().contains("could not be run"), "{err}");
    }

    #[test]
    fn a_chatty_stderr_cannot_deadlock_a_streamed_stdout() {
        // 1 MiB on stderr before any stdout: a reader of stdout alone would hang.
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "head -c 1048576 /dev/zero >&2; echo done"]).stdout(Stdio::piped());
        let mut running = Running::start(&mut cmd).unwrap();
        let mut out = String::new();
        running.child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        running.wait().unwrap();
        assert_eq!(out, "done\n");
    }

    #[test]
    fn a_producer_that_dies_mid_stream_is_a_read_error() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo partial; kill -9 $$"]).stdout(Stdio::piped());
        let mut reader = ChildReader::new(Running::start(&mut cmd).unwrap());
        let mut out = String::new();
        let err = reader.read_to_string(&mut out).unwrap_err();
        assert_eq!(out, "partial\n");
        assert!(err.to_string().contains("signal: 9"), "{err}");

        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo whole"]).stdout(Stdio::piped());
        let mut reader = ChildReader::new(Running::start(&mut cmd).unwrap());
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
        let out = output(Command::new("grep").args(["SigBlk", "/proc/self/status"]));
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
        assert_eq!(String::from_utf8(out.unwrap()).unwrap(), "SigBlk:\t0000000000000000\n");
    }
}
