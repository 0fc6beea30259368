//! Packaging: a `zfs send` stream becomes an image file.
//!
//! ```text
//! input ──read──▶ stream check ──chunks──▶ workers (compress) ──▶ writer (in order: write, sha1, size)
//!   (this thread)                          (N threads; none: no workers)
//! ```
//!
//! At most a fixed number of chunks is in flight, so memory does not grow
//! with the input. The file is written under a temporary name beside the
//! output and renamed into place only when it is complete; on any failure
//! it is removed. `size` and `sha1` are of the bytes written to disk.

mod bzip2_encoder;
pub mod codec;
mod entropy;
mod xz_stored;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;

use imgmanifest::Compression;
use serde::Serialize;
use sha1::{Digest, Sha1};

use crate::atomic::TempFile;
use crate::stream::{StreamError, StreamInfo, StreamReader};

/// How to package.
#[derive(Debug, Clone)]
pub struct PackOptions {
    pub compression: Compression,
    /// Compression level; `None` is the tool's default (gzip 6, bzip2 9, xz 6).
    pub level: Option<u32>,
    /// Threads to compress on; `None` is every core.
    pub threads: Option<usize>,
    /// Check that the input is one complete, valid send stream (and fail if
    /// not). On by default; off only to package bytes that are not a stream.
    pub check_stream: bool,
    /// Make the file durable (fsync) before it is renamed into place. Off
    /// by default, as in imgadm, gzip and xz: without it a power loss can
    /// tear the file, which the manifest's size and sha1 then reveal.
    pub sync: bool,
}

impl PackOptions {
    pub fn new(compression: Compression) -> Self {
        PackOptions { compression, level: None, threads: None, check_stream: true, sync: false }
    }
}

/// Bytes read from the input and written to the file so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// A finished image file: what goes into the manifest's `files[0]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackedFile {
    pub path: PathBuf,
    pub size: u64,
    pub sha1: String,
    pub compression: Compression,
    /// What the stream reader learned (absent when checking was off).
    pub stream: Option<StreamInfo>,
    /// Bytes of the uncompressed stream.
    pub stream_bytes: u64,
}

impl PackedFile {
    /// `files[0].dataset_guid`: the stream's `toguid` as a decimal string.
    pub fn dataset_guid(&self) -> Option<String> {
        self.stream.as_ref().map(|s| s.toguid.to_string())
    }
}

/// Why packaging failed. Nothing is left at the output path.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("reading the input failed: {0}")]
    Input(#[source] io::Error),
    #[error("the input is not a valid image stream: {0}")]
    Stream(#[from] StreamError),
    #[error("writing {path} failed: {source}")]
    Output {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("compressing failed: {0}")]
    Compress(#[source] io::Error),
    #[error("unsupported compression \"{0}\" (use none, gzip, bzip2 or xz)")]
    UnknownCompression(String),
    #[error("compression level {level} is out of range for {compression} (1 to {max})")]
    BadLevel { compression: Compression, level: u32, max: u32 },
}

/// Chunks in flight per compressing thread (queued, being compressed,
/// waiting to be written): bounds memory. xz's chunks are large (24 MiB at
/// level 6), so it reads ahead less.
fn in_flight(threads: usize, chunk: usize) -> usize {
    if chunk > 4 << 20 {
        2 * threads
    } else {
        3 * threads + 1
    }
}

/// Packages `input` into `output`. `progress` is called on this thread after
/// each chunk.
pub fn pack(
    input: impl Read,
    output: &Path,
    opts: &PackOptions,
    progress: impl FnMut(Progress),
) -> Result<PackedFile, PackError> {
    // Bad options fail before the output exists.
    plan(opts)?;
    // On any error `temp` is dropped, which removes it.
    let temp = TempFile::create(output).map_err(|e| output_error(output, e))?;
    let packed = pack_into(input, &temp, opts, progress)?;
    temp.persist().map_err(|e| output_error(output, e))?;
    Ok(packed)
}

/// Packages `input` into `temp`, left for the caller to rename into place
/// (with the other files of an image). The result's path is the target.
pub fn pack_into(
    input: impl Read,
    temp: &TempFile,
    opts: &PackOptions,
    mut progress: impl FnMut(Progress),
) -> Result<PackedFile, PackError> {
    let plan = plan(opts)?;
    let (size, sha1, stream, stream_bytes) = run_pipeline(input, temp, &plan, &mut progress)?;
    let path = temp.target().to_path_buf();
    Ok(PackedFile { path, size, sha1, compression: plan.compression, stream, stream_bytes })
}

/// The options with their defaults filled in, checked.
fn plan(opts: &PackOptions) -> Result<Plan, PackError> {
    let compression = opts.compression.clone();
    if let Compression::Unknown(name) = &compression {
        return Err(PackError::UnknownCompression(name.clone()));
    }
    let level = opts.level.unwrap_or_else(|| codec::default_level(&compression));
    let max = codec::max_level(&compression);
    if compression != Compression::None && !(1..=max).contains(&level) {
        return Err(PackError::BadLevel { compression, level, max });
    }
    let threads = opts.threads.unwrap_or_else(|| thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    Ok(Plan { compression, level, threads, check_stream: opts.check_stream, sync: opts.sync })
}

/// [`PackOptions`] with the defaults filled in and checked.
#[derive(Debug, Clone)]
struct Plan {
    compression: Compression,
    level: u32,
    threads: usize,
    check_stream: bool,
    sync: bool,
}

type Outcome = (u64, String, Option<StreamInfo>, u64);

fn run_pipeline(
    mut input: impl Read,
    temp: &TempFile,
    plan: &Plan,
    progress: &mut impl FnMut(Progress),
) -> Result<Outcome, PackError> {
    let (compression, threads) = (&plan.compression, plan.threads);
    let file = temp.file.try_clone().map_err(|e| output_error(temp.target(), e))?;
    let bytes_out = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let chunk = codec::chunk_size(compression, plan.level);
    // Worker threads compress; uncompressed chunks go to the writer as they are.
    let workers = if *compression == Compression::None { 0 } else { threads };
    let slots = in_flight(threads.max(1), chunk);

    // Tokens bound the chunks in flight: taken before reading, given back
    // by the hasher once a chunk is written and hashed.
    let (token_tx, token_rx) = sync_channel::<()>(slots);
    for _ in 0..slots {
        token_tx.send(()).expect("fresh channel has room");
    }
    let (work_tx, work_rx) = sync_channel::<(u64, Vec<u8>)>(slots);
    let (done_tx, done_rx) = sync_channel::<(u64, io::Result<Vec<u8>>)>(slots);
    let work_rx = Arc::new(Mutex::new(work_rx));
    // Input buffers come back once compressed (or hashed, without
    // compression) and are read into again: no fresh pages to fault in
    // for every chunk. There are never more than `slots` of them.
    let (pool_tx, pool_rx) = sync_channel::<Vec<u8>>(slots);

    thread::scope(|scope| {
        let mut worker_handles = Vec::new();
        for _ in 0..workers {
            let (work_rx, done_tx, pool_tx, compression, level) =
                (Arc::clone(&work_rx), done_tx.clone(), pool_tx.clone(), compression.clone(), plan.level);
            worker_handles.push(scope.spawn(move || loop {
                let next = work_rx.lock().expect("no worker panics holding it").recv();
                let Ok((seq, data)) = next else { break };
                let out = codec::compress_chunk(&compression, level, &data);
                let _ = pool_tx.try_send(data);
                if done_tx.send((seq, out)).is_err() {
                    break;
                }
            }));
        }
        // Only workers hold the work queue's receiver, so if they all stop
        // (the writer failed), sending fails instead of blocking forever.
        drop(work_rx);
        // Without workers the reader hands chunks straight to the writer.
        let direct_tx = if workers == 0 { Some(done_tx.clone()) } else { None };
        drop(done_tx);

        let writer_out = Arc::clone(&bytes_out);
        // Without compression the chunks themselves are written, and the
        // hasher gives them back.
        let hashed_back = (workers == 0).then(|| pool_tx.clone());
        drop(pool_tx);
        let writer = scope.spawn(move || write_in_order(file, done_rx, token_tx, hashed_back, writer_out, plan));

        // This thread: read, check, dispatch.
        let mut reader = plan.check_stream.then(StreamReader::new);
        let mut bytes_in = 0u64;
        let mut seq = 0u64;
        let read_result: Result<(), PackError> = loop {
            if token_rx.recv().is_err() {
                break Ok(()); // the writer stopped: its error is reported below
            }
            // `take` + `read_to_end` fills the chunk without zeroing it first.
            let mut buf = pool_rx.try_recv().unwrap_or_else(|_| Vec::with_capacity(chunk));
            buf.clear();
            let n = match input.by_ref().take(chunk as u64).read_to_end(&mut buf) {
                Ok(n) => n,
                Err(e) => break Err(PackError::Input(e)),
            };
            if n == 0 {
                break Ok(());
            }
            if let Some(r) = reader.as_mut() {
                if let Err(e) = r.update(&buf) {
                    break Err(PackError::Stream(e));
                }
            }
            bytes_in += n as u64;
            let sent = match &direct_tx {
                Some(tx) => tx.send((seq, Ok(buf))).is_ok(),
                None => work_tx.send((seq, buf)).is_ok(),
            };
            if !sent {
                break Ok(());
            }
            seq += 1;
            progress(Progress { bytes_in, bytes_out: bytes_out.load(std::sync::atomic::Ordering::Relaxed) });
        };
        drop(work_tx);
        drop(direct_tx);
        drop(token_rx);
        for h in worker_handles {
            h.join().expect("compression workers do not panic");
        }
        let written = writer.join().expect("the writer does not panic");
        read_result?;
        let stream = match reader {
            Some(r) => Some(r.finish()?),
            None => None,
        };
        let (size, sha1) = written.map_err(|e| match e {
            WriteError::Compress(e) => PackError::Compress(e),
            WriteError::Io(e) => output_error(temp.target(), e),
        })?;
        progress(Progress { bytes_in, bytes_out: size });
        Ok((size, sha1, stream, bytes_in))
    })
}

/// A SHA-1 digest as IMGAPI writes it: 40 lower-case hex digits.
pub(crate) fn sha1_hex(sha1: Sha1) -> String {
    sha1.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

enum WriteError {
    Compress(io::Error),
    Io(io::Error),
}

/// The writer thread: puts chunks on disk in sequence order.
fn write_in_order(
    file: File,
    done_rx: Receiver<(u64, io::Result<Vec<u8>>)>,
    token_tx: SyncSender<()>,
    hashed_back: Option<SyncSender<Vec<u8>>>,
    shared_size: Arc<std::sync::atomic::AtomicU64>,
    plan: &Plan,
) -> Result<(u64, String), WriteError> {
    // SHA-1 runs on its own thread, over the same bytes in the same order,
    // so hashing overlaps with the write copy into the kernel. A chunk's
    // token goes back to the reader once it is hashed, so the chunks alive
    // anywhere (read, compressed, waiting, hashed) are at most the tokens,
    // whatever the threads' timing: peak memory does not drift.
    let (hash_tx, hash_rx) = sync_channel::<Vec<u8>>(4);
    let hasher = thread::spawn(move || {
        let mut sha1 = Sha1::new();
        for bytes in hash_rx {
            sha1.update(&bytes);
            if let Some(pool) = &hashed_back {
                let _ = pool.try_send(bytes);
            } else {
                drop(bytes);
            }
            let _ = token_tx.send(());
        }
        sha1_hex(sha1)
    });
    let mut out = FileOut {
        writer: BufWriter::with_capacity(1 << 20, file),
        hash_tx,
        size: 0,
        shared_size,
        sync: plan.sync,
        writeback_from: 0,
    };
    // Chunks in sequence order, each given to `sink`.
    let drain = |sink: &mut dyn FnMut(Vec<u8>) -> Result<(), WriteError>| -> Result<(), WriteError> {
        let mut next = 0u64;
        let mut waiting: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        for (seq, data) in done_rx {
            waiting.insert(seq, data.map_err(WriteError::Compress)?);
            while let Some(data) = waiting.remove(&next) {
                sink(data)?;
                next += 1;
            }
        }
        Ok(())
    };
    let fed = drain(&mut |data| out.write_chunk(data).map_err(WriteError::Io));
    let result = fed.and_then(|()| out.finish().map_err(WriteError::Io));
    let size = out.size;
    drop(out);
    // The hash channel closed with `out`: the hasher has every byte.
    let sha1 = hasher.join().expect("the hasher does not panic");
    result.map(|()| (size, sha1))
}

/// The file being written: bytes go to disk and, in the same order, to the
/// hashing thread.
struct FileOut {
    writer: BufWriter<File>,
    hash_tx: SyncSender<Vec<u8>>,
    size: u64,
    shared_size: Arc<std::sync::atomic::AtomicU64>,
    /// fsync at the end (and write behind on the way).
    sync: bool,
    /// Bytes already handed to early writeback.
    writeback_from: u64,
}

/// How much written data to let pile up before starting its writeback.
const WRITEBACK_STEP: u64 = 32 << 20;

impl FileOut {
    /// A whole chunk: written, then moved to the hasher without a copy.
    fn write_chunk(&mut self, chunk: Vec<u8>) -> io::Result<()> {
        self.writer.write_all(&chunk)?;
        self.counted(chunk.len());
        let _ = self.hash_tx.send(chunk);
        Ok(())
    }

    fn counted(&mut self, n: usize) {
        self.size += n as u64;
        self.shared_size.store(self.size, std::sync::atomic::Ordering::Relaxed);
        self.start_writeback();
    }

    /// Starts writing what the kernel holds so far to disk, without waiting,
    /// so the final fsync has less left to do.
    fn start_writeback(&mut self) {
        let in_kernel = self.size - self.writer.buffer().len() as u64;
        if !self.sync || in_kernel < self.writeback_from + WRITEBACK_STEP {
            return;
        }
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            // Write-behind: start writeback of the new range, and wait for
            // everything before it, so little is left dirty when the file
            // is complete.
            let fd = self.writer.get_ref().as_raw_fd();
            // SAFETY: plain syscalls on an open descriptor; failure is harmless
            // (the final fsync still makes the file durable).
            unsafe {
                libc::sync_file_range(
                    fd,
                    self.writeback_from as libc::off64_t,
                    (in_kernel - self.writeback_from) as libc::off64_t,
                    libc::SYNC_FILE_RANGE_WRITE,
                );
                if self.writeback_from > 0 {
                    libc::sync_file_range(
                        fd,
                        0,
                        self.writeback_from as libc::off64_t,
                        libc::SYNC_FILE_RANGE_WAIT_BEFORE
                            | libc::SYNC_FILE_RANGE_WRITE
                            | libc::SYNC_FILE_RANGE_WAIT_AFTER,
                    );
                }
            }
        }
        self.writeback_from = in_kernel;
    }

    /// Flushes and, if asked, makes the file durable.
    fn finish(&mut self) -> io::Result<()> {
        self.writer.flush()?;
        if self.sync {
            self.writer.get_ref().sync_all()?;
        }
        Ok(())
    }
}

fn output_error(output: &Path, source: io::Error) -> PackError {
    PackError::Output { path: output.to_path_buf(), source }
}
