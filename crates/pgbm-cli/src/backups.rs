//! The repository commands: `backup`, `list`, `cat`, `verify`, restoring a backup, and
//! `key generate`. Like [`crate::commands`]: resolved settings in, core calls, the
//! printer out.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use pgbm_core::archive::MAGIC;
use pgbm_core::backup::Progress;
use pgbm_core::crypto::{KdfParams, PassphraseKey};
use pgbm_core::{Backup, BackupOptions, Error, Repository, Result};
use tokio::io::{AsyncReadExt, BufWriter};

use crate::commands::Outcome;
use crate::output::PipeWatch;
use crate::printer::Printer;
use crate::progress::ProgressDisplay;
use crate::secrets::Secrets;
use crate::settings::{
    BackupRef, BackupSettings, CatSettings, ListSettings, RestoreSettings, VerifySettings,
};

/// Buffer between the archive and stdout for `pgbm cat`.
const WRITE_BUFFER: usize = 256 * 1024;

/// `pgbm backup`.
///
/// # Errors
/// Whatever the core reports.
pub async fn backup(s: BackupSettings, printer: Printer) -> Result<Outcome> {
    let repo = Repository::open(&s.repo).await?;
    let mut opts = BackupOptions::default()
        .with_jobs(s.jobs)
        .with_compression(s.compression);
    if let Some(tag) = &s.tag {
        opts = opts.with_tag(tag.clone());
    }
    opts.validate()?;
    if let Some(passphrase) = &s.secrets.passphrase {
        let params = KdfParams::random_with_iterations(s.kdf_iterations)?;
        opts = opts.with_passphrase_key(PassphraseKey::derive_async(passphrase, params).await?);
    }
    for key in &s.secrets.key_files {
        opts = opts.with_key_file(key.clone());
    }
    let progress = Arc::new(Progress::new());
    let display = ProgressDisplay::start(&printer, "backup", Arc::clone(&progress));
    let summary = pgbm_core::backup(&s.conn, &repo, &opts, progress).await;
    display.finish();
    printer.backup_done(&summary?);
    Ok(Outcome::Done)
}

/// `pgbm list`.
///
/// # Errors
/// Storage errors.
pub async fn list(s: ListSettings, printer: Printer) -> Result<Outcome> {
    let repo = Repository::open(&s.repo).await?;
    let entries = repo.list(&s.secrets.key_source()).await?;
    printer.backup_list(&entries);
    Ok(Outcome::Done)
}

/// Opens the backup `r` names.
async fn open(r: &BackupRef, secrets: &Secrets) -> Result<Backup> {
    let keys = secrets.key_source();
    match r {
        BackupRef::InRepo { repo, spec } => {
            Repository::open(repo).await?.open_backup(spec, &keys).await
        }
        BackupRef::File(path) => {
            let looks_like_a_path =
                path.components().count() > 1 || path.extension().is_some_and(|e| e == "pgbm");
            if !looks_like_a_path && !path.exists() {
                // `pgbm cat latest` with PGBM_REPO unset: say what is missing.
                return Err(Error::usage(format!(
                    "no repository to find backup {} in: give --repo URL or set PGBM_REPO",
                    path.display()
                )));
            }
            Backup::open_file(path, &keys).await
        }
    }
}

/// `pgbm cat`.
///
/// # Errors
/// As the core's `write_script`; also when the backup cannot be opened.
pub async fn cat(s: CatSettings, _printer: Printer) -> Result<Outcome> {
    let backup = open(&s.backup, &s.secrets).await?;
    let (watched, reader_gone) = PipeWatch::new(tokio::io::stdout());
    let mut out = BufWriter::with_capacity(WRITE_BUFFER, watched);
    let result = backup.write_script(&mut out).await;
    if reader_gone.load(Ordering::Relaxed) {
        tracing::debug!("stdout was closed by its reader; stopping");
        return Ok(Outcome::ReaderGone);
    }
    result?;
    Ok(Outcome::Done)
}

/// `pgbm verify`.
///
/// # Errors
/// [`pgbm_core::ErrorKind::Corrupt`] for a damaged backup; key, storage and restore
/// errors.
pub async fn verify(s: VerifySettings, printer: Printer) -> Result<Outcome> {
    let started = Instant::now();
    let backup = open(&s.backup, &s.secrets).await?;
    let progress = Arc::new(Progress::new());
    let display = ProgressDisplay::start(&printer, "verify", Arc::clone(&progress));
    let report = backup.verify(&progress).await;
    display.finish();
    let report = report?;
    let check = match &s.restore_to {
        Some(conn) => {
            let progress = Arc::new(Progress::new());
            let display = ProgressDisplay::start(&printer, "test restore", Arc::clone(&progress));
            let check = backup.restore_check(conn, s.jobs, progress).await;
            display.finish();
            Some(check?)
        }
        None => None,
    };
    printer.verify_done(&report, check.as_ref(), started.elapsed());
    Ok(Outcome::Done)
}

/// `pgbm restore` of a backup (from `--repo`, or an archive file).
///
/// # Errors
/// As the core's segmented restore.
pub async fn restore(s: RestoreSettings, backup: BackupRef, printer: Printer) -> Result<Outcome> {
    let started = Instant::now();
    let backup = open(&backup, &s.secrets).await?;
    tracing::info!(
        "restoring backup {} into {}",
        backup.id(),
        s.conn.describe()
    );
    let progress = Arc::new(Progress::new());
    let display = ProgressDisplay::start(&printer, "restore", Arc::clone(&progress));
    let summary = backup.restore(&s.conn, &s.options, progress).await;
    display.finish();
    printer.restore_done(&summary?, started.elapsed());
    Ok(Outcome::Done)
}

/// Whether `path` is a pgbm archive (starts with its magic); `false` if it cannot be
/// read (the script path then reports the problem).
pub async fn is_archive(path: &Path) -> bool {
    let Ok(mut file) = tokio::fs::File::open(path).await else {
        return false;
    };
    let mut head = [0u8; MAGIC.len()];
    file.read_exact(&mut head).await.is_ok() && head == MAGIC
}

/// `pgbm key generate`.
///
/// # Errors
/// [`pgbm_core::ErrorKind::Io`] if the file exists or cannot be written.
pub fn key_generate(output: &Path, printer: Printer) -> Result<Outcome> {
    if output.as_os_str().is_empty() {
        return Err(Error::usage("-o FILE must name a file"));
    }
    let key_id = crate::secrets::write_new_key_file(output)?;
    printer.key_generated(output, &key_id);
    Ok(Outcome::Done)
}
