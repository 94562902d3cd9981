//! The attribute templates of payhsm's token objects: one function says what a key object is,
//! for creating it and for checking it when it is opened.

use cryptoki::object::{Attribute, AttributeType, CertificateType, KeyType, ObjectClass};
use payhsm_core::key::{KeyAlgorithm, KeyAttributes, KeyUsage};

use crate::{Error, policy};

/// Which object of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The key itself.
    Key,
    /// The TDES key K1‖K1 of a TDES key's first part K1 (its EDE is single DES under K1),
    /// for ISO 9797-1 MAC algorithm 3 (retail MAC, the Visa CVV): encryption only, never
    /// extractable.
    K1,
    /// The public key object of an RSA key pair (the private key object is [`Part::Key`]).
    Public,
}

/// Whether a key gets a [`Part::K1`] object: TDES keys whose usage is defined on K1 alone,
/// the card verification key (C0, Visa CVV) and the ISO 9797-1 algorithm 3 MAC key (M3).
/// Other TDES keys get none, so the token offers no single-DES oracle on their K1.
pub fn has_k1(attributes: &KeyAttributes) -> bool {
    matches!(
        attributes.key_algorithm,
        KeyAlgorithm::Tdes2Key | KeyAlgorithm::Tdes3Key
    ) && matches!(attributes.key_usage, KeyUsage::C0 | KeyUsage::M3)
}

/// The PKCS#11 key type of an algorithm.
pub fn key_type(algorithm: KeyAlgorithm) -> Result<KeyType, Error> {
    match algorithm {
        KeyAlgorithm::Tdes2Key => Ok(KeyType::DES2),
        KeyAlgorithm::Tdes3Key => Ok(KeyType::DES3),
        KeyAlgorithm::Aes128 | KeyAlgorithm::Aes192 | KeyAlgorithm::Aes256 => Ok(KeyType::AES),
        KeyAlgorithm::HmacSha224
        | KeyAlgorithm::HmacSha256
        | KeyAlgorithm::HmacSha384
        | KeyAlgorithm::HmacSha512 => Ok(KeyType::GENERIC_SECRET),
        KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => Ok(KeyType::RSA),
        _ => Err(Error::NotSupported {
            message: format!(
                "not supported by this token: the PKCS#11 store has no {algorithm} keys"
            ),
        }),
    }
}

/// What every label of payhsm's objects starts with.
pub const LABEL_PREFIX: &str = "payhsm:";

/// The object's label: `payhsm:<key id>:<TR-31 header>` (`:K1` after it for the K1 part).
/// The header states the key's usage, algorithm, mode of use and exportability, so the
/// object carries the metadata the policy layer reads, and a record whose attributes were
/// changed behind the HSM's back no longer matches its object.
pub fn label(
    key_id: &str,
    attributes: &KeyAttributes,
    exportable: bool,
    part: Part,
) -> Result<String, Error> {
    let header = policy::header_for(attributes, exportable)?;
    Ok(match part {
        Part::Key => format!("{LABEL_PREFIX}{key_id}:{header}"),
        Part::K1 => format!("{LABEL_PREFIX}{key_id}:{header}:K1"),
        Part::Public => format!("{LABEL_PREFIX}{key_id}:{header}:public"),
    })
}

/// The attributes every payhsm key object has, in a fixed order. Creation adds the value (or
/// the length to generate); opening reads these back and requires them equal.
///
/// - `CKA_TOKEN`, `CKA_PRIVATE`, `CKA_SENSITIVE` true; `CKA_MODIFIABLE` and `CKA_COPYABLE`
///   false, so no flag can be changed and no copy with other flags made.
/// - `CKA_EXTRACTABLE` only for an exportable key, and then `CKA_WRAP_WITH_TRUSTED`: it can
///   leave only wrapped under a key the security officer marked trusted.
/// - `CKA_WRAP`, `CKA_UNWRAP`, `CKA_DERIVE`, `CKA_VERIFY` false on every object: payhsm
///   builds key blocks from block-cipher and CMAC operations, so no object can both wrap and
///   decrypt, or unwrap and encrypt.
/// - `CKA_ENCRYPT` on every TDES and AES key (every payment algorithm, the KCV and the TDES
///   CMAC are encryptions), `CKA_DECRYPT` only when the modes of use allow decryption,
///   `CKA_SIGN` on AES keys (CMAC) and HMAC keys.
pub fn object(
    id: &[u8],
    key_id: &str,
    attributes: &KeyAttributes,
    exportable: bool,
    part: Part,
) -> Result<Vec<Attribute>, Error> {
    let algorithm = attributes.key_algorithm;
    let modes = &attributes.key_modes_of_use;
    let block = match key_type(algorithm)? {
        KeyType::GENERIC_SECRET => false,
        KeyType::RSA => {
            return Err(Error::internal(format!(
                "{algorithm} is a key pair, not a secret key object"
            )));
        }
        _ => true,
    };
    let (key_type, encrypt, decrypt, sign, extractable) = match part {
        Part::Key => (
            key_type(algorithm)?,
            block,
            block && (modes.decrypt || modes.no_restrictions),
            !block || matches!(key_type(algorithm)?, KeyType::AES),
            exportable,
        ),
        Part::K1 => (KeyType::DES2, true, false, false, false),
        Part::Public => return Err(Error::internal("a secret key has no public key object")),
    };
    Ok(vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(key_type),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(extractable),
        Attribute::WrapWithTrusted(extractable),
        Attribute::Modifiable(false),
        Attribute::Copyable(false),
        Attribute::Label(label(key_id, attributes, exportable, part)?.into_bytes()),
        Attribute::Id(id.to_vec()),
        Attribute::Encrypt(encrypt),
        Attribute::Decrypt(decrypt),
        Attribute::Sign(sign),
        Attribute::Verify(false),
        Attribute::Wrap(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
    ])
}

/// The private key object of an RSA key pair, in a fixed order (generation uses it as the
/// private template; opening reads these back and requires them equal).
///
/// - `CKA_TOKEN`, `CKA_PRIVATE`, `CKA_SENSITIVE` true, `CKA_EXTRACTABLE` false, whatever the
///   record's exportability: the private key never leaves the token, wrapped or not.
///   `CKA_MODIFIABLE`, `CKA_COPYABLE` false.
/// - `CKA_SIGN` only when the modes of use allow signing (S0, S1: TR-34 KDH, region CA),
///   `CKA_DECRYPT` only when they allow decryption (D1, K2: TR-34 KRD); `CKA_UNWRAP`,
///   `CKA_SIGN_RECOVER`, `CKA_DERIVE` never, so the token never unwraps a key into an object
///   payhsm did not template.
pub fn private_key(
    id: &[u8],
    key_id: &str,
    attributes: &KeyAttributes,
    exportable: bool,
) -> Result<Vec<Attribute>, Error> {
    let modes = &attributes.key_modes_of_use;
    Ok(vec![
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Modifiable(false),
        Attribute::Copyable(false),
        Attribute::Label(label(key_id, attributes, exportable, Part::Key)?.into_bytes()),
        Attribute::Id(id.to_vec()),
        Attribute::Sign(modes.sign || modes.no_restrictions),
        Attribute::Decrypt(modes.decrypt || modes.no_restrictions),
        Attribute::SignRecover(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
    ])
}

/// The public key object of an RSA key pair, in a fixed order: a token object, public
/// (`CKA_PRIVATE` false: it is the public half), unmodifiable, and with no usage at all: payhsm
/// runs public-key operations (verification, OAEP encryption) itself on the modulus and
/// exponent it reads from this object.
pub fn public_key(
    id: &[u8],
    key_id: &str,
    attributes: &KeyAttributes,
    exportable: bool,
) -> Result<Vec<Attribute>, Error> {
    Ok(vec![
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Modifiable(false),
        Attribute::Copyable(false),
        Attribute::Label(label(key_id, attributes, exportable, Part::Public)?.into_bytes()),
        Attribute::Id(id.to_vec()),
        Attribute::Verify(false),
        Attribute::Encrypt(false),
        Attribute::Wrap(false),
        Attribute::Derive(false),
    ])
}

/// The X.509 certificate object of an imported certificate (`KeyClass::PublicKey`), in a
/// fixed order: `CKO_CERTIFICATE`/`CKC_X_509`, a public token object, unmodifiable; creation
/// adds `CKA_SUBJECT` and `CKA_VALUE` (the DER).
pub fn certificate(
    id: &[u8],
    key_id: &str,
    attributes: &KeyAttributes,
    exportable: bool,
) -> Result<Vec<Attribute>, Error> {
    Ok(vec![
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Modifiable(false),
        Attribute::Label(label(key_id, attributes, exportable, Part::Key)?.into_bytes()),
        Attribute::Id(id.to_vec()),
    ])
}

/// The attribute types of [`object`], to read an object back.
pub fn types(template: &[Attribute]) -> Vec<AttributeType> {
    template.iter().map(Attribute::attribute_type).collect()
}
