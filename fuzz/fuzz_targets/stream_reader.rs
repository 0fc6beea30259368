//! Untrusted bytes as a send stream, fed whole and in pieces: no panic, no
//! unbounded allocation, and the same verdict both ways.
#![no_main]

use imgcreate::stream::StreamReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut whole = StreamReader::new();
    let a = whole.update(data).and_then(|_| whole.finish());
    let mut pieces = StreamReader::new();
    let cut = data.first().map_or(1, |b| usize::from(*b).max(1));
    let b = data.chunks(cut).try_for_each(|c| pieces.update(c)).and_then(|_| pieces.finish());
    assert_eq!(a, b);
});
