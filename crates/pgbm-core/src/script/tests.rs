//! Tests of the script reader. Every script is read with several input buffer sizes
//! (down to one byte per read) to exercise every place where a token or a COPY
//! terminator is cut by the end of the buffer; all must give the same result.

use super::*;
use crate::error::ErrorKind;

#[derive(Debug, Clone, PartialEq, Eq)]
enum T {
    S(u64, String),
    C(u64, String, Vec<u8>),
    M(u64, MetaCommand),
}

fn s(line: u64, sql: &str) -> T {
    T::S(line, sql.to_string())
}

fn c(line: u64, sql: &str, data: &[u8]) -> T {
    T::C(line, sql.to_string(), data.to_vec())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime")
}

async fn read_all<R: AsyncBufRead + Unpin>(reader: &mut ScriptReader<R>) -> Result<Vec<T>> {
    let mut out = Vec::new();
    while let Some(item) = reader.next_item().await? {
        out.push(match item {
            Item::Statement { sql, line } => T::S(line, sql),
            Item::Copy { sql, line } => {
                let mut data = Vec::new();
                while let Some(chunk) = reader.copy_data().await? {
                    assert!(!chunk.is_empty(), "empty COPY chunk");
                    data.extend_from_slice(&chunk);
                }
                T::C(line, sql, data)
            }
            Item::Meta { command, line } => T::M(line, command),
        });
    }
    Ok(out)
}

fn read_with(input: &[u8], capacity: usize) -> Result<Vec<T>> {
    runtime().block_on(async {
        let mut reader = ScriptReader::new(tokio::io::BufReader::with_capacity(capacity, input));
        read_all(&mut reader).await
    })
}

const CAPACITIES: [usize; 6] = [1, 2, 3, 5, 64, 8192];

fn parse_bytes(input: &[u8]) -> Vec<T> {
    let whole = read_with(input, 1 << 20).expect("script should parse");
    for cap in CAPACITIES {
        let got = read_with(input, cap).expect("script should parse");
        assert_eq!(got, whole, "buffer capacity {cap} changes the result");
    }
    whole
}

fn parse(input: &str) -> Vec<T> {
    parse_bytes(input.as_bytes())
}

fn parse_err(input: &str) -> Error {
    let whole = read_with(input.as_bytes(), 1 << 20).expect_err("script should fail");
    for cap in CAPACITIES {
        let e = read_with(input.as_bytes(), cap).expect_err("script should fail");
        assert_eq!(e.to_string(), whole.to_string(), "capacity {cap}");
    }
    whole
}

#[test]
fn simple_statements_and_lines() {
    assert_eq!(
        parse("SELECT 1;\nSELECT 2;"),
        vec![s(1, "SELECT 1;"), s(2, "SELECT 2;")]
    );
    assert_eq!(
        parse("SELECT\t1;\tSELECT\t2;"),
        vec![s(1, "SELECT\t1;"), s(1, "SELECT\t2;")]
    );
}

#[test]
fn line_is_that_of_first_significant_character() {
    let script =
        "\n\n-- comment; with semicolon\n/* block\n ; comment */\n  SELECT\n 1\n;\n\nSELECT 2;";
    assert_eq!(
        parse(script),
        vec![s(6, "SELECT\n 1\n;"), s(10, "SELECT 2;")]
    );
}

#[test]
fn blank_comment_only_and_empty_statements_are_skipped() {
    assert_eq!(parse(""), vec![]);
    assert_eq!(parse("  \n-- x;\n/* y; */\n\n"), vec![]);
    assert_eq!(parse(";;\n ; SELECT 1;;"), vec![s(2, "SELECT 1;")]);
    assert_eq!(parse("/* x */;SELECT 1;"), vec![s(1, "SELECT 1;")]);
}

#[test]
fn statement_without_final_semicolon_at_eof() {
    assert_eq!(
        parse("SELECT 1;\nSELECT 2\n  \n"),
        vec![s(1, "SELECT 1;"), s(2, "SELECT 2")]
    );
    // An unterminated literal is the server's to report.
    assert_eq!(parse("SELECT 'abc;"), vec![s(1, "SELECT 'abc;")]);
}

#[test]
fn semicolons_inside_quotes_identifiers_and_comments() {
    let script = "SELECT 'a;b', \"c;d\", $$e;f$$, $tag$ g;$$; $tag$ -- h;i\n, /* j; /* k; */ l; */ 2;\nSELECT 3;";
    assert_eq!(
        parse(script),
        vec![
            s(
                1,
                "SELECT 'a;b', \"c;d\", $$e;f$$, $tag$ g;$$; $tag$ -- h;i\n, /* j; /* k; */ l; */ 2;"
            ),
            s(3, "SELECT 3;"),
        ]
    );
}

#[test]
fn doubled_quotes() {
    assert_eq!(
        parse("SELECT 'it''s;', \"a\"\"b;\";\nSELECT 2;"),
        vec![s(1, "SELECT 'it''s;', \"a\"\"b;\";"), s(2, "SELECT 2;")]
    );
}

#[test]
fn backslash_is_literal_in_standard_strings() {
    // With standard_conforming_strings on, 'C:\' is a complete literal.
    assert_eq!(
        parse("SELECT 'C:\\';\nSELECT 2;"),
        vec![s(1, "SELECT 'C:\\';"), s(2, "SELECT 2;")]
    );
    // A word ending in e is not an E prefix.
    assert_eq!(
        parse("SELECT type'\\';\nSELECT 2;"),
        vec![s(1, "SELECT type'\\';"), s(2, "SELECT 2;")]
    );
}

#[test]
fn escape_strings() {
    assert_eq!(
        parse("SELECT E'\\'';\nSELECT 2;"),
        vec![s(1, "SELECT E'\\'';"), s(2, "SELECT 2;")]
    );
    assert_eq!(
        parse("SELECT e'it\\'s; fine', E'a''b\\'c;d', E'\\\\';\nSELECT 2;"),
        vec![
            s(1, "SELECT e'it\\'s; fine', E'a''b\\'c;d', E'\\\\';"),
            s(2, "SELECT 2;")
        ]
    );
    // The server continues a literal on the next line (with its escapes), but psql
    // reads line by line and does not: it splits this script as below.
    assert_eq!(
        parse("SELECT E'a' -- c\n  '\\'; still';\nSELECT 2;"),
        vec![
            s(1, "SELECT E'a' -- c\n  '\\';"),
            s(2, "still';\nSELECT 2;")
        ]
    );
    // Without a newline in between, the next literal is an ordinary one.
    assert_eq!(
        parse("SELECT E'a' '\\';\nSELECT 2;"),
        vec![s(1, "SELECT E'a' '\\';"), s(2, "SELECT 2;")]
    );
}

#[test]
fn unicode_and_bit_strings() {
    assert_eq!(
        parse("SELECT U&'d\\0061t\\+000061', B'101', X'1f';\nSELECT 2;"),
        vec![
            s(1, "SELECT U&'d\\0061t\\+000061', B'101', X'1f';"),
            s(2, "SELECT 2;")
        ]
    );
}

#[test]
fn standard_conforming_strings_off_is_followed() {
    let script = "SET standard_conforming_strings = off;\nSELECT 'a\\'; b';\nSET standard_conforming_strings TO 'on';\nSELECT 'c\\';\n";
    assert_eq!(
        parse(script),
        vec![
            s(1, "SET standard_conforming_strings = off;"),
            s(2, "SELECT 'a\\'; b';"),
            s(3, "SET standard_conforming_strings TO 'on';"),
            s(4, "SELECT 'c\\';"),
        ]
    );
}

#[test]
fn dollar_quoting() {
    let body = "CREATE FUNCTION public.f() RETURNS trigger\n    LANGUAGE plpgsql\n    AS $_$\nBEGIN\n  NEW.a := 1; -- '\n  RETURN NEW;\nEND $_$;";
    let script = format!("{body}\nSELECT 2;");
    assert_eq!(parse(&script), vec![s(1, body), s(8, "SELECT 2;")]);
    // A different tag does not close the quote.
    assert_eq!(
        parse("SELECT $a$ x $b$ ; $ab$ $a$;\nSELECT 2;"),
        vec![s(1, "SELECT $a$ x $b$ ; $ab$ $a$;"), s(2, "SELECT 2;")]
    );
    // Parameters are not tags; a $ inside a word is part of the word.
    assert_eq!(
        parse("PREPARE p AS SELECT $1;EXECUTE p(1);SELECT a$$b FROM t;SELECT 2;"),
        vec![
            s(1, "PREPARE p AS SELECT $1;"),
            s(1, "EXECUTE p(1);"),
            s(1, "SELECT a$$b FROM t;"),
            s(1, "SELECT 2;")
        ]
    );
    assert_eq!(
        parse("SELECT $é$ ; $é$;SELECT 2;"),
        vec![s(1, "SELECT $é$ ; $é$;"), s(1, "SELECT 2;")]
    );
}

#[test]
fn parentheses_hold_semicolons() {
    let rule = "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO u VALUES (1); INSERT INTO v VALUES (2));";
    assert_eq!(
        parse(&format!("{rule}\nSELECT 1;")),
        vec![s(1, rule), s(2, "SELECT 1;")]
    );
}

#[test]
fn begin_atomic_bodies() {
    let f = "CREATE FUNCTION public.f() RETURNS integer\n    LANGUAGE sql\n    BEGIN ATOMIC\n SELECT 1;\n SELECT CASE WHEN true THEN 1 ELSE 2 END;\nEND;";
    assert_eq!(
        parse(&format!("{f}\nSELECT 2;")),
        vec![s(1, f), s(7, "SELECT 2;")]
    );
    let p = "create or replace procedure p() begin atomic insert into t values (1); end;";
    assert_eq!(
        parse(&format!("{p} SELECT 2;")),
        vec![s(1, p), s(1, "SELECT 2;")]
    );
    // Not a routine: BEGIN/END are transaction commands.
    assert_eq!(
        parse("BEGIN;\nSELECT 1;\nEND;"),
        vec![s(1, "BEGIN;"), s(2, "SELECT 1;"), s(3, "END;")]
    );
    // A parameter named begin is inside parentheses and does not count.
    let g = "CREATE FUNCTION g(begin integer) RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$;";
    assert_eq!(
        parse(&format!("{g}\nSELECT 2;")),
        vec![s(1, g), s(2, "SELECT 2;")]
    );
}

#[test]
fn crlf_line_endings() {
    assert_eq!(
        parse("SELECT 1;\r\n\r\nSELECT\r\n2;\r\n"),
        vec![s(1, "SELECT 1;"), s(3, "SELECT\r\n2;")]
    );
}

#[test]
fn non_ascii_text() {
    let script = "SELECT 'héllo; wörld', \"ünï;\" FROM \"таблица\";\nSELECT '日本;';";
    assert_eq!(
        parse(script),
        vec![
            s(1, "SELECT 'héllo; wörld', \"ünï;\" FROM \"таблица\";"),
            s(2, "SELECT '日本;';")
        ]
    );
}

#[test]
fn invalid_utf8_is_a_script_error() {
    let e = read_with(b"SELECT 1;\nSELECT '\xff';\n", 8192).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Script);
    assert!(e.to_string().starts_with("line 2: "), "{e}");
}

#[test]
fn nested_comments_hide_quotes() {
    assert_eq!(
        parse("/* a /* b ' */ c; \" */ SELECT 1;\nSELECT 1 -- it's\n;"),
        vec![s(1, "SELECT 1;"), s(2, "SELECT 1 -- it's\n;")]
    );
}

#[test]
fn psql_backslash_semicolon_joins_statements() {
    assert_eq!(
        parse("SELECT 1\\; SELECT 2;\nSELECT 3;"),
        vec![s(1, "SELECT 1; SELECT 2;"), s(2, "SELECT 3;")]
    );
}

#[test]
fn copy_blocks() {
    let script = "COPY public.t (a, b) FROM stdin;\n1\tx;y\n2\t\\N\n\\.\n\n\nSELECT 1;\n";
    assert_eq!(
        parse(script),
        vec![
            c(1, "COPY public.t (a, b) FROM stdin;", b"1\tx;y\n2\t\\N\n"),
            s(7, "SELECT 1;")
        ]
    );
}

#[test]
fn escaped_backslash_dot_row_is_data() {
    // The value `\.` is written `\\.` by COPY text format: not a terminator.
    let script = "COPY t FROM stdin;\n\\\\.\n\\.x\n \\.\n\\.\nSELECT 1;";
    assert_eq!(
        parse(script),
        vec![
            c(1, "COPY t FROM stdin;", b"\\\\.\n\\.x\n \\.\n"),
            s(6, "SELECT 1;")
        ]
    );
}

#[test]
fn empty_copy_block() {
    assert_eq!(
        parse("COPY t FROM stdin;\n\\.\nSELECT 1;"),
        vec![c(1, "COPY t FROM stdin;", b""), s(3, "SELECT 1;")]
    );
}

#[test]
fn copy_with_crlf_and_final_terminator_without_newline() {
    assert_eq!(
        parse("COPY t FROM stdin;\r\na\r\n\\.\r\nSELECT 1;\r\n"),
        vec![c(1, "COPY t FROM stdin;", b"a\r\n"), s(4, "SELECT 1;")]
    );
    assert_eq!(
        parse("COPY t FROM stdin;\na\tb\n\\."),
        vec![c(1, "COPY t FROM stdin;", b"a\tb\n")]
    );
}

#[test]
fn copy_statement_forms() {
    let sql = "copy t (\"FROM\", b) from STDIN with (format csv, header true);";
    assert_eq!(
        parse(&format!("{sql} -- note\na,\"x\n\\. y\"\n\\.\n")),
        vec![c(1, sql, b"a,\"x\n\\. y\"\n")]
    );
    // COPY spanning lines: data starts after the line with the `;`.
    assert_eq!(
        parse("COPY t\n  FROM stdin\n;\nrow\n\\.\n"),
        vec![c(1, "COPY t\n  FROM stdin\n;", b"row\n")]
    );
    // COPY from a server file is an ordinary statement.
    assert_eq!(
        parse("COPY t FROM '/tmp/x';\nCOPY (SELECT 1 FROM stdin) TO '/tmp/y';"),
        vec![
            s(1, "COPY t FROM '/tmp/x';"),
            s(2, "COPY (SELECT 1 FROM stdin) TO '/tmp/y';")
        ]
    );
}

#[test]
fn copy_to_stdout_and_binary_are_refused() {
    let e = parse_err("SELECT 1;\nCOPY (SELECT 1) TO STDOUT;\n");
    assert_eq!(e.kind(), ErrorKind::Script);
    assert!(e.to_string().starts_with("line 2: "), "{e}");
    let e = parse_err("COPY t FROM stdin WITH (FORMAT binary);\n\\.\n");
    assert!(e.to_string().contains("binary"), "{e}");
}

#[test]
fn unterminated_copy() {
    let e = parse_err("SELECT 1;\nCOPY t FROM stdin;\na\nb\n");
    assert_eq!(e.kind(), ErrorKind::Script);
    assert_eq!(
        e.to_string(),
        "line 2: COPY data starting at line 3 is not terminated by \\."
    );
    let e = parse_err("COPY t FROM stdin;");
    assert_eq!(
        e.to_string(),
        "line 1: COPY data starting at line 1 is not terminated by \\."
    );
}

#[test]
fn text_after_copy_statement_is_refused() {
    let e = parse_err("COPY t FROM stdin; SELECT 1;\n\\.\n");
    assert!(e.to_string().starts_with("line 1: unexpected text"), "{e}");
}

#[test]
fn unread_copy_data_is_skipped() {
    let got = runtime().block_on(async {
        let mut r = ScriptReader::new(&b"COPY t FROM stdin;\na\nb\n\\.\nSELECT 1;\n"[..]);
        let first = r.next_item().await.unwrap();
        let second = r.next_item().await.unwrap();
        assert_eq!(r.line(), 5);
        assert_eq!(r.next_item().await.unwrap(), None);
        (first, second, r.line())
    });
    assert!(matches!(got.0, Some(Item::Copy { line: 1, .. })));
    assert_eq!(
        got.1,
        Some(Item::Statement {
            sql: "SELECT 1;".into(),
            line: 5
        })
    );
    assert_eq!(got.2, 6);
}

#[test]
fn big_copy_block_streams_in_bounded_chunks() {
    let row = "12345\tsome text value with ; and ' and \\\\. inside\t\\N\n";
    let rows = 200_000;
    let mut script = String::from("COPY t FROM stdin;\n");
    script.push_str(&row.repeat(rows));
    script.push_str("\\.\nSELECT 1;\n");
    let (bytes, chunks, max, next) = runtime().block_on(async {
        let input = tokio::io::BufReader::with_capacity(8192, script.as_bytes());
        let mut r = ScriptReader::new(input);
        assert!(matches!(
            r.next_item().await.unwrap(),
            Some(Item::Copy { .. })
        ));
        let (mut bytes, mut chunks, mut max) = (0, 0, 0);
        while let Some(chunk) = r.copy_data().await.unwrap() {
            bytes += chunk.len();
            chunks += 1;
            max = max.max(chunk.len());
            // Chunks end at line boundaries here, since no row is longer than a chunk.
            assert!(chunk.ends_with(b"\n"));
        }
        (bytes, chunks, max, r.next_item().await.unwrap())
    });
    assert_eq!(bytes, row.len() * rows);
    assert!(chunks > 100, "{chunks} chunks");
    assert!(max <= COPY_CHUNK + 8192, "chunk of {max} bytes");
    assert_eq!(
        next,
        Some(Item::Statement {
            sql: "SELECT 1;".into(),
            line: 3 + rows as u64
        })
    );
}

#[test]
fn long_rows_are_split_across_chunks() {
    let value = "x".repeat(3 * COPY_CHUNK);
    let script = format!("COPY t FROM stdin;\n{value}\n\\.\n");
    let got = parse(&script);
    assert_eq!(
        got,
        vec![c(1, "COPY t FROM stdin;", format!("{value}\n").as_bytes())]
    );
}

#[test]
fn meta_commands() {
    let script = "\\restrict abc\nSELECT 1; \\unrestrict abc\n  \\connect other\n\\restrict k2\n\\unrestrict k2\n\\encoding SQL_ASCII\n\\c -reuse-previous=on \"dbname='a b'\"\n";
    assert_eq!(
        parse(script),
        vec![
            T::M(1, MetaCommand::Restrict { key: "abc".into() }),
            s(2, "SELECT 1;"),
            T::M(2, MetaCommand::Unrestrict { key: "abc".into() }),
            T::M(
                3,
                MetaCommand::Connect {
                    dbname: Some("other".into())
                }
            ),
            T::M(4, MetaCommand::Restrict { key: "k2".into() }),
            T::M(5, MetaCommand::Unrestrict { key: "k2".into() }),
            T::M(
                6,
                MetaCommand::Encoding {
                    encoding: "SQL_ASCII".into()
                }
            ),
            T::M(
                7,
                MetaCommand::Connect {
                    dbname: Some("a b".into())
                }
            ),
        ]
    );
}

#[test]
fn unsupported_meta_command() {
    let e = parse_err("SELECT 1;\n\\i foo.sql\nSELECT 2;\n");
    assert_eq!(e.kind(), ErrorKind::Script);
    assert_eq!(e.to_string(), "line 2: unsupported psql meta-command \\i");
    let e = parse_err("\\! rm -rf /");
    assert_eq!(e.to_string(), "line 1: unsupported psql meta-command \\!");
}

#[test]
fn restricted_mode() {
    let e = parse_err("\\restrict k\nSELECT 1;\n\\connect db\n");
    assert!(
        e.to_string()
            .starts_with("line 3: backslash commands are restricted"),
        "{e}"
    );
    let e = parse_err("\\restrict k\n\\unrestrict nope\n");
    assert_eq!(e.to_string(), "line 2: \\unrestrict: wrong key");
    let e = parse_err("\\unrestrict k\n");
    assert_eq!(
        e.to_string(),
        "line 1: \\unrestrict: not currently in restricted mode"
    );
}

#[test]
fn meta_command_inside_statement() {
    let e = parse_err("SELECT 1\n\\g\n");
    assert_eq!(
        e.to_string(),
        "line 2: psql meta-command \\g inside a statement is not supported"
    );
}

#[test]
fn pg_dump_header_and_create() {
    let script = "--\n-- PostgreSQL database dump\n--\n\n\\restrict Abc123\n\n-- Dumped from database version 15.18\n\nSET statement_timeout = 0;\nSELECT pg_catalog.set_config('search_path', '', false);\n\nCREATE DATABASE \"we;ird\" WITH TEMPLATE = template0 ENCODING = 'UTF8';\n\n\\unrestrict Abc123\n\\encoding SQL_ASCII\n\\connect -reuse-previous=on \"dbname='we;ird'\"\n\\restrict Abc123\n\nSET statement_timeout = 0;\n\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict Abc123\n\n";
    let got = parse(script);
    assert_eq!(
        got,
        vec![
            T::M(
                5,
                MetaCommand::Restrict {
                    key: "Abc123".into()
                }
            ),
            s(9, "SET statement_timeout = 0;"),
            s(
                10,
                "SELECT pg_catalog.set_config('search_path', '', false);"
            ),
            s(
                12,
                "CREATE DATABASE \"we;ird\" WITH TEMPLATE = template0 ENCODING = 'UTF8';"
            ),
            T::M(
                14,
                MetaCommand::Unrestrict {
                    key: "Abc123".into()
                }
            ),
            T::M(
                15,
                MetaCommand::Encoding {
                    encoding: "SQL_ASCII".into()
                }
            ),
            T::M(
                16,
                MetaCommand::Connect {
                    dbname: Some("we;ird".into())
                }
            ),
            T::M(
                17,
                MetaCommand::Restrict {
                    key: "Abc123".into()
                }
            ),
            s(19, "SET statement_timeout = 0;"),
            T::M(
                25,
                MetaCommand::Unrestrict {
                    key: "Abc123".into()
                }
            ),
        ]
    );
}

#[test]
fn parse_set_statements() {
    let p = |s: &str| parse_set(s);
    assert_eq!(
        p("SET client_encoding = 'UTF8';"),
        Some(("client_encoding".into(), "UTF8".into()))
    );
    assert_eq!(
        p("set SESSION standard_conforming_strings to off"),
        Some(("standard_conforming_strings".into(), "off".into()))
    );
    assert_eq!(p("SET search_path = a, b;"), None);
    assert_eq!(p("SELECT 1;"), None);
}
