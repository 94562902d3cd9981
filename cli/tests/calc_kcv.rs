//! `payhsm calc kcv`: known answers and error reporting.

mod common;

use common::payhsm;

#[test]
fn tdes_kcv_defaults_to_ansi_x9_24() {
    let run = payhsm(&["calc", "kcv", "--key", "F039121BEC83D26B169BDCD5B22AAF8F"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = run.json();
    assert_eq!(v["KeyCheckValue"], "CB9DEA");
    assert_eq!(v["KeyCheckValueAlgorithm"], "ANSI_X9_24");
}

#[test]
fn aes_kcv_is_cmac_with_x9_143_length() {
    let run = payhsm(&[
        "calc",
        "kcv",
        "--key",
        "3F419E1CB7079442AA37474C2EFBF8B8",
        "--algorithm",
        "AES",
        "--length",
        "5",
    ]);
    assert_eq!(run.json()["KeyCheckValue"], "08793E25AB");
}

#[test]
fn bad_input_is_one_line_and_names_the_option() {
    let run = payhsm(&["calc", "kcv", "--key", "F039121BEC83D26B169BDCD5B22AAF8"]);
    assert!(run.one_line_error().contains("--key"));
    let run = payhsm(&["calc", "kcv", "--key", "ZZ39121BEC83D26B169BDCD5B22AAF8F"]);
    assert!(run.one_line_error().contains("position 0"));
    let run = payhsm(&["calc", "kcv", "--nope"]);
    assert!(run.one_line_error().contains("--nope"));
}

#[test]
fn encrypting_zeros_under_aes_is_refused() {
    let run = payhsm(&[
        "calc",
        "kcv",
        "--key",
        "3F419E1CB7079442AA37474C2EFBF8B8",
        "--algorithm",
        "AES",
        "--method",
        "ANSI_X9_24",
    ]);
    assert!(run.one_line_error().contains("CMAC"));
}
