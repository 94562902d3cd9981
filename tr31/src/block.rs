//! A key block's structure: header, encrypted key data, MAC. Parsed without any cryptography.

use alloc::{string::String, vec::Vec};

use crate::{
    Error, Header, Version,
    header::{FIXED_HEADER_LEN, read_version_and_length},
    reader::Reader,
};

/// A parsed key block: its header, the encrypted key data and the MAC, all structurally
/// checked (T-KB-3, T-KB-4, T-KB-9) and none of it authenticated yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyBlock {
    header: Header,
    header_text: String,
    encrypted_key_data: Vec<u8>,
    mac: Vec<u8>,
}

impl KeyBlock {
    /// Parses the structure of a key block:
    /// - the length field is 4 decimal digits equal to the text's length;
    /// - the header (optional blocks included) is well formed, ends before the key data and
    ///   is a whole number of cipher blocks;
    /// - the encrypted key data is hex, at least one and a whole number of cipher blocks;
    /// - the MAC is hex of the version's length (A, C: 4 bytes; B: 8; D: 16).
    ///
    /// Optional blocks are read leniently: proprietary and unknown IDs are kept verbatim.
    pub fn parse(text: &str) -> Result<Self, Error> {
        Self::read(text, false)
    }

    pub(crate) fn read(text: &str, strict: bool) -> Result<Self, Error> {
        let bytes = text.as_bytes();
        let (version, length) = read_version_and_length(&mut Reader::new(bytes))?;
        if length != bytes.len() {
            return Err(Error::malformed(
                "length field",
                1,
                "does not match the key block's length",
            ));
        }
        let block_hex = 2 * version.block_len();
        let mac_hex = 2 * version.mac_len();
        // The header must leave room for one cipher block of key data and the MAC.
        let header_room = bytes
            .len()
            .checked_sub(block_hex + mac_hex)
            .filter(|room| *room >= FIXED_HEADER_LEN)
            .ok_or(Error::malformed(
                "key block",
                bytes.len(),
                "too short for a header, one cipher block and the MAC",
            ))?;
        let mut header_reader = Reader::new(&bytes[..header_room]);
        let header = Header::read(&mut header_reader, strict)?;
        let header_len = header_reader.position();
        if !header_len.is_multiple_of(version.block_len()) {
            return Err(Error::malformed(
                "header",
                header_len,
                "not a whole number of cipher blocks",
            ));
        }
        let key_data_hex = bytes.len() - header_len - mac_hex;
        if !key_data_hex.is_multiple_of(block_hex) {
            return Err(Error::malformed(
                "encrypted key data",
                header_len,
                "not a whole number of cipher blocks",
            ));
        }
        let mut reader = Reader::new(bytes);
        let header_text = reader.printable(header_len, "header")?;
        let encrypted_key_data = reader.hex_bytes(key_data_hex, "encrypted key data")?;
        let mac = reader.hex_bytes(mac_hex, "MAC")?;
        Ok(Self {
            header,
            header_text: String::from(header_text),
            encrypted_key_data,
            mac,
        })
    }

    /// The header.
    pub const fn header(&self) -> &Header {
        &self.header
    }

    /// The version.
    pub const fn version(&self) -> Version {
        self.header.version()
    }

    /// The header exactly as it appears in the block: the text the MAC covers.
    pub fn header_text(&self) -> &str {
        &self.header_text
    }

    /// The encrypted key data.
    pub fn encrypted_key_data(&self) -> &[u8] {
        &self.encrypted_key_data
    }

    /// The MAC.
    pub fn mac(&self) -> &[u8] {
        &self.mac
    }

    pub(crate) fn into_header(self) -> Header {
        self.header
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: &str =
        "B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248E";

    #[test]
    fn parts_of_a_published_block() {
        let kb = KeyBlock::parse(B).unwrap();
        assert_eq!(kb.version(), Version::B);
        assert_eq!(kb.header_text(), "B0080P0TE00E0000");
        assert_eq!(kb.encrypted_key_data().len(), 24);
        assert_eq!(kb.mac(), [0x6E, 0xED, 0x7B, 0x72, 0x7B, 0x8A, 0x24, 0x8E]);
        assert_eq!(kb.header().block_length(), 80);
    }

    #[test]
    fn structure_errors() {
        let err = |t: &str| KeyBlock::parse(t).unwrap_err();
        assert_eq!(
            err(&B[..79]),
            Error::malformed("length field", 1, "does not match the key block's length")
        );
        let short = "B0032P0TE00E00009CC80BA3461F86FE";
        assert_eq!(
            err(short),
            Error::malformed(
                "key block",
                32,
                "too short for a header, one cipher block and the MAC"
            )
        );
        // One TDES block of key data less, length adjusted: key data is 2 blocks, still valid
        // structure; 4 hex characters less is not.
        let cut = alloc::format!("B0076{}{}", &B[5..44], &B[48..]);
        assert_eq!(
            err(&cut),
            Error::malformed(
                "encrypted key data",
                16,
                "not a whole number of cipher blocks"
            )
        );
        let mut bad_hex = String::from(B);
        bad_hex.replace_range(20..21, "G");
        assert_eq!(
            err(&bad_hex),
            Error::malformed("encrypted key data", 20, "not a hex digit (0-9, A-F)")
        );
        let mut bad_mac = String::from(B);
        bad_mac.replace_range(79..80, "x");
        assert_eq!(
            err(&bad_mac),
            Error::malformed("MAC", 79, "not a hex digit (0-9, A-F)")
        );
        // A header of 20 characters is not a whole number of TDES blocks.
        let unaligned = alloc::format!("B0080P0TE00E0100LB04{}", &B[20..]);
        assert_eq!(
            err(&unaligned),
            Error::malformed("header", 20, "not a whole number of cipher blocks")
        );
    }
}
