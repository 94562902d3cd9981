//! Keys held in process memory, on the RustCrypto block ciphers, CMAC and HMAC.

use core::fmt;

use aes::{Aes128, Aes192, Aes256};
use cipher::{
    Array, BlockCipherDecBackend, BlockCipherDecClosure, BlockCipherDecrypt, BlockCipherEncBackend,
    BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, KeyInit, ParBlocks, array::ArraySize,
};
use cmac::{Cmac, digest::InnerInit};
use hmac::{Hmac, Mac};
use sha2::{Sha224, Sha256, Sha384, Sha512};
use zeroize::Zeroize;

use super::{SymmetricKey, Tag, check_blocks, check_whole_blocks, des::Tdea};
use crate::{Error, key::KeyAlgorithm, secret::KeyMaterial};

/// A symmetric key in process memory with its expanded key schedule.
///
/// The schedule is computed once, in [`SoftwareKey::new`], and zeroized on drop by the
/// RustCrypto types. `Debug` names the algorithm only; there is no `Clone`.
pub struct SoftwareKey {
    algorithm: KeyAlgorithm,
    inner: Inner,
}

enum Inner {
    // Two- and three-key TDES; the retail MAC chains under K1's schedule alone.
    Tdes(Tdea),
    Aes128(Aes128),
    Aes192(Aes192),
    Aes256(Aes256),
    HmacSha224(Hmac<Sha224>),
    HmacSha256(Hmac<Sha256>),
    HmacSha384(Hmac<Sha384>),
    HmacSha512(Hmac<Sha512>),
}

impl SoftwareKey {
    /// Expands `key` for `algorithm`. TDES and AES keys must have the algorithm's exact length;
    /// HMAC keys may have any length from 14 bytes (112 bits) up.
    pub fn new(algorithm: KeyAlgorithm, key: &KeyMaterial) -> Result<Self, Error> {
        let k = key.expose_secret();
        let exact = |n: usize, expected: &'static str| {
            if k.len() == n {
                Ok(())
            } else {
                Err(Error::InvalidLength {
                    field: "key",
                    expected,
                    actual: k.len(),
                })
            }
        };
        let hmac_len = || {
            if k.len() >= 14 {
                Ok(())
            } else {
                Err(Error::InvalidLength {
                    field: "key",
                    expected: "at least 14 bytes for an HMAC key",
                    actual: k.len(),
                })
            }
        };
        let bad_len = |_| Error::InvalidLength {
            field: "key",
            expected: "a length the algorithm accepts",
            actual: k.len(),
        };
        let inner = match algorithm {
            KeyAlgorithm::Tdes2Key | KeyAlgorithm::Tdes3Key => {
                let (n, expected) = if algorithm == KeyAlgorithm::Tdes2Key {
                    (16, "16 bytes for TDES_2KEY")
                } else {
                    (24, "24 bytes for TDES_3KEY")
                };
                exact(n, expected)?;
                // Cannot fail: the length is checked.
                Inner::Tdes(Tdea::new(k).ok_or(Error::InvalidLength {
                    field: "key",
                    expected,
                    actual: k.len(),
                })?)
            }
            KeyAlgorithm::Aes128 => {
                exact(16, "16 bytes for AES_128")?;
                Inner::Aes128(Aes128::new_from_slice(k).map_err(bad_len)?)
            }
            KeyAlgorithm::Aes192 => {
                exact(24, "24 bytes for AES_192")?;
                Inner::Aes192(Aes192::new_from_slice(k).map_err(bad_len)?)
            }
            KeyAlgorithm::Aes256 => {
                exact(32, "32 bytes for AES_256")?;
                Inner::Aes256(Aes256::new_from_slice(k).map_err(bad_len)?)
            }
            KeyAlgorithm::HmacSha224 => {
                hmac_len()?;
                Inner::HmacSha224(KeyInit::new_from_slice(k).map_err(bad_len)?)
            }
            KeyAlgorithm::HmacSha256 => {
                hmac_len()?;
                Inner::HmacSha256(KeyInit::new_from_slice(k).map_err(bad_len)?)
            }
            KeyAlgorithm::HmacSha384 => {
                hmac_len()?;
                Inner::HmacSha384(KeyInit::new_from_slice(k).map_err(bad_len)?)
            }
            KeyAlgorithm::HmacSha512 => {
                hmac_len()?;
                Inner::HmacSha512(KeyInit::new_from_slice(k).map_err(bad_len)?)
            }
            _ => {
                return Err(Error::UnsupportedOperation {
                    operation: "software symmetric key",
                    reason: "the algorithm is asymmetric",
                });
            }
        };
        Ok(Self { algorithm, inner })
    }

    /// A key from hex text, for clear test keys.
    pub fn from_hex(algorithm: KeyAlgorithm, hex: &str) -> Result<Self, Error> {
        Self::new(algorithm, &KeyMaterial::from_hex("key", hex)?)
    }
}

impl fmt::Debug for SoftwareKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SoftwareKey({}, [REDACTED])", self.algorithm)
    }
}

/// `data` as whole cipher blocks (the callers have checked its length).
fn blocks<N: ArraySize>(data: &mut [u8]) -> &mut [Array<u8, N>] {
    Array::slice_as_chunks_mut(data).0
}

/// ECB through one call into the cipher's backend, which works on several blocks at once
/// where it can (AES-NI pipelines eight).
fn ecb<C: BlockCipherEncrypt + BlockCipherDecrypt>(
    c: &C,
    data: &mut [u8],
    encrypt: bool,
) -> Result<(), Error> {
    if encrypt {
        c.encrypt_blocks(blocks(data));
    } else {
        c.decrypt_blocks(blocks(data));
    }
    Ok(())
}

/// CBC encryption as one call into the cipher's backend: the chain is sequential, but no
/// block pays for a dispatch or a check of its own.
struct CbcEncrypt<'a, N: ArraySize> {
    chain: Array<u8, N>,
    data: &'a mut [u8],
}

impl<N: ArraySize> BlockSizeUser for CbcEncrypt<'_, N> {
    type BlockSize = N;
}

impl<N: ArraySize> BlockCipherEncClosure for CbcEncrypt<'_, N> {
    fn call<B: BlockCipherEncBackend<BlockSize = N>>(mut self, backend: &B) {
        for block in blocks::<N>(self.data) {
            block.iter_mut().zip(&self.chain).for_each(|(b, c)| *b ^= c);
            backend.encrypt_block_inplace(block);
            self.chain.copy_from_slice(block);
        }
        self.chain.zeroize();
    }
}

/// CBC decryption as one call into the cipher's backend, which decrypts as many blocks at
/// once as it can: unlike encryption, CBC decryption is parallel.
struct CbcDecrypt<'a, N: ArraySize> {
    chain: Array<u8, N>,
    data: &'a mut [u8],
}

impl<N: ArraySize> BlockSizeUser for CbcDecrypt<'_, N> {
    type BlockSize = N;
}

impl<N: ArraySize> BlockCipherDecClosure for CbcDecrypt<'_, N> {
    fn call<B: BlockCipherDecBackend<BlockSize = N>>(mut self, backend: &B) {
        let mut saved = ParBlocks::<B>::default();
        for group in blocks::<N>(self.data).chunks_mut(saved.len()) {
            let saved = &mut saved[..group.len()];
            saved.clone_from_slice(group);
            match <&mut ParBlocks<B>>::try_from(&mut *group) {
                Ok(par) => backend.decrypt_par_blocks_inplace(par),
                Err(_) => backend.decrypt_tail_blocks_inplace(group),
            }
            for (block, previous) in group
                .iter_mut()
                .zip(core::iter::once(&self.chain).chain(&*saved))
            {
                block.iter_mut().zip(previous).for_each(|(b, p)| *b ^= p);
            }
            if let Some(last) = saved.last() {
                self.chain.clone_from(last);
            }
        }
        saved.iter_mut().for_each(|b| b.zeroize());
        self.chain.zeroize();
    }
}

/// The IV as the cipher's block (the callers have checked its length).
fn iv<N: ArraySize>(iv: &[u8]) -> Array<u8, N> {
    let mut chain = Array::<u8, N>::default();
    chain.copy_from_slice(iv);
    chain
}

fn cmac<C>(c: &C, message: &[u8]) -> Result<Tag, Error>
where
    C: BlockCipherEncrypt,
    for<'a> &'a C: cmac::block_api::CmacCipher,
{
    // The CMAC state borrows the expanded schedule: the key is neither expanded nor copied.
    let mut mac = Cmac::<&C>::inner_init(c);
    mac.update(message);
    Tag::new(&mac.finalize().into_bytes())
}

/// ISO 9797-1 MAC algorithm 3: CBC under single-DES K1, the last block under the whole key
/// (for a two-key key that is `E_K1(D_K2(E_K1(x)))`, the standard's final iteration).
fn retail_mac(key: &Tdea, parts: &[&[u8]]) -> Result<Tag, Error> {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    if total == 0 || !total.is_multiple_of(8) {
        return Err(Error::InvalidLength {
            field: "padded message",
            expected: "a whole, non-zero number of 8-byte blocks",
            actual: total,
        });
    }
    let mut chain = [0u8; 8];
    let mut remaining = total;
    let mut fill = 0;
    for byte in parts.iter().flat_map(|p| p.iter()) {
        chain[fill] ^= byte;
        fill += 1;
        remaining -= 1;
        if fill == 8 {
            fill = 0;
            chain = if remaining == 0 {
                key.encrypt(chain)
            } else {
                key.encrypt_k1(chain)
            };
        }
    }
    let tag = Tag::new(&chain);
    chain.zeroize();
    tag
}

fn hmac<M: Mac + Clone>(m: &M, message: &[u8]) -> Result<Tag, Error> {
    let mut mac = m.clone();
    mac.update(message);
    Tag::new(&mac.finalize().into_bytes())
}

macro_rules! dispatch_block {
    ($self:ident, $c:ident => $e:expr) => {
        match &$self.inner {
            Inner::Tdes($c) => $e,
            Inner::Aes128($c) => $e,
            Inner::Aes192($c) => $e,
            Inner::Aes256($c) => $e,
            _ => Err(Error::UnsupportedOperation {
                operation: "block cipher operation",
                reason: "the key is an HMAC key",
            }),
        }
    };
}

impl SymmetricKey for SoftwareKey {
    fn key_algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    fn encrypt_ecb(&self, data: &mut [u8]) -> Result<(), Error> {
        check_whole_blocks(self.block_cipher()?, data)?;
        dispatch_block!(self, c => ecb(c, data, true))
    }

    fn decrypt_ecb(&self, data: &mut [u8]) -> Result<(), Error> {
        check_whole_blocks(self.block_cipher()?, data)?;
        dispatch_block!(self, c => ecb(c, data, false))
    }

    fn encrypt_cbc(&self, iv_bytes: &[u8], data: &mut [u8]) -> Result<(), Error> {
        check_blocks(self.block_cipher()?, iv_bytes, data)?;
        dispatch_block!(self, c => {
            c.encrypt_with_backend(CbcEncrypt { chain: iv(iv_bytes), data });
            Ok(())
        })
    }

    fn decrypt_cbc(&self, iv_bytes: &[u8], data: &mut [u8]) -> Result<(), Error> {
        check_blocks(self.block_cipher()?, iv_bytes, data)?;
        dispatch_block!(self, c => {
            c.decrypt_with_backend(CbcDecrypt { chain: iv(iv_bytes), data });
            Ok(())
        })
    }

    fn cmac(&self, message: &[u8]) -> Result<Tag, Error> {
        dispatch_block!(self, c => cmac(c, message))
    }

    fn retail_mac(&self, parts: &[&[u8]]) -> Result<Tag, Error> {
        match &self.inner {
            Inner::Tdes(key) => retail_mac(key, parts),
            _ => Err(Error::UnsupportedOperation {
                operation: "ISO 9797-1 MAC algorithm 3",
                reason: "the key is not a TDES key",
            }),
        }
    }

    fn hmac(&self, message: &[u8]) -> Result<Tag, Error> {
        match &self.inner {
            Inner::HmacSha224(m) => hmac(m, message),
            Inner::HmacSha256(m) => hmac(m, message),
            Inner::HmacSha384(m) => hmac(m, message),
            Inner::HmacSha512(m) => hmac(m, message),
            _ => Err(Error::UnsupportedOperation {
                operation: "HMAC",
                reason: "the key is not an HMAC key",
            }),
        }
    }
}
