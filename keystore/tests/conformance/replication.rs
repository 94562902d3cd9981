//! Multi-region keys (issue 11, T-RP-1..3): each case runs on an account of three regions,
//! each an HSM over its own store from the store maker, linked in this process.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use payhsm_core::key::{Exportability, KeyAlgorithm, KeyUsage, ModeOfUse};
use payhsm_keystore::{
    Error, Hsm, HsmConfig, Rule, Store,
    api::{self, LocalRegions, Service},
    arn::Region,
    clock::{ManualClock, Timestamp},
    model::OutboxItem,
    replication::{self, Drained, Retry},
};
use serde_json::{Value, json};

use super::{KNOWN_CVK, KNOWN_KBPK, arn_of, import_known_into, key_id, software_block};

/// The primary region of the cases.
pub const EAST: &str = "us-east-1";
/// A replica region.
pub const WEST: &str = "us-west-2";
/// Another replica region.
pub const EU: &str = "eu-west-1";

const PAN: &str = "4123456789012345";

/// Retries quick enough for tests.
pub const FAST: Retry = Retry {
    attempts: 3,
    backoff: Duration::from_millis(1),
};

/// Three regions of one account, each an HSM over a store of its own.
pub struct Account<S: Store + 'static> {
    /// The regions as the HSMs see them.
    pub regions: Arc<LocalRegions>,
    /// Each region's HSM.
    pub hsms: BTreeMap<&'static str, Arc<Hsm<S>>>,
    /// The clock every region reads.
    pub clock: ManualClock,
}

impl<S: Store + 'static> Account<S> {
    /// An account with `EAST`, `WEST` and `EU`.
    pub fn new(make: &dyn Fn() -> S) -> Self {
        let regions = LocalRegions::new();
        let clock = ManualClock::new(Timestamp(1_795_000_000_000));
        let mut hsms = BTreeMap::new();
        for name in [EAST, WEST, EU] {
            let mut config = HsmConfig::new(Region::new(name).unwrap());
            config.clock = Arc::new(clock.clone());
            hsms.insert(name, regions.add_hsm(make(), config));
        }
        Self {
            regions,
            hsms,
            clock,
        }
    }

    /// The HSM of `region`.
    pub fn hsm(&self, region: &str) -> &Hsm<S> {
        &self.hsms[region]
    }

    /// Calls an operation in `region`.
    pub fn call(&self, region: &str, op: &str, input: Value) -> Result<Value, Error> {
        api::dispatch(self.hsm(region), op, input)
    }

    /// Calls an operation that must succeed.
    pub fn ok(&self, region: &str, op: &str, input: Value) -> Value {
        self.call(region, op, input.clone())
            .unwrap_or_else(|e| panic!("{region} {op} {input}: {e}"))
    }

    /// Drains `EAST`'s outbox.
    pub fn drain(&self) -> Drained {
        replication::drain(
            self.hsm(EAST),
            &FAST,
            Instant::now() + Duration::from_secs(120),
        )
        .unwrap()
    }

    /// The key `arn` (of any region) as `GetKey` in `region` shows it.
    pub fn key(&self, region: &str, arn: &str) -> Result<Value, Error> {
        self.call(
            region,
            "GetKey",
            json!({ "KeyIdentifier": in_region(arn, region) }),
        )
        .map(|v| v["Key"].clone())
    }

    /// A C0 TDES-2 key created in `EAST` with `request` added to the `CreateKey` request.
    pub fn create_cvk(&self, exportable: bool, request: Value) -> String {
        let mut input = json!({
            "KeyAttributes": {
                "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY", "KeyClass": "SYMMETRIC_KEY",
                "KeyAlgorithm": "TDES_2KEY", "KeyModesOfUse": { "Generate": true, "Verify": true },
            },
            "Exportable": exportable,
        });
        for (k, v) in request.as_object().unwrap() {
            input[k] = v.clone();
        }
        arn_of(&self.ok(EAST, "CreateKey", input))
    }

    /// The shared vectors' CVK ([`KNOWN_CVK`], exportable), imported in `EAST` as a TR-31
    /// block with `regions` as its `ReplicationRegions`; its ARN.
    pub fn import_known_cvk(&self, regions: &[&str]) -> String {
        let kbpk = import_known_into(
            self.hsm(EAST),
            KeyUsage::K1,
            KeyAlgorithm::Aes256,
            ModeOfUse::ENCRYPT_DECRYPT,
            false,
            KNOWN_KBPK,
        );
        let block = software_block(
            KeyAlgorithm::Aes256,
            KNOWN_KBPK,
            payhsm_tr31::Version::D,
            ModeOfUse::GENERATE_VERIFY,
            Exportability::EXPORTABLE,
            KNOWN_CVK,
        );
        arn_of(&self.ok(
            EAST,
            "ImportKey",
            json!({
                "KeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": kbpk, "WrappedKeyBlock": block } },
                "ReplicationRegions": regions,
            }),
        ))
    }

    /// The replication status of `arn` for `region` in the primary's `GetKey`.
    pub fn status(&self, arn: &str, region: &str) -> String {
        self.key(EAST, arn).unwrap()["ReplicationStatus"][region]["Status"]
            .as_str()
            .unwrap_or("absent")
            .to_owned()
    }

    /// Items in `EAST`'s outbox.
    pub fn outbox_len(&self) -> usize {
        self.hsm(EAST).store().outbox(None, 10_000).unwrap().len()
    }
}

/// `arn` with its region part replaced.
pub fn in_region(arn: &str, region: &str) -> String {
    if !arn.starts_with("arn:") {
        return arn.to_owned();
    }
    let parts: Vec<&str> = arn.splitn(5, ':').collect();
    format!(
        "{}:{}:{}:{region}:{}",
        parts[0], parts[1], parts[2], parts[4]
    )
}

fn cvv(account: &Account<impl Store>, region: &str, arn: &str) -> String {
    account.ok(region, "GenerateCardValidationData", json!({
        "KeyIdentifier": in_region(arn, region), "PrimaryAccountNumber": PAN,
        "GenerationAttributes": { "CardVerificationValue1": { "CardExpiryDate": "8701", "ServiceCode": "101" } },
    }))["ValidationData"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[track_caller]
fn assert_refused(r: Result<Value, Error>, says: &str) {
    match r {
        Err(e) if e.name() == "ValidationException" => {
            assert!(e.message().contains(says), "{says:?} not in {e}");
        }
        other => panic!("expected a ValidationException saying {says:?}, got {other:?}"),
    }
}

/// A primary created with regions is `IN_PROGRESS` until the outbox drains; then each
/// replica has the same key id, attributes and KCV, and the primary shows `SYNCHRONIZED`.
pub fn replication_create_and_synchronize<S: Store + 'static>(make: &dyn Fn() -> S) {
    let a = Account::new(make);
    let arn = a.create_cvk(true, json!({ "ReplicationRegions": [WEST, EU] }));
    let created = a.key(EAST, &arn).unwrap();
    assert_eq!(created["MultiRegionKeyType"], "PRIMARY");
    assert_eq!(created["PrimaryRegion"], EAST);
    assert_eq!(created["UsingDefaultReplicationRegions"], false);
    for region in [WEST, EU] {
        assert_eq!(a.status(&arn, region), "IN_PROGRESS");
        assert_eq!(
            a.key(region, &arn).unwrap_err().name(),
            "ResourceNotFoundException"
        );
    }
    // The work item committed with the key.
    assert_eq!(a.outbox_len(), 2);
    assert_eq!(
        a.drain(),
        Drained {
            synchronized: 2,
            failed: 0,
            remaining: 0
        }
    );
    assert_eq!(a.outbox_len(), 0);
    let primary = a.key(EAST, &arn).unwrap();
    for region in [WEST, EU] {
        assert_eq!(a.status(&arn, region), "SYNCHRONIZED");
        assert!(primary["ReplicationStatus"][region]["StatusMessage"].is_null());
        let replica = a.key(region, &arn).unwrap();
        assert_eq!(replica["KeyArn"], in_region(&arn, region));
        assert_eq!(replica["MultiRegionKeyType"], "REPLICA");
        assert_eq!(replica["PrimaryRegion"], EAST);
        assert!(replica.get("ReplicationStatus").is_none());
        for field in [
            "KeyAttributes",
            "KeyCheckValue",
            "KeyCheckValueAlgorithm",
            "Exportable",
            "Enabled",
            "KeyState",
            "KeyOrigin",
        ] {
            assert_eq!(replica[field], primary[field], "{region} {field}");
        }
        let listed = a.ok(region, "ListKeys", json!({}));
        let summary = listed["Keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["KeyArn"] == replica["KeyArn"])
            .unwrap();
        assert_eq!(summary["MultiRegionKeyType"], "REPLICA");
        assert_eq!(summary["PrimaryRegion"], EAST);
        assert_eq!(cvv(&a, region, &arn), cvv(&a, EAST, &arn));
    }
    // A second drain has nothing to do.
    assert_eq!(a.drain(), Drained::default());
}

/// A CVV generated with the replica equals the primary's and the published value: the key
/// was imported (TR-31) with `ReplicationRegions`.
pub fn replica_cvv_equals_primary<S: Store + 'static>(make: &dyn Fn() -> S) {
    let a = Account::new(make);
    let arn = a.import_known_cvk(&[WEST]);
    assert_eq!(a.drain().synchronized, 1);
    let replica = a.key(WEST, &arn).unwrap();
    assert_eq!(replica["KeyOrigin"], "EXTERNAL");
    // The Visa CVV of the shared vectors' key (service code 101, expiry 8701).
    assert_eq!(cvv(&a, EAST, &arn), "561");
    assert_eq!(cvv(&a, WEST, &arn), "561");
    a.ok(WEST, "VerifyCardValidationData", json!({
        "KeyIdentifier": in_region(&arn, WEST), "PrimaryAccountNumber": PAN, "ValidationData": "561",
        "VerificationAttributes": { "CardVerificationValue1": { "CardExpiryDate": "8701", "ServiceCode": "101" } },
    }));
}

/// Only exportable symmetric keys replicate, to other regions of the store; each refusal says
/// why and creates nothing.
pub fn replication_refusals<S: Store + 'static>(make: &dyn Fn() -> S) {
    let a = Account::new(make);
    let before = a.ok(EAST, "ListKeys", json!({}))["Keys"]
        .as_array()
        .unwrap()
        .len();
    let create = |attributes: Value, exportable: bool, regions: Value| {
        a.call(
            EAST,
            "CreateKey",
            json!({ "KeyAttributes": attributes, "Exportable": exportable, "ReplicationRegions": regions }),
        )
    };
    let cvk = json!({ "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "TDES_2KEY", "KeyModesOfUse": { "Generate": true, "Verify": true } });
    let rsa = json!({ "KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE", "KeyClass": "ASYMMETRIC_KEY_PAIR", "KeyAlgorithm": "RSA_2048", "KeyModesOfUse": { "Sign": true } });
    assert_refused(create(rsa, true, json!([WEST])), "only symmetric keys");
    assert_refused(
        create(cvk.clone(), false, json!([WEST])),
        "only exportable keys",
    );
    assert_refused(
        create(cvk.clone(), true, json!(["ap-south-9"])),
        "not a region of this store",
    );
    assert_refused(create(cvk.clone(), true, json!([EAST])), "own region");
    assert_refused(
        create(cvk.clone(), true, json!(["Mars"])),
        "not a region name",
    );
    assert_refused(
        create(cvk.clone(), true, json!([WEST, "ap-south-9"])),
        "ReplicationRegions[1]",
    );
    let after = a.ok(EAST, "ListKeys", json!({}))["Keys"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after, "a refused CreateKey created a key");
    assert_eq!(a.outbox_len(), 0);
    // The same checks on a key that exists.
    let local = a.create_cvk(false, json!({}));
    assert_refused(
        a.call(
            EAST,
            "AddKeyReplicationRegions",
            json!({ "KeyIdentifier": local, "ReplicationRegions": [WEST] }),
        ),
        "only exportable keys",
    );
    let exportable = a.create_cvk(true, json!({}));
    assert!(
        a.key(EAST, &exportable)
            .unwrap()
            .get("MultiRegionKeyType")
            .is_none()
    );
    assert_refused(
        a.call(
            EAST,
            "AddKeyReplicationRegions",
            json!({ "KeyIdentifier": exportable, "ReplicationRegions": [EAST] }),
        ),
        "own region",
    );
    assert_refused(
        a.call(
            EAST,
            "RemoveKeyReplicationRegions",
            json!({ "KeyIdentifier": exportable, "ReplicationRegions": [WEST] }),
        ),
        "not replicated",
    );
    // Added later, it replicates.
    let added = a.ok(
        EAST,
        "AddKeyReplicationRegions",
        json!({ "KeyIdentifier": exportable, "ReplicationRegions": [WEST] }),
    );
    assert_eq!(added["Key"]["MultiRegionKeyType"], "PRIMARY");
    assert_eq!(
        added["Key"]["ReplicationStatus"][WEST]["Status"],
        "IN_PROGRESS"
    );
    assert_eq!(a.drain().synchronized, 1);
    assert_eq!(a.status(&exportable, WEST), "SYNCHRONIZED");
}

/// A replica serves cryptography and refuses every change of key state, naming the primary
/// region; re-replicating from it is refused too. Tags and aliases are per region.
pub fn replicas_are_read_only<S: Store + 'static>(make: &dyn Fn() -> S) {
    let a = Account::new(make);
    let arn = a.create_cvk(
        true,
        json!({ "ReplicationRegions": [WEST], "Tags": [{ "Key": "team", "Value": "issuing" }] }),
    );
    a.ok(
        EAST,
        "CreateAlias",
        json!({ "AliasName": "alias/cvk", "KeyArn": arn }),
    );
    a.drain();
    let replica = in_region(&arn, WEST);
    for (op, extra) in [
        ("StopKeyUsage", json!({})),
        ("StartKeyUsage", json!({})),
        ("DeleteKey", json!({ "DeleteKeyInDays": 3 })),
        ("RestoreKey", json!({})),
        (
            "AddKeyReplicationRegions",
            json!({ "ReplicationRegions": [EU] }),
        ),
        (
            "RemoveKeyReplicationRegions",
            json!({ "ReplicationRegions": [EAST] }),
        ),
    ] {
        let mut input = json!({ "KeyIdentifier": replica });
        for (k, v) in extra.as_object().unwrap() {
            input[k] = v.clone();
        }
        match a.call(WEST, op, input) {
            Err(Error::Policy {
                rule: Rule::ReplicaReadOnly,
                message,
            }) => assert!(message.contains(EAST), "{op}: {message}"),
            other => panic!("{op} on a replica: {other:?}"),
        }
    }
    let key = a.key(WEST, &arn).unwrap();
    assert_eq!(key["Enabled"], true);
    assert_eq!(key["KeyState"], "CREATE_COMPLETE");
    // Cryptography works.
    assert_eq!(cvv(&a, WEST, &arn), cvv(&a, EAST, &arn));
    // Tags and aliases are the region's own: not replicated, and allowed on the replica.
    let tags = |region: &str| {
        a.ok(
            region,
            "ListTagsForResource",
            json!({ "ResourceArn": in_region(&arn, region) }),
        )["Tags"]
            .clone()
    };
    assert_eq!(tags(WEST), json!([]));
    a.ok(
        WEST,
        "TagResource",
        json!({ "ResourceArn": replica, "Tags": [{ "Key": "site", "Value": "west" }] }),
    );
    assert_eq!(tags(WEST), json!([{ "Key": "site", "Value": "west" }]));
    assert_eq!(tags(EAST), json!([{ "Key": "team", "Value": "issuing" }]));
    assert_eq!(
        a.call(WEST, "GetAlias", json!({ "AliasName": "alias/cvk" }))
            .unwrap_err()
            .name(),
        "ResourceNotFoundException"
    );
    a.ok(
        WEST,
        "CreateAlias",
        json!({ "AliasName": "alias/cvk", "KeyArn": replica }),
    );
    assert_eq!(cvv(&a, WEST, "alias/cvk"), cvv(&a, EAST, &arn));
    // The tag change made no replication work.
    assert_eq!(a.outbox_len(), 0);
}

/// Enabling and disabling the primary reaches its replicas.
pub fn changes_propagate<S: Store + 'static>(make: &dyn Fn() -> S) {
    let a = Account::new(make);
    let arn = a.create_cvk(true, json!({ "ReplicationRegions": [WEST, EU] }));
    a.drain();
    // Each region has used the key (and keeps it for the data plane) before it changes.
    let value = cvv(&a, EAST, &arn);
    for region in [WEST, EU] {
        assert_eq!(cvv(&a, region, &arn), value);
    }
    let stopped = a.ok(EAST, "StopKeyUsage", json!({ "KeyIdentifier": arn }));
    assert_eq!(
        stopped["Key"]["ReplicationStatus"][WEST]["Status"],
        "IN_PROGRESS"
    );
    // Until the outbox drains, the replicas still show the old state (eventual consistency).
    assert_eq!(a.key(WEST, &arn).unwrap()["Enabled"], true);
    assert_eq!(a.drain().synchronized, 2);
    for region in [WEST, EU] {
        assert_eq!(a.key(region, &arn).unwrap()["Enabled"], false);
        assert_eq!(a.status(&arn, region), "SYNCHRONIZED");
        assert!(a.call(region, "GenerateCardValidationData", json!({
            "KeyIdentifier": in_region(&arn, region), "PrimaryAccountNumber": PAN,
            "GenerationAttributes": { "CardVerificationValue2": { "CardExpiryDate": "1230" } },
        })).is_err());
    }
    a.ok(EAST, "StartKeyUsage", json!({ "KeyIdentifier": arn }));
    a.drain();
    for region in [WEST, EU] {
        assert_eq!(a.key(region, &arn).unwrap()["Enabled"], true);
        assert_eq!(cvv(&a, region, &arn), cvv(&a, EAST, &arn));
    }
}

/// Deleting the primary deletes its replicas at once; restoring it does not bring them back;
/// replication added again does.
pub fn deletion_cascades<S: Store + 'static>(make: &dyn Fn() -> S) {
    let a = Account::new(make);
    let arn = a.create_cvk(true, json!({ "ReplicationRegions": [WEST, EU] }));
    a.drain();
    for region in [WEST, EU] {
        cvv(&a, region, &arn);
    }
    let deleted = a.ok(
        EAST,
        "DeleteKey",
        json!({ "KeyIdentifier": arn, "DeleteKeyInDays": 7 }),
    );
    assert_eq!(
        deleted["Key"]["ReplicationStatus"][WEST]["Status"],
        "DELETE_IN_PROGRESS"
    );
    assert_eq!(a.drain().synchronized, 2);
    for region in [WEST, EU] {
        let used = a.call(
            region,
            "GenerateCardValidationData",
            json!({
                "KeyIdentifier": in_region(&arn, region), "PrimaryAccountNumber": PAN,
                "GenerationAttributes": { "CardVerificationValue2": { "CardExpiryDate": "1230" } },
            }),
        );
        assert!(
            matches!(
                used,
                Err(Error::Policy {
                    rule: Rule::KeyState,
                    ..
                })
            ),
            "{region}: {used:?}"
        );
        let replica = a.key(region, &arn).unwrap();
        assert_eq!(replica["KeyState"], "DELETE_COMPLETE", "{region}");
        assert_eq!(replica["Enabled"], false);
        let record = a
            .hsm(region)
            .store()
            .get_key(key_id(&arn))
            .unwrap()
            .unwrap();
        assert!(record.key_block.is_none(), "{region}: the material remains");
    }
    let primary = a.key(EAST, &arn).unwrap();
    assert_eq!(primary["KeyState"], "DELETE_PENDING");
    assert!(primary.get("ReplicationStatus").is_none());
    assert!(primary.get("MultiRegionKeyType").is_none());
    let restored = a.ok(EAST, "RestoreKey", json!({ "KeyIdentifier": arn }));
    assert!(restored["Key"].get("MultiRegionKeyType").is_none());
    assert_eq!(a.drain(), Drained::default());
    assert_eq!(a.key(WEST, &arn).unwrap()["KeyState"], "DELETE_COMPLETE");
    a.ok(EAST, "StartKeyUsage", json!({ "KeyIdentifier": arn }));
    a.ok(
        EAST,
        "AddKeyReplicationRegions",
        json!({ "KeyIdentifier": arn, "ReplicationRegions": [WEST] }),
    );
    assert_eq!(a.drain().synchronized, 1);
    let back = a.key(WEST, &arn).unwrap();
    assert_eq!(back["KeyState"], "CREATE_COMPLETE");
    assert_eq!(
        back["KeyCheckValue"],
        a.key(EAST, &arn).unwrap()["KeyCheckValue"]
    );
    assert_eq!(cvv(&a, WEST, &arn), cvv(&a, EAST, &arn));
    assert_eq!(a.key(EU, &arn).unwrap()["KeyState"], "DELETE_COMPLETE");
}

/// Removing a region deletes that replica and touches nothing else.
pub fn remove_region_touches_only_that_region<S: Store + 'static>(make: &dyn Fn() -> S) {
    let a = Account::new(make);
    let arn = a.create_cvk(true, json!({ "ReplicationRegions": [WEST, EU] }));
    a.drain();
    let out = a.ok(
        EAST,
        "RemoveKeyReplicationRegions",
        json!({ "KeyIdentifier": arn, "ReplicationRegions": [WEST] }),
    );
    assert_eq!(
        out["Key"]["ReplicationStatus"][WEST]["Status"],
        "DELETE_IN_PROGRESS"
    );
    assert_eq!(
        out["Key"]["ReplicationStatus"][EU]["Status"],
        "SYNCHRONIZED"
    );
    // Only the removed region has work.
    let outbox = a.hsm(EAST).store().outbox(None, 10).unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].item.region, WEST);
    a.drain();
    assert_eq!(a.key(WEST, &arn).unwrap()["KeyState"], "DELETE_COMPLETE");
    assert_eq!(a.status(&arn, WEST), "absent");
    assert_eq!(a.status(&arn, EU), "SYNCHRONIZED");
    assert_eq!(a.key(EAST, &arn).unwrap()["KeyState"], "CREATE_COMPLETE");
    assert_eq!(cvv(&a, EU, &arn), cvv(&a, EAST, &arn));
    assert_refused(
        a.call(
            EAST,
            "RemoveKeyReplicationRegions",
            json!({ "KeyIdentifier": arn, "ReplicationRegions": [WEST] }),
        ),
        "not a replication region",
    );
}

/// Account defaults apply to keys created afterwards that can replicate; key-level regions
/// take precedence.
pub fn default_regions<S: Store + 'static>(make: &dyn Fn() -> S) {
    let a = Account::new(make);
    let get = || {
        a.ok(EAST, "GetDefaultKeyReplicationRegions", json!({}))["EnabledReplicationRegions"]
            .clone()
    };
    assert_eq!(get(), json!([]));
    let before = a.create_cvk(true, json!({}));
    assert_eq!(
        a.ok(
            EAST,
            "EnableDefaultKeyReplicationRegions",
            json!({ "ReplicationRegions": [WEST] })
        ),
        json!({ "EnabledReplicationRegions": [WEST] })
    );
    assert_refused(
        a.call(
            EAST,
            "EnableDefaultKeyReplicationRegions",
            json!({ "ReplicationRegions": [EAST] }),
        ),
        "own region",
    );
    assert_refused(
        a.call(
            EAST,
            "EnableDefaultKeyReplicationRegions",
            json!({ "ReplicationRegions": ["ap-south-9"] }),
        ),
        "not a region of this store",
    );
    assert_eq!(get(), json!([WEST]));
    // The defaults are this region's: another region's are its own.
    assert_eq!(
        a.ok(WEST, "GetDefaultKeyReplicationRegions", json!({}))["EnabledReplicationRegions"],
        json!([])
    );
    let by_default = a.create_cvk(true, json!({}));
    let key = a.key(EAST, &by_default).unwrap();
    assert_eq!(key["UsingDefaultReplicationRegions"], true);
    assert_eq!(key["ReplicationStatus"][WEST]["Status"], "IN_PROGRESS");
    let explicit = a.create_cvk(true, json!({ "ReplicationRegions": [EU] }));
    let key = a.key(EAST, &explicit).unwrap();
    assert_eq!(key["UsingDefaultReplicationRegions"], false);
    assert!(key["ReplicationStatus"].get(WEST).is_none());
    let none = a.create_cvk(true, json!({ "ReplicationRegions": [] }));
    assert!(
        a.key(EAST, &none)
            .unwrap()
            .get("MultiRegionKeyType")
            .is_none()
    );
    // A key that cannot replicate is created as a single-region key, without complaint.
    let local = a.create_cvk(false, json!({}));
    assert!(
        a.key(EAST, &local)
            .unwrap()
            .get("MultiRegionKeyType")
            .is_none()
    );
    assert!(
        a.key(EAST, &before)
            .unwrap()
            .get("MultiRegionKeyType")
            .is_none()
    );
    assert_eq!(a.drain().synchronized, 2);
    assert_eq!(
        a.ok(
            EAST,
            "EnableDefaultKeyReplicationRegions",
            json!({ "ReplicationRegions": [EU, WEST] })
        ),
        json!({ "EnabledReplicationRegions": [EU, WEST] })
    );
    assert_eq!(
        a.ok(
            EAST,
            "DisableDefaultKeyReplicationRegions",
            json!({ "ReplicationRegions": [WEST, EU] })
        ),
        json!({ "EnabledReplicationRegions": [] })
    );
    let after = a.create_cvk(true, json!({}));
    assert!(
        a.key(EAST, &after)
            .unwrap()
            .get("MultiRegionKeyType")
            .is_none()
    );
    // Keys made under the defaults keep their replicas.
    assert_eq!(
        a.key(WEST, &by_default).unwrap()["KeyState"],
        "CREATE_COMPLETE"
    );
}

/// A retried item, a repeated synchronisation and a late, older one change nothing (T-RP-2:
/// each replica sees the primary's changes in order).
pub fn replication_is_idempotent<S: Store + 'static>(make: &dyn Fn() -> S) {
    let a = Account::new(make);
    let arn = a.create_cvk(true, json!({ "ReplicationRegions": [WEST] }));
    a.drain();
    let kcv = a.key(EAST, &arn).unwrap()["KeyCheckValue"].clone();
    // The same item again (a retry after a crash): done, and still one replica.
    let store = a.hsm(EAST).store();
    let mut record = store.get_key(key_id(&arn)).unwrap().unwrap();
    record.revision += 1;
    let item = OutboxItem {
        key_id: key_id(&arn).to_owned(),
        region: WEST.to_owned(),
    };
    assert!(store.update_key(&record, &[item.clone(), item]).unwrap());
    assert_eq!(a.drain().synchronized, 2);
    let replicas: Vec<Value> = a.ok(WEST, "ListKeys", json!({}))["Keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["MultiRegionKeyType"] == "REPLICA")
        .cloned()
        .collect();
    assert_eq!(replicas.len(), 1);
    assert_eq!(replicas[0]["KeyCheckValue"], kcv);
    assert_eq!(a.status(&arn, WEST), "SYNCHRONIZED");
    // Disable (generation 2), then a late synchronisation of generation 1 arrives.
    a.ok(EAST, "StopKeyUsage", json!({ "KeyIdentifier": arn }));
    a.drain();
    let late = json!({
        "KeyId": key_id(&arn), "PrimaryRegion": EAST, "Generation": 1,
        "KeyState": "CREATE_COMPLETE", "Enabled": true,
        "KeyCheckValue": kcv, "KeyCheckValueAlgorithm": "ANSI_X9_24",
        "KeyOrigin": "AWS_PAYMENT_CRYPTOGRAPHY",
    });
    a.ok(WEST, "ImportKeyReplica", late.clone());
    assert_eq!(a.key(WEST, &arn).unwrap()["Enabled"], false);
    // A replica of a key id that is not one is never made without its key block.
    let mut unknown = late;
    unknown["KeyId"] = json!("abcdefghijklmnop");
    unknown["Generation"] = json!(5);
    assert_refused(
        a.call(WEST, "ImportKeyReplica", unknown.clone()),
        "KeyMaterial",
    );
    // Nor is a key that is not a replica overwritten.
    let local = a.create_cvk(false, json!({}));
    let mut clash = unknown;
    clash["KeyId"] = json!(key_id(&local));
    assert_eq!(
        a.call(EAST, "ImportKeyReplica", {
            let mut c = clash.clone();
            c["PrimaryRegion"] = json!(WEST);
            c
        })
        .unwrap_err()
        .name(),
        "ConflictException"
    );
}

/// The audit: two `SynchronizeMultiRegionKey` events in the primary region per replica
/// (`ExportKeyReplica`, `ImportKeyReplica`), one in the replica region with its own
/// `CreateKey`, all service events; and no key material anywhere in them or on the link
/// (T-RP-3: the replica receives the key only in a TR-31 block).
pub fn replication_audit_and_payload<S: Store + 'static>(make: &dyn Fn() -> S) {
    let a = Account::new(make);
    let recorder = Arc::new(Link::new(Arc::clone(&a.hsms[WEST]) as Arc<dyn Service>));
    a.regions.add(recorder.clone());
    let arn = a.import_known_cvk(&[WEST]);
    assert_eq!(a.drain().synchronized, 1);
    let events = |region: &str| -> Vec<Value> {
        a.hsm(region)
            .audit()
            .lines()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let sync = |region: &str| -> Vec<Value> {
        events(region)
            .into_iter()
            .filter(|e| e["eventName"] == "SynchronizeMultiRegionKey")
            .collect()
    };
    let primary = sync(EAST);
    assert_eq!(primary.len(), 2, "{primary:?}");
    let operations: Vec<&Value> = primary
        .iter()
        .map(|e| &e["requestParameters"]["operation"])
        .collect();
    assert_eq!(
        operations,
        [&json!("ExportKeyReplica"), &json!("ImportKeyReplica")]
    );
    for e in primary.iter().chain(sync(WEST).iter()) {
        assert_eq!(e["eventType"], "AwsServiceEvent");
        assert!(e.get("errorCode").is_none(), "{e}");
    }
    assert_eq!(sync(WEST).len(), 1);
    let created: Vec<Value> = events(WEST)
        .into_iter()
        .filter(|e| e["eventName"] == "CreateKey")
        .collect();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["resources"][0]["ARN"], in_region(&arn, WEST));
    assert_eq!(created[0]["eventType"], "AwsServiceEvent");
    // No key material: not the key, not the block it travelled in.
    let traffic = recorder.traffic();
    let replica_block = traffic
        .iter()
        .find_map(|t| {
            t["request"]["KeyMaterial"]["Tr31KeyBlock"]["WrappedKeyBlock"]
                .as_str()
                .map(str::to_owned)
        })
        .expect("the replica's key travelled in a TR-31 block");
    assert!(
        replica_block.starts_with('D'),
        "a version D block: {replica_block}"
    );
    let log = |region: &str| {
        events(region)
            .iter()
            .map(Value::to_string)
            .collect::<String>()
    };
    let logs = log(EAST) + &log(WEST);
    let everything = logs.clone() + &traffic.iter().map(Value::to_string).collect::<String>();
    for secret in [KNOWN_CVK.to_owned(), KNOWN_CVK.to_ascii_lowercase()] {
        assert!(!everything.contains(&secret), "the clear key appears");
    }
    assert!(
        !logs.contains(&replica_block),
        "a key block reached an audit log"
    );
    // The link made its KEK once: a second key reuses it.
    let exchanges = |t: &[Value]| {
        t.iter()
            .filter(|t| t["operation"] == "GetParametersForImport")
            .count()
    };
    assert_eq!(exchanges(&traffic), 1);
    a.create_cvk(true, json!({ "ReplicationRegions": [WEST] }));
    a.drain();
    assert_eq!(exchanges(&recorder.traffic()), 1);
}

/// Keys stronger than 128 bits (AES-256, AES-192, HMAC_SHA256) replicate under the link's
/// AES-256 KEK, agreed once per region pair with ECDH on P-521 (`DiffieHellmanTr31KeyBlock`
/// both ways, each region's key pair certified by its CA, each CA trusted explicitly in the
/// other region): the replica has the primary's KCV and computes what the primary computes
/// (the FIPS-197 ciphertexts for the AES keys). The TR-34 KEK still carries the keys of up to
/// 128 bits; the link holds both, each made once. Neither audit log nor the link's traffic
/// carries a clear key, nor an audit log a key block.
pub fn strong_keys_replicate_under_an_ecdh_kek<S: Store + 'static>(make: &dyn Fn() -> S) {
    const AES256: &str = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F";
    const AES192: &str = "000102030405060708090A0B0C0D0E0F1011121314151617";
    const AES256_B: &str = "603DEB1015CA71BE2B73AEF0857D77811F352C073B6108D72D9810A30914DFF4";
    const HMAC: &str = "C3A1E5F70B1D2F4163857A9CBEDF0012345678A9BCDEF0123456789ABCDEF012";
    const PLAIN: &str = "00112233445566778899AABBCCDDEEFF";
    const MESSAGE: &str = "4869205468657265";
    let a = Account::new(make);
    let recorder = Arc::new(Link::new(Arc::clone(&a.hsms[WEST]) as Arc<dyn Service>));
    a.regions.add(recorder.clone());
    let known = |usage, algorithm, mode, hex| {
        let arn = import_known_into(a.hsm(EAST), usage, algorithm, mode, true, hex);
        a.ok(
            EAST,
            "AddKeyReplicationRegions",
            json!({ "KeyIdentifier": arn, "ReplicationRegions": [WEST] }),
        );
        arn
    };
    let aes256 = known(
        KeyUsage::D0,
        KeyAlgorithm::Aes256,
        ModeOfUse::ENCRYPT_DECRYPT,
        AES256,
    );
    let aes192 = known(
        KeyUsage::D0,
        KeyAlgorithm::Aes192,
        ModeOfUse::ENCRYPT_DECRYPT,
        AES192,
    );
    let hmac = known(
        KeyUsage::M7,
        KeyAlgorithm::HmacSha256,
        ModeOfUse::GENERATE_VERIFY,
        HMAC,
    );
    assert_eq!(a.drain().synchronized, 3);
    let encrypt = |region: &str, arn: &str| {
        a.ok(
            region,
            "EncryptData",
            json!({
                "KeyIdentifier": in_region(arn, region), "PlainText": PLAIN,
                "EncryptionAttributes": { "Symmetric": { "Mode": "ECB" } },
            }),
        )["CipherText"]
            .clone()
    };
    let mac = |region: &str| {
        a.ok(
            region,
            "GenerateMac",
            json!({
                "KeyIdentifier": in_region(&hmac, region), "MessageData": MESSAGE,
                "GenerationAttributes": { "Algorithm": "HMAC_SHA256" },
            }),
        )["Mac"]
            .clone()
    };
    for (arn, fips_197) in [
        (&aes256, "8EA2B7CA516745BFEAFC49904B496089"),
        (&aes192, "DDA97CA4864CDFE06EAF70A0EC0D7191"),
    ] {
        assert_eq!(encrypt(EAST, arn), fips_197);
        assert_eq!(encrypt(WEST, arn), fips_197);
    }
    let expected = hmac_sha256(&hex(HMAC), &hex(MESSAGE));
    assert_eq!(mac(EAST).as_str().unwrap().to_ascii_uppercase(), expected);
    assert_eq!(mac(WEST), mac(EAST));
    for arn in [&aes256, &aes192, &hmac] {
        assert_eq!(a.status(arn, WEST), "SYNCHRONIZED");
        let (primary, replica) = (a.key(EAST, arn).unwrap(), a.key(WEST, arn).unwrap());
        assert_eq!(replica["MultiRegionKeyType"], "REPLICA");
        for field in ["KeyAttributes", "KeyCheckValue", "KeyCheckValueAlgorithm"] {
            assert_eq!(replica[field], primary[field], "{arn} {field}");
        }
    }

    // Each replica travelled as a version D block under the ECDH KEK's copy: an AES-256 K1
    // key that only unwraps and cannot leave the region.
    let replica_imports = |traffic: &[Value]| -> Vec<(String, String)> {
        traffic
            .iter()
            .filter(|t| t["operation"] == "ImportKeyReplica")
            .filter_map(|t| {
                let b = &t["request"]["KeyMaterial"]["Tr31KeyBlock"];
                Some((
                    b["WrappingKeyIdentifier"].as_str()?.to_owned(),
                    b["WrappedKeyBlock"].as_str()?.to_owned(),
                ))
            })
            .collect()
    };
    let strong = replica_imports(&recorder.traffic());
    assert_eq!(strong.len(), 3);
    let ecdh_kek = strong[0].0.clone();
    for (kek, block) in &strong {
        assert_eq!(kek, &ecdh_kek);
        assert!(block.starts_with('D'), "a version D block: {block}");
    }
    let copy = a.ok(WEST, "GetKey", json!({ "KeyIdentifier": ecdh_kek }))["Key"].clone();
    assert_eq!(copy["KeyAttributes"]["KeyAlgorithm"], "AES_256");
    assert_eq!(
        copy["KeyAttributes"]["KeyUsage"],
        "TR31_K1_KEY_BLOCK_PROTECTION_KEY"
    );
    assert_eq!(copy["Exportable"], false);
    let modes = &copy["KeyAttributes"]["KeyModesOfUse"];
    for (mode, allowed) in [
        ("Decrypt", true),
        ("Unwrap", true),
        ("Encrypt", false),
        ("Wrap", false),
    ] {
        assert_eq!(modes[mode].as_bool().unwrap_or(false), allowed, "{mode}");
    }
    // The agreement: both regions' P-521 key pairs, certified, and the KEK in a TR-31 block
    // under the derived KBPK, imported with DiffieHellmanTr31KeyBlock; no TR-34 yet.
    let count = |traffic: &[Value], operation: &str| {
        traffic
            .iter()
            .filter(|t| t["operation"] == operation)
            .count()
    };
    let traffic = recorder.traffic();
    assert_eq!(count(&traffic, "GetPublicKeyCertificate"), 1);
    assert_eq!(count(&traffic, "GetParametersForImport"), 0);
    let pair = traffic
        .iter()
        .find(|t| t["operation"] == "CreateKey")
        .unwrap();
    assert_eq!(
        pair["request"]["KeyAttributes"]["KeyAlgorithm"],
        "ECC_NIST_P521"
    );
    let kek_import = traffic
        .iter()
        .find(|t| t["request"]["KeyMaterial"]["DiffieHellmanTr31KeyBlock"].is_object())
        .expect("the KEK travelled with DiffieHellmanTr31KeyBlock");
    assert_eq!(
        kek_import["response"]["Key"]["KeyArn"].as_str(),
        Some(ecdh_kek.as_str())
    );
    let dh = &kek_import["request"]["KeyMaterial"]["DiffieHellmanTr31KeyBlock"];
    assert_eq!(dh["DeriveKeyAlgorithm"], "AES_256");
    assert!(dh["WrappedKeyBlock"].as_str().unwrap().starts_with('D'));

    // A TDES key still travels under the TR-34 KEK; then both are in the link, made once.
    let cvk = a.create_cvk(true, json!({ "ReplicationRegions": [WEST] }));
    let another = known(
        KeyUsage::D0,
        KeyAlgorithm::Aes256,
        ModeOfUse::ENCRYPT_DECRYPT,
        AES256_B,
    );
    assert_eq!(a.drain().synchronized, 2);
    assert_eq!(cvv(&a, WEST, &cvk), cvv(&a, EAST, &cvk));
    assert_eq!(encrypt(WEST, &another), encrypt(EAST, &another));
    let traffic = recorder.traffic();
    assert_eq!(count(&traffic, "GetParametersForImport"), 1);
    assert_eq!(count(&traffic, "GetPublicKeyCertificate"), 1);
    let later = replica_imports(&traffic);
    assert_ne!(
        later[3].0, ecdh_kek,
        "the TDES key went under the TR-34 KEK"
    );
    assert_eq!(later[4].0, ecdh_kek);
    let link = a
        .hsm(EAST)
        .store()
        .get_setting(&format!("replication.link.{WEST}"))
        .unwrap()
        .unwrap();
    let link: Value = serde_json::from_str(&link.value).unwrap();
    assert_eq!(link["Ecdh"]["ReplicaKek"], json!(ecdh_kek));
    assert_eq!(link["ReplicaKek"], json!(later[3].0));

    // No key material in the audit logs or on the link; no key block in the audit logs.
    let log = |region: &str| a.hsm(region).audit().lines().concat();
    let logs = log(EAST) + &log(WEST);
    let everything = logs.clone() + &traffic.iter().map(Value::to_string).collect::<String>();
    for secret in [AES256, AES192, AES256_B, HMAC] {
        assert!(!everything.contains(secret), "a clear key appears");
        assert!(
            !everything.contains(&secret.to_ascii_lowercase()),
            "a clear key appears"
        );
    }
    for (_, block) in later {
        assert!(!logs.contains(&block), "a key block reached an audit log");
    }
    assert!(!logs.contains(dh["WrappedKeyBlock"].as_str().unwrap()));
}

fn hex(text: &str) -> Vec<u8> {
    payhsm_core::hex::decode("hex", text).unwrap()
}

/// HMAC-SHA256 by its definition (RFC 2104, a 64-byte block), independent of the HSM's; hex.
fn hmac_sha256(key: &[u8], message: &[u8]) -> String {
    use sha2::{Digest as _, Sha256};
    let mut block = [0u8; 64];
    block[..key.len()].copy_from_slice(key);
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::digest([pad(0x36), message.to_vec()].concat());
    let outer = Sha256::digest([pad(0x5c), inner.to_vec()].concat());
    payhsm_core::hex::encode(&outer).to_ascii_uppercase()
}

/// A replica region that is unavailable (its store removed, the link failing) gives `FAILED`
/// with a `StatusMessage` after bounded retries; the next drain after it comes back
/// synchronises it. Transient failures within the retries do not fail the item.
pub fn unavailable_region_fails_then_recovers<S: Store + 'static>(make: &dyn Fn() -> S) {
    let a = Account::new(make);
    let west = Arc::clone(&a.hsms[WEST]) as Arc<dyn Service>;
    let arn = a.create_cvk(true, json!({ "ReplicationRegions": [WEST, EU] }));
    let second = a.create_cvk(true, json!({ "ReplicationRegions": [WEST] }));
    // The store is gone.
    a.regions.remove(&Region::new(WEST).unwrap());
    let started = Instant::now();
    let drained = a.drain();
    assert_eq!((drained.synchronized, drained.failed), (1, 2));
    assert!(started.elapsed() < Duration::from_secs(60));
    let status = &a.key(EAST, &arn).unwrap()["ReplicationStatus"][WEST];
    assert_eq!(status["Status"], "FAILED");
    assert!(
        status["StatusMessage"].as_str().unwrap().contains(WEST),
        "{status}"
    );
    assert_eq!(a.status(&arn, EU), "SYNCHRONIZED");
    assert_eq!(a.status(&second, WEST), "FAILED");
    assert_eq!(a.outbox_len(), 2);
    // The link fails: every call refused.
    let link = Arc::new(Link::new(west));
    link.fail_next(usize::MAX);
    a.regions.add(link.clone());
    assert_eq!(a.drain().failed, 2);
    let message = a.key(EAST, &arn).unwrap()["ReplicationStatus"][WEST]["StatusMessage"].clone();
    assert!(
        message.as_str().unwrap().contains("unavailable"),
        "{message}"
    );
    // It comes back, after one more transient failure: the next drain synchronises both.
    link.fail_next(1);
    assert_eq!(
        a.drain(),
        Drained {
            synchronized: 2,
            failed: 0,
            remaining: 0
        }
    );
    for key in [&arn, &second] {
        assert_eq!(a.status(key, WEST), "SYNCHRONIZED");
        assert!(a.key(EAST, key).unwrap()["ReplicationStatus"][WEST]["StatusMessage"].is_null());
        assert_eq!(cvv(&a, WEST, key), cvv(&a, EAST, key));
    }
    // A drain out of time leaves its items IN_PROGRESS for the next.
    let third = a.create_cvk(true, json!({ "ReplicationRegions": [WEST] }));
    let late = replication::drain(a.hsm(EAST), &FAST, Instant::now()).unwrap();
    assert_eq!(late.remaining, 1);
    assert_eq!(a.status(&third, WEST), "IN_PROGRESS");
    assert_eq!(a.drain().synchronized, 1);
}

/// An HSM given no other regions knows only its own.
pub fn single_region_refuses_replication<S: Store + 'static>(make: &dyn Fn() -> S) {
    let h = super::hsm(make());
    assert_refused(
        h.call("CreateKey", json!({
            "KeyAttributes": { "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "TDES_2KEY", "KeyModesOfUse": { "Generate": true, "Verify": true } },
            "Exportable": true, "ReplicationRegions": [WEST],
        })),
        "not a region of this store",
    );
    assert_eq!(
        h.ok("GetDefaultKeyReplicationRegions", json!({})),
        json!({ "EnabledReplicationRegions": [] })
    );
}

/// A replica region's service seen through a link that records its traffic and can be made
/// to fail (fault injection).
pub struct Link {
    inner: Arc<dyn Service>,
    failures: AtomicUsize,
    traffic: Mutex<Vec<Value>>,
}

impl Link {
    /// A working link to `inner`.
    pub fn new(inner: Arc<dyn Service>) -> Self {
        Self {
            inner,
            failures: AtomicUsize::new(0),
            traffic: Mutex::new(Vec::new()),
        }
    }

    /// The next `n` calls fail.
    pub fn fail_next(&self, n: usize) {
        self.failures.store(n, Ordering::SeqCst);
    }

    /// Every call so far: operation, request, response.
    pub fn traffic(&self) -> Vec<Value> {
        self.traffic.lock().unwrap().clone()
    }
}

impl Service for Link {
    fn region(&self) -> &Region {
        self.inner.region()
    }

    fn call(&self, operation: &str, input: Value) -> Result<Value, Error> {
        let failing = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(Error::internal(format!(
                "{} is unavailable: the link failed",
                self.inner.region()
            )));
        }
        let out = self.inner.call(operation, input.clone());
        self.traffic.lock().unwrap().push(json!({
            "operation": operation,
            "request": input,
            "response": out.as_ref().ok(),
        }));
        out
    }
}
