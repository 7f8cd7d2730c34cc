//! Everything pgbm prints for people and scripts, apart from the dump itself and logs.
//!
//! * Errors: `pgbm: error: MESSAGE` on stderr, one line; a restore error adds
//!   `  statement: ...` with the failing statement, shortened.
//! * Success: nothing by default (like pg_dump); with `-v` a one-line summary on
//!   stderr; with `--json` a JSON object on stdout.

use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use pgbm_core::backup::{BackupEntry, BackupSummary, RestoreCheck, VerifyReport};
use pgbm_core::{DumpSummary, Error, RestoreSummary};
use serde::Serialize;

use crate::args::GlobalArgs;

/// Longest statement excerpt shown under a restore error, in characters.
const STATEMENT_EXCERPT_CHARS: usize = 120;

/// Prints results and errors according to `-q`, `-v` and `--json`.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    verbose: u8,
    quiet: bool,
    json: bool,
}

/// `--json` output of `pgbm dump -f`.
#[derive(Debug, Serialize)]
struct DumpJson<'a> {
    command: &'static str,
    file: &'a str,
    tables: u64,
    data_bytes: u64,
    total_bytes: u64,
    elapsed_seconds: f64,
}

/// `--json` output of `pgbm restore`.
#[derive(Debug, Serialize)]
struct RestoreJson {
    command: &'static str,
    statements: u64,
    copies: u64,
    copy_bytes: u64,
    copy_rows: u64,
    elapsed_seconds: f64,
}

/// `--json` output of `pgbm backup`: the listing data plus the wall time.
#[derive(Debug, Serialize)]
struct BackupJson<'a> {
    command: &'static str,
    #[serde(flatten)]
    entry: &'a BackupEntry,
    elapsed_seconds: f64,
}

/// `--json` output of `pgbm verify`.
#[derive(Debug, Serialize)]
struct VerifyJson<'a> {
    command: &'static str,
    status: &'static str,
    #[serde(flatten)]
    report: &'a VerifyReport,
    restore_check: Option<&'a RestoreCheck>,
    elapsed_seconds: f64,
}

/// `--json` output of `pgbm key generate`.
#[derive(Debug, Serialize)]
struct KeyJson<'a> {
    command: &'static str,
    file: &'a str,
    key_id: &'a str,
}

impl Printer {
    /// A printer for these global flags.
    pub fn new(global: &GlobalArgs) -> Self {
        Printer {
            verbose: global.verbose,
            quiet: global.quiet,
            json: global.json,
        }
    }

    /// Reports a finished dump; `file` is `None` when the dump went to stdout, which
    /// then holds the dump and nothing else.
    pub fn dump_done(&self, summary: &DumpSummary, file: Option<&Path>, elapsed: Duration) {
        let target = file.map_or_else(|| "stdout".to_string(), |f| f.display().to_string());
        if self.verbose > 0 && !self.quiet {
            eprintln!(
                "pgbm: dumped {} tables ({} of data, {} in all) to {target} in {:.1} s",
                summary.tables,
                human_bytes(summary.data_bytes),
                human_bytes(summary.total_bytes),
                elapsed.as_secs_f64()
            );
        }
        if self.json && file.is_some() {
            print_json(&DumpJson {
                command: "dump",
                file: &target,
                tables: summary.tables,
                data_bytes: summary.data_bytes,
                total_bytes: summary.total_bytes,
                elapsed_seconds: elapsed.as_secs_f64(),
            });
        }
    }

    /// Reports a finished restore.
    pub fn restore_done(&self, summary: &RestoreSummary, elapsed: Duration) {
        if self.verbose > 0 && !self.quiet {
            eprintln!(
                "pgbm: restored {} statements, {} COPY blocks ({} rows, {}) in {:.1} s",
                summary.statements,
                summary.copies,
                summary.copy_rows,
                human_bytes(summary.copy_bytes),
                elapsed.as_secs_f64()
            );
        }
        if self.json {
            print_json(&RestoreJson {
                command: "restore",
                statements: summary.statements,
                copies: summary.copies,
                copy_bytes: summary.copy_bytes,
                copy_rows: summary.copy_rows,
                elapsed_seconds: elapsed.as_secs_f64(),
            });
        }
    }

    /// Whether `-q` was given.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// Reports a finished backup: its id on stdout (so `id=$(pgbm backup ...)` works),
    /// or the JSON object; with `-v` a summary on stderr.
    pub fn backup_done(&self, summary: &BackupSummary) {
        let e = &summary.entry;
        if self.verbose > 0 && !self.quiet {
            eprintln!(
                "pgbm: backup {} of {}: {} tables, {} rows, {} of SQL stored in {} ({}) in {:.1} s",
                e.id,
                e.database,
                e.tables,
                e.rows,
                human_bytes(e.plaintext_bytes),
                human_bytes(e.size_bytes),
                if e.encryption == "none" {
                    "not encrypted"
                } else {
                    "encrypted"
                },
                summary.elapsed.as_secs_f64()
            );
        }
        if self.json {
            print_json(&BackupJson {
                command: "backup",
                entry: e,
                elapsed_seconds: summary.elapsed.as_secs_f64(),
            });
        } else {
            print_line(&e.id);
        }
    }

    /// Prints a repository's backups: a table, or with `--json` an array of objects.
    pub fn backup_list(&self, entries: &[BackupEntry]) {
        if self.json {
            print_json(&entries);
            return;
        }
        if entries.is_empty() {
            if !self.quiet {
                eprintln!("pgbm: no backups");
            }
            return;
        }
        print_line(&list_table(entries));
    }

    /// Reports a verified backup: one line on stdout, or the JSON object.
    pub fn verify_done(
        &self,
        report: &VerifyReport,
        check: Option<&RestoreCheck>,
        elapsed: Duration,
    ) {
        if self.json {
            print_json(&VerifyJson {
                command: "verify",
                status: "ok",
                report,
                restore_check: check,
                elapsed_seconds: elapsed.as_secs_f64(),
            });
            return;
        }
        let mut line = format!(
            "backup {}: ok ({} segments, {} frames, {} checked)",
            report.id,
            report.segments,
            report.frames,
            human_bytes(report.plaintext_bytes)
        );
        if let Some(c) = check {
            line.push_str(&format!(
                "; test restore: {} tables, {} rows as recorded",
                c.tables, c.rows
            ));
        }
        print_line(&line);
    }

    /// Reports a new key file (on stderr: stdout stays free for scripts).
    pub fn key_generated(&self, file: &Path, key_id: &str) {
        let file = file.display().to_string();
        if self.json {
            print_json(&KeyJson {
                command: "key generate",
                file: &file,
                key_id,
            });
        } else if !self.quiet {
            eprintln!(
                "pgbm: wrote key file {file} (key id {key_id}); keep a copy away from the backups"
            );
        }
    }

    /// Prints `err` on stderr (even with `-q`: errors are never silent).
    pub fn error(&self, err: &Error) {
        // Ignore failures: if stderr is gone there is nowhere left to complain.
        let _ = io::stderr()
            .lock()
            .write_all(render_error(err, self.verbose).as_bytes());
    }
}

/// The text printed for `err`: `pgbm: error: ...` plus, for restore errors, the
/// statement; with `-v`, the chain of causes.
pub fn render_error(err: &Error, verbose: u8) -> String {
    let mut message = one_line(err.message());
    let mut out = String::new();
    if let Some(loc) = err.script_location() {
        let prefix = format!("line {}:", loc.line);
        if !message.starts_with(&prefix) {
            message = format!("{prefix} {message}");
        }
        out.push_str(&format!("pgbm: error: {message}\n"));
        out.push_str(&format!("  statement: {}\n", shorten(&loc.statement)));
    } else {
        out.push_str(&format!("pgbm: error: {message}\n"));
    }
    if verbose > 0 {
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            out.push_str(&format!("  caused by: {}\n", one_line(&cause.to_string())));
            source = cause.source();
        }
    }
    out
}

/// `text` with every run of whitespace (newlines included) turned into one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A statement on one line, cut to [`STATEMENT_EXCERPT_CHARS`] characters.
fn shorten(statement: &str) -> String {
    let flat = one_line(statement);
    if flat.chars().count() <= STATEMENT_EXCERPT_CHARS {
        return flat;
    }
    let cut: String = flat.chars().take(STATEMENT_EXCERPT_CHARS - 3).collect();
    format!("{}...", cut.trim_end())
}

/// `1234567` → `1.2 MiB`.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    // Precision loss is irrelevant for a one-decimal display.
    #[allow(clippy::cast_precision_loss)]
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The `pgbm list` table: one line per backup, oldest first.
fn list_table(entries: &[BackupEntry]) -> String {
    let header = [
        "ID",
        "DATABASE",
        "STARTED (UTC)",
        "SIZE",
        "TABLES",
        "ROWS",
        "ENCRYPTED",
        "STATUS",
        "TAG",
    ];
    let rows: Vec<[String; 9]> = entries
        .iter()
        .map(|e| {
            [
                e.id.clone(),
                e.database.clone(),
                e.started_at
                    .get(..19)
                    .unwrap_or(&e.started_at)
                    .replace('T', " "),
                human_bytes(e.size_bytes),
                e.tables.to_string(),
                e.rows.to_string(),
                match e.encryption.as_str() {
                    "none" => "no",
                    "" => "?",
                    _ => "yes",
                }
                .to_string(),
                serde_json::to_value(e.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                e.tag.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = vec![line(&header)];
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        out.push(line(&cells));
    }
    out.join("\n")
}

/// Prints one line on stdout; a closed stdout is not an error worth reporting.
fn print_line(text: &str) {
    let mut stdout = io::stdout().lock();
    let result = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
    if let Err(e) = result {
        if e.kind() != io::ErrorKind::BrokenPipe {
            tracing::warn!("could not print to stdout: {e}");
        }
    }
}

/// Prints one JSON object on stdout; a closed stdout is not an error worth reporting.
fn print_json<T: Serialize>(value: &T) {
    let mut stdout = io::stdout().lock();
    let result = serde_json::to_writer(&mut stdout, value)
        .map_err(io::Error::from)
        .and_then(|()| stdout.write_all(b"\n"))
        .and_then(|()| stdout.flush());
    if let Err(e) = result {
        if e.kind() != io::ErrorKind::BrokenPipe {
            tracing::warn!("could not print the JSON summary: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgbm_core::error::ScriptLocation;
    use pgbm_core::ErrorKind;

    #[test]
    fn plain_errors_are_one_line() {
        let e = Error::new(ErrorKind::Connect, "could not connect to server:\n refused");
        assert_eq!(
            render_error(&e, 0),
            "pgbm: error: could not connect to server: refused\n"
        );
    }

    #[test]
    fn restore_errors_show_line_and_statement() {
        let e = Error::new(
            ErrorKind::Server,
            "relation \"nope\" does not exist (SQLSTATE 42P01)",
        )
        .with_location(ScriptLocation {
            line: 12,
            statement: "INSERT INTO nope\n  VALUES (1);".into(),
        });
        assert_eq!(
            render_error(&e, 0),
            "pgbm: error: line 12: relation \"nope\" does not exist (SQLSTATE 42P01)\n  \
             statement: INSERT INTO nope VALUES (1);\n"
        );
    }

    #[test]
    fn the_line_is_not_repeated() {
        let e = Error::script(7, "unknown meta-command \\foo").with_location(ScriptLocation {
            line: 7,
            statement: "\\foo".into(),
        });
        assert!(render_error(&e, 0).starts_with("pgbm: error: line 7: unknown"));
    }

    #[test]
    fn long_statements_are_shortened() {
        let s = shorten(&"x".repeat(1000));
        assert_eq!(s.chars().count(), STATEMENT_EXCERPT_CHARS);
        assert!(s.ends_with("..."));
        assert_eq!(shorten("SELECT 1;"), "SELECT 1;");
    }

    #[test]
    fn causes_only_when_verbose() {
        let io = io::Error::other("disk on fire");
        let e = Error::io("writing out.sql", io);
        assert!(!render_error(&e, 0).contains("caused by"));
        assert!(render_error(&e, 1).contains("  caused by: disk on fire\n"));
    }

    #[test]
    fn bytes_are_human() {
        assert_eq!(human_bytes(12), "12 bytes");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(300 * 1024 * 1024), "300.0 MiB");
    }
}
