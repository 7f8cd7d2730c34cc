//! Example: copy one database into another with pgbm-core, streaming.
//!
//! ```text
//! dump-to-db SOURCE TARGET
//! dump-to-db "host=/run/postgresql dbname=app" postgresql://me@backup-host/app_copy
//! ```
//!
//! SOURCE and TARGET are conninfo strings, `postgresql://` URIs or plain database
//! names. TARGET must exist (create it empty, e.g. `createdb -T template0 app_copy`).
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
        Err(e) => {
            eprintln!("dump-to-db: {e}");
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
        }
    }
}

/// Parses both connections, then streams the dump of `source` into `target`.
async fn run(source: &str, target: &str) -> Result<(), Error> {
    let source = parse_conn(source)?;
    let target = parse_conn(target)?;

    // The dump writes into `writer`; the restore reads `reader`. Dropping `writer` (the
    // dump owns it and drops it when it returns) is the restore's end of input.
    let (writer, reader) = tokio::io::duplex(PIPE_BYTES);
    let dump = async {
        pgbm_core::dump(&source, &DumpOptions::default(), writer)
            .await
            .map_err(|e| prefixed("dump", e))
    };
    let restore = async {
        pgbm_core::restore(&target, &RestoreOptions::default(), BufReader::new(reader))
            .await
            .map_err(|e| prefixed("restore", e))
    };

    // Both run concurrently on this task. `try_join!` returns at the first error and
    // drops the other side at once, and the first error is the one that matters:
    // - the restore failed: the dump would next fail writing into a closed pipe;
    // - the dump failed: its input cut short, the restore must not go on and commit a
    //   partial copy as if it were whole (dropping it closes its connection, and the
    //   server rolls back the statement in progress).
    let (dumped, restored) = tokio::try_join!(dump, restore)?;
    println!(
        "copied {} table(s): {} bytes of script, {} statement(s) restored",
        dumped.tables, dumped.total_bytes, restored.statements
    );
    Ok(())
}

/// `err` with `what` (the side that failed) in front of its message, same kind.
fn prefixed(what: &str, err: Error) -> Error {
    Error::new(err.kind(), format!("{what}: {err}")).with_source(err)
}

/// Connection options from a conninfo string (`host=... dbname=...`), a
/// `postgresql://` / `postgres://` URI, or a plain database name.
///
/// This minimal parser understands `host`, `port`, `user`, `password` and `dbname`;
/// anything left unset uses pgbm-core's defaults.
// When the conn module's libpq-compatible parser is on main, this whole function
// becomes `ConnOptions::from_dbname_arg(arg)`; it is the only place to change.
fn parse_conn(arg: &str) -> Result<ConnOptions, Error> {
    let mut opts = ConnOptions::default();
    let pairs: Vec<(String, String)> = if let Some(rest) = arg
        .strip_prefix("postgresql://")
        .or_else(|| arg.strip_prefix("postgres://"))
    {
        // user:password@host:port/dbname (each part optional; no query parameters)
        let (authority, dbname) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = authority.rsplit_once('@').unwrap_or(("", authority));
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, ""));
        [
            ("user", user),
            ("password", password),
            ("host", host),
            ("port", port),
            ("dbname", dbname),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    } else if arg.contains('=') {
        // key=value pairs separated by spaces; no quoting in this minimal version.
        arg.split_whitespace()
            .map(|pair| {
                let (k, v) = pair
                    .split_once('=')
                    .ok_or_else(|| Error::usage(format!("expected keyword=value, got {pair:?}")))?;
                Ok((k.to_string(), v.to_string()))
            })
            .collect::<Result<_, Error>>()?
    } else {
        vec![("dbname".to_string(), arg.to_string())]
    };
    for (keyword, value) in pairs {
        match keyword.as_str() {
            "host" => opts.host = Some(value),
            "port" => {
                let port = value
                    .parse()
                    .map_err(|_| Error::usage(format!("invalid port {value:?}")))?;
                opts.port = Some(port);
            }
            "user" => opts.user = Some(value),
            "password" => opts.set_password(value),
            "dbname" => opts.dbname = Some(value),
            other => {
                return Err(Error::usage(format!(
                    "unsupported connection keyword {other:?}"
                )))
            }
        }
    }
    Ok(opts)
}
