//! The start-up sweep of orphaned key material: a process killed between creating a token
//! object and committing the record that refers to it leaves an object nothing refers to.
//! When an HSM starts, at most once per grace period across processes (the store's settings
//! remember when), the store destroys such material older than the grace period, and each
//! destruction is audited. Younger material is left alone: its creator may be about to commit.

use std::time::Duration;

use serde_json::json;

use crate::{Hsm, Store, store::Vault as _};

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
        // Claimed before sweeping, so concurrent starts do not sweep twice.
        let claimed = self.store.update_setting(LAST_SWEEP, |last| {
            let ran = last.and_then(|v| v.parse().ok()).unwrap_or(i64::MIN);
            (grace_ms == 0 || now.saturating_sub(ran) >= grace_ms).then(|| now.to_string())
        });
        if !matches!(claimed, Ok(Some(_))) {
            return;
        }
        match self.store.sweep_orphans(grace) {
            Ok(objects) => {
                for object in objects {
                    let _ = self.audit_service_event(
                        "DeleteOrphanedKeyMaterial",
                        Vec::new(),
                        json!({ "material": object, "reason": "no key record refers to it" }),
                        None,
                    );
                }
            }
            Err(e) => {
                let _ = self.audit_service_event(
                    "DeleteOrphanedKeyMaterial",
                    Vec::new(),
                    json!({ "reason": "the sweep failed; the next start tries again" }),
                    Some(&e),
                );
            }
        }
    }
}
