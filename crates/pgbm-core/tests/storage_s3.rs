//! The storage conformance suite against S3 (a moto server on loopback), and what must
//! happen when an S3 upload is cut short: no object, and no multipart upload left open.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::TryStreamExt;
use pgbm_core::archive::{ArchiveReader, ArchiveWriter, SegmentMeta, WriterOptions};
use pgbm_core::crypto::KeySource;
use pgbm_core::storage::conformance::{pattern, Conformance};
use pgbm_core::storage::{
    open, Backoff, Location, ObjectReader, OpenOptions, S3Storage, Storage, StorageExt,
    StorageWriter, MIN_PART_SIZE,
};
use pgbm_testing::s3::{is_upload_part, FaultyProxy, MotoServer};
use tokio::io::AsyncWriteExt;

/// Objects of three 5 MiB parts and a bit.
const LARGE: usize = 3 * MIN_PART_SIZE as usize + 12_345;

/// The suite over a fresh bucket of the shared moto server.
async fn suite(name: &str) -> Conformance {
    let moto = MotoServer::shared();
    let bucket = moto.create_bucket(name);
    let store: Arc<dyn Storage> = Arc::new(moto.storage(&bucket).await);
    Conformance::new(store, "suite").with_large_size(LARGE)
}

/// One test per conformance check, so a failure names the broken rule.
macro_rules! conformance_tests {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $check() {
            suite(stringify!($check)).await.$check().await;
        }
    )*};
}

conformance_tests!(
    put_get_head_delete,
    overwrite_replaces,
    empty_objects,
    ranged_reads,
    list_by_prefix,
    not_found_errors,
    invalid_keys,
    conditional_create,
    conditional_create_race,
    multipart_complete,
    multipart_abort,
    multipart_drop,
    writer_small,
    writer_large,
    writer_drop,
);

/// `s3://bucket/prefix` opens retry ∘ S3 scoped to the prefix; the suite passes through
/// it and every key lands below the prefix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_suite_passes_through_an_s3_url() {
    let moto = MotoServer::shared();
    let bucket = moto.create_bucket("url");
    let location = Location::parse(&format!("s3://{bucket}/team/prod")).expect("parse");
    let mut options = OpenOptions::default();
    options.s3 = moto.s3_options();
    let store = open(&location, &options)
        .await
        .expect("open")
        .scoped()
        .expect("scoped");
    assert_eq!(store.to_string(), format!("s3://{bucket}/team/prod"));
    Conformance::new(Arc::from(store), "suite")
        .with_large_size(LARGE)
        .run_all()
        .await;
    let keys = moto.object_keys(&bucket);
    assert!(!keys.is_empty());
    assert!(
        keys.iter().all(|k| k.starts_with("team/prod/suite/")),
        "{keys:?}"
    );
    assert!(
        moto.multipart_uploads(&bucket).is_empty(),
        "no upload left open"
    );
}

/// A backup archive streams into S3 as a multipart upload and restores by ranged reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_round_trips_through_s3() {
    let moto = MotoServer::shared();
    let bucket = moto.create_bucket("archive");
    let store: Arc<dyn Storage> = Arc::new(moto.storage(&bucket).await);
    let sink = StorageWriter::with_capacity(store.clone(), "b/1.pgbm", 1024 * 1024);
    let writer = ArchiveWriter::new(sink, WriterOptions::default())
        .await
        .expect("archive writer");
    let input = pattern(LARGE, 9);
    let mut segment = writer
        .begin_segment(SegmentMeta::new("public.t", "table-data"))
        .expect("segment");
    segment.write(&input).await.expect("segment data");
    segment.finish().await.expect("segment end");
    let summary = writer.finish(serde_json::json!({})).await.expect("finish");
    assert!(summary.total_size > 2 * MIN_PART_SIZE, "several S3 parts");

    let source = ObjectReader::new(store, "b/1.pgbm");
    let reader = ArchiveReader::open(source, &KeySource::new())
        .await
        .expect("open archive");
    let chunks: Vec<Bytes> = reader
        .open_segment(0)
        .expect("segment")
        .try_collect()
        .await
        .expect("segment bytes");
    assert!(chunks.concat() == input, "restored bytes differ");
    assert!(moto.multipart_uploads(&bucket).is_empty());
}

/// Polls `moto` until `bucket` has no open multipart upload (aborts of dropped
/// uploads run in the background).
async fn wait_for_no_uploads(moto: &MotoServer, bucket: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let open = moto.multipart_uploads(bucket);
        if open.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "uploads still open: {open:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A writer dropped mid-upload (parts sent, some maybe in flight) leaves no object
/// and, once its background abort ran, no open upload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_dropped_mid_upload_leaves_nothing() {
    let moto = MotoServer::shared();
    let bucket = moto.create_bucket("dropped");
    let store: Arc<dyn Storage> = Arc::new(moto.storage(&bucket).await);
    let mut writer = StorageWriter::with_capacity(store.clone(), "backup.pgbm", 1024 * 1024);
    writer.write_all(&pattern(LARGE, 1)).await.expect("write");
    assert!(writer.is_multipart());
    assert_eq!(
        moto.multipart_uploads(&bucket),
        ["backup.pgbm"],
        "the upload is open before the drop (so this test can fail)"
    );
    drop(writer);
    wait_for_no_uploads(moto, &bucket).await;
    assert!(moto.object_keys(&bucket).is_empty());
    assert!(!store.exists("backup.pgbm").await.expect("exists"));
}

/// A part that fails every attempt fails the upload: it is retried as the backoff
/// says, then the upload is aborted *before* the error reaches the caller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_part_aborts_the_upload() {
    let moto = MotoServer::shared();
    let bucket = moto.create_bucket("failing");
    let proxy = FaultyProxy::start(moto.port(), |line| is_upload_part(line, 2));
    let attempts = 3;
    let options = moto
        .s3_options()
        .with_endpoint(proxy.endpoint())
        .with_backoff(Backoff::new(
            attempts,
            Duration::from_millis(10),
            Duration::from_millis(20),
        ));
    let store: Arc<dyn Storage> = Arc::new(S3Storage::new(&bucket, options).await.expect("store"));

    let mut writer = StorageWriter::with_capacity(store.clone(), "backup.pgbm", 1024 * 1024);
    let result = async {
        writer.write_all(&pattern(LARGE, 2)).await?;
        writer.shutdown().await
    }
    .await;
    let err = result.expect_err("part 2 never gets through, so the upload must fail");

    assert_eq!(
        proxy.cut_requests(),
        attempts as usize,
        "each attempt of part 2 was cut: {err}"
    );
    assert!(
        moto.multipart_uploads(&bucket).is_empty(),
        "aborted before the error: {err}"
    );
    assert!(moto.object_keys(&bucket).is_empty(), "no object");
    assert!(
        writer.write_all(b"more").await.is_err(),
        "a failed writer takes no more data"
    );
}

/// A part whose first attempt is cut is sent again, and the upload succeeds whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_that_fails_once_is_retried() {
    let moto = MotoServer::shared();
    let bucket = moto.create_bucket("retried");
    let cut_once = AtomicBool::new(false);
    let proxy = FaultyProxy::start(moto.port(), move |line| {
        is_upload_part(line, 2) && !cut_once.swap(true, Ordering::SeqCst)
    });
    let options = moto.s3_options().with_endpoint(proxy.endpoint());
    let store: Arc<dyn Storage> = Arc::new(S3Storage::new(&bucket, options).await.expect("store"));

    let data = pattern(LARGE, 5);
    let mut writer = StorageWriter::with_capacity(store.clone(), "backup.pgbm", 1024 * 1024);
    writer.write_all(&data).await.expect("write");
    writer
        .shutdown()
        .await
        .expect("the retry of part 2 succeeds");

    assert_eq!(proxy.cut_requests(), 1);
    assert!(
        store.get("backup.pgbm").await.expect("get") == data,
        "content intact"
    );
    assert!(moto.multipart_uploads(&bucket).is_empty());
}

/// Killing the endpoint mid-upload fails the upload instead of hanging, and leaves
/// no object behind on a server that comes back (moto forgets everything, so this
/// checks the client side: a clear, final error).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_endpoint_fails_the_upload_promptly() {
    let mut moto = MotoServer::start();
    let bucket = moto.create_bucket("dead");
    let store: Arc<dyn Storage> = Arc::new(moto.storage(&bucket).await);
    let mut writer = StorageWriter::with_capacity(store, "backup.pgbm", 1024 * 1024);
    writer
        .write_all(&pattern(2 * MIN_PART_SIZE as usize, 3))
        .await
        .expect("first parts");
    moto.kill();
    let started = Instant::now();
    let result = async {
        writer.write_all(&pattern(LARGE, 4)).await?;
        writer.shutdown().await
    }
    .await;
    assert!(
        result.is_err(),
        "an upload to a dead endpoint cannot succeed"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "gave up after {:?}",
        started.elapsed()
    );
}
