//! The key block header a TR-34 token carries: 16 characters in the form of a TR-31 header.
//!
//! TR-34 binds the transported key to its attributes with a TR-31-style header, signed as an
//! attribute and repeated inside the encrypted key block (`A0256K0TB00E0000`,
//! `D0256K0AB00E0000`). The version ID and length are not used by TR-34; AWS Payment
//! Cryptography writes `D9999` there. The header is kept byte for byte as received.

use core::{fmt, str::FromStr};

use payhsm_core::key::{
    Algorithm, Exportability, KeyAlgorithm, KeyAttributes, KeyUsage, ModeOfUse,
};

use crate::Error;

/// A TR-34 key block header: the fixed 16-character part of a TR-31 header, with no optional
/// blocks.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyBlockHeader {
    text: [u8; Self::LEN],
    fields: Fields,
}

/// The fields TR-34 uses, parsed with `payhsm-core`'s code types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Fields {
    key_usage: KeyUsage,
    algorithm: Algorithm,
    mode_of_use: ModeOfUse,
    exportability: Exportability,
}

// Reads only the fixed fields TR-34 needs. When `payhsm-tr31` lands, this becomes
// `payhsm_tr31::Header`.
fn parse_fields(text: &[u8; KeyBlockHeader::LEN]) -> Result<Fields, Error> {
    const FIELD: &str = "key block header";
    if !text.iter().all(u8::is_ascii_alphanumeric) {
        return Err(Error::malformed(FIELD, "must be ASCII letters and digits"));
    }
    if &text[12..14] != b"00" {
        return Err(Error::unsupported(
            FIELD,
            "optional blocks are not supported in a TR-34 key block header",
        ));
    }
    Ok(Fields {
        key_usage: KeyUsage::from_code(&text[5..7])?,
        algorithm: Algorithm::from_code(&text[7..8])?,
        mode_of_use: ModeOfUse::from_code(&text[8..9])?,
        exportability: Exportability::from_code(&text[11..12])?,
    })
}

impl KeyBlockHeader {
    /// The length of a header without optional blocks.
    pub const LEN: usize = 16;

    /// Parses a header from its 16 ASCII characters.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let text: [u8; Self::LEN] = bytes.try_into().map_err(|_| {
            Error::Core(payhsm_core::Error::InvalidLength {
                field: "key block header",
                expected: "16 characters",
                actual: bytes.len(),
            })
        })?;
        Ok(Self {
            text,
            fields: parse_fields(&text)?,
        })
    }

    /// The header as received.
    pub fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.text
    }

    /// The header as text.
    pub fn as_str(&self) -> &str {
        // Checked to be ASCII alphanumeric on construction.
        core::str::from_utf8(&self.text).unwrap_or_default()
    }

    /// Key usage (bytes 5–6), e.g. `K0`.
    pub fn key_usage(&self) -> KeyUsage {
        self.fields.key_usage
    }

    /// Algorithm (byte 7): `T` for TDES, `A` for AES.
    pub fn algorithm(&self) -> Algorithm {
        self.fields.algorithm
    }

    /// Mode of use (byte 8).
    pub fn mode_of_use(&self) -> ModeOfUse {
        self.fields.mode_of_use
    }

    /// Key version number (bytes 9–10).
    pub fn key_version(&self) -> &str {
        &self.as_str()[9..11]
    }

    /// Exportability (byte 11).
    pub fn exportability(&self) -> Exportability {
        self.fields.exportability
    }

    /// The symmetric algorithm of a key of `key_len` bytes under this header.
    pub fn key_algorithm(&self, key_len: usize) -> Result<KeyAlgorithm, Error> {
        Ok(KeyAlgorithm::from_block_cipher(self.algorithm(), key_len)?)
    }

    /// The key's attributes as AWS Payment Cryptography states them.
    pub fn key_attributes(&self, key_len: usize) -> Result<KeyAttributes, Error> {
        Ok(KeyAttributes::from_tr31(
            self.key_usage(),
            self.mode_of_use(),
            self.key_algorithm(key_len)?,
        )?)
    }
}

impl FromStr for KeyBlockHeader {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::from_bytes(s.as_bytes())
    }
}

impl fmt::Display for KeyBlockHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for KeyBlockHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyBlockHeader({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn parses_the_annex_b_headers() {
        let h: KeyBlockHeader = "A0256K0TB00E0000".parse().unwrap();
        assert_eq!(h.key_usage(), KeyUsage::K0);
        assert_eq!(h.algorithm(), Algorithm::TDES);
        assert_eq!(h.mode_of_use(), ModeOfUse::ENCRYPT_DECRYPT);
        assert_eq!(h.key_version(), "00");
        assert_eq!(h.exportability(), Exportability::EXPORTABLE);
        assert_eq!(h.key_algorithm(16).unwrap(), KeyAlgorithm::Tdes2Key);
        let d: KeyBlockHeader = "D0256K0AB00E0000".parse().unwrap();
        assert_eq!(d.algorithm(), Algorithm::AES);
        assert_eq!(d.to_string(), "D0256K0AB00E0000");
        let attrs = d.key_attributes(16).unwrap();
        assert_eq!(attrs.key_algorithm, KeyAlgorithm::Aes128);
        assert!(attrs.key_modes_of_use.wrap && attrs.key_modes_of_use.unwrap);
    }

    #[test]
    fn rejects_bad_headers() {
        assert!(matches!(
            "A0256K0TB00E000".parse::<KeyBlockHeader>(),
            Err(Error::Core(payhsm_core::Error::InvalidLength {
                actual: 15,
                ..
            }))
        ));
        assert!(matches!(
            "A0256K0TB00E0100".parse::<KeyBlockHeader>(),
            Err(Error::Unsupported { .. })
        ));
        assert!(matches!(
            "A0256K0TB00E00 0".parse::<KeyBlockHeader>(),
            Err(Error::Malformed { .. })
        ));
        assert!(
            KeyBlockHeader::from_str("D9999K0AB00E0000")
                .unwrap()
                .key_algorithm(32)
                .is_ok()
        );
    }
}
