//! [`ObjectReader`]: one stored object as an [`archive::RangeRead`] source, so the
//! archive reader restores straight from any [`Storage`] with ranged reads.
//!
//! Writing needs no adapter: [`StorageWriter`](super::StorageWriter) is the
//! `AsyncWrite` sink an [`ArchiveWriter`](crate::archive::ArchiveWriter) takes, and the
//! archive's `finish` shuts it down, which makes the object visible.

use std::sync::Arc;

use bytes::Bytes;

use super::{Storage, StorageExt};
use crate::archive::RangeRead;
use crate::{Error, Result};

/// The object under `path` in `store`, read by ranges.
#[derive(Debug, Clone)]
pub struct ObjectReader {
    store: Arc<dyn Storage>,
    path: String,
}

impl ObjectReader {
    /// Reads `path` of `store` (nothing is requested until the first read).
    pub fn new(store: Arc<dyn Storage>, path: impl Into<String>) -> Self {
        ObjectReader {
            store,
            path: path.into(),
        }
    }

    /// The key read.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl RangeRead for ObjectReader {
    async fn size(&self) -> Result<u64> {
        Ok(self.store.head(&self.path).await?.size)
    }

    async fn read_range(&self, offset: u64, len: usize) -> Result<Bytes> {
        if len == 0 {
            // Stores refuse empty ranges (S3 cannot express them).
            return Ok(Bytes::new());
        }
        let end = offset.saturating_add(len as u64);
        let bytes = self.store.get_range(&self.path, offset..end).await?;
        if bytes.len() != len {
            // Stores cut ranges at the end of the object; the archive wants an error.
            return Err(Error::io(
                format_args!(
                    "reading {len} bytes at {offset} of {}: only {} exist",
                    self.path,
                    bytes.len()
                ),
                std::io::ErrorKind::UnexpectedEof.into(),
            ));
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::{ArchiveReader, ArchiveWriter, SegmentMeta, WriterOptions};
    use crate::crypto::KeySource;
    use crate::storage::{LocalStorage, StorageWriter};
    use crate::ErrorKind;
    use futures_util::TryStreamExt;

    #[tokio::test]
    async fn ranges_are_exact_and_missing_objects_are_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Storage> = Arc::new(LocalStorage::new(dir.path()).unwrap());
        store.put("o", Bytes::from("0123456789")).await.unwrap();
        let reader = ObjectReader::new(store.clone(), "o");
        assert_eq!(reader.size().await.unwrap(), 10);
        assert_eq!(reader.read_range(2, 3).await.unwrap(), "234");
        assert!(reader.read_range(9, 0).await.unwrap().is_empty());
        assert_eq!(
            reader.read_range(8, 5).await.unwrap_err().kind(),
            ErrorKind::Io
        );
        let missing = ObjectReader::new(store, "nope");
        assert_eq!(
            missing.size().await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
    }

    #[tokio::test]
    async fn an_archive_round_trips_through_storage() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Storage> = Arc::new(LocalStorage::new(dir.path()).unwrap());
        // A small writer buffer, so the archive goes up as a multipart upload.
        let sink = StorageWriter::with_capacity(store.clone(), "b/1.pgbm", 64 * 1024);
        let writer = ArchiveWriter::new(sink, WriterOptions::default())
            .await
            .unwrap();
        // Incompressible, so the archive outgrows the writer's buffer.
        let mut x = 0x2545_f491_u32;
        let input: Vec<u8> = (0..1_000_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x.to_le_bytes()[0]
            })
            .collect();
        let mut segment = writer
            .begin_segment(SegmentMeta::new("public.t", "table-data"))
            .unwrap();
        segment.write(&input).await.unwrap();
        segment.finish().await.unwrap();
        let summary = writer.finish(serde_json::json!({})).await.unwrap();
        assert_eq!(
            store.head("b/1.pgbm").await.unwrap().size,
            summary.total_size
        );

        let source = ObjectReader::new(store, "b/1.pgbm");
        let reader = ArchiveReader::open(source, &KeySource::new())
            .await
            .unwrap();
        let chunks: Vec<Bytes> = reader.open_segment(0).unwrap().try_collect().await.unwrap();
        assert_eq!(chunks.concat(), input);
    }
}
