//! Running external commands: arguments as a vector (never a shell string),
//! stderr drained on its own thread so no pipe can fill and deadlock, exit
//! status always checked, and failures that carry the command line, the
//! status and stderr.

use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
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
    let line = command_line(cmd);
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| CommandError {
        command_line: line.clone(),
        status: None,
        stderr: String::new(),
        io: Some(e),
    })?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(CommandError {
            command_line: line,
            status: Some(out.status),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            io: None,
        })
    }
}

/// A started command whose stdout and/or stdin the caller streams, while a
/// thread collects its stderr.
pub struct Running {
    pub child: Child,
    line: String,
    stderr: Option<JoinHandle<String>>,
}

impl Running {
    /// Starts `cmd` with stderr captured; set stdin/stdout on `cmd` first.
    pub fn start(cmd: &mut Command) -> Result<Running, CommandError> {
        let line = command_line(cmd);
        let mut child = cmd.stderr(Stdio::piped()).spawn().map_err(|e| CommandError {
            command_line: line.clone(),
            status: None,
            stderr: String::new(),
            io: Some(e),
        })?;
        let mut err = child.stderr.take().expect("stderr was piped");
        let stderr = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = err.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        });
        Ok(Running { child, line, stderr: Some(stderr) })
    }

    /// Waits for the command; an unsuccessful exit is an error.
    pub fn wait(mut self) -> Result<(), CommandError> {
        drop(self.child.stdin.take());
        let status = self.child.wait();
        let stderr = self.stderr.take().map(|h| h.join().unwrap_or_default()).unwrap_or_default();
        match status {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(CommandError { command_line: self.line.clone(), status: Some(s), stderr, io: None }),
            Err(e) => Err(CommandError { command_line: self.line.clone(), status: None, stderr, io: Some(e) }),
        }
    }

    /// Stops the command (a failure elsewhere in a pipe) and reaps it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
}
