//! Keys held in process memory: the RustCrypto AES and HMAC, payhsm's DES, and the modes
//! (ECB, CBC, CMAC, the retail MAC) run as one call into the cipher each.

use core::{
    fmt,
    sync::atomic::{AtomicBool, AtomicU32, Ordering},
};

use aes::{Aes128, Aes192, Aes256};
use cipher::{
    Array, BlockCipherDecBackend, BlockCipherDecClosure, BlockCipherDecrypt, BlockCipherEncBackend,
    BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, KeyInit, ParBlocks, array::ArraySize,
};
use hmac::{Hmac, Mac};
use sha2::{Sha224, Sha256, Sha384, Sha512};
use subtle::{Choice, ConditionallySelectable};
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
    cmac_subkey: CmacSubkey,
}

/// The CMAC subkey source `L = E_K(0)` (SP 800-38B 6.1), computed at the key's first CMAC and
/// kept, so that a CMAC costs only its message's blocks: recomputing it was a fifth of the
/// block encryptions of a TR-31 B unwrap. In atomics because handles are shared between
/// threads; two threads racing both compute, and store, the same value. Zeroized on drop.
#[derive(Default)]
struct CmacSubkey {
    words: [AtomicU32; 4],
    ready: AtomicBool,
}

impl CmacSubkey {
    /// `L`, computed by `encrypt_zero_block` the first time.
    fn get<N: ArraySize>(
        &self,
        encrypt_zero_block: impl FnOnce(&mut Array<u8, N>),
    ) -> Array<u8, N> {
        let mut l = Array::<u8, N>::default();
        let words = l.chunks_exact_mut(4).zip(&self.words);
        if self.ready.load(Ordering::Acquire) {
            words.for_each(|(bytes, w)| {
                bytes.copy_from_slice(&w.load(Ordering::Relaxed).to_ne_bytes())
            });
        } else {
            encrypt_zero_block(&mut l);
            for (bytes, w) in l.chunks_exact(4).zip(&self.words) {
                let mut word = [0u8; 4];
                word.copy_from_slice(bytes);
                w.store(u32::from_ne_bytes(word), Ordering::Relaxed);
            }
            self.ready.store(true, Ordering::Release);
        }
        l
    }
}

impl Drop for CmacSubkey {
    fn drop(&mut self) {
        self.words.iter_mut().for_each(|w| w.get_mut().zeroize());
    }
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
        Ok(Self {
            algorithm,
            inner,
            cmac_subkey: CmacSubkey::default(),
        })
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
            xor_in(&mut self.chain, block);
            backend.encrypt_block_inplace(&mut self.chain);
            block.clone_from(&self.chain);
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
                xor_in(block, previous);
            }
            if let Some(last) = saved.last() {
                self.chain.clone_from(last);
            }
        }
        saved.iter_mut().for_each(|b| b.zeroize());
        self.chain.zeroize();
    }
}

/// `a ^= b`, eight bytes at a time (both block sizes are multiples of eight): a byte loop
/// over a block in memory is neither vectorized nor store-forwarded to the cipher's load of
/// the block, which made CBC twice as slow.
fn xor_in<N: ArraySize>(a: &mut Array<u8, N>, b: &Array<u8, N>) {
    for (x, y) in a.chunks_exact_mut(8).zip(b.chunks_exact(8)) {
        if let (Ok(x), Ok(y)) = (<&mut [u8; 8]>::try_from(x), <&[u8; 8]>::try_from(y)) {
            *x = (u64::from_ne_bytes(*x) ^ u64::from_ne_bytes(*y)).to_ne_bytes();
        }
    }
}

/// The IV as the cipher's block (the callers have checked its length).
fn iv<N: ArraySize>(iv: &[u8]) -> Array<u8, N> {
    let mut chain = Array::<u8, N>::default();
    chain.copy_from_slice(iv);
    chain
}

/// CMAC (NIST SP 800-38B) as one call into the cipher's backend: the subkey, the CBC-MAC of
/// the message and its last block (complete, or padded with `10…0`), XORed with the subkey.
struct Cmac<'a, N: ArraySize> {
    /// `L = E_K(0)`.
    l: Array<u8, N>,
    message: &'a [u8],
    tag: &'a mut Array<u8, N>,
}

impl<N: ArraySize> BlockSizeUser for Cmac<'_, N> {
    type BlockSize = N;
}

impl<N: ArraySize> BlockCipherEncClosure for Cmac<'_, N> {
    fn call<B: BlockCipherEncBackend<BlockSize = N>>(mut self, backend: &B) {
        // K1 = dbl(L), K2 = dbl(K1) (SP 800-38B 6.1).
        let mut subkey = Array::<u8, N>::default();
        core::mem::swap(&mut subkey, &mut self.l);
        dbl(&mut subkey);
        let (mut body, rest) = Array::<u8, N>::slice_as_chunks(self.message);
        let mut last = Array::<u8, N>::default();
        match (body.split_last(), rest.len()) {
            (Some((complete, init)), 0) => {
                last.clone_from(complete);
                body = init;
            }
            (_, n) => {
                last[..n].copy_from_slice(rest);
                last[n] = 0x80;
                dbl(&mut subkey);
            }
        }
        xor_in(&mut last, &subkey);
        let state = &mut *self.tag;
        for block in body {
            xor_in(state, block);
            backend.encrypt_block_inplace(state);
        }
        xor_in(state, &last);
        backend.encrypt_block_inplace(state);
        subkey.zeroize();
        last.zeroize();
    }
}

/// Doubling in GF(2^64) or GF(2^128) (SP 800-38B 5.3: `R64 = 0x1B`, `R128 = 0x87`), in
/// constant time.
fn dbl<N: ArraySize>(block: &mut Array<u8, N>) {
    let carry = Choice::from(block[0] >> 7);
    for i in 0..N::USIZE - 1 {
        block[i] = (block[i] << 1) | (block[i + 1] >> 7);
    }
    let reduction = if N::USIZE == 8 { 0x1B } else { 0x87 };
    block[N::USIZE - 1] =
        (block[N::USIZE - 1] << 1) ^ u8::conditional_select(&0, &reduction, carry);
}

fn cmac<C: BlockCipherEncrypt>(c: &C, l: &CmacSubkey, message: &[u8]) -> Result<Tag, Error> {
    let mut out = Array::<u8, C::BlockSize>::default();
    c.encrypt_with_backend(Cmac {
        l: l.get(|zero| c.encrypt_block(zero)),
        message,
        tag: &mut out,
    });
    let tag = Tag::new(&out);
    out.zeroize();
    tag
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
    let mut mac = key.retail_mac(blocks_of(parts));
    let tag = Tag::new(&mac);
    mac.zeroize();
    tag
}

/// The 8-byte blocks of the concatenation of `parts` (whose length is a multiple of 8),
/// copied whole where a part holds a whole block.
fn blocks_of<'a>(parts: &'a [&'a [u8]]) -> impl Iterator<Item = [u8; 8]> + 'a {
    let mut parts = parts.iter().copied();
    let mut current: &[u8] = &[];
    core::iter::from_fn(move || {
        let mut block = [0u8; 8];
        let mut fill = 0;
        while fill < 8 {
            while current.is_empty() {
                current = parts.next()?;
            }
            let n = (8 - fill).min(current.len());
            let (head, rest) = current.split_at(n);
            block[fill..fill + n].copy_from_slice(head);
            current = rest;
            fill += n;
        }
        Some(block)
    })
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
        dispatch_block!(self, c => cmac(c, &self.cmac_subkey, message))
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
