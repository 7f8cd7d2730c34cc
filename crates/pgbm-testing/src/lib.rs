//! Test harness: throwaway PostgreSQL clusters started from local binaries.
//!
//! Every integration test of pgbm talks to a real server started by this crate:
//!
//! ```no_run
//! use pgbm_testing::PgCluster;
//!
//! #[tokio::test]
//! async fn copies_rows() {
//!     let db = PgCluster::shared().fresh_db("copies_rows");
//!     db.execute_sql("CREATE TABLE t (id int); INSERT INTO t VALUES (1)").await;
//!     let client = db.client().await;
//!     let n: i64 = client.query_one("SELECT count(*) FROM t", &[]).await.unwrap().get(0);
//!     assert_eq!(n, 1);
//! }
//! ```
//!
//! - [`PgCluster::shared`] starts one cluster per test binary, lazily; a watchdog process
//!   stops it and removes its files when the test process exits, however it exits.
//! - [`PgCluster::start`], [`PgCluster::start_with_bindir`], [`PgCluster::start_with_tls`]
//!   and [`PgCluster::start_with`] start private clusters that stop when dropped.
//! - [`PgCluster::fresh_db`] gives each test its own database ([`TestDb`]).
//! - [`PgCluster::create_password_role`] makes roles that must log in with SCRAM or md5.
//! - [`PgCluster::psql_file`] and [`PgCluster::pg_dump`] run the client tools of the same
//!   installation, the oracles for pgbm's output.
//!
//! Binaries come from `PGBM_PG_BINDIR`, else the newest `/usr/lib/postgresql/*/bin`, else
//! `pg_config --bindir` ([`find_bindir`]). Missing binaries are a test failure that says
//! what to install, never a silent skip. When the tests run as root, `initdb`, `pg_ctl` and
//! `postgres` run as the `postgres` user (or `nobody`), since PostgreSQL refuses root.
//! See `docs/TESTING.md` for the full story.

mod auth;
mod bindir;
mod block;
mod cluster;
mod db;
mod names;
mod port;
mod privilege;
pub mod s3;
mod tls;
mod watchdog;

pub use auth::{PasswordAuth, PasswordRole};
pub use bindir::{find_bindir, BINDIR_ENV};
pub use cluster::{ClusterOptions, PgCluster};
pub use db::TestDb;

/// Environment variable that turns every [`skip_or_fail`] into a failure (CI sets it).
pub const REQUIRE_ALL_ENV: &str = "PGBM_REQUIRE_ALL";

/// Skips the rest of a test that lacks an optional prerequisite, or fails it in CI.
///
/// Prints `SKIPPED: {reason}` to stderr and returns, so the caller should `return` right
/// after. When `PGBM_REQUIRE_ALL` is set to anything but `0` or the empty string, it panics
/// with `reason` instead: CI must not pass by skipping. Say in `reason` what to install.
///
/// # Panics
/// When `PGBM_REQUIRE_ALL` is set.
pub fn skip_or_fail(reason: &str) {
    if require_all() {
        panic!("{reason} ({REQUIRE_ALL_ENV} is set, so this test may not skip)");
    }
    eprintln!("SKIPPED: {reason}");
}

/// Whether `PGBM_REQUIRE_ALL` asks that no test skips.
fn require_all() -> bool {
    std::env::var_os(REQUIRE_ALL_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}
