//! Choosing a free TCP port for a cluster.
//!
//! Ports are drawn at random from a range below Linux's ephemeral range (32768-60999), so
//! the kernel does not hand the same port to an outgoing connection, and concurrently
//! running test binaries rarely draw the same one. A bind probe rejects ports in use; the
//! small window between the probe and the server's own bind is covered by the caller,
//! which retries with another port when the server reports "Address already in use".

use std::net::{Ipv4Addr, TcpListener};

use crate::names::random_u64;

/// First port drawn (inclusive).
const FIRST: u16 = 20_000;
/// Last port drawn (exclusive); the ephemeral range starts at 32768.
const LAST: u16 = 32_000;
/// Probes before giving up: only a machine with thousands of busy ports gets there.
const PROBES: usize = 200;

/// A port on 127.0.0.1 that nothing was listening on a moment ago.
///
/// # Panics
/// When every probe finds the port taken.
pub(crate) fn free_port() -> u16 {
    (0..PROBES)
        .map(|_| random_port())
        .find(|&port| TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok())
        .unwrap_or_else(|| panic!("no free TCP port on 127.0.0.1 in {FIRST}..{LAST}"))
}

/// A pseudo-random port in `FIRST..LAST`.
fn random_port() -> u16 {
    let span = u64::from(LAST - FIRST);
    FIRST + u16::try_from(random_u64() % span).expect("span fits in u16")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_in_range_and_vary() {
        let ports: std::collections::HashSet<u16> = (0..50).map(|_| random_port()).collect();
        assert!(ports.iter().all(|p| (FIRST..LAST).contains(p)));
        assert!(ports.len() > 10, "draws barely vary: {ports:?}");
    }

    #[test]
    fn a_bound_port_is_not_offered() {
        let port = free_port();
        let _held = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
        // Probing the held port must fail, so free_port never returns it while held.
        assert!(TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err());
        assert_ne!(free_port(), port);
    }
}
