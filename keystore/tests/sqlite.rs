//! What only the embedded store has: persistence across opens, the master-key check, and the
//! refusal to overwrite.

use std::{fs, path::Path, sync::Arc};

use payhsm_core::rng::OsRandom;
use payhsm_keystore::{
    Error, Hsm, HsmConfig, SqliteStore, Store, api,
    arn::Region,
    clock::{DAY_MS, ManualClock, Timestamp},
    master_key::{MasterKey, read_dev_key_file, write_dev_key_file},
};
use serde_json::json;

fn hsm(store: SqliteStore) -> Hsm<SqliteStore> {
    Hsm::new(store, HsmConfig::new(Region::new("us-east-1").unwrap()))
}

/// The store's schema version, as its meta table says.
fn schema_version(db: &Path) -> String {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row(
            "SELECT value FROM meta WHERE name = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

/// Each file's name, length and SHA-256 (never its contents: they are not for test output).
fn files(dir: &Path) -> Vec<(String, usize, String)> {
    use sha2::Digest as _;
    let mut out: Vec<(String, usize, String)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let bytes = fs::read(e.path()).unwrap();
            let digest = payhsm_core::hex::encode(&sha2::Sha256::digest(&bytes));
            (
                e.file_name().to_string_lossy().into_owned(),
                bytes.len(),
                digest,
            )
        })
        .collect();
    out.sort();
    out
}

fn holds(dir: &Path, needle: &[u8]) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name() != "master.key")
        .filter(|e| {
            fs::read(e.path())
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn keys_persist_and_the_wrong_master_key_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keys.db");
    let key_file = dir.path().join("master.key");
    let master = write_dev_key_file(&key_file, &mut OsRandom).unwrap();
    let h = hsm(SqliteStore::create(&db, master).unwrap());
    let created = api::dispatch(&h, "CreateKey", json!({
        "KeyAttributes": { "KeyUsage": "TR31_M6_ISO_9797_5_CMAC_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "AES_256", "KeyModesOfUse": { "Generate": true, "Verify": true } },
        "Exportable": false })).unwrap();
    let arn = created["Key"]["KeyArn"].as_str().unwrap().to_owned();
    let mac = |h: &Hsm<SqliteStore>| {
        api::dispatch(h, "GenerateMac", json!({ "KeyIdentifier": arn, "MessageData": "0011", "GenerationAttributes": { "Algorithm": "CMAC" } })).unwrap()["Mac"].clone()
    };
    let first = mac(&h);
    api::dispatch(
        &h,
        "CreateAlias",
        json!({ "AliasName": "alias/m", "KeyArn": arn }),
    )
    .unwrap();
    drop(h);

    // The database holds no clear key: the key's bytes appear nowhere in the files.
    let reopened = SqliteStore::open(&db, read_dev_key_file(&key_file).unwrap()).unwrap();
    let record = reopened
        .get_key(arn.rsplit('/').next().unwrap())
        .unwrap()
        .unwrap();
    let clear = reopened.reveal(&record).unwrap();
    assert_eq!(
        holds(dir.path(), clear.expose_secret()),
        Vec::<String>::new(),
        "files holding the clear key"
    );
    let h = hsm(reopened);
    assert_eq!(mac(&h), first);
    assert_eq!(
        api::dispatch(&h, "GetAlias", json!({ "AliasName": "alias/m" })).unwrap()["Alias"]["KeyArn"],
        json!(arn)
    );
    drop(h);

    // The wrong master key: a clear error naming both KCVs, and not one byte changes.
    let before = files(dir.path());
    let wrong = MasterKey::generate(&mut OsRandom).unwrap();
    let wrong_kcv = wrong.check_value().to_owned();
    let e = SqliteStore::open(&db, wrong).unwrap_err();
    assert_eq!(e.name(), "AccessDeniedException");
    assert!(e.message().contains(&wrong_kcv), "{e}");
    assert!(e.message().contains("wrong master key"), "{e}");
    assert_eq!(files(dir.path()), before);

    // Creating over an existing store is refused.
    assert!(matches!(
        SqliteStore::create(&db, MasterKey::generate(&mut OsRandom).unwrap()),
        Err(Error::Conflict { .. })
    ));
    // A file that is not a store is refused.
    let junk = dir.path().join("junk.db");
    fs::write(&junk, b"not a database").unwrap();
    assert!(SqliteStore::open(&junk, MasterKey::generate(&mut OsRandom).unwrap()).is_err());
    assert!(
        SqliteStore::open(
            &dir.path().join("missing.db"),
            MasterKey::generate(&mut OsRandom).unwrap()
        )
        .is_err()
    );
}

/// A store of schema version 1 (before resource policies) opens, keeps its keys, and is
/// upgraded in place to the current version.
#[test]
fn a_version_1_store_is_upgraded_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keys.db");
    let key_file = dir.path().join("master.key");
    let master = write_dev_key_file(&key_file, &mut OsRandom).unwrap();
    let h = hsm(SqliteStore::create(&db, master).unwrap());
    let created = api::dispatch(&h, "CreateKey", json!({
        "KeyAttributes": { "KeyUsage": "TR31_M6_ISO_9797_5_CMAC_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "AES_256", "KeyModesOfUse": { "Generate": true, "Verify": true } },
        "Exportable": false })).unwrap();
    let arn = created["Key"]["KeyArn"].as_str().unwrap().to_owned();
    drop(h);
    // Back to the version 1 layout, as an older payhsm wrote it.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "ALTER TABLE keys DROP COLUMN resource_policy;
         ALTER TABLE keys DROP COLUMN multi_region; DROP TABLE outbox; DROP TABLE settings;
         ALTER TABLE keys DROP COLUMN derive_key_usage;
         UPDATE meta SET value = '1' WHERE name = 'schema_version';",
    )
    .unwrap();
    drop(conn);

    let h = hsm(SqliteStore::open(&db, read_dev_key_file(&key_file).unwrap()).unwrap());
    api::dispatch(&h, "GetKey", json!({ "KeyIdentifier": arn })).unwrap();
    let policy = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"payment-cryptography:GenerateMac","Resource":"*"}]}"#;
    api::dispatch(
        &h,
        "PutResourcePolicy",
        json!({ "ResourceArn": arn, "Policy": policy }),
    )
    .unwrap();
    drop(h);
    assert_eq!(schema_version(&db), "4");
    let h = hsm(SqliteStore::open(&db, read_dev_key_file(&key_file).unwrap()).unwrap());
    let got = api::dispatch(&h, "GetResourcePolicy", json!({ "ResourceArn": arn })).unwrap();
    assert_eq!(got["Policy"], policy);
}

/// The consumed TR-34 nonces persist, are per import token, and are forgotten once the token
/// has expired; a version 1 store gains their table when opened.
#[test]
fn consumed_nonces_persist_per_token_until_the_token_expires() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keys.db");
    let key_file = dir.path().join("master.key");
    let master = write_dev_key_file(&key_file, &mut OsRandom).unwrap();
    let (now, expires) = (Timestamp(1_000), Timestamp(5_000));
    let store = SqliteStore::create(&db, master).unwrap();
    assert!(
        store
            .consume_nonce("IMPORT1", b"nonce 1", expires, now)
            .unwrap()
    );
    assert!(
        !store
            .consume_nonce("IMPORT1", b"nonce 1", expires, now)
            .unwrap()
    );
    assert!(
        store
            .consume_nonce("IMPORT2", b"nonce 1", expires, now)
            .unwrap()
    );
    drop(store);

    // A store from before the table: it is added on open, and nothing else changes.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "DROP TABLE nonces; ALTER TABLE keys DROP COLUMN resource_policy;
         ALTER TABLE keys DROP COLUMN multi_region; DROP TABLE outbox; DROP TABLE settings;
         ALTER TABLE keys DROP COLUMN derive_key_usage;
         UPDATE meta SET value = '1' WHERE name = 'schema_version';",
    )
    .unwrap();
    drop(conn);
    let reopened = SqliteStore::open(&db, read_dev_key_file(&key_file).unwrap()).unwrap();
    assert!(
        reopened
            .consume_nonce("IMPORT1", b"nonce 1", expires, now)
            .unwrap()
    );
    drop(reopened);
    assert_eq!(schema_version(&db), "4");

    // Persisted across opens; forgotten once the token expired.
    let reopened = SqliteStore::open(&db, read_dev_key_file(&key_file).unwrap()).unwrap();
    assert!(
        !reopened
            .consume_nonce("IMPORT1", b"nonce 1", expires, now)
            .unwrap()
    );
    assert!(
        reopened
            .consume_nonce("IMPORT1", b"nonce 1", Timestamp(9_000), expires)
            .unwrap()
    );
}

/// A store of schema version 2 (before multi-region keys) opens, keeps its keys, and gains the
/// multi-region column, the outbox and the settings (version 3), then the ECC column (4).
#[test]
fn a_version_2_store_gains_the_replication_tables_when_opened() {
    use payhsm_keystore::model::{OutboxItem, Setting};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keys.db");
    let key_file = dir.path().join("master.key");
    let master = write_dev_key_file(&key_file, &mut OsRandom).unwrap();
    let h = hsm(SqliteStore::create(&db, master).unwrap());
    let created = api::dispatch(&h, "CreateKey", json!({
        "KeyAttributes": { "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "TDES_2KEY", "KeyModesOfUse": { "Generate": true, "Verify": true } },
        "Exportable": true })).unwrap();
    let arn = created["Key"]["KeyArn"].as_str().unwrap().to_owned();
    drop(h);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "ALTER TABLE keys DROP COLUMN multi_region; DROP TABLE outbox; DROP TABLE settings;
         ALTER TABLE keys DROP COLUMN derive_key_usage;
         UPDATE meta SET value = '2' WHERE name = 'schema_version';",
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&db, read_dev_key_file(&key_file).unwrap()).unwrap();
    let id = arn.rsplit('/').next().unwrap();
    let mut record = store.get_key(id).unwrap().unwrap();
    assert_eq!(record.multi_region, None);
    record.revision += 1;
    let item = OutboxItem {
        key_id: id.to_owned(),
        region: "us-west-2".to_owned(),
    };
    assert!(
        store
            .update_key(&record, std::slice::from_ref(&item))
            .unwrap()
    );
    assert_eq!(store.outbox(None, 10).unwrap()[0].item, item);
    let setting = Setting {
        name: "n".to_owned(),
        value: "[]".to_owned(),
        revision: 1,
    };
    assert!(store.put_setting(&setting).unwrap());
    assert!(
        !store.put_setting(&setting).unwrap(),
        "a stale setting write changed it"
    );
    drop(store);
    assert_eq!(schema_version(&db), "4");
}

/// A store of schema version 3 (before ECC key pairs) opens, keeps its keys, and gains the
/// `DeriveKeyUsage` column (version 4): an ECC key pair for key agreement made after keeps it.
#[test]
fn a_version_3_store_gains_the_derive_key_usage_column_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keys.db");
    let key_file = dir.path().join("master.key");
    let master = write_dev_key_file(&key_file, &mut OsRandom).unwrap();
    let h = hsm(SqliteStore::create(&db, master).unwrap());
    let created = api::dispatch(&h, "CreateKey", json!({
        "KeyAttributes": { "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "TDES_2KEY", "KeyModesOfUse": { "Generate": true, "Verify": true } },
        "Exportable": true })).unwrap();
    let old = created["Key"].clone();
    drop(h);
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "ALTER TABLE keys DROP COLUMN derive_key_usage;
             UPDATE meta SET value = '3' WHERE name = 'schema_version';",
        )
        .unwrap();

    let h = hsm(SqliteStore::open(&db, read_dev_key_file(&key_file).unwrap()).unwrap());
    assert_eq!(schema_version(&db), "4");
    let got = api::dispatch(&h, "GetKey", json!({ "KeyIdentifier": old["KeyArn"] })).unwrap();
    assert_eq!(got["Key"], old);
    assert!(got["Key"].get("DeriveKeyUsage").is_none());
    let pair = api::dispatch(&h, "CreateKey", json!({
        "KeyAttributes": { "KeyUsage": "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT", "KeyClass": "ASYMMETRIC_KEY_PAIR", "KeyAlgorithm": "ECC_NIST_P256", "KeyModesOfUse": { "DeriveKey": true } },
        "DeriveKeyUsage": "TR31_K1_KEY_BLOCK_PROTECTION_KEY",
        "Exportable": false })).unwrap();
    drop(h);
    let h = hsm(SqliteStore::open(&db, read_dev_key_file(&key_file).unwrap()).unwrap());
    let got = api::dispatch(
        &h,
        "GetKey",
        json!({ "KeyIdentifier": pair["Key"]["KeyArn"] }),
    )
    .unwrap();
    assert_eq!(
        got["Key"]["DeriveKeyUsage"],
        "TR31_K1_KEY_BLOCK_PROTECTION_KEY"
    );
}

/// An HSM over `store` reading `clock`.
fn hsm_at(store: SqliteStore, clock: &ManualClock) -> Hsm<SqliteStore> {
    let mut config = HsmConfig::new(Region::new("us-east-1").unwrap());
    config.clock = Arc::new(clock.clone());
    Hsm::new(store, config)
}

fn create_cvk(h: &Hsm<SqliteStore>) -> String {
    let created = api::dispatch(h, "CreateKey", json!({
        "KeyAttributes": { "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "TDES_2KEY", "KeyModesOfUse": { "Generate": true, "Verify": true } },
        "Exportable": false })).unwrap();
    created["Key"]["KeyArn"].as_str().unwrap().to_owned()
}

fn state(h: &Hsm<SqliteStore>, arn: &str) -> String {
    let got = api::dispatch(h, "GetKey", json!({ "KeyIdentifier": arn })).unwrap();
    got["Key"]["KeyState"].as_str().unwrap().to_owned()
}

/// T-KS-5: the database and the WAL and shared-memory files SQLite keeps beside it are the
/// owner's only, like the master key file and the audit log.
#[cfg(unix)]
#[test]
fn t_ks_5_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keys.db");
    let h = hsm(SqliteStore::create(&db, MasterKey::generate(&mut OsRandom).unwrap()).unwrap());
    create_cvk(&h);
    for name in ["keys.db", "keys.db-wal", "keys.db-shm"] {
        let mode = fs::metadata(dir.path().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name} has mode {mode:o}");
    }
}

/// T-KS-5: when a deletion completes, the key block is gone from the files on disk: SQLite's
/// `secure_delete` zeroes it in the database's pages, and the WAL, which still held earlier
/// images of those pages, is checkpointed and emptied.
#[test]
fn t_ks_5_destroyed_key_block_is_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keys.db");
    let key_file = dir.path().join("master.key");
    let master = write_dev_key_file(&key_file, &mut OsRandom).unwrap();
    let clock = ManualClock::new(Timestamp(1_795_000_000_000));
    let h = hsm_at(SqliteStore::create(&db, master).unwrap(), &clock);
    let (victim, kept) = (create_cvk(&h), create_cvk(&h));
    let block_of = |arn: &str| {
        let id = arn.rsplit('/').next().unwrap();
        h.store().get_key(id).unwrap().unwrap().key_block.unwrap()
    };
    let (victim_block, kept_block) = (block_of(&victim), block_of(&kept));
    // The block's body (after its 16-character header) in pieces of 16 characters: not one
    // piece may survive.
    let pieces = |block: &str| -> Vec<Vec<u8>> {
        block.as_bytes()[16..]
            .chunks_exact(16)
            .map(<[u8]>::to_vec)
            .collect()
    };
    let surviving = |block: &str| -> Vec<String> {
        pieces(block)
            .iter()
            .flat_map(|p| holds(dir.path(), p))
            .collect()
    };
    assert!(!surviving(&victim_block).is_empty(), "the block is on disk");

    api::dispatch(
        &h,
        "DeleteKey",
        json!({ "KeyIdentifier": victim, "DeleteKeyInDays": 3 }),
    )
    .unwrap();
    clock.advance_days(3);
    assert_eq!(state(&h, &victim), "DELETE_COMPLETE");
    assert_eq!(surviving(&victim_block), Vec::<String>::new());
    // The other key's block is intact, and the store reopens with it.
    assert!(!surviving(&kept_block).is_empty());
    drop(h);
    let h = hsm_at(
        SqliteStore::open(&db, read_dev_key_file(&key_file).unwrap()).unwrap(),
        &clock,
    );
    assert_eq!(state(&h, &kept), "CREATE_COMPLETE");
    assert_eq!(state(&h, &victim), "DELETE_COMPLETE");
}

/// T-KS-5: the HSM's time never runs backwards. A wall clock set back neither brings back a
/// key whose deletion came due (in this run, or after a restart: the latest time is recorded
/// in the store) nor pushes a deadline further out (time that passed still counts).
#[test]
fn t_ks_5_clock_moved_back_cannot_resurrect_or_extend() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keys.db");
    let key_file = dir.path().join("master.key");
    let master = write_dev_key_file(&key_file, &mut OsRandom).unwrap();
    let start = Timestamp(1_795_000_000_000);
    let clock = ManualClock::new(start);
    let h = hsm_at(SqliteStore::create(&db, master).unwrap(), &clock);
    let delete = |h: &Hsm<SqliteStore>, arn: &str| {
        api::dispatch(
            h,
            "DeleteKey",
            json!({ "KeyIdentifier": arn, "DeleteKeyInDays": 3 }),
        )
        .unwrap()
    };
    let restore = |h: &Hsm<SqliteStore>, arn: &str| {
        api::dispatch(h, "RestoreKey", json!({ "KeyIdentifier": arn }))
    };
    let (due, extended, after_restart, other) = (
        create_cvk(&h),
        create_cvk(&h),
        create_cvk(&h),
        create_cvk(&h),
    );
    for arn in [&due, &extended, &after_restart] {
        delete(&h, arn);
    }

    // Resurrect: the deadline passes unobserved, then the clock is set back before it.
    clock.advance_days(4);
    clock.advance_days(-10);
    assert_eq!(state(&h, &due), "DELETE_COMPLETE");
    assert_eq!(restore(&h, &due).unwrap_err().name(), "ConflictException");

    // Extend: with the clock set back a week, the deadline still comes 3 days after the
    // deletion in time that passed (4 already have).
    let fresh = create_cvk(&h);
    delete(&h, &fresh);
    clock.advance_days(-7);
    clock.advance_ms(3 * DAY_MS - 1);
    assert_eq!(state(&h, &fresh), "DELETE_PENDING");
    clock.advance_ms(1);
    assert_eq!(state(&h, &fresh), "DELETE_COMPLETE");
    assert_eq!(state(&h, &extended), "DELETE_COMPLETE");

    // Across a restart: the latest time is in the store, and a clock set back to before the
    // deadlines (even to before the keys existed) goes by it.
    assert_eq!(state(&h, &other), "CREATE_COMPLETE");
    let pending = create_cvk(&h);
    delete(&h, &pending);
    drop(h);
    let earlier = ManualClock::new(start);
    let h = hsm_at(
        SqliteStore::open(&db, read_dev_key_file(&key_file).unwrap()).unwrap(),
        &earlier,
    );
    assert_eq!(state(&h, &after_restart), "DELETE_COMPLETE");
    assert_eq!(
        restore(&h, &after_restart).unwrap_err().name(),
        "ConflictException"
    );
    // A key whose deadline has not come stays pending and can be restored.
    assert_eq!(state(&h, &pending), "DELETE_PENDING");
    restore(&h, &pending).unwrap();
}

/// Two HSMs on one database file (as two processes are: each its own connection): a key one
/// of them keeps for the data plane is refused the moment the other stops or deletes it, and
/// usable again the moment the other starts it.
#[test]
fn a_key_stopped_through_another_connection_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (db, key_file) = (dir.path().join("keys.db"), dir.path().join("master.key"));
    let master = write_dev_key_file(&key_file, &mut OsRandom).unwrap();
    let serving = hsm(SqliteStore::create(&db, master).unwrap());
    let operator = hsm(SqliteStore::open(&db, read_dev_key_file(&key_file).unwrap()).unwrap());
    let cvk = api::dispatch(&operator, "CreateKey", json!({
        "KeyAttributes": { "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY", "KeyClass": "SYMMETRIC_KEY",
            "KeyAlgorithm": "TDES_2KEY", "KeyModesOfUse": { "Generate": true, "Verify": true } },
        "Exportable": false,
    }))
    .unwrap()["Key"]["KeyArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let cvv = || {
        api::dispatch(
            &serving,
            "GenerateCardValidationData",
            json!({
                "KeyIdentifier": cvk, "PrimaryAccountNumber": "4111111111111111",
                "GenerationAttributes": { "CardVerificationValue2": { "CardExpiryDate": "1230" } },
            }),
        )
    };
    let refusal = |r: Result<serde_json::Value, Error>| match r {
        Err(Error::Policy { rule, .. }) => rule,
        other => panic!("expected a refusal, got {other:?}"),
    };
    let value = cvv().unwrap()["ValidationData"].clone();
    assert_eq!(cvv().unwrap()["ValidationData"], value);
    let by_operator = |op: &str, extra: serde_json::Value| {
        let mut input = json!({ "KeyIdentifier": cvk });
        for (k, v) in extra.as_object().unwrap() {
            input[k] = v.clone();
        }
        api::dispatch(&operator, op, input).unwrap();
    };
    by_operator("StopKeyUsage", json!({}));
    assert_eq!(refusal(cvv()), payhsm_keystore::Rule::KeyDisabled);
    by_operator("StartKeyUsage", json!({}));
    assert_eq!(cvv().unwrap()["ValidationData"], value);
    by_operator("DeleteKey", json!({ "DeleteKeyInDays": 3 }));
    assert_eq!(refusal(cvv()), payhsm_keystore::Rule::KeyState);
    by_operator("RestoreKey", json!({}));
    by_operator("StartKeyUsage", json!({}));
    assert_eq!(cvv().unwrap()["ValidationData"], value);
    // A change that does not matter to the key's use (a tag) keeps it usable.
    api::dispatch(
        &operator,
        "TagResource",
        json!({
            "ResourceArn": cvk, "Tags": [{ "Key": "team", "Value": "cards" }],
        }),
    )
    .unwrap();
    assert_eq!(cvv().unwrap()["ValidationData"], value);
}

#[test]
fn t_kb_4_failed_unwraps_are_counted_alarmed_and_disable_the_kbpk() {
    use payhsm_keystore::exchange::failed_unwraps::UnwrapFailurePolicy;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keys.db");
    let master = write_dev_key_file(&dir.path().join("master.key"), &mut OsRandom).unwrap();
    SqliteStore::create(&db, master).unwrap();
    let open = || {
        let store = SqliteStore::open(
            &db,
            read_dev_key_file(&dir.path().join("master.key")).unwrap(),
        )
        .unwrap();
        let mut config = HsmConfig::new(Region::new("us-east-1").unwrap());
        config.unwrap_failures = UnwrapFailurePolicy {
            alarm_after: 2,
            disable_after: Some(3),
        };
        Hsm::new(store, config)
    };
    let h = open();
    let call =
        |h: &Hsm<SqliteStore>, op: &str, input: serde_json::Value| api::dispatch(h, op, input);
    let arn = |v: serde_json::Value| v["Key"]["KeyArn"].as_str().unwrap().to_owned();
    let kbpk = arn(call(&h, "CreateKey", json!({ "KeyAttributes": { "KeyUsage": "TR31_K1_KEY_BLOCK_PROTECTION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "AES_256", "KeyModesOfUse": { "Encrypt": true, "Decrypt": true, "Wrap": true, "Unwrap": true } }, "Exportable": false })).unwrap());
    let cvk = arn(call(&h, "CreateKey", json!({ "KeyAttributes": { "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "TDES_2KEY", "KeyModesOfUse": { "Generate": true, "Verify": true } }, "Exportable": true })).unwrap());
    let block = call(&h, "ExportKey", json!({ "ExportKeyIdentifier": cvk, "KeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": kbpk } } })).unwrap()["WrappedKey"]["KeyMaterial"].as_str().unwrap().to_owned();
    // The same block with its MAC's last digit changed: it parses, and fails to authenticate.
    let mut forged = block.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    let import = |h: &Hsm<SqliteStore>, b: &str| {
        call(
            h,
            "ImportKey",
            json!({ "KeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": kbpk, "WrappedKeyBlock": b } } }),
        )
    };
    let enabled = |h: &Hsm<SqliteStore>| {
        call(h, "GetKey", json!({ "KeyIdentifier": kbpk })).unwrap()["Key"]["Enabled"] == true
    };
    let key_id = kbpk.rsplit('/').next().unwrap().to_owned();
    let events = |h: &Hsm<SqliteStore>, name: &str| {
        h.audit()
            .lines()
            .iter()
            .filter(|l| l.contains(&format!("\"{name}\"")))
            .count()
    };

    let first = import(&h, &forged).unwrap_err();
    assert_eq!(h.failed_unwraps(&key_id).unwrap(), 1);
    assert_eq!(events(&h, "KeyBlockUnwrapFailures"), 0);
    // The count is the store's: another process adds to it.
    let other = open();
    assert_eq!(
        import(&other, &forged).unwrap_err(),
        first,
        "one error for every failure"
    );
    assert_eq!(h.failed_unwraps(&key_id).unwrap(), 2);
    assert_eq!(
        events(&other, "KeyBlockUnwrapFailures"),
        1,
        "the alarm at 2"
    );
    assert!(enabled(&h));
    // At the limit the KBPK is disabled, audited, and refuses even a genuine block.
    assert_eq!(import(&h, &forged).unwrap_err(), first);
    assert_eq!(events(&h, "DisableKeyBlockProtectionKey"), 1);
    assert!(!enabled(&h), "the KBPK is disabled after 3 failures");
    assert!(import(&h, &block).is_err());
    assert_eq!(
        h.failed_unwraps(&key_id).unwrap(),
        0,
        "the count starts again"
    );
    // The operator's decision to trust it again.
    call(&h, "StartKeyUsage", json!({ "KeyIdentifier": kbpk })).unwrap();
    import(&h, &block).unwrap();
    // A block that does not even parse is a malformed request, not a forgery attempt.
    import(&h, "not a key block").unwrap_err();
    assert_eq!(h.failed_unwraps(&key_id).unwrap(), 0);
}
