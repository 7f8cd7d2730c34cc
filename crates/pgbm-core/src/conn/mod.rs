//! Connection options as libpq users know them, and connecting.
//!
//! NOTE (skeleton): this minimal version only handles host/port/user/password/dbname
//! without TLS; the full libpq-compatible version replaces it.

use crate::error::{Error, ErrorKind, Result};
use tokio_postgres::{Client, NoTls};

/// Options for connecting to a PostgreSQL server, resolved the way libpq resolves them.
///
/// `Debug` never prints the password.
#[derive(Clone, Default)]
pub struct ConnOptions {
    /// Host name, IP address or Unix socket directory.
    pub host: Option<String>,
    /// TCP port (or socket file suffix).
    pub port: Option<u16>,
    /// Role name.
    pub user: Option<String>,
    /// Database name.
    pub dbname: Option<String>,
    password: Option<String>,
}

impl std::fmt::Debug for ConnOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnOptions")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("dbname", &self.dbname)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl ConnOptions {
    /// Sets the password.
    pub fn set_password(&mut self, password: impl Into<String>) {
        self.password = Some(password.into());
    }

    /// A copy of these options for another database on the same server.
    #[must_use]
    pub fn with_dbname(&self, dbname: &str) -> Self {
        let mut c = self.clone();
        c.dbname = Some(dbname.to_string());
        c
    }

    /// Opens a connection; the connection task runs on the current tokio runtime.
    ///
    /// # Errors
    /// [`ErrorKind::Connect`], [`ErrorKind::Auth`] or [`ErrorKind::DatabaseNotFound`].
    pub async fn connect(&self) -> Result<Client> {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(self.host.as_deref().unwrap_or("/var/run/postgresql"));
        cfg.port(self.port.unwrap_or(5432));
        cfg.user(self.user.as_deref().unwrap_or("postgres"));
        if let Some(db) = &self.dbname {
            cfg.dbname(db);
        }
        if let Some(pw) = &self.password {
            cfg.password(pw);
        }
        cfg.application_name("pgbm");
        let (client, conn) = cfg.connect(NoTls).await.map_err(classify)?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("connection ended: {e}");
            }
        });
        Ok(client)
    }
}

fn classify(err: tokio_postgres::Error) -> Error {
    if let Some(db) = err.as_db_error() {
        let kind = match db.code().code() {
            "28P01" | "28000" => ErrorKind::Auth,
            "3D000" => ErrorKind::DatabaseNotFound,
            _ => ErrorKind::Connect,
        };
        return Error::new(kind, db.message().to_string()).with_source(err);
    }
    Error::new(ErrorKind::Connect, format!("could not connect to server: {err}")).with_source(err)
}
