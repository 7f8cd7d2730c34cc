//! Extension configuration tables whose rows reference each other.
//!
//! Not a fixture: no contrib extension has configuration tables with foreign keys, so
//! this module installs a tiny extension of its own (`pgbm_test_cfg`) into the shared
//! cluster's `SHAREDIR/extension` (the tests run as root, or as the installation's
//! owner) and checks that the referenced table's rows are dumped, and so restored,
//! before the referencing table's: CREATE EXTENSION makes the foreign key, so it is
//! in force while the rows load. The dump must also equal pg_dump's.

use pgbm_core::DumpOptions;
use pgbm_testing::{PgCluster, TestDb};

use crate::support::dumptext::assert_same_dump;
use crate::support::tools::{pgbm_dump_text, pgbm_restore_into};

const EXTENSION: &str = "pgbm_test_cfg";

const CONTROL: &str = "comment = 'pgbm test: configuration tables with a foreign key'
default_version = '1.0'
relocatable = false
schema = pgbm_cfg
";

/// The child sorts before its parent by name, so only the dependency puts the
/// parent's data first.
const SCRIPT: &str = "CREATE TABLE pgbm_cfg.b_parent (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE pgbm_cfg.a_child (
    id integer PRIMARY KEY,
    parent integer NOT NULL REFERENCES pgbm_cfg.b_parent
);
SELECT pg_catalog.pg_extension_config_dump('pgbm_cfg.b_parent', 'WHERE id > 0');
SELECT pg_catalog.pg_extension_config_dump('pgbm_cfg.a_child', 'WHERE id > 0');
INSERT INTO pgbm_cfg.b_parent VALUES (0, 'shipped with the extension');
INSERT INTO pgbm_cfg.a_child VALUES (0, 0);
";

/// Writes the extension's control and script files into the server's share directory
/// (idempotent: the same bytes every time, written to a temporary name and renamed,
/// so concurrent test processes never see half a file).
async fn install_extension(db: &TestDb) {
    let client = db.client().await;
    let row = client
        .query_one(
            "SELECT setting FROM pg_catalog.pg_config WHERE name = 'SHAREDIR'",
            &[],
        )
        .await
        .expect("reading SHAREDIR from pg_config");
    let dir = std::path::PathBuf::from(row.get::<_, String>(0)).join("extension");
    for (name, text) in [
        (format!("{EXTENSION}.control"), CONTROL),
        (format!("{EXTENSION}--1.0.sql"), SCRIPT),
    ] {
        let path = dir.join(&name);
        let tmp = dir.join(format!(".{name}.{}", std::process::id()));
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .unwrap_or_else(|e| {
                panic!(
                    "installing the test extension into {}: {e} (the tests need write \
                     access to the PostgreSQL installation's share directory: run them \
                     as root or as its owner)",
                    dir.display()
                )
            });
    }
}

/// A database with the extension and user rows in both configuration tables.
async fn source() -> TestDb {
    let db = PgCluster::shared().fresh_db("extcfg");
    install_extension(&db).await;
    db.execute_sql(&format!(
        "CREATE SCHEMA pgbm_cfg;
         CREATE EXTENSION {EXTENSION};
         INSERT INTO pgbm_cfg.b_parent SELECT g, 'parent ' || g FROM generate_series(1, 5) g;
         INSERT INTO pgbm_cfg.a_child SELECT g, 1 + g % 5 FROM generate_series(1, 20) g;"
    ))
    .await;
    db
}

#[tokio::test]
async fn referenced_configuration_data_comes_first_and_restores() {
    let db = source().await;
    let dump = pgbm_dump_text(&db, &DumpOptions::default(), "extension config tables").await;
    let parent = dump
        .find("COPY pgbm_cfg.b_parent ")
        .expect("the parent's data is dumped");
    let child = dump
        .find("COPY pgbm_cfg.a_child ")
        .expect("the child's data is dumped");
    assert!(
        parent < child,
        "the referenced table's rows must come first:\n{dump}"
    );
    let expected = PgCluster::shared().pg_dump(&db, std::iter::empty::<&str>());
    assert_same_dump(
        "extension config tables",
        "pg_dump",
        &expected,
        "pgbm",
        &dump,
    );

    let target = PgCluster::shared().fresh_db("extcfg_rt");
    pgbm_restore_into(&target, &dump, "extension config tables").await;
    let client = target.client().await;
    let count = |table: &'static str| {
        let client = &client;
        async move {
            let row = client
                .query_one(&format!("SELECT count(*) FROM pgbm_cfg.{table}"), &[])
                .await
                .expect("counting restored rows");
            row.get::<_, i64>(0)
        }
    };
    // The extension's own row plus the user's (the filters skip id 0, which CREATE
    // EXTENSION inserts again).
    assert_eq!(count("b_parent").await, 6);
    assert_eq!(count("a_child").await, 21);
}
