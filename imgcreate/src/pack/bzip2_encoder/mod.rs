//! A bzip2 encoder that sorts with a suffix array.
//!
//! libbz2 (and pbzip2, which runs it on every core) spends most of its time
//! sorting the rotations of each block for the Burrows-Wheeler transform,
//! with a comparison sort that slows down on repetitive blocks. Here the
//! block is first turned to its least rotation, a Lyndon word, whose
//! suffixes sort in the same order as its rotations, so a linear-time
//! suffix array ([`libsais`](https://github.com/IlyaGrebnov/libsais)) gives
//! the same transform. Everything else follows the format and libbz2's
//! choices (run-length steps, six Huffman tables refined four times), so the
//! output is a standard `.bz2` stream of about the size libbz2 makes.
//!
//! A periodic block (the same few bytes over and over) has equal rotations,
//! which this sort does not order as the format needs; [`compress`] then
//! declines and the caller uses libbz2 for that chunk.

mod bits;
mod bwt;
mod crc;
mod huffman;

use bits::BitWriter;

/// The largest block (after the first run-length step) libbz2 makes at
/// `level`; decoders accept up to `100_000 * level`.
fn block_limit(level: u32) -> usize {
    100_000 * level as usize - 19
}

/// Input bytes that fill `blocks` blocks at `level` when nothing in them
/// repeats four times in a row (the first run-length step then changes
/// nothing).
pub fn input_for_blocks(level: u32, blocks: usize) -> usize {
    blocks * block_limit(level)
}

/// `input` as one complete bzip2 stream at `level` (1 to 9), or `None` if a
/// block is periodic (see the module's notes).
pub fn compress(level: u32, input: &[u8]) -> Option<Vec<u8>> {
    let limit = block_limit(level);
    let mut out = BitWriter::with_capacity(input.len() / 3 + 64);
    out.put(24, u32::from_be_bytes([0, b'B', b'Z', b'h']));
    out.put(8, u32::from(b'0') + level);
    let mut combined = 0u32;
    let mut block = Vec::with_capacity(limit + 5);
    let mut scratch = bwt::Scratch::default();
    let mut at = 0;
    while at < input.len() {
        block.clear();
        let end = run_length_encode(input, at, &mut block, limit);
        let crc = crc::bzip2(&input[at..end]);
        combined = combined.rotate_left(1) ^ crc;
        let (last_column, origin) = bwt::transform(&block, &mut scratch)?;
        out.put(24, 0x31_41_59);
        out.put(24, 0x26_53_59);
        out.put(32, crc);
        out.put(1, 0); // not randomised
        out.put(24, origin);
        huffman::write_block(&mut out, &last_column);
        at = end;
    }
    out.put(24, 0x17_72_45);
    out.put(24, 0x38_50_90);
    out.put(32, combined);
    Some(out.finish())
}

/// The format's first step: a run of 4 to 255 equal bytes becomes four of
/// them and a count of the rest. Appends runs from `input[at..]` to `block`
/// while it is shorter than `limit` (a run adds at most 5 bytes) and
/// returns where it stopped.
fn run_length_encode(input: &[u8], mut at: usize, block: &mut Vec<u8>, limit: usize) -> usize {
    while at < input.len() && block.len() < limit {
        let byte = input[at];
        let longest = (input.len() - at).min(255);
        let run = input[at..at + longest].iter().position(|&b| b != byte).unwrap_or(longest);
        if run < 4 {
            block.extend(std::iter::repeat_n(byte, run));
        } else {
            block.extend_from_slice(&[byte; 4]);
            block.push((run - 4) as u8);
        }
        at += run;
    }
    at
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use proptest::prelude::*;

    use super::*;

    fn decompress(file: &[u8]) -> Vec<u8> {
        let mut back = Vec::new();
        bzip2::read::MultiBzDecoder::new(file).read_to_end(&mut back).expect("a valid bzip2 stream");
        back
    }

    fn libbz2(input: &[u8]) -> Vec<u8> {
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(9));
        std::io::Write::write_all(&mut e, input).unwrap();
        e.finish().unwrap()
    }

    /// Text-like bytes: words from a small vocabulary, runs, and numbers.
    fn text(n: usize, mut seed: u64) -> Vec<u8> {
        let words: [&[u8]; 12] = [
            b"the ",
            b"zfs ",
            b"image ",
            b"manifest ",
            b"\n",
            b"dataset ",
            b"    ",
            b"sha1 ",
            b"0000",
            b"uuid ",
            b"smartos ",
            b"-rw-r--r-- ",
        ];
        let mut out = Vec::with_capacity(n + 16);
        while out.len() < n {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            out.extend_from_slice(words[(seed % 12) as usize]);
            if seed.is_multiple_of(97) {
                out.extend(std::iter::repeat_n(b'=', (seed >> 20) as usize % 700));
            }
        }
        out.truncate(n);
        out
    }

    #[test]
    fn streams_decompress_and_are_as_small_as_libbz2s() {
        let input = text(2_500_000, 5);
        let ours = compress(9, &input).expect("not periodic");
        assert!(decompress(&ours) == input);
        let theirs = libbz2(&input);
        let ratio = ours.len() as f64 / theirs.len() as f64;
        assert!((0.995..1.005).contains(&ratio), "{} bytes against libbz2's {}", ours.len(), theirs.len());
    }

    #[test]
    fn small_and_edge_inputs() {
        for input in [&b""[..], b"a", b"ab", b"ba", b"aaaa", b"aaaab", b"abracadabra", &[0u8; 1000][..], &[7u8; 255]] {
            match compress(9, input) {
                Some(file) => assert_eq!(decompress(&file), input),
                None => assert!(input.len() > 1, "a one-byte block is never periodic"),
            }
        }
        // Runs that fill blocks: more than one block at level 1.
        let runs: Vec<u8> = (0..400_000u32).map(|i| (i / 300) as u8).collect();
        assert_eq!(decompress(&compress(1, &runs).unwrap()), runs);
    }

    #[test]
    fn periodic_blocks_are_declined() {
        assert_eq!(compress(9, &b"ab".repeat(1000)), None);
        assert_eq!(compress(9, &b"xyz".repeat(10)), None);
        // Runs of one byte become a periodic block too ("aaaa" + count, again).
        assert_eq!(compress(9, &[b'a'; 2550]), None);
    }

    proptest! {
        #[test]
        fn any_input_round_trips(input in proptest::collection::vec(prop_oneof![Just(0u8), Just(1u8), any::<u8>()], 0..5000),
                                 level in 1u32..=9) {
            if let Some(file) = compress(level, &input) {
                prop_assert_eq!(decompress(&file), input);
            }
        }
    }
}
