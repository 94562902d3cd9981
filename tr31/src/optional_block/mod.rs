//! Optional blocks: the header's variable part (X9.143 6.3.6).
//!
//! An optional block is a 2-character ID, a length and printable ASCII data. The length is 2 hex
//! digits counting the whole block; when it would exceed `FF` the block uses the extended form
//! `00` + length-of-length + 4 hex digits. X9.143 writes the length-of-length as `04` (four hex
//! digits follow); psec and older libraries write `02` (two bytes follow). Both are read; `04` is
//! written. [`OptionalBlock`] keeps the ID and the data only, so a header always serialises in
//! the X9.143 form.
//!
//! IDs with a numeric first character are proprietary; they are kept verbatim. The typed content
//! of the blocks X9.143 defines lives in [`values`].

pub mod values;

use alloc::string::String;
use core::fmt;

use crate::{Error, reader::Reader};
pub use values::BlockValue;

/// An optional block ID: two ASCII letters or digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockId([u8; 2]);

macro_rules! block_ids {
    ($($name:ident = $code:literal, $field:literal;)*) => {
        impl BlockId {
            $(
                #[doc = concat!("`", stringify!($name), "`: ", $field, ".")]
                pub const $name: Self = Self(*$code);
            )*

            /// Every ID X9.143 defines.
            pub const DEFINED: &'static [Self] = &[$(Self::$name),*];

            /// What the block holds, if X9.143 defines this ID.
            pub const fn description(self) -> Option<&'static str> {
                match &self.0 {
                    $($code => Some($field),)*
                    _ => None,
                }
            }
        }
    };
}

block_ids! {
    AL = b"AL", "asymmetric key life";
    BI = b"BI", "base derivation key identifier";
    CT = b"CT", "public key certificate";
    DA = b"DA", "derivations allowed";
    FL = b"FL", "flags";
    HM = b"HM", "HMAC hash algorithm";
    IK = b"IK", "initial key identifier";
    KC = b"KC", "key check value of the wrapped key";
    KP = b"KP", "key check value of the KBPK";
    KS = b"KS", "initial key serial number";
    KV = b"KV", "key block values";
    LB = b"LB", "label";
    PB = b"PB", "padding block";
    PK = b"PK", "key check value of the export KBPK";
    TC = b"TC", "time of creation";
    TS = b"TS", "time stamp";
    WP = b"WP", "wrapping pedigree";
}

impl BlockId {
    /// The ID from its two characters.
    pub fn new(id: &str) -> Result<Self, Error> {
        let bytes: [u8; 2] = id
            .as_bytes()
            .try_into()
            .map_err(|_| Error::invalid("optional block id", "must be two characters"))?;
        if !bytes.iter().all(u8::is_ascii_alphanumeric) {
            return Err(Error::invalid(
                "optional block id",
                "must be ASCII letters or digits",
            ));
        }
        Ok(Self(bytes))
    }

    /// The two characters.
    pub fn as_str(&self) -> &str {
        // Constructed only from ASCII alphanumerics.
        core::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// Whether the ID is reserved for proprietary use (numeric first character).
    pub const fn is_proprietary(self) -> bool {
        self.0[0].is_ascii_digit()
    }

    /// Whether X9.143 defines this ID.
    pub const fn is_defined(self) -> bool {
        self.description().is_some()
    }

    /// The field name errors use for this block's data.
    pub(crate) const fn field(self) -> &'static str {
        match self.description() {
            Some(d) => d,
            None => "optional block data",
        }
    }
}

impl fmt::Debug for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockId({})", self.as_str())
    }
}

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The largest short-form block: the 2-hex-digit length field holds at most `FF`.
const MAX_SHORT_LEN: usize = 0xFF;
/// ID + 2-digit length.
const SHORT_OVERHEAD: usize = 4;
/// ID + `00` + length-of-length + 4-digit length.
const EXTENDED_OVERHEAD: usize = 10;
/// The extended length field holds 4 hex digits.
const MAX_EXTENDED_LEN: usize = 0xFFFF;

/// One optional block: an ID and its printable ASCII data.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OptionalBlock {
    id: BlockId,
    data: String,
}

impl OptionalBlock {
    /// A block with raw data, which must be printable ASCII. The content of defined IDs is not
    /// checked here; use the typed constructors ([`Self::from_value`]) for that.
    pub fn new(id: BlockId, data: &str) -> Result<Self, Error> {
        if !data.bytes().all(|b| crate::reader::is_printable(&b)) {
            return Err(Error::invalid(
                "optional block data",
                "must be printable ASCII",
            ));
        }
        if data.len() > MAX_EXTENDED_LEN - EXTENDED_OVERHEAD {
            return Err(Error::invalid("optional block data", "too long"));
        }
        Ok(Self {
            id,
            data: String::from(data),
        })
    }

    /// A block holding a typed value (KS, KC, TS, …) under `id`.
    pub fn from_value<V: BlockValue>(id: BlockId, value: &V) -> Result<Self, Error> {
        Self::new(id, &value.encode())
    }

    /// The ID's two characters.
    pub fn id(&self) -> &str {
        self.id.as_str()
    }

    /// The ID.
    pub const fn block_id(&self) -> BlockId {
        self.id
    }

    /// The data.
    pub fn data(&self) -> &str {
        &self.data
    }

    /// Decodes the data as a typed value.
    pub fn value<V: BlockValue>(&self) -> Result<V, Error> {
        V::decode(&self.data).map_err(|problem| Error::invalid(self.id.field(), problem))
    }

    /// The block's length as serialised (ID and length fields included).
    pub fn encoded_len(&self) -> usize {
        let short = SHORT_OVERHEAD + self.data.len();
        if short <= MAX_SHORT_LEN {
            short
        } else {
            EXTENDED_OVERHEAD + self.data.len()
        }
    }

    /// Reads one block. With `strict`, only IDs X9.143 defines are accepted and their data
    /// must have the defined format.
    pub(crate) fn read(reader: &mut Reader<'_>, strict: bool) -> Result<Self, Error> {
        let id_at = reader.position();
        let id = reader.alphanumeric(2, "optional block id")?;
        let id = BlockId([id[0], id[1]]);
        if strict && !id.is_defined() {
            return Err(Error::malformed(
                "optional block id",
                id_at,
                "not defined by X9.143 (strict import)",
            ));
        }
        let length_at = reader.position();
        let short = reader.hex_number(2, "optional block length")?;
        let (length, overhead) = if short != 0 {
            (short, SHORT_OVERHEAD)
        } else {
            let at = reader.position();
            // 04: four hex digits follow (X9.143); 02: two bytes, also four hex digits (psec).
            match reader.hex_number(2, "optional block length of length")? {
                2 | 4 => {}
                _ => {
                    return Err(Error::malformed(
                        "optional block length of length",
                        at,
                        "must be 04 (or 02)",
                    ));
                }
            }
            (
                reader.hex_number(4, "optional block extended length")?,
                EXTENDED_OVERHEAD,
            )
        };
        let Some(data_len) = length.checked_sub(overhead) else {
            return Err(Error::malformed(
                "optional block length",
                length_at,
                "shorter than the block's own ID and length",
            ));
        };
        let data_at = reader.position();
        let data = reader.printable(data_len, id.field())?;
        if strict {
            values::validate(id, data)
                .map_err(|problem| Error::malformed(id.field(), data_at, problem))?;
        }
        Ok(Self {
            id,
            data: String::from(data),
        })
    }
}

impl fmt::Display for OptionalBlock {
    /// The block as X9.143 serialises it: short length form up to `FF`, else `00 04 LLLL`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.encoded_len();
        if len <= MAX_SHORT_LEN {
            write!(f, "{}{len:02X}{}", self.id, self.data)
        } else {
            write!(f, "{}0004{len:04X}{}", self.id, self.data)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn read(text: &str) -> Result<OptionalBlock, Error> {
        OptionalBlock::read(&mut Reader::new(text.as_bytes()), false)
    }

    #[test]
    fn short_and_both_extended_forms_are_read() {
        let b = read("KS1800604B120F9292800000").unwrap();
        assert_eq!((b.id(), b.data()), ("KS", "00604B120F9292800000"));
        assert_eq!(b.to_string(), "KS1800604B120F9292800000");
        let x = read("LB0004000Dabc").unwrap();
        assert_eq!(x.data(), "abc");
        let p = read("LB0002000Dabc").unwrap();
        assert_eq!(p, x);
        // Short enough for the short form, so it is written that way.
        assert_eq!(x.to_string(), "LB07abc");
    }

    #[test]
    fn long_blocks_write_the_x9_143_extended_form() {
        let data = "A".repeat(300);
        let b = OptionalBlock::new(BlockId::LB, &data).unwrap();
        let text = b.to_string();
        assert_eq!(&text[..10], "LB00040136");
        assert_eq!(text.len(), 0x136);
        assert_eq!(read(&text).unwrap(), b);
        // 251 data characters is the largest short block.
        let edge = OptionalBlock::new(BlockId::LB, &"x".repeat(251)).unwrap();
        assert_eq!(&edge.to_string()[..4], "LBFF");
        let over = OptionalBlock::new(BlockId::LB, &"x".repeat(252)).unwrap();
        assert_eq!(&over.to_string()[..10], "LB00040106");
    }

    #[test]
    fn bad_blocks_name_field_and_position() {
        assert_eq!(
            read("K!08abcd"),
            Err(Error::malformed(
                "optional block id",
                1,
                "not a letter or digit"
            ))
        );
        assert_eq!(
            read("KS03"),
            Err(Error::malformed(
                "optional block length",
                2,
                "shorter than the block's own ID and length"
            ))
        );
        assert_eq!(
            read("KS0G"),
            Err(Error::malformed(
                "optional block length",
                3,
                "not a hex digit (0-9, A-F)"
            ))
        );
        assert_eq!(
            read("LB0003000Dabc"),
            Err(Error::malformed(
                "optional block length of length",
                4,
                "must be 04 (or 02)"
            ))
        );
        assert_eq!(
            read("LB08ab"),
            Err(Error::malformed("label", 4, "runs past the end"))
        );
        assert_eq!(
            read("LB06a\u{1}"),
            Err(Error::malformed("label", 5, "not printable ASCII"))
        );
    }

    #[test]
    fn strict_reading_refuses_undefined_ids_and_bad_formats() {
        let strict = |t: &str| OptionalBlock::read(&mut Reader::new(t.as_bytes()), true);
        assert!(read("1X08abcd").is_ok());
        assert_eq!(
            strict("1X08abcd"),
            Err(Error::malformed(
                "optional block id",
                0,
                "not defined by X9.143 (strict import)"
            ))
        );
        assert!(strict("KS1800604B120F9292800000").is_ok());
        assert!(strict("KS1700604B120F929280000").is_err());
        assert!(strict("KS1800604B120F929280000G").is_err());
    }

    #[test]
    fn constructor_checks_data() {
        assert!(OptionalBlock::new(BlockId::LB, "tab\there").is_err());
        assert!(OptionalBlock::new(BlockId::LB, &"x".repeat(0xFFFF)).is_err());
        assert!(BlockId::new("K").is_err());
        assert!(BlockId::new("K-").is_err());
        assert!(BlockId::new("9Z").unwrap().is_proprietary());
        assert!(!BlockId::new("ZZ").unwrap().is_defined());
        assert_eq!(BlockId::DEFINED.len(), 17);
    }
}
