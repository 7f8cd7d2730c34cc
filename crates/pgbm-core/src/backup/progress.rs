//! Live progress counters of a backup or restore, for progress bars.
//!
//! The core only counts (lock-free atomics, updated as data flows); a front end polls
//! [`Progress::snapshot`] as often as it likes and draws what it wants. Nothing here
//! prints.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters shared between a running operation and whoever watches it.
#[derive(Debug, Default)]
pub struct Progress {
    bytes: AtomicU64,
    total_bytes: AtomicU64,
    stored_bytes: AtomicU64,
    rows: AtomicU64,
    tables_done: AtomicU64,
    tables_total: AtomicU64,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProgressSnapshot {
    /// Plaintext bytes of the script dumped (backup) or read back (restore, verify).
    pub bytes: u64,
    /// Plaintext bytes expected in all, when known (restore, verify); 0 if unknown.
    pub total_bytes: u64,
    /// Bytes written to the repository (backup: compressed and encrypted).
    pub stored_bytes: u64,
    /// Rows of table data so far.
    pub rows: u64,
    /// Tables whose data is complete.
    pub tables_done: u64,
    /// Tables expected, when known; 0 if unknown.
    pub tables_total: u64,
}

impl Progress {
    /// Fresh counters, all zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current values.
    pub fn snapshot(&self) -> ProgressSnapshot {
        ProgressSnapshot {
            bytes: self.bytes.load(Ordering::Relaxed),
            total_bytes: self.total_bytes.load(Ordering::Relaxed),
            stored_bytes: self.stored_bytes.load(Ordering::Relaxed),
            rows: self.rows.load(Ordering::Relaxed),
            tables_done: self.tables_done.load(Ordering::Relaxed),
            tables_total: self.tables_total.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_stored(&self, n: u64) {
        self.stored_bytes.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add_rows(&self, n: u64) {
        self.rows.fetch_add(n, Ordering::Relaxed);
    }

    /// Marks a table complete and replaces the `counted` rows estimated for it by
    /// the exact `rows`.
    pub(crate) fn table_done(&self, counted: u64, rows: u64) {
        if rows >= counted {
            self.rows.fetch_add(rows - counted, Ordering::Relaxed);
        } else {
            self.rows.fetch_sub(counted - rows, Ordering::Relaxed);
        }
        self.tables_done.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn set_totals(&self, bytes: u64, tables: u64) {
        self.total_bytes.store(bytes, Ordering::Relaxed);
        self.tables_total.store(tables, Ordering::Relaxed);
    }
}

/// Newlines in a chunk of a table data segment. Text-format COPY escapes newlines
/// inside values, so while data flows this counts rows (plus the few lines of the
/// entry's header and the `\.` trailer); when the segment ends, the count is replaced
/// by the exact number ([`Progress::table_done`]).
pub(crate) fn newlines(chunk: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', chunk).count() as u64
}
