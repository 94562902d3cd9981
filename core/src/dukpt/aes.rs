//! AES DUKPT (ANSI X9.24-3-2017), host side.
//!
//! Every key is derived by AES-ECB encryption of 16-byte derivation data under its parent
//! (X9.24-3 6.3), so the BDK is used only through [`SymmetricKey::encrypt_ecb`]: it may be a
//! handle on a token key. The keys derived from it are new material held in
//! [`DerivedKey`]s (a token would keep them as session objects, for example with
//! `CKM_AES_ECB_ENCRYPT_DATA`).
//!
//! Derivation data: version `01`, key block counter (`01`, `02` for the second block of a
//! 256-bit key), key usage (2 bytes), algorithm (2 bytes), length in bits (2 bytes), then the
//! initial key ID for the initial key, or the derivation ID (the initial key ID's right half)
//! and the 32-bit counter for every other key.

use zeroize::Zeroizing;

use super::ksn::AesKsn;
use crate::{
    Error, crypto::BlockCipher, crypto::SymmetricKey, derived::DerivedKey, key::KeyAlgorithm,
    secret::KeyMaterial,
};

/// The key usage indicator of derivation data (X9.24-3-2017 Table 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AesKeyUsage {
    /// Key encryption key (`0002`); also the DUKPT update key.
    KeyEncryptionKey,
    /// PIN encryption (`1000`).
    PinEncryption,
    /// MAC generation (`2000`): the device generates, the host verifies.
    MacGeneration,
    /// MAC verification (`2001`): the host generates, the device verifies.
    MacVerification,
    /// MAC both ways (`2002`).
    MacBoth,
    /// Data encryption, encrypt (`3000`): the device encrypts, the host decrypts.
    DataEncrypt,
    /// Data encryption, decrypt (`3001`): the host encrypts, the device decrypts.
    DataDecrypt,
    /// Data encryption both ways (`3002`).
    DataBoth,
    /// Key derivation (`8000`): the intermediate derivation keys.
    KeyDerivation,
    /// Initial key derivation (`8001`).
    InitialKey,
}

impl AesKeyUsage {
    /// The two-byte indicator.
    pub const fn indicator(self) -> u16 {
        match self {
            Self::KeyEncryptionKey => 0x0002,
            Self::PinEncryption => 0x1000,
            Self::MacGeneration => 0x2000,
            Self::MacVerification => 0x2001,
            Self::MacBoth => 0x2002,
            Self::DataEncrypt => 0x3000,
            Self::DataDecrypt => 0x3001,
            Self::DataBoth => 0x3002,
            Self::KeyDerivation => 0x8000,
            Self::InitialKey => 0x8001,
        }
    }
}

/// The type of a derived key: algorithm indicator and length (X9.24-3-2017 Tables 2 and 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AesDukptKeyType {
    /// Two-key TDES (`0000`, 128 bits).
    Tdes2,
    /// Three-key TDES (`0001`, 192 bits).
    Tdes3,
    /// AES-128 (`0002`).
    Aes128,
    /// AES-192 (`0003`).
    Aes192,
    /// AES-256 (`0004`).
    Aes256,
    /// HMAC key of 128 bits (`0005`), used with SHA-256.
    Hmac128,
    /// HMAC key of 192 bits (`0005`), used with SHA-256.
    Hmac192,
    /// HMAC key of 256 bits (`0005`), used with SHA-256.
    Hmac256,
}

impl AesDukptKeyType {
    /// The type for a TDES or AES key algorithm.
    pub fn from_algorithm(algorithm: KeyAlgorithm) -> Result<Self, Error> {
        match algorithm {
            KeyAlgorithm::Tdes2Key => Ok(Self::Tdes2),
            KeyAlgorithm::Tdes3Key => Ok(Self::Tdes3),
            KeyAlgorithm::Aes128 => Ok(Self::Aes128),
            KeyAlgorithm::Aes192 => Ok(Self::Aes192),
            KeyAlgorithm::Aes256 => Ok(Self::Aes256),
            _ => Err(Error::InvalidValue {
                field: "DUKPT derivation type",
                reason: "expected TDES_2KEY, TDES_3KEY, AES_128, AES_192 or AES_256",
            }),
        }
    }

    /// The algorithm indicator.
    pub const fn indicator(self) -> u16 {
        match self {
            Self::Tdes2 => 0x0000,
            Self::Tdes3 => 0x0001,
            Self::Aes128 => 0x0002,
            Self::Aes192 => 0x0003,
            Self::Aes256 => 0x0004,
            Self::Hmac128 | Self::Hmac192 | Self::Hmac256 => 0x0005,
        }
    }

    /// The key length in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            Self::Tdes2 | Self::Aes128 | Self::Hmac128 => 16,
            Self::Tdes3 | Self::Aes192 | Self::Hmac192 => 24,
            Self::Aes256 | Self::Hmac256 => 32,
        }
    }

    /// The algorithm of a key of this type (HMAC keys are HMAC-SHA256 keys).
    pub const fn key_algorithm(self) -> KeyAlgorithm {
        match self {
            Self::Tdes2 => KeyAlgorithm::Tdes2Key,
            Self::Tdes3 => KeyAlgorithm::Tdes3Key,
            Self::Aes128 => KeyAlgorithm::Aes128,
            Self::Aes192 => KeyAlgorithm::Aes192,
            Self::Aes256 => KeyAlgorithm::Aes256,
            Self::Hmac128 | Self::Hmac192 | Self::Hmac256 => KeyAlgorithm::HmacSha256,
        }
    }

    /// Security strength in bits, to keep working keys no stronger than their parent
    /// (X9.24-3-2017 6.1.3).
    const fn strength_bits(self) -> usize {
        match self {
            Self::Tdes2 => 80,
            Self::Tdes3 => 112,
            // An HMAC key is as strong as its length (SHA-256 caps it at 256).
            _ => self.key_len() * 8,
        }
    }
}

/// The AES key type of a BDK or derivation key handle.
fn derivation_type(key: &(impl SymmetricKey + ?Sized)) -> Result<AesDukptKeyType, Error> {
    match key.key_algorithm() {
        KeyAlgorithm::Aes128 => Ok(AesDukptKeyType::Aes128),
        KeyAlgorithm::Aes192 => Ok(AesDukptKeyType::Aes192),
        KeyAlgorithm::Aes256 => Ok(AesDukptKeyType::Aes256),
        _ => Err(Error::InvalidValue {
            field: "BDK",
            reason: "AES DUKPT derives from AES-128, AES-192 or AES-256 keys only",
        }),
    }
}

/// Derives a key of `key_type` from `parent` (X9.24-3-2017 6.3.1): one AES block per 16
/// bytes of key, the block counter incremented each time.
fn derive(
    parent: &(impl SymmetricKey + ?Sized),
    usage: AesKeyUsage,
    key_type: AesDukptKeyType,
    data: &[u8; 8],
) -> Result<DerivedKey, Error> {
    if parent.block_cipher()? != BlockCipher::Aes {
        return Err(Error::InvalidValue {
            field: "derivation key",
            reason: "AES DUKPT derivation keys are AES keys",
        });
    }
    let bits = u16::try_from(key_type.key_len() * 8).map_err(|_| Error::InvalidValue {
        field: "derived key length",
        reason: "too long",
    })?;
    let mut material = KeyMaterial::zeroed("derived key", key_type.key_len())?;
    let mut stream = Zeroizing::new([0u8; 32]);
    for (i, block) in stream.chunks_exact_mut(16).enumerate() {
        block[0] = 0x01;
        block[1] = if i == 0 { 0x01 } else { 0x02 };
        block[2..4].copy_from_slice(&usage.indicator().to_be_bytes());
        block[4..6].copy_from_slice(&key_type.indicator().to_be_bytes());
        block[6..8].copy_from_slice(&bits.to_be_bytes());
        block[8..].copy_from_slice(data);
    }
    let blocks = key_type.key_len().div_ceil(16) * 16;
    parent.encrypt_ecb(&mut stream[..blocks])?;
    material
        .expose_secret_mut()
        .copy_from_slice(&stream[..key_type.key_len()]);
    DerivedKey::new(key_type.key_algorithm(), material)
}

/// The derivation data of every key but the initial key: derivation ID and counter.
fn counter_data(initial_key_id: &[u8; 8], counter: u32) -> [u8; 8] {
    let mut data = [0u8; 8];
    data[..4].copy_from_slice(&initial_key_id[4..]);
    data[4..].copy_from_slice(&counter.to_be_bytes());
    data
}

/// The initial key of the device with `initial_key_id` (BDK ID and derivation ID), of the
/// BDK's own type.
pub fn initial_key(
    bdk: &(impl SymmetricKey + ?Sized),
    initial_key_id: &[u8; 8],
) -> Result<DerivedKey, Error> {
    derive(
        bdk,
        AesKeyUsage::InitialKey,
        derivation_type(bdk)?,
        initial_key_id,
    )
}

/// The intermediate derivation key for a counter, from the initial key, without checking the
/// counter (the update key uses the all-ones counter).
fn derivation_key_unchecked(
    initial_key: &(impl SymmetricKey + ?Sized),
    initial_key_id: &[u8; 8],
    counter: u32,
) -> Result<DerivedKey, Error> {
    let key_type = derivation_type(initial_key)?;
    let mut current: Option<DerivedKey> = None;
    let mut working = 0u32;
    for bit in (0..32).rev() {
        let shift = 1u32 << bit;
        if counter & shift == 0 {
            continue;
        }
        working |= shift;
        let data = counter_data(initial_key_id, working);
        let next = match &current {
            None => derive(initial_key, AesKeyUsage::KeyDerivation, key_type, &data)?,
            Some(parent) => derive(
                &parent.handle()?,
                AesKeyUsage::KeyDerivation,
                key_type,
                &data,
            )?,
        };
        current = Some(next);
    }
    current.ok_or(Error::InvalidValue {
        field: "KSN transaction counter",
        reason: "the counter is zero, which names the initial key, not a transaction key",
    })
}

/// The transaction (intermediate derivation) key for `ksn`, from the device's initial key.
pub fn transaction_key_from_initial(
    initial_key: &(impl SymmetricKey + ?Sized),
    ksn: &AesKsn,
) -> Result<DerivedKey, Error> {
    ksn.check_counter()?;
    derivation_key_unchecked(initial_key, &ksn.initial_key_id(), ksn.counter())
}

/// The transaction key for `ksn`, from the BDK.
pub fn transaction_key(
    bdk: &(impl SymmetricKey + ?Sized),
    ksn: &AesKsn,
) -> Result<DerivedKey, Error> {
    ksn.check_counter()?;
    let ik = initial_key(bdk, &ksn.initial_key_id())?;
    transaction_key_from_initial(&ik.handle()?, ksn)
}

/// A working key of `usage` and `key_type` from the transaction key of `ksn`. The working key
/// may not be stronger than the transaction key (X9.24-3-2017 6.1.3).
pub fn working_key(
    transaction_key: &(impl SymmetricKey + ?Sized),
    ksn: &AesKsn,
    usage: AesKeyUsage,
    key_type: AesDukptKeyType,
) -> Result<DerivedKey, Error> {
    if matches!(usage, AesKeyUsage::InitialKey) {
        return Err(Error::InvalidValue {
            field: "DUKPT key usage",
            reason: "the initial-key usage derives only initial keys",
        });
    }
    ksn.check_counter()?;
    let parent = derivation_type(transaction_key)?;
    if key_type.strength_bits() > parent.strength_bits() {
        return Err(Error::InvalidValue {
            field: "DUKPT derivation type",
            reason: "a working key may not be stronger than the BDK it derives from",
        });
    }
    derive(
        transaction_key,
        usage,
        key_type,
        &counter_data(&ksn.initial_key_id(), ksn.counter()),
    )
}

/// The DUKPT update key of a device (X9.24-3-2017 6.5): a key-encryption key of `key_type`
/// derived from the derivation key of the all-ones counter. It protects a new initial key
/// sent to the device.
pub fn update_key(
    initial_key: &(impl SymmetricKey + ?Sized),
    initial_key_id: &[u8; 8],
    key_type: AesDukptKeyType,
) -> Result<DerivedKey, Error> {
    let parent = derivation_type(initial_key)?;
    if key_type.strength_bits() > parent.strength_bits() {
        return Err(Error::InvalidValue {
            field: "DUKPT derivation type",
            reason: "an update key may not be stronger than the initial key",
        });
    }
    let all_ones = derivation_key_unchecked(initial_key, initial_key_id, u32::MAX)?;
    derive(
        &all_ones.handle()?,
        AesKeyUsage::KeyEncryptionKey,
        key_type,
        &counter_data(initial_key_id, u32::MAX),
    )
}
