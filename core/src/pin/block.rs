//! ISO 9564-1 PIN blocks: formats 0, 1, 2 and 3 (one 8-byte block, TDES) and format 4 (a
//! 16-byte PIN field enciphered with the PAN field under AES).
//!
//! | format | PIN field                                 | combined with            |
//! |--------|-------------------------------------------|--------------------------|
//! | 0      | `0 L P…P F…F`                             | `0000` + 12 PAN digits   |
//! | 1      | `1 L P…P R…R` (R: transaction or random)  | —                        |
//! | 2      | `2 L P…P F…F` (ICC offline PIN only)      | —                        |
//! | 3      | `3 L P…P X…X` (X: random A–F)             | `0000` + 12 PAN digits   |
//! | 4      | `4 L P…P A…A` + 8 random bytes            | `M` + PAN + zeros, AES   |
//!
//! The 12 PAN digits of formats 0 and 3 are the rightmost 12 excluding the check digit. The
//! format-4 PAN field is `M` (PAN length − 12, 0 when shorter) followed by the PAN, left-padded
//! with zeros to 12 digits, then zeros; the block is `E(K, E(K, PIN field) ⊕ PAN field)`.
//!
//! Decoding checks the control nibble, the length (4–12) and the fill, and fails with one
//! uniform error whatever is wrong (T-PIN-3/T-PIN-4). It does not check that PIN digits are
//! decimal: see [`Pin`].

use crate::names::service_enum;
use core::fmt;

use subtle::{Choice, ConstantTimeEq};
use zeroize::Zeroize;

use super::{Pin, random_digits};
use crate::{
    Error,
    crypto::{BlockCipher, SymmetricKey},
    fields::Pan,
    hex::Hex,
    rng::RandomSource,
    secret::SecretBuf,
};

/// The one error every malformed or mismatched PIN block gives.
pub const BAD_PIN_BLOCK: Error = Error::InvalidValue {
    field: "PIN block",
    reason: "the block is not a valid PIN block for this format, key and PAN",
};

service_enum! {
    /// An ISO 9564-1 PIN block format.
    pub enum PinBlockFormat("PIN block format") {
        /// Format 0 (ANSI X9.8): PIN XOR PAN.
        Iso0 = "ISO_FORMAT_0",
        /// Format 1: PIN with a transaction field, no PAN.
        Iso1 = "ISO_FORMAT_1",
        /// Format 2: ICC offline PIN, no PAN.
        Iso2 = "ISO_FORMAT_2",
        /// Format 3: format 0 with random A–F fill.
        Iso3 = "ISO_FORMAT_3",
        /// Format 4: AES, 16-byte PIN field enciphered with the PAN field.
        Iso4 = "ISO_FORMAT_4",
    }
}

impl PinBlockFormat {
    /// The control nibble.
    pub const fn control(self) -> u8 {
        match self {
            Self::Iso0 => 0,
            Self::Iso1 => 1,
            Self::Iso2 => 2,
            Self::Iso3 => 3,
            Self::Iso4 => 4,
        }
    }

    /// Whether the format binds the PAN (0, 3 and 4).
    pub const fn uses_pan(self) -> bool {
        matches!(self, Self::Iso0 | Self::Iso3 | Self::Iso4)
    }

    /// The block cipher that encrypts the format: AES for 4, TDES for the others.
    pub const fn cipher(self) -> BlockCipher {
        match self {
            Self::Iso4 => BlockCipher::Aes,
            _ => BlockCipher::Tdes,
        }
    }

    /// The length in bytes of the clear block (the PIN field for format 4).
    pub const fn block_len(self) -> usize {
        match self {
            Self::Iso4 => 16,
            _ => 8,
        }
    }

    /// The number of fill nibbles a format-1 or format-3 block has for a PIN of `pin_len`.
    pub const fn fill_len(self, pin_len: usize) -> usize {
        14 - pin_len
    }
}

/// Where the fill of formats 1, 3 and 4 comes from.
pub enum Fill<'a> {
    /// Drawn from a random source (formats 1 and 3: uniform nibbles; format 4: 8 bytes).
    Random(&'a mut dyn RandomSource),
    /// Given, for known-answer tests: for format 1 the fill nibbles (hex digits), for format 3
    /// the fill nibbles (A–F), for format 4 the 8 random bytes (16 hex digits). Formats 0 and 2
    /// take no fill.
    Given(&'a str),
}

impl fmt::Debug for Fill<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Random(_) => "Fill::Random",
            Self::Given(_) => "Fill::Given",
        })
    }
}

/// A clear PIN block (formats 0–3) or format-4 PIN field: secret.
pub struct ClearPinBlock {
    format: PinBlockFormat,
    bytes: SecretBuf<16>,
}

impl ClearPinBlock {
    /// The format.
    pub fn format(&self) -> PinBlockFormat {
        self.format
    }

    /// The clear bytes. Every call site is a place where the PIN leaves its type.
    pub fn expose_secret(&self) -> &[u8] {
        self.bytes.expose_secret()
    }
}

// The inner `SecretBuf` zeroizes on drop.
impl zeroize::ZeroizeOnDrop for ClearPinBlock {}

impl fmt::Debug for ClearPinBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClearPinBlock({}, [REDACTED])", self.format)
    }
}

/// An encrypted PIN block: 8 bytes (TDES formats) or 16 (format 4).
///
/// It is not a secret in the key sense, but PCI forbids logging PIN blocks even encrypted
/// (T-PIN-12), so `Debug` does not print it; the bytes are available through
/// [`EncryptedPinBlock::as_bytes`] and `Display` (upper-case hex) for the one place that must
/// emit it.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedPinBlock {
    bytes: [u8; 16],
    len: usize,
}

impl EncryptedPinBlock {
    /// An encrypted block from its bytes (8 or 16).
    pub fn new(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() != 8 && bytes.len() != 16 {
            return Err(Error::InvalidLength {
                field: "encrypted PIN block",
                expected: "8 bytes (TDES) or 16 bytes (AES)",
                actual: bytes.len(),
            });
        }
        let mut b = [0u8; 16];
        b[..bytes.len()].copy_from_slice(bytes);
        Ok(Self {
            bytes: b,
            len: bytes.len(),
        })
    }

    /// Parses an encrypted block from hex text (16 or 32 hex digits).
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        if text.len() != 16 && text.len() != 32 {
            return Err(Error::InvalidLength {
                field: "pin block",
                expected: "16 hex digits (TDES) or 32 hex digits (AES)",
                actual: text.len(),
            });
        }
        let mut b = [0u8; 16];
        crate::hex::decode_into("pin block", text.as_bytes(), &mut b[..text.len() / 2])?;
        Self::new(&b[..text.len() / 2])
    }

    /// The encrypted bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl fmt::Display for EncryptedPinBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Hex(self.as_bytes()).fmt(f)
    }
}

impl fmt::Debug for EncryptedPinBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncryptedPinBlock([{} bytes, not shown])", self.len)
    }
}

/// The 8-byte PAN field of formats 0 and 3: `0000` and the 12 rightmost PAN digits excluding
/// the check digit.
pub fn pan_field_iso0(pan: &Pan) -> [u8; 8] {
    let digits = pan.rightmost_excluding_check(12);
    let mut nibbles = [0u8; 16];
    // A 12-digit PAN leaves 11 digits: right-aligned, zero-filled on the left.
    for (slot, d) in nibbles[16 - digits.len()..].iter_mut().zip(digits) {
        *slot = d - b'0';
    }
    pack(&nibbles)
}

/// The 16-byte PAN field of format 4 (ISO 9564-1:2017): `M` = PAN length − 12 (0 for shorter
/// PANs), the PAN left-padded with zeros to 12 digits, then zeros.
pub fn pan_field_iso4(pan: &Pan) -> [u8; 16] {
    let digits = pan.as_bytes();
    let mut nibbles = [0u8; 32];
    let m = digits.len().saturating_sub(12);
    nibbles[0] = u8::try_from(m).unwrap_or(0);
    let start = 1 + 12usize.saturating_sub(digits.len());
    for (slot, d) in nibbles[start..].iter_mut().zip(digits) {
        *slot = d - b'0';
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = (nibbles[2 * i] << 4) | nibbles[2 * i + 1];
    }
    out
}

fn pack(nibbles: &[u8; 16]) -> [u8; 8] {
    let mut out = [0u8; 8];
    for (i, b) in out.iter_mut().enumerate() {
        *b = (nibbles[2 * i] << 4) | nibbles[2 * i + 1];
    }
    out
}

fn require_pan(pan: Option<&Pan>) -> Result<&Pan, Error> {
    pan.ok_or(Error::InvalidValue {
        field: "pan",
        reason: "ISO formats 0, 3 and 4 need the PAN",
    })
}

/// Reads given fill nibbles, each within `lo..=hi`.
fn given_nibbles(text: &str, want: usize, lo: u8, hi: u8, out: &mut [u8]) -> Result<(), Error> {
    if text.len() != want {
        return Err(Error::InvalidLength {
            field: "fill",
            expected: "one fill nibble for each position after the PIN",
            actual: text.len(),
        });
    }
    for (o, c) in out.iter_mut().zip(text.bytes()) {
        let n = match c {
            b'0'..=b'9' | b'A'..=b'F' | b'a'..=b'f' => crate::fields::nibble_of(c),
            _ => {
                return Err(Error::InvalidHex {
                    field: "fill",
                    position: 0,
                });
            }
        };
        if n < lo || n > hi {
            return Err(Error::InvalidValue {
                field: "fill",
                reason: "format 3 fill nibbles must be A to F",
            });
        }
        *o = n;
    }
    Ok(())
}

/// Encodes a clear PIN block (formats 0–3) or a format-4 PIN field.
pub fn encode(
    format: PinBlockFormat,
    pin: &Pin,
    pan: Option<&Pan>,
    fill: Fill<'_>,
) -> Result<ClearPinBlock, Error> {
    // T-PIN-4: only decimal PINs of 4 to 12 digits are ever encoded.
    if !pin.is_decimal() {
        return Err(Error::InvalidValue {
            field: "pin",
            reason: "expected decimal digits only",
        });
    }
    let l = pin.len();
    let mut nibbles = [0u8; 32];
    nibbles[0] = format.control();
    nibbles[1] = u8::try_from(l).map_err(|_| BAD_PIN_BLOCK)?;
    for i in 0..l {
        nibbles[2 + i] = pin.nibble(i);
    }
    let fill_at = 2 + l;
    match format {
        PinBlockFormat::Iso0 | PinBlockFormat::Iso2 => {
            nibbles[fill_at..16].fill(0xF);
            if let Fill::Given(g) = fill
                && !g.is_empty()
            {
                return Err(Error::InvalidValue {
                    field: "fill",
                    reason: "formats 0 and 2 have no random fill",
                });
            }
        }
        PinBlockFormat::Iso1 | PinBlockFormat::Iso3 => {
            let (lo, hi) = if format == PinBlockFormat::Iso3 {
                (0xA, 0xF)
            } else {
                (0, 0xF)
            };
            let slots = &mut nibbles[fill_at..16];
            match fill {
                Fill::Random(rng) => {
                    random_digits(rng, slots, hi - lo + 1, lo)?;
                }
                Fill::Given(g) => given_nibbles(g, format.fill_len(l), lo, hi, slots)?,
            }
        }
        PinBlockFormat::Iso4 => {
            nibbles[fill_at..16].fill(0xA);
            let mut random = [0u8; 8];
            match fill {
                Fill::Random(rng) => rng.fill(&mut random)?,
                Fill::Given(g) => {
                    crate::hex::decode_into("random fill", g.as_bytes(), &mut random)?
                }
            }
            for (i, b) in random.iter().enumerate() {
                nibbles[16 + 2 * i] = b >> 4;
                nibbles[17 + 2 * i] = b & 0x0F;
            }
            random.zeroize();
        }
    }
    let n = format.block_len();
    let mut bytes = SecretBuf::<16>::zeroed("PIN block", n)?;
    for (i, b) in bytes.expose_secret_mut().iter_mut().enumerate() {
        *b = (nibbles[2 * i] << 4) | nibbles[2 * i + 1];
    }
    nibbles.zeroize();
    if matches!(format, PinBlockFormat::Iso0 | PinBlockFormat::Iso3) {
        let pan_field = pan_field_iso0(require_pan(pan)?);
        xor_into(bytes.expose_secret_mut(), &pan_field);
    }
    Ok(ClearPinBlock { format, bytes })
}

fn xor_into(dst: &mut [u8], src: &[u8]) {
    dst.iter_mut().zip(src).for_each(|(d, s)| *d ^= s);
}

/// Decodes a clear PIN block (formats 0–3) or a format-4 PIN field into the PIN.
///
/// Every malformation (control nibble, length, fill, a PAN that does not match the block)
/// gives the same [`BAD_PIN_BLOCK`]; the checks run to completion before the one decision.
pub fn decode(format: PinBlockFormat, block: &[u8], pan: Option<&Pan>) -> Result<Pin, Error> {
    if block.len() != format.block_len() {
        return Err(Error::InvalidLength {
            field: "PIN block",
            expected: "8 bytes for formats 0 to 3, 16 for the format 4 PIN field",
            actual: block.len(),
        });
    }
    let pan_field = if matches!(format, PinBlockFormat::Iso0 | PinBlockFormat::Iso3) {
        pan_field_iso0(require_pan(pan)?)
    } else {
        [0u8; 8]
    };
    // The first 8 bytes hold control, length, PIN and fill in every format (format 4's second
    // half is random and carries nothing to check).
    let mut nibbles = [0u8; 16];
    for (i, (b, p)) in block.iter().zip(pan_field.iter()).enumerate() {
        let x = b ^ p;
        nibbles[2 * i] = x >> 4;
        nibbles[2 * i + 1] = x & 0x0F;
    }
    let l = usize::from(nibbles[1]);
    let mut ok = nibbles[0].ct_eq(&format.control());
    ok &= Choice::from(u8::from((Pin::MIN_LEN..=Pin::MAX_LEN).contains(&l)));
    let l = l.clamp(Pin::MIN_LEN, Pin::MAX_LEN);
    for &n in &nibbles[2 + l..] {
        ok &= match format {
            PinBlockFormat::Iso0 | PinBlockFormat::Iso2 => n.ct_eq(&0xF),
            PinBlockFormat::Iso1 => Choice::from(1),
            PinBlockFormat::Iso3 => Choice::from(u8::from(n >= 0xA)),
            PinBlockFormat::Iso4 => n.ct_eq(&0xA),
        };
    }
    let pin = Pin::from_nibbles(&nibbles[2..2 + l]);
    nibbles.zeroize();
    if bool::from(ok) {
        pin
    } else {
        Err(BAD_PIN_BLOCK)
    }
}

fn check_key(key: &(impl SymmetricKey + ?Sized), format: PinBlockFormat) -> Result<(), Error> {
    if key.block_cipher()? != format.cipher() {
        return Err(Error::InvalidValue {
            field: "PIN encryption key",
            reason: match format {
                PinBlockFormat::Iso4 => "ISO format 4 is enciphered with an AES key",
                _ => "ISO formats 0 to 3 are enciphered with a TDES key",
            },
        });
    }
    Ok(())
}

/// Encrypts an already encoded clear block under `key` (format 4: two-field encipherment).
pub fn encrypt_clear(
    key: &(impl SymmetricKey + ?Sized),
    clear: &ClearPinBlock,
    pan: Option<&Pan>,
) -> Result<EncryptedPinBlock, Error> {
    let format = clear.format;
    check_key(key, format)?;
    let mut buf = [0u8; 16];
    let n = format.block_len();
    buf[..n].copy_from_slice(clear.expose_secret());
    key.encrypt_ecb(&mut buf[..n])?;
    if format == PinBlockFormat::Iso4 {
        xor_into(&mut buf, &pan_field_iso4(require_pan(pan)?));
        key.encrypt_ecb(&mut buf)?;
    }
    let out = EncryptedPinBlock::new(&buf[..n]);
    buf.zeroize();
    out
}

/// Encodes and encrypts a PIN block under a PIN encryption key: TDES for formats 0–3, AES for
/// format 4. Format 2 is for ICC offline PIN only; the HSM does not offer it online.
pub fn encrypt(
    key: &(impl SymmetricKey + ?Sized),
    format: PinBlockFormat,
    pin: &Pin,
    pan: Option<&Pan>,
    fill: Fill<'_>,
) -> Result<EncryptedPinBlock, Error> {
    check_key(key, format)?;
    if format.uses_pan() {
        require_pan(pan)?;
    }
    let clear = encode(format, pin, pan, fill)?;
    encrypt_clear(key, &clear, pan)
}

/// Decrypts a PIN block and decodes the PIN. Every failure after the key check is the one
/// uniform [`BAD_PIN_BLOCK`].
///
/// The HSM surface must not return the result (T-PIN-6); it is for the clear-key workbench
/// and for verification inside the HSM.
pub fn decrypt(
    key: &(impl SymmetricKey + ?Sized),
    format: PinBlockFormat,
    block: &EncryptedPinBlock,
    pan: Option<&Pan>,
) -> Result<Pin, Error> {
    check_key(key, format)?;
    if format.uses_pan() {
        require_pan(pan)?;
    }
    let n = format.block_len();
    if block.as_bytes().len() != n {
        return Err(Error::InvalidLength {
            field: "pin block",
            expected: "8 bytes for TDES formats, 16 for format 4",
            actual: block.as_bytes().len(),
        });
    }
    let mut buf = [0u8; 16];
    buf[..n].copy_from_slice(block.as_bytes());
    key.decrypt_ecb(&mut buf[..n])?;
    if format == PinBlockFormat::Iso4 {
        xor_into(&mut buf, &pan_field_iso4(require_pan(pan)?));
        key.decrypt_ecb(&mut buf)?;
    }
    let pin = decode(format, &buf[..n], pan);
    buf.zeroize();
    pin
}

#[cfg(test)]
mod tests;
