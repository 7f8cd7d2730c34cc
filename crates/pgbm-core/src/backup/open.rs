//! An opened backup: its archive and manifest, and what can be done with them:
//! write the plain script, verify every byte, restore, restore-test.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures_util::TryStreamExt;
use serde::Serialize;
use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::entry::BackupEntry;
use super::manifest::Manifest;
use super::progress::{newlines, Progress};
use crate::archive::{ArchiveInfo, ArchiveReader, LocalFile, RangeRead, StreamReader};
use crate::conn::ConnOptions;
use crate::crypto::KeySource;
use crate::restore::{restore_segmented, RestoreOptions, RestoreSummary, SegmentSource};
use crate::storage::ObjectReader;
use crate::{Error, ErrorKind, Result};

/// Where an opened backup's bytes come from.
#[derive(Debug, Clone)]
pub(crate) enum BackupSource {
    /// An object in a repository.
    Object(ObjectReader),
    /// A `.pgbm` file given by path.
    File(LocalFile),
}

impl RangeRead for BackupSource {
    async fn size(&self) -> Result<u64> {
        match self {
            BackupSource::Object(o) => o.size().await,
            BackupSource::File(f) => f.size().await,
        }
    }

    async fn read_range(&self, offset: u64, len: usize) -> Result<Bytes> {
        match self {
            BackupSource::Object(o) => o.read_range(offset, len).await,
            BackupSource::File(f) => f.read_range(offset, len).await,
        }
    }
}

/// A backup opened for reading: header, keys, footer and manifest checked.
#[derive(Debug, Clone)]
pub struct Backup {
    reader: ArchiveReader<BackupSource>,
    manifest: Arc<Manifest>,
}

/// What [`Backup::verify`] checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct VerifyReport {
    /// The backup's id.
    pub id: String,
    /// Segments read.
    pub segments: u64,
    /// Frames authenticated (or checksummed) and decompressed.
    pub frames: u64,
    /// Plaintext bytes hashed and compared with the index's SHA-256.
    pub plaintext_bytes: u64,
    /// Stored bytes read.
    pub stored_bytes: u64,
}

/// What [`Backup::restore_check`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RestoreCheck {
    /// The scratch database restored into (and dropped afterwards).
    pub database: String,
    /// Tables whose row count was compared.
    pub tables: u64,
    /// Rows counted in all.
    pub rows: u64,
    /// What the restore did.
    pub statements: u64,
}

impl Backup {
    /// Opens an archive: checks header and trailer, opens a key slot with `keys`,
    /// authenticates the footer and reads the manifest.
    pub(crate) async fn open(src: BackupSource, keys: &KeySource) -> Result<Backup> {
        let reader = ArchiveReader::open(src, keys).await?;
        let manifest = Manifest::from_archive(reader.manifest(), reader.segments())?;
        Ok(Backup {
            reader,
            manifest: Arc::new(manifest),
        })
    }

    /// Opens a backup archive stored as a plain file (outside a repository, e.g. one
    /// copied or downloaded).
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] if there is no such file; otherwise as
    /// [`crate::backup::Repository::open_backup`].
    pub async fn open_file(path: impl AsRef<Path>, keys: &KeySource) -> Result<Backup> {
        let path = path.as_ref();
        match tokio::fs::metadata(path).await {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!("{} not found", path.display()),
                ))
            }
            Err(e) => return Err(Error::io(format_args!("opening {}", path.display()), e)),
            Ok(_) => {}
        }
        Backup::open(BackupSource::File(LocalFile::open(path).await?), keys).await
    }

    /// The backup's id.
    pub fn id(&self) -> &str {
        &self.manifest.id
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Header facts of the archive (size, compression, key slots).
    pub fn archive_info(&self) -> &ArchiveInfo {
        self.reader.info()
    }

    /// The backup's listing data.
    pub fn entry(&self) -> BackupEntry {
        BackupEntry::from_manifest(&self.manifest, self.reader.info().size)
    }

    /// Writes the plain SQL script (the segments in dump order) to `out`; returns the
    /// bytes written. Each segment's SHA-256 is checked as it ends.
    ///
    /// # Errors
    /// [`ErrorKind::Corrupt`] for a frame or segment that fails its checks (the
    /// script written so far is then incomplete); errors of `out` as
    /// [`ErrorKind::Io`].
    pub async fn write_script<W: AsyncWrite + Unpin>(&self, out: &mut W) -> Result<u64> {
        let mut written = 0u64;
        for seg in &self.manifest.segments {
            let mut stream = self.reader.open_segment(seg.archive_segment as usize)?;
            while let Some(chunk) = stream.try_next().await? {
                out.write_all(&chunk)
                    .await
                    .map_err(|e| Error::io("writing the script", e))?;
                written += chunk.len() as u64;
            }
        }
        out.flush()
            .await
            .map_err(|e| Error::io("writing the script", e))?;
        Ok(written)
    }

    /// Reads every segment, authenticating every frame and checking every segment's
    /// size and SHA-256 against the index. Needs no database.
    ///
    /// # Errors
    /// The first failure: [`ErrorKind::Corrupt`] naming the segment, frame and offset.
    pub async fn verify(&self, progress: &Progress) -> Result<VerifyReport> {
        progress.set_totals(
            self.manifest.totals.plaintext_bytes,
            self.manifest.totals.tables,
        );
        let mut report = VerifyReport {
            id: self.id().to_string(),
            segments: 0,
            frames: 0,
            plaintext_bytes: 0,
            stored_bytes: 0,
        };
        let rows: BTreeMap<usize, u64> = self
            .manifest
            .tables()
            .map(|s| (s.archive_segment as usize, s.rows))
            .collect();
        for (n, info) in self.reader.segments().iter().enumerate() {
            let mut stream = self.reader.open_segment(n)?;
            let mut counted = 0;
            while let Some(chunk) = stream.try_next().await? {
                report.plaintext_bytes += chunk.len() as u64;
                progress.add_bytes(chunk.len() as u64);
                if info.meta.kind == "table-data" {
                    let rows = newlines(&chunk);
                    counted += rows;
                    progress.add_rows(rows);
                }
            }
            if info.meta.kind == "table-data" {
                progress.table_done(counted, rows.get(&n).copied().unwrap_or(counted));
            }
            report.segments += 1;
            report.frames += u64::from(info.frame_count);
            report.stored_bytes += info.stored_size;
        }
        Ok(report)
    }

    /// Restores the backup with the segmented restore: definitions, then table data
    /// with `opts.jobs` connections, then indexes and constraints in parallel.
    /// `opts.schemas` / `opts.tables` restore part of it. With `opts.create` and no
    /// `opts.target_db`, the database created is the one backed up.
    ///
    /// # Errors
    /// As [`crate::restore_segmented`]; [`ErrorKind::Corrupt`] if a segment fails its
    /// checks while being read (the restore then stops).
    pub async fn restore(
        &self,
        conn: &ConnOptions,
        opts: &RestoreOptions,
        progress: Arc<Progress>,
    ) -> Result<RestoreSummary> {
        let mut opts = opts.clone();
        if opts.create && opts.target_db.is_none() {
            opts.target_db = Some(self.manifest.database.clone());
        }
        let source = ArchiveSource::new(self, progress);
        source.progress.set_totals(
            self.manifest.totals.plaintext_bytes,
            source.tables.len() as u64,
        );
        restore_segmented(
            conn,
            &opts,
            &self.manifest.segment_specs(),
            &self.manifest.toc_entries(),
            &source,
        )
        .await
    }

    /// Restores the backup into a new scratch database on the server `conn` points at,
    /// compares every table's row count with the manifest, and drops the scratch
    /// database again (also when the restore fails).
    ///
    /// # Errors
    /// As [`restore`](Self::restore); [`ErrorKind::Corrupt`] if a table's row count
    /// differs from the manifest's.
    pub async fn restore_check(
        &self,
        conn: &ConnOptions,
        jobs: usize,
        progress: Arc<Progress>,
    ) -> Result<RestoreCheck> {
        let name = scratch_name(self.id())?;
        let opts = RestoreOptions {
            create: true,
            target_db: Some(name.clone()),
            jobs: jobs.max(1),
            ..RestoreOptions::default()
        };
        tracing::info!(
            "restoring backup {} into scratch database {name}",
            self.id()
        );
        let result = async {
            let summary = self.restore(conn, &opts, progress).await?;
            let (tables, rows) = self.compare_row_counts(&conn.with_dbname(&name)).await?;
            Ok(RestoreCheck {
                database: name.clone(),
                tables,
                rows,
                statements: summary.statements,
            })
        }
        .await;
        if let Err(e) = drop_database(conn, &name).await {
            tracing::warn!("could not drop scratch database {name}: {e}");
        }
        result
    }

    /// Counts the rows of every table with data in the restored database.
    async fn compare_row_counts(&self, session: &ConnOptions) -> Result<(u64, u64)> {
        let client = session.connect().await?;
        let (mut tables, mut rows) = (0, 0);
        for seg in self.manifest.tables() {
            let (Some(schema), Some(table)) = (&seg.schema, &seg.table) else {
                continue;
            };
            let name = crate::sql::qualified(schema, table);
            // ONLY: COPY TO of a table does not include rows of its children.
            let count: i64 = client
                .query_one(&format!("SELECT count(*) FROM ONLY {name}"), &[])
                .await
                .map_err(|e| Error::postgres(format_args!("counting the rows of {name}"), e))?
                .get(0);
            let count = u64::try_from(count).unwrap_or(0);
            if count != seg.rows {
                return Err(Error::new(
                    ErrorKind::Corrupt,
                    format!(
                        "restored table {name} has {count} rows, the backup recorded {}",
                        seg.rows
                    ),
                ));
            }
            tables += 1;
            rows += count;
        }
        Ok((tables, rows))
    }
}

/// A unique name for a scratch database: `pgbm_verify_<id prefix>_<random>`.
fn scratch_name(id: &str) -> Result<String> {
    let mut random = [0u8; 4];
    crate::crypto::random_bytes(&mut random)?;
    let stamp: String = id.chars().take(16).collect();
    Ok(format!(
        "pgbm_verify_{}_{}",
        stamp.to_ascii_lowercase(),
        crate::crypto::to_hex(&random)
    ))
}

/// Drops `name` (with `FORCE`, so a connection left behind by a failed restore does
/// not keep it alive), connected to the maintenance database.
async fn drop_database(conn: &ConnOptions, name: &str) -> Result<()> {
    let client = match conn.with_dbname("postgres").connect().await {
        Err(e) if e.kind() == ErrorKind::DatabaseNotFound => {
            conn.with_dbname("template1").connect().await?
        }
        other => other?,
    };
    let quoted = crate::sql::quote_ident(name);
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
        .await
        .map_err(|e| Error::postgres(format_args!("dropping database {quoted}"), e))
}

/// The archive as the segmented restore's source.
struct ArchiveSource<'a> {
    backup: &'a Backup,
    /// Dump position → (archive segment, rows if table data).
    segments: BTreeMap<usize, (u32, Option<u64>)>,
    tables: Vec<usize>,
    progress: Arc<Progress>,
}

impl<'a> ArchiveSource<'a> {
    fn new(backup: &'a Backup, progress: Arc<Progress>) -> Self {
        let segments = backup
            .manifest
            .segments
            .iter()
            .map(|s| {
                let rows = (s.kind == "table-data").then_some(s.rows);
                (s.index, (s.archive_segment, rows))
            })
            .collect();
        let tables = backup.manifest.tables().map(|s| s.index).collect();
        ArchiveSource {
            backup,
            segments,
            tables,
            progress,
        }
    }
}

impl SegmentSource for ArchiveSource<'_> {
    type Reader = CountingReader;

    async fn open(&self, index: usize) -> Result<Self::Reader> {
        let &(n, rows) = self
            .segments
            .get(&index)
            .ok_or_else(|| Error::internal(format!("no segment {index} in the manifest")))?;
        let stream = self.backup.reader.open_segment(n as usize)?;
        Ok(CountingReader {
            inner: StreamReader::new(stream),
            rows,
            counted: 0,
            progress: Arc::clone(&self.progress),
        })
    }
}

/// A segment's plaintext, counting what the restore reads.
pub(crate) struct CountingReader {
    inner: StreamReader,
    /// Table data: the manifest's row count, reported once the segment ends.
    rows: Option<u64>,
    counted: u64,
    progress: Arc<Progress>,
}

impl CountingReader {
    fn note_end(&mut self) {
        if let Some(rows) = self.rows.take() {
            self.progress.table_done(self.counted, rows);
        }
    }
}

impl AsyncRead for CountingReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        let got = &buf.filled()[before..];
        if got.is_empty() {
            self.note_end();
        } else {
            let n = got.len() as u64;
            let lines = if self.rows.is_some() {
                newlines(got)
            } else {
                0
            };
            self.progress.add_bytes(n);
            self.progress.add_rows(lines);
            self.counted += lines;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncBufRead for CountingReader {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        let buf = ready!(Pin::new(&mut this.inner).poll_fill_buf(cx))?;
        if buf.is_empty() {
            if let Some(rows) = this.rows.take() {
                this.progress.table_done(this.counted, rows);
            }
        }
        Poll::Ready(Ok(buf))
    }

    fn consume(mut self: Pin<&mut Self>, amt: usize) {
        self.progress.add_bytes(amt as u64);
        Pin::new(&mut self.inner).consume(amt);
    }
}
