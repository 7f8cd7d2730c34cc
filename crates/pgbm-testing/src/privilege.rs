//! Running the server binaries as an unprivileged user when the tests run as root.
//!
//! `initdb`, `pg_ctl` and `postgres` refuse to run as root. CI and the developers' machines
//! run as root, so there the harness runs them through `setpriv` (or `runuser`) as the
//! `postgres` user (or `nobody`), and hands that user the cluster's directories. Client
//! programs (psql, pg_dump) and the test process itself stay root.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// How to run a server binary.
#[derive(Debug, Clone)]
pub(crate) enum Runner {
    /// Not root: run programs as they are.
    Direct,
    /// Root: run programs as another user through a wrapper program.
    AsUser {
        /// Numeric user id, for chown.
        uid: u32,
        /// Numeric group id, for chown.
        gid: u32,
        /// The wrapper's argv before the program (`setpriv --reuid=... --`).
        prefix: Vec<OsString>,
    },
}

/// Users to run as, in order of preference: Debian's PostgreSQL package creates `postgres`.
const CANDIDATE_USERS: [&str; 2] = ["postgres", "nobody"];

impl Runner {
    /// The runner for this process, worked out once.
    ///
    /// # Panics
    /// As root, when no candidate user or neither `setpriv` nor `runuser` exists.
    pub(crate) fn get() -> &'static Runner {
        static RUNNER: OnceLock<Runner> = OnceLock::new();
        RUNNER.get_or_init(|| {
            if effective_uid() == 0 {
                Runner::as_unprivileged_user()
            } else {
                Runner::Direct
            }
        })
    }

    fn as_unprivileged_user() -> Runner {
        let (name, uid, gid) = CANDIDATE_USERS
            .into_iter()
            .find_map(|name| Some((name, user_id(name, "-u")?, user_id(name, "-g")?)))
            .unwrap_or_else(|| {
                panic!(
                    "running as root, but none of the users {CANDIDATE_USERS:?} exists to run \
                     PostgreSQL as (initdb refuses root): create one, e.g. \
                     `apt-get install -y postgresql-15` creates `postgres`"
                )
            });
        let prefix = if let Some(setpriv) = find_program("setpriv") {
            // setpriv changes ids and nothing else: no PAM session, no login records.
            vec![
                setpriv.into_os_string(),
                format!("--reuid={uid}").into(),
                format!("--regid={gid}").into(),
                "--clear-groups".into(),
                "--".into(),
            ]
        } else if let Some(runuser) = find_program("runuser") {
            vec![
                runuser.into_os_string(),
                "-u".into(),
                name.into(),
                "--".into(),
            ]
        } else {
            panic!(
                "running as root, and neither `setpriv` nor `runuser` is installed to run \
                 PostgreSQL as `{name}`: `apt-get install -y util-linux`"
            );
        };
        Runner::AsUser { uid, gid, prefix }
    }

    /// The full argv that runs `program` as the right user.
    pub(crate) fn argv(&self, program: &Path) -> Vec<OsString> {
        let mut argv = match self {
            Runner::Direct => Vec::new(),
            Runner::AsUser { prefix, .. } => prefix.clone(),
        };
        argv.push(program.as_os_str().to_owned());
        argv
    }

    /// A [`Command`] that runs `program` as the right user.
    pub(crate) fn command(&self, program: &Path) -> Command {
        let argv = self.argv(program);
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        cmd
    }

    /// Makes `path` owned by the user the server runs as (no-op when not root).
    pub(crate) fn give(&self, path: &Path) -> std::io::Result<()> {
        match self {
            Runner::Direct => Ok(()),
            Runner::AsUser { uid, gid, .. } => {
                std::os::unix::fs::chown(path, Some(*uid), Some(*gid))
            }
        }
    }
}

/// This process's effective user id.
///
/// Read from `/proc/self/status` (the crate forbids `unsafe`, so no `geteuid`), with `id -u`
/// as a fallback.
fn effective_uid() -> u32 {
    let from_proc = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| parse_effective_uid(&status));
    from_proc
        .or_else(|| run_id(&["-u"]))
        .expect("cannot tell this process's user id: neither /proc/self/status nor `id -u` works")
}

/// The effective uid from a `/proc/PID/status` text (`Uid: real effective saved fs`).
fn parse_effective_uid(status: &str) -> Option<u32> {
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// `id FLAG USER`: the user's uid (`-u`) or primary gid (`-g`), if the user exists.
fn user_id(user: &str, flag: &str) -> Option<u32> {
    run_id(&[flag, user])
}

fn run_id(args: &[&str]) -> Option<u32> {
    let out = Command::new("id").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

/// `name` on `PATH` or in the sbin directories a non-login root shell may lack.
pub(crate) fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_effective_uid_not_real_uid() {
        let status = "Name:\tcargo\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\n";
        assert_eq!(parse_effective_uid(status), Some(0));
        assert_eq!(parse_effective_uid("Name:\tx\n"), None);
    }

    #[test]
    fn direct_runner_runs_the_program_itself() {
        let argv = Runner::Direct.argv(Path::new("/bin/initdb"));
        assert_eq!(argv, vec![OsString::from("/bin/initdb")]);
    }

    #[test]
    fn user_runner_puts_the_wrapper_first() {
        let runner = Runner::AsUser {
            uid: 101,
            gid: 104,
            prefix: vec!["setpriv".into(), "--reuid=101".into(), "--".into()],
        };
        let argv = runner.argv(Path::new("/bin/initdb"));
        assert_eq!(argv.first().unwrap(), "setpriv");
        assert_eq!(argv.last().unwrap(), "/bin/initdb");
    }
}
