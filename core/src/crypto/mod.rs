//! Key handles: the operations every payment algorithm is built from.
//!
//! [`SymmetricKey`] is the trait a key must offer. Algorithms (KCV, TR-31, PIN, CVV, MAC,
//! DUKPT, EMV) take `&dyn SymmetricKey` or `&impl SymmetricKey` and never see key bytes, so a
//! token-held key (PKCS#11) runs the same code as [`SoftwareKey`], which keeps the RustCrypto
//! key schedule and so expands a key once however often it is used.

pub(crate) mod des;
mod software;
pub mod tdes;

pub use software::SoftwareKey;

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::{Error, key::KeyAlgorithm};

/// The block ciphers of payment cryptography.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlockCipher {
    /// Triple DES (TDEA), 8-byte blocks.
    Tdes,
    /// AES, 16-byte blocks.
    Aes,
}

impl BlockCipher {
    /// Block length in bytes.
    pub const fn block_len(self) -> usize {
        match self {
            Self::Tdes => 8,
            Self::Aes => 16,
        }
    }

    /// The block cipher of a key algorithm, if it has one.
    pub fn of(algorithm: KeyAlgorithm) -> Result<Self, Error> {
        match algorithm {
            KeyAlgorithm::Tdes2Key | KeyAlgorithm::Tdes3Key => Ok(Self::Tdes),
            KeyAlgorithm::Aes128 | KeyAlgorithm::Aes192 | KeyAlgorithm::Aes256 => Ok(Self::Aes),
            _ => Err(Error::UnsupportedOperation {
                operation: "block encryption",
                reason: "the key is not a TDES or AES key",
            }),
        }
    }
}

/// The largest tag: an HMAC-SHA512 output.
pub const MAX_TAG_LEN: usize = 64;

/// A MAC or keyed-hash output, zeroized on drop.
///
/// Tags computed over key-dependent constants (such as the CMAC of a zero block behind a KCV)
/// must not leave in full, so a tag is only shown after [`Tag::truncate`].
pub struct Tag {
    bytes: [u8; MAX_TAG_LEN],
    len: usize,
}

impl Tag {
    /// A tag holding `bytes` (at most [`MAX_TAG_LEN`]).
    pub fn new(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_TAG_LEN {
            return Err(Error::InvalidLength {
                field: "tag",
                expected: "at most 64 bytes",
                actual: bytes.len(),
            });
        }
        let mut t = Self {
            bytes: [0; MAX_TAG_LEN],
            len: bytes.len(),
        };
        t.bytes[..bytes.len()].copy_from_slice(bytes);
        Ok(t)
    }

    /// The tag bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Keeps the leftmost `len` bytes.
    pub fn truncate(&mut self, len: usize) -> Result<(), Error> {
        if len == 0 || len > self.len {
            return Err(Error::InvalidLength {
                field: "tag length",
                expected: "between 1 and the full tag length",
                actual: len,
            });
        }
        self.bytes[len..].zeroize();
        self.len = len;
        Ok(())
    }

    /// Checks `expected` against the leftmost bytes of this tag in constant time. A length of
    /// zero or longer than the tag fails like a mismatch.
    pub fn verify_truncated(&self, expected: &[u8]) -> Result<(), Error> {
        let ok = !expected.is_empty()
            && expected.len() <= self.len
            && bool::from(self.bytes[..expected.len()].ct_eq(expected));
        if ok {
            Ok(())
        } else {
            Err(Error::VerificationFailed)
        }
    }
}

impl Drop for Tag {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag([{} bytes])", self.len)
    }
}

/// A symmetric key that can be used but not read: the handle every algorithm runs on.
///
/// Required methods are the primitives a backend must provide; provided methods are built
/// from them and may be overridden by a backend with a native mechanism.
pub trait SymmetricKey {
    /// The key's algorithm and size.
    fn key_algorithm(&self) -> KeyAlgorithm;

    /// Encrypts whole blocks in place, each on its own (ECB).
    fn encrypt_ecb(&self, data: &mut [u8]) -> Result<(), Error>;

    /// Decrypts whole blocks in place, each on its own (ECB).
    fn decrypt_ecb(&self, data: &mut [u8]) -> Result<(), Error>;

    /// CMAC (NIST SP 800-38B) of `message`, full block length.
    fn cmac(&self, message: &[u8]) -> Result<Tag, Error>;

    /// HMAC of `message` with the key's hash. Only HMAC keys support it.
    fn hmac(&self, message: &[u8]) -> Result<Tag, Error>;

    /// ISO 9797-1 MAC algorithm 3 (the retail MAC, ANSI X9.19) over an already padded
    /// message given as consecutive `parts`: CBC under single-DES K1, the final block under the
    /// whole TDES key. TDES keys only; the parts together must be whole 8-byte blocks.
    ///
    /// A key handle cannot hand out its halves, so this lives on the handle; the Visa CVV and
    /// the CVC3 IV are built on it. Taking parts lets callers add padding without allocating.
    /// A backend without the mechanism keeps this default, which says so (design decision 1).
    fn retail_mac(&self, parts: &[&[u8]]) -> Result<Tag, Error> {
        let _ = parts;
        Err(Error::UnsupportedOperation {
            operation: "ISO 9797-1 MAC algorithm 3",
            reason: "this key handle's backend does not offer the retail MAC",
        })
    }

    /// The key's block cipher.
    fn block_cipher(&self) -> Result<BlockCipher, Error> {
        BlockCipher::of(self.key_algorithm())
    }

    /// Encrypts whole blocks in place in CBC mode.
    fn encrypt_cbc(&self, iv: &[u8], data: &mut [u8]) -> Result<(), Error> {
        let n = check_blocks(self.block_cipher()?, iv, data)?;
        let mut chain = [0u8; 16];
        chain[..n].copy_from_slice(iv);
        for block in data.chunks_exact_mut(n) {
            block.iter_mut().zip(&chain[..n]).for_each(|(b, c)| *b ^= c);
            self.encrypt_ecb(block)?;
            chain[..n].copy_from_slice(block);
        }
        Ok(())
    }

    /// Decrypts whole blocks in place in CBC mode.
    fn decrypt_cbc(&self, iv: &[u8], data: &mut [u8]) -> Result<(), Error> {
        let n = check_blocks(self.block_cipher()?, iv, data)?;
        let mut chain = [0u8; 16];
        let mut next = [0u8; 16];
        chain[..n].copy_from_slice(iv);
        for block in data.chunks_exact_mut(n) {
            next[..n].copy_from_slice(block);
            self.decrypt_ecb(block)?;
            block.iter_mut().zip(&chain[..n]).for_each(|(b, c)| *b ^= c);
            chain[..n].copy_from_slice(&next[..n]);
        }
        chain.zeroize();
        next.zeroize();
        Ok(())
    }
}

macro_rules! forward_symmetric_key {
    ($($ty:ty),*) => {$(
        impl<T: SymmetricKey + ?Sized> SymmetricKey for $ty {
            fn key_algorithm(&self) -> KeyAlgorithm {
                (**self).key_algorithm()
            }
            fn encrypt_ecb(&self, data: &mut [u8]) -> Result<(), Error> {
                (**self).encrypt_ecb(data)
            }
            fn decrypt_ecb(&self, data: &mut [u8]) -> Result<(), Error> {
                (**self).decrypt_ecb(data)
            }
            fn cmac(&self, message: &[u8]) -> Result<Tag, Error> {
                (**self).cmac(message)
            }
            fn hmac(&self, message: &[u8]) -> Result<Tag, Error> {
                (**self).hmac(message)
            }
            fn retail_mac(&self, parts: &[&[u8]]) -> Result<Tag, Error> {
                (**self).retail_mac(parts)
            }
            fn encrypt_cbc(&self, iv: &[u8], data: &mut [u8]) -> Result<(), Error> {
                (**self).encrypt_cbc(iv, data)
            }
            fn decrypt_cbc(&self, iv: &[u8], data: &mut [u8]) -> Result<(), Error> {
                (**self).decrypt_cbc(iv, data)
            }
        }
    )*};
}

// Handles are shared (a store hands out `Arc`s) and borrowed; both forward to the key, so a
// backend's native overrides stay in effect.
forward_symmetric_key!(&T);
#[cfg(feature = "alloc")]
forward_symmetric_key!(alloc::sync::Arc<T>, alloc::boxed::Box<T>);

/// Checks an IV and a buffer against the cipher's block length; returns the block length.
pub(crate) fn check_blocks(cipher: BlockCipher, iv: &[u8], data: &[u8]) -> Result<usize, Error> {
    let n = cipher.block_len();
    if iv.len() != n {
        return Err(Error::InvalidLength {
            field: "IV",
            expected: "one cipher block",
            actual: iv.len(),
        });
    }
    check_whole_blocks(cipher, data)?;
    Ok(n)
}

/// Checks that `data` is a whole number of cipher blocks.
pub(crate) fn check_whole_blocks(cipher: BlockCipher, data: &[u8]) -> Result<(), Error> {
    if !data.len().is_multiple_of(cipher.block_len()) {
        return Err(Error::InvalidLength {
            field: "data",
            expected: "a whole number of cipher blocks",
            actual: data.len(),
        });
    }
    Ok(())
}
