//! `payhsm vectors`: the auditors' command.

mod common;

use common::payhsm;

#[test]
fn vectors_json_reports_every_family_and_no_failure() {
    let run = payhsm(&["vectors", "--format", "json"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    let families = v["families"].as_array().unwrap();
    let names: Vec<&str> = families
        .iter()
        .map(|f| f["family"].as_str().unwrap())
        .collect();
    for expected in [
        "tr31",
        "tr34",
        "kcv",
        "pinblock",
        "cvv",
        "pvv_ibm3624",
        "mac",
        "dukpt",
        "emv",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let total: u64 = families.iter().map(|f| f["total"].as_u64().unwrap()).sum();
    // 214 shared vectors and 28 cross-checked DUKPT and EMV entries.
    assert_eq!(total, 242);
    for f in families {
        assert_eq!(f["failed"], 0, "{f}");
    }
}

#[test]
fn unknown_family_is_an_error() {
    let run = payhsm(&["vectors", "--family", "nope"]);
    assert!(run.one_line_error().contains("nope"));
}
