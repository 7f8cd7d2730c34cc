//! Object keys: what every backend accepts, and joining keys to prefixes.
//!
//! One rule for all backends, so that a repository can move between a directory and a
//! bucket: keys are relative, `/`-separated, and no segment is empty, `.` or `..` (on
//! disk those would escape the root or alias another key). Control characters and
//! backslashes are refused too: they make keys ambiguous in listings and on Windows.

use super::error::{Result, StorageError};

/// Checks that `key` names an object (see the module rules).
///
/// # Errors
/// [`StorageError::InvalidPath`] saying what is wrong.
pub fn validate_key(key: &str) -> Result<()> {
    check(key, false)
}

/// Checks a listing prefix: like a key, but it may be empty or end with `/`.
pub(crate) fn validate_prefix(prefix: &str) -> Result<()> {
    if prefix.is_empty() {
        return Ok(());
    }
    check(prefix, true)
}

fn check(key: &str, is_prefix: bool) -> Result<()> {
    let invalid = |reason: &str| StorageError::InvalidPath {
        path: key.to_string(),
        reason: reason.to_string(),
    };
    if key.is_empty() {
        return Err(invalid("empty key"));
    }
    if key.starts_with('/') {
        return Err(invalid("keys are relative; remove the leading `/`"));
    }
    if key.chars().any(|c| c.is_control() || c == '\\') {
        return Err(invalid("control characters and `\\` are not allowed"));
    }
    let segments: Vec<&str> = key.split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        // A prefix may end in the middle of a segment ("backups/2024-"), but "." or ".."
        // as its last segment would still walk up on disk.
        let last = i + 1 == segments.len();
        match *segment {
            "" if is_prefix && last => {}
            "" => return Err(invalid("empty segment (`//` or a trailing `/`)")),
            "." | ".." => return Err(invalid("`.` and `..` segments are not allowed")),
            _ => {}
        }
    }
    Ok(())
}

/// `prefix/key`, or `key` when `prefix` is empty.
pub(crate) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else if key.is_empty() {
        format!("{prefix}/")
    } else {
        format!("{prefix}/{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_keys_pass() {
        for key in [
            "a",
            "backups/2024-01-01.pgbm",
            "a/b/c",
            ".hidden",
            "x..y",
            "sp ace",
        ] {
            validate_key(key).unwrap_or_else(|e| panic!("{key}: {e}"));
        }
    }

    #[test]
    fn bad_keys_are_refused_with_a_reason() {
        for key in [
            "", "/abs", "a//b", "a/", "..", "../x", "a/../b", "./a", "a/.", "a\\b", "a\nb",
        ] {
            let err = validate_key(key).unwrap_err();
            assert!(matches!(err, StorageError::InvalidPath { .. }), "{key}");
        }
    }

    #[test]
    fn prefixes_may_be_empty_or_end_with_a_slash() {
        for p in ["", "a", "a/", "a/b", "backups/2024-"] {
            validate_prefix(p).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
        for p in ["/", "..", "a/..", "a//", "/a"] {
            assert!(validate_prefix(p).is_err(), "{p}");
        }
    }

    #[test]
    fn join_adds_one_slash() {
        assert_eq!(join("", "k"), "k");
        assert_eq!(join("p/q", "k"), "p/q/k");
        assert_eq!(join("p", ""), "p/");
    }
}
