//! The PKCS#11 backend: keys as objects in a token, used through the token's mechanisms.
//!
//! [`Pkcs11Store`] is the embedded SQLite store over a [`TokenVault`] instead of the software
//! vault. The design, and why:
//!
//! - **Metadata in SQLite, key material in the token.** The store's records (usage, modes of
//!   use, exportability, KCV, state, timestamps, tags, aliases) stay in the region's SQLite
//!   database, so the policy layer, the lifecycle and the conformance suite see exactly what
//!   they see with the software store, with the same transactions and compare-and-swap
//!   updates; a token has neither transactions nor compare-and-swap across objects, and its
//!   storage is small. A record's key material column holds `pkcs11:<hex CKA_ID>`, the
//!   reference of its token object.
//! - **The object carries the metadata too.** Its `CKA_LABEL` is `payhsm:<key id>:<TR-31
//!   header>` (usage, algorithm, mode of use, exportability), and its PKCS#11 usage flags
//!   follow the modes of use; the object is unmodifiable and uncopyable. Opening a key reads
//!   the object's attributes back and requires them equal to what the record implies, so a
//!   record pointed at another key's object, or whose attributes were edited, is an integrity
//!   error, as a moved key block is for the software vault. The database records which token
//!   (label and serial number) it belongs to and refuses to open with another.
//! - **Templates** ([`template::object`]): `CKA_TOKEN`, `CKA_PRIVATE`, `CKA_SENSITIVE` true;
//!   `CKA_EXTRACTABLE` only for exportable keys, and then `CKA_WRAP_WITH_TRUSTED`;
//!   `CKA_WRAP`, `CKA_UNWRAP`, `CKA_DERIVE` never, so no object can both wrap and decrypt or
//!   unwrap and encrypt.
//! - **Generation.** AES and HMAC keys are generated inside the token (`C_GenerateKey`) and
//!   their values never exist outside it. TDES keys are drawn in this process (OS random
//!   source, odd parity, redrawn while weak: a weak part, K1 = K2 or K2 = K3) and created in
//!   the token like imported keys, then zeroized: SoftHSM2 on OpenSSL 3 has no single DES
//!   (`CKM_DES_ECB` answers `CKR_MECHANISM_INVALID`), so the token can neither check the
//!   parts' strength nor derive the K1‖K1 object below from a key it drew itself. Imported
//!   keys (TR-31 unwrapped in this process, or a ceremony's components) enter with
//!   `C_CreateObject`.
//! - **The retail MAC** (ISO 9797-1 algorithm 3, the Visa CVV) needs single DES under K1. A
//!   TDES key whose usage needs it (C0, M3: [`template::has_k1`]) gets a second object, the
//!   two-key TDES key K1‖K1, whose EDE is single DES under K1: encryption only, never
//!   extractable. Other TDES keys have none, so the token offers no single-DES oracle on them.
//! - **Operations** run on token mechanisms ([`TokenKey`]); the TDES CMAC is composed from
//!   `CKM_DES3_ECB` and `CKM_DES3_CBC` because `cryptoki` offers no `CKM_DES3_CMAC`.
//! - **RSA key pairs** are generated in the token (`CKM_RSA_PKCS_KEY_PAIR_GEN`,
//!   [`template::private_key`], [`template::public_key`]); [`Vault::private_key`] yields a
//!   [`TokenRsaKey`] that signs (`CKM_SHA256_RSA_PKCS`) and decrypts (`CKM_RSA_PKCS_OAEP`) in
//!   the token, a token without the OAEP parameters answering "not supported by this token".
//!   An RSA private key given as bytes is refused: every key pair payhsm makes is generated
//!   in the token, and one made outside would have existed in the clear.
//! - **Certificates** (imported, `KeyClass::PublicKey`) are `CKO_CERTIFICATE` objects
//!   ([`template::certificate`]) whose `CKA_VALUE` is the DER, checked against the record
//!   like a key object and returned by [`Vault::reveal`]: public data, so no extraction.
//! - **Export and TDES DUKPT are not supported**: a TR-31 block's MAC covers the clear key,
//!   and a TDES BDK's initial key XORs a constant into its value; the token has no mechanism
//!   for either, so [`Vault::reveal`] refuses (`NotSupported`) instead of extracting.
//! - **Sessions** ([`Token`]): one module context per process, a pool of read-write
//!   sessions logged in as the user; each call takes its own session, so the store is safe to
//!   share between threads. A token failure (removed, login lost, session closed, device
//!   error) is [`Error::Token`], and drops the pooled sessions so the next call starts afresh.
//! - **Nothing half-created**: a creation that fails after the token object exists destroys
//!   it ([`Store::discard`](crate::Store::discard)); a deletion destroys the object before the
//!   record commits, idempotently.

mod key;
mod rsa;
pub mod softhsm;
pub mod template;
mod token;

use std::{
    path::Path,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use cryptoki::{
    error::Error as CkError,
    mechanism::Mechanism,
    object::{Attribute, AttributeType, KeyType, ObjectHandle},
    session::Session,
    types::Ulong,
};
pub use key::TokenKey;
use payhsm_core::{
    hex,
    key::{KeyAlgorithm, KeyAttributes, KeyClass},
    secret::SecretVec,
};
use payhsm_tr34::{
    der::Encode as _,
    rsa::{RsaPrivateKey, RsaPublicKey},
};
pub use rsa::TokenRsaKey;
use template::Part;
pub use token::{Pin, SOFTHSM2_MODULE, Token, TokenConfig, TokenSelector};
use zeroize::Zeroizing;

use super::{SqliteStore, Vault};
use crate::{
    Error,
    key_cache::{self, Lru},
    material::generate_material,
    model::KeyRecord,
};

/// The embedded SQLite store with its key material in a PKCS#11 token.
pub type Pkcs11Store = SqliteStore<TokenVault>;

impl Pkcs11Store {
    /// Creates the store's database at `path` for the token of `config` (`payhsm init`).
    pub fn create_for_token(path: &Path, config: TokenConfig) -> Result<Self, Error> {
        Self::create_with(path, TokenVault::new(Token::open(config)?))
    }

    /// Opens the store's database at `path` on the token of `config`, which must be the token
    /// it was created for.
    pub fn open_on_token(path: &Path, config: TokenConfig) -> Result<Self, Error> {
        Self::open_with(path, TokenVault::new(Token::open(config)?))
    }
}

const BLOCK_PREFIX: &str = "pkcs11:";

/// The first byte of an object id that carries its creation time.
const ID_VERSION: u8 = 0x01;

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Key material as objects in a token (see the module documentation).
#[derive(Debug)]
pub struct TokenVault {
    token: Arc<Token>,
    binding: String,
    cache: Mutex<Lru<Cached>>,
}

/// A cached handle: the key material reference it was opened from, and the token's epoch
/// then (see `Token::epoch`).
type Cached = (String, u64, Arc<TokenKey>);

impl TokenVault {
    /// A vault on `token`.
    pub fn new(token: Token) -> Self {
        let binding = format!(
            "PKCS#11 token {:?} serial {}",
            token.label(),
            token.serial()
        );
        Self {
            token: Arc::new(token),
            binding,
            cache: Mutex::new(Lru::new(key_cache::CAPACITY)),
        }
    }

    /// The token.
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// The `CKA_ID` a record's key material refers to.
    pub fn object_id(key_block: &str) -> Result<Vec<u8>, Error> {
        key_block
            .strip_prefix(BLOCK_PREFIX)
            .and_then(|h| hex::decode("key block", h).ok())
            .filter(|id| !id.is_empty())
            .ok_or_else(|| Error::internal("the key material is not a PKCS#11 object reference"))
    }

    fn cache(&self) -> MutexGuard<'_, Lru<Cached>> {
        // A cache of handles holds no invariant a panicking holder could break.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new object's `CKA_ID`: [`ID_VERSION`], the creation time (ms since the Unix epoch,
    /// big-endian), and 8 random bytes. The time lets the orphan sweep leave alone an object
    /// whose creator may still be about to commit its record.
    fn new_id(&self) -> Result<Vec<u8>, Error> {
        let random = self
            .token
            .with_session("drawing an object id", |s| s.generate_random_vec(8))?;
        let mut id = vec![ID_VERSION];
        id.extend_from_slice(&unix_ms().to_be_bytes());
        id.extend_from_slice(&random);
        Ok(id)
    }

    /// When the object `id` was created, if its id says (ids before [`ID_VERSION`] do not).
    fn created_ms(id: &[u8]) -> Option<u64> {
        match id {
            [ID_VERSION, time @ ..] if time.len() == 16 => {
                Some(u64::from_be_bytes(time[..8].try_into().ok()?))
            }
            _ => None,
        }
    }

    /// An RSA key pair generated in the token (`CKM_RSA_PKCS_KEY_PAIR_GEN`, public exponent
    /// 65537): the private key object of [`template::private_key`] and the public key object
    /// of [`template::public_key`], under one `CKA_ID`.
    fn generate_key_pair(
        &self,
        key_id: &str,
        attributes: &KeyAttributes,
        exportable: bool,
    ) -> Result<String, Error> {
        let bits = crate::material::rsa_size(attributes.key_algorithm)
            .ok_or_else(|| Error::internal("not an RSA algorithm"))?
            .bits();
        let id = self.new_id()?;
        let private = template::private_key(&id, key_id, attributes, exportable)?;
        let mut public = template::public_key(&id, key_id, attributes, exportable)?;
        public.push(Attribute::ModulusBits(ulong(bits)));
        public.push(Attribute::PublicExponent(vec![0x01, 0x00, 0x01]));
        self.token.with_session("generating the key pair", |s| {
            s.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)
        })?;
        Ok(Self::block(&id))
    }

    /// An imported certificate as a certificate object ([`template::certificate`]) whose
    /// `CKA_VALUE` is its DER.
    fn seal_certificate(
        &self,
        key_id: &str,
        attributes: &KeyAttributes,
        exportable: bool,
        der: &[u8],
    ) -> Result<String, Error> {
        use payhsm_tr34::der::Decode as _;
        let invalid = |e| Error::internal(format!("the certificate: {e}"));
        let certificate = payhsm_tr34::x509_cert::Certificate::from_der(der).map_err(invalid)?;
        let subject = certificate
            .tbs_certificate()
            .subject()
            .to_der()
            .map_err(|e| Error::internal(format!("the certificate's subject: {e}")))?;
        let id = self.new_id()?;
        let mut object = template::certificate(&id, key_id, attributes, exportable)?;
        object.push(Attribute::Subject(subject));
        object.push(Attribute::Value(der.to_vec()));
        self.token
            .with_session("creating the certificate object", |s| {
                s.create_object(&object)
            })?;
        Ok(Self::block(&id))
    }

    /// The DER of a certificate's object, after checking its attributes against the record.
    fn read_certificate(&self, record: &KeyRecord) -> Result<SecretVec, Error> {
        let integrity = |what: &str| {
            Error::internal(format!(
                "key {} failed its integrity check: {what}",
                record.key_id
            ))
        };
        let block = record
            .key_block
            .as_deref()
            .ok_or_else(|| integrity("its key material is destroyed"))?;
        let id = Self::object_id(block)?;
        let expected =
            template::certificate(&id, &record.key_id, &record.attributes, record.exportable)?;
        let found = self.token.with_session("reading the certificate", |s| {
            let objects = Self::find(s, &id)?;
            let [(object, _)] = objects.as_slice() else {
                return Ok(None);
            };
            if s.get_attributes(*object, &template::types(&expected))? != expected {
                return Ok(None);
            }
            Ok(s.get_attributes(*object, &[AttributeType::Value])?.pop())
        })?;
        match found {
            Some(Attribute::Value(der)) => Ok(SecretVec::from_slice(&der)),
            _ => Err(integrity(
                "the token holds no certificate object with the attributes its record implies",
            )),
        }
    }

    /// The objects with `CKA_ID` `id` and each one's label.
    fn find(s: &Session, id: &[u8]) -> Result<Vec<(ObjectHandle, Vec<u8>)>, CkError> {
        let mut out = Vec::new();
        for object in s.find_objects(&[Attribute::Token(true), Attribute::Id(id.to_vec())])? {
            let label = match s.get_attributes(object, &[AttributeType::Label])?.pop() {
                Some(Attribute::Label(l)) => l,
                _ => Vec::new(),
            };
            out.push((object, label));
        }
        Ok(out)
    }

    fn block(id: &[u8]) -> String {
        format!("{BLOCK_PREFIX}{}", hex::encode(id))
    }
}

/// A length as a PKCS#11 `CK_ULONG`.
fn ulong(n: usize) -> Ulong {
    // usize is at most 64 bits on every target cryptoki builds for.
    Ulong::from(n as u64)
}

/// Destroys `objects`, keeping the first error.
fn destroy_all(s: &Session, objects: &[ObjectHandle]) -> Result<(), CkError> {
    objects
        .iter()
        .map(|o| s.destroy_object(*o))
        .fold(Ok(()), Result::and)
}

impl Vault for TokenVault {
    type Handle = TokenKey;

    fn holds_objects(&self) -> bool {
        true
    }

    /// payhsm's objects (label `payhsm:…`) whose id carries a creation time older than
    /// `grace` and that no record references. Objects with older ids are never swept: their
    /// age is unknown.
    fn sweep_orphans(
        &self,
        referenced: &std::collections::BTreeSet<String>,
        grace: std::time::Duration,
    ) -> Result<Vec<String>, Error> {
        let cutoff = unix_ms().saturating_sub(u64::try_from(grace.as_millis()).unwrap_or(u64::MAX));
        self.token
            .with_session("sweeping orphaned objects", |s| {
                let mut swept = Vec::new();
                for object in s.find_objects(&[Attribute::Token(true)])? {
                    let mut found =
                        s.get_attributes(object, &[AttributeType::Id, AttributeType::Label])?;
                    let (Some(Attribute::Label(label)), Some(Attribute::Id(id))) =
                        (found.pop(), found.pop())
                    else {
                        continue;
                    };
                    let label = String::from_utf8_lossy(&label).into_owned();
                    let orphan = label.starts_with(template::LABEL_PREFIX)
                        && Self::created_ms(&id).is_some_and(|t| t <= cutoff)
                        && !referenced.contains(&Self::block(&id));
                    if orphan {
                        s.destroy_object(object)?;
                        swept.push(format!("object {} ({label})", hex::encode(&id)));
                    }
                }
                Ok(swept)
            })
            .map_err(Error::from)
    }

    /// The token's label and serial number.
    fn binding(&self) -> &str {
        &self.binding
    }

    fn check_binding(&self, recorded: &str, store: &Path) -> Result<(), Error> {
        if recorded == self.binding {
            return Ok(());
        }
        Err(Error::AccessDenied {
            message: format!(
                "wrong token for {}: the store was made for {recorded}, this is {}",
                store.display(),
                self.binding
            ),
        })
    }

    /// Creates the key's objects from `material`.
    fn seal(
        &self,
        key_id: &str,
        attributes: &KeyAttributes,
        exportable: bool,
        material: &[u8],
    ) -> Result<String, Error> {
        match attributes.key_class {
            KeyClass::PublicKey => {
                return self.seal_certificate(key_id, attributes, exportable, material);
            }
            KeyClass::SymmetricKey => {}
            class => {
                return Err(Error::NotSupported {
                    message: format!(
                        "not supported by this token: an RSA private key ({class}) is generated \
                         in the token and never enters it from outside, where it would have \
                         existed in the clear"
                    ),
                });
            }
        }
        let id = self.new_id()?;
        let mut key = template::object(&id, key_id, attributes, exportable, Part::Key)?;
        key.push(Attribute::Value(material.to_vec()));
        let k1 = template::has_k1(attributes)
            .then(|| {
                let mut k1 = template::object(&id, key_id, attributes, exportable, Part::K1)?;
                let part = material.get(..8).ok_or_else(|| {
                    Error::validation("KeyMaterial", "a TDES key is 16 or 24 bytes")
                })?;
                k1.push(Attribute::Value([part, part].concat()));
                Ok::<_, Error>(k1)
            })
            .transpose()?;
        let result = self.token.with_session("creating the key object", |s| {
            let object = s.create_object(&key)?;
            if let Some(k1) = &k1
                && let Err(e) = s.create_object(k1)
            {
                let _ = s.destroy_object(object);
                return Err(e);
            }
            Ok(())
        });
        // The templates hold the clear value: zeroize it.
        for template in [Some(key), k1].into_iter().flatten() {
            for a in template {
                if let Attribute::Value(v) = a {
                    drop(Zeroizing::new(v));
                }
            }
        }
        result?;
        Ok(Self::block(&id))
    }

    /// AES and HMAC keys: generated by the token (`C_GenerateKey`). TDES keys: drawn in
    /// software and created in the token (see the module documentation).
    fn generate(
        &self,
        key_id: &str,
        attributes: &KeyAttributes,
        exportable: bool,
    ) -> Result<String, Error> {
        let algorithm = attributes.key_algorithm;
        let mechanism = match template::key_type(algorithm)? {
            KeyType::RSA if attributes.key_class == KeyClass::AsymmetricKeyPair => {
                return self.generate_key_pair(key_id, attributes, exportable);
            }
            KeyType::RSA => {
                return Err(Error::NotSupported {
                    message: format!(
                        "not supported by this token: {algorithm} keys are generated as key \
                         pairs, not as {}",
                        attributes.key_class
                    ),
                });
            }
            KeyType::AES => Mechanism::AesKeyGen,
            KeyType::GENERIC_SECRET => Mechanism::GenericSecretKeyGen,
            _ => {
                let material = generate_material(algorithm)?;
                return self.seal(key_id, attributes, exportable, material.expose_secret());
            }
        };
        let len = algorithm.key_len().ok_or_else(|| Error::NotSupported {
            message: format!("the PKCS#11 store generates symmetric keys only, not {algorithm}"),
        })?;
        let id = self.new_id()?;
        let mut key = template::object(&id, key_id, attributes, exportable, Part::Key)?;
        key.push(Attribute::ValueLen(ulong(len)));
        self.token
            .with_session("generating the key", |s| s.generate_key(&mechanism, &key))?;
        Ok(Self::block(&id))
    }

    /// Destroys the key's objects; none left is success (destroying is idempotent). Objects
    /// labelled for another key are refused, so a record pointed at another key's objects
    /// cannot destroy them.
    fn destroy(&self, key_id: &str, key_block: &str) -> Result<(), Error> {
        let id = Self::object_id(key_block)?;
        let prefix = format!("payhsm:{key_id}:");
        let mut foreign = false;
        self.token.with_session("destroying the key objects", |s| {
            let objects = Self::find(s, &id)?;
            foreign = objects
                .iter()
                .any(|(_, l)| !l.starts_with(prefix.as_bytes()));
            if foreign {
                return Ok(());
            }
            let handles: Vec<ObjectHandle> = objects.iter().map(|(o, _)| *o).collect();
            destroy_all(s, &handles)
        })?;
        self.forget(key_id);
        if foreign {
            return Err(Error::internal(format!(
                "key {key_id} failed its integrity check: its material refers to another key's \
                 token objects"
            )));
        }
        Ok(())
    }

    /// The handle of a stored key, after reading its objects' attributes back and checking
    /// them against the record (cached per key id and reference).
    fn open(&self, record: &KeyRecord) -> Result<Arc<TokenKey>, Error> {
        let integrity = |what: &str| {
            Error::internal(format!(
                "key {} failed its integrity check: {what}",
                record.key_id
            ))
        };
        let block = record
            .key_block
            .as_deref()
            .ok_or_else(|| integrity("its key material is destroyed"))?;
        let epoch = self.token.epoch();
        if let Some((cached, at, handle)) = self.cache().get(&record.key_id)
            && cached == block
            && *at == epoch
        {
            return Ok(Arc::clone(handle));
        }
        let id = Self::object_id(block)?;
        let a = &record.attributes;
        let expected_key = template::object(&id, &record.key_id, a, record.exportable, Part::Key)?;
        let expected_k1 = template::has_k1(a)
            .then(|| template::object(&id, &record.key_id, a, record.exportable, Part::K1))
            .transpose()?;
        let fixed_len = matches!(
            a.key_algorithm,
            KeyAlgorithm::Tdes2Key | KeyAlgorithm::Tdes3Key
        );
        let mut mismatch = None;
        let found = self.token.with_session("opening the key", |s| {
            let mut key = None;
            let mut k1 = None;
            for (object, _) in Self::find(s, &id)? {
                let read =
                    |template: &[Attribute]| s.get_attributes(object, &template::types(template));
                if read(&expected_key)? == expected_key {
                    let len = s.get_attributes(object, &[AttributeType::ValueLen])?;
                    let len_ok = fixed_len
                        || len
                            == [Attribute::ValueLen(ulong(
                                a.key_algorithm.key_len().unwrap_or(0),
                            ))];
                    if len_ok {
                        key = Some(object);
                        continue;
                    }
                }
                if let Some(t) = &expected_k1
                    && read(t)? == *t
                {
                    k1 = Some(object);
                    continue;
                }
                mismatch = Some(object);
            }
            Ok((key, k1))
        })?;
        let (Some(object), k1) = found else {
            return Err(integrity(
                "the token holds no object with the attributes its record implies",
            ));
        };
        if mismatch.is_some() || (expected_k1.is_some() && k1.is_none()) {
            return Err(integrity(
                "the token's objects for it do not match its record",
            ));
        }
        let handle = Arc::new(TokenKey::new(
            Arc::clone(&self.token),
            a.key_algorithm,
            object,
            k1,
        ));
        self.cache().insert(
            &record.key_id,
            (block.to_owned(), epoch, Arc::clone(&handle)),
        );
        Ok(handle)
    }

    /// A token's keys never leave it, so they cannot be exported or replicated.
    fn check_export_supported(&self) -> Result<(), Error> {
        Err(Error::NotSupported {
            message: "not supported by this token: its keys' values never leave it \
                      (CKA_SENSITIVE), and exporting or replicating a key needs a TR-31 key \
                      block whose MAC covers the clear value, which the token has no \
                      mechanism for"
                .to_owned(),
        })
    }

    /// A certificate's DER (public data, from its certificate object). Refuses anything else:
    /// a key's value never leaves the token.
    fn reveal(&self, record: &KeyRecord) -> Result<SecretVec, Error> {
        if record.attributes.key_class == KeyClass::PublicKey {
            return self.read_certificate(record);
        }
        Err(Error::NotSupported {
            message: format!(
                "not supported by this token: key {} is held in a PKCS#11 token and its value \
                 never leaves it (CKA_SENSITIVE), and this operation needs the clear value (a \
                 TR-31 key block's MAC covers it; TDES DUKPT XORs a constant into it), which the \
                 token has no mechanism for",
                record.key_id
            ),
        })
    }

    /// The token-held key of a key pair ([`TokenRsaKey`]): its objects' attributes are read
    /// back and checked against the record first, and its public half read from the public
    /// key object.
    fn private_key(&self, record: &KeyRecord) -> Result<Box<dyn RsaPrivateKey + '_>, Error> {
        let integrity = |what: &str| {
            Error::internal(format!(
                "key {} failed its integrity check: {what}",
                record.key_id
            ))
        };
        if record.attributes.key_class != KeyClass::AsymmetricKeyPair {
            return Err(integrity("it is not an RSA key pair"));
        }
        let block = record
            .key_block
            .as_deref()
            .ok_or_else(|| integrity("its key material is destroyed"))?;
        let id = Self::object_id(block)?;
        let a = &record.attributes;
        let private = template::private_key(&id, &record.key_id, a, record.exportable)?;
        let public = template::public_key(&id, &record.key_id, a, record.exportable)?;
        let mut other = false;
        let (private_object, components) =
            self.token.with_session("opening the key pair", |s| {
                let (mut private_object, mut components) = (None, None);
                for (object, _) in Self::find(s, &id)? {
                    let read = |template: &[Attribute]| {
                        s.get_attributes(object, &template::types(template))
                    };
                    if private_object.is_none() && read(&private)? == private {
                        private_object = Some(object);
                    } else if components.is_none() && read(&public)? == public {
                        components = Some(s.get_attributes(
                            object,
                            &[AttributeType::Modulus, AttributeType::PublicExponent],
                        )?);
                    } else {
                        other = true;
                    }
                }
                Ok((private_object, components))
            })?;
        let (Some(object), Some(components), false) = (private_object, components, other) else {
            return Err(integrity(
                "the token's objects for it do not match its record",
            ));
        };
        let (Some(Attribute::Modulus(n)), Some(Attribute::PublicExponent(e))) =
            (components.first(), components.get(1))
        else {
            return Err(integrity(
                "its public key object has no modulus or exponent",
            ));
        };
        let public = RsaPublicKey::from_pkcs1_der(&rsa::pkcs1_public_der(n, e))
            .map_err(|e| integrity(&format!("its public key is not acceptable: {e}")))?;
        if public.size().key_algorithm() != a.key_algorithm {
            return Err(integrity("the key's size does not match the record"));
        }
        Ok(Box::new(TokenRsaKey::new(
            Arc::clone(&self.token),
            object,
            public,
        )))
    }

    fn forget(&self, key_id: &str) {
        self.cache().remove(key_id);
    }

    fn forget_all(&self) {
        self.cache().clear();
    }
}
