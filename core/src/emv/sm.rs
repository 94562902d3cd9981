//! Issuer script secure messaging: the script MAC (AWS Payment Cryptography `EmvMac`) and
//! EMV data encryption (`EncryptionAttributes.Emv`), EMV Book 2 §9 and A1.3.
//!
//! The session key for secure messaging comes from the integrity (SMI) or confidentiality
//! (SMC) ICC master key and a [`SessionKeyDerivationValue`]:
//!
//! | mode | session key |
//! |------|-------------|
//! | `EMV_COMMON_SESSION_KEY`, `MASTERCARD_SESSION_KEY`, `AMEX` | common derivation with `R` = the application cryptogram, or `ATC ‖ 00…00` |
//! | `VISA` | the Visa secure-messaging key from the ATC |
//! | `EMV2000` | the EMV2000 tree from the ATC |
//! | `UNION_PAY` | the UnionPay derivation from the ATC |

use super::session::{self, SessionKeyDerivation, SessionKeyMode};
use crate::{
    Error,
    crypto::{SymmetricKey, Tag},
    derived::DerivedKey,
    mac::{self, Padding},
};

/// The value a secure-messaging session key is derived from (AWS Payment Cryptography
/// `SessionKeyDerivationValue`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionKeyDerivationValue {
    /// The application cryptogram (tag 9F26).
    ApplicationCryptogram([u8; 8]),
    /// The application transaction counter (tag 9F36).
    ApplicationTransactionCounter([u8; 2]),
}

impl SessionKeyDerivationValue {
    fn r(self) -> [u8; 8] {
        match self {
            Self::ApplicationCryptogram(ac) => ac,
            Self::ApplicationTransactionCounter(atc) => [atc[0], atc[1], 0, 0, 0, 0, 0, 0],
        }
    }

    fn atc(self, mode: SessionKeyMode) -> Result<[u8; 2], Error> {
        match self {
            Self::ApplicationTransactionCounter(atc) => Ok(atc),
            Self::ApplicationCryptogram(_) => Err(Error::InvalidValue {
                field: "session key derivation value",
                reason: match mode {
                    SessionKeyMode::Visa => "VISA secure messaging derives from the ATC",
                    SessionKeyMode::Emv2000 => "EMV2000 derives from the ATC",
                    _ => "UNION_PAY derives from the ATC",
                },
            }),
        }
    }
}

/// The secure-messaging session key of `mode` from an SMI or SMC ICC master key.
pub fn secure_messaging_key(
    icc_master_key: &DerivedKey,
    mode: SessionKeyMode,
    value: SessionKeyDerivationValue,
) -> Result<DerivedKey, Error> {
    match mode {
        SessionKeyMode::EmvCommonSessionKey
        | SessionKeyMode::MastercardSessionKey
        | SessionKeyMode::Amex => {
            session::common_session_key(&icc_master_key.handle()?, &value.r())
        }
        SessionKeyMode::Visa => {
            session::visa_secure_messaging_key(icc_master_key, value.atc(mode)?)
        }
        SessionKeyMode::Emv2000 => session::session_key(
            icc_master_key,
            &SessionKeyDerivation::Emv2000 {
                atc: value.atc(mode)?,
            },
        ),
        SessionKeyMode::UnionPay => session::session_key(
            icc_master_key,
            &SessionKeyDerivation::UnionPay {
                atc: value.atc(mode)?,
            },
        ),
    }
}

/// The issuer script MAC: ISO 9797-1 MAC algorithm 3 with padding method 2 over `message`
/// (command header, ATC, application cryptogram and command data, as the scheme defines),
/// truncated to `len` bytes (4 to 8, the full 8 when `None`).
pub fn script_mac(
    session_key: &(impl SymmetricKey + ?Sized),
    message: &[u8],
    len: Option<usize>,
) -> Result<Tag, Error> {
    if let Some(n) = len
        && !(4..=8).contains(&n)
    {
        return Err(Error::InvalidLength {
            field: "MAC length",
            expected: "4 to 8 bytes",
            actual: n,
        });
    }
    mac::generate(
        session_key,
        mac::MacAlgorithm::Iso9797Algorithm3,
        message,
        Padding::Method2,
        len,
    )
}

/// The mode of EMV data encryption (AWS Payment Cryptography `EmvEncryptionMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EmvEncryptionMode {
    /// Electronic codebook.
    Ecb,
    /// Cipher block chaining with an IV (zero by default).
    Cbc,
}

impl EmvEncryptionMode {
    /// The mode by name (`ECB`, `CBC`).
    pub fn from_name(name: &str) -> Result<Self, Error> {
        match name {
            "ECB" => Ok(Self::Ecb),
            "CBC" => Ok(Self::Cbc),
            _ => Err(Error::InvalidValue {
                field: "mode",
                reason: "expected ECB or CBC",
            }),
        }
    }
}

/// EMV data encryption and decryption in place under the confidentiality session key, the
/// common session key with `R` = the 8-byte session derivation data. Data must be whole
/// 8-byte blocks (pad with `80 00…` as the card expects before calling).
pub fn crypt_data(
    icc_master_key: &DerivedKey,
    session_derivation_data: &[u8; 8],
    mode: EmvEncryptionMode,
    iv: Option<&[u8]>,
    data: &mut [u8],
    encrypt: bool,
) -> Result<(), Error> {
    let sk = session::common_session_key(&icc_master_key.handle()?, session_derivation_data)?
        .handle()?;
    crypt(&sk, mode, iv, data, encrypt)
}

/// EMV data encryption and decryption in place under an already derived confidentiality
/// session key (see [`secure_messaging_key`]): ECB, or CBC with `iv` (zero when `None`). Data
/// must be whole 8-byte blocks.
pub fn crypt(
    session_key: &(impl SymmetricKey + ?Sized),
    mode: EmvEncryptionMode,
    iv: Option<&[u8]>,
    data: &mut [u8],
    encrypt: bool,
) -> Result<(), Error> {
    match (mode, encrypt) {
        (EmvEncryptionMode::Ecb, _) if iv.is_some() => Err(Error::InvalidValue {
            field: "IV",
            reason: "ECB takes no initialization vector",
        }),
        (EmvEncryptionMode::Ecb, true) => session_key.encrypt_ecb(data),
        (EmvEncryptionMode::Ecb, false) => session_key.decrypt_ecb(data),
        (EmvEncryptionMode::Cbc, true) => session_key.encrypt_cbc(iv.unwrap_or(&[0; 8]), data),
        (EmvEncryptionMode::Cbc, false) => session_key.decrypt_cbc(iv.unwrap_or(&[0; 8]), data),
    }
}
