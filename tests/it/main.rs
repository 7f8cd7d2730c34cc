//! Integration tests of pgbm's dump and restore engine against a real PostgreSQL cluster.
//!
//! All tests share the harness's one cluster ([`pgbm_testing::PgCluster::shared`]) and
//! each fixture of `tests/fixtures/` is loaded once per test run into a source database
//! that every module then reads (never writes): see [`support::fixtures`].
//!
//! - [`roundtrip`]: pgbm's dump of each fixture restores, with pgbm and with psql, into a
//!   database whose `pg_dump` schema and data equal the source's.
//! - [`oracle`]: pgbm's dump is line for line the cluster's own `pg_dump` output, in every
//!   output mode (header versions and `\restrict` keys aside).
//! - [`restore_pgdump`]: pgbm restores what pg_dump wrote.
//! - [`backup`]: backups through a repository: round trips, `cat`, verify, damage, keys.
//! - [`restore_errors`]: how a restore fails: where, with what, and what it leaves behind.
//! - [`subscriptions`]: subscriptions, which cannot be a fixture (see there).
//! - [`database`]: `--create` with the database's own properties.
//! - [`extension_config`]: extension configuration tables that reference each other.
//! - [`datasets`]: the public sample databases (pagila, northwind) round-trip and match
//!   pg_dump on every server.
//! - [`upgrades`]: a dump of each major restores into every newer major.
//! - [`nonsuper`]: a role that is not a superuser dumps and restores its own database.
//! - [`seclabels`]: security labels, written into the catalogs (no provider is installed).
//! - [`globals`]: `--globals-only` against `pg_dumpall`, on a private cluster.

#[macro_use]
mod support;

mod backup;
mod database;
mod datasets;
mod extension_config;
mod globals;
mod nonsuper;
mod oracle;
mod restore_errors;
mod restore_pgdump;
mod roundtrip;
mod seclabels;
mod segmented;
mod subscriptions;
mod upgrades;
