//! psql meta-commands: the few that pg_dump writes, parsed the way psql parses them
//! (`src/fe_utils/psqlscanslash.l`, `src/bin/psql/command.c`).

use std::fmt;

use crate::error::{Error, Result};

/// A psql meta-command found in a script.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetaCommand {
    /// `\connect [DBNAME]` (or `\c`): continue in another database of the same server,
    /// as the same user. `None` reconnects to the current database.
    ///
    /// pg_dump writes `\connect -reuse-previous=on "dbname='...'"` for names with
    /// unusual characters; that form is decoded here.
    Connect {
        /// The database to connect to.
        dbname: Option<String>,
    },
    /// `\encoding ENCODING`: psql's client encoding.
    Encoding {
        /// The encoding name as written.
        encoding: String,
    },
    /// `\restrict KEY`: from here on, refuse every meta-command but `\unrestrict KEY`.
    Restrict {
        /// The key that ends restricted mode.
        key: String,
    },
    /// `\unrestrict KEY`: leave restricted mode.
    Unrestrict {
        /// The key given to `\restrict`.
        key: String,
    },
}

impl fmt::Display for MetaCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetaCommand::Connect { dbname: Some(db) } => write!(f, "\\connect {db}"),
            MetaCommand::Connect { dbname: None } => f.write_str("\\connect"),
            MetaCommand::Encoding { encoding } => write!(f, "\\encoding {encoding}"),
            MetaCommand::Restrict { key } => write!(f, "\\restrict {key}"),
            MetaCommand::Unrestrict { key } => write!(f, "\\unrestrict {key}"),
        }
    }
}

/// The name of the meta-command on `text` (which starts with the backslash): the bytes
/// up to whitespace or the next backslash, as psql reads it.
pub(super) fn command_name(text: &str) -> &str {
    let body = &text[1..];
    let end = body
        .find(|c: char| c.is_ascii_whitespace() || c == '\\')
        .unwrap_or(body.len());
    &body[..end]
}

/// Parses one meta-command line (without its line terminator), which starts with a
/// backslash.
pub(super) fn parse(text: &str, line: u64) -> Result<MetaCommand> {
    let name = command_name(text);
    let rest = &text[1 + name.len()..];
    let args = split_args(rest, line)?;
    match name {
        "c" | "connect" => connect(&args, line),
        "encoding" => {
            let encoding = required(&args, name, line)?;
            Ok(MetaCommand::Encoding { encoding })
        }
        "restrict" => Ok(MetaCommand::Restrict {
            key: required(&args, name, line)?,
        }),
        "unrestrict" => Ok(MetaCommand::Unrestrict {
            key: required(&args, name, line)?,
        }),
        _ => Err(Error::script(
            line,
            format!("unsupported psql meta-command \\{name}"),
        )),
    }
}

/// One argument as psql's slash-command lexer returns it: single-quoted parts are
/// already decoded, double-quoted parts are kept with their quotes.
#[derive(Debug, PartialEq, Eq)]
struct Arg {
    raw: String,
    quoted: bool,
}

impl Arg {
    /// The argument read as psql's `OT_NORMAL` (double quotes kept).
    fn normal(&self) -> &str {
        &self.raw
    }

    /// The argument read as psql's `OT_SQLIDHACK`: double quotes removed, `""` inside
    /// them read as one `"`, nothing lower-cased.
    fn sqlid(&self) -> String {
        let mut out = String::with_capacity(self.raw.len());
        let mut in_quotes = false;
        let mut chars = self.raw.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '"' {
                out.push(c);
            } else if in_quotes && chars.peek() == Some(&'"') {
                chars.next();
                out.push('"');
            } else {
                in_quotes = !in_quotes;
            }
        }
        out
    }
}

fn required(args: &[Arg], name: &str, line: u64) -> Result<String> {
    match args.first() {
        Some(a) if !a.raw.is_empty() => Ok(a.normal().to_string()),
        _ => Err(Error::script(
            line,
            format!("\\{name}: missing required argument"),
        )),
    }
}

/// Splits the arguments of a meta-command the way psql's slash-command lexer does.
/// Backquotes (shell commands) and a second meta-command on the same line are refused.
fn split_args(rest: &str, line: u64) -> Result<Vec<Arg>> {
    let mut args = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(args);
        }
        let mut arg = Arg {
            raw: String::new(),
            quoted: false,
        };
        while let Some(&c) = chars.peek() {
            if c.is_ascii_whitespace() {
                break;
            }
            chars.next();
            match c {
                '\'' => {
                    arg.quoted = true;
                    single_quoted(&mut chars, &mut arg.raw);
                }
                '"' => {
                    arg.quoted = true;
                    arg.raw.push('"');
                    for c in chars.by_ref() {
                        arg.raw.push(c);
                        if c == '"' {
                            break;
                        }
                    }
                }
                '`' => return Err(Error::script(
                    line,
                    "backquote (shell command) expansion in a psql meta-command is not supported",
                )),
                '\\' => {
                    return Err(Error::script(
                        line,
                        "only one psql meta-command per line is supported",
                    ))
                }
                c => arg.raw.push(c),
            }
        }
        args.push(arg);
    }
}

/// Decodes a psql single-quoted argument after its opening quote: `''` is a quote,
/// and `\n \t \b \r \f`, octal and hex escapes are decoded as psql does.
fn single_quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, out: &mut String) {
    while let Some(c) = chars.next() {
        match c {
            '\'' if chars.peek() == Some(&'\'') => {
                chars.next();
                out.push('\'');
            }
            '\'' => return,
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('b') => out.push('\u{8}'),
                Some('r') => out.push('\r'),
                Some('f') => out.push('\u{c}'),
                Some(d @ '0'..='7') => {
                    let mut v = d.to_digit(8).unwrap_or(0);
                    for _ in 0..2 {
                        match chars.peek().and_then(|c| c.to_digit(8)) {
                            Some(x) => {
                                v = v * 8 + x;
                                chars.next();
                            }
                            None => break,
                        }
                    }
                    out.push(char::from_u32(v & 0xff).unwrap_or('\u{fffd}'));
                }
                Some('x') if chars.peek().is_some_and(char::is_ascii_hexdigit) => {
                    let mut v = 0;
                    for _ in 0..2 {
                        match chars.peek().and_then(|c| c.to_digit(16)) {
                            Some(x) => {
                                v = v * 16 + x;
                                chars.next();
                            }
                            None => break,
                        }
                    }
                    out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                }
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            c => out.push(c),
        }
    }
}

/// `\connect [-reuse-previous=on|off] [DBNAME|CONNINFO [USER [HOST [PORT]]]]`.
fn connect(args: &[Arg], line: u64) -> Result<MetaCommand> {
    let mut args = args.iter().peekable();
    // The option only says whether unspecified parameters come from the previous
    // connection, which is what pgbm always does.
    args.next_if(|a| !a.quoted && a.raw.starts_with("-reuse-previous="));
    let dbname = match args.next() {
        None => None,
        Some(a) => {
            let value = a.sqlid();
            if !a.quoted && (value.is_empty() || value == "-") {
                None
            } else if is_conninfo(&value) {
                Some(conninfo_dbname(&value, line)?)
            } else {
                Some(value)
            }
        }
    };
    if args.any(|a| a.quoted || a.raw != "-") {
        return Err(Error::script(
            line,
            "\\connect with another user, host or port is not supported",
        ));
    }
    Ok(MetaCommand::Connect { dbname })
}

/// psql treats a database argument with `=` or a URI prefix as a connection string.
fn is_conninfo(s: &str) -> bool {
    s.contains('=') || s.starts_with("postgresql://") || s.starts_with("postgres://")
}

/// Extracts `dbname` from a libpq `key=value` connection string; any other key is
/// refused, since pgbm keeps the server and user of the restore.
fn conninfo_dbname(s: &str, line: u64) -> Result<String> {
    let unsupported = |what: &str| {
        Error::script(
            line,
            format!("\\connect with a connection string {what} is not supported"),
        )
    };
    if !s.contains('=') {
        return Err(unsupported("in URI form"));
    }
    let mut dbname = None;
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(char::is_ascii_whitespace).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_ascii_whitespace()) {
            key.push(c);
        }
        while chars.next_if(char::is_ascii_whitespace).is_some() {}
        if chars.next() != Some('=') {
            return Err(Error::script(
                line,
                format!("\\connect: malformed connection string (missing \"=\" after \"{key}\")"),
            ));
        }
        while chars.next_if(char::is_ascii_whitespace).is_some() {}
        let value = conninfo_value(&mut chars);
        if key != "dbname" {
            return Err(unsupported(&format!("setting \"{key}\"")));
        }
        dbname = Some(value);
    }
    dbname.ok_or_else(|| unsupported("without dbname"))
}

/// A libpq connection-string value: single-quoted (backslash escapes the next
/// character) or bare up to whitespace.
fn conninfo_value(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    let mut value = String::new();
    if chars.next_if_eq(&'\'').is_some() {
        while let Some(c) = chars.next() {
            match c {
                '\\' => value.extend(chars.next()),
                '\'' => break,
                c => value.push(c),
            }
        }
    } else {
        while let Some(c) = chars.next_if(|c| !c.is_ascii_whitespace()) {
            if c == '\\' {
                value.extend(chars.next());
            } else {
                value.push(c);
            }
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn connect_db(text: &str) -> Option<String> {
        match parse(text, 1).unwrap() {
            MetaCommand::Connect { dbname } => dbname,
            other => panic!("not a connect: {other:?}"),
        }
    }

    #[test]
    fn connect_forms() {
        assert_eq!(connect_db("\\connect demo").as_deref(), Some("demo"));
        assert_eq!(connect_db("\\c demo").as_deref(), Some("demo"));
        // Unquoted names are taken verbatim (not lower-cased), as psql does.
        assert_eq!(connect_db("\\connect MyDb").as_deref(), Some("MyDb"));
        assert_eq!(
            connect_db("\\connect \"My \"\"Db\"\"\"").as_deref(),
            Some("My \"Db\"")
        );
        assert_eq!(connect_db("\\connect"), None);
        assert_eq!(connect_db("\\connect -"), None);
        assert_eq!(connect_db("\\connect 'a b'").as_deref(), Some("a b"));
    }

    #[test]
    fn connect_reuse_previous_as_pg_dump_writes_it() {
        // pg_dump: appendConnStrVal escapes ' and \ with a backslash, then fmtId.
        let line = r#"\connect -reuse-previous=on "dbname='it\'s \\ ""x"" é'""#;
        assert_eq!(connect_db(line).as_deref(), Some(r#"it's \ "x" é"#));
        let line = r#"\connect -reuse-previous=on "dbname=plain""#;
        assert_eq!(connect_db(line).as_deref(), Some("plain"));
    }

    #[test]
    fn connect_refuses_other_servers_and_users() {
        for text in [
            "\\connect db bob",
            "\\connect \"host=elsewhere dbname=x\"",
            "\\connect postgresql://h/db",
        ] {
            let e = parse(text, 3).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Script, "{text}");
            assert!(e.to_string().starts_with("line 3: "), "{e}");
        }
        assert_eq!(connect_db("\\connect db - - -").as_deref(), Some("db"));
    }

    #[test]
    fn restrict_and_encoding() {
        assert_eq!(
            parse("\\restrict abcDEF123", 1).unwrap(),
            MetaCommand::Restrict {
                key: "abcDEF123".into()
            }
        );
        assert_eq!(
            parse("\\unrestrict   abc  ", 1).unwrap(),
            MetaCommand::Unrestrict { key: "abc".into() }
        );
        assert_eq!(
            parse("\\encoding SQL_ASCII", 1).unwrap(),
            MetaCommand::Encoding {
                encoding: "SQL_ASCII".into()
            }
        );
        let e = parse("\\restrict", 9).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 9: \\restrict: missing required argument"
        );
    }

    #[test]
    fn unsupported_commands_are_named() {
        for (text, name) in [
            ("\\i other.sql", "\\i"),
            ("\\! rm -rf /", "\\!"),
            ("\\set ON_ERROR_STOP on", "\\set"),
            ("\\copy t from 'f'", "\\copy"),
        ] {
            let e = parse(text, 5).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Script);
            assert_eq!(
                e.to_string(),
                format!("line 5: unsupported psql meta-command {name}")
            );
        }
    }

    #[test]
    fn shell_expansion_and_chained_commands_are_refused() {
        assert!(parse("\\connect `whoami`", 1).is_err());
        assert!(parse("\\connect db \\\\ \\i x", 1).is_err());
    }

    #[test]
    fn psql_single_quote_escapes() {
        assert_eq!(
            connect_db(r"\connect 'a''b\tc\101\x42\q'").as_deref(),
            Some("a'b\tcABq")
        );
    }
}
