//! psql and pg_dump from the cluster's bindir.

use pgbm_testing::{skip_or_fail, PgCluster};

/// Whether the shared cluster's bindir has `tool`; if not, skips (or fails in CI).
fn has_tool(tool: &str) -> bool {
    let cluster = PgCluster::shared();
    if cluster.tool(tool).is_some() {
        return true;
    }
    skip_or_fail(&format!(
        "{} has no {tool}: install postgresql-client-{}",
        cluster.bindir().display(),
        cluster.version()
    ));
    false
}

#[test]
fn psql_file_loads_a_script_and_pg_dump_dumps_it() {
    if !has_tool("psql") || !has_tool("pg_dump") {
        return;
    }
    let cluster = PgCluster::shared();
    let db = cluster.fresh_db("tools");
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("load.sql");
    std::fs::write(
        &script,
        "CREATE TABLE fruit (name text);\nINSERT INTO fruit VALUES ('kiwi');\n",
    )
    .unwrap();
    let out = cluster.psql_file(&db, &script);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let dump = cluster.pg_dump(&db, ["--data-only", "--inserts"]);
    assert!(
        dump.contains("INSERT INTO public.fruit VALUES ('kiwi');"),
        "{dump}"
    );
}

#[test]
fn psql_file_stops_at_the_first_error() {
    if !has_tool("psql") {
        return;
    }
    let cluster = PgCluster::shared();
    let db = cluster.fresh_db("tools_err");
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("bad.sql");
    std::fs::write(
        &script,
        "SELECT * FROM nowhere;\nCREATE TABLE after_error (id int);\n",
    )
    .unwrap();
    let out = cluster.psql_file(&db, &script);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nowhere"));
    let dump = cluster.pg_dump(&db, ["--schema-only"]);
    assert!(
        !dump.contains("after_error"),
        "psql went on after the error"
    );
}

#[test]
fn pg_dump_failure_panics_with_stderr() {
    if !has_tool("pg_dump") {
        return;
    }
    let cluster = PgCluster::shared();
    let missing = cluster.db("no_such_database");
    let err = std::panic::catch_unwind(|| cluster.pg_dump(&missing, ["--schema-only"]))
        .expect_err("pg_dump of a missing database must panic");
    let msg = err.downcast_ref::<String>().expect("message");
    assert!(
        msg.contains("no_such_database") && msg.contains("does not exist"),
        "{msg}"
    );
}

#[test]
fn unknown_tools_are_none() {
    assert!(PgCluster::shared().tool("no-such-tool").is_none());
}
