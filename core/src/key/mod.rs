//! The key model: what a key is for, and how TR-31 and AWS Payment Cryptography say so.
//!
//! A TR-31 header carries a key's [`KeyUsage`], [`Algorithm`], [`ModeOfUse`] and
//! [`Exportability`]; AWS Payment Cryptography describes the same key with [`KeyAttributes`]
//! (usage, [`KeyClass`], [`KeyAlgorithm`], [`KeyModesOfUse`]) and an `Exportable` flag. The
//! conversions here are the one place where the two vocabularies meet.

use crate::names::service_enum;
mod codes;

pub use codes::{Algorithm, Exportability, KeyUsage, ModeOfUse};

use crate::Error;

service_enum! {
    /// A key's algorithm and size, as AWS Payment Cryptography names it (`KeyAlgorithm`).
    #[non_exhaustive]
    pub enum KeyAlgorithm("key algorithm") {
        /// Two-key triple DES (16 bytes).
        Tdes2Key = "TDES_2KEY",
        /// Three-key triple DES (24 bytes).
        Tdes3Key = "TDES_3KEY",
        /// AES with a 128-bit key.
        Aes128 = "AES_128",
        /// AES with a 192-bit key.
        Aes192 = "AES_192",
        /// AES with a 256-bit key.
        Aes256 = "AES_256",
        /// HMAC with SHA-224.
        HmacSha224 = "HMAC_SHA224",
        /// HMAC with SHA-256.
        HmacSha256 = "HMAC_SHA256",
        /// HMAC with SHA-384.
        HmacSha384 = "HMAC_SHA384",
        /// HMAC with SHA-512.
        HmacSha512 = "HMAC_SHA512",
        /// RSA with a 2048-bit modulus.
        Rsa2048 = "RSA_2048",
        /// RSA with a 3072-bit modulus.
        Rsa3072 = "RSA_3072",
        /// RSA with a 4096-bit modulus.
        Rsa4096 = "RSA_4096",
        /// ECC on NIST P-256.
        EccNistP256 = "ECC_NIST_P256",
        /// ECC on NIST P-384.
        EccNistP384 = "ECC_NIST_P384",
        /// ECC on NIST P-521.
        EccNistP521 = "ECC_NIST_P521",
    }
}

impl KeyAlgorithm {
    /// The TR-31 algorithm code.
    pub const fn tr31_algorithm(self) -> Algorithm {
        match self {
            Self::Tdes2Key | Self::Tdes3Key => Algorithm::TDES,
            Self::Aes128 | Self::Aes192 | Self::Aes256 => Algorithm::AES,
            Self::HmacSha224 | Self::HmacSha256 | Self::HmacSha384 | Self::HmacSha512 => {
                Algorithm::HMAC
            }
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => Algorithm::RSA,
            Self::EccNistP256 | Self::EccNistP384 | Self::EccNistP521 => Algorithm::EC,
        }
    }

    /// The length in bytes of a symmetric key of this algorithm (for HMAC, the digest length,
    /// which is what payhsm generates). `None` for asymmetric algorithms.
    pub const fn key_len(self) -> Option<usize> {
        match self {
            Self::Tdes2Key | Self::Aes128 => Some(16),
            Self::Tdes3Key | Self::Aes192 => Some(24),
            Self::Aes256 | Self::HmacSha256 => Some(32),
            Self::HmacSha224 => Some(28),
            Self::HmacSha384 => Some(48),
            Self::HmacSha512 => Some(64),
            _ => None,
        }
    }

    /// The symmetric block-cipher algorithm for a TR-31 algorithm code and a key length.
    pub fn from_block_cipher(algorithm: Algorithm, key_len: usize) -> Result<Self, Error> {
        match (algorithm, key_len) {
            (Algorithm::TDES, 16) => Ok(Self::Tdes2Key),
            (Algorithm::TDES, 24) => Ok(Self::Tdes3Key),
            (Algorithm::AES, 16) => Ok(Self::Aes128),
            (Algorithm::AES, 24) => Ok(Self::Aes192),
            (Algorithm::AES, 32) => Ok(Self::Aes256),
            (Algorithm::TDES | Algorithm::AES, n) => Err(Error::InvalidLength {
                field: "key",
                expected: "16 or 24 bytes for TDES, 16, 24 or 32 for AES",
                actual: n,
            }),
            _ => Err(Error::InvalidValue {
                field: "algorithm",
                reason: "not a TDES or AES block cipher",
            }),
        }
    }

    /// The key class a key of this algorithm has when it holds its secret.
    pub const fn key_class(self) -> KeyClass {
        match self.tr31_algorithm() {
            Algorithm::RSA | Algorithm::EC => KeyClass::AsymmetricKeyPair,
            _ => KeyClass::SymmetricKey,
        }
    }

    /// Security strength in bits (NIST SP 800-57 Part 1 Table 2): a wrapping key must be at
    /// least as strong as the key it protects.
    pub const fn strength_bits(self) -> u16 {
        match self {
            Self::Tdes2Key => 80,
            Self::Tdes3Key | Self::Rsa2048 => 112,
            Self::Aes128 | Self::Rsa3072 | Self::EccNistP256 => 128,
            Self::Rsa4096 => 152,
            Self::Aes192 | Self::EccNistP384 | Self::HmacSha224 => 192,
            Self::Aes256 | Self::EccNistP521 => 256,
            Self::HmacSha256 | Self::HmacSha384 | Self::HmacSha512 => 256,
        }
    }
}

service_enum! {
    /// A key's class (`KeyClass`).
    pub enum KeyClass("key class") {
        /// A secret symmetric key.
        SymmetricKey = "SYMMETRIC_KEY",
        /// A private key with its public key.
        AsymmetricKeyPair = "ASYMMETRIC_KEY_PAIR",
        /// A private key alone.
        PrivateKey = "PRIVATE_KEY",
        /// A public key.
        PublicKey = "PUBLIC_KEY",
    }
}

/// The operations a key may be used for (`KeyModesOfUse`): nine flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[allow(clippy::struct_excessive_bools)] // The service's structure is nine booleans.
pub struct KeyModesOfUse {
    /// Encrypt data.
    pub encrypt: bool,
    /// Decrypt data.
    pub decrypt: bool,
    /// Wrap a key.
    pub wrap: bool,
    /// Unwrap a key.
    pub unwrap: bool,
    /// Generate a MAC, check value or PIN verification value.
    pub generate: bool,
    /// Sign.
    pub sign: bool,
    /// Verify.
    pub verify: bool,
    /// Derive other keys.
    pub derive_key: bool,
    /// Any use the key usage allows.
    pub no_restrictions: bool,
}

impl KeyModesOfUse {
    /// The flags' names in the service's order, for parsing and printing.
    pub const NAMES: [&'static str; 9] = [
        "Encrypt",
        "Decrypt",
        "Wrap",
        "Unwrap",
        "Generate",
        "Sign",
        "Verify",
        "DeriveKey",
        "NoRestrictions",
    ];

    const fn flags(&self) -> [bool; 9] {
        [
            self.encrypt,
            self.decrypt,
            self.wrap,
            self.unwrap,
            self.generate,
            self.sign,
            self.verify,
            self.derive_key,
            self.no_restrictions,
        ]
    }

    const fn from_flags(f: [bool; 9]) -> Self {
        Self {
            encrypt: f[0],
            decrypt: f[1],
            wrap: f[2],
            unwrap: f[3],
            generate: f[4],
            sign: f[5],
            verify: f[6],
            derive_key: f[7],
            no_restrictions: f[8],
        }
    }

    /// The flags with their names, in the service's order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, bool)> {
        Self::NAMES.into_iter().zip(self.flags())
    }

    /// Sets the flag called `name` (`"Encrypt"`, …).
    pub fn set(&mut self, name: &str, value: bool) -> Result<(), Error> {
        let i = Self::NAMES
            .iter()
            .position(|n| *n == name)
            .ok_or(Error::InvalidValue {
                field: "key modes of use",
                reason: "unknown mode name",
            })?;
        let mut f = self.flags();
        f[i] = value;
        *self = Self::from_flags(f);
        Ok(())
    }

    /// The flags a TR-31 mode of use stands for; `None` for modes the service does not model
    /// (`Y`, proprietary codes).
    pub fn from_mode_of_use(mode: ModeOfUse) -> Option<Self> {
        let m = |e, d, w, u, g, s, v, x, n| Self::from_flags([e, d, w, u, g, s, v, x, n]);
        let (t, f) = (true, false);
        Some(match mode {
            ModeOfUse::ENCRYPT_DECRYPT => m(t, t, t, t, f, f, f, f, f),
            ModeOfUse::GENERATE_VERIFY => m(f, f, f, f, t, f, t, f, f),
            ModeOfUse::DECRYPT => m(f, t, f, t, f, f, f, f, f),
            ModeOfUse::ENCRYPT => m(t, f, t, f, f, f, f, f, f),
            ModeOfUse::GENERATE => m(f, f, f, f, t, f, f, f, f),
            ModeOfUse::NO_RESTRICTIONS => m(f, f, f, f, f, f, f, f, t),
            ModeOfUse::SIGN => m(f, f, f, f, f, t, f, f, f),
            ModeOfUse::SIGN_DECRYPT => m(f, t, f, f, f, t, f, f, f),
            ModeOfUse::VERIFY => m(f, f, f, f, f, f, t, f, f),
            ModeOfUse::DERIVE => m(f, f, f, f, f, f, f, t, f),
            _ => return None,
        })
    }

    /// The TR-31 mode of use with exactly these flags, if there is one.
    pub fn to_mode_of_use(&self) -> Option<ModeOfUse> {
        ModeOfUse::known().find(|m| Self::from_mode_of_use(*m).as_ref() == Some(self))
    }

    /// Whether every use these flags allow is also allowed by `wider`.
    pub fn is_within(&self, wider: &Self) -> bool {
        if wider.no_restrictions {
            return true;
        }
        self.flags()
            .into_iter()
            .zip(wider.flags())
            .all(|(mine, theirs)| !mine || theirs)
    }
}

/// A key's attributes as AWS Payment Cryptography states them (`KeyAttributes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyAttributes {
    /// What the key is for.
    pub key_usage: KeyUsage,
    /// Symmetric, key pair, private or public.
    pub key_class: KeyClass,
    /// Algorithm and size.
    pub key_algorithm: KeyAlgorithm,
    /// Allowed operations.
    pub key_modes_of_use: KeyModesOfUse,
}

impl KeyAttributes {
    /// The TR-31 header fields these attributes map to: algorithm code and mode of use.
    pub fn tr31_fields(&self) -> Result<(KeyUsage, Algorithm, ModeOfUse), Error> {
        let mode = self
            .key_modes_of_use
            .to_mode_of_use()
            .ok_or(Error::InvalidValue {
                field: "key modes of use",
                reason: "no TR-31 mode of use has exactly these flags",
            })?;
        Ok((self.key_usage, self.key_algorithm.tr31_algorithm(), mode))
    }

    /// Attributes from TR-31 header fields and the key's algorithm (which the header's
    /// algorithm code and the key length determine).
    pub fn from_tr31(
        usage: KeyUsage,
        mode: ModeOfUse,
        key_algorithm: KeyAlgorithm,
    ) -> Result<Self, Error> {
        let key_modes_of_use =
            KeyModesOfUse::from_mode_of_use(mode).ok_or(Error::InvalidValue {
                field: "mode of use",
                reason: "has no equivalent in KeyModesOfUse",
            })?;
        Ok(Self {
            key_usage: usage,
            key_class: key_algorithm.key_class(),
            key_algorithm,
            key_modes_of_use,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_letter_the_service_models_round_trips() {
        for mode in ModeOfUse::known() {
            match KeyModesOfUse::from_mode_of_use(mode) {
                Some(flags) => assert_eq!(flags.to_mode_of_use(), Some(mode)),
                None => assert_eq!(mode, ModeOfUse::VARIANT),
            }
        }
    }

    #[test]
    fn modes_narrow() {
        let b = KeyModesOfUse::from_mode_of_use(ModeOfUse::ENCRYPT_DECRYPT).unwrap();
        let e = KeyModesOfUse::from_mode_of_use(ModeOfUse::ENCRYPT).unwrap();
        let n = KeyModesOfUse::from_mode_of_use(ModeOfUse::NO_RESTRICTIONS).unwrap();
        assert!(e.is_within(&b));
        assert!(!b.is_within(&e));
        assert!(b.is_within(&n));
        assert!(!n.is_within(&b));
    }

    #[test]
    fn algorithm_names_round_trip() {
        for a in KeyAlgorithm::ALL {
            assert_eq!(KeyAlgorithm::from_name(a.name()).unwrap(), a);
        }
        assert_eq!(
            KeyAlgorithm::from_block_cipher(Algorithm::TDES, 24).unwrap(),
            KeyAlgorithm::Tdes3Key
        );
        assert!(KeyAlgorithm::from_block_cipher(Algorithm::TDES, 32).is_err());
    }

    #[test]
    fn set_mode_by_name() {
        let mut m = KeyModesOfUse::default();
        m.set("Generate", true).unwrap();
        m.set("Verify", true).unwrap();
        assert_eq!(m.to_mode_of_use(), Some(ModeOfUse::GENERATE_VERIFY));
        assert!(m.set("Bogus", true).is_err());
    }
}
