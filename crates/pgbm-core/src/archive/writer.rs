//! Writing an archive: header first, then frames as segment writers produce them,
//! then footer and trailer.
//!
//! Each [`SegmentWriter`] runs the frame pipeline on tokio's blocking pool (so several
//! segments compress and encrypt in parallel) and then appends its frame to the sink
//! under an async mutex: frames of concurrent segments interleave, and each writer
//! holds at most one frame in flight, which bounds memory.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use sha2::Digest;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::codec::{FrameCodec, SealState};
use super::format::{
    encode_header, sha256, CoreFields, Footer, FooterSegment, FrameEntry, Trailer,
    DEFAULT_FRAME_SIZE, MAX_FRAME_SIZE, MIN_FRAME_SIZE, TRAILER_LEN,
};
use super::io::SegmentAsyncWrite;
use super::{Compression, SegmentInfo, SegmentMeta};
use crate::crypto::{
    encode_slots, random_bytes, to_hex, DataKey, KeySlotsSpec, UnitPosition, UnitProtector,
    NONCE_PREFIX_LEN,
};
use crate::{Error, Result};

/// Options of a new archive.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WriterOptions {
    /// Compression of frames and footer (default zstd level 3).
    pub compression: Compression,
    /// Key slots; `None` writes an unencrypted (checksummed only) archive.
    pub encryption: Option<KeySlotsSpec>,
    /// Plaintext bytes per frame: 4 KiB to 16 MiB (default 1 MiB).
    pub frame_size: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            compression: Compression::default(),
            encryption: None,
            frame_size: DEFAULT_FRAME_SIZE,
        }
    }
}

impl WriterOptions {
    /// Sets the compression.
    #[must_use]
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Encrypts with these key slots.
    #[must_use]
    pub fn with_encryption(mut self, slots: KeySlotsSpec) -> Self {
        self.encryption = Some(slots);
        self
    }

    /// Sets the frame size.
    #[must_use]
    pub fn with_frame_size(mut self, frame_size: usize) -> Self {
        self.frame_size = frame_size;
        self
    }
}

/// What [`ArchiveWriter::finish`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArchiveSummary {
    /// The archive's random id (32 hex digits).
    pub archive_id: String,
    /// Total bytes written.
    pub total_size: u64,
    /// Bytes of the header.
    pub header_size: u64,
    /// Bytes of all frames.
    pub frames_size: u64,
    /// Bytes of the stored footer.
    pub footer_size: u64,
    /// Sum of the segments' plaintext sizes.
    pub plaintext_size: u64,
    /// The segments, in the order they were begun.
    pub segments: Vec<SegmentInfo>,
}

/// Writes one archive to `W`. See the [module documentation](super).
pub struct ArchiveWriter<W> {
    shared: Arc<Shared<W>>,
}

struct Shared<W> {
    codec: Arc<FrameCodec>,
    frame_size: usize,
    header_len: u64,
    archive_id: [u8; 16],
    sink: tokio::sync::Mutex<SinkState<W>>,
    registry: Mutex<Vec<SegmentRecord>>,
}

struct SinkState<W> {
    sink: W,
    /// Bytes of frames written so far (= offset of the next frame, relative to the
    /// end of the header).
    written: u64,
    /// Set when a write failed or was cancelled half-way: the archive is unusable.
    failed: Option<String>,
}

struct SegmentRecord {
    meta: SegmentMeta,
    frames: Vec<FrameEntry>,
    finished: Option<SegmentInfo>,
}

impl<W> fmt::Debug for ArchiveWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArchiveWriter")
            .field("archive_id", &to_hex(&self.shared.archive_id))
            .field("codec", &self.shared.codec)
            .field("frame_size", &self.shared.frame_size)
            .finish_non_exhaustive()
    }
}

impl<W: AsyncWrite + Unpin + Send> ArchiveWriter<W> {
    /// Starts an archive: generates its id, data key and key slots, and writes the
    /// header to `sink`.
    ///
    /// # Errors
    /// [`ErrorKind::Usage`](crate::ErrorKind::Usage) for bad options (frame size,
    /// level, encryption without slots); [`ErrorKind::Io`](crate::ErrorKind::Io) if
    /// writing the header fails.
    pub async fn new(mut sink: W, options: WriterOptions) -> Result<Self> {
        let compression = options.compression.validate()?;
        let frame_size = options.frame_size;
        if !(MIN_FRAME_SIZE..=MAX_FRAME_SIZE).contains(&frame_size) {
            return Err(Error::usage(format!(
                "frame size must be {MIN_FRAME_SIZE} to {MAX_FRAME_SIZE} bytes, not {frame_size}"
            )));
        }
        let mut archive_id = [0u8; 16];
        random_bytes(&mut archive_id)?;
        let mut nonce_prefix = [0u8; NONCE_PREFIX_LEN];
        let data_key = match &options.encryption {
            None => None,
            Some(spec) if spec.is_empty() || spec.len() > 255 => {
                return Err(Error::usage(
                    "an encrypted archive needs 1 to 255 key slots (passphrase or key file)",
                ))
            }
            Some(_) => {
                random_bytes(&mut nonce_prefix)?;
                Some(DataKey::generate()?)
            }
        };
        let core = CoreFields {
            archive_id,
            frame_size: u32::try_from(frame_size).expect("frame size checked"),
            compression,
            encrypted: data_key.is_some(),
            nonce_prefix,
        }
        .encode();
        let core_digest = sha256(&core);
        let (slot_count, slots) = match (&options.encryption, &data_key) {
            (Some(spec), Some(key)) => (
                u16::try_from(spec.len()).expect("slot count checked"),
                encode_slots(spec, key, &core_digest)?,
            ),
            _ => (0, Vec::new()),
        };
        let header = encode_header(&core, slot_count, &slots);
        sink.write_all(&header)
            .await
            .map_err(|e| Error::io("writing the archive header", e))?;
        let codec = FrameCodec {
            protector: UnitProtector::new(data_key.as_ref(), core_digest, nonce_prefix),
            compression,
        };
        Ok(ArchiveWriter {
            shared: Arc::new(Shared {
                codec: Arc::new(codec),
                frame_size,
                header_len: header.len() as u64,
                archive_id,
                sink: tokio::sync::Mutex::new(SinkState {
                    sink,
                    written: 0,
                    failed: None,
                }),
                registry: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Begins a new segment (numbered in the order of this call). The returned
    /// writer may be moved to another task; several may be written concurrently.
    /// Every begun segment must be [finished](SegmentWriter::finish) before
    /// [`finish`](Self::finish).
    ///
    /// # Errors
    /// [`ErrorKind::Usage`](crate::ErrorKind::Usage) past 2³² − 1 segments;
    /// [`ErrorKind::Internal`](crate::ErrorKind::Internal) if zstd cannot start.
    pub fn begin_segment(&self, meta: SegmentMeta) -> Result<SegmentWriter<W>> {
        let state = self.shared.codec.seal_state()?;
        let mut registry = self.shared.lock_registry();
        let number = u32::try_from(registry.len())
            .ok()
            .filter(|n| *n < u32::MAX)
            .ok_or_else(|| Error::usage("too many segments in one archive"))?;
        registry.push(SegmentRecord {
            meta,
            frames: Vec::new(),
            finished: None,
        });
        Ok(SegmentWriter {
            shared: Arc::clone(&self.shared),
            number,
            buf: Vec::with_capacity(self.shared.frame_size),
            state: Some(state),
            frames: 0,
            plaintext_size: 0,
            stored_size: 0,
        })
    }

    /// Writes the footer (index and `manifest`) and the trailer, then flushes and
    /// shuts down the sink.
    ///
    /// # Errors
    /// [`ErrorKind::Internal`](crate::ErrorKind::Internal) if a begun segment was not
    /// finished; [`ErrorKind::Io`](crate::ErrorKind::Io) if writing fails (also if an
    /// earlier frame write failed).
    pub async fn finish(self, manifest: serde_json::Value) -> Result<ArchiveSummary> {
        Ok(self.finish_into_inner(manifest).await?.0)
    }

    /// Like [`finish`](Self::finish), and also returns the sink.
    ///
    /// # Errors
    /// As [`finish`](Self::finish).
    pub async fn finish_into_inner(
        self,
        manifest: serde_json::Value,
    ) -> Result<(ArchiveSummary, W)> {
        let shared = Arc::try_unwrap(self.shared).map_err(|_| {
            Error::internal("archive finished while a segment writer is still alive")
        })?;
        let (segments, footer) = build_footer(shared.take_registry(), manifest)?;
        let json = serde_json::to_vec(&footer)
            .map_err(|e| Error::internal(format!("serializing the archive footer: {e}")))?;
        let stored = seal_footer(&shared.codec, &json)?;
        let mut state = shared.sink.into_inner();
        if let Some(why) = state.failed {
            return Err(Error::io(
                "finishing the archive",
                std::io::Error::other(format!("an earlier write failed: {why}")),
            ));
        }
        let trailer = Trailer {
            footer_offset: shared.header_len + state.written,
            footer_stored_len: stored.len() as u64,
            footer_plain_len: json.len() as u64,
        };
        write_tail(&mut state.sink, &stored, &trailer.encode()).await?;
        let summary = ArchiveSummary {
            archive_id: to_hex(&shared.archive_id),
            total_size: trailer.footer_offset + stored.len() as u64 + TRAILER_LEN as u64,
            header_size: shared.header_len,
            frames_size: state.written,
            footer_size: stored.len() as u64,
            plaintext_size: segments.iter().map(|s| s.plaintext_size).sum(),
            segments,
        };
        Ok((summary, state.sink))
    }
}

/// Checks that every segment was finished and assembles the footer.
fn build_footer(
    records: Vec<SegmentRecord>,
    manifest: serde_json::Value,
) -> Result<(Vec<SegmentInfo>, Footer)> {
    let mut infos = Vec::with_capacity(records.len());
    let mut segments = Vec::with_capacity(records.len());
    for (i, record) in records.into_iter().enumerate() {
        let info = record.finished.ok_or_else(|| {
            Error::internal(format!(
                "segment {i} ({:?}) was begun but not finished",
                record.meta.name
            ))
        })?;
        infos.push(info.clone());
        segments.push(FooterSegment::new(info, record.frames));
    }
    Ok((infos, Footer { segments, manifest }))
}

fn seal_footer(codec: &FrameCodec, json: &[u8]) -> Result<Vec<u8>> {
    let mut compressor = match codec.compression {
        Compression::None => None,
        Compression::Zstd { level } => Some(
            zstd::bulk::Compressor::new(level)
                .map_err(|e| Error::internal(format!("cannot create a zstd compressor: {e}")))?,
        ),
    };
    codec.seal(compressor.as_mut(), UnitPosition::Footer, json)
}

async fn write_tail<W: AsyncWrite + Unpin>(
    sink: &mut W,
    footer: &[u8],
    trailer: &[u8],
) -> Result<()> {
    let io = |e| Error::io("writing the archive footer", e);
    sink.write_all(footer).await.map_err(io)?;
    sink.write_all(trailer).await.map_err(io)?;
    sink.flush().await.map_err(io)?;
    sink.shutdown().await.map_err(io)
}

impl<W> Shared<W> {
    fn lock_registry(&self) -> MutexGuard<'_, Vec<SegmentRecord>> {
        // Mutations under this lock are single pushes/assignments: never half-done.
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take_registry(&self) -> Vec<SegmentRecord> {
        std::mem::take(&mut *self.lock_registry())
    }
}

/// Writes one segment's bytes. Obtained from [`ArchiveWriter::begin_segment`].
///
/// Not cancel-safe: if a [`write`](Self::write) or [`finish`](Self::finish) future is
/// dropped before it completes, the archive can no longer be finished.
pub struct SegmentWriter<W> {
    shared: Arc<Shared<W>>,
    number: u32,
    buf: Vec<u8>,
    /// Taken while a frame is in the pipeline; `None` afterwards means a write failed
    /// or was cancelled.
    state: Option<SealState>,
    frames: u32,
    plaintext_size: u64,
    stored_size: u64,
}

impl<W> fmt::Debug for SegmentWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SegmentWriter")
            .field("number", &self.number)
            .field("frames", &self.frames)
            .field("plaintext_size", &self.plaintext_size)
            .finish_non_exhaustive()
    }
}

impl<W: AsyncWrite + Unpin + Send> SegmentWriter<W> {
    /// Appends `data` to the segment. Full frames are compressed, sealed and written
    /// as they fill; the call returns when they are in the sink.
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) if writing to the sink fails (now or
    /// earlier, in any segment).
    pub async fn write(&mut self, mut data: &[u8]) -> Result<()> {
        while !data.is_empty() {
            // A full buffer is sent only once more data arrives, so that the final
            // frame is always sent by `finish` with the last-frame flag.
            if self.frame_full() {
                self.emit(false).await?;
            }
            let took = self.buffer(data);
            data = &data[took..];
        }
        Ok(())
    }

    /// True if the buffer holds a full frame (the next byte written sends it).
    pub(super) fn frame_full(&self) -> bool {
        self.buf.len() == self.shared.frame_size
    }

    /// Buffers as much of `data` as fits in the current frame; returns how much.
    pub(super) fn buffer(&mut self, data: &[u8]) -> usize {
        let take = (self.shared.frame_size - self.buf.len()).min(data.len());
        self.buf.extend_from_slice(&data[..take]);
        take
    }

    /// Adapts this writer to [`tokio::io::AsyncWrite`]; shutting the adapter down
    /// finishes the segment.
    pub fn into_async_write(self) -> SegmentAsyncWrite<W>
    where
        W: 'static,
    {
        SegmentAsyncWrite::new(self)
    }

    /// Writes the last frame and records the segment; returns its info.
    ///
    /// # Errors
    /// As [`write`](Self::write).
    pub async fn finish(mut self) -> Result<SegmentInfo> {
        self.emit(true).await?;
        let state = self.state.take().ok_or_else(poisoned)?;
        let mut registry = self.shared.lock_registry();
        let record = &mut registry[self.number as usize];
        let info = SegmentInfo {
            meta: record.meta.clone(),
            plaintext_size: self.plaintext_size,
            plaintext_sha256: to_hex(&state.hasher.finalize()),
            stored_size: self.stored_size,
            frame_count: self.frames,
        };
        record.finished = Some(info.clone());
        Ok(info)
    }

    /// Sends the buffered plaintext through the pipeline and into the sink.
    pub(super) async fn emit(&mut self, last: bool) -> Result<()> {
        let mut state = self.state.take().ok_or_else(poisoned)?;
        let pos = UnitPosition::Frame {
            segment: self.number,
            frame: self.frames,
            last,
        };
        let plain_len = u32::try_from(self.buf.len()).expect("frame size < 4 GiB");
        let codec = Arc::clone(&self.shared.codec);
        let mut buf = std::mem::take(&mut self.buf);
        let (state, buf, stored) = tokio::task::spawn_blocking(move || {
            let stored = codec.seal_frame(&mut state, pos, &buf);
            buf.clear();
            (state, buf, stored)
        })
        .await
        .map_err(|e| Error::internal(format!("frame pipeline task failed: {e}")))?;
        let stored = stored?;
        self.buf = buf;
        self.append(&stored, plain_len).await?;
        self.state = Some(state);
        self.frames = self
            .frames
            .checked_add(1)
            .ok_or_else(|| Error::usage("segment too large (2^32 frames)"))?;
        self.plaintext_size += u64::from(plain_len);
        self.stored_size += stored.len() as u64;
        Ok(())
    }

    /// Appends a stored frame to the sink and to the index.
    async fn append(&self, stored: &[u8], plain_len: u32) -> Result<()> {
        let mut sink = self.shared.sink.lock().await;
        if let Some(why) = &sink.failed {
            return Err(Error::io(
                format_args!("writing segment {}", self.number),
                std::io::Error::other(format!("an earlier write failed: {why}")),
            ));
        }
        // Marked failed until the write completes, so a cancelled write (future
        // dropped half-way) leaves the archive visibly broken, not silently short.
        sink.failed = Some("a frame write was cancelled".into());
        if let Err(e) = sink.sink.write_all(stored).await {
            sink.failed = Some(e.to_string());
            return Err(Error::io(
                format_args!("writing frame {} of segment {}", self.frames, self.number),
                e,
            ));
        }
        sink.failed = None;
        let offset = sink.written;
        sink.written += stored.len() as u64;
        let entry = FrameEntry(
            offset,
            u32::try_from(stored.len()).expect("stored frame < 4 GiB"),
            plain_len,
        );
        self.shared.lock_registry()[self.number as usize]
            .frames
            .push(entry);
        Ok(())
    }
}

fn poisoned() -> Error {
    Error::internal("segment writer used after a failed or cancelled write")
}
