//! Subscriptions: pgbm's dump equals `pg_dump`'s in every output mode, and restores.
//!
//! Not a fixture: a restored subscription (always `connect = false`) makes the server
//! print a WARNING on 16 and later, which the psql round trip of every fixture forbids.
//! So this module builds its own database, compares with the oracle and restores with
//! pgbm only.

use pgbm_core::DumpOptions;
use pgbm_testing::{PgCluster, TestDb};

use crate::support::dumptext::assert_same_dump;
use crate::support::tools::{pgbm_dump_text, pgbm_restore_into};

/// Subscriptions with every option pg_dump writes on the cluster's major.
fn setup_sql(major: u32) -> String {
    let mut sql = String::from(
        "SET client_min_messages = error;
         CREATE SUBSCRIPTION pgbm_sub_plain CONNECTION 'host=nowhere dbname=x'
             PUBLICATION p1, \"P Two\" WITH (connect = false);
         CREATE SUBSCRIPTION \"pgbm Sub Slot\" CONNECTION 'dbname=y application_name=''it\\''s'''
             PUBLICATION p1 WITH (connect = false, slot_name = 'my_slot', binary = true,
             streaming = on, synchronous_commit = 'local');
         CREATE SUBSCRIPTION pgbm_sub_noslot CONNECTION 'dbname=z' PUBLICATION p1
             WITH (connect = false, slot_name = NONE, enabled = false);
         COMMENT ON SUBSCRIPTION pgbm_sub_plain IS 'a subscription';
        ",
    );
    if major >= 15 {
        sql.push_str(
            "CREATE SUBSCRIPTION pgbm_sub_15 CONNECTION 'dbname=z' PUBLICATION p1
                 WITH (connect = false, two_phase = true, disable_on_error = true);",
        );
    }
    if major >= 16 {
        sql.push_str(
            "CREATE SUBSCRIPTION pgbm_sub_16 CONNECTION 'dbname=z' PUBLICATION p1
                 WITH (connect = false, streaming = parallel, origin = none,
                 password_required = false, run_as_owner = true);
             CREATE SUBSCRIPTION pgbm_sub_off CONNECTION 'dbname=z' PUBLICATION p1
                 WITH (connect = false, streaming = off);",
        );
    }
    if major >= 17 {
        sql.push_str(
            "CREATE SUBSCRIPTION pgbm_sub_17 CONNECTION 'dbname=z' PUBLICATION p1
                 WITH (connect = false, failover = true);",
        );
    }
    sql.push_str("RESET client_min_messages;");
    sql
}

/// An output mode: pg_dump's arguments and the same on [`DumpOptions`].
type Mode = (&'static [&'static str], fn(&mut DumpOptions));

/// A fresh database holding the subscriptions.
async fn source() -> TestDb {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_db("subs");
    db.execute_sql(&setup_sql(cluster.version())).await;
    db
}

#[tokio::test]
async fn dump_matches_pg_dump_in_every_mode() {
    let db = source().await;
    let modes: [Mode; 7] = [
        (&[], |_| {}),
        (&["--clean"], |o| o.clean = true),
        (&["--clean", "--if-exists"], |o| {
            o.clean = true;
            o.if_exists = true;
        }),
        (&["--create"], |o| o.create = true),
        (&["--schema-only"], |o| o.schema_only = true),
        (&["--data-only"], |o| o.data_only = true),
        (&["--no-owner", "--no-privileges"], |o| {
            o.no_owner = true;
            o.no_privileges = true;
        }),
    ];
    for (args, set) in modes {
        let mut opts = DumpOptions::default();
        set(&mut opts);
        let what = format!("subscriptions, mode {args:?}");
        let actual = pgbm_dump_text(&db, &opts, &what).await;
        let expected = PgCluster::shared().pg_dump(&db, args);
        assert_same_dump(&what, "pg_dump", &expected, "pgbm", &actual);
    }
}

#[tokio::test]
async fn dump_restores_with_pgbm() {
    let db = source().await;
    let dump = pgbm_dump_text(&db, &DumpOptions::default(), "subscriptions").await;
    let target = PgCluster::shared().fresh_db("subs_rt");
    pgbm_restore_into(&target, &dump, "subscriptions").await;
    let cluster = PgCluster::shared();
    assert_same_dump(
        "subscriptions restored by pgbm",
        "pg_dump of the source",
        &cluster.pg_dump(&db, ["--schema-only"]),
        "pg_dump of the restored database",
        &cluster.pg_dump(&target, ["--schema-only"]),
    );
}
