//! The replica region's side: `ImportKeyReplica`, the internal operation a primary region's
//! worker calls ([`crate::api::INTERNAL`]). It makes, updates or deletes the replica of one
//! key so that it matches the primary as of the primary's generation; audited as the
//! service's `SynchronizeMultiRegionKey` event (and `CreateKey` / `DeleteKey` when the replica
//! is made or deleted).
//!
//! The key arrives only as a TR-31 block under the region link's KEK, opened by the same
//! `ImportKey` machinery as any TR-31 import; the KEK must be a non-exportable K1 key that
//! only unwraps, as the link made it. The block's key must have the primary's KCV. The
//! request is idempotent: a replica already at this generation or a later one is left alone,
//! so a repeated or late synchronisation changes nothing. A key of this id that is not a
//! replica of the same primary region is never touched.

use std::collections::BTreeMap;

use payhsm_core::{
    kcv::{self, KcvMethod},
    key::ModeOfUse,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    Error, ImportTr31KeyBlock,
    arn::Region,
    exchange::Incoming,
    hsm::{Audit, Hsm, MAX_RETRIES, NewKey, is_internal},
    model::{KeyOrigin, KeyRecord, KeyState, MultiRegion, attributes_json},
    store::{Store, software_key},
};

/// `ImportKeyReplica`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ImportKeyReplicaInput {
    /// The key id (the same in every region).
    pub key_id: String,
    /// The primary key's region.
    pub primary_region: String,
    /// The primary's replication generation this synchronisation carries.
    pub generation: u64,
    /// `CREATE_COMPLETE` (the replica exists) or `DELETE_COMPLETE` (it is deleted).
    pub key_state: String,
    /// Whether the primary is enabled.
    pub enabled: bool,
    /// The primary's KCV.
    pub key_check_value: String,
    /// How it was computed.
    pub key_check_value_algorithm: String,
    /// The primary's origin.
    pub key_origin: String,
    /// The key, under the region link's KEK: required to make the replica.
    pub key_material: Option<ReplicaKeyMaterial>,
}

/// How the replica's key arrives: only as a TR-31 key block.
#[derive(Debug, Deserialize)]
#[allow(missing_docs)] // The union's one member, documented on its shape.
pub enum ReplicaKeyMaterial {
    Tr31KeyBlock(ImportTr31KeyBlock),
}

/// A checked `ImportKeyReplica` request.
struct Sync {
    key_id: String,
    primary_region: String,
    generation: u64,
    deleted: bool,
    enabled: bool,
    kcv: String,
    kcv_method: KcvMethod,
    origin: KeyOrigin,
}

impl ImportKeyReplicaInput {
    fn check(&self, here: &Region) -> Result<Sync, Error> {
        let primary = Region::new(&self.primary_region)
            .map_err(|_| Error::validation("PrimaryRegion", "not a region name"))?;
        if &primary == here {
            return Err(Error::validation(
                "PrimaryRegion",
                "a replica is made in a region other than its primary's",
            ));
        }
        if is_internal(&self.key_id) || !crate::arn::is_key_id(&self.key_id) {
            return Err(Error::validation("KeyId", "not a key id"));
        }
        let deleted = match KeyState::from_name(&self.key_state)? {
            KeyState::CreateComplete => false,
            KeyState::DeleteComplete => true,
            _ => {
                return Err(Error::validation(
                    "KeyState",
                    "expected CREATE_COMPLETE or DELETE_COMPLETE",
                ));
            }
        };
        Ok(Sync {
            key_id: self.key_id.clone(),
            primary_region: self.primary_region.clone(),
            generation: self.generation,
            deleted,
            enabled: self.enabled,
            kcv: self.key_check_value.to_ascii_uppercase(),
            kcv_method: KcvMethod::from_name(&self.key_check_value_algorithm)
                .map_err(|e| Error::validation("KeyCheckValueAlgorithm", e.to_string()))?,
            origin: KeyOrigin::from_name(&self.key_origin)
                .map_err(|_| Error::validation("KeyOrigin", "unknown key origin"))?,
        })
    }
}

impl<S: Store> Hsm<S> {
    /// `ImportKeyReplica` (internal): makes, updates or deletes the replica.
    pub fn import_key_replica(&self, input: ImportKeyReplicaInput) -> Result<Value, Error> {
        let params = || {
            json!({
                "operation": "ImportKeyReplica",
                "keyId": input.key_id,
                "primaryRegion": input.primary_region,
                "generation": input.generation,
                "keyState": input.key_state,
                "enabled": input.enabled,
            })
        };
        self.run("SynchronizeMultiRegionKey", Audit::Service, params, || {
            let sync = input.check(self.region())?;
            let arn = self.arn(&sync.key_id)?;
            let incoming = input
                .key_material
                .as_ref()
                .map(|ReplicaKeyMaterial::Tr31KeyBlock(b)| self.replica_material(b, &sync))
                .transpose()?;
            let record = self.synchronize_replica(&sync, incoming)?;
            let key = record.map_or(Value::Null, |r| r.key_json(&arn));
            Ok((json!({ "Key": key }), vec![arn.to_string()]))
        })
    }

    /// The replica's key from its TR-31 block under the link's KEK, checked: the KEK only
    /// unwraps and cannot leave, the key fits the attribute table, and has the primary's KCV.
    fn replica_material(&self, b: &ImportTr31KeyBlock, sync: &Sync) -> Result<Incoming, Error> {
        let field = "KeyMaterial.Tr31KeyBlock.WrappingKeyIdentifier";
        let kek = self.load(&b.wrapping_key_identifier, field)?;
        if kek.exportable
            || kek.attributes.key_modes_of_use.to_mode_of_use() != Some(ModeOfUse::DECRYPT)
        {
            return Err(Error::validation(
                field,
                "a replica's key travels under a region link's key-encrypting key, which only \
                 unwraps and is not exportable",
            ));
        }
        let incoming = self.import_tr31(b)?;
        incoming.check()?;
        let handle = software_key(
            incoming.attributes.key_algorithm,
            incoming.material.expose_secret(),
        )?;
        let kcv = kcv::compute(&handle, sync.kcv_method, kcv::DEFAULT_KCV_LEN)
            .map_err(|e| Error::validation("KeyCheckValueAlgorithm", e.to_string()))?;
        if kcv.to_string() != sync.kcv {
            return Err(Error::validation(
                "KeyCheckValue",
                "the key block's key does not have the primary key's KCV",
            ));
        }
        Ok(incoming)
    }

    /// Brings the replica to `sync`, retrying on concurrent changes; the replica as it is
    /// then (`None` when there is none, as after a deletion of a replica never made).
    fn synchronize_replica(
        &self,
        sync: &Sync,
        incoming: Option<Incoming>,
    ) -> Result<Option<KeyRecord>, Error> {
        for _ in 0..MAX_RETRIES {
            let existing = self.store().get_key(&sync.key_id)?;
            if let Some(e) = &existing {
                match &e.multi_region {
                    Some(MultiRegion::Replica {
                        primary_region,
                        generation,
                    }) if *primary_region == sync.primary_region => {
                        if *generation >= sync.generation {
                            return Ok(existing);
                        }
                        let same = incoming.as_ref().is_none_or(|i| {
                            i.attributes == e.attributes && i.exportable == e.exportable
                        });
                        if !same || e.key_check_value != sync.kcv {
                            return Err(Error::conflict(format!(
                                "key {} here is a replica of another key",
                                sync.key_id
                            )));
                        }
                    }
                    _ => {
                        return Err(Error::conflict(format!(
                            "key {} exists in {} and is not a replica of the key in {}",
                            sync.key_id,
                            self.region(),
                            sync.primary_region
                        )));
                    }
                }
            }
            let replica = Some(MultiRegion::Replica {
                primary_region: sync.primary_region.clone(),
                generation: sync.generation,
            });
            let done = match (existing, sync.deleted) {
                (None, true) => return Ok(None),
                (Some(e), true) if e.state == KeyState::DeleteComplete => Some(e),
                (Some(e), true) => self.destroy(
                    &KeyRecord {
                        multi_region: replica,
                        ..e
                    },
                    self.now(),
                )?,
                (None, false) => {
                    let incoming = incoming.as_ref().ok_or_else(material_required)?;
                    let record = self.insert_key(
                        sync.key_id.clone(),
                        NewKey {
                            attributes: incoming.attributes,
                            exportable: incoming.exportable,
                            kcv_method: sync.kcv_method,
                            enabled: sync.enabled,
                            tags: BTreeMap::new(),
                            origin: sync.origin,
                            multi_region: replica,
                            derive_key_usage: None,
                        },
                        Some(incoming.material.expose_secret()),
                    )?;
                    self.audit_created(&record, sync)?;
                    return Ok(Some(record));
                }
                (Some(e), false) if e.state == KeyState::DeleteComplete => {
                    let incoming = incoming.as_ref().ok_or_else(material_required)?;
                    let block = self.store().seal(
                        &e.key_id,
                        &e.attributes,
                        e.exportable,
                        incoming.material.expose_secret(),
                    )?;
                    let now = self.now();
                    let next = KeyRecord {
                        state: KeyState::CreateComplete,
                        enabled: sync.enabled,
                        usage_start_timestamp: sync.enabled.then_some(now),
                        usage_stop_timestamp: None,
                        delete_timestamp: None,
                        key_block: Some(block.clone()),
                        multi_region: replica,
                        revision: e.revision + 1,
                        ..e
                    };
                    if self.store().update_key(&next, &[])? {
                        self.audit_created(&next, sync)?;
                        return Ok(Some(next));
                    }
                    // Changed meanwhile: the material sealed for it goes, and we look again.
                    let _ = self.store().discard(&next.key_id, &block);
                    None
                }
                (Some(e), false) => {
                    let now = self.now();
                    let mut next = KeyRecord {
                        multi_region: replica,
                        revision: e.revision + 1,
                        ..e.clone()
                    };
                    if e.enabled != sync.enabled {
                        next.enabled = sync.enabled;
                        if sync.enabled {
                            next.usage_start_timestamp = Some(now);
                        } else {
                            next.usage_stop_timestamp = Some(now);
                        }
                    }
                    self.store().update_key(&next, &[])?.then_some(next)
                }
            };
            if let Some(done) = done {
                self.forget_key(&done.key_id);
                return Ok(Some(done));
            }
        }
        Err(Error::conflict("the replica is changing too often; retry"))
    }

    /// The replica region's own `CreateKey` event for a replica made.
    fn audit_created(&self, record: &KeyRecord, sync: &Sync) -> Result<(), Error> {
        self.audit_service_event(
            "CreateKey",
            vec![self.arn(&record.key_id)?.to_string()],
            json!({
                "keyAttributes": attributes_json(&record.attributes),
                "exportable": record.exportable,
                "multiRegionKeyType": "REPLICA",
                "primaryRegion": sync.primary_region,
            }),
            None,
        )
    }
}

fn material_required() -> Error {
    Error::validation(
        "KeyMaterial",
        "required: the replica does not exist here yet, so its key must come with the request",
    )
}
