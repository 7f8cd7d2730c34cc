//! A repository: where backups live, how they are named, found and listed.
//!
//! Layout (see `docs/REPOSITORY.md`), under the location's directory or key prefix:
//!
//! ```text
//! backups/<id>.pgbm   the archive (format: docs/FORMAT.md)
//! backups/<id>.json   its listing data (a cache; see BackupEntry)
//! ```

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use super::entry::{BackupEntry, BackupStatus};
use super::id::BackupId;
use super::open::{Backup, BackupSource};
use crate::crypto::KeySource;
use crate::storage::{
    self, Location, ObjectMeta, ObjectReader, OpenOptions, Storage, StorageExt, StorageWriter,
};
use crate::{Error, ErrorKind, Result};

/// The directory (key prefix) of the backups in a repository.
const BACKUPS: &str = "backups";
/// Suffix of an archive's key.
const ARCHIVE_SUFFIX: &str = ".pgbm";
/// Suffix of a sidecar's key.
const SIDECAR_SUFFIX: &str = ".json";

/// A backup repository.
#[derive(Debug, Clone)]
pub struct Repository {
    store: Arc<dyn Storage>,
    location: String,
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.location)
    }
}

impl Repository {
    /// The repository at `location`: a directory path, a `file://` URL or an
    /// `s3://bucket/prefix` URL (S3 settings from the AWS environment: `AWS_*`
    /// variables, profiles, `AWS_ENDPOINT_URL` for S3-compatible stores).
    ///
    /// # Errors
    /// [`ErrorKind::Usage`] for a malformed location; storage errors when the
    /// directory cannot be created or the S3 client cannot be configured.
    pub async fn open(location: &str) -> Result<Repository> {
        Self::open_with(location, &OpenOptions::default()).await
    }

    /// [`open`](Self::open) with explicit storage options (S3 endpoint, credentials,
    /// part size, retries).
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub async fn open_with(location: &str, options: &OpenOptions) -> Result<Repository> {
        let parsed = Location::parse(location)?;
        let opened = storage::open(&parsed, options).await?;
        Ok(Repository {
            store: Arc::from(opened.scoped()?),
            location: parsed.to_string(),
        })
    }

    /// A repository in `store` (already scoped to the repository's prefix), called
    /// `name` in messages.
    pub fn with_storage(store: Arc<dyn Storage>, name: impl Into<String>) -> Repository {
        Repository {
            store,
            location: name.into(),
        }
    }

    /// The objects of the backups directory.
    async fn objects(&self) -> Result<Vec<ObjectMeta>> {
        Ok(self.store.list(&format!("{BACKUPS}/")).await?)
    }

    /// Every backup's id and archive size, oldest first.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn backup_ids(&self) -> Result<Vec<(BackupId, u64)>> {
        Ok(archives_in(&self.objects().await?))
    }

    /// The backup `spec` names: an id, an unambiguous prefix of one, or `latest`.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] if no backup matches (or the repository has none, for
    /// `latest`); [`ErrorKind::Usage`] if a prefix matches several.
    pub async fn resolve(&self, spec: &str) -> Result<BackupId> {
        let ids: Vec<BackupId> = self
            .backup_ids()
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        resolve_in(&ids, spec, &self.location)
    }

    /// The listing data of every backup, oldest first. Sidecars are used when present;
    /// otherwise the archive's manifest is read with `keys` (an encrypted backup
    /// without a sidecar and without its key is listed as [`BackupStatus::Locked`]).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn list(&self, keys: &KeySource) -> Result<Vec<BackupEntry>> {
        let objects = self.objects().await?;
        let sidecars: std::collections::HashSet<&str> =
            objects.iter().map(|o| o.path.as_str()).collect();
        let has_sidecar = |id: &BackupId| sidecars.contains(sidecar_key(id).as_str());
        let mut out = Vec::new();
        for (id, size) in archives_in(&objects) {
            let cached = if has_sidecar(&id) {
                self.read_sidecar(&id).await
            } else {
                None
            };
            let entry = match cached {
                Some(mut entry) => {
                    // The archive is the truth about its size.
                    entry.size_bytes = size;
                    entry
                }
                None => self.entry_from_archive(&id, size, keys).await?,
            };
            out.push(entry);
        }
        Ok(out)
    }

    /// A sidecar's entry, if it is readable and about `id`.
    async fn read_sidecar(&self, id: &BackupId) -> Option<BackupEntry> {
        match self.store.get(&sidecar_key(id)).await {
            Ok(bytes) => BackupEntry::from_sidecar(&bytes).filter(|e| e.id == id.as_str()),
            Err(e) => {
                tracing::warn!("ignoring the listing cache of backup {id}: {e}");
                None
            }
        }
    }

    /// Listing data from the archive itself.
    async fn entry_from_archive(
        &self,
        id: &BackupId,
        size: u64,
        keys: &KeySource,
    ) -> Result<BackupEntry> {
        match self.open_id(id, keys).await {
            Ok(backup) => Ok(backup.entry()),
            Err(e) if e.kind() == ErrorKind::WrongKey => Ok(BackupEntry::unreadable(
                id.as_str(),
                size,
                BackupStatus::Locked,
            )),
            Err(e) if e.kind() == ErrorKind::Corrupt => {
                tracing::warn!("backup {id}: {e}");
                Ok(BackupEntry::unreadable(
                    id.as_str(),
                    size,
                    BackupStatus::Corrupt,
                ))
            }
            Err(e) => Err(e),
        }
    }

    /// Opens the backup `spec` names (see [`resolve`](Self::resolve)) with `keys`.
    ///
    /// # Errors
    /// As [`resolve`](Self::resolve); [`ErrorKind::WrongKey`] if the keys do not open
    /// it; [`ErrorKind::Corrupt`] if its header, trailer, footer or manifest fail
    /// their checks.
    pub async fn open_backup(&self, spec: &str, keys: &KeySource) -> Result<Backup> {
        let id = self.resolve(spec).await?;
        self.open_id(&id, keys).await
    }

    async fn open_id(&self, id: &BackupId, keys: &KeySource) -> Result<Backup> {
        let src = ObjectReader::new(Arc::clone(&self.store), archive_key(id));
        Backup::open(BackupSource::Object(src), keys)
            .await
            .map_err(|e| {
                if e.kind() == ErrorKind::NotFound {
                    Error::new(
                        ErrorKind::NotFound,
                        format!("backup {id} not found in {}", self.location),
                    )
                } else {
                    e
                }
            })
    }

    /// A writer of `id`'s archive. Nothing is visible until it is shut down (which
    /// the archive writer's `finish` does); dropped before that, it leaves nothing.
    pub(crate) fn create_archive(&self, id: &BackupId) -> StorageWriter {
        StorageWriter::new(Arc::clone(&self.store), archive_key(id))
    }

    /// Writes `entry`'s sidecar.
    pub(crate) async fn write_sidecar(&self, entry: &BackupEntry) -> Result<()> {
        let id = BackupId::parse(&entry.id)
            .ok_or_else(|| Error::internal(format!("bad backup id {:?}", entry.id)))?;
        self.store
            .put(&sidecar_key(&id), Bytes::from(entry.to_sidecar()))
            .await?;
        Ok(())
    }
}

/// The backups among the objects of the backups directory: `<id>.pgbm` with a valid
/// id, oldest first (the listing is sorted by key, and ids sort by time).
fn archives_in(objects: &[ObjectMeta]) -> Vec<(BackupId, u64)> {
    objects
        .iter()
        .filter_map(|o| {
            let name = o.path.strip_prefix(BACKUPS)?.strip_prefix('/')?;
            let id = BackupId::parse(name.strip_suffix(ARCHIVE_SUFFIX)?)?;
            Some((id, o.size))
        })
        .collect()
}

fn archive_key(id: &BackupId) -> String {
    format!("{BACKUPS}/{id}{ARCHIVE_SUFFIX}")
}

fn sidecar_key(id: &BackupId) -> String {
    format!("{BACKUPS}/{id}{SIDECAR_SUFFIX}")
}

/// [`Repository::resolve`] over a list of ids (sorted oldest first).
fn resolve_in(ids: &[BackupId], spec: &str, repo: &str) -> Result<BackupId> {
    if spec.is_empty() {
        return Err(Error::usage("empty backup id"));
    }
    if spec == "latest" {
        return ids
            .last()
            .cloned()
            .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("no backups found in {repo}")));
    }
    let matches: Vec<&BackupId> = ids
        .iter()
        .filter(|id| id.as_str().starts_with(spec))
        .collect();
    match matches.as_slice() {
        [] => Err(Error::new(
            ErrorKind::NotFound,
            format!("backup {spec} not found in {repo}"),
        )),
        // Ids have a fixed length, so an exact id is never the prefix of another.
        [one] => Ok((*one).clone()),
        many => {
            let shown: Vec<&str> = many.iter().take(5).map(|id| id.as_str()).collect();
            Err(Error::usage(format!(
                "backup id prefix {spec} is ambiguous: it matches {} backups ({}{})",
                many.len(),
                shown.join(", "),
                if many.len() > shown.len() {
                    ", ..."
                } else {
                    ""
                }
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<BackupId> {
        list.iter().map(|s| BackupId::parse(s).unwrap()).collect()
    }

    #[test]
    fn resolution_by_id_prefix_and_latest() {
        let all = ids(&[
            "20261120T100000Z-aaaaaaaa",
            "20261121T100000Z-bbbbbbbb",
            "20261121T100000Z-bccccccc",
        ]);
        let r = |spec| resolve_in(&all, spec, "repo");
        assert_eq!(r("latest").unwrap(), all[2]);
        assert_eq!(r("20261120").unwrap(), all[0]);
        assert_eq!(r("20261121T100000Z-bb").unwrap(), all[1]);
        assert_eq!(r("20261121T100000Z-bccccccc").unwrap(), all[2]);
        let e = r("20261121").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage);
        assert!(e.to_string().contains("ambiguous"), "{e}");
        let e = r("2025").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.to_string(), "backup 2025 not found in repo");
        let e = resolve_in(&[], "latest", "repo").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(r("").unwrap_err().kind(), ErrorKind::Usage);
    }

    #[tokio::test]
    async fn locations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo");
        let repo = Repository::open(path.to_str().unwrap()).await.unwrap();
        assert_eq!(repo.to_string(), path.display().to_string());
        let url = format!("file://{}", path.display());
        assert!(Repository::open(&url).await.is_ok());
        for bad in ["", "file://srv", "ftp://x/y", "s3://"] {
            let e = Repository::open(bad).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Usage, "{bad}");
        }
    }
}
