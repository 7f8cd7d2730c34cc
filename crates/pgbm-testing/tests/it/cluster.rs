//! Starting clusters, fresh databases, connection details.

use std::time::Duration;

use pgbm_testing::{ClusterOptions, PgCluster};

use crate::{process_alive, wait_until_gone};

#[tokio::test]
async fn shared_cluster_accepts_a_query() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_db("accepts_query");
    let client = db.client().await;
    let row = client
        .query_one("SELECT 1 + 1, current_setting('server_version_num')", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 2);
    let num: String = row.get(1);
    assert_eq!(num.parse::<u32>().unwrap(), cluster.server_version_num());
    assert_eq!(cluster.version(), cluster.server_version_num() / 10_000);
    assert!(cluster.version() >= 10, "{}", cluster.version());
    assert!(
        std::ptr::eq(cluster, PgCluster::shared()),
        "shared() is one cluster"
    );
}

#[tokio::test]
async fn fresh_dbs_are_distinct() {
    let cluster = PgCluster::shared();
    let a = cluster.fresh_db("distinct");
    let b = cluster.fresh_db("distinct");
    assert_ne!(a.name(), b.name());
    a.execute_sql("CREATE TABLE only_in_a (id int)").await;

    let a_client = a.client().await;
    let current: String = a_client
        .query_one("SELECT current_database()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(current, a.name());
    let b_client = b.client().await;
    let found = b_client
        .query_opt("SELECT 1 FROM pg_class WHERE relname = 'only_in_a'", &[])
        .await
        .unwrap();
    assert!(found.is_none(), "{} sees {}'s table", b.name(), a.name());
}

#[tokio::test]
async fn server_is_configured_for_tests() {
    let db = PgCluster::shared().fresh_db("configured");
    let client = db.client().await;
    let row = client
        .query_one(
            "SELECT current_setting('server_encoding'), datcollate, \
                    current_setting('max_connections'), \
                    current_setting('max_locks_per_transaction'), \
                    current_setting('fsync'), current_setting('listen_addresses') \
             FROM pg_database WHERE datname = current_database()",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<String> = (0..6).map(|i| row.get(i)).collect();
    assert_eq!(got, ["UTF8", "C.UTF-8", "200", "256", "off", "127.0.0.1"]);
}

#[test]
fn fresh_db_and_sql_work_from_sync_tests() {
    let db = PgCluster::shared().fresh_db("sync");
    db.execute_sql_blocking("CREATE TABLE t (id int); INSERT INTO t VALUES (1)");
    // A statement that fails must panic with the server's message.
    let err = std::panic::catch_unwind(|| db.execute_sql_blocking("SELECT * FROM missing"))
        .expect_err("SQL error must panic");
    let msg = err.downcast_ref::<String>().expect("message");
    assert!(msg.contains("missing") && msg.contains("42P01"), "{msg}");
}

#[tokio::test]
async fn conn_options_connect_through_pgbm_core() {
    let db = PgCluster::shared().fresh_db("core_conn");
    for opts in [db.conn_options(), db.tcp_conn_options()] {
        let client = opts
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{opts:?}: {e}"));
        let name: String = client
            .query_one("SELECT current_database()", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(name, db.name());
    }
}

#[tokio::test]
async fn conninfo_and_uri_connect() {
    let db = PgCluster::shared().fresh_db("conninfo");
    for conn in [db.conninfo(), db.uri()] {
        let config: tokio_postgres::Config = conn.parse().unwrap();
        let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        let name: String = client
            .query_one("SELECT current_database()", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(name, db.name(), "{conn}");
    }
}

#[test]
fn private_cluster_takes_settings_and_is_gone_after_drop() {
    let cluster = PgCluster::start_with(ClusterOptions {
        settings: vec![("work_mem".into(), "8MB".into())],
        ..ClusterOptions::default()
    });
    assert_ne!(cluster.port(), PgCluster::shared().port());
    let db = cluster.fresh_db("private");
    db.execute_sql_blocking("DO $$ BEGIN ASSERT current_setting('work_mem') = '8MB'; END $$");

    let (port, root) = (
        cluster.port(),
        cluster.data_dir().parent().unwrap().to_owned(),
    );
    let pid = cluster.postmaster_pid().expect("running");
    assert!(process_alive(pid));
    drop(cluster);
    // Drop stops the server with -w, so it is gone at once; allow a little slack anyway.
    wait_until_gone(port, pid, &root, Duration::from_secs(5)).unwrap();
}

#[test]
#[should_panic(expected = "has no `initdb`")]
fn start_with_bindir_without_binaries_fails_saying_what_is_missing() {
    let empty = tempfile::tempdir().unwrap();
    let _cluster = PgCluster::start_with_bindir(empty.path());
}

#[test]
fn failed_start_shows_the_server_log_and_leaves_nothing_behind() {
    let err = std::panic::catch_unwind(|| {
        PgCluster::start_with(ClusterOptions {
            settings: vec![("shared_buffers".into(), "lots".into())],
            ..ClusterOptions::default()
        })
    })
    .expect_err("a bad setting must stop the server from starting");
    let msg = err.downcast_ref::<String>().expect("message");
    assert!(msg.contains("server log"), "{msg}");
    assert!(
        msg.contains("shared_buffers"),
        "the log tail names the bad setting: {msg}"
    );
    // The message names the data directory; the half-built cluster must be deleted.
    let data_dir = msg
        .split_whitespace()
        .find(|w| w.contains("pgbm-pg-") && w.ends_with("/data"))
        .unwrap_or_else(|| panic!("no data dir in {msg}"));
    let root = std::path::Path::new(data_dir).parent().unwrap();
    assert!(!root.exists(), "{} was left behind", root.display());
}
