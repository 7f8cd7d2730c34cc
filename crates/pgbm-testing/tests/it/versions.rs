//! Every supported PostgreSQL major: installed, startable, and paired with its own pg_dump.
//!
//! These fail (never skip) when `scripts/install-postgres.sh` has not been run.

use std::path::Path;
use std::process::Command;

use pgbm_testing::{
    available_majors, newest_pg_dump, oracle_pg_dump, require_bindir, PgCluster, SUPPORTED_MAJORS,
};

/// The major a PostgreSQL program reports: `pg_dump (PostgreSQL) 17.11` -> 17.
fn program_major(program: &Path) -> u32 {
    let out = Command::new(program)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .nth(2)
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("{}: unexpected --version {text:?}", program.display()))
}

/// Starts the shared cluster of `major` and checks it answers as that major, with a
/// pg_dump that can dump it: its own major's when installed (14 and later), else the
/// newest.
fn check_major(major: u32) {
    let cluster = PgCluster::shared_version(major);
    assert_eq!(cluster.version(), major);
    assert!(std::ptr::eq(cluster, PgCluster::shared_version(major)));
    let db = cluster.fresh_db(&format!("v{major}"));
    db.execute_sql_blocking("CREATE TABLE t (id int); INSERT INTO t VALUES (42)");

    let pg_dump = cluster
        .tool_or_newer("pg_dump")
        .unwrap_or_else(|| panic!("no pg_dump can dump PostgreSQL {major}"));
    if major >= 14 {
        let own = oracle_pg_dump(major)
            .unwrap_or_else(|| panic!("no pg_dump {major}: run scripts/install-postgres.sh"));
        assert_eq!(program_major(&own), major, "{}", own.display());
        assert_eq!(cluster.tool("pg_dump"), Some(own.clone()));
        assert_eq!(pg_dump, own);
    }
    let dump = cluster.pg_dump_with(&pg_dump, &db, ["--data-only"]);
    assert!(
        dump.contains("COPY public.t (id) FROM stdin;\n42\n"),
        "{dump}"
    );
}

macro_rules! per_major {
    ($($name:ident => $major:literal),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check_major($major);
            }
        )*
    };
}

per_major! {
    shared_cluster_of_13 => 13,
    shared_cluster_of_14 => 14,
    shared_cluster_of_15 => 15,
    shared_cluster_of_16 => 16,
    shared_cluster_of_17 => 17,
    shared_cluster_of_18 => 18,
}

#[test]
fn every_supported_major_is_available() {
    let available = available_majors();
    for major in SUPPORTED_MAJORS {
        assert!(
            available.contains(&major),
            "PostgreSQL {major} is missing (found {available:?}): run \
             scripts/install-postgres.sh"
        );
    }
}

#[test]
fn newest_pg_dump_is_at_least_18() {
    let newest = newest_pg_dump().expect("no pg_dump at all: run scripts/install-postgres.sh");
    assert!(program_major(&newest) >= 18, "{}", newest.display());
}

#[test]
#[should_panic(expected = "run scripts/install-postgres.sh")]
fn a_missing_major_fails_saying_how_to_install_it() {
    let _ = require_bindir(99);
}

#[test]
fn shared_version_and_shared_agree_on_equal_bindirs() {
    // The same binaries give the same cluster, whichever way they were asked for.
    let shared = PgCluster::shared();
    assert!(std::ptr::eq(
        shared,
        PgCluster::shared_with_bindir(shared.bindir())
    ));
}
