//! Resolved settings: what a command will do, decided from the arguments and the
//! environment before any connection is made.
//!
//! Everything pg_dump checks up front is checked here too, with pg_dump's wording, and
//! fails as a usage error (exit 2).

use std::path::PathBuf;

use pgbm_core::archive::Compression;
use pgbm_core::crypto::DEFAULT_PBKDF2_ITERATIONS;
use pgbm_core::{ConnOptions, DumpOptions, Error, RestoreOptions, Result};

use crate::args::{
    BackupArgs, CatArgs, ConnArgs, DbnameArg, DumpArgs, ListArgs, RestoreArgs, VerifyArgs,
};
use crate::secrets::Secrets;

/// Where a dump goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Standard output.
    Stdout,
    /// A file, written atomically.
    File(PathBuf),
}

/// Where a restore reads its script from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input.
    Stdin,
    /// A file.
    File(PathBuf),
}

/// Everything `pgbm dump` needs.
#[derive(Debug)]
pub struct DumpSettings {
    /// The server and database to dump.
    pub conn: ConnOptions,
    /// What to dump.
    pub options: DumpOptions,
    /// Where to write it.
    pub output: Output,
}

/// Everything `pgbm restore` needs.
#[derive(Debug)]
pub struct RestoreSettings {
    /// The server and database to connect to.
    pub conn: ConnOptions,
    /// How to restore.
    pub options: RestoreOptions,
    /// The script, or (with `repo`) the backup.
    pub input: Input,
    /// The repository of the backup to restore.
    pub repo: Option<String>,
    /// Keys of encrypted backups.
    pub secrets: Secrets,
}

impl RestoreSettings {
    /// Whether options that only a backup can honour were given.
    pub fn uses_backup_options(&self) -> bool {
        let o = &self.options;
        o.jobs > 1 || !o.schemas.is_empty() || !o.tables.is_empty() || o.clean
    }
}

/// A backup named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupRef {
    /// `spec` (an id, an id prefix or `latest`) in the repository `repo`.
    InRepo {
        /// The repository location.
        repo: String,
        /// The backup.
        spec: String,
    },
    /// An archive file given by path (no `--repo`).
    File(PathBuf),
}

/// Everything `pgbm backup` needs.
#[derive(Debug)]
pub struct BackupSettings {
    /// The server and database to back up.
    pub conn: ConnOptions,
    /// The repository location.
    pub repo: String,
    /// Connections dumping table data.
    pub jobs: usize,
    /// Compression of the archive.
    pub compression: Compression,
    /// The tag, if any.
    pub tag: Option<String>,
    /// Keys to encrypt with.
    pub secrets: Secrets,
    /// PBKDF2 iterations of the passphrase slot.
    pub kdf_iterations: u32,
}

/// Everything `pgbm list` needs.
#[derive(Debug)]
pub struct ListSettings {
    /// The repository location.
    pub repo: String,
    /// Keys for backups without a listing cache.
    pub secrets: Secrets,
}

/// Everything `pgbm cat` needs.
#[derive(Debug)]
pub struct CatSettings {
    /// The backup.
    pub backup: BackupRef,
    /// Keys of encrypted backups.
    pub secrets: Secrets,
}

/// Everything `pgbm verify` needs.
#[derive(Debug)]
pub struct VerifySettings {
    /// The backup.
    pub backup: BackupRef,
    /// Keys of encrypted backups.
    pub secrets: Secrets,
    /// The server of the test restore, if asked.
    pub restore_to: Option<ConnOptions>,
    /// Connections of the test restore.
    pub jobs: usize,
}

/// Resolves `pgbm dump`'s arguments.
///
/// # Errors
/// [`pgbm_core::ErrorKind::Usage`] for conflicting flags or bad connection options.
pub fn dump_settings(args: &DumpArgs) -> Result<DumpSettings> {
    check_dump_flags(args)?;
    let dbname = args
        .dbname_positional
        .as_ref()
        .or(args.conn.dbname.as_ref());
    let mut options = DumpOptions::default();
    options.schemas.clone_from(&args.schemas);
    options.exclude_schemas.clone_from(&args.exclude_schemas);
    options.tables.clone_from(&args.tables);
    options.exclude_tables.clone_from(&args.exclude_tables);
    options
        .exclude_table_data
        .clone_from(&args.exclude_table_data);
    options.schema_only = args.schema_only;
    options.data_only = args.data_only;
    options.no_owner = args.no_owner;
    options.no_privileges = args.no_privileges;
    options.no_comments = args.no_comments;
    options.clean = args.clean;
    options.if_exists = args.if_exists;
    options.create = args.create;
    options.serializable_deferrable = args.serializable_deferrable;
    options.globals_only = args.globals_only;
    options.no_role_passwords = args.no_role_passwords;
    let mut conn = conn_options(&args.conn, dbname)?;
    if args.globals_only && dbname.is_none() && std::env::var_os("PGDATABASE").is_none() {
        // pg_dumpall's default: globals are the same from every database.
        conn.set_dbname("postgres");
    }
    Ok(DumpSettings {
        conn,
        options,
        output: match &args.file {
            Some(path) if path.as_os_str() != "-" => Output::File(path.clone()),
            _ => Output::Stdout,
        },
    })
}

/// Resolves `pgbm restore`'s arguments.
///
/// # Errors
/// [`pgbm_core::ErrorKind::Usage`] for bad connection options.
pub fn restore_settings(args: &RestoreArgs) -> Result<RestoreSettings> {
    if args.target_db.as_deref() == Some("") {
        return Err(Error::usage("--target-db must not be empty"));
    }
    if args.if_exists && !args.clean {
        return Err(Error::usage(
            "option --if-exists requires option -c/--clean",
        ));
    }
    let mut options = RestoreOptions::default();
    options.single_transaction = args.single_transaction;
    options.create = args.create;
    options.target_db.clone_from(&args.target_db);
    options.jobs = args.jobs.map_or(1, usize::from);
    options.clean = args.clean;
    options.if_exists = args.if_exists;
    options.schemas.clone_from(&args.schemas);
    options.tables.clone_from(&args.tables);
    let input = match &args.file {
        Some(path) if path.as_os_str() != "-" => Input::File(path.clone()),
        _ if args.repo.is_some() => {
            return Err(Error::usage(
                "which backup? give its id, an id prefix or `latest`",
            ))
        }
        _ => Input::Stdin,
    };
    let settings = RestoreSettings {
        conn: conn_options(&args.conn, args.conn.dbname.as_ref())?,
        options,
        input,
        repo: args.repo.clone(),
        secrets: Secrets::load(&args.keys)?,
    };
    if settings.input == Input::Stdin && settings.uses_backup_options() {
        return Err(Error::usage(
            "--jobs, --clean, --schema and --table apply to backups, not to a script on stdin",
        ));
    }
    Ok(settings)
}

/// The repository of a command that needs one.
fn required_repo(repo: Option<&String>) -> Result<String> {
    match repo {
        Some(r) if !r.is_empty() => Ok(r.clone()),
        _ => Err(Error::usage(
            "no repository: give --repo URL or set PGBM_REPO",
        )),
    }
}

/// A backup argument: in the repository if there is one, else an archive file.
fn backup_ref(backup: &str, repo: Option<&String>) -> BackupRef {
    match repo {
        Some(repo) if !repo.is_empty() => BackupRef::InRepo {
            repo: repo.clone(),
            spec: backup.to_string(),
        },
        _ => BackupRef::File(PathBuf::from(backup)),
    }
}

/// Resolves `pgbm backup`'s arguments.
///
/// # Errors
/// [`pgbm_core::ErrorKind::Usage`] for a missing repository, a bad compression or bad
/// connection options; errors reading key files.
pub fn backup_settings(args: &BackupArgs) -> Result<BackupSettings> {
    let dbname = args
        .dbname_positional
        .as_ref()
        .or(args.conn.dbname.as_ref());
    let kdf_iterations = args.kdf_iterations.unwrap_or(DEFAULT_PBKDF2_ITERATIONS);
    if kdf_iterations == 0 {
        return Err(Error::usage("--kdf-iterations must be at least 1"));
    }
    Ok(BackupSettings {
        conn: conn_options(&args.conn, dbname)?,
        repo: required_repo(args.repo.as_ref())?,
        jobs: usize::from(args.jobs),
        compression: args.compress.parse()?,
        tag: args.tag.clone(),
        secrets: Secrets::load(&args.keys)?,
        kdf_iterations,
    })
}

/// Resolves `pgbm list`'s arguments.
///
/// # Errors
/// [`pgbm_core::ErrorKind::Usage`] for a missing repository; errors reading keys.
pub fn list_settings(args: &ListArgs) -> Result<ListSettings> {
    Ok(ListSettings {
        repo: required_repo(args.repo.as_ref())?,
        secrets: Secrets::load(&args.keys)?,
    })
}

/// Resolves `pgbm cat`'s arguments.
///
/// # Errors
/// Errors reading keys.
pub fn cat_settings(args: &CatArgs) -> Result<CatSettings> {
    Ok(CatSettings {
        backup: backup_ref(&args.backup, args.repo.as_ref()),
        secrets: Secrets::load(&args.keys)?,
    })
}

/// Resolves `pgbm verify`'s arguments.
///
/// # Errors
/// [`pgbm_core::ErrorKind::Usage`] for a bad `--restore-to`; errors reading keys.
pub fn verify_settings(args: &VerifyArgs) -> Result<VerifySettings> {
    let restore_to = match &args.restore_to {
        Some(d) => Some(conn_options(&ConnArgs::default(), Some(d))?),
        None => None,
    };
    Ok(VerifySettings {
        backup: backup_ref(&args.backup, args.repo.as_ref()),
        secrets: Secrets::load(&args.keys)?,
        restore_to,
        jobs: usize::from(args.jobs),
    })
}

/// The combinations pg_dump refuses, with its messages.
fn check_dump_flags(args: &DumpArgs) -> Result<()> {
    if args.schema_only && args.data_only {
        return Err(Error::usage(
            "options -s/--schema-only and -a/--data-only cannot be used together",
        ));
    }
    if args.clean && args.data_only {
        return Err(Error::usage(
            "options -c/--clean and -a/--data-only cannot be used together",
        ));
    }
    if args.if_exists && !args.clean {
        return Err(Error::usage(
            "option --if-exists requires option -c/--clean",
        ));
    }
    if args.no_role_passwords && !args.globals_only {
        return Err(Error::usage(
            "option --no-role-passwords requires option -g/--globals-only",
        ));
    }
    Ok(())
}

/// The connection options, layered as pg_dump and psql do: the `PG*` environment,
/// then `-h -p -U`, then the `-d` value (a conninfo string or URI in it wins over the
/// flags, since libpq reads it last).
fn conn_options(args: &ConnArgs, dbname: Option<&DbnameArg>) -> Result<ConnOptions> {
    layer_conn_options(ConnOptions::from_env()?, args, dbname)
}

/// [`conn_options`] over a given environment layer (so tests do not depend on `PG*`).
fn layer_conn_options(
    env: ConnOptions,
    args: &ConnArgs,
    dbname: Option<&DbnameArg>,
) -> Result<ConnOptions> {
    let mut flags = ConnOptions::new();
    if let Some(host) = &args.host {
        flags.set_host(host);
    }
    if let Some(port) = args.port {
        flags.set_port(port);
    }
    if let Some(user) = &args.username {
        flags.set_user(user);
    }
    let mut opts = env.merge(flags);
    if let Some(d) = dbname {
        opts = opts.merge(ConnOptions::from_dbname_arg(d.as_str())?);
    }
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;
    use pgbm_core::ErrorKind;

    /// The connection options of a dump command line, ignoring the environment.
    fn dump_conn(argv: &[&str]) -> ConnOptions {
        let cli = Cli::try_parse_from(["pgbm", "dump"].iter().chain(argv)).unwrap();
        let Command::Dump(args) = cli.command else {
            panic!("not a dump command")
        };
        let dbname = args
            .dbname_positional
            .as_ref()
            .or(args.conn.dbname.as_ref());
        layer_conn_options(ConnOptions::new(), &args.conn, dbname).unwrap()
    }

    #[test]
    fn environment_is_the_lowest_layer() {
        let env =
            ConnOptions::from_env_vars([("PGHOST", "envhost"), ("PGUSER", "envuser")]).unwrap();
        let cli = Cli::try_parse_from(["pgbm", "dump", "-U", "flaguser", "db"]).unwrap();
        let Command::Dump(args) = cli.command else {
            panic!("not a dump command")
        };
        let opts = layer_conn_options(env, &args.conn, args.dbname_positional.as_ref()).unwrap();
        assert_eq!(opts.describe(), "flaguser@envhost:5432/db");
    }

    #[test]
    fn conninfo_in_dash_d_wins_over_flags() {
        let c = dump_conn(&[
            "-h",
            "flaghost",
            "-p",
            "5999",
            "-U",
            "flaguser",
            "-d",
            "host=/sock dbname=app",
        ]);
        assert_eq!(c.describe(), "flaguser@/sock:5999/app");
        let c = dump_conn(&["-h", "h", "-U", "u", "postgresql://other@h2:6000/db2"]);
        assert_eq!(c.describe(), "other@h2:6000/db2");
        let c = dump_conn(&["-h", "h", "-U", "u", "plain"]);
        assert_eq!(c.describe(), "u@h:5432/plain");
    }

    #[test]
    fn bad_conninfo_is_a_usage_error() {
        let err = dump(&["-d", "host=x bogus=1"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Usage);
    }

    fn dump(argv: &[&str]) -> Result<DumpSettings> {
        let cli = Cli::try_parse_from(["pgbm", "dump"].iter().chain(argv)).unwrap();
        let Command::Dump(args) = cli.command else {
            panic!("not a dump command")
        };
        dump_settings(&args)
    }

    fn restore(argv: &[&str]) -> Result<RestoreSettings> {
        let cli = Cli::try_parse_from(["pgbm", "restore"].iter().chain(argv)).unwrap();
        let Command::Restore(args) = cli.command else {
            panic!("not a restore command")
        };
        restore_settings(&args)
    }

    fn usage_message(result: Result<DumpSettings>) -> String {
        let err = result.expect_err("expected a usage error");
        assert_eq!(err.kind(), ErrorKind::Usage);
        err.to_string()
    }

    #[test]
    fn pg_dump_flag_conflicts_are_usage_errors() {
        assert!(usage_message(dump(&["-s", "-a"])).contains("-s/--schema-only and -a/--data-only"));
        assert!(usage_message(dump(&["-c", "-a"])).contains("-c/--clean and -a/--data-only"));
        assert!(usage_message(dump(&["--if-exists"])).contains("requires option -c/--clean"));
        assert!(dump(&["-c", "--if-exists", "-s"]).is_ok());
        assert!(usage_message(dump(&["--no-role-passwords"]))
            .contains("requires option -g/--globals-only"));
    }

    #[test]
    fn dump_flags_reach_the_options() {
        let s = dump(&[
            "-n",
            "a",
            "-n",
            "b",
            "-N",
            "c",
            "-t",
            "t1",
            "-T",
            "t2",
            "--exclude-table-data",
            "t3",
            "-O",
            "-x",
            "--no-comments",
            "-C",
            "--serializable-deferrable",
        ])
        .unwrap();
        let o = &s.options;
        assert_eq!(o.schemas, ["a", "b"]);
        assert_eq!(o.exclude_schemas, ["c"]);
        assert_eq!(o.tables, ["t1"]);
        assert_eq!(o.exclude_tables, ["t2"]);
        assert_eq!(o.exclude_table_data, ["t3"]);
        assert!(o.no_owner && o.no_privileges && o.no_comments && o.create);
        assert!(o.serializable_deferrable);
        assert!(!o.schema_only && !o.data_only && !o.clean && !o.if_exists);
    }

    #[test]
    fn globals_flags_reach_the_options() {
        let s = dump(&["-g", "--no-role-passwords", "-d", "postgres"]).unwrap();
        assert!(s.options.globals_only && s.options.no_role_passwords);
        let s = dump(&["--globals-only", "other"]).unwrap();
        assert_eq!(s.conn.dbname(), "other");
    }

    #[test]
    fn dash_file_means_stdout() {
        assert_eq!(dump(&[]).unwrap().output, Output::Stdout);
        assert_eq!(dump(&["-f", "-"]).unwrap().output, Output::Stdout);
        assert_eq!(
            dump(&["-f", "out.sql"]).unwrap().output,
            Output::File("out.sql".into())
        );
        assert_eq!(restore(&[]).unwrap().input, Input::Stdin);
        assert_eq!(restore(&["-"]).unwrap().input, Input::Stdin);
        assert_eq!(
            restore(&["x.sql"]).unwrap().input,
            Input::File("x.sql".into())
        );
    }

    #[test]
    fn restore_flags_reach_the_options() {
        let s = restore(&["x.sql", "-1", "--create", "--target-db", "new"]).unwrap();
        assert!(s.options.single_transaction && s.options.create);
        assert_eq!(s.options.target_db.as_deref(), Some("new"));
        assert!(restore(&["--target-db", ""]).is_err());
    }
}
