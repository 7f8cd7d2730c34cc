//! Comparing plain-format dumps: normalizing what legitimately differs between two dumps
//! of the same database, and showing the first differences as a unified-style diff.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use similar::{Algorithm, ChangeTag, DiffOp};

/// Lines of unchanged context around each difference.
const CONTEXT: usize = 3;
/// Diff lines shown at most: enough to see a pattern, short enough to read.
const MAX_DIFF_LINES: usize = 80;
/// Characters of one line shown at most (data lines can be megabytes long).
const MAX_LINE_CHARS: usize = 240;
/// Time the diff algorithm may take before it settles for a coarser (still correct)
/// diff; two unrelated 7 MB dumps would otherwise take very long.
const DIFF_TIMEOUT: Duration = Duration::from_secs(2);

/// `text` with the only parts that differ between two faithful dumps of one database
/// made the same on every dump:
///
/// - the random key of pg_dump's `\restrict KEY` / `\unrestrict KEY` lines (pg_dump
///   15.14 and later; a new key per run) becomes `KEY`;
/// - the first `-- Dumped from database version ...` and `-- Dumped by ...` lines (the
///   header's server and tool versions) lose their versions.
///
/// Everything else, whitespace and line ends included, is kept.
pub fn normalize(text: &str) -> String {
    let mut from_seen = false;
    let mut by_seen = false;
    let lines: Vec<Cow<'_, str>> = text
        .split('\n')
        .map(|line| {
            if let Some(normalized) = normalize_restrict(line) {
                return Cow::Borrowed(normalized);
            }
            // Only the header's lines: data lines that happen to look the same stay.
            if !from_seen && line.starts_with("-- Dumped from database version ") {
                from_seen = true;
                return Cow::Borrowed("-- Dumped from database version (normalized)");
            }
            if !by_seen && line.starts_with("-- Dumped by ") {
                by_seen = true;
                return Cow::Borrowed("-- Dumped by (normalized)");
            }
            Cow::Borrowed(line)
        })
        .collect();
    lines.join("\n")
}

/// `\restrict KEY` or `\unrestrict KEY` with the key replaced, if `line` is one.
fn normalize_restrict(line: &str) -> Option<&'static str> {
    let is_key = |key: &str| !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric());
    if line.strip_prefix("\\restrict ").is_some_and(is_key) {
        Some("\\restrict KEY")
    } else if line.strip_prefix("\\unrestrict ").is_some_and(is_key) {
        Some("\\unrestrict KEY")
    } else {
        None
    }
}

/// Panics with a readable diff unless `expected` and `actual` are equal after
/// [`normalize`]. `what` says what is compared (fixture, mode), the labels name the
/// two sides (`pg_dump`, `pgbm`).
pub fn assert_same_dump(
    what: &str,
    expected_label: &str,
    expected: &str,
    actual_label: &str,
    actual: &str,
) {
    let expected = normalize(expected);
    let actual = normalize(actual);
    if expected == actual {
        return;
    }
    panic!(
        "{what}: {actual_label} differs from {expected_label} \
         (after normalizing \\restrict keys and header versions)\n{}",
        diff(expected_label, &expected, actual_label, &actual)
    );
}

/// A unified-style diff of the first differences between two texts, compared line by
/// line (split on `\n` only, so a stray `\r` is a difference), with line numbers in
/// the hunk headers and a summary of how much differs in all.
pub fn diff(old_label: &str, old: &str, new_label: &str, new: &str) -> String {
    let old_lines: Vec<&str> = old.split('\n').collect();
    let new_lines: Vec<&str> = new.split('\n').collect();
    let ops = similar::capture_diff_slices_deadline(
        Algorithm::Myers,
        &old_lines,
        &new_lines,
        Some(Instant::now() + DIFF_TIMEOUT),
    );
    let (removed, added) = count_changes(&ops);
    let groups = similar::group_diff_ops(ops, CONTEXT);
    let mut out = format!(
        "{removed} line(s) only in {old_label}, {added} only in {new_label}, in {} place(s)\n\
         --- {old_label}\n+++ {new_label}\n",
        groups.len()
    );
    let mut shown = 0;
    'groups: for group in &groups {
        out.push_str(&hunk_header(group));
        for op in group {
            for change in op.iter_changes(&old_lines, &new_lines) {
                if shown == MAX_DIFF_LINES {
                    out.push_str("... (diff cut short)\n");
                    break 'groups;
                }
                let sign = match change.tag() {
                    ChangeTag::Equal => ' ',
                    ChangeTag::Delete => '-',
                    ChangeTag::Insert => '+',
                };
                let _ = writeln!(out, "{sign}{}", displayable(change.value()));
                shown += 1;
            }
        }
    }
    out
}

/// Lines removed and added by `ops`.
fn count_changes(ops: &[DiffOp]) -> (usize, usize) {
    ops.iter().fold((0, 0), |(removed, added), op| match *op {
        DiffOp::Equal { .. } => (removed, added),
        DiffOp::Delete { old_len, .. } => (removed + old_len, added),
        DiffOp::Insert { new_len, .. } => (removed, added + new_len),
        DiffOp::Replace {
            old_len, new_len, ..
        } => (removed + old_len, added + new_len),
    })
}

/// `@@ -start,len +start,len @@` for a group of ops (1-based lines, as diff prints).
fn hunk_header(group: &[DiffOp]) -> String {
    let (first, last) = (&group[0], &group[group.len() - 1]);
    let old = first.old_range().start..last.old_range().end;
    let new = first.new_range().start..last.new_range().end;
    format!(
        "@@ -{},{} +{},{} @@\n",
        old.start + 1,
        old.len(),
        new.start + 1,
        new.len()
    )
}

/// `line` made safe to print: control characters other than tab escaped (a stray `\r`
/// would otherwise be invisible), and very long lines cut.
fn displayable(line: &str) -> String {
    let mut out = String::new();
    for (i, c) in line.chars().enumerate() {
        if i == MAX_LINE_CHARS {
            let rest = line.chars().count() - i;
            let _ = write!(out, "... ({rest} more characters)");
            break;
        }
        if c.is_control() && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn normalize_masks_only_keys_and_header_versions() {
    let a = "--\n\\restrict abcXYZ019\n\n-- Dumped from database version 15.18 (Debian)\n\
             -- Dumped by pg_dump version 15.18\nSELECT 1;\n-- Dumped by me\n\\unrestrict abc\n";
    let b = "--\n\\restrict QQQ\n\n-- Dumped from database version 15.2\n\
             -- Dumped by pgbm 0.1\nSELECT 1;\n-- Dumped by me\n\\unrestrict Z9\n";
    assert_eq!(normalize(a), normalize(b));
    assert!(
        normalize(a).contains("-- Dumped by me\n"),
        "{}",
        normalize(a)
    );
    // Anything else is a difference, even a line end.
    assert_ne!(normalize("SELECT 1;\n"), normalize("SELECT 1;\r\n"));
    assert_ne!(normalize("\\restrict a b\n"), normalize("\\restrict c d\n"));
    assert_ne!(normalize("SELECT 1;\n"), normalize("SELECT 1;"));
}

#[test]
fn diff_shows_the_first_differences_with_line_numbers() {
    let old = "a\nb\nc\nd\ne\nf\ng\nh\n";
    let new = "a\nb\nc\nD\ne\nf\ng\nh\n";
    let d = diff("pg_dump", old, "pgbm", new);
    assert!(
        d.starts_with("1 line(s) only in pg_dump, 1 only in pgbm, in 1 place(s)\n"),
        "{d}"
    );
    assert!(
        d.contains("--- pg_dump\n+++ pgbm\n@@ -1,7 +1,7 @@\n"),
        "{d}"
    );
    assert!(d.contains(" c\n-d\n+D\n e\n"), "{d}");
}

#[test]
fn diff_escapes_control_characters_and_cuts_long_lines() {
    let long = "x".repeat(1000);
    let d = diff(
        "a",
        &format!("{long}\nk\r\n"),
        "b",
        &format!("{long}y\nk\n"),
    );
    assert!(d.contains("\n-k\\r\n") && d.contains("\n+k\n"), "{d}");
    assert!(d.contains("... (760 more characters)"), "{d}");
    assert!(d.contains("... (761 more characters)"), "{d}");
}

#[test]
#[should_panic(expected = "types, default: pgbm differs from pg_dump")]
fn assert_same_dump_panics_on_a_difference() {
    assert_same_dump("types, default", "pg_dump", "a\nb\n", "pgbm", "a\nc\n");
}
