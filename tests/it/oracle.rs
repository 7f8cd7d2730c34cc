//! The oracle: for every fixture and every output mode, pgbm's dump is line for line
//! what the cluster's own `pg_dump` prints, except for what differs between any two
//! pg_dump runs (the `\restrict` key) and the header's version lines (see
//! [`normalize`](crate::support::dumptext::normalize)).
//!
//! Test names read `oracle::MODE::FIXTURE`, e.g. `oracle::clean_if_exists::types`.

use std::process::Command;
use std::sync::OnceLock;

use pgbm_core::DumpOptions;
use pgbm_testing::PgCluster;

use crate::support::dumptext::assert_same_dump;
use crate::support::tools::pgbm_dump_text;
use crate::support::Source;

/// Defines one module of fixture tests per mode: the pg_dump arguments and how the
/// same mode is set on [`DumpOptions`].
macro_rules! oracle_modes {
    ($($mode:ident: [$($arg:literal),*] => $set:expr;)*) => {
        $(
            mod $mode {
                use pgbm_core::DumpOptions;

                async fn check(fixture: &str) {
                    let set: fn(&mut DumpOptions) = $set;
                    super::check(fixture, &[$($arg),*], set).await;
                }

                fixture_tests!(check);
            }
        )*
    };
}

oracle_modes! {
    default: [] => |_| {};
    clean: ["--clean"] => |o| o.clean = true;
    clean_if_exists: ["--clean", "--if-exists"] => |o| {
        o.clean = true;
        o.if_exists = true;
    };
    create: ["--create"] => |o| o.create = true;
    schema_only: ["--schema-only"] => |o| o.schema_only = true;
    data_only: ["--data-only"] => |o| o.data_only = true;
    no_owner_no_privileges: ["--no-owner", "--no-privileges"] => |o| {
        o.no_owner = true;
        o.no_privileges = true;
    };
}

/// Compares pgbm's dump of `fixture` made with the options `set` gives with
/// `pg_dump args`.
async fn check(fixture: &str, args: &[&str], set: fn(&mut DumpOptions)) {
    let pg_dump = oracle_version();
    let source = Source::get(fixture).await;
    let mut opts = DumpOptions::default();
    set(&mut opts);
    let mode = if args.is_empty() {
        "default".to_string()
    } else {
        args.join(" ")
    };
    let what = format!("fixture {fixture}, mode {mode}");
    let actual = pgbm_dump_text(source.db(), &opts, &what).await;
    let expected = source.pg_dump(args);
    assert_same_dump(&what, pg_dump, &expected, "pgbm", &actual);
}

/// `pg_dump VERSION` for the oracle, after checking that the cluster's pg_dump exists
/// and is of the server's major version: pgbm aims at the output of the server's own
/// pg_dump, and another major prints other SQL.
///
/// # Panics
/// When pg_dump is missing or of another major, saying what to install.
fn oracle_version() -> &'static str {
    static VERSION: OnceLock<Result<String, String>> = OnceLock::new();
    let checked = VERSION.get_or_init(|| {
        let cluster = PgCluster::shared();
        let major = cluster.version();
        let install = format!(
            "install the PostgreSQL {major} client (`apt-get install -y \
             postgresql-client-{major}`) next to the server, or set PGBM_PG_BINDIR to a bin \
             directory with server and client programs"
        );
        let path = cluster.tool("pg_dump").ok_or_else(|| {
            format!(
                "the oracle tests need pg_dump, and {} has none: {install}",
                cluster.bindir().display()
            )
        })?;
        let out = Command::new(&path)
            .arg("--version")
            .output()
            .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
        // "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
        let text = String::from_utf8_lossy(&out.stdout);
        let version = text.split_whitespace().nth(2).unwrap_or_default();
        let tool_major = version
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok());
        if tool_major != Some(major) {
            return Err(format!(
                "{} is version {:?}, the server is {major}: the oracle must be the server's \
                 own major; {install}",
                path.display(),
                text.trim()
            ));
        }
        Ok(format!("pg_dump {version}"))
    });
    match checked {
        Ok(version) => version,
        Err(message) => panic!("{message}"),
    }
}
