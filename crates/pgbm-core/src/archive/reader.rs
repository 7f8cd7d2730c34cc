//! Reading an archive with ranged reads: header and trailer, key slots, footer; then
//! any segment on its own, frame by frame.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use serde::Serialize;
use sha2::Digest;

use super::codec::{FrameCodec, OpenState};
use super::format::{
    header_len, max_stored_len, parse_header, FooterSegment, FrameEntry, Header, Trailer,
    FORMAT_VERSION, TRAILER_LEN,
};
use super::{corrupt, Compression, RangeRead, SegmentInfo};
use crate::crypto::{
    open_slots, to_hex, KeySource, SlotKind, UnitPosition, UnitProtector, TAG_LEN,
};
use crate::{Error, Result};

/// A segment's plaintext, in chunks of at most one frame. Every chunk has passed its
/// frame's authentication (or checksum); after the last chunk the stream checks the
/// segment's SHA-256 and ends with an error if it differs.
pub type SegmentStream = BoxStream<'static, Result<Bytes>>;

/// What the header and trailer say about an archive.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveInfo {
    /// Format version (1).
    pub format_version: u16,
    /// The archive's random id (32 hex digits).
    pub archive_id: String,
    /// Compression of frames and footer.
    pub compression: Compression,
    /// True if frames and footer are encrypted.
    pub encrypted: bool,
    /// The key slots (empty if not encrypted).
    pub key_slots: Vec<SlotKind>,
    /// Plaintext bytes per frame (all frames but a segment's last are full).
    pub frame_size: u32,
    /// Total size in bytes.
    pub size: u64,
}

/// What [`ArchiveReader::verify_all`] checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifySummary {
    /// Segments checked.
    pub segments: usize,
    /// Frames authenticated and decompressed.
    pub frames: u64,
    /// Plaintext bytes hashed.
    pub plaintext_size: u64,
    /// Stored bytes read.
    pub stored_size: u64,
}

/// An open archive. Cheap to clone; segments can be streamed concurrently.
pub struct ArchiveReader<R> {
    inner: Arc<Inner<R>>,
}

impl<R> Clone for ArchiveReader<R> {
    fn clone(&self) -> Self {
        ArchiveReader {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<R> {
    src: R,
    codec: Arc<FrameCodec>,
    info: ArchiveInfo,
    header_len: u64,
    segments: Vec<SegmentInfo>,
    frames: Vec<Vec<FrameEntry>>,
    manifest: serde_json::Value,
}

impl<R> fmt::Debug for ArchiveReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArchiveReader")
            .field("info", &self.inner.info)
            .field("segments", &self.inner.segments.len())
            .finish_non_exhaustive()
    }
}

impl<R: RangeRead + 'static> ArchiveReader<R> {
    /// Opens an archive: reads and checks the header and trailer, opens a key slot
    /// with `keys` (if encrypted), and reads, authenticates and parses the footer.
    ///
    /// # Errors
    /// [`ErrorKind::Corrupt`](crate::ErrorKind::Corrupt) if any check fails (the
    /// message names the region); [`ErrorKind::WrongKey`](crate::ErrorKind::WrongKey)
    /// if no key slot opens; errors of `src`.
    pub async fn open(src: R, keys: &KeySource) -> Result<Self> {
        let size = src.size().await?;
        let header = read_header(&src, size).await?;
        let header_len = u64::from(header.header_len);
        let tail_at = size.saturating_sub(TRAILER_LEN as u64);
        let tail = read_exact(&src, tail_at, TRAILER_LEN, "archive trailer").await?;
        let trailer = Trailer::parse(&tail, size, header_len)?;
        let data_key = if header.encrypted {
            Some(open_slots(&header.slots, keys, &header.core_digest).await?)
        } else {
            None
        };
        let codec = FrameCodec {
            protector: UnitProtector::new(
                data_key.as_ref(),
                header.core_digest,
                header.nonce_prefix,
            ),
            compression: header.compression,
        };
        let footer = read_footer(&src, &codec, &trailer).await?;
        let data_len = trailer.footer_offset - header_len;
        validate_index(&footer.segments, header.frame_size, data_len)?;
        let (segments, frames) = footer
            .segments
            .into_iter()
            .map(FooterSegment::into_parts)
            .unzip();
        let info = ArchiveInfo {
            format_version: FORMAT_VERSION,
            archive_id: to_hex(&header.archive_id),
            compression: header.compression,
            encrypted: header.encrypted,
            key_slots: header.slots.iter().map(|s| s.kind.clone()).collect(),
            frame_size: header.frame_size,
            size,
        };
        Ok(ArchiveReader {
            inner: Arc::new(Inner {
                src,
                codec: Arc::new(codec),
                info,
                header_len,
                segments,
                frames,
                manifest: footer.manifest,
            }),
        })
    }

    /// Header facts: id, compression, encryption, key slots, sizes.
    pub fn info(&self) -> &ArchiveInfo {
        &self.inner.info
    }

    /// The segments, in the order they were begun when writing.
    pub fn segments(&self) -> &[SegmentInfo] {
        &self.inner.segments
    }

    /// The caller's manifest stored in the footer.
    pub fn manifest(&self) -> &serde_json::Value {
        &self.inner.manifest
    }

    /// Index of the first segment named `name`.
    pub fn find_segment(&self, name: &str) -> Option<usize> {
        self.inner.segments.iter().position(|s| s.meta.name == name)
    }

    /// Streams the plaintext of segment `index`, reading only its frames.
    ///
    /// # Errors
    /// [`ErrorKind::Usage`](crate::ErrorKind::Usage) if there is no such segment. The
    /// stream yields [`ErrorKind::Corrupt`](crate::ErrorKind::Corrupt) for a frame
    /// that fails its checks or a SHA-256 mismatch, naming segment, frame and offset.
    pub fn open_segment(&self, index: usize) -> Result<SegmentStream> {
        if index >= self.inner.segments.len() {
            return Err(Error::usage(format!(
                "no segment {index}: the archive has {}",
                self.inner.segments.len()
            )));
        }
        let state = FrameCursor {
            inner: Arc::clone(&self.inner),
            segment: index,
            next: 0,
            state: Some(self.inner.codec.open_state()?),
        };
        Ok(futures_util::stream::try_unfold(state, FrameCursor::next_chunk).boxed())
    }

    /// Streams the plaintext of all segments in order: the whole script of a dump
    /// (wrap it in [`StreamReader`](super::StreamReader) for an `AsyncBufRead`).
    pub fn open_all(&self) -> SegmentStream {
        let reader = self.clone();
        futures_util::stream::iter(0..self.inner.segments.len())
            .map(move |i| reader.open_segment(i))
            .try_flatten()
            .boxed()
    }

    /// Reads every segment, authenticating every frame and checking every segment's
    /// size and SHA-256. Needs no database.
    ///
    /// # Errors
    /// The first failure, as [`open_segment`](Self::open_segment)'s stream reports it.
    pub async fn verify_all(&self) -> Result<VerifySummary> {
        let mut summary = VerifySummary {
            segments: 0,
            frames: 0,
            plaintext_size: 0,
            stored_size: 0,
        };
        for (i, info) in self.inner.segments.iter().enumerate() {
            let mut stream = self.open_segment(i)?;
            while let Some(chunk) = stream.try_next().await? {
                summary.plaintext_size += chunk.len() as u64;
            }
            summary.segments += 1;
            summary.frames += u64::from(info.frame_count);
            summary.stored_size += info.stored_size;
        }
        Ok(summary)
    }
}

#[cfg(test)]
impl<R> ArchiveReader<R> {
    /// Absolute (offset, stored length) of every frame of segment `index`.
    pub(crate) fn frame_spans(&self, index: usize) -> Vec<(u64, u64)> {
        self.inner.frames[index]
            .iter()
            .map(|f| {
                (
                    self.inner.header_len + f.offset(),
                    u64::from(f.stored_len()),
                )
            })
            .collect()
    }
}

/// Reads the header: magic and version first, then the rest, then its checksum.
async fn read_header<R: RangeRead>(src: &R, size: u64) -> Result<Header> {
    let first = usize::try_from(size.min(4096)).expect("at most 4096");
    let head = read_exact(src, 0, first, "archive header").await?;
    let len = header_len(&head, size)?;
    let bytes = if len <= head.len() {
        head.slice(..len)
    } else {
        read_exact(src, 0, len, "archive header").await?
    };
    parse_header(&bytes)
}

async fn read_footer<R: RangeRead>(
    src: &R,
    codec: &FrameCodec,
    trailer: &Trailer,
) -> Result<super::format::Footer> {
    let len = usize::try_from(trailer.footer_stored_len)
        .map_err(|_| corrupt("archive footer: too large"))?;
    let stored = read_exact(src, trailer.footer_offset, len, "archive footer").await?;
    let plain_len = usize::try_from(trailer.footer_plain_len).expect("bounded by 1 GiB");
    let mut decompressor = match codec.compression {
        Compression::None => None,
        Compression::Zstd { .. } => Some(
            zstd::bulk::Decompressor::new()
                .map_err(|e| Error::internal(format!("cannot create a zstd decompressor: {e}")))?,
        ),
    };
    let json = codec
        .open(
            decompressor.as_mut(),
            UnitPosition::Footer,
            plain_len,
            stored.into(),
        )
        .map_err(|reason| corrupt(format!("archive footer: {reason}")))?;
    serde_json::from_slice(&json).map_err(|e| {
        corrupt(format!(
            "archive footer: the index is not valid JSON of format v1: {e}"
        ))
    })
}

/// Checks the index against itself and the archive layout: frame counts and sizes add
/// up, every frame but a segment's last is full, and the frames exactly tile the data
/// area (no gap, no overlap, nothing outside it).
fn validate_index(segments: &[FooterSegment], frame_size: u32, data_len: u64) -> Result<()> {
    let mut spans = Vec::new();
    for (i, s) in segments.iter().enumerate() {
        let bad =
            |what: String| corrupt(format!("archive index: segment {i} ({:?}): {what}", s.name));
        if s.frames.is_empty() || s.frames.len() != s.frame_count as usize {
            return Err(bad(format!(
                "lists {} frames, its count says {}",
                s.frames.len(),
                s.frame_count
            )));
        }
        if crate::crypto::from_hex::<32>(&s.plaintext_sha256).is_none() {
            return Err(bad("plaintext SHA-256 is not 64 hex digits".into()));
        }
        let last = s.frames.len() - 1;
        for (j, f) in s.frames.iter().enumerate() {
            let full = f.plain_len() == frame_size;
            if f.plain_len() > frame_size || (j < last && !full) {
                return Err(bad(format!(
                    "frame {j} has {} plaintext bytes",
                    f.plain_len()
                )));
            }
            let stored = u64::from(f.stored_len());
            if stored < TAG_LEN as u64 || stored > max_stored_len(frame_size) {
                return Err(bad(format!(
                    "frame {j} has an impossible stored size {stored}"
                )));
            }
            spans.push((f.offset(), stored));
        }
        let plain: u64 = s.frames.iter().map(|f| u64::from(f.plain_len())).sum();
        let stored: u64 = s.frames.iter().map(|f| u64::from(f.stored_len())).sum();
        if plain != s.plaintext_size || stored != s.stored_size {
            return Err(bad(
                "frame sizes do not add up to the segment's sizes".into()
            ));
        }
    }
    spans.sort_unstable();
    let mut end = 0u64;
    for (offset, len) in spans {
        if offset != end {
            return Err(corrupt(format!(
                "archive index: frames do not tile the data area (gap or overlap at data byte {end})"
            )));
        }
        end += len;
    }
    if end != data_len {
        return Err(corrupt(format!(
            "archive index: frames cover {end} bytes but the data area is {data_len} bytes"
        )));
    }
    Ok(())
}

/// Reads exactly `len` bytes at `offset`.
async fn read_exact<R: RangeRead>(src: &R, offset: u64, len: usize, what: &str) -> Result<Bytes> {
    let bytes = src.read_range(offset, len).await?;
    if bytes.len() != len {
        return Err(corrupt(format!(
            "{what}: short read ({} of {len} bytes at offset {offset})",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// The position of a segment stream.
struct FrameCursor<R> {
    inner: Arc<Inner<R>>,
    segment: usize,
    next: usize,
    /// Taken while a frame is in the pipeline.
    state: Option<OpenState>,
}

impl<R: RangeRead + 'static> FrameCursor<R> {
    /// The next non-empty plaintext chunk, or `None` after the last frame once the
    /// segment's SHA-256 matched.
    async fn next_chunk(mut self) -> Result<Option<(Bytes, Self)>> {
        loop {
            let count = self.inner.frames[self.segment].len();
            if self.next == count {
                self.check_digest()?;
                return Ok(None);
            }
            let plain = self.read_frame(self.next, count).await?;
            self.next += 1;
            if !plain.is_empty() {
                return Ok(Some((Bytes::from(plain), self)));
            }
        }
    }

    async fn read_frame(&mut self, j: usize, count: usize) -> Result<Vec<u8>> {
        let entry = self.inner.frames[self.segment][j];
        let at = self.inner.header_len + entry.offset();
        let len = entry.stored_len() as usize;
        let region = || {
            format!(
                "archive segment {} ({:?}) frame {j} of {count} (bytes {at}..{})",
                self.segment,
                self.inner.segments[self.segment].meta.name,
                at + len as u64
            )
        };
        let stored = read_exact(&self.inner.src, at, len, &region()).await?;
        let pos = UnitPosition::Frame {
            segment: u32::try_from(self.segment).expect("segment numbers are u32"),
            frame: u32::try_from(j).expect("frame numbers are u32"),
            last: j + 1 == count,
        };
        let codec = Arc::clone(&self.inner.codec);
        let mut state = self
            .state
            .take()
            .expect("state is returned after every frame");
        let plain_len = entry.plain_len() as usize;
        let (state, result) = tokio::task::spawn_blocking(move || {
            let r = codec.open_frame(&mut state, pos, plain_len, stored.into());
            (state, r)
        })
        .await
        .map_err(|e| Error::internal(format!("frame pipeline task failed: {e}")))?;
        self.state = Some(state);
        result.map_err(|reason| corrupt(format!("{}: {reason}", region())))
    }

    fn check_digest(&mut self) -> Result<()> {
        let state = self
            .state
            .take()
            .expect("state is returned after every frame");
        let info = &self.inner.segments[self.segment];
        let actual = to_hex(&state.hasher.finalize());
        if actual != info.plaintext_sha256.to_ascii_lowercase() {
            return Err(corrupt(format!(
                "archive segment {} ({:?}): plaintext SHA-256 is {actual}, the index says {}",
                self.segment, info.meta.name, info.plaintext_sha256
            )));
        }
        Ok(())
    }
}
