//! Packs any file without the stream check, to compare codecs and
//! backends on real data: `pack_raw gzip LEVEL THREADS IN OUT`.
use imgcreate::pack::{pack, PackOptions};
use imgmanifest::Compression;
use std::time::Instant;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let opts = PackOptions {
        level: Some(a[2].parse().unwrap()),
        threads: Some(a[3].parse().unwrap()),
        check_stream: false,
        ..PackOptions::new(Compression::from(a[1].as_str()))
    };
    let t = Instant::now();
    let p = pack(std::fs::File::open(&a[4]).unwrap(), a[5].as_ref(), &opts, |_| {}).unwrap();
    let s = t.elapsed().as_secs_f64();
    println!(
        "{} {} MB in {s:.2}s = {:.1} MB/s, out {} bytes",
        a[1],
        p.stream_bytes / 1_000_000,
        p.stream_bytes as f64 / 1e6 / s,
        p.size
    );
}
