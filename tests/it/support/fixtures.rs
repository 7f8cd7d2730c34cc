//! The SQL fixture corpus (`tests/fixtures/*.sql`, see its README) and the source
//! databases built from it.
//!
//! Each fixture is loaded once per test run, on first use, into its own database; one
//! more database ([`ALL`]) holds all of them. Tests only read these sources (dump them),
//! so sharing them keeps the suite fast: 11 loads instead of one per test.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use pgbm_testing::{PgCluster, TestDb};
use tokio::sync::OnceCell;

/// The pseudo-fixture name for a database holding every fixture at once.
pub const ALL: &str = "all";

/// Defines, in the calling module, one `#[tokio::test]` per fixture file plus
/// `all_fixtures` (every fixture in one database), each calling `$run(name).await` with
/// the fixture's name (`"types"`, ..., or [`ALL`]).
///
/// The list of names lives only here; `one_test_per_fixture_file` fails when it and
/// the files in `tests/fixtures/` disagree, so a new fixture cannot go untested.
macro_rules! fixture_tests {
    ($run:path) => {
        fixture_tests!(@each $run:
            collations collations_icu columns constraints data_edge defaultacl extensions foreign
            functions functions_pg14 indexes inheritance largeobjects names operators partitions
            policies privileges publications publications_pg15 rules schemas sequences statistics
            statistics_pg14 table_options triggers types types_user views);
    };
    (@each $run:path: $($name:ident)*) => {
        $(
            #[tokio::test]
            async fn $name() {
                $run(stringify!($name)).await;
            }
        )*

        #[tokio::test]
        async fn all_fixtures() {
            $run($crate::support::fixtures::ALL).await;
        }

        #[test]
        fn one_test_per_fixture_file() {
            $crate::support::fixtures::assert_names_match_files(&[$(stringify!($name)),*]);
        }
    };
}

/// The directory holding the fixture files.
fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The names (file stems) of all `*.sql` files in the fixture directory, sorted.
fn fixture_files() -> Vec<String> {
    let dir = fixtures_dir();
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list fixtures in {}: {e}", dir.display()));
    let mut names: Vec<String> = entries
        .map(|entry| entry.expect("reading the fixture directory").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Panics unless `names` are exactly the fixture files (order aside).
pub fn assert_names_match_files(names: &[&str]) {
    let mut listed: Vec<&str> = names.to_vec();
    listed.sort_unstable();
    assert_eq!(
        listed,
        fixture_files(),
        "the fixture_tests! macro (tests/it/support/fixtures.rs) must list every \
         tests/fixtures/*.sql file, and only those"
    );
}

/// The SQL text of fixture `name`.
fn fixture_sql(name: &str) -> String {
    let path = fixtures_dir().join(format!("{name}.sql"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

/// A database loaded with one fixture (or all of them), shared by every test that
/// dumps it. Never modify it.
#[derive(Debug)]
pub struct Source {
    db: TestDb,
    /// `pg_dump` outputs by argument list: the source never changes, so each is
    /// computed once (several modules compare against the same dumps).
    dumps: Mutex<HashMap<Vec<String>, Arc<str>>>,
}

impl Source {
    /// The source database of fixture `name` (or [`ALL`]), loaded on first use.
    ///
    /// # Panics
    /// When the fixture does not load (with the server's message).
    pub async fn get(name: &str) -> &'static Source {
        cell(name).get_or_init(|| Source::load(name)).await
    }

    /// Creates a fresh database and loads the fixture(s) `name` into it.
    async fn load(name: &str) -> Source {
        let db = PgCluster::shared().fresh_db(&format!("src_{name}"));
        let files = if name == ALL {
            fixture_files()
        } else {
            vec![name.to_string()]
        };
        let client = db.client().await;
        for file in &files {
            // The fixtures hold no psql meta-commands, so one simple-query batch runs
            // each of them exactly as `psql -f` would (see tests/fixtures/README.md).
            if let Err(e) = client.batch_execute(&fixture_sql(file)).await {
                panic!(
                    "loading fixture {file}.sql into {}: {}",
                    db.name(),
                    pg_error(&e)
                );
            }
        }
        Source {
            db,
            dumps: Mutex::new(HashMap::new()),
        }
    }

    /// The database.
    pub fn db(&self) -> &TestDb {
        &self.db
    }

    /// The cluster's `pg_dump` of this source with `args`, computed once per `args`.
    ///
    /// # Panics
    /// When pg_dump is missing or fails.
    pub fn pg_dump(&self, args: &[&str]) -> Arc<str> {
        let key: Vec<String> = args.iter().map(|a| (*a).to_string()).collect();
        if let Some(dump) = lock(&self.dumps).get(&key) {
            return Arc::clone(dump);
        }
        // Not under the lock: two tests asking at once merely dump twice.
        let dump: Arc<str> = PgCluster::shared().pg_dump(&self.db, args).into();
        lock(&self.dumps).insert(key, Arc::clone(&dump));
        dump
    }
}

/// The once-initialized slot of source `name`; slots live for the whole test run.
fn cell(name: &str) -> &'static OnceCell<Source> {
    static CELLS: Mutex<BTreeMap<String, &'static OnceCell<Source>>> = Mutex::new(BTreeMap::new());
    lock(&CELLS)
        .entry(name.to_string())
        .or_insert_with(|| Box::leak(Box::new(OnceCell::new())))
}

/// Locks `mutex`, ignoring poisoning: a panicking test leaves the maps consistent.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A tokio-postgres error with the server's message, which its `Display` leaves out.
pub fn pg_error(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!(
            "{}: {} (SQLSTATE {}){}",
            db.severity(),
            db.message(),
            db.code().code(),
            db.detail()
                .map(|d| format!("; detail: {d}"))
                .unwrap_or_default()
        ),
        None => err.to_string(),
    }
}
