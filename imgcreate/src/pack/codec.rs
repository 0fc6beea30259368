//! The four image file compressions: how a chunk is compressed, and how a
//! whole file is read back.
//!
//! gzip and bzip2 files are written as one member (stream) per chunk,
//! compressed on all cores; both formats allow concatenated members and
//! every decompressor reads them (`gzip -d`, `bzip2 -d`, Node's zlib,
//! imgadm's `gzip -cdfq`). xz uses liblzma's own multi-threaded encoder,
//! which writes one standard `.xz` stream of independent blocks.

use std::io::{self, Read, Write};

use imgmanifest::Compression;

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
/// so 1 MiB chunks cost well under 1% of ratio; bzip2 works in 900 kB
/// blocks, so a chunk holds four of them.
pub fn chunk_size(c: &Compression) -> usize {
    match c {
        Compression::Bzip2 => 4 * 900_000,
        _ => 1 << 20,
    }
}

/// Compresses one chunk into a complete gzip member or bzip2 stream.
pub fn compress_chunk(c: &Compression, level: u32, chunk: &[u8]) -> io::Result<Vec<u8>> {
    let out = Vec::with_capacity(chunk.len() / 2);
    match c {
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(out, flate2::Compression::new(level));
            e.write_all(chunk)?;
            e.finish()
        }
        Compression::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(out, bzip2::Compression::new(level));
            e.write_all(chunk)?;
            e.finish()
        }
        Compression::None => Ok(chunk.to_vec()),
        other => Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{other} is not compressed in chunks"))),
    }
}

/// An xz encoder using `threads` threads, writing to `out`.
pub fn xz_writer<W: Write>(out: W, level: u32, threads: u32) -> io::Result<liblzma::write::XzEncoder<W>> {
    let stream = liblzma::stream::MtStreamBuilder::new()
        .threads(threads.max(1))
        .preset(level)
        .check(liblzma::stream::Check::Crc64)
        .encoder()
        .map_err(io::Error::other)?;
    Ok(liblzma::write::XzEncoder::new_stream(out, stream))
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
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8 ^ (i >> 13) as u8).collect();
        for c in [Compression::Gzip, Compression::Bzip2, Compression::None] {
            let mut file = Vec::new();
            for chunk in data.chunks(chunk_size(&c)) {
                file.extend(compress_chunk(&c, default_level(&c), chunk).unwrap());
            }
            assert_eq!(detect(&file), c);
            let mut back = Vec::new();
            decompressor(&c, &file[..]).unwrap().read_to_end(&mut back).unwrap();
            assert!(back == data, "{c}");
        }
        let mut xz = xz_writer(Vec::new(), 6, 2).unwrap();
        xz.write_all(&data).unwrap();
        let file = xz.finish().unwrap();
        assert_eq!(detect(&file), Compression::Xz);
        let mut back = Vec::new();
        decompressor(&Compression::Xz, &file[..]).unwrap().read_to_end(&mut back).unwrap();
        assert!(back == data);
    }
}
