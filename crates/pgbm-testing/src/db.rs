//! [`TestDb`]: one test's database, and how to reach it.

use std::path::{Path, PathBuf};

use pgbm_core::conn::ConnOptions;
use tokio_postgres::{Client, NoTls};

use crate::block::block_on;

/// The superuser every test cluster is initialized with (`initdb -U postgres`).
pub(crate) const SUPERUSER: &str = "postgres";

/// A database on a test cluster, usually a fresh one from [`crate::PgCluster::fresh_db`].
///
/// It is a plain handle (name, socket directory, port): it does not keep the cluster
/// alive, and dropping it leaves the database in place, since it goes with the cluster.
/// Connections go as `postgres` over the cluster's Unix socket, where no password is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestDb {
    name: String,
    socket_dir: PathBuf,
    port: u16,
}

impl TestDb {
    pub(crate) fn new(name: &str, socket_dir: &Path, port: u16) -> Self {
        Self {
            name: name.to_string(),
            socket_dir: socket_dir.to_path_buf(),
            port,
        }
    }

    /// The database name: a plain lower-case identifier, no quoting needed.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cluster's TCP port (on 127.0.0.1) and Unix socket suffix.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the cluster's Unix socket.
    #[must_use]
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// pgbm's connection options for this database: the Unix socket, user `postgres`.
    #[must_use]
    pub fn conn_options(&self) -> ConnOptions {
        self.options_for_host(self.socket_dir.to_string_lossy().into_owned())
    }

    /// Like [`TestDb::conn_options`] but over TCP to `127.0.0.1`, where `postgres` is
    /// trusted and other roles need their password (see
    /// [`crate::PgCluster::create_password_role`]).
    #[must_use]
    pub fn tcp_conn_options(&self) -> ConnOptions {
        self.options_for_host("127.0.0.1".to_string())
    }

    fn options_for_host(&self, host: String) -> ConnOptions {
        let mut opts = ConnOptions::new();
        opts.set_host(host);
        opts.set_port(self.port);
        opts.set_user(SUPERUSER);
        opts.set_dbname(self.name.clone());
        opts
    }

    /// A libpq connection string for the CLI: `host=SOCKETDIR port=N user=postgres dbname=NAME`.
    #[must_use]
    pub fn conninfo(&self) -> String {
        format!(
            "host={} port={} user={SUPERUSER} dbname={}",
            conninfo_value(&self.socket_dir.to_string_lossy()),
            self.port,
            self.name
        )
    }

    /// A connection URI over TCP: `postgresql://postgres@127.0.0.1:PORT/NAME`.
    #[must_use]
    pub fn uri(&self) -> String {
        format!(
            "postgresql://{SUPERUSER}@127.0.0.1:{}/{}",
            self.port, self.name
        )
    }

    /// A client connected to this database. Call it inside a tokio runtime: the
    /// connection task is spawned on it.
    ///
    /// # Panics
    /// When the connection fails.
    pub async fn client(&self) -> Client {
        connect(&self.socket_dir, self.port, &self.name)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {}: {}", self.conninfo(), describe(&e)))
    }

    /// Runs `sql` (any number of statements) in this database.
    ///
    /// # Panics
    /// When it fails, with the server's message and the SQL.
    pub async fn execute_sql(&self, sql: &str) {
        let client = self.client().await;
        if let Err(e) = client.batch_execute(sql).await {
            panic!(
                "SQL failed in {}: {}\n--- SQL ---\n{sql}",
                self.name,
                describe(&e)
            );
        }
    }

    /// [`TestDb::execute_sql`] for synchronous tests (also works inside a runtime).
    ///
    /// # Panics
    /// When the SQL fails.
    pub fn execute_sql_blocking(&self, sql: &str) {
        block_on(self.execute_sql(sql));
    }
}

/// Connects as the superuser through the Unix socket in `socket_dir`.
pub(crate) async fn connect(
    socket_dir: &Path,
    port: u16,
    dbname: &str,
) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::Config::new()
        .host_path(socket_dir)
        .port(port)
        .user(SUPERUSER)
        .dbname(dbname)
        .application_name("pgbm-testing")
        .connect(NoTls)
        .await?;
    tokio::spawn(async move {
        // The connection ends when the client is dropped; errors then are of no interest.
        let _ = connection.await;
    });
    Ok(client)
}

/// A tokio-postgres error with the server's full message (its `Display` hides it).
pub(crate) fn describe(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => {
            let mut msg = format!(
                "{}: {} (SQLSTATE {})",
                db.severity(),
                db.message(),
                db.code().code()
            );
            if let Some(detail) = db.detail() {
                msg.push_str(&format!("\nDETAIL: {detail}"));
            }
            if let Some(hint) = db.hint() {
                msg.push_str(&format!("\nHINT: {hint}"));
            }
            msg
        }
        None => err.to_string(),
    }
}

/// A conninfo value, single-quoted when it holds spaces, quotes or backslashes.
fn conninfo_value(value: &str) -> String {
    if !value.is_empty() && !value.contains([' ', '\'', '\\']) {
        return value.to_string();
    }
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> TestDb {
        TestDb::new("t_1", Path::new("/tmp/pgbm-pg-x/sock"), 25432)
    }

    #[test]
    fn conninfo_and_uri_name_everything() {
        assert_eq!(
            db().conninfo(),
            "host=/tmp/pgbm-pg-x/sock port=25432 user=postgres dbname=t_1"
        );
        assert_eq!(db().uri(), "postgresql://postgres@127.0.0.1:25432/t_1");
    }

    #[test]
    fn conninfo_values_are_quoted_when_needed() {
        assert_eq!(conninfo_value("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(conninfo_value(r"it's\"), r"'it\'s\\'");
        assert_eq!(conninfo_value(""), "''");
    }

    #[test]
    fn conn_options_use_socket_or_tcp() {
        let socket = db().conn_options();
        assert_eq!(socket.host(), "/tmp/pgbm-pg-x/sock");
        assert_eq!(socket.port(), 25432);
        assert_eq!(socket.user(), "postgres");
        assert_eq!(socket.dbname(), "t_1");
        assert_eq!(db().tcp_conn_options().host(), "127.0.0.1");
    }
}
