//! What the HSM keeps about a key and an alias, and the service's JSON for them (`Key`,
//! `KeySummary`, `Alias`, `KeyAttributes`).

use std::collections::BTreeMap;

use payhsm_core::{
    kcv::KcvMethod,
    key::{KeyAlgorithm, KeyAttributes, KeyClass, KeyModesOfUse, KeyUsage},
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::{Error, arn::KeyArn, clock::Timestamp};

/// A key's lifecycle state (`KeyState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Being created (never persisted by this HSM: creation is one transaction).
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
    /// Increases by one with every change; stores refuse an update from a stale revision.
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

/// `KeyModesOfUse` as JSON: all nine flags.
pub fn modes_json(m: &KeyModesOfUse) -> Value {
    Value::Object(
        m.iter()
            .map(|(name, on)| (name.to_owned(), Value::Bool(on)))
            .collect::<Map<_, _>>(),
    )
}

/// `KeyAttributes` as JSON.
pub fn attributes_json(a: &KeyAttributes) -> Value {
    json!({
        "KeyUsage": a.key_usage.to_string(),
        "KeyClass": a.key_class.name(),
        "KeyAlgorithm": a.key_algorithm.name(),
        "KeyModesOfUse": modes_json(&a.key_modes_of_use),
    })
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
            .ok_or_else(|| Error::validation(&field("KeyUsage"), "unknown key usage"))?;
        let key_class = KeyClass::from_name(&self.key_class)
            .map_err(|_| Error::validation(&field("KeyClass"), "unknown key class"))?;
        let key_algorithm = KeyAlgorithm::from_name(&self.key_algorithm)
            .map_err(|_| Error::validation(&field("KeyAlgorithm"), "unknown key algorithm"))?;
        let mut key_modes_of_use = KeyModesOfUse::default();
        for (name, on) in &self.key_modes_of_use {
            key_modes_of_use
                .set(name, *on)
                .map_err(|_| Error::validation(&field("KeyModesOfUse"), "unknown mode of use"))?;
        }
        Ok(KeyAttributes {
            key_usage,
            key_class,
            key_algorithm,
            key_modes_of_use,
        })
    }
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
    /// The service's `Key` structure.
    pub fn key_json(&self, arn: &KeyArn) -> Value {
        let mut key = json!({
            "KeyArn": arn.to_string(),
            "KeyAttributes": attributes_json(&self.attributes),
            "KeyCheckValue": self.key_check_value,
            "KeyCheckValueAlgorithm": self.key_check_value_algorithm.name(),
            "Enabled": self.enabled,
            "Exportable": self.exportable,
            "KeyState": self.state.name(),
            "KeyOrigin": self.origin.name(),
            "CreateTimestamp": self.create_timestamp.as_epoch_seconds(),
        });
        for (name, t) in [
            ("UsageStartTimestamp", self.usage_start_timestamp),
            ("UsageStopTimestamp", self.usage_stop_timestamp),
            ("DeletePendingTimestamp", self.delete_pending_timestamp),
            ("DeleteTimestamp", self.delete_timestamp),
        ] {
            if let Some(t) = t {
                key[name] = json!(t.as_epoch_seconds());
            }
        }
        if let Some(usage) = self.derive_key_usage {
            key["DeriveKeyUsage"] = json!(usage.to_string());
        }
        key
    }

    /// The service's `KeySummary` structure.
    pub fn summary_json(&self, arn: &KeyArn) -> Value {
        json!({
            "KeyArn": arn.to_string(),
            "KeyState": self.state.name(),
            "KeyAttributes": attributes_json(&self.attributes),
            "KeyCheckValue": self.key_check_value,
            "Exportable": self.exportable,
            "Enabled": self.enabled,
        })
    }
}
