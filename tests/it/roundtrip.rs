//! Round trips: pgbm's dump of each fixture, restored by pgbm and by psql, gives back
//! the source database, as `pg_dump` sees it (schema and data), on every supported
//! PostgreSQL major.
//!
//! Comparing through `pg_dump` rather than pgbm's own dump keeps the judge independent
//! of the code under test: a pgbm dump that loses something shows up even if pgbm's
//! dump of the restored copy would lose it the same way. The judge is the server's own
//! pg_dump, or the newest one for 13, which has none here ([`Server::judge_pg_dump`]).
//!
//! Test names read `roundtrip::SERVER::FIXTURE`, e.g. `roundtrip::v13::types`;
//! `debian15` is Debian's PostgreSQL 15 with its own pg_dump and psql.

use pgbm_core::{DumpOptions, RestoreOptions};
use pgbm_testing::PgCluster;
use tokio::io::BufReader;

use crate::support::fixtures::{fixture_files_of_major, ALL};
use crate::support::tools::{pgbm_dump_text, pgbm_restore_into, psql_restore, within_limit};
use crate::support::{assert_same_database, Server, Source};

per_every_server! {
    async fn run(fixture: &str) {
        super::round_trip(SERVER, fixture).await;
    }

    fixture_tests!(run);
}

/// [`round_trip_of`] fixture `name` on `server`.
async fn round_trip(server: Server, name: &str) {
    round_trip_of(Source::on(server, name).await, name).await;
}

/// Dumps `source` (named `name` in messages and database names) with pgbm, restores the
/// dump with pgbm into one fresh database and with psql into another, and compares both
/// with the source.
pub async fn round_trip_of(source: &Source, name: &str) {
    let server = source.server();
    let on = format!("{name} ({}) on {server}", source.files().join(", "));
    let dump = pgbm_dump_text(source.db(), &DumpOptions::default(), &on).await;
    let cluster = server.cluster();

    let by_pgbm = cluster.fresh_db(&format!("rt_pgbm_{name}"));
    pgbm_restore_into(&by_pgbm, &dump, &format!("{on}: pgbm's dump")).await;
    assert_same_database(
        source,
        &by_pgbm,
        &format!("{on}: pgbm's dump restored by pgbm"),
    );

    let by_psql = cluster.fresh_db(&format!("rt_psql_{name}"));
    psql_restore(server, &by_psql, &dump, &format!("{on}: pgbm's dump"));
    assert_same_database(
        source,
        &by_psql,
        &format!("{on}: pgbm's dump restored by psql"),
    );
}

/// The `_icu` and `_lz4` fixture files load only on servers built with ICU and lz4
/// (tests/fixtures/README.md). Debian's PostgreSQL 15, which the tests always have,
/// has both, so every fixture file a 15 server can take is loaded there (those of
/// other majors on their own servers): no fixture file goes untested. This fails if
/// the Debian build ever loses one of them.
#[tokio::test]
async fn debian15_loads_every_fixture_file_of_15() {
    let source = Source::on(Server::Debian(15), ALL).await;
    let missing: Vec<String> = fixture_files_of_major(15)
        .into_iter()
        .filter(|file| !source.files().contains(file))
        .collect();
    assert!(
        missing.is_empty(),
        "Debian's PostgreSQL 15 did not load {missing:?}: it lacks ICU or lz4, so these \
         fixture files run on no server; install Debian's postgresql-15 (built with both)"
    );
}

/// Dump and restore run at once, joined by an in-memory pipe far smaller than the
/// dump (the largest fixture, with a 2 MiB value): neither side may need the whole
/// script at once, and closing the pipe ends the restore. This is what the
/// `dump-to-db` example does.
#[tokio::test]
async fn dump_streams_into_restore_through_a_small_pipe() {
    let source = Source::get("data_edge").await;
    let target = PgCluster::shared().fresh_db("rt_pipe");
    let (source_conn, target_conn) = (source.db().conn_options(), target.conn_options());
    let (dump_opts, restore_opts) = (DumpOptions::default(), RestoreOptions::default());
    let (writer, reader) = tokio::io::duplex(16 * 1024);
    let dump = pgbm_core::dump(&source_conn, &dump_opts, writer);
    let restore = pgbm_core::restore(&target_conn, &restore_opts, BufReader::new(reader));
    let (dumped, restored) = within_limit("dump piped into restore", async {
        tokio::join!(dump, restore)
    })
    .await;
    let dumped = dumped.unwrap_or_else(|e| panic!("dump failed: {e} ({e:?})"));
    let restored = restored.unwrap_or_else(|e| panic!("restore failed: {e} ({e:?})"));
    // One COPY block per table with data: as many written as loaded.
    assert!(dumped.tables > 0, "{dumped:?}");
    assert_eq!(dumped.tables, restored.copies, "{dumped:?} {restored:?}");
    assert_same_database(source, &target, "data_edge: piped from dump into restore");
}
