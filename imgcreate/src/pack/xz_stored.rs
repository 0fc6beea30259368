//! A complete `.xz` stream that holds its data uncompressed: one block of
//! LZMA2 uncompressed chunks, with the CRC64 check `xz` writes. This is
//! what `xz` itself emits for data it cannot shrink, written without
//! running the encoder. Layout (the `.xz` file format, 1.1.0):
//!
//! ```text
//! stream header | block header | LZMA2 chunks, 0x00 | padding | CRC64 | index | stream footer
//! ```

/// LZMA2's largest uncompressed chunk.
const LZMA2_CHUNK: usize = 64 << 10;
const MAGIC: [u8; 6] = [0xfd, b'7', b'z', b'X', b'Z', 0];
/// Stream flags: check type 0x04, CRC64.
const FLAGS: [u8; 2] = [0, 0x04];
/// LZMA2's filter id.
const LZMA2: u8 = 0x21;
/// The dictionary size property: 128 KiB, enough for a 64 KiB chunk.
const DICT_128K: u8 = 10;

/// `data` as one `.xz` stream (empty data still makes a valid stream).
pub fn stream(data: &[u8]) -> Vec<u8> {
    let chunks = data.len().div_ceil(LZMA2_CHUNK);
    let mut out = Vec::with_capacity(data.len() + 3 * chunks + 64);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FLAGS);
    out.extend_from_slice(&crc32(&FLAGS).to_le_bytes());

    let mut index = vec![0u8]; // index indicator
    if !data.is_empty() {
        let block_start = out.len();
        // Block header: size (in 4-byte units, less one), flags (one
        // filter, no sizes), the filter, padding, CRC32.
        let mut header = vec![0u8, 0, LZMA2, 1, DICT_128K, 0, 0, 0];
        header[0] = ((header.len() + 4) / 4 - 1) as u8;
        let header_crc = crc32(&header);
        out.extend_from_slice(&header);
        out.extend_from_slice(&header_crc.to_le_bytes());
        for (i, chunk) in data.chunks(LZMA2_CHUNK).enumerate() {
            // 0x01: uncompressed, dictionary reset; 0x02: uncompressed.
            out.push(if i == 0 { 0x01 } else { 0x02 });
            out.extend_from_slice(&((chunk.len() - 1) as u16).to_be_bytes());
            out.extend_from_slice(chunk);
        }
        out.push(0x00); // end of LZMA2 data
        let unpadded = out.len() - block_start + 8;
        pad4(&mut out, block_start);
        out.extend_from_slice(&crc64(data).to_le_bytes());
        index.extend(varint(1));
        index.extend(varint(unpadded as u64));
        index.extend(varint(data.len() as u64));
    } else {
        index.extend(varint(0));
    }
    pad4(&mut index, 0);
    let index_crc = crc32(&index);
    index.extend_from_slice(&index_crc.to_le_bytes());
    out.extend_from_slice(&index);

    let mut footer = Vec::with_capacity(12);
    footer.extend_from_slice(&((index.len() / 4 - 1) as u32).to_le_bytes());
    footer.extend_from_slice(&FLAGS);
    out.extend_from_slice(&crc32(&footer).to_le_bytes());
    out.extend_from_slice(&footer);
    out.extend_from_slice(b"YZ");
    out
}

/// Zeros that make what `out` holds from `start` on a multiple of four.
fn pad4(out: &mut Vec<u8>, start: usize) {
    let len = out.len() - start;
    out.resize(out.len() + (4 - len % 4) % 4, 0);
}

/// The format's variable-length integer: seven bits a byte, low first.
fn varint(mut n: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(10);
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out
}

fn crc32(data: &[u8]) -> u32 {
    // SAFETY: liblzma reads exactly `data.len()` bytes of a live slice.
    unsafe { liblzma_sys::lzma_crc32(data.as_ptr(), data.len(), 0) }
}

fn crc64(data: &[u8]) -> u64 {
    // SAFETY: as above.
    unsafe { liblzma_sys::lzma_crc64(data.as_ptr(), data.len(), 0) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn decoded(file: &[u8]) -> Vec<u8> {
        let mut back = Vec::new();
        liblzma::read::XzDecoder::new_multi_decoder(file).read_to_end(&mut back).unwrap();
        back
    }

    #[test]
    fn stored_streams_decode_to_their_data_alone_and_concatenated() {
        for len in [0, 1, LZMA2_CHUNK - 1, LZMA2_CHUNK, LZMA2_CHUNK + 1, 3 * LZMA2_CHUNK + 17] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 300) as u8).collect();
            let file = stream(&data);
            assert_eq!(decoded(&file), data, "{len} bytes");
            assert_eq!(file.len() % 4, 0);
        }
        let (a, b) = (vec![1u8; 100_000], vec![2u8; 5]);
        assert_eq!(decoded(&[stream(&a), stream(&b)].concat()), [a, b].concat());
    }

    #[test]
    fn varints_are_little_endian_sevens() {
        assert_eq!(varint(0), [0]);
        assert_eq!(varint(0x7f), [0x7f]);
        assert_eq!(varint(0x80), [0x80, 0x01]);
        assert_eq!(varint(300), [0xac, 0x02]);
    }
}
