//! Keys and authenticated encryption for pgbm archives.
//!
//! * [`DataKey`]: the random 256-bit key that encrypts one archive's frames and footer.
//! * Key slots wrap the data key under a key-encryption key (KEK): a
//!   [`PassphraseKey`] (PBKDF2-HMAC-SHA256 of a [`Passphrase`] with [`KdfParams`]) or a
//!   [`KeyFileKey`] (256 random bits kept in a small text file, see
//!   [`generate_key_file`]). [`KeySlotsSpec`] says which slots a new archive gets;
//!   [`KeySource`] holds what a reader has to try.
//! * `UnitProtector` (crate-internal) seals one unit (a frame or the footer): AES-256-GCM with a
//!   STREAM-style nonce, or, in unencrypted archives, a keyless SHA-256 checksum tag of
//!   the same shape, so both modes detect corruption, reordering and splicing.
//!
//! Every type holding key material zeroizes it on drop and prints no key bytes in
//! `Debug`. The byte formats are specified in `docs/FORMAT.md`.

mod aead;
mod keys;
mod slots;

pub use aead::TAG_LEN;
pub(crate) use aead::{UnitPosition, UnitProtector, NONCE_PREFIX_LEN};
pub use keys::{
    generate_key_file, DataKey, KdfParams, KeyFileKey, KeySource, Passphrase, PassphraseKey,
    DEFAULT_PBKDF2_ITERATIONS, KEY_FILE_HEADER,
};
pub(crate) use slots::{encode_slots, open_slots, parse_slots, RawSlot};
pub use slots::{KeySlotsSpec, SlotKind};

/// Lower-case hex of `bytes` (used for digests and key ids in messages and JSON).
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// Decodes hex (either case) into exactly `N` bytes; `None` if malformed.
pub(crate) fn from_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.as_bytes();
    if s.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        out[i] = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

/// Fills `buf` from the operating system's CSPRNG.
pub(crate) fn random_bytes(buf: &mut [u8]) -> crate::Result<()> {
    getrandom::getrandom(buf).map_err(|e| {
        crate::Error::internal(format!(
            "the operating system's random generator failed: {e}"
        ))
    })
}

#[cfg(test)]
mod tests;
