//! The conformance suite on the in-memory store and on the embedded SQLite store.

mod conformance;

use payhsm_core::rng::OsRandom;
use payhsm_keystore::{MemoryStore, SqliteStore, master_key::MasterKey};

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
