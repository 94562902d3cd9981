//! ANSI X9.143 / TR-31 key blocks: versions A, B, C and D.
//!
//! A key block carries a key encrypted under a key block protection key (KBPK) together with a
//! clear header stating what the key is for; a MAC binds the two. This crate parses and builds
//! headers with every optional block X9.143 defines ([`Header`], [`OptionalBlock`]), checks a
//! block's structure without cryptography ([`KeyBlock`]), and wraps and unwraps keys
//! ([`wrap`], [`wrap_with_padding`], [`unwrap`]). The [`policy`] module holds the checks the HSM
//! runs around them.
//!
//! # The KBPK
//!
//! [`Kbpk`] is either a key handle ([`Kbpk::Key`], any `payhsm_core::crypto::SymmetricKey`) or
//! clear key material with its algorithm ([`Kbpk::Clear`]). Versions B and D only need CMAC
//! under the KBPK to derive the encryption and authentication keys, so a token-held KBPK works
//! through its handle and never leaves the token. Versions A and C XOR constants into the KBPK's
//! bytes, which no handle can do, so they need the clear form. Either way the derived KBEK and
//! KBAK are `SoftwareKey`s created for one call and zeroized when it ends. Carrying the algorithm
//! with the KBPK is what lets a D block under a TDES KBPK (or B/C under AES) be refused
//! ([`Error::KbpkMismatch`]); [`kbpk_algorithm`] infers it from a version and a length where the
//! caller has only bytes.
//!
//! # Defaults
//!
//! - [`WrapOptions::default`] is X9.143 strict export: versions B and D only (A and C need
//!   `allow_version_a` / `allow_version_c`), key length masked (TDES padded as if 24 bytes, AES
//!   as if 32).
//! - [`UnwrapOptions::default`] refuses A and C ([`Error::VersionNotAllowed`]) until
//!   `allow_legacy_versions` is set, reads optional blocks leniently (proprietary blocks kept
//!   verbatim) and accepts any padding length (short-padded blocks from TR-31:2018 senders).
//!
//! # Errors
//!
//! Structure is checked before any cryptography, and structural errors name the field and the
//! byte position ([`Error::Malformed`]). Everything from decryption on fails with the single
//! [`Error::AuthenticationFailed`]: the MAC is compared in constant time over its full length,
//! and the key length inside the payload is read only after the MAC has verified. Nothing
//! panics on any input.
//!
//! ```
//! use payhsm_core::{key::*, rng::Replay, secret::KeyMaterial};
//! use payhsm_tr31::{Header, Kbpk, UnwrapOptions, Version, WrapOptions, unwrap, wrap};
//!
//! let kbpk = KeyMaterial::from_hex("kbpk", "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6")?;
//! let kbpk = Kbpk::Clear { algorithm: KeyAlgorithm::Aes256, key: &kbpk };
//! let header = Header::new(Version::D, KeyUsage::P0, Algorithm::AES, ModeOfUse::ENCRYPT, "00", Exportability::EXPORTABLE)?;
//! let key = [0x3F; 16];
//! let block = wrap(kbpk, &header, &key, &WrapOptions::default(), &mut Replay::new(&[7; 32]))?;
//! assert_eq!(&block[..16], "D0144P0AE00E0000");
//! let unwrapped = unwrap(kbpk, &block, &UnwrapOptions::default())?;
//! assert_eq!(unwrapped.key.expose_secret(), key);
//! # Ok::<(), payhsm_tr31::Error>(())
//! ```
#![no_std]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

extern crate alloc;

mod binding;
mod block;
mod error;
mod header;
pub mod optional_block;
pub mod policy;
mod reader;
mod unwrap;
mod version;
mod wrap;

pub use binding::{Kbpk, binding_key_material};
pub use block::KeyBlock;
pub use error::Error;
pub use header::{FIXED_HEADER_LEN, Header, MAX_BLOCK_LEN, MAX_OPTIONAL_BLOCKS};
pub use optional_block::{BlockId, BlockValue, OptionalBlock};
pub use unwrap::{UnwrapOptions, Unwrapped, unwrap};
pub use version::{Binding, Version, kbpk_algorithm};
pub use wrap::{WrapOptions, wrap, wrap_with_padding};
