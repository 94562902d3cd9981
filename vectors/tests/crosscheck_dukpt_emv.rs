//! The cross-checked DUKPT and EMV entries are reproduced by their independent implementations.
//!
//! Runs `vectors/tools/crosscheck_dukpt_emv.py` (pyemv, pycryptodome; see
//! `tests/interop/requirements.txt`) with the interpreter in `PAYHSM_PYTHON`, which CI sets up,
//! and requires every entry it prints to be in the data file, unchanged, and every
//! cross-checked entry of the data file to be printed.

use std::process::Command;

use serde_json::Value;

fn cross_checked(data: &str) -> Vec<Value> {
    let all: Vec<Value> = serde_json::from_str(data).unwrap();
    all.into_iter()
        .filter(|e| {
            let id = e["id"].as_str().unwrap_or("");
            id.contains("-XCHECK-") || id == "EMV-UNIONPAY-PBOC-EXAMPLE"
        })
        .collect()
}

#[test]
fn cross_checked_entries_match_the_independent_implementations() {
    let Some(python) = std::env::var_os("PAYHSM_PYTHON") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "PAYHSM_PYTHON is not set in CI"
        );
        eprintln!("skipped: set PAYHSM_PYTHON to a python with tests/interop/requirements.txt");
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/crosscheck_dukpt_emv.py");
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
        ("dukpt", include_str!("../data/dukpt.json")),
        ("emv", include_str!("../data/emv.json")),
    ] {
        let expected = cross_checked(data);
        assert!(
            !expected.is_empty(),
            "{family} has no cross-checked entries"
        );
        assert_eq!(
            produced[family].as_array().unwrap(),
            &expected,
            "{family}: the script's output differs from the data file"
        );
    }
}
