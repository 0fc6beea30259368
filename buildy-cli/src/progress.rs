//! Progress on a terminal's stderr (nothing when stderr is not a terminal).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imgcreate::pack::Progress;

/// A one-line byte counter on a terminal's stderr (nothing otherwise).
pub struct ProgressPrinter {
    shown: bool,
    enabled: bool,
}

impl ProgressPrinter {
    pub fn show(&mut self, p: Progress) {
        if self.enabled {
            let mut err = std::io::stderr().lock();
            let line = format!("\r  {:>8.1} MB in  {:>8.1} MB out", p.bytes_in as f64 / 1e6, p.bytes_out as f64 / 1e6);
            let _ = err.write_all(line.as_bytes()).and_then(|()| err.flush());
            self.shown = true;
        }
    }
    pub fn finish(&mut self) {
        if self.shown {
            crate::output::warn("");
            self.shown = false;
        }
    }
}

pub fn progress_printer(wanted: bool) -> ProgressPrinter {
    ProgressPrinter { shown: false, enabled: wanted && std::io::stderr().is_terminal() }
}

/// Download progress: each image's share and the total rate, at most ten
/// times a second.
pub struct DownloadProgress {
    shown: Mutex<Shown>,
    enabled: bool,
}

struct Shown {
    images: BTreeMap<String, (u64, u64)>,
    started: Instant,
    last: Instant,
}

impl DownloadProgress {
    pub fn new(wanted: bool) -> Arc<DownloadProgress> {
        let now = Instant::now();
        let enabled = wanted && std::io::stderr().is_terminal();
        let shown = Shown { images: BTreeMap::new(), started: now, last: now };
        Arc::new(DownloadProgress { shown: Mutex::new(shown), enabled })
    }

    pub fn update(&self, uuid: &str, done: u64, total: u64) {
        if !self.enabled {
            return;
        }
        let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        shown.images.insert(uuid.to_string(), (done, total));
        if shown.last.elapsed() < Duration::from_millis(100) && done < total {
            return;
        }
        shown.last = Instant::now();
        let bytes: u64 = shown.images.values().map(|(d, _)| d).sum();
        let rate = bytes as f64 / shown.started.elapsed().as_secs_f64().max(0.001) / 1e6;
        let images: Vec<String> = shown
            .images
            .iter()
            .map(|(u, (d, t))| format!("{} {:.1}/{:.1} MB", &u[..8], *d as f64 / 1e6, *t as f64 / 1e6))
            .collect();
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r  {}  {rate:.1} MB/s\x1b[K", images.join("  ")).and_then(|()| err.flush());
    }

    pub fn finish(&self) {
        if self.enabled && !self.shown.lock().unwrap_or_else(|e| e.into_inner()).images.is_empty() {
            crate::output::warn("");
        }
    }
}
