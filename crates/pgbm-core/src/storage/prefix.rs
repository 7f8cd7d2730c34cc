//! [`PrefixStorage`]: a store seen through a key prefix (`s3://bucket/prefix`).
//!
//! Keys given to it are joined below the prefix, and keys coming back (listings,
//! metadata, errors) have the prefix removed, so code above never knows it is there.

use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;

use super::error::{Result, StorageError};
use super::path::{join, validate_key};
use super::{
    Capabilities, GetOptions, GetResult, MultipartUpload, ObjectMeta, PutOptions, PutResult,
    Storage,
};

/// The objects of `inner` below `prefix/`, under keys relative to it.
#[derive(Debug, Clone)]
pub struct PrefixStorage<S> {
    inner: S,
    /// Without leading or trailing `/`.
    prefix: String,
}

impl<S: Storage> PrefixStorage<S> {
    /// Scopes `inner` to `prefix` (a key; one trailing `/` is allowed).
    ///
    /// # Errors
    /// [`StorageError::InvalidPath`] when `prefix` is not a valid key.
    pub fn new(inner: S, prefix: &str) -> Result<Self> {
        let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
        validate_key(prefix)?;
        Ok(PrefixStorage {
            inner,
            prefix: prefix.to_string(),
        })
    }

    /// The prefix, without a trailing `/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The key in `inner` for `key`.
    fn full(&self, key: &str) -> String {
        join(&self.prefix, key)
    }

    /// `key` of `inner` as seen through the prefix (unchanged if outside it).
    fn strip<'a>(&self, key: &'a str) -> &'a str {
        key.strip_prefix(self.prefix.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .unwrap_or(key)
    }

    fn strip_meta(&self, mut meta: ObjectMeta) -> ObjectMeta {
        meta.path = self.strip(&meta.path).to_string();
        meta
    }

    /// Rewrites the key inside an error so messages name the key the caller used.
    fn strip_error(&self, err: StorageError) -> StorageError {
        let strip = |path: String| self.strip(&path).to_string();
        match err {
            StorageError::NotFound { path } => StorageError::NotFound { path: strip(path) },
            StorageError::AlreadyExists { path } => {
                StorageError::AlreadyExists { path: strip(path) }
            }
            StorageError::Precondition { path, message } => StorageError::Precondition {
                path: strip(path),
                message,
            },
            StorageError::InvalidPath { path, reason } => StorageError::InvalidPath {
                path: strip(path),
                reason,
            },
            StorageError::InvalidRange { path, message } => StorageError::InvalidRange {
                path: strip(path),
                message,
            },
            other => other,
        }
    }
}

impl<S: Storage> fmt::Display for PrefixStorage<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.inner, self.prefix)
    }
}

#[async_trait]
impl<S: Storage> Storage for PrefixStorage<S> {
    async fn put_opts(&self, path: &str, payload: Bytes, opts: PutOptions) -> Result<PutResult> {
        validate_key(path)?;
        let full = self.full(path);
        let result = self.inner.put_opts(&full, payload, opts).await;
        result.map_err(|e| self.strip_error(e))
    }

    async fn put_multipart(&self, path: &str) -> Result<Box<dyn MultipartUpload>> {
        validate_key(path)?;
        let full = self.full(path);
        let result = self.inner.put_multipart(&full).await;
        result.map_err(|e| self.strip_error(e))
    }

    async fn get_opts(&self, path: &str, opts: GetOptions) -> Result<GetResult> {
        validate_key(path)?;
        let full = self.full(path);
        let mut result = self
            .inner
            .get_opts(&full, opts)
            .await
            .map_err(|e| self.strip_error(e))?;
        result.meta = self.strip_meta(result.meta);
        Ok(result)
    }

    async fn head(&self, path: &str) -> Result<ObjectMeta> {
        validate_key(path)?;
        let full = self.full(path);
        let result = self.inner.head(&full).await;
        result
            .map(|m| self.strip_meta(m))
            .map_err(|e| self.strip_error(e))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        super::path::validate_prefix(prefix)?;
        let full = self.full(prefix);
        let result = self.inner.list(&full).await;
        let metas = result.map_err(|e| self.strip_error(e))?;
        Ok(metas.into_iter().map(|m| self.strip_meta(m)).collect())
    }

    async fn delete(&self, path: &str) -> Result<()> {
        validate_key(path)?;
        let full = self.full(path);
        let result = self.inner.delete(&full).await;
        result.map_err(|e| self.strip_error(e))
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{LocalStorage, StorageExt};

    #[tokio::test]
    async fn keys_live_below_the_prefix_and_come_back_relative() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalStorage::new(dir.path()).unwrap();
        let scoped = PrefixStorage::new(local.clone(), "team/prod/").unwrap();
        assert_eq!(scoped.prefix(), "team/prod");
        scoped.put("a/b", Bytes::from("x")).await.unwrap();
        local
            .put("team/production", Bytes::from("y"))
            .await
            .unwrap();

        assert_eq!(local.get("team/prod/a/b").await.unwrap(), "x");
        let listed: Vec<String> = scoped
            .list("")
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.path)
            .collect();
        assert_eq!(
            listed,
            ["a/b"],
            "a sibling sharing the string prefix is not listed"
        );
        assert_eq!(scoped.head("a/b").await.unwrap().path, "a/b");

        let err = scoped.get("missing").await.unwrap_err();
        assert_eq!(err.to_string(), "object not found: missing");
        assert!(scoped.to_string().ends_with("/team/prod"));
    }

    #[tokio::test]
    async fn keys_cannot_escape_the_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let scoped = PrefixStorage::new(LocalStorage::new(dir.path()).unwrap(), "p").unwrap();
        for key in ["../x", "", "/x"] {
            let err = scoped.put(key, Bytes::new()).await.unwrap_err();
            assert!(
                matches!(err, StorageError::InvalidPath { .. }),
                "{key}: {err}"
            );
        }
        assert!(PrefixStorage::new(LocalStorage::new(dir.path()).unwrap(), "../up").is_err());
    }
}
