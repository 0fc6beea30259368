//! Fletcher-4, as ZFS send streams use it: four wrapping u64 sums over
//! 32-bit words in the sender's byte order.

/// A running fletcher-4 that accepts bytes in pieces of any length.
#[derive(Debug, Clone, Default)]
pub struct Fletcher4 {
    sums: [u64; 4],
    big_endian: bool,
    /// Bytes of a word split across two `update` calls.
    carry: [u8; 4],
    carry_len: usize,
}

impl Fletcher4 {
    pub fn new(big_endian: bool) -> Self {
        Fletcher4 { big_endian, ..Default::default() }
    }

    #[inline]
    fn word(&self, b: [u8; 4]) -> u64 {
        u64::from(if self.big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
    }

    pub fn update(&mut self, mut data: &[u8]) {
        if self.carry_len > 0 {
            let take = (4 - self.carry_len).min(data.len());
            self.carry[self.carry_len..self.carry_len + take].copy_from_slice(&data[..take]);
            self.carry_len += take;
            data = &data[take..];
            if self.carry_len < 4 {
                return;
            }
            let w = self.word(self.carry);
            self.add(w);
            self.carry_len = 0;
        }
        let mut chunks = data.chunks_exact(4);
        let [mut a, mut b, mut c, mut d] = self.sums;
        for chunk in &mut chunks {
            let w = self.word(chunk.try_into().expect("chunks of 4"));
            a = a.wrapping_add(w);
            b = b.wrapping_add(a);
            c = c.wrapping_add(b);
            d = d.wrapping_add(c);
        }
        self.sums = [a, b, c, d];
        let rest = chunks.remainder();
        self.carry[..rest.len()].copy_from_slice(rest);
        self.carry_len = rest.len();
    }

    #[inline]
    fn add(&mut self, w: u64) {
        let s = &mut self.sums;
        s[0] = s[0].wrapping_add(w);
        s[1] = s[1].wrapping_add(s[0]);
        s[2] = s[2].wrapping_add(s[1]);
        s[3] = s[3].wrapping_add(s[2]);
    }

    /// The four sums so far. Streams are always whole words long at the
    /// points where checksums are stored, so no carry is pending there.
    pub fn value(&self) -> [u64; 4] {
        self.sums
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_give_the_same_sum_as_the_whole() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut whole = Fletcher4::new(false);
        whole.update(&data);
        let mut pieces = Fletcher4::new(false);
        for chunk in data.chunks(7) {
            pieces.update(chunk);
        }
        assert_eq!(whole.value(), pieces.value());
    }

    #[test]
    fn known_value() {
        let mut f = Fletcher4::new(false);
        f.update(&[1, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(f.value(), [3, 4, 5, 6]);
        let mut g = Fletcher4::new(true);
        g.update(&[0, 0, 0, 1, 0, 0, 0, 2]);
        assert_eq!(g.value(), [3, 4, 5, 6]);
    }
}
