//! Tests of the harness itself, against real clusters.

mod auth;
mod cluster;
mod tls;
mod tools;
mod versions;
mod watchdog;

use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(
        &(Ipv4Addr::LOCALHOST, port).into(),
        Duration::from_millis(500),
    )
    .is_ok()
}

/// Whether process `pid` exists and is not a zombie (an unreaped dead process).
fn process_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state letter follows the command name, which is in parentheses.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

/// Waits up to `limit` for a cluster to be fully gone: no server, no port, no files.
/// Returns what is still there when the time is up.
fn wait_until_gone(port: u16, pid: u32, root: &Path, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        let mut left = Vec::new();
        if port_open(port) {
            left.push(format!("port {port} open"));
        }
        if process_alive(pid) {
            left.push(format!("postmaster {pid} alive"));
        }
        if root.exists() {
            left.push(format!("{} exists", root.display()));
        }
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(left.join(", "));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
