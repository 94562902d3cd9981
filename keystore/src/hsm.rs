//! The HSM: one region's keys behind the service's control plane, with policy and audit.
//!
//! [`Hsm`] owns a [`Store`], the region and account its ARNs name, a [`Clock`] and the
//! region's [`AuditLog`]. The control-plane operations live here; the data-plane operations
//! (card validation data, PIN, MAC, data encryption) are in [`crate::ops`]. Every method takes
//! the service's request shape (deserialised from JSON with the service's member names) and
//! returns the service's response as JSON, so the CLI and the HTTP emulator are thin.
//!
//! Before it serves anything the HSM runs its self-tests; if one fails it stays in an error
//! state in which every operation returns `ServiceUnavailableException`.

use std::{collections::BTreeMap, sync::Arc};

use payhsm_core::{
    kcv::{self, KcvMethod},
    key::{Algorithm, KeyAlgorithm, KeyAttributes, KeyClass},
    rng::{OsRandom, RandomSource},
    secret::SecretVec,
};
use payhsm_tr34::{cert::Certificate, rsa::SoftwareRsaKey};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    Error, Rule,
    arn::{AccountId, AliasName, KeyArn, KeyIdentifier, Region, new_key_id},
    audit::{AuditEvent, AuditLog},
    clock::{Clock, SystemClock, Timestamp},
    model::{
        AliasRecord, KeyAttributesInput, KeyOrigin, KeyRecord, KeyState, TagInput, parse_tags,
        tags_json,
    },
    policy,
    selftest::{self, KnownAnswer},
    store::{Store, failpoint, software_key},
};

/// How many times a write is retried when another writer changed the record first.
const MAX_RETRIES: usize = 64;

/// Whether a key id names one of the HSM's own keys (the region CA, the TR-34 import and
/// export parameters). Callers' key ids are lower-case ([`new_key_id`]); internal ones start
/// with an upper-case letter, so the two never meet, and no operation by key ARN, alias or
/// listing reaches an internal key.
pub(crate) fn is_internal(key_id: &str) -> bool {
    key_id.starts_with(|c: char| c.is_ascii_uppercase())
}

/// Settings of an [`Hsm`].
pub struct HsmConfig {
    /// The region the store holds (`us-east-1` by default).
    pub region: Region,
    /// The account the ARNs name.
    pub account: AccountId,
    /// The clock deadlines and timestamps read.
    pub clock: Arc<dyn Clock>,
    /// The region's audit log.
    pub audit: AuditLog,
    /// The known answers checked at start.
    pub self_tests: Vec<KnownAnswer>,
}

impl HsmConfig {
    /// `region`, the default account, the system clock, an in-memory audit log and every
    /// self-test.
    pub fn new(region: Region) -> Self {
        Self {
            region,
            // A 12-digit constant: cannot fail.
            account: AccountId::new(AccountId::DEFAULT).unwrap_or_else(|_| unreachable!()),
            clock: Arc::new(SystemClock),
            audit: AuditLog::memory(),
            self_tests: selftest::KNOWN_ANSWERS.to_vec(),
        }
    }
}

/// One region's HSM.
pub struct Hsm<S: Store> {
    store: S,
    region: Region,
    account: AccountId,
    clock: Arc<dyn Clock>,
    audit: AuditLog,
    self_test: Result<(), Error>,
}

impl<S: Store> std::fmt::Debug for Hsm<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hsm")
            .field("region", &self.region)
            .field("self_test", &self.self_test)
            .finish_non_exhaustive()
    }
}

/// A parsed `MaxResults` / `NextToken` pair.
pub(crate) struct Page {
    pub(crate) after: Option<String>,
    pub(crate) limit: usize,
}

impl Page {
    pub(crate) fn parse(next_token: Option<&str>, max_results: Option<i64>) -> Result<Self, Error> {
        let limit = match max_results {
            None => 50,
            Some(n @ 1..=100) => usize::try_from(n).unwrap_or(50),
            Some(_) => return Err(Error::validation("MaxResults", "expected 1 to 100")),
        };
        let after = next_token
            .map(|t| {
                t.strip_prefix("page-after-")
                    .filter(|rest| !rest.is_empty())
                    .map(str::to_owned)
                    .ok_or_else(|| Error::validation("NextToken", "not a token this HSM issued"))
            })
            .transpose()?;
        Ok(Self { after, limit })
    }

    pub(crate) fn token(last: &str) -> String {
        format!("page-after-{last}")
    }
}

/// Deserialises a request, mapping serde's complaint to a `ValidationException`. The
/// complaint is redacted: member and variant names stay, values do not (a mistyped CVV or PIN
/// block must not reach an error message, a log or a terminal).
pub(crate) fn request<T: for<'de> Deserialize<'de>>(input: Value) -> Result<T, Error> {
    serde_json::from_value(input).map_err(|e| Error::Validation {
        message: format!("the request is not valid: {}", redact(&e.to_string())),
        field_list: Vec::new(),
    })
}

/// Keeps `` `Name` `` quotes that hold a member or variant name (letters and digits starting
/// with a capital) and replaces every other quoted value with `…`.
fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find(['`', '"']) {
        let quote = rest[i..].chars().next().unwrap_or('"');
        out.push_str(&rest[..=i]);
        let after = &rest[i + 1..];
        let Some(j) = after.find(quote) else {
            out.push('…');
            return out;
        };
        let inner = &after[..j];
        let is_name = quote == '`'
            && inner.starts_with(|c: char| c.is_ascii_uppercase())
            && inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        out.push_str(if is_name { inner } else { "…" });
        out.push(quote);
        rest = &after[j + 1..];
    }
    out.push_str(rest);
    out
}

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
    /// Usage of keys derived by ECDH (not offered).
    pub derive_key_usage: Option<String>,
    /// Replication regions (not offered).
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

/// `CreateAlias`, `UpdateAlias`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AliasInput {
    /// `alias/…`.
    pub alias_name: String,
    /// The key's ARN; absent for an alias that points nowhere.
    pub key_arn: Option<String>,
}

/// `GetAlias`, `DeleteAlias`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AliasNameInput {
    /// `alias/…`.
    pub alias_name: String,
}

/// `ListAliases`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ListAliasesInput {
    /// Only aliases of this key.
    pub key_arn: Option<String>,
    /// From a previous page.
    pub next_token: Option<String>,
    /// 1 to 100, default 50.
    pub max_results: Option<i64>,
}

/// `TagResource`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TagResourceInput {
    /// The key's ARN.
    pub resource_arn: String,
    /// Tags to add or replace.
    pub tags: Vec<TagInput>,
}

/// `UntagResource`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct UntagResourceInput {
    /// The key's ARN.
    pub resource_arn: String,
    /// Tag keys to remove.
    pub tag_keys: Vec<String>,
}

/// `ListTagsForResource`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ListTagsInput {
    /// The key's ARN.
    pub resource_arn: String,
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
    /// An HSM over `store`. Runs the self-tests: on failure the HSM is in its error state.
    pub fn new(store: S, config: HsmConfig) -> Self {
        let self_test = selftest::run(&config.self_tests);
        Self {
            store,
            region: config.region,
            account: config.account,
            clock: config.clock,
            audit: config.audit,
            self_test,
        }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Gives the store back.
    pub fn into_store(self) -> S {
        self.store
    }

    /// The region.
    pub fn region(&self) -> &Region {
        &self.region
    }

    /// The audit log.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// The self-test outcome: `Err` is the error state.
    pub fn self_test_result(&self) -> Result<(), Error> {
        self.self_test.clone()
    }

    /// The ARN of key `key_id` here.
    pub fn arn(&self, key_id: &str) -> Result<KeyArn, Error> {
        KeyArn::new(&self.region, &self.account, key_id)
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Runs an operation: refuses it in the error state, and audits it (always for
    /// key-management, on failure only for data-plane operations).
    pub(crate) fn run<T>(
        &self,
        event_name: &str,
        kind: Audit,
        request_parameters: Value,
        f: impl FnOnce() -> Result<(T, Vec<String>), Error>,
    ) -> Result<T, Error> {
        let result = self.self_test.clone().and_then(|()| f());
        let (error, resources) = match &result {
            Ok((_, resources)) => (None, resources.clone()),
            Err(e) => (Some(e), Vec::new()),
        };
        if error.is_some() || kind != Audit::FailuresOnly {
            self.audit.record(
                self.region.as_str(),
                self.account.as_str(),
                self.now(),
                &AuditEvent {
                    event_name,
                    read_only: kind == Audit::Read,
                    resources,
                    request_parameters,
                    error,
                    service_event: false,
                },
            )?;
        }
        result.map(|(value, _)| value)
    }

    /// Audits a request refused before it could be read (malformed JSON, a missing member).
    /// Nothing of the request is logged: it did not parse, so nothing in it is known to be
    /// safe to log.
    pub(crate) fn audit_rejected(&self, event_name: &str, error: &Error) {
        // The request has already failed; a log failure cannot make it fail more.
        let _ = self.audit.record(
            self.region.as_str(),
            self.account.as_str(),
            self.now(),
            &AuditEvent {
                event_name,
                read_only: false,
                resources: Vec::new(),
                request_parameters: Value::Null,
                error: Some(error),
                service_event: false,
            },
        );
    }

    /// The key id an identifier names (resolving aliases).
    pub(crate) fn key_id_of(&self, identifier: &str, field: &str) -> Result<String, Error> {
        match KeyIdentifier::parse(identifier, field, &self.region, &self.account)? {
            KeyIdentifier::Key(arn) if is_internal(arn.key_id()) => {
                Err(Error::not_found(identifier))
            }
            KeyIdentifier::Key(arn) => Ok(arn.key_id().to_owned()),
            KeyIdentifier::Alias(name) => self
                .store
                .get_alias(name.as_str())?
                .and_then(|a| a.key_id)
                .ok_or_else(|| Error::not_found(identifier)),
        }
    }

    /// The current record of the key an identifier names, with a passed deletion deadline
    /// carried out first.
    pub(crate) fn load(&self, identifier: &str, field: &str) -> Result<KeyRecord, Error> {
        let key_id = self.key_id_of(identifier, field)?;
        self.load_id(&key_id)
            .and_then(|r| r.ok_or_else(|| Error::not_found(identifier)))
    }

    fn load_id(&self, key_id: &str) -> Result<Option<KeyRecord>, Error> {
        for _ in 0..MAX_RETRIES {
            let Some(record) = self.store.get_key(key_id)? else {
                return Ok(None);
            };
            match self.complete_deletion(&record)? {
                Completion::NotDue => return Ok(Some(record)),
                Completion::Done(r) => return Ok(Some(r)),
                Completion::Raced => {}
            }
        }
        Err(Error::conflict("the key is changing too often; retry"))
    }

    /// Finishes a deletion whose deadline has passed: the key becomes `DELETE_COMPLETE` and
    /// its material is destroyed, once and for good (moving the clock back changes nothing).
    fn complete_deletion(&self, record: &KeyRecord) -> Result<Completion, Error> {
        match (record.state, record.delete_pending_timestamp) {
            (KeyState::DeletePending, Some(deadline)) if self.now() >= deadline => {
                Ok(match self.destroy(record, deadline)? {
                    Some(done) => Completion::Done(done),
                    None => Completion::Raced,
                })
            }
            _ => Ok(Completion::NotDue),
        }
    }

    /// Destroys a key's material as of `at`: the key becomes `DELETE_COMPLETE` for good, and
    /// the HSM audits it as its own event (`AwsServiceEvent`). `None`, changing nothing, when
    /// another writer changed the key first.
    pub(crate) fn destroy(
        &self,
        record: &KeyRecord,
        at: Timestamp,
    ) -> Result<Option<KeyRecord>, Error> {
        let mut done = record.clone();
        done.state = KeyState::DeleteComplete;
        done.enabled = false;
        done.key_block = None;
        done.delete_pending_timestamp = None;
        done.delete_timestamp = Some(at);
        done.revision += 1;
        failpoint("hsm.complete_deletion.before_update");
        if !self.store.update_key(&done)? {
            return Ok(None);
        }
        self.store.forget_handle(&record.key_id);
        let arn = self.arn(&record.key_id)?.to_string();
        self.audit.record(
            self.region.as_str(),
            self.account.as_str(),
            self.now(),
            &AuditEvent {
                event_name: "DeleteKey",
                read_only: false,
                resources: vec![arn],
                request_parameters: json!({ "keyState": KeyState::DeleteComplete.name() }),
                error: None,
                service_event: true,
            },
        )?;
        Ok(Some(done))
    }

    /// Changes a key by `change` (which sees the current record and the time), retrying on
    /// concurrent changes. `change` refuses by returning an error; nothing is written then.
    fn update(
        &self,
        identifier: &str,
        field: &str,
        change: impl Fn(&KeyRecord, Timestamp) -> Result<Option<KeyRecord>, Error>,
    ) -> Result<KeyRecord, Error> {
        let key_id = self.key_id_of(identifier, field)?;
        for _ in 0..MAX_RETRIES {
            let current = self
                .load_id(&key_id)?
                .ok_or_else(|| Error::not_found(identifier))?;
            let Some(mut next) = change(&current, self.now())? else {
                return Ok(current);
            };
            next.revision = current.revision + 1;
            if self.store.update_key(&next)? {
                return Ok(next);
            }
        }
        Err(Error::conflict("the key is changing too often; retry"))
    }

    fn key_output(&self, record: &KeyRecord) -> Result<(Value, Vec<String>), Error> {
        let arn = self.arn(&record.key_id)?;
        Ok((
            json!({ "Key": record.key_json(&arn) }),
            vec![arn.to_string()],
        ))
    }

    /// Adds a key under a new key id: `material` (already checked), or when `None` new
    /// material the store generates (inside the token, for a token store).
    pub(crate) fn add_key(&self, key: NewKey, material: Option<&[u8]>) -> Result<KeyRecord, Error> {
        self.insert_key(new_key_id(&mut OsRandom)?, key, material)
    }

    /// Adds a key under `key_id` (`ConflictException` if the id is taken). The KCV is computed
    /// from what the store persisted. If anything fails once the material is persisted, the
    /// store discards it, so a failed creation leaves neither a record nor key material behind.
    pub(crate) fn insert_key(
        &self,
        key_id: String,
        key: NewKey,
        material: Option<&[u8]>,
    ) -> Result<KeyRecord, Error> {
        let NewKey {
            attributes,
            exportable,
            kcv_method,
            enabled,
            tags,
            origin,
        } = key;
        let key_block = match material {
            Some(m) => self.store.seal(&key_id, &attributes, exportable, m)?,
            None => self.store.generate(&key_id, &attributes, exportable)?,
        };
        let now = self.now();
        let mut record = KeyRecord {
            key_id,
            attributes,
            exportable,
            key_check_value: String::new(),
            key_check_value_algorithm: kcv_method,
            enabled,
            state: KeyState::CreateComplete,
            origin,
            create_timestamp: now,
            usage_start_timestamp: enabled.then_some(now),
            usage_stop_timestamp: None,
            delete_pending_timestamp: None,
            delete_timestamp: None,
            tags,
            key_block: Some(key_block),
            revision: 1,
        };
        let registered = self.stored_check_value(&record).and_then(|kcv| {
            record.key_check_value = kcv;
            failpoint("hsm.add_key.before_insert");
            self.store.insert_key(&record)
        });
        if let Err(e) = registered {
            self.store.forget_handle(&record.key_id);
            if let Some(block) = &record.key_block {
                // The creation's error is the one to report. Should discarding fail as well,
                // the material is referenced by no record and can never be used.
                let _ = self.store.discard(&record.key_id, block);
            }
            return Err(e);
        }
        Ok(record)
    }

    /// The KCV of a key just persisted, from what the store holds: through the key's handle
    /// for a symmetric key (inside the token, for a token store); for an RSA key pair or an
    /// imported certificate, the SHA-1 of the public key.
    fn stored_check_value(&self, record: &KeyRecord) -> Result<String, Error> {
        let corrupt = |_| Error::internal("stored key material does not parse");
        let public = match record.attributes.key_class {
            KeyClass::SymmetricKey => {
                let handle = self.store.open(record)?;
                return kcv::compute(
                    &*handle,
                    record.key_check_value_algorithm,
                    kcv::DEFAULT_KCV_LEN,
                )
                .map(|k| k.to_string())
                .map_err(|e| crate::error::core_error("KeyCheckValueAlgorithm", e));
            }
            KeyClass::PublicKey => {
                let der = self.store.reveal(record)?;
                Certificate::from_der(der.expose_secret())
                    .map_err(corrupt)?
                    .public_key()
                    .to_pkcs1_der()
            }
            _ => self.store.private_key(record)?.public_key().to_pkcs1_der(),
        }
        .map_err(corrupt)?;
        Ok(kcv::public_key_kcv(&public).to_string())
    }

    /// `CreateKey`: a key generated inside the HSM.
    pub fn create_key(&self, input: CreateKeyInput) -> Result<Value, Error> {
        let params = json!({
            "keyAttributes": input.key_attributes.audit_json(),
            "exportable": input.exportable,
            "enabled": input.enabled,
        });
        self.run("CreateKey", Audit::Write, params, || {
            unsupported_extras(
                input.derive_key_usage.as_ref(),
                input.replication_regions.as_ref(),
            )?;
            let attributes = input.key_attributes.parse("KeyAttributes")?;
            policy::check_attributes(&attributes)?;
            if attributes.key_class == KeyClass::PublicKey {
                return Err(Error::policy(
                    Rule::KeyClass,
                    "a PUBLIC_KEY is imported in a certificate (ImportKey with \
                     RootCertificatePublicKey or TrustedCertificatePublicKey), not created",
                ));
            }
            let kcv_method = kcv_method(input.key_check_value_algorithm.as_deref(), &attributes)?;
            let tags = parse_tags(input.tags.as_deref().unwrap_or_default(), "Tags")?;
            let record = self.add_key(
                NewKey {
                    attributes,
                    exportable: input.exportable,
                    kcv_method,
                    enabled: input.enabled.unwrap_or(true),
                    tags,
                    origin: KeyOrigin::AwsPaymentCryptography,
                },
                None,
            )?;
            self.key_output(&record)
        })
    }

    /// Imports clear key material from a key ceremony (the explicit clear-key path): checks
    /// the attributes, the key's strength and the ceremony's KCV, then stores the key.
    pub fn import_clear_key(&self, key: CeremonyKey) -> Result<Value, Error> {
        let params = json!({
            "keyMaterial": "KeyCeremonyComponents",
            "keyAttributes": crate::model::attributes_json(&key.attributes),
            "exportable": key.exportable,
        });
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
                },
                Some(key.material.expose_secret()),
            )?;
            self.key_output(&record)
        })
    }

    /// `GetKey`.
    pub fn get_key(&self, input: KeyIdentifierInput) -> Result<Value, Error> {
        let params = json!({ "keyIdentifier": input.key_identifier });
        self.run("GetKey", Audit::Read, params, || {
            let record = self.load(&input.key_identifier, "KeyIdentifier")?;
            self.key_output(&record)
        })
    }

    /// `ListKeys`: paginated, optionally filtered by state.
    pub fn list_keys(&self, input: ListKeysInput) -> Result<Value, Error> {
        let params = json!({ "keyState": input.key_state, "maxResults": input.max_results });
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
    /// once; `RestoreKey` cancels before the deadline.
    pub fn delete_key(&self, input: DeleteKeyInput) -> Result<Value, Error> {
        let params = json!({
            "keyIdentifier": input.key_identifier,
            "deleteKeyInDays": input.delete_key_in_days,
        });
        self.run("DeleteKey", Audit::Write, params, || {
            let days = input.delete_key_in_days.unwrap_or(7);
            if !(3..=180).contains(&days) {
                return Err(Error::validation("DeleteKeyInDays", "expected 3 to 180"));
            }
            let record = self.update(&input.key_identifier, "KeyIdentifier", |r, now| {
                match r.state {
                    KeyState::DeletePending => Ok(None),
                    KeyState::CreateComplete => {
                        let mut next = r.clone();
                        next.state = KeyState::DeletePending;
                        next.enabled = false;
                        next.usage_stop_timestamp = Some(now);
                        next.delete_pending_timestamp = Some(now.plus_days(days));
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
    pub fn restore_key(&self, input: KeyIdentifierInput) -> Result<Value, Error> {
        let params = json!({ "keyIdentifier": input.key_identifier });
        self.run("RestoreKey", Audit::Write, params, || {
            let record = self.update(&input.key_identifier, "KeyIdentifier", |r, _| {
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

    fn set_usage(&self, event: &str, identifier: &str, enabled: bool) -> Result<Value, Error> {
        let params = json!({ "keyIdentifier": identifier });
        self.run(event, Audit::Write, params, || {
            let record = self.update(identifier, "KeyIdentifier", |r, now| {
                if r.state != KeyState::CreateComplete {
                    return Err(Error::conflict(format!(
                        "the key is {}; usage can change only on a CREATE_COMPLETE key",
                        r.state.name()
                    )));
                }
                let mut next = r.clone();
                next.enabled = enabled;
                if enabled {
                    next.usage_start_timestamp = Some(now);
                } else {
                    next.usage_stop_timestamp = Some(now);
                }
                Ok(Some(next))
            })?;
            self.key_output(&record)
        })
    }

    /// `StartKeyUsage`: enables a key.
    pub fn start_key_usage(&self, input: KeyIdentifierInput) -> Result<Value, Error> {
        self.set_usage("StartKeyUsage", &input.key_identifier, true)
    }

    /// `StopKeyUsage`: disables a key.
    pub fn stop_key_usage(&self, input: KeyIdentifierInput) -> Result<Value, Error> {
        self.set_usage("StopKeyUsage", &input.key_identifier, false)
    }

    fn alias_json(&self, alias: &AliasRecord) -> Result<Value, Error> {
        let mut out = json!({ "AliasName": alias.alias_name });
        if let Some(id) = &alias.key_id {
            out["KeyArn"] = json!(self.arn(id)?.to_string());
        }
        Ok(out)
    }

    /// The key id of an alias's target ARN, which must name an existing key here.
    fn alias_target(&self, key_arn: Option<&str>) -> Result<Option<String>, Error> {
        let Some(arn) = key_arn else {
            return Ok(None);
        };
        match KeyIdentifier::parse(arn, "KeyArn", &self.region, &self.account)? {
            KeyIdentifier::Key(k) if is_internal(k.key_id()) => Err(Error::not_found(arn)),
            KeyIdentifier::Key(k) => {
                let record = self
                    .load_id(k.key_id())?
                    .ok_or_else(|| Error::not_found(arn))?;
                if record.state == KeyState::DeleteComplete {
                    return Err(Error::conflict("the key is DELETE_COMPLETE"));
                }
                Ok(Some(record.key_id))
            }
            KeyIdentifier::Alias(_) => Err(Error::validation("KeyArn", "expected a key ARN")),
        }
    }

    /// `CreateAlias`.
    pub fn create_alias(&self, input: AliasInput) -> Result<Value, Error> {
        let params = json!({ "aliasName": input.alias_name, "keyArn": input.key_arn });
        self.run("CreateAlias", Audit::Write, params, || {
            let name = AliasName::new(&input.alias_name)?;
            let alias = AliasRecord {
                alias_name: name.as_str().to_owned(),
                key_id: self.alias_target(input.key_arn.as_deref())?,
                revision: 1,
            };
            failpoint("hsm.create_alias.before_insert");
            self.store.insert_alias(&alias)?;
            let resources = input.key_arn.iter().cloned().collect();
            Ok((json!({ "Alias": self.alias_json(&alias)? }), resources))
        })
    }

    /// `GetAlias`.
    pub fn get_alias(&self, input: AliasNameInput) -> Result<Value, Error> {
        let params = json!({ "aliasName": input.alias_name });
        self.run("GetAlias", Audit::Read, params, || {
            let name = AliasName::new(&input.alias_name)?;
            let alias = self
                .store
                .get_alias(name.as_str())?
                .ok_or_else(|| Error::not_found(name.as_str()))?;
            Ok((json!({ "Alias": self.alias_json(&alias)? }), Vec::new()))
        })
    }

    /// `UpdateAlias`: points an alias at another key (or at none).
    pub fn update_alias(&self, input: AliasInput) -> Result<Value, Error> {
        let params = json!({ "aliasName": input.alias_name, "keyArn": input.key_arn });
        self.run("UpdateAlias", Audit::Write, params, || {
            let name = AliasName::new(&input.alias_name)?;
            let target = self.alias_target(input.key_arn.as_deref())?;
            for _ in 0..MAX_RETRIES {
                let current = self
                    .store
                    .get_alias(name.as_str())?
                    .ok_or_else(|| Error::not_found(name.as_str()))?;
                let next = AliasRecord {
                    key_id: target.clone(),
                    revision: current.revision + 1,
                    ..current
                };
                failpoint("hsm.update_alias.before_update");
                if self.store.update_alias(&next)? {
                    let resources = input.key_arn.iter().cloned().collect();
                    return Ok((json!({ "Alias": self.alias_json(&next)? }), resources));
                }
            }
            Err(Error::conflict("the alias is changing too often; retry"))
        })
    }

    /// `DeleteAlias`.
    pub fn delete_alias(&self, input: AliasNameInput) -> Result<Value, Error> {
        let params = json!({ "aliasName": input.alias_name });
        self.run("DeleteAlias", Audit::Write, params, || {
            let name = AliasName::new(&input.alias_name)?;
            if self.store.delete_alias(name.as_str())? {
                Ok((json!({}), Vec::new()))
            } else {
                Err(Error::not_found(name.as_str()))
            }
        })
    }

    /// `ListAliases`: paginated, optionally only those of one key.
    pub fn list_aliases(&self, input: ListAliasesInput) -> Result<Value, Error> {
        let params = json!({ "keyArn": input.key_arn, "maxResults": input.max_results });
        self.run("ListAliases", Audit::Read, params, || {
            let key_id = input
                .key_arn
                .as_deref()
                .map(|arn| {
                    match KeyIdentifier::parse(arn, "KeyArn", &self.region, &self.account)? {
                        KeyIdentifier::Key(k) => Ok(k.key_id().to_owned()),
                        KeyIdentifier::Alias(_) => {
                            Err(Error::validation("KeyArn", "expected a key ARN"))
                        }
                    }
                })
                .transpose()?;
            let page = Page::parse(input.next_token.as_deref(), input.max_results)?;
            let mut after = page.after;
            let mut aliases = Vec::new();
            let mut last = None;
            'scan: loop {
                let batch = self.store.list_aliases(after.as_deref(), page.limit)?;
                let exhausted = batch.len() < page.limit;
                for a in batch {
                    after = Some(a.alias_name.clone());
                    if key_id.is_none() || a.key_id == key_id {
                        aliases.push(self.alias_json(&a)?);
                        if aliases.len() == page.limit {
                            last = Some(a.alias_name);
                            break 'scan;
                        }
                    }
                }
                if exhausted {
                    break;
                }
            }
            let mut out = json!({ "Aliases": aliases });
            if let Some(last) = last
                && !self.store.list_aliases(Some(&last), 1)?.is_empty()
            {
                out["NextToken"] = json!(Page::token(&last));
            }
            Ok((out, Vec::new()))
        })
    }

    fn resource_key_id(&self, resource_arn: &str) -> Result<String, Error> {
        match KeyIdentifier::parse(resource_arn, "ResourceArn", &self.region, &self.account)? {
            KeyIdentifier::Key(k) if is_internal(k.key_id()) => Err(Error::not_found(resource_arn)),
            KeyIdentifier::Key(k) => Ok(k.key_id().to_owned()),
            KeyIdentifier::Alias(_) => Err(Error::validation("ResourceArn", "expected a key ARN")),
        }
    }

    /// `TagResource`: adds or replaces tags.
    pub fn tag_resource(&self, input: TagResourceInput) -> Result<Value, Error> {
        let keys: Vec<&str> = input.tags.iter().map(|t| t.key.as_str()).collect();
        let params = json!({ "resourceArn": input.resource_arn, "tagKeys": keys });
        self.run("TagResource", Audit::Write, params, || {
            let key_id = self.resource_key_id(&input.resource_arn)?;
            let tags = parse_tags(&input.tags, "Tags")?;
            self.update(&input.resource_arn, "ResourceArn", |r, _| {
                let mut next = r.clone();
                next.tags.extend(tags.clone());
                if next.tags.len() > 200 {
                    return Err(Error::validation("Tags", "a key has at most 200 tags"));
                }
                Ok(Some(next))
            })?;
            Ok((json!({}), vec![self.arn(&key_id)?.to_string()]))
        })
    }

    /// `UntagResource`.
    pub fn untag_resource(&self, input: UntagResourceInput) -> Result<Value, Error> {
        let params = json!({ "resourceArn": input.resource_arn, "tagKeys": input.tag_keys });
        self.run("UntagResource", Audit::Write, params, || {
            let key_id = self.resource_key_id(&input.resource_arn)?;
            self.update(&input.resource_arn, "ResourceArn", |r, _| {
                let mut next = r.clone();
                for k in &input.tag_keys {
                    next.tags.remove(k);
                }
                Ok(Some(next))
            })?;
            Ok((json!({}), vec![self.arn(&key_id)?.to_string()]))
        })
    }

    /// `ListTagsForResource`.
    pub fn list_tags_for_resource(&self, input: ListTagsInput) -> Result<Value, Error> {
        let params = json!({ "resourceArn": input.resource_arn });
        self.run("ListTagsForResource", Audit::Read, params, || {
            self.resource_key_id(&input.resource_arn)?;
            let record = self.load(&input.resource_arn, "ResourceArn")?;
            let page = Page::parse(input.next_token.as_deref(), input.max_results)?;
            let rest: BTreeMap<String, String> = record
                .tags
                .into_iter()
                .filter(|(k, _)| page.after.as_deref().is_none_or(|a| k.as_str() > a))
                .collect();
            let shown: BTreeMap<String, String> = rest
                .iter()
                .take(page.limit)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let mut out = json!({ "Tags": tags_json(&shown) });
            if rest.len() > shown.len()
                && let Some(last) = shown.keys().next_back()
            {
                out["NextToken"] = json!(Page::token(last));
            }
            Ok((out, Vec::new()))
        })
    }
}

/// A new key's metadata, for [`Hsm::add_key`].
pub(crate) struct NewKey {
    pub(crate) attributes: KeyAttributes,
    pub(crate) exportable: bool,
    pub(crate) kcv_method: KcvMethod,
    pub(crate) enabled: bool,
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) origin: KeyOrigin,
}

/// What an operation writes to the audit log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Audit {
    /// A key-management read: logged.
    Read,
    /// A key-management action: logged.
    Write,
    /// A data-plane operation: logged when it fails.
    FailuresOnly,
}

enum Completion {
    NotDue,
    Done(KeyRecord),
    Raced,
}

fn unsupported_extras(
    derive_key_usage: Option<&String>,
    replication_regions: Option<&Vec<String>>,
) -> Result<(), Error> {
    if derive_key_usage.is_some() {
        return Err(Error::validation(
            "DeriveKeyUsage",
            "ECDH key derivation is not offered by this HSM",
        ));
    }
    if replication_regions.is_some_and(|r| !r.is_empty()) {
        return Err(Error::validation(
            "ReplicationRegions",
            "multi-region replication is not offered by this HSM yet",
        ));
    }
    Ok(())
}

/// The KCV method: the requested one if it fits the algorithm, else the algorithm's default.
pub(crate) fn kcv_method(requested: Option<&str>, a: &KeyAttributes) -> Result<KcvMethod, Error> {
    let default = KcvMethod::default_for(a.key_algorithm)
        .map_err(|e| Error::validation("KeyAttributes.KeyAlgorithm", e.to_string()))?;
    let Some(name) = requested else {
        return Ok(default);
    };
    let m = KcvMethod::from_name(name)
        .map_err(|e| Error::validation("KeyCheckValueAlgorithm", e.to_string()))?;
    let fits = match a.key_algorithm.tr31_algorithm() {
        Algorithm::TDES => matches!(m, KcvMethod::AnsiX924 | KcvMethod::Cmac),
        Algorithm::AES => m == KcvMethod::Cmac,
        Algorithm::HMAC => m == KcvMethod::Hmac,
        _ => m == KcvMethod::Sha1,
    };
    if fits {
        Ok(m)
    } else {
        Err(Error::validation(
            "KeyCheckValueAlgorithm",
            format!("{} does not fit a {} key", m.name(), a.key_algorithm),
        ))
    }
}

/// New random key material for `algorithm`: TDES keys get odd parity and are redrawn until
/// no part is weak and no two parts are equal; an RSA key pair is its PKCS #1 private key.
pub(crate) fn generate_material(algorithm: KeyAlgorithm) -> Result<SecretVec, Error> {
    if let Some(size) = crate::pki::rsa_size(algorithm) {
        return SoftwareRsaKey::generate(size)
            .and_then(|k| k.to_pkcs1_der())
            .map_err(|e| Error::internal(format!("RSA key generation: {e}")));
    }
    let len = algorithm.key_len().ok_or_else(|| {
        Error::policy(
            Rule::KeyAttributes,
            "this HSM generates TDES, AES, HMAC and RSA keys",
        )
    })?;
    loop {
        let mut m = SecretVec::zeroed(len);
        OsRandom
            .fill(m.expose_secret_mut())
            .map_err(|_| Error::internal("the random source failed"))?;
        if algorithm.tr31_algorithm() == Algorithm::TDES {
            payhsm_core::crypto::tdes::set_odd_parity(m.expose_secret_mut());
            if payhsm_core::crypto::tdes::check_strength(m.expose_secret()).is_err() {
                continue;
            }
        }
        return Ok(m);
    }
}

/// Checks imported key material: its length fits the algorithm, and a TDES key is not weak.
pub(crate) fn check_material(algorithm: KeyAlgorithm, material: &[u8]) -> Result<(), Error> {
    if algorithm.key_len() != Some(material.len()) {
        return Err(Error::validation(
            "KeyMaterial",
            format!("a {algorithm} key is {:?} bytes", algorithm.key_len()),
        ));
    }
    if algorithm.tr31_algorithm() == Algorithm::TDES {
        payhsm_core::crypto::tdes::check_strength(material)
            .map_err(|e| crate::error::core_error("KeyMaterial", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn request_complaints_keep_names_and_drop_values() {
        assert_eq!(
            redact("invalid type: integer `1234`, expected a string"),
            "invalid type: integer `…`, expected a string"
        );
        assert_eq!(
            redact("invalid type: string \"0123456789ABCDEF\", expected u8"),
            "invalid type: string \"…\", expected u8"
        );
        assert_eq!(
            redact("unknown field `Foo`, expected one of `KeyIdentifier`, `Mac`"),
            "unknown field `Foo`, expected one of `KeyIdentifier`, `Mac`"
        );
        assert_eq!(
            redact("missing field `KeyIdentifier`"),
            "missing field `KeyIdentifier`"
        );
    }
}
