//! How `payhsm` answers its user: one exit-code rule on every path, "did you mean" for a
//! mistyped command, option or value, unknown names listed with the valid ones, the first
//! error the real one. The messages are compared whole, so a change of wording is reviewed.

mod common;

use std::path::Path;

use common::{Run, payhsm};
use payhsm_core::key::{KeyModesOfUse, KeyUsage};

const CVK: &str = "KeyAlgorithm=TDES_2KEY,KeyUsage=TR31_C0_CARD_VERIFICATION_KEY,KeyClass=SYMMETRIC_KEY,KeyModesOfUse={Generate=true,Verify=true}";

/// `payhsm --store <store> args…`.
fn in_store(store: &Path, args: &[&str]) -> Run {
    let store = store.to_str().unwrap();
    payhsm(&[&["--store", store][..], args].concat())
}

/// A development store with a CVK; returns the store's directory guard and the key's ARN.
fn store_with_cvk() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let init = in_store(dir.path(), &["init", "--dev-master-key"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    let key = in_store(
        dir.path(),
        &["create-key", "--exportable", "--key-attributes", CVK],
    );
    assert_eq!(key.code, 0, "{}", key.stderr);
    let arn = key.json()["Key"]["KeyArn"].as_str().unwrap().to_owned();
    (dir, arn)
}

/// The error line (a development store prints its warning before it).
fn last_line(run: &Run) -> &str {
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run.stderr.lines().last().unwrap_or("")
}

#[test]
fn every_path_follows_the_exit_code_rule() {
    let (dir, arn) = store_with_cvk();
    let store = dir.path();
    let cvv2 = "CardVerificationValue2={CardExpiryDate=0926}";
    let generated = in_store(
        store,
        &[
            "generate-card-validation-data",
            "--key-identifier",
            &arn,
            "--primary-account-number",
            "4111111111111111",
            "--generation-attributes",
            cvv2,
            "--query",
            "ValidationData",
            "--output",
            "text",
        ],
    );
    assert_eq!(generated.code, 0, "{}", generated.stderr);
    let value: u32 = generated.stdout.trim().parse().unwrap();
    let wrong = format!("{:03}", (value + 1) % 1000);
    let verify = |data: &str| {
        in_store(
            store,
            &[
                "verify-card-validation-data",
                "--key-identifier",
                &arn,
                "--primary-account-number",
                "4111111111111111",
                "--verification-attributes",
                cvv2,
                "--validation-data",
                data,
            ],
        )
    };
    let no_store = tempfile::tempdir().unwrap();
    let kcv = |key: &str| payhsm(&["calc", "kcv", "--key", key]);
    let cases: Vec<(&str, Run, i32)> = vec![
        ("success", kcv("F039121BEC83D26B169BDCD5B22AAF8F"), 0),
        ("help", payhsm(&["--help"]), 0),
        ("version", payhsm(&["--version"]), 0),
        ("service verification", verify(&wrong), 1),
        (
            "calculator verification",
            payhsm(&[
                "calc",
                "cvv",
                "verify",
                "--key",
                "0123456789ABCDEFFEDCBA9876543210",
                "--pan",
                "4123456789012345",
                "--expiry",
                "8701",
                "--service-code",
                "101",
                "--validation-data",
                "562",
            ]),
            1,
        ),
        ("no command", payhsm(&[]), 2),
        ("unknown command", payhsm(&["create-ky"]), 2),
        ("unknown option", payhsm(&["calc", "kcv", "--kye", "00"]), 2),
        ("missing argument", payhsm(&["calc", "kcv"]), 2),
        (
            "bad value (clap)",
            payhsm(&["--backend", "x", "list-keys"]),
            2,
        ),
        ("bad value (payhsm)", kcv("zz"), 2),
        (
            "bad shorthand",
            in_store(store, &["create-key", "--key-attributes", "A={"]),
            2,
        ),
        (
            "missing member",
            in_store(store, &["create-key", "--key-attributes", CVK]),
            2,
        ),
        ("bad --account", payhsm(&["--account", "1", "list-keys"]), 2),
        ("ValidationException", verify("12345678"), 2),
        (
            "ResourceNotFoundException",
            in_store(store, &["get-key", "--key-identifier", "alias/none"]),
            255,
        ),
        ("no store", in_store(no_store.path(), &["list-keys"]), 255),
    ];
    for (name, run, code) in &cases {
        assert_eq!(run.code, *code, "{name}: {}", run.stderr);
        if *code != 0 {
            assert!(run.stdout.is_empty(), "{name}: {}", run.stdout);
            assert!(!run.stderr.contains("panicked"), "{name}: {}", run.stderr);
        }
    }
    assert_eq!(
        last_line(&cases[3].1),
        "VerificationFailedException: INVALID_VALIDATION_DATA"
    );
    assert!(
        last_line(&cases[14].1).starts_with("ValidationException: "),
        "{}",
        cases[14].1.stderr
    );
    assert_eq!(
        last_line(&cases[15].1),
        "ResourceNotFoundException: resource alias/none not found"
    );
}

#[test]
fn the_help_states_the_exit_codes() {
    let help = payhsm(&["--help"]).stdout;
    assert!(
        help.contains(
            "Exit codes:\n  0    success\n  1    verification failure (VerificationFailedException, \
             a calculator's verify)\n  2    bad usage or validation (an unknown command or \
             option, a bad value, ValidationException)\n  255  any other error \
             (ResourceNotFoundException, ConflictException, no store, I/O)"
        ),
        "{help}"
    );
    let readme = include_str!("../../README.md");
    for line in [
        "| 0 | success |",
        "| 1 | a verification failed",
        "| 2 | bad usage or validation",
        "| 255 | any other error",
    ] {
        assert!(readme.contains(line), "README: {line}");
    }
}

#[test]
fn a_mistyped_name_gets_the_closest_one() {
    for (args, line) in [
        (
            &["create-ky"][..],
            "error: unrecognized subcommand 'create-ky'; did you mean 'create-key'? Run with --help for usage.",
        ),
        (
            &["verify-ma"][..],
            "error: unrecognized subcommand 'verify-ma'; did you mean 'verify-mac'? Run with --help for usage.",
        ),
        (
            &["calc", "kcb"][..],
            "error: unrecognized subcommand 'kcb'; did you mean 'kcv'? Run with --help for usage.",
        ),
        (
            &["create-key", "--key-atributes", "x"][..],
            "error: unexpected argument '--key-atributes' found; did you mean '--key-attributes'? Run with --help for usage.",
        ),
        (
            &["--backend", "sofware", "list-keys"][..],
            "error: invalid value 'sofware' for '--backend <BACKEND>'; did you mean 'software'? Expected one of 'software', 'pkcs11'. Run with --help for usage.",
        ),
        (
            &["calc", "kcv", "--key", "00", "--method", "X"][..],
            "error: invalid value 'X' for '--method <METHOD>'; expected one of 'ANSI_X9_24', 'CMAC'. Run with --help for usage.",
        ),
        (
            &["calc", "pvv"][..],
            "error: the following required arguments were not provided: --key <KEY>, --pan <PAN>, --pin <PIN>, --pvki <PVKI>. Run with --help for usage.",
        ),
    ] {
        let run = payhsm(args);
        assert_eq!(run.code, 2, "{args:?}");
        assert_eq!(run.one_line_error(), line, "{args:?}");
    }
}

/// `create-key` with these attributes and no `--exportable`: the attributes are checked first.
fn create_key_with(attributes: &str) -> Run {
    let no_store = tempfile::tempdir().unwrap();
    in_store(
        no_store.path(),
        &["create-key", "--key-attributes", attributes],
    )
}

#[test]
fn an_unknown_name_lists_the_valid_ones_before_a_missing_option() {
    let usages: Vec<&str> = KeyUsage::known().filter_map(|u| u.known_name()).collect();
    assert!(usages.contains(&"TR31_C0_CARD_VERIFICATION_KEY"));
    for (attributes, line) in [
        (
            CVK.replace("TR31_C0_CARD_VERIFICATION_KEY", "TR31_C0_CVK"),
            format!(
                "ValidationException: KeyAttributes.KeyUsage: unknown key usage TR31_C0_CVK; \
                 expected one of {}",
                usages.join(", ")
            ),
        ),
        (
            CVK.replace("SYMMETRIC_KEY", "SYMMETRIC"),
            "ValidationException: KeyAttributes.KeyClass: unknown key class SYMMETRIC; expected \
             one of SYMMETRIC_KEY, ASYMMETRIC_KEY_PAIR, PRIVATE_KEY, PUBLIC_KEY"
                .to_owned(),
        ),
        (
            CVK.replace("TDES_2KEY", "TDES2"),
            "ValidationException: KeyAttributes.KeyAlgorithm: unknown key algorithm TDES2; \
             expected one of TDES_2KEY, TDES_3KEY, AES_128, AES_192, AES_256, HMAC_SHA224, \
             HMAC_SHA256, HMAC_SHA384, HMAC_SHA512, RSA_2048, RSA_3072, RSA_4096, \
             ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521"
                .to_owned(),
        ),
        (
            CVK.replace("Verify=", "Verfy="),
            format!(
                "ValidationException: KeyAttributes.KeyModesOfUse: unknown mode of use Verfy; \
                 expected one of {}",
                KeyModesOfUse::NAMES.join(", ")
            ),
        ),
    ] {
        let run = create_key_with(&attributes);
        assert_eq!(run.code, 2, "{attributes}: {}", run.stderr);
        assert_eq!(run.one_line_error(), line);
    }
    // Good attributes: now the missing option is the error.
    let run = create_key_with(CVK);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.one_line_error(),
        "error: --exportable is required. Give it, or give the whole request with \
         --cli-input-json."
    );
}
