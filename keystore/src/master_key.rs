//! The region's master key (the LMK): an AES-256 key every stored key is wrapped under.
//!
//! It is formed in a key ceremony from two or more full-length components, each entered
//! separately and confirmed by its KCV ([`MasterKey::from_components`]), or, for development
//! only, generated into a key file with mode 0600 ([`write_dev_key_file`],
//! [`read_dev_key_file`]); every program that opens such a file must print
//! [`DEV_KEY_WARNING`]. The key's KCV (CMAC, 3 bytes) is recorded in the store, so a store
//! opened with another master key refuses to open.

use std::{fs, io::Write as _, path::Path};

use payhsm_core::{
    crypto::SoftwareKey,
    kcv::{self, KcvMethod},
    key::KeyAlgorithm,
    rng::RandomSource,
    secret::KeyMaterial,
};
use subtle::ConstantTimeEq;

use crate::Error;

/// The master key's length: AES-256.
pub const MASTER_KEY_LEN: usize = 32;

/// Printed whenever a development master key file is used.
pub const DEV_KEY_WARNING: &str = "warning: development master key in a plain file; never put \
production keys in this store (payhsm init --components N forms a real one)";

/// The master key, usable but not readable.
pub struct MasterKey {
    key: SoftwareKey,
    kcv: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey(AES_256, KCV {})", self.kcv)
    }
}

/// One key component and the KCV its custodian recorded for it (a master key's, or a working
/// key's in `import-key-components`).
pub struct Component {
    /// The component: 32 bytes for a master key.
    pub material: KeyMaterial,
    /// The KCV the custodian confirms (hex, as printed when the component was made).
    pub check_value: String,
}

/// The KCV of 32 bytes taken as an AES-256 key (CMAC, 3 bytes).
pub fn component_check_value(material: &KeyMaterial) -> Result<String, Error> {
    check_len(material)?;
    let key = SoftwareKey::new(KeyAlgorithm::Aes256, material)
        .map_err(|e| Error::validation("Component", e.to_string()))?;
    kcv::compute(&key, KcvMethod::Cmac, kcv::DEFAULT_KCV_LEN)
        .map(|k| k.to_string())
        .map_err(|e| Error::internal(e.to_string()))
}

fn check_len(material: &KeyMaterial) -> Result<(), Error> {
    if material.len() == MASTER_KEY_LEN {
        Ok(())
    } else {
        Err(Error::validation(
            "Component",
            "a master key component is 32 bytes (64 hex digits)",
        ))
    }
}

impl MasterKey {
    /// The master key with these 32 bytes.
    pub fn from_material(material: &KeyMaterial) -> Result<Self, Error> {
        check_len(material)?;
        if material.expose_secret().iter().all(|b| *b == 0) {
            return Err(Error::validation(
                "MasterKey",
                "the master key is all zeros",
            ));
        }
        let key = SoftwareKey::new(KeyAlgorithm::Aes256, material)
            .map_err(|e| Error::internal(e.to_string()))?;
        let kcv = kcv::compute(&key, KcvMethod::Cmac, kcv::DEFAULT_KCV_LEN)
            .map_err(|e| Error::internal(e.to_string()))?
            .to_string();
        Ok(Self { key, kcv })
    }

    /// A new random master key.
    pub fn generate(rng: &mut dyn RandomSource) -> Result<Self, Error> {
        let mut m = KeyMaterial::zeroed("master key", MASTER_KEY_LEN)
            .map_err(|e| Error::internal(e.to_string()))?;
        rng.fill(m.expose_secret_mut())
            .map_err(|_| Error::internal("the random source failed"))?;
        Self::from_material(&m)
    }

    /// The master key formed from components by XOR. Refuses fewer than two, a component
    /// whose KCV does not match what its custodian recorded, two equal components, and a
    /// result of zero.
    pub fn from_components(components: &[Component]) -> Result<Self, Error> {
        if components.len() < 2 {
            return Err(Error::validation(
                "Components",
                "a master key needs at least two components (split knowledge)",
            ));
        }
        let mut combined = KeyMaterial::zeroed("master key", MASTER_KEY_LEN)
            .map_err(|e| Error::internal(e.to_string()))?;
        for (i, c) in components.iter().enumerate() {
            let path = format!("Components[{}]", i + 1);
            check_len(&c.material).map_err(|_| {
                Error::validation(&path, "a master key component is 32 bytes (64 hex digits)")
            })?;
            let actual = component_check_value(&c.material)?;
            if !actual.eq_ignore_ascii_case(c.check_value.trim()) {
                return Err(Error::validation(
                    &path,
                    "the component's KCV does not match the one recorded for it",
                ));
            }
            if components[..i]
                .iter()
                .any(|d| bool::from(d.material.ct_eq(&c.material)))
            {
                return Err(Error::validation(
                    &path,
                    "two components are equal, so they cancel out",
                ));
            }
            combined
                .expose_secret_mut()
                .iter_mut()
                .zip(c.material.expose_secret())
                .for_each(|(a, b)| *a ^= b);
        }
        Self::from_material(&combined)
    }

    /// The KCV (CMAC, 3 bytes, hex).
    pub fn check_value(&self) -> &str {
        &self.kcv
    }

    /// The key handle.
    pub(crate) fn key(&self) -> &SoftwareKey {
        &self.key
    }
}

/// Creates a development key file at `path` with mode 0600 holding a new random master key,
/// and returns the key. Refuses to overwrite an existing file.
pub fn write_dev_key_file(path: &Path, rng: &mut dyn RandomSource) -> Result<MasterKey, Error> {
    let mut m = KeyMaterial::zeroed("master key", MASTER_KEY_LEN)
        .map_err(|e| Error::internal(e.to_string()))?;
    rng.fill(m.expose_secret_mut())
        .map_err(|_| Error::internal("the random source failed"))?;
    let key = MasterKey::from_material(&m)?;
    let mut text = zeroize::Zeroizing::new(String::with_capacity(128));
    text.push_str("# payhsm DEVELOPMENT master key. Never use for production keys.\n");
    text.push_str(&payhsm_core::hex::encode(m.expose_secret()));
    text.push('\n');
    let mut file = crate::files::owner_only()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::internal(format!("cannot create {}: {e}", path.display())))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::internal(format!("cannot write {}: {e}", path.display())))?;
    Ok(key)
}

/// Reads a development key file. Refuses a file that others than its owner may read.
pub fn read_dev_key_file(path: &Path) -> Result<MasterKey, Error> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let meta = fs::metadata(path)
            .map_err(|e| Error::internal(format!("cannot read {}: {e}", path.display())))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(Error::AccessDenied {
                message: format!(
                    "{} may be read by other users; run chmod 600 on it",
                    path.display()
                ),
            });
        }
    }
    let text = zeroize::Zeroizing::new(
        fs::read_to_string(path)
            .map_err(|e| Error::internal(format!("cannot read {}: {e}", path.display())))?,
    );
    let hex = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| Error::internal(format!("{} holds no key", path.display())))?;
    let m = KeyMaterial::from_hex("master key", hex)
        .map_err(|e| Error::internal(format!("{}: {e}", path.display())))?;
    MasterKey::from_material(&m)
}

#[cfg(test)]
mod tests {
    use payhsm_core::rng::OsRandom;

    use super::*;

    fn component(byte: u8) -> Component {
        let material = KeyMaterial::from_slice("c", &[byte; 32]).unwrap();
        let check_value = component_check_value(&material).unwrap();
        Component {
            material,
            check_value,
        }
    }

    #[test]
    fn components_combine_by_xor_with_confirmed_kcvs() {
        let k = MasterKey::from_components(&[component(0x11), component(0x22)]).unwrap();
        let direct =
            MasterKey::from_material(&KeyMaterial::from_slice("m", &[0x33; 32]).unwrap()).unwrap();
        assert_eq!(k.check_value(), direct.check_value());
        assert_eq!(k.check_value().len(), 6);
    }

    #[test]
    fn bad_ceremonies_are_refused() {
        assert!(MasterKey::from_components(&[component(0x11)]).is_err());
        assert!(MasterKey::from_components(&[component(0x11), component(0x11)]).is_err());
        let mut wrong = component(0x22);
        wrong.check_value = "000000".into();
        assert!(MasterKey::from_components(&[component(0x11), wrong]).is_err());
        let short = Component {
            material: KeyMaterial::from_slice("c", &[1; 16]).unwrap(),
            check_value: "000000".into(),
        };
        assert!(MasterKey::from_components(&[component(0x11), short]).is_err());
        assert!(
            MasterKey::from_material(&KeyMaterial::from_slice("m", &[0; 32]).unwrap()).is_err()
        );
    }

    #[test]
    fn dev_key_file_is_private_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let k = write_dev_key_file(&path, &mut OsRandom).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
            let again = read_dev_key_file(&path).unwrap();
            assert_eq!(again.check_value(), k.check_value());
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            assert!(read_dev_key_file(&path).is_err());
        }
        assert!(write_dev_key_file(&path, &mut OsRandom).is_err());
        assert_eq!(
            format!("{k:?}"),
            format!("MasterKey(AES_256, KCV {})", k.check_value())
        );
    }
}
