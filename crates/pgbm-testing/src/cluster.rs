//! [`PgCluster`]: a throwaway PostgreSQL cluster in a temporary directory.
//!
//! Starting one: make a private directory (`data/`, `sock/`, `server.log`, `tls/`) owned
//! by the server's user, start its watchdog, run `initdb`, write `postgresql.conf`
//! additions and `pg_hba.conf`, `pg_ctl -w start` on a free port (another port if that one
//! was taken meanwhile), then connect once to read the version and create the roles that
//! `pg_hba.conf` refers to. Any panic on the way drops the half-built cluster, which stops
//! whatever runs and deletes the directory.

use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

use crate::auth::{self, PasswordAuth, PasswordRole};
use crate::bindir::{find_bindir, missing_server_binary, BINDIR_ENV};
use crate::block::block_on;
use crate::db::{connect, describe, TestDb, SUPERUSER};
use crate::names::{random_u64, unique_name};
use crate::port::free_port;
use crate::privilege::Runner;
use crate::tls::{self, TlsFiles};
use crate::watchdog;

/// How often `pg_ctl start` is tried on a fresh port when the port was taken meanwhile.
const START_ATTEMPTS: usize = 5;
/// Seconds `pg_ctl -w` waits for the server; generous for a loaded 2-core CI machine.
const START_TIMEOUT_SECS: &str = "120";
/// Lines of server log shown when something fails.
const LOG_TAIL_LINES: usize = 60;

/// How to start a cluster with [`PgCluster::start_with`]. `Default` is what
/// [`PgCluster::start`] uses.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Directory with `initdb`, `pg_ctl`, `postgres` (and maybe `psql`, `pg_dump`);
    /// `None` means [`crate::find_bindir`].
    pub bindir: Option<PathBuf>,
    /// Turn on TLS with a fresh CA and server certificate (see
    /// [`PgCluster::ca_cert_path`]).
    pub tls: bool,
    /// Extra `postgresql.conf` settings as `(name, value)`; values are quoted for you.
    /// They come last, so they override the harness's own.
    pub settings: Vec<(String, String)>,
}

/// A running throwaway PostgreSQL cluster, reachable over a private Unix socket directory
/// and `127.0.0.1:port`.
///
/// Private clusters stop and delete their files when dropped; the [`PgCluster::shared`]
/// one, and any whose process dies without dropping them, are cleaned up by a watchdog
/// process once the test process is gone.
#[derive(Debug)]
pub struct PgCluster {
    bindir: PathBuf,
    root: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    log_path: PathBuf,
    port: u16,
    runner: &'static Runner,
    watchdog: Option<Child>,
    tls: Option<TlsFiles>,
    server_version_num: u32,
}

impl PgCluster {
    /// The cluster shared by all tests of this test binary, started on first use.
    ///
    /// Tests sharing it must keep to their own database ([`PgCluster::fresh_db`]) and
    /// their own roles ([`PgCluster::create_password_role`]).
    ///
    /// # Panics
    /// When the cluster cannot start, in every test that asks for it, with the reason.
    pub fn shared() -> &'static PgCluster {
        static SHARED: OnceLock<Result<PgCluster, String>> = OnceLock::new();
        let started = SHARED.get_or_init(|| {
            // Remember a failure instead of retrying a slow, doomed start in every test.
            std::panic::catch_unwind(PgCluster::start).map_err(|p| panic_message(p.as_ref()))
        });
        match started {
            Ok(cluster) => cluster,
            Err(msg) => panic!("the shared PostgreSQL cluster did not start: {msg}"),
        }
    }

    /// Starts a private cluster from [`crate::find_bindir`]'s binaries.
    ///
    /// # Panics
    /// When the binaries are missing or the server does not start (with its log).
    #[must_use]
    pub fn start() -> PgCluster {
        PgCluster::start_with(ClusterOptions::default())
    }

    /// Starts a private cluster from the binaries in `bindir`.
    ///
    /// # Panics
    /// When `bindir` lacks a server binary or the server does not start.
    #[must_use]
    pub fn start_with_bindir(bindir: impl Into<PathBuf>) -> PgCluster {
        PgCluster::start_with(ClusterOptions {
            bindir: Some(bindir.into()),
            ..ClusterOptions::default()
        })
    }

    /// Starts a private cluster with `ssl = on`, a fresh CA and a server certificate valid
    /// for the host name `localhost` only (not `127.0.0.1`, so that `verify-full` can be
    /// seen to fail). Clients trust [`PgCluster::ca_cert_path`].
    ///
    /// # Panics
    /// When the binaries are missing or the server does not start.
    #[must_use]
    pub fn start_with_tls() -> PgCluster {
        PgCluster::start_with(ClusterOptions {
            tls: true,
            ..ClusterOptions::default()
        })
    }

    /// Starts a private cluster as `options` say.
    ///
    /// # Panics
    /// When the binaries are missing or the server does not start (with its log).
    #[must_use]
    pub fn start_with(options: ClusterOptions) -> PgCluster {
        let bindir = options.bindir.clone().unwrap_or_else(find_bindir);
        if let Some(bin) = missing_server_binary(&bindir) {
            panic!(
                "{} has no `{bin}`: use a PostgreSQL bin directory with initdb, pg_ctl and \
                 postgres (`apt-get install -y postgresql-15`, or set {BINDIR_ENV})",
                bindir.display()
            );
        }
        let runner = Runner::get();
        let root = make_root(runner);
        // From here on a panic drops `cluster`, which stops the server and removes `root`.
        let mut cluster = PgCluster {
            data_dir: root.join("data"),
            socket_dir: root.join("sock"),
            log_path: root.join("server.log"),
            root,
            bindir,
            port: 0,
            runner,
            watchdog: None,
            tls: None,
            server_version_num: 0,
        };
        cluster.watchdog = Some(watchdog::spawn(
            &cluster.root,
            &cluster.data_dir,
            &cluster.bindir.join("pg_ctl"),
            runner,
        ));
        if options.tls {
            let files = tls::write_files(&cluster.root.join("tls"), runner)
                .unwrap_or_else(|e| panic!("cannot write TLS certificates: {e}"));
            cluster.tls = Some(files);
        }
        cluster.initdb();
        cluster.configure(&options.settings);
        cluster.start_server();
        cluster.bootstrap();
        cluster
    }

    /// Runs `initdb` with UTF-8, the C.UTF-8 locale and superuser `postgres`.
    fn initdb(&self) {
        let mut cmd = self.server_command("initdb");
        cmd.arg("-D")
            .arg(&self.data_dir)
            .args(["-E", "UTF8", "--locale=C.UTF-8", "-N", "-U", SUPERUSER])
            .arg("--auth=trust");
        let out = run(&mut cmd);
        if !out.status.success() {
            panic!(
                "initdb failed ({}) in {}:\n{}",
                out.status,
                self.data_dir.display(),
                output_text(&out)
            );
        }
    }

    /// Appends the harness's settings to `postgresql.conf` and writes `pg_hba.conf`.
    ///
    /// Both files exist (initdb made them), so writing keeps their owner: the server's user.
    fn configure(&self, extra: &[(String, String)]) {
        let mut settings: Vec<(&str, String)> = vec![
            ("listen_addresses", "127.0.0.1".into()),
            (
                "unix_socket_directories",
                self.socket_dir.to_string_lossy().into(),
            ),
            // Many tests at once, each with a pool of connections.
            ("max_connections", "200".into()),
            // Dumps of many tables lock them all in one transaction.
            ("max_locks_per_transaction", "256".into()),
            // Durability is pointless for a throwaway cluster; speed is not.
            ("fsync", "off".into()),
            ("synchronous_commit", "off".into()),
            ("full_page_writes", "off".into()),
            // CREATE PUBLICATION warns below `logical`, and restores must print nothing.
            ("wal_level", "logical".into()),
        ];
        if let Some(files) = &self.tls {
            settings.push(("ssl", "on".into()));
            settings.push(("ssl_cert_file", files.server_cert.to_string_lossy().into()));
            settings.push(("ssl_key_file", files.server_key.to_string_lossy().into()));
        }
        settings.extend(extra.iter().map(|(k, v)| (k.as_str(), v.clone())));

        let mut conf = String::from("\n# Added by pgbm-testing\n");
        for (name, value) in settings {
            conf.push_str(&format!("{name} = '{}'\n", value.replace('\'', "''")));
        }
        let conf_path = self.data_dir.join("postgresql.conf");
        OpenOptions::new()
            .append(true)
            .open(&conf_path)
            .and_then(|mut f| f.write_all(conf.as_bytes()))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", conf_path.display()));
        let hba_path = self.data_dir.join("pg_hba.conf");
        std::fs::write(&hba_path, auth::hba_conf())
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", hba_path.display()));
    }

    /// `pg_ctl -w start` on a free port, trying other ports if another process took the
    /// probed one before the server could bind it.
    fn start_server(&mut self) {
        for attempt in 1..=START_ATTEMPTS {
            let port = free_port();
            let log_before = std::fs::metadata(&self.log_path).map_or(0, |m| m.len());
            let mut cmd = self.server_command("pg_ctl");
            cmd.arg("-D")
                .arg(&self.data_dir)
                .arg("-l")
                .arg(&self.log_path)
                .args([
                    "-w",
                    "-t",
                    START_TIMEOUT_SECS,
                    "-o",
                    &format!("-p {port}"),
                    "start",
                ]);
            let out = run(&mut cmd);
            if out.status.success() {
                self.port = port;
                return;
            }
            let new_log = self.log_since(log_before);
            if new_log.contains("Address already in use") && attempt < START_ATTEMPTS {
                continue;
            }
            panic!(
                "pg_ctl start failed ({}) for {} (port {port}):\n{}\n--- server log {} (tail) ---\n{}",
                out.status,
                self.data_dir.display(),
                output_text(&out),
                self.log_path.display(),
                self.log_tail(LOG_TAIL_LINES)
            );
        }
    }

    /// Connects once: reads the version and creates the roles `pg_hba.conf` refers to.
    fn bootstrap(&mut self) {
        let (socket_dir, port) = (self.socket_dir.clone(), self.port);
        let result = block_on(async move {
            let client = connect(&socket_dir, port, "postgres").await?;
            client.batch_execute(&auth::bootstrap_sql()).await?;
            let row = client.query_one("SHOW server_version_num", &[]).await?;
            Ok::<String, tokio_postgres::Error>(row.get(0))
        });
        let version = result.unwrap_or_else(|e| {
            panic!(
                "cannot set up the cluster at {}: {}\n--- server log (tail) ---\n{}",
                self.socket_dir.display(),
                describe(&e),
                self.log_tail(LOG_TAIL_LINES)
            )
        });
        self.server_version_num = version
            .parse()
            .unwrap_or_else(|_| panic!("server_version_num is not a number: {version:?}"));
    }

    /// A new, empty database (from `template0`) with a unique name starting with `prefix`
    /// (made a plain lower-case identifier). Works from sync and async tests.
    ///
    /// # Panics
    /// When `CREATE DATABASE` fails.
    #[must_use]
    pub fn fresh_db(&self, prefix: &str) -> TestDb {
        let db = self.db(&unique_name(prefix));
        // template0 rather than template1: nobody ever connects to it, so concurrent tests
        // cannot make CREATE DATABASE fail with "source database is being accessed".
        self.admin_execute(&format!("CREATE DATABASE {} TEMPLATE template0", db.name()));
        db
    }

    /// A handle to the database `name` on this cluster, whether or not it exists (for
    /// `postgres`, or a database a test's restore is going to create).
    #[must_use]
    pub fn db(&self, name: &str) -> TestDb {
        TestDb::new(name, &self.socket_dir, self.port)
    }

    /// A new login role with a password, unique name starting with `prefix`, which must
    /// authenticate over TCP (127.0.0.1) with `auth`. See the crate's `auth` module for
    /// the `pg_hba.conf` rules; the Unix socket still trusts everyone.
    ///
    /// # Panics
    /// When `CREATE ROLE` fails.
    #[must_use]
    pub fn create_password_role(&self, prefix: &str, auth: PasswordAuth) -> PasswordRole {
        let password = format!("pw-{:016x}", random_u64());
        let role = PasswordRole::new(unique_name(prefix), password, auth);
        self.admin_execute(&role.create_sql());
        role
    }

    /// Runs `sql` as `postgres` in the `postgres` database.
    fn admin_execute(&self, sql: &str) {
        self.db("postgres").execute_sql_blocking(sql);
    }

    /// The directory the server binaries come from.
    #[must_use]
    pub fn bindir(&self) -> &Path {
        &self.bindir
    }

    /// The TCP port on 127.0.0.1 (also the Unix socket's suffix).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the Unix socket (use it as `host`).
    #[must_use]
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The data directory.
    #[must_use]
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server log file.
    #[must_use]
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last `lines` lines of the server log (empty if there is none yet).
    #[must_use]
    pub fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The log written after byte `offset`.
    fn log_since(&self, offset: u64) -> String {
        let log = std::fs::read(&self.log_path).unwrap_or_default();
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(log.len());
        String::from_utf8_lossy(&log[start..]).into_owned()
    }

    /// The server's major version, e.g. `15`.
    #[must_use]
    pub fn version(&self) -> u32 {
        self.server_version_num / 10_000
    }

    /// The server's `server_version_num`, e.g. `150014`.
    #[must_use]
    pub fn server_version_num(&self) -> u32 {
        self.server_version_num
    }

    /// The postmaster's process id, from `postmaster.pid` (`None` when not running).
    #[must_use]
    pub fn postmaster_pid(&self) -> Option<u32> {
        let pidfile = std::fs::read_to_string(self.data_dir.join("postmaster.pid")).ok()?;
        pidfile.lines().next()?.trim().parse().ok()
    }

    /// The CA certificate (PEM file) that signed the server certificate, for TLS clusters.
    #[must_use]
    pub fn ca_cert_path(&self) -> Option<&Path> {
        self.tls.as_ref().map(|t| t.ca_cert.as_path())
    }

    /// The CA certificate's PEM text, for TLS clusters.
    #[must_use]
    pub fn ca_cert_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.ca_cert_pem.as_str())
    }

    /// The host name the server certificate of a TLS cluster is valid for: `localhost`.
    #[must_use]
    pub fn tls_server_name(&self) -> Option<&'static str> {
        self.tls.as_ref().map(|_| tls::SERVER_NAME)
    }

    /// The client program `name` (`psql`, `pg_dump`, ...) from this cluster's bindir, if
    /// that installation has it.
    #[must_use]
    pub fn tool(&self, name: &str) -> Option<PathBuf> {
        let path = self.bindir.join(name);
        path.is_file().then_some(path)
    }

    /// Runs `psql -X -v ON_ERROR_STOP=1 -q -f FILE` against `db` and returns its output
    /// (check `status` yourself: a failing script is often what a test wants to see).
    ///
    /// # Panics
    /// When this bindir has no psql, or psql cannot be run.
    pub fn psql_file(&self, db: &TestDb, file: impl AsRef<Path>) -> Output {
        let mut cmd = self.client_command("psql", db);
        cmd.args(["-X", "-v", "ON_ERROR_STOP=1", "-q", "-f"])
            .arg(file.as_ref());
        run(&mut cmd)
    }

    /// Runs `pg_dump` against `db` with extra `args` (e.g. `["--schema-only"]`) and returns
    /// the dump it prints.
    ///
    /// # Panics
    /// When this bindir has no pg_dump, or pg_dump fails (with its stderr).
    pub fn pg_dump<I, S>(&self, db: &TestDb, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.client_command("pg_dump", db);
        cmd.args(args);
        let out = run(&mut cmd);
        if !out.status.success() {
            panic!(
                "pg_dump of {} failed ({}):\n{}",
                db.name(),
                out.status,
                output_text(&out)
            );
        }
        String::from_utf8(out.stdout).expect("pg_dump printed invalid UTF-8")
    }

    /// A client program of this bindir, connecting to `db` as `postgres` over the socket.
    fn client_command(&self, name: &str, db: &TestDb) -> Command {
        let program = self.tool(name).unwrap_or_else(|| {
            panic!(
                "{} has no `{name}`: install the PostgreSQL {v} client \
                 (`apt-get install -y postgresql-client-{v}`) or set {BINDIR_ENV} to a bin \
                 directory that has server and client programs",
                self.bindir.display(),
                v = self.version()
            )
        });
        let mut cmd = Command::new(program);
        cmd.arg("-h")
            .arg(&self.socket_dir)
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-U", SUPERUSER, "-d", db.name()])
            // Settings from the developer's environment must not leak into oracle runs.
            .env_remove("PGOPTIONS")
            .env_remove("PGSERVICE")
            .env_remove("PGSERVICEFILE");
        cmd
    }

    /// A server program of this bindir, run as the server's user, in the cluster's root
    /// (as root, the current directory may be one the server's user cannot enter).
    fn server_command(&self, name: &str) -> Command {
        let mut cmd = self.runner.command(&self.bindir.join(name));
        cmd.current_dir(&self.root).env_remove("PGDATA");
        cmd
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // Kill the watchdog first, or it would race us once this process exits.
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        // Immediate: nothing in a throwaway cluster is worth a checkpoint. Failure is fine
        // (the server may never have started).
        let _ = self
            .server_command("pg_ctl")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", "immediate", "-w", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A new private directory for a cluster, with `sock/` in it, owned by the server's user.
fn make_root(runner: &Runner) -> PathBuf {
    let root = tempfile::Builder::new()
        .prefix("pgbm-pg-")
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"))
        .keep();
    let socket_dir = root.join("sock");
    let made = std::fs::create_dir(&socket_dir)
        .and_then(|()| runner.give(&root))
        .and_then(|()| runner.give(&socket_dir));
    if let Err(e) = made {
        let _ = std::fs::remove_dir_all(&root);
        panic!("cannot prepare {} for the server: {e}", root.display());
    }
    root
}

/// Runs `cmd` with no stdin and captured output.
fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()))
}

/// A command's stdout and stderr, for error messages.
fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The message of a caught panic.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_string()))
        .unwrap_or_else(|| "(panic without a message)".to_string())
}
