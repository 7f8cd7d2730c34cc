//! The per-frame pipeline: hash the plaintext → compress → seal (encrypt or
//! checksum), and its inverse. Runs on tokio's blocking pool (see the writer and
//! reader), one frame at a time, so memory stays at a few frame sizes per segment.

use sha2::{Digest, Sha256};

use super::Compression;
use crate::crypto::{UnitPosition, UnitProtector};
use crate::{Error, Result};

/// Compression and protection settings of one archive.
#[derive(Debug)]
pub(crate) struct FrameCodec {
    pub protector: UnitProtector,
    pub compression: Compression,
}

/// State a segment carries from frame to frame while writing.
pub(crate) struct SealState {
    compressor: Option<zstd::bulk::Compressor<'static>>,
    pub hasher: Sha256,
}

/// State a segment carries from frame to frame while reading.
pub(crate) struct OpenState {
    decompressor: Option<zstd::bulk::Decompressor<'static>>,
    pub hasher: Sha256,
}

impl FrameCodec {
    /// Fresh per-segment state for writing.
    pub fn seal_state(&self) -> Result<SealState> {
        let compressor = match self.compression {
            Compression::None => None,
            Compression::Zstd { level } => {
                Some(zstd::bulk::Compressor::new(level).map_err(|e| {
                    Error::internal(format!("cannot create a zstd compressor: {e}"))
                })?)
            }
        };
        Ok(SealState {
            compressor,
            hasher: Sha256::new(),
        })
    }

    /// Fresh per-segment state for reading.
    pub fn open_state(&self) -> Result<OpenState> {
        let decompressor =
            match self.compression {
                Compression::None => None,
                Compression::Zstd { .. } => Some(zstd::bulk::Decompressor::new().map_err(|e| {
                    Error::internal(format!("cannot create a zstd decompressor: {e}"))
                })?),
            };
        Ok(OpenState {
            decompressor,
            hasher: Sha256::new(),
        })
    }

    /// Hashes `plain` into the segment's digest and returns the stored frame.
    pub fn seal_frame(
        &self,
        state: &mut SealState,
        pos: UnitPosition,
        plain: &[u8],
    ) -> Result<Vec<u8>> {
        state.hasher.update(plain);
        self.seal(state.compressor.as_mut(), pos, plain)
    }

    /// Compresses and seals one unit.
    pub fn seal(
        &self,
        compressor: Option<&mut zstd::bulk::Compressor<'static>>,
        pos: UnitPosition,
        plain: &[u8],
    ) -> Result<Vec<u8>> {
        let mut body = match compressor {
            None => plain.to_vec(),
            Some(c) => c
                .compress(plain)
                .map_err(|e| Error::internal(format!("zstd compression failed: {e}")))?,
        };
        self.protector.seal(pos, plain.len() as u64, &mut body);
        Ok(body)
    }

    /// Checks, decrypts and decompresses one stored frame, adding its plaintext to the
    /// segment's digest. The error is the reason, for the caller to place.
    pub fn open_frame(
        &self,
        state: &mut OpenState,
        pos: UnitPosition,
        plain_len: usize,
        stored: Vec<u8>,
    ) -> std::result::Result<Vec<u8>, String> {
        let plain = self.open(state.decompressor.as_mut(), pos, plain_len, stored)?;
        state.hasher.update(&plain);
        Ok(plain)
    }

    /// Checks, decrypts and decompresses one unit of `plain_len` plaintext bytes.
    pub fn open(
        &self,
        decompressor: Option<&mut zstd::bulk::Decompressor<'static>>,
        pos: UnitPosition,
        plain_len: usize,
        mut stored: Vec<u8>,
    ) -> std::result::Result<Vec<u8>, String> {
        self.protector
            .open(pos, plain_len as u64, &mut stored)
            .map_err(|_| {
                if self.protector.encrypted() {
                    "failed authentication (corrupt, tampered, reordered, or from another archive)"
                } else {
                    "checksum mismatch (corrupt, reordered, or from another archive)"
                }
                .to_string()
            })?;
        let plain = match decompressor {
            None => stored,
            // Capacity is the exact expected size, so a bad frame cannot make us
            // allocate more than one frame.
            Some(d) => d
                .decompress(&stored, plain_len)
                .map_err(|e| format!("zstd decompression failed: {e}"))?,
        };
        if plain.len() != plain_len {
            return Err(format!(
                "holds {} plaintext bytes, the index says {plain_len}",
                plain.len()
            ));
        }
        Ok(plain)
    }
}
