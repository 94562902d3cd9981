//! Operations by key id through the HSM on the embedded SQLite store: a CVV2 and a PIN
//! translation (ISO 0 under a TDES PEK to ISO 4 under an AES PEK), each with the keys'
//! handles cached (the steady state) and cold (every call reads the record and unwraps the
//! key block under the master key first). The cost over the `card` benches is the request
//! parsing, the store read, the policy check and, cold, the TR-31 unwrap.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use payhsm_core::rng::OsRandom;
use payhsm_keystore::{
    Hsm, HsmConfig, SqliteStore, Store, api, arn::Region, master_key::MasterKey,
};
use serde_json::{Value, json};

fn create(hsm: &Hsm<SqliteStore>, usage: &str, algorithm: &str, modes: Value) -> String {
    let out = api::dispatch(
        hsm,
        "CreateKey",
        json!({ "KeyAttributes": { "KeyUsage": usage, "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": algorithm, "KeyModesOfUse": modes }, "Exportable": false }),
    )
    .unwrap();
    out["Key"]["KeyArn"].as_str().unwrap().to_owned()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::create(
        &dir.path().join("keys.db"),
        MasterKey::generate(&mut OsRandom).unwrap(),
    )
    .unwrap();
    let hsm = Hsm::new(store, HsmConfig::new(Region::new("us-east-1").unwrap()));
    let b4 = json!({ "Encrypt": true, "Decrypt": true, "Wrap": true, "Unwrap": true });
    let cvk = create(
        &hsm,
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        json!({ "Generate": true, "Verify": true }),
    );
    let pvk = create(
        &hsm,
        "TR31_V2_VISA_PIN_VERIFICATION_KEY",
        "TDES_2KEY",
        json!({ "Generate": true }),
    );
    let pek = create(&hsm, "TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", b4.clone());
    let pek_aes = create(&hsm, "TR31_P0_PIN_ENCRYPTION_KEY", "AES_128", b4);
    let pan = "4111111111111111";
    let block = api::dispatch(
        &hsm,
        "GeneratePinData",
        json!({
        "GenerationKeyIdentifier": pvk, "EncryptionKeyIdentifier": pek,
        "GenerationAttributes": { "VisaPin": { "PinVerificationKeyIndex": 1 } },
        "PinBlockFormat": "ISO_FORMAT_0", "PrimaryAccountNumber": pan }),
    )
    .unwrap()["EncryptedPinBlock"]
        .clone();
    let cvv = json!({ "KeyIdentifier": cvk, "PrimaryAccountNumber": pan,
        "GenerationAttributes": { "CardVerificationValue2": { "CardExpiryDate": "1230" } } });
    let translate = json!({ "IncomingKeyIdentifier": pek, "OutgoingKeyIdentifier": pek_aes,
        "IncomingTranslationAttributes": { "IsoFormat0": { "PrimaryAccountNumber": pan } },
        "OutgoingTranslationAttributes": { "IsoFormat4": { "PrimaryAccountNumber": pan } },
        "EncryptedPinBlock": block });

    let mut g = c.benchmark_group("hsm");
    for (name, op, request) in [
        ("cvv2_by_key_id", "GenerateCardValidationData", &cvv),
        ("translate_pin_by_key_id", "TranslatePinData", &translate),
    ] {
        g.bench_function(format!("{name}_cached"), |b| {
            b.iter(|| api::dispatch(&hsm, op, black_box(request.clone())).unwrap());
        });
        g.bench_function(format!("{name}_cold"), |b| {
            b.iter(|| {
                hsm.store().forget_all_handles();
                api::dispatch(&hsm, op, black_box(request.clone())).unwrap()
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
