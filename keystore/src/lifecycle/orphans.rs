//! The start-up sweep of orphaned key material: a process killed between creating a token
//! object and committing the record that refers to it leaves an object nothing refers to.
//! When an HSM starts, at most once per grace period across processes (the store's settings
//! remember when), the store destroys such material older than the grace period, and each
//! destruction is audited. Younger material is left alone: its creator may be about to commit.

use std::time::Duration;

use serde_json::json;

use crate::{Hsm, Store, model::Setting, store::Vault as _};

/// The setting that holds when the last sweep ran (ms).
const LAST_SWEEP: &str = "sweep.orphans";

impl<S: Store> Hsm<S> {
    /// Sweeps orphaned material older than `grace`, unless a sweep ran within `grace`. Best
    /// effort: a failed sweep leaves the orphans for the next one, and never stops the HSM.
    pub(crate) fn sweep_orphans(&self, grace: Duration) {
        if !self.store.vault().holds_objects() {
            return;
        }
        let now = self.now().0;
        let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        let Ok(last) = self.store.get_setting(LAST_SWEEP) else {
            return;
        };
        let (ran, revision) = last.map_or((i64::MIN, 0), |s| {
            (s.value.parse().unwrap_or(i64::MIN), s.revision)
        });
        if grace_ms > 0 && now.saturating_sub(ran) < grace_ms {
            return;
        }
        // Claimed first, so concurrent starts do not sweep twice.
        let claim = Setting {
            name: LAST_SWEEP.to_owned(),
            value: now.to_string(),
            revision: revision + 1,
        };
        if !matches!(self.store.put_setting(&claim), Ok(true)) {
            return;
        }
        let swept = self.store.sweep_orphans(grace);
        let (objects, error) = match &swept {
            Ok(objects) => (objects.clone(), None),
            Err(e) => (Vec::new(), Some(e)),
        };
        for object in &objects {
            let _ = self.audit_service_event(
                "DeleteOrphanedKeyMaterial",
                Vec::new(),
                json!({ "material": object, "reason": "no key record refers to it" }),
                None,
            );
        }
        if error.is_some() {
            let _ = self.audit_service_event(
                "DeleteOrphanedKeyMaterial",
                Vec::new(),
                json!({ "reason": "the sweep failed; the next start tries again" }),
                error,
            );
        }
    }
}
