//! Failed TR-31 unwraps counted per key block protection key (T-KB-4). A version A or C block
//! carries a 32-bit MAC, which 2^32 guesses forge, so every block that fails to authenticate
//! under a stored KBPK is counted durably (in the store's settings, so every process adds to
//! one count). The count is audited when it reaches [`UnwrapFailurePolicy::alarm_after`] and
//! at every multiple of it; at [`UnwrapFailurePolicy::disable_after`], if set, the KBPK is
//! disabled as `StopKeyUsage` would, audited, and its count starts again.

use serde_json::json;

use crate::{Hsm, Store, model::KeyRecord};

/// What failed unwraps under one KBPK lead to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnwrapFailurePolicy {
    /// Failures after which (and after every multiple of which) an audit event is written.
    pub alarm_after: u32,
    /// Failures after which the KBPK is disabled; `None` leaves it enabled.
    pub disable_after: Option<u32>,
}

impl Default for UnwrapFailurePolicy {
    /// An alarm every 5 failures; no disabling, which would let anyone who can send blocks
    /// stop a partner's key exchange.
    fn default() -> Self {
        Self {
            alarm_after: 5,
            disable_after: None,
        }
    }
}

/// The setting holding a KBPK's count.
fn setting_name(key_id: &str) -> String {
    format!("unwrap_failures.{key_id}")
}

impl<S: Store> Hsm<S> {
    /// Counts one block that failed to authenticate under `kbpk`. Best effort: the import has
    /// failed already, and a store that refuses the write loses one count.
    pub(crate) fn count_failed_unwrap(&self, kbpk: &KeyRecord) {
        let name = setting_name(&kbpk.key_id);
        let Some(count) = self.add_to_count(&name) else {
            return;
        };
        let policy = self.unwrap_failures;
        let arn = match self.arn(&kbpk.key_id) {
            Ok(arn) => arn.to_string(),
            Err(_) => return,
        };
        if policy.alarm_after > 0 && count % policy.alarm_after == 0 {
            let _ = self.audit_service_event(
                "KeyBlockUnwrapFailures",
                vec![arn.clone()],
                json!({ "failedUnwraps": count, "disableAfter": policy.disable_after }),
                None,
            );
        }
        if policy.disable_after.is_some_and(|limit| count >= limit) {
            let disabled = self.update(&arn, "WrappingKeyIdentifier", |r, now| {
                Ok(r.enabled.then(|| r.with_usage(false, now)))
            });
            let _ = self.audit_service_event(
                "DisableKeyBlockProtectionKey",
                vec![arn],
                json!({ "failedUnwraps": count, "reason": "too many key blocks failed to authenticate" }),
                disabled.as_ref().err(),
            );
            if disabled.is_ok() {
                let _ = self.store.update_setting(&name, |_| Some("0".to_owned()));
            }
        }
    }

    /// Adds one to the count `name`; the new count.
    fn add_to_count(&self, name: &str) -> Option<u32> {
        let count = |v: Option<&str>| v.and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
        self.store
            .update_setting(name, |v| Some(count(v).saturating_add(1).to_string()))
            .ok()
            .flatten()
            .map(|v| count(Some(&v)))
    }

    /// The failed unwraps counted under the KBPK `key_id` since it was last disabled.
    pub fn failed_unwraps(&self, key_id: &str) -> Result<u32, crate::Error> {
        Ok(self
            .store
            .get_setting(&setting_name(key_id))?
            .map_or(0, |s| s.value.parse().unwrap_or(0)))
    }
}
