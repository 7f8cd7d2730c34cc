//! Example: copy one database into another with pgbm-core, streaming.
//!
//! ```text
//! dump-to-db SOURCE TARGET
//! dump-to-db "host=/run/postgresql dbname=app" postgresql://me@backup-host/app_copy
//! ```
//!
//! SOURCE and TARGET are conninfo strings, `postgresql://` URIs or plain database
//! names, completed by the `PG*` environment variables as in psql. TARGET must exist (create it empty, e.g. `createdb -T template0 app_copy`).
//!
//! The dump is never held whole, in memory or on disk: [`pgbm_core::dump`] writes into
//! one end of an in-memory pipe while [`pgbm_core::restore`] reads the other end, both
//! running at once. The pipe holds at most [`PIPE_BYTES`]; when it is full the dump
//! waits for the restore to catch up, so memory stays bounded whatever the size of the
//! database.
//!
//! Exit status: 0 on success, else the pgbm error kind's exit code (see pgbm's README).

use std::process::ExitCode;

use pgbm_core::{ConnOptions, DumpOptions, Error, RestoreOptions};
use tokio::io::BufReader;

/// Capacity of the pipe between dump and restore: large enough to keep both sides
/// busy, small enough not to matter.
const PIPE_BYTES: usize = 256 * 1024;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [source, target] = args.as_slice() else {
        eprintln!("usage: dump-to-db SOURCE TARGET  (conninfo strings, URIs or database names)");
        return ExitCode::from(2);
    };
    match run(source, target).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failed { step, error }) => {
            eprintln!("dump-to-db: {step} failed: {error}");
            // A failed restore statement: show it (the message already has its line).
            if let Some(at) = error.script_location() {
                eprintln!("  statement: {}", at.statement);
            }
            ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(1))
        }
    }
}

/// A failure, and which step it happened in.
#[derive(Debug)]
struct Failed {
    /// `"parsing SOURCE"`, `"dump"`, `"restore"`, ...
    step: &'static str,
    /// What went wrong; keeps its kind, SQLSTATE and script location.
    error: Error,
}

/// Tags errors of `step` (a closure for `map_err`).
fn during(step: &'static str) -> impl FnOnce(Error) -> Failed {
    move |error| Failed { step, error }
}

/// Parses both connections, then streams the dump of `source` into `target`.
async fn run(source: &str, target: &str) -> Result<(), Failed> {
    let source = parse_conn(source).map_err(during("parsing SOURCE"))?;
    let target = parse_conn(target).map_err(during("parsing TARGET"))?;

    // The dump writes into `writer`; the restore reads `reader`. Dropping `writer` (the
    // dump owns it and drops it when it returns) is the restore's end of input.
    let (writer, reader) = tokio::io::duplex(PIPE_BYTES);
    let dump = async {
        pgbm_core::dump(&source, &DumpOptions::default(), writer)
            .await
            .map_err(during("dump"))
    };
    // One transaction: the copy appears whole or not at all.
    let mut restore_opts = RestoreOptions::default();
    restore_opts.single_transaction = true;
    let restore = async {
        pgbm_core::restore(&target, &restore_opts, BufReader::new(reader))
            .await
            .map_err(during("restore"))
    };

    // Both run concurrently on this task. `try_join!` returns at the first error and
    // drops the other side at once, and the first error is the one that matters:
    // - the restore failed: the dump would next fail writing into a closed pipe;
    // - the dump failed: the restore must not go on and commit a script cut short.
    //   Dropping it closes its connection mid-transaction, so the server rolls back
    //   everything it restored.
    let (dumped, restored) = tokio::try_join!(dump, restore)?;
    println!(
        "copied {} table(s): {} bytes of script, {} statement(s) restored",
        dumped.tables, dumped.total_bytes, restored.statements
    );
    Ok(())
}

/// Connection options as psql resolves `psql -d ARG`: `ARG` is a conninfo string
/// (`host=... dbname=...`), a `postgresql://` / `postgres://` URI, or a plain database
/// name; what it leaves unset comes from the `PG*` environment variables (so a password
/// can come from `PGPASSWORD` or `~/.pgpass` rather than the command line), then from
/// libpq's defaults.
fn parse_conn(arg: &str) -> Result<ConnOptions, Error> {
    Ok(ConnOptions::from_env()?.merge(ConnOptions::from_dbname_arg(arg)?))
}
