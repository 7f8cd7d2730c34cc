//! Runs the items of a script on a server session.

use std::pin::pin;

use bytes::Bytes;
use futures_util::SinkExt;
use tokio::io::AsyncBufRead;
use tokio_postgres::Client;

use super::RestoreSummary;
use crate::conn::ConnOptions;
use crate::error::{Error, Result, ScriptLocation};
use crate::script::{parse_set, Item, MetaCommand, ScriptReader};

/// Statements are shortened to about this many characters in errors.
const STATEMENT_DISPLAY: usize = 200;

/// A session running a script.
pub(super) struct Executor {
    /// Options of the current session (`\connect` changes the database).
    conn: ConnOptions,
    client: Client,
    single_transaction: bool,
    summary: RestoreSummary,
}

impl Executor {
    /// Connects, and opens the transaction in single-transaction mode.
    pub async fn connect(conn: ConnOptions, single_transaction: bool) -> Result<Self> {
        let client = conn.connect().await?;
        if single_transaction {
            client
                .batch_execute("BEGIN")
                .await
                .map_err(|e| Error::postgres("starting the restore transaction", e))?;
        }
        Ok(Executor {
            conn,
            client,
            single_transaction,
            summary: RestoreSummary::default(),
        })
    }

    /// A worker's session: the one in `slot`, else a new one that has run `preamble`
    /// (the dump's session settings) and is kept in `slot` for the next task.
    pub async fn reuse_or_connect<'s>(
        slot: &'s mut Option<Executor>,
        conn: &ConnOptions,
        opts: &super::RestoreOptions,
        preamble: &str,
    ) -> Result<&'s mut Executor> {
        if slot.is_none() {
            let mut ex = Executor::connect(conn.clone(), opts.single_transaction).await?;
            ex.run(&mut ScriptReader::new(preamble.as_bytes())).await?;
            *slot = Some(ex);
        }
        Ok(slot.as_mut().expect("set above"))
    }

    /// Runs every item of the script; stops at the first error.
    pub async fn run<R: AsyncBufRead + Unpin>(
        &mut self,
        reader: &mut ScriptReader<R>,
    ) -> Result<()> {
        while let Some(item) = reader.next_item().await? {
            match item {
                Item::Statement { sql, line } => self.statement(&sql, line).await?,
                Item::Copy { sql, line } => self.copy(reader, &sql, line).await?,
                Item::Meta { command, line } => self.meta(&command, line).await?,
            }
        }
        Ok(())
    }

    /// Commits in single-transaction mode; `line` is the end of the script.
    pub async fn finish(self, line: u64) -> Result<RestoreSummary> {
        if self.single_transaction {
            self.client
                .batch_execute("COMMIT")
                .await
                .map_err(|e| server_error(e, line, "COMMIT", None))?;
        }
        tracing::info!(
            statements = self.summary.statements,
            copies = self.summary.copies,
            copy_bytes = self.summary.copy_bytes,
            copy_rows = self.summary.copy_rows,
            "restore complete"
        );
        Ok(self.summary)
    }

    /// After an error: rolls back in single-transaction mode (best effort: the server
    /// rolls back anyway when the session ends).
    pub async fn abort(&self) {
        if self.single_transaction {
            if let Err(e) = self.client.batch_execute("ROLLBACK").await {
                tracing::debug!("rollback after a failed restore: {e}");
            }
        }
    }

    async fn statement(&mut self, sql: &str, line: u64) -> Result<()> {
        check_client_encoding(sql, line)?;
        tracing::trace!(line, "statement");
        self.client
            .batch_execute(sql)
            .await
            .map_err(|e| server_error(e, line, sql, None))?;
        self.summary.statements += 1;
        Ok(())
    }

    /// Runs a `COPY ... FROM stdin`, feeding it the data that follows in the script.
    /// Chunks go to the server as they are read: the sink accepts a new one only when
    /// the connection has taken the previous one, so memory stays bounded.
    async fn copy<R: AsyncBufRead + Unpin>(
        &mut self,
        reader: &mut ScriptReader<R>,
        sql: &str,
        line: u64,
    ) -> Result<()> {
        let data_line = reader.line();
        tracing::debug!(line, "COPY");
        let sink = self
            .client
            .copy_in::<str, Bytes>(sql)
            .await
            .map_err(|e| server_error(e, line, sql, None))?;
        let mut sink = pin!(sink);
        while let Some(chunk) = reader.copy_data().await? {
            self.summary.copy_bytes += chunk.len() as u64;
            sink.send(chunk)
                .await
                .map_err(|e| server_error(e, line, sql, Some(data_line)))?;
        }
        let rows = sink
            .as_mut()
            .finish()
            .await
            .map_err(|e| server_error(e, line, sql, Some(data_line)))?;
        self.summary.statements += 1;
        self.summary.copies += 1;
        self.summary.copy_rows += rows;
        Ok(())
    }

    async fn meta(&mut self, command: &MetaCommand, line: u64) -> Result<()> {
        match command {
            MetaCommand::Connect { dbname } => {
                self.reconnect(dbname.as_deref(), command, line).await
            }
            MetaCommand::Encoding { encoding } => {
                if is_utf8_compatible(encoding) {
                    Ok(())
                } else {
                    Err(Error::script(
                        line,
                        format!("{command}: pgbm talks UTF8 to the server and restores only UTF8 (or SQL_ASCII) scripts"),
                    )
                    .with_location(location(line, &command.to_string())))
                }
            }
            // The reader enforces restricted mode; nothing reaches the server.
            MetaCommand::Restrict { .. } | MetaCommand::Unrestrict { .. } => Ok(()),
        }
    }

    /// `\connect`: a new session on another database of the same server, as the same
    /// user. The old session ends.
    async fn reconnect(
        &mut self,
        dbname: Option<&str>,
        command: &MetaCommand,
        line: u64,
    ) -> Result<()> {
        if self.single_transaction {
            return Err(Error::script(
                line,
                format!("{command}: cannot change database inside the single restore transaction"),
            )
            .with_location(location(line, &command.to_string())));
        }
        let conn = match dbname {
            Some(db) => self.conn.with_dbname(db),
            None => self.conn.clone(),
        };
        tracing::info!(database = conn.dbname(), "connecting");
        let client = conn.connect().await.map_err(|e| {
            Error::new(e.kind(), format!("line {line}: {command}: {e}"))
                .with_location(location(line, &command.to_string()))
                .with_source(e)
        })?;
        self.client = client;
        self.conn = conn;
        Ok(())
    }
}

/// pgbm's sessions use client encoding UTF8 (tokio-postgres sets it at startup).
/// SQL_ASCII is accepted too: pg_dump writes `\encoding SQL_ASCII` before a
/// `\connect` to a database with an unusual name, and it disables conversion only.
fn is_utf8_compatible(encoding: &str) -> bool {
    let norm: String = encoding
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_uppercase();
    matches!(norm.as_str(), "UTF8" | "UNICODE" | "SQLASCII" | "DEFAULT")
}

/// Refuses `SET client_encoding` to anything but UTF8: the script's bytes would then
/// be in another encoding, which pgbm does not convert.
fn check_client_encoding(sql: &str, line: u64) -> Result<()> {
    match parse_set(sql) {
        Some((name, value)) if name == "client_encoding" && !is_utf8_compatible(&value) => Err(Error::script(
            line,
            format!("the script is in encoding {value}; pgbm restores UTF8 scripts only (dump with --encoding=UTF8)"),
        )
        .with_location(location(line, sql))),
        _ => Ok(()),
    }
}

fn location(line: u64, statement: &str) -> ScriptLocation {
    ScriptLocation {
        line,
        statement: shorten(statement),
    }
}

/// The error of a statement or COPY that failed at `line`. For COPY (`data_line` is the
/// line of its first data row) the server's context, which names the data row, is
/// added with that row's line in the script.
fn server_error(err: tokio_postgres::Error, line: u64, sql: &str, data_line: Option<u64>) -> Error {
    let what = match err.as_db_error() {
        Some(db) => {
            let context = data_line.and_then(|first| copy_context(db.where_()?, first));
            match context {
                Some(context) => format!("line {line}: {} in {context}", db.severity()),
                None => format!("line {line}: {}", db.severity()),
            }
        }
        None => format!("line {line}"),
    };
    Error::postgres(what, err).with_location(location(line, sql))
}

/// From a context such as `COPY actor, line 3, column x: "..."`, that context line and
/// the script line of the row it names.
fn copy_context(where_: &str, first_data_line: u64) -> Option<String> {
    let context = where_.lines().next()?.trim();
    if !context.starts_with("COPY ") {
        return None;
    }
    let row = context.split(", line ").nth(1).and_then(|rest| {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u64>().ok()
    });
    Some(match row {
        Some(n) if n > 0 => format!("{context} (script line {})", first_data_line + n - 1),
        _ => context.to_string(),
    })
}

/// A statement for display: blanks collapsed, at most about [`STATEMENT_DISPLAY`]
/// characters.
fn shorten(sql: &str) -> String {
    let mut out = String::new();
    for (i, word) in sql.split_ascii_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
        if out.chars().count() > STATEMENT_DISPLAY {
            let cut: String = out.chars().take(STATEMENT_DISPLAY).collect();
            return format!("{cut}...");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_collapses_blanks_and_cuts() {
        assert_eq!(shorten("SELECT\n  1;\n"), "SELECT 1;");
        let long = format!("INSERT INTO t VALUES ('{}');", "é".repeat(500));
        let short = shorten(&long);
        assert_eq!(short.chars().count(), STATEMENT_DISPLAY + 3);
        assert!(short.ends_with("..."));
    }

    #[test]
    fn copy_context_names_the_script_line() {
        assert_eq!(
            copy_context("COPY actor, line 3, column actor_id: \"x\"", 120).as_deref(),
            Some("COPY actor, line 3, column actor_id: \"x\" (script line 122)")
        );
        assert_eq!(
            copy_context("COPY t, line 1: \"a\tb\"\nSQL statement ...", 10).as_deref(),
            Some("COPY t, line 1: \"a\tb\" (script line 10)")
        );
        assert_eq!(copy_context("PL/pgSQL function f() line 3", 10), None);
    }

    #[test]
    fn encodings() {
        for ok in ["UTF8", "utf-8", "Unicode", "SQL_ASCII", "sql_ascii"] {
            assert!(is_utf8_compatible(ok), "{ok}");
        }
        for bad in ["LATIN1", "WIN1252", "EUC_JP"] {
            assert!(!is_utf8_compatible(bad), "{bad}");
        }
        assert!(check_client_encoding("SET client_encoding = 'UTF8';", 1).is_ok());
        assert!(check_client_encoding("SELECT 'LATIN1';", 1).is_ok());
        let e = check_client_encoding("SET client_encoding = 'LATIN1';", 9).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Script);
        assert!(e.to_string().starts_with("line 9: "), "{e}");
    }
}
