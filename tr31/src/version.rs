//! The key block version ID (header byte 0) and what it fixes: cipher, binding method, MAC length.

use core::fmt;

use payhsm_core::{crypto::BlockCipher, key::KeyAlgorithm};

use crate::Error;

/// Key block version: how the block is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Version {
    /// TDES, key variant binding, 2005 edition. Deprecated: import only by default.
    A,
    /// TDES, key derivation binding (TDES-CMAC KDF).
    B,
    /// TDES, key variant binding, 2010 edition. Legacy.
    C,
    /// AES, key derivation binding (AES-CMAC KDF).
    D,
}

/// How the encryption and authentication keys are obtained from the KBPK.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Binding {
    /// KBEK and KBAK are the KBPK XOR a constant; the MAC is a 4-byte TDES CBC-MAC over the
    /// header and the ciphertext (versions A and C).
    Variant,
    /// KBEK and KBAK are derived with a CMAC counter-mode KDF; the MAC is the CMAC over the
    /// header and the plaintext and serves as the CBC IV (versions B and D).
    Derivation,
}

impl Version {
    /// Every version, in order.
    pub const ALL: [Self; 4] = [Self::A, Self::B, Self::C, Self::D];

    /// The version ID byte.
    pub const fn id(self) -> u8 {
        match self {
            Self::A => b'A',
            Self::B => b'B',
            Self::C => b'C',
            Self::D => b'D',
        }
    }

    /// The version for an ID byte, if payhsm supports it.
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            b'A' => Some(Self::A),
            b'B' => Some(Self::B),
            b'C' => Some(Self::C),
            b'D' => Some(Self::D),
            _ => None,
        }
    }

    /// The block cipher of the KBPK and of the payload encryption.
    pub const fn block_cipher(self) -> BlockCipher {
        match self {
            Self::A | Self::B | Self::C => BlockCipher::Tdes,
            Self::D => BlockCipher::Aes,
        }
    }

    /// The cipher block length in bytes; the header and the payload are whole blocks.
    pub const fn block_len(self) -> usize {
        self.block_cipher().block_len()
    }

    /// The binding method.
    pub const fn binding(self) -> Binding {
        match self {
            Self::A | Self::C => Binding::Variant,
            Self::B | Self::D => Binding::Derivation,
        }
    }

    /// The MAC length in bytes: 4 (A, C), 8 (B), 16 (D).
    pub const fn mac_len(self) -> usize {
        match self {
            Self::A | Self::C => 4,
            Self::B => 8,
            Self::D => 16,
        }
    }

    /// Whether the version uses the deprecated variant binding (A and C).
    pub const fn is_legacy(self) -> bool {
        matches!(self.binding(), Binding::Variant)
    }

    /// The KBPKs this version accepts, in words.
    pub const fn kbpk_description(self) -> &'static str {
        match self.block_cipher() {
            BlockCipher::Tdes => "a TDES_2KEY or TDES_3KEY key",
            BlockCipher::Aes => "an AES_128, AES_192 or AES_256 key",
        }
    }

    /// Checks that a KBPK of `algorithm` fits this version (T-KB-7: D needs AES, A/B/C TDES).
    pub fn check_kbpk(self, algorithm: KeyAlgorithm) -> Result<(), Error> {
        match BlockCipher::of(algorithm) {
            Ok(cipher) if cipher == self.block_cipher() => Ok(()),
            _ => Err(Error::KbpkMismatch {
                version: self,
                expected: self.kbpk_description(),
            }),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Write::write_char(f, char::from(self.id()))
    }
}

/// The KBPK algorithm a version implies for a KBPK of `kbpk_len` bytes: D takes AES-128/192/256
/// by length, A, B and C take TDES 2-key/3-key by length. Any other length is a mismatch.
pub fn kbpk_algorithm(version: Version, kbpk_len: usize) -> Result<KeyAlgorithm, Error> {
    let algorithm = match (version.block_cipher(), kbpk_len) {
        (BlockCipher::Tdes, 16) => KeyAlgorithm::Tdes2Key,
        (BlockCipher::Tdes, 24) => KeyAlgorithm::Tdes3Key,
        (BlockCipher::Aes, 16) => KeyAlgorithm::Aes128,
        (BlockCipher::Aes, 24) => KeyAlgorithm::Aes192,
        (BlockCipher::Aes, 32) => KeyAlgorithm::Aes256,
        _ => {
            return Err(Error::KbpkMismatch {
                version,
                expected: version.kbpk_description(),
            });
        }
    };
    Ok(algorithm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for v in Version::ALL {
            assert_eq!(Version::from_id(v.id()), Some(v));
        }
        assert_eq!(Version::from_id(b'E'), None);
        assert_eq!(Version::from_id(b'0'), None);
    }

    #[test]
    fn kbpk_algorithm_follows_version_and_length() {
        assert_eq!(
            kbpk_algorithm(Version::D, 24).unwrap(),
            KeyAlgorithm::Aes192
        );
        assert_eq!(
            kbpk_algorithm(Version::B, 24).unwrap(),
            KeyAlgorithm::Tdes3Key
        );
        assert!(kbpk_algorithm(Version::B, 32).is_err());
        assert!(kbpk_algorithm(Version::D, 8).is_err());
        assert!(Version::D.check_kbpk(KeyAlgorithm::Tdes2Key).is_err());
        assert!(Version::C.check_kbpk(KeyAlgorithm::Aes128).is_err());
        assert!(Version::A.check_kbpk(KeyAlgorithm::HmacSha256).is_err());
        Version::A.check_kbpk(KeyAlgorithm::Tdes3Key).unwrap();
    }
}
