//! Key material at rest for the software stores: TR-31 version D key blocks under the master
//! key, and a cache of the handles they unwrap to.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use payhsm_core::{
    crypto::SoftwareKey,
    key::{KeyAlgorithm, KeyAttributes},
    rng::OsRandom,
    secret::{KeyMaterial, SecretVec},
};
use payhsm_tr31::{BlockId, Kbpk, OptionalBlock, UnwrapOptions, WrapOptions};

use super::Vault;
use crate::{Error, master_key::MasterKey, material::generate_material, model::KeyRecord, policy};

/// Seals key material under the master key and opens it again, caching the handles.
///
/// A sealed key is a version D key block whose header states the key's usage, algorithm, mode
/// of use and exportability and whose label (`LB`) is the key id. Its payload is the key: the
/// bytes of a symmetric key, the PKCS #1 `RSAPrivateKey` of an RSA key pair (as X9.143 §8.5
/// carries one), or the DER certificate of an imported public key (not secret, but sealed
/// all the same, so that a stored trust anchor cannot be swapped behind the HSM's back). Opening checks the MAC and
/// then that the header and label agree with the record, so a block moved to another record or
/// a column edited behind the HSM's back is an integrity error, not a silently different key.
pub struct SoftwareVault {
    master: MasterKey,
    cache: Mutex<HashMap<String, (String, Arc<SoftwareKey>)>>,
}

impl std::fmt::Debug for SoftwareVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SoftwareVault({:?})", self.master)
    }
}

impl SoftwareVault {
    /// A vault under `master`.
    pub fn new(master: MasterKey) -> Self {
        Self {
            master,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cache_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Arc<SoftwareKey>)>> {
        // The cache holds no invariant a panicking holder could break.
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Vault for SoftwareVault {
    type Handle = SoftwareKey;

    /// The master key's KCV.
    fn binding(&self) -> &str {
        self.master.check_value()
    }

    fn check_binding(&self, recorded: &str, store: &std::path::Path) -> Result<(), Error> {
        if recorded == self.master.check_value() {
            return Ok(());
        }
        Err(Error::AccessDenied {
            message: format!(
                "wrong master key for {}: the store was made under the master key with KCV \
                 {recorded}, this one has KCV {}",
                store.display(),
                self.master.check_value()
            ),
        })
    }

    /// The key block for new key material.
    fn seal(
        &self,
        key_id: &str,
        attributes: &KeyAttributes,
        exportable: bool,
        material: &[u8],
    ) -> Result<String, Error> {
        let header = policy::header_for(attributes, exportable)?
            .with_optional_block(
                OptionalBlock::new(BlockId::LB, key_id)
                    .map_err(|e| Error::internal(format!("key label: {e}")))?,
            )
            .map_err(|e| Error::internal(format!("key label: {e}")))?;
        payhsm_tr31::wrap(
            Kbpk::Key(self.master.key()),
            &header,
            material,
            &WrapOptions::default(),
            &mut OsRandom,
        )
        .map_err(|e| Error::internal(format!("sealing key {key_id}: {e}")))
    }

    /// A key block for new key material drawn from the OS random source.
    fn generate(
        &self,
        key_id: &str,
        attributes: &KeyAttributes,
        exportable: bool,
    ) -> Result<String, Error> {
        let material = generate_material(attributes.key_algorithm)?;
        self.seal(key_id, attributes, exportable, material.expose_secret())
    }

    /// A key block is only text in its record: nothing to destroy beside it.
    fn destroy(&self, _key_id: &str, _key_block: &str) -> Result<(), Error> {
        Ok(())
    }

    /// The key's bytes, after authenticating its block against the record.
    fn reveal(&self, record: &KeyRecord) -> Result<SecretVec, Error> {
        let integrity = |what: &str| {
            Error::internal(format!(
                "key {} failed its integrity check: {what}",
                record.key_id
            ))
        };
        let block = record
            .key_block
            .as_deref()
            .ok_or_else(|| integrity("its key material is destroyed"))?;
        // The vault's own blocks, which never travel: whatever their padding.
        let own = UnwrapOptions {
            allow_short_padding: true,
            ..UnwrapOptions::default()
        };
        let unwrapped = payhsm_tr31::unwrap(Kbpk::Key(self.master.key()), block, &own)
            .map_err(|_| integrity("the key block does not authenticate under the master key"))?;
        let expected = policy::header_for(&record.attributes, record.exportable)?;
        let h = &unwrapped.header;
        let agrees = h.key_usage() == expected.key_usage()
            && h.algorithm() == expected.algorithm()
            && h.mode_of_use() == expected.mode_of_use()
            && h.exportability() == expected.exportability()
            && h.label() == Some(record.key_id.as_str())
            // Symmetric keys have their algorithm's length; an RSA key or a certificate is
            // DER, which its reader checks.
            && record
                .attributes
                .key_algorithm
                .key_len()
                .is_none_or(|len| len == unwrapped.key.len());
        if !agrees {
            return Err(integrity("the key block does not match the record"));
        }
        Ok(unwrapped.key)
    }

    /// The handle of a stored key (cached per key id and block).
    fn open(&self, record: &KeyRecord) -> Result<Arc<SoftwareKey>, Error> {
        let block = record.key_block.as_deref().unwrap_or_default();
        if let Some((cached_block, handle)) = self.cache_lock().get(&record.key_id)
            && cached_block == block
        {
            return Ok(Arc::clone(handle));
        }
        let bytes = self.reveal(record)?;
        let handle = Arc::new(software_key(
            record.attributes.key_algorithm,
            bytes.expose_secret(),
        )?);
        self.cache_lock().insert(
            record.key_id.clone(),
            (block.to_owned(), Arc::clone(&handle)),
        );
        Ok(handle)
    }

    fn forget(&self, key_id: &str) {
        self.cache_lock().remove(key_id);
    }

    fn forget_all(&self) {
        self.cache_lock().clear();
    }
}

/// A software key from bytes.
pub(crate) fn software_key(algorithm: KeyAlgorithm, bytes: &[u8]) -> Result<SoftwareKey, Error> {
    let m = KeyMaterial::from_slice("key", bytes).map_err(|e| Error::internal(e.to_string()))?;
    SoftwareKey::new(algorithm, &m).map_err(|e| Error::internal(e.to_string()))
}
