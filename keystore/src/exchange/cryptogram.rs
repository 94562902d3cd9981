//! RSA key cryptograms (the service's `KeyCryptogram`): a symmetric key travels as the
//! RSAES-OAEP encryption of its raw bytes (MGF1 with the same hash, empty label), and its
//! attributes travel beside it in the request.
//!
//! Import: `GetParametersForImport` with `KEY_CRYPTOGRAM` makes a wrapping key pair of the
//! asked size (`RSA_2048`, `RSA_3072` or `RSA_4096`), certified by the region CA, behind an
//! import token of its own kind ([`super::tr34`] issues and sweeps the tokens of both). The
//! caller encrypts the key under the certificate's public key; `ImportKey` decrypts it with
//! the token's private key. Export: the caller names an imported CA and gives a wrapping
//! certificate that chains to it (with `keyEncipherment`, as a TR-34 KRD certificate), and
//! gets the key encrypted under that certificate's key.
//!
//! The cryptogram carries TDES and AES-128 keys only, and no key stronger than the RSA key
//! ([`policy::check_key_cryptogram`]); the wrapping spec is `RSA_OAEP_SHA_256` (the default)
//! or `RSA_OAEP_SHA_512`. Every check runs before the private key does, or (on export)
//! before the key is read from the store. Every decryption failure (wrong key, wrong hash,
//! bad padding) is the same `ValidationException` on `WrappedKeyCryptogram`.

use payhsm_core::{key::KeyClass, rng::OsRandom};
use payhsm_tr34::{
    cert::{self, Purpose},
    rsa::{EncryptionPadding, OaepHash},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    Error, Rule,
    exchange::{
        Incoming,
        pki::{parse_certificate, tr34_error},
        tr34::Side,
        wrapped_key,
    },
    hsm::Hsm,
    model::{KeyAttributesInput, KeyRecord},
    ops::hex_field,
    policy::{self, roles},
    store::Store,
};

/// `ImportKeyCryptogram`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ImportKeyCryptogram {
    /// The key's attributes (class `SYMMETRIC_KEY`).
    pub key_attributes: KeyAttributesInput,
    /// Whether the key may leave again.
    pub exportable: bool,
    /// The RSA-OAEP cryptogram, hex: as long as the wrapping key's modulus.
    pub wrapped_key_cryptogram: String,
    /// From `GetParametersForImport` with `KEY_CRYPTOGRAM`.
    pub import_token: String,
    /// `RSA_OAEP_SHA_256` (default) or `RSA_OAEP_SHA_512`.
    pub wrapping_spec: Option<String>,
}

/// `ExportKeyCryptogram`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ExportKeyCryptogram {
    /// The imported CA the wrapping certificate chains to.
    pub certificate_authority_public_key_identifier: String,
    /// The certificate whose RSA key the key is encrypted under, base64 of the PEM text.
    pub wrapping_key_certificate: String,
    /// `RSA_OAEP_SHA_256` (default) or `RSA_OAEP_SHA_512`.
    pub wrapping_spec: Option<String>,
}

/// The OAEP hash of a `WrappingSpec`.
fn wrapping_spec(path: &str, spec: Option<&str>) -> Result<OaepHash, Error> {
    match spec {
        None | Some("RSA_OAEP_SHA_256") => Ok(OaepHash::Sha256),
        Some("RSA_OAEP_SHA_512") => Ok(OaepHash::Sha512),
        Some(_) => Err(Error::validation(
            path,
            "expected RSA_OAEP_SHA_256 or RSA_OAEP_SHA_512",
        )),
    }
}

fn field(name: &str) -> String {
    format!("KeyMaterial.KeyCryptogram.{name}")
}

impl<S: Store> Hsm<S> {
    /// `ImportKey` with `KeyCryptogram`: the key the import token's private key decrypts.
    pub(crate) fn import_cryptogram(&self, c: &ImportKeyCryptogram) -> Result<Incoming, Error> {
        let attributes = c.key_attributes.parse(&field("KeyAttributes"))?;
        if attributes.key_class != KeyClass::SymmetricKey {
            return Err(Error::policy(
                Rule::KeyClass,
                "a key cryptogram carries a symmetric key (SYMMETRIC_KEY)",
            ));
        }
        policy::check_attributes(&attributes)?;
        let hash = wrapping_spec(&field("WrappingSpec"), c.wrapping_spec.as_deref())?;
        let path = field("WrappedKeyCryptogram");
        let cryptogram = hex_field(&path, &c.wrapped_key_cryptogram, 16, 4096)?;
        let record = self.token_key(Side::KeyCryptogram, &c.import_token, &field("ImportToken"))?;
        policy::check_key_cryptogram(record.attributes.key_algorithm, attributes.key_algorithm)?;
        let key = self.private_key(&record)?;
        let modulus_len = key.public_key().modulus_len();
        if cryptogram.len() != modulus_len {
            return Err(Error::validation(
                &path,
                format!(
                    "a cryptogram under the import token's {} key is {modulus_len} bytes ({} hex \
                     digits)",
                    record.attributes.key_algorithm,
                    2 * modulus_len
                ),
            ));
        }
        let material = key.decrypt_oaep(hash, &cryptogram).map_err(|e| match e {
            payhsm_tr34::Error::DecryptionFailed => Error::validation(
                &path,
                "the cryptogram does not decrypt under the import token's key with this \
                 WrappingSpec",
            ),
            other => tr34_error(&path, other),
        })?;
        let expected = attributes.key_algorithm.key_len();
        if expected != Some(material.len()) {
            return Err(Error::validation(
                &path,
                format!(
                    "the cryptogram holds {} bytes; a {} key is {} bytes",
                    material.len(),
                    attributes.key_algorithm,
                    expected.unwrap_or_default()
                ),
            ));
        }
        Ok(Incoming {
            attributes,
            exportable: c.exportable,
            material,
            nonce: None,
        })
    }

    /// `ExportKey` with `KeyCryptogram`: the key encrypted under a certificate that chains to
    /// an imported CA.
    pub(crate) fn export_cryptogram(
        &self,
        key: &KeyRecord,
        c: &ExportKeyCryptogram,
    ) -> Result<(Value, Vec<String>), Error> {
        let hash = wrapping_spec(&field("WrappingSpec"), c.wrapping_spec.as_deref())?;
        let (ca_record, ca) = self.ca_certificate(
            &c.certificate_authority_public_key_identifier,
            &field("CertificateAuthorityPublicKeyIdentifier"),
            &roles::KEY_CRYPTOGRAM_EXPORT_CA,
        )?;
        policy::check_exportable(key, &policy::stored_header(key)?)?;
        let path = field("WrappingKeyCertificate");
        let certificate = parse_certificate(&path, &c.wrapping_key_certificate)?;
        let public = certificate.public_key();
        policy::check_key_cryptogram(public.size().key_algorithm(), key.attributes.key_algorithm)?;
        cert::verify_chain(
            &certificate,
            &[],
            &ca,
            self.x509_now()?,
            Purpose::KrdKeyTransport,
        )
        .map_err(|e| tr34_error(&path, e))?;
        let bytes = self.store().reveal(key)?;
        let cryptogram = public
            .encrypt(
                EncryptionPadding::Oaep(hash),
                bytes.expose_secret(),
                &mut OsRandom,
            )
            .map_err(|e| tr34_error("KeyMaterial.KeyCryptogram", e))?;
        let ca_arn = self.arn_text(&ca_record)?;
        Ok((
            wrapped_key(
                key,
                &ca_arn,
                "KEY_CRYPTOGRAM",
                payhsm_core::hex::encode(&cryptogram),
            ),
            vec![self.arn_text(key)?, ca_arn],
        ))
    }
}

impl ImportKeyCryptogram {
    /// What the audit log keeps: the attributes and the wrapping spec.
    pub(crate) fn audit_json(&self) -> Value {
        json!({
            "keyAttributes": self.key_attributes.audit_json(),
            "exportable": self.exportable,
            "wrappingSpec": self.wrapping_spec,
        })
    }
}

impl ExportKeyCryptogram {
    /// What the audit log keeps: the CA and the wrapping spec.
    pub(crate) fn audit_json(&self) -> Value {
        json!({
            "certificateAuthorityPublicKeyIdentifier":
                self.certificate_authority_public_key_identifier,
            "wrappingSpec": self.wrapping_spec,
        })
    }
}
