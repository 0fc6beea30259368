//! Bits, most significant first, as bzip2 writes them.

pub struct BitWriter {
    out: Vec<u8>,
    /// Bits not yet written out: the low `pending` bits of `acc`.
    acc: u64,
    pending: u32,
}

impl BitWriter {
    pub fn with_capacity(bytes: usize) -> Self {
        BitWriter { out: Vec::with_capacity(bytes), acc: 0, pending: 0 }
    }

    /// The low `count` (at most 32) bits of `value`.
    #[inline]
    pub fn put(&mut self, count: u32, value: u32) {
        debug_assert!(count <= 32 && (count == 32 || value >> count == 0));
        self.acc = (self.acc << count) | u64::from(value);
        self.pending += count;
        while self.pending >= 8 {
            self.pending -= 8;
            self.out.push((self.acc >> self.pending) as u8);
        }
    }

    /// The bytes, the last one padded with zero bits.
    pub fn finish(mut self) -> Vec<u8> {
        if self.pending > 0 {
            self.put(8 - self.pending, 0);
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_packed_most_significant_first() {
        let mut w = BitWriter::with_capacity(8);
        w.put(1, 1);
        w.put(3, 0b010);
        w.put(12, 0xabc);
        w.put(32, 0xdead_beef);
        w.put(2, 0b11);
        assert_eq!(w.finish(), vec![0b1010_1010, 0xbc, 0xde, 0xad, 0xbe, 0xef, 0b1100_0000]);
    }
}
