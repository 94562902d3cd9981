//! Typed content of the optional blocks X9.143 defines (6.3.6, tables 8 to 23).
//!
//! Each type decodes from and encodes to the block's data field. Decoding is what strict import
//! runs; lenient import keeps the data as printable text and decodes only on request.

use alloc::{string::String, vec::Vec};
use core::fmt::{self, Write as _};

use payhsm_core::{
    hex::Hex,
    kcv::{KcvMethod, KeyCheckValue, X9_143_KCV_LEN},
    key::{Algorithm, Exportability, KeyUsage, ModeOfUse},
};

use super::BlockId;
use crate::reader::Reader;

/// Content of an optional block: decoded from and encoded to the block's data field.
pub trait BlockValue: Sized {
    /// Decodes the data field; the error says what is wrong.
    fn decode(data: &str) -> Result<Self, &'static str>;

    /// Encodes the data field.
    fn encode(&self) -> String;
}

/// Checks the data of a defined block against its format (strict import).
pub(crate) fn validate(id: BlockId, data: &str) -> Result<(), &'static str> {
    match id {
        BlockId::AL => AsymmetricKeyLife::decode(data).map(drop),
        BlockId::BI => BdkId::decode(data).map(drop),
        BlockId::CT => CertificateFormat::decode(data).map(drop),
        BlockId::DA => DerivationsAllowed::decode(data).map(drop),
        BlockId::HM => HmacHash::decode(data).map(drop),
        BlockId::IK => InitialKeyId::decode(data).map(drop),
        BlockId::KC | BlockId::KP | BlockId::PK => CheckValue::decode(data).map(drop),
        BlockId::KS => KeySerialNumber::decode(data).map(drop),
        BlockId::TC | BlockId::TS => Timestamp::decode(data).map(drop),
        BlockId::WP => WrappingPedigree::decode(data).map(drop),
        // FL, KV, LB, PB and proprietary blocks: printable ASCII, already checked.
        _ => Ok(()),
    }
}

fn hex(data: &str, digits: core::ops::RangeInclusive<usize>) -> Result<Vec<u8>, &'static str> {
    if !digits.contains(&data.len()) || !data.len().is_multiple_of(2) {
        return Err("wrong number of hex digits");
    }
    Reader::new(data.as_bytes())
        .hex_bytes(data.len(), "")
        .map_err(|_| "not hexadecimal")
}

fn fixed_hex<const N: usize>(data: &str) -> Result<[u8; N], &'static str> {
    hex(data, 2 * N..=2 * N)?
        .try_into()
        .map_err(|_| "wrong number of hex digits")
}

/// Splits a 2-hex-digit version or format prefix from the rest.
fn prefix(data: &str) -> Result<(u8, &str), &'static str> {
    match (data.get(..2), data.get(2..)) {
        (Some(p), Some(rest)) => Ok((fixed_hex::<1>(p)?[0], rest)),
        _ => Err("too short"),
    }
}

fn encode_hex(prefix: Option<u8>, bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 + 2 * bytes.len());
    // Writing to a String cannot fail.
    let _ = match prefix {
        Some(p) => write!(s, "{p:02X}{}", Hex(bytes)),
        None => write!(s, "{}", Hex(bytes)),
    };
    s
}

/// `KS`: the initial key serial number of a TDES DUKPT key (X9.24-3 C.2.3). X9.143 prints 10
/// bytes (20 hex digits); some writers omit the zero counter bytes and print 8.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeySerialNumber(pub Vec<u8>);

impl BlockValue for KeySerialNumber {
    fn decode(data: &str) -> Result<Self, &'static str> {
        if data.len() != 16 && data.len() != 20 {
            return Err("must be 20 (or 16) hex digits");
        }
        hex(data, 16..=20).map(Self)
    }

    fn encode(&self) -> String {
        encode_hex(None, &self.0)
    }
}

/// `IK`: the initial key identifier of an AES DUKPT key (X9.24-3 4.17): BDK ID and derivation
/// ID, 8 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InitialKeyId(pub [u8; 8]);

impl BlockValue for InitialKeyId {
    fn decode(data: &str) -> Result<Self, &'static str> {
        fixed_hex(data).map(Self)
    }

    fn encode(&self) -> String {
        encode_hex(None, &self.0)
    }
}

/// `BI`: the base derivation key identifier for DUKPT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BdkId {
    /// `00`: TDES DUKPT key set identifier (KSI), 5 bytes.
    TdesKsi([u8; 5]),
    /// `01`: AES DUKPT BDK ID, 4 bytes.
    AesBdkId([u8; 4]),
}

impl BlockValue for BdkId {
    fn decode(data: &str) -> Result<Self, &'static str> {
        match prefix(data)? {
            (0x00, ksi) => fixed_hex(ksi).map(Self::TdesKsi),
            (0x01, id) => fixed_hex(id).map(Self::AesBdkId),
            _ => Err("key type must be 00 (TDES) or 01 (AES)"),
        }
    }

    fn encode(&self) -> String {
        match self {
            Self::TdesKsi(ksi) => encode_hex(Some(0x00), ksi),
            Self::AesBdkId(id) => encode_hex(Some(0x01), id),
        }
    }
}

/// `KC`, `KP`, `PK`: a key check value with its method, `00` (legacy: encrypt zeros, at most 3
/// bytes) or `01` (CMAC, at most 5 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CheckValue {
    method: KcvMethod,
    bytes: [u8; X9_143_KCV_LEN],
    len: usize,
}

impl CheckValue {
    /// A check value from its method and bytes.
    pub fn new(method: KcvMethod, kcv: &[u8]) -> Result<Self, &'static str> {
        let max = match method {
            KcvMethod::AnsiX924 => 3,
            KcvMethod::Cmac => X9_143_KCV_LEN,
            KcvMethod::Hmac | KcvMethod::Sha1 => {
                return Err("X9.143 defines only legacy and CMAC check values");
            }
        };
        if kcv.is_empty() || kcv.len() > max {
            return Err("check value too long for its method");
        }
        let mut bytes = [0; X9_143_KCV_LEN];
        bytes[..kcv.len()].copy_from_slice(kcv);
        Ok(Self {
            method,
            bytes,
            len: kcv.len(),
        })
    }

    /// A check value computed by `payhsm_core::kcv`.
    pub fn from_kcv(method: KcvMethod, kcv: &KeyCheckValue) -> Result<Self, &'static str> {
        Self::new(method, kcv.as_bytes())
    }

    /// The method.
    pub const fn method(&self) -> KcvMethod {
        self.method
    }

    /// The check value bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl BlockValue for CheckValue {
    fn decode(data: &str) -> Result<Self, &'static str> {
        let (method, kcv) = match prefix(data)? {
            (0x00, kcv) => (KcvMethod::AnsiX924, kcv),
            (0x01, kcv) => (KcvMethod::Cmac, kcv),
            _ => return Err("check value algorithm must be 00 (legacy) or 01 (CMAC)"),
        };
        Self::new(method, &hex(kcv, 2..=2 * X9_143_KCV_LEN)?)
    }

    fn encode(&self) -> String {
        let code = match self.method {
            KcvMethod::AnsiX924 => 0x00,
            _ => 0x01,
        };
        encode_hex(Some(code), self.as_bytes())
    }
}

/// `HM`: the hash algorithm of an HMAC key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HmacHash {
    /// `10`
    Sha1,
    /// `20`
    Sha224,
    /// `21`
    Sha256,
    /// `22`
    Sha384,
    /// `23`
    Sha512,
    /// `24`
    Sha512_224,
    /// `25`
    Sha512_256,
    /// `30`
    Sha3_224,
    /// `31`
    Sha3_256,
    /// `32`
    Sha3_384,
    /// `33`
    Sha3_512,
    /// `40`
    Shake128,
    /// `41`
    Shake256,
}

impl HmacHash {
    const CODES: [(Self, u8); 13] = [
        (Self::Sha1, 0x10),
        (Self::Sha224, 0x20),
        (Self::Sha256, 0x21),
        (Self::Sha384, 0x22),
        (Self::Sha512, 0x23),
        (Self::Sha512_224, 0x24),
        (Self::Sha512_256, 0x25),
        (Self::Sha3_224, 0x30),
        (Self::Sha3_256, 0x31),
        (Self::Sha3_384, 0x32),
        (Self::Sha3_512, 0x33),
        (Self::Shake128, 0x40),
        (Self::Shake256, 0x41),
    ];

    /// The 2-hex-digit code.
    pub fn code(self) -> u8 {
        Self::CODES
            .iter()
            .find(|(h, _)| *h == self)
            .map_or(0, |(_, c)| *c)
    }
}

impl BlockValue for HmacHash {
    fn decode(data: &str) -> Result<Self, &'static str> {
        let [code] = fixed_hex::<1>(data)?;
        Self::CODES
            .iter()
            .find(|(_, c)| *c == code)
            .map(|(h, _)| *h)
            .ok_or("unknown hash algorithm")
    }

    fn encode(&self) -> String {
        encode_hex(None, &[self.code()])
    }
}

/// `TC`, `TS`: a UTC time in ISO 8601 form: `YYYYMMDDhhmmssZ`, `YYYYMMDDhhmmssffZ`,
/// `YYYY-MM-DDThh:mm:ssZ` or `YYYY-MM-DDThh:mm:ss.ffZ`. Encoded in the compact form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp {
    /// Year.
    pub year: u16,
    /// Month, 1 to 12.
    pub month: u8,
    /// Day, 1 to 31.
    pub day: u8,
    /// Hour, 0 to 23.
    pub hour: u8,
    /// Minute, 0 to 59.
    pub minute: u8,
    /// Second, 0 to 60 (leap second).
    pub second: u8,
    /// Hundredths of a second, if given.
    pub hundredths: Option<u8>,
}

impl BlockValue for Timestamp {
    fn decode(data: &str) -> Result<Self, &'static str> {
        let b = data.as_bytes();
        // Positions of the digit pairs after the 4-digit year, and of the fraction.
        let (pairs, fraction, delimiters): ([usize; 5], Option<usize>, &[(usize, u8)]) =
            match b.len() {
                15 => ([4, 6, 8, 10, 12], None, &[]),
                17 => ([4, 6, 8, 10, 12], Some(14), &[]),
                20 | 23 => (
                    [5, 8, 11, 14, 17],
                    (b.len() == 23).then_some(20),
                    &[
                        (4, b'-'),
                        (7, b'-'),
                        (10, b'T'),
                        (13, b':'),
                        (16, b':'),
                        (19, b'.'),
                    ],
                ),
                _ => return Err("not an ISO 8601 UTC time of a known length"),
            };
        if b.last() != Some(&b'Z') {
            return Err("must end in Z (UTC)");
        }
        if delimiters
            .iter()
            .filter(|(i, _)| *i < b.len() - 1)
            .any(|(i, d)| b[*i] != *d)
        {
            return Err("wrong ISO 8601 delimiter");
        }
        let digits = |at: usize, n: usize| -> Result<u16, &'static str> {
            b[at..at + n].iter().try_fold(0u16, |acc, d| {
                d.is_ascii_digit()
                    .then(|| acc * 10 + u16::from(d - b'0'))
                    .ok_or("not a decimal digit")
            })
        };
        let pair = |at: usize| -> Result<u8, &'static str> {
            digits(at, 2).map(|v| u8::try_from(v).unwrap_or(u8::MAX))
        };
        let t = Self {
            year: digits(0, 4)?,
            month: pair(pairs[0])?,
            day: pair(pairs[1])?,
            hour: pair(pairs[2])?,
            minute: pair(pairs[3])?,
            second: pair(pairs[4])?,
            hundredths: fraction.map(pair).transpose()?,
        };
        if !(1..=12).contains(&t.month)
            || !(1..=31).contains(&t.day)
            || t.hour > 23
            || t.minute > 59
            || t.second > 60
        {
            return Err("date or time out of range");
        }
        Ok(t)
    }

    fn encode(&self) -> String {
        let mut s = String::with_capacity(17);
        let _ = write!(
            s,
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        );
        if let Some(h) = self.hundredths {
            let _ = write!(s, "{h:02}");
        }
        s.push('Z');
        s
    }
}

impl fmt::Display for Timestamp {
    /// The extended form, `YYYY-MM-DDThh:mm:ssZ`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )?;
        if let Some(h) = self.hundredths {
            write!(f, ".{h:02}")?;
        }
        f.write_char('Z')
    }
}

/// `WP`: wrapping pedigree (version `00`), 0 to 3: 0 means the key was only ever wrapped by
/// keys of equal or greater strength.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WrappingPedigree(pub u8);

impl BlockValue for WrappingPedigree {
    fn decode(data: &str) -> Result<Self, &'static str> {
        match data.as_bytes() {
            [b'0', b'0', p @ b'0'..=b'3'] => Ok(Self(p - b'0')),
            _ => Err("must be version 00 and a pedigree from 0 to 3"),
        }
    }

    fn encode(&self) -> String {
        let mut s = String::from("00");
        let _ = write!(s, "{:X}", self.0);
        s
    }
}

/// `AL`: asymmetric key life (version `01`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AsymmetricKeyLife {
    /// `00`: ephemeral.
    Ephemeral,
    /// `01`: static or permanent.
    Static,
}

impl BlockValue for AsymmetricKeyLife {
    fn decode(data: &str) -> Result<Self, &'static str> {
        match data {
            "0100" => Ok(Self::Ephemeral),
            "0101" => Ok(Self::Static),
            _ => Err("must be version 01 and 00 (ephemeral) or 01 (static)"),
        }
    }

    fn encode(&self) -> String {
        String::from(match self {
            Self::Ephemeral => "0100",
            Self::Static => "0101",
        })
    }
}

/// One derivation a derivation key allows: the header fields of the derived key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Derivation {
    /// Key usage of the derived key.
    pub key_usage: KeyUsage,
    /// Algorithm of the derived key.
    pub algorithm: Algorithm,
    /// Mode of use of the derived key.
    pub mode_of_use: ModeOfUse,
    /// Exportability of the derived key.
    pub exportability: Exportability,
}

/// `DA`: derivations allowed (version `01`), for derivation keys.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DerivationsAllowed(pub Vec<Derivation>);

impl BlockValue for DerivationsAllowed {
    fn decode(data: &str) -> Result<Self, &'static str> {
        let rest = match data.strip_prefix("01") {
            Some(rest) if rest.len() % 5 == 0 => rest.as_bytes(),
            _ => return Err("must be version 01 and 5-character entries"),
        };
        rest.chunks_exact(5)
            .map(|e| {
                let bad = |_| "entry is not letters or digits";
                Ok(Derivation {
                    key_usage: KeyUsage::from_code(&e[..2]).map_err(bad)?,
                    algorithm: Algorithm::from_code(&e[2..3]).map_err(bad)?,
                    mode_of_use: ModeOfUse::from_code(&e[3..4]).map_err(bad)?,
                    exportability: Exportability::from_code(&e[4..]).map_err(bad)?,
                })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn encode(&self) -> String {
        let mut s = String::from("01");
        for d in &self.0 {
            s.push_str(d.key_usage.code_str());
            s.push_str(d.algorithm.code_str());
            s.push_str(d.mode_of_use.code_str());
            s.push_str(d.exportability.code_str());
        }
        s
    }
}

/// `CT`: the format of a public key certificate block; the certificate follows as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CertificateFormat {
    /// `00`: X.509.
    X509,
    /// `01`: EMV.
    Emv,
    /// `02`: a certificate chain.
    Chain,
}

impl BlockValue for CertificateFormat {
    fn decode(data: &str) -> Result<Self, &'static str> {
        match prefix(data)? {
            (0x00, _) => Ok(Self::X509),
            (0x01, _) => Ok(Self::Emv),
            (0x02, _) => Ok(Self::Chain),
            _ => Err("certificate format must be 00, 01 or 02"),
        }
    }

    fn encode(&self) -> String {
        String::from(match self {
            Self::X509 => "00",
            Self::Emv => "01",
            Self::Chain => "02",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<V: BlockValue + PartialEq + fmt::Debug>(data: &str) -> V {
        let v = V::decode(data).unwrap();
        assert_eq!(V::decode(&v.encode()).unwrap(), v);
        v
    }

    #[test]
    fn dukpt_identifiers() {
        assert_eq!(
            round_trip::<KeySerialNumber>("00604B120F9292800000")
                .0
                .len(),
            10
        );
        assert_eq!(round_trip::<KeySerialNumber>("00604B120F929280").0.len(), 8);
        assert!(KeySerialNumber::decode("00604B120F92928000").is_err());
        assert_eq!(round_trip::<InitialKeyId>("1234567890ABCDEF").0[7], 0xEF);
        assert_eq!(
            round_trip::<BdkId>("0012345678FF"),
            BdkId::TdesKsi([0x12, 0x34, 0x56, 0x78, 0xFF])
        );
        assert_eq!(
            round_trip::<BdkId>("0112345678"),
            BdkId::AesBdkId([0x12, 0x34, 0x56, 0x78])
        );
        assert!(BdkId::decode("0212345678").is_err());
        assert!(BdkId::decode("011234567").is_err());
    }

    #[test]
    fn check_values() {
        // X9.143-2021 8.5: KP block data.
        let kp = round_trip::<CheckValue>("012331550BC9");
        assert_eq!(kp.method(), KcvMethod::Cmac);
        assert_eq!(kp.as_bytes(), [0x23, 0x31, 0x55, 0x0B, 0xC9]);
        assert_eq!(kp.encode(), "012331550BC9");
        assert_eq!(
            round_trip::<CheckValue>("00CB9DEA").method(),
            KcvMethod::AnsiX924
        );
        assert!(
            CheckValue::decode("00CB9DEA00").is_err(),
            "legacy is at most 3 bytes"
        );
        assert!(CheckValue::decode("012331550BC9AA").is_err());
        assert!(CheckValue::decode("01").is_err());
        assert!(CheckValue::decode("02CB9DEA").is_err());
        assert!(CheckValue::new(KcvMethod::Hmac, &[1]).is_err());
    }

    #[test]
    fn timestamps_in_all_four_forms() {
        let t = round_trip::<Timestamp>("20200818004100Z");
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second),
            (2020, 8, 18, 0, 41, 0)
        );
        let x = Timestamp::decode("2017-05-17T19:41:38Z").unwrap();
        assert_eq!(x.encode(), "20170517194138Z");
        assert_eq!(
            alloc::string::ToString::to_string(&x),
            "2017-05-17T19:41:38Z"
        );
        assert_eq!(
            round_trip::<Timestamp>("2017051719413850Z").hundredths,
            Some(50)
        );
        assert_eq!(
            Timestamp::decode("2017-05-17T19:41:38.25Z")
                .unwrap()
                .hundredths,
            Some(25)
        );
        for bad in [
            "20200818004100",
            "20201318004100Z",
            "2020081800410AZ",
            "2017-05-17 19:41:38Z",
            "2017-05-17T19:41:38,25Z",
            "20200818004100ZZ",
        ] {
            assert!(Timestamp::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn small_blocks() {
        assert_eq!(round_trip::<HmacHash>("21"), HmacHash::Sha256);
        assert!(HmacHash::decode("26").is_err());
        assert_eq!(round_trip::<WrappingPedigree>("003"), WrappingPedigree(3));
        assert!(WrappingPedigree::decode("004").is_err());
        assert!(WrappingPedigree::decode("013").is_err());
        assert_eq!(
            round_trip::<AsymmetricKeyLife>("0101"),
            AsymmetricKeyLife::Static
        );
        assert!(AsymmetricKeyLife::decode("0102").is_err());
        let da = round_trip::<DerivationsAllowed>("01P0TEND0AEE");
        assert_eq!(da.0.len(), 2);
        assert_eq!(da.0[1].key_usage, KeyUsage::D0);
        assert!(DerivationsAllowed::decode("01P0TE").is_err());
        assert!(DerivationsAllowed::decode("02P0TEN").is_err());
        assert_eq!(
            CertificateFormat::decode("02MIIC").unwrap(),
            CertificateFormat::Chain
        );
        assert!(CertificateFormat::decode("03").is_err());
    }
}
