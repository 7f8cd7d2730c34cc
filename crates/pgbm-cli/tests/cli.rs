//! End-to-end tests of the `pgbm` binary against a real server: exit codes, messages,
//! files and streams, as a script calling pgbm would see them.

mod support;

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::Stdio;

use assert_cmd::assert::Assert;
use pgbm_testing::{PasswordAuth, PgCluster, TestDb};
use predicates::prelude::*;
use serde_json::Value;
use support::{pgbm, pgbm_process, query_i64};

/// A TCP port on 127.0.0.1 with nobody listening (bound once, then released).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a probe socket");
    listener.local_addr().expect("probe address").port()
}

fn stderr(assert: &Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stderr).into_owned()
}

fn stdout_json(assert: &Assert) -> Value {
    let out = &assert.get_output().stdout;
    serde_json::from_slice(out).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON object ({e}): {}",
            String::from_utf8_lossy(out)
        )
    })
}

/// Asserts that stderr is exactly one `pgbm: error: ...` line and returns it.
fn one_error_line(assert: &Assert) -> String {
    let text = stderr(assert);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line on stderr, got:\n{text}");
    assert!(lines[0].starts_with("pgbm: error: "), "stderr: {text}");
    lines[0].to_string()
}

/// Writes `script` to a file in `dir` and returns its path.
fn script_file(dir: &Path, script: &str) -> std::path::PathBuf {
    let path = dir.join("script.sql");
    std::fs::write(&path, script).expect("write script");
    path
}

fn table_exists(db: &TestDb, name: &str) -> bool {
    query_i64(
        db,
        &format!("SELECT count(*) FROM pg_class WHERE relname = '{name}' AND relkind = 'r'"),
    ) == Some(1)
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn usage_errors_exit_2() {
    let cases: &[&[&str]] = &[
        &["dump", "-s", "-a"],
        &["dump", "-c", "-a"],
        &["dump", "--if-exists"],
        &["dump", "--no-such-flag"],
        &["dump", "-p", "notaport"],
        &["dump", "-p", "0"],
        &["dump", "-d", "one", "two"],
        &["dump", "-d", "host=localhost bogus_keyword=1"],
        &["restore", "--target-db", ""],
        &["restore", "a.sql", "b.sql"],
        &["frobnicate"],
        &["-q", "-v", "dump"],
    ];
    for args in cases {
        let assert = pgbm().args(*args).assert().code(2);
        let err = stderr(&assert);
        assert!(
            err.starts_with("pgbm: error: "),
            "pgbm {args:?}: stderr should start with `pgbm: error:`:\n{err}"
        );
        assert!(
            assert.get_output().stdout.is_empty(),
            "pgbm {args:?} printed on stdout"
        );
    }
    // No command at all: clap prints the help on stderr, still a usage error.
    pgbm()
        .assert()
        .code(2)
        .stderr(predicate::str::contains("Usage: pgbm"));
}

#[test]
fn usage_errors_do_not_echo_passwords() {
    let assert = pgbm()
        .args(["restore", "a.sql", "postgresql://bob:sekrit-1@db.example/x"])
        .assert()
        .code(2);
    let err = stderr(&assert);
    assert!(!err.contains("sekrit-1"), "{err}");
    assert!(err.contains("postgresql://bob:****@db.example/x"), "{err}");
}

#[test]
fn flag_conflicts_use_pg_dump_wording() {
    let a = pgbm().args(["dump", "-s", "-a"]).assert().code(2);
    assert_eq!(
        one_error_line(&a),
        "pgbm: error: options -s/--schema-only and -a/--data-only cannot be used together"
    );
    let a = pgbm().args(["dump", "--if-exists"]).assert().code(2);
    assert_eq!(
        one_error_line(&a),
        "pgbm: error: option --if-exists requires option -c/--clean"
    );
}

#[test]
fn help_and_version_exit_0() {
    pgbm()
        .args(["dump", "-?"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--schema-only").and(predicate::str::contains("--host")));
    pgbm()
        .args(["restore", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--single-transaction"));
    pgbm()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("pgbm "));
}

#[test]
fn unreachable_server_exits_3_with_one_line() {
    let port = closed_port().to_string();
    for command in ["dump", "restore"] {
        let assert = pgbm()
            .args([
                command,
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                "postgres",
            ])
            .write_stdin("SELECT 1;\n")
            .assert()
            .code(3);
        let line = one_error_line(&assert);
        assert!(
            line.contains("127.0.0.1") || line.contains("connect"),
            "{line}"
        );
    }
}

#[test]
fn wrong_password_exits_4_and_is_never_printed() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_db("cli_wrong_pw");
    let role = cluster.create_password_role("cli_pw", PasswordAuth::Scram);
    let port = db.port().to_string();
    let wrong = "not-the-password-7f3a";
    let tcp_args = [
        "dump",
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-U",
        role.name(),
        "-d",
        db.name(),
    ];

    let assert = pgbm()
        .args(tcp_args)
        .env("PGPASSWORD", wrong)
        .assert()
        .code(4);
    let line = one_error_line(&assert);
    assert!(
        !line.contains(wrong) && !line.contains(role.password()),
        "{line}"
    );

    // In a URI on the command line, with debug logs on: still never printed.
    let uri = format!(
        "postgresql://{}:{wrong}@127.0.0.1:{port}/{}",
        role.name(),
        db.name()
    );
    let assert = pgbm().args(["-vvv", "dump", "-d", &uri]).assert().code(4);
    let err = stderr(&assert);
    assert!(!err.contains(wrong), "password in stderr:\n{err}");

    // The right password, from PGPASSWORD, works.
    pgbm()
        .args(tcp_args)
        .env("PGPASSWORD", role.password())
        .assert()
        .success()
        .stdout(predicate::str::contains("PostgreSQL database dump"));
}

#[test]
fn missing_database_exits_5() {
    let cluster = PgCluster::shared();
    let missing = cluster.db("pgbm_cli_no_such_database");
    let assert = pgbm()
        .args(["dump", "-d", &missing.conninfo()])
        .assert()
        .code(5);
    let line = one_error_line(&assert);
    assert!(line.contains("pgbm_cli_no_such_database"), "{line}");
    pgbm()
        .args(["restore", "-d", &missing.conninfo()])
        .write_stdin("SELECT 1;\n")
        .assert()
        .code(5);
}

#[test]
fn restore_stops_at_the_failing_line_with_exit_6() {
    let db = PgCluster::shared().fresh_db("cli_restore_err");
    let dir = tempfile::tempdir().expect("tempdir");
    let script = script_file(
        dir.path(),
        "CREATE TABLE before_error (id int);\n\
         INSERT INTO before_error VALUES (1);\n\
         \n\
         SELECT *\n  FROM no_such_table;\n\
         CREATE TABLE after_error (id int);\n",
    );
    let assert = pgbm()
        .args(["restore", "-d", &db.conninfo()])
        .arg(&script)
        .assert()
        .code(6);
    let err = stderr(&assert);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "error line and statement line expected:\n{err}"
    );
    assert!(lines[0].starts_with("pgbm: error: line 4: "), "{err}");
    assert!(lines[0].contains("42P01"), "SQLSTATE missing:\n{err}");
    assert!(
        lines[0].contains("relation \"no_such_table\" does not exist"),
        "server message missing:\n{err}"
    );
    assert_eq!(lines[1], "  statement: SELECT * FROM no_such_table;");
    assert!(table_exists(&db, "before_error"));
    assert!(
        !table_exists(&db, "after_error"),
        "a statement after the error ran"
    );
}

#[test]
fn single_transaction_restore_leaves_nothing_on_error() {
    let db = PgCluster::shared().fresh_db("cli_restore_1");
    pgbm()
        .args(["restore", "--single-transaction", "-d", &db.conninfo()])
        .write_stdin("CREATE TABLE kept (id int);\nSELECT 1/0;\n")
        .assert()
        .code(6)
        .stderr(predicate::str::contains("line 2: ").and(predicate::str::contains("22012")));
    assert!(!table_exists(&db, "kept"));
}

#[test]
fn unterminated_copy_exits_7() {
    let db = PgCluster::shared().fresh_db("cli_copy_eof");
    let assert = pgbm()
        .args(["restore", "-d", &db.conninfo()])
        .write_stdin("CREATE TABLE t (a int);\nCOPY public.t (a) FROM stdin;\n1\n2\n")
        .assert()
        .code(7);
    let err = stderr(&assert);
    assert!(err.starts_with("pgbm: error: line "), "{err}");
    assert_eq!(
        query_i64(&db, "SELECT count(*) FROM t"),
        Some(0),
        "partial COPY kept"
    );
}

#[test]
fn unknown_meta_command_exits_7() {
    let db = PgCluster::shared().fresh_db("cli_meta");
    let assert = pgbm()
        .args(["restore", "-d", &db.conninfo()])
        .write_stdin("CREATE TABLE first (id int);\n\\foo bar\nCREATE TABLE second (id int);\n")
        .assert()
        .code(7);
    let err = stderr(&assert);
    assert!(err.starts_with("pgbm: error: line 2: "), "{err}");
    assert!(err.contains("\\foo"), "{err}");
    assert!(!table_exists(&db, "second"));
}

#[test]
fn failed_dump_leaves_no_file() {
    let cluster = PgCluster::shared();
    let missing = cluster.db("pgbm_cli_no_such_db_for_file");
    let dir = tempfile::tempdir().expect("tempdir");
    let new_file = dir.path().join("new.sql");
    pgbm()
        .args(["dump", "-d", &missing.conninfo(), "-f"])
        .arg(&new_file)
        .assert()
        .code(5);
    assert_eq!(dir_entries(dir.path()), Vec::<String>::new());

    // An existing file is left as it was, not truncated.
    let old_file = dir.path().join("old.sql");
    std::fs::write(&old_file, "previous dump\n").expect("write");
    pgbm()
        .args(["dump", "-d", &missing.conninfo(), "-f"])
        .arg(&old_file)
        .assert()
        .code(5);
    assert_eq!(dir_entries(dir.path()), ["old.sql"]);
    assert_eq!(
        std::fs::read_to_string(&old_file).expect("read"),
        "previous dump\n"
    );
}

#[test]
fn dump_to_a_missing_directory_is_an_io_error() {
    let db = PgCluster::shared().fresh_db("cli_dump_nodir");
    let assert = pgbm()
        .args(["dump", "-d", &db.conninfo(), "-f", "/nonexistent-dir/x.sql"])
        .assert()
        .code(8);
    assert!(one_error_line(&assert).contains("/nonexistent-dir/x.sql"));
}

#[test]
fn dump_file_then_restore_with_json_summaries() {
    let cluster = PgCluster::shared();
    let src = cluster.fresh_db("cli_rt_src");
    src.execute_sql_blocking(
        "CREATE TABLE items (id int PRIMARY KEY, name text);
         INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500) g;",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("src.sql");

    let assert = pgbm()
        .args(["--json", "dump", "-d", &src.conninfo(), "-f"])
        .arg(&file)
        .assert()
        .success();
    let json = stdout_json(&assert);
    assert_eq!(json["command"], "dump");
    assert_eq!(json["file"], file.to_string_lossy().as_ref());
    assert_eq!(json["tables"], 1);
    let size = std::fs::metadata(&file).expect("dump file").len();
    assert_eq!(json["total_bytes"], size);
    assert_eq!(
        dir_entries(dir.path()),
        ["src.sql"],
        "temporary file left behind"
    );

    let dst = cluster.fresh_db("cli_rt_dst");
    let assert = pgbm()
        .args(["restore", "-v", "--json", "-d", &dst.conninfo()])
        .arg(&file)
        .assert()
        .success();
    let json = stdout_json(&assert);
    assert_eq!(json["command"], "restore");
    assert_eq!(json["copies"], 1);
    assert_eq!(json["copy_rows"], 500);
    assert!(json["statements"].as_u64().expect("statements") > 1);
    assert!(
        stderr(&assert).contains("pgbm: restored "),
        "-v summary missing"
    );
    assert_eq!(query_i64(&dst, "SELECT count(*) FROM items"), Some(500));
}

#[test]
fn dump_to_stdout_restores_from_stdin() {
    let cluster = PgCluster::shared();
    let src = cluster.fresh_db("cli_pipe_src");
    src.execute_sql_blocking(
        "CREATE TABLE t (id int, note text);
         INSERT INTO t SELECT g, repeat('x', g % 7) FROM generate_series(1, 100) g;",
    );
    // --json without -f: stdout holds the dump and nothing else.
    let dump = pgbm()
        .args(["--json", "dump", "-d", &src.uri()])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8_lossy(&dump).starts_with("--\n-- PostgreSQL database dump"));

    let dst = cluster.fresh_db("cli_pipe_dst");
    let socket = dst.socket_dir().to_string_lossy().into_owned();
    pgbm()
        .args(["restore", "-", "-h", &socket, "-p", &dst.port().to_string()])
        .args(["-U", "postgres", "-d", dst.name()])
        .write_stdin(dump)
        .assert()
        .success()
        .stdout("");
    assert_eq!(query_i64(&dst, "SELECT count(*) FROM t"), Some(100));
}

#[test]
fn restore_can_create_the_target_database() {
    let cluster = PgCluster::shared();
    let target = format!("pgbm_cli_created_{}", std::process::id());
    pgbm()
        .args(["restore", "--create", "--target-db", &target])
        .args(["-d", &cluster.db("postgres").conninfo()])
        .write_stdin("CREATE TABLE made_here (id int);\n")
        .assert()
        .success();
    assert!(table_exists(&cluster.db(&target), "made_here"));
}

#[test]
fn closed_stdout_is_success() {
    let db = PgCluster::shared().fresh_db("cli_epipe");
    // Several MB: far more than a pipe and pgbm's buffers hold.
    db.execute_sql_blocking(
        "CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 10) AS payload
         FROM generate_series(1, 20000) g",
    );
    let mut child = pgbm_process()
        .args(["dump", "-d", &db.conninfo()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pgbm");
    let mut head = [0u8; 1000];
    child
        .stdout
        .take()
        .expect("stdout")
        .read_exact(&mut head)
        .expect("read the head of the dump");
    // The read end is dropped here, like `pgbm dump | head -c 1000`.
    let out = child.wait_with_output().expect("wait for pgbm");
    assert!(
        out.status.success(),
        "exit {:?}, stderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn interrupted_dump_removes_its_temporary_file() {
    let db = PgCluster::shared().fresh_db("cli_sigterm");
    db.execute_sql_blocking(
        "CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 10) AS payload
         FROM generate_series(1, 50000) g",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("dump.sql");
    let child = pgbm_process()
        .args(["dump", "-d", &db.conninfo(), "-f"])
        .arg(&file)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pgbm");
    // The temporary file exists from before connecting until the rename: signal then.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while dir_entries(dir.path()).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no temporary file appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    // The shell's builtin `kill`: no dependency on procps.
    let kill = std::process::Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", child.id())])
        .status()
        .expect("run sh -c kill");
    assert!(kill.success());
    let out = child.wait_with_output().expect("wait for pgbm");
    assert_eq!(
        out.status.code(),
        Some(130),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(dir_entries(dir.path()), Vec::<String>::new());
}

#[test]
fn globals_only_dumps_roles_from_the_postgres_database() {
    let cluster = PgCluster::shared();
    let port = cluster.port().to_string();
    let host = cluster.socket_dir().display().to_string();
    let conn = ["-h", host.as_str(), "-p", port.as_str(), "-U", "postgres"];
    let out = pgbm()
        .env_remove("PGDATABASE")
        .args(["dump", "--globals-only"])
        .args(conn)
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        text.contains("-- PostgreSQL database cluster dump"),
        "{text}"
    );
    assert!(text.contains("CREATE ROLE postgres;"), "{text}");
    let out = pgbm()
        .env_remove("PGDATABASE")
        .args(["dump", "-g", "--no-role-passwords"])
        .args(conn)
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(text.contains("CREATE ROLE postgres;"), "{text}");
    assert!(!text.contains("PASSWORD '"), "{text}");
    let a = pgbm()
        .args(["dump", "-g", "-n", "x"])
        .args(conn)
        .assert()
        .code(2);
    assert!(stderr(&a).contains("--globals-only"), "{}", stderr(&a));
}
