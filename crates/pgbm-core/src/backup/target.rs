//! The dump's segments go into an archive: [`ArchiveTarget`] is the
//! [`DumpTarget`] of a backup. It numbers segments as the archive does, records what
//! each segment's pipeline measured, and feeds the progress counters.

use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::manifest::{kind_name, WrittenSegment};
use super::progress::{newlines, Progress};
use crate::archive::{ArchiveWriter, SegmentAsyncWrite, SegmentMeta};
use crate::dump::{DumpTarget, SegmentKind, SegmentSpec, SegmentStats};
use crate::{Error, Result};

/// Writes a segmented dump into an archive.
pub(crate) struct ArchiveTarget<W> {
    writer: ArchiveWriter<W>,
    /// The archive number of the next segment. Held while beginning a segment, so
    /// the number recorded is the one the archive gives it.
    next: Mutex<u32>,
    written: Mutex<BTreeMap<usize, WrittenSegment>>,
    progress: Arc<Progress>,
}

impl<W: AsyncWrite + Unpin + Send + 'static> ArchiveTarget<W> {
    pub fn new(writer: ArchiveWriter<W>, progress: Arc<Progress>) -> Self {
        ArchiveTarget {
            writer,
            next: Mutex::new(0),
            written: Mutex::new(BTreeMap::new()),
            progress,
        }
    }

    /// The archive writer (to finish it) and what each dump position recorded.
    pub fn into_parts(self) -> (ArchiveWriter<W>, BTreeMap<usize, WrittenSegment>) {
        let written = self
            .written
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        (self.writer, written)
    }
}

/// One segment being written: the archive's adapter plus counters.
pub(crate) struct TargetSegment<W> {
    inner: SegmentAsyncWrite<W>,
    archive_segment: u32,
    table_data: bool,
    /// Newlines counted so far (rows, approximately) of a table data segment.
    counted: u64,
    progress: Arc<Progress>,
}

impl<W: AsyncWrite + Unpin + Send + 'static> DumpTarget for ArchiveTarget<W> {
    type Segment = TargetSegment<W>;

    async fn open_segment(&self, spec: &SegmentSpec) -> Result<Self::Segment> {
        let meta = SegmentMeta::new(spec.name.clone(), kind_name(spec.kind))
            .with_extra(serde_json::json!({ "index": spec.index }));
        let (archive_segment, writer) = {
            let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
            let writer = self.writer.begin_segment(meta)?;
            let number = *next;
            *next += 1;
            (number, writer)
        };
        Ok(TargetSegment {
            inner: writer.into_async_write(),
            archive_segment,
            table_data: spec.kind == SegmentKind::TableData,
            counted: 0,
            progress: Arc::clone(&self.progress),
        })
    }

    async fn close_segment(
        &self,
        spec: &SegmentSpec,
        mut segment: Self::Segment,
        stats: &SegmentStats,
    ) -> Result<()> {
        segment
            .inner
            .shutdown()
            .await
            .map_err(|e| from_io(e, &format!("finishing segment {}", spec.name)))?;
        let info = segment
            .inner
            .info()
            .cloned()
            .ok_or_else(|| Error::internal("a finished segment has no info"))?;
        if segment.table_data {
            self.progress.table_done(segment.counted, stats.rows);
        }
        let record = WrittenSegment {
            archive_segment: segment.archive_segment,
            info,
            stats: *stats,
        };
        self.written
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(spec.index, record);
        Ok(())
    }
}

impl<W: AsyncWrite + Unpin + Send + 'static> AsyncWrite for TargetSegment<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let n = ready!(Pin::new(&mut self.inner).poll_write(cx, buf))?;
        self.progress.add_bytes(n as u64);
        if self.table_data {
            let rows = newlines(&buf[..n]);
            self.counted += rows;
            self.progress.add_rows(rows);
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The sink of the archive, counting what reaches the repository.
pub(crate) struct CountingSink<W> {
    inner: W,
    progress: Arc<Progress>,
}

impl<W> CountingSink<W> {
    pub fn new(inner: W, progress: Arc<Progress>) -> Self {
        CountingSink { inner, progress }
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for CountingSink<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let n = ready!(Pin::new(&mut self.inner).poll_write(cx, buf))?;
        self.progress.add_stored(n as u64);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The pgbm error inside an I/O error from the archive's adapters, or a new I/O
/// error saying what was being done.
pub(crate) fn from_io(e: io::Error, what: &str) -> Error {
    if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        if let Some(Ok(inner)) = e.into_inner().map(|inner| inner.downcast::<Error>()) {
            return *inner;
        }
        return Error::internal(format!("{what}: lost an error"));
    }
    Error::io(what, e)
}
