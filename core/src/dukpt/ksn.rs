//! Key serial numbers: the TDES 10-byte KSN (X9.24-1) and the AES 12-byte KSN (X9.24-3).

use core::fmt;

use crate::{Error, hex::Hex};

/// The field name every KSN error carries.
const KSN: &str = "KSN";
/// The field name every counter error carries.
const COUNTER: &str = "KSN transaction counter";

/// A TDES DUKPT key serial number (ANSI X9.24-1): 59 bits of initial-key serial number and
/// device id, then a 21-bit transaction counter.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TdesKsn([u8; 10]);

impl TdesKsn {
    /// The number of counter bits.
    pub const COUNTER_BITS: u32 = 21;
    /// The most one-bits a valid counter has.
    pub const MAX_ONE_BITS: u32 = 10;
    /// The last valid counter: the ten high bits of the 21-bit counter.
    pub const MAX_COUNTER: u32 = 0x1F_F800;
    const COUNTER_MASK: u32 = (1 << Self::COUNTER_BITS) - 1;

    /// A KSN from 10 bytes, or from 8 bytes with the customary `FFFF` prefix left out (a
    /// 16-hex-digit KSN, which AWS Payment Cryptography also accepts).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut ksn = [0xFFu8; 10];
        match bytes.len() {
            10 => ksn.copy_from_slice(bytes),
            8 => ksn[2..].copy_from_slice(bytes),
            n => {
                return Err(Error::InvalidLength {
                    field: KSN,
                    expected: "10 bytes (20 hex digits) or 8 bytes (16 hex digits) for TDES DUKPT",
                    actual: n,
                });
            }
        }
        Ok(Self(ksn))
    }

    /// A KSN from 20 (or 16) hex digits.
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        let mut buf = [0u8; 10];
        let n = text.len() / 2;
        if !matches!(text.len(), 16 | 20) {
            return Err(Error::InvalidLength {
                field: KSN,
                expected: "20 or 16 hex digits for TDES DUKPT",
                actual: text.len(),
            });
        }
        crate::hex::decode_into(KSN, text.as_bytes(), &mut buf[..n])?;
        Self::from_bytes(&buf[..n])
    }

    /// The ten KSN bytes.
    pub fn as_bytes(&self) -> &[u8; 10] {
        &self.0
    }

    /// The 21-bit transaction counter.
    pub fn counter(&self) -> u32 {
        u32::from_be_bytes([0, self.0[7], self.0[8], self.0[9]]) & Self::COUNTER_MASK
    }

    /// The same KSN with another counter (the low 21 bits of `counter`).
    pub fn with_counter(&self, counter: u32) -> Self {
        let mut ksn = self.0;
        let c = (counter & Self::COUNTER_MASK).to_be_bytes();
        ksn[7] = (ksn[7] & 0xE0) | c[1];
        ksn[8] = c[2];
        ksn[9] = c[3];
        Self(ksn)
    }

    /// The initial KSN: this KSN with the counter cleared.
    pub fn initial(&self) -> Self {
        self.with_counter(0)
    }

    /// Checks the counter as a transaction key needs it: not zero, at most ten one-bits.
    pub fn check_counter(&self) -> Result<(), Error> {
        check_counter(
            self.counter(),
            Self::MAX_ONE_BITS,
            "at most 10 one-bits (ANSI X9.24-1)",
        )
    }

    /// The next KSN a device would use: the next counter with at most ten one-bits.
    /// Fails once the counter is exhausted.
    pub fn next(&self) -> Result<Self, Error> {
        next_counter(self.counter(), Self::MAX_ONE_BITS, Self::MAX_COUNTER)
            .map(|c| self.with_counter(c))
    }
}

/// An AES DUKPT key serial number (ANSI X9.24-3): an 8-byte initial key ID (4-byte BDK ID and
/// 4-byte derivation ID) and a 32-bit transaction counter.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AesKsn([u8; 12]);

impl AesKsn {
    /// The most one-bits a valid counter has.
    pub const MAX_ONE_BITS: u32 = 16;
    /// The last valid counter: the sixteen high bits.
    pub const MAX_COUNTER: u32 = 0xFFFF_0000;

    /// A KSN from 12 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let ksn: [u8; 12] = bytes.try_into().map_err(|_| Error::InvalidLength {
            field: KSN,
            expected: "12 bytes (24 hex digits) for AES DUKPT",
            actual: bytes.len(),
        })?;
        Ok(Self(ksn))
    }

    /// A KSN from 24 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        if text.len() != 24 {
            return Err(Error::InvalidLength {
                field: KSN,
                expected: "24 hex digits for AES DUKPT",
                actual: text.len(),
            });
        }
        let mut ksn = [0u8; 12];
        crate::hex::decode_into(KSN, text.as_bytes(), &mut ksn)?;
        Ok(Self(ksn))
    }

    /// A KSN from an initial key ID and a counter.
    pub fn new(initial_key_id: &[u8; 8], counter: u32) -> Self {
        let mut ksn = [0u8; 12];
        ksn[..8].copy_from_slice(initial_key_id);
        ksn[8..].copy_from_slice(&counter.to_be_bytes());
        Self(ksn)
    }

    /// The twelve KSN bytes.
    pub fn as_bytes(&self) -> &[u8; 12] {
        &self.0
    }

    /// The initial key ID (BDK ID and derivation ID).
    pub fn initial_key_id(&self) -> [u8; 8] {
        let mut id = [0u8; 8];
        id.copy_from_slice(&self.0[..8]);
        id
    }

    /// The 32-bit transaction counter.
    pub fn counter(&self) -> u32 {
        u32::from_be_bytes([self.0[8], self.0[9], self.0[10], self.0[11]])
    }

    /// Checks the counter as a transaction key needs it: not zero, at most sixteen one-bits.
    pub fn check_counter(&self) -> Result<(), Error> {
        check_counter(
            self.counter(),
            Self::MAX_ONE_BITS,
            "at most 16 one-bits (ANSI X9.24-3)",
        )
    }

    /// The next KSN a device would use. Fails once the counter is exhausted.
    pub fn next(&self) -> Result<Self, Error> {
        next_counter(self.counter(), Self::MAX_ONE_BITS, Self::MAX_COUNTER)
            .map(|c| Self::new(&self.initial_key_id(), c))
    }
}

/// A DUKPT key serial number of either kind, told apart by length.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ksn {
    /// A TDES KSN (10 bytes).
    Tdes(TdesKsn),
    /// An AES KSN (12 bytes).
    Aes(AesKsn),
}

impl Ksn {
    /// A KSN from hex: 16 or 20 digits for TDES DUKPT, 24 for AES DUKPT.
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        match text.len() {
            16 | 20 => TdesKsn::from_hex(text).map(Self::Tdes),
            24 => AesKsn::from_hex(text).map(Self::Aes),
            n => Err(Error::InvalidLength {
                field: KSN,
                expected: "16 or 20 hex digits (TDES DUKPT) or 24 (AES DUKPT)",
                actual: n,
            }),
        }
    }

    /// The KSN bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Tdes(k) => k.as_bytes(),
            Self::Aes(k) => k.as_bytes(),
        }
    }
}

fn check_counter(counter: u32, max_ones: u32, expected: &'static str) -> Result<(), Error> {
    if counter == 0 {
        return Err(Error::InvalidValue {
            field: COUNTER,
            reason: "the counter is zero, which names the initial key, not a transaction key",
        });
    }
    if counter.count_ones() > max_ones {
        return Err(Error::InvalidValue {
            field: COUNTER,
            reason: expected,
        });
    }
    Ok(())
}

/// The next counter with at most `max_ones` one-bits. Adding the lowest set bit of an
/// over-full counter never adds one-bits, so the search is short.
fn next_counter(counter: u32, max_ones: u32, max: u32) -> Result<u32, Error> {
    let exhausted = Error::InvalidValue {
        field: COUNTER,
        reason: "the transaction counter is exhausted; load the device with a new initial key",
    };
    if counter >= max {
        return Err(exhausted);
    }
    let mut next = counter + 1;
    while next.count_ones() > max_ones {
        next = next
            .checked_add(next & next.wrapping_neg())
            .ok_or(exhausted)?;
    }
    if next > max {
        return Err(exhausted);
    }
    Ok(next)
}

impl fmt::Debug for TdesKsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TdesKsn({})", Hex(&self.0))
    }
}

impl fmt::Display for TdesKsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Hex(&self.0).fmt(f)
    }
}

impl fmt::Debug for AesKsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AesKsn({})", Hex(&self.0))
    }
}

impl fmt::Display for AesKsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Hex(&self.0).fmt(f)
    }
}

impl fmt::Debug for Ksn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tdes(k) => k.fmt(f),
            Self::Aes(k) => k.fmt(f),
        }
    }
}
