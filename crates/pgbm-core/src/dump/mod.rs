//! Dump: writes one database as a pg_dump plain-format SQL script.

use crate::conn::ConnOptions;
use crate::error::{Error, Result};
use tokio::io::AsyncWrite;

/// Options of a dump; each field matches the pg_dump flag of the same name.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct DumpOptions {
    /// `-n`: dump only schemas matching these patterns.
    pub schemas: Vec<String>,
    /// `-N`: skip schemas matching these patterns.
    pub exclude_schemas: Vec<String>,
    /// `-t`: dump only tables (views, sequences, ...) matching these patterns.
    pub tables: Vec<String>,
    /// `-T`: skip tables matching these patterns.
    pub exclude_tables: Vec<String>,
    /// `--exclude-table-data`: dump the definition but not the data of these tables.
    pub exclude_table_data: Vec<String>,
    /// `-s`: definitions only.
    pub schema_only: bool,
    /// `-a`: data only.
    pub data_only: bool,
    /// `-O`: no `ALTER ... OWNER TO`.
    pub no_owner: bool,
    /// `-x`: no GRANT/REVOKE.
    pub no_privileges: bool,
    /// `--no-comments`.
    pub no_comments: bool,
    /// `-c`: DROP statements before the CREATEs.
    pub clean: bool,
    /// `--if-exists` (with `clean`).
    pub if_exists: bool,
    /// `-C`: CREATE DATABASE and `\connect`.
    pub create: bool,
    /// `--serializable-deferrable`.
    pub serializable_deferrable: bool,
}

/// What a dump wrote.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct DumpSummary {
    /// Tables whose data was dumped.
    pub tables: u64,
    /// Bytes of COPY data written.
    pub data_bytes: u64,
    /// Bytes written in all.
    pub total_bytes: u64,
}

/// Dumps the database `conn` points at into `out`.
///
/// # Errors
/// Connection, server and I/O errors; an object pgbm cannot dump is an
/// [`crate::ErrorKind::Unsupported`] error that names it.
pub async fn dump<W>(conn: &ConnOptions, opts: &DumpOptions, out: W) -> Result<DumpSummary>
where
    W: AsyncWrite + Unpin + Send,
{
    let _ = (conn, opts, out);
    Err(Error::internal("dump is not implemented yet"))
}
