//! How a restore fails: it stops at the first error, says where (script line), with
//! what (kind, SQLSTATE, the server's message), and runs nothing after it.
//!
//! Scripts are written as arrays of lines so that the expected line numbers are
//! computed, not counted by hand.

use std::sync::atomic::{AtomicU32, Ordering};

use pgbm_core::{Error, ErrorKind, RestoreOptions};
use pgbm_testing::{PgCluster, TestDb};

use crate::support::fixtures::pg_error;
use crate::support::tools::pgbm_restore;

/// `lines` joined into a script, each line ending in `\n`.
fn script(lines: &[&str]) -> String {
    lines.iter().map(|line| format!("{line}\n")).collect()
}

/// The 1-based number of the one line of `lines` that is `wanted`.
fn line_of(lines: &[&str], wanted: &str) -> u64 {
    let index = lines
        .iter()
        .position(|line| *line == wanted)
        .unwrap_or_else(|| panic!("no line is {wanted:?}"));
    assert_eq!(
        lines.iter().filter(|line| **line == wanted).count(),
        1,
        "{wanted:?} is on several lines"
    );
    u64::try_from(index + 1).unwrap()
}

/// Restores `text` into `db` with `opts`, expecting it to fail.
async fn restore_failing(db: &TestDb, opts: &RestoreOptions, text: &str) -> Error {
    match pgbm_restore(&db.conn_options(), opts, text.as_bytes()).await {
        Ok(summary) => panic!("the restore should have failed, but it reports {summary:?}"),
        Err(e) => e,
    }
}

/// Whether table `public.name` exists in `db`.
async fn table_exists(db: &TestDb, name: &str) -> bool {
    let client = db.client().await;
    let row = client
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL",
            &[&format!("public.{name}")],
        )
        .await
        .unwrap_or_else(|e| panic!("checking for table {name}: {}", pg_error(&e)));
    row.get(0)
}

/// The number of rows in table `public.name` of `db`.
async fn row_count(db: &TestDb, name: &str) -> i64 {
    let client = db.client().await;
    let row = client
        .query_one(&format!("SELECT count(*) FROM public.{name}"), &[])
        .await
        .unwrap_or_else(|e| panic!("counting rows of {name}: {}", pg_error(&e)));
    row.get(0)
}

/// A database name no test of this run uses, for databases that must not exist yet.
fn unused_db_name(what: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("pgbm_it_{what}_{}_{n}", std::process::id())
}

/// Panics unless `err` is a Script error that names line `line`, either as its script
/// location or, as [`Error::script`] writes it, at the start of its message.
fn assert_script_error_at(err: &Error, line: u64) {
    assert_eq!(err.kind(), ErrorKind::Script, "{err:?}");
    let located = err.script_location().map(|l| l.line) == Some(line)
        || err.message().starts_with(&format!("line {line}: "));
    assert!(located, "the error should name line {line}: {err:?}");
}

#[tokio::test]
async fn a_failing_statement_stops_the_restore_with_its_line_and_sqlstate() {
    let db = PgCluster::shared().fresh_db("err_stmt");
    let lines = [
        "-- a script with an error in its fourth statement",
        "CREATE TABLE before_error (id int);",
        "INSERT INTO before_error VALUES (1);",
        "",
        "INSERT INTO before_error",
        "    VALUES (1 / 0);",
        "CREATE TABLE after_error ();",
    ];
    let err = restore_failing(&db, &RestoreOptions::default(), &script(&lines)).await;

    assert_eq!(err.kind(), ErrorKind::Server, "{err:?}");
    let location = err
        .script_location()
        .unwrap_or_else(|| panic!("a server error during a restore has a location: {err:?}"));
    assert_eq!(
        location.line,
        line_of(&lines, "INSERT INTO before_error"),
        "{err:?}"
    );
    assert!(location.statement.contains("1 / 0"), "{err:?}");
    assert_eq!(err.sqlstate(), Some("22012"), "{err:?}");
    assert!(err.to_string().contains("division by zero"), "{err}");

    // What ran before stays (no single transaction); nothing after the error ran.
    assert_eq!(row_count(&db, "before_error").await, 1);
    assert!(!table_exists(&db, "after_error").await);
}

#[tokio::test]
async fn an_unterminated_copy_block_is_a_script_error() {
    let db = PgCluster::shared().fresh_db("err_copy_eof");
    let lines = [
        "CREATE TABLE items (id int);",
        "COPY public.items (id) FROM stdin;",
        "1",
        "2",
    ];
    let err = restore_failing(&db, &RestoreOptions::default(), &script(&lines)).await;
    assert_eq!(err.kind(), ErrorKind::Script, "{err:?}");
    // A truncated COPY must not load part of its rows as if the script were whole.
    assert_eq!(row_count(&db, "items").await, 0);
}

#[tokio::test]
async fn an_unknown_meta_command_is_a_script_error_with_its_line() {
    let db = PgCluster::shared().fresh_db("err_meta");
    let lines = [
        "CREATE TABLE before_meta ();",
        "",
        "\\foo bar",
        "CREATE TABLE after_meta ();",
    ];
    let err = restore_failing(&db, &RestoreOptions::default(), &script(&lines)).await;
    assert_script_error_at(&err, line_of(&lines, "\\foo bar"));
    assert!(err.to_string().contains("foo"), "{err}");
    assert!(!table_exists(&db, "after_meta").await);
}

#[tokio::test]
async fn single_transaction_rolls_everything_back_on_error() {
    let db = PgCluster::shared().fresh_db("err_single_tx");
    let lines = [
        "CREATE TABLE first (id int);",
        "INSERT INTO first VALUES (1), (2);",
        "COPY public.first (id) FROM stdin;",
        "3",
        "\\.",
        "CREATE TABLE second (id int);",
        "SELECT * FROM no_such_table;",
        "CREATE TABLE after_error ();",
    ];
    let mut opts = RestoreOptions::default();
    opts.single_transaction = true;
    let err = restore_failing(&db, &opts, &script(&lines)).await;

    assert_eq!(err.kind(), ErrorKind::Server, "{err:?}");
    assert_eq!(err.sqlstate(), Some("42P01"), "{err:?}");
    assert_eq!(
        err.script_location().map(|l| l.line),
        Some(line_of(&lines, "SELECT * FROM no_such_table;")),
        "{err:?}"
    );
    for table in ["first", "second", "after_error"] {
        assert!(
            !table_exists(&db, table).await,
            "{table} should have been rolled back"
        );
    }
}

#[tokio::test]
async fn a_bad_copy_row_reports_the_copy_line() {
    let db = PgCluster::shared().fresh_db("err_copy_row");
    let lines = [
        "CREATE TABLE items (id int, name text);",
        "",
        "COPY public.items (id, name) FROM stdin;",
        "1\tone",
        "two\ttwo",
        "3\tthree",
        "\\.",
        "",
        "CREATE TABLE after_error ();",
    ];
    let err = restore_failing(&db, &RestoreOptions::default(), &script(&lines)).await;

    assert_eq!(err.kind(), ErrorKind::Server, "{err:?}");
    assert_eq!(
        err.script_location().map(|l| l.line),
        Some(line_of(&lines, "COPY public.items (id, name) FROM stdin;")),
        "{err:?}"
    );
    assert_eq!(err.sqlstate(), Some("22P02"), "{err:?}");
    assert!(
        err.to_string()
            .contains("invalid input syntax for type integer"),
        "{err}"
    );
    assert_eq!(
        row_count(&db, "items").await,
        0,
        "a failed COPY loads nothing"
    );
    assert!(!table_exists(&db, "after_error").await);
}

#[tokio::test]
async fn restoring_into_a_missing_database_is_database_not_found() {
    let cluster = PgCluster::shared();
    let text = script(&["CREATE TABLE t ();"]);

    // Named by the connection...
    let missing = cluster.db(&unused_db_name("missing"));
    let err = restore_failing(&missing, &RestoreOptions::default(), &text).await;
    assert_eq!(err.kind(), ErrorKind::DatabaseNotFound, "{err:?}");

    // ...or by the target database, without `create`.
    let mut opts = RestoreOptions::default();
    opts.target_db = Some(unused_db_name("missing_target"));
    let err = restore_failing(&cluster.db("postgres"), &opts, &text).await;
    assert_eq!(err.kind(), ErrorKind::DatabaseNotFound, "{err:?}");
}

#[tokio::test]
async fn create_with_a_target_db_creates_it_and_restores_into_it() {
    let cluster = PgCluster::shared();
    let name = unused_db_name("created");
    let lines = [
        "CREATE TABLE made_here (id int);",
        "COPY public.made_here (id) FROM stdin;",
        "7",
        "\\.",
    ];
    let mut opts = RestoreOptions::default();
    opts.create = true;
    opts.target_db = Some(name.clone());
    let maintenance = cluster.db("postgres");
    pgbm_restore(
        &maintenance.conn_options(),
        &opts,
        script(&lines).as_bytes(),
    )
    .await
    .unwrap_or_else(|e| panic!("restore with create failed: {e} ({e:?})"));

    let created = cluster.db(&name);
    assert_eq!(row_count(&created, "made_here").await, 1);
    assert!(
        !table_exists(&maintenance, "made_here").await,
        "the script must run in the new database, not the one connected to first"
    );
}
