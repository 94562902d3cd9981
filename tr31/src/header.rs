//! The key block header: 16 fixed characters, then the optional blocks (X9.143 6.2, 6.3).
//!
//! ```text
//! byte  0     version ID            A, B, C, D
//!       1–4   length field          4 decimal digits: the whole key block's length in characters
//!       5–6   key usage             KeyUsage
//!       7     algorithm             Algorithm
//!       8     mode of use           ModeOfUse
//!       9–10  key version number    "00" none, "c" + digit a key component, else a version
//!       11    exportability         Exportability
//!       12–13 optional blocks       2 decimal digits: how many follow
//!       14–15 reserved              "00"
//!       16…   optional blocks       ID, length, data (see `optional_block`)
//! ```
//!
//! The header is authenticated as its exact text, so [`wrap`](crate::wrap) sets the length field
//! and aligns the header to whole cipher blocks before computing the MAC.

use alloc::{string::String, vec::Vec};
use core::fmt;

use payhsm_core::key::{Algorithm, Exportability, KeyUsage, ModeOfUse};

use crate::{
    BlockId, Error, OptionalBlock, Version,
    optional_block::{
        BlockValue,
        values::{
            BdkId, CheckValue, HmacHash, InitialKeyId, KeySerialNumber, Timestamp, WrappingPedigree,
        },
    },
    reader::Reader,
};

/// The length of the fixed part of the header.
pub const FIXED_HEADER_LEN: usize = 16;

/// The largest key block: the length field has 4 decimal digits.
pub const MAX_BLOCK_LEN: usize = 9999;

/// The largest number of optional blocks: the count field has 2 decimal digits.
pub const MAX_OPTIONAL_BLOCKS: usize = 99;

/// A key block header.
///
/// Build one with [`Header::new`] and [`Header::with_optional_block`], or read one with
/// [`Header::parse`]. `Display` writes the header text; its length field is
/// [`Header::block_length`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    version: Version,
    block_length: usize,
    key_usage: KeyUsage,
    algorithm: Algorithm,
    mode_of_use: ModeOfUse,
    key_version: [u8; 2],
    exportability: Exportability,
    optional_blocks: Vec<OptionalBlock>,
}

impl Header {
    /// A header without optional blocks and with a length field of 0 (wrap sets it).
    /// `key_version` is two ASCII letters or digits.
    pub fn new(
        version: Version,
        key_usage: KeyUsage,
        algorithm: Algorithm,
        mode_of_use: ModeOfUse,
        key_version: &str,
        exportability: Exportability,
    ) -> Result<Self, Error> {
        let key_version: [u8; 2] = key_version
            .as_bytes()
            .try_into()
            .ok()
            .filter(|v: &[u8; 2]| v.iter().all(u8::is_ascii_alphanumeric))
            .ok_or(Error::invalid(
                "key version",
                "must be two ASCII letters or digits",
            ))?;
        Ok(Self {
            version,
            block_length: 0,
            key_usage,
            algorithm,
            mode_of_use,
            key_version,
            exportability,
            optional_blocks: Vec::new(),
        })
    }

    /// This header with `block` appended. Refuses a duplicate ID, a block after the padding
    /// block `PB` (which must be last), more than 99 blocks and a header that no longer fits a
    /// key block.
    pub fn with_optional_block(mut self, block: OptionalBlock) -> Result<Self, Error> {
        let problem = if self.optional_block(block.block_id()).is_some() {
            Some("duplicate optional block ID")
        } else if self.optional_blocks.last().map(OptionalBlock::block_id) == Some(BlockId::PB) {
            Some("the padding block PB must be the last optional block")
        } else if self.optional_blocks.len() >= MAX_OPTIONAL_BLOCKS {
            Some("more than 99 optional blocks")
        } else if self.header_length() + block.encoded_len() > MAX_BLOCK_LEN {
            Some("the header would be longer than a key block can be")
        } else {
            None
        };
        match problem {
            Some(problem) => Err(Error::invalid("optional blocks", problem)),
            None => {
                self.optional_blocks.push(block);
                Ok(self)
            }
        }
    }

    /// Reads the header at the start of `text`: a header alone or a whole key block (what
    /// follows the header is not read, and the length field is not checked against it;
    /// [`KeyBlock::parse`](crate::KeyBlock::parse) does that). Proprietary and unknown optional
    /// blocks are kept verbatim.
    pub fn parse(text: &str) -> Result<Self, Error> {
        Self::read(&mut Reader::new(text.as_bytes()), false)
    }

    /// Reads a header. With `strict`, optional blocks must be defined by X9.143 and well formed.
    pub(crate) fn read(reader: &mut Reader<'_>, strict: bool) -> Result<Self, Error> {
        let (version, block_length) = read_version_and_length(reader)?;
        let key_usage = code(reader, 2, "key usage", KeyUsage::from_code)?;
        let algorithm = code(reader, 1, "algorithm", Algorithm::from_code)?;
        let mode_of_use = code(reader, 1, "mode of use", ModeOfUse::from_code)?;
        let key_version = reader.alphanumeric(2, "key version")?;
        let key_version = [key_version[0], key_version[1]];
        let exportability = code(reader, 1, "exportability", Exportability::from_code)?;
        let count = reader.decimal(2, "number of optional blocks")?;
        let reserved_at = reader.position();
        if reader.take(2, "reserved field")? != b"00" {
            return Err(Error::malformed(
                "reserved field",
                reserved_at,
                "must be 00",
            ));
        }
        let mut optional_blocks: Vec<OptionalBlock> = Vec::with_capacity(count);
        for _ in 0..count {
            let at = reader.position();
            if optional_blocks.last().map(OptionalBlock::block_id) == Some(BlockId::PB) {
                return Err(Error::malformed(
                    "optional block id",
                    at,
                    "follows the padding block PB, which must be last",
                ));
            }
            let block = OptionalBlock::read(reader, strict)?;
            if optional_blocks
                .iter()
                .any(|b| b.block_id() == block.block_id())
            {
                return Err(Error::malformed("optional block id", at, "duplicate"));
            }
            optional_blocks.push(block);
        }
        Ok(Self {
            version,
            block_length,
            key_usage,
            algorithm,
            mode_of_use,
            key_version,
            exportability,
            optional_blocks,
        })
    }

    /// The version.
    pub const fn version(&self) -> Version {
        self.version
    }

    /// The length field: the length in characters of the whole key block (header, encrypted
    /// key data and MAC, both in hex). Set by [`wrap`](crate::wrap); 0 in a header built with
    /// [`Header::new`]; as read in a parsed header.
    pub const fn block_length(&self) -> usize {
        self.block_length
    }

    pub(crate) const fn with_block_length(mut self, block_length: usize) -> Self {
        self.block_length = block_length;
        self
    }

    /// The key usage.
    pub const fn key_usage(&self) -> KeyUsage {
        self.key_usage
    }

    /// The algorithm of the wrapped key.
    pub const fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The mode of use.
    pub const fn mode_of_use(&self) -> ModeOfUse {
        self.mode_of_use
    }

    /// The key version number field (2 characters).
    pub fn key_version(&self) -> &str {
        // Constructed only from ASCII alphanumerics.
        core::str::from_utf8(&self.key_version).unwrap_or("??")
    }

    /// The component number, if the key version field marks the key as a key component
    /// (`c` followed by a digit).
    pub fn key_component(&self) -> Option<u8> {
        match self.key_version {
            [b'c', n @ b'0'..=b'9'] => Some(n - b'0'),
            _ => None,
        }
    }

    /// The exportability.
    pub const fn exportability(&self) -> Exportability {
        self.exportability
    }

    /// The optional blocks, in header order.
    pub fn optional_blocks(&self) -> &[OptionalBlock] {
        &self.optional_blocks
    }

    /// The optional block with this ID.
    pub fn optional_block(&self, id: BlockId) -> Option<&OptionalBlock> {
        self.optional_blocks.iter().find(|b| b.block_id() == id)
    }

    /// The length of the header text.
    pub fn header_length(&self) -> usize {
        FIXED_HEADER_LEN
            + self
                .optional_blocks
                .iter()
                .map(OptionalBlock::encoded_len)
                .sum::<usize>()
    }

    /// The header [`wrap`](crate::wrap) authenticates: this one, with a padding block `PB`
    /// (filled with `0`) appended if the header is not a whole number of cipher blocks.
    pub fn padded(&self) -> Result<Self, Error> {
        let block = self.version.block_len();
        let gap = (block - self.header_length() % block) % block;
        if gap == 0 {
            return Ok(self.clone());
        }
        if self.optional_block(BlockId::PB).is_some() {
            return Err(Error::invalid(
                "header",
                "its padding block PB does not make it a whole number of cipher blocks",
            ));
        }
        // A block has at least its ID and length (4 characters).
        let pb_len = if gap >= 4 { gap } else { gap + block };
        let fill: String = core::iter::repeat_n('0', pb_len - 4).collect();
        self.clone()
            .with_optional_block(OptionalBlock::new(BlockId::PB, &fill)?)
    }

    /// Decodes the optional block `id` as `V`; `None` if the header has no such block.
    pub fn value<V: BlockValue>(&self, id: BlockId) -> Result<Option<V>, Error> {
        let mut at = FIXED_HEADER_LEN;
        for block in &self.optional_blocks {
            if block.block_id() == id {
                let data_at = at + block.encoded_len() - block.data().len();
                return V::decode(block.data())
                    .map(Some)
                    .map_err(|problem| Error::malformed(id.field(), data_at, problem));
            }
            at += block.encoded_len();
        }
        Ok(None)
    }

    /// `KS`: the initial key serial number (TDES DUKPT).
    pub fn initial_key_serial_number(&self) -> Result<Option<KeySerialNumber>, Error> {
        self.value(BlockId::KS)
    }

    /// `IK`: the initial key identifier (AES DUKPT).
    pub fn initial_key_id(&self) -> Result<Option<InitialKeyId>, Error> {
        self.value(BlockId::IK)
    }

    /// `BI`: the base derivation key identifier.
    pub fn bdk_id(&self) -> Result<Option<BdkId>, Error> {
        self.value(BlockId::BI)
    }

    /// `KC`: the check value of the wrapped key.
    pub fn key_check_value(&self) -> Result<Option<CheckValue>, Error> {
        self.value(BlockId::KC)
    }

    /// `KP`: the check value of the KBPK.
    pub fn kbpk_check_value(&self) -> Result<Option<CheckValue>, Error> {
        self.value(BlockId::KP)
    }

    /// `HM`: the hash algorithm of an HMAC key.
    pub fn hmac_hash(&self) -> Result<Option<HmacHash>, Error> {
        self.value(BlockId::HM)
    }

    /// `TS`: the time stamp.
    pub fn time_stamp(&self) -> Result<Option<Timestamp>, Error> {
        self.value(BlockId::TS)
    }

    /// `TC`: the time of creation.
    pub fn time_of_creation(&self) -> Result<Option<Timestamp>, Error> {
        self.value(BlockId::TC)
    }

    /// `WP`: the wrapping pedigree.
    pub fn wrapping_pedigree(&self) -> Result<Option<WrappingPedigree>, Error> {
        self.value(BlockId::WP)
    }

    /// `LB`: the label.
    pub fn label(&self) -> Option<&str> {
        self.optional_block(BlockId::LB).map(OptionalBlock::data)
    }

    /// `PB`: the padding block's data.
    pub fn padding_block(&self) -> Option<&str> {
        self.optional_block(BlockId::PB).map(OptionalBlock::data)
    }
}

/// Reads the version ID and the length field, which fix the layout of the rest.
pub(crate) fn read_version_and_length(reader: &mut Reader<'_>) -> Result<(Version, usize), Error> {
    let at = reader.position();
    let version = reader
        .take(1, "version id")?
        .first()
        .copied()
        .and_then(Version::from_id)
        .ok_or(Error::malformed("version id", at, "not A, B, C or D"))?;
    Ok((version, reader.decimal(4, "length field")?))
}

/// Reads a fixed header code field as a core code type.
fn code<T>(
    reader: &mut Reader<'_>,
    len: usize,
    field: &'static str,
    from_code: impl FnOnce(&[u8]) -> Result<T, payhsm_core::Error>,
) -> Result<T, Error> {
    let at = reader.position();
    from_code(reader.alphanumeric(len, field)?)
        .map_err(|_| Error::malformed(field, at, "not a valid code"))
}

impl fmt::Display for Header {
    /// The header text, length field included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{:04}{}{}{}{}{}{:02}00",
            self.version,
            self.block_length,
            self.key_usage.code_str(),
            self.algorithm.code_str(),
            self.mode_of_use.code_str(),
            self.key_version(),
            self.exportability.code_str(),
            self.optional_blocks.len(),
        )?;
        self.optional_blocks
            .iter()
            .try_for_each(|b| write!(f, "{b}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn pin_key() -> Header {
        Header::new(
            Version::B,
            KeyUsage::P0,
            Algorithm::TDES,
            ModeOfUse::ENCRYPT,
            "00",
            Exportability::EXPORTABLE,
        )
        .unwrap()
    }

    #[test]
    fn fixed_fields_round_trip() {
        let text = "B0080P0TE00E0000";
        let h = Header::parse(text).unwrap();
        assert_eq!(h.version(), Version::B);
        assert_eq!(h.block_length(), 80);
        assert_eq!(h.key_usage(), KeyUsage::P0);
        assert_eq!(h.algorithm(), Algorithm::TDES);
        assert_eq!(h.mode_of_use(), ModeOfUse::ENCRYPT);
        assert_eq!(h.key_version(), "00");
        assert_eq!(h.exportability(), Exportability::EXPORTABLE);
        assert!(h.optional_blocks().is_empty());
        assert_eq!(h.to_string(), text);
        assert_eq!(pin_key().with_block_length(80), h);
    }

    #[test]
    fn optional_blocks_round_trip_with_typed_access() {
        let text = "B0104B0TX12S0100KS1800604B120F9292800000";
        let h = Header::parse(text).unwrap();
        assert_eq!(h.key_version(), "12");
        assert_eq!(h.optional_blocks()[0].id(), "KS");
        assert_eq!(
            h.initial_key_serial_number().unwrap().unwrap().0,
            [0x00, 0x60, 0x4B, 0x12, 0x0F, 0x92, 0x92, 0x80, 0x00, 0x00]
        );
        assert_eq!(h.to_string(), text);
        let ts = "D0160D0TB00S0200TC182017-05-17T19:41:38ZTS182018-06-18T20:42:39Z";
        let h = Header::parse(ts).unwrap();
        assert_eq!(h.time_of_creation().unwrap().unwrap().year, 2017);
        assert_eq!(h.time_stamp().unwrap().unwrap().month, 6);
        assert_eq!(h.kbpk_check_value().unwrap(), None);
    }

    #[test]
    fn typed_errors_point_at_the_block_data() {
        let h = Header::parse("B0000P0TE00E0200LB08abcdKS08zzzz").unwrap();
        assert_eq!(h.label(), Some("abcd"));
        assert_eq!(
            h.initial_key_serial_number(),
            Err(Error::malformed(
                "initial key serial number",
                28,
                "must be 20 (or 16) hex digits"
            ))
        );
    }

    #[test]
    fn key_component_form() {
        let h = Header::parse("B0000P0TEc2E0000").unwrap();
        assert_eq!(h.key_version(), "c2");
        assert_eq!(h.key_component(), Some(2));
        assert_eq!(pin_key().key_component(), None);
        assert!(
            Header::new(
                Version::B,
                KeyUsage::P0,
                Algorithm::TDES,
                ModeOfUse::ENCRYPT,
                "0",
                Exportability::EXPORTABLE
            )
            .is_err()
        );
        assert!(
            Header::new(
                Version::B,
                KeyUsage::P0,
                Algorithm::TDES,
                ModeOfUse::ENCRYPT,
                "0-",
                Exportability::EXPORTABLE
            )
            .is_err()
        );
    }

    #[test]
    fn builder_refuses_what_parse_refuses() {
        let lb = OptionalBlock::new(BlockId::LB, "x").unwrap();
        let pb = OptionalBlock::new(BlockId::PB, "").unwrap();
        let h = pin_key().with_optional_block(lb.clone()).unwrap();
        assert!(h.clone().with_optional_block(lb.clone()).is_err());
        let h = h.with_optional_block(pb).unwrap();
        let ks = OptionalBlock::new(BlockId::KS, "00").unwrap();
        assert!(h.with_optional_block(ks).is_err());
    }

    #[test]
    fn padding_aligns_to_the_cipher_block() {
        let lb = OptionalBlock::new(BlockId::LB, "abc").unwrap();
        let h = pin_key().with_optional_block(lb).unwrap();
        assert_eq!(h.header_length(), 23);
        let p = h.padded().unwrap();
        // One character short of 24: a PB needs at least 4, so it takes 9.
        assert_eq!(p.header_length(), 32);
        assert_eq!(p.to_string(), "B0000P0TE00E0200LB07abcPB0900000");
        assert_eq!(p.padded().unwrap(), p);
        assert_eq!(pin_key().padded().unwrap(), pin_key());
        let d = Header::parse("D0000P0AE00E0100LB07abc")
            .unwrap()
            .padded()
            .unwrap();
        assert_eq!(d.header_length(), 32);
        assert_eq!(d.padding_block(), Some("00000"));
    }

    #[test]
    fn structural_errors_name_field_and_position() {
        let cases: &[(&str, &str, usize, &str)] = &[
            ("", "version id", 0, "runs past the end"),
            ("E0080P0TE00E0000", "version id", 0, "not A, B, C or D"),
            ("B00x0P0TE00E0000", "length field", 3, "not a decimal digit"),
            ("B0080P-TE00E0000", "key usage", 6, "not a letter or digit"),
            (
                "B0080P0TE0 E0000",
                "key version",
                10,
                "not a letter or digit",
            ),
            (
                "B0080P0TE00E0A00",
                "number of optional blocks",
                13,
                "not a decimal digit",
            ),
            ("B0080P0TE00E0001", "reserved field", 14, "must be 00"),
            (
                "B0080P0TE00E0100",
                "optional block id",
                16,
                "runs past the end",
            ),
            (
                "B0080P0TE00E0200KS04KS04",
                "optional block id",
                20,
                "duplicate",
            ),
            (
                "B0080P0TE00E0200PB04KS04",
                "optional block id",
                20,
                "follows the padding block PB, which must be last",
            ),
            ("B0080P0TE00E0100LB09abc", "label", 20, "runs past the end"),
        ];
        for (text, field, position, problem) in cases {
            assert_eq!(
                Header::parse(text),
                Err(Error::malformed(field, *position, problem)),
                "{text}"
            );
        }
    }
}
