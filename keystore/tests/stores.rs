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
