//! SQL text: quoting of identifiers and literals exactly as pg_dump writes them.
//!
//! SKELETON: to be completed (keyword list, dollar quoting).

/// Quotes an identifier the way pg_dump's `fmtId` does: left bare only when it is all
/// lower-case letters, digits and underscores, does not start with a digit, and is not
/// a keyword (other than an unreserved one).
pub fn quote_ident(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if bare {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// `schema.name`, each part quoted with [`quote_ident`].
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

/// A string literal for a server with `standard_conforming_strings = on`.
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
