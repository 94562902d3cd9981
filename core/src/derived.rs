//! Keys that an algorithm derives from another key (DUKPT, EMV).
//!
//! A derived key is new key material: it lives in [`KeyMaterial`] (zeroized on drop, redacted
//! in `Debug`, no `Clone`) together with its algorithm, and becomes a usable handle through
//! [`DerivedKey::handle`]. Callers that only use the key never see its bytes; the workbench
//! (`payhsm calc`) reads them through the explicit [`DerivedKey::expose_secret`].

use core::fmt;

use zeroize::ZeroizeOnDrop;

use crate::{Error, crypto::SoftwareKey, key::KeyAlgorithm, secret::KeyMaterial};

/// A derived symmetric key: its algorithm and its secret material.
pub struct DerivedKey {
    algorithm: KeyAlgorithm,
    material: KeyMaterial,
}

impl DerivedKey {
    /// Wraps `material` as a key of `algorithm`, checking the length.
    pub fn new(algorithm: KeyAlgorithm, material: KeyMaterial) -> Result<Self, Error> {
        let expected = match algorithm {
            // DUKPT HMAC working keys are as long as the AES key they come from.
            KeyAlgorithm::HmacSha256 => matches!(material.len(), 16 | 24 | 32),
            _ => algorithm.key_len() == Some(material.len()),
        };
        if !expected {
            return Err(Error::InvalidLength {
                field: "derived key",
                expected: "the length of the key algorithm",
                actual: material.len(),
            });
        }
        Ok(Self {
            algorithm,
            material,
        })
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The key bytes. Every call site is a place where the key leaves its type.
    pub fn expose_secret(&self) -> &[u8] {
        self.material.expose_secret()
    }

    /// A software handle on the key, to run algorithms with.
    pub fn handle(&self) -> Result<SoftwareKey, Error> {
        SoftwareKey::new(self.algorithm, &self.material)
    }
}

impl fmt::Debug for DerivedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DerivedKey({}, [REDACTED])", self.algorithm)
    }
}

// The material is a `KeyMaterial`, which zeroizes itself on drop.
impl ZeroizeOnDrop for DerivedKey {}
