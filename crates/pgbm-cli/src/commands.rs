//! The commands: resolved settings in, a core call, the printer out.

use std::sync::atomic::Ordering;
use std::time::Instant;

use pgbm_core::{Error, Result};
use tokio::io::{AsyncWriteExt, BufReader, BufWriter};

use crate::output::{AtomicFile, PipeWatch};
use crate::printer::Printer;
use crate::settings::{BackupRef, DumpSettings, Input, Output, RestoreSettings};

/// Buffer between the core and the output file or pipe: large enough for few system
/// calls, small enough to keep memory flat however big the dump is.
const WRITE_BUFFER: usize = 256 * 1024;

/// Read buffer for restore input; bounds how much of the script is in memory at once
/// (beyond the statement being run).
const READ_BUFFER: usize = 256 * 1024;

/// How a command ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It did all it was asked.
    Done,
    /// The reader of stdout went away (`pgbm dump | head`): success, but nothing more
    /// to print.
    ReaderGone,
}

/// `pgbm dump`.
///
/// # Errors
/// Whatever the core reports, and I/O errors of the output file.
pub async fn dump(settings: DumpSettings, printer: Printer) -> Result<Outcome> {
    tracing::info!("dumping {}", settings.conn.describe());
    let started = Instant::now();
    match &settings.output {
        Output::Stdout => {
            let (watched, reader_gone) = PipeWatch::new(tokio::io::stdout());
            let mut out = BufWriter::with_capacity(WRITE_BUFFER, watched);
            let result = dump_into(&settings, &mut out, "stdout").await;
            if reader_gone.load(Ordering::Relaxed) {
                tracing::debug!("stdout was closed by its reader; stopping");
                return Ok(Outcome::ReaderGone);
            }
            let summary = result?;
            printer.dump_done(&summary, None, started.elapsed());
        }
        Output::File(path) => {
            let mut file = AtomicFile::create(path).await?;
            let mut out = BufWriter::with_capacity(WRITE_BUFFER, file.file_mut());
            // On error `file` is dropped on return, which removes the temporary file.
            let summary = dump_into(&settings, &mut out, &path.display().to_string()).await?;
            file.commit().await?;
            printer.dump_done(&summary, Some(path), started.elapsed());
        }
    }
    Ok(Outcome::Done)
}

/// Runs the core dump into `out` and flushes it.
async fn dump_into<W>(
    settings: &DumpSettings,
    out: &mut W,
    name: &str,
) -> Result<pgbm_core::DumpSummary>
where
    W: tokio::io::AsyncWrite + Unpin + Send,
{
    let summary = pgbm_core::dump(&settings.conn, &settings.options, &mut *out).await?;
    out.flush()
        .await
        .map_err(|e| Error::io(format!("writing {name}"), e))?;
    Ok(summary)
}

/// `pgbm restore`.
///
/// # Errors
/// Whatever the core reports, and I/O errors opening the input.
pub async fn restore(settings: RestoreSettings, printer: Printer) -> Result<Outcome> {
    if let (Some(repo), Input::File(spec)) = (&settings.repo, &settings.input) {
        let backup = BackupRef::InRepo {
            repo: repo.clone(),
            spec: spec.to_string_lossy().into_owned(),
        };
        return crate::backups::restore(settings, backup, printer).await;
    }
    if let Input::File(path) = &settings.input {
        if crate::backups::is_archive(path).await {
            let backup = BackupRef::File(path.clone());
            return crate::backups::restore(settings, backup, printer).await;
        }
    }
    if settings.uses_backup_options() {
        return Err(Error::usage(
            "--jobs, --clean, --schema and --table apply to backups; this is a plain SQL script",
        ));
    }
    tracing::info!("connecting to {}", settings.conn.describe());
    let started = Instant::now();
    let summary = match &settings.input {
        Input::Stdin => {
            let input = BufReader::with_capacity(READ_BUFFER, tokio::io::stdin());
            pgbm_core::restore(&settings.conn, &settings.options, input).await?
        }
        Input::File(path) => {
            let file = tokio::fs::File::open(path)
                .await
                .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
            let input = BufReader::with_capacity(READ_BUFFER, file);
            pgbm_core::restore(&settings.conn, &settings.options, input).await?
        }
    };
    printer.restore_done(&summary, started.elapsed());
    Ok(Outcome::Done)
}
