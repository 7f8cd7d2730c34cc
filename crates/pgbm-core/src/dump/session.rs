//! The dump's database session: settings, snapshot and locks, as pg_dump sets them.

use super::catalog::Catalog;
use super::select::Selection;
use super::DumpOptions;
use crate::error::{Error, Result};
use crate::sql::qualified;
use tokio_postgres::Client;

/// What the session learnt about the server.
#[derive(Debug, Clone)]
pub(crate) struct Server {
    /// `server_version_num`, e.g. 150018.
    pub version: i32,
    /// `server_version`, e.g. "15.18 (Debian 15.18-0+deb12u1)".
    pub version_string: String,
}

/// Oldest server major pgbm dumps.
const MIN_VERSION: i32 = 130000;

async fn exec(client: &Client, sql: &str) -> Result<()> {
    client
        .batch_execute(sql)
        .await
        .map_err(|e| Error::postgres(format!("running {sql:?}"), e))
}

/// The settings pg_dump gives every dump session (leader and workers).
fn session_settings(version: i32) -> String {
    let mut settings = String::from(
        "SET DATESTYLE = ISO; SET INTERVALSTYLE = POSTGRES; SET extra_float_digits TO 3; \
         SET synchronize_seqscans TO off; SET statement_timeout = 0; SET lock_timeout = 0; \
         SET idle_in_transaction_session_timeout = 0; SET row_security = off;",
    );
    if version >= 170000 {
        settings.push_str(" SET transaction_timeout = 0;");
    }
    // Not one of pg_dump's: catalog queries over many objects cross jit_above_cost, and
    // compiling them (on servers built with LLVM) costs more than it saves; with 10,000
    // tables the index query took half again as long. Output does not depend on it.
    settings.push_str(" SET jit = off;");
    // Patched servers (CVE-2024-7348) can refuse to expand non-system views.
    settings.push_str(
        " SELECT pg_catalog.set_config(name, 'view, foreign-table', false) \
         FROM pg_catalog.pg_settings WHERE name = 'restrict_nonsystem_relation_kind';",
    );
    settings
}

/// Sets up the session and opens the snapshot transaction.
pub(crate) async fn begin(client: &Client, opts: &DumpOptions) -> Result<Server> {
    exec(
        client,
        "SELECT pg_catalog.set_config('search_path', '', false)",
    )
    .await?;
    let row = client
        .query_one(
            "SELECT pg_catalog.current_setting('server_version_num')::int4, \
             pg_catalog.current_setting('server_version')",
            &[],
        )
        .await
        .map_err(|e| Error::postgres("reading the server version", e))?;
    let server = Server {
        version: row.get(0),
        version_string: row.get(1),
    };
    if server.version < MIN_VERSION {
        return Err(Error::unsupported(format!(
            "server version {} is older than PostgreSQL 13, the oldest pgbm dumps",
            server.version_string
        )));
    }
    exec(client, &session_settings(server.version)).await?;
    let isolation = if opts.serializable_deferrable {
        "SERIALIZABLE, READ ONLY, DEFERRABLE"
    } else {
        "REPEATABLE READ, READ ONLY"
    };
    exec(
        client,
        &format!("BEGIN; SET TRANSACTION ISOLATION LEVEL {isolation}"),
    )
    .await?;
    Ok(server)
}

/// Exports the leader's snapshot for parallel workers.
pub(crate) async fn export_snapshot(client: &Client) -> Result<String> {
    let row = client
        .query_one("SELECT pg_catalog.pg_export_snapshot()", &[])
        .await
        .map_err(|e| Error::postgres("exporting the snapshot", e))?;
    Ok(row.get(0))
}

/// The database name and the snapshot's time (transaction start), ISO 8601.
pub(crate) async fn identity(client: &Client) -> Result<(String, String)> {
    let row = client
        .query_one(
            "SELECT pg_catalog.current_database()::text, \
             pg_catalog.to_char(pg_catalog.now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
            &[],
        )
        .await
        .map_err(|e| Error::postgres("reading the database name", e))?;
    Ok((row.get(0), row.get(1)))
}

/// Sets up a parallel worker's session: the leader's settings, and a transaction on
/// the leader's exported snapshot.
pub(crate) async fn begin_worker(client: &Client, snapshot: &str) -> Result<()> {
    exec(
        client,
        "SELECT pg_catalog.set_config('search_path', '', false)",
    )
    .await?;
    let version: i32 = client
        .query_one(
            "SELECT pg_catalog.current_setting('server_version_num')::int4",
            &[],
        )
        .await
        .map_err(|e| Error::postgres("reading the server version", e))?
        .get(0);
    exec(client, &session_settings(version)).await?;
    exec(
        client,
        &format!(
            "BEGIN; SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; \
             SET TRANSACTION SNAPSHOT {}",
            crate::sql::quote_literal(snapshot)
        ),
    )
    .await
}

/// Locks every dumped table (ACCESS SHARE) before any deparse function runs, in
/// statements of bounded size.
pub(crate) async fn lock_tables(client: &Client, cat: &Catalog, sel: &Selection) -> Result<()> {
    let names: Vec<String> = cat
        .relations
        .iter()
        .filter(|r| sel.tables.contains(&r.oid) && matches!(r.kind, b'r' | b'p'))
        .map(|r| qualified(&r.schema, &r.name))
        .collect();
    let mut batch = String::new();
    for name in names {
        if !batch.is_empty() {
            batch.push_str(", ");
        }
        batch.push_str(&name);
        if batch.len() > 100_000 {
            lock(client, &batch).await?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        lock(client, &batch).await?;
    }
    Ok(())
}

async fn lock(client: &Client, list: &str) -> Result<()> {
    client
        .batch_execute(&format!("LOCK TABLE {list} IN ACCESS SHARE MODE"))
        .await
        .map_err(|e| Error::postgres("locking the tables to dump", e))
}

/// Ends the snapshot transaction.
pub(crate) async fn finish(client: &Client) -> Result<()> {
    exec(client, "COMMIT").await
}

/// A random key for psql's `\restrict` (63 alphanumerics, as pg_dump makes).
pub(crate) fn restrict_key() -> Result<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut raw = [0u8; 63];
    getrandom::getrandom(&mut raw)
        .map_err(|e| Error::internal(format!("no randomness for the restrict key: {e}")))?;
    Ok(raw
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect())
}
