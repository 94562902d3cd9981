//! Key check values (ANSI X9.24-1 Annex A; PCI PIN 15-1).
//!
//! A KCV identifies a key without revealing it. There are three methods:
//! - [`KcvMethod::AnsiX924`]: encrypt a zero block and keep at most 3 bytes. TDES only: AES
//!   must use CMAC, and a full encrypted zero block is never returned (it is a known
//!   plaintext/ciphertext pair for the key).
//! - [`KcvMethod::Cmac`]: CMAC of a zero block, at most 5 bytes (X9.143 KC/KP blocks use 5).
//! - [`KcvMethod::Hmac`]: for HMAC keys, the HMAC of the empty message, as AWS Payment
//!   Cryptography computes it, at most 3 bytes.
//! - [`KcvMethod::Sha1`]: for asymmetric keys, the start of the SHA-1 of the public key
//!   ([`public_key_kcv`]); it identifies a key pair or public key without any secret.
//!
//! AWS Payment Cryptography prints 3 bytes for every method, which is [`DEFAULT_KCV_LEN`].

use crate::names::service_enum;
use core::fmt;

use crate::{
    Error,
    crypto::{BlockCipher, SymmetricKey},
    hex::Hex,
    key::KeyAlgorithm,
};

/// The KCV length AWS Payment Cryptography prints.
pub const DEFAULT_KCV_LEN: usize = 3;

/// The KCV length of X9.143 KC and KP optional blocks for CMAC.
pub const X9_143_KCV_LEN: usize = 5;

service_enum! {
    /// How a KCV is computed (`KeyCheckValueAlgorithm`).
    pub enum KcvMethod("key check value algorithm") {
        /// Encrypt a zero block (ANSI X9.24-1 A.2, "legacy"). TDES only.
        AnsiX924 = "ANSI_X9_24",
        /// CMAC of a zero block (ANSI X9.24-1 A.3).
        Cmac = "CMAC",
        /// HMAC of the empty message, for HMAC keys.
        Hmac = "HMAC",
        /// SHA-1 of the public key, for asymmetric keys ([`public_key_kcv`]).
        Sha1 = "SHA_1",
    }
}

impl KcvMethod {
    /// The method the service uses for a key algorithm: ANSI X9.24 for TDES, CMAC for AES,
    /// HMAC for HMAC keys, SHA-1 of the public key for RSA and ECC keys.
    pub fn default_for(algorithm: KeyAlgorithm) -> Result<Self, Error> {
        match algorithm.tr31_algorithm() {
            crate::key::Algorithm::TDES => Ok(Self::AnsiX924),
            crate::key::Algorithm::AES => Ok(Self::Cmac),
            crate::key::Algorithm::HMAC => Ok(Self::Hmac),
            crate::key::Algorithm::RSA | crate::key::Algorithm::EC => Ok(Self::Sha1),
            _ => Err(Error::UnsupportedOperation {
                operation: "key check value",
                reason: "no check value method for this algorithm",
            }),
        }
    }

    const fn max_len(self) -> usize {
        match self {
            Self::AnsiX924 | Self::Hmac | Self::Sha1 => 3,
            Self::Cmac => 5,
        }
    }
}

/// A key check value: public, short, printed as upper-case hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyCheckValue {
    bytes: [u8; X9_143_KCV_LEN],
    len: usize,
}

impl KeyCheckValue {
    /// The KCV bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl fmt::Display for KeyCheckValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Hex(self.as_bytes()).fmt(f)
    }
}

impl fmt::Debug for KeyCheckValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyCheckValue({self})")
    }
}

/// Computes the `len`-byte KCV of `key` by `method`.
pub fn compute(
    key: &(impl SymmetricKey + ?Sized),
    method: KcvMethod,
    len: usize,
) -> Result<KeyCheckValue, Error> {
    if len == 0 || len > method.max_len() {
        return Err(Error::InvalidLength {
            field: "key check value length",
            expected: match method {
                KcvMethod::Cmac => "1 to 5 bytes for CMAC",
                _ => "1 to 3 bytes",
            },
            actual: len,
        });
    }
    let tag = match method {
        KcvMethod::AnsiX924 => {
            if key.block_cipher()? != BlockCipher::Tdes {
                return Err(Error::InvalidValue {
                    field: "key check value algorithm",
                    reason: "ANSI_X9_24 (encrypting zeros) is for TDES keys; AES keys use CMAC",
                });
            }
            let mut block = [0u8; 8];
            key.encrypt_ecb(&mut block)?;
            crate::crypto::Tag::new(&block)?
        }
        KcvMethod::Cmac => {
            let zeros = [0u8; 16];
            key.cmac(&zeros[..key.block_cipher()?.block_len()])?
        }
        KcvMethod::Hmac => key.hmac(&[])?,
        KcvMethod::Sha1 => {
            return Err(Error::InvalidValue {
                field: "key check value algorithm",
                reason: "SHA_1 is the check value of asymmetric keys (public_key_kcv)",
            });
        }
    };
    let mut bytes = [0u8; X9_143_KCV_LEN];
    bytes[..len].copy_from_slice(&tag.as_bytes()[..len]);
    Ok(KeyCheckValue { bytes, len })
}

/// The KCV of an asymmetric key ([`KcvMethod::Sha1`]): the first 3 bytes of the SHA-1 of
/// its public key as DER (for RSA, the PKCS #1 `RSAPublicKey`, which is also what RFC 5280
/// §4.2.1.2 method 1 hashes for a key identifier).
pub fn public_key_kcv(public_key_der: &[u8]) -> KeyCheckValue {
    use sha1::{Digest, Sha1};
    let digest = Sha1::digest(public_key_der);
    let mut bytes = [0u8; X9_143_KCV_LEN];
    bytes[..DEFAULT_KCV_LEN].copy_from_slice(&digest[..DEFAULT_KCV_LEN]);
    KeyCheckValue {
        bytes,
        len: DEFAULT_KCV_LEN,
    }
}

/// The KCV the service reports for a key: its default method, 3 bytes.
pub fn default_kcv(key: &(impl SymmetricKey + ?Sized)) -> Result<KeyCheckValue, Error> {
    compute(
        key,
        KcvMethod::default_for(key.key_algorithm())?,
        DEFAULT_KCV_LEN,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SoftwareKey;
    use alloc::string::ToString;

    // ANSI X9.24-1 A.2 / TR-31:2018 A.7.2.1 key; more in the vectors crate.
    #[test]
    fn tdes_kcv() {
        let k = SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, "F039121BEC83D26B169BDCD5B22AAF8F")
            .unwrap();
        assert_eq!(default_kcv(&k).unwrap().to_string(), "CB9DEA");
    }

    #[test]
    fn aes_kcv_is_cmac_and_never_encrypted_zeros() {
        let k = SoftwareKey::from_hex(KeyAlgorithm::Aes128, "3F419E1CB7079442AA37474C2EFBF8B8")
            .unwrap();
        assert_eq!(
            compute(&k, KcvMethod::Cmac, 5).unwrap().to_string(),
            "08793E25AB"
        );
        assert!(compute(&k, KcvMethod::AnsiX924, 3).is_err());
    }

    #[test]
    fn lengths_are_bounded() {
        let k = SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, "F039121BEC83D26B169BDCD5B22AAF8F")
            .unwrap();
        assert!(compute(&k, KcvMethod::AnsiX924, 4).is_err());
        assert!(compute(&k, KcvMethod::Cmac, 6).is_err());
        assert!(compute(&k, KcvMethod::Cmac, 0).is_err());
        assert_eq!(compute(&k, KcvMethod::Cmac, 5).unwrap().as_bytes().len(), 5);
    }

    #[test]
    fn public_key_kcv_is_the_start_of_sha1() {
        // SHA-1("abc") = A9993E36….
        assert_eq!(public_key_kcv(b"abc").to_string(), "A9993E");
        let k = SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, "F039121BEC83D26B169BDCD5B22AAF8F")
            .unwrap();
        assert!(compute(&k, KcvMethod::Sha1, 3).is_err());
        assert_eq!(
            KcvMethod::default_for(KeyAlgorithm::Rsa2048).unwrap(),
            KcvMethod::Sha1
        );
    }

    #[test]
    fn hmac_kcv_needs_an_hmac_key() {
        let k = SoftwareKey::from_hex(KeyAlgorithm::HmacSha256, "000102030405060708090A0B0C0D0E0F")
            .unwrap();
        assert_eq!(default_kcv(&k).unwrap().as_bytes().len(), 3);
        let t = SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, "F039121BEC83D26B169BDCD5B22AAF8F")
            .unwrap();
        assert!(compute(&t, KcvMethod::Hmac, 3).is_err());
    }
}
