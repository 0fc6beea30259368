//! Finding the stretches of a chunk that no compressor can shrink (already
//! compressed files, random data), cheaply. A 64 KiB window is taken as
//! incompressible when its order-0 entropy is that of random bytes and
//! almost none of its content occurs elsewhere within the compressor's
//! reach: a second copy of a compressed file is high in entropy too, but
//! xz's 8 MiB dictionary finds it, and can only if the first copy was not
//! stored either (a stored stretch starts the compressor afresh after it).
//! Stored as the format's own uncompressed blocks, such stretches cost the
//! match finder nothing and the output next to nothing: a peer's compressor
//! spends its time on them and then stores them too.
//!
//! Repeats are found as in content-defined chunking: a gear hash of the
//! last 64 bytes marks an anchor where its top bits are zero (one byte in
//! 512 on average, the same places in every copy of the same content), and
//! an anchor whose hash occurs again within reach, before or after it, is a
//! repeat. Only the high-entropy windows are hashed: a copy of random-looking
//! content is random-looking itself, and text never needs the hash.

use std::ops::Range;

/// Bytes a window's entropy is measured over.
pub const WINDOW: usize = 64 << 10;

/// Bits per byte at and above which a window is taken as incompressible.
/// Random data measures about 7.997 over 64 KiB; gzip output 7.99 and up;
/// text, code and send-stream headers well under 7.9.
const INCOMPRESSIBLE_BITS: f64 = 7.99;

/// A window with more than this share of its anchors repeated is left to
/// the compressor.
const MAX_REPEATED: f64 = 0.02;

/// `chunk` as consecutive ranges, each `true` where it is to be stored
/// uncompressed; together they cover it, in order. `reach` is how far back
/// the compressor finds matches (its window or dictionary); incompressible
/// runs shorter than `min_stored` are compressed with their neighbours,
/// as the compressor after a stored run starts with an empty dictionary.
pub fn segments(chunk: &[u8], reach: usize, min_stored: usize) -> Vec<(Range<usize>, bool)> {
    let windows: Vec<Range<usize>> =
        (0..chunk.len()).step_by(WINDOW).map(|at| at..chunk.len().min(at + WINDOW)).collect();
    let random: Vec<bool> =
        windows.iter().map(|w| w.len() == WINDOW && bits_per_byte(&chunk[w.clone()]) >= INCOMPRESSIBLE_BITS).collect();
    let anchors = if random.contains(&true) { anchors(chunk, &windows, &random, reach) } else { Vec::new() };
    let mut anchors = anchors.iter().peekable();
    let mut runs: Vec<(Range<usize>, bool)> = Vec::new();
    for (range, random) in windows.into_iter().zip(random) {
        let (mut seen, mut repeated) = (0usize, 0usize);
        while let Some((_, r)) = anchors.next_if(|(at, _)| range.contains(at)) {
            seen += 1;
            repeated += usize::from(*r);
        }
        let stored = random && (repeated as f64) <= MAX_REPEATED * seen.max(1) as f64;
        push(&mut runs, range, stored);
    }
    // Short stored runs join the compressed ones around them.
    let mut merged: Vec<(Range<usize>, bool)> = Vec::new();
    for (range, stored) in runs {
        let stored = stored && range.len() >= min_stored;
        push(&mut merged, range, stored);
    }
    merged
}

fn push(runs: &mut Vec<(Range<usize>, bool)>, range: Range<usize>, stored: bool) {
    match runs.last_mut() {
        Some((last, s)) if *s == stored => last.end = range.end,
        _ => runs.push((range, stored)),
    }
}

/// The anchors of the `random` windows in order: position, and whether the
/// same hash occurs within `reach` of it, before or after. The hash runs
/// on across adjacent random windows and starts afresh after others.
fn anchors(chunk: &[u8], windows: &[Range<usize>], random: &[bool], reach: usize) -> Vec<(usize, bool)> {
    let mut found: Vec<(u64, usize)> = Vec::new();
    let mut hash = 0u64;
    for (window, &random) in windows.iter().zip(random) {
        if !random {
            hash = 0;
            continue;
        }
        for at in window.clone() {
            hash = (hash << 1).wrapping_add(GEAR[chunk[at] as usize]);
            if hash >> 55 == 0 {
                found.push((hash, at));
            }
        }
    }
    let mut repeated = vec![false; found.len()];
    let mut order: Vec<usize> = (0..found.len()).collect();
    order.sort_unstable_by_key(|&i| found[i]);
    for pair in order.windows(2) {
        let (a, b) = (found[pair[0]], found[pair[1]]);
        if a.0 == b.0 && b.1 - a.1 <= reach {
            repeated[pair[0]] = true;
            repeated[pair[1]] = true;
        }
    }
    found.iter().zip(repeated).map(|(&(_, at), r)| (at, r)).collect()
}

/// The gear hash's table: 256 fixed pseudo-random words (splitmix64).
static GEAR: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut i = 0;
    while i < 256 {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        table[i] = z ^ (z >> 31);
        i += 1;
    }
    table
};

/// Order-0 (byte frequency) entropy in bits per byte.
fn bits_per_byte(data: &[u8]) -> f64 {
    // Four tables, so that runs of one byte value do not serialize on one
    // counter.
    let mut counts = [[0u32; 256]; 4];
    let mut quads = data.chunks_exact(4);
    for q in &mut quads {
        counts[0][q[0] as usize] += 1;
        counts[1][q[1] as usize] += 1;
        counts[2][q[2] as usize] += 1;
        counts[3][q[3] as usize] += 1;
    }
    for &b in quads.remainder() {
        counts[0][b as usize] += 1;
    }
    let n = data.len() as f64;
    (0..256)
        .map(|v| counts.iter().map(|c| c[v]).sum::<u32>())
        .filter(|&c| c > 0)
        .map(|c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(n: usize, mut seed: u64) -> Vec<u8> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn random_stretches_are_stored_and_text_is_not() {
        let text: Vec<u8> = b"a line of text, as in a manual page or a configuration file\n".repeat(30_000);
        let noise = random(10 * WINDOW, 7);
        assert!(bits_per_byte(&noise) > 7.99);
        assert!(bits_per_byte(&text[..WINDOW]) < 5.0);
        let chunk = [&text[..3 * WINDOW], &noise[..], &text[..WINDOW + 5]].concat();
        assert_eq!(
            segments(&chunk, 8 << 20, 4 * WINDOW),
            vec![(0..3 * WINDOW, false), (3 * WINDOW..13 * WINDOW, true), (13 * WINDOW..chunk.len(), false)]
        );
        // Too short to be worth a switch.
        let short = [&text[..2 * WINDOW], &noise[..2 * WINDOW], &text[..2 * WINDOW]].concat();
        assert_eq!(segments(&short, 8 << 20, 4 * WINDOW), vec![(0..short.len(), false)]);
        assert_eq!(segments(&[], 8 << 20, 4 * WINDOW), vec![]);
    }

    #[test]
    fn a_second_copy_within_reach_is_compressed_and_beyond_it_stored() {
        let noise = random(8 * WINDOW, 11);
        let other = random(8 * WINDOW, 12);
        let twice = [&noise[..], &noise[..]].concat();
        // Within reach, both copies go to the compressor (which finds the
        // second in its dictionary)...
        assert_eq!(segments(&twice, 8 << 20, 4 * WINDOW), vec![(0..16 * WINDOW, false)]);
        // ... and out of reach both copies are stored.
        assert_eq!(segments(&twice, WINDOW, 4 * WINDOW), vec![(0..16 * WINDOW, true)]);
        assert_eq!(segments(&[&noise[..], &other[..]].concat(), 8 << 20, 4 * WINDOW), vec![(0..16 * WINDOW, true)]);
    }
}
