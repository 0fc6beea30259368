//! The four image file compressions: how a chunk is compressed, and how a
//! whole file is read back.
//!
//! Files are written as one or more members (gzip) or streams (bzip2, xz)
//! per chunk, compressed on all cores; the three formats allow concatenated
//! members and every decompressor reads them (`gzip -d`, `bzip2 -d`,
//! `xz -d`, Node's zlib, imgadm's `gzip -cdfq`). An xz chunk is as large as
//! a block of `xz -T0` at the same level, so it compresses as well.
//!
//! Stretches of a gzip or xz chunk that cannot be compressed
//! ([`entropy::segments`]) go into members of the format's stored blocks
//! instead of through the match finder. bzip2 has no stored blocks; its
//! chunks go through buildy's own encoder ([`super::bzip2_encoder`]), which sorts
//! faster than libbz2.

use std::io::{self, Read, Write};

use imgmanifest::Compression;

use super::{entropy, xz_stored};

/// Default levels, as the command-line tools have them.
pub fn default_level(c: &Compression) -> u32 {
    match c {
        Compression::Gzip => 6,
        Compression::Bzip2 => 9,
        Compression::Xz => 6,
        Compression::None | Compression::Unknown(_) => 0,
    }
}

/// Highest level each format has.
pub fn max_level(c: &Compression) -> u32 {
    match c {
        Compression::Gzip | Compression::Bzip2 | Compression::Xz => 9,
        Compression::None | Compression::Unknown(_) => 0,
    }
}

/// Size of the chunks compressed independently. gzip's window is 32 KiB,
/// so 1 MiB chunks cost well under 1% of ratio; bzip2 works in blocks of
/// just under 100 kB times the level, so a chunk holds four of them; xz's are the blocks `xz -T`
/// makes: three times the level's dictionary, at least 1 MiB.
pub fn chunk_size(c: &Compression, level: u32) -> usize {
    match c {
        Compression::Bzip2 => super::bzip2_encoder::input_for_blocks(level, 4),
        Compression::Xz => (3 * xz_dictionary(level)).max(1 << 20),
        _ => 1 << 20,
    }
}

/// The dictionary of an xz preset (liblzma's presets 0 to 9).
fn xz_dictionary(level: u32) -> usize {
    const MIB: usize = 1 << 20;
    match level {
        0 => MIB / 4,
        1 => MIB,
        2 => 2 * MIB,
        3 | 4 => 4 * MIB,
        5 | 6 => 8 * MIB,
        7 => 16 * MIB,
        8 => 32 * MIB,
        _ => 64 * MIB,
    }
}

/// Compresses one chunk into complete gzip members or bzip2 or xz streams.
pub fn compress_chunk(c: &Compression, level: u32, chunk: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(chunk.len() / 2);
    match c {
        Compression::Gzip | Compression::Xz => {
            // How far back each compressor finds matches, and the shortest
            // stored run worth the dictionary it throws away (measured on a
            // stream of /usr/share/doc: an xz restart costs about 17 kB).
            let (reach, min_stored) = match c {
                Compression::Gzip => (32 << 10, 4 * entropy::WINDOW),
                _ => (xz_dictionary(level), 8 * entropy::WINDOW),
            };
            for (range, stored) in entropy::segments(chunk, reach, min_stored) {
                let part = &chunk[range];
                out = match (c, stored) {
                    (Compression::Gzip, true) => gzip_member(out, flate2::Compression::none(), part)?,
                    (Compression::Gzip, false) => gzip_member(out, flate2::Compression::new(level), part)?,
                    (_, true) => {
                        out.extend_from_slice(&xz_stored::stream(part));
                        out
                    }
                    (_, false) => {
                        let mut e = liblzma::write::XzEncoder::new_stream(out, xz_encoder(level)?);
                        e.write_all(part)?;
                        e.finish()?
                    }
                };
            }
            Ok(out)
        }
        Compression::Bzip2 => match super::bzip2_encoder::compress(level, chunk) {
            Some(stream) => Ok(stream),
            // A periodic block: libbz2 sorts those.
            None => {
                let mut e = bzip2::write::BzEncoder::new(out, bzip2::Compression::new(level));
                e.write_all(chunk)?;
                e.finish()
            }
        },
        Compression::None => Ok(chunk.to_vec()),
        Compression::Unknown(name) => {
            Err(io::Error::new(io::ErrorKind::InvalidInput, format!("unknown compression \"{name}\"")))
        }
    }
}

/// Deepest search of xz's binary-tree match finder. The presets from 5 up
/// search 32 to 152 deep; 24 (preset 4's) costs about 0.1% of size on a
/// send stream of system files and saves about 10% of the time
/// (`bench/pack.sh`; `xz --lzma2=preset=6,depth=24` does the same).
const XZ_MAX_DEPTH: u32 = 24;

/// An xz stream encoder at preset `level`, with the search depth capped.
fn xz_encoder(level: u32) -> io::Result<liblzma::stream::Stream> {
    use liblzma::stream::{Check, Filters, LzmaOptions, Stream};
    let mut opts = LzmaOptions::new_preset(level).map_err(io::Error::other)?;
    if level >= 4 {
        // The binary-tree presets; 0 is liblzma's automatic depth, 16 +
        // nice_len / 2.
        opts.depth(XZ_MAX_DEPTH);
    }
    Stream::new_stream_encoder(Filters::new().lzma2(&opts), Check::Crc64).map_err(io::Error::other)
}

/// `part` as a gzip member appended to `out`.
fn gzip_member(out: Vec<u8>, level: flate2::Compression, part: &[u8]) -> io::Result<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(out, level);
    e.write_all(part)?;
    e.finish()
}

/// The compression of an image file, from its first bytes.
pub fn detect(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(b"BZh") {
        Compression::Bzip2
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Compression::Xz
    } else {
        Compression::None
    }
}

/// Reads `input` decompressed, all members or streams of it.
pub fn decompressor<'a, R: Read + 'a>(c: &Compression, input: R) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match c {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(input)),
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(input)),
        Compression::None => Box::new(input),
        Compression::Unknown(name) => {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("unknown compression \"{name}\"")))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_decompress_as_one_file() {
        // Compressible bytes around 512 KiB of noise (stored, in gzip and xz).
        let mut seed = 1u64;
        let mut data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8 ^ (i >> 13) as u8).collect();
        for b in &mut data[1_000_000..1_000_000 + (512 << 10)] {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            *b = (seed >> 24) as u8;
        }
        for c in [Compression::Gzip, Compression::Bzip2, Compression::Xz, Compression::None] {
            let mut file = Vec::new();
            for chunk in data.chunks(chunk_size(&c, default_level(&c))) {
                file.extend(compress_chunk(&c, default_level(&c), chunk).unwrap());
            }
            assert_eq!(detect(&file), c);
            let mut back = Vec::new();
            decompressor(&c, &file[..]).unwrap().read_to_end(&mut back).unwrap();
            assert!(back == data, "{c}");
        }
    }

    #[test]
    fn periodic_bzip2_blocks_go_through_libbz2() {
        // Zeros in runs of 255: after bzip2's run-length step, the same five
        // bytes over and over, which buildy's encoder declines.
        let zeros = vec![0u8; 255 * 7800];
        assert_eq!(super::super::bzip2_encoder::compress(9, &zeros), None);
        let file = compress_chunk(&Compression::Bzip2, 9, &zeros).unwrap();
        let mut back = Vec::new();
        decompressor(&Compression::Bzip2, &file[..]).unwrap().read_to_end(&mut back).unwrap();
        assert!(back == zeros);
    }
}
