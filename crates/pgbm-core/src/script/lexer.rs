//! Incremental statement scanner: finds where a SQL statement ends the way psql's
//! lexer (`src/fe_utils/psqlscan.l`) does.
//!
//! The scanner works on a byte buffer that grows at its end while a statement is being
//! read. It never consumes half a token: when it cannot decide without more input it
//! returns [`Scan::NeedMore`] with its state unchanged since the last complete token,
//! and the caller appends input and scans again. Offsets are relative to the start of
//! the caller's buffer; when the caller drops bytes from the front it calls
//! [`Lexer::discard`].
//!
//! Only what decides statement boundaries is tracked: quotes of every kind, comments,
//! parentheses, and psql's `BEGIN ... END` heuristic for SQL-standard function bodies
//! (`CREATE FUNCTION ... BEGIN ATOMIC ... END`).

use memchr::{memchr, memchr2};

/// The outcome of one [`Lexer::scan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scan {
    /// Everything available was consumed (or the next token is incomplete): append
    /// more input and scan again.
    NeedMore,
    /// A statement ends just after its terminating `;` at `end`.
    Statement {
        /// Offset just past the `;`.
        end: usize,
    },
    /// A psql meta-command starts at `at`, outside any statement.
    Meta {
        /// Offset of the backslash.
        at: usize,
    },
    /// A backslash outside quotes inside a statement: psql would run a meta-command
    /// in the middle of the statement, which scripts never need.
    MetaInStatement {
        /// Offset of the backslash.
        at: usize,
    },
    /// The input is exhausted. A statement may be pending (see
    /// [`Lexer::statement_start`]).
    Eof,
}

/// What kind of statement [`Lexer::take_statement`] returned, as far as reading the
/// script is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StatementKind {
    /// Anything that is not a COPY to or from the client.
    Other,
    /// `COPY ... FROM STDIN` in text or CSV format: data lines follow.
    CopyFromStdin,
    /// `COPY ... FROM STDIN` in binary format.
    CopyBinary,
    /// `COPY ... TO STDOUT`.
    CopyToStdout,
}

/// A completed statement's position and shape.
#[derive(Debug)]
pub(super) struct StatementInfo {
    /// Offset of its first significant byte.
    pub start: usize,
    /// Offsets of backslashes to drop from the text (psql's `\;` and `\:`).
    pub dropped: Vec<usize>,
    /// How the reader must treat it.
    pub kind: StatementKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Normal,
    /// `-- ...` up to the end of the line.
    LineComment,
    /// `/* ... */`, nesting like the server's lexer.
    BlockComment {
        depth: u32,
    },
    /// A single-quoted literal; `backslash` when backslash escapes apply (`E'...'`, or
    /// any literal with `standard_conforming_strings` off).
    Quote {
        backslash: bool,
    },
    /// A double-quoted identifier.
    Ident,
    /// A dollar-quoted literal; the delimiter is in [`Lexer::delim`].
    Dollar,
}

enum Step {
    Next,
    NeedMore,
    Done(Scan),
}

/// Top-level words of a COPY statement kept for classification; more than enough for
/// `COPY schema.table (...) FROM STDIN WITH ...`.
const MAX_WORDS: usize = 64;

/// The scanner state; see the module documentation.
#[derive(Debug)]
pub(super) struct Lexer {
    pos: usize,
    start: Option<usize>,
    mode: Mode,
    delim: Vec<u8>,
    paren_depth: u32,
    begin_depth: u32,
    ident_count: u32,
    idents: [u8; 4],
    /// Lower-cased top-level words: only the first one, unless it is `copy`.
    words: Vec<String>,
    copy_binary: bool,
    dropped: Vec<usize>,
    /// Whether plain `'...'` literals treat backslash literally (the server's
    /// `standard_conforming_strings`).
    pub std_strings: bool,
}

impl Default for Lexer {
    fn default() -> Self {
        Lexer {
            pos: 0,
            start: None,
            mode: Mode::Normal,
            delim: Vec::new(),
            paren_depth: 0,
            begin_depth: 0,
            ident_count: 0,
            idents: [0; 4],
            words: Vec::new(),
            copy_binary: false,
            dropped: Vec::new(),
            std_strings: true,
        }
    }
}

impl Lexer {
    /// Offset of the current statement's first significant byte, if one has started.
    pub fn statement_start(&self) -> Option<usize> {
        self.start
    }

    /// Offset up to which the buffer has been scanned.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The caller dropped the first `n` bytes of its buffer. `n` must not exceed the
    /// scan position nor the statement start.
    pub fn discard(&mut self, n: usize) {
        debug_assert!(n <= self.pos && self.start.is_none_or(|s| n <= s));
        self.pos -= n;
        if let Some(s) = &mut self.start {
            *s -= n;
        }
        for d in &mut self.dropped {
            *d -= n;
        }
    }

    /// Ends the current statement (at a `;` or at end of input) and resets the
    /// per-statement state. Returns `None` when no statement had started.
    pub fn take_statement(&mut self) -> Option<StatementInfo> {
        let start = self.start.take()?;
        let info = StatementInfo {
            start,
            dropped: std::mem::take(&mut self.dropped),
            kind: self.kind(),
        };
        self.reset_statement();
        Some(info)
    }

    /// Forgets everything about the current statement (also after a meta-command).
    pub fn reset_statement(&mut self) {
        self.start = None;
        self.mode = Mode::Normal;
        self.paren_depth = 0;
        self.begin_depth = 0;
        self.ident_count = 0;
        self.words.clear();
        self.copy_binary = false;
        self.dropped.clear();
    }

    fn kind(&self) -> StatementKind {
        if self.words.first().map(String::as_str) != Some("copy") {
            return StatementKind::Other;
        }
        let has = |a: &str, b: &str| self.words.windows(2).any(|w| w[0] == a && w[1] == b);
        if has("from", "stdin") {
            if self.copy_binary {
                StatementKind::CopyBinary
            } else {
                StatementKind::CopyFromStdin
            }
        } else if has("to", "stdout") {
            StatementKind::CopyToStdout
        } else {
            StatementKind::Other
        }
    }

    /// Scans `buf` from the current position. `eof` says that `buf` holds all the
    /// remaining input.
    pub fn scan(&mut self, buf: &[u8], eof: bool) -> Scan {
        loop {
            if self.pos >= buf.len() {
                return if eof { Scan::Eof } else { Scan::NeedMore };
            }
            let step = match self.mode {
                Mode::Normal => self.normal(buf, eof),
                Mode::LineComment => self.line_comment(buf),
                Mode::BlockComment { depth } => self.block_comment(buf, eof, depth),
                Mode::Quote { backslash } => self.quote(buf, eof, backslash),
                Mode::Ident => self.ident(buf),
                Mode::Dollar => self.dollar_body(buf, eof),
            };
            match step {
                Step::Next => {}
                Step::NeedMore => return Scan::NeedMore,
                Step::Done(scan) => return scan,
            }
        }
    }

    /// Marks the statement as started at `p` (idempotent).
    fn significant(&mut self, p: usize) {
        if self.start.is_none() {
            self.start = Some(p);
        }
    }

    fn normal(&mut self, buf: &[u8], eof: bool) -> Step {
        let p = self.pos;
        let next = buf.get(p + 1).copied();
        // The byte after this one decides the token, but it has not arrived yet.
        let next_unknown = next.is_none() && !eof;
        match buf[p] {
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => self.pos += 1,
            b'-' | b'/' if next_unknown => return Step::NeedMore,
            b'-' if next == Some(b'-') => {
                self.pos += 2;
                self.mode = Mode::LineComment;
            }
            b'/' if next == Some(b'*') => {
                self.pos += 2;
                self.mode = Mode::BlockComment { depth: 0 };
            }
            b'\'' => {
                self.significant(p);
                self.pos += 1;
                self.mode = Mode::Quote {
                    backslash: !self.std_strings,
                };
            }
            b'"' => {
                self.significant(p);
                self.pos += 1;
                self.mode = Mode::Ident;
            }
            b'$' => return self.dollar_start(buf, eof),
            b'(' => {
                self.significant(p);
                self.paren_depth += 1;
                self.pos += 1;
            }
            b')' => {
                self.significant(p);
                self.paren_depth = self.paren_depth.saturating_sub(1);
                self.pos += 1;
            }
            b';' => return self.semicolon(),
            b'\\' => return self.backslash(next, next_unknown),
            b'0'..=b'9' => return self.number(buf, eof),
            b if is_ident_start(b) => return self.word(buf, eof),
            _ => {
                self.significant(p);
                self.pos += 1;
            }
        }
        Step::Next
    }

    fn semicolon(&mut self) -> Step {
        let p = self.pos;
        self.pos += 1;
        if self.paren_depth > 0 || self.begin_depth > 0 {
            self.significant(p);
            return Step::Next;
        }
        if self.start.is_some() {
            return Step::Done(Scan::Statement { end: self.pos });
        }
        // An empty statement (`;` alone, or after comments): nothing to run.
        self.ident_count = 0;
        Step::Next
    }

    fn backslash(&mut self, next: Option<u8>, next_unknown: bool) -> Step {
        let p = self.pos;
        if next_unknown {
            return Step::NeedMore;
        }
        match next {
            // psql's `\;` and `\:` put a literal `;` or `:` into the query.
            Some(c @ (b';' | b':')) => {
                self.significant(p);
                self.dropped.push(p);
                if c == b';' {
                    self.ident_count = 0;
                }
                self.pos += 2;
                Step::Next
            }
            _ if self.start.is_none() => Step::Done(Scan::Meta { at: p }),
            _ => Step::Done(Scan::MetaInStatement { at: p }),
        }
    }

    /// `$` starts a dollar quote (`$$`, `$tag$`), or is a parameter (`$1`) or a lone
    /// dollar sign. A `$` inside a word never gets here: words absorb it.
    fn dollar_start(&mut self, buf: &[u8], eof: bool) -> Step {
        let p = self.pos;
        let mut i = p + 1;
        if buf.get(i).is_some_and(|&c| is_dolq_start(c)) {
            i += 1;
            while buf.get(i).is_some_and(|&c| is_dolq_cont(c)) {
                i += 1;
            }
        }
        match buf.get(i) {
            None if !eof => return Step::NeedMore,
            Some(b'$') => {
                self.delim.clear();
                self.delim.extend_from_slice(&buf[p..=i]);
                self.mode = Mode::Dollar;
                self.pos = i + 1;
            }
            _ => self.pos = p + 1,
        }
        self.significant(p);
        Step::Next
    }

    fn dollar_body(&mut self, buf: &[u8], eof: bool) -> Step {
        loop {
            let Some(off) = memchr(b'$', &buf[self.pos..]) else {
                self.pos = buf.len();
                return Step::Next;
            };
            let q = self.pos + off;
            let rest = &buf[q..];
            if rest.starts_with(&self.delim) {
                self.pos = q + self.delim.len();
                self.mode = Mode::Normal;
                return Step::Next;
            }
            if rest.len() < self.delim.len() && self.delim.starts_with(rest) && !eof {
                // Possibly the closing delimiter, cut by the end of the buffer.
                self.pos = q;
                return Step::NeedMore;
            }
            self.pos = q + 1;
        }
    }

    fn number(&mut self, buf: &[u8], eof: bool) -> Step {
        let p = self.pos;
        let len = buf[p..].iter().take_while(|b| b.is_ascii_digit()).count();
        if p + len == buf.len() && !eof {
            return Step::NeedMore;
        }
        self.significant(p);
        self.pos = p + len;
        Step::Next
    }

    fn word(&mut self, buf: &[u8], eof: bool) -> Step {
        let p = self.pos;
        let len = buf[p..].iter().take_while(|&&b| is_ident_cont(b)).count();
        let e = p + len;
        if e == buf.len() && !eof {
            return Step::NeedMore;
        }
        self.significant(p);
        self.pos = e;
        if len == 1 && buf.get(e) == Some(&b'\'') {
            match buf[p] {
                b'e' | b'E' => {
                    self.pos = e + 1;
                    self.mode = Mode::Quote { backslash: true };
                    return Step::Next;
                }
                // Bit strings take no escapes whatever standard_conforming_strings says.
                b'b' | b'B' | b'x' | b'X' => {
                    self.pos = e + 1;
                    self.mode = Mode::Quote { backslash: false };
                    return Step::Next;
                }
                // N'...': a national character literal, an ordinary literal to psql.
                b'n' | b'N' => return Step::Next,
                _ => {}
            }
        }
        self.identifier(&buf[p..e]);
        Step::Next
    }

    /// psql's heuristic for `CREATE [OR REPLACE] {FUNCTION|PROCEDURE} ... BEGIN ATOMIC
    /// ... END`: inside such a body semicolons do not end the statement.
    fn identifier(&mut self, w: &[u8]) {
        if self.ident_count == 0 {
            self.idents = [0; 4];
        }
        let is = |k: &str| w.eq_ignore_ascii_case(k.as_bytes());
        if ["create", "function", "procedure", "or", "replace"]
            .iter()
            .any(|k| is(k))
        {
            if let Some(slot) = self.idents.get_mut(self.ident_count as usize) {
                *slot = w[0].to_ascii_lowercase();
            }
        }
        self.ident_count = self.ident_count.saturating_add(1);
        let i = self.idents;
        let creates_routine = i[0] == b'c'
            && (i[1] == b'f'
                || i[1] == b'p'
                || (i[1] == b'o' && i[2] == b'r' && (i[3] == b'f' || i[3] == b'p')));
        if creates_routine && self.paren_depth == 0 {
            if is("begin") {
                self.begin_depth += 1;
            } else if is("case") {
                // CASE also ends with END; it matters only inside a BEGIN.
                if self.begin_depth >= 1 {
                    self.begin_depth += 1;
                }
            } else if is("end") {
                self.begin_depth = self.begin_depth.saturating_sub(1);
            }
        }
        self.record_word(w);
    }

    fn record_word(&mut self, w: &[u8]) {
        let lower = || String::from_utf8_lossy(w).to_ascii_lowercase();
        if self.words.is_empty() {
            if self.paren_depth == 0 {
                self.words.push(lower());
            }
            return;
        }
        if self.words[0] != "copy" {
            return;
        }
        if w.eq_ignore_ascii_case(b"binary") {
            self.copy_binary = true;
        }
        if self.paren_depth == 0 && self.words.len() < MAX_WORDS {
            self.words.push(lower());
        }
    }

    fn line_comment(&mut self, buf: &[u8]) -> Step {
        match memchr2(b'\n', b'\r', &buf[self.pos..]) {
            Some(off) => {
                self.pos += off + 1;
                self.mode = Mode::Normal;
            }
            None => self.pos = buf.len(),
        }
        Step::Next
    }

    fn block_comment(&mut self, buf: &[u8], eof: bool, mut depth: u32) -> Step {
        loop {
            let Some(off) = memchr2(b'/', b'*', &buf[self.pos..]) else {
                self.pos = buf.len();
                self.mode = Mode::BlockComment { depth };
                return Step::Next;
            };
            let q = self.pos + off;
            let Some(&next) = buf.get(q + 1) else {
                self.mode = Mode::BlockComment { depth };
                if eof {
                    self.pos = buf.len();
                    return Step::Next;
                }
                self.pos = q;
                return Step::NeedMore;
            };
            match (buf[q], next) {
                (b'/', b'*') => {
                    depth += 1;
                    self.pos = q + 2;
                }
                (b'*', b'/') => {
                    self.pos = q + 2;
                    if depth == 0 {
                        self.mode = Mode::Normal;
                        return Step::Next;
                    }
                    depth -= 1;
                }
                _ => self.pos = q + 1,
            }
        }
    }

    fn quote(&mut self, buf: &[u8], eof: bool, backslash: bool) -> Step {
        let rest = &buf[self.pos..];
        let found = if backslash {
            memchr2(b'\'', b'\\', rest)
        } else {
            memchr(b'\'', rest)
        };
        let Some(off) = found else {
            self.pos = buf.len();
            return Step::Next;
        };
        let q = self.pos + off;
        if !backslash {
            // `''` reads the same as a closed literal followed by a new one.
            self.pos = q + 1;
            self.mode = Mode::Normal;
            return Step::Next;
        }
        // With backslash escapes, both `\'` and `''` keep the literal open. psql reads
        // scripts line by line, so unlike the server it never continues a literal on
        // the next line (`E'a'` newline `'b'`): neither does this lexer.
        match (buf[q], buf.get(q + 1)) {
            (_, None) if !eof => {
                self.pos = q;
                return Step::NeedMore;
            }
            (b'\\', _) | (b'\'', Some(b'\'')) => self.pos = (q + 2).min(buf.len()),
            _ => {
                self.pos = q + 1;
                self.mode = Mode::Normal;
            }
        }
        Step::Next
    }

    fn ident(&mut self, buf: &[u8]) -> Step {
        match memchr(b'"', &buf[self.pos..]) {
            Some(off) => {
                // `""` inside an identifier reads the same as closing and reopening.
                self.pos += off + 1;
                self.mode = Mode::Normal;
            }
            None => self.pos = buf.len(),
        }
        Step::Next
    }
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_cont(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit() || b == b'$'
}

fn is_dolq_start(b: u8) -> bool {
    is_ident_start(b)
}

fn is_dolq_cont(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit()
}
