//! The generated card and PIN entries are reproduced by their independent implementations.
//!
//! Runs `vectors/tools/card_crosscheck.py` (psec, pyemv, pycryptodome; see
//! `tests/interop/requirements.txt`) with the interpreter in `PAYHSM_PYTHON`, which CI sets up,
//! and requires its output to equal the `"repository": "generated"` entries of the data files.

use std::process::Command;

use serde_json::Value;

fn generated(data: &str) -> Vec<Value> {
    let all: Vec<Value> = serde_json::from_str(data).unwrap();
    all.into_iter()
        .filter(|e| e["source"]["repository"] == "generated")
        .collect()
}

#[test]
fn generated_entries_match_the_independent_implementations() {
    let Some(python) = std::env::var_os("PAYHSM_PYTHON") else {
        // CI always provides the interpreter; a developer without it is told, not failed.
        assert!(
            std::env::var_os("CI").is_none(),
            "PAYHSM_PYTHON is not set in CI"
        );
        eprintln!("skipped: set PAYHSM_PYTHON to a python with tests/interop/requirements.txt");
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/card_crosscheck.py");
    let out = Command::new(python)
        .args(["-W", "ignore", script])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let produced: Value = serde_json::from_slice(&out.stdout).unwrap();
    for (family, data) in [
        ("cvv", include_str!("../data/cvv.json")),
        ("pvv_ibm3624", include_str!("../data/pvv_ibm3624.json")),
        ("mac", include_str!("../data/mac.json")),
        ("pinblock", include_str!("../data/pinblock.json")),
    ] {
        let expected = generated(data);
        assert!(!expected.is_empty(), "{family} has no generated entries");
        assert_eq!(
            produced[family].as_array().unwrap(),
            &expected,
            "{family}: the script's output differs from the data file"
        );
    }
}
