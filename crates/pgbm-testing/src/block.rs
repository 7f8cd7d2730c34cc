//! Running async client code from synchronous harness functions.
//!
//! Functions like [`crate::PgCluster::fresh_db`] are synchronous so that both plain
//! `#[test]`s (CLI tests) and `#[tokio::test]`s can call them. Blocking on a future inside
//! a tokio runtime panics, so the future runs on a private current-thread runtime in a
//! scoped thread; the calling thread just waits for it.

use std::future::Future;

/// Runs `fut` to completion on a fresh runtime in another thread and returns its output.
///
/// Panics inside `fut` propagate to the caller with their original payload.
pub(crate) fn block_on<F>(fut: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cannot build a tokio runtime")
                .block_on(fut)
        });
        worker
            .join()
            .unwrap_or_else(|payload| std::panic::resume_unwind(payload))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn works_outside_a_runtime() {
        assert_eq!(block_on(async { 40 + 2 }), 42);
    }

    #[tokio::test]
    async fn works_inside_a_runtime() {
        let s = String::from("borrowed");
        assert_eq!(block_on(async { s.len() }), 8);
    }
}
