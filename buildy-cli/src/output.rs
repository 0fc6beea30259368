//! Writing to stdout and stderr without panicking (`println!` panics when
//! the reader went away): a closed pipe is a graceful stop, as in ripgrep.
//! For a build, whose log is its output, a closed log cancels the build so
//! that it stops and undoes what it made (exit 1); after the work is done,
//! a result nobody reads is simply not written.

use std::fmt::Display;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use imgcreate::host::exec::Exec;

/// Writes one line to stdout, ignoring a reader that went away.
pub fn say(text: impl Display) {
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// Writes one line to stderr, ignoring a closed stderr.
pub fn warn(text: impl Display) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// A build's log: buildimage's elapsed-seconds prefix on each line, to
/// stdout (or stderr when stdout carries `--json`). The first failed write
/// cancels the work through the executor.
pub struct Log {
    start: Instant,
    to_stderr: bool,
    exec: Exec,
    closed: AtomicBool,
}

impl Log {
    pub fn new(exec: &Exec, to_stderr: bool) -> Log {
        Log { start: Instant::now(), to_stderr, exec: exec.clone(), closed: AtomicBool::new(false) }
    }

    pub fn seconds(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// `[ssss.ssssssss] line`, e.g. `[  1.50000000] Starting build`.
    pub fn line(&self, line: &str) {
        if self.closed.load(Ordering::SeqCst) {
            return;
        }
        let text = format!("[{:>12.8}] {line}\n", self.seconds());
        let written = if self.to_stderr {
            std::io::stderr().lock().write_all(text.as_bytes())
        } else {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).and_then(|()| out.flush())
        };
        if written.is_err() && !self.closed.swap(true, Ordering::SeqCst) {
            self.exec.cancel("a closed log (broken pipe)");
        }
    }
}

/// `println!` that never panics: [`say`] of the formatted line.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::say(format!($($arg)*))
    };
}
