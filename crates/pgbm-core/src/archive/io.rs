//! Adapters to tokio's I/O traits, so code written against `AsyncWrite` /
//! `AsyncBufRead` (the SQL writer of the dump, the script reader of the restore) can
//! write into a segment and read out of an archive.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, Stream};
use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, ReadBuf};

use super::{SegmentInfo, SegmentStream, SegmentWriter};
use crate::{Error, Result};

/// A [`SegmentWriter`] as [`AsyncWrite`] (from
/// [`SegmentWriter::into_async_write`]). `poll_flush` waits for frames in flight but
/// does not cut a partial frame; `poll_shutdown` finishes the segment, after which
/// [`info`](Self::info) returns its [`SegmentInfo`]. I/O errors wrap the
/// [`crate::Error`] (get it back with `io::Error::into_inner` and `downcast`).
pub struct SegmentAsyncWrite<W> {
    state: State<W>,
}

enum State<W> {
    Idle(SegmentWriter<W>),
    Sending(BoxFuture<'static, (SegmentWriter<W>, Result<()>)>),
    Finishing(BoxFuture<'static, Result<SegmentInfo>>),
    Done(SegmentInfo),
    Failed,
}

impl<W> fmt::Debug for SegmentAsyncWrite<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Idle(w) => format!("{w:?}"),
            State::Sending(_) => "sending a frame".into(),
            State::Finishing(_) => "finishing".into(),
            State::Done(info) => format!("{info:?}"),
            State::Failed => "failed".into(),
        };
        f.debug_struct("SegmentAsyncWrite")
            .field("state", &state)
            .finish()
    }
}

impl<W: AsyncWrite + Unpin + Send + 'static> SegmentAsyncWrite<W> {
    pub(super) fn new(writer: SegmentWriter<W>) -> Self {
        SegmentAsyncWrite {
            state: State::Idle(writer),
        }
    }

    /// The finished segment's info, once the adapter has been shut down.
    pub fn info(&self) -> Option<&SegmentInfo> {
        match &self.state {
            State::Done(info) => Some(info),
            _ => None,
        }
    }

    /// Drives a frame in flight or the finish to completion.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.state {
            State::Sending(fut) => {
                let (writer, result) = ready!(fut.poll_unpin(cx));
                self.state = State::Idle(writer);
                Poll::Ready(result.map_err(to_io))
            }
            State::Finishing(fut) => {
                let result = ready!(fut.poll_unpin(cx));
                self.state = match result {
                    Ok(info) => State::Done(info),
                    Err(e) => {
                        self.state = State::Failed;
                        return Poll::Ready(Err(to_io(e)));
                    }
                };
                Poll::Ready(Ok(()))
            }
            State::Failed => Poll::Ready(Err(to_io(Error::internal(
                "segment writer used after it failed",
            )))),
            State::Idle(_) | State::Done(_) => Poll::Ready(Ok(())),
        }
    }
}

impl<W: AsyncWrite + Unpin + Send + 'static> AsyncWrite for SegmentAsyncWrite<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            ready!(this.poll_pending(cx))?;
            match std::mem::replace(&mut this.state, State::Failed) {
                State::Idle(mut writer) if data.is_empty() || !writer.frame_full() => {
                    let took = writer.buffer(data);
                    this.state = State::Idle(writer);
                    return Poll::Ready(Ok(took));
                }
                State::Idle(mut writer) => {
                    this.state = State::Sending(Box::pin(async move {
                        let result = writer.emit(false).await;
                        (writer, result)
                    }));
                }
                State::Done(info) => {
                    this.state = State::Done(info);
                    return Poll::Ready(Err(to_io(Error::internal("write to a finished segment"))));
                }
                _ => unreachable!("poll_pending leaves Idle, Done or returns"),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_pending(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            ready!(this.poll_pending(cx))?;
            match std::mem::replace(&mut this.state, State::Failed) {
                State::Idle(writer) => this.state = State::Finishing(Box::pin(writer.finish())),
                done @ State::Done(_) => {
                    this.state = done;
                    return Poll::Ready(Ok(()));
                }
                _ => unreachable!("poll_pending leaves Idle, Done or returns"),
            }
        }
    }
}

fn to_io(e: Error) -> io::Error {
    io::Error::other(e)
}

/// Plaintext of a [`SegmentStream`] as [`AsyncBufRead`] (e.g. to feed an archive to
/// the restore). Errors wrap the [`crate::Error`] as in [`SegmentAsyncWrite`].
pub struct StreamReader {
    stream: SegmentStream,
    chunk: Bytes,
}

impl fmt::Debug for StreamReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamReader")
            .field("buffered", &self.chunk.len())
            .finish_non_exhaustive()
    }
}

impl StreamReader {
    /// Reads `stream`.
    pub fn new(stream: SegmentStream) -> Self {
        StreamReader {
            stream,
            chunk: Bytes::new(),
        }
    }
}

impl AsyncBufRead for StreamReader {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        while this.chunk.is_empty() {
            match ready!(Pin::new(&mut this.stream).poll_next(cx)) {
                Some(Ok(chunk)) => this.chunk = chunk,
                Some(Err(e)) => return Poll::Ready(Err(to_io(e))),
                None => break,
            }
        }
        Poll::Ready(Ok(&this.chunk))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().chunk.advance(amt);
    }
}

impl AsyncRead for StreamReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let available = ready!(self.as_mut().poll_fill_buf(cx))?;
        let n = available.len().min(buf.remaining());
        buf.put_slice(&available[..n]);
        self.consume(n);
        Poll::Ready(Ok(()))
    }
}
