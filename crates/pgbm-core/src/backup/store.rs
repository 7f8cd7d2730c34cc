//! The little a repository needs from storage: write an object atomically (streaming),
//! put a small one, read one whole or by ranges, list a prefix.
//!
//! This is the local-directory implementation: objects are files under the root,
//! keys are `/`-separated relative paths. A streamed object is written to a temporary
//! file next to its final name, fsynced and renamed, and the directory fsynced; until
//! then nothing is visible under the key, and a failed or dropped writer removes its
//! temporary file.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::archive::LocalFile;
use crate::{Error, ErrorKind, Result};

/// An object in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectInfo {
    /// The key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
}

/// A repository's storage.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    root: PathBuf,
}

impl fmt::Display for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.root.display())
    }
}

impl Store {
    /// The directory `root` (which need not exist yet: the first write creates it).
    pub fn local(root: impl Into<PathBuf>) -> Self {
        Store { root: root.into() }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    /// The objects whose key starts with `dir/` (one level, as a backup repository
    /// has no deeper structure), sorted by key. A missing directory lists nothing.
    pub async fn list(&self, dir: &str) -> Result<Vec<ObjectInfo>> {
        let path = self.path(dir);
        let mut entries = match tokio::fs::read_dir(&path).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(format_args!("listing {}", path.display()), e)),
        };
        let mut out = Vec::new();
        let io = |e| Error::io(format_args!("listing {}", path.display()), e);
        while let Some(entry) = entries.next_entry().await.map_err(io)? {
            let meta = entry.metadata().await.map_err(io)?;
            if !meta.is_file() {
                continue;
            }
            if let Some(name) = entry.file_name().to_str() {
                out.push(ObjectInfo {
                    key: format!("{dir}/{name}"),
                    size: meta.len(),
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// The whole object.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] if there is none.
    pub async fn get(&self, key: &str) -> Result<Bytes> {
        let path = self.path(key);
        tokio::fs::read(&path)
            .await
            .map(Bytes::from)
            .map_err(|e| io_error(&path, "reading", e))
    }

    /// Writes a small object atomically (replacing any).
    pub async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        let mut w = self.writer(key).await?;
        w.write_all(&data)
            .await
            .map_err(|e| Error::io(format_args!("writing {}", w.tmp.display()), e))?;
        w.commit().await
    }

    /// A streaming writer of a new object; see [`ObjectWriter`].
    pub async fn writer(&self, key: &str) -> Result<ObjectWriter> {
        let dest = self.path(key);
        if let Some(dir) = dest.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| Error::io(format_args!("creating {}", dir.display()), e))?;
        }
        let mut tmp_name = dest.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(format!(".tmp-{}", std::process::id()));
        let tmp = dest.with_file_name(tmp_name);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .await
            .map_err(|e| Error::io(format_args!("creating {}", tmp.display()), e))?;
        Ok(ObjectWriter {
            file,
            tmp,
            dest,
            committed: false,
        })
    }

    /// A ranged reader of an object.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] if there is none.
    pub async fn reader(&self, key: &str) -> Result<LocalFile> {
        let path = self.path(key);
        if let Err(e) = tokio::fs::metadata(&path).await {
            return Err(io_error(&path, "opening", e));
        }
        LocalFile::open(&path).await
    }
}

/// An I/O error, [`ErrorKind::NotFound`] when the file does not exist.
fn io_error(path: &Path, doing: &str, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::NotFound {
        Error::new(ErrorKind::NotFound, format!("{} not found", path.display()))
    } else {
        Error::io(format_args!("{doing} {}", path.display()), e)
    }
}

/// A new object being written. `AsyncWrite` writes the temporary file;
/// [`commit`](Self::commit) makes it visible. Dropped without a commit, it removes
/// the temporary file, so an error, a cancelled task or Ctrl-C leaves nothing behind.
#[derive(Debug)]
pub(crate) struct ObjectWriter {
    file: File,
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl ObjectWriter {
    /// Flushes and fsyncs the data, renames it to its key and fsyncs the directory:
    /// the object is then visible and survives a crash.
    pub async fn commit(mut self) -> Result<()> {
        let tmp = self.tmp.display().to_string();
        self.file
            .flush()
            .await
            .map_err(|e| Error::io(format_args!("writing {tmp}"), e))?;
        self.file
            .sync_all()
            .await
            .map_err(|e| Error::io(format_args!("syncing {tmp}"), e))?;
        tokio::fs::rename(&self.tmp, &self.dest)
            .await
            .map_err(|e| Error::io(format_args!("renaming {tmp}"), e))?;
        self.committed = true;
        let dir = self.dest.parent().unwrap_or(Path::new("."));
        let sync = |e| Error::io(format_args!("syncing {}", dir.display()), e);
        File::open(dir)
            .await
            .map_err(sync)?
            .sync_all()
            .await
            .map_err(sync)
    }
}

impl Drop for ObjectWriter {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        // Synchronous on purpose: Drop cannot await, and an unlink is quick.
        match std::fs::remove_file(&self.tmp) {
            Ok(()) => tracing::debug!("removed unfinished {}", self.tmp.display()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("could not remove {}: {e}", self.tmp.display()),
        }
    }
}

impl AsyncWrite for ObjectWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.file).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.file).poll_flush(cx)
    }

    /// Only flushes: the object becomes visible by [`ObjectWriter::commit`].
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.file).poll_flush(cx)
    }
}
