//! `payhsm calc dukpt` and `payhsm calc emv`: known answers, verification exit codes and
//! error reporting.

mod common;

use common::payhsm;

const TDES_BDK: &str = "0123456789ABCDEFFEDCBA9876543210";
const AES_BDK: &str = "FEDCBA9876543210F1F1F1F1F1F1F1F1";
// "4012345678909D987" in ASCII (X9.24-1:2009 A.4 MAC data).
const MAC_DATA: &str = "3430313233343536373839303944393837";

// ANSI X9.24-1:2009 A.4: IPEK, transaction key and PIN key of the first KSN.
#[test]
fn dukpt_derive_tdes() {
    let run = payhsm(&[
        "calc",
        "dukpt",
        "derive",
        "--bdk",
        TDES_BDK,
        "--ksn",
        "FFFF9876543210E00001",
        "--usage",
        "PIN",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = run.json();
    assert_eq!(v["InitialKey"], "6AC292FAA1315B4D858AB3A3D7D5933A");
    assert_eq!(v["TransactionKey"], "042666B49184CFA368DE9628D0397BC9");
    assert_eq!(v["WorkingKey"], "042666B49184CF5C68DE9628D0397B36");
}

// X9.24-3-2017 supplement: AES-256 BDK, AES-128 PIN key.
#[test]
fn dukpt_derive_aes_with_key_type() {
    let run = payhsm(&[
        "calc",
        "dukpt",
        "derive",
        "--bdk",
        &format!("{AES_BDK}{AES_BDK}"),
        "--ksn",
        "123456789012345600000001",
        "--usage",
        "PIN",
        "--key-type",
        "AES_128",
    ]);
    assert_eq!(run.json()["WorkingKey"], "09C9C432966811D6B2C3336BAC1B1202");
}

#[test]
fn dukpt_mac_generate_and_verify() {
    let base = [
        "calc",
        "dukpt",
        "mac",
        "generate",
        "--bdk",
        TDES_BDK,
        "--ksn",
        "FFFF9876543210EFF802",
        "--message",
        MAC_DATA,
        "--algorithm",
        "ISO9797_ALGORITHM3",
    ];
    let mut args = base.to_vec();
    args.extend(["--variant", "RESPONSE", "--mac-length", "4"]);
    assert_eq!(payhsm(&args).json()["Mac"], "BF7036B7");
    let mut verify = base.to_vec();
    verify[3] = "verify";
    verify.extend(["--mac", "72608521"]);
    let ok = payhsm(&verify);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(ok.json()["Verified"], true);
    *verify.last_mut().unwrap() = "72608522";
    let bad = payhsm(&verify);
    assert_eq!(bad.code, 1);
    assert!(bad.one_line_error().contains("INVALID_MAC"));
}

#[test]
fn dukpt_encrypt_decrypt_round_trip() {
    let data = "343031323334353637383930394439383700000000000000";
    let enc = payhsm(&[
        "calc",
        "dukpt",
        "encrypt",
        "--bdk",
        TDES_BDK,
        "--ksn",
        "FFFF9876543210E00001",
        "--data",
        data,
        "--variant",
        "REQUEST",
    ]);
    let ct = enc.json()["CipherText"].as_str().unwrap().to_owned();
    assert_eq!(ct, "FC0D53B7EA1FDA9EE68AAF2E70D9B9506229BE2AA993F04F");
    let dec = payhsm(&[
        "calc",
        "dukpt",
        "decrypt",
        "--bdk",
        TDES_BDK,
        "--ksn",
        "FFFF9876543210E00001",
        "--data",
        &ct,
        "--variant",
        "REQUEST",
    ]);
    assert_eq!(dec.json()["PlainText"], data);
}

#[test]
fn dukpt_translate_pin_iso4_to_iso0() {
    let pek = "0123456789ABCDEFFEDCBA9876543210";
    let run = payhsm(&[
        "calc",
        "dukpt",
        "translate-pin",
        "--bdk",
        AES_BDK,
        "--ksn",
        "123456789012345600000001",
        "--pin-block",
        "A912150391AB65A67E52883D81CE2D15",
        "--incoming-format",
        "ISO_FORMAT_4",
        "--pan",
        "4111111111111111",
        "--pek",
        pek,
        "--outgoing-format",
        "ISO_FORMAT_0",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // ISO 0 is deterministic: PIN 1234 and this PAN under the PEK.
    assert_eq!(run.json()["PinBlock"].as_str().unwrap().len(), 16);
    assert_eq!(run.json()["KeyCheckValue"], "08D7B4");
}

// T-M-3: bad KSNs are one-line errors that name the option and the field.
#[test]
fn dukpt_bad_ksn() {
    let run = payhsm(&[
        "calc",
        "dukpt",
        "derive",
        "--bdk",
        TDES_BDK,
        "--ksn",
        "FFFF9876543210E007FF",
    ]);
    assert!(run.one_line_error().contains("KSN transaction counter"));
    let run = payhsm(&[
        "calc", "dukpt", "derive", "--bdk", TDES_BDK, "--ksn", "FFFF98",
    ]);
    assert!(run.one_line_error().contains("--ksn"));
    let run = payhsm(&[
        "calc",
        "dukpt",
        "derive",
        "--bdk",
        AES_BDK,
        "--ksn",
        "123456789012345600000001",
        "--key-type",
        "AES_256",
        "--usage",
        "PIN",
    ]);
    assert!(run.one_line_error().contains("stronger"));
}

// pyemv HSM-checked vector (emv.json): option B master key.
#[test]
fn emv_icc_master_key_option_b() {
    let run = payhsm(&[
        "calc",
        "emv",
        "icc-master-key",
        "--imk",
        TDES_BDK,
        "--pan",
        "12345678901234567",
        "--psn",
        "45",
        "--option",
        "B",
    ]);
    assert_eq!(
        run.json()["IccMasterKey"],
        "F767ECC2263B2C543775CB62AB6B57D6"
    );
}

const UP_DATA: &str = "000000000001000000000000015600800460000156140701001E78EEBC7D00024003A04002";

// The published UnionPay (PBOC) example: ARQC verify, mismatch exit code, ARPC method 1.
#[test]
fn emv_arqc_verify_and_arpc_union_pay() {
    let args = |arqc: &'static str| {
        vec![
            "calc",
            "emv",
            "arqc",
            "verify",
            "--imk",
            "F0C34A8124CEE0A91A0B034AA97D6EAC",
            "--pan",
            "6228000100001",
            "--psn",
            "01",
            "--atc",
            "0240",
            "--mode",
            "UNION_PAY",
            "--transaction-data",
            UP_DATA,
            "--auth-request-cryptogram",
            arqc,
        ]
    };
    let ok = payhsm(&args("5D016C91005E7CC2"));
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(ok.json()["Verified"], true);
    let bad = payhsm(&args("5D016C91005E7CC3"));
    assert_eq!(bad.code, 1);
    assert!(
        bad.one_line_error()
            .contains("INVALID_AUTH_REQUEST_CRYPTOGRAM")
    );
    let arpc = payhsm(&[
        "calc",
        "emv",
        "arpc",
        "--method",
        "1",
        "--imk",
        "F0C34A8124CEE0A91A0B034AA97D6EAC",
        "--pan",
        "6228000100001",
        "--psn",
        "01",
        "--atc",
        "0240",
        "--mode",
        "UNION_PAY",
        "--auth-request-cryptogram",
        "5D016C91005E7CC2",
        "--auth-response-code",
        "3031",
    ]);
    assert_eq!(arpc.json()["AuthResponseValue"], "21415243527CE78F");
}

// jPOS M/Chip vector (emv.json) by mode, and a preset with the session key.
#[test]
fn emv_arqc_generate_mastercard_and_session_key() {
    let run = payhsm(&[
        "calc",
        "emv",
        "arqc",
        "generate",
        "--imk",
        "12345678123456781234567812345678",
        "--pan",
        "1234567890123456",
        "--atc",
        "3456",
        "--unpredictable-number",
        "11111111",
        "--mode",
        "MASTERCARD_SESSION_KEY",
        "--transaction-data",
        "000000010000000000001000084000000010800840980704001111111158003456A08003242000",
        "--padding",
        "1",
    ]);
    assert_eq!(run.json()["AuthRequestCryptogram"], "9FFD1D52AE0EC0F3");
    let run = payhsm(&[
        "calc",
        "emv",
        "session-key",
        "--imk",
        "12345678123456781234567812345678",
        "--pan",
        "1234567890123456",
        "--atc",
        "3456",
        "--unpredictable-number",
        "11111111",
        "--mode",
        "MASTERCARD_SESSION_KEY",
    ]);
    assert_eq!(run.json()["SessionKey"], "68E9A15BBCF283EF0164F7E6C44C4325");
}

// pyemv 1.5.0 cvn module docstring: Visa CVN 18 by preset.
#[test]
fn emv_cvn18_preset() {
    let imk = "AA".repeat(16);
    let run = payhsm(&[
        "calc",
        "emv",
        "arqc",
        "generate",
        "--imk",
        &imk,
        "--pan",
        "1234567890123456",
        "--atc",
        "0FFF",
        "--cvn",
        "VISA_CVN18",
        "--transaction-data",
        "0000000099990000000000000840800004800008409912310152BF458518000FFF06011203A0B800",
    ]);
    assert_eq!(run.json()["AuthRequestCryptogram"], "769577B5ABE9FE62");
    let run = payhsm(&[
        "calc",
        "emv",
        "arpc",
        "--method",
        "2",
        "--imk",
        &imk,
        "--pan",
        "1234567890123456",
        "--atc",
        "0FFF",
        "--cvn",
        "VISA_CVN18",
        "--auth-request-cryptogram",
        "769577B5ABE9FE62",
        "--card-status-update",
        "00000000",
    ]);
    assert_eq!(run.json()["AuthResponseValue"], "76503F48");
    let run = payhsm(&[
        "calc",
        "emv",
        "script-mac",
        "--imk",
        &"BB".repeat(16),
        "--pan",
        "1234567890123456",
        "--mode",
        "VISA",
        "--atc",
        "0FFF",
        "--message",
        "84180000080FFF769577B5ABE9FE62",
    ]);
    assert_eq!(run.json()["Mac"], "B5CB29759F9C3919");
}

// T-M-5: a wrong ATC or PSN length is a one-line error naming the option.
#[test]
fn emv_bad_input() {
    let base = |atc: &'static str, psn: &'static str| {
        payhsm(&[
            "calc",
            "emv",
            "session-key",
            "--imk",
            TDES_BDK,
            "--pan",
            "1234567890123456",
            "--psn",
            psn,
            "--atc",
            atc,
            "--mode",
            "EMV_COMMON_SESSION_KEY",
        ])
    };
    assert!(base("001", "00").one_line_error().contains("--atc"));
    assert!(base("000102", "00").one_line_error().contains("--atc"));
    assert!(base("0001", "0").one_line_error().contains("--psn"));
    let run = payhsm(&[
        "calc",
        "emv",
        "session-key",
        "--imk",
        TDES_BDK,
        "--pan",
        "1234567890123456",
        "--mode",
        "EMV_COMMON_SESSION_KEY",
    ]);
    assert!(run.one_line_error().contains("ATC"));
}
