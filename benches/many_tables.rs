//! Benchmark: dumping a database of many small tables, pgbm against pg_dump.
//!
//! Issue 3 asks that 10,000 tables with indexes and constraints dump in less time than
//! pg_dump takes on the same database. This starts a throwaway cluster, builds such a
//! database (see [`pgbm_benches::many_tables_sql`]), then times alternating runs of pgbm's
//! dump (in process, through `pgbm_core::dump`) and `pg_dump -f FILE`, both writing the
//! plain format to a file, and prints the medians and their ratio. Alternating runs share
//! whatever the machine is doing, so the ratio is fairer than either figure alone.
//!
//! Settings (environment):
//! - `PGBM_BENCH_TABLES`: how many tables (default 10000).
//! - `PGBM_BENCH_REPS`: timed runs of each tool (default 3), after one untimed warm-up each.
//! - `PGBM_BENCH_MAJOR`: PostgreSQL major to run (default: the harness's, Debian's 15), with
//!   pg_dump of that major.
//! - `PGBM_BENCH_CLI`: path of a release `pgbm` binary to time as well (`pgbm dump -f`).
//!
//! It exits non-zero only when something fails to run, never because of a slow ratio:
//! timings are figures to record, not assertions.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pgbm_benches::{many_tables_sql, median, samples, seconds};
use pgbm_core::DumpOptions;
use pgbm_testing::{find_bindir, require_bindir, ClusterOptions, PgCluster, TestDb};
use tokio::io::AsyncWriteExt;
use tokio::runtime::Runtime;

/// Tables created per round trip while building the database: big enough to be quick,
/// small enough that one transaction's locks fit the lock table.
const TABLES_PER_BATCH: usize = 250;

/// What to run, from the environment.
struct Config {
    tables: usize,
    reps: usize,
    major: Option<u32>,
    cli: Option<PathBuf>,
}

impl Config {
    fn from_env() -> Config {
        Config {
            tables: env_number("PGBM_BENCH_TABLES").unwrap_or(10_000),
            reps: env_number("PGBM_BENCH_REPS").unwrap_or(3).max(1),
            major: env_number("PGBM_BENCH_MAJOR"),
            cli: std::env::var_os("PGBM_BENCH_CLI")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        }
    }
}

/// The number in environment variable `name`, if set.
///
/// # Panics
/// When it is set to something that is not a number.
fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    let value = std::env::var(name).ok().filter(|v| !v.is_empty())?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
    )
}

fn main() {
    let config = Config::from_env();
    // `cargo bench` passes `--bench`; a plain `cargo test --benches` run passes nothing
    // and should not spend minutes here.
    if !std::env::args().any(|a| a == "--bench") {
        println!("many_tables: run with `cargo bench -p pgbm-benches --bench many_tables`");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("cannot build a tokio runtime");

    let cluster = start_cluster(&config);
    let pg_dump = cluster.tool("pg_dump").unwrap_or_else(|| {
        panic!(
            "no pg_dump of PostgreSQL {} is installed (scripts/install-postgres.sh, or \
             `apt-get install -y postgresql-client-15`)",
            cluster.version()
        )
    });
    if let Some(cli) = &config.cli {
        assert!(cli.is_file(), "PGBM_BENCH_CLI={} is no file", cli.display());
    }
    println!(
        "many_tables: PostgreSQL {} ({}), pg_dump {}",
        cluster.server_version_num(),
        cluster.bindir().display(),
        pg_dump.display()
    );

    let db = cluster.fresh_db("bench_many_tables");
    let started = Instant::now();
    build_database(&runtime, &db, config.tables);
    println!(
        "built {} tables in {}",
        config.tables,
        seconds(started.elapsed())
    );

    let dir = tempfile::tempdir().expect("cannot create a temporary directory");
    let results = time_tools(&config, &runtime, &cluster, &db, &pg_dump, dir.path());
    report(&config, &cluster, &results);
}

/// Starts a private cluster of the requested major, with a lock table big enough for a
/// dump that locks every table in one transaction.
fn start_cluster(config: &Config) -> PgCluster {
    let bindir = config.major.map_or_else(find_bindir, require_bindir);
    // The lock table holds max_locks_per_transaction × max_connections (200) locks.
    let locks = (config.tables / 50).max(256);
    let cluster = PgCluster::start_with(ClusterOptions {
        bindir: Some(bindir),
        settings: vec![("max_locks_per_transaction".into(), locks.to_string())],
        ..ClusterOptions::default()
    });
    if let Some(major) = config.major {
        assert_eq!(cluster.version(), major, "PGBM_BENCH_MAJOR={major}");
    }
    cluster
}

/// Creates the benchmark tables in batches, then VACUUM ANALYZE so both tools see a
/// settled catalog.
///
/// Each batch runs on a new connection: a backend that has created thousands of tables
/// gets slower with every one (its caches grow), which made one connection for all
/// 10,000 tables take minutes.
fn build_database(runtime: &Runtime, db: &TestDb, tables: usize) {
    runtime.block_on(async {
        for start in (0..tables).step_by(TABLES_PER_BATCH) {
            let end = (start + TABLES_PER_BATCH).min(tables);
            db.client()
                .await
                .batch_execute(&many_tables_sql(start, end))
                .await
                .unwrap_or_else(|e| panic!("creating tables {start}..{end}: {e}"));
        }
        db.client()
            .await
            .batch_execute("VACUUM ANALYZE")
            .await
            .unwrap_or_else(|e| panic!("VACUUM ANALYZE: {e}"));
    });
}

/// One tool's timed runs and the size of its last dump.
struct Timings {
    name: &'static str,
    runs: Vec<Duration>,
    bytes: u64,
}

/// Times each tool `reps` times, alternating, after one untimed warm-up run each.
fn time_tools(
    config: &Config,
    runtime: &Runtime,
    cluster: &PgCluster,
    db: &TestDb,
    pg_dump: &Path,
    dir: &Path,
) -> Vec<Timings> {
    let pgbm_file = dir.join("pgbm.sql");
    let pg_dump_file = dir.join("pg_dump.sql");
    let cli_file = dir.join("pgbm-cli.sql");
    let mut tools: Vec<(Timings, Box<dyn Fn() -> Duration + '_>)> = vec![
        (
            timings("pgbm (in process)"),
            Box::new(|| pgbm_in_process(runtime, db, &pgbm_file)),
        ),
        (
            timings("pg_dump"),
            Box::new(|| run_timed(pg_dump_command(cluster, db, pg_dump, &pg_dump_file))),
        ),
    ];
    if let Some(cli) = &config.cli {
        tools.push((
            timings("pgbm (CLI)"),
            Box::new(|| run_timed(cli_command(cli, db, &cli_file))),
        ));
    }
    for (_, run) in &tools {
        run();
    }
    for rep in 1..=config.reps {
        for (t, run) in &mut tools {
            let d = run();
            println!("  run {rep}: {:<18} {}", t.name, seconds(d));
            t.runs.push(d);
        }
    }
    let files = [&pgbm_file, &pg_dump_file, &cli_file];
    tools
        .into_iter()
        .zip(files)
        .map(|((mut t, _), file)| {
            t.bytes = std::fs::metadata(file).map_or(0, |m| m.len());
            t
        })
        .collect()
}

fn timings(name: &'static str) -> Timings {
    Timings {
        name,
        runs: Vec::new(),
        bytes: 0,
    }
}

/// One pgbm dump through the library, into a file.
fn pgbm_in_process(runtime: &Runtime, db: &TestDb, file: &Path) -> Duration {
    let conn = db.conn_options();
    runtime.block_on(async {
        let started = Instant::now();
        let mut out = tokio::fs::File::create(file)
            .await
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", file.display()));
        pgbm_core::dump(&conn, &DumpOptions::default(), &mut out)
            .await
            .unwrap_or_else(|e| panic!("pgbm dump failed: {e}"));
        out.flush()
            .await
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", file.display()));
        started.elapsed()
    })
}

/// `pg_dump -f FILE` of `db`, over the cluster's socket.
fn pg_dump_command(cluster: &PgCluster, db: &TestDb, pg_dump: &Path, file: &Path) -> Command {
    let mut cmd = Command::new(pg_dump);
    cmd.arg("-h")
        .arg(cluster.socket_dir())
        .arg("-p")
        .arg(cluster.port().to_string())
        .args(["-U", "postgres", "-d", db.name(), "-f"])
        .arg(file);
    cmd
}

/// `pgbm dump -d CONNINFO -f FILE`.
fn cli_command(cli: &Path, db: &TestDb, file: &Path) -> Command {
    let mut cmd = Command::new(cli);
    cmd.args(["dump", "-d", &db.conninfo(), "-f"]).arg(file);
    cmd
}

/// Runs `cmd` to completion and returns how long it took.
///
/// # Panics
/// When it cannot start or fails (with its stderr).
fn run_timed(mut cmd: Command) -> Duration {
    // Settings from the environment must not change what either tool does.
    cmd.env_remove("PGOPTIONS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()));
    let elapsed = started.elapsed();
    assert!(
        out.status.success(),
        "{:?} failed ({}):\n{}",
        cmd.get_program(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    elapsed
}

/// Prints every tool's median and its ratio to pg_dump's.
fn report(config: &Config, cluster: &PgCluster, results: &[Timings]) {
    let base = results
        .iter()
        .find(|t| t.name == "pg_dump")
        .map(|t| median(&t.runs))
        .expect("pg_dump was timed");
    println!(
        "\nmany_tables: {} tables, PostgreSQL {}, {} runs each (medians)",
        config.tables,
        cluster.server_version_num(),
        config.reps
    );
    for t in results {
        let m = median(&t.runs);
        println!(
            "  {:<18} median {}  runs {}  output {} bytes  ratio to pg_dump {:.2}",
            t.name,
            seconds(m),
            samples(&t.runs),
            t.bytes,
            m.as_secs_f64() / base.as_secs_f64()
        );
    }
}
