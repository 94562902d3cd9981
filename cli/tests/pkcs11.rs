//! `payhsm --backend pkcs11`: the same commands on keys in a SoftHSM2 token.
//!
//! Without SoftHSM2 the test says so and passes, except under CI (`CI=true`), where a
//! missing module fails it.

use std::process::{Command, Stdio};

use payhsm_keystore::store::pkcs11::{SOFTHSM2_MODULE, softhsm};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_payhsm");
const PIN: &str = "975310";

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run<S: AsRef<std::ffi::OsStr>>(args: &[S], pin: Option<&str>) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("PAYHSM_PKCS11_PIN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(pin) = pin {
        cmd.env("PAYHSM_PKCS11_PIN", pin);
    }
    let o = cmd.output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8(o.stdout).unwrap(),
        stderr: String::from_utf8(o.stderr).unwrap(),
    }
}

fn json(o: &Out) -> Value {
    assert_eq!(o.code, 0, "{}", o.stderr);
    serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.stdout))
}

#[test]
fn commands_run_against_the_token() {
    let Some(module) = softhsm::module() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "SoftHSM2 is not installed ({SOFTHSM2_MODULE}): CI must install the softhsm2 package"
        );
        eprintln!(
            "skipped: SoftHSM2 is not installed ({SOFTHSM2_MODULE}); apt-get install softhsm2"
        );
        return;
    };
    // The token is made in this process's SoftHSM2 directory; the child reads the same
    // SOFTHSM2_CONF.
    softhsm::temporary_token(&module, "payhsm-cli", PIN).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("data");
    let module = module.to_str().unwrap();
    let base = [
        "--store",
        store.to_str().unwrap(),
        "--backend",
        "pkcs11",
        "--pkcs11-module",
        module,
        "--token-label",
        "payhsm-cli",
    ];
    let with = |rest: &[&str]| -> Vec<String> {
        base.iter().chain(rest).map(|s| (*s).to_owned()).collect()
    };

    // No PIN and no terminal: a clear refusal, nothing created.
    let o = run(&with(&["init"]), None);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("PAYHSM_PKCS11_PIN"), "{}", o.stderr);
    let o = run(&with(&["init"]), Some("000000"));
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("refused the user PIN"), "{}", o.stderr);
    assert!(!o.stderr.contains("000000"), "{}", o.stderr);

    let init = json(&run(&with(&["init"]), Some(PIN)));
    assert_eq!(init["Backend"], "pkcs11");
    assert!(
        init["Token"].as_str().unwrap().contains("payhsm-cli"),
        "{init}"
    );

    let created = json(&run(
        &with(&[
            "create-key",
            "--key-attributes",
            "KeyUsage=TR31_C0_CARD_VERIFICATION_KEY,KeyClass=SYMMETRIC_KEY,KeyAlgorithm=TDES_2KEY,KeyModesOfUse={Generate=true,Verify=true}",
            "--no-exportable",
        ]),
        Some(PIN),
    ));
    let arn = created["Key"]["KeyArn"].as_str().unwrap().to_owned();
    assert_eq!(created["Key"]["KeyCheckValue"].as_str().unwrap().len(), 6);
    let cvv = json(&run(
        &with(&[
            "generate-card-validation-data",
            "--key-identifier",
            &arn,
            "--primary-account-number",
            "4111111111111111",
            "--generation-attributes",
            "CardVerificationValue2={CardExpiryDate=1230}",
        ]),
        Some(PIN),
    ));
    let value = cvv["ValidationData"].as_str().unwrap().to_owned();
    json(&run(
        &with(&[
            "verify-card-validation-data",
            "--key-identifier",
            &arn,
            "--primary-account-number",
            "4111111111111111",
            "--verification-attributes",
            "CardVerificationValue2={CardExpiryDate=1230}",
            "--validation-data",
            &value,
        ]),
        Some(PIN),
    ));
    let listed = json(&run(&with(&["list-keys"]), Some(PIN)));
    assert_eq!(listed["Keys"].as_array().unwrap().len(), 1);

    // The same store without the token options: told where its keys are.
    let o = run(
        &[
            "--store",
            store.to_str().unwrap(),
            "get-key",
            "--key-identifier",
            &arn,
        ],
        None,
    );
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("--backend pkcs11"), "{}", o.stderr);
    // Another token's label: no such token.
    let o = run(
        &[
            "--store",
            store.to_str().unwrap(),
            "--backend",
            "pkcs11",
            "--pkcs11-module",
            module,
            "--token-label",
            "no-such-token",
            "get-key",
            "--key-identifier",
            &arn,
        ],
        Some(PIN),
    );
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("no token"), "{}", o.stderr);
    // Export is refused by this token, and says why.
    let o = run(
        &with(&[
            "export-key",
            "--export-key-identifier",
            &arn,
            "--key-material",
            &format!("Tr31KeyBlock={{WrappingKeyIdentifier={arn}}}"),
        ]),
        Some(PIN),
    );
    assert_ne!(o.code, 0);
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
}
