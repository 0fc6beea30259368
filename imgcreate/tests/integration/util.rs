//! Test support: valid send streams of any size, built record by record.

use imgcreate::stream::{Fletcher4, RECORD_SIZE};

/// A valid little-endian substream: BEGIN, WRITE records carrying
/// `payload_bytes` of mixed data (text-like, zeros, pseudo-random), END.
/// With `record_checksums`, every record carries its running checksum as
/// OpenZFS writes it; without, it is left zero as zfs-fuse does.
pub fn synthetic_stream(payload_bytes: usize, toguid: u64, fromguid: u64, record_checksums: bool) -> Vec<u8> {
    synthetic_stream_in_order(payload_bytes, toguid, fromguid, record_checksums, false)
}

/// The same, from a big-endian sender (SPARC): every integer and the
/// fletcher-4 words in big-endian order.
pub fn synthetic_stream_in_order(
    payload_bytes: usize,
    toguid: u64,
    fromguid: u64,
    record_checksums: bool,
    big_endian: bool,
) -> Vec<u8> {
    build(payload_bytes, toguid, fromguid, record_checksums, big_endian, 0)
}

/// A stream whose payload has runs of `random_run` 128 KiB blocks of
/// pseudo-random data (as a file that is already compressed) between runs
/// of text and zeros, so that the packager stores those runs.
pub fn synthetic_stream_with_random_runs(payload_bytes: usize, toguid: u64, random_run: usize) -> Vec<u8> {
    build(payload_bytes, toguid, 0, false, false, random_run)
}

fn build(
    payload_bytes: usize,
    toguid: u64,
    fromguid: u64,
    record_checksums: bool,
    big_endian: bool,
    random_run: usize,
) -> Vec<u8> {
    let u32b = |v: u32| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
    let u64b = |v: u64| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut out = Vec::with_capacity(payload_bytes + payload_bytes / 100 + 4 * RECORD_SIZE);
    let mut sum = Fletcher4::new(big_endian);
    let emit = |out: &mut Vec<u8>, sum: &mut Fletcher4, mut rec: [u8; RECORD_SIZE], payload: &[u8]| {
        sum.update(&rec[..280]);
        if record_checksums && rec[..4] != [0; 4] {
            for (i, v) in sum.value().iter().enumerate() {
                rec[280 + 8 * i..288 + 8 * i].copy_from_slice(&u64b(*v));
            }
        }
        sum.update(&rec[280..]);
        sum.update(payload);
        out.extend_from_slice(&rec);
        out.extend_from_slice(payload);
    };

    let mut begin = [0u8; RECORD_SIZE];
    begin[8..16].copy_from_slice(&u64b(0x2F5B_ACBAC));
    begin[16..24].copy_from_slice(&u64b(1));
    begin[24..32].copy_from_slice(&u64b(1_700_000_000));
    begin[32..36].copy_from_slice(&u32b(2));
    begin[40..48].copy_from_slice(&u64b(toguid));
    begin[48..56].copy_from_slice(&u64b(fromguid));
    begin[56..56 + 11].copy_from_slice(b"test/ds@img");
    emit(&mut out, &mut sum, begin, &[]);

    let mut seed = 0x1234_5678_9abc_def0u64 ^ toguid;
    let block = 128 * 1024;
    let mut written = 0;
    let mut object = 8u64;
    while written < payload_bytes {
        let len = block.min(payload_bytes - written).div_ceil(8) * 8;
        let index = written / block;
        let kind = match random_run {
            0 => index % 3,
            n if index % (2 * n) >= n => 2,
            _ => index % 2,
        };
        let payload: Vec<u8> = (0..len)
            .map(|i| match kind {
                0 => b"lorem ipsum dolor sit amet, consectetur adipiscing elit\n"[i % 56],
                1 => 0,
                _ => {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                }
            })
            .collect();
        let mut w = [0u8; RECORD_SIZE];
        w[0..4].copy_from_slice(&u32b(3));
        w[8..16].copy_from_slice(&u64b(object));
        w[16..20].copy_from_slice(&u32b(19));
        w[24..32].copy_from_slice(&u64b(0));
        w[32..40].copy_from_slice(&u64b(len as u64));
        w[40..48].copy_from_slice(&u64b(toguid));
        emit(&mut out, &mut sum, w, &payload);
        written += len;
        object += 1;
    }

    let mut end = [0u8; RECORD_SIZE];
    end[0..4].copy_from_slice(&u32b(5));
    for (i, v) in sum.value().iter().enumerate() {
        end[8 + 8 * i..16 + 8 * i].copy_from_slice(&u64b(*v));
    }
    end[40..48].copy_from_slice(&u64b(toguid));
    emit(&mut out, &mut sum, end, &[]);
    out
}
