//! `TranslateKeyMaterial`: TR-31 under one stored KEK to TR-31 under another.
//!
//! The wrapping keys are of known value, so every outgoing block is opened here in software
//! under the clear key, independently of the HSM, and must hold the incoming key with the
//! incoming header's attributes. With `PAYHSM_PYTHON`, psec (an independent TR-31
//! implementation) makes the incoming blocks and opens the outgoing ones as well.

use payhsm_core::{
    crypto::SoftwareKey,
    key::{Algorithm, Exportability as E, KeyAlgorithm as A, KeyUsage as U, ModeOfUse as M},
    rng::OsRandom,
};
use payhsm_keystore::{Rule, Store};
use payhsm_tr31::{Header, Kbpk, UnwrapOptions, Version, WrapOptions};
use serde_json::{Value, json};

use super::{
    Harness, KNOWN_CVK, KNOWN_KBPK, KNOWN_KEK, assert_policy, assert_validation, import_known,
    pki::python, software_block,
};

/// An AES-256 data key, for the wrapping-strength refusal.
const KNOWN_DATA_KEY: &str = "4D2A1F0E5B6C7D8E9FA0B1C2D3E4F5061728394A5B6C7D8E9F00112233445566";

/// A block of `key_hex` with `header` under the clear KBPK `kbpk_hex`.
fn block(kbpk_algorithm: A, kbpk_hex: &str, header: &Header, key_hex: &str) -> String {
    let kbpk = SoftwareKey::from_hex(kbpk_algorithm, kbpk_hex).unwrap();
    payhsm_tr31::wrap(
        Kbpk::Key(&kbpk),
        header,
        &payhsm_core::hex::decode("k", key_hex).unwrap(),
        &WrapOptions::default(),
        &mut OsRandom,
    )
    .unwrap()
}

/// Opens `block` under the clear KBPK: its header and key (hex).
fn open(kbpk_algorithm: A, kbpk_hex: &str, block: &str) -> (Header, String) {
    let kbpk = SoftwareKey::from_hex(kbpk_algorithm, kbpk_hex).unwrap();
    let u = payhsm_tr31::unwrap(Kbpk::Key(&kbpk), block, &UnwrapOptions::default()).unwrap();
    (u.header, payhsm_core::hex::encode(u.key.expose_secret()))
}

fn request(incoming: &str, block: &str, outgoing: &str) -> Value {
    json!({
        "IncomingKeyMaterial": { "Tr31KeyBlock": {
            "WrappingKeyIdentifier": incoming, "WrappedKeyBlock": block } },
        "OutgoingKeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": outgoing } },
    })
}

pub fn translate_key_material<S: Store>(h: Harness<S>) {
    let kbpk = import_known(&h, U::K1, A::Aes256, M::ENCRYPT_DECRYPT, false, KNOWN_KBPK);
    let kek = import_known(&h, U::K0, A::Tdes3Key, M::ENCRYPT_DECRYPT, false, KNOWN_KEK);
    let keys_before = h.hsm.store().list_keys(None, 1000).unwrap().len();
    // The CVK's KCV (ANSI X9.24 for TDES) from a key of that value.
    let cvk_kcv =
        payhsm_core::kcv::default_kcv(&SoftwareKey::from_hex(A::Tdes2Key, KNOWN_CVK).unwrap())
            .unwrap()
            .to_string();

    // B under the TDES KEK → D under the AES KBPK, and back, keeping the header.
    let under_kek = software_block(
        A::Tdes3Key,
        KNOWN_KEK,
        Version::B,
        M::GENERATE,
        E::EXPORTABLE,
        KNOWN_CVK,
    );
    let out = h.ok("TranslateKeyMaterial", request(&kek, &under_kek, &kbpk));
    let wrapped = &out["WrappedKey"];
    assert_eq!(wrapped["WrappedKeyMaterialFormat"], "TR31_KEY_BLOCK");
    assert_eq!(wrapped["KeyCheckValue"], cvk_kcv.as_str());
    let under_kbpk = wrapped["WrappedKeyMaterial"].as_str().unwrap();
    assert!(under_kbpk.starts_with('D'), "{under_kbpk}");
    assert_eq!(&under_kbpk[5..12], "C0TG00E");
    let (header, key) = open(A::Aes256, KNOWN_KBPK, under_kbpk);
    assert_eq!(key, KNOWN_CVK);
    assert_eq!(header.mode_of_use(), M::GENERATE);
    let back = h.ok("TranslateKeyMaterial", request(&kbpk, under_kbpk, &kek));
    let back = back["WrappedKey"]["WrappedKeyMaterial"].as_str().unwrap();
    assert!(back.starts_with('B'), "{back}");
    assert_eq!(open(A::Tdes3Key, KNOWN_KEK, back).1, KNOWN_CVK);
    // A KCV algorithm may be asked for; one that does not fit the key is refused.
    let mut cmac = request(&kek, &under_kek, &kbpk);
    cmac["KeyCheckValueAlgorithm"] = json!("CMAC");
    let cmac_kcv =
        h.ok("TranslateKeyMaterial", cmac.clone())["WrappedKey"]["KeyCheckValue"].clone();
    assert_ne!(cmac_kcv, json!(cvk_kcv));
    cmac["KeyCheckValueAlgorithm"] = json!("HMAC");
    assert_validation(h.call("TranslateKeyMaterial", cmac));
    // Optional blocks stay; the old wrapping key's KCV block does not.
    let with_blocks = Header::new(
        Version::D,
        U::C0,
        Algorithm::TDES,
        M::GENERATE_VERIFY,
        "12",
        E::EXPORTABLE,
    )
    .unwrap()
    .with_optional_block(
        payhsm_tr31::OptionalBlock::new(
            payhsm_tr31::BlockId::new("KS").unwrap(),
            "00604B120F9292800000",
        )
        .unwrap(),
    )
    .unwrap()
    .with_optional_block(
        payhsm_tr31::OptionalBlock::new(payhsm_tr31::BlockId::KP, "01AB12CD").unwrap(),
    )
    .unwrap();
    let blocky = block(A::Aes256, KNOWN_KBPK, &with_blocks, KNOWN_CVK);
    let out = h.ok("TranslateKeyMaterial", request(&kbpk, &blocky, &kek));
    let (header, key) = open(
        A::Tdes3Key,
        KNOWN_KEK,
        out["WrappedKey"]["WrappedKeyMaterial"].as_str().unwrap(),
    );
    assert_eq!(key, KNOWN_CVK);
    assert_eq!(header.key_version(), "12");
    assert_eq!(
        header
            .optional_blocks()
            .iter()
            .map(|b| b.id())
            .collect::<Vec<_>>(),
        ["KS"]
    );

    if let Some(python) = python() {
        psec_round_trip(&h, &python, &kek, &kbpk);
    }

    // What an export refuses, a translation refuses.
    let non_exportable = software_block(
        A::Tdes3Key,
        KNOWN_KEK,
        Version::B,
        M::GENERATE,
        E::NON_EXPORTABLE,
        KNOWN_CVK,
    );
    assert_policy(
        h.call(
            "TranslateKeyMaterial",
            request(&kek, &non_exportable, &kbpk),
        ),
        Rule::Exportability,
    );
    let data_header = Header::new(
        Version::D,
        U::D0,
        Algorithm::AES,
        M::ENCRYPT_DECRYPT,
        "00",
        E::EXPORTABLE,
    )
    .unwrap();
    let strong = block(A::Aes256, KNOWN_KBPK, &data_header, KNOWN_DATA_KEY);
    assert_policy(
        h.call("TranslateKeyMaterial", request(&kbpk, &strong, &kek)),
        Rule::WrappingStrength,
    );
    let wrap_only = h.create(
        "TR31_K1_KEY_BLOCK_PROTECTION_KEY",
        "AES_256",
        &["Encrypt", "Wrap"],
        false,
    );
    let unwrap_only = h.create(
        "TR31_K0_KEY_ENCRYPTION_KEY",
        "TDES_3KEY",
        &["Decrypt", "Unwrap"],
        false,
    );
    assert_policy(
        h.call(
            "TranslateKeyMaterial",
            request(&wrap_only, under_kbpk, &kek),
        ),
        Rule::ModeOfUse,
    );
    assert_policy(
        h.call(
            "TranslateKeyMaterial",
            request(&kbpk, under_kbpk, &unwrap_only),
        ),
        Rule::ModeOfUse,
    );
    let data_key = h.create(
        "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
        "AES_256",
        &["Encrypt", "Decrypt", "Wrap", "Unwrap"],
        false,
    );
    assert_policy(
        h.call(
            "TranslateKeyMaterial",
            request(&kbpk, under_kbpk, &data_key),
        ),
        Rule::KeyUsage,
    );
    assert_policy(
        h.call("TranslateKeyMaterial", request(&data_key, under_kbpk, &kek)),
        Rule::KeyUsage,
    );
    // A version D block under the TDES KEK does not fit it.
    assert_policy(
        h.call("TranslateKeyMaterial", request(&kek, under_kbpk, &kbpk)),
        Rule::KeyAlgorithm,
    );
    // A block whose MAC does not verify, or that is not a block, is refused.
    let mut tampered = under_kbpk.to_owned();
    let last = tampered.pop().unwrap();
    tampered.push(if last == '0' { '1' } else { '0' });
    assert_validation(h.call("TranslateKeyMaterial", request(&kbpk, &tampered, &kek)));
    assert_validation(h.call("TranslateKeyMaterial", request(&kbpk, "D0016", &kek)));
    // The service's ECDH member is refused with a reason; an unknown member does not parse.
    assert_validation(h.call(
        "TranslateKeyMaterial",
        json!({
            "IncomingKeyMaterial": { "DiffieHellmanTr31KeyBlock": {} },
            "OutgoingKeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": kek } },
        }),
    ));
    assert_validation(h.call(
        "TranslateKeyMaterial",
        json!({
            "IncomingKeyMaterial": { "Tr34KeyBlock": {} },
            "OutgoingKeyMaterial": { "Tr31KeyBlock": { "WrappingKeyIdentifier": kek } },
        }),
    ));
    // A disabled wrapping key is refused.
    h.ok("StopKeyUsage", json!({ "KeyIdentifier": kbpk }));
    assert_policy(
        h.call("TranslateKeyMaterial", request(&kek, &under_kek, &kbpk)),
        Rule::KeyDisabled,
    );
    h.ok("StartKeyUsage", json!({ "KeyIdentifier": kbpk }));

    // Nothing was stored but the keys made here; failures are audited, without the block.
    let made_here = 3;
    assert_eq!(
        h.hsm.store().list_keys(None, 1000).unwrap().len(),
        keys_before + made_here
    );
    let events: Vec<Value> = h
        .hsm
        .audit()
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let failures: Vec<&Value> = events
        .iter()
        .filter(|e| e["eventName"] == "TranslateKeyMaterial")
        .collect();
    assert!(
        failures.iter().all(|e| e.get("errorCode").is_some()),
        "successes are not audited"
    );
    assert!(failures.len() >= 10, "{}", failures.len());
    let text = serde_json::to_string(&failures).unwrap();
    assert!(
        !text.contains(&under_kbpk[16..]) && !text.contains(&under_kek[16..]),
        "{text}"
    );
}

/// psec wraps the CVK under the clear KEK (version B) and the KBPK (version D); the HSM
/// translates each to the other key; psec opens the results.
fn psec_round_trip<S: Store>(h: &Harness<S>, python: &std::path::Path, kek: &str, kbpk: &str) {
    let psec = |op: &str, cases: Value| -> Vec<Value> {
        let out = super::pki::run_script_with_input(
            python,
            "../tr31/tests/interop/psec_tr31.py",
            &[op],
            Some(&cases),
        );
        let results: Vec<Value> = serde_json::from_value(out).unwrap();
        for r in &results {
            assert!(r.get("error").is_none(), "psec {op}: {r}");
        }
        results
    };
    let made = psec(
        "wrap",
        json!([
            { "kbpk": KNOWN_KEK, "header": "B0000C0TG00E0000", "key": KNOWN_CVK },
            { "kbpk": KNOWN_KBPK, "header": "D0000C0TV00N0000", "key": KNOWN_CVK },
        ]),
    );
    let to_kbpk = h.ok(
        "TranslateKeyMaterial",
        request(kek, made[0]["key_block"].as_str().unwrap(), kbpk),
    );
    // A non-exportable block does not leave; an exportable one does.
    assert_policy(
        h.call(
            "TranslateKeyMaterial",
            request(kbpk, made[1]["key_block"].as_str().unwrap(), kek),
        ),
        Rule::Exportability,
    );
    let to_kek = h.ok(
        "TranslateKeyMaterial",
        request(
            kbpk,
            to_kbpk["WrappedKey"]["WrappedKeyMaterial"]
                .as_str()
                .unwrap(),
            kek,
        ),
    );
    let opened = psec(
        "unwrap",
        json!([
            { "kbpk": KNOWN_KBPK, "key_block": to_kbpk["WrappedKey"]["WrappedKeyMaterial"] },
            { "kbpk": KNOWN_KEK, "key_block": to_kek["WrappedKey"]["WrappedKeyMaterial"] },
        ]),
    );
    for (o, version) in opened.iter().zip(["D", "B"]) {
        assert_eq!(o["key"], KNOWN_CVK);
        let header = o["header"].as_str().unwrap();
        assert!(header.starts_with(version), "{header}");
        assert_eq!(&header[5..12], "C0TG00E", "{header}");
    }
}
