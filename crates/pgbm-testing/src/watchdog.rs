//! The watchdog: stops a cluster and deletes its files once the test process is gone.
//!
//! Statics are never dropped, so the shared cluster cannot stop itself; and a test binary
//! can die without unwinding (panic=abort, SIGKILL, `process::exit`). Instead, each cluster
//! gets a tiny `sh` loop that polls the test process with `kill -0`; when it is gone, the
//! loop runs `pg_ctl stop -m immediate` (as the server's user) and `rm -rf` on the cluster's
//! directory. A dropped private cluster kills its watchdog first and cleans up itself.
//!
//! The watchdog gets its own process group so that Ctrl-C on the test run (which signals
//! the terminal's foreground group) does not kill it before it has cleaned up; pg_ctl
//! already puts the server in a session of its own.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::privilege::Runner;

/// How often the watchdog looks for the test process, in seconds.
const POLL_SECONDS: &str = "0.2";

/// The loop; arguments: poll interval, pid to watch, directory to delete, data directory,
/// then the argv that runs pg_ctl.
const SCRIPT: &str = r#"
interval=$1; pid=$2; root=$3; data=$4; shift 4
while kill -0 "$pid" 2>/dev/null; do sleep "$interval"; done
"$@" -D "$data" -m immediate -w stop >/dev/null 2>&1
rm -rf "$root"
"#;

/// Starts a watchdog for the cluster in `root` whose data directory is `data`.
pub(crate) fn spawn(root: &Path, data: &Path, pg_ctl: &Path, runner: &Runner) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("pgbm-testing-watchdog") // $0, shown by ps
        .arg(POLL_SECONDS)
        .arg(std::process::id().to_string())
        .arg(root)
        .arg(data)
        .args(runner.argv(pg_ctl))
        .process_group(0)
        // Holding the test's stdout/stderr open would make whoever reads them (cargo, a
        // pipe in CI) wait for the watchdog too.
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the cluster watchdog (`sh`): {e}"))
}
