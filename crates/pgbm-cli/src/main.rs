//! The `pgbm` command: a thin front end over `pgbm-core`.
//!
//! Every command runs in the same stages: arguments ([`args`], clap) → resolved
//! settings ([`settings`], all validation) → one core call ([`commands`]) → output
//! ([`printer`]) → exit code. The exit code of a failure is
//! [`pgbm_core::ErrorKind::exit_code`] of its error; see `docs/CLI.md` for the table.
//!
//! Exit codes outside that table: 0 also when stdout's reader goes away early
//! (`pgbm dump | head`), and 130 when interrupted by SIGINT or SIGTERM (after removing
//! a half-written `-f` file).

mod args;
mod backups;
mod commands;
mod output;
mod printer;
mod progress;
mod redact;
mod secrets;
mod settings;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use pgbm_core::{Error, Result};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tracing_subscriber::EnvFilter;

use args::{Cli, Command, GlobalArgs, KeyCommand};
use commands::Outcome;
use printer::Printer;

/// Exit code after SIGINT or SIGTERM, as shells report a death by SIGINT.
const EXIT_INTERRUPTED: u8 = 130;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e),
    };
    init_logging(&cli.global);
    let printer = Printer::new(&cli.global);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            printer.error(&Error::internal(format!(
                "cannot start the async runtime: {e}"
            )));
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(run_until_signal(cli.command, printer));
    // Do not wait for blocking reads of stdin that may never end.
    runtime.shutdown_background();
    match result {
        Ok(Some(_)) => ExitCode::SUCCESS,
        Ok(None) => ExitCode::from(EXIT_INTERRUPTED),
        Err(err) => {
            printer.error(&err);
            ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(1))
        }
    }
}

/// How long an interrupted command's cleanup may run in the background (aborting an
/// upload, removing a temporary object) before pgbm exits anyway.
const CLEANUP_GRACE: Duration = Duration::from_secs(5);

/// Runs `command`; `Ok(None)` if a signal came first. Dropping the command's future
/// on a signal closes its connections and removes any temporary dump file; storage
/// uploads abort in background tasks, which get [`CLEANUP_GRACE`] to finish.
async fn run_until_signal(command: Command, printer: Printer) -> Result<Option<Outcome>> {
    // Installed before the command starts, so that a signal can never find the
    // default disposition (death without cleanup) once a temporary file exists.
    let signals = Signals::install();
    let metrics = tokio::runtime::Handle::current().metrics();
    let tasks_before = metrics.num_alive_tasks();
    let signal = tokio::select! {
        result = run(command, printer) => return result.map(Some),
        signal = signals.recv() => signal,
    };
    tracing::warn!("interrupted by {signal}");
    let deadline = Instant::now() + CLEANUP_GRACE;
    while metrics.num_alive_tasks() > tasks_before && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(None)
}

/// Dispatches to the command.
async fn run(command: Command, printer: Printer) -> Result<Outcome> {
    match command {
        Command::Dump(args) => commands::dump(settings::dump_settings(&args)?, printer).await,
        Command::Restore(args) => {
            commands::restore(settings::restore_settings(&args)?, printer).await
        }
        Command::Backup(args) => backups::backup(settings::backup_settings(&args)?, printer).await,
        Command::List(args) => backups::list(settings::list_settings(&args)?, printer).await,
        Command::Cat(args) => backups::cat(settings::cat_settings(&args)?, printer).await,
        Command::Verify(args) => backups::verify(settings::verify_settings(&args)?, printer).await,
        Command::Key(KeyCommand::Generate(args)) => backups::key_generate(&args.output, printer),
    }
}

/// Handlers for SIGINT and SIGTERM.
struct Signals {
    handlers: Option<(Signal, Signal)>,
}

impl Signals {
    /// Installs the handlers; if that fails, the default disposition (death) stays.
    fn install() -> Self {
        let int = signal(SignalKind::interrupt());
        let term = signal(SignalKind::terminate());
        if let Err(e) = &int.as_ref().and(term.as_ref()) {
            tracing::warn!("cannot handle SIGINT/SIGTERM: {e}");
        }
        Signals {
            handlers: int.ok().zip(term.ok()),
        }
    }

    /// Waits for either signal and names it; never returns without handlers.
    async fn recv(self) -> &'static str {
        let Some((mut int, mut term)) = self.handlers else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        }
    }
}

/// Prints a clap result (help, version or a usage error) and picks the exit code:
/// 0 for help and version, 2 for usage errors.
fn clap_exit(err: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind as K;
    let code = u8::try_from(err.exit_code()).unwrap_or(2);
    let is_error = !matches!(
        err.kind(),
        K::DisplayHelp | K::DisplayVersion | K::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if is_error {
        // Same `pgbm: error: ...` prefix as every other error; plain text, since it
        // may go to a log. clap echoes arguments, which may hold a password.
        eprint!(
            "pgbm: {}",
            redact::redact_passwords(&err.render().to_string())
        );
    } else {
        let _ = err.print();
    }
    ExitCode::from(code)
}

/// Logs go to stderr. `RUST_LOG` wins; else the level follows `-q`/`-v`.
fn init_logging(global: &GlobalArgs) {
    let level = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .with_env_filter(filter)
        .init();
}
