//! The conformance suite: what every [`Storage`] backend must do (cargo feature
//! `testing`).
//!
//! Each check is an async method of [`Conformance`] that panics with a message naming
//! the broken promise. Run them all with [`Conformance::run_all`], or one test per check
//! so a failure points at the rule:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use pgbm_core::storage::{conformance::Conformance, LocalStorage};
//! #[tokio::test]
//! async fn ranged_reads() {
//!     let dir = tempfile::tempdir().unwrap();
//!     let store = Arc::new(LocalStorage::new(dir.path()).unwrap());
//!     Conformance::new(store, "suite").ranged_reads().await;
//! }
//! ```
//!
//! Every check writes below its own key prefix, so suites can share a bucket.

use std::sync::Arc;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;

use super::{GetOptions, GetRange, Storage, StorageError, StorageExt, StorageWriter};

/// Default size of the objects that must span several parts (S3 parts are >= 5 MiB).
const DEFAULT_LARGE: usize = 12 * 1024 * 1024;

/// Runs the checks against one store. See the module documentation.
#[derive(Debug, Clone)]
pub struct Conformance {
    store: Arc<dyn Storage>,
    prefix: String,
    large: usize,
}

impl Conformance {
    /// Checks `store`, writing only below `prefix/`.
    pub fn new(store: Arc<dyn Storage>, prefix: &str) -> Self {
        Conformance {
            store,
            prefix: prefix.trim_end_matches('/').to_string(),
            large: DEFAULT_LARGE,
        }
    }

    /// Size of the objects that must become multipart uploads of several parts
    /// (default 12 MiB: three S3 parts of 5 MiB).
    #[must_use]
    pub fn with_large_size(mut self, bytes: usize) -> Self {
        self.large = bytes;
        self
    }

    /// Every check, one after the other.
    pub async fn run_all(&self) {
        self.put_get_head_delete().await;
        self.overwrite_replaces().await;
        self.empty_objects().await;
        self.ranged_reads().await;
        self.list_by_prefix().await;
        self.not_found_errors().await;
        self.invalid_keys().await;
        self.conditional_create().await;
        self.conditional_create_race().await;
        self.multipart_complete().await;
        self.multipart_abort().await;
        self.multipart_drop().await;
        self.writer_small().await;
        self.writer_large().await;
        self.writer_drop().await;
    }

    fn key(&self, name: &str) -> String {
        format!("{}/{name}", self.prefix)
    }

    /// A put object reads back whole, its metadata is right, and delete removes it.
    pub async fn put_get_head_delete(&self) {
        let key = self.key("basic/object.bin");
        let data = pattern(100_000, 1);
        self.store.put(&key, data.clone()).await.expect("put");
        assert_eq!(
            self.store.get(&key).await.expect("get"),
            data,
            "get returns what was put"
        );
        let meta = self.store.head(&key).await.expect("head");
        assert_eq!(meta.path, key, "head names the key");
        assert_eq!(meta.size, 100_000, "head gives the size");
        let result = self
            .store
            .get_opts(&key, GetOptions::default())
            .await
            .expect("get_opts");
        assert_eq!(result.meta.size, 100_000);
        assert_eq!(result.range, 0..100_000, "a whole read delivers everything");
        self.store.delete(&key).await.expect("delete");
        assert!(
            !self.store.exists(&key).await.expect("exists"),
            "delete removes the object"
        );
    }

    /// Overwriting replaces the content.
    pub async fn overwrite_replaces(&self) {
        let key = self.key("overwrite/object");
        self.store
            .put(&key, Bytes::from("first version"))
            .await
            .expect("put");
        self.store
            .put(&key, Bytes::from("second"))
            .await
            .expect("overwrite");
        assert_eq!(self.store.get(&key).await.expect("get"), "second");
        assert_eq!(self.store.head(&key).await.expect("head").size, 6);
    }

    /// Empty objects exist and read back empty.
    pub async fn empty_objects(&self) {
        let key = self.key("empty/object");
        self.store.put(&key, Bytes::new()).await.expect("put empty");
        assert_eq!(self.store.head(&key).await.expect("head").size, 0);
        assert!(self.store.get(&key).await.expect("get").is_empty());
    }

    /// Bounded, offset and suffix ranges deliver exactly their bytes; ranges that
    /// select nothing are [`StorageError::InvalidRange`].
    pub async fn ranged_reads(&self) {
        let key = self.key("ranges/object");
        let data = pattern(1000, 2);
        self.store.put(&key, data.clone()).await.expect("put");
        let cases: [(GetRange, std::ops::Range<usize>); 5] = [
            (GetRange::Bounded(10..20), 10..20),
            (GetRange::Bounded(990..2000), 990..1000),
            (GetRange::Offset(995), 995..1000),
            (GetRange::Suffix(5), 995..1000),
            (GetRange::Suffix(5000), 0..1000),
        ];
        for (range, want) in cases {
            let result = self
                .store
                .get_opts(&key, GetOptions::range(range.clone()))
                .await
                .unwrap_or_else(|e| panic!("{range:?}: {e}"));
            assert_eq!(result.meta.size, 1000, "{range:?}: meta has the whole size");
            assert_eq!(
                result.range,
                want.start as u64..want.end as u64,
                "{range:?}"
            );
            let bytes = result.bytes().await.expect("range bytes");
            assert_eq!(bytes, data.slice(want), "{range:?}: the right bytes");
        }
        for range in [
            GetRange::Bounded(1000..1001),
            GetRange::Bounded(5..5),
            GetRange::Offset(1000),
            GetRange::Suffix(0),
        ] {
            let err = self
                .store
                .get_opts(&key, GetOptions::range(range.clone()))
                .await
                .err()
                .unwrap_or_else(|| panic!("{range:?} of a 1000-byte object must fail"));
            assert!(
                matches!(err, StorageError::InvalidRange { .. }),
                "{range:?}: want InvalidRange, got {err}"
            );
        }
        assert_eq!(
            self.store.get_range(&key, 0..3).await.expect("get_range"),
            data.slice(0..3)
        );
    }

    /// Listing matches keys by string prefix, recursively, sorted, with sizes.
    pub async fn list_by_prefix(&self) {
        let base = self.key("list");
        for (name, size) in [("a", 1), ("b/c", 2), ("bb", 3), ("b/d/e", 4)] {
            let data = pattern(size, 3);
            self.store
                .put(&format!("{base}/{name}"), data)
                .await
                .expect("put");
        }
        self.store
            .put(&format!("{base}-sibling"), Bytes::new())
            .await
            .expect("put");
        let all = [("a", 1), ("b/c", 2), ("b/d/e", 4), ("bb", 3)].map(|(n, s)| (n.to_string(), s));
        assert_eq!(
            self.listed(&base, &format!("{base}/")).await,
            all,
            "everything below, sorted"
        );
        assert_eq!(
            self.listed(&base, &format!("{base}/b")).await,
            all[1..].to_vec(),
            "a string prefix, not a directory"
        );
        assert_eq!(
            self.listed(&base, &format!("{base}/b/")).await,
            all[1..3].to_vec()
        );
        assert!(self.listed(&base, &format!("{base}/none")).await.is_empty());
        let root = self.store.list("").await.expect("list everything");
        assert!(
            root.iter().any(|m| m.path == format!("{base}/b/d/e")),
            "the empty prefix lists all"
        );
    }

    /// The keys (relative to `base/`) and sizes that `list(prefix)` returns.
    async fn listed(&self, base: &str, prefix: &str) -> Vec<(String, u64)> {
        let metas = self.store.list(prefix).await.expect("list");
        let below = format!("{base}/");
        metas
            .into_iter()
            .map(|m| {
                let name = m.path.strip_prefix(&below).unwrap_or(&m.path).to_string();
                (name, m.size)
            })
            .collect()
    }

    /// Missing objects are [`StorageError::NotFound`]; deleting them succeeds.
    pub async fn not_found_errors(&self) {
        let key = self.key("missing/object");
        let get = self
            .store
            .get(&key)
            .await
            .expect_err("get of a missing object");
        assert!(get.is_not_found(), "get: want NotFound, got {get}");
        let head = self
            .store
            .head(&key)
            .await
            .expect_err("head of a missing object");
        assert!(head.is_not_found(), "head: want NotFound, got {head}");
        let range = self
            .store
            .get_range(&key, 0..1)
            .await
            .expect_err("range of a missing object");
        assert!(range.is_not_found(), "range: want NotFound, got {range}");
        assert!(!head.is_retryable(), "not found is final");
        self.store
            .delete(&key)
            .await
            .expect("deleting a missing object succeeds");
    }

    /// Keys that could escape or alias are refused before any I/O.
    pub async fn invalid_keys(&self) {
        for key in ["../escape", "/absolute", "a//b", "", "a/./b", "trailing/"] {
            let err = self.store.put(key, Bytes::from("x")).await.expect_err(key);
            assert!(
                matches!(err, StorageError::InvalidPath { .. }),
                "{key:?}: got {err}"
            );
            let err = self.store.get(key).await.expect_err(key);
            assert!(
                matches!(err, StorageError::InvalidPath { .. }),
                "{key:?}: got {err}"
            );
        }
    }

    /// A conditional create succeeds once and then fails without touching the object.
    pub async fn conditional_create(&self) {
        let key = self.key("create/lock");
        self.store
            .put_if_absent(&key, Bytes::from("mine"))
            .await
            .expect("create");
        let err = self
            .store
            .put_if_absent(&key, Bytes::from("theirs"))
            .await
            .expect_err("a second create must fail");
        assert!(err.is_already_exists(), "want AlreadyExists, got {err}");
        assert!(!err.is_retryable());
        assert_eq!(
            self.store.get(&key).await.expect("get"),
            "mine",
            "the loser wrote nothing"
        );
    }

    /// Of several racing conditional creates, exactly one wins.
    pub async fn conditional_create_race(&self) {
        let key = self.key("race/lock");
        let racers: Vec<_> = (0..8)
            .map(|i| {
                let (store, key) = (self.store.clone(), key.clone());
                tokio::spawn(async move {
                    store
                        .put_if_absent(&key, Bytes::from(format!("racer {i}")))
                        .await
                        .map(|_| i)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for racer in racers {
            match racer.await.expect("racer task") {
                Ok(i) => winners.push(i),
                Err(e) => assert!(e.is_already_exists(), "a loser must see AlreadyExists: {e}"),
            }
        }
        assert_eq!(winners.len(), 1, "exactly one winner: {winners:?}");
        let content = self.store.get(&key).await.expect("get");
        assert_eq!(content, format!("racer {}", winners[0]));
    }

    /// A multipart upload of odd-sized chunks is invisible until complete, then whole.
    pub async fn multipart_complete(&self) {
        let key = self.key("multipart/complete");
        let data = pattern(self.large, 4);
        let mut upload = self.store.put_multipart(&key).await.expect("put_multipart");
        for chunk in uneven_chunks(&data) {
            upload.put_part(chunk).await.expect("put_part");
        }
        assert!(
            !self.store.exists(&key).await.expect("exists"),
            "invisible before complete"
        );
        upload.complete().await.expect("complete");
        let got = self.store.get(&key).await.expect("get");
        assert!(
            got == data,
            "multipart content differs ({} vs {} bytes)",
            got.len(),
            data.len()
        );
        let err = upload.put_part(Bytes::from("late")).await;
        assert!(err.is_err(), "a completed upload takes no more parts");
    }

    /// An aborted multipart upload leaves nothing.
    pub async fn multipart_abort(&self) {
        let key = self.key("multipart/aborted");
        let data = pattern(self.large, 5);
        let mut upload = self.store.put_multipart(&key).await.expect("put_multipart");
        for chunk in uneven_chunks(&data) {
            upload.put_part(chunk).await.expect("put_part");
        }
        upload.abort().await.expect("abort");
        assert!(
            !self.store.exists(&key).await.expect("exists"),
            "nothing after abort"
        );
        let listed = self
            .store
            .list(&self.key("multipart/aborted"))
            .await
            .expect("list");
        assert!(listed.is_empty(), "nothing listed after abort: {listed:?}");
    }

    /// A dropped multipart upload leaves no object.
    pub async fn multipart_drop(&self) {
        let key = self.key("multipart/dropped");
        let data = pattern(self.large, 6);
        let mut upload = self.store.put_multipart(&key).await.expect("put_multipart");
        for chunk in uneven_chunks(&data) {
            upload.put_part(chunk).await.expect("put_part");
        }
        drop(upload);
        assert!(
            !self.store.exists(&key).await.expect("exists"),
            "nothing after drop"
        );
    }

    /// A small write through [`StorageWriter`] takes one put; an empty one makes an
    /// empty object.
    pub async fn writer_small(&self) {
        let key = self.key("writer/small");
        let mut writer = StorageWriter::new(self.store.clone(), &key);
        writer.write_all(b"hello ").await.expect("write");
        writer.write_all(b"world").await.expect("write");
        assert!(!writer.is_multipart(), "small data stays in the buffer");
        assert!(
            !self.store.exists(&key).await.expect("exists"),
            "invisible before finish"
        );
        writer.finish().await.expect("finish");
        assert_eq!(self.store.get(&key).await.expect("get"), "hello world");

        let empty = self.key("writer/empty");
        let mut writer = StorageWriter::new(self.store.clone(), &empty);
        writer.shutdown().await.expect("shutdown");
        assert_eq!(self.store.head(&empty).await.expect("head").size, 0);
    }

    /// A large write through [`StorageWriter`] becomes a multipart upload, invisible
    /// until finished.
    pub async fn writer_large(&self) {
        let key = self.key("writer/large");
        let data = pattern(self.large, 7);
        let mut writer = StorageWriter::with_capacity(self.store.clone(), &key, self.large / 3);
        for chunk in data.chunks(64 * 1024) {
            writer.write_all(chunk).await.expect("write");
        }
        assert!(
            writer.is_multipart(),
            "data past the capacity switches to multipart"
        );
        assert!(
            !self.store.exists(&key).await.expect("exists"),
            "invisible before finish"
        );
        writer.shutdown().await.expect("shutdown");
        let got = self.store.get(&key).await.expect("get");
        assert!(
            got == data,
            "writer content differs ({} vs {} bytes)",
            got.len(),
            data.len()
        );
    }

    /// A [`StorageWriter`] dropped before `finish` leaves no object.
    pub async fn writer_drop(&self) {
        let small = self.key("writer/dropped-small");
        let mut writer = StorageWriter::new(self.store.clone(), &small);
        writer.write_all(b"never stored").await.expect("write");
        drop(writer);
        let large = self.key("writer/dropped-large");
        let mut writer = StorageWriter::with_capacity(self.store.clone(), &large, self.large / 3);
        writer
            .write_all(&pattern(self.large, 8))
            .await
            .expect("write");
        drop(writer);
        for key in [small, large] {
            assert!(
                !self.store.exists(&key).await.expect("exists"),
                "{key} after drop"
            );
        }
    }
}

/// `len` deterministic bytes that differ per `seed` and per position, so misplaced
/// ranges and swapped parts show.
pub fn pattern(len: usize, seed: u8) -> Bytes {
    let mut state = u32::from(seed).wrapping_mul(0x9E37_79B9) | 1;
    (0..len)
        .map(|_| {
            // xorshift32: cheap, and no run of repeated bytes to hide an offset error.
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect::<Vec<u8>>()
        .into()
}

/// `data` in chunks of varying sizes (1 byte, 100 KiB, 3 MiB, ...), as callers send.
fn uneven_chunks(data: &Bytes) -> Vec<Bytes> {
    let sizes = [1, 100 * 1024, 3 * 1024 * 1024 + 7, 17, 2 * 1024 * 1024];
    let mut chunks = Vec::new();
    let mut start = 0;
    for size in sizes.iter().cycle() {
        if start >= data.len() {
            break;
        }
        let end = (start + size).min(data.len());
        chunks.push(data.slice(start..end));
        start = end;
    }
    chunks
}
