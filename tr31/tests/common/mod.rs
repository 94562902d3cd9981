//! Shared by the integration tests: the published vectors and KBPK helpers.
#![allow(dead_code, unreachable_pub)]

use payhsm_core::{key::KeyAlgorithm, secret::KeyMaterial};
use payhsm_tr31::{Kbpk, UnwrapOptions, Version, WrapOptions, kbpk_algorithm};
use serde_json::Value;

/// One tr31.json entry with a key block.
pub struct Vector {
    pub id: String,
    pub kbpk: Vec<u8>,
    pub kbpk_kcv: String,
    pub header: String,
    pub key: Vec<u8>,
    pub key_length_field: String,
    pub padding: Vec<u8>,
    pub key_block: String,
    pub encrypted_key_data: Vec<u8>,
    pub mac: Vec<u8>,
    pub key_kcv: Option<String>,
    pub kbpk_kcv_in_kp_block: Option<String>,
}

impl Vector {
    pub fn version(&self) -> Version {
        Version::from_id(self.key_block.as_bytes()[0]).unwrap()
    }

    pub fn kbpk_material(&self) -> KeyMaterial {
        KeyMaterial::from_slice("kbpk", &self.kbpk).unwrap()
    }

    pub fn kbpk_algorithm(&self) -> KeyAlgorithm {
        kbpk_algorithm(self.version(), self.kbpk.len()).unwrap()
    }
}

/// The whole file, as JSON.
pub fn tr31_json() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/data/tr31.json");
    let text = std::fs::read_to_string(path).expect("vectors/data/tr31.json");
    serde_json::from_str(&text).expect("tr31.json is JSON")
}

fn hex(v: &Value) -> Vec<u8> {
    payhsm_core::hex::decode("vector", v.as_str().expect("hex string")).expect("hex")
}

fn text(v: &Value) -> String {
    v.as_str().expect("string").to_owned()
}

/// Every entry that has a key block (all but the KDF-only entries).
pub fn vectors() -> Vec<Vector> {
    let vectors: Vec<Vector> = tr31_json()
        .iter()
        .filter(|e| e["expected"].get("key_block").is_some())
        .map(|e| {
            let (i, x) = (&e["inputs"], &e["expected"]);
            Vector {
                id: text(&e["id"]),
                kbpk: hex(&i["kbpk"]),
                kbpk_kcv: text(&i["kbpk_kcv"]),
                header: text(&i["header"]),
                key: hex(&i["key"]),
                key_length_field: text(&i["key_length_field"]),
                padding: hex(&i["padding"]),
                key_block: text(&x["key_block"]),
                encrypted_key_data: hex(&x["encrypted_key_data"]),
                mac: hex(&x["mac"]),
                key_kcv: x.get("key_kcv").map(text),
                kbpk_kcv_in_kp_block: x.get("kbpk_kcv_in_KP_block").map(text),
            }
        })
        .collect();
    assert_eq!(vectors.len(), 26, "tr31.json has 26 key blocks");
    vectors
}

/// Wrap options that allow every version and do not mask: the vectors' own choices.
pub fn permissive_wrap() -> WrapOptions {
    WrapOptions {
        allow_version_a: true,
        allow_version_c: true,
        mask_key_length: false,
    }
}

/// Unwrap options that accept the legacy versions and short padding: what the published
/// vectors need.
pub fn permissive_unwrap() -> UnwrapOptions {
    UnwrapOptions {
        allow_legacy_versions: true,
        allow_short_padding: true,
        ..UnwrapOptions::default()
    }
}

/// A clear KBPK.
pub fn clear(algorithm: KeyAlgorithm, key: &KeyMaterial) -> Kbpk<'_> {
    Kbpk::Clear { algorithm, key }
}

/// A key handle that counts its uses, to show that a refusal came before any cryptography.
pub struct Watched {
    inner: payhsm_core::crypto::SoftwareKey,
    uses: core::cell::Cell<usize>,
}

impl Watched {
    pub fn new(algorithm: KeyAlgorithm, hex: &str) -> Self {
        Self {
            inner: payhsm_core::crypto::SoftwareKey::from_hex(algorithm, hex).unwrap(),
            uses: core::cell::Cell::new(0),
        }
    }

    pub fn uses(&self) -> usize {
        self.uses.get()
    }

    fn used(&self) {
        self.uses.set(self.uses.get() + 1);
    }
}

impl payhsm_core::crypto::SymmetricKey for Watched {
    fn key_algorithm(&self) -> KeyAlgorithm {
        self.inner.key_algorithm()
    }

    fn encrypt_ecb(&self, data: &mut [u8]) -> Result<(), payhsm_core::Error> {
        self.used();
        self.inner.encrypt_ecb(data)
    }

    fn decrypt_ecb(&self, data: &mut [u8]) -> Result<(), payhsm_core::Error> {
        self.used();
        self.inner.decrypt_ecb(data)
    }

    fn cmac(&self, message: &[u8]) -> Result<payhsm_core::crypto::Tag, payhsm_core::Error> {
        self.used();
        self.inner.cmac(message)
    }

    fn hmac(&self, message: &[u8]) -> Result<payhsm_core::crypto::Tag, payhsm_core::Error> {
        self.used();
        self.inner.hmac(message)
    }
}

/// The vector with this id.
pub fn vector(id: &str) -> Vector {
    vectors()
        .into_iter()
        .find(|v| v.id == id)
        .unwrap_or_else(|| panic!("no vector {id}"))
}

/// Replaces the character at `at` (ASCII text).
pub fn replace_at(text: &str, at: usize, with: char) -> String {
    let mut s = text.to_owned();
    s.replace_range(at..at + 1, with.encode_utf8(&mut [0; 4]));
    s
}

/// Sets the 4-digit length field.
pub fn with_length_field(text: &str, length: usize) -> String {
    format!("{}{length:04}{}", &text[..1], &text[5..])
}
