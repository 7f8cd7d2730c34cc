//! Backup ids and UTC timestamps.
//!
//! An id is the backup's start time in UTC and 8 hex digits: `20261122T104512Z-1a2b3c4d`.
//! The hex digits are the millisecond of the start (3 digits, `000` to `3e7`) and 20
//! random bits. So ids sort by start time as plain strings, to the millisecond (`latest`
//! is the greatest), stay unique for backups started at the same moment, and are safe
//! as file names and object keys.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::crypto::{random_bytes, to_hex};
use crate::Result;

/// Length of the time part, `YYYYMMDDTHHMMSSZ`.
const TIME_LEN: usize = 16;
/// Length of a whole id: time, `-`, 8 hex digits.
const ID_LEN: usize = TIME_LEN + 1 + 8;

/// The id of a backup in a repository.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BackupId(String);

impl BackupId {
    /// A new id for a backup started at `started`.
    ///
    /// # Errors
    /// [`ErrorKind::Internal`](crate::ErrorKind::Internal) if the OS random generator
    /// fails.
    pub fn generate(started: SystemTime) -> Result<Self> {
        let mut random = [0u8; 4];
        random_bytes(&mut random)?;
        let (date, time) = civil(started);
        let millis = started
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_millis());
        // Lower-case hex of a fixed width sorts like the number it stands for.
        let id = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z-{millis:03x}{}",
            date.0,
            date.1,
            date.2,
            time.0,
            time.1,
            time.2,
            &to_hex(&random)[..5]
        );
        Ok(BackupId(id))
    }

    /// Parses an id; `None` unless `s` has exactly the shape of one.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        let shape_ok = b.len() == ID_LEN
            && b[..8].iter().all(u8::is_ascii_digit)
            && b[8] == b'T'
            && b[9..15].iter().all(u8::is_ascii_digit)
            && b[15] == b'Z'
            && b[16] == b'-'
            && b[17..]
                .iter()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c));
        shape_ok.then(|| BackupId(s.to_string()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BackupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `t` as an RFC 3339 UTC timestamp with milliseconds: `2026-11-22T10:45:12.345Z`.
pub fn timestamp(t: SystemTime) -> String {
    let (date, time) = civil(t);
    let millis = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_millis());
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        date.0, date.1, date.2, time.0, time.1, time.2
    )
}

/// The UTC calendar date `(year, month, day)` and time `(hour, minute, second)` of `t`
/// (times before 1970 are clamped to the epoch: a backup is never that old).
fn civil(t: SystemTime) -> ((i64, u32, u32), (u32, u32, u32)) {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = u32::try_from(secs % 86_400).expect("less than a day");
    (
        civil_from_days(days),
        (rem / 3600, rem % 3600 / 60, rem % 60),
    )
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to a proleptic Gregorian
/// date. Exact for every date, no table, no dependency.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // 0..=365
    let mp = (5 * doy + 2) / 153; // 0..=11, March-based
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).expect("1..=12"),
        u32::try_from(day).expect("1..=31"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(secs * 1000 + millis)
    }

    #[test]
    fn timestamps_are_utc_rfc3339() {
        assert_eq!(timestamp(at(0, 0)), "1970-01-01T00:00:00.000Z");
        // 2000-02-29 (a leap day in a century year) 12:34:56.789
        assert_eq!(timestamp(at(951_827_696, 789)), "2000-02-29T12:34:56.789Z");
        assert_eq!(timestamp(at(1_798_761_599, 0)), "2026-12-31T23:59:59.000Z");
        assert_eq!(timestamp(at(4_107_542_400, 0)), "2100-03-01T00:00:00.000Z");
    }

    #[test]
    fn ids_have_their_shape_and_sort_by_time() {
        let a = BackupId::generate(at(1_795_168_800, 0)).unwrap();
        assert!(a.as_str().starts_with("20261120T100000Z-"), "{a}");
        assert_eq!(BackupId::parse(a.as_str()), Some(a.clone()));
        let b = BackupId::generate(at(1_795_168_801, 0)).unwrap();
        assert!(a < b && a.as_str() < b.as_str());
        let c = BackupId::generate(at(1_795_168_800, 0)).unwrap();
        assert_ne!(a, c, "same moment, different random part");
        // Within a second, the millisecond orders them.
        let mut previous = BackupId::generate(at(1_795_168_800, 0)).unwrap();
        for ms in [1, 9, 10, 15, 16, 255, 256, 998, 999] {
            let next = BackupId::generate(at(1_795_168_800, ms)).unwrap();
            assert!(previous < next, "{previous} < {next}");
            previous = next;
        }
        assert!(previous < b);
    }

    #[test]
    fn only_well_formed_ids_parse() {
        assert!(BackupId::parse("20261122T104512Z-1a2b3c4d").is_some());
        for bad in [
            "",
            "latest",
            "20261122T104512Z-1a2b3c4",
            "20261122T104512Z-1A2B3C4D",
            "20261122 104512Z-1a2b3c4d",
            "20261122T104512Z_1a2b3c4d",
            "2026112xT104512Z-1a2b3c4d",
            "20261122T104512Z-1a2b3c4d.pgbm",
        ] {
            assert!(BackupId::parse(bad).is_none(), "{bad:?}");
        }
    }
}
