//! Multi-region keys, as AWS Payment Cryptography has them, with the standards' transport.
//!
//! **Semantics.** A key created or imported with `ReplicationRegions` (or, without them, under
//! the account's default regions, `EnableDefaultKeyReplicationRegions`) is a *primary*
//! (`MultiRegionKeyType: PRIMARY`) with a `ReplicationStatus` per region; in each of those
//! regions a *replica* appears with the same key id, attributes and KCV
//! (`MultiRegionKeyType: REPLICA`, `PrimaryRegion`). Only exportable symmetric keys replicate
//! ([`policy::check_replicable`] says why not), to regions of the store other than the key's
//! own. Replicas serve every cryptographic operation and refuse every change of key state
//! ([`policy::check_writable`], naming the primary region); aliases and tags are per region
//! and not replicated. Enabling and disabling the primary reaches its replicas; deleting the
//! primary deletes its replicas at once, and restoring it does not bring them back;
//! `RemoveKeyReplicationRegions` deletes one replica and touches nothing else.
//!
//! **Durability: an outbox.** Every change a replica must follow raises the primary's
//! generation, and the store commits one work item per replica to bring up to date in the
//! same transaction as the primary's record ([`KeyRecord::owed_replications`], an
//! [`OutboxItem`](crate::model::OutboxItem) each). A worker
//! drains the outbox ([`drain`]): the CLI before it exits, the server in the background. An
//! item is idempotent: it makes the replica equal to the primary *now*, and the replica
//! ignores a synchronisation older than the one it has, so a retried, repeated or late item
//! changes nothing. The status goes `IN_PROGRESS` → `SYNCHRONIZED`, or `FAILED` with a
//! `StatusMessage` after bounded retries with back-off; the item stays in the outbox and the
//! next drain tries again.
//!
//! **Transport: a link.** The replica region is reached only through its
//! [`Service`](crate::api::Service), in this process or over the wire, and spoken to in the
//! service's own API ([`link`]): once per region pair the two regions trust each other's CA
//! (`ImportKey` with `RootCertificatePublicKey`) and exchange a key-encrypting key with TR-34
//! (the replica's KRD certificate from `GetParametersForImport`, the primary's KDH signing
//! key from `GetParametersForExport`) or with ECDH (`ImportKey`/`ExportKey` with
//! `DiffieHellmanTr31KeyBlock`, both regions' certified key pairs); then each working key
//! travels as a TR-31 version D
//! block under that KEK, made by the primary's `ExportKey` machinery and opened by the
//! replica's `ImportKey` machinery in the internal operation `ImportKeyReplica` ([`replica`]),
//! which installs it under the primary's key id. Keys of up to 128 bits travel under an
//! AES-128 KEK exchanged by TR-34, stronger ones under an AES-256 KEK exchanged under a KBPK
//! derived by ECDH on P-521 ([`policy::KekExchange`] says why); a link holds each once made.
//!
//! **Audit.** For each synchronisation the primary region logs two `SynchronizeMultiRegionKey`
//! events (`ExportKeyReplica`, `ImportKeyReplica`) and the replica region one, plus its own
//! `CreateKey` event when the replica is made (`DeleteKey` when it is deleted); none carries
//! key material.

pub mod link;
pub mod replica;
pub mod worker;

use std::collections::BTreeSet;

use payhsm_core::key::KeyAttributes;
use serde::Deserialize;
use serde_json::{Value, json};

pub use replica::ImportKeyReplicaInput;
pub use worker::{Drained, Retry, drain};

use crate::{
    Error,
    arn::Region,
    hsm::{Audit, Hsm},
    model::{KeyRecord, KeyState, MultiRegion, Primary, ReplicaStatus, ReplicationState, Setting},
    policy,
    store::Store,
};

/// The setting holding the account's default replication regions in this region.
const DEFAULT_REGIONS: &str = "replication.default_regions";

/// `AddKeyReplicationRegions`, `RemoveKeyReplicationRegions`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KeyReplicationRegionsInput {
    /// A key ARN, alias ARN or alias name.
    pub key_identifier: String,
    /// The regions to add or remove.
    pub replication_regions: Vec<String>,
}

impl KeyReplicationRegionsInput {
    /// What the audit log records of the request.
    fn audit_parameters(&self) -> Value {
        json!({
            "keyIdentifier": self.key_identifier,
            "replicationRegions": self.replication_regions,
        })
    }
}

/// `EnableDefaultKeyReplicationRegions`, `DisableDefaultKeyReplicationRegions`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DefaultReplicationRegionsInput {
    /// The regions to add to or remove from the account's defaults.
    pub replication_regions: Vec<String>,
}

/// `GetDefaultKeyReplicationRegions` (an empty request).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetDefaultReplicationRegionsInput {}

impl Primary {
    /// A change every live replica must follow: each is brought up to date.
    fn changed(&mut self) {
        self.generation += 1;
        for status in self.replicas.values_mut() {
            if status.state != ReplicationState::DeleteInProgress {
                *status = ReplicaStatus::new(ReplicationState::InProgress);
            }
        }
    }
}

impl KeyRecord {
    /// After a change of a primary's state or usage: its replicas follow.
    pub(crate) fn update_replicas(&mut self) {
        if let Some(MultiRegion::Primary(p)) = &mut self.multi_region {
            p.changed();
        }
    }

    /// After a primary's deletion is scheduled: its replicas are deleted.
    pub(crate) fn delete_replicas(&mut self) {
        if let Some(MultiRegion::Primary(p)) = &mut self.multi_region {
            p.generation += 1;
            for status in p.replicas.values_mut() {
                *status = ReplicaStatus::new(ReplicationState::DeleteInProgress);
            }
        }
    }
}

impl<S: Store> Hsm<S> {
    /// The multi-region part of a key being created or imported with `requested` regions
    /// (`None`: the account's defaults, which apply only to keys that can replicate).
    pub(crate) fn replication_plan(
        &self,
        requested: Option<&[String]>,
        attributes: &KeyAttributes,
        exportable: bool,
    ) -> Result<Option<MultiRegion>, Error> {
        let (regions, using_defaults) = match requested {
            Some([]) => return Ok(None),
            Some(list) => {
                self.check_replicable(attributes, exportable)?;
                (self.replication_regions(list)?, false)
            }
            None => {
                let defaults = self.default_regions()?.0;
                if defaults.is_empty() || self.check_replicable(attributes, exportable).is_err() {
                    return Ok(None);
                }
                (defaults, true)
            }
        };
        Ok(Some(MultiRegion::Primary(Primary {
            replicas: regions
                .into_iter()
                .map(|r| (r, ReplicaStatus::new(ReplicationState::InProgress)))
                .collect(),
            using_defaults,
            generation: 1,
        })))
    }

    /// Checks that a key of `attributes` may have replicas, and that this store can export it.
    fn check_replicable(&self, attributes: &KeyAttributes, exportable: bool) -> Result<(), Error> {
        policy::check_replicable(attributes, exportable)?;
        self.store().check_export_supported().map_err(|e| match e {
            Error::NotSupported { message } => Error::NotSupported {
                message: format!("ReplicationRegions: replication is {message}"),
            },
            other => other,
        })
    }

    /// Requested replica regions, checked: region names, not this region, each with a store.
    fn replication_regions(&self, requested: &[String]) -> Result<BTreeSet<String>, Error> {
        const FIELD: &str = "ReplicationRegions";
        if requested.is_empty() {
            return Err(Error::validation(FIELD, "give at least one region"));
        }
        let known: Vec<String> = match self.regions() {
            Some(regions) => regions
                .names()?
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
            None => vec![self.region().as_str().to_owned()],
        };
        let mut out = BTreeSet::new();
        for (i, name) in requested.iter().enumerate() {
            let region = Region::new(name).map_err(|_| {
                Error::validation(
                    &format!("{FIELD}[{i}]"),
                    "not a region name (such as us-west-2)",
                )
            })?;
            if &region == self.region() {
                return Err(Error::validation(
                    &format!("{FIELD}[{i}]"),
                    format!(
                        "{region} is this key's own region; a key is replicated to other regions"
                    ),
                ));
            }
            if !known.contains(&name.clone()) {
                return Err(Error::validation(
                    &format!("{FIELD}[{i}]"),
                    format!(
                        "{region} is not a region of this store (its regions: {})",
                        known.join(", ")
                    ),
                ));
            }
            out.insert(name.clone());
        }
        Ok(out)
    }

    /// The account's default replication regions here, and the setting's revision (0: never
    /// set).
    fn default_regions(&self) -> Result<(BTreeSet<String>, u64), Error> {
        match self.store().get_setting(DEFAULT_REGIONS)? {
            None => Ok((BTreeSet::new(), 0)),
            Some(s) => Ok((
                serde_json::from_str(&s.value)
                    .map_err(|_| Error::internal("the stored default regions do not parse"))?,
                s.revision,
            )),
        }
    }

    /// `EnableDefaultKeyReplicationRegions`: keys created here from now on that can replicate
    /// are replicated to these regions too, unless their `CreateKey` names regions itself.
    pub fn enable_default_key_replication_regions(
        &self,
        input: DefaultReplicationRegionsInput,
    ) -> Result<Value, Error> {
        self.default_regions_operation("EnableDefaultKeyReplicationRegions", &input, |regions| {
            let add = self.replication_regions(&input.replication_regions)?;
            regions.extend(add);
            Ok(())
        })
    }

    /// `DisableDefaultKeyReplicationRegions`: existing keys keep their replicas.
    pub fn disable_default_key_replication_regions(
        &self,
        input: DefaultReplicationRegionsInput,
    ) -> Result<Value, Error> {
        self.default_regions_operation("DisableDefaultKeyReplicationRegions", &input, |regions| {
            for name in &input.replication_regions {
                regions.remove(name);
            }
            Ok(())
        })
    }

    /// Enable or Disable: `change` applied to the default regions, compare-and-swap.
    fn default_regions_operation(
        &self,
        event: &str,
        input: &DefaultReplicationRegionsInput,
        change: impl Fn(&mut BTreeSet<String>) -> Result<(), Error>,
    ) -> Result<Value, Error> {
        let params = || json!({ "replicationRegions": input.replication_regions });
        self.run(event, Audit::Write, params, || {
            if input.replication_regions.is_empty() {
                return Err(Error::validation(
                    "ReplicationRegions",
                    "give at least one region",
                ));
            }
            for _ in 0..crate::hsm::MAX_RETRIES {
                let (mut regions, revision) = self.default_regions()?;
                change(&mut regions)?;
                let setting = Setting {
                    name: DEFAULT_REGIONS.to_owned(),
                    value: serde_json::to_string(&regions)
                        .map_err(|e| Error::internal(e.to_string()))?,
                    revision: revision + 1,
                };
                if self.store().put_setting(&setting)? {
                    return Ok((json!({ "EnabledReplicationRegions": regions }), Vec::new()));
                }
            }
            Err(Error::conflict(
                "the default regions are changing too often; retry",
            ))
        })
    }

    /// `GetDefaultKeyReplicationRegions`.
    pub fn get_default_key_replication_regions(
        &self,
        _input: GetDefaultReplicationRegionsInput,
    ) -> Result<Value, Error> {
        self.run(
            "GetDefaultKeyReplicationRegions",
            Audit::Read,
            || json!({}),
            || {
                let (regions, _) = self.default_regions()?;
                Ok((json!({ "EnabledReplicationRegions": regions }), Vec::new()))
            },
        )
    }

    /// `AddKeyReplicationRegions`: the key (a primary, or a key that becomes one) gets
    /// replicas in these regions too. A region it already replicates to is left as it is; one
    /// whose replica failed or is being deleted is synchronised again.
    pub fn add_key_replication_regions(
        &self,
        input: KeyReplicationRegionsInput,
    ) -> Result<crate::model::KeyOutput, Error> {
        let params = input.audit_parameters();
        self.run(
            "AddKeyReplicationRegions",
            Audit::Write,
            || params,
            || {
                let add = self.replication_regions(&input.replication_regions)?;
                let record = self.update(&input.key_identifier, "KeyIdentifier", |r, _| {
                    policy::check_writable(r)?;
                    check_key_state(r)?;
                    self.check_replicable(&r.attributes, r.exportable)?;
                    let mut p = match &r.multi_region {
                        Some(MultiRegion::Primary(p)) => p.clone(),
                        // Above every generation the key had before (each change raised its
                        // revision), so replicas deleted earlier take the new one.
                        _ => Primary {
                            generation: r.revision,
                            ..Primary::default()
                        },
                    };
                    let mut added = false;
                    for region in &add {
                        let state = p.replicas.get(region).map(|s| s.state);
                        if matches!(
                            state,
                            None | Some(
                                ReplicationState::Failed | ReplicationState::DeleteInProgress
                            )
                        ) {
                            p.replicas.insert(
                                region.clone(),
                                ReplicaStatus::new(ReplicationState::InProgress),
                            );
                            added = true;
                        }
                    }
                    Ok(added.then(|| with_regions_changed(r, p)))
                })?;
                self.key_output(&record)
            },
        )
    }

    /// `RemoveKeyReplicationRegions`: the replicas in these regions are deleted, for good;
    /// the primary and its other replicas are untouched.
    pub fn remove_key_replication_regions(
        &self,
        input: KeyReplicationRegionsInput,
    ) -> Result<crate::model::KeyOutput, Error> {
        let params = input.audit_parameters();
        self.run(
            "RemoveKeyReplicationRegions",
            Audit::Write,
            || params,
            || {
                if input.replication_regions.is_empty() {
                    return Err(Error::validation(
                        "ReplicationRegions",
                        "give at least one region",
                    ));
                }
                let record = self.update(&input.key_identifier, "KeyIdentifier", |r, _| {
                    policy::check_writable(r)?;
                    let Some(MultiRegion::Primary(mut p)) = r.multi_region.clone() else {
                        return Err(Error::validation(
                            "KeyIdentifier",
                            "the key is not replicated to any region",
                        ));
                    };
                    let mut removed = false;
                    for (i, region) in input.replication_regions.iter().enumerate() {
                        match p.replicas.get_mut(region) {
                            Some(s) if s.state == ReplicationState::DeleteInProgress => {}
                            Some(s) => {
                                *s = ReplicaStatus::new(ReplicationState::DeleteInProgress);
                                removed = true;
                            }
                            None => {
                                return Err(Error::validation(
                                    &format!("ReplicationRegions[{i}]"),
                                    "not a replication region of this key",
                                ));
                            }
                        }
                    }
                    Ok(removed.then(|| with_regions_changed(r, p)))
                })?;
                self.key_output(&record)
            },
        )
    }
}

/// `r` with its replica regions changed to `p`'s: now the key's own, and a change its
/// replicas follow.
fn with_regions_changed(r: &KeyRecord, mut p: Primary) -> KeyRecord {
    p.using_defaults = false;
    p.generation += 1;
    let mut next = r.clone();
    next.multi_region = Some(MultiRegion::Primary(p));
    next
}

/// Replicas are added only to a key in use.
fn check_key_state(r: &KeyRecord) -> Result<(), Error> {
    if r.state == KeyState::CreateComplete {
        Ok(())
    } else {
        Err(Error::conflict(format!(
            "the key is {}; replication regions are added to a CREATE_COMPLETE key",
            r.state.name()
        )))
    }
}
