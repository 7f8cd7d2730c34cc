//! Key material: data keys, passphrases, key files, derived passphrase keys, and the
//! set of keys a reader tries ([`KeySource`]).
//!
//! Every type here zeroizes its secret bytes on drop and redacts them in `Debug`.

use std::fmt;
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::{from_hex, random_bytes, to_hex};
use crate::{Error, Result};

/// PBKDF2-HMAC-SHA256 iterations of a new passphrase slot unless told otherwise
/// (OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256).
pub const DEFAULT_PBKDF2_ITERATIONS: u32 = 600_000;

/// First line of a key file (see [`KeyFileKey::to_file_text`]).
pub const KEY_FILE_HEADER: &str = "pgbm-key-file v1";

/// Shortest KDF salt accepted (bytes).
pub(crate) const MIN_SALT_LEN: usize = 16;
/// Longest KDF salt accepted (bytes); the slot format stores its length in one byte.
pub(crate) const MAX_SALT_LEN: usize = 64;
/// Iteration counts above this are refused when reading, so that a tampered header
/// cannot make opening an archive spin for hours.
pub(crate) const MAX_PBKDF2_ITERATIONS: u32 = 50_000_000;

/// The random 256-bit key that encrypts one archive's frames and footer.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; 32]);

impl DataKey {
    /// A fresh key from the operating system's CSPRNG.
    ///
    /// # Errors
    /// [`ErrorKind::Internal`](crate::ErrorKind::Internal) if the OS generator fails.
    pub fn generate() -> Result<Self> {
        let mut key = [0u8; 32];
        random_bytes(&mut key)?;
        Ok(DataKey(key))
    }

    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Self {
        DataKey(bytes)
    }

    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(**redacted**)")
    }
}

/// A passphrase, used exactly as given (its UTF-8 bytes; no normalisation, no
/// trimming: a front end reading it from a file strips the final newline itself).
#[derive(Clone)]
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Wraps a passphrase.
    pub fn new(passphrase: impl Into<String>) -> Self {
        Passphrase(Zeroizing::new(passphrase.into()))
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(**redacted**)")
    }
}

/// A 256-bit key kept in a key file.
///
/// The file is text: the line [`KEY_FILE_HEADER`], optional `#` comment lines, and one
/// line of 64 hex digits (the key). Blank lines and surrounding whitespace are
/// ignored. [`KeyFileKey::to_file_text`] writes that format; the CLI stores it with
/// mode 0600.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct KeyFileKey([u8; 32]);

impl KeyFileKey {
    /// A fresh random key.
    ///
    /// # Errors
    /// [`ErrorKind::Internal`](crate::ErrorKind::Internal) if the OS generator fails.
    pub fn generate() -> Result<Self> {
        let mut key = [0u8; 32];
        random_bytes(&mut key)?;
        Ok(KeyFileKey(key))
    }

    /// A key from its 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        KeyFileKey(bytes)
    }

    /// Parses the text of a key file.
    ///
    /// # Errors
    /// [`ErrorKind::Usage`](crate::ErrorKind::Usage) if the text is not a pgbm key file;
    /// the message never quotes the file's content.
    pub fn parse(text: &str) -> Result<Self> {
        let mut lines = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'));
        if lines.next() != Some(KEY_FILE_HEADER) {
            return Err(Error::usage(format!(
                "not a pgbm key file: the first line must be \"{KEY_FILE_HEADER}\""
            )));
        }
        let key_line = lines
            .next()
            .ok_or_else(|| Error::usage("pgbm key file holds no key line"))?;
        let key = Zeroizing::new(from_hex::<32>(key_line).ok_or_else(|| {
            Error::usage("pgbm key file: the key line must be exactly 64 hex digits")
        })?);
        if lines.next().is_some() {
            return Err(Error::usage(
                "pgbm key file: unexpected text after the key line",
            ));
        }
        Ok(KeyFileKey(*key))
    }

    /// The key file text for this key (header, a comment with the key id, the key).
    pub fn to_file_text(&self) -> Zeroizing<String> {
        let hex = Zeroizing::new(to_hex(&self.0));
        Zeroizing::new(format!(
            "{KEY_FILE_HEADER}\n\
             # key id {}. Anyone holding this file can decrypt the backups made with it:\n\
             # keep it secret, and keep a copy away from the backups.\n\
             {}\n",
            self.key_id_hex(),
            hex.as_str()
        ))
    }

    /// The 8-byte public identifier of this key, stored in key-file slots so a reader
    /// knows which key an archive needs: `SHA-256("pgbm key id v1" || key)[0..8]`.
    pub fn key_id(&self) -> [u8; 8] {
        let digest = Sha256::new()
            .chain_update(b"pgbm key id v1")
            .chain_update(self.0)
            .finalize();
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        id
    }

    /// [`key_id`](Self::key_id) as 16 hex digits.
    pub fn key_id_hex(&self) -> String {
        to_hex(&self.key_id())
    }

    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for KeyFileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFileKey")
            .field("key_id", &self.key_id_hex())
            .finish_non_exhaustive()
    }
}

/// Generates a new key file: returns its text (see [`KeyFileKey`] for the format).
/// The caller writes it with mode 0600.
///
/// # Errors
/// [`ErrorKind::Internal`](crate::ErrorKind::Internal) if the OS generator fails.
pub fn generate_key_file() -> Result<Zeroizing<String>> {
    Ok(KeyFileKey::generate()?.to_file_text())
}

/// Parameters of PBKDF2-HMAC-SHA256 for a passphrase slot.
///
/// The salt may be shared by the archives of one repository so that a reader who
/// derived the key once can open all of them (see [`KeySource::with_derived`]); each
/// archive still stores its own copy and opens on its own.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KdfParams {
    salt: Vec<u8>,
    iterations: u32,
}

impl KdfParams {
    /// Given salt (16 to 64 bytes) and iteration count (at least 1; use
    /// [`DEFAULT_PBKDF2_ITERATIONS`] outside tests).
    ///
    /// # Errors
    /// [`ErrorKind::Usage`](crate::ErrorKind::Usage) if the salt length or the count is
    /// out of range.
    pub fn new(salt: Vec<u8>, iterations: u32) -> Result<Self> {
        if !(MIN_SALT_LEN..=MAX_SALT_LEN).contains(&salt.len()) {
            return Err(Error::usage(format!(
                "KDF salt must be {MIN_SALT_LEN} to {MAX_SALT_LEN} bytes, not {}",
                salt.len()
            )));
        }
        if iterations == 0 || iterations > MAX_PBKDF2_ITERATIONS {
            return Err(Error::usage(format!(
                "PBKDF2 iterations must be 1 to {MAX_PBKDF2_ITERATIONS}, not {iterations}"
            )));
        }
        Ok(KdfParams { salt, iterations })
    }

    /// A random 16-byte salt with [`DEFAULT_PBKDF2_ITERATIONS`].
    ///
    /// # Errors
    /// [`ErrorKind::Internal`](crate::ErrorKind::Internal) if the OS generator fails.
    pub fn random() -> Result<Self> {
        Self::random_with_iterations(DEFAULT_PBKDF2_ITERATIONS)
    }

    /// A random 16-byte salt with the given iteration count (tests use a low one).
    ///
    /// # Errors
    /// As [`KdfParams::new`], or if the OS generator fails.
    pub fn random_with_iterations(iterations: u32) -> Result<Self> {
        let mut salt = vec![0u8; MIN_SALT_LEN];
        random_bytes(&mut salt)?;
        Self::new(salt, iterations)
    }

    /// The salt.
    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    /// The iteration count.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }
}

/// A key-encryption key derived from a passphrase: PBKDF2-HMAC-SHA256(passphrase,
/// salt, iterations) → 32 bytes. Deriving is slow on purpose (≈0.3 s at 600,000
/// iterations); keep the result to open many archives that share the salt.
#[derive(Clone)]
pub struct PassphraseKey {
    params: KdfParams,
    kek: Zeroizing<[u8; 32]>,
}

impl PassphraseKey {
    /// Derives the key, blocking the calling thread for the whole KDF (use
    /// [`derive_async`](Self::derive_async) from async code).
    pub fn derive(passphrase: &Passphrase, params: KdfParams) -> Self {
        let mut kek = Zeroizing::new([0u8; 32]);
        pbkdf2::pbkdf2_hmac::<Sha256>(
            passphrase.as_bytes(),
            &params.salt,
            params.iterations,
            kek.as_mut_slice(),
        );
        PassphraseKey { params, kek }
    }

    /// Derives the key on tokio's blocking pool.
    ///
    /// # Errors
    /// [`ErrorKind::Internal`](crate::ErrorKind::Internal) if the blocking task panics.
    pub async fn derive_async(passphrase: &Passphrase, params: KdfParams) -> Result<Self> {
        let passphrase = passphrase.clone();
        tokio::task::spawn_blocking(move || Self::derive(&passphrase, params))
            .await
            .map_err(|e| Error::internal(format!("passphrase key derivation failed: {e}")))
    }

    /// The KDF parameters this key was derived with.
    pub fn params(&self) -> &KdfParams {
        &self.params
    }

    pub(crate) fn kek(&self) -> &[u8; 32] {
        &self.kek
    }
}

impl fmt::Debug for PassphraseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PassphraseKey")
            .field("params", &self.params)
            .field("kek", &"**redacted**")
            .finish()
    }
}

/// The keys a reader tries on an archive's key slots: passphrases, key files, and
/// already derived passphrase keys.
///
/// Passphrase keys derived while opening an archive are remembered here, so opening
/// many archives whose slots share a salt pays the KDF once.
#[derive(Default)]
pub struct KeySource {
    passphrases: Vec<Passphrase>,
    key_files: Vec<KeyFileKey>,
    derived: Mutex<Vec<PassphraseKey>>,
}

impl KeySource {
    /// No keys: opens unencrypted archives only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a passphrase to try on passphrase slots.
    #[must_use]
    pub fn with_passphrase(mut self, passphrase: Passphrase) -> Self {
        self.passphrases.push(passphrase);
        self
    }

    /// Adds a key file's key to try on key-file slots.
    #[must_use]
    pub fn with_key_file(mut self, key: KeyFileKey) -> Self {
        self.key_files.push(key);
        self
    }

    /// Adds an already derived passphrase key (e.g. cached for a repository's shared
    /// salt); tried on passphrase slots with the same salt and iteration count.
    #[must_use]
    pub fn with_derived(self, key: PassphraseKey) -> Self {
        self.remember(key);
        self
    }

    /// True if there is nothing to try.
    pub fn is_empty(&self) -> bool {
        self.passphrases.is_empty() && self.key_files.is_empty() && self.lock_derived().is_empty()
    }

    /// The passphrase keys derived or given so far (to cache them elsewhere).
    pub fn derived_keys(&self) -> Vec<PassphraseKey> {
        self.lock_derived().clone()
    }

    pub(crate) fn passphrases(&self) -> &[Passphrase] {
        &self.passphrases
    }

    pub(crate) fn key_files(&self) -> &[KeyFileKey] {
        &self.key_files
    }

    /// Derived keys whose parameters equal `params`.
    pub(crate) fn derived_for(&self, params: &KdfParams) -> Vec<PassphraseKey> {
        self.lock_derived()
            .iter()
            .filter(|k| k.params() == params)
            .cloned()
            .collect()
    }

    pub(crate) fn remember(&self, key: PassphraseKey) {
        let mut derived = self.lock_derived();
        let known = derived
            .iter()
            .any(|k| k.params == key.params && *k.kek == *key.kek);
        if !known {
            derived.push(key);
        }
    }

    fn lock_derived(&self) -> std::sync::MutexGuard<'_, Vec<PassphraseKey>> {
        // A panic while holding this lock cannot leave the list half-updated (push
        // is the only mutation), so a poisoned lock is still usable.
        self.derived
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySource")
            .field("passphrases", &self.passphrases.len())
            .field("key_files", &self.key_files)
            .field("derived", &self.lock_derived().len())
            .finish()
    }
}
