//! The payhsm HSM: where keys live and what may be done with them.
//!
//! This crate starts with [`MemoryKeyStore`], the in-memory store for tests and examples. The
//! embedded SQLite store, lifecycle, policy and audit log build on the same
//! [`KeyStore`](payhsm_core::keystore::KeyStore) trait.

mod memory;

pub use memory::MemoryKeyStore;
