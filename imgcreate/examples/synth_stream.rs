//! Writes a valid synthetic send stream of about N MB to stdout, for
//! profiling the packager without ZFS: `synth_stream 500 > s.zfs`.
#[path = "../tests/integration/util.rs"]
mod util;

use std::io::Write;

fn main() {
    let mb: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let stream = util::synthetic_stream(mb << 20, 0xabc, 0, true);
    std::io::stdout().write_all(&stream).unwrap();
}
