//! The store conformance suite: the same cases on every [`Store`].
//!
//! Each case is a function generic over the store. [`conformance_tests!`] turns the list into
//! one `#[test]` per case for a store constructor, so a new store (the PKCS#11 one) runs the
//! whole suite with one line:
//!
//! ```ignore
//! conformance_tests!(pkcs11, || Pkcs11Store::open(...));
//! ```
//!
//! A store whose device may be missing (the PKCS#11 store without SoftHSM2) gives a maker
//! returning `Option` and an `$available` that passes it through; `None` skips the case.
//!
//! A store that keeps key values in a token cannot export them (`NotSupported`): the cases
//! that export check that refusal instead, and test import on blocks made here under keys of
//! known value ([`exports_key_blocks`]).

#![allow(dead_code, unreachable_pub)] // Each test binary uses part of the helpers.

pub mod asymmetric;
pub mod ecdh;
pub mod emv_sm;
pub mod matrix;
pub mod mpa;
pub mod pki;
pub mod replication;
pub mod resource_policy;
pub mod rsa_exchange;
pub mod translate;

pub use asymmetric::{
    asymmetric_keys, certificate_imports, tr34_export_by_key_id, tr34_import_by_key_id,
};
pub use ecdh::{ecdh_key_agreement, wrapped_working_keys};
pub use emv_sm::{emv_data_encryption, emv_pin_change, emv_script_mac};
pub use mpa::dual_control_of_root_imports;
pub use resource_policy::resource_policies;
pub use rsa_exchange::{asymmetric_data_encryption, certificate_signing_requests, key_cryptograms};
pub use translate::translate_key_material;

use payhsm_core::{
    key::{KeyAlgorithm, KeyAttributes, KeyClass, KeyModesOfUse, KeyUsage},
    rng::OsRandom,
    secret::SecretVec,
};
use payhsm_keystore::{
    CeremonyKey, Error, Hsm, HsmConfig, Rule, Store, VerificationFailedReason, api,
    arn::Region,
    clock::{ManualClock, Timestamp},
    model::{KeyState, attributes_json},
};
use serde_json::{Value, json};

/// Runs every case on a store made by `$make`.
#[macro_export]
macro_rules! conformance_tests {
    ($name:ident, $make:expr) => {
        $crate::conformance_tests!($name, $make, Some);
    };
    ($name:ident, $make:expr, $available:expr) => {
        mod $name {
            use super::conformance as c;
            $crate::conformance_tests!(@cases $make, $available;
                create_get_and_list,
                invalid_requests_change_nothing,
                deletion_bounds_and_restore,
                start_and_stop_usage,
                cached_keys_follow_their_records,
                aliases,
                tags,
                tr31_export_and_import,
                export_policy,
                import_policy,
                ceremony_import_and_key_hygiene,
                card_validation_data,
                pin_generation_translation_and_verification,
                macs,
                data_encryption,
                verification_failures_are_uniform,
                block_swap_is_detected,
                audit_holds_no_secrets,
                error_state_refuses_everything,
                key_type_confusion_matrix,
                emv_cryptograms,
                dukpt_operations,
                asymmetric_keys,
                certificate_imports,
                tr34_import_by_key_id,
                tr34_export_by_key_id,
                emv_script_mac,
                emv_data_encryption,
                emv_pin_change,
                rsa_self_test_failure_refuses_everything,
                translate_key_material,
                resource_policies,
                key_cryptograms,
                asymmetric_data_encryption,
                certificate_signing_requests,
                ecdh_key_agreement,
                wrapped_working_keys,
                dual_control_of_root_imports,
            );
        }
    };
    (@cases $make:expr, $available:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                if let Some(store) = ($available)($make()) {
                    c::$case(c::hsm(store));
                }
            }
        )*
    };
}

/// Runs every multi-region case ([`replication`]) on accounts whose regions' stores `$make`
/// makes.
#[macro_export]
macro_rules! replication_tests {
    ($name:ident, $make:expr) => {
        mod $name {
            use super::conformance::replication as r;
            $crate::replication_tests!(@cases $make;
                replication_create_and_synchronize,
                replica_cvv_equals_primary,
                replication_refusals,
                replicas_are_read_only,
                changes_propagate,
                deletion_cascades,
                remove_region_touches_only_that_region,
                default_regions,
                replication_is_idempotent,
                replication_audit_and_payload,
                strong_keys_replicate_under_an_ecdh_kek,
                unavailable_region_fails_then_recovers,
                single_region_refuses_replication,
            );
        }
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                r::$case(&$make);
            }
        )*
    };
}

/// An HSM over `store` with a manual clock, an in-memory audit log and every self-test.
pub fn hsm<S: Store>(store: S) -> Harness<S> {
    let clock = ManualClock::new(Timestamp(1_795_000_000_000));
    let mut config = HsmConfig::new(Region::new("us-east-1").unwrap());
    config.clock = std::sync::Arc::new(clock.clone());
    Harness {
        hsm: Hsm::new(store, config),
        clock,
    }
}

/// An HSM and the clock it reads.
pub struct Harness<S: Store> {
    pub hsm: Hsm<S>,
    pub clock: ManualClock,
}

impl<S: Store> Harness<S> {
    /// Calls an operation.
    pub fn call(&self, op: &str, input: Value) -> Result<Value, Error> {
        api::dispatch(&self.hsm, op, input)
    }

    /// Calls an operation that must succeed.
    pub fn ok(&self, op: &str, input: Value) -> Value {
        self.call(op, input.clone())
            .unwrap_or_else(|e| panic!("{op} {input}: {e}"))
    }

    /// Creates a key and returns its ARN.
    pub fn create(&self, usage: &str, algorithm: &str, modes: &[&str], exportable: bool) -> String {
        let modes: serde_json::Map<String, Value> = modes
            .iter()
            .map(|m| ((*m).to_owned(), json!(true)))
            .collect();
        let out = self.ok(
            "CreateKey",
            json!({
                "KeyAttributes": {
                    "KeyUsage": usage, "KeyClass": "SYMMETRIC_KEY",
                    "KeyAlgorithm": algorithm, "KeyModesOfUse": modes,
                },
                "Exportable": exportable,
            }),
        );
        arn_of(&out)
    }

    /// Creates a key with `attributes`.
    pub fn create_with(&self, attributes: &KeyAttributes, exportable: bool) -> String {
        arn_of(&self.ok(
            "CreateKey",
            json!({ "KeyAttributes": attributes_json(attributes), "Exportable": exportable }),
        ))
    }

    /// The key's state.
    pub fn state(&self, arn: &str) -> String {
        self.ok("GetKey", json!({ "KeyIdentifier": arn }))["Key"]["KeyState"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Every key ARN, through pagination.
    pub fn all_keys(&self, filter: Option<&str>) -> Vec<String> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut req = json!({ "MaxResults": 2 });
            if let Some(t) = &token {
                req["NextToken"] = json!(t);
            }
            if let Some(f) = filter {
                req["KeyState"] = json!(f);
            }
            let page = self.ok("ListKeys", req);
            for k in page["Keys"].as_array().unwrap() {
                out.push(k["KeyArn"].as_str().unwrap().to_owned());
            }
            match page.get("NextToken") {
                Some(t) => token = Some(t.as_str().unwrap().to_owned()),
                None => return out,
            }
        }
    }
}

/// The key ARN in a `{ "Key": … }` response.
pub fn arn_of(v: &Value) -> String {
    v["Key"]["KeyArn"].as_str().unwrap().to_owned()
}

/// The key id of an ARN.
pub fn key_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap()
}

/// Asserts a policy refusal by `rule`.
#[track_caller]
pub fn assert_policy(r: Result<Value, Error>, rule: Rule) {
    match r {
        Err(Error::Policy { rule: got, .. }) if got == rule => {}
        other => panic!("expected a {rule:?} refusal, got {other:?}"),
    }
}

/// Asserts a ValidationException about bad input.
#[track_caller]
pub fn assert_validation(r: Result<Value, Error>) {
    assert!(matches!(r, Err(Error::Validation { .. })), "{r:?}");
}

/// Asserts a `ValidationException` on the request member `path`; returns its message.
#[track_caller]
pub fn assert_field(r: Result<Value, Error>, path: &str) -> String {
    match r {
        Err(Error::Validation {
            field_list,
            message,
        }) => {
            assert_eq!(field_list[0].path, path, "{message}");
            field_list[0].message.clone()
        }
        other => panic!("expected a ValidationException on {path}, got {other:?}"),
    }
}

/// Whether the store holds RSA key pairs and certificates. Asks the store itself, so the
/// harness's key set is untouched; a store that keeps symmetric keys only (the PKCS#11 store)
/// must say so with `NotSupported` naming the algorithm.
pub fn holds_key_pairs<S: Store>(h: &Harness<S>) -> bool {
    let attributes = KeyAttributes {
        key_usage: KeyUsage::S0,
        key_class: KeyClass::AsymmetricKeyPair,
        key_algorithm: KeyAlgorithm::Rsa2048,
        key_modes_of_use: KeyModesOfUse {
            sign: true,
            ..KeyModesOfUse::default()
        },
    };
    match h.hsm.store().generate("probe", &attributes, false) {
        Ok(block) => {
            h.hsm.store().discard("probe", &block).unwrap();
            true
        }
        Err(Error::NotSupported { message }) => {
            assert!(message.contains("RSA_2048"), "{message}");
            false
        }
        Err(e) => panic!("generating a key pair failed: {e}"),
    }
}

/// On a store without key pairs: creating one and importing a certificate are refused with a
/// `ValidationException` that says why, and nothing is persisted.
pub fn assert_key_pairs_refused<S: Store>(h: &Harness<S>) {
    let before = h.hsm.store().list_keys(None, 1000).unwrap().len();
    let refused = h
        .call(
            "CreateKey",
            json!({ "KeyAttributes": { "KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
                "KeyClass": "ASYMMETRIC_KEY_PAIR", "KeyAlgorithm": "RSA_2048",
                "KeyModesOfUse": { "Sign": true } }, "Exportable": false }),
        )
        .unwrap_err();
    assert!(
        refused.to_string().starts_with("ValidationException")
            && refused.to_string().contains("RSA_2048"),
        "{refused}"
    );
    assert_eq!(h.hsm.store().list_keys(None, 1000).unwrap().len(), before);
}

/// Whether the store can export key blocks: a token store keeps key values in the token and
/// refuses with `NotSupported` (after policy). Creates one exportable key to find out.
pub fn exports_key_blocks<S: Store>(h: &Harness<S>) -> bool {
    let k = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
        true,
    );
    let record = h.hsm.store().get_key(key_id(&k)).unwrap().unwrap();
    match h.hsm.store().reveal(&record) {
        Ok(_) => true,
        Err(Error::NotSupported { .. }) => false,
        Err(e) => panic!("reveal failed: {e}"),
    }
}

/// Asserts that an export was refused by a store that keeps key values in a token.
#[track_caller]
pub fn assert_not_exported(r: Result<Value, Error>) {
    match r {
        Err(Error::NotSupported { message }) => {
            assert!(message.contains("never leaves"), "{message}");
        }
        other => panic!("expected NotSupported, got {other:?}"),
    }
}

/// Imports a key of known value through the ceremony path; returns its ARN.
pub fn import_known<S: Store>(
    h: &Harness<S>,
    usage: payhsm_core::key::KeyUsage,
    algorithm: payhsm_core::key::KeyAlgorithm,
    mode: payhsm_core::key::ModeOfUse,
    exportable: bool,
    hex: &str,
) -> String {
    import_known_into(&h.hsm, usage, algorithm, mode, exportable, hex)
}

/// [`import_known`] into `hsm`.
pub fn import_known_into<S: Store>(
    hsm: &Hsm<S>,
    usage: payhsm_core::key::KeyUsage,
    algorithm: payhsm_core::key::KeyAlgorithm,
    mode: payhsm_core::key::ModeOfUse,
    exportable: bool,
    hex: &str,
) -> String {
    let attributes = KeyAttributes {
        key_usage: usage,
        key_class: payhsm_core::key::KeyClass::SymmetricKey,
        key_algorithm: algorithm,
        key_modes_of_use: KeyModesOfUse::from_mode_of_use(mode).unwrap(),
    };
    let soft = payhsm_core::crypto::SoftwareKey::from_hex(algorithm, hex).unwrap();
    let kcv = payhsm_core::kcv::default_kcv(&soft).unwrap().to_string();
    arn_of(
        &hsm.import_clear_key(CeremonyKey {
            attributes,
            exportable,
            material: SecretVec::from_slice(&payhsm_core::hex::decode("k", hex).unwrap()),
            expected_check_value: kcv,
        })
        .and_then(payhsm_keystore::api::response)
        .unwrap(),
    )
}

/// A TR-31 block of `key_hex` (a C0 TDES-2 key, exportable, Generate and Verify) made in
/// software under the clear KBPK `kbpk_hex`, in `version`.
pub fn software_block(
    kbpk_algorithm: payhsm_core::key::KeyAlgorithm,
    kbpk_hex: &str,
    version: payhsm_tr31::Version,
    mode: payhsm_core::key::ModeOfUse,
    exportability: payhsm_core::key::Exportability,
    key_hex: &str,
) -> String {
    let kbpk = payhsm_core::crypto::SoftwareKey::from_hex(kbpk_algorithm, kbpk_hex).unwrap();
    let header = payhsm_tr31::Header::new(
        version,
        payhsm_core::key::KeyUsage::C0,
        payhsm_core::key::Algorithm::TDES,
        mode,
        "00",
        exportability,
    )
    .unwrap();
    payhsm_tr31::wrap(
        payhsm_tr31::Kbpk::Key(&kbpk),
        &header,
        &payhsm_core::hex::decode("k", key_hex).unwrap(),
        &payhsm_tr31::WrapOptions::default(),
        &mut OsRandom,
    )
    .unwrap()
}

/// Clear keys for the token variants: an AES-256 KBPK, a TDES-3 KEK and a TDES-2 CVK.
pub const KNOWN_KBPK: &str = "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6";
pub const KNOWN_KEK: &str = "3F419E1CB7079442AA37474C2EFBF8B8C3B0EA8FF1F2C1D1";
pub const KNOWN_CVK: &str = "0123456789ABCDEFFEDCBA9876543210";

const PAN: &str = "4111111111111111";

pub fn create_get_and_list<S: Store>(h: Harness<S>) {
    let cvk = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
        true,
    );
    assert!(cvk.starts_with("arn:aws:payment-cryptography:us-east-1:111122223333:key/"));
    let key = &h.ok("GetKey", json!({ "KeyIdentifier": cvk }))["Key"];
    assert_eq!(key["KeyState"], "CREATE_COMPLETE");
    assert_eq!(key["KeyOrigin"], "AWS_PAYMENT_CRYPTOGRAPHY");
    assert_eq!(key["Enabled"], true);
    assert_eq!(key["Exportable"], true);
    assert_eq!(key["KeyCheckValueAlgorithm"], "ANSI_X9_24");
    assert_eq!(key["KeyCheckValue"].as_str().unwrap().len(), 6);
    assert_eq!(key["KeyAttributes"]["KeyModesOfUse"]["Generate"], true);
    assert_eq!(key["KeyAttributes"]["KeyModesOfUse"]["Encrypt"], false);
    assert_eq!(key["CreateTimestamp"], json!(1_795_000_000.0));
    let aes = h.create(
        "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
        "AES_256",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
        false,
    );
    let aes_key = &h.ok("GetKey", json!({ "KeyIdentifier": aes }))["Key"];
    assert_eq!(aes_key["KeyCheckValueAlgorithm"], "CMAC");
    let hmac = h.create(
        "TR31_M7_HMAC_KEY",
        "HMAC_SHA256",
        &["Generate", "Verify"],
        false,
    );
    assert_eq!(
        h.ok("GetKey", json!({ "KeyIdentifier": hmac }))["Key"]["KeyCheckValueAlgorithm"],
        "HMAC"
    );
    let mut created = vec![cvk.clone(), aes, hmac];
    for _ in 0..3 {
        created.push(h.create(
            "TR31_M3_ISO_9797_3_MAC_KEY",
            "TDES_2KEY",
            &["Generate"],
            false,
        ));
    }
    let mut listed = h.all_keys(None);
    listed.sort();
    created.sort();
    assert_eq!(listed, created, "pagination lists every key exactly once");
    h.ok("DeleteKey", json!({ "KeyIdentifier": cvk }));
    assert_eq!(h.all_keys(Some("DELETE_PENDING")), vec![cvk.clone()]);
    assert_eq!(h.all_keys(Some("CREATE_COMPLETE")).len(), 5);
    assert_validation(h.call("ListKeys", json!({ "MaxResults": 0 })));
    assert_validation(h.call("ListKeys", json!({ "NextToken": "forged" })));
    let other_account = cvk.replace("111122223333", "999999999999");
    assert_eq!(
        h.call("GetKey", json!({ "KeyIdentifier": other_account }))
            .unwrap_err()
            .name(),
        "ResourceNotFoundException"
    );
    let missing = format!("{}zzzzzzzzzzzzzzzz", &cvk[..cvk.len() - 16]);
    assert_eq!(
        h.call("GetKey", json!({ "KeyIdentifier": missing })),
        Err(Error::ResourceNotFound {
            resource_id: missing.clone()
        })
    );
}

pub fn invalid_requests_change_nothing<S: Store>(h: Harness<S>) {
    let attrs = |usage: &str, alg: &str, class: &str, modes: Value| json!({ "KeyAttributes": { "KeyUsage": usage, "KeyClass": class, "KeyAlgorithm": alg, "KeyModesOfUse": modes }, "Exportable": false });
    let gv = json!({ "Generate": true, "Verify": true });
    for (req, rule) in [
        (
            attrs(
                "TR31_C0_CARD_VERIFICATION_KEY",
                "TDES_2KEY",
                "SYMMETRIC_KEY",
                json!({ "Encrypt": true }),
            ),
            Some(Rule::KeyAttributes),
        ),
        (
            attrs(
                "TR31_C0_CARD_VERIFICATION_KEY",
                "HMAC_SHA256",
                "SYMMETRIC_KEY",
                gv.clone(),
            ),
            Some(Rule::KeyAttributes),
        ),
        (
            attrs(
                "TR31_C0_CARD_VERIFICATION_KEY",
                "TDES_2KEY",
                "PUBLIC_KEY",
                gv.clone(),
            ),
            Some(Rule::KeyAttributes),
        ),
        (
            attrs(
                "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT",
                "RSA_2048",
                "ASYMMETRIC_KEY_PAIR",
                json!({ "DeriveKey": true }),
            ),
            Some(Rule::KeyAttributes),
        ),
        (
            attrs(
                "TR31_M3_ISO_9797_3_MAC_KEY",
                "AES_128",
                "SYMMETRIC_KEY",
                gv.clone(),
            ),
            Some(Rule::KeyAttributes),
        ),
        (
            attrs("TR31_ZZ_NOTHING", "TDES_2KEY", "SYMMETRIC_KEY", gv.clone()),
            None,
        ),
        (
            attrs(
                "TR31_C0_CARD_VERIFICATION_KEY",
                "DES",
                "SYMMETRIC_KEY",
                gv.clone(),
            ),
            None,
        ),
        (
            attrs(
                "TR31_C0_CARD_VERIFICATION_KEY",
                "TDES_2KEY",
                "SYMMETRIC_KEY",
                json!({ "Bogus": true }),
            ),
            None,
        ),
        (json!({ "KeyAttributes": {}, "Exportable": false }), None),
        (
            json!({ "KeyAttributes": { "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "TDES_2KEY", "KeyModesOfUse": gv }, "Exportable": false, "Unknown": 1 }),
            None,
        ),
        (
            json!({ "KeyAttributes": { "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "TDES_2KEY", "KeyModesOfUse": gv }, "Exportable": false, "ReplicationRegions": ["eu-west-1"] }),
            Some(Rule::Exportability),
        ),
        (
            json!({ "KeyAttributes": { "KeyUsage": "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "AES_128", "KeyModesOfUse": { "NoRestrictions": true } }, "Exportable": false, "KeyCheckValueAlgorithm": "ANSI_X9_24" }),
            None,
        ),
        (
            json!({ "KeyAttributes": { "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "TDES_2KEY", "KeyModesOfUse": gv }, "Exportable": false, "Tags": [{ "Key": "", "Value": "x" }] }),
            None,
        ),
    ] {
        let r = h.call("CreateKey", req.clone());
        match rule {
            Some(rule) => assert_policy(r, rule),
            None => assert_validation(r),
        }
    }
    assert!(
        h.all_keys(None).is_empty(),
        "a refused CreateKey stored nothing"
    );
    assert!(h.hsm.store().list_keys(None, 10).unwrap().is_empty());
    // Unions must have exactly one member.
    let cvk = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
        false,
    );
    for attrs in [
        json!({}),
        json!({ "CardVerificationValue2": { "CardExpiryDate": "1230" }, "CardVerificationValue1": { "CardExpiryDate": "1230", "ServiceCode": "101" } }),
    ] {
        assert_validation(h.call("GenerateCardValidationData", json!({ "KeyIdentifier": cvk, "PrimaryAccountNumber": PAN, "GenerationAttributes": attrs })));
    }
    assert_validation(h.call("Bogus", json!({})));
    assert_validation(h.call("GetKey", json!({ "KeyIdentifier": "not-an-arn" })));
}

pub fn deletion_bounds_and_restore<S: Store>(h: Harness<S>) {
    let cvk = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
        false,
    );
    let cvv = |h: &Harness<S>| {
        h.call(
            "GenerateCardValidationData",
            json!({
        "KeyIdentifier": cvk, "PrimaryAccountNumber": PAN,
        "GenerationAttributes": { "CardVerificationValue2": { "CardExpiryDate": "1230" } } }),
        )
    };
    for days in [2, 181, 0, -1] {
        assert_validation(h.call(
            "DeleteKey",
            json!({ "KeyIdentifier": cvk, "DeleteKeyInDays": days }),
        ));
    }
    assert_eq!(h.state(&cvk), "CREATE_COMPLETE");
    cvv(&h).unwrap();
    let deleted = h.ok(
        "DeleteKey",
        json!({ "KeyIdentifier": cvk, "DeleteKeyInDays": 3 }),
    );
    assert_eq!(deleted["Key"]["KeyState"], "DELETE_PENDING");
    assert_eq!(deleted["Key"]["Enabled"], false);
    assert_eq!(
        deleted["Key"]["DeletePendingTimestamp"],
        json!(1_795_000_000.0 + 3.0 * 86_400.0)
    );
    assert_policy(cvv(&h), Rule::KeyState);
    // Idempotent while pending.
    assert_eq!(
        h.ok("DeleteKey", json!({ "KeyIdentifier": cvk }))["Key"]["KeyState"],
        "DELETE_PENDING"
    );
    assert_eq!(
        h.call("StartKeyUsage", json!({ "KeyIdentifier": cvk }))
            .unwrap_err()
            .name(),
        "ConflictException"
    );
    h.clock.advance_days(2);
    let restored = h.ok("RestoreKey", json!({ "KeyIdentifier": cvk }));
    assert_eq!(restored["Key"]["KeyState"], "CREATE_COMPLETE");
    assert!(restored["Key"].get("DeletePendingTimestamp").is_none());
    assert_policy(cvv(&h), Rule::KeyDisabled);
    h.ok("StartKeyUsage", json!({ "KeyIdentifier": cvk }));
    cvv(&h).unwrap();
    assert_eq!(
        h.call("RestoreKey", json!({ "KeyIdentifier": cvk }))
            .unwrap_err()
            .name(),
        "ConflictException"
    );
    // Default wait: 7 days.
    h.ok("DeleteKey", json!({ "KeyIdentifier": cvk }));
    h.clock.advance_days(6);
    assert_eq!(h.state(&cvk), "DELETE_PENDING");
    h.clock.advance_days(1);
    let gone = h.ok("GetKey", json!({ "KeyIdentifier": cvk }));
    assert_eq!(gone["Key"]["KeyState"], "DELETE_COMPLETE");
    assert!(gone["Key"].get("DeleteTimestamp").is_some());
    let stored = h.hsm.store().get_key(key_id(&cvk)).unwrap().unwrap();
    assert_eq!(stored.key_block, None, "the key material is destroyed");
    assert_eq!(stored.state, KeyState::DeleteComplete);
    // Moving the clock back does not bring the key back.
    h.clock.advance_days(-30);
    assert_eq!(h.state(&cvk), "DELETE_COMPLETE");
    assert_policy(cvv(&h), Rule::KeyState);
    assert_eq!(
        h.call("RestoreKey", json!({ "KeyIdentifier": cvk }))
            .unwrap_err()
            .name(),
        "ConflictException"
    );
    assert_eq!(
        h.call("DeleteKey", json!({ "KeyIdentifier": cvk }))
            .unwrap_err()
            .name(),
        "ConflictException"
    );
    // Both the scheduling and the completion are audited.
    let lines = h.hsm.audit().lines();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"eventType\":\"AwsServiceEvent\"") && l.contains("DeleteKey"))
    );
}

pub fn start_and_stop_usage<S: Store>(h: Harness<S>) {
    let mac = h.create(
        "TR31_M6_ISO_9797_5_CMAC_KEY",
        "AES_128",
        &["Generate", "Verify"],
        false,
    );
    let generate = |h: &Harness<S>| {
        h.call("GenerateMac", json!({ "KeyIdentifier": mac, "MessageData": "00112233", "GenerationAttributes": { "Algorithm": "CMAC" } }))
    };
    generate(&h).unwrap();
    h.clock.advance_ms(5_000);
    let stopped = h.ok("StopKeyUsage", json!({ "KeyIdentifier": mac }));
    assert_eq!(stopped["Key"]["Enabled"], false);
    assert_eq!(stopped["Key"]["UsageStopTimestamp"], json!(1_795_000_005.0));
    assert_policy(generate(&h), Rule::KeyDisabled);
    h.clock.advance_ms(5_000);
    let started = h.ok("StartKeyUsage", json!({ "KeyIdentifier": mac }));
    assert_eq!(started["Key"]["Enabled"], true);
    assert_eq!(
        started["Key"]["UsageStartTimestamp"],
        json!(1_795_000_010.0)
    );
    generate(&h).unwrap();
    // A key created disabled is unusable until started.
    let off = arn_of(&h.ok("CreateKey", json!({
        "KeyAttributes": { "KeyUsage": "TR31_M6_ISO_9797_5_CMAC_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "AES_128", "KeyModesOfUse": { "Generate": true } },
        "Exportable": false, "Enabled": false })));
    assert_policy(h.call("GenerateMac", json!({ "KeyIdentifier": off, "MessageData": "00", "GenerationAttributes": { "Algorithm": "CMAC" } })), Rule::KeyDisabled);
}

/// The HSM keeps the keys the data plane used (the record and the opened handle); every
/// change to a key's record, through the HSM or behind it (a write to the store, as another
/// process on the same file makes), is seen by the very next use: a stopped, deleted or
/// re-pointed key is refused or changed at once.
pub fn cached_keys_follow_their_records<S: Store>(h: Harness<S>) {
    let [cvk, other] = [(); 2].map(|()| {
        h.create(
            "TR31_C0_CARD_VERIFICATION_KEY",
            "TDES_2KEY",
            &["Generate", "Verify"],
            false,
        )
    });
    let cvv = |id: &str| {
        h.call("GenerateCardValidationData", json!({ "KeyIdentifier": id, "PrimaryAccountNumber": "4111111111111111", "GenerationAttributes": { "CardVerificationValue2": { "CardExpiryDate": "1230" } } }))
    };
    let value = |r: Result<Value, Error>| r.unwrap()["ValidationData"].clone();
    let first = value(cvv(&cvk));
    assert_eq!(value(cvv(&cvk)), first);
    // Through the HSM: stop, start, schedule deletion, restore.
    h.ok("StopKeyUsage", json!({ "KeyIdentifier": cvk }));
    assert_policy(cvv(&cvk), Rule::KeyDisabled);
    h.ok("StartKeyUsage", json!({ "KeyIdentifier": cvk }));
    assert_eq!(value(cvv(&cvk)), first);
    h.ok(
        "DeleteKey",
        json!({ "KeyIdentifier": cvk, "DeleteKeyInDays": 3 }),
    );
    assert_policy(cvv(&cvk), Rule::KeyState);
    h.ok("RestoreKey", json!({ "KeyIdentifier": cvk }));
    h.ok("StartKeyUsage", json!({ "KeyIdentifier": cvk }));
    assert_eq!(value(cvv(&cvk)), first);
    // An alias re-pointed is followed at once.
    h.ok(
        "CreateAlias",
        json!({ "AliasName": "alias/cached", "KeyArn": cvk }),
    );
    let by_alias = cvv("alias/cached").unwrap();
    assert_eq!(by_alias["KeyArn"], json!(cvk));
    h.ok(
        "UpdateAlias",
        json!({ "AliasName": "alias/cached", "KeyArn": other }),
    );
    assert_eq!(cvv("alias/cached").unwrap()["KeyArn"], json!(other));
    h.ok("DeleteAlias", json!({ "AliasName": "alias/cached" }));
    assert_eq!(
        cvv("alias/cached").unwrap_err().name(),
        "ResourceNotFoundException"
    );
    // Behind the HSM: the record changed in the store directly.
    let store = h.hsm.store();
    let mut record = store.get_key(key_id(&cvk)).unwrap().unwrap();
    record.enabled = false;
    record.revision += 1;
    assert!(store.update_key(&record, &[]).unwrap());
    assert_policy(cvv(&cvk), Rule::KeyDisabled);
    record.enabled = true;
    record.revision += 1;
    assert!(store.update_key(&record, &[]).unwrap());
    assert_eq!(value(cvv(&cvk)), first);
    // Another key's material under this key's record: the integrity check runs again.
    let mut swapped = store.get_key(key_id(&cvk)).unwrap().unwrap();
    swapped.key_block = store.get_key(key_id(&other)).unwrap().unwrap().key_block;
    swapped.revision += 1;
    assert!(store.update_key(&swapped, &[]).unwrap());
    let e = cvv(&cvk).unwrap_err();
    assert!(e.message().contains("integrity"), "{e}");
    // A deletion that comes due is carried out at the next use.
    h.ok(
        "DeleteKey",
        json!({ "KeyIdentifier": other, "DeleteKeyInDays": 3 }),
    );
    h.clock.advance_ms(4 * 86_400_000);
    assert_policy(cvv(&other), Rule::KeyState);
    assert_eq!(h.state(&other), "DELETE_COMPLETE");
}

pub fn aliases<S: Store>(h: Harness<S>) {
    let a = h.create(
        "TR31_M3_ISO_9797_3_MAC_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
        false,
    );
    let b = h.create(
        "TR31_M3_ISO_9797_3_MAC_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
        false,
    );
    let created = h.ok(
        "CreateAlias",
        json!({ "AliasName": "alias/mac", "KeyArn": a }),
    );
    assert_eq!(
        created["Alias"],
        json!({ "AliasName": "alias/mac", "KeyArn": a })
    );
    assert_eq!(
        h.call(
            "CreateAlias",
            json!({ "AliasName": "alias/mac", "KeyArn": b })
        )
        .unwrap_err()
        .name(),
        "ConflictException"
    );
    assert_validation(h.call("CreateAlias", json!({ "AliasName": "mac", "KeyArn": a })));
    let missing = format!("{}zzzzzzzzzzzzzzzz", &a[..a.len() - 16]);
    assert_eq!(
        h.call(
            "CreateAlias",
            json!({ "AliasName": "alias/none", "KeyArn": missing })
        )
        .unwrap_err()
        .name(),
        "ResourceNotFoundException"
    );
    let mac_of = |h: &Harness<S>, id: &str| {
        h.ok("GenerateMac", json!({ "KeyIdentifier": id, "MessageData": "0011223344556677", "GenerationAttributes": { "Algorithm": "ISO9797_ALGORITHM3" } }))["Mac"].clone()
    };
    let alias_arn = "arn:aws:payment-cryptography:us-east-1:111122223333:alias/mac";
    assert_eq!(mac_of(&h, "alias/mac"), mac_of(&h, &a));
    assert_eq!(mac_of(&h, alias_arn), mac_of(&h, &a));
    assert_eq!(
        arn_of(&h.ok("GetKey", json!({ "KeyIdentifier": "alias/mac" }))),
        a
    );
    h.ok(
        "UpdateAlias",
        json!({ "AliasName": "alias/mac", "KeyArn": b }),
    );
    assert_eq!(mac_of(&h, "alias/mac"), mac_of(&h, &b));
    assert_ne!(mac_of(&h, &a), mac_of(&h, &b));
    h.ok(
        "CreateAlias",
        json!({ "AliasName": "alias/other/x_y-z", "KeyArn": a }),
    );
    h.ok("CreateAlias", json!({ "AliasName": "alias/empty" }));
    assert_eq!(
        h.ok("GetAlias", json!({ "AliasName": "alias/empty" }))["Alias"],
        json!({ "AliasName": "alias/empty" })
    );
    assert_eq!(
        h.call("GetKey", json!({ "KeyIdentifier": "alias/empty" }))
            .unwrap_err()
            .name(),
        "ResourceNotFoundException"
    );
    let all = h.ok("ListAliases", json!({}));
    assert_eq!(all["Aliases"].as_array().unwrap().len(), 3);
    let of_a = h.ok("ListAliases", json!({ "KeyArn": a }));
    assert_eq!(
        of_a["Aliases"],
        json!([{ "AliasName": "alias/other/x_y-z", "KeyArn": a }])
    );
    let page = h.ok("ListAliases", json!({ "MaxResults": 2 }));
    assert_eq!(page["Aliases"].as_array().unwrap().len(), 2);
    let rest = h.ok(
        "ListAliases",
        json!({ "MaxResults": 2, "NextToken": page["NextToken"] }),
    );
    assert_eq!(rest["Aliases"].as_array().unwrap().len(), 1);
    assert!(rest.get("NextToken").is_none());
    h.ok("DeleteAlias", json!({ "AliasName": "alias/mac" }));
    assert_eq!(
        h.call("GetAlias", json!({ "AliasName": "alias/mac" }))
            .unwrap_err()
            .name(),
        "ResourceNotFoundException"
    );
    assert_eq!(
        h.call("DeleteAlias", json!({ "AliasName": "alias/mac" }))
            .unwrap_err()
            .name(),
        "ResourceNotFoundException"
    );
    assert_eq!(
        h.call(
            "UpdateAlias",
            json!({ "AliasName": "alias/mac", "KeyArn": a })
        )
        .unwrap_err()
        .name(),
        "ResourceNotFoundException"
    );
}

pub fn tags<S: Store>(h: Harness<S>) {
    let k = arn_of(&h.ok("CreateKey", json!({
        "KeyAttributes": { "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "TDES_2KEY", "KeyModesOfUse": { "Generate": true } },
        "Exportable": false, "Tags": [{ "Key": "team", "Value": "issuing" }] })));
    h.ok("TagResource", json!({ "ResourceArn": k, "Tags": [{ "Key": "env", "Value": "test" }, { "Key": "team", "Value": "cards" }] }));
    let tags = h.ok("ListTagsForResource", json!({ "ResourceArn": k }));
    assert_eq!(
        tags["Tags"],
        json!([{ "Key": "env", "Value": "test" }, { "Key": "team", "Value": "cards" }])
    );
    let first = h.ok(
        "ListTagsForResource",
        json!({ "ResourceArn": k, "MaxResults": 1 }),
    );
    assert_eq!(first["Tags"], json!([{ "Key": "env", "Value": "test" }]));
    let second = h.ok(
        "ListTagsForResource",
        json!({ "ResourceArn": k, "MaxResults": 1, "NextToken": first["NextToken"] }),
    );
    assert_eq!(second["Tags"], json!([{ "Key": "team", "Value": "cards" }]));
    assert!(second.get("NextToken").is_none());
    h.ok(
        "UntagResource",
        json!({ "ResourceArn": k, "TagKeys": ["env"] }),
    );
    assert_eq!(
        h.ok("ListTagsForResource", json!({ "ResourceArn": k }))["Tags"],
        json!([{ "Key": "team", "Value": "cards" }])
    );
    h.ok(
        "CreateAlias",
        json!({ "AliasName": "alias/t", "KeyArn": k }),
    );
    assert_validation(h.call(
        "TagResource",
        json!({ "ResourceArn": "alias/t", "Tags": [] }),
    ));
    assert_validation(h.call(
        "TagResource",
        json!({ "ResourceArn": k, "Tags": [{ "Key": "x".repeat(129), "Value": "" }] }),
    ));
}

/// A KBPK and an exportable CVK; the CVK exported and imported back.
pub fn tr31_export_and_import<S: Store>(h: Harness<S>) {
    if !exports_key_blocks(&h) {
        return tr31_import_into_token(h);
    }
    let kbpk = h.create(
        "TR31_K1_KEY_BLOCK_PROTECTION_KEY",
        "AES_256",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
        false,
    );
    let tdes_kek = h.create(
        "TR31_K0_KEY_ENCRYPTION_KEY",
        "TDES_3KEY",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
        false,
    );
    let cvk = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
        true,
    );
    let kcv = h.ok("GetKey", json!({ "KeyIdentifier": cvk }))["Key"]["KeyCheckValue"].clone();
    for (wrapping, version) in [(&kbpk, "D"), (&tdes_kek, "B")] {
        let out = h.ok("ExportKey", json!({ "ExportKeyIdentifier": cvk, "KeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": wrapping } } }));
        let wrapped = &out["WrappedKey"];
        assert_eq!(wrapped["WrappedKeyMaterialFormat"], "TR31_KEY_BLOCK");
        assert_eq!(wrapped["KeyCheckValue"], kcv);
        let block = wrapped["KeyMaterial"].as_str().unwrap();
        assert!(block.starts_with(version), "{block}");
        assert_eq!(&block[5..12], "C0TC00E");
        let imported = h.ok("ImportKey", json!({ "KeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": wrapping, "WrappedKeyBlock": block } } }));
        assert_eq!(imported["Key"]["KeyCheckValue"], kcv);
        assert_eq!(imported["Key"]["KeyOrigin"], "EXTERNAL");
        assert_eq!(imported["Key"]["Exportable"], true);
        assert_eq!(
            imported["Key"]["KeyAttributes"]["KeyUsage"],
            "TR31_C0_CARD_VERIFICATION_KEY"
        );
        // The imported key computes the same values.
        let cvv = |id: &str| {
            h.ok("GenerateCardValidationData", json!({ "KeyIdentifier": id, "PrimaryAccountNumber": PAN, "GenerationAttributes": { "CardVerificationValue2": { "CardExpiryDate": "1230" } } }))["ValidationData"].clone()
        };
        assert_eq!(cvv(&arn_of(&imported)), cvv(&cvk));
    }
    // Narrowing on export: Generate only, non-exportable.
    let narrow = h.ok("ExportKey", json!({ "ExportKeyIdentifier": cvk, "KeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": kbpk, "KeyBlockHeaders": { "KeyModesOfUse": { "Generate": true }, "KeyExportability": "NON_EXPORTABLE", "KeyVersion": "01" } } } }));
    let block = narrow["WrappedKey"]["KeyMaterial"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(&block[5..12], "C0TG01N");
    let imported = h.ok("ImportKey", json!({ "KeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": kbpk, "WrappedKeyBlock": block } } }));
    assert_eq!(imported["Key"]["Exportable"], false);
    assert_eq!(
        imported["Key"]["KeyAttributes"]["KeyModesOfUse"]["Verify"],
        false
    );
}

/// [`tr31_export_and_import`] on a store that keeps key values in a token: ExportKey is
/// refused once policy passes, and blocks made in software under keys of known value import
/// with the right KCV and attributes and compute the clear key's CVV.
fn tr31_import_into_token<S: Store>(h: Harness<S>) {
    use payhsm_core::key::{Exportability as E, KeyAlgorithm as A, KeyUsage as U, ModeOfUse as M};
    let b = M::ENCRYPT_DECRYPT;
    let kbpk = import_known(&h, U::K1, A::Aes256, b, false, KNOWN_KBPK);
    let kek = import_known(&h, U::K0, A::Tdes3Key, b, false, KNOWN_KEK);
    let cvk = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
        true,
    );
    for wrapping in [&kbpk, &kek] {
        assert_not_exported(h.call("ExportKey", json!({ "ExportKeyIdentifier": cvk, "KeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": wrapping } } })));
    }
    // The clear CVK's KCV and CVV, from a software store.
    let soft = hsm(memory_store());
    let reference = import_known(
        &soft,
        U::C0,
        A::Tdes2Key,
        M::GENERATE_VERIFY,
        true,
        KNOWN_CVK,
    );
    let kcv =
        soft.ok("GetKey", json!({ "KeyIdentifier": reference }))["Key"]["KeyCheckValue"].clone();
    let cvv = |h: &dyn Fn(&str, Value) -> Value, id: &str| {
        h("GenerateCardValidationData", json!({ "KeyIdentifier": id, "PrimaryAccountNumber": PAN, "GenerationAttributes": { "CardVerificationValue2": { "CardExpiryDate": "1230" } } }))["ValidationData"].clone()
    };
    let expected_cvv = cvv(&|op, v| soft.ok(op, v), &reference);
    for (wrapping, alg, clear, version) in [
        (&kbpk, A::Aes256, KNOWN_KBPK, payhsm_tr31::Version::D),
        (&kek, A::Tdes3Key, KNOWN_KEK, payhsm_tr31::Version::B),
    ] {
        let block = software_block(
            alg,
            clear,
            version,
            M::GENERATE_VERIFY,
            E::EXPORTABLE,
            KNOWN_CVK,
        );
        let imported = h.ok("ImportKey", json!({ "KeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": wrapping, "WrappedKeyBlock": block } } }));
        assert_eq!(imported["Key"]["KeyCheckValue"], kcv);
        assert_eq!(imported["Key"]["KeyOrigin"], "EXTERNAL");
        assert_eq!(imported["Key"]["Exportable"], true);
        assert_eq!(
            imported["Key"]["KeyAttributes"]["KeyUsage"],
            "TR31_C0_CARD_VERIFICATION_KEY"
        );
        assert_eq!(cvv(&|op, v| h.ok(op, v), &arn_of(&imported)), expected_cvv);
    }
    let narrow = software_block(
        A::Aes256,
        KNOWN_KBPK,
        payhsm_tr31::Version::D,
        M::GENERATE,
        E::NON_EXPORTABLE,
        KNOWN_CVK,
    );
    let imported = h.ok("ImportKey", json!({ "KeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": kbpk, "WrappedKeyBlock": narrow } } }));
    assert_eq!(imported["Key"]["Exportable"], false);
    assert_eq!(
        imported["Key"]["KeyAttributes"]["KeyModesOfUse"]["Verify"],
        false
    );
}

pub fn export_policy<S: Store>(h: Harness<S>) {
    let exports = exports_key_blocks(&h);
    let kbpk = h.create(
        "TR31_K1_KEY_BLOCK_PROTECTION_KEY",
        "AES_128",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
        false,
    );
    let unwrap_only = h.create(
        "TR31_K1_KEY_BLOCK_PROTECTION_KEY",
        "AES_256",
        &["Decrypt", "Unwrap"],
        false,
    );
    let data_key = h.create(
        "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
        "AES_256",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
        true,
    );
    let cvk = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate"],
        true,
    );
    let secret = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate"],
        false,
    );
    let big = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "AES_256",
        &["Generate"],
        true,
    );
    let export = |key: &str, wrapping: &str, headers: Value| {
        h.call("ExportKey", json!({ "ExportKeyIdentifier": key, "KeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": wrapping, "KeyBlockHeaders": headers } } }))
    };
    assert_policy(export(&secret, &kbpk, json!({})), Rule::Exportability);
    assert_policy(export(&big, &kbpk, json!({})), Rule::WrappingStrength);
    assert_policy(export(&cvk, &data_key, json!({})), Rule::KeyUsage);
    assert_policy(export(&cvk, &unwrap_only, json!({})), Rule::ModeOfUse);
    assert_policy(
        export(
            &cvk,
            &kbpk,
            json!({ "KeyModesOfUse": { "Generate": true, "Verify": true } }),
        ),
        Rule::ExportWidening,
    );
    assert_policy(
        export(&cvk, &kbpk, json!({ "KeyExportability": "SENSITIVE" })),
        Rule::ExportWidening,
    );
    if exports {
        export(&cvk, &kbpk, json!({})).unwrap();
    } else {
        assert_not_exported(export(&cvk, &kbpk, json!({})));
    }
    h.ok("StopKeyUsage", json!({ "KeyIdentifier": kbpk }));
    assert_policy(export(&cvk, &kbpk, json!({})), Rule::KeyDisabled);
    assert_validation(h.call(
        "ExportKey",
        json!({ "ExportKeyIdentifier": cvk, "KeyMaterial": { "KeyCryptogram": {} } }),
    ));
}

pub fn import_policy<S: Store>(h: Harness<S>) {
    let exports = exports_key_blocks(&h);
    let kbpk = if exports {
        h.create(
            "TR31_K1_KEY_BLOCK_PROTECTION_KEY",
            "AES_256",
            &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
            false,
        )
    } else {
        use payhsm_core::key::{KeyAlgorithm as A, KeyUsage as U, ModeOfUse as M};
        import_known(&h, U::K1, A::Aes256, M::ENCRYPT_DECRYPT, false, KNOWN_KBPK)
    };
    let wrap_only = h.create(
        "TR31_K1_KEY_BLOCK_PROTECTION_KEY",
        "AES_256",
        &["Encrypt", "Wrap"],
        false,
    );
    let pek = h.create(
        "TR31_P0_PIN_ENCRYPTION_KEY",
        "AES_256",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
        false,
    );
    let tdes_kbpk = h.create(
        "TR31_K1_KEY_BLOCK_PROTECTION_KEY",
        "TDES_2KEY",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
        false,
    );
    let cvk = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate"],
        true,
    );
    let block = if exports {
        h.ok("ExportKey", json!({ "ExportKeyIdentifier": cvk, "KeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": kbpk } } }))["WrappedKey"]["KeyMaterial"].as_str().unwrap().to_owned()
    } else {
        software_block(
            payhsm_core::key::KeyAlgorithm::Aes256,
            KNOWN_KBPK,
            payhsm_tr31::Version::D,
            payhsm_core::key::ModeOfUse::GENERATE,
            payhsm_core::key::Exportability::EXPORTABLE,
            KNOWN_CVK,
        )
    };
    let before = h.all_keys(None).len();
    let import = |wrapping: &str, block: &str| {
        h.call("ImportKey", json!({ "KeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": wrapping, "WrappedKeyBlock": block } } }))
    };
    assert_policy(import(&wrap_only, &block), Rule::ModeOfUse);
    assert_policy(import(&pek, &block), Rule::KeyUsage);
    assert_policy(import(&tdes_kbpk, &block), Rule::KeyAlgorithm);
    let mut tampered = block.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_validation(import(&kbpk, &tampered));
    assert_validation(import(&kbpk, &block[..block.len() - 2]));
    assert_validation(h.call(
        "ImportKey",
        json!({ "KeyMaterial": { "Tr34KeyBlock": {} } }),
    ));
    assert_eq!(
        h.all_keys(None).len(),
        before,
        "refused imports stored nothing"
    );
    import(&kbpk, &block).unwrap();
}

/// The clear-key ceremony path, KCVs, and weak TDES keys (T-K-2, T-K-3).
pub fn ceremony_import_and_key_hygiene<S: Store>(h: Harness<S>) {
    let attributes = KeyAttributes {
        key_usage: payhsm_core::key::KeyUsage::C0,
        key_class: payhsm_core::key::KeyClass::SymmetricKey,
        key_algorithm: payhsm_core::key::KeyAlgorithm::Tdes2Key,
        key_modes_of_use: KeyModesOfUse::from_mode_of_use(
            payhsm_core::key::ModeOfUse::GENERATE_VERIFY,
        )
        .unwrap(),
    };
    let ceremony = |hex: &str, kcv: &str| CeremonyKey {
        attributes,
        exportable: false,
        material: SecretVec::from_slice(&payhsm_core::hex::decode("k", hex).unwrap()),
        expected_check_value: kcv.to_owned(),
    };
    // TR-31:2018 A.7.2.1 key and its published KCV.
    let ok = h
        .hsm
        .import_clear_key(ceremony("F039121BEC83D26B169BDCD5B22AAF8F", "CB9DEA"))
        .and_then(payhsm_keystore::api::response)
        .unwrap();
    assert_eq!(ok["Key"]["KeyCheckValue"], "CB9DEA");
    assert_eq!(ok["Key"]["KeyOrigin"], "EXTERNAL");
    let n = h.all_keys(None).len();
    assert_validation(
        h.hsm
            .import_clear_key(ceremony("F039121BEC83D26B169BDCD5B22AAF8F", "CB9DEB"))
            .and_then(payhsm_keystore::api::response),
    );
    for weak in [
        "0123456789ABCDEF0123456789ABCDEF", // K1 = K2
        "0101010101010101FEDCBA9876543210", // weak half
    ] {
        assert_policy(
            h.hsm
                .import_clear_key(ceremony(weak, "000000"))
                .and_then(payhsm_keystore::api::response),
            Rule::WeakKey,
        );
    }
    assert_validation(
        h.hsm
            .import_clear_key(ceremony("0123456789ABCDEF", "000000"))
            .and_then(payhsm_keystore::api::response),
    );
    assert_eq!(h.all_keys(None).len(), n);
    // Generated TDES keys have odd parity and are never weak. A token store cannot show the
    // value (it draws TDES keys with the same generator before creating them in the token),
    // so there the keys need only open.
    let exports = exports_key_blocks(&h);
    for _ in 0..20 {
        let k = h.create(
            "TR31_C0_CARD_VERIFICATION_KEY",
            "TDES_3KEY",
            &["Generate"],
            false,
        );
        let record = h.hsm.store().get_key(key_id(&k)).unwrap().unwrap();
        if !exports {
            assert!(h.hsm.store().open(&record).is_ok());
            continue;
        }
        let bytes = h.hsm.store().reveal(&record).unwrap();
        assert!(payhsm_core::crypto::tdes::has_odd_parity(
            bytes.expose_secret()
        ));
        payhsm_core::crypto::tdes::check_strength(bytes.expose_secret()).unwrap();
    }
}

pub fn card_validation_data<S: Store>(h: Harness<S>) {
    // Visa CVV with the shared vectors' key: CVV 561 (service code 101) and CVV2 636.
    let attributes = KeyAttributes {
        key_usage: payhsm_core::key::KeyUsage::C0,
        key_class: payhsm_core::key::KeyClass::SymmetricKey,
        key_algorithm: payhsm_core::key::KeyAlgorithm::Tdes2Key,
        key_modes_of_use: KeyModesOfUse::from_mode_of_use(
            payhsm_core::key::ModeOfUse::GENERATE_VERIFY,
        )
        .unwrap(),
    };
    let k = payhsm_core::crypto::SoftwareKey::from_hex(
        attributes.key_algorithm,
        "0123456789ABCDEFFEDCBA9876543210",
    )
    .unwrap();
    let kcv = payhsm_core::kcv::default_kcv(&k).unwrap().to_string();
    let cvk = arn_of(
        &h.hsm
            .import_clear_key(CeremonyKey {
                attributes,
                exportable: false,
                material: SecretVec::from_slice(
                    &payhsm_core::hex::decode("k", "0123456789ABCDEFFEDCBA9876543210").unwrap(),
                ),
                expected_check_value: kcv,
            })
            .and_then(payhsm_keystore::api::response)
            .unwrap(),
    );
    let pan = "4123456789012345";
    let generate = |attrs: Value| {
        h.ok("GenerateCardValidationData", json!({ "KeyIdentifier": cvk, "PrimaryAccountNumber": pan, "GenerationAttributes": attrs }))["ValidationData"].as_str().unwrap().to_owned()
    };
    assert_eq!(
        generate(
            json!({ "CardVerificationValue1": { "CardExpiryDate": "8701", "ServiceCode": "101" } })
        ),
        "561"
    );
    assert_eq!(
        generate(json!({ "CardVerificationValue2": { "CardExpiryDate": "8701" } })),
        "636"
    );
    let verify = |attrs: Value, value: &str| {
        h.call("VerifyCardValidationData", json!({ "KeyIdentifier": cvk, "PrimaryAccountNumber": pan, "VerificationAttributes": attrs, "ValidationData": value }))
    };
    verify(
        json!({ "CardVerificationValue2": { "CardExpiryDate": "8701" } }),
        "636",
    )
    .unwrap();
    assert_eq!(
        verify(
            json!({ "CardVerificationValue2": { "CardExpiryDate": "8701" } }),
            "637"
        ),
        Err(Error::VerificationFailed {
            reason: VerificationFailedReason::InvalidValidationData
        })
    );
    assert_validation(verify(
        json!({ "CardVerificationValue2": { "CardExpiryDate": "8701" } }),
        "6x7",
    ));
    assert_validation(h.call("GenerateCardValidationData", json!({ "KeyIdentifier": cvk, "PrimaryAccountNumber": pan, "GenerationAttributes": { "CardVerificationValue2": { "CardExpiryDate": "8701" } }, "ValidationDataLength": 6 })));
    assert_validation(h.call("GenerateCardValidationData", json!({ "KeyIdentifier": cvk, "PrimaryAccountNumber": "41234567890", "GenerationAttributes": { "CardVerificationValue2": { "CardExpiryDate": "8701" } } })));
    assert_validation(h.call("GenerateCardValidationData", json!({ "KeyIdentifier": cvk, "PrimaryAccountNumber": pan, "GenerationAttributes": { "CardHolderVerificationValue": {} } })));
    // dCVV and CVC3 by issuer master keys.
    let e6 = h.create("TR31_E6_EMV_MKEY_OTHER", "TDES_2KEY", &["DeriveKey"], false);
    let dcvv = json!({ "DynamicCardVerificationValue": { "PanSequenceNumber": "00", "CardExpiryDate": "2512", "ServiceCode": "101", "ApplicationTransactionCounter": "0001" } });
    let v = h.ok(
        "GenerateCardValidationData",
        json!({ "KeyIdentifier": e6, "PrimaryAccountNumber": pan, "GenerationAttributes": dcvv }),
    )["ValidationData"]
        .as_str()
        .unwrap()
        .to_owned();
    h.ok("VerifyCardValidationData", json!({ "KeyIdentifier": e6, "PrimaryAccountNumber": pan, "VerificationAttributes": dcvv, "ValidationData": v }));
    let e4 = h.create(
        "TR31_E4_EMV_MKEY_DYNAMIC_NUMBERS",
        "TDES_2KEY",
        &["DeriveKey"],
        false,
    );
    let cvc3 = json!({ "DynamicCardVerificationCode": { "UnpredictableNumber": "00000899", "PanSequenceNumber": "00", "ApplicationTransactionCounter": "005E", "TrackData": "5123456789012345D35121010000000000000F" } });
    let v = h.ok("GenerateCardValidationData", json!({ "KeyIdentifier": e4, "PrimaryAccountNumber": "5123456789012345", "GenerationAttributes": cvc3, "ValidationDataLength": 5 }))["ValidationData"].as_str().unwrap().to_owned();
    assert_eq!(v.len(), 5);
    h.ok("VerifyCardValidationData", json!({ "KeyIdentifier": e4, "PrimaryAccountNumber": "5123456789012345", "VerificationAttributes": cvc3, "ValidationData": &v[2..] }));
}

pub fn pin_generation_translation_and_verification<S: Store>(h: Harness<S>) {
    let pvk = h.create(
        "TR31_V2_VISA_PIN_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
        false,
    );
    let pek = h.create(
        "TR31_P0_PIN_ENCRYPTION_KEY",
        "TDES_2KEY",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
        false,
    );
    let pek_aes = h.create(
        "TR31_P0_PIN_ENCRYPTION_KEY",
        "AES_128",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
        false,
    );
    let generated = h.ok(
        "GeneratePinData",
        json!({
        "GenerationKeyIdentifier": pvk, "EncryptionKeyIdentifier": pek,
        "GenerationAttributes": { "VisaPin": { "PinVerificationKeyIndex": 1 } },
        "PinBlockFormat": "ISO_FORMAT_0", "PrimaryAccountNumber": PAN }),
    );
    let block = generated["EncryptedPinBlock"].as_str().unwrap().to_owned();
    let pvv = generated["PinData"]["VerificationValue"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(block.len(), 16);
    assert_eq!(pvv.len(), 4);
    let verify = |pek: &str, block: &str, format: &str, pvv: &str| {
        h.call("VerifyPinData", json!({
        "VerificationKeyIdentifier": pvk, "EncryptionKeyIdentifier": pek,
        "VerificationAttributes": { "VisaPin": { "PinVerificationKeyIndex": 1, "VerificationValue": pvv } },
        "EncryptedPinBlock": block, "PinBlockFormat": format, "PrimaryAccountNumber": PAN }))
    };
    verify(&pek, &block, "ISO_FORMAT_0", &pvv).unwrap();
    // ISO 0 under a TDES PEK to ISO 4 under an AES PEK, then verify there.
    let translated = h.ok(
        "TranslatePinData",
        json!({
        "IncomingKeyIdentifier": pek, "OutgoingKeyIdentifier": pek_aes,
        "IncomingTranslationAttributes": { "IsoFormat0": { "PrimaryAccountNumber": PAN } },
        "OutgoingTranslationAttributes": { "IsoFormat4": { "PrimaryAccountNumber": PAN } },
        "EncryptedPinBlock": block }),
    );
    let iso4 = translated["PinBlock"].as_str().unwrap().to_owned();
    assert_eq!(iso4.len(), 32);
    assert_eq!(translated["KeyArn"], json!(pek_aes));
    verify(&pek_aes, &iso4, "ISO_FORMAT_4", &pvv).unwrap();
    // PCI PIN 3-3 (T-PIN-1, T-PIN-2).
    let translate = |fin: Value, fout: Value| {
        h.call("TranslatePinData", json!({
        "IncomingKeyIdentifier": pek, "OutgoingKeyIdentifier": pek,
        "IncomingTranslationAttributes": fin, "OutgoingTranslationAttributes": fout, "EncryptedPinBlock": block }))
    };
    assert_policy(
        translate(
            json!({ "IsoFormat0": { "PrimaryAccountNumber": PAN } }),
            json!({ "IsoFormat1": {} }),
        ),
        Rule::PinRule,
    );
    assert_policy(
        translate(
            json!({ "IsoFormat0": { "PrimaryAccountNumber": PAN } }),
            json!({ "IsoFormat3": { "PrimaryAccountNumber": "4111111111111129" } }),
        ),
        Rule::PinRule,
    );
    translate(
        json!({ "IsoFormat0": { "PrimaryAccountNumber": PAN } }),
        json!({ "IsoFormat3": { "PrimaryAccountNumber": PAN } }),
    )
    .unwrap();
    // IBM 3624: random PIN and offset, then verification.
    let ibm = h.create(
        "TR31_V1_IBM3624_PIN_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
        false,
    );
    let params = json!({ "DecimalizationTable": "0123456789012345", "PinValidationDataPadCharacter": "F", "PinValidationData": "4111111111" });
    let random = h.ok(
        "GeneratePinData",
        json!({
        "GenerationKeyIdentifier": ibm, "EncryptionKeyIdentifier": pek,
        "GenerationAttributes": { "Ibm3624RandomPin": params }, "PinBlockFormat": "ISO_FORMAT_3",
        "PrimaryAccountNumber": PAN, "PinDataLength": 6 }),
    );
    let offset = random["PinData"]["PinOffset"].as_str().unwrap().to_owned();
    assert_eq!(offset.len(), 6);
    let mut check = params.clone();
    check["PinOffset"] = json!(offset);
    h.ok("VerifyPinData", json!({
        "VerificationKeyIdentifier": ibm, "EncryptionKeyIdentifier": pek,
        "VerificationAttributes": { "Ibm3624Pin": check }, "EncryptedPinBlock": random["EncryptedPinBlock"],
        "PinBlockFormat": "ISO_FORMAT_3", "PrimaryAccountNumber": PAN }));
    // Keys in the wrong roles (T-PIN-5).
    assert_policy(verify(&pvk, &block, "ISO_FORMAT_0", &pvv), Rule::KeyUsage);
    let encrypt_only = h.create(
        "TR31_P0_PIN_ENCRYPTION_KEY",
        "TDES_2KEY",
        &["Encrypt", "Wrap"],
        false,
    );
    assert_policy(
        verify(&encrypt_only, &block, "ISO_FORMAT_0", &pvv),
        Rule::ModeOfUse,
    );
}

pub fn macs<S: Store>(h: Harness<S>) {
    for (usage, alg, mac_alg, mac_len) in [
        (
            "TR31_M1_ISO_9797_1_MAC_KEY",
            "TDES_2KEY",
            "ISO9797_ALGORITHM1",
            8,
        ),
        (
            "TR31_M3_ISO_9797_3_MAC_KEY",
            "TDES_2KEY",
            "ISO9797_ALGORITHM3",
            8,
        ),
        ("TR31_M6_ISO_9797_5_CMAC_KEY", "AES_256", "CMAC", 16),
        ("TR31_M7_HMAC_KEY", "HMAC_SHA512", "HMAC_SHA512", 64),
        ("TR31_M0_ISO_16609_MAC_KEY", "TDES_2KEY", "AS2805_4_1", 8),
    ] {
        let k = h.create(usage, alg, &["Generate", "Verify"], false);
        let mac = h.ok("GenerateMac", json!({ "KeyIdentifier": k, "MessageData": "4E6F77206973207468652074696D6520", "GenerationAttributes": { "Algorithm": mac_alg } }))["Mac"].as_str().unwrap().to_owned();
        assert_eq!(mac.len(), 2 * mac_len, "{mac_alg}");
        h.ok("VerifyMac", json!({ "KeyIdentifier": k, "MessageData": "4E6F77206973207468652074696D6520", "Mac": mac, "VerificationAttributes": { "Algorithm": mac_alg } }));
        let short = h.ok("GenerateMac", json!({ "KeyIdentifier": k, "MessageData": "4e6f77", "GenerationAttributes": { "Algorithm": mac_alg }, "MacLength": 4 }))["Mac"].as_str().unwrap().to_owned();
        assert_eq!(short.len(), 8);
        h.ok("VerifyMac", json!({ "KeyIdentifier": k, "MessageData": "4E6F77", "Mac": short, "VerificationAttributes": { "Algorithm": mac_alg } }));
    }
    let k = h.create(
        "TR31_M6_ISO_9797_5_CMAC_KEY",
        "AES_128",
        &["Generate"],
        false,
    );
    assert_validation(h.call("GenerateMac", json!({ "KeyIdentifier": k, "MessageData": "0", "GenerationAttributes": { "Algorithm": "CMAC" } })));
    assert_validation(h.call("GenerateMac", json!({ "KeyIdentifier": k, "MessageData": "zz", "GenerationAttributes": { "Algorithm": "CMAC" } })));
    assert_validation(h.call("GenerateMac", json!({ "KeyIdentifier": k, "MessageData": "00".repeat(4097), "GenerationAttributes": { "Algorithm": "CMAC" } })));
    assert_validation(h.call("GenerateMac", json!({ "KeyIdentifier": k, "MessageData": "00", "GenerationAttributes": { "Algorithm": "FOO" } })));
    assert_validation(h.call("GenerateMac", json!({ "KeyIdentifier": k, "MessageData": "00", "GenerationAttributes": { "Algorithm": "CMAC" }, "MacLength": 2 })));
    assert_policy(h.call("GenerateMac", json!({ "KeyIdentifier": k, "MessageData": "00", "GenerationAttributes": { "Algorithm": "HMAC" } })), Rule::KeyUsage);
    assert_policy(h.call("VerifyMac", json!({ "KeyIdentifier": k, "MessageData": "00", "Mac": "00000000", "VerificationAttributes": { "Algorithm": "CMAC" } })), Rule::ModeOfUse);
}

pub fn data_encryption<S: Store>(h: Harness<S>) {
    let d1 = h.create(
        "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
        "AES_128",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
        false,
    );
    let d2 = h.create(
        "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
        "TDES_3KEY",
        &["NoRestrictions"],
        false,
    );
    let plain = "00112233445566778899AABBCCDDEEFF";
    for (mode, iv) in [
        ("ECB", None),
        ("CBC", None),
        ("CBC", Some("000102030405060708090A0B0C0D0E0F")),
    ] {
        let mut attrs = json!({ "Mode": mode });
        if let Some(iv) = iv {
            attrs["InitializationVector"] = json!(iv);
        }
        let c = h.ok("EncryptData", json!({ "KeyIdentifier": d1, "PlainText": plain, "EncryptionAttributes": { "Symmetric": attrs } }));
        let ct = c["CipherText"].as_str().unwrap();
        assert_ne!(ct, plain);
        let p = h.ok("DecryptData", json!({ "KeyIdentifier": d1, "CipherText": ct, "DecryptionAttributes": { "Symmetric": attrs } }));
        assert_eq!(p["PlainText"], plain);
        let r = h.ok("ReEncryptData", json!({ "IncomingKeyIdentifier": d1, "OutgoingKeyIdentifier": d2, "CipherText": ct,
            "IncomingEncryptionAttributes": { "Symmetric": attrs }, "OutgoingEncryptionAttributes": { "Symmetric": { "Mode": "CBC" } } }));
        assert_eq!(r["KeyArn"], json!(d2));
        let back = h.ok("DecryptData", json!({ "KeyIdentifier": d2, "CipherText": r["CipherText"], "DecryptionAttributes": { "Symmetric": { "Mode": "CBC" } } }));
        assert_eq!(back["PlainText"], plain);
    }
    assert_validation(h.call("EncryptData", json!({ "KeyIdentifier": d1, "PlainText": "0011", "EncryptionAttributes": { "Symmetric": { "Mode": "ECB" } } })));
    assert_validation(h.call("EncryptData", json!({ "KeyIdentifier": d1, "PlainText": plain, "EncryptionAttributes": { "Symmetric": { "Mode": "OFB" } } })));
    assert_validation(h.call("EncryptData", json!({ "KeyIdentifier": d1, "PlainText": plain, "EncryptionAttributes": { "Symmetric": { "Mode": "CBC", "InitializationVector": "00" } } })));
    // A KEK never encrypts caller data (T-K-1).
    let kek = h.create(
        "TR31_K0_KEY_ENCRYPTION_KEY",
        "AES_128",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
        false,
    );
    assert_policy(h.call("EncryptData", json!({ "KeyIdentifier": kek, "PlainText": plain, "EncryptionAttributes": { "Symmetric": { "Mode": "ECB" } } })), Rule::KeyUsage);
}

/// Every failed verification of a kind is the same error, whatever failed.
pub fn verification_failures_are_uniform<S: Store>(h: Harness<S>) {
    let pvk = h.create(
        "TR31_V2_VISA_PIN_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
        false,
    );
    let pek = h.create(
        "TR31_P0_PIN_ENCRYPTION_KEY",
        "TDES_2KEY",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
        false,
    );
    let g = h.ok("GeneratePinData", json!({ "GenerationKeyIdentifier": pvk, "EncryptionKeyIdentifier": pek,
        "GenerationAttributes": { "VisaPin": { "PinVerificationKeyIndex": 1 } }, "PinBlockFormat": "ISO_FORMAT_0", "PrimaryAccountNumber": PAN }));
    let block = g["EncryptedPinBlock"].as_str().unwrap();
    let pvv = g["PinData"]["VerificationValue"].as_str().unwrap();
    let wrong_pvv = format!("{}", (pvv.parse::<u32>().unwrap() + 1) % 10_000);
    let wrong_pvv = format!("{wrong_pvv:0>4}");
    let verify = |block: &str, pvv: &str, pan: &str| {
        h.call("VerifyPinData", json!({ "VerificationKeyIdentifier": pvk, "EncryptionKeyIdentifier": pek,
        "VerificationAttributes": { "VisaPin": { "PinVerificationKeyIndex": 1, "VerificationValue": pvv } },
        "EncryptedPinBlock": block, "PinBlockFormat": "ISO_FORMAT_0", "PrimaryAccountNumber": pan }))
    };
    let invalid_pin = Err(Error::VerificationFailed {
        reason: VerificationFailedReason::InvalidPin,
    });
    assert_eq!(verify(block, &wrong_pvv, PAN), invalid_pin);
    assert_eq!(
        verify("0123456789ABCDEF", pvv, PAN),
        invalid_pin,
        "a garbage block fails like a wrong PIN"
    );
    assert_eq!(
        verify(block, pvv, "4111111111111129"),
        invalid_pin,
        "another PAN fails like a wrong PIN"
    );
    let m = h.create(
        "TR31_M6_ISO_9797_5_CMAC_KEY",
        "AES_128",
        &["Generate", "Verify"],
        false,
    );
    let mac = h.ok("GenerateMac", json!({ "KeyIdentifier": m, "MessageData": "00", "GenerationAttributes": { "Algorithm": "CMAC" } }))["Mac"].as_str().unwrap().to_owned();
    for presented in [
        format!("{}0", &mac[..31]),
        "0".repeat(32),
        mac[..8].replace(|_: char| true, "F"),
    ] {
        if presented == mac {
            continue;
        }
        let e = h.call("VerifyMac", json!({ "KeyIdentifier": m, "MessageData": "00", "Mac": presented, "VerificationAttributes": { "Algorithm": "CMAC" } })).unwrap_err();
        assert_eq!(
            e,
            Error::VerificationFailed {
                reason: VerificationFailedReason::InvalidMac
            }
        );
        assert_eq!(e.to_json()["Reason"], "INVALID_MAC");
        assert_eq!(e.to_json()["__type"], "VerificationFailedException");
    }
}

/// A key block moved to another record is an integrity error, never another key (T-KS-4).
pub fn block_swap_is_detected<S: Store>(h: Harness<S>) {
    let a = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
        false,
    );
    let b = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
        false,
    );
    let store = h.hsm.store();
    store.forget_all_handles();
    let ra = store.get_key(key_id(&a)).unwrap().unwrap();
    let mut rb = store.get_key(key_id(&b)).unwrap().unwrap();
    rb.key_block = ra.key_block.clone();
    rb.revision += 1;
    assert!(store.update_key(&rb, &[]).unwrap());
    let e = h.call("GenerateCardValidationData", json!({ "KeyIdentifier": b, "PrimaryAccountNumber": PAN, "GenerationAttributes": { "CardVerificationValue2": { "CardExpiryDate": "1230" } } })).unwrap_err();
    assert_eq!(e.name(), "InternalServerException");
    assert!(e.message().contains("integrity"), "{e}");
    // A stale revision changes nothing.
    let mut stale = store.get_key(key_id(&a)).unwrap().unwrap();
    stale.enabled = false;
    assert!(!store.update_key(&stale, &[]).unwrap());
    assert!(store.get_key(key_id(&a)).unwrap().unwrap().enabled);
    // Other keys stay usable.
    h.ok("GenerateCardValidationData", json!({ "KeyIdentifier": a, "PrimaryAccountNumber": PAN, "GenerationAttributes": { "CardVerificationValue2": { "CardExpiryDate": "1230" } } }));
}

/// Known secrets never reach the audit log, and failures are logged (T-PIN-12, P8).
pub fn audit_holds_no_secrets<S: Store>(h: Harness<S>) {
    let pvk = h.create(
        "TR31_V2_VISA_PIN_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
        false,
    );
    let pek = h.create(
        "TR31_P0_PIN_ENCRYPTION_KEY",
        "TDES_2KEY",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
        false,
    );
    let cvk = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
        true,
    );
    let kbpk = h.create(
        "TR31_K1_KEY_BLOCK_PROTECTION_KEY",
        "AES_256",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
        false,
    );
    let exports = exports_key_blocks(&h);
    let mut secrets: Vec<String> = Vec::new();
    for arn in [&pvk, &pek, &cvk, &kbpk] {
        let r = h.hsm.store().get_key(key_id(arn)).unwrap().unwrap();
        if exports {
            secrets.push(payhsm_core::hex::encode(
                h.hsm.store().reveal(&r).unwrap().expose_secret(),
            ));
        }
        secrets.push(r.key_block.unwrap());
    }
    let g = h.ok("GeneratePinData", json!({ "GenerationKeyIdentifier": pvk, "EncryptionKeyIdentifier": pek,
        "GenerationAttributes": { "VisaPin": { "PinVerificationKeyIndex": 1 } }, "PinBlockFormat": "ISO_FORMAT_0", "PrimaryAccountNumber": PAN }));
    let block = g["EncryptedPinBlock"].as_str().unwrap().to_owned();
    secrets.push(block.clone());
    let cvv = h.ok("GenerateCardValidationData", json!({ "KeyIdentifier": cvk, "PrimaryAccountNumber": PAN, "GenerationAttributes": { "CardVerificationValue1": { "CardExpiryDate": "1230", "ServiceCode": "101" } }, "ValidationDataLength": 5 }))["ValidationData"].as_str().unwrap().to_owned();
    secrets.push(cvv.clone());
    secrets.push(PAN.to_owned());
    let exported = h.call("ExportKey", json!({ "ExportKeyIdentifier": cvk, "KeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": kbpk } } }));
    if exports {
        secrets.push(
            exported.unwrap()["WrappedKey"]["KeyMaterial"]
                .as_str()
                .unwrap()[16..]
                .to_owned(),
        );
    } else {
        assert_not_exported(exported);
    }
    // Failures that carry secrets in their requests.
    let wrong_cvv = format!("{:0>5}", (cvv.parse::<u32>().unwrap() + 1) % 100_000);
    secrets.push(wrong_cvv.clone());
    h.call("VerifyCardValidationData", json!({ "KeyIdentifier": cvk, "PrimaryAccountNumber": PAN, "VerificationAttributes": { "CardVerificationValue1": { "CardExpiryDate": "1230", "ServiceCode": "101" } }, "ValidationData": wrong_cvv })).unwrap_err();
    h.call("VerifyPinData", json!({ "VerificationKeyIdentifier": pvk, "EncryptionKeyIdentifier": pek,
        "VerificationAttributes": { "VisaPin": { "PinVerificationKeyIndex": 1, "VerificationValue": "9999" } },
        "EncryptedPinBlock": block, "PinBlockFormat": "ISO_FORMAT_0", "PrimaryAccountNumber": PAN })).ok();
    h.call("TranslatePinData", json!({ "IncomingKeyIdentifier": pek, "OutgoingKeyIdentifier": pvk,
        "IncomingTranslationAttributes": { "IsoFormat0": { "PrimaryAccountNumber": PAN } },
        "OutgoingTranslationAttributes": { "IsoFormat0": { "PrimaryAccountNumber": PAN } }, "EncryptedPinBlock": block })).unwrap_err();
    // A request that does not even parse is refused and audited, without its values.
    assert_validation(h.call("VerifyCardValidationData", json!({ "KeyIdentifier": cvk, "PrimaryAccountNumber": PAN, "VerificationAttributes": { "CardVerificationValue2": { "CardExpiryDate": "1230" } }, "ValidationData": 98765 })));
    secrets.push("98765".to_owned());
    let lines = h.hsm.audit().lines();
    let text = lines.join("\n");
    assert!(
        lines.last().unwrap().contains("\"requestParameters\":null"),
        "{}",
        lines.last().unwrap()
    );
    assert!(
        lines
            .last()
            .unwrap()
            .contains("\"errorCode\":\"ValidationException\"")
    );
    for s in &secrets {
        assert!(
            !text.to_uppercase().contains(&s.to_uppercase()),
            "the audit log holds a secret: {s}"
        );
    }
    let events: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["eventName"].as_str().unwrap())
        .collect();
    for name in [
        "CreateKey",
        "ExportKey",
        "VerifyCardValidationData",
        "TranslatePinData",
    ] {
        assert!(names.contains(&name), "{name} is audited: {names:?}");
    }
    assert!(
        !names.contains(&"GenerateCardValidationData"),
        "successful data-plane calls are not audited"
    );
    let failed = events
        .iter()
        .find(|e| e["eventName"] == "TranslatePinData")
        .unwrap();
    assert_eq!(failed["errorCode"], "ValidationException");
    assert!(failed["eventTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(failed["awsRegion"], "us-east-1");
    let created = events
        .iter()
        .find(|e| e["eventName"] == "CreateKey")
        .unwrap();
    assert_eq!(created["resources"][0]["ARN"], json!(pvk));
}

/// A failed self-test refuses every operation (T-ST-1).
pub fn error_state_refuses_everything<S: Store>(h: Harness<S>) {
    let Harness { hsm, .. } = h;
    let store = hsm_store(hsm);
    let mut config = HsmConfig::new(Region::new("us-east-1").unwrap());
    config.self_tests[1].expected = "00";
    let broken = Hsm::new(store, config);
    assert!(broken.self_test_result().is_err());
    for op in api::CONTROL_PLANE.iter().chain(api::DATA_PLANE) {
        let e = api::dispatch(&broken, op, json!({})).unwrap_err();
        assert_eq!(e, Error::ErrorState { test: "AES".into() }, "{op}");
    }
    let e = api::dispatch(&broken, "ListKeys", json!({})).unwrap_err();
    assert_eq!(e, Error::ErrorState { test: "AES".into() });
    assert_eq!(e.name(), "ServiceUnavailableException");
    let e = api::dispatch(&broken, "CreateKey", json!({ "KeyAttributes": { "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "TDES_2KEY", "KeyModesOfUse": { "Generate": true } }, "Exportable": false })).unwrap_err();
    assert_eq!(e.name(), "ServiceUnavailableException");
    assert!(broken.store().list_keys(None, 10).unwrap().is_empty());
}

/// A failed RSA known answer (signature or OAEP) refuses every operation, the RSA ones too.
/// The RSA tests are conditional: they run before the HSM's first RSA operation, which they
/// refuse, so no RSA key is made or used with an RSA implementation that failed them; from
/// then on the HSM is in its error state.
pub fn rsa_self_test_failure_refuses_everything<S: Store>(h: Harness<S>) {
    let Harness { hsm, .. } = h;
    let mut store = Some(hsm_store(hsm));
    let rsa_pair = json!({ "KeyAttributes": {
        "KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE", "KeyClass": "ASYMMETRIC_KEY_PAIR",
        "KeyAlgorithm": "RSA_2048", "KeyModesOfUse": { "Sign": true } }, "Exportable": false });
    let first_rsa_uses = [
        (
            "GetParametersForImport",
            json!({ "KeyMaterialType": "TR34_KEY_BLOCK", "WrappingKeyAlgorithm": "RSA_2048" }),
        ),
        (
            "GetParametersForExport",
            json!({ "KeyMaterialType": "TR34_KEY_BLOCK", "SigningKeyAlgorithm": "RSA_2048" }),
        ),
        ("CreateKey", rsa_pair),
    ];
    for name in ["RSA-PKCS1", "RSA-OAEP"] {
        for (first_op, request) in &first_rsa_uses {
            let mut config = HsmConfig::new(Region::new("us-east-1").unwrap());
            let test = config
                .self_tests
                .iter_mut()
                .find(|t| t.name == name)
                .unwrap();
            test.expected = "00";
            let broken = Hsm::new(store.take().unwrap(), config);
            // Until RSA is needed, the RSA tests have not run.
            assert!(broken.self_test_result().is_ok());
            let e = api::dispatch(&broken, first_op, request.clone()).unwrap_err();
            assert_eq!(e, Error::ErrorState { test: name.into() }, "{first_op}");
            assert_eq!(e.name(), "ServiceUnavailableException");
            assert_eq!(
                broken.self_test_result(),
                Err(Error::ErrorState { test: name.into() })
            );
            for op in api::CONTROL_PLANE.iter().chain(api::DATA_PLANE) {
                let e = api::dispatch(&broken, op, json!({})).unwrap_err();
                assert_eq!(e, Error::ErrorState { test: name.into() }, "{op}");
            }
            assert!(
                broken.store().list_keys(None, 10).unwrap().is_empty(),
                "no CA, no token, no key pair"
            );
            store = Some(hsm_store(broken));
        }
    }
    // With the known answers intact, the same store serves again, RSA included.
    let healthy = Hsm::new(
        store.unwrap(),
        HsmConfig::new(Region::new("us-east-1").unwrap()),
    );
    assert!(healthy.self_test_result().is_ok());
    api::dispatch(&healthy, "ListKeys", json!({})).unwrap();
    let (op, request) = &first_rsa_uses[0];
    api::dispatch(&healthy, op, request.clone()).unwrap();
    assert!(healthy.self_test_result().is_ok());
}

fn hsm_store<S: Store>(hsm: Hsm<S>) -> S {
    hsm.into_store()
}

/// T-K-5, generated from the attribute table: every valid key in every role.
pub fn key_type_confusion_matrix<S: Store>(h: Harness<S>) {
    matrix::run(&h);
}

/// Imports clear test key material through the ceremony path.
fn ceremony_key<S: Store>(h: &Harness<S>, attributes: KeyAttributes, hex: &str) -> String {
    let k = payhsm_core::crypto::SoftwareKey::from_hex(attributes.key_algorithm, hex).unwrap();
    let kcv = payhsm_core::kcv::default_kcv(&k).unwrap().to_string();
    arn_of(
        &h.hsm
            .import_clear_key(CeremonyKey {
                attributes,
                exportable: false,
                material: SecretVec::from_slice(&payhsm_core::hex::decode("k", hex).unwrap()),
                expected_check_value: kcv,
            })
            .and_then(payhsm_keystore::api::response)
            .unwrap(),
    )
}

fn attrs(
    usage: payhsm_core::key::KeyUsage,
    alg: payhsm_core::key::KeyAlgorithm,
    mode: payhsm_core::key::ModeOfUse,
) -> KeyAttributes {
    KeyAttributes {
        key_usage: usage,
        key_class: payhsm_core::key::KeyClass::SymmetricKey,
        key_algorithm: alg,
        key_modes_of_use: KeyModesOfUse::from_mode_of_use(mode).unwrap(),
    }
}

/// ARQC generation and verification and the ARPC by key id agree with the algorithms on the
/// clear key.
pub fn emv_cryptograms<S: Store>(h: Harness<S>) {
    use payhsm_core::{
        emv,
        key::{KeyAlgorithm, KeyUsage, ModeOfUse},
    };
    let imk_hex = "0123456789ABCDEFFEDCBA9876543210";
    let imk = ceremony_key(
        &h,
        attrs(KeyUsage::E0, KeyAlgorithm::Tdes2Key, ModeOfUse::DERIVE),
        imk_hex,
    );
    let data = "0000000010000000000000000710000000000007101302050030901B6A3C00005503A4A082";
    let skd = json!({ "EmvCommon": { "PrimaryAccountNumber": "5413330089600010", "PanSequenceNumber": "01", "ApplicationTransactionCounter": "0071" } });
    let arqc = h.ok("GenerateAuthRequestCryptogram", json!({ "KeyIdentifier": imk, "TransactionData": data, "MajorKeyDerivationMode": "EMV_OPTION_A", "SessionKeyDerivationAttributes": skd }))["AuthRequestCryptogram"].as_str().unwrap().to_owned();
    // The same computation on the clear key.
    let clear =
        payhsm_core::crypto::SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, imk_hex).unwrap();
    let pan = payhsm_core::fields::Pan::new("5413330089600010").unwrap();
    let card = emv::Card {
        pan: &pan,
        psn: emv::PanSequenceNumber::new("01").unwrap(),
        option: emv::mkd::MasterKeyDerivation::OptionA,
    };
    let derivation = emv::session::SessionKeyDerivation::new(
        emv::session::SessionKeyMode::EmvCommonSessionKey,
        Some([0x00, 0x71]),
        None,
    )
    .unwrap();
    let expected = emv::generate_arqc(
        &clear,
        &card,
        &derivation,
        &payhsm_core::hex::decode("d", data).unwrap(),
        payhsm_core::mac::Padding::Method2,
    )
    .unwrap();
    assert_eq!(arqc, payhsm_core::hex::encode(expected.as_bytes()));
    let verify = |arqc: &str, response: Option<Value>| {
        let mut req = json!({ "KeyIdentifier": imk, "TransactionData": data, "AuthRequestCryptogram": arqc, "MajorKeyDerivationMode": "EMV_OPTION_A", "SessionKeyDerivationAttributes": skd });
        if let Some(r) = response {
            req["AuthResponseAttributes"] = r;
        }
        h.call("VerifyAuthRequestCryptogram", req)
    };
    let ok = verify(
        &arqc,
        Some(json!({ "ArpcMethod1": { "AuthResponseCode": "3030" } })),
    )
    .unwrap();
    assert_eq!(ok["AuthResponseValue"].as_str().unwrap().len(), 16);
    let ok2 = verify(
        &arqc,
        Some(json!({ "ArpcMethod2": { "CardStatusUpdate": "00000000" } })),
    )
    .unwrap();
    assert_eq!(ok2["AuthResponseValue"].as_str().unwrap().len(), 8);
    assert!(
        verify(&arqc, None)
            .unwrap()
            .get("AuthResponseValue")
            .is_none()
    );
    let wrong = format!(
        "{}{}",
        &arqc[..15],
        if arqc.ends_with('0') { '1' } else { '0' }
    );
    assert_eq!(
        verify(&wrong, None),
        Err(Error::VerificationFailed {
            reason: VerificationFailedReason::InvalidAuthRequestCryptogram
        })
    );
    assert_validation(verify(&arqc[..14], None));
    // Visa (CVN 10 style: ICC master key, zero padding) and Mastercard modes run too.
    for skd in [
        json!({ "Visa": { "PrimaryAccountNumber": "4761739001010010", "PanSequenceNumber": "00" } }),
        json!({ "Mastercard": { "PrimaryAccountNumber": "5413330089600010", "PanSequenceNumber": "01", "ApplicationTransactionCounter": "0071", "UnpredictableNumber": "1B6A3C00" } }),
    ] {
        let a = h.ok("GenerateAuthRequestCryptogram", json!({ "KeyIdentifier": imk, "TransactionData": data, "MajorKeyDerivationMode": "EMV_OPTION_B", "SessionKeyDerivationAttributes": skd }))["AuthRequestCryptogram"].clone();
        h.ok("VerifyAuthRequestCryptogram", json!({ "KeyIdentifier": imk, "TransactionData": data, "AuthRequestCryptogram": a, "MajorKeyDerivationMode": "EMV_OPTION_B", "SessionKeyDerivationAttributes": skd }));
    }
    assert_validation(h.call("GenerateAuthRequestCryptogram", json!({ "KeyIdentifier": imk, "TransactionData": data, "MajorKeyDerivationMode": "EMV_OPTION_C", "SessionKeyDerivationAttributes": skd })));
    let cvk = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate"],
        false,
    );
    assert_policy(h.call("GenerateAuthRequestCryptogram", json!({ "KeyIdentifier": cvk, "TransactionData": data, "MajorKeyDerivationMode": "EMV_OPTION_A", "SessionKeyDerivationAttributes": skd })), Rule::KeyUsage);
}

/// DUKPT PIN translation and verification, MACs and data encryption by BDK key id agree with
/// the algorithms on the clear BDK (ANSI X9.24-1 test BDK and KSN).
pub fn dukpt_operations<S: Store>(h: Harness<S>) {
    use payhsm_core::{
        dukpt,
        key::{KeyAlgorithm, KeyUsage, ModeOfUse},
        pin::{
            Pin,
            block::{Fill, PinBlockFormat},
        },
        secret::KeyMaterial,
    };
    let bdk_hex = "0123456789ABCDEFFEDCBA9876543210";
    let bdk = ceremony_key(
        &h,
        attrs(KeyUsage::B0, KeyAlgorithm::Tdes2Key, ModeOfUse::DERIVE),
        bdk_hex,
    );
    if !exports_key_blocks(&h) {
        return dukpt_with_token_bdk(h, &bdk);
    }
    let clear = KeyMaterial::from_hex("bdk", bdk_hex).unwrap();
    let ksn_hex = "FFFF9876543210E00001";
    let ksn = dukpt::Ksn::from_hex(ksn_hex).unwrap();
    let pan = payhsm_core::fields::Pan::new(PAN).unwrap();
    let device_block = dukpt::encrypt_pin(
        dukpt::Bdk::Tdes(&clear),
        &ksn,
        None,
        PinBlockFormat::Iso0,
        &Pin::new("1234").unwrap(),
        Some(&pan),
        Fill::Random(&mut OsRandom),
    )
    .unwrap()
    .to_string();
    let pek = h.create(
        "TR31_P0_PIN_ENCRYPTION_KEY",
        "TDES_2KEY",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
        false,
    );
    let pvk = h.create(
        "TR31_V2_VISA_PIN_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
        false,
    );
    let iso0 = json!({ "IsoFormat0": { "PrimaryAccountNumber": PAN } });
    let zone = h.ok("TranslatePinData", json!({ "IncomingKeyIdentifier": bdk, "OutgoingKeyIdentifier": pek,
        "IncomingTranslationAttributes": iso0, "OutgoingTranslationAttributes": iso0, "EncryptedPinBlock": device_block,
        "IncomingDukptAttributes": { "KeySerialNumber": ksn_hex } }))["PinBlock"].as_str().unwrap().to_owned();
    let pvv = h.ok("GeneratePinData", json!({ "GenerationKeyIdentifier": pvk, "EncryptionKeyIdentifier": pek,
        "GenerationAttributes": { "VisaPinVerificationValue": { "EncryptedPinBlock": zone, "PinVerificationKeyIndex": 1 } },
        "PinBlockFormat": "ISO_FORMAT_0", "PrimaryAccountNumber": PAN }))["PinData"]["VerificationValue"].as_str().unwrap().to_owned();
    let clear_pvk_check = |value: &str| {
        h.call("VerifyPinData", json!({ "VerificationKeyIdentifier": pvk, "EncryptionKeyIdentifier": bdk,
        "VerificationAttributes": { "VisaPin": { "PinVerificationKeyIndex": 1, "VerificationValue": value } },
        "EncryptedPinBlock": device_block, "PinBlockFormat": "ISO_FORMAT_0", "PrimaryAccountNumber": PAN,
        "DukptAttributes": { "KeySerialNumber": ksn_hex, "DukptDerivationType": "TDES_2KEY" } }))
    };
    clear_pvk_check(&pvv).unwrap();
    let wrong = format!("{:0>4}", (pvv.parse::<u32>().unwrap() + 1) % 10_000);
    assert_eq!(
        clear_pvk_check(&wrong),
        Err(Error::VerificationFailed {
            reason: VerificationFailedReason::InvalidPin
        })
    );
    // MAC under the request MAC key.
    let message = "4E6F77206973207468652074696D6520";
    let mac = h.ok("GenerateMac", json!({ "KeyIdentifier": bdk, "MessageData": message,
        "GenerationAttributes": { "DukptIso9797Algorithm3": { "KeySerialNumber": ksn_hex, "DukptKeyVariant": "REQUEST" } } }))["Mac"].as_str().unwrap().to_owned();
    let expected = dukpt::generate_mac(
        dukpt::Bdk::Tdes(&clear),
        &ksn,
        dukpt::KeyVariant::Request,
        None,
        dukpt::DukptMacAlgorithm::Iso9797Algorithm3,
        &payhsm_core::hex::decode("m", message).unwrap(),
        None,
    )
    .unwrap();
    assert_eq!(mac, payhsm_core::hex::encode(expected.as_bytes()));
    h.ok("VerifyMac", json!({ "KeyIdentifier": bdk, "MessageData": message, "Mac": mac,
        "VerificationAttributes": { "DukptIso9797Algorithm3": { "KeySerialNumber": ksn_hex, "DukptKeyVariant": "REQUEST" } } }));
    assert_eq!(h.call("VerifyMac", json!({ "KeyIdentifier": bdk, "MessageData": message, "Mac": mac,
        "VerificationAttributes": { "DukptIso9797Algorithm3": { "KeySerialNumber": ksn_hex, "DukptKeyVariant": "RESPONSE" } } })),
        Err(Error::VerificationFailed { reason: VerificationFailedReason::InvalidMac }));
    // Data encryption round trip, and against the clear computation.
    let plain = "00112233445566778899AABBCCDDEEFF";
    let ct = h.ok("EncryptData", json!({ "KeyIdentifier": bdk, "PlainText": plain, "EncryptionAttributes": { "Dukpt": { "KeySerialNumber": ksn_hex } } }))["CipherText"].as_str().unwrap().to_owned();
    let mut expected = payhsm_core::hex::decode("p", plain).unwrap();
    dukpt::encrypt_data(
        dukpt::Bdk::Tdes(&clear),
        &ksn,
        dukpt::KeyVariant::Bidirectional,
        None,
        dukpt::DukptEncryptionMode::Cbc,
        None,
        &mut expected,
    )
    .unwrap();
    assert_eq!(ct, payhsm_core::hex::encode(&expected));
    let back = h.ok("DecryptData", json!({ "KeyIdentifier": bdk, "CipherText": ct, "DecryptionAttributes": { "Dukpt": { "KeySerialNumber": ksn_hex } } }));
    assert_eq!(back["PlainText"], plain);
    // AES DUKPT through a generated BDK: CMAC both ways.
    let aes_bdk = h.create(
        "TR31_B0_BASE_DERIVATION_KEY",
        "AES_128",
        &["DeriveKey"],
        false,
    );
    let aes_ksn = "123456789012345600000001";
    let m = h.ok("GenerateMac", json!({ "KeyIdentifier": aes_bdk, "MessageData": message, "GenerationAttributes": { "DukptCmac": { "KeySerialNumber": aes_ksn, "DukptKeyVariant": "BIDIRECTIONAL" } } }))["Mac"].clone();
    h.ok("VerifyMac", json!({ "KeyIdentifier": aes_bdk, "MessageData": message, "Mac": m, "VerificationAttributes": { "DukptCmac": { "KeySerialNumber": aes_ksn, "DukptKeyVariant": "BIDIRECTIONAL" } } }));
    // Refusals: a BDK's KSN kind, a working key stronger than the BDK, a PEK as a BDK.
    assert_validation(h.call("GenerateMac", json!({ "KeyIdentifier": aes_bdk, "MessageData": message, "GenerationAttributes": { "DukptCmac": { "KeySerialNumber": ksn_hex, "DukptKeyVariant": "REQUEST" } } })));
    assert_validation(h.call("GenerateMac", json!({ "KeyIdentifier": aes_bdk, "MessageData": message, "GenerationAttributes": { "DukptCmac": { "KeySerialNumber": aes_ksn, "DukptKeyVariant": "REQUEST", "DukptDerivationType": "AES_256" } } })));
    assert_policy(h.call("TranslatePinData", json!({ "IncomingKeyIdentifier": pek, "OutgoingKeyIdentifier": pek,
        "IncomingTranslationAttributes": iso0, "OutgoingTranslationAttributes": iso0, "EncryptedPinBlock": device_block,
        "IncomingDukptAttributes": { "KeySerialNumber": ksn_hex } })), Rule::KeyUsage);
}

/// [`dukpt_operations`] on a store that keeps key values in a token: TDES DUKPT needs the
/// BDK's value (its initial key XORs a constant into it) and is refused after policy; AES
/// DUKPT runs through the BDK's handle and matches the clear computation.
fn dukpt_with_token_bdk<S: Store>(h: Harness<S>, tdes_bdk: &str) {
    use payhsm_core::{
        dukpt,
        key::{KeyAlgorithm, KeyUsage, ModeOfUse},
        secret::KeyMaterial,
    };
    let message = "4E6F77206973207468652074696D6520";
    let e = h.call("GenerateMac", json!({ "KeyIdentifier": tdes_bdk, "MessageData": message,
        "GenerationAttributes": { "DukptIso9797Algorithm3": { "KeySerialNumber": "FFFF9876543210E00001", "DukptKeyVariant": "REQUEST" } } }));
    match e {
        Err(Error::NotSupported { message }) => {
            assert!(message.contains("never leaves"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    let aes_hex = "FEDCBA9876543210F1F1F1F1F1F1F1F1";
    let aes_bdk = ceremony_key(
        &h,
        attrs(KeyUsage::B0, KeyAlgorithm::Aes128, ModeOfUse::DERIVE),
        aes_hex,
    );
    let aes_ksn = "123456789012345600000001";
    let mac = h.ok("GenerateMac", json!({ "KeyIdentifier": aes_bdk, "MessageData": message, "GenerationAttributes": { "DukptCmac": { "KeySerialNumber": aes_ksn, "DukptKeyVariant": "BIDIRECTIONAL" } } }))["Mac"].as_str().unwrap().to_owned();
    let clear = KeyMaterial::from_hex("bdk", aes_hex).unwrap();
    let clear_bdk = payhsm_core::crypto::SoftwareKey::new(KeyAlgorithm::Aes128, &clear).unwrap();
    let expected = dukpt::generate_mac(
        dukpt::Bdk::Aes(&clear_bdk),
        &dukpt::Ksn::from_hex(aes_ksn).unwrap(),
        dukpt::KeyVariant::Bidirectional,
        None,
        dukpt::DukptMacAlgorithm::Cmac,
        &payhsm_core::hex::decode("m", message).unwrap(),
        None,
    )
    .unwrap();
    assert_eq!(mac, payhsm_core::hex::encode(expected.as_bytes()));
    h.ok("VerifyMac", json!({ "KeyIdentifier": aes_bdk, "MessageData": message, "Mac": mac, "VerificationAttributes": { "DukptCmac": { "KeySerialNumber": aes_ksn, "DukptKeyVariant": "BIDIRECTIONAL" } } }));
}

/// A fresh random-key memory store (for the matrix's helper stores).
pub fn memory_store() -> payhsm_keystore::MemoryStore {
    payhsm_keystore::MemoryStore::new(
        payhsm_keystore::master_key::MasterKey::generate(&mut OsRandom).unwrap(),
    )
}
