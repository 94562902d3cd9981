//! TR-34 key transport (ANSI X9 TR-34-2019): a Key Distribution Host (KDH) sends a symmetric
//! key to a Key Receiving Device (KRD) under RSA.
//!
//! - [`token`]: import (KRD) and export (KDH) of key tokens, two-pass and one-pass, in the CMS
//!   form of TR-34-2019 and in the `X9_TR34_2012` form AWS Payment Cryptography imports and
//!   exports (the default).
//! - [`cert`]: X.509 certificates and CSRs for a CA, KDH and KRD, and chain validation.
//! - [`rsa`]: RSA public keys, the [`RsaPrivateKey`](rsa::RsaPrivateKey) trait every private-key
//!   operation goes through, and its constant-time software implementation on aws-lc-rs
//!   (feature `aws-lc`).
//! - [`KeyBlockHeader`]: the TR-31-style header that binds the key's attributes.
//!
//! The KRD verifies the KDH's certificate chain and signature before any private-key
//! operation, accepts only RSA-OAEP for key transport, and reports one uniform error for every
//! failure after decryption.
//!
//! The crate is `#![no_std]` with `alloc`; `std` (default) adds the system clock, and `aws-lc`
//! (default, requires `std`) adds the software private-key backend.
#![no_std]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod cert;
mod error;
mod header;
pub mod oid;
pub mod rsa;
pub mod token;

/// The DER crate this crate's types encode with, re-exported so callers use the same version.
pub use der;
pub use der::DateTime;
pub use error::Error;
pub use header::KeyBlockHeader;
/// The X.509 crate behind [`cert`], re-exported for its names, extensions and serial numbers.
pub use x509_cert;

/// The current time from the system clock, for certificate validation.
#[cfg(feature = "std")]
pub fn now() -> Result<DateTime, Error> {
    DateTime::from_system_time(std::time::SystemTime::now())
        .map_err(|_| Error::malformed("system time", "outside the range of X.509 times"))
}
