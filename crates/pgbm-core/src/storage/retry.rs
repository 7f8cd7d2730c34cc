//! Retrying transient failures: the [`Backoff`] policy and the [`RetryStorage`]
//! decorator.
//!
//! Only errors that say so ([`StorageError::is_retryable`]: timeouts, throttling, 5xx,
//! dropped connections) are retried, with exponential backoff and jitter so that many
//! clients do not retry in lockstep. The S3 backend uses the same policy for each part
//! of a multipart upload (the SDK's own retries are off, so attempts do not multiply).
//!
//! What is retried by the decorator: whole requests. A read stream that breaks midway
//! is not resumed; the caller sees the error (a ranged re-read is the fix, and the
//! archive reader knows which range it needs).
//!
//! A retried [`PutMode::Create`](super::PutMode::Create) whose first attempt did land
//! answers [`StorageError::AlreadyExists`]: callers of conditional creates (locks) put
//! a unique id in the payload and read it back to tell "mine" from "theirs".

use std::fmt;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::error::Result;
#[cfg(test)]
use super::error::StorageError;
use super::{
    Capabilities, GetOptions, GetResult, MultipartUpload, ObjectMeta, PutOptions, PutResult,
    Storage,
};

/// How often and how patiently to retry: attempt `n` (from 0) waits
/// `min(initial_delay * 2^n, max_delay)`, of which a random half is jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Backoff {
    /// Attempts in all, the first included (1 means no retry).
    pub max_attempts: u32,
    /// Wait before the first retry.
    pub initial_delay: Duration,
    /// Longest wait between attempts.
    pub max_delay: Duration,
}

impl Default for Backoff {
    /// 6 attempts over about 6 seconds at most: rides out throttling and a restarting
    /// endpoint without hiding an outage for long.
    fn default() -> Self {
        Backoff {
            max_attempts: 6,
            initial_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl Backoff {
    /// A policy of `max_attempts` attempts starting at `initial_delay`, at most
    /// `max_delay` apart.
    pub fn new(max_attempts: u32, initial_delay: Duration, max_delay: Duration) -> Self {
        Backoff {
            max_attempts: max_attempts.max(1),
            initial_delay,
            max_delay,
        }
    }

    /// No retries at all.
    pub fn none() -> Self {
        Backoff::new(1, Duration::ZERO, Duration::ZERO)
    }

    /// The longest wait after failed attempt `n` (0-based), before jitter.
    pub fn ceiling(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n).unwrap_or(u32::MAX);
        self.initial_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// The wait after failed attempt `n`: between half the ceiling and the ceiling.
    fn delay(&self, n: u32) -> Duration {
        let ceiling = self.ceiling(n);
        let half = ceiling / 2;
        half + half.mul_f64(random_fraction())
    }

    /// Runs `op` until it succeeds, fails permanently, or attempts run out.
    ///
    /// `what` and `path` name the operation in the log line of each retry.
    pub(crate) async fn run<T, F, Fut>(&self, what: &str, path: &str, mut op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut attempt = 0;
        loop {
            match op().await {
                Err(e) if e.is_retryable() && attempt + 1 < self.max_attempts => {
                    let delay = self.delay(attempt);
                    tracing::warn!(
                        "{what} {path}: {e}; retrying in {delay:?} (attempt {} of {})",
                        attempt + 2,
                        self.max_attempts
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }
}

/// A uniform random number in `[0, 1)`; 0.5 if the OS has no randomness.
fn random_fraction() -> f64 {
    let mut bytes = [0u8; 4];
    if getrandom::getrandom(&mut bytes).is_err() {
        return 0.5;
    }
    f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}

/// A store that retries the transient failures of `inner` as [`Backoff`] says.
#[derive(Debug, Clone)]
pub struct RetryStorage<S> {
    inner: S,
    backoff: Backoff,
}

impl<S: Storage> RetryStorage<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, backoff: Backoff) -> Self {
        RetryStorage { inner, backoff }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: Storage> fmt::Display for RetryStorage<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

#[async_trait]
impl<S: Storage> Storage for RetryStorage<S> {
    async fn put_opts(&self, path: &str, payload: Bytes, opts: PutOptions) -> Result<PutResult> {
        self.backoff
            .run("put", path, || {
                self.inner.put_opts(path, payload.clone(), opts.clone())
            })
            .await
    }

    async fn put_multipart(&self, path: &str) -> Result<Box<dyn MultipartUpload>> {
        self.backoff
            .run("start upload", path, || self.inner.put_multipart(path))
            .await
    }

    async fn get_opts(&self, path: &str, opts: GetOptions) -> Result<GetResult> {
        self.backoff
            .run("get", path, || self.inner.get_opts(path, opts.clone()))
            .await
    }

    async fn head(&self, path: &str) -> Result<ObjectMeta> {
        self.backoff
            .run("head", path, || self.inner.head(path))
            .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        self.backoff
            .run("list", prefix, || self.inner.list(prefix))
            .await
    }

    async fn delete(&self, path: &str) -> Result<()> {
        self.backoff
            .run("delete", path, || self.inner.delete(path))
            .await
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A store whose `head` fails with `error()` for the first `failures` calls.
    #[derive(Debug)]
    struct Flaky {
        failures: u32,
        calls: AtomicU32,
        error: fn() -> StorageError,
    }

    impl fmt::Display for Flaky {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("flaky://")
        }
    }

    #[async_trait]
    impl Storage for Flaky {
        async fn put_opts(&self, _: &str, _: Bytes, _: PutOptions) -> Result<PutResult> {
            unreachable!("not used by these tests")
        }
        async fn put_multipart(&self, _: &str) -> Result<Box<dyn MultipartUpload>> {
            unreachable!("not used by these tests")
        }
        async fn get_opts(&self, _: &str, _: GetOptions) -> Result<GetResult> {
            unreachable!("not used by these tests")
        }
        async fn head(&self, path: &str) -> Result<ObjectMeta> {
            if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
                return Err((self.error)());
            }
            Ok(ObjectMeta::new(path, 1, std::time::SystemTime::UNIX_EPOCH))
        }
        async fn list(&self, _: &str) -> Result<Vec<ObjectMeta>> {
            unreachable!("not used by these tests")
        }
        async fn delete(&self, _: &str) -> Result<()> {
            unreachable!("not used by these tests")
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::full(1)
        }
    }

    fn flaky(failures: u32, error: fn() -> StorageError) -> RetryStorage<Flaky> {
        let backoff = Backoff::new(4, Duration::from_millis(1), Duration::from_millis(2));
        RetryStorage::new(
            Flaky {
                failures,
                calls: AtomicU32::new(0),
                error,
            },
            backoff,
        )
    }

    fn slow_down() -> StorageError {
        StorageError::transient("test", "slow down")
    }

    fn forbidden() -> StorageError {
        StorageError::PermissionDenied {
            path: "k".into(),
            message: "no".into(),
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_success() {
        let store = flaky(3, slow_down);
        assert_eq!(store.head("k").await.unwrap().path, "k");
        assert_eq!(store.inner().calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn attempts_are_limited() {
        let store = flaky(10, slow_down);
        assert!(store.head("k").await.unwrap_err().is_retryable());
        assert_eq!(store.inner().calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn permanent_failures_are_not_retried() {
        let store = flaky(10, forbidden);
        let err = store.head("k").await.unwrap_err();
        assert!(
            matches!(err, StorageError::PermissionDenied { .. }),
            "{err}"
        );
        assert_eq!(store.inner().calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn delays_grow_exponentially_up_to_the_cap() {
        let b = Backoff::new(10, Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(b.ceiling(0), Duration::from_millis(100));
        assert_eq!(b.ceiling(1), Duration::from_millis(200));
        assert_eq!(b.ceiling(3), Duration::from_millis(800));
        assert_eq!(b.ceiling(4), Duration::from_secs(1));
        assert_eq!(b.ceiling(40), Duration::from_secs(1));
        for n in 0..6 {
            let d = b.delay(n);
            assert!(d >= b.ceiling(n) / 2 && d <= b.ceiling(n), "{n}: {d:?}");
        }
    }
}
