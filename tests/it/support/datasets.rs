//! The public sample databases of `tests/datasets/` (see its README): pagila and
//! northwind, written by others, loaded as their authors load them, with psql.
//!
//! Unlike the fixtures they follow no rules of ours: they are what users have, which is
//! the point of testing them. [`Source::dataset`](super::Source::dataset) loads each
//! once per test run and server.

use std::path::PathBuf;

use pgbm_testing::TestDb;

use super::Server;

/// The pagila DVD-rental database: a partitioned table, triggers, SQL and plpgsql
/// functions, an aggregate, domains, an enum, full-text search, views and a
/// materialized view.
pub const PAGILA: &str = "pagila";

/// The Northwind trading database: plain tables with keys, loaded by INSERTs.
pub const NORTHWIND: &str = "northwind";

/// The files that build dataset `name`, in loading order (relative to its folder).
///
/// # Panics
/// When `name` is not a dataset.
fn dataset_files(name: &str) -> &'static [&'static str] {
    match name {
        PAGILA => &["pagila-schema.sql", "pagila-data.sql"],
        NORTHWIND => &["northwind.sql"],
        _ => panic!("no dataset {name:?} in tests/datasets"),
    }
}

/// The path of file `file` of dataset `name`.
fn dataset_path(name: &str, file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("datasets")
        .join(name)
        .join(file)
}

/// Loads dataset `name` into `db` on `server` with `psql -X -v ON_ERROR_STOP=1 -q -f`
/// (the server's psql, else the newest), file after file, and returns the files loaded.
///
/// # Panics
/// When a file is missing or psql fails or writes anything to stderr (the datasets
/// set `client_min_messages = warning` and load without a word on every server).
pub fn load(server: Server, name: &str, db: &TestDb) -> Vec<String> {
    let cluster = server.cluster();
    let psql = server.psql();
    let mut loaded = Vec::new();
    for file in dataset_files(name) {
        let path = dataset_path(name, file);
        assert!(
            path.is_file(),
            "dataset file {} is missing (tests/datasets/README.md)",
            path.display()
        );
        let out = cluster.psql_file_with(&psql, db, &path);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.is_empty(),
            "loading dataset {name} ({file}) into {} on {server} with {} failed ({}):\n{stderr}",
            db.name(),
            psql.display(),
            out.status
        );
        loaded.push(format!("{name}/{file}"));
    }
    loaded
}
