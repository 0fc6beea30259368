//! Property tests for the stream reader: any bytes get an answer (never a
//! panic), valid streams are accepted however they are cut up, and any
//! change to a valid stream is noticed.

use crate::util;
use imgcreate::stream::{StreamError, StreamReader};
use proptest::prelude::*;

fn check(pieces: &[&[u8]]) -> Result<imgcreate::stream::StreamInfo, StreamError> {
    let mut r = StreamReader::new();
    for p in pieces {
        r.update(p)?;
    }
    r.finish()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any bytes get an answer, never a panic: an error (random bytes hold no
    /// BEGIN magic, let alone an END checksum), at an offset inside the
    /// input, the same however the input is cut up; `Empty` exactly when
    /// there are no bytes.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4000), cut in 1usize..500) {
        let whole = check(&[&bytes]);
        let pieces: Vec<&[u8]> = bytes.chunks(cut).collect();
        prop_assert_eq!(&check(&pieces), &whole);
        let err = whole.unwrap_err();
        prop_assert!(err.offset().is_none_or(|at| at <= bytes.len() as u64), "{:?}", err);
        prop_assert_eq!(err == StreamError::Empty, bytes.is_empty());
    }

    /// Arbitrary bytes behind a valid BEGIN record exercise every record
    /// type's parsing; still an answer, never a panic or a huge allocation.
    /// The answer is an error (no random END record carries the stream's
    /// checksum) about a record after the valid BEGIN, inside the input, and
    /// the same however the input is cut up.
    #[test]
    fn arbitrary_records_after_a_valid_begin(tail in prop::collection::vec(any::<u8>(), 0..6000), types in prop::collection::vec(0u32..12, 1..8), cut in 1usize..500) {
        let stream = util::synthetic_stream(0, 1, 0, false);
        let mut bytes = stream[..312].to_vec();
        for (i, t) in types.iter().enumerate() {
            let mut rec = [0u8; 312];
            let start = (i * 312) % tail.len().max(1);
            for (j, b) in rec.iter_mut().enumerate() { *b = tail.get(start + j).copied().unwrap_or(0); }
            rec[0..4].copy_from_slice(&t.to_le_bytes());
            bytes.extend_from_slice(&rec);
        }
        bytes.extend_from_slice(&tail);
        let whole = check(&[&bytes]);
        let pieces: Vec<&[u8]> = bytes.chunks(cut).collect();
        prop_assert_eq!(&check(&pieces), &whole);
        let err = whole.unwrap_err();
        let at = err.offset().unwrap();
        prop_assert!((312..=bytes.len() as u64).contains(&at), "{:?}", err);
    }

    #[test]
    fn valid_streams_pass_in_any_pieces(size in 0usize..300_000, guid in 1u64.., from in any::<u64>(), sums in any::<bool>(), cut in 1usize..5000) {
        let stream = util::synthetic_stream(size, guid, from, sums);
        let pieces: Vec<&[u8]> = stream.chunks(cut).collect();
        let info = check(&pieces).unwrap();
        prop_assert_eq!(info.toguid, guid);
        prop_assert_eq!(info.fromguid, from);
        prop_assert_eq!(info.stream_bytes, stream.len() as u64);
        prop_assert_eq!(info.record_checksums_checked > 0, sums);
    }

    #[test]
    fn any_change_is_noticed(size in 0usize..100_000, sums in any::<bool>(), at in any::<prop::sample::Index>(), xor in 1u8..) {
        let mut stream = util::synthetic_stream(size, 77, 0, sums);
        let i = at.index(stream.len());
        stream[i] ^= xor;
        prop_assert!(check(&[&stream]).is_err(), "byte {} ^ {:#x} went unnoticed", i, xor);
    }
}
