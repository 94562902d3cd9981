//! A cursor over key-block text that reads named fields and reports where they are wrong.

use alloc::vec::Vec;

use crate::Error;

pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    /// Reads `bytes`, whose first byte is position 0 of the key block.
    pub(crate) const fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, position: 0 }
    }

    pub(crate) const fn position(&self) -> usize {
        self.position
    }

    /// The next `len` bytes, or an error naming `field` if the text ends first.
    pub(crate) fn take(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], Error> {
        let start = self.position;
        let end = start
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(Error::malformed(field, start, "runs past the end"))?;
        self.position = end;
        Ok(&self.bytes[start..end])
    }

    /// `len` ASCII letters or digits.
    pub(crate) fn alphanumeric(
        &mut self,
        len: usize,
        field: &'static str,
    ) -> Result<&'a [u8], Error> {
        self.checked(
            len,
            field,
            u8::is_ascii_alphanumeric,
            "not a letter or digit",
        )
    }

    /// `len` printable ASCII characters (0x20 to 0x7E), as text.
    pub(crate) fn printable(&mut self, len: usize, field: &'static str) -> Result<&'a str, Error> {
        let start = self.position;
        let bytes = self.checked(len, field, is_printable, "not printable ASCII")?;
        core::str::from_utf8(bytes)
            .map_err(|_| Error::malformed(field, start, "not printable ASCII"))
    }

    /// A `len`-digit decimal number.
    pub(crate) fn decimal(&mut self, len: usize, field: &'static str) -> Result<usize, Error> {
        let digits = self.checked(len, field, u8::is_ascii_digit, "not a decimal digit")?;
        Ok(digits.iter().fold(0, |n, d| n * 10 + usize::from(d - b'0')))
    }

    /// A `len`-digit hexadecimal number.
    pub(crate) fn hex_number(&mut self, len: usize, field: &'static str) -> Result<usize, Error> {
        let digits = self.checked(len, field, is_hex_digit, "not a hex digit (0-9, A-F)")?;
        Ok(digits
            .iter()
            .fold(0, |n, d| n * 16 + usize::from(hex_value(*d))))
    }

    /// `len` hex digits decoded to bytes (`len` must be even).
    pub(crate) fn hex_bytes(&mut self, len: usize, field: &'static str) -> Result<Vec<u8>, Error> {
        let digits = self.checked(len, field, is_hex_digit, "not a hex digit (0-9, A-F)")?;
        Ok(digits
            .chunks_exact(2)
            .map(|pair| (hex_value(pair[0]) << 4) | hex_value(pair[1]))
            .collect())
    }

    fn checked(
        &mut self,
        len: usize,
        field: &'static str,
        valid: fn(&u8) -> bool,
        problem: &'static str,
    ) -> Result<&'a [u8], Error> {
        let start = self.position;
        let bytes = self.take(len, field)?;
        match bytes.iter().position(|b| !valid(b)) {
            Some(i) => Err(Error::malformed(field, start + i, problem)),
            None => Ok(bytes),
        }
    }
}

/// X9.143 hex is upper case. Accepting lower case too would give one key block several valid
/// spellings, so that a changed character could still unwrap.
const fn is_hex_digit(b: &u8) -> bool {
    matches!(*b, b'0'..=b'9' | b'A'..=b'F')
}

pub(crate) const fn is_printable(b: &u8) -> bool {
    matches!(*b, 0x20..=0x7E)
}

const fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'A'..=b'F' => digit - b'A' + 10,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_report_their_position() {
        let mut r = Reader::new(b"B0x8");
        assert_eq!(r.take(1, "version id").unwrap(), b"B");
        assert_eq!(
            r.decimal(3, "length field"),
            Err(Error::malformed("length field", 2, "not a decimal digit"))
        );
        let mut r = Reader::new(b"1F");
        assert_eq!(r.hex_number(2, "n").unwrap(), 0x1F);
        assert_eq!(
            r.take(1, "next"),
            Err(Error::malformed("next", 2, "runs past the end"))
        );
        let mut r = Reader::new(b"ab\x7f");
        assert_eq!(
            r.printable(3, "data"),
            Err(Error::malformed("data", 2, "not printable ASCII"))
        );
        assert_eq!(
            Reader::new(b"0AFF").hex_bytes(4, "h").unwrap(),
            [0x0A, 0xFF]
        );
        assert_eq!(
            Reader::new(b"0aFF").hex_bytes(4, "h"),
            Err(Error::malformed("h", 1, "not a hex digit (0-9, A-F)"))
        );
    }

    #[test]
    fn huge_lengths_do_not_overflow() {
        let mut r = Reader::new(b"abc");
        r.take(1, "a").unwrap();
        assert!(r.take(usize::MAX, "b").is_err());
    }
}
