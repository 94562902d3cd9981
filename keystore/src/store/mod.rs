//! Where keys rest: the [`Store`] trait, [`MemoryStore`] (tests and examples) and
//! [`SqliteStore`] (the default, one database per region).
//!
//! A store persists [`KeyRecord`]s, [`AliasRecord`]s and the nonces TR-34 imports consumed,
//! and turns a record into a usable key
//! handle through its [`Vault`]. It never holds a clear key: the [`SoftwareVault`] keeps each
//! key as a TR-31 version D key block under the region's master key, and the PKCS#11 vault
//! (`pkcs11::TokenVault`, feature `pkcs11`) keeps a reference to a token object instead, so
//! the same SQLite records serve both. Every write is atomic, and updates are
//! compare-and-swap on the record's revision, so concurrent writers (threads or processes)
//! never lose an update: a stale write fails with `ConflictException` and the HSM retries it
//! on fresh data.
//!
//! A store also keeps the replication outbox ([`OutboxItem`]s, written in the same transaction
//! as the key record whose change they follow) and the region's settings ([`Setting`]: the
//! account's default replication regions, the links to other regions).
//!
//! The same conformance suite (`keystore/tests/conformance`) runs on every store.

mod memory;
#[cfg(feature = "pkcs11")]
pub mod pkcs11;
mod sqlite;
mod vault;

pub use memory::MemoryStore;
pub use sqlite::{SqliteStore, backup};
pub use vault::SoftwareVault;
pub(crate) use vault::software_key;

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use payhsm_core::{crypto::SymmetricKey, key::KeyAttributes, secret::SecretVec};
use payhsm_tr34::rsa::{RsaPrivateKey, SoftwareRsaKey};

use crate::{
    Error,
    clock::Timestamp,
    ecc::{Curve, EcPrivateKey, SoftwareEcKey},
    model::{AliasRecord, KeyRecord, OutboxEntry, OutboxItem, Setting},
};

/// Persisted key records, aliases, and the key handles they yield.
pub trait Store: Send + Sync {
    /// The handle type of this store's keys.
    type Handle: SymmetricKey + Send + Sync + 'static;

    /// Where this store's key material lives.
    type Vault: Vault<Handle = Self::Handle>;

    /// The store's vault: every key-material method below goes to it.
    fn vault(&self) -> &Self::Vault;

    /// What the store's key material is bound to: the KCV of the master key (software
    /// vault) or the token's label and serial number (PKCS#11 vault).
    fn key_binding(&self) -> &str {
        self.vault().binding()
    }

    /// A number that changes whenever anything the store holds may have changed, through
    /// this store or any other writer of the same data (another process on the same file),
    /// so that what was read at one generation may be used again while it lasts (the HSM's
    /// cache of verified keys). `None`, the default: the store cannot tell cheaply, and
    /// nothing read from it is kept.
    fn generation(&self) -> Result<Option<u64>, Error> {
        Ok(None)
    }

    /// The record of key `key_id`, if there is one.
    fn get_key(&self, key_id: &str) -> Result<Option<KeyRecord>, Error>;

    /// Up to `limit` records in key-id order, starting after `after`.
    fn list_keys(&self, after: Option<&str>, limit: usize) -> Result<Vec<KeyRecord>, Error>;

    /// Adds a new record (revision 1) and, in the same transaction, the `outbox` items.
    /// `ConflictException` if the key id exists.
    fn insert_key(&self, record: &KeyRecord, outbox: &[OutboxItem]) -> Result<(), Error>;

    /// Replaces a record whose stored revision is `record.revision - 1` and, in the same
    /// transaction, adds the `outbox` items. `false`, changing nothing, when the stored
    /// revision differs (someone else changed it: retry on fresh data).
    fn update_key(&self, record: &KeyRecord, outbox: &[OutboxItem]) -> Result<bool, Error>;

    /// Up to `limit` outbox entries in commit order, starting after `after`.
    fn outbox(&self, after: Option<u64>, limit: usize) -> Result<Vec<OutboxEntry>, Error>;

    /// Removes the outbox entry `seq` (its work is done); removing a removed one is no error.
    fn remove_outbox(&self, seq: u64) -> Result<(), Error>;

    /// The setting, if there is one.
    fn get_setting(&self, name: &str) -> Result<Option<Setting>, Error>;

    /// Adds a setting (revision 1) or replaces one whose stored revision is
    /// `setting.revision - 1`; `false`, changing nothing, when the stored revision differs.
    fn put_setting(&self, setting: &Setting) -> Result<bool, Error>;

    /// Sets the setting `name` to what `change` makes of its value (`None`: there is none
    /// yet), retrying when another writer changes it meanwhile. `change` returning `None` leaves
    /// the setting as it is. The value written, or `None` if `change` declined.
    fn update_setting(
        &self,
        name: &str,
        change: impl Fn(Option<&str>) -> Option<String>,
    ) -> Result<Option<String>, Error>
    where
        Self: Sized,
    {
        for _ in 0..3 {
            let stored = self.get_setting(name)?;
            let Some(value) = change(stored.as_ref().map(|s| s.value.as_str())) else {
                return Ok(None);
            };
            let next = Setting {
                name: name.to_owned(),
                value,
                revision: stored.map_or(1, |s| s.revision + 1),
            };
            if self.put_setting(&next)? {
                return Ok(Some(next.value));
            }
        }
        Err(Error::conflict(format!(
            "the setting {name} is changing too often; retry"
        )))
    }

    /// The alias, if there is one.
    fn get_alias(&self, alias_name: &str) -> Result<Option<AliasRecord>, Error>;

    /// Up to `limit` aliases in name order, starting after `after`.
    fn list_aliases(&self, after: Option<&str>, limit: usize) -> Result<Vec<AliasRecord>, Error>;

    /// Adds a new alias (revision 1). `ConflictException` if it exists.
    fn insert_alias(&self, alias: &AliasRecord) -> Result<(), Error>;

    /// Replaces an alias whose stored revision is `alias.revision - 1`; `false`, changing
    /// nothing, when the stored revision differs.
    fn update_alias(&self, alias: &AliasRecord) -> Result<bool, Error>;

    /// Removes an alias; whether it existed.
    fn delete_alias(&self, alias_name: &str) -> Result<bool, Error>;

    /// Records that a TR-34 import under the import token of key pair `token_key_id` used
    /// `nonce`, until `expires` (the token's expiry), and forgets the nonces of tokens expired
    /// at `now`. `false`, recording nothing, when `nonce` was recorded for that token before.
    /// Atomic: of concurrent calls with the same token and nonce, one returns `true`.
    fn consume_nonce(
        &self,
        token_key_id: &str,
        nonce: &[u8],
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<bool, Error>;

    /// Destroys key material in the vault that no record refers to and that is older than
    /// `grace`: what a process killed between creating it and committing its record left
    /// behind. A description of each, for the audit. The default: a store whose material lives
    /// in its records leaves none.
    fn sweep_orphans(&self, grace: Duration) -> Result<Vec<String>, Error> {
        let _ = grace;
        Ok(Vec::new())
    }

    /// The persisted form of new key material for key `key_id`.
    fn seal(
        &self,
        key_id: &str,
        attributes: &KeyAttributes,
        exportable: bool,
        material: &[u8],
    ) -> Result<String, Error> {
        self.vault().seal(key_id, attributes, exportable, material)
    }

    /// New random key material for key `key_id`, in its persisted form. A token store has the
    /// token generate it, so its value never exists outside the token.
    fn generate(
        &self,
        key_id: &str,
        attributes: &KeyAttributes,
        exportable: bool,
    ) -> Result<String, Error> {
        self.vault().generate(key_id, attributes, exportable)
    }

    /// Destroys key material that [`Store::seal`] or [`Store::generate`] persisted for a key
    /// whose creation then failed, so that nothing half-created remains (a token object).
    fn discard(&self, key_id: &str, key_block: &str) -> Result<(), Error> {
        self.vault().destroy(key_id, key_block)
    }

    /// The handle of a stored key, after checking that its persisted form authenticates and
    /// agrees with the record.
    fn open(&self, record: &KeyRecord) -> Result<Arc<Self::Handle>, Error> {
        self.vault().open(record)
    }

    /// The key's bytes, for the operations that need them in the clear (an export key block,
    /// a TDES DUKPT initial key). A token store refuses with `NotSupported`: its keys' values
    /// never leave the token.
    fn reveal(&self, record: &KeyRecord) -> Result<SecretVec, Error> {
        self.vault().reveal(record)
    }

    /// Whether this store's symmetric keys can leave it under a wrapping key (be exported,
    /// and so replicated to another region): a token store refuses with `NotSupported`.
    fn check_export_supported(&self) -> Result<(), Error> {
        self.vault().check_export_supported()
    }

    /// The RSA private key of a stored key pair, for the HSM's private-key operations (TR-34
    /// signing and unwrapping, issuing certificates): see [`Vault::private_key`].
    fn private_key(&self, record: &KeyRecord) -> Result<Box<dyn RsaPrivateKey + '_>, Error> {
        self.vault().private_key(record)
    }

    /// The ECC private key of a stored key pair, for ECDH and ECDSA: see
    /// [`Vault::ec_private_key`].
    fn ec_private_key(&self, record: &KeyRecord) -> Result<Box<dyn EcPrivateKey + '_>, Error> {
        self.vault().ec_private_key(record)
    }

    /// Drops any cached handle of key `key_id` (its material is being destroyed).
    fn forget_handle(&self, key_id: &str) {
        self.vault().forget(key_id);
    }

    /// Drops every cached handle.
    fn forget_all_handles(&self) {
        self.vault().forget_all();
    }
}

/// Where a store's key material lives, and how a record's persisted material becomes a handle.
///
/// A vault is bound to one master key or one token; the store records that binding when it is
/// created and refuses to open under another.
pub trait Vault: Send + Sync {
    /// The handle type of this vault's keys.
    type Handle: SymmetricKey + Send + Sync + 'static;

    /// What the key material is bound to (see [`Store::key_binding`]).
    fn binding(&self) -> &str;

    /// Checks the binding a store recorded against this vault's: `AccessDenied`, naming both,
    /// when the store at `store` was made for another master key or token.
    fn check_binding(&self, recorded: &str, store: &std::path::Path) -> Result<(), Error>;

    /// See [`Store::seal`].
    fn seal(
        &self,
        key_id: &str,
        attributes: &KeyAttributes,
        exportable: bool,
        material: &[u8],
    ) -> Result<String, Error>;

    /// See [`Store::generate`].
    fn generate(
        &self,
        key_id: &str,
        attributes: &KeyAttributes,
        exportable: bool,
    ) -> Result<String, Error>;

    /// Destroys persisted key material: a deleted key's, or one no record came to reference.
    fn destroy(&self, key_id: &str, key_block: &str) -> Result<(), Error>;

    /// Whether the vault keeps key material outside the records (token objects), which a
    /// killed process can leave orphaned.
    fn holds_objects(&self) -> bool {
        false
    }

    /// Destroys the vault's objects older than `grace` that no key block in `referenced`
    /// names (see [`Store::sweep_orphans`]). The default: a vault whose material is the key
    /// block itself has nothing outside the records.
    fn sweep_orphans(
        &self,
        referenced: &BTreeSet<String>,
        grace: Duration,
    ) -> Result<Vec<String>, Error> {
        let _ = (referenced, grace);
        Ok(Vec::new())
    }

    /// See [`Store::open`].
    fn open(&self, record: &KeyRecord) -> Result<Arc<Self::Handle>, Error>;

    /// See [`Store::reveal`].
    fn reveal(&self, record: &KeyRecord) -> Result<SecretVec, Error>;

    /// See [`Store::check_export_supported`]. The default: the vault reveals its keys to
    /// the HSM, which wraps them.
    fn check_export_supported(&self) -> Result<(), Error> {
        Ok(())
    }

    /// The RSA private key of a stored key pair. The default reads the sealed PKCS #1
    /// `RSAPrivateKey` with [`Vault::reveal`] into a constant-time aws-lc key that lives for the
    /// one operation; a token vault overrides it to keep the key in the token.
    fn private_key(&self, record: &KeyRecord) -> Result<Box<dyn RsaPrivateKey + '_>, Error> {
        unseal_private_key(record, &self.reveal(record)?)
    }

    /// The ECC private key of a stored key pair. The default reads the sealed SEC 1
    /// `ECPrivateKey` with [`Vault::reveal`] into a key that lives for the one operation.
    fn ec_private_key(&self, record: &KeyRecord) -> Result<Box<dyn EcPrivateKey + '_>, Error> {
        let curve = Curve::of(record.attributes.key_algorithm).ok_or_else(|| {
            Error::internal(format!("key {} is not an ECC key pair", record.key_id))
        })?;
        let key = SoftwareEcKey::from_sec1_der(curve, self.reveal(record)?.expose_secret())
            .map_err(|_| {
                Error::internal(format!(
                    "key {} failed its integrity check: not an EC private key on its curve",
                    record.key_id
                ))
            })?;
        Ok(Box::new(key))
    }

    /// Drops any cached handle of key `key_id`.
    fn forget(&self, key_id: &str);

    /// Drops every cached handle.
    fn forget_all(&self);
}

/// The constant-time aws-lc key of a sealed PKCS #1 `RSAPrivateKey`, after checking that it
/// parses and has the size its record states.
fn unseal_private_key(
    record: &KeyRecord,
    der: &SecretVec,
) -> Result<Box<dyn RsaPrivateKey + 'static>, Error> {
    let key = SoftwareRsaKey::from_pkcs1_der(der.expose_secret()).map_err(|_| {
        Error::internal(format!(
            "key {} failed its integrity check: not an RSA private key",
            record.key_id
        ))
    })?;
    if key.public_key().size().key_algorithm() != record.attributes.key_algorithm {
        return Err(Error::internal(format!(
            "key {} failed its integrity check: the key's size does not match the record",
            record.key_id
        )));
    }
    Ok(Box::new(key))
}

/// Test hook for the crash-safety tests: when the environment variable `PAYHSM_FAILPOINT`
/// names this point, the process announces it on stderr (`FAILPOINT <name>`) and stops there
/// until it is killed. Unset, it costs one read of a cached value.
pub fn failpoint(name: &str) {
    use std::sync::OnceLock;
    static TARGET: OnceLock<Option<String>> = OnceLock::new();
    let target = TARGET.get_or_init(|| std::env::var("PAYHSM_FAILPOINT").ok());
    if target.as_deref() == Some(name) {
        use std::io::Write as _;
        let mut err = std::io::stderr();
        let _ = writeln!(err, "FAILPOINT {name}");
        let _ = err.flush();
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}
