//! Command-line arguments: the clap types and nothing else.
//!
//! These types say what the user typed. They are turned into resolved settings by
//! [`crate::settings`] before anything talks to a server, so that validation and
//! defaults live in one place and can be tested without a process.
//!
//! The connection and dump flags mirror pg_dump's, including `-h` for the host; the
//! subcommands therefore take `-?`/`--help` for help, as pg_dump does.

use std::fmt;
use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

/// pgbm: PostgreSQL backup manager.
#[derive(Debug, Parser)]
#[command(name = "pgbm", version, about, propagate_version = true)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes; they may appear before or after the command name.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Print only errors (no warnings)
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Log progress to stderr; repeat for more detail (-vv debug, -vvv trace)
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
    /// On success, print a JSON summary on stdout (dump: only with -f)
    #[arg(long, global = true)]
    pub json: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Dump a database as a plain SQL script, like pg_dump -Fp
    #[command(disable_help_flag = true)]
    Dump(DumpArgs),
    /// Restore a backup from a repository, or run a plain SQL script (pgbm's or pg_dump's)
    #[command(disable_help_flag = true)]
    Restore(RestoreArgs),
    /// Back up a database into a repository
    #[command(disable_help_flag = true)]
    Backup(BackupArgs),
    /// List the backups of a repository
    List(ListArgs),
    /// Write a backup's plain SQL script to stdout
    Cat(CatArgs),
    /// Check a backup: every frame and checksum, and optionally a test restore
    Verify(VerifyArgs),
    /// Manage key files
    #[command(subcommand)]
    Key(KeyCommand),
}

/// `pgbm dump`.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// Database to dump: a name, a conninfo string or a URI (same as -d)
    #[arg(value_name = "DBNAME", conflicts_with = "dbname")]
    pub dbname_positional: Option<DbnameArg>,
    /// Write the dump to FILE (atomically: FILE appears only once the dump is complete);
    /// default or `-`: stdout
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Dump only schemas matching PATTERN (repeatable)
    #[arg(short = 'n', long = "schema", value_name = "PATTERN")]
    pub schemas: Vec<String>,
    /// Do not dump schemas matching PATTERN (repeatable)
    #[arg(short = 'N', long = "exclude-schema", value_name = "PATTERN")]
    pub exclude_schemas: Vec<String>,
    /// Dump only tables, views and sequences matching PATTERN (repeatable)
    #[arg(short = 't', long = "table", value_name = "PATTERN")]
    pub tables: Vec<String>,
    /// Do not dump tables matching PATTERN (repeatable)
    #[arg(short = 'T', long = "exclude-table", value_name = "PATTERN")]
    pub exclude_tables: Vec<String>,
    /// Dump the definition but not the data of tables matching PATTERN (repeatable)
    #[arg(long = "exclude-table-data", value_name = "PATTERN")]
    pub exclude_table_data: Vec<String>,
    /// Dump only the object definitions, no data
    #[arg(short = 's', long)]
    pub schema_only: bool,
    /// Dump only the data, no definitions
    #[arg(short = 'a', long)]
    pub data_only: bool,
    /// Skip ALTER ... OWNER TO
    #[arg(short = 'O', long)]
    pub no_owner: bool,
    /// Skip GRANT and REVOKE
    #[arg(short = 'x', long)]
    pub no_privileges: bool,
    /// Skip COMMENT ON
    #[arg(long)]
    pub no_comments: bool,
    /// Drop objects before creating them
    #[arg(short = 'c', long)]
    pub clean: bool,
    /// Use DROP ... IF EXISTS (with --clean)
    #[arg(long)]
    pub if_exists: bool,
    /// Include CREATE DATABASE and \connect
    #[arg(short = 'C', long)]
    pub create: bool,
    /// Wait for a snapshot that cannot be disturbed by serialization failures
    #[arg(long)]
    pub serializable_deferrable: bool,
    /// Dump the cluster's global objects only (roles, memberships, settings,
    /// tablespaces), as `pg_dumpall --globals-only`; connects to `postgres` when no
    /// database is given
    #[arg(short = 'g', long)]
    pub globals_only: bool,
    /// With --globals-only: read roles from pg_roles (no superuser needed, as on
    /// managed services) and dump no passwords
    #[arg(long)]
    pub no_role_passwords: bool,
    /// Print help
    #[arg(short = '?', long, action = ArgAction::Help)]
    pub help: Option<bool>,
    /// Connection options (listed last in the help, as pg_dump does).
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// `pgbm restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// With --repo: the backup (an id, an unambiguous id prefix, or `latest`). Without:
    /// a plain SQL script or a backup archive file; `-` or absent: a script on stdin
    #[arg(value_name = "FILE|BACKUP")]
    pub file: Option<PathBuf>,
    /// Restore a backup of this repository (a directory, file:// or s3://bucket/prefix)
    #[arg(long, value_name = "URL", env = "PGBM_REPO")]
    pub repo: Option<String>,
    /// Run the whole script in one transaction (scripts, or backups with one job)
    #[arg(short = '1', long)]
    pub single_transaction: bool,
    /// Create the target database first (connect to -d, create --target-db; for a
    /// backup the default name is the database backed up)
    #[arg(short = 'C', long)]
    pub create: bool,
    /// The database to restore into (with --create: the one to create)
    #[arg(long, value_name = "NAME")]
    pub target_db: Option<String>,
    /// Backups: connections loading data and building indexes at once
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Backups: drop each object before creating it
    #[arg(short = 'c', long)]
    pub clean: bool,
    /// Backups: use DROP ... IF EXISTS (with --clean)
    #[arg(long)]
    pub if_exists: bool,
    /// Backups: restore only this schema (repeatable)
    #[arg(short = 'n', long = "schema", value_name = "SCHEMA")]
    pub schemas: Vec<String>,
    /// Backups: restore only this table, `name` or `schema.name` (repeatable)
    #[arg(short = 't', long = "table", value_name = "TABLE")]
    pub tables: Vec<String>,
    /// Keys of encrypted backups.
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Print help
    #[arg(short = '?', long, action = ArgAction::Help)]
    pub help: Option<bool>,
    /// Connection options (listed last in the help, as pg_dump does).
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// `pgbm backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Database to back up: a name, a conninfo string or a URI (same as -d)
    #[arg(value_name = "DBNAME", conflicts_with = "dbname")]
    pub dbname_positional: Option<DbnameArg>,
    /// The repository: a directory, file:// or s3://bucket/prefix
    #[arg(long, value_name = "URL", env = "PGBM_REPO")]
    pub repo: Option<String>,
    /// Connections dumping table data at once (sharing one snapshot)
    #[arg(short = 'j', long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,
    /// Compression: zstd, zstd:LEVEL (-7 to 22) or none
    #[arg(long = "compress", value_name = "METHOD", default_value = "zstd:3")]
    pub compress: String,
    /// A label shown by `pgbm list`
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// PBKDF2 iterations of a new passphrase slot (default 600000; lower only for tests)
    #[arg(long, value_name = "N", hide = true)]
    pub kdf_iterations: Option<u32>,
    /// Keys to encrypt with (a passphrase and/or key files: one key slot each).
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Print help
    #[arg(short = '?', long, action = ArgAction::Help)]
    pub help: Option<bool>,
    /// Connection options.
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// `pgbm list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The repository: a directory, file:// or s3://bucket/prefix
    #[arg(long, value_name = "URL", env = "PGBM_REPO")]
    pub repo: Option<String>,
    /// Keys to read encrypted backups that have no listing cache.
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// `pgbm cat`.
#[derive(Debug, Args)]
pub struct CatArgs {
    /// The backup: an id, an unambiguous id prefix or `latest` (with --repo), or an
    /// archive file
    #[arg(value_name = "BACKUP")]
    pub backup: String,
    /// The repository: a directory, file:// or s3://bucket/prefix
    #[arg(long, value_name = "URL", env = "PGBM_REPO")]
    pub repo: Option<String>,
    /// Keys of encrypted backups.
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// `pgbm verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The backup: an id, an unambiguous id prefix or `latest` (with --repo), or an
    /// archive file
    #[arg(value_name = "BACKUP")]
    pub backup: String,
    /// The repository: a directory, file:// or s3://bucket/prefix
    #[arg(long, value_name = "URL", env = "PGBM_REPO")]
    pub repo: Option<String>,
    /// Also restore into a scratch database on this server (a conninfo string, URI or
    /// database name; PG* variables apply), compare row counts, and drop it
    #[arg(long, value_name = "CONN")]
    pub restore_to: Option<DbnameArg>,
    /// Connections used by the test restore
    #[arg(short = 'j', long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,
    /// Keys of encrypted backups.
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// `pgbm key ...`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Write a new random key file (mode 0600); it must not exist yet
    Generate(KeyGenerateArgs),
}

/// `pgbm key generate`.
#[derive(Debug, Args)]
pub struct KeyGenerateArgs {
    /// The key file to create
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

/// Where keys come from. Never from a bare argument: a passphrase in the command line
/// would show in `ps` and shell history.
#[derive(Debug, Args)]
#[command(next_help_heading = "Encryption keys")]
pub struct KeyArgs {
    /// Read the passphrase from FILE (all of it but a final newline; default: $PGBM_PASSPHRASE)
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// A key file made by `pgbm key generate` (repeatable)
    #[arg(long = "key-file", value_name = "FILE")]
    pub key_files: Vec<PathBuf>,
}

/// Connection flags, as pg_dump and psql spell them.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Connection options")]
pub struct ConnArgs {
    /// Database to connect to: a name, a conninfo string (`host=... dbname=...`) or a URI
    /// (`postgresql://...`); values in it win over -h/-p/-U
    #[arg(short = 'd', long = "dbname", value_name = "DBNAME")]
    pub dbname: Option<DbnameArg>,
    /// Server host name or Unix socket directory
    #[arg(short = 'h', long, value_name = "HOSTNAME")]
    pub host: Option<String>,
    /// Server port
    #[arg(short = 'p', long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// Role to connect as
    #[arg(short = 'U', long = "username", value_name = "NAME")]
    pub username: Option<String>,
}

/// A `-d` value: a database name, or a connection string that may hold a password.
///
/// `Debug` shows plain names but hides connection strings, so that logging the
/// arguments can never print a password.
#[derive(Clone, PartialEq, Eq)]
pub struct DbnameArg(pub String);

impl DbnameArg {
    /// The value as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether libpq would read this as a connection string rather than a name.
    fn is_connection_string(&self) -> bool {
        pgbm_core::ConnOptions::is_connection_string(&self.0)
    }
}

impl From<String> for DbnameArg {
    fn from(s: String) -> Self {
        DbnameArg(s)
    }
}

impl fmt::Debug for DbnameArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_connection_string() {
            f.write_str("<connection string>")
        } else {
            fmt::Debug::fmt(&self.0, f)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn connection_strings_are_not_debug_printed() {
        let s = DbnameArg("host=x password=hunter2".into());
        assert_eq!(format!("{s:?}"), "<connection string>");
        let u = DbnameArg("postgresql://u:hunter2@h/db".into());
        assert!(!format!("{u:?}").contains("hunter2"));
        assert_eq!(format!("{:?}", DbnameArg("mydb".into())), "\"mydb\"");
    }

    #[test]
    fn dash_h_is_the_host_in_subcommands() {
        let cli = Cli::try_parse_from(["pgbm", "dump", "-h", "db.example", "-p", "5433"]).unwrap();
        let Command::Dump(d) = cli.command else {
            panic!("not dump")
        };
        assert_eq!(d.conn.host.as_deref(), Some("db.example"));
        assert_eq!(d.conn.port, Some(5433));
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli = Cli::try_parse_from(["pgbm", "restore", "x.sql", "--json", "-vv"]).unwrap();
        assert!(cli.global.json);
        assert_eq!(cli.global.verbose, 2);
    }
}
