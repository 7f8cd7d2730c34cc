//! Unique names for databases and roles, and a little randomness.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// PostgreSQL truncates identifiers longer than this many bytes.
const MAX_IDENTIFIER: usize = 63;

/// A name no other call in this process returns: `prefix` made a plain lower-case
/// identifier, then `_N`.
///
/// Plain identifiers (`[a-z_][a-z0-9_]*`) need no quoting in SQL, conninfo strings or
/// URIs, which keeps test code free of escaping. Clusters belong to one process, so a
/// process-wide counter is enough to be unique within a cluster.
pub(crate) fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let suffix = format!("_{n}");
    let mut base: String = prefix
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_') => c,
            _ => '_',
        })
        .collect();
    if !base.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') {
        base.insert(0, 't');
    }
    base.truncate(MAX_IDENTIFIER - suffix.len());
    base + &suffix
}

/// 64 pseudo-random bits, different across processes and calls.
///
/// `RandomState` is seeded randomly per process; mixing in the pid, a counter and the
/// clock adds variety without a rand dependency. Not for cryptography.
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_identifiers_and_unique() {
        let a = unique_name("Dump-Test.1");
        let b = unique_name("Dump-Test.1");
        assert_ne!(a, b);
        assert!(a.starts_with("dump_test_1_"), "{a}");
        assert!(unique_name("9lives").starts_with("t9lives_"));
        let long = unique_name(&"x".repeat(100));
        assert!(long.len() <= MAX_IDENTIFIER, "{long}");
    }

    #[test]
    fn random_values_vary() {
        assert_ne!(random_u64(), random_u64());
    }
}
