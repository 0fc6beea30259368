//! One module per subcommand.

pub mod inspect;
pub mod pack;

use imgmanifest::Compression;

/// Parses `none|gzip|bzip2|xz`.
pub fn parse_compression(s: &str) -> Result<Compression, String> {
    match Compression::from(s) {
        Compression::Unknown(_) => Err(format!("unknown compression \"{s}\" (use none, gzip, bzip2 or xz)")),
        c => Ok(c),
    }
}
