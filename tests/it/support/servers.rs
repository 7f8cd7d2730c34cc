//! The PostgreSQL servers the fixture tests run against, and the client programs that go
//! with each.
//!
//! Besides the harness's default cluster ([`Server::Shared`], which the other modules
//! use), round trips run on every supported major and the oracle on every major a pg_dump
//! of its own exists for ([`per_server!`] makes one test module per server).

use std::path::PathBuf;

use pgbm_testing::{debian_bindir, PgCluster, INSTALL_HINT};

/// Defines, in the calling module, one module per server, named as given (`v16`), each
/// holding `const SERVER: Server` and a copy of `{ items }`, so that the same tests run
/// on every server: `oracle::v16::default::types`.
///
/// The items see the module's `SERVER` and [`Server`]; anything else of the calling
/// module is `super::NAME` (or `super::super::NAME` one module further down).
macro_rules! per_server {
    ($($module:ident => $server:expr),+ $(,)? ; $items:tt) => {
        $(
            mod $module {
                #[allow(unused_imports)]
                use $crate::support::Server;

                /// The server this module's tests run against.
                const SERVER: Server = $server;

                per_server!(@items $items);
            }
        )+
    };
    (@items { $($item:item)* }) => {
        $($item)*
    };
}

/// [`per_server!`] over every server of the matrix: PostgreSQL 13 to 18 and Debian's 15.
macro_rules! per_every_server {
    ($($item:item)*) => {
        per_server! {
            v13 => Server::Major(13),
            v14 => Server::Major(14),
            v15 => Server::Major(15),
            v16 => Server::Major(16),
            v17 => Server::Major(17),
            v18 => Server::Major(18),
            debian15 => Server::Debian(15);
            { $($item)* }
        }
    };
}

/// [`per_server!`] over the servers that have their own pg_dump to compare with:
/// PostgreSQL 14 to 18 and Debian's 15 (13's installation has no client programs).
macro_rules! per_oracle_server {
    ($($item:item)*) => {
        per_server! {
            v14 => Server::Major(14),
            v15 => Server::Major(15),
            v16 => Server::Major(16),
            v17 => Server::Major(17),
            v18 => Server::Major(18),
            debian15 => Server::Debian(15);
            { $($item)* }
        }
    };
}

/// A PostgreSQL server for the fixture tests: each is one shared cluster per test run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Server {
    /// [`PgCluster::shared`]: `PGBM_PG_BINDIR`, else the newest Debian installation
    /// (Debian's 15 in CI).
    Shared,
    /// [`PgCluster::shared_version`]: the given major from `scripts/install-postgres.sh`
    /// (the PyPI full set when there is one, else the npm server-only one).
    Major(u32),
    /// Debian's server and client of the given major, `/usr/lib/postgresql/N/bin`.
    Debian(u32),
}

impl std::fmt::Display for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Server::Shared => f.write_str("the shared cluster"),
            Server::Major(major) => write!(f, "PostgreSQL {major}"),
            Server::Debian(major) => write!(f, "Debian's PostgreSQL {major}"),
        }
    }
}

impl Server {
    /// The running cluster, started on first use.
    ///
    /// # Panics
    /// When the server is not installed (saying what to install) or does not start.
    pub fn cluster(self) -> &'static PgCluster {
        match self {
            Server::Shared => PgCluster::shared(),
            Server::Major(major) => PgCluster::shared_version(major),
            Server::Debian(major) => {
                let bindir = debian_bindir(major).unwrap_or_else(|| {
                    panic!(
                        "no Debian PostgreSQL {major} in /usr/lib/postgresql/{major}/bin: \
                         `apt-get install -y postgresql-{major} postgresql-client-{major}`"
                    )
                });
                PgCluster::shared_with_bindir(bindir)
            }
        }
    }

    /// The pg_dump that judges databases on this server (round trips compare the source
    /// and the restored copy through it): the server's own major's when installed (the
    /// oracle), else the newest (13 has no pg_dump of its own here).
    ///
    /// # Panics
    /// When there is neither.
    pub fn judge_pg_dump(self) -> PathBuf {
        self.client("pg_dump")
    }

    /// The psql to load scripts into this server with: its own major's, else the newest.
    ///
    /// # Panics
    /// When there is neither.
    pub fn psql(self) -> PathBuf {
        self.client("psql")
    }

    /// Client program `name` of the server's major, else of the newest major installed.
    fn client(self, name: &str) -> PathBuf {
        let cluster = self.cluster();
        cluster.tool_or_newer(name).unwrap_or_else(|| {
            panic!(
                "no {name} for PostgreSQL {} (none of its major, none newer): {INSTALL_HINT}",
                cluster.version()
            )
        })
    }
}
