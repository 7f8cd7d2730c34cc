//! The password file (`~/.pgpass` or `PGPASSFILE`), read exactly as libpq reads it.
//!
//! Each line is `hostname:port:database:username:password`. A field that is exactly
//! `*` matches anything; `\:` and `\\` stand for `:` and `\`. Lines starting with `#`
//! are comments. The first matching line wins. The file is ignored, with a warning, if
//! it is not a plain file or if group or others have any access to it.

use std::path::Path;

/// What a password is looked up for. `host` is already mapped the way libpq maps it
/// (`localhost` for the default socket directory).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Query<'a> {
    pub host: &'a str,
    pub port: u16,
    pub dbname: &'a str,
    pub user: &'a str,
}

/// Reads `path` and returns the password of the first line matching `query`.
///
/// A missing file is not an error (most users have none); an unsafe or unreadable one
/// is skipped with a warning, as libpq does.
pub(crate) fn lookup_file(path: &Path, query: &Query<'_>) -> Option<String> {
    if let Some(reason) = unusable(path) {
        tracing::warn!("{reason}");
        return None;
    }
    std::fs::read_to_string(path)
        .ok()
        .and_then(|contents| lookup(&contents, query))
}

/// Why libpq would skip the password file at `path` although it exists: not a plain
/// file, group or world access, or unreadable. `None` when it is usable or missing.
pub(crate) fn unusable(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let shown = path.display();
    if !meta.is_file() {
        return Some(format!("password file \"{shown}\" is not a plain file"));
    }
    if has_group_or_world_access(&meta) {
        return Some(format!(
            "password file \"{shown}\" has group or world access; permissions should be u=rw (0600) or less"
        ));
    }
    match std::fs::File::open(path) {
        Ok(_) => None,
        Err(err) => Some(format!("could not read password file \"{shown}\": {err}")),
    }
}

#[cfg(unix)]
fn has_group_or_world_access(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o077 != 0
}

#[cfg(not(unix))]
fn has_group_or_world_access(_meta: &std::fs::Metadata) -> bool {
    // libpq does not check permissions on Windows either.
    false
}

/// The password of the first line of `contents` matching `query`.
///
/// An empty password counts as none, as in libpq.
pub(crate) fn lookup(contents: &str, query: &Query<'_>) -> Option<String> {
    let port = query.port.to_string();
    let wanted = [query.host, port.as_str(), query.dbname, query.user];
    contents
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(parse_line)
        .find(|entry| {
            entry.patterns.iter().zip(wanted).all(|(pattern, value)| {
                matches!(pattern, Pattern::Any) || *pattern == Pattern::Exact(value.to_string())
            })
        })
        .map(|entry| entry.password)
        .filter(|password| !password.is_empty())
}

#[derive(Debug, PartialEq)]
enum Pattern {
    Any,
    Exact(String),
}

#[derive(Debug)]
struct Entry {
    patterns: [Pattern; 4],
    password: String,
}

/// Splits one line into four patterns and the password; `None` if it has fewer fields.
fn parse_line(line: &str) -> Option<Entry> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut fields = Fields::new(line);
    let mut next_pattern = || {
        let (value, raw) = fields.next()?;
        // Only an unescaped, lone `*` is a wildcard: `\*` is a literal star.
        Some(if raw == "*" {
            Pattern::Any
        } else {
            Pattern::Exact(value)
        })
    };
    let patterns = [
        next_pattern()?,
        next_pattern()?,
        next_pattern()?,
        next_pattern()?,
    ];
    // The password runs to the next unescaped ':' or the end of the line.
    let (password, _) = fields.next()?;
    Some(Entry { patterns, password })
}

/// Iterates over `:`-separated fields, yielding each de-escaped value with its raw text.
struct Fields<'a> {
    /// The text after the last separator; `None` once the last field was returned.
    rest: Option<&'a str>,
}

impl<'a> Fields<'a> {
    fn new(line: &'a str) -> Self {
        Fields { rest: Some(line) }
    }

    fn next(&mut self) -> Option<(String, &'a str)> {
        let rest = self.rest?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => value.push(chars.next().map_or('\\', |(_, escaped)| escaped)),
                ':' => {
                    self.rest = Some(&rest[i + 1..]);
                    return Some((value, &rest[..i]));
                }
                _ => value.push(c),
            }
        }
        self.rest = None;
        Some((value, rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q<'a>(host: &'a str, port: u16, dbname: &'a str, user: &'a str) -> Query<'a> {
        Query {
            host,
            port,
            dbname,
            user,
        }
    }

    #[test]
    fn first_matching_line_wins() {
        let file = "\
# comment line
db1:5432:sales:bob:first
*:*:*:bob:second
*:*:*:*:fallback
";
        assert_eq!(
            lookup(file, &q("db1", 5432, "sales", "bob")).as_deref(),
            Some("first")
        );
        assert_eq!(
            lookup(file, &q("db1", 5433, "sales", "bob")).as_deref(),
            Some("second")
        );
        assert_eq!(
            lookup(file, &q("db2", 5432, "x", "alice")).as_deref(),
            Some("fallback")
        );
    }

    #[test]
    fn every_field_must_match() {
        let file = "h:5432:d:u:pw\n";
        assert_eq!(lookup(file, &q("h", 5432, "d", "u")).as_deref(), Some("pw"));
        assert_eq!(lookup(file, &q("H", 5432, "d", "u")), None);
        assert_eq!(lookup(file, &q("h", 5433, "d", "u")), None);
        assert_eq!(lookup(file, &q("h", 5432, "e", "u")), None);
        assert_eq!(lookup(file, &q("h", 5432, "d", "v")), None);
    }

    #[test]
    fn escapes_in_patterns_and_password() {
        let file = r"my\:host:5432:d\\b:u:pa\:ss\\word:ignored
";
        assert_eq!(
            lookup(file, &q("my:host", 5432, r"d\b", "u")).as_deref(),
            Some(r"pa:ss\word")
        );
    }

    #[test]
    fn escaped_star_is_literal() {
        let file = "\\*:*:*:*:literal\n*:*:*:*:wild\n";
        assert_eq!(
            lookup(file, &q("*", 5432, "d", "u")).as_deref(),
            Some("literal")
        );
        assert_eq!(
            lookup(file, &q("h", 5432, "d", "u")).as_deref(),
            Some("wild")
        );
        // A star that is only part of a field is literal too.
        assert_eq!(lookup("h*:*:*:*:x\n", &q("host", 5432, "d", "u")), None);
    }

    #[test]
    fn short_lines_and_comments_are_skipped() {
        let file = "h:5432:d:u\n#h:5432:d:u:commented\nh:5432:d:u:real\r\n";
        assert_eq!(
            lookup(file, &q("h", 5432, "d", "u")).as_deref(),
            Some("real")
        );
        assert_eq!(lookup("", &q("h", 5432, "d", "u")), None);
    }

    #[test]
    fn an_empty_password_on_the_first_match_means_none() {
        // libpq stops at the first matching line and then treats "" as no password.
        let file = "h:5432:d:u:\n*:*:*:*:later\n";
        assert_eq!(lookup(file, &q("h", 5432, "d", "u")), None);
        assert_eq!(
            lookup(file, &q("x", 5432, "d", "u")).as_deref(),
            Some("later")
        );
    }

    #[test]
    fn password_may_be_the_last_field_without_colon() {
        assert_eq!(
            lookup("*:*:*:*:p w d", &q("h", 1, "d", "u")).as_deref(),
            Some("p w d")
        );
    }

    #[cfg(unix)]
    #[test]
    fn file_with_group_or_world_access_is_ignored() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pgpass");
        std::fs::write(&path, "*:*:*:*:secret\n").expect("write");
        let query = q("h", 5432, "d", "u");

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert_eq!(lookup_file(&path, &query).as_deref(), Some("secret"));

        for mode in [0o640, 0o604, 0o610] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
            assert_eq!(lookup_file(&path, &query), None, "mode {mode:o}");
        }
    }

    #[test]
    fn missing_file_or_directory_gives_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let query = q("h", 5432, "d", "u");
        assert_eq!(lookup_file(&dir.path().join("nope"), &query), None);
        assert_eq!(lookup_file(dir.path(), &query), None);
    }
}
