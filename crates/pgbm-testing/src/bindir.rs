//! Finding the PostgreSQL server binaries (`initdb`, `pg_ctl`, `postgres`).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Environment variable naming the directory with `initdb`, `pg_ctl` and `postgres`.
pub const BINDIR_ENV: &str = "PGBM_PG_BINDIR";

/// The binaries a directory must hold to run a cluster.
pub(crate) const SERVER_BINARIES: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// Where Debian and Ubuntu install one directory per major version.
pub(crate) const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// The directory holding the server binaries to test with.
///
/// Looks, in order, at `PGBM_PG_BINDIR`, the newest `/usr/lib/postgresql/N/bin` that has
/// the server binaries (by numeric major), and `pg_config --bindir`.
///
/// # Panics
/// When none has them (or `PGBM_PG_BINDIR` names a directory without them), with a message
/// saying what to install.
#[must_use]
pub fn find_bindir() -> PathBuf {
    let env = std::env::var_os(BINDIR_ENV);
    resolve_bindir(env.as_deref(), Path::new(DEBIAN_ROOT), pg_config_bindir)
        .unwrap_or_else(|msg| panic!("{msg}"))
}

/// The search behind [`find_bindir`], with its inputs passed in so it can be unit-tested.
pub(crate) fn resolve_bindir(
    env: Option<&OsStr>,
    debian_root: &Path,
    pg_config: impl FnOnce() -> Option<PathBuf>,
) -> Result<PathBuf, String> {
    if let Some(dir) = env.filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        return match missing_server_binary(&dir) {
            None => Ok(dir),
            Some(bin) => Err(format!(
                "{BINDIR_ENV}={} has no `{bin}`: point it at a PostgreSQL bin directory \
                 with initdb, pg_ctl and postgres (Debian: /usr/lib/postgresql/15/bin from \
                 `apt-get install postgresql-15`)",
                dir.display()
            )),
        };
    }
    if let Some(dir) = newest_debian_bindir(debian_root) {
        return Ok(dir);
    }
    if let Some(dir) = pg_config().filter(|d| missing_server_binary(d).is_none()) {
        return Ok(dir);
    }
    Err(format!(
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found in {BINDIR_ENV}, \
         {DEBIAN_ROOT}/*/bin or `pg_config --bindir`: install them \
         (`apt-get install -y postgresql-15 postgresql-client-15`) or set {BINDIR_ENV} \
         to a directory that has them"
    ))
}

/// The first server binary that `dir` lacks, if any.
pub(crate) fn missing_server_binary(dir: &Path) -> Option<&'static str> {
    SERVER_BINARIES
        .into_iter()
        .find(|bin| !dir.join(bin).is_file())
}

/// `ROOT/N/bin` with the highest version `N` that holds all server binaries.
///
/// Versions compare numerically, so `10` beats `9.6`; a client-only install (psql and
/// pg_dump but no initdb) is passed over.
fn newest_debian_bindir(root: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(root).ok()?;
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = parse_version(e.file_name().to_str()?)?;
            let bin = e.path().join("bin");
            missing_server_binary(&bin)
                .is_none()
                .then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version)
        .map(|(_, bin)| bin)
}

/// `"15"` → `(15, 0)`, `"9.6"` → `(9, 6)`; anything else is not a version directory.
fn parse_version(name: &str) -> Option<(u32, u32)> {
    let (major, minor) = name.split_once('.').unwrap_or((name, "0"));
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// What `pg_config --bindir` prints, if pg_config runs.
fn pg_config_bindir() -> Option<PathBuf> {
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = String::from_utf8(out.stdout).ok()?;
    Some(PathBuf::from(dir.trim()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Makes `root/rel` with the given (empty) binaries in it.
    pub(crate) fn fake_bindir(root: &Path, rel: &str, bins: &[&str]) -> PathBuf {
        let dir = root.join(rel);
        std::fs::create_dir_all(&dir).unwrap();
        for bin in bins {
            std::fs::write(dir.join(bin), "").unwrap();
        }
        dir
    }

    #[test]
    fn env_wins_over_everything() {
        let tmp = tempfile::tempdir().unwrap();
        let env = fake_bindir(tmp.path(), "custom", &SERVER_BINARIES);
        fake_bindir(tmp.path(), "deb/16/bin", &SERVER_BINARIES);
        let found = resolve_bindir(Some(env.as_os_str()), &tmp.path().join("deb"), || None);
        assert_eq!(found.unwrap(), env);
    }

    #[test]
    fn env_without_binaries_is_an_error_naming_the_missing_one() {
        let tmp = tempfile::tempdir().unwrap();
        let env = fake_bindir(tmp.path(), "custom", &["initdb", "postgres"]);
        let err = resolve_bindir(Some(env.as_os_str()), tmp.path(), || None).unwrap_err();
        assert!(err.contains("pg_ctl"), "{err}");
        assert!(err.contains(BINDIR_ENV), "{err}");
    }

    #[test]
    fn newest_major_wins_numerically_and_client_only_installs_are_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        fake_bindir(tmp.path(), "9.6/bin", &SERVER_BINARIES);
        let ten = fake_bindir(tmp.path(), "10/bin", &SERVER_BINARIES);
        fake_bindir(tmp.path(), "17/bin", &["psql", "pg_dump"]);
        fake_bindir(tmp.path(), "common/bin", &SERVER_BINARIES);
        assert_eq!(resolve_bindir(None, tmp.path(), || None).unwrap(), ten);
    }

    #[test]
    fn falls_back_to_pg_config_then_fails_with_install_hint() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = fake_bindir(tmp.path(), "pgcfg", &SERVER_BINARIES);
        let empty = tmp.path().join("nothing");
        let found = resolve_bindir(None, &empty, || Some(cfg.clone())).unwrap();
        assert_eq!(found, cfg);
        let err = resolve_bindir(None, &empty, || None).unwrap_err();
        assert!(err.contains("apt-get install"), "{err}");
    }
}
