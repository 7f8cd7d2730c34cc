//! Running pgbm's dump and restore, psql and pg_dump for the tests.
//!
//! pgbm calls run under a time limit, so that a hang (a COPY that never ends, a pipe
//! nobody drains) fails the test with a message instead of stalling CI.

use std::future::Future;
use std::time::Duration;

use pgbm_core::{ConnOptions, DumpOptions, RestoreOptions, RestoreSummary};
use pgbm_testing::TestDb;

use super::dumptext::assert_same_dump;
use super::{Server, Source};

/// How long one pgbm dump or restore may take: generous for a loaded 2-core CI machine
/// (the largest fixture dumps in well under a second).
const LIMIT: Duration = Duration::from_secs(300);

/// Runs `fut`, panicking if it takes longer than [`LIMIT`].
pub async fn within_limit<F: Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(LIMIT, fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {LIMIT:?}"))
}

/// pgbm's dump of `db` with `opts`.
pub async fn pgbm_dump(db: &TestDb, opts: &DumpOptions) -> pgbm_core::Result<Vec<u8>> {
    let mut out = Vec::new();
    within_limit(
        &format!("pgbm dump of {}", db.name()),
        pgbm_core::dump(&db.conn_options(), opts, &mut out),
    )
    .await?;
    Ok(out)
}

/// pgbm's dump of `db` with `opts` as text; `what` names it in a failure.
///
/// # Panics
/// When the dump fails or is not UTF-8 (every test database is UTF8).
pub async fn pgbm_dump_text(db: &TestDb, opts: &DumpOptions, what: &str) -> String {
    let bytes = pgbm_dump(db, opts)
        .await
        .unwrap_or_else(|e| panic!("{what}: pgbm dump failed: {e} ({e:?})"));
    String::from_utf8(bytes).unwrap_or_else(|e| panic!("{what}: pgbm dump is not UTF-8: {e}"))
}

/// pgbm's restore of `script` with `opts`, connecting with `conn`.
pub async fn pgbm_restore(
    conn: &ConnOptions,
    opts: &RestoreOptions,
    script: &[u8],
) -> pgbm_core::Result<RestoreSummary> {
    within_limit("pgbm restore", pgbm_core::restore(conn, opts, script)).await
}

/// pgbm's restore of `script` into `db` with default options.
///
/// # Panics
/// When the restore fails, with the error's kind, line, statement and SQLSTATE.
pub async fn pgbm_restore_into(db: &TestDb, script: &str, what: &str) -> RestoreSummary {
    pgbm_restore(
        &db.conn_options(),
        &RestoreOptions::default(),
        script.as_bytes(),
    )
    .await
    .unwrap_or_else(|e| panic!("{what}: pgbm restore failed: {e} ({e:?})"))
}

/// Runs `script` into `db` on `server` with `psql -X -v ON_ERROR_STOP=1 -q -f`, as a
/// user would restore a plain dump (psql of the server's major, else the newest).
///
/// # Panics
/// When psql fails or writes anything to stderr (a restore of a faithful dump of the
/// fixtures prints no NOTICE or WARNING).
pub fn psql_restore(server: Server, db: &TestDb, script: &str, what: &str) {
    let mut file = tempfile::NamedTempFile::new().expect("creating a temporary file");
    std::io::Write::write_all(&mut file, script.as_bytes()).expect("writing the script");
    let out = server
        .cluster()
        .psql_file_with(&server.psql(), db, file.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.is_empty(),
        "{what}: psql restore into {} failed ({}):\n{stderr}",
        db.name(),
        out.status
    );
}

/// Panics unless `target`'s schema and data, as `pg_dump --schema-only` and
/// `pg_dump --data-only` print them, equal `source`'s. `what` names the restore.
/// `target` must be on the source's server; both are dumped by its judge
/// ([`Server::judge_pg_dump`]).
///
/// Plain dumps print rows in physical order and a restore loads them in dump order,
/// so equal data dumps mean the same rows in the same order (and the same sequence
/// states, which `--data-only` includes).
pub fn assert_same_database(source: &Source, target: &TestDb, what: &str) {
    for args in [["--schema-only"], ["--data-only"]] {
        let expected = source.pg_dump(&args);
        let server = source.server();
        let actual = server
            .cluster()
            .pg_dump_with(&server.judge_pg_dump(), target, args);
        assert_same_dump(
            &format!("{what} ({})", args[0]),
            &format!("pg_dump {} of the source", args[0]),
            &expected,
            &format!("pg_dump {} of the restored database", args[0]),
            &actual,
        );
    }
}
