//! The HSM's cache of verified keys, for the data plane.
//!
//! Two bounded maps, least recently used out first:
//! - the records the data plane's key identifiers named, each with the store's generation
//!   ([`Store::generation`](crate::Store::generation)) read before the record was: served while
//!   the generation is the same, so any change to the store since (through this HSM, another
//!   HSM on the same data, another process on the same SQLite file) sends the next use back to
//!   the store. Only usable records (`CREATE_COMPLETE` and enabled) are kept.
//! - the key handles opened from records, by key id: served for a record whose key block,
//!   attributes and exportability (everything the store's integrity check compares) are the
//!   ones the handle was opened and checked from.
//!
//! A handle dropped from the cache (evicted, forgotten, replaced) is zeroized when the last
//! operation using it ends (the handles zeroize on drop).

use std::{
    collections::HashMap,
    sync::{
        Arc, PoisonError, RwLock,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
};

use crate::model::KeyRecord;

/// How many key identifiers, and how many handles, the cache keeps.
pub(crate) const CAPACITY: usize = 1024;

/// See the module documentation.
pub(crate) struct KeyCache<H> {
    records: RwLock<Lru<(u64, Arc<KeyRecord>)>>,
    handles: RwLock<Lru<(Arc<KeyRecord>, Arc<H>)>>,
}

impl<H> KeyCache<H> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            records: RwLock::new(Lru::new(capacity)),
            handles: RwLock::new(Lru::new(capacity)),
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

    /// The handle opened from a record that agrees with `record` in everything its check
    /// compared.
    pub(crate) fn handle(&self, record: &KeyRecord) -> Option<Arc<H>> {
        let handles = read(&self.handles);
        match handles.get(&record.key_id) {
            Some((opened, handle)) if same_material(opened, record) => Some(Arc::clone(handle)),
            _ => None,
        }
    }

    /// Keeps the handle opened and checked from `record`.
    pub(crate) fn put_handle(&self, record: &KeyRecord, handle: &Arc<H>) {
        write(&self.handles).insert(
            &record.key_id,
            (Arc::new(record.clone()), Arc::clone(handle)),
        );
    }

    /// Drops everything kept for key `key_id` (it changed, or its material is destroyed).
    pub(crate) fn forget(&self, key_id: &str) {
        write(&self.handles).remove(key_id);
        write(&self.records).retain(|(_, record)| record.key_id != key_id);
    }

    /// Drops everything.
    pub(crate) fn clear(&self) {
        write(&self.handles).clear();
        write(&self.records).clear();
    }
}

/// Whether a handle opened from `opened` is the key of `record`: the same key id, key block,
/// attributes and exportability.
fn same_material(opened: &KeyRecord, record: &KeyRecord) -> bool {
    opened.key_id == record.key_id
        && opened.key_block == record.key_block
        && opened.attributes == record.attributes
        && opened.exportable == record.exportable
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
struct Lru<V> {
    map: HashMap<String, (V, AtomicU64)>,
    clock: AtomicU64,
    capacity: usize,
}

impl<V> Lru<V> {
    fn new(capacity: usize) -> Self {
        Self {
            map: HashMap::new(),
            clock: AtomicU64::new(0),
            capacity: capacity.max(1),
        }
    }

    fn get(&self, key: &str) -> Option<&V> {
        let (value, used) = self.map.get(key)?;
        used.store(self.clock.fetch_add(1, Relaxed), Relaxed);
        Some(value)
    }

    fn insert(&mut self, key: &str, value: V) {
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

    fn remove(&mut self, key: &str) {
        self.map.remove(key);
    }

    fn retain(&mut self, mut keep: impl FnMut(&V) -> bool) {
        self.map.retain(|_, (value, _)| keep(value));
    }

    fn clear(&mut self) {
        self.map.clear();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
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
}
