//! TR-34 by key id (the service's `Tr34KeyBlock`): the HSM is the KRD of an import and the
//! KDH of an export, in the `X9_TR34_2012` form and the two-pass protocol.
//!
//! `GetParametersForImport` makes a KRD key pair (K2, `Decrypt` and `Unwrap`) of the asked size
//! and returns its certificate from the region CA ([`super::pki`]), the CA's certificate, and
//! an import token that names the key pair; `GetParametersForExport` does the same for a KDH
//! signing key pair (S0, `Sign`) and an export token.
//!
//! `GetParametersForImport` with `KEY_CRYPTOGRAM` does the same for the wrapping key pair of
//! an RSA key cryptogram ([`super::cryptogram`]), with tokens of their own kind ([`Side`]).
//!
//! Tokens follow the service's API reference: they expire 30 days after they are issued (so
//! do their certificates), and until then they may be used for any number of imports or
//! exports. `ReuseLastGeneratedToken` returns the newest unexpired token of the same kind and
//! key size instead of making a new one. Each call destroys the key pairs of expired tokens
//! (`DELETE_COMPLETE`, audited as the HSM's own `DeleteKey` event); an expired, destroyed,
//! foreign or mistyped token is refused before any cryptography.
//!
//! The random nonce is the caller's (`RandomNonce`, 16 to 32 hex digits, required): the
//! service's API carries it in the request rather than issuing it, so it proves that the
//! token was made for this request. Import tokens are reusable, so the HSM also remembers, per
//! import token and until it expires, the nonces of the imports it accepted (in the store, so
//! that a restart does not forget them), and refuses a key block whose nonce was consumed
//! with that token before: a ValidationException naming `RandomNonce`. The nonce is consumed
//! only when the key is stored, after every other check; a refused import consumes nothing.
//!
//! Import checks, before the KRD's private key runs: the CA's role (an imported S0 public key
//! with `Verify`), the token, the KDH certificate's chain to the CA and its signature over the
//! token, the nonce and the recipient; after it, the key's attributes from the key block
//! header against the attribute table, like every import, and last that the nonce is new for
//! the token. Export checks the CA's role, the
//! key's exportability and narrowing ([`policy::check_exportable`]), that the KRD's RSA key is
//! strong enough for the key ([`policy::check_wrapping_strength`]: RSA-2048 carries TDES keys,
//! RSA-3072 and RSA-4096 up to AES-128), and the KRD certificate's chain to the CA (with
//! `keyEncipherment`); only then is the key read from the store.

use std::str::FromStr as _;

use payhsm_core::{
    key::{KeyAlgorithm, KeyAttributes, KeyClass, KeyModesOfUse, KeyUsage},
    rng::OsRandom,
    secret::{KeyMaterial, SecretVec},
};
use payhsm_tr31::Version;
use payhsm_tr34::{
    KeyBlockHeader,
    cert::{self, Purpose},
    token::{self, ExportMode, ExportRequest, Form, ImportRequest},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    Error,
    arn::new_key_id,
    clock::Timestamp,
    exchange::{
        ConsumedNonce, Incoming, KeyBlockHeaders, export_header,
        pki::{certificate_text, parse_certificate, tr34_error},
        wrapped_key,
    },
    hsm::{Audit, Hsm, NewKey},
    material::rsa_size,
    model::{KeyRecord, KeyState},
    ops::hex_field,
    policy::{self, roles},
    store::Store,
};

/// How long import and export tokens (and their certificates) are valid.
pub const TOKEN_VALIDITY_DAYS: i64 = 30;

/// The key block format the service offers.
const FORMAT: &str = "X9_TR34_2012";

/// `GetParametersForImport`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GetParametersForImportInput {
    /// `TR34_KEY_BLOCK`, or `KEY_CRYPTOGRAM` ([`super::cryptogram`]).
    pub key_material_type: String,
    /// `RSA_2048`, `RSA_3072` or `RSA_4096`: the wrapping key's size (RSA-3072 or more for AES
    /// keys).
    pub wrapping_key_algorithm: String,
    /// Return the newest unexpired token of this size instead of a new one.
    pub reuse_last_generated_token: Option<bool>,
}

/// `GetParametersForExport`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct GetParametersForExportInput {
    /// `TR34_KEY_BLOCK`.
    pub key_material_type: String,
    /// `RSA_2048`, `RSA_3072` or `RSA_4096`: the KDH signing key's size.
    pub signing_key_algorithm: String,
    /// Return the newest unexpired token of this size instead of a new one.
    pub reuse_last_generated_token: Option<bool>,
}

/// `ImportTr34KeyBlock`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ImportTr34KeyBlock {
    /// The imported CA the KDH certificate chains to.
    pub certificate_authority_public_key_identifier: String,
    /// The KDH's certificate, base64 of the PEM text.
    pub signing_key_certificate: String,
    /// The token, hex.
    pub wrapped_key_block: String,
    /// `X9_TR34_2012`.
    pub key_block_format: String,
    /// From `GetParametersForImport`.
    pub import_token: Option<String>,
    /// A key pair of the caller's as the KRD (not offered: use `ImportToken`).
    pub wrapping_key_identifier: Option<String>,
    /// That key pair's certificate (not offered).
    pub wrapping_key_certificate: Option<String>,
    /// The two-pass nonce the token carries, 16 to 32 hex digits.
    pub random_nonce: Option<String>,
}

/// `ExportTr34KeyBlock`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ExportTr34KeyBlock {
    /// The imported CA the KRD certificate chains to.
    pub certificate_authority_public_key_identifier: String,
    /// The KRD's certificate, base64 of the PEM text.
    pub wrapping_key_certificate: String,
    /// `X9_TR34_2012`.
    pub key_block_format: String,
    /// From `GetParametersForExport`.
    pub export_token: Option<String>,
    /// A key pair of the caller's as the KDH (not offered: use `ExportToken`).
    pub signing_key_identifier: Option<String>,
    /// That key pair's certificate (not offered).
    pub signing_key_certificate: Option<String>,
    /// The two-pass nonce the KRD sent, 16 to 32 hex digits.
    pub random_nonce: Option<String>,
    /// Header fields that narrow the exported key.
    pub key_block_headers: Option<KeyBlockHeaders>,
}

/// What a token serves: a side of TR-34, or the import of RSA key cryptograms
/// ([`super::cryptogram`]). Each has its own key pairs and tokens, so a token of one is
/// refused by the others and `ReuseLastGeneratedToken` reuses a token of the same kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// The HSM receives (KRD).
    Import,
    /// The HSM sends (KDH).
    Export,
    /// The HSM unwraps an RSA-OAEP key cryptogram.
    KeyCryptogram,
}

impl Side {
    /// The start of the internal key ids of this side's key pairs (upper case: internal; no
    /// prefix starts another).
    const fn prefix(self) -> &'static str {
        match self {
            Self::Import => "IMPORT",
            Self::Export => "EXPORT",
            Self::KeyCryptogram => "CRYPTOGRAM",
        }
    }

    /// The start of the token, which is followed by the key id.
    const fn token_prefix(self) -> &'static str {
        match self {
            Self::Import | Self::KeyCryptogram => "import-token-",
            Self::Export => "export-token-",
        }
    }

    /// The KRD key (and the cryptogram key) transports keys; the KDH key signs.
    fn attributes(self, algorithm: KeyAlgorithm) -> KeyAttributes {
        let (key_usage, key_modes_of_use) = match self {
            Self::Import | Self::KeyCryptogram => (
                KeyUsage::K2,
                KeyModesOfUse {
                    decrypt: true,
                    unwrap: true,
                    ..KeyModesOfUse::default()
                },
            ),
            Self::Export => (
                KeyUsage::S0,
                KeyModesOfUse {
                    sign: true,
                    ..KeyModesOfUse::default()
                },
            ),
        };
        KeyAttributes {
            key_usage,
            key_class: KeyClass::AsymmetricKeyPair,
            key_algorithm: algorithm,
            key_modes_of_use,
        }
    }
}

/// When the token of `record` expires.
fn expiry(record: &KeyRecord) -> Timestamp {
    record.create_timestamp.plus_days(TOKEN_VALIDITY_DAYS)
}

fn check_format(path: &str, format: &str) -> Result<(), Error> {
    if format == FORMAT {
        Ok(())
    } else {
        Err(Error::validation(path, "expected X9_TR34_2012"))
    }
}

fn required<'a>(path: &str, value: Option<&'a String>) -> Result<&'a str, Error> {
    value
        .map(String::as_str)
        .ok_or_else(|| Error::validation(path, "required"))
}

/// The two-pass nonce: required, 8 to 16 bytes.
fn nonce(path: &str, text: Option<&String>) -> Result<Vec<u8>, Error> {
    let text = text.ok_or_else(|| {
        Error::validation(
            path,
            "required: this HSM exchanges X9_TR34_2012 tokens in the two-pass protocol",
        )
    })?;
    hex_field(path, text, 16, 32)
}

fn not_offered(path: &str, instead: &str) -> Error {
    Error::validation(
        path,
        format!("a key pair of the caller's as the HSM's TR-34 key is not offered; use {instead}"),
    )
}

impl<S: Store> Hsm<S> {
    /// `GetParametersForImport`: a KRD key pair and certificate behind an import token.
    pub fn get_parameters_for_import(
        &self,
        input: GetParametersForImportInput,
    ) -> Result<Value, Error> {
        let params = json!({
            "keyMaterialType": input.key_material_type,
            "wrappingKeyAlgorithm": input.wrapping_key_algorithm,
            "reuseLastGeneratedToken": input.reuse_last_generated_token,
        });
        self.run("GetParametersForImport", Audit::Write, params, || {
            let p = self.parameters(
                Side::Import,
                &input.key_material_type,
                ("WrappingKeyAlgorithm", &input.wrapping_key_algorithm),
                input.reuse_last_generated_token.unwrap_or(false),
            )?;
            Ok((
                json!({
                    "WrappingKeyCertificate": p.certificate,
                    "WrappingKeyCertificateChain": p.chain,
                    "WrappingKeyAlgorithm": p.algorithm.name(),
                    "ImportToken": p.token,
                    "ParametersValidUntilTimestamp": p.valid_until.as_epoch_seconds(),
                }),
                Vec::new(),
            ))
        })
    }

    /// `GetParametersForExport`: a KDH signing key pair and certificate behind an export
    /// token.
    pub fn get_parameters_for_export(
        &self,
        input: GetParametersForExportInput,
    ) -> Result<Value, Error> {
        let params = json!({
            "keyMaterialType": input.key_material_type,
            "signingKeyAlgorithm": input.signing_key_algorithm,
            "reuseLastGeneratedToken": input.reuse_last_generated_token,
        });
        self.run("GetParametersForExport", Audit::Write, params, || {
            let p = self.parameters(
                Side::Export,
                &input.key_material_type,
                ("SigningKeyAlgorithm", &input.signing_key_algorithm),
                input.reuse_last_generated_token.unwrap_or(false),
            )?;
            Ok((
                json!({
                    "SigningKeyCertificate": p.certificate,
                    "SigningKeyCertificateChain": p.chain,
                    "SigningKeyAlgorithm": p.algorithm.name(),
                    "ExportToken": p.token,
                    "ParametersValidUntilTimestamp": p.valid_until.as_epoch_seconds(),
                }),
                Vec::new(),
            ))
        })
    }

    /// The parameters of `side`: the newest unexpired ones of the size if `reuse`, new ones
    /// otherwise.
    fn parameters(
        &self,
        side: Side,
        material_type: &str,
        (field, algorithm): (&str, &str),
        reuse: bool,
    ) -> Result<Parameters, Error> {
        let side = match (material_type, side) {
            ("TR34_KEY_BLOCK", side) => side,
            ("KEY_CRYPTOGRAM", Side::Import) => Side::KeyCryptogram,
            ("KEY_CRYPTOGRAM", _) => {
                return Err(Error::validation(
                    "KeyMaterialType",
                    "a key cryptogram export needs no parameters: ExportKey takes the \
                     wrapping key's certificate (KeyMaterial.KeyCryptogram)",
                ));
            }
            _ => {
                return Err(Error::validation(
                    "KeyMaterialType",
                    "only TR34_KEY_BLOCK and KEY_CRYPTOGRAM need parameters; TR-31 blocks and \
                     certificates are imported and exported without them",
                ));
            }
        };
        let algorithm = KeyAlgorithm::from_name(algorithm)
            .ok()
            .filter(|a| rsa_size(*a).is_some())
            .ok_or_else(|| Error::validation(field, "expected RSA_2048, RSA_3072 or RSA_4096"))?;
        let ca = self.authority()?;
        let newest = self.sweep_parameters(side, algorithm)?;
        let record = match newest.filter(|_| reuse) {
            Some(record) => record,
            None => {
                // Newest first in key-id order: the id counts down with time.
                let countdown = 9_999_999_999_999_i64
                    .saturating_sub(self.now().0)
                    .clamp(0, 9_999_999_999_999);
                let key_id = format!(
                    "{}{countdown:013}{}",
                    side.prefix(),
                    &new_key_id(&mut OsRandom)?[..8]
                );
                self.insert_key(key_id, NewKey::internal(side.attributes(algorithm)), None)?
            }
        };
        let valid_until = expiry(&record);
        let public = self.private_key(&record)?.public_key().clone();
        let certificate = self.certify(&ca, &record, &public, valid_until)?;
        Ok(Parameters {
            certificate: certificate_text(&certificate)?,
            chain: certificate_text(&ca.certificate)?,
            algorithm,
            token: format!("{}{}", side.token_prefix(), record.key_id),
            valid_until,
        })
    }

    /// Destroys the key pairs of `side`'s expired tokens, and returns the newest unexpired
    /// one of `algorithm`.
    fn sweep_parameters(
        &self,
        side: Side,
        algorithm: KeyAlgorithm,
    ) -> Result<Option<KeyRecord>, Error> {
        const BATCH: usize = 32;
        let now = self.now();
        let mut newest = None;
        let mut after = side.prefix().to_owned();
        loop {
            let batch = self.store().list_keys(Some(&after), BATCH)?;
            let exhausted = batch.len() < BATCH;
            for record in batch {
                if !record.key_id.starts_with(side.prefix()) {
                    return Ok(newest);
                }
                after.clone_from(&record.key_id);
                if record.state == KeyState::DeleteComplete {
                    continue;
                }
                if now >= expiry(&record) {
                    // A concurrent sweep may destroy it first; either way it is gone.
                    self.destroy(&record, expiry(&record))?;
                } else if newest.is_none() && record.attributes.key_algorithm == algorithm {
                    newest = Some(record);
                }
            }
            if exhausted {
                return Ok(newest);
            }
        }
    }

    /// The key pair behind a token of `side`, if the token is this HSM's and has not expired.
    pub(crate) fn token_key(
        &self,
        side: Side,
        token: &str,
        field: &str,
    ) -> Result<KeyRecord, Error> {
        let foreign = || Error::validation(field, "not a token this HSM issued");
        let key_id = token
            .strip_prefix(side.token_prefix())
            .filter(|id| id.starts_with(side.prefix()))
            .ok_or_else(foreign)?;
        let record = self.store().get_key(key_id)?.ok_or_else(foreign)?;
        if record.state == KeyState::DeleteComplete || self.now() >= expiry(&record) {
            return Err(Error::validation(
                field,
                "the token has expired; get new parameters (GetParametersForImport or \
                 GetParametersForExport)",
            ));
        }
        policy::check_usable(&record)?;
        Ok(record)
    }

    /// `ImportKey` with `Tr34KeyBlock`: the HSM as KRD.
    pub(crate) fn import_tr34(&self, b: &ImportTr34KeyBlock) -> Result<Incoming, Error> {
        let p = |f: &str| format!("KeyMaterial.Tr34KeyBlock.{f}");
        check_format(&p("KeyBlockFormat"), &b.key_block_format)?;
        if b.wrapping_key_identifier.is_some() || b.wrapping_key_certificate.is_some() {
            return Err(not_offered(&p("WrappingKeyIdentifier"), "ImportToken"));
        }
        let token = required(&p("ImportToken"), b.import_token.as_ref())?;
        let nonce = nonce(&p("RandomNonce"), b.random_nonce.as_ref())?;
        let block = hex_field(&p("WrappedKeyBlock"), &b.wrapped_key_block, 2, 4096)?;
        let (_, ca) = self.ca_certificate(
            &b.certificate_authority_public_key_identifier,
            &p("CertificateAuthorityPublicKeyIdentifier"),
            &roles::TR34_IMPORT_CA,
        )?;
        let krd = self.token_key(Side::Import, token, &p("ImportToken"))?;
        let kdh_certificate =
            parse_certificate(&p("SigningKeyCertificate"), &b.signing_key_certificate)?;
        let authority = self.authority()?;
        let krd_key = self.private_key(&krd)?;
        let krd_certificate = self.certify(&authority, &krd, krd_key.public_key(), expiry(&krd))?;
        let request = ImportRequest {
            form: Form::X9Tr34_2012,
            krd_certificate: Some(&krd_certificate),
            ..ImportRequest::two_pass(&kdh_certificate, &ca, self.x509_now()?, &nonce)
        };
        let imported = token::import(&block, &*krd_key, &request).map_err(|e| match e {
            payhsm_tr34::Error::CertificateNotTrusted { .. } => {
                tr34_error(&p("SigningKeyCertificate"), e)
            }
            _ => tr34_error(&p("WrappedKeyBlock"), e),
        })?;
        Ok(Incoming {
            attributes: imported
                .key_attributes()
                .map_err(|e| tr34_error(&p("WrappedKeyBlock"), e))?,
            exportable: imported.header().exportability()
                != payhsm_core::key::Exportability::NON_EXPORTABLE,
            material: SecretVec::from_slice(imported.key().expose_secret()),
            nonce: Some(ConsumedNonce {
                token_key_id: krd.key_id.clone(),
                expires: expiry(&krd),
                nonce,
                field: p("RandomNonce"),
            }),
        })
    }

    /// `ExportKey` with `Tr34KeyBlock`: the HSM as KDH.
    pub(crate) fn export_tr34(
        &self,
        key: &KeyRecord,
        b: &ExportTr34KeyBlock,
    ) -> Result<(Value, Vec<String>), Error> {
        let p = |f: &str| format!("KeyMaterial.Tr34KeyBlock.{f}");
        check_format(&p("KeyBlockFormat"), &b.key_block_format)?;
        if b.signing_key_identifier.is_some() || b.signing_key_certificate.is_some() {
            return Err(not_offered(&p("SigningKeyIdentifier"), "ExportToken"));
        }
        let token = required(&p("ExportToken"), b.export_token.as_ref())?;
        let nonce = nonce(&p("RandomNonce"), b.random_nonce.as_ref())?;
        let (ca_record, ca) = self.ca_certificate(
            &b.certificate_authority_public_key_identifier,
            &p("CertificateAuthorityPublicKeyIdentifier"),
            &roles::TR34_EXPORT_CA,
        )?;
        // TR-34 ignores the header's version and length; the service writes version D.
        let header = export_header(
            key,
            Version::D,
            b.key_block_headers.as_ref(),
            &p("KeyBlockHeaders"),
        )?;
        policy::check_exportable(key, &header)?;
        let krd_certificate =
            parse_certificate(&p("WrappingKeyCertificate"), &b.wrapping_key_certificate)?;
        policy::check_wrapping_strength(krd_certificate.public_key().size().key_algorithm(), key)?;
        cert::verify_chain(
            &krd_certificate,
            &[],
            &ca,
            self.x509_now()?,
            Purpose::KrdKeyTransport,
        )
        .map_err(|e| tr34_error(&p("WrappingKeyCertificate"), e))?;
        let kdh = self.token_key(Side::Export, token, &p("ExportToken"))?;
        let authority = self.authority()?;
        let kdh_key = self.private_key(&kdh)?;
        let kdh_certificate = self.certify(&authority, &kdh, kdh_key.public_key(), expiry(&kdh))?;
        let header = KeyBlockHeader::from_str(&header.to_string())
            .map_err(|e| Error::internal(format!("TR-34 header: {e}")))?;
        let bytes = self.store().reveal(key)?;
        let material = KeyMaterial::from_slice("key", bytes.expose_secret())
            .map_err(|e| Error::internal(e.to_string()))?;
        let request = ExportRequest {
            form: Form::X9Tr34_2012,
            kdh_certificate: &kdh_certificate,
            krd_certificate: &krd_certificate,
            // Verified above, before the key was read.
            krd_trust: None,
            mode: ExportMode::TwoPass { nonce: &nonce },
            header,
        };
        let token = token::export(&material, &request, &*kdh_key, &mut OsRandom)
            .map_err(|e| tr34_error("KeyMaterial.Tr34KeyBlock", e))?;
        let ca_arn = self.arn_text(&ca_record)?;
        Ok((
            wrapped_key(
                key,
                &ca_arn,
                "TR34_KEY_BLOCK",
                payhsm_core::hex::encode(&token),
            ),
            vec![self.arn_text(key)?, ca_arn],
        ))
    }
}

/// What `GetParametersForImport` and `GetParametersForExport` return.
struct Parameters {
    certificate: String,
    chain: String,
    algorithm: KeyAlgorithm,
    token: String,
    valid_until: Timestamp,
}
