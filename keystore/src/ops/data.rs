//! `EncryptData`, `DecryptData` and `ReEncryptData` with symmetric data keys (D0), in ECB or
//! CBC mode on whole blocks (TDES: multiples of 8 bytes, AES: of 16), as the service states;
//! `EncryptData` and `DecryptData` also under DUKPT data keys of a BDK (`Dukpt`) and under the
//! EMV secure-messaging confidentiality session key of a card (`Emv`: the common session key
//! with `R` = `SessionDerivationData` from the card's master key under the issuer master key,
//! E1 or E6; ECB or CBC, CBC by default, whole 8-byte blocks), and with RSA keys
//! (`Asymmetric`, [`super::asymmetric`]).

use std::sync::Arc;

use payhsm_core::{
    crypto::SymmetricKey,
    dukpt::{self as core_dukpt, DukptEncryptionMode},
    emv::sm::{self, EmvEncryptionMode},
    secret::SecretVec,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    asymmetric::AsymmetricAttributes,
    dukpt::{self, DukptEncryptionAttributes},
    emv::{CardData, fixed},
    hex_field,
    wrapped_key::WrappedKey,
};
use crate::{
    Error,
    error::core_error,
    hsm::{Audit, Hsm},
    model::KeyRecord,
    policy::{self, roles},
    store::Store,
    wire::SecretText,
};

/// `EncryptData`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct EncryptDataInput {
    /// The data key.
    pub key_identifier: String,
    /// 2 to 4096 hex digits.
    pub plain_text: String,
    /// How to encrypt.
    pub encryption_attributes: EncryptionAttributes,
    /// The data key in a TR-31 block under the key identifier's KEK, or derived by ECDH
    /// with its ECC key pair.
    pub wrapped_key: Option<WrappedKey>,
}

/// `DecryptData`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DecryptDataInput {
    /// The data key.
    pub key_identifier: String,
    /// 2 to 4224 hex digits.
    pub cipher_text: String,
    /// How to decrypt.
    pub decryption_attributes: EncryptionAttributes,
    /// The data key in a TR-31 block under the key identifier's KEK, or derived by ECDH
    /// with its ECC key pair.
    pub wrapped_key: Option<WrappedKey>,
}

/// `ReEncryptData`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ReEncryptDataInput {
    /// The key the data arrives under.
    pub incoming_key_identifier: String,
    /// The key the data leaves under.
    pub outgoing_key_identifier: String,
    /// 2 to 4224 hex digits.
    pub cipher_text: String,
    /// How the data arrives.
    pub incoming_encryption_attributes: ReEncryptionAttributes,
    /// How the data leaves.
    pub outgoing_encryption_attributes: ReEncryptionAttributes,
    /// The incoming data key as a `WrappedKey`.
    pub incoming_wrapped_key: Option<WrappedKey>,
    /// The outgoing data key as a `WrappedKey`.
    pub outgoing_wrapped_key: Option<WrappedKey>,
}

/// `EncryptionDecryptionAttributes`: exactly one member.
#[derive(Debug, Deserialize)]
pub enum EncryptionAttributes {
    /// A symmetric data key.
    Symmetric(SymmetricAttributes),
    /// An RSA key: an imported public key encrypts, a key pair decrypts.
    Asymmetric(AsymmetricAttributes),
    /// A DUKPT data key of the BDK named by the key identifier.
    Dukpt(DukptEncryptionAttributes),
    /// The EMV secure-messaging confidentiality session key of a card.
    Emv(EmvEncryptionAttributes),
}

/// `EmvEncryptionAttributes`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct EmvEncryptionAttributes {
    /// `EMV_OPTION_A` or `EMV_OPTION_B`.
    pub major_key_derivation_mode: String,
    /// The PAN.
    pub primary_account_number: String,
    /// Two digits.
    pub pan_sequence_number: String,
    /// The session key's `R`, 16 hex digits (the application cryptogram or `ATC ‖ 00…`).
    pub session_derivation_data: String,
    /// `ECB` or `CBC` (default).
    pub mode: Option<String>,
    /// The CBC IV, 16 hex digits; zeros if absent.
    pub initialization_vector: Option<String>,
}

/// `ReEncryptionAttributes`: exactly one member, those of [`EncryptionAttributes`] less `Emv`.
/// An RSA key may be on one side only, with a symmetric or DUKPT key on the other.
#[derive(Debug, Deserialize)]
pub enum ReEncryptionAttributes {
    /// A symmetric data key.
    Symmetric(SymmetricAttributes),
    /// An RSA key: a key pair decrypts the incoming data, an imported public key encrypts the
    /// outgoing.
    Asymmetric(AsymmetricAttributes),
    /// A DUKPT data key of the BDK named by the key identifier.
    Dukpt(DukptEncryptionAttributes),
}

/// `SymmetricEncryptionAttributes`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SymmetricAttributes {
    /// `ECB` or `CBC`.
    pub mode: String,
    /// The CBC IV, one cipher block in hex; zeros if absent.
    pub initialization_vector: Option<String>,
    /// Padding (not offered: data must be whole blocks).
    pub padding_type: Option<String>,
}

enum Cipher {
    Ecb,
    Cbc(Vec<u8>),
}

impl SymmetricAttributes {
    fn parse(&self, path: &str, key: &dyn SymmetricKey) -> Result<Cipher, Error> {
        if self.padding_type.is_some() {
            return Err(Error::validation(
                &format!("{path}.PaddingType"),
                "padding is not offered; give whole cipher blocks",
            ));
        }
        let block = key
            .block_cipher()
            .map_err(|e| core_error(path, e))?
            .block_len();
        match self.mode.as_str() {
            "ECB" => {
                if self.initialization_vector.is_some() {
                    return Err(Error::validation(
                        &format!("{path}.InitializationVector"),
                        "ECB takes no IV",
                    ));
                }
                Ok(Cipher::Ecb)
            }
            "CBC" => {
                let iv = match &self.initialization_vector {
                    Some(t) => hex_field(
                        &format!("{path}.InitializationVector"),
                        t,
                        2 * block,
                        2 * block,
                    )?,
                    None => vec![0; block],
                };
                Ok(Cipher::Cbc(iv))
            }
            "CFB" | "CFB1" | "CFB8" | "CFB64" | "CFB128" | "OFB" => Err(Error::validation(
                &format!("{path}.Mode"),
                "CFB and OFB modes are not offered by this HSM yet; use ECB or CBC",
            )),
            _ => Err(Error::validation(
                &format!("{path}.Mode"),
                "expected ECB or CBC",
            )),
        }
    }
}

fn whole_blocks(path: &str, key: &dyn SymmetricKey, len: usize) -> Result<(), Error> {
    let n = key
        .block_cipher()
        .map_err(|e| core_error(path, e))?
        .block_len();
    if len.is_multiple_of(n) {
        Ok(())
    } else {
        Err(Error::validation(
            path,
            format!("expected a whole number of {n}-byte cipher blocks"),
        ))
    }
}

fn apply(
    key: &dyn SymmetricKey,
    cipher: &Cipher,
    encrypt: bool,
    data: &mut [u8],
) -> Result<(), Error> {
    let r = match (cipher, encrypt) {
        (Cipher::Ecb, true) => key.encrypt_ecb(data),
        (Cipher::Ecb, false) => key.decrypt_ecb(data),
        (Cipher::Cbc(iv), true) => key.encrypt_cbc(iv, data),
        (Cipher::Cbc(iv), false) => key.decrypt_cbc(iv, data),
    };
    r.map_err(|e| core_error("data", e))
}

/// The members of [`EncryptionAttributes`] and [`ReEncryptionAttributes`], borrowed.
#[derive(Clone, Copy)]
enum Attributes<'a> {
    Symmetric(&'a SymmetricAttributes),
    Asymmetric(&'a AsymmetricAttributes),
    Dukpt(&'a DukptEncryptionAttributes),
    Emv(&'a EmvEncryptionAttributes),
}

impl EncryptionAttributes {
    fn borrowed(&self) -> Attributes<'_> {
        match self {
            Self::Symmetric(a) => Attributes::Symmetric(a),
            Self::Asymmetric(a) => Attributes::Asymmetric(a),
            Self::Dukpt(a) => Attributes::Dukpt(a),
            Self::Emv(a) => Attributes::Emv(a),
        }
    }
}

impl ReEncryptionAttributes {
    fn borrowed(&self) -> Attributes<'_> {
        match self {
            Self::Symmetric(a) => Attributes::Symmetric(a),
            Self::Asymmetric(a) => Attributes::Asymmetric(a),
            Self::Dukpt(a) => Attributes::Dukpt(a),
        }
    }
}

/// One side of an encryption: the key (identifier and request member), its attributes
/// (request member `path`), and the working key the request may bring.
struct Side<'a> {
    key: (&'a str, &'a str),
    path: &'a str,
    attributes: Attributes<'a>,
    wrapped: Option<(&'a WrappedKey, &'a str)>,
}

/// What `EncryptData` returns.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptDataOutput {
    /// The ARN of the key used.
    pub key_arn: String,
    /// The key's check value.
    pub key_check_value: String,
    /// The encrypted data (hex).
    pub cipher_text: String,
}

/// What `DecryptData` returns.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecryptDataOutput {
    /// The ARN of the key used.
    pub key_arn: String,
    /// The key's check value.
    pub key_check_value: String,
    /// The decrypted data (hex): secret.
    pub plain_text: SecretText,
}

/// What `ReEncryptData` returns.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReEncryptDataOutput {
    /// The ARN of the key used.
    pub key_arn: String,
    /// The key's check value.
    pub key_check_value: String,
    /// The data under the outgoing key (hex).
    pub cipher_text: String,
}

impl<S: Store> Hsm<S> {
    /// Encrypts or decrypts `data` (the request member `data_path`) under the key `side`
    /// names, as its attributes say: a data key (`Symmetric`, stored or a `WrappedKey`), a
    /// DUKPT data key of a BDK (`Dukpt`), an EMV session key (`Emv`), or an RSA key
    /// (`Asymmetric`, whose output replaces `data`). Returns the key and the KCV to report.
    fn crypt_by_id(
        &self,
        side: &Side<'_>,
        data_path: &str,
        data: &mut SecretVec,
        encrypt: bool,
    ) -> Result<(Arc<KeyRecord>, String), Error> {
        let path = side.path;
        let record = self.load_in_use(side.key.0, side.key.1)?;
        if let (Some((_, wrapped_path)), false) = (
            side.wrapped,
            matches!(side.attributes, Attributes::Symmetric(_)),
        ) {
            return Err(Error::validation(
                wrapped_path,
                format!("a WrappedKey carries a symmetric data key; {path} must be Symmetric"),
            ));
        }
        let mut check_value = record.key_check_value.clone();
        match side.attributes {
            Attributes::Symmetric(a) => {
                let role = if encrypt {
                    roles::DATA_ENCRYPT
                } else {
                    roles::DATA_DECRYPT
                };
                let (wrapped, wrapped_path) = side.wrapped.unzip();
                let key = self.operation_key(
                    &record,
                    side.key,
                    &role,
                    wrapped,
                    wrapped_path.unwrap_or_default(),
                )?;
                let cipher = a.parse(&format!("{path}.Symmetric"), &*key.key)?;
                whole_blocks(data_path, &*key.key, data.len())?;
                apply(&*key.key, &cipher, encrypt, data.expose_secret_mut())?;
                check_value = key.key_check_value;
            }
            Attributes::Dukpt(d) => {
                policy::check_key(&roles::DUKPT_BDK, &record)?;
                let p = |f: &str| format!("{path}.Dukpt.{f}");
                let ksn = dukpt::ksn(&p("KeySerialNumber"), &d.key_serial_number)?;
                let variant =
                    dukpt::variant(&p("DukptKeyVariant"), d.dukpt_key_variant.as_deref())?;
                let dt = dukpt::derivation_type(
                    &p("DukptKeyDerivationType"),
                    d.dukpt_key_derivation_type.as_deref(),
                    record.attributes.key_algorithm,
                )?;
                let mode = d
                    .mode
                    .as_deref()
                    .map_or(Ok(DukptEncryptionMode::Cbc), DukptEncryptionMode::from_name)
                    .map_err(|e| core_error(&p("Mode"), e))?;
                let iv = d
                    .initialization_vector
                    .as_deref()
                    .map(|t| hex_field(&p("InitializationVector"), t, 16, 32))
                    .transpose()?;
                let bdk = self.bdk(&record)?;
                let f = if encrypt {
                    core_dukpt::encrypt_data
                } else {
                    core_dukpt::decrypt_data
                };
                f(
                    bdk.bdk(),
                    &ksn,
                    variant,
                    dt,
                    mode,
                    iv.as_deref(),
                    data.expose_secret_mut(),
                )
                .map_err(|e| core_error(data_path, e))?;
            }
            Attributes::Emv(e) => {
                let role = if encrypt {
                    roles::EMV_ENCRYPT
                } else {
                    roles::EMV_DECRYPT
                };
                policy::check_key(&role, &record)?;
                let base = format!("{path}.Emv");
                let p = |f: &str| format!("{base}.{f}");
                let card = CardData::parse(
                    &base,
                    &e.primary_account_number,
                    &e.pan_sequence_number,
                    &e.major_key_derivation_mode,
                )?;
                let derivation =
                    fixed::<8>(&p("SessionDerivationData"), &e.session_derivation_data)?;
                let mode = e
                    .mode
                    .as_deref()
                    .map_or(Ok(EmvEncryptionMode::Cbc), EmvEncryptionMode::from_name)
                    .map_err(|err| core_error(&p("Mode"), err))?;
                let iv = e
                    .initialization_vector
                    .as_deref()
                    .map(|t| hex_field(&p("InitializationVector"), t, 16, 16))
                    .transpose()?;
                if !data.len().is_multiple_of(8) {
                    return Err(Error::validation(
                        data_path,
                        "expected a whole number of 8-byte blocks (pad before encrypting)",
                    ));
                }
                let imk = self.store().open(&record)?;
                card.card()
                    .master_key(&*imk)
                    .and_then(|mk| {
                        sm::crypt_data(
                            &mk,
                            &derivation,
                            mode,
                            iv.as_deref(),
                            data.expose_secret_mut(),
                            encrypt,
                        )
                    })
                    .map_err(|err| core_error(&base, err))?;
            }
            Attributes::Asymmetric(a) => {
                let out = self.rsa_crypt(
                    &record,
                    a,
                    (&format!("{path}.Asymmetric"), data_path),
                    data.expose_secret(),
                    encrypt,
                )?;
                *data = out;
            }
        }
        Ok((record, check_value))
    }

    /// `EncryptData`.
    pub fn encrypt_data(&self, input: EncryptDataInput) -> Result<EncryptDataOutput, Error> {
        let params = || json!({ "keyIdentifier": input.key_identifier });
        self.run("EncryptData", Audit::FailuresOnly, params, || {
            let mut data =
                SecretVec::from_slice(&hex_field("PlainText", &input.plain_text, 2, 4096)?);
            let side = Side {
                key: (&input.key_identifier, "KeyIdentifier"),
                path: "EncryptionAttributes",
                attributes: input.encryption_attributes.borrowed(),
                wrapped: input.wrapped_key.as_ref().map(|w| (w, "WrappedKey")),
            };
            let (record, check_value) = self.crypt_by_id(&side, "PlainText", &mut data, true)?;
            Ok((
                EncryptDataOutput {
                    key_arn: self.arn_text(&record)?,
                    key_check_value: check_value,
                    cipher_text: payhsm_core::hex::encode(data.expose_secret()),
                },
                Vec::new(),
            ))
        })
    }

    /// `DecryptData`.
    pub fn decrypt_data(&self, input: DecryptDataInput) -> Result<DecryptDataOutput, Error> {
        let params = || json!({ "keyIdentifier": input.key_identifier });
        self.run("DecryptData", Audit::FailuresOnly, params, || {
            let mut data =
                SecretVec::from_slice(&hex_field("CipherText", &input.cipher_text, 2, 4224)?);
            let side = Side {
                key: (&input.key_identifier, "KeyIdentifier"),
                path: "DecryptionAttributes",
                attributes: input.decryption_attributes.borrowed(),
                wrapped: input.wrapped_key.as_ref().map(|w| (w, "WrappedKey")),
            };
            let (record, check_value) = self.crypt_by_id(&side, "CipherText", &mut data, false)?;
            Ok((
                DecryptDataOutput {
                    key_arn: self.arn_text(&record)?,
                    key_check_value: check_value,
                    plain_text: SecretText::new(payhsm_core::hex::encode(data.expose_secret())),
                },
                Vec::new(),
            ))
        })
    }

    /// `ReEncryptData`: decrypts with the incoming key and encrypts with the outgoing one; the
    /// clear data never leaves. Either side may be symmetric (stored or a `WrappedKey`) or
    /// DUKPT; one side may be RSA.
    pub fn re_encrypt_data(&self, input: ReEncryptDataInput) -> Result<ReEncryptDataOutput, Error> {
        let params = || {
            json!({
                "incomingKeyIdentifier": input.incoming_key_identifier,
                "outgoingKeyIdentifier": input.outgoing_key_identifier,
            })
        };
        self.run("ReEncryptData", Audit::FailuresOnly, params, || {
            if let (ReEncryptionAttributes::Asymmetric(_), ReEncryptionAttributes::Asymmetric(_)) = (
                &input.incoming_encryption_attributes,
                &input.outgoing_encryption_attributes,
            ) {
                return Err(Error::validation(
                    "OutgoingEncryptionAttributes",
                    "an RSA key re-encrypts with a symmetric or DUKPT key on the other side, \
                     not another RSA key",
                ));
            }
            let mut data =
                SecretVec::from_slice(&hex_field("CipherText", &input.cipher_text, 2, 4224)?);
            let incoming = Side {
                key: (&input.incoming_key_identifier, "IncomingKeyIdentifier"),
                path: "IncomingEncryptionAttributes",
                attributes: input.incoming_encryption_attributes.borrowed(),
                wrapped: input
                    .incoming_wrapped_key
                    .as_ref()
                    .map(|w| (w, "IncomingWrappedKey")),
            };
            let outgoing = Side {
                key: (&input.outgoing_key_identifier, "OutgoingKeyIdentifier"),
                path: "OutgoingEncryptionAttributes",
                attributes: input.outgoing_encryption_attributes.borrowed(),
                wrapped: input
                    .outgoing_wrapped_key
                    .as_ref()
                    .map(|w| (w, "OutgoingWrappedKey")),
            };
            // Both keys exist and are usable before anything is decrypted.
            self.load_all_in_use([incoming.key, outgoing.key])?;
            self.crypt_by_id(&incoming, "CipherText", &mut data, false)?;
            let (record, check_value) = self.crypt_by_id(&outgoing, "CipherText", &mut data, true)?;
            Ok((
                ReEncryptDataOutput {
                    key_arn: self.arn_text(&record)?,
                    key_check_value: check_value,
                    cipher_text: payhsm_core::hex::encode(data.expose_secret()),
                },
                Vec::new(),
            ))
        })
    }
}
