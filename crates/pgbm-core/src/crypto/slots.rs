//! Key slots: the archive's data key wrapped under each key that may open it.
//!
//! Slot bytes (all integers little-endian; see `docs/FORMAT.md`):
//!
//! ```text
//! type u8 | reserved u8 (0) | slot_len u16 | body
//! type 1, passphrase: iterations u32 | salt_len u8 | salt | wrap_nonce[12] | wrapped[48]
//! type 2, key file:   key_id[8] | wrap_nonce[12] | wrapped[48]
//! ```
//!
//! `wrapped` is AES-256-GCM(KEK, wrap_nonce, aad = header core digest || the slot's
//! bytes before `wrapped`, data key) — 32 bytes of ciphertext and a 16-byte tag. Slots
//! of an unknown type are skipped, so later versions can add slot types.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::Aes256Gcm;
use zeroize::Zeroizing;

use super::keys::{MAX_PBKDF2_ITERATIONS, MAX_SALT_LEN, MIN_SALT_LEN};
use super::{random_bytes, to_hex, DataKey, KdfParams, KeyFileKey, KeySource, PassphraseKey};
use crate::{Error, ErrorKind, Result};

const TYPE_PASSPHRASE: u8 = 1;
const TYPE_KEY_FILE: u8 = 2;
/// Wrapped data key: 32 bytes ciphertext + 16 bytes tag.
const WRAPPED_LEN: usize = 48;
const WRAP_NONCE_LEN: usize = 12;

/// Which key slots a new archive gets. Each slot wraps the archive's data key under
/// one key; any one of them opens the archive.
#[derive(Clone, Debug, Default)]
pub struct KeySlotsSpec {
    slots: Vec<SlotKey>,
}

#[derive(Clone, Debug)]
enum SlotKey {
    Passphrase(PassphraseKey),
    KeyFile(KeyFileKey),
}

impl KeySlotsSpec {
    /// No slots yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a passphrase slot (derive the key with [`PassphraseKey::derive_async`]).
    #[must_use]
    pub fn with_passphrase_key(mut self, key: PassphraseKey) -> Self {
        self.slots.push(SlotKey::Passphrase(key));
        self
    }

    /// Adds a key-file slot.
    #[must_use]
    pub fn with_key_file(mut self, key: KeyFileKey) -> Self {
        self.slots.push(SlotKey::KeyFile(key));
        self
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True if there are no slots.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

/// What kind of key opens a slot (public data, shown when listing an archive).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlotKind {
    /// A passphrase, through PBKDF2-HMAC-SHA256 with these parameters.
    Passphrase(KdfParams),
    /// A key file with this key id ([`KeyFileKey::key_id`]).
    KeyFile {
        /// The key id.
        key_id: [u8; 8],
    },
    /// A slot type this version does not know (skipped).
    Unknown {
        /// The type byte.
        type_code: u8,
    },
}

impl std::fmt::Display for SlotKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SlotKind::Passphrase(p) => write!(f, "passphrase ({} iterations)", p.iterations()),
            SlotKind::KeyFile { key_id } => write!(f, "key file {}", to_hex(key_id)),
            SlotKind::Unknown { type_code } => write!(f, "unknown slot type {type_code}"),
        }
    }
}

/// One parsed slot: its kind and its complete bytes.
#[derive(Clone, Debug)]
pub(crate) struct RawSlot {
    pub(crate) kind: SlotKind,
    bytes: Vec<u8>,
}

/// Encodes the slots of `spec`, each wrapping `data_key` for the archive whose header
/// core digest is `core_digest`.
pub(crate) fn encode_slots(
    spec: &KeySlotsSpec,
    data_key: &DataKey,
    core_digest: &[u8; 32],
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for slot in &spec.slots {
        let (type_code, params, kek) = match slot {
            SlotKey::Passphrase(k) => {
                let mut p = k.params().iterations().to_le_bytes().to_vec();
                p.push(u8::try_from(k.params().salt().len()).expect("salt length checked"));
                p.extend_from_slice(k.params().salt());
                (TYPE_PASSPHRASE, p, k.kek())
            }
            SlotKey::KeyFile(k) => (TYPE_KEY_FILE, k.key_id().to_vec(), k.as_bytes()),
        };
        let mut nonce = [0u8; WRAP_NONCE_LEN];
        random_bytes(&mut nonce)?;
        let slot_len = 4 + params.len() + WRAP_NONCE_LEN + WRAPPED_LEN;
        let mut slot = Vec::with_capacity(slot_len);
        slot.extend_from_slice(&[type_code, 0]);
        slot.extend_from_slice(
            &u16::try_from(slot_len)
                .expect("slots are < 200 bytes")
                .to_le_bytes(),
        );
        slot.extend_from_slice(&params);
        slot.extend_from_slice(&nonce);
        let mut wrapped = data_key.as_bytes().to_vec();
        let tag = Aes256Gcm::new(kek.into())
            .encrypt_inout_detached(
                &nonce.into(),
                &wrap_aad(core_digest, &slot),
                wrapped.as_mut_slice().into(),
            )
            .expect("32-byte plaintext within AES-GCM limits");
        slot.extend_from_slice(&wrapped);
        slot.extend_from_slice(&tag);
        out.extend_from_slice(&slot);
    }
    Ok(out)
}

/// Splits the slot table `bytes` into `count` slots. The error says what is wrong and
/// in which slot (the caller adds the region).
pub(crate) fn parse_slots(
    mut bytes: &[u8],
    count: u16,
) -> std::result::Result<Vec<RawSlot>, String> {
    let mut slots = Vec::with_capacity(usize::from(count));
    for i in 0..count {
        if bytes.len() < 4 {
            return Err(format!("key slot {i} is cut short"));
        }
        let len = usize::from(u16::from_le_bytes([bytes[2], bytes[3]]));
        if len < 4 || len > bytes.len() {
            return Err(format!("key slot {i} has an impossible length {len}"));
        }
        let (slot, rest) = bytes.split_at(len);
        bytes = rest;
        let kind = parse_slot_kind(slot).map_err(|e| format!("key slot {i}: {e}"))?;
        slots.push(RawSlot {
            kind,
            bytes: slot.to_vec(),
        });
    }
    if !bytes.is_empty() {
        return Err(format!("{} bytes after the last key slot", bytes.len()));
    }
    Ok(slots)
}

fn parse_slot_kind(slot: &[u8]) -> std::result::Result<SlotKind, String> {
    let body = &slot[4..];
    match slot[0] {
        TYPE_PASSPHRASE => {
            let (iterations, salt_len) = match body {
                [a, b, c, d, s, ..] => (u32::from_le_bytes([*a, *b, *c, *d]), usize::from(*s)),
                _ => return Err("passphrase slot is cut short".into()),
            };
            if !(MIN_SALT_LEN..=MAX_SALT_LEN).contains(&salt_len)
                || body.len() != 5 + salt_len + WRAP_NONCE_LEN + WRAPPED_LEN
            {
                return Err(format!("passphrase slot has a bad salt length {salt_len}"));
            }
            if iterations == 0 || iterations > MAX_PBKDF2_ITERATIONS {
                return Err(format!(
                    "passphrase slot has an implausible iteration count {iterations}"
                ));
            }
            let params = KdfParams::new(body[5..5 + salt_len].to_vec(), iterations)
                .map_err(|e| e.to_string())?;
            Ok(SlotKind::Passphrase(params))
        }
        TYPE_KEY_FILE => {
            if body.len() != 8 + WRAP_NONCE_LEN + WRAPPED_LEN {
                return Err("key-file slot has a bad length".into());
            }
            let mut key_id = [0u8; 8];
            key_id.copy_from_slice(&body[..8]);
            Ok(SlotKind::KeyFile { key_id })
        }
        type_code => Ok(SlotKind::Unknown { type_code }),
    }
}

/// Finds a slot that one of `keys` opens and returns the data key.
///
/// # Errors
/// [`ErrorKind::WrongKey`] if none opens (or no key was given).
pub(crate) async fn open_slots(
    slots: &[RawSlot],
    keys: &KeySource,
    core_digest: &[u8; 32],
) -> Result<DataKey> {
    // Key files first: they cost one AES operation, passphrases cost a KDF.
    for slot in slots {
        if let SlotKind::KeyFile { key_id } = &slot.kind {
            for key in keys.key_files().iter().filter(|k| k.key_id() == *key_id) {
                if let Some(dk) = unwrap(slot, key.as_bytes(), core_digest) {
                    return Ok(dk);
                }
            }
        }
    }
    for slot in slots {
        if let SlotKind::Passphrase(params) = &slot.kind {
            if let Some(dk) = open_passphrase_slot(slot, params, keys, core_digest).await? {
                return Ok(dk);
            }
        }
    }
    Err(no_slot_opens(slots, keys))
}

/// Tries the cached keys for `params`, then derives from each passphrase.
async fn open_passphrase_slot(
    slot: &RawSlot,
    params: &KdfParams,
    keys: &KeySource,
    core_digest: &[u8; 32],
) -> Result<Option<DataKey>> {
    for key in keys.derived_for(params) {
        if let Some(dk) = unwrap(slot, key.kek(), core_digest) {
            return Ok(Some(dk));
        }
    }
    for passphrase in keys.passphrases() {
        let key = PassphraseKey::derive_async(passphrase, params.clone()).await?;
        let opened = unwrap(slot, key.kek(), core_digest);
        keys.remember(key);
        if opened.is_some() {
            return Ok(opened);
        }
    }
    Ok(None)
}

fn no_slot_opens(slots: &[RawSlot], keys: &KeySource) -> Error {
    let kinds: Vec<String> = slots.iter().map(|s| s.kind.to_string()).collect();
    let message = if keys.is_empty() {
        format!(
            "the archive is encrypted: give a passphrase or key file (key slots: {})",
            kinds.join(", ")
        )
    } else {
        format!(
            "wrong passphrase or key: none of the archive's {} key slots ({}) opens with the given keys",
            slots.len(),
            kinds.join(", ")
        )
    };
    Error::new(ErrorKind::WrongKey, message)
}

fn unwrap(slot: &RawSlot, kek: &[u8; 32], core_digest: &[u8; 32]) -> Option<DataKey> {
    let split = slot.bytes.len() - WRAPPED_LEN;
    let (prefix, wrapped) = slot.bytes.split_at(split);
    let nonce: [u8; WRAP_NONCE_LEN] = prefix[prefix.len() - WRAP_NONCE_LEN..].try_into().ok()?;
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&wrapped[..32]);
    let tag = aes_gcm::Tag::try_from(&wrapped[32..]).ok()?;
    Aes256Gcm::new(kek.into())
        .decrypt_inout_detached(
            &nonce.into(),
            &wrap_aad(core_digest, prefix),
            key.as_mut_slice().into(),
            &tag,
        )
        .ok()?;
    Some(DataKey::from_bytes(*key))
}

fn wrap_aad(core_digest: &[u8; 32], slot_prefix: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(32 + slot_prefix.len());
    aad.extend_from_slice(core_digest);
    aad.extend_from_slice(slot_prefix);
    aad
}
