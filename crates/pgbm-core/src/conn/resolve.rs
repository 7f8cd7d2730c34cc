//! Applying defaults: from the options given to the concrete values used to connect.
//!
//! Everything that depends on the machine (the OS user, the home directory, which
//! files exist) comes in through [`Defaults`], so the rules are pure functions and the
//! tests need neither a real home directory nor a PostgreSQL installation.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::tls::TlsPolicy;
use super::{ChannelBinding, ConnOptions};
use crate::error::{Error, Result};

/// PostgreSQL's default port.
pub(crate) const DEFAULT_PORT: u16 = 5432;

/// Socket directories libpq builds commonly use: Debian's first, then upstream's.
pub(crate) const DEFAULT_SOCKET_DIRS: [&str; 2] = ["/var/run/postgresql", "/tmp"];

/// The host used when neither a socket directory nor TCP applies.
const DEFAULT_TCP_HOST: &str = "localhost";

/// libpq never waits less than this for a connection when a timeout is set.
const MIN_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Facts about the machine that defaults depend on.
pub(crate) struct Defaults {
    /// The operating system user name, if it can be determined.
    pub os_user: Option<String>,
    /// The home directory (`$HOME`), for `~/.pgpass` and `~/.postgresql/root.crt`.
    pub home: Option<PathBuf>,
    /// Whether a path exists (file, directory or socket).
    pub exists: Box<dyn Fn(&Path) -> bool + Send + Sync>,
}

impl Defaults {
    /// The facts of this process and machine.
    pub fn system() -> Self {
        Defaults {
            os_user: whoami::username().ok(),
            home: std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(PathBuf::from),
            exists: Box::new(|p| p.exists()),
        }
    }

    fn pgpass(&self) -> Option<PathBuf> {
        self.home.as_ref().map(|h| h.join(".pgpass"))
    }

    fn root_cert(&self) -> Option<PathBuf> {
        self.home.as_ref().map(|h| h.join(".postgresql/root.crt"))
    }
}

/// Where the server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// TCP to a host name or IP address.
    Tcp(String),
    /// A Unix-domain socket in this directory.
    Unix(PathBuf),
}

impl Endpoint {
    fn from_host(host: &str) -> Self {
        if host.starts_with('/') {
            Endpoint::Unix(PathBuf::from(host))
        } else {
            Endpoint::Tcp(host.to_string())
        }
    }
}

/// Everything needed to open one connection, with defaults applied.
#[derive(Debug)]
pub(crate) struct Target {
    pub endpoint: Endpoint,
    pub port: u16,
    pub user: String,
    pub dbname: String,
    /// Given or from `PGPASSWORD`; the password file is read later, when needed.
    pub password: Option<String>,
    /// The password file to consult when `password` is `None`.
    pub passfile: Option<PathBuf>,
    /// The host name the password file is searched for (libpq's rules).
    pub pgpass_host: String,
    pub tls: TlsPolicy,
    pub application_name: String,
    pub options: Option<String>,
    pub connect_timeout: Option<Duration>,
    pub channel_binding: Option<ChannelBinding>,
}

impl Target {
    /// `server at HOST:PORT` or `server on socket "DIR/.s.PGSQL.PORT"`, for messages.
    pub fn server_label(&self) -> String {
        match &self.endpoint {
            Endpoint::Tcp(host) => format!("server at {}:{}", bracket_ipv6(host), self.port),
            Endpoint::Unix(dir) => format!(
                "server on socket \"{}\"",
                dir.join(format!(".s.PGSQL.{}", self.port)).display()
            ),
        }
    }
}

/// `[::1]` for IPv6 literals, so that `host:port` stays readable.
fn bracket_ipv6(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// The default host for `port`: a socket directory holding the server's socket, else
/// the first one that exists, else `localhost`.
pub(crate) fn default_host(port: u16, exists: &dyn Fn(&Path) -> bool) -> String {
    if cfg!(unix) {
        let socket = format!(".s.PGSQL.{port}");
        let dirs = DEFAULT_SOCKET_DIRS.iter().map(Path::new);
        if let Some(dir) = dirs.clone().find(|d| exists(&d.join(&socket))) {
            return dir.display().to_string();
        }
        if let Some(dir) = dirs.take(1).find(|d| exists(d)) {
            return dir.display().to_string();
        }
    }
    DEFAULT_TCP_HOST.to_string()
}

/// libpq: the password file is searched for `localhost` when the host is the default
/// socket directory (or not given); any other host, socket directories included, is
/// searched for as written.
fn pgpass_host(host: &str) -> String {
    if DEFAULT_SOCKET_DIRS.contains(&host.trim_end_matches('/')) {
        DEFAULT_TCP_HOST.to_string()
    } else {
        host.to_string()
    }
}

/// libpq's timeout rules: zero waits forever, anything shorter than two seconds is two.
pub(crate) fn effective_timeout(given: Option<Duration>) -> Option<Duration> {
    given
        .filter(|t| !t.is_zero())
        .map(|t| t.max(MIN_CONNECT_TIMEOUT))
}

impl ConnOptions {
    pub(crate) fn effective_host(&self, defaults: &Defaults) -> String {
        self.host
            .clone()
            .unwrap_or_else(|| default_host(self.port(), &defaults.exists))
    }

    pub(crate) fn effective_user(&self, defaults: &Defaults) -> Option<String> {
        self.user.clone().or_else(|| defaults.os_user.clone())
    }

    pub(crate) fn effective_dbname(&self, defaults: &Defaults) -> Option<String> {
        self.dbname
            .clone()
            .or_else(|| self.effective_user(defaults))
    }

    pub(crate) fn describe_with(&self, defaults: &Defaults) -> String {
        format!(
            "{}@{}:{}/{}",
            self.effective_user(defaults).unwrap_or_default(),
            bracket_ipv6(&self.effective_host(defaults)),
            self.port(),
            self.effective_dbname(defaults).unwrap_or_default()
        )
    }

    /// Applies the defaults and checks that the result can be used to connect.
    pub(crate) fn resolve(&self, defaults: &Defaults) -> Result<Target> {
        let host = self.effective_host(defaults);
        let user = self.effective_user(defaults).ok_or_else(|| {
            Error::usage(
                "could not determine the operating system user name; give a user name \
                 (-U, PGUSER or user=)",
            )
        })?;
        let endpoint = Endpoint::from_host(&host);
        let tls = match endpoint {
            // libpq ignores every TLS option on Unix sockets, even verify-full.
            Endpoint::Unix(_) => TlsPolicy::disabled(),
            Endpoint::Tcp(_) => TlsPolicy::decide(
                self.sslmode,
                self.sslrootcert.as_deref(),
                defaults.root_cert().as_deref(),
                &defaults.exists,
            )?,
        };
        Ok(Target {
            endpoint,
            port: self.port(),
            dbname: self.dbname.clone().unwrap_or_else(|| user.clone()),
            user,
            password: self.password.clone(),
            passfile: self.passfile.clone().or_else(|| defaults.pgpass()),
            pgpass_host: pgpass_host(&host),
            tls,
            application_name: self.application_name().to_string(),
            options: self.options.clone(),
            connect_timeout: self.connect_timeout(),
            channel_binding: self.channel_binding,
        })
    }
}
