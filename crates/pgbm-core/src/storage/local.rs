//! [`LocalStorage`]: objects as files under a root directory.
//!
//! Durability and atomicity follow the classic recipe: data goes to a temporary file
//! in the target's own directory (so the final `rename` never crosses file systems),
//! is fsynced, renamed over the target, and the directory is fsynced so the rename
//! survives a crash. Directories created on the way are fsynced into their parents.
//!
//! * Conditional create hard-links the finished temp file to the target: `link(2)`
//!   fails if the target exists, so exactly one racer wins, and the winner's object is
//!   complete the moment it appears. (File systems without hard links cannot do it.)
//! * A multipart upload appends to a temp file and renames it on completion; abort,
//!   failure or drop removes the temp file.
//! * Temp files are named `.pgbm-tmp.*`; listings skip them and keys may not use them.
//! * Listings walk the directory tree without following symbolic links.
//!
//! File system calls run on tokio's blocking pool.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::error::{Result, StorageError};
use super::path::{validate_key, validate_prefix};
use super::{
    Capabilities, GetOptions, GetResult, MultipartUpload, ObjectMeta, PutMode, PutOptions,
    PutResult, Storage,
};

/// Name of this backend in errors.
const STORE: &str = "local";
/// Temp files start with this; listings skip such names.
const TEMP_PREFIX: &str = ".pgbm-tmp.";
/// Bytes per chunk of a read stream.
const READ_CHUNK: usize = 256 * 1024;
/// Disks gain little from more parallel requests than this.
const MAX_CONCURRENT_REQUESTS: usize = 4;

/// A store in a local directory. See the module documentation for how writes are made
/// atomic and durable.
#[derive(Debug, Clone)]
pub struct LocalStorage {
    root: PathBuf,
}

impl LocalStorage {
    /// A store rooted at `root`, creating the directory if needed.
    ///
    /// # Errors
    /// When `root` cannot be created or is not a directory.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| failure("creating", &root, e))?;
        Ok(LocalStorage { root })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file for `key`, after checking the key.
    fn file_path(&self, key: &str) -> Result<PathBuf> {
        validate_local_key(key)?;
        Ok(self.root.join(key))
    }
}

impl fmt::Display for LocalStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "file://{}", self.root.display())
    }
}

#[async_trait]
impl Storage for LocalStorage {
    async fn put_opts(&self, path: &str, payload: Bytes, opts: PutOptions) -> Result<PutResult> {
        let dest = self.file_path(path)?;
        let (root, key) = (self.root.clone(), path.to_string());
        blocking(move || put_file(&root, &key, &dest, &payload, opts.mode)).await?;
        Ok(PutResult::default())
    }

    async fn put_multipart(&self, path: &str) -> Result<Box<dyn MultipartUpload>> {
        let dest = self.file_path(path)?;
        let (root, key) = (self.root.clone(), path.to_string());
        let upload = blocking(move || LocalUpload::start(&root, key, dest)).await?;
        Ok(Box::new(upload))
    }

    async fn get_opts(&self, path: &str, opts: GetOptions) -> Result<GetResult> {
        let file_path = self.file_path(path)?;
        if let Some(range) = &opts.range {
            range.check(path)?;
        }
        let key = path.to_string();
        let (file, meta) = {
            let key = key.clone();
            blocking(move || open_for_read(&key, &file_path)).await?
        };
        let range = match &opts.range {
            Some(r) => r.resolve(path, meta.size)?,
            None => 0..meta.size,
        };
        let mut file = tokio::fs::File::from_std(file);
        if range.start > 0 {
            file.seek(io::SeekFrom::Start(range.start))
                .await
                .map_err(|e| read_error(&key, e))?;
        }
        let stream = read_stream(file, key, range.end - range.start);
        Ok(GetResult::new(meta, range, stream))
    }

    async fn head(&self, path: &str) -> Result<ObjectMeta> {
        let file_path = self.file_path(path)?;
        let key = path.to_string();
        blocking(move || {
            let meta = fs::metadata(&file_path).map_err(|e| read_error(&key, e))?;
            object_meta(&key, &meta)
        })
        .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        validate_prefix(prefix)?;
        let (root, prefix) = (self.root.clone(), prefix.to_string());
        blocking(move || list_files(&root, &prefix)).await
    }

    async fn delete(&self, path: &str) -> Result<()> {
        let file_path = self.file_path(path)?;
        blocking(move || match fs::remove_file(&file_path) {
            Ok(()) => sync_parent(&file_path),
            Err(e) if is_missing(&e) => Ok(()),
            Err(e) => Err(failure("deleting", &file_path, e)),
        })
        .await
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::full(MAX_CONCURRENT_REQUESTS)
    }
}

/// Keys the local backend refuses on top of the common rules: temp-file names.
fn validate_local_key(key: &str) -> Result<()> {
    validate_key(key)?;
    if key.split('/').any(|s| s.starts_with(TEMP_PREFIX)) {
        return Err(StorageError::InvalidPath {
            path: key.to_string(),
            reason: format!("names starting with `{TEMP_PREFIX}` are reserved"),
        });
    }
    Ok(())
}

/// Runs file system work on the blocking pool.
async fn blocking<T, F>(f: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StorageError::generic(STORE, format!("file system task failed: {e}")))?
}

/// The whole put: temp file, write, fsync, then rename (overwrite) or link (create).
fn put_file(root: &Path, key: &str, dest: &Path, data: &[u8], mode: PutMode) -> Result<()> {
    create_parents(root, key)?;
    let temp = TempFile::create(dest)?;
    let mut file = temp.open()?;
    file.write_all(data)
        .and_then(|()| file.sync_all())
        .map_err(|e| failure("writing", temp.path(), e))?;
    drop(file);
    match mode {
        PutMode::Create => temp.link_to(key, dest),
        PutMode::Overwrite => temp.rename_to(dest),
    }
}

/// Creates the missing directories between `root` and `key`'s file, fsyncing each new
/// directory's parent so the new entry is durable.
fn create_parents(root: &Path, key: &str) -> Result<()> {
    let Some((dirs, _file)) = key.rsplit_once('/') else {
        return Ok(());
    };
    let mut dir = root.to_path_buf();
    for segment in dirs.split('/') {
        let parent = dir.clone();
        dir.push(segment);
        match fs::create_dir(&dir) {
            Ok(()) => sync_dir(&parent)?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(failure("creating directory", &dir, e)),
        }
    }
    Ok(())
}

/// A temp file beside a target; removed when dropped unless it was renamed.
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl TempFile {
    /// Reserves a fresh temp name in `dest`'s directory (the file is created empty).
    fn create(dest: &Path) -> Result<TempFile> {
        let dir = dest.parent().unwrap_or(Path::new("."));
        let path = dir.join(format!("{TEMP_PREFIX}{}", random_hex()));
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| failure("creating", &path, e))?;
        Ok(TempFile { path, armed: true })
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the temp file for appending.
    fn open(&self) -> Result<File> {
        OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|e| failure("opening", &self.path, e))
    }

    /// Atomically replaces `dest` with this file, durably.
    fn rename_to(mut self, dest: &Path) -> Result<()> {
        fs::rename(&self.path, dest).map_err(|e| failure("renaming to", dest, e))?;
        self.armed = false;
        sync_parent(dest)
    }

    /// Makes this file appear as `dest` only if `dest` does not exist, durably.
    fn link_to(self, key: &str, dest: &Path) -> Result<()> {
        match fs::hard_link(&self.path, dest) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(StorageError::AlreadyExists {
                    path: key.to_string(),
                })
            }
            Err(e) => return Err(failure("linking (conditional create)", dest, e)),
        }
        drop(self); // removes the temp name; the data lives on under `dest`
        sync_parent(dest)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            // Best effort: a leftover temp file is invisible to listings anyway.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A multipart upload to a local file: parts append to a temp file.
#[derive(Debug)]
struct LocalUpload {
    key: String,
    dest: PathBuf,
    /// `None` once completed or aborted.
    state: Option<Open>,
}

/// The open temp file of an upload in progress.
struct Open {
    temp: TempFile,
    file: tokio::fs::File,
}

impl fmt::Debug for Open {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Open")
            .field("temp", &self.temp.path)
            .finish_non_exhaustive()
    }
}

impl LocalUpload {
    fn start(root: &Path, key: String, dest: PathBuf) -> Result<LocalUpload> {
        create_parents(root, &key)?;
        let temp = TempFile::create(&dest)?;
        let file = tokio::fs::File::from_std(temp.open()?);
        Ok(LocalUpload {
            key,
            dest,
            state: Some(Open { temp, file }),
        })
    }

    /// The open temp file, or an error once the upload is over.
    fn open(&mut self) -> Result<&mut Open> {
        let key = &self.key;
        self.state.as_mut().ok_or_else(|| {
            StorageError::generic(STORE, format!("upload of {key} is already finished"))
        })
    }
}

#[async_trait]
impl MultipartUpload for LocalUpload {
    async fn put_part(&mut self, data: Bytes) -> Result<()> {
        let open = self.open()?;
        if let Err(e) = open.file.write_all(&data).await {
            let err = failure("writing", open.temp.path(), e);
            self.state = None; // drops the temp file
            return Err(err);
        }
        Ok(())
    }

    async fn complete(&mut self) -> Result<PutResult> {
        self.open()?;
        let Some(Open { temp, mut file }) = self.state.take() else {
            unreachable!("checked by open()")
        };
        let synced = async {
            file.flush().await?;
            file.sync_all().await
        };
        synced
            .await
            .map_err(|e| failure("writing", temp.path(), e))?;
        drop(file);
        let dest = self.dest.clone();
        blocking(move || temp.rename_to(&dest)).await?;
        Ok(PutResult::default())
    }

    async fn abort(&mut self) -> Result<()> {
        if let Some(Open { temp, file }) = self.state.take() {
            drop(file);
            blocking(move || {
                drop(temp);
                Ok(())
            })
            .await?;
        }
        Ok(())
    }
}

/// Opens an object for reading; a directory or a missing file is "not found".
fn open_for_read(key: &str, path: &Path) -> Result<(File, ObjectMeta)> {
    let file = File::open(path).map_err(|e| read_error(key, e))?;
    let meta = file.metadata().map_err(|e| read_error(key, e))?;
    Ok((file, object_meta(key, &meta)?))
}

/// Metadata of a regular file; anything else is not an object.
fn object_meta(key: &str, meta: &fs::Metadata) -> Result<ObjectMeta> {
    if !meta.is_file() {
        return Err(StorageError::NotFound {
            path: key.to_string(),
        });
    }
    let modified = meta
        .modified()
        .map_err(|e| failure("reading the time of", Path::new(key), e))?;
    Ok(ObjectMeta::new(key, meta.len(), modified))
}

/// Streams `len` bytes from the file's current position, in chunks.
fn read_stream(
    file: tokio::fs::File,
    key: String,
    len: u64,
) -> futures_util::stream::BoxStream<'static, Result<Bytes>> {
    futures_util::stream::try_unfold((file, key, len), |(mut file, key, left)| async move {
        if left == 0 {
            return Ok(None);
        }
        let want = usize::try_from(left).map_or(READ_CHUNK, |l| l.min(READ_CHUNK));
        let mut buf = BytesMut::zeroed(want);
        // A file that shrank under us gives UnexpectedEof: an error, never a short object.
        file.read_exact(&mut buf)
            .await
            .map_err(|e| read_error(&key, e))?;
        Ok(Some((buf.freeze(), (file, key, left - want as u64))))
    })
    .boxed()
}

/// Every file under `root` whose key starts with `prefix`, sorted by key.
fn list_files(root: &Path, prefix: &str) -> Result<Vec<ObjectMeta>> {
    // Only the directory named by the prefix's complete segments can hold matches.
    let base = prefix.rsplit_once('/').map_or("", |(dir, _)| dir);
    let mut out = Vec::new();
    walk(&root.join(base), base, prefix, &mut out)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Adds the files under `dir` (whose key is `dir_key`) that match `prefix` to `out`.
fn walk(dir: &Path, dir_key: &str, prefix: &str, out: &mut Vec<ObjectMeta>) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if is_missing(&e) => return Ok(()),
        Err(e) => return Err(failure("listing", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| failure("listing", dir, e))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue; // not UTF-8: cannot be a key
        };
        if name.starts_with(TEMP_PREFIX) {
            continue;
        }
        let key = super::path::join(dir_key, &name);
        // Prune directories that cannot contain a match.
        let could_match = key.starts_with(prefix) || prefix.starts_with(&key);
        if !could_match {
            continue;
        }
        let file_type = entry.file_type().map_err(|e| failure("listing", dir, e))?;
        if file_type.is_dir() {
            walk(&entry.path(), &key, prefix, out)?;
        } else if file_type.is_file() && key.starts_with(prefix) {
            let meta = entry.metadata().map_err(|e| failure("listing", dir, e))?;
            out.push(object_meta(&key, &meta)?);
        }
    }
    Ok(())
}

/// fsyncs the directory holding `path`.
fn sync_parent(path: &Path) -> Result<()> {
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// fsyncs a directory, making renames and new entries in it durable.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| failure("syncing directory", dir, e))
}

/// Whether an I/O error means "no such file" (also when a path component is a file).
fn is_missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// An error while reading `key`: "missing" becomes [`StorageError::NotFound`].
fn read_error(key: &str, e: io::Error) -> StorageError {
    if is_missing(&e) || e.kind() == io::ErrorKind::IsADirectory {
        StorageError::NotFound {
            path: key.to_string(),
        }
    } else {
        failure("reading", Path::new(key), e)
    }
}

/// Classifies an I/O error of `what` on `path`.
fn failure(what: &str, path: &Path, e: io::Error) -> StorageError {
    let message = format!("{what} {}: {e}", path.display());
    match e.kind() {
        io::ErrorKind::PermissionDenied => StorageError::PermissionDenied {
            path: path.display().to_string(),
            message,
        },
        io::ErrorKind::Interrupted | io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            StorageError::transient(STORE, io::Error::new(e.kind(), message))
        }
        _ => StorageError::generic(STORE, io::Error::new(e.kind(), message)),
    }
}

/// 16 random hex digits for temp names (unique across processes and hosts sharing a
/// directory).
fn random_hex() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::getrandom(&mut bytes).is_err() {
        // No OS randomness (never seen on Linux): the pid and clock still make clashes
        // unlikely, and `create_new` turns a clash into an error instead of corruption.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        bytes[..4].copy_from_slice(&std::process::id().to_le_bytes());
        bytes[4..].copy_from_slice(&nanos.to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::StorageExt;

    fn store() -> (tempfile::TempDir, LocalStorage) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStorage::new(dir.path().join("repo")).unwrap();
        (dir, store)
    }

    /// Names in `dir` (recursively) that look like temp files.
    fn temp_files(dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for entry in fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                found.extend(temp_files(&entry.path()));
            } else if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                found.push(entry.path());
            }
        }
        found
    }

    #[tokio::test]
    async fn objects_are_plain_files_under_the_root() {
        let (_dir, store) = store();
        store.put("a/b/c.txt", Bytes::from("hi")).await.unwrap();
        assert_eq!(fs::read(store.root().join("a/b/c.txt")).unwrap(), b"hi");
        assert!(temp_files(store.root()).is_empty());
        assert_eq!(
            store.to_string(),
            format!("file://{}", store.root().display())
        );
    }

    #[tokio::test]
    async fn a_multipart_upload_is_invisible_until_complete() {
        let (_dir, store) = store();
        let mut up = store.put_multipart("big").await.unwrap();
        up.put_part(Bytes::from("part one, ")).await.unwrap();
        assert!(!store.exists("big").await.unwrap());
        assert!(
            store.list("").await.unwrap().is_empty(),
            "temp files are hidden"
        );
        assert_eq!(temp_files(store.root()).len(), 1);
        up.put_part(Bytes::from("part two")).await.unwrap();
        up.complete().await.unwrap();
        assert_eq!(store.get("big").await.unwrap(), "part one, part two");
        assert!(temp_files(store.root()).is_empty());
    }

    #[tokio::test]
    async fn aborted_and_dropped_uploads_leave_no_temp_file() {
        let (_dir, store) = store();
        let mut up = store.put_multipart("x").await.unwrap();
        up.put_part(Bytes::from("data")).await.unwrap();
        up.abort().await.unwrap();
        let mut up = store.put_multipart("d/y").await.unwrap();
        up.put_part(Bytes::from("data")).await.unwrap();
        drop(up);
        assert!(temp_files(store.root()).is_empty());
        assert!(store.list("").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn temp_names_are_reserved() {
        let (_dir, store) = store();
        let err = store
            .put(".pgbm-tmp.abc", Bytes::from("x"))
            .await
            .unwrap_err();
        assert!(matches!(err, StorageError::InvalidPath { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_directory_is_not_an_object() {
        let (_dir, store) = store();
        store.put("d/file", Bytes::from("x")).await.unwrap();
        assert!(store.head("d").await.unwrap_err().is_not_found());
        assert!(store.get("d").await.unwrap_err().is_not_found());
        assert!(store.get("d/file/deeper").await.unwrap_err().is_not_found());
    }

    #[test]
    fn temp_names_differ() {
        assert_ne!(random_hex(), random_hex());
        assert_eq!(random_hex().len(), 16);
    }
}
