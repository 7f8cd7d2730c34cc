//! Restore: runs a plain-format SQL script against a server, as `psql -f` would with
//! `ON_ERROR_STOP` set, but over the wire protocol only.
//!
//! The script is read with [`ScriptReader`](crate::script::ScriptReader): statements
//! run one at a time with the simple query protocol (so a string holding several
//! commands behaves as in psql), COPY data streams from the script to the server with
//! back-pressure, and `\connect` opens a session on another database of the same
//! server. The first error stops the restore; it carries the script line, the
//! statement and the SQLSTATE.

mod batch;
mod executor;
mod notice;
mod segmented;

pub use notice::{drive_connection, log_notice};
pub use segmented::{restore_segmented, SegmentSource};

use crate::conn::ConnOptions;
use crate::error::{Error, ErrorKind, Result};
use crate::script::ScriptReader;
use executor::Executor;
use tokio::io::AsyncBufRead;

/// Options of a restore.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RestoreOptions {
    /// Run the whole script in one transaction (`BEGIN` ... `COMMIT`).
    pub single_transaction: bool,
    /// Create the target database before restoring into it.
    pub create: bool,
    /// Database to restore into (with `create`: the one to create).
    pub target_db: Option<String>,
    /// Connections used at once by a segmented restore (table data, indexes).
    pub jobs: usize,
    /// Segmented restore: only entries of these schemas.
    pub schemas: Vec<String>,
    /// Segmented restore: only these tables (`name` or `schema.name`).
    pub tables: Vec<String>,
    /// Segmented restore: drop each selected object before creating it (with
    /// `create`: drop the whole database first), as pg_restore's `--clean`. A plain
    /// script cannot be cleaned this way (dump it with `--clean` instead).
    pub clean: bool,
    /// With `clean`: `DROP ... IF EXISTS`, so missing objects are no error.
    pub if_exists: bool,
}

/// What a restore did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RestoreSummary {
    /// Statements executed (COPY statements included).
    pub statements: u64,
    /// COPY blocks loaded.
    pub copies: u64,
    /// Bytes of COPY data sent to the server.
    pub copy_bytes: u64,
    /// Rows the server reported loaded by COPY.
    pub copy_rows: u64,
}

/// Restores the plain-format script read from `input`.
///
/// With `opts.create`, first creates the database (`target_db`, else the connection's
/// database) from `template0`, connected to the maintenance database `postgres` (or
/// `template1` when there is none). Otherwise restores into `target_db` if given, else
/// into the connection's database.
///
/// # Errors
/// Stops at the first failing statement: the error (kind
/// [`Server`](ErrorKind::Server)) carries its line and text
/// ([`Error::script_location`]), the SQLSTATE and the server's message; nothing after
/// it runs, and with `single_transaction` nothing at all stays. Script errors
/// ([`Script`](ErrorKind::Script)) and connection errors stop it the same way.
pub async fn restore<R>(
    conn: &ConnOptions,
    opts: &RestoreOptions,
    input: R,
) -> Result<RestoreSummary>
where
    R: AsyncBufRead + Unpin + Send,
{
    if opts.clean {
        return Err(Error::usage(
            "--clean applies to backups: a plain script drops objects only if it was dumped with --clean",
        ));
    }
    let target = target_database(conn, opts)?;
    if opts.create {
        let name = target.as_deref().unwrap_or_default();
        create_database(conn, name).await?;
    }
    let session = match &target {
        Some(db) => conn.with_dbname(db),
        None => conn.clone(),
    };
    let mut reader = ScriptReader::new(input);
    let mut executor = Executor::connect(session, opts.single_transaction).await?;
    match executor.run(&mut reader).await {
        Ok(()) => executor.finish(reader.line()).await,
        Err(e) => {
            executor.abort().await;
            Err(e)
        }
    }
}

/// The database to restore into, when it is not simply the connection's.
fn target_database(conn: &ConnOptions, opts: &RestoreOptions) -> Result<Option<String>> {
    let target = opts
        .target_db
        .clone()
        .or_else(|| opts.create.then(|| conn.dbname()));
    match target {
        Some(db) if db.is_empty() => Err(Error::usage("the target database name is empty")),
        None if opts.create => Err(Error::usage(
            "creating the database needs its name: give a target database or a dbname",
        )),
        other => Ok(other),
    }
}

/// A session on the maintenance database `postgres` (or `template1` where there is
/// none), for creating and dropping databases.
async fn maintenance_client(conn: &ConnOptions) -> Result<tokio_postgres::Client> {
    match conn.with_dbname("postgres").connect().await {
        Err(e) if e.kind() == ErrorKind::DatabaseNotFound => {
            conn.with_dbname("template1").connect().await
        }
        other => other,
    }
}

/// Drops `name` (`IF EXISTS` if asked), as pg_restore `--clean --create` does.
async fn drop_database(conn: &ConnOptions, name: &str, if_exists: bool) -> Result<()> {
    let client = maintenance_client(conn).await?;
    let quoted = quote_ident(name);
    let if_exists = if if_exists { "IF EXISTS " } else { "" };
    tracing::info!(database = name, "dropping database");
    client
        .batch_execute(&format!("DROP DATABASE {if_exists}{quoted}"))
        .await
        .map_err(|e| Error::postgres(format_args!("dropping database {quoted}"), e))
}

/// Creates `name` from `template0`, so that it starts empty whatever was added to
/// `template1` (the PostgreSQL documentation's advice for restoring a dump).
async fn create_database(conn: &ConnOptions, name: &str) -> Result<()> {
    let client = maintenance_client(conn).await?;
    let quoted = quote_ident(name);
    tracing::info!(database = name, "creating database");
    client
        .batch_execute(&format!("CREATE DATABASE {quoted} TEMPLATE template0"))
        .await
        .map_err(|e| Error::postgres(format_args!("creating database {quoted}"), e))
}

/// Always-quoted identifier: valid for any name, keyword or not.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(create: bool, target: Option<&str>) -> RestoreOptions {
        RestoreOptions {
            create,
            target_db: target.map(str::to_string),
            ..RestoreOptions::default()
        }
    }

    #[test]
    fn target_database_resolution() {
        let conn = ConnOptions::default().with_dbname("app");
        assert_eq!(target_database(&conn, &opts(false, None)).unwrap(), None);
        assert_eq!(
            target_database(&conn, &opts(false, Some("other"))).unwrap(),
            Some("other".into())
        );
        assert_eq!(
            target_database(&conn, &opts(true, None)).unwrap(),
            Some("app".into())
        );
        assert_eq!(
            target_database(&conn, &opts(true, Some("new"))).unwrap(),
            Some("new".into())
        );
        let e = target_database(&conn, &opts(false, Some(""))).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage);
    }

    #[test]
    fn restore_future_is_send() {
        // Front ends spawn restores on a multi-threaded runtime.
        fn assert_send<T: Send>(_: T) {}
        let conn = ConnOptions::default();
        let opts = RestoreOptions::default();
        assert_send(restore(&conn, &opts, &b""[..]));
    }

    #[test]
    fn identifiers_are_always_quoted() {
        assert_eq!(quote_ident("app"), "\"app\"");
        assert_eq!(quote_ident("we\"ird db"), "\"we\"\"ird db\"");
    }
}
