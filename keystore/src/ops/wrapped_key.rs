//! `WrappedKey`: the working key a data-plane request brings with it instead of naming a
//! stored one (the service's dynamic keys), on `EncryptData`, `DecryptData`, `ReEncryptData`,
//! `GeneratePinData`, `VerifyPinData` and `TranslatePinData`.
//!
//! - `Tr31KeyBlock`: the working key in a TR-31 block under the operation's key, a stored K0
//!   or K1 KEK; the block's header must fit the role the key plays (D0 for data, P0 for PINs).
//! - `DiffieHellmanSymmetricKey`: the working key derived by ECDH from the operation's key, an
//!   ECC key pair made with a `DeriveKeyUsage`, and the other party's certificate, with the
//!   KDF of `DiffieHellmanTr31KeyBlock` ([`crate::exchange::ecdh`]): PIN set and reveal.
//!
//! The key exists only for the request. The response's key ARN is the operation's key; its
//! KCV is the working key's.

use std::sync::Arc;

use payhsm_core::crypto::SymmetricKey;
use serde::Deserialize;

use super::key_material::check_value;
use crate::{
    Error, Rule,
    exchange::{Incoming, ecdh::Agreement},
    hsm::Hsm,
    material::kcv_method,
    model::KeyRecord,
    policy::{self, DerivedKeyRule, KeyRole, roles},
    store::{Store, software_key},
};

/// `WrappedKey`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct WrappedKey {
    /// The working key.
    pub wrapped_key_material: WrappedKeyMaterial,
    /// How the response's KCV is computed; the algorithm's default if absent.
    pub key_check_value_algorithm: Option<String>,
}

/// `WrappedKeyMaterial`: exactly one member.
#[derive(Debug, Deserialize)]
pub enum WrappedKeyMaterial {
    /// A TR-31 block under the operation's key.
    Tr31KeyBlock(String),
    /// A key derived by ECDH with the operation's key.
    DiffieHellmanSymmetricKey(EcdhDerivationAttributes),
}

/// `EcdhDerivationAttributes`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct EcdhDerivationAttributes {
    /// The imported CA the other party's certificate chains to.
    pub certificate_authority_public_key_identifier: String,
    /// The other party's ECC certificate, base64 of the PEM text.
    pub public_key_certificate: String,
    /// The derived key's algorithm.
    pub key_algorithm: String,
    /// `NIST_SP800` or `ANSI_X963`.
    pub key_derivation_function: String,
    /// `SHA_256`, `SHA_384` or `SHA_512`.
    pub key_derivation_hash_algorithm: String,
    /// Hex, 1 to 1024 bytes.
    pub shared_information: String,
}

/// The key an operation runs with: the stored key, or the working key of its `WrappedKey`.
pub(crate) struct OperationKey {
    /// The key's handle.
    pub(crate) key: Arc<dyn SymmetricKey>,
    /// The KCV the response reports.
    pub(crate) key_check_value: String,
}

impl<S: Store> Hsm<S> {
    /// The key `record` (named by `identifier` in the request member `field`) gives for
    /// `role`: itself, checked against the role, or the working key `wrapped` (the request
    /// member `path`) carries or derives, whose attributes are checked against the role.
    pub(crate) fn operation_key(
        &self,
        record: &KeyRecord,
        (identifier, field): (&str, &str),
        role: &KeyRole,
        wrapped: Option<&WrappedKey>,
        path: &str,
    ) -> Result<OperationKey, Error> {
        let Some(wrapped) = wrapped else {
            policy::check_key(role, record)?;
            return Ok(OperationKey {
                key: self.store().open(record)?,
                key_check_value: record.key_check_value.clone(),
            });
        };
        let material = format!("{path}.WrappedKeyMaterial");
        let (attributes, key) = match &wrapped.wrapped_key_material {
            WrappedKeyMaterial::Tr31KeyBlock(block) => {
                let block_field = format!("{material}.Tr31KeyBlock");
                let unwrapped = self.open_tr31(record, &roles::TR31_UNWRAP, block, &block_field)?;
                let incoming = Incoming::from_tr31(unwrapped, &block_field)?;
                let key = software_key(
                    incoming.attributes.key_algorithm,
                    incoming.material.expose_secret(),
                )?;
                (incoming.attributes, key)
            }
            WrappedKeyMaterial::DiffieHellmanSymmetricKey(d) => {
                let derived = self.agree(
                    &Agreement {
                        base: &format!("{material}.DiffieHellmanSymmetricKey"),
                        private_key: (identifier, field.to_owned()),
                        ca: &d.certificate_authority_public_key_identifier,
                        certificate: &d.public_key_certificate,
                        algorithm: &d.key_algorithm,
                        algorithm_member: "KeyAlgorithm",
                        kdf: &d.key_derivation_function,
                        hash: &d.key_derivation_hash_algorithm,
                        shared_info: &d.shared_information,
                        shared_info_member: "SharedInformation",
                    },
                    &derived_rule(role)?,
                )?;
                (derived.attributes, derived.key)
            }
        };
        if !policy::fits(role, &attributes) {
            return Err(Error::policy(
                Rule::KeyUsage,
                format!(
                    "{}: the working key in {material} is a {} {} key without the usage, \
                     algorithm or mode of use this needs",
                    role.name, attributes.key_usage, attributes.key_algorithm,
                ),
            ));
        }
        let method = kcv_method(wrapped.key_check_value_algorithm.as_deref(), &attributes)?;
        let key_check_value = check_value(&key, method)?;
        Ok(OperationKey {
            key: Arc::new(key),
            key_check_value,
        })
    }
}

/// The ECDH-derived key a role allows.
fn derived_rule(role: &KeyRole) -> Result<DerivedKeyRule, Error> {
    policy::derived::WORKING_KEYS
        .iter()
        .find(|(r, _)| r == role)
        .map(|(_, rule)| *rule)
        .ok_or_else(|| {
            Error::validation(
                "WrappedKey",
                format!("{}: no ECDH-derived working key plays this role", role.name),
            )
        })
}
