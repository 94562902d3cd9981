//! DUKPT, host side: TDES DUKPT (ANSI X9.24-1:2009) and AES DUKPT (ANSI X9.24-3-2017), and
//! the DUKPT operations of AWS Payment Cryptography on top of them.
//!
//! # Keys
//!
//! A device holds an *initial key* derived from the base derivation key (BDK) and its
//! identity (the KSN with the counter cleared, or the AES initial key ID). Each transaction
//! has a *transaction key* derived from the initial key along the set bits of the KSN's
//! counter, and the transaction key yields the *working keys*: PIN, MAC and data keys. A
//! common mistake is to use the transaction key itself for PIN, MAC or data; the working key
//! is what the device used ([`working_key`]).
//!
//! # Handles and bytes
//!
//! AES DUKPT derives every key by AES-ECB encryption under its parent, so the BDK is used
//! through [`SymmetricKey`] only ([`Bdk::Aes`]) and may live in a token. TDES DUKPT cannot
//! work that way: its initial key needs the BDK XOR `C0C0C0C000000000…`, the non-reversible
//! key generation runs single DES under key halves, and the working keys are XOR variants.
//! [`Bdk::Tdes`] therefore takes the key bytes, explicitly, and a PKCS#11 backend would use
//! its token's DUKPT or XOR-derivation mechanisms for it instead.
//!
//! # Usages and variants
//!
//! AWS Payment Cryptography names a direction with [`KeyVariant`]. X9.24-3 names working keys
//! from the device's side, and X9.24-1:2009 has "request or both ways" and "response"
//! variants; [`WorkingKeyUsage::for_variant`] maps between them:
//!
//! | usage | `REQUEST`          | `RESPONSE`           | `BIDIRECTIONAL`   |
//! |-------|--------------------|----------------------|-------------------|
//! | MAC   | MAC generation / request variant | MAC verification / response variant | MAC both ways / request variant |
//! | data  | encrypt / request variant | decrypt / response variant | both ways / request variant |
//!
//! # Key serial numbers
//!
//! A TDES KSN is 10 bytes (20 hex digits; 16 digits mean the `FFFF` prefix was left out); its
//! 21-bit counter may have at most 10 one-bits. An AES KSN is 12 bytes: an 8-byte initial key
//! ID and a 32-bit counter with at most 16 one-bits. A zero counter names the initial key and
//! is refused for transaction keys. Every KSN error names the field (`KSN` or `KSN
//! transaction counter`).

pub mod aes;
use crate::names::service_enum;
mod ksn;
pub mod tdes;

pub use ksn::{AesKsn, Ksn, TdesKsn};

use core::fmt;

use self::{
    aes::{AesDukptKeyType, AesKeyUsage},
    tdes::TdesVariant,
};
use crate::{
    Error,
    crypto::{SoftwareKey, SymmetricKey, Tag},
    derived::DerivedKey,
    fields::Pan,
    key::KeyAlgorithm,
    mac::{self, MacAlgorithm, Padding},
    pin::{
        Pin,
        block::{self, EncryptedPinBlock, PinBlockFormat},
        translate::{self, TranslationContext},
    },
    rng::RandomSource,
    secret::KeyMaterial,
};

/// A base derivation key.
#[derive(Clone, Copy)]
pub enum Bdk<'a> {
    /// A two-key TDES BDK, as bytes: TDES DUKPT needs the BDK's `C0C0…` variant.
    Tdes(&'a KeyMaterial),
    /// An AES-128, AES-192 or AES-256 BDK, as a handle.
    Aes(&'a dyn SymmetricKey),
}

impl fmt::Debug for Bdk<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tdes(_) => f.write_str("Bdk::Tdes([REDACTED])"),
            Self::Aes(k) => write!(f, "Bdk::Aes({})", k.key_algorithm()),
        }
    }
}

service_enum! {
    /// The direction of a DUKPT key (AWS Payment Cryptography `DukptKeyVariant`).
    pub enum KeyVariant("DUKPT key variant") {
        /// Both directions.
        Bidirectional = "BIDIRECTIONAL",
        /// Device to host.
        Request = "REQUEST",
        /// Host to device.
        Response = "RESPONSE",
    }
}

service_enum! {
    /// What a working key is for.
    pub enum WorkingKeyUsage("DUKPT usage") {
        /// PIN encryption.
        Pin = "PIN",
        /// MAC generation by the device (TDES: the request variant).
        MacGenerate = "MAC_GENERATE",
        /// MAC verification by the device (TDES: the response variant).
        MacVerify = "MAC_VERIFY",
        /// MAC both ways (TDES: the request variant).
        MacBoth = "MAC_BOTH",
        /// Data encryption by the device (TDES: the request variant).
        DataEncrypt = "DATA_ENCRYPT",
        /// Data decryption by the device (TDES: the response variant).
        DataDecrypt = "DATA_DECRYPT",
        /// Data encryption both ways (TDES: the request variant).
        DataBoth = "DATA_BOTH",
        /// Key encryption (AES DUKPT only).
        KeyEncryption = "KEY_ENCRYPTION",
        /// Key derivation (AES DUKPT only).
        KeyDerivation = "KEY_DERIVATION",
    }
}

impl WorkingKeyUsage {
    /// The MAC usage for a key variant.
    pub const fn mac(variant: KeyVariant) -> Self {
        match variant {
            KeyVariant::Request => Self::MacGenerate,
            KeyVariant::Response => Self::MacVerify,
            KeyVariant::Bidirectional => Self::MacBoth,
        }
    }

    /// The data-encryption usage for a key variant.
    pub const fn data(variant: KeyVariant) -> Self {
        match variant {
            KeyVariant::Request => Self::DataEncrypt,
            KeyVariant::Response => Self::DataDecrypt,
            KeyVariant::Bidirectional => Self::DataBoth,
        }
    }

    const fn aes(self) -> AesKeyUsage {
        match self {
            Self::Pin => AesKeyUsage::PinEncryption,
            Self::MacGenerate => AesKeyUsage::MacGeneration,
            Self::MacVerify => AesKeyUsage::MacVerification,
            Self::MacBoth => AesKeyUsage::MacBoth,
            Self::DataEncrypt => AesKeyUsage::DataEncrypt,
            Self::DataDecrypt => AesKeyUsage::DataDecrypt,
            Self::DataBoth => AesKeyUsage::DataBoth,
            Self::KeyEncryption => AesKeyUsage::KeyEncryptionKey,
            Self::KeyDerivation => AesKeyUsage::KeyDerivation,
        }
    }

    fn tdes(self) -> Result<TdesVariant, Error> {
        match self {
            Self::Pin => Ok(TdesVariant::Pin),
            Self::MacGenerate | Self::MacBoth => Ok(TdesVariant::MacRequest),
            Self::MacVerify => Ok(TdesVariant::MacResponse),
            Self::DataEncrypt | Self::DataBoth => Ok(TdesVariant::DataRequest),
            Self::DataDecrypt => Ok(TdesVariant::DataResponse),
            Self::KeyEncryption | Self::KeyDerivation => Err(Error::UnsupportedOperation {
                operation: "TDES DUKPT key-encryption or key-derivation working key",
                reason: "ANSI X9.24-1 defines only PIN, MAC and data variants",
            }),
        }
    }
}

/// The keys of one DUKPT derivation: initial, transaction and (if asked for) working key.
#[derive(Debug)]
pub struct Derivation {
    /// The device's initial key (IPEK / IK).
    pub initial_key: DerivedKey,
    /// The transaction key (AES: intermediate derivation key) of the KSN.
    pub transaction_key: DerivedKey,
    /// The working key.
    pub working_key: Option<DerivedKey>,
}

/// The working-key algorithm to use: `derivation_type`, or by default the BDK's own type for
/// AES and two-key TDES for TDES DUKPT. HMAC working keys are named with
/// [`KeyAlgorithm::HmacSha256`] and take the BDK's length.
fn working_type(
    bdk: &Bdk<'_>,
    derivation_type: Option<KeyAlgorithm>,
) -> Result<KeyAlgorithm, Error> {
    match (bdk, derivation_type) {
        (Bdk::Tdes(_), None | Some(KeyAlgorithm::Tdes2Key)) => Ok(KeyAlgorithm::Tdes2Key),
        (Bdk::Tdes(_), Some(_)) => Err(Error::InvalidValue {
            field: "DUKPT derivation type",
            reason: "a TDES BDK derives TDES_2KEY working keys only",
        }),
        (Bdk::Aes(k), None) => Ok(k.key_algorithm()),
        (Bdk::Aes(_), Some(t)) => Ok(t),
    }
}

fn aes_key_type(bdk: &dyn SymmetricKey, algorithm: KeyAlgorithm) -> Result<AesDukptKeyType, Error> {
    match algorithm {
        KeyAlgorithm::HmacSha256 => match bdk.key_algorithm() {
            KeyAlgorithm::Aes128 => Ok(AesDukptKeyType::Hmac128),
            KeyAlgorithm::Aes192 => Ok(AesDukptKeyType::Hmac192),
            _ => Ok(AesDukptKeyType::Hmac256),
        },
        other => AesDukptKeyType::from_algorithm(other),
    }
}

/// Derives the initial, transaction and (for `Some(usage)`) working key for `ksn`.
///
/// The KSN's kind must match the BDK's (TDES KSN with a TDES BDK). `derivation_type` is the
/// working key's algorithm (AWS Payment Cryptography `DukptDerivationType`); it may not be
/// stronger than the BDK.
pub fn derive(
    bdk: Bdk<'_>,
    ksn: &Ksn,
    usage: Option<WorkingKeyUsage>,
    derivation_type: Option<KeyAlgorithm>,
) -> Result<Derivation, Error> {
    let wtype = working_type(&bdk, derivation_type)?;
    match (bdk, ksn) {
        (Bdk::Tdes(bdk), Ksn::Tdes(ksn)) => {
            let initial_key = tdes::initial_key(bdk, ksn)?;
            let transaction_key = tdes::transaction_key_from_initial(
                &KeyMaterial::from_slice("initial key", initial_key.expose_secret())?,
                ksn,
            )?;
            let working_key = match usage {
                Some(u) => Some(tdes::working_key(&transaction_key, u.tdes()?)?),
                None => None,
            };
            Ok(Derivation {
                initial_key,
                transaction_key,
                working_key,
            })
        }
        (Bdk::Aes(bdk), Ksn::Aes(ksn)) => {
            let key_type = aes_key_type(bdk, wtype)?;
            ksn.check_counter()?;
            let initial_key = aes::initial_key(bdk, &ksn.initial_key_id())?;
            let transaction_key = aes::transaction_key_from_initial(&initial_key.handle()?, ksn)?;
            let working_key = match usage {
                Some(u) => Some(aes::working_key(
                    &transaction_key.handle()?,
                    ksn,
                    u.aes(),
                    key_type,
                )?),
                None => None,
            };
            Ok(Derivation {
                initial_key,
                transaction_key,
                working_key,
            })
        }
        _ => Err(Error::InvalidValue {
            field: "KSN",
            reason: "TDES BDKs take 20-hex-digit KSNs and AES BDKs 24-hex-digit KSNs",
        }),
    }
}

/// The working key for `usage` as a handle.
pub fn working_key(
    bdk: Bdk<'_>,
    ksn: &Ksn,
    usage: WorkingKeyUsage,
    derivation_type: Option<KeyAlgorithm>,
) -> Result<SoftwareKey, Error> {
    let d = derive(bdk, ksn, Some(usage), derivation_type)?;
    d.working_key
        .ok_or(Error::InvalidValue {
            field: "DUKPT usage",
            reason: "no working key was derived",
        })?
        .handle()
}

service_enum! {
    /// A DUKPT MAC algorithm (AWS Payment Cryptography `MacAlgorithmDukpt`, plus HMAC for AES
    /// DUKPT HMAC working keys).
    pub enum DukptMacAlgorithm("DUKPT MAC algorithm") {
        /// ISO 9797-1 MAC algorithm 1 (`DukptIso9797Algorithm1`), padding method 1.
        Iso9797Algorithm1 = "ISO9797_ALGORITHM1",
        /// ISO 9797-1 MAC algorithm 3, the retail MAC (`DukptIso9797Algorithm3`), padding method 1.
        Iso9797Algorithm3 = "ISO9797_ALGORITHM3",
        /// CMAC (`DukptCmac`).
        Cmac = "CMAC",
        /// HMAC-SHA256 under an AES DUKPT HMAC working key.
        Hmac = "HMAC",
    }
}

impl DukptMacAlgorithm {
    fn mac(self) -> MacAlgorithm {
        match self {
            Self::Iso9797Algorithm1 => MacAlgorithm::Iso9797Algorithm1,
            Self::Iso9797Algorithm3 => MacAlgorithm::Iso9797Algorithm3,
            Self::Cmac => MacAlgorithm::Cmac,
            Self::Hmac => MacAlgorithm::HmacSha256,
        }
    }

    fn derivation_type(self, requested: Option<KeyAlgorithm>) -> Option<KeyAlgorithm> {
        match self {
            Self::Hmac => Some(KeyAlgorithm::HmacSha256),
            _ => requested,
        }
    }
}

/// Generates a DUKPT MAC of `message` under the MAC working key of `variant`, truncated to
/// `len` bytes (the full output when `None`). ISO 9797-1 algorithms pad with method 1, as
/// X9.24-1 and AWS Payment Cryptography do.
pub fn generate_mac(
    bdk: Bdk<'_>,
    ksn: &Ksn,
    variant: KeyVariant,
    derivation_type: Option<KeyAlgorithm>,
    algorithm: DukptMacAlgorithm,
    message: &[u8],
    len: Option<usize>,
) -> Result<Tag, Error> {
    let key = working_key(
        bdk,
        ksn,
        WorkingKeyUsage::mac(variant),
        algorithm.derivation_type(derivation_type),
    )?;
    mac::generate(&key, algorithm.mac(), message, Padding::Method1, len)
}

/// Verifies a DUKPT MAC in constant time; a mismatch is [`Error::VerificationFailed`].
pub fn verify_mac(
    bdk: Bdk<'_>,
    ksn: &Ksn,
    variant: KeyVariant,
    derivation_type: Option<KeyAlgorithm>,
    algorithm: DukptMacAlgorithm,
    message: &[u8],
    presented: &[u8],
) -> Result<(), Error> {
    let key = working_key(
        bdk,
        ksn,
        WorkingKeyUsage::mac(variant),
        algorithm.derivation_type(derivation_type),
    )?;
    mac::verify(&key, algorithm.mac(), message, Padding::Method1, presented)
}

/// A DUKPT data encryption mode (AWS Payment Cryptography `DukptEncryptionMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DukptEncryptionMode {
    /// Electronic codebook.
    Ecb,
    /// Cipher block chaining with the given IV (zero by default).
    Cbc,
}

impl DukptEncryptionMode {
    /// The mode by the service's name (`ECB`, `CBC`).
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

#[allow(clippy::too_many_arguments)] // encrypt_data's arguments and the direction.
fn crypt(
    bdk: Bdk<'_>,
    ksn: &Ksn,
    variant: KeyVariant,
    derivation_type: Option<KeyAlgorithm>,
    mode: DukptEncryptionMode,
    iv: Option<&[u8]>,
    data: &mut [u8],
    encrypt: bool,
) -> Result<(), Error> {
    let key = working_key(bdk, ksn, WorkingKeyUsage::data(variant), derivation_type)?;
    let n = key.block_cipher()?.block_len();
    match mode {
        DukptEncryptionMode::Ecb if iv.is_some() => Err(Error::InvalidValue {
            field: "IV",
            reason: "ECB takes no initialization vector",
        }),
        DukptEncryptionMode::Ecb if encrypt => key.encrypt_ecb(data),
        DukptEncryptionMode::Ecb => key.decrypt_ecb(data),
        DukptEncryptionMode::Cbc => {
            let zero = [0u8; 16];
            let iv = iv.unwrap_or(&zero[..n]);
            if encrypt {
                key.encrypt_cbc(iv, data)
            } else {
                key.decrypt_cbc(iv, data)
            }
        }
    }
}

/// Encrypts whole blocks in place under the data working key of `variant` (AWS Payment
/// Cryptography `DukptEncryptionAttributes`). The IV defaults to zero in CBC mode.
pub fn encrypt_data(
    bdk: Bdk<'_>,
    ksn: &Ksn,
    variant: KeyVariant,
    derivation_type: Option<KeyAlgorithm>,
    mode: DukptEncryptionMode,
    iv: Option<&[u8]>,
    data: &mut [u8],
) -> Result<(), Error> {
    crypt(bdk, ksn, variant, derivation_type, mode, iv, data, true)
}

/// Decrypts whole blocks in place under the data working key of `variant`.
pub fn decrypt_data(
    bdk: Bdk<'_>,
    ksn: &Ksn,
    variant: KeyVariant,
    derivation_type: Option<KeyAlgorithm>,
    mode: DukptEncryptionMode,
    iv: Option<&[u8]>,
    data: &mut [u8],
) -> Result<(), Error> {
    crypt(bdk, ksn, variant, derivation_type, mode, iv, data, false)
}

/// The DUKPT PIN working key (ISO formats 0 to 3 need a TDES one, format 4 an AES one).
fn pin_key(
    bdk: Bdk<'_>,
    ksn: &Ksn,
    derivation_type: Option<KeyAlgorithm>,
) -> Result<SoftwareKey, Error> {
    working_key(bdk, ksn, WorkingKeyUsage::Pin, derivation_type)
}

/// Encrypts a PIN block under the DUKPT PIN key, as the PIN entry device does (for tests and
/// the workbench).
pub fn encrypt_pin(
    bdk: Bdk<'_>,
    ksn: &Ksn,
    derivation_type: Option<KeyAlgorithm>,
    format: PinBlockFormat,
    pin: &Pin,
    pan: Option<&Pan>,
    fill: block::Fill<'_>,
) -> Result<EncryptedPinBlock, Error> {
    block::encrypt(&pin_key(bdk, ksn, derivation_type)?, format, pin, pan, fill)
}

/// Decrypts a PIN block encrypted under the DUKPT PIN key. Every malformed block is the one
/// uniform [`block::BAD_PIN_BLOCK`]; the PIN stays a secret type for verification.
pub fn decrypt_pin(
    bdk: Bdk<'_>,
    ksn: &Ksn,
    derivation_type: Option<KeyAlgorithm>,
    format: PinBlockFormat,
    pin_block: &EncryptedPinBlock,
    pan: Option<&Pan>,
) -> Result<Pin, Error> {
    block::decrypt(&pin_key(bdk, ksn, derivation_type)?, format, pin_block, pan)
}

/// Translates a PIN block from the DUKPT PIN key of `ksn` to a PIN encryption key (AWS
/// Payment Cryptography `TranslatePinData` with `IncomingDukptAttributes`), under the PCI PIN
/// format and PAN rules of [`translate::translate`].
#[allow(clippy::too_many_arguments)] // Mirrors TranslatePinData's incoming and outgoing halves.
pub fn translate_pin(
    bdk: Bdk<'_>,
    ksn: &Ksn,
    derivation_type: Option<KeyAlgorithm>,
    incoming: PinBlockFormat,
    pin_block: &EncryptedPinBlock,
    pan: Option<&Pan>,
    outgoing_key: &(impl SymmetricKey + ?Sized),
    outgoing: PinBlockFormat,
    rng: &mut dyn RandomSource,
) -> Result<EncryptedPinBlock, Error> {
    translate::translate(
        &pin_key(bdk, ksn, derivation_type)?,
        incoming,
        pin_block,
        pan,
        outgoing_key,
        outgoing,
        None,
        TranslationContext::Online,
        rng,
    )
}

/// Verifies a PIN block encrypted under a DUKPT PIN key against a Visa PVV (AWS Payment
/// Cryptography `VerifyPinData` with `DukptAttributes`). A wrong PIN is
/// [`Error::VerificationFailed`].
#[allow(clippy::too_many_arguments)] // VerifyPinData's fields.
pub fn verify_pin_pvv(
    bdk: Bdk<'_>,
    ksn: &Ksn,
    derivation_type: Option<KeyAlgorithm>,
    format: PinBlockFormat,
    pin_block: &EncryptedPinBlock,
    pan: &Pan,
    pvk: &(impl SymmetricKey + ?Sized),
    pvki: crate::pin::pvv::Pvki,
    pvv: &str,
) -> Result<(), Error> {
    let pin = decrypt_pin(bdk, ksn, derivation_type, format, pin_block, Some(pan))?;
    crate::pin::pvv::verify(pvk, pan, &pin, pvki, pvv)
}

#[cfg(test)]
mod tests;
