//! Errors of pgbm-core.
//!
//! Rules, so that every layer speaks the same language:
//!
//! * There is one public error type, [`Error`]: opaque, cheap to move (boxed), with a
//!   [`kind`](Error::kind) that front ends map to exit codes and exception classes.
//!   Add a new [`ErrorKind`] only for a class of failure a *user or script* must tell
//!   apart; everything else is context on an existing kind.
//! * Messages are one line, lower case, without a trailing period, and name the thing
//!   that failed (file, table, line). Secrets never appear in them.
//! * Server errors keep their SQLSTATE ([`Error::sqlstate`]); restore errors also keep
//!   the script line and the statement ([`Error::script_location`]).
//! * Convert foreign errors at the point where the context is known (use the
//!   constructors here), not with a blanket `From` that loses it.

use std::fmt;

/// The class of an error. Stable: front ends turn it into an exit code
/// ([`ErrorKind::exit_code`]) and scripts rely on those.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bad arguments or options (conflicting flags, malformed conninfo, ...).
    Usage,
    /// The server could not be reached (refused, DNS, timeout, TLS handshake).
    Connect,
    /// The server rejected the credentials.
    Auth,
    /// The database named in the connection does not exist.
    DatabaseNotFound,
    /// The server reported an error while running a statement or COPY.
    Server,
    /// A script could not be parsed (unterminated COPY, unknown meta-command, ...).
    Script,
    /// Reading or writing a local file or stream failed.
    Io,
    /// The database holds something pgbm cannot dump faithfully.
    Unsupported,
    /// A bug or an impossible state inside pgbm.
    Internal,
    /// No key slot of an encrypted archive opens with the given passphrase or key file.
    WrongKey,
    /// An archive failed a checksum or authentication check, is truncated, or is not a
    /// pgbm archive of a format version this build reads.
    Corrupt,
    /// The object asked for (a backup, a file in a repository) does not exist.
    NotFound,
}

impl ErrorKind {
    /// The process exit code for this kind, as documented in README.md.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::Internal => 1,
            ErrorKind::Usage => 2,
            ErrorKind::Connect => 3,
            ErrorKind::Auth => 4,
            ErrorKind::DatabaseNotFound => 5,
            ErrorKind::Server => 6,
            ErrorKind::Script => 7,
            ErrorKind::Io => 8,
            ErrorKind::Unsupported => 9,
            ErrorKind::WrongKey => 10,
            ErrorKind::Corrupt => 11,
            ErrorKind::NotFound => 12,
        }
    }
}

/// Where in a SQL script an error happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptLocation {
    /// 1-based line of the script on which the failing statement starts.
    pub line: u64,
    /// The statement (possibly shortened for display).
    pub statement: String,
}

/// The error type of pgbm-core. See the module documentation for the rules.
pub struct Error(Box<Inner>);

struct Inner {
    kind: ErrorKind,
    message: String,
    sqlstate: Option<String>,
    location: Option<ScriptLocation>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// Result alias used throughout pgbm-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with a one-line message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error(Box::new(Inner {
            kind,
            message: message.into(),
            sqlstate: None,
            location: None,
            source: None,
        }))
    }

    /// Attach the underlying cause (kept for `source()`, not printed by `Display`).
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.0.source = Some(Box::new(source));
        self
    }

    /// Attach a script location.
    #[must_use]
    pub fn with_location(mut self, location: ScriptLocation) -> Self {
        self.0.location = Some(location);
        self
    }

    /// Shorthand for a [`ErrorKind::Usage`] error.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    /// Shorthand for an [`ErrorKind::Internal`] error.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// Shorthand for an [`ErrorKind::Script`] error at `line`.
    pub fn script(line: u64, message: impl Into<String>) -> Self {
        Self::new(
            ErrorKind::Script,
            format!("line {line}: {}", message.into()),
        )
    }

    /// Shorthand for an [`ErrorKind::Unsupported`] error.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    /// An I/O error with what was being done (`"writing dump.sql"`).
    pub fn io(what: impl fmt::Display, err: std::io::Error) -> Self {
        Self::new(ErrorKind::Io, format!("{what}: {err}")).with_source(err)
    }

    /// A server error raised while doing `what` (e.g. `"reading tables"`).
    ///
    /// Errors of the connection itself (closed, I/O) become [`ErrorKind::Connect`].
    pub fn postgres(what: impl fmt::Display, err: tokio_postgres::Error) -> Self {
        match err.as_db_error() {
            Some(db) => {
                let code = db.code().code().to_string();
                let mut e = Self::new(
                    ErrorKind::Server,
                    format!("{what}: {} (SQLSTATE {code})", db_message(db)),
                );
                e.0.sqlstate = Some(code);
                e.with_source(err)
            }
            None if err.is_closed() => Self::new(
                ErrorKind::Connect,
                format!("{what}: the server closed the connection"),
            )
            .with_source(err),
            None => Self::new(ErrorKind::Connect, format!("{what}: {err}")).with_source(err),
        }
    }

    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The one-line message (same as `Display`).
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The SQLSTATE if the server raised this error.
    pub fn sqlstate(&self) -> Option<&str> {
        self.0.sqlstate.as_deref()
    }

    /// Where in the script this error happened, for restore errors.
    pub fn script_location(&self) -> Option<&ScriptLocation> {
        self.0.location.as_ref()
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        self.0.kind.exit_code()
    }
}

/// Renders a server error as psql would: severity-less message plus detail and hint.
pub(crate) fn db_message(db: &tokio_postgres::error::DbError) -> String {
    let mut s = db.message().to_string();
    if let Some(detail) = db.detail() {
        s.push_str("; detail: ");
        s.push_str(detail);
    }
    if let Some(hint) = db.hint() {
        s.push_str("; hint: ");
        s.push_str(hint);
    }
    s
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("message", &self.0.message)
            .field("sqlstate", &self.0.sqlstate)
            .field("location", &self.0.location)
            .finish_non_exhaustive()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_distinct() {
        let kinds = [
            ErrorKind::Usage,
            ErrorKind::Connect,
            ErrorKind::Auth,
            ErrorKind::DatabaseNotFound,
            ErrorKind::Server,
            ErrorKind::Script,
            ErrorKind::Io,
            ErrorKind::Unsupported,
            ErrorKind::Internal,
            ErrorKind::WrongKey,
            ErrorKind::Corrupt,
            ErrorKind::NotFound,
        ];
        let mut codes: Vec<i32> = kinds.iter().map(|k| k.exit_code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), kinds.len());
        assert!(!codes.contains(&0));
    }

    #[test]
    fn script_errors_name_the_line() {
        let e = Error::script(12, "COPY data not terminated by \\.");
        assert_eq!(e.kind(), ErrorKind::Script);
        assert!(e.to_string().starts_with("line 12: "));
    }
}
