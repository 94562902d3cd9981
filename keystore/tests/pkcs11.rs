//! The PKCS#11 store on SoftHSM2: the conformance suite, the T-P11 cases of
//! security-tests.md, and token results against the software store's.
//!
//! Every test initialises a token of its own in this process's temporary SoftHSM2 token
//! directory (see `payhsm_keystore::store::pkcs11::softhsm`). Without SoftHSM2 the tests say
//! so and pass, except under CI (`CI=true`), where a missing module fails them.

#![cfg(feature = "pkcs11")]

mod conformance;

use std::{
    collections::BTreeSet,
    sync::atomic::{AtomicUsize, Ordering},
};

use cryptoki::{
    error::{Error as CkError, RvError},
    object::{Attribute, AttributeInfo, AttributeType, ObjectClass, ObjectHandle},
    session::Session,
};
use payhsm_core::{
    BackendFailure,
    key::{KeyAlgorithm as A, KeyAttributes, KeyClass, KeyUsage as U, ModeOfUse as M},
};
use payhsm_keystore::{
    Error, Hsm, Store,
    clock::Timestamp,
    model::{AliasRecord, KeyRecord, OutboxEntry, OutboxItem, Setting},
    policy,
    store::pkcs11::{Pkcs11Store, SOFTHSM2_MODULE, TokenConfig, TokenVault, softhsm, template},
};
use serde_json::{Value, json};

use conformance::{Harness, import_known, key_id};

const PIN: &str = "246810";

/// A new token's configuration, or `None` (after saying why) when SoftHSM2 is missing here.
fn token_config() -> Option<TokenConfig> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let Some(module) = softhsm::module() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "SoftHSM2 is not installed ({SOFTHSM2_MODULE}): CI must install the softhsm2 package"
        );
        eprintln!(
            "skipped: SoftHSM2 is not installed ({SOFTHSM2_MODULE}); apt-get install softhsm2"
        );
        return None;
    };
    let label = format!("payhsm-{}", N.fetch_add(1, Ordering::Relaxed));
    Some(softhsm::temporary_token(&module, &label, PIN).unwrap())
}

/// A PKCS#11 store on a new token, its database in a new directory.
fn pkcs11_store() -> Option<Pkcs11Store> {
    let config = token_config()?;
    let dir = tempfile::tempdir().unwrap().keep();
    Some(Pkcs11Store::create_for_token(&dir.join("keys.db"), config).unwrap())
}

conformance_tests!(on_softhsm, super::pkcs11_store, |store| store);

/// A harness on a new token, or `None` without SoftHSM2.
fn harness() -> Option<Harness<Pkcs11Store>> {
    pkcs11_store().map(conformance::hsm)
}

/// A session of our own on the store's token (logged in: login is per application).
fn session(store: &Pkcs11Store) -> Session {
    let token = store.vault().token();
    token.pkcs11().open_rw_session(token.slot()).unwrap()
}

/// The token objects of a key.
fn objects(store: &Pkcs11Store, s: &Session, arn: &str) -> Vec<ObjectHandle> {
    let record = store.get_key(key_id(arn)).unwrap().unwrap();
    let id = TokenVault::object_id(record.key_block.as_deref().unwrap()).unwrap();
    s.find_objects(&[Attribute::Id(id)]).unwrap()
}

/// Every secret-key object on the token.
fn all_objects(s: &Session) -> Vec<ObjectHandle> {
    s.find_objects(&[Attribute::Class(ObjectClass::SECRET_KEY)])
        .unwrap()
}

fn flag(s: &Session, o: ObjectHandle, t: AttributeType) -> bool {
    match s.get_attributes(o, &[t]).unwrap().as_slice() {
        [
            Attribute::Token(b)
            | Attribute::Sensitive(b)
            | Attribute::Extractable(b)
            | Attribute::WrapWithTrusted(b)
            | Attribute::Encrypt(b)
            | Attribute::Decrypt(b)
            | Attribute::Wrap(b)
            | Attribute::Unwrap(b)
            | Attribute::Derive(b)
            | Attribute::Modifiable(b)
            | Attribute::AlwaysSensitive(b)
            | Attribute::NeverExtractable(b),
        ] => *b,
        other => panic!("{t:?}: {other:?}"),
    }
}

/// T-P11-1: every object the backend creates (generated and imported, every algorithm, K1
/// parts too) is a sensitive token object, extractable only when the key is exportable and
/// then only wrapped under a trusted key; its value cannot be read (CKR_ATTRIBUTE_SENSITIVE).
#[test]
fn t_p11_1_objects_are_sensitive_token_objects() {
    let Some(h) = harness() else { return };
    let mut keys = Vec::new();
    for (usage, alg, modes, exportable) in [
        (
            "TR31_C0_CARD_VERIFICATION_KEY",
            "TDES_2KEY",
            &["Generate", "Verify"][..],
            true,
        ),
        (
            "TR31_C0_CARD_VERIFICATION_KEY",
            "TDES_2KEY",
            &["Generate", "Verify"],
            false,
        ),
        (
            "TR31_M3_ISO_9797_3_MAC_KEY",
            "TDES_3KEY",
            &["Generate", "Verify"],
            false,
        ),
        (
            "TR31_P0_PIN_ENCRYPTION_KEY",
            "TDES_3KEY",
            &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
            true,
        ),
        (
            "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
            "AES_128",
            &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
            false,
        ),
        (
            "TR31_K1_KEY_BLOCK_PROTECTION_KEY",
            "AES_192",
            &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
            false,
        ),
        (
            "TR31_P0_PIN_ENCRYPTION_KEY",
            "AES_256",
            &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
            true,
        ),
        (
            "TR31_M7_HMAC_KEY",
            "HMAC_SHA256",
            &["Generate", "Verify"],
            true,
        ),
        (
            "TR31_M7_HMAC_KEY",
            "HMAC_SHA512",
            &["Generate", "Verify"],
            false,
        ),
    ] {
        // AES and HMAC keys are generated by the token; TDES keys are drawn in software and
        // created in it (the token has no single DES to check their parts).
        let token_generated = !alg.starts_with("TDES");
        keys.push((
            h.create(usage, alg, modes, exportable),
            exportable,
            token_generated,
        ));
    }
    keys.push((
        import_known(
            &h,
            U::C0,
            A::Tdes2Key,
            M::GENERATE_VERIFY,
            true,
            conformance::KNOWN_CVK,
        ),
        true,
        false,
    ));
    let store = h.hsm.store();
    let s = session(store);
    let mut seen = 0;
    for (arn, exportable, token_generated) in &keys {
        let objects = objects(store, &s, arn);
        assert!(!objects.is_empty(), "{arn} has token objects");
        for o in objects {
            seen += 1;
            let label = match s
                .get_attributes(o, &[AttributeType::Label])
                .unwrap()
                .as_slice()
            {
                [Attribute::Label(l)] => String::from_utf8(l.clone()).unwrap(),
                other => panic!("{other:?}"),
            };
            let k1 = label.ends_with(":K1");
            assert!(
                label.starts_with(&format!("payhsm:{}:", key_id(arn))),
                "{label}"
            );
            assert!(flag(&s, o, AttributeType::Token), "{label}: CKA_TOKEN");
            assert!(
                flag(&s, o, AttributeType::Sensitive),
                "{label}: CKA_SENSITIVE"
            );
            assert!(
                !flag(&s, o, AttributeType::Modifiable),
                "{label}: CKA_MODIFIABLE"
            );
            let extractable = *exportable && !k1;
            assert_eq!(
                flag(&s, o, AttributeType::Extractable),
                extractable,
                "{label}"
            );
            assert_eq!(
                flag(&s, o, AttributeType::WrapWithTrusted),
                extractable,
                "{label}"
            );
            // Generated in the token: never anything but sensitive, never extractable unless
            // exportable. Created objects have both false (their value came from outside).
            assert_eq!(
                flag(&s, o, AttributeType::NeverExtractable),
                !extractable && *token_generated,
                "{label}"
            );
            assert_eq!(
                flag(&s, o, AttributeType::AlwaysSensitive),
                *token_generated,
                "{label}"
            );
            assert!(
                matches!(
                    s.get_attribute_info(o, &[AttributeType::Value])
                        .unwrap()
                        .as_slice(),
                    [AttributeInfo::Sensitive]
                ),
                "{label}: CKA_VALUE is not readable"
            );
            assert!(
                s.get_attributes(o, &[AttributeType::Value])
                    .unwrap()
                    .is_empty()
            );
        }
    }
    // The C0 keys, the M3 key and the imported C0 key have a K1 part each.
    assert_eq!(seen, keys.len() + 4);
    // The store's own count of what it made: nothing else is on the token.
    assert_eq!(all_objects(&s).len(), seen);
}

/// The one flag attribute `t` of object `o`, for the attributes [`flag`] does not cover.
fn rsa_flag(s: &Session, o: ObjectHandle, t: AttributeType) -> bool {
    match s.get_attributes(o, &[t]).unwrap().as_slice() {
        [
            Attribute::Private(b)
            | Attribute::Sign(b)
            | Attribute::Verify(b)
            | Attribute::SignRecover(b)
            | Attribute::Copyable(b),
        ] => *b,
        _ => flag(s, o, t),
    }
}

/// T-P11-1 for key pairs: the token generates them; the private key object is a sensitive,
/// never extractable token object whose private components cannot be read
/// (CKR_ATTRIBUTE_SENSITIVE), which signs only for a signing key and decrypts only for a
/// decryption key, and never unwraps; the public key object is public data. An imported
/// certificate is a public certificate object holding its DER.
#[test]
fn t_p11_1_key_pairs_are_sensitive_token_objects() {
    let Some(h) = harness() else { return };
    let create = |usage: &str, algorithm: &str, modes: Value| {
        let out = h.ok(
            "CreateKey",
            json!({ "KeyAttributes": { "KeyUsage": usage, "KeyClass": "ASYMMETRIC_KEY_PAIR",
                "KeyAlgorithm": algorithm, "KeyModesOfUse": modes }, "Exportable": false }),
        );
        out["Key"]["KeyArn"].as_str().unwrap().to_owned()
    };
    let signing = create(
        "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
        "RSA_2048",
        json!({ "Sign": true }),
    );
    let decrypting = create(
        "TR31_K2_TR34_ASYMMETRIC_KEY",
        "RSA_2048",
        json!({ "Decrypt": true, "Unwrap": true }),
    );
    let store = h.hsm.store();
    let s = session(store);
    for (arn, sign) in [(&signing, true), (&decrypting, false)] {
        let objects = objects(store, &s, arn);
        assert_eq!(objects.len(), 2, "{arn}: a private and a public key object");
        let class = |o: ObjectHandle| match s
            .get_attributes(o, &[AttributeType::Class])
            .unwrap()
            .as_slice()
        {
            [Attribute::Class(c)] => *c,
            other => panic!("{other:?}"),
        };
        let private = *objects
            .iter()
            .find(|o| class(**o) == ObjectClass::PRIVATE_KEY)
            .unwrap();
        let public = *objects
            .iter()
            .find(|o| class(**o) == ObjectClass::PUBLIC_KEY)
            .unwrap();
        for t in [
            AttributeType::Token,
            AttributeType::Private,
            AttributeType::Sensitive,
            AttributeType::AlwaysSensitive,
            AttributeType::NeverExtractable,
        ] {
            assert!(rsa_flag(&s, private, t), "{arn}: {t:?}");
        }
        for t in [
            AttributeType::Extractable,
            AttributeType::Modifiable,
            AttributeType::Copyable,
            AttributeType::Unwrap,
            AttributeType::SignRecover,
            AttributeType::Derive,
        ] {
            assert!(!rsa_flag(&s, private, t), "{arn}: {t:?}");
        }
        assert_eq!(rsa_flag(&s, private, AttributeType::Sign), sign, "{arn}");
        assert_eq!(
            rsa_flag(&s, private, AttributeType::Decrypt),
            !sign,
            "{arn}"
        );
        for t in [
            AttributeType::PrivateExponent,
            AttributeType::Prime1,
            AttributeType::Prime2,
            AttributeType::Exponent1,
            AttributeType::Exponent2,
            AttributeType::Coefficient,
        ] {
            assert!(
                matches!(
                    s.get_attribute_info(private, &[t]).unwrap().as_slice(),
                    [AttributeInfo::Sensitive]
                ),
                "{arn}: {t:?} is not readable"
            );
            assert!(s.get_attributes(private, &[t]).unwrap().is_empty());
        }
        // The public half is public data, and usable by nobody in the token.
        assert!(rsa_flag(&s, public, AttributeType::Token));
        assert!(!rsa_flag(&s, public, AttributeType::Private));
        assert!(!rsa_flag(&s, public, AttributeType::Verify));
        assert!(!rsa_flag(&s, public, AttributeType::Encrypt));
        assert!(
            matches!(
                s.get_attributes(public, &[AttributeType::Modulus]).unwrap().as_slice(),
                [Attribute::Modulus(n)] if n.len() == 256
            ),
            "{arn}: the public key object has the 2048-bit modulus"
        );
        // The store never reveals the private key.
        let record = store.get_key(key_id(arn)).unwrap().unwrap();
        assert!(matches!(
            store.reveal(&record),
            Err(Error::NotSupported { .. })
        ));
    }
    // A signing key signs in the token; a key without OAEP SHA-256 in SoftHSM says so.
    let record = store.get_key(key_id(&decrypting)).unwrap().unwrap();
    let key = store.private_key(&record).unwrap();
    let ciphertext = key
        .public_key()
        .encrypt_oaep(
            payhsm_tr34::rsa::OaepHash::Sha256,
            b"0123456789abcdef",
            &mut payhsm_core::rng::OsRandom,
        )
        .unwrap();
    assert_eq!(
        key.decrypt_oaep(payhsm_tr34::rsa::OaepHash::Sha256, &ciphertext)
            .err(),
        Some(payhsm_tr34::Error::NotSupported {
            operation: "RSAES-OAEP decryption with SHA-256 and MGF1-SHA-256 (CKM_RSA_PKCS_OAEP)"
        })
    );
    let record = store.get_key(key_id(&signing)).unwrap().unwrap();
    let key = store.private_key(&record).unwrap();
    let signature = key.sign_pkcs1_sha256(b"message").unwrap();
    key.public_key()
        .verify_pkcs1_sha256(b"message", &signature)
        .unwrap();
    // An imported certificate: a public certificate object holding the DER.
    let ca = &conformance::pki::ca().cert;
    let ca_arn = conformance::asymmetric::import_root(&h, ca);
    let objects = objects(store, &s, &ca_arn);
    let [certificate] = objects.as_slice() else {
        panic!("{objects:?}")
    };
    assert!(!rsa_flag(&s, *certificate, AttributeType::Private));
    assert!(!rsa_flag(&s, *certificate, AttributeType::Modifiable));
    assert_eq!(
        s.get_attributes(*certificate, &[AttributeType::Class, AttributeType::Value])
            .unwrap(),
        [
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::Value(ca.to_der().to_vec())
        ]
    );
}

/// T-P11-2: no object can both wrap and decrypt, or unwrap and encrypt — checked on the
/// template of every key the attribute table allows, and on the objects read back.
#[test]
fn t_p11_2_no_wrap_and_decrypt() {
    for attrs in policy::valid_attributes() {
        if attrs.key_algorithm.key_len().is_none() {
            continue;
        }
        for exportable in [false, true] {
            for part in [template::Part::Key, template::Part::K1] {
                let t = template::object(b"id", "k", &attrs, exportable, part).unwrap();
                let has = |a: Attribute| t.contains(&a);
                assert!(
                    has(Attribute::Wrap(false)) && has(Attribute::Unwrap(false)),
                    "{attrs:?}"
                );
                assert!(has(Attribute::Derive(false)) && has(Attribute::Sensitive(true)));
            }
        }
    }
    let Some(h) = harness() else { return };
    for attrs in policy::valid_attributes() {
        if attrs.key_algorithm.key_len().is_some() {
            h.create_with(&attrs, false);
        }
    }
    let s = session(h.hsm.store());
    let objects = all_objects(&s);
    assert!(objects.len() > 50, "{} objects", objects.len());
    for o in objects {
        let wrap = flag(&s, o, AttributeType::Wrap);
        let unwrap = flag(&s, o, AttributeType::Unwrap);
        assert!(!(wrap && flag(&s, o, AttributeType::Decrypt)));
        assert!(!(unwrap && flag(&s, o, AttributeType::Encrypt)));
        assert!(!wrap && !unwrap && !flag(&s, o, AttributeType::Derive));
    }
}

/// T-P11-3: CKA_SENSITIVE cannot be set back to false, nor CKA_EXTRACTABLE to true, nor a
/// copy made with other flags. The objects are unmodifiable, so SoftHSM2 answers
/// CKR_ACTION_PROHIBITED before it reaches the read-only rule (CKR_ATTRIBUTE_READ_ONLY); the
/// backend itself never tries.
#[test]
fn t_p11_3_sensitive_stays_sensitive() {
    let Some(h) = harness() else { return };
    let cvk = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
        false,
    );
    let s = session(h.hsm.store());
    for o in objects(h.hsm.store(), &s, &cvk) {
        for change in [
            Attribute::Sensitive(false),
            Attribute::Extractable(true),
            Attribute::Decrypt(true),
        ] {
            match s.update_attributes(o, std::slice::from_ref(&change)) {
                Err(CkError::Pkcs11(RvError::ActionProhibited | RvError::AttributeReadOnly, _)) => {
                }
                other => panic!("{change:?}: {other:?}"),
            }
        }
        match s.copy_object(o, &[Attribute::Sensitive(false), Attribute::Token(false)]) {
            Err(CkError::Pkcs11(RvError::ActionProhibited | RvError::AttributeReadOnly, _)) => {}
            other => panic!("copy: {other:?}"),
        }
        assert!(flag(&s, o, AttributeType::Sensitive));
        assert!(!flag(&s, o, AttributeType::Extractable));
    }
    // Still usable.
    h.ok("GenerateCardValidationData", cvv2(&cvk));
}

fn cvv2(key: &str) -> Value {
    json!({ "KeyIdentifier": key, "PrimaryAccountNumber": "4111111111111111",
        "GenerationAttributes": { "CardVerificationValue2": { "CardExpiryDate": "1230" } } })
}

/// T-P11-4: the login is lost under the store. Operations fail with a typed error, a creation
/// leaves no record and no object, and the next call logs in again.
#[test]
fn t_p11_4_lost_login_is_typed_and_creates_nothing() {
    let Some(h) = harness() else { return };
    let cvk = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
        false,
    );
    let store = h.hsm.store();
    let s = session(store);
    let objects_before = all_objects(&s).len();
    s.logout().unwrap();
    match h.call("GenerateCardValidationData", cvv2(&cvk)) {
        Err(Error::Token {
            failure: BackendFailure::LoginLost,
            message,
        }) => {
            assert!(message.contains("logged in"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let e = h.call("GenerateCardValidationData", cvv2(&cvk)).unwrap();
    assert_eq!(
        e["ValidationData"].as_str().unwrap().len(),
        3,
        "the next call logs in again"
    );
    // Lose it again, then create: the creation fails typed and leaves nothing.
    s.logout().unwrap();
    let keys_before = store.list_keys(None, 100).unwrap().len();
    let r = h.call("CreateKey", json!({ "KeyAttributes": { "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "TDES_2KEY", "KeyModesOfUse": { "Generate": true, "Verify": true } }, "Exportable": false }));
    match r {
        Err(Error::Token {
            failure: BackendFailure::LoginLost,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(store.list_keys(None, 100).unwrap().len(), keys_before);
    h.ok("GetKey", json!({ "KeyIdentifier": cvk }));
    h.ok("GenerateCardValidationData", cvv2(&cvk));
    assert_eq!(
        all_objects(&s).len(),
        objects_before,
        "no object was left behind"
    );
    assert!(
        h.hsm
            .audit()
            .lines()
            .iter()
            .any(|l| l.contains("CreateKey") && l.contains("ServiceUnavailableException")),
        "the failed creation is audited"
    );
}

/// A store whose record writes fail after the key material is in the token (a database
/// failure at the worst moment).
struct FailingInsert(Pkcs11Store);

impl Store for FailingInsert {
    type Handle = <Pkcs11Store as Store>::Handle;
    type Vault = <Pkcs11Store as Store>::Vault;

    fn vault(&self) -> &Self::Vault {
        self.0.vault()
    }

    fn get_key(&self, key_id: &str) -> Result<Option<KeyRecord>, Error> {
        self.0.get_key(key_id)
    }
    fn list_keys(&self, after: Option<&str>, limit: usize) -> Result<Vec<KeyRecord>, Error> {
        self.0.list_keys(after, limit)
    }
    fn insert_key(&self, _record: &KeyRecord, _outbox: &[OutboxItem]) -> Result<(), Error> {
        Err(Error::internal("key store: disk I/O error"))
    }
    fn update_key(&self, record: &KeyRecord, outbox: &[OutboxItem]) -> Result<bool, Error> {
        self.0.update_key(record, outbox)
    }
    fn outbox(&self, after: Option<u64>, limit: usize) -> Result<Vec<OutboxEntry>, Error> {
        self.0.outbox(after, limit)
    }
    fn remove_outbox(&self, seq: u64) -> Result<(), Error> {
        self.0.remove_outbox(seq)
    }
    fn get_setting(&self, name: &str) -> Result<Option<Setting>, Error> {
        self.0.get_setting(name)
    }
    fn put_setting(&self, setting: &Setting) -> Result<bool, Error> {
        self.0.put_setting(setting)
    }
    fn get_alias(&self, alias_name: &str) -> Result<Option<AliasRecord>, Error> {
        self.0.get_alias(alias_name)
    }
    fn list_aliases(&self, after: Option<&str>, limit: usize) -> Result<Vec<AliasRecord>, Error> {
        self.0.list_aliases(after, limit)
    }
    fn insert_alias(&self, alias: &AliasRecord) -> Result<(), Error> {
        self.0.insert_alias(alias)
    }
    fn update_alias(&self, alias: &AliasRecord) -> Result<bool, Error> {
        self.0.update_alias(alias)
    }
    fn delete_alias(&self, alias_name: &str) -> Result<bool, Error> {
        self.0.delete_alias(alias_name)
    }
    fn consume_nonce(
        &self,
        token_key_id: &str,
        nonce: &[u8],
        expires: Timestamp,
        now: Timestamp,
    ) -> Result<bool, Error> {
        self.0.consume_nonce(token_key_id, nonce, expires, now)
    }
}

/// T-P11-4: a creation that fails after the token made the objects (generated, or imported
/// with a K1 part) destroys them: no record, no object.
#[test]
fn t_p11_4_failed_creation_leaves_no_object() {
    let Some(store) = pkcs11_store() else { return };
    let h = conformance::hsm(FailingInsert(store));
    for (usage, alg) in [
        ("TR31_C0_CARD_VERIFICATION_KEY", "TDES_3KEY"),
        ("TR31_M6_ISO_9797_5_CMAC_KEY", "AES_128"),
        ("TR31_M7_HMAC_KEY", "HMAC_SHA384"),
    ] {
        let e = h.call("CreateKey", json!({ "KeyAttributes": { "KeyUsage": usage, "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": alg, "KeyModesOfUse": { "Generate": true } }, "Exportable": false })).unwrap_err();
        assert!(e.message().contains("disk I/O"), "{e}");
    }
    let attributes = KeyAttributes {
        key_usage: U::C0,
        key_class: KeyClass::SymmetricKey,
        key_algorithm: A::Tdes2Key,
        key_modes_of_use: payhsm_core::key::KeyModesOfUse::from_mode_of_use(M::GENERATE_VERIFY)
            .unwrap(),
    };
    let soft =
        payhsm_core::crypto::SoftwareKey::from_hex(A::Tdes2Key, conformance::KNOWN_CVK).unwrap();
    let e = h
        .hsm
        .import_clear_key(payhsm_keystore::CeremonyKey {
            attributes,
            exportable: false,
            material: payhsm_core::secret::SecretVec::from_slice(
                &payhsm_core::hex::decode("k", conformance::KNOWN_CVK).unwrap(),
            ),
            expected_check_value: payhsm_core::kcv::default_kcv(&soft).unwrap().to_string(),
        })
        .unwrap_err();
    assert!(e.message().contains("disk I/O"), "{e}");
    let FailingInsert(store) = h.hsm.into_store();
    assert!(store.list_keys(None, 10).unwrap().is_empty());
    assert!(
        all_objects(&session(&store)).is_empty(),
        "every object was destroyed"
    );
}

/// Deletion destroys the key's token objects, once its deadline passes.
#[test]
fn deletion_destroys_the_objects() {
    let Some(h) = harness() else { return };
    let cvk = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
        false,
    );
    let other = h.create(
        "TR31_M6_ISO_9797_5_CMAC_KEY",
        "AES_256",
        &["Generate"],
        false,
    );
    let s = session(h.hsm.store());
    let before = objects(h.hsm.store(), &s, &cvk);
    assert_eq!(before.len(), 2);
    h.ok(
        "DeleteKey",
        json!({ "KeyIdentifier": cvk, "DeleteKeyInDays": 3 }),
    );
    assert_eq!(
        objects(h.hsm.store(), &s, &cvk).len(),
        2,
        "restorable until the deadline"
    );
    h.clock.advance_days(3);
    assert_eq!(h.state(&cvk), "DELETE_COMPLETE");
    assert_eq!(
        all_objects(&s).len(),
        1,
        "only the other key's object is left"
    );
    h.ok("GenerateMac", json!({ "KeyIdentifier": other, "MessageData": "00", "GenerationAttributes": { "Algorithm": "CMAC" } }));
}

/// The store opens only on its token, and only with the right PIN.
#[test]
fn opens_only_on_its_token_with_its_pin() {
    let Some(first) = token_config() else { return };
    let Some(second) = token_config() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keys.db");
    let first_label = match &first.token {
        payhsm_keystore::store::pkcs11::TokenSelector::Label(l) => l.clone(),
        other => panic!("{other:?}"),
    };
    let store = Pkcs11Store::create_for_token(&db, first).unwrap();
    let h = conformance::hsm(store);
    let cvk = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
        false,
    );
    let cvv = h.ok("GenerateCardValidationData", cvv2(&cvk));
    drop(h);
    let e = Pkcs11Store::open_on_token(&db, second).unwrap_err();
    assert_eq!(e.name(), "AccessDeniedException");
    assert!(e.message().starts_with("wrong token"), "{e}");
    let module = softhsm::module().unwrap();
    let wrong_pin = TokenConfig {
        module: module.clone(),
        token: payhsm_keystore::store::pkcs11::TokenSelector::Label(first_label.clone()),
        pin: payhsm_keystore::store::pkcs11::Pin::new("000000".into()),
    };
    let e = Pkcs11Store::open_on_token(&db, wrong_pin).unwrap_err();
    assert_eq!(e.name(), "AccessDeniedException");
    assert!(e.message().contains("refused the user PIN"), "{e}");
    assert!(!e.message().contains("000000"), "{e}");
    let right = TokenConfig {
        module,
        token: payhsm_keystore::store::pkcs11::TokenSelector::Label(first_label),
        pin: payhsm_keystore::store::pkcs11::Pin::new(PIN.into()),
    };
    let h = conformance::hsm(Pkcs11Store::open_on_token(&db, right).unwrap());
    assert_eq!(h.ok("GenerateCardValidationData", cvv2(&cvk)), cvv);
    assert_eq!(
        format!("{:?}", payhsm_keystore::store::pkcs11::Pin::new(PIN.into())),
        "Pin([REDACTED])"
    );
}

/// Token mechanisms (and the TDES CMAC composition) give the software store's results for
/// keys of known value, for every MAC, encryption mode and message length around the block.
#[test]
fn token_results_equal_software_results() {
    let Some(h) = harness() else { return };
    let soft = conformance::hsm(conformance::memory_store());
    let keys: [(U, A, M, &str); 6] = [
        (
            U::M3,
            A::Tdes2Key,
            M::GENERATE_VERIFY,
            "0123456789ABCDEFFEDCBA9876543210",
        ),
        (
            U::M1,
            A::Tdes3Key,
            M::GENERATE_VERIFY,
            conformance::KNOWN_KEK,
        ),
        (
            U::M6,
            A::Tdes2Key,
            M::GENERATE_VERIFY,
            "F039121BEC83D26B169BDCD5B22AAF8F",
        ),
        (
            U::M6,
            A::Aes128,
            M::GENERATE_VERIFY,
            "2B7E151628AED2A6ABF7158809CF4F3C",
        ),
        (
            U::M7,
            A::HmacSha256,
            M::GENERATE_VERIFY,
            &conformance::KNOWN_KBPK[..64],
        ),
        (
            U::D0,
            A::Aes256,
            M::ENCRYPT_DECRYPT,
            conformance::KNOWN_KBPK,
        ),
    ];
    let mut compared = BTreeSet::new();
    for (usage, alg, mode, hex) in keys {
        let t = import_known(&h, usage, alg, mode, false, hex);
        let s = import_known(&soft, usage, alg, mode, false, hex);
        let get = |h: &dyn Fn(&str, Value) -> Result<Value, Error>, id: &str| {
            h("GetKey", json!({ "KeyIdentifier": id })).unwrap()["Key"]["KeyCheckValue"].clone()
        };
        assert_eq!(
            get(&|o, v| h.call(o, v), &t),
            get(&|o, v| soft.call(o, v), &s)
        );
        for len in [0usize, 1, 7, 8, 9, 15, 16, 17, 33] {
            let message = "A5".repeat(len);
            let requests: Vec<(&str, Value, &str)> = match usage {
                U::D0 => ["ECB", "CBC"]
                    .iter()
                    .filter(|_| len > 0 && len % 16 == 0)
                    .map(|m| {
                        let mut symmetric = json!({ "Mode": m });
                        if *m == "CBC" {
                            symmetric["InitializationVector"] = json!("000102030405060708090A0B0C0D0E0F");
                        }
                        ("EncryptData", json!({ "PlainText": message, "EncryptionAttributes": { "Symmetric": symmetric } }), "CipherText")
                    })
                    .collect(),
                _ => {
                    let alg_name = match usage {
                        U::M3 => "ISO9797_ALGORITHM3",
                        U::M1 => "ISO9797_ALGORITHM1",
                        U::M6 => "CMAC",
                        _ => "HMAC",
                    };
                    if len == 0 {
                        Vec::new()
                    } else {
                        vec![("GenerateMac", json!({ "MessageData": message, "GenerationAttributes": { "Algorithm": alg_name } }), "Mac")]
                    }
                }
            };
            for (op, mut request, member) in requests {
                request["KeyIdentifier"] = json!(t);
                let on_token = h.ok(op, request.clone())[member].clone();
                request["KeyIdentifier"] = json!(s);
                let in_software = soft.ok(op, request.clone())[member].clone();
                assert_eq!(on_token, in_software, "{usage} {alg} {op} {len} bytes");
                compared.insert(format!("{usage} {alg}"));
            }
        }
    }
    assert_eq!(compared.len(), 6, "{compared:?}");
}

/// The session pool under concurrent use: eight threads computing CVVs and translating PINs
/// on shared keys all get the single-threaded answers.
#[test]
fn concurrent_use_shares_the_pool() {
    let Some(h) = harness() else { return };
    let cvk = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
        false,
    );
    let pvk = h.create(
        "TR31_V2_VISA_PIN_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
        false,
    );
    let b = ["Encrypt", "Decrypt", "Wrap", "Unwrap"];
    let pek_in = h.create("TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", &b, false);
    let pek_out = h.create("TR31_P0_PIN_ENCRYPTION_KEY", "TDES_3KEY", &b, false);
    let pan = "4111111111111111";
    let block = h.ok("GeneratePinData", json!({ "GenerationKeyIdentifier": pvk, "EncryptionKeyIdentifier": pek_in,
        "GenerationAttributes": { "VisaPin": { "PinVerificationKeyIndex": 1 } }, "PinBlockFormat": "ISO_FORMAT_0", "PrimaryAccountNumber": pan }))["EncryptedPinBlock"].clone();
    let translate = json!({ "IncomingKeyIdentifier": pek_in, "OutgoingKeyIdentifier": pek_out,
        "IncomingTranslationAttributes": { "IsoFormat0": { "PrimaryAccountNumber": pan } },
        "OutgoingTranslationAttributes": { "IsoFormat0": { "PrimaryAccountNumber": pan } }, "EncryptedPinBlock": block });
    let cvv = h.ok("GenerateCardValidationData", cvv2(&cvk))["ValidationData"].clone();
    let translated = h.ok("TranslatePinData", translate.clone())["PinBlock"].clone();
    let hsm: &Hsm<Pkcs11Store> = &h.hsm;
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..25 {
                    let v = payhsm_keystore::api::dispatch(
                        hsm,
                        "GenerateCardValidationData",
                        cvv2(&cvk),
                    )
                    .unwrap();
                    assert_eq!(v["ValidationData"], cvv);
                    // ISO format 0 has no random fill: the same block every time.
                    let t =
                        payhsm_keystore::api::dispatch(hsm, "TranslatePinData", translate.clone())
                            .unwrap();
                    assert_eq!(t["PinBlock"], translated);
                }
            });
        }
    });
}

/// The token's directory in this process's SoftHSM2 token directory (it holds the label).
fn token_dir(label: &str) -> std::path::PathBuf {
    let conf = std::path::PathBuf::from(std::env::var_os("SOFTHSM2_CONF").unwrap());
    let tokens = conf
        .parent()
        .unwrap()
        .join(format!("tokens-{}", std::process::id()));
    std::fs::read_dir(tokens)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|dir| {
            std::fs::read(dir.join("token.object"))
                .is_ok_and(|b| b.windows(label.len()).any(|w| w == label.as_bytes()))
        })
        .unwrap()
}

/// T-P11-4: the token's storage disappears under the store (its files are removed, as when a
/// device is pulled); SoftHSM2 answers CKR_GENERAL_ERROR. Operations and creations fail with
/// a typed device error, and nothing is registered.
#[test]
fn t_p11_4_device_error_is_typed_and_creates_nothing() {
    let Some(h) = harness() else { return };
    let cvk = h.create(
        "TR31_C0_CARD_VERIFICATION_KEY",
        "TDES_2KEY",
        &["Generate", "Verify"],
        false,
    );
    h.ok("GenerateCardValidationData", cvv2(&cvk));
    let label = h.hsm.store().vault().token().label().to_owned();
    std::fs::remove_dir_all(token_dir(&label)).unwrap();
    let keys_before = h.hsm.store().list_keys(None, 100).unwrap();
    for alg in ["AES_128", "TDES_2KEY"] {
        let r = h.call("CreateKey", json!({ "KeyAttributes": { "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": alg, "KeyModesOfUse": { "Generate": true } }, "Exportable": false }));
        match r {
            Err(
                e @ Error::Token {
                    failure: BackendFailure::DeviceError,
                    ..
                },
            ) => {
                assert_eq!(e.name(), "ServiceUnavailableException");
            }
            other => panic!("{alg}: {other:?}"),
        }
    }
    match h.call("GenerateCardValidationData", cvv2(&cvk)) {
        Err(Error::Token {
            failure: BackendFailure::DeviceError,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(h.hsm.store().list_keys(None, 100).unwrap(), keys_before);
}

/// Multi-region keys and a token (issue 11): a token primary cannot export its keys, so it
/// refuses replication when it is asked for, at `CreateKey` and `AddKeyReplicationRegions`,
/// never later in the worker; a token region holds the replicas of a software primary.
#[test]
fn replication_with_a_token_region() {
    use payhsm_keystore::{
        HsmConfig, MemoryStore,
        api::{self, LocalRegions},
        arn::Region,
        master_key::MasterKey,
        replication::{self, Retry},
    };
    use std::time::Instant;

    let Some(token_store) = pkcs11_store() else {
        return;
    };
    let regions = LocalRegions::new();
    let config = |name: &str| HsmConfig::new(Region::new(name).unwrap());
    let software = MemoryStore::new(MasterKey::generate(&mut payhsm_core::rng::OsRandom).unwrap());
    let east = regions.add_hsm(software, config("us-east-1"));
    let west = regions.add_hsm(token_store, config("us-west-2"));
    let cvk = |replicate: Value| {
        json!({
            "KeyAttributes": { "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "TDES_2KEY", "KeyModesOfUse": { "Generate": true, "Verify": true } },
            "Exportable": true, "ReplicationRegions": replicate,
        })
    };
    let not_supported = |r: Result<Value, Error>| match r {
        Err(Error::NotSupported { message }) => {
            assert!(message.contains("not supported by this token"), "{message}");
        }
        other => panic!("expected NotSupported, got {other:?}"),
    };
    let before = west.store().list_keys(None, 100).unwrap();
    not_supported(api::dispatch(
        &*west,
        "CreateKey",
        cvk(json!(["us-east-1"])),
    ));
    assert_eq!(west.store().list_keys(None, 100).unwrap(), before);
    let local = api::dispatch(&*west, "CreateKey", cvk(json!([]))).unwrap();
    not_supported(api::dispatch(
        &*west,
        "AddKeyReplicationRegions",
        json!({ "KeyIdentifier": local["Key"]["KeyArn"], "ReplicationRegions": ["us-east-1"] }),
    ));
    assert!(west.store().outbox(None, 10).unwrap().is_empty());

    // A key of more than 128 bits travels under the link's ECDH KEK: a token that keeps no ECC
    // keys cannot agree one, so its replica fails with the token's reason, before any key
    // (the KEK or the working key) left the primary.
    let west_before = west.store().list_keys(None, 100).unwrap();
    let strong = api::dispatch(&*east, "CreateKey", json!({
        "KeyAttributes": { "KeyUsage": "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "AES_256", "KeyModesOfUse": { "Encrypt": true, "Decrypt": true, "Wrap": true, "Unwrap": true } },
        "Exportable": true, "ReplicationRegions": ["us-west-2"],
    }))
    .unwrap()["Key"]["KeyArn"]
        .clone();
    let deadline = || Instant::now() + std::time::Duration::from_secs(120);
    let drained = replication::drain(&east, &Retry::default(), deadline()).unwrap();
    let status = api::dispatch(&*east, "GetKey", json!({ "KeyIdentifier": strong })).unwrap()["Key"]
        ["ReplicationStatus"]["us-west-2"]
        .clone();
    if drained.is_complete() {
        assert_eq!(status["Status"], "SYNCHRONIZED", "a token that agrees keys");
    } else {
        assert_eq!(status["Status"], "FAILED");
        let message = status["StatusMessage"].as_str().unwrap();
        assert!(message.contains("not supported by this token"), "{message}");
        let audit = east.audit().lines().concat();
        assert!(
            !audit.contains("ExportKeyReplica") && !audit.contains("\"ExportKey\""),
            "a key left the primary for a region that cannot agree the KEK"
        );
        assert_eq!(west.store().list_keys(None, 100).unwrap(), west_before);
    }
    // The item leaves the outbox once the region is removed.
    api::dispatch(
        &*east,
        "RemoveKeyReplicationRegions",
        json!({ "KeyIdentifier": strong, "ReplicationRegions": ["us-west-2"] }),
    )
    .unwrap();
    assert!(
        replication::drain(&east, &Retry::default(), deadline())
            .unwrap()
            .is_complete()
    );

    // A software primary replicates into the token, if the token can be a TR-34 KRD (RSA-OAEP
    // with SHA-256). SoftHSM2 offers OAEP with SHA-1 only: the replica then fails, before any
    // key left the primary, with the token's reason in the status.
    let primary = api::dispatch(&*east, "CreateKey", cvk(json!(["us-west-2"]))).unwrap();
    let arn = primary["Key"]["KeyArn"].as_str().unwrap().to_owned();
    let drained = replication::drain(
        &east,
        &Retry::default(),
        Instant::now() + std::time::Duration::from_secs(120),
    )
    .unwrap();
    let status = api::dispatch(&*east, "GetKey", json!({ "KeyIdentifier": arn })).unwrap()["Key"]
        ["ReplicationStatus"]["us-west-2"]
        .clone();
    if !drained.is_complete() {
        assert_eq!(status["Status"], "FAILED");
        let message = status["StatusMessage"].as_str().unwrap();
        assert!(message.contains("not supported by this token"), "{message}");
        assert!(
            !east
                .audit()
                .lines()
                .iter()
                .any(|l| l.contains("ExportKeyReplica")),
            "a key was exported for a region that cannot receive the KEK"
        );
        return;
    }
    assert_eq!(status["Status"], "SYNCHRONIZED");
    let replica_arn = arn.replace(":us-east-1:", ":us-west-2:");
    let replica = api::dispatch(&*west, "GetKey", json!({ "KeyIdentifier": replica_arn })).unwrap();
    assert_eq!(replica["Key"]["MultiRegionKeyType"], "REPLICA");
    assert_eq!(
        replica["Key"]["KeyCheckValue"],
        primary["Key"]["KeyCheckValue"]
    );
    let record = west.store().get_key(key_id(&arn)).unwrap().unwrap();
    assert!(
        record.key_block.unwrap().starts_with("pkcs11:"),
        "the replica is a token object"
    );
    let cvv =
        |hsm: &dyn payhsm_keystore::api::Service, arn: &str| {
            hsm.call("GenerateCardValidationData", json!({
            "KeyIdentifier": arn, "PrimaryAccountNumber": "4111111111111111",
            "GenerationAttributes": { "CardVerificationValue2": { "CardExpiryDate": "1230" } },
        })).unwrap()["ValidationData"].clone()
        };
    assert_eq!(cvv(&*west, &replica_arn), cvv(&*east, &arn));
}

/// Issue 14: a token object nothing refers to (what a process killed between creating the
/// object and committing its record leaves) is destroyed by the start-up sweep once it is
/// older than the grace period, audited; younger ones and referenced ones stay.
#[test]
fn orphaned_token_objects_are_swept_at_start_up_and_audited() {
    use payhsm_keystore::{HsmConfig, api::dispatch, arn::Region};
    let Some(store) = pkcs11_store() else {
        return;
    };
    let region = || Region::new("us-east-1").unwrap();
    let first = Hsm::new(store, HsmConfig::new(region()));
    let live = dispatch(&first, "CreateKey", json!({ "KeyAttributes": { "KeyUsage": "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "AES_128", "KeyModesOfUse": { "Encrypt": true, "Decrypt": true, "Wrap": true, "Unwrap": true } }, "Exportable": false })).unwrap()["Key"]["KeyArn"].as_str().unwrap().to_owned();
    let attributes = KeyAttributes {
        key_usage: U::D0,
        key_class: KeyClass::SymmetricKey,
        key_algorithm: A::Aes128,
        key_modes_of_use: payhsm_core::key::KeyModesOfUse::from_mode_of_use(M::ENCRYPT_DECRYPT)
            .unwrap(),
    };
    // The object a killed creation leaves: material with no record.
    let orphan = first
        .store()
        .generate("killedcreation1", &attributes, false)
        .unwrap();
    let orphan_id = TokenVault::object_id(&orphan).unwrap();
    let s = session(first.store());
    let count = |id: &[u8]| s.find_objects(&[Attribute::Id(id.to_vec())]).unwrap().len();
    assert_eq!(count(&orphan_id), 1);
    // Younger than the grace period: its creator may be about to commit.
    assert!(
        first
            .store()
            .sweep_orphans(std::time::Duration::from_secs(600))
            .unwrap()
            .is_empty()
    );
    assert_eq!(count(&orphan_id), 1);

    // The next start, with the orphan past the grace period (zero here).
    let mut config = HsmConfig::new(region());
    config.orphan_grace = std::time::Duration::ZERO;
    let next = Hsm::new(first.into_store(), config);
    assert_eq!(count(&orphan_id), 0, "the orphan is destroyed");
    let audit = next.audit().lines().join("\n");
    assert!(audit.contains("DeleteOrphanedKeyMaterial"), "{audit}");
    assert!(
        audit.contains(&payhsm_core::hex::encode(&orphan_id)),
        "{audit}"
    );
    // The key with a record is untouched.
    assert!(!objects(next.store(), &s, &live).is_empty());
    dispatch(&next, "EncryptData", json!({ "KeyIdentifier": live, "PlainText": "00112233445566778899AABBCCDDEEFF", "EncryptionAttributes": { "Symmetric": { "Mode": "ECB" } } })).unwrap();
}
