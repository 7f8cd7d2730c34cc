//! Where dumps go: an atomically replaced file, or stdout with broken-pipe detection.
//!
//! A dump written with `-f FILE` goes to `FILE.tmp-<pid>` in the same directory, is
//! fsynced, and only then renamed over `FILE` (and the directory fsynced), so `FILE` is
//! always either absent, the previous dump, or a complete new one. On failure, or if the
//! process is interrupted, the temporary file is removed (see [`AtomicFile`]'s `Drop`).

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use pgbm_core::{Error, Result};
use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// A file that appears under its final name only when [`AtomicFile::commit`] succeeds.
#[derive(Debug)]
pub struct AtomicFile {
    dest: PathBuf,
    tmp: PathBuf,
    file: File,
    committed: bool,
}

impl AtomicFile {
    /// Creates `DEST.tmp-<pid>` next to `dest`.
    ///
    /// # Errors
    /// [`pgbm_core::ErrorKind::Io`] if `dest` is a directory or the temporary file
    /// cannot be created.
    pub async fn create(dest: &Path) -> Result<Self> {
        let tmp = temp_path(dest)?;
        if tokio::fs::metadata(dest).await.is_ok_and(|m| m.is_dir()) {
            return Err(Error::io(
                dest.display(),
                io::Error::new(io::ErrorKind::IsADirectory, "is a directory"),
            ));
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .await
            .map_err(|e| Error::io(format!("creating {}", tmp.display()), e))?;
        tracing::debug!("writing to temporary file {}", tmp.display());
        Ok(AtomicFile {
            dest: dest.to_path_buf(),
            tmp,
            file,
            committed: false,
        })
    }

    /// The file to write to.
    pub fn file_mut(&mut self) -> &mut File {
        &mut self.file
    }

    /// Flushes and fsyncs the file, renames it to its final name and fsyncs the
    /// directory, so that the dump survives a crash right after pgbm reports success.
    ///
    /// # Errors
    /// [`pgbm_core::ErrorKind::Io`]; the temporary file is then removed.
    pub async fn commit(mut self) -> Result<()> {
        let tmp_name = self.tmp.display().to_string();
        self.file
            .flush()
            .await
            .map_err(|e| Error::io(format!("writing {tmp_name}"), e))?;
        self.file
            .sync_all()
            .await
            .map_err(|e| Error::io(format!("syncing {tmp_name}"), e))?;
        tokio::fs::rename(&self.tmp, &self.dest)
            .await
            .map_err(|e| Error::io(format!("renaming {tmp_name} to {}", self.dest.display()), e))?;
        self.committed = true;
        sync_dir(&self.dest).await
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        // Synchronous on purpose: Drop cannot await, and the unlink is quick.
        match std::fs::remove_file(&self.tmp) {
            Ok(()) => tracing::debug!("removed temporary file {}", self.tmp.display()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("could not remove {}: {e}", self.tmp.display()),
        }
    }
}

/// `DEST.tmp-<pid>` in `dest`'s directory: same file system, so the rename is atomic.
fn temp_path(dest: &Path) -> Result<PathBuf> {
    let name = dest
        .file_name()
        .ok_or_else(|| Error::usage(format!("{}: not a file name", dest.display())))?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    Ok(dest.with_file_name(tmp_name))
}

/// Fsyncs the directory holding `path`, making a rename in it durable.
async fn sync_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let handle = File::open(dir)
        .await
        .map_err(|e| Error::io(format!("opening directory {}", dir.display()), e))?;
    handle
        .sync_all()
        .await
        .map_err(|e| Error::io(format!("syncing directory {}", dir.display()), e))
}

/// A writer that remembers whether the reader went away (`EPIPE`), so that
/// `pgbm dump | head` can end successfully however the core reports the failed write.
#[derive(Debug)]
pub struct PipeWatch<W> {
    inner: W,
    broken: Arc<AtomicBool>,
}

impl<W> PipeWatch<W> {
    /// Wraps `inner`; the flag becomes true on the first broken-pipe error.
    pub fn new(inner: W) -> (Self, Arc<AtomicBool>) {
        let broken = Arc::new(AtomicBool::new(false));
        (
            PipeWatch {
                inner,
                broken: Arc::clone(&broken),
            },
            broken,
        )
    }

    fn note<T>(&self, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if let Poll::Ready(Err(e)) = &poll {
            if e.kind() == io::ErrorKind::BrokenPipe {
                self.broken.store(true, Ordering::Relaxed);
            }
        }
        poll
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for PipeWatch<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.note(poll)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.note(poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.note(poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_file_sits_next_to_the_destination() {
        let pid = std::process::id();
        assert_eq!(
            temp_path(Path::new("/backups/db.sql")).unwrap(),
            PathBuf::from(format!("/backups/db.sql.tmp-{pid}"))
        );
        assert_eq!(
            temp_path(Path::new("db.sql")).unwrap(),
            PathBuf::from(format!("db.sql.tmp-{pid}"))
        );
        assert!(temp_path(Path::new("/")).is_err());
    }

    #[tokio::test]
    async fn commit_renames_and_drop_removes() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.sql");

        let mut f = AtomicFile::create(&dest).await.unwrap();
        f.file_mut().write_all(b"partial").await.unwrap();
        drop(f);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        let mut f = AtomicFile::create(&dest).await.unwrap();
        f.file_mut().write_all(b"complete").await.unwrap();
        assert!(!dest.exists(), "nothing under the final name before commit");
        f.commit().await.unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"complete");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[tokio::test]
    async fn a_directory_is_not_a_dump_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = AtomicFile::create(dir.path()).await.unwrap_err();
        assert_eq!(err.kind(), pgbm_core::ErrorKind::Io);
    }

    #[tokio::test]
    async fn pipe_watch_notes_broken_pipes() {
        struct Broken;
        impl AsyncWrite for Broken {
            fn poll_write(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
                _: &[u8],
            ) -> Poll<io::Result<usize>> {
                Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()))
            }
            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
            fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
        }
        let (mut w, broken) = PipeWatch::new(Broken);
        assert!(!broken.load(Ordering::Relaxed));
        assert!(w.write_all(b"x").await.is_err());
        assert!(broken.load(Ordering::Relaxed));
    }
}
