//! Backups in a repository: take one, list them, write one's SQL script, verify,
//! restore.
//!
//! A backup is one archive object (`docs/FORMAT.md`) holding a segmented dump: the
//! pre-data script, one segment per table's data, the post-data script; its manifest
//! ([`Manifest`]) records what `list`, `verify` and `restore` need. Next to it a small
//! JSON sidecar caches the listing data ([`BackupEntry`]). The repository layout is in
//! `docs/REPOSITORY.md`.
//!
//! | operation | entry point |
//! |---|---|
//! | back up a database | [`backup()`] with [`BackupOptions`] |
//! | list backups | [`Repository::list`] |
//! | find `latest`, an id or an id prefix | [`Repository::resolve`] |
//! | open one (keys checked, manifest read) | [`Repository::open_backup`], [`Backup::open_file`] |
//! | the plain SQL script (`pgbm cat`) | [`Backup::write_script`] |
//! | check every byte, no database | [`Backup::verify`] |
//! | restore (parallel, selective) | [`Backup::restore`] |
//! | restore into a scratch database and compare row counts | [`Backup::restore_check`] |
//!
//! Progress of the long operations is counted in a shared [`Progress`] that a front end
//! polls to draw a progress bar.
//!
//! # Atomicity
//!
//! The archive streams into the repository ([`crate::storage::StorageWriter`]) while
//! the dump runs and appears under its name only when complete (a local directory:
//! temporary file, fsync, rename, fsync of the directory; S3: the multipart upload
//! completes). A failed, cancelled or interrupted backup leaves nothing visible: the
//! temporary file is removed, the multipart upload aborted.

mod entry;
mod id;
mod manifest;
mod open;
mod progress;
mod repo;
mod run;
mod target;

pub use entry::{BackupEntry, BackupStatus};
pub use id::{timestamp, BackupId};
pub use manifest::{
    Manifest, ManifestOptions, ManifestSegment, ManifestTocEntry, Totals, MANIFEST_FORMAT,
    MANIFEST_VERSION,
};
pub use open::{Backup, RestoreCheck, VerifyReport};
pub use progress::{Progress, ProgressSnapshot};
pub use repo::Repository;
pub use run::{backup, BackupOptions, BackupSummary};
