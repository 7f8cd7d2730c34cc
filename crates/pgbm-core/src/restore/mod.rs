//! Restore: runs a plain-format SQL script against a server.
//!
//! SKELETON: the executor is being written.

use crate::conn::ConnOptions;
use crate::error::{Error, Result};
use tokio::io::AsyncBufRead;

/// Options of a restore.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RestoreOptions {
    /// Run the whole script in one transaction (`BEGIN` ... `COMMIT`).
    pub single_transaction: bool,
    /// Create the target database before restoring into it.
    pub create: bool,
    /// Database to restore into (with `create`: the one to create).
    pub target_db: Option<String>,
}

/// What a restore did.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RestoreSummary {
    /// Statements executed (COPY statements included).
    pub statements: u64,
    /// COPY blocks loaded.
    pub copies: u64,
    /// Bytes of COPY data sent to the server.
    pub copy_bytes: u64,
}

/// Restores the plain-format script read from `input`.
///
/// # Errors
/// Stops at the first failing statement: the error carries its line, SQLSTATE and
/// the server's message.
pub async fn restore<R>(
    conn: &ConnOptions,
    opts: &RestoreOptions,
    input: R,
) -> Result<RestoreSummary>
where
    R: AsyncBufRead + Unpin + Send,
{
    let _ = (conn, opts, input);
    Err(Error::internal("restore is not implemented yet"))
}
