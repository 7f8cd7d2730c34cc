//! Connection options as libpq users know them, and connecting.
//!
//! [`ConnOptions`] holds the libpq connection parameters pgbm understands. Values come
//! from three layers, and a value given in a higher layer wins:
//!
//! 1. **explicit values**: a conninfo string or URI ([`ConnOptions::parse`],
//!    [`ConnOptions::from_dbname_arg`] for psql's `-d`), command-line flags and setters;
//! 2. **the environment**: `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, ...
//!    ([`ConnOptions::from_env`]);
//! 3. **defaults**, applied when connecting: the Unix socket directory
//!    `/var/run/postgresql` (Debian's libpq default; see [`ConnOptions::host`]), port
//!    5432, the operating system user name, a database named like the user,
//!    `sslmode=prefer`, `application_name=pgbm`.
//!
//! Layers are combined with [`ConnOptions::merge`]. psql and pg_dump pass `-h -p -U`
//! and then the `-d` string to libpq, so values inside a `-d` conninfo win over the
//! flags; a front end that wants the same behaviour writes
//!
//! ```no_run
//! # use pgbm_core::ConnOptions;
//! # fn f(flags: ConnOptions, dash_d: Option<&str>) -> pgbm_core::Result<ConnOptions> {
//! let mut opts = ConnOptions::from_env()?.merge(flags);
//! if let Some(d) = dash_d {
//!     opts = opts.merge(ConnOptions::from_dbname_arg(d)?);
//! }
//! # Ok(opts) }
//! ```
//!
//! [`ConnOptions::connect`] does not read `PG*` variables by itself, so that a library
//! caller gets exactly what it asked for; it does read the password file (`passfile`,
//! else `~/.pgpass`) when no password is given, and `~/.postgresql/root.crt`.
//!
//! Passwords never leave this module in text meant for people: `Debug` redacts them,
//! [`ConnOptions::describe`] omits them, and errors never quote a connection string.

mod certname;
mod connect;
mod conninfo;
mod pgpass;
mod resolve;
mod tls;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};

pub use tls::SslMode;

/// The `application_name` pgbm reports unless told otherwise.
pub const DEFAULT_APPLICATION_NAME: &str = "pgbm";

/// Options for connecting to a PostgreSQL server, resolved the way libpq resolves them.
///
/// Every field is "not given" until set; defaults are applied when connecting (and by
/// the accessors, which return effective values). `Debug` never prints the password.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ConnOptions {
    host: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    dbname: Option<String>,
    password: Option<String>,
    passfile: Option<PathBuf>,
    sslmode: Option<SslMode>,
    sslrootcert: Option<String>,
    application_name: Option<String>,
    fallback_application_name: Option<String>,
    /// `Duration::ZERO` means "wait forever" (libpq's `connect_timeout=0`).
    connect_timeout: Option<Duration>,
    options: Option<String>,
    channel_binding: Option<ChannelBinding>,
}

/// libpq's `channel_binding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChannelBinding {
    Disable,
    Prefer,
    Require,
}

/// libpq keywords pgbm knows but does not implement: naming one is an error rather
/// than being silently ignored, since each changes where or how libpq would connect.
const UNSUPPORTED_KEYWORDS: &[&str] = &[
    "hostaddr",
    "client_encoding",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "replication",
    "sslnegotiation",
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslcertmode",
    "sslcrl",
    "sslcrldir",
    "requirepeer",
    "require_auth",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "service",
    "target_session_attrs",
    "load_balance_hosts",
];

/// Environment variables and the keyword each one sets, as in libpq.
const ENV_VARS: &[(&str, &str)] = &[
    ("PGHOST", "host"),
    ("PGPORT", "port"),
    ("PGDATABASE", "dbname"),
    ("PGUSER", "user"),
    ("PGPASSWORD", "password"),
    ("PGPASSFILE", "passfile"),
    ("PGOPTIONS", "options"),
    ("PGAPPNAME", "application_name"),
    ("PGSSLMODE", "sslmode"),
    ("PGSSLROOTCERT", "sslrootcert"),
    ("PGCONNECT_TIMEOUT", "connect_timeout"),
    ("PGCHANNELBINDING", "channel_binding"),
    ("PGGSSENCMODE", "gssencmode"),
];

/// libpq environment variables pgbm ignores; a warning says so when one is set.
const UNSUPPORTED_ENV_VARS: &[&str] = &[
    "PGHOSTADDR",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGSSLCERT",
    "PGSSLKEY",
    "PGSSLCRL",
    "PGSSLCRLDIR",
    "PGREQUIREPEER",
    "PGREQUIREAUTH",
    "PGTARGETSESSIONATTRS",
    "PGCLIENTENCODING",
    "PGSSLNEGOTIATION",
];

impl fmt::Debug for ConnOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnOptions")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("dbname", &self.dbname)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("passfile", &self.passfile)
            .field("sslmode", &self.sslmode)
            .field("sslrootcert", &self.sslrootcert)
            .field("application_name", &self.application_name)
            .field("fallback_application_name", &self.fallback_application_name)
            .field("connect_timeout", &self.connect_timeout)
            .field("options", &self.options)
            .field("channel_binding", &self.channel_binding)
            .finish()
    }
}

impl ConnOptions {
    /// Options with nothing set: connecting uses only the defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a conninfo string (`host=db port=5433 dbname='my db'`) or a URI
    /// (`postgresql://user:pw@host:5433/db?sslmode=require`).
    ///
    /// # Errors
    /// [`ErrorKind::Usage`](crate::ErrorKind::Usage) for malformed text, an unknown
    /// keyword (named in the message), an unsupported one, an invalid value, or more
    /// than one host.
    pub fn parse(conninfo: &str) -> Result<Self> {
        let mut opts = Self::new();
        for (keyword, value) in conninfo::parse(conninfo)? {
            opts.set_option(&keyword, &value)?;
        }
        Ok(opts)
    }

    /// Interprets the value of psql's and pg_dump's `-d`: a conninfo string or URI if
    /// it starts with `postgresql://`/`postgres://` or contains `=`, else a database
    /// name.
    ///
    /// # Errors
    /// As [`ConnOptions::parse`].
    pub fn from_dbname_arg(arg: &str) -> Result<Self> {
        if conninfo::is_connection_string(arg) {
            Self::parse(arg)
        } else {
            let mut opts = Self::new();
            opts.set_dbname(arg);
            Ok(opts)
        }
    }

    /// Whether `arg` would be read as a connection string by
    /// [`ConnOptions::from_dbname_arg`].
    pub fn is_connection_string(arg: &str) -> bool {
        conninfo::is_connection_string(arg)
    }

    /// The options set by the process environment (`PGHOST`, `PGPORT`, `PGUSER`,
    /// `PGPASSWORD`, `PGDATABASE`, `PGPASSFILE`, `PGOPTIONS`, `PGAPPNAME`, `PGSSLMODE`,
    /// `PGSSLROOTCERT`, `PGCONNECT_TIMEOUT`, `PGCHANNELBINDING`, `PGGSSENCMODE`).
    ///
    /// # Errors
    /// [`ErrorKind::Usage`](crate::ErrorKind::Usage) if a variable holds an invalid
    /// value; the message names the variable.
    pub fn from_env() -> Result<Self> {
        let names = ENV_VARS
            .iter()
            .map(|(name, _)| *name)
            .chain(UNSUPPORTED_ENV_VARS.iter().copied());
        Self::from_env_vars(names.filter_map(|name| Some((name, std::env::var(name).ok()?))))
    }

    /// Like [`ConnOptions::from_env`], from the given variables instead of the
    /// process environment (for tests and embedding). Unrelated variables are ignored.
    ///
    /// # Errors
    /// As [`ConnOptions::from_env`].
    pub fn from_env_vars<I, K, V>(vars: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let vars: HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string()))
            .collect();
        let mut opts = Self::new();
        for (name, keyword) in ENV_VARS {
            if let Some(value) = vars.get(*name) {
                opts.set_option(keyword, value)
                    .map_err(|e| Error::usage(format!("{name}: {e}")))?;
            }
        }
        for name in UNSUPPORTED_ENV_VARS {
            if vars.get(*name).is_some_and(|v| !v.is_empty()) {
                tracing::warn!(
                    "environment variable {name} is not supported by pgbm and is ignored"
                );
            }
        }
        Ok(opts)
    }

    /// These options with every value that `over` sets replaced by `over`'s.
    ///
    /// `base.merge(over)`: `over` is the higher-precedence layer (see the module
    /// documentation).
    #[must_use]
    pub fn merge(self, over: ConnOptions) -> Self {
        ConnOptions {
            host: over.host.or(self.host),
            port: over.port.or(self.port),
            user: over.user.or(self.user),
            dbname: over.dbname.or(self.dbname),
            password: over.password.or(self.password),
            passfile: over.passfile.or(self.passfile),
            sslmode: over.sslmode.or(self.sslmode),
            sslrootcert: over.sslrootcert.or(self.sslrootcert),
            application_name: over.application_name.or(self.application_name),
            fallback_application_name: over
                .fallback_application_name
                .or(self.fallback_application_name),
            connect_timeout: over.connect_timeout.or(self.connect_timeout),
            options: over.options.or(self.options),
            channel_binding: over.channel_binding.or(self.channel_binding),
        }
    }

    /// Sets one option by its libpq keyword, from text (as in a conninfo string).
    /// An empty value unsets the option.
    ///
    /// Supported keywords: `host`, `port`, `user`, `dbname`, `password`, `passfile`,
    /// `sslmode`, `sslrootcert`, `application_name`, `fallback_application_name`,
    /// `connect_timeout`, `options`, `channel_binding`, and `gssencmode` (`disable` or
    /// `prefer`; pgbm never uses GSSAPI encryption, so both mean "off").
    ///
    /// # Errors
    /// [`ErrorKind::Usage`](crate::ErrorKind::Usage) for an unknown or unsupported
    /// keyword, or an invalid value. The message never contains a password.
    pub fn set_option(&mut self, keyword: &str, value: &str) -> Result<()> {
        let text = (!value.is_empty()).then(|| value.to_string());
        match keyword {
            "host" => self.host = text.map(single_host).transpose()?,
            "port" => self.port = text.as_deref().map(parse_port).transpose()?,
            "user" => self.user = text,
            "dbname" => self.dbname = text,
            "password" => self.password = text,
            "passfile" => self.passfile = text.map(PathBuf::from),
            "sslmode" => self.sslmode = text.as_deref().map(str::parse).transpose()?,
            "sslrootcert" => self.sslrootcert = text,
            "application_name" => self.application_name = text,
            "fallback_application_name" => self.fallback_application_name = text,
            "connect_timeout" => {
                self.connect_timeout = text.as_deref().map(parse_timeout).transpose()?;
            }
            "options" => self.options = text,
            "channel_binding" => {
                self.channel_binding = text.as_deref().map(parse_channel_binding).transpose()?;
            }
            "gssencmode" => check_gssencmode(value)?,
            k if UNSUPPORTED_KEYWORDS.contains(&k) => {
                return Err(Error::usage(format!(
                    "connection option \"{k}\" is not supported by pgbm"
                )))
            }
            k => return Err(Error::usage(format!("invalid connection option \"{k}\""))),
        }
        Ok(())
    }

    /// A copy of these options for another database on the same server.
    #[must_use]
    pub fn with_dbname(&self, dbname: &str) -> Self {
        let mut c = self.clone();
        c.set_dbname(dbname);
        c
    }

    /// Sets the host: a name, an IP address, or (starting with `/`) a Unix socket
    /// directory. An empty string unsets it.
    pub fn set_host(&mut self, host: impl Into<String>) {
        self.host = Some(host.into()).filter(|h| !h.is_empty());
    }

    /// Sets the TCP port (also the number in the socket file name `.s.PGSQL.<port>`).
    pub fn set_port(&mut self, port: u16) {
        self.port = Some(port);
    }

    /// Sets the role name. An empty string unsets it.
    pub fn set_user(&mut self, user: impl Into<String>) {
        self.user = Some(user.into()).filter(|u| !u.is_empty());
    }

    /// Sets the database name. An empty string unsets it.
    pub fn set_dbname(&mut self, dbname: impl Into<String>) {
        self.dbname = Some(dbname.into()).filter(|d| !d.is_empty());
    }

    /// Sets the password. An empty string unsets it.
    pub fn set_password(&mut self, password: impl Into<String>) {
        self.password = Some(password.into()).filter(|p| !p.is_empty());
    }

    /// Sets the password file consulted when no password is given (default
    /// `~/.pgpass`).
    pub fn set_passfile(&mut self, path: impl Into<PathBuf>) {
        self.passfile = Some(path.into());
    }

    /// Sets the TLS mode.
    pub fn set_sslmode(&mut self, mode: SslMode) {
        self.sslmode = Some(mode);
    }

    /// Sets the root certificate file (PEM), or `"system"` for the Mozilla roots.
    pub fn set_sslrootcert(&mut self, path: impl Into<String>) {
        self.sslrootcert = Some(path.into()).filter(|p| !p.is_empty());
    }

    /// Sets the `application_name` reported to the server.
    pub fn set_application_name(&mut self, name: impl Into<String>) {
        self.application_name = Some(name.into());
    }

    /// Sets the connection timeout; `Duration::ZERO` waits forever. As in libpq, a
    /// timeout below two seconds is raised to two.
    pub fn set_connect_timeout(&mut self, timeout: Duration) {
        self.connect_timeout = Some(timeout);
    }

    /// Sets server options sent at connection start (`-c name=value ...`).
    pub fn set_options(&mut self, options: impl Into<String>) {
        self.options = Some(options.into()).filter(|o| !o.is_empty());
    }

    /// The effective host: the one given, else the default Unix socket directory
    /// (`/var/run/postgresql` if it holds a socket for this port or exists, else `/tmp`
    /// if it holds one), else `localhost`.
    ///
    /// libpq has a compiled-in socket directory (`/var/run/postgresql` on Debian,
    /// `/tmp` elsewhere); pgbm looks at both so one binary suits both kinds of system.
    pub fn host(&self) -> String {
        self.effective_host(&resolve::Defaults::system())
    }

    /// The effective port: the one given, else 5432.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(resolve::DEFAULT_PORT)
    }

    /// The effective role name: the one given, else the operating system user name
    /// (empty if that cannot be determined).
    pub fn user(&self) -> String {
        self.effective_user(&resolve::Defaults::system())
            .unwrap_or_default()
    }

    /// The effective database name: the one given, else the effective user name.
    pub fn dbname(&self) -> String {
        self.effective_dbname(&resolve::Defaults::system())
            .unwrap_or_default()
    }

    /// Whether a password is set (explicitly or from `PGPASSWORD`); the password
    /// file is not consulted.
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// The TLS mode given, else [`SslMode::Prefer`] (or [`SslMode::VerifyFull`] with
    /// `sslrootcert=system`, as in libpq).
    pub fn sslmode(&self) -> SslMode {
        match (self.sslmode, self.sslrootcert.as_deref()) {
            (Some(mode), _) => mode,
            (None, Some(tls::SYSTEM_ROOTS)) => SslMode::VerifyFull,
            (None, _) => SslMode::default(),
        }
    }

    /// The effective `application_name`.
    pub fn application_name(&self) -> &str {
        self.application_name
            .as_deref()
            .or(self.fallback_application_name.as_deref())
            .unwrap_or(DEFAULT_APPLICATION_NAME)
    }

    /// The effective connection timeout; `None` waits forever.
    pub fn connect_timeout(&self) -> Option<Duration> {
        resolve::effective_timeout(self.connect_timeout)
    }

    /// Describes the target without secrets, for logs: `user@host:port/dbname`
    /// (`bob@db.example:5432/sales`, `postgres@/var/run/postgresql:5432/postgres`,
    /// `bob@[::1]:5433/x`).
    pub fn describe(&self) -> String {
        self.describe_with(&resolve::Defaults::system())
    }

    /// Opens a connection; the connection task runs on the current tokio runtime.
    ///
    /// Uses TLS as `sslmode` says (never on Unix sockets), and the password given or
    /// found in the password file. See the module documentation for what is read from
    /// the environment.
    ///
    /// # Errors
    /// [`ErrorKind::Connect`](crate::ErrorKind::Connect) if the server cannot be
    /// reached, the TLS handshake fails or the timeout expires;
    /// [`ErrorKind::Auth`](crate::ErrorKind::Auth) if the server rejects the
    /// credentials or wants a password and none is known;
    /// [`ErrorKind::DatabaseNotFound`](crate::ErrorKind::DatabaseNotFound) if the
    /// database does not exist; [`ErrorKind::Usage`](crate::ErrorKind::Usage) for
    /// options that cannot work (e.g. `verify-full` without a root certificate).
    pub async fn connect(&self) -> Result<tokio_postgres::Client> {
        connect::connect(self, &resolve::Defaults::system()).await
    }
}

/// Rejects `a,b` host lists: libpq tries hosts in turn, pgbm connects to one.
fn single_host(host: String) -> Result<String> {
    if host.contains(',') {
        Err(conninfo::multiple_hosts())
    } else {
        Ok(host)
    }
}

fn parse_port(text: &str) -> Result<u16> {
    if text.contains(',') {
        return Err(conninfo::multiple_hosts());
    }
    match text.trim().parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(Error::usage(format!("invalid port number: \"{text}\""))),
    }
}

/// libpq: an integer number of seconds; zero or negative waits forever.
fn parse_timeout(text: &str) -> Result<Duration> {
    let secs: i64 = text.trim().parse().map_err(|_| {
        Error::usage(format!(
            "invalid integer value \"{text}\" for connection option \"connect_timeout\""
        ))
    })?;
    Ok(Duration::from_secs(secs.max(0).unsigned_abs()))
}

fn parse_channel_binding(text: &str) -> Result<ChannelBinding> {
    match text {
        "disable" => Ok(ChannelBinding::Disable),
        "prefer" => Ok(ChannelBinding::Prefer),
        "require" => Ok(ChannelBinding::Require),
        _ => Err(Error::usage(format!(
            "invalid channel_binding value: \"{text}\""
        ))),
    }
}

fn check_gssencmode(text: &str) -> Result<()> {
    match text {
        "" | "disable" | "prefer" => Ok(()),
        "require" => Err(Error::usage(
            "gssencmode \"require\" is not supported by pgbm (no GSSAPI encryption)",
        )),
        _ => Err(Error::usage(format!(
            "invalid gssencmode value: \"{text}\""
        ))),
    }
}

#[cfg(test)]
mod tests;
