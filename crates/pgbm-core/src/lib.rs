//! pgbm-core: logical backups of PostgreSQL in pg_dump's plain SQL format, without any
//! PostgreSQL binary.
//!
//! * [`backup`] takes, lists, verifies and restores backups in a repository.
//! * [`dump`] writes a plain-format dump of one database to any async writer.
//! * [`restore`] runs a plain-format script (pgbm's or pg_dump's) against a server.
//! * [`conn`] resolves connection options the way libpq does.
//! * [`script`] parses plain-format SQL scripts into statements and COPY blocks.
//! * [`sql`] quotes identifiers and literals exactly as pg_dump does.

pub mod archive;
pub mod backup;
pub mod conn;
pub mod crypto;
pub mod dump;
pub mod error;
pub mod restore;
pub mod script;
pub mod sql;
pub mod storage;

pub use backup::{backup, Backup, BackupOptions, Repository};
pub use conn::ConnOptions;
pub use dump::{
    dump, dump_globals, dump_segmented, DumpOptions, DumpSummary, DumpTarget, SegmentKind,
    SegmentSpec, SegmentStats, SegmentedDump, TocEntry,
};
pub use error::{Error, ErrorKind, Result};
pub use restore::{restore, restore_segmented, RestoreOptions, RestoreSummary, SegmentSource};
