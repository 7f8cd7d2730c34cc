//! Parser for plain-format SQL scripts (pg_dump's, pgbm's).
//!
//! [`ScriptReader`] reads a script from any [`AsyncBufRead`] and yields one [`Item`] at
//! a time: a statement, a `COPY ... FROM stdin` statement whose data the caller then
//! reads with [`ScriptReader::copy_data`], or one of the psql meta-commands pg_dump
//! writes. Statements are split where psql splits them (quotes of every kind, dollar
//! quoting, nested comments, parentheses, `BEGIN ATOMIC ... END` bodies), so a script
//! behaves as it would under `psql -f`.
//!
//! Memory: one statement is held at a time; COPY data streams through in chunks of
//! about [`COPY_CHUNK`] bytes, however long the block is. Give the reader a large
//! input buffer (e.g. `BufReader::with_capacity(256 * 1024, file)`): `tokio::fs::File`
//! runs every read on the blocking thread pool, and with 8 KiB reads that costs more
//! than the parsing (about 1.3 GB/s of COPY data with 256 KiB reads).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use pgbm_core::script::{Item, ScriptReader};
//!
//! let script = "CREATE TABLE t (a text);\nCOPY t (a) FROM stdin;\nx;y\n\\.\n";
//! let mut reader = ScriptReader::new(script.as_bytes());
//! assert!(matches!(reader.next_item().await?, Some(Item::Statement { line: 1, .. })));
//! assert!(matches!(reader.next_item().await?, Some(Item::Copy { line: 2, .. })));
//! assert_eq!(reader.copy_data().await?.as_deref(), Some(&b"x;y\n"[..]));
//! assert_eq!(reader.copy_data().await?, None);
//! assert!(reader.next_item().await?.is_none());
//! # Ok::<(), pgbm_core::Error>(())
//! # }).unwrap();
//! ```

mod copy;
mod lexer;
mod meta;

pub use meta::MetaCommand;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::error::{Error, Result};
use copy::CopyScan;
use lexer::{Lexer, Scan, StatementKind};

/// COPY data is handed out in chunks of about this many bytes (more when the input
/// arrives in bigger pieces).
pub const COPY_CHUNK: usize = 64 * 1024;

/// The longest statement accepted: the server refuses longer queries anyway
/// (`MaxAllocSize`), and the limit keeps a script without any `;` from filling memory.
const MAX_STATEMENT: usize = 1 << 30;

/// The longest meta-command line accepted.
const MAX_META_LINE: usize = 1 << 20;

/// One element of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Item {
    /// A SQL statement (possibly several joined by psql's `\;`), with its final `;`.
    Statement {
        /// The statement text, from its first significant character.
        sql: String,
        /// 1-based line of its first character that is neither blank nor comment.
        line: u64,
    },
    /// A `COPY ... FROM stdin` statement. Its data follows: read it with
    /// [`ScriptReader::copy_data`] until that returns `None`.
    Copy {
        /// The COPY statement, with its final `;`.
        sql: String,
        /// 1-based line of the statement.
        line: u64,
    },
    /// A psql meta-command.
    Meta {
        /// The command and its arguments.
        command: MetaCommand,
        /// 1-based line of the command.
        line: u64,
    },
}

/// Where the reader is inside a COPY block.
#[derive(Debug)]
struct CopyState {
    /// Line of the COPY statement.
    line: u64,
    /// Line of the first data row.
    data_line: u64,
    /// Whether the next byte starts a line (and so may start `\.`).
    at_line_start: bool,
}

/// Streaming reader of a plain-format SQL script; see the module documentation.
#[derive(Debug)]
pub struct ScriptReader<R> {
    input: R,
    /// Input read but not yet handed out; `buf[0]` is on line `line`.
    buf: BytesMut,
    eof: bool,
    line: u64,
    lexer: Lexer,
    copy: Option<CopyState>,
    /// The key of `\restrict` while restricted mode is on.
    restrict_key: Option<String>,
}

impl<R: AsyncBufRead + Unpin> ScriptReader<R> {
    /// A reader of the script `input`.
    pub fn new(input: R) -> Self {
        ScriptReader {
            input,
            buf: BytesMut::new(),
            eof: false,
            line: 1,
            lexer: Lexer::default(),
            copy: None,
            restrict_key: None,
        }
    }

    /// The 1-based line the reader has reached: after [`Item::Copy`], the line of the
    /// first data row; after the last item, one past the last line.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The next item, or `None` at the end of the script. COPY data not read with
    /// [`copy_data`](Self::copy_data) is skipped.
    ///
    /// # Errors
    /// [`ErrorKind::Script`](crate::ErrorKind::Script) for what psql would refuse or
    /// pgbm cannot run (unknown meta-command, unterminated COPY data, text that is
    /// not UTF-8, ...), [`ErrorKind::Io`](crate::ErrorKind::Io) if reading fails.
    /// Errors are final: the reader's position after one is unspecified.
    pub async fn next_item(&mut self) -> Result<Option<Item>> {
        while self.copy.is_some() {
            self.copy_data().await?;
        }
        loop {
            match self.lexer.scan(&self.buf, self.eof) {
                Scan::NeedMore => {
                    self.compact()?;
                    self.fill().await?;
                }
                Scan::Statement { end } => return self.statement(end).await.map(Some),
                Scan::Eof => {
                    if self.lexer.statement_start().is_none() {
                        self.lexer.reset_statement();
                        let all = self.buf.len();
                        self.advance(all);
                        return Ok(None);
                    }
                    // psql runs a last statement that lacks its `;`.
                    let end = self.buf.len();
                    return self.statement(end).await.map(Some);
                }
                Scan::Meta { at } => return self.meta(at).await.map(Some),
                Scan::MetaInStatement { at } => return Err(self.meta_in_statement(at)),
            }
        }
    }

    /// The next chunk of the current COPY block's data, or `None` once its `\.` line
    /// has been read (and consumed). Chunks are raw bytes, passed on as they are; they
    /// end at line boundaries except for lines longer than a chunk.
    ///
    /// Returns `None` when no COPY block is being read.
    ///
    /// # Errors
    /// [`ErrorKind::Script`](crate::ErrorKind::Script) when the input ends before
    /// `\.`; [`ErrorKind::Io`](crate::ErrorKind::Io) if reading fails.
    pub async fn copy_data(&mut self) -> Result<Option<Bytes>> {
        let Some(state) = &self.copy else {
            return Ok(None);
        };
        let mut at_line_start = state.at_line_start;
        loop {
            while self.buf.len() < COPY_CHUNK && !self.eof {
                self.fill().await?;
            }
            match copy::scan(&self.buf, at_line_start, self.eof) {
                CopyScan::Data {
                    len,
                    lines,
                    at_line_start,
                } => {
                    let chunk = self.buf.split_to(len).freeze();
                    self.line += lines;
                    if let Some(state) = &mut self.copy {
                        state.at_line_start = at_line_start;
                    }
                    return Ok(Some(chunk));
                }
                CopyScan::End { len, lines } => {
                    self.buf.advance(len);
                    self.line += lines;
                    self.copy = None;
                    return Ok(None);
                }
                CopyScan::NeedMore if self.eof => return Err(self.unterminated_copy()),
                CopyScan::NeedMore => {
                    self.fill().await?;
                    at_line_start = self.copy.as_ref().is_some_and(|s| s.at_line_start);
                }
            }
        }
    }

    fn unterminated_copy(&mut self) -> Error {
        let state = self.copy.take();
        let (line, data_line) = state.map_or((self.line, self.line), |s| (s.line, s.data_line));
        Error::script(
            line,
            format!("COPY data starting at line {data_line} is not terminated by \\."),
        )
    }

    /// Reads more input into the buffer; sets `eof` when there is none.
    async fn fill(&mut self) -> Result<()> {
        let data = match self.input.fill_buf().await {
            Ok(data) => data,
            Err(e) => {
                return Err(Error::io(
                    format_args!("reading the script at line {}", self.line),
                    e,
                ))
            }
        };
        let n = data.len();
        if n == 0 {
            self.eof = true;
        } else {
            self.buf.extend_from_slice(data);
            self.input.consume(n);
        }
        Ok(())
    }

    /// Drops the first `n` bytes of the buffer, counting their lines.
    fn advance(&mut self, n: usize) {
        self.line += newlines(&self.buf[..n]);
        self.buf.advance(n);
    }

    /// Drops what the lexer no longer needs (blank space and comments between
    /// statements), so that a pending statement starts at `buf[0]` and `line` is its
    /// line.
    fn compact(&mut self) -> Result<()> {
        let keep_from = self.lexer.statement_start().unwrap_or(self.lexer.pos());
        if keep_from > 0 {
            self.advance(keep_from);
            self.lexer.discard(keep_from);
        }
        if self.lexer.statement_start().is_some() && self.buf.len() > MAX_STATEMENT {
            return Err(Error::script(
                self.line,
                format!("statement is longer than {MAX_STATEMENT} bytes"),
            ));
        }
        Ok(())
    }

    /// Hands out the statement that ends at `end`.
    async fn statement(&mut self, end: usize) -> Result<Item> {
        let Some(info) = self.lexer.take_statement() else {
            return Err(Error::internal("statement end without a statement start"));
        };
        self.advance(info.start);
        let end = end - info.start;
        let line = self.line;
        let sql = statement_text(&self.buf[..end], info.start, &info.dropped, line)?;
        self.advance(end);
        // The lexer stopped at the statement's end, which is now the buffer's start.
        self.lexer.discard(self.lexer.pos());
        match info.kind {
            StatementKind::Other => {
                self.track_settings(&sql);
                Ok(Item::Statement { sql, line })
            }
            StatementKind::CopyFromStdin => {
                self.begin_copy(line).await?;
                Ok(Item::Copy { sql, line })
            }
            StatementKind::CopyBinary => Err(Error::script(
                line,
                "COPY ... FROM stdin in binary format is not supported in a script",
            )),
            StatementKind::CopyToStdout => Err(Error::script(
                line,
                "COPY ... TO stdout is not supported in a restore script",
            )),
        }
    }

    /// Skips the rest of the COPY statement's line (blank or a `--` comment, as
    /// pg_dump writes it): the data starts on the next line.
    async fn begin_copy(&mut self, line: u64) -> Result<()> {
        let rest_len = loop {
            if let Some(nl) = memchr::memchr(b'\n', &self.buf) {
                break nl + 1;
            }
            if self.eof {
                break self.buf.len();
            }
            if self.buf.len() > MAX_META_LINE {
                break self.buf.len();
            }
            self.fill().await?;
        };
        let rest = self.buf[..rest_len].trim_ascii();
        if !rest.is_empty() && !rest.starts_with(b"--") {
            return Err(Error::script(
                line,
                "unexpected text after COPY ... FROM stdin on the same line",
            ));
        }
        self.advance(rest_len);
        self.copy = Some(CopyState {
            line,
            data_line: self.line,
            at_line_start: true,
        });
        Ok(())
    }

    /// Follows `SET standard_conforming_strings`, which changes how later literals
    /// must be split (psql follows the server's parameter the same way).
    fn track_settings(&mut self, sql: &str) {
        if let Some((name, value)) = parse_set(sql) {
            if name == "standard_conforming_strings" {
                match value.to_ascii_lowercase().as_str() {
                    "on" | "true" | "yes" | "1" | "default" => self.lexer.std_strings = true,
                    "off" | "false" | "no" | "0" => self.lexer.std_strings = false,
                    _ => {}
                }
            }
        }
    }

    /// Reads the meta-command whose backslash is at `at`.
    async fn meta(&mut self, at: usize) -> Result<Item> {
        self.advance(at);
        self.lexer.discard(self.lexer.pos());
        let line = self.line;
        let len = loop {
            if let Some(nl) = memchr::memchr(b'\n', &self.buf) {
                break nl + 1;
            }
            if self.eof {
                break self.buf.len();
            }
            if self.buf.len() > MAX_META_LINE {
                return Err(Error::script(line, "psql meta-command line is too long"));
            }
            self.fill().await?;
        };
        let raw = self.buf[..len]
            .strip_suffix(b"\n")
            .unwrap_or(&self.buf[..len]);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = std::str::from_utf8(raw)
            .map_err(|_| Error::script(line, "psql meta-command is not valid UTF-8"))?
            .to_owned();
        let command = self.check_restricted(&text, line)?;
        self.advance(len);
        self.lexer.reset_statement();
        if matches!(command, MetaCommand::Connect { .. }) {
            // A new session starts with the server's default.
            self.lexer.std_strings = true;
        }
        Ok(Item::Meta { command, line })
    }

    /// Parses a meta-command and applies psql's restricted mode: while it is on, only
    /// `\unrestrict` with the right key is accepted.
    fn check_restricted(&mut self, text: &str, line: u64) -> Result<MetaCommand> {
        let name = meta::command_name(text);
        if self.restrict_key.is_some() && name != "unrestrict" {
            return Err(Error::script(
                line,
                format!(
                    "backslash commands are restricted; only \\unrestrict is allowed (found \\{name})"
                ),
            ));
        }
        let command = meta::parse(text, line)?;
        match &command {
            MetaCommand::Restrict { key } => self.restrict_key = Some(key.clone()),
            MetaCommand::Unrestrict { key } => match &self.restrict_key {
                None => {
                    return Err(Error::script(
                        line,
                        "\\unrestrict: not currently in restricted mode",
                    ))
                }
                Some(k) if k != key => return Err(Error::script(line, "\\unrestrict: wrong key")),
                Some(_) => self.restrict_key = None,
            },
            _ => {}
        }
        Ok(command)
    }

    fn meta_in_statement(&self, at: usize) -> Error {
        let line = self.line + newlines(&self.buf[..at]);
        let text = String::from_utf8_lossy(&self.buf[at..]);
        let name = meta::command_name(&text);
        Error::script(
            line,
            format!("psql meta-command \\{name} inside a statement is not supported"),
        )
    }
}

/// The text of a statement: `raw` without the backslashes of psql's `\;` and `\:`
/// (`dropped` holds their offsets relative to `base`), and without trailing blanks.
fn statement_text(raw: &[u8], base: usize, dropped: &[usize], line: u64) -> Result<String> {
    let bytes: Vec<u8> = if dropped.is_empty() {
        raw.trim_ascii_end().to_vec()
    } else {
        let mut out = Vec::with_capacity(raw.len());
        let mut from = 0;
        for &d in dropped {
            let d = d - base;
            out.extend_from_slice(&raw[from..d]);
            from = d + 1;
        }
        out.extend_from_slice(&raw[from..]);
        let trimmed = out.trim_ascii_end().len();
        out.truncate(trimmed);
        out
    };
    String::from_utf8(bytes).map_err(|e| {
        let bad = e.utf8_error().valid_up_to();
        let at = line + newlines(&e.as_bytes()[..bad]);
        Error::script(
            at,
            "the script is not valid UTF-8 (pgbm restores UTF-8 scripts)",
        )
    })
}

fn newlines(b: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', b).count() as u64
}

/// Reads `SET [SESSION|LOCAL] name {=|TO} value[;]` into the lower-cased name and the
/// value (unquoted). Anything more complex (lists, comments, functions) gives `None`.
pub(crate) fn parse_set(sql: &str) -> Option<(String, String)> {
    let mut tokens = set_tokens(sql.trim_end().strip_suffix(';').unwrap_or(sql))?.into_iter();
    if !tokens.next()?.eq_ignore_ascii_case("set") {
        return None;
    }
    let mut name = tokens.next()?;
    if name.eq_ignore_ascii_case("session") || name.eq_ignore_ascii_case("local") {
        name = tokens.next()?;
    }
    let op = tokens.next()?;
    if op != "=" && !op.eq_ignore_ascii_case("to") {
        return None;
    }
    let value = tokens.next()?;
    if tokens.next().is_some() {
        return None;
    }
    Some((name.to_ascii_lowercase(), value))
}

/// Words, `=`, and single-quoted literals (unquoted) of a simple SET statement.
fn set_tokens(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_whitespace() {
            chars.next();
        } else if c == '=' {
            chars.next();
            out.push("=".to_string());
        } else if c == '\'' {
            chars.next();
            let mut v = String::new();
            loop {
                match chars.next()? {
                    '\'' if chars.peek() == Some(&'\'') => {
                        chars.next();
                        v.push('\'');
                    }
                    '\'' => break,
                    c => v.push(c),
                }
            }
            out.push(v);
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' {
            let mut w = String::new();
            while let Some(c) =
                chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.' || *c == '-')
            {
                w.push(c);
            }
            out.push(w);
        } else {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests;
