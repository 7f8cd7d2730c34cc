//! Server notices (NOTICE, WARNING, ...) go to `tracing`, never to stdout.
//!
//! tokio-postgres hands notices only to whoever polls the `Connection`; awaiting the
//! connection as a plain future sends them to the `log` crate instead. A connect
//! function that wants them in `tracing` spawns [`drive_connection`] rather than the
//! bare connection:
//!
//! ```no_run
//! # async fn connect(config: tokio_postgres::Config) -> Result<(), tokio_postgres::Error> {
//! let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
//! tokio::spawn(pgbm_core::restore::drive_connection(connection));
//! # drop(client);
//! # Ok(())
//! # }
//! ```

use std::future::poll_fn;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::error::{DbError, Severity};
use tokio_postgres::{AsyncMessage, Connection};

/// Drives `connection` until it closes, logging the server's notices through
/// [`log_notice`] and notifications at debug level.
///
/// # Errors
/// The error that ended the connection (the client sees it too).
pub async fn drive_connection<S, T>(
    mut connection: Connection<S, T>,
) -> Result<(), tokio_postgres::Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match poll_fn(|cx| connection.poll_message(cx)).await {
            Some(Ok(AsyncMessage::Notice(notice))) => log_notice(&notice),
            Some(Ok(AsyncMessage::Notification(n))) => {
                tracing::debug!(channel = n.channel(), payload = n.payload(), "notification");
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                tracing::debug!("connection ended: {e}");
                return Err(e);
            }
            None => return Ok(()),
        }
    }
}

/// Logs a server notice at the level matching its severity: WARNING as `warn`, DEBUG
/// and LOG as `debug`, the rest (NOTICE, INFO) as `info`.
pub fn log_notice(notice: &DbError) {
    let code = notice.code().code();
    let message = notice.message();
    // Options: tracing records the field only when there is one.
    let detail = notice.detail();
    let hint = notice.hint();
    match notice.parsed_severity() {
        Some(Severity::Warning) => {
            tracing::warn!(sqlstate = code, detail, hint, "server warning: {message}");
        }
        Some(Severity::Debug | Severity::Log) => {
            tracing::debug!(sqlstate = code, detail, hint, "server: {message}");
        }
        _ => tracing::info!(sqlstate = code, detail, hint, "server notice: {message}"),
    }
}
