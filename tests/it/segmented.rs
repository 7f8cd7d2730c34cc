//! Segmented dumps: the segments, concatenated in order, are exactly the plain dump,
//! whether table data is dumped by one connection or by several sharing a snapshot;
//! the table of contents points at every entry.

use std::collections::BTreeMap;
use std::sync::Mutex;

use pgbm_core::{DumpOptions, DumpTarget, Result, SegmentKind, SegmentSpec, SegmentStats};

use crate::support::dumptext::normalize;
use crate::support::tools::{pgbm_dump_text, within_limit};
use crate::support::Source;

/// Collects segments in memory.
#[derive(Default)]
struct MemoryTarget {
    segments: Mutex<BTreeMap<usize, Vec<u8>>>,
    open: Mutex<usize>,
    max_open: Mutex<usize>,
}

impl DumpTarget for MemoryTarget {
    type Segment = std::io::Cursor<Vec<u8>>;

    async fn open_segment(&self, _spec: &SegmentSpec) -> Result<Self::Segment> {
        let mut open = self.open.lock().unwrap();
        *open += 1;
        let mut max = self.max_open.lock().unwrap();
        *max = (*max).max(*open);
        Ok(std::io::Cursor::new(Vec::new()))
    }

    async fn close_segment(
        &self,
        spec: &SegmentSpec,
        segment: Self::Segment,
        stats: &SegmentStats,
    ) -> Result<()> {
        *self.open.lock().unwrap() -= 1;
        let bytes = segment.into_inner();
        assert_eq!(
            bytes.len() as u64,
            stats.bytes,
            "{}: stats.bytes",
            spec.name
        );
        let previous = self.segments.lock().unwrap().insert(spec.index, bytes);
        assert!(previous.is_none(), "segment {} written twice", spec.index);
        Ok(())
    }
}

async fn segments_equal_plain_dump(fixture: &str, jobs: usize) {
    let source = Source::get(fixture).await;
    let plain = pgbm_dump_text(source.db(), &DumpOptions::default(), fixture).await;
    let target = MemoryTarget::default();
    let conn = source.db().conn_options();
    let dumped = within_limit(
        "segmented dump",
        pgbm_core::dump_segmented(&conn, &DumpOptions::default(), jobs, &target),
    )
    .await
    .unwrap_or_else(|e| panic!("segmented dump of {fixture} failed: {e}"));
    let segments = target.segments.into_inner().unwrap();
    assert_eq!(segments.len(), dumped.segments.len());
    let joined: Vec<u8> = segments.values().flatten().copied().collect();
    let joined = String::from_utf8(joined).expect("dump is UTF-8");
    assert_eq!(
        normalize(&joined),
        normalize(&plain),
        "{fixture}, jobs {jobs}"
    );

    // Every table's data is its own segment, with its rows counted.
    let tables: Vec<_> = dumped
        .segments
        .iter()
        .filter(|(s, _)| s.kind == SegmentKind::TableData)
        .collect();
    assert_eq!(tables.len() as u64, dumped.summary.tables);
    assert!(tables.iter().any(|(_, st)| st.rows > 0));
    // The TOC's ranges hold the entries they name.
    for entry in dumped.toc.iter().filter(|e| e.len > 0) {
        let seg = &segments[&entry.segment];
        let text = std::str::from_utf8(&seg[entry.offset as usize..][..entry.len as usize])
            .expect("entry text is UTF-8");
        assert!(
            text.contains(&format!("Type: {};", entry.desc)),
            "TOC entry {} {} does not point at its text: {text:?}",
            entry.desc,
            entry.tag
        );
    }
    if jobs > 1 && tables.len() > 1 {
        assert!(
            *target.max_open.lock().unwrap() > 1,
            "with {jobs} jobs, table segments should be written concurrently"
        );
    }
}

#[tokio::test]
async fn one_job_concatenates_to_the_plain_dump() {
    segments_equal_plain_dump("constraints", 1).await;
}

#[tokio::test]
async fn four_jobs_share_one_snapshot_and_concatenate_to_the_plain_dump() {
    segments_equal_plain_dump("types", 4).await;
    segments_equal_plain_dump("data_edge", 4).await;
}

/// Serves segments collected by [`MemoryTarget`].
struct MemorySource(BTreeMap<usize, Vec<u8>>);

impl pgbm_core::SegmentSource for MemorySource {
    type Reader = std::io::Cursor<Vec<u8>>;

    async fn open(&self, index: usize) -> Result<Self::Reader> {
        Ok(std::io::Cursor::new(self.0[&index].clone()))
    }
}

/// Dumps `fixture` as segments and restores them into a fresh database.
async fn segmented_round_trip(
    fixture: &str,
    jobs: usize,
    tables: &[&str],
) -> (&'static Source, pgbm_testing::TestDb) {
    let source = Source::get(fixture).await;
    let target = MemoryTarget::default();
    let conn = source.db().conn_options();
    let dumped = pgbm_core::dump_segmented(&conn, &DumpOptions::default(), jobs, &target)
        .await
        .unwrap_or_else(|e| panic!("segmented dump of {fixture} failed: {e}"));
    let segments = MemorySource(target.segments.into_inner().unwrap());
    let db = pgbm_testing::PgCluster::shared().fresh_db(&format!("seg_{fixture}"));
    let mut opts = pgbm_core::RestoreOptions::default();
    opts.jobs = jobs;
    opts.tables = tables.iter().map(|t| (*t).to_string()).collect();
    let specs: Vec<_> = dumped.segments.iter().map(|(s, _)| s.clone()).collect();
    within_limit(
        "segmented restore",
        pgbm_core::restore_segmented(&db.conn_options(), &opts, &specs, &dumped.toc, &segments),
    )
    .await
    .unwrap_or_else(|e| panic!("segmented restore of {fixture} (jobs {jobs}) failed: {e}"));
    (source, db)
}

#[tokio::test]
async fn segmented_restore_with_one_and_four_jobs_gives_back_the_database() {
    for fixture in ["constraints", "indexes", "views"] {
        for jobs in [1, 4] {
            let (source, db) = segmented_round_trip(fixture, jobs, &[]).await;
            crate::support::assert_same_database(
                source,
                &db,
                &format!("{fixture}: segmented restore, {jobs} jobs"),
            );
        }
    }
}

#[tokio::test]
async fn selective_restore_restores_one_table_alone() {
    let (_, db) = segmented_round_trip("constraints", 2, &["constraints.tree"]).await;
    let client = db.client().await;
    let tables: Vec<String> = client
        .query(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
             AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(tables, ["constraints.tree"]);
    let source = Source::get("constraints").await;
    let want: i64 = source
        .db()
        .client()
        .await
        .query_one("SELECT count(*) FROM constraints.tree", &[])
        .await
        .unwrap()
        .get(0);
    let got: i64 = client
        .query_one("SELECT count(*) FROM constraints.tree", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(got, want);
    assert!(got > 0);
}
