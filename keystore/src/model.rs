//! What the HSM keeps about a key and an alias, and the service's JSON for them (`Key`,
//! `KeySummary`, `Alias`, `KeyAttributes`); a key's part in multi-region replication, the
//! replication outbox's items and the region's settings.

use std::collections::BTreeMap;

use payhsm_core::{
    kcv::KcvMethod,
    key::{KeyAlgorithm, KeyAttributes, KeyClass, KeyModesOfUse, KeyUsage},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{Error, arn::KeyArn, clock::Timestamp};

/// A key's lifecycle state (`KeyState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Being created: only a key whose import waits for approvals (`MpaStatus`).
    CreateInProgress,
    /// Usable (subject to `Enabled`).
    CreateComplete,
    /// Scheduled for deletion: unusable, restorable until the deadline.
    DeletePending,
    /// Deleted: the key material is destroyed.
    DeleteComplete,
}

impl KeyState {
    /// Every state.
    pub const ALL: [Self; 4] = [
        Self::CreateInProgress,
        Self::CreateComplete,
        Self::DeletePending,
        Self::DeleteComplete,
    ];

    /// The service's name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::CreateInProgress => "CREATE_IN_PROGRESS",
            Self::CreateComplete => "CREATE_COMPLETE",
            Self::DeletePending => "DELETE_PENDING",
            Self::DeleteComplete => "DELETE_COMPLETE",
        }
    }

    /// The state by the service's name.
    pub fn from_name(name: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                Error::validation(
                    "KeyState",
                    "expected CREATE_IN_PROGRESS, CREATE_COMPLETE, DELETE_PENDING or DELETE_COMPLETE",
                )
            })
    }
}

/// Where a key came from (`KeyOrigin`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyOrigin {
    /// Generated inside the HSM.
    AwsPaymentCryptography,
    /// Imported.
    External,
}

impl KeyOrigin {
    /// The service's name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::AwsPaymentCryptography => "AWS_PAYMENT_CRYPTOGRAPHY",
            Self::External => "EXTERNAL",
        }
    }

    /// The origin by the service's name.
    pub fn from_name(name: &str) -> Result<Self, Error> {
        match name {
            "AWS_PAYMENT_CRYPTOGRAPHY" => Ok(Self::AwsPaymentCryptography),
            "EXTERNAL" => Ok(Self::External),
            _ => Err(Error::internal("stored key origin is unknown")),
        }
    }
}

/// A stored key: metadata and the key material in its persisted form.
///
/// The key material is never clear here: for the software stores it is a TR-31 version D key
/// block under the region's master key, whose header repeats the usage, algorithm, mode of
/// use and exportability and whose label is the key id, so the block cannot be moved to
/// another record or have its columns edited unnoticed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    /// The key id (the last part of the ARN).
    pub key_id: String,
    /// Usage, class, algorithm, modes of use.
    pub attributes: KeyAttributes,
    /// Whether the key may be exported.
    pub exportable: bool,
    /// The key check value (hex).
    pub key_check_value: String,
    /// How the KCV was computed.
    pub key_check_value_algorithm: KcvMethod,
    /// Whether the key may be used (StartKeyUsage / StopKeyUsage).
    pub enabled: bool,
    /// The lifecycle state.
    pub state: KeyState,
    /// Generated or imported.
    pub origin: KeyOrigin,
    /// When the key was created.
    pub create_timestamp: Timestamp,
    /// When usage was last started.
    pub usage_start_timestamp: Option<Timestamp>,
    /// When usage was last stopped.
    pub usage_stop_timestamp: Option<Timestamp>,
    /// When the key will be deleted (while `DELETE_PENDING`).
    pub delete_pending_timestamp: Option<Timestamp>,
    /// When the key was deleted (`DELETE_COMPLETE`).
    pub delete_timestamp: Option<Timestamp>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// The usage of the keys an ECC key pair derives by ECDH (`DeriveKeyUsage`, TR-31 A.5.2);
    /// fixed at creation.
    pub derive_key_usage: Option<KeyUsage>,
    /// The resource-based policy (`PutResourcePolicy`), as the JSON text given.
    pub resource_policy: Option<String>,
    /// The persisted key material; `None` once destroyed.
    pub key_block: Option<String>,
    /// The key's part in multi-region replication, if it has one.
    pub multi_region: Option<MultiRegion>,
    /// Increases by one with every change; stores refuse an update from a stale revision.
    pub revision: u64,
}

/// A key's part in multi-region replication (`MultiRegionKeyType`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MultiRegion {
    /// The primary key, which holds all management authority.
    Primary(Primary),
    /// A read-only replica of the key of the same id in `primary_region`.
    Replica {
        /// The primary key's region.
        primary_region: String,
        /// The primary's [`Primary::generation`] this replica was last synchronised to; an
        /// older synchronisation arriving late changes nothing.
        generation: u64,
    },
}

/// What a primary key knows of its replicas.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Primary {
    /// Each replica region and its status (`ReplicationStatus`).
    pub replicas: BTreeMap<String, ReplicaStatus>,
    /// Whether the regions came from the account's defaults (`UsingDefaultReplicationRegions`).
    pub using_defaults: bool,
    /// Increases with every change the replicas must follow (created, enabled, disabled,
    /// deleted, a region added or removed); status updates leave it alone.
    pub generation: u64,
}

/// One replica region's `ReplicationStatus` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaStatus {
    /// `Status`.
    pub state: ReplicationState,
    /// `StatusMessage`: why the last attempt failed.
    pub message: Option<String>,
}

/// `KeyReplicationState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReplicationState {
    /// The replica is being created or brought up to date.
    InProgress,
    /// The replica is being deleted (its region removed, or the primary deleted).
    DeleteInProgress,
    /// The last attempts failed; the next drain of the outbox tries again.
    Failed,
    /// The replica matches the primary.
    Synchronized,
}

impl ReplicationState {
    /// The service's name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::InProgress => "IN_PROGRESS",
            Self::DeleteInProgress => "DELETE_IN_PROGRESS",
            Self::Failed => "FAILED",
            Self::Synchronized => "SYNCHRONIZED",
        }
    }
}

impl ReplicaStatus {
    /// A status with no message.
    pub const fn new(state: ReplicationState) -> Self {
        Self {
            state,
            message: None,
        }
    }
}

/// A replication work item: bring the replica of key `key_id` in `region` up to date with the
/// primary. Committed in the transaction that changes the primary (the outbox), so no change
/// the replicas must follow is ever left without one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxItem {
    /// The primary key.
    pub key_id: String,
    /// The replica region.
    pub region: String,
}

/// An [`OutboxItem`] as the store holds it, in commit order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Its place in the outbox (increasing).
    pub seq: u64,
    /// The work.
    pub item: OutboxItem,
}

/// A stored setting of the region (the account's default replication regions, the region
/// links): a name and a JSON value, replaced by compare-and-swap like a key record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The name.
    pub name: String,
    /// The value, JSON text.
    pub value: String,
    /// Increases by one with every change.
    pub revision: u64,
}

/// A stored alias.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliasRecord {
    /// `alias/…`.
    pub alias_name: String,
    /// The key id the alias points to, if any.
    pub key_id: Option<String>,
    /// Increases by one with every change.
    pub revision: u64,
}

/// `KeyAttributes` as JSON.
pub fn attributes_json(a: &KeyAttributes) -> Value {
    json!(KeyAttributesOutput::of(a))
}

/// What the key operations return (`CreateKey`, `GetKey`, `ImportKey`, `DeleteKey`,
/// `RestoreKey`, `StartKeyUsage`, `StopKeyUsage`): the key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyOutput {
    /// The key's metadata.
    pub key: Key,
}

/// The service's `Key` structure: a key's metadata (never its material).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Key {
    /// The key's ARN.
    pub key_arn: String,
    /// Usage, class, algorithm, modes of use.
    pub key_attributes: KeyAttributesOutput,
    /// The key check value (hex).
    pub key_check_value: String,
    /// How the check value was computed (`ANSI_X9_24`, `CMAC`, …).
    pub key_check_value_algorithm: String,
    /// Whether the key may be used.
    pub enabled: bool,
    /// Whether the key may be exported.
    pub exportable: bool,
    /// `CREATE_COMPLETE`, `DELETE_PENDING`, ….
    pub key_state: String,
    /// `AWS_PAYMENT_CRYPTOGRAPHY` or `EXTERNAL`.
    pub key_origin: String,
    /// When the key was created (epoch seconds).
    pub create_timestamp: f64,
    /// When usage last started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_start_timestamp: Option<f64>,
    /// When usage last stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_stop_timestamp: Option<f64>,
    /// When deletion was scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_pending_timestamp: Option<f64>,
    /// When the key is (or was) deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_timestamp: Option<f64>,
    /// The usage of keys derived from this one (ECDH).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derive_key_usage: Option<String>,
    /// `PRIMARY` or `REPLICA` for a multi-region key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_region_key_type: Option<String>,
    /// The primary key's region, for a multi-region key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
    /// Each replica region's status, on a primary key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_status: Option<BTreeMap<String, ReplicationStatusType>>,
    /// Whether the replicas follow the account's default regions, on a primary key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub using_default_replication_regions: Option<bool>,
    /// The dual-control session of a key waiting for approvals (`MpaSessionArn`, `Status`,
    /// `InitiationDate`, `StatusMessage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mpa_status: Option<Value>,
}

/// One replica region's status (`ReplicationStatusType`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplicationStatusType {
    /// `IN_PROGRESS`, `SYNCHRONIZED`, ….
    pub status: String,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
}

/// `KeyAttributes` as a response gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyAttributesOutput {
    /// `TR31_…`.
    pub key_usage: String,
    /// `SYMMETRIC_KEY`, ….
    pub key_class: String,
    /// `TDES_2KEY`, ….
    pub key_algorithm: String,
    /// All nine flags.
    pub key_modes_of_use: KeyModesOfUseOutput,
}

impl KeyAttributesOutput {
    /// The attributes by the service's names.
    pub fn of(a: &KeyAttributes) -> Self {
        Self {
            key_usage: a.key_usage.to_string(),
            key_class: a.key_class.name().to_owned(),
            key_algorithm: a.key_algorithm.name().to_owned(),
            key_modes_of_use: KeyModesOfUseOutput::of(&a.key_modes_of_use),
        }
    }
}

/// `KeyModesOfUse` as a response gives it: all nine flags, in the service's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(clippy::struct_excessive_bools)] // The service's nine flags.
pub struct KeyModesOfUseOutput {
    /// May encrypt.
    pub encrypt: bool,
    /// May decrypt.
    pub decrypt: bool,
    /// May wrap keys.
    pub wrap: bool,
    /// May unwrap keys.
    pub unwrap: bool,
    /// May generate (MACs, CVVs, PINs).
    pub generate: bool,
    /// May sign.
    pub sign: bool,
    /// May verify.
    pub verify: bool,
    /// May derive keys.
    pub derive_key: bool,
    /// No restriction on use.
    pub no_restrictions: bool,
}

impl KeyModesOfUseOutput {
    /// The flags of `m`.
    pub fn of(m: &KeyModesOfUse) -> Self {
        Self {
            encrypt: m.encrypt,
            decrypt: m.decrypt,
            wrap: m.wrap,
            unwrap: m.unwrap,
            generate: m.generate,
            sign: m.sign,
            verify: m.verify,
            derive_key: m.derive_key,
            no_restrictions: m.no_restrictions,
        }
    }
}

/// `KeyAttributes` as a request gives it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KeyAttributesInput {
    /// `TR31_…`.
    pub key_usage: String,
    /// `SYMMETRIC_KEY`, ….
    pub key_class: String,
    /// `TDES_2KEY`, ….
    pub key_algorithm: String,
    /// The flags; absent ones are false.
    pub key_modes_of_use: BTreeMap<String, bool>,
}

impl KeyAttributesInput {
    /// The attributes as requested, for the audit log (none of them is secret).
    pub fn audit_json(&self) -> Value {
        json!({
            "keyUsage": self.key_usage,
            "keyAlgorithm": self.key_algorithm,
            "keyClass": self.key_class,
            "keyModesOfUse": self.key_modes_of_use,
        })
    }

    /// The attributes, each field checked by name (`KeyAttributes.KeyUsage`, …).
    pub fn parse(&self, path: &str) -> Result<KeyAttributes, Error> {
        let field = |f: &str| format!("{path}.{f}");
        let key_usage = KeyUsage::from_name(&self.key_usage)
            .ok()
            .filter(|u| u.known_name().is_some())
            .ok_or_else(|| {
                Error::unknown_name(
                    &field("KeyUsage"),
                    "key usage",
                    &self.key_usage,
                    KeyUsage::known().filter_map(|u| u.known_name()),
                )
            })?;
        let key_class = KeyClass::from_name(&self.key_class).map_err(|_| {
            Error::unknown_name(
                &field("KeyClass"),
                "key class",
                &self.key_class,
                KeyClass::ALL.map(KeyClass::name),
            )
        })?;
        let key_algorithm = KeyAlgorithm::from_name(&self.key_algorithm).map_err(|_| {
            Error::unknown_name(
                &field("KeyAlgorithm"),
                "key algorithm",
                &self.key_algorithm,
                KeyAlgorithm::ALL.map(KeyAlgorithm::name),
            )
        })?;
        let key_modes_of_use = modes_of_use(&self.key_modes_of_use, &field("KeyModesOfUse"))?;
        Ok(KeyAttributes {
            key_usage,
            key_class,
            key_algorithm,
            key_modes_of_use,
        })
    }
}

/// `KeyModesOfUse` as a request gives it: the named flags set, the others false.
pub fn modes_of_use(flags: &BTreeMap<String, bool>, path: &str) -> Result<KeyModesOfUse, Error> {
    let mut modes = KeyModesOfUse::default();
    for (name, on) in flags {
        modes
            .set(name, *on)
            .map_err(|_| Error::unknown_name(path, "mode of use", name, KeyModesOfUse::NAMES))?;
    }
    Ok(modes)
}

/// A tag.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TagInput {
    /// 1 to 128 characters.
    pub key: String,
    /// 0 to 256 characters.
    #[serde(default)]
    pub value: String,
}

/// Checks tags (at most 200, keys 1..128, values ..256 characters) into a map.
pub fn parse_tags(tags: &[TagInput], path: &str) -> Result<BTreeMap<String, String>, Error> {
    if tags.len() > 200 {
        return Err(Error::validation(path, "at most 200 tags"));
    }
    let mut out = BTreeMap::new();
    for t in tags {
        if !(1..=128).contains(&t.key.chars().count()) {
            return Err(Error::validation(
                &format!("{path}.Key"),
                "1 to 128 characters",
            ));
        }
        if t.value.chars().count() > 256 {
            return Err(Error::validation(
                &format!("{path}.Value"),
                "at most 256 characters",
            ));
        }
        out.insert(t.key.clone(), t.value.clone());
    }
    Ok(out)
}

/// Tags as the service lists them.
pub fn tags_json(tags: &BTreeMap<String, String>) -> Value {
    tags.iter()
        .map(|(k, v)| json!({ "Key": k, "Value": v }))
        .collect()
}

impl KeyRecord {
    /// The replication work this record owes once it replaces `before` (`None`: once it is
    /// inserted): one item per replica that is to be created, updated or deleted, when the
    /// change is one the replicas must follow (the primary's generation increased).
    pub fn owed_replications(&self, before: Option<&Self>) -> Vec<OutboxItem> {
        let Some(MultiRegion::Primary(p)) = &self.multi_region else {
            return Vec::new();
        };
        let before = match before.and_then(|b| b.multi_region.as_ref()) {
            Some(MultiRegion::Primary(b)) => b.generation,
            _ => 0,
        };
        if p.generation <= before {
            return Vec::new();
        }
        p.replicas
            .iter()
            .filter(|(_, s)| {
                matches!(
                    s.state,
                    ReplicationState::InProgress | ReplicationState::DeleteInProgress
                )
            })
            .map(|(region, _)| OutboxItem {
                key_id: self.key_id.clone(),
                region: region.clone(),
            })
            .collect()
    }

    /// `MultiRegionKeyType` and `PrimaryRegion` (the key's own region, from `arn`, for a
    /// primary) as the service's `Key` and `KeySummary` show them.
    fn multi_region_json(&self, arn: &KeyArn, out: &mut Value) {
        match &self.multi_region {
            None => {}
            Some(MultiRegion::Primary(_)) => {
                out["MultiRegionKeyType"] = json!("PRIMARY");
                out["PrimaryRegion"] = json!(arn.region().as_str());
            }
            Some(MultiRegion::Replica { primary_region, .. }) => {
                out["MultiRegionKeyType"] = json!("REPLICA");
                out["PrimaryRegion"] = json!(primary_region);
            }
        }
    }

    /// The service's `Key` structure.
    pub fn key(&self, arn: &KeyArn) -> Key {
        let (multi_region_key_type, primary_region) = match &self.multi_region {
            None => (None, None),
            Some(MultiRegion::Primary(_)) => (Some("PRIMARY"), Some(arn.region().as_str())),
            Some(MultiRegion::Replica { primary_region, .. }) => {
                (Some("REPLICA"), Some(primary_region.as_str()))
            }
        };
        let primary = match &self.multi_region {
            Some(MultiRegion::Primary(p)) => Some(p),
            _ => None,
        };
        let seconds = |t: Option<Timestamp>| t.map(Timestamp::as_epoch_seconds);
        Key {
            key_arn: arn.to_string(),
            key_attributes: KeyAttributesOutput::of(&self.attributes),
            key_check_value: self.key_check_value.clone(),
            key_check_value_algorithm: self.key_check_value_algorithm.name().to_owned(),
            enabled: self.enabled,
            exportable: self.exportable,
            key_state: self.state.name().to_owned(),
            key_origin: self.origin.name().to_owned(),
            create_timestamp: self.create_timestamp.as_epoch_seconds(),
            usage_start_timestamp: seconds(self.usage_start_timestamp),
            usage_stop_timestamp: seconds(self.usage_stop_timestamp),
            delete_pending_timestamp: seconds(self.delete_pending_timestamp),
            delete_timestamp: seconds(self.delete_timestamp),
            derive_key_usage: self.derive_key_usage.map(|u| u.to_string()),
            multi_region_key_type: multi_region_key_type.map(str::to_owned),
            primary_region: primary_region.map(str::to_owned),
            replication_status: primary.map(|p| {
                p.replicas
                    .iter()
                    .map(|(region, s)| {
                        let status = ReplicationStatusType {
                            status: s.state.name().to_owned(),
                            status_message: s.message.clone(),
                        };
                        (region.clone(), status)
                    })
                    .collect()
            }),
            using_default_replication_regions: primary.map(|p| p.using_defaults),
            mpa_status: None,
        }
    }

    /// The service's `Key` structure as JSON.
    pub fn key_json(&self, arn: &KeyArn) -> Value {
        json!(self.key(arn))
    }

    /// The service's `KeySummary` structure.
    pub fn summary_json(&self, arn: &KeyArn) -> Value {
        let mut summary = json!({
            "KeyArn": arn.to_string(),
            "KeyState": self.state.name(),
            "KeyAttributes": attributes_json(&self.attributes),
            "KeyCheckValue": self.key_check_value,
            "Exportable": self.exportable,
            "Enabled": self.enabled,
        });
        self.multi_region_json(arn, &mut summary);
        summary
    }
}
