//! Helpers shared by the CLI's test binaries.

// Each test binary compiles this module and uses only some of it.
#![allow(dead_code)]

use pgbm_testing::TestDb;

/// A `pgbm` process command with no `PG*` variables or `RUST_LOG` inherited and `HOME`
/// pointing nowhere (no `~/.pgpass`), so that only what a test passes decides where and
/// how it connects.
pub fn pgbm_process() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pgbm"));
    for (name, _) in std::env::vars_os() {
        let text = name.to_string_lossy();
        if text.starts_with("PG") || text == "RUST_LOG" {
            cmd.env_remove(&name);
        }
    }
    cmd.env("HOME", "/nonexistent");
    cmd
}

/// [`pgbm_process`] as an `assert_cmd` command. It has no stdin unless the test gives
/// one, so a restore reading stdin sees end of file rather than hanging.
pub fn pgbm() -> assert_cmd::Command {
    assert_cmd::Command::from(pgbm_process())
}

/// Runs a query returning one `bigint` (or `NULL`, as `None`) in `db`.
pub fn query_i64(db: &TestDb, sql: &str) -> Option<i64> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let client = db.client().await;
        client
            .query_one(sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
            .get(0)
    })
}
