//! Key exchange: `ImportKey` and `ExportKey`, keys in and out of the HSM as TR-31 key blocks
//! under a stored key encryption key (K0) or key block protection key (K1) or under a KBPK
//! derived by ECDH ([`ecdh`]), as TR-34 tokens ([`tr34`]), as RSA key cryptograms
//! ([`cryptogram`]), and public keys in certificates of RSA or ECC keys ([`pki`], `x509`;
//! [`pki`] also certifies the HSM's key pairs, and [`csr`] has their certificate signing
//! requests).
//!
//! This folder uses the HSM's core ([`Hsm`], the store, the policy) and is used by
//! nothing below it: replication and the wire protocols build on it.
//!
//! Import checks the wrapping key's role (usage, `Unwrap`, fit for the block's version) before
//! the block is opened, then, for every way in, the imported key's attributes against the
//! attribute table and its strength. Export checks the wrapping key's role (`Wrap`), the key's
//! exportability, that the export header only narrows the key's attributes, and that the
//! wrapping key is at least as strong as the key; only then are the key's bytes read from the
//! store.

pub mod cryptogram;
pub mod csr;
pub mod ecdh;
pub mod failed_unwraps;
pub mod pki;
pub mod tr34;
pub(crate) mod x509;

use std::collections::BTreeMap;

use payhsm_core::{
    crypto::SymmetricKey,
    key::{Exportability, KeyAlgorithm, KeyAttributes, KeyClass},
    secret::SecretVec,
};
use payhsm_tr31::{
    BlockId, Header, Kbpk, KeyBlock, OptionalBlock, UnwrapOptions, Unwrapped, Version, WrapOptions,
    optional_block::values::HmacHash,
    policy::{Direction, check_kbpk},
};
use serde::Deserialize;
use serde_json::{Value, json};

pub use cryptogram::{ExportKeyCryptogram, ImportKeyCryptogram};
pub use ecdh::{ExportDiffieHellmanTr31KeyBlock, ImportDiffieHellmanTr31KeyBlock};
pub use pki::{RootCertificatePublicKey, TrustedCertificatePublicKey};
pub use tr34::{ExportTr34KeyBlock, ImportTr34KeyBlock};

use crate::{
    Error, Rule,
    clock::Timestamp,
    error::tr31_error,
    hsm::{Audit, Hsm, NewKey},
    material::{check_material, kcv_method},
    model::KeyOutput,
    model::{KeyOrigin, KeyRecord, TagInput, parse_tags},
    policy::{self, KeyRole, roles},
    store::Store,
};

/// `ImportKey`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ImportKeyInput {
    /// How the key arrives.
    pub key_material: ImportKeyMaterial,
    /// `ANSI_X9_24`, `CMAC` or `HMAC`; the algorithm's default if absent.
    pub key_check_value_algorithm: Option<String>,
    /// Whether the key starts enabled (default true).
    pub enabled: Option<bool>,
    /// Tags.
    pub tags: Option<Vec<TagInput>>,
    /// Regions to replicate the key to (the account's defaults apply if absent).
    pub replication_regions: Option<Vec<String>>,
    /// A comment for the audit trail.
    pub requester_comment: Option<String>,
}

/// `ImportKeyMaterial`: exactly one member.
#[derive(Debug, Deserialize)]
#[allow(missing_docs)] // The service's union members; each documented on its shape.
pub enum ImportKeyMaterial {
    /// A TR-31 key block under a stored KEK or KBPK.
    Tr31KeyBlock(ImportTr31KeyBlock),
    /// A TR-34 token from a KDH certified by an imported CA.
    Tr34KeyBlock(ImportTr34KeyBlock),
    /// A CA certificate: a trust anchor.
    RootCertificatePublicKey(RootCertificatePublicKey),
    /// A certificate that chains to an imported CA.
    TrustedCertificatePublicKey(TrustedCertificatePublicKey),
    /// An RSA-OAEP cryptogram under an import token's key.
    KeyCryptogram(ImportKeyCryptogram),
    /// A TR-31 block under a key derived by ECDH.
    DiffieHellmanTr31KeyBlock(ImportDiffieHellmanTr31KeyBlock),
    As2805KeyCryptogram(Value),
}

/// `ImportTr31KeyBlock`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ImportTr31KeyBlock {
    /// The stored K0 or K1 key the block is under.
    pub wrapping_key_identifier: String,
    /// The key block.
    pub wrapped_key_block: String,
}

/// `ExportKey`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ExportKeyInput {
    /// How the key leaves.
    pub key_material: ExportKeyMaterial,
    /// The key to export.
    pub export_key_identifier: String,
    /// `ExportAttributes` (IPEK export and KCV algorithm; not offered).
    pub export_attributes: Option<Value>,
}

/// `ExportKeyMaterial`: exactly one member.
#[derive(Debug, Deserialize)]
#[allow(missing_docs)] // The service's union members.
pub enum ExportKeyMaterial {
    /// A TR-31 key block under a stored KEK or KBPK.
    Tr31KeyBlock(ExportTr31KeyBlock),
    /// A TR-34 token to a KRD certified by an imported CA.
    Tr34KeyBlock(ExportTr34KeyBlock),
    /// An RSA-OAEP cryptogram under a certificate certified by an imported CA.
    KeyCryptogram(ExportKeyCryptogram),
    /// A TR-31 block under a key derived by ECDH.
    DiffieHellmanTr31KeyBlock(ExportDiffieHellmanTr31KeyBlock),
    As2805KeyCryptogram(Value),
}

/// `ExportTr31KeyBlock`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ExportTr31KeyBlock {
    /// The stored K0 or K1 key to wrap under.
    pub wrapping_key_identifier: String,
    /// Header fields that narrow the exported key.
    pub key_block_headers: Option<KeyBlockHeaders>,
}

/// `KeyBlockHeaders`: what an export may restrict.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KeyBlockHeaders {
    /// Narrower modes of use.
    pub key_modes_of_use: Option<BTreeMap<String, bool>>,
    /// `EXPORTABLE`, `NON_EXPORTABLE` or `SENSITIVE`.
    pub key_exportability: Option<String>,
    /// The key version field (2 characters).
    pub key_version: Option<String>,
    /// Optional blocks by ID.
    pub optional_blocks: Option<BTreeMap<String, String>>,
}

fn not_offered(member: &str) -> Error {
    Error::validation(
        &format!("KeyMaterial.{member}"),
        "this way of moving keys is not offered by this HSM yet; use Tr31KeyBlock, \
         Tr34KeyBlock, KeyCryptogram or DiffieHellmanTr31KeyBlock",
    )
}

/// A key arriving by `ImportKey`, before the checks every import shares
/// ([`Hsm::import_key`]): the attribute table, the key's material, its KCV.
pub(crate) struct Incoming {
    /// The attributes the key block or certificate gives it.
    pub(crate) attributes: KeyAttributes,
    /// Whether it may leave again.
    pub(crate) exportable: bool,
    /// What the store seals: a symmetric key, or a public key's certificate.
    pub(crate) material: SecretVec,
    /// A TR-34 nonce the import consumes, once per import token, just before the key is
    /// stored (so that a refused import consumes nothing).
    pub(crate) nonce: Option<ConsumedNonce>,
}

/// The two-pass nonce of a TR-34 import and the import token it came with.
pub(crate) struct ConsumedNonce {
    /// The key id of the token's KRD key pair.
    pub(crate) token_key_id: String,
    /// When the token expires: until then the nonce is remembered.
    pub(crate) expires: Timestamp,
    pub(crate) nonce: Vec<u8>,
    /// The request member that carried it.
    pub(crate) field: String,
}

impl Incoming {
    /// The key a TR-31 block (the request member `field`) carries, as its header states it.
    pub(crate) fn from_tr31(unwrapped: Unwrapped, field: &str) -> Result<Self, Error> {
        let h = &unwrapped.header;
        let algorithm = if h.algorithm() == payhsm_core::key::Algorithm::HMAC {
            let hash = h
                .hmac_hash()
                .map_err(|e| Error::validation(field, e.to_string()))?
                .ok_or_else(|| {
                    Error::validation(field, "an HMAC key's block names its hash (block HM)")
                })?;
            HMAC_ALGORITHMS
                .into_iter()
                .find(|a| hmac_hash(*a) == Some(hash))
                .ok_or_else(|| {
                    Error::validation(field, "HMAC keys with SHA-224, SHA-256, SHA-384 or SHA-512")
                })?
        } else {
            KeyAlgorithm::from_block_cipher(h.algorithm(), unwrapped.key.len())
                .map_err(|e| Error::validation(field, e.to_string()))?
        };
        Ok(Self {
            attributes: KeyAttributes::from_tr31(h.key_usage(), h.mode_of_use(), algorithm)
                .map_err(|e| Error::validation(field, e.to_string()))?,
            exportable: h.exportability() != Exportability::NON_EXPORTABLE,
            material: unwrapped.key,
            nonce: None,
        })
    }

    /// The checks every key coming in shares: the attribute table and, for a symmetric key,
    /// its algorithm's length and no weak TDES key.
    pub(crate) fn check(&self) -> Result<(), Error> {
        policy::check_attributes(&self.attributes)?;
        if self.attributes.key_class == KeyClass::SymmetricKey {
            check_material(self.attributes.key_algorithm, self.material.expose_secret())?;
        }
        Ok(())
    }
}

impl<S: Store> Hsm<S> {
    /// `ImportKey`: a TR-31 or TR-34 key block, or a certificate. Whatever the way in, the key
    /// must fit the attribute table and, if symmetric, be of its algorithm's length and not a
    /// weak TDES key; nothing is stored otherwise.
    pub fn import_key(&self, input: ImportKeyInput) -> Result<KeyOutput, Error> {
        let params = || {
            json!({
                "keyMaterial": input.key_material.audit_parameters(),
                "requesterComment": input.requester_comment,
                "replicationRegions": input.replication_regions,
            })
        };
        self.run("ImportKey", Audit::Write, params, || {
            let tags = parse_tags(input.tags.as_deref().unwrap_or_default(), "Tags")?;
            let incoming = match &input.key_material {
                ImportKeyMaterial::Tr31KeyBlock(b) => self.import_tr31(b)?,
                ImportKeyMaterial::Tr34KeyBlock(b) => self.import_tr34(b)?,
                ImportKeyMaterial::RootCertificatePublicKey(c) => {
                    self.import_root_certificate(c)?
                }
                ImportKeyMaterial::TrustedCertificatePublicKey(c) => {
                    self.import_trusted_certificate(c)?
                }
                ImportKeyMaterial::KeyCryptogram(c) => self.import_cryptogram(c)?,
                ImportKeyMaterial::DiffieHellmanTr31KeyBlock(b) => self.import_ecdh_tr31(b)?,
                ImportKeyMaterial::As2805KeyCryptogram(_) => {
                    return Err(not_offered("As2805KeyCryptogram"));
                }
            };
            incoming.check()?;
            let Incoming {
                attributes,
                exportable,
                material,
                nonce,
            } = incoming;
            let kcv = kcv_method(input.key_check_value_algorithm.as_deref(), &attributes)?;
            let multi_region = self.replication_plan(
                input.replication_regions.as_deref(),
                &attributes,
                exportable,
            )?;
            if let Some(n) = nonce {
                let fresh =
                    self.store()
                        .consume_nonce(&n.token_key_id, &n.nonce, n.expires, self.now())?;
                if !fresh {
                    return Err(Error::validation(
                        &n.field,
                        "this nonce was already used with this import token: a TR-34 key \
                         block imports once; send a new key block with a new RandomNonce",
                    ));
                }
            }
            let key = NewKey {
                attributes,
                exportable,
                kcv_method: kcv,
                enabled: input.enabled.unwrap_or(true),
                tags,
                origin: KeyOrigin::External,
                derive_key_usage: None,
                multi_region,
            };
            // A root certificate under dual control waits for its approvals, unusable.
            if matches!(
                input.key_material,
                ImportKeyMaterial::RootCertificatePublicKey(_)
            ) && self.root_import_needs_approval()?
            {
                let record = self.add_pending_key(key, Some(material.expose_secret()))?;
                self.open_root_import_session(&record)?;
                return self.key_output(&record);
            }
            let record = self.add_key(key, Some(material.expose_secret()))?;
            self.key_output(&record)
        })
    }

    /// A TR-31 key block under a stored K0 or K1 key.
    pub(crate) fn import_tr31(&self, b: &ImportTr31KeyBlock) -> Result<Incoming, Error> {
        let field = "KeyMaterial.Tr31KeyBlock.WrappedKeyBlock";
        let wrapping = self.load(
            &b.wrapping_key_identifier,
            "KeyMaterial.Tr31KeyBlock.WrappingKeyIdentifier",
        )?;
        let unwrapped =
            self.open_tr31(&wrapping, &roles::TR31_UNWRAP, &b.wrapped_key_block, field)?;
        Incoming::from_tr31(unwrapped, field)
    }

    /// Opens a TR-31 key block (the request member `field`) under the stored `wrapping` key
    /// playing `role`. The block's structure, the wrapping key's role and its fit for the
    /// block's version are checked before the block is opened.
    pub(crate) fn open_tr31(
        &self,
        wrapping: &KeyRecord,
        role: &KeyRole,
        block: &str,
        field: &str,
    ) -> Result<Unwrapped, Error> {
        // Structure and policy before any cryptography.
        KeyBlock::parse(block).map_err(|e| tr31_error(field, e))?;
        policy::check_key(role, wrapping)?;
        check_tr31_import(&wrapping.attributes, block, field)?;
        let handle = self.store().open(wrapping)?;
        open_tr31_under(&*handle, block, self.allow_short_padded_tr31).map_err(|e| {
            if e == payhsm_tr31::Error::AuthenticationFailed {
                self.count_failed_unwrap(wrapping);
            }
            tr31_error(field, e)
        })
    }

    /// Wraps `key` under the stored `wrapping` key with `header` (already checked); `field`
    /// names the request member errors are about.
    pub(crate) fn wrap_tr31(
        &self,
        wrapping: &KeyRecord,
        header: &Header,
        key: &[u8],
        field: &str,
    ) -> Result<String, Error> {
        let handle = self.store().open(wrapping)?;
        wrap_tr31_under(&*handle, header, key, field)
    }

    /// `ExportKey`: a TR-31 block under a stored KEK or KBPK, or a TR-34 token to a KRD
    /// certificate. Only once every check has passed are the key's bytes read from the store.
    pub fn export_key(&self, input: ExportKeyInput) -> Result<Value, Error> {
        let params = || {
            json!({
                "exportKeyIdentifier": input.export_key_identifier,
                "keyMaterial": input.key_material.audit_parameters(),
            })
        };
        self.run("ExportKey", Audit::Write, params, || {
            if input.export_attributes.is_some() {
                return Err(Error::validation(
                    "ExportAttributes",
                    "IPEK export is not offered by this HSM yet",
                ));
            }
            let key = self.load(&input.export_key_identifier, "ExportKeyIdentifier")?;
            match &input.key_material {
                ExportKeyMaterial::Tr31KeyBlock(b) => self.export_tr31(&key, b),
                ExportKeyMaterial::Tr34KeyBlock(b) => self.export_tr34(&key, b),
                ExportKeyMaterial::KeyCryptogram(c) => self.export_cryptogram(&key, c),
                ExportKeyMaterial::DiffieHellmanTr31KeyBlock(b) => self.export_ecdh_tr31(&key, b),
                ExportKeyMaterial::As2805KeyCryptogram(_) => {
                    Err(not_offered("As2805KeyCryptogram"))
                }
            }
        })
    }

    /// A TR-31 block under a stored K0 or K1 key.
    fn export_tr31(
        &self,
        key: &KeyRecord,
        b: &ExportTr31KeyBlock,
    ) -> Result<(Value, Vec<String>), Error> {
        let wrapping = self.load(
            &b.wrapping_key_identifier,
            "KeyMaterial.Tr31KeyBlock.WrappingKeyIdentifier",
        )?;
        let header = export_header(
            key,
            tr31_version_for(&wrapping),
            b.key_block_headers.as_ref(),
            "KeyMaterial.Tr31KeyBlock.KeyBlockHeaders",
        )?;
        policy::check_export(key, &wrapping, &header)?;
        let bytes = self.store().reveal(key)?;
        let block = self.wrap_tr31(
            &wrapping,
            &header,
            bytes.expose_secret(),
            "KeyMaterial.Tr31KeyBlock",
        )?;
        let wrapping_arn = self.arn(&wrapping.key_id)?.to_string();
        Ok((
            wrapped_key(key, &wrapping_arn, "TR31_KEY_BLOCK", block),
            vec![self.arn(&key.key_id)?.to_string(), wrapping_arn],
        ))
    }
}

/// The TR-31 version a block under `wrapping` gets: D under an AES key, B under a TDES one.
pub(crate) fn tr31_version_for(wrapping: &KeyRecord) -> Version {
    tr31_version(wrapping.attributes.key_algorithm)
}

/// The TR-31 version a block under a KBPK of `algorithm` gets: D under AES, B under TDES.
pub(crate) fn tr31_version(algorithm: KeyAlgorithm) -> Version {
    match algorithm.tr31_algorithm().code() {
        [b'A'] => Version::D,
        _ => Version::B,
    }
}

const HMAC_ALGORITHMS: [KeyAlgorithm; 4] = [
    KeyAlgorithm::HmacSha224,
    KeyAlgorithm::HmacSha256,
    KeyAlgorithm::HmacSha384,
    KeyAlgorithm::HmacSha512,
];

/// The hash an HMAC key's TR-31 block names in its `HM` block (ANSI X9.143); `None` for other
/// keys.
fn hmac_hash(algorithm: KeyAlgorithm) -> Option<HmacHash> {
    match algorithm {
        KeyAlgorithm::HmacSha224 => Some(HmacHash::Sha224),
        KeyAlgorithm::HmacSha256 => Some(HmacHash::Sha256),
        KeyAlgorithm::HmacSha384 => Some(HmacHash::Sha384),
        KeyAlgorithm::HmacSha512 => Some(HmacHash::Sha512),
        _ => None,
    }
}

/// Checks a TR-31 block (the request member `field`) before it is opened under a KBPK with
/// attributes `kbpk`: it parses, the KBPK fits its version, and it carries a TDES, AES or
/// HMAC key.
pub(crate) fn check_tr31_import(
    kbpk: &KeyAttributes,
    block: &str,
    field: &str,
) -> Result<(), Error> {
    let parsed = KeyBlock::parse(block).map_err(|e| tr31_error(field, e))?;
    check_kbpk(kbpk, parsed.version(), Direction::Unwrap)
        .map_err(|e| Error::policy(Rule::KeyAlgorithm, e.to_string()))?;
    if !matches!(parsed.header().algorithm().code(), [b'T' | b'A' | b'H']) {
        return Err(Error::validation(
            field,
            "this HSM imports TDES, AES and HMAC keys from TR-31 blocks",
        ));
    }
    Ok(())
}

/// Opens a checked TR-31 block under `kbpk`.
pub(crate) fn open_tr31_under(
    kbpk: &dyn SymmetricKey,
    block: &str,
    allow_short_padding: bool,
) -> Result<Unwrapped, payhsm_tr31::Error> {
    let options = UnwrapOptions {
        allow_short_padding,
        ..UnwrapOptions::default()
    };
    payhsm_tr31::unwrap(Kbpk::Key(kbpk), block, &options)
}

/// Wraps `key` under `kbpk` with `header` (already checked).
pub(crate) fn wrap_tr31_under(
    kbpk: &dyn SymmetricKey,
    header: &Header,
    key: &[u8],
    field: &str,
) -> Result<String, Error> {
    payhsm_tr31::wrap(
        Kbpk::Key(kbpk),
        header,
        key,
        &WrapOptions::default(),
        &mut payhsm_core::rng::OsRandom,
    )
    .map_err(|e| tr31_error(field, e))
}

/// The service's `WrappedKey`.
pub(crate) fn wrapped_key(
    key: &KeyRecord,
    wrapping_arn: &str,
    format: &str,
    material: String,
) -> Value {
    json!({ "WrappedKey": {
        "WrappingKeyArn": wrapping_arn,
        "WrappedKeyMaterialFormat": format,
        "KeyMaterial": material,
        "KeyCheckValue": key.key_check_value,
        "KeyCheckValueAlgorithm": key.key_check_value_algorithm.name(),
    } })
}

impl ImportKeyMaterial {
    /// What the audit log keeps of the material: the key identifiers and formats, and the
    /// header of a TR-31 block (never the block, the certificate or the token).
    fn audit_parameters(&self) -> Value {
        match self {
            Self::Tr31KeyBlock(b) => json!({ "tr31KeyBlock": {
                "wrappingKeyIdentifier": b.wrapping_key_identifier,
                "header": b.wrapped_key_block.get(..16),
            } }),
            Self::Tr34KeyBlock(b) => json!({ "tr34KeyBlock": {
                "certificateAuthorityPublicKeyIdentifier": b.certificate_authority_public_key_identifier,
                "keyBlockFormat": b.key_block_format,
            } }),
            Self::RootCertificatePublicKey(c) => json!({ "rootCertificatePublicKey": {
                "keyAttributes": c.key_attributes.audit_json(),
            } }),
            Self::TrustedCertificatePublicKey(c) => json!({ "trustedCertificatePublicKey": {
                "keyAttributes": c.key_attributes.audit_json(),
                "certificateAuthorityPublicKeyIdentifier": c.certificate_authority_public_key_identifier,
            } }),
            Self::KeyCryptogram(c) => json!({ "keyCryptogram": c.audit_json() }),
            Self::DiffieHellmanTr31KeyBlock(b) => json!({ "diffieHellmanTr31KeyBlock": {
                "derivation": b.audit_json(),
                "header": b.wrapped_key_block.get(..16),
            } }),
            Self::As2805KeyCryptogram(_) => json!("As2805KeyCryptogram"),
        }
    }
}

impl ExportKeyMaterial {
    /// What the audit log keeps of the material: the key identifiers and formats.
    fn audit_parameters(&self) -> Value {
        match self {
            Self::Tr31KeyBlock(b) => json!({ "tr31KeyBlock": {
                "wrappingKeyIdentifier": b.wrapping_key_identifier,
            } }),
            Self::Tr34KeyBlock(b) => json!({ "tr34KeyBlock": {
                "certificateAuthorityPublicKeyIdentifier": b.certificate_authority_public_key_identifier,
                "keyBlockFormat": b.key_block_format,
            } }),
            Self::KeyCryptogram(c) => json!({ "keyCryptogram": c.audit_json() }),
            Self::DiffieHellmanTr31KeyBlock(b) => json!({ "diffieHellmanTr31KeyBlock": {
                "derivation": b.audit_json(),
            } }),
            Self::As2805KeyCryptogram(_) => json!("As2805KeyCryptogram"),
        }
    }
}

/// The header of an exported key in `version`: the stored attributes, narrowed by `headers`
/// (the request member at `path`).
pub(crate) fn export_header(
    key: &KeyRecord,
    version: Version,
    headers: Option<&KeyBlockHeaders>,
    path: &str,
) -> Result<Header, Error> {
    let default = KeyBlockHeaders::default();
    let headers = headers.unwrap_or(&default);
    let (usage, algorithm, stored_mode) = key
        .attributes
        .tr31_fields()
        .map_err(|e| Error::internal(e.to_string()))?;
    let mode = match &headers.key_modes_of_use {
        None => stored_mode,
        Some(flags) => crate::model::modes_of_use(flags, &format!("{path}.KeyModesOfUse"))?
            .to_mode_of_use()
            .ok_or_else(|| {
                Error::validation(
                    &format!("{path}.KeyModesOfUse"),
                    "no TR-31 mode of use has exactly these flags",
                )
            })?,
    };
    let exportability = match headers.key_exportability.as_deref() {
        None if key.exportable => Exportability::EXPORTABLE,
        None => Exportability::NON_EXPORTABLE,
        Some(name) => Exportability::from_name(name).map_err(|_| {
            Error::validation(
                &format!("{path}.KeyExportability"),
                "expected EXPORTABLE, NON_EXPORTABLE or SENSITIVE",
            )
        })?,
    };
    // A stored exportable key counts as X9.24-exportable (E); `SENSITIVE` would widen it.
    let key_version = headers.key_version.as_deref().unwrap_or("00");
    let mut header = Header::new(version, usage, algorithm, mode, key_version, exportability)
        .map_err(|e| Error::validation(&format!("{path}.KeyVersion"), e.to_string()))?;
    for (id, data) in headers.optional_blocks.iter().flatten() {
        let block_path = format!("{path}.OptionalBlocks.{id}");
        let id = BlockId::new(id).map_err(|e| Error::validation(&block_path, e.to_string()))?;
        let block = OptionalBlock::new(id, data)
            .map_err(|e| Error::validation(&block_path, e.to_string()))?;
        header = header
            .with_optional_block(block)
            .map_err(|e| Error::validation(&block_path, e.to_string()))?;
    }
    // An HMAC key's block names its hash.
    if let Some(hash) = hmac_hash(key.attributes.key_algorithm) {
        let block_path = format!("{path}.OptionalBlocks.HM");
        match header.hmac_hash() {
            Ok(None) => {
                let block = OptionalBlock::new(BlockId::HM, &format!("{:02X}", hash.code()))
                    .map_err(|e| Error::internal(e.to_string()))?;
                header = header
                    .with_optional_block(block)
                    .map_err(|e| Error::validation(&block_path, e.to_string()))?;
            }
            Ok(Some(given)) if given == hash => {}
            _ => {
                return Err(Error::validation(
                    &block_path,
                    format!("the key is {}", key.attributes.key_algorithm),
                ));
            }
        }
    }
    Ok(header)
}
