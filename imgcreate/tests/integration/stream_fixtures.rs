//! The stream reader against real streams (OpenZFS 2.1 and zfs-fuse) and
//! their `zstream dump -v` output in `fixtures/streams`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::util;
use imgcreate::stream::{StreamError, StreamReader};

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/streams")
}

const STREAMS: &[&str] = &["fuse_full", "fuse_incr", "m_full", "m_full_c", "m_incr", "m_incr_e"];

fn read_stream(name: &str) -> Vec<u8> {
    std::fs::read(fixtures_dir().join(format!("{name}.zstream"))).unwrap()
}

/// The facts `zstream dump` prints: BEGIN fields (hex as printed) and the
/// summary counts.
struct Dump {
    begin: BTreeMap<String, String>,
    counts: BTreeMap<String, (u64, u64)>,
    total_records: u64,
    payload: u64,
    length: u64,
}

fn read_dump(name: &str) -> Dump {
    let text = std::fs::read_to_string(fixtures_dir().join(format!("dumps/{name}.dump.txt"))).unwrap();
    let mut begin = BTreeMap::new();
    let mut counts = BTreeMap::new();
    let (mut total_records, mut payload, mut length) = (0, 0, 0);
    let mut in_begin = false;
    for line in text.lines() {
        if line == "BEGIN record" {
            in_begin = true;
            continue;
        }
        if in_begin {
            match line.trim().split_once(" = ") {
                Some((k, v)) if line.starts_with('\t') => {
                    begin.insert(k.to_string(), v.to_string());
                }
                _ => in_begin = false,
            }
        }
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("Total DRR_") {
            // "WRITE records = 12 (658944 bytes)"
            let (kind, rest) = rest.split_once(" records = ").unwrap();
            let (n, bytes) = rest.split_once(" (").unwrap();
            let bytes = bytes.trim_end_matches(" bytes)");
            counts.insert(kind.to_string(), (n.parse().unwrap(), bytes.parse().unwrap()));
        } else if let Some(n) = t.strip_prefix("Total records = ") {
            total_records = n.parse().unwrap();
        } else if let Some(n) = t.strip_prefix("Total payload size = ") {
            payload = n.split_whitespace().next().unwrap().parse().unwrap();
        } else if let Some(n) = t.strip_prefix("Total stream length = ") {
            length = n.split_whitespace().next().unwrap().parse().unwrap();
        }
    }
    Dump { begin, counts, total_records, payload, length }
}

fn parse(bytes: &[u8]) -> Result<imgcreate::stream::StreamInfo, StreamError> {
    let mut r = StreamReader::new();
    r.update(bytes)?;
    r.finish()
}

#[test]
fn every_fixture_stream_matches_its_dump() {
    for name in STREAMS {
        let info = parse(&read_stream(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let dump = read_dump(name);
        let hex = |k: &str| u64::from_str_radix(dump.begin[k].trim_start_matches("0x"), 16).unwrap();
        assert_eq!(u64::from(info.header_type), dump.begin["hdrtype"].parse::<u64>().unwrap(), "{name}");
        assert_eq!(info.features, hex("features"), "{name}");
        assert_eq!(info.creation_time, hex("creation_time"), "{name}");
        assert_eq!(u64::from(info.objset_type), dump.begin["type"].parse::<u64>().unwrap(), "{name}");
        assert_eq!(u64::from(info.begin_flags), hex("flags"), "{name}");
        assert_eq!(info.toguid, hex("toguid"), "{name}");
        assert_eq!(info.fromguid, hex("fromguid"), "{name}");
        assert_eq!(info.toname, dump.begin["toname"], "{name}");
        for (kind, (n, bytes)) in &dump.counts {
            let ours = info.records.get(kind.as_str()).copied().unwrap_or_default();
            assert_eq!((ours.records, ours.payload_bytes), (*n, *bytes), "{name} {kind}");
        }
        assert_eq!(info.total_records, dump.total_records, "{name}");
        assert_eq!(info.payload_bytes, dump.payload, "{name}");
        assert_eq!(info.stream_bytes, dump.length, "{name}");
        assert!(info.end_checksum_ok, "{name}");
        // OpenZFS 2.1 fills per-record checksums; zfs-fuse does not.
        assert_eq!(info.record_checksums_checked > 0, name.starts_with("m_"), "{name}");
        assert_eq!(info.is_incremental(), name.contains("incr"), "{name}");
    }
}

#[test]
fn feeding_in_any_piece_size_gives_the_same_answer() {
    let bytes = read_stream("m_incr_e");
    let whole = parse(&bytes).unwrap();
    for piece in [1, 3, 7, 311, 312, 313, 4096, 65536] {
        let mut r = StreamReader::new();
        for chunk in bytes.chunks(piece) {
            r.update(chunk).unwrap();
        }
        assert_eq!(r.finish().unwrap(), whole, "pieces of {piece}");
    }
}

#[test]
fn every_one_byte_corruption_is_detected() {
    // One zfs-fuse stream (END checksum only) and one OpenZFS stream (per
    // record checksums). Each flip restarts from a snapshot of the reader
    // taken at the start of the record holding it, so the prefix is not
    // re-read 145,000 times.
    for name in ["fuse_incr", "m_incr_e"] {
        let original = read_stream(name);
        let mut snapshots = vec![(0usize, StreamReader::new())];
        let mut r = StreamReader::new();
        for (i, byte) in original.iter().enumerate() {
            r.update(std::slice::from_ref(byte)).unwrap();
            let at = r.offset() as usize;
            if at == i + 1 && at.is_multiple_of(8) && snapshots.last().unwrap().0 + 4096 <= at {
                snapshots.push((at, r.clone()));
            }
        }
        let mut copy = original.clone();
        for i in 0..original.len() {
            copy[i] ^= 0x5a;
            let (start, snapshot) = snapshots.iter().rev().find(|(at, _)| *at <= i).unwrap();
            let mut r = snapshot.clone();
            let result = r.update(&copy[*start..]).and_then(|_| r.finish());
            assert!(result.is_err(), "{name}: flipping byte {i} went unnoticed");
            copy[i] = original[i];
        }
    }
}

#[test]
fn truncation_trailing_data_and_garbage_are_named() {
    let bytes = read_stream("fuse_incr");
    // Cut inside a payload, inside a header, and just before END.
    assert_eq!(parse(&bytes[..1000]), Err(StreamError::TruncatedRecord { offset: 936 }));
    assert!(matches!(parse(&bytes[..bytes.len() / 2]), Err(StreamError::TruncatedPayload { .. })));
    assert!(matches!(parse(&bytes[..100]), Err(StreamError::TruncatedRecord { offset: 0 })));
    let without_end = &bytes[..bytes.len() - 312];
    assert_eq!(parse(without_end), Err(StreamError::MissingEnd { offset: without_end.len() as u64 }));
    let mut extra = bytes.clone();
    extra.extend_from_slice(b"junk");
    assert_eq!(parse(&extra), Err(StreamError::TrailingData { offset: bytes.len() as u64 }));
    assert!(matches!(parse(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0].repeat(40)), Err(StreamError::NoBegin { .. })));
    assert_eq!(parse(&[]), Err(StreamError::Empty));
}

#[test]
fn compound_streams_are_refused() {
    let mut bytes = read_stream("fuse_full");
    // versioninfo header type 2 (DMU_COMPOUNDSTREAM).
    bytes[16] = (bytes[16] & !3) | 2;
    assert_eq!(parse(&bytes), Err(StreamError::Compound { offset: 0 }));
}

#[test]
fn big_endian_streams_are_read_and_checked() {
    use imgcreate::stream::ByteOrder;
    for sums in [false, true] {
        let stream = util::synthetic_stream_in_order(500_000, 0x0102_0304_0506_0708, 99, sums, true);
        let info = parse(&stream).unwrap();
        assert_eq!(info.byte_order, ByteOrder::BigEndian);
        assert_eq!((info.toguid, info.fromguid), (0x0102_0304_0506_0708, 99));
        assert_eq!(info.toname, "test/ds@img");
        assert!(info.end_checksum_ok);
        assert_eq!(info.record_checksums_checked > 0, sums);
        let mut flipped = stream.clone();
        flipped[200_000] ^= 0x10;
        assert!(parse(&flipped).is_err());
    }
}
