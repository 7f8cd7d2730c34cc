//! The watchdog stops and deletes a cluster after its test process is gone, however it
//! went: `pgbm-testing-hold` starts a cluster, prints where it is and leaves.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::time::Duration;

use crate::wait_until_gone;

/// What the hold binary printed.
struct Held {
    port: u16,
    pid: u32,
    root: PathBuf,
}

/// Runs the hold binary in `mode`; returns its cluster and how it exited.
fn hold(mode: &str) -> (Held, ExitStatus) {
    let out = Command::new(env!("CARGO_BIN_EXE_pgbm-testing-hold"))
        .arg(mode)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("port="))
        .unwrap_or_else(|| {
            panic!(
                "hold {mode} printed no cluster ({}):\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let field = |key: &str| {
        line.split(' ')
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key} in {line:?}"))
            .to_string()
    };
    let held = Held {
        port: field("port").parse().unwrap(),
        pid: field("pid").parse().unwrap(),
        root: PathBuf::from(field("root")),
    };
    (held, out.status)
}

/// Runs `mode` and checks that the cluster is gone soon after (the watchdog polls 5×/s).
fn check(mode: &str, expect_status: impl Fn(ExitStatus) -> bool) {
    let (held, status) = hold(mode);
    assert!(expect_status(status), "hold {mode} exited with {status}");
    wait_until_gone(held.port, held.pid, &held.root, Duration::from_secs(20))
        .unwrap_or_else(|left| panic!("after `hold {mode}` exited: {left}"));
}

#[test]
fn shared_cluster_is_cleaned_up_after_process_exit() {
    check("exit", |s| s.success());
}

#[test]
fn shared_cluster_is_cleaned_up_after_a_panic() {
    check("panic", |s| s.code() == Some(101));
}

#[test]
fn private_cluster_is_cleaned_up_after_an_abort() {
    check("abort", |s| s.signal() == Some(6));
}
