//! What `pgbm list` shows of a backup, and the JSON sidecar that caches it.
//!
//! The sidecar `<id>.json` is written next to the archive once the archive is
//! complete. It holds listing data only (no table names, no keys), so listing a
//! repository needs one small read per backup and no key, even when the backups are
//! encrypted. It is a cache: when it is missing or unreadable, the listing is read
//! from the archive's manifest instead (which needs the key of an encrypted backup).

use serde::{Deserialize, Serialize};

use super::manifest::Manifest;

/// Value of the sidecar's `format` member.
pub(crate) const SIDECAR_FORMAT: &str = "pgbm-backup-listing";

/// Whether a listed backup can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum BackupStatus {
    /// The archive is complete (archives only ever appear whole) and its listing data
    /// is known.
    Complete,
    /// The archive exists but has no readable sidecar, and its manifest could not be
    /// read without a key: only id and size are known.
    Locked,
    /// The archive exists but has no readable sidecar, and its footer failed its
    /// checks: `pgbm verify` says more.
    Corrupt,
}

/// One backup of a repository, as `pgbm list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BackupEntry {
    /// The backup's id.
    pub id: String,
    /// The database backed up (empty if unknown).
    pub database: String,
    /// When the backup started (UTC, RFC 3339; empty if unknown).
    pub started_at: String,
    /// When its data was complete (UTC, RFC 3339; empty if unknown).
    pub finished_at: String,
    /// Size of the archive in bytes.
    pub size_bytes: u64,
    /// See [`BackupStatus`].
    pub status: BackupStatus,
    /// The server's version (empty if unknown).
    pub server_version: String,
    /// Version of pgbm that made it.
    pub pgbm_version: String,
    /// The user's label.
    pub tag: Option<String>,
    /// `none` or `aes-256-gcm`.
    pub encryption: String,
    /// Kinds of key slots (empty if not encrypted).
    pub key_slots: Vec<String>,
    /// `none` or `zstd:LEVEL`.
    pub compression: String,
    /// Tables with data.
    pub tables: u64,
    /// Rows of table data.
    pub rows: u64,
    /// Dump entries (tables, indexes, functions, ...).
    pub objects: u64,
    /// Bytes of COPY data.
    pub data_bytes: u64,
    /// Bytes of the plain SQL script.
    pub plaintext_bytes: u64,
}

/// The sidecar file: a [`BackupEntry`] with a format marker.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Sidecar {
    pub format: String,
    #[serde(flatten)]
    pub entry: BackupEntry,
}

impl BackupEntry {
    /// The listing data of a backup, from its manifest and the archive's size.
    pub(crate) fn from_manifest(m: &Manifest, size: u64) -> Self {
        BackupEntry {
            id: m.id.clone(),
            database: m.database.clone(),
            started_at: m.started_at.clone(),
            finished_at: m.finished_at.clone(),
            size_bytes: size,
            status: BackupStatus::Complete,
            server_version: m.server_version.clone(),
            pgbm_version: m.pgbm_version.clone(),
            tag: m.tag.clone(),
            encryption: encryption_name(!m.options.key_slots.is_empty()).to_string(),
            key_slots: m.options.key_slots.clone(),
            compression: m.options.compression.clone(),
            tables: m.totals.tables,
            rows: m.totals.rows,
            objects: m.object_count(),
            data_bytes: m.totals.data_bytes,
            plaintext_bytes: m.totals.plaintext_bytes,
        }
    }

    /// What is known of an archive whose manifest could not be read.
    pub(crate) fn unreadable(id: &str, size: u64, status: BackupStatus) -> Self {
        BackupEntry {
            id: id.to_string(),
            database: String::new(),
            started_at: String::new(),
            finished_at: String::new(),
            size_bytes: size,
            status,
            server_version: String::new(),
            pgbm_version: String::new(),
            tag: None,
            encryption: String::new(),
            key_slots: Vec::new(),
            compression: String::new(),
            tables: 0,
            rows: 0,
            objects: 0,
            data_bytes: 0,
            plaintext_bytes: 0,
        }
    }

    /// The sidecar's bytes.
    pub(crate) fn to_sidecar(&self) -> Vec<u8> {
        let sidecar = Sidecar {
            format: SIDECAR_FORMAT.to_string(),
            entry: self.clone(),
        };
        let mut json = serde_json::to_vec_pretty(&sidecar).expect("entries always serialize");
        json.push(b'\n');
        json
    }

    /// Parses a sidecar; `None` if it is not one (it is then ignored: the archive is
    /// the truth).
    pub(crate) fn from_sidecar(bytes: &[u8]) -> Option<Self> {
        let sidecar: Sidecar = serde_json::from_slice(bytes).ok()?;
        (sidecar.format == SIDECAR_FORMAT).then_some(sidecar.entry)
    }
}

/// How an archive's encryption is named in listings.
pub(crate) fn encryption_name(encrypted: bool) -> &'static str {
    if encrypted {
        "aes-256-gcm"
    } else {
        "none"
    }
}
