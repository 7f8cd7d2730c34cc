//! Opening a connection and turning failures into pgbm's error kinds.

use std::time::Duration;

use tokio_postgres::config::{ChannelBinding as PgChannelBinding, SslMode as PgSslMode};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, Config, NoTls, Socket};

use super::resolve::{Defaults, Endpoint, Target};
use super::tls::{self, Handshake, SslMode};
use super::{pgpass, ChannelBinding, ConnOptions};
use crate::error::{db_message, Error, ErrorKind, Result};

/// Where the password came from, for the hint libpq gives when it is rejected.
enum PasswordSource {
    None,
    Given,
    File(std::path::PathBuf),
}

/// Resolves `opts` and connects, retrying without TLS where `sslmode=prefer` allows.
pub(super) async fn connect(opts: &ConnOptions, defaults: &Defaults) -> Result<Client> {
    let target = opts.resolve(defaults)?;
    let (password, source) = find_password(&target);
    let mut config = base_config(&target, password.as_deref());
    tracing::debug!("connecting to {}", opts.describe_with(defaults));

    if matches!(target.endpoint, Endpoint::Unix(_)) || target.tls.mode == SslMode::Disable {
        config.ssl_mode(PgSslMode::Disable);
        return attempt(&config, NoTls, target.connect_timeout)
            .await
            .map_err(|f| classify(f, &target, &source, false));
    }

    let connector = tls::connector(&target.tls)?;
    if target.tls.mode == SslMode::Allow {
        // libpq's `allow`: plain first, TLS only when the server rejects that.
        config.ssl_mode(PgSslMode::Disable);
        let failure = match attempt(&config, NoTls, target.connect_timeout).await {
            Ok(client) => return Ok(client),
            Err(failure) => failure,
        };
        if !is_rejection(&failure) {
            return Err(classify(failure, &target, &source, false));
        }
        tracing::debug!(
            "connection to {} without TLS was rejected ({}); retrying with TLS",
            target.server_label(),
            failure.cause()
        );
        config.ssl_mode(PgSslMode::Require);
        return match attempt(&config, connector.clone(), target.connect_timeout).await {
            Ok(client) => Ok(client),
            Err(f) => {
                let tls_failed = connector.last_handshake() == Handshake::Failed;
                Err(classify(f, &target, &source, tls_failed))
            }
        };
    }
    let prefer = target.tls.mode == SslMode::Prefer;
    config.ssl_mode(if prefer {
        PgSslMode::Prefer
    } else {
        PgSslMode::Require
    });
    let failure = match attempt(&config, connector.clone(), target.connect_timeout).await {
        Ok(client) => return Ok(client),
        Err(failure) => failure,
    };
    let handshake = connector.last_handshake();
    if prefer && should_retry_without_tls(&failure, handshake) {
        tracing::debug!(
            "connection to {} over TLS failed ({}); retrying without TLS",
            target.server_label(),
            failure.cause()
        );
        config.ssl_mode(PgSslMode::Disable);
        return attempt(&config, NoTls, target.connect_timeout)
            .await
            .map_err(|f| classify(f, &target, &source, false));
    }
    Err(classify(
        failure,
        &target,
        &source,
        handshake == Handshake::Failed,
    ))
}

/// libpq's `sslmode=prefer` opens a new connection without TLS when the handshake
/// fails, or when the server rejects the client during authentication over TLS (a
/// `hostnossl` line in pg_hba.conf, say). A server that declines TLS outright is
/// handled by tokio-postgres on the same connection.
fn should_retry_without_tls(failure: &Failure, handshake: Handshake) -> bool {
    match handshake {
        Handshake::Failed => true,
        Handshake::Succeeded => is_rejection(failure),
        Handshake::NotTried => false,
    }
}

/// Whether the server turned the client away during authentication (SQLSTATE class
/// 28: a `hostssl`/`hostnossl` line, a wrong password), as opposed to an unreachable
/// server.
fn is_rejection(failure: &Failure) -> bool {
    matches!(
        failure,
        Failure::Postgres(err)
            if err.as_db_error().is_some_and(|db| db.code().code().starts_with("28"))
    )
}

/// The password given, else the password file's, as libpq looks them up.
fn find_password(target: &Target) -> (Option<String>, PasswordSource) {
    if let Some(password) = &target.password {
        return (Some(password.clone()), PasswordSource::Given);
    }
    let Some(path) = &target.passfile else {
        return (None, PasswordSource::None);
    };
    let query = pgpass::Query {
        host: &target.pgpass_host,
        port: target.port,
        dbname: &target.dbname,
        user: &target.user,
    };
    match pgpass::lookup_file(path, &query) {
        Some(password) => (Some(password), PasswordSource::File(path.clone())),
        None => (None, PasswordSource::None),
    }
}

fn base_config(target: &Target, password: Option<&str>) -> Config {
    let mut config = Config::new();
    match &target.endpoint {
        Endpoint::Tcp(host) => config.host(host),
        Endpoint::Unix(dir) => host_path(&mut config, dir),
    };
    config
        .port(target.port)
        .user(&target.user)
        .dbname(&target.dbname)
        .application_name(&target.application_name);
    if let Some(password) = password {
        config.password(password);
    }
    if let Some(options) = &target.options {
        config.options(options);
    }
    if let Some(timeout) = target.connect_timeout {
        // Bounds each TCP connect; `attempt` bounds the whole start-up.
        config.connect_timeout(timeout);
    }
    if let Some(binding) = target.channel_binding {
        config.channel_binding(match binding {
            ChannelBinding::Disable => PgChannelBinding::Disable,
            ChannelBinding::Prefer => PgChannelBinding::Prefer,
            ChannelBinding::Require => PgChannelBinding::Require,
        });
    }
    config
}

#[cfg(unix)]
fn host_path<'a>(config: &'a mut Config, dir: &std::path::Path) -> &'a mut Config {
    config.host_path(dir)
}

#[cfg(not(unix))]
fn host_path<'a>(config: &'a mut Config, dir: &std::path::Path) -> &'a mut Config {
    // No Unix sockets here; the connection attempt reports the unusable host.
    config.host(&dir.display().to_string())
}

/// Why one attempt failed.
enum Failure {
    Postgres(tokio_postgres::Error),
    Timeout,
}

impl Failure {
    /// The underlying cause, in one line.
    fn cause(&self) -> String {
        match self {
            Failure::Timeout => "timeout expired".to_string(),
            Failure::Postgres(err) => pg_cause(err),
        }
    }
}

/// tokio-postgres's error text without its generic prefix
/// ("error connecting to server: ...").
fn pg_cause(err: &tokio_postgres::Error) -> String {
    match std::error::Error::source(err) {
        Some(source) => source.to_string(),
        None => err.to_string(),
    }
}

/// One connection attempt, bounded by `timeout`; spawns the connection task.
async fn attempt<T>(
    config: &Config,
    tls: T,
    timeout: Option<Duration>,
) -> std::result::Result<Client, Failure>
where
    T: MakeTlsConnect<Socket> + 'static,
    T::Stream: Send + 'static,
{
    let connecting = config.connect(tls);
    let (client, connection) = match timeout {
        Some(limit) => tokio::time::timeout(limit, connecting)
            .await
            .map_err(|_| Failure::Timeout)?,
        None => connecting.await,
    }
    .map_err(Failure::Postgres)?;
    // Drive the connection in the background, routing server notices to tracing.
    tokio::spawn(crate::restore::drive_connection(connection));
    Ok(client)
}

/// Maps a failed attempt to pgbm's error kinds with a one-line message.
fn classify(failure: Failure, target: &Target, source: &PasswordSource, tls_failed: bool) -> Error {
    let label = target.server_label();
    let err = match failure {
        Failure::Timeout => {
            return Error::new(
                ErrorKind::Connect,
                format!("could not connect to {label}: timeout expired"),
            )
        }
        Failure::Postgres(err) => err,
    };
    if let Some(db) = err.as_db_error() {
        let code = db.code().code();
        let kind = match code {
            "28P01" | "28000" => ErrorKind::Auth,
            "3D000" => ErrorKind::DatabaseNotFound,
            _ => ErrorKind::Connect,
        };
        let mut message = format!("connection to {label} failed: {}", db_message(db));
        if let (ErrorKind::Auth, PasswordSource::File(path)) = (kind, source) {
            message.push_str(&format!(
                " (password retrieved from file \"{}\")",
                path.display()
            ));
        }
        return Error::new(kind, message).with_source(err);
    }
    let cause = pg_cause(&err);
    if cause == "password missing" {
        let why = match target.passfile.as_deref().and_then(pgpass::unusable) {
            Some(reason) => format!("none was given, and the {reason}, so it was ignored"),
            None => "none was given and none was found in the password file".to_string(),
        };
        return Error::new(
            ErrorKind::Auth,
            format!(
                "connection to {label} failed: password required for user \"{}\" ({why})",
                target.user
            ),
        )
        .with_source(err);
    }
    // tokio-postgres has no predicate for its authentication errors (SCRAM failures,
    // channel binding refused); its Display names the kind.
    if err.to_string().starts_with("authentication error") {
        return Error::new(
            ErrorKind::Auth,
            format!("connection to {label} failed: {cause}"),
        )
        .with_source(err);
    }
    let cause = match (tls_failed, &target.endpoint) {
        (true, Endpoint::Tcp(host)) => format!(
            "TLS handshake failed: {}",
            tls::explain_handshake_error(&err, host)
        ),
        _ => cause,
    };
    Error::new(
        ErrorKind::Connect,
        format!("could not connect to {label}: {cause}"),
    )
    .with_source(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn target() -> Target {
        let defaults = Defaults {
            os_user: Some("osuser".into()),
            home: None,
            exists: Box::new(|_| false),
        };
        ConnOptions::parse("host=db.example port=5433 password=hunter2")
            .expect("parse")
            .resolve(&defaults)
            .expect("resolve")
    }

    #[test]
    fn timeouts_are_connect_errors_without_secrets() {
        let err = classify(Failure::Timeout, &target(), &PasswordSource::Given, false);
        assert_eq!(err.kind(), ErrorKind::Connect);
        assert_eq!(
            err.to_string(),
            "could not connect to server at db.example:5433: timeout expired"
        );
    }

    #[test]
    fn prefer_retries_only_after_a_failed_handshake_or_a_rejection_over_tls() {
        assert!(should_retry_without_tls(
            &Failure::Timeout,
            Handshake::Failed
        ));
        assert!(!should_retry_without_tls(
            &Failure::Timeout,
            Handshake::Succeeded
        ));
        assert!(!should_retry_without_tls(
            &Failure::Timeout,
            Handshake::NotTried
        ));
    }

    #[test]
    fn password_given_wins_over_the_file() {
        let (password, source) = find_password(&target());
        assert_eq!(password.as_deref(), Some("hunter2"));
        assert!(matches!(source, PasswordSource::Given));
    }

    #[cfg(unix)]
    #[test]
    fn password_file_is_searched_for_the_resolved_target() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pgpass");
        std::fs::write(&path, "db.example:5433:osuser:osuser:from-file\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let mut t = target();
        t.password = None;
        t.passfile = Some(path.clone());
        let (password, source) = find_password(&t);
        assert_eq!(password.as_deref(), Some("from-file"));
        assert!(matches!(source, PasswordSource::File(p) if p == path));

        t.passfile = Some(PathBuf::from("/nonexistent/pgpass"));
        assert!(matches!(find_password(&t), (None, PasswordSource::None)));
    }
}
