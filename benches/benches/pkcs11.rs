//! Operations by key id on SoftHSM2 against the software store, in the same run: a CVV2 and a
//! PIN translation (ISO 0 under a TDES PEK to ISO 4 under an AES PEK), handles cached.
//!
//! `pkcs11/<op>/software` runs on the embedded SQLite store (keys under the master key),
//! `pkcs11/<op>/softhsm2` on the PKCS#11 store (keys in a SoftHSM2 token; every block cipher
//! call is a token call). Without SoftHSM2 only the software side runs, and says so.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use payhsm_core::rng::OsRandom;
use payhsm_keystore::{
    Hsm, HsmConfig, SqliteStore, Store, api,
    arn::Region,
    master_key::MasterKey,
    store::pkcs11::{Pkcs11Store, SOFTHSM2_MODULE, softhsm},
};
use serde_json::{Value, json};

/// The HSM with a CVK, a PVK and two PEKs, and the two requests to time.
fn setup<S: Store>(store: S) -> (Hsm<S>, Value, Value) {
    let hsm = Hsm::new(store, HsmConfig::new(Region::new("us-east-1").unwrap()));
    let create = |usage: &str, algorithm: &str, modes: Value| {
        api::dispatch(
            &hsm,
            "CreateKey",
            json!({ "KeyAttributes": { "KeyUsage": usage, "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": algorithm, "KeyModesOfUse": modes }, "Exportable": false }),
        )
        .unwrap()["Key"]["KeyArn"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let b4 = json!({ "Encrypt": true, "Decrypt": true, "Wrap": true, "Unwrap": true });
    let cvk = create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        json!({ "Generate": true, "Verify": true }),
    );
    let pvk = create(
        "TR31_V2_VISA_PIN_VERIFICATION_KEY",
        "TDES_2KEY",
        json!({ "Generate": true }),
    );
    let pek = create("TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", b4.clone());
    let pek_aes = create("TR31_P0_PIN_ENCRYPTION_KEY", "AES_128", b4);
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
    (hsm, cvv, translate)
}

fn time<S: Store>(
    c: &mut Criterion,
    backend: &str,
    (hsm, cvv, translate): &(Hsm<S>, Value, Value),
) {
    let mut g = c.benchmark_group("pkcs11");
    for (name, op, request) in [
        ("cvv2_by_key_id", "GenerateCardValidationData", cvv),
        ("translate_pin_by_key_id", "TranslatePinData", translate),
    ] {
        g.bench_function(format!("{name}/{backend}"), |b| {
            b.iter(|| api::dispatch(hsm, op, black_box(request.clone())).unwrap());
        });
    }
    g.finish();
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let software = setup(
        SqliteStore::create(
            &dir.path().join("software.db"),
            MasterKey::generate(&mut OsRandom).unwrap(),
        )
        .unwrap(),
    );
    time(c, "software", &software);
    let Some(module) = softhsm::module() else {
        eprintln!("SoftHSM2 is not installed ({SOFTHSM2_MODULE}): only the software store ran");
        return;
    };
    let config = softhsm::temporary_token(&module, "payhsm-bench", "123456").unwrap();
    let token = setup(Pkcs11Store::create_for_token(&dir.path().join("token.db"), config).unwrap());
    time(c, "softhsm2", &token);
}

criterion_group!(benches, bench);
criterion_main!(benches);
