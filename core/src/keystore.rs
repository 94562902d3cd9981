//! The trait that turns a key identifier into a usable key.
//!
//! Operations by key id (the HSM in `payhsm-keystore`) resolve the identifier through a
//! [`KeyStore`], check the returned [`KeyAttributes`] against the operation's policy, and only
//! then run the algorithm on the handle. Backends differ in where the key lives (process
//! memory, a PKCS#11 token); the algorithms do not.

use crate::{Error, crypto::SymmetricKey, key::KeyAttributes};

/// A key resolved from a store: its attributes and a handle to use it.
#[derive(Debug)]
pub struct ResolvedKey<K> {
    /// The key's attributes, as stored with it (authenticated with the key in a key block).
    pub attributes: KeyAttributes,
    /// Whether the key may leave the store.
    pub exportable: bool,
    /// The handle.
    pub key: K,
}

/// Resolves key identifiers (ARNs or aliases) to keys.
pub trait KeyStore {
    /// The handle type of this store's keys.
    type Key: SymmetricKey;

    /// The key with this identifier, or [`Error::KeyNotFound`].
    fn resolve(&self, key_identifier: &str) -> Result<ResolvedKey<Self::Key>, Error>;
}
