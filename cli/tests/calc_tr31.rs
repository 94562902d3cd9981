//! `payhsm calc tr31`: wrap, unwrap and inspect on the published blocks.

mod common;

use common::payhsm;

const D_KBPK: &str = "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6";
// TR-31:2018 A.7.4.
const D_BLOCK: &str = "D0112P0AE00E0000B82679114F470F540165EDFBF7E250FCEA43F810D215F8D207E2E417C07156A27E8E31DA05F7425509593D03A457DC34";

#[test]
fn unwrap_prints_header_fields_key_and_kcv() {
    // TR-31:2018's blocks are not masked (T-KB-6): refused unless asked for.
    let mut args = vec![
        "calc",
        "tr31",
        "unwrap",
        "--kbpk",
        D_KBPK,
        "--key-block",
        D_BLOCK,
    ];
    let run = payhsm(&args);
    assert!(run.one_line_error().contains("--allow-short-padding"));
    args.push("--allow-short-padding");
    let run = payhsm(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = run.json();
    assert_eq!(v["Header"], "D0112P0AE00E0000");
    assert_eq!(v["KeyUsage"], "TR31_P0_PIN_ENCRYPTION_KEY");
    assert_eq!(v["KeyAlgorithm"], "AES_128");
    assert_eq!(v["ModeOfUse"], "E");
    assert_eq!(v["KeyVersionNumber"], "00");
    assert_eq!(v["Exportability"], "EXPORTABLE");
    assert_eq!(v["OptionalBlocks"], serde_json::json!({}));
    assert_eq!(v["Key"], "3F419E1CB7079442AA37474C2EFBF8B8");
    assert_eq!(v["KeyCheckValue"], "08793E");
}

#[test]
fn wrap_then_unwrap_round_trips_with_masking() {
    let kbpk = "0123456789ABCDEFFEDCBA9876543210";
    let mut blocks = Vec::new();
    for key in [
        "3F419E1CB7079442AA37474C2EFBF8B8",
        "3F419E1CB7079442AA37474C2EFBF8B83F419E1CB7079442",
    ] {
        let run = payhsm(&[
            "calc",
            "tr31",
            "wrap",
            "--kbpk",
            kbpk,
            "--header",
            "B0000P0TE00E0000",
            "--key",
            key,
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let block = run.json()["KeyBlock"].as_str().unwrap().to_owned();
        let back = payhsm(&[
            "calc",
            "tr31",
            "unwrap",
            "--kbpk",
            kbpk,
            "--key-block",
            &block,
        ]);
        assert_eq!(back.json()["Key"], key);
        blocks.push(block);
    }
    // X9.143 masking: a double- and a triple-length key give blocks of one length.
    assert_eq!(blocks[0].len(), blocks[1].len());
}

#[test]
fn inspect_needs_no_key() {
    let run = payhsm(&["calc", "tr31", "inspect", "--key-block", D_BLOCK]);
    let v = run.json();
    assert_eq!(v["KeyBlockLength"], 112);
    assert_eq!(v["KeyAlgorithm"], "AES");
    assert!(v.get("Key").is_none());
}

#[test]
fn failures_are_one_line_and_say_what_to_do() {
    let mut wrong = D_KBPK.to_owned();
    wrong.replace_range(0..1, "9");
    let run = payhsm(&[
        "calc",
        "tr31",
        "unwrap",
        "--kbpk",
        &wrong,
        "--key-block",
        D_BLOCK,
        "--allow-short-padding",
    ]);
    assert!(run.one_line_error().contains("authentication failed"));

    let run = payhsm(&[
        "calc",
        "tr31",
        "unwrap",
        "--kbpk",
        D_KBPK,
        "--key-block",
        &D_BLOCK[..50],
    ]);
    assert!(run.one_line_error().contains("--key-block"));

    let a_block = "A0072P0TE00E0000F5161ED902807AF26F1D62263644BD24192FDB3193C730301CEE8701";
    let kbpk = "89E88CF7931444F334BD7547FC3F380C";
    let run = payhsm(&[
        "calc",
        "tr31",
        "unwrap",
        "--kbpk",
        kbpk,
        "--key-block",
        a_block,
    ]);
    assert!(run.one_line_error().contains("--allow-legacy"));
    let run = payhsm(&[
        "calc",
        "tr31",
        "unwrap",
        "--kbpk",
        kbpk,
        "--key-block",
        a_block,
        "--allow-legacy",
        "--allow-short-padding",
    ]);
    assert_eq!(run.json()["Key"], "F039121BEC83D26B169BDCD5B22AAF8F");

    // A B block under a KBPK only AES can have (32 bytes).
    let b_block =
        "B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248E";
    let run = payhsm(&[
        "calc",
        "tr31",
        "unwrap",
        "--kbpk",
        D_KBPK,
        "--key-block",
        b_block,
    ]);
    assert!(run.one_line_error().contains("--kbpk"));

    let run = payhsm(&[
        "calc",
        "tr31",
        "wrap",
        "--kbpk",
        kbpk,
        "--header",
        "A0000P0TE00E0000",
        "--key",
        "F039121BEC83D26B169BDCD5B22AAF8F",
    ]);
    assert!(run.one_line_error().contains("legacy"));
}
