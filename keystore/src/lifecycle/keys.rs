//! Keys: `CreateKey`, `GetKey`, `ListKeys`, `DeleteKey`, `RestoreKey`, `StartKeyUsage`,
//! `StopKeyUsage`, and the key ceremony's clear-key import.

use std::collections::BTreeMap;

use payhsm_core::{
    kcv::{self, KcvMethod},
    key::{KeyAttributes, KeyClass, KeyUsage},
    secret::SecretVec,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    Error, Rule,
    clock::Timestamp,
    hsm::{Audit, Hsm, NewKey, Page, is_internal},
    material::{check_material, kcv_method},
    model::{KeyAttributesInput, KeyOrigin, KeyOutput, KeyRecord, KeyState, TagInput, parse_tags},
    policy,
    store::{Store, software_key},
};

/// `CreateKey`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CreateKeyInput {
    /// The key's attributes.
    pub key_attributes: KeyAttributesInput,
    /// Whether it may be exported.
    pub exportable: bool,
    /// `ANSI_X9_24`, `CMAC` or `HMAC`; the algorithm's default if absent.
    pub key_check_value_algorithm: Option<String>,
    /// Whether it starts enabled (default true).
    pub enabled: Option<bool>,
    /// Tags.
    pub tags: Option<Vec<TagInput>>,
    /// The usage of the keys an ECC key pair for key agreement (K3) derives by ECDH:
    /// required for one, refused for any other key.
    pub derive_key_usage: Option<String>,
    /// Regions to replicate the key to (the account's defaults apply if absent).
    pub replication_regions: Option<Vec<String>>,
}

/// `GetKey`, `RestoreKey`, `StartKeyUsage`, `StopKeyUsage`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KeyIdentifierInput {
    /// A key ARN, alias ARN or alias name.
    pub key_identifier: String,
}

/// `DeleteKey`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DeleteKeyInput {
    /// A key ARN, alias ARN or alias name.
    pub key_identifier: String,
    /// Days until the key is deleted: 3 to 180, default 7.
    pub delete_key_in_days: Option<i64>,
}

/// `ListKeys`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ListKeysInput {
    /// Only keys in this state.
    pub key_state: Option<String>,
    /// From a previous page.
    pub next_token: Option<String>,
    /// 1 to 100, default 50.
    pub max_results: Option<i64>,
}

/// Key material entered in a key ceremony, for [`Hsm::import_clear_key`]: the only way clear
/// key material enters the HSM. Build it only from components entered by their custodians.
pub struct CeremonyKey {
    /// The attributes the key gets.
    pub attributes: KeyAttributes,
    /// Whether it may be exported.
    pub exportable: bool,
    /// The key, combined from its components.
    pub material: SecretVec,
    /// The KCV the ceremony's paperwork states; the import is refused unless it matches.
    pub expected_check_value: String,
}

impl<S: Store> Hsm<S> {
    /// `CreateKey`: a key generated inside the HSM.
    pub fn create_key(&self, input: CreateKeyInput) -> Result<KeyOutput, Error> {
        let params = || {
            json!({
                "keyAttributes": input.key_attributes.audit_json(),
                "exportable": input.exportable,
                "enabled": input.enabled,
                "replicationRegions": input.replication_regions,
            })
        };
        self.run("CreateKey", Audit::Write, params, || {
            let attributes = input.key_attributes.parse("KeyAttributes")?;
            policy::check_attributes(&attributes)?;
            let derive_key_usage =
                derive_key_usage(&attributes, input.derive_key_usage.as_deref())?;
            if attributes.key_class == KeyClass::PublicKey {
                return Err(Error::policy(
                    Rule::KeyClass,
                    "a PUBLIC_KEY is imported in a certificate (ImportKey with \
                     RootCertificatePublicKey or TrustedCertificatePublicKey), not created",
                ));
            }
            let kcv_method = kcv_method(input.key_check_value_algorithm.as_deref(), &attributes)?;
            let tags = parse_tags(input.tags.as_deref().unwrap_or_default(), "Tags")?;
            let multi_region = self.replication_plan(
                input.replication_regions.as_deref(),
                &attributes,
                input.exportable,
            )?;
            let record = self.add_key(
                NewKey {
                    attributes,
                    exportable: input.exportable,
                    kcv_method,
                    enabled: input.enabled.unwrap_or(true),
                    tags,
                    origin: KeyOrigin::AwsPaymentCryptography,
                    derive_key_usage,
                    multi_region,
                },
                None,
            )?;
            self.key_output(&record)
        })
    }

    /// Imports clear key material from a key ceremony (the explicit clear-key path): checks
    /// the attributes, the key's strength and the ceremony's KCV, then stores the key.
    pub fn import_clear_key(&self, key: CeremonyKey) -> Result<KeyOutput, Error> {
        let params = || {
            json!({
                "keyMaterial": "KeyCeremonyComponents",
                "keyAttributes": crate::model::attributes_json(&key.attributes),
                "exportable": key.exportable,
            })
        };
        self.run("ImportKey", Audit::Write, params, || {
            policy::check_attributes(&key.attributes)?;
            check_material(key.attributes.key_algorithm, key.material.expose_secret())?;
            let kcv_method = KcvMethod::default_for(key.attributes.key_algorithm)
                .map_err(|e| Error::validation("KeyAttributes", e.to_string()))?;
            let handle = software_key(key.attributes.key_algorithm, key.material.expose_secret())?;
            let actual = kcv::compute(&handle, kcv_method, kcv::DEFAULT_KCV_LEN)
                .map_err(|e| Error::internal(e.to_string()))?
                .to_string();
            if !actual.eq_ignore_ascii_case(key.expected_check_value.trim()) {
                return Err(Error::validation(
                    "KeyCheckValue",
                    "the combined key's KCV does not match the ceremony's",
                ));
            }
            let record = self.add_key(
                NewKey {
                    attributes: key.attributes,
                    exportable: key.exportable,
                    kcv_method,
                    enabled: true,
                    tags: BTreeMap::new(),
                    origin: KeyOrigin::External,
                    derive_key_usage: None,
                    multi_region: None,
                },
                Some(key.material.expose_secret()),
            )?;
            self.key_output(&record)
        })
    }

    /// `GetKey`.
    pub fn get_key(&self, input: KeyIdentifierInput) -> Result<KeyOutput, Error> {
        let params = || json!({ "keyIdentifier": input.key_identifier });
        self.run("GetKey", Audit::Read, params, || {
            let record = self.load(&input.key_identifier, "KeyIdentifier")?;
            self.key_output(&record)
        })
    }

    /// `ListKeys`: paginated, optionally filtered by state.
    pub fn list_keys(&self, input: ListKeysInput) -> Result<Value, Error> {
        let params = || json!({ "keyState": input.key_state, "maxResults": input.max_results });
        self.run("ListKeys", Audit::Read, params, || {
            let state = input
                .key_state
                .as_deref()
                .map(KeyState::from_name)
                .transpose()?;
            let page = Page::parse(input.next_token.as_deref(), input.max_results)?;
            let mut after = page.after;
            let mut keys = Vec::new();
            let mut last = None;
            'scan: loop {
                let batch = self.store.list_keys(after.as_deref(), page.limit)?;
                let exhausted = batch.len() < page.limit;
                for stored in batch {
                    let id = stored.key_id.clone();
                    after = Some(id.clone());
                    if is_internal(&id) {
                        continue;
                    }
                    let record = self.load_id(&id)?.unwrap_or(stored);
                    if state.is_none_or(|s| s == record.state) {
                        keys.push(record.summary_json(&self.arn(&id)?));
                        if keys.len() == page.limit {
                            last = Some(id);
                            break 'scan;
                        }
                    }
                }
                if exhausted {
                    break;
                }
            }
            let mut out = json!({ "Keys": keys });
            if let Some(last) = last
                && !self.store.list_keys(Some(&last), 1)?.is_empty()
            {
                out["NextToken"] = json!(Page::token(&last));
            }
            Ok((out, Vec::new()))
        })
    }

    /// `DeleteKey`: schedules deletion in 3 to 180 days (default 7). The key is unusable at
    /// once; `RestoreKey` cancels before the deadline. A primary's replicas are deleted at
    /// once (and not restored with it).
    pub fn delete_key(&self, input: DeleteKeyInput) -> Result<KeyOutput, Error> {
        let params = || {
            json!({
                "keyIdentifier": input.key_identifier,
                "deleteKeyInDays": input.delete_key_in_days,
            })
        };
        self.run("DeleteKey", Audit::Write, params, || {
            let days = input.delete_key_in_days.unwrap_or(7);
            if !(3..=180).contains(&days) {
                return Err(Error::validation("DeleteKeyInDays", "expected 3 to 180"));
            }
            let record = self.update(&input.key_identifier, "KeyIdentifier", |r, now| {
                policy::check_writable(r)?;
                match r.state {
                    KeyState::DeletePending => Ok(None),
                    KeyState::CreateComplete => {
                        let mut next = r.clone();
                        next.state = KeyState::DeletePending;
                        next.enabled = false;
                        next.usage_stop_timestamp = Some(now);
                        next.delete_pending_timestamp = Some(now.plus_days(days));
                        next.delete_replicas();
                        Ok(Some(next))
                    }
                    s => Err(Error::conflict(format!("the key is {}", s.name()))),
                }
            })?;
            self.key_output(&record)
        })
    }

    /// `RestoreKey`: cancels a scheduled deletion before its deadline. The key comes back
    /// `CREATE_COMPLETE` and disabled; `StartKeyUsage` enables it.
    pub fn restore_key(&self, input: KeyIdentifierInput) -> Result<KeyOutput, Error> {
        let params = || json!({ "keyIdentifier": input.key_identifier });
        self.run("RestoreKey", Audit::Write, params, || {
            let record = self.update(&input.key_identifier, "KeyIdentifier", |r, _| {
                policy::check_writable(r)?;
                if r.state != KeyState::DeletePending {
                    return Err(Error::conflict(format!(
                        "only a DELETE_PENDING key can be restored; the key is {}",
                        r.state.name()
                    )));
                }
                let mut next = r.clone();
                next.state = KeyState::CreateComplete;
                next.delete_pending_timestamp = None;
                Ok(Some(next))
            })?;
            self.key_output(&record)
        })
    }

    fn set_usage(&self, event: &str, identifier: &str, enabled: bool) -> Result<KeyOutput, Error> {
        let params = || json!({ "keyIdentifier": identifier });
        self.run(event, Audit::Write, params, || {
            let record = self.update(identifier, "KeyIdentifier", |r, now| {
                policy::check_writable(r)?;
                if r.state != KeyState::CreateComplete {
                    return Err(Error::conflict(format!(
                        "the key is {}; usage can change only on a CREATE_COMPLETE key",
                        r.state.name()
                    )));
                }
                Ok(Some(r.with_usage(enabled, now)))
            })?;
            self.key_output(&record)
        })
    }

    /// `StartKeyUsage`: enables a key.
    pub fn start_key_usage(&self, input: KeyIdentifierInput) -> Result<KeyOutput, Error> {
        self.set_usage("StartKeyUsage", &input.key_identifier, true)
    }

    /// `StopKeyUsage`: disables a key.
    pub fn stop_key_usage(&self, input: KeyIdentifierInput) -> Result<KeyOutput, Error> {
        self.set_usage("StopKeyUsage", &input.key_identifier, false)
    }
}

impl KeyRecord {
    /// The record enabled or disabled at `now` (`StartKeyUsage`, `StopKeyUsage`), its
    /// replicas following.
    pub(crate) fn with_usage(&self, enabled: bool, now: Timestamp) -> Self {
        let mut next = self.clone();
        next.enabled = enabled;
        if enabled {
            next.usage_start_timestamp = Some(now);
        } else {
            next.usage_stop_timestamp = Some(now);
        }
        next.update_replicas();
        next
    }
}

/// `DeriveKeyUsage`: required for an ECC key pair for key agreement (K3), one of
/// [`policy::DERIVE_KEY_USAGES`]; refused for every other key.
fn derive_key_usage(a: &KeyAttributes, requested: Option<&str>) -> Result<Option<KeyUsage>, Error> {
    let agreement = a.key_usage == KeyUsage::K3 && a.key_class == KeyClass::AsymmetricKeyPair;
    match requested {
        None if agreement => Err(Error::validation(
            "DeriveKeyUsage",
            "an ECC key pair for key agreement (TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT) needs \
             the usage of the keys it derives",
        )),
        None => Ok(None),
        Some(_) if !agreement => Err(Error::validation(
            "DeriveKeyUsage",
            "only an ECC key pair for key agreement (TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT) \
             derives keys by ECDH",
        )),
        Some(name) => KeyUsage::from_name(name)
            .ok()
            .filter(|u| policy::DERIVE_KEY_USAGES.contains(u))
            .map(Some)
            .ok_or_else(|| {
                Error::validation(
                    "DeriveKeyUsage",
                    "not a usage a derived key may have (the TR-31 symmetric key usages less M0)",
                )
            }),
    }
}
