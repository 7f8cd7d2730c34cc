//! pgbm restores pg_dump's own plain output: for each fixture, the cluster's `pg_dump`
//! of the source, restored by pgbm into a fresh database, gives back the source's
//! schema and data.

use pgbm_testing::PgCluster;

use crate::support::tools::pgbm_restore_into;
use crate::support::{assert_same_database, Source};

fixture_tests!(restore_pg_dump_output);

/// Restores `pg_dump` of fixture `name` with pgbm and compares with the source.
async fn restore_pg_dump_output(name: &str) {
    let source = Source::get(name).await;
    let dump = source.pg_dump(&[]);
    let target = PgCluster::shared().fresh_db(&format!("rp_{name}"));
    pgbm_restore_into(&target, &dump, &format!("{name}: pg_dump's dump")).await;
    assert_same_database(
        source,
        &target,
        &format!("{name}: pg_dump's dump restored by pgbm"),
    );
}
