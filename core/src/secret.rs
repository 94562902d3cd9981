//! Secret bytes: keys, key components, clear PINs.
//!
//! Secret types zeroize on drop, print `[REDACTED]` in `Debug`, implement neither `Clone` nor
//! `Display`, and hand out their bytes only through an explicit `expose_secret`. Fixed-capacity
//! storage keeps them off the heap, so no reallocation leaves a copy behind.

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::Error;

/// The largest symmetric key payhsm holds in fixed storage (an HMAC-SHA512 key of one block).
pub const MAX_KEY_LEN: usize = 128;

/// Up to `N` secret bytes in fixed storage.
pub struct SecretBuf<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

/// Symmetric key material: TDES, AES and HMAC keys.
pub type KeyMaterial = SecretBuf<MAX_KEY_LEN>;

impl<const N: usize> SecretBuf<N> {
    /// Copies `bytes` into a new secret. The caller remains responsible for its own copy.
    pub fn from_slice(field: &'static str, bytes: &[u8]) -> Result<Self, Error> {
        let mut s = Self::zeroed(field, bytes.len())?;
        s.bytes[..bytes.len()].copy_from_slice(bytes);
        Ok(s)
    }

    /// A secret of `len` zero bytes, to be filled in place through [`Self::expose_secret_mut`].
    pub fn zeroed(field: &'static str, len: usize) -> Result<Self, Error> {
        if len > N {
            return Err(Error::InvalidLength {
                field,
                expected: "no more than the secret's capacity",
                actual: len,
            });
        }
        Ok(Self { bytes: [0; N], len })
    }

    /// Decodes a secret from hex text.
    pub fn from_hex(field: &'static str, text: &str) -> Result<Self, Error> {
        if !text.len().is_multiple_of(2) {
            return Err(Error::InvalidLength {
                field,
                expected: "an even number of hex digits",
                actual: text.len(),
            });
        }
        let mut s = Self::zeroed(field, text.len() / 2)?;
        crate::hex::decode_into(field, text.as_bytes(), s.expose_secret_mut())?;
        Ok(s)
    }

    /// The secret bytes. Every call site is a place where the secret leaves its type.
    pub fn expose_secret(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The secret bytes, writable in place.
    pub fn expose_secret_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[..self.len]
    }

    /// The number of bytes held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no bytes are held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A new secret holding the same bytes: an explicit copy, never an implicit `Clone`.
    pub fn duplicate(&self) -> Self {
        let mut s = Self {
            bytes: [0; N],
            len: self.len,
        };
        s.bytes[..self.len].copy_from_slice(self.expose_secret());
        s
    }
}

impl<const N: usize> ConstantTimeEq for SecretBuf<N> {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        // Lengths are public; contents are compared in constant time.
        self.expose_secret().ct_eq(other.expose_secret())
    }
}

impl<const N: usize> Drop for SecretBuf<N> {
    #[inline(never)]
    fn drop(&mut self) {
        self.bytes.zeroize();
        self.len = 0;
    }
}

impl<const N: usize> ZeroizeOnDrop for SecretBuf<N> {}

impl<const N: usize> fmt::Debug for SecretBuf<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBuf([REDACTED; {} bytes])", self.len)
    }
}

/// Secret bytes of any length on the heap (private keys, decrypted key-block payloads).
///
/// The capacity is reserved up front and never grows, so zeroizing on drop reaches every byte.
#[cfg(feature = "alloc")]
pub struct SecretVec(alloc::vec::Vec<u8>);

#[cfg(feature = "alloc")]
impl SecretVec {
    /// `len` zero bytes, to be filled in place.
    pub fn zeroed(len: usize) -> Self {
        Self(alloc::vec![0; len])
    }

    /// Copies `bytes` into a new secret.
    pub fn from_slice(bytes: &[u8]) -> Self {
        let mut s = Self::zeroed(bytes.len());
        s.0.copy_from_slice(bytes);
        s
    }

    /// The secret bytes.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// The secret bytes, writable in place.
    pub fn expose_secret_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }

    /// Shortens the secret to `len` bytes, zeroizing the cut-off tail.
    pub fn truncate(&mut self, len: usize) {
        if len < self.0.len() {
            self.0[len..].zeroize();
            self.0.truncate(len);
        }
    }

    /// The number of bytes held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no bytes are held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(feature = "alloc")]
impl Drop for SecretVec {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(feature = "alloc")]
impl ZeroizeOnDrop for SecretVec {}

#[cfg(feature = "alloc")]
impl fmt::Debug for SecretVec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretVec([REDACTED; {} bytes])", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn debug_redacts() {
        let k = KeyMaterial::from_hex("key", "0123456789ABCDEF").unwrap();
        let shown = format!("{k:?}");
        assert_eq!(shown, "SecretBuf([REDACTED; 8 bytes])");
        assert!(!shown.contains("01"));
        let v = SecretVec::from_slice(&[0xAB; 4]);
        assert_eq!(format!("{v:?}"), "SecretVec([REDACTED; 4 bytes])");
    }

    #[test]
    fn capacity_is_enforced() {
        assert!(SecretBuf::<4>::from_slice("pin", &[0; 5]).is_err());
        assert_eq!(SecretBuf::<4>::from_slice("pin", &[1, 2]).unwrap().len(), 2);
    }

    #[test]
    fn constant_time_eq_compares_contents_and_length() {
        let a = KeyMaterial::from_slice("a", &[1, 2, 3]).unwrap();
        let b = KeyMaterial::from_slice("b", &[1, 2, 3]).unwrap();
        let c = KeyMaterial::from_slice("c", &[1, 2, 4]).unwrap();
        let d = KeyMaterial::from_slice("d", &[1, 2]).unwrap();
        assert!(bool::from(a.ct_eq(&b)));
        assert!(!bool::from(a.ct_eq(&c)));
        assert!(!bool::from(a.ct_eq(&d)));
    }

    #[test]
    fn truncate_keeps_prefix() {
        let mut v = SecretVec::from_slice(&[1, 2, 3, 4]);
        v.truncate(2);
        assert_eq!(v.expose_secret(), &[1, 2]);
    }
}
