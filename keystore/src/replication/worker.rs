//! The worker: drains a primary region's outbox, one item at a time, through the region link.
//!
//! [`drain`] takes the outbox in commit order until it is empty or the deadline passes (what
//! is left stays `IN_PROGRESS` for the next drain). Each item is tried up to
//! [`Retry::attempts`] times with a doubling back-off; when every attempt fails the replica's
//! status becomes `FAILED` (or stays `DELETE_IN_PROGRESS`) with the last error as its
//! `StatusMessage`, the item stays in the outbox, and the next drain tries it again. Once a
//! region has failed every attempt in a drain, its later items get one attempt each, so an
//! unavailable region costs one back-off per drain, not one per key.
//!
//! An item is done only once the primary's status says so; the item is removed after that,
//! so a crash in between leaves an item that the next drain finds already done. Failpoints
//! (`PAYHSM_FAILPOINT`): `replication.after_export`, `replication.after_replica_import`,
//! `replication.before_status_update`.

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use serde_json::json;

use crate::{
    Error,
    api::Service,
    arn::Region,
    exchange::export_header,
    hsm::{Audit, Hsm},
    model::{
        KeyRecord, KeyState, MultiRegion, OutboxEntry, OutboxItem, ReplicaStatus, ReplicationState,
    },
    policy::{self, KekExchange},
    replication::link::Kek,
    store::{Store, failpoint},
};

/// How a drain retries a failing item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// Attempts per item and drain (at least one).
    pub attempts: u32,
    /// The wait after the first failed attempt; it doubles after each.
    pub backoff: Duration,
}

impl Default for Retry {
    /// Three attempts, 100 ms then 200 ms apart.
    fn default() -> Self {
        Self {
            attempts: 3,
            backoff: Duration::from_millis(100),
        }
    }
}

/// What a drain did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drained {
    /// Items done (the replica matches the primary, or is deleted).
    pub synchronized: usize,
    /// Items that failed every attempt: still in the outbox.
    pub failed: usize,
    /// Items not tried before the deadline: still in the outbox.
    pub remaining: usize,
}

impl Drained {
    /// Whether the outbox was emptied.
    pub const fn is_complete(&self) -> bool {
        self.failed == 0 && self.remaining == 0
    }
}

/// Drains `hsm`'s outbox until it is empty or `deadline` passes. Fails only when this
/// region's own store does; a replica region's failures are the items' status.
pub fn drain<S: Store>(hsm: &Hsm<S>, retry: &Retry, deadline: Instant) -> Result<Drained, Error> {
    const BATCH: usize = 64;
    let mut out = Drained::default();
    let mut down = BTreeSet::new();
    let mut after = None;
    loop {
        let batch = hsm.store().outbox(after, BATCH)?;
        let exhausted = batch.len() < BATCH;
        for entry in batch {
            after = Some(entry.seq);
            if Instant::now() >= deadline {
                out.remaining += 1;
                continue;
            }
            let attempts = if down.contains(&entry.item.region) {
                1
            } else {
                retry.attempts.max(1)
            };
            match attempt(hsm, &entry, attempts, retry.backoff, deadline) {
                Ok(()) => {
                    hsm.store().remove_outbox(entry.seq)?;
                    down.remove(&entry.item.region);
                    out.synchronized += 1;
                }
                Err(e) => {
                    hsm.replication_failed(&entry.item, &e)?;
                    down.insert(entry.item.region.clone());
                    out.failed += 1;
                }
            }
        }
        if exhausted {
            return Ok(out);
        }
    }
}

/// Up to `attempts` tries of one item, the waits doubling from `backoff`, none past the
/// deadline.
fn attempt<S: Store>(
    hsm: &Hsm<S>,
    entry: &OutboxEntry,
    attempts: u32,
    backoff: Duration,
    deadline: Instant,
) -> Result<(), Error> {
    let mut wait = backoff;
    let mut tried = 0;
    loop {
        tried += 1;
        match hsm.synchronize(&entry.item) {
            Ok(()) => return Ok(()),
            Err(e) if tried >= attempts || Instant::now() + wait >= deadline => return Err(e),
            Err(_) => {
                std::thread::sleep(wait);
                wait = wait.saturating_mul(2);
            }
        }
    }
}

/// Whether a failure of `ImportKeyReplica` means the replica region's copy of the KEK is gone
/// (deleted there, disabled): the link is made again.
fn link_broken(e: &Error) -> bool {
    match e {
        Error::ResourceNotFound { .. } => true,
        Error::Policy { rule, .. } => matches!(
            rule,
            crate::Rule::KeyState | crate::Rule::KeyDisabled | crate::Rule::KeyUsage
        ),
        _ => false,
    }
}

impl<S: Store> Hsm<S> {
    /// Brings the replica of one item up to date with the primary as it is now. Done (`Ok`)
    /// also when there is nothing to do: the key or its region left the primary.
    fn synchronize(&self, item: &OutboxItem) -> Result<(), Error> {
        let Some(primary) = self.load_id(&item.key_id)? else {
            return Ok(());
        };
        let Some(MultiRegion::Primary(p)) = &primary.multi_region else {
            return Ok(());
        };
        let Some(status) = p.replicas.get(&item.region) else {
            return Ok(());
        };
        let generation = p.generation;
        let deleting = status.state == ReplicationState::DeleteInProgress
            || primary.state != KeyState::CreateComplete;
        let region = Region::new(&item.region)?;
        let regions = self.regions().ok_or_else(|| {
            Error::internal(format!(
                "this HSM was opened without the account's other regions and cannot reach \
                 {region}"
            ))
        })?;
        let replica = regions.open(&region)?;
        let mut request = json!({
            "KeyId": primary.key_id,
            "PrimaryRegion": self.region().as_str(),
            "Generation": generation,
            "KeyState": if deleting { "DELETE_COMPLETE" } else { "CREATE_COMPLETE" },
            "Enabled": primary.enabled,
            "KeyCheckValue": primary.key_check_value,
            "KeyCheckValueAlgorithm": primary.key_check_value_algorithm.name(),
            "KeyOrigin": primary.origin.name(),
        });
        let exchange = KekExchange::for_key(primary.attributes.key_algorithm);
        if !deleting {
            let kek = self.link(&*replica, exchange)?;
            let block = self.export_replica(&primary, &kek, &region)?;
            failpoint("replication.after_export");
            request["KeyMaterial"] = json!({ "Tr31KeyBlock": {
                "WrappingKeyIdentifier": kek.replica_kek,
                "WrappedKeyBlock": block,
            } });
        }
        self.import_replica(&primary, &*replica, request, exchange)?;
        failpoint("replication.before_status_update");
        self.replication_done(&primary, &item.region, generation, deleting)
    }

    /// The primary as a TR-31 version D block under the link's `kek`, by the `ExportKey`
    /// machinery; audited here as `SynchronizeMultiRegionKey` (`ExportKeyReplica`).
    fn export_replica(
        &self,
        primary: &KeyRecord,
        kek: &Kek,
        region: &Region,
    ) -> Result<String, Error> {
        let arn = self.arn(&primary.key_id)?.to_string();
        let params = || {
            json!({
                "operation": "ExportKeyReplica",
                "keyArn": arn,
                "replicaRegion": region.as_str(),
            })
        };
        self.run("SynchronizeMultiRegionKey", Audit::Service, params, || {
            let kek = self
                .load_id(&kek.kek)?
                .ok_or_else(|| Error::internal("the region link's key-encrypting key is gone"))?;
            let header = export_header(
                primary,
                payhsm_tr31::Version::D,
                None,
                "KeyMaterial.Tr31KeyBlock",
            )?;
            policy::check_replica_export(primary, &kek, &header)?;
            let bytes = self.store().reveal(primary)?;
            let block = self.wrap_tr31(
                &kek,
                &header,
                bytes.expose_secret(),
                "KeyMaterial.Tr31KeyBlock",
            )?;
            Ok((block, vec![arn.clone()]))
        })
    }

    /// `ImportKeyReplica` in the replica region; audited here as `SynchronizeMultiRegionKey`
    /// (`ImportKeyReplica`), with its error if it failed. A failure that says the replica
    /// region's copy of the `exchange` KEK is gone drops that KEK.
    fn import_replica(
        &self,
        primary: &KeyRecord,
        replica: &dyn Service,
        request: serde_json::Value,
        exchange: KekExchange,
    ) -> Result<(), Error> {
        let result = replica.call("ImportKeyReplica", request);
        failpoint("replication.after_replica_import");
        let region = replica.region().as_str();
        self.audit_service_event(
            "SynchronizeMultiRegionKey",
            vec![self.arn(&primary.key_id)?.to_string()],
            json!({ "operation": "ImportKeyReplica", "replicaRegion": region }),
            result.as_ref().err(),
        )?;
        if let Err(e) = &result
            && link_broken(e)
        {
            self.forget_link(region, exchange)?;
        }
        result.map(|_| ())
    }

    /// Records a synchronisation as of `generation` in the primary's status: `SYNCHRONIZED`
    /// if nothing changed since, a deleted replica's region gone from the status.
    fn replication_done(
        &self,
        primary: &KeyRecord,
        region: &str,
        generation: u64,
        deleted: bool,
    ) -> Result<(), Error> {
        let arn = self.arn(&primary.key_id)?.to_string();
        self.replica_status(&arn, |p| {
            let status = p.replicas.get(region)?;
            if deleted {
                if status.state == ReplicationState::DeleteInProgress
                    || primary.state != KeyState::CreateComplete
                {
                    p.replicas.remove(region);
                    return Some(());
                }
                return None;
            }
            let current = matches!(
                status.state,
                ReplicationState::InProgress | ReplicationState::Failed
            ) && p.generation == generation;
            current.then(|| {
                p.replicas.insert(
                    region.to_owned(),
                    ReplicaStatus::new(ReplicationState::Synchronized),
                );
            })
        })
    }

    /// Records an item's failure in the primary's status: `FAILED` with the error, or, for a
    /// replica being deleted, `DELETE_IN_PROGRESS` with the error.
    fn replication_failed(&self, item: &OutboxItem, e: &Error) -> Result<(), Error> {
        let arn = self.arn(&item.key_id)?.to_string();
        let message = e.to_string();
        self.replica_status(&arn, |p| {
            let status = p.replicas.get_mut(&item.region)?;
            let state = match status.state {
                ReplicationState::DeleteInProgress => ReplicationState::DeleteInProgress,
                _ => ReplicationState::Failed,
            };
            let failed = ReplicaStatus {
                state,
                message: Some(message.clone()),
            };
            (*status != failed).then(|| *status = failed)
        })
    }

    /// Changes a primary's replication status by `change` (`None`: no change), which does
    /// not raise its generation. A key that is gone, or no longer a primary, needs nothing.
    fn replica_status(
        &self,
        arn: &str,
        change: impl Fn(&mut crate::model::Primary) -> Option<()>,
    ) -> Result<(), Error> {
        let updated = self.update(arn, "KeyIdentifier", |r, _| {
            let Some(MultiRegion::Primary(mut p)) = r.multi_region.clone() else {
                return Ok(None);
            };
            if change(&mut p).is_none() {
                return Ok(None);
            }
            let mut next = r.clone();
            next.multi_region = (!p.replicas.is_empty()).then_some(MultiRegion::Primary(p));
            Ok(Some(next))
        });
        match updated {
            Ok(_) | Err(Error::ResourceNotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
