//! The backup container: one object per backup, format v1 (specified byte by byte in
//! `docs/FORMAT.md`).
//!
//! ```text
//! header (magic, version, compression, encryption, key slots, checksum)
//! frames (≤ frame_size plaintext bytes each; frames of different segments interleave)
//! footer (index: each segment's frames; per-segment sizes and SHA-256; manifest JSON)
//! trailer (40 bytes: where the footer is)
//! ```
//!
//! A *segment* is an opaque named byte stream (pre-data SQL, one table's COPY data,
//! post-data SQL, ...) with caller metadata ([`SegmentMeta`]). Each frame goes through
//! the pipeline *hash plaintext → zstd → AES-256-GCM* (or a checksum tag when the
//! archive is not encrypted), and every result — plaintext size and SHA-256, stored
//! size, frame count — is recorded in the footer ([`SegmentInfo`]).
//!
//! Writing: [`ArchiveWriter::new`] writes the header to any `AsyncWrite` sink;
//! [`ArchiveWriter::begin_segment`] returns a [`SegmentWriter`] per segment, which can
//! be driven concurrently from different tasks; [`ArchiveWriter::finish`] writes the
//! footer and trailer. Reading: [`ArchiveReader::open`] over any [`RangeRead`] source
//! (ranged reads: trailer, header, footer), then [`ArchiveReader::open_segment`]
//! streams one segment's plaintext, checked frame by frame and against its SHA-256.
//!
//! # Memory
//!
//! Bounded by the frame size F (default 1 MiB), not by the data:
//! * writer: per open [`SegmentWriter`], one plaintext buffer (F), one stored frame
//!   (≤ F + F/256 + 80 bytes) while it is written, and its zstd context; plus the
//!   index, about 24 bytes per frame. Measured with zstd level 3 and F = 1 MiB: about
//!   5 MiB per open segment writer, the same for 1 GiB and 4 GiB of data.
//! * reader: per open segment stream, one stored and one plaintext frame (2F) and a
//!   zstd decompression context, about 6 MiB measured; plus the parsed footer.
//!
//! # Errors
//!
//! Checksum, authentication, truncation and layout failures are
//! [`ErrorKind::Corrupt`](crate::ErrorKind::Corrupt) with a message naming the region
//! (header, key slot, trailer, footer, or segment/frame and byte offset). A key that
//! opens no slot is [`ErrorKind::WrongKey`](crate::ErrorKind::WrongKey).

mod codec;
mod format;
mod io;
mod range;
mod reader;
mod writer;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use format::{FORMAT_VERSION, MAGIC, TRAILER_MAGIC};
pub use io::{SegmentAsyncWrite, StreamReader};
pub use range::{LocalFile, RangeRead};
pub use reader::{ArchiveInfo, ArchiveReader, SegmentStream, VerifySummary};
pub use writer::{ArchiveSummary, ArchiveWriter, SegmentWriter, WriterOptions};

use crate::{Error, ErrorKind};

/// A segment's identity and caller metadata, stored in the footer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentMeta {
    /// Name, e.g. `"pre-data"` or `"public.orders"`.
    pub name: String,
    /// Kind, e.g. `"pre-data"`, `"table-data"`, `"post-data"`.
    pub kind: String,
    /// Anything else the caller wants to keep with the segment (JSON).
    #[serde(default)]
    pub extra: serde_json::Value,
}

impl SegmentMeta {
    /// A segment named `name` of kind `kind`, without extra metadata.
    pub fn new(name: impl Into<String>, kind: impl Into<String>) -> Self {
        SegmentMeta {
            name: name.into(),
            kind: kind.into(),
            extra: serde_json::Value::Null,
        }
    }

    /// Sets the extra metadata.
    #[must_use]
    pub fn with_extra(mut self, extra: serde_json::Value) -> Self {
        self.extra = extra;
        self
    }
}

/// A finished segment: metadata plus what the pipeline measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentInfo {
    /// Name, kind and extra metadata.
    pub meta: SegmentMeta,
    /// Bytes written into the segment.
    pub plaintext_size: u64,
    /// SHA-256 of the segment's plaintext, lower-case hex.
    pub plaintext_sha256: String,
    /// Bytes the segment's frames occupy in the archive (compressed, with tags).
    pub stored_size: u64,
    /// Number of frames (at least 1; an empty segment has one empty frame).
    pub frame_count: u32,
}

/// How frames are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Stored as is.
    None,
    /// zstd, each frame (and the footer) an independent zstd frame.
    Zstd {
        /// zstd level, -7 to 22 except 0.
        level: i32,
    },
}

impl Default for Compression {
    fn default() -> Self {
        Compression::Zstd { level: 3 }
    }
}

impl Compression {
    /// Checks the level range (it must fit the header's one-byte field).
    pub(crate) fn validate(self) -> crate::Result<Self> {
        match self {
            Compression::Zstd { level } if !(-7..=22).contains(&level) || level == 0 => Err(
                Error::usage(format!("zstd level must be -7 to 22 (not 0), not {level}")),
            ),
            c => Ok(c),
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Compression::None => f.write_str("none"),
            Compression::Zstd { level } => write!(f, "zstd:{level}"),
        }
    }
}

impl FromStr for Compression {
    type Err = Error;

    /// Parses `none`, `zstd` (level 3) or `zstd:LEVEL`.
    fn from_str(s: &str) -> crate::Result<Self> {
        let c = match s.split_once(':') {
            None if s == "none" => Compression::None,
            None if s == "zstd" => Compression::default(),
            Some(("zstd", level)) => Compression::Zstd {
                level: level.parse().map_err(|_| {
                    Error::usage(format!("bad zstd level {level:?} in compression {s:?}"))
                })?,
            },
            _ => {
                return Err(Error::usage(format!(
                    "unknown compression {s:?}: use none, zstd or zstd:LEVEL"
                )))
            }
        };
        c.validate()
    }
}

/// An [`ErrorKind::Corrupt`] error.
pub(crate) fn corrupt(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Corrupt, message)
}

#[cfg(test)]
mod tests;
