//! Upgrades: a pgbm dump of a server of major N restores without error into a server
//! of every newer major M, and every table comes back with as many rows.
//!
//! For each pair (`upgrades::from13::to18`, ...) the dumps of two sources of N are
//! restored with pgbm into fresh databases on M: every fixture at once
//! ([`ALL`](crate::support::fixtures::ALL)) and the pagila sample database. The schemas
//! cannot be compared line for line (a newer pg_dump prints a newer server's catalog
//! differently: named NOT NULL constraints on 18, say), so the check is that the restore
//! succeeds and that the same tables hold the same number of rows. The roles the fixtures own objects with are cluster-wide and
//! not in a database dump: they are created on M first, as the fixtures create them.
//!
//! What goes along is what M's build can load ([`Source::portable_to`]): ICU collations
//! need a server built with ICU, whatever its major, and the PyPI builds of 14-18 are
//! not, so 13's ICU collations (the npm build of 13 has ICU) are tested on their way to
//! Debian's 15 instead (`from13_to_debian15_with_icu`). A pg_dump of 13 fails on those
//! builds the same way: `CREATE COLLATION ... (provider = icu ...)` is all it can write.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use pgbm_core::DumpOptions;
use pgbm_testing::TestDb;
use tokio::sync::OnceCell;

use crate::support::datasets::PAGILA;
use crate::support::fixtures::{create_fixture_roles, pg_error};
use crate::support::tools::{pgbm_dump_text, pgbm_restore_into};
use crate::support::{Server, Source};

/// Defines module `from$from` with one test `to$to` per newer major.
macro_rules! upgrades_from {
    ($from:literal => $module:ident: $($to:literal => $test:ident),+) => {
        mod $module {
            use $crate::support::Server;

            $(
                #[tokio::test]
                async fn $test() {
                    super::upgrade(Server::Major($from), Server::Major($to)).await;
                }
            )+
        }
    };
}

upgrades_from!(13 => from13: 14 => to14, 15 => to15, 16 => to16, 17 => to17, 18 => to18);
upgrades_from!(14 => from14: 15 => to15, 16 => to16, 17 => to17, 18 => to18);
upgrades_from!(15 => from15: 16 => to16, 17 => to17, 18 => to18);
upgrades_from!(16 => from16: 17 => to17, 18 => to18);
upgrades_from!(17 => from17: 18 => to18);

/// The PyPI builds of 14-18 have no ICU, so the ICU collations of 13 (an npm build, with
/// ICU) reach none of them ([`Source::portable_to`]): they go to Debian's 15, which has
/// ICU, here.
#[tokio::test]
async fn from13_to_debian15_with_icu() {
    upgrade(Server::Major(13), Server::Debian(15)).await;
}

/// Restores the dumps of `old`'s sources into fresh databases on `new` (a newer major),
/// checking that each restore succeeds and keeps every table's row count.
async fn upgrade(old: Server, new: Server) {
    create_fixture_roles(&new.cluster().db("postgres")).await;
    let sources = [
        ("all fixtures", Source::portable_to(old, new).await),
        ("pagila", Source::dataset(old, PAGILA).await),
    ];
    for (name, source) in sources {
        let what = format!("pgbm's dump of {name} on {old}, restored on {new}");
        let dump = dump_of(source).await;
        let target = new.cluster().fresh_db(&format!(
            "up{}_{}",
            old.cluster().version(),
            source.db().name()
        ));
        pgbm_restore_into(&target, &dump, &what).await;
        let (expected, actual) = (row_counts(source.db()).await, row_counts(&target).await);
        assert!(!expected.is_empty(), "{what}: the source has no tables");
        assert_eq!(
            expected, actual,
            "{what}: row counts (source, target) differ"
        );
    }
}

/// pgbm's default dump of `source`, made once per test run: every newer major restores
/// the same dump.
async fn dump_of(source: &'static Source) -> Arc<str> {
    type Dumps = BTreeMap<String, &'static OnceCell<Arc<str>>>;
    static DUMPS: Mutex<Dumps> = Mutex::new(BTreeMap::new());
    let key = format!("{}/{}", source.server(), source.db().name());
    let cell = *DUMPS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key)
        .or_insert_with(|| Box::leak(Box::new(OnceCell::new())));
    let what = format!("{} on {}", source.db().name(), source.server());
    cell.get_or_init(|| async {
        pgbm_dump_text(source.db(), &DumpOptions::default(), &what)
            .await
            .into()
    })
    .await
    .clone()
}

/// The number of rows of every user table (`schema.table` quoted, plain and
/// materialized; partitioned parents are counted through their partitions), read as
/// the superuser (row-level security does not hide rows).
async fn row_counts(db: &TestDb) -> BTreeMap<String, i64> {
    let client = db.client().await;
    let tables: Vec<String> = client
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname) \
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE (c.relkind = 'r' OR (c.relkind = 'm' AND c.relispopulated)) \
               AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND n.nspname NOT LIKE 'pg\\_toast%' ORDER BY 1",
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("listing the tables of {}: {}", db.name(), pg_error(&e)))
        .iter()
        .map(|row| row.get(0))
        .collect();
    if tables.is_empty() {
        return BTreeMap::new();
    }
    // One query for all tables: the number of queries does not grow with them.
    let sql = tables
        .iter()
        .map(|t| format!("SELECT {}, count(*) FROM {t}", quote_literal(t)))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    client
        .query(&sql, &[])
        .await
        .unwrap_or_else(|e| panic!("counting the rows of {}: {}", db.name(), pg_error(&e)))
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// `text` as an SQL string literal.
fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
