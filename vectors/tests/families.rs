//! Every vector of every family either passes or is reported as not implemented; none fails,
//! and the families this release implements pass in full.

use payhsm_vectors::{FAMILIES, Outcome};

#[test]
fn no_vector_fails() {
    for family in FAMILIES {
        let report = family.run();
        let failures: Vec<_> = report
            .entries
            .iter()
            .filter_map(|e| match &e.outcome {
                Outcome::Failed { reason } => Some(format!("{}: {reason}", e.id)),
                _ => None,
            })
            .collect();
        assert!(failures.is_empty(), "{}: {failures:#?}", family.name);
    }
}

/// The families whose every entry payhsm implements.
const IMPLEMENTED: &[&str] = &[
    "tr31",
    "tr34",
    "kcv",
    "pinblock",
    "cvv",
    "pvv_ibm3624",
    "mac",
    "dukpt",
    "emv",
];

#[test]
fn implemented_families_pass_in_full() {
    for name in IMPLEMENTED {
        let report = payhsm_vectors::family(name).unwrap().run();
        assert!(report.total > 0, "{name} has no vectors");
        assert_eq!(report.passed, report.total, "{name}: {report:#?}");
    }
}

#[test]
fn an_unchecked_field_fails_the_entry() {
    // A check that reads nothing must not pass an entry with published values.
    let family = payhsm_vectors::Family {
        name: "kcv",
        data: r#"[{"id": "x", "inputs": {"key": "00"}, "expected": {"kcv": "00"}}]"#,
        check: |_| Ok(()),
    };
    let report = family.run();
    assert_eq!(report.failed, 1);
    match &report.entries[0].outcome {
        Outcome::Failed { reason } => assert!(reason.contains("inputs.key"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_wrong_published_value_fails() {
    let family = payhsm_vectors::family("kcv").unwrap();
    let tampered = payhsm_vectors::Family {
        name: "kcv",
        data: r#"[{"id": "tampered", "inputs": {"key": "F039121BEC83D26B169BDCD5B22AAF8F",
                 "method": "TDES-ECB-zeros", "kcv_length_bytes": 3}, "expected": {"kcv": "CB9DEB"}}]"#,
        check: family.check,
    };
    assert_eq!(tampered.run().failed, 1);
}

/// Changes one published value: the last character of text, a number by one, a flag negated.
fn corrupt(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            let mut chars: Vec<char> = s.chars().collect();
            if let Some(last) = chars.last_mut() {
                *last = match *last {
                    '0' => '1',
                    'A' | 'a' => 'B',
                    c if c.is_ascii_hexdigit() => '0',
                    _ => '#',
                };
            }
            Value::String(chars.into_iter().collect())
        }
        Value::Number(n) => Value::from(n.as_u64().unwrap_or(0) + 1),
        Value::Bool(b) => Value::Bool(!b),
        other => other.clone(),
    }
}

#[test]
fn every_published_value_is_checked() {
    // For each implemented family, corrupting any single expected value fails its entry.
    for name in IMPLEMENTED {
        let family = payhsm_vectors::family(name).unwrap();
        let entries: Vec<serde_json::Value> = serde_json::from_str(family.data).unwrap();
        for entry in &entries {
            let expected = entry["expected"].as_object().unwrap();
            for field in expected.keys() {
                let mut tampered = entry.clone();
                tampered["expected"][field] = corrupt(&expected[field]);
                let data: &'static str = Box::leak(
                    serde_json::to_string(&vec![tampered])
                        .unwrap()
                        .into_boxed_str(),
                );
                let run = payhsm_vectors::Family {
                    name: family.name,
                    data,
                    check: family.check,
                }
                .run();
                assert_eq!(
                    run.failed, 1,
                    "{name}/{}: corrupting expected.{field} went unnoticed",
                    entry["id"]
                );
            }
        }
    }
}
