//! Operations by key id through the HSM, on the embedded SQLite store and on the memory store:
//! a CVV2 and a PIN translation (ISO 0 under a TDES PEK to ISO 4 under an AES PEK), by name
//! through `api::dispatch` (the JSON the CLI and the server hand it) and through the typed
//! method, in the steady state (the key's verified handle cached) and cold (every call reads
//! the record and unwraps the key block under the master key first). `algorithm/*` is the same
//! CVV2 and translation on software keys in the same run: the ratio to it is the key-id path's
//! cost (request decoding, the store's validity check, the policy check).

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use payhsm_core::{
    card::cvv,
    crypto::SoftwareKey,
    fields::{Expiry, Pan, ServiceCode},
    key::KeyAlgorithm,
    pin::{
        block::{self, Fill, PinBlockFormat},
        translate::{self, TranslationContext},
    },
    rng::OsRandom,
};
use payhsm_keystore::{
    Hsm, HsmConfig, MemoryStore, SqliteStore, Store, api,
    arn::Region,
    master_key::MasterKey,
    ops::{GenerateCardValidationDataInput, TranslatePinDataInput},
};
use serde_json::{Value, json};

const PAN: &str = "4111111111111111";

fn create<S: Store>(hsm: &Hsm<S>, usage: &str, algorithm: &str, modes: Value) -> String {
    let out = api::dispatch(
        hsm,
        "CreateKey",
        json!({ "KeyAttributes": { "KeyUsage": usage, "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": algorithm, "KeyModesOfUse": modes }, "Exportable": false }),
    )
    .unwrap();
    out["Key"]["KeyArn"].as_str().unwrap().to_owned()
}

/// The CVV2 and translation requests on four new keys of `hsm`.
fn requests<S: Store>(hsm: &Hsm<S>) -> (Value, Value) {
    let b4 = json!({ "Encrypt": true, "Decrypt": true, "Wrap": true, "Unwrap": true });
    let cvk = create(
        hsm,
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        json!({ "Generate": true, "Verify": true }),
    );
    let pvk = create(
        hsm,
        "TR31_V2_VISA_PIN_VERIFICATION_KEY",
        "TDES_2KEY",
        json!({ "Generate": true }),
    );
    let pek = create(hsm, "TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", b4.clone());
    let pek_aes = create(hsm, "TR31_P0_PIN_ENCRYPTION_KEY", "AES_128", b4);
    let block = api::dispatch(
        hsm,
        "GeneratePinData",
        json!({
        "GenerationKeyIdentifier": pvk, "EncryptionKeyIdentifier": pek,
        "GenerationAttributes": { "VisaPin": { "PinVerificationKeyIndex": 1 } },
        "PinBlockFormat": "ISO_FORMAT_0", "PrimaryAccountNumber": PAN }),
    )
    .unwrap()["EncryptedPinBlock"]
        .clone();
    let cvv = json!({ "KeyIdentifier": cvk, "PrimaryAccountNumber": PAN,
        "GenerationAttributes": { "CardVerificationValue2": { "CardExpiryDate": "1230" } } });
    let translate = json!({ "IncomingKeyIdentifier": pek, "OutgoingKeyIdentifier": pek_aes,
        "IncomingTranslationAttributes": { "IsoFormat0": { "PrimaryAccountNumber": PAN } },
        "OutgoingTranslationAttributes": { "IsoFormat4": { "PrimaryAccountNumber": PAN } },
        "EncryptedPinBlock": block });
    (cvv, translate)
}

fn by_key_id<S: Store>(c: &mut Criterion, store_name: &str, hsm: &Hsm<S>) {
    let (cvv, translate) = requests(hsm);
    let mut g = c.benchmark_group(format!("hsm/{store_name}"));
    for (name, op, request) in [
        ("cvv2", "GenerateCardValidationData", &cvv),
        ("translate_pin", "TranslatePinData", &translate),
    ] {
        // The request is the caller's (decoded from the wire): copied outside the timing.
        g.bench_function(format!("{name}_dispatch"), |b| {
            b.iter_batched(
                || request.clone(),
                |r| api::dispatch(hsm, op, r).unwrap(),
                BatchSize::SmallInput,
            );
        });
        g.bench_function(format!("{name}_cold"), |b| {
            b.iter_batched(
                || request.clone(),
                |r| {
                    hsm.forget_keys();
                    api::dispatch(hsm, op, r).unwrap()
                },
                BatchSize::SmallInput,
            );
        });
    }
    // The typed request, decoded outside the timing: what a caller in Rust pays.
    g.bench_function("cvv2_typed", |b| {
        b.iter_batched(
            || serde_json::from_value::<GenerateCardValidationDataInput>(cvv.clone()).unwrap(),
            |input| hsm.generate_card_validation_data(input).unwrap(),
            BatchSize::SmallInput,
        );
    });
    g.bench_function("translate_pin_typed", |b| {
        b.iter_batched(
            || serde_json::from_value::<TranslatePinDataInput>(translate.clone()).unwrap(),
            |input| hsm.translate_pin_data(input).unwrap(),
            BatchSize::SmallInput,
        );
    });
    g.finish();
}

/// The algorithms the key-id benches run, on software keys: the baseline of their ratios.
fn algorithm(c: &mut Criterion) {
    let cvk =
        SoftwareKey::from_hex(KeyAlgorithm::Tdes2Key, "0123456789ABCDEFFEDCBA9876543210").unwrap();
    let aes =
        SoftwareKey::from_hex(KeyAlgorithm::Aes128, "2B7E151628AED2A6ABF7158809CF4F3C").unwrap();
    let pan = Pan::new(PAN).unwrap();
    let expiry = Expiry::new("1230").unwrap();
    let pin = payhsm_core::pin::Pin::new("1234").unwrap();
    let iso0 = block::encrypt(
        &cvk,
        PinBlockFormat::Iso0,
        &pin,
        Some(&pan),
        Fill::Random(&mut OsRandom),
    )
    .unwrap();
    let mut g = c.benchmark_group("hsm/algorithm");
    g.bench_function("cvv2", |b| {
        b.iter(|| cvv::generate(&cvk, black_box(&pan), &expiry, &ServiceCode::CVV2, 3).unwrap());
    });
    g.bench_function("translate_pin", |b| {
        b.iter(|| {
            translate::translate(
                &cvk,
                PinBlockFormat::Iso0,
                black_box(&iso0),
                Some(&pan),
                &aes,
                PinBlockFormat::Iso4,
                None,
                TranslationContext::Online,
                &mut OsRandom,
            )
            .unwrap()
        });
    });
    g.finish();
}

fn bench(c: &mut Criterion) {
    let region = || HsmConfig::new(Region::new("us-east-1").unwrap());
    let master = || MasterKey::generate(&mut OsRandom).unwrap();
    algorithm(c);
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Hsm::new(
        SqliteStore::create(&dir.path().join("keys.db"), master()).unwrap(),
        region(),
    );
    by_key_id(c, "sqlite", &sqlite);
    let memory = Hsm::new(MemoryStore::new(master()), region());
    by_key_id(c, "memory", &memory);
}

criterion_group!(benches, bench);
criterion_main!(benches);
