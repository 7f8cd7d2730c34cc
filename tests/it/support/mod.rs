//! Helpers shared by the test modules.
//!
//! - [`fixtures`]: the fixture list, the per-fixture test macro, and the loaded source
//!   databases (with a cache of their `pg_dump` outputs).
//! - [`dumptext`]: normalizing dump text and showing readable differences.
//! - [`tools`]: running pgbm's dump and restore, psql and pg_dump, with time limits.

#[macro_use]
pub mod fixtures;
pub mod dumptext;
pub mod tools;

pub use fixtures::Source;
pub use tools::assert_same_database;
