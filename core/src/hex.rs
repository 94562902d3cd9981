//! Hexadecimal text, the notation of every payment-cryptography interface.
//!
//! Decoding accepts upper and lower case and reports the position of the first bad character;
//! encoding writes upper case, as the standards and AWS Payment Cryptography print it.

use core::fmt;

use crate::Error;

/// Decodes `text` into `out`, which must be exactly half as long as `text`.
pub fn decode_into(field: &'static str, text: &[u8], out: &mut [u8]) -> Result<(), Error> {
    if text.len() != out.len() * 2 {
        return Err(Error::InvalidLength {
            field,
            expected: "an even number of hex digits of the right length",
            actual: text.len(),
        });
    }
    for (i, (pair, byte)) in text.chunks_exact(2).zip(out.iter_mut()).enumerate() {
        let hi = nibble(pair[0]).ok_or(Error::InvalidHex {
            field,
            position: 2 * i,
        })?;
        let lo = nibble(pair[1]).ok_or(Error::InvalidHex {
            field,
            position: 2 * i + 1,
        })?;
        *byte = (hi << 4) | lo;
    }
    Ok(())
}

/// Decodes hex text into a new vector.
#[cfg(feature = "alloc")]
pub fn decode(field: &'static str, text: &str) -> Result<alloc::vec::Vec<u8>, Error> {
    if !text.len().is_multiple_of(2) {
        return Err(Error::InvalidLength {
            field,
            expected: "an even number of hex digits",
            actual: text.len(),
        });
    }
    let mut out = alloc::vec![0u8; text.len() / 2];
    decode_into(field, text.as_bytes(), &mut out)?;
    Ok(out)
}

/// Encodes bytes as upper-case hex.
#[cfg(feature = "alloc")]
pub fn encode(bytes: &[u8]) -> alloc::string::String {
    use core::fmt::Write as _;
    let mut s = alloc::string::String::with_capacity(bytes.len() * 2);
    // Writing to a String cannot fail.
    let _ = write!(s, "{}", Hex(bytes));
    s
}

/// Displays bytes as upper-case hex.
pub struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02X}"))
    }
}

impl fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_reports_position() {
        let mut out = [0u8; 2];
        assert_eq!(
            decode_into("key", b"0G12", &mut out),
            Err(Error::InvalidHex {
                field: "key",
                position: 1
            })
        );
        decode_into("key", b"a0Ff", &mut out).unwrap();
        assert_eq!(out, [0xA0, 0xFF]);
    }

    #[test]
    fn encode_is_upper_case() {
        assert_eq!(encode(&[0xab, 0x01]), "AB01");
    }
}
