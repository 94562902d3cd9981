//! `payhsm` by key id: the README walk-through, AWS CLI-shaped commands and errors, the key
//! ceremony, the wrong master key, and no secret on stderr or in the audit log.

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_payhsm");

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }

    /// The last stderr line (a development store prints its warning first).
    fn error_line(&self) -> &str {
        assert_ne!(self.code, 0, "expected a failure: {}", self.stdout);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self.stderr.lines().last().unwrap_or("")
    }
}

fn run_in(home: &Path, args: &[&str], stdin: Option<&str>) -> Out {
    let mut child = Command::new(BIN)
        .args(args)
        .env("PAYHSM_HOME", home)
        .env("PAYHSM_TEST_COMPONENTS_FROM_STDIN", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // A child that refuses early stops reading; that is not the test's failure.
    let _ = input.write_all(stdin.unwrap_or("").as_bytes());
    drop(input);
    let o = child.wait_with_output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8(o.stdout).unwrap(),
        stderr: String::from_utf8(o.stderr).unwrap(),
    }
}

fn dev_home() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("payhsm-data");
    let init = run_in(&home, &["init", "--dev-master-key"], None);
    assert_eq!(init.code, 0, "{}", init.stderr);
    assert_eq!(init.json()["MasterKeySource"], "DEVELOPMENT_KEY_FILE");
    assert!(
        init.stderr.contains("development master key"),
        "the warning is printed"
    );
    (dir, home)
}

fn ok(home: &Path, args: &[&str]) -> Value {
    let out = run_in(home, args, None);
    assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
    assert!(
        out.stderr.contains("development master key"),
        "warning on every start"
    );
    out.json()
}

const CVK_ATTRS: &str = "KeyAlgorithm=TDES_2KEY,KeyUsage=TR31_C0_CARD_VERIFICATION_KEY,KeyClass=SYMMETRIC_KEY,KeyModesOfUse={Generate=true,Verify=true}";

#[test]
fn the_readme_walkthrough_runs() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/walkthrough.sh");
    let out = Command::new("bash")
        .arg(&script)
        .env("PAYHSM", BIN)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("walkthrough: all steps passed"));
}

#[test]
fn shorthand_json_and_cli_input_json_make_the_same_request() {
    let (_d, home) = dev_home();
    let short = ok(
        &home,
        &["create-key", "--exportable", "--key-attributes", CVK_ATTRS],
    );
    let json = ok(
        &home,
        &[
            "create-key",
            "--exportable",
            "--key-attributes",
            r#"{"KeyAlgorithm":"TDES_2KEY","KeyUsage":"TR31_C0_CARD_VERIFICATION_KEY","KeyClass":"SYMMETRIC_KEY","KeyModesOfUse":{"Generate":true,"Verify":true}}"#,
        ],
    );
    let input = ok(
        &home,
        &[
            "create-key",
            "--cli-input-json",
            r#"{"KeyAttributes":{"KeyAlgorithm":"TDES_2KEY","KeyUsage":"TR31_C0_CARD_VERIFICATION_KEY","KeyClass":"SYMMETRIC_KEY","KeyModesOfUse":{"Generate":true,"Verify":true}},"Exportable":true}"#,
        ],
    );
    for k in [&json, &input] {
        assert_eq!(k["Key"]["KeyAttributes"], short["Key"]["KeyAttributes"]);
        assert_eq!(k["Key"]["Exportable"], true);
    }
    let arn = short["Key"]["KeyArn"].as_str().unwrap();
    ok(
        &home,
        &[
            "tag-resource",
            "--resource-arn",
            arn,
            "--tags",
            "Key=team,Value=cards",
            "Key=env,Value=test",
        ],
    );
    let tags = ok(&home, &["list-tags-for-resource", "--resource-arn", arn]);
    assert_eq!(tags["Tags"].as_array().unwrap().len(), 2);
    let page = ok(&home, &["list-keys", "--max-results", "2"]);
    assert_eq!(page["Keys"].as_array().unwrap().len(), 2);
    let token = page["NextToken"].as_str().unwrap();
    let rest = ok(
        &home,
        &["list-keys", "--max-results", "2", "--next-token", token],
    );
    assert_eq!(rest["Keys"].as_array().unwrap().len(), 1);
    assert!(rest.get("NextToken").is_none());
    let deleted = ok(
        &home,
        &[
            "delete-key",
            "--key-identifier",
            arn,
            "--delete-key-in-days",
            "3",
        ],
    );
    assert_eq!(deleted["Key"]["KeyState"], "DELETE_PENDING");
    assert_eq!(
        ok(&home, &["restore-key", "--key-identifier", arn])["Key"]["KeyState"],
        "CREATE_COMPLETE"
    );
}

#[test]
fn errors_name_the_service_error() {
    let (_d, home) = dev_home();
    let missing = run_in(
        &home,
        &[
            "get-key",
            "--key-identifier",
            "arn:aws:payment-cryptography:us-east-1:111122223333:key/aaaaaaaaaaaaaaaa",
        ],
        None,
    );
    assert_eq!(missing.code, 255);
    assert!(missing.stdout.is_empty());
    assert!(
        missing
            .error_line()
            .starts_with("ResourceNotFoundException: "),
        "{}",
        missing.stderr
    );
    let bad = run_in(
        &home,
        &[
            "create-key",
            "--exportable",
            "--key-attributes",
            "KeyAlgorithm=TDES_2KEY,KeyUsage=TR31_C0_CARD_VERIFICATION_KEY,KeyClass=SYMMETRIC_KEY,KeyModesOfUse={Encrypt=true}",
        ],
        None,
    );
    assert_eq!(bad.code, 2);
    assert!(
        bad.error_line().starts_with("ValidationException: "),
        "{}",
        bad.stderr
    );
    let required = run_in(&home, &["create-key", "--key-attributes", CVK_ATTRS], None);
    assert_eq!(required.code, 2);
    assert!(
        required.error_line().contains("--exportable"),
        "{}",
        required.stderr
    );
    let shorthand = run_in(
        &home,
        &[
            "create-key",
            "--exportable",
            "--key-attributes",
            "KeyAlgorithm={",
        ],
        None,
    );
    assert!(
        shorthand.error_line().contains("--key-attributes"),
        "{}",
        shorthand.stderr
    );
    let none = tempfile::tempdir().unwrap();
    let nostore = run_in(&none.path().join("nothing"), &["list-keys"], None);
    assert!(
        nostore.error_line().contains("payhsm init"),
        "{}",
        nostore.stderr
    );
    let again = run_in(&home, &["init", "--dev-master-key"], None);
    assert!(
        again.error_line().contains("already exists"),
        "{}",
        again.stderr
    );
}

#[test]
fn the_wrong_master_key_is_refused() {
    let (_d, home) = dev_home();
    ok(
        &home,
        &[
            "create-key",
            "--no-exportable",
            "--key-attributes",
            CVK_ATTRS,
        ],
    );
    let key_file = home.join("us-east-1/master.key");
    std::fs::write(
        &key_file,
        "# replaced\n00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF\n",
    )
    .unwrap();
    let out = run_in(&home, &["list-keys"], None);
    assert!(
        out.error_line()
            .starts_with("AccessDeniedException: wrong master key"),
        "{}",
        out.stderr
    );
    // Another region is another store.
    let other = run_in(&home, &["--region", "eu-west-1", "list-keys"], None);
    assert!(
        other.error_line().contains("no store for eu-west-1"),
        "{}",
        other.stderr
    );
}

#[test]
fn a_master_key_from_components() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("data");
    // Two components and their KCVs (CMAC of the component as an AES-256 key).
    let c1 = "1111111111111111111111111111111111111111111111111111111111111111";
    let c2 = "2222222222222222222222222222222222222222222222222222222222222222";
    let kcv = |c: &str| {
        let m = payhsm_core::secret::KeyMaterial::from_hex("c", c).unwrap();
        payhsm_keystore::master_key::component_check_value(&m).unwrap()
    };
    let ceremony = format!("Ann\n{c1}\n{}\nBob\n{c2}\nyes\n", kcv(c1));
    // Bob types a wrong KCV three times: the ceremony stops with nothing stored.
    let wrong = format!(
        "Ann\n{c1}\n{}\nBob\n{c2}\n000000\n{c2}\n000000\n{c2}\n000000\n",
        kcv(c1)
    );
    let refused = run_in(&home, &["init", "--components", "2"], Some(&wrong));
    assert!(
        refused
            .error_line()
            .contains("component 2 has a KCV that does not match"),
        "{}",
        refused.stderr
    );
    assert!(
        !home.join("us-east-1/keys.db").exists(),
        "a failed ceremony stores nothing"
    );
    let one = run_in(&home, &["init", "--components", "1"], Some(&ceremony));
    assert!(
        one.error_line().contains("at least two components"),
        "{}",
        one.stderr
    );
    let init = run_in(&home, &["init", "--components", "2"], Some(&ceremony));
    assert_eq!(init.code, 0, "{}", init.stderr);
    assert_eq!(init.json()["MasterKeySource"], "COMPONENTS");
    assert!(
        !init.stderr.contains(c1) && !init.stdout.contains(c1),
        "components are never echoed"
    );
    let created = run_in(
        &home,
        &[
            "create-key",
            "--no-exportable",
            "--key-attributes",
            CVK_ATTRS,
        ],
        Some(&ceremony),
    );
    assert_eq!(created.code, 0, "{}", created.stderr);
    assert!(!created.stderr.contains("development"));
    // A typo, a wrong KCV and a repeated component each ask that custodian again.
    let retried = format!(
        "Ann\n{c1}\n000000\n{c1}\nyes\nBob\n12\n{c1}\n{c2}\n{}\n",
        kcv(c2)
    );
    let listed = run_in(&home, &["list-keys"], Some(&retried));
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(
        listed.stderr.contains("enter it again"),
        "{}",
        listed.stderr
    );
    let audit = std::fs::read_to_string(home.join("us-east-1/audit.jsonl")).unwrap();
    let entries: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|e: &Value| e["eventName"] == "EnterKeyComponent")
        .collect();
    let bob_failures = entries
        .iter()
        .filter(|e| e["requestParameters"]["custodian"] == "Bob" && e.get("errorCode").is_some())
        .count();
    let failures = entries
        .iter()
        .filter(|e| e.get("errorCode").is_some())
        .count();
    // Bob's typo and repeated component, and Ann's wrong KCV here; Bob's three before.
    assert_eq!(bob_failures, 5, "every failed try is audited: {audit}");
    assert_eq!(failures, 6, "{audit}");
    assert!(
        entries
            .iter()
            .any(|e| e["requestParameters"]["keyCheckValue"] == kcv(c2).as_str()),
        "{audit}"
    );
    assert!(
        !audit.contains(c1) && !audit.contains(c2),
        "no component in the audit log"
    );
    let verified = run_in(&home, &["audit", "verify"], None);
    assert_eq!(
        verified.code, 0,
        "ceremony events keep the chain: {}",
        verified.stderr
    );
    let c3 = "3333333333333333333333333333333333333333333333333333333333333333";
    let swapped = format!("Ann\n{c1}\nyes\nBob\n{c3}\nyes\n");
    let wrong_key = run_in(&home, &["list-keys"], Some(&swapped));
    assert_ne!(wrong_key.code, 0);
    // Without the test-only variable a pipe is refused (T-K-6).
    let piped = Command::new(BIN)
        .args(["list-keys"])
        .env("PAYHSM_HOME", &home)
        .env_remove("PAYHSM_TEST_COMPONENTS_FROM_STDIN")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&piped.stderr).contains("read only from a terminal"),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
}

#[test]
fn no_secret_reaches_stderr_or_the_audit_log() {
    let (_d, home) = dev_home();
    let arn = |v: &Value| v["Key"]["KeyArn"].as_str().unwrap().to_owned();
    let cvk = arn(&ok(
        &home,
        &[
            "create-key",
            "--no-exportable",
            "--key-attributes",
            CVK_ATTRS,
        ],
    ));
    let pvk = arn(&ok(
        &home,
        &[
            "create-key",
            "--no-exportable",
            "--key-attributes",
            "KeyAlgorithm=TDES_2KEY,KeyUsage=TR31_V2_VISA_PIN_VERIFICATION_KEY,KeyClass=SYMMETRIC_KEY,KeyModesOfUse={Generate=true,Verify=true}",
        ],
    ));
    let pek = arn(&ok(
        &home,
        &[
            "create-key",
            "--no-exportable",
            "--key-attributes",
            "KeyAlgorithm=TDES_2KEY,KeyUsage=TR31_P0_PIN_ENCRYPTION_KEY,KeyClass=SYMMETRIC_KEY,KeyModesOfUse={Encrypt=true,Decrypt=true,Wrap=true,Unwrap=true}",
        ],
    ));
    let cvv = ok(
        &home,
        &[
            "generate-card-validation-data",
            "--key-identifier",
            &cvk,
            "--primary-account-number",
            "4111111111111111",
            "--generation-attributes",
            "CardVerificationValue1={CardExpiryDate=1230,ServiceCode=101}",
            "--validation-data-length",
            "5",
        ],
    )["ValidationData"]
        .as_str()
        .unwrap()
        .to_owned();
    let pin = ok(
        &home,
        &[
            "generate-pin-data",
            "--generation-key-identifier",
            &pvk,
            "--encryption-key-identifier",
            &pek,
            "--pin-block-format",
            "ISO_FORMAT_0",
            "--primary-account-number",
            "4111111111111111",
            "--generation-attributes",
            "VisaPin={PinVerificationKeyIndex=1}",
        ],
    );
    let block = pin["EncryptedPinBlock"].as_str().unwrap().to_owned();
    let pvv = pin["PinData"]["VerificationValue"]
        .as_str()
        .unwrap()
        .to_owned();
    let wrong_cvv = format!("{:0>5}", (cvv.parse::<u32>().unwrap() + 1) % 100_000);
    let wrong_pvv = format!("{:0>4}", (pvv.parse::<u32>().unwrap() + 1) % 10_000);
    let mut stderr = String::new();
    for args in [
        vec![
            "verify-card-validation-data",
            "--key-identifier",
            &cvk,
            "--primary-account-number",
            "4111111111111111",
            "--verification-attributes",
            "CardVerificationValue1={CardExpiryDate=1230,ServiceCode=101}",
            "--validation-data",
            &wrong_cvv,
        ],
        vec![
            "verify-pin-data",
            "--verification-key-identifier",
            &pvk,
            "--encryption-key-identifier",
            &pek,
            "--encrypted-pin-block",
            &block,
            "--pin-block-format",
            "ISO_FORMAT_0",
            "--primary-account-number",
            "4111111111111111",
            "--verification-attributes",
            &format!("VisaPin={{PinVerificationKeyIndex=1,VerificationValue={wrong_pvv}}}"),
        ],
        vec![
            "translate-pin-data",
            "--incoming-key-identifier",
            &pek,
            "--outgoing-key-identifier",
            &cvk,
            "--encrypted-pin-block",
            &block,
            "--incoming-translation-attributes",
            "IsoFormat0={PrimaryAccountNumber=4111111111111111}",
            "--outgoing-translation-attributes",
            "IsoFormat1={}",
        ],
        vec![
            "verify-card-validation-data",
            "--key-identifier",
            &cvk,
            "--primary-account-number",
            "4111111111111111",
            "--verification-attributes",
            "CardVerificationValue1={CardExpiryDate=1230,ServiceCode=101}",
            "--validation-data",
            "{\"x\":1}",
        ],
    ] {
        let out = run_in(&home, &args, None);
        assert_ne!(out.code, 0, "{args:?}");
        stderr.push_str(&out.stderr);
    }
    assert!(stderr.contains("VerificationFailedException: INVALID_VALIDATION_DATA"));
    assert!(stderr.contains("VerificationFailedException: INVALID_PIN"));
    let audit = std::fs::read_to_string(home.join("us-east-1/audit.jsonl")).unwrap();
    let master = std::fs::read_to_string(home.join("us-east-1/master.key")).unwrap();
    let master_hex = master.lines().last().unwrap().to_owned();
    for secret in [
        cvv.as_str(),
        wrong_cvv.as_str(),
        block.as_str(),
        pvv.as_str(),
        wrong_pvv.as_str(),
        master_hex.as_str(),
        "4111111111111111",
    ] {
        assert!(!stderr.contains(secret), "stderr holds {secret}");
        assert!(!audit.contains(secret), "the audit log holds {secret}");
    }
    let events: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["eventName"] == "CreateKey" && e["errorCode"].is_null())
    );
    assert!(
        events.iter().any(|e| e["eventName"] == "VerifyPinData"
            && e["errorCode"] == "VerificationFailedException")
    );
    assert!(
        events.iter().any(
            |e| e["eventName"] == "TranslatePinData" && e["errorCode"] == "ValidationException"
        )
    );
}

#[test]
fn a_working_key_from_components() {
    let (_d, home) = dev_home();
    let c1 = "0123456789ABCDEFFEDCBA9876543210";
    let c2 = "2222222222222222EEEEEEEEEEEEEEEE";
    let kcv = |hex: &str| {
        let k = payhsm_core::crypto::SoftwareKey::from_hex(
            payhsm_core::key::KeyAlgorithm::Tdes2Key,
            hex,
        )
        .unwrap();
        payhsm_core::kcv::default_kcv(&k).unwrap().to_string()
    };
    let combined: String = c1
        .bytes()
        .zip(c2.bytes())
        .map(|(a, b)| {
            let n = |c: u8| (c as char).to_digit(16).unwrap();
            char::from_digit(n(a) ^ n(b), 16)
                .unwrap()
                .to_ascii_uppercase()
        })
        .collect();
    let stdin = format!("Ann\n{c1}\n{}\nBob\n{c2}\n{}\n", kcv(c1), kcv(c2));
    let args = |k: &str| {
        vec![
            "import-key-components".to_owned(),
            "--components".into(),
            "2".into(),
            "--key-attributes".into(),
            CVK_ATTRS.into(),
            "--key-check-value".into(),
            k.to_owned(),
        ]
    };
    let run = |k: &str, input: &str| {
        let a = args(k);
        run_in(
            &home,
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
            Some(input),
        )
    };
    let wrong_total = run("000000", &stdin);
    assert!(
        wrong_total
            .error_line()
            .starts_with("ValidationException: "),
        "{}",
        wrong_total.stderr
    );
    let wrong_part = run(
        &kcv(&combined),
        &format!("Ann\n{c1}\n{}\nBob\n{c2}\n0\n{c2}\n0\n{c2}\n0\n", kcv(c1)),
    );
    assert!(
        wrong_part
            .error_line()
            .contains("component 2 has a KCV that does not match"),
        "{}",
        wrong_part.stderr
    );
    assert_eq!(
        ok(&home, &["list-keys"])["Keys"].as_array().unwrap().len(),
        0,
        "refused ceremonies store nothing"
    );
    let imported = run(&kcv(&combined), &stdin);
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    let key = &imported.json()["Key"];
    assert_eq!(key["KeyCheckValue"], kcv(&combined));
    assert_eq!(key["KeyOrigin"], "EXTERNAL");
    assert!(!imported.stderr.contains(c1) && !imported.stderr.contains(c2));
}

/// The TR-34 and asymmetric commands: a key pair and its certificate, a CA certificate
/// imported, parameters for import and export, a TR-34 export opened by payhsm-tr34's KRD side
/// and imported back, and an EMV PIN change script, all through the AWS CLI shapes.
#[test]
fn tr34_asymmetric_and_emv_pin_change_commands() {
    use base64ct::{Base64, Encoding};
    use payhsm_core::rng::OsRandom;
    use payhsm_tr34::{
        cert::{self, Certificate, CertificateRequest, CertificateTemplate, Issuer, Role},
        rsa::{OaepHash, RsaKeySize, RsaPrivateKey, SoftwareRsaKey},
        token::{self, Form, ImportRequest},
    };

    let (_dir, home) = dev_home();
    let cert_of = |v: &Value| {
        let pem = Base64::decode_vec(v.as_str().unwrap()).unwrap();
        Certificate::from_pem(std::str::from_utf8(&pem).unwrap()).unwrap()
    };
    // A key pair and its certificate from the region's CA.
    let pair = ok(
        &home,
        &[
            "create-key",
            "--exportable",
            "--key-attributes",
            "KeyAlgorithm=RSA_2048,KeyUsage=TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE,KeyClass=ASYMMETRIC_KEY_PAIR,KeyModesOfUse={Sign=true}",
        ],
    );
    assert_eq!(pair["Key"]["KeyCheckValueAlgorithm"], "SHA_1");
    let arn = pair["Key"]["KeyArn"].as_str().unwrap();
    let certificate = ok(
        &home,
        &["get-public-key-certificate", "--key-identifier", arn],
    );
    let ca = cert_of(&certificate["KeyCertificateChain"]);
    cert_of(&certificate["KeyCertificate"])
        .verify_signed_by(ca.public_key())
        .unwrap();

    // The KRD's CA and certificate (the real time is within their validity).
    let template = |role| CertificateTemplate {
        role,
        not_before: "2024-01-01T00:00:00Z".parse().unwrap(),
        not_after: "2040-01-01T00:00:00Z".parse().unwrap(),
        serial_number: None,
    };
    let krd_ca_key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
    let krd_ca = cert::issue(
        "CN=KRD CA",
        krd_ca_key.public_key(),
        &template(Role::Ca),
        Issuer::SelfSigned(&krd_ca_key),
        &mut OsRandom,
    )
    .unwrap();
    let krd_key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
    let krd = cert::issue(
        "CN=KRD",
        krd_key.public_key(),
        &template(Role::Krd),
        Issuer::Ca {
            certificate: &krd_ca,
            key: &krd_ca_key,
        },
        &mut OsRandom,
    )
    .unwrap();
    let root = ok(&home, &["import-key", "--key-material", &serde_json::json!({
        "RootCertificatePublicKey": {
            "KeyAttributes": { "KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
                "KeyClass": "PUBLIC_KEY", "KeyAlgorithm": "RSA_2048", "KeyModesOfUse": { "Verify": true } },
            "PublicKeyCertificate": Base64::encode_string(krd_ca.to_pem().unwrap().as_bytes()) } }).to_string()]);
    let root_arn = root["Key"]["KeyArn"].as_str().unwrap();

    // Export a CVK to the KRD and open it there.
    let export = ok(
        &home,
        &[
            "get-parameters-for-export",
            "--key-material-type",
            "TR34_KEY_BLOCK",
            "--signing-key-algorithm",
            "RSA_2048",
        ],
    );
    let again = ok(
        &home,
        &[
            "get-parameters-for-export",
            "--key-material-type",
            "TR34_KEY_BLOCK",
            "--signing-key-algorithm",
            "RSA_2048",
            "--reuse-last-generated-token",
        ],
    );
    assert_eq!(export["ExportToken"], again["ExportToken"]);
    let cvk = ok(
        &home,
        &["create-key", "--exportable", "--key-attributes", CVK_ATTRS],
    );
    let cvk_arn = cvk["Key"]["KeyArn"].as_str().unwrap();
    let nonce = "0F1E2D3C4B5A6978";
    let exported = ok(&home, &["export-key", "--export-key-identifier", cvk_arn, "--key-material",
        &serde_json::json!({ "Tr34KeyBlock": { "CertificateAuthorityPublicKeyIdentifier": root_arn,
            "WrappingKeyCertificate": Base64::encode_string(krd.to_pem().unwrap().as_bytes()),
            "ExportToken": export["ExportToken"], "KeyBlockFormat": "X9_TR34_2012", "RandomNonce": nonce } }).to_string()]);
    let wrapped = &exported["WrappedKey"];
    assert_eq!(wrapped["WrappedKeyMaterialFormat"], "TR34_KEY_BLOCK");
    let kdh = cert_of(&export["SigningKeyCertificate"]);
    let chain = cert_of(&export["SigningKeyCertificateChain"]);
    let nonce_bytes = payhsm_core::hex::decode("nonce", nonce).unwrap();
    let received = token::import(
        &payhsm_core::hex::decode("token", wrapped["KeyMaterial"].as_str().unwrap()).unwrap(),
        &krd_key,
        &ImportRequest {
            form: Form::X9Tr34_2012,
            krd_certificate: Some(&krd),
            ..ImportRequest::two_pass(&kdh, &chain, payhsm_tr34::now().unwrap(), &nonce_bytes)
        },
    )
    .unwrap();
    assert_eq!(
        received.key_check_value().unwrap().to_string(),
        wrapped["KeyCheckValue"].as_str().unwrap()
    );

    // The same CVK as an RSA key cryptogram to the KRD, and back in under an import token.
    let cryptogram = ok(&home, &["export-key", "--export-key-identifier", cvk_arn, "--key-material",
        &serde_json::json!({ "KeyCryptogram": { "CertificateAuthorityPublicKeyIdentifier": root_arn,
            "WrappingKeyCertificate": Base64::encode_string(krd.to_pem().unwrap().as_bytes()),
            "WrappingSpec": "RSA_OAEP_SHA_256" } }).to_string()]);
    assert_eq!(
        cryptogram["WrappedKey"]["WrappedKeyMaterialFormat"],
        "KEY_CRYPTOGRAM"
    );
    let clear = krd_key
        .decrypt_oaep(
            OaepHash::Sha256,
            &payhsm_core::hex::decode(
                "cryptogram",
                cryptogram["WrappedKey"]["KeyMaterial"].as_str().unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
    assert_eq!(clear.expose_secret(), received.key().expose_secret());
    let params = ok(
        &home,
        &[
            "get-parameters-for-import",
            "--key-material-type",
            "KEY_CRYPTOGRAM",
            "--wrapping-key-algorithm",
            "RSA_2048",
        ],
    );
    let wrapping = cert_of(&params["WrappingKeyCertificate"]);
    let rewrapped = wrapping
        .public_key()
        .encrypt_oaep(OaepHash::Sha256, clear.expose_secret(), &mut OsRandom)
        .unwrap();
    let back = ok(
        &home,
        &[
            "import-key",
            "--key-material",
            &serde_json::json!({ "KeyCryptogram": {
        "KeyAttributes": { "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY", "KeyClass": "SYMMETRIC_KEY",
            "KeyAlgorithm": "TDES_2KEY", "KeyModesOfUse": { "Generate": true, "Verify": true } },
        "Exportable": false, "ImportToken": params["ImportToken"],
        "WrappedKeyCryptogram": payhsm_core::hex::encode(&rewrapped) } })
            .to_string(),
        ],
    );
    assert_eq!(back["Key"]["KeyCheckValue"], wrapped["KeyCheckValue"]);

    // A certificate signing request for the key pair, by shorthand.
    let csr = ok(
        &home,
        &[
            "get-certificate-signing-request",
            "--key-identifier",
            arn,
            "--signing-algorithm",
            "SHA384",
            "--certificate-subject",
            "CommonName=payhsm KDH,Country=US",
        ],
    );
    let pem = Base64::decode_vec(csr["CertificateSigningRequest"].as_str().unwrap()).unwrap();
    let request = CertificateRequest::from_pem(std::str::from_utf8(&pem).unwrap()).unwrap();
    assert_eq!(
        request.public_key(),
        cert_of(&certificate["KeyCertificate"]).public_key()
    );

    // Import parameters: a KRD certificate under the same CA, and a token.
    let import = ok(
        &home,
        &[
            "get-parameters-for-import",
            "--key-material-type",
            "TR34_KEY_BLOCK",
            "--wrapping-key-algorithm",
            "RSA_2048",
            "--no-reuse-last-generated-token",
        ],
    );
    assert!(
        import["ImportToken"]
            .as_str()
            .unwrap()
            .starts_with("import-token-")
    );
    assert!(import["ParametersValidUntilTimestamp"].as_f64().unwrap() > 0.0);
    cert_of(&import["WrappingKeyCertificate"])
        .verify_signed_by(ca.public_key())
        .unwrap();

    // An EMV PIN change script.
    let create = |attrs: &str| {
        ok(
            &home,
            &["create-key", "--no-exportable", "--key-attributes", attrs],
        )["Key"]["KeyArn"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let smi = create(
        "KeyAlgorithm=TDES_2KEY,KeyUsage=TR31_E2_EMV_MKEY_INTEGRITY,KeyClass=SYMMETRIC_KEY,KeyModesOfUse={DeriveKey=true}",
    );
    let smc = create(
        "KeyAlgorithm=TDES_2KEY,KeyUsage=TR31_E1_EMV_MKEY_CONFIDENTIALITY,KeyClass=SYMMETRIC_KEY,KeyModesOfUse={DeriveKey=true}",
    );
    let pek = create(
        "KeyAlgorithm=TDES_2KEY,KeyUsage=TR31_P0_PIN_ENCRYPTION_KEY,KeyClass=SYMMETRIC_KEY,KeyModesOfUse={Encrypt=true,Decrypt=true,Wrap=true,Unwrap=true}",
    );
    let pvk = create(
        "KeyAlgorithm=TDES_2KEY,KeyUsage=TR31_V2_VISA_PIN_VERIFICATION_KEY,KeyClass=SYMMETRIC_KEY,KeyModesOfUse={Generate=true,Verify=true}",
    );
    let pin = ok(
        &home,
        &[
            "generate-pin-data",
            "--generation-key-identifier",
            &pvk,
            "--encryption-key-identifier",
            &pek,
            "--generation-attributes",
            "VisaPin={PinVerificationKeyIndex=1}",
            "--pin-block-format",
            "ISO_FORMAT_0",
            "--primary-account-number",
            "5413330089600010",
        ],
    );
    let script = ok(
        &home,
        &[
            "generate-mac-emv-pin-change",
            "--new-pin-pek-identifier",
            &pek,
            "--new-encrypted-pin-block",
            pin["EncryptedPinBlock"].as_str().unwrap(),
            "--pin-block-format",
            "ISO_FORMAT_0",
            "--secure-messaging-integrity-key-identifier",
            &smi,
            "--secure-messaging-confidentiality-key-identifier",
            &smc,
            "--message-data",
            "84240002100001020304050607",
            "--derivation-method-attributes",
            "EmvCommon={MajorKeyDerivationMode=EMV_OPTION_A,PrimaryAccountNumber=5413330089600010,PanSequenceNumber=01,ApplicationCryptogram=8A7B6C5D4E3F2A1B,Mode=CBC,PinBlockPaddingType=ISO_IEC_7816_4,PinBlockLengthPosition=FRONT_OF_PIN_BLOCK}",
        ],
    );
    assert_eq!(script["Mac"].as_str().unwrap().len(), 16);
    assert_eq!(script["EncryptedPinBlock"].as_str().unwrap().len(), 32);
    assert_eq!(script["SecureMessagingIntegrityKeyArn"], smi.as_str());

    // A refusal names the service's error.
    let refused = run_in(
        &home,
        &[
            "get-parameters-for-import",
            "--key-material-type",
            "TR34_KEY_BLOCK",
            "--wrapping-key-algorithm",
            "RSA_1024",
        ],
        None,
    );
    assert!(
        refused.error_line().starts_with("ValidationException"),
        "{}",
        refused.stderr
    );
}

#[test]
fn resource_policy_and_translate_key_material_commands() {
    let (_dir, home) = dev_home();
    let key = ok(
        &home,
        &[
            "create-key",
            "--no-exportable",
            "--key-attributes",
            CVK_ATTRS,
        ],
    )["Key"]["KeyArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let policy = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"payment-cryptography:GenerateCardValidationData","Resource":"*"}]}"#;
    let put = ok(
        &home,
        &[
            "put-resource-policy",
            "--resource-arn",
            &key,
            "--policy",
            policy,
        ],
    );
    assert_eq!(put["Policy"], policy);
    assert_eq!(
        ok(&home, &["get-resource-policy", "--resource-arn", &key])["Policy"],
        policy
    );
    let public =
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;
    let refused = run_in(
        &home,
        &[
            "put-resource-policy",
            "--resource-arn",
            &key,
            "--policy",
            public,
        ],
        None,
    );
    assert!(
        refused.error_line().contains("PublicPolicyException"),
        "{}",
        refused.stderr
    );
    ok(&home, &["delete-resource-policy", "--resource-arn", &key]);
    let gone = run_in(
        &home,
        &["get-resource-policy", "--resource-arn", &key],
        None,
    );
    assert!(
        gone.error_line().contains("ResourceNotFoundException"),
        "{}",
        gone.stderr
    );

    // A CVK exported under one KEK, translated to another, imports under it with its KCV.
    let kek = |alg: &str| {
        ok(&home, &["create-key", "--no-exportable", "--key-attributes",
            &format!("KeyAlgorithm={alg},KeyUsage=TR31_K0_KEY_ENCRYPTION_KEY,KeyClass=SYMMETRIC_KEY,KeyModesOfUse={{Encrypt=true,Decrypt=true,Wrap=true,Unwrap=true}}")])["Key"]["KeyArn"]
            .as_str().unwrap().to_owned()
    };
    let (tdes, aes) = (kek("TDES_3KEY"), kek("AES_256"));
    let cvk = ok(
        &home,
        &["create-key", "--exportable", "--key-attributes", CVK_ATTRS],
    )["Key"]
        .clone();
    let cvk_arn = cvk["KeyArn"].as_str().unwrap();
    let block = ok(
        &home,
        &[
            "export-key",
            "--export-key-identifier",
            cvk_arn,
            "--key-material",
            &format!("Tr31KeyBlock={{WrappingKeyIdentifier={tdes}}}"),
        ],
    )["WrappedKey"]["KeyMaterial"]
        .as_str()
        .unwrap()
        .to_owned();
    let incoming = serde_json::json!({ "Tr31KeyBlock": { "WrappingKeyIdentifier": tdes, "WrappedKeyBlock": block } }).to_string();
    let translated = ok(
        &home,
        &[
            "translate-key-material",
            "--incoming-key-material",
            &incoming,
            "--outgoing-key-material",
            &format!("Tr31KeyBlock={{WrappingKeyIdentifier={aes}}}"),
        ],
    );
    let wrapped = &translated["WrappedKey"];
    assert_eq!(wrapped["KeyCheckValue"], cvk["KeyCheckValue"]);
    let out_block = wrapped["WrappedKeyMaterial"].as_str().unwrap();
    assert!(out_block.starts_with('D'), "{out_block}");
    let imported = ok(&home, &["import-key", "--key-material",
        &serde_json::json!({ "Tr31KeyBlock": { "WrappingKeyIdentifier": aes, "WrappedKeyBlock": out_block } }).to_string()]);
    assert_eq!(imported["Key"]["KeyCheckValue"], cvk["KeyCheckValue"]);
}

/// Issue 15: `payhsm audit verify` walks the audit log's hash chain, written by several
/// processes, and names the first line that was edited or removed (exit 1).
#[test]
fn audit_verify_finds_an_edited_or_removed_line() {
    let (_dir, home) = dev_home();
    for _ in 0..3 {
        ok(
            &home,
            &["create-key", "--key-attributes", CVK_ATTRS, "--exportable"],
        );
    }
    let verified = run_in(&home, &["audit", "verify"], None);
    assert_eq!(verified.code, 0, "{}", verified.stderr);
    let lines = verified.json()["Lines"].as_u64().unwrap();
    assert!(lines >= 3, "{}", verified.stdout);
    assert_eq!(verified.json()["LastHash"].as_str().unwrap().len(), 64);

    let path = home.join("us-east-1/audit.jsonl");
    let good = std::fs::read_to_string(&path).unwrap();
    let mut edited: Vec<&str> = good.lines().collect();
    let changed = edited[1].replace("\"readOnly\":false", "\"readOnly\":true");
    assert_ne!(changed, edited[1]);
    edited[1] = &changed;
    std::fs::write(&path, edited.join("\n") + "\n").unwrap();
    let out = run_in(&home, &["audit", "verify"], None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.error_line().contains("line 3"), "{}", out.stderr);

    let mut removed: Vec<&str> = good.lines().collect();
    removed.remove(1);
    std::fs::write(&path, removed.join("\n") + "\n").unwrap();
    let out = run_in(&home, &["audit", "verify"], None);
    assert_eq!(out.code, 1);
    assert!(out.error_line().contains("line 2"), "{}", out.stderr);
}

/// Issue 15: `payhsm backup DIR` copies the store while another process writes to it; the copy
/// opens as a store with the same master key and its keys give the same answers.
#[test]
fn a_backup_taken_while_the_store_is_written_opens_with_the_same_master_key() {
    use std::os::unix::fs::PermissionsExt as _;
    let (dir, home) = dev_home();
    let cvk = ok(
        &home,
        &["create-key", "--key-attributes", CVK_ATTRS, "--exportable"],
    )["Key"]["KeyArn"]
        .as_str()
        .unwrap()
        .to_owned();
    // A writer in other processes for the whole backup.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (home, stop) = (home.clone(), std::sync::Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut created = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || created < 3 {
                ok(
                    &home,
                    &[
                        "create-key",
                        "--key-attributes",
                        CVK_ATTRS,
                        "--no-exportable",
                    ],
                );
                created += 1;
            }
            created
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(150));
    let copy = dir.path().join("backup");
    let backup = run_in(&home, &["backup", copy.to_str().unwrap()], None);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let created = writer.join().unwrap();
    assert_eq!(backup.code, 0, "{}", backup.stderr);
    let copied = backup.json()["Regions"][0]["Keys"].as_u64().unwrap();
    assert!(
        (1..=1 + created).contains(&copied),
        "{copied} of {}",
        1 + created
    );
    assert_eq!(
        std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(
        std::fs::metadata(copy.join("us-east-1/keys.db"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    // The copy is a store: the same keys, the same answers, an intact audit chain.
    let listed = ok(&copy, &["list-keys"])["Keys"].as_array().unwrap().len();
    assert_eq!(u64::try_from(listed).unwrap(), copied);
    let cvv2 = |store: &Path| {
        ok(
            store,
            &[
                "generate-card-validation-data",
                "--key-identifier",
                &cvk,
                "--primary-account-number",
                "4111111111111111",
                "--generation-attributes",
                "CardVerificationValue2={CardExpiryDate=1230}",
            ],
        )["ValidationData"]
            .clone()
    };
    assert_eq!(cvv2(&copy), cvv2(&home));
    assert_eq!(run_in(&copy, &["audit", "verify"], None).code, 0);
    // A backup never overwrites.
    let again = run_in(&home, &["backup", copy.to_str().unwrap()], None);
    assert_eq!(again.code, 2);
    assert!(again.error_line().contains("exists"), "{}", again.stderr);
}

/// Dual control from the command line: a team, its association with root-certificate
/// imports, an import that waits, and two named approvals that complete it.
#[test]
fn mpa_commands_hold_a_root_import_until_two_approve() {
    use base64ct::{Base64, Encoding};
    use payhsm_core::rng::OsRandom;
    use payhsm_tr34::{
        cert::{self, CertificateTemplate, Issuer, Role},
        rsa::{RsaKeySize, RsaPrivateKey, SoftwareRsaKey},
    };
    let (_dir, home) = dev_home();
    let team = ok(
        &home,
        &[
            "mpa",
            "create-team",
            "--name",
            "ca-officers",
            "--approvers",
            "alice,bob,carol",
            "--required-approvals",
            "2",
        ],
    );
    let team_arn = team["MpaTeamArn"].as_str().unwrap();
    assert!(
        team_arn.ends_with(":approval-team/ca-officers"),
        "{team_arn}"
    );
    let action = "IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE";
    ok(
        &home,
        &[
            "associate-mpa-team",
            "--action",
            action,
            "--mpa-team-arn",
            team_arn,
        ],
    );
    let got = ok(&home, &["get-mpa-team-association", "--action", action]);
    assert_eq!(got["MpaTeamAssociation"]["AssociationState"], "ACTIVE");

    let key = SoftwareRsaKey::generate(RsaKeySize::Rsa2048).unwrap();
    let ca = cert::issue(
        "CN=Partner CA",
        key.public_key(),
        &CertificateTemplate {
            role: Role::Ca,
            not_before: "2024-01-01T00:00:00Z".parse().unwrap(),
            not_after: "2040-01-01T00:00:00Z".parse().unwrap(),
            serial_number: None,
        },
        Issuer::SelfSigned(&key),
        &mut OsRandom,
    )
    .unwrap();
    let pending = ok(&home, &["import-key", "--key-material", &serde_json::json!({
        "RootCertificatePublicKey": {
            "KeyAttributes": { "KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
                "KeyClass": "PUBLIC_KEY", "KeyAlgorithm": "RSA_2048", "KeyModesOfUse": { "Verify": true } },
            "PublicKeyCertificate": Base64::encode_string(ca.to_pem().unwrap().as_bytes()) } }).to_string()]);
    assert_eq!(pending["Key"]["KeyState"], "CREATE_IN_PROGRESS");
    let session = pending["Key"]["MpaStatus"]["MpaSessionArn"]
        .as_str()
        .unwrap();
    let approve = |who: &str| {
        run_in(
            &home,
            &["mpa", "approve", "--session", session, "--approver", who],
            None,
        )
    };
    assert_eq!(approve("alice").code, 0);
    let twice = approve("alice");
    assert!(
        twice.error_line().contains("ValidationException"),
        "{}",
        twice.stderr
    );
    assert!(approve("mallory").error_line().contains("not an approver"));
    let done = approve("bob");
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert_eq!(done.json()["Key"]["KeyState"], "CREATE_COMPLETE");
    let key = ok(
        &home,
        &[
            "get-key",
            "--key-identifier",
            pending["Key"]["KeyArn"].as_str().unwrap(),
        ],
    );
    assert_eq!(key["Key"]["MpaStatus"]["Status"], "APPROVED");
    ok(&home, &["disassociate-mpa-team", "--action", action]);
}
