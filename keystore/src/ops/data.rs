//! `EncryptData`, `DecryptData` and `ReEncryptData` with symmetric data keys (D0), in ECB or
//! CBC mode on whole blocks (TDES: multiples of 8 bytes, AES: of 16), as the service states;
//! `EncryptData` and `DecryptData` also under DUKPT data keys of a BDK (`Dukpt`) and under the
//! EMV secure-messaging confidentiality session key of a card (`Emv`: the common session key
//! with `R` = `SessionDerivationData` from the card's master key under the issuer master key,
//! E1 or E6; ECB or CBC, CBC by default, whole 8-byte blocks), and with RSA keys
//! (`Asymmetric`, [`super::asymmetric`]).

use payhsm_core::{
    crypto::SymmetricKey,
    dukpt::{self as core_dukpt, DukptEncryptionMode},
    emv::sm::{self, EmvEncryptionMode},
    secret::SecretVec,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    asymmetric::AsymmetricAttributes,
    dukpt::{self, DukptEncryptionAttributes},
    emv::{CardData, fixed},
    hex_field,
};
use crate::{
    Error,
    error::core_error,
    hsm::{Audit, Hsm},
    model::KeyRecord,
    policy::{self, roles},
    store::Store,
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
    /// A working key under the data key (not offered).
    pub wrapped_key: Option<Value>,
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
    /// A working key under the data key (not offered).
    pub wrapped_key: Option<Value>,
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
    /// Working key incoming (not offered).
    pub incoming_wrapped_key: Option<Value>,
    /// Working key outgoing (not offered).
    pub outgoing_wrapped_key: Option<Value>,
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

/// `ReEncryptionAttributes`: exactly one member.
#[derive(Debug, Deserialize)]
pub enum ReEncryptionAttributes {
    /// A symmetric data key.
    Symmetric(SymmetricAttributes),
    /// RSA (not offered).
    Asymmetric(Value),
    /// DUKPT (not offered yet).
    Dukpt(Value),
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

fn not_offered(path: &str, offered: &str) -> Error {
    Error::validation(
        path,
        format!("this kind of encryption is not offered by this HSM yet; use {offered}"),
    )
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

impl<S: Store> Hsm<S> {
    /// Encrypts or decrypts `data` under the key `identifier` names, as `attrs` say: a data
    /// key (`Symmetric`), a DUKPT data key of a BDK (`Dukpt`), an EMV session key (`Emv`), or
    /// an RSA key (`Asymmetric`, whose output replaces `data`).
    fn crypt_by_id(
        &self,
        identifier: &str,
        path: &str,
        data_path: &str,
        attrs: &EncryptionAttributes,
        data: &mut SecretVec,
        encrypt: bool,
    ) -> Result<KeyRecord, Error> {
        let record = self.load(identifier, "KeyIdentifier")?;
        match attrs {
            EncryptionAttributes::Symmetric(a) => {
                let role = if encrypt {
                    roles::DATA_ENCRYPT
                } else {
                    roles::DATA_DECRYPT
                };
                policy::check_key(&role, &record)?;
                let key = self.store().open(&record)?;
                let cipher = a.parse(&format!("{path}.Symmetric"), &*key)?;
                whole_blocks(data_path, &*key, data.len())?;
                apply(&*key, &cipher, encrypt, data.expose_secret_mut())?;
            }
            EncryptionAttributes::Dukpt(d) => {
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
            EncryptionAttributes::Emv(e) => {
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
            EncryptionAttributes::Asymmetric(a) => {
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
        Ok(record)
    }

    /// `EncryptData`.
    pub fn encrypt_data(&self, input: EncryptDataInput) -> Result<Value, Error> {
        let params = json!({ "keyIdentifier": input.key_identifier });
        self.run("EncryptData", Audit::FailuresOnly, params, || {
            if input.wrapped_key.is_some() {
                return Err(Error::validation(
                    "WrappedKey",
                    "wrapped working keys are not offered",
                ));
            }
            let mut data =
                SecretVec::from_slice(&hex_field("PlainText", &input.plain_text, 2, 4096)?);
            let record = self.crypt_by_id(
                &input.key_identifier,
                "EncryptionAttributes",
                "PlainText",
                &input.encryption_attributes,
                &mut data,
                true,
            )?;
            Ok((
                json!({
                    "KeyArn": self.arn_text(&record)?,
                    "KeyCheckValue": record.key_check_value,
                    "CipherText": payhsm_core::hex::encode(data.expose_secret()),
                }),
                Vec::new(),
            ))
        })
    }

    /// `DecryptData`.
    pub fn decrypt_data(&self, input: DecryptDataInput) -> Result<Value, Error> {
        let params = json!({ "keyIdentifier": input.key_identifier });
        self.run("DecryptData", Audit::FailuresOnly, params, || {
            if input.wrapped_key.is_some() {
                return Err(Error::validation(
                    "WrappedKey",
                    "wrapped working keys are not offered",
                ));
            }
            let mut data =
                SecretVec::from_slice(&hex_field("CipherText", &input.cipher_text, 2, 4224)?);
            let record = self.crypt_by_id(
                &input.key_identifier,
                "DecryptionAttributes",
                "CipherText",
                &input.decryption_attributes,
                &mut data,
                false,
            )?;
            Ok((
                json!({
                    "KeyArn": self.arn_text(&record)?,
                    "KeyCheckValue": record.key_check_value,
                    "PlainText": payhsm_core::hex::encode(data.expose_secret()),
                }),
                Vec::new(),
            ))
        })
    }

    /// `ReEncryptData`: decrypts under one data key and encrypts under another; the clear
    /// data never leaves.
    pub fn re_encrypt_data(&self, input: ReEncryptDataInput) -> Result<Value, Error> {
        let params = json!({
            "incomingKeyIdentifier": input.incoming_key_identifier,
            "outgoingKeyIdentifier": input.outgoing_key_identifier,
        });
        self.run("ReEncryptData", Audit::FailuresOnly, params, || {
            if input.incoming_wrapped_key.is_some() || input.outgoing_wrapped_key.is_some() {
                return Err(Error::validation(
                    "WrappedKey",
                    "wrapped working keys are not offered",
                ));
            }
            let ReEncryptionAttributes::Symmetric(a_in) = &input.incoming_encryption_attributes
            else {
                return Err(not_offered("IncomingEncryptionAttributes", "Symmetric"));
            };
            let ReEncryptionAttributes::Symmetric(a_out) = &input.outgoing_encryption_attributes
            else {
                return Err(not_offered("OutgoingEncryptionAttributes", "Symmetric"));
            };
            let mut data =
                SecretVec::from_slice(&hex_field("CipherText", &input.cipher_text, 2, 4224)?);
            let in_record = self.load(&input.incoming_key_identifier, "IncomingKeyIdentifier")?;
            let out_record = self.load(&input.outgoing_key_identifier, "OutgoingKeyIdentifier")?;
            policy::check_key(&roles::DATA_DECRYPT, &in_record)?;
            policy::check_key(&roles::DATA_ENCRYPT, &out_record)?;
            let kin = self.store().open(&in_record)?;
            let kout = self.store().open(&out_record)?;
            let c_in = a_in.parse("IncomingEncryptionAttributes.Symmetric", &*kin)?;
            let c_out = a_out.parse("OutgoingEncryptionAttributes.Symmetric", &*kout)?;
            whole_blocks("CipherText", &*kin, data.len())?;
            whole_blocks("CipherText", &*kout, data.len())?;
            apply(&*kin, &c_in, false, data.expose_secret_mut())?;
            apply(&*kout, &c_out, true, data.expose_secret_mut())?;
            Ok((
                json!({
                    "KeyArn": self.arn_text(&out_record)?,
                    "KeyCheckValue": out_record.key_check_value,
                    "CipherText": payhsm_core::hex::encode(data.expose_secret()),
                }),
                Vec::new(),
            ))
        })
    }
}
