//! The bytes of archive format v1: header, trailer and footer (index + manifest).
//! `docs/FORMAT.md` is the specification; this module follows it field by field.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{corrupt, Compression, SegmentInfo, SegmentMeta};
use crate::crypto::{parse_slots, RawSlot, NONCE_PREFIX_LEN, TAG_LEN};
use crate::Result;

/// First 8 bytes of every archive (PNG-style: catches text-mode transfers).
pub const MAGIC: [u8; 8] = *b"\x89PGBM\r\n\x1a";
/// Last 8 bytes of every complete archive.
pub const TRAILER_MAGIC: [u8; 8] = *b"PGBM-END";
/// The format version this module writes and reads.
pub const FORMAT_VERSION: u16 = 1;

/// Length of the header core (bytes bound into every unit's tag).
pub(crate) const CORE_LEN: usize = 40;
/// Length of the fixed part of the header (core + header_len + slot_count + reserved).
pub(crate) const FIXED_LEN: usize = 48;
/// Length of the header checksum at the end of the header.
pub(crate) const HEADER_CHECKSUM_LEN: usize = 32;
/// Largest header accepted (255 slots of the largest kind fit easily).
pub(crate) const MAX_HEADER_LEN: usize = 64 * 1024;
/// Length of the trailer.
pub(crate) const TRAILER_LEN: usize = 40;
/// Largest footer plaintext accepted by readers (an index of ~30 million frames).
pub(crate) const MAX_FOOTER_PLAIN_LEN: u64 = 1 << 30;

/// Smallest, default and largest frame size (plaintext bytes per frame).
pub(crate) const MIN_FRAME_SIZE: usize = 4 * 1024;
pub(crate) const DEFAULT_FRAME_SIZE: usize = 1024 * 1024;
pub(crate) const MAX_FRAME_SIZE: usize = 16 * 1024 * 1024;

const COMPRESSION_NONE: u8 = 0;
const COMPRESSION_ZSTD: u8 = 1;
const CIPHER_NONE: u8 = 0;
const CIPHER_AES_256_GCM: u8 = 1;

/// The parsed header of an archive.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub archive_id: [u8; 16],
    pub frame_size: u32,
    pub compression: Compression,
    pub encrypted: bool,
    pub nonce_prefix: [u8; NONCE_PREFIX_LEN],
    pub slots: Vec<RawSlot>,
    pub header_len: u32,
    /// SHA-256 of the 40-byte core: bound into every frame's and the footer's tag.
    pub core_digest: [u8; 32],
}

/// The fields of a new header that go into its core.
pub(crate) struct CoreFields {
    pub archive_id: [u8; 16],
    pub frame_size: u32,
    pub compression: Compression,
    pub encrypted: bool,
    pub nonce_prefix: [u8; NONCE_PREFIX_LEN],
}

impl CoreFields {
    /// The 40 core bytes.
    pub fn encode(&self) -> [u8; CORE_LEN] {
        let mut b = [0u8; CORE_LEN];
        b[0..8].copy_from_slice(&MAGIC);
        b[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        // 10..12: header flags, none defined in v1.
        b[12..28].copy_from_slice(&self.archive_id);
        b[28..32].copy_from_slice(&self.frame_size.to_le_bytes());
        let (code, level) = match self.compression {
            Compression::None => (COMPRESSION_NONE, 0),
            Compression::Zstd { level } => (COMPRESSION_ZSTD, level),
        };
        b[32] = code;
        // Levels are validated to fit an i8 when the writer is created.
        b[33] = i8::try_from(level).unwrap_or(0).to_le_bytes()[0];
        b[34] = if self.encrypted {
            CIPHER_AES_256_GCM
        } else {
            CIPHER_NONE
        };
        b[35..38].copy_from_slice(&self.nonce_prefix);
        // 38..40: reserved.
        b
    }
}

/// SHA-256 of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The complete header: core, lengths, slot table, checksum.
pub(crate) fn encode_header(core: &[u8; CORE_LEN], slot_count: u16, slots: &[u8]) -> Vec<u8> {
    let header_len = FIXED_LEN + slots.len() + HEADER_CHECKSUM_LEN;
    let mut h = Vec::with_capacity(header_len);
    h.extend_from_slice(core);
    h.extend_from_slice(
        &u32::try_from(header_len)
            .expect("header length is bounded by 255 slots")
            .to_le_bytes(),
    );
    h.extend_from_slice(&slot_count.to_le_bytes());
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(slots);
    let checksum = sha256(&h);
    h.extend_from_slice(&checksum);
    h
}

/// Checks magic and version in the first bytes of an archive and returns
/// `header_len`. `size` is the archive's total size.
pub(crate) fn header_len(prefix: &[u8], size: u64) -> Result<usize> {
    let magic_len = prefix.len().min(MAGIC.len());
    if prefix[..magic_len] != MAGIC[..magic_len] || size == 0 {
        return Err(corrupt(
            "not a pgbm archive: the header does not start with the pgbm magic bytes",
        ));
    }
    if prefix.len() < FIXED_LEN {
        return Err(corrupt(format!(
            "archive truncated: {size} bytes is shorter than the fixed header"
        )));
    }
    let version = u16::from_le_bytes([prefix[8], prefix[9]]);
    if version != FORMAT_VERSION {
        return Err(corrupt(format!(
            "unsupported archive format version {version} (this pgbm reads version \
             {FORMAT_VERSION}): written by a newer pgbm, or the header is corrupt"
        )));
    }
    let len = le_u32(prefix, 40) as usize;
    if !(FIXED_LEN + HEADER_CHECKSUM_LEN..=MAX_HEADER_LEN).contains(&len) {
        return Err(corrupt(format!(
            "archive header: impossible header length {len}"
        )));
    }
    if len as u64 + TRAILER_LEN as u64 > size {
        return Err(corrupt(format!(
            "archive truncated: {size} bytes cannot hold a {len}-byte header and the trailer"
        )));
    }
    Ok(len)
}

/// Parses and checks a complete header (`bytes` is exactly `header_len` bytes).
pub(crate) fn parse_header(bytes: &[u8]) -> Result<Header> {
    let body_len = bytes.len() - HEADER_CHECKSUM_LEN;
    if sha256(&bytes[..body_len]) != bytes[body_len..] {
        return Err(corrupt(
            "archive header: checksum mismatch (the header or its key slots are corrupt)",
        ));
    }
    let flags = u16::from_le_bytes([bytes[10], bytes[11]]);
    if flags != 0 {
        return Err(corrupt(format!(
            "archive header: unknown header flags {flags:#06x}"
        )));
    }
    let frame_size = le_u32(bytes, 28);
    if !(MIN_FRAME_SIZE..=MAX_FRAME_SIZE).contains(&(frame_size as usize)) {
        return Err(corrupt(format!(
            "archive header: impossible frame size {frame_size}"
        )));
    }
    let compression = match bytes[32] {
        COMPRESSION_NONE => Compression::None,
        COMPRESSION_ZSTD => Compression::Zstd {
            level: i32::from(i8::from_le_bytes([bytes[33]])),
        },
        other => {
            return Err(corrupt(format!(
                "archive header: unknown compression code {other}"
            )))
        }
    };
    let encrypted = match bytes[34] {
        CIPHER_NONE => false,
        CIPHER_AES_256_GCM => true,
        other => {
            return Err(corrupt(format!(
                "archive header: unknown cipher code {other}"
            )))
        }
    };
    let slot_count = u16::from_le_bytes([bytes[44], bytes[45]]);
    if encrypted == (slot_count == 0) {
        return Err(corrupt(format!(
            "archive header: {slot_count} key slots in an {} archive",
            if encrypted {
                "encrypted"
            } else {
                "unencrypted"
            }
        )));
    }
    let slots = parse_slots(&bytes[FIXED_LEN..body_len], slot_count)
        .map_err(|e| corrupt(format!("archive header: {e}")))?;
    let mut archive_id = [0u8; 16];
    archive_id.copy_from_slice(&bytes[12..28]);
    let mut nonce_prefix = [0u8; NONCE_PREFIX_LEN];
    nonce_prefix.copy_from_slice(&bytes[35..38]);
    Ok(Header {
        archive_id,
        frame_size,
        compression,
        encrypted,
        nonce_prefix,
        slots,
        header_len: u32::try_from(bytes.len()).expect("header length checked"),
        core_digest: sha256(&bytes[..CORE_LEN]),
    })
}

/// The fixed-size trailer at the very end of an archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trailer {
    pub footer_offset: u64,
    pub footer_stored_len: u64,
    pub footer_plain_len: u64,
}

impl Trailer {
    pub fn encode(&self) -> [u8; TRAILER_LEN] {
        let mut t = [0u8; TRAILER_LEN];
        t[0..8].copy_from_slice(&self.footer_offset.to_le_bytes());
        t[8..16].copy_from_slice(&self.footer_stored_len.to_le_bytes());
        t[16..24].copy_from_slice(&self.footer_plain_len.to_le_bytes());
        let check = sha256(&t[..24]);
        t[24..32].copy_from_slice(&check[..8]);
        t[32..40].copy_from_slice(&TRAILER_MAGIC);
        t
    }

    /// Parses the last [`TRAILER_LEN`] bytes of an archive of `size` bytes whose
    /// header is `header_len` bytes, and checks that it points inside the archive.
    pub fn parse(t: &[u8], size: u64, header_len: u64) -> Result<Self> {
        if t.len() != TRAILER_LEN || t[32..40] != TRAILER_MAGIC {
            return Err(corrupt(
                "archive truncated or incomplete: the trailer's end marker is missing \
                 (an interrupted upload, or a damaged end of file)",
            ));
        }
        if sha256(&t[..24])[..8] != t[24..32] {
            return Err(corrupt("archive trailer: checksum mismatch"));
        }
        let trailer = Trailer {
            footer_offset: le_u64(t, 0),
            footer_stored_len: le_u64(t, 8),
            footer_plain_len: le_u64(t, 16),
        };
        let end = trailer
            .footer_offset
            .checked_add(trailer.footer_stored_len)
            .and_then(|e| e.checked_add(TRAILER_LEN as u64));
        if trailer.footer_offset < header_len
            || end != Some(size)
            || trailer.footer_stored_len < TAG_LEN as u64
            || trailer.footer_plain_len > MAX_FOOTER_PLAIN_LEN
        {
            return Err(corrupt(format!(
                "archive trailer: footer at {} (+{} bytes) does not fit a {size}-byte \
                 archive: truncated, extended or corrupt",
                trailer.footer_offset, trailer.footer_stored_len
            )));
        }
        Ok(trailer)
    }
}

/// One frame in the index: offset relative to the end of the header, stored length
/// (body + tag), plaintext length. Serialized as a JSON array of three numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FrameEntry(pub u64, pub u32, pub u32);

impl FrameEntry {
    pub fn offset(self) -> u64 {
        self.0
    }
    pub fn stored_len(self) -> u32 {
        self.1
    }
    pub fn plain_len(self) -> u32 {
        self.2
    }
}

/// The footer's plaintext: a JSON object.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Footer {
    pub segments: Vec<FooterSegment>,
    pub manifest: serde_json::Value,
}

/// One segment in the footer.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct FooterSegment {
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub extra: serde_json::Value,
    pub plaintext_size: u64,
    pub plaintext_sha256: String,
    pub stored_size: u64,
    pub frame_count: u32,
    pub frames: Vec<FrameEntry>,
}

impl FooterSegment {
    pub fn new(info: SegmentInfo, frames: Vec<FrameEntry>) -> Self {
        FooterSegment {
            name: info.meta.name,
            kind: info.meta.kind,
            extra: info.meta.extra,
            plaintext_size: info.plaintext_size,
            plaintext_sha256: info.plaintext_sha256,
            stored_size: info.stored_size,
            frame_count: info.frame_count,
            frames,
        }
    }

    /// Splits into the public info and the frame list.
    pub fn into_parts(self) -> (SegmentInfo, Vec<FrameEntry>) {
        let info = SegmentInfo {
            meta: SegmentMeta {
                name: self.name,
                kind: self.kind,
                extra: self.extra,
            },
            plaintext_size: self.plaintext_size,
            plaintext_sha256: self.plaintext_sha256,
            stored_size: self.stored_size,
            frame_count: self.frame_count,
        };
        (info, self.frames)
    }
}

/// Largest stored frame for a frame size: zstd's worst-case bound plus the tag.
pub(crate) fn max_stored_len(frame_size: u32) -> u64 {
    let n = u64::from(frame_size);
    // ZSTD_COMPRESSBOUND(n) = n + n/256 + (n < 128 KiB ? (128 KiB - n) >> 11 : 0).
    n + n / 256 + (128 * 1024) / 2048 + TAG_LEN as u64
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}
