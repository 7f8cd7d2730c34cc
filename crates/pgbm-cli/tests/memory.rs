//! Memory bound: dumping and restoring a ~300 MB table must not need memory in
//! proportion to the data. Runs `pgbm dump -f` and `pgbm restore` as child processes
//! and samples their peak resident set size (`VmHWM` in `/proc/PID/status`) while they
//! run; both must stay under [`PEAK_RSS_LIMIT_KIB`].

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pgbm_testing::PgCluster;
use support::{pgbm_process, query_i64};

/// Rows of the test table; each row is about 970 bytes of COPY text, so ~310 MB.
const ROWS: i64 = 320_000;

/// The smallest dump that makes the test meaningful: several times the memory limit.
const MIN_DUMP_BYTES: u64 = 280 * 1024 * 1024;

/// Peak RSS allowed for either process: 100 MiB.
const PEAK_RSS_LIMIT_KIB: u64 = 100 * 1024;

/// How often the child's status is sampled. `VmHWM` is a high-water mark kept by the
/// kernel, so sampling only risks missing growth in the last interval before exit.
const SAMPLE_EVERY: Duration = Duration::from_millis(5);

#[test]
fn dump_and_restore_of_300_mb_stay_under_100_mib() {
    let cluster = PgCluster::shared();
    let src = cluster.fresh_db("mem_src");
    src.execute_sql_blocking(&format!(
        "CREATE TABLE big (id int PRIMARY KEY, payload text);
         INSERT INTO big SELECT g, repeat(md5(g::text), 30) FROM generate_series(1, {ROWS}) g;"
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("big.sql");

    let mut dump = pgbm_process();
    dump.args(["dump", "-d", &src.conninfo(), "-f"]).arg(&file);
    let (dump_peak, dump_time) = run_measured(dump, "pgbm dump");
    let size = std::fs::metadata(&file).expect("dump file").len();
    assert!(
        size >= MIN_DUMP_BYTES,
        "the dump is only {size} bytes: too small to test the memory bound"
    );

    let dst = cluster.fresh_db("mem_dst");
    let mut restore = pgbm_process();
    restore.args(["restore", "-d", &dst.conninfo()]).arg(&file);
    let (restore_peak, restore_time) = run_measured(restore, "pgbm restore");

    eprintln!(
        "dump of {} MiB: peak RSS {} KiB in {dump_time:.1?}; restore: peak RSS {} KiB in {restore_time:.1?}",
        size / (1024 * 1024),
        dump_peak,
        restore_peak
    );
    assert!(
        dump_peak < PEAK_RSS_LIMIT_KIB,
        "pgbm dump peaked at {dump_peak} KiB"
    );
    assert!(
        restore_peak < PEAK_RSS_LIMIT_KIB,
        "pgbm restore peaked at {restore_peak} KiB"
    );
    let count = "SELECT count(*) FROM big";
    assert_eq!(query_i64(&dst, count), Some(ROWS));
    let checksum = "SELECT sum(hashtext(payload)::bigint + id)::bigint FROM big";
    assert_eq!(query_i64(&dst, checksum), query_i64(&src, checksum));
}

/// The sampling itself: `dd` with a 150 MiB block touches all of it, and that must show.
#[test]
fn sampling_sees_the_peak_of_a_child() {
    let mut dd = Command::new("dd");
    dd.args(["if=/dev/zero", "of=/dev/null", "bs=150M", "count=2"]);
    let (peak, _) = run_measured(dd, "dd");
    assert!(peak > 140 * 1024, "dd peaked at only {peak} KiB");
}

/// Runs `cmd` to completion, asserting success, and returns its peak RSS in KiB and
/// how long it ran.
fn run_measured(mut cmd: Command, what: &str) -> (u64, Duration) {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak: Option<u64> = None;
    let status = loop {
        // Read before checking for exit, so the last sample is as late as possible.
        if let Some(hwm) = read_vm_hwm(Path::new(&status_path)) {
            peak = Some(peak.map_or(hwm, |p| p.max(hwm)));
        }
        if let Some(status) = child.try_wait().expect("wait for child") {
            break status;
        }
        std::thread::sleep(SAMPLE_EVERY);
    };
    let elapsed = started.elapsed();
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        std::io::Read::read_to_string(&mut pipe, &mut stderr).expect("read stderr");
    }
    assert!(status.success(), "{what} failed ({status}):\n{stderr}");
    let peak = peak.unwrap_or_else(|| panic!("never sampled the memory of {what}"));
    (peak, elapsed)
}

/// `VmHWM` (peak resident set size, KiB) from a `/proc/PID/status` file; `None` once
/// the process is gone or has become a zombie (which has no memory to report).
fn read_vm_hwm(status_path: &Path) -> Option<u64> {
    let status = std::fs::read_to_string(status_path).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
