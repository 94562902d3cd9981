//! Interoperability with an independent implementation: psec 1.3.0 (Python).
//!
//! Random keys, KBPKs and headers are wrapped by psec and unwrapped by payhsm, and the other
//! way round; keys and header fields must agree. The oracle is `tests/interop/psec_tr31.py`,
//! run by the Python in `PAYHSM_PYTHON` (CI creates a venv from
//! `tests/interop/requirements.txt`). Without it the test is skipped locally and fails in CI.

use std::{
    io::Write,
    process::{Command, Stdio},
};

use payhsm_core::{
    hex,
    key::KeyAlgorithm,
    rng::{OsRandom, RandomSource},
    secret::KeyMaterial,
};
use payhsm_tr31::{Header, Kbpk, UnwrapOptions, WrapOptions, kbpk_algorithm, unwrap, wrap};
use serde_json::{Value, json};

struct Case {
    kbpk: String,
    header: String,
    key: String,
}

fn python() -> Option<String> {
    match std::env::var("PAYHSM_PYTHON") {
        Ok(p) => Some(p),
        Err(_) if std::env::var("CI").is_ok() => {
            panic!("PAYHSM_PYTHON must point at a Python with tests/interop/requirements.txt in CI")
        }
        Err(_) => {
            eprintln!("skipped: set PAYHSM_PYTHON to run the psec interop test");
            None
        }
    }
}

fn oracle(python: &str, op: &str, input: &Value) -> Vec<Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/psec_tr31.py");
    let mut child = Command::new(python)
        .args([script, op])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the psec oracle");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the psec oracle failed");
    serde_json::from_slice(&out.stdout).expect("oracle output is JSON")
}

fn random_hex(rng: &mut OsRandom, len: usize) -> String {
    let mut b = vec![0u8; len];
    rng.fill(&mut b).unwrap();
    hex::encode(&b)
}

fn pick<'a>(rng: &mut OsRandom, items: &[&'a str]) -> &'a str {
    let mut b = [0u8; 1];
    rng.fill(&mut b).unwrap();
    items[usize::from(b[0]) % items.len()]
}

/// Random cases: B blocks under TDES KBPKs carrying TDES keys, D blocks under AES KBPKs
/// carrying AES and TDES keys. Optional blocks are chosen so that no padding block is needed,
/// since each side fills `PB` with its own random characters.
fn cases(rng: &mut OsRandom, n: usize) -> Vec<Case> {
    (0..n)
        .map(|i| {
            let d = i % 2 == 1;
            let kbpk_len = if d {
                [16, 24, 32][i % 3]
            } else {
                [16, 24][i % 2]
            };
            let (algorithm, key_len) = match (d, i % 4) {
                (true, 1) => ("T", 16),
                (true, 3) => ("A", [16, 24, 32][i % 3]),
                (_, _) => ("T", [16, 24][i % 2]),
            };
            let usage_mode = pick(rng, &["P0E", "D0B", "K0B", "M3C", "B0X", "C0G"]);
            let (usage, mode) = usage_mode.split_at(2);
            let exportability = pick(rng, &["E", "N", "S"]);
            let (count, blocks) = match (d, i % 3) {
                (false, 0) => ("01", "KS1800604B120F9292800000".to_owned()),
                (true, 0) => ("01", "LB10PAYHSMTEST01".to_owned()),
                _ => ("00", String::new()),
            };
            let version = if d { "D" } else { "B" };
            Case {
                kbpk: random_hex(rng, kbpk_len),
                header: format!(
                    "{version}0000{usage}{algorithm}{mode}00{exportability}{count}00{blocks}"
                ),
                key: random_hex(rng, key_len),
            }
        })
        .collect()
}

/// The header without its length field, which depends on the padding each side chose.
fn fields(header: &str) -> String {
    format!("{}{}", &header[..1], &header[5..])
}

fn kbpk_of<'a>(header: &Header, kbpk: &'a KeyMaterial) -> Kbpk<'a> {
    let algorithm: KeyAlgorithm = kbpk_algorithm(header.version(), kbpk.len()).unwrap();
    Kbpk::Clear {
        algorithm,
        key: kbpk,
    }
}

#[test]
fn psec_and_payhsm_unwrap_each_others_blocks() {
    let Some(python) = python() else { return };
    let rng = &mut OsRandom;

    // psec wraps, payhsm unwraps.
    let psec_cases = cases(rng, 60);
    let input: Vec<Value> = psec_cases
        .iter()
        .map(|c| json!({"kbpk": c.kbpk, "header": c.header, "key": c.key}))
        .collect();
    let wrapped = oracle(&python, "wrap", &Value::from(input));
    for (case, out) in psec_cases.iter().zip(&wrapped) {
        let block = out["key_block"]
            .as_str()
            .unwrap_or_else(|| panic!("psec refused {}: {out}", case.header));
        let kbpk = KeyMaterial::from_hex("kbpk", &case.kbpk).unwrap();
        let header = Header::parse(&case.header).unwrap();
        let got = unwrap(kbpk_of(&header, &kbpk), block, &UnwrapOptions::default())
            .unwrap_or_else(|e| panic!("payhsm cannot unwrap psec's {block}: {e}"));
        assert_eq!(hex::encode(got.key.expose_secret()), case.key, "{block}");
        assert_eq!(fields(&got.header.to_string()), fields(&case.header));
    }

    // payhsm wraps (X9.143 masking on), psec unwraps.
    let ours = cases(rng, 60);
    let mut input = Vec::new();
    for case in &ours {
        let kbpk = KeyMaterial::from_hex("kbpk", &case.kbpk).unwrap();
        let header = Header::parse(&case.header).unwrap();
        let key = hex::decode("key", &case.key).unwrap();
        let block = wrap(
            kbpk_of(&header, &kbpk),
            &header,
            &key,
            &WrapOptions::default(),
            rng,
        )
        .unwrap();
        input.push(json!({"kbpk": case.kbpk, "key_block": block}));
    }
    let unwrapped = oracle(&python, "unwrap", &Value::from(input.clone()));
    for ((case, sent), out) in ours.iter().zip(&input).zip(&unwrapped) {
        assert_eq!(out["key"], case.key.as_str(), "psec on {sent}: {out}");
        assert_eq!(
            fields(out["header"].as_str().unwrap()),
            fields(&case.header),
            "{sent}"
        );
    }
}
