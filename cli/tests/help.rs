//! The help text, compared with the snapshots in `tests/help/` so that every change of wording
//! is reviewed (`PAYHSM_BLESS=1 cargo test -p payhsm --test help` rewrites them), and the
//! storeless commands (`calc`, `vectors`, `completions`, `man`) without the global options.

use std::{path::Path, process::Command};

/// `payhsm args…` with none of the environment variables that change defaults in the help.
fn stdout(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_payhsm"))
        .args(args)
        .env_remove("PAYHSM_HOME")
        .env_remove("PAYHSM_ACCOUNT")
        .env_remove("PAYHSM_BACKEND")
        .env_remove("PAYHSM_PKCS11_MODULE")
        .env_remove("PAYHSM_TOKEN_LABEL")
        .output()
        .expect("run payhsm");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn help_matches_its_snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/help");
    for (file, args) in [
        ("payhsm.txt", &["--help"][..]),
        ("create-key.txt", &["create-key", "--help"][..]),
        ("calc.txt", &["calc", "--help"][..]),
        ("calc-kcv.txt", &["calc", "kcv", "-h"][..]),
        ("completions.txt", &["completions", "--help"][..]),
    ] {
        let (code, text, stderr) = stdout(args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        let path = dir.join(file);
        if std::env::var_os("PAYHSM_BLESS").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            text == expected,
            "{args:?} differs from tests/help/{file} (PAYHSM_BLESS=1 to accept):\n{text}"
        );
    }
}

#[test]
fn storeless_commands_offer_no_global_options() {
    let globals = [
        "--store",
        "--region",
        "--account",
        "--backend",
        "--pkcs11-module",
    ];
    // Every page of the calculator (man pages are made from the same definitions as help).
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = stdout(&["man", "--out-dir", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let mut pages = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let page = std::fs::read_to_string(&path).unwrap().replace("\\-", "-");
        let storeless = [
            "payhsm-calc",
            "payhsm-vectors",
            "payhsm-completions",
            "payhsm-man",
        ]
        .iter()
        .any(|p| name.starts_with(p));
        for g in globals {
            assert_eq!(
                page.contains(&format!("{g}\\fR")),
                !storeless,
                "{name} and {g}"
            );
        }
        pages += usize::from(name.starts_with("payhsm-calc-"));
    }
    assert!(pages > 30, "{pages} calc pages");
    for args in [
        &["calc", "--help"][..],
        &["calc", "tr31", "wrap", "--help"],
        &["vectors", "--help"],
    ] {
        let (_, help, _) = stdout(args);
        assert!(
            !help.contains("Global options") && !help.contains("--store"),
            "{help}"
        );
    }
    let (_, help, _) = stdout(&["get-key", "--help"]);
    assert!(
        help.contains("\nGlobal options:\n      --store <STORE>"),
        "{help}"
    );
    // Given anyway, a global is refused, naming the command.
    let (code, _, stderr) = stdout(&["calc", "--store", "x", "kcv", "--key", "00"]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr.trim_end(),
        "error: invalid value 'x' for '--store <VALUE>': --store means nothing to payhsm calc. \
         Run with --help for usage."
    );
    let (code, _, stderr) = stdout(&["calc", "kcv", "--backend", "pkcs11", "--key", "00"]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr.trim_end(),
        "error: unexpected argument '--backend' found. Run with --help for usage."
    );
}
