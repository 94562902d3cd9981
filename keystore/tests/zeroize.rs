//! T-Z-2: no freed heap block holds a key. A child run of this test binary, with
//! `preload/zeroize.c` loaded by `LD_PRELOAD`, takes a known TDES key through the HSM's life of
//! a key: a ceremony import, CVV2 generation and verification, export as a TR-31 block, import
//! of that block, deletion, and the HSM and its SQLite store dropped. The shim searches every
//! block freed in the process for the key's bytes and its hex, and the test requires none. A
//! negative control (a plain `Vec` copy of the key, dropped) shows the shim finds a leak.

mod preload;

use std::{path::Path, process::Command};

use payhsm_core::{
    crypto::SoftwareKey,
    kcv,
    key::{KeyAlgorithm, KeyAttributes, KeyClass, KeyModesOfUse, KeyUsage},
    rng::OsRandom,
    secret::{KeyMaterial, SecretVec},
};
use payhsm_keystore::{
    CeremonyKey, Hsm, HsmConfig, SqliteStore,
    api::dispatch,
    arn::Region,
    master_key::{read_dev_key_file, write_dev_key_file},
};
use serde_json::{Value, json};

/// The key the child uses: fixed bytes, each given odd parity.
fn known_key() -> [u8; 16] {
    let mut k = [
        0x1e, 0x3c, 0x5a, 0x78, 0x96, 0xb4, 0xd2, 0xf0, 0x0e, 0x2c, 0x4a, 0x68, 0x86, 0xa4, 0xc2,
        0xe0,
    ];
    for b in &mut k {
        if u8::count_ones(*b) % 2 == 0 {
            *b ^= 1;
        }
    }
    k
}

fn ok(hsm: &Hsm<SqliteStore>, op: &str, input: Value) -> Value {
    dispatch(hsm, op, input).unwrap_or_else(|e| panic!("{op}: {e}"))
}

/// The key's life, in the child.
fn scenario(dir: &Path) {
    let master = write_dev_key_file(&dir.join("master.key"), &mut OsRandom).unwrap();
    SqliteStore::create(&dir.join("keys.db"), master).unwrap();
    let store = SqliteStore::open(
        &dir.join("keys.db"),
        read_dev_key_file(&dir.join("master.key")).unwrap(),
    )
    .unwrap();
    let hsm = Hsm::new(store, HsmConfig::new(Region::new("us-east-1").unwrap()));
    let key = known_key();
    let check_value = {
        let material = KeyMaterial::from_slice("key", &key).unwrap();
        let soft = SoftwareKey::new(KeyAlgorithm::Tdes2Key, &material).unwrap();
        kcv::default_kcv(&soft).unwrap().to_string()
    };
    let imported = hsm
        .import_clear_key(CeremonyKey {
            attributes: KeyAttributes {
                key_usage: KeyUsage::C0,
                key_class: KeyClass::SymmetricKey,
                key_algorithm: KeyAlgorithm::Tdes2Key,
                key_modes_of_use: KeyModesOfUse {
                    generate: true,
                    verify: true,
                    ..KeyModesOfUse::default()
                },
            },
            exportable: true,
            material: SecretVec::from_slice(&key),
            expected_check_value: check_value,
        })
        .unwrap();
    let cvk = imported.key.key_arn;
    let cvv2 = |arn: &str| {
        let generated = ok(
            &hsm,
            "GenerateCardValidationData",
            json!({ "KeyIdentifier": arn, "PrimaryAccountNumber": "4123456789012345", "GenerationAttributes": { "CardVerificationValue2": { "CardExpiryDate": "1230" } } }),
        );
        let value = generated["ValidationData"].as_str().unwrap().to_owned();
        ok(
            &hsm,
            "VerifyCardValidationData",
            json!({ "KeyIdentifier": arn, "PrimaryAccountNumber": "4123456789012345", "ValidationData": value, "VerificationAttributes": { "CardVerificationValue2": { "CardExpiryDate": "1230" } } }),
        );
        value
    };
    let first = cvv2(&cvk);
    let kbpk = ok(
        &hsm,
        "CreateKey",
        json!({ "KeyAttributes": { "KeyUsage": "TR31_K1_KEY_BLOCK_PROTECTION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "AES_256", "KeyModesOfUse": { "Encrypt": true, "Decrypt": true, "Wrap": true, "Unwrap": true } }, "Exportable": false }),
    )["Key"]["KeyArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let block = ok(
        &hsm,
        "ExportKey",
        json!({ "ExportKeyIdentifier": cvk, "KeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": kbpk } } }),
    )["WrappedKey"]["KeyMaterial"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(&hsm, "DeleteKey", json!({ "KeyIdentifier": cvk }));
    let again = ok(
        &hsm,
        "ImportKey",
        json!({ "KeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": kbpk, "WrappedKeyBlock": block } } }),
    )["Key"]["KeyArn"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(cvv2(&again), first, "the imported block holds the same key");
    drop(hsm);
    if std::env::var_os("PAYHSM_ZEROIZE_CONTROL").is_some() {
        // What the secret types exist to prevent: a copy nobody wipes.
        drop(std::hint::black_box(key.to_vec()));
    }
}

/// The child's entry point: does nothing unless [`run`] started this process.
#[test]
fn zeroize_child_entry() {
    if let Some(dir) = std::env::var_os("PAYHSM_ZEROIZE_DIR") {
        scenario(Path::new(&dir));
        eprintln!("SCENARIO-DONE");
    }
}

/// Runs the scenario in a child under the shim; the number of freed blocks that held the key.
fn run(control: bool) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "zeroize_child_entry",
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .env("PAYHSM_ZEROIZE_DIR", dir.path())
    .env(
        "PAYHSM_SECRET_PATTERN",
        payhsm_core::hex::encode(&known_key()),
    )
    .env("LD_PRELOAD", preload::shim("zeroize"));
    if control {
        cmd.env("PAYHSM_ZEROIZE_CONTROL", "1");
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.contains("SCENARIO-DONE"),
        "{}\n{stderr}",
        out.status
    );
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("PATTERN-FREES "))
        .unwrap_or_else(|| panic!("the shim did not report:\n{stderr}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn t_z_2_no_freed_block_holds_a_key() {
    assert_eq!(run(false), 0, "freed heap blocks still held the key");
}

#[test]
fn t_z_2_the_shim_finds_an_unwiped_copy() {
    assert!(run(true) >= 1, "the negative control was not detected");
}
