//! `ImportKey` and `ExportKey`: keys in and out of the HSM as TR-31 key blocks under a stored
//! key encryption key (K0) or key block protection key (K1).
//!
//! Import checks the wrapping key's role (usage, `Unwrap`, fit for the block's version) before
//! the block is opened, then the imported key's attributes against the attribute table and
//! its strength. Export checks the wrapping key's role (`Wrap`), the key's exportability, that
//! the export header only narrows the key's attributes, and that the wrapping key is at least
//! as strong as the key; only then are the key's bytes read from the store.

use std::collections::BTreeMap;

use payhsm_core::key::{Exportability, KeyAlgorithm, KeyAttributes, KeyClass, KeyModesOfUse};
use payhsm_tr31::{
    BlockId, Header, Kbpk, KeyBlock, OptionalBlock, UnwrapOptions, Version, WrapOptions,
    policy::{Direction, check_kbpk},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    Error, Rule,
    error::tr31_error,
    hsm::{Audit, Hsm, NewKey, check_material, kcv_method},
    model::{KeyOrigin, TagInput, parse_tags},
    policy::{self, roles},
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
    /// Replication regions (not offered).
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
    Tr34KeyBlock(Value),
    RootCertificatePublicKey(Value),
    TrustedCertificatePublicKey(Value),
    KeyCryptogram(Value),
    DiffieHellmanTr31KeyBlock(Value),
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
    Tr34KeyBlock(Value),
    KeyCryptogram(Value),
    DiffieHellmanTr31KeyBlock(Value),
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
        "this way of moving keys is not offered by this HSM yet; use Tr31KeyBlock",
    )
}

impl<S: Store> Hsm<S> {
    /// `ImportKey`.
    pub fn import_key(&self, input: ImportKeyInput) -> Result<Value, Error> {
        let params = match &input.key_material {
            ImportKeyMaterial::Tr31KeyBlock(b) => json!({
                "keyMaterial": { "tr31KeyBlock": {
                    "wrappingKeyIdentifier": b.wrapping_key_identifier,
                    "header": b.wrapped_key_block.get(..16),
                } },
                "requesterComment": input.requester_comment,
            }),
            _ => json!({ "requesterComment": input.requester_comment }),
        };
        self.run("ImportKey", Audit::Write, params, || {
            if input
                .replication_regions
                .as_ref()
                .is_some_and(|r| !r.is_empty())
            {
                return Err(Error::validation(
                    "ReplicationRegions",
                    "multi-region replication is not offered by this HSM yet",
                ));
            }
            let tags = parse_tags(input.tags.as_deref().unwrap_or_default(), "Tags")?;
            let b = match &input.key_material {
                ImportKeyMaterial::Tr31KeyBlock(b) => b,
                ImportKeyMaterial::Tr34KeyBlock(_) => return Err(not_offered("Tr34KeyBlock")),
                ImportKeyMaterial::RootCertificatePublicKey(_) => {
                    return Err(not_offered("RootCertificatePublicKey"));
                }
                ImportKeyMaterial::TrustedCertificatePublicKey(_) => {
                    return Err(not_offered("TrustedCertificatePublicKey"));
                }
                ImportKeyMaterial::KeyCryptogram(_) => return Err(not_offered("KeyCryptogram")),
                ImportKeyMaterial::DiffieHellmanTr31KeyBlock(_) => {
                    return Err(not_offered("DiffieHellmanTr31KeyBlock"));
                }
                ImportKeyMaterial::As2805KeyCryptogram(_) => {
                    return Err(not_offered("As2805KeyCryptogram"));
                }
            };
            let field = "KeyMaterial.Tr31KeyBlock.WrappedKeyBlock";
            // Structure and policy before any cryptography.
            let parsed = KeyBlock::parse(&b.wrapped_key_block).map_err(|e| tr31_error(field, e))?;
            let version = parsed.version();
            let wrapping = self.load(
                &b.wrapping_key_identifier,
                "KeyMaterial.Tr31KeyBlock.WrappingKeyIdentifier",
            )?;
            policy::check_key(&roles::TR31_UNWRAP, &wrapping)?;
            check_kbpk(&wrapping.attributes, version, Direction::Unwrap)
                .map_err(|e| Error::policy(Rule::KeyAlgorithm, e.to_string()))?;
            let header = parsed.header();
            let algorithm_ok = matches!(header.algorithm().code(), [b'T'] | [b'A']);
            if !algorithm_ok {
                return Err(Error::validation(
                    field,
                    "this HSM imports TDES and AES keys from TR-31 blocks",
                ));
            }
            let handle = self.store().open(&wrapping)?;
            let unwrapped = payhsm_tr31::unwrap(
                Kbpk::Key(&*handle),
                &b.wrapped_key_block,
                &UnwrapOptions::default(),
            )
            .map_err(|e| tr31_error(field, e))?;
            let h = &unwrapped.header;
            let key = unwrapped.key.expose_secret();
            let algorithm = KeyAlgorithm::from_block_cipher(h.algorithm(), key.len())
                .map_err(|e| Error::validation(field, e.to_string()))?;
            let attributes = KeyAttributes {
                key_class: KeyClass::SymmetricKey,
                ..KeyAttributes::from_tr31(h.key_usage(), h.mode_of_use(), algorithm)
                    .map_err(|e| Error::validation(field, e.to_string()))?
            };
            policy::check_attributes(&attributes)?;
            check_material(algorithm, key)?;
            let kcv = kcv_method(input.key_check_value_algorithm.as_deref(), &attributes)?;
            let exportable = h.exportability() != Exportability::NON_EXPORTABLE;
            let record = self.add_key(
                NewKey {
                    attributes,
                    exportable,
                    kcv_method: kcv,
                    enabled: input.enabled.unwrap_or(true),
                    tags,
                    origin: KeyOrigin::External,
                },
                Some(key),
            )?;
            let arn = self.arn(&record.key_id)?;
            Ok((
                json!({ "Key": record.key_json(&arn) }),
                vec![arn.to_string()],
            ))
        })
    }

    /// `ExportKey`.
    pub fn export_key(&self, input: ExportKeyInput) -> Result<Value, Error> {
        let params = match &input.key_material {
            ExportKeyMaterial::Tr31KeyBlock(b) => json!({
                "exportKeyIdentifier": input.export_key_identifier,
                "keyMaterial": { "tr31KeyBlock": {
                    "wrappingKeyIdentifier": b.wrapping_key_identifier,
                } },
            }),
            _ => json!({ "exportKeyIdentifier": input.export_key_identifier }),
        };
        self.run("ExportKey", Audit::Write, params, || {
            if input.export_attributes.is_some() {
                return Err(Error::validation(
                    "ExportAttributes",
                    "IPEK export is not offered by this HSM yet",
                ));
            }
            let b = match &input.key_material {
                ExportKeyMaterial::Tr31KeyBlock(b) => b,
                ExportKeyMaterial::Tr34KeyBlock(_) => return Err(not_offered("Tr34KeyBlock")),
                ExportKeyMaterial::KeyCryptogram(_) => return Err(not_offered("KeyCryptogram")),
                ExportKeyMaterial::DiffieHellmanTr31KeyBlock(_) => {
                    return Err(not_offered("DiffieHellmanTr31KeyBlock"));
                }
                ExportKeyMaterial::As2805KeyCryptogram(_) => {
                    return Err(not_offered("As2805KeyCryptogram"));
                }
            };
            let key = self.load(&input.export_key_identifier, "ExportKeyIdentifier")?;
            let wrapping = self.load(
                &b.wrapping_key_identifier,
                "KeyMaterial.Tr31KeyBlock.WrappingKeyIdentifier",
            )?;
            let header = export_header(
                &key.attributes,
                key.exportable,
                wrapping.attributes.key_algorithm,
                b.key_block_headers.as_ref(),
            )?;
            policy::check_export(&key, &wrapping, &header)?;
            let handle = self.store().open(&wrapping)?;
            let bytes = self.store().reveal(&key)?;
            let block = payhsm_tr31::wrap(
                Kbpk::Key(&*handle),
                &header,
                bytes.expose_secret(),
                &WrapOptions::default(),
                &mut payhsm_core::rng::OsRandom,
            )
            .map_err(|e| tr31_error("KeyMaterial.Tr31KeyBlock", e))?;
            let wrapping_arn = self.arn(&wrapping.key_id)?.to_string();
            let key_arn = self.arn(&key.key_id)?.to_string();
            Ok((
                json!({ "WrappedKey": {
                    "WrappingKeyArn": wrapping_arn,
                    "WrappedKeyMaterialFormat": "TR31_KEY_BLOCK",
                    "KeyMaterial": block,
                    "KeyCheckValue": key.key_check_value,
                    "KeyCheckValueAlgorithm": key.key_check_value_algorithm.name(),
                } }),
                vec![key_arn, wrapping_arn],
            ))
        })
    }
}

/// The header of an exported key: the stored attributes, narrowed by `headers`, in version D
/// under an AES wrapping key and B under a TDES one.
fn export_header(
    attributes: &KeyAttributes,
    exportable: bool,
    wrapping_algorithm: KeyAlgorithm,
    headers: Option<&KeyBlockHeaders>,
) -> Result<Header, Error> {
    let path = "KeyMaterial.Tr31KeyBlock.KeyBlockHeaders";
    let default = KeyBlockHeaders::default();
    let headers = headers.unwrap_or(&default);
    let version = match wrapping_algorithm.tr31_algorithm().code() {
        [b'A'] => Version::D,
        _ => Version::B,
    };
    let (usage, algorithm, stored_mode) = attributes
        .tr31_fields()
        .map_err(|e| Error::internal(e.to_string()))?;
    let mode = match &headers.key_modes_of_use {
        None => stored_mode,
        Some(flags) => {
            let mut m = KeyModesOfUse::default();
            for (name, on) in flags {
                m.set(name, *on).map_err(|_| {
                    Error::validation(&format!("{path}.KeyModesOfUse"), "unknown mode of use")
                })?;
            }
            m.to_mode_of_use().ok_or_else(|| {
                Error::validation(
                    &format!("{path}.KeyModesOfUse"),
                    "no TR-31 mode of use has exactly these flags",
                )
            })?
        }
    };
    let exportability = match headers.key_exportability.as_deref() {
        None if exportable => Exportability::EXPORTABLE,
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
    Ok(header)
}
