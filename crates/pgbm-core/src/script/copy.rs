//! Finding the end of `COPY ... FROM stdin` data: the line `\.`.
//!
//! The data is passed through as it is, in chunks that end at line boundaries when
//! possible, so that only a few bytes (a possible `\.\r` at the end of the buffer)
//! ever wait for more input. A terminator is a line that is exactly `\.`, ended by
//! `\n`, `\r\n` or the end of the input, as psql 18 reads it. A row `\\.` (an escaped
//! backslash followed by a dot) is data.

use memchr::memchr_iter;

/// The outcome of [`scan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CopyScan {
    /// The first `len` bytes are data, holding `lines` line feeds; `at_line_start`
    /// says whether the byte after them starts a line.
    Data {
        len: usize,
        lines: u64,
        at_line_start: bool,
    },
    /// The buffer starts with the terminator line, `len` bytes long (`lines` is 0 or
    /// 1 depending on whether it ends with a line feed).
    End { len: usize, lines: u64 },
    /// Cannot tell yet (an empty buffer, or a line start that may be `\.`).
    NeedMore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Terminator {
    Yes(usize),
    No,
    Maybe,
}

/// Whether a terminator line starts at `i`.
fn terminator_at(buf: &[u8], i: usize, eof: bool) -> Terminator {
    let rest = &buf[i..];
    let undecided = if eof {
        Terminator::No
    } else {
        Terminator::Maybe
    };
    match rest {
        [] | [b'\\'] => undecided,
        [b'\\', b'.'] if eof => Terminator::Yes(2),
        [b'\\', b'.'] => Terminator::Maybe,
        [b'\\', b'.', b'\n', ..] => Terminator::Yes(3),
        [b'\\', b'.', b'\r'] if eof => Terminator::Yes(3),
        [b'\\', b'.', b'\r'] => Terminator::Maybe,
        [b'\\', b'.', b'\r', b'\n', ..] => Terminator::Yes(4),
        _ => Terminator::No,
    }
}

/// Scans COPY data at the front of `buf`. `at_line_start` says whether `buf[0]`
/// starts a line; `eof` whether `buf` holds all the remaining input.
pub(super) fn scan(buf: &[u8], at_line_start: bool, eof: bool) -> CopyScan {
    if at_line_start {
        match terminator_at(buf, 0, eof) {
            Terminator::Yes(len) => {
                let lines = u64::from(buf[len - 1] == b'\n');
                return CopyScan::End { len, lines };
            }
            Terminator::Maybe => return CopyScan::NeedMore,
            Terminator::No if buf.is_empty() => return CopyScan::NeedMore,
            Terminator::No => {}
        }
    }
    let mut lines = 0;
    let mut last_line_end = 0;
    for nl in memchr_iter(b'\n', buf) {
        lines += 1;
        last_line_end = nl + 1;
        if last_line_end < buf.len() && terminator_at(buf, last_line_end, eof) != Terminator::No {
            // Stop before a (possible) terminator so that the next call sees it at
            // the start of the buffer.
            return CopyScan::Data {
                len: last_line_end,
                lines,
                at_line_start: true,
            };
        }
    }
    if lines > 0 && (last_line_end == buf.len() || !eof) {
        // Keep a partial last line for the next call, so chunks end at line ends.
        return CopyScan::Data {
            len: last_line_end,
            lines,
            at_line_start: true,
        };
    }
    if buf.is_empty() {
        return CopyScan::NeedMore;
    }
    // A line longer than the buffer, or the unterminated end of the input.
    CopyScan::Data {
        len: buf.len(),
        lines,
        at_line_start: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminator_forms() {
        assert_eq!(
            scan(b"\\.\n", true, false),
            CopyScan::End { len: 3, lines: 1 }
        );
        assert_eq!(
            scan(b"\\.\r\nX", true, false),
            CopyScan::End { len: 4, lines: 1 }
        );
        assert_eq!(scan(b"\\.", true, true), CopyScan::End { len: 2, lines: 0 });
        assert_eq!(scan(b"\\.", true, false), CopyScan::NeedMore);
        assert_eq!(scan(b"\\.\r", true, false), CopyScan::NeedMore);
        assert_eq!(scan(b"\\", true, false), CopyScan::NeedMore);
    }

    #[test]
    fn not_terminators() {
        for data in [&b"\\\\.\n"[..], b"\\.x\n", b" \\.\n", b"\\.\rx\n", b"\\N\n"] {
            assert_eq!(
                scan(data, true, true),
                CopyScan::Data {
                    len: data.len(),
                    lines: 1,
                    at_line_start: true
                },
                "{data:?}"
            );
        }
    }

    #[test]
    fn data_stops_before_terminator() {
        let buf = b"1\ta\n2\tb\n\\.\nSELECT 1;\n";
        assert_eq!(
            scan(buf, true, false),
            CopyScan::Data {
                len: 8,
                lines: 2,
                at_line_start: true
            }
        );
        assert_eq!(
            scan(&buf[8..], true, false),
            CopyScan::End { len: 3, lines: 1 }
        );
    }

    #[test]
    fn partial_lines_pass_through() {
        assert_eq!(
            scan(b"1\tabc", true, false),
            CopyScan::Data {
                len: 5,
                lines: 0,
                at_line_start: false
            }
        );
        // In the middle of a line `\.` is data.
        assert_eq!(
            scan(b"\\.\n", false, false),
            CopyScan::Data {
                len: 3,
                lines: 1,
                at_line_start: true
            }
        );
        // A line start at the very end of the buffer waits for the next call.
        assert_eq!(
            scan(b"x\n\\", false, false),
            CopyScan::Data {
                len: 2,
                lines: 1,
                at_line_start: true
            }
        );
        assert_eq!(scan(b"", true, true), CopyScan::NeedMore);
        assert_eq!(scan(b"", false, false), CopyScan::NeedMore);
    }
}
