//! bzip2's CRC-32: polynomial 0x04c11db7, most significant bit first (not
//! the reflected CRC-32 of gzip and zlib), eight bytes at a time.

/// `TABLES[k][b]`: the CRC of byte `b` followed by `k` zero bytes.
static TABLES: [[u32; 256]; 8] = {
    let mut tables = [[0u32; 256]; 8];
    let mut b = 0;
    while b < 256 {
        let mut crc = (b as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000_0000 != 0 { (crc << 1) ^ 0x04c1_1db7 } else { crc << 1 };
            bit += 1;
        }
        tables[0][b] = crc;
        b += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut b = 0;
        while b < 256 {
            let prev = tables[k - 1][b];
            tables[k][b] = (prev << 8) ^ tables[0][(prev >> 24) as usize];
            b += 1;
        }
        k += 1;
    }
    tables
};

/// The block CRC bzip2 stores: of the block's bytes before any transform.
pub fn bzip2(data: &[u8]) -> u32 {
    let t = &TABLES;
    let mut crc = u32::MAX;
    let mut eights = data.chunks_exact(8);
    for e in &mut eights {
        let x = crc ^ u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
        crc = t[7][(x >> 24) as usize]
            ^ t[6][(x >> 16) as usize & 0xff]
            ^ t[5][(x >> 8) as usize & 0xff]
            ^ t[4][x as usize & 0xff]
            ^ t[3][e[4] as usize]
            ^ t[2][e[5] as usize]
            ^ t[1][e[6] as usize]
            ^ t[0][e[7] as usize];
    }
    for &b in eights.remainder() {
        crc = (crc << 8) ^ t[0][((crc >> 24) as u8 ^ b) as usize];
    }
    !crc
}

#[cfg(test)]
mod tests {
    #[test]
    fn check_value() {
        // CRC-32/BZIP2's check value, and the same bytes split across the
        // eight-byte and the one-byte paths.
        assert_eq!(super::bzip2(b"123456789"), 0xfc89_1918);
        assert_eq!(super::bzip2(b""), 0);
    }
}
