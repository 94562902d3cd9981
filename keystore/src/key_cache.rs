//! The HSM's cache of the records its data plane uses, and the bounded map the caches of key
//! handles use.
//!
//! [`KeyCache`] keeps the records the data plane's key identifiers named, each with the
//! store's generation ([`Store::generation`](crate::Store::generation)) read before the record
//! was: a record is served while the generation is the same, so any change to the store since
//! (through this HSM, another HSM on the same data, another process on the same SQLite file)
//! sends the next use back to the store. Only usable records (`CREATE_COMPLETE` and enabled)
//! are kept. The handles are the store's to cache: its vault knows when one is stale (a
//! software vault: the record's key block, attributes and exportability are no longer the
//! ones it was checked against; a token vault: also the token's login was lost).
//!
//! Both are [`Lru`] maps: bounded, least recently used out first. A handle dropped from one
//! (evicted, forgotten, replaced) is zeroized when the last operation using it ends.

use std::{
    collections::HashMap,
    sync::{
        Arc, PoisonError, RwLock,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
};

use payhsm_core::key::KeyAttributes;

use crate::model::KeyRecord;

/// How many key identifiers, and how many handles, the cache keeps.
pub(crate) const CAPACITY: usize = 1024;

/// See the module documentation.
pub(crate) struct KeyCache {
    records: RwLock<Lru<(u64, Arc<KeyRecord>)>>,
}

impl KeyCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            records: RwLock::new(Lru::new(capacity)),
        }
    }

    /// The record `identifier` named when the store was at `generation`, if it still is.
    pub(crate) fn record(&self, identifier: &str, generation: u64) -> Option<Arc<KeyRecord>> {
        let records = read(&self.records);
        match records.get(identifier) {
            Some((g, record)) if *g == generation => Some(Arc::clone(record)),
            _ => None,
        }
    }

    /// Keeps `record`, read at `generation` for `identifier`, if it is usable; otherwise drops
    /// whatever is kept for its key.
    pub(crate) fn put_record(&self, identifier: &str, generation: u64, record: &Arc<KeyRecord>) {
        if crate::policy::check_usable(record).is_ok() {
            write(&self.records).insert(identifier, (generation, Arc::clone(record)));
        } else {
            self.forget(&record.key_id);
        }
    }

    /// Drops every record kept for key `key_id` (it changed).
    pub(crate) fn forget(&self, key_id: &str) {
        write(&self.records).retain(|(_, record)| record.key_id != key_id);
    }

    /// Drops everything.
    pub(crate) fn clear(&self) {
        write(&self.records).clear();
    }
}

/// What a vault checked a handle's material against: the record's key block, attributes and
/// exportability (with the key id the handle is kept under). A handle is the key of any record
/// that agrees in all three.
#[derive(Debug)]
pub(crate) struct Checked {
    key_block: Option<String>,
    attributes: KeyAttributes,
    exportable: bool,
}

impl Checked {
    pub(crate) fn of(record: &KeyRecord) -> Self {
        Self {
            key_block: record.key_block.clone(),
            attributes: record.attributes,
            exportable: record.exportable,
        }
    }

    pub(crate) fn matches(&self, record: &KeyRecord) -> bool {
        self.key_block == record.key_block
            && self.attributes == record.attributes
            && self.exportable == record.exportable
    }
}

// The maps hold no invariant a panicking holder could break.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// A map of at most `capacity` entries that drops the least recently used to make room.
/// Lookups take `&self` (a read lock) and stamp the entry from a shared clock.
pub(crate) struct Lru<V> {
    map: HashMap<String, (V, AtomicU64)>,
    clock: AtomicU64,
    capacity: usize,
}

/// The count only: the values may be key handles.
impl<V> std::fmt::Debug for Lru<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lru")
            .field("len", &self.map.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl<V> Lru<V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            map: HashMap::new(),
            clock: AtomicU64::new(0),
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&V> {
        let (value, used) = self.map.get(key)?;
        used.store(self.clock.fetch_add(1, Relaxed), Relaxed);
        Some(value)
    }

    pub(crate) fn insert(&mut self, key: &str, value: V) {
        if !self.map.contains_key(key) && self.map.len() >= self.capacity {
            // At capacity only: a scan, on a miss, against a store read and a key unwrap.
            let oldest = self
                .map
                .iter()
                .min_by_key(|(_, (_, used))| used.load(Relaxed))
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.map.remove(&oldest);
            }
        }
        let used = AtomicU64::new(self.clock.fetch_add(1, Relaxed));
        self.map.insert(key.to_owned(), (value, used));
    }

    pub(crate) fn remove(&mut self, key: &str) {
        self.map.remove(key);
    }

    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&V) -> bool) {
        self.map.retain(|_, (value, _)| keep(value));
    }

    pub(crate) fn clear(&mut self) {
        self.map.clear();
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::Lru;

    #[test]
    fn the_least_recently_used_entry_makes_room() {
        let mut lru = Lru::new(2);
        lru.insert("a", 1);
        lru.insert("b", 2);
        assert_eq!(lru.get("a"), Some(&1));
        lru.insert("c", 3);
        assert_eq!(lru.len(), 2);
        assert_eq!(lru.get("b"), None);
        assert_eq!(lru.get("a"), Some(&1));
        assert_eq!(lru.get("c"), Some(&3));
        // Replacing an entry makes no room.
        lru.insert("c", 4);
        assert_eq!(
            (lru.len(), lru.get("a"), lru.get("c")),
            (2, Some(&1), Some(&4))
        );
    }

    #[test]
    fn an_evicted_handle_is_dropped() {
        let first = std::sync::Arc::new(1u8);
        let mut lru = Lru::new(1);
        lru.insert("a", std::sync::Arc::clone(&first));
        assert_eq!(std::sync::Arc::strong_count(&first), 2);
        lru.insert("b", std::sync::Arc::new(2));
        // The cache holds it no more: the last user's drop zeroizes a key handle.
        assert_eq!(std::sync::Arc::strong_count(&first), 1);
    }
}
