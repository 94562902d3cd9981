//! Payment cryptography on key handles.
//!
//! `payhsm-core` is the bottom layer of payhsm: the key model shared by TR-31 key blocks and
//! AWS Payment Cryptography ([`key`]), secret types ([`secret`]), the key-handle traits every
//! algorithm runs on with their software implementation ([`crypto`]), key check values
//! ([`kcv`]) and the [`KeyStore`](keystore::KeyStore) trait that resolves a key identifier.
//!
//! Every algorithm is written once against [`crypto::SymmetricKey`], so the same code runs on
//! keys held in process memory ([`crypto::SoftwareKey`]) and on keys inside a token.
//!
//! The crate is `#![no_std]`; `alloc` and `std` (the default, which adds the operating system's
//! random source) are features.
#![no_std]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod card;
pub mod crypto;
pub mod derived;
pub mod dukpt;
pub mod emv;
mod error;
pub mod fields;
pub mod hex;
pub mod kcv;
pub mod key;
pub mod keystore;
pub mod mac;
mod names;
pub mod pin;
pub mod rng;
pub mod secret;
#[cfg(feature = "alloc")]
pub mod shamir;

pub use error::{BackendFailure, Error, Refusal};
