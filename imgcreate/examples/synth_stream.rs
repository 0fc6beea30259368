//! Writes a valid synthetic send stream of about N MB to stdout, for
//! profiling the packager without ZFS: `synth_stream 500 > s.zfs`; with a
//! second number R, its payload has runs of R 128 KiB blocks of random data
//! (as compressed files are), which the packager stores.
#[path = "../tests/integration/util.rs"]
mod util;

use std::io::Write;

fn main() {
    let arg = |n: usize| std::env::args().nth(n).and_then(|a| a.parse::<usize>().ok());
    let mb = arg(1).unwrap_or(100);
    let stream = match arg(2) {
        Some(run) => util::synthetic_stream_with_random_runs(mb << 20, 0xabc, run),
        None => util::synthetic_stream(mb << 20, 0xabc, 0, true),
    };
    std::io::stdout().write_all(&stream).unwrap();
}
