//! Attack tests for TR-34 import (security-tests.md T-34-1 … T-34-8).
//!
//! A counting RSA backend wraps the KRD key: every refusal before the private-key operation
//! must leave its count at zero, and every refusal after it must be the one uniform error.
//! Tampered tokens that still carry a valid signature are re-signed here with the KDH key, so
//! that each check is reached on its own.

use alloc::{vec, vec::Vec};
use core::cell::Cell;
use std::sync::OnceLock;

use der::{
    Decode, Encode, Tag, TagNumber,
    asn1::{Any, OctetString, SetOfVec},
};
use payhsm_core::{
    rng::OsRandom,
    secret::{KeyMaterial, SecretVec},
};
use sha2::Digest;
use spki::AlgorithmIdentifierOwned;

use super::{
    ExportMode, ExportRequest, Form, ImportMode, ImportRequest, ImportedKey, MAX_TOKEN_LEN,
    asn1::{ContentInfo, EnvelopedData, SignedData},
    attributes::SignedAttributes,
    export,
    form::{OaepParams, UntaggedOaepParams},
    import,
    key_block::{self, ContentCipher},
};
use crate::{
    DateTime, Error, KeyBlockHeader,
    cert::{self, Certificate, CertificateTemplate, Issuer, Role},
    oid,
    rsa::{
        OaepHash, RsaKeySize, RsaPrivateKey, RsaPublicKey, SignatureHash, SoftwareRsaKey,
        algorithm_with_null,
    },
};

/// Counts private-key operations.
struct Counting<'a> {
    inner: &'a SoftwareRsaKey,
    decrypts: Cell<usize>,
}

impl RsaPrivateKey for Counting<'_> {
    fn public_key(&self) -> &RsaPublicKey {
        self.inner.public_key()
    }

    fn decrypt_oaep(&self, hash: OaepHash, ciphertext: &[u8]) -> Result<SecretVec, Error> {
        self.decrypts.set(self.decrypts.get() + 1);
        self.inner.decrypt_oaep(hash, ciphertext)
    }

    fn decrypt_pkcs1(&self, ciphertext: &[u8]) -> Result<SecretVec, Error> {
        self.decrypts.set(self.decrypts.get() + 1);
        self.inner.decrypt_pkcs1(ciphertext)
    }

    fn sign_pkcs1(&self, hash: SignatureHash, message: &[u8]) -> Result<Vec<u8>, Error> {
        self.inner.sign_pkcs1(hash, message)
    }
}

struct Party {
    key: SoftwareRsaKey,
    cert: Certificate,
}

struct Fixture {
    ca: Party,
    kdh: Party,
    krd: Party,
    /// A second certificate for the KDH's CA name and key, without basicConstraints.
    ca_not_a_ca: Certificate,
    /// Another KDH under the same CA.
    other_kdh: Party,
    /// A KDH certificate whose keyUsage is keyEncipherment only.
    kdh_without_signature: Party,
    /// A second certificate for the KRD's key (another serial number).
    krd_reissued: Certificate,
}

const NONCE: &[u8] = &[0xA5; 8];
const HEADER: &str = "D9999K0TB00E0000";
const KEY: &str = "0123456789ABCDEFFEDCBA9876543210";

fn time(s: &str) -> DateTime {
    s.parse().unwrap()
}

fn now() -> DateTime {
    time("2026-06-01T00:00:00Z")
}

fn template(role: Role) -> CertificateTemplate {
    CertificateTemplate {
        role,
        not_before: time("2024-01-01T00:00:00Z"),
        not_after: time("2028-01-01T00:00:00Z"),
        serial_number: None,
    }
}

fn issued(ca: &Party, subject: &str, key: SoftwareRsaKey, role: Role) -> Party {
    let issuer = Issuer::Ca {
        certificate: &ca.cert,
        key: &ca.key,
    };
    let cert = cert::issue(
        subject,
        key.public_key(),
        &template(role),
        issuer,
        &mut OsRandom,
    )
    .unwrap();
    Party { key, cert }
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let generate = |size| SoftwareRsaKey::generate(size).unwrap();
        let ca_key = generate(RsaKeySize::Rsa2048);
        let ca_name = "CN=Test CA,O=payhsm";
        let ca_cert = cert::issue(
            ca_name,
            ca_key.public_key(),
            &template(Role::Ca),
            Issuer::SelfSigned(&ca_key),
            &mut OsRandom,
        )
        .unwrap();
        let ca_not_a_ca = cert::issue(
            ca_name,
            ca_key.public_key(),
            &template(Role::Kdh),
            Issuer::SelfSigned(&ca_key),
            &mut OsRandom,
        )
        .unwrap();
        let ca = Party {
            key: ca_key,
            cert: ca_cert,
        };
        let kdh = issued(
            &ca,
            "CN=KDH,O=payhsm",
            generate(RsaKeySize::Rsa2048),
            Role::Kdh,
        );
        let krd = issued(
            &ca,
            "CN=KRD,O=payhsm",
            generate(RsaKeySize::Rsa3072),
            Role::Krd,
        );
        let krd_reissued = cert::issue(
            "CN=KRD,O=payhsm",
            krd.key.public_key(),
            &template(Role::Krd),
            Issuer::Ca {
                certificate: &ca.cert,
                key: &ca.key,
            },
            &mut OsRandom,
        )
        .unwrap();
        let other_kdh = issued(
            &ca,
            "CN=KDH 2,O=payhsm",
            generate(RsaKeySize::Rsa2048),
            Role::Kdh,
        );
        let kdh_without_signature = issued(
            &ca,
            "CN=KDH 3,O=payhsm",
            generate(RsaKeySize::Rsa2048),
            Role::Krd,
        );
        Fixture {
            ca,
            kdh,
            krd,
            ca_not_a_ca,
            other_kdh,
            kdh_without_signature,
            krd_reissued,
        }
    })
}

fn export_token(form: Form, kdh: &Party, header: &str, key: &str, nonce: &[u8]) -> Vec<u8> {
    let f = fixture();
    let request = ExportRequest {
        form,
        kdh_certificate: &kdh.cert,
        krd_certificate: &f.krd.cert,
        krd_trust: None,
        mode: ExportMode::TwoPass { nonce },
        header: header.parse().unwrap(),
    };
    let key = KeyMaterial::from_hex("key", key).unwrap();
    export(&key, &request, &kdh.key, &mut OsRandom).unwrap()
}

fn token(form: Form) -> Vec<u8> {
    export_token(form, &fixture().kdh, HEADER, KEY, NONCE)
}

fn request(form: Form) -> ImportRequest<'static> {
    let f = fixture();
    ImportRequest {
        form,
        krd_certificate: Some(&f.krd.cert),
        ..ImportRequest::two_pass(&f.kdh.cert, &f.ca.cert, now(), NONCE)
    }
}

/// Imports with a counting KRD key; returns the result and the number of decryptions.
fn attempt(token: &[u8], request: &ImportRequest<'_>) -> (Result<ImportedKey, Error>, usize) {
    let krd = Counting {
        inner: &fixture().krd.key,
        decrypts: Cell::new(0),
    };
    let result = import(token, &krd, request);
    (result, krd.decrypts.get())
}

/// Asserts a refusal before any private-key operation.
#[track_caller]
fn refused_before_decryption(token: &[u8], request: &ImportRequest<'_>) -> Error {
    let (result, decrypts) = attempt(token, request);
    assert_eq!(decrypts, 0, "the private key was used: {result:?}");
    result.expect_err("the token was accepted")
}

/// Asserts the uniform refusal after exactly one private-key operation.
#[track_caller]
fn refused_after_decryption(token: &[u8], request: &ImportRequest<'_>) {
    let (result, decrypts) = attempt(token, request);
    assert_eq!(decrypts, 1);
    assert_eq!(result.unwrap_err(), Error::DecryptionFailed);
}

/// A token taken apart, to be edited and put together again with a valid KDH signature.
struct Dissected {
    form: Form,
    signed: SignedData,
    envelope: EnvelopedData,
}

fn dissect(token: &[u8], form: Form) -> Dissected {
    let signed: SignedData = ContentInfo::from_der(token)
        .unwrap()
        .content
        .decode_as()
        .unwrap();
    let content = signed
        .encap_content_info
        .e_content
        .as_ref()
        .unwrap()
        .as_bytes();
    let envelope = form.decode_envelope(content).unwrap();
    Dissected {
        form,
        signed,
        envelope,
    }
}

impl Dissected {
    fn signed_attributes(&self) -> SignedAttributes {
        let signer = &self.signed.signer_infos.as_slice()[0];
        SignedAttributes::from_der_contents(signer.signed_attrs.value(), self.form).unwrap()
    }

    /// Re-encodes the envelope, updates the message digest, lets `edit` change the signed
    /// attributes, and signs them with `kdh`.
    fn assemble(self, kdh: &SoftwareRsaKey, edit: impl FnOnce(&mut SignedAttributes)) -> Vec<u8> {
        let content = self.form.encode_envelope(&self.envelope).unwrap();
        let mut attrs = self.signed_attributes();
        attrs.message_digest = sha2::Sha256::digest(&content).to_vec();
        edit(&mut attrs);
        let set = attrs.to_der(self.form).unwrap();
        self.sign_exactly(kdh, &content, &set)
    }

    /// Signs `set` (a DER SET, taken as is) and puts the token together around `content`.
    fn sign_exactly(mut self, kdh: &SoftwareRsaKey, content: &[u8], set: &[u8]) -> Vec<u8> {
        let set_value = Any::from_der(set).unwrap();
        let mut signers = self.signed.signer_infos.into_vec();
        signers[0].signature = OctetString::new(kdh.sign_pkcs1_sha256(set).unwrap()).unwrap();
        signers[0].signed_attrs = Any::new(
            Tag::ContextSpecific {
                constructed: true,
                number: TagNumber(0),
            },
            set_value.value(),
        )
        .unwrap();
        self.signed.signer_infos = SetOfVec::from_iter(signers).unwrap();
        self.signed.encap_content_info.e_content = Some(OctetString::new(content).unwrap());
        ContentInfo {
            content_type: oid::SIGNED_DATA,
            content: Any::encode_from(&self.signed).unwrap(),
        }
        .to_der()
        .unwrap()
    }

    fn edit_recipient(&mut self, edit: impl FnOnce(&mut super::asn1::KeyTransRecipientInfo)) {
        let mut recipients = core::mem::take(&mut self.envelope.recipient_infos).into_vec();
        edit(&mut recipients[0]);
        self.envelope.recipient_infos = SetOfVec::from_iter(recipients).unwrap();
    }

    /// Replaces the encrypted key block with `plaintext` (encrypted under a new ephemeral key
    /// of `cipher`) and the encrypted ephemeral key with an OAEP encryption of `ephemeral`.
    fn reencrypt(&mut self, cipher: ContentCipher, plaintext: &[u8], ephemeral: &[u8]) {
        let content_key = KeyMaterial::from_slice("ephemeral", ephemeral).unwrap();
        let iv = vec![7; cipher.block_len()];
        let ciphertext = if ephemeral.len() == cipher.key_len() {
            cipher.encrypt(&content_key, &iv, plaintext).unwrap()
        } else {
            vec![0; 2 * cipher.block_len()]
        };
        let eci = &mut self.envelope.encrypted_content_info;
        eci.content_encryption_algorithm = cipher.to_algorithm(&iv).unwrap();
        eci.encrypted_content = Some(OctetString::new(ciphertext).unwrap());
        let encrypted_key = fixture()
            .krd
            .key
            .public_key()
            .encrypt_oaep(OaepHash::Sha256, ephemeral, &mut OsRandom)
            .unwrap();
        self.edit_recipient(|r| r.encrypted_key = OctetString::new(encrypted_key).unwrap());
    }
}

#[test]
fn the_fixture_token_imports() {
    for form in Form::ALL {
        let (result, decrypts) = attempt(&token(form), &request(form));
        assert_eq!(result.unwrap().key().expose_secret(), &KEY_BYTES[..]);
        assert_eq!(decrypts, 1);
        // Taking the token apart and putting it together again changes nothing that matters.
        let rebuilt = dissect(&token(form), form).assemble(&fixture().kdh.key, |_| {});
        assert!(attempt(&rebuilt, &request(form)).0.is_ok());
    }
}

const KEY_BYTES: [u8; 16] = [
    0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10,
];

/// T-34-1: every single-bit flip, all eight bits of every byte of the token (envelope, signed
/// attributes, signature,
/// structure), is refused, and the private key is never used.
#[test]
fn t34_1_every_bit_flip_is_refused_before_the_private_key() {
    for form in Form::ALL {
        let token = token(form);
        let request = request(form);
        for i in 0..token.len() {
            for bit in (0..8).map(|b| 1u8 << b) {
                let mut tampered = token.clone();
                tampered[i] ^= bit;
                let (result, decrypts) = attempt(&tampered, &request);
                assert_eq!(decrypts, 0, "{form} byte {i} bit {bit:#x}: {result:?}");
                assert!(result.is_err(), "{form} byte {i} bit {bit:#x} was accepted");
            }
        }
        // The three regions T-34-1 names give a signature failure.
        let d = dissect(&token, form);
        let content = form.encode_envelope(&d.envelope).unwrap();
        let signature = d.signed.signer_infos.as_slice()[0]
            .signature
            .as_bytes()
            .to_vec();
        let attrs = d.signed.signer_infos.as_slice()[0]
            .signed_attrs
            .value()
            .to_vec();
        for region in [&content[..], &attrs[..], &signature[..]] {
            let at = find(&token, region) + region.len() / 2;
            let mut tampered = token.clone();
            tampered[at] ^= 0x01;
            assert_eq!(
                refused_before_decryption(&tampered, &request),
                Error::SignatureInvalid
            );
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap()
}

/// T-34-2: the KDH certificate must chain to the configured CA, be valid, be issued by a CA,
/// allow digitalSignature, and be the signer's.
#[test]
fn t34_2_the_kdh_certificate_is_validated_before_the_private_key() {
    let f = fixture();
    let form = Form::default();
    let token = token(form);
    let other_ca = fixture_other_ca();
    let not_trusted = |e: Error| matches!(e, Error::CertificateNotTrusted { .. });

    let mut r = request(form);
    r.kdh_trust.ca = &other_ca;
    assert!(not_trusted(refused_before_decryption(&token, &r)));

    for at in ["2023-12-31T23:59:59Z", "2028-01-01T00:00:01Z"] {
        let mut r = request(form);
        r.kdh_trust.time = time(at);
        assert!(not_trusted(refused_before_decryption(&token, &r)));
    }

    let mut r = request(form);
    r.kdh_trust.ca = &f.ca_not_a_ca;
    assert_eq!(
        refused_before_decryption(&token, &r),
        Error::CertificateNotTrusted {
            certificate: "CA certificate",
            reason: "has no basicConstraints (an issuer must be a CA)",
        }
    );

    let weak = export_token(form, &f.kdh_without_signature, HEADER, KEY, NONCE);
    let mut r = request(form);
    r.kdh_certificate = &f.kdh_without_signature.cert;
    assert_eq!(
        refused_before_decryption(&weak, &r),
        Error::CertificateNotTrusted {
            certificate: "KDH certificate",
            reason: "keyUsage does not allow digitalSignature",
        }
    );

    let mut r = request(form);
    r.kdh_certificate = &f.other_kdh.cert;
    assert_eq!(
        refused_before_decryption(&token, &r),
        Error::CertificateNotTrusted {
            certificate: "KDH certificate",
            reason: "it is not the certificate of the token's signer",
        }
    );
}

fn fixture_other_ca() -> Certificate {
    static OTHER: OnceLock<Certificate> = OnceLock::new();
    OTHER
        .get_or_init(|| {
            // Same name as the real CA, different key.
            let key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
            cert::issue(
                "CN=Test CA,O=payhsm",
                key.public_key(),
                &template(Role::Ca),
                Issuer::SelfSigned(&key),
                &mut OsRandom,
            )
            .unwrap()
        })
        .clone()
}

/// T-34-3: a two-pass token must carry the KRD's nonce; a replay carries an old one.
#[test]
fn t34_3_missing_wrong_and_replayed_nonces_are_refused() {
    let f = fixture();
    for form in Form::ALL {
        // Replay: a token made for an earlier exchange's nonce.
        let earlier = export_token(form, &f.kdh, HEADER, KEY, &[0x11; 8]);
        assert!(matches!(
            refused_before_decryption(&earlier, &request(form)),
            Error::Freshness {
                reason: "the nonce is not the one this KRD sent"
            }
        ));
        // Same first bytes, different length.
        let longer = export_token(form, &f.kdh, HEADER, KEY, &[0xA5; 9]);
        assert!(matches!(
            refused_before_decryption(&longer, &request(form)),
            Error::Freshness { .. }
        ));
        // No nonce at all (validly signed).
        let stripped = dissect(&token(form), form).assemble(&f.kdh.key, |a| a.nonce = None);
        assert!(matches!(
            refused_before_decryption(&stripped, &request(form)),
            Error::Freshness {
                reason: "the two-pass token has no random nonce"
            }
        ));
        // The importer's own nonce must have an accepted length.
        let mut r = request(form);
        r.mode = ImportMode::TwoPass { nonce: &[0xA5; 4] };
        assert!(matches!(
            refused_before_decryption(&token(form), &r),
            Error::Unsupported { field: "nonce", .. }
        ));
    }
}

fn oaep_algorithm(
    form: Form,
    hash: der::asn1::ObjectIdentifier,
    mgf_hash: der::asn1::ObjectIdentifier,
    label: &[u8],
) -> AlgorithmIdentifierOwned {
    let hash = AlgorithmIdentifierOwned {
        oid: hash,
        parameters: None,
    };
    let mask_gen = AlgorithmIdentifierOwned {
        oid: oid::MGF1,
        parameters: Some(
            Any::encode_from(&AlgorithmIdentifierOwned {
                oid: mgf_hash,
                parameters: None,
            })
            .unwrap(),
        ),
    };
    let p_source = AlgorithmIdentifierOwned {
        oid: oid::P_SPECIFIED,
        parameters: Some(Any::encode_from(&OctetString::new(label).unwrap()).unwrap()),
    };
    let parameters = match form {
        Form::X9Tr34_2012 => Any::encode_from(&UntaggedOaepParams {
            hash,
            mask_gen,
            p_source,
        }),
        Form::X9Tr34_2019 => Any::encode_from(&OaepParams {
            hash: Some(hash),
            mask_gen: Some(mask_gen),
            p_source: Some(p_source),
        }),
    }
    .unwrap();
    AlgorithmIdentifierOwned {
        oid: oid::RSAES_OAEP,
        parameters: Some(parameters),
    }
}

/// T-34-4: key transport is RSAES-OAEP with one SHA-256 hash and an empty label; anything
/// else is refused on the algorithm identifier, before decryption.
#[test]
fn t34_4_other_key_transport_algorithms_are_refused_before_decryption() {
    let f = fixture();
    for form in Form::ALL {
        let cases = [
            algorithm_with_null(oid::RSA_ENCRYPTION),
            oaep_algorithm(form, oid::SHA1, oid::SHA1, &[]),
            oaep_algorithm(form, oid::SHA256, oid::SHA256, b"label"),
            oaep_algorithm(form, oid::SHA256, oid::SHA1, &[]),
            oaep_algorithm(form, oid::SHA384, oid::SHA384, &[]),
        ];
        for alg in cases {
            let mut d = dissect(&token(form), form);
            d.edit_recipient(|r| r.key_encryption_algorithm = alg.clone());
            let tampered = d.assemble(&f.kdh.key, |_| {});
            assert!(
                matches!(
                    refused_before_decryption(&tampered, &request(form)),
                    Error::Unsupported {
                        field: "keyEncryptionAlgorithm",
                        ..
                    }
                ),
                "{form} {:?}",
                alg.oid
            );
        }
        // The explicit defaults of the other OAEP encoding are refused too.
        let mut d = dissect(&token(form), form);
        let other = match form {
            Form::X9Tr34_2012 => Form::X9Tr34_2019,
            Form::X9Tr34_2019 => Form::X9Tr34_2012,
        };
        d.edit_recipient(|r| r.key_encryption_algorithm = other.oaep_algorithm().unwrap());
        assert!(matches!(
            refused_before_decryption(&d.assemble(&f.kdh.key, |_| {}), &request(form)),
            Error::Malformed {
                field: "RSAES-OAEP parameters",
                ..
            }
        ));
        // SHA-1 reaches the private key only when explicitly allowed (and then this
        // SHA-256 ciphertext fails with the uniform error).
        let mut d = dissect(&token(form), form);
        d.edit_recipient(|r| {
            r.key_encryption_algorithm = oaep_algorithm(form, oid::SHA1, oid::SHA1, &[]);
        });
        let sha1 = d.assemble(&f.kdh.key, |_| {});
        let mut r = request(form);
        r.allow_oaep_sha1 = true;
        refused_after_decryption(&sha1, &r);
    }
}

/// T-34-5: the recipient must be this KRD; the IV must fit the content cipher.
#[test]
fn t34_5_another_recipient_and_a_bad_iv_are_refused_before_decryption() {
    let f = fixture();
    for form in Form::ALL {
        let mut r = request(form);
        r.krd_certificate = Some(&f.krd_reissued);
        assert_eq!(
            refused_before_decryption(&token(form), &r),
            Error::WrongRecipient
        );

        // A KRD certificate that is not the private key's.
        let mut r = request(form);
        r.krd_certificate = Some(&f.kdh.cert);
        assert!(matches!(
            refused_before_decryption(&token(form), &r),
            Error::KeyRejected { .. }
        ));

        for iv_len in [16, 7] {
            let mut d = dissect(&token(form), form);
            d.envelope
                .encrypted_content_info
                .content_encryption_algorithm = ContentCipher::Tdes3Cbc
                .to_algorithm(&vec![0; iv_len])
                .unwrap();
            let tampered = d.assemble(&f.kdh.key, |_| {});
            assert!(matches!(
                refused_before_decryption(&tampered, &request(form)),
                Error::Malformed {
                    field: "contentEncryptionAlgorithm",
                    ..
                }
            ));
        }
    }
}

/// The key-size policy is applied before decryption too: an AES key under a TDES ephemeral
/// key is refused from the signed header.
#[test]
fn the_key_size_policy_is_applied_before_decryption() {
    let f = fixture();
    let form = Form::default();
    let mut d = dissect(&token(form), form);
    d.reencrypt(ContentCipher::Tdes3Cbc, b"irrelevant", &[0x42; 24]);
    let header: KeyBlockHeader = "D0256K0AB00E0000".parse().unwrap();
    let tampered = d.assemble(&f.kdh.key, |a| a.header = header);
    assert!(matches!(
        refused_before_decryption(&tampered, &request(form)),
        Error::Unsupported {
            field: "key block header",
            ..
        }
    ));
}

/// T-34-6: whatever is wrong inside the encryption, the answer is the same error, after one
/// private-key operation.
#[test]
fn t34_6_every_failure_after_decryption_is_the_same_error() {
    let f = fixture();
    let kdh_id = f.kdh.cert.issuer_and_serial_number();
    let key = KeyMaterial::from_hex("key", KEY).unwrap();
    let header: KeyBlockHeader = HEADER.parse().unwrap();
    let block = |kdh: &cert::IssuerAndSerialNumber, key: &KeyMaterial, header: &KeyBlockHeader| {
        key_block::encode(kdh, key, header)
            .unwrap()
            .expose_secret()
            .to_vec()
    };
    let good = block(&kdh_id, &key, &header);
    let mut version_2 = good.clone();
    let at = find(&good, &[0x02, 0x01, 0x01]) + 2;
    version_2[at] = 2;
    let mut trailing = good.clone();
    trailing.extend_from_slice(&[0x05, 0x00]);
    let aes_header: KeyBlockHeader = "D0256K0AB00E0000".parse().unwrap();
    let aes_192 = KeyMaterial::from_slice("key", &[0x33; 24]).unwrap();

    // (what is wrong, content cipher, key block plaintext, ephemeral key, signed header)
    type Case = (
        &'static str,
        ContentCipher,
        Vec<u8>,
        Vec<u8>,
        Option<KeyBlockHeader>,
    );
    let cases: Vec<Case> = vec![
        (
            "inner header differs from the signed header",
            ContentCipher::Tdes3Cbc,
            block(&kdh_id, &key, &"D9999K0TD00E0000".parse().unwrap()),
            vec![0x42; 24],
            None,
        ),
        (
            "inner KDH is not the signer",
            ContentCipher::Tdes3Cbc,
            block(&f.other_kdh.cert.issuer_and_serial_number(), &key, &header),
            vec![0x42; 24],
            None,
        ),
        (
            "key block version 2",
            ContentCipher::Tdes3Cbc,
            version_2,
            vec![0x42; 24],
            None,
        ),
        (
            "data after the key block",
            ContentCipher::Tdes3Cbc,
            trailing,
            vec![0x42; 24],
            None,
        ),
        (
            "not DER at all",
            ContentCipher::Tdes3Cbc,
            vec![0x30; 40],
            vec![0x42; 24],
            None,
        ),
        (
            "ephemeral key of the wrong length",
            ContentCipher::Tdes3Cbc,
            good.clone(),
            vec![0x42; 16],
            None,
        ),
        (
            "AES-192 key under an AES header",
            ContentCipher::Aes128Cbc,
            block(&kdh_id, &aes_192, &aes_header),
            vec![0x42; 16],
            Some(aes_header),
        ),
        (
            "TDES key of 8 bytes",
            ContentCipher::Tdes3Cbc,
            block(
                &kdh_id,
                &KeyMaterial::from_slice("key", &[0x33; 8]).unwrap(),
                &header,
            ),
            vec![0x42; 24],
            None,
        ),
    ];
    for form in Form::ALL {
        for (name, cipher, plaintext, ephemeral, signed_header) in &cases {
            let mut d = dissect(&token(form), form);
            d.reencrypt(*cipher, plaintext, ephemeral);
            let tampered = d.assemble(&f.kdh.key, |a| {
                if let Some(h) = signed_header {
                    a.header = h.clone();
                }
            });
            let (result, decrypts) = attempt(&tampered, &request(form));
            assert_eq!(decrypts, 1, "{form} {name}");
            assert_eq!(
                result.unwrap_err(),
                Error::DecryptionFailed,
                "{form} {name}"
            );
        }
        // Bad padding: the last block decrypts to garbage.
        let mut d = dissect(&token(form), form);
        d.reencrypt(ContentCipher::Tdes3Cbc, &good, &[0x42; 24]);
        let eci = &mut d.envelope.encrypted_content_info;
        let mut ciphertext = eci
            .encrypted_content
            .take()
            .unwrap()
            .into_bytes()
            .into_vec();
        let n = ciphertext.len();
        ciphertext[n - 9] ^= 0x01;
        eci.encrypted_content = Some(OctetString::new(ciphertext).unwrap());
        refused_after_decryption(&d.assemble(&f.kdh.key, |_| {}), &request(form));
        // An OAEP ciphertext that does not decrypt.
        let mut d = dissect(&token(form), form);
        d.edit_recipient(|r| {
            let mut c = r.encrypted_key.as_bytes().to_vec();
            c[10] ^= 0x01;
            r.encrypted_key = OctetString::new(c).unwrap();
        });
        refused_after_decryption(&d.assemble(&f.kdh.key, |_| {}), &request(form));
    }
    assert_eq!(
        alloc::format!("{}", Error::DecryptionFailed),
        "the token did not decrypt to a valid key block"
    );
}

/// T-34-7: BER is refused (indefinite and non-minimal lengths, unsorted signed attributes),
/// even when the signature covers the received bytes.
#[test]
fn t34_7_ber_is_refused() {
    let f = fixture();
    let form = Form::default();
    let token = token(form);
    let request = request(form);
    // The outer length is in long form (0x82 HH LL): make it indefinite, then non-minimal.
    assert_eq!(token[1], 0x82);
    let mut indefinite = vec![0x30, 0x80];
    indefinite.extend_from_slice(&token[4..]);
    indefinite.extend_from_slice(&[0, 0]);
    assert!(matches!(
        refused_before_decryption(&indefinite, &request),
        Error::Malformed {
            field: "ContentInfo",
            ..
        }
    ));
    let mut long = vec![0x30, 0x83, 0x00];
    long.extend_from_slice(&token[2..]);
    assert!(matches!(
        refused_before_decryption(&long, &request),
        Error::Malformed {
            field: "ContentInfo",
            ..
        }
    ));

    // Signed attributes in the wrong order, and signed as such: refused where the form's
    // attributes are a DER SET OF; X9_TR34_2012 reads them in any order, as the service's
    // samples write them unsorted.
    for form in Form::ALL {
        let token = self::token(form);
        let d = dissect(&token, form);
        let content = form.encode_envelope(&d.envelope).unwrap();
        let set = d.signed_attributes().to_der(form).unwrap();
        let mut reader = der::SliceReader::new(&set).unwrap();
        let header = der::Header::decode(&mut reader).unwrap();
        let mut elements = Vec::new();
        while !der::Reader::is_finished(&reader) {
            elements.push(der::Reader::tlv_bytes(&mut reader).unwrap().to_vec());
        }
        elements.reverse();
        let mut unsorted = Vec::new();
        header.encode(&mut unsorted).unwrap();
        unsorted.extend(elements.concat());
        let tampered = d.sign_exactly(&f.kdh.key, &content, &unsorted);
        match form {
            Form::X9Tr34_2019 => assert_eq!(
                refused_before_decryption(&tampered, &self::request(form)),
                Error::Malformed {
                    field: "signedAttrs",
                    position: None,
                    reason: "SET OF not in DER order",
                }
            ),
            Form::X9Tr34_2012 => assert!(attempt(&tampered, &self::request(form)).0.is_ok()),
        }
    }
}

/// T-34-8: oversized input is refused before parsing.
#[test]
fn t34_8_oversized_tokens_are_refused_before_parsing() {
    let mut token = token(Form::default());
    token.resize(MAX_TOKEN_LEN + 1, 0);
    assert!(matches!(
        refused_before_decryption(&token, &request(Form::default())),
        Error::Unsupported { field: "token", .. }
    ));
}

/// One-pass freshness with the counting backend: no signing time, or not later than the
/// last accepted one, is refused before decryption.
#[test]
fn one_pass_replays_are_refused_before_decryption() {
    let f = fixture();
    let form = Form::X9Tr34_2019;
    let signed_at = time("2026-05-01T00:00:00Z");
    let one_pass = dissect(&token(form), form).assemble(&f.kdh.key, |a| {
        a.nonce = None;
        a.signing_time = Some(signed_at);
    });
    let mut r = request(form);
    r.mode = ImportMode::OnePass {
        after: time("2026-04-01T00:00:00Z"),
    };
    assert!(attempt(&one_pass, &r).0.is_ok());
    r.mode = ImportMode::OnePass { after: signed_at };
    assert!(matches!(
        refused_before_decryption(&one_pass, &r),
        Error::Freshness { .. }
    ));
    assert!(matches!(
        refused_before_decryption(&token(form), &r),
        Error::Freshness {
            reason: "the one-pass token has no signing time"
        }
    ));
}
