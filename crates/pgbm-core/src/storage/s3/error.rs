//! Turning `aws-sdk-s3` errors into [`StorageError`]s.
//!
//! The SDK's own retries are off (see `super`), so this classification decides what
//! pgbm retries: throttling, timeouts, 5xx, dropped connections and the "conflicting
//! conditional operation" 409 are transient; everything else is final.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use crate::storage::error::StorageError;

/// Name of this backend in errors.
pub(super) const STORE: &str = "S3";

/// A failed S3 request, as the source of a generic or transient [`StorageError`].
#[derive(Debug, thiserror::Error)]
#[error("{op} {target}: {detail}")]
pub(super) struct S3Failure {
    /// The operation (`"PutObject"`).
    op: &'static str,
    /// `s3://bucket/key`.
    target: String,
    /// The service's code and message, or the transport failure.
    detail: String,
}

/// What went wrong with `op` on `key` of `bucket`, classified.
pub(super) fn classify<E>(
    err: &SdkError<E, HttpResponse>,
    op: &'static str,
    bucket: &str,
    key: &str,
) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let failure = |detail: String| S3Failure {
        op,
        target: format!("s3://{bucket}/{key}"),
        detail,
    };
    match err {
        SdkError::ServiceError(_) => {
            let status = err.raw_response().map(|r| r.status().as_u16());
            service_error(status, err.code(), err.message(), key, failure)
        }
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            StorageError::transient(STORE, failure(chain(err)))
        }
        // As the SDK's own classifier: I/O (refused, reset), timeouts, and "other"
        // failures the HTTP client marked retryable (a connection closed mid-response)
        // may pass; the rest (no credentials, a malformed endpoint) will not.
        SdkError::DispatchFailure(dispatch)
            if dispatch.is_io()
                || dispatch.is_timeout()
                || dispatch
                    .as_connector_error()
                    .is_some_and(|c| c.as_other().is_some()) =>
        {
            StorageError::transient(STORE, failure(chain(err)))
        }
        _ => StorageError::generic(STORE, failure(chain(err))),
    }
}

/// The messages of `err` and its sources, joined by `: ` (the SDK's own rendering adds
/// a `Debug` dump of the whole response).
pub(super) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let message = e.to_string();
        if !text.ends_with(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = e.source();
    }
    text
}

/// Classifies an error response by HTTP status and S3 error code.
fn service_error(
    status: Option<u16>,
    code: Option<&str>,
    message: Option<&str>,
    key: &str,
    failure: impl Fn(String) -> S3Failure,
) -> StorageError {
    let detail = match (code, message, status) {
        (Some(c), Some(m), Some(s)) => format!("{c}: {m} (HTTP {s})"),
        (Some(c), None, Some(s)) => format!("{c} (HTTP {s})"),
        (_, _, Some(s)) => format!("HTTP {s}"),
        _ => "unknown error".to_string(),
    };
    let path = key.to_string();
    match (status, code) {
        // HEAD responses have no body, hence no code: a bare 404 is a missing key.
        (_, Some("NoSuchKey" | "NotFound")) | (Some(404), None) => StorageError::NotFound { path },
        (Some(403), _) | (_, Some("AccessDenied")) => StorageError::PermissionDenied {
            path,
            message: detail,
        },
        (Some(412), _) => StorageError::Precondition {
            path,
            message: detail,
        },
        (Some(416), _) => StorageError::InvalidRange {
            path,
            message: detail,
        },
        (_, Some(c)) if TRANSIENT_CODES.contains(&c) => {
            StorageError::transient(STORE, failure(detail))
        }
        (Some(408 | 429 | 500..=599), _) => StorageError::transient(STORE, failure(detail)),
        _ => StorageError::generic(STORE, failure(detail)),
    }
}

/// S3 error codes that mean "try again".
const TRANSIENT_CODES: &[&str] = &[
    "SlowDown",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
    "Throttling",
    "ThrottlingException",
    "RequestTimeTooSkewed",
    // 409s: a concurrent conditional write or a conflicting operation in progress.
    "ConditionalRequestConflict",
    "OperationAborted",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn classify_status(status: Option<u16>, code: Option<&str>) -> StorageError {
        service_error(status, code, Some("msg"), "k", |detail| S3Failure {
            op: "Op",
            target: "s3://b/k".into(),
            detail,
        })
    }

    #[test]
    fn statuses_and_codes_map_to_semantic_errors() {
        assert!(classify_status(Some(404), Some("NoSuchKey")).is_not_found());
        assert!(classify_status(Some(404), None).is_not_found());
        // A missing bucket or upload is not a missing object.
        let e = classify_status(Some(404), Some("NoSuchBucket"));
        assert!(!e.is_not_found() && !e.is_retryable(), "{e}");
        assert!(matches!(
            classify_status(Some(403), Some("AccessDenied")),
            StorageError::PermissionDenied { .. }
        ));
        assert!(matches!(
            classify_status(Some(412), Some("PreconditionFailed")),
            StorageError::Precondition { .. }
        ));
        assert!(matches!(
            classify_status(Some(416), Some("InvalidRange")),
            StorageError::InvalidRange { .. }
        ));
        for (status, code) in [
            (503, Some("SlowDown")),
            (500, None),
            (429, None),
            (409, Some("ConditionalRequestConflict")),
            (400, Some("RequestTimeout")),
        ] {
            assert!(
                classify_status(Some(status), code).is_retryable(),
                "{status} {code:?}"
            );
        }
        assert!(!classify_status(Some(400), Some("InvalidArgument")).is_retryable());
    }

    #[test]
    fn chains_join_the_sources() {
        let inner = std::io::Error::other("connection refused");
        assert_eq!(
            chain(&ChainTest(inner)),
            "dispatch failure: connection refused"
        );
    }

    #[derive(Debug)]
    struct ChainTest(std::io::Error);

    impl std::fmt::Display for ChainTest {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("dispatch failure")
        }
    }

    impl std::error::Error for ChainTest {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn messages_name_the_operation_and_object() {
        let e = classify_status(Some(400), Some("InvalidArgument"));
        assert_eq!(
            e.to_string(),
            "S3: Op s3://b/k: InvalidArgument: msg (HTTP 400)"
        );
    }
}
