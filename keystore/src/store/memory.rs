//! The in-memory store: for tests and examples. Keys are sealed under the master key here too.

use std::{
    collections::BTreeMap,
    sync::{
        Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use payhsm_core::crypto::SoftwareKey;

use super::{SoftwareVault, Store};
use crate::{
    Error,
    clock::Timestamp,
    master_key::MasterKey,
    model::{AliasRecord, KeyRecord, OutboxEntry, OutboxItem, Setting},
};

/// Keys and aliases in process memory.
#[derive(Debug)]
pub struct MemoryStore {
    vault: SoftwareVault,
    data: Mutex<Data>,
    /// Counts the changes ([`Store::generation`]).
    changes: AtomicU64,
}

#[derive(Debug, Default)]
struct Data {
    keys: BTreeMap<String, KeyRecord>,
    aliases: BTreeMap<String, AliasRecord>,
    /// (import token's key id, nonce) → the token's expiry.
    nonces: BTreeMap<(String, Vec<u8>), Timestamp>,
    outbox: BTreeMap<u64, OutboxItem>,
    last_seq: u64,
    settings: BTreeMap<String, Setting>,
}

impl Data {
    fn enqueue(&mut self, outbox: &[OutboxItem]) {
        for item in outbox {
            self.last_seq += 1;
            self.outbox.insert(self.last_seq, item.clone());
        }
    }
}

impl MemoryStore {
    /// An empty store under `master`.
    pub fn new(master: MasterKey) -> Self {
        Self {
            vault: SoftwareVault::new(master),
            data: Mutex::new(Data::default()),
            changes: AtomicU64::new(0),
        }
    }

    fn data(&self) -> MutexGuard<'_, Data> {
        // Every change below is made under one lock with nothing that can panic between its
        // parts, so a panic cannot leave half of one.
        self.data.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The data, to change: the generation moves while the lock is held, so whoever reads
    /// the old generation reads it before the change is visible.
    fn data_mut(&self) -> MutexGuard<'_, Data> {
        let data = self.data();
        self.changes.fetch_add(1, Ordering::Release);
        data
    }
}

fn page<T: Clone>(map: &BTreeMap<String, T>, after: Option<&str>, limit: usize) -> Vec<T> {
    use std::ops::Bound::{Excluded, Unbounded};
    let start = after.map_or(Unbounded, |a| Excluded(a.to_owned()));
    map.range((start, Unbounded))
        .take(limit)
        .map(|(_, v)| v.clone())
        .collect()
}

impl Store for MemoryStore {
    type Handle = SoftwareKey;
    type Vault = SoftwareVault;

    fn vault(&self) -> &SoftwareVault {
        &self.vault
    }

    fn generation(&self) -> Result<Option<u64>, Error> {
        Ok(Some(self.changes.load(Ordering::Acquire)))
    }

    fn get_key(&self, key_id: &str) -> Result<Option<KeyRecord>, Error> {
        Ok(self.data().keys.get(key_id).cloned())
    }

    fn list_keys(&self, after: Option<&str>, limit: usize) -> Result<Vec<KeyRecord>, Error> {
        Ok(page(&self.data().keys, after, limit))
    }

    fn insert_key(&self, record: &KeyRecord, outbox: &[OutboxItem]) -> Result<(), Error> {
        let mut d = self.data_mut();
        if d.keys.contains_key(&record.key_id) {
            return Err(Error::conflict("a key with this id exists"));
        }
        d.keys.insert(record.key_id.clone(), record.clone());
        d.enqueue(outbox);
        Ok(())
    }

    fn update_key(&self, record: &KeyRecord, outbox: &[OutboxItem]) -> Result<bool, Error> {
        let mut d = self.data_mut();
        match d.keys.get(&record.key_id) {
            Some(old) if old.revision + 1 == record.revision => {
                d.keys.insert(record.key_id.clone(), record.clone());
                d.enqueue(outbox);
                Ok(true)
            }
            Some(_) => Ok(false),
            None => Err(Error::not_found(&record.key_id)),
        }
    }

    fn outbox(&self, after: Option<u64>, limit: usize) -> Result<Vec<OutboxEntry>, Error> {
        use std::ops::Bound::{Excluded, Unbounded};
        let start = after.map_or(Unbounded, Excluded);
        Ok(self
            .data()
            .outbox
            .range((start, Unbounded))
            .take(limit)
            .map(|(seq, item)| OutboxEntry {
                seq: *seq,
                item: item.clone(),
            })
            .collect())
    }

    fn remove_outbox(&self, seq: u64) -> Result<(), Error> {
        self.data_mut().outbox.remove(&seq);
        Ok(())
    }

    fn get_setting(&self, name: &str) -> Result<Option<Setting>, Error> {
        Ok(self.data().settings.get(name).cloned())
    }

    fn put_setting(&self, setting: &Setting) -> Result<bool, Error> {
        let mut d = self.data_mut();
        let stored = d.settings.get(&setting.name).map_or(0, |s| s.revision);
        if stored + 1 != setting.revision {
            return Ok(false);
        }
        d.settings.insert(setting.name.clone(), setting.clone());
        Ok(true)
    }

    fn get_alias(&self, alias_name: &str) -> Result<Option<AliasRecord>, Error> {
        Ok(self.data().aliases.get(alias_name).cloned())
    }

    fn list_aliases(&self, after: Option<&str>, limit: usize) -> Result<Vec<AliasRecord>, Error> {
        Ok(page(&self.data().aliases, after, limit))
    }

    fn insert_alias(&self, alias: &AliasRecord) -> Result<(), Error> {
        let mut d = self.data_mut();
        if d.aliases.contains_key(&alias.alias_name) {
            return Err(Error::conflict("the alias exists"));
        }
        d.aliases.insert(alias.alias_name.clone(), alias.clone());
        Ok(())
    }

    fn update_alias(&self, alias: &AliasRecord) -> Result<bool, Error> {
        let mut d = self.data_mut();
        match d.aliases.get(&alias.alias_name) {
            Some(old) if old.revision + 1 == alias.revision => {
                d.aliases.insert(alias.alias_name.clone(), alias.clone());
                Ok(true)
            }
            Some(_) => Ok(false),
            None => Err(Error::not_found(&alias.alias_name)),
        }
    }

    fn delete_alias(&self, alias_name: &str) -> Result<bool, Error> {
        Ok(self.data_mut().aliases.remove(alias_name).is_some())
    }

    fn consume_nonce(
        &self,
        token_key_id: &str,
        nonce: &[u8],
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<bool, Error> {
        let mut d = self.data_mut();
        d.nonces.retain(|_, e| *e > now);
        let key = (token_key_id.to_owned(), nonce.to_vec());
        if d.nonces.contains_key(&key) {
            return Ok(false);
        }
        d.nonces.insert(key, expires);
        Ok(true)
    }
}
