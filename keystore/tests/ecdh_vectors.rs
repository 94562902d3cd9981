//! ECDH and its key derivation functions against NIST CAVP known answers
//! (`tests/data/ecdh_vectors.json`, extracted by `tests/data/extract_ecdh_vectors.py`, which
//! names the files): the KAS ECC concatenation-KDF validity test (P-256, P-384, P-521; both
//! parties' static keys, Z and the derived keying material, valid entries and ones made
//! invalid on purpose) and the ANS X9.63-2001 KDF.

use payhsm_core::hex;
use payhsm_keystore::{
    ecc::{Curve, EcPrivateKey, EcPublicKey, SoftwareEcKey},
    exchange::ecdh::{Kdf, KdfHash, derive},
};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("data/ecdh_vectors.json")).unwrap()
}

fn bytes(v: &Value, name: &str) -> Vec<u8> {
    hex::decode("vector", v[name].as_str().unwrap()).unwrap()
}

fn field_len(curve: Curve) -> usize {
    match curve {
        Curve::P256 => 32,
        Curve::P384 => 48,
        Curve::P521 => 66,
    }
}

/// A number at the field length (CAVS writes P-521 values with 68 bytes, zeros in front).
fn coordinate(v: &Value, name: &str, curve: Curve) -> Vec<u8> {
    let b = bytes(v, name);
    let len = field_len(curve);
    if b.len() >= len {
        assert!(
            b[..b.len() - len].iter().all(|x| *x == 0),
            "{name} is too long"
        );
        return b[b.len() - len..].to_vec();
    }
    let mut out = vec![0; len - b.len()];
    out.extend(b);
    out
}

fn point(v: &Value, party: &str, curve: Curve) -> Result<EcPublicKey, &'static str> {
    let mut sec1 = vec![4];
    sec1.extend(coordinate(v, &format!("Qs{party}x"), curve));
    sec1.extend(coordinate(v, &format!("Qs{party}y"), curve));
    EcPublicKey::from_sec1(curve, &sec1)
}

fn hash(name: &str) -> KdfHash {
    match name {
        "SHA_256" => KdfHash::Sha256,
        "SHA_384" => KdfHash::Sha384,
        "SHA_512" => KdfHash::Sha512,
        other => panic!("{other}"),
    }
}

#[test]
fn kas_ecc_concatenation_kdf_known_answers() {
    let v = vectors();
    let mut checked = [0usize; 11];
    for e in v["kas"].as_array().unwrap() {
        let curve = match e["curve"].as_str().unwrap() {
            "P-256" => Curve::P256,
            "P-384" => Curve::P384,
            _ => Curve::P521,
        };
        let name = format!("{} COUNT = {}", e["section"], e["count"]);
        let result = usize::try_from(e["result"].as_u64().unwrap()).unwrap();
        let z = bytes(e, "Z");
        let dkm = bytes(e, "DKM");
        let kdf = |z: &[u8]| {
            derive(
                Kdf::NistSp800,
                hash(e["hash"].as_str().unwrap()),
                z,
                &bytes(e, "OI"),
                dkm.len(),
            )
        };
        match result {
            // Valid: both parties agree on Z, and Z and OI give the DKM.
            0 => {
                let iut =
                    SoftwareEcKey::from_scalar(curve, &coordinate(e, "dsIUT", curve)).unwrap();
                let cavs =
                    SoftwareEcKey::from_scalar(curve, &coordinate(e, "dsCAVS", curve)).unwrap();
                assert_eq!(iut.public_key(), &point(e, "IUT", curve).unwrap(), "{name}");
                assert_eq!(
                    cavs.public_key(),
                    &point(e, "CAVS", curve).unwrap(),
                    "{name}"
                );
                let agreed = iut.agree(&point(e, "CAVS", curve).unwrap()).unwrap();
                assert_eq!(agreed.expose_secret(), &z[..], "{name}");
                let other = cavs.agree(&point(e, "IUT", curve).unwrap()).unwrap();
                assert_eq!(other.expose_secret(), &z[..], "{name}");
                assert_eq!(kdf(&z).expose_secret(), &dkm[..], "{name}");
            }
            // A public key that is not on the curve is refused.
            1 | 2 => assert!(point(e, "CAVS", curve).is_err(), "{name}"),
            5 | 6 => assert!(point(e, "IUT", curve).is_err(), "{name}"),
            // The private key is out of range, or does not match its public key.
            7 => {
                if let Ok(iut) = SoftwareEcKey::from_scalar(curve, &coordinate(e, "dsIUT", curve)) {
                    assert_ne!(iut.public_key(), &point(e, "IUT", curve).unwrap(), "{name}");
                }
            }
            // Z changed: the agreement gives another Z.
            8 => {
                let iut =
                    SoftwareEcKey::from_scalar(curve, &coordinate(e, "dsIUT", curve)).unwrap();
                let agreed = iut.agree(&point(e, "CAVS", curve).unwrap()).unwrap();
                assert_ne!(agreed.expose_secret(), &z[..], "{name}");
            }
            // DKM or OI changed: the KDF gives another DKM.
            9 | 10 => assert_ne!(kdf(&z).expose_secret(), &dkm[..], "{name}"),
            other => panic!("{name}: reason {other} is not extracted"),
        }
        checked[result] += 1;
    }
    assert_eq!(checked[0], 12, "three valid entries per curve and hash");
    assert!(checked[1..].iter().filter(|n| **n > 0).count() == 8);
}

#[test]
fn ansi_x963_kdf_known_answers() {
    let v = vectors();
    let entries = v["x963"].as_array().unwrap();
    assert_eq!(entries.len(), 9);
    for e in entries {
        let expected = bytes(e, "key_data");
        let out = derive(
            Kdf::AnsiX963,
            hash(e["hash"].as_str().unwrap()),
            &bytes(e, "Z"),
            &bytes(e, "SharedInfo"),
            expected.len(),
        );
        assert_eq!(
            out.expose_secret(),
            &expected[..],
            "{} COUNT = {}",
            e["hash"],
            e["count"]
        );
    }
}
