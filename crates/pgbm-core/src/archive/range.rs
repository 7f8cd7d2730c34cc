//! Ranged reads: what the archive reader needs from storage.

use std::future::Future;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::{Error, Result};

/// A source of an archive's bytes that can be read at any offset (a local file, an
/// object in a bucket, memory). Implementations may be called concurrently.
///
/// Implement it with `async fn`s:
///
/// ```
/// # use bytes::Bytes;
/// # use pgbm_core::archive::RangeRead;
/// struct Blob(Bytes);
///
/// impl RangeRead for Blob {
///     async fn size(&self) -> pgbm_core::Result<u64> {
///         Ok(self.0.len() as u64)
///     }
///     async fn read_range(&self, offset: u64, len: usize) -> pgbm_core::Result<Bytes> {
///         self.0.read_range(offset, len).await
///     }
/// }
/// ```
pub trait RangeRead: Send + Sync {
    /// Total size in bytes.
    fn size(&self) -> impl Future<Output = Result<u64>> + Send;

    /// Exactly `len` bytes starting at `offset`. Reading past the end is an error.
    fn read_range(&self, offset: u64, len: usize) -> impl Future<Output = Result<Bytes>> + Send;
}

impl RangeRead for Bytes {
    async fn size(&self) -> Result<u64> {
        Ok(self.len() as u64)
    }

    async fn read_range(&self, offset: u64, len: usize) -> Result<Bytes> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        match start.checked_add(len) {
            Some(end) if end <= self.len() => Ok(self.slice(start..end)),
            _ => Err(Error::io(
                format_args!(
                    "reading {len} bytes at {offset} of a {}-byte buffer",
                    self.len()
                ),
                std::io::ErrorKind::UnexpectedEof.into(),
            )),
        }
    }
}

impl<T: RangeRead + ?Sized> RangeRead for Arc<T> {
    fn size(&self) -> impl Future<Output = Result<u64>> + Send {
        (**self).size()
    }

    fn read_range(&self, offset: u64, len: usize) -> impl Future<Output = Result<Bytes>> + Send {
        (**self).read_range(offset, len)
    }
}

/// A local file read by ranges (on tokio's blocking pool).
#[derive(Debug, Clone)]
pub struct LocalFile {
    path: PathBuf,
    file: Arc<Mutex<std::fs::File>>,
    size: u64,
}

impl LocalFile {
    /// Opens `path` for reading.
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) if it cannot be opened.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let p = path.clone();
        let (file, size) = blocking(move || {
            let file = std::fs::File::open(&p)?;
            let size = file.metadata()?.len();
            Ok((file, size))
        })
        .await
        .map_err(|e| Error::io(format_args!("opening {}", path.display()), e))?;
        Ok(LocalFile {
            path,
            file: Arc::new(Mutex::new(file)),
            size,
        })
    }
}

impl RangeRead for LocalFile {
    async fn size(&self) -> Result<u64> {
        Ok(self.size)
    }

    async fn read_range(&self, offset: u64, len: usize) -> Result<Bytes> {
        let file = Arc::clone(&self.file);
        blocking(move || {
            let mut f = file
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            f.seek(SeekFrom::Start(offset))?;
            let mut buf = vec![0u8; len];
            f.read_exact(&mut buf)?;
            Ok(Bytes::from(buf))
        })
        .await
        .map_err(|e| {
            Error::io(
                format_args!("reading {len} bytes at {offset} of {}", self.path.display()),
                e,
            )
        })
    }
}

/// Runs blocking file I/O on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)))
}
