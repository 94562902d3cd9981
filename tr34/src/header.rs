//! The key block header a TR-34 token carries: a TR-31 (ANSI X9.143) header.
//!
//! TR-34 binds the transported key to its attributes with a TR-31 header, signed as an
//! attribute and repeated inside the encrypted key block (`A0256K0TB00E0000`,
//! `D0256K0AB00E0000`). The version ID and length field are not used by TR-34; AWS Payment
//! Cryptography writes `D9999` there. The fields are read by `payhsm-tr31`; the text is kept
//! byte for byte as received, since it is compared and signed as text.

use alloc::string::String;
use core::{fmt, str::FromStr};

use payhsm_core::key::{
    Algorithm, Exportability, KeyAlgorithm, KeyAttributes, KeyUsage, ModeOfUse,
};
use payhsm_tr31::Header;

use crate::Error;

const FIELD: &str = "key block header";

/// A TR-34 key block header: a TR-31 header (16 characters, then any optional blocks).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyBlockHeader {
    text: String,
    header: Header,
}

impl KeyBlockHeader {
    /// The length of a header without optional blocks.
    pub const MIN_LEN: usize = payhsm_tr31::FIXED_HEADER_LEN;

    /// Parses a header from its ASCII text.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let text = core::str::from_utf8(bytes)
            .ok()
            .filter(|t| t.is_ascii())
            .ok_or(Error::malformed(FIELD, "must be ASCII text"))?;
        if text.len() < Self::MIN_LEN {
            return Err(Error::Core(payhsm_core::Error::InvalidLength {
                field: FIELD,
                expected: "at least 16 characters",
                actual: text.len(),
            }));
        }
        let header = Header::parse(text).map_err(|e| match e {
            payhsm_tr31::Error::Malformed {
                field,
                position,
                problem,
            } => Error::Malformed {
                field,
                position: Some(position),
                reason: problem,
            },
            _ => Error::malformed(FIELD, "not a TR-31 header"),
        })?;
        if header.header_length() != text.len() {
            return Err(Error::Malformed {
                field: FIELD,
                position: Some(header.header_length()),
                reason: "text after the header's optional blocks",
            });
        }
        Ok(Self {
            text: text.into(),
            header,
        })
    }

    /// The header as received.
    pub fn as_bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    /// The header as text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parsed TR-31 header, with its optional blocks.
    pub fn tr31(&self) -> &Header {
        &self.header
    }

    /// Key usage (bytes 5–6), e.g. `K0`.
    pub fn key_usage(&self) -> KeyUsage {
        self.header.key_usage()
    }

    /// Algorithm (byte 7): `T` for TDES, `A` for AES.
    pub fn algorithm(&self) -> Algorithm {
        self.header.algorithm()
    }

    /// Mode of use (byte 8).
    pub fn mode_of_use(&self) -> ModeOfUse {
        self.header.mode_of_use()
    }

    /// Key version number (bytes 9–10).
    pub fn key_version(&self) -> &str {
        self.header.key_version()
    }

    /// Exportability (byte 11).
    pub fn exportability(&self) -> Exportability {
        self.header.exportability()
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
    fn parses_the_annex_b_and_service_headers() {
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
        // The service writes D9999; the length field is not checked.
        let s: KeyBlockHeader = "D9999K0AB00E0000".parse().unwrap();
        assert!(s.key_algorithm(32).is_ok());
    }

    #[test]
    fn keeps_optional_blocks_verbatim() {
        let h: KeyBlockHeader = "D0000K0AB00E0100KS1800604B120F9292800000".parse().unwrap();
        assert_eq!(h.tr31().optional_blocks().len(), 1);
        assert_eq!(h.as_str(), "D0000K0AB00E0100KS1800604B120F9292800000");
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
        // One optional block announced, none present.
        assert!(matches!(
            "A0256K0TB00E0100".parse::<KeyBlockHeader>(),
            Err(Error::Malformed { .. })
        ));
        assert!(matches!(
            "A0256K0TB00E00 0".parse::<KeyBlockHeader>(),
            Err(Error::Malformed { .. })
        ));
        assert!(matches!(
            "A0256K0TB00E0000X".parse::<KeyBlockHeader>(),
            Err(Error::Malformed {
                reason: "text after the header's optional blocks",
                ..
            })
        ));
        assert!("X0256K0TB00E0000".parse::<KeyBlockHeader>().is_err());
        assert!("A0256K0TB00E0000\u{e9}".parse::<KeyBlockHeader>().is_err());
    }
}
