//! The body of the `dispatch_json` fuzz target: arbitrary requests into `api::dispatch`, the
//! one JSON entry point of the CLI and the server, on an in-memory HSM that holds a key of each
//! common kind under a known alias. The input is the operation's name, a newline, and the
//! request JSON. No input may panic; every refusal is one of the service's exceptions.

use std::sync::OnceLock;

use payhsm_core::rng::OsRandom;
use payhsm_keystore::{
    Hsm, HsmConfig, MemoryStore,
    api::{self, CONTROL_PLANE, DATA_PLANE},
    arn::Region,
    master_key::MasterKey,
};
use serde_json::{Value, json};

/// The exceptions the service defines.
const EXCEPTIONS: [&str; 8] = [
    "ValidationException",
    "ResourceNotFoundException",
    "ConflictException",
    "AccessDeniedException",
    "VerificationFailedException",
    "ServiceUnavailableException",
    "InternalServerException",
    "PublicPolicyException",
];

/// The keys the requests may name: alias, usage, algorithm, modes of use.
const KEYS: [(&str, &str, &str, &str); 6] = [
    (
        "alias/cvk",
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        r#"{"Generate":true,"Verify":true}"#,
    ),
    (
        "alias/pek",
        "TR31_P0_PIN_ENCRYPTION_KEY",
        "TDES_2KEY",
        r#"{"Encrypt":true,"Decrypt":true,"Wrap":true,"Unwrap":true}"#,
    ),
    (
        "alias/pvk",
        "TR31_V2_VISA_PIN_VERIFICATION_KEY",
        "TDES_2KEY",
        r#"{"Generate":true,"Verify":true}"#,
    ),
    (
        "alias/mac",
        "TR31_M6_ISO_9797_5_CMAC_KEY",
        "AES_128",
        r#"{"Generate":true,"Verify":true}"#,
    ),
    (
        "alias/dek",
        "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
        "AES_256",
        r#"{"Encrypt":true,"Decrypt":true,"Wrap":true,"Unwrap":true}"#,
    ),
    (
        "alias/kbpk",
        "TR31_K1_KEY_BLOCK_PROTECTION_KEY",
        "AES_256",
        r#"{"Encrypt":true,"Decrypt":true,"Wrap":true,"Unwrap":true}"#,
    ),
];

fn hsm() -> &'static Hsm<MemoryStore> {
    static HSM: OnceLock<Hsm<MemoryStore>> = OnceLock::new();
    HSM.get_or_init(|| {
        let master = MasterKey::generate(&mut OsRandom).expect("a master key");
        let hsm = Hsm::new(
            MemoryStore::new(master),
            HsmConfig::new(Region::new("us-east-1").expect("a region")),
        );
        for (alias, usage, algorithm, modes) in KEYS {
            let modes: Value = serde_json::from_str(modes).expect("modes");
            let created = api::dispatch(&hsm, "CreateKey", json!({ "KeyAttributes": { "KeyUsage": usage, "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": algorithm, "KeyModesOfUse": modes }, "Exportable": true }))
                .expect("a key");
            api::dispatch(&hsm, "CreateAlias", json!({ "AliasName": alias, "KeyArn": created["Key"]["KeyArn"] }))
                .expect("an alias");
        }
        hsm
    })
}

/// Runs one request; whether it succeeded.
pub fn run(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    let (operation, body) = text.split_once('\n').unwrap_or((&text, ""));
    let Ok(input) = serde_json::from_str::<Value>(body) else {
        return false;
    };
    // Names that are not operations are refused too; fuzzing spends its time on real ones.
    let operation = CONTROL_PLANE
        .iter()
        .chain(DATA_PLANE)
        .find(|o| o.eq_ignore_ascii_case(operation.trim()))
        .copied()
        .unwrap_or(operation);
    match api::dispatch(hsm(), operation, input) {
        Ok(output) => {
            assert!(output.is_object(), "{operation}: {output}");
            true
        }
        Err(e) => {
            assert!(EXCEPTIONS.contains(&e.name()), "{operation}: {}", e.name());
            let body = e.to_json();
            assert_eq!(body["__type"], e.name(), "{operation}");
            false
        }
    }
}
