//! Taking a backup: a segmented dump streamed through the archive writer into the
//! repository, then the sidecar.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::entry::BackupEntry;
use super::id::{timestamp, BackupId};
use super::manifest::{Manifest, ManifestOptions, RunFacts};
use super::progress::Progress;
use super::repo::Repository;
use super::target::{ArchiveTarget, CountingSink};
use crate::archive::{ArchiveWriter, Compression, WriterOptions};
use crate::conn::ConnOptions;
use crate::crypto::{KeyFileKey, KeySlotsSpec, PassphraseKey, SlotKind};
use crate::dump::{dump_segmented, DumpOptions};
use crate::{Error, Result};

/// Longest tag accepted, in characters.
const MAX_TAG_CHARS: usize = 200;

/// Options of a backup.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BackupOptions {
    /// What to dump (filters, `--no-owner`, ...). `clean` and `create` are restore
    /// options and must stay off.
    pub dump: DumpOptions,
    /// Connections dumping table data at once (at least 1).
    pub jobs: usize,
    /// Compression of the archive (default zstd level 3).
    pub compression: Compression,
    /// A passphrase slot, keyed by this derived passphrase key.
    pub passphrase: Option<PassphraseKey>,
    /// One key slot per key file.
    pub key_files: Vec<KeyFileKey>,
    /// A label shown by `list`.
    pub tag: Option<String>,
}

impl Default for BackupOptions {
    fn default() -> Self {
        BackupOptions {
            dump: DumpOptions::default(),
            jobs: 1,
            compression: Compression::default(),
            passphrase: None,
            key_files: Vec::new(),
            tag: None,
        }
    }
}

impl BackupOptions {
    /// Sets the number of jobs.
    #[must_use]
    pub fn with_jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs;
        self
    }

    /// Sets the compression.
    #[must_use]
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Encrypts, with a passphrase slot for `key` (see [`PassphraseKey::derive_async`]).
    #[must_use]
    pub fn with_passphrase_key(mut self, key: PassphraseKey) -> Self {
        self.passphrase = Some(key);
        self
    }

    /// Encrypts, with a key slot for `key`.
    #[must_use]
    pub fn with_key_file(mut self, key: KeyFileKey) -> Self {
        self.key_files.push(key);
        self
    }

    /// Sets the tag.
    #[must_use]
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }

    /// Sets the dump options.
    #[must_use]
    pub fn with_dump_options(mut self, dump: DumpOptions) -> Self {
        self.dump = dump;
        self
    }

    /// Checks the options before anything is dumped.
    ///
    /// # Errors
    /// [`crate::ErrorKind::Usage`] naming the problem.
    pub fn validate(&self) -> Result<()> {
        self.dump.validate()?;
        if self.dump.clean || self.dump.create {
            return Err(Error::usage(
                "--clean and --create are restore options: a backup is always a plain dump",
            ));
        }
        if self.jobs == 0 {
            return Err(Error::usage("the number of jobs must be at least 1"));
        }
        if let Some(tag) = &self.tag {
            if tag.is_empty() || tag.chars().count() > MAX_TAG_CHARS {
                return Err(Error::usage(format!(
                    "a tag must be 1 to {MAX_TAG_CHARS} characters"
                )));
            }
            if tag.chars().any(char::is_control) {
                return Err(Error::usage("a tag must not contain control characters"));
            }
        }
        Ok(())
    }

    /// The key slots, or `None` if the backup is not encrypted.
    fn key_slots(&self) -> Option<KeySlotsSpec> {
        let mut spec = KeySlotsSpec::new();
        if let Some(key) = &self.passphrase {
            spec = spec.with_passphrase_key(key.clone());
        }
        for key in &self.key_files {
            spec = spec.with_key_file(key.clone());
        }
        (!spec.is_empty()).then_some(spec)
    }

    /// How the manifest describes the slots.
    fn slot_names(&self) -> Vec<String> {
        let passphrase = self
            .passphrase
            .iter()
            .map(|k| SlotKind::Passphrase(k.params().clone()).to_string());
        let files = self
            .key_files
            .iter()
            .map(|k| SlotKind::KeyFile { key_id: k.key_id() }.to_string());
        passphrase.chain(files).collect()
    }
}

/// What a finished backup reports.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BackupSummary {
    /// The backup's listing data (also written as its sidecar).
    pub entry: BackupEntry,
    /// Wall time of the whole backup.
    pub elapsed: Duration,
}

/// Backs up the database `conn` points at into `repo`.
///
/// The archive streams into the repository as the dump runs and becomes visible only
/// once complete; on any failure (or if this future is dropped) nothing is left. Then
/// the sidecar is written; failing that is only a warning, since the archive holds the
/// same data.
///
/// # Errors
/// Usage errors of `opts`; connection, server and dump errors; storage errors.
pub async fn backup(
    conn: &ConnOptions,
    repo: &Repository,
    opts: &BackupOptions,
    progress: Arc<Progress>,
) -> Result<BackupSummary> {
    opts.validate()?;
    let clock = Instant::now();
    let started = SystemTime::now();
    let id = BackupId::generate(started)?;
    tracing::info!("backup {id} of {} into {repo}", conn.describe());

    let object = repo.create_archive(&id);
    let mut writer_opts = WriterOptions::default().with_compression(opts.compression);
    if let Some(slots) = opts.key_slots() {
        writer_opts = writer_opts.with_encryption(slots);
    }
    let sink = CountingSink::new(object, Arc::clone(&progress));
    let writer = ArchiveWriter::new(sink, writer_opts).await?;
    let target = ArchiveTarget::new(writer, Arc::clone(&progress));
    let dumped = dump_segmented(conn, &opts.dump, opts.jobs, &target).await?;

    let (writer, written) = target.into_parts();
    let run = RunFacts {
        id: id.to_string(),
        started_at: timestamp(started),
        finished_at: timestamp(SystemTime::now()),
        tag: opts.tag.clone(),
        options: ManifestOptions {
            jobs: opts.jobs,
            compression: opts.compression.to_string(),
            key_slots: opts.slot_names(),
            dump_flags: dump_flags(&opts.dump),
        },
    };
    let manifest = Manifest::build(run, &dumped, &written)?;
    let json = serde_json::to_value(&manifest)
        .map_err(|e| Error::internal(format!("serializing the manifest: {e}")))?;
    // Finishing shuts the sink down, which makes the archive visible.
    let summary = writer.finish(json).await?;

    let entry = BackupEntry::from_manifest(&manifest, summary.total_size);
    if let Err(e) = repo.write_sidecar(&entry).await {
        tracing::warn!("backup {id} is complete, but its listing cache was not written: {e}");
    }
    tracing::info!(
        "backup {id}: {} tables, {} rows, {} bytes stored",
        entry.tables,
        entry.rows,
        entry.size_bytes
    );
    Ok(BackupSummary {
        entry,
        elapsed: clock.elapsed(),
    })
}

/// The non-default dump options, as `pgbm dump` flags, for the manifest.
fn dump_flags(o: &DumpOptions) -> Vec<String> {
    let mut flags = Vec::new();
    let lists: [(&str, &Vec<String>); 5] = [
        ("--schema", &o.schemas),
        ("--exclude-schema", &o.exclude_schemas),
        ("--table", &o.tables),
        ("--exclude-table", &o.exclude_tables),
        ("--exclude-table-data", &o.exclude_table_data),
    ];
    for (flag, values) in lists {
        flags.extend(values.iter().map(|v| format!("{flag}={v}")));
    }
    let switches = [
        ("--schema-only", o.schema_only),
        ("--data-only", o.data_only),
        ("--no-owner", o.no_owner),
        ("--no-privileges", o.no_privileges),
        ("--no-comments", o.no_comments),
        ("--serializable-deferrable", o.serializable_deferrable),
    ];
    flags.extend(
        switches
            .iter()
            .filter(|(_, on)| *on)
            .map(|(flag, _)| (*flag).to_string()),
    );
    flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn options_are_checked() {
        assert!(BackupOptions::default().validate().is_ok());
        let dump = DumpOptions {
            clean: true,
            ..DumpOptions::default()
        };
        let e = BackupOptions::default()
            .with_dump_options(dump)
            .validate()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage);
        assert!(BackupOptions::default().with_jobs(0).validate().is_err());
        assert!(BackupOptions::default().with_tag("").validate().is_err());
        assert!(BackupOptions::default()
            .with_tag("a\nb")
            .validate()
            .is_err());
        assert!(BackupOptions::default()
            .with_tag("nightly")
            .validate()
            .is_ok());
    }

    #[test]
    fn dump_flags_name_what_is_not_default() {
        assert!(dump_flags(&DumpOptions::default()).is_empty());
        let o = DumpOptions {
            schemas: vec!["app".into()],
            no_owner: true,
            ..DumpOptions::default()
        };
        assert_eq!(dump_flags(&o), ["--schema=app", "--no-owner"]);
    }
}
