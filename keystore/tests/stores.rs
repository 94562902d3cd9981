//! The conformance suite on the in-memory store and on the embedded SQLite store.

mod conformance;

use payhsm_core::rng::OsRandom;
use payhsm_keystore::{
    MemoryStore, SqliteStore,
    master_key::{MasterKey, read_dev_key_file, write_dev_key_file},
};

fn memory() -> MemoryStore {
    MemoryStore::new(MasterKey::generate(&mut OsRandom).unwrap())
}

fn sqlite() -> SqliteStore {
    // The directory lives as long as the test process; each store gets its own.
    let dir = tempfile::tempdir().unwrap().keep();
    SqliteStore::create(
        &dir.join("keys.db"),
        MasterKey::generate(&mut OsRandom).unwrap(),
    )
    .unwrap()
}

conformance_tests!(memory, super::memory);
conformance_tests!(sqlite, super::sqlite);
replication_tests!(memory_regions, super::memory);
replication_tests!(sqlite_regions, super::sqlite);

/// The nonces of accepted TR-34 imports are in the database: after a restart, the replay of a
/// key block with its nonce and import token is still refused.
#[test]
fn sqlite_remembers_consumed_tr34_nonces_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (db, key_file) = (dir.path().join("keys.db"), dir.path().join("master.key"));
    let master = write_dev_key_file(&key_file, &mut OsRandom).unwrap();
    let request = conformance::asymmetric::tr34_import_once(&conformance::hsm(
        SqliteStore::create(&db, master).unwrap(),
    ));
    let reopened = SqliteStore::open(&db, read_dev_key_file(&key_file).unwrap()).unwrap();
    conformance::asymmetric::tr34_replay_is_refused(&conformance::hsm(reopened), request);
}

/// T-KB-6: a TR-31 block whose padding shows its key's length (no key length masking) is
/// refused on import unless the HSM is configured to accept it; a masked block imports either
/// way.
#[test]
fn t_kb_6_short_padded_tr31_imports_need_the_flag() {
    use conformance::{KNOWN_CVK, KNOWN_KEK, import_known_into, software_block};
    use payhsm_core::key::{Exportability, KeyAlgorithm, KeyUsage, ModeOfUse};
    use payhsm_keystore::{Hsm, HsmConfig, api, arn::Region};
    use serde_json::json;

    let hsm = |allow: bool| {
        let mut config = HsmConfig::new(Region::new("us-east-1").unwrap());
        config.allow_short_padded_tr31 = allow;
        let hsm = Hsm::new(memory(), config);
        let kbpk = import_known_into(
            &hsm,
            KeyUsage::K0,
            KeyAlgorithm::Tdes3Key,
            ModeOfUse::ENCRYPT_DECRYPT,
            false,
            KNOWN_KEK,
        );
        (hsm, kbpk)
    };
    let mode = ModeOfUse::GENERATE_VERIFY;
    // A TDES-2 key under version B: 24 payload bytes unmasked, 32 masked. (Under version D
    // both are 32: masking shows nothing there.)
    let masked = software_block(
        KeyAlgorithm::Tdes3Key,
        KNOWN_KEK,
        payhsm_tr31::Version::B,
        mode,
        Exportability::EXPORTABLE,
        KNOWN_CVK,
    );
    let short = {
        let kbpk =
            payhsm_core::crypto::SoftwareKey::from_hex(KeyAlgorithm::Tdes3Key, KNOWN_KEK).unwrap();
        let header = payhsm_tr31::Header::parse(&masked[..16]).unwrap();
        let options = payhsm_tr31::WrapOptions {
            mask_key_length: false,
            ..payhsm_tr31::WrapOptions::default()
        };
        let key = payhsm_core::hex::decode("k", KNOWN_CVK).unwrap();
        payhsm_tr31::wrap(
            payhsm_tr31::Kbpk::Key(&kbpk),
            &header,
            &key,
            &options,
            &mut OsRandom,
        )
        .unwrap()
    };
    assert!(short.len() < masked.len(), "{short} {masked}");
    let import = |hsm: &Hsm<MemoryStore>, kbpk: &str, block: &str| {
        api::dispatch(
            hsm,
            "ImportKey",
            json!({ "KeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": kbpk, "WrappedKeyBlock": block } } }),
        )
    };
    let keys = |hsm: &Hsm<MemoryStore>| {
        api::dispatch(hsm, "ListKeys", json!({})).unwrap()["Keys"]
            .as_array()
            .unwrap()
            .len()
    };

    let (strict, kbpk) = hsm(false);
    let e = import(&strict, &kbpk, &short).unwrap_err();
    assert_eq!(e.name(), "ValidationException", "{e}");
    assert!(e.message().contains("short padding"), "{e}");
    assert_eq!(keys(&strict), 1, "nothing is stored");
    let imported = import(&strict, &kbpk, &masked).unwrap();

    let (lenient, kbpk) = hsm(true);
    let from_short = import(&lenient, &kbpk, &short).unwrap();
    assert_eq!(
        from_short["Key"]["KeyCheckValue"],
        imported["Key"]["KeyCheckValue"]
    );
}
