//! RSA for TR-34: public keys (verification, OAEP encryption) and the private-key trait.
//!
//! Private-key operations (OAEP decryption on the KRD, PKCS #1 v1.5 signing on the KDH) run
//! behind [`RsaPrivateKey`], so that a key can live in a token. The software implementation,
//! [`SoftwareRsaKey`] (feature `aws-lc`), runs on aws-lc-rs, which is constant time. The
//! RustCrypto `rsa` crate is used for public-key operations only: it is affected by the Marvin
//! timing attack (RUSTSEC-2023-0071) on private-key operations, which it never performs here.
//!
//! Keys are RSA-2048, RSA-3072 or RSA-4096 with an odd public exponent of at least 65537.

#[cfg(feature = "aws-lc")]
mod aws_lc;
mod public;

#[cfg(feature = "aws-lc")]
pub use aws_lc::SoftwareRsaKey;
pub use public::{RsaPublicKey, SignatureHash};
pub(crate) use public::{algorithm_with_null, null_or_absent};

use alloc::vec::Vec;

use payhsm_core::secret::SecretVec;

use crate::Error;

/// The hash of RSAES-OAEP and its MGF1 mask (always the same hash, with an empty label).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OaepHash {
    /// SHA-256 with MGF1-SHA-256: what TR-34 and AWS Payment Cryptography use.
    Sha256,
    /// SHA-1 with MGF1-SHA-1: accepted by TR-34 import only when explicitly allowed.
    Sha1,
    /// SHA-512 with MGF1-SHA-512 (the service's `RSA_OAEP_SHA_512` key cryptograms).
    Sha512,
}

impl OaepHash {
    /// The hash's output length in bytes.
    pub const fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
}

/// An RSA encryption scheme (RFC 8017 §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EncryptionPadding {
    /// RSAES-PKCS1-v1_5.
    Pkcs1,
    /// RSAES-OAEP with an empty label.
    Oaep(OaepHash),
}

impl EncryptionPadding {
    /// The longest message a key of `modulus_len` bytes encrypts with this scheme.
    pub const fn max_message_len(self, modulus_len: usize) -> usize {
        match self {
            Self::Pkcs1 => modulus_len.saturating_sub(11),
            Self::Oaep(hash) => modulus_len.saturating_sub(2 * hash.output_len() + 2),
        }
    }
}

/// The RSA key sizes payhsm accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RsaKeySize {
    /// 2048-bit modulus (112-bit strength): carries TDES keys.
    Rsa2048,
    /// 3072-bit modulus (128-bit strength): carries keys up to AES-128.
    Rsa3072,
    /// 4096-bit modulus.
    Rsa4096,
}

impl RsaKeySize {
    /// The modulus length in bits.
    pub const fn bits(self) -> usize {
        match self {
            Self::Rsa2048 => 2048,
            Self::Rsa3072 => 3072,
            Self::Rsa4096 => 4096,
        }
    }

    /// The size of a modulus of `bits` bits, if payhsm accepts it.
    pub fn from_bits(bits: usize) -> Result<Self, Error> {
        match bits {
            2048 => Ok(Self::Rsa2048),
            3072 => Ok(Self::Rsa3072),
            4096 => Ok(Self::Rsa4096),
            _ => Err(Error::KeyRejected {
                reason: "the modulus must be 2048, 3072 or 4096 bits",
            }),
        }
    }

    /// The AWS Payment Cryptography algorithm name (`RSA_2048`, …).
    pub const fn key_algorithm(self) -> payhsm_core::key::KeyAlgorithm {
        use payhsm_core::key::KeyAlgorithm;
        match self {
            Self::Rsa2048 => KeyAlgorithm::Rsa2048,
            Self::Rsa3072 => KeyAlgorithm::Rsa3072,
            Self::Rsa4096 => KeyAlgorithm::Rsa4096,
        }
    }
}

/// An RSA private key that can decrypt and sign but never shows its private part.
///
/// Implementations must be constant time (no Marvin-style timing leak) and must report every
/// decryption failure as the same [`Error::DecryptionFailed`]. A backend that lacks a
/// mechanism says so with [`Error::NotSupported`].
pub trait RsaPrivateKey {
    /// The public half.
    fn public_key(&self) -> &RsaPublicKey;

    /// RSAES-OAEP decryption with an empty label.
    ///
    /// Every failure (bad padding, wrong length, wrong key) is [`Error::DecryptionFailed`].
    fn decrypt_oaep(&self, hash: OaepHash, ciphertext: &[u8]) -> Result<SecretVec, Error>;

    /// RSAES-PKCS1-v1_5 decryption.
    ///
    /// Every failure is [`Error::DecryptionFailed`]; the padding check is constant time.
    fn decrypt_pkcs1(&self, ciphertext: &[u8]) -> Result<SecretVec, Error>;

    /// An RSASSA-PKCS1-v1_5 signature with `hash` over `message` (which the implementation
    /// hashes).
    fn sign_pkcs1(&self, hash: SignatureHash, message: &[u8]) -> Result<Vec<u8>, Error>;

    /// An RSASSA-PKCS1-v1_5 signature with SHA-256 over `message`.
    fn sign_pkcs1_sha256(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        self.sign_pkcs1(SignatureHash::Sha256, message)
    }
}

impl<K: RsaPrivateKey + ?Sized> RsaPrivateKey for &K {
    fn public_key(&self) -> &RsaPublicKey {
        (**self).public_key()
    }

    fn decrypt_oaep(&self, hash: OaepHash, ciphertext: &[u8]) -> Result<SecretVec, Error> {
        (**self).decrypt_oaep(hash, ciphertext)
    }

    fn decrypt_pkcs1(&self, ciphertext: &[u8]) -> Result<SecretVec, Error> {
        (**self).decrypt_pkcs1(ciphertext)
    }

    fn sign_pkcs1(&self, hash: SignatureHash, message: &[u8]) -> Result<Vec<u8>, Error> {
        (**self).sign_pkcs1(hash, message)
    }
}
