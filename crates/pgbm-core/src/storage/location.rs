//! Repository locations: `DIR`, `file:///DIR` or `s3://bucket/prefix`, and opening them.
//!
//! Parsing ([`Location::parse`]) is pure, so front ends can reject a bad location
//! before doing anything. [`open`] builds the backend, wrapped in the retry decorator,
//! and hands back the key prefix separately ([`Opened`]); [`Opened::scoped`] applies it.
//!
//! Credentials never go in a location: `s3://key:secret@bucket` is refused, since
//! locations end up in logs, the catalog and `ps` output. S3 credentials come from the
//! standard AWS chain or [`S3Options::credentials`].

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use percent_encoding::percent_decode_str;

use super::error::{Result, StorageError};
use super::path::validate_key;
use super::{Backoff, LocalStorage, PrefixStorage, RetryStorage, S3Options, S3Storage, Storage};

/// Where a repository lives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Location {
    /// A local directory.
    Local {
        /// The directory (relative paths are relative to the working directory).
        root: PathBuf,
    },
    /// A bucket of S3 or an S3-compatible service.
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix inside the bucket, without leading or trailing `/`; may be empty.
        prefix: String,
    },
}

impl Location {
    /// Parses a path, a `file://` URL or an `s3://bucket[/prefix]` URL.
    ///
    /// # Errors
    /// [`StorageError::InvalidPath`] for an empty string, an unknown scheme, a
    /// `file://` URL naming another host, a bad bucket or prefix, or credentials in
    /// the URL.
    pub fn parse(s: &str) -> Result<Location> {
        let invalid = |reason: &str| StorageError::InvalidPath {
            path: redact_userinfo(s),
            reason: reason.to_string(),
        };
        if s.is_empty() {
            return Err(invalid("empty repository location"));
        }
        if let Some(rest) = s.strip_prefix("s3://") {
            return parse_s3(rest).map_err(|reason| invalid(&reason));
        }
        if let Some(rest) = s.strip_prefix("file://") {
            return parse_file(rest).map_err(|reason| invalid(&reason));
        }
        if s.starts_with("file:") {
            return Err(invalid(
                "file URLs start with file:// (file:///path/to/repo)",
            ));
        }
        if let Some((scheme, _)) = s.split_once("://") {
            return Err(invalid(&format!(
                "unsupported scheme `{scheme}://` (use a directory, file:// or s3://)"
            )));
        }
        Ok(Location::Local { root: s.into() })
    }
}

/// `s` with any `user:password@` of a URL replaced by `***@`, for error messages.
fn redact_userinfo(s: &str) -> String {
    let Some((scheme, rest)) = s.split_once("://") else {
        return s.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => s.to_string(),
    }
}

/// `bucket[/prefix]` of an `s3://` URL.
fn parse_s3(rest: &str) -> std::result::Result<Location, String> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.contains('@') {
        return Err(
            "credentials do not belong in the URL; use the AWS environment \
                    variables, profile or credentials options"
                .into(),
        );
    }
    let bucket_ok = !bucket.is_empty()
        && bucket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !bucket_ok {
        return Err(format!("bad bucket name {bucket:?}"));
    }
    let prefix = prefix.trim_end_matches('/');
    if !prefix.is_empty() {
        validate_key(prefix).map_err(|e| format!("bad prefix: {e}"))?;
    }
    Ok(Location::S3 {
        bucket: bucket.to_string(),
        prefix: prefix.to_string(),
    })
}

/// `[localhost]/path` of a `file://` URL, percent-decoded.
fn parse_file(rest: &str) -> std::result::Result<Location, String> {
    let path = rest.strip_prefix("localhost").unwrap_or(rest);
    if !path.starts_with('/') {
        return Err("file:// URLs name a local absolute path: file:///path/to/repo".into());
    }
    let decoded = percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| "the path is not UTF-8 after percent-decoding".to_string())?;
    Ok(Location::Local {
        root: PathBuf::from(decoded.as_ref()),
    })
}

impl FromStr for Location {
    type Err = StorageError;

    fn from_str(s: &str) -> Result<Location> {
        Location::parse(s)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local { root } => write!(f, "{}", root.display()),
            Location::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Location::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// How [`open`] builds a backend.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct OpenOptions {
    /// Settings for `s3://` locations.
    pub s3: S3Options,
    /// Retry policy of the [`RetryStorage`] around the backend.
    pub backoff: Backoff,
}

/// An opened location: the backend and the key prefix of the repository inside it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Opened {
    /// The backend (bucket or directory), with retries.
    pub storage: Box<dyn Storage>,
    /// The repository's key prefix inside `storage`; empty for directories.
    pub prefix: String,
}

impl Opened {
    /// The backend scoped to the prefix (a [`PrefixStorage`] when there is one).
    ///
    /// # Errors
    /// Never for a prefix that came from [`Location::parse`].
    pub fn scoped(self) -> Result<Box<dyn Storage>> {
        if self.prefix.is_empty() {
            Ok(self.storage)
        } else {
            Ok(Box::new(PrefixStorage::new(self.storage, &self.prefix)?))
        }
    }
}

/// Builds the backend for `location`, wrapped in a [`RetryStorage`].
///
/// # Errors
/// When the directory cannot be created, or the S3 client cannot be configured.
pub async fn open(location: &Location, options: &OpenOptions) -> Result<Opened> {
    let (storage, prefix): (Box<dyn Storage>, String) = match location {
        Location::Local { root } => {
            let local = LocalStorage::new(root.clone())?;
            (
                Box::new(RetryStorage::new(local, options.backoff)),
                String::new(),
            )
        }
        Location::S3 { bucket, prefix } => {
            let s3 = S3Storage::new(bucket.clone(), options.s3.clone()).await?;
            (
                Box::new(RetryStorage::new(s3, options.backoff)),
                prefix.clone(),
            )
        }
    };
    Ok(Opened { storage, prefix })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(p: &str) -> Location {
        Location::Local { root: p.into() }
    }

    fn s3(bucket: &str, prefix: &str) -> Location {
        Location::S3 {
            bucket: bucket.into(),
            prefix: prefix.into(),
        }
    }

    #[test]
    fn paths_and_urls_parse() {
        let cases = [
            ("/srv/backups", local("/srv/backups")),
            ("relative/dir", local("relative/dir")),
            ("file:///srv/my%20backups", local("/srv/my backups")),
            ("file://localhost/srv/b", local("/srv/b")),
            ("s3://bucket", s3("bucket", "")),
            ("s3://bucket/", s3("bucket", "")),
            (
                "s3://my-bucket.eu/team/prod/",
                s3("my-bucket.eu", "team/prod"),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(Location::parse(text).unwrap(), want, "{text}");
        }
    }

    #[test]
    fn bad_locations_say_why() {
        for text in [
            "",
            "gs://bucket",
            "file://otherhost/x",
            "file:relative",
            "s3://",
            "s3:///prefix",
            "s3://bucket/../x",
            "s3://bucket/a//b",
            "s3://AKIA:secret@bucket/x",
        ] {
            let err = Location::parse(text).unwrap_err();
            assert!(
                matches!(err, StorageError::InvalidPath { .. }),
                "{text}: {err}"
            );
        }
        let err = Location::parse("s3://AKIA:secret@bucket/x").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("credentials"), "{text}");
        assert!(!text.contains("secret") && !text.contains("AKIA"), "{text}");
    }

    #[test]
    fn locations_display_as_given() {
        for text in ["/srv/b", "s3://bucket", "s3://bucket/a/b"] {
            assert_eq!(Location::parse(text).unwrap().to_string(), text);
        }
    }

    #[tokio::test]
    async fn opening_a_directory_scopes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let location = Location::Local {
            root: dir.path().join("repo"),
        };
        let opened = open(&location, &OpenOptions::default()).await.unwrap();
        assert_eq!(opened.prefix, "");
        assert!(dir.path().join("repo").is_dir());
        let store = opened.scoped().unwrap();
        assert!(store.to_string().starts_with("file://"));
    }
}
