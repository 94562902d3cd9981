//! Operations by the service's names: one entry point for the CLI and the HTTP emulator.
//!
//! [`dispatch`] takes an operation name (`CreateKey`, `GenerateMac`, …) and the request as the
//! service's JSON, and returns the response JSON or the service's error.

use std::{
    collections::BTreeMap,
    sync::{Arc, PoisonError, RwLock, Weak},
    time::Instant,
};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    Error,
    arn::Region,
    hsm::{Hsm, HsmConfig},
    replication::{self, Drained, Retry},
    store::Store,
};

/// One region's HSM as the service's API: operations called by name with the service's JSON.
///
/// The CLI, the HTTP server and replication reach a region through this trait, so a region in
/// this process ([`Hsm`]) and a region served by another payhsm over the wire are the same to
/// them.
pub trait Service: Send + Sync {
    /// The region this service holds.
    fn region(&self) -> &Region;

    /// Runs `operation` with the request `input` (see [`dispatch`]).
    fn call(&self, operation: &str, input: Value) -> Result<Value, Error>;

    /// Drains the region's replication outbox until `deadline` ([`replication::drain`]) if
    /// this process holds the region's store; a region served elsewhere drains its own.
    fn drain_replication(&self, retry: &Retry, deadline: Instant) -> Result<Drained, Error> {
        let _ = (retry, deadline);
        Ok(Drained::default())
    }
}

impl<S: Store> Service for Hsm<S> {
    fn region(&self) -> &Region {
        Self::region(self)
    }

    fn call(&self, operation: &str, input: Value) -> Result<Value, Error> {
        dispatch(self, operation, input)
    }

    fn drain_replication(&self, retry: &Retry, deadline: Instant) -> Result<Drained, Error> {
        replication::drain(self, retry, deadline)
    }
}

/// The regions of one account: each region's [`Service`], opened when first asked for.
pub trait Regions: Send + Sync {
    /// The regions that exist (have a store).
    fn names(&self) -> Result<Vec<Region>, Error>;

    /// The service of `region`; `ResourceNotFoundException` when no store exists for it.
    fn open(&self, region: &Region) -> Result<Arc<dyn Service>, Error>;
}

/// Regions in this process: each region's [`Service`], added by the caller
/// ([`LocalRegions::add_hsm`] makes an HSM that reaches the others and adds it).
#[derive(Default)]
pub struct LocalRegions {
    services: RwLock<BTreeMap<String, Arc<dyn Service>>>,
}

impl std::fmt::Debug for LocalRegions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self.read().keys().cloned().collect();
        f.debug_struct("LocalRegions")
            .field("regions", &names)
            .finish()
    }
}

impl LocalRegions {
    /// No regions yet.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// What an HSM keeps to reach its sibling regions.
    pub fn weak(self: &Arc<Self>) -> Weak<dyn Regions> {
        let weak: Weak<Self> = Arc::downgrade(self);
        weak
    }

    /// An HSM over `store` for `config`'s region that reaches these regions, added to them.
    pub fn add_hsm<S: Store + 'static>(
        self: &Arc<Self>,
        store: S,
        config: HsmConfig,
    ) -> Arc<Hsm<S>> {
        let hsm = Arc::new(Hsm::new(
            store,
            HsmConfig {
                regions: Some(self.weak()),
                ..config
            },
        ));
        self.add(hsm.clone());
        hsm
    }

    /// Adds (or replaces) the service of its region.
    pub fn add(&self, service: Arc<dyn Service>) {
        let name = service.region().as_str().to_owned();
        self.services
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name, service);
    }

    /// Takes a region away (its store gone); its service, if it had one.
    pub fn remove(&self, region: &Region) -> Option<Arc<dyn Service>> {
        self.services
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(region.as_str())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<dyn Service>>> {
        self.services.read().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Regions for LocalRegions {
    fn names(&self) -> Result<Vec<Region>, Error> {
        self.read().keys().map(|r| Region::new(r)).collect()
    }

    fn open(&self, region: &Region) -> Result<Arc<dyn Service>, Error> {
        self.read()
            .get(region.as_str())
            .cloned()
            .ok_or_else(|| Error::not_found(region.as_str()))
    }
}

/// The control-plane operations [`dispatch`] serves.
pub const CONTROL_PLANE: &[&str] = &[
    "CreateKey",
    "GetKey",
    "ListKeys",
    "DeleteKey",
    "RestoreKey",
    "StartKeyUsage",
    "StopKeyUsage",
    "ImportKey",
    "ExportKey",
    "GetParametersForImport",
    "GetParametersForExport",
    "GetPublicKeyCertificate",
    "GetCertificateSigningRequest",
    "CreateAlias",
    "GetAlias",
    "UpdateAlias",
    "DeleteAlias",
    "ListAliases",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "AddKeyReplicationRegions",
    "RemoveKeyReplicationRegions",
    "EnableDefaultKeyReplicationRegions",
    "DisableDefaultKeyReplicationRegions",
    "GetDefaultKeyReplicationRegions",
    "PutResourcePolicy",
    "GetResourcePolicy",
    "DeleteResourcePolicy",
    "AssociateMpaTeam",
    "DisassociateMpaTeam",
    "GetMpaTeamAssociation",
];

/// The operations [`dispatch`] serves to other payhsm regions, not to the service's clients:
/// `ImportKeyReplica`, by which a primary region installs a replica (see
/// [`replication::replica`]). A server routes them for its peers only.
pub const INTERNAL: &[&str] = &["ImportKeyReplica"];

/// The data-plane operations [`dispatch`] serves.
pub const DATA_PLANE: &[&str] = &[
    "GenerateCardValidationData",
    "VerifyCardValidationData",
    "GeneratePinData",
    "VerifyPinData",
    "TranslatePinData",
    "GenerateMac",
    "VerifyMac",
    "EncryptData",
    "DecryptData",
    "ReEncryptData",
    "GenerateAuthRequestCryptogram",
    "VerifyAuthRequestCryptogram",
    "GenerateMacEmvPinChange",
    "TranslateKeyMaterial",
];

/// Runs `operation` with the request `input`. In the error state every operation fails
/// before its request is even read.
pub fn dispatch<S: Store>(hsm: &Hsm<S>, operation: &str, input: Value) -> Result<Value, Error> {
    hsm.self_test_result()?;
    // Each operation's typed request, its typed response as JSON.
    macro_rules! typed {
        ($method:ident) => {
            hsm.$method(req(hsm, operation, input)?).and_then(response)
        };
    }
    match operation {
        "CreateKey" => typed!(create_key),
        "GetKey" => typed!(get_key),
        "ListKeys" => typed!(list_keys),
        "DeleteKey" => typed!(delete_key),
        "RestoreKey" => typed!(restore_key),
        "StartKeyUsage" => typed!(start_key_usage),
        "StopKeyUsage" => typed!(stop_key_usage),
        "ImportKey" => typed!(import_key),
        "ExportKey" => typed!(export_key),
        "GetParametersForImport" => typed!(get_parameters_for_import),
        "GetParametersForExport" => typed!(get_parameters_for_export),
        "GetPublicKeyCertificate" => typed!(get_public_key_certificate),
        "GetCertificateSigningRequest" => typed!(get_certificate_signing_request),
        "CreateAlias" => typed!(create_alias),
        "GetAlias" => typed!(get_alias),
        "UpdateAlias" => typed!(update_alias),
        "DeleteAlias" => typed!(delete_alias),
        "ListAliases" => typed!(list_aliases),
        "TagResource" => typed!(tag_resource),
        "UntagResource" => typed!(untag_resource),
        "ListTagsForResource" => typed!(list_tags_for_resource),
        "AddKeyReplicationRegions" => typed!(add_key_replication_regions),
        "RemoveKeyReplicationRegions" => typed!(remove_key_replication_regions),
        "EnableDefaultKeyReplicationRegions" => typed!(enable_default_key_replication_regions),
        "DisableDefaultKeyReplicationRegions" => typed!(disable_default_key_replication_regions),
        "GetDefaultKeyReplicationRegions" => typed!(get_default_key_replication_regions),
        "ImportKeyReplica" => typed!(import_key_replica),
        "PutResourcePolicy" => typed!(put_resource_policy),
        "GetResourcePolicy" => typed!(get_resource_policy),
        "DeleteResourcePolicy" => typed!(delete_resource_policy),
        "AssociateMpaTeam" => typed!(associate_mpa_team),
        "DisassociateMpaTeam" => typed!(disassociate_mpa_team),
        "GetMpaTeamAssociation" => typed!(get_mpa_team_association),
        "GenerateCardValidationData" => typed!(generate_card_validation_data),
        "VerifyCardValidationData" => typed!(verify_card_validation_data),
        "GeneratePinData" => typed!(generate_pin_data),
        "VerifyPinData" => typed!(verify_pin_data),
        "TranslatePinData" => typed!(translate_pin_data),
        "GenerateMac" => typed!(generate_mac),
        "VerifyMac" => typed!(verify_mac),
        "EncryptData" => typed!(encrypt_data),
        "DecryptData" => typed!(decrypt_data),
        "ReEncryptData" => typed!(re_encrypt_data),
        "GenerateAuthRequestCryptogram" => typed!(generate_auth_request_cryptogram),
        "VerifyAuthRequestCryptogram" => typed!(verify_auth_request_cryptogram),
        "GenerateMacEmvPinChange" => typed!(generate_mac_emv_pin_change),
        "TranslateKeyMaterial" => typed!(translate_key_material),
        other => Err(Error::validation(
            "Operation",
            format!("{other} is not an operation this HSM offers"),
        )),
    }
}

/// A typed response as the service's JSON.
pub fn response<T: Serialize>(output: T) -> Result<Value, Error> {
    serde_json::to_value(output).map_err(|e| Error::internal(format!("response: {e}")))
}

/// The typed request; a request that does not parse is refused and audited as a failure of
/// `operation` (its values are not logged).
fn req<S: Store, T: for<'de> Deserialize<'de>>(
    hsm: &Hsm<S>,
    operation: &str,
    input: Value,
) -> Result<T, Error> {
    crate::hsm::request(input).inspect_err(|e| hsm.audit_rejected(operation, e))
}
