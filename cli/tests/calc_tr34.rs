//! `payhsm calc tr34`: set up a CA, KDH and KRD, export on one side and import on the other.

mod common;

use std::path::{Path, PathBuf};

use common::payhsm;
use payhsm_tr34::{cert::Certificate, rsa::SoftwareRsaKey};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("payhsm-cli-tr34-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn path(dir: &Path, file: &str) -> String {
    dir.join(file).to_str().unwrap().to_owned()
}

/// Runs `calc tr34 certificate` into a fresh directory.
fn setup(name: &str, krd_size: &str) -> PathBuf {
    let dir = scratch(name);
    let run = payhsm(&[
        "calc",
        "tr34",
        "certificate",
        "--out-dir",
        dir.to_str().unwrap(),
        "--krd-key-size",
        krd_size,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["KrdKey"], path(&dir, "krd.key.pem"));
    dir
}

fn export(dir: &Path, key: &str, header: &str, extra: &[&str]) -> common::Run {
    let mut args = vec![
        "calc".to_owned(),
        "tr34".into(),
        "export".into(),
        "--krd-cert".into(),
        path(dir, "krd.pem"),
        "--kdh-key".into(),
        path(dir, "kdh.key.pem"),
        "--kdh-cert".into(),
        path(dir, "kdh.pem"),
        "--ca-cert".into(),
        path(dir, "ca.pem"),
        "--key".into(),
        key.into(),
        "--header".into(),
        header.into(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    payhsm(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn import(dir: &Path, block: &str, extra: &[&str]) -> common::Run {
    let mut args = vec![
        "calc".to_owned(),
        "tr34".into(),
        "import".into(),
        "--krd-key".into(),
        path(dir, "krd.key.pem"),
        "--kdh-cert".into(),
        path(dir, "kdh.pem"),
        "--ca-cert".into(),
        path(dir, "ca.pem"),
        "--key-block".into(),
        block.into(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    payhsm(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn a_tdes_key_goes_from_kdh_to_krd_in_the_service_form() {
    let dir = setup("tdes", "2048");
    let nonce = ["--nonce", "0102030405060708"];
    let run = export(
        &dir,
        "0123456789ABCDEFFEDCBA9876543210",
        "D0000K0TB00E0000",
        &nonce,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let block = run.json()["KeyBlock"].as_str().unwrap().to_owned();
    assert!(block.starts_with("30") && block.len() > 1000);
    let run = import(&dir, &block, &nonce);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = run.json();
    assert_eq!(v["KeyBlockFormat"], "X9_TR34_2012");
    assert_eq!(v["Header"], "D0000K0TB00E0000");
    assert_eq!(v["Key"], "0123456789ABCDEFFEDCBA9876543210");
    assert_eq!(v["KeyCheckValue"], "08D7B4");

    // Another nonce: the replay of this block is refused.
    let run = import(&dir, &block, &["--nonce", "0102030405060709"]);
    assert!(run.one_line_error().contains("nonce"));
    // The private keys are the owner's only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("krd.key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0);
    }
    // The directory is not overwritten.
    let run = payhsm(&[
        "calc",
        "tr34",
        "certificate",
        "--out-dir",
        dir.to_str().unwrap(),
    ]);
    assert!(run.one_line_error().contains("already exists"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_aes_key_needs_rsa_3072_and_one_pass_needs_the_2019_form() {
    let small = setup("small", "2048");
    let run = export(
        &small,
        "00112233445566778899AABBCCDDEEFF",
        "D0000K0AB00E0000",
        &["--nonce", "0102030405060708"],
    );
    assert!(run.one_line_error().contains("RSA-3072"));
    std::fs::remove_dir_all(small).unwrap();

    let dir = setup("aes", "3072");
    let form = ["--form", "X9_TR34_2019"];
    let run = export(
        &dir,
        "3F419E1CB7079442AA37474C2EFBF8B8",
        "D0000K0AB00E0000",
        &form,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let block = run.json()["KeyBlock"].as_str().unwrap().to_owned();
    let run = import(&dir, &block, &form);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["KeyCheckValue"], "08793E");
    // Without --form, the format is read from the key block.
    let run = import(&dir, &block, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["KeyBlockFormat"], "X9_TR34_2019");
    // The other format is refused for its SignedData version; an unknown one by clap.
    let run = import(&dir, &block, &["--form", "X9_TR34_2012"]);
    assert!(run.one_line_error().contains("SignedData version"));
    let run = import(&dir, &block, &["--form", "X9_TR34_2020"]);
    assert!(run.one_line_error().contains("'X9_TR34_2020' for '--form"));
    // The service's form is two-pass only.
    let run = export(
        &dir,
        "3F419E1CB7079442AA37474C2EFBF8B8",
        "D0000K0AB00E0000",
        &[],
    );
    assert!(run.one_line_error().contains("X9_TR34_2019"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// A field of a TR-34 Annex B sample (`vectors/data/tr34.json`).
fn annex_b(id: &str, name: &str) -> Vec<u8> {
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("../../vectors/data/tr34.json")).unwrap();
    let entry = vectors
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == id)
        .unwrap();
    payhsm_core::hex::decode("hex", entry["inputs"][name].as_str().unwrap()).unwrap()
}

/// Writes Annex B sample files into `dir`: (file name, sample id, certificate or key).
fn write_annex_b(dir: &Path, files: &[(&str, &str, bool)]) {
    std::fs::create_dir_all(dir).unwrap();
    for &(file, id, private) in files {
        let text = if private {
            SoftwareRsaKey::from_pkcs8_der(&annex_b(id, "private_key_pkcs8_der"))
                .unwrap()
                .to_pkcs8_pem()
                .unwrap()
                .to_string()
        } else {
            Certificate::from_der(&annex_b(id, "certificate_der"))
                .unwrap()
                .to_pem()
                .unwrap()
        };
        std::fs::write(dir.join(file), text).unwrap();
    }
}

const KDH_1: &str = "TR34-sample-KDH-1-cert";
const KRD_1: &str = "TR34-sample-KRD-1-cert";
const CA_KDH: &str = "TR34-sample-CA-KDH-cert";

#[test]
fn the_annex_b_samples_are_trusted_only_at_a_time_they_were_valid() {
    let dir = scratch("annex-b");
    write_annex_b(
        &dir,
        &[
            ("kdh.pem", KDH_1, false),
            ("kdh.key.pem", KDH_1, true),
            ("krd.pem", KRD_1, false),
            ("krd.key.pem", KRD_1, true),
            ("ca.pem", CA_KDH, false),
        ],
    );
    // The KRD 1 certificate does not chain to CA-KDH: the export refuses it with --ca-cert.
    let nonce = ["--nonce", "A1A2A3A4A5A6A7A8"];
    let run = export(
        &dir,
        "0123456789ABCDEFFEDCBA9876543210",
        "A0256K0TB00E0000",
        &nonce,
    );
    assert!(
        run.one_line_error()
            .contains("KRD certificate is not trusted")
    );
    // Without the CA check the KDH signs for KRD 1.
    let run = payhsm(&[
        "calc",
        "tr34",
        "export",
        "--krd-cert",
        &path(&dir, "krd.pem"),
        "--kdh-key",
        &path(&dir, "kdh.key.pem"),
        "--kdh-cert",
        &path(&dir, "kdh.pem"),
        "--key",
        "0123456789ABCDEFFEDCBA9876543210",
        "--header",
        "A0256K0TB00E0000",
        "--nonce",
        "A1A2A3A4A5A6A7A8",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let block = run.json()["KeyBlock"].as_str().unwrap().to_owned();
    // KDH 1 expired in 2020.
    let run = import(&dir, &block, &nonce);
    assert!(run.one_line_error().contains("expired"));
    let run = import(
        &dir,
        &block,
        &[&nonce[..], &["--verification-time", "2015-01-01T00:00:00Z"]].concat(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["Key"], "0123456789ABCDEFFEDCBA9876543210");
    let run = import(
        &dir,
        &block,
        &[&nonce[..], &["--verification-time", "yesterday"]].concat(),
    );
    assert!(run.one_line_error().contains("--verification-time"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// A token in the layout AWS Payment Cryptography's samples build (the fixed tokens of
/// `tr34/tests/data/tokens.json`, made by the independent implementation), in both forms.
#[test]
fn the_sample_layout_tokens_import_with_and_without_form() {
    let tokens: serde_json::Value =
        serde_json::from_str(include_str!("../../tr34/tests/data/tokens.json")).unwrap();
    let dir = scratch("samples-layout");
    write_annex_b(
        &dir,
        &[
            ("kdh.pem", KDH_1, false),
            ("ca.pem", CA_KDH, false),
            ("krd.key.pem", KRD_1, true),
        ],
    );
    for name in ["tdes2-2012", "tdes3-2012", "tdes2-2019"] {
        let token = tokens["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap();
        let form = token["form"].as_str().unwrap();
        let nonce = ["--nonce", token["nonce"].as_str().unwrap()];
        let time = ["--verification-time", "2015-06-01T00:00:00Z"];
        for extra in [&["--form", form][..], &[]] {
            let run = import(
                &dir,
                token["token"].as_str().unwrap(),
                &[&nonce[..], &time, extra].concat(),
            );
            assert_eq!(run.code, 0, "{name}: {}", run.stderr);
            let v = run.json();
            assert_eq!(v["KeyBlockFormat"], form);
            assert_eq!(v["Key"], token["key"], "{name}");
            assert_eq!(v["Header"], token["header"], "{name}");
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}
