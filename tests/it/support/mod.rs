//! Helpers shared by the test modules.
//!
//! - [`fixtures`]: the fixture list, the per-fixture test macro, and the loaded source
//!   databases (with a cache of their `pg_dump` outputs).
//! - [`servers`]: the servers (PostgreSQL majors) tests run against, the per-server test
//!   macro, and the client programs of each.
//! - [`datasets`]: the public sample databases of `tests/datasets/`, loaded with psql.
//! - [`dumptext`]: normalizing dump text and showing readable differences.
//! - [`tools`]: running pgbm's dump and restore, psql and pg_dump, with time limits.

#[macro_use]
pub mod fixtures;
#[macro_use]
pub mod servers;
pub mod datasets;
pub mod dumptext;
pub mod tools;

pub use fixtures::Source;
pub use servers::Server;
pub use tools::assert_same_database;
