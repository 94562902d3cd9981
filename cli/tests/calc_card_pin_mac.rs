//! `payhsm calc` for PIN blocks, PIN verification, card validation data and MACs: known
//! answers from the shared vectors, the verify forms' exit codes and reasons, one-line errors.

mod common;

use common::payhsm;

const K: &str = "0123456789ABCDEFFEDCBA9876543210";
const NOW_IS: &str = "4E6F77206973207468652074696D6520666F7220616C6C20";

fn ok(args: &[&str]) -> serde_json::Value {
    let run = payhsm(args);
    assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
    run.json()
}

#[test]
fn cvv_generate_and_verify() {
    let base = ["--key", K, "--pan", "4123456789012345", "--expiry", "8701"];
    let v = ok(&[&["calc", "cvv"][..], &base, &["--service-code", "101"]].concat());
    assert_eq!(v["ValidationData"], "561");
    let v = ok(&[&["calc", "cvv"][..], &base, &["--service-code", "000"]].concat());
    assert_eq!(v["ValidationData"], "636");
    let verify = |value: &str| {
        payhsm(
            &[
                &["calc", "cvv", "verify"][..],
                &base,
                &["--service-code", "101", "--validation-data", value],
            ]
            .concat(),
        )
    };
    let good = verify("561");
    assert_eq!(good.code, 0);
    assert_eq!(good.json()["Verified"], true);
    let bad = verify("562");
    assert_eq!(bad.code, 1);
    assert_eq!(
        bad.one_line_error(),
        "VerificationFailedException: INVALID_VALIDATION_DATA"
    );
    assert!(verify("5x2").one_line_error().contains("--validation-data"));
}

#[test]
fn pvv_and_ibm3624() {
    let v = ok(&[
        "calc",
        "pvv",
        "--key",
        K,
        "--pan",
        "5432101234567890",
        "--pin",
        "1234",
        "--pvki",
        "1",
    ]);
    assert_eq!(v["VerificationValue"], "6776");
    let run = payhsm(&[
        "calc",
        "pvv",
        "verify",
        "--key",
        K,
        "--pan",
        "5432101234567890",
        "--pin",
        "1235",
        "--pvki",
        "1",
        "--verification-value",
        "6776",
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.one_line_error(),
        "VerificationFailedException: INVALID_PIN"
    );
    assert!(
        payhsm(&[
            "calc",
            "pvv",
            "--key",
            K,
            "--pan",
            "5432101234567890",
            "--pin",
            "1234",
            "--pvki",
            "7"
        ])
        .one_line_error()
        .contains("--pvki")
    );
    let common = [
        "--key",
        K,
        "--pin-validation-data",
        "1122334455667788",
        "--pad-character",
        "F",
        "--decimalization-table",
        "1234567890123456",
    ];
    let v = ok(&[
        &["calc", "ibm3624", "offset"][..],
        &common,
        &["--pin", "1234"],
    ]
    .concat());
    assert_eq!(v["PinOffset"], "7710");
    let v = ok(&[
        &["calc", "ibm3624", "natural-pin"][..],
        &common,
        &["--pin-length", "4"],
    ]
    .concat());
    assert_eq!(v["Pin"], "4524");
    let v = ok(&[
        &["calc", "ibm3624", "pin-from-offset"][..],
        &common,
        &["--offset", "7710"],
    ]
    .concat());
    assert_eq!(v["Pin"], "1234");
    // The stored-tables policy refuses an attack table before comparing (T-PIN-10).
    let attack = [
        "--key",
        K,
        "--pin-validation-data",
        "1122334455667788",
        "--pad-character",
        "F",
        "--decimalization-table",
        "0000000100000000",
    ];
    let run = payhsm(
        &[
            &["calc", "ibm3624", "verify"][..],
            &attack,
            &[
                "--pin",
                "0000",
                "--offset",
                "0000",
                "--allowed-decimalization-table",
                "1234567890123456",
            ],
        ]
        .concat(),
    );
    assert!(
        run.one_line_error()
            .contains("DecimalizationTableNotAllowed")
    );
}

#[test]
fn pin_blocks_and_translation() {
    let v = ok(&[
        "calc",
        "pin-block",
        "encode",
        "--format",
        "ISO_FORMAT_0",
        "--pin",
        "1234",
        "--pan",
        "4012345678909",
    ]);
    assert_eq!(v["PinBlock"], "041274EDCBA9876F");
    let v = ok(&[
        "calc",
        "pin-block",
        "decode",
        "--format",
        "ISO_FORMAT_0",
        "--pin-block",
        "041274EDCBA9876F",
        "--pan",
        "4012345678909",
    ]);
    assert_eq!(v["Pin"], "1234");
    let aes = "00112233445566778899AABBCCDDEEFF";
    let pan = "4111111111111111";
    let e = ok(&[
        "calc",
        "pin-block",
        "encrypt",
        "--format",
        "ISO_FORMAT_4",
        "--key",
        aes,
        "--pin",
        "98765",
        "--pan",
        pan,
    ]);
    let block = e["EncryptedPinBlock"].as_str().unwrap().to_owned();
    assert_eq!(block.len(), 32);
    let t = ok(&[
        "calc",
        "translate-pin",
        "--incoming-key",
        aes,
        "--incoming-format",
        "ISO_FORMAT_4",
        "--outgoing-key",
        K,
        "--outgoing-format",
        "ISO_FORMAT_3",
        "--pin-block",
        &block,
        "--pan",
        pan,
    ]);
    let out = t["PinBlock"].as_str().unwrap();
    let v = ok(&[
        "calc",
        "pin-block",
        "decrypt",
        "--format",
        "ISO_FORMAT_3",
        "--key",
        K,
        "--pin-block",
        out,
        "--pan",
        pan,
    ]);
    assert_eq!(v["Pin"], "98765");
    // PCI PIN 3-3: 4 -> 1 and a PAN change are refused, naming the rule.
    let run = payhsm(&[
        "calc",
        "translate-pin",
        "--incoming-key",
        aes,
        "--incoming-format",
        "ISO_FORMAT_4",
        "--outgoing-key",
        K,
        "--outgoing-format",
        "ISO_FORMAT_1",
        "--pin-block",
        &block,
        "--pan",
        pan,
    ]);
    assert!(
        run.one_line_error()
            .contains("FormatTranslationNotPermitted")
    );
    let run = payhsm(&[
        "calc",
        "translate-pin",
        "--incoming-key",
        aes,
        "--incoming-format",
        "ISO_FORMAT_4",
        "--outgoing-key",
        K,
        "--outgoing-format",
        "ISO_FORMAT_0",
        "--pin-block",
        &block,
        "--pan",
        pan,
        "--outgoing-pan",
        "4111111111111129",
    ]);
    assert!(run.one_line_error().contains("PanChangeNotPermitted"));
    // A wrong key gives the uniform bad-block error, never a PIN.
    let run = payhsm(&[
        "calc",
        "pin-block",
        "decrypt",
        "--format",
        "ISO_FORMAT_4",
        "--key",
        "FFEEDDCCBBAA99887766554433221100",
        "--pin-block",
        &block,
        "--pan",
        pan,
    ]);
    assert!(run.one_line_error().contains("not a valid PIN block"));
}

#[test]
fn dynamic_values_and_csc() {
    let v = ok(&[
        "calc",
        "cvc3",
        "--key",
        "01234567899876543210012345678998",
        "--pan",
        "5123456789012345",
        "--track-data",
        "5123456789012345D35121010000000000000F",
        "--unpredictable-number",
        "00000899",
        "--atc",
        "005E",
    ]);
    assert_eq!(v["ValidationData"], "29488");
    let run = payhsm(&[
        "calc",
        "cvc3",
        "verify",
        "--key",
        "01234567899876543210012345678998",
        "--pan",
        "5123456789012345",
        "--track-data",
        "5123456789012345D35121010000000000000F",
        "--unpredictable-number",
        "00000899",
        "--atc",
        "005E",
        "--validation-data",
        "488",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = ok(&[
        "calc",
        "dcvv",
        "--key",
        K,
        "--pan",
        "4123456789012345",
        "--expiry",
        "2512",
        "--service-code",
        "101",
        "--atc",
        "0001",
    ]);
    assert_eq!(v["ValidationData"], "549");
    let v = ok(&[
        "calc",
        "cavv",
        "--key",
        K,
        "--pan",
        "4123456789012345",
        "--unpredictable-number",
        "1234",
        "--authentication-results-code",
        "0",
        "--second-factor-code",
        "00",
    ]);
    assert_eq!(v["ValidationData"], "868");
    let v = ok(&[
        "calc",
        "amex-csc",
        "--version",
        "1",
        "--key",
        K,
        "--pan",
        "371234567890123",
        "--expiry",
        "9912",
        "--length",
        "3",
    ]);
    assert_eq!(v["ValidationData"], "552");
    assert!(
        payhsm(&[
            "calc",
            "amex-csc",
            "--version",
            "1",
            "--key",
            K,
            "--pan",
            "4123456789012345",
            "--expiry",
            "9912"
        ])
        .one_line_error()
        .contains("American Express")
    );
}

#[test]
fn macs() {
    let v = ok(&[
        "calc",
        "mac",
        "--algorithm",
        "ISO9797_ALGORITHM3",
        "--key",
        K,
        "--message",
        NOW_IS,
    ]);
    assert_eq!(v["Mac"], "A1C72E74EA3FA9B6");
    let v = ok(&[
        "calc",
        "mac",
        "--algorithm",
        "CMAC",
        "--aes",
        "--key",
        "2B7E151628AED2A6ABF7158809CF4F3C",
        "--message",
        "6BC1BEE22E409F96E93D7E117393172A",
    ]);
    assert_eq!(v["Mac"], "070A16B46B4D4144F79BDD9DD04A287C");
    let v = ok(&[
        "calc",
        "mac",
        "--algorithm",
        "HMAC_SHA256",
        "--key",
        "0C0C0C0C0C0C0C0C0C0C0C0C0C0C0C0C0C0C0C0C",
        "--message",
        "546573742057697468205472756E636174696F6E",
        "--length",
        "16",
    ]);
    assert_eq!(v["Mac"], "A3B6167473100EE06E0C796C2955552B");
    let run = payhsm(&[
        "calc",
        "mac",
        "verify",
        "--algorithm",
        "ISO9797_ALGORITHM3",
        "--key",
        K,
        "--message",
        NOW_IS,
        "--mac",
        "A1C72E75",
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.one_line_error(),
        "VerificationFailedException: INVALID_MAC"
    );
    assert_eq!(
        payhsm(&[
            "calc",
            "mac",
            "verify",
            "--algorithm",
            "ISO9797_ALGORITHM3",
            "--key",
            K,
            "--message",
            NOW_IS,
            "--mac",
            "A1C72E74"
        ])
        .code,
        0
    );
    assert!(
        payhsm(&[
            "calc",
            "mac",
            "--algorithm",
            "ISO9797_ALGORITHM3",
            "--key",
            K,
            "--message",
            NOW_IS,
            "--length",
            "2"
        ])
        .one_line_error()
        .contains("MAC length")
    );
    assert!(
        payhsm(&[
            "calc",
            "mac",
            "--algorithm",
            "CBC",
            "--key",
            K,
            "--message",
            NOW_IS
        ])
        .one_line_error()
        .contains("--algorithm")
    );
}
