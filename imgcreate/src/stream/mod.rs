//! Reading and checking ZFS send streams as they flow past.
//!
//! [`StreamReader`] takes the stream in pieces of any size (it never holds
//! more than one 312-byte record header), checks every record and every
//! checksum, and at the end reports what the stream is: [`StreamInfo`].
//! An image file must hold exactly one non-compound stream, complete, with
//! nothing after its END record.
//!
//! Format facts: OpenZFS `include/sys/zfs_ioctl.h` (`dmu_replay_record_t`)
//! and `module/zfs/dmu_send.c`; the fixtures in `fixtures/streams/` with
//! their `zstream dump -v` output show each record type.

mod fletcher;

pub use fletcher::Fletcher4;

use std::fmt;

use serde::Serialize;

/// Size of a `dmu_replay_record_t`.
pub const RECORD_SIZE: usize = 312;
/// `DMU_BACKUP_MAGIC`.
pub const MAGIC: u64 = 0x2F5B_ACBAC;
const CHECKSUM_OFFSET: usize = 280;

/// The record types, by their `drr_type` number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordType {
    Begin = 0,
    Object = 1,
    FreeObjects = 2,
    Write = 3,
    Free = 4,
    End = 5,
    WriteByref = 6,
    Spill = 7,
    WriteEmbedded = 8,
    ObjectRange = 9,
    Redact = 10,
}

impl RecordType {
    pub const ALL: [RecordType; 11] = [
        RecordType::Begin,
        RecordType::Object,
        RecordType::FreeObjects,
        RecordType::Write,
        RecordType::Free,
        RecordType::End,
        RecordType::WriteByref,
        RecordType::Spill,
        RecordType::WriteEmbedded,
        RecordType::ObjectRange,
        RecordType::Redact,
    ];

    fn from_u32(n: u32) -> Option<Self> {
        Self::ALL.get(n as usize).copied()
    }

    /// The name `zstream dump` uses (`DRR_WRITE` is "WRITE").
    pub fn name(self) -> &'static str {
        match self {
            RecordType::Begin => "BEGIN",
            RecordType::Object => "OBJECT",
            RecordType::FreeObjects => "FREEOBJECTS",
            RecordType::Write => "WRITE",
            RecordType::Free => "FREE",
            RecordType::End => "END",
            RecordType::WriteByref => "WRITE_BYREF",
            RecordType::Spill => "SPILL",
            RecordType::WriteEmbedded => "WRITE_EMBEDDED",
            RecordType::ObjectRange => "OBJECT_RANGE",
            RecordType::Redact => "REDACT",
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The byte order of the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ByteOrder {
    LittleEndian,
    BigEndian,
}

/// Count and payload bytes of one record type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RecordCount {
    pub records: u64,
    pub payload_bytes: u64,
}

/// What a complete, checked stream is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamInfo {
    pub byte_order: ByteOrder,
    /// `versioninfo` bits 0-1: 1 for a substream (the only kind an image holds).
    pub header_type: u32,
    /// `versioninfo` bits 2-31: `DMU_BACKUP_FEATURE_*`.
    pub features: u64,
    /// BEGIN `drr_flags` (1 CLONE, 2 CI_DATA, 4 FREERECORDS, 8 SPILL_BLOCK).
    pub begin_flags: u32,
    /// BEGIN `drr_type`: the objset type (2 is a filesystem, 3 a zvol).
    pub objset_type: u32,
    /// Seconds since the epoch.
    pub creation_time: u64,
    /// Guid of the snapshot the stream recreates. JSON: a decimal string
    /// (guids exceed what a JavaScript number holds exactly).
    #[serde(serialize_with = "decimal_string")]
    pub toguid: u64,
    /// Guid of the snapshot an incremental stream applies to; 0 for a full one.
    #[serde(serialize_with = "decimal_string")]
    pub fromguid: u64,
    /// `pool/dataset@snapshot` as the sender named it.
    pub toname: String,
    /// Per record type, by `zstream dump` name.
    pub records: std::collections::BTreeMap<&'static str, RecordCount>,
    pub total_records: u64,
    pub payload_bytes: u64,
    pub stream_bytes: u64,
    /// Records whose own running checksum was present and checked (newer
    /// senders fill it; zfs-fuse and old illumos leave it zero).
    pub record_checksums_checked: u64,
    /// The END record's checksum of the whole stream matched.
    pub end_checksum_ok: bool,
}

fn decimal_string<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

impl StreamInfo {
    /// An incremental stream applies to a snapshot (`fromguid` is set).
    pub fn is_incremental(&self) -> bool {
        self.fromguid != 0
    }
}

/// Why a stream is not a valid, complete image stream. Each names the byte
/// offset where the problem was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    #[error("not a ZFS send stream: bad magic {found:#x} in the BEGIN record at offset {offset}")]
    BadMagic { offset: u64, found: u64 },
    #[error("the stream does not start with a BEGIN record (found type {found} at offset 0)")]
    NoBegin { found: u32 },
    #[error("compound (zfs send -R) stream at offset {offset}: an image holds a single dataset's stream")]
    Compound { offset: u64 },
    #[error("unknown header type {header_type} in the BEGIN record at offset {offset}")]
    BadHeaderType { offset: u64, header_type: u32 },
    #[error("unknown record type {found} at offset {offset}")]
    UnknownRecord { offset: u64, found: u32 },
    #[error("unexpected second BEGIN record at offset {offset}")]
    NestedBegin { offset: u64 },
    #[error("{record} record at offset {offset} has a payload length of {len} (only BEGIN may)")]
    UnexpectedPayloadLength { offset: u64, record: RecordType, len: u32 },
    #[error("{record} record at offset {offset} claims a payload of {len} bytes, more than any valid stream has")]
    PayloadTooLarge { offset: u64, record: RecordType, len: u64 },
    #[error("checksum mismatch in the {record} record at offset {offset}: the stream is corrupt")]
    RecordChecksum { offset: u64, record: RecordType },
    #[error("END checksum mismatch at offset {offset}: the stream is corrupt")]
    EndChecksum { offset: u64 },
    #[error("END record at offset {offset} names guid {end:#x}, the BEGIN record {begin:#x}")]
    EndGuid { offset: u64, begin: u64, end: u64 },
    #[error("END record at offset {offset} has non-zero bytes where it must be zero")]
    EndPadding { offset: u64 },
    #[error("truncated stream: record header at offset {offset} is cut short")]
    TruncatedRecord { offset: u64 },
    #[error("truncated stream: the payload of the {record} record at offset {offset} is cut short")]
    TruncatedPayload { offset: u64, record: RecordType },
    #[error("truncated stream: no END record (the stream stops at offset {offset})")]
    MissingEnd { offset: u64 },
    #[error("trailing garbage after the END record, at offset {offset}")]
    TrailingData { offset: u64 },
    #[error("empty input: not a ZFS send stream")]
    Empty,
}

impl StreamError {
    /// The byte offset the error is about, if any.
    pub fn offset(&self) -> Option<u64> {
        use StreamError::*;
        match self {
            BadMagic { offset, .. }
            | Compound { offset }
            | BadHeaderType { offset, .. }
            | UnknownRecord { offset, .. }
            | NestedBegin { offset }
            | UnexpectedPayloadLength { offset, .. }
            | PayloadTooLarge { offset, .. }
            | RecordChecksum { offset, .. }
            | EndChecksum { offset }
            | EndGuid { offset, .. }
            | EndPadding { offset }
            | TruncatedRecord { offset }
            | TruncatedPayload { offset, .. }
            | MissingEnd { offset }
            | TrailingData { offset } => Some(*offset),
            NoBegin { .. } => Some(0),
            Empty => None,
        }
    }
}

/// No record payload is larger than this: ZFS blocks are at most 16 MiB,
/// BEGIN nvlists far smaller. A larger length is corruption, and refusing it
/// keeps a corrupt length from looking like a very long payload.
const MAX_PAYLOAD: u64 = 64 << 20;

#[derive(Clone)]
enum State {
    /// Collecting a record header; `have` bytes of it are in `header`.
    Header { have: usize },
    /// Inside the payload of the record that started at `record_offset`.
    Payload { remaining: u64, record: RecordType, record_offset: u64 },
    /// After the END record.
    Done,
    /// An error was reported; nothing more is accepted.
    Failed(StreamError),
}

/// Checks a send stream fed to it in pieces of any size.
///
/// ```
/// # use imgcreate::stream::StreamReader;
/// let mut r = StreamReader::new();
/// assert!(r.update(&[0u8; 10]).is_ok()); // not enough for a record yet
/// assert!(r.finish().is_err());          // and never completed
/// ```
#[derive(Clone)]
pub struct StreamReader {
    state: State,
    header: [u8; RECORD_SIZE],
    offset: u64,
    checksum: Fletcher4,
    /// The sender's byte order, known from the BEGIN record's magic.
    big_endian: bool,
    /// Set once the BEGIN record has been read.
    info: Option<StreamInfo>,
}

impl Default for StreamReader {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamReader {
    pub fn new() -> Self {
        StreamReader {
            state: State::Header { have: 0 },
            header: [0; RECORD_SIZE],
            offset: 0,
            checksum: Fletcher4::new(false),
            big_endian: false,
            info: None,
        }
    }

    /// Feeds the next bytes of the stream. The first error is final: it is
    /// returned here and again from [`StreamReader::finish`].
    pub fn update(&mut self, mut data: &[u8]) -> Result<(), StreamError> {
        while !data.is_empty() {
            match &mut self.state {
                State::Failed(e) => return Err(e.clone()),
                State::Done => {
                    let e = StreamError::TrailingData { offset: self.offset };
                    self.state = State::Failed(e.clone());
                    return Err(e);
                }
                State::Header { have } => {
                    let take = (RECORD_SIZE - *have).min(data.len());
                    self.header[*have..*have + take].copy_from_slice(&data[..take]);
                    *have += take;
                    data = &data[take..];
                    if *have == RECORD_SIZE {
                        if let Err(e) = self.record() {
                            self.state = State::Failed(e.clone());
                            return Err(e);
                        }
                    }
                }
                State::Payload { remaining, .. } => {
                    let take = (*remaining).min(data.len() as u64) as usize;
                    self.checksum.update(&data[..take]);
                    *remaining -= take as u64;
                    self.offset += take as u64;
                    data = &data[take..];
                    if *remaining == 0 {
                        self.state = State::Header { have: 0 };
                    }
                }
            }
        }
        Ok(())
    }

    /// Bytes accepted so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The end of the input: the stream must be complete.
    pub fn finish(self) -> Result<StreamInfo, StreamError> {
        match self.state {
            State::Failed(e) => Err(e),
            State::Done => Ok(self.info.expect("a finished stream has its BEGIN")),
            State::Header { have: 0 } if self.offset == 0 => Err(StreamError::Empty),
            State::Header { have: 0 } => Err(StreamError::MissingEnd { offset: self.offset }),
            State::Header { .. } => Err(StreamError::TruncatedRecord { offset: self.offset }),
            State::Payload { record, record_offset, .. } => {
                Err(StreamError::TruncatedPayload { offset: record_offset, record })
            }
        }
    }

    fn u32_at(&self, at: usize) -> u32 {
        let b = self.header[at..at + 4].try_into().unwrap();
        if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    fn u64_at(&self, at: usize) -> u64 {
        let b = self.header[at..at + 8].try_into().unwrap();
        if self.big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        }
    }

    fn checksum_at(&self, at: usize) -> [u64; 4] {
        [self.u64_at(at), self.u64_at(at + 8), self.u64_at(at + 16), self.u64_at(at + 24)]
    }

    /// A whole record header is in `self.header`, starting at `self.offset`.
    fn record(&mut self) -> Result<(), StreamError> {
        let offset = self.offset;
        if self.info.is_none() {
            self.begin()?;
        }
        let raw_type = self.u32_at(0);
        let record = RecordType::from_u32(raw_type).ok_or(StreamError::UnknownRecord { offset, found: raw_type })?;
        let sum_before_record = self.checksum.value();

        // Every byte up to the record's own checksum field is folded in first;
        // a non-zero stored value there must equal the sum so far.
        self.checksum.update(&self.header[..CHECKSUM_OFFSET]);
        if record != RecordType::Begin {
            let stored = self.checksum_at(CHECKSUM_OFFSET);
            if stored != [0; 4] {
                if stored != self.checksum.value() {
                    return Err(StreamError::RecordChecksum { offset, record });
                }
                self.info.as_mut().unwrap().record_checksums_checked += 1;
            }
        }
        self.checksum.update(&self.header[CHECKSUM_OFFSET..]);

        let payload = match record {
            RecordType::Begin if offset != 0 => return Err(StreamError::NestedBegin { offset }),
            RecordType::Begin => u64::from(self.u32_at(4)),
            RecordType::End => {
                self.end(offset, sum_before_record)?;
                0
            }
            _ => {
                let len = self.u32_at(4);
                if len != 0 {
                    return Err(StreamError::UnexpectedPayloadLength { offset, record, len });
                }
                self.payload_len(record)
            }
        };
        if payload > MAX_PAYLOAD {
            return Err(StreamError::PayloadTooLarge { offset, record, len: payload });
        }

        let info = self.info.as_mut().unwrap();
        let count = info.records.entry(record.name()).or_default();
        count.records += 1;
        count.payload_bytes += payload;
        info.total_records += 1;
        info.payload_bytes += payload;
        self.offset += RECORD_SIZE as u64;
        info.stream_bytes = self.offset + payload;

        self.state = if record == RecordType::End {
            State::Done
        } else if payload > 0 {
            State::Payload { remaining: payload, record, record_offset: offset }
        } else {
            State::Header { have: 0 }
        };
        Ok(())
    }

    /// The first record: BEGIN, its byte order from the magic.
    fn begin(&mut self) -> Result<(), StreamError> {
        let raw_type = u32::from_le_bytes(self.header[0..4].try_into().unwrap());
        let magic_le = u64::from_le_bytes(self.header[8..16].try_into().unwrap());
        let byte_order = if magic_le == MAGIC {
            ByteOrder::LittleEndian
        } else if magic_le.swap_bytes() == MAGIC {
            ByteOrder::BigEndian
        } else if raw_type != 0 && raw_type.swap_bytes() != 0 {
            return Err(StreamError::NoBegin { found: raw_type });
        } else {
            return Err(StreamError::BadMagic { offset: 0, found: magic_le });
        };
        self.big_endian = byte_order == ByteOrder::BigEndian;
        self.checksum = Fletcher4::new(self.big_endian);
        if self.u32_at(0) != RecordType::Begin as u32 {
            return Err(StreamError::NoBegin { found: self.u32_at(0) });
        }
        let versioninfo = self.u64_at(16);
        let header_type = (versioninfo & 3) as u32;
        match header_type {
            1 => {}
            2 => return Err(StreamError::Compound { offset: 0 }),
            other => return Err(StreamError::BadHeaderType { offset: 0, header_type: other }),
        }
        let name_bytes = &self.header[56..56 + 256];
        let name_len = name_bytes.iter().position(|&b| b == 0).unwrap_or(256);
        let toname = String::from_utf8_lossy(&name_bytes[..name_len]).into_owned();
        let (creation_time, objset_type, begin_flags) = (self.u64_at(24), self.u32_at(32), self.u32_at(36));
        let (toguid, fromguid) = (self.u64_at(40), self.u64_at(48));
        self.info = Some(StreamInfo {
            byte_order,
            header_type,
            features: versioninfo >> 2,
            begin_flags,
            objset_type,
            creation_time,
            toguid,
            fromguid,
            toname,
            records: Default::default(),
            total_records: 0,
            payload_bytes: 0,
            stream_bytes: 0,
            record_checksums_checked: 0,
            end_checksum_ok: false,
        });
        Ok(())
    }

    /// END: its checksum covers every byte before it; its guid is BEGIN's;
    /// the rest of it is zero (old streams check nothing else of it).
    fn end(&mut self, offset: u64, sum_before_record: [u64; 4]) -> Result<(), StreamError> {
        if self.checksum_at(8) != sum_before_record {
            return Err(StreamError::EndChecksum { offset });
        }
        let begin = self.info.as_ref().unwrap().toguid;
        let end = self.u64_at(40);
        if end != begin {
            return Err(StreamError::EndGuid { offset, begin, end });
        }
        if self.header[4..8].iter().chain(&self.header[48..CHECKSUM_OFFSET]).any(|&b| b != 0) {
            return Err(StreamError::EndPadding { offset });
        }
        self.info.as_mut().unwrap().end_checksum_ok = true;
        Ok(())
    }

    /// Payload length of a non-BEGIN record, from its fields.
    fn payload_len(&self, record: RecordType) -> u64 {
        match record {
            RecordType::Object => {
                let raw_bonuslen = u64::from(self.u32_at(36));
                if raw_bonuslen != 0 {
                    raw_bonuslen
                } else {
                    u64::from(self.u32_at(28)).div_ceil(8) * 8
                }
            }
            RecordType::Write => {
                let compression = self.header[50];
                if compression != 0 {
                    self.u64_at(96)
                } else {
                    self.u64_at(32)
                }
            }
            RecordType::Spill => {
                let compressed = self.u64_at(40);
                if compressed != 0 {
                    compressed
                } else {
                    self.u64_at(16)
                }
            }
            RecordType::WriteEmbedded => u64::from(self.u32_at(52)).div_ceil(8) * 8,
            _ => 0,
        }
    }
}
