//! `payhsm calc emv pin-change`: known answers for every derivation method (pyemv 1.5.0, as in
//! vectors/data/emv.json) and one-line errors that name the option.

mod common;

use common::payhsm;

const SMI: &str = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
const SMC: &str = "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC";
const AC: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const PEK: &str = "89ABCDEF0123456776543210FEDCBA98";
const CURRENT_PEK: &str = "0123456789ABCDEFFEDCBA9876543210";
const ARQC: &str = "769577B5ABE9FE62";

/// The options every method takes, then `extra`.
fn run(
    method: &str,
    pan: &str,
    psn: &str,
    block: &str,
    format: &str,
    message: &str,
    extra: &[&str],
) -> common::Run {
    let mut args = vec![
        "calc",
        "emv",
        "pin-change",
        "--method",
        method,
        "--smi-imk",
        SMI,
        "--smc-imk",
        SMC,
        "--new-pin-pek",
        PEK,
        "--new-pin-block",
        block,
        "--pin-block-format",
        format,
        "--pan",
        pan,
        "--psn",
        psn,
        "--message-data",
        message,
    ];
    args.extend_from_slice(extra);
    payhsm(&args)
}

fn assert_answer(run: &common::Run, encrypted: &str, mac: &str) {
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = run.json();
    assert_eq!(v["EncryptedPinBlock"], encrypted);
    assert_eq!(v["Mac"], mac);
    assert_eq!(v.as_object().unwrap().len(), 2, "{v}");
}

/// The Visa example of pyemv's `cvn` documentation (CVN 18, PIN 9999), as one call.
fn visa(extra: &[&str]) -> common::Run {
    let mut all = vec!["--atc", "0FFF", "--ac-imk", AC];
    all.extend_from_slice(extra);
    run(
        "VISA",
        "1234567890123456",
        "00",
        "1DADE42A3405AE29",
        "ISO_FORMAT_0",
        "84240002180FFF769577B5ABE9FE62",
        &all,
    )
}

#[test]
fn visa_pyemv_example() {
    assert_answer(
        &visa(&["--option", "B"]),
        "2DC7A061323BA62472BC5308BD291B5F",
        "665B3A927E60661E",
    );
}

#[test]
fn visa_option_b_with_current_pin() {
    let r = run(
        "VISA",
        "1234567890123456789",
        "00",
        "D6D3AE7B4539FB34",
        "ISO_FORMAT_0",
        "84240001180FFF769577B5ABE9FE62",
        &[
            "--option",
            "EMV_OPTION_B",
            "--atc",
            "0FFF",
            "--ac-imk",
            AC,
            "--current-pin-pek",
            CURRENT_PEK,
            "--current-pin-block",
            "CDC22A50E2981C35",
        ],
    );
    assert_answer(&r, "420DE07D31B896E9C17E202267B630CA", "CC77D0D0E47557C6");
}

#[test]
fn amex_with_current_pin() {
    let r = run(
        "AMEX",
        "374245455400126",
        "00",
        "6FCBC12AAAB0028E",
        "ISO_FORMAT_0",
        "84240001180FFF769577B5ABE9FE62",
        &[
            "--atc",
            "0FFF",
            "--ac-imk",
            AC,
            "--current-pin-pek",
            CURRENT_PEK,
            "--current-pin-block",
            "9B22BD91C0BC05A6",
        ],
    );
    assert_answer(&r, "41743CCBD369078541308000577EE01C", "4CE7E9BA9AB42C7E");
}

#[test]
fn mastercard_from_format_1() {
    let r = run(
        "MASTERCARD",
        "5413330089020011",
        "01",
        "0399267CEA8E284D",
        "ISO_FORMAT_1",
        "84240002100FFF769577B5ABE9FE62",
        &["--application-cryptogram", ARQC],
    );
    assert_answer(&r, "F4B9BD1B0DB47486", "6DECB6E90B656024");
}

#[test]
fn emv2000() {
    let r = run(
        "EMV2000",
        "4000123412341234",
        "00",
        "94B14391E4F3A0FB",
        "ISO_FORMAT_0",
        "8424000210001C769577B5ABE9FE62",
        &["--atc", "001C"],
    );
    assert_answer(&r, "4EBEBAE45B280FD7", "C822F983BCE495E2");
}

fn emv_common(block: &str, format: &str, extra: &[&str]) -> common::Run {
    let mut all = vec!["--application-cryptogram", ARQC];
    all.extend_from_slice(extra);
    run(
        "EMV_COMMON",
        "4000123412341234",
        "02",
        block,
        format,
        "84240002100FFF769577B5ABE9FE62",
        &all,
    )
}

#[test]
fn emv_common_layouts() {
    let front_ecb = emv_common(
        "7E8C335106A82589",
        "ISO_FORMAT_3",
        &[
            "--mode",
            "ECB",
            "--padding",
            "ISO_IEC_7816_4",
            "--length-position",
            "FRONT_OF_PIN_BLOCK",
        ],
    );
    assert_answer(
        &front_ecb,
        "2A6ECECFEC1861AF6C99C5BEFACE6C12",
        "460F7BA16E0C1412",
    );
    let plain = emv_common(
        "91DC75F31E5C4437",
        "ISO_FORMAT_1",
        &[
            "--mode",
            "ECB",
            "--padding",
            "NO_PADDING",
            "--length-position",
            "NONE",
        ],
    );
    assert_answer(&plain, "781E0BAD07D44249", "307EFBFAE0A287F0");
    let short_mac = emv_common(
        "13F9C5D242A8E16C",
        "ISO_FORMAT_3",
        &[
            "--mode",
            "ECB",
            "--padding",
            "ISO_IEC_7816_4",
            "--length-position",
            "NONE",
            "--mac-length",
            "4",
        ],
    );
    assert_answer(&short_mac, "4A24EFDB466D9D6FC773881B5E8597E7", "C60FA06E");
}

/// Fails on one line that names `flag`.
fn fails_naming(run: &common::Run, flag: &str) {
    let line = run.one_line_error();
    assert_eq!(run.code, 2, "{line}");
    assert!(line.contains(flag), "{line} does not name {flag}");
}

#[test]
fn errors_name_the_option() {
    // Options a method needs, and options it does not take.
    fails_naming(
        &run(
            "VISA",
            "1234567890123456",
            "00",
            "1DADE42A3405AE29",
            "ISO_FORMAT_0",
            "84240002180FFF769577B5ABE9FE62",
            &["--atc", "0FFF"],
        ),
        "--ac-imk",
    );
    fails_naming(
        &visa(&["--application-cryptogram", ARQC]),
        "--application-cryptogram",
    );
    fails_naming(&visa(&["--mode", "CBC"]), "--mode");
    fails_naming(
        &visa(&["--current-pin-pek", CURRENT_PEK]),
        "--current-pin-block",
    );
    fails_naming(
        &emv_common("7E8C335106A82589", "ISO_FORMAT_3", &["--mode", "ECB"]),
        "--padding",
    );
    fails_naming(
        &emv_common(
            "7E8C335106A82589",
            "ISO_FORMAT_3",
            &[
                "--mode",
                "ECB",
                "--padding",
                "NO_PADDING",
                "--length-position",
                "FRONT_OF_PIN_BLOCK",
            ],
        ),
        "--padding",
    );
    // Bad values.
    fails_naming(
        &run(
            "VISA_CVN10",
            "1234567890123456",
            "00",
            "1DADE42A3405AE29",
            "ISO_FORMAT_0",
            "84240002180FFF769577B5ABE9FE62",
            &[],
        ),
        "--method",
    );
    fails_naming(
        &run(
            "EMV2000",
            "4000123412341234",
            "00",
            "94B14391E4F3A0FB",
            "ISO_FORMAT_4",
            "8424000210001C769577B5ABE9FE62",
            &["--atc", "001C"],
        ),
        "--pin-block-format",
    );
    fails_naming(
        &run(
            "EMV2000",
            "4000123412341234",
            "00",
            "94B14391E4F3A0FB",
            "ISO_FORMAT_0",
            "84240002",
            &["--atc", "001C"],
        ),
        "--message-data",
    );
    fails_naming(&visa(&["--mac-length", "9"]), "--mac-length");
    fails_naming(
        &run(
            "VISA",
            "1234567890123456",
            "00",
            "1DADE42A3405AE29",
            "ISO_FORMAT_0",
            "84240002180FFF769577B5ABE9FE62",
            &["--atc", "0FFF", "--ac-imk", "00112233"],
        ),
        "--ac-imk",
    );
    fails_naming(
        &run(
            "EMV2000",
            "4000123412341234",
            "00",
            "94B14391E4F3A0",
            "ISO_FORMAT_0",
            "8424000210001C769577B5ABE9FE62",
            &["--atc", "001C"],
        ),
        "--new-pin-block",
    );
}

// A block bound to another PAN is the one uniform bad-block error, and nothing is printed.
#[test]
fn a_block_for_another_card_is_refused() {
    let r = run(
        "EMV2000",
        "4000123412341242",
        "00",
        "94B14391E4F3A0FB",
        "ISO_FORMAT_0",
        "8424000210001C769577B5ABE9FE62",
        &["--atc", "001C"],
    );
    let line = r.one_line_error();
    assert!(line.contains("not a valid PIN block"), "{line}");
    assert!(!line.contains("2468"), "{line}");
}
