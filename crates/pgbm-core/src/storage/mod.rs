//! Where backups live: a small object-store trait and its backends.
//!
//! [`Storage`] is shaped like the `object_store` crate's `ObjectStore`: an async,
//! object-safe trait with a *small required core* that takes options structs, and
//! everything else built on top:
//!
//! | piece | what it is |
//! |---|---|
//! | [`Storage`] | `put_opts`, `put_multipart`, `get_opts`, `head`, `list`, `delete`, `capabilities` |
//! | [`MultipartUpload`] | a streaming upload: `put_part`, `complete`, `abort` |
//! | [`StorageExt`] | conveniences for every store: `get`, `get_range`, `put`, `put_if_absent`, ... |
//! | [`StorageWriter`] | a `tokio::io::AsyncWrite` that puts small data in one request and switches to a multipart upload when it grows past one part |
//! | [`LocalStorage`] | a directory: temp file, fsync, rename, fsync dir |
//! | [`S3Storage`] | S3 or any S3-compatible endpoint, via `aws-sdk-s3` |
//! | [`RetryStorage`], [`PrefixStorage`] | decorators: retry transient failures, scope a store to a key prefix |
//! | [`Location`], [`open`] | `DIR`, `file:///DIR` or `s3://bucket/prefix` to a ready store |
//! | [`ObjectReader`] | a stored object as the archive reader's ranged source |
//!
//! # Keys
//!
//! Objects are named by keys: relative, `/`-separated, without empty, `.` or `..`
//! segments (see [`validate_key`]). [`Storage::list`] takes a *string* prefix as S3
//! does: `backups/2024` lists `backups/2024-01.pgbm` and `backups/2024/x`.
//!
//! # Guarantees every backend gives
//!
//! * An object appears whole or not at all: a put, a completed multipart upload or a
//!   finished [`StorageWriter`] becomes visible atomically; an aborted, failed or
//!   dropped upload leaves nothing behind (on S3 a dropped upload is aborted in the
//!   background, see [`MultipartUpload`]).
//! * [`PutMode::Create`] is a conditional create: exactly one of several racing writers
//!   wins, the others get [`StorageError::AlreadyExists`]. Locks are built on it.
//! * Deleting a missing object succeeds (S3 cannot tell the difference).
//! * Errors are semantic ([`StorageError`]): callers test `is_not_found()`, the retry
//!   decorator tests `is_retryable()`.
//!
//! The conformance suite (`storage::conformance`, cargo feature `testing`) checks these
//! for every backend.

use std::fmt;
use std::ops::Range;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::stream::BoxStream;
use futures_util::TryStreamExt;

mod error;
mod local;
mod location;
mod object;
mod path;
mod prefix;
mod retry;
mod s3;
mod writer;

#[cfg(feature = "testing")]
pub mod conformance;

pub use error::{Result, StorageError};
pub use local::LocalStorage;
pub use location::{open, Location, OpenOptions, Opened};
pub use object::ObjectReader;
pub use path::validate_key;
pub use prefix::PrefixStorage;
pub use retry::{Backoff, RetryStorage};
pub use s3::{
    PartSizes, S3Credentials, S3Options, S3Storage, MAX_OBJECT_SIZE, MAX_PARTS, MAX_PART_SIZE,
    MIN_PART_SIZE,
};
pub use writer::StorageWriter;

/// How [`Storage::put_opts`] treats an existing object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum PutMode {
    /// Replace whatever is there (atomically: readers see the old or the new object).
    #[default]
    Overwrite,
    /// Create only if nothing exists under the key, else fail with
    /// [`StorageError::AlreadyExists`]. For locks and "never overwrite a backup".
    Create,
}

/// Options of [`Storage::put_opts`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PutOptions {
    /// What to do when the key exists.
    pub mode: PutMode,
}

impl PutOptions {
    /// Options that create the object only if it does not exist yet.
    pub fn create() -> Self {
        PutOptions {
            mode: PutMode::Create,
        }
    }
}

impl From<PutMode> for PutOptions {
    fn from(mode: PutMode) -> Self {
        PutOptions { mode }
    }
}

/// What a successful put reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PutResult {
    /// The entity tag of the new object, when the backend has one (S3).
    pub e_tag: Option<String>,
}

impl PutResult {
    /// A result carrying the backend's entity tag.
    pub fn with_e_tag(e_tag: Option<String>) -> Self {
        PutResult { e_tag }
    }
}

/// Which bytes of an object [`Storage::get_opts`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetRange {
    /// Bytes `start..end`; `end` past the object's end is cut to the end, `start` must
    /// lie inside the object and before `end`.
    Bounded(Range<u64>),
    /// Everything from this offset on; the offset must lie inside the object.
    Offset(u64),
    /// The last `n` bytes (all of them if the object is shorter); `n` must not be 0.
    Suffix(u64),
}

impl GetRange {
    /// The byte range this selects in an object of `size` bytes.
    ///
    /// # Errors
    /// [`StorageError::InvalidRange`] when the range is empty or starts past the end.
    pub fn resolve(&self, path: &str, size: u64) -> Result<Range<u64>> {
        let range = match *self {
            GetRange::Bounded(ref r) => r.start..r.end.min(size),
            GetRange::Offset(start) => start..size,
            GetRange::Suffix(n) => size.saturating_sub(n)..size,
        };
        if self.is_empty() || range.start >= size {
            return Err(StorageError::InvalidRange {
                path: path.to_string(),
                message: format!("{self} of an object of {size} bytes"),
            });
        }
        Ok(range)
    }

    /// Whether the range selects nothing whatever the object (`5..5`, `Suffix(0)`).
    /// Such ranges are errors: S3 cannot express them.
    fn is_empty(&self) -> bool {
        match self {
            GetRange::Bounded(r) => r.start >= r.end,
            GetRange::Offset(_) => false,
            GetRange::Suffix(n) => *n == 0,
        }
    }

    /// Checks what can be checked without the object's size.
    pub(crate) fn check(&self, path: &str) -> Result<()> {
        if self.is_empty() {
            return Err(StorageError::InvalidRange {
                path: path.to_string(),
                message: format!("empty range {self}"),
            });
        }
        Ok(())
    }
}

impl fmt::Display for GetRange {
    /// As an HTTP `Range` value without the unit: `0-9`, `10-`, `-5` (ends inclusive).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetRange::Bounded(r) => write!(f, "bytes {}-{}", r.start, r.end.saturating_sub(1)),
            GetRange::Offset(start) => write!(f, "bytes {start}-"),
            GetRange::Suffix(n) => write!(f, "the last {n} bytes"),
        }
    }
}

impl From<Range<u64>> for GetRange {
    fn from(r: Range<u64>) -> Self {
        GetRange::Bounded(r)
    }
}

/// Options of [`Storage::get_opts`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GetOptions {
    /// Only these bytes; `None` reads the whole object.
    pub range: Option<GetRange>,
}

impl GetOptions {
    /// Options that read `range` only.
    pub fn range(range: impl Into<GetRange>) -> Self {
        GetOptions {
            range: Some(range.into()),
        }
    }
}

/// What [`Storage::head`] and [`Storage::list`] know about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectMeta {
    /// The object's key.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// When it was last written.
    pub last_modified: SystemTime,
    /// Entity tag, when the backend has one (S3).
    pub e_tag: Option<String>,
}

impl ObjectMeta {
    /// Metadata with no entity tag.
    pub fn new(path: impl Into<String>, size: u64, last_modified: SystemTime) -> Self {
        ObjectMeta {
            path: path.into(),
            size,
            last_modified,
            e_tag: None,
        }
    }
}

/// The answer of [`Storage::get_opts`]: metadata and a stream of the requested bytes.
#[non_exhaustive]
pub struct GetResult {
    /// The whole object's metadata (its `size` is the whole size, not the range's).
    pub meta: ObjectMeta,
    /// The bytes delivered: the requested range, resolved against the object's size.
    pub range: Range<u64>,
    /// The bytes, in chunks; an error ends the stream.
    pub stream: BoxStream<'static, Result<Bytes>>,
}

impl GetResult {
    /// A result delivering `range` of the object described by `meta`.
    pub fn new(
        meta: ObjectMeta,
        range: Range<u64>,
        stream: BoxStream<'static, Result<Bytes>>,
    ) -> Self {
        GetResult {
            meta,
            range,
            stream,
        }
    }

    /// Collects the stream into one buffer.
    ///
    /// # Errors
    /// The first error of the stream, or [`StorageError::Generic`] when the stream
    /// delivers a different number of bytes than `range` promised (a truncated read
    /// must never pass for a whole one).
    pub async fn bytes(self) -> Result<Bytes> {
        let expected = self.range.end - self.range.start;
        let path = self.meta.path;
        let mut buf = BytesMut::with_capacity(usize::try_from(expected).unwrap_or(0));
        let mut stream = self.stream;
        while let Some(chunk) = stream.try_next().await? {
            buf.extend_from_slice(&chunk);
        }
        if buf.len() as u64 != expected {
            return Err(StorageError::generic(
                "storage",
                format!(
                    "reading {path}: got {} bytes, expected {expected}",
                    buf.len()
                ),
            ));
        }
        Ok(buf.freeze())
    }
}

impl fmt::Debug for GetResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetResult")
            .field("meta", &self.meta)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

/// What a backend can do, for callers that must choose a strategy (e.g. locking).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// [`PutMode::Overwrite`] replaces an object atomically (readers never see a mix).
    pub atomic_replace: bool,
    /// [`PutMode::Create`] is a real conditional create (exactly one racer wins).
    pub conditional_create: bool,
    /// How many requests are worth running at once against this store.
    pub max_concurrent_requests: usize,
}

impl Capabilities {
    /// Capabilities with every flag set and `max_concurrent_requests` requests.
    pub fn full(max_concurrent_requests: usize) -> Self {
        Capabilities {
            atomic_replace: true,
            conditional_create: true,
            max_concurrent_requests,
        }
    }
}

/// An object store: the required core every backend implements.
///
/// Object-safe (use `Box<dyn Storage>` / `Arc<dyn Storage>`); conveniences live in
/// [`StorageExt`]. `Display` names the store for messages (`file:///srv/backups`,
/// `s3://bucket`); it never shows credentials.
#[async_trait]
pub trait Storage: Send + Sync + fmt::Debug + fmt::Display + 'static {
    /// Writes `payload` under `path` in one request, as `opts` say.
    ///
    /// # Errors
    /// [`StorageError::AlreadyExists`] for [`PutMode::Create`] on an existing key;
    /// [`StorageError::InvalidPath`] for a bad key; backend failures otherwise.
    async fn put_opts(&self, path: &str, payload: Bytes, opts: PutOptions) -> Result<PutResult>;

    /// Starts a streaming upload to `path`; the object appears when it completes.
    ///
    /// # Errors
    /// [`StorageError::InvalidPath`] for a bad key; backend failures otherwise.
    async fn put_multipart(&self, path: &str) -> Result<Box<dyn MultipartUpload>>;

    /// Reads an object, or part of it, as a stream.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when nothing is stored under `path`;
    /// [`StorageError::InvalidRange`] for a range that selects nothing.
    async fn get_opts(&self, path: &str, opts: GetOptions) -> Result<GetResult>;

    /// Metadata of one object.
    ///
    /// # Errors
    /// [`StorageError::NotFound`] when nothing is stored under `path`.
    async fn head(&self, path: &str) -> Result<ObjectMeta>;

    /// Every object whose key starts with `prefix` (a string prefix; `""` lists all),
    /// sorted by key.
    ///
    /// A `Vec` rather than a stream: a repository holds a few objects per backup, and a
    /// whole listing can be retried as one operation.
    ///
    /// # Errors
    /// [`StorageError::InvalidPath`] for a prefix with `..` and the like.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>>;

    /// Deletes an object; deleting a missing object succeeds.
    ///
    /// # Errors
    /// [`StorageError::InvalidPath`] for a bad key; backend failures otherwise.
    async fn delete(&self, path: &str) -> Result<()>;

    /// What this backend can do.
    fn capabilities(&self) -> Capabilities;
}

/// A streaming upload started by [`Storage::put_multipart`].
///
/// Call [`put_part`](MultipartUpload::put_part) with the data in order, in chunks of any
/// size (the backend cuts them into the parts it needs), then
/// [`complete`](MultipartUpload::complete) or [`abort`](MultipartUpload::abort).
/// `put_part` may return before the data is stored (S3 uploads several parts at once):
/// a failure then surfaces on a later call, at the latest on `complete`.
///
/// Contract for implementors: after any error the upload is aborted, and dropping it
/// without `complete` aborts it too (in the background where that needs I/O), so that
/// nothing half-written becomes visible and nothing is left to pay for.
#[async_trait]
pub trait MultipartUpload: Send + fmt::Debug {
    /// Appends `data` to the object.
    ///
    /// # Errors
    /// A failure of this or an earlier part; the upload is then aborted.
    async fn put_part(&mut self, data: Bytes) -> Result<()>;

    /// Makes the object visible with everything put so far.
    ///
    /// # Errors
    /// A failure of any part or of the completion; the upload is then aborted.
    async fn complete(&mut self) -> Result<PutResult>;

    /// Discards everything put so far.
    ///
    /// # Errors
    /// When the backend could not confirm the abort (S3: the upload may linger until
    /// a lifecycle rule removes it).
    async fn abort(&mut self) -> Result<()>;
}

/// Conveniences on top of [`Storage`], for every store (also `dyn Storage`).
#[async_trait]
pub trait StorageExt: Storage {
    /// Reads a whole object into memory.
    ///
    /// # Errors
    /// As [`Storage::get_opts`], plus a short read.
    async fn get(&self, path: &str) -> Result<Bytes> {
        self.get_opts(path, GetOptions::default())
            .await?
            .bytes()
            .await
    }

    /// Reads `range` of an object into memory.
    ///
    /// # Errors
    /// As [`Storage::get_opts`], plus a short read.
    async fn get_range(&self, path: &str, range: Range<u64>) -> Result<Bytes> {
        self.get_opts(path, GetOptions::range(range))
            .await?
            .bytes()
            .await
    }

    /// Writes (or replaces) an object in one request.
    ///
    /// # Errors
    /// As [`Storage::put_opts`].
    async fn put(&self, path: &str, payload: Bytes) -> Result<PutResult> {
        self.put_opts(path, payload, PutOptions::default()).await
    }

    /// Writes an object only if nothing exists under `path` (a conditional create).
    ///
    /// # Errors
    /// [`StorageError::AlreadyExists`] when something does.
    async fn put_if_absent(&self, path: &str, payload: Bytes) -> Result<PutResult> {
        self.put_opts(path, payload, PutOptions::create()).await
    }

    /// Whether an object exists under `path`.
    ///
    /// # Errors
    /// Failures other than "not found".
    async fn exists(&self, path: &str) -> Result<bool> {
        match self.head(path).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl<T: Storage + ?Sized> StorageExt for T {}

#[async_trait]
impl<T: Storage + ?Sized> Storage for Box<T> {
    async fn put_opts(&self, path: &str, payload: Bytes, opts: PutOptions) -> Result<PutResult> {
        (**self).put_opts(path, payload, opts).await
    }
    async fn put_multipart(&self, path: &str) -> Result<Box<dyn MultipartUpload>> {
        (**self).put_multipart(path).await
    }
    async fn get_opts(&self, path: &str, opts: GetOptions) -> Result<GetResult> {
        (**self).get_opts(path, opts).await
    }
    async fn head(&self, path: &str) -> Result<ObjectMeta> {
        (**self).head(path).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        (**self).list(prefix).await
    }
    async fn delete(&self, path: &str) -> Result<()> {
        (**self).delete(path).await
    }
    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }
}

#[async_trait]
impl<T: Storage + ?Sized> Storage for std::sync::Arc<T> {
    async fn put_opts(&self, path: &str, payload: Bytes, opts: PutOptions) -> Result<PutResult> {
        (**self).put_opts(path, payload, opts).await
    }
    async fn put_multipart(&self, path: &str) -> Result<Box<dyn MultipartUpload>> {
        (**self).put_multipart(path).await
    }
    async fn get_opts(&self, path: &str, opts: GetOptions) -> Result<GetResult> {
        (**self).get_opts(path, opts).await
    }
    async fn head(&self, path: &str) -> Result<ObjectMeta> {
        (**self).head(path).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        (**self).list(prefix).await
    }
    async fn delete(&self, path: &str) -> Result<()> {
        (**self).delete(path).await
    }
    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_against_the_size() {
        let r = |g: GetRange| g.resolve("k", 10);
        assert_eq!(r(GetRange::Bounded(2..5)).unwrap(), 2..5);
        assert_eq!(r(GetRange::Bounded(8..50)).unwrap(), 8..10);
        assert_eq!(r(GetRange::Offset(3)).unwrap(), 3..10);
        assert_eq!(r(GetRange::Suffix(4)).unwrap(), 6..10);
        assert_eq!(r(GetRange::Suffix(40)).unwrap(), 0..10);
        for bad in [
            GetRange::Bounded(10..12),
            GetRange::Bounded(4..4),
            GetRange::Offset(10),
            GetRange::Suffix(0),
        ] {
            let err = r(bad.clone()).unwrap_err();
            assert!(
                matches!(err, StorageError::InvalidRange { .. }),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn ranges_display_like_http() {
        assert_eq!(GetRange::Bounded(0..10).to_string(), "bytes 0-9");
        assert_eq!(GetRange::Offset(7).to_string(), "bytes 7-");
        assert_eq!(GetRange::Suffix(5).to_string(), "the last 5 bytes");
    }
}
