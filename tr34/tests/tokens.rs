//! Fixed TR-34 tokens (`tests/data/tokens.json`): built by the independent implementation
//! (`tests/interop/make_token.py fixtures`) in the layout of AWS Payment Cryptography's
//! published samples (`X9_TR34_2012`) and of RFC 5652 (`X9_TR34_2019`), signed by the TR-34
//! Annex B KDH 1, with the ephemeral key, IV, nonce and OAEP seed fixed so that the bytes are
//! known. payhsm imports every one, and its export, handed the same randomness, writes the same
//! bytes.

mod common;

use std::sync::OnceLock;

use common::{annex_b_cert, annex_b_key, field, hex};
use payhsm_core::{
    key::{KeyAlgorithm, KeyUsage, ModeOfUse},
    rng::Replay,
    secret::KeyMaterial,
};
use payhsm_tr34::{
    DateTime, Error, KeyBlockHeader,
    cert::Certificate,
    rsa::SoftwareRsaKey,
    token::{self, ExportMode, ExportRequest, Form, ImportMode, ImportRequest, ImportedKey},
};
use serde_json::Value;

const KDH_1: &str = "TR34-sample-KDH-1-cert";
const CA_KDH: &str = "TR34-sample-CA-KDH-cert";
const KRD_1: &str = "TR34-sample-KRD-1-cert";

fn data() -> &'static Value {
    static DATA: OnceLock<Value> = OnceLock::new();
    DATA.get_or_init(|| serde_json::from_str(include_str!("data/tokens.json")).unwrap())
}

fn fixtures() -> &'static [Value] {
    data()["tokens"].as_array().unwrap()
}

fn fixture(name: &str) -> &'static Value {
    fixtures().iter().find(|f| f["name"] == name).unwrap()
}

fn bytes(f: &Value, name: &str) -> Vec<u8> {
    hex(field(f, &[name]))
}

fn form(f: &Value) -> Form {
    field(f, &["form"]).parse().unwrap()
}

fn time(s: &str) -> DateTime {
    s.parse().unwrap()
}

struct Party {
    key: SoftwareRsaKey,
    cert: Certificate,
}

fn kdh() -> &'static Party {
    static KDH: OnceLock<Party> = OnceLock::new();
    KDH.get_or_init(|| Party {
        key: annex_b_key(KDH_1),
        cert: annex_b_cert(KDH_1),
    })
}

fn ca() -> &'static Certificate {
    static CA: OnceLock<Certificate> = OnceLock::new();
    CA.get_or_init(|| annex_b_cert(CA_KDH))
}

/// The fixture's KRD: the Annex B KRD 1 (RSA-2048) or the RSA-3072 key of `tests/data`.
fn krd(f: &Value) -> &'static Party {
    static KRD_1_PARTY: OnceLock<Party> = OnceLock::new();
    static KRD_3072: OnceLock<Party> = OnceLock::new();
    match field(f, &["krd"]) {
        KRD_1 => KRD_1_PARTY.get_or_init(|| Party {
            key: annex_b_key(KRD_1),
            cert: annex_b_cert(KRD_1),
        }),
        "krd3072" => KRD_3072.get_or_init(|| Party {
            key: SoftwareRsaKey::from_pem(include_str!("data/krd3072.key.pem")).unwrap(),
            cert: Certificate::from_pem(include_str!("data/krd3072.pem")).unwrap(),
        }),
        other => panic!("unknown KRD {other}"),
    }
}

/// The fixture's freshness: its nonce, or its signing time for a one-pass token.
fn nonce(f: &Value) -> Option<Vec<u8>> {
    f["nonce"].as_str().map(hex)
}

fn import(f: &Value, form: Form, mode: ImportMode<'_>) -> Result<ImportedKey, Error> {
    let request = ImportRequest {
        form,
        krd_certificate: Some(&krd(f).cert),
        mode,
        ..ImportRequest::two_pass(
            &kdh().cert,
            ca(),
            time(field(data(), &["verification_time"])),
            &[],
        )
    };
    token::import(&bytes(f, "token"), &krd(f).key, &request)
}

/// Imports as the fixture asks: its nonce, or after a bound a month before its signing time.
fn import_as_built(f: &Value) -> Result<ImportedKey, Error> {
    let nonce = nonce(f);
    let mode = match &nonce {
        Some(nonce) => ImportMode::TwoPass { nonce },
        None => ImportMode::OnePass {
            after: time("2015-04-01T00:00:00Z"),
        },
    };
    import(f, form(f), mode)
}

#[test]
fn payhsm_imports_every_fixed_token_and_detects_its_form() {
    assert_eq!(fixtures().len(), 8);
    for f in fixtures() {
        let name = field(f, &["name"]);
        assert_eq!(Form::detect(&bytes(f, "token")).unwrap(), form(f), "{name}");
        let imported = import_as_built(f).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(imported.key().expose_secret(), bytes(f, "key"), "{name}");
        assert_eq!(imported.header().as_str(), field(f, &["header"]), "{name}");
        assert_eq!(imported.kdh(), &kdh().cert.issuer_and_serial_number());
        assert_eq!(
            imported.signing_time(),
            f["signing_time"].as_str().map(time),
            "{name}"
        );
    }
}

#[test]
fn the_imported_keys_have_their_published_check_values() {
    // vectors/data/kcv.json: the classic TDES test key, and the X9.143 §8.1 AES-128 key.
    for (name, kcv, algorithm) in [
        ("tdes2-2012", "08D7B4", KeyAlgorithm::Tdes2Key),
        ("aes128-2012", "08793E", KeyAlgorithm::Aes128),
    ] {
        let imported = import_as_built(fixture(name)).unwrap();
        assert_eq!(
            imported.key_check_value().unwrap().as_bytes(),
            hex(kcv),
            "{name}"
        );
        assert_eq!(imported.key_algorithm(), algorithm, "{name}");
        let attributes = imported.key_attributes().unwrap();
        assert_eq!(attributes.key_algorithm, algorithm);
        assert_eq!(attributes.key_usage, KeyUsage::K0);
        assert_eq!(imported.header().mode_of_use(), ModeOfUse::ENCRYPT_DECRYPT);
    }
}

#[test]
fn payhsm_exports_the_fixed_tokens_byte_for_byte() {
    let exported: Vec<_> = fixtures()
        .iter()
        .filter(|f| f["payhsm_exports"] == true)
        .collect();
    assert_eq!(exported.len(), 7);
    for f in exported {
        let name = field(f, &["name"]);
        let nonce = nonce(f);
        let mode = match &nonce {
            Some(nonce) => ExportMode::TwoPass { nonce },
            None => ExportMode::OnePass {
                signing_time: time(field(f, &["signing_time"])),
            },
        };
        let request = ExportRequest {
            form: form(f),
            kdh_certificate: &kdh().cert,
            krd_certificate: &krd(f).cert,
            krd_trust: None,
            mode,
            header: field(f, &["header"]).parse::<KeyBlockHeader>().unwrap(),
        };
        // The export draws the ephemeral key, then the IV, then the OAEP seed.
        let randomness = [
            bytes(f, "ephemeral_key"),
            bytes(f, "iv"),
            bytes(f, "oaep_seed"),
        ]
        .concat();
        let mut rng = Replay::new(&randomness);
        let key = KeyMaterial::from_slice("key", &bytes(f, "key")).unwrap();
        let token = token::export(&key, &request, &kdh().key, &mut rng).unwrap();
        assert_eq!(rng.remaining(), 0, "{name}");
        assert_eq!(
            payhsm_core::hex::encode(&token),
            field(f, &["token"]),
            "{name}"
        );
    }
}

/// The conformance defect, in bytes: where the ciphertext sits in `encryptedContentInfo`.
#[test]
fn the_2012_encrypted_content_info_holds_cipher_iv_and_ciphertext_in_one_sequence() {
    let id_data = hex("06092A864886F70D010701");
    for (name, nested) in [("tdes2-2012", true), ("tdes2-2019", false)] {
        let f = fixture(name);
        let token = bytes(f, "token");
        // id-data followed by a SEQUENCE occurs once: in encryptedContentInfo.
        let at = find(&token, &[&id_data[..], &[0x30]].concat()) + id_data.len();
        let (tag, start, len) = tlv(&token, at);
        assert_eq!(tag, 0x30);
        let (tag, oid_start, oid_len) = tlv(&token, start);
        assert_eq!(tag, 0x06);
        assert_eq!(
            &token[oid_start..oid_start + oid_len],
            hex("2A864886F70D0307"),
            "{name}: des-ede3-cbc"
        );
        let (tag, iv_start, iv_len) = tlv(&token, oid_start + oid_len);
        assert_eq!(tag, 0x04);
        assert_eq!(
            &token[iv_start..iv_start + iv_len],
            bytes(f, "iv"),
            "{name}"
        );
        let (tag, ct_start, ct_len) = tlv(&token, iv_start + iv_len);
        assert_eq!(tag, 0x80, "{name}: [0] IMPLICIT ciphertext after the IV");
        if nested {
            // X9_TR34_2012: the SEQUENCE ends after the ciphertext.
            assert_eq!(start + len, ct_start + ct_len, "{name}");
        } else {
            // RFC 5652: the AlgorithmIdentifier ends at the IV; the ciphertext follows it.
            assert_eq!(start + len, iv_start + iv_len, "{name}");
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap()
}

/// The DER element at `at`: its tag, where its contents start, and their length.
fn tlv(der: &[u8], at: usize) -> (u8, usize, usize) {
    match der[at + 1] {
        n @ 0..=0x7F => (der[at], at + 2, usize::from(n)),
        0x81 => (der[at], at + 3, usize::from(der[at + 2])),
        0x82 => (
            der[at],
            at + 4,
            usize::from(u16::from_be_bytes([der[at + 2], der[at + 3]])),
        ),
        n => panic!("length form {n:#x}"),
    }
}

#[test]
fn a_fixed_token_is_refused_in_the_other_form_and_for_another_nonce() {
    for name in ["tdes2-2012", "tdes2-2019"] {
        let f = fixture(name);
        let other = match form(f) {
            Form::X9Tr34_2012 => Form::X9Tr34_2019,
            Form::X9Tr34_2019 => Form::X9Tr34_2012,
        };
        let nonce = nonce(f).unwrap();
        assert!(
            matches!(
                import(f, other, ImportMode::TwoPass { nonce: &nonce }),
                Err(Error::Unsupported {
                    field: "SignedData version",
                    ..
                })
            ),
            "{name}"
        );
        let mut replayed = nonce.clone();
        replayed[7] ^= 1;
        assert!(matches!(
            import(f, form(f), ImportMode::TwoPass { nonce: &replayed }),
            Err(Error::Freshness {
                reason: "the nonce is not the one this KRD sent"
            })
        ));
    }
}

#[test]
fn the_one_pass_token_is_refused_once_its_signing_time_is_the_bound() {
    let f = fixture("tdes2-one-pass-2019");
    let signed = time(field(f, &["signing_time"]));
    assert!(import_as_built(f).is_ok());
    assert!(matches!(
        import(f, Form::X9Tr34_2019, ImportMode::OnePass { after: signed }),
        Err(Error::Freshness { .. })
    ));
    // It has no nonce for a two-pass import.
    assert!(matches!(
        import(
            f,
            Form::X9Tr34_2019,
            ImportMode::TwoPass {
                nonce: &[1, 2, 3, 4, 5, 6, 7, 8]
            }
        ),
        Err(Error::Freshness { .. })
    ));
}
