//! Sealing and opening one archive unit (a frame or the footer).
//!
//! A unit is stored as `body || tag` (tag: [`TAG_LEN`] bytes). Its *position* — which
//! segment, which frame, whether it is the segment's last frame, or the footer — and
//! its *associated data* — the archive's header core digest and the unit's plaintext
//! length — are never stored with it: the reader computes them from the
//! (authenticated) index, so a unit moved anywhere else fails to open.
//!
//! * Encrypted archives: AES-256-GCM under the data key, nonce =
//!   `nonce_prefix (3) || segment (u32 LE) || frame (u32 LE) || flag (u8)` (STREAM).
//! * Unencrypted archives: the body is the plaintext and the tag is
//!   `SHA-256(aad || nonce || body)[0..16]`, a keyless checksum of the same shape. It
//!   catches corruption and misplaced units, not deliberate forgery.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::Aes256Gcm;
use sha2::{Digest, Sha256};

use super::DataKey;

/// Length of the tag at the end of every stored unit.
pub const TAG_LEN: usize = 16;
/// Length of the per-archive random nonce prefix.
pub(crate) const NONCE_PREFIX_LEN: usize = 3;

/// Where a unit belongs; determines its nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnitPosition {
    /// Frame `frame` (0-based) of segment `segment` (0-based); `last` on the segment's
    /// final frame.
    Frame {
        /// Segment number.
        segment: u32,
        /// Frame number within the segment.
        frame: u32,
        /// True for the segment's final frame.
        last: bool,
    },
    /// The footer (index and manifest).
    Footer,
}

impl UnitPosition {
    /// The 12-byte nonce of this position.
    fn nonce(self, prefix: [u8; NONCE_PREFIX_LEN]) -> [u8; 12] {
        let (segment, frame, flag) = match self {
            UnitPosition::Frame {
                segment,
                frame,
                last,
            } => (segment, frame, u8::from(last)),
            UnitPosition::Footer => (u32::MAX, u32::MAX, 2),
        };
        let mut n = [0u8; 12];
        n[..3].copy_from_slice(&prefix);
        n[3..7].copy_from_slice(&segment.to_le_bytes());
        n[7..11].copy_from_slice(&frame.to_le_bytes());
        n[11] = flag;
        n
    }
}

/// The unit failed its authentication or checksum check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unauthentic;

/// Seals and opens the units of one archive.
pub(crate) struct UnitProtector {
    cipher: Option<Aes256Gcm>,
    core_digest: [u8; 32],
    nonce_prefix: [u8; NONCE_PREFIX_LEN],
}

impl std::fmt::Debug for UnitProtector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnitProtector")
            .field("encrypted", &self.cipher.is_some())
            .finish_non_exhaustive()
    }
}

impl UnitProtector {
    /// A protector for the archive whose header core hashes to `core_digest`;
    /// encrypting if `key` is given.
    pub(crate) fn new(
        key: Option<&DataKey>,
        core_digest: [u8; 32],
        nonce_prefix: [u8; NONCE_PREFIX_LEN],
    ) -> Self {
        let cipher = key.map(|k| Aes256Gcm::new(k.as_bytes().into()));
        UnitProtector {
            cipher,
            core_digest,
            nonce_prefix,
        }
    }

    /// True if units are encrypted (not just checksummed).
    pub(crate) fn encrypted(&self) -> bool {
        self.cipher.is_some()
    }

    /// Turns `body` (the possibly compressed plaintext) into the stored unit in place:
    /// encrypts it (if encrypting) and appends the tag. `plain_len` is the unit's
    /// uncompressed length, bound into the tag.
    pub(crate) fn seal(&self, pos: UnitPosition, plain_len: u64, body: &mut Vec<u8>) {
        let nonce = pos.nonce(self.nonce_prefix);
        let aad = self.aad(plain_len);
        let tag: [u8; TAG_LEN] = match &self.cipher {
            Some(cipher) => {
                let tag = cipher
                    .encrypt_inout_detached(&nonce.into(), &aad, body.as_mut_slice().into())
                    // Only fails for plaintexts over 64 GiB; frames are a few MiB.
                    .expect("AES-GCM unit within size limits");
                tag.into()
            }
            None => checksum_tag(&aad, &nonce, body),
        };
        body.extend_from_slice(&tag);
    }

    /// Checks and decrypts the stored unit `stored` in place, leaving the body
    /// (compressed plaintext) in it.
    pub(crate) fn open(
        &self,
        pos: UnitPosition,
        plain_len: u64,
        stored: &mut Vec<u8>,
    ) -> Result<(), Unauthentic> {
        let body_len = stored.len().checked_sub(TAG_LEN).ok_or(Unauthentic)?;
        let nonce = pos.nonce(self.nonce_prefix);
        let aad = self.aad(plain_len);
        let (body, tag) = stored.split_at_mut(body_len);
        match &self.cipher {
            Some(cipher) => {
                let tag = aes_gcm::Tag::try_from(&*tag).map_err(|_| Unauthentic)?;
                cipher
                    .decrypt_inout_detached(&nonce.into(), &aad, body.into(), &tag)
                    .map_err(|_| Unauthentic)?;
            }
            None => {
                if checksum_tag(&aad, &nonce, body) != *tag {
                    return Err(Unauthentic);
                }
            }
        }
        stored.truncate(body_len);
        Ok(())
    }

    /// Associated data of a unit: header core digest || plaintext length (u64 LE).
    fn aad(&self, plain_len: u64) -> [u8; 40] {
        let mut aad = [0u8; 40];
        aad[..32].copy_from_slice(&self.core_digest);
        aad[32..].copy_from_slice(&plain_len.to_le_bytes());
        aad
    }
}

/// The keyless tag of unencrypted archives.
fn checksum_tag(aad: &[u8], nonce: &[u8; 12], body: &[u8]) -> [u8; TAG_LEN] {
    let digest = Sha256::new()
        .chain_update(aad)
        .chain_update(nonce)
        .chain_update(body)
        .finalize();
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&digest[..TAG_LEN]);
    tag
}
