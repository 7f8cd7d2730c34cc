//! [`StorageError`]: what went wrong in a store, in terms callers act on.
//!
//! Two layers, as in `object_store`: each backend classifies its own failures (S3
//! status codes, `io::ErrorKind`s) into these *semantic* variants, and the variants
//! map into [`crate::Error`] once, here, for front ends. The retry decorator looks only
//! at [`StorageError::is_retryable`].

use crate::error::{Error, ErrorKind};

/// A boxed error from a backend's own layer (SDK, `std::io`).
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result alias of the storage layer.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// Nothing is stored under the key.
    #[error("object not found: {path}")]
    NotFound {
        /// The key asked for.
        path: String,
    },

    /// A conditional create found the key taken.
    #[error("object already exists: {path}")]
    AlreadyExists {
        /// The key that exists.
        path: String,
    },

    /// A condition of the request did not hold (other than "already exists").
    #[error("precondition failed for {path}: {message}")]
    Precondition {
        /// The key concerned.
        path: String,
        /// What the backend said.
        message: String,
    },

    /// The credentials do not allow the operation.
    #[error("permission denied for {path}: {message}")]
    PermissionDenied {
        /// The key concerned.
        path: String,
        /// What the backend said.
        message: String,
    },

    /// The key is not acceptable (absolute, `..`, empty segment, ...).
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The key as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A range read asked for bytes the object does not have.
    #[error("invalid range for {path}: {message}")]
    InvalidRange {
        /// The key read.
        path: String,
        /// The range and the object's size.
        message: String,
    },

    /// A failure that may go away when tried again (timeouts, throttling, 5xx,
    /// dropped connections).
    #[error("{store}: {source}")]
    Transient {
        /// The backend (`"S3"`, `"local"`).
        store: &'static str,
        /// The backend's own error, naming the operation and key.
        source: BoxError,
    },

    /// Any other failure of the backend.
    #[error("{store}: {source}")]
    Generic {
        /// The backend (`"S3"`, `"local"`).
        store: &'static str,
        /// The backend's own error, naming the operation and key.
        source: BoxError,
    },
}

impl StorageError {
    /// A [`StorageError::Generic`] from `store` with `source` (any error or message).
    pub fn generic(store: &'static str, source: impl Into<BoxError>) -> Self {
        StorageError::Generic {
            store,
            source: source.into(),
        }
    }

    /// A [`StorageError::Transient`] from `store` with `source` (any error or message).
    pub fn transient(store: &'static str, source: impl Into<BoxError>) -> Self {
        StorageError::Transient {
            store,
            source: source.into(),
        }
    }

    /// Whether nothing is stored under the key.
    pub fn is_not_found(&self) -> bool {
        matches!(self, StorageError::NotFound { .. })
    }

    /// Whether a conditional create found the key taken.
    pub fn is_already_exists(&self) -> bool {
        matches!(self, StorageError::AlreadyExists { .. })
    }

    /// Whether trying the same request again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StorageError::Transient { .. })
    }

    /// The [`ErrorKind`] this error becomes in [`crate::Error`].
    fn kind(&self) -> ErrorKind {
        match self {
            StorageError::NotFound { .. } => ErrorKind::NotFound,
            // A key the user typed (repository URL, backup name) or a bug; either way
            // the fix is in the request, not in the store.
            StorageError::InvalidPath { .. } => ErrorKind::Usage,
            _ => ErrorKind::Io,
        }
    }
}

impl From<StorageError> for Error {
    fn from(err: StorageError) -> Self {
        Error::new(err.kind(), format!("storage: {err}")).with_source(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates_follow_the_variant() {
        let nf = StorageError::NotFound { path: "a".into() };
        assert!(nf.is_not_found() && !nf.is_retryable() && !nf.is_already_exists());
        let t = StorageError::transient("S3", "slow down");
        assert!(t.is_retryable() && !t.is_not_found());
        let g = StorageError::generic("S3", "bad request");
        assert!(!g.is_retryable());
        let ae = StorageError::AlreadyExists {
            path: "lock".into(),
        };
        assert!(ae.is_already_exists());
    }

    #[test]
    fn maps_into_the_crate_error_by_kind() {
        let e: Error = StorageError::NotFound {
            path: "backups/x.pgbm".into(),
        }
        .into();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.to_string(), "storage: object not found: backups/x.pgbm");
        assert!(std::error::Error::source(&e).is_some());

        let e: Error = StorageError::generic("S3", "boom").into();
        assert_eq!(e.kind(), ErrorKind::Io);
        assert_eq!(e.to_string(), "storage: S3: boom");

        let e: Error = StorageError::InvalidPath {
            path: "../x".into(),
            reason: "`..` segment".into(),
        }
        .into();
        assert_eq!(e.kind(), ErrorKind::Usage);
    }
}
