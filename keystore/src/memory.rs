use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use payhsm_core::{
    Error,
    crypto::SoftwareKey,
    key::KeyAttributes,
    keystore::{KeyStore, ResolvedKey},
    secret::KeyMaterial,
};

/// Keys in process memory, by identifier. Safe to share between threads; keys are expanded
/// once when added and handed out as shared handles.
#[derive(Debug, Default)]
pub struct MemoryKeyStore {
    keys: RwLock<HashMap<String, Entry>>,
}

#[derive(Debug)]
struct Entry {
    attributes: KeyAttributes,
    exportable: bool,
    key: Arc<SoftwareKey>,
}

impl MemoryKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key under `key_identifier`. Refuses an identifier already in use and key
    /// material that does not fit the attributes' algorithm; on refusal nothing changes.
    pub fn insert(
        &self,
        key_identifier: &str,
        attributes: KeyAttributes,
        exportable: bool,
        material: &KeyMaterial,
    ) -> Result<(), Error> {
        let key = Arc::new(SoftwareKey::new(attributes.key_algorithm, material)?);
        let mut keys = self.keys.write().map_err(|_| Error::InvalidValue {
            field: "key store",
            reason: "a writer panicked while holding the store",
        })?;
        if keys.contains_key(key_identifier) {
            return Err(Error::InvalidValue {
                field: "key identifier",
                reason: "already in use",
            });
        }
        keys.insert(
            key_identifier.to_owned(),
            Entry {
                attributes,
                exportable,
                key,
            },
        );
        Ok(())
    }
}

impl KeyStore for MemoryKeyStore {
    type Key = Arc<SoftwareKey>;

    fn resolve(&self, key_identifier: &str) -> Result<ResolvedKey<Self::Key>, Error> {
        let keys = self.keys.read().map_err(|_| Error::InvalidValue {
            field: "key store",
            reason: "a writer panicked while holding the store",
        })?;
        let e = keys.get(key_identifier).ok_or(Error::KeyNotFound)?;
        Ok(ResolvedKey {
            attributes: e.attributes,
            exportable: e.exportable,
            key: Arc::clone(&e.key),
        })
    }
}

#[cfg(test)]
mod tests {
    use payhsm_core::{
        kcv,
        key::{KeyAlgorithm, KeyModesOfUse, KeyUsage, ModeOfUse},
    };

    use super::*;

    fn cvk() -> KeyAttributes {
        KeyAttributes::from_tr31(
            KeyUsage::C0,
            ModeOfUse::GENERATE_VERIFY,
            KeyAlgorithm::Tdes2Key,
        )
        .unwrap()
    }

    #[test]
    fn resolves_what_was_inserted() {
        let store = MemoryKeyStore::new();
        let m = KeyMaterial::from_hex("key", "F039121BEC83D26B169BDCD5B22AAF8F").unwrap();
        store.insert("alias/cvk", cvk(), false, &m).unwrap();
        let k = store.resolve("alias/cvk").unwrap();
        assert_eq!(k.attributes.key_usage, KeyUsage::C0);
        assert_eq!(
            k.attributes.key_modes_of_use,
            KeyModesOfUse::from_mode_of_use(ModeOfUse::GENERATE_VERIFY).unwrap()
        );
        assert_eq!(kcv::default_kcv(&k.key).unwrap().to_string(), "CB9DEA");
        assert_eq!(store.resolve("alias/none").unwrap_err(), Error::KeyNotFound);
    }

    #[test]
    fn refusals_change_nothing() {
        let store = MemoryKeyStore::new();
        let m = KeyMaterial::from_hex("key", "F039121BEC83D26B169BDCD5B22AAF8F").unwrap();
        store.insert("k", cvk(), false, &m).unwrap();
        let other = KeyMaterial::from_hex("key", "0123456789ABCDEFFEDCBA9876543210").unwrap();
        assert!(store.insert("k", cvk(), true, &other).is_err());
        let short = KeyMaterial::from_hex("key", "0123456789ABCDEF").unwrap();
        assert!(store.insert("k2", cvk(), true, &short).is_err());
        assert!(store.resolve("k2").is_err());
        let k = store.resolve("k").unwrap();
        assert!(!k.exportable);
        assert_eq!(kcv::default_kcv(&k.key).unwrap().to_string(), "CB9DEA");
    }
}
