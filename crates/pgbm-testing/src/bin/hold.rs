//! Starts a cluster, prints where it is, then leaves without stopping it.
//!
//! Used by the watchdog test (`tests/it/watchdog.rs`): once this process is gone, the
//! cluster's watchdog must stop the server and delete its directory. The argument says
//! how to leave:
//!
//! - `exit`: shared cluster, then `std::process::exit(0)` (statics are never dropped);
//! - `panic`: shared cluster, then a panic out of `main` (exit status 101);
//! - `abort`: private cluster, then `std::process::abort()` (no unwinding, no Drop).
//!
//! It prints one line: `port=PORT pid=POSTMASTER_PID root=CLUSTER_DIR`.

use std::io::Write;

use pgbm_testing::PgCluster;

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    match mode.as_str() {
        "exit" => {
            report(PgCluster::shared());
            std::process::exit(0);
        }
        "panic" => {
            report(PgCluster::shared());
            panic!("leaving by panic, as asked");
        }
        "abort" => {
            let cluster = PgCluster::start();
            report(&cluster);
            std::process::abort();
        }
        other => {
            eprintln!("usage: pgbm-testing-hold exit|panic|abort (got {other:?})");
            std::process::exit(2);
        }
    }
}

/// Prints the line the watchdog test parses.
fn report(cluster: &PgCluster) {
    let pid = cluster.postmaster_pid().expect("server is running");
    let root = cluster.data_dir().parent().expect("data dir has a parent");
    println!("port={} pid={pid} root={}", cluster.port(), root.display());
    std::io::stdout().flush().expect("flush stdout");
}
