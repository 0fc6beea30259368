//! A block's body: the transform's last column move-to-front coded, its
//! zero runs as RUNA/RUNB digits, then Huffman coded with up to six tables
//! switched every 50 symbols. The tables are chosen as libbz2 chooses them,
//! so that sizes match its.

use super::bits::BitWriter;

const RUN_A: u16 = 0;
const RUN_B: u16 = 1;
/// Symbols per table selection.
const GROUP: usize = 50;
/// Rounds of choosing tables for groups and rebuilding the tables.
const ROUNDS: usize = 4;
/// libbz2 builds codes of at most 17 bits (decoders accept 20).
const MAX_CODE_BITS: u8 = 17;

/// Writes the symbol map, the tables, the selectors and the coded symbols
/// of `last_column` (one block) to `out`.
pub fn write_block(out: &mut BitWriter, last_column: &[u8]) {
    let mut used = [false; 256];
    for &b in last_column {
        used[b as usize] = true;
    }
    write_symbol_map(out, &used);
    let in_use = used.iter().filter(|&&u| u).count();
    let alphabet = in_use + 2;
    let symbols = move_to_front(last_column, &used);

    let mut freq = vec![0u32; alphabet];
    for &s in &symbols {
        freq[s as usize] += 1;
    }
    let tables = match symbols.len() {
        0..200 => 2,
        200..600 => 3,
        600..1200 => 4,
        1200..2400 => 5,
        _ => 6,
    };
    let mut lengths = initial_lengths(&freq, tables, symbols.len());
    let mut selectors = Vec::with_capacity(symbols.len().div_ceil(GROUP));
    for _ in 0..ROUNDS {
        selectors.clear();
        let mut table_freq = vec![vec![0u32; alphabet]; tables];
        let packed = pack_lengths(&lengths);
        for group in symbols.chunks(GROUP) {
            let best = cheapest(&packed, group, tables);
            selectors.push(best as u8);
            for &s in group {
                table_freq[best][s as usize] += 1;
            }
        }
        for (len, f) in lengths.iter_mut().zip(&table_freq) {
            *len = code_lengths(f, MAX_CODE_BITS);
        }
    }

    out.put(3, tables as u32);
    out.put(15, selectors.len() as u32);
    // Selectors, move-to-front coded, each in unary.
    let mut order: Vec<u8> = (0..tables as u8).collect();
    for &sel in &selectors {
        let j = order.iter().position(|&t| t == sel).expect("every table is in the list");
        out.put(j as u32 + 1, ((1u32 << j) - 1) << 1);
        order[..=j].rotate_right(1);
    }
    // Code lengths as deltas: 10 is one up, 11 one down, 0 the next symbol.
    for len in &lengths {
        let mut current = u32::from(len[0]);
        out.put(5, current);
        for &l in len {
            let l = u32::from(l);
            while current < l {
                out.put(2, 0b10);
                current += 1;
            }
            while current > l {
                out.put(2, 0b11);
                current -= 1;
            }
            out.put(1, 0);
        }
    }
    let codes: Vec<Vec<u32>> = lengths.iter().map(|l| canonical_codes(l)).collect();
    for (group, &sel) in symbols.chunks(GROUP).zip(&selectors) {
        let (len, code) = (&lengths[sel as usize], &codes[sel as usize]);
        for &s in group {
            out.put(u32::from(len[s as usize]), code[s as usize]);
        }
    }
}

/// Which byte values occur: 16 bits for the 16 ranges of 16 values, then
/// 16 bits for each range that has any.
fn write_symbol_map(out: &mut BitWriter, used: &[bool; 256]) {
    let ranges: Vec<bool> = used.chunks(16).map(|r| r.contains(&true)).collect();
    for &r in &ranges {
        out.put(1, u32::from(r));
    }
    for (range, _) in used.chunks(16).zip(&ranges).filter(|(_, &r)| r) {
        for &u in range {
            out.put(1, u32::from(u));
        }
    }
}

/// The move-to-front positions of `column`'s bytes among the used values
/// (first the values in order), a position p as symbol p + 1, runs of
/// position 0 as RUNA/RUNB digits, and the end-of-block symbol last.
fn move_to_front(column: &[u8], used: &[bool; 256]) -> Vec<u16> {
    let mut rank = [0u8; 256];
    let mut in_use = 0usize;
    for (value, _) in used.iter().enumerate().filter(|(_, &u)| u) {
        rank[value] = in_use as u8;
        in_use += 1;
    }
    let mut list = [0u8; 256];
    for (i, v) in list.iter_mut().enumerate() {
        *v = i as u8;
    }
    let list = &mut list[..in_use];
    let mut symbols = Vec::with_capacity(column.len() + 1);
    let mut zeros = 0u32;
    for &b in column {
        let r = rank[b as usize];
        if list[0] == r {
            zeros += 1;
            continue;
        }
        push_zero_run(&mut symbols, &mut zeros);
        // Vector search and move: high-entropy blocks find their bytes
        // about halfway down the list.
        let j = memchr::memchr(r, list).expect("every used value is in the list");
        list.copy_within(0..j, 1);
        list[0] = r;
        symbols.push(j as u16 + 1);
    }
    push_zero_run(&mut symbols, &mut zeros);
    symbols.push(in_use as u16 + 1);
    symbols
}

/// A run of `zeros` as bijective base-2 digits, least significant first:
/// RUNA is 1, RUNB is 2.
fn push_zero_run(symbols: &mut Vec<u16>, zeros: &mut u32) {
    if *zeros == 0 {
        return;
    }
    let mut z = *zeros - 1;
    loop {
        symbols.push(if z & 1 == 1 { RUN_B } else { RUN_A });
        if z < 2 {
            break;
        }
        z = (z - 2) / 2;
    }
    *zeros = 0;
}

/// libbz2's first tables: the alphabet cut into `tables` spans of about
/// equal frequency, each table cheap (0) inside its span and dear (15)
/// outside.
fn initial_lengths(freq: &[u32], tables: usize, total: usize) -> Vec<Vec<u8>> {
    let alphabet = freq.len();
    let mut lengths = vec![vec![0u8; alphabet]; tables];
    let (mut remaining, mut start) = (total as u64, 0usize);
    for part in (1..=tables).rev() {
        let target = remaining / part as u64;
        let (mut end, mut sum) = (start, 0u64);
        while sum < target && end < alphabet {
            sum += u64::from(freq[end]);
            end += 1;
        }
        // libbz2 gives back the last symbol on every other span.
        if end > start + 1 && part != tables && part != 1 && (tables - part) % 2 == 1 {
            end -= 1;
            sum -= u64::from(freq[end]);
        }
        for (v, l) in lengths[part - 1].iter_mut().enumerate() {
            *l = if (start..end).contains(&v) { 0 } else { 15 };
        }
        start = end;
        remaining -= sum;
    }
    lengths
}

/// Each symbol's lengths in all tables, 10 bits each in one word, so that
/// a group's cost in every table is one sum (50 × 17 < 1024).
fn pack_lengths(lengths: &[Vec<u8>]) -> Vec<u64> {
    (0..lengths[0].len()).map(|s| lengths.iter().enumerate().map(|(t, l)| u64::from(l[s]) << (10 * t)).sum()).collect()
}

/// The table that codes `group` in the fewest bits (the first such).
fn cheapest(packed: &[u64], group: &[u16], tables: usize) -> usize {
    let sum: u64 = group.iter().map(|&s| packed[s as usize]).sum();
    (0..tables).min_by_key(|&t| ((sum >> (10 * t)) & 0x3ff, t)).expect("at least two tables")
}

/// Huffman code lengths for `freq` (a symbol never seen counts once), at
/// most `max` bits: while the longest is too long, frequencies are halved
/// (libbz2's way), which flattens the tree.
fn code_lengths(freq: &[u32], max: u8) -> Vec<u8> {
    let mut weights: Vec<u64> = freq.iter().map(|&f| u64::from(f.max(1))).collect();
    loop {
        let lengths = huffman_lengths(&weights);
        if lengths.iter().all(|&l| l <= max) {
            return lengths;
        }
        for w in &mut weights {
            *w = 1 + *w / 2;
        }
    }
}

/// Optimal code lengths (depths of a Huffman tree) for two or more weights.
fn huffman_lengths(weights: &[u64]) -> Vec<u8> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let n = weights.len();
    // Nodes 0..n are the symbols; merged nodes follow. Ties go to the
    // shallower subtree, as in libbz2, for shorter longest codes.
    let mut parent = vec![0usize; 2 * n - 1];
    let mut heap: BinaryHeap<Reverse<(u64, u8, usize)>> =
        weights.iter().enumerate().map(|(i, &w)| Reverse((w, 0, i))).collect();
    let mut next = n;
    while heap.len() > 1 {
        let Reverse((w1, d1, a)) = heap.pop().expect("two left");
        let Reverse((w2, d2, b)) = heap.pop().expect("two left");
        parent[a] = next;
        parent[b] = next;
        heap.push(Reverse((w1 + w2, d1.max(d2) + 1, next)));
        next += 1;
    }
    let root = next - 1;
    let mut depth = vec![0u8; 2 * n - 1];
    for node in (0..root).rev() {
        depth[node] = depth[parent[node]] + 1;
    }
    depth.truncate(n);
    depth
}

/// The codes decoders assign to `lengths`: in order of length, then symbol.
fn canonical_codes(lengths: &[u8]) -> Vec<u32> {
    let mut codes = vec![0u32; lengths.len()];
    let mut code = 0u32;
    for len in 1..=MAX_CODE_BITS {
        for (s, _) in lengths.iter().enumerate().filter(|(_, &l)| l == len) {
            codes[s] = code;
            code += 1;
        }
        code <<= 1;
    }
    codes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_runs_are_bijective_base_two() {
        let digits = |n: u32| {
            let (mut s, mut z) = (Vec::new(), n);
            push_zero_run(&mut s, &mut z);
            s
        };
        assert_eq!(digits(1), vec![RUN_A]);
        assert_eq!(digits(2), vec![RUN_B]);
        assert_eq!(digits(3), vec![RUN_A, RUN_A]);
        assert_eq!(digits(4), vec![RUN_B, RUN_A]);
        assert_eq!(digits(6), vec![RUN_B, RUN_B]);
        assert_eq!(digits(7), vec![RUN_A, RUN_A, RUN_A]);
    }

    #[test]
    fn move_to_front_of_a_column() {
        let mut used = [false; 256];
        used[b'a' as usize] = true;
        used[b'b' as usize] = true;
        // a a b b a: two zeros, b at 1, a zero, a at 1; end of block = 3.
        assert_eq!(move_to_front(b"aabba", &used), vec![RUN_B, 2, RUN_A, 2, 3]);
    }

    #[test]
    fn code_lengths_are_optimal_and_limited() {
        assert_eq!(code_lengths(&[1, 1], 17), vec![1, 1]);
        assert_eq!(code_lengths(&[8, 4, 2, 1, 1], 17), vec![1, 2, 3, 4, 4]);
        // Fibonacci weights make a 25-deep tree unless limited.
        let fib: Vec<u32> = (0..26)
            .scan((1u32, 1u32), |s, _| {
                let f = s.0;
                *s = (s.1, s.0 + s.1);
                Some(f)
            })
            .collect();
        let limited = code_lengths(&fib, 17);
        assert!(limited.iter().all(|&l| (1..=17).contains(&l)));
        // A complete prefix code: the Kraft sum is exactly one.
        assert_eq!(limited.iter().map(|&l| 1u64 << (17 - l)).sum::<u64>(), 1 << 17);
    }
}
