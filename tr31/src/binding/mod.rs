//! Binding: how the KBPK protects the payload and authenticates the header with it.
//!
//! Both methods turn the KBPK into two keys, the key block encryption key (KBEK) and the key
//! block authentication key (KBAK), each created here as a [`SoftwareKey`] that lives for one
//! wrap or unwrap:
//! - [`variant`] (versions A and C): KBEK = KBPK ⊕ `45…`, KBAK = KBPK ⊕ `4D…`. Payload encrypted
//!   with TDES-CBC under the first 8 header bytes as IV; MAC = leftmost 4 bytes of the TDES
//!   CBC-MAC of header ‖ ciphertext.
//! - [`derivation`] (versions B and D): KBEK and KBAK from a counter-mode CMAC KDF under the KBPK
//!   (NIST SP 800-108). MAC = CMAC of header ‖ plaintext payload, which is also the CBC IV.

pub(crate) mod derivation;
pub(crate) mod variant;

use payhsm_core::{
    crypto::{SoftwareKey, SymmetricKey},
    key::KeyAlgorithm,
    secret::{KeyMaterial, SecretVec},
};

use crate::{Binding, Error, Version};

/// The key block protection key.
///
/// A KBPK is used through a key handle wherever the construction allows it, so a KBPK held in a
/// token never leaves it: versions B and D need only CMAC under the KBPK. Versions A and C
/// compute XOR variants of the KBPK's bytes, which no handle offers, so they need
/// [`Kbpk::Clear`].
#[derive(Clone, Copy)]
pub enum Kbpk<'a> {
    /// A key handle (versions B and D).
    Key(&'a dyn SymmetricKey),
    /// Clear key material and its algorithm (every version).
    Clear {
        /// TDES_2KEY/TDES_3KEY for A, B, C; AES_128/192/256 for D.
        algorithm: KeyAlgorithm,
        /// The key bytes.
        key: &'a KeyMaterial,
    },
}

impl Kbpk<'_> {
    /// The KBPK's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            Self::Key(k) => k.key_algorithm(),
            Self::Clear { algorithm, .. } => *algorithm,
        }
    }
}

impl core::fmt::Debug for Kbpk<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Key(_) => write!(f, "Kbpk::Key({})", self.algorithm()),
            Self::Clear { algorithm, .. } => write!(f, "Kbpk::Clear({algorithm}, [REDACTED])"),
        }
    }
}

impl<'a, K: SymmetricKey> From<&'a K> for Kbpk<'a> {
    fn from(key: &'a K) -> Self {
        Self::Key(key)
    }
}

/// The bytes of the KBEK and KBAK a KBPK yields under a version: the keys every wrap and unwrap
/// derives internally.
///
/// Hazmat: key blocks never need this. It exists so that auditors and the published vectors
/// can check the binding's intermediate keys against the code that wrap and unwrap run.
pub fn binding_key_material(
    kbpk: Kbpk<'_>,
    version: Version,
) -> Result<(KeyMaterial, KeyMaterial), Error> {
    use derivation::Purpose;
    version.check_kbpk(kbpk.algorithm())?;
    match (version.binding(), kbpk) {
        (Binding::Variant, Kbpk::Clear { key, .. }) => Ok((
            variant::variant(key, variant::ENCRYPTION_MASK),
            variant::variant(key, variant::AUTHENTICATION_MASK),
        )),
        (Binding::Variant, Kbpk::Key(_)) => Err(Error::invalid(
            "kbpk",
            "versions A and C compute variants of the KBPK's bytes: pass Kbpk::Clear",
        )),
        (Binding::Derivation, Kbpk::Key(k)) => Ok((
            derivation::derive(k, Purpose::Encryption)?,
            derivation::derive(k, Purpose::Authentication)?,
        )),
        (Binding::Derivation, Kbpk::Clear { algorithm, key }) => {
            let k = SoftwareKey::new(algorithm, key)?;
            Ok((
                derivation::derive(&k, Purpose::Encryption)?,
                derivation::derive(&k, Purpose::Authentication)?,
            ))
        }
    }
}

/// The KBEK and KBAK of one wrap or unwrap.
pub(crate) struct BindingKeys {
    version: Version,
    encryption: SoftwareKey,
    authentication: SoftwareKey,
}

impl BindingKeys {
    /// Checks the KBPK against the version (T-KB-7) and derives KBEK and KBAK.
    pub(crate) fn new(kbpk: Kbpk<'_>, version: Version) -> Result<Self, Error> {
        let (encryption, authentication) = binding_key_material(kbpk, version)?;
        let algorithm = kbpk.algorithm();
        Ok(Self {
            version,
            encryption: SoftwareKey::new(algorithm, &encryption)?,
            authentication: SoftwareKey::new(algorithm, &authentication)?,
        })
    }

    /// Authenticates and encrypts. `buffer` holds header ‖ plaintext payload; the payload is
    /// encrypted in place and the MAC (of the version's length) is returned.
    pub(crate) fn seal(&self, buffer: &mut SecretVec, header_len: usize) -> Result<Mac, Error> {
        let n = self.version.mac_len();
        match self.version.binding() {
            Binding::Variant => {
                let (header, payload) = buffer.expose_secret_mut().split_at_mut(header_len);
                self.encryption.encrypt_cbc(variant::iv(header)?, payload)?;
                Mac::new(
                    &variant::mac(&self.authentication, buffer.expose_secret())?,
                    n,
                )
            }
            Binding::Derivation => {
                let mac = Mac::new(
                    self.authentication.cmac(buffer.expose_secret())?.as_bytes(),
                    n,
                )?;
                let payload = &mut buffer.expose_secret_mut()[header_len..];
                self.encryption.encrypt_cbc(mac.as_bytes(), payload)?;
                Ok(mac)
            }
        }
    }

    /// Verifies and decrypts. `buffer` holds header ‖ ciphertext; on success the payload is
    /// decrypted in place. Every failure, whatever its cause, is the one
    /// [`Error::AuthenticationFailed`].
    pub(crate) fn open(
        &self,
        buffer: &mut SecretVec,
        header_len: usize,
        mac: &[u8],
    ) -> Result<(), Error> {
        self.try_open(buffer, header_len, mac)
            .map_err(|_| Error::AuthenticationFailed)
    }

    fn try_open(&self, buffer: &mut SecretVec, header_len: usize, mac: &[u8]) -> Result<(), Error> {
        match self.version.binding() {
            Binding::Variant => {
                // The MAC covers the ciphertext: nothing is decrypted before it verifies.
                verify(
                    &variant::mac(&self.authentication, buffer.expose_secret())?,
                    mac,
                )?;
                let (header, payload) = buffer.expose_secret_mut().split_at_mut(header_len);
                Ok(self.encryption.decrypt_cbc(variant::iv(header)?, payload)?)
            }
            Binding::Derivation => {
                let payload = &mut buffer.expose_secret_mut()[header_len..];
                self.encryption.decrypt_cbc(mac, payload)?;
                verify(
                    self.authentication.cmac(buffer.expose_secret())?.as_bytes(),
                    mac,
                )
            }
        }
    }
}

/// A key block MAC: up to one AES block.
pub(crate) struct Mac {
    bytes: [u8; 16],
    len: usize,
}

impl Mac {
    /// The leftmost `len` bytes of `tag`.
    fn new(tag: &[u8], len: usize) -> Result<Self, Error> {
        let mut bytes = [0u8; 16];
        let (dst, src) = bytes
            .get_mut(..len)
            .zip(tag.get(..len))
            .ok_or(Error::invalid(
                "kbpk",
                "the key handle returned a MAC shorter than the version needs",
            ))?;
        dst.copy_from_slice(src);
        Ok(Self { bytes, len })
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Constant-time comparison of the computed MAC with the block's, over the block's full MAC
/// length (which the structure check has fixed to the version's).
fn verify(computed: &[u8], received: &[u8]) -> Result<(), Error> {
    use subtle::ConstantTimeEq;
    let ok = computed
        .get(..received.len())
        .is_some_and(|c| bool::from(c.ct_eq(received)));
    if ok && !received.is_empty() {
        Ok(())
    } else {
        Err(Error::AuthenticationFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_comparison_is_over_the_full_received_length() {
        verify(&[1, 2, 3, 4, 5], &[1, 2, 3, 4]).unwrap();
        assert!(verify(&[1, 2, 3, 4], &[1, 2, 3, 5]).is_err());
        assert!(verify(&[1, 2, 3, 4], &[1, 2, 3, 4, 5]).is_err());
        assert!(verify(&[1, 2, 3, 4], &[]).is_err());
    }

    #[test]
    fn variants_need_clear_key_material() {
        let km = KeyMaterial::from_hex("kbpk", "89E88CF7931444F334BD7547FC3F380C").unwrap();
        let handle = SoftwareKey::new(KeyAlgorithm::Tdes2Key, &km).unwrap();
        assert!(matches!(
            BindingKeys::new(Kbpk::from(&handle), Version::C),
            Err(Error::InvalidArgument { .. })
        ));
        BindingKeys::new(Kbpk::from(&handle), Version::B).unwrap();
        let clear = Kbpk::Clear {
            algorithm: KeyAlgorithm::Tdes2Key,
            key: &km,
        };
        BindingKeys::new(clear, Version::A).unwrap();
        assert_eq!(
            BindingKeys::new(clear, Version::D).err(),
            Some(Error::KbpkMismatch {
                version: Version::D,
                expected: Version::D.kbpk_description()
            })
        );
        assert_eq!(
            alloc::format!("{clear:?}"),
            "Kbpk::Clear(TDES_2KEY, [REDACTED])"
        );
    }

    /// Every KBEK and KBAK tr31.json publishes, the two KDF-only entries included (AES-192
    /// KBPKs show the derivation bugs other libraries had).
    #[test]
    fn published_kbek_and_kbak() {
        extern crate std;
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/data/tr31.json");
        let text = std::fs::read_to_string(path).unwrap();
        let entries: alloc::vec::Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        let hex =
            |v: &serde_json::Value| payhsm_core::hex::decode("v", v.as_str().unwrap()).unwrap();
        let mut checked = 0;
        for e in &entries {
            let (i, x) = (&e["inputs"], &e["expected"]);
            let version_id = match (x.get("key_block"), i.get("version")) {
                (Some(block), _) => block.as_str().unwrap().as_bytes()[0],
                (None, Some(v)) => v.as_str().unwrap().as_bytes()[0],
                _ => panic!("{}: no version", e["id"]),
            };
            let version = Version::from_id(version_id).unwrap();
            let kbpk = KeyMaterial::from_slice("kbpk", &hex(&i["kbpk"])).unwrap();
            let algorithm = crate::kbpk_algorithm(version, kbpk.len()).unwrap();
            let (kbek, kbak) = match version.binding() {
                Binding::Variant => (
                    variant::variant(&kbpk, variant::ENCRYPTION_MASK),
                    variant::variant(&kbpk, variant::AUTHENTICATION_MASK),
                ),
                Binding::Derivation => {
                    let handle = SoftwareKey::new(algorithm, &kbpk).unwrap();
                    (
                        derivation::derive(&handle, derivation::Purpose::Encryption).unwrap(),
                        derivation::derive(&handle, derivation::Purpose::Authentication).unwrap(),
                    )
                }
            };
            assert_eq!(kbek.expose_secret(), hex(&x["kbek"]), "{}", e["id"]);
            assert_eq!(kbak.expose_secret(), hex(&x["kbak"]), "{}", e["id"]);
            checked += 1;
        }
        assert_eq!(checked, 28);
    }
}
