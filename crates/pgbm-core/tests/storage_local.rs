//! The storage conformance suite against the local directory backend, bare and behind
//! the decorators a repository URL puts around it.

use std::sync::Arc;

use pgbm_core::storage::conformance::Conformance;
use pgbm_core::storage::{open, LocalStorage, Location, OpenOptions, Storage};

/// Local multipart uploads have no minimum part size, so a few MiB exercise them.
const LARGE: usize = 3 * 1024 * 1024;

/// A fresh local store and the suite over it.
fn suite() -> (tempfile::TempDir, Conformance) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Storage> = Arc::new(LocalStorage::new(dir.path()).expect("local store"));
    (dir, Conformance::new(store, "suite").with_large_size(LARGE))
}

/// One test per conformance check, so a failure names the broken rule.
macro_rules! conformance_tests {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $check() {
            let (_dir, suite) = suite();
            suite.$check().await;
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

/// `file://DIR/sub` opens retry ∘ local, and the whole suite passes through it.
#[tokio::test]
async fn the_whole_suite_passes_through_a_file_url() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("file://{}/repo%20dir", dir.path().display());
    let location = Location::parse(&url).expect("parse");
    let store = open(&location, &OpenOptions::default())
        .await
        .expect("open")
        .scoped()
        .expect("scoped");
    Conformance::new(Arc::from(store), "suite")
        .with_large_size(LARGE)
        .run_all()
        .await;
    assert!(dir.path().join("repo dir/suite/basic").is_dir());
}
