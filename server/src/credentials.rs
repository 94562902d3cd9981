//! The store's access keys: `<store>/credentials.json` (0600), read again whenever it changes,
//! so keys created or deleted with `payhsm credentials` take effect in a running server.
//!
//! ```json
//! { "AccessKeys": [ { "AccessKeyId": "PHSM…", "SecretAccessKey": "…", "CreateTimestamp": 1767225600 } ] }
//! ```

use std::{
    collections::BTreeMap,
    fs,
    io::{self, Write as _},
    path::{Path, PathBuf},
    sync::Mutex,
    time::{SystemTime, UNIX_EPOCH},
};

use aws_credential_types::Credentials;
use payhsm_core::rng::{OsRandom, RandomSource};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::auth::AccessKeys;

/// The file's name in the store directory.
pub const FILE_NAME: &str = "credentials.json";

/// The prefix of the access key ids payhsm makes (an AWS key starts `AKIA`, so neither is
/// taken for the other).
const ID_PREFIX: &str = "PHSM";

/// A new access key: shown once, when made.
pub struct NewAccessKey {
    /// The id (not secret).
    pub access_key_id: String,
    /// The secret.
    pub secret_access_key: Zeroizing<String>,
}

impl std::fmt::Debug for NewAccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccessKey")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .finish()
    }
}

/// An access key as listed: no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyInfo {
    /// The id.
    pub access_key_id: String,
    /// When it was made (epoch seconds).
    pub create_timestamp: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Record {
    access_key_id: String,
    secret_access_key: String,
    create_timestamp: u64,
}

impl Drop for Record {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret_access_key);
    }
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Contents {
    access_keys: Vec<Record>,
}

/// The credentials file of a store.
pub struct CredentialsFile {
    path: PathBuf,
    /// The keys as last read, and the file's modification time then.
    cache: Mutex<Option<(SystemTime, BTreeMap<String, Credentials>)>>,
}

impl std::fmt::Debug for CredentialsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl CredentialsFile {
    /// The credentials file of the store in `store`.
    pub fn new(store: &Path) -> Self {
        Self {
            path: store.join(FILE_NAME),
            cache: Mutex::new(None),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the store has the file.
    pub fn exists(&self) -> bool {
        self.path.is_file()
    }

    fn read(&self) -> io::Result<Contents> {
        let text = match fs::read(&self.path) {
            Ok(bytes) => Zeroizing::new(bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Contents::default()),
            Err(e) => return Err(e),
        };
        serde_json::from_slice(&text).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", self.path.display()),
            )
        })
    }

    /// Writes `contents` to a new 0600 file and renames it over the old one.
    fn write(&self, contents: &Contents) -> io::Result<()> {
        let text = Zeroizing::new(
            serde_json::to_vec_pretty(contents)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?,
        );
        let tmp = self.path.with_extension("json.tmp");
        let mut file = payhsm_keystore::files::owner_only()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        file.write_all(&text)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        fs::rename(&tmp, &self.path)?;
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(())
    }

    /// Makes a new access key and stores it.
    pub fn create(&self) -> io::Result<NewAccessKey> {
        let access_key_id = format!(
            "{ID_PREFIX}{}",
            random_text(16, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")?.as_str()
        );
        let secret = random_text(
            40,
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        )?;
        self.add(&access_key_id, &secret)?;
        Ok(NewAccessKey {
            access_key_id,
            secret_access_key: secret,
        })
    }

    /// Stores a key made elsewhere (another store's, so that one pair signs for every region
    /// of the account).
    pub fn import(&self, access_key_id: &str, secret_access_key: &str) -> io::Result<()> {
        let ok_id = (16..=128).contains(&access_key_id.len())
            && access_key_id.bytes().all(|b| b.is_ascii_alphanumeric());
        let ok_secret = (16..=128).contains(&secret_access_key.len())
            && secret_access_key.bytes().all(|b| b.is_ascii_graphic());
        if !ok_id || !ok_secret {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an access key id is 16 to 128 letters and digits, and its secret 16 to 128 \
                 printable characters",
            ));
        }
        self.add(access_key_id, secret_access_key)
    }

    fn add(&self, access_key_id: &str, secret: &str) -> io::Result<()> {
        let mut contents = self.read()?;
        if contents
            .access_keys
            .iter()
            .any(|r| r.access_key_id == access_key_id)
        {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("the store already has access key {access_key_id}"),
            ));
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        contents.access_keys.push(Record {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret.to_owned(),
            create_timestamp: now,
        });
        self.write(&contents)
    }

    /// The store's access keys, without their secrets.
    pub fn list(&self) -> io::Result<Vec<AccessKeyInfo>> {
        Ok(self
            .read()?
            .access_keys
            .iter()
            .map(|r| AccessKeyInfo {
                access_key_id: r.access_key_id.clone(),
                create_timestamp: r.create_timestamp,
            })
            .collect())
    }

    /// Deletes an access key; `false` if the store has none with this id.
    pub fn delete(&self, access_key_id: &str) -> io::Result<bool> {
        let mut contents = self.read()?;
        let before = contents.access_keys.len();
        contents
            .access_keys
            .retain(|r| r.access_key_id != access_key_id);
        if contents.access_keys.len() == before {
            return Ok(false);
        }
        self.write(&contents)?;
        Ok(true)
    }

    /// The credentials of `access_key_id`, or of the first key when `None` (the key the
    /// remote client signs with).
    pub fn credentials(&self, access_key_id: Option<&str>) -> io::Result<Option<Credentials>> {
        let modified = match fs::metadata(&self.path) {
            Ok(m) => m.modified()?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.as_ref().is_none_or(|(at, _)| *at != modified) {
            let keys = self
                .read()?
                .access_keys
                .iter()
                .map(|r| {
                    let creds = Credentials::new(
                        r.access_key_id.clone(),
                        r.secret_access_key.clone(),
                        None,
                        None,
                        "payhsm-store",
                    );
                    (r.access_key_id.clone(), creds)
                })
                .collect();
            *cache = Some((modified, keys));
        }
        let keys = cache.as_ref().map(|(_, k)| k);
        Ok(match access_key_id {
            Some(id) => keys.and_then(|k| k.get(id)).cloned(),
            None => keys.and_then(|k| k.values().next()).cloned(),
        })
    }
}

impl AccessKeys for CredentialsFile {
    fn lookup(&self, access_key_id: &str) -> Option<Credentials> {
        // An unreadable file authenticates no one.
        self.credentials(Some(access_key_id)).ok().flatten()
    }
}

/// `len` characters drawn uniformly from `alphabet` (32 or 64 characters).
fn random_text(len: usize, alphabet: &[u8]) -> io::Result<Zeroizing<String>> {
    debug_assert!(alphabet.len().is_power_of_two() && alphabet.len() <= 256);
    let mut bytes = Zeroizing::new(vec![0u8; len]);
    OsRandom
        .fill(&mut bytes)
        .map_err(|e| io::Error::other(format!("the random source failed: {e:?}")))?;
    // A power-of-two alphabet: the low bits of a uniform byte are uniform.
    let mask = alphabet.len() - 1;
    Ok(Zeroizing::new(
        bytes
            .iter()
            .map(|b| char::from(alphabet[usize::from(*b) & mask]))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_created_listed_found_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let file = CredentialsFile::new(dir.path());
        assert!(!file.exists());
        assert!(file.lookup("PHSMX").is_none());
        let a = file.create().unwrap();
        let b = file.create().unwrap();
        assert!(a.access_key_id.starts_with("PHSM") && a.access_key_id.len() == 20);
        assert_eq!(a.secret_access_key.len(), 40);
        assert_ne!(a.secret_access_key, b.secret_access_key);
        assert!(!format!("{a:?}").contains(a.secret_access_key.as_str()));
        let creds = file.lookup(&a.access_key_id).unwrap();
        assert_eq!(creds.secret_access_key(), a.secret_access_key.as_str());
        let ids: Vec<String> = file
            .list()
            .unwrap()
            .into_iter()
            .map(|k| k.access_key_id)
            .collect();
        assert_eq!(ids, [a.access_key_id.clone(), b.access_key_id.clone()]);
        assert!(file.delete(&a.access_key_id).unwrap());
        assert!(!file.delete(&a.access_key_id).unwrap());
        assert!(file.lookup(&a.access_key_id).is_none());
        assert!(file.lookup(&b.access_key_id).is_some());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(file.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn another_stores_key_imports_once_and_bad_ones_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let file = CredentialsFile::new(dir.path());
        file.import("PHSMAAAAAAAAAAAAAAAA", "0123456789abcdef0123")
            .unwrap();
        let e = file
            .import("PHSMAAAAAAAAAAAAAAAA", "0123456789abcdef0123")
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert!(file.import("short", "0123456789abcdef0123").is_err());
        assert!(
            file.import("PHSMBBBBBBBBBBBBBBBB", "has a space in it...")
                .is_err()
        );
        assert_eq!(file.list().unwrap().len(), 1);
    }

    #[test]
    fn a_corrupt_file_is_an_error_and_authenticates_no_one() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(FILE_NAME), "{not json").unwrap();
        let file = CredentialsFile::new(dir.path());
        assert_eq!(file.list().unwrap_err().kind(), io::ErrorKind::InvalidData);
        assert!(file.lookup("PHSMAAAAAAAAAAAAAAAA").is_none());
    }
}
