//! The Burrows-Wheeler transform of a block, from a suffix array.
//!
//! bzip2 sorts a block's rotations. A Lyndon word (a string strictly
//! smaller than each of its rotations) has its suffixes in the same order
//! as its rotations: where one suffix is a prefix of another, the shorter
//! one's rotation goes on with the word itself, which is smaller than any
//! suffix the longer one goes on with. The least rotation of a block whose
//! rotations all differ is such a word, and the block has the same sorted
//! rotations, so its suffix array gives the transform directly.

use libsais_sys::libsais::libsais;

/// Buffers reused from block to block.
#[derive(Default)]
pub struct Scratch {
    word: Vec<u8>,
    suffixes: Vec<i32>,
}

/// The last column of the sorted rotations of `block`, and the row of the
/// block itself; `None` if two rotations are equal (the block is periodic).
pub fn transform(block: &[u8], scratch: &mut Scratch) -> Option<(Vec<u8>, u32)> {
    let n = block.len();
    if n == 0 {
        return Some((Vec::new(), 0));
    }
    let start = least_rotation(block)?;
    let Scratch { word, suffixes } = scratch;
    word.clear();
    word.extend_from_slice(&block[start..]);
    word.extend_from_slice(&block[..start]);
    suffixes.resize(n, 0);
    let length = i32::try_from(n).expect("blocks are under 1 MB");
    // SAFETY: `word` holds `n` bytes and `suffixes` room for `n` entries,
    // with no extra space (0) and no frequency table (null) asked for.
    let status = unsafe { libsais(word.as_ptr(), suffixes.as_mut_ptr(), length, 0, std::ptr::null_mut()) };
    assert_eq!(status, 0, "libsais fails only on bad arguments");
    // The rotation of `word` that is the block starts at n - start.
    let block_at = ((n - start) % n) as i32;
    let mut origin = 0;
    let last_column = suffixes
        .iter()
        .enumerate()
        .map(|(row, &at)| {
            if at == block_at {
                origin = row as u32;
            }
            word[if at == 0 { n - 1 } else { at as usize - 1 }]
        })
        .collect();
    Some((last_column, origin))
}

/// Where the least rotation of `s` starts, or `None` if `s` is periodic.
/// Two candidate starts are compared character by character; on a
/// difference, every start in the losing one's compared span is beaten by
/// the matching start of the other and is skipped (linear time).
fn least_rotation(s: &[u8]) -> Option<usize> {
    let n = s.len();
    let at = |i: usize| s[if i >= n { i - n } else { i }];
    let (mut i, mut j, mut k) = (0, 1, 0);
    while i < n && j < n && k < n {
        let (a, b) = (at(i + k), at(j + k));
        if a == b {
            k += 1;
            continue;
        }
        if a > b {
            i += k + 1;
        } else {
            j += k + 1;
        }
        if i == j {
            j += 1;
        }
        k = 0;
    }
    // Two different starts with all n characters equal: equal rotations.
    (k < n).then_some(i.min(j))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The transform by sorting every rotation, as the format defines it.
    fn by_sorting(block: &[u8]) -> (Vec<u8>, u32) {
        let n = block.len();
        let mut rows: Vec<usize> = (0..n).collect();
        rows.sort_by(|&a, &b| (0..n).map(|k| block[(a + k) % n]).cmp((0..n).map(|k| block[(b + k) % n])));
        let last = rows.iter().map(|&r| block[(r + n - 1) % n]).collect();
        (last, rows.iter().position(|&r| r == 0).unwrap() as u32)
    }

    #[test]
    fn matches_sorting_the_rotations() {
        for block in [&b"banana"[..], b"abracadabra", b"mississippi", b"aab", b"aabab", b"z", b"ba", b"\0\0\x01"] {
            assert_eq!(transform(block, &mut Scratch::default()), Some(by_sorting(block)), "{block:?}");
        }
    }

    #[test]
    fn periodic_blocks_are_found() {
        assert_eq!(least_rotation(b"abab"), None);
        assert_eq!(least_rotation(b"aa"), None);
        assert_eq!(least_rotation(b"bcabca"), None);
        assert_eq!(least_rotation(b"bcabcb"), Some(2));
        assert_eq!(least_rotation(b"a"), Some(0));
    }

    proptest::proptest! {
        #[test]
        fn any_block_matches_sorting(block in proptest::collection::vec(0u8..3, 1..200)) {
            match transform(&block, &mut Scratch::default()) {
                Some(t) => proptest::prop_assert_eq!(t, by_sorting(&block)),
                // Periodic: some rotation other than the block itself equals it.
                None => proptest::prop_assert!((1..block.len()).any(|r| block[r..] == block[..block.len() - r]
                    && block[..r] == block[block.len() - r..])),
            }
        }
    }
}
