//! The SQL fixture corpus (`tests/fixtures/*.sql`, see its README) and the source
//! databases built from it.
//!
//! A fixture is an *area* (`columns`, `types`, ...): its base file `<area>.sql`, which
//! loads on every supported server (PostgreSQL 13+), plus files holding what only some
//! servers have: `<area>_pgNN.sql` (major NN or later), `<area>_icu.sql` (ICU
//! collations) and `<area>_lz4.sql` (lz4 compression); see [`Needs`]. A server's
//! fixture is the files it can load, so the same test covers more on newer servers
//! (it is not a skip: every server loads the base file and all that applies to it).
//!
//! Each fixture is loaded once per test run and server ([`Server`]), on first use, into
//! its own database; one more database ([`ALL`]) holds all of them. Tests only read these
//! sources (dump them), so sharing them keeps the suite fast: one load per fixture and
//! server instead of one per test.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use pgbm_testing::TestDb;
use tokio::sync::OnceCell;

use super::{datasets, Server};

/// The pseudo-fixture name for a database holding every fixture at once.
pub const ALL: &str = "all";

/// Defines, in the calling module, one `#[tokio::test]` per fixture area plus
/// `all_fixtures` (every fixture in one database), each calling `$run(name).await` with
/// the area's name (`"types"`, ..., or [`ALL`]).
///
/// The list of names lives only here; `one_test_per_fixture_file` fails when it and
/// the areas of the files in `tests/fixtures/` disagree, so a new fixture cannot go
/// untested.
macro_rules! fixture_tests {
    ($run:path) => {
        fixture_tests!(@each $run:
            collations columns constraints data_edge defaultacl extensions foreign functions
            indexes inheritance largeobjects names operators partitions policies privileges
            publications rules schemas sequences statistics table_options triggers types
            types_user views);
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

/// What a fixture file needs from the server, read from the suffixes of its name:
/// `_pgNN` (major NN or later), `_preNN` (majors before NN), `_icu`, `_lz4`, in any
/// combination (`columns_pg15_icu`); the rest of the name is its area.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// The lowest major that can load it (0: any).
    pub min_major: u32,
    /// The first major that does not load it (0: none). For database states pg_dump
    /// of newer majors does not restore (`inheritance_pre16`).
    pub before_major: u32,
    /// ICU collations such as `"en-x-icu"` (the PyPI builds are configured without).
    pub icu: bool,
    /// `COMPRESSION lz4` (the npm builds are configured without).
    pub lz4: bool,
}

/// Splits fixture file stem `stem` into its area and what it needs.
fn parse_stem(stem: &str) -> (&str, Needs) {
    let mut needs = Needs::default();
    let mut area = stem;
    loop {
        if let Some(rest) = area.strip_suffix("_icu") {
            needs.icu = true;
            area = rest;
        } else if let Some(rest) = area.strip_suffix("_lz4") {
            needs.lz4 = true;
            area = rest;
        } else if let Some((rest, major)) = split_major(area, "_pg") {
            needs.min_major = needs.min_major.max(major);
            area = rest;
        } else if let Some((rest, major)) = split_major(area, "_pre") {
            needs.before_major = major;
            area = rest;
        } else {
            return (area, needs);
        }
    }
}

/// `stem` without a final `<tag>NN` (a number) and the number, if it ends so.
fn split_major<'a>(stem: &'a str, tag: &str) -> Option<(&'a str, u32)> {
    let (rest, number) = stem.rsplit_once(tag)?;
    let major = number.parse::<u32>().ok()?;
    Some((rest, major))
}

/// What a server offers, as far as fixtures care ([`Needs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// The server's major version.
    pub major: u32,
    /// ICU collations exist. Read from the catalog: initdb imports the ICU locales
    /// (`"und-x-icu"`, `"en-x-icu"`, ...) only in a build with ICU. (Asking for any
    /// collation of provider `i` is not enough: 16+ always has `"unicode"`.)
    pub icu: bool,
    /// `SET default_toast_compression = lz4` works (14+ built with lz4).
    pub lz4: bool,
}

impl Capabilities {
    /// Asks the server behind `client` (of major `major`) what it has.
    ///
    /// # Panics
    /// When a catalog query fails.
    pub async fn query(client: &tokio_postgres::Client, major: u32) -> Capabilities {
        let icu: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_catalog.pg_collation \
                 WHERE collprovider = 'i' AND collname = 'und-x-icu'",
                &[],
            )
            .await
            .unwrap_or_else(|e| panic!("looking for ICU collations: {}", pg_error(&e)))
            .get(0);
        // Fails on servers built without lz4, and on 13 (no such setting).
        let lz4 = client
            .batch_execute("SET default_toast_compression = lz4")
            .await
            .is_ok();
        if lz4 {
            client
                .batch_execute("RESET default_toast_compression")
                .await
                .unwrap_or_else(|e| panic!("RESET default_toast_compression: {}", pg_error(&e)));
        }
        Capabilities {
            major,
            icu: icu > 0,
            lz4,
        }
    }

    /// Whether a file needing `needs` loads here.
    pub fn allow(&self, needs: &Needs) -> bool {
        self.major >= needs.min_major
            && (needs.before_major == 0 || self.major < needs.before_major)
            && (self.icu || !needs.icu)
            && (self.lz4 || !needs.lz4)
    }
}

/// The files (stems) of fixture `name` (an area, or [`ALL`]) that a server with `caps`
/// loads, in loading order: each area's base file first, then its extra files in name
/// order (every file creates its own schema, so any order works).
pub fn files_for(name: &str, caps: &Capabilities) -> Vec<String> {
    let mut files: Vec<(String, bool, String)> = fixture_files()
        .into_iter()
        .filter_map(|stem| {
            let (area, needs) = parse_stem(&stem);
            let wanted = (name == ALL || area == name) && caps.allow(&needs);
            wanted.then(|| (area.to_string(), area != stem, stem.clone()))
        })
        .collect();
    files.sort();
    files.into_iter().map(|(_, _, stem)| stem).collect()
}

/// Every fixture file (stem) a server of major `major` with ICU and lz4 loads.
pub fn fixture_files_of_major(major: u32) -> Vec<String> {
    let caps = Capabilities {
        major,
        icu: true,
        lz4: true,
    };
    fixture_files()
        .into_iter()
        .filter(|stem| caps.allow(&parse_stem(stem).1))
        .collect()
}

/// Panics unless `names` are exactly the areas of the fixture files (order aside), and
/// every area has its base file (which every server loads).
pub fn assert_names_match_files(names: &[&str]) {
    let mut listed: Vec<&str> = names.to_vec();
    listed.sort_unstable();
    let files = fixture_files();
    let areas: BTreeSet<&str> = files.iter().map(|stem| parse_stem(stem).0).collect();
    assert_eq!(
        listed,
        areas.iter().copied().collect::<Vec<_>>(),
        "the fixture_tests! macro (tests/it/support/fixtures.rs) must list the area of \
         every tests/fixtures/*.sql file (its name without _pgNN, _icu and _lz4), and only \
         those"
    );
    for area in areas {
        assert!(
            files.iter().any(|stem| stem == area),
            "fixture area {area} has no base file {area}.sql, which every server loads"
        );
    }
}

#[test]
fn stems_split_into_area_and_needs() {
    assert_eq!(parse_stem("types"), ("types", Needs::default()));
    assert_eq!(parse_stem("data_edge"), ("data_edge", Needs::default()));
    let pg15 = Needs {
        min_major: 15,
        ..Needs::default()
    };
    assert_eq!(
        parse_stem("constraints_pg15"),
        ("constraints", pg15.clone())
    );
    assert_eq!(
        parse_stem("columns_pg16_icu"),
        (
            "columns",
            Needs {
                min_major: 16,
                icu: true,
                ..Needs::default()
            }
        )
    );
    assert_eq!(
        parse_stem("data_edge_lz4"),
        (
            "data_edge",
            Needs {
                lz4: true,
                ..Needs::default()
            }
        )
    );
    assert_eq!(
        parse_stem("inheritance_pre16"),
        (
            "inheritance",
            Needs {
                before_major: 16,
                ..Needs::default()
            }
        )
    );
    // Not a tag: part of the area.
    assert_eq!(parse_stem("types_pgx"), ("types_pgx", Needs::default()));
    let old = Capabilities {
        major: 13,
        icu: true,
        lz4: false,
    };
    assert!(!old.allow(&pg15));
    let pre16 = Needs {
        before_major: 16,
        ..Needs::default()
    };
    assert!(old.allow(&pre16));
    assert!(!Capabilities { major: 16, ..old }.allow(&pre16));
    assert!(old.allow(&Needs {
        icu: true,
        ..Needs::default()
    }));
    assert!(!old.allow(&Needs {
        lz4: true,
        ..Needs::default()
    }));
}

#[test]
fn servers_load_base_files_first_and_only_what_they_can() {
    let servers = [
        Capabilities {
            major: 13,
            icu: true,
            lz4: false,
        },
        Capabilities {
            major: 18,
            icu: false,
            lz4: true,
        },
    ];
    for caps in servers {
        let all = files_for(ALL, &caps);
        for stem in fixture_files() {
            let (area, needs) = parse_stem(&stem);
            assert_eq!(
                all.contains(&stem),
                caps.allow(&needs),
                "{stem} on {caps:?}"
            );
            let files = files_for(area, &caps);
            assert_eq!(files[0], area, "base file first: {files:?}");
            assert_eq!(
                files.contains(&stem),
                caps.allow(&needs),
                "{stem} in {files:?}"
            );
        }
    }
    let v13 = servers[0];
    assert!(files_for("columns", &v13).contains(&"columns_icu".to_string()));
    assert!(!files_for("columns", &v13).contains(&"columns_pg14".to_string()));
}

/// The SQL text of fixture file `stem`.
fn fixture_sql(stem: &str) -> String {
    let path = fixtures_dir().join(format!("{stem}.sql"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

/// The roles the fixtures create (`CREATE ROLE pgbm_...`, README "Roles"), read from
/// the fixture files, sorted.
pub fn fixture_roles() -> Vec<String> {
    let mut roles = BTreeSet::new();
    for stem in fixture_files() {
        let sql = fixture_sql(&stem);
        for (at, _) in sql.match_indices("CREATE ROLE ") {
            let rest = &sql[at + "CREATE ROLE ".len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            roles.insert(rest[..end].to_string());
        }
    }
    roles.into_iter().collect()
}

/// Creates every role of [`fixture_roles`] on `db`'s cluster that does not exist yet,
/// as the fixtures do (roles are cluster-wide: a dump of fixtures needs them on any
/// cluster it is restored into, and pgbm's database dumps, like pg_dump's, leave them
/// out).
///
/// # Panics
/// When `CREATE ROLE` fails for another reason than the role existing.
pub async fn create_fixture_roles(db: &TestDb) {
    let sql: String = fixture_roles()
        .iter()
        .map(|role| {
            format!(
                "DO $$ BEGIN CREATE ROLE {role}; EXCEPTION WHEN duplicate_object OR \
                 unique_violation THEN NULL; END $$;\n"
            )
        })
        .collect();
    db.execute_sql(&sql).await;
}

#[test]
fn fixture_roles_are_read_from_the_fixtures() {
    let roles = fixture_roles();
    assert!(
        roles.contains(&"pgbm_alice".to_string()) && roles.iter().all(|r| r.starts_with("pgbm_")),
        "{roles:?}"
    );
}

/// A database loaded with one fixture (or all of them), shared by every test that
/// dumps it. Never modify it.
#[derive(Debug)]
pub struct Source {
    server: Server,
    db: TestDb,
    files: Vec<String>,
    /// `pg_dump` outputs by argument list: the source never changes, so each is
    /// computed once (several modules compare against the same dumps).
    dumps: Mutex<HashMap<Vec<String>, Arc<str>>>,
}

impl Source {
    /// The source database of fixture `name` (or [`ALL`]) on the default cluster
    /// ([`Server::Shared`]), loaded on first use.
    ///
    /// # Panics
    /// When the fixture does not load (with the server's message).
    pub async fn get(name: &str) -> &'static Source {
        Source::on(Server::Shared, name).await
    }

    /// The source database of fixture `name` (or [`ALL`]) on `server`, loaded on first
    /// use.
    ///
    /// # Panics
    /// When the server does not start or the fixture does not load (with the server's
    /// message).
    pub async fn on(server: Server, name: &str) -> &'static Source {
        cell(server, name)
            .get_or_init(|| Source::load(server, name))
            .await
    }

    /// The source database of sample dataset `name` ([`datasets::PAGILA`],
    /// [`datasets::NORTHWIND`]) on `server`, loaded with psql on first use.
    ///
    /// # Panics
    /// When the server does not start or the dataset does not load.
    pub async fn dataset(server: Server, name: &str) -> &'static Source {
        // Datasets and fixtures share the cache; the prefix keeps their names apart.
        cell(server, &format!("dataset/{name}"))
            .get_or_init(|| async move {
                let db = server.cluster().fresh_db(&format!("src_{name}"));
                // psql blocks this test's runtime thread only: each test has its own.
                let files = datasets::load(server, name, &db);
                Source::new(server, db, files)
            })
            .await
    }

    /// Creates a fresh database on `server` and loads the files of fixture `name` (or
    /// of all fixtures) that the server can load into it ([`files_for`]).
    async fn load(server: Server, name: &str) -> Source {
        Source::load_where(server, name, name, |_| true).await
    }

    /// The source of every fixture file `server` loads that a server built like `target`
    /// (with or without ICU and lz4, whatever its major) loads too: all that a dump of
    /// `server` can carry to `target` (a build without ICU has no ICU collations to
    /// restore an ICU collation with). When `target` has every feature `server` has,
    /// this is the source of [`ALL`].
    ///
    /// # Panics
    /// When a server does not start or a fixture does not load.
    pub async fn portable_to(server: Server, target: Server) -> &'static Source {
        let caps_of = |server: Server| async move {
            let cluster = server.cluster();
            let client = cluster.db("postgres").client().await;
            Capabilities::query(&client, cluster.version()).await
        };
        let (own, theirs) = (caps_of(server).await, caps_of(target).await);
        let (icu, lz4) = (own.icu && theirs.icu, own.lz4 && theirs.lz4);
        if (icu, lz4) == (own.icu, own.lz4) {
            return Source::on(server, ALL).await;
        }
        let label = format!("{ALL}_icu{}_lz4{}", u8::from(icu), u8::from(lz4));
        cell(server, &label)
            .get_or_init(|| {
                Source::load_where(server, ALL, &label, move |needs| {
                    (icu || !needs.icu) && (lz4 || !needs.lz4)
                })
            })
            .await
    }

    /// Creates a fresh database `src_LABEL...` on `server` and loads the files of
    /// fixture `name` (or of all fixtures) that the server can load ([`files_for`]) and
    /// `keep` keeps.
    async fn load_where(
        server: Server,
        name: &str,
        label: &str,
        keep: impl Fn(&Needs) -> bool,
    ) -> Source {
        let cluster = server.cluster();
        let db = cluster.fresh_db(&format!("src_{label}"));
        let client = db.client().await;
        let caps = Capabilities::query(&client, cluster.version()).await;
        let files: Vec<String> = files_for(name, &caps)
            .into_iter()
            .filter(|stem| keep(&parse_stem(stem).1))
            .collect();
        assert!(!files.is_empty(), "no fixture files for {name} on {server}");
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
        Source::new(server, db, files)
    }

    /// A source of `files` loaded into `db` on `server`, with no dumps yet.
    fn new(server: Server, db: TestDb, files: Vec<String>) -> Source {
        Source {
            server,
            db,
            files,
            dumps: Mutex::new(HashMap::new()),
        }
    }

    /// The fixture files (stems) loaded into it, in loading order.
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// The database.
    pub fn db(&self) -> &TestDb {
        &self.db
    }

    /// The server it is on.
    pub fn server(&self) -> Server {
        self.server
    }

    /// `pg_dump` of this source with `args`, computed once per `args`; the pg_dump is
    /// the server's judge ([`Server::judge_pg_dump`]: of its own major if installed).
    ///
    /// # Panics
    /// When pg_dump is missing or fails.
    pub fn pg_dump(&self, args: &[&str]) -> Arc<str> {
        let key: Vec<String> = args.iter().map(|a| (*a).to_string()).collect();
        if let Some(dump) = lock(&self.dumps).get(&key) {
            return Arc::clone(dump);
        }
        // Not under the lock: two tests asking at once merely dump twice.
        let pg_dump = self.server.judge_pg_dump();
        let dump: Arc<str> = self
            .server
            .cluster()
            .pg_dump_with(&pg_dump, &self.db, args)
            .into();
        lock(&self.dumps).insert(key, Arc::clone(&dump));
        dump
    }
}

/// The once-initialized slot of source `name` on `server`; slots live for the whole
/// test run.
fn cell(server: Server, name: &str) -> &'static OnceCell<Source> {
    type Cells = BTreeMap<(Server, String), &'static OnceCell<Source>>;
    static CELLS: Mutex<Cells> = Mutex::new(BTreeMap::new());
    lock(&CELLS)
        .entry((server, name.to_string()))
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
