//! `TranslateKeyMaterial`: a working key moved from a TR-31 block under one key encryption key
//! to a TR-31 block under another, without being stored.
//!
//! The service's `IncomingKeyMaterial` has one member, `DiffieHellmanTr31KeyBlock` (a block
//! under a KBPK derived by ECDH, opened as `ImportKey` opens one); this HSM adds
//! `Tr31KeyBlock`, a block under a stored K0 or K1 key (the shape of `ImportKey`'s
//! `Tr31KeyBlock`). What may change is what an export may
//! change, and nothing is asked for: the outgoing block keeps the incoming header (usage,
//! algorithm, mode of use, key version, exportability, optional blocks) except its version,
//! which follows the outgoing key (D under AES, B under TDES), and the blocks bound to the old
//! wrapping key (`KP`, its KCV, and the padding block `PB`).
//!
//! The checks are ImportKey's on the way in (the incoming key's role, the block's version,
//! TDES or AES, the attribute table, key length and weak keys) and ExportKey's on the way out
//! (the outgoing key's role, exportability, narrowing only, wrapping strength).

use payhsm_core::{crypto::SymmetricKey, kcv};
use payhsm_tr31::{BlockId, Header};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    Error,
    error::{core_error, tr31_error},
    exchange::{
        ImportTr31KeyBlock, Incoming, ecdh::ImportDiffieHellmanTr31KeyBlock, tr31_version_for,
    },
    hsm::{Audit, Hsm},
    material::kcv_method,
    policy::{self, roles},
    store::{Store, software_key},
};

/// `TranslateKeyMaterial`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TranslateKeyMaterialInput {
    /// The block and the key it is under.
    pub incoming_key_material: IncomingKeyMaterial,
    /// The key to wrap it under.
    pub outgoing_key_material: OutgoingKeyMaterial,
    /// How the translated key's KCV is computed; the algorithm's default if absent.
    pub key_check_value_algorithm: Option<String>,
}

/// `IncomingKeyMaterial`: exactly one member.
#[derive(Debug, Deserialize)]
pub enum IncomingKeyMaterial {
    /// A TR-31 block under a stored K0 or K1 key (this HSM's addition to the service's union).
    Tr31KeyBlock(ImportTr31KeyBlock),
    /// A TR-31 block under a KBPK derived by ECDH (the shape of `ImportKey`'s).
    DiffieHellmanTr31KeyBlock(ImportDiffieHellmanTr31KeyBlock),
}

/// `OutgoingKeyMaterial`: exactly one member.
#[derive(Debug, Deserialize)]
pub enum OutgoingKeyMaterial {
    /// A TR-31 block under a stored K0 or K1 key.
    Tr31KeyBlock(OutgoingTr31KeyBlock),
}

/// `OutgoingTr31KeyBlock`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct OutgoingTr31KeyBlock {
    /// The stored K0 or K1 key to wrap under.
    pub wrapping_key_identifier: String,
}

/// What `TranslateKeyMaterial` returns.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TranslateKeyMaterialOutput {
    /// The key, wrapped for its new recipient.
    pub wrapped_key: WrappedWorkingKey,
}

/// A working key wrapped under another key (the service's `WrappedWorkingKey`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WrappedWorkingKey {
    /// The key block (TR-31 text).
    pub wrapped_key_material: String,
    /// The wrapped key's check value.
    pub key_check_value: String,
    /// `TR31_KEY_BLOCK`.
    pub wrapped_key_material_format: String,
}

const INCOMING: &str = "IncomingKeyMaterial.Tr31KeyBlock";
const OUTGOING: &str = "OutgoingKeyMaterial.Tr31KeyBlock";

impl<S: Store> Hsm<S> {
    /// `TranslateKeyMaterial`.
    pub fn translate_key_material(
        &self,
        input: TranslateKeyMaterialInput,
    ) -> Result<TranslateKeyMaterialOutput, Error> {
        let OutgoingKeyMaterial::Tr31KeyBlock(outgoing) = &input.outgoing_key_material;
        let params = || {
            json!({
                "incomingKeyMaterial": match &input.incoming_key_material {
                    IncomingKeyMaterial::Tr31KeyBlock(b) => json!({ "tr31KeyBlock": {
                        "wrappingKeyIdentifier": b.wrapping_key_identifier,
                        "header": b.wrapped_key_block.get(..16),
                    } }),
                    IncomingKeyMaterial::DiffieHellmanTr31KeyBlock(b) => {
                        json!({ "diffieHellmanTr31KeyBlock": b.audit_json() })
                    }
                },
                "outgoingKeyMaterial": { "tr31KeyBlock": {
                    "wrappingKeyIdentifier": outgoing.wrapping_key_identifier,
                } },
            })
        };
        self.run("TranslateKeyMaterial", Audit::FailuresOnly, params, || {
            let wrapping = self.load_in_use(
                &outgoing.wrapping_key_identifier,
                &format!("{OUTGOING}.WrappingKeyIdentifier"),
            )?;
            // Both keys' roles before any cryptography (the derived KBPK's in `agree`).
            policy::check_key(&roles::TRANSLATE_WRAP, &wrapping)?;
            let (unwrapped, block_field) = match &input.incoming_key_material {
                IncomingKeyMaterial::Tr31KeyBlock(incoming) => {
                    let block_field = format!("{INCOMING}.WrappedKeyBlock");
                    let unwrapping = self.load_in_use(
                        &incoming.wrapping_key_identifier,
                        &format!("{INCOMING}.WrappingKeyIdentifier"),
                    )?;
                    let unwrapped = self.open_tr31(
                        &unwrapping,
                        &roles::TRANSLATE_UNWRAP,
                        &incoming.wrapped_key_block,
                        &block_field,
                    )?;
                    (unwrapped, block_field)
                }
                IncomingKeyMaterial::DiffieHellmanTr31KeyBlock(b) => {
                    const BASE: &str = "IncomingKeyMaterial.DiffieHellmanTr31KeyBlock";
                    (
                        self.open_ecdh_tr31(b, BASE)?,
                        format!("{BASE}.WrappedKeyBlock"),
                    )
                }
            };
            let incoming_header = unwrapped.header.clone();
            let key = Incoming::from_tr31(unwrapped, &block_field)?;
            key.check()?;
            let algorithm = key.attributes.key_algorithm;
            let kcv_method =
                kcv_method(input.key_check_value_algorithm.as_deref(), &key.attributes)?;
            let header = outgoing_header(&incoming_header, tr31_version_for(&wrapping))
                .map_err(|e| tr31_error(&block_field, e))?;
            policy::check_translation(&incoming_header, algorithm, &wrapping, &header)?;
            let check_value = check_value(
                &software_key(algorithm, key.material.expose_secret())?,
                kcv_method,
            )?;
            let block =
                self.wrap_tr31(&wrapping, &header, key.material.expose_secret(), OUTGOING)?;
            Ok((
                TranslateKeyMaterialOutput {
                    wrapped_key: WrappedWorkingKey {
                        wrapped_key_material: block,
                        key_check_value: check_value,
                        wrapped_key_material_format: "TR31_KEY_BLOCK".to_owned(),
                    },
                },
                Vec::new(),
            ))
        })
    }
}

/// The outgoing header: the incoming one in `version`, without the blocks bound to the old
/// wrapping key.
fn outgoing_header(
    incoming: &Header,
    version: payhsm_tr31::Version,
) -> Result<Header, payhsm_tr31::Error> {
    let mut header = Header::new(
        version,
        incoming.key_usage(),
        incoming.algorithm(),
        incoming.mode_of_use(),
        incoming.key_version(),
        incoming.exportability(),
    )?;
    for block in incoming.optional_blocks() {
        if ![BlockId::KP, BlockId::PB].contains(&block.block_id()) {
            header = header.with_optional_block(block.clone())?;
        }
    }
    Ok(header)
}

/// The KCV of a key held only for the duration of a request.
pub(super) fn check_value(key: &dyn SymmetricKey, method: kcv::KcvMethod) -> Result<String, Error> {
    kcv::compute(key, method, kcv::DEFAULT_KCV_LEN)
        .map(|k| k.to_string())
        .map_err(|e| core_error("KeyCheckValueAlgorithm", e))
}
