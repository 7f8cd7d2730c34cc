//! How big each part of an S3 multipart upload is.
//!
//! S3 allows at most 10,000 parts of at most 5 GiB each (all but the last at least
//! 5 MiB) and objects up to 5 TiB. A streaming upload does not know its final size, so
//! a fixed part size caps it: 8 MiB parts stop at 78 GiB, the "10,000-part limit" that
//! breaks other tools' backups. Here parts start small (cheap in memory for the common,
//! small backup) and double every `interval` parts. The interval is the *slowest*
//! doubling (at most every 1,000 parts) with which 10,000 parts hold 5 TiB; for the
//! default 8 MiB start it is exactly 1,000: 8 MiB for the first 7.8 GiB, 16 MiB up to
//! 23 GiB, ... 512 MiB parts once past 1 TiB.
//!
//! Memory: an upload holds one part being filled plus up to `max_concurrency` parts in
//! flight, so it grows with the object (about 5 x 64 MiB past 62 GiB with the defaults).

/// S3's limit on the number of parts of one upload.
pub const MAX_PARTS: u32 = 10_000;
/// S3's smallest part (except the last).
pub const MIN_PART_SIZE: u64 = 5 * MIB;
/// S3's largest part.
pub const MAX_PART_SIZE: u64 = 5 * GIB;
/// S3's largest object.
pub const MAX_OBJECT_SIZE: u64 = 5 * TIB;

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;
const TIB: u64 = 1024 * GIB;

/// Parts per size step at most: the brief's "double every 1,000 parts".
const SLOWEST_INTERVAL: u32 = 1_000;

/// The part-size schedule of one upload: `base` bytes, doubling every `interval` parts,
/// never more than [`MAX_PART_SIZE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartSizes {
    base: u64,
    interval: u32,
}

impl PartSizes {
    /// The schedule starting at `base` bytes (clamped to S3's part limits), with the
    /// slowest growth that still fits [`MAX_OBJECT_SIZE`] in [`MAX_PARTS`] parts.
    pub fn new(base: u64) -> Self {
        let base = base.clamp(MIN_PART_SIZE, MAX_PART_SIZE);
        let interval = (1..=SLOWEST_INTERVAL)
            .rev()
            .find(|&interval| PartSizes { base, interval }.capacity() >= MAX_OBJECT_SIZE)
            // Unreachable: with interval 1 the parts hit 5 GiB within 11 parts.
            .unwrap_or(1);
        PartSizes { base, interval }
    }

    /// The size of the first parts.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Parts between doublings.
    pub fn interval(&self) -> u32 {
        self.interval
    }

    /// The size of part `number` (1-based, as S3 counts).
    pub fn size(&self, number: u32) -> u64 {
        let doublings = number.saturating_sub(1) / self.interval;
        let factor = 1u64.checked_shl(doublings).unwrap_or(u64::MAX);
        self.base.saturating_mul(factor).min(MAX_PART_SIZE)
    }

    /// The bytes [`MAX_PARTS`] parts of this schedule hold.
    pub fn capacity(&self) -> u64 {
        // Sum step by step: at most 10,000 / interval steps.
        let mut total = 0u64;
        let mut first = 1u32;
        while first <= MAX_PARTS {
            let parts = self.interval.min(MAX_PARTS - first + 1);
            total = total.saturating_add(self.size(first).saturating_mul(u64::from(parts)));
            first += parts;
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parts a `total`-byte upload needs under `sizes`, checking S3's part limits.
    fn simulate(sizes: PartSizes, total: u64) -> u32 {
        let (mut uploaded, mut parts) = (0u64, 0u32);
        while uploaded < total {
            parts += 1;
            let size = sizes.size(parts);
            assert!(size <= MAX_PART_SIZE, "part {parts} is {size} bytes");
            let is_last = uploaded + size >= total;
            assert!(is_last || size >= MIN_PART_SIZE, "part {parts} too small");
            uploaded += size;
        }
        parts
    }

    #[test]
    fn the_default_doubles_every_thousand_parts() {
        let sizes = PartSizes::new(8 * MIB);
        assert_eq!(sizes.interval(), 1_000);
        assert_eq!(sizes.size(1), 8 * MIB);
        assert_eq!(sizes.size(1_000), 8 * MIB);
        assert_eq!(sizes.size(1_001), 16 * MIB);
        assert_eq!(sizes.size(9_001), 4 * GIB);
        assert!(sizes.size(u32::MAX) <= MAX_PART_SIZE);
    }

    #[test]
    fn five_tib_fits_in_fewer_than_ten_thousand_parts_from_the_smallest_part_size() {
        // The smallest legal start needs faster growth than the default.
        let sizes = PartSizes::new(MIN_PART_SIZE);
        assert!(sizes.interval() < 1_000, "{sizes:?}");
        let parts = simulate(sizes, MAX_OBJECT_SIZE);
        assert!(parts < MAX_PARTS, "{parts} parts");
    }

    #[test]
    fn five_tib_fits_for_every_start() {
        for base in [
            MIN_PART_SIZE,
            6 * MIB,
            8 * MIB,
            64 * MIB,
            GIB,
            MAX_PART_SIZE,
        ] {
            let sizes = PartSizes::new(base);
            assert!(sizes.capacity() >= MAX_OBJECT_SIZE, "{sizes:?}");
            assert!(simulate(sizes, MAX_OBJECT_SIZE) <= MAX_PARTS, "{sizes:?}");
        }
    }

    #[test]
    fn a_fixed_part_size_would_not_fit() {
        // What the schedule protects against: 10,000 fixed 8 MiB parts hold 78 GiB.
        assert!(u64::from(MAX_PARTS) * 8 * MIB < 80 * GIB);
        // And small backups keep small parts: 1 GiB goes in 8 MiB parts.
        assert_eq!(simulate(PartSizes::new(8 * MIB), GIB), 128);
    }

    #[test]
    fn bases_are_clamped_to_s3_limits() {
        assert_eq!(PartSizes::new(1).base(), MIN_PART_SIZE);
        assert_eq!(PartSizes::new(u64::MAX).base(), MAX_PART_SIZE);
    }
}
