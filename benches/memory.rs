//! Memory and speed of `pgbm backup` and `pgbm restore` on a big table.
//!
//! ```sh
//! cargo bench -p pgbm-cli --bench memory                 # 2 GiB table
//! PGBM_BENCH_MIB=512 cargo bench -p pgbm-cli --bench memory
//! ```
//!
//! Fills a table with `PGBM_BENCH_MIB` MiB of COPY text (default 2048; rows of about
//! 1 KiB of hex digests, which zstd compresses about twofold), then runs, as child
//! processes sampled every 5 ms for their peak resident set size (`VmHWM`):
//!
//! * `pgbm backup` with 1 and with 4 jobs (zstd:3, into a local repository),
//! * `pgbm restore latest -j 4` into a fresh database (row count checked),
//! * `pg_dump -Fc` of the same database, when the cluster's bin directory has it, for
//!   the time ratio;
//! * with `PGBM_BENCH_S3=1`, also `pgbm backup -j 4` into and `pgbm restore -j 4` from
//!   an S3 repository on a local moto server (`pip install 'moto[server]'`), which
//!   adds the multipart upload's buffers to the picture.
//!
//! Prints a table and fails (exit 1) if a pgbm run peaks above 100 MiB. Linux only
//! (`/proc`). `PGBM_PG_BINDIR` picks the server, as for the tests.

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use pgbm_testing::s3::MotoServer;
use pgbm_testing::{PgCluster, TestDb};

/// Peak RSS allowed for a pgbm run: 100 MiB.
const LIMIT_KIB: u64 = 100 * 1024;
/// How often a child's status is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(5);
/// Bytes of COPY text per row (id, tab, 32 digests of 32 hex digits, newline).
const ROW_BYTES: u64 = 8 + 32 * 32;
/// Rows inserted per statement while filling the table (progress and WAL per batch).
const BATCH_ROWS: u64 = 250_000;

/// One measured run.
struct Run {
    what: String,
    peak_kib: u64,
    elapsed: Duration,
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; a filter argument is not supported here.
    let mib: u64 = std::env::var("PGBM_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2048);
    let rows = mib * 1024 * 1024 / ROW_BYTES;
    let cluster = PgCluster::shared();
    let src = cluster.fresh_db("bench_src");
    eprintln!("filling a table with {rows} rows (~{mib} MiB of COPY text)...");
    let started = Instant::now();
    fill(&src, rows);
    eprintln!("filled in {:.0?}", started.elapsed());

    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    let repo = repo.to_str().expect("UTF-8 path");
    let mut runs = Vec::new();
    for jobs in ["1", "4"] {
        let mut cmd = pgbm();
        cmd.args(["backup", &src.conninfo(), "--repo", repo, "-j", jobs]);
        runs.push(measure(cmd, &format!("pgbm backup -j {jobs}")));
    }
    let archive_bytes = archive_size(&Path::new(repo).join("backups"));

    let dst = cluster.fresh_db("bench_dst");
    let mut cmd = pgbm();
    cmd.args([
        "restore",
        "latest",
        "--repo",
        repo,
        "-j",
        "4",
        "-d",
        &dst.conninfo(),
    ]);
    runs.push(measure(cmd, "pgbm restore -j 4"));
    let restored = query_i64(&dst, "SELECT count(*) FROM big");
    assert_eq!(restored, i64::try_from(rows).ok(), "restored row count");

    if std::env::var("PGBM_BENCH_S3").is_ok_and(|v| v == "1") {
        s3_runs(&src, rows, &mut runs);
    }

    let pg_dump = cluster.tool("pg_dump");
    if let Some(pg_dump) = &pg_dump {
        let file = dir.path().join("dump.fc");
        let mut cmd = Command::new(pg_dump);
        cmd.args(["-Fc", "-f"])
            .arg(&file)
            .args(["-d", &src.conninfo()]);
        runs.push(measure(cmd, "pg_dump -Fc"));
        eprintln!(
            "pg_dump -Fc file: {} MiB",
            std::fs::metadata(&file).map_or(0, |m| m.len()) / (1024 * 1024)
        );
    } else {
        eprintln!(
            "no pg_dump in {}: no time ratio",
            cluster.bindir().display()
        );
    }
    report(&runs, mib, archive_bytes, pg_dump.is_some())
}

/// Backup into and restore from an S3 repository on a local moto server.
fn s3_runs(src: &TestDb, rows: u64, runs: &mut Vec<Run>) {
    let moto = MotoServer::shared();
    let repo = format!("s3://{}/bench", moto.create_bucket("bench"));
    let s3 = |mut cmd: Command| {
        cmd.env("AWS_ENDPOINT_URL", moto.endpoint())
            .env("AWS_ACCESS_KEY_ID", "bench")
            .env("AWS_SECRET_ACCESS_KEY", "bench")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
        cmd
    };
    let mut cmd = pgbm();
    cmd.args(["backup", &src.conninfo(), "--repo", &repo, "-j", "4"]);
    runs.push(measure(s3(cmd), "pgbm backup -j 4 (S3)"));
    let dst = PgCluster::shared().fresh_db("bench_s3_dst");
    let mut cmd = pgbm();
    cmd.args([
        "restore",
        "latest",
        "--repo",
        &repo,
        "-j",
        "4",
        "-d",
        &dst.conninfo(),
    ]);
    runs.push(measure(s3(cmd), "pgbm restore -j 4 (S3)"));
    let restored = query_i64(&dst, "SELECT count(*) FROM big");
    assert_eq!(
        restored,
        i64::try_from(rows).ok(),
        "restored row count (S3)"
    );
}

/// Prints the table; fails if a pgbm run went over the limit.
fn report(runs: &[Run], mib: u64, archive_bytes: u64, with_pg_dump: bool) -> ExitCode {
    println!(
        "\n{mib} MiB of table data; pgbm archive {} MiB (zstd:3)\n",
        archive_bytes / (1024 * 1024)
    );
    println!(
        "{:<22} {:>14} {:>10} {:>10}",
        "run", "peak RSS", "time", "MiB/s"
    );
    for r in runs {
        let rate = mib as f64 / r.elapsed.as_secs_f64();
        println!(
            "{:<27} {:>10} KiB {:>9.1}s {:>10.0}",
            r.what,
            r.peak_kib,
            r.elapsed.as_secs_f64(),
            rate
        );
    }
    if with_pg_dump {
        let pg = runs
            .iter()
            .find(|r| r.what == "pg_dump -Fc")
            .expect("pg_dump ran")
            .elapsed
            .as_secs_f64();
        for r in runs.iter().filter(|r| r.what.starts_with("pgbm backup")) {
            println!(
                "{} / pg_dump -Fc time: {:.2}",
                r.what,
                r.elapsed.as_secs_f64() / pg
            );
        }
    }
    let over: Vec<&Run> = runs
        .iter()
        .filter(|r| r.what.starts_with("pgbm") && r.peak_kib > LIMIT_KIB)
        .collect();
    if over.is_empty() {
        println!("every pgbm run stayed under {} MiB", LIMIT_KIB / 1024);
        ExitCode::SUCCESS
    } else {
        for r in over {
            println!("FAIL: {} peaked at {} KiB", r.what, r.peak_kib);
        }
        ExitCode::FAILURE
    }
}

/// Creates `big` with `rows` rows of ~1 KiB each, in batches.
fn fill(db: &TestDb, rows: u64) {
    db.execute_sql_blocking("CREATE TABLE big (id bigint, payload text)");
    let digests: Vec<String> = (0..32)
        .map(|i| format!("md5((g * 32 + {i})::text)"))
        .collect();
    let mut done = 0;
    while done < rows {
        let n = BATCH_ROWS.min(rows - done);
        db.execute_sql_blocking(&format!(
            "INSERT INTO big SELECT g, {} FROM generate_series({}, {}) g",
            digests.join(" || "),
            done + 1,
            done + n
        ));
        done += n;
        eprint!("\r  {done}/{rows} rows");
    }
    eprintln!();
    db.execute_sql_blocking("VACUUM ANALYZE big");
}

/// `pgbm` with no inherited `PG*` or `RUST_LOG`, quiet.
fn pgbm() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgbm"));
    for (name, _) in std::env::vars_os() {
        let text = name.to_string_lossy();
        if text.starts_with("PG") || text == "RUST_LOG" {
            cmd.env_remove(&name);
        }
    }
    cmd.arg("-q");
    cmd
}

/// Runs `cmd` to completion (it must succeed), sampling its peak RSS.
fn measure(mut cmd: Command, what: &str) -> Run {
    eprintln!("running {what}...");
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let status = loop {
        if let Some(hwm) = read_vm_hwm(Path::new(&status_path)) {
            peak = peak.max(hwm);
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
    Run {
        what: what.to_string(),
        peak_kib: peak,
        elapsed,
    }
}

/// `VmHWM` (KiB) of a `/proc/PID/status` file; `None` once the process is gone.
fn read_vm_hwm(status_path: &Path) -> Option<u64> {
    let status = std::fs::read_to_string(status_path).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Size of the largest archive in `dir` (the backups differ only in their jobs).
fn archive_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "pgbm"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// One `bigint` from a query.
fn query_i64(db: &TestDb, sql: &str) -> Option<i64> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let client = db.client().await;
        client
            .query_one(sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
            .get(0)
    })
}
