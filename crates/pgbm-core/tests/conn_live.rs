//! The connection module against real servers: Unix-socket trust, SCRAM and md5 over
//! TCP, the password file, the error kinds of failed connections, and every `sslmode`
//! against a TLS cluster.
//!
//! All tests but the TLS ones share `PgCluster::shared()`; the TLS ones share one TLS
//! cluster ([`tls_cluster`]). Each test uses its own database and roles. Every failed
//! connection is checked for its [`ErrorKind`] and for not revealing a password, in
//! `Display`, `Debug` and the whole `source()` chain.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use pgbm_core::conn::{ConnOptions, SslMode};
use pgbm_core::{Error, ErrorKind};
use pgbm_testing::{PasswordAuth, PgCluster, TestDb};
use tokio_postgres::Client;

/// An upper bound on any connection attempt, so that a hang fails the test with a
/// message instead of stalling the whole run.
const CONNECT_LIMIT: Duration = Duration::from_secs(60);

/// Characters that need escaping in a URI, a conninfo string, a password file or SQL.
const AWKWARD_CHARS: &str = "@/?:#&=% '\\";

/// A password file that does not exist, so that no test depends on `~/.pgpass`.
const NO_PASSFILE: &str = "/nonexistent/pgbm-conn-live/pgpass";

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

/// The TLS cluster shared by the TLS tests. Statics are never dropped: the harness's
/// watchdog stops the server and deletes its files when the test process exits.
fn tls_cluster() -> &'static PgCluster {
    static TLS: OnceLock<PgCluster> = OnceLock::new();
    TLS.get_or_init(PgCluster::start_with_tls)
}

/// Connects, failing the test if that takes longer than [`CONNECT_LIMIT`].
async fn try_connect(opts: &ConnOptions) -> Result<Client, Error> {
    tokio::time::timeout(CONNECT_LIMIT, opts.connect())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "connecting to {} took longer than {CONNECT_LIMIT:?}",
                opts.describe()
            )
        })
}

/// Connects, failing the test with pgbm's error if that fails.
async fn connect_ok(opts: &ConnOptions) -> Client {
    match try_connect(opts).await {
        Ok(client) => client,
        Err(e) => panic!(
            "connecting to {} failed ({:?}): {e}",
            opts.describe(),
            e.kind()
        ),
    }
}

/// Connects expecting an error of `kind` whose texts contain none of `secrets`.
async fn connect_err(opts: &ConnOptions, kind: ErrorKind, secrets: &[&str]) -> Error {
    let err = match try_connect(opts).await {
        Ok(_) => panic!(
            "connecting to {} succeeded; expected a {kind:?} error",
            opts.describe()
        ),
        Err(e) => e,
    };
    assert_eq!(err.kind(), kind, "wrong kind for: {err}");
    assert_no_secret(&err, secrets);
    err
}

/// Checks `Display` and `Debug` of `err` and of every error in its `source()` chain.
fn assert_no_secret(err: &Error, secrets: &[&str]) {
    let mut texts = vec![err.to_string(), format!("{err:?}")];
    let mut source = std::error::Error::source(err);
    while let Some(e) = source {
        texts.push(e.to_string());
        texts.push(format!("{e:?}"));
        source = e.source();
    }
    for secret in secrets {
        for text in &texts {
            // Show the offending text with the secret masked, not the secret itself.
            assert!(
                !text.contains(secret),
                "error text reveals a password: {}",
                text.replace(secret, "<PASSWORD>")
            );
        }
    }
}

/// Asserts that `text` contains `part`, showing `text` otherwise.
fn assert_contains(text: &str, part: &str) {
    assert!(text.contains(part), "expected {part:?} in: {text}");
}

/// The single value of a query returning one row and one column.
async fn query_value<T>(client: &Client, sql: &str) -> T
where
    T: for<'a> tokio_postgres::types::FromSql<'a>,
{
    client
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .get(0)
}

/// A server setting as the session sees it.
async fn setting(client: &Client, name: &str) -> String {
    query_value(client, &format!("SELECT current_setting('{name}')")).await
}

/// Whether the session runs over TLS, as the server sees it.
async fn uses_tls(client: &Client) -> bool {
    query_value(
        client,
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    )
    .await
}

/// Whether the session came over a Unix socket (no server address).
async fn over_unix_socket(client: &Client) -> bool {
    query_value(client, "SELECT inet_server_addr() IS NULL").await
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn uri_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A single-quoted conninfo value.
fn conninfo_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A SQL string literal (standard_conforming_strings is on).
fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A password-file field: `\` and `:` escaped with a backslash.
fn pgpass_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace(':', "\\:")
}

/// A login role and its password. No `Debug`: the password must not end up in output.
struct Login {
    name: String,
    password: String,
}

/// A role that authenticates over TCP with `auth` and whose (random) password also
/// holds every character of [`AWKWARD_CHARS`].
fn awkward_login(cluster: &PgCluster, prefix: &str, auth: PasswordAuth) -> Login {
    let role = cluster.create_password_role(prefix, auth);
    let password = format!("{}{AWKWARD_CHARS}", role.password());
    // The stored form must suit the method: a SCRAM verifier cannot answer md5.
    let encryption = match auth {
        PasswordAuth::Scram => "scram-sha-256",
        PasswordAuth::Md5 => "md5",
    };
    cluster.db("postgres").execute_sql_blocking(&format!(
        "SET password_encryption = '{encryption}'; ALTER ROLE {} PASSWORD {}",
        role.name(),
        sql_literal(&password)
    ));
    Login {
        name: role.name().to_string(),
        password,
    }
}

/// Options for `user` over TCP to `db`, with `password` if given and never `~/.pgpass`.
fn tcp_login(db: &TestDb, user: &str, password: Option<&str>) -> ConnOptions {
    let mut opts = db.tcp_conn_options();
    opts.set_user(user);
    if let Some(password) = password {
        opts.set_password(password);
    }
    opts.set_passfile(NO_PASSFILE);
    opts
}

/// Writes `contents` to `path` with permissions `mode`.
fn write_file(path: &Path, contents: &str, mode: u32) {
    std::fs::write(path, contents).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    set_mode(path, mode);
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
fn refused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a probe port");
    listener.local_addr().expect("probe port address").port()
}

// ---------------------------------------------------------------------------------
// 1. Unix socket, trust
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn unix_socket_trust_by_conninfo() {
    let db = PgCluster::shared().fresh_db("conn_socket_conninfo");
    let opts = ConnOptions::parse(&format!("{} options='-c work_mem=7MB'", db.conninfo())).unwrap();
    let client = connect_ok(&opts).await;
    assert!(over_unix_socket(&client).await);
    assert_eq!(setting(&client, "application_name").await, "pgbm");
    assert_eq!(setting(&client, "work_mem").await, "7MB");
    let current_db: String = query_value(&client, "SELECT current_database()").await;
    assert_eq!(current_db, db.name());
}

#[tokio::test]
async fn unix_socket_trust_by_uri_with_encoded_socket_dir() {
    let db = PgCluster::shared().fresh_db("conn_socket_uri");
    let socket_dir = db.socket_dir().to_str().expect("UTF-8 socket path");
    let uri = format!(
        "postgresql://postgres@{}:{}/{}?options={}",
        uri_encode(socket_dir),
        db.port(),
        db.name(),
        uri_encode("-c work_mem=7MB")
    );
    assert!(uri.contains("%2F"), "{uri}");
    let opts = ConnOptions::from_dbname_arg(&uri).unwrap();
    assert_eq!(opts.host(), socket_dir);
    let client = connect_ok(&opts).await;
    assert!(over_unix_socket(&client).await);
    assert_eq!(setting(&client, "application_name").await, "pgbm");
    assert_eq!(setting(&client, "work_mem").await, "7MB");

    // libpq's other spelling: no host in the authority, the socket directory as a
    // query parameter.
    let uri = format!(
        "postgresql://postgres@/{}?host={}&port={}",
        db.name(),
        uri_encode(socket_dir),
        db.port()
    );
    let client = connect_ok(&ConnOptions::from_dbname_arg(&uri).unwrap()).await;
    assert!(over_unix_socket(&client).await);
    assert_eq!(setting(&client, "application_name").await, "pgbm");
}

#[tokio::test]
async fn application_name_given_and_fallback() {
    let db = PgCluster::shared().fresh_db("conn_appname");
    let fallback = ConnOptions::parse(&format!(
        "{} fallback_application_name=conn-fallback",
        db.conninfo()
    ))
    .unwrap();
    let client = connect_ok(&fallback).await;
    assert_eq!(setting(&client, "application_name").await, "conn-fallback");

    let both = fallback.merge(ConnOptions::parse("application_name=conn-given").unwrap());
    let client = connect_ok(&both).await;
    assert_eq!(setting(&client, "application_name").await, "conn-given");
}

/// The layering the module documents: environment, then flags, then `-d`.
#[tokio::test]
async fn environment_flags_and_dash_d_layers() {
    let db = PgCluster::shared().fresh_db("conn_layers");
    let socket_dir = db.socket_dir().to_str().expect("UTF-8 socket path");
    let port = db.port().to_string();
    let env = ConnOptions::from_env_vars([
        ("PGHOST", socket_dir),
        ("PGPORT", port.as_str()),
        ("PGUSER", "postgres"),
        ("PGDATABASE", "conn_layers_overridden_by_flag"),
        ("PGAPPNAME", "conn-from-env"),
        ("PGOPTIONS", "-c work_mem=3MB"),
        ("UNRELATED", "ignored"),
    ])
    .unwrap();
    let mut flags = ConnOptions::new();
    flags.set_dbname(db.name());
    flags.set_application_name("conn-from-flag");
    let dash_d = ConnOptions::from_dbname_arg("application_name=conn-from-dash-d").unwrap();
    let opts = env.merge(flags).merge(dash_d);

    let client = connect_ok(&opts).await;
    let current_db: String = query_value(&client, "SELECT current_database()").await;
    assert_eq!(current_db, db.name());
    assert_eq!(
        setting(&client, "application_name").await,
        "conn-from-dash-d"
    );
    assert_eq!(setting(&client, "work_mem").await, "3MB");
}

// ---------------------------------------------------------------------------------
// 2. Passwords over TCP
// ---------------------------------------------------------------------------------

/// Right password by conninfo and by URI, wrong password, no password.
async fn check_password_role(auth: PasswordAuth, prefix: &str) {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_db(prefix);
    let login = awkward_login(cluster, prefix, auth);

    let conninfo = format!(
        "host=127.0.0.1 port={} dbname={} user={} password={} passfile={NO_PASSFILE}",
        db.port(),
        db.name(),
        login.name,
        conninfo_quote(&login.password)
    );
    let client = connect_ok(&ConnOptions::parse(&conninfo).unwrap()).await;
    assert!(!over_unix_socket(&client).await);
    let user: String = query_value(&client, "SELECT current_user").await;
    assert_eq!(user, login.name);

    let uri = format!(
        "postgresql://{}:{}@127.0.0.1:{}/{}?passfile={}",
        login.name,
        uri_encode(&login.password),
        db.port(),
        db.name(),
        uri_encode(NO_PASSFILE)
    );
    let client = connect_ok(&ConnOptions::parse(&uri).unwrap()).await;
    let user: String = query_value(&client, "SELECT current_user").await;
    assert_eq!(user, login.name);

    let wrong = format!("{}-wrong", login.password);
    let err = connect_err(
        &tcp_login(&db, &login.name, Some(&wrong)),
        ErrorKind::Auth,
        &[&login.password, &wrong],
    )
    .await;
    assert_contains(&err.to_string(), "password authentication failed");

    let err = connect_err(
        &tcp_login(&db, &login.name, None),
        ErrorKind::Auth,
        &[&login.password],
    )
    .await;
    assert_contains(&err.to_string(), "password required");
    assert_contains(&err.to_string(), &login.name);
}

#[tokio::test]
async fn scram_role_over_tcp() {
    check_password_role(PasswordAuth::Scram, "conn_scram").await;
}

#[tokio::test]
async fn md5_role_over_tcp() {
    check_password_role(PasswordAuth::Md5, "conn_md5").await;
}

// ---------------------------------------------------------------------------------
// 3. The password file
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn password_file_is_used_only_when_private() {
    let cluster = PgCluster::shared();
    let db = cluster.fresh_db("conn_pgpass");
    let login = awkward_login(cluster, "conn_pgpass", PasswordAuth::Scram);
    let dir = tempfile::tempdir().expect("tempdir");
    let passfile = dir.path().join("pgpass");
    let entry = format!(
        "# pgbm conn_live\n127.0.0.1:{}:{}:{}:{}\n",
        db.port(),
        db.name(),
        login.name,
        pgpass_escape(&login.password)
    );
    write_file(&passfile, &entry, 0o600);

    let conninfo = format!(
        "host=127.0.0.1 port={} dbname={} user={} passfile={}",
        db.port(),
        db.name(),
        login.name,
        conninfo_quote(passfile.to_str().expect("UTF-8 temp path"))
    );
    let opts = ConnOptions::parse(&conninfo).unwrap();
    let client = connect_ok(&opts).await;
    let user: String = query_value(&client, "SELECT current_user").await;
    assert_eq!(user, login.name);

    // Readable by others: libpq (and pgbm) ignore the file.
    set_mode(&passfile, 0o644);
    let err = connect_err(&opts, ErrorKind::Auth, &[&login.password]).await;
    assert_contains(&err.to_string(), "password required");
    // ... and the error says why the file was ignored.
    assert_contains(&err.to_string(), "has group or world access");

    // A wrong password from the file: the message says where it came from.
    let wrong = format!("{}-wrong", login.password);
    let entry = format!("*:*:*:{}:{}\n", login.name, pgpass_escape(&wrong));
    write_file(&passfile, &entry, 0o600);
    let err = connect_err(&opts, ErrorKind::Auth, &[&login.password, &wrong]).await;
    assert_contains(&err.to_string(), "password retrieved from file");
    assert_contains(&err.to_string(), &passfile.display().to_string());
}

// ---------------------------------------------------------------------------------
// 4. Failures before or at start-up
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn missing_database_is_database_not_found() {
    let db = PgCluster::shared().fresh_db("conn_nodb");
    let missing = format!("{}_missing", db.name());
    for opts in [db.conn_options(), db.tcp_conn_options()] {
        let err = connect_err(
            &opts.with_dbname(&missing),
            ErrorKind::DatabaseNotFound,
            &[],
        )
        .await;
        assert_contains(&err.to_string(), &missing);
    }
}

#[tokio::test]
async fn refused_port_is_connect() {
    let port = refused_port();
    let secret = "conn-live-refused-Secret";
    let mut opts = ConnOptions::new();
    opts.set_host("127.0.0.1");
    opts.set_port(port);
    opts.set_user("postgres");
    opts.set_password(secret);
    let err = connect_err(&opts, ErrorKind::Connect, &[secret]).await;
    assert_contains(&err.to_string(), &format!("127.0.0.1:{port}"));
}

#[tokio::test]
async fn missing_socket_directory_is_connect() {
    let db = PgCluster::shared().fresh_db("conn_nosock");
    let dir = tempfile::tempdir().expect("tempdir");
    let missing: PathBuf = dir.path().join("no-such-dir");
    let mut opts = db.conn_options();
    opts.set_host(missing.to_str().expect("UTF-8 temp path"));
    let err = connect_err(&opts, ErrorKind::Connect, &[]).await;
    assert_contains(&err.to_string(), &missing.display().to_string());
}

#[tokio::test]
async fn silent_server_times_out_as_connect() {
    // The kernel completes the TCP handshake for the backlog, but nobody ever answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a silent port");
    let port = silent.local_addr().expect("silent port address").port();
    let mut opts = ConnOptions::new();
    opts.set_host("127.0.0.1");
    opts.set_port(port);
    opts.set_user("postgres");
    // libpq's minimum, 2 s, is what a 1 s timeout becomes.
    opts.set_connect_timeout(Duration::from_secs(1));
    let started = std::time::Instant::now();
    let err = connect_err(&opts, ErrorKind::Connect, &[]).await;
    let waited = started.elapsed();
    assert_contains(&err.to_string(), "timeout expired");
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(20),
        "gave up after {waited:?}"
    );
    drop(silent);
}

// ---------------------------------------------------------------------------------
// 5. TLS
// ---------------------------------------------------------------------------------

/// Options for `postgres` to `db` on the TLS cluster.
fn tls_opts(db: &TestDb, host: &str, mode: SslMode, rootcert: Option<&Path>) -> ConnOptions {
    let mut opts = db.tcp_conn_options();
    opts.set_host(host);
    opts.set_sslmode(mode);
    if let Some(path) = rootcert {
        opts.set_sslrootcert(path.to_str().expect("UTF-8 certificate path"));
    }
    opts
}

/// The TLS cluster's CA certificate file.
fn ca_path(cluster: &PgCluster) -> &Path {
    cluster.ca_cert_path().expect("the TLS cluster has a CA")
}

/// A self-signed CA certificate (PEM) with common name `cn`, unrelated to any server.
fn foreign_ca_pem(cn: &str) -> String {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let mut params = CertificateParams::new(Vec::new()).expect("certificate params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, cn);
    let key = KeyPair::generate().expect("key pair");
    params.self_signed(&key).expect("self-signed CA").pem()
}

#[tokio::test]
async fn tls_demanded_from_a_server_without_tls_is_connect() {
    // The shared cluster has ssl = off.
    let db = PgCluster::shared().fresh_db("conn_no_tls");
    let client = connect_ok(&db.tcp_conn_options()).await;
    assert!(!uses_tls(&client).await, "prefer falls back to plain");
    for mode in [SslMode::Require, SslMode::VerifyCa, SslMode::VerifyFull] {
        let ca = Some(ca_path(tls_cluster()));
        let err = connect_err(
            &tls_opts(&db, "127.0.0.1", mode, ca),
            ErrorKind::Connect,
            &[],
        )
        .await;
        assert_contains(&err.to_string(), "TLS");
    }
}

#[tokio::test]
async fn tls_require_prefer_allow_disable() {
    let cluster = tls_cluster();
    let db = cluster.fresh_db("conn_tls_modes");
    for (mode, tls) in [
        (SslMode::Require, true),
        (SslMode::Prefer, true),
        // allow tries without TLS first, which this server accepts.
        (SslMode::Allow, false),
        (SslMode::Disable, false),
    ] {
        let client = connect_ok(&tls_opts(&db, "127.0.0.1", mode, None)).await;
        assert_eq!(uses_tls(&client).await, tls, "sslmode={mode}");
    }
    // The default is prefer.
    let client = connect_ok(&db.tcp_conn_options()).await;
    assert!(uses_tls(&client).await, "default sslmode");
    // require with a root certificate checks the chain, which is fine here.
    let opts = tls_opts(&db, "127.0.0.1", SslMode::Require, Some(ca_path(cluster)));
    assert!(uses_tls(&connect_ok(&opts).await).await);
}

/// A role pg_hba turns away without TLS: `allow` falls back to TLS after the
/// rejection, `disable` fails with the server's message, `prefer` uses TLS at once.
#[tokio::test]
async fn tls_allow_falls_back_to_tls_when_plain_is_rejected() {
    let cluster = tls_cluster();
    let db = cluster.fresh_db("conn_tls_allow");
    let role = cluster.create_password_role("tls_only", PasswordAuth::Scram);
    cluster.db("postgres").execute_sql_blocking(&format!(
        "GRANT {} TO {}",
        pgbm_testing::TLS_ONLY_GROUP,
        role.name()
    ));
    let login = |mode: SslMode| {
        let mut opts = tls_opts(&db, "127.0.0.1", mode, None);
        opts.set_user(role.name());
        opts.set_password(role.password());
        opts
    };
    for mode in [SslMode::Allow, SslMode::Prefer] {
        let client = connect_ok(&login(mode)).await;
        assert!(uses_tls(&client).await, "sslmode={mode}");
    }
    let err = connect_err(
        &login(SslMode::Disable),
        ErrorKind::Auth,
        &[role.password()],
    )
    .await;
    assert_contains(&err.to_string(), "pg_hba.conf");
}

#[tokio::test]
async fn tls_verify_ca_and_verify_full() {
    let cluster = tls_cluster();
    let db = cluster.fresh_db("conn_tls_verify");
    let ca = Some(ca_path(cluster));
    let name = cluster.tls_server_name().expect("TLS server name");
    for (host, mode) in [
        ("127.0.0.1", SslMode::VerifyCa),
        (name, SslMode::VerifyCa),
        (name, SslMode::VerifyFull),
    ] {
        let client = connect_ok(&tls_opts(&db, host, mode, ca)).await;
        assert!(uses_tls(&client).await, "host={host} sslmode={mode}");
    }

    // The certificate names `localhost`, not the address.
    let opts = tls_opts(&db, "127.0.0.1", SslMode::VerifyFull, ca);
    let err = connect_err(&opts, ErrorKind::Connect, &[]).await;
    assert_contains(&err.to_string(), "host name");
    assert_contains(&err.to_string(), "127.0.0.1");
}

#[tokio::test]
async fn tls_untrusted_certificate() {
    let cluster = tls_cluster();
    let db = cluster.fresh_db("conn_tls_wrong_ca");
    let dir = tempfile::tempdir().expect("tempdir");
    // An unrelated CA, and an impostor with the real CA's name but another key.
    for (file, cn) in [
        ("other.crt", "pgbm other CA"),
        ("impostor.crt", "pgbm test CA"),
    ] {
        let path = dir.path().join(file);
        write_file(&path, &foreign_ca_pem(cn), 0o644);
        for host in ["127.0.0.1", "localhost"] {
            for mode in [SslMode::VerifyCa, SslMode::VerifyFull, SslMode::Require] {
                let opts = tls_opts(&db, host, mode, Some(&path));
                let err = connect_err(&opts, ErrorKind::Connect, &[]).await;
                assert_contains(&err.to_string(), "certificate");
            }
        }
        // prefer gives up on TLS when the handshake fails, as libpq does.
        let opts = tls_opts(&db, "127.0.0.1", SslMode::Prefer, Some(&path));
        assert!(!uses_tls(&connect_ok(&opts).await).await, "{file}");
    }
}

#[tokio::test]
async fn tls_verification_without_a_root_certificate_is_usage() {
    let cluster = tls_cluster();
    let db = cluster.fresh_db("conn_tls_no_root");
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.crt");
    for mode in [SslMode::VerifyCa, SslMode::VerifyFull] {
        let opts = tls_opts(&db, "127.0.0.1", mode, Some(&missing));
        let err = connect_err(&opts, ErrorKind::Usage, &[]).await;
        assert_contains(&err.to_string(), &missing.display().to_string());
    }
    // A file without certificates is no root certificate either.
    let empty = dir.path().join("empty.crt");
    write_file(&empty, "not a certificate\n", 0o644);
    let opts = tls_opts(&db, "127.0.0.1", SslMode::VerifyCa, Some(&empty));
    let err = connect_err(&opts, ErrorKind::Usage, &[]).await;
    assert_contains(&err.to_string(), "no certificates");
}

#[tokio::test]
async fn tls_scram_with_channel_binding() {
    let cluster = tls_cluster();
    let db = cluster.fresh_db("conn_tls_scram");
    let login = awkward_login(cluster, "conn_tls_scram", PasswordAuth::Scram);
    let mut opts = tls_opts(
        &db,
        "localhost",
        SslMode::VerifyFull,
        Some(ca_path(cluster)),
    );
    opts.set_user(&login.name);
    opts.set_password(&login.password);
    opts.set_option("channel_binding", "require").unwrap();
    let client = connect_ok(&opts).await;
    assert!(uses_tls(&client).await);
    let user: String = query_value(&client, "SELECT current_user").await;
    assert_eq!(user, login.name);

    // Channel binding needs TLS.
    opts.set_sslmode(SslMode::Disable);
    connect_err(&opts, ErrorKind::Auth, &[&login.password]).await;
}

// ---------------------------------------------------------------------------------
// 6. Secrets in Debug and describe()
// ---------------------------------------------------------------------------------

/// Asserts that neither `Debug` nor `describe()` of `opts` shows `secret`.
fn assert_hidden(opts: &ConnOptions, secret: &str) {
    assert!(opts.has_password());
    let debug = format!("{opts:?}");
    assert!(
        !debug.contains(secret),
        "Debug reveals the password: {}",
        debug.replace(secret, "<PASSWORD>")
    );
    assert_contains(&debug, "redacted");
    let described = opts.describe();
    assert!(
        !described.contains(secret),
        "describe() reveals the password: {}",
        described.replace(secret, "<PASSWORD>")
    );
}

#[tokio::test]
async fn passwords_stay_out_of_debug_and_describe() {
    let db = PgCluster::shared().fresh_db("conn_secrets");
    let secret = "conn-live-Secret-x9";
    let conninfo = format!("{} password={secret}", db.conninfo());
    let uri = format!(
        "postgresql://postgres:{secret}@127.0.0.1:{}/{}",
        db.port(),
        db.name()
    );
    let from_conninfo = ConnOptions::parse(&conninfo).unwrap();
    let from_uri = ConnOptions::parse(&uri).unwrap();
    let from_env = ConnOptions::from_env_vars([("PGPASSWORD", secret)]).unwrap();
    let mut by_setter = db.tcp_conn_options();
    by_setter.set_password(secret);
    for opts in [&from_conninfo, &from_uri, &from_env, &by_setter] {
        assert_hidden(opts, secret);
    }
    assert_hidden(&from_env.clone().merge(db.tcp_conn_options()), secret);
    assert_eq!(
        from_uri.describe(),
        format!("postgres@127.0.0.1:{}/{}", db.port(), db.name())
    );

    // postgres is trusted, so the password is never asked for, and a connection that
    // fails does not show it either.
    connect_ok(&by_setter).await;
    connect_ok(&from_conninfo).await;
    let missing = by_setter.with_dbname(&format!("{}_missing", db.name()));
    connect_err(&missing, ErrorKind::DatabaseNotFound, &[secret]).await;
}
