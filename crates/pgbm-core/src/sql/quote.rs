//! Quoting of identifiers and literals, byte for byte as pg_dump 15 writes them
//! (`fmtId`, `fmtQualifiedId`, `appendStringLiteral*`, `appendStringLiteralDQ` in
//! `fe_utils/string_utils.c`), with `quote_all_identifiers` off and
//! `standard_conforming_strings` on.

use super::keywords::{keyword_category, KeywordCategory};

/// Quotes an identifier the way pg_dump's `fmtId` does.
///
/// The name is left bare only when its first character is `a`–`z` or `_`, every other
/// character is `a`–`z`, `0`–`9` or `_`, and it is not a PostgreSQL 15 keyword other
/// than an unreserved one. Otherwise it is wrapped in `"` with embedded `"` doubled.
/// Only ASCII counts as a letter, so any non-ASCII character forces quotes, and so do
/// `$` (legal in unquoted names, but pg_dump quotes it) and the empty string.
///
/// ```
/// use pgbm_core::sql::quote_ident;
/// assert_eq!(quote_ident("name"), "name"); // unreserved keyword
/// assert_eq!(quote_ident("user"), "\"user\"");
/// assert_eq!(quote_ident("My \"T\""), "\"My \"\"T\"\"\"");
/// ```
pub fn quote_ident(name: &str) -> String {
    if needs_quotes(name) {
        let mut out = String::with_capacity(name.len() + 2);
        out.push('"');
        for c in name.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
        out
    } else {
        name.to_string()
    }
}

/// Whether `fmtId` would quote `name`. The character rules mirror the identifier
/// production of the SQL scanner restricted to lower-case ASCII (upper case would be
/// folded on input, so it must be quoted to survive).
fn needs_quotes(name: &str) -> bool {
    let mut bytes = name.bytes();
    let starts_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_');
    if !starts_ok || !bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        return true;
    }
    // Column-name and type/function-name keywords could sometimes stay bare, but
    // pg_dump does not try to tell those contexts apart, and neither do we.
    keyword_category(name).is_some_and(|c| c != KeywordCategory::Unreserved)
}

/// `schema.name`, each part quoted with [`quote_ident`] (pg_dump's `fmtQualifiedId`).
///
/// An empty `schema` is left out, as pg_dump does.
pub fn qualified(schema: &str, name: &str) -> String {
    if schema.is_empty() {
        quote_ident(name)
    } else {
        format!("{}.{}", quote_ident(schema), quote_ident(name))
    }
}

/// A string literal as pg_dump writes it into a dump (`appendStringLiteralAH` with
/// `standard_conforming_strings = on`): `'…'` with `'` doubled and nothing else
/// escaped; backslashes stay single and there is no `E` prefix.
///
/// ```
/// use pgbm_core::sql::quote_literal;
/// assert_eq!(quote_literal(r"it's a \ path"), r"'it''s a \ path'");
/// ```
pub fn quote_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    push_doubling(&mut out, s, |c| c == '\'');
    out.push('\'');
    out
}

/// A string literal as libpq-based tools build it with `appendStringLiteralConn`:
/// like [`quote_literal`], except that a string containing a backslash becomes an
/// escape string `E'…'` with both `'` and `\` doubled (a kluge there to silence
/// `escape_string_warning`).
///
/// pg_dump writes dump text with [`quote_literal`]; this variant exists for the few
/// places that reuse a connection-built literal. Where pg_dump inserts a space before
/// `E` to keep it apart from a preceding identifier, the caller must do so.
pub fn quote_literal_conn(s: &str) -> String {
    if !s.contains('\\') {
        return quote_literal(s);
    }
    let mut out = String::with_capacity(s.len() + 4);
    out.push_str("E'");
    push_doubling(&mut out, s, |c| c == '\'' || c == '\\');
    out.push('\'');
    out
}

/// Appends `s` to `out`, writing every character for which `double` holds twice.
fn push_doubling(out: &mut String, s: &str, double: impl Fn(char) -> bool) {
    for c in s.chars() {
        if double(c) {
            out.push(c);
        }
        out.push(c);
    }
}

/// A dollar-quoted literal as pg_dump writes function bodies (`appendStringLiteralDQ`).
///
/// The delimiter starts as `$` followed by `dqprefix` (pg_dump passes none for function
/// bodies). While the body contains the delimiter *without* its closing `$` (so that a
/// body ending in `$foo` cannot close `$foo$`), one more character is appended, cycling
/// through `_XXXXXXX`: `$$`, `$_$`, `$_X$`, `$_XX$`, … `$_XXXXXXX$`, `$_XXXXXXX_$`, ….
/// The body itself is never escaped.
///
/// ```
/// use pgbm_core::sql::dollar_quote;
/// assert_eq!(dollar_quote("select 1", None), "$$select 1$$");
/// assert_eq!(dollar_quote("select $1", None), "$_$select $1$_$");
/// ```
pub fn dollar_quote(body: &str, dqprefix: Option<&str>) -> String {
    const SUFFIXES: &[u8] = b"_XXXXXXX";
    let mut delim = String::from("$");
    delim.push_str(dqprefix.unwrap_or(""));
    let mut next = 0;
    while body.contains(delim.as_str()) {
        delim.push(char::from(SUFFIXES[next]));
        next = (next + 1) % SUFFIXES.len();
    }
    delim.push('$');
    let mut out = String::with_capacity(body.len() + 2 * delim.len());
    out.push_str(&delim);
    out.push_str(body);
    out.push_str(&delim);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Identifiers and the form pg_dump 15.18 gave them as column names of a dumped
    /// table (`CREATE TABLE` in `pg_dump -s`). The server's `quote_ident()` agreed on
    /// every one of them.
    const PG_DUMP_IDENTS: &[(&str, &str)] = &[
        ("abort", "abort"),
        ("name", "name"),
        ("type", "type"),
        ("value", "value"),
        ("names", "names"),
        ("text", "text"),
        ("user", "\"user\""),
        ("select", "\"select\""),
        ("order", "\"order\""),
        ("between", "\"between\""),
        ("int", "\"int\""),
        ("authorization", "\"authorization\""),
        ("left", "\"left\""),
        ("xmltable", "\"xmltable\""),
        ("Mixed", "\"Mixed\""),
        ("MIXED", "\"MIXED\""),
        ("AbC", "\"AbC\""),
        ("1abc", "\"1abc\""),
        ("9", "\"9\""),
        ("a1", "a1"),
        ("_x", "_x"),
        ("_", "_"),
        ("zz9_", "zz9_"),
        ("nonkeyword", "nonkeyword"),
        ("namez", "namez"),
        ("valuex", "valuex"),
        ("a b", "\"a b\""),
        ("a\"b", "\"a\"\"b\""),
        ("é", "\"é\""),
        ("café", "\"café\""),
        ("ßeta", "\"ßeta\""),
        ("abc$", "\"abc$\""),
        ("$x", "\"$x\""),
        ("x-y", "\"x-y\""),
        ("back\\slash", "\"back\\slash\""),
        ("a.b", "\"a.b\""),
    ];

    /// Every keyword pg_dump 15.18 quoted when dumped as a column name: exactly the
    /// non-unreserved ones (151 of 460).
    const PG_DUMP_QUOTED_KEYWORDS: &str = "all analyse analyze and any array as asc \
        asymmetric authorization between bigint binary bit boolean both case cast char \
        character check coalesce collate collation column concurrently constraint create \
        cross current_catalog current_date current_role current_schema current_time \
        current_timestamp current_user dec decimal default deferrable desc distinct do \
        else end except exists extract false fetch float for foreign freeze from full \
        grant greatest group grouping having ilike in initially inner inout int integer \
        intersect interval into is isnull join lateral leading least left like limit \
        localtime localtimestamp national natural nchar none normalize not notnull null \
        nullif numeric offset on only or order out outer overlaps overlay placing \
        position precision primary real references returning right row select \
        session_user setof similar smallint some substring symmetric table tablesample \
        then time timestamp to trailing treat trim true union unique user using values \
        varchar variadic verbose when where window with xmlattributes xmlconcat \
        xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot \
        xmlserialize xmltable";

    #[test]
    fn identifiers_match_pg_dump() {
        for (raw, want) in PG_DUMP_IDENTS {
            assert_eq!(quote_ident(raw), *want, "quote_ident({raw:?})");
        }
    }

    #[test]
    fn keywords_are_quoted_exactly_as_pg_dump_quotes_them() {
        let quoted: Vec<&str> = PG_DUMP_QUOTED_KEYWORDS.split_whitespace().collect();
        assert_eq!(quoted.len(), 151);
        for (kw, _) in super::super::keywords::KEYWORDS {
            let want_quotes = quoted.contains(kw);
            let got = quote_ident(kw);
            assert_eq!(got.starts_with('"'), want_quotes, "keyword {kw}: got {got}");
        }
    }

    #[test]
    fn empty_identifier_is_quoted() {
        assert_eq!(quote_ident(""), "\"\"");
    }

    #[test]
    fn qualified_names() {
        assert_eq!(qualified("s1", "t"), "s1.t");
        assert_eq!(qualified("My Schema", "Tab"), "\"My Schema\".\"Tab\"");
        assert_eq!(qualified("public", "user"), "public.\"user\"");
        assert_eq!(qualified("", "t"), "t");
    }

    #[test]
    fn literals_as_in_a_dump() {
        // `COMMENT ON FUNCTION ... IS 'it''s a \ backslash';` from pg_dump 15.18.
        assert_eq!(
            quote_literal("it's a \\ backslash"),
            "'it''s a \\ backslash'"
        );
        assert_eq!(quote_literal(""), "''");
        assert_eq!(quote_literal("''"), "''''''");
        assert_eq!(quote_literal("ünï\ncode"), "'ünï\ncode'");
    }

    #[test]
    fn conn_literals_escape_backslashes() {
        assert_eq!(quote_literal_conn("it's"), "'it''s'");
        assert_eq!(quote_literal_conn("a\\b'c"), "E'a\\\\b''c'");
    }

    #[test]
    fn dollar_quotes_match_pg_dump() {
        // Function bodies and the `AS` clause pg_dump 15.18 wrote for them.
        let cases = [
            ("begin return 'x'; end", "$$begin return 'x'; end$$"),
            ("select $1", "$_$select $1$_$"),
            ("select '$_'::text", "$_X$select '$_'::text$_X$"),
            (
                "select '$_X $_XX $_XXX'::text",
                "$_XXXX$select '$_X $_XX $_XXX'::text$_XXXX$",
            ),
            (
                "select '$_XXXXXXX'::text",
                "$_XXXXXXX_$select '$_XXXXXXX'::text$_XXXXXXX_$",
            ),
            (
                "select 'ends with $'::text || '$'",
                "$_$select 'ends with $'::text || '$'$_$",
            ),
            (
                "select 'it''s \\ back'::text",
                "$$select 'it''s \\ back'::text$$",
            ),
        ];
        for (body, want) in cases {
            assert_eq!(dollar_quote(body, None), want, "body {body:?}");
        }
    }

    #[test]
    fn dollar_quote_cycles_suffixes_after_eight() {
        // `$_XXXXXXX_` present too: the cycle restarts with `X` after the second `_`.
        let body = "$_XXXXXXX_";
        assert_eq!(
            dollar_quote(body, None),
            format!("$_XXXXXXX_X${body}$_XXXXXXX_X$")
        );
    }

    #[test]
    fn dollar_quote_with_prefix() {
        assert_eq!(dollar_quote("x", Some("q")), "$q$x$q$");
        assert_eq!(dollar_quote("a $q b", Some("q")), "$q_$a $q b$q_$");
        assert_eq!(dollar_quote("", None), "$$$$");
    }
}
