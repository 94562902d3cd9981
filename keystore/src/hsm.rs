//! The HSM: one region's keys behind the service's control plane, with policy and audit.
//!
//! [`Hsm`] owns a [`Store`], the region and account its ARNs name, a [`Clock`] and the
//! region's [`AuditLog`]; this module is its state and the one way an operation runs
//! ([`Hsm::run`]: self-test state, audit), reads keys (deletion deadlines carried out) and
//! writes them (compare-and-swap with retries). The operations are elsewhere: the key
//! lifecycle in [`crate::lifecycle`], key exchange in [`crate::exchange`], the data plane in
//! [`crate::ops`]. Every operation takes the service's request shape (deserialised from JSON
//! with the service's member names) and returns the service's response as JSON, so the CLI
//! and the HTTP emulator are thin.
//!
//! Before it serves anything the HSM runs its power-on self-tests, and before its first RSA
//! operation the RSA ones; if one fails it stays in an error state in which every operation
//! returns `ServiceUnavailableException`.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, OnceLock, Weak,
        atomic::{AtomicI64, Ordering},
    },
    time::Duration,
};

use der::Decode as _;
use payhsm_core::{
    kcv::{self, KcvMethod},
    key::{KeyAttributes, KeyClass, KeyUsage},
    rng::OsRandom,
};
use payhsm_tr34::rsa::RsaPrivateKey;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    Error,
    api::Regions,
    arn::{AccountId, KeyArn, KeyIdentifier, Region, new_key_id},
    audit::{AuditEvent, AuditLog},
    clock::{Clock, SteadyTime, SystemClock, Timestamp},
    exchange::failed_unwraps::UnwrapFailurePolicy,
    key_cache::{self, KeyCache},
    model::{KeyOrigin, KeyRecord, KeyState, MultiRegion, Setting},
    selftest::{self, KnownAnswer, When},
    store::{Store, failpoint},
};

/// How many times a write is retried when another writer changed the record first.
pub(crate) const MAX_RETRIES: usize = 64;

/// Whether a key id names one of the HSM's own keys (the region CA, the TR-34 import and
/// export parameters). Callers' key ids are lower-case ([`new_key_id`]); internal ones start
/// with an upper-case letter, so the two never meet, and no operation by key ARN, alias or
/// listing reaches an internal key.
pub(crate) fn is_internal(key_id: &str) -> bool {
    key_id.starts_with(|c: char| c.is_ascii_uppercase())
}

/// The setting holding the latest time the HSM went by, so that a restart with the wall clock
/// set back starts from there ([`SteadyTime`]).
const LATEST_TIME: &str = "clock.latest";

/// How far time moves before the latest time is recorded again: at most one write a second.
const RECORD_TIME_EVERY_MS: i64 = 1_000;

/// Settings of an [`Hsm`].
pub struct HsmConfig {
    /// The region the store holds (`us-east-1` by default).
    pub region: Region,
    /// The account the ARNs name.
    pub account: AccountId,
    /// The clock deadlines and timestamps read (through [`SteadyTime`]).
    pub clock: Arc<dyn Clock>,
    /// The region's audit log.
    pub audit: AuditLog,
    /// The known answers: checked at power-on or before the first RSA operation.
    pub self_tests: Vec<KnownAnswer>,
    /// The account's other regions, for multi-region keys (`None`: this region alone). Weak,
    /// because the regions hold this HSM.
    pub regions: Option<Weak<dyn Regions>>,
    /// Import TR-31 blocks whose padding shows their key's length (no key length masking, as
    /// some HSMs write them). Default: no (T-KB-6).
    pub allow_short_padded_tr31: bool,
    /// What failed TR-31 unwraps under one KBPK lead to (T-KB-4).
    pub unwrap_failures: UnwrapFailurePolicy,
    /// How old key material nothing refers to must be before the start-up sweep destroys it,
    /// and how often the sweep runs (10 minutes).
    pub orphan_grace: Duration,
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
            regions: None,
            allow_short_padded_tr31: false,
            unwrap_failures: UnwrapFailurePolicy::default(),
            orphan_grace: Duration::from_secs(600),
        }
    }
}

/// One region's HSM.
pub struct Hsm<S: Store> {
    pub(crate) store: S,
    pub(crate) region: Region,
    pub(crate) account: AccountId,
    time: SteadyTime,
    /// The latest time recorded in the store (`i64::MIN` until read).
    recorded_time: AtomicI64,
    pub(crate) audit: AuditLog,
    /// The power-on self-tests' outcome.
    pub(crate) self_test: Result<(), Error>,
    /// The known answers, for the conditional (RSA) ones still to run.
    self_tests: Vec<KnownAnswer>,
    /// The RSA self-tests' outcome, once they have run.
    rsa_self_test: OnceLock<Result<(), Error>>,
    /// The account's other regions, if it has them.
    pub(crate) regions: Option<Weak<dyn Regions>>,
    /// Whether TR-31 imports accept short padding.
    pub(crate) allow_short_padded_tr31: bool,
    pub(crate) unwrap_failures: UnwrapFailurePolicy,
    /// The data plane's records.
    keys: KeyCache,
}

impl<S: Store> std::fmt::Debug for Hsm<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hsm")
            .field("region", &self.region)
            .field("self_test", &self.self_test)
            .field("rsa_self_test", &self.rsa_self_test.get())
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

impl<S: Store> Hsm<S> {
    /// An HSM over `store`. Runs the power-on self-tests: on failure the HSM is in its error
    /// state. The RSA ones run before its first RSA operation.
    pub fn new(store: S, config: HsmConfig) -> Self {
        let self_test = selftest::run(&config.self_tests, When::PowerOn);
        let hsm = Self {
            store,
            region: config.region,
            account: config.account,
            time: SteadyTime::new(config.clock),
            recorded_time: AtomicI64::new(i64::MIN),
            audit: config.audit,
            self_test,
            self_tests: config.self_tests,
            rsa_self_test: OnceLock::new(),
            regions: config.regions,
            allow_short_padded_tr31: config.allow_short_padded_tr31,
            unwrap_failures: config.unwrap_failures,
            keys: KeyCache::new(key_cache::CAPACITY),
        };
        if hsm.self_test.is_ok() {
            hsm.sweep_orphans(config.orphan_grace);
        }
        hsm
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

    /// The account's regions this HSM replicates to, if it was given them.
    pub fn regions(&self) -> Option<Arc<dyn Regions>> {
        self.regions.as_ref().and_then(Weak::upgrade)
    }

    /// The self-test outcome so far: `Err` is the error state, entered when a power-on test
    /// failed or, once they have run, an RSA test.
    pub fn self_test_result(&self) -> Result<(), Error> {
        self.self_test.clone()?;
        match self.rsa_self_test.get() {
            Some(Err(e)) => Err(e.clone()),
            _ => Ok(()),
        }
    }

    /// Runs the RSA self-tests the first time RSA is needed (later calls return their
    /// outcome). Every RSA operation calls this before it uses RSA: a failure refuses it and
    /// puts the HSM in its error state.
    pub(crate) fn rsa_self_test(&self) -> Result<(), Error> {
        self.rsa_self_test
            .get_or_init(|| selftest::run(&self.self_tests, When::FirstRsaUse))
            .clone()
    }

    /// The RSA private key of a stored key pair, after the RSA self-tests.
    pub(crate) fn private_key(
        &self,
        record: &KeyRecord,
    ) -> Result<Box<dyn RsaPrivateKey + '_>, Error> {
        self.rsa_self_test()?;
        self.store.private_key(record)
    }

    /// The ARN of key `key_id` here.
    pub fn arn(&self, key_id: &str) -> Result<KeyArn, Error> {
        KeyArn::new(&self.region, &self.account, key_id)
    }

    /// Now, as the HSM goes by it: never earlier than a time it went by before, in this run or
    /// (recorded in the store) an earlier one.
    pub(crate) fn now(&self) -> Timestamp {
        let now = self.time.now(|| self.recorded_latest_time());
        if now.0 >= self.recorded_time.load(Ordering::Relaxed) + RECORD_TIME_EVERY_MS {
            self.record_latest_time(now);
        }
        now
    }

    fn recorded_latest_time(&self) -> Option<Timestamp> {
        let stored = self.store.get_setting(LATEST_TIME).ok().flatten()?;
        let t = stored.value.parse().ok()?;
        self.recorded_time.fetch_max(t, Ordering::Relaxed);
        Some(Timestamp(t))
    }

    /// Records `now` as the latest time, unless a later one is recorded. Best effort: the
    /// operation asking the time goes on if the store refuses the write, and an unrecorded
    /// time is lost only to a restart.
    fn record_latest_time(&self, now: Timestamp) {
        for _ in 0..3 {
            let Ok(stored) = self.store.get_setting(LATEST_TIME) else {
                return;
            };
            let (recorded, revision) = stored.map_or((i64::MIN, 0), |s| {
                (s.value.parse().unwrap_or(i64::MIN), s.revision)
            });
            if recorded >= now.0 {
                self.recorded_time.fetch_max(recorded, Ordering::Relaxed);
                return;
            }
            let setting = Setting {
                name: LATEST_TIME.to_owned(),
                value: now.0.to_string(),
                revision: revision + 1,
            };
            match self.store.put_setting(&setting) {
                Ok(true) => {
                    self.recorded_time.fetch_max(now.0, Ordering::Relaxed);
                    return;
                }
                Ok(false) => {}
                Err(_) => return,
            }
        }
    }

    /// Runs an operation: refuses it in the error state, and audits it (always for
    /// key-management, on failure only for data-plane operations).
    pub(crate) fn run<T>(
        &self,
        event_name: &str,
        kind: Audit,
        request_parameters: impl FnOnce() -> Value,
        f: impl FnOnce() -> Result<(T, Vec<String>), Error>,
    ) -> Result<T, Error> {
        let result = self.self_test_result().and_then(|()| f());
        let (error, resources) = match &result {
            Ok((_, resources)) => (None, resources.clone()),
            Err(e) => (Some(e), Vec::new()),
        };
        if error.is_some() || kind != Audit::FailuresOnly {
            self.record(&AuditEvent {
                event_name,
                read_only: kind == Audit::Read,
                resources,
                // Built only for an event logged: not on a data-plane success.
                request_parameters: request_parameters(),
                error,
                service_event: kind == Audit::Service,
            })?;
        }
        result.map(|(value, _)| value)
    }

    /// Audits what the HSM did on its own (`AwsServiceEvent`): a deletion coming due, a
    /// replication step.
    pub(crate) fn audit_service_event(
        &self,
        event_name: &str,
        resources: Vec<String>,
        request_parameters: Value,
        error: Option<&Error>,
    ) -> Result<(), Error> {
        self.record(&AuditEvent {
            event_name,
            read_only: false,
            resources,
            request_parameters,
            error,
            service_event: true,
        })
    }

    /// Writes one event to the region's audit log.
    fn record(&self, event: &AuditEvent<'_>) -> Result<(), Error> {
        self.audit.record(
            self.region.as_str(),
            self.account.as_str(),
            self.now(),
            event,
        )
    }

    /// Audits a request refused before it could be read (malformed JSON, a missing member).
    /// Nothing of the request is logged: it did not parse, so nothing in it is known to be
    /// safe to log.
    pub(crate) fn audit_rejected(&self, event_name: &str, error: &Error) {
        // The request has already failed; a log failure cannot make it fail more.
        let _ = self.record(&AuditEvent {
            event_name,
            read_only: false,
            resources: Vec::new(),
            request_parameters: Value::Null,
            error: Some(error),
            service_event: false,
        });
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

    /// The record of a key a data-plane operation uses: [`Hsm::load`], or the record it gave
    /// for `identifier` before if the store has not changed since ([`Store::generation`]).
    pub(crate) fn load_in_use(
        &self,
        identifier: &str,
        field: &str,
    ) -> Result<Arc<KeyRecord>, Error> {
        let [record] = self.load_all_in_use([(identifier, field)])?;
        Ok(record)
    }

    /// [`Hsm::load_in_use`] for each `(identifier, field)` of one operation, on one look at
    /// the store's generation.
    pub(crate) fn load_all_in_use<const N: usize>(
        &self,
        keys: [(&str, &str); N],
    ) -> Result<[Arc<KeyRecord>; N], Error> {
        let generation = self.store.generation()?;
        let mut records = Vec::with_capacity(N);
        for (identifier, field) in keys {
            let cached = generation.and_then(|g| self.keys.record(identifier, g));
            records.push(match cached {
                Some(record) => record,
                None => {
                    // Read after the generation: a change in between sends the next use to
                    // the store.
                    let record = Arc::new(self.load(identifier, field)?);
                    if let Some(g) = generation {
                        self.keys.put_record(identifier, g, &record);
                    }
                    record
                }
            });
        }
        records
            .try_into()
            .map_err(|_| Error::internal("unreachable: one record per key"))
    }

    /// Drops the records the HSM keeps for the data plane and the store's cached handles
    /// (zeroized once no operation uses them): the next use of every key reads its record
    /// and opens its material again.
    pub fn forget_keys(&self) {
        self.keys.clear();
        self.store.forget_all_handles();
    }

    pub(crate) fn load_id(&self, key_id: &str) -> Result<Option<KeyRecord>, Error> {
        for _ in 0..MAX_RETRIES {
            let Some(record) = self.store.get_key(key_id)? else {
                return Ok(None);
            };
            match self.complete_deletion(&record)? {
                Completion::NotDue => return Ok(Some(record)),
                Completion::Done(r) => return Ok(Some(*r)),
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
                    Some(done) => Completion::Done(Box::new(done)),
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
        done.resource_policy = None;
        done.delete_pending_timestamp = None;
        done.delete_timestamp = Some(at);
        done.revision += 1;
        failpoint("hsm.complete_deletion.before_update");
        if !self
            .store
            .update_key(&done, &done.owed_replications(Some(record)))?
        {
            return Ok(None);
        }
        self.forget_key(&record.key_id);
        let arn = self.arn(&record.key_id)?.to_string();
        self.audit_service_event(
            "DeleteKey",
            vec![arn],
            json!({ "keyState": KeyState::DeleteComplete.name() }),
            None,
        )?;
        Ok(Some(done))
    }

    /// Changes a key by `change` (which sees the current record and the time), retrying on
    /// concurrent changes. `change` refuses by returning an error; nothing is written then.
    pub(crate) fn update(
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
            // The replication work the change owes commits with it (the outbox).
            if self
                .store
                .update_key(&next, &next.owed_replications(Some(&current)))?
            {
                self.forget_key(&key_id);
                return Ok(next);
            }
        }
        Err(Error::conflict("the key is changing too often; retry"))
    }

    /// Drops what the HSM and its store keep for key `key_id`: it changed.
    pub(crate) fn forget_key(&self, key_id: &str) {
        self.keys.forget(key_id);
        self.store.forget_handle(key_id);
    }

    pub(crate) fn key_output(
        &self,
        record: &KeyRecord,
    ) -> Result<(crate::model::KeyOutput, Vec<String>), Error> {
        let arn = self.arn(&record.key_id)?;
        let mut key = record.key(&arn);
        key.mpa_status = self.mpa_status(record)?;
        Ok((crate::model::KeyOutput { key }, vec![arn.to_string()]))
    }

    /// Adds a key under a new key id: `material` (already checked), or when `None` new
    /// material the store generates (inside the token, for a token store).
    pub(crate) fn add_key(&self, key: NewKey, material: Option<&[u8]>) -> Result<KeyRecord, Error> {
        self.insert_key(new_key_id(&mut OsRandom)?, key, material)
    }

    /// [`Hsm::add_key`] in `CREATE_IN_PROGRESS`: stored, and unusable until an approval
    /// completes it ([`crate::lifecycle::mpa`]).
    pub(crate) fn add_pending_key(
        &self,
        key: NewKey,
        material: Option<&[u8]>,
    ) -> Result<KeyRecord, Error> {
        self.insert_key_in(
            new_key_id(&mut OsRandom)?,
            key,
            material,
            KeyState::CreateInProgress,
        )
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
        self.insert_key_in(key_id, key, material, KeyState::CreateComplete)
    }

    fn insert_key_in(
        &self,
        key_id: String,
        key: NewKey,
        material: Option<&[u8]>,
        state: KeyState,
    ) -> Result<KeyRecord, Error> {
        let NewKey {
            attributes,
            exportable,
            kcv_method,
            enabled,
            tags,
            origin,
            derive_key_usage,
            multi_region,
        } = key;
        if attributes.key_class != KeyClass::SymmetricKey {
            // An RSA key pair is generated or parsed, a certificate's RSA key parsed.
            self.rsa_self_test()?;
        }
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
            state,
            origin,
            create_timestamp: now,
            usage_start_timestamp: enabled.then_some(now),
            usage_stop_timestamp: None,
            delete_pending_timestamp: None,
            delete_timestamp: None,
            tags,
            derive_key_usage,
            resource_policy: None,
            key_block: Some(key_block),
            multi_region,
            revision: 1,
        };
        let registered = self.stored_check_value(&record).and_then(|kcv| {
            record.key_check_value = kcv;
            failpoint("hsm.add_key.before_insert");
            // A primary's replication work commits with it (the outbox).
            self.store
                .insert_key(&record, &record.owed_replications(None))
        });
        if let Err(e) = registered {
            self.forget_key(&record.key_id);
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
    /// for a symmetric key (inside the token, for a token store); for a key pair or an
    /// imported certificate, the SHA-1 of the public key as its `subjectPublicKey` BIT STRING
    /// holds it (the PKCS #1 `RSAPublicKey`, or the uncompressed SEC 1 point).
    pub(crate) fn stored_check_value(&self, record: &KeyRecord) -> Result<String, Error> {
        let corrupt = |_| Error::internal("stored key material does not parse");
        let public = match record.attributes.key_class {
            KeyClass::AsymmetricKeyPair
                if crate::ecc::Curve::of(record.attributes.key_algorithm).is_some() =>
            {
                Ok(self.store.ec_private_key(record)?.public_key().to_sec1())
            }
            KeyClass::PublicKey => {
                let der = self.store.reveal(record)?;
                let certificate = x509_cert::Certificate::from_der(der.expose_secret())
                    .map_err(|_| Error::internal("stored certificate does not parse"))?;
                certificate
                    .tbs_certificate()
                    .subject_public_key_info()
                    .subject_public_key
                    .as_bytes()
                    .map(<[u8]>::to_vec)
                    .ok_or_else(|| Error::internal("stored certificate's key does not parse"))
            }
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
            _ => self
                .private_key(record)?
                .public_key()
                .to_pkcs1_der()
                .map_err(corrupt),
        }?;
        Ok(kcv::public_key_kcv(&public).to_string())
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
    /// An ECC key pair's `DeriveKeyUsage`.
    pub(crate) derive_key_usage: Option<KeyUsage>,
    pub(crate) multi_region: Option<MultiRegion>,
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
    /// A key-management action the HSM takes on its own (`AwsServiceEvent`): logged.
    Service,
}

enum Completion {
    NotDue,
    Done(Box<KeyRecord>),
    Raced,
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
