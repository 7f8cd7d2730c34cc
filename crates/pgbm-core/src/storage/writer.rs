//! [`StorageWriter`]: write an object through `tokio::io::AsyncWrite`.
//!
//! Data collects in a buffer of `capacity` bytes. If the object ends before the buffer
//! overflows, [`StorageWriter::finish`] stores it with one put; otherwise the writer
//! starts a multipart upload and hands it a `capacity`-sized chunk each time the buffer
//! fills. Memory stays at one buffer plus what the backend keeps in flight.
//!
//! Nothing is visible before `finish` succeeds. Dropping the writer without `finish`
//! (an error, a cancelled task, a panic) aborts the upload: in-flight requests are
//! awaited in the background and the upload aborted, so no half-written object and no
//! forgotten S3 upload remain.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::BytesMut;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::error::{Result, StorageError};
use super::{MultipartUpload, PutOptions, PutResult, Storage};

/// Default buffer size: the data held before switching to a multipart upload.
const DEFAULT_CAPACITY: usize = 8 * 1024 * 1024;

/// Writes one object to a [`Storage`] as an [`AsyncWrite`](tokio::io::AsyncWrite).
///
/// Call [`finish`](StorageWriter::finish) (or `shutdown`) at the end; see the module
/// documentation for what happens otherwise.
pub struct StorageWriter {
    store: Arc<dyn Storage>,
    path: String,
    capacity: usize,
    state: State,
}

/// Where the writer is; each async step is a boxed future owning what it needs.
enum State {
    /// No request made yet; the data so far.
    Buffer(BytesMut),
    /// Starting the multipart upload; `buffer` waits for it.
    Starting {
        start: BoxFuture<'static, Result<Box<dyn MultipartUpload>>>,
        buffer: BytesMut,
    },
    /// An upload is open; `buffer` collects the next chunk.
    Open {
        upload: Box<dyn MultipartUpload>,
        buffer: BytesMut,
    },
    /// A full chunk is being handed to the upload.
    Sending(BoxFuture<'static, (Box<dyn MultipartUpload>, Result<()>)>),
    /// The final put or completion is under way.
    Finishing(BoxFuture<'static, Result<PutResult>>),
    /// Finished: the object is visible.
    Finished(PutResult),
    /// Failed or aborted: nothing was (or will be) stored. Holds the reason.
    Closed(String),
}

impl StorageWriter {
    /// A writer to `path` that switches to a multipart upload past 8 MiB.
    pub fn new(store: Arc<dyn Storage>, path: impl Into<String>) -> Self {
        StorageWriter::with_capacity(store, path, DEFAULT_CAPACITY)
    }

    /// A writer to `path` that switches to a multipart upload past `capacity` bytes
    /// and then hands the upload chunks of `capacity` bytes.
    pub fn with_capacity(
        store: Arc<dyn Storage>,
        path: impl Into<String>,
        capacity: usize,
    ) -> Self {
        let capacity = capacity.max(1);
        StorageWriter {
            store,
            path: path.into(),
            capacity,
            state: State::Buffer(BytesMut::new()),
        }
    }

    /// The key being written.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether the writer has switched to a multipart upload.
    pub fn is_multipart(&self) -> bool {
        matches!(
            self.state,
            State::Starting { .. } | State::Open { .. } | State::Sending(_)
        )
    }

    /// Stores everything written and makes the object visible.
    ///
    /// Calling it again after success returns the same result.
    ///
    /// # Errors
    /// The failure of the put, of a part or of the completion; the upload is then
    /// aborted and nothing is visible.
    pub async fn finish(&mut self) -> Result<PutResult> {
        std::future::poll_fn(|cx| self.poll_finish(cx)).await
    }

    /// Discards everything written; nothing becomes visible.
    ///
    /// # Errors
    /// When the object was already finished, or the backend could not confirm the
    /// abort (see [`MultipartUpload::abort`]).
    pub async fn abort(&mut self) -> Result<()> {
        let state = std::mem::replace(&mut self.state, State::Closed("aborted".into()));
        match state {
            State::Buffer(_) | State::Closed(_) => Ok(()),
            State::Starting { start, .. } => match start.await {
                Ok(mut upload) => upload.abort().await,
                Err(_) => Ok(()), // no upload was started
            },
            State::Open { mut upload, .. } => upload.abort().await,
            State::Sending(send) => {
                let (mut upload, _) = send.await;
                upload.abort().await
            }
            // Dropping the future drops its upload, which aborts unless it completed.
            State::Finishing(_) => Ok(()),
            State::Finished(result) => {
                self.state = State::Finished(result);
                Err(StorageError::generic(
                    "storage",
                    format!("cannot abort {}: it is already stored", self.path),
                ))
            }
        }
    }

    /// Accepts some of `data`: the state machine behind `poll_write`.
    fn poll_accept(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<Result<usize>> {
        loop {
            match &mut self.state {
                State::Buffer(buffer) if buffer.len() + data.len() <= self.capacity => {
                    buffer.extend_from_slice(data);
                    return Poll::Ready(Ok(data.len()));
                }
                State::Buffer(buffer) => {
                    // Too much for one request: switch to a multipart upload.
                    let buffer = std::mem::take(buffer);
                    let (store, path) = (self.store.clone(), self.path.clone());
                    let start = async move { store.put_multipart(&path).await }.boxed();
                    self.state = State::Starting { start, buffer };
                }
                State::Open { buffer, .. } if buffer.len() < self.capacity => {
                    let n = data.len().min(self.capacity - buffer.len());
                    buffer.extend_from_slice(&data[..n]);
                    return Poll::Ready(Ok(n));
                }
                State::Open { .. } => self.send_buffer(),
                State::Starting { .. } | State::Sending(_) => ready!(self.poll_open(cx))?,
                State::Finishing(_) | State::Finished(_) | State::Closed(_) => {
                    return Poll::Ready(Err(self.closed_error()));
                }
            }
        }
    }

    /// Drives a pending start or send until the upload is open again.
    fn poll_open(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let polled = match &mut self.state {
            State::Starting { start, buffer } => ready!(start.as_mut().poll(cx))
                .map(|upload| (upload, std::mem::take(buffer)))
                .map_err(|e| (None, e)),
            State::Sending(send) => match ready!(send.as_mut().poll(cx)) {
                (upload, Ok(())) => Ok((upload, BytesMut::with_capacity(self.capacity))),
                (upload, Err(e)) => Err((Some(upload), e)),
            },
            _ => return Poll::Ready(Ok(())),
        };
        Poll::Ready(match polled {
            Ok((upload, buffer)) => {
                self.state = State::Open { upload, buffer };
                Ok(())
            }
            Err((upload, e)) => {
                drop(upload); // the upload already aborted itself after the error
                Err(self.fail(e))
            }
        })
    }

    /// Hands the full buffer to the upload (`Open` becomes `Sending`).
    fn send_buffer(&mut self) {
        let state = std::mem::replace(&mut self.state, State::Closed(String::new()));
        let State::Open { mut upload, buffer } = state else {
            unreachable!("send_buffer is called in the Open state")
        };
        let chunk = buffer.freeze();
        self.state = State::Sending(
            async move {
                let result = upload.put_part(chunk).await;
                (upload, result)
            }
            .boxed(),
        );
    }

    /// Drives the writer to the end: the state machine behind `finish` and `shutdown`.
    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<Result<PutResult>> {
        loop {
            let state = std::mem::replace(&mut self.state, State::Closed(String::new()));
            self.state = match state {
                State::Buffer(buffer) => {
                    let (store, path) = (self.store.clone(), self.path.clone());
                    let payload = buffer.freeze();
                    State::Finishing(
                        async move { store.put_opts(&path, payload, PutOptions::default()).await }
                            .boxed(),
                    )
                }
                State::Open { upload, buffer } => State::Finishing(complete(upload, buffer)),
                pending @ (State::Starting { .. } | State::Sending(_)) => {
                    self.state = pending;
                    ready!(self.poll_open(cx))?;
                    continue;
                }
                State::Finishing(mut finishing) => match finishing.as_mut().poll(cx) {
                    Poll::Pending => {
                        self.state = State::Finishing(finishing);
                        return Poll::Pending;
                    }
                    Poll::Ready(Ok(result)) => State::Finished(result),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(self.fail(e))),
                },
                State::Finished(result) => {
                    self.state = State::Finished(result.clone());
                    return Poll::Ready(Ok(result));
                }
                closed @ State::Closed(_) => {
                    self.state = closed;
                    return Poll::Ready(Err(self.closed_error()));
                }
            };
        }
    }

    /// Records a failure and returns it; later calls report the writer as closed.
    fn fail(&mut self, e: StorageError) -> StorageError {
        self.state = State::Closed(format!("an earlier write failed: {e}"));
        e
    }

    /// The error for using a writer that is finished, failed or aborted.
    fn closed_error(&self) -> StorageError {
        let why = match &self.state {
            State::Closed(why) if !why.is_empty() => why.as_str(),
            State::Finishing(_) | State::Finished(_) => "it is finished",
            _ => "it is closed",
        };
        StorageError::generic("storage", format!("cannot write {}: {why}", self.path))
    }
}

/// Sends the last chunk (if any) and completes the upload.
fn complete(
    mut upload: Box<dyn MultipartUpload>,
    buffer: BytesMut,
) -> BoxFuture<'static, Result<PutResult>> {
    async move {
        if !buffer.is_empty() {
            upload.put_part(buffer.freeze()).await?;
        }
        upload.complete().await
    }
    .boxed()
}

/// `StorageError` as the `io::Error` that `AsyncWrite` must return; the original is
/// kept as the inner error for callers that downcast.
fn to_io(e: StorageError) -> io::Error {
    let kind = match &e {
        StorageError::NotFound { .. } => io::ErrorKind::NotFound,
        StorageError::AlreadyExists { .. } => io::ErrorKind::AlreadyExists,
        StorageError::PermissionDenied { .. } => io::ErrorKind::PermissionDenied,
        StorageError::InvalidPath { .. } => io::ErrorKind::InvalidInput,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

impl tokio::io::AsyncWrite for StorageWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_accept(cx, buf).map_err(to_io)
    }

    /// Waits for a chunk being handed over; never forces a short part out.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_open(cx).map_err(to_io)
    }

    /// Same as [`StorageWriter::finish`].
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_finish(cx).map_ok(|_| ()).map_err(to_io)
    }
}

impl Drop for StorageWriter {
    fn drop(&mut self) {
        let state = std::mem::replace(&mut self.state, State::Closed(String::new()));
        // A request in flight may create an upload we would not hear of: let it finish
        // in the background, then abort. An open upload aborts itself when dropped.
        let cleanup: Option<BoxFuture<'static, ()>> = match state {
            State::Starting { start, .. } => Some(
                async move {
                    if let Ok(mut upload) = start.await {
                        let _ = upload.abort().await;
                    }
                }
                .boxed(),
            ),
            State::Sending(send) => Some(
                async move {
                    let (mut upload, _) = send.await;
                    let _ = upload.abort().await;
                }
                .boxed(),
            ),
            _ => None,
        };
        if let Some(cleanup) = cleanup {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => drop(runtime.spawn(cleanup)),
                Err(_) => tracing::warn!(
                    "{}: writer dropped outside a tokio runtime while a request was in \
                     flight; the upload is left for the backend to expire",
                    self.path
                ),
            }
        }
    }
}

impl fmt::Debug for StorageWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Buffer(b) => format!("buffering {} bytes", b.len()),
            State::Starting { .. } => "starting upload".into(),
            State::Open { buffer, .. } => format!("uploading, {} bytes buffered", buffer.len()),
            State::Sending(_) => "sending a part".into(),
            State::Finishing(_) => "finishing".into(),
            State::Finished(_) => "finished".into(),
            State::Closed(why) => format!("closed ({why})"),
        };
        f.debug_struct("StorageWriter")
            .field("store", &self.store.to_string())
            .field("path", &self.path)
            .field("capacity", &self.capacity)
            .field("state", &state)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{LocalStorage, StorageExt};
    use tokio::io::AsyncWriteExt;

    fn local() -> (tempfile::TempDir, Arc<dyn Storage>) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStorage::new(dir.path()).unwrap();
        (dir, Arc::new(store))
    }

    #[tokio::test]
    async fn small_objects_take_one_put() {
        let (_dir, store) = local();
        let mut w = StorageWriter::with_capacity(store.clone(), "small", 16);
        w.write_all(b"0123456789").await.unwrap();
        assert!(!w.is_multipart());
        w.shutdown().await.unwrap();
        assert_eq!(store.get("small").await.unwrap(), "0123456789");
    }

    #[tokio::test]
    async fn large_objects_switch_to_multipart() {
        let (_dir, store) = local();
        let mut w = StorageWriter::with_capacity(store.clone(), "large", 4);
        w.write_all(b"0123456789").await.unwrap();
        assert!(w.is_multipart());
        assert!(
            !store.exists("large").await.unwrap(),
            "invisible until finished"
        );
        w.finish().await.unwrap();
        assert_eq!(store.get("large").await.unwrap(), "0123456789");
        // finish is idempotent; writing afterwards is an error.
        w.finish().await.unwrap();
        assert!(w.write_all(b"x").await.is_err());
    }

    #[tokio::test]
    async fn abort_leaves_nothing() {
        let (_dir, store) = local();
        let mut w = StorageWriter::with_capacity(store.clone(), "gone", 4);
        w.write_all(b"0123456789").await.unwrap();
        w.abort().await.unwrap();
        assert!(w.write_all(b"x").await.is_err());
        assert!(store.list("").await.unwrap().is_empty());
        assert!(w.finish().await.is_err());
    }
}
