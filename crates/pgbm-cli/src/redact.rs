//! Hides passwords in text pgbm did not write itself.
//!
//! pgbm's own messages never quote a connection string, but clap's do: `pgbm restore
//! a.sql postgresql://u:pw@host/db` is an "unexpected argument" error that echoes the
//! URI. Such text goes through [`redact_passwords`] before it is printed.

/// What a password is replaced with.
const MASK: &str = "****";

/// `text` with the password of every URI (`scheme://user:PASSWORD@host`) and every
/// conninfo `password=VALUE` replaced by `****`.
pub fn redact_passwords(text: &str) -> String {
    redact_conninfo(&redact_uris(text))
}

/// Characters that end a URI inside a message (quotes, whitespace, path start).
fn ends_authority(c: char) -> bool {
    c == '/' || c == '?' || c == '#' || c == '\'' || c == '"' || c.is_whitespace()
}

fn redact_uris(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let authority_len = tail.find(ends_authority).unwrap_or(tail.len());
        let authority = &tail[..authority_len];
        match authority
            .rfind('@')
            .and_then(|a| Some((a, authority[..a].find(':')?)))
        {
            Some((at_sign, colon)) => {
                out.push_str(&authority[..=colon]);
                out.push_str(MASK);
                out.push_str(&authority[at_sign..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_len..];
    }
    out.push_str(rest);
    out
}

fn redact_conninfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("password") {
        let (head, tail) = rest.split_at(pos + "password".len());
        out.push_str(head);
        let after_key = tail.trim_start();
        let Some(value) = after_key.strip_prefix('=') else {
            rest = tail;
            continue;
        };
        let value = value.trim_start();
        out.push('=');
        out.push_str(MASK);
        rest = &value[conninfo_value_len(value)..];
    }
    out.push_str(rest);
    out
}

/// Length of a conninfo value at the start of `s`: single-quoted with backslash
/// escapes, or up to whitespace or a quote that ends the surrounding message.
fn conninfo_value_len(s: &str) -> usize {
    let mut chars = s.char_indices();
    if s.starts_with('\'') {
        chars.next();
        let mut escaped = false;
        for (i, c) in chars {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '\'' => return i + 1,
                _ => {}
            }
        }
        return s.len();
    }
    s.find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .unwrap_or(s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_passwords_are_masked() {
        assert_eq!(
            redact_passwords("unexpected argument 'postgresql://bob:s3cr@t@db:5432/x' found"),
            "unexpected argument 'postgresql://bob:****@db:5432/x' found"
        );
        assert_eq!(
            redact_passwords("postgres://bob@db/x and postgres://db"),
            "postgres://bob@db/x and postgres://db"
        );
    }

    #[test]
    fn conninfo_passwords_are_masked() {
        assert_eq!(
            redact_passwords("'host=db password=hunter2 user=bob'"),
            "'host=db password=**** user=bob'"
        );
        assert_eq!(
            redact_passwords("host=db password = 'it\\'s x' user=bob"),
            "host=db password=**** user=bob"
        );
        assert_eq!(redact_passwords("no password here"), "no password here");
        assert_eq!(redact_passwords("password="), "password=****");
    }
}
