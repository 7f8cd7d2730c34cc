//! Parsing of libpq connection strings: `key=value` conninfo and `postgres://` URIs.
//!
//! Both parsers only split the text into `(keyword, value)` pairs, in order; checking
//! that a keyword exists and that its value is valid is [`super::ConnOptions`]'s job,
//! so that conninfo strings, URIs, environment variables and setters share one set of
//! rules. The grammar follows libpq's `conninfo_parse` and `conninfo_uri_parse`.
//!
//! Error messages never quote the input: a connection string may hold a password.

use crate::error::{Error, Result};

/// The URI schemes libpq accepts, longest first so that prefix matching is unambiguous.
const URI_SCHEMES: [&str; 2] = ["postgresql://", "postgres://"];

/// Whether `s` is a connection string rather than a plain database name.
///
/// This is psql's rule for `-d` (and pg_dump's): a value that starts with a URI scheme
/// or contains `=` is a connection string.
pub(crate) fn is_connection_string(s: &str) -> bool {
    uri_body(s).is_some() || s.contains('=')
}

/// Splits a conninfo string or a URI into `(keyword, value)` pairs, in order.
pub(crate) fn parse(s: &str) -> Result<Vec<(String, String)>> {
    match uri_body(s) {
        Some(body) => parse_uri(body),
        None => parse_conninfo(s),
    }
}

/// The part of `s` after `postgresql://` or `postgres://`, if it is a URI.
fn uri_body(s: &str) -> Option<&str> {
    URI_SCHEMES.iter().find_map(|scheme| {
        s.get(..scheme.len())
            .filter(|head| head.eq_ignore_ascii_case(scheme))
            .map(|_| &s[scheme.len()..])
    })
}

/// Parses `keyword = value` pairs separated by whitespace.
///
/// Values may be single-quoted; inside or outside quotes a backslash takes the next
/// character literally (`\'`, `\\`).
pub(crate) fn parse_conninfo(s: &str) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        skip_whitespace(&mut chars);
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let keyword = read_keyword(&mut chars)?;
        skip_whitespace(&mut chars);
        let value = if chars.peek() == Some(&'\'') {
            chars.next();
            read_quoted(&mut chars)?
        } else {
            read_unquoted(&mut chars)
        };
        pairs.push((keyword, value));
    }
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

fn skip_whitespace(chars: &mut Chars<'_>) {
    while chars.next_if(|c| c.is_whitespace()).is_some() {}
}

/// Reads a keyword and the `=` after it (whitespace may stand between them).
fn read_keyword(chars: &mut Chars<'_>) -> Result<String> {
    let mut keyword = String::new();
    while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
        keyword.push(c);
    }
    skip_whitespace(chars);
    if chars.next() != Some('=') {
        return Err(Error::usage(format!(
            "missing \"=\" after \"{keyword}\" in connection info string"
        )));
    }
    Ok(keyword)
}

fn read_unquoted(chars: &mut Chars<'_>) -> String {
    let mut value = String::new();
    while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
        if c == '\\' {
            // A trailing lone backslash is dropped, as libpq does.
            if let Some(escaped) = chars.next() {
                value.push(escaped);
            }
        } else {
            value.push(c);
        }
    }
    value
}

fn read_quoted(chars: &mut Chars<'_>) -> Result<String> {
    let mut value = String::new();
    while let Some(c) = chars.next() {
        match c {
            '\'' => return Ok(value),
            '\\' => match chars.next() {
                Some(escaped) => value.push(escaped),
                None => break,
            },
            _ => value.push(c),
        }
    }
    Err(Error::usage(
        "unterminated quoted string in connection info string",
    ))
}

/// Parses the part of a URI after the scheme:
/// `[user[:password]@][host][:port][/dbname][?param=value&...]`.
fn parse_uri(body: &str) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut rest = body;

    // Credentials end at an '@' that comes before any '/', as in libpq; a '?' before
    // the '@' belongs to the password.
    if let Some(at) = rest
        .find(['@', '/'])
        .filter(|&i| rest.as_bytes()[i] == b'@')
    {
        let (user, password) = match rest[..at].split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (&rest[..at], None),
        };
        push_decoded(&mut pairs, "user", user)?;
        if let Some(password) = password {
            push_decoded(&mut pairs, "password", password)?;
        }
        rest = &rest[at + 1..];
    }

    let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
    parse_uri_hostport(&rest[..host_end], &mut pairs)?;
    rest = &rest[host_end..];

    if let Some(path) = rest.strip_prefix('/') {
        let db_end = path.find('?').unwrap_or(path.len());
        push_decoded(&mut pairs, "dbname", &path[..db_end])?;
        rest = &path[db_end..];
    }
    if let Some(query) = rest.strip_prefix('?') {
        parse_uri_query(query, &mut pairs)?;
    }
    Ok(pairs)
}

fn parse_uri_hostport(hostport: &str, pairs: &mut Vec<(String, String)>) -> Result<()> {
    let (host, after_host) = if let Some(inner) = hostport.strip_prefix('[') {
        let end = inner.find(']').ok_or_else(|| {
            Error::usage(
                "end of string reached when looking for matching \"]\" in IPv6 host address in URI",
            )
        })?;
        if end == 0 {
            return Err(Error::usage("IPv6 host address may not be empty in URI"));
        }
        (&inner[..end], &inner[end + 1..])
    } else {
        let end = hostport.find([':', ',']).unwrap_or(hostport.len());
        (&hostport[..end], &hostport[end..])
    };
    let port = match after_host.chars().next() {
        None => None,
        Some(':') => Some(&after_host[1..]),
        Some(',') => return Err(multiple_hosts()),
        Some(c) => {
            return Err(Error::usage(format!(
                "unexpected character \"{c}\" after IPv6 host address in URI"
            )))
        }
    };
    if port.is_some_and(|p| p.contains(',')) {
        return Err(multiple_hosts());
    }
    push_decoded(pairs, "host", host)?;
    if let Some(port) = port {
        push_decoded(pairs, "port", port)?;
    }
    Ok(())
}

fn parse_uri_query(query: &str, pairs: &mut Vec<(String, String)>) -> Result<()> {
    for param in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = param.split_once('=').ok_or_else(|| {
            Error::usage("missing key/value separator \"=\" in URI query parameter")
        })?;
        if value.contains('=') {
            return Err(Error::usage(
                "extra key/value separator \"=\" in URI query parameter",
            ));
        }
        let key = percent_decode(key)?;
        let value = percent_decode(value)?;
        // libpq's JDBC-compatible spelling.
        if key == "ssl" && value == "true" {
            pairs.push(("sslmode".into(), "require".into()));
        } else {
            pairs.push((key, value));
        }
    }
    Ok(())
}

/// The error for `host1,host2`: libpq tries hosts in turn, pgbm connects to one.
pub(crate) fn multiple_hosts() -> Error {
    Error::usage("multiple hosts are not supported; give a single host")
}

/// Adds a percent-decoded URI component unless it is empty (empty means "not given").
fn push_decoded(pairs: &mut Vec<(String, String)>, keyword: &str, raw: &str) -> Result<()> {
    if !raw.is_empty() {
        pairs.push((keyword.to_string(), percent_decode(raw)?));
    }
    Ok(())
}

/// Decodes `%XX` escapes. Unlike form decoding, `+` stays `+` (libpq does the same).
fn percent_decode(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let byte = bytes
                .get(i + 1..i + 3)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .ok_or_else(|| Error::usage("invalid percent-encoded token in URI"))?;
            if byte == 0 {
                return Err(Error::usage(
                    "forbidden value %00 in percent-encoded value in URI",
                ));
            }
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| Error::usage("percent-encoded value in URI is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn pairs(s: &str) -> Vec<(String, String)> {
        parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn kv(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn usage_error(s: &str) -> String {
        let err = parse(s).expect_err(s);
        assert_eq!(err.kind(), ErrorKind::Usage, "{s:?}");
        err.to_string()
    }

    #[test]
    fn conninfo_plain_pairs() {
        assert_eq!(
            pairs("host=db.example port=5433  dbname=sales user=bob"),
            kv(&[
                ("host", "db.example"),
                ("port", "5433"),
                ("dbname", "sales"),
                ("user", "bob")
            ])
        );
    }

    #[test]
    fn conninfo_spaces_around_equals_and_empty_input() {
        assert_eq!(
            pairs("  host = a   port= 1 user =b "),
            kv(&[("host", "a"), ("port", "1"), ("user", "b")])
        );
        assert!(pairs("").is_empty());
        assert!(pairs("   \t\n").is_empty());
    }

    #[test]
    fn conninfo_quoting_and_escapes() {
        assert_eq!(
            pairs(r"dbname='a b' password='it\'s \\ x' options='-c search_path=s'"),
            kv(&[
                ("dbname", "a b"),
                ("password", r"it's \ x"),
                ("options", "-c search_path=s")
            ])
        );
        assert_eq!(
            pairs(r"password=a\ b\\c dbname=''"),
            kv(&[("password", r"a b\c"), ("dbname", "")])
        );
        // A quote in the middle of an unquoted value is an ordinary character.
        assert_eq!(pairs("user=o'brien"), kv(&[("user", "o'brien")]));
    }

    #[test]
    fn conninfo_errors_do_not_echo_values() {
        let msg = usage_error("host=a password='s3cret");
        assert_eq!(msg, "unterminated quoted string in connection info string");
        assert!(!msg.contains("s3cret"));
        assert_eq!(
            usage_error("host=a dbname"),
            "missing \"=\" after \"dbname\" in connection info string"
        );
        assert_eq!(
            usage_error("host a"),
            "missing \"=\" after \"host\" in connection info string"
        );
    }

    #[test]
    fn uri_full() {
        assert_eq!(
            pairs("postgresql://bob:pa%3Ass@db.example:5433/my%20db?sslmode=require&application_name=x"),
            kv(&[
                ("user", "bob"),
                ("password", "pa:ss"),
                ("host", "db.example"),
                ("port", "5433"),
                ("dbname", "my db"),
                ("sslmode", "require"),
                ("application_name", "x")
            ])
        );
    }

    #[test]
    fn uri_minimal_forms() {
        assert!(pairs("postgres://").is_empty());
        assert!(pairs("postgresql:///").is_empty());
        assert_eq!(pairs("postgresql://h"), kv(&[("host", "h")]));
        assert_eq!(pairs("postgresql:///db"), kv(&[("dbname", "db")]));
        assert_eq!(pairs("POSTGRES://h:1"), kv(&[("host", "h"), ("port", "1")]));
        assert_eq!(pairs("postgresql://bob@"), kv(&[("user", "bob")]));
        assert_eq!(
            pairs("postgresql://bob:a?b@h?port=1"),
            kv(&[
                ("user", "bob"),
                ("password", "a?b"),
                ("host", "h"),
                ("port", "1")
            ])
        );
        // '@' after the first '/' belongs to the database name.
        assert_eq!(
            pairs("postgresql://h/db@x"),
            kv(&[("host", "h"), ("dbname", "db@x")])
        );
    }

    #[test]
    fn uri_ipv6_and_socket_hosts() {
        assert_eq!(
            pairs("postgresql://[::1]:5433/db"),
            kv(&[("host", "::1"), ("port", "5433"), ("dbname", "db")])
        );
        assert_eq!(
            pairs("postgresql://[2001:db8::7]"),
            kv(&[("host", "2001:db8::7")])
        );
        assert_eq!(
            pairs("postgresql://%2Fvar%2Frun%2Fpostgresql/db"),
            kv(&[("host", "/var/run/postgresql"), ("dbname", "db")])
        );
        assert_eq!(
            pairs("postgresql:///db?host=/tmp&port=5499"),
            kv(&[("dbname", "db"), ("host", "/tmp"), ("port", "5499")])
        );
    }

    #[test]
    fn uri_ssl_true_means_require() {
        assert_eq!(
            pairs("postgresql://h?ssl=true"),
            kv(&[("host", "h"), ("sslmode", "require")])
        );
    }

    #[test]
    fn uri_plus_is_not_a_space() {
        assert_eq!(
            pairs("postgresql://h/a+b"),
            kv(&[("host", "h"), ("dbname", "a+b")])
        );
    }

    #[test]
    fn uri_errors() {
        assert!(usage_error("postgresql://a,b/db").contains("multiple hosts"));
        assert!(usage_error("postgresql://a:1,b:2/db").contains("multiple hosts"));
        assert!(usage_error("postgresql://[::1/db").contains("\"]\""));
        assert!(usage_error("postgresql://[::1]x/db").contains("unexpected character"));
        assert!(usage_error("postgresql://h/db?sslmode").contains("separator"));
        assert!(usage_error("postgresql://h/db?a=b=c").contains("extra"));
        assert!(usage_error("postgresql://h/d%zz").contains("percent"));
        assert!(usage_error("postgresql://h/d%0").contains("percent"));
        assert!(usage_error("postgresql://h/d%00").contains("%00"));
        let msg = usage_error("postgresql://bob:s%zzecret@h/db");
        assert!(!msg.contains("ecret"), "{msg}");
    }

    #[test]
    fn connection_string_detection_follows_psql() {
        assert!(is_connection_string("host=a"));
        assert!(is_connection_string("dbname=x"));
        assert!(is_connection_string("postgresql://h"));
        assert!(is_connection_string("postgres://"));
        assert!(is_connection_string("PostgreSQL://h"));
        assert!(!is_connection_string("sales"));
        assert!(!is_connection_string("my db"));
        assert!(!is_connection_string("postgres"));
        assert!(!is_connection_string("postgres:/x"));
    }
}
